
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * libFuzzer harness of ngx_gateway_jwt_verify().  The first byte of
 * an input chooses how the rest is used:
 *
 *   0  the rest is a token, verified against the published keys of
 *      RFC 7515 appendix A and RFC 8037 (HS256, RS256, ES256, ES512,
 *      EdDSA), at a time before the RFC tokens expire;
 *   1  the rest is "header JSON \0 payload JSON": the harness encodes and
 *      HMAC-signs it with the RFC 7515 A.1 key, so that header checks,
 *      claims and ngx_gateway_jwt_claim() are reached with a valid
 *      signature;
 *   2  as 1, preceded by 8 bytes of "now".
 *
 * The second byte (modes 1 and 2) sets the policy: issuer, audiences,
 * leeway, algorithms.  Invariants are checked with abort().
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ngx_config.h>
#include <ngx_core.h>
#include "nginx_stubs.h"
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "ngx_gateway_jwt.h"


#define FUZZ_NOW  1300819000


static const char  fuzz_jwks_json[] =
    "{\"keys\":["
    "{\"kty\":\"oct\",\"kid\":\"hs\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObw"
    "VMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"},"
    "{\"kty\":\"RSA\",\"kid\":\"rs\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p"
    "4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4Q"
    "lL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL"
    "-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtd"
    "VMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9i"
    "aGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\",\"e\":\"AQAB\"},"
    "{\"kty\":\"RSA\",\"kid\":\"ps\",\"alg\":\"PS256\",\"n\":\"ofgWCuLjybRl"
    "zo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJ"
    "PMEzP1Pt0Bm4d4QlL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo"
    "9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2"
    "R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWN"
    "moudF8NAco9_h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\","
    "\"e\":\"AQAB\"},"
    "{\"kty\":\"EC\",\"kid\":\"es\",\"crv\":\"P-256\","
    "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
    "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
    "{\"kty\":\"EC\",\"kid\":\"es5\",\"crv\":\"P-521\","
    "\"x\":\"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ"
    "6OvLFV1jSfS9tsz4qUxcWceqwQGk\","
    "\"y\":\"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79a"
    "jL4Kkd0AZMaZmh9ubmf63e3kyMj2\"},"
    "{\"kty\":\"OKP\",\"kid\":\"ed\",\"crv\":\"Ed25519\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"
    "]}";


static ngx_pool_t               *fuzz_pool;
static ngx_gateway_jwks_t   fuzz_jwks;
static ngx_str_t                 fuzz_secret;
static ngx_array_t              *fuzz_audiences;


int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    ngx_str_t   err, *aud;
    ngx_uint_t  i;

    nginx_stubs_init();

    fuzz_pool = ngx_create_pool(4096, &nginx_stub_log);
    if (fuzz_pool == NULL) {
        abort();
    }

    if (ngx_gateway_jwks_parse(fuzz_pool, (u_char *) fuzz_jwks_json,
                               sizeof(fuzz_jwks_json) - 1, &fuzz_jwks,
                               &err)
        != NGX_OK)
    {
        abort();
    }

    for (i = 0; i < fuzz_jwks.nkeys; i++) {
        if (fuzz_jwks.keys[i].secret.len) {
            fuzz_secret = fuzz_jwks.keys[i].secret;
        }
    }

    fuzz_audiences = ngx_array_create(fuzz_pool, 2, sizeof(ngx_str_t));
    aud = ngx_array_push_n(fuzz_audiences, 2);
    if (aud == NULL) {
        abort();
    }

    ngx_str_set(&aud[0], "svc");
    ngx_str_set(&aud[1], "http://example.com/is_root");

    return 0;
}


static u_char *
fuzz_b64(u_char *o, const u_char *d, size_t len)
{
    static const char  digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "abcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t             i;
    uint32_t           v;

    for (i = 0; i + 2 < len; i += 3) {
        v = (uint32_t) d[i] << 16 | (uint32_t) d[i + 1] << 8 | d[i + 2];
        *o++ = digits[v >> 18];
        *o++ = digits[(v >> 12) & 63];
        *o++ = digits[(v >> 6) & 63];
        *o++ = digits[v & 63];
    }

    if (len - i == 1) {
        v = (uint32_t) d[i] << 16;
        *o++ = digits[v >> 18];
        *o++ = digits[(v >> 12) & 63];

    } else if (len - i == 2) {
        v = (uint32_t) d[i] << 16 | (uint32_t) d[i + 1] << 8;
        *o++ = digits[v >> 18];
        *o++ = digits[(v >> 12) & 63];
        *o++ = digits[(v >> 6) & 63];
    }

    return o;
}


/* b64(header).b64(payload).b64(HMAC-SHA256), from "header \0 payload" */

static size_t
fuzz_sign(u_char *out, const uint8_t *data, size_t size)
{
    u_char        *p, md[EVP_MAX_MD_SIZE];
    size_t         hlen;
    unsigned int   mdlen;
    const u_char  *nul;

    nul = memchr(data, '\0', size);
    hlen = (nul == NULL) ? size : (size_t) (nul - data);

    p = fuzz_b64(out, data, hlen);
    *p++ = '.';

    if (nul != NULL) {
        p = fuzz_b64(p, nul + 1, size - hlen - 1);
    }

    if (HMAC(EVP_sha256(), fuzz_secret.data, (int) fuzz_secret.len, out,
             p - out, md, &mdlen)
        == NULL)
    {
        abort();
    }

    *p++ = '.';
    p = fuzz_b64(p, md, mdlen);

    return p - out;
}


static void
fuzz_check(ngx_gateway_jwt_status_e rc, ngx_gateway_jwt_t *jwt,
    ngx_pool_t *pool)
{
    size_t       i;
    json_t      *v;
    ngx_str_t   *text, name, value;
    const char  *key;

    text = ngx_gateway_jwt_status_text(rc);

    if (text == NULL || text->len == 0
        || rc > NGX_GATEWAY_JWT_ERROR)
    {
        abort();
    }

    if (rc != NGX_GATEWAY_JWT_OK) {
        if (jwt->payload != NULL || jwt->subject.len != 0) {
            abort();
        }

        return;
    }

    if (jwt->payload == NULL || jwt->expires <= 0) {
        abort();
    }

    json_object_foreach((json_t *) jwt->payload, key, v) {
        name.data = (u_char *) key;
        name.len = strlen(key);

        if (ngx_gateway_jwt_claim(jwt, &name, pool, &value) != NGX_OK) {
            continue;
        }

        for (i = 0; i < value.len; i++) {
            if (value.data[i] < 0x20 || value.data[i] == 0x7f) {
                abort();
            }
        }
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                         *buf;
    time_t                          now;
    ngx_str_t                       token;
    ngx_uint_t                      mode, flags;
    ngx_pool_t                     *pool;
    ngx_gateway_jwt_t               jwt;
    ngx_gateway_jwt_policy_t        policy;
    ngx_gateway_jwt_status_e        rc;

    if (size < 2) {
        return 0;
    }

    mode = data[0] % 3;
    ngx_memzero(&policy, sizeof(policy));
    now = FUZZ_NOW;

    pool = ngx_create_pool(1024, &nginx_stub_log);
    if (pool == NULL) {
        abort();
    }

    if (mode == 0) {
        token.data = (u_char *) data + 1;
        token.len = size - 1;

    } else {
        flags = data[1];
        data += 2;
        size -= 2;

        if (mode == 2) {
            if (size < 8) {
                goto done;
            }

            ngx_memcpy(&now, data, sizeof(int64_t));
            data += 8;
            size -= 8;
        }

        if (flags & 0x01) {
            ngx_str_set(&policy.issuer, "joe");
        }

        if (flags & 0x02) {
            policy.audiences = fuzz_audiences;
        }

        policy.leeway = (flags & 0x04) ? 60 : 0;

        if (flags & 0x08) {
            policy.algorithms = NGX_GATEWAY_JWT_RS256;
        }

        policy.max_size = (flags & 0x10) ? 64 : 0;

        buf = ngx_pnalloc(pool, size * 4 / 3 + 128);
        if (buf == NULL) {
            abort();
        }

        token.data = buf;
        token.len = fuzz_sign(buf, data, size);
    }

    rc = ngx_gateway_jwt_verify(pool, &token, &fuzz_jwks, &policy, now,
                                &jwt);

    fuzz_check(rc, &jwt, pool);

done:

    ngx_destroy_pool(pool);

    return 0;
}
