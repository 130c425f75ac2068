
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include "ngx_gateway_http.h"
#include "ngx_gateway_keys.h"


#define ngx_gateway_keys_after(a, b)  ((ngx_msec_int_t) ((a) - (b)) >= 0)


static ngx_int_t ngx_gateway_keys_json_error(ngx_pool_t *pool,
    json_error_t *error, ngx_str_t *err);


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
    st->later = 0;
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
        goto later;
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

later:

    /* a key asked for while this fetch was under way: it may lack it */

    if (st->later) {
        st->later = 0;

        if (ngx_gateway_keys_after(st->next, st->started + conf->min_refresh))
        {
            st->next = st->started + conf->min_refresh;
        }
    }
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


void
ngx_gateway_keys_clamp(ngx_gateway_keys_state_t *st,
    ngx_gateway_keys_conf_t *conf, ngx_msec_t now)
{
    if (st->begun && ngx_gateway_keys_after(st->next, now + conf->refresh)) {
        st->next = now + conf->refresh;
    }
}


void
ngx_gateway_keys_later(ngx_gateway_keys_state_t *st,
    ngx_gateway_keys_conf_t *conf)
{
    if (!st->begun) {
        return;
    }

    /* the fetch under way, if one is, moves it when it ends */

    st->later = 1;

    if (ngx_gateway_keys_after(st->next, st->started + conf->min_refresh)) {
        st->next = st->started + conf->min_refresh;
    }
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
        return ngx_gateway_keys_json_error(pool, &error, err);
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
        && (ngx_gateway_url_parse(issuer, &iu, &msg) != NGX_OK || iu.ssl
            || !ngx_gateway_keys_url_allowed(&u)))
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
ngx_gateway_keys_parse(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_gateway_jwks_t *jwks, ngx_uint_t *skipped, ngx_str_t *err)
{
    u_char              *p;
    json_t              *root, *keys, *key, *v;
    ngx_int_t            rc;
    ngx_str_t            why;
    ngx_uint_t           i, j, n;
    const char          *kty, *use;
    json_error_t         error;
    ngx_gateway_jwk_t   *k;
    ngx_gateway_jwks_t  *set, one;
    ngx_pool_cleanup_t  *cln;

    jwks->keys = NULL;
    jwks->nkeys = 0;
    *skipped = 0;
    ngx_str_null(err);

    root = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES,
                      &error);

    if (root == NULL) {
        return ngx_gateway_keys_json_error(pool, &error, err);
    }

    keys = json_object_get(root, "keys");

    if (!json_is_object(root) || !json_is_array(keys)) {
        ngx_str_set(err, "the document is no JWK Set: no \"keys\" array");
        json_decref(root);
        return NGX_DECLINED;
    }

    n = json_array_size(keys);
    rc = NGX_ERROR;

    /* the cleanup frees what each slot holds, filled or not */

    set = ngx_palloc(pool, sizeof(ngx_gateway_jwks_t));
    k = ngx_pcalloc(pool, (n ? n : 1) * sizeof(ngx_gateway_jwk_t));
    cln = ngx_pool_cleanup_add(pool, 0);

    if (set == NULL || k == NULL || cln == NULL) {
        goto done;
    }

    set->keys = k;
    set->nkeys = n;
    cln->handler = ngx_gateway_jwks_cleanup;
    cln->data = set;

    jwks->keys = k;

    for (i = 0; i < n; i++) {
        key = json_array_get(keys, i);

        v = json_object_get(key, "kty");
        kty = json_is_string(v) ? json_string_value(v) : NULL;
        v = json_object_get(key, "use");
        use = json_is_string(v) ? json_string_value(v) : NULL;

        if (kty && ngx_strcmp(kty, "oct") == 0) {
            ngx_str_set(&why, "a secret (\"kty\": \"oct\") is never "
                              "taken from a provider");
            goto skip;
        }

        if (use && ngx_strcmp(use, "sig") != 0) {
            ngx_str_set(&why, "a key not for signatures (\"use\")");
            goto skip;
        }

        /* into the next free slot: it stays there if taken */

        rc = ngx_gateway_jwk_load(pool, key, i, &k[jwks->nkeys], &why);

        if (rc == NGX_ERROR) {
            goto done;
        }

        if (rc != NGX_OK) {
            /* why names the key already */
            goto refused;
        }

        for (j = 0; k[jwks->nkeys].kid.len && j < jwks->nkeys; j++) {
            if (k[j].kid.len == k[jwks->nkeys].kid.len
                && ngx_strncmp(k[j].kid.data, k[jwks->nkeys].kid.data,
                               k[j].kid.len)
                   == 0)
            {
                break;
            }
        }

        if (k[jwks->nkeys].kid.len && j < jwks->nkeys) {
            ngx_str_set(&why, "a \"kid\" seen before");
            goto skip;
        }

        jwks->nkeys++;
        continue;

    skip:

        /* a reason of this function's: the key named as the loader does */

        if (*skipped == 0) {
            p = ngx_pnalloc(pool, why.len + 32);
            if (p == NULL) {
                goto done;
            }

            why.len = ngx_sprintf(p, "key %ui: %V", i, &why) - p;
            why.data = p;
        }

    refused:

        if ((*skipped)++ == 0) {
            *err = why;
        }

        /* the slot, emptied, is the next key's */

        one.keys = &k[jwks->nkeys];
        one.nkeys = 1;
        ngx_gateway_jwks_cleanup(&one);
        ngx_memzero(&k[jwks->nkeys], sizeof(ngx_gateway_jwk_t));
    }

    if (jwks->nkeys == 0) {
        rc = NGX_DECLINED;

        if (err->len == 0) {
            ngx_str_set(err, "the JWK Set is empty");
        }

        goto done;
    }

    rc = NGX_OK;

done:

    json_decref(root);

    if (rc == NGX_ERROR) {
        ngx_str_set(err, "no memory");
    }

    return rc;
}


/* where, never jansson's text: it quotes the document */

static ngx_int_t
ngx_gateway_keys_json_error(ngx_pool_t *pool, json_error_t *error,
    ngx_str_t *err)
{
    err->data = ngx_pnalloc(pool, 80);
    if (err->data == NULL) {
        return NGX_ERROR;
    }

    err->len = ngx_sprintf(err->data, "invalid JSON at line %d, column %d",
                           error->line, error->column)
               - err->data;

    return NGX_DECLINED;
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


ngx_uint_t
ngx_gateway_keys_url_allowed(ngx_gateway_url_t *u)
{
    if (u->ssl) {
        return 1;
    }

    if (!u->ip) {
        return 0;
    }

    if (u->host.len == 3 && ngx_strncmp(u->host.data, "::1", 3) == 0) {
        return 1;
    }

    /* no IPv6 literal begins so */

    return u->host.len > 4 && ngx_strncmp(u->host.data, "127.", 4) == 0;
}
