
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_HTTP_GATEWAY_PROBLEM_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_PROBLEM_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* the gateway's own error responses: RFC 9457 problem details */

typedef enum {
    NGX_HTTP_GATEWAY_PROBLEM_NO_ROUTE = 0,
    NGX_HTTP_GATEWAY_PROBLEM_METHOD,
    NGX_HTTP_GATEWAY_PROBLEM_UNAUTHORIZED,
    NGX_HTTP_GATEWAY_PROBLEM_FORBIDDEN,
    NGX_HTTP_GATEWAY_PROBLEM_RATE_LIMITED,
    NGX_HTTP_GATEWAY_PROBLEM_BREAKER_OPEN,
    NGX_HTTP_GATEWAY_PROBLEM_BAD_PATH,
    NGX_HTTP_GATEWAY_PROBLEM_BAD_QUERY,
    NGX_HTTP_GATEWAY_PROBLEM_UNKNOWN_SERVICE,
    NGX_HTTP_GATEWAY_PROBLEM_SIGNING,
    NGX_HTTP_GATEWAY_PROBLEM_OVER_CAPACITY,
    NGX_HTTP_GATEWAY_PROBLEM_DEADLINE,
    NGX_HTTP_GATEWAY_PROBLEM_KEYS_UNAVAILABLE
} ngx_http_gateway_problem_e;


/*
 * Renders the JSON body into the pool.  The detail is escaped; it must
 * never carry a secret.  Returns NULL on memory failure.
 */
ngx_buf_t *ngx_http_gateway_problem_body(ngx_pool_t *pool,
    ngx_http_gateway_problem_e problem, ngx_uint_t status, ngx_str_t *detail);

/*
 * Sends the problem as the whole response and finalizes the request;
 * headers the caller put in r->headers_out go with it.  Returns NGX_DONE,
 * or an error code for the phase engine when nothing could be sent.
 */
ngx_int_t ngx_http_gateway_send_problem(ngx_http_request_t *r,
    ngx_http_gateway_problem_e problem, ngx_str_t *detail);

/* the same with a status of the configuration's choosing */
ngx_int_t ngx_http_gateway_send_problem_status(ngx_http_request_t *r,
    ngx_http_gateway_problem_e problem, ngx_uint_t status, ngx_str_t *detail);

/*
 * For content handlers: sends the problem and returns what the output
 * filter returned, for the content phase to finalize with.
 */
ngx_int_t ngx_http_gateway_problem_output(ngx_http_request_t *r,
    ngx_http_gateway_problem_e problem, ngx_uint_t status, ngx_str_t *detail);

/* a header of the gateway's own answers, with room for a len-byte value */
ngx_table_elt_t *ngx_http_gateway_add_header(ngx_http_request_t *r,
    char *name, size_t len);

/* Retry-After in whole seconds, at least 1 */
ngx_int_t ngx_http_gateway_retry_after(ngx_http_request_t *r, ngx_msec_t ms);

/*
 * The decimal digits of n at p, as ngx_sprintf("%ui") writes them but
 * without parsing a format: header values written on every request.
 */
u_char *ngx_http_gateway_uint(u_char *p, ngx_uint_t n);


#endif /* _NGX_HTTP_GATEWAY_PROBLEM_H_INCLUDED_ */
