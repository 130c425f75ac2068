
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gateway_retry.h"


ngx_msec_t
ngx_gateway_backoff(ngx_uint_t attempt, ngx_msec_t base, ngx_msec_t max,
    uint32_t random)
{
    uint64_t  cap, top;

    top = ngx_min((uint64_t) max, (uint64_t) NGX_GATEWAY_BACKOFF_CAP);
    cap = base;

    /* base * 2^attempt <= top exactly when base <= top >> attempt */

    if (attempt >= 64 || cap > (top >> attempt)) {
        cap = top;

    } else {
        cap <<= attempt;
    }

    /* cap + 1 <= 2^32: the product fits, and 0xffffffff gives cap */

    return (ngx_msec_t) (((uint64_t) random * (cap + 1)) >> 32);
}


ngx_int_t
ngx_gateway_parse_retry_after(u_char *value, size_t len, time_t now,
    ngx_msec_t *delay)
{
    time_t   date;
    u_char  *p, *end;
    int64_t  sec;

    p = value;
    end = value + len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    if (p == end) {
        return NGX_DECLINED;
    }

    if (*p >= '0' && *p <= '9') {

        /* delay-seconds: 1*DIGIT, as many digits as it takes */

        sec = 0;

        for ( /* void */ ; p < end; p++) {
            if (*p < '0' || *p > '9') {
                return NGX_DECLINED;
            }

            if (sec <= NGX_GATEWAY_RETRY_AFTER_MAX) {
                sec = sec * 10 + (*p - '0');
            }
        }

    } else {
        date = ngx_parse_http_time(p, end - p);

        if (date == NGX_ERROR) {
            return NGX_DECLINED;
        }

        sec = (date > now) ? (int64_t) date - (int64_t) now : 0;
    }

    if (sec > NGX_GATEWAY_RETRY_AFTER_MAX) {
        sec = NGX_GATEWAY_RETRY_AFTER_MAX;
    }

    *delay = (ngx_msec_t) sec * 1000;

    return NGX_OK;
}


void
ngx_gateway_budget_begin(ngx_gateway_budget_t *b)
{
    (void) ngx_atomic_fetch_add(&b->active, 1);
}


void
ngx_gateway_budget_end(ngx_gateway_budget_t *b)
{
    ngx_atomic_uint_t  n;

    /* never below 0, whatever a caller got wrong */

    do {
        n = b->active;

        if (n == 0) {
            return;
        }

    } while (!ngx_atomic_cmp_set(&b->active, n, n - 1));
}


ngx_uint_t
ngx_gateway_budget_allows(ngx_gateway_budget_t *b,
    ngx_uint_t percent, ngx_uint_t floor)
{
    uint64_t  allowed;

    allowed = (uint64_t) b->active * percent / 100;

    if (allowed < floor) {
        allowed = floor;
    }

    return b->retries < allowed;
}


ngx_int_t
ngx_gateway_budget_retry_begin(ngx_gateway_budget_t *b,
    ngx_uint_t percent, ngx_uint_t floor)
{
    if (!ngx_gateway_budget_allows(b, percent, floor)) {
        b->exhausted++;
        return NGX_BUSY;
    }

    b->retries++;
    b->retried++;

    return NGX_OK;
}


void
ngx_gateway_budget_retry_end(ngx_gateway_budget_t *b)
{
    if (b->retries) {
        b->retries--;
    }
}


ngx_uint_t
ngx_gateway_retry_method(ngx_uint_t method, ngx_uint_t methods,
    ngx_uint_t sent, ngx_uint_t key)
{
    /* the function saw nothing of it */

    if (!sent) {
        return 1;
    }

    if (method & methods) {
        return 1;
    }

    return key ? 1 : 0;
}
