
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>
#include <openssl/err.h>
#include <openssl/sha.h>
#include "ngx_http_gateway_module.h"


#define NGX_HTTP_GATEWAY_JWT_LEEWAY_MAX    300

/* a subject or issuer longer than this names no caller */
#define NGX_HTTP_GATEWAY_IDENTITY_MAX      1024

#define ngx_http_gateway_auth_is(auth, m)                                     \
    ((auth)->modes & NGX_HTTP_GATEWAY_AUTH_##m)


/* the RFC 6750 error of the Bearer challenge: none if no token was sent */
#define NGX_HTTP_GATEWAY_BEARER_NO_ERROR         0
#define NGX_HTTP_GATEWAY_BEARER_INVALID_REQUEST  1
#define NGX_HTTP_GATEWAY_BEARER_INVALID_TOKEN    2


/* the problem's detail for services with both schemes, API keys, tokens */
#define NGX_HTTP_GATEWAY_AUTH_BOTH               0
#define NGX_HTTP_GATEWAY_AUTH_APIKEY_ONLY        1
#define NGX_HTTP_GATEWAY_AUTH_JWT_ONLY           2


/* why a request was refused: for the log, the problem and the header */

typedef struct {
    ngx_str_t                   log;        /* a fixed text to grep for */
    ngx_str_t                   detail[3];  /* len 0: as for both */
    ngx_uint_t                  error;
} ngx_http_gateway_auth_failure_t;


typedef enum {
    NGX_HTTP_GATEWAY_AUTH_MISSING = 0,
    NGX_HTTP_GATEWAY_AUTH_AMBIGUOUS,
    NGX_HTTP_GATEWAY_AUTH_UNKNOWN_KEY,
    NGX_HTTP_GATEWAY_AUTH_BAD_SCHEME,
    NGX_HTTP_GATEWAY_AUTH_NO_TOKEN,
    NGX_HTTP_GATEWAY_AUTH_BAD_SUBJECT
} ngx_http_gateway_auth_failure_e;


static ngx_int_t ngx_http_gateway_auth_apikey(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_str_t *key);
static ngx_int_t ngx_http_gateway_auth_jwt(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_str_t *authorization);
static ngx_int_t ngx_http_gateway_auth_verify(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_str_t *token);
static ngx_int_t ngx_http_gateway_auth_cache_put(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_str_t *token, ngx_uint_t tag, time_t expires);
static ngx_int_t ngx_http_gateway_auth_cache_get(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, u_char *data, size_t len);
static ngx_str_t *ngx_http_gateway_auth_cached(ngx_http_gateway_ctx_t *ctx,
    ngx_uint_t i);
static void ngx_http_gateway_auth_identified(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx);
static ngx_int_t ngx_http_gateway_auth_admit(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_gateway_consumer_t *consumer);
static ngx_int_t ngx_http_gateway_auth_find_key(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_str_t *key);
static ngx_int_t ngx_http_gateway_auth_query_key(ngx_http_request_t *r,
    ngx_str_t *name, ngx_str_t *key);
static ngx_int_t ngx_http_gateway_auth_reject(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_str_t *log, ngx_str_t *detail,
    ngx_uint_t error);
static ngx_int_t ngx_http_gateway_auth_fail(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_http_gateway_auth_failure_e failure);
static ngx_int_t ngx_http_gateway_auth_challenge(ngx_http_request_t *r,
    ngx_str_t *value);
static ngx_int_t ngx_http_gateway_auth_load(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *content);
static ngx_int_t ngx_http_gateway_auth_init_service(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_service_t *s);
static ngx_int_t ngx_http_gateway_auth_init_consumers(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf);
static void ngx_http_gateway_auth_unknown_service(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf, ngx_gateway_consumer_t *c,
    ngx_str_t *name);
static ngx_int_t ngx_http_gateway_auth_drop(ngx_conf_t *cf,
    ngx_http_gateway_auth_t *auth, ngx_str_t *name);
static ngx_uint_t ngx_http_gateway_header_value_ok(ngx_str_t *value);
static ngx_int_t ngx_http_gateway_sha256(ngx_http_gateway_main_conf_t *gmcf,
    ngx_str_t *data, u_char *digest);
static void ngx_http_gateway_auth_free_md(void *data);


static ngx_http_gateway_auth_failure_t  ngx_http_gateway_auth_failures[] = {

    { ngx_string("no credentials"),
      { ngx_string("This service needs credentials: an API key or a bearer "
                   "token, as the WWW-Authenticate header says."),
        ngx_string("This service needs an API key, sent as the "
                   "WWW-Authenticate header says."),
        ngx_string("This service needs a bearer token in the "
                   "Authorization header.") },
      NGX_HTTP_GATEWAY_BEARER_NO_ERROR },

    { ngx_string("more than one credential"),
      { ngx_string("The request carries more than one API key or token; "
                   "send exactly one."),
        ngx_string("The request carries more than one API key; send "
                   "exactly one."),
        ngx_null_string },
      NGX_HTTP_GATEWAY_BEARER_INVALID_REQUEST },

    { ngx_string("unknown API key"),
      { ngx_string("The API key is not valid."),
        ngx_null_string, ngx_null_string },
      NGX_HTTP_GATEWAY_BEARER_NO_ERROR },

    { ngx_string("not a bearer token"),
      { ngx_string("The Authorization header does not hold a bearer "
                   "token."),
        ngx_null_string, ngx_null_string },
      NGX_HTTP_GATEWAY_BEARER_NO_ERROR },

    { ngx_string("empty bearer token"),
      { ngx_string("The Authorization header holds no token after "
                   "\"Bearer\"."),
        ngx_null_string, ngx_null_string },
      NGX_HTTP_GATEWAY_BEARER_INVALID_REQUEST },

    { ngx_string("unusable token subject or issuer"),
      { ngx_string("The bearer token's subject or issuer cannot name a "
                   "caller."),
        ngx_null_string, ngx_null_string },
      NGX_HTTP_GATEWAY_BEARER_INVALID_TOKEN }
};


static ngx_str_t  ngx_http_gateway_method_overrides[] = {
    ngx_string("X-HTTP-Method-Override"),
    ngx_string("X-HTTP-Method"),
    ngx_string("X-Method-Override")
};


static ngx_str_t  ngx_http_gateway_auth_off = ngx_string("off");
static ngx_str_t  ngx_http_gateway_auth_apikey_name = ngx_string("apikey");
static ngx_str_t  ngx_http_gateway_auth_jwt_name = ngx_string("jwt");

/* indexed by the Bearer error */
static ngx_str_t  ngx_http_gateway_bearer[] = {
    ngx_string("Bearer realm=\"gateway\""),
    ngx_string("Bearer realm=\"gateway\", error=\"invalid_request\""),
    ngx_string("Bearer realm=\"gateway\", error=\"invalid_token\"")
};


/*
 * Decides who calls: sets ctx->auth, ctx->consumer (and consumer_entry)
 * for a consumer of the file, ctx->subject and ctx->issuer for a token,
 * and ctx->claims; returns NGX_OK, or answers 401/403 itself and returns
 * NGX_DONE.  Other values are errors for the phase engine.
 */

ngx_int_t
ngx_http_gateway_authenticate(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx)
{
    ngx_int_t                 rc;
    ngx_str_t                 key;
    ngx_table_elt_t          *authorization;
    ngx_http_gateway_auth_t  *auth;

    auth = &ctx->service->auth;

    if (auth->modes == NGX_HTTP_GATEWAY_AUTH_OFF) {
        ctx->auth = ngx_http_gateway_auth_off;
        ngx_http_gateway_auth_identified(r, ctx);
        return NGX_OK;
    }

    if (ngx_http_gateway_auth_is(auth, APIKEY)) {
        rc = ngx_http_gateway_auth_find_key(r, ctx, &key);

        if (rc == NGX_OK) {
            return ngx_http_gateway_auth_apikey(r, gmcf, ctx, &key);
        }

        if (rc != NGX_DECLINED) {
            return rc;
        }
    }

    authorization = r->headers_in.authorization;

    if (ngx_http_gateway_auth_is(auth, JWT) && authorization != NULL) {
        return ngx_http_gateway_auth_jwt(r, gmcf, ctx,
                                         &authorization->value);
    }

    return ngx_http_gateway_auth_fail(r, ctx, NGX_HTTP_GATEWAY_AUTH_MISSING);
}


static ngx_int_t
ngx_http_gateway_auth_apikey(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_str_t *key)
{
    u_char                        digest[SHA256_DIGEST_LENGTH];
    ngx_gateway_consumer_t       *consumer;

    if (ngx_http_gateway_sha256(gmcf, key, digest) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    consumer = ngx_gateway_consumers_by_key(gmcf->consumers, digest);

    if (consumer == NULL) {
        return ngx_http_gateway_auth_fail(r, ctx,
                                          NGX_HTTP_GATEWAY_AUTH_UNKNOWN_KEY);
    }

    ctx->auth = ngx_http_gateway_auth_apikey_name;

    return ngx_http_gateway_auth_admit(r, ctx, consumer);
}


static ngx_int_t
ngx_http_gateway_auth_jwt(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_str_t *authorization)
{
    u_char                       *p, *last;
    ngx_int_t                     rc;
    ngx_str_t                     token;
    ngx_gateway_consumer_t       *consumer;

    /* credentials = auth-scheme 1*SP token68; the scheme is caseless */

    p = authorization->data;
    last = p + authorization->len;

    if (authorization->len < sizeof("Bearer") - 1
        || ngx_strncasecmp(p, (u_char *) "Bearer", 6) != 0
        || (authorization->len > 6 && p[6] != ' '))
    {
        return ngx_http_gateway_auth_fail(r, ctx,
                                          NGX_HTTP_GATEWAY_AUTH_BAD_SCHEME);
    }

    for (p += 6; p < last && *p == ' '; p++) { /* void */ }

    token.data = p;
    token.len = last - p;

    if (token.len == 0) {
        return ngx_http_gateway_auth_fail(r, ctx,
                                          NGX_HTTP_GATEWAY_AUTH_NO_TOKEN);
    }

    rc = ngx_http_gateway_auth_verify(r, gmcf, ctx, &token);

    if (rc != NGX_OK) {
        return rc;
    }

    ctx->auth = ngx_http_gateway_auth_jwt_name;

    /*
     * A subject that is a consumer's "jwt_subject" is that consumer; any
     * other is a caller of its own, never the consumer of the same id.
     */

    consumer = (gmcf->consumers && ctx->subject.len)
               ? ngx_gateway_consumers_by_subject(gmcf->consumers,
                                                  &ctx->subject)
               : NULL;

    /* with several identity providers, the consumer's own issuer only */

    if (consumer
        && (consumer->jwt_issuer.len == 0
            || (consumer->jwt_issuer.len == ctx->issuer.len
                && ngx_strncmp(consumer->jwt_issuer.data, ctx->issuer.data,
                               ctx->issuer.len)
                   == 0)))
    {
        return ngx_http_gateway_auth_admit(r, ctx, consumer);
    }

    ngx_http_gateway_auth_identified(r, ctx);

    return NGX_OK;
}


/*
 * Verifies the token, or finds it verified in this worker's cache for
 * this service: a cached token costs a lookup and a comparison, not a
 * signature check and a JSON parse.
 */

static ngx_int_t
ngx_http_gateway_auth_verify(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_str_t *token)
{
    u_char                          *data;
    size_t                           len;
    ngx_int_t                        rc;
    ngx_str_t                       *text, detail;
    ngx_uint_t                       i, cached, tag;
    ngx_gateway_jwt_t                jwt;
    ngx_gateway_jwks_t              *jwks;
    ngx_http_gateway_auth_t         *auth;
    ngx_http_gateway_claim_header_t *ch;
    ngx_gateway_jwt_status_e         status;

    auth = &ctx->service->auth;
    cached = 0;

    /* keys from identity providers: as fetched, in this worker */

    jwks = ngx_http_gateway_keys_current(gmcf, r->connection->log);

    if (jwks == NULL || jwks->nkeys == 0) {
        return ngx_http_gateway_keys_missing(r, gmcf, ctx);
    }

    /* a token verified with a key set before is not one of this one */

    tag = ctx->service->index
          + gmcf->services.nelts * ngx_http_gateway_keys_version(gmcf);

    if (gmcf->jwt_cache && token->len <= auth->jwt.max_size) {
        cached = 1;

        data = ngx_gateway_cache_get(gmcf->jwt_cache, token, tag,
                                     ngx_time(), &len);
        if (data) {
            ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "gateway jwt cache hit");

            return ngx_http_gateway_auth_cache_get(r, ctx, data, len);
        }
    }

    status = ngx_gateway_jwt_verify(r->pool, token, jwks, &auth->jwt,
                                    ngx_time(), &jwt);

    if (status == NGX_GATEWAY_JWT_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (status == NGX_GATEWAY_JWT_UNKNOWN_KEY) {
        rc = ngx_http_gateway_keys_unknown(r, gmcf, ctx);

        if (rc != NGX_DECLINED) {
            /* NGX_AGAIN: it waits for a refetch of keys, then runs again */
            return rc;
        }
    }

    if (status != NGX_GATEWAY_JWT_OK) {
        text = ngx_gateway_jwt_status_text(status);

        detail.len = sizeof("The bearer token is not valid: .") - 1
                     + text->len;
        detail.data = ngx_pnalloc(r->pool, detail.len);
        if (detail.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_sprintf(detail.data, "The bearer token is not valid: %V.", text);

        return ngx_http_gateway_auth_reject(r, ctx, text, &detail,
                   NGX_HTTP_GATEWAY_BEARER_INVALID_TOKEN);
    }

    /* both name the caller in headers and variables: no control bytes */

    ctx->subject = jwt.subject;
    ctx->issuer = jwt.issuer;

    if (ctx->subject.len > NGX_HTTP_GATEWAY_IDENTITY_MAX
        || ctx->issuer.len > NGX_HTTP_GATEWAY_IDENTITY_MAX
        || !ngx_http_gateway_header_value_ok(&ctx->subject)
        || !ngx_http_gateway_header_value_ok(&ctx->issuer))
    {
        return ngx_http_gateway_auth_fail(r, ctx,
                                          NGX_HTTP_GATEWAY_AUTH_BAD_SUBJECT);
    }

    if (auth->claim_headers) {
        ctx->claims = ngx_pcalloc(r->pool, auth->claim_headers->nelts
                                           * sizeof(ngx_str_t));
        if (ctx->claims == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ch = auth->claim_headers->elts;

        for (i = 0; i < auth->claim_headers->nelts; i++) {
            if (ngx_gateway_jwt_claim(&jwt, &ch[i].claim, r->pool,
                                      &ctx->claims[i])
                == NGX_ERROR)
            {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }
        }
    }

    if (cached
        && ngx_http_gateway_auth_cache_put(r, gmcf, ctx, token, tag,
                                           jwt.expires)
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return NGX_OK;
}


/*
 * A cached verification: the subject, the issuer and the claim header
 * values, each as a length (2 bytes) and its bytes; 0xffff marks an
 * absent value.
 */

static ngx_int_t
ngx_http_gateway_auth_cache_put(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_str_t *token, ngx_uint_t tag, time_t expires)
{
    u_char      *data, *p;
    size_t       len;
    ngx_str_t   *v;
    ngx_uint_t   i, n;

    n = 2 + (ctx->claims ? ctx->service->auth.claim_headers->nelts : 0);
    len = 0;

    for (i = 0; i < n; i++) {
        v = ngx_http_gateway_auth_cached(ctx, i);

        if (v->len >= 0xffff) {
            return NGX_OK;
        }

        len += 2 + v->len;
    }

    data = ngx_pnalloc(r->pool, len);
    if (data == NULL) {
        return NGX_ERROR;
    }

    p = data;

    for (i = 0; i < n; i++) {
        v = ngx_http_gateway_auth_cached(ctx, i);

        if (v->data == NULL) {
            *p++ = 0xff;
            *p++ = 0xff;
            continue;
        }

        *p++ = (u_char) (v->len >> 8);
        *p++ = (u_char) v->len;
        p = ngx_cpymem(p, v->data, v->len);
    }

    return ngx_gateway_cache_put(gmcf->jwt_cache, token, tag, expires,
                                 data, p - data);
}


static ngx_int_t
ngx_http_gateway_auth_cache_get(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, u_char *data, size_t len)
{
    u_char      *p, *last;
    size_t       n;
    ngx_str_t   *v;
    ngx_uint_t   i, nclaims;

    nclaims = ctx->service->auth.claim_headers
              ? ctx->service->auth.claim_headers->nelts : 0;

    if (nclaims) {
        ctx->claims = ngx_pcalloc(r->pool, nclaims * sizeof(ngx_str_t));
        if (ctx->claims == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /* the entry is copied: it may be evicted while the request lives */

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_memcpy(p, data, len);
    last = p + len;

    for (i = 0; i < 2 + nclaims && p + 2 <= last; i++) {
        v = ngx_http_gateway_auth_cached(ctx, i);
        n = (size_t) p[0] << 8 | p[1];
        p += 2;

        if (n == 0xffff) {
            continue;
        }

        v->data = p;
        v->len = n;
        p += n;
    }

    return NGX_OK;
}


/* the i-th value of a cache entry */

static ngx_str_t *
ngx_http_gateway_auth_cached(ngx_http_gateway_ctx_t *ctx, ngx_uint_t i)
{
    switch (i) {
    case 0:
        return &ctx->subject;
    case 1:
        return &ctx->issuer;
    default:
        return &ctx->claims[i - 2];
    }
}


/*
 * $gateway_auth, $gateway_consumer (a consumer of the consumers file
 * only), $gateway_subject and $gateway_issuer, as soon as they are known:
 * before a refusal (403, 429, 503) is sent, whose headers may name them.
 */

static void
ngx_http_gateway_auth_identified(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx)
{
    ngx_http_gateway_main_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gateway_module);

    ngx_http_gateway_set_variable(r, gmcf->auth_index, &ctx->auth);

    if (ctx->consumer.len) {
        ngx_http_gateway_set_variable(r, gmcf->consumer_index,
                                      &ctx->consumer);
    }

    if (ctx->subject.len) {
        ngx_http_gateway_set_variable(r, gmcf->subject_index, &ctx->subject);
    }

    if (ctx->issuer.len) {
        ngx_http_gateway_set_variable(r, gmcf->issuer_index, &ctx->issuer);
    }
}


/* the consumer is known: may it call this service? */

static ngx_int_t
ngx_http_gateway_auth_admit(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_gateway_consumer_t *consumer)
{
    u_char      *allowed;
    ngx_str_t    detail;
    ngx_uint_t   index;

    ctx->consumer = consumer->id;
    ctx->consumer_entry = consumer;

    ngx_http_gateway_auth_identified(r, ctx);

    allowed = consumer->allowed;
    index = ctx->service->index;

    if (consumer->all_services || (allowed[index / 8] & (1 << index % 8))) {
        return NGX_OK;
    }

    ngx_http_gateway_count(ctx->service, forbidden);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gateway: consumer \"%V\" may not call service \"%V\"",
                  &consumer->id, &ctx->service->name);

    ngx_str_set(&detail, "This consumer may not call this service.");

    return ngx_http_gateway_send_problem(r, NGX_HTTP_GATEWAY_PROBLEM_FORBIDDEN,
                                         &detail);
}


/*
 * The API key: from the configured header, or from the query when the
 * service allows it; one place and one copy only.  NGX_DECLINED: none.
 */

static ngx_int_t
ngx_http_gateway_auth_find_key(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_str_t *key)
{
    ngx_int_t                 rc;
    ngx_str_t                 query;
    ngx_uint_t                n;
    ngx_table_elt_t          *h;
    ngx_http_gateway_auth_t  *auth;

    auth = &ctx->service->auth;

    ngx_str_null(key);

    n = ngx_http_gateway_request_header(r, &auth->apikey_header, &h);

    if (n) {
        *key = h->value;
    }

    if (auth->apikey_query.len) {
        rc = ngx_http_gateway_auth_query_key(r, &auth->apikey_query, &query);

        if (rc == NGX_ERROR) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        if (rc == NGX_OK) {
            *key = query;
            ctx->drop_arg = auth->apikey_query;
            n++;

        } else if (rc == NGX_BUSY) {
            n += 2;
        }
    }

    if (n == 0) {
        return NGX_DECLINED;
    }

    if (n > 1) {
        return ngx_http_gateway_auth_fail(r, ctx,
                                          NGX_HTTP_GATEWAY_AUTH_AMBIGUOUS);
    }

    if (key->len == 0) {
        return ngx_http_gateway_auth_fail(r, ctx,
                                          NGX_HTTP_GATEWAY_AUTH_UNKNOWN_KEY);
    }

    return NGX_OK;
}


/*
 * NGX_OK with the unescaped value of the one "name=" argument, NGX_BUSY
 * when there are several, NGX_DECLINED when there is none.
 */

static ngx_int_t
ngx_http_gateway_auth_query_key(ngx_http_request_t *r, ngx_str_t *name,
    ngx_str_t *key)
{
    u_char      *p, *last, *start, *dst, *src;
    ngx_str_t    value;
    ngx_uint_t   n;

    p = r->args.data;
    last = p + r->args.len;
    n = 0;

    while (p < last) {
        start = p;

        while (p < last && *p != '&') {
            p++;
        }

        if ((size_t) (p - start) > name->len && start[name->len] == '='
            && ngx_strncmp(start, name->data, name->len) == 0)
        {
            value.data = start + name->len + 1;
            value.len = p - value.data;
            n++;
        }

        p++;
    }

    if (n == 0) {
        return NGX_DECLINED;
    }

    if (n > 1) {
        return NGX_BUSY;
    }

    dst = ngx_pnalloc(r->pool, value.len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    key->data = dst;
    src = value.data;

    ngx_unescape_uri(&dst, &src, value.len, NGX_UNESCAPE_URI);

    key->len = dst - key->data;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gateway_auth_fail(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_http_gateway_auth_failure_e failure)
{
    ngx_uint_t                        modes, which;
    ngx_http_gateway_auth_failure_t  *f;

    f = &ngx_http_gateway_auth_failures[failure];
    modes = ctx->service->auth.modes;

    which = (modes == NGX_HTTP_GATEWAY_AUTH_APIKEY)
            ? NGX_HTTP_GATEWAY_AUTH_APIKEY_ONLY
            : (modes == NGX_HTTP_GATEWAY_AUTH_JWT)
              ? NGX_HTTP_GATEWAY_AUTH_JWT_ONLY
              : NGX_HTTP_GATEWAY_AUTH_BOTH;

    if (f->detail[which].len == 0) {
        which = NGX_HTTP_GATEWAY_AUTH_BOTH;
    }

    return ngx_http_gateway_auth_reject(r, ctx, &f->log, &f->detail[which],
                                        f->error);
}


/*
 * 401, with a challenge for each scheme the service accepts, a fixed
 * log text and a problem body that never repeats what the client sent.
 */

static ngx_int_t
ngx_http_gateway_auth_reject(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_str_t *log, ngx_str_t *detail,
    ngx_uint_t error)
{
    ngx_http_gateway_auth_t  *auth;

    auth = &ctx->service->auth;

    ngx_http_gateway_count(ctx->service, unauthorized);

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gateway: authentication failed for service \"%V\": %V",
                  &ctx->service->name, log);

    if (ngx_http_gateway_auth_is(auth, JWT)
        && ngx_http_gateway_auth_challenge(r, &ngx_http_gateway_bearer[error])
           != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_gateway_auth_is(auth, APIKEY)) {
        if (ngx_http_gateway_auth_challenge(r, &auth->apikey_challenge)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    return ngx_http_gateway_send_problem(r,
                                         NGX_HTTP_GATEWAY_PROBLEM_UNAUTHORIZED,
                                         detail);
}


static ngx_int_t
ngx_http_gateway_auth_challenge(ngx_http_request_t *r, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_http_gateway_add_header(r, "WWW-Authenticate", 0);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->value = *value;

    if (r->headers_out.www_authenticate == NULL) {
        r->headers_out.www_authenticate = h;
    }

    return NGX_OK;
}


/*
 * The headers the function receives: how the caller was identified
 * (X-Gateway-Auth), the consumer of the consumers file it is, if any
 * (X-Gateway-Consumer, which no token can claim), the token's subject
 * and issuer, and the claim headers.
 */

ngx_int_t
ngx_http_gateway_auth_headers(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx)
{
    ngx_uint_t                        i;
    ngx_http_gateway_claim_header_t  *ch;

    if (ctx->auth.data == ngx_http_gateway_auth_off.data) {
        return NGX_OK;
    }

    if (ngx_http_gateway_add_request_header(r, &gmcf->auth_header,
                                            &ctx->auth)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->consumer_entry
        && ngx_http_gateway_add_request_header(r, &gmcf->consumer_header,
                                               &ctx->consumer)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->subject.len
        && ngx_http_gateway_add_request_header(r, &gmcf->subject_header,
                                               &ctx->subject)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->issuer.len
        && ngx_http_gateway_add_request_header(r, &gmcf->issuer_header,
                                               &ctx->issuer)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->claims == NULL) {
        return NGX_OK;
    }

    ch = ctx->service->auth.claim_headers->elts;

    for (i = 0; i < ctx->service->auth.claim_headers->nelts; i++) {

        if (ctx->claims[i].data == NULL) {
            continue;
        }

        if (ngx_http_gateway_add_request_header(r, &ch[i].header,
                                                &ctx->claims[i])
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/*
 * SHA-256 with the digest fetched once per worker: SHA256() fetches it
 * anew on every call in OpenSSL 3, which costs more than the hashing of
 * a token.
 */

static ngx_int_t
ngx_http_gateway_sha256(ngx_http_gateway_main_conf_t *gmcf, ngx_str_t *data,
    u_char *digest)
{
    if (EVP_Digest(data->data, data->len, digest, NULL, gmcf->sha256, NULL)
        != 1)
    {
        ERR_clear_error();
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_http_gateway_header_value_ok(ngx_str_t *value)
{
    u_char  *p, *last;

    last = value->data + value->len;

    for (p = value->data; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }

    return 1;
}


/* auth off | apikey | jwt | apikey jwt; */

char *
ngx_http_gateway_auth_modes(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, *modes;

    modes = (ngx_uint_t *) (p + cmd->offset);

    if (*modes != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;
    *modes = 0;

    for (i = 1; i < cf->args->nelts; i++) {

        if (ngx_strcmp(value[i].data, "off") == 0
            && cf->args->nelts == 2)
        {
            *modes = NGX_HTTP_GATEWAY_AUTH_OFF;

        } else if (ngx_strcmp(value[i].data, "apikey") == 0
                   && !(*modes & NGX_HTTP_GATEWAY_AUTH_APIKEY))
        {
            *modes |= NGX_HTTP_GATEWAY_AUTH_APIKEY;

        } else if (ngx_strcmp(value[i].data, "jwt") == 0
                   && !(*modes & NGX_HTTP_GATEWAY_AUTH_JWT))
        {
            *modes |= NGX_HTTP_GATEWAY_AUTH_JWT;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid authentication \"%V\": \"off\", "
                               "\"apikey\", \"jwt\" or \"apikey jwt\"",
                               &value[i]);
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


/* gateway_consumers file;  gateway_jwks file; */

char *
ngx_http_gateway_auth_file(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_main_conf_t *gmcf = conf;

    ngx_int_t   rc;
    ngx_str_t  *value, content, err, *file;

    value = cf->args->elts;

    file = (ngx_strcmp(cmd->name.data, "gateway_jwks") == 0)
           ? &gmcf->jwks_file : &gmcf->consumers_file;

    if (file->data) {
        return "is duplicate";
    }

    *file = value[1];

    if (file == &gmcf->consumers_file) {
        gmcf->consumers_conf_file = cf->conf_file->file.name.data;
        gmcf->consumers_conf_line = cf->conf_file->line;
    }

    if (ngx_http_gateway_auth_load(cf, file, &content) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (file == &gmcf->jwks_file) {
        gmcf->jwks = ngx_pcalloc(cf->pool, sizeof(ngx_gateway_jwks_t));
        if (gmcf->jwks == NULL) {
            return NGX_CONF_ERROR;
        }

        rc = ngx_gateway_jwks_parse(cf->pool, content.data, content.len,
                                    gmcf->jwks, &err);

    } else {
        gmcf->consumers = ngx_pcalloc(cf->pool,
                                      sizeof(ngx_gateway_consumers_t));
        if (gmcf->consumers == NULL) {
            return NGX_CONF_ERROR;
        }

        rc = ngx_gateway_consumers_parse(cf->pool, content.data,
                                         content.len, gmcf->consumers,
                                         &err);
    }

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "%V \"%V\": %V",
                           &cmd->name, file, &err);
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* the whole file, read at configuration time; relative to conf dir */

static ngx_int_t
ngx_http_gateway_auth_load(ngx_conf_t *cf, ngx_str_t *name,
    ngx_str_t *content)
{
    ssize_t          n;
    ngx_fd_t         fd;
    ngx_file_t       file;
    ngx_file_info_t  fi;

    if (ngx_conf_full_name(cf->cycle, name, 1) != NGX_OK) {
        return NGX_ERROR;
    }

    fd = ngx_open_file(name->data, NGX_FILE_RDONLY, NGX_FILE_OPEN, 0);

    if (fd == NGX_INVALID_FILE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_open_file_n " \"%V\" failed", name);
        return NGX_ERROR;
    }

    ngx_memzero(&file, sizeof(ngx_file_t));
    file.fd = fd;
    file.name = *name;
    file.log = cf->log;

    if (ngx_fd_info(fd, &fi) == NGX_FILE_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, ngx_errno,
                           ngx_fd_info_n " \"%V\" failed", name);
        goto failed;
    }

    content->len = ngx_file_size(&fi);
    content->data = ngx_pnalloc(cf->pool, content->len + 1);
    if (content->data == NULL) {
        goto failed;
    }

    n = ngx_read_file(&file, content->data, content->len, 0);

    if (n == NGX_ERROR || (size_t) n != content->len) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "could not read \"%V\"", name);
        goto failed;
    }

    content->data[content->len] = '\0';

    ngx_close_file(fd);

    return NGX_OK;

failed:

    ngx_close_file(fd);

    return NGX_ERROR;
}


/* jwt_audience value ...; */

char *
ngx_http_gateway_jwt_audience(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ngx_str_t     *value, *aud;
    ngx_uint_t     i;
    ngx_array_t  **audiences;

    audiences = (ngx_array_t **) (p + cmd->offset);

    if (*audiences) {
        return "is duplicate";
    }

    *audiences = ngx_array_create(cf->pool, cf->args->nelts,
                                  sizeof(ngx_str_t));
    if (*audiences == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        if (value[i].len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "empty audience");
            return NGX_CONF_ERROR;
        }

        aud = ngx_array_push(*audiences);
        if (aud == NULL) {
            return NGX_CONF_ERROR;
        }

        *aud = value[i];
    }

    return NGX_CONF_OK;
}


/* jwt_algorithms RS256 ES256 ...; */

char *
ngx_http_gateway_jwt_algorithms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    ngx_str_t   *value;
    ngx_uint_t   i, alg, *algorithms;

    algorithms = (ngx_uint_t *) (p + cmd->offset);

    if (*algorithms) {
        return "is duplicate";
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        alg = ngx_gateway_jwt_alg(&value[i]);

        if (alg == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "unknown JWT algorithm \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        *algorithms |= alg;
    }

    return NGX_CONF_OK;
}


/* jwt_claim_headers claim:Header ...; */

char *
ngx_http_gateway_jwt_claim_headers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    char  *p = conf;

    u_char                           *colon, *c;
    ngx_str_t                        *value, name;
    ngx_uint_t                        i;
    ngx_array_t                     **headers;
    ngx_http_gateway_claim_header_t  *ch;

    headers = (ngx_array_t **) (p + cmd->offset);

    if (*headers) {
        return "is duplicate";
    }

    *headers = ngx_array_create(cf->pool, cf->args->nelts,
                                sizeof(ngx_http_gateway_claim_header_t));
    if (*headers == NULL) {
        return NGX_CONF_ERROR;
    }

    value = cf->args->elts;

    for (i = 1; i < cf->args->nelts; i++) {
        colon = ngx_strlchr(value[i].data, value[i].data + value[i].len,
                            ':');

        if (colon == NULL || colon == value[i].data
            || colon == value[i].data + value[i].len - 1)
        {
            goto invalid;
        }

        ch = ngx_array_push(*headers);
        if (ch == NULL) {
            return NGX_CONF_ERROR;
        }

        ch->claim.data = value[i].data;
        ch->claim.len = colon - value[i].data;
        name.data = colon + 1;
        name.len = value[i].data + value[i].len - colon - 1;

        /* a header name is a token (RFC 9110): letters, digits, "-", "_" */

        for (c = name.data; c < name.data + name.len; c++) {
            if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z')
                  || (*c >= '0' && *c <= '9') || *c == '-' || *c == '_'))
            {
                goto invalid;
            }
        }

        if (ngx_http_gateway_header_init(cf->pool, &ch->header, &name)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid claim header \"%V\": \"claim:Header-Name\"",
                       &value[i]);

    return NGX_CONF_ERROR;
}


void
ngx_http_gateway_auth_create(ngx_http_gateway_auth_t *auth)
{
    auth->modes = NGX_CONF_UNSET_UINT;
    auth->jwt.leeway = NGX_CONF_UNSET;
    auth->jwt.max_size = NGX_CONF_UNSET_SIZE;
    auth->jwt_forward_token = NGX_CONF_UNSET;
    auth->method_override = NGX_CONF_UNSET;
}


/*
 * After the http block: every service has an authentication mode, the
 * files it needs are loaded, settings that would have no effect are
 * refused, and the consumers' service lists are resolved.
 */

ngx_int_t
ngx_http_gateway_auth_init(ngx_conf_t *cf, ngx_http_gateway_main_conf_t *gmcf)
{
    ngx_str_t                     name;
    ngx_uint_t                    i;
    ngx_http_gateway_service_t  **s;

    if (gmcf->default_auth == NGX_CONF_UNSET_UINT) {
        gmcf->default_auth = 0;
    }

    ngx_conf_init_uint_value(gmcf->jwt_cache_size, 1024);

    ngx_str_set(&name, "X-Gateway-Consumer");

    if (ngx_http_gateway_header_init(cf->pool, &gmcf->consumer_header, &name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "X-Gateway-Auth");

    if (ngx_http_gateway_header_init(cf->pool, &gmcf->auth_header, &name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "X-Gateway-Subject");

    if (ngx_http_gateway_header_init(cf->pool, &gmcf->subject_header, &name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_str_set(&name, "X-Gateway-Issuer");

    if (ngx_http_gateway_header_init(cf->pool, &gmcf->issuer_header, &name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_gateway_keys_init(cf, gmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    s = gmcf->services.elts;

    for (i = 0; i < gmcf->services.nelts; i++) {
        if (ngx_http_gateway_auth_init_service(cf, gmcf, s[i]) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (gmcf->consumers) {
        return ngx_http_gateway_auth_init_consumers(cf, gmcf);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gateway_auth_init_service(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_service_t *s)
{
    u_char                            algs[128], *p;
    ngx_str_t                         name, *alg;
    ngx_uint_t                        i, n, bit;
    const char                       *unused;
    ngx_http_gateway_auth_t          *auth;
    ngx_http_gateway_claim_header_t  *ch;

    auth = &s->auth;

    if (auth->modes == NGX_CONF_UNSET_UINT) {
        if (gmcf->default_auth == 0) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "gateway service \"%V\" in %s:%ui has no "
                          "\"auth\": say \"auth off;\" for a public service, "
                          "or set \"gateway_default_auth\"",
                          &s->name, s->file, s->line);
            return NGX_ERROR;
        }

        auth->modes = gmcf->default_auth;
    }

    unused = NULL;

    if (!ngx_http_gateway_auth_is(auth, APIKEY)) {
        if (auth->apikey_header.data) {
            unused = "apikey_header";

        } else if (auth->apikey_query.data) {
            unused = "apikey_query";
        }
    }

    if (!ngx_http_gateway_auth_is(auth, JWT)) {
        if (auth->jwt.issuer.data) {
            unused = "jwt_issuer";

        } else if (auth->jwt.audiences) {
            unused = "jwt_audience";

        } else if (auth->jwt.algorithms) {
            unused = "jwt_algorithms";

        } else if (auth->jwt.leeway != NGX_CONF_UNSET) {
            unused = "jwt_leeway";

        } else if (auth->jwt.max_size != NGX_CONF_UNSET_SIZE) {
            unused = "jwt_max_size";

        } else if (auth->claim_headers) {
            unused = "jwt_claim_headers";

        } else if (auth->jwt_forward_token != NGX_CONF_UNSET) {
            unused = "jwt_forward_token";
        }
    }

    if (unused) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"%s\" of gateway service \"%V\" in %s:%ui has no "
                      "effect: the service does not use that "
                      "authentication", unused, &s->name, s->file, s->line);
        return NGX_ERROR;
    }

    if (ngx_http_gateway_auth_is(auth, APIKEY) && gmcf->consumers == NULL) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "gateway service \"%V\" in %s:%ui uses API keys, but "
                      "no \"gateway_consumers\" file is set",
                      &s->name, s->file, s->line);
        return NGX_ERROR;
    }

    if (ngx_http_gateway_auth_is(auth, JWT) && gmcf->jwks == NULL
        && gmcf->keys == NULL)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "gateway service \"%V\" in %s:%ui uses JWT, but no "
                      "\"gateway_jwks\" file is set, nor "
                      "\"gateway_jwks_uri\" or \"gateway_oidc_issuer\"",
                      &s->name, s->file, s->line);
        return NGX_ERROR;
    }

    if (auth->jwt.leeway > NGX_HTTP_GATEWAY_JWT_LEEWAY_MAX) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "\"jwt_leeway\" of gateway service \"%V\" in %s:%ui is "
                      "more than %ds", &s->name, s->file, s->line,
                      NGX_HTTP_GATEWAY_JWT_LEEWAY_MAX);
        return NGX_ERROR;
    }

    if (ngx_http_gateway_auth_is(auth, JWT) && auth->jwt.issuer.len == 0
        && ngx_http_gateway_keys_issuer(gmcf) != NULL)
    {
        /* the only identity provider's issuer, as discovered */
        auth->jwt.issuer = *ngx_http_gateway_keys_issuer(gmcf);
    }

    if (ngx_http_gateway_auth_is(auth, JWT) && auth->jwt.algorithms
        && gmcf->jwks != NULL && gmcf->keys == NULL)
    {
        for (i = 0; i < gmcf->jwks->nkeys; i++) {
            if (gmcf->jwks->keys[i].alg & auth->jwt.algorithms) {
                break;
            }
        }

        if (i == gmcf->jwks->nkeys) {
            p = algs;

            for (bit = 1; bit <= NGX_GATEWAY_JWT_ALL_ALGS; bit <<= 1) {
                if (auth->jwt.algorithms & bit) {
                    alg = ngx_gateway_jwt_alg_name(bit);
                    p = ngx_sprintf(p, (p == algs) ? "%V" : " %V", alg);
                }
            }

            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "no key of \"%V\" serves \"jwt_algorithms %*s\" "
                          "of gateway service \"%V\" in %s:%ui: every token "
                          "will be refused", &gmcf->jwks_file, p - algs, algs,
                          &s->name, s->file, s->line);
        }
    }

    ngx_conf_init_value(auth->jwt.leeway, 0);
    ngx_conf_init_size_value(auth->jwt.max_size,
                             NGX_GATEWAY_JWT_MAX_SIZE);
    ngx_conf_init_value(auth->jwt_forward_token, 0);

    if (auth->apikey_header.data == NULL) {
        ngx_str_set(&auth->apikey_header, "X-API-Key");
    }

    /* a refusal costs the gateway as little as it can */

    auth->apikey_challenge.data = ngx_pnalloc(cf->pool,
                                      sizeof("ApiKey realm=\"gateway\", "
                                             "header=\"\"") - 1
                                      + auth->apikey_header.len);
    if (auth->apikey_challenge.data == NULL) {
        return NGX_ERROR;
    }

    auth->apikey_challenge.len = ngx_sprintf(auth->apikey_challenge.data,
                                             "ApiKey realm=\"gateway\", "
                                             "header=\"%V\"",
                                             &auth->apikey_header)
                                 - auth->apikey_challenge.data;

    /* what the function must not see: credentials and forgeable copies */

    if (ngx_array_init(&auth->drop, cf->pool, 2, sizeof(ngx_str_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_gateway_auth_is(auth, APIKEY)
        && ngx_http_gateway_auth_drop(cf, auth, &auth->apikey_header)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_gateway_auth_is(auth, JWT) && !auth->jwt_forward_token) {
        ngx_str_set(&name, "Authorization");

        if (ngx_http_gateway_auth_drop(cf, auth, &name) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (auth->claim_headers) {
        ch = auth->claim_headers->elts;

        for (i = 0; i < auth->claim_headers->nelts; i++) {
            if (ngx_http_gateway_auth_drop(cf, auth, &ch[i].header.key)
                != NGX_OK)
            {
                return NGX_ERROR;
            }
        }
    }

    /* a GET route must not become a DELETE in the function's framework */

    ngx_conf_init_value(auth->method_override, 0);

    n = sizeof(ngx_http_gateway_method_overrides) / sizeof(ngx_str_t);

    for (i = 0; !auth->method_override && i < n; i++) {
        name = ngx_http_gateway_method_overrides[i];

        if (ngx_http_gateway_auth_drop(cf, auth, &name) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gateway_auth_drop(ngx_conf_t *cf, ngx_http_gateway_auth_t *auth,
    ngx_str_t *name)
{
    u_char      c;
    size_t      i;
    ngx_str_t  *lc;

    lc = ngx_array_push(&auth->drop);
    if (lc == NULL) {
        return NGX_ERROR;
    }

    lc->len = name->len;
    lc->data = ngx_pnalloc(cf->pool, name->len);
    if (lc->data == NULL) {
        return NGX_ERROR;
    }

    /* compared as the gateway compares names: "_" is "-" */

    for (i = 0; i < name->len; i++) {
        c = ngx_tolower(name->data[i]);
        lc->data[i] = (c == '_') ? '-' : c;
    }

    return NGX_OK;
}


/* consumers' service lists become bit sets of service indexes */

static ngx_int_t
ngx_http_gateway_auth_init_consumers(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf)
{
    u_char                       *allowed;
    ngx_uint_t                    i, j;
    ngx_http_gateway_service_t   *s;
    ngx_gateway_consumer_t       *c;

    for (i = 0; i < gmcf->consumers->nconsumers; i++) {
        c = &gmcf->consumers->consumers[i];

        allowed = ngx_pcalloc(cf->pool, gmcf->services.nelts / 8 + 1);
        if (allowed == NULL) {
            return NGX_ERROR;
        }

        c->allowed = allowed;

        for (j = 0; j < c->nservices; j++) {
            if (c->services[j].len == 1 && c->services[j].data[0] == '*') {
                continue;
            }

            s = ngx_http_gateway_service_find(gmcf, &c->services[j]);

            if (s == NULL) {
                ngx_http_gateway_auth_unknown_service(cf, gmcf, c,
                                                      &c->services[j]);
                return NGX_ERROR;
            }

            allowed[s->index / 8] |= 1 << s->index % 8;
        }
    }

    return NGX_OK;
}


/*
 * The file, line and column of the name in the consumers file, and the
 * line of nginx.conf that loads the file.
 */

static void
ngx_http_gateway_auth_unknown_service(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf, ngx_gateway_consumer_t *c,
    ngx_str_t *name)
{
    ngx_uint_t  line, column;

    if (ngx_gateway_consumers_where(gmcf->consumers, c, name, &line,
                                    &column)
        == NGX_OK)
    {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "consumer \"%V\" in \"%V\" at line %ui, column %ui "
                      "names unknown gateway service \"%V\", in the file "
                      "of \"gateway_consumers\" in %s:%ui", &c->id,
                      &gmcf->consumers_file, line, column, name,
                      gmcf->consumers_conf_file, gmcf->consumers_conf_line);
        return;
    }

    ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                  "consumer \"%V\" in \"%V\" names unknown gateway service "
                  "\"%V\", in the file of \"gateway_consumers\" in %s:%ui",
                  &c->id, &gmcf->consumers_file, name,
                  gmcf->consumers_conf_file, gmcf->consumers_conf_line);
}


ngx_int_t
ngx_http_gateway_auth_init_process(ngx_cycle_t *cycle)
{
    ngx_pool_cleanup_t            *cln;
    ngx_http_gateway_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_gateway_module);

    if (gmcf == NULL) {
        return NGX_OK;
    }

    cln = ngx_pool_cleanup_add(cycle->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    gmcf->sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (gmcf->sha256 == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "gateway: OpenSSL has no SHA-256");
        return NGX_ERROR;
    }

    cln->handler = ngx_http_gateway_auth_free_md;
    cln->data = gmcf->sha256;

    if (ngx_http_gateway_keys_init_process(cycle, gmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    if ((gmcf->jwks == NULL && gmcf->keys == NULL)
        || gmcf->jwt_cache_size == 0)
    {
        return NGX_OK;
    }

    gmcf->jwt_cache = ngx_gateway_cache_create(cycle->pool,
                                               gmcf->jwt_cache_size,
                                               cycle->log);
    if (gmcf->jwt_cache == NULL) {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* a fetched digest is counted in OpenSSL's method store: give it back */

static void
ngx_http_gateway_auth_free_md(void *data)
{
    EVP_MD_free(data);
}
