
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
    ngx_http_gateway_ctx_t *ctx, ngx_http_gateway_limit_check_t *lk);
static ngx_int_t ngx_http_gateway_limit_headers(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_http_gateway_limit_check_t *lk);
static ngx_int_t ngx_http_gateway_limit_field(ngx_http_request_t *r,
    char *name, ngx_str_t *service, ngx_uint_t number, u_char a,
    ngx_uint_t a_value, u_char b, ngx_uint_t b_value);
static ngx_int_t ngx_http_gateway_limit_refuse(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_http_gateway_limit_check_t *lk);
static ngx_int_t ngx_http_gateway_limit_full(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_http_gateway_limit_check_t *lk);


static ngx_str_t  ngx_http_gateway_limit_per[] = {
    ngx_string("consumer"),
    ngx_string("ip"),
    ngx_string("service")
};


/*
 * Charges the request to the bucket of each "rate_limit" line of its
 * service, in three steps, so that the admission (see
 * ngx_http_gateway_breaker.c) does the breaker's check, the limit and
 * the breaker's admission in one hold of the zone's lock: the keys, in
 * the request's pool, before the lock; the decision, under it; then the
 * RateLimit headers, or the refusal.  A refused request is charged to
 * no bucket, and requests refused earlier (routing, authentication, an
 * open breaker) never get here.
 */

ngx_int_t
ngx_http_gateway_rate_limit_prepare(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_http_gateway_limits_t *lim)
{
    ngx_int_t                        rc;
    ngx_uint_t                       i, n, own_number;
    ngx_http_gateway_service_t      *s;
    ngx_gateway_consumer_t          *consumer;
    ngx_http_gateway_limit_conf_t   *lc, *own;
    ngx_http_gateway_limit_check_t  *lk;

    s = ctx->service;
    lc = s->limits.elts;
    consumer = ctx->consumer_entry;
    lk = lim->lk;
    own = &lim->own;
    n = 0;

    /*
     * A consumer's own limit replaces the service's per=consumer lines,
     * as one line with the number, status and dry_run of the first it
     * replaces.
     */

    own->rate = 0;
    own_number = s->limits.nelts + 1;

    if (consumer && consumer->rate) {
        own->rate = consumer->rate;
        own->burst = consumer->burst;
        own->per = NGX_HTTP_GATEWAY_LIMIT_PER_CONSUMER;
        own->status = NGX_HTTP_TOO_MANY_REQUESTS;
        own->dry_run = 0;
        own->cluster = 0;

        for (i = s->limits.nelts; i; i--) {
            if (lc[i - 1].per == NGX_HTTP_GATEWAY_LIMIT_PER_CONSUMER) {
                own->status = lc[i - 1].status;
                own->dry_run = lc[i - 1].dry_run;
                own->cluster = lc[i - 1].cluster;
                own->sync = lc[i - 1].sync;
                own->on_error = lc[i - 1].on_error;
                own_number = i;
            }
        }
    }

    for (i = 0; i < s->limits.nelts; i++) {
        if (own->rate && lc[i].per == NGX_HTTP_GATEWAY_LIMIT_PER_CONSUMER) {
            continue;
        }

        lk[n].lc = &lc[i];
        lk[n].number = i + 1;
        n++;
    }

    if (own->rate) {
        lk[n].lc = own;
        lk[n].number = own_number;
        n++;
    }

    lim->n = n;
    lim->refused = n;
    lim->full = n;

    for (i = 0; i < n; i++) {
        rc = ngx_http_gateway_limit_key(r, ctx, &lk[i]);

        if (rc != NGX_OK) {
            return rc;
        }
    }

    return NGX_OK;
}


/*
 * The zone's mutex held.  Each entry is pinned, so that a later line's
 * lookup keeps it.
 */

void
ngx_http_gateway_rate_limit_take(ngx_http_request_t *r,
    ngx_http_gateway_zone_t *zone, ngx_http_gateway_ctx_t *ctx,
    ngx_http_gateway_limits_t *lim)
{
    ngx_uint_t                       i, n, created, admitted;
    ngx_http_gateway_limit_check_t  *lk;

    n = lim->n;
    lk = lim->lk;

    for (i = 0; i < n; i++) {

        if (lk[i].lc->cluster) {
            ngx_http_gateway_cluster_take(zone, &lk[i]);

            if (!lk[i].decided) {
                lim->full = i;
                break;
            }

            goto decided;
        }

        lk[i].bucket = ngx_gateway_limit_lookup(zone->shpool,
                                                &zone->sh->limits,
                                                &lk[i].key,
                                                ngx_current_msec,
                                                lk[i].lc->rate,
                                                &created);
        if (lk[i].bucket == NULL) {
            lim->full = i;
            break;
        }

        ngx_gateway_limit_pin(lk[i].bucket, 1);

        /* decided on a copy: a refusal by a later line charges none */

        lk[i].taken = *lk[i].bucket;
        lk[i].rc = ngx_gateway_bucket_take(&lk[i].taken, lk[i].lc->rate,
                                           lk[i].lc->burst,
                                           ngx_current_msec,
                                           &lk[i].remaining,
                                           &lk[i].reset, &lk[i].retry);

    decided:

        ngx_log_debug5(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "gateway rate limit %ui of \"%V\" per %V: %s, "
                       "remaining %ui", lk[i].number, &ctx->service->name,
                       &ngx_http_gateway_limit_per[lk[i].lc->per],
                       lk[i].rc == NGX_OK ? "admitted" : "refused",
                       lk[i].remaining);

        if (lk[i].rc != NGX_OK && !lk[i].lc->dry_run) {
            lim->refused = i;
            i++;
            break;
        }
    }

    /* i entries are pinned: all admitted, or one refused, or one missing */

    admitted = (lim->full == n && lim->refused == n);

    while (i--) {

        if (lk[i].lc->cluster) {
            ngx_http_gateway_cluster_commit(zone, ctx->service, &lk[i],
                                            admitted && lk[i].rc == NGX_OK);
            continue;
        }

        if (admitted && lk[i].rc == NGX_OK) {
            *lk[i].bucket = lk[i].taken;
        }

        ngx_gateway_limit_pin(lk[i].bucket, 0);
    }
}


/*
 * After the lock: NGX_OK when all lines admitted the request (RateLimit
 * headers set), NGX_DONE when one refused and the refusal is answered.
 */

ngx_int_t
ngx_http_gateway_rate_limit_answer(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_http_gateway_limits_t *lim)
{
    ngx_str_t                        value;
    ngx_uint_t                       i, n, refused, closest;
    ngx_http_gateway_limit_check_t  *lk;

    n = lim->n;
    lk = lim->lk;
    refused = lim->refused;

    if (n == 0) {
        return NGX_OK;
    }

    if (lim->full != n) {
        return ngx_http_gateway_limit_full(r, gmcf, ctx, &lk[lim->full]);
    }

    /* the headers report the line closest to refusing, or the refusal */

    closest = refused;

    if (closest == n) {
        closest = 0;

        for (i = 1; i < n; i++) {
            if (lk[i].remaining < lk[closest].remaining) {
                closest = i;
            }
        }
    }

    if (ngx_http_gateway_limit_headers(r, ctx, &lk[closest]) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* before a refusal: its headers may name the variable */

    value.data = ngx_pnalloc(r->pool, NGX_INT_T_LEN);
    if (value.data == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    value.len = ngx_http_gateway_uint(value.data, lk[closest].remaining)
                - value.data;
    ngx_http_gateway_set_variable(r, gmcf->remaining_index, &value);

    for (i = 0; i < n && i <= refused; i++) {
        if (lk[i].rc != NGX_OK && lk[i].lc->dry_run) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "gateway: rate limit exceeded for service \"%V\", "
                          "dry run: not refused", &ctx->service->name);
        }
    }

    if (refused == n) {
        return NGX_OK;
    }

    return ngx_http_gateway_limit_refuse(r, ctx, &lk[refused]);
}


/*
 * The bucket's key: the service (never shared between services, even
 * with equal settings), the line, then whom it counts: a consumer of the
 * consumers file by its id ("c"), a token's caller by issuer and subject
 * ("j": never the same bucket as a consumer of that name), the client
 * address ("i": also for per=consumer when a token has no subject), or
 * nobody ("s").  Never logged: it holds the caller's identity.
 */

static ngx_int_t
ngx_http_gateway_limit_key(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_http_gateway_limit_check_t *lk)
{
    u_char               *p;
    size_t                len;
    ngx_str_t             id, id2, who;
    ngx_uint_t            kind;
    struct sockaddr_in   *sin;
#if (NGX_HAVE_INET6)
    struct sockaddr_in6  *sin6;
#endif

    ngx_str_null(&id);
    ngx_str_null(&id2);
    kind = 's';

    if (lk->lc->per == NGX_HTTP_GATEWAY_LIMIT_PER_CONSUMER) {

        if (ctx->consumer_entry) {
            id = ctx->consumer_entry->id;
            kind = 'c';

        } else if (ctx->subject.len) {
            id = ctx->issuer;
            id2 = ctx->subject;
            kind = 'j';

        } else {
            kind = 'i';
        }

    } else if (lk->lc->per == NGX_HTTP_GATEWAY_LIMIT_PER_IP) {
        kind = 'i';
    }

    if (kind == 'i') {

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
    }

    /* "\n" cannot be in an issuer or a subject: they have no controls */

    /* at most 2 * 1024 bytes of identity: authentication saw to it */

    len = 2 * NGX_INT_T_LEN + sizeof("::c::") - 1 + id.len + id2.len;

    if (len > NGX_GATEWAY_LIMIT_KEY_MAX) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    lk->key.data = p;
    p = ngx_http_gateway_uint(p, ctx->service->index);
    *p++ = ':';
    p = ngx_http_gateway_uint(p, lk->number);
    *p++ = ':';
    who.data = p;
    *p++ = (u_char) kind;
    *p++ = ':';
    p = ngx_cpymem(p, id.data, id.len);

    if (kind == 'j') {
        *p++ = '\n';
        p = ngx_cpymem(p, id2.data, id2.len);
    }

    lk->key.len = p - lk->key.data;

    if (lk->lc->cluster) {
        who.len = p - who.data;

        if (ngx_http_gateway_cluster_key(r,
                ngx_http_get_module_main_conf(r, ngx_http_gateway_module),
                ctx, lk, &who)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * draft-ietf-httpapi-ratelimit-headers-11: the policy in the configured
 * unit and what is left of it now.  q counts what a caller may send in
 * w seconds from a full allowance: the rate's share of w and the burst,
 * so that r never exceeds q.  A policy is named by its service, and by
 * "-N" for the N-th "rate_limit" line from the second on.
 */

static ngx_int_t
ngx_http_gateway_limit_headers(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_http_gateway_limit_check_t *lk)
{
    ngx_uint_t  rate, quota, window;

    rate = lk->lc->rate;

    /* 1 r/s is 1000; a rate that is no whole number a second is a minute's */

    if (rate % 1000 == 0) {
        quota = rate / 1000;
        window = 1;

    } else {
        quota = (rate * 60 + 500) / 1000;
        window = 60;
    }

    if (ngx_http_gateway_limit_field(r, "RateLimit-Policy",
                                     &ctx->service->name, lk->number,
                                     'q', quota + lk->lc->burst, 'w', window)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_gateway_limit_field(r, "RateLimit", &ctx->service->name,
                                        lk->number, 'r', lk->remaining,
                                        't', (lk->reset + 999) / 1000);
}


/* name: "service[-N]";a=1;b=2 */

static ngx_int_t
ngx_http_gateway_limit_field(ngx_http_request_t *r, char *name,
    ngx_str_t *service, ngx_uint_t number, u_char a, ngx_uint_t a_value,
    u_char b, ngx_uint_t b_value)
{
    u_char           *p;
    ngx_table_elt_t  *h;

    h = ngx_http_gateway_add_header(r, name, sizeof("\"-\";a=;b=") - 1
                                             + service->len
                                             + 3 * NGX_INT_T_LEN);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = h->value.data;
    *p++ = '"';
    p = ngx_cpymem(p, service->data, service->len);

    if (number > 1) {
        *p++ = '-';
        p = ngx_http_gateway_uint(p, number);
    }

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
    ngx_http_gateway_ctx_t *ctx, ngx_http_gateway_limit_check_t *lk)
{
    ngx_str_t  detail;

    ngx_http_gateway_count(ctx->service, limited);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gateway: rate limit exceeded for service \"%V\"",
                  &ctx->service->name);

    if (ngx_http_gateway_retry_after(r, lk->retry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&detail, "The rate limit of this service is exceeded; "
                         "retry after the time the Retry-After header says.");

    return ngx_http_gateway_send_problem_status(r,
               NGX_HTTP_GATEWAY_PROBLEM_RATE_LIMITED, lk->lc->status,
               &detail);
}


/*
 * Even evicting the least recently used keys left no room: refuse with
 * the configured status rather than admit unlimited, and say so once.
 */

static ngx_int_t
ngx_http_gateway_limit_full(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_http_gateway_limit_check_t *lk)
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
               NGX_HTTP_GATEWAY_PROBLEM_RATE_LIMITED, lk->lc->status,
               &detail);
}


/* rate_limit RATE [burst=N] [per=consumer|ip|service] [status=N] [dry_run] */

char *
ngx_http_gateway_rate_limit(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_service_t *service = conf;

    ngx_int_t                       n;
    ngx_str_t                      *value, err, s;
    ngx_uint_t                      i, j;
    ngx_http_gateway_limit_conf_t  *lc;

    if (service->limits.nelts == NGX_HTTP_GATEWAY_LIMITS_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "more than %d \"rate_limit\" lines in gateway "
                           "service \"%V\"", NGX_HTTP_GATEWAY_LIMITS_MAX,
                           &service->name);
        return NGX_CONF_ERROR;
    }

    lc = ngx_array_push(&service->limits);
    if (lc == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(lc, sizeof(ngx_http_gateway_limit_conf_t));
    lc->per = NGX_CONF_UNSET_UINT;
    lc->status = NGX_CONF_UNSET_UINT;
    lc->sync = NGX_CONF_UNSET_MSEC;
    lc->on_error = NGX_CONF_UNSET_UINT;

    value = cf->args->elts;

    if (ngx_gateway_parse_rate(&value[1], &lc->rate, &err) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid rate \"%V\": %V", &value[1], &err);
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "burst=", 6) == 0) {
            n = ngx_atoi(value[i].data + 6, value[i].len - 6);

            if (n == NGX_ERROR || n > NGX_GATEWAY_RATE_MAX) {
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

        if (ngx_strcmp(value[i].data, "scope=local") == 0) {
            lc->cluster = 0;
            continue;
        }

        if (ngx_strcmp(value[i].data, "scope=cluster") == 0) {
            lc->cluster = 1;
            continue;
        }

        if (ngx_strncmp(value[i].data, "sync=", 5) == 0) {
            s.data = value[i].data + 5;
            s.len = value[i].len - 5;

            if (s.len == 6 && ngx_strncmp(s.data, "strict", 6) == 0) {
                lc->sync = 0;
                continue;
            }

            lc->sync = ngx_parse_time(&s, 0);

            if (lc->sync == (ngx_msec_t) NGX_ERROR || lc->sync < 10
                || lc->sync > 60000)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"sync\" value \"%V\": "
                                   "\"strict\" or 10ms to 60s", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "on_store_error=", 15) == 0) {
            s.data = value[i].data + 15;
            s.len = value[i].len - 15;

            if (s.len == 5 && ngx_strncmp(s.data, "local", 5) == 0) {
                lc->on_error = NGX_GATEWAY_CLUSTER_LOCAL;

            } else if (s.len == 4 && ngx_strncmp(s.data, "open", 4) == 0) {
                lc->on_error = NGX_GATEWAY_CLUSTER_OPEN;

            } else if (s.len == 6 && ngx_strncmp(s.data, "closed", 6) == 0) {
                lc->on_error = NGX_GATEWAY_CLUSTER_CLOSED;

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid \"on_store_error\" value "
                                   "\"%V\": \"local\", \"open\" or "
                                   "\"closed\"", &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    if (!lc->cluster
        && (lc->sync != NGX_CONF_UNSET_MSEC
            || lc->on_error != NGX_CONF_UNSET_UINT))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sync\" and \"on_store_error\" need "
                           "\"scope=cluster\"");
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_msec_value(lc->sync, 100);
    ngx_conf_init_uint_value(lc->on_error, NGX_GATEWAY_CLUSTER_LOCAL);

    return NGX_CONF_OK;
}


/* after "auth" is settled: per=consumer needs callers with names */

ngx_int_t
ngx_http_gateway_rate_limit_init(ngx_conf_t *cf,
    ngx_http_gateway_service_t *s)
{
    ngx_uint_t                      i;
    ngx_http_gateway_limit_conf_t  *lc;

    lc = s->limits.elts;

    for (i = 0; i < s->limits.nelts; i++) {
        ngx_conf_init_uint_value(lc[i].status, NGX_HTTP_TOO_MANY_REQUESTS);

        if (lc[i].per == NGX_CONF_UNSET_UINT) {
            lc[i].per = (s->auth.modes == NGX_HTTP_GATEWAY_AUTH_OFF)
                        ? NGX_HTTP_GATEWAY_LIMIT_PER_IP
                        : NGX_HTTP_GATEWAY_LIMIT_PER_CONSUMER;
        }

        if (lc[i].per == NGX_HTTP_GATEWAY_LIMIT_PER_CONSUMER
            && s->auth.modes == NGX_HTTP_GATEWAY_AUTH_OFF)
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"rate_limit ... per=consumer\" of gateway "
                          "service \"%V\" in %s:%ui needs authentication, "
                          "but the service has \"auth off\"", &s->name,
                          s->file, s->line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}
