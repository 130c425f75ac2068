
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_GATEWAY_GCP_H_INCLUDED_
#define _NGX_GATEWAY_GCP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <openssl/evp.h>


/*
 * Google ID tokens for calls of Cloud Run and Cloud Functions, the pure
 * part: a service account's key file, the JWT assertion that asks
 * Google's token endpoint for an ID token with a target audience
 * (RFC 7523, RS256), the endpoint's answer, and a token's expiry.
 */


#define NGX_GATEWAY_GCP_TOKEN_URI   "https://oauth2.googleapis.com/token"

/* an assertion is valid for an hour at most */
#define NGX_GATEWAY_GCP_ASSERTION_TTL  3600


typedef struct {
    ngx_str_t                  client_email;
    ngx_str_t                  private_key_id;
    ngx_str_t                  token_uri;
    EVP_PKEY                  *key;      /* RSA; freed with the pool */
} ngx_gateway_gcp_key_t;


/*
 * A service account key file (JSON, "type": "service_account"), into
 * the pool.  NGX_DECLINED with *err saying what is wrong, never quoting
 * the key; NGX_ERROR on memory failure.
 */
ngx_int_t ngx_gateway_gcp_key_parse(ngx_pool_t *pool, ngx_str_t *json,
    ngx_gateway_gcp_key_t *key, ngx_str_t *err);

/*
 * header.claims.signature: {"alg":"RS256","typ":"JWT","kid":...},
 * {"iss":email,"sub":email,"aud":token_uri,"iat":now,"exp":now+3600,
 * "target_audience":audience}.
 */
ngx_int_t ngx_gateway_gcp_assertion(ngx_pool_t *pool,
    ngx_gateway_gcp_key_t *key, ngx_str_t *audience, time_t now,
    ngx_str_t *out);

/* the form body of the token request for an assertion */
ngx_int_t ngx_gateway_gcp_token_request(ngx_pool_t *pool,
    ngx_str_t *assertion, ngx_str_t *out);

/* the "id_token" of the token endpoint's JSON answer */
ngx_int_t ngx_gateway_gcp_token_response(ngx_pool_t *pool, ngx_str_t *body,
    ngx_str_t *token, ngx_str_t *err);

/*
 * The "exp" of a JWT (not verified: it is Google's token for the
 * function, only kept until then); NGX_DECLINED when it is not a JWT of
 * printable characters with a numeric exp.
 */
ngx_int_t ngx_gateway_gcp_token_expiry(ngx_pool_t *pool, ngx_str_t *token,
    time_t *exp, ngx_str_t *err);


#endif /* _NGX_GATEWAY_GCP_H_INCLUDED_ */
