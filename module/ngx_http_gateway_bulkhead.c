
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include "ngx_http_gateway_module.h"


/*
 * Bulkheads, deadlines and cold starts of a service.
 *
 * An attempt takes a slot of the service's bulkhead (in the zone, shared
 * by all workers) just before the proxy runs: in the preaccess phase for
 * the first attempt, after its backoff for a retry.  It gives the slot
 * back when the proxy finalizes its upstream (a wrapper of the
 * upstream's finalize_request, installed by a wrapper of the upstream's
 * peer.init, which is where an attempt begins), or when the request ends,
 * whatever ended it.  With no slot free, the request waits in the queue:
 * parked in its phase (the worker goes on serving), the first of the
 * worker's waiters polling every few ms whether it is the queue's head
 * and a slot is free; a slot freed in this worker wakes it at once.
 *
 * The deadline is a timer of the request: when it fires with nothing
 * answered, whatever is in progress (a wait in the queue, an attempt, a
 * backoff) is ended and the client gets 504.  Each attempt's timeouts are
 * capped by what is left, in a copy of the upstream's conf for the
 * attempt; no retry starts that cannot finish in time.
 *
 * A cold start: the first attempt after the function was idle gets the
 * cold_start read timeout, and its timeout is no failure to the breaker.
 */


/* how often the first waiter of a worker looks for a slot */
#define NGX_HTTP_GATEWAY_QUEUE_POLL   5


/* a bulkhead in the zone; after its holders, the name */
typedef struct {
    ngx_str_node_t                      sn;
    ngx_queue_t                         consumers;  /* service node: its
                                                       consumer nodes */
    ngx_queue_t                         queue;      /* in consumers */
    ngx_gateway_bulkhead_t              bulkhead;   /* last */
} ngx_http_gateway_bulkhead_node_t;


#define ngx_http_gateway_bulkhead_node_size(n, len)                          \
    (offsetof(ngx_http_gateway_bulkhead_node_t, bulkhead)                     \
     + ngx_gateway_bulkhead_size(n) + (len))

#define ngx_http_gateway_bulkhead_node_of(b)                                 \
    ((ngx_http_gateway_bulkhead_node_t *)                                     \
     ((u_char *) (b) - offsetof(ngx_http_gateway_bulkhead_node_t, bulkhead)))


typedef struct {
    ngx_http_upstream_srv_conf_t       *upstream;
    ngx_http_upstream_init_peer_pt      init;
} ngx_http_gateway_bulkhead_peer_t;


struct ngx_http_gateway_bulkheads_s {
    ngx_array_t                         peers;      /* wrapped peer.init */
    ngx_queue_t                         waiters;    /* this worker's */
    ngx_cycle_t                        *cycle;      /* its configuration */
    ngx_uint_t                          holders;    /* of a new node */
    ngx_msec_t                          full_alert;
};


struct ngx_http_gateway_bulkhead_call_s {
    ngx_http_request_t                 *request;
    ngx_http_gateway_service_t         *service;
    ngx_http_gateway_main_conf_t       *gmcf;
    ngx_http_gateway_ctx_t             *ctx;
    ngx_gateway_bulkhead_t             *node;       /* where slots are */
    ngx_http_gateway_bulkhead_node_t   *consumer;   /* referenced */
    ngx_gateway_bulkhead_holder_t      *holder;
    void                              (*finalize)(ngx_http_request_t *r,
                                            ngx_int_t rc);
    ngx_event_t                         wait;
    ngx_event_t                         timer;      /* the deadline */
    ngx_queue_t                         queue;      /* in waiters */
    ngx_atomic_uint_t                   ticket;
    ngx_msec_t                          deadline;   /* 0: none */
    ngx_msec_t                          until;      /* of the wait */
    ngx_msec_t                          queued;     /* since */
    ngx_msec_t                          queue_time;
    ngx_msec_t                          started;    /* the attempt */
    ngx_msec_t                          last;       /* it took */
    ngx_uint_t                          cold;       /* upstream state + 1 */
    unsigned                            slot:1;
    unsigned                            body:1;     /* being read */
    unsigned                            waiting:1;
    unsigned                            attempt:1;
    unsigned                            expired:1;
};


static void ngx_http_gateway_bulkhead_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_gateway_bulkhead_acquire(ngx_http_request_t *r,
    ngx_http_gateway_bulkhead_call_t *call);
static ngx_gateway_bulkhead_holder_t *ngx_http_gateway_bulkhead_holder(
    ngx_gateway_bulkhead_t *b);
static void ngx_http_gateway_bulkhead_reclaim(ngx_http_gateway_service_t *s,
    ngx_gateway_bulkhead_t *b);
static void ngx_http_gateway_bulkhead_give_back(ngx_gateway_bulkhead_t *b,
    ngx_str_t *name, ngx_uint_t self);
static ngx_http_gateway_bulkhead_call_t *ngx_http_gateway_bulkhead_first(
    ngx_http_gateway_bulkheads_t *bh, ngx_gateway_bulkhead_t *b,
    ngx_gateway_bulkhead_holder_t *h, ngx_http_gateway_bulkhead_call_t *after);
static void ngx_http_gateway_bulkhead_wake(ngx_http_gateway_bulkheads_t *bh,
    ngx_gateway_bulkhead_t *b);
static void ngx_http_gateway_bulkhead_arm(
    ngx_http_gateway_bulkhead_call_t *call, ngx_msec_t delay);
static void ngx_http_gateway_bulkhead_wait_handler(ngx_event_t *ev);
static void ngx_http_gateway_bulkhead_leave(
    ngx_http_gateway_bulkhead_call_t *call);
static void ngx_http_gateway_bulkhead_release(
    ngx_http_gateway_bulkhead_call_t *call);
static ngx_int_t ngx_http_gateway_bulkhead_refuse(ngx_http_request_t *r,
    ngx_http_gateway_bulkhead_call_t *call, char *why);
static void ngx_http_gateway_bulkhead_deadline_handler(ngx_event_t *ev);
static void ngx_http_gateway_bulkhead_expire(
    ngx_http_gateway_bulkhead_call_t *call);
static void ngx_http_gateway_bulkhead_cleanup(void *data);
static ngx_http_gateway_bulkhead_call_t *ngx_http_gateway_bulkhead_call(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_gateway_bulkhead_peer_init(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us);
static void ngx_http_gateway_bulkhead_finalize(ngx_http_request_t *r,
    ngx_int_t rc);
static ngx_gateway_bulkhead_t *ngx_http_gateway_bulkhead_consumer(
    ngx_http_request_t *r, ngx_http_gateway_bulkhead_call_t *call,
    ngx_http_gateway_ctx_t *ctx);
static ngx_http_gateway_bulkhead_node_t *ngx_http_gateway_bulkhead_node(
    ngx_http_gateway_zone_t *zone, ngx_str_t *key, uint32_t hash,
    ngx_uint_t n);
static void ngx_http_gateway_bulkhead_unref(
    ngx_http_gateway_bulkhead_call_t *call);
static void ngx_http_gateway_bulkhead_sweep(ngx_http_gateway_bulkhead_node_t
    *node);
static ngx_int_t ngx_http_gateway_queue_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_http_gateway_bulkhead_conf_t *ngx_http_gateway_bulkhead_conf(
    ngx_conf_t *cf, ngx_http_gateway_service_t *s);


static ngx_str_t  ngx_http_gateway_queue_time =
    ngx_string("gateway_queue_time");


/*
 * The last step of the pipeline: the request's deadline starts, and its
 * first attempt takes a slot.  NGX_OK: on to the proxy; NGX_AGAIN: it
 * waits in the queue; NGX_DONE: refused and answered, or the request
 * body is read first.
 */

ngx_int_t
ngx_http_gateway_bulkhead_begin(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx)
{
    ngx_int_t                          rc;
    ngx_str_t                          name;
    ngx_msec_t                         ms, elapsed, now;
    ngx_time_t                        *tp;
    ngx_table_elt_t                   *h;
    ngx_pool_cleanup_t                *cln;
    ngx_http_gateway_service_t        *s;
    ngx_http_gateway_bulkhead_call_t  *call;
    ngx_http_gateway_bulkhead_conf_t  *bc;

    s = ctx->service;
    bc = s->bulkhead;

    if (r != r->main) {
        return NGX_OK;
    }

    /*
     * An error_page sent the request here from another call of the
     * gateway: that call is over, its deadline too (a call here has the
     * request's own, from when it came).
     */

    if (r->internal) {
        call = ngx_http_gateway_bulkhead_call(r);

        if (call && call->timer.timer_set) {
            ngx_del_timer(&call->timer);
        }
    }

    if (bc == NULL) {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(r->pool,
                               sizeof(ngx_http_gateway_bulkhead_call_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    call = cln->data;
    ngx_memzero(call, sizeof(ngx_http_gateway_bulkhead_call_t));

    call->request = r;
    call->service = s;
    call->gmcf = gmcf;
    call->ctx = ctx;
    call->node = bc->node;

    call->wait.handler = ngx_http_gateway_bulkhead_wait_handler;
    call->wait.data = call;
    call->wait.log = r->connection->log;

    call->timer.handler = ngx_http_gateway_bulkhead_deadline_handler;
    call->timer.data = call;
    call->timer.log = r->connection->log;

    cln->handler = ngx_http_gateway_bulkhead_cleanup;
    ctx->bulk = call;

    now = ngx_current_msec;

    if (bc->deadline) {
        ms = bc->deadline;

        /* a client's own budget, when shorter: never a longer one */

        ngx_str_set(&name, "grpc-timeout");

        if (ngx_http_gateway_request_header(r, &name, &h)) {
            (void) ngx_gateway_parse_grpc_timeout(h->value.data,
                                                  h->value.len, &ms);
            ms = ngx_min(ms, bc->deadline);
        }

        /* from when the request came, as $request_time counts */

        tp = ngx_timeofday();

        elapsed = (ngx_msec_t) ((tp->sec - r->start_sec) * 1000
                                + (tp->msec - r->start_msec));

        if ((ngx_msec_int_t) elapsed < 0) {
            elapsed = 0;
        }

        ms = (elapsed < ms) ? ms - elapsed : 1;

        call->deadline = now + ms;

        if (call->deadline == 0) {
            call->deadline = 1;
        }

        /*
         * Not cancelable: a worker shutting down finishes the request,
         * within its deadline.
         */
        ngx_add_timer(&call->timer, ms);
    }

    if (bc->limit == 0 && bc->deadline == 0) {
        return NGX_OK;
    }

    if (bc->per == NGX_HTTP_GATEWAY_BULKHEAD_PER_CONSUMER && bc->limit) {
        call->node = ngx_http_gateway_bulkhead_consumer(r, call, ctx);

        if (call->node == NULL) {
            return ngx_http_gateway_bulkhead_refuse(r, call,
                                                    "no room in the zone");
        }
    }

    /*
     * The request body first, as the mirror module reads it: a client
     * slowly sending its body holds no slot meanwhile, and the deadline
     * can end the request while it comes.  The proxy finds it read.
     */

    if ((r->headers_in.content_length_n > 0 || r->headers_in.chunked)
        && r->request_body == NULL)
    {
        call->body = 1;

        rc = ngx_http_read_client_request_body(r,
                                         ngx_http_gateway_bulkhead_body);

        if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
            call->body = 0;
            return rc;
        }

        ngx_http_finalize_request(r, NGX_DONE);
        return NGX_DONE;
    }

    if (bc->limit == 0) {
        return NGX_OK;
    }

    return ngx_http_gateway_bulkhead_acquire(r, call);
}


/* the request body is read: now a slot, or a place in the queue */

static void
ngx_http_gateway_bulkhead_body(ngx_http_request_t *r)
{
    ngx_http_gateway_bulkhead_call_t  *call;

    call = ngx_http_gateway_bulkhead_call(r);

    if (call == NULL || call->expired) {
        return;
    }

    call->body = 0;

    /* the deadline passed while the body came (its timer not yet run) */

    if (call->deadline
        && ngx_gateway_deadline_left(ngx_current_msec, call->deadline) == 0)
    {
        ngx_http_gateway_bulkhead_expire(call);
        return;
    }

    r->preserve_body = 1;

    if (call->service->bulkhead->limit
        && ngx_http_gateway_bulkhead_acquire(r, call) != NGX_OK)
    {

        /* NGX_AGAIN: the queue goes on with it; NGX_DONE: answered */
        return;
    }

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/* a retry after its backoff, redirected to the gateway: a slot again */

ngx_int_t
ngx_http_gateway_bulkhead_resume(ngx_http_request_t *r)
{
    ngx_int_t                          rc;
    ngx_http_gateway_ctx_t            *ctx;
    ngx_http_gateway_bulkhead_call_t  *call;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gateway_module);

    if (ctx == NULL || ctx->bulk == NULL
        || ctx->service->bulkhead->limit == 0)
    {
        return NGX_DECLINED;
    }

    call = ctx->bulk;

    if (call->slot) {
        return NGX_DECLINED;
    }

    rc = ngx_http_gateway_bulkhead_acquire(r, call);

    return (rc == NGX_OK) ? NGX_DECLINED : rc;
}


static ngx_int_t
ngx_http_gateway_bulkhead_acquire(ngx_http_request_t *r,
    ngx_http_gateway_bulkhead_call_t *call)
{
    ngx_msec_t                         delay;
    ngx_gateway_bulkhead_t            *b;
    ngx_http_gateway_bulkheads_t      *bh;
    ngx_http_gateway_bulkhead_conf_t  *bc;

    b = call->node;
    bc = call->service->bulkhead;
    bh = call->gmcf->bulkheads;

    /* a consumer's node: the holder its reference was counted in */

    if (call->holder == NULL && call->consumer == NULL) {
        call->holder = ngx_http_gateway_bulkhead_holder(b);
    }

    if (ngx_gateway_bulkhead_try(b, bc->limit, call->holder) == NGX_OK) {
        call->slot = 1;
        return NGX_OK;
    }

    /* what a dead worker held may be what fills it */

    ngx_http_gateway_bulkhead_reclaim(call->service, b);

    if (ngx_gateway_bulkhead_try(b, bc->limit, call->holder) == NGX_OK) {
        call->slot = 1;
        return NGX_OK;
    }

    if (bc->queue == 0
        || ngx_gateway_bulkhead_enqueue(b, bc->queue, call->holder,
                                        &call->ticket)
           != NGX_OK)
    {
        (void) ngx_atomic_fetch_add(&bc->node->full, 1);
        return ngx_http_gateway_bulkhead_refuse(r, call, "queue full");
    }

    (void) ngx_atomic_fetch_add(&bc->node->enqueued, 1);

    call->waiting = 1;
    call->queued = ngx_current_msec;
    call->until = call->queued + bc->queue_timeout;

    ngx_queue_insert_tail(&bh->waiters, &call->queue);

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    delay = bc->queue_timeout;

    if (ngx_http_gateway_bulkhead_first(bh, b, call->holder, NULL) == call) {
        delay = ngx_min(delay, NGX_HTTP_GATEWAY_QUEUE_POLL);
    }

    ngx_http_gateway_bulkhead_arm(call, delay);

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "gateway: service \"%V\" queued, ticket %uA",
                   &call->service->name, call->ticket);

    return NGX_AGAIN;
}


/*
 * This worker's holder of a bulkhead, claimed at its first use.  When
 * none was free, claims of any worker are tried again only a second
 * later: a request without a holder does not wait on the lock and the
 * search for the dead.
 */

static ngx_gateway_bulkhead_holder_t *
ngx_http_gateway_bulkhead_holder(ngx_gateway_bulkhead_t *b)
{
    ngx_gateway_bulkhead_holder_t  *h;

    h = ngx_gateway_bulkhead_find(b, ngx_pid);

    if (h || (b->unheld && ngx_current_msec - b->unheld < 1000)) {
        return h;
    }

    ngx_http_gateway_shm_lock(&b->lock);

    h = ngx_gateway_bulkhead_holder(b, ngx_pid);

    ngx_http_gateway_shm_unlock(&b->lock);

    if (h == NULL) {

        /* the holders of workers gone (reloads) are freed, then again */

        ngx_http_gateway_bulkhead_give_back(b, NULL, 0);

        ngx_http_gateway_shm_lock(&b->lock);
        h = ngx_gateway_bulkhead_holder(b, ngx_pid);
        ngx_http_gateway_shm_unlock(&b->lock);
    }

    if (h == NULL) {
        b->unheld = ngx_current_msec ? ngx_current_msec : 1;

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "gateway: all %ui holders of a bulkhead are taken: "
                      "this worker's calls keep no place in the order of "
                      "its queue", b->nholders);
    }

    return h;
}


/*
 * The holders of dead workers give back what they held: looked for at
 * most once a second, as a worker killed in the middle of requests never
 * ends them.
 */

static void
ngx_http_gateway_bulkhead_reclaim(ngx_http_gateway_service_t *s,
    ngx_gateway_bulkhead_t *b)
{
    if (ngx_current_msec - b->reclaimed < 1000) {
        return;
    }

    b->reclaimed = ngx_current_msec;

    ngx_http_gateway_bulkhead_give_back(b, &s->name, 0);
}


/*
 * What the holders of dead workers held, given back; with self, what a
 * holder of this worker's pid held too (a dead process's, its pid used
 * again).  A zombie counts as alive until the master reaps it.  name:
 * the service's, for the log; NULL: none.
 */

static void
ngx_http_gateway_bulkhead_give_back(ngx_gateway_bulkhead_t *b,
    ngx_str_t *name, ngx_uint_t self)
{
    ngx_uint_t                      i, slots;
    ngx_pid_t                       pid;
    ngx_gateway_bulkhead_holder_t  *h;

    ngx_http_gateway_shm_lock(&b->lock);

    for (i = 0; i < b->nholders; i++) {
        h = &b->holders[i];
        pid = (ngx_pid_t) h->pid;

        if (pid == 0
            || (pid == ngx_pid && !self)
            || (pid != ngx_pid
                && (kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH)))
        {
            continue;
        }

        slots = ngx_gateway_bulkhead_release_holder(b, h);

        if (slots && name) {
            ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                          "gateway: worker %P is gone: %ui slots it held "
                          "of service \"%V\" given back", pid, slots, name);
        }
    }

    ngx_http_gateway_shm_unlock(&b->lock);
}


/*
 * This worker's first waiter on a bulkhead with holder h after "after"
 * (NULL: the first).  Only the tickets of waiters of one holder follow
 * each other as its first: a waiter queued while the worker had no
 * holder (h NULL) is not in the holder's count, and its ticket there
 * would stay when it leaves.
 */

static ngx_http_gateway_bulkhead_call_t *
ngx_http_gateway_bulkhead_first(ngx_http_gateway_bulkheads_t *bh,
    ngx_gateway_bulkhead_t *b, ngx_gateway_bulkhead_holder_t *h,
    ngx_http_gateway_bulkhead_call_t *after)
{
    ngx_queue_t                       *q;
    ngx_http_gateway_bulkhead_call_t  *call;

    q = after ? ngx_queue_next(&after->queue) : ngx_queue_head(&bh->waiters);

    for ( /* void */ ; q != ngx_queue_sentinel(&bh->waiters);
         q = ngx_queue_next(q))
    {
        call = ngx_queue_data(q, ngx_http_gateway_bulkhead_call_t, queue);

        if (call->node == b && call->holder == h) {
            return call;
        }
    }

    return NULL;
}


/* a slot came free: this worker's first waiters on it look at once */

static void
ngx_http_gateway_bulkhead_wake(ngx_http_gateway_bulkheads_t *bh,
    ngx_gateway_bulkhead_t *b)
{
    ngx_http_gateway_bulkhead_call_t  *nc;

    nc = ngx_http_gateway_bulkhead_first(bh, b,
                                         ngx_gateway_bulkhead_find(b, ngx_pid),
                                         NULL);
    if (nc) {
        ngx_http_gateway_bulkhead_arm(nc, 1);
    }

    nc = ngx_http_gateway_bulkhead_first(bh, b, NULL, NULL);

    if (nc) {
        ngx_http_gateway_bulkhead_arm(nc, 1);
    }
}


static void
ngx_http_gateway_bulkhead_arm(ngx_http_gateway_bulkhead_call_t *call,
    ngx_msec_t delay)
{
    if (call->wait.timer_set) {
        ngx_del_timer(&call->wait);
    }

    ngx_add_timer(&call->wait, delay ? delay : 1);
}


/*
 * A waiter's timer: the worker's first waiter on the bulkhead looks for
 * a slot; any waiter times out at its queue_timeout.
 */

static void
ngx_http_gateway_bulkhead_wait_handler(ngx_event_t *ev)
{
    ngx_http_gateway_bulkhead_call_t *call = ev->data;

    ngx_uint_t                         first;
    ngx_msec_t                         now, left;
    ngx_connection_t                  *c;
    ngx_atomic_uint_t                  next;
    ngx_http_request_t                *r;
    ngx_gateway_bulkhead_t            *b;
    ngx_http_gateway_bulkheads_t      *bh;
    ngx_http_gateway_bulkhead_call_t  *nc;
    ngx_http_gateway_bulkhead_conf_t  *bc;

    r = call->request;
    c = r->connection;
    b = call->node;
    bc = call->service->bulkhead;
    bh = call->gmcf->bulkheads;
    now = ngx_current_msec;

    if (!call->waiting) {
        return;
    }

    first = (ngx_http_gateway_bulkhead_first(bh, b, call->holder, NULL)
             == call);

    if (first) {
        nc = ngx_http_gateway_bulkhead_first(bh, b, call->holder, call);
        next = nc ? nc->ticket : 0;

        if (ngx_gateway_bulkhead_admit(b, bc->limit, call->holder,
                                       call->ticket, next)
            == NGX_OK)
        {
            ngx_queue_remove(&call->queue);
            call->waiting = 0;
            call->slot = 1;
            call->queue_time += now - call->queued;

            (void) ngx_atomic_fetch_add(&bc->node->admitted_queued, 1);

            if (nc) {
                ngx_http_gateway_bulkhead_arm(nc, 1);
            }

            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                           "gateway: service \"%V\" admitted after %Mms",
                           &call->service->name, now - call->queued);

            r->read_event_handler = ngx_http_block_reading;
            r->write_event_handler = ngx_http_core_run_phases;

            ngx_http_core_run_phases(r);
            ngx_http_run_posted_requests(c);
            return;
        }

        /* a head that does not move may be a dead worker's */

        if (ngx_gateway_bulkhead_head(b) != call->ticket) {
            ngx_http_gateway_bulkhead_reclaim(call->service, b);
        }
    }

    left = ngx_gateway_deadline_left(now, call->until);

    if (left == 0) {
        (void) ngx_atomic_fetch_add(&bc->node->timed_out, 1);

        ngx_http_gateway_bulkhead_leave(call);

        (void) ngx_http_gateway_bulkhead_refuse(r, call, "queue timeout");

        ngx_http_run_posted_requests(c);
        return;
    }

    if (first) {
        left = ngx_min(left, NGX_HTTP_GATEWAY_QUEUE_POLL);
    }

    ngx_http_gateway_bulkhead_arm(call, left);
}


/* a waiter leaves the queue without a slot; the next one is told */

static void
ngx_http_gateway_bulkhead_leave(ngx_http_gateway_bulkhead_call_t *call)
{
    ngx_uint_t                         first;
    ngx_atomic_uint_t                  next;
    ngx_http_gateway_bulkheads_t      *bh;
    ngx_http_gateway_bulkhead_call_t  *nc;

    if (!call->waiting) {
        return;
    }

    bh = call->gmcf->bulkheads;

    first = (ngx_http_gateway_bulkhead_first(bh, call->node, call->holder,
                                             NULL)
             == call);
    nc = ngx_http_gateway_bulkhead_first(bh, call->node, call->holder, call);

    ngx_queue_remove(&call->queue);
    call->waiting = 0;
    call->queue_time += ngx_current_msec - call->queued;

    if (call->wait.timer_set) {
        ngx_del_timer(&call->wait);
    }

    if (first) {
        next = nc ? nc->ticket : 0;

    } else {
        next = call->holder ? call->holder->first : 0;
    }

    ngx_gateway_bulkhead_leave(call->node, call->holder, next);

    if (first && nc) {
        ngx_http_gateway_bulkhead_arm(nc, 1);
    }
}


/* the attempt is over: its slot goes back, a waiter here may take it */

static void
ngx_http_gateway_bulkhead_release(ngx_http_gateway_bulkhead_call_t *call)
{
    ngx_msec_t               now;
    ngx_gateway_bulkhead_t  *svc;

    now = ngx_current_msec;

    if (call->attempt) {
        call->attempt = 0;
        call->last = now - call->started;

        /* the function's idleness, only where a cold start needs it */

        svc = call->service->bulkhead->node;

        if (svc && call->service->bulkhead->cold_start) {
            svc->last = now ? now : 1;
        }
    }

    if (!call->slot) {
        return;
    }

    call->slot = 0;

    ngx_gateway_bulkhead_release(call->node, call->holder);

    if (call->node->queued) {
        ngx_http_gateway_bulkhead_wake(call->gmcf->bulkheads, call->node);
    }
}


/* 503 with Retry-After: no slot, and no room or time in the queue */

static ngx_int_t
ngx_http_gateway_bulkhead_refuse(ngx_http_request_t *r,
    ngx_http_gateway_bulkhead_call_t *call, char *why)
{
    ngx_str_t                          detail;
    ngx_http_gateway_bulkhead_conf_t  *bc;

    bc = call->service->bulkhead;

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gateway: service \"%V\" at its concurrency of %ui: %s",
                  &call->service->name, bc->limit, why);

    if (ngx_http_gateway_retry_after(r, ngx_max(bc->queue_timeout, 1000))
        != NGX_OK)
    {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return NGX_DONE;
    }

    ngx_str_set(&detail, "The function behind this service has as many "
                         "calls in flight as it takes, and no place in "
                         "its queue came free in time; try again after "
                         "the time the Retry-After header says.");

    return ngx_http_gateway_send_problem(r,
               NGX_HTTP_GATEWAY_PROBLEM_OVER_CAPACITY, &detail);
}


/*
 * The deadline: with nothing answered yet, what is in progress ends, and
 * the client gets 504.  An attempt in flight is ended as a timeout of
 * the function (so the breaker hears of it); a retry's backoff is cut.
 */

static void
ngx_http_gateway_bulkhead_deadline_handler(ngx_event_t *ev)
{
    ngx_http_gateway_bulkhead_call_t *call = ev->data;

    ngx_connection_t           *c;
    ngx_http_request_t         *r;
    ngx_http_upstream_t        *u;
    ngx_http_gateway_ctx_t     *ctx;
    ngx_http_gateway_retry_t   *st;

    r = call->request;
    c = r->connection;
    u = r->upstream;

    if (r->header_sent || call->expired) {
        return;
    }

    /*
     * The request went on elsewhere (an error_page): the call is over;
     * but for the backoff of a retry that an error_page's redirect began
     */

    ctx = ngx_http_get_module_ctx(r, ngx_http_gateway_module);

    if ((ctx && ctx->bulk != call)
        || (ctx == NULL
            && (call->ctx->retry == NULL
                || !call->ctx->retry->timer.timer_set)))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                       "gateway: deadline of a call that is over");
        return;
    }

    st = NULL;

    if (call->body) {

        /*
         * The request body is still coming: the rest of it is not read,
         * the connection is not kept.
         */

        call->body = 0;
        r->keepalive = 0;
        r->lingering_close = 1;

    } else if (call->waiting) {
        ngx_http_gateway_bulkhead_leave(call);

    } else if (u && u->cleanup) {

        if (u->state && u->state->status == 0) {
            u->state->status = NGX_HTTP_GATEWAY_TIME_OUT;
        }

        /* one reference for the upstream's finalization (NGX_DONE) */

        r->main->count++;
        (*u->cleanup)(r);

    } else {
        st = call->ctx->retry;

        if (st == NULL || !st->timer.timer_set) {

            /* between the steps of a call: they check the deadline */

            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, c->log, 0,
                           "gateway: deadline while not in a call");
            return;
        }

        ngx_del_timer(&st->timer);
        st->swallow = 0;
    }

    ngx_http_gateway_bulkhead_expire(call);

    ngx_http_run_posted_requests(c);
}


/* the request ends with 504: its deadline passed */

static void
ngx_http_gateway_bulkhead_expire(ngx_http_gateway_bulkhead_call_t *call)
{
    ngx_str_t            detail;
    ngx_http_request_t  *r;

    r = call->request;

    call->expired = 1;

    (void) ngx_atomic_fetch_add(&call->service->bulkhead->node->deadlines, 1);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gateway: deadline of service \"%V\" passed: 504",
                  &call->service->name);

    r->done = 0;
    r->request_complete = 0;
    r->err_status = 0;
    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    ngx_str_set(&detail, "The service's function did not answer before "
                         "the request's deadline.");

    (void) ngx_http_gateway_send_problem(r,
               NGX_HTTP_GATEWAY_PROBLEM_DEADLINE, &detail);
}


/* the request is over, whatever ended it */

static void
ngx_http_gateway_bulkhead_cleanup(void *data)
{
    ngx_http_gateway_bulkhead_call_t *call = data;

    if (call->timer.timer_set) {
        ngx_del_timer(&call->timer);
    }

    if (call->waiting) {
        (void) ngx_atomic_fetch_add(
                   &call->service->bulkhead->node->abandoned, 1);

        ngx_log_error(NGX_LOG_INFO, call->request->connection->log, 0,
                      "gateway: a request left the queue of service "
                      "\"%V\"", &call->service->name);

        ngx_http_gateway_bulkhead_leave(call);
    }

    if (call->wait.timer_set) {
        ngx_del_timer(&call->wait);
    }

    ngx_http_gateway_bulkhead_release(call);
    ngx_http_gateway_bulkhead_unref(call);
}


/*
 * The request's call: from its gateway context, or, after an internal
 * redirect (an error_page) cleared that, from the cleanups of its pool;
 * NULL while the pool is being destroyed (r->pool is NULL then).
 */

static ngx_http_gateway_bulkhead_call_t *
ngx_http_gateway_bulkhead_call(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_gateway_ctx_t  *ctx;

    r = r->main;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gateway_module);

    if (ctx && ctx->bulk) {
        return ctx->bulk;
    }

    if (r->pool == NULL) {
        return NULL;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_gateway_bulkhead_cleanup) {
            return cln->data;
        }
    }

    return NULL;
}


/*
 * An attempt begins: the upstream's own peer.init first, then its
 * timeouts for this attempt (a cold start's, capped by the deadline) in
 * a copy of the upstream's conf, and the hook of its end.
 */

static ngx_int_t
ngx_http_gateway_bulkhead_peer_init(ngx_http_request_t *r,
    ngx_http_upstream_srv_conf_t *us)
{
    ngx_int_t                          rc;
    ngx_uint_t                         i, cold;
    ngx_msec_t                         now, last;
    ngx_http_upstream_t               *u;
    ngx_http_gateway_ctx_t            *ctx;
    ngx_http_upstream_conf_t          *conf;
    ngx_http_gateway_bulkheads_t      *bh;
    ngx_gateway_bulkhead_t            *svc;
    ngx_http_gateway_bulkhead_call_t  *call;
    ngx_http_gateway_bulkhead_peer_t  *peer;
    ngx_http_gateway_bulkhead_conf_t  *bc;
    ngx_http_gateway_main_conf_t      *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gateway_module);
    bh = gmcf->bulkheads;
    peer = bh->peers.elts;

    for (i = 0; i < bh->peers.nelts; i++) {
        if (peer[i].upstream == us) {
            break;
        }
    }

    if (i == bh->peers.nelts) {
        return NGX_ERROR;
    }

    rc = peer[i].init(r, us);

    if (rc != NGX_OK || r != r->main) {
        return rc;
    }

    /*
     * Only an attempt of the gateway's call: not one of a location an
     * error_page sent the request to after the call was over.
     */

    ctx = ngx_http_get_module_ctx(r, ngx_http_gateway_module);

    if (ctx == NULL || ctx->bulk == NULL) {
        return NGX_OK;
    }

    call = ctx->bulk;

    u = r->upstream;
    bc = call->service->bulkhead;
    svc = bc->node;
    now = ngx_current_msec;

    call->finalize = u->finalize_request;
    u->finalize_request = ngx_http_gateway_bulkhead_finalize;

    call->attempt = 1;
    call->started = now;

    cold = 0;

    if (bc->cold_start && svc) {
        last = svc->last;

        /*
         * Of attempts that begin at once, one is the cold start; those
         * that begin while it goes on wait for the same start: cold too.
         */

        if (ngx_gateway_cold(now, last, bc->idle)
            && ngx_atomic_cmp_set(&svc->last, last, now ? now : 1))
        {
            cold = 1;
            svc->cold_until = (now + bc->cold_start) ? now + bc->cold_start
                                                     : 1;

            (void) ngx_atomic_fetch_add(&svc->cold, 1);

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gateway: cold start of service \"%V\": read "
                          "timeout %Mms", &call->service->name,
                          bc->cold_start);

        } else if (ngx_gateway_cold_during(now, svc->cold_until)) {
            cold = 1;

            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gateway: service \"%V\" is starting: read "
                          "timeout %Mms", &call->service->name,
                          bc->cold_start);
        }

        if (cold) {
            call->cold = (r->upstream_states ? r->upstream_states->nelts
                                             : 0) + 1;
        }
    }

    if (!cold && call->deadline == 0) {
        return NGX_OK;
    }

    conf = ngx_palloc(r->pool, sizeof(ngx_http_upstream_conf_t));
    if (conf == NULL) {
        return NGX_ERROR;
    }

    *conf = *u->conf;

    if (cold) {
        conf->read_timeout = bc->cold_start;
    }

    if (call->deadline) {
        conf->connect_timeout = ngx_gateway_deadline_cap(
                                    conf->connect_timeout, now,
                                    call->deadline);
        conf->send_timeout = ngx_gateway_deadline_cap(conf->send_timeout,
                                                      now, call->deadline);
        conf->read_timeout = ngx_gateway_deadline_cap(conf->read_timeout,
                                                      now, call->deadline);
        conf->next_upstream_timeout = ngx_gateway_deadline_cap(
                                          conf->next_upstream_timeout, now,
                                          call->deadline);
    }

    u->conf = conf;

    return NGX_OK;
}


/* the upstream of an attempt is finalized: the attempt is over */

static void
ngx_http_gateway_bulkhead_finalize(ngx_http_request_t *r, ngx_int_t rc)
{
    ngx_http_gateway_bulkhead_call_t  *call;

    /*
     * Installed only with a call, which lives as long as the request:
     * the upstream's cleanups run before its pool goes.
     */

    call = ngx_http_gateway_bulkhead_call(r);

    if (call == NULL) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "gateway: an attempt ended without its call");
        return;
    }

    /* a cold attempt answered: the function is warm, the start over */

    if (call->attempt && call->cold && r->upstream->state
        && r->upstream->state->header_time != (ngx_msec_t) -1
        && call->service->bulkhead->node)
    {
        call->service->bulkhead->node->cold_until = 0;
    }

    ngx_http_gateway_bulkhead_release(call);

    call->finalize(r, rc);
}


/*
 * A retry is decided after an attempt, with its backoff: NGX_OK when it
 * can still finish before the deadline.
 */

ngx_int_t
ngx_http_gateway_bulkhead_retry(ngx_http_request_t *r, ngx_msec_t delay)
{
    ngx_msec_t                         last;
    ngx_http_gateway_bulkhead_call_t  *call;

    call = ngx_http_gateway_bulkhead_call(r);

    if (call == NULL || call->deadline == 0) {
        return NGX_OK;
    }

    /*
     * A response of the function (a 503 to retry) is decided on before
     * its attempt is finalized: the attempt is still the one in flight.
     */

    last = call->attempt ? ngx_current_msec - call->started : call->last;

    if (!call->expired
        && ngx_gateway_deadline_retry(ngx_current_msec, call->deadline,
                                      delay, last))
    {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gateway: no retry of service \"%V\": it cannot finish "
                  "before the deadline", &call->service->name);

    return NGX_DECLINED;
}


/*
 * Whether the upstream state i (0-based) is of a cold start that timed
 * out: its slowness is no failure for the breaker.
 */

ngx_uint_t
ngx_http_gateway_bulkhead_cold_timeout(ngx_http_request_t *r, ngx_uint_t i,
    ngx_http_upstream_state_t *state)
{
    ngx_http_gateway_bulkhead_call_t  *call;

    call = ngx_http_gateway_bulkhead_call(r);

    /* cut by the read timeout of the cold start, or by the deadline */

    return call && call->cold == i + 1
           && ngx_http_gateway_attempt_failure(state)
              == NGX_HTTP_GATEWAY_ATTEMPT_TIMEOUT;
}


/*
 * per=consumer: the consumer's node, found by the service and the caller
 * (a consumer of the file, or a token's issuer and subject), made when it
 * is the first call in flight of that caller, and referenced until the
 * request ends (the zone's mutex held for both).
 */

static ngx_gateway_bulkhead_t *
ngx_http_gateway_bulkhead_consumer(ngx_http_request_t *r,
    ngx_http_gateway_bulkhead_call_t *call, ngx_http_gateway_ctx_t *ctx)
{
    u_char                            *p;
    uint32_t                           hash;
    ngx_str_t                          key;
    ngx_str_node_t                    *sn;
    ngx_http_gateway_zone_t           *zone;
    ngx_gateway_bulkhead_holder_t     *h;
    ngx_http_gateway_service_t        *s;
    ngx_http_gateway_bulkheads_t      *bh;
    ngx_http_gateway_bulkhead_node_t  *node, *parent;

    s = ctx->service;
    zone = call->gmcf->shm_zone->data;
    bh = call->gmcf->bulkheads;

    /* service NUL kind id [NUL subject] */

    key.len = s->name.len + 2 + ctx->consumer.len + 1 + ctx->issuer.len
              + 1 + ctx->subject.len;
    key.data = ngx_pnalloc(r->pool, key.len);
    if (key.data == NULL) {
        return NULL;
    }

    p = ngx_cpymem(key.data, s->name.data, s->name.len);
    *p++ = '\0';

    if (ctx->consumer_entry) {
        *p++ = 'c';
        p = ngx_cpymem(p, ctx->consumer_entry->id.data,
                       ctx->consumer_entry->id.len);

    } else {
        *p++ = 'j';
        p = ngx_cpymem(p, ctx->issuer.data, ctx->issuer.len);
        *p++ = '\0';
        p = ngx_cpymem(p, ctx->subject.data, ctx->subject.len);
    }

    key.len = p - key.data;
    hash = ngx_crc32_short(key.data, key.len);

    parent = ngx_http_gateway_bulkhead_node_of(s->bulkhead->node);

    ngx_shmtx_lock(&zone->shpool->mutex);

    sn = ngx_str_rbtree_lookup(&zone->sh->bulkheads, &key, hash);

    if (sn) {
        node = (ngx_http_gateway_bulkhead_node_t *) sn;

    } else {
        node = ngx_http_gateway_bulkhead_node(zone, &key, hash, bh->holders);

        if (node == NULL) {
            ngx_shmtx_unlock(&zone->shpool->mutex);

            if (ngx_current_msec - call->gmcf->bulkheads->full_alert
                >= 1000)
            {
                call->gmcf->bulkheads->full_alert = ngx_current_msec;

                ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                              "gateway: no room in the gateway zone for "
                              "a consumer's calls of service \"%V\"",
                              &s->name);
            }

            return NULL;
        }

        ngx_queue_insert_tail(&parent->consumers, &node->queue);
    }

    call->consumer = node;

    /*
     * Atomics: a worker that finds another dead gives back its references
     * under the bulkhead's lock only.
     */

    h = ngx_http_gateway_bulkhead_holder(&node->bulkhead);

    ngx_gateway_bulkhead_ref(&node->bulkhead, h);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    call->holder = h;

    return &node->bulkhead;
}


/*
 * A node of n holders named key (a service's name; or the service's, NUL
 * and a consumer's), in the zone's tree; the zone's mutex held.
 */

static ngx_http_gateway_bulkhead_node_t *
ngx_http_gateway_bulkhead_node(ngx_http_gateway_zone_t *zone, ngx_str_t *key,
    uint32_t hash, ngx_uint_t n)
{
    u_char                            *p;
    size_t                             size;
    ngx_http_gateway_bulkhead_node_t  *node;

    size = ngx_http_gateway_bulkhead_node_size(n, key->len);

    node = ngx_slab_alloc_locked(zone->shpool, size);
    if (node == NULL) {
        return NULL;
    }

    ngx_memzero(node, sizeof(ngx_http_gateway_bulkhead_node_t));
    ngx_gateway_bulkhead_init(&node->bulkhead, n);

    p = (u_char *) node + size - key->len;
    ngx_memcpy(p, key->data, key->len);
    node->sn.str.data = p;
    node->sn.str.len = key->len;
    node->sn.node.key = hash;

    ngx_queue_init(&node->consumers);

    ngx_rbtree_insert(&zone->sh->bulkheads, &node->sn.node);

    return node;
}


/* a consumer's node goes with the last request that uses it */

static void
ngx_http_gateway_bulkhead_unref(ngx_http_gateway_bulkhead_call_t *call)
{
    ngx_gateway_bulkhead_t            *b;
    ngx_http_gateway_zone_t           *zone;
    ngx_http_gateway_bulkhead_node_t  *node;

    node = call->consumer;

    if (node == NULL) {
        return;
    }

    call->consumer = NULL;

    b = &node->bulkhead;
    zone = call->gmcf->shm_zone->data;

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (ngx_gateway_bulkhead_unref(b, call->holder) == 0
        && b->in_flight == 0 && b->queued == 0)
    {
        ngx_rbtree_delete(&zone->sh->bulkheads, &node->sn.node);
        ngx_queue_remove(&node->queue);
        ngx_slab_free_locked(zone->shpool, node);
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/*
 * At configuration: the directives' checks, and the hook of each
 * attempt's beginning in the upstreams of services that need it.
 */

ngx_int_t
ngx_http_gateway_bulkheads_init(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf)
{
    ngx_uint_t                          i, j;
    ngx_http_upstream_srv_conf_t       *us;
    ngx_http_gateway_service_t        **s;
    ngx_http_gateway_bulkheads_t       *bh;
    ngx_http_gateway_bulkhead_peer_t   *peer;
    ngx_http_gateway_bulkhead_conf_t   *bc;

    s = gmcf->services.elts;
    bh = NULL;

    for (i = 0; i < gmcf->services.nelts; i++) {
        bc = s[i]->bulkhead;

        if (bc == NULL) {
            continue;
        }

        if (bc->per == NGX_HTTP_GATEWAY_BULKHEAD_PER_CONSUMER
            && s[i]->auth.modes == NGX_HTTP_GATEWAY_AUTH_OFF)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"concurrency ... per=consumer\" of gateway "
                          "service \"%V\" in %s:%ui needs authentication, "
                          "but the service has \"auth off\"", &s[i]->name,
                          s[i]->file, s[i]->line);
            return NGX_ERROR;
        }

        if (bh == NULL) {
            bh = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_bulkheads_t));
            if (bh == NULL) {
                return NGX_ERROR;
            }

            if (ngx_array_init(&bh->peers, cf->pool, 4,
                               sizeof(ngx_http_gateway_bulkhead_peer_t))
                != NGX_OK)
            {
                return NGX_ERROR;
            }

            ngx_queue_init(&bh->waiters);
            bh->cycle = cf->cycle;
            gmcf->bulkheads = bh;
        }

        us = s[i]->upstream;

        if (us == NULL || us->peer.init == NULL) {
            continue;
        }

        peer = bh->peers.elts;

        for (j = 0; j < bh->peers.nelts; j++) {
            if (peer[j].upstream == us) {
                break;
            }
        }

        if (j < bh->peers.nelts) {
            continue;
        }

        peer = ngx_array_push(&bh->peers);
        if (peer == NULL) {
            return NGX_ERROR;
        }

        peer->upstream = us;
        peer->init = us->peer.init;
        us->peer.init = ngx_http_gateway_bulkhead_peer_init;
    }

    return NGX_OK;
}


/*
 * A worker starts: what holders of its pid hold is a dead process's (a
 * pid used again), and kill() would never say so; the holders of dead
 * workers give back what they held, and the consumer nodes nobody uses
 * any more go (the zone's mutex held, as they come and go).
 */

ngx_int_t
ngx_http_gateway_bulkheads_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                          i;
    ngx_queue_t                        *q, *next;
    ngx_gateway_bulkhead_t             *b;
    ngx_http_gateway_zone_t            *zone;
    ngx_http_gateway_service_t        **s;
    ngx_http_gateway_main_conf_t       *gmcf;
    ngx_http_gateway_bulkhead_node_t   *parent, *node;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_gateway_module);

    if (gmcf == NULL || gmcf->bulkheads == NULL || gmcf->shm_zone == NULL) {
        return NGX_OK;
    }

    zone = gmcf->shm_zone->data;
    s = gmcf->services.elts;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < gmcf->services.nelts; i++) {

        if (s[i]->bulkhead == NULL || s[i]->bulkhead->node == NULL) {
            continue;
        }

        parent = ngx_http_gateway_bulkhead_node_of(s[i]->bulkhead->node);

        ngx_http_gateway_bulkhead_sweep(parent);

        for (q = ngx_queue_head(&parent->consumers);
             q != ngx_queue_sentinel(&parent->consumers);
             q = next)
        {
            next = ngx_queue_next(q);
            node = ngx_queue_data(q, ngx_http_gateway_bulkhead_node_t, queue);
            b = &node->bulkhead;

            ngx_http_gateway_bulkhead_sweep(node);

            if (b->refs == 0 && b->in_flight == 0 && b->queued == 0) {
                ngx_rbtree_delete(&zone->sh->bulkheads, &node->sn.node);
                ngx_queue_remove(&node->queue);
                ngx_slab_free_locked(zone->shpool, node);
            }
        }
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


static void
ngx_http_gateway_bulkhead_sweep(ngx_http_gateway_bulkhead_node_t *node)
{
    ngx_str_t  name;

    /* a consumer node's name: the service's, NUL, the consumer's */

    name.data = node->sn.str.data;
    name.len = ngx_strnlen(name.data, node->sn.str.len);

    ngx_http_gateway_bulkhead_give_back(&node->bulkhead, &name, 1);
}


/* at zone initialisation, in the master: each service's node by name */

ngx_int_t
ngx_http_gateway_bulkheads_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_gateway_main_conf_t *gmcf)
{
    uint32_t                            hash;
    ngx_uint_t                          i;
    ngx_str_node_t                     *sn;
    ngx_core_conf_t                    *ccf;
    ngx_http_gateway_zone_t            *zone;
    ngx_http_gateway_service_t        **s;
    ngx_http_gateway_bulkheads_t       *bh;
    ngx_http_gateway_bulkhead_node_t   *node;

    zone = shm_zone->data;
    s = gmcf->services.elts;
    bh = gmcf->bulkheads;

    if (bh == NULL) {
        return NGX_OK;
    }

    /*
     * A holder for each worker of two generations (a reload's old
     * workers finishing their calls beside the new ones) and two more
     */

    ccf = (ngx_core_conf_t *) ngx_get_conf(bh->cycle->conf_ctx,
                                           ngx_core_module);

    bh->holders = 2 * (ccf->worker_processes > 0 ? ccf->worker_processes : 1)
                  + 2;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (i = 0; i < gmcf->services.nelts; i++) {

        if (s[i]->bulkhead == NULL) {
            continue;
        }

        hash = ngx_crc32_short(s[i]->name.data, s[i]->name.len);

        sn = ngx_str_rbtree_lookup(&zone->sh->bulkheads, &s[i]->name, hash);

        if (sn) {
            node = (ngx_http_gateway_bulkhead_node_t *) sn;

            if (node->bulkhead.nholders < bh->holders) {
                ngx_log_error(NGX_LOG_WARN, shm_zone->shm.log, 0,
                              "gateway: the bulkhead of service \"%V\" "
                              "keeps its %ui holders, made for fewer "
                              "worker processes, until nginx is restarted",
                              &s[i]->name, node->bulkhead.nholders);
            }

        } else {
            node = ngx_http_gateway_bulkhead_node(zone, &s[i]->name, hash,
                                                  bh->holders);
            if (node == NULL) {
                ngx_shmtx_unlock(&zone->shpool->mutex);

                ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                              "gateway zone \"%V\" has no room for the "
                              "bulkhead of service \"%V\"",
                              &shm_zone->shm.name, &s[i]->name);
                return NGX_ERROR;
            }

            ngx_queue_init(&node->queue);
        }

        s[i]->bulkhead->node = &node->bulkhead;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return NGX_OK;
}


ngx_int_t
ngx_http_gateway_bulkhead_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var;

    var = ngx_http_add_variable(cf, &ngx_http_gateway_queue_time,
                                NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NGX_ERROR;
    }

    var->get_handler = ngx_http_gateway_queue_time_variable;

    return NGX_OK;
}


/*
 * $gateway_queue_time: seconds with milliseconds, as $request_time, that
 * the request waited in its service's queue, all attempts together.
 */

static ngx_int_t
ngx_http_gateway_queue_time_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                            *p;
    ngx_msec_t                         ms;
    ngx_http_gateway_bulkhead_call_t  *call;

    call = ngx_http_gateway_bulkhead_call(r);

    if (call == NULL) {
        if (ngx_http_get_module_ctx(r->main, ngx_http_gateway_module)
            == NULL)
        {
            v->not_found = 1;
            return NGX_OK;
        }

        ms = 0;

    } else {
        ms = call->queue_time;

        if (call->waiting) {
            ms += ngx_current_msec - call->queued;
        }
    }

    p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN + 4);
    if (p == NULL) {
        return NGX_ERROR;
    }

    v->len = ngx_sprintf(p, "%T.%03M", (time_t) ms / 1000, ms % 1000) - p;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = p;

    return NGX_OK;
}


/*
 * The status endpoint: a service's bulkhead, in its JSON object; none
 * for a service without "concurrency", "deadline" or "cold_start".
 */

ngx_int_t
ngx_http_gateway_bulkhead_json(ngx_http_gateway_main_conf_t *gmcf,
    ngx_http_gateway_service_t *s, void *obj)
{
    json_t                            *svc = obj;

    json_t                            *c;
    ngx_uint_t                         in_flight, queued;
    ngx_gateway_bulkhead_t            *b;
    ngx_http_gateway_bulkhead_conf_t  *bc;

    bc = s->bulkhead;
    b = bc ? bc->node : NULL;

    if (b == NULL) {
        return NGX_OK;
    }

    ngx_http_gateway_bulkhead_gauges(gmcf, s, &in_flight, &queued);

    c = json_pack("{s:I, s:I, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I,"
                  " s:I, s:I}",
                  "limit", (json_int_t) bc->limit,
                  "queue", (json_int_t) bc->queue,
                  "per", bc->per == NGX_HTTP_GATEWAY_BULKHEAD_PER_CONSUMER
                         ? "consumer" : "service",
                  "in_flight", (json_int_t) in_flight,
                  "queued", (json_int_t) queued,
                  "admitted_after_queue", (json_int_t) b->admitted_queued,
                  "enqueued", (json_int_t) b->enqueued,
                  "rejected_queue_full", (json_int_t) b->full,
                  "rejected_queue_timeout", (json_int_t) b->timed_out,
                  "abandoned", (json_int_t) b->abandoned,
                  "deadline_exceeded", (json_int_t) b->deadlines,
                  "cold_starts", (json_int_t) b->cold);

    if (c == NULL) {
        return NGX_ERROR;
    }

    return json_object_set_new(svc, "concurrency", c) == 0
           ? NGX_OK : NGX_ERROR;
}


/*
 * In flight and queued: the service's node, or with per=consumer the sum
 * of its consumers' nodes (the zone's mutex held, as they come and go).
 */

void
ngx_http_gateway_bulkhead_gauges(ngx_http_gateway_main_conf_t *gmcf,
    ngx_http_gateway_service_t *s, ngx_uint_t *in_flight, ngx_uint_t *queued)
{
    ngx_queue_t                       *q;
    ngx_http_gateway_zone_t           *zone;
    ngx_gateway_bulkhead_t            *b;
    ngx_http_gateway_bulkhead_node_t  *parent, *node;
    ngx_http_gateway_bulkhead_conf_t  *bc;

    bc = s->bulkhead;
    b = bc->node;

    *in_flight = b->in_flight;
    *queued = b->queued;

    parent = ngx_http_gateway_bulkhead_node_of(b);

    if (bc->per != NGX_HTTP_GATEWAY_BULKHEAD_PER_CONSUMER) {
        return;
    }

    zone = gmcf->shm_zone->data;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&parent->consumers);
         q != ngx_queue_sentinel(&parent->consumers);
         q = ngx_queue_next(q))
    {
        node = ngx_queue_data(q, ngx_http_gateway_bulkhead_node_t, queue);

        *in_flight += node->bulkhead.in_flight;
        *queued += node->bulkhead.queued;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


/* the same in Prometheus' text format; room: 1536 bytes a service */

u_char *
ngx_http_gateway_bulkhead_prometheus(ngx_http_gateway_main_conf_t *gmcf,
    u_char *p, ngx_array_t *services, size_t stride)
{
    u_char                            *st;
    ngx_uint_t                         i, k, in_flight, queued;
    ngx_atomic_uint_t                  value;
    ngx_gateway_bulkhead_t            *b;
    ngx_http_gateway_service_t        *s;

    static struct {
        char    *name;
        char    *help;
        char    *type;
        char    *label;
        size_t   offset;
    } metrics[] = {
        { "gateway_concurrency_queued_total",
          "Requests that waited in the service's queue.", "counter", "",
          offsetof(ngx_gateway_bulkhead_t, enqueued) },
        { "gateway_concurrency_admitted_after_queue_total",
          "Requests that got a slot after waiting.", "counter", "",
          offsetof(ngx_gateway_bulkhead_t, admitted_queued) },
        { "gateway_concurrency_rejected_total",
          "Requests refused for want of a slot, by reason.", "counter",
          ",reason=\"queue_full\"", offsetof(ngx_gateway_bulkhead_t, full) },
        { "gateway_concurrency_rejected_total", NULL, NULL,
          ",reason=\"queue_timeout\"",
          offsetof(ngx_gateway_bulkhead_t, timed_out) },
        { "gateway_concurrency_abandoned_total",
          "Requests whose client went away while they waited.", "counter",
          "", offsetof(ngx_gateway_bulkhead_t, abandoned) },
        { "gateway_deadline_exceeded_total",
          "Requests answered 504 at their deadline.", "counter", "",
          offsetof(ngx_gateway_bulkhead_t, deadlines) },
        { "gateway_cold_starts_total",
          "Attempts given the cold start's read timeout.", "counter", "",
          offsetof(ngx_gateway_bulkhead_t, cold) },
        { NULL, NULL, NULL, NULL, 0 }
    };

    st = services->elts;

    /* the gauges: in flight (k 0) and queued (k 1) */

    for (k = 0; k < 2; k++) {
        p = ngx_sprintf(p, k ? "# HELP gateway_concurrency_queued Requests "
                               "waiting in the service's queue.\n"
                               "# TYPE gateway_concurrency_queued gauge\n"
                             : "# HELP gateway_concurrency_in_flight "
                               "Attempts of the service in flight.\n"
                               "# TYPE gateway_concurrency_in_flight "
                               "gauge\n");

        for (i = 0; i < services->nelts; i++) {
            s = *(ngx_http_gateway_service_t **) (st + i * stride);

            if (s->bulkhead == NULL || s->bulkhead->node == NULL
                || s->bulkhead->limit == 0)
            {
                continue;
            }

            ngx_http_gateway_bulkhead_gauges(gmcf, s, &in_flight, &queued);

            p = ngx_sprintf(p, "gateway_concurrency_%s{service=\"%V\"} "
                               "%ui\n", k ? "queued" : "in_flight",
                            &s->name, k ? queued : in_flight);
        }
    }

    for (k = 0; metrics[k].name; k++) {

        if (metrics[k].help) {
            p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s %s\n",
                            metrics[k].name, metrics[k].help,
                            metrics[k].name, metrics[k].type);
        }

        for (i = 0; i < services->nelts; i++) {
            s = *(ngx_http_gateway_service_t **) (st + i * stride);

            if (s->bulkhead == NULL || s->bulkhead->node == NULL) {
                continue;
            }

            b = s->bulkhead->node;
            value = *(ngx_atomic_t *) ((u_char *) b + metrics[k].offset);

            p = ngx_sprintf(p, "%s{service=\"%V\"%s} %uA\n",
                            metrics[k].name, &s->name, metrics[k].label,
                            value);
        }
    }

    return p;
}


static ngx_http_gateway_bulkhead_conf_t *
ngx_http_gateway_bulkhead_conf(ngx_conf_t *cf, ngx_http_gateway_service_t *s)
{
    if (s->bulkhead == NULL) {
        s->bulkhead = ngx_pcalloc(cf->pool,
                                  sizeof(ngx_http_gateway_bulkhead_conf_t));
    }

    return s->bulkhead;
}


/*
 * concurrency N [queue=M] [queue_timeout=T] [per=service|consumer];
 */

char *
ngx_http_gateway_concurrency(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_service_t *s = conf;

    char                              *why;
    ngx_int_t                          n;
    ngx_str_t                         *value, v;
    ngx_uint_t                         i;
    ngx_http_gateway_bulkhead_conf_t  *bc;

    bc = ngx_http_gateway_bulkhead_conf(cf, s);
    if (bc == NULL) {
        return NGX_CONF_ERROR;
    }

    if (bc->limit) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 1 || n > 1000000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid concurrency \"%V\": 1 to 1000000",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    bc->limit = n;
    bc->queue = 0;
    bc->queue_timeout = 1000;
    bc->per = NGX_HTTP_GATEWAY_BULKHEAD_PER_SERVICE;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "queue=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (n < 0 || n > 1000000) {
                why = "the queue is 0 to 1000000 requests";
                goto invalid;
            }

            bc->queue = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "queue_timeout=", 14) == 0) {
            v.data = value[i].data + 14;
            v.len = value[i].len - 14;

            n = ngx_parse_time(&v, 0);

            if (n == NGX_ERROR || n == 0 || n > 86400000) {
                why = "the queue's timeout is a time from 1ms to 1d";
                goto invalid;
            }

            bc->queue_timeout = n;
            continue;
        }

        if (ngx_strcmp(value[i].data, "per=service") == 0) {
            bc->per = NGX_HTTP_GATEWAY_BULKHEAD_PER_SERVICE;
            continue;
        }

        if (ngx_strcmp(value[i].data, "per=consumer") == 0) {
            bc->per = NGX_HTTP_GATEWAY_BULKHEAD_PER_CONSUMER;
            continue;
        }

        why = "no such parameter";
        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid concurrency parameter \"%V\": %s",
                       &value[i], why);

    return NGX_CONF_ERROR;
}


/* deadline T; */

char *
ngx_http_gateway_deadline(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_service_t *s = conf;

    ngx_int_t                          n;
    ngx_str_t                         *value;
    ngx_http_gateway_bulkhead_conf_t  *bc;

    bc = ngx_http_gateway_bulkhead_conf(cf, s);
    if (bc == NULL) {
        return NGX_CONF_ERROR;
    }

    if (bc->deadline) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_parse_time(&value[1], 0);

    if (n == NGX_ERROR || n == 0 || n > (ngx_int_t) NGX_GATEWAY_DEADLINE_MAX)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid deadline \"%V\": a time from 1ms to 1d",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    bc->deadline = n;

    return NGX_CONF_OK;
}


/* cold_start T [idle=T]; */

char *
ngx_http_gateway_cold_start(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_service_t *s = conf;

    ngx_int_t                          n;
    ngx_str_t                         *value, v;
    ngx_http_gateway_bulkhead_conf_t  *bc;

    bc = ngx_http_gateway_bulkhead_conf(cf, s);
    if (bc == NULL) {
        return NGX_CONF_ERROR;
    }

    if (bc->cold_start) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_parse_time(&value[1], 0);

    if (n == NGX_ERROR || n == 0 || n > 86400000) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid cold_start \"%V\": a time from 1ms "
                           "to 1d", &value[1]);
        return NGX_CONF_ERROR;
    }

    bc->cold_start = n;
    bc->idle = 600000;

    if (cf->args->nelts == 3) {

        if (ngx_strncmp(value[2].data, "idle=", 5) != 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid cold_start parameter \"%V\": "
                               "no such parameter", &value[2]);
            return NGX_CONF_ERROR;
        }

        v.data = value[2].data + 5;
        v.len = value[2].len - 5;

        n = ngx_parse_time(&v, 0);

        if (n == NGX_ERROR || n == 0 || n > (ngx_int_t) 30 * 86400000) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid cold_start parameter \"%V\": idle "
                               "is a time from 1ms to 30d", &value[2]);
            return NGX_CONF_ERROR;
        }

        bc->idle = n;
    }

    return NGX_CONF_OK;
}
