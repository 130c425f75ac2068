
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include "ngx_gateway_http.h"
#include "ngx_gateway_keys.h"


#define ngx_gateway_keys_after(a, b)  ((ngx_msec_int_t) ((a) - (b)) >= 0)


ngx_uint_t
ngx_gateway_keys_due(ngx_gateway_keys_state_t *st, ngx_msec_t now)
{
    return !st->begun || st->early || ngx_gateway_keys_after(now, st->next);
}


void
ngx_gateway_keys_begin(ngx_gateway_keys_state_t *st, ngx_msec_t now)
{
    st->begun = 1;
    st->early = 0;
    st->started = now;
}


void
ngx_gateway_keys_end(ngx_gateway_keys_state_t *st,
    ngx_gateway_keys_conf_t *conf, ngx_msec_t now, ngx_uint_t ok,
    ngx_uint_t changed, time_t max_age)
{
    ngx_uint_t  n;
    ngx_msec_t  wait;

    st->attempts++;

    if (ok) {
        st->failures = 0;

        if (changed || st->generation == 0) {
            st->generation++;
        }

        wait = conf->refresh;

        if (max_age >= 0 && (uint64_t) max_age * 1000 < wait) {
            wait = (ngx_msec_t) max_age * 1000;
        }

        if (wait < conf->min_refresh) {
            wait = conf->min_refresh;
        }

        st->next = now + wait;
        return;
    }

    st->failures++;

    wait = NGX_GATEWAY_KEYS_BACKOFF;

    for (n = 1; n < st->failures && wait < conf->refresh; n++) {
        wait *= 2;
    }

    if (wait > conf->refresh) {
        wait = conf->refresh;
    }

    st->next = now + wait;
}


ngx_int_t
ngx_gateway_keys_unknown(ngx_gateway_keys_state_t *st,
    ngx_gateway_keys_conf_t *conf, ngx_msec_t now)
{
    if (st->begun
        && !ngx_gateway_keys_after(now, st->started + conf->min_refresh))
    {
        return NGX_DECLINED;
    }

    st->early = 1;

    return NGX_OK;
}


ngx_msec_t
ngx_gateway_keys_wait(ngx_gateway_keys_state_t *st, ngx_msec_t now)
{
    if (ngx_gateway_keys_due(st, now)) {
        return 0;
    }

    return st->next - now;
}


ngx_int_t
ngx_gateway_keys_discovery(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_str_t *issuer, ngx_str_t *jwks_uri, ngx_str_t *err)
{
    char               *msg;
    size_t              n;
    json_t             *root, *iss, *uri;
    ngx_int_t           rc;
    ngx_str_t           s;
    json_error_t        error;
    ngx_gateway_url_t   u, iu;

    root = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES,
                      &error);

    if (root == NULL) {
        err->data = ngx_pnalloc(pool, 80);
        if (err->data == NULL) {
            return NGX_ERROR;
        }

        err->len = ngx_sprintf(err->data, "invalid JSON at line %d, "
                               "column %d", error.line, error.column)
                   - err->data;
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    if (!json_is_object(root)) {
        ngx_str_set(err, "the document is not a JSON object");
        goto done;
    }

    iss = json_object_get(root, "issuer");

    if (!json_is_string(iss)) {
        ngx_str_set(err, "the document has no \"issuer\" string");
        goto done;
    }

    n = json_string_length(iss);

    if (n != issuer->len
        || ngx_memcmp(json_string_value(iss), issuer->data, n) != 0)
    {
        ngx_str_set(err, "the document's \"issuer\" is not the issuer "
                         "configured");
        goto done;
    }

    uri = json_object_get(root, "jwks_uri");

    if (!json_is_string(uri)) {
        ngx_str_set(err, "the document has no \"jwks_uri\" string");
        goto done;
    }

    s.len = json_string_length(uri);
    s.data = (u_char *) json_string_value(uri);

    if (ngx_gateway_url_parse(&s, &u, &msg) != NGX_OK) {
        ngx_str_set(err, "the document's \"jwks_uri\" is not a valid URL");
        goto done;
    }

    if (!u.ssl
        && (ngx_gateway_url_parse(issuer, &iu, &msg) != NGX_OK || iu.ssl))
    {
        ngx_str_set(err, "the document's \"jwks_uri\" is not https");
        goto done;
    }

    jwks_uri->data = ngx_pnalloc(pool, s.len);
    if (jwks_uri->data == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    ngx_memcpy(jwks_uri->data, s.data, s.len);
    jwks_uri->len = s.len;

    rc = NGX_OK;

done:

    json_decref(root);

    return rc;
}


ngx_int_t
ngx_gateway_keys_discovery_url(ngx_pool_t *pool, ngx_str_t *issuer,
    ngx_str_t *url)
{
    size_t  len;

    len = issuer->len;

    /* "https://id.example.com/" and "https://id.example.com" alike */

    if (len && issuer->data[len - 1] == '/') {
        len--;
    }

    url->data = ngx_pnalloc(pool, len
                                  + sizeof("/.well-known/openid-configuration")
                                  - 1);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    url->len = ngx_sprintf(url->data, "%*s/.well-known/openid-configuration",
                           len, issuer->data)
               - url->data;

    return NGX_OK;
}
