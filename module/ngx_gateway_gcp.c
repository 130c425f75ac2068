
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include "ngx_gateway_gcp.h"


static ngx_int_t ngx_gateway_gcp_string(ngx_pool_t *pool, json_t *root,
    const char *name, ngx_str_t *value);
static void ngx_gateway_gcp_free_key(void *data);
static u_char *ngx_gateway_gcp_b64(u_char *p, u_char *data, size_t len);
static ngx_int_t ngx_gateway_gcp_printable(ngx_str_t *s);


ngx_int_t
ngx_gateway_gcp_key_parse(ngx_pool_t *pool, ngx_str_t *json,
    ngx_gateway_gcp_key_t *key, ngx_str_t *err)
{
    BIO                 *bio;
    json_t              *root;
    ngx_int_t            rc;
    ngx_str_t            type, pem;
    json_error_t         error;
    ngx_pool_cleanup_t  *cln;

    ngx_memzero(key, sizeof(ngx_gateway_gcp_key_t));

    root = json_loadb((const char *) json->data, json->len,
                      JSON_REJECT_DUPLICATES, &error);
    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        ngx_str_set(err, "not a JSON object");
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    if (ngx_gateway_gcp_string(pool, root, "type", &type) != NGX_OK
        || type.len != 15
        || ngx_strncmp(type.data, "service_account", 15) != 0)
    {
        ngx_str_set(err, "\"type\" is not \"service_account\"");
        goto done;
    }

    if (ngx_gateway_gcp_string(pool, root, "client_email",
                               &key->client_email)
        != NGX_OK
        || ngx_gateway_gcp_printable(&key->client_email) != NGX_OK)
    {
        ngx_str_set(err, "no \"client_email\"");
        goto done;
    }

    if (ngx_gateway_gcp_string(pool, root, "private_key_id",
                               &key->private_key_id)
        != NGX_OK
        || ngx_gateway_gcp_printable(&key->private_key_id) != NGX_OK)
    {
        ngx_str_set(err, "no \"private_key_id\"");
        goto done;
    }

    if (json_object_get(root, "token_uri") == NULL) {
        ngx_str_set(&key->token_uri, NGX_GATEWAY_GCP_TOKEN_URI);

    } else if (ngx_gateway_gcp_string(pool, root, "token_uri",
                                      &key->token_uri)
               != NGX_OK
               || ngx_gateway_gcp_printable(&key->token_uri) != NGX_OK
               || (ngx_strncmp(key->token_uri.data, "https://", 8) != 0
                   && ngx_strncmp(key->token_uri.data, "http://", 7) != 0))
    {
        ngx_str_set(err, "\"token_uri\" is not an http(s) URL");
        goto done;
    }

    if (ngx_gateway_gcp_string(pool, root, "private_key", &pem) != NGX_OK) {
        ngx_str_set(err, "no \"private_key\"");
        goto done;
    }

    bio = BIO_new_mem_buf(pem.data, (int) pem.len);
    if (bio == NULL) {
        rc = NGX_ERROR;
        goto done;
    }

    key->key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);

    /* its bytes in the pool are no longer needed */
    ngx_explicit_memzero(pem.data, pem.len);

    if (key->key == NULL) {
        ngx_str_set(err, "\"private_key\" is not a PEM private key");
        goto done;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        EVP_PKEY_free(key->key);
        key->key = NULL;
        rc = NGX_ERROR;
        goto done;
    }

    cln->handler = ngx_gateway_gcp_free_key;
    cln->data = key->key;

    if (EVP_PKEY_base_id(key->key) != EVP_PKEY_RSA) {
        ngx_str_set(err, "\"private_key\" is not an RSA key");
        goto done;
    }

    rc = NGX_OK;

done:

    json_decref(root);

    return rc;
}


static ngx_int_t
ngx_gateway_gcp_string(ngx_pool_t *pool, json_t *root, const char *name,
    ngx_str_t *value)
{
    json_t  *v;

    v = json_object_get(root, name);

    if (!json_is_string(v) || json_string_length(v) == 0) {
        return NGX_DECLINED;
    }

    value->len = json_string_length(v);
    value->data = ngx_pnalloc(pool, value->len);
    if (value->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(value->data, json_string_value(v), value->len);

    return NGX_OK;
}


static void
ngx_gateway_gcp_free_key(void *data)
{
    EVP_PKEY_free(data);
}


ngx_int_t
ngx_gateway_gcp_assertion(ngx_pool_t *pool, ngx_gateway_gcp_key_t *key,
    ngx_str_t *audience, time_t now, ngx_str_t *out)
{
    char        *header, *claims;
    u_char      *p, *sig;
    size_t       len, siglen;
    json_t      *h, *c;
    ngx_int_t    rc;
    EVP_MD_CTX  *md;

    rc = NGX_ERROR;
    header = NULL;
    claims = NULL;
    md = NULL;

    h = json_pack("{s:s, s:s, s:s%}", "alg", "RS256", "typ", "JWT",
                  "kid", key->private_key_id.data, key->private_key_id.len);
    c = json_pack("{s:s%, s:s%, s:s%, s:I, s:I, s:s%}",
                  "iss", key->client_email.data, key->client_email.len,
                  "sub", key->client_email.data, key->client_email.len,
                  "aud", key->token_uri.data, key->token_uri.len,
                  "iat", (json_int_t) now,
                  "exp", (json_int_t) now + NGX_GATEWAY_GCP_ASSERTION_TTL,
                  "target_audience", audience->data, audience->len);

    if (h == NULL || c == NULL) {
        goto done;
    }

    header = json_dumps(h, JSON_COMPACT | JSON_PRESERVE_ORDER);
    claims = json_dumps(c, JSON_COMPACT | JSON_PRESERVE_ORDER);

    if (header == NULL || claims == NULL) {
        goto done;
    }

    siglen = (size_t) EVP_PKEY_size(key->key);

    len = ngx_base64_encoded_length(ngx_strlen(header)) + 1
          + ngx_base64_encoded_length(ngx_strlen(claims)) + 1
          + ngx_base64_encoded_length(siglen);

    out->data = ngx_pnalloc(pool, len);
    sig = ngx_pnalloc(pool, siglen);

    if (out->data == NULL || sig == NULL) {
        goto done;
    }

    p = ngx_gateway_gcp_b64(out->data, (u_char *) header, ngx_strlen(header));
    *p++ = '.';
    p = ngx_gateway_gcp_b64(p, (u_char *) claims, ngx_strlen(claims));

    md = EVP_MD_CTX_new();

    if (md == NULL
        || EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key->key) != 1
        || EVP_DigestSign(md, sig, &siglen, out->data, p - out->data) != 1)
    {
        goto done;
    }

    *p++ = '.';
    p = ngx_gateway_gcp_b64(p, sig, siglen);

    out->len = p - out->data;

    rc = NGX_OK;

done:

    EVP_MD_CTX_free(md);
    free(header);
    free(claims);
    json_decref(h);
    json_decref(c);

    return rc;
}


static u_char *
ngx_gateway_gcp_b64(u_char *p, u_char *data, size_t len)
{
    ngx_str_t  src, dst;

    src.data = data;
    src.len = len;
    dst.data = p;

    ngx_encode_base64url(&dst, &src);

    return p + dst.len;
}


ngx_int_t
ngx_gateway_gcp_token_request(ngx_pool_t *pool, ngx_str_t *assertion,
    ngx_str_t *out)
{
    static u_char  grant[] = "grant_type=urn%3Aietf%3Aparams%3Aoauth%3A"
                             "grant-type%3Ajwt-bearer&assertion=";

    /* base64url and "." need no escaping in a form */

    out->len = sizeof(grant) - 1 + assertion->len;
    out->data = ngx_pnalloc(pool, out->len);
    if (out->data == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(ngx_cpymem(out->data, grant, sizeof(grant) - 1),
               assertion->data, assertion->len);

    return NGX_OK;
}


ngx_int_t
ngx_gateway_gcp_token_response(ngx_pool_t *pool, ngx_str_t *body,
    ngx_str_t *token, ngx_str_t *err)
{
    json_t        *root;
    ngx_int_t      rc;
    json_error_t   error;

    root = json_loadb((const char *) body->data, body->len, 0, &error);

    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        ngx_str_set(err, "the token endpoint's answer is not a JSON object");
        return NGX_DECLINED;
    }

    rc = ngx_gateway_gcp_string(pool, root, "id_token", token);

    json_decref(root);

    if (rc == NGX_DECLINED) {
        ngx_str_set(err, "the token endpoint's answer has no \"id_token\"");
    }

    return rc;
}


ngx_int_t
ngx_gateway_gcp_token_expiry(ngx_pool_t *pool, ngx_str_t *token,
    time_t *exp, ngx_str_t *err)
{
    u_char        *dot1, *dot2, *last;
    json_t        *root, *v;
    ngx_str_t      src, dst;
    json_error_t   error;

    ngx_str_set(err, "the token is not a JWT with an \"exp\"");

    if (token->len > 16384 || ngx_gateway_gcp_printable(token) != NGX_OK) {
        return NGX_DECLINED;
    }

    last = token->data + token->len;

    dot1 = ngx_strlchr(token->data, last, '.');
    if (dot1 == NULL) {
        return NGX_DECLINED;
    }

    dot2 = ngx_strlchr(dot1 + 1, last, '.');
    if (dot2 == NULL || dot2 == dot1 + 1) {
        return NGX_DECLINED;
    }

    src.data = dot1 + 1;
    src.len = dot2 - src.data;

    dst.data = ngx_pnalloc(pool, ngx_base64_decoded_length(src.len));
    if (dst.data == NULL) {
        return NGX_ERROR;
    }

    if (ngx_decode_base64url(&dst, &src) != NGX_OK) {
        return NGX_DECLINED;
    }

    root = json_loadb((const char *) dst.data, dst.len, 0, &error);

    v = json_object_get(root, "exp");

    if (!json_is_integer(v) || json_integer_value(v) <= 0) {
        json_decref(root);
        return NGX_DECLINED;
    }

    *exp = (time_t) json_integer_value(v);

    json_decref(root);

    return NGX_OK;
}


/* what goes in a header or a JWT claim: printable ASCII, no space */

static ngx_int_t
ngx_gateway_gcp_printable(ngx_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] <= 0x20 || s->data[i] >= 0x7f) {
            return NGX_DECLINED;
        }
    }

    return s->len ? NGX_OK : NGX_DECLINED;
}
