
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <stdio.h>
#include <stdlib.h>
#include "gateway_test.h"
#include <jansson.h>
#include "ngx_gateway_gcp.h"


/* the test keys of the Test::Nginx suite; unit tests run from the top */
#define RSA_PEM  "t/data/keys/rsa1.pem"
#define EC_PEM   "t/data/keys/ec256.pem"

#define EMAIL    "gateway@project.iam.gserviceaccount.com"
#define KID      "0123456789abcdef"
#define AUD      "https://orders-abc123-ew.a.run.app"
#define NOW      ((time_t) 1796310000)


static char *
slurp(const char *path)
{
    long   n;
    char  *s;
    FILE  *f;

    f = fopen(path, "r");
    if (f == NULL) {
        fail_msg("%s: cannot open (run from the repository's top)", path);
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    s = calloc(1, n + 1);
    assert_non_null(s);
    assert_int_equal(fread(s, 1, n, f), (size_t) n);
    fclose(f);

    return s;
}


/* a key file as Google makes them, with members left out or changed */

static ngx_str_t
key_file(ngx_pool_t *pool, const char *pem_path, const char *drop,
    const char *type, const char *token_uri)
{
    char       *pem, *text;
    json_t     *o;
    ngx_str_t   s;

    pem = slurp(pem_path);

    o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}",
                  "type", type,
                  "project_id", "project",
                  "private_key_id", KID,
                  "private_key", pem,
                  "client_email", EMAIL,
                  "client_id", "1234567890");
    assert_non_null(o);

    if (token_uri) {
        json_object_set_new(o, "token_uri", json_string(token_uri));
    }

    if (drop) {
        json_object_del(o, drop);
    }

    text = json_dumps(o, JSON_COMPACT);
    assert_non_null(text);

    s.len = strlen(text);
    s.data = ngx_pnalloc(pool, s.len);
    assert_non_null(s.data);
    ngx_memcpy(s.data, text, s.len);

    free(text);
    free(pem);
    json_decref(o);

    return s;
}


static ngx_str_t
str(const char *s)
{
    ngx_str_t  v;

    v.data = (u_char *) s;
    v.len = strlen(s);

    return v;
}


static void
assert_str(ngx_str_t *got, const char *want)
{
    if (got->len != strlen(want)
        || ngx_strncmp(got->data, want, got->len) != 0)
    {
        fail_msg("got \"%.*s\", wanted \"%s\"", (int) got->len, got->data,
                 want);
    }
}


static void
test_key_file(void **state)
{
    ngx_str_t               json, err;
    ngx_pool_t             *pool;
    ngx_gateway_gcp_key_t   key;

    pool = gateway_test_pool();

    json = key_file(pool, RSA_PEM, NULL, "service_account", NULL);
    assert_int_equal(ngx_gateway_gcp_key_parse(pool, &json, &key, &err),
                     NGX_OK);
    assert_str(&key.client_email, EMAIL);
    assert_str(&key.private_key_id, KID);
    assert_str(&key.token_uri, NGX_GATEWAY_GCP_TOKEN_URI);
    assert_non_null(key.key);

    json = key_file(pool, RSA_PEM, NULL, "service_account",
                    "http://127.0.0.1:9/token");
    assert_int_equal(ngx_gateway_gcp_key_parse(pool, &json, &key, &err),
                     NGX_OK);
    assert_str(&key.token_uri, "http://127.0.0.1:9/token");

    json = key_file(pool, RSA_PEM, NULL, "authorized_user", NULL);
    assert_int_equal(ngx_gateway_gcp_key_parse(pool, &json, &key, &err),
                     NGX_DECLINED);
    assert_str(&err, "\"type\" is not \"service_account\"");

    json = key_file(pool, RSA_PEM, "client_email", "service_account", NULL);
    assert_int_equal(ngx_gateway_gcp_key_parse(pool, &json, &key, &err),
                     NGX_DECLINED);
    assert_str(&err, "no \"client_email\"");

    json = key_file(pool, RSA_PEM, "private_key", "service_account", NULL);
    assert_int_equal(ngx_gateway_gcp_key_parse(pool, &json, &key, &err),
                     NGX_DECLINED);
    assert_str(&err, "no \"private_key\"");

    json = key_file(pool, RSA_PEM, NULL, "service_account", "ftp://x/token");
    assert_int_equal(ngx_gateway_gcp_key_parse(pool, &json, &key, &err),
                     NGX_DECLINED);

    json = key_file(pool, EC_PEM, NULL, "service_account", NULL);
    assert_int_equal(ngx_gateway_gcp_key_parse(pool, &json, &key, &err),
                     NGX_DECLINED);
    assert_str(&err, "\"private_key\" is not an RSA key");

    json = str("{\"type\": \"service_account\", \"client_email\": \"a@b\", "
               "\"private_key_id\": \"k\", \"private_key\": \"-----BEGIN "
               "PRIVATE KEY-----\\nAAAA\\n-----END PRIVATE KEY-----\\n\"}");
    assert_int_equal(ngx_gateway_gcp_key_parse(pool, &json, &key, &err),
                     NGX_DECLINED);
    assert_str(&err, "\"private_key\" is not a PEM private key");

    json = str("[]");
    assert_int_equal(ngx_gateway_gcp_key_parse(pool, &json, &key, &err),
                     NGX_DECLINED);

    ngx_destroy_pool(pool);
}


/* the assertion: its header and claims exactly, its RS256 signature good */

static void
test_assertion(void **state)
{
    u_char                 *dot1, *dot2, *last;
    ngx_str_t               json, err, aud, jwt, seg, dec, sig;
    ngx_pool_t             *pool;
    EVP_MD_CTX             *md;
    ngx_gateway_gcp_key_t   key;

    pool = gateway_test_pool();

    json = key_file(pool, RSA_PEM, NULL, "service_account",
                    "https://oauth2.googleapis.com/token");
    assert_int_equal(ngx_gateway_gcp_key_parse(pool, &json, &key, &err),
                     NGX_OK);

    aud = str(AUD);
    assert_int_equal(ngx_gateway_gcp_assertion(pool, &key, &aud, NOW, &jwt),
                     NGX_OK);

    last = jwt.data + jwt.len;
    dot1 = ngx_strlchr(jwt.data, last, '.');
    assert_non_null(dot1);
    dot2 = ngx_strlchr(dot1 + 1, last, '.');
    assert_non_null(dot2);

    seg.data = jwt.data;
    seg.len = dot1 - jwt.data;
    dec.data = ngx_pnalloc(pool, seg.len);
    assert_int_equal(ngx_decode_base64url(&dec, &seg), NGX_OK);
    assert_str(&dec, "{\"alg\":\"RS256\",\"typ\":\"JWT\",\"kid\":\"" KID "\"}");

    seg.data = dot1 + 1;
    seg.len = dot2 - seg.data;
    dec.data = ngx_pnalloc(pool, seg.len);
    assert_int_equal(ngx_decode_base64url(&dec, &seg), NGX_OK);
    assert_str(&dec, "{\"iss\":\"" EMAIL "\",\"sub\":\"" EMAIL "\","
                     "\"aud\":\"https://oauth2.googleapis.com/token\","
                     "\"iat\":1796310000,\"exp\":1796313600,"
                     "\"target_audience\":\"" AUD "\"}");

    /* no padding anywhere */
    assert_null(ngx_strlchr(jwt.data, last, '='));

    seg.data = dot2 + 1;
    seg.len = last - seg.data;
    sig.data = ngx_pnalloc(pool, seg.len);
    assert_int_equal(ngx_decode_base64url(&sig, &seg), NGX_OK);
    assert_int_equal(sig.len, 256);

    md = EVP_MD_CTX_new();
    assert_non_null(md);
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
                                          key.key), 1);
    assert_int_equal(EVP_DigestVerify(md, sig.data, sig.len, jwt.data,
                                      dot2 - jwt.data), 1);

    /* one byte of the claims changed: the signature no longer holds */
    dot1[1] ^= 1;
    assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL,
                                          key.key), 1);
    assert_int_not_equal(EVP_DigestVerify(md, sig.data, sig.len, jwt.data,
                                          dot2 - jwt.data), 1);
    EVP_MD_CTX_free(md);

    /* an audience with a quote is escaped, not injected */
    aud = str("https://x\",\"admin\":true");
    assert_int_equal(ngx_gateway_gcp_assertion(pool, &key, &aud, NOW, &jwt),
                     NGX_OK);
    dot1 = ngx_strlchr(jwt.data, jwt.data + jwt.len, '.');
    dot2 = ngx_strlchr(dot1 + 1, jwt.data + jwt.len, '.');
    seg.data = dot1 + 1;
    seg.len = dot2 - seg.data;
    dec.data = ngx_pnalloc(pool, seg.len);
    assert_int_equal(ngx_decode_base64url(&dec, &seg), NGX_OK);
    assert_non_null(ngx_strlcasestrn(dec.data, dec.data + dec.len,
                                     (u_char *) "x\\\",\\\"admin", 11 - 1));

    ngx_destroy_pool(pool);
}


static void
test_token_request(void **state)
{
    ngx_str_t    a, out;
    ngx_pool_t  *pool;

    pool = gateway_test_pool();

    a = str("aGVhZGVy.Y2xhaW1z.c2ln");
    assert_int_equal(ngx_gateway_gcp_token_request(pool, &a, &out), NGX_OK);
    assert_str(&out, "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type"
                     "%3Ajwt-bearer&assertion=aGVhZGVy.Y2xhaW1z.c2ln");

    ngx_destroy_pool(pool);
}


static void
test_token_response(void **state)
{
    ngx_str_t    body, token, err;
    ngx_pool_t  *pool;

    pool = gateway_test_pool();

    body = str("{\"id_token\": \"eyJh.eyJi.c2ln\"}");
    assert_int_equal(ngx_gateway_gcp_token_response(pool, &body, &token,
                                                    &err),
                     NGX_OK);
    assert_str(&token, "eyJh.eyJi.c2ln");

    body = str("{\"access_token\": \"ya29.x\", \"expires_in\": 3599}");
    assert_int_equal(ngx_gateway_gcp_token_response(pool, &body, &token,
                                                    &err),
                     NGX_DECLINED);
    assert_str(&err, "the token endpoint's answer has no \"id_token\"");

    body = str("<html>");
    assert_int_equal(ngx_gateway_gcp_token_response(pool, &body, &token,
                                                    &err),
                     NGX_DECLINED);

    ngx_destroy_pool(pool);
}


static void
test_token_expiry(void **state)
{
    time_t       exp;
    ngx_str_t    t, err;
    ngx_pool_t  *pool;

    pool = gateway_test_pool();

    /* {"alg":"RS256"} . {"aud":"x","exp":1796313600} . sig */
    t = str("eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4IiwiZXhwIjoxNzk2MzEzNjAwfQ.c2ln");
    assert_int_equal(ngx_gateway_gcp_token_expiry(pool, &t, &exp, &err),
                     NGX_OK);
    assert_int_equal(exp, 1796313600);

    /* {"aud":"x"} */
    t = str("eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4In0.c2ln");
    assert_int_equal(ngx_gateway_gcp_token_expiry(pool, &t, &exp, &err),
                     NGX_DECLINED);

    /* {"exp":"soon"} */
    t = str("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOiJzb29uIn0.c2ln");
    assert_int_equal(ngx_gateway_gcp_token_expiry(pool, &t, &exp, &err),
                     NGX_DECLINED);

    t = str("not a token");
    assert_int_equal(ngx_gateway_gcp_token_expiry(pool, &t, &exp, &err),
                     NGX_DECLINED);

    t = str("a..b");
    assert_int_equal(ngx_gateway_gcp_token_expiry(pool, &t, &exp, &err),
                     NGX_DECLINED);

    t = str("eyJhbGciOiJSUzI1NiJ9.eyJhdWQiOiJ4IiwiZXhwIjoxNzk2MzEzNjAwfQ"
            ".c2l\n");
    assert_int_equal(ngx_gateway_gcp_token_expiry(pool, &t, &exp, &err),
                     NGX_DECLINED);

    ngx_destroy_pool(pool);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_key_file),
        cmocka_unit_test(test_assertion),
        cmocka_unit_test(test_token_request),
        cmocka_unit_test(test_token_response),
        cmocka_unit_test(test_token_expiry),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
