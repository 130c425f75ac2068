
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * libFuzzer harness of ngx_gateway_jwks_parse(): the input is the
 * JSON text of a JWK Set.  A loaded set must hold only well-formed keys,
 * a refused one a printable error; the published RFC 7515 tokens are then
 * verified against every set that loads, to reach key selection with
 * arbitrary keys.  Invariants are checked with abort().
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ngx_config.h>
#include <ngx_core.h>
#include "nginx_stubs.h"
#include "ngx_gateway_jwt.h"


static ngx_str_t  fuzz_tokens[] = {
    ngx_string("eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
               "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9l"
               "eGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
               "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    ngx_string("eyJhbGciOiJFUzI1NiJ9."
               "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9l"
               "eGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
               "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8I"
               "SlSApmWQxfKTUJqPP3-Kg6NU1Q"),
    ngx_string("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
               "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylG"
               "jg5BhVsPt9g7sVvpAr_MuM0KAg"),
    ngx_string("eyJhbGciOiJIUzI1NiIsImtpZCI6ImsifQ."
               "eyJleHAiOjEzMDA4MTkzODB9.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
               "AAAAAAA")
};


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static ngx_uint_t
fuzz_one_bit(ngx_uint_t alg)
{
    return alg != 0 && (alg & (alg - 1)) == 0
           && (alg & ~(ngx_uint_t) NGX_GATEWAY_JWT_ALL_ALGS) == 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                          i;
    ngx_int_t                       rc;
    ngx_str_t                       err;
    ngx_pool_t                     *pool;
    ngx_gateway_jwk_t              *key;
    ngx_gateway_jwt_t               jwt;
    ngx_gateway_jwks_t              jwks;
    ngx_gateway_jwt_policy_t        policy;

    pool = ngx_create_pool(1024, &nginx_stub_log);
    if (pool == NULL) {
        abort();
    }

    rc = ngx_gateway_jwks_parse(pool, (u_char *) data, size, &jwks,
                                &err);

    if (rc == NGX_DECLINED) {
        if (err.len == 0 || jwks.nkeys != 0 || jwks.keys != NULL) {
            abort();
        }

        for (i = 0; i < err.len; i++) {
            if (err.data[i] < 0x20 || err.data[i] > 0x7e) {
                abort();
            }
        }

        goto done;
    }

    if (rc != NGX_OK || jwks.nkeys == 0) {
        abort();
    }

    for (i = 0; i < jwks.nkeys; i++) {
        key = &jwks.keys[i];

        if (!fuzz_one_bit(key->alg)
            || key->kid.len > NGX_GATEWAY_JWT_MAX_KID
            || (key->pkey == NULL) == (key->secret.len == 0))
        {
            abort();
        }

        if (key->pkey == NULL && key->secret.len < 32) {
            abort();
        }
    }

    ngx_memzero(&policy, sizeof(policy));

    for (i = 0; i < sizeof(fuzz_tokens) / sizeof(fuzz_tokens[0]); i++) {
        (void) ngx_gateway_jwt_verify(pool, &fuzz_tokens[i], &jwks,
                                      &policy, 1300819000, &jwt);
    }

done:

    ngx_destroy_pool(pool);

    return 0;
}
