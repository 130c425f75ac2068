
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gateway_bulkhead.h"


static void ngx_gateway_bulkhead_decrement(ngx_atomic_t *n,
    ngx_atomic_uint_t by);


void
ngx_gateway_bulkhead_init(ngx_gateway_bulkhead_t *b, ngx_uint_t n)
{
    ngx_memzero(b, ngx_gateway_bulkhead_size(n));

    b->nholders = n;
}


ngx_gateway_bulkhead_holder_t *
ngx_gateway_bulkhead_holder(ngx_gateway_bulkhead_t *b, ngx_pid_t pid)
{
    ngx_uint_t                      i;
    ngx_gateway_bulkhead_holder_t  *h, *free;

    free = NULL;

    for (i = 0; i < b->nholders; i++) {
        h = &b->holders[i];

        if (h->pid == (ngx_atomic_uint_t) pid) {
            return h;
        }

        if (h->pid == 0 && free == NULL) {
            free = h;
        }
    }

    if (free == NULL) {
        return NULL;
    }

    free->slots = 0;
    free->waiting = 0;
    free->first = 0;
    free->refs = 0;
    ngx_memory_barrier();
    free->pid = pid;

    return free;
}


ngx_gateway_bulkhead_holder_t *
ngx_gateway_bulkhead_find(ngx_gateway_bulkhead_t *b, ngx_pid_t pid)
{
    ngx_uint_t  i;

    for (i = 0; i < b->nholders; i++) {
        if (b->holders[i].pid == (ngx_atomic_uint_t) pid) {
            return &b->holders[i];
        }
    }

    return NULL;
}


ngx_uint_t
ngx_gateway_bulkhead_release_holder(ngx_gateway_bulkhead_t *b,
    ngx_gateway_bulkhead_holder_t *h)
{
    ngx_uint_t  slots;

    slots = h->slots;

    ngx_gateway_bulkhead_decrement(&b->in_flight, h->slots);
    ngx_gateway_bulkhead_decrement(&b->queued, h->waiting);
    ngx_gateway_bulkhead_decrement(&b->refs, h->refs);

    h->slots = 0;
    h->waiting = 0;
    h->first = 0;
    h->refs = 0;
    ngx_memory_barrier();
    h->pid = 0;

    return slots;
}


/* never below 0, whatever a caller (or a dead worker) got wrong */

static void
ngx_gateway_bulkhead_decrement(ngx_atomic_t *n, ngx_atomic_uint_t by)
{
    ngx_atomic_uint_t  v;

    if (by == 0) {
        return;
    }

    do {
        v = *n;

        if (v == 0) {
            return;
        }

    } while (!ngx_atomic_cmp_set(n, v, (v > by) ? v - by : 0));
}


static ngx_int_t
ngx_gateway_bulkhead_take(ngx_gateway_bulkhead_t *b, ngx_uint_t limit,
    ngx_gateway_bulkhead_holder_t *h)
{
    ngx_atomic_uint_t  n;

    for ( ;; ) {
        n = b->in_flight;

        if (n >= limit) {
            return NGX_AGAIN;
        }

        if (ngx_atomic_cmp_set(&b->in_flight, n, n + 1)) {
            break;
        }
    }

    if (h) {
        h->slots++;
    }

    return NGX_OK;
}


ngx_int_t
ngx_gateway_bulkhead_try(ngx_gateway_bulkhead_t *b, ngx_uint_t limit,
    ngx_gateway_bulkhead_holder_t *h)
{
    /* first come, first served: a free slot is the first waiter's */

    if (b->queued) {
        return NGX_AGAIN;
    }

    return ngx_gateway_bulkhead_take(b, limit, h);
}


void
ngx_gateway_bulkhead_release(ngx_gateway_bulkhead_t *b,
    ngx_gateway_bulkhead_holder_t *h)
{
    ngx_gateway_bulkhead_decrement(&b->in_flight, 1);

    if (h && h->slots) {
        h->slots--;
    }
}


ngx_int_t
ngx_gateway_bulkhead_enqueue(ngx_gateway_bulkhead_t *b, ngx_uint_t max,
    ngx_gateway_bulkhead_holder_t *h, ngx_atomic_uint_t *ticket)
{
    ngx_atomic_uint_t  n, t;

    for ( ;; ) {
        n = b->queued;

        if (n >= max) {
            return NGX_BUSY;
        }

        if (ngx_atomic_cmp_set(&b->queued, n, n + 1)) {
            break;
        }
    }

    /* 0 means "none": skipped when the numbers wrap */

    do {
        t = ngx_atomic_fetch_add(&b->tickets, 1) + 1;
    } while (t == 0);

    if (h) {
        h->waiting++;

        if (h->first == 0) {
            h->first = t;
        }
    }

    *ticket = t;

    return NGX_OK;
}


ngx_atomic_uint_t
ngx_gateway_bulkhead_head(ngx_gateway_bulkhead_t *b)
{
    ngx_uint_t          i;
    ngx_atomic_uint_t   t, head;

    head = 0;

    for (i = 0; i < b->nholders; i++) {

        /* a first without waiters is stale: none of it is in the queue */

        if (b->holders[i].pid == 0 || b->holders[i].waiting == 0) {
            continue;
        }

        t = b->holders[i].first;

        /* compared as distances, so that wrapping numbers still order */

        if (t != 0
            && (head == 0 || (ngx_atomic_int_t) (t - head) < 0))
        {
            head = t;
        }
    }

    return head;
}


ngx_int_t
ngx_gateway_bulkhead_admit(ngx_gateway_bulkhead_t *b, ngx_uint_t limit,
    ngx_gateway_bulkhead_holder_t *h, ngx_atomic_uint_t ticket,
    ngx_atomic_uint_t next)
{
    /* a waiter without a holder is not in the order: it just competes */

    if (h && ngx_gateway_bulkhead_head(b) != ticket) {
        return NGX_AGAIN;
    }

    if (ngx_gateway_bulkhead_take(b, limit, h) != NGX_OK) {
        return NGX_AGAIN;
    }

    ngx_gateway_bulkhead_leave(b, h, next);

    return NGX_OK;
}


void
ngx_gateway_bulkhead_leave(ngx_gateway_bulkhead_t *b,
    ngx_gateway_bulkhead_holder_t *h, ngx_atomic_uint_t next)
{
    ngx_gateway_bulkhead_decrement(&b->queued, 1);

    if (h) {
        if (h->waiting) {
            h->waiting--;
        }

        h->first = h->waiting ? next : 0;
    }
}


void
ngx_gateway_bulkhead_ref(ngx_gateway_bulkhead_t *b,
    ngx_gateway_bulkhead_holder_t *h)
{
    (void) ngx_atomic_fetch_add(&b->refs, 1);

    if (h) {
        h->refs++;
    }
}


ngx_atomic_uint_t
ngx_gateway_bulkhead_unref(ngx_gateway_bulkhead_t *b,
    ngx_gateway_bulkhead_holder_t *h)
{
    if (h && h->refs) {
        h->refs--;
    }

    ngx_gateway_bulkhead_decrement(&b->refs, 1);

    return b->refs;
}


ngx_msec_t
ngx_gateway_deadline_left(ngx_msec_t now, ngx_msec_t at)
{
    ngx_msec_int_t  left;

    left = (ngx_msec_int_t) (at - now);

    return (left > 0) ? (ngx_msec_t) left : 0;
}


ngx_msec_t
ngx_gateway_deadline_cap(ngx_msec_t timeout, ngx_msec_t now, ngx_msec_t at)
{
    ngx_msec_t  left;

    left = ngx_gateway_deadline_left(now, at);

    if (left == 0) {
        return 1;
    }

    return (timeout == 0 || timeout > left) ? left : timeout;
}


ngx_uint_t
ngx_gateway_deadline_retry(ngx_msec_t now, ngx_msec_t at, ngx_msec_t delay,
    ngx_msec_t last)
{
    ngx_msec_t  left;

    left = ngx_gateway_deadline_left(now, at);

    if (delay >= left) {
        return 0;
    }

    left -= delay;

    return left > last;
}


ngx_int_t
ngx_gateway_parse_grpc_timeout(u_char *value, size_t len, ngx_msec_t *ms)
{
    size_t    i;
    uint64_t  n, unit, div;

    /* TimeoutValue: 1 to 8 digits; TimeoutUnit: one letter */

    if (len < 2 || len > 9) {
        return NGX_DECLINED;
    }

    n = 0;

    for (i = 0; i < len - 1; i++) {
        if (value[i] < '0' || value[i] > '9') {
            return NGX_DECLINED;
        }

        n = n * 10 + (value[i] - '0');
    }

    unit = 1;
    div = 1;

    switch (value[len - 1]) {

    case 'H':
        unit = 3600000;
        break;

    case 'M':
        unit = 60000;
        break;

    case 'S':
        unit = 1000;
        break;

    case 'm':
        break;

    case 'u':
        div = 1000;
        break;

    case 'n':
        div = 1000000;
        break;

    default:
        return NGX_DECLINED;
    }

    if (n == 0) {
        return NGX_DECLINED;
    }

    /* at most 99999999 H: no overflow of 64 bits */

    n = (n * unit + div - 1) / div;

    *ms = (n > NGX_GATEWAY_DEADLINE_MAX) ? NGX_GATEWAY_DEADLINE_MAX
                                         : (ngx_msec_t) n;

    return NGX_OK;
}


ngx_uint_t
ngx_gateway_cold(ngx_msec_t now, ngx_msec_t last, ngx_msec_t idle)
{
    if (last == 0) {
        return 1;
    }

    return (ngx_msec_int_t) (now - last) > (ngx_msec_int_t) idle;
}


ngx_uint_t
ngx_gateway_cold_during(ngx_msec_t now, ngx_msec_t until)
{
    return until != 0 && (ngx_msec_int_t) (until - now) > 0;
}
