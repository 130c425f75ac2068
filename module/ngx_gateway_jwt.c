
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include "ngx_gateway_jwt.h"


#define NGX_GATEWAY_JWT_HMAC      1
#define NGX_GATEWAY_JWT_RSA       2
#define NGX_GATEWAY_JWT_PSS       3
#define NGX_GATEWAY_JWT_ECDSA     4
#define NGX_GATEWAY_JWT_ED25519   5

/* NumericDates past 1e11 (year 5138) are refused, never cast */
#define NGX_GATEWAY_JWT_MAX_DATE                                         \
    (NGX_MAX_TIME_T_VALUE < 100000000000LL                                    \
     ? (time_t) NGX_MAX_TIME_T_VALUE : (time_t) 100000000000LL)

#define NGX_GATEWAY_JWK_MIN_RSA   2048
#define NGX_GATEWAY_JWK_MAX_RSA   16384

/* a DER ECDSA-Sig-Value of P-521: 3 + 2 * (2 + 67) bytes at most */
#define NGX_GATEWAY_JWT_DER_LEN   160

#define NGX_GATEWAY_JWK_ERR_LEN   (512 + NGX_GATEWAY_JWT_MAX_KID)

/* the longest JSON value an error message quotes (kty, crv, alg) */
#define NGX_GATEWAY_JWK_QUOTE     32


typedef struct {
    ngx_str_t                        name;
    ngx_uint_t                       alg;
    ngx_uint_t                       kind;
    char                            *md;        /* NULL for EdDSA */
    size_t                           size;      /* HMAC: the digest length,
                                                   the least key length;
                                                   ECDSA, EdDSA: the
                                                   coordinate length */
    char                            *crv;       /* JWK curve */
    char                            *group;     /* OpenSSL group name */
} ngx_gateway_jwt_alg_t;


typedef struct {
    ngx_pool_t                      *pool;
    json_t                          *obj;
    ngx_uint_t                       index;
    ngx_str_t                        kid;       /* printable, or empty */
    ngx_str_t                       *err;
} ngx_gateway_jwk_ctx_t;


static ngx_gateway_jwt_alg_t *ngx_gateway_jwt_alg_find(
    const char *name, size_t len);
static ngx_gateway_jwt_alg_t *ngx_gateway_jwt_alg_by_bit(
    ngx_uint_t alg);

static ngx_int_t ngx_gateway_jwks_json_error(ngx_pool_t *pool,
    json_error_t *error, ngx_str_t *err);
static ngx_int_t ngx_gateway_jwks_error(ngx_str_t *err,
    const char *text);
static ngx_int_t ngx_gateway_jwk_make(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwk_t *key);
static ngx_int_t ngx_gateway_jwk_parse(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwk_t *key);
static ngx_int_t ngx_gateway_jwk_kid(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwk_t *key);
static ngx_int_t ngx_gateway_jwk_usage(ngx_gateway_jwk_ctx_t *ctx);
static ngx_int_t ngx_gateway_jwk_alg(ngx_gateway_jwk_ctx_t *ctx,
    ngx_str_t *kty, ngx_gateway_jwt_alg_t **alg);
static ngx_int_t ngx_gateway_jwk_member(ngx_gateway_jwk_ctx_t *ctx,
    char *name, ngx_str_t *value);
static ngx_int_t ngx_gateway_jwk_rsa(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwk_t *key);
static ngx_int_t ngx_gateway_jwk_ec(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwt_alg_t *alg, ngx_gateway_jwk_t *key);
static ngx_int_t ngx_gateway_jwk_okp(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwk_t *key);
static ngx_int_t ngx_gateway_jwk_oct(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwt_alg_t *alg, ngx_gateway_jwk_t *key);
static ngx_int_t ngx_gateway_jwk_contexts(ngx_gateway_jwk_t *key);
static ngx_int_t ngx_gateway_jwk_error(ngx_gateway_jwk_ctx_t *ctx,
    const char *fmt, ...);
static ngx_uint_t ngx_gateway_jwk_printable(json_t *value, size_t max);

static ngx_gateway_jwt_status_e ngx_gateway_jwt_split(
    ngx_str_t *token, ngx_gateway_jwt_policy_t *policy, ngx_str_t *seg);
static json_t *ngx_gateway_jwt_json(ngx_str_t *text,
    ngx_gateway_jwt_status_e *status);
static ngx_gateway_jwt_status_e ngx_gateway_jwt_header(
    json_t *header, ngx_gateway_jwt_policy_t *policy,
    ngx_gateway_jwt_alg_t **alg, ngx_str_t *kid);
static ngx_gateway_jwt_status_e ngx_gateway_jwt_select(
    ngx_gateway_jwks_t *jwks, ngx_gateway_jwt_alg_t *alg,
    ngx_str_t *kid, ngx_gateway_jwk_t **key);
static ngx_gateway_jwt_status_e ngx_gateway_jwt_signature(
    ngx_gateway_jwk_t *key, ngx_gateway_jwt_alg_t *alg,
    ngx_str_t *input, ngx_str_t *sig);
static ngx_gateway_jwt_status_e ngx_gateway_jwt_hmac(
    ngx_gateway_jwk_t *key, ngx_gateway_jwt_alg_t *alg,
    ngx_str_t *input, ngx_str_t *sig);
static ngx_gateway_jwt_status_e ngx_gateway_jwt_ecdsa(
    ngx_gateway_jwk_t *key, ngx_gateway_jwt_alg_t *alg,
    ngx_str_t *input, ngx_str_t *sig);
static ngx_gateway_jwt_status_e ngx_gateway_jwt_pkey_verify(
    ngx_gateway_jwk_t *key, ngx_gateway_jwt_alg_t *alg,
    ngx_str_t *input, u_char *sig, size_t len);
static ngx_gateway_jwt_status_e ngx_gateway_jwt_claims(
    json_t *claims, ngx_gateway_jwt_policy_t *policy, time_t now,
    ngx_gateway_jwt_t *jwt);
static ngx_int_t ngx_gateway_jwt_date(json_t *value, time_t *date);
static ngx_int_t ngx_gateway_jwt_audience(json_t *value,
    ngx_array_t *audiences);
static void ngx_gateway_jwt_cleanup(void *data);


static ngx_gateway_jwt_alg_t  ngx_gateway_jwt_algs[] = {

    { ngx_string("HS256"), NGX_GATEWAY_JWT_HS256,
      NGX_GATEWAY_JWT_HMAC, "SHA256", 32, NULL, NULL },
    { ngx_string("HS384"), NGX_GATEWAY_JWT_HS384,
      NGX_GATEWAY_JWT_HMAC, "SHA384", 48, NULL, NULL },
    { ngx_string("HS512"), NGX_GATEWAY_JWT_HS512,
      NGX_GATEWAY_JWT_HMAC, "SHA512", 64, NULL, NULL },

    { ngx_string("RS256"), NGX_GATEWAY_JWT_RS256,
      NGX_GATEWAY_JWT_RSA, "SHA256", 0, NULL, NULL },
    { ngx_string("RS384"), NGX_GATEWAY_JWT_RS384,
      NGX_GATEWAY_JWT_RSA, "SHA384", 0, NULL, NULL },
    { ngx_string("RS512"), NGX_GATEWAY_JWT_RS512,
      NGX_GATEWAY_JWT_RSA, "SHA512", 0, NULL, NULL },

    { ngx_string("PS256"), NGX_GATEWAY_JWT_PS256,
      NGX_GATEWAY_JWT_PSS, "SHA256", 0, NULL, NULL },
    { ngx_string("PS384"), NGX_GATEWAY_JWT_PS384,
      NGX_GATEWAY_JWT_PSS, "SHA384", 0, NULL, NULL },
    { ngx_string("PS512"), NGX_GATEWAY_JWT_PS512,
      NGX_GATEWAY_JWT_PSS, "SHA512", 0, NULL, NULL },

    { ngx_string("ES256"), NGX_GATEWAY_JWT_ES256,
      NGX_GATEWAY_JWT_ECDSA, "SHA256", 32, "P-256", "prime256v1" },
    { ngx_string("ES384"), NGX_GATEWAY_JWT_ES384,
      NGX_GATEWAY_JWT_ECDSA, "SHA384", 48, "P-384", "secp384r1" },
    { ngx_string("ES512"), NGX_GATEWAY_JWT_ES512,
      NGX_GATEWAY_JWT_ECDSA, "SHA512", 66, "P-521", "secp521r1" },

    { ngx_string("EdDSA"), NGX_GATEWAY_JWT_EDDSA,
      NGX_GATEWAY_JWT_ED25519, NULL, 32, "Ed25519", NULL },

    { ngx_null_string, 0, 0, NULL, 0, NULL, NULL }
};


static ngx_str_t  ngx_gateway_jwt_status_texts[] = {
    ngx_string("valid"),
    ngx_string("malformed token"),
    ngx_string("token too large"),
    ngx_string("algorithm not allowed"),
    ngx_string("unknown key"),
    ngx_string("bad signature"),
    ngx_string("expired"),
    ngx_string("not yet valid"),
    ngx_string("bad claims"),
    ngx_string("bad issuer"),
    ngx_string("bad audience"),
    ngx_string("header parameter not allowed"),
    ngx_string("internal error")
};


/* header parameters we refuse: no extensions, no keys from the token */
static char  *ngx_gateway_jwt_refused[] = {
    "crit", "jwk", "jku", "x5u", "x5c", "cty", "enc", "zip", NULL
};


static char  *ngx_gateway_jwk_private[] = {
    "d", "p", "q", "dp", "dq", "qi", "oth", NULL
};


/* base64url digits; 77 (bit 0x40 set) marks every other byte */
static u_char  ngx_gateway_base64url[] = {
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 62, 77, 77,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 77, 77, 77, 77, 77, 77,
    77,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9, 10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 77, 77, 77, 77, 63,
    77, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 77, 77, 77, 77, 77,

    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77,
    77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77, 77
};


ngx_uint_t
ngx_gateway_jwt_alg(ngx_str_t *name)
{
    ngx_gateway_jwt_alg_t       *alg;

    alg = ngx_gateway_jwt_alg_find((const char *) name->data,
                                   name->len);

    return (alg == NULL) ? 0 : alg->alg;
}


ngx_str_t *
ngx_gateway_jwt_alg_name(ngx_uint_t alg)
{
    ngx_gateway_jwt_alg_t       *a;

    a = ngx_gateway_jwt_alg_by_bit(alg);

    return (a == NULL) ? NULL : &a->name;
}


static ngx_gateway_jwt_alg_t *
ngx_gateway_jwt_alg_find(const char *name, size_t len)
{
    ngx_gateway_jwt_alg_t       *alg;

    for (alg = ngx_gateway_jwt_algs; alg->alg; alg++) {
        if (alg->name.len == len
            && ngx_strncmp(alg->name.data, name, len) == 0)
        {
            return alg;
        }
    }

    return NULL;
}


static ngx_gateway_jwt_alg_t *
ngx_gateway_jwt_alg_by_bit(ngx_uint_t alg)
{
    ngx_gateway_jwt_alg_t       *a;

    for (a = ngx_gateway_jwt_algs; a->alg; a++) {
        if (a->alg == alg) {
            return a;
        }
    }

    return NULL;
}


ngx_str_t *
ngx_gateway_jwt_status_text(ngx_gateway_jwt_status_e s)
{
    if ((ngx_uint_t) s > NGX_GATEWAY_JWT_ERROR) {
        s = NGX_GATEWAY_JWT_ERROR;
    }

    return &ngx_gateway_jwt_status_texts[s];
}


ngx_int_t
ngx_gateway_base64url_decode(ngx_str_t *dst, ngx_str_t *src)
{
    size_t   len;
    u_char  *d, *s, *basis;
    u_char   a, b, c, e;

    len = src->len;

    if (len % 4 == 1) {
        return NGX_ERROR;
    }

    basis = ngx_gateway_base64url;
    s = src->data;
    d = dst->data;

    while (len >= 4) {
        a = basis[s[0]];
        b = basis[s[1]];
        c = basis[s[2]];
        e = basis[s[3]];

        if ((a | b | c | e) & 0x40) {
            return NGX_ERROR;
        }

        *d++ = (u_char) (a << 2 | b >> 4);
        *d++ = (u_char) (b << 4 | c >> 2);
        *d++ = (u_char) (c << 6 | e);

        s += 4;
        len -= 4;
    }

    if (len == 2) {
        a = basis[s[0]];
        b = basis[s[1]];

        /* the 4 unused bits must be zero: one encoding per value */

        if (((a | b) & 0x40) || (b & 0x0f)) {
            return NGX_ERROR;
        }

        *d++ = (u_char) (a << 2 | b >> 4);

    } else if (len == 3) {
        a = basis[s[0]];
        b = basis[s[1]];
        c = basis[s[2]];

        if (((a | b | c) & 0x40) || (c & 0x03)) {
            return NGX_ERROR;
        }

        *d++ = (u_char) (a << 2 | b >> 4);
        *d++ = (u_char) (b << 4 | c >> 2);
    }

    dst->len = d - dst->data;

    return NGX_OK;
}


ngx_int_t
ngx_gateway_jwks_parse(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_gateway_jwks_t *jwks, ngx_str_t *err)
{
    json_t                      *root, *keys;
    ngx_int_t                    rc;
    ngx_uint_t                   i, j, n;
    json_error_t                 error;
    ngx_pool_cleanup_t          *cln;
    ngx_gateway_jwk_t           *key;
    ngx_gateway_jwks_t          *set;
    ngx_gateway_jwk_ctx_t        ctx;

    ngx_str_null(err);
    jwks->keys = NULL;
    jwks->nkeys = 0;

    root = json_loadb((const char *) data, len, JSON_REJECT_DUPLICATES,
                      &error);
    if (root == NULL) {
        return ngx_gateway_jwks_json_error(pool, &error, err);
    }

    if (!json_is_object(root)) {
        rc = ngx_gateway_jwks_error(err,
                                    "the JWK Set is not a JSON object");
        goto done;
    }

    keys = json_object_get(root, "keys");

    if (!json_is_array(keys)) {
        rc = ngx_gateway_jwks_error(err,
                                    "the JWK Set has no \"keys\" array");
        goto done;
    }

    n = json_array_size(keys);

    if (n == 0) {
        rc = ngx_gateway_jwks_error(err, "the JWK Set is empty");
        goto done;
    }

    rc = NGX_ERROR;

    set = ngx_pcalloc(pool, sizeof(ngx_gateway_jwks_t));
    if (set == NULL) {
        goto done;
    }

    set->keys = ngx_pcalloc(pool, n * sizeof(ngx_gateway_jwk_t));
    if (set->keys == NULL) {
        goto done;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        goto done;
    }

    /* the cleanup frees what each slot holds, filled or not */

    set->nkeys = n;
    cln->handler = ngx_gateway_jwks_cleanup;
    cln->data = set;

    ctx.pool = pool;
    ctx.err = err;

    for (i = 0; i < n; i++) {
        key = &set->keys[i];

        ctx.obj = json_array_get(keys, i);
        ctx.index = i;
        ngx_str_null(&ctx.kid);

        rc = ngx_gateway_jwk_make(&ctx, key);
        if (rc != NGX_OK) {
            goto failed;
        }

        if (key->kid.len == 0) {
            continue;
        }

        for (j = 0; j < i; j++) {
            if (set->keys[j].kid.len == key->kid.len
                && ngx_memcmp(set->keys[j].kid.data, key->kid.data,
                              key->kid.len)
                   == 0)
            {
                rc = ngx_gateway_jwk_error(&ctx, "duplicate \"kid\", "
                                           "as key %ui", j);
                goto failed;
            }
        }
    }

    json_decref(root);

    *jwks = *set;

    return NGX_OK;

failed:

    /* nothing of a refused set outlives the call */

    ngx_gateway_jwks_cleanup(set);

done:

    json_decref(root);

    return rc;
}


/*
 * A key's digest, its verification context set up for its algorithm (the
 * padding, the digest, PSS's MGF1 and salt), or its HMAC context keyed:
 * made once.  EdDSA hashes inside its signature and keeps the one-shot
 * EVP_DigestVerify().
 */

static ngx_int_t
ngx_gateway_jwk_contexts(ngx_gateway_jwk_t *key)
{
    EVP_MAC                     *mac;
    OSSL_PARAM                   params[2];
    ngx_gateway_jwt_alg_t       *alg;

    alg = ngx_gateway_jwt_alg_by_bit(key->alg);

    if (alg == NULL) {
        return NGX_ERROR;
    }

    if (alg->md == NULL) {
        return NGX_OK;
    }

    key->md = EVP_MD_fetch(NULL, alg->md, NULL);
    if (key->md == NULL) {
        goto failed;
    }

    if (alg->kind == NGX_GATEWAY_JWT_HMAC) {
        mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
        if (mac == NULL) {
            goto failed;
        }

        key->mac = EVP_MAC_CTX_new(mac);
        EVP_MAC_free(mac);

        if (key->mac == NULL) {
            goto failed;
        }

        params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                     alg->md, 0);
        params[1] = OSSL_PARAM_construct_end();

        if (EVP_MAC_init(key->mac, key->secret.data, key->secret.len,
                         params)
            != 1)
        {
            goto failed;
        }

        return NGX_OK;
    }

    key->digest = EVP_MD_CTX_new();
    key->verify = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);

    if (key->digest == NULL || key->verify == NULL
        || EVP_PKEY_verify_init(key->verify) != 1
        || EVP_PKEY_CTX_set_signature_md(key->verify, key->md) <= 0)
    {
        goto failed;
    }

    if (alg->kind == NGX_GATEWAY_JWT_RSA
        && EVP_PKEY_CTX_set_rsa_padding(key->verify, RSA_PKCS1_PADDING) <= 0)
    {
        goto failed;
    }

    /* RFC 7518 3.5: MGF1 with the same hash, a salt of the hash's size */

    if (alg->kind == NGX_GATEWAY_JWT_PSS
        && (EVP_PKEY_CTX_set_rsa_padding(key->verify, RSA_PKCS1_PSS_PADDING)
            <= 0
            || EVP_PKEY_CTX_set_rsa_pss_saltlen(key->verify,
                                                RSA_PSS_SALTLEN_DIGEST)
               <= 0
            || EVP_PKEY_CTX_set_rsa_mgf1_md(key->verify, key->md) <= 0))
    {
        goto failed;
    }

    return NGX_OK;

failed:

    ERR_clear_error();

    return NGX_ERROR;
}


ngx_int_t
ngx_gateway_jwk_load(ngx_pool_t *pool, void *obj, ngx_uint_t index,
    ngx_gateway_jwk_t *key, ngx_str_t *err)
{
    ngx_gateway_jwk_ctx_t  ctx;

    ctx.pool = pool;
    ctx.obj = obj;
    ctx.index = index;
    ctx.err = err;
    ngx_str_null(&ctx.kid);

    return ngx_gateway_jwk_make(&ctx, key);
}


/* a key and its contexts, or *ctx->err */

static ngx_int_t
ngx_gateway_jwk_make(ngx_gateway_jwk_ctx_t *ctx, ngx_gateway_jwk_t *key)
{
    ngx_int_t  rc;

    rc = ngx_gateway_jwk_parse(ctx, key);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_gateway_jwk_contexts(key) != NGX_OK) {
        return ngx_gateway_jwk_error(ctx, "OpenSSL cannot make the key's "
                                     "verification context");
    }

    return NGX_OK;
}


void
ngx_gateway_jwks_cleanup(void *data)
{
    ngx_gateway_jwks_t       *set = data;

    ngx_uint_t               i;
    ngx_gateway_jwk_t       *key;

    for (i = 0; i < set->nkeys; i++) {
        key = &set->keys[i];

        EVP_MAC_CTX_free(key->mac);
        EVP_PKEY_CTX_free(key->verify);
        EVP_MD_CTX_free(key->digest);
        EVP_MD_free(key->md);
        key->mac = NULL;
        key->verify = NULL;
        key->digest = NULL;
        key->md = NULL;

        if (key->pkey != NULL) {
            EVP_PKEY_free(key->pkey);
            key->pkey = NULL;
        }

        if (key->secret.len) {
            OPENSSL_cleanse(key->secret.data, key->secret.len);
            key->secret.len = 0;
        }
    }

    set->nkeys = 0;
}


/*
 * jansson's own text quotes the input ("near '...'"), which may be part of
 * a secret: only the line, the column and a fixed text are given.
 */

static ngx_int_t
ngx_gateway_jwks_json_error(ngx_pool_t *pool, json_error_t *error,
    ngx_str_t *err)
{
    u_char      *p;
    const char  *text;

    switch (json_error_code(error)) {

    case json_error_out_of_memory:
        return NGX_ERROR;

    case json_error_stack_overflow:
        text = "nested too deeply";
        break;

    case json_error_invalid_utf8:
        text = "invalid UTF-8";
        break;

    case json_error_premature_end_of_input:
        text = "premature end of input";
        break;

    case json_error_end_of_input_expected:
        text = "end of input expected";
        break;

    case json_error_null_character:
    case json_error_null_byte_in_key:
        text = "\\u0000 in a string";
        break;

    case json_error_duplicate_key:
        text = "duplicate member name";
        break;

    case json_error_numeric_overflow:
        text = "number out of range";
        break;

    default:
        text = "invalid syntax";
        break;
    }

    err->data = ngx_pnalloc(pool, NGX_GATEWAY_JWK_ERR_LEN);
    if (err->data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_slprintf(err->data, err->data + NGX_GATEWAY_JWK_ERR_LEN,
                     "invalid JSON in the JWK Set at line %d, column %d: %s",
                     error->line, error->column, text);

    err->len = p - err->data;

    return NGX_DECLINED;
}


static ngx_int_t
ngx_gateway_jwks_error(ngx_str_t *err, const char *text)
{
    err->len = ngx_strlen(text);
    err->data = (u_char *) text;

    return NGX_DECLINED;
}


static ngx_int_t
ngx_gateway_jwk_parse(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwk_t *key)
{
    char                        **name;
    json_t                       *v;
    ngx_int_t                     rc;
    ngx_str_t                     kty;
    ngx_gateway_jwt_alg_t        *alg;

    if (!json_is_object(ctx->obj)) {
        return ngx_gateway_jwk_error(ctx, "is not a JSON object");
    }

    rc = ngx_gateway_jwk_kid(ctx, key);
    if (rc != NGX_OK) {
        return rc;
    }

    v = json_object_get(ctx->obj, "kty");

    if (v == NULL) {
        return ngx_gateway_jwk_error(ctx, "\"kty\" is missing");
    }

    if (!json_is_string(v)) {
        return ngx_gateway_jwk_error(ctx, "\"kty\" is not a string");
    }

    kty.data = (u_char *) json_string_value(v);
    kty.len = json_string_length(v);

    if (!(kty.len == 3 && ngx_strncmp(kty.data, "RSA", 3) == 0)
        && !(kty.len == 2 && ngx_strncmp(kty.data, "EC", 2) == 0)
        && !(kty.len == 3 && ngx_strncmp(kty.data, "OKP", 3) == 0)
        && !(kty.len == 3 && ngx_strncmp(kty.data, "oct", 3) == 0))
    {
        if (ngx_gateway_jwk_printable(v, NGX_GATEWAY_JWK_QUOTE)) {
            return ngx_gateway_jwk_error(ctx, "unsupported \"kty\" "
                                         "\"%V\"", &kty);
        }

        return ngx_gateway_jwk_error(ctx, "unsupported \"kty\"");
    }

    rc = ngx_gateway_jwk_usage(ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    /* the first letter tells "RSA", "EC", "OKP" and "oct" apart */

    if (kty.data[0] != 'o') {
        for (name = ngx_gateway_jwk_private; *name; name++) {
            if (json_object_get(ctx->obj, *name) != NULL) {
                return ngx_gateway_jwk_error(ctx, "private key material "
                                             "(\"%s\") in a public key",
                                             *name);
            }
        }
    }

    alg = NULL;

    rc = ngx_gateway_jwk_alg(ctx, &kty, &alg);
    if (rc != NGX_OK) {
        return rc;
    }

    key->alg = alg->alg;

    switch (alg->kind) {

    case NGX_GATEWAY_JWT_HMAC:
        return ngx_gateway_jwk_oct(ctx, alg, key);

    case NGX_GATEWAY_JWT_RSA:
    case NGX_GATEWAY_JWT_PSS:
        return ngx_gateway_jwk_rsa(ctx, key);

    case NGX_GATEWAY_JWT_ECDSA:
        return ngx_gateway_jwk_ec(ctx, alg, key);

    default: /* NGX_GATEWAY_JWT_ED25519 */
        return ngx_gateway_jwk_okp(ctx, key);
    }
}


static ngx_int_t
ngx_gateway_jwk_kid(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwk_t *key)
{
    json_t  *v;
    size_t   len;

    v = json_object_get(ctx->obj, "kid");

    if (v == NULL) {
        return NGX_OK;
    }

    if (!json_is_string(v)) {
        return ngx_gateway_jwk_error(ctx, "\"kid\" is not a string");
    }

    len = json_string_length(v);

    if (len == 0) {
        return ngx_gateway_jwk_error(ctx, "\"kid\" is empty");
    }

    if (len > NGX_GATEWAY_JWT_MAX_KID) {
        return ngx_gateway_jwk_error(ctx, "\"kid\" is longer than %d "
                                     "bytes",
                                     NGX_GATEWAY_JWT_MAX_KID);
    }

    key->kid.data = ngx_pnalloc(ctx->pool, len);
    if (key->kid.data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(key->kid.data, json_string_value(v), len);
    key->kid.len = len;

    if (ngx_gateway_jwk_printable(v, NGX_GATEWAY_JWT_MAX_KID)) {
        ctx->kid = key->kid;
    }

    return NGX_OK;
}


/* "use" must be "sig" and "key_ops" must list "verify", when present */

static ngx_int_t
ngx_gateway_jwk_usage(ngx_gateway_jwk_ctx_t *ctx)
{
    json_t      *v, *op;
    size_t       i;
    ngx_uint_t   verify;

    v = json_object_get(ctx->obj, "use");

    if (v != NULL
        && !(json_is_string(v) && json_string_length(v) == 3
             && ngx_strncmp(json_string_value(v), "sig", 3) == 0))
    {
        return ngx_gateway_jwk_error(ctx, "\"use\" is not \"sig\"");
    }

    v = json_object_get(ctx->obj, "key_ops");

    if (v == NULL) {
        return NGX_OK;
    }

    if (!json_is_array(v)) {
        return ngx_gateway_jwk_error(ctx, "\"key_ops\" is not an array");
    }

    verify = 0;

    json_array_foreach(v, i, op) {
        if (!json_is_string(op)) {
            return ngx_gateway_jwk_error(ctx, "\"key_ops\" holds a "
                                         "value that is not a string");
        }

        if (json_string_length(op) == 6
            && ngx_strncmp(json_string_value(op), "verify", 6) == 0)
        {
            verify = 1;
        }
    }

    if (!verify) {
        return ngx_gateway_jwk_error(ctx, "\"key_ops\" does not "
                                     "include \"verify\"");
    }

    return NGX_OK;
}


/*
 * The one algorithm of a key: its "alg", which must suit the key type and
 * curve, or else the one the type and curve imply.
 */

static ngx_int_t
ngx_gateway_jwk_alg(ngx_gateway_jwk_ctx_t *ctx, ngx_str_t *kty,
    ngx_gateway_jwt_alg_t **alg)
{
    json_t                      *v, *crv;
    ngx_str_t                    name;
    ngx_uint_t                   kind;
    ngx_gateway_jwt_alg_t       *a, *curve;

    curve = NULL;

    if (kty->data[0] == 'E' || kty->data[0] == 'O') {

        crv = json_object_get(ctx->obj, "crv");

        if (crv == NULL) {
            return ngx_gateway_jwk_error(ctx, "\"crv\" is missing");
        }

        if (!json_is_string(crv)) {
            return ngx_gateway_jwk_error(ctx, "\"crv\" is not a string");
        }

        for (a = ngx_gateway_jwt_algs; a->alg; a++) {
            if (a->crv != NULL
                && ngx_strlen(a->crv) == json_string_length(crv)
                && ngx_strcmp(a->crv, json_string_value(crv)) == 0
                && (a->kind == NGX_GATEWAY_JWT_ECDSA)
                   == (kty->data[0] == 'E'))
            {
                curve = a;
                break;
            }
        }

        if (curve == NULL) {
            name.data = (u_char *) json_string_value(crv);
            name.len = json_string_length(crv);

            if (ngx_gateway_jwk_printable(crv,
                                          NGX_GATEWAY_JWK_QUOTE))
            {
                return ngx_gateway_jwk_error(ctx, "unsupported \"crv\" "
                                             "\"%V\" for \"kty\" \"%V\"",
                                             &name, kty);
            }

            return ngx_gateway_jwk_error(ctx, "unsupported \"crv\"");
        }
    }

    v = json_object_get(ctx->obj, "alg");

    if (v == NULL) {
        switch (kty->data[0]) {

        case 'R':
            *alg = ngx_gateway_jwt_alg_by_bit(NGX_GATEWAY_JWT_RS256);
            break;

        case 'o':
            *alg = ngx_gateway_jwt_alg_by_bit(NGX_GATEWAY_JWT_HS256);
            break;

        default:
            *alg = curve;
            break;
        }

        return NGX_OK;
    }

    if (!json_is_string(v)) {
        return ngx_gateway_jwk_error(ctx, "\"alg\" is not a string");
    }

    name.data = (u_char *) json_string_value(v);
    name.len = json_string_length(v);

    a = ngx_gateway_jwt_alg_find((const char *) name.data, name.len);

    if (a == NULL) {
        if (ngx_gateway_jwk_printable(v, NGX_GATEWAY_JWK_QUOTE)) {
            return ngx_gateway_jwk_error(ctx, "unsupported \"alg\" "
                                         "\"%V\"", &name);
        }

        return ngx_gateway_jwk_error(ctx, "unsupported \"alg\"");
    }

    switch (kty->data[0]) {

    case 'R':
        kind = (a->kind == NGX_GATEWAY_JWT_RSA
                || a->kind == NGX_GATEWAY_JWT_PSS);
        break;

    case 'o':
        kind = (a->kind == NGX_GATEWAY_JWT_HMAC);
        break;

    default:
        kind = (a == curve);
        break;
    }

    if (!kind) {
        if (curve != NULL) {
            return ngx_gateway_jwk_error(ctx, "\"alg\" \"%V\" does not "
                                         "suit \"kty\" \"%V\" with "
                                         "\"crv\" \"%s\"",
                                         &name, kty, curve->crv);
        }

        return ngx_gateway_jwk_error(ctx, "\"alg\" \"%V\" does not suit "
                                     "\"kty\" \"%V\"", &name, kty);
    }

    *alg = a;

    return NGX_OK;
}


/* a strictly base64url-encoded, non-empty string member, decoded */

static ngx_int_t
ngx_gateway_jwk_member(ngx_gateway_jwk_ctx_t *ctx, char *name,
    ngx_str_t *value)
{
    json_t     *v;
    size_t      size;
    ngx_str_t   src;

    v = json_object_get(ctx->obj, name);

    if (v == NULL) {
        return ngx_gateway_jwk_error(ctx, "\"%s\" is missing", name);
    }

    if (!json_is_string(v)) {
        return ngx_gateway_jwk_error(ctx, "\"%s\" is not a string",
                                     name);
    }

    src.data = (u_char *) json_string_value(v);
    src.len = json_string_length(v);

    if (src.len == 0) {
        return ngx_gateway_jwk_error(ctx, "\"%s\" is empty", name);
    }

    size = src.len * 3 / 4 + 1;

    value->data = ngx_pnalloc(ctx->pool, size);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_gateway_base64url_decode(value, &src) != NGX_OK) {
        OPENSSL_cleanse(value->data, size);
        value->len = 0;

        return ngx_gateway_jwk_error(ctx, "\"%s\" is not base64url "
                                     "without padding", name);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_gateway_jwk_rsa(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwk_t *key)
{
    int              bits;
    BIGNUM          *n, *e;
    ngx_int_t        rc;
    ngx_str_t        nb, eb;
    OSSL_PARAM      *params;
    EVP_PKEY_CTX    *pctx;
    OSSL_PARAM_BLD  *bld;

    rc = ngx_gateway_jwk_member(ctx, "n", &nb);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_gateway_jwk_member(ctx, "e", &eb);
    if (rc != NGX_OK) {
        return rc;
    }

    params = NULL;
    pctx = NULL;
    bld = NULL;
    rc = NGX_ERROR;

    n = BN_bin2bn(nb.data, nb.len, NULL);
    e = BN_bin2bn(eb.data, eb.len, NULL);

    if (n == NULL || e == NULL) {
        goto done;
    }

    bits = BN_num_bits(n);

    if (bits < NGX_GATEWAY_JWK_MIN_RSA) {
        rc = ngx_gateway_jwk_error(ctx, "RSA modulus of %d bits, "
                                   "less than %d", bits,
                                   NGX_GATEWAY_JWK_MIN_RSA);
        goto done;
    }

    if (bits > NGX_GATEWAY_JWK_MAX_RSA) {
        rc = ngx_gateway_jwk_error(ctx, "RSA modulus of %d bits, "
                                   "more than %d", bits,
                                   NGX_GATEWAY_JWK_MAX_RSA);
        goto done;
    }

    if (!BN_is_odd(n)) {
        rc = ngx_gateway_jwk_error(ctx, "even RSA modulus");
        goto done;
    }

    /* e = 1 would make every signature its own message */

    if (!BN_is_odd(e) || BN_is_one(e) || BN_num_bits(e) > 64) {
        rc = ngx_gateway_jwk_error(ctx, "invalid RSA exponent");
        goto done;
    }

    bld = OSSL_PARAM_BLD_new();
    if (bld == NULL) {
        goto done;
    }

    if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) != 1
        || OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) != 1)
    {
        goto done;
    }

    params = OSSL_PARAM_BLD_to_param(bld);
    if (params == NULL) {
        goto done;
    }

    pctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1) {
        goto done;
    }

    if (EVP_PKEY_fromdata(pctx, &key->pkey, EVP_PKEY_PUBLIC_KEY, params)
        != 1)
    {
        rc = ngx_gateway_jwk_error(ctx, "invalid RSA key");
        goto done;
    }

    rc = NGX_OK;

done:

    BN_free(n);
    BN_free(e);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(pctx);

    if (rc != NGX_OK) {
        ERR_clear_error();
    }

    return rc;
}


static ngx_int_t
ngx_gateway_jwk_ec(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwt_alg_t *alg, ngx_gateway_jwk_t *key)
{
    u_char         pub[1 + 2 * 66];
    ngx_int_t      rc;
    ngx_str_t      x, y;
    OSSL_PARAM     params[3];
    EVP_PKEY_CTX  *pctx;

    rc = ngx_gateway_jwk_member(ctx, "x", &x);
    if (rc != NGX_OK) {
        return rc;
    }

    rc = ngx_gateway_jwk_member(ctx, "y", &y);
    if (rc != NGX_OK) {
        return rc;
    }

    if (x.len != alg->size || y.len != alg->size) {
        return ngx_gateway_jwk_error(ctx, "\"x\" and \"y\" of \"crv\" "
                                     "\"%s\" must be %uz bytes long",
                                     alg->crv, alg->size);
    }

    /* an uncompressed point: 04 || x || y */

    pub[0] = 0x04;
    ngx_memcpy(pub + 1, x.data, alg->size);
    ngx_memcpy(pub + 1 + alg->size, y.data, alg->size);

    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                 alg->group, 0);
    params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
                                                  pub, 1 + 2 * alg->size);
    params[2] = OSSL_PARAM_construct_end();

    rc = NGX_ERROR;

    pctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (pctx == NULL || EVP_PKEY_fromdata_init(pctx) != 1) {
        goto done;
    }

    if (EVP_PKEY_fromdata(pctx, &key->pkey, EVP_PKEY_PUBLIC_KEY, params)
        != 1)
    {
        rc = ngx_gateway_jwk_error(ctx, "the point (\"x\", \"y\") is "
                                   "not on the curve \"%s\"", alg->crv);
        goto done;
    }

    EVP_PKEY_CTX_free(pctx);

    /* on the curve, not at infinity, of the group's order */

    pctx = EVP_PKEY_CTX_new_from_pkey(NULL, key->pkey, NULL);
    if (pctx == NULL) {
        goto done;
    }

    if (EVP_PKEY_public_check(pctx) != 1) {
        rc = ngx_gateway_jwk_error(ctx, "the point (\"x\", \"y\") is "
                                   "not a valid public key of \"%s\"",
                                   alg->crv);
        goto done;
    }

    rc = NGX_OK;

done:

    EVP_PKEY_CTX_free(pctx);

    if (rc != NGX_OK) {
        ERR_clear_error();
    }

    return rc;
}


static ngx_int_t
ngx_gateway_jwk_okp(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwk_t *key)
{
    ngx_int_t  rc;
    ngx_str_t  x;

    rc = ngx_gateway_jwk_member(ctx, "x", &x);
    if (rc != NGX_OK) {
        return rc;
    }

    if (x.len != 32) {
        return ngx_gateway_jwk_error(ctx, "\"x\" of \"crv\" \"Ed25519\" "
                                     "must be 32 bytes long");
    }

    key->pkey = EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL,
                                               x.data, x.len);
    if (key->pkey == NULL) {
        ERR_clear_error();
        return NGX_ERROR;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_gateway_jwk_oct(ngx_gateway_jwk_ctx_t *ctx,
    ngx_gateway_jwt_alg_t *alg, ngx_gateway_jwk_t *key)
{
    size_t     len;
    ngx_int_t  rc;

    rc = ngx_gateway_jwk_member(ctx, "k", &key->secret);
    if (rc != NGX_OK) {
        return rc;
    }

    /* RFC 7518 3.2: a key of at least the size of the hash output */

    if (key->secret.len < alg->size) {
        len = key->secret.len;

        OPENSSL_cleanse(key->secret.data, key->secret.len);
        key->secret.len = 0;

        return ngx_gateway_jwk_error(ctx, "\"k\" of %uz bytes is "
                                     "shorter than %V needs (%uz)",
                                     len, &alg->name, alg->size);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_gateway_jwk_error(ngx_gateway_jwk_ctx_t *ctx,
    const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;

    p = ngx_pnalloc(ctx->pool, NGX_GATEWAY_JWK_ERR_LEN);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->err->data = p;
    last = p + NGX_GATEWAY_JWK_ERR_LEN;

    if (ctx->kid.len) {
        p = ngx_slprintf(p, last, "key %ui (\"kid\": \"%V\"): ",
                         ctx->index, &ctx->kid);

    } else {
        p = ngx_slprintf(p, last, "key %ui: ", ctx->index);
    }

    va_start(args, fmt);
    p = ngx_vslprintf(p, last, fmt, args);
    va_end(args);

    ctx->err->len = p - ctx->err->data;

    return NGX_DECLINED;
}


/* whether a JSON string may be quoted in a message as it is */

static ngx_uint_t
ngx_gateway_jwk_printable(json_t *value, size_t max)
{
    size_t       i, len;
    const char  *s;

    len = json_string_length(value);
    s = json_string_value(value);

    if (len > max) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (s[i] < 0x20 || s[i] > 0x7e || s[i] == '"' || s[i] == '\\') {
            return 0;
        }
    }

    return 1;
}


ngx_gateway_jwt_status_e
ngx_gateway_jwt_verify(ngx_pool_t *pool, ngx_str_t *token,
    ngx_gateway_jwks_t *jwks, ngx_gateway_jwt_policy_t *policy,
    time_t now, ngx_gateway_jwt_t *jwt)
{
    u_char                         *buf, *p;
    json_t                         *header, *claims;
    ngx_str_t                       seg[3], dec[3], input, kid;
    ngx_uint_t                      i;
    ngx_pool_cleanup_t             *cln;
    ngx_gateway_jwk_t              *key;
    ngx_gateway_jwt_alg_t          *alg;
    ngx_gateway_jwt_status_e        rc;

    ngx_memzero(jwt, sizeof(ngx_gateway_jwt_t));

    alg = NULL;
    key = NULL;

    /* length, charset and framing, before any allocation */

    rc = ngx_gateway_jwt_split(token, policy, seg);
    if (rc != NGX_GATEWAY_JWT_OK) {
        return rc;
    }

    /* one buffer for the three decoded segments */

    buf = ngx_pnalloc(pool, seg[0].len * 3 / 4 + seg[1].len * 3 / 4
                            + seg[2].len * 3 / 4);
    if (buf == NULL) {
        return NGX_GATEWAY_JWT_ERROR;
    }

    p = buf;

    for (i = 0; i < 3; i++) {
        dec[i].data = p;

        if (ngx_gateway_base64url_decode(&dec[i], &seg[i]) != NGX_OK) {
            rc = NGX_GATEWAY_JWT_MALFORMED;
            goto done;
        }

        p += dec[i].len;
    }

    header = ngx_gateway_jwt_json(&dec[0], &rc);
    if (header == NULL) {
        goto done;
    }

    rc = ngx_gateway_jwt_header(header, policy, &alg, &kid);

    if (rc == NGX_GATEWAY_JWT_OK) {
        rc = ngx_gateway_jwt_select(jwks, alg, &kid, &key);
    }

    /* kid points into the header: released only now */

    json_decref(header);

    if (rc != NGX_GATEWAY_JWT_OK) {
        goto done;
    }

    /* the signing input is the received ASCII, "header.payload" */

    input.data = token->data;
    input.len = seg[1].data + seg[1].len - token->data;

    rc = ngx_gateway_jwt_signature(key, alg, &input, &dec[2]);
    if (rc != NGX_GATEWAY_JWT_OK) {
        goto done;
    }

    /* claims are read only from the payload that was verified */

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        rc = NGX_GATEWAY_JWT_ERROR;
        goto done;
    }

    claims = ngx_gateway_jwt_json(&dec[1], &rc);
    if (claims == NULL) {
        goto done;
    }

    rc = ngx_gateway_jwt_claims(claims, policy, now, jwt);

    /* a key of an identity provider verifies its own tokens only */

    if (rc == NGX_GATEWAY_JWT_OK && key->issuer.len
        && (jwt->issuer.len != key->issuer.len
            || ngx_memcmp(jwt->issuer.data, key->issuer.data,
                          key->issuer.len)
               != 0))
    {
        rc = NGX_GATEWAY_JWT_BAD_ISSUER;
    }

    if (rc != NGX_GATEWAY_JWT_OK) {
        json_decref(claims);
        goto done;
    }

    cln->handler = ngx_gateway_jwt_cleanup;
    cln->data = claims;

    jwt->payload = claims;

done:

    ngx_pfree(pool, buf);

    return rc;
}


static ngx_gateway_jwt_status_e
ngx_gateway_jwt_split(ngx_str_t *token,
    ngx_gateway_jwt_policy_t *policy, ngx_str_t *seg)
{
    u_char      *p, *last, *dot[2];
    size_t       max;
    ngx_uint_t   ndots;

    max = policy->max_size ? policy->max_size
                           : NGX_GATEWAY_JWT_MAX_SIZE;

    if (token->len > max) {
        return NGX_GATEWAY_JWT_TOO_LARGE;
    }

    /* one pass: [A-Za-z0-9_-] and exactly two dots (RFC 8725bis 3.14) */

    ndots = 0;
    last = token->data + token->len;

    for (p = token->data; p < last; p++) {

        if (*p == '.') {
            if (ndots == 2) {
                return NGX_GATEWAY_JWT_MALFORMED;
            }

            dot[ndots++] = p;
            continue;
        }

        if (ngx_gateway_base64url[*p] & 0x40) {
            return NGX_GATEWAY_JWT_MALFORMED;
        }
    }

    if (ndots != 2) {
        return NGX_GATEWAY_JWT_MALFORMED;
    }

    seg[0].data = token->data;
    seg[0].len = dot[0] - token->data;
    seg[1].data = dot[0] + 1;
    seg[1].len = dot[1] - seg[1].data;
    seg[2].data = dot[1] + 1;
    seg[2].len = last - seg[2].data;

    /* no empty segment, none whose length no base64url text has */

    if (seg[0].len % 4 == 1 || seg[1].len % 4 == 1 || seg[2].len % 4 == 1
        || seg[0].len == 0 || seg[1].len == 0 || seg[2].len == 0)
    {
        return NGX_GATEWAY_JWT_MALFORMED;
    }

    return NGX_GATEWAY_JWT_OK;
}


/* a JSON object: UTF-8, no duplicate names, no \u0000 */

static json_t *
ngx_gateway_jwt_json(ngx_str_t *text,
    ngx_gateway_jwt_status_e *status)
{
    json_t        *json;
    json_error_t   error;

    json = json_loadb((const char *) text->data, text->len,
                      JSON_REJECT_DUPLICATES, &error);

    if (json == NULL) {
        *status = (json_error_code(&error) == json_error_out_of_memory)
                  ? NGX_GATEWAY_JWT_ERROR
                  : NGX_GATEWAY_JWT_MALFORMED;
        return NULL;
    }

    if (!json_is_object(json)) {
        json_decref(json);
        *status = NGX_GATEWAY_JWT_MALFORMED;
        return NULL;
    }

    return json;
}


static ngx_gateway_jwt_status_e
ngx_gateway_jwt_header(json_t *header,
    ngx_gateway_jwt_policy_t *policy, ngx_gateway_jwt_alg_t **alg,
    ngx_str_t *kid)
{
    char                        **name;
    json_t                       *v;
    ngx_gateway_jwt_alg_t        *a;

    v = json_object_get(header, "alg");

    if (!json_is_string(v)) {
        return NGX_GATEWAY_JWT_BAD_ALG;
    }

    /* an allowlist of exact names: "none", "None", "hs256" are unknown */

    a = ngx_gateway_jwt_alg_find(json_string_value(v),
                                 json_string_length(v));
    if (a == NULL) {
        return NGX_GATEWAY_JWT_BAD_ALG;
    }

    if (policy->algorithms && (policy->algorithms & a->alg) == 0) {
        return NGX_GATEWAY_JWT_BAD_ALG;
    }

    for (name = ngx_gateway_jwt_refused; *name; name++) {
        if (json_object_get(header, *name) != NULL) {
            return NGX_GATEWAY_JWT_BAD_HEADER;
        }
    }

    v = json_object_get(header, "typ");

    if (v != NULL && !json_is_string(v)) {
        return NGX_GATEWAY_JWT_MALFORMED;
    }

    v = json_object_get(header, "kid");

    if (v == NULL) {
        ngx_str_null(kid);

    } else {
        if (!json_is_string(v)
            || json_string_length(v) > NGX_GATEWAY_JWT_MAX_KID)
        {
            return NGX_GATEWAY_JWT_MALFORMED;
        }

        kid->data = (u_char *) json_string_value(v);
        kid->len = json_string_length(v);
    }

    *alg = a;

    return NGX_GATEWAY_JWT_OK;
}


/*
 * A "kid" selects its key and nothing else; without one, the key must be
 * the only one of the token's algorithm.  One key is ever tried.
 */

static ngx_gateway_jwt_status_e
ngx_gateway_jwt_select(ngx_gateway_jwks_t *jwks,
    ngx_gateway_jwt_alg_t *alg, ngx_str_t *kid,
    ngx_gateway_jwk_t **key)
{
    ngx_uint_t               i, n;
    ngx_gateway_jwk_t       *k, *found;

    if (jwks == NULL) {
        return NGX_GATEWAY_JWT_UNKNOWN_KEY;
    }

    if (kid->data != NULL) {

        for (i = 0; i < jwks->nkeys; i++) {
            k = &jwks->keys[i];

            if (k->kid.len == 0 || k->kid.len != kid->len
                || ngx_memcmp(k->kid.data, kid->data, kid->len) != 0)
            {
                continue;
            }

            if (k->alg != alg->alg) {
                return NGX_GATEWAY_JWT_BAD_ALG;
            }

            *key = k;

            return NGX_GATEWAY_JWT_OK;
        }

        return NGX_GATEWAY_JWT_UNKNOWN_KEY;
    }

    n = 0;
    found = NULL;

    for (i = 0; i < jwks->nkeys; i++) {
        if (jwks->keys[i].alg == alg->alg) {
            found = &jwks->keys[i];
            n++;
        }
    }

    if (n != 1) {
        return NGX_GATEWAY_JWT_UNKNOWN_KEY;
    }

    *key = found;

    return NGX_GATEWAY_JWT_OK;
}


static ngx_gateway_jwt_status_e
ngx_gateway_jwt_signature(ngx_gateway_jwk_t *key,
    ngx_gateway_jwt_alg_t *alg, ngx_str_t *input, ngx_str_t *sig)
{
    EVP_PKEY  *pkey;

    if (alg->kind == NGX_GATEWAY_JWT_HMAC) {
        return ngx_gateway_jwt_hmac(key, alg, input, sig);
    }

    /* the key's type, not the token, decides what verifies */

    pkey = key->pkey;

    if (pkey == NULL) {
        return NGX_GATEWAY_JWT_ERROR;
    }

    switch (alg->kind) {

    case NGX_GATEWAY_JWT_RSA:
    case NGX_GATEWAY_JWT_PSS:
        if (!EVP_PKEY_is_a(pkey, "RSA")) {
            return NGX_GATEWAY_JWT_ERROR;
        }

        /* exactly the modulus length (libjwt H1: a 3-byte signature) */

        if (sig->len != (size_t) EVP_PKEY_get_size(pkey)) {
            return NGX_GATEWAY_JWT_BAD_SIGNATURE;
        }

        return ngx_gateway_jwt_pkey_verify(key, alg, input, sig->data,
                                           sig->len);

    case NGX_GATEWAY_JWT_ECDSA:
        /* P-521 coordinates take 66 bytes */

        if (!EVP_PKEY_is_a(pkey, "EC")
            || EVP_PKEY_get_bits(pkey)
               != (alg->size == 66 ? 521 : (int) alg->size * 8))
        {
            return NGX_GATEWAY_JWT_ERROR;
        }

        return ngx_gateway_jwt_ecdsa(key, alg, input, sig);

    default: /* NGX_GATEWAY_JWT_ED25519 */
        if (!EVP_PKEY_is_a(pkey, "ED25519")) {
            return NGX_GATEWAY_JWT_ERROR;
        }

        if (sig->len != 64) {
            return NGX_GATEWAY_JWT_BAD_SIGNATURE;
        }

        return ngx_gateway_jwt_pkey_verify(key, alg, input, sig->data,
                                           sig->len);
    }
}


static ngx_gateway_jwt_status_e
ngx_gateway_jwt_hmac(ngx_gateway_jwk_t *key,
    ngx_gateway_jwt_alg_t *alg, ngx_str_t *input, ngx_str_t *sig)
{
    u_char                          md[EVP_MAX_MD_SIZE];
    size_t                          len;
    ngx_gateway_jwt_status_e        rc;

    /* never an empty or short key (CVE-2026-44699), nor an RSA one */

    if (key->pkey != NULL || key->secret.len < alg->size
        || key->mac == NULL)
    {
        return NGX_GATEWAY_JWT_ERROR;
    }

    if (sig->len != alg->size) {
        return NGX_GATEWAY_JWT_BAD_SIGNATURE;
    }

    /* the context keeps its key: an init without one starts it afresh */

    if (EVP_MAC_init(key->mac, NULL, 0, NULL) != 1
        || EVP_MAC_update(key->mac, input->data, input->len) != 1
        || EVP_MAC_final(key->mac, md, &len, sizeof(md)) != 1)
    {
        ERR_clear_error();
        return NGX_GATEWAY_JWT_ERROR;
    }

    rc = (len == sig->len && CRYPTO_memcmp(md, sig->data, len) == 0)
         ? NGX_GATEWAY_JWT_OK : NGX_GATEWAY_JWT_BAD_SIGNATURE;

    OPENSSL_cleanse(md, sizeof(md));

    return rc;
}


/* JWS ECDSA signatures are R || S (RFC 7518 3.4); OpenSSL reads DER */

static ngx_gateway_jwt_status_e
ngx_gateway_jwt_ecdsa(ngx_gateway_jwk_t *key,
    ngx_gateway_jwt_alg_t *alg, ngx_str_t *input, ngx_str_t *sig)
{
    int         len;
    u_char      der[NGX_GATEWAY_JWT_DER_LEN], *p;
    BIGNUM     *r, *s;
    ECDSA_SIG  *es;

    if (sig->len != 2 * alg->size) {
        return NGX_GATEWAY_JWT_BAD_SIGNATURE;
    }

    r = BN_bin2bn(sig->data, alg->size, NULL);
    s = BN_bin2bn(sig->data + alg->size, alg->size, NULL);
    es = ECDSA_SIG_new();

    if (r == NULL || s == NULL || es == NULL) {
        goto error;
    }

    /* CVE-2022-21449: r = s = 0 */

    if (BN_is_zero(r) || BN_is_zero(s)) {
        BN_free(r);
        BN_free(s);
        ECDSA_SIG_free(es);

        return NGX_GATEWAY_JWT_BAD_SIGNATURE;
    }

    if (ECDSA_SIG_set0(es, r, s) != 1) {
        goto error;
    }

    len = i2d_ECDSA_SIG(es, NULL);

    if (len <= 0 || len > NGX_GATEWAY_JWT_DER_LEN) {
        ECDSA_SIG_free(es);
        ERR_clear_error();

        return NGX_GATEWAY_JWT_ERROR;
    }

    p = der;
    len = i2d_ECDSA_SIG(es, &p);

    ECDSA_SIG_free(es);

    return ngx_gateway_jwt_pkey_verify(key, alg, input, der, len);

error:

    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    ERR_clear_error();

    return NGX_GATEWAY_JWT_ERROR;
}


/*
 * RSA, PSS, ECDSA: the input hashed with the key's digest context, the
 * hash verified with the key's verification context, both made once;
 * EdDSA: a one-shot verification.
 */

static ngx_gateway_jwt_status_e
ngx_gateway_jwt_pkey_verify(ngx_gateway_jwk_t *key,
    ngx_gateway_jwt_alg_t *alg, ngx_str_t *input, u_char *sig,
    size_t len)
{
    u_char                          hash[EVP_MAX_MD_SIZE];
    unsigned int                    hlen;
    EVP_MD_CTX                     *mctx;
    ngx_gateway_jwt_status_e        rc;

    if (alg->md != NULL) {

        if (key->digest == NULL || key->verify == NULL) {
            return NGX_GATEWAY_JWT_ERROR;
        }

        if (EVP_DigestInit_ex2(key->digest, key->md, NULL) != 1
            || EVP_DigestUpdate(key->digest, input->data, input->len) != 1
            || EVP_DigestFinal_ex(key->digest, hash, &hlen) != 1)
        {
            ERR_clear_error();
            return NGX_GATEWAY_JWT_ERROR;
        }

        rc = (EVP_PKEY_verify(key->verify, sig, len, hash, hlen) == 1)
             ? NGX_GATEWAY_JWT_OK : NGX_GATEWAY_JWT_BAD_SIGNATURE;

        goto done;
    }

    mctx = EVP_MD_CTX_new();
    if (mctx == NULL) {
        return NGX_GATEWAY_JWT_ERROR;
    }

    rc = NGX_GATEWAY_JWT_ERROR;

    if (EVP_DigestVerifyInit(mctx, NULL, NULL, NULL, key->pkey) == 1) {
        rc = (EVP_DigestVerify(mctx, sig, len, input->data, input->len) == 1)
             ? NGX_GATEWAY_JWT_OK : NGX_GATEWAY_JWT_BAD_SIGNATURE;
    }

    EVP_MD_CTX_free(mctx);

done:

    if (rc != NGX_GATEWAY_JWT_OK) {
        /* leave nothing in the queue that nginx's SSL code would see */
        ERR_clear_error();
    }

    return rc;
}


static ngx_gateway_jwt_status_e
ngx_gateway_jwt_claims(json_t *claims,
    ngx_gateway_jwt_policy_t *policy, time_t now,
    ngx_gateway_jwt_t *jwt)
{
    json_t      *v, *sub, *iss;
    time_t       exp, nbf, iat, leeway;
    ngx_uint_t   has_nbf, has_iat;

    v = json_object_get(claims, "exp");

    if (v == NULL || ngx_gateway_jwt_date(v, &exp) != NGX_OK
        || exp == 0)
    {
        return NGX_GATEWAY_JWT_BAD_CLAIMS;
    }

    v = json_object_get(claims, "nbf");
    has_nbf = (v != NULL);

    if (has_nbf && ngx_gateway_jwt_date(v, &nbf) != NGX_OK) {
        return NGX_GATEWAY_JWT_BAD_CLAIMS;
    }

    v = json_object_get(claims, "iat");
    has_iat = (v != NULL);

    if (has_iat && ngx_gateway_jwt_date(v, &iat) != NGX_OK) {
        return NGX_GATEWAY_JWT_BAD_CLAIMS;
    }

    sub = json_object_get(claims, "sub");

    if (sub != NULL && !json_is_string(sub)) {
        return NGX_GATEWAY_JWT_BAD_CLAIMS;
    }

    if (has_nbf && nbf > exp) {
        return NGX_GATEWAY_JWT_BAD_CLAIMS;
    }

    /* dates are within [0, 1e11], so none of this overflows */

    leeway = policy->leeway;

    if (leeway < 0) {
        leeway = 0;

    } else if (leeway > NGX_GATEWAY_JWT_MAX_DATE) {
        leeway = NGX_GATEWAY_JWT_MAX_DATE;
    }

    /* RFC 7519 4.1.4: expired "on or after" exp */

    if (exp + leeway <= now) {
        return NGX_GATEWAY_JWT_EXPIRED;
    }

    if (has_nbf && nbf - leeway > now) {
        return NGX_GATEWAY_JWT_NOT_YET_VALID;
    }

    if (has_iat && iat - leeway > now) {
        return NGX_GATEWAY_JWT_NOT_YET_VALID;
    }

    if (policy->issuer.len) {
        v = json_object_get(claims, "iss");

        if (!json_is_string(v)
            || json_string_length(v) != policy->issuer.len
            || ngx_memcmp(json_string_value(v), policy->issuer.data,
                          policy->issuer.len)
               != 0)
        {
            return NGX_GATEWAY_JWT_BAD_ISSUER;
        }
    }

    /* StringOrURI (RFC 7519 4.1.1): it names the caller with "sub" */

    iss = json_object_get(claims, "iss");

    if (iss != NULL && !json_is_string(iss)) {
        return NGX_GATEWAY_JWT_BAD_CLAIMS;
    }

    if (policy->audiences != NULL) {
        v = json_object_get(claims, "aud");

        if (ngx_gateway_jwt_audience(v, policy->audiences) != NGX_OK) {
            return NGX_GATEWAY_JWT_BAD_AUDIENCE;
        }
    }

    if (sub != NULL) {
        jwt->subject.data = (u_char *) json_string_value(sub);
        jwt->subject.len = json_string_length(sub);
    }

    if (iss != NULL) {
        jwt->issuer.data = (u_char *) json_string_value(iss);
        jwt->issuer.len = json_string_length(iss);
    }

    jwt->expires = exp;

    return NGX_GATEWAY_JWT_OK;
}


/* a NumericDate in [0, 1e11]: an integer, or a real floored */

static ngx_int_t
ngx_gateway_jwt_date(json_t *value, time_t *date)
{
    double      d;
    json_int_t  i;

    if (json_is_integer(value)) {
        i = json_integer_value(value);

        if (i < 0 || i > (json_int_t) NGX_GATEWAY_JWT_MAX_DATE) {
            return NGX_DECLINED;
        }

        *date = (time_t) i;

        return NGX_OK;
    }

    if (json_is_real(value)) {
        d = json_real_value(value);

        /* false for NaN as well: no out-of-range double is ever cast */

        if (!(d >= 0 && d <= (double) NGX_GATEWAY_JWT_MAX_DATE)) {
            return NGX_DECLINED;
        }

        *date = (time_t) d;

        return NGX_OK;
    }

    return NGX_DECLINED;
}


/* "aud": a string, or a non-empty array of strings, one of them expected */

static ngx_int_t
ngx_gateway_jwt_audience(json_t *value, ngx_array_t *audiences)
{
    json_t      *v;
    size_t       n, i;
    ngx_str_t   *aud;
    ngx_uint_t   j, found;

    aud = audiences->elts;

    if (json_is_string(value)) {
        n = 1;
        v = value;

    } else if (json_is_array(value) && json_array_size(value) > 0) {
        n = json_array_size(value);
        v = NULL;

    } else {
        return NGX_DECLINED;
    }

    found = 0;

    for (i = 0; i < n; i++) {

        if (v != value) {
            v = json_array_get(value, i);

            if (!json_is_string(v)) {
                return NGX_DECLINED;
            }
        }

        for (j = 0; j < audiences->nelts; j++) {
            if (aud[j].len == json_string_length(v)
                && ngx_memcmp(aud[j].data, json_string_value(v), aud[j].len)
                   == 0)
            {
                found = 1;
            }
        }
    }

    return found ? NGX_OK : NGX_DECLINED;
}


static void
ngx_gateway_jwt_cleanup(void *data)
{
    json_t  *claims = data;

    json_decref(claims);
}


ngx_int_t
ngx_gateway_jwt_claim(ngx_gateway_jwt_t *jwt, ngx_str_t *name,
    ngx_pool_t *pool, ngx_str_t *value)
{
    char         buf[64];
    size_t       i, len;
    json_t      *v;
    const char  *s;

    if (jwt->payload == NULL) {
        return NGX_DECLINED;
    }

    v = json_object_getn(jwt->payload, (const char *) name->data, name->len);

    if (v == NULL) {
        return NGX_DECLINED;
    }

    switch (json_typeof(v)) {

    case JSON_STRING:
        s = json_string_value(v);
        len = json_string_length(v);

        /* no CR, LF, NUL or other control that could split a header */

        for (i = 0; i < len; i++) {
            if ((u_char) s[i] < 0x20 || s[i] == 0x7f) {
                return NGX_DECLINED;
            }
        }

        break;

    case JSON_INTEGER:
    case JSON_REAL:
        len = json_dumpb(v, buf, sizeof(buf),
                         JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));

        if (len == 0 || len > sizeof(buf)) {
            return NGX_DECLINED;
        }

        s = buf;
        break;

    case JSON_TRUE:
        s = "true";
        len = 4;
        break;

    case JSON_FALSE:
        s = "false";
        len = 5;
        break;

    default: /* null, arrays, objects */
        return NGX_DECLINED;
    }

    value->data = ngx_pnalloc(pool, len ? len : 1);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, s, len);
    value->len = len;

    return NGX_OK;
}
