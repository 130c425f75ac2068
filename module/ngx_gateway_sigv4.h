
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_GATEWAY_SIGV4_H_INCLUDED_
#define _NGX_GATEWAY_SIGV4_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * AWS Signature Version 4, the pure part: canonical request, string to
 * sign, signing key and signature, with AWS's rules for the path (dot
 * segments and empty segments removed, then each byte not unreserved
 * percent-encoded: the path as sent is encoded once more, as AWS does
 * for every service but S3), the query (pairs decoded, encoded again,
 * sorted by name, then value) and the headers (names in lower case,
 * values trimmed with inner runs of white space made one space, those
 * of a repeated name joined by commas in the order sent).
 */


#define NGX_GATEWAY_SIGV4_DATE_LEN   16     /* 20150830T123600Z */
#define NGX_GATEWAY_SHA256_HEX_LEN   64

#define NGX_GATEWAY_SIGV4_UNSIGNED   "UNSIGNED-PAYLOAD"

/* AWS secret keys are 40 characters */
#define NGX_GATEWAY_AWS_SECRET_MAX   128


typedef struct {
    ngx_str_t                    name;
    ngx_str_t                    value;
} ngx_gateway_sigv4_header_t;


typedef struct {
    ngx_str_t                    method;
    ngx_str_t                    path;      /* as sent: percent-encoded */
    ngx_str_t                    query;     /* as sent, without "?" */
    ngx_gateway_sigv4_header_t  *headers;   /* those to sign, Host too */
    ngx_uint_t                   nheaders;
    ngx_str_t                    payload;   /* hex SHA-256, or UNSIGNED */
} ngx_gateway_sigv4_request_t;


typedef struct {
    ngx_str_t                    access_key;
    ngx_str_t                    secret_key;
    ngx_str_t                    session_token;  /* len 0: none */
    ngx_uint_t                   generation;     /* changes with the keys */
} ngx_gateway_aws_credentials_t;


/* the signing key of a day, remade when the day or the keys change */
typedef struct {
    u_char                       date[8];
    ngx_uint_t                   generation;
    ngx_uint_t                   derived;   /* how many times made */
    u_char                       key[32];
    unsigned                     valid:1;
} ngx_gateway_sigv4_key_t;


ngx_int_t ngx_gateway_sigv4_canonical_uri(ngx_pool_t *pool, ngx_str_t *path,
    ngx_str_t *out);
ngx_int_t ngx_gateway_sigv4_canonical_query(ngx_pool_t *pool,
    ngx_str_t *query, ngx_str_t *out);
ngx_int_t ngx_gateway_sigv4_canonical_headers(ngx_pool_t *pool,
    ngx_gateway_sigv4_header_t *headers, ngx_uint_t n, ngx_str_t *out,
    ngx_str_t *signed_headers);
ngx_int_t ngx_gateway_sigv4_canonical_request(ngx_pool_t *pool,
    ngx_gateway_sigv4_request_t *req, ngx_str_t *out,
    ngx_str_t *signed_headers);

/* date is the 16 bytes of an X-Amz-Date */
ngx_int_t ngx_gateway_sigv4_string_to_sign(ngx_pool_t *pool, u_char *date,
    ngx_str_t *region, ngx_str_t *service, ngx_str_t *creq, ngx_str_t *out);

/* the cached key, derived again only for another day or other keys */
u_char *ngx_gateway_sigv4_signing_key(ngx_gateway_sigv4_key_t *cache,
    ngx_gateway_aws_credentials_t *creds, u_char *date, ngx_str_t *region,
    ngx_str_t *service);

/*
 * The whole Authorization value for a request at date; NGX_ERROR on
 * memory or OpenSSL failure.  Nothing secret is logged.
 */
ngx_int_t ngx_gateway_sigv4_authorization(ngx_pool_t *pool,
    ngx_gateway_sigv4_key_t *cache, ngx_gateway_aws_credentials_t *creds,
    ngx_str_t *region, ngx_str_t *service, u_char *date,
    ngx_gateway_sigv4_request_t *req, ngx_str_t *out);

/*
 * The keys of a profile of an AWS shared credentials file (INI: "[name]"
 * sections, "key = value" lines, "#" and ";" comments): aws_access_key_id,
 * aws_secret_access_key and, for temporary keys, aws_session_token.  The
 * values point into text.  NGX_DECLINED with *err saying what is wrong
 * (never quoting a value).
 */
ngx_int_t ngx_gateway_aws_credentials_file(ngx_str_t *text,
    ngx_str_t *profile, ngx_gateway_aws_credentials_t *creds, ngx_str_t *err);

/* a key's value: printable ASCII without spaces, as it goes in headers */
ngx_int_t ngx_gateway_aws_credential_valid(ngx_str_t *value);

/*
 * The instance metadata service's credentials of a role (JSON: "Code"
 * "Success", AccessKeyId, SecretAccessKey, Token, Expiration as
 * "2026-12-03T15:00:00Z"), into the pool; NGX_DECLINED with *err.
 */
ngx_int_t ngx_gateway_aws_imds_credentials(ngx_pool_t *pool, ngx_str_t *json,
    ngx_gateway_aws_credentials_t *creds, time_t *expires, ngx_str_t *err);

/* an ISO 8601 UTC time "YYYY-MM-DDTHH:MM:SSZ" (seconds may be fractional) */
ngx_int_t ngx_gateway_parse_iso8601(u_char *p, size_t len, time_t *t);

/* 64 lower case hex digits of the SHA-256 of the data */
ngx_int_t ngx_gateway_sha256_hex(u_char *hex, u_char *data, size_t len);


#endif /* _NGX_GATEWAY_SIGV4_H_INCLUDED_ */
