
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_GATEWAY_PARSE_H_INCLUDED_
#define _NGX_GATEWAY_PARSE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/*
 * Parsers of configuration values.  They take the text and return the
 * value, or NGX_DECLINED with *err saying what is wrong; the directive
 * handlers add the directive, the value, the file and the line.
 */


#define NGX_GATEWAY_ALL_METHODS    ((ngx_uint_t) -1)

/* "GET, HEAD, POST, ..." for every method nginx knows */
#define NGX_GATEWAY_METHODS_LEN    160

/* rates are kept as limit_req keeps them: 1 = 0.001 requests/second */
#define NGX_GATEWAY_RATE_MAX       1000000


typedef struct {
    ngx_str_t                  scheme;      /* "http://" or "https://" */
    ngx_str_t                  authority;   /* host[:port] as written */
    ngx_str_t                  path;        /* "" or "/fn/orders" */
    unsigned                   ssl:1;
} ngx_gateway_endpoint_t;


ngx_int_t ngx_gateway_parse_methods(ngx_str_t *value,
    ngx_uint_t *methods, ngx_str_t *err);
u_char *ngx_gateway_methods_text(u_char *buf, ngx_uint_t methods);
ngx_int_t ngx_gateway_parse_endpoint(ngx_str_t *url,
    ngx_gateway_endpoint_t *endpoint, ngx_str_t *err);
ngx_int_t ngx_gateway_parse_name(ngx_str_t *name, ngx_str_t *err);
ngx_int_t ngx_gateway_parse_rate(ngx_str_t *value, ngx_uint_t *rate,
    ngx_str_t *err);
ngx_int_t ngx_gateway_parse_rate_limit(ngx_str_t *value,
    ngx_uint_t *rate, ngx_uint_t *burst, ngx_str_t *err);

/*
 * The slots of an open-addressing table for n entries: a power of 2, at
 * least 8 and at least 2n, so that a probe finds an empty slot soon.
 */
ngx_uint_t ngx_gateway_hash_size(ngx_uint_t n);


#endif /* _NGX_GATEWAY_PARSE_H_INCLUDED_ */
