
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_GATEWAY_BULKHEAD_H_INCLUDED_
#define _NGX_GATEWAY_BULKHEAD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Bulkheads, deadlines and cold starts: the arithmetic.  Pure: time is an
 * argument, memory the caller's (a bulkhead lives in the gateway zone).
 *
 * A bulkhead counts the attempts in flight of a service (or of one of its
 * consumers) across all workers, and keeps a FIFO queue of requests
 * waiting for a slot.  The queue is tickets: a waiter takes the next
 * number, and only the smallest number waiting anywhere may take a slot
 * that frees.  Each worker has a holder: what its requests hold (slots,
 * places in the queue) and the ticket of its first waiter, so that the
 * queue's head is the smallest of the holders' first tickets, and what a
 * killed worker held can be given back.  A holder is written only by its
 * own worker, but when that worker is dead; slots, the queue's length and
 * the references are atomics.  Claiming and freeing holders is under the
 * bulkhead's lock, which the caller takes.  The holders are as many as
 * the caller sized the bulkhead for (the workers of two generations, as
 * a reload has, and some more): the bulkhead is allocated with
 * ngx_gateway_bulkhead_size().
 */


typedef struct {
    ngx_atomic_t               pid;        /* 0: free */
    ngx_atomic_t               slots;      /* attempts in flight */
    ngx_atomic_t               waiting;    /* requests in the queue */
    ngx_atomic_t               first;      /* ticket; 0: none waits */
    ngx_atomic_t               refs;       /* requests using the node */
} ngx_gateway_bulkhead_holder_t;


typedef struct {
    ngx_atomic_t               lock;       /* holders' claims */
    ngx_atomic_t               in_flight;
    ngx_atomic_t               queued;
    ngx_atomic_t               tickets;    /* the last one given */
    ngx_atomic_t               last;       /* ms: an attempt began or
                                              ended; 0: never */
    ngx_atomic_t               refs;       /* requests using the node */
    ngx_msec_t                 reclaimed;  /* last looked for the dead */
    ngx_msec_t                 unheld;     /* all holders were taken */

    /* they only grow */
    ngx_atomic_t               admitted_queued;  /* after waiting */
    ngx_atomic_t               enqueued;
    ngx_atomic_t               full;       /* refused: queue full */
    ngx_atomic_t               timed_out;  /* refused: queue_timeout */
    ngx_atomic_t               abandoned;  /* left the queue */
    ngx_atomic_t               deadlines;  /* 504 by the deadline */
    ngx_atomic_t               cold;       /* cold starts */

    ngx_atomic_t               cold_until; /* ms: a cold start goes on;
                                              0: none */
    ngx_uint_t                 nholders;
    ngx_gateway_bulkhead_holder_t  holders[1];
} ngx_gateway_bulkhead_t;


/* the bytes of a bulkhead with n holders (n >= 1) */
#define ngx_gateway_bulkhead_size(n)                                         \
    (offsetof(ngx_gateway_bulkhead_t, holders)                                \
     + (n) * sizeof(ngx_gateway_bulkhead_holder_t))

void ngx_gateway_bulkhead_init(ngx_gateway_bulkhead_t *b, ngx_uint_t n);

/*
 * The holder of pid, claimed if it has none (the lock held); NULL when
 * all are taken: its requests are then counted but not given back
 * should the worker die, and they do not keep the queue's order (their
 * tickets are never a holder's first).
 */
ngx_gateway_bulkhead_holder_t *ngx_gateway_bulkhead_holder(
    ngx_gateway_bulkhead_t *b, ngx_pid_t pid);

/* without claiming: the holder of pid, or NULL; no lock needed */
ngx_gateway_bulkhead_holder_t *ngx_gateway_bulkhead_find(
    ngx_gateway_bulkhead_t *b, ngx_pid_t pid);

/*
 * What a dead worker's holder held, given back, and the holder freed
 * (the lock held).  Returns the slots given back.
 */
ngx_uint_t ngx_gateway_bulkhead_release_holder(ngx_gateway_bulkhead_t *b,
    ngx_gateway_bulkhead_holder_t *h);

/*
 * A slot for an attempt, when nobody waits and fewer than limit are in
 * flight: NGX_OK; else NGX_AGAIN (the caller queues).  One atomic
 * compare-and-set when it is free.
 */
ngx_int_t ngx_gateway_bulkhead_try(ngx_gateway_bulkhead_t *b,
    ngx_uint_t limit, ngx_gateway_bulkhead_holder_t *h);

/* the slot is given back: one atomic operation */
void ngx_gateway_bulkhead_release(ngx_gateway_bulkhead_t *b,
    ngx_gateway_bulkhead_holder_t *h);

/*
 * A place in the queue: NGX_OK and *ticket; NGX_BUSY when max wait
 * already.  The caller's first waiter's ticket stays its holder's first.
 */
ngx_int_t ngx_gateway_bulkhead_enqueue(ngx_gateway_bulkhead_t *b,
    ngx_uint_t max, ngx_gateway_bulkhead_holder_t *h,
    ngx_atomic_uint_t *ticket);

/* the smallest ticket of the holders' first waiters; 0: none */
ngx_atomic_uint_t ngx_gateway_bulkhead_head(ngx_gateway_bulkhead_t *b);

/*
 * The waiter with ticket takes a slot if it is the queue's head and a
 * slot is free: NGX_OK, and it has left the queue (next: the ticket of
 * its worker's next waiter on this bulkhead, 0 for none); else NGX_AGAIN.
 */
ngx_int_t ngx_gateway_bulkhead_admit(ngx_gateway_bulkhead_t *b,
    ngx_uint_t limit, ngx_gateway_bulkhead_holder_t *h,
    ngx_atomic_uint_t ticket, ngx_atomic_uint_t next);

/*
 * A waiter leaves the queue without a slot: timed out or abandoned.  As
 * in admit, next is the ticket of the next waiter of the same holder: a
 * holder none of whose waiters is left has no first, whatever next says.
 */
void ngx_gateway_bulkhead_leave(ngx_gateway_bulkhead_t *b,
    ngx_gateway_bulkhead_holder_t *h, ngx_atomic_uint_t next);

/*
 * A request uses the bulkhead (per=consumer: its node stays while
 * used); unref returns the references left.  The bulkhead's count first
 * up and last down, so that a worker killed between the two leaves one
 * too many (a node that stays), never one too few.
 */
void ngx_gateway_bulkhead_ref(ngx_gateway_bulkhead_t *b,
    ngx_gateway_bulkhead_holder_t *h);
ngx_atomic_uint_t ngx_gateway_bulkhead_unref(ngx_gateway_bulkhead_t *b,
    ngx_gateway_bulkhead_holder_t *h);


/*
 * Deadlines, in ms of a monotonic clock.  left: what is left of the
 * deadline at now, 0 once passed.  cap: an attempt's timeout, capped by
 * what is left (at least 1 ms: nginx takes 0 for no timer).
 */
ngx_msec_t ngx_gateway_deadline_left(ngx_msec_t now, ngx_msec_t at);
ngx_msec_t ngx_gateway_deadline_cap(ngx_msec_t timeout, ngx_msec_t now,
    ngx_msec_t at);

/*
 * Whether a retry can finish before the deadline: after its backoff
 * (delay), as much time must be left as the attempt before it took
 * (last), and at least 1 ms.
 */
ngx_uint_t ngx_gateway_deadline_retry(ngx_msec_t now, ngx_msec_t at,
    ngx_msec_t delay, ngx_msec_t last);

/*
 * A client's budget in gRPC's grpc-timeout syntax: 1 to 8 digits and a
 * unit, H, M, S, m, u or n; NGX_OK and *ms (rounded up, at most
 * NGX_GATEWAY_DEADLINE_MAX), NGX_DECLINED for anything else (0 too).
 */
#define NGX_GATEWAY_DEADLINE_MAX   ((ngx_msec_t) 86400000)

ngx_int_t ngx_gateway_parse_grpc_timeout(u_char *value, size_t len,
    ngx_msec_t *ms);


/*
 * Whether an attempt starting now is a cold start: the function was never
 * called (last 0), or no attempt of it began or ended for longer than
 * idle.
 */
ngx_uint_t ngx_gateway_cold(ngx_msec_t now, ngx_msec_t last,
    ngx_msec_t idle);

/*
 * Whether an attempt starting now begins while a cold start goes on
 * (until: when it began plus the cold start's timeout; 0: none): the
 * function is still starting, the attempt is cold too.
 */
ngx_uint_t ngx_gateway_cold_during(ngx_msec_t now, ngx_msec_t until);


#endif /* _NGX_GATEWAY_BULKHEAD_H_INCLUDED_ */
