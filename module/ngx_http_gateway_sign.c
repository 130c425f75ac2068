
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include <openssl/evp.h>
#include "ngx_http_gateway_module.h"
#include "ngx_http_gateway_sign.h"


/*
 * Calls to private functions, signed: every attempt (a retry too) gets
 * its own SigV4 Authorization, X-Amz-Date, X-Amz-Content-Sha256 and, for
 * temporary keys, X-Amz-Security-Token, computed over what the proxy
 * will send: the method, the target's path and query, the Host of the
 * endpoint and the SHA-256 of the buffered request body; or a Google ID
 * token as a bearer token.  The client's own copies of these headers
 * were removed with the gateway's others (the service's drop list).
 * Without credentials the request gets 503 and Retry-After; it is never
 * sent unsigned.
 *
 * AWS keys from the environment (read at the first request; nginx
 * passes only what "env" directives name) or from a shared credentials
 * file (read at configuration, and again, at most once a second, when
 * its inode, size or time changes; a file that becomes unreadable or
 * malformed keeps the last good keys, and the error shows in
 * gateway_status) are each worker's own.  Keys from the IMDS and Google
 * ID tokens are fetched in the background for all workers
 * (ngx_http_gateway_sign_refresh.c).
 */


#define NGX_HTTP_GATEWAY_SIGN_FILE_MAX   65536
#define NGX_HTTP_GATEWAY_SIGN_CHUNK      65536


static ngx_int_t ngx_http_gateway_sign_available(ngx_http_request_t *r,
    ngx_http_gateway_sign_t *sc);
static void ngx_http_gateway_sign_env(ngx_log_t *log,
    ngx_http_gateway_sign_t *sc);
static void ngx_http_gateway_sign_check_file(ngx_log_t *log,
    ngx_http_gateway_sign_t *sc);
static ngx_int_t ngx_http_gateway_sign_read(ngx_conf_t *cf,
    ngx_http_gateway_sign_t *sc);
static ngx_int_t ngx_http_gateway_sign_load(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_gateway_sign_t *sc, ngx_str_t *err);
static ngx_int_t ngx_http_gateway_sign_slurp(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_gateway_sign_t *sc, ngx_str_t *text, ngx_str_t *err);
static ngx_int_t ngx_http_gateway_sign_gcp(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx);
static void ngx_http_gateway_sign_error(ngx_http_gateway_sign_t *sc,
    char *fmt, ...);
static ngx_int_t ngx_http_gateway_sign_refuse(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx);
static ngx_int_t ngx_http_gateway_sign_request(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx);
static void ngx_http_gateway_sign_body(ngx_http_request_t *r);
static ngx_int_t ngx_http_gateway_sign_attempt(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx);
static ngx_int_t ngx_http_gateway_sign_hash_body(ngx_http_request_t *r,
    ngx_str_t *hex);
static ngx_int_t ngx_http_gateway_sign_aws(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx);
static ngx_uint_t ngx_http_gateway_sign_own(ngx_table_elt_t *h,
    void *data);


/*
 * The request headers signing sets, as NGX_HTTP_GATEWAY_SIGN_DATE and the
 * others number them: the client's are never passed on.
 */

static ngx_str_t  ngx_http_gateway_sign_headers[] = {
    ngx_string("X-Amz-Date"),
    ngx_string("X-Amz-Content-Sha256"),
    ngx_string("X-Amz-Security-Token"),
    ngx_string("Authorization")
};


/*
 * sign aws_sigv4 region=R [service=lambda] [credentials=env|file:PATH|imds]
 *     [profile=NAME] [payload=signed|unsigned] [imds_endpoint=URL];
 * sign gcp_id_token [audience=URL] [source=metadata|file:PATH]
 *     [metadata_endpoint=URL];
 */

char *
ngx_http_gateway_sign_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gateway_service_t *s = conf;

    char                     *why;
    u_char                   *p;
    ngx_str_t                *value, v;
    ngx_uint_t                i, aws;
    ngx_http_gateway_sign_t  *sc;

    if (s->sign) {
        return "is duplicate";
    }

    value = cf->args->elts;

    sc = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_sign_t));
    if (sc == NULL) {
        return NGX_CONF_ERROR;
    }

    if (ngx_strcmp(value[1].data, "aws_sigv4") == 0) {
        sc->type = NGX_HTTP_GATEWAY_SIGN_AWS;
        sc->source = NGX_HTTP_GATEWAY_CREDS_ENV;
        ngx_str_set(&sc->service, "lambda");
        ngx_str_set(&sc->profile, "default");
        ngx_str_set(&sc->endpoint, "http://169.254.169.254");

    } else if (ngx_strcmp(value[1].data, "gcp_id_token") == 0) {
        sc->type = NGX_HTTP_GATEWAY_SIGN_GCP;
        sc->source = NGX_HTTP_GATEWAY_CREDS_METADATA;
        ngx_str_set(&sc->endpoint, "http://169.254.169.254");

    } else {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid signing scheme \"%V\": aws_sigv4 or "
                           "gcp_id_token", &value[1]);
        return NGX_CONF_ERROR;
    }

    aws = (sc->type == NGX_HTTP_GATEWAY_SIGN_AWS);

    for (i = 2; i < cf->args->nelts; i++) {

        if (aws
            && (ngx_strncmp(value[i].data, "region=", 7) == 0
                || ngx_strncmp(value[i].data, "service=", 8) == 0))
        {
            p = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');
            v.data = p + 1;
            v.len = value[i].data + value[i].len - v.data;

            if (v.len == 0 || v.len > 64) {
                why = "a name of 1 to 64 characters";
                goto invalid;
            }

            for (p = v.data; p < v.data + v.len; p++) {
                if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9')
                      || *p == '-'))
                {
                    why = "lower case letters, digits and \"-\" only";
                    goto invalid;
                }
            }

            if (value[i].data[0] == 'r') {
                sc->region = v;

            } else {
                sc->service = v;
            }

            continue;
        }

        if (aws && ngx_strcmp(value[i].data, "credentials=env") == 0) {
            sc->source = NGX_HTTP_GATEWAY_CREDS_ENV;
            continue;
        }

        if (aws && ngx_strcmp(value[i].data, "credentials=imds") == 0) {
            sc->source = NGX_HTTP_GATEWAY_CREDS_IMDS;
            continue;
        }

        if (aws && ngx_strncmp(value[i].data, "credentials=file:", 17) == 0
            && value[i].len > 17)
        {
            sc->source = NGX_HTTP_GATEWAY_CREDS_FILE;
            sc->file.data = value[i].data + 17;
            sc->file.len = value[i].len - 17;
            continue;
        }

        if (aws && ngx_strncmp(value[i].data, "profile=", 8) == 0
            && value[i].len > 8)
        {
            sc->profile.data = value[i].data + 8;
            sc->profile.len = value[i].len - 8;
            continue;
        }

        if (aws && ngx_strcmp(value[i].data, "payload=signed") == 0) {
            sc->unsigned_payload = 0;
            continue;
        }

        if (aws && ngx_strcmp(value[i].data, "payload=unsigned") == 0) {
            sc->unsigned_payload = 1;
            continue;
        }

        if (!aws && ngx_strcmp(value[i].data, "source=metadata") == 0) {
            sc->source = NGX_HTTP_GATEWAY_CREDS_METADATA;
            continue;
        }

        if (!aws && ngx_strncmp(value[i].data, "source=file:", 12) == 0
            && value[i].len > 12)
        {
            sc->source = NGX_HTTP_GATEWAY_CREDS_KEY;
            sc->file.data = value[i].data + 12;
            sc->file.len = value[i].len - 12;
            continue;
        }

        if (!aws && ngx_strncmp(value[i].data, "audience=", 9) == 0) {
            v.data = value[i].data + 9;
            v.len = value[i].len - 9;

            if (v.len == 0 || v.len > 2048
                || ngx_gateway_aws_credential_valid(&v) != NGX_OK)
            {
                why = "a URL, without spaces";
                goto invalid;
            }

            sc->audience = v;
            continue;
        }

        if ((aws && ngx_strncmp(value[i].data, "imds_endpoint=", 14) == 0)
            || (!aws
                && ngx_strncmp(value[i].data, "metadata_endpoint=", 18) == 0))
        {
            p = ngx_strlchr(value[i].data, value[i].data + value[i].len, '=');
            v.data = p + 1;
            v.len = value[i].data + value[i].len - v.data;

            while (v.len && v.data[v.len - 1] == '/') {
                v.len--;
            }

            if (v.len < 8 || ngx_strncmp(v.data, "http://", 7) != 0
                || ngx_gateway_aws_credential_valid(&v) != NGX_OK)
            {
                why = "an http:// URL";
                goto invalid;
            }

            sc->endpoint = v;
            continue;
        }

        why = "no such parameter";
        goto invalid;
    }

    if (aws && sc->region.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"sign aws_sigv4\" of gateway service \"%V\" "
                           "needs region=", &s->name);
        return NGX_CONF_ERROR;
    }

    /* read now: a wrong path or a broken file is a configuration error */

    if (sc->file.len && ngx_http_gateway_sign_read(cf, sc) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    sc->service_name = &s->name;
    s->sign = sc;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid sign parameter \"%V\": %s", &value[i], why);

    return NGX_CONF_ERROR;
}


static ngx_int_t
ngx_http_gateway_sign_read(ngx_conf_t *cf, ngx_http_gateway_sign_t *sc)
{
    ngx_str_t  err, text;

    if (ngx_conf_full_name(cf->cycle, &sc->file, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    if (sc->source == NGX_HTTP_GATEWAY_CREDS_FILE) {

        if (ngx_http_gateway_sign_load(cf->pool, cf->log, sc, &err)
            != NGX_OK)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid AWS credentials file \"%V\", "
                               "profile \"%V\": %V",
                               &sc->file, &sc->profile, &err);
            return NGX_ERROR;
        }

        sc->error_len = 0;

        return NGX_OK;
    }

    /* a service account's key, for Google's token endpoint */

    if (ngx_http_gateway_sign_slurp(cf->pool, cf->log, sc, &text, &err)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid service account key file \"%V\": %V",
                           &sc->file, &err);
        return NGX_ERROR;
    }

    switch (ngx_gateway_gcp_key_parse(cf->pool, &text, &sc->key_file, &err)) {

    case NGX_OK:
        break;

    case NGX_DECLINED:
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid service account key file \"%V\": %V",
                           &sc->file, &err);
        /* fall through */

    default:
        ngx_explicit_memzero(text.data, text.len);
        return NGX_ERROR;
    }

    /* the private key is in its EVP_PKEY now */
    ngx_explicit_memzero(text.data, text.len);

    return NGX_OK;
}


/*
 * After the http block and the services' authentication: the Host the
 * proxy sends ($proxy_host: the port only when not the scheme's own),
 * and the client's Authorization (and X-Amz-*, for SigV4) on the
 * service's drop list.
 */

ngx_int_t
ngx_http_gateway_sign_init(ngx_conf_t *cf, ngx_http_gateway_main_conf_t *gmcf)
{
    size_t                        len;
    ngx_str_t                    *d, *authority;
    ngx_uint_t                    i, j;
    ngx_http_gateway_sign_t      *sc;
    ngx_http_gateway_service_t  **s;

    s = gmcf->services.elts;

    for (i = 0; i < gmcf->services.nelts; i++) {
        sc = s[i]->sign;

        if (sc == NULL) {
            continue;
        }

        authority = &s[i]->endpoint.authority;
        sc->host = *authority;
        len = s[i]->endpoint.ssl ? 4 : 3;

        if (authority->len > len
            && ngx_strncmp(authority->data + authority->len - len,
                           (s[i]->endpoint.ssl ? ":443" : ":80"), len)
               == 0)
        {
            sc->host.len -= len;
        }

        if (sc->type == NGX_HTTP_GATEWAY_SIGN_GCP && sc->audience.len == 0) {
            /* the function's URL: Cloud Run's own audience */
            sc->audience.len = s[i]->endpoint.scheme.len + sc->host.len;
            sc->audience.data = ngx_pnalloc(cf->pool, sc->audience.len);
            if (sc->audience.data == NULL) {
                return NGX_ERROR;
            }

            ngx_memcpy(ngx_cpymem(sc->audience.data,
                                  s[i]->endpoint.scheme.data,
                                  s[i]->endpoint.scheme.len),
                       sc->host.data, sc->host.len);
        }

        if (ngx_http_gateway_sign_refresh_init(cf, sc) != NGX_OK) {
            return NGX_ERROR;
        }

        for (j = 0; j < NGX_HTTP_GATEWAY_SIGN_HEADERS; j++) {
            if (ngx_http_gateway_header_init(cf->pool, &sc->headers[j],
                                             &ngx_http_gateway_sign_headers[j])
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }

        d = ngx_array_push(&s[i]->auth.drop);
        if (d == NULL) {
            return NGX_ERROR;
        }

        *d = sc->headers[NGX_HTTP_GATEWAY_SIGN_AUTHORIZATION].lowcase;

        if (sc->type == NGX_HTTP_GATEWAY_SIGN_AWS) {
            /*
             * the signing headers, and X-Amz-Invocation-Type, -Log-Type,
             * ...: the gateway's call
             */
            ngx_str_set(&s[i]->auth.drop_prefix, "x-amz-");
        }
    }

    return NGX_OK;
}


/*
 * After authentication, before admission: a request that cannot be
 * signed is refused before it takes a share of any limit.
 */

ngx_int_t
ngx_http_gateway_sign_ready(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx)
{
    if (ctx->service->sign == NULL
        || ngx_http_gateway_sign_available(r, ctx->service->sign) == NGX_OK)
    {
        return NGX_OK;
    }

    return ngx_http_gateway_sign_refuse(r, ctx);
}


/*
 * The first attempt: the body is read first when its hash is signed,
 * and the phases go on from the body handler.  NGX_DECLINED: signed.
 */

static ngx_int_t
ngx_http_gateway_sign_request(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_http_gateway_sign_t  *sc;

    sc = ctx->service->sign;

    ctx->sign = ngx_pcalloc(r->pool, sizeof(ngx_http_gateway_sign_ctx_t));
    if (ctx->sign == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * Signed at once: no body to hash, none announced (HTTP/2 and 3 may
     * send one unannounced), or one read already (for a bulkhead's slot)
     */

    if (sc->type == NGX_HTTP_GATEWAY_SIGN_GCP || sc->unsigned_payload
        || r->request_body != NULL
        || r->headers_in.content_length_n == 0
        || (r->headers_in.content_length_n < 0 && !r->headers_in.chunked
            && r->http_version < NGX_HTTP_VERSION_20))
    {
        return ngx_http_gateway_sign_attempt(r, ctx);
    }

    rc = ngx_http_read_client_request_body(r, ngx_http_gateway_sign_body);

    if (rc >= NGX_HTTP_SPECIAL_RESPONSE) {
        return rc;
    }

    /* drops the reference the body reading took */
    ngx_http_finalize_request(r, NGX_DONE);

    return NGX_DONE;
}


static void
ngx_http_gateway_sign_body(ngx_http_request_t *r)
{
    ngx_int_t                rc;
    ngx_http_gateway_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gateway_module);

    rc = ngx_http_gateway_sign_attempt(r, ctx);

    if (rc == NGX_DONE) {
        return;
    }

    if (rc != NGX_DECLINED) {
        ngx_http_finalize_request(r, rc);
        return;
    }

    /* the gateway's handler declines now that the context is set */

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);
}


/*
 * Each attempt is signed once, with its own date, when it may go: after
 * its slot (a queued request waits for one first) and, for the first
 * attempt, after the body is read to be hashed.  NGX_DECLINED: signed,
 * or nothing to sign; on to the proxy.
 */

ngx_int_t
ngx_http_gateway_sign_pending(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx)
{
    if (ctx->service == NULL || ctx->service->sign == NULL
        || (ctx->sign && ctx->sign->current))
    {
        return NGX_DECLINED;
    }

    if (ctx->sign == NULL) {
        return ngx_http_gateway_sign_request(r, ctx);
    }

    return ngx_http_gateway_sign_attempt(r, ctx);
}


/* a retry, after its backoff: to be signed afresh, with its own date */

void
ngx_http_gateway_sign_next(ngx_http_gateway_ctx_t *ctx)
{
    if (ctx != NULL && ctx->sign != NULL) {
        ctx->sign->current = 0;
    }
}


static ngx_int_t
ngx_http_gateway_sign_attempt(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx)
{
    if (ngx_http_gateway_sign_available(r, ctx->service->sign) != NGX_OK) {
        return ngx_http_gateway_sign_refuse(r, ctx);
    }

    if (ngx_http_gateway_remove_request_headers(r, ngx_http_gateway_sign_own,
                                                ctx->service->sign)
        != NGX_OK
        || (ctx->service->sign->type == NGX_HTTP_GATEWAY_SIGN_AWS
            ? ngx_http_gateway_sign_aws(r, ctx)
            : ngx_http_gateway_sign_gcp(r, ctx))
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->sign->attempts++;
    ctx->sign->current = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "gateway signed attempt %ui of service \"%V\"",
                   ctx->sign->attempts, &ctx->service->name);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_gateway_sign_aws(ngx_http_request_t *r, ngx_http_gateway_ctx_t *ctx)
{
    u_char                        *p, *last, *q;
    ngx_tm_t                       tm;
    ngx_str_t                      auth, date, token;
    ngx_str_t                      v[NGX_HTTP_GATEWAY_SIGN_HEADERS];
    ngx_uint_t                     n, i;
    ngx_http_gateway_sign_t       *sc;
    ngx_http_gateway_sign_ctx_t   *sctx;
    ngx_gateway_sigv4_header_t     h[4];
    ngx_gateway_sigv4_request_t    req;

    sc = ctx->service->sign;
    sctx = ctx->sign;

    if (sctx->payload.len == 0) {

        if (sc->unsigned_payload) {
            ngx_str_set(&sctx->payload, NGX_GATEWAY_SIGV4_UNSIGNED);

        } else if (ngx_http_gateway_sign_hash_body(r, &sctx->payload)
                   != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    date.len = NGX_GATEWAY_SIGV4_DATE_LEN;
    date.data = ngx_pnalloc(r->pool, date.len);
    if (date.data == NULL) {
        return NGX_ERROR;
    }

    ngx_gmtime(ngx_time(), &tm);

    (void) ngx_sprintf(date.data, "%4d%02d%02dT%02d%02d%02dZ",
                       tm.ngx_tm_year, tm.ngx_tm_mon, tm.ngx_tm_mday,
                       tm.ngx_tm_hour, tm.ngx_tm_min, tm.ngx_tm_sec);

    /* the target's path and query: what the proxy puts in its request */

    p = ctx->target.data + ctx->service->endpoint.scheme.len
        + ctx->service->endpoint.authority.len;
    last = ctx->target.data + ctx->target.len;

    q = ngx_strlchr(p, last, '?');

    req.method = r->method_name;
    req.path.data = p;
    req.path.len = (q ? q : last) - p;

    if (q) {
        req.query.data = q + 1;
        req.query.len = last - q - 1;

    } else {
        ngx_str_set(&req.query, "");
    }

    n = 0;

    ngx_str_set(&h[n].name, "host");
    h[n++].value = sc->host;
    ngx_str_set(&h[n].name, "x-amz-content-sha256");
    h[n++].value = sctx->payload;
    ngx_str_set(&h[n].name, "x-amz-date");
    h[n++].value = date;

    if (sc->creds.session_token.len) {
        ngx_str_set(&h[n].name, "x-amz-security-token");
        h[n++].value = sc->creds.session_token;
    }

    req.headers = h;
    req.nheaders = n;
    req.payload = sctx->payload;

    if (ngx_gateway_sigv4_authorization(r->pool, &sc->key, &sc->creds,
                                        &sc->region, &sc->service,
                                        date.data, &req, &auth)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "gateway: signing a call of service \"%V\" failed",
                      &ctx->service->name);
        return NGX_ERROR;
    }

    /* a copy: fetched keys may be replaced while the call is out */

    token.len = sc->creds.session_token.len;
    token.data = ngx_pnalloc(r->pool, token.len);
    if (token.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(token.data, sc->creds.session_token.data, token.len);

    v[NGX_HTTP_GATEWAY_SIGN_DATE] = date;
    v[NGX_HTTP_GATEWAY_SIGN_CONTENT_SHA256] = sctx->payload;
    v[NGX_HTTP_GATEWAY_SIGN_TOKEN] = token;
    v[NGX_HTTP_GATEWAY_SIGN_AUTHORIZATION] = auth;

    for (i = 0; i < NGX_HTTP_GATEWAY_SIGN_HEADERS; i++) {
        if (v[i].len
            && ngx_http_gateway_add_request_header(r, &sc->headers[i], &v[i])
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* Authorization: Bearer, with the ID token this worker has now */

static ngx_int_t
ngx_http_gateway_sign_gcp(ngx_http_request_t *r, ngx_http_gateway_ctx_t *ctx)
{
    u_char                   *p;
    ngx_str_t                 value;
    ngx_http_gateway_sign_t  *sc;

    sc = ctx->service->sign;

    /* a copy: the worker's token may be replaced while the call is out */

    value.len = sizeof("Bearer ") - 1 + sc->token.len;
    value.data = ngx_pnalloc(r->pool, value.len);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_cpymem(value.data, "Bearer ", sizeof("Bearer ") - 1);
    ngx_memcpy(p, sc->token.data, sc->token.len);

    return ngx_http_gateway_add_request_header(r,
                         &sc->headers[NGX_HTTP_GATEWAY_SIGN_AUTHORIZATION],
                         &value);
}


/* the SHA-256 of the request body, in memory or in its temp file */

static ngx_int_t
ngx_http_gateway_sign_hash_body(ngx_http_request_t *r, ngx_str_t *hex)
{
    u_char        *buf, md[EVP_MAX_MD_SIZE];
    off_t          off;
    size_t         size;
    ssize_t        n;
    ngx_int_t      rc;
    ngx_buf_t     *b;
    ngx_chain_t   *cl;
    unsigned int   len;
    EVP_MD_CTX    *mdctx;

    hex->data = ngx_pnalloc(r->pool, NGX_GATEWAY_SHA256_HEX_LEN);
    if (hex->data == NULL) {
        return NGX_ERROR;
    }

    mdctx = EVP_MD_CTX_new();
    if (mdctx == NULL) {
        return NGX_ERROR;
    }

    rc = NGX_ERROR;
    buf = NULL;

    if (EVP_DigestInit_ex(mdctx, EVP_sha256(), NULL) != 1) {
        goto done;
    }

    for (cl = r->request_body ? r->request_body->bufs : NULL;
         cl;
         cl = cl->next)
    {
        b = cl->buf;

        if (!b->in_file) {
            if (b->last > b->pos
                && EVP_DigestUpdate(mdctx, b->pos, b->last - b->pos) != 1)
            {
                goto done;
            }

            continue;
        }

        if (buf == NULL) {
            buf = ngx_alloc(NGX_HTTP_GATEWAY_SIGN_CHUNK, r->connection->log);
            if (buf == NULL) {
                goto done;
            }
        }

        for (off = b->file_pos; off < b->file_last; off += n) {
            size = (size_t) ngx_min(b->file_last - off,
                                    NGX_HTTP_GATEWAY_SIGN_CHUNK);

            n = ngx_read_file(b->file, buf, size, off);

            if (n == NGX_ERROR || n == 0) {
                ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                              "gateway: the request body's temp file "
                              "\"%V\" could not be read to sign it",
                              &b->file->name);
                goto done;
            }

            if (EVP_DigestUpdate(mdctx, buf, n) != 1) {
                goto done;
            }
        }
    }

    if (EVP_DigestFinal_ex(mdctx, md, &len) != 1 || len != 32) {
        goto done;
    }

    ngx_hex_dump(hex->data, md, 32);
    hex->len = NGX_GATEWAY_SHA256_HEX_LEN;

    rc = NGX_OK;

done:

    if (buf) {
        ngx_free(buf);
    }

    EVP_MD_CTX_free(mdctx);

    return rc;
}


/*
 * The signing headers of the attempt before: after a retry's internal
 * redirect the request still has them.
 */

static ngx_uint_t
ngx_http_gateway_sign_own(ngx_table_elt_t *h, void *data)
{
    ngx_http_gateway_sign_t *sc = data;

    ngx_str_t   *name;
    ngx_uint_t   i;

    for (i = 0; i < NGX_HTTP_GATEWAY_SIGN_HEADERS; i++) {
        name = &sc->headers[i].lowcase;

        if (h->key.len == name->len
            && ngx_strncmp(h->lowcase_key, name->data, name->len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


/* NGX_OK when this worker has keys to sign with */

static ngx_int_t
ngx_http_gateway_sign_available(ngx_http_request_t *r,
    ngx_http_gateway_sign_t *sc)
{
    switch (sc->source) {

    case NGX_HTTP_GATEWAY_CREDS_ENV:
        if (!sc->env_tried) {
            ngx_http_gateway_sign_env(r->connection->log, sc);
        }

        break;

    case NGX_HTTP_GATEWAY_CREDS_FILE:
        if (sc->checked != ngx_time()) {
            ngx_http_gateway_sign_check_file(r->connection->log, sc);
        }

        break;

    default:
        return ngx_http_gateway_sign_fetched(sc);
    }

    return sc->have ? NGX_OK : NGX_DECLINED;
}


static void
ngx_http_gateway_sign_env(ngx_log_t *log, ngx_http_gateway_sign_t *sc)
{
    char                           *v;
    ngx_uint_t                      i;
    ngx_str_t                      *field;
    ngx_gateway_aws_credentials_t   creds;

    static char  *names[] = { "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                              "AWS_SESSION_TOKEN" };

    sc->env_tried = 1;

    ngx_memzero(&creds, sizeof(ngx_gateway_aws_credentials_t));

    for (i = 0; i < 3; i++) {
        field = (i == 0) ? &creds.access_key
                         : (i == 1) ? &creds.secret_key : &creds.session_token;

        v = getenv(names[i]);

        if (v == NULL || *v == '\0') {
            if (i == 2) {
                break;
            }

            ngx_http_gateway_sign_error(sc, "%s is not in the workers' "
                                        "environment (an \"env\" directive "
                                        "passes it to them)", names[i]);
            ngx_log_error(NGX_LOG_WARN, log, 0, "gateway: %*s",
                          sc->error_len, sc->error);
            return;
        }

        field->data = (u_char *) v;
        field->len = ngx_strlen(v);

        if (ngx_gateway_aws_credential_valid(field) != NGX_OK
            || (i == 1 && field->len > NGX_GATEWAY_AWS_SECRET_MAX))
        {
            ngx_http_gateway_sign_error(sc, "%s in the environment is not "
                                        "a key", names[i]);
            ngx_log_error(NGX_LOG_WARN, log, 0, "gateway: %*s",
                          sc->error_len, sc->error);
            return;
        }
    }

    creds.generation = sc->creds.generation + 1;
    sc->creds = creds;
    sc->have = 1;
    sc->loaded = ngx_time();
}


/* at most once a second: the file read again when it changed */

static void
ngx_http_gateway_sign_check_file(ngx_log_t *log, ngx_http_gateway_sign_t *sc)
{
    ngx_err_t         err;
    ngx_str_t         why;
    ngx_pool_t       *pool, *old;
    ngx_file_info_t   fi;

    sc->checked = ngx_time();

    if (ngx_file_info(sc->file.data, &fi) == NGX_FILE_ERROR) {
        err = ngx_errno;

        if (sc->mtime != 0) {
            ngx_log_error(NGX_LOG_WARN, log, err,
                          "gateway: AWS credentials file \"%V\": "
                          ngx_file_info_n " failed, the keys read before "
                          "are kept", &sc->file);
        }

        ngx_http_gateway_sign_error(sc, ngx_file_info_n " failed (%d)", err);
        sc->mtime = 0;
        return;
    }

    if (ngx_file_uniq(&fi) == sc->uniq && ngx_file_mtime(&fi) == sc->mtime
        && ngx_file_size(&fi) == sc->size)
    {
        return;
    }

    /* the cycle's log: the request's goes with its connection */

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        return;
    }

    old = sc->pool;

    if (ngx_http_gateway_sign_load(pool, log, sc, &why) != NGX_OK) {
        ngx_log_error(NGX_LOG_WARN, log, 0,
                      "gateway: AWS credentials file \"%V\", profile \"%V\": "
                      "%V; the keys read before are kept",
                      &sc->file, &sc->profile, &why);
        ngx_destroy_pool(pool);
        return;
    }

    sc->pool = pool;

    if (old) {
        ngx_destroy_pool(old);
    }

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "gateway: AWS credentials file \"%V\" read again",
                  &sc->file);
}


/*
 * The file read into the pool; the keys replace those before only when
 * the profile is whole.  What it found on the way is recorded either way,
 * so that a broken file is not read again every second.
 */

static ngx_int_t
ngx_http_gateway_sign_load(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_gateway_sign_t *sc, ngx_str_t *err)
{
    ngx_str_t                       text;
    ngx_gateway_aws_credentials_t   creds;

    if (ngx_http_gateway_sign_slurp(pool, log, sc, &text, err) != NGX_OK
        || ngx_gateway_aws_credentials_file(&text, &sc->profile, &creds, err)
           != NGX_OK)
    {
        ngx_http_gateway_sign_error(sc, "%V", err);
        return NGX_ERROR;
    }

    creds.generation = sc->creds.generation + 1;
    sc->creds = creds;
    sc->have = 1;
    sc->loaded = ngx_time();
    sc->error_len = 0;

    return NGX_OK;
}


/* the whole file, with its identity noted for the checks for changes */

static ngx_int_t
ngx_http_gateway_sign_slurp(ngx_pool_t *pool, ngx_log_t *log,
    ngx_http_gateway_sign_t *sc, ngx_str_t *text, ngx_str_t *err)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    fd = ngx_open_file(sc->file.data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_str_set(err, ngx_open_file_n " failed");
        return NGX_ERROR;
    }

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_close_file(fd);
        ngx_str_set(err, ngx_fd_info_n " failed");
        return NGX_ERROR;
    }

    sc->uniq = ngx_file_uniq(&fi);
    sc->mtime = ngx_file_mtime(&fi);
    sc->size = ngx_file_size(&fi);

    if (sc->size > NGX_HTTP_GATEWAY_SIGN_FILE_MAX) {
        ngx_close_file(fd);
        ngx_str_set(err, "larger than 64k");
        return NGX_ERROR;
    }

    text->len = (size_t) sc->size;
    text->data = ngx_pnalloc(pool, text->len + 1);
    if (text->data == NULL) {
        ngx_close_file(fd);
        ngx_str_set(err, "no memory");
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = sc->file;
    file.log = log;

    n = ngx_read_file(&file, text->data, text->len, 0);

    ngx_close_file(fd);

    if (n == NGX_ERROR || (size_t) n != text->len) {
        ngx_str_set(err, "could not be read");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_gateway_sign_error(ngx_http_gateway_sign_t *sc, char *fmt, ...)
{
    u_char   *p;
    va_list   args;

    va_start(args, fmt);
    p = ngx_vslprintf(sc->error, sc->error + sizeof(sc->error), fmt, args);
    va_end(args);

    sc->error_len = p - sc->error;
    sc->error_time = ngx_time();
}


/* 503, Retry-After: never an unsigned call */

static ngx_int_t
ngx_http_gateway_sign_refuse(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx)
{
    ngx_str_t                 detail;
    ngx_http_gateway_sign_t  *sc;

    sc = ctx->service->sign;

    if (sc->logged != ngx_time()) {
        sc->logged = ngx_time();

        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "gateway: no credentials to sign calls of service "
                      "\"%V\": %*s", &ctx->service->name,
                      sc->error_len, sc->error);
    }

    if (ngx_http_gateway_retry_after(r, ngx_http_gateway_sign_retry_in(sc))
        != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&detail, "The gateway has no credentials to sign the call "
                         "of this function with; it was not called.");

    return ngx_http_gateway_send_problem(r, NGX_HTTP_GATEWAY_PROBLEM_SIGNING,
                                         &detail);
}


/* for gateway_status: where the keys come from and how they are, no value */

void *
ngx_http_gateway_sign_status(ngx_http_gateway_service_t *s)
{
    json_t                   *st;
    ngx_http_gateway_sign_t  *sc;

    static char  *sources[] = { "", "env", "file", "imds", "metadata",
                                "file" };

    sc = s->sign;

    if (sc->type == NGX_HTTP_GATEWAY_SIGN_GCP) {
        st = json_pack("{s:s, s:s, s:s%}",
                       "type", "gcp_id_token",
                       "source", sources[sc->source],
                       "audience", sc->audience.data, sc->audience.len);

    } else {
        st = json_pack("{s:s, s:s, s:s%, s:s%}",
                       "type", "aws_sigv4",
                       "source", sources[sc->source],
                       "region", sc->region.data, sc->region.len,
                       "service", sc->service.data, sc->service.len);
    }

    if (st == NULL) {
        return NULL;
    }

    if (sc->source >= NGX_HTTP_GATEWAY_CREDS_IMDS) {
        if (ngx_http_gateway_sign_refresh_status(sc, st) != NGX_OK) {
            json_decref(st);
            return NULL;
        }

        return st;
    }

    /* this worker's view of the environment or the file */

    if (json_object_set_new(st, "credentials", json_boolean(sc->have)) != 0
        || json_object_set_new(st, "worker", json_integer(ngx_pid)) != 0
        || (sc->have
            && json_object_set_new(st, "loaded", json_integer(sc->loaded))
               != 0)
        || (sc->error_len
            && (json_object_set_new(st, "error",
                                    json_stringn((char *) sc->error,
                                                 sc->error_len))
                != 0
                || json_object_set_new(st, "error_time",
                                       json_integer(sc->error_time))
                   != 0)))
    {
        json_decref(st);
        return NULL;
    }

    return st;
}


/* the fetchers of the services that sign with fetched credentials */

ngx_int_t
ngx_http_gateway_sign_init_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i, j;
    ngx_http_gateway_sign_t       *sc, *leader;
    ngx_http_gateway_service_t   **s;
    ngx_http_gateway_main_conf_t  *gmcf;

    /* not in the cache manager and loader, which init modules too */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_gateway_module);

    if (gmcf == NULL || gmcf->shm_zone == NULL) {
        return NGX_OK;
    }

    s = gmcf->services.elts;

    for (i = 0; i < gmcf->services.nelts; i++) {
        sc = s[i]->sign;

        if (sc == NULL || sc->source < NGX_HTTP_GATEWAY_CREDS_IMDS) {
            continue;
        }

        leader = NULL;

        for (j = 0; j < i && leader == NULL; j++) {
            leader = s[j]->sign;

            if (leader == NULL || leader->name.len != sc->name.len
                || ngx_strncmp(leader->name.data, sc->name.data,
                               sc->name.len)
                   != 0)
            {
                leader = NULL;
            }
        }

        if (ngx_http_gateway_sign_refresh_start(cycle, sc, gmcf->shm_zone,
                                                leader)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


void
ngx_http_gateway_sign_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    ngx_http_gateway_sign_t       *sc;
    ngx_http_gateway_service_t   **s;
    ngx_http_gateway_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_gateway_module);

    if (gmcf == NULL) {
        return;
    }

    s = gmcf->services.elts;

    for (i = 0; i < gmcf->services.nelts; i++) {
        sc = s[i]->sign;

        if (sc && sc->source >= NGX_HTTP_GATEWAY_CREDS_IMDS) {
            ngx_http_gateway_sign_refresh_stop(sc);
        }
    }
}
