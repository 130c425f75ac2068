
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_GATEWAY_JWT_H_INCLUDED_
#define _NGX_GATEWAY_JWT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/evp.h>


/*
 * JWT (compact JWS) verification and JWK Set loading.  Pure code: memory,
 * input and the current time are arguments; nothing here reads a request,
 * the clock or a global, and nothing logs.  Error texts never contain key
 * material or token bytes.
 */


/* one bit per algorithm, so that sets of them are allowlists */
typedef enum {
    NGX_GATEWAY_JWT_HS256 = 0x0001,
    NGX_GATEWAY_JWT_HS384 = 0x0002,
    NGX_GATEWAY_JWT_HS512 = 0x0004,
    NGX_GATEWAY_JWT_RS256 = 0x0008,
    NGX_GATEWAY_JWT_RS384 = 0x0010,
    NGX_GATEWAY_JWT_RS512 = 0x0020,
    NGX_GATEWAY_JWT_PS256 = 0x0040,
    NGX_GATEWAY_JWT_PS384 = 0x0080,
    NGX_GATEWAY_JWT_PS512 = 0x0100,
    NGX_GATEWAY_JWT_ES256 = 0x0200,
    NGX_GATEWAY_JWT_ES384 = 0x0400,
    NGX_GATEWAY_JWT_ES512 = 0x0800,
    NGX_GATEWAY_JWT_EDDSA = 0x1000
} ngx_gateway_jwt_alg_e;

#define NGX_GATEWAY_JWT_ALL_ALGS  0x1fff

/* the default token length cap, when a policy's max_size is 0 */
#define NGX_GATEWAY_JWT_MAX_SIZE  8192

/* the longest "kid", in a token or a JWK */
#define NGX_GATEWAY_JWT_MAX_KID   256


typedef struct {
    ngx_str_t                        kid;       /* empty: the JWK has none */
    ngx_uint_t                       alg;       /* exactly one bit */
    EVP_PKEY                        *pkey;      /* RSA, EC, Ed25519 */
    ngx_str_t                        secret;    /* oct: the HMAC key */
    ngx_str_t                        issuer;    /* len 0: any "iss"; else
                                                   the token's, exactly */

    /*
     * Made once, as the set is loaded, and reused by every token the
     * key verifies (a worker is one thread): no algorithm is fetched,
     * and no context made, per token.
     */
    EVP_MD                          *md;        /* NULL for EdDSA */
    EVP_MD_CTX                      *digest;    /* RSA, PSS, ECDSA */
    EVP_PKEY_CTX                    *verify;    /* RSA, PSS, ECDSA */
    EVP_MAC_CTX                     *mac;       /* HMAC, keyed */
} ngx_gateway_jwk_t;


typedef struct {
    ngx_gateway_jwk_t               *keys;
    ngx_uint_t                       nkeys;
} ngx_gateway_jwks_t;


typedef struct {
    ngx_str_t                        issuer;     /* len 0: not checked */
    ngx_array_t                     *audiences;  /* of ngx_str_t;
                                                    NULL: not checked */
    ngx_uint_t                       algorithms; /* 0: any key's alg */
    time_t                           leeway;     /* seconds; < 0 is 0 */
    size_t                           max_size;   /* 0: the default */
} ngx_gateway_jwt_policy_t;


typedef enum {
    NGX_GATEWAY_JWT_OK = 0,
    NGX_GATEWAY_JWT_MALFORMED,
    NGX_GATEWAY_JWT_TOO_LARGE,
    NGX_GATEWAY_JWT_BAD_ALG,
    NGX_GATEWAY_JWT_UNKNOWN_KEY,
    NGX_GATEWAY_JWT_BAD_SIGNATURE,
    NGX_GATEWAY_JWT_EXPIRED,
    NGX_GATEWAY_JWT_NOT_YET_VALID,
    NGX_GATEWAY_JWT_BAD_CLAIMS,
    NGX_GATEWAY_JWT_BAD_ISSUER,
    NGX_GATEWAY_JWT_BAD_AUDIENCE,
    NGX_GATEWAY_JWT_BAD_HEADER,
    NGX_GATEWAY_JWT_ERROR
} ngx_gateway_jwt_status_e;


typedef struct {
    ngx_str_t                        subject;   /* "sub"; len 0: absent */
    ngx_str_t                        issuer;    /* "iss"; len 0: absent */
    time_t                           expires;   /* "exp" */
    void                            *payload;   /* json_t *, released by
                                                   a cleanup of the pool */
} ngx_gateway_jwt_t;


/*
 * The bit of an algorithm name ("RS256"; exact and case-sensitive), or 0;
 * and the name of a bit, or NULL unless exactly one known bit is set.
 */
ngx_uint_t ngx_gateway_jwt_alg(ngx_str_t *name);
ngx_str_t *ngx_gateway_jwt_alg_name(ngx_uint_t alg);

/*
 * Loads an RFC 7517 JWK Set from JSON text.  Every key is public (RSA of
 * 2048 bits or more, EC P-256/P-384/P-521, Ed25519) or an HMAC secret (oct)
 * at least as long as its hash, and is bound to exactly one algorithm: its
 * "alg", or RS256, ES256/ES384/ES512 by curve, EdDSA, HS256 without one.
 * The EVP_PKEYs are freed, and the secrets cleansed, by a cleanup of the
 * pool.  NGX_OK; NGX_ERROR on memory failure; NGX_DECLINED with *err
 * (valid as long as the pool) saying what is wrong, naming the key by
 * index and "kid" and, for JSON syntax errors, the line and column; a
 * refused set keeps nothing: its keys are freed before the call returns.
 */
ngx_int_t ngx_gateway_jwks_parse(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_gateway_jwks_t *jwks, ngx_str_t *err);

/*
 * One key of a set, as ngx_gateway_jwks_parse() takes it: obj (a json_t
 * *) is the index-th of the set's "keys", which *err names.  What *key
 * holds then, taken or refused, is freed by ngx_gateway_jwks_cleanup()
 * of a set that has it (a pool cleanup handler; zeroed keys are left).
 */
ngx_int_t ngx_gateway_jwk_load(ngx_pool_t *pool, void *obj,
    ngx_uint_t index, ngx_gateway_jwk_t *key, ngx_str_t *err);
void ngx_gateway_jwks_cleanup(void *data);

/*
 * Verifies a compact JWS and its claims at the time "now".  On
 * NGX_GATEWAY_JWT_OK *jwt holds the claims (the payload lives as long
 * as the pool); on any other status *jwt is zeroed.  Memory comes from the
 * pool: one buffer of at most 3/4 of the token length, the parsed JSON, and
 * a pool cleanup for the payload.
 */
ngx_gateway_jwt_status_e ngx_gateway_jwt_verify(ngx_pool_t *pool,
    ngx_str_t *token, ngx_gateway_jwks_t *jwks,
    ngx_gateway_jwt_policy_t *policy, time_t now,
    ngx_gateway_jwt_t *jwt);

/* a fixed, secret-free text for each status ("expired", "bad signature") */
ngx_str_t *ngx_gateway_jwt_status_text(ngx_gateway_jwt_status_e s);

/*
 * The value of a claim of a verified token for a request header, copied
 * into the pool: strings as they are, numbers and booleans as JSON text.
 * NGX_DECLINED for absent or null claims, arrays, objects, and strings
 * with control characters (CR, LF, TAB, DEL...) that could inject headers;
 * NGX_ERROR on memory failure.
 */
ngx_int_t ngx_gateway_jwt_claim(ngx_gateway_jwt_t *jwt,
    ngx_str_t *name, ngx_pool_t *pool, ngx_str_t *value);

/*
 * Strict RFC 4648 section 5 base64url without padding: no '=', '+' or '/',
 * no length of 1 mod 4, no non-zero unused bits.  dst->data has room for
 * src->len * 3 / 4 bytes.  NGX_OK or NGX_ERROR.
 */
ngx_int_t ngx_gateway_base64url_decode(ngx_str_t *dst, ngx_str_t *src);


#endif /* _NGX_GATEWAY_JWT_H_INCLUDED_ */
