
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * libFuzzer harness of what the gateway reads from an identity provider:
 * the input is an OpenID Connect discovery document, and then a JWK Set,
 * as a provider (or whoever answers in its place) sends them.
 * ngx_gateway_keys_discovery(): a document taken names the issuer asked
 * and gives an http(s) URL that ngx_gateway_url_parse() takes; a refused
 * one a printable error.  ngx_gateway_keys_parse(): a set taken has keys,
 * public ones only, and counts the ones it skipped.  Invariants are
 * checked with abort().
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ngx_config.h>
#include <ngx_core.h>
#include "nginx_stubs.h"
#include "ngx_gateway_http.h"
#include "ngx_gateway_keys.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static ngx_str_t  fuzz_issuers[] = {
    ngx_string("https://id.example.com"),
    ngx_string("http://127.0.0.1:8080")
};


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                *msg;
    size_t               i, k;
    ngx_int_t            rc;
    ngx_str_t            uri, err;
    ngx_uint_t           skipped;
    ngx_pool_t          *pool;
    ngx_gateway_url_t    u;
    ngx_gateway_jwks_t   jwks;

    pool = ngx_create_pool(1024, &nginx_stub_log);
    if (pool == NULL) {
        abort();
    }

    for (k = 0; k < sizeof(fuzz_issuers) / sizeof(fuzz_issuers[0]); k++) {

        ngx_str_null(&uri);
        ngx_str_null(&err);

        rc = ngx_gateway_keys_discovery(pool, (u_char *) data, size,
                                        &fuzz_issuers[k], &uri, &err);

        if (rc == NGX_DECLINED) {
            if (err.len == 0 || uri.data != NULL) {
                abort();
            }

            for (i = 0; i < err.len; i++) {
                if (err.data[i] < 0x20 || err.data[i] > 0x7e) {
                    abort();
                }
            }

            continue;
        }

        if (rc != NGX_OK || uri.len == 0
            || ngx_gateway_url_parse(&uri, &u, &msg) != NGX_OK)
        {
            abort();
        }

        /* https only, unless the issuer itself is http */
        if (!u.ssl && k == 0) {
            abort();
        }

        /* the URL is a copy: not a pointer into the input */
        if (uri.data >= (u_char *) data && uri.data < (u_char *) data + size)
        {
            abort();
        }
    }

    rc = ngx_gateway_keys_parse(pool, (u_char *) data, size, &jwks,
                                &skipped, &err);

    if (rc == NGX_OK) {
        if (jwks.nkeys == 0 || (skipped && err.len == 0)) {
            abort();
        }

        for (i = 0; i < jwks.nkeys; i++) {
            if (jwks.keys[i].pkey == NULL || jwks.keys[i].secret.len) {
                abort();
            }
        }

    } else if (rc != NGX_DECLINED || err.len == 0 || jwks.nkeys != 0) {
        abort();
    }

    for (i = 0; i < err.len; i++) {
        if (err.data[i] < 0x20 || err.data[i] > 0x7e) {
            abort();
        }
    }

    ngx_destroy_pool(pool);

    return 0;
}
