
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_gateway_breaker.h"


static void ngx_http_gateway_breaker_stay(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_transition_t *tr);
static ngx_int_t ngx_http_gateway_breaker_probe(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_http_gateway_breaker_ticket_t *ticket, ngx_msec_t *retry_after);
static ngx_uint_t ngx_http_gateway_breaker_all_passed(
    ngx_http_gateway_breaker_t *b, ngx_http_gateway_breaker_conf_t *conf);
static ngx_int_t ngx_http_gateway_breaker_count(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_uint_t outcome, ngx_http_gateway_breaker_transition_t *tr);
static void ngx_http_gateway_breaker_slide(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now);
static void ngx_http_gateway_breaker_sum(ngx_http_gateway_breaker_t *b,
    ngx_msec_t now, uint64_t *failures, uint64_t *total);
static void ngx_http_gateway_breaker_trip(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_uint_t reason, ngx_http_gateway_breaker_transition_t *tr);
static void ngx_http_gateway_breaker_close(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_http_gateway_breaker_transition_t *tr);
static void ngx_http_gateway_breaker_move(ngx_http_gateway_breaker_t *b,
    ngx_uint_t to, ngx_uint_t reason, ngx_msec_t now,
    ngx_http_gateway_breaker_transition_t *tr);
static ngx_msec_t ngx_http_gateway_breaker_open_time(
    ngx_http_gateway_breaker_conf_t *conf, ngx_uint_t trips);
static ngx_uint_t ngx_http_gateway_breaker_probes(
    ngx_http_gateway_breaker_conf_t *conf);
static ngx_msec_t ngx_http_gateway_breaker_width(
    ngx_http_gateway_breaker_conf_t *conf);


static char  *ngx_http_gateway_breaker_states[] = {
    "closed", "open", "half-open"
};


void
ngx_http_gateway_breaker_conf_init(ngx_http_gateway_breaker_conf_t *conf)
{
    conf->window = NGX_HTTP_GATEWAY_BREAKER_DEFAULT_WINDOW;
    conf->open = NGX_HTTP_GATEWAY_BREAKER_DEFAULT_OPEN;
    conf->max_open = NGX_HTTP_GATEWAY_BREAKER_DEFAULT_MAX_OPEN;
    conf->probe_timeout = NGX_HTTP_GATEWAY_BREAKER_DEFAULT_TIMEOUT;
    conf->failure_rate = NGX_HTTP_GATEWAY_BREAKER_DEFAULT_RATE;
    conf->min_requests = NGX_HTTP_GATEWAY_BREAKER_DEFAULT_MIN;
    conf->probes = NGX_HTTP_GATEWAY_BREAKER_DEFAULT_PROBES;
    conf->consecutive = NGX_HTTP_GATEWAY_BREAKER_DEFAULT_CONSEC;
    conf->dry_run = 0;
}


char *
ngx_http_gateway_breaker_conf_check(ngx_http_gateway_breaker_conf_t *conf)
{
    if (conf->failure_rate < 1 || conf->failure_rate > 100) {
        return "failure_rate must be 1% to 100%";
    }

    if (conf->min_requests < 1
        || conf->min_requests > NGX_HTTP_GATEWAY_BREAKER_COUNT_MAX)
    {
        return "min_requests must be 1 to 1000000";
    }

    if (conf->consecutive > NGX_HTTP_GATEWAY_BREAKER_COUNT_MAX) {
        return "consecutive must be 0 (off) to 1000000";
    }

    if (conf->probes < 1
        || conf->probes > NGX_HTTP_GATEWAY_BREAKER_PROBES_MAX)
    {
        return "probes must be 1 to 16";
    }

    /* a bucket is at least 1 ms */

    if (conf->window < NGX_HTTP_GATEWAY_BREAKER_BUCKETS
        || conf->window > NGX_HTTP_GATEWAY_BREAKER_TIME_MAX)
    {
        return "window must be 10ms to 1d";
    }

    if (conf->open < 1 || conf->open > NGX_HTTP_GATEWAY_BREAKER_TIME_MAX) {
        return "open must be 1ms to 1d";
    }

    if (conf->max_open < conf->open
        || conf->max_open > NGX_HTTP_GATEWAY_BREAKER_TIME_MAX)
    {
        return "max_open must be from open to 1d";
    }

    if (conf->probe_timeout < 1
        || conf->probe_timeout > NGX_HTTP_GATEWAY_BREAKER_TIME_MAX)
    {
        return "probe_timeout must be 1ms to 1d";
    }

    return NULL;
}


void
ngx_http_gateway_breaker_init(ngx_http_gateway_breaker_t *b)
{
    ngx_memzero(b, sizeof(ngx_http_gateway_breaker_t));
}


ngx_int_t
ngx_http_gateway_breaker_admit(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_http_gateway_breaker_ticket_t *ticket, ngx_msec_t *retry_after,
    ngx_http_gateway_breaker_transition_t *tr)
{
    ngx_int_t   rc;
    ngx_msec_t  elapsed;

    ngx_http_gateway_breaker_stay(b, tr);

    ticket->slot = NGX_HTTP_GATEWAY_BREAKER_NO_SLOT;
    ticket->lease = 0;

    *retry_after = 0;

    switch (b->state) {

    case NGX_HTTP_GATEWAY_BREAKER_OPEN:

        elapsed = ngx_http_gateway_breaker_elapsed(now, b->since);

        if (elapsed < b->open_time) {
            *retry_after = b->open_time - elapsed;
            rc = NGX_BUSY;
            break;
        }

        ngx_http_gateway_breaker_move(b, NGX_HTTP_GATEWAY_BREAKER_HALF_OPEN,
                                      NGX_HTTP_GATEWAY_BREAKER_OPEN_ELAPSED,
                                      now, tr);

        /* fall through */

    case NGX_HTTP_GATEWAY_BREAKER_HALF_OPEN:

        /* a reload may have lowered probes below the slots passed */

        if (ngx_http_gateway_breaker_all_passed(b, conf)) {
            ngx_http_gateway_breaker_close(b, conf, now, tr);
            rc = NGX_OK;
            break;
        }

        rc = ngx_http_gateway_breaker_probe(b, conf, now, ticket,
                                            retry_after);
        break;

    default: /* NGX_HTTP_GATEWAY_BREAKER_CLOSED */
        rc = NGX_OK;
    }

    ticket->generation = b->generation;

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    /*
     * A refused call's ticket counts nothing: it is of the open state,
     * whose outcomes are not counted, or of a half-open one, without a
     * probe slot.
     */

    b->refused++;

    return conf->dry_run ? NGX_DECLINED : NGX_BUSY;
}


ngx_int_t
ngx_http_gateway_breaker_peek(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_msec_t *retry_after)
{
    uint32_t    bit;
    ngx_uint_t  i, probes;
    ngx_msec_t  elapsed, wait;

    *retry_after = 0;

    switch (ngx_http_gateway_breaker_state_now(b, now)) {

    case NGX_HTTP_GATEWAY_BREAKER_OPEN:
        *retry_after = b->open_time
                       - ngx_http_gateway_breaker_elapsed(now, b->since);
        return NGX_BUSY;

    case NGX_HTTP_GATEWAY_BREAKER_HALF_OPEN:

        if (b->state == NGX_HTTP_GATEWAY_BREAKER_OPEN
            || ngx_http_gateway_breaker_all_passed(b, conf))
        {
            /* admit() will turn it half-open with every slot free */
            return NGX_OK;
        }

        wait = NGX_HTTP_GATEWAY_BREAKER_BUSY_RETRY;
        probes = ngx_http_gateway_breaker_probes(conf);

        for (i = 0; i < probes; i++) {
            bit = (uint32_t) 1 << i;

            if (b->passed & bit) {
                continue;
            }

            if (!(b->leased & bit)) {
                return NGX_OK;
            }

            elapsed = ngx_http_gateway_breaker_elapsed(now, b->leased_at[i]);

            if (elapsed >= conf->probe_timeout) {
                return NGX_OK;
            }

            if (conf->probe_timeout - elapsed < wait) {
                wait = conf->probe_timeout - elapsed;
            }
        }

        *retry_after = wait;
        return NGX_BUSY;

    default: /* NGX_HTTP_GATEWAY_BREAKER_CLOSED */
        return NGX_OK;
    }
}


ngx_uint_t
ngx_http_gateway_breaker_state_now(ngx_http_gateway_breaker_t *b,
    ngx_msec_t now)
{
    if (b->state == NGX_HTTP_GATEWAY_BREAKER_OPEN
        && ngx_http_gateway_breaker_elapsed(now, b->since) >= b->open_time)
    {
        return NGX_HTTP_GATEWAY_BREAKER_HALF_OPEN;
    }

    return b->state;
}


ngx_int_t
ngx_http_gateway_breaker_record(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_http_gateway_breaker_ticket_t *ticket, ngx_uint_t outcome,
    ngx_http_gateway_breaker_transition_t *tr)
{
    uint32_t    bit;
    ngx_uint_t  slot, own;

    ngx_http_gateway_breaker_stay(b, tr);

    if (outcome == NGX_HTTP_GATEWAY_BREAKER_SUCCESS) {
        b->successes++;

    } else if (outcome == NGX_HTTP_GATEWAY_BREAKER_FAILURE) {
        b->failures++;
    }

    if (ticket->generation != b->generation) {
        return NGX_DECLINED;
    }

    switch (b->state) {

    case NGX_HTTP_GATEWAY_BREAKER_CLOSED:
        return ngx_http_gateway_breaker_count(b, conf, now, outcome, tr);

    case NGX_HTTP_GATEWAY_BREAKER_HALF_OPEN:

        slot = ticket->slot;

        if (slot >= NGX_HTTP_GATEWAY_BREAKER_PROBES_MAX) {
            return NGX_DECLINED;
        }

        bit = (uint32_t) 1 << slot;

        /* the lease may have run out and gone to another probe */

        own = (b->leased & bit) && b->lease_id[slot] == ticket->lease;

        if (outcome == NGX_HTTP_GATEWAY_BREAKER_FAILURE) {

            /* even from a probe that outlived its lease: it failed now */

            ngx_http_gateway_breaker_trip(b, conf, now,
                                          NGX_HTTP_GATEWAY_BREAKER_PROBE_FAILED,
                                          tr);
            return NGX_OK;
        }

        if (!own) {
            return NGX_DECLINED;
        }

        b->leased &= ~bit;

        if (outcome == NGX_HTTP_GATEWAY_BREAKER_IGNORED) {
            return NGX_OK;
        }

        b->passed |= bit;

        if (ngx_http_gateway_breaker_all_passed(b, conf)) {
            ngx_http_gateway_breaker_close(b, conf, now, tr);
        }

        return NGX_OK;

    default: /* NGX_HTTP_GATEWAY_BREAKER_OPEN: only refused calls' */
        return NGX_DECLINED;
    }
}


void
ngx_http_gateway_breaker_window(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_uint_t *failures, ngx_uint_t *total)
{
    uint64_t  f, t;

    *failures = 0;
    *total = 0;

    if (b->state != NGX_HTTP_GATEWAY_BREAKER_CLOSED
        || b->bucket_time != ngx_http_gateway_breaker_width(conf))
    {
        return;
    }

    ngx_http_gateway_breaker_sum(b, now, &f, &t);

    *failures = (ngx_uint_t) f;
    *total = (ngx_uint_t) t;
}


char *
ngx_http_gateway_breaker_state_name(ngx_uint_t state)
{
    if (state > NGX_HTTP_GATEWAY_BREAKER_HALF_OPEN) {
        return "unknown";
    }

    return ngx_http_gateway_breaker_states[state];
}


/* no transition (yet): the state the breaker is in, to itself */

static void
ngx_http_gateway_breaker_stay(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_transition_t *tr)
{
    ngx_memzero(tr, sizeof(ngx_http_gateway_breaker_transition_t));

    tr->from = b->state;
    tr->to = b->state;
    tr->reason = NGX_HTTP_GATEWAY_BREAKER_NONE;
}


ngx_msec_t
ngx_http_gateway_breaker_elapsed(ngx_msec_t now, ngx_msec_t since)
{
    ngx_msec_int_t  ms;

    ms = (ngx_msec_int_t) (now - since);

    return ms > 0 ? (ngx_msec_t) ms : 0;
}


/* half-open: leases the first free probe slot */

static ngx_int_t
ngx_http_gateway_breaker_probe(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_http_gateway_breaker_ticket_t *ticket, ngx_msec_t *retry_after)
{
    uint32_t    bit;
    ngx_uint_t  i, probes;
    ngx_msec_t  elapsed, wait;

    wait = NGX_HTTP_GATEWAY_BREAKER_BUSY_RETRY;
    probes = ngx_http_gateway_breaker_probes(conf);

    for (i = 0; i < probes; i++) {
        bit = (uint32_t) 1 << i;

        if (b->passed & bit) {
            continue;
        }

        if (b->leased & bit) {
            elapsed = ngx_http_gateway_breaker_elapsed(now, b->leased_at[i]);

            if (elapsed < conf->probe_timeout) {

                if (conf->probe_timeout - elapsed < wait) {
                    wait = conf->probe_timeout - elapsed;
                }

                continue;
            }

            /* the lease ran out: its probe will not be waited for */
        }

        b->leased |= bit;
        b->leased_at[i] = now;
        b->lease_id[i] = ++b->lease_seq;

        ticket->slot = i;
        ticket->lease = b->lease_id[i];

        return NGX_OK;
    }

    *retry_after = wait;

    return NGX_BUSY;
}


static ngx_uint_t
ngx_http_gateway_breaker_all_passed(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf)
{
    uint32_t  all;

    all = ((uint32_t) 1 << ngx_http_gateway_breaker_probes(conf)) - 1;

    return (b->passed & all) == all;
}


/* closed: one outcome into the window, and the trip rules */

static ngx_int_t
ngx_http_gateway_breaker_count(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_uint_t outcome, ngx_http_gateway_breaker_transition_t *tr)
{
    uint64_t                            failures, total;
    ngx_http_gateway_breaker_bucket_t  *bucket;

    if (outcome != NGX_HTTP_GATEWAY_BREAKER_SUCCESS
        && outcome != NGX_HTTP_GATEWAY_BREAKER_FAILURE)
    {
        return NGX_DECLINED;
    }

    ngx_http_gateway_breaker_slide(b, conf, now);

    bucket = &b->buckets[b->head];

    if (outcome == NGX_HTTP_GATEWAY_BREAKER_SUCCESS) {
        b->consecutive = 0;

        if (bucket->successes != NGX_MAX_UINT32_VALUE) {
            bucket->successes++;
        }

    } else {
        if (b->consecutive != NGX_MAX_UINT32_VALUE) {
            b->consecutive++;
        }

        if (bucket->failures != NGX_MAX_UINT32_VALUE) {
            bucket->failures++;
        }
    }

    ngx_http_gateway_breaker_sum(b, now, &failures, &total);

    tr->failures = (ngx_uint_t) failures;
    tr->total = (ngx_uint_t) total;

    if (conf->consecutive && b->consecutive >= conf->consecutive) {
        ngx_http_gateway_breaker_trip(b, conf, now,
                                      NGX_HTTP_GATEWAY_BREAKER_CONSECUTIVE,
                                      tr);

    } else if (total >= conf->min_requests
               && failures * 100 >= conf->failure_rate * total)
    {
        ngx_http_gateway_breaker_trip(b, conf, now,
                                      NGX_HTTP_GATEWAY_BREAKER_RATE, tr);
    }

    return NGX_OK;
}


/*
 * Moves the newest bucket up to now, emptying those it passes.  A window
 * of another width (a fresh breaker, a reload that changed the window)
 * starts afresh at now.
 */

static void
ngx_http_gateway_breaker_slide(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now)
{
    ngx_uint_t  i;
    ngx_msec_t  width, n;

    width = ngx_http_gateway_breaker_width(conf);

    if (b->bucket_time != width) {
        ngx_memzero(b->buckets, sizeof(b->buckets));
        b->bucket_time = width;
        b->bucket_start = now;
        b->head = 0;
        return;
    }

    n = ngx_http_gateway_breaker_elapsed(now, b->bucket_start) / width;

    if (n == 0) {
        return;
    }

    /* bucket_start stays within a bucket of now: no 32-bit wrap */

    b->bucket_start += n * width;

    for (i = 0; i < n && i < NGX_HTTP_GATEWAY_BREAKER_BUCKETS; i++) {
        b->head = (b->head + 1) % NGX_HTTP_GATEWAY_BREAKER_BUCKETS;
        b->buckets[b->head].successes = 0;
        b->buckets[b->head].failures = 0;
    }
}


/* the buckets still in the window at now, without moving it */

static void
ngx_http_gateway_breaker_sum(ngx_http_gateway_breaker_t *b, ngx_msec_t now,
    uint64_t *failures, uint64_t *total)
{
    ngx_uint_t                          age, gone;
    ngx_http_gateway_breaker_bucket_t  *bucket;

    *failures = 0;
    *total = 0;

    if (b->bucket_time == 0) {
        return;
    }

    gone = (ngx_uint_t) ngx_min(
               ngx_http_gateway_breaker_elapsed(now, b->bucket_start)
               / b->bucket_time,
               NGX_HTTP_GATEWAY_BREAKER_BUCKETS);

    for (age = 0; age + gone < NGX_HTTP_GATEWAY_BREAKER_BUCKETS; age++) {
        bucket = &b->buckets[(b->head + NGX_HTTP_GATEWAY_BREAKER_BUCKETS - age)
                             % NGX_HTTP_GATEWAY_BREAKER_BUCKETS];

        *failures += bucket->failures;
        *total += (uint64_t) bucket->failures + bucket->successes;
    }
}


/* to OPEN, from closed or half-open, for a longer time on each trip */

static void
ngx_http_gateway_breaker_trip(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_uint_t reason, ngx_http_gateway_breaker_transition_t *tr)
{
    if (b->trips != NGX_MAX_UINT32_VALUE) {
        b->trips++;
    }

    b->open_time = ngx_http_gateway_breaker_open_time(conf, b->trips);

    ngx_http_gateway_breaker_move(b, NGX_HTTP_GATEWAY_BREAKER_OPEN, reason,
                                  now, tr);

    tr->open_time = b->open_time;
}


static void
ngx_http_gateway_breaker_close(ngx_http_gateway_breaker_t *b,
    ngx_http_gateway_breaker_conf_t *conf, ngx_msec_t now,
    ngx_http_gateway_breaker_transition_t *tr)
{
    ngx_http_gateway_breaker_move(b, NGX_HTTP_GATEWAY_BREAKER_CLOSED,
                                  NGX_HTTP_GATEWAY_BREAKER_PROBES_PASSED,
                                  now, tr);

    b->trips = 0;
    b->consecutive = 0;

    ngx_memzero(b->buckets, sizeof(b->buckets));
    b->bucket_time = ngx_http_gateway_breaker_width(conf);
    b->bucket_start = now;
    b->head = 0;
}


/*
 * Every transition: a new generation, so that outcomes of calls admitted
 * before it change nothing, and no probe leases.
 */

static void
ngx_http_gateway_breaker_move(ngx_http_gateway_breaker_t *b, ngx_uint_t to,
    ngx_uint_t reason, ngx_msec_t now,
    ngx_http_gateway_breaker_transition_t *tr)
{
    tr->from = b->state;
    tr->to = to;
    tr->reason = reason;

    b->state = (uint32_t) to;
    b->since = now;
    b->generation++;
    b->transitions++;
    b->leased = 0;
    b->passed = 0;
}


/* open * 2^(trips - 1), at most max_open, without overflow */

static ngx_msec_t
ngx_http_gateway_breaker_open_time(ngx_http_gateway_breaker_conf_t *conf,
    ngx_uint_t trips)
{
    ngx_uint_t  i;
    ngx_msec_t  ms, max;

    max = ngx_max(conf->open, conf->max_open);
    ms = conf->open;

    for (i = 1; i < trips && ms < max; i++) {
        ms = (ms > max / 2) ? max : ms * 2;
    }

    return ms;
}


/* the slots there are, whatever the configuration says */

static ngx_uint_t
ngx_http_gateway_breaker_probes(ngx_http_gateway_breaker_conf_t *conf)
{
    if (conf->probes < 1) {
        return 1;
    }

    return ngx_min(conf->probes, NGX_HTTP_GATEWAY_BREAKER_PROBES_MAX);
}


/* of a bucket: window / 10 ms, at least 1 ms */

static ngx_msec_t
ngx_http_gateway_breaker_width(ngx_http_gateway_breaker_conf_t *conf)
{
    ngx_msec_t  width;

    width = conf->window / NGX_HTTP_GATEWAY_BREAKER_BUCKETS;

    return width ? width : 1;
}
