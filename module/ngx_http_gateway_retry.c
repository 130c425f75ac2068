
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_module.h"


/*
 * Retries with backoff, under "proxy_pass $gateway_target".  An attempt
 * ends when the function's response header comes (or nginx's own error
 * response for a failed connection, or an error_page redirect for it):
 * its outcome goes to the service's counters and breaker then, and the
 * budget slot its retry held is given back.  A failed attempt to be
 * retried never reaches the client: its connection to the function is
 * closed at once (nothing of its body is read), or nginx's error page
 * for it is swallowed.  After the backoff a timer redirects the request
 * internally to the same URI, where the proxy sends the request (kept
 * in memory or in its temp file) again.  The request's gateway context
 * is carried over, so that routing, authentication and the rate limit
 * are not done again.
 */


#define NGX_HTTP_GATEWAY_RETRY_ERROR    0x01
#define NGX_HTTP_GATEWAY_RETRY_TIMEOUT  0x02
#define NGX_HTTP_GATEWAY_RETRY_502      0x04
#define NGX_HTTP_GATEWAY_RETRY_503      0x08
#define NGX_HTTP_GATEWAY_RETRY_504      0x10
#define NGX_HTTP_GATEWAY_RETRY_429      0x20


static ngx_int_t ngx_http_gateway_retry_header_filter(ngx_http_request_t *r);
static ngx_int_t ngx_http_gateway_retry_redirected(ngx_http_request_t *r);
static ngx_http_gateway_retry_t *ngx_http_gateway_retry_state(
    ngx_http_request_t *r);
static ngx_int_t ngx_http_gateway_retry_decide(ngx_http_request_t *r,
    ngx_http_gateway_retry_t *st, ngx_uint_t status);
static void ngx_http_gateway_retry_release(ngx_http_gateway_retry_t *st);
static ngx_int_t ngx_http_gateway_retry_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_uint_t ngx_http_gateway_retry_class(ngx_http_request_t *r,
    ngx_uint_t status, ngx_uint_t *sent);
static ngx_int_t ngx_http_gateway_retry_delay(ngx_http_request_t *r,
    ngx_http_gateway_retry_t *st, ngx_uint_t status, ngx_msec_t *delay);
static void ngx_http_gateway_retry_handler(ngx_event_t *ev);
static void ngx_http_gateway_retry_cleanup(void *data);
static void ngx_http_gateway_retry_clean_header(ngx_http_request_t *r);
static ngx_http_gateway_hold_t *ngx_http_gateway_retries_hold(
    ngx_http_gateway_zone_t *zone, ngx_http_gateway_main_conf_t *gmcf,
    ngx_http_gateway_service_t *s);
static void ngx_http_gateway_retries_reclaim(ngx_http_gateway_zone_t *zone);
static void ngx_http_gateway_retries_release(ngx_http_gateway_zone_t *zone,
    ngx_http_gateway_holder_t *h);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;
static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


/* $gateway_retries once a retry is decided: retries are at most 9 */
static ngx_str_t  ngx_http_gateway_retry_numbers[] = {
    ngx_string("0"), ngx_string("1"), ngx_string("2"), ngx_string("3"),
    ngx_string("4"), ngx_string("5"), ngx_string("6"), ngx_string("7"),
    ngx_string("8"), ngx_string("9")
};


typedef struct {
    ngx_str_t                  name;
    ngx_uint_t                 bit;
} ngx_http_gateway_retry_on_t;


static ngx_http_gateway_retry_on_t  ngx_http_gateway_retry_on[] = {
    { ngx_string("error"), NGX_HTTP_GATEWAY_RETRY_ERROR },
    { ngx_string("timeout"), NGX_HTTP_GATEWAY_RETRY_TIMEOUT },
    { ngx_string("502"), NGX_HTTP_GATEWAY_RETRY_502 },
    { ngx_string("503"), NGX_HTTP_GATEWAY_RETRY_503 },
    { ngx_string("504"), NGX_HTTP_GATEWAY_RETRY_504 },
    { ngx_string("429"), NGX_HTTP_GATEWAY_RETRY_429 },
    { ngx_null_string, 0 }
};


ngx_int_t
ngx_http_gateway_retries_init(ngx_conf_t *cf)
{
    ngx_uint_t                  i;
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    static ngx_uint_t  phases[] = { NGX_HTTP_SERVER_REWRITE_PHASE,
                                    NGX_HTTP_REWRITE_PHASE };

    /*
     * The first phase an internal redirect (an error_page's) runs, and
     * the first a named location's runs: a failed attempt to be retried
     * does not go to the error page.
     */

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    for (i = 0; i < 2; i++) {
        h = ngx_array_push(&cmcf->phases[phases[i]].handlers);
        if (h == NULL) {
            return NGX_ERROR;
        }

        *h = ngx_http_gateway_retry_redirected;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_gateway_retry_header_filter;

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_gateway_retry_body_filter;

    return NGX_OK;
}


/*
 * The first attempt of a request of a service with retries: a state that
 * outlives the request's internal redirects, in a cleanup of its pool.
 */

ngx_int_t
ngx_http_gateway_retries_begin(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx)
{
    ngx_pool_cleanup_t        *cln;
    ngx_http_gateway_hold_t   *hold;
    ngx_http_gateway_zone_t   *zone;
    ngx_http_gateway_retry_t  *st;

    if (ctx->service->retries.max == 0 || r != r->main) {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(r->pool, sizeof(ngx_http_gateway_retry_t));
    if (cln == NULL) {
        return NGX_ERROR;
    }

    st = cln->data;
    ngx_memzero(st, sizeof(ngx_http_gateway_retry_t));

    st->request = r;
    st->ctx = ctx;
    st->gmcf = gmcf;
    st->uri = r->uri;
    st->args = r->args;
    st->method = r->method;
    st->method_name = r->method_name;
    st->timer.handler = ngx_http_gateway_retry_handler;
    st->timer.data = st;
    st->timer.log = r->connection->log;

    /*
     * Not cancelable: a worker shutting down (a reload) waits for the
     * backoff, at most the service's cap, and finishes the request; with
     * a cancelable timer it would exit at once and drop the connection.
     */
    st->timer.cancelable = 0;

    /*
     * The request body's temp file stays open for the attempts after
     * the first: the proxy closes it once a response header is sent.
     */
    r->preserve_body = 1;

    /*
     * Without the lock: the budget's count is an atomic, and this
     * worker's record is written by this worker only, while it lives;
     * the lock is taken once, to make the record.
     */

    zone = gmcf->shm_zone->data;

    ngx_gateway_budget_begin(ctx->service->budget);

    if (zone->holder == NULL && !zone->holder_failed) {
        ngx_shmtx_lock(&zone->shpool->mutex);
        hold = ngx_http_gateway_retries_hold(zone, gmcf, ctx->service);
        ngx_shmtx_unlock(&zone->shpool->mutex);

    } else {
        hold = ngx_http_gateway_retries_hold(zone, gmcf, ctx->service);
    }

    if (hold) {
        hold->active++;
    }

    cln->handler = ngx_http_gateway_retry_cleanup;
    ctx->retry = st;

    return NGX_OK;
}


/*
 * After a retry's internal redirect: the gateway context of the request
 * comes back; NGX_OK when this is such a retry.
 */

ngx_int_t
ngx_http_gateway_retries_resume(ngx_http_request_t *r)
{
    ngx_http_gateway_retry_t  *st;

    st = ngx_http_gateway_retry_state(r);

    if (st == NULL || !st->resuming) {
        return NGX_DECLINED;
    }

    st->resuming = 0;
    ngx_http_set_ctx(r, st->ctx, ngx_http_gateway_module);

    return NGX_OK;
}


/* the retry state of a main request after an internal redirect */

static ngx_http_gateway_retry_t *
ngx_http_gateway_retry_state(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t  *cln;

    if (r != r->main || !r->internal) {
        return NULL;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_gateway_retry_cleanup) {
            return cln->data;
        }
    }

    return NULL;
}


/*
 * A response header: of the function, or nginx's error response for an
 * attempt that failed to connect or timed out.  Either way the attempt
 * is over.
 */

static ngx_int_t
ngx_http_gateway_retry_header_filter(ngx_http_request_t *r)
{
    ngx_http_upstream_t       *u;
    ngx_http_gateway_ctx_t    *ctx;
    ngx_http_gateway_retry_t  *st;

    if (r != r->main) {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_gateway_module);

    if (ctx == NULL || ctx->retry == NULL || r->upstream == NULL) {
        return ngx_http_next_header_filter(r);
    }

    st = ctx->retry;
    u = r->upstream;

    if (ngx_http_gateway_retry_decide(r, st, r->headers_out.status)
        != NGX_OK)
    {
        return ngx_http_next_header_filter(r);
    }

    ngx_http_gateway_retry_clean_header(r);

    if (u->cleanup) {

        /*
         * The function's response: the attempt is finalized here, its
         * connection closed with whatever of the body is still to come.
         * Two references for the two finalizations that follow (this one
         * and the proxy's, on NGX_ERROR); the request stays for the
         * backoff on the one it had.
         */

        r->main->count += 2;

        (*u->cleanup)(r);

        r->write_event_handler = ngx_http_request_empty_handler;

        return NGX_ERROR;
    }

    /* nginx's error page: swallowed; the request outlives it */

    r->main->count++;
    st->swallow = 1;

    return NGX_OK;
}


/* the failed attempt's body never reaches the client */

static ngx_int_t
ngx_http_gateway_retry_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_chain_t             *cl;
    ngx_http_gateway_ctx_t  *ctx;

    if (r == r->main) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_gateway_module);

        if (ctx && ctx->retry && ctx->retry->swallow) {

            for (cl = in; cl; cl = cl->next) {
                cl->buf->pos = cl->buf->last;
                cl->buf->file_pos = cl->buf->file_last;
            }

            return NGX_OK;
        }
    }

    return ngx_http_next_body_filter(r, in);
}


/*
 * An internal redirect of a request with retries, not one of its own: an
 * error_page (or a proxy_intercept_errors) for the attempt that just
 * failed.  A retry goes first; the error page is for the last attempt.
 * The redirect is undone: its URI, the method it changed to GET and its
 * error status; the retry does not count against the redirect limit.
 */

static ngx_int_t
ngx_http_gateway_retry_redirected(ngx_http_request_t *r)
{
    ngx_http_gateway_retry_t  *st;

    st = ngx_http_gateway_retry_state(r);

    if (st == NULL || st->resuming || st->swallow || st->timer.timer_set
        || r->upstream == NULL || r->upstream->cleanup
        || r->upstream->state == NULL)
    {
        return NGX_DECLINED;
    }

    if (ngx_http_gateway_retry_decide(r, st, r->upstream->state->status)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    r->uri_changes++;
    r->error_page = 0;
    r->err_status = 0;
    r->method = st->method;
    r->method_name = st->method_name;

    ngx_http_gateway_retry_clean_header(r);

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    /* the redirect's reference is dropped by its caller: one is left */

    return NGX_DONE;
}


/*
 * The attempt is over: its outcome goes to the breaker, the slot the
 * retry held goes back to the budget, and then whether to retry.
 * NGX_OK: retry, the backoff started.
 */

static ngx_int_t
ngx_http_gateway_retry_decide(ngx_http_request_t *r,
    ngx_http_gateway_retry_t *st, ngx_uint_t status)
{
    ngx_uint_t                        kind, sent, key, n;
    ngx_msec_t                        delay;
    ngx_table_elt_t                  *h;
    ngx_http_gateway_ctx_t           *ctx;
    ngx_http_gateway_hold_t          *hold;
    ngx_http_gateway_zone_t          *zone;
    ngx_http_gateway_service_t       *s;
    ngx_http_gateway_retries_conf_t  *rc;

    n = r->upstream_states ? r->upstream_states->nelts : 0;

    /* once per attempt */

    if (st->swallow || st->decided >= n) {
        return NGX_DECLINED;
    }

    st->decided = n;

    ctx = st->ctx;
    s = ctx->service;
    rc = &s->retries;

    ngx_http_gateway_breaker_attempt(r, ctx);
    ngx_http_gateway_retry_release(st);

    if (st->attempt >= rc->max || r->connection->error) {
        return NGX_DECLINED;
    }

    kind = ngx_http_gateway_retry_class(r, status, &sent);

    if (!(kind & rc->on)) {
        return NGX_DECLINED;
    }

    key = rc->idempotency_header.len
          && ngx_http_gateway_request_header(r, &rc->idempotency_header, &h)
          && h->value.len;

    if (!ngx_gateway_retry_method(st->method, rc->methods, sent, key)) {
        return NGX_DECLINED;
    }

    /* a body streamed (proxy_request_buffering off) is not kept to resend */

    if (r->request_body_no_buffering
        && (r->headers_in.content_length_n > 0 || r->headers_in.chunked))
    {
        return NGX_DECLINED;
    }

    /* a probe is one call; nothing is retried unless the breaker is closed */

    if (ngx_http_gateway_breaker_probe(ctx)) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gateway: a probe of service \"%V\" is not retried",
                      &s->name);
        return NGX_DECLINED;
    }

    if (s->circuit && s->circuit->state != NGX_GATEWAY_BREAKER_CLOSED
        && !s->breaker.dry_run)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gateway: breaker of service \"%V\" is open: "
                      "not retried", &s->name);
        return NGX_DECLINED;
    }

    if (ngx_http_gateway_retry_delay(r, st, status, &delay) != NGX_OK) {
        return NGX_DECLINED;
    }

    /* no retry that cannot finish before the request's deadline */

    if (ngx_http_gateway_bulkhead_retry(r, delay) != NGX_OK) {
        return NGX_DECLINED;
    }

    zone = st->gmcf->shm_zone->data;

    ngx_shmtx_lock(&zone->shpool->mutex);

    /*
     * What a dead worker held may be what fills the budget: looked for
     * once a second at most, not on every refusal of a retry storm
     */

    if (!ngx_gateway_budget_allows(s->budget, rc->budget,
                                   NGX_GATEWAY_BUDGET_FLOOR)
        && ngx_current_msec - zone->reclaimed >= 1000)
    {
        zone->reclaimed = ngx_current_msec;
        ngx_http_gateway_retries_reclaim(zone);
    }

    if (ngx_gateway_budget_retry_begin(s->budget, rc->budget,
                                       NGX_GATEWAY_BUDGET_FLOOR)
        != NGX_OK)
    {
        ngx_shmtx_unlock(&zone->shpool->mutex);

        ngx_http_gateway_count(s, retries_refused);

        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gateway: retry budget of service \"%V\" exhausted",
                      &s->name);

        return NGX_DECLINED;
    }

    hold = ngx_http_gateway_retries_hold(zone, st->gmcf, s);
    if (hold) {
        hold->retries++;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    st->budget = 1;
    st->attempt++;

    ngx_http_gateway_set_variable(r, st->gmcf->retries_index,
                                  &ngx_http_gateway_retry_numbers[st->attempt]);

    ngx_http_gateway_count(s, retries);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gateway: retrying service \"%V\" after %ui, attempt %ui "
                  "in %Mms", &s->name, status, st->attempt + 1, delay);

    ngx_add_timer(&st->timer, delay);

    return NGX_OK;
}


/*
 * What failed: a connection error or timeout (no response header from
 * the function), or the function's status.  *sent is 0 only when no
 * byte of the request reached the function.
 */

static ngx_uint_t
ngx_http_gateway_retry_class(ngx_http_request_t *r, ngx_uint_t status,
    ngx_uint_t *sent)
{
    ngx_http_upstream_state_t  *state;

    *sent = 1;

    if (r->upstream_states == NULL || r->upstream_states->nelts == 0) {
        return 0;
    }

    state = r->upstream_states->elts;
    state = &state[r->upstream_states->nelts - 1];

    if (state->peer == NULL) {
        return 0;
    }

    switch (ngx_http_gateway_attempt_failure(state)) {

    case NGX_HTTP_GATEWAY_ATTEMPT_TIMEOUT:
        *sent = (state->bytes_sent != 0);
        return NGX_HTTP_GATEWAY_RETRY_TIMEOUT;

    case NGX_HTTP_GATEWAY_ATTEMPT_ERROR:

        /* cut short by the client, not failed */
        if (state->status == 0) {
            return 0;
        }

        *sent = (state->bytes_sent != 0);
        return NGX_HTTP_GATEWAY_RETRY_ERROR;
    }

    switch (status) {

    case NGX_HTTP_BAD_GATEWAY:
        return NGX_HTTP_GATEWAY_RETRY_502;

    case NGX_HTTP_SERVICE_UNAVAILABLE:
        return NGX_HTTP_GATEWAY_RETRY_503;

    case NGX_HTTP_GATEWAY_TIME_OUT:
        return NGX_HTTP_GATEWAY_RETRY_504;

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return NGX_HTTP_GATEWAY_RETRY_429;
    }

    return 0;
}


/*
 * Full-jitter backoff, or the function's own Retry-After on 429/503;
 * NGX_DECLINED when that asks for longer than the backoff's cap.
 */

static ngx_int_t
ngx_http_gateway_retry_delay(ngx_http_request_t *r,
    ngx_http_gateway_retry_t *st, ngx_uint_t status, ngx_msec_t *delay)
{
    ngx_uint_t                        i;
    ngx_list_part_t                  *part;
    ngx_table_elt_t                  *h;
    ngx_http_gateway_retries_conf_t  *rc;

    rc = &st->ctx->service->retries;

    *delay = ngx_gateway_backoff(st->attempt, rc->base, rc->cap,
                                 (uint32_t) ngx_random());

    if (status != NGX_HTTP_TOO_MANY_REQUESTS
        && status != NGX_HTTP_SERVICE_UNAVAILABLE)
    {
        return NGX_OK;
    }

    /* the function's headers: a redirect for an error page has none */

    for (part = &r->headers_out.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (h[i].hash == 0 || h[i].key.len != 11
                || ngx_strncasecmp(h[i].key.data, (u_char *) "Retry-After",
                                   11) != 0)
            {
                continue;
            }

            if (ngx_gateway_parse_retry_after(h[i].value.data,
                                              h[i].value.len,
                                              ngx_time(), delay)
                != NGX_OK)
            {
                continue;
            }

            return (*delay > rc->cap) ? NGX_DECLINED : NGX_OK;
        }
    }

    return NGX_OK;
}


/*
 * The backoff is over: the same URI again, as error_page would do; or
 * the end, with 499, when the client went away meanwhile.
 */

static void
ngx_http_gateway_retry_handler(ngx_event_t *ev)
{
    ngx_http_gateway_retry_t *st = ev->data;

    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = st->request;
    c = r->connection;

    st->swallow = 0;

    r->done = 0;
    r->request_complete = 0;
    r->err_status = 0;

    ngx_http_test_reading(r);

    if (c->error) {
        ngx_log_error(NGX_LOG_INFO, c->log, 0,
                      "gateway: the client of service \"%V\" went away "
                      "during the backoff: not retried",
                      &st->ctx->service->name);

        ngx_http_gateway_retry_release(st);

        /* test_reading finalized the request with 499 */
        ngx_http_run_posted_requests(c);
        return;
    }

    /* the breaker opened meanwhile: its refusal ends the request */

    if (st->ctx->call
        && ngx_http_gateway_breaker_retry(r, st->ctx) != NGX_DECLINED)
    {
        ngx_http_run_posted_requests(c);
        return;
    }

    st->resuming = 1;

    (void) ngx_http_internal_redirect(r, &st->uri, &st->args);

    /* drops the reference the backoff held */
    ngx_http_finalize_request(r, NGX_DONE);

    ngx_http_run_posted_requests(c);
}


/* the retry's attempt is over: its budget slot goes back */

static void
ngx_http_gateway_retry_release(ngx_http_gateway_retry_t *st)
{
    ngx_http_gateway_hold_t     *hold;
    ngx_http_gateway_zone_t     *zone;
    ngx_http_gateway_service_t  *s;

    if (!st->budget) {
        return;
    }

    st->budget = 0;

    s = st->ctx->service;
    zone = st->gmcf->shm_zone->data;

    ngx_shmtx_lock(&zone->shpool->mutex);

    hold = ngx_http_gateway_retries_hold(zone, st->gmcf, s);

    if (hold && hold->retries) {
        hold->retries--;
    }

    ngx_gateway_budget_retry_end(s->budget);

    ngx_shmtx_unlock(&zone->shpool->mutex);
}


static void
ngx_http_gateway_retry_cleanup(void *data)
{
    ngx_http_gateway_retry_t *st = data;

    ngx_http_gateway_hold_t     *hold;
    ngx_http_gateway_zone_t     *zone;
    ngx_http_gateway_service_t  *s;

    if (st->timer.timer_set) {
        ngx_del_timer(&st->timer);
    }

    ngx_http_gateway_retry_release(st);

    /* without the lock, as in ngx_http_gateway_retries_begin() */

    s = st->ctx->service;
    zone = st->gmcf->shm_zone->data;

    hold = zone->holder ? &zone->holder->held[s->index] : NULL;

    if (hold && hold->active) {
        hold->active--;
    }

    ngx_gateway_budget_end(s->budget);
}


/*
 * A worker's share of the retry budgets, in the zone: made at its first
 * request with retries (the zone's mutex held), NULL when the zone has
 * no room, and then the budgets just do without.
 */

static ngx_http_gateway_hold_t *
ngx_http_gateway_retries_hold(ngx_http_gateway_zone_t *zone,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_service_t *s)
{
    size_t                        size;
    ngx_uint_t                    i;
    ngx_http_gateway_holder_t    *h;
    ngx_http_gateway_service_t  **services;

    if (zone->holder) {
        return &zone->holder->held[s->index];
    }

    if (zone->holder_failed) {
        return NULL;
    }

    /* what a worker before this one in its slot left */
    ngx_http_gateway_retries_reclaim(zone);

    size = offsetof(ngx_http_gateway_holder_t, held)
           + gmcf->services.nelts * sizeof(ngx_http_gateway_hold_t);

    h = ngx_slab_calloc_locked(zone->shpool, size);
    if (h == NULL) {
        zone->holder_failed = 1;

        ngx_log_error(NGX_LOG_WARN, ngx_cycle->log, 0,
                      "gateway: no room in the gateway zone to track "
                      "this worker's retry budgets");
        return NULL;
    }

    h->pid = ngx_pid;
    h->slot = ngx_process_slot;
    h->n = gmcf->services.nelts;

    services = gmcf->services.elts;

    for (i = 0; i < h->n; i++) {
        h->held[i].budget = services[i]->budget;
    }

    ngx_queue_insert_tail(&zone->sh->holds, &h->queue);

    zone->holder = h;

    return &h->held[s->index];
}


/*
 * A worker killed in the middle of requests never ends them: what it
 * held of the budgets would stay taken for good.  Gives back the share
 * of every dead worker (the zone's mutex held).  nginx reuses a slot
 * only once it reaped the process before in it; a pid that is gone is
 * dead too (a zombie still counts as alive, until the master reaps it).
 */

static void
ngx_http_gateway_retries_reclaim(ngx_http_gateway_zone_t *zone)
{
    ngx_queue_t                *q, *next;
    ngx_http_gateway_holder_t  *h;

    for (q = ngx_queue_head(&zone->sh->holds);
         q != ngx_queue_sentinel(&zone->sh->holds);
         q = next)
    {
        next = ngx_queue_next(q);
        h = ngx_queue_data(q, ngx_http_gateway_holder_t, queue);

        if (h->pid == ngx_pid
            || (h->slot != ngx_process_slot
                && (kill(h->pid, 0) == 0 || ngx_errno != NGX_ESRCH)))
        {
            continue;
        }

        ngx_http_gateway_retries_release(zone, h);
    }
}


/*
 * What a worker's requests held of the budgets, given back, and its
 * record freed (the zone's mutex held): a dead worker's, or this one's
 * as it exits, when its requests will never end.
 */

static void
ngx_http_gateway_retries_release(ngx_http_gateway_zone_t *zone,
    ngx_http_gateway_holder_t *h)
{
    ngx_uint_t                i, active, retries;
    ngx_http_gateway_hold_t  *hold;

    active = 0;
    retries = 0;

    for (i = 0; i < h->n; i++) {
        hold = &h->held[i];

        /* active is an atomic that live workers change without the lock */

        hold->active = ngx_min(hold->active, hold->budget->active);
        hold->retries = ngx_min(hold->retries, hold->budget->retries);

        (void) ngx_atomic_fetch_add(&hold->budget->active,
                                    - (ngx_atomic_int_t) hold->active);
        hold->budget->retries -= hold->retries;

        active += hold->active;
        retries += hold->retries;
    }

    if (active || retries) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "gateway: worker %P is gone: %ui requests and "
                      "%ui retries it held in retry budgets given back",
                      h->pid, active, retries);
    }

    ngx_queue_remove(&h->queue);
    ngx_slab_free_locked(zone->shpool, h);
}


/* an exiting worker's record goes, so records do not pile up by reloads */

void
ngx_http_gateway_retries_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_gateway_zone_t       *zone;
    ngx_http_gateway_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_gateway_module);

    if (gmcf == NULL || gmcf->shm_zone == NULL) {
        return;
    }

    zone = gmcf->shm_zone->data;

    if (zone->holder == NULL) {
        return;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    ngx_http_gateway_retries_release(zone, zone->holder);
    ngx_shmtx_unlock(&zone->shpool->mutex);

    zone->holder = NULL;
}


static void
ngx_http_gateway_retry_clean_header(ngx_http_request_t *r)
{
    ngx_memzero(&r->headers_out.status,
                sizeof(ngx_http_headers_out_t)
                    - offsetof(ngx_http_headers_out_t, status));

    r->headers_out.headers.part.nelts = 0;
    r->headers_out.headers.part.next = NULL;
    r->headers_out.headers.last = &r->headers_out.headers.part;

    r->headers_out.trailers.part.nelts = 0;
    r->headers_out.trailers.part.next = NULL;
    r->headers_out.trailers.last = &r->headers_out.trailers.part;

    r->headers_out.content_length_n = -1;
    r->headers_out.last_modified_time = -1;
}


/*
 * retries N [on=error,timeout,502,503,504,429] [backoff=BASE:MAX]
 *     [budget=P%] [methods=GET,PUT,...] [idempotency_header=NAME];
 */

char *
ngx_http_gateway_retries(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_service_t *s = conf;

    char                             *why;
    u_char                           *p, *last, *start, *colon;
    ngx_int_t                         n;
    ngx_str_t                        *value, item, err;
    ngx_uint_t                        i, found;
    ngx_http_gateway_retry_on_t      *on;
    ngx_http_gateway_retries_conf_t  *rc;

    rc = &s->retries;

    if (rc->max) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 1 || n > 9) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid number of retries \"%V\": 1 to 9",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    rc->max = n;
    rc->on = NGX_HTTP_GATEWAY_RETRY_ERROR | NGX_HTTP_GATEWAY_RETRY_TIMEOUT
             | NGX_HTTP_GATEWAY_RETRY_502 | NGX_HTTP_GATEWAY_RETRY_503
             | NGX_HTTP_GATEWAY_RETRY_504;
    rc->base = NGX_GATEWAY_BACKOFF_BASE;
    rc->cap = NGX_GATEWAY_BACKOFF_MAX;
    rc->budget = NGX_GATEWAY_BUDGET_PERCENT;
    rc->methods = NGX_GATEWAY_RETRY_METHODS;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "on=", 3) == 0) {
            rc->on = 0;
            p = value[i].data + 3;
            last = value[i].data + value[i].len;

            while (p <= last) {
                start = p;

                while (p < last && *p != ',') {
                    p++;
                }

                item.data = start;
                item.len = p - start;
                p++;
                found = 0;

                for (on = ngx_http_gateway_retry_on; on->name.len; on++) {
                    if (on->name.len == item.len
                        && ngx_strncmp(on->name.data, item.data, item.len)
                           == 0)
                    {
                        rc->on |= on->bit;
                        found = 1;
                    }
                }

                if (!found) {
                    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                       "invalid retry condition \"%V\": "
                                       "error, timeout, 502, 503, 504 or "
                                       "429", &item);
                    return NGX_CONF_ERROR;
                }
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "backoff=", 8) == 0) {
            item.data = value[i].data + 8;
            item.len = value[i].len - 8;

            colon = ngx_strlchr(item.data, item.data + item.len, ':');
            if (colon == NULL) {
                why = "backoff is BASE:MAX, two times";
                goto invalid;
            }

            err.data = item.data;
            err.len = colon - item.data;
            n = ngx_parse_time(&err, 0);
            if (n == NGX_ERROR) {
                why = "the backoff's BASE is not a time";
                goto invalid;
            }

            rc->base = n;

            err.data = colon + 1;
            err.len = item.data + item.len - err.data;
            n = ngx_parse_time(&err, 0);
            if (n == NGX_ERROR) {
                why = "the backoff's MAX is not a time";
                goto invalid;
            }

            if ((ngx_msec_t) n < rc->base) {
                why = "the backoff's MAX is less than its BASE";
                goto invalid;
            }

            rc->cap = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "budget=", 7) == 0) {
            n = (value[i].len > 8 && value[i].data[value[i].len - 1] == '%')
                ? ngx_atoi(value[i].data + 7, value[i].len - 8) : NGX_ERROR;

            if (n < 1 || n > 100) {
                why = "the budget is 1% to 100%";
                goto invalid;
            }

            rc->budget = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "methods=", 8) == 0) {
            item.data = value[i].data + 8;
            item.len = value[i].len - 8;

            if (ngx_gateway_parse_methods(&item, &rc->methods, &err)
                != NGX_OK)
            {
                why = "methods are named as clients send them";
                goto invalid;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "idempotency_header=", 19) == 0
            && value[i].len > 19)
        {
            rc->idempotency_header.data = value[i].data + 19;
            rc->idempotency_header.len = value[i].len - 19;
            continue;
        }

        why = "no such parameter";
        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid retries parameter \"%V\": %s", &value[i], why);

    return NGX_CONF_ERROR;
}
