
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * How many tokens one core verifies per second, through
 * ngx_gateway_jwt_verify() as a request would: a fresh pool per
 * token, the JSON parsed, the claims checked.  Not a test.
 *
 *   bench_jwt [iterations]      (default 20000 per algorithm)
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ngx_config.h>
#include <ngx_core.h>
#include "fuzz/nginx_stubs.h"
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include "ngx_gateway_jwt.h"


#define BENCH_NOW  1700000000


static void
die(const char *what)
{
    fprintf(stderr, "bench_jwt: %s failed\n", what);
    exit(1);
}


static char *
b64(const u_char *d, size_t len, char *out)
{
    static const char  digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                  "abcdefghijklmnopqrstuvwxyz0123456789-_";
    char              *o;
    size_t             i;
    uint32_t           v;

    o = out;

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

    *o = '\0';

    return out;
}


static char *
bn_param(EVP_PKEY *pkey, const char *name, size_t pad, char *out)
{
    u_char   buf[512];
    int      n;
    BIGNUM  *bn;

    bn = NULL;

    if (EVP_PKEY_get_bn_param(pkey, name, &bn) != 1) {
        die("EVP_PKEY_get_bn_param");
    }

    n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    BN_free(bn);

    return b64(buf, n, out);
}


/* header.payload.signature, the signature as JWS wants it */

static void
sign(const char *alg, EVP_PKEY *pkey, const u_char *secret, char *token)
{
    u_char          sig[1024], raw[132];
    char            h[256], p[256], s[2048];
    size_t          len;
    unsigned int    hlen;
    const BIGNUM   *r, *ss;
    ECDSA_SIG      *es;
    EVP_MD_CTX     *mctx;
    const u_char   *q;
    const EVP_MD   *md;

    snprintf(token, 4096, "%s.%s",
             b64((u_char *) h, sprintf(h, "{\"alg\":\"%s\",\"kid\":\"k\"}",
                                       alg), s),
             b64((u_char *) p, sprintf(p, "{\"sub\":\"bench\",\"exp\":%d,"
                                       "\"iss\":\"https://idp.example\"}",
                                       BENCH_NOW + 3600), s + 512));

    md = (strcmp(alg, "EdDSA") == 0) ? NULL : EVP_sha256();

    if (secret != NULL) {
        HMAC(md, secret, 32, (u_char *) token, strlen(token), sig, &hlen);
        len = hlen;

    } else {
        mctx = EVP_MD_CTX_new();
        len = sizeof(sig);

        if (EVP_DigestSignInit(mctx, NULL, md, NULL, pkey) != 1
            || EVP_DigestSign(mctx, sig, &len, (u_char *) token,
                              strlen(token))
               != 1)
        {
            die("EVP_DigestSign");
        }

        EVP_MD_CTX_free(mctx);

        if (strcmp(alg, "ES256") == 0) {
            q = sig;
            es = d2i_ECDSA_SIG(NULL, &q, len);
            ECDSA_SIG_get0(es, &r, &ss);
            BN_bn2binpad(r, raw, 32);
            BN_bn2binpad(ss, raw + 32, 32);
            ECDSA_SIG_free(es);
            memcpy(sig, raw, 64);
            len = 64;
        }
    }

    strcat(token, ".");
    strcat(token, b64(sig, len, s));
}


static double
now_seconds(clockid_t clock)
{
    struct timespec  ts;

    clock_gettime(clock, &ts);

    return ts.tv_sec + ts.tv_nsec / 1e9;
}


static void
bench(const char *name, const char *jwk, EVP_PKEY *pkey,
    const u_char *secret, long n)
{
    char                            token[4096];
    long                            i;
    double                          wall, cpu;
    ngx_str_t                       t, err;
    ngx_pool_t                     *pool, *cf;
    ngx_gateway_jwt_t               jwt;
    ngx_gateway_jwks_t              jwks;
    ngx_gateway_jwt_policy_t        policy;

    cf = ngx_create_pool(4096, &nginx_stub_log);
    if (cf == NULL) {
        die("ngx_create_pool");
    }

    if (ngx_gateway_jwks_parse(cf, (u_char *) jwk, strlen(jwk), &jwks,
                               &err)
        != NGX_OK)
    {
        fprintf(stderr, "%.*s\n", (int) err.len, err.data);
        die("ngx_gateway_jwks_parse");
    }

    sign(name, pkey, secret, token);

    t.data = (u_char *) token;
    t.len = strlen(token);

    ngx_memzero(&policy, sizeof(policy));
    ngx_str_set(&policy.issuer, "https://idp.example");

    wall = now_seconds(CLOCK_MONOTONIC);
    cpu = now_seconds(CLOCK_PROCESS_CPUTIME_ID);

    for (i = 0; i < n; i++) {
        pool = ngx_create_pool(1024, &nginx_stub_log);
        if (pool == NULL) {
            die("ngx_create_pool");
        }

        if (ngx_gateway_jwt_verify(pool, &t, &jwks, &policy, BENCH_NOW,
                                   &jwt)
            != NGX_GATEWAY_JWT_OK)
        {
            die("ngx_gateway_jwt_verify");
        }

        ngx_destroy_pool(pool);
    }

    wall = now_seconds(CLOCK_MONOTONIC) - wall;
    cpu = now_seconds(CLOCK_PROCESS_CPUTIME_ID) - cpu;

    printf("%-6s %8ld verifications  %7.3f s CPU  %9.0f /s per core  "
           "(%.1f us each)\n", name, n, cpu, n / cpu, cpu * 1e6 / n);

    (void) wall;

    ngx_destroy_pool(cf);
}


int
main(int argc, char **argv)
{
    long       n;
    char       jwk[2048], bx[128], by[128], bn[512], be[16];
    u_char     secret[32], raw[32];
    size_t     len;
    EVP_PKEY  *rsa, *p256, *ed;

    n = (argc > 1) ? atol(argv[1]) : 20000;

    if (n <= 0) {
        fprintf(stderr, "usage: bench_jwt [iterations]\n");
        return 2;
    }

    nginx_stubs_init();

    rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) 2048);
    p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");

    if (rsa == NULL || p256 == NULL || ed == NULL
        || RAND_bytes(secret, sizeof(secret)) != 1)
    {
        die("key generation");
    }

    printf("%s, one thread\n", OpenSSL_version(OPENSSL_VERSION));

    snprintf(jwk, sizeof(jwk), "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"k\","
             "\"alg\":\"RS256\",\"n\":\"%s\",\"e\":\"%s\"}]}",
             bn_param(rsa, OSSL_PKEY_PARAM_RSA_N, 0, bn),
             bn_param(rsa, OSSL_PKEY_PARAM_RSA_E, 0, be));
    bench("RS256", jwk, rsa, NULL, n);

    snprintf(jwk, sizeof(jwk), "{\"keys\":[{\"kty\":\"EC\",\"kid\":\"k\","
             "\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}]}",
             bn_param(p256, OSSL_PKEY_PARAM_EC_PUB_X, 32, bx),
             bn_param(p256, OSSL_PKEY_PARAM_EC_PUB_Y, 32, by));
    bench("ES256", jwk, p256, NULL, n);

    len = sizeof(raw);
    EVP_PKEY_get_raw_public_key(ed, raw, &len);
    snprintf(jwk, sizeof(jwk), "{\"keys\":[{\"kty\":\"OKP\",\"kid\":\"k\","
             "\"crv\":\"Ed25519\",\"x\":\"%s\"}]}", b64(raw, len, bx));
    bench("EdDSA", jwk, ed, NULL, n);

    snprintf(jwk, sizeof(jwk), "{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\","
             "\"k\":\"%s\"}]}", b64(secret, sizeof(secret), bx));
    bench("HS256", jwk, NULL, secret, n);

    EVP_PKEY_free(rsa);
    EVP_PKEY_free(p256);
    EVP_PKEY_free(ed);

    return 0;
}
