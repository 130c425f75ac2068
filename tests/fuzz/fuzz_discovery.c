
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * libFuzzer harness of ngx_gateway_keys_discovery(): the input is an
 * OpenID Connect discovery document, as a provider (or whoever answers in
 * its place) sends it.  A document taken must name the issuer asked and
 * give an http(s) URL that ngx_gateway_url_parse() takes; a refused one a
 * printable error with none of the document's bytes.  Invariants are
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
    char               *msg;
    size_t              i, k;
    ngx_int_t           rc;
    ngx_str_t           uri, err;
    ngx_pool_t         *pool;
    ngx_gateway_url_t   u;

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

    ngx_destroy_pool(pool);

    return 0;
}
