
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include "ngx_gateway_sigv4.h"


typedef struct {
    ngx_str_t                    name;      /* lower case */
    ngx_gateway_sigv4_header_t  *header;
    ngx_uint_t                   order;     /* as sent */
} ngx_gateway_sigv4_sorted_t;


typedef struct {
    ngx_str_t                    name;      /* encoded */
    ngx_str_t                    value;
} ngx_gateway_sigv4_pair_t;


static u_char *ngx_gateway_sigv4_encode(u_char *dst, u_char *src,
    size_t len, ngx_uint_t slash);
static size_t ngx_gateway_sigv4_decode(u_char *dst, u_char *src,
    size_t len);
static ngx_int_t ngx_gateway_sigv4_cmp_pairs(const void *one,
    const void *two);
static ngx_int_t ngx_gateway_sigv4_cmp_headers(const void *one,
    const void *two);
static u_char *ngx_gateway_sigv4_trim(u_char *dst, ngx_str_t *value);
static ngx_int_t ngx_gateway_sigv4_hmac(u_char *out, u_char *key,
    size_t key_len, u_char *data, size_t len);


static u_char  ngx_gateway_sigv4_hex[] = "0123456789ABCDEF";


/* RFC 3986 unreserved: A-Z a-z 0-9 - . _ ~ */

#define ngx_gateway_sigv4_unreserved(c)                                       \
    (((c) >= 'A' && (c) <= 'Z') || ((c) >= 'a' && (c) <= 'z')                \
     || ((c) >= '0' && (c) <= '9') || (c) == '-' || (c) == '.'               \
     || (c) == '_' || (c) == '~')

#define ngx_gateway_sigv4_space(c)                                            \
    ((c) == ' ' || (c) == '\t' || (c) == '\n' || (c) == '\r'                  \
     || (c) == '\v' || (c) == '\f')


static u_char *
ngx_gateway_sigv4_encode(u_char *dst, u_char *src, size_t len,
    ngx_uint_t slash)
{
    u_char  c;

    while (len--) {
        c = *src++;

        if (ngx_gateway_sigv4_unreserved(c) || (slash && c == '/')) {
            *dst++ = c;
            continue;
        }

        *dst++ = '%';
        *dst++ = ngx_gateway_sigv4_hex[c >> 4];
        *dst++ = ngx_gateway_sigv4_hex[c & 0xf];
    }

    return dst;
}


/*
 * The path: its segments less the empty ones and ".", each ".." taking
 * away the one before; a leading and a trailing "/" stay.  Then encoded.
 */

ngx_int_t
ngx_gateway_sigv4_canonical_uri(ngx_pool_t *pool, ngx_str_t *path,
    ngx_str_t *out)
{
    u_char      *p, *last, *start, *d;
    ngx_str_t   *seg;
    ngx_uint_t   n, i, max;

    if (path->len == 0) {
        ngx_str_set(out, "/");
        return NGX_OK;
    }

    /* at most one segment per two bytes, and one more */

    max = path->len / 2 + 1;

    seg = ngx_palloc(pool, max * sizeof(ngx_str_t));
    if (seg == NULL) {
        return NGX_ERROR;
    }

    n = 0;
    p = path->data;
    last = p + path->len;

    while (p < last) {
        start = p;

        while (p < last && *p != '/') {
            p++;
        }

        if (p - start == 0 || (p - start == 1 && start[0] == '.')) {
            p++;
            continue;
        }

        if (p - start == 2 && start[0] == '.' && start[1] == '.') {
            if (n) {
                n--;
            }

            p++;
            continue;
        }

        seg[n].data = start;
        seg[n].len = p - start;
        n++;
        p++;
    }

    d = ngx_pnalloc(pool, 3 * path->len + 2);
    if (d == NULL) {
        return NGX_ERROR;
    }

    out->data = d;

    if (path->data[0] == '/') {
        *d++ = '/';
    }

    for (i = 0; i < n; i++) {
        if (i) {
            *d++ = '/';
        }

        d = ngx_gateway_sigv4_encode(d, seg[i].data, seg[i].len, 0);
    }

    if (n && path->data[path->len - 1] == '/') {
        *d++ = '/';
    }

    out->len = d - out->data;

    return NGX_OK;
}


/* "+" is a space, "%XY" a byte; a "%" without two hex digits is itself */

static size_t
ngx_gateway_sigv4_decode(u_char *dst, u_char *src, size_t len)
{
    u_char  *d, c, h, l;
    size_t   i;

    d = dst;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c == '+') {
            *d++ = ' ';
            continue;
        }

        if (c == '%' && i + 2 < len) {
            h = src[i + 1] | 0x20;
            l = src[i + 2] | 0x20;

            if (((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f'))
                && ((l >= '0' && l <= '9') || (l >= 'a' && l <= 'f')))
            {
                h = (h <= '9') ? h - '0' : h - 'a' + 10;
                l = (l <= '9') ? l - '0' : l - 'a' + 10;
                *d++ = (u_char) ((h << 4) | l);
                i += 2;
                continue;
            }
        }

        *d++ = c;
    }

    return d - dst;
}


/*
 * Pairs split at "&" (empty ones skipped) and at their first "=", each
 * side decoded and encoded again, sorted by name, then by value.
 */

ngx_int_t
ngx_gateway_sigv4_canonical_query(ngx_pool_t *pool, ngx_str_t *query,
    ngx_str_t *out)
{
    u_char                    *p, *last, *start, *eq, *buf, *d;
    size_t                     len;
    ngx_uint_t                 n, i;
    ngx_gateway_sigv4_pair_t  *pairs;

    ngx_str_set(out, "");

    if (query->len == 0) {
        return NGX_OK;
    }

    n = 1;

    for (p = query->data; p < query->data + query->len; p++) {
        n += (*p == '&');
    }

    pairs = ngx_palloc(pool, n * sizeof(ngx_gateway_sigv4_pair_t));

    /* decoded bytes grow threefold at most when encoded; "=" once */

    buf = ngx_pnalloc(pool, 3 * query->len + n);
    len = query->len + 2 * n;
    d = ngx_pnalloc(pool, len);

    if (pairs == NULL || buf == NULL || d == NULL) {
        return NGX_ERROR;
    }

    n = 0;
    p = query->data;
    last = p + query->len;

    while (p < last) {
        start = p;

        while (p < last && *p != '&') {
            p++;
        }

        if (p == start) {
            p++;
            continue;
        }

        eq = ngx_strlchr(start, p, '=');
        if (eq == NULL) {
            eq = p;
        }

        len = ngx_gateway_sigv4_decode(d, start, eq - start);
        pairs[n].name.data = buf;
        buf = ngx_gateway_sigv4_encode(buf, d, len, 0);
        pairs[n].name.len = buf - pairs[n].name.data;

        if (eq < p) {
            eq++;
        }

        len = ngx_gateway_sigv4_decode(d, eq, p - eq);
        pairs[n].value.data = buf;
        buf = ngx_gateway_sigv4_encode(buf, d, len, 0);
        pairs[n].value.len = buf - pairs[n].value.data;

        n++;
        p++;
    }

    if (n == 0) {
        return NGX_OK;
    }

    ngx_sort(pairs, n, sizeof(ngx_gateway_sigv4_pair_t),
             ngx_gateway_sigv4_cmp_pairs);

    len = 0;

    for (i = 0; i < n; i++) {
        len += pairs[i].name.len + 1 + pairs[i].value.len + 1;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    for (i = 0; i < n; i++) {
        if (i) {
            *p++ = '&';
        }

        p = ngx_cpymem(p, pairs[i].name.data, pairs[i].name.len);
        *p++ = '=';
        p = ngx_cpymem(p, pairs[i].value.data, pairs[i].value.len);
    }

    out->len = p - out->data;

    return NGX_OK;
}


static ngx_int_t
ngx_gateway_sigv4_cmp_pairs(const void *one, const void *two)
{
    ngx_int_t                  rc;
    ngx_gateway_sigv4_pair_t  *a, *b;

    a = (ngx_gateway_sigv4_pair_t *) one;
    b = (ngx_gateway_sigv4_pair_t *) two;

    rc = ngx_memn2cmp(a->name.data, b->name.data, a->name.len, b->name.len);

    if (rc) {
        return rc;
    }

    return ngx_memn2cmp(a->value.data, b->value.data, a->value.len,
                        b->value.len);
}


/*
 * "name:value\n" for every name in order, the values of a repeated name
 * joined by ","; and the names joined by ";".
 */

ngx_int_t
ngx_gateway_sigv4_canonical_headers(ngx_pool_t *pool,
    ngx_gateway_sigv4_header_t *headers, ngx_uint_t n, ngx_str_t *out,
    ngx_str_t *signed_headers)
{
    u_char                      *p, *s;
    size_t                       len, names;
    ngx_uint_t                   i;
    ngx_gateway_sigv4_sorted_t  *sorted;

    sorted = ngx_palloc(pool, (n + 1) * sizeof(ngx_gateway_sigv4_sorted_t));
    if (sorted == NULL) {
        return NGX_ERROR;
    }

    len = 0;
    names = 0;

    for (i = 0; i < n; i++) {
        sorted[i].name.len = headers[i].name.len;
        sorted[i].name.data = ngx_pnalloc(pool, headers[i].name.len);
        if (sorted[i].name.data == NULL) {
            return NGX_ERROR;
        }

        ngx_strlow(sorted[i].name.data, headers[i].name.data,
                   headers[i].name.len);
        sorted[i].header = &headers[i];
        sorted[i].order = i;

        len += headers[i].name.len + 2 + headers[i].value.len;
        names += headers[i].name.len + 1;
    }

    ngx_sort(sorted, n, sizeof(ngx_gateway_sigv4_sorted_t),
             ngx_gateway_sigv4_cmp_headers);

    p = ngx_pnalloc(pool, len);
    s = ngx_pnalloc(pool, names);

    if ((len && p == NULL) || (names && s == NULL)) {
        return NGX_ERROR;
    }

    out->data = p;
    signed_headers->data = s;

    for (i = 0; i < n; i++) {

        if (i && sorted[i].name.len == sorted[i - 1].name.len
            && ngx_strncmp(sorted[i].name.data, sorted[i - 1].name.data,
                           sorted[i].name.len)
               == 0)
        {
            /* "name:one\n" becomes "name:one,two\n" */
            p[-1] = ',';
            p = ngx_gateway_sigv4_trim(p, &sorted[i].header->value);
            *p++ = '\n';
            continue;
        }

        if (i) {
            *s++ = ';';
        }

        s = ngx_cpymem(s, sorted[i].name.data, sorted[i].name.len);

        p = ngx_cpymem(p, sorted[i].name.data, sorted[i].name.len);
        *p++ = ':';
        p = ngx_gateway_sigv4_trim(p, &sorted[i].header->value);
        *p++ = '\n';
    }

    out->len = p - out->data;
    signed_headers->len = s - signed_headers->data;

    return NGX_OK;
}


/* by name; headers of one name as they were sent */

static ngx_int_t
ngx_gateway_sigv4_cmp_headers(const void *one, const void *two)
{
    ngx_int_t                    rc;
    ngx_gateway_sigv4_sorted_t  *a, *b;

    a = (ngx_gateway_sigv4_sorted_t *) one;
    b = (ngx_gateway_sigv4_sorted_t *) two;

    rc = ngx_memn2cmp(a->name.data, b->name.data, a->name.len, b->name.len);

    if (rc) {
        return rc;
    }

    return (a->order > b->order) - (a->order < b->order);
}


/* white space around removed, each run within made one space */

static u_char *
ngx_gateway_sigv4_trim(u_char *dst, ngx_str_t *value)
{
    u_char  *p, *last;
    size_t   pending;

    p = value->data;
    last = p + value->len;
    pending = 0;

    while (p < last && ngx_gateway_sigv4_space(*p)) {
        p++;
    }

    for ( /* void */ ; p < last; p++) {

        if (ngx_gateway_sigv4_space(*p)) {
            pending = 1;
            continue;
        }

        if (pending) {
            *dst++ = ' ';
            pending = 0;
        }

        *dst++ = *p;
    }

    return dst;
}


ngx_int_t
ngx_gateway_sigv4_canonical_request(ngx_pool_t *pool,
    ngx_gateway_sigv4_request_t *req, ngx_str_t *out,
    ngx_str_t *signed_headers)
{
    u_char     *p;
    size_t      len;
    ngx_str_t   uri, query, headers;

    if (ngx_gateway_sigv4_canonical_uri(pool, &req->path, &uri) != NGX_OK
        || ngx_gateway_sigv4_canonical_query(pool, &req->query, &query)
           != NGX_OK
        || ngx_gateway_sigv4_canonical_headers(pool, req->headers,
                                               req->nheaders, &headers,
                                               signed_headers)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    len = req->method.len + 1 + uri.len + 1 + query.len + 1 + headers.len + 1
          + signed_headers->len + 1 + req->payload.len;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    p = ngx_cpymem(p, req->method.data, req->method.len);
    *p++ = '\n';
    p = ngx_cpymem(p, uri.data, uri.len);
    *p++ = '\n';
    p = ngx_cpymem(p, query.data, query.len);
    *p++ = '\n';
    p = ngx_cpymem(p, headers.data, headers.len);
    *p++ = '\n';
    p = ngx_cpymem(p, signed_headers->data, signed_headers->len);
    *p++ = '\n';
    p = ngx_cpymem(p, req->payload.data, req->payload.len);

    out->len = p - out->data;

    return NGX_OK;
}


ngx_int_t
ngx_gateway_sigv4_string_to_sign(ngx_pool_t *pool, u_char *date,
    ngx_str_t *region, ngx_str_t *service, ngx_str_t *creq, ngx_str_t *out)
{
    u_char  *p;
    size_t   len;

    len = sizeof("AWS4-HMAC-SHA256\n") - 1 + NGX_GATEWAY_SIGV4_DATE_LEN + 1
          + 8 + 1 + region->len + 1 + service->len
          + sizeof("/aws4_request\n") - 1 + NGX_GATEWAY_SHA256_HEX_LEN;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    p = ngx_cpymem(p, "AWS4-HMAC-SHA256\n", sizeof("AWS4-HMAC-SHA256\n") - 1);
    p = ngx_cpymem(p, date, NGX_GATEWAY_SIGV4_DATE_LEN);
    *p++ = '\n';
    p = ngx_cpymem(p, date, 8);
    *p++ = '/';
    p = ngx_cpymem(p, region->data, region->len);
    *p++ = '/';
    p = ngx_cpymem(p, service->data, service->len);
    p = ngx_cpymem(p, "/aws4_request\n", sizeof("/aws4_request\n") - 1);

    if (ngx_gateway_sha256_hex(p, creq->data, creq->len) != NGX_OK) {
        return NGX_ERROR;
    }

    out->len = len;

    return NGX_OK;
}


/*
 * kDate = HMAC("AWS4" + secret, date), kRegion = HMAC(kDate, region),
 * kService = HMAC(kRegion, service), key = HMAC(kService, "aws4_request")
 */

u_char *
ngx_gateway_sigv4_signing_key(ngx_gateway_sigv4_key_t *cache,
    ngx_gateway_aws_credentials_t *creds, u_char *date, ngx_str_t *region,
    ngx_str_t *service)
{
    u_char  secret[4 + NGX_GATEWAY_AWS_SECRET_MAX], k[32];
    size_t  len;

    if (cache->valid && cache->generation == creds->generation
        && ngx_memcmp(cache->date, date, 8) == 0)
    {
        return cache->key;
    }

    cache->valid = 0;

    if (creds->secret_key.len > NGX_GATEWAY_AWS_SECRET_MAX) {
        return NULL;
    }

    len = 4 + creds->secret_key.len;

    ngx_memcpy(secret, "AWS4", 4);
    ngx_memcpy(secret + 4, creds->secret_key.data, creds->secret_key.len);

    if (ngx_gateway_sigv4_hmac(k, secret, len, date, 8) != NGX_OK
        || ngx_gateway_sigv4_hmac(k, k, 32, region->data, region->len)
           != NGX_OK
        || ngx_gateway_sigv4_hmac(k, k, 32, service->data, service->len)
           != NGX_OK
        || ngx_gateway_sigv4_hmac(cache->key, k, 32,
                                  (u_char *) "aws4_request", 12)
           != NGX_OK)
    {
        ngx_explicit_memzero(secret, sizeof(secret));
        return NULL;
    }

    ngx_explicit_memzero(secret, sizeof(secret));
    ngx_explicit_memzero(k, sizeof(k));

    ngx_memcpy(cache->date, date, 8);
    cache->generation = creds->generation;
    cache->derived++;
    cache->valid = 1;

    return cache->key;
}


ngx_int_t
ngx_gateway_sigv4_authorization(ngx_pool_t *pool,
    ngx_gateway_sigv4_key_t *cache, ngx_gateway_aws_credentials_t *creds,
    ngx_str_t *region, ngx_str_t *service, u_char *date,
    ngx_gateway_sigv4_request_t *req, ngx_str_t *out)
{
    u_char     *key, *p, mac[32];
    size_t      len;
    ngx_str_t   creq, sts, signed_headers;

    if (ngx_gateway_sigv4_canonical_request(pool, req, &creq,
                                            &signed_headers)
        != NGX_OK
        || ngx_gateway_sigv4_string_to_sign(pool, date, region, service,
                                            &creq, &sts)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    key = ngx_gateway_sigv4_signing_key(cache, creds, date, region, service);
    if (key == NULL) {
        return NGX_ERROR;
    }

    if (ngx_gateway_sigv4_hmac(mac, key, 32, sts.data, sts.len) != NGX_OK) {
        return NGX_ERROR;
    }

    len = sizeof("AWS4-HMAC-SHA256 Credential=") - 1 + creds->access_key.len
          + 1 + 8 + 1 + region->len + 1 + service->len
          + sizeof("/aws4_request, SignedHeaders=") - 1 + signed_headers.len
          + sizeof(", Signature=") - 1 + 64;

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    p = ngx_cpymem(p, "AWS4-HMAC-SHA256 Credential=",
                   sizeof("AWS4-HMAC-SHA256 Credential=") - 1);
    p = ngx_cpymem(p, creds->access_key.data, creds->access_key.len);
    *p++ = '/';
    p = ngx_cpymem(p, date, 8);
    *p++ = '/';
    p = ngx_cpymem(p, region->data, region->len);
    *p++ = '/';
    p = ngx_cpymem(p, service->data, service->len);
    p = ngx_cpymem(p, "/aws4_request, SignedHeaders=",
                   sizeof("/aws4_request, SignedHeaders=") - 1);
    p = ngx_cpymem(p, signed_headers.data, signed_headers.len);
    p = ngx_cpymem(p, ", Signature=", sizeof(", Signature=") - 1);
    p = ngx_hex_dump(p, mac, 32);

    out->len = p - out->data;

    return NGX_OK;
}


ngx_int_t
ngx_gateway_sha256_hex(u_char *hex, u_char *data, size_t len)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  n;

    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        return NGX_ERROR;
    }

    ngx_hex_dump(hex, md, 32);

    return NGX_OK;
}


static ngx_int_t
ngx_gateway_sigv4_hmac(u_char *out, u_char *key, size_t key_len,
    u_char *data, size_t len)
{
    u_char        k[32];
    unsigned int  n;

    /* the output may be the key: HMAC() reads all of it first, but copy */

    if (key_len == 32) {
        ngx_memcpy(k, key, 32);
        key = k;
    }

    n = 0;

    if (HMAC(EVP_sha256(), key, (int) key_len, data, len, out, &n) == NULL
        || n != 32)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_gateway_aws_credentials_file(ngx_str_t *text, ngx_str_t *profile,
    ngx_gateway_aws_credentials_t *creds, ngx_str_t *err)
{
    u_char     *p, *last, *line, *end, *eq, *k, *ke, *v, *ve;
    ngx_str_t  *field, value;
    ngx_uint_t  in, found;

    ngx_str_null(&creds->access_key);
    ngx_str_null(&creds->secret_key);
    ngx_str_null(&creds->session_token);

    in = 0;
    found = 0;
    p = text->data;
    last = p + text->len;

    while (p < last) {
        line = p;

        while (p < last && *p != '\n') {
            p++;
        }

        end = p++;

        while (line < end && ngx_gateway_sigv4_space(*line)) {
            line++;
        }

        while (end > line && ngx_gateway_sigv4_space(end[-1])) {
            end--;
        }

        if (line == end || *line == '#' || *line == ';') {
            continue;
        }

        if (*line == '[') {
            if (end[-1] != ']') {
                ngx_str_set(err, "a section line without \"]\"");
                return NGX_DECLINED;
            }

            k = line + 1;
            ke = end - 1;

            while (k < ke && ngx_gateway_sigv4_space(*k)) {
                k++;
            }

            while (ke > k && ngx_gateway_sigv4_space(ke[-1])) {
                ke--;
            }

            in = ((size_t) (ke - k) == profile->len
                  && ngx_strncmp(k, profile->data, profile->len) == 0);
            found |= in;
            continue;
        }

        eq = ngx_strlchr(line, end, '=');

        if (eq == NULL) {
            ngx_str_set(err, "a line that is neither a section nor "
                             "\"key = value\"");
            return NGX_DECLINED;
        }

        if (!in) {
            continue;
        }

        k = line;
        ke = eq;

        while (ke > k && ngx_gateway_sigv4_space(ke[-1])) {
            ke--;
        }

        v = eq + 1;
        ve = end;

        while (v < ve && ngx_gateway_sigv4_space(*v)) {
            v++;
        }

#define ngx_gateway_sigv4_key_is(s)                                           \
    ((size_t) (ke - k) == sizeof(s) - 1                                       \
     && ngx_strncasecmp(k, (u_char *) s, sizeof(s) - 1) == 0)

        if (ngx_gateway_sigv4_key_is("aws_access_key_id")) {
            field = &creds->access_key;

        } else if (ngx_gateway_sigv4_key_is("aws_secret_access_key")) {
            field = &creds->secret_key;

        } else if (ngx_gateway_sigv4_key_is("aws_session_token")
                   || ngx_gateway_sigv4_key_is("aws_security_token"))
        {
            field = &creds->session_token;

        } else {
            continue;
        }

#undef ngx_gateway_sigv4_key_is

        value.data = v;
        value.len = ve - v;

        if (ngx_gateway_aws_credential_valid(&value) != NGX_OK) {
            ngx_str_set(err, "a key with an empty value, or one with "
                             "spaces or control characters");
            return NGX_DECLINED;
        }

        *field = value;
    }

    if (!found) {
        ngx_str_set(err, "no such profile");
        return NGX_DECLINED;
    }

    if (creds->access_key.len == 0) {
        ngx_str_set(err, "the profile has no aws_access_key_id");
        return NGX_DECLINED;
    }

    if (creds->secret_key.len == 0) {
        ngx_str_set(err, "the profile has no aws_secret_access_key");
        return NGX_DECLINED;
    }

    if (creds->secret_key.len > NGX_GATEWAY_AWS_SECRET_MAX) {
        ngx_str_set(err, "the profile's aws_secret_access_key is too long");
        return NGX_DECLINED;
    }

    return NGX_OK;
}


ngx_int_t
ngx_gateway_aws_credential_valid(ngx_str_t *value)
{
    size_t  i;

    if (value->len == 0 || value->len > 8192) {
        return NGX_DECLINED;
    }

    for (i = 0; i < value->len; i++) {
        if (value->data[i] <= 0x20 || value->data[i] >= 0x7f) {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_gateway_aws_imds_credentials(ngx_pool_t *pool, ngx_str_t *json,
    ngx_gateway_aws_credentials_t *creds, time_t *expires, ngx_str_t *err)
{
    json_t        *root, *v;
    ngx_str_t     *field, value;
    ngx_int_t      rc;
    ngx_uint_t     i;
    json_error_t   error;

    static const char  *names[] = { "AccessKeyId", "SecretAccessKey",
                                    "Token", "Expiration" };

    ngx_memzero(creds, sizeof(ngx_gateway_aws_credentials_t));

    root = json_loadb((const char *) json->data, json->len, 0, &error);

    if (root == NULL || !json_is_object(root)) {
        json_decref(root);
        ngx_str_set(err, "the credentials are not a JSON object");
        return NGX_DECLINED;
    }

    rc = NGX_DECLINED;

    v = json_object_get(root, "Code");

    if (v && (!json_is_string(v)
              || ngx_strcmp(json_string_value(v), "Success") != 0))
    {
        ngx_str_set(err, "the credentials' \"Code\" is not \"Success\"");
        goto done;
    }

    for (i = 0; i < 4; i++) {
        v = json_object_get(root, names[i]);

        if (!json_is_string(v)) {
            ngx_str_set(err, "the credentials lack a member");
            goto done;
        }

        value.data = (u_char *) json_string_value(v);
        value.len = json_string_length(v);

        if (i == 3) {
            if (ngx_gateway_parse_iso8601(value.data, value.len, expires)
                != NGX_OK)
            {
                ngx_str_set(err, "the credentials' \"Expiration\" is not "
                                 "a time");
                goto done;
            }

            break;
        }

        if (ngx_gateway_aws_credential_valid(&value) != NGX_OK
            || (i == 1 && value.len > NGX_GATEWAY_AWS_SECRET_MAX))
        {
            ngx_str_set(err, "the credentials hold a malformed key");
            goto done;
        }

        field = (i == 0) ? &creds->access_key
                         : (i == 1) ? &creds->secret_key
                                    : &creds->session_token;

        field->len = value.len;
        field->data = ngx_pnalloc(pool, value.len);
        if (field->data == NULL) {
            rc = NGX_ERROR;
            goto done;
        }

        ngx_memcpy(field->data, value.data, value.len);
    }

    rc = NGX_OK;

done:

    json_decref(root);

    return rc;
}


ngx_int_t
ngx_gateway_parse_iso8601(u_char *p, size_t len, time_t *t)
{
    size_t      i;
    ngx_int_t   year, month, day, hour, min, sec, days;

    static const char  pattern[] = "dddd-dd-ddTdd:dd:dd";

    if (len < 20) {
        return NGX_DECLINED;
    }

    for (i = 0; i < 19; i++) {
        if (pattern[i] == 'd' ? (p[i] < '0' || p[i] > '9')
                              : p[i] != (u_char) pattern[i])
        {
            return NGX_DECLINED;
        }
    }

    /* fractional seconds, then "Z" */

    i = 19;

    if (p[i] == '.') {
        for (i++; i < len && p[i] >= '0' && p[i] <= '9'; i++) {
            /* void */
        }
    }

    if (i + 1 != len || p[i] != 'Z') {
        return NGX_DECLINED;
    }

    year = ngx_atoi(p, 4);
    month = ngx_atoi(p + 5, 2);
    day = ngx_atoi(p + 8, 2);
    hour = ngx_atoi(p + 11, 2);
    min = ngx_atoi(p + 14, 2);
    sec = ngx_atoi(p + 17, 2);

    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > 31
        || hour > 23 || min > 59 || sec > 60)
    {
        return NGX_DECLINED;
    }

    /* Gauss' formula, as ngx_parse_http_time() has it: month 0 to 11 */

    month--;

    if (--month <= 0) {
        month += 12;
        year -= 1;
    }

    days = 365 * year + year / 4 - year / 100 + year / 400
           + 367 * month / 12 - 30 + day - 1 - 719527 + 31 + 28;

    *t = (time_t) days * 86400 + hour * 3600 + min * 60 + sec;

    return NGX_OK;
}
