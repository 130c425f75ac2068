
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_GATEWAY_HTTP_H_INCLUDED_
#define _NGX_GATEWAY_HTTP_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The HTTP/1.1 of the gateway's own background client (see
 * ngx_http_gateway_fetch.h): URLs, the request it sends, and the
 * response it reads.  Pure code: input and memory are arguments; nothing
 * here reads the clock or a global, and nothing logs.  Error texts are
 * fixed strings and never contain bytes of a request or a response.
 */


/* the response's status line and headers, at most */
#define NGX_GATEWAY_HTTP_MAX_HEADER   16384

/* a chunk-size line (with extensions), at most */
#define NGX_GATEWAY_HTTP_MAX_CHUNK_LINE  1024

/* room a response buffer needs besides the body */
#define NGX_GATEWAY_HTTP_SLACK                                                \
    (NGX_GATEWAY_HTTP_MAX_HEADER + NGX_GATEWAY_HTTP_MAX_CHUNK_LINE + 16)


typedef struct {
    ngx_str_t                  host;        /* no brackets, lower case */
    ngx_str_t                  authority;   /* for Host: with brackets,
                                               and the port unless the
                                               scheme's default */
    ngx_str_t                  uri;         /* path and query, "/..." */
    in_port_t                  port;
    unsigned                   ssl:1;
    unsigned                   ip:1;        /* host is an IPv4/v6 literal */
} ngx_gateway_url_t;


typedef struct {
    /* in: the largest body taken; 0 takes none */
    size_t                     max_size;

    /* out, with NGX_OK */
    ngx_uint_t                 status;
    ngx_str_t                  headers;     /* header lines, as received */
    ngx_str_t                  content_type;    /* len 0: none */
    time_t                     max_age;     /* Cache-Control; -1: none */
    ngx_str_t                  body;

    /* out, with NGX_DECLINED: why, a fixed text */
    char                      *err;

    /* the parser's */
    ngx_uint_t                 state;
    size_t                     pos;         /* bytes of buf looked at */
    size_t                     body_start;
    off_t                      content_length;  /* -1: none */
    off_t                      chunk;       /* left in this chunk */
    unsigned                   chunked:1;
} ngx_gateway_http_response_t;


/*
 * Parses an absolute http:// or https:// URL.  Refused, with *err: other
 * schemes, user information ("user:pass@", which would end up in logs),
 * fragments, spaces and control bytes, an empty host, a port out of
 * 1-65535.  The strings point into url.  NGX_OK or NGX_DECLINED.
 */
ngx_int_t ngx_gateway_url_parse(ngx_str_t *url, ngx_gateway_url_t *u,
    char **err);

/*
 * A request of "method" for the URL, with "Host", "Connection: close",
 * the headers given (nheaders of name, value pairs) and, with a body or
 * for POST and PUT, "Content-Length".  A header name that is no HTTP
 * token, or a value with a control byte (so a CR LF that would inject a
 * header), is refused: NGX_DECLINED with *err.  NGX_ERROR: no memory.
 */
ngx_int_t ngx_gateway_http_request(ngx_pool_t *pool, ngx_str_t *method,
    ngx_gateway_url_t *u, ngx_keyval_t *headers, ngx_uint_t nheaders,
    ngx_str_t *body, ngx_str_t *out, char **err);

/*
 * Prepares *hr for a response; hr->max_size is kept.
 */
void ngx_gateway_http_response_init(ngx_gateway_http_response_t *hr);

/*
 * Parses what arrived of a response: buf holds *len bytes, all received
 * so far (after what earlier calls left there); eof says the peer closed.
 * A chunked body is decoded in place and what is not parsed yet moved
 * behind it: on return buf holds *len bytes again, and the next bytes
 * received go to buf + *len.  A buffer of hr->max_size +
 * NGX_GATEWAY_HTTP_SLACK bytes holds any response that is taken.
 *
 * NGX_AGAIN: more is needed (with eof: the response is cut short, and
 * NGX_DECLINED is returned instead).  NGX_OK: the response is complete,
 * hr->status, headers, body and the rest are set (interim 1xx responses
 * are skipped).  NGX_DECLINED: not a response taken, hr->err says why
 * ("too big" for a body over max_size).
 */
ngx_int_t ngx_gateway_http_parse(ngx_gateway_http_response_t *hr,
    u_char *buf, size_t *len, ngx_uint_t eof);

/*
 * The value of the first response header of that name (caseless), with
 * surrounding white space removed; NGX_DECLINED if there is none.
 */
ngx_int_t ngx_gateway_http_header(ngx_gateway_http_response_t *hr,
    ngx_str_t *name, ngx_str_t *value);

/*
 * The seconds of "max-age" in a Cache-Control value; 0 with "no-store"
 * or "no-cache"; -1 when it says neither.
 */
time_t ngx_gateway_http_max_age(ngx_str_t *value);


#endif /* _NGX_GATEWAY_HTTP_H_INCLUDED_ */
