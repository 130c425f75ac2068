
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include "gateway_test.h"
#include <ngx_http.h>
#include "ngx_gateway_parse.h"


static int
setup(void **state)
{
    *state = gateway_test_pool();

    return 0;
}


static int
teardown(void **state)
{
    ngx_destroy_pool(*state);

    return 0;
}


static ngx_int_t
methods(ngx_pool_t *pool, const char *s, ngx_uint_t *mask, ngx_str_t *err)
{
    ngx_str_t  value;

    value = gateway_test_str(pool, s);

    return ngx_gateway_parse_methods(&value, mask, err);
}


static void
test_methods(void **state)
{
    ngx_str_t   err;
    ngx_uint_t  mask;

    assert_int_equal(methods(*state, "*", &mask, &err), NGX_OK);
    assert_int_equal(mask, NGX_GATEWAY_ALL_METHODS);

    assert_int_equal(methods(*state, "POST", &mask, &err), NGX_OK);
    assert_int_equal(mask, NGX_HTTP_POST);

    /* GET admits HEAD, as limit_except does */
    assert_int_equal(methods(*state, "GET,DELETE,PATCH", &mask, &err),
                     NGX_OK);
    assert_int_equal(mask, NGX_HTTP_GET | NGX_HTTP_HEAD | NGX_HTTP_DELETE
                           | NGX_HTTP_PATCH);

    assert_int_equal(methods(*state, "OPTIONS,OPTIONS", &mask, &err),
                     NGX_OK);
    assert_int_equal(mask, NGX_HTTP_OPTIONS);

    /* methods are case-sensitive (RFC 9110, 9.1) */
    assert_int_equal(methods(*state, "GET,post", &mask, &err), NGX_DECLINED);
    assert_int_equal(err.len, 4);
    assert_memory_equal(err.data, "post", 4);

    assert_int_equal(methods(*state, "GET,,POST", &mask, &err),
                     NGX_DECLINED);
    assert_int_equal(methods(*state, "GET,", &mask, &err), NGX_DECLINED);
    assert_int_equal(methods(*state, ",GET", &mask, &err), NGX_DECLINED);
    assert_int_equal(methods(*state, "GETX", &mask, &err), NGX_DECLINED);
    assert_int_equal(methods(*state, "GE", &mask, &err), NGX_DECLINED);
    assert_int_equal(methods(*state, "**", &mask, &err), NGX_DECLINED);
    assert_int_equal(methods(*state, "GET, POST", &mask, &err),
                     NGX_DECLINED);
}


static void
test_methods_text(void **state)
{
    u_char  buf[NGX_GATEWAY_METHODS_LEN], *p;

    p = ngx_gateway_methods_text(buf, NGX_HTTP_POST | NGX_HTTP_GET
                                           | NGX_HTTP_HEAD);
    assert_int_equal(p - buf, sizeof("GET, HEAD, POST") - 1);
    assert_memory_equal(buf, "GET, HEAD, POST", p - buf);

    p = ngx_gateway_methods_text(buf, NGX_HTTP_DELETE);
    assert_memory_equal(buf, "DELETE", p - buf);

    /* everything fits the buffer */
    p = ngx_gateway_methods_text(buf, NGX_GATEWAY_ALL_METHODS);
    assert_true((size_t) (p - buf) <= sizeof(buf));
    assert_memory_equal(buf, "GET, HEAD, POST, PUT, DELETE, MKCOL", 35);
}


static ngx_int_t
endpoint(ngx_pool_t *pool, const char *s, ngx_gateway_endpoint_t *ep)
{
    ngx_str_t  url, err;

    url = gateway_test_str(pool, s);
    ngx_memzero(ep, sizeof(ngx_gateway_endpoint_t));

    return ngx_gateway_parse_endpoint(&url, ep, &err);
}


#define assert_str(s, literal)                                               \
    do {                                                                     \
        assert_int_equal((s).len, sizeof(literal) - 1);                      \
        assert_memory_equal((s).data, literal, sizeof(literal) - 1);         \
    } while (0)


static void
test_endpoint_valid(void **state)
{
    ngx_gateway_endpoint_t       ep;

    assert_int_equal(endpoint(*state, "http://orders_fn/fn/orders", &ep),
                     NGX_OK);
    assert_str(ep.scheme, "http://");
    assert_str(ep.authority, "orders_fn");
    assert_str(ep.path, "/fn/orders");
    assert_false(ep.ssl);

    assert_int_equal(endpoint(*state, "HTTPS://fn.example.com:8443", &ep),
                     NGX_OK);
    assert_str(ep.scheme, "HTTPS://");
    assert_str(ep.authority, "fn.example.com:8443");
    assert_int_equal(ep.path.len, 0);
    assert_true(ep.ssl);

    assert_int_equal(endpoint(*state, "http://127.0.0.1:9002/", &ep),
                     NGX_OK);
    assert_str(ep.authority, "127.0.0.1:9002");
    assert_str(ep.path, "/");

    assert_int_equal(endpoint(*state, "http://[::1]:9000/x", &ep), NGX_OK);
    assert_str(ep.authority, "[::1]:9000");

    assert_int_equal(endpoint(*state, "http://[::1]", &ep), NGX_OK);
    assert_int_equal(endpoint(*state, "http://h:65535", &ep), NGX_OK);
}


static void
test_endpoint_invalid(void **state)
{
    ngx_gateway_endpoint_t       ep;

    assert_int_equal(endpoint(*state, "", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "orders_fn", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "ftp://h/", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http:///path", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://:80/", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://h:/", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://h:0", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://h:65536", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://h:8x", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://h:1:2", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://u:p@h/", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://h/p?x=1", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://h/p#f", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://$host/", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://h/$uri", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://h/a b", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://[::1", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://[]/", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://[::1]x/", &ep), NGX_DECLINED);
    assert_int_equal(endpoint(*state, "http://[::1]:0/", &ep), NGX_DECLINED);
}


static ngx_int_t
name(ngx_pool_t *pool, const char *s)
{
    ngx_str_t  value, err;

    value = gateway_test_str(pool, s);

    return ngx_gateway_parse_name(&value, &err);
}


static void
test_names(void **state)
{
    assert_int_equal(name(*state, "orders"), NGX_OK);
    assert_int_equal(name(*state, "Orders-v2.fn_1"), NGX_OK);
    assert_int_equal(name(*state, "a"), NGX_OK);
    assert_int_equal(name(*state, "0123456789012345678901234567890123456789"
                                  "012345678901234567890123"), NGX_OK);

    assert_int_equal(name(*state, ""), NGX_DECLINED);
    assert_int_equal(name(*state, "0123456789012345678901234567890123456789"
                                  "0123456789012345678901234"), NGX_DECLINED);
    assert_int_equal(name(*state, "a b"), NGX_DECLINED);
    assert_int_equal(name(*state, "a\"b"), NGX_DECLINED);
    assert_int_equal(name(*state, "a/b"), NGX_DECLINED);
    assert_int_equal(name(*state, "caf\xc3\xa9"), NGX_DECLINED);
}


static void
test_hash_size(void **state)
{
    assert_int_equal(ngx_gateway_hash_size(0), 8);
    assert_int_equal(ngx_gateway_hash_size(4), 8);
    assert_int_equal(ngx_gateway_hash_size(5), 16);
    assert_int_equal(ngx_gateway_hash_size(8), 16);
    assert_int_equal(ngx_gateway_hash_size(9), 32);
    assert_int_equal(ngx_gateway_hash_size(100000), 262144);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_methods_text, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_endpoint_invalid, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test(test_hash_size),
    };

    return cmocka_run_group_tests_name("parse", tests, NULL, NULL);
}
