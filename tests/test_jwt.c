
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * The JWT verifier and the JWK Set loader, against checklist A of
 * research/reliability.md: every key and token is made here with OpenSSL
 * (RSA 2048, P-256, P-384, P-521, Ed25519, HMAC secrets), plus the
 * published vectors of RFC 7515 appendix A and RFC 8037 as a check that
 * does not depend on our own signer.  The clock is an argument.
 */


#include "gateway_test.h"
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include "ngx_gateway_jwt.h"


#define NOW  1700000000

#define OK             NGX_GATEWAY_JWT_OK
#define MALFORMED      NGX_GATEWAY_JWT_MALFORMED
#define TOO_LARGE      NGX_GATEWAY_JWT_TOO_LARGE
#define BAD_ALG        NGX_GATEWAY_JWT_BAD_ALG
#define BAD_HEADER     NGX_GATEWAY_JWT_BAD_HEADER
#define UNKNOWN_KEY    NGX_GATEWAY_JWT_UNKNOWN_KEY
#define BAD_SIGNATURE  NGX_GATEWAY_JWT_BAD_SIGNATURE
#define EXPIRED        NGX_GATEWAY_JWT_EXPIRED
#define NOT_YET_VALID  NGX_GATEWAY_JWT_NOT_YET_VALID
#define BAD_CLAIMS     NGX_GATEWAY_JWT_BAD_CLAIMS
#define BAD_ISSUER     NGX_GATEWAY_JWT_BAD_ISSUER
#define BAD_AUDIENCE   NGX_GATEWAY_JWT_BAD_AUDIENCE


/* the keys every test shares, made once */

static struct {
    EVP_PKEY                 *rsa;
    EVP_PKEY                 *rsa1024;
    EVP_PKEY                 *p256;
    EVP_PKEY                 *p384;
    EVP_PKEY                 *p521;
    EVP_PKEY                 *ed;
    EVP_PKEY                 *attacker;      /* a P-256 key of nobody's */
    u_char                    hs256[32];
    u_char                    hs384[48];
    u_char                    hs512[64];
    u_char                    other[32];     /* another HS256 secret */
    ngx_pool_t               *pool;
    ngx_gateway_jwks_t       *jwks;          /* one key per algorithm */
} K;


/* what a test allocates, freed after it */

static ngx_pool_t                     *P;
static ngx_gateway_jwt_t          J;
static ngx_gateway_jwt_policy_t   POL;


static void
fail_openssl(const char *what)
{
    fprintf(stderr, "OpenSSL: %s failed\n", what);
    fail();
}


static char *
b64(const void *data, size_t len)
{
    static const char   digits[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                   "abcdefghijklmnopqrstuvwxyz0123456789-_";
    char               *out, *o;
    size_t              i;
    const u_char       *d = data;
    uint32_t            v;

    out = ngx_pnalloc(P, len * 4 / 3 + 4);
    assert_non_null(out);
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
b64s(const char *s)
{
    return b64(s, strlen(s));
}


static char *
fmt(const char *f, ...)
{
    int      n;
    char    *s;
    va_list  args;

    s = ngx_pnalloc(P, 16384);
    assert_non_null(s);

    va_start(args, f);
    n = vsnprintf(s, 16384, f, args);
    va_end(args);

    assert_true(n >= 0 && n < 16384);

    return s;
}


static const EVP_MD *
alg_md(const char *alg)
{
    const char  *bits = alg + strlen(alg) - 3;

    if (strcmp(alg, "EdDSA") == 0) {
        return NULL;
    }

    if (strcmp(bits, "256") == 0) {
        return EVP_sha256();
    }

    if (strcmp(bits, "384") == 0) {
        return EVP_sha384();
    }

    return EVP_sha512();
}


static size_t
ec_size(const char *alg)
{
    return (strcmp(alg, "ES256") == 0) ? 32
           : (strcmp(alg, "ES384") == 0) ? 48 : 66;
}


/*
 * A JWS signature of input, as the JOSE algorithm alg makes it: HMAC over
 * secret, or with pkey (ECDSA as R || S).  Returns its length.
 */

static size_t
sign_raw(const char *alg, EVP_PKEY *pkey, const u_char *secret,
    size_t slen, const void *input, size_t len, u_char *out)
{
    u_char         der[256];
    size_t         siglen, n;
    unsigned int   hlen;
    const BIGNUM  *r, *s;
    ECDSA_SIG     *es;
    EVP_MD_CTX    *mctx;
    const u_char  *p;
    const EVP_MD  *md;
    EVP_PKEY_CTX  *pctx;

    md = alg_md(alg);

    if (alg[0] == 'H') {
        assert_non_null(HMAC(md, secret, (int) slen, input, len, out, &hlen));
        return hlen;
    }

    mctx = EVP_MD_CTX_new();
    assert_non_null(mctx);

    if (EVP_DigestSignInit(mctx, &pctx, md, NULL, pkey) != 1) {
        fail_openssl("EVP_DigestSignInit");
    }

    if (alg[0] == 'P') {
        assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING)
                    > 0);
        assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx,
                                                     RSA_PSS_SALTLEN_DIGEST)
                    > 0);
        assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, md) > 0);
    }

    siglen = sizeof(der);

    if (alg[0] == 'E' && alg[1] == 'S') {
        if (EVP_DigestSign(mctx, der, &siglen, input, len) != 1) {
            fail_openssl("EVP_DigestSign");
        }

        EVP_MD_CTX_free(mctx);

        p = der;
        es = d2i_ECDSA_SIG(NULL, &p, siglen);
        assert_non_null(es);

        ECDSA_SIG_get0(es, &r, &s);
        n = ec_size(alg);
        assert_int_equal(BN_bn2binpad(r, out, n), n);
        assert_int_equal(BN_bn2binpad(s, out + n, n), n);
        ECDSA_SIG_free(es);

        return 2 * n;
    }

    siglen = 1024;

    if (EVP_DigestSign(mctx, out, &siglen, input, len) != 1) {
        fail_openssl("EVP_DigestSign");
    }

    EVP_MD_CTX_free(mctx);

    return siglen;
}


/* the test key of an algorithm */

static void
key_of(const char *alg, EVP_PKEY **pkey, const u_char **secret,
    size_t *slen)
{
    *pkey = NULL;
    *secret = NULL;
    *slen = 0;

    if (strcmp(alg, "HS256") == 0) {
        *secret = K.hs256;
        *slen = sizeof(K.hs256);

    } else if (strcmp(alg, "HS384") == 0) {
        *secret = K.hs384;
        *slen = sizeof(K.hs384);

    } else if (strcmp(alg, "HS512") == 0) {
        *secret = K.hs512;
        *slen = sizeof(K.hs512);

    } else if (alg[0] == 'R' || alg[0] == 'P') {
        *pkey = K.rsa;

    } else if (strcmp(alg, "ES256") == 0) {
        *pkey = K.p256;

    } else if (strcmp(alg, "ES384") == 0) {
        *pkey = K.p384;

    } else if (strcmp(alg, "ES512") == 0) {
        *pkey = K.p521;

    } else {
        *pkey = K.ed;
    }
}


/* "b64(header).b64(payload).b64(signature)", signed as "sign_as" */

static char *
token_with(const char *sign_as, EVP_PKEY *pkey, const u_char *secret,
    size_t slen, const char *header, const char *payload)
{
    u_char  sig[1024];
    char   *input;
    size_t  len;

    input = fmt("%s.%s", b64s(header), b64s(payload));
    len = sign_raw(sign_as, pkey, secret, slen, input, strlen(input), sig);

    return fmt("%s.%s", input, b64(sig, len));
}


/* a token signed with the test key of alg, over any header and payload */

static char *
token_raw(const char *alg, const char *header, const char *payload)
{
    size_t         slen;
    EVP_PKEY      *pkey;
    const u_char  *secret;

    key_of(alg, &pkey, &secret, &slen);

    return token_with(alg, pkey, secret, slen, header, payload);
}


/* the usual token: {"alg":alg,"kid":kid} over payload */

static char *
token(const char *alg, const char *kid, const char *payload)
{
    const char  *header;

    header = (kid == NULL) ? fmt("{\"alg\":\"%s\"}", alg)
                           : fmt("{\"alg\":\"%s\",\"kid\":\"%s\"}", alg, kid);

    return token_raw(alg, header, payload);
}


static const char *
claims_ok(void)
{
    return fmt("{\"sub\":\"alice\",\"exp\":%d}", NOW + 3600);
}


static char *
good(const char *alg, const char *kid)
{
    return token(alg, kid, claims_ok());
}


/* token with one character replaced */

static char *
patch(const char *tok, size_t at, char c)
{
    char  *s;

    s = fmt("%s", tok);
    assert_true(at < strlen(s));
    s[at] = c;

    return s;
}


static ngx_gateway_jwt_status_e
verify_n(ngx_gateway_jwks_t *jwks, const char *tok, size_t len,
    time_t now)
{
    ngx_str_t  t;

    t.data = (u_char *) tok;
    t.len = len;

    return ngx_gateway_jwt_verify(P, &t, jwks, &POL, now, &J);
}


static ngx_gateway_jwt_status_e
verify_at(ngx_gateway_jwks_t *jwks, const char *tok, time_t now)
{
    return verify_n(jwks, tok, strlen(tok), now);
}


static ngx_gateway_jwt_status_e
verify(const char *tok)
{
    return verify_at(K.jwks, tok, NOW);
}


/* JWKs of public keys, as JSON text */

static char *
opt(const char *name, const char *value)
{
    return (value == NULL) ? "" : fmt(",\"%s\":\"%s\"", name, value);
}


static char *
bn_b64(EVP_PKEY *pkey, const char *param, size_t pad)
{
    u_char   buf[1024];
    int      n;
    BIGNUM  *bn;

    bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(pkey, param, &bn), 1);

    n = pad ? BN_bn2binpad(bn, buf, pad) : BN_bn2bin(bn, buf);
    assert_true(n > 0);
    BN_free(bn);

    return b64(buf, n);
}


static char *
jwk_rsa(EVP_PKEY *pkey, const char *kid, const char *alg)
{
    return fmt("{\"kty\":\"RSA\"%s%s,\"n\":\"%s\",\"e\":\"%s\"}",
               opt("kid", kid), opt("alg", alg),
               bn_b64(pkey, OSSL_PKEY_PARAM_RSA_N, 0),
               bn_b64(pkey, OSSL_PKEY_PARAM_RSA_E, 0));
}


static char *
jwk_ec(EVP_PKEY *pkey, const char *kid, const char *alg)
{
    int          bits;
    size_t       size;
    const char  *crv;

    bits = EVP_PKEY_get_bits(pkey);
    size = (bits + 7) / 8;
    crv = (bits == 256) ? "P-256" : (bits == 384) ? "P-384" : "P-521";

    return fmt("{\"kty\":\"EC\",\"crv\":\"%s\"%s%s,\"x\":\"%s\","
               "\"y\":\"%s\"}", crv, opt("kid", kid), opt("alg", alg),
               bn_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_X, size),
               bn_b64(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, size));
}


static char *
jwk_okp(EVP_PKEY *pkey, const char *kid, const char *alg)
{
    u_char  x[32];
    size_t  len;

    len = sizeof(x);
    assert_int_equal(EVP_PKEY_get_raw_public_key(pkey, x, &len), 1);

    return fmt("{\"kty\":\"OKP\",\"crv\":\"Ed25519\"%s%s,\"x\":\"%s\"}",
               opt("kid", kid), opt("alg", alg), b64(x, len));
}


static char *
jwk_oct(const u_char *k, size_t len, const char *kid, const char *alg)
{
    return fmt("{\"kty\":\"oct\"%s%s,\"k\":\"%s\"}", opt("kid", kid),
               opt("alg", alg), b64(k, len));
}


/* {"keys":[a, b, ...]} of the JWKs given, up to NULL */

static char *
jwks_json(const char *first, ...)
{
    char        *s;
    va_list      args;
    const char  *jwk;

    s = fmt("{\"keys\":[%s", first == NULL ? "" : first);

    va_start(args, first);

    for (jwk = first ? va_arg(args, const char *) : NULL;
         jwk != NULL;
         jwk = va_arg(args, const char *))
    {
        s = fmt("%s,%s", s, jwk);
    }

    va_end(args);

    return fmt("%s]}", s);
}


static ngx_gateway_jwks_t *
load_in(ngx_pool_t *pool, const char *json)
{
    ngx_str_t                 err;
    ngx_gateway_jwks_t       *jwks;

    jwks = ngx_pcalloc(pool, sizeof(ngx_gateway_jwks_t));
    assert_non_null(jwks);

    if (ngx_gateway_jwks_parse(pool, (u_char *) json, strlen(json),
                               jwks, &err)
        != NGX_OK)
    {
        fprintf(stderr, "jwks: %.*s\n", (int) err.len, err.data);
        fail();
    }

    return jwks;
}


static ngx_gateway_jwks_t *
load(const char *json)
{
    return load_in(P, json);
}


/* the error of a JWK Set that must be refused, as a C string */

static const char *
load_error(const char *json)
{
    ngx_str_t                err;
    ngx_gateway_jwks_t       jwks;

    assert_int_equal(ngx_gateway_jwks_parse(P, (u_char *) json,
                                            strlen(json), &jwks, &err),
                     NGX_DECLINED);

    assert_int_equal(jwks.nkeys, 0);
    assert_null(jwks.keys);
    assert_true(err.len > 0);

    return fmt("%.*s", (int) err.len, err.data);
}


#define assert_refused(json, text)                                           \
    assert_non_null(strstr(load_error(json), text))


static EVP_PKEY *
keygen(const char *type, const char *curve, unsigned bits)
{
    EVP_PKEY  *pkey;

    if (strcmp(type, "RSA") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t) bits);

    } else if (strcmp(type, "EC") == 0) {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve);

    } else {
        pkey = EVP_PKEY_Q_keygen(NULL, NULL, type);
    }

    if (pkey == NULL) {
        fail_openssl("EVP_PKEY_Q_keygen");
    }

    return pkey;
}


static int
group_setup(void **state)
{
    ngx_pool_t  *saved;

    K.rsa = keygen("RSA", NULL, 2048);
    K.rsa1024 = keygen("RSA", NULL, 1024);
    K.p256 = keygen("EC", "P-256", 0);
    K.p384 = keygen("EC", "P-384", 0);
    K.p521 = keygen("EC", "P-521", 0);
    K.ed = keygen("ED25519", NULL, 0);
    K.attacker = keygen("EC", "P-256", 0);

    assert_int_equal(RAND_bytes(K.hs256, sizeof(K.hs256)), 1);
    assert_int_equal(RAND_bytes(K.hs384, sizeof(K.hs384)), 1);
    assert_int_equal(RAND_bytes(K.hs512, sizeof(K.hs512)), 1);
    assert_int_equal(RAND_bytes(K.other, sizeof(K.other)), 1);

    K.pool = gateway_test_pool();

    /* the helpers allocate in P: the group's pool for now */

    saved = P;
    P = K.pool;

    K.jwks = load_in(K.pool, jwks_json(
        jwk_oct(K.hs256, 32, "hs256", "HS256"),
        jwk_oct(K.hs384, 48, "hs384", "HS384"),
        jwk_oct(K.hs512, 64, "hs512", "HS512"),
        jwk_rsa(K.rsa, "rs256", "RS256"),
        jwk_rsa(K.rsa, "rs384", "RS384"),
        jwk_rsa(K.rsa, "rs512", "RS512"),
        jwk_rsa(K.rsa, "ps256", "PS256"),
        jwk_rsa(K.rsa, "ps384", "PS384"),
        jwk_rsa(K.rsa, "ps512", "PS512"),
        jwk_ec(K.p256, "es256", "ES256"),
        jwk_ec(K.p384, "es384", "ES384"),
        jwk_ec(K.p521, "es512", "ES512"),
        jwk_okp(K.ed, "ed", "EdDSA"),
        NULL));

    P = saved;

    assert_int_equal(K.jwks->nkeys, 13);

    return 0;
}


static int
group_teardown(void **state)
{
    ngx_destroy_pool(K.pool);

    EVP_PKEY_free(K.rsa);
    EVP_PKEY_free(K.rsa1024);
    EVP_PKEY_free(K.p256);
    EVP_PKEY_free(K.p384);
    EVP_PKEY_free(K.p521);
    EVP_PKEY_free(K.ed);
    EVP_PKEY_free(K.attacker);

    return 0;
}


static int
setup(void **state)
{
    P = gateway_test_pool();

    ngx_memzero(&POL, sizeof(POL));
    ngx_memzero(&J, sizeof(J));

    return 0;
}


static int
teardown(void **state)
{
    ngx_destroy_pool(P);
    P = NULL;

    return 0;
}


/* the algorithm table and the status texts */

static void
test_alg_names(void **state)
{
    ngx_str_t    name, *back;
    ngx_uint_t   bit, seen;
    const char  *names[] = { "HS256", "HS384", "HS512", "RS256", "RS384",
                             "RS512", "PS256", "PS384", "PS512", "ES256",
                             "ES384", "ES512", "EdDSA" };
    const char  *bad[] = { "none", "None", "NONE", "hs256", "HS256 ", "",
                           "RS1", "EDDSA", "eddsa", "Ed25519", "ES256K",
                           "HS2560" };
    size_t       i;

    seen = 0;

    for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        name.data = (u_char *) names[i];
        name.len = strlen(names[i]);

        bit = ngx_gateway_jwt_alg(&name);
        assert_int_equal(bit, 1u << i);
        seen |= bit;

        back = ngx_gateway_jwt_alg_name(bit);
        assert_non_null(back);
        assert_int_equal(back->len, name.len);
        assert_memory_equal(back->data, name.data, name.len);
    }

    assert_int_equal(seen, NGX_GATEWAY_JWT_ALL_ALGS);
    assert_int_equal(NGX_GATEWAY_JWT_EDDSA, 0x1000);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        name.data = (u_char *) bad[i];
        name.len = strlen(bad[i]);
        assert_int_equal(ngx_gateway_jwt_alg(&name), 0);
    }

    assert_null(ngx_gateway_jwt_alg_name(0));
    assert_null(ngx_gateway_jwt_alg_name(3));
    assert_null(ngx_gateway_jwt_alg_name(0x2000));
}


static void
test_status_texts(void **state)
{
    int         s, t;
    ngx_str_t  *a, *b;

    for (s = NGX_GATEWAY_JWT_OK; s <= NGX_GATEWAY_JWT_ERROR; s++) {
        a = ngx_gateway_jwt_status_text(s);
        assert_non_null(a);
        assert_true(a->len > 0);

        for (t = 0; t < s; t++) {
            b = ngx_gateway_jwt_status_text(t);
            assert_false(a->len == b->len
                         && ngx_memcmp(a->data, b->data, a->len) == 0);
        }
    }

    a = ngx_gateway_jwt_status_text(NGX_GATEWAY_JWT_EXPIRED);
    assert_int_equal(a->len, 7);
    assert_memory_equal(a->data, "expired", 7);

    a = ngx_gateway_jwt_status_text(NGX_GATEWAY_JWT_BAD_SIGNATURE);
    assert_memory_equal(a->data, "bad signature", 13);

    b = ngx_gateway_jwt_status_text(NGX_GATEWAY_JWT_ERROR);
    assert_ptr_equal(ngx_gateway_jwt_status_text(1000), b);
}


/* RFC 4648 s.5, strictly */

static ngx_int_t
dec(const char *src, u_char *out, size_t *len)
{
    ngx_int_t  rc;
    ngx_str_t  s, d;

    s.data = (u_char *) src;
    s.len = strlen(src);
    d.data = out;
    d.len = 0;

    rc = ngx_gateway_base64url_decode(&d, &s);
    *len = d.len;

    return rc;
}


static void
test_base64url(void **state)
{
    u_char  out[64];
    size_t  len, i;
    struct {
        const char  *enc;
        const char  *dec;
    } good[] = {
        { "", "" }, { "Zg", "f" }, { "Zm8", "fo" }, { "Zm9v", "foo" },
        { "Zm9vYg", "foob" }, { "Zm9vYmE", "fooba" },
        { "Zm9vYmFy", "foobar" }
    };
    const char  *bad[] = {
        "Z",            /* length 1 mod 4 */
        "Zm9vY",
        "Zg==",         /* padding */
        "Zm8=",
        "Zh",           /* unused bits of "Zg" set */
        "Zm9",          /* unused bits of "Zm8" set */
        "Zm9w",         /* fine: a control */
        "+/8",          /* the standard alphabet */
        "-_+A",
        "ab/c",
        "ab c",
        "ab.c",
        "Zm9v\n",
        "Zg=",
    };

    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        assert_int_equal(dec(good[i].enc, out, &len), NGX_OK);
        assert_int_equal(len, strlen(good[i].dec));
        assert_memory_equal(out, good[i].dec, len);
    }

    /* the URL alphabet: "-_8" is fb ff */

    assert_int_equal(dec("-_8", out, &len), NGX_OK);
    assert_int_equal(len, 2);
    assert_int_equal(out[0], 0xfb);
    assert_int_equal(out[1], 0xff);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (strcmp(bad[i], "Zm9w") == 0) {
            assert_int_equal(dec(bad[i], out, &len), NGX_OK);
            continue;
        }

        if (dec(bad[i], out, &len) != NGX_ERROR) {
            fprintf(stderr, "accepted \"%s\"\n", bad[i]);
            fail();
        }
    }

    /* every byte value outside the alphabet, at each position */

    for (i = 0; i < 256; i++) {
        char  s[5] = "AAAA";

        if (isalnum((int) i) || i == '-' || i == '_') {
            continue;
        }

        s[i % 4] = (char) i;

        if (i == 0) {
            ngx_str_t  src = { 4, (u_char *) s }, d = { 0, out };
            assert_int_equal(ngx_gateway_base64url_decode(&d, &src),
                             NGX_ERROR);
            continue;
        }

        assert_int_equal(dec(s, out, &len), NGX_ERROR);
    }
}


/* A1: framing and encoding */

static void
test_positive_every_algorithm(void **state)
{
    size_t       i;
    const char  *algs[][2] = {
        { "HS256", "hs256" }, { "HS384", "hs384" }, { "HS512", "hs512" },
        { "RS256", "rs256" }, { "RS384", "rs384" }, { "RS512", "rs512" },
        { "PS256", "ps256" }, { "PS384", "ps384" }, { "PS512", "ps512" },
        { "ES256", "es256" }, { "ES384", "es384" }, { "ES512", "es512" },
        { "EdDSA", "ed" }
    };
    char        *tok;

    for (i = 0; i < sizeof(algs) / sizeof(algs[0]); i++) {
        tok = good(algs[i][0], algs[i][1]);

        if (verify(tok) != OK) {
            fprintf(stderr, "%s: %d\n", algs[i][0], verify(tok));
            fail();
        }

        assert_int_equal(J.subject.len, 5);
        assert_memory_equal(J.subject.data, "alice", 5);
        assert_int_equal(J.expires, NOW + 3600);
        assert_non_null(J.payload);

        /* the same with its payload changed: not verified */

        tok = fmt("%s.%s.%s", b64s(fmt("{\"alg\":\"%s\",\"kid\":\"%s\"}",
                                       algs[i][0], algs[i][1])),
                  b64s(fmt("{\"sub\":\"admin\",\"exp\":%d}", NOW + 3600)),
                  strrchr(tok, '.') + 1);

        assert_int_equal(verify(tok), BAD_SIGNATURE);
        assert_null(J.payload);
        assert_int_equal(J.subject.len, 0);
    }
}


static void
test_framing(void **state)
{
    char        *tok, *h, *p, *s;
    const char  *bad[8];
    size_t       i;

    tok = good("HS256", "hs256");
    assert_int_equal(verify(tok), OK);

    h = fmt("%.*s", (int) (strchr(tok, '.') - tok), tok);
    p = fmt("%.*s", (int) (strrchr(tok, '.') - strchr(tok, '.') - 1),
            strchr(tok, '.') + 1);
    s = strrchr(tok, '.') + 1;

    bad[0] = h;                                   /* 1 segment */
    bad[1] = fmt("%s.%s", h, p);                  /* 2 segments */
    bad[2] = fmt("%s.%s.%s.%s", h, p, s, s);      /* 4 segments */
    bad[3] = fmt("%s.%s.%s.%s.%s", h, p, s, s, s); /* 5: JWE */
    bad[4] = fmt(".%s.%s.%s", h, p, s);           /* leading dot */
    bad[5] = fmt("%s.%s.%s.", h, p, s);           /* trailing dot */
    bad[6] = fmt("%s..%s.%s", h, p, s);           /* ".." */
    bad[7] = "";

    for (i = 0; i < 8; i++) {
        assert_int_equal(verify(bad[i]), MALFORMED);
    }

    /* empty header, payload or signature (fast-jwt CVE-2026-107720) */

    assert_int_equal(verify(fmt(".%s.%s", p, s)), MALFORMED);
    assert_int_equal(verify(fmt("%s..%s", h, s)), MALFORMED);
    assert_int_equal(verify(fmt("%s.%s.", h, p)), MALFORMED);
    assert_int_equal(verify(".."), MALFORMED);
    assert_int_equal(verify("."), MALFORMED);
}


static void
test_charset(void **state)
{
    char         *tok, *t;
    size_t        i, at[3], len;
    const u_char  bad[] = { ' ', '\t', '+', '/', '=', '{', '"', '%', '\\',
                            0x80, 0xff, 0x00, '\r', '\n', '*', '~' };
    size_t        j;

    tok = good("HS256", "hs256");
    len = strlen(tok);

    at[0] = 3;                                  /* header */
    at[1] = strchr(tok, '.') - tok + 3;         /* payload */
    at[2] = len - 2;                            /* signature */

    for (i = 0; i < sizeof(bad); i++) {
        for (j = 0; j < 3; j++) {
            t = fmt("%s", tok);
            t[at[j]] = (char) bad[i];

            /* length given, as a NUL may be inside */
            assert_int_equal(verify_n(K.jwks, t, len, NOW), MALFORMED);
        }

        /* and appended to the token */

        t = fmt("%s_", tok);
        t[len] = (char) bad[i];
        assert_int_equal(verify_n(K.jwks, t, len + 1, NOW), MALFORMED);
    }

    /* the python-jwt polyglot (CVE-2022-39227): JSON around a token */

    t = fmt("{\"  %s.\":\"\",\"protected\":\"x\"}", tok);
    assert_int_equal(verify(t), MALFORMED);

    /* padding re-added to the signature */

    assert_int_equal(verify(fmt("%s=", tok)), MALFORMED);
}


static void
test_noncanonical_base64(void **state)
{
    char    *tok, *sig, last, *t;
    size_t   len, slen;
    u_char   v;

    /* a 32-byte HMAC is 43 characters: the last one has 2 unused bits */

    tok = good("HS256", "hs256");
    len = strlen(tok);
    sig = strrchr(tok, '.') + 1;
    slen = strlen(sig);
    assert_int_equal(slen, 43);

    last = tok[len - 1];
    v = (u_char) (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                         "0123456789-_", last)
                  - "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789-_");
    assert_int_equal(v & 3, 0);

    /* the same bytes, another encoding (libjwt L16, tink PR 82) */

    t = patch(tok, len - 1,
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
              "0123456789-_"[v | 1]);
    assert_int_equal(verify(t), MALFORMED);

    t = patch(tok, len - 1,
              "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
              "0123456789-_"[v | 2]);
    assert_int_equal(verify(t), MALFORMED);

    /* a segment of length 1 mod 4 */

    assert_int_equal(verify(fmt("%sAA", tok)), MALFORMED);

    /* while 44 characters decode (to 33 bytes: a wrong length) */

    assert_int_equal(verify(fmt("%sA", tok)), BAD_SIGNATURE);

    /* the standard alphabet in place of the URL one */

    t = fmt("%s", tok);
    for (char *c = t; *c; c++) {
        if (*c == '-') {
            *c = '+';
        } else if (*c == '_') {
            *c = '/';
        }
    }

    if (strcmp(t, tok) != 0) {
        assert_int_equal(verify(t), MALFORMED);
    }

    assert_int_equal(verify(tok), OK);
}


static void
test_json_encoding(void **state)
{
    const char  *tok;

    /* invalid UTF-8 in the payload and in the header */

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\"kid\":\"hs256\"}",
                    fmt("{\"sub\":\"\xc3\x28\",\"exp\":%d}", NOW + 60));
    assert_int_equal(verify(tok), MALFORMED);

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\"kid\":\"hs256\","
                    "\"x\":\"\xff\"}", claims_ok());
    assert_int_equal(verify(tok), MALFORMED);

    /* overlong "/" and a UTF-16 surrogate half as UTF-8 */

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\"kid\":\"hs256\","
                    "\"x\":\"\xc0\xaf\"}", claims_ok());
    assert_int_equal(verify(tok), MALFORMED);

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\"kid\":\"hs256\","
                    "\"x\":\"\xed\xa0\x80\"}", claims_ok());
    assert_int_equal(verify(tok), MALFORMED);

    /* a BOM before the JSON */

    tok = token_raw("HS256", "\xef\xbb\xbf{\"alg\":\"HS256\",\"kid\":\"hs256\"}",
                    claims_ok());
    assert_int_equal(verify(tok), MALFORMED);

    /* UTF-16LE JSON */

    {
        char    u16[64], *in, sigb[64];
        u_char  sig[64];
        size_t  n, i, len;
        const char  *h = "{\"alg\":\"HS256\",\"kid\":\"hs256\"}";

        n = strlen(h);
        for (i = 0; i < n; i++) {
            u16[2 * i] = h[i];
            u16[2 * i + 1] = 0;
        }

        in = fmt("%s.%s", b64(u16, 2 * n), b64s(claims_ok()));
        len = sign_raw("HS256", NULL, K.hs256, 32, in, strlen(in), sig);
        snprintf(sigb, sizeof(sigb), "%s", b64(sig, len));
        assert_int_equal(verify(fmt("%s.%s", in, sigb)), MALFORMED);
    }

    /* a string with \u0000 (jansson without JSON_ALLOW_NUL) */

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\"kid\":\"hs256\"}",
                    fmt("{\"sub\":\"admin\\u0000x\",\"exp\":%d}", NOW + 60));
    assert_int_equal(verify(tok), MALFORMED);

    /* trailing bytes after the JSON value */

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\"kid\":\"hs256\"} x",
                    claims_ok());
    assert_int_equal(verify(tok), MALFORMED);

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\"kid\":\"hs256\"}",
                    fmt("%s{}", claims_ok()));
    assert_int_equal(verify(tok), MALFORMED);

    /* the payload is not JSON at all */

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\"kid\":\"hs256\"}",
                    "hello");
    assert_int_equal(verify(tok), MALFORMED);

    /* UTF-8 that is valid is fine, CR LF whitespace too (RFC 7515 A.1) */

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\r\n \"kid\":\"hs256\"}",
                    fmt("{\"sub\":\"Zo\xc3\xab \xf0\x9f\x98\x80\",\"exp\":%d}",
                        NOW + 60));
    assert_int_equal(verify(tok), OK);
}


static void
test_not_objects(void **state)
{
    size_t       i;
    const char  *values[] = { "[]", "\"x\"", "null", "1", "true",
                              "[{\"alg\":\"HS256\"}]", "" };

    for (i = 0; i < sizeof(values) / sizeof(values[0]); i++) {

        /* an empty segment is not even decoded */

        if (values[i][0] == '\0') {
            continue;
        }

        assert_int_equal(verify(token_raw("HS256", values[i], claims_ok())),
                         MALFORMED);

        assert_int_equal(verify(token_raw("HS256",
                                    "{\"alg\":\"HS256\",\"kid\":\"hs256\"}",
                                    values[i])),
                         MALFORMED);
    }
}


static void
test_duplicate_members(void **state)
{
    const char  *tok;

    /* in the header: the second "alg" would be "none" */

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\"alg\":\"none\","
                    "\"kid\":\"hs256\"}", claims_ok());
    assert_int_equal(verify(tok), MALFORMED);

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\"kid\":\"hs256\","
                    "\"kid\":\"other\"}", claims_ok());
    assert_int_equal(verify(tok), MALFORMED);

    /* in the payload: which "sub" would count? */

    tok = token("HS256", "hs256",
                fmt("{\"sub\":\"a\",\"sub\":\"admin\",\"exp\":%d}",
                    NOW + 60));
    assert_int_equal(verify(tok), MALFORMED);

    tok = token("HS256", "hs256",
                fmt("{\"exp\":%d,\"exp\":%d}", NOW + 60, NOW + 99999));
    assert_int_equal(verify(tok), MALFORMED);

    /* nested duplicates too */

    tok = token("HS256", "hs256",
                fmt("{\"exp\":%d,\"x\":{\"a\":1,\"a\":2}}", NOW + 60));
    assert_int_equal(verify(tok), MALFORMED);
}


/* A2: header and algorithm */

static void
test_alg_missing_or_not_a_string(void **state)
{
    size_t       i;
    const char  *headers[] = {
        "{\"kid\":\"hs256\"}",
        "{\"alg\":null,\"kid\":\"hs256\"}",
        "{\"alg\":256,\"kid\":\"hs256\"}",
        "{\"alg\":[\"HS256\"],\"kid\":\"hs256\"}",
        "{\"alg\":{\"HS256\":1},\"kid\":\"hs256\"}",
        "{\"alg\":true,\"kid\":\"hs256\"}",
        "{\"alg\":\"\",\"kid\":\"hs256\"}",
        "{}"
    };

    for (i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        assert_int_equal(verify(token_raw("HS256", headers[i], claims_ok())),
                         BAD_ALG);
    }
}


static void
test_alg_none(void **state)
{
    size_t       i;
    char        *h, *p, *hs;
    const char  *none[] = { "none", "None", "NONE", "nOnE", "noNE", "hs256",
                            "Hs256", "HS256 ", " HS256", "HS256\\u0000",
                            "RS256\\n", "HS-256", "ES256K", "Ed25519",
                            "RSA-OAEP", "dir", "A128KW", "HS1" };

    p = b64s(claims_ok());

    for (i = 0; i < sizeof(none) / sizeof(none[0]); i++) {

        h = fmt("{\"alg\":\"%s\",\"kid\":\"hs256\"}", none[i]);

        /* unsecured: no signature segment at all */

        assert_int_equal(verify(fmt("%s.%s.", b64s(h), p)), MALFORMED);

        /* with some signature bytes */

        assert_int_equal(verify(fmt("%s.%s.AAAA", b64s(h), p)),
                         strstr(none[i], "\\u0000") ? MALFORMED : BAD_ALG);

        /* with a valid HMAC of the HS256 key over that very input */

        hs = token_with("HS256", NULL, K.hs256, 32, h, claims_ok());
        assert_int_equal(verify(hs),
                         strstr(none[i], "\\u0000") ? MALFORMED : BAD_ALG);

        /* and without a kid */

        h = fmt("{\"alg\":\"%s\"}", none[i]);
        hs = token_with("HS256", NULL, K.hs256, 32, h, claims_ok());
        assert_int_equal(verify(hs),
                         strstr(none[i], "\\u0000") ? MALFORMED : BAD_ALG);
    }
}


static void
test_alg_allowlist(void **state)
{
    POL.algorithms = NGX_GATEWAY_JWT_RS256;

    assert_int_equal(verify(good("RS256", "rs256")), OK);
    assert_int_equal(verify(good("RS256", NULL)), OK);
    assert_int_equal(verify(good("HS256", "hs256")), BAD_ALG);
    assert_int_equal(verify(good("PS256", "ps256")), BAD_ALG);
    assert_int_equal(verify(good("ES256", "es256")), BAD_ALG);
    assert_int_equal(verify(good("EdDSA", "ed")), BAD_ALG);

    POL.algorithms = NGX_GATEWAY_JWT_ES256 | NGX_GATEWAY_JWT_EDDSA;

    assert_int_equal(verify(good("ES256", "es256")), OK);
    assert_int_equal(verify(good("EdDSA", "ed")), OK);
    assert_int_equal(verify(good("ES384", "es384")), BAD_ALG);
    assert_int_equal(verify(good("RS256", "rs256")), BAD_ALG);

    POL.algorithms = 0;

    assert_int_equal(verify(good("ES384", "es384")), OK);
}


/* CVE-2015-9235 and its kin: the RSA public key as an HMAC secret */

static void
test_rsa_key_as_hmac_secret(void **state)
{
    int                       n;
    BIO                      *bio;
    char                     *pem, *crlf, *c;
    u_char                   *der, *p;
    size_t                    i, len;
    const char               *tok;
    ngx_gateway_jwks_t       *rsa_only;
    struct {
        const u_char         *key;
        size_t                len;
    } secrets[8];

    n = 0;

    /* SPKI PEM, "BEGIN PUBLIC KEY" */

    bio = BIO_new(BIO_s_mem());
    assert_int_equal(PEM_write_bio_PUBKEY(bio, K.rsa), 1);
    len = BIO_get_mem_data(bio, &c);
    pem = fmt("%.*s", (int) len, c);
    BIO_free(bio);

    secrets[n].key = (u_char *) pem;
    secrets[n++].len = strlen(pem);

    /* PKCS#1 PEM, "BEGIN RSA PUBLIC KEY" (fast-jwt CVE-2023-48223) */

    der = NULL;
    len = i2d_PublicKey(K.rsa, &der);
    assert_true(len > 0);

    bio = BIO_new(BIO_s_mem());
    assert_true(PEM_write_bio(bio, "RSA PUBLIC KEY", "", der, len) > 0);
    p = ngx_pnalloc(P, len);
    ngx_memcpy(p, der, len);
    OPENSSL_free(der);

    secrets[n].key = p;                        /* PKCS#1 DER */
    secrets[n++].len = len;

    len = BIO_get_mem_data(bio, &c);
    pem = fmt("%.*s", (int) len, c);
    BIO_free(bio);
    assert_non_null(strstr(pem, "BEGIN RSA PUBLIC KEY"));

    secrets[n].key = (u_char *) pem;
    secrets[n++].len = strlen(pem);

    /* with leading whitespace (CVE-2026-34950), and with CR LF */

    c = fmt("  \n%s", pem);
    secrets[n].key = (u_char *) c;
    secrets[n++].len = strlen(c);

    crlf = ngx_pnalloc(P, 2 * strlen(pem) + 1);
    for (c = pem, p = (u_char *) crlf; *c; c++) {
        if (*c == '\n') {
            *p++ = '\r';
        }
        *p++ = *c;
    }
    *p = '\0';
    secrets[n].key = (u_char *) crlf;
    secrets[n++].len = strlen(crlf);

    /* SPKI DER */

    der = NULL;
    len = i2d_PUBKEY(K.rsa, &der);
    assert_true(len > 0);
    p = ngx_pnalloc(P, len);
    ngx_memcpy(p, der, len);
    OPENSSL_free(der);
    secrets[n].key = p;
    secrets[n++].len = len;

    /* the JWK JSON text */

    c = jwk_rsa(K.rsa, "rs256", "RS256");
    secrets[n].key = (u_char *) c;
    secrets[n++].len = strlen(c);

    rsa_only = load(jwks_json(jwk_rsa(K.rsa, "rs256", NULL), NULL));

    for (i = 0; i < (size_t) n; i++) {

        /* the kid of the RSA key: bound to RS256 */

        tok = token_with("HS256", NULL, secrets[i].key, secrets[i].len,
                         "{\"alg\":\"HS256\",\"kid\":\"rs256\"}", claims_ok());
        assert_int_equal(verify(tok), BAD_ALG);
        assert_int_equal(verify_at(rsa_only, tok, NOW), BAD_ALG);

        /* no kid: no HS256 key in an RSA-only set */

        tok = token_with("HS256", NULL, secrets[i].key, secrets[i].len,
                         "{\"alg\":\"HS256\"}", claims_ok());
        assert_int_equal(verify_at(rsa_only, tok, NOW), UNKNOWN_KEY);

        /* no kid, a set with one HS256 key: that key, which fails */

        assert_int_equal(verify(tok), BAD_SIGNATURE);

        /* HS384 and HS512 the same */

        tok = token_with("HS512", NULL, secrets[i].key, secrets[i].len,
                         "{\"alg\":\"HS512\",\"kid\":\"rs256\"}", claims_ok());
        assert_int_equal(verify(tok), BAD_ALG);
    }
}


static void
test_alg_key_type_binding(void **state)
{
    char  *tok;

    /* ES256 against the RSA key's kid, RS256 against an EC key */

    assert_int_equal(verify(token("ES256", "rs256", claims_ok())), BAD_ALG);
    assert_int_equal(verify(token("RS256", "es256", claims_ok())), BAD_ALG);

    /* ES384 (signed with P-384) against the P-256 key */

    assert_int_equal(verify(token("ES384", "es256", claims_ok())), BAD_ALG);
    assert_int_equal(verify(token("ES256", "es512", claims_ok())), BAD_ALG);

    /* EdDSA against an EC key, ES256 against the Ed25519 key */

    assert_int_equal(verify(token("EdDSA", "es256", claims_ok())), BAD_ALG);
    assert_int_equal(verify(token("ES256", "ed", claims_ok())), BAD_ALG);

    /* a key with "alg":"RS256" given an RS512 or a PS256 token */

    assert_int_equal(verify(token("RS512", "rs256", claims_ok())), BAD_ALG);
    assert_int_equal(verify(token("PS256", "rs256", claims_ok())), BAD_ALG);
    assert_int_equal(verify(token("RS256", "ps256", claims_ok())), BAD_ALG);

    /* HS384 against the HS256 secret */

    assert_int_equal(verify(token("HS384", "hs256", claims_ok())), BAD_ALG);

    /* a PS256 signature under an RS256 header is no RS256 signature */

    tok = token_with("PS256", K.rsa, NULL, 0,
                     "{\"alg\":\"RS256\",\"kid\":\"rs256\"}", claims_ok());
    assert_int_equal(verify(tok), BAD_SIGNATURE);

    tok = token_with("RS256", K.rsa, NULL, 0,
                     "{\"alg\":\"PS256\",\"kid\":\"ps256\"}", claims_ok());
    assert_int_equal(verify(tok), BAD_SIGNATURE);

    /* an RS384 signature under RS256 */

    tok = token_with("RS384", K.rsa, NULL, 0,
                     "{\"alg\":\"RS256\",\"kid\":\"rs256\"}", claims_ok());
    assert_int_equal(verify(tok), BAD_SIGNATURE);
}


static void
test_crit(void **state)
{
    size_t       i;
    const char  *tok;
    const char  *crit[] = {
        "\"crit\":[\"x-custom-policy\"],\"x-custom-policy\":\"require-mfa\"",
        "\"crit\":[\"b64\"],\"b64\":false",
        "\"crit\":[\"b64\"],\"b64\":true",
        "\"crit\":[]",
        "\"crit\":\"x\"",
        "\"crit\":[\"alg\"]",
        "\"crit\":[\"x\",\"x\"],\"x\":1",
        "\"crit\":[\"absent\"]",
        "\"crit\":null",
        "\"crit\":{}",
        "\"crit\":[1]",
        "\"crit\":[\"exp\"],\"exp\":1"
    };

    for (i = 0; i < sizeof(crit) / sizeof(crit[0]); i++) {
        tok = token_raw("HS256", fmt("{\"alg\":\"HS256\",\"kid\":\"hs256\",%s}",
                                     crit[i]),
                        claims_ok());
        assert_int_equal(verify(tok), BAD_HEADER);

        tok = token_raw("ES256", fmt("{\"alg\":\"ES256\",%s}", crit[i]),
                        claims_ok());
        assert_int_equal(verify(tok), BAD_HEADER);
    }

    /* no crit: fine, b64 alone is not honoured (the payload is base64url) */

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\"kid\":\"hs256\","
                    "\"b64\":true}", claims_ok());
    assert_int_equal(verify(tok), OK);
}


static void
test_embedded_keys(void **state)
{
    size_t       i;
    const char  *tok, *h;
    const char  *members[] = { "jwk", "jku", "x5u", "x5c" };
    const char  *values[4];

    values[0] = jwk_ec(K.attacker, NULL, NULL);
    values[1] = "\"https://attacker.example/jwks.json\"";
    values[2] = "\"https://attacker.example/cert.pem\"";
    values[3] = "[\"MIIBszCCAVmgAwIBAgIU\"]";

    for (i = 0; i < 4; i++) {

        /* signed with the attacker's key, no kid (CVE-2018-0114) */

        h = fmt("{\"alg\":\"ES256\",\"%s\":%s}", members[i], values[i]);
        tok = token_with("ES256", K.attacker, NULL, 0, h, claims_ok());
        assert_int_equal(verify(tok), BAD_HEADER);

        /* with the attacker's key's kid */

        h = fmt("{\"alg\":\"ES256\",\"kid\":\"es256\",\"%s\":%s}",
                members[i], values[i]);
        tok = token_with("ES256", K.attacker, NULL, 0, h, claims_ok());
        assert_int_equal(verify(tok), BAD_HEADER);

        /* even signed with our own key: no header carries keys */

        tok = token_raw("ES256", h, claims_ok());
        assert_int_equal(verify(tok), BAD_HEADER);

        /* null counts as present */

        h = fmt("{\"alg\":\"ES256\",\"kid\":\"es256\",\"%s\":null}",
                members[i]);
        assert_int_equal(verify(token_raw("ES256", h, claims_ok())),
                         BAD_HEADER);
    }

    /* the attacker's key alone is not ours */

    tok = token_with("ES256", K.attacker, NULL, 0,
                     "{\"alg\":\"ES256\",\"kid\":\"es256\"}", claims_ok());
    assert_int_equal(verify(tok), BAD_SIGNATURE);

    /* thumbprints name keys, they carry none: accepted (Azure AD) */

    tok = token_raw("ES256", "{\"alg\":\"ES256\",\"kid\":\"es256\","
                    "\"x5t\":\"abc\",\"x5t#S256\":\"def\"}", claims_ok());
    assert_int_equal(verify(tok), OK);
}


static void
test_cty_typ_and_jwe_headers(void **state)
{
    size_t       i;
    const char  *refused[] = {
        "\"cty\":\"JWT\"", "\"cty\":\"jwt\"", "\"cty\":\"application/json\"",
        "\"cty\":null", "\"enc\":\"A128GCM\"", "\"zip\":\"DEF\""
    };
    const char  *typ_ok[] = {
        "\"typ\":\"JWT\"", "\"typ\":\"at+jwt\"", "\"typ\":\"anything\"",
        "\"typ\":\"\""
    };
    const char  *typ_bad[] = {
        "\"typ\":1", "\"typ\":null", "\"typ\":[\"JWT\"]", "\"typ\":{}"
    };

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
        assert_int_equal(verify(token_raw("HS256",
                                fmt("{\"alg\":\"HS256\",\"kid\":\"hs256\",%s}",
                                    refused[i]),
                                claims_ok())),
                         BAD_HEADER);
    }

    for (i = 0; i < sizeof(typ_ok) / sizeof(typ_ok[0]); i++) {
        assert_int_equal(verify(token_raw("HS256",
                                fmt("{\"alg\":\"HS256\",\"kid\":\"hs256\",%s}",
                                    typ_ok[i]),
                                claims_ok())),
                         OK);
    }

    for (i = 0; i < sizeof(typ_bad) / sizeof(typ_bad[0]); i++) {
        assert_int_equal(verify(token_raw("HS256",
                                fmt("{\"alg\":\"HS256\",\"kid\":\"hs256\",%s}",
                                    typ_bad[i]),
                                claims_ok())),
                         MALFORMED);
    }
}


/* A3: key selection */

static void
test_kid(void **state)
{
    char                     *kid;
    const char               *tok;
    ngx_gateway_jwks_t       *two;
    size_t                    i;
    const char               *opaque[] = {
        "../../dev/null", "/etc/passwd", "' OR 1=1 --", "hs256 ", "HS256",
        "hs25", "hs2566", "\\\"", "\\u00e9", ""
    };

    /* the kid selects its key, only that one is tried */

    two = load(jwks_json(jwk_oct(K.hs256, 32, "a", NULL),
                         jwk_oct(K.other, 32, "b", NULL), NULL));

    tok = token_with("HS256", NULL, K.hs256, 32,
                     "{\"alg\":\"HS256\",\"kid\":\"a\"}", claims_ok());
    assert_int_equal(verify_at(two, tok, NOW), OK);

    tok = token_with("HS256", NULL, K.other, 32,
                     "{\"alg\":\"HS256\",\"kid\":\"b\"}", claims_ok());
    assert_int_equal(verify_at(two, tok, NOW), OK);

    /* signed with b's secret, naming a: no fallback to b (kjdev Pass 2) */

    tok = token_with("HS256", NULL, K.other, 32,
                     "{\"alg\":\"HS256\",\"kid\":\"a\"}", claims_ok());
    assert_int_equal(verify_at(two, tok, NOW), BAD_SIGNATURE);

    /* no kid, two HS256 keys: ambiguous */

    tok = token_with("HS256", NULL, K.hs256, 32, "{\"alg\":\"HS256\"}",
                     claims_ok());
    assert_int_equal(verify_at(two, tok, NOW), UNKNOWN_KEY);

    /* unknown kid, though a key would verify the signature */

    tok = token_with("HS256", NULL, K.hs256, 32,
                     "{\"alg\":\"HS256\",\"kid\":\"c\"}", claims_ok());
    assert_int_equal(verify_at(two, tok, NOW), UNKNOWN_KEY);

    for (i = 0; i < sizeof(opaque) / sizeof(opaque[0]); i++) {
        tok = token_raw("HS256",
                        fmt("{\"alg\":\"HS256\",\"kid\":\"%s\"}", opaque[i]),
                        claims_ok());
        assert_int_equal(verify(tok), UNKNOWN_KEY);
    }

    /* kid with \u0000: jansson refuses it */

    tok = token_raw("HS256", "{\"alg\":\"HS256\",\"kid\":\"hs256\\u0000\"}",
                    claims_ok());
    assert_int_equal(verify(tok), MALFORMED);

    /* not a string */

    assert_int_equal(verify(token_raw("HS256",
                                      "{\"alg\":\"HS256\",\"kid\":1}",
                                      claims_ok())),
                     MALFORMED);
    assert_int_equal(verify(token_raw("HS256",
                                      "{\"alg\":\"HS256\",\"kid\":null}",
                                      claims_ok())),
                     MALFORMED);
    assert_int_equal(verify(token_raw("HS256",
                                      "{\"alg\":\"HS256\",\"kid\":true}",
                                      claims_ok())),
                     MALFORMED);
    assert_int_equal(verify(token_raw("HS256",
                                      "{\"alg\":\"HS256\",\"kid\":{}}",
                                      claims_ok())),
                     MALFORMED);
    assert_int_equal(verify(token_raw("HS256",
                                      "{\"alg\":\"HS256\",\"kid\":[\"hs256\"]}",
                                      claims_ok())),
                     MALFORMED);

    /* 256 bytes: looked up; 257: refused */

    kid = ngx_pnalloc(P, 258);
    ngx_memset(kid, 'k', 257);
    kid[256] = '\0';

    assert_int_equal(verify(token_raw("HS256",
                            fmt("{\"alg\":\"HS256\",\"kid\":\"%s\"}", kid),
                            claims_ok())),
                     UNKNOWN_KEY);

    kid[256] = 'k';
    kid[257] = '\0';

    assert_int_equal(verify(token_raw("HS256",
                            fmt("{\"alg\":\"HS256\",\"kid\":\"%s\"}", kid),
                            claims_ok())),
                     MALFORMED);
}


static void
test_kid_and_keys_without_kid(void **state)
{
    const char               *tok;
    ngx_gateway_jwks_t       *set;

    /* keys without kid: a token's kid, even "", names none of them */

    set = load(jwks_json(jwk_oct(K.hs256, 32, NULL, NULL),
                         jwk_ec(K.p256, NULL, NULL), NULL));

    tok = token_with("HS256", NULL, K.hs256, 32, "{\"alg\":\"HS256\"}",
                     claims_ok());
    assert_int_equal(verify_at(set, tok, NOW), OK);

    tok = token_raw("ES256", "{\"alg\":\"ES256\"}", claims_ok());
    assert_int_equal(verify_at(set, tok, NOW), OK);

    tok = token_with("HS256", NULL, K.hs256, 32,
                     "{\"alg\":\"HS256\",\"kid\":\"\"}", claims_ok());
    assert_int_equal(verify_at(set, tok, NOW), UNKNOWN_KEY);

    tok = token_with("HS256", NULL, K.hs256, 32,
                     "{\"alg\":\"HS256\",\"kid\":\"x\"}", claims_ok());
    assert_int_equal(verify_at(set, tok, NOW), UNKNOWN_KEY);

    /* no kid and no key of the algorithm */

    tok = token_raw("RS256", "{\"alg\":\"RS256\"}", claims_ok());
    assert_int_equal(verify_at(set, tok, NOW), UNKNOWN_KEY);

    /* the full set has one key per algorithm: kid-less tokens pass */

    assert_int_equal(verify(good("PS384", NULL)), OK);
    assert_int_equal(verify(good("ES512", NULL)), OK);
    assert_int_equal(verify(good("HS512", NULL)), OK);

    /* the same key twice, under two kids: a kid-less token is refused */

    set = load(jwks_json(jwk_ec(K.p256, "one", NULL),
                         jwk_ec(K.p256, "two", NULL), NULL));
    assert_int_equal(verify_at(set, good("ES256", NULL), NOW), UNKNOWN_KEY);
    assert_int_equal(verify_at(set, good("ES256", "two"), NOW), OK);

    /* no key set at all, or an empty one */

    assert_int_equal(verify_at(NULL, good("HS256", "hs256"), NOW),
                     UNKNOWN_KEY);

    {
        ngx_gateway_jwks_t       empty = { NULL, 0 };

        assert_int_equal(verify_at(&empty, good("HS256", NULL), NOW),
                         UNKNOWN_KEY);
        assert_int_equal(verify_at(&empty, good("HS256", "hs256"), NOW),
                         UNKNOWN_KEY);
    }
}


/* A4: signature values */

static char *
with_sig(const char *tok, const u_char *sig, size_t len)
{
    return fmt("%.*s.%s", (int) (strrchr(tok, '.') - tok), tok,
               b64(sig, len));
}


static void
test_ecdsa_values(void **state)
{
    u_char        sig[132];
    char         *tok;
    BIGNUM       *n, *n1;
    size_t        len;
    EC_GROUP     *group;

    tok = good("ES256", "es256");
    assert_int_equal(verify(tok), OK);

    /* r = s = 0: 64 zero bytes, "A" x 86 (CVE-2022-21449) */

    ngx_memzero(sig, sizeof(sig));
    tok = with_sig(tok, sig, 64);
    assert_int_equal(strlen(strrchr(tok, '.') + 1), 86);
    assert_int_equal(strspn(strrchr(tok, '.') + 1, "A"), 86);
    assert_int_equal(verify(tok), BAD_SIGNATURE);

    /* r valid, s = 0; r = 0, s valid */

    tok = good("ES256", "es256");
    len = sign_raw("ES256", K.p256, NULL, 0, "x", 1, sig);
    assert_int_equal(len, 64);

    ngx_memzero(sig + 32, 32);
    assert_int_equal(verify(with_sig(tok, sig, 64)), BAD_SIGNATURE);

    len = sign_raw("ES256", K.p256, NULL, 0, "x", 1, sig);
    ngx_memzero(sig, 32);
    assert_int_equal(verify(with_sig(tok, sig, 64)), BAD_SIGNATURE);

    /* r = n, s = n; r = n + 1; all ones */

    group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
    assert_non_null(group);
    n = BN_dup(EC_GROUP_get0_order(group));
    n1 = BN_dup(n);
    BN_add_word(n1, 1);

    BN_bn2binpad(n, sig, 32);
    BN_bn2binpad(n, sig + 32, 32);
    assert_int_equal(verify(with_sig(tok, sig, 64)), BAD_SIGNATURE);

    BN_bn2binpad(n1, sig, 32);
    assert_int_equal(verify(with_sig(tok, sig, 64)), BAD_SIGNATURE);

    ngx_memset(sig, 0xff, 64);
    assert_int_equal(verify(with_sig(tok, sig, 64)), BAD_SIGNATURE);

    BN_free(n);
    BN_free(n1);
    EC_GROUP_free(group);

    /* a valid signature with s replaced by n - s: ECDSA malleability */

    {
        char        *input;
        BIGNUM      *s, *ns;
        EC_GROUP    *g;

        input = fmt("%.*s", (int) (strrchr(tok, '.') - tok), tok);
        len = sign_raw("ES256", K.p256, NULL, 0, input, strlen(input), sig);
        assert_int_equal(verify(with_sig(tok, sig, len)), OK);

        g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
        s = BN_bin2bn(sig + 32, 32, NULL);
        ns = BN_new();
        BN_sub(ns, EC_GROUP_get0_order(g), s);
        BN_bn2binpad(ns, sig + 32, 32);

        /* OpenSSL accepts both (r, s) and (r, n - s): the token differs */

        assert_int_equal(verify(with_sig(tok, sig, len)), OK);

        BN_free(s);
        BN_free(ns);
        EC_GROUP_free(g);
    }

    /* DER where R || S is expected */

    {
        u_char         der[128], *p;
        char          *input;
        size_t         dlen;
        EVP_MD_CTX    *mctx;

        input = fmt("%.*s", (int) (strrchr(tok, '.') - tok), tok);
        mctx = EVP_MD_CTX_new();
        assert_int_equal(EVP_DigestSignInit(mctx, NULL, EVP_sha256(), NULL,
                                            K.p256), 1);
        dlen = sizeof(der);
        assert_int_equal(EVP_DigestSign(mctx, der, &dlen, (u_char *) input,
                                        strlen(input)), 1);
        EVP_MD_CTX_free(mctx);

        p = der;
        assert_int_equal(verify(with_sig(tok, p, dlen)), BAD_SIGNATURE);
    }
}


static void
test_signature_lengths(void **state)
{
    u_char   sig[600];
    char    *tok, *input;
    size_t   len;

    /* ES256: 63, 65 bytes; ES384 and ES512 off by one */

    tok = good("ES256", "es256");
    input = fmt("%.*s", (int) (strrchr(tok, '.') - tok), tok);
    len = sign_raw("ES256", K.p256, NULL, 0, input, strlen(input), sig);
    assert_int_equal(verify(with_sig(tok, sig, len)), OK);
    assert_int_equal(verify(with_sig(tok, sig, 63)), BAD_SIGNATURE);
    sig[64] = 0;
    assert_int_equal(verify(with_sig(tok, sig, 65)), BAD_SIGNATURE);

    /* a leading zero byte added to R || S: 65 bytes that would decode */

    ngx_memmove(sig + 1, sig, 64);
    sig[0] = 0;
    assert_int_equal(verify(with_sig(tok, sig, 65)), BAD_SIGNATURE);

    tok = good("ES384", "es384");
    assert_int_equal(verify(with_sig(tok, sig, 95)), BAD_SIGNATURE);
    assert_int_equal(verify(with_sig(tok, sig, 97)), BAD_SIGNATURE);
    assert_int_equal(verify(with_sig(tok, sig, 64)), BAD_SIGNATURE);

    tok = good("ES512", "es512");
    assert_int_equal(verify(with_sig(tok, sig, 131)), BAD_SIGNATURE);
    assert_int_equal(verify(with_sig(tok, sig, 133)), BAD_SIGNATURE);
    assert_int_equal(verify(with_sig(tok, sig, 128)), BAD_SIGNATURE);

    /* RS256 "AAAA": 3 bytes (libjwt H1), and off by one */

    tok = good("RS256", "rs256");
    assert_int_equal(verify(fmt("%.*s.AAAA", (int) (strrchr(tok, '.') - tok),
                                tok)),
                     BAD_SIGNATURE);

    input = fmt("%.*s", (int) (strrchr(tok, '.') - tok), tok);
    len = sign_raw("RS256", K.rsa, NULL, 0, input, strlen(input), sig);
    assert_int_equal(len, 256);
    assert_int_equal(verify(with_sig(tok, sig, 256)), OK);
    assert_int_equal(verify(with_sig(tok, sig, 255)), BAD_SIGNATURE);
    sig[256] = 0;
    assert_int_equal(verify(with_sig(tok, sig, 257)), BAD_SIGNATURE);
    ngx_memmove(sig + 1, sig, 256);
    sig[0] = 0;
    assert_int_equal(verify(with_sig(tok, sig, 257)), BAD_SIGNATURE);
    assert_int_equal(verify(with_sig(tok, sig, 512)), BAD_SIGNATURE);

    /* a value >= the modulus */

    ngx_memset(sig, 0xff, 256);
    assert_int_equal(verify(with_sig(tok, sig, 256)), BAD_SIGNATURE);

    tok = good("PS256", "ps256");
    assert_int_equal(verify(with_sig(tok, sig, 3)), BAD_SIGNATURE);
    assert_int_equal(verify(with_sig(tok, sig, 256)), BAD_SIGNATURE);

    /* EdDSA: 63, 65 */

    tok = good("EdDSA", "ed");
    input = fmt("%.*s", (int) (strrchr(tok, '.') - tok), tok);
    len = sign_raw("EdDSA", K.ed, NULL, 0, input, strlen(input), sig);
    assert_int_equal(len, 64);
    assert_int_equal(verify(with_sig(tok, sig, 64)), OK);
    assert_int_equal(verify(with_sig(tok, sig, 63)), BAD_SIGNATURE);
    sig[64] = 0;
    assert_int_equal(verify(with_sig(tok, sig, 65)), BAD_SIGNATURE);

    /* HMAC: truncated to 16, extended by one, a bit flipped at each end */

    tok = good("HS256", "hs256");
    input = fmt("%.*s", (int) (strrchr(tok, '.') - tok), tok);
    len = sign_raw("HS256", NULL, K.hs256, 32, input, strlen(input), sig);
    assert_int_equal(verify(with_sig(tok, sig, 32)), OK);
    assert_int_equal(verify(with_sig(tok, sig, 16)), BAD_SIGNATURE);
    assert_int_equal(verify(with_sig(tok, sig, 31)), BAD_SIGNATURE);
    sig[32] = 0;
    assert_int_equal(verify(with_sig(tok, sig, 33)), BAD_SIGNATURE);
    sig[0] ^= 0x01;
    assert_int_equal(verify(with_sig(tok, sig, 32)), BAD_SIGNATURE);
    sig[0] ^= 0x01;
    sig[31] ^= 0x80;
    assert_int_equal(verify(with_sig(tok, sig, 32)), BAD_SIGNATURE);
    sig[31] ^= 0x80;
    assert_int_equal(verify(with_sig(tok, sig, 32)), OK);

    /* HS512 signature under HS256: 64 bytes */

    len = sign_raw("HS512", NULL, K.hs256, 32, input, strlen(input), sig);
    assert_int_equal(verify(with_sig(tok, sig, len)), BAD_SIGNATURE);
    assert_int_equal(verify(with_sig(tok, sig, 32)), BAD_SIGNATURE);

    /* and the empty signature, for each algorithm */

    assert_int_equal(verify(fmt("%s.", input)), MALFORMED);
}


/*
 * A valid RS256 signature whose first byte is 0, sent without that byte:
 * OpenSSL alone takes a short signature as having leading zeros, so only
 * our length check refuses this second encoding of the same signature.
 */

static void
test_rsa_short_encoding(void **state)
{
    u_char   sig[256];
    char    *input, *tok;
    size_t   i, len;

    for (i = 0; i < 5000; i++) {
        input = fmt("%s.%s", b64s("{\"alg\":\"RS256\",\"kid\":\"rs256\"}"),
                    b64s(fmt("{\"exp\":%d,\"n\":%zu}", NOW + 60, i)));
        len = sign_raw("RS256", K.rsa, NULL, 0, input, strlen(input), sig);
        assert_int_equal(len, 256);

        if (sig[0] == 0) {
            break;
        }
    }

    assert_int_equal(sig[0], 0);

    tok = fmt("%s.%s", input, b64(sig, 256));
    assert_int_equal(verify(tok), OK);

    tok = fmt("%s.%s", input, b64(sig + 1, 255));
    assert_int_equal(verify(tok), BAD_SIGNATURE);
}


/* PS* takes a salt of the hash's length and MGF1 with the same hash */

static char *
pss_token(const char *alg, int saltlen, const EVP_MD *mgf1)
{
    u_char         sig[512];
    char          *input;
    size_t         len;
    EVP_MD_CTX    *mctx;
    EVP_PKEY_CTX  *pctx;

    input = fmt("%s.%s", b64s(fmt("{\"alg\":\"%s\"}", alg)),
                b64s(claims_ok()));

    mctx = EVP_MD_CTX_new();
    assert_non_null(mctx);
    assert_int_equal(EVP_DigestSignInit(mctx, &pctx, alg_md(alg), NULL,
                                        K.rsa), 1);
    assert_true(EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING)
                > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, saltlen) > 0);
    assert_true(EVP_PKEY_CTX_set_rsa_mgf1_md(pctx, mgf1) > 0);

    len = sizeof(sig);
    assert_int_equal(EVP_DigestSign(mctx, sig, &len, (u_char *) input,
                                    strlen(input)), 1);
    EVP_MD_CTX_free(mctx);

    return fmt("%s.%s", input, b64(sig, len));
}


static void
test_pss_parameters(void **state)
{
    assert_int_equal(verify(pss_token("PS256", 32, EVP_sha256())), OK);
    assert_int_equal(verify(pss_token("PS384", 48, EVP_sha384())), OK);
    assert_int_equal(verify(pss_token("PS512", 64, EVP_sha512())), OK);

    assert_int_equal(verify(pss_token("PS256", 0, EVP_sha256())),
                     BAD_SIGNATURE);
    assert_int_equal(verify(pss_token("PS256", 20, EVP_sha256())),
                     BAD_SIGNATURE);
    assert_int_equal(verify(pss_token("PS256", 64, EVP_sha256())),
                     BAD_SIGNATURE);
    assert_int_equal(verify(pss_token("PS256", RSA_PSS_SALTLEN_MAX,
                                      EVP_sha256())),
                     BAD_SIGNATURE);
    assert_int_equal(verify(pss_token("PS512", 32, EVP_sha512())),
                     BAD_SIGNATURE);

    assert_int_equal(verify(pss_token("PS256", 32, EVP_sha1())),
                     BAD_SIGNATURE);
    assert_int_equal(verify(pss_token("PS384", 48, EVP_sha256())),
                     BAD_SIGNATURE);
}


/* failed verifications leave nothing in OpenSSL's error queue */

static void
test_openssl_error_queue(void **state)
{
    u_char  sig[600];
    char   *tok;

    ERR_clear_error();

    ngx_memset(sig, 0xff, sizeof(sig));

    tok = good("RS256", "rs256");
    assert_int_equal(verify(with_sig(tok, sig, 256)), BAD_SIGNATURE);
    assert_int_equal(ERR_peek_error(), 0);

    tok = good("PS256", "ps256");
    assert_int_equal(verify(with_sig(tok, sig, 256)), BAD_SIGNATURE);
    assert_int_equal(ERR_peek_error(), 0);

    tok = good("ES256", "es256");
    assert_int_equal(verify(with_sig(tok, sig, 64)), BAD_SIGNATURE);
    assert_int_equal(ERR_peek_error(), 0);

    tok = good("EdDSA", "ed");
    assert_int_equal(verify(with_sig(tok, sig, 64)), BAD_SIGNATURE);
    assert_int_equal(ERR_peek_error(), 0);

    /* and the loader's refusals */

    ngx_memset(sig, 0, 64);
    load_error(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                   "\"x\":\"%s\",\"y\":\"%s\"}]}", b64(sig, 32),
                   b64(sig, 32)));
    assert_int_equal(ERR_peek_error(), 0);
}


static void
test_signing_input_is_exact(void **state)
{
    u_char       sig[64];
    char        *h, *p, *tok;
    size_t       len;
    const char  *header = "{\"alg\":\"HS256\",\"kid\":\"hs256\"}";

    h = b64s(header);
    p = b64s(claims_ok());

    /* signed over the header with padding re-added */

    tok = fmt("%s=.%s", h, p);
    len = sign_raw("HS256", NULL, K.hs256, 32, tok, strlen(tok), sig);
    tok = fmt("%s.%s.%s", h, p, b64(sig, len));
    assert_int_equal(verify(tok), strlen(h) % 4 ? BAD_SIGNATURE : OK);

    /* signed over the same JSON with other whitespace */

    tok = fmt("%s.%s", b64s("{ \"alg\": \"HS256\", \"kid\": \"hs256\" }"), p);
    len = sign_raw("HS256", NULL, K.hs256, 32, tok, strlen(tok), sig);
    tok = fmt("%s.%s.%s", h, p, b64(sig, len));
    assert_int_equal(verify(tok), BAD_SIGNATURE);

    /* signed over the decoded JSON rather than its encoding */

    tok = fmt("%s.%s", header, claims_ok());
    len = sign_raw("HS256", NULL, K.hs256, 32, tok, strlen(tok), sig);
    tok = fmt("%s.%s.%s", h, p, b64(sig, len));
    assert_int_equal(verify(tok), BAD_SIGNATURE);

    /* over "header.payload." (with the last dot) */

    tok = fmt("%s.%s.", h, p);
    len = sign_raw("HS256", NULL, K.hs256, 32, tok, strlen(tok), sig);
    tok = fmt("%s.%s.%s", h, p, b64(sig, len));
    assert_int_equal(verify(tok), BAD_SIGNATURE);

    /* and the exact input verifies */

    tok = fmt("%s.%s", h, p);
    len = sign_raw("HS256", NULL, K.hs256, 32, tok, strlen(tok), sig);
    tok = fmt("%s.%s.%s", h, p, b64(sig, len));
    assert_int_equal(verify(tok), OK);
}


/* Kong's 500 round trips: r or s with leading zero bytes */

static void
test_ecdsa_round_trips(void **state)
{
    u_char       sig[132];
    char        *input, *tok, *h, *p;
    size_t       i, j, len, n, short_values;
    const char  *algs[] = { "ES256", "ES384" };
    EVP_PKEY    *keys[2];
    ngx_pool_t  *pool;

    keys[0] = K.p256;
    keys[1] = K.p384;

    for (j = 0; j < 2; j++) {
        n = ec_size(algs[j]);
        short_values = 0;
        h = b64s(fmt("{\"alg\":\"%s\"}", algs[j]));

        for (i = 0; i < 500 || (short_values < 2 && i < 20000); i++) {

            /* a pool per round, so the test stays small */

            pool = P;
            P = gateway_test_pool();

            p = b64s(fmt("{\"sub\":\"u%zu\",\"exp\":%d}", i, NOW + 60));
            input = fmt("%s.%s", h, p);
            len = sign_raw(algs[j], keys[j], NULL, 0, input, strlen(input),
                           sig);
            assert_int_equal(len, 2 * n);

            if (sig[0] == 0 || sig[n] == 0) {
                short_values++;
            }

            tok = fmt("%s.%s", input, b64(sig, len));

            if (verify(tok) != OK) {
                fprintf(stderr, "%s round %zu failed\n", algs[j], i);
                fail();
            }

            ngx_destroy_pool(P);
            P = pool;
        }

        assert_true(short_values >= 2);
    }
}


/* RFC 7515 appendix A and RFC 8037 A.4, verified as published */

static void
test_published_vectors(void **state)
{
    const char               *a1, *a2, *a3, *a4, *ed;
    ngx_gateway_jwks_t       *set;

    set = load("{\"keys\":["
        "{\"kty\":\"oct\",\"kid\":\"a1\",\"k\":\"AyM1SysPpbyDfgZld3umj1qzKObw"
        "VMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow\"},"
        "{\"kty\":\"RSA\",\"kid\":\"a2\",\"n\":\"ofgWCuLjybRlzo0tZWJjNiuSfb4p"
        "4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4Q"
        "lL-yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL"
        "-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtd"
        "VMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_h9i"
        "aGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ\",\"e\":\"AQAB\"},"
        "{\"kty\":\"EC\",\"kid\":\"a3\",\"crv\":\"P-256\","
        "\"x\":\"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU\","
        "\"y\":\"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0\"},"
        "{\"kty\":\"EC\",\"kid\":\"a4\",\"crv\":\"P-521\","
        "\"x\":\"AekpBQ8ST8a8VcfVOTNl353vSrDCLLJXmPk06wTjxrrjcBpXp5EOnYG_NjFZ"
        "6OvLFV1jSfS9tsz4qUxcWceqwQGk\","
        "\"y\":\"ADSmRA43Z1DSNx_RvcLI87cdL07l6jQyyBXMoxVg_l2Th-x3S1WDhjDly79a"
        "jL4Kkd0AZMaZmh9ubmf63e3kyMj2\"},"
        "{\"kty\":\"OKP\",\"kid\":\"ed\",\"crv\":\"Ed25519\","
        "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}"
        "]}");

    /* exp 1300819380, iss "joe"; the header of A.1 holds CR LF */

    a1 = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
         "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
         "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
         "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";

    a2 = "eyJhbGciOiJSUzI1NiJ9."
         "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
         "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
         "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7"
         "AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4"
         "BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARNPvkSjtQBMHlb1L07Qe7K"
         "0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqv"
         "hJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrB"
         "p0igcN_IoypGlUPQGe77Rw";

    a3 = "eyJhbGciOiJFUzI1NiJ9."
         "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFt"
         "cGxlLmNvbS9pc19yb290Ijp0cnVlfQ."
         "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSA"
         "pmWQxfKTUJqPP3-Kg6NU1Q";

    /* the payloads of these two are not JSON: they verify, then fail */

    a4 = "eyJhbGciOiJFUzUxMiJ9.UGF5bG9hZA."
         "AdwMgeerwtHoh-l192l60hp9wAHZFVJbLfD_UxMi70cwnZOYaRI1bKPWROc-mZZq"
         "wqT2SI-KGDKB34XO0aw_7XdtAG8GaSwFKdCAPZgoXD2YBJZCPEX3xKpRwcdOO8Kp"
         "EHwJjyqOgzDO7iKvU8vcnwNrmxYbSW9ERBXukOXolLzeO_Jn";

    ed = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc."
         "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5B"
         "hVsPt9g7sVvpAr_MuM0KAg";

    /* a1 has a "typ" and no kid; the set has one HS256 key */

    POL.issuer.data = (u_char *) "joe";
    POL.issuer.len = 3;

    assert_int_equal(verify_at(set, a1, 1300819379), OK);
    assert_int_equal(J.expires, 1300819380);
    assert_int_equal(J.subject.len, 0);
    assert_int_equal(verify_at(set, a1, 1300819380), EXPIRED);

    assert_int_equal(verify_at(set, a2, 1300819000), OK);
    assert_int_equal(verify_at(set, a3, 1300819000), OK);
    assert_int_equal(verify_at(set, a4, 1300819000), MALFORMED);
    assert_int_equal(verify_at(set, ed, 1300819000), MALFORMED);

    /* one character of each signature changed */

    assert_int_equal(verify_at(set, patch(a1, strlen(a1) - 5, 'x'),
                               1300819000),
                     BAD_SIGNATURE);
    assert_int_equal(verify_at(set, patch(a2, strlen(a2) - 5, 'x'),
                               1300819000),
                     BAD_SIGNATURE);
    assert_int_equal(verify_at(set, patch(a3, strlen(a3) - 5, 'x'),
                               1300819000),
                     BAD_SIGNATURE);
    assert_int_equal(verify_at(set, patch(a4, strlen(a4) - 5, 'x'),
                               1300819000),
                     BAD_SIGNATURE);
    assert_int_equal(verify_at(set, patch(ed, strlen(ed) - 5, 'x'),
                               1300819000),
                     BAD_SIGNATURE);
}


/* A5: claims at an injected clock */

static ngx_gateway_jwt_status_e
claims(const char *payload, time_t now)
{
    return verify_at(K.jwks, token("HS256", "hs256", payload), now);
}


static void
test_exp_boundaries(void **state)
{
    const char  *p;

    p = fmt("{\"exp\":%d}", NOW);

    assert_int_equal(claims(p, NOW - 1), OK);
    assert_int_equal(J.expires, NOW);
    assert_int_equal(claims(p, NOW), EXPIRED);
    assert_int_equal(claims(p, NOW + 1), EXPIRED);

    /* leeway 60 */

    POL.leeway = 60;

    assert_int_equal(claims(p, NOW + 59), OK);
    assert_int_equal(claims(p, NOW + 60), EXPIRED);

    /* a negative leeway counts as 0 */

    POL.leeway = -100;

    assert_int_equal(claims(p, NOW - 1), OK);
    assert_int_equal(claims(p, NOW), EXPIRED);

    /* a huge leeway does not overflow */

    POL.leeway = NGX_MAX_TIME_T_VALUE;

    assert_int_equal(claims(p, NOW + 1000000), OK);

    POL.leeway = 0;

    /* exp missing */

    assert_int_equal(claims("{\"sub\":\"alice\"}", NOW), BAD_CLAIMS);
    assert_int_equal(claims("{}", NOW), BAD_CLAIMS);

    /* zero and negative */

    assert_int_equal(claims("{\"exp\":0}", 0), BAD_CLAIMS);
    assert_int_equal(claims("{\"exp\":-1}", -100), BAD_CLAIMS);
    assert_int_equal(claims("{\"exp\":0.5}", 0), BAD_CLAIMS);
    assert_int_equal(claims("{\"exp\":-0.0}", 0), BAD_CLAIMS);
    assert_int_equal(claims("{\"exp\":1}", 0), OK);
}


static void
test_nbf_iat_boundaries(void **state)
{
    const char  *p;

    p = fmt("{\"exp\":%d,\"nbf\":%d}", NOW + 3600, NOW);

    assert_int_equal(claims(p, NOW), OK);
    assert_int_equal(claims(p, NOW - 1), NOT_YET_VALID);

    POL.leeway = 60;

    /* nbf = now + L accepted, now + L + 1 refused */

    assert_int_equal(claims(p, NOW - 60), OK);
    assert_int_equal(claims(p, NOW - 61), NOT_YET_VALID);

    /* iat in the future: within the leeway (jwt-auth 2091) and beyond */

    p = fmt("{\"exp\":%d,\"iat\":%d}", NOW + 3600, NOW + 60);
    assert_int_equal(claims(p, NOW), OK);

    p = fmt("{\"exp\":%d,\"iat\":%d}", NOW + 3600, NOW + 61);
    assert_int_equal(claims(p, NOW), NOT_YET_VALID);

    POL.leeway = 0;

    p = fmt("{\"exp\":%d,\"iat\":%d}", NOW + 3600, NOW);
    assert_int_equal(claims(p, NOW), OK);
    assert_int_equal(claims(p, NOW - 1), NOT_YET_VALID);

    p = fmt("{\"exp\":%d,\"iat\":%d}", NOW + 3600, NOW - 86400 * 365);
    assert_int_equal(claims(p, NOW), OK);

    /* nbf after exp */

    p = fmt("{\"exp\":%d,\"nbf\":%d}", NOW + 10, NOW + 11);
    assert_int_equal(claims(p, NOW + 12), BAD_CLAIMS);
    assert_int_equal(claims(p, NOW), BAD_CLAIMS);

    p = fmt("{\"exp\":%d,\"nbf\":%d}", NOW + 10, NOW + 10);
    assert_int_equal(claims(p, NOW + 9), NOT_YET_VALID);
    assert_int_equal(claims(p, NOW + 10), EXPIRED);

    /* negative nbf and iat */

    assert_int_equal(claims(fmt("{\"exp\":%d,\"nbf\":-1}", NOW + 10), NOW),
                     BAD_CLAIMS);
    assert_int_equal(claims(fmt("{\"exp\":%d,\"iat\":-1}", NOW + 10), NOW),
                     BAD_CLAIMS);
}


static void
test_date_types(void **state)
{
    size_t       i, j;
    const char  *names[] = { "exp", "nbf", "iat" };
    const char  *bad[] = {
        "\"99999999999\"", "\"1700000000\"", "true", "false", "null", "[]",
        "[1700003600]", "{}", "{\"v\":1}", "1e300", "-1e300", "1e11 ",
        "100000000001", "100000000000.5", "9223372036854775807",
        "-9223372036854775808", "1.7976931348623157e308"
    };
    const char  *p;

    for (i = 0; i < 3; i++) {
        for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {

            /* "1e11 " is a valid number: 1e11 as a real, fine as a date */

            if (strcmp(bad[j], "1e11 ") == 0) {
                continue;
            }

            if (i == 0) {
                p = fmt("{\"exp\":%s}", bad[j]);

            } else {
                p = fmt("{\"exp\":%d,\"%s\":%s}", NOW + 60, names[i], bad[j]);
            }

            if (claims(p, NOW) != BAD_CLAIMS) {
                fprintf(stderr, "%s\n", p);
                fail();
            }
        }
    }

    /* integers jansson cannot hold: refused by the JSON parser (M2) */

    assert_int_equal(claims("{\"exp\":99999999999999999999}", NOW),
                     MALFORMED);
    assert_int_equal(claims("{\"exp\":1e400}", NOW), MALFORMED);
    assert_int_equal(claims(fmt("{\"exp\":%d,\"nbf\":-99999999999999999999}",
                                NOW + 60), NOW),
                     MALFORMED);

    /* finite reals are floored */

    assert_int_equal(claims("{\"exp\":1.9e9}", NOW), OK);
    assert_int_equal(J.expires, 1900000000);

    assert_int_equal(claims("{\"exp\":1900000000.5}", NOW), OK);
    assert_int_equal(J.expires, 1900000000);

    assert_int_equal(claims("{\"exp\":1700000000.999}", NOW), EXPIRED);
    assert_int_equal(claims("{\"exp\":1700000000.999}", NOW - 1), OK);
    assert_int_equal(J.expires, NOW);

    /* the greatest date accepted: 1e11, as an integer or a real */

    assert_int_equal(claims("{\"exp\":100000000000}", NOW), OK);
    assert_int_equal(J.expires, 100000000000LL);
    assert_int_equal(claims("{\"exp\":1e11}", NOW), OK);
    assert_int_equal(claims("{\"exp\":100000000000.0}", NOW), OK);

    /* nbf as a real */

    assert_int_equal(claims(fmt("{\"exp\":%d,\"nbf\":%d.9}", NOW + 60, NOW),
                            NOW),
                     OK);
}


/* a key tied to an issuer (an OpenID Connect provider's) */

static void
test_key_issuer(void **state)
{
    ngx_uint_t          i;
    ngx_gateway_jwk_t  *k;

    k = NULL;

    for (i = 0; i < K.jwks->nkeys; i++) {
        if (K.jwks->keys[i].kid.len == 5
            && ngx_strncmp(K.jwks->keys[i].kid.data, "hs256", 5) == 0)
        {
            k = &K.jwks->keys[i];
        }
    }

    assert_non_null(k);

    k->issuer.data = (u_char *) "https://idp.example";
    k->issuer.len = strlen("https://idp.example");

    assert_int_equal(claims(fmt("{\"exp\":%d,\"iss\":\"https://idp.example\"}",
                                NOW + 60), NOW),
                     OK);
    assert_int_equal(claims(fmt("{\"exp\":%d,\"iss\":\"https://other\"}",
                                NOW + 60), NOW),
                     BAD_ISSUER);
    assert_int_equal(claims(fmt("{\"exp\":%d,\"iss\":\"https://idp.exampl\"}",
                                NOW + 60), NOW),
                     BAD_ISSUER);
    assert_int_equal(claims(fmt("{\"exp\":%d}", NOW + 60), NOW), BAD_ISSUER);

    /* other failures first */

    assert_int_equal(claims(fmt("{\"exp\":%d,\"iss\":\"https://other\"}",
                                NOW - 60), NOW),
                     EXPIRED);

    ngx_str_null(&k->issuer);

    assert_int_equal(claims(fmt("{\"exp\":%d,\"iss\":\"https://other\"}",
                                NOW + 60), NOW),
                     OK);
}


static void
test_issuer(void **state)
{
    size_t       i;
    const char  *bad[] = {
        "\"iss\":\"https://evil.example\"", "\"iss\":\"HTTPS://IDP.EXAMPLE\"",
        "\"iss\":\"https://idp.example/\"", "\"iss\":\"https://idp.exampl\"",
        "\"iss\":\"\"", "\"iss\":null", "\"iss\":1",
        "\"iss\":[\"https://idp.example\"]", "\"x\":1"
    };

    POL.issuer.data = (u_char *) "https://idp.example";
    POL.issuer.len = strlen("https://idp.example");

    assert_int_equal(claims(fmt("{\"exp\":%d,\"iss\":\"https://idp.example\"}",
                                NOW + 60), NOW),
                     OK);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(claims(fmt("{\"exp\":%d,%s}", NOW + 60, bad[i]), NOW),
                         BAD_ISSUER);
    }

    /* not compared without a policy issuer, but it must be a string */

    ngx_str_null(&POL.issuer);

    assert_int_equal(claims(fmt("{\"exp\":%d,\"iss\":\"x\"}", NOW + 60),
                            NOW),
                     OK);
    assert_int_equal(claims(fmt("{\"exp\":%d,\"iss\":1}", NOW + 60), NOW),
                     BAD_CLAIMS);
}


static void
test_audience(void **state)
{
    size_t        i;
    ngx_str_t    *a;
    const char   *ok[] = {
        "\"aud\":\"svc\"", "\"aud\":[\"svc\"]", "\"aud\":[\"other\",\"svc\"]",
        "\"aud\":[\"api2\"]", "\"aud\":\"api2\""
    };
    const char   *bad[] = {
        "\"aud\":[]", "\"aud\":[1]", "\"aud\":{}", "\"aud\":1",
        "\"aud\":null", "\"x\":1", "\"aud\":\"SVC\"", "\"aud\":\"svc-admin\"",
        "\"aud\":\"sv\"", "\"aud\":[\"svc-admin\",\"sv\"]",
        "\"aud\":[[\"svc\"]]", "\"aud\":[\"svc\",1]", "\"aud\":true",
        "\"aud\":\"\"", "\"aud\":{\"svc\":1}"
    };

    POL.audiences = ngx_array_create(P, 2, sizeof(ngx_str_t));
    assert_non_null(POL.audiences);

    a = ngx_array_push(POL.audiences);
    a->data = (u_char *) "svc";
    a->len = 3;

    a = ngx_array_push(POL.audiences);
    a->data = (u_char *) "api2";
    a->len = 4;

    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        assert_int_equal(claims(fmt("{\"exp\":%d,%s}", NOW + 60, ok[i]), NOW),
                         OK);
    }

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (claims(fmt("{\"exp\":%d,%s}", NOW + 60, bad[i]), NOW)
            != BAD_AUDIENCE)
        {
            fprintf(stderr, "accepted %s\n", bad[i]);
            fail();
        }
    }

    /* not checked without a policy audience */

    POL.audiences = NULL;

    assert_int_equal(claims(fmt("{\"exp\":%d,\"aud\":1}", NOW + 60), NOW),
                     OK);
}


static void
test_subject(void **state)
{
    size_t       i;
    const char  *bad[] = { "1", "true", "null", "[\"a\"]", "{}", "1.5" };

    assert_int_equal(claims(fmt("{\"exp\":%d,\"sub\":\"bob\"}", NOW + 60),
                            NOW),
                     OK);
    assert_int_equal(J.subject.len, 3);
    assert_memory_equal(J.subject.data, "bob", 3);

    assert_int_equal(claims(fmt("{\"exp\":%d}", NOW + 60), NOW), OK);
    assert_int_equal(J.subject.len, 0);

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(claims(fmt("{\"exp\":%d,\"sub\":%s}", NOW + 60,
                                    bad[i]), NOW),
                         BAD_CLAIMS);
    }

    /* the order of the checks: types before time, time before iss/aud */

    POL.issuer.data = (u_char *) "idp";
    POL.issuer.len = 3;

    assert_int_equal(claims(fmt("{\"exp\":%d,\"sub\":1}", NOW - 60), NOW),
                     BAD_CLAIMS);
    assert_int_equal(claims(fmt("{\"exp\":%d}", NOW - 60), NOW), EXPIRED);
    assert_int_equal(claims(fmt("{\"exp\":%d}", NOW + 60), NOW), BAD_ISSUER);
}


/* A6: sizes */

/* live allocations of a pool: large blocks in use, and small bytes */

static size_t
pool_live(ngx_pool_t *pool, size_t *small)
{
    size_t             n;
    ngx_pool_large_t  *l;

    n = 0;

    for (l = pool->large; l; l = l->next) {
        if (l->alloc != NULL) {
            n++;
        }
    }

    *small = pool->d.last - (u_char *) pool;

    return n;
}


static ngx_gateway_jwt_status_e
verify_in(ngx_pool_t *pool, const char *tok, size_t len)
{
    ngx_str_t  t;

    t.data = (u_char *) tok;
    t.len = len;

    return ngx_gateway_jwt_verify(pool, &t, K.jwks, &POL, NOW, &J);
}


static void
test_size_limits(void **state)
{
    char         *tok, *dots;
    size_t        len, small, small0;
    ngx_pool_t   *pool;

    tok = good("RS256", "rs256");
    len = strlen(tok);

    POL.max_size = len;
    assert_int_equal(verify(tok), OK);

    POL.max_size = len - 1;
    assert_int_equal(verify(tok), TOO_LARGE);

    /* the cap comes first, whatever the token holds */

    assert_int_equal(verify(fmt("%s!!!", tok)), TOO_LARGE);

    /* the default cap: 8192 */

    POL.max_size = 0;

    dots = ngx_pnalloc(P, 8194);
    ngx_memset(dots, 'A', 8193);
    dots[8193] = '\0';
    assert_int_equal(verify(dots), TOO_LARGE);
    dots[8192] = '\0';
    assert_int_equal(verify(dots), MALFORMED);

    /* 8000 dots: refused in one pass, before any allocation */

    ngx_memset(dots, '.', 8000);
    dots[8000] = '\0';

    pool = gateway_test_pool();
    assert_int_equal(pool_live(pool, &small0), 0);

    assert_int_equal(verify_in(pool, dots, 8000), MALFORMED);
    assert_null(pool->large);
    assert_null(pool->cleanup);
    assert_int_equal(pool_live(pool, &small), 0);
    assert_int_equal(small, small0);

    /* one over the cap, of dots */

    POL.max_size = 7999;
    assert_int_equal(verify_in(pool, dots, 8000), TOO_LARGE);
    assert_null(pool->large);

    /* three dots at the start of 8000 */

    POL.max_size = 0;
    dots[3] = 'A';
    assert_int_equal(verify_in(pool, dots, 8000), MALFORMED);
    assert_null(pool->large);

    /* a segment of a length no base64url text has (1 mod 4) */

    assert_int_equal(verify_in(pool, "AAAAA.AAAA.AAAA", 15), MALFORMED);
    assert_int_equal(verify_in(pool, "AAAA.A.AAAA", 11), MALFORMED);
    assert_int_equal(verify_in(pool, "AAAA.AAAA.AAAAAAAAA", 19), MALFORMED);
    assert_null(pool->large);

    /* a refused character */

    tok = fmt("%s", good("HS256", "hs256"));
    tok[5] = '{';
    assert_int_equal(verify_in(pool, tok, strlen(tok)), MALFORMED);
    assert_null(pool->large);
    assert_int_equal(pool_live(pool, &small), 0);
    assert_int_equal(small, small0);

    ngx_destroy_pool(pool);

    /* a token: one decoding buffer, freed, and one cleanup for the claims */

    pool = gateway_test_pool();
    tok = good("HS256", "hs256");

    assert_int_equal(verify_in(pool, tok, strlen(tok)), OK);
    assert_non_null(pool->cleanup);
    assert_null(pool->cleanup->next);
    assert_int_equal(pool_live(pool, &small), 1);

    ngx_destroy_pool(pool);

    /* refused after the signature: the buffer freed, the claims too */

    pool = gateway_test_pool();
    tok = token("HS256", "hs256", fmt("{\"exp\":%d}", NOW - 1));

    assert_int_equal(verify_in(pool, tok, strlen(tok)), EXPIRED);
    assert_int_equal(pool_live(pool, &small), 1);
    assert_non_null(pool->cleanup);
    assert_null(pool->cleanup->handler);

    ngx_destroy_pool(pool);
}


static char *
nested(const char *prefix, size_t depth, const char *suffix)
{
    char    *s, *p;
    size_t   i;

    s = ngx_pnalloc(P, strlen(prefix) + 2 * depth + strlen(suffix) + 1);
    assert_non_null(s);

    p = s + sprintf(s, "%s", prefix);

    for (i = 0; i < depth; i++) {
        *p++ = '[';
    }

    for (i = 0; i < depth; i++) {
        *p++ = ']';
    }

    sprintf(p, "%s", suffix);

    return s;
}


static void
test_deep_json(void **state)
{
    char    *p, *q;
    size_t   i;

    POL.max_size = 16384;

    /* 3000 nested arrays: jansson's depth limit, no stack overflow */

    p = nested(fmt("{\"exp\":%d,\"x\":", NOW + 60), 3000, "}");
    assert_int_equal(claims(p, NOW), MALFORMED);

    /* in the header, which is read before any signature check */

    p = nested("{\"alg\":\"HS256\",\"kid\":\"hs256\",\"x\":", 3000, "}");
    assert_int_equal(verify(token_raw("HS256", p, claims_ok())), MALFORMED);

    /* 1000 levels are fine */

    p = nested(fmt("{\"exp\":%d,\"x\":", NOW + 60), 1000, "}");
    assert_int_equal(claims(p, NOW), OK);

    /* many members, within the cap */

    p = ngx_pnalloc(P, 8000);
    q = p + sprintf(p, "{\"exp\":%d", NOW + 60);

    for (i = 0; i < 500; i++) {
        q += sprintf(q, ",\"c%zu\":%zu", i, i);
    }

    sprintf(q, "}");

    assert_int_equal(claims(p, NOW), OK);
}


/* claims as header values */

static ngx_int_t
claim(const char *name, ngx_str_t *value)
{
    ngx_str_t  n;

    n.data = (u_char *) name;
    n.len = strlen(name);

    return ngx_gateway_jwt_claim(&J, &n, P, value);
}


static void
assert_claim(const char *name, const char *expected)
{
    ngx_str_t  v;

    assert_int_equal(claim(name, &v), NGX_OK);

    if (v.len != strlen(expected) || ngx_memcmp(v.data, expected, v.len)) {
        fprintf(stderr, "%s: \"%.*s\", expected \"%s\"\n", name,
                (int) v.len, v.data, expected);
        fail();
    }
}


static void
test_claim_values(void **state)
{
    ngx_str_t    v;
    size_t       i;
    const char  *declined[] = {
        "absent", "nul", "arr", "obj", "crlf", "lf", "cr", "tab", "del",
        "esc", "empty_arr"
    };

    assert_int_equal(claims(fmt("{\"exp\":%d,\"sub\":\"alice\","
                                "\"email\":\"a@example.com\","
                                "\"n\":42,\"neg\":-7,\"big\":9007199254740993,"
                                "\"r\":1.5,\"r2\":0.1,\"t\":true,\"f\":false,"
                                "\"nul\":null,\"arr\":[\"a\"],\"obj\":{\"a\":1},"
                                "\"empty_arr\":[],"
                                "\"crlf\":\"x\\r\\nX-Gateway-Consumer: admin\","
                                "\"lf\":\"a\\nb\",\"cr\":\"a\\rb\","
                                "\"tab\":\"a\\tb\",\"del\":\"a\\u007fb\","
                                "\"esc\":\"\\u001b[31m\","
                                "\"utf8\":\"Zo\\u00eb\",\"empty\":\"\","
                                "\"sp\":\" a b \"}", NOW + 60), NOW),
                     OK);

    assert_claim("sub", "alice");
    assert_claim("email", "a@example.com");
    assert_claim("n", "42");
    assert_claim("neg", "-7");
    assert_claim("big", "9007199254740993");
    assert_claim("r", "1.5");
    assert_claim("r2", "0.1");
    assert_claim("t", "true");
    assert_claim("f", "false");
    assert_claim("utf8", "Zo\xc3\xab");
    assert_claim("empty", "");
    assert_claim("sp", " a b ");
    assert_claim("exp", fmt("%d", NOW + 60));

    for (i = 0; i < sizeof(declined) / sizeof(declined[0]); i++) {
        v.len = 99;
        assert_int_equal(claim(declined[i], &v), NGX_DECLINED);
    }

    /* names are exact; a name with a NUL inside is not "sub" */

    assert_int_equal(claim("Sub", &v), NGX_DECLINED);
    assert_int_equal(claim("su", &v), NGX_DECLINED);

    {
        ngx_str_t  n = { 4, (u_char *) "sub\0" };
        assert_int_equal(ngx_gateway_jwt_claim(&J, &n, P, &v),
                         NGX_DECLINED);
    }

    /* the value is a copy in the pool */

    assert_int_equal(claim("sub", &v), NGX_OK);
    assert_ptr_not_equal(v.data, J.subject.data);

    /* a token that was refused has no claims */

    assert_int_equal(claims(fmt("{\"exp\":%d,\"sub\":\"x\"}", NOW - 60), NOW),
                     EXPIRED);
    assert_null(J.payload);
    assert_int_equal(claim("sub", &v), NGX_DECLINED);
}


/* the JWK Set loader */

static void
test_jwks_valid(void **state)
{
    ngx_gateway_jwks_t       *set;

    /* without "alg": RS256, ES by curve, EdDSA, HS256 */

    set = load(jwks_json(jwk_rsa(K.rsa, "r", NULL),
                         jwk_ec(K.p256, "e1", NULL),
                         jwk_ec(K.p384, "e2", NULL),
                         jwk_ec(K.p521, "e3", NULL),
                         jwk_okp(K.ed, "o", NULL),
                         jwk_oct(K.hs256, 32, NULL, NULL), NULL));

    assert_int_equal(set->nkeys, 6);
    assert_int_equal(set->keys[0].alg, NGX_GATEWAY_JWT_RS256);
    assert_int_equal(set->keys[1].alg, NGX_GATEWAY_JWT_ES256);
    assert_int_equal(set->keys[2].alg, NGX_GATEWAY_JWT_ES384);
    assert_int_equal(set->keys[3].alg, NGX_GATEWAY_JWT_ES512);
    assert_int_equal(set->keys[4].alg, NGX_GATEWAY_JWT_EDDSA);
    assert_int_equal(set->keys[5].alg, NGX_GATEWAY_JWT_HS256);

    assert_int_equal(set->keys[0].kid.len, 1);
    assert_memory_equal(set->keys[1].kid.data, "e1", 2);
    assert_int_equal(set->keys[5].kid.len, 0);

    assert_non_null(set->keys[0].pkey);
    assert_null(set->keys[5].pkey);
    assert_int_equal(set->keys[5].secret.len, 32);
    assert_memory_equal(set->keys[5].secret.data, K.hs256, 32);
    assert_int_equal(set->keys[0].secret.len, 0);

    /* explicit, consistent "alg", "use":"sig", "key_ops" with verify */

    set = load(jwks_json(
        fmt("{\"kty\":\"RSA\",\"alg\":\"PS512\",\"use\":\"sig\","
            "\"key_ops\":[\"sign\",\"verify\"],\"n\":\"%s\",\"e\":\"%s\","
            "\"x5t\":\"abc\",\"x5c\":[\"MIIB\"],\"ext\":true}",
            bn_b64(K.rsa, OSSL_PKEY_PARAM_RSA_N, 0),
            bn_b64(K.rsa, OSSL_PKEY_PARAM_RSA_E, 0)),
        jwk_oct(K.hs512, 64, "h5", "HS512"),
        jwk_oct(K.hs512, 64, "h3", "HS384"),
        NULL));

    assert_int_equal(set->keys[0].alg, NGX_GATEWAY_JWT_PS512);
    assert_int_equal(set->keys[1].alg, NGX_GATEWAY_JWT_HS512);
    assert_int_equal(set->keys[2].alg, NGX_GATEWAY_JWT_HS384);

    /* the n of a JWK with a leading zero byte: the same key */

    {
        u_char   buf[300];
        BIGNUM  *bn = NULL;

        assert_int_equal(EVP_PKEY_get_bn_param(K.rsa, OSSL_PKEY_PARAM_RSA_N,
                                               &bn), 1);
        buf[0] = 0;
        BN_bn2bin(bn, buf + 1);
        BN_free(bn);

        set = load(jwks_json(fmt("{\"kty\":\"RSA\",\"n\":\"%s\","
                                 "\"e\":\"AQAB\"}", b64(buf, 257)), NULL));
        assert_int_equal(verify_at(set, good("RS256", NULL), NOW), OK);
    }

    /* the loaded keys work, through a set loaded in this test's pool */

    set = load(jwks_json(jwk_ec(K.p521, NULL, NULL), NULL));
    assert_int_equal(verify_at(set, good("ES512", NULL), NOW), OK);
}


/* the pool's cleanup frees the keys and cleanses the secrets */

static void
test_jwks_cleanup(void **state)
{
    u_char                   *secret;
    ngx_uint_t                i;
    ngx_pool_t               *pool;
    ngx_pool_cleanup_t       *cln;
    ngx_gateway_jwks_t       *set;

    pool = gateway_test_pool();

    set = load_in(pool, jwks_json(jwk_oct(K.hs512, 64, "a", "HS512"),
                                  jwk_ec(K.p256, "b", NULL),
                                  jwk_rsa(K.rsa, "c", NULL), NULL));

    secret = set->keys[0].secret.data;
    assert_memory_equal(secret, K.hs512, 64);
    assert_non_null(set->keys[1].pkey);

    cln = pool->cleanup;
    assert_non_null(cln);
    assert_null(cln->next);

    cln->handler(cln->data);

    for (i = 0; i < 64; i++) {
        assert_int_equal(secret[i], 0);
    }

    assert_int_equal(set->keys[0].secret.len, 0);
    assert_null(set->keys[1].pkey);
    assert_null(set->keys[2].pkey);

    /* twice is harmless: ngx_destroy_pool() runs it again */

    ngx_destroy_pool(pool);
}


static void
test_jwks_set_errors(void **state)
{
    const char  *e;

    e = load_error("{\"keys\":[}");
    assert_non_null(strstr(e, "line 1, column 10"));

    e = load_error("{\n  \"keys\": [\n    {\"kty\": \"oct\",,}\n  ]\n}");
    assert_non_null(strstr(e, "line 3"));

    assert_refused("", "invalid JSON");
    assert_refused("{\"keys\":[]} x", "end of input expected");
    assert_refused("{\"keys\":[],\"keys\":[]}", "duplicate member name");
    assert_refused("{\"keys\":[\"\xff\"]}", "invalid UTF-8");
    assert_refused("{\"keys\":[\"a\\u0000\"]}", "\\u0000");
    assert_refused("{\"keys\":[1e999]}", "number out of range");
    assert_refused("[]", "not a JSON object");
    assert_refused("{}", "no \"keys\" array");
    assert_refused("{\"keys\":{}}", "no \"keys\" array");
    assert_refused("{\"keys\":null}", "no \"keys\" array");
    assert_refused("{\"keys\":[]}", "empty");
    assert_refused("{\"keys\":[1]}", "key 0: is not a JSON object");
    assert_refused(jwks_json(jwk_oct(K.hs256, 32, "a", NULL), "[]", NULL),
                   "key 1: is not a JSON object");
}


static void
test_jwks_key_errors(void **state)
{
    char        *n, *e, *x, *y;
    u_char       buf[600];
    BIGNUM      *bn;

    n = bn_b64(K.rsa, OSSL_PKEY_PARAM_RSA_N, 0);
    e = bn_b64(K.rsa, OSSL_PKEY_PARAM_RSA_E, 0);

    /* kty */

    assert_refused("{\"keys\":[{\"kid\":\"a\"}]}",
                   "key 0 (\"kid\": \"a\"): \"kty\" is missing");
    assert_refused("{\"keys\":[{\"kty\":1}]}", "\"kty\" is not a string");
    assert_refused("{\"keys\":[{\"kty\":\"DSA\",\"kid\":\"d\"}]}",
                   "key 0 (\"kid\": \"d\"): unsupported \"kty\" \"DSA\"");
    assert_refused("{\"keys\":[{\"kty\":\"rsa\"}]}",
                   "unsupported \"kty\" \"rsa\"");
    assert_refused("{\"keys\":[{\"kty\":\"\"}]}", "unsupported \"kty\"");
    assert_refused(jwks_json(jwk_rsa(K.rsa, "ok", NULL),
                             "{\"kty\":\"OKP\",\"crv\":\"X25519\","
                             "\"kid\":\"x\",\"x\":\"AAAA\"}", NULL),
                   "key 1 (\"kid\": \"x\"): unsupported \"crv\" \"X25519\"");

    /* kid */

    assert_refused("{\"keys\":[{\"kty\":\"oct\",\"kid\":1}]}",
                   "\"kid\" is not a string");
    assert_refused("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"\"}]}",
                   "\"kid\" is empty");
    memset(buf, 'k', 257);
    buf[257] = '\0';
    assert_refused(fmt("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"%s\"}]}", buf),
                   "longer than 256");
    assert_refused(jwks_json(jwk_rsa(K.rsa, "same", NULL),
                             jwk_ec(K.p256, "other", NULL),
                             jwk_ec(K.p256, "same", NULL), NULL),
                   "key 2 (\"kid\": \"same\"): duplicate \"kid\", as key 0");

    /* use and key_ops */

    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"use\":\"enc\","
                       "\"n\":\"%s\",\"e\":\"%s\"}]}", n, e),
                   "\"use\" is not \"sig\"");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"use\":1,"
                       "\"n\":\"%s\",\"e\":\"%s\"}]}", n, e),
                   "\"use\" is not \"sig\"");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"key_ops\":[\"sign\"],"
                       "\"n\":\"%s\",\"e\":\"%s\"}]}", n, e),
                   "\"key_ops\" does not include \"verify\"");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"key_ops\":[],"
                       "\"n\":\"%s\",\"e\":\"%s\"}]}", n, e),
                   "\"key_ops\" does not include \"verify\"");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"key_ops\":\"verify\","
                       "\"n\":\"%s\",\"e\":\"%s\"}]}", n, e),
                   "\"key_ops\" is not an array");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\","
                       "\"key_ops\":[\"verify\",1],"
                       "\"n\":\"%s\",\"e\":\"%s\"}]}", n, e),
                   "not a string");

    /* private key material in public keys */

    {
        size_t       i;
        const char  *priv[] = { "d", "p", "q", "dp", "dq", "qi", "oth" };

        for (i = 0; i < 7; i++) {
            assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\","
                               "\"e\":\"%s\",\"%s\":\"AQAB\"}]}",
                               n, e, priv[i]),
                           fmt("private key material (\"%s\")", priv[i]));
        }
    }

    assert_refused(fmt("{\"keys\":[%.*s,\"d\":\"AQAB\"}]}",
                       (int) strlen(jwk_ec(K.p256, NULL, NULL)) - 1,
                       jwk_ec(K.p256, NULL, NULL)),
                   "private key material (\"d\")");
    assert_refused(fmt("{\"keys\":[%.*s,\"d\":null}]}",
                       (int) strlen(jwk_okp(K.ed, NULL, NULL)) - 1,
                       jwk_okp(K.ed, NULL, NULL)),
                   "private key material (\"d\")");

    /* alg */

    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"ES256\","
                       "\"n\":\"%s\",\"e\":\"%s\"}]}", n, e),
                   "\"alg\" \"ES256\" does not suit \"kty\" \"RSA\"");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"HS256\","
                       "\"n\":\"%s\",\"e\":\"%s\"}]}", n, e),
                   "does not suit");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"none\","
                       "\"n\":\"%s\",\"e\":\"%s\"}]}", n, e),
                   "unsupported \"alg\" \"none\"");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"alg\":\"RSA-OAEP\","
                       "\"n\":\"%s\",\"e\":\"%s\"}]}", n, e),
                   "unsupported \"alg\" \"RSA-OAEP\"");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"alg\":[\"RS256\"],"
                       "\"n\":\"%s\",\"e\":\"%s\"}]}", n, e),
                   "\"alg\" is not a string");
    assert_refused(jwks_json(jwk_ec(K.p256, NULL, "ES384"), NULL),
                   "\"alg\" \"ES384\" does not suit \"kty\" \"EC\" with "
                   "\"crv\" \"P-256\"");
    assert_refused(jwks_json(jwk_ec(K.p384, NULL, "ES256"), NULL),
                   "does not suit");
    assert_refused(jwks_json(jwk_ec(K.p521, NULL, "ES384"), NULL),
                   "does not suit");
    assert_refused(jwks_json(jwk_ec(K.p256, NULL, "EdDSA"), NULL),
                   "does not suit");
    assert_refused(jwks_json(jwk_okp(K.ed, NULL, "RS256"), NULL),
                   "\"alg\" \"RS256\" does not suit \"kty\" \"OKP\"");
    assert_refused(jwks_json(jwk_okp(K.ed, NULL, "Ed25519"), NULL),
                   "unsupported \"alg\" \"Ed25519\"");
    assert_refused(jwks_json(jwk_oct(K.hs512, 64, NULL, "RS256"), NULL),
                   "does not suit \"kty\" \"oct\"");
    assert_refused(jwks_json(jwk_oct(K.hs512, 64, NULL, "hs256"), NULL),
                   "unsupported \"alg\" \"hs256\"");

    /* crv */

    assert_refused("{\"keys\":[{\"kty\":\"EC\",\"x\":\"AA\",\"y\":\"AA\"}]}",
                   "\"crv\" is missing");
    assert_refused("{\"keys\":[{\"kty\":\"EC\",\"crv\":256}]}",
                   "\"crv\" is not a string");
    assert_refused("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-192\"}]}",
                   "unsupported \"crv\" \"P-192\" for \"kty\" \"EC\"");
    assert_refused("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"secp256k1\"}]}",
                   "unsupported \"crv\" \"secp256k1\"");
    assert_refused("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"Ed25519\"}]}",
                   "unsupported \"crv\" \"Ed25519\" for \"kty\" \"EC\"");
    assert_refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed448\"}]}",
                   "unsupported \"crv\" \"Ed448\"");
    assert_refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"P-256\"}]}",
                   "unsupported \"crv\" \"P-256\" for \"kty\" \"OKP\"");
    assert_refused("{\"keys\":[{\"kty\":\"OKP\"}]}", "\"crv\" is missing");

    /* RSA members */

    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"e\":\"%s\"}]}", e),
                   "\"n\" is missing");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\"}]}", n),
                   "\"e\" is missing");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":1,\"e\":\"%s\"}]}",
                       e),
                   "\"n\" is not a string");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"\","
                       "\"e\":\"%s\"}]}", e),
                   "\"n\" is empty");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s=\","
                       "\"e\":\"%s\"}]}", n, e),
                   "\"n\" is not base64url without padding");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"+%s\","
                       "\"e\":\"%s\"}]}", n + 1, e),
                   "\"n\" is not base64url");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\","
                       "\"e\":\"AQAC\"}]}", n),
                   "invalid RSA exponent");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\","
                       "\"e\":\"AQ\"}]}", n),
                   "invalid RSA exponent");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\","
                       "\"e\":\"AQAAAAAAAAAAAQ\"}]}", n),
                   "invalid RSA exponent");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\","
                       "\"e\":\"AQAB\"}]}", "AQAB"),
                   "RSA modulus of 17 bits, less than 2048");

    /* a 1024-bit key, and an even modulus */

    assert_refused(jwks_json(jwk_rsa(K.rsa1024, "old", NULL), NULL),
                   "key 0 (\"kid\": \"old\"): RSA modulus of 1024 bits, less "
                   "than 2048");

    bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(K.rsa, OSSL_PKEY_PARAM_RSA_N, &bn),
                     1);
    BN_bn2bin(bn, buf);
    buf[255] &= 0xfe;
    BN_free(bn);
    assert_refused(fmt("{\"keys\":[{\"kty\":\"RSA\",\"n\":\"%s\","
                       "\"e\":\"AQAB\"}]}", b64(buf, 256)),
                   "even RSA modulus");

    /* EC members: length, presence, points off the curve */

    x = bn_b64(K.p256, OSSL_PKEY_PARAM_EC_PUB_X, 32);
    y = bn_b64(K.p256, OSSL_PKEY_PARAM_EC_PUB_Y, 32);

    assert_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                       "\"x\":\"%s\"}]}", x),
                   "\"y\" is missing");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                       "\"y\":\"%s\"}]}", y),
                   "\"x\" is missing");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                       "\"x\":\"%s\",\"y\":\"%s\"}]}",
                       bn_b64(K.p256, OSSL_PKEY_PARAM_EC_PUB_X, 33), y),
                   "must be 32 bytes long");
    assert_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-384\","
                       "\"x\":\"%s\",\"y\":\"%s\"}]}", x, y),
                   "\"x\" and \"y\" of \"crv\" \"P-384\" must be 48 bytes");

    {
        size_t  len;

        len = strlen(y);
        y = fmt("%s", y);
        y[len / 2] = (y[len / 2] == 'A') ? 'B' : 'A';
    }

    assert_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                       "\"kid\":\"off\",\"x\":\"%s\",\"y\":\"%s\"}]}", x, y),
                   "key 0 (\"kid\": \"off\"): the point (\"x\", \"y\") is "
                   "not");

    ngx_memzero(buf, 64);
    assert_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                       "\"x\":\"%s\",\"y\":\"%s\"}]}", b64(buf, 32),
                       b64(buf, 32)),
                   "the point (\"x\", \"y\") is not");

    /* coordinates >= p: all ones */

    ngx_memset(buf, 0xff, 64);
    assert_refused(fmt("{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\","
                       "\"x\":\"%s\",\"y\":\"%s\"}]}", b64(buf, 32),
                       b64(buf, 32)),
                   "the point (\"x\", \"y\") is not");

    /* OKP */

    assert_refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\","
                   "\"x\":\"AAAA\"}]}",
                   "\"x\" of \"crv\" \"Ed25519\" must be 32 bytes long");
    assert_refused("{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\"}]}",
                   "\"x\" is missing");

    /* oct: k never empty, at least the hash length */

    assert_refused("{\"keys\":[{\"kty\":\"oct\"}]}", "\"k\" is missing");
    assert_refused("{\"keys\":[{\"kty\":\"oct\",\"k\":\"\"}]}",
                   "\"k\" is empty");
    assert_refused(jwks_json(jwk_oct(K.hs256, 31, NULL, NULL), NULL),
                   "\"k\" of 31 bytes is shorter than HS256 needs (32)");
    assert_refused(jwks_json(jwk_oct(K.hs384, 47, NULL, "HS384"), NULL),
                   "\"k\" of 47 bytes is shorter than HS384 needs (48)");
    assert_refused(jwks_json(jwk_oct(K.hs512, 63, NULL, "HS512"), NULL),
                   "\"k\" of 63 bytes is shorter than HS512 needs (64)");
    assert_refused(jwks_json(jwk_oct(K.hs256, 32, NULL, "HS512"), NULL),
                   "shorter than HS512");
    assert_refused("{\"keys\":[{\"kty\":\"oct\",\"k\":\"password\"}]}",
                   "\"k\" of 6 bytes is shorter");

    /* a refused key after good ones: the whole set is refused */

    assert_refused(jwks_json(jwk_rsa(K.rsa, "a", NULL),
                             jwk_ec(K.p256, "b", NULL),
                             jwk_okp(K.ed, "c", NULL),
                             "{\"kty\":\"EC\",\"kid\":\"d\"}", NULL),
                   "key 3 (\"kid\": \"d\"): \"crv\" is missing");

    /* kids that are not printable are not quoted */

    assert_refused("{\"keys\":[{\"kty\":\"XX\",\"kid\":\"a\\nb\"}]}",
                   "key 0: unsupported \"kty\" \"XX\"");
    assert_refused("{\"keys\":[{\"kty\":\"a\\\"b\",\"kid\":\"q\\\"\"}]}",
                   "key 0: unsupported \"kty\"");
}


static void
test_jwks_errors_hold_no_secrets(void **state)
{
    size_t       i;
    const char  *e, *k;
    const char  *sets[6];

    k = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldC1zZWNyZXQ";

    sets[0] = fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\" x]}", k);
    sets[1] = fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\"]}", k);
    sets[2] = fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s\",\"alg\":\"%s\"}]}",
                  k, k);
    sets[3] = fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":\"%s=\"}]}", k);
    sets[4] = fmt("{\"keys\":[{\"kty\":\"oct\",\"kid\":\"%s\",\"k\":\"%s\","
                  "\"alg\":\"HS512\"}]}", "id", k);
    sets[5] = fmt("{\"keys\":[{\"kty\":\"oct\",\"k\":%s}]}", k);

    for (i = 0; i < 6; i++) {
        e = load_error(sets[i]);

        if (strstr(e, "c2VjcmV0") != NULL || strstr(e, "secret") != NULL) {
            fprintf(stderr, "%s\n", e);
            fail();
        }
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_alg_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_texts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_base64url, setup, teardown),
        cmocka_unit_test_setup_teardown(test_positive_every_algorithm, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_framing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_charset, setup, teardown),
        cmocka_unit_test_setup_teardown(test_noncanonical_base64, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_json_encoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_objects, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_members, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alg_missing_or_not_a_string,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_alg_none, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alg_allowlist, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rsa_key_as_hmac_secret, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_alg_key_type_binding, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_crit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_embedded_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cty_typ_and_jwe_headers, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_kid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kid_and_keys_without_kid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ecdsa_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_signature_lengths, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rsa_short_encoding, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_pss_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_openssl_error_queue, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_signing_input_is_exact, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_ecdsa_round_trips, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_published_vectors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_exp_boundaries, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nbf_iat_boundaries, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_date_types, setup, teardown),
        cmocka_unit_test_setup_teardown(test_issuer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_key_issuer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audience, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subject, setup, teardown),
        cmocka_unit_test_setup_teardown(test_size_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deep_json, setup, teardown),
        cmocka_unit_test_setup_teardown(test_claim_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jwks_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jwks_cleanup, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jwks_set_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_jwks_key_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_jwks_errors_hold_no_secrets,
                                        setup, teardown),
    };

    return cmocka_run_group_tests_name("jwt", tests, group_setup,
                                       group_teardown);
}
