
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_GATEWAY_RETRY_H_INCLUDED_
#define _NGX_GATEWAY_RETRY_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * The arithmetic of retries: backoff with full jitter, Retry-After, the
 * retry budget of a service (a fixed-size struct in the gateway zone, the
 * caller holding the zone's mutex around each call but a budget's begin
 * and end, which are atomic) and which requests may be sent again.  Pure:
 * time and randomness are arguments.
 */


/* GET, HEAD and OPTIONS: what a function may safely be sent twice */
#define NGX_GATEWAY_RETRY_METHODS                                        \
    (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_OPTIONS)

/*
 * backoff=25ms:1s: Envoy's base; the cap leaves room for a few doublings
 * (25, 50, ... 800 ms) within a client's patience.
 */
#define NGX_GATEWAY_BACKOFF_BASE       25
#define NGX_GATEWAY_BACKOFF_MAX        1000

/* Envoy's retry budget: 20% of the requests in flight, at least 3 */
#define NGX_GATEWAY_BUDGET_PERCENT     20
#define NGX_GATEWAY_BUDGET_FLOOR       3

/* longer Retry-After values are this: a day, in seconds */
#define NGX_GATEWAY_RETRY_AFTER_MAX    86400

/* backoffs longer than this (49 days) are this */
#define NGX_GATEWAY_BACKOFF_CAP        ((ngx_msec_t) 0xfffffffe)


/*
 * The wait before retry number attempt + 1 (attempt 0: the first retry):
 * uniform in [0, min(max, base * 2^attempt)] (full jitter), from the 32
 * random bits: 0 gives 0, 0xffffffff the bound.  No overflow for any
 * attempt; base > max is max; bounds over NGX_GATEWAY_BACKOFF_CAP
 * are that.
 */
ngx_msec_t ngx_gateway_backoff(ngx_uint_t attempt, ngx_msec_t base,
    ngx_msec_t max, uint32_t random);

/*
 * A Retry-After field value (RFC 9110 10.2.3): delay-seconds, or an
 * HTTP-date in any of the three forms ngx_parse_http_time() reads, taken
 * against now (seconds, ngx_time()).  NGX_OK with *delay in ms: 0 for a
 * date not in the future; at most NGX_GATEWAY_RETRY_AFTER_MAX
 * seconds.  NGX_DECLINED for anything else (empty, signs, fractions,
 * trailing text after the seconds); *delay is then unchanged.  Spaces
 * and tabs around the value are skipped.
 */
ngx_int_t ngx_gateway_parse_retry_after(u_char *value, size_t len,
    time_t now, ngx_msec_t *delay);


/*
 * Envoy's retry budget, one per service.  active: requests of the
 * service in flight (a request counts once, whatever its attempts);
 * retries: retries in flight, each from the decision to retry (before
 * its backoff) to the end of its own attempt, so that a request holds at
 * most one at a time.  active is an atomic, so that every request
 * begins and ends without the lock; retries and the counters are under
 * the caller's lock, as retries are rare.
 */
typedef struct {
    ngx_atomic_t               active;
    ngx_uint_t                 retries;

    /* for the status endpoint: they only grow */
    uint64_t                   retried;        /* retries begun */
    uint64_t                   exhausted;      /* refused by the budget */
} ngx_gateway_budget_t;


/* a request of the service starts, and ends: once each, in pairs; atomic */
void ngx_gateway_budget_begin(ngx_gateway_budget_t *b);
void ngx_gateway_budget_end(ngx_gateway_budget_t *b);

/* retries < max(floor, active * percent / 100) */
ngx_uint_t ngx_gateway_budget_allows(ngx_gateway_budget_t *b,
    ngx_uint_t percent, ngx_uint_t floor);

/*
 * Takes a retry from the budget: NGX_OK, and the retry is in flight until
 * ngx_gateway_budget_retry_end(); NGX_BUSY, counted as exhausted,
 * when the budget does not allow it.  One lock hold: check and take.
 */
ngx_int_t ngx_gateway_budget_retry_begin(ngx_gateway_budget_t *b,
    ngx_uint_t percent, ngx_uint_t floor);
void ngx_gateway_budget_retry_end(ngx_gateway_budget_t *b);


/*
 * Whether a request may be sent again after a failed attempt.  method:
 * r->method (an NGX_HTTP_* bit); methods: the service's mask
 * (NGX_GATEWAY_RETRY_METHODS by default); sent: whether any byte of
 * the request may have reached the function (0 only for a failed
 * connect: such a request is safe to send again whatever its method);
 * key: the service names an idempotency header and the request carries
 * it, which makes any method safe.
 */
ngx_uint_t ngx_gateway_retry_method(ngx_uint_t method,
    ngx_uint_t methods, ngx_uint_t sent, ngx_uint_t key);


#endif /* _NGX_GATEWAY_RETRY_H_INCLUDED_ */
