
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gateway_http.h"


typedef enum {
    ngx_gateway_http_st_header = 0,
    ngx_gateway_http_st_body,
    ngx_gateway_http_st_chunk_size,
    ngx_gateway_http_st_chunk_data,
    ngx_gateway_http_st_chunk_crlf,
    ngx_gateway_http_st_trailer,
    ngx_gateway_http_st_done
} ngx_gateway_http_state_e;


#define ngx_gateway_http_digit(c)  ((c) >= '0' && (c) <= '9')
#define ngx_gateway_http_alnum(c)                                            \
    (ngx_gateway_http_digit(c)                                               \
     || (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'z'))
#define ngx_gateway_http_xdigit(c)                                           \
    (ngx_gateway_http_digit(c)                                               \
     || (((c) | 0x20) >= 'a' && ((c) | 0x20) <= 'f'))


static ngx_uint_t ngx_gateway_http_ipv4(u_char *p, size_t len);
static ngx_uint_t ngx_gateway_http_token(ngx_str_t *s);
static ngx_uint_t ngx_gateway_http_value_ok(ngx_str_t *s);
static ngx_int_t ngx_gateway_http_parse_header(
    ngx_gateway_http_response_t *hr, u_char *buf, size_t len);
static ngx_int_t ngx_gateway_http_status_line(ngx_gateway_http_response_t *hr,
    u_char *p, u_char *last);
static ngx_int_t ngx_gateway_http_header_line(ngx_gateway_http_response_t *hr,
    u_char *p, u_char *last);
static ngx_int_t ngx_gateway_http_chunks(ngx_gateway_http_response_t *hr,
    u_char *buf, size_t *len, ngx_uint_t eof);
static u_char *ngx_gateway_http_line(u_char *p, u_char *last);
static void ngx_gateway_http_trim(ngx_str_t *s);


ngx_int_t
ngx_gateway_url_parse(ngx_str_t *url, ngx_gateway_url_t *u, char **err)
{
    u_char      *p, *last, *host, *host_end, *port;
    size_t       i;
    ngx_int_t    n;

    ngx_memzero(u, sizeof(ngx_gateway_url_t));

    for (i = 0; i < url->len; i++) {
        if (url->data[i] <= ' ' || url->data[i] >= 0x7f) {
            *err = "spaces, control bytes and non-ASCII bytes are not "
                   "allowed";
            return NGX_DECLINED;
        }

        if (url->data[i] == '#') {
            *err = "a fragment (\"#\") is not allowed";
            return NGX_DECLINED;
        }

        /* not in a URL (RFC 3986), and they would break status labels */

        if (url->data[i] == '"' || url->data[i] == '\\') {
            *err = "quotes and backslashes are not allowed "
                   "(percent-encode them)";
            return NGX_DECLINED;
        }
    }

    p = url->data;
    last = p + url->len;

    if (url->len > 7 && ngx_strncasecmp(p, (u_char *) "http://", 7) == 0) {
        p += 7;
        u->port = 80;

    } else if (url->len > 8
               && ngx_strncasecmp(p, (u_char *) "https://", 8) == 0)
    {
        p += 8;
        u->port = 443;
        u->ssl = 1;

    } else {
        *err = "the URL must start with \"http://\" or \"https://\"";
        return NGX_DECLINED;
    }

    u->authority.data = p;

    while (p < last && *p != '/' && *p != '?') {
        if (*p == '@') {
            *err = "user information (\"user@\") is not allowed";
            return NGX_DECLINED;
        }

        p++;
    }

    u->authority.len = p - u->authority.data;

    host = u->authority.data;
    last = host + u->authority.len;
    port = NULL;

    if (host < last && *host == '[') {
        host_end = ngx_strlchr(host, last, ']');

        if (host_end == NULL || host_end == host + 1) {
            *err = "invalid IPv6 address";
            return NGX_DECLINED;
        }

        for (p = host + 1; p < host_end; p++) {
            if (!(ngx_gateway_http_xdigit(*p) || *p == ':' || *p == '.')) {
                *err = "invalid IPv6 address";
                return NGX_DECLINED;
            }
        }

        u->host.data = host + 1;
        u->host.len = host_end - host - 1;
        u->ip = 1;

        p = host_end + 1;

        if (p < last) {
            if (*p != ':') {
                *err = "invalid host";
                return NGX_DECLINED;
            }

            port = p + 1;
        }

    } else {
        host_end = ngx_strlchr(host, last, ':');

        if (host_end == NULL) {
            host_end = last;

        } else {
            port = host_end + 1;
        }

        for (p = host; p < host_end; p++) {
            if (!(ngx_gateway_http_alnum(*p)
                  || *p == '-' || *p == '.' || *p == '_'))
            {
                *err = "invalid host";
                return NGX_DECLINED;
            }
        }

        u->host.data = host;
        u->host.len = host_end - host;
        u->ip = ngx_gateway_http_ipv4(host, u->host.len);
    }

    if (u->host.len == 0) {
        *err = "no host";
        return NGX_DECLINED;
    }

    if (port) {
        n = ngx_atoi(port, last - port);

        if (n < 1 || n > 65535) {
            *err = "invalid port";
            return NGX_DECLINED;
        }

        u->port = (in_port_t) n;
    }

    p = u->authority.data + u->authority.len;
    last = url->data + url->len;

    if (p == last) {
        ngx_str_set(&u->uri, "/");

    } else if (*p == '?') {
        *err = "a query must follow a path (\"/?...\")";
        return NGX_DECLINED;

    } else {
        u->uri.data = p;
        u->uri.len = last - p;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_gateway_http_ipv4(u_char *p, size_t len)
{
    u_char      *last;
    ngx_uint_t   octets, digits, value;

    last = p + len;
    octets = 0;
    digits = 0;
    value = 0;

    for ( /* void */ ; p <= last; p++) {

        if (p == last || *p == '.') {
            if (digits == 0 || value > 255) {
                return 0;
            }

            octets++;
            digits = 0;
            value = 0;
            continue;
        }

        if (*p < '0' || *p > '9' || ++digits > 3) {
            return 0;
        }

        value = value * 10 + (*p - '0');
    }

    return octets == 4;
}


ngx_int_t
ngx_gateway_http_request(ngx_pool_t *pool, ngx_str_t *method,
    ngx_gateway_url_t *u, ngx_keyval_t *headers, ngx_uint_t nheaders,
    ngx_str_t *body, ngx_str_t *out, char **err)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i, with_length;

    if (!ngx_gateway_http_token(method)) {
        *err = "invalid method";
        return NGX_DECLINED;
    }

    with_length = (body && body->len)
                  || (method->len == 4
                      && ngx_strncmp(method->data, "POST", 4) == 0)
                  || (method->len == 3
                      && ngx_strncmp(method->data, "PUT", 3) == 0);

    len = method->len + 1 + u->uri.len + sizeof(" HTTP/1.1" CRLF) - 1
          + sizeof("Host: " CRLF) - 1 + u->authority.len
          + sizeof("Connection: close" CRLF) - 1
          + sizeof(CRLF) - 1;

    if (with_length) {
        len += sizeof("Content-Length: " CRLF) - 1 + NGX_SIZE_T_LEN;
    }

    for (i = 0; i < nheaders; i++) {
        if (!ngx_gateway_http_token(&headers[i].key)
            || !ngx_gateway_http_value_ok(&headers[i].value))
        {
            *err = "invalid request header";
            return NGX_DECLINED;
        }

        len += headers[i].key.len + sizeof(": " CRLF) - 1
               + headers[i].value.len;
    }

    if (body) {
        len += body->len;
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    out->data = p;

    p = ngx_sprintf(p, "%V %V HTTP/1.1" CRLF "Host: %V" CRLF
                    "Connection: close" CRLF,
                    method, &u->uri, &u->authority);

    for (i = 0; i < nheaders; i++) {
        p = ngx_sprintf(p, "%V: %V" CRLF,
                        &headers[i].key, &headers[i].value);
    }

    if (with_length) {
        p = ngx_sprintf(p, "Content-Length: %uz" CRLF,
                        body ? body->len : 0);
    }

    *p++ = CR; *p++ = LF;

    if (body && body->len) {
        p = ngx_cpymem(p, body->data, body->len);
    }

    out->len = p - out->data;

    return NGX_OK;
}


/* RFC 9110 token: tchar = "!#$%&'*+-.^_`|~" / DIGIT / ALPHA */

static ngx_uint_t
ngx_gateway_http_token(ngx_str_t *s)
{
    static u_char  tchar[] = "!#$%&'*+-.^_`|~";

    u_char      c;
    ngx_uint_t  i;

    if (s->len == 0) {
        return 0;
    }

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if (ngx_gateway_http_alnum(c)
            || ngx_strlchr(tchar, tchar + sizeof(tchar) - 1, c) != NULL)
        {
            continue;
        }

        return 0;
    }

    return 1;
}


static ngx_uint_t
ngx_gateway_http_value_ok(ngx_str_t *s)
{
    ngx_uint_t  i;

    for (i = 0; i < s->len; i++) {
        if ((s->data[i] < ' ' && s->data[i] != '\t') || s->data[i] == 0x7f) {
            return 0;
        }
    }

    return 1;
}


void
ngx_gateway_http_response_init(ngx_gateway_http_response_t *hr)
{
    size_t  max_size;

    max_size = hr->max_size;

    ngx_memzero(hr, sizeof(ngx_gateway_http_response_t));

    hr->max_size = max_size;
    hr->max_age = -1;
    hr->content_length = -1;
}


ngx_int_t
ngx_gateway_http_parse(ngx_gateway_http_response_t *hr, u_char *buf,
    size_t *len, ngx_uint_t eof)
{
    ngx_int_t  rc;

    if (hr->state == ngx_gateway_http_st_done) {
        return NGX_OK;
    }

    if (hr->state == ngx_gateway_http_st_header) {
        rc = ngx_gateway_http_parse_header(hr, buf, *len);

        if (rc == NGX_AGAIN) {
            if (eof) {
                hr->err = "response cut short in its header";
                return NGX_DECLINED;
            }

            return NGX_AGAIN;
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (hr->state == ngx_gateway_http_st_body) {

        if (hr->content_length >= 0) {
            if ((off_t) (*len - hr->body_start) >= hr->content_length) {
                *len = hr->body_start + hr->content_length;
                goto done;
            }

            if (eof) {
                hr->err = "response cut short in its body";
                return NGX_DECLINED;
            }

            return NGX_AGAIN;
        }

        /* delimited by the end of the connection */

        if (*len - hr->body_start > hr->max_size) {
            hr->err = "too big";
            return NGX_DECLINED;
        }

        if (eof) {
            goto done;
        }

        return NGX_AGAIN;
    }

    rc = ngx_gateway_http_chunks(hr, buf, len, eof);

    if (rc != NGX_OK) {
        return rc;
    }

done:

    hr->state = ngx_gateway_http_st_done;
    hr->body.data = buf + hr->body_start;
    hr->body.len = *len - hr->body_start;

    if (hr->body.len > hr->max_size) {
        hr->err = "too big";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/*
 * The status line and the headers, once all have arrived; an interim
 * response (1xx) is dropped from the buffer and the next one read.
 */

static ngx_int_t
ngx_gateway_http_parse_header(ngx_gateway_http_response_t *hr, u_char *buf,
    size_t len)
{
    u_char     *p, *last, *line, *end;
    ngx_str_t   name, value;

    for ( ;; ) {
        p = buf + hr->body_start;
        last = buf + len;

        /* the end of the header: an empty line, CRLF or a bare LF */

        end = NULL;

        for (line = p; line < last; line++) {
            line = ngx_strlchr(line, last, LF);

            if (line == NULL) {
                break;
            }

            if (line + 1 < last && line[1] == LF) {
                end = line + 2;
                break;
            }

            if (line + 2 < last && line[1] == CR && line[2] == LF) {
                end = line + 3;
                break;
            }
        }

        if (end == NULL) {
            if (len - hr->body_start >= NGX_GATEWAY_HTTP_MAX_HEADER) {
                hr->err = "response header too large";
                return NGX_DECLINED;
            }

            return NGX_AGAIN;
        }

        if (end - p > NGX_GATEWAY_HTTP_MAX_HEADER) {
            hr->err = "response header too large";
            return NGX_DECLINED;
        }

        line = ngx_gateway_http_line(p, end);

        if (ngx_gateway_http_status_line(hr, p, line) != NGX_OK) {
            return NGX_DECLINED;
        }

        if (hr->status >= 100 && hr->status < 200) {
            hr->body_start = end - buf;
            continue;
        }

        hr->headers.data = line;
        hr->headers.len = end - line;

        for (p = line; p < end; p = line) {
            line = ngx_gateway_http_line(p, end);

            if (line - p <= 2 && (*p == CR || *p == LF)) {
                break;
            }

            if (ngx_gateway_http_header_line(hr, p, line) != NGX_OK) {
                return NGX_DECLINED;
            }
        }

        break;
    }

    hr->body_start = end - buf;
    hr->pos = hr->body_start;

    ngx_str_set(&name, "Content-Type");

    if (ngx_gateway_http_header(hr, &name, &value) == NGX_OK) {
        hr->content_type = value;
    }

    if (hr->status == 204 || hr->status == 304) {
        hr->chunked = 0;
        hr->content_length = 0;
    }

    if (hr->content_length > (off_t) hr->max_size) {
        hr->err = "too big";
        return NGX_DECLINED;
    }

    hr->state = hr->chunked ? ngx_gateway_http_st_chunk_size
                            : ngx_gateway_http_st_body;

    return NGX_OK;
}


/* "HTTP/1.x NNN reason" */

static ngx_int_t
ngx_gateway_http_status_line(ngx_gateway_http_response_t *hr, u_char *p,
    u_char *last)
{
    if (last - p < 14
        || ngx_strncmp(p, "HTTP/1.", 7) != 0
        || (p[7] != '0' && p[7] != '1')
        || p[8] != ' '
        || p[9] < '1' || p[9] > '5'
        || p[10] < '0' || p[10] > '9'
        || p[11] < '0' || p[11] > '9'
        || (p[12] != ' ' && p[12] != CR && p[12] != LF))
    {
        hr->err = "bad status line";
        return NGX_ERROR;
    }

    hr->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');

    return NGX_OK;
}


/* a header the client itself needs: the body's length, chunks, caching */

static ngx_int_t
ngx_gateway_http_header_line(ngx_gateway_http_response_t *hr, u_char *p,
    u_char *last)
{
    u_char     *colon;
    off_t       n;
    ngx_str_t   name, value;

    colon = ngx_strlchr(p, last, ':');

    if (colon == NULL) {
        hr->err = "bad header line";
        return NGX_ERROR;
    }

    name.data = p;
    name.len = colon - p;

    if (!ngx_gateway_http_token(&name)) {
        hr->err = "bad header line";
        return NGX_ERROR;
    }

    value.data = colon + 1;
    value.len = last - value.data;
    ngx_gateway_http_trim(&value);

    if (name.len == 14
        && ngx_strncasecmp(name.data, (u_char *) "Content-Length", 14) == 0)
    {
        n = ngx_atoof(value.data, value.len);

        if (n < 0 || (hr->content_length >= 0 && hr->content_length != n)) {
            hr->err = "bad Content-Length";
            return NGX_ERROR;
        }

        hr->content_length = n;

    } else if (name.len == 17
               && ngx_strncasecmp(name.data, (u_char *) "Transfer-Encoding",
                                  17)
                  == 0)
    {
        if (value.len != 7
            || ngx_strncasecmp(value.data, (u_char *) "chunked", 7) != 0)
        {
            hr->err = "unsupported Transfer-Encoding";
            return NGX_ERROR;
        }

        hr->chunked = 1;

    } else if (name.len == 13
               && ngx_strncasecmp(name.data, (u_char *) "Cache-Control", 13)
                  == 0)
    {
        n = ngx_gateway_http_max_age(&value);

        if (n >= 0 && (hr->max_age < 0 || n < hr->max_age)) {
            hr->max_age = n;
        }
    }

    if (hr->chunked) {
        /* RFC 9112 6.3: chunked overrides any Content-Length */
        hr->content_length = -1;
    }

    return NGX_OK;
}


/*
 * The chunks decoded in place: data goes to buf + hr->pos once its
 * framing is read, and what is not parsed is moved behind the data.
 * hr->pos is where the decoded body ends; "in" where parsing is.
 */

static ngx_int_t
ngx_gateway_http_chunks(ngx_gateway_http_response_t *hr, u_char *buf,
    size_t *len, ngx_uint_t eof)
{
    u_char  *in, *last, *line, *p;
    off_t    n;
    size_t   size;

    in = buf + hr->pos;
    last = buf + *len;

    for ( ;; ) {

        switch (hr->state) {

        case ngx_gateway_http_st_chunk_size:

            line = ngx_strlchr(in, last, LF);

            if (line == NULL) {
                if (last - in > NGX_GATEWAY_HTTP_MAX_CHUNK_LINE) {
                    hr->err = "bad chunk";
                    return NGX_DECLINED;
                }

                goto again;
            }

            n = 0;

            for (p = in; p < line && ngx_gateway_http_xdigit(*p); p++) {
                if (n > (NGX_MAX_OFF_T_VALUE >> 4)) {
                    hr->err = "bad chunk";
                    return NGX_DECLINED;
                }

                n = n * 16 + ((*p <= '9') ? *p - '0' : (*p | 0x20) - 'a' + 10);
            }

            if (p == in || (p < line && *p != ';' && *p != CR
                            && *p != ' ' && *p != '\t'))
            {
                hr->err = "bad chunk";
                return NGX_DECLINED;
            }

            in = line + 1;

            if (n == 0) {
                hr->state = ngx_gateway_http_st_trailer;
                break;
            }

            if (n > (off_t) (hr->max_size - (hr->pos - hr->body_start))) {
                hr->err = "too big";
                return NGX_DECLINED;
            }

            hr->chunk = n;
            hr->state = ngx_gateway_http_st_chunk_data;
            break;

        case ngx_gateway_http_st_chunk_data:

            size = ngx_min((off_t) (last - in), hr->chunk);

            if (size == 0) {
                goto again;
            }

            ngx_memmove(buf + hr->pos, in, size);
            hr->pos += size;
            in += size;
            hr->chunk -= size;

            if (hr->chunk == 0) {
                hr->state = ngx_gateway_http_st_chunk_crlf;
            }

            break;

        case ngx_gateway_http_st_chunk_crlf:

            if (in == last) {
                goto again;
            }

            if (*in == CR) {
                if (last - in < 2) {
                    goto again;
                }

                in++;
            }

            if (*in != LF) {
                hr->err = "bad chunk";
                return NGX_DECLINED;
            }

            in++;
            hr->state = ngx_gateway_http_st_chunk_size;
            break;

        default: /* ngx_gateway_http_st_trailer */

            line = ngx_strlchr(in, last, LF);

            if (line == NULL) {
                if (last - in > NGX_GATEWAY_HTTP_MAX_CHUNK_LINE) {
                    hr->err = "bad chunk";
                    return NGX_DECLINED;
                }

                goto again;
            }

            p = in;
            in = line + 1;

            if (line == p || (line == p + 1 && *p == CR)) {
                *len = hr->pos;
                return NGX_OK;
            }

            break;
        }
    }

again:

    /* the unparsed rest behind the decoded body */

    size = last - in;
    ngx_memmove(buf + hr->pos, in, size);
    *len = hr->pos + size;

    if (eof) {
        hr->err = "response cut short in its body";
        return NGX_DECLINED;
    }

    return NGX_AGAIN;
}


ngx_int_t
ngx_gateway_http_header(ngx_gateway_http_response_t *hr, ngx_str_t *name,
    ngx_str_t *value)
{
    u_char  *p, *last, *line, *colon;

    p = hr->headers.data;
    last = p + hr->headers.len;

    for ( /* void */ ; p < last; p = line) {
        line = ngx_gateway_http_line(p, last);
        colon = ngx_strlchr(p, line, ':');

        if (colon == NULL || (size_t) (colon - p) != name->len
            || ngx_strncasecmp(p, name->data, name->len) != 0)
        {
            continue;
        }

        value->data = colon + 1;
        value->len = line - value->data;
        ngx_gateway_http_trim(value);

        return NGX_OK;
    }

    return NGX_DECLINED;
}


time_t
ngx_gateway_http_max_age(ngx_str_t *value)
{
    u_char     *p, *last, *end;
    time_t      age;
    ngx_str_t   d;

    p = value->data;
    last = p + value->len;
    age = -1;

    while (p < last) {
        end = ngx_strlchr(p, last, ',');

        if (end == NULL) {
            end = last;
        }

        d.data = p;
        d.len = end - p;
        ngx_gateway_http_trim(&d);

        p = end + 1;

        if ((d.len == 8
             && ngx_strncasecmp(d.data, (u_char *) "no-store", 8) == 0)
            || (d.len == 8
                && ngx_strncasecmp(d.data, (u_char *) "no-cache", 8) == 0))
        {
            return 0;
        }

        if (d.len > 8
            && ngx_strncasecmp(d.data, (u_char *) "max-age=", 8) == 0)
        {
            d.data += 8;
            d.len -= 8;

            if (d.len > 2 && d.data[0] == '"' && d.data[d.len - 1] == '"') {
                d.data++;
                d.len -= 2;
            }

            age = ngx_atotm(d.data, d.len);
        }
    }

    return age;
}


/* the next line: after the LF ending this one, or last */

static u_char *
ngx_gateway_http_line(u_char *p, u_char *last)
{
    p = ngx_strlchr(p, last, LF);

    return (p == NULL) ? last : p + 1;
}


static void
ngx_gateway_http_trim(ngx_str_t *s)
{
    while (s->len && (s->data[0] == ' ' || s->data[0] == '\t')) {
        s->data++;
        s->len--;
    }

    while (s->len
           && (s->data[s->len - 1] == ' ' || s->data[s->len - 1] == '\t'
               || s->data[s->len - 1] == CR || s->data[s->len - 1] == LF))
    {
        s->len--;
    }
}
