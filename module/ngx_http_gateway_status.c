
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include "ngx_http_gateway_module.h"


/*
 * One service's numbers, read once for either format.  The service comes
 * first: ngx_http_gateway_bulkhead_prometheus() reads it at each stride.
 */

typedef struct {
    ngx_http_gateway_service_t  *service;
    ngx_http_gateway_counters_t  counters;
    ngx_uint_t                   retrying;     /* retries in flight */
    ngx_uint_t                   breaker;      /* has one */
    ngx_uint_t                   state;
    ngx_msec_t                   in_state;
    uint64_t                     transitions;
    ngx_uint_t                   cluster;      /* a scope=cluster line */
} ngx_http_gateway_status_t;


static ngx_int_t ngx_http_gateway_status_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_gateway_status_read(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_str_t *only,
    ngx_array_t *services);
static ngx_int_t ngx_http_gateway_status_json(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_array_t *services,
    ngx_str_t *out);
static ngx_int_t ngx_http_gateway_status_prometheus(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_array_t *services,
    ngx_str_t *out);
static ngx_int_t ngx_http_gateway_status_wants_text(ngx_http_request_t *r);
static size_t ngx_http_gateway_zone_used(ngx_shm_zone_t *shm_zone);
static ngx_uint_t ngx_http_gateway_status_cluster(
    ngx_http_gateway_service_t *s);
static json_t *ngx_http_gateway_status_store(
    ngx_http_gateway_store_view_t *view, ngx_http_gateway_status_t *st);


/* Prometheus families: name, help, type, label and the counter */

typedef struct {
    char                        *name;
    char                        *help;
    char                        *label;
    size_t                       offset;
} ngx_http_gateway_metric_t;


#define ngx_http_gateway_counter(field)                                       \
    offsetof(ngx_http_gateway_counters_t, field)


static ngx_http_gateway_metric_t  ngx_http_gateway_metrics[] = {

    { "gateway_requests_total",
      "Requests routed to the service.", NULL,
      ngx_http_gateway_counter(requests) },

    { "gateway_refused_total",
      "Requests the gateway refused, by reason.", "reason=\"unauthorized\"",
      ngx_http_gateway_counter(unauthorized) },

    { "gateway_refused_total", NULL, "reason=\"forbidden\"",
      ngx_http_gateway_counter(forbidden) },

    { "gateway_refused_total", NULL, "reason=\"rate_limited\"",
      ngx_http_gateway_counter(limited) },

    { "gateway_refused_total", NULL, "reason=\"breaker_open\"",
      ngx_http_gateway_counter(refused) },

    { "gateway_attempts_total",
      "Calls of the function, by outcome.", "outcome=\"success\"",
      ngx_http_gateway_counter(successes) },

    { "gateway_attempts_total", NULL, "outcome=\"error\"",
      ngx_http_gateway_counter(errors) },

    { "gateway_attempts_total", NULL, "outcome=\"timeout\"",
      ngx_http_gateway_counter(timeouts) },

    { "gateway_attempts_total", NULL, "outcome=\"5xx\"",
      ngx_http_gateway_counter(failed) },

    { "gateway_attempts_total", NULL, "outcome=\"429\"",
      ngx_http_gateway_counter(throttled) },

    { "gateway_retries_total",
      "Attempts that were retries.", NULL,
      ngx_http_gateway_counter(retries) },

    { "gateway_retry_budget_exhausted_total",
      "Retries not made because the retry budget was spent.", NULL,
      ngx_http_gateway_counter(retries_refused) },

    { "gateway_ratelimit_fallbacks_total",
      "Cluster rate-limit decisions made without Redis.", NULL,
      ngx_http_gateway_counter(fallbacks) },

    { NULL, NULL, NULL, 0 }
};


/* gateway_status; */

char *
ngx_http_gateway_status(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->handler) {
        return "is duplicate";
    }

    clcf->handler = ngx_http_gateway_status_handler;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_gateway_status_handler(ngx_http_request_t *r)
{
    ngx_int_t                      rc, text;
    ngx_str_t                      only, out, detail;
    ngx_buf_t                     *b;
    ngx_chain_t                    cl;
    ngx_array_t                    services;
    ngx_http_gateway_main_conf_t  *gmcf;

    if (!(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD))) {
        return NGX_HTTP_NOT_ALLOWED;
    }

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gateway_module);

    if (ngx_array_init(&services, r->pool, 4,
                       sizeof(ngx_http_gateway_status_t))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_arg(r, (u_char *) "service", 7, &only) != NGX_OK) {
        ngx_str_null(&only);
    }

    text = ngx_http_gateway_status_wants_text(r);

    if (text == NGX_ERROR) {
        ngx_str_set(&detail, "The format argument must be \"json\" or "
                             "\"prometheus\".");
        return ngx_http_gateway_problem_output(r,
                   NGX_HTTP_GATEWAY_PROBLEM_BAD_QUERY, NGX_HTTP_BAD_REQUEST,
                   &detail);
    }

    rc = ngx_http_gateway_status_read(r, gmcf, &only, &services);

    if (rc == NGX_DECLINED) {
        ngx_str_set(&detail, "No gateway service has this name.");
        return ngx_http_gateway_problem_output(r,
                   NGX_HTTP_GATEWAY_PROBLEM_UNKNOWN_SERVICE,
                   NGX_HTTP_NOT_FOUND, &detail);
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (text) {
        rc = ngx_http_gateway_status_prometheus(r, gmcf, &services, &out);
        ngx_str_set(&r->headers_out.content_type,
                    "text/plain; version=0.0.4; charset=utf-8");

    } else {
        rc = ngx_http_gateway_status_json(r, gmcf, &services, &out);
        ngx_str_set(&r->headers_out.content_type, "application/json");
    }

    if (rc != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = out.len;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->pos = out.data;
    b->last = out.data + out.len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    cl.buf = b;
    cl.next = NULL;

    return ngx_http_output_filter(r, &cl);
}


/*
 * Counters are atomics, read without a lock; a breaker is read under its
 * own, so that its state and times agree.
 */

static ngx_int_t
ngx_http_gateway_status_read(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_str_t *only,
    ngx_array_t *services)
{
    ngx_uint_t                    i, n;
    ngx_http_gateway_status_t    *st;
    ngx_gateway_breaker_t        *b;
    ngx_http_gateway_service_t  **s, *one;

    if (only->len) {
        one = ngx_http_gateway_service_find(gmcf, only);
        if (one == NULL) {
            return NGX_DECLINED;
        }

        s = &one;
        n = 1;

    } else {
        s = gmcf->services.elts;
        n = gmcf->services.nelts;
    }

    for (i = 0; i < n; i++) {
        st = ngx_array_push(services);
        if (st == NULL) {
            return NGX_ERROR;
        }

        ngx_memzero(st, sizeof(ngx_http_gateway_status_t));
        st->service = s[i];
        st->cluster = ngx_http_gateway_status_cluster(s[i]);

        if (s[i]->counters) {
            st->counters = *s[i]->counters;
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    st = services->elts;

    for (i = 0; i < n; i++) {
        b = s[i]->circuit;

        if (s[i]->budget) {
            st[i].retrying = s[i]->budget->retries;
        }

        if (b) {
            ngx_http_gateway_breaker_lock(s[i]);

            st[i].breaker = 1;
            st[i].in_state = ngx_gateway_breaker_elapsed(ngx_current_msec,
                                                         b->since);
            st[i].transitions = b->transitions;

            /* past its open time, the next call will find it half-open */

            st[i].state = ngx_gateway_breaker_state_now(b,
                                                        ngx_current_msec);

            if (st[i].state != b->state) {
                st[i].in_state -= b->open_time;
            }

            ngx_http_gateway_breaker_unlock(s[i]);
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gateway_status_json(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_array_t *services,
    ngx_str_t *out)
{
    char                           *text, *name;
    json_t                         *root, *list, *svc, *breaker;
    ngx_int_t                       rc;
    ngx_uint_t                      i;
    ngx_http_gateway_status_t      *st;
    ngx_http_gateway_store_view_t   view;

    rc = NGX_ERROR;
    text = NULL;

    /* the store as this host sees it, once for all cluster services */

    ngx_http_gateway_cluster_status(gmcf, &view);

    root = json_object();
    list = json_object();

    if (root == NULL || list == NULL) {
        goto done;
    }

    if (gmcf->shm_zone) {
        name = ngx_pnalloc(r->pool, gmcf->shm_zone->shm.name.len + 1);
        if (name == NULL) {
            goto done;
        }

        ngx_cpystrn((u_char *) name, gmcf->shm_zone->shm.name.data,
                    gmcf->shm_zone->shm.name.len + 1);

        if (json_object_set_new(root, "zone",
                json_pack("{s:s, s:I, s:I}", "name", name,
                          "size", (json_int_t) gmcf->shm_zone->shm.size,
                          "used", (json_int_t)
                              ngx_http_gateway_zone_used(gmcf->shm_zone)))
            != 0)
        {
            goto done;
        }
    }

    st = services->elts;

    for (i = 0; i < services->nelts; i++) {

        breaker = json_null();

        if (st[i].breaker) {
            breaker = json_pack("{s:s, s:I, s:I}",
                          "state",
                          ngx_gateway_breaker_state_name(st[i].state),
                          "in_state_ms", (json_int_t) st[i].in_state,
                          "transitions", (json_int_t) st[i].transitions);
        }

        svc = json_pack("{s:I, s:{s:I, s:I, s:I, s:I},"
                        " s:{s:I, s:I, s:I, s:I, s:I}, s:I, s:I, s:I, s:o}",
                        "requests", (json_int_t) st[i].counters.requests,
                        "refused",
                        "unauthorized",
                        (json_int_t) st[i].counters.unauthorized,
                        "forbidden", (json_int_t) st[i].counters.forbidden,
                        "rate_limited", (json_int_t) st[i].counters.limited,
                        "breaker_open", (json_int_t) st[i].counters.refused,
                        "attempts",
                        "success", (json_int_t) st[i].counters.successes,
                        "error", (json_int_t) st[i].counters.errors,
                        "timeout", (json_int_t) st[i].counters.timeouts,
                        "5xx", (json_int_t) st[i].counters.failed,
                        "429", (json_int_t) st[i].counters.throttled,
                        "retries", (json_int_t) st[i].counters.retries,
                        "retry_budget_exhausted",
                        (json_int_t) st[i].counters.retries_refused,
                        "retries_in_flight", (json_int_t) st[i].retrying,
                        "breaker", breaker);

        name = ngx_pnalloc(r->pool, st[i].service->name.len + 1);

        /* only a service with a cluster limit has "rate_limit" */

        if (svc == NULL || name == NULL
            || (st[i].cluster
                && json_object_set_new(svc, "rate_limit",
                       ngx_http_gateway_status_store(&view, &st[i]))
                   != 0)
            || (st[i].service->sign
                && json_object_set_new(svc, "sign",
                       ngx_http_gateway_sign_status(st[i].service))
                   != 0)
            || ngx_http_gateway_bulkhead_json(gmcf, st[i].service, svc)
               != NGX_OK)
        {
            json_decref(svc);
            goto done;
        }

        ngx_cpystrn((u_char *) name, st[i].service->name.data,
                    st[i].service->name.len + 1);

        if (json_object_set_new(list, name, svc) != 0) {
            goto done;
        }
    }

    if (json_object_set(root, "services", list) != 0
        || ngx_http_gateway_keys_status_json(r, gmcf, root) != NGX_OK)
    {
        goto done;
    }

    text = json_dumps(root, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    if (text == NULL) {
        goto done;
    }

    out->len = ngx_strlen(text);
    out->data = ngx_pnalloc(r->pool, out->len + 1);
    if (out->data == NULL) {
        goto done;
    }

    ngx_memcpy(out->data, text, out->len);
    out->data[out->len++] = '\n';

    rc = NGX_OK;

done:

    free(text);
    json_decref(list);
    json_decref(root);

    return rc;
}


/* the text exposition format, version 0.0.4 */

static ngx_int_t
ngx_http_gateway_status_prometheus(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_array_t *services,
    ngx_str_t *out)
{
    u_char                         *p;
    size_t                          len;
    ngx_uint_t                      i;
    ngx_atomic_uint_t               value;
    ngx_http_gateway_metric_t      *m;
    ngx_http_gateway_status_t      *st;
    ngx_http_gateway_store_view_t   view;

    st = services->elts;

    len = 4096 + services->nelts * (2560 + 1536)
          + ngx_http_gateway_keys_status_len(gmcf);

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    for (m = ngx_http_gateway_metrics; m->name; m++) {

        if (m->help) {
            p = ngx_sprintf(p, "# HELP %s %s\n# TYPE %s counter\n",
                            m->name, m->help, m->name);
        }

        for (i = 0; i < services->nelts; i++) {
            value = *(ngx_atomic_uint_t *) ((u_char *) &st[i].counters
                                            + m->offset);

            p = ngx_sprintf(p, "%s{service=\"%V\"%s%s} %uA\n", m->name,
                            &st[i].service->name, m->label ? "," : "",
                            m->label ? m->label : "", value);
        }
    }

    p = ngx_sprintf(p, "# HELP gateway_retries_in_flight Retries of the "
                       "service decided and not yet answered.\n"
                       "# TYPE gateway_retries_in_flight gauge\n");

    for (i = 0; i < services->nelts; i++) {
        p = ngx_sprintf(p, "gateway_retries_in_flight{service=\"%V\"} %ui\n",
                        &st[i].service->name, st[i].retrying);
    }

    p = ngx_sprintf(p, "# HELP gateway_breaker_state State of the "
                       "service's breaker: 0 closed, 1 open, 2 half-open.\n"
                       "# TYPE gateway_breaker_state gauge\n");

    for (i = 0; i < services->nelts; i++) {
        if (st[i].breaker) {
            p = ngx_sprintf(p, "gateway_breaker_state{service=\"%V\"} %ui\n",
                            &st[i].service->name, st[i].state);
        }
    }

    p = ngx_sprintf(p, "# HELP gateway_breaker_transitions_total "
                       "Transitions of the service's breaker.\n"
                       "# TYPE gateway_breaker_transitions_total counter\n");

    for (i = 0; i < services->nelts; i++) {
        if (st[i].breaker) {
            p = ngx_sprintf(p, "gateway_breaker_transitions_total"
                               "{service=\"%V\"} %uL\n",
                            &st[i].service->name, st[i].transitions);
        }
    }

    p = ngx_http_gateway_bulkhead_prometheus(gmcf, p, services,
                                             sizeof(ngx_http_gateway_status_t));

    if (gmcf->store) {
        ngx_http_gateway_cluster_status(gmcf, &view);

        p = ngx_sprintf(p, "# HELP gateway_store_up Whether Redis, the "
                           "store of cluster rate limits, answers.\n"
                           "# TYPE gateway_store_up gauge\n"
                           "gateway_store_up %ui\n"
                           "# HELP gateway_store_sync_lag_ms Milliseconds "
                           "since the last sync with the store.\n"
                           "# TYPE gateway_store_sync_lag_ms gauge\n"
                           "gateway_store_sync_lag_ms %M\n"
                           "# HELP gateway_store_errors_total Failed "
                           "exchanges with the store.\n"
                           "# TYPE gateway_store_errors_total counter\n"
                           "gateway_store_errors_total %ui\n"
                           "# HELP gateway_store_hosts Gateway hosts the "
                           "store heard from lately (0: not counted yet).\n"
                           "# TYPE gateway_store_hosts gauge\n"
                           "gateway_store_hosts %ui\n",
                        view.up, view.lag, view.errors, view.hosts);
    }

    if (gmcf->shm_zone) {
        p = ngx_sprintf(p, "# HELP gateway_zone_size_bytes Size of the "
                           "gateway zone.\n"
                           "# TYPE gateway_zone_size_bytes gauge\n"
                           "gateway_zone_size_bytes %uz\n"
                           "# HELP gateway_zone_used_bytes Bytes of the "
                           "gateway zone in use.\n"
                           "# TYPE gateway_zone_used_bytes gauge\n"
                           "gateway_zone_used_bytes %uz\n",
                        gmcf->shm_zone->shm.size,
                        ngx_http_gateway_zone_used(gmcf->shm_zone));
    }

    p = ngx_http_gateway_keys_status_text(gmcf, p);

    out->len = p - out->data;

    return NGX_OK;
}


/*
 * 1 for ?format=prometheus, or Accept: text/plain without ?format=json;
 * NGX_ERROR for a format that is neither.
 */

static ngx_int_t
ngx_http_gateway_status_wants_text(ngx_http_request_t *r)
{
    ngx_str_t         format, accept;
    ngx_table_elt_t  *h;

    if (ngx_http_arg(r, (u_char *) "format", 6, &format) == NGX_OK) {

        if (format.len == 10
            && ngx_strncmp(format.data, "prometheus", 10) == 0)
        {
            return 1;
        }

        if (format.len == 4 && ngx_strncmp(format.data, "json", 4) == 0) {
            return 0;
        }

        return NGX_ERROR;
    }

    ngx_str_set(&accept, "Accept");

    return ngx_http_gateway_request_header(r, &accept, &h)
           && ngx_strlcasestrn(h->value.data, h->value.data + h->value.len,
                               (u_char *) "text/plain", 10 - 1)
              != NULL;
}


static size_t
ngx_http_gateway_zone_used(ngx_shm_zone_t *shm_zone)
{
    ngx_slab_pool_t  *shpool;

    shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    return shm_zone->shm.size - shpool->pfree * ngx_pagesize;
}


static ngx_uint_t
ngx_http_gateway_status_cluster(ngx_http_gateway_service_t *s)
{
    ngx_uint_t                      i;
    ngx_http_gateway_limit_conf_t  *lc;

    lc = s->limits.elts;

    for (i = 0; i < s->limits.nelts; i++) {
        if (lc[i].cluster) {
            return 1;
        }
    }

    return 0;
}


/* a cluster limit: the scope, and the host's view of the store */

static json_t *
ngx_http_gateway_status_store(ngx_http_gateway_store_view_t *view,
    ngx_http_gateway_status_t *st)
{
    return json_pack("{s:s, s:s, s:I, s:I, s:I, s:I}",
                     "scope", "cluster",
                     "store", view->up ? "up" : "down",
                     "sync_lag_ms", (json_int_t) view->lag,
                     "store_errors", (json_int_t) view->errors,
                     "hosts", (json_int_t) view->hosts,
                     "fallbacks", (json_int_t) st->counters.fallbacks);
}
