
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gateway_parse.h"


typedef struct {
    ngx_str_t                  name;
    ngx_uint_t                 method;
} ngx_gateway_method_name_t;


static ngx_gateway_method_name_t  ngx_gateway_method_names[] = {
    { ngx_string("GET"), NGX_HTTP_GET },
    { ngx_string("HEAD"), NGX_HTTP_HEAD },
    { ngx_string("POST"), NGX_HTTP_POST },
    { ngx_string("PUT"), NGX_HTTP_PUT },
    { ngx_string("DELETE"), NGX_HTTP_DELETE },
    { ngx_string("MKCOL"), NGX_HTTP_MKCOL },
    { ngx_string("COPY"), NGX_HTTP_COPY },
    { ngx_string("MOVE"), NGX_HTTP_MOVE },
    { ngx_string("OPTIONS"), NGX_HTTP_OPTIONS },
    { ngx_string("PROPFIND"), NGX_HTTP_PROPFIND },
    { ngx_string("PROPPATCH"), NGX_HTTP_PROPPATCH },
    { ngx_string("LOCK"), NGX_HTTP_LOCK },
    { ngx_string("UNLOCK"), NGX_HTTP_UNLOCK },
    { ngx_string("PATCH"), NGX_HTTP_PATCH },
    { ngx_string("TRACE"), NGX_HTTP_TRACE },
    { ngx_null_string, 0 }
};


/*
 * "*" or a comma-separated list of method names, as clients send them
 * (upper case).  GET admits HEAD as well, as in "limit_except".
 */

ngx_int_t
ngx_gateway_parse_methods(ngx_str_t *value, ngx_uint_t *methods,
    ngx_str_t *err)
{
    u_char                          *p, *last, *start;
    size_t                           len;
    ngx_uint_t                       found;
    ngx_gateway_method_name_t       *m;

    if (value->len == 1 && value->data[0] == '*') {
        *methods = NGX_GATEWAY_ALL_METHODS;
        return NGX_OK;
    }

    *methods = 0;
    p = value->data;
    last = p + value->len;

    for ( ;; ) {
        start = p;

        while (p < last && *p != ',') {
            p++;
        }

        len = p - start;
        found = 0;

        for (m = ngx_gateway_method_names; m->name.len; m++) {
            if (m->name.len == len
                && ngx_strncmp(m->name.data, start, len) == 0)
            {
                *methods |= m->method;
                found = 1;
                break;
            }
        }

        if (!found) {
            if (len == 0) {
                ngx_str_set(err, "empty method name");

            } else {
                err->data = start;
                err->len = len;
            }

            return NGX_DECLINED;
        }

        if (p == last) {
            break;
        }

        p++;
    }

    if (*methods & NGX_HTTP_GET) {
        *methods |= NGX_HTTP_HEAD;
    }

    return NGX_OK;
}


u_char *
ngx_gateway_methods_text(u_char *buf, ngx_uint_t methods)
{
    u_char                          *p;
    ngx_gateway_method_name_t       *m;

    p = buf;

    for (m = ngx_gateway_method_names; m->name.len; m++) {
        if (!(methods & m->method)) {
            continue;
        }

        if (p != buf) {
            *p++ = ',';
            *p++ = ' ';
        }

        p = ngx_cpymem(p, m->name.data, m->name.len);
    }

    return p;
}


/*
 * "http://host[:port][/path]" or https; the host names an upstream{}
 * block or an address.  Variables, credentials, queries and fragments
 * have no place in an endpoint.
 */

ngx_int_t
ngx_gateway_parse_endpoint(ngx_str_t *url,
    ngx_gateway_endpoint_t *endpoint, ngx_str_t *err)
{
    u_char      *p, *last, *host, *colon;
    ngx_int_t    port;

    p = url->data;
    last = p + url->len;

    if (url->len > 7 && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0) {
        endpoint->ssl = 0;
        endpoint->scheme.len = 7;

    } else if (url->len > 8
               && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0)
    {
        endpoint->ssl = 1;
        endpoint->scheme.len = 8;

    } else {
        ngx_str_set(err, "an endpoint starts with \"http://\" or "
                         "\"https://\" and names a host");
        return NGX_DECLINED;
    }

    endpoint->scheme.data = p;

    for (p = url->data; p < last; p++) {
        if (*p < 0x21 || *p == 0x7f) {
            ngx_str_set(err, "an endpoint has no spaces or control "
                             "characters");
            return NGX_DECLINED;
        }

        switch (*p) {
        case '$':
            ngx_str_set(err, "an endpoint is fixed: variables are not "
                             "allowed");
            return NGX_DECLINED;

        case '?':
        case '#':
            ngx_str_set(err, "an endpoint has no query string or "
                             "fragment");
            return NGX_DECLINED;
        }
    }

    host = url->data + endpoint->scheme.len;

    p = ngx_strlchr(host, last, '/');
    if (p == NULL) {
        p = last;
    }

    endpoint->authority.data = host;
    endpoint->authority.len = p - host;
    endpoint->path.data = p;
    endpoint->path.len = last - p;

    if (ngx_strlchr(host, p, '@') != NULL) {
        ngx_str_set(err, "an endpoint has no user name or password");
        return NGX_DECLINED;
    }

    last = p;

    if (*host == '[') {
        p = ngx_strlchr(host, last, ']');
        if (p == NULL || p == host + 1) {
            ngx_str_set(err, "invalid IPv6 address");
            return NGX_DECLINED;
        }

        colon = (p + 1 < last) ? p + 1 : NULL;

        if (colon && *colon != ':') {
            ngx_str_set(err, "invalid IPv6 address");
            return NGX_DECLINED;
        }

    } else {
        colon = ngx_strlchr(host, last, ':');

        if (colon == host || host == last) {
            ngx_str_set(err, "an endpoint names a host");
            return NGX_DECLINED;
        }
    }

    if (colon) {
        port = ngx_atoi(colon + 1, last - colon - 1);

        if (port < 1 || port > 65535) {
            ngx_str_set(err, "invalid port");
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


/*
 * Service names appear in logs, headers, JSON and metric labels:
 * letters, digits, "_", "-" and ".", at most 64 of them.
 */

ngx_int_t
ngx_gateway_parse_name(ngx_str_t *name, ngx_str_t *err)
{
    u_char  *p, *last;

    if (name->len == 0 || name->len > 64) {
        ngx_str_set(err, "a name has 1 to 64 characters");
        return NGX_DECLINED;
    }

    last = name->data + name->len;

    for (p = name->data; p < last; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'
            || *p == '.')
        {
            continue;
        }

        ngx_str_set(err, "a name is letters, digits, \"_\", \"-\" and "
                         "\".\"");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* "100r/s" or "600r/m", as limit_req_zone writes rates */

ngx_int_t
ngx_gateway_parse_rate(ngx_str_t *value, ngx_uint_t *rate,
    ngx_str_t *err)
{
    size_t     len;
    ngx_int_t  n, scale;

    len = value->len;

    if (len > 3 && ngx_strncmp(value->data + len - 3, "r/s", 3) == 0) {
        scale = 1;

    } else if (len > 3
               && ngx_strncmp(value->data + len - 3, "r/m", 3) == 0)
    {
        scale = 60;

    } else {
        ngx_str_set(err, "a rate is a number of requests and \"r/s\" or "
                         "\"r/m\"");
        return NGX_DECLINED;
    }

    n = ngx_atoi(value->data, len - 3);

    if (n <= 0 || n > NGX_GATEWAY_RATE_MAX) {
        ngx_str_set(err, "a rate is 1 to 1000000 requests a second or a "
                         "minute");
        return NGX_DECLINED;
    }

    *rate = (ngx_uint_t) n * 1000 / scale;

    if (*rate == 0) {
        ngx_str_set(err, "a rate is at least 1r/m");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* "RATE [burst=N]": a consumer's own limit in the consumers file */

ngx_int_t
ngx_gateway_parse_rate_limit(ngx_str_t *value, ngx_uint_t *rate,
    ngx_uint_t *burst, ngx_str_t *err)
{
    u_char     *p, *last, *start;
    ngx_int_t   n;
    ngx_str_t   word;
    ngx_uint_t  words;

    *burst = 0;
    words = 0;

    p = value->data;
    last = p + value->len;

    while (p < last) {

        if (*p == ' ') {
            p++;
            continue;
        }

        start = p;

        while (p < last && *p != ' ') {
            p++;
        }

        word.data = start;
        word.len = p - start;

        if (words++ == 0) {
            if (ngx_gateway_parse_rate(&word, rate, err) != NGX_OK) {
                return NGX_DECLINED;
            }

            continue;
        }

        if (word.len > 6 && ngx_strncmp(word.data, "burst=", 6) == 0
            && words == 2)
        {
            n = ngx_atoi(word.data + 6, word.len - 6);

            if (n == NGX_ERROR || n > NGX_GATEWAY_RATE_MAX) {
                ngx_str_set(err, "burst is 0 to 1000000");
                return NGX_DECLINED;
            }

            *burst = n;
            continue;
        }

        ngx_str_set(err, "expected a rate and an optional \"burst=N\"");
        return NGX_DECLINED;
    }

    if (words == 0) {
        ngx_str_set(err, "empty rate");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_uint_t
ngx_gateway_hash_size(ngx_uint_t n)
{
    ngx_uint_t  size;

    for (size = 8; size < 2 * n; size <<= 1) { /* void */ }

    return size;
}
