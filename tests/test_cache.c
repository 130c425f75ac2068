
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include "gateway_test.h"
#include "ngx_http_gateway_cache.h"


typedef struct {
    ngx_pool_t                *pool;
    ngx_log_t                  log;
} cache_state_t;


static int
setup(void **state)
{
    cache_state_t  *st;

    st = calloc(1, sizeof(cache_state_t));
    st->pool = gateway_test_pool();

    *state = st;

    return 0;
}


static int
teardown(void **state)
{
    cache_state_t  *st = *state;

    ngx_destroy_pool(st->pool);
    free(st);

    return 0;
}


static void
key_of(u_char *key, ngx_uint_t n)
{
    ngx_uint_t  i;

    /* spread like a digest, with a common tail to catch partial compares */

    for (i = 0; i < NGX_HTTP_GATEWAY_CACHE_KEY_LEN; i++) {
        key[i] = (i < 4) ? (u_char) ((n * 2654435761u) >> (8 * i)) : 0xab;
    }

    key[31] = (u_char) n;
}


static void
test_get_put_expiry(void **state)
{
    cache_state_t             *st = *state;
    u_char                     key[32], *v;
    size_t                     len;
    ngx_http_gateway_cache_t  *c;

    c = ngx_http_gateway_cache_create(st->pool, 4, &st->log);
    assert_non_null(c);

    key_of(key, 1);
    assert_null(ngx_http_gateway_cache_get(c, key, 0, 100, &len));

    assert_int_equal(ngx_http_gateway_cache_put(c, key, 0, 200,
                                                (u_char *) "alice", 5),
                     NGX_OK);

    v = ngx_http_gateway_cache_get(c, key, 0, 100, &len);
    assert_non_null(v);
    assert_int_equal(len, 5);
    assert_memory_equal(v, "alice", 5);

    /* another tag (service) is another entry */
    assert_null(ngx_http_gateway_cache_get(c, key, 1, 100, &len));

    /* valid up to the second before expiry, never at it or after */
    assert_non_null(ngx_http_gateway_cache_get(c, key, 0, 199, &len));
    assert_null(ngx_http_gateway_cache_get(c, key, 0, 200, &len));
    assert_int_equal(c->n, 0);
    assert_null(ngx_http_gateway_cache_get(c, key, 0, 100, &len));

    /* a put replaces */
    ngx_http_gateway_cache_put(c, key, 0, 300, (u_char *) "a", 1);
    ngx_http_gateway_cache_put(c, key, 0, 300, (u_char *) "bob", 3);
    assert_int_equal(c->n, 1);
    v = ngx_http_gateway_cache_get(c, key, 0, 100, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "bob", 3);
}


static void
test_lru_eviction(void **state)
{
    cache_state_t             *st = *state;
    u_char                     key[32];
    size_t                     len;
    ngx_uint_t                 i;
    ngx_http_gateway_cache_t  *c;

    c = ngx_http_gateway_cache_create(st->pool, 3, &st->log);

    for (i = 1; i <= 3; i++) {
        key_of(key, i);
        ngx_http_gateway_cache_put(c, key, 0, 1000, (u_char *) "x", 1);
    }

    /* touch 1: 2 is now the least recently used */
    key_of(key, 1);
    assert_non_null(ngx_http_gateway_cache_get(c, key, 0, 0, &len));

    key_of(key, 4);
    ngx_http_gateway_cache_put(c, key, 0, 1000, (u_char *) "x", 1);

    assert_int_equal(c->n, 3);

    key_of(key, 2);
    assert_null(ngx_http_gateway_cache_get(c, key, 0, 0, &len));

    for (i = 1; i <= 4; i++) {
        if (i != 2) {
            key_of(key, i);
            assert_non_null(ngx_http_gateway_cache_get(c, key, 0, 0, &len));
        }
    }
}


static void
test_bounded(void **state)
{
    cache_state_t             *st = *state;
    u_char                     key[32];
    size_t                     len;
    ngx_uint_t                 i, hits;
    ngx_http_gateway_cache_t  *c;

    c = ngx_http_gateway_cache_create(st->pool, 1000, &st->log);

    for (i = 0; i < 100000; i++) {
        key_of(key, i);
        key[30] = (u_char) (i >> 8);
        assert_int_equal(ngx_http_gateway_cache_put(c, key, i % 3, 1000,
                                                    (u_char *) "v", 1),
                         NGX_OK);
        assert_true(c->n <= 1000);
    }

    hits = 0;

    for (i = 99000; i < 100000; i++) {
        key_of(key, i);
        key[30] = (u_char) (i >> 8);
        hits += ngx_http_gateway_cache_get(c, key, i % 3, 0, &len) != NULL;
    }

    assert_int_equal(hits, 1000);
}


static void
test_disabled(void **state)
{
    cache_state_t             *st = *state;
    u_char                     key[32];
    size_t                     len;
    ngx_http_gateway_cache_t  *c;

    c = ngx_http_gateway_cache_create(st->pool, 0, &st->log);

    key_of(key, 1);
    assert_int_equal(ngx_http_gateway_cache_put(c, key, 0, 1000,
                                                (u_char *) "x", 1),
                     NGX_OK);
    assert_null(ngx_http_gateway_cache_get(c, key, 0, 0, &len));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_get_put_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lru_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
    };

    return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
