
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_module.h"


/*
 * A service's state in the gateway zone, found by the service's name (so
 * that it survives reloads that add or remove other services): its
 * counters and its circuit breaker.  A call is admitted before it is
 * made, and a cleanup of the request's pool records how each attempt
 * went, whatever ended the request.
 */


typedef struct {
    ngx_str_node_t                      sn;         /* name in the zone */
    ngx_atomic_t                        lock;       /* of the breaker */
    ngx_http_gateway_counters_t         counters;
    ngx_gateway_breaker_t               breaker;
    ngx_gateway_budget_t                budget;
    u_char                              name[1];
} ngx_http_gateway_breaker_node_t;


struct ngx_http_gateway_breaker_call_s {
    ngx_http_request_t                 *request;
    ngx_http_gateway_service_t         *service;
    ngx_http_gateway_main_conf_t       *gmcf;
    ngx_gateway_breaker_ticket_t        ticket;
    ngx_uint_t                          recorded;   /* upstream states */
    ngx_uint_t                          attempts;   /* recorded ones */
};


static ngx_int_t ngx_http_gateway_breaker_refuse(ngx_http_request_t *r,
    ngx_http_gateway_service_t *s, ngx_msec_t retry, char *what);
static void ngx_http_gateway_breaker_done(void *data);
static void ngx_http_gateway_breaker_record(
    ngx_http_gateway_breaker_call_t *call);
static void ngx_http_gateway_breaker_count(ngx_http_gateway_service_t *s,
    ngx_http_upstream_state_t *state);
static ngx_uint_t ngx_http_gateway_breaker_outcome(
    ngx_http_gateway_service_t *s, ngx_http_upstream_state_t *state);
static void ngx_http_gateway_breaker_log(ngx_log_t *log,
    ngx_http_gateway_service_t *s, ngx_gateway_breaker_transition_t *tr);
static ngx_int_t ngx_http_gateway_breaker_failures(ngx_conf_t *cf,
    ngx_http_gateway_service_t *s, ngx_str_t *list);


static ngx_str_t  ngx_http_gateway_breaker_reasons[] = {
    ngx_null_string,
    ngx_string("failure rate reached"),
    ngx_string("consecutive failures"),
    ngx_string("a probe failed"),
    ngx_string("open time elapsed"),
    ngx_string("probes succeeded")
};


/*
 * The admission of a call, after authentication: the breaker's check,
 * the rate limit and the breaker's admission, in one hold of the locks.
 * NGX_OK admits (a cleanup will record the outcome); NGX_DONE when the
 * breaker or the limit refused and answered.
 *
 * A call the breaker would refuse is refused before it spends quota, and
 * no probe is leased to a call that the limit refuses.  The buckets are
 * under the zone's mutex; a breaker is under its own lock, taken inside
 * the zone's mutex when both are.  A closed breaker (nearly every call)
 * is read without a lock: a call admitted as a trip happens is one
 * admitted just before it, and its outcome, of the older generation,
 * does not count.  Without rate limits and with a closed breaker, no
 * lock at all.
 */

ngx_int_t
ngx_http_gateway_breaker_admit(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_gateway_route_match_t *m)
{
    uint32_t                                generation;
    ngx_int_t                               rc, peek, limited;
    ngx_str_t                               state;
    ngx_msec_t                              retry;
    ngx_uint_t                              i, locked, closed;
    ngx_pool_cleanup_t                     *cln;
    ngx_http_gateway_zone_t                *zone;
    ngx_gateway_breaker_t                  *b;
    ngx_http_gateway_service_t             *s;
    ngx_http_gateway_breaker_call_t        *call;
    ngx_http_gateway_limits_t               lim;
    ngx_gateway_breaker_transition_t        tr;

    s = ctx->service;
    b = s->circuit;

    rc = ngx_http_gateway_rate_limit_prepare(r, ctx, &lim);
    if (rc != NGX_OK) {
        return rc;
    }

    /* an open breaker refuses before sync=strict lines ask Redis */

    for (i = 0; b && ctx->cluster == NULL && i < lim.n; i++) {

        if (!lim.lk[i].lc->cluster || lim.lk[i].lc->sync
            || s->breaker.dry_run
            || b->state == NGX_GATEWAY_BREAKER_CLOSED)
        {
            continue;
        }

        ngx_http_gateway_breaker_lock(s);
        peek = ngx_gateway_breaker_peek(b, &s->breaker, ngx_current_msec,
                                        &retry);
        state.data = (u_char *) ngx_gateway_breaker_state_name(
                         ngx_gateway_breaker_state_now(b,
                                                       ngx_current_msec));
        ngx_http_gateway_breaker_unlock(s);

        if (peek != NGX_OK) {
            state.len = ngx_strlen(state.data);
            ngx_http_gateway_set_variable(r, gmcf->breaker_index, &state);
            return ngx_http_gateway_breaker_refuse(r, s, retry, "refused");
        }

        break;
    }

    /* sync=strict lines ask Redis first: NGX_AGAIN while they wait */

    rc = ngx_http_gateway_cluster_strict(r, gmcf, ctx, &lim, m);
    if (rc != NGX_OK) {
        return rc;
    }

    cln = ngx_pool_cleanup_add(r->pool,
                               sizeof(ngx_http_gateway_breaker_call_t));
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    call = cln->data;
    call->request = r;
    call->service = s;
    call->gmcf = gmcf;
    call->recorded = 0;
    call->attempts = 0;
    call->ticket.slot = NGX_GATEWAY_BREAKER_NO_SLOT;
    call->ticket.lease = 0;
    call->ticket.generation = 0;

    locked = 0;

    if (b) {
        generation = b->generation;
        ngx_memory_barrier();
        closed = (b->state == NGX_GATEWAY_BREAKER_CLOSED);
        ngx_memory_barrier();

        if (closed && b->generation == generation) {
            call->ticket.generation = generation;

        } else {
            locked = 1;
        }
    }

    zone = gmcf->shm_zone->data;
    peek = NGX_OK;
    rc = NGX_OK;
    retry = 0;
    tr.from = tr.to = 0;

    if (lim.n) {
        ngx_shmtx_lock(&zone->shpool->mutex);
    }

    if (locked) {
        ngx_http_gateway_breaker_lock(s);

        if (!s->breaker.dry_run) {
            peek = ngx_gateway_breaker_peek(b, &s->breaker,
                                            ngx_current_msec, &retry);
        }
    }

    if (peek == NGX_OK) {

        if (lim.n) {
            ngx_http_gateway_rate_limit_take(r, zone, ctx, &lim);
        }

        if (locked && lim.full == lim.n && lim.refused == lim.n) {
            rc = ngx_gateway_breaker_admit(b, &s->breaker,
                                           ngx_current_msec,
                                           &call->ticket, &retry, &tr);
        }
    }

    state.len = 0;

    if (b) {
        state.data = (u_char *) ngx_gateway_breaker_state_name(
                         ngx_gateway_breaker_state_now(b,
                                                       ngx_current_msec));
        state.len = ngx_strlen(state.data);
    }

    if (locked) {
        ngx_http_gateway_breaker_unlock(s);
    }

    if (lim.n) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
    }

    if (peek != NGX_OK || lim.full != lim.n || lim.refused != lim.n
        || rc == NGX_BUSY)
    {
        /* not admitted: what strict lines took in Redis goes back */
        ngx_http_gateway_cluster_refund(gmcf, &lim);
    }

    if (peek != NGX_OK) {
        ngx_http_gateway_set_variable(r, gmcf->breaker_index, &state);
        return ngx_http_gateway_breaker_refuse(r, s, retry, "refused");
    }

    /* refused by the limit: not admitted, nothing to record */

    limited = ngx_http_gateway_rate_limit_answer(r, gmcf, ctx, &lim);
    if (limited != NGX_OK) {
        return limited;
    }

    ctx->call = call;

    if (b == NULL) {
        cln->handler = ngx_http_gateway_breaker_done;
        return NGX_OK;
    }

    ngx_http_gateway_set_variable(r, gmcf->breaker_index, &state);

    ngx_http_gateway_breaker_log(r->connection->log, s, &tr);

    if (rc == NGX_DECLINED) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gateway: breaker of service \"%V\" is open, dry run: "
                      "not refused", &s->name);
    }

    if (rc != NGX_BUSY) {
        cln->handler = ngx_http_gateway_breaker_done;
        return NGX_OK;
    }

    /* refused: nothing to record; the function receives nothing */

    return ngx_http_gateway_breaker_refuse(r, s, retry, "refused");
}


/*
 * A retry whose backoff is over, on a breaker that is no longer closed
 * (other calls opened it meanwhile): it is not made, and the client gets
 * what a call the breaker refuses gets.  NGX_DECLINED: the breaker is
 * closed, or only a dry run; NGX_DONE: refused.
 */

ngx_int_t
ngx_http_gateway_breaker_retry(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx)
{
    ngx_uint_t                   state;
    ngx_msec_t                   elapsed, open_time;
    ngx_http_gateway_service_t  *s;

    s = ctx->service;

    if (s->circuit == NULL || s->breaker.dry_run) {
        return NGX_DECLINED;
    }

    ngx_http_gateway_breaker_lock(s);

    state = s->circuit->state;
    open_time = s->circuit->open_time;
    elapsed = ngx_gateway_breaker_elapsed(ngx_current_msec,
                                          s->circuit->since);

    ngx_http_gateway_breaker_unlock(s);

    if (state == NGX_GATEWAY_BREAKER_CLOSED) {
        return NGX_DECLINED;
    }

    return ngx_http_gateway_breaker_refuse(r, s,
               (state == NGX_GATEWAY_BREAKER_OPEN && open_time > elapsed)
               ? open_time - elapsed : NGX_GATEWAY_BREAKER_BUSY_RETRY,
               "retry not made");
}


static ngx_int_t
ngx_http_gateway_breaker_refuse(ngx_http_request_t *r,
    ngx_http_gateway_service_t *s, ngx_msec_t retry, char *what)
{
    ngx_str_t  detail;

    ngx_http_gateway_count(s, refused);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gateway: breaker of service \"%V\" is open: %s",
                  &s->name, what);

    if (ngx_http_gateway_retry_after(r, retry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&detail, "The function behind this service is failing; "
                         "the gateway does not call it until the time the "
                         "Retry-After header says.");

    return ngx_http_gateway_send_problem(r,
                                         NGX_HTTP_GATEWAY_PROBLEM_BREAKER_OPEN,
                                         &detail);
}


/*
 * The request is over, whatever ended it: each attempt of the proxy not
 * recorded yet is an outcome; a request that never reached the function
 * frees its probe lease without counting.
 */

static void
ngx_http_gateway_breaker_done(void *data)
{
    ngx_http_gateway_breaker_call_t *call = data;

    ngx_http_gateway_service_t             *s;
    ngx_gateway_breaker_transition_t        tr;

    ngx_http_gateway_breaker_record(call);

    s = call->service;

    if (s->circuit == NULL || call->attempts) {
        return;
    }

    ngx_http_gateway_breaker_lock(s);

    (void) ngx_gateway_breaker_record(s->circuit, &s->breaker,
                                      ngx_current_msec, &call->ticket,
                                      NGX_GATEWAY_BREAKER_IGNORED,
                                      &tr);

    ngx_http_gateway_breaker_unlock(s);

    ngx_http_gateway_breaker_log(call->request->connection->log, s, &tr);
}


/*
 * An attempt ended (a retry is being decided): its outcome reaches the
 * counters and the breaker now, not when the request ends.
 */

void
ngx_http_gateway_breaker_attempt(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx)
{
    if (ctx->call) {
        ngx_http_gateway_breaker_record(ctx->call);
    }
}


/* a half-open breaker's probe is one call: it is not retried */

ngx_uint_t
ngx_http_gateway_breaker_probe(ngx_http_gateway_ctx_t *ctx)
{
    return ctx->call
           && ctx->call->ticket.slot != NGX_GATEWAY_BREAKER_NO_SLOT;
}


/*
 * The attempts of the proxy that ended since the last call: an internal
 * redirect (a retry) leaves a state with no peer; an attempt that has
 * neither a response nor an error of its own was cut short by the
 * client going away (or by the gateway): it says nothing of the
 * function, and is neither counted nor given to the breaker.
 */

static void
ngx_http_gateway_breaker_record(ngx_http_gateway_breaker_call_t *call)
{
    ngx_uint_t                              i, n, outcome;
    ngx_http_request_t                     *r;
    ngx_http_upstream_state_t              *state;
    ngx_http_gateway_service_t             *s;
    ngx_gateway_breaker_transition_t        tr[2];

    r = call->request;
    s = call->service;

    if (r->upstream_states == NULL
        || r->upstream_states->nelts <= call->recorded)
    {
        return;
    }

    state = r->upstream_states->elts;
    n = r->upstream_states->nelts;
    i = call->recorded;
    call->recorded = n;

    tr[0].from = tr[0].to = 0;
    tr[1].from = tr[1].to = 0;

    if (s->circuit) {
        ngx_http_gateway_breaker_lock(s);
    }

    for ( /* void */ ; i < n; i++) {

        if (state[i].peer == NULL
            || (state[i].status == 0
                && state[i].header_time == (ngx_msec_t) -1))
        {
            continue;
        }

        ngx_http_gateway_breaker_count(s, &state[i]);
        call->attempts++;

        if (s->circuit == NULL) {
            continue;
        }

        outcome = ngx_http_gateway_breaker_outcome(s, &state[i]);

        /* a cold start's slowness is not the function failing */

        if (outcome == NGX_GATEWAY_BREAKER_FAILURE
            && s->bulkhead && s->bulkhead->cold_start
            && ngx_http_gateway_bulkhead_cold_timeout(r, i, &state[i]))
        {
            outcome = NGX_GATEWAY_BREAKER_IGNORED;
        }

        /* keep the first and the last transition for the log */

        (void) ngx_gateway_breaker_record(s->circuit, &s->breaker,
                   ngx_current_msec, &call->ticket, outcome,
                   (tr[0].from == tr[0].to) ? &tr[0] : &tr[1]);
    }

    if (s->circuit == NULL) {
        return;
    }

    ngx_http_gateway_breaker_unlock(s);

    ngx_http_gateway_breaker_log(r->connection->log, s, &tr[0]);
    ngx_http_gateway_breaker_log(r->connection->log, s, &tr[1]);
}


/* the service's counters of attempts, whatever its breaker counts */

static void
ngx_http_gateway_breaker_count(ngx_http_gateway_service_t *s,
    ngx_http_upstream_state_t *state)
{
    switch (ngx_http_gateway_attempt_failure(state)) {

    case NGX_HTTP_GATEWAY_ATTEMPT_TIMEOUT:
        ngx_http_gateway_count(s, timeouts);
        return;

    case NGX_HTTP_GATEWAY_ATTEMPT_ERROR:
        ngx_http_gateway_count(s, errors);
        return;
    }

    if (state->status == NGX_HTTP_TOO_MANY_REQUESTS) {
        ngx_http_gateway_count(s, throttled);

    } else if (state->status >= 500) {
        ngx_http_gateway_count(s, failed);

    } else {
        ngx_http_gateway_count(s, successes);
    }
}


/*
 * No response header: the connection failed or timed out.  A status in
 * "failures" is a failure; 429 is throttling, neither; the rest succeed.
 */

static ngx_uint_t
ngx_http_gateway_breaker_outcome(ngx_http_gateway_service_t *s,
    ngx_http_upstream_state_t *state)
{
    ngx_uint_t  status;

    switch (ngx_http_gateway_attempt_failure(state)) {

    case NGX_HTTP_GATEWAY_ATTEMPT_TIMEOUT:
        return (s->breaker_failures & NGX_HTTP_GATEWAY_FAIL_TIMEOUT)
               ? NGX_GATEWAY_BREAKER_FAILURE
               : NGX_GATEWAY_BREAKER_IGNORED;

    case NGX_HTTP_GATEWAY_ATTEMPT_ERROR:
        return (s->breaker_failures & NGX_HTTP_GATEWAY_FAIL_ERROR)
               ? NGX_GATEWAY_BREAKER_FAILURE
               : NGX_GATEWAY_BREAKER_IGNORED;
    }

    status = state->status;

    if (status == NGX_HTTP_TOO_MANY_REQUESTS) {
        return NGX_GATEWAY_BREAKER_IGNORED;
    }

    if (status >= 500 && status <= 599
        && (s->breaker_codes[(status - 500) / 8] & (1 << (status - 500) % 8)))
    {
        return NGX_GATEWAY_BREAKER_FAILURE;
    }

    return NGX_GATEWAY_BREAKER_SUCCESS;
}


/*
 * No response header: the connection failed, or the function did not
 * answer in time (nginx records a 504 then); else a response came.
 */

ngx_uint_t
ngx_http_gateway_attempt_failure(ngx_http_upstream_state_t *state)
{
    if (state->header_time != (ngx_msec_t) -1 && state->status != 0) {
        return NGX_HTTP_GATEWAY_ATTEMPT_RESPONSE;
    }

    return (state->status == NGX_HTTP_GATEWAY_TIME_OUT)
           ? NGX_HTTP_GATEWAY_ATTEMPT_TIMEOUT
           : NGX_HTTP_GATEWAY_ATTEMPT_ERROR;
}


/*
 * A breaker's own lock, a spinlock in its node holding the pid of its
 * holder: a service's calls contend only with its own, never with the
 * rate limits of all.  It is held for a few hundred instructions; the
 * admission takes it inside the zone's mutex, and nothing takes them in
 * the other order.  nginx's master frees the slab
 * pool's mutex of a worker that died holding it, but knows nothing of
 * this one: a waiter frees it when its holder is gone.
 */

void
ngx_http_gateway_breaker_lock(ngx_http_gateway_service_t *s)
{
    ngx_http_gateway_shm_lock(s->circuit_lock);
}


void
ngx_http_gateway_breaker_unlock(ngx_http_gateway_service_t *s)
{
    ngx_http_gateway_shm_unlock(s->circuit_lock);
}


/* the same on any lock word in the zone: a bulkhead's too */

void
ngx_http_gateway_shm_lock(ngx_atomic_t *lock)
{
    ngx_uint_t          i, n;
    ngx_atomic_uint_t   holder;

    for ( ;; ) {

        if (*lock == 0 && ngx_atomic_cmp_set(lock, 0, ngx_pid)) {
            return;
        }

        if (ngx_ncpu > 1) {

            for (n = 1; n < 2048; n <<= 1) {

                for (i = 0; i < n; i++) {
                    ngx_cpu_pause();
                }

                if (*lock == 0 && ngx_atomic_cmp_set(lock, 0, ngx_pid)) {
                    return;
                }
            }
        }

        holder = *lock;

        if (holder != 0
            && kill((ngx_pid_t) holder, 0) == -1 && ngx_errno == NGX_ESRCH)
        {
            (void) ngx_atomic_cmp_set(lock, holder, 0);
            continue;
        }

        ngx_sched_yield();
    }
}


void
ngx_http_gateway_shm_unlock(ngx_atomic_t *lock)
{
    (void) ngx_atomic_cmp_set(lock, ngx_pid, 0);
}


static void
ngx_http_gateway_breaker_log(ngx_log_t *log, ngx_http_gateway_service_t *s,
    ngx_gateway_breaker_transition_t *tr)
{
    if (tr->from == tr->to) {
        return;
    }

    ngx_log_error(NGX_LOG_WARN, log, 0,
                  "gateway: breaker of service \"%V\" %s -> %s: %V",
                  &s->name, ngx_gateway_breaker_state_name(tr->from),
                  ngx_gateway_breaker_state_name(tr->to),
                  &ngx_http_gateway_breaker_reasons[tr->reason]);
}


/*
 * At zone initialisation, in the master, on start and reload: each
 * service finds its state by name, or gets a fresh one.
 */

ngx_int_t
ngx_http_gateway_breaker_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_gateway_main_conf_t *gmcf)
{
    size_t                            size;
    uint32_t                          hash;
    ngx_uint_t                        i;
    ngx_str_node_t                   *sn;
    ngx_slab_pool_t                  *shpool;
    ngx_http_gateway_zone_t          *zone;
    ngx_http_gateway_service_t      **s;
    ngx_http_gateway_breaker_node_t  *node;

    zone = shm_zone->data;
    shpool = zone->shpool;
    s = gmcf->services.elts;

    ngx_shmtx_lock(&shpool->mutex);

    for (i = 0; i < gmcf->services.nelts; i++) {

        hash = ngx_crc32_short(s[i]->name.data, s[i]->name.len);

        sn = ngx_str_rbtree_lookup(&zone->sh->services, &s[i]->name, hash);

        if (sn) {
            node = (ngx_http_gateway_breaker_node_t *) sn;

        } else {
            size = offsetof(ngx_http_gateway_breaker_node_t, name)
                   + s[i]->name.len;

            node = ngx_slab_calloc_locked(shpool, size);
            if (node == NULL) {
                ngx_shmtx_unlock(&shpool->mutex);

                ngx_log_error(NGX_LOG_EMERG, shm_zone->shm.log, 0,
                              "gateway zone \"%V\" has no room for the "
                              "state of service \"%V\"",
                              &shm_zone->shm.name, &s[i]->name);
                return NGX_ERROR;
            }

            ngx_memcpy(node->name, s[i]->name.data, s[i]->name.len);
            node->sn.str.data = node->name;
            node->sn.str.len = s[i]->name.len;
            node->sn.node.key = hash;

            ngx_gateway_breaker_init(&node->breaker);

            /* in its state since now, for the status endpoint */
            node->breaker.since = ngx_current_msec;

            ngx_rbtree_insert(&zone->sh->services, &node->sn.node);
        }

        s[i]->circuit_lock = &node->lock;
        s[i]->counters = &node->counters;
        s[i]->budget = &node->budget;
        s[i]->circuit = s[i]->breaker_on ? &node->breaker : NULL;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


/*
 * breaker [failure_rate=P%] [min_requests=N] [window=T] [open=T]
 *     [max_open=T] [probes=K] [consecutive=N] [failures=LIST]
 *     [probe_timeout=T] [dry_run];
 */

char *
ngx_http_gateway_breaker(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_service_t *s = conf;

    char                             *err;
    u_char                           *eq;
    ngx_int_t                         n;
    ngx_str_t                        *value, name, v;
    ngx_uint_t                        i;
    ngx_msec_t                       *ms;
    ngx_uint_t                       *num;
    ngx_gateway_breaker_conf_t       *bc;

    if (s->breaker_on) {
        return "is duplicate";
    }

    s->breaker_on = 1;
    bc = &s->breaker;

    ngx_gateway_breaker_conf_init(bc);

    s->breaker_failures = NGX_HTTP_GATEWAY_FAIL_ERROR
                          | NGX_HTTP_GATEWAY_FAIL_TIMEOUT;
    ngx_memset(s->breaker_codes, 0xff, sizeof(s->breaker_codes));

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "dry_run") == 0) {
            bc->dry_run = 1;
            continue;
        }

        eq = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');
        if (eq == NULL) {
            goto invalid;
        }

        name.data = value[i].data;
        name.len = eq - value[i].data;
        v.data = eq + 1;
        v.len = value[i].data + value[i].len - v.data;

        ms = NULL;
        num = NULL;

        if (name.len == 12 && ngx_strncmp(name.data, "failure_rate", 12) == 0)
        {
            if (v.len < 2 || v.data[v.len - 1] != '%') {
                goto invalid;
            }

            n = ngx_atoi(v.data, v.len - 1);
            if (n == NGX_ERROR) {
                goto invalid;
            }

            bc->failure_rate = n;
            continue;
        }

        if (name.len == 8 && ngx_strncmp(name.data, "failures", 8) == 0) {
            if (ngx_http_gateway_breaker_failures(cf, s, &v) != NGX_OK) {
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (name.len == 12 && ngx_strncmp(name.data, "min_requests", 12) == 0)
        {
            num = &bc->min_requests;

        } else if (name.len == 6 && ngx_strncmp(name.data, "probes", 6) == 0)
        {
            num = &bc->probes;

        } else if (name.len == 11
                   && ngx_strncmp(name.data, "consecutive", 11) == 0)
        {
            num = &bc->consecutive;

        } else if (name.len == 6 && ngx_strncmp(name.data, "window", 6) == 0)
        {
            ms = &bc->window;

        } else if (name.len == 4 && ngx_strncmp(name.data, "open", 4) == 0) {
            ms = &bc->open;

        } else if (name.len == 8 && ngx_strncmp(name.data, "max_open", 8) == 0)
        {
            ms = &bc->max_open;

        } else if (name.len == 13
                   && ngx_strncmp(name.data, "probe_timeout", 13) == 0)
        {
            ms = &bc->probe_timeout;

        } else {
            goto invalid;
        }

        if (num) {
            n = ngx_atoi(v.data, v.len);
            if (n == NGX_ERROR) {
                goto invalid;
            }

            *num = n;
            continue;
        }

        n = ngx_parse_time(&v, 0);
        if (n == NGX_ERROR) {
            goto invalid;
        }

        *ms = n;
    }

    err = ngx_gateway_breaker_conf_check(bc);

    if (err == NULL) {
        return NGX_CONF_OK;
    }

    /* the message starts with the setting's name: quote what was written */

    name.data = (u_char *) err;
    eq = ngx_strlchr(name.data, name.data + ngx_strlen(err), ' ');
    name.len = eq ? (size_t) (eq - name.data) : 0;

    for (i = 1; name.len && i < cf->args->nelts; i++) {
        if (value[i].len > name.len && value[i].data[name.len] == '='
            && ngx_strncmp(value[i].data, name.data, name.len) == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid breaker parameter \"%V\": %s",
                               &value[i], err);
            return NGX_CONF_ERROR;
        }
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid breaker: %s", err);

    return NGX_CONF_ERROR;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid breaker parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


/* failures=error,timeout,5xx,500,502,... */

static ngx_int_t
ngx_http_gateway_breaker_failures(ngx_conf_t *cf,
    ngx_http_gateway_service_t *s, ngx_str_t *list)
{
    u_char     *p, *last, *start;
    ngx_int_t   code;
    ngx_str_t   item;

    s->breaker_failures = 0;
    ngx_memzero(s->breaker_codes, sizeof(s->breaker_codes));

    p = list->data;
    last = p + list->len;

    while (p <= last) {
        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        item.data = start;
        item.len = p - start;
        p++;

        if (item.len == 5 && ngx_strncmp(item.data, "error", 5) == 0) {
            s->breaker_failures |= NGX_HTTP_GATEWAY_FAIL_ERROR;
            continue;
        }

        if (item.len == 7 && ngx_strncmp(item.data, "timeout", 7) == 0) {
            s->breaker_failures |= NGX_HTTP_GATEWAY_FAIL_TIMEOUT;
            continue;
        }

        if (item.len == 3 && ngx_strncmp(item.data, "5xx", 3) == 0) {
            ngx_memset(s->breaker_codes, 0xff, sizeof(s->breaker_codes));
            continue;
        }

        code = ngx_atoi(item.data, item.len);

        if (code < 500 || code > 599) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid breaker failure \"%V\": \"error\", "
                               "\"timeout\", \"5xx\" or a status 500 to 599",
                               &item);
            return NGX_ERROR;
        }

        s->breaker_codes[(code - 500) / 8] |= 1 << (code - 500) % 8;
    }

    return NGX_OK;
}
