
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include "gateway_test.h"
#include "ngx_gateway_keys.h"


static ngx_pool_t  *pool;


static int
setup(void **state)
{
    pool = gateway_test_pool();
    return 0;
}


static int
teardown(void **state)
{
    ngx_destroy_pool(pool);
    return 0;
}


/* refresh=10m min_refresh=30s, as the defaults */
static ngx_gateway_keys_conf_t  conf = { 600000, 30000 };


static void
test_schedule(void **state)
{
    ngx_msec_t                now;
    ngx_gateway_keys_state_t  st;

    ngx_memzero(&st, sizeof(ngx_gateway_keys_state_t));
    now = 5000;

    /* the first fetch is due at once */

    assert_true(ngx_gateway_keys_due(&st, now));
    ngx_gateway_keys_begin(&st, now);
    ngx_gateway_keys_end(&st, &conf, now + 100, 1, 1, -1);

    assert_int_equal(st.generation, 1);
    assert_int_equal(st.attempts, 1);
    assert_false(ngx_gateway_keys_due(&st, now + 100));
    assert_int_equal(ngx_gateway_keys_wait(&st, now + 100), 600000);
    assert_false(ngx_gateway_keys_due(&st, now + 600099));
    assert_true(ngx_gateway_keys_due(&st, now + 600100));

    /* the same set again: no new generation */

    now += 600100;
    ngx_gateway_keys_begin(&st, now);
    ngx_gateway_keys_end(&st, &conf, now, 1, 0, -1);
    assert_int_equal(st.generation, 1);
    assert_int_equal(st.attempts, 2);

    /* max-age within [min_refresh, refresh] */

    ngx_gateway_keys_end(&st, &conf, now, 1, 1, 120);
    assert_int_equal(st.generation, 2);
    assert_int_equal(ngx_gateway_keys_wait(&st, now), 120000);

    ngx_gateway_keys_end(&st, &conf, now, 1, 0, 5);
    assert_int_equal(ngx_gateway_keys_wait(&st, now), 30000);

    ngx_gateway_keys_end(&st, &conf, now, 1, 0, 0);
    assert_int_equal(ngx_gateway_keys_wait(&st, now), 30000);

    ngx_gateway_keys_end(&st, &conf, now, 1, 0, 86400);
    assert_int_equal(ngx_gateway_keys_wait(&st, now), 600000);

    ngx_gateway_keys_end(&st, &conf, now, 1, 0, NGX_MAX_TIME_T_VALUE);
    assert_int_equal(ngx_gateway_keys_wait(&st, now), 600000);
}


static void
test_failures(void **state)
{
    ngx_uint_t                i;
    ngx_msec_t                now, waits[] = { 1000, 2000, 4000, 8000 };
    ngx_gateway_keys_conf_t   short_conf = { 10000, 1000 };
    ngx_gateway_keys_state_t  st;

    ngx_memzero(&st, sizeof(ngx_gateway_keys_state_t));
    now = 1000;

    /* backing off, and never longer than refresh */

    for (i = 0; i < 4; i++) {
        ngx_gateway_keys_begin(&st, now);
        ngx_gateway_keys_end(&st, &short_conf, now, 0, 0, -1);
        assert_int_equal(ngx_gateway_keys_wait(&st, now), waits[i]);
        assert_int_equal(st.generation, 0);
    }

    for (i = 0; i < 100; i++) {
        ngx_gateway_keys_end(&st, &short_conf, now, 0, 0, -1);
        assert_int_equal(ngx_gateway_keys_wait(&st, now), 10000);
    }

    /* a success resets it; a later failure keeps the generation */

    ngx_gateway_keys_end(&st, &short_conf, now, 1, 1, -1);
    assert_int_equal(st.generation, 1);
    assert_int_equal(st.failures, 0);

    ngx_gateway_keys_end(&st, &short_conf, now, 0, 0, -1);
    assert_int_equal(st.generation, 1);
    assert_int_equal(ngx_gateway_keys_wait(&st, now), 1000);
}


static void
test_unknown_kid(void **state)
{
    ngx_msec_t                now;
    ngx_gateway_keys_state_t  st;

    ngx_memzero(&st, sizeof(ngx_gateway_keys_state_t));

    /* before any fetch: asked for */

    now = 100;
    assert_int_equal(ngx_gateway_keys_unknown(&st, &conf, now), NGX_OK);
    assert_true(ngx_gateway_keys_due(&st, now));

    ngx_gateway_keys_begin(&st, now);
    ngx_gateway_keys_end(&st, &conf, now + 50, 1, 1, -1);
    assert_false(ngx_gateway_keys_due(&st, now + 50));

    /* a flood of unknown kids within min_refresh: no fetch */

    for (now = 150; now < 30100; now += 7) {
        assert_int_equal(ngx_gateway_keys_unknown(&st, &conf, now),
                         NGX_DECLINED);
        assert_false(ngx_gateway_keys_due(&st, now));
    }

    /* min_refresh after the last fetch began: one early fetch */

    now = 30100;
    assert_int_equal(ngx_gateway_keys_unknown(&st, &conf, now), NGX_OK);
    assert_true(ngx_gateway_keys_due(&st, now));
    assert_int_equal(ngx_gateway_keys_wait(&st, now), 0);

    ngx_gateway_keys_begin(&st, now);
    assert_false(ngx_gateway_keys_due(&st, now));
    assert_int_equal(ngx_gateway_keys_unknown(&st, &conf, now + 1),
                     NGX_DECLINED);
    ngx_gateway_keys_later(&st, &conf);

    /*
     * That token came while the fetch was under way (begun before the
     * provider published its key, maybe): not a refetch at once, but
     * min_refresh after that fetch began, not a refresh later
     */

    ngx_gateway_keys_end(&st, &conf, now + 500, 1, 0, -1);
    assert_false(ngx_gateway_keys_due(&st, now + 500));
    assert_false(ngx_gateway_keys_due(&st, now + 29999));
    assert_true(ngx_gateway_keys_due(&st, now + 30000));

    ngx_gateway_keys_begin(&st, now + 30000);
    ngx_gateway_keys_end(&st, &conf, now + 30100, 1, 1, -1);
    assert_false(ngx_gateway_keys_due(&st, now + 60000));
    assert_int_equal(ngx_gateway_keys_wait(&st, now + 30100), 600000);

    /* and after the fetch ended, within min_refresh: the same */

    now += 30000;
    assert_int_equal(ngx_gateway_keys_unknown(&st, &conf, now + 200),
                     NGX_DECLINED);
    ngx_gateway_keys_later(&st, &conf);
    assert_false(ngx_gateway_keys_due(&st, now + 29999));
    assert_true(ngx_gateway_keys_due(&st, now + 30000));

    /* the clock wraps */

    ngx_memzero(&st, sizeof(ngx_gateway_keys_state_t));
    now = (ngx_msec_t) -10;
    ngx_gateway_keys_begin(&st, now);
    ngx_gateway_keys_end(&st, &conf, now, 1, 1, -1);
    assert_int_equal(ngx_gateway_keys_unknown(&st, &conf, now + 29999),
                     NGX_DECLINED);
    assert_int_equal(ngx_gateway_keys_unknown(&st, &conf, now + 30000),
                     NGX_OK);
}


static ngx_int_t
discovery(const char *doc, const char *issuer, ngx_str_t *uri,
    ngx_str_t *err)
{
    ngx_str_t  iss;

    iss = gateway_test_str(pool, issuer);

    return ngx_gateway_keys_discovery(pool, (u_char *) doc, strlen(doc),
                                      &iss, uri, err);
}


static void
test_clamp(void **state)
{
    ngx_gateway_keys_conf_t   shorter = { 10000, 1000 };
    ngx_gateway_keys_state_t  st;

    ngx_memzero(&st, sizeof(ngx_gateway_keys_state_t));

    /* never fetched: due at once, as it was */

    ngx_gateway_keys_clamp(&st, &shorter, 100);
    assert_true(ngx_gateway_keys_due(&st, 100));

    /* fetched under refresh=10m; reloaded with refresh=10s */

    ngx_gateway_keys_begin(&st, 100);
    ngx_gateway_keys_end(&st, &conf, 200, 1, 1, -1);
    assert_int_equal(ngx_gateway_keys_wait(&st, 1000), 599200);

    ngx_gateway_keys_clamp(&st, &shorter, 1000);
    assert_int_equal(ngx_gateway_keys_wait(&st, 1000), 10000);

    /* sooner than refresh: kept */

    ngx_gateway_keys_clamp(&st, &conf, 2000);
    assert_int_equal(ngx_gateway_keys_wait(&st, 2000), 9000);
}


static ngx_uint_t
allowed(const char *url)
{
    char               *err;
    ngx_str_t           s;
    ngx_gateway_url_t   u;

    s.data = (u_char *) url;
    s.len = strlen(url);

    assert_int_equal(ngx_gateway_url_parse(&s, &u, &err), NGX_OK);

    return ngx_gateway_keys_url_allowed(&u);
}


static void
test_url_allowed(void **state)
{
    assert_true(allowed("https://id.example.com"));
    assert_true(allowed("https://10.0.0.1/jwks"));
    assert_true(allowed("http://127.0.0.1:8080/jwks"));
    assert_true(allowed("http://127.1.2.3/jwks"));
    assert_true(allowed("http://[::1]:8080/jwks"));

    assert_false(allowed("http://id.example.com/jwks"));
    assert_false(allowed("http://localhost/jwks"));
    assert_false(allowed("http://127.example.com/jwks"));
    assert_false(allowed("http://10.0.0.1/jwks"));
    assert_false(allowed("http://169.254.169.254/jwks"));
    assert_false(allowed("http://[::2]/jwks"));
    assert_false(allowed("http://[::ffff:127.0.0.1]/jwks"));
}


static void
test_discovery(void **state)
{
    ngx_str_t  uri, err, iss, url;

    assert_int_equal(discovery("{\"issuer\":\"https://id.example.com\","
                               "\"jwks_uri\":\"https://keys.example.com/"
                               "jwks.json\",\"other\":[1,2]}",
                               "https://id.example.com", &uri, &err),
                     NGX_OK);
    assert_int_equal(uri.len, sizeof("https://keys.example.com/jwks.json")
                              - 1);
    assert_memory_equal(uri.data, "https://keys.example.com/jwks.json",
                        uri.len);

    /* http only for an http issuer */

    assert_int_equal(discovery("{\"issuer\":\"http://127.0.0.1:1\","
                               "\"jwks_uri\":\"http://127.0.0.1:1/k\"}",
                               "http://127.0.0.1:1", &uri, &err),
                     NGX_OK);
    assert_int_equal(discovery("{\"issuer\":\"https://a\","
                               "\"jwks_uri\":\"http://a/k\"}",
                               "https://a", &uri, &err),
                     NGX_DECLINED);

    /* an http issuer (on this host) points at no other http host */

    assert_int_equal(discovery("{\"issuer\":\"http://127.0.0.1:1\","
                               "\"jwks_uri\":\"http://10.0.0.1/k\"}",
                               "http://127.0.0.1:1", &uri, &err),
                     NGX_DECLINED);
    assert_int_equal(discovery("{\"issuer\":\"http://127.0.0.1:1\","
                               "\"jwks_uri\":\"http://a/k\"}",
                               "http://127.0.0.1:1", &uri, &err),
                     NGX_DECLINED);
    assert_int_equal(discovery("{\"issuer\":\"http://127.0.0.1:1\","
                               "\"jwks_uri\":\"http://[::1]:2/k\"}",
                               "http://127.0.0.1:1", &uri, &err),
                     NGX_OK);

    /* the issuer exactly */

    assert_int_equal(discovery("{\"issuer\":\"https://a/\","
                               "\"jwks_uri\":\"https://a/k\"}",
                               "https://a", &uri, &err),
                     NGX_DECLINED);
    assert_int_equal(discovery("{\"issuer\":\"https://evil\","
                               "\"jwks_uri\":\"https://a/k\"}",
                               "https://a", &uri, &err),
                     NGX_DECLINED);
    assert_null(ngx_strnstr(err.data, "evil", err.len));

    assert_int_equal(discovery("{\"issuer\":\"https://a\"}", "https://a",
                               &uri, &err),
                     NGX_DECLINED);
    assert_int_equal(discovery("{\"issuer\":\"https://a\",\"jwks_uri\":5}",
                               "https://a", &uri, &err),
                     NGX_DECLINED);
    assert_int_equal(discovery("{\"issuer\":\"https://a\","
                               "\"jwks_uri\":\"https://u:p@a/k\"}",
                               "https://a", &uri, &err),
                     NGX_DECLINED);
    assert_int_equal(discovery("{\"issuer\":\"https://a\","
                               "\"issuer\":\"https://a\","
                               "\"jwks_uri\":\"https://a/k\"}",
                               "https://a", &uri, &err),
                     NGX_DECLINED);
    assert_int_equal(discovery("[]", "https://a", &uri, &err),
                     NGX_DECLINED);
    assert_int_equal(discovery("{\"issuer\":", "https://a", &uri, &err),
                     NGX_DECLINED);
    assert_non_null(ngx_strnstr(err.data, "line 1", err.len));
    assert_int_equal(discovery("", "https://a", &uri, &err), NGX_DECLINED);

    iss = gateway_test_str(pool, "https://id.example.com/");
    assert_int_equal(ngx_gateway_keys_discovery_url(pool, &iss, &url),
                     NGX_OK);
    assert_int_equal(url.len, sizeof("https://id.example.com/.well-known/"
                                     "openid-configuration") - 1);
    assert_memory_equal(url.data, "https://id.example.com/.well-known/"
                                  "openid-configuration", url.len);
}


#define EC256                                                                 \
    "{\"alg\":\"ES256\",\"crv\":\"P-256\",\"kid\":\"ec256\",\"kty\":\"EC\","      \
    "\"x\":\"nlo8zzxWzaZ3hjFOkqSovSWqTI3AMU6xAzX01VU1BDU\","                   \
    "\"y\":\"BvTH59kEzrnyqqtJwhf_m5JaHgczqQZYM59i3cWtOZE\"}"
#define ED25519                                                               \
    "{\"alg\":\"EdDSA\",\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"use\":\"sig\","   \
    "\"x\":\"Cq2hL05G9UlqgOAQDRCFiuHQgh28Jj0a_0CoTu5egrM\"}"


#define NAMED  "key 1 (\"kid\": \"p\"): "


static ngx_int_t
parse(const char *doc, ngx_gateway_jwks_t *jwks, ngx_uint_t *skipped,
    ngx_str_t *err)
{
    return ngx_gateway_keys_parse(pool, (u_char *) doc, strlen(doc), jwks,
                                  skipped, err);
}


static void
test_parse(void **state)
{
    ngx_str_t           err;
    ngx_uint_t          skipped;
    ngx_gateway_jwks_t  jwks;

    assert_int_equal(parse("{\"keys\":[" EC256 "," ED25519 "]}", &jwks,
                           &skipped, &err), NGX_OK);
    assert_int_equal(jwks.nkeys, 2);
    assert_int_equal(skipped, 0);
    assert_int_equal(jwks.keys[0].alg, NGX_GATEWAY_JWT_ES256);
    assert_int_equal(jwks.keys[1].alg, NGX_GATEWAY_JWT_EDDSA);

    /* an encryption key (as Keycloak publishes), a secret, a key the
     * gateway does not take, a kid again: skipped; the others load */

    assert_int_equal(parse("{\"keys\":["
                           "{\"kty\":\"RSA\",\"use\":\"enc\",\"kid\":\"e\","
                           "\"alg\":\"RSA-OAEP\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
                           EC256 ","
                           "{\"kty\":\"oct\",\"kid\":\"s\",\"k\":\"AAAAAAAAAAAAAAAA"
                           "AAAAAAAAAAAAAAAAAAAAAAAAAAA\"},"
                           "{\"kty\":\"EC\",\"crv\":\"P-192\",\"kid\":\"p\","
                           "\"x\":\"AA\",\"y\":\"AA\"},"
                           "17,"
                           EC256 ","
                           ED25519 "]}", &jwks, &skipped, &err),
                     NGX_OK);
    assert_int_equal(jwks.nkeys, 2);
    assert_int_equal(skipped, 5);
    assert_int_equal(jwks.keys[0].kid.len, 5);
    assert_int_equal(jwks.keys[1].kid.len, 0);
    assert_non_null(ngx_strnstr(err.data, "key 0: a key not for signatures",
                                err.len));

    /* a key the JWK loader refuses is named once, by its place here */

    assert_int_equal(parse("{\"keys\":[" EC256 ","
                           "{\"kty\":\"EC\",\"crv\":\"P-192\",\"kid\":\"p\","
                           "\"x\":\"AA\",\"y\":\"AA\"}]}", &jwks, &skipped,
                           &err),
                     NGX_OK);
    assert_int_equal(jwks.nkeys, 1);
    assert_int_equal(skipped, 1);
    assert_true(err.len > sizeof(NAMED) - 1);
    assert_memory_equal(err.data, NAMED, sizeof(NAMED) - 1);
    assert_null(ngx_strnstr(err.data, "key 0", err.len));

    /* no key left, or no JWK Set at all */

    assert_int_equal(parse("{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"}]}",
                           &jwks, &skipped, &err), NGX_DECLINED);
    assert_int_equal(jwks.nkeys, 0);
    assert_non_null(ngx_strnstr(err.data, "never taken", err.len));
    assert_int_equal(parse("{\"keys\":[]}", &jwks, &skipped, &err),
                     NGX_DECLINED);
    assert_int_equal(parse("{\"keys\":{}}", &jwks, &skipped, &err),
                     NGX_DECLINED);
    assert_int_equal(parse("[]", &jwks, &skipped, &err), NGX_DECLINED);
    assert_int_equal(parse("<html>", &jwks, &skipped, &err), NGX_DECLINED);
    assert_non_null(ngx_strnstr(err.data, "invalid JSON", err.len));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_schedule),
        cmocka_unit_test(test_failures),
        cmocka_unit_test(test_unknown_kid),
        cmocka_unit_test(test_discovery),
        cmocka_unit_test(test_url_allowed),
        cmocka_unit_test(test_clamp),
        cmocka_unit_test(test_parse),
    };

    return cmocka_run_group_tests_name("keys", tests, setup, teardown);
}
