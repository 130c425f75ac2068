
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_HTTP_GATEWAY_BREAKER_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_BREAKER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The circuit breaker of a service: a state machine in one fixed-size
 * struct without pointers, which lives in the gateway zone.  Pure: the
 * settings, the time and the outcome are arguments; nothing here reads
 * the clock or takes a lock.  The caller holds the zone's mutex around
 * each admit and each record: one lock hold per call.
 *
 * Times are milliseconds of a monotonic clock (ngx_current_msec).  Each
 * worker's cached clock may lag another's, so a time before the last
 * transition counts as no time elapsed: a clock stepping back never
 * trips, opens, half-opens or closes the breaker.  Differences are taken
 * signed, as nginx's timers take them, so a 32-bit clock's wrap reads as
 * elapsed time.
 *
 * A zeroed struct is a closed breaker with an empty window.
 */


/* states, as the status endpoint shows them */
#define NGX_HTTP_GATEWAY_BREAKER_CLOSED         0
#define NGX_HTTP_GATEWAY_BREAKER_OPEN           1
#define NGX_HTTP_GATEWAY_BREAKER_HALF_OPEN      2

/* outcomes of a call, as the glue classifies them */
#define NGX_HTTP_GATEWAY_BREAKER_SUCCESS        0
#define NGX_HTTP_GATEWAY_BREAKER_FAILURE        1
#define NGX_HTTP_GATEWAY_BREAKER_IGNORED        2   /* 429, client abort */

/* why a transition happened, for its log line */
#define NGX_HTTP_GATEWAY_BREAKER_NONE           0
#define NGX_HTTP_GATEWAY_BREAKER_RATE           1   /* closed -> open */
#define NGX_HTTP_GATEWAY_BREAKER_CONSECUTIVE    2   /* closed -> open */
#define NGX_HTTP_GATEWAY_BREAKER_PROBE_FAILED   3   /* half-open -> open */
#define NGX_HTTP_GATEWAY_BREAKER_OPEN_ELAPSED   4   /* open -> half-open */
#define NGX_HTTP_GATEWAY_BREAKER_PROBES_PASSED  5   /* half-open -> closed */

/* the window is this many buckets of window / 10 ms each */
#define NGX_HTTP_GATEWAY_BREAKER_BUCKETS        10
#define NGX_HTTP_GATEWAY_BREAKER_PROBES_MAX     16

/* a ticket without a probe slot */
#define NGX_HTTP_GATEWAY_BREAKER_NO_SLOT        ((ngx_uint_t) -1)

/*
 * Half-open and out of probe slots: the probes in flight usually answer
 * within a second, which is the least Retry-After can say anyway.
 */
#define NGX_HTTP_GATEWAY_BREAKER_BUSY_RETRY     1000


/*
 * Defaults.  The rate, volume and window are Hystrix's (50% of at least
 * 20 calls in a rolling 10 s of 10 buckets): 20 calls keep a few errors
 * at low traffic from tripping.  30 s open is Envoy's base ejection time
 * and 5 m the cap of Envoy's ejections and APISIX's breaker.  3 probes:
 * one success is weak evidence, and a function that just recovered (cold
 * starts) should not get resilience4j's 10 at once.  A probe's lease of
 * 30 s outlasts a cold start; the glue ends every lease it takes, so the
 * lease only runs out when an outcome is lost (a worker died), and then
 * costs at most about one open period.
 */
#define NGX_HTTP_GATEWAY_BREAKER_DEFAULT_RATE         50
#define NGX_HTTP_GATEWAY_BREAKER_DEFAULT_MIN          20
#define NGX_HTTP_GATEWAY_BREAKER_DEFAULT_WINDOW       10000
#define NGX_HTTP_GATEWAY_BREAKER_DEFAULT_OPEN         30000
#define NGX_HTTP_GATEWAY_BREAKER_DEFAULT_MAX_OPEN     300000
#define NGX_HTTP_GATEWAY_BREAKER_DEFAULT_PROBES       3
#define NGX_HTTP_GATEWAY_BREAKER_DEFAULT_CONSEC       0   /* off */
#define NGX_HTTP_GATEWAY_BREAKER_DEFAULT_TIMEOUT      30000

/* bounds the glue enforces through ngx_http_gateway_breaker_conf_check() */
#define NGX_HTTP_GATEWAY_BREAKER_COUNT_MAX      1000000
#define NGX_HTTP_GATEWAY_BREAKER_TIME_MAX       86400000    /* a day */


/*
 * Settings, in nginx's configuration (so a reload changes them), never
 * in the zone.  Times in ms.
 */
typedef struct {
    ngx_msec_t                 window;         /* BUCKETS .. TIME_MAX */
    ngx_msec_t                 open;           /* first open time */
    ngx_msec_t                 max_open;       /* cap of the doubling */
    ngx_msec_t                 probe_timeout;  /* a probe's lease */
    ngx_uint_t                 failure_rate;   /* percent, 1 .. 100 */
    ngx_uint_t                 min_requests;   /* 1 .. COUNT_MAX */
    ngx_uint_t                 probes;         /* 1 .. PROBES_MAX */
    ngx_uint_t                 consecutive;    /* 0: off */
    ngx_flag_t                 dry_run;
} ngx_http_gateway_breaker_conf_t;


typedef struct {
    uint32_t                   successes;
    uint32_t                   failures;
} ngx_http_gateway_breaker_bucket_t;


/* lives in the zone, one per service */
typedef struct {
    ngx_msec_t                 since;          /* of the last transition */
    ngx_msec_t                 open_time;      /* of the last open period */
    ngx_msec_t                 bucket_start;   /* of the newest bucket */
    ngx_msec_t                 bucket_time;    /* width; 0: window empty */
    ngx_msec_t                 leased_at[NGX_HTTP_GATEWAY_BREAKER_PROBES_MAX];

    /* for the status endpoint: they only grow */
    uint64_t                   transitions;
    uint64_t                   refused;        /* dry_run: would be */
    uint64_t                   successes;
    uint64_t                   failures;

    uint32_t                   state;
    uint32_t                   generation;     /* bumped by a transition */
    uint32_t                   trips;          /* opened since last close */
    uint32_t                   consecutive;    /* failures, when closed */
    uint32_t                   head;           /* newest bucket */
    uint32_t                   leased;         /* probe slots, a bit each */
    uint32_t                   passed;         /* probe slots succeeded */
    uint32_t                   lease_seq;
    uint32_t                   lease_id[NGX_HTTP_GATEWAY_BREAKER_PROBES_MAX];

    ngx_http_gateway_breaker_bucket_t
                               buckets[NGX_HTTP_GATEWAY_BREAKER_BUCKETS];
} ngx_http_gateway_breaker_t;


/* what admit hands to the caller, who gives it back to record */
typedef struct {
    uint32_t                   generation;
    uint32_t                   lease;
    ngx_uint_t                 slot;           /* or NO_SLOT */
} ngx_http_gateway_breaker_ticket_t;


/* from == to: no transition; the glue logs each one once, at warn */
typedef struct {
    ngx_uint_t                 from;
    ngx_uint_t                 to;
    ngx_uint_t                 reason;
    ngx_uint_t                 failures;       /* of the window, at a trip */
    ngx_uint_t                 total;
    ngx_msec_t                 open_time;      /* to OPEN: for how long */
} ngx_http_gateway_breaker_transition_t;


/* the defaults above */
void ngx_http_gateway_breaker_conf_init(ngx_http_gateway_breaker_conf_t *conf);

/*
 * NULL when the settings are within bounds, or what is wrong with them,
 * for the glue's [emerg] line.
 */
char *ngx_http_gateway_breaker_conf_check(
    ngx_http_gateway_breaker_conf_t *conf);

/* a closed breaker with an empty window: the same as a zeroed one */
void ngx_http_gateway_breaker_init(ngx_http_gateway_breaker_t *b);

/*
 * Before a call.  NGX_OK: the call may go; NGX_BUSY: refused, *retry_after
 * is the ms until a call may be admitted again (> 0); NGX_DECLINED: with
 * dry_run, the call would have been refused (*retry_after as for
 * NGX_BUSY) but goes: the glue logs it.
 *
 * Closed: admits.  Open: refuses until the open time has elapsed (at
 * since + open_time exactly, not 1 ms before), then turns half-open and
 * admits the caller as the first probe.  Half-open: admits while one of
 * the `probes` slots is neither leased nor passed; a lease runs out after
 * probe_timeout, which frees its slot.  The others are refused with
 * *retry_after up to NGX_HTTP_GATEWAY_BREAKER_BUSY_RETRY: the probes will
 * have answered, or the first lease run out.
 *
 * The ticket (always filled in) goes back to record() with the outcome;
 * a refused call's ticket is not counted.  *tr says whether this call
 * made a transition (open -> half-open).
 */
ngx_int_t ngx_http_gateway_breaker_admit(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_http_gateway_breaker_ticket_t *ticket, ngx_msec_t *retry_after,
    ngx_http_gateway_breaker_transition_t *tr);

/*
 * What admit() would answer now, changing nothing: NGX_OK or NGX_BUSY
 * with *retry_after as admit() would set it (dry_run aside).  For the
 * checks that must not lease a probe to a call that may yet be refused.
 */
ngx_int_t ngx_http_gateway_breaker_peek(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_msec_t *retry_after);

/* the state a call would find now: an open one past its time is half-open */
ngx_uint_t ngx_http_gateway_breaker_state_now(ngx_http_gateway_breaker_t *b,
    ngx_msec_t now);

/*
 * After a call admitted with the ticket, with its outcome: once per
 * ticket.  NGX_OK: the outcome counted in the state machine;
 * NGX_DECLINED: it did not (a ticket of an older generation or of a
 * refused call, an ignored outcome when closed, a success of a probe
 * whose lease ran out and went to another probe).  Either way the
 * successes and failures counters grow.
 *
 * Closed: the outcome goes into the window; the breaker trips when
 * failures * 100 >= failure_rate * total with total >= min_requests
 * (checked after every outcome, a success too), or after `consecutive`
 * failures in a row (a success resets the run; ignored outcomes and the
 * window do not).  It opens for open * 2^(trips - 1), at most max_open,
 * where trips counts the openings since the last close.  Half-open: a
 * probe's failure opens again, even one that outlived its lease; a
 * success passes its slot, and when all `probes` slots passed the breaker
 * closes with an empty window and trips reset; an ignored outcome frees
 * its slot for another probe.
 *
 * Outcomes count only in the generation that admitted them: late results
 * of an older state change nothing and postpone nothing.
 */
ngx_int_t ngx_http_gateway_breaker_record(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_http_gateway_breaker_ticket_t *ticket, ngx_uint_t outcome,
    ngx_http_gateway_breaker_transition_t *tr);

/*
 * Failures and calls in the window at `now`, as a trip would count them
 * (0 and 0 unless closed), without changing the breaker: for the status
 * endpoint.  The window is 10 buckets of window / 10 ms (rounded down),
 * the first starting at the first outcome after a close or a change of
 * the window; an outcome stays in it from window - window / 10 to window
 * ms, by where it fell in its bucket.  A changed window starts empty.
 */
void ngx_http_gateway_breaker_window(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_uint_t *failures, ngx_uint_t *total);

/* "closed", "open", "half-open" */
char *ngx_http_gateway_breaker_state_name(ngx_uint_t state);

/*
 * now - since, or 0 when now is before since: another worker's cached
 * clock may be ahead of this one's, and no time runs backwards
 */
ngx_msec_t ngx_http_gateway_breaker_elapsed(ngx_msec_t now,
    ngx_msec_t since);


#endif /* _NGX_HTTP_GATEWAY_BREAKER_H_INCLUDED_ */
