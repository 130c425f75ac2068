
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include "gateway_test.h"
#include "ngx_gateway_http.h"


#define BUF_SIZE  (1024 + NGX_GATEWAY_HTTP_SLACK)


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


static ngx_int_t
url(const char *text, ngx_gateway_url_t *u)
{
    char       *err;
    ngx_str_t   s;

    s = gateway_test_str(pool, text);

    return ngx_gateway_url_parse(&s, u, &err);
}


static void
assert_str(ngx_str_t *s, const char *expected)
{
    assert_int_equal(s->len, strlen(expected));
    assert_memory_equal(s->data, expected, s->len);
}


static void
test_url(void **state)
{
    ngx_gateway_url_t  u;

    assert_int_equal(url("https://id.example.com/.well-known/jwks.json",
                         &u), NGX_OK);
    assert_true(u.ssl);
    assert_false(u.ip);
    assert_int_equal(u.port, 443);
    assert_str(&u.host, "id.example.com");
    assert_str(&u.authority, "id.example.com");
    assert_str(&u.uri, "/.well-known/jwks.json");

    assert_int_equal(url("http://127.0.0.1:8080", &u), NGX_OK);
    assert_false(u.ssl);
    assert_true(u.ip);
    assert_int_equal(u.port, 8080);
    assert_str(&u.host, "127.0.0.1");
    assert_str(&u.authority, "127.0.0.1:8080");
    assert_str(&u.uri, "/");

    assert_int_equal(url("HTTPS://[::1]:9443/k?x=1", &u), NGX_OK);
    assert_true(u.ip);
    assert_int_equal(u.port, 9443);
    assert_str(&u.host, "::1");
    assert_str(&u.authority, "[::1]:9443");
    assert_str(&u.uri, "/k?x=1");

    /* a name that looks like an address is a name */
    assert_int_equal(url("https://1.2.3.4.example/", &u), NGX_OK);
    assert_false(u.ip);
    assert_int_equal(url("https://1.2.3.256/", &u), NGX_OK);
    assert_false(u.ip);

    assert_int_equal(url("ftp://a/", &u), NGX_DECLINED);
    assert_int_equal(url("https://", &u), NGX_DECLINED);
    assert_int_equal(url("https:///x", &u), NGX_DECLINED);
    assert_int_equal(url("https://user:pw@a/", &u), NGX_DECLINED);
    assert_int_equal(url("https://a/#frag", &u), NGX_DECLINED);
    assert_int_equal(url("https://a/\"k\"", &u), NGX_DECLINED);
    assert_int_equal(url("https://a/b\\c", &u), NGX_DECLINED);
    assert_int_equal(url("https://a b/", &u), NGX_DECLINED);
    assert_int_equal(url("https://a/\r\nX: y", &u), NGX_DECLINED);
    assert_int_equal(url("https://a:0/", &u), NGX_DECLINED);
    assert_int_equal(url("https://a:65536/", &u), NGX_DECLINED);
    assert_int_equal(url("https://a:/", &u), NGX_DECLINED);
    assert_int_equal(url("https://[::1/", &u), NGX_DECLINED);
    assert_int_equal(url("https://[]/", &u), NGX_DECLINED);
    assert_int_equal(url("https://[::1]x/", &u), NGX_DECLINED);
    assert_int_equal(url("https://a?x", &u), NGX_DECLINED);
}


static void
test_request(void **state)
{
    char               *err;
    ngx_str_t           method, out, body;
    ngx_keyval_t        h[2];
    ngx_gateway_url_t   u;

    assert_int_equal(url("http://169.254.169.254/latest/api/token", &u),
                     NGX_OK);

    ngx_str_set(&method, "PUT");
    ngx_str_set(&h[0].key, "X-aws-ec2-metadata-token-ttl-seconds");
    ngx_str_set(&h[0].value, "21600");

    assert_int_equal(ngx_gateway_http_request(pool, &method, &u, h, 1, NULL,
                                              &out, &err), NGX_OK);
    assert_str(&out, "PUT /latest/api/token HTTP/1.1\r\n"
                     "Host: 169.254.169.254\r\n"
                     "Connection: close\r\n"
                     "X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"
                     "Content-Length: 0\r\n\r\n");

    ngx_str_set(&method, "POST");
    ngx_str_set(&body, "a=b");

    assert_int_equal(ngx_gateway_http_request(pool, &method, &u, NULL, 0,
                                              &body, &out, &err), NGX_OK);
    assert_str(&out, "POST /latest/api/token HTTP/1.1\r\n"
                     "Host: 169.254.169.254\r\n"
                     "Connection: close\r\n"
                     "Content-Length: 3\r\n\r\na=b");

    ngx_str_set(&method, "GET");

    assert_int_equal(ngx_gateway_http_request(pool, &method, &u, NULL, 0,
                                              NULL, &out, &err), NGX_OK);
    assert_str(&out, "GET /latest/api/token HTTP/1.1\r\n"
                     "Host: 169.254.169.254\r\n"
                     "Connection: close\r\n\r\n");

    /* no header injection through a name or a value */

    ngx_str_set(&h[1].key, "X-Token");
    ngx_str_set(&h[1].value, "a\r\nHost: evil");

    assert_int_equal(ngx_gateway_http_request(pool, &method, &u, h, 2, NULL,
                                              &out, &err), NGX_DECLINED);

    ngx_str_set(&h[1].key, "X Token");
    ngx_str_set(&h[1].value, "a");

    assert_int_equal(ngx_gateway_http_request(pool, &method, &u, h, 2, NULL,
                                              &out, &err), NGX_DECLINED);

    ngx_str_set(&method, "GE T");

    assert_int_equal(ngx_gateway_http_request(pool, &method, &u, NULL, 0,
                                              NULL, &out, &err),
                     NGX_DECLINED);
}


/*
 * Feeds a response in pieces of "step" bytes (0: all at once), then the
 * end of the connection; returns the last result.
 */

static ngx_int_t
feed(ngx_gateway_http_response_t *hr, u_char *buf, const char *text,
    size_t step, size_t max_size)
{
    size_t     len, total, n, off;
    ngx_int_t  rc;

    hr->max_size = max_size;
    ngx_gateway_http_response_init(hr);

    total = strlen(text);
    len = 0;
    off = 0;
    rc = NGX_AGAIN;

    while (off < total) {
        n = step ? ngx_min(step, total - off) : total - off;

        if (len + n > BUF_SIZE) {
            return NGX_DECLINED;
        }

        ngx_memcpy(buf + len, text + off, n);
        len += n;
        off += n;

        rc = ngx_gateway_http_parse(hr, buf, &len, 0);

        if (rc != NGX_AGAIN) {
            return rc;
        }
    }

    return ngx_gateway_http_parse(hr, buf, &len, 1);
}


static void
test_response_length(void **state)
{
    u_char                       buf[BUF_SIZE];
    size_t                       step;
    ngx_str_t                    name, value;
    ngx_gateway_http_response_t  hr;

    for (step = 0; step < 8; step++) {
        assert_int_equal(feed(&hr, buf,
                              "HTTP/1.1 200 OK\r\n"
                              "Content-Type: application/json\r\n"
                              "Cache-Control: public, max-age=600\r\n"
                              "X-Ttl:  21600 \r\n"
                              "Content-Length: 5\r\n"
                              "\r\n"
                              "{\"a\":1}", step, 1024),
                         NGX_OK);

        assert_int_equal(hr.status, 200);
        assert_int_equal(hr.max_age, 600);
        assert_str(&hr.content_type, "application/json");
        assert_str(&hr.body, "{\"a\":");

        ngx_str_set(&name, "x-ttl");
        assert_int_equal(ngx_gateway_http_header(&hr, &name, &value),
                         NGX_OK);
        assert_str(&value, "21600");

        ngx_str_set(&name, "X-Missing");
        assert_int_equal(ngx_gateway_http_header(&hr, &name, &value),
                         NGX_DECLINED);
    }

    /* an interim response, bare LFs, HTTP/1.0, a body up to the close */

    assert_int_equal(feed(&hr, buf,
                          "HTTP/1.1 100 Continue\r\n\r\n"
                          "HTTP/1.0 404 Not Found\n"
                          "\n"
                          "nope", 3, 1024),
                     NGX_OK);
    assert_int_equal(hr.status, 404);
    assert_int_equal(hr.max_age, -1);
    assert_int_equal(hr.content_type.len, 0);
    assert_str(&hr.body, "nope");

    assert_int_equal(feed(&hr, buf, "HTTP/1.1 204 No Content\r\n\r\n", 0,
                          1024),
                     NGX_OK);
    assert_int_equal(hr.body.len, 0);
}


static void
test_response_chunked(void **state)
{
    u_char                       buf[BUF_SIZE];
    size_t                       step;
    ngx_gateway_http_response_t  hr;

    for (step = 0; step < 12; step++) {
        assert_int_equal(feed(&hr, buf,
                              "HTTP/1.1 200 OK\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "Content-Length: 1000\r\n"
                              "\r\n"
                              "5;ext=1\r\nhello\r\n"
                              "1\r\n \r\n"
                              "A\r\n0123456789\r\n"
                              "0\r\n"
                              "Trailer: x\r\n"
                              "\r\n", step, 1024),
                         NGX_OK);

        assert_str(&hr.body, "hello 0123456789");
    }

    /* a body of exactly max_size, and one byte more */

    assert_int_equal(feed(&hr, buf,
                          "HTTP/1.1 200 OK\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabc\r\n1\r\nd\r\n0\r\n\r\n", 1, 4),
                     NGX_OK);
    assert_str(&hr.body, "abcd");

    assert_int_equal(feed(&hr, buf,
                          "HTTP/1.1 200 OK\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", 1, 4),
                     NGX_DECLINED);
    assert_string_equal(hr.err, "too big");

    /* many tiny chunks fit, as their framing is dropped as it is read */

    {
    char    text[8192], *p;
    size_t  i;

    p = text + sprintf(text, "HTTP/1.1 200 OK\r\n"
                             "Transfer-Encoding: chunked\r\n\r\n");

    for (i = 0; i < 1024; i++) {
        p += sprintf(p, "1\r\nx\r\n");
    }

    sprintf(p, "0\r\n\r\n");

    assert_int_equal(feed(&hr, buf, text, 100, 1024), NGX_OK);
    assert_int_equal(hr.body.len, 1024);
    }

    assert_int_equal(feed(&hr, buf,
                          "HTTP/1.1 200 OK\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"
                          "zz\r\nabc\r\n0\r\n\r\n", 0, 1024),
                     NGX_DECLINED);
    assert_int_equal(feed(&hr, buf,
                          "HTTP/1.1 200 OK\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabcX\r\n0\r\n\r\n", 0, 1024),
                     NGX_DECLINED);
    assert_int_equal(feed(&hr, buf,
                          "HTTP/1.1 200 OK\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"
                          "fffffffffffffffffffff\r\n", 0, 1024),
                     NGX_DECLINED);
    assert_int_equal(feed(&hr, buf,
                          "HTTP/1.1 200 OK\r\n"
                          "Transfer-Encoding: chunked\r\n\r\n"
                          "3\r\nabc\r\n", 0, 1024),
                     NGX_DECLINED);
    assert_string_equal(hr.err, "response cut short in its body");
}


static void
test_response_bad(void **state)
{
    u_char                       buf[BUF_SIZE];
    ngx_gateway_http_response_t  hr;

    assert_int_equal(feed(&hr, buf,
                          "HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n",
                          0, 1024),
                     NGX_DECLINED);
    assert_string_equal(hr.err, "too big");

    assert_int_equal(feed(&hr, buf, "HTTP/1.1 200 OK\r\n\r\n0123456789", 0,
                          9),
                     NGX_DECLINED);
    assert_string_equal(hr.err, "too big");

    assert_int_equal(feed(&hr, buf,
                          "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab",
                          0, 1024),
                     NGX_DECLINED);
    assert_string_equal(hr.err, "response cut short in its body");

    assert_int_equal(feed(&hr, buf, "HTTP/1.1 200 OK\r\nX: y", 0, 1024),
                     NGX_DECLINED);
    assert_int_equal(feed(&hr, buf, "", 0, 1024), NGX_DECLINED);
    assert_int_equal(feed(&hr, buf, "garbage\r\n\r\n", 0, 1024),
                     NGX_DECLINED);
    assert_string_equal(hr.err, "bad status line");
    assert_int_equal(feed(&hr, buf, "HTTP/1.1 999 X\r\n\r\n", 0, 1024),
                     NGX_DECLINED);
    assert_int_equal(feed(&hr, buf, "HTTP/1.1 200 OK\r\nNoColon\r\n\r\n", 0,
                          1024),
                     NGX_DECLINED);
    assert_int_equal(feed(&hr, buf,
                          "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n"
                          "Content-Length: 2\r\n\r\nab", 0, 1024),
                     NGX_DECLINED);
    assert_int_equal(feed(&hr, buf,
                          "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
                          0, 1024),
                     NGX_DECLINED);
    assert_int_equal(feed(&hr, buf,
                          "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                          0, 1024),
                     NGX_DECLINED);

    /* a header that never ends */
    {
    char  text[NGX_GATEWAY_HTTP_MAX_HEADER + 64];

    ngx_memset(text, 'a', sizeof(text) - 1);
    ngx_memcpy(text, "HTTP/1.1 200 OK\r\nX: ", 20);
    text[sizeof(text) - 1] = '\0';

    assert_int_equal(feed(&hr, buf, text, 4096, 1024), NGX_DECLINED);
    assert_string_equal(hr.err, "response header too large");
    }
}


static void
test_max_age(void **state)
{
    ngx_str_t  v;

    ngx_str_set(&v, "public, max-age=300, must-revalidate");
    assert_int_equal(ngx_gateway_http_max_age(&v), 300);
    ngx_str_set(&v, "MAX-AGE=\"42\"");
    assert_int_equal(ngx_gateway_http_max_age(&v), 42);
    ngx_str_set(&v, "max-age=300, no-cache");
    assert_int_equal(ngx_gateway_http_max_age(&v), 0);
    ngx_str_set(&v, "no-store");
    assert_int_equal(ngx_gateway_http_max_age(&v), 0);
    ngx_str_set(&v, "public");
    assert_int_equal(ngx_gateway_http_max_age(&v), -1);
    ngx_str_set(&v, "max-age=abc");
    assert_int_equal(ngx_gateway_http_max_age(&v), -1);
    ngx_str_set(&v, "max-age=99999999999999999999999");
    assert_int_equal(ngx_gateway_http_max_age(&v), -1);
    ngx_str_set(&v, "");
    assert_int_equal(ngx_gateway_http_max_age(&v), -1);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_url),
        cmocka_unit_test(test_request),
        cmocka_unit_test(test_response_length),
        cmocka_unit_test(test_response_chunked),
        cmocka_unit_test(test_response_bad),
        cmocka_unit_test(test_max_age),
    };

    return cmocka_run_group_tests_name("http", tests, setup, teardown);
}
