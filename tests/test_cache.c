
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include "gateway_test.h"
#include "ngx_gateway_cache.h"


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


/*
 * A token-like key: a common head (like a JWT's header), a part that
 * differs and a tail that differs, so that a compare of part of the key
 * or a bucket chosen from part of it is caught.
 */

typedef struct {
    u_char      buf[96];
    ngx_str_t   str;
} cache_key_t;


static ngx_str_t *
key_of(cache_key_t *k, ngx_uint_t n)
{
    ngx_memset(k->buf, 'h', sizeof(k->buf));
    ngx_sprintf(k->buf + 20, "%08xi", n);
    ngx_sprintf(k->buf + sizeof(k->buf) - 8, "%08xi",
                (n * 2654435761u) & 0xffffffff);

    k->str.data = k->buf;
    k->str.len = sizeof(k->buf);

    return &k->str;
}


static void
test_get_put_expiry(void **state)
{
    cache_state_t             *st = *state;
    cache_key_t                      key;
    u_char                    *v;
    size_t                     len;
    ngx_gateway_cache_t       *c;

    c = ngx_gateway_cache_create(st->pool, 4, &st->log);
    assert_non_null(c);

    key_of(&key, 1);
    assert_null(ngx_gateway_cache_get(c, &key.str, 0, 100, &len));

    assert_int_equal(ngx_gateway_cache_put(c, &key.str, 0, 200,
                                           (u_char *) "alice", 5),
                     NGX_OK);

    v = ngx_gateway_cache_get(c, &key.str, 0, 100, &len);
    assert_non_null(v);
    assert_int_equal(len, 5);
    assert_memory_equal(v, "alice", 5);

    /* another tag (service) is another entry */
    assert_null(ngx_gateway_cache_get(c, &key.str, 1, 100, &len));

    /* valid up to the second before expiry, never at it or after */
    assert_non_null(ngx_gateway_cache_get(c, &key.str, 0, 199, &len));
    assert_null(ngx_gateway_cache_get(c, &key.str, 0, 200, &len));
    assert_int_equal(c->n, 0);
    assert_null(ngx_gateway_cache_get(c, &key.str, 0, 100, &len));

    /* a put replaces */
    ngx_gateway_cache_put(c, &key.str, 0, 300, (u_char *) "a", 1);
    ngx_gateway_cache_put(c, &key.str, 0, 300, (u_char *) "bob", 3);
    assert_int_equal(c->n, 1);
    v = ngx_gateway_cache_get(c, &key.str, 0, 100, &len);
    assert_int_equal(len, 3);
    assert_memory_equal(v, "bob", 3);
}


static void
test_lru_eviction(void **state)
{
    cache_state_t             *st = *state;
    cache_key_t                      key;
    size_t                     len;
    ngx_uint_t                 i;
    ngx_gateway_cache_t       *c;

    c = ngx_gateway_cache_create(st->pool, 3, &st->log);

    for (i = 1; i <= 3; i++) {
        key_of(&key, i);
        ngx_gateway_cache_put(c, &key.str, 0, 1000, (u_char *) "x", 1);
    }

    /* touch 1: 2 is now the least recently used */
    key_of(&key, 1);
    assert_non_null(ngx_gateway_cache_get(c, &key.str, 0, 0, &len));

    key_of(&key, 4);
    ngx_gateway_cache_put(c, &key.str, 0, 1000, (u_char *) "x", 1);

    assert_int_equal(c->n, 3);

    key_of(&key, 2);
    assert_null(ngx_gateway_cache_get(c, &key.str, 0, 0, &len));

    for (i = 1; i <= 4; i++) {
        if (i != 2) {
            key_of(&key, i);
            assert_non_null(ngx_gateway_cache_get(c, &key.str, 0, 0, &len));
        }
    }
}


static void
test_bounded(void **state)
{
    cache_state_t             *st = *state;
    cache_key_t                      key;
    size_t                     len;
    ngx_uint_t                 i, hits;
    ngx_gateway_cache_t       *c;

    c = ngx_gateway_cache_create(st->pool, 1000, &st->log);

    for (i = 0; i < 100000; i++) {
        key_of(&key, i);
        assert_int_equal(ngx_gateway_cache_put(c, &key.str, i % 3, 1000,
                                               (u_char *) "v", 1),
                         NGX_OK);
        assert_true(c->n <= 1000);
    }

    hits = 0;

    for (i = 99000; i < 100000; i++) {
        key_of(&key, i);
        hits += ngx_gateway_cache_get(c, &key.str, i % 3, 0, &len) != NULL;
    }

    assert_int_equal(hits, 1000);
}


/* equal tails, other heads; a prefix; one byte off anywhere */

static void
test_whole_key_compared(void **state)
{
    cache_state_t             *st = *state;
    size_t                     len, i;
    ngx_str_t                  k;
    cache_key_t                key, other;
    ngx_gateway_cache_t       *c;

    c = ngx_gateway_cache_create(st->pool, 16, &st->log);

    key_of(&key, 7);
    assert_int_equal(ngx_gateway_cache_put(c, &key.str, 0, 1000,
                                           (u_char *) "x", 1),
                     NGX_OK);

    for (i = 0; i < sizeof(key.buf); i++) {
        other = key;
        other.str.data = other.buf;
        other.buf[i] ^= 0x01;
        assert_null(ngx_gateway_cache_get(c, &other.str, 0, 0, &len));
    }

    /* the same last bytes, shorter: the bucket may be the same */
    k.data = key.buf + 1;
    k.len = sizeof(key.buf) - 1;
    assert_null(ngx_gateway_cache_get(c, &k, 0, 0, &len));

    k.data = key.buf;
    k.len = sizeof(key.buf) - 1;
    assert_null(ngx_gateway_cache_get(c, &k, 0, 0, &len));

    /* a key shorter than the hashed tail */
    k.len = 5;
    assert_null(ngx_gateway_cache_get(c, &k, 0, 0, &len));
    assert_int_equal(ngx_gateway_cache_put(c, &k, 0, 1000,
                                           (u_char *) "short", 5),
                     NGX_OK);
    assert_memory_equal(ngx_gateway_cache_get(c, &k, 0, 0, &len),
                        "short", 5);

    assert_memory_equal(ngx_gateway_cache_get(c, &key.str, 0, 0, &len),
                        "x", 1);
    assert_int_equal(c->n, 2);
}


static void
test_disabled(void **state)
{
    cache_state_t             *st = *state;
    cache_key_t                      key;
    size_t                     len;
    ngx_gateway_cache_t       *c;

    c = ngx_gateway_cache_create(st->pool, 0, &st->log);

    key_of(&key, 1);
    assert_int_equal(ngx_gateway_cache_put(c, &key.str, 0, 1000,
                                           (u_char *) "x", 1),
                     NGX_OK);
    assert_null(ngx_gateway_cache_get(c, &key.str, 0, 0, &len));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_get_put_expiry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_lru_eviction, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_whole_key_compared, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
    };

    return cmocka_run_group_tests_name("cache", tests, NULL, NULL);
}
