
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * libFuzzer harness of the directive value parsers of
 * ngx_gateway_parse.c: every input is given, as one value, to each
 * of them (methods, endpoint, name, rate, rate with burst).  Each value
 * is copied to a buffer of its own size, so that ASan sees any read past
 * it.  Accepted values are checked against what the parser promises,
 * refused ones for an error text.  Invariants are checked with abort().
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ngx_config.h>
#include <ngx_core.h>
#include "nginx_stubs.h"
#include <ngx_http.h>
#include "ngx_gateway_parse.h"


#define FUZZ_KNOWN_METHODS                                                    \
    (NGX_HTTP_GET|NGX_HTTP_HEAD|NGX_HTTP_POST|NGX_HTTP_PUT|NGX_HTTP_DELETE    \
     |NGX_HTTP_MKCOL|NGX_HTTP_COPY|NGX_HTTP_MOVE|NGX_HTTP_OPTIONS             \
     |NGX_HTTP_PROPFIND|NGX_HTTP_PROPPATCH|NGX_HTTP_LOCK|NGX_HTTP_UNLOCK      \
     |NGX_HTTP_PATCH|NGX_HTTP_TRACE)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
fuzz_refused(ngx_str_t *err)
{
    if (err->data == NULL || err->len == 0) {
        abort();
    }
}


/* a decimal number, as the reference of a rate; larger ones are 10^7 */

static ngx_int_t
fuzz_number(u_char *p, size_t len)
{
    size_t     i;
    ngx_int_t  n;

    if (len == 0) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9') {
            return -1;
        }

        n = ngx_min(n * 10 + p[i] - '0', 10000000);
    }

    return n;
}


static void
fuzz_methods(ngx_str_t *value)
{
    u_char      buf[NGX_GATEWAY_METHODS_LEN], *last;
    ngx_str_t   err, text;
    ngx_uint_t  methods, again;

    methods = 0;
    err.data = NULL;
    err.len = 0;

    if (ngx_gateway_parse_methods(value, &methods, &err) != NGX_OK) {
        fuzz_refused(&err);

        /* the error is a text of its own, or the unknown name */

        if (err.data >= value->data
            && err.data <= value->data + value->len
            && err.data + err.len > value->data + value->len)
        {
            abort();
        }

        return;
    }

    if (methods == NGX_GATEWAY_ALL_METHODS) {
        if (value->len != 1 || value->data[0] != '*') {
            abort();
        }

        return;
    }

    if (methods == 0 || (methods & ~(ngx_uint_t) FUZZ_KNOWN_METHODS)
        || ((methods & NGX_HTTP_GET) && !(methods & NGX_HTTP_HEAD)))
    {
        abort();
    }

    /* the text of a mask reads back as the same mask */

    last = ngx_gateway_methods_text(buf, methods);

    if (last <= buf || last > buf + sizeof(buf)) {
        abort();
    }

    text.data = buf;
    text.len = last - buf;

    /* the text is "GET, HEAD": drop the spaces the parser does not take */

    for (again = 0; again < text.len; again++) {
        if (buf[again] == ' ') {
            ngx_memmove(&buf[again], &buf[again + 1], text.len - again - 1);
            text.len--;
        }
    }

    again = 0;

    if (ngx_gateway_parse_methods(&text, &again, &err) != NGX_OK
        || again != methods)
    {
        abort();
    }
}


static void
fuzz_endpoint(ngx_str_t *value)
{
    u_char                       *p;
    ngx_str_t                     err;
    ngx_int_t                     port;
    ngx_gateway_endpoint_t        ep;

    ngx_memzero(&ep, sizeof(ep));
    err.data = NULL;
    err.len = 0;

    if (ngx_gateway_parse_endpoint(value, &ep, &err) != NGX_OK) {
        fuzz_refused(&err);
        return;
    }

    if (ep.scheme.data != value->data
        || ep.scheme.len != (size_t) (ep.ssl ? 8 : 7)
        || ep.authority.data != value->data + ep.scheme.len
        || ep.authority.len == 0
        || ep.path.data != ep.authority.data + ep.authority.len
        || ep.path.data + ep.path.len != value->data + value->len
        || (ep.path.len && ep.path.data[0] != '/')
        || ep.ssl != (value->len > 8
                      && ngx_strncasecmp(value->data, (u_char *) "https://",
                                         8) == 0))
    {
        abort();
    }

    for (p = value->data; p < value->data + value->len; p++) {
        if (*p < 0x21 || *p == 0x7f || *p == '$' || *p == '?' || *p == '#'
            || (*p == '@' && p < ep.path.data))
        {
            abort();
        }
    }

    /* an authority is a host and an optional port in 1-65535 */

    p = ep.authority.data + ep.authority.len;

    while (p > ep.authority.data && p[-1] >= '0' && p[-1] <= '9') {
        p--;
    }

    if (p > ep.authority.data + 1 && p[-1] == ':'
        && p < ep.authority.data + ep.authority.len
        && (ep.authority.data[0] != '[' || p[-2] == ']'))
    {
        port = ngx_atoi(p, ep.authority.data + ep.authority.len - p);

        if (port < 1 || port > 65535) {
            abort();
        }
    }
}


static void
fuzz_name(ngx_str_t *value)
{
    u_char      c;
    size_t      i;
    ngx_str_t   err;
    ngx_uint_t  valid;

    valid = (value->len >= 1 && value->len <= 64);

    for (i = 0; valid && i < value->len; i++) {
        c = value->data[i];
        valid = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                || (c >= '0' && c <= '9') || c == '_' || c == '-'
                || c == '.';
    }

    err.data = NULL;
    err.len = 0;

    if (ngx_gateway_parse_name(value, &err) == NGX_OK) {
        if (!valid) {
            abort();
        }

    } else {
        fuzz_refused(&err);

        if (valid) {
            abort();
        }
    }
}


static void
fuzz_rate(ngx_str_t *value)
{
    ngx_int_t   n, scale;
    ngx_str_t   err;
    ngx_uint_t  rate, expect;

    /* reference: DIGITS "r/s" or DIGITS "r/m", 1 to 1000000 */

    expect = 0;

    if (value->len > 3 && value->data[value->len - 3] == 'r'
        && value->data[value->len - 2] == '/'
        && (value->data[value->len - 1] == 's'
            || value->data[value->len - 1] == 'm'))
    {
        scale = (value->data[value->len - 1] == 's') ? 1 : 60;
        n = fuzz_number(value->data, value->len - 3);

        if (n >= 1 && n <= NGX_GATEWAY_RATE_MAX) {
            expect = (ngx_uint_t) n * 1000 / scale;
        }
    }

    rate = 0;
    err.data = NULL;
    err.len = 0;

    if (ngx_gateway_parse_rate(value, &rate, &err) == NGX_OK) {
        if (expect == 0 || rate != expect) {
            abort();
        }

    } else {
        fuzz_refused(&err);

        if (expect != 0) {
            abort();
        }
    }
}


static void
fuzz_rate_limit(ngx_str_t *value)
{
    u_char      *p, *last;
    ngx_str_t    err, word;
    ngx_uint_t   rate, burst, first, words;

    rate = 0;
    burst = 0;
    err.data = NULL;
    err.len = 0;

    if (ngx_gateway_parse_rate_limit(value, &rate, &burst, &err)
        != NGX_OK)
    {
        fuzz_refused(&err);
        return;
    }

    if (rate == 0 || rate > NGX_GATEWAY_RATE_MAX * 1000
        || burst > NGX_GATEWAY_RATE_MAX)
    {
        abort();
    }

    /* one or two words; the first a rate that parses alone */

    p = value->data;
    last = p + value->len;
    words = 0;

    while (p < last) {
        if (*p == ' ') {
            p++;
            continue;
        }

        word.data = p;

        while (p < last && *p != ' ') {
            p++;
        }

        word.len = p - word.data;

        if (words++ == 0) {
            if (ngx_gateway_parse_rate(&word, &first, &err) != NGX_OK
                || first != rate)
            {
                abort();
            }

        } else if (word.len <= 6
                   || ngx_strncmp(word.data, "burst=", 6) != 0)
        {
            abort();
        }
    }

    if (words == 0 || words > 2 || (words == 1 && burst != 0)) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ngx_str_t    value;
    ngx_pool_t  *pool;

    pool = ngx_create_pool(1024, &nginx_stub_log);
    if (pool == NULL) {
        abort();
    }

    /* a buffer of the value's own size: ASan sees a read past it */

    value.len = size;
    value.data = ngx_pnalloc(pool, size ? size : 1);
    if (value.data == NULL) {
        abort();
    }

    ngx_memcpy(value.data, data, size);

    fuzz_methods(&value);
    fuzz_endpoint(&value);
    fuzz_name(&value);
    fuzz_rate(&value);
    fuzz_rate_limit(&value);

    ngx_destroy_pool(pool);

    return 0;
}
