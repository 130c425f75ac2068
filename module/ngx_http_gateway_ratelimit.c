
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_module.h"


/* one full-zone alert per worker in this time, not one per request */
#define NGX_HTTP_GATEWAY_LIMIT_ALERT_EVERY  10000


static ngx_int_t ngx_http_gateway_limit_key(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_uint_t per, ngx_str_t *key);
static ngx_int_t ngx_http_gateway_limit_headers(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_uint_t rate, ngx_uint_t remaining,
    ngx_msec_t reset);
static ngx_int_t ngx_http_gateway_limit_field(ngx_http_request_t *r,
    char *name, ngx_str_t *service, u_char a, ngx_uint_t a_value, u_char b,
    ngx_uint_t b_value);
static ngx_int_t ngx_http_gateway_limit_refuse(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_msec_t retry);
static ngx_int_t ngx_http_gateway_limit_full(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx);


static ngx_str_t  ngx_http_gateway_limit_per[] = {
    ngx_string("consumer"),
    ngx_string("ip"),
    ngx_string("service")
};


/*
 * Charges the request to its bucket: NGX_OK when admitted (RateLimit
 * headers set), NGX_DONE when refused and answered.  Requests refused
 * earlier (routing, authentication) never get here, so never count.
 */

ngx_int_t
ngx_http_gateway_rate_limit_check(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx)
{
    ngx_int_t                       rc;
    ngx_str_t                       key, value;
    ngx_uint_t                      rate, burst, per, created, remaining;
    ngx_msec_t                      reset, retry;
    ngx_http_gateway_zone_t        *zone;
    ngx_http_gateway_bucket_t      *bucket;
    ngx_http_gateway_consumer_t    *consumer;
    ngx_http_gateway_limit_conf_t  *lc;

    lc = &ctx->service->limit;
    consumer = ctx->consumer_entry;

    /* a consumer's own limit replaces the service's, per consumer */

    if (consumer && consumer->rate) {
        rate = consumer->rate;
        burst = consumer->burst;
        per = NGX_HTTP_GATEWAY_LIMIT_PER_CONSUMER;

    } else if (lc->rate) {
        rate = lc->rate;
        burst = lc->burst;
        per = lc->per;

    } else {
        return NGX_OK;
    }

    rc = ngx_http_gateway_limit_key(r, ctx, per, &key);

    if (rc != NGX_OK) {
        return rc;
    }

    zone = gmcf->shm_zone->data;

    ngx_shmtx_lock(&zone->shpool->mutex);

    bucket = ngx_http_gateway_limit_lookup(zone->shpool, &zone->sh->limits,
                                           &key, ngx_current_msec, rate,
                                           &created);
    if (bucket == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return ngx_http_gateway_limit_full(r, gmcf, ctx);
    }

    rc = ngx_http_gateway_bucket_take(bucket, rate, burst, ngx_current_msec,
                                      &remaining, &reset, &retry);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "gateway rate limit \"%V\": %s, remaining %ui, new %ui",
                   &key, rc == NGX_OK ? "admitted" : "refused", remaining,
                   created);

    if (ngx_http_gateway_limit_headers(r, ctx, rate, remaining, reset)
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* before a refusal: its headers may name the variable */

    value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.len = ngx_http_gateway_uint(value.data, remaining) - value.data;
    ngx_http_gateway_set_variable(r, gmcf->remaining_index, &value);

    if (rc == NGX_OK) {
        return NGX_OK;
    }

    if (lc->dry_run) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gateway: rate limit exceeded for service \"%V\", "
                      "dry run: not refused", &ctx->service->name);
        return NGX_OK;
    }

    return ngx_http_gateway_limit_refuse(r, ctx, retry);
}


/*
 * The bucket's key: the service (never shared between services, even
 * with equal settings), then the consumer, the client address or nothing.
 */

static ngx_int_t
ngx_http_gateway_limit_key(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_uint_t per, ngx_str_t *key)
{
    u_char               *p;
    size_t                len;
    ngx_str_t             id;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    switch (per) {

    case NGX_HTTP_GATEWAY_LIMIT_PER_CONSUMER:
        id = ctx->consumer;
        break;

    case NGX_HTTP_GATEWAY_LIMIT_PER_IP:

        switch (r->connection->sockaddr->sa_family) {

        case AF_INET:
            sin = (struct sockaddr_in *) r->connection->sockaddr;
            id.data = (u_char *) &sin->sin_addr;
            id.len = sizeof(struct in_addr);
            break;

#if (NGX_HAVE_INET6)
        case AF_INET6:
            sin6 = (struct sockaddr_in6 *) r->connection->sockaddr;
            id.data = sin6->sin6_addr.s6_addr;
            id.len = sizeof(struct in6_addr);
            break;
#endif

        default:
            id = r->connection->addr_text;
            break;
        }

        break;

    default: /* NGX_HTTP_GATEWAY_LIMIT_PER_SERVICE */
        ngx_str_null(&id);
        break;
    }

    len = NGX_INT_T_LEN + sizeof(":c:") - 1 + id.len;

    if (len > 65535) {
        return NGX_HTTP_BAD_REQUEST;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    key->data = p;
    p = ngx_http_gateway_uint(p, ctx->service->index);
    *p++ = ':';
    *p++ = ngx_http_gateway_limit_per[per].data[0];
    *p++ = ':';
    p = ngx_cpymem(p, id.data, id.len);
    key->len = p - key->data;

    return NGX_OK;
}


/*
 * draft-ietf-httpapi-ratelimit-headers-11: the policy in the configured
 * unit (q requests per w seconds) and what is left of it now.
 */

static ngx_int_t
ngx_http_gateway_limit_headers(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_uint_t rate, ngx_uint_t remaining,
    ngx_msec_t reset)
{
    ngx_uint_t  quota, window;

    /* 1 r/s is 1000; a rate that is no whole number a second is a minute's */

    if (rate % 1000 == 0) {
        quota = rate / 1000;
        window = 1;

    } else {
        quota = (rate * 60 + 500) / 1000;
        window = 60;
    }

    if (ngx_http_gateway_limit_field(r, "RateLimit-Policy",
                                     &ctx->service->name, 'q', quota,
                                     'w', window)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_gateway_limit_field(r, "RateLimit", &ctx->service->name,
                                        'r', remaining,
                                        't', (reset + 999) / 1000);
}


/* name: "service";a=1;b=2 */

static ngx_int_t
ngx_http_gateway_limit_field(ngx_http_request_t *r, char *name,
    ngx_str_t *service, u_char a, ngx_uint_t a_value, u_char b,
    ngx_uint_t b_value)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    h = ngx_http_gateway_add_header(r, name, sizeof("\"\";a=;b=") - 1
                                             + service->len
                                             + 2 * NGX_INT_T_LEN);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = h->value.data;
    *p++ = '"';
    p = ngx_cpymem(p, service->data, service->len);
    *p++ = '"';
    *p++ = ';';
    *p++ = a;
    *p++ = '=';
    p = ngx_http_gateway_uint(p, a_value);
    *p++ = ';';
    *p++ = b;
    *p++ = '=';
    p = ngx_http_gateway_uint(p, b_value);
    h->value.len = p - h->value.data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gateway_limit_refuse(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_msec_t retry)
{
    ngx_str_t  detail;

    ngx_http_gateway_count(ctx->service, limited);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gateway: rate limit exceeded for service \"%V\"",
                  &ctx->service->name);

    if (ngx_http_gateway_retry_after(r, retry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&detail, "The rate limit of this service is exceeded; "
                         "retry after the time the Retry-After header says.");

    return ngx_http_gateway_send_problem_status(r,
               NGX_HTTP_GATEWAY_PROBLEM_RATE_LIMITED,
               ctx->service->limit.status, &detail);
}


/*
 * Even evicting the least recently used keys left no room: refuse with
 * the configured status rather than admit unlimited, and say so once.
 */

static ngx_int_t
ngx_http_gateway_limit_full(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx)
{
    ngx_str_t  detail;

    ngx_http_gateway_count(ctx->service, limited);

    if (gmcf->limit_alert == 0
        || ngx_current_msec - gmcf->limit_alert
           >= NGX_HTTP_GATEWAY_LIMIT_ALERT_EVERY)
    {
        gmcf->limit_alert = ngx_current_msec ? ngx_current_msec : 1;

        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "gateway zone \"%V\" is full: the rate limit of "
                      "service \"%V\" cannot track another key",
                      &gmcf->shm_zone->shm.name, &ctx->service->name);
    }

    ngx_str_set(&detail, "The gateway cannot track this rate limit now.");

    return ngx_http_gateway_send_problem_status(r,
               NGX_HTTP_GATEWAY_PROBLEM_RATE_LIMITED,
               ctx->service->limit.status, &detail);
}


/* rate_limit RATE [burst=N] [per=consumer|ip|service] [status=N] [dry_run] */

char *
ngx_http_gateway_rate_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_int_t                       n;
    ngx_str_t                      *value, err, s;
    ngx_uint_t                      i, j;
    ngx_http_gateway_limit_conf_t  *lc;

    lc = (ngx_http_gateway_limit_conf_t *) (p + cmd->offset);

    if (lc->rate) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_http_gateway_parse_rate(&value[1], &lc->rate, &err) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid rate \"%V\": %V", &value[1], &err);
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (n == NGX_ERROR || n > NGX_HTTP_GATEWAY_RATE_MAX) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid burst value \"%V\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            lc->burst = n;
            continue;
        }

        if (ngx_strncmp(value[i].data, "per=", 4) == 0) {
            s.data = value[i].data + 4;
            s.len = value[i].len - 4;

            for (j = 0; j < 3; j++) {
                if (s.len == ngx_http_gateway_limit_per[j].len
                    && ngx_strncmp(s.data, ngx_http_gateway_limit_per[j].data,
                                   s.len)
                       == 0)
                {
                    break;
                }
            }

            if (j == 3) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"per\" value \"%V\": "
                                   "\"consumer\", \"ip\" or \"service\"",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            lc->per = j;
            continue;
        }

        if (ngx_strncmp(value[i].data, "status=", 7) == 0) {
            n = ngx_atoi(value[i].data + 7, value[i].len - 7);

            if (n < 400 || n > 599) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid status \"%V\": 400 to 599",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            lc->status = n;
            continue;
        }

        if (ngx_strcmp(value[i].data, "dry_run") == 0) {
            lc->dry_run = 1;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


void
ngx_http_gateway_rate_limit_create(ngx_http_gateway_limit_conf_t *lc)
{
    lc->per = NGX_CONF_UNSET_UINT;
    lc->status = NGX_CONF_UNSET_UINT;
}


/* after "auth" is settled: per=consumer needs callers with names */

ngx_int_t
ngx_http_gateway_rate_limit_init(ngx_conf_t *cf,
    ngx_http_gateway_service_t *s)
{
    ngx_http_gateway_limit_conf_t  *lc;

    lc = &s->limit;

    ngx_conf_init_uint_value(lc->status, NGX_HTTP_TOO_MANY_REQUESTS);

    if (lc->per == NGX_CONF_UNSET_UINT) {
        lc->per = (s->auth.modes == NGX_HTTP_GATEWAY_AUTH_OFF)
                  ? NGX_HTTP_GATEWAY_LIMIT_PER_IP
                  : NGX_HTTP_GATEWAY_LIMIT_PER_CONSUMER;
    }

    if (lc->rate && lc->per == NGX_HTTP_GATEWAY_LIMIT_PER_CONSUMER
        && s->auth.modes == NGX_HTTP_GATEWAY_AUTH_OFF)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"rate_limit ... per=consumer\" of gateway service "
                      "\"%V\" in %s:%ui needs authentication, but the "
                      "service has \"auth off\"", &s->name, s->file,
                      s->line);
        return NGX_ERROR;
    }

    return NGX_OK;
}
