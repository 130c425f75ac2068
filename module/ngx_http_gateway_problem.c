
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_problem.h"


typedef struct {
    ngx_uint_t                 status;
    ngx_str_t                  type;
    ngx_str_t                  title;
} ngx_http_gateway_problem_t;


/* "tag:" URIs (RFC 4151), as RFC 9457 suggests for types not meant to
 * be dereferenced; indexed by ngx_http_gateway_problem_e */

static ngx_http_gateway_problem_t  ngx_http_gateway_problems[] = {
    { NGX_HTTP_NOT_FOUND,
      ngx_string("tag:ngx-http-gateway,2026:no-route"),
      ngx_string("Not Found") },
    { NGX_HTTP_NOT_ALLOWED,
      ngx_string("tag:ngx-http-gateway,2026:method-not-allowed"),
      ngx_string("Method Not Allowed") },
    { NGX_HTTP_UNAUTHORIZED,
      ngx_string("tag:ngx-http-gateway,2026:unauthorized"),
      ngx_string("Unauthorized") },
    { NGX_HTTP_FORBIDDEN,
      ngx_string("tag:ngx-http-gateway,2026:forbidden"),
      ngx_string("Forbidden") },
    { NGX_HTTP_TOO_MANY_REQUESTS,
      ngx_string("tag:ngx-http-gateway,2026:rate-limited"),
      ngx_string("Rate Limit Exceeded") },
    { NGX_HTTP_SERVICE_UNAVAILABLE,
      ngx_string("tag:ngx-http-gateway,2026:breaker-open"),
      ngx_string("Service Unavailable") },
    { NGX_HTTP_BAD_REQUEST,
      ngx_string("tag:ngx-http-gateway,2026:bad-path"),
      ngx_string("Bad Request") },
    { NGX_HTTP_BAD_REQUEST,
      ngx_string("tag:ngx-http-gateway,2026:bad-query"),
      ngx_string("Bad Request") },
    { NGX_HTTP_NOT_FOUND,
      ngx_string("tag:ngx-http-gateway,2026:unknown-service"),
      ngx_string("Not Found") },
    { NGX_HTTP_SERVICE_UNAVAILABLE,
      ngx_string("tag:ngx-http-gateway,2026:signing-unavailable"),
      ngx_string("Service Unavailable") },
    { NGX_HTTP_SERVICE_UNAVAILABLE,
      ngx_string("tag:ngx-http-gateway,2026:over-capacity"),
      ngx_string("Service Unavailable") },
    { NGX_HTTP_GATEWAY_TIME_OUT,
      ngx_string("tag:ngx-http-gateway,2026:deadline-exceeded"),
      ngx_string("Gateway Timeout") },
    { NGX_HTTP_SERVICE_UNAVAILABLE,
      ngx_string("tag:ngx-http-gateway,2026:keys-unavailable"),
      ngx_string("Service Unavailable") }
};


static ngx_str_t  ngx_http_gateway_problem_type =
    ngx_string("application/problem+json");


ngx_buf_t *
ngx_http_gateway_problem_body(ngx_pool_t *pool,
    ngx_http_gateway_problem_e problem, ngx_uint_t status, ngx_str_t *detail)
{
    size_t                       len;
    ngx_buf_t                   *b;
    ngx_http_gateway_problem_t  *p;

    p = &ngx_http_gateway_problems[problem];

    len = sizeof("{\"type\":\"\",\"title\":\"\",\"status\":,"
                 "\"detail\":\"\"}\n") - 1
          + p->type.len + p->title.len + NGX_INT_T_LEN
          + detail->len + ngx_escape_json(NULL, detail->data, detail->len);

    b = ngx_create_temp_buf(pool, len);
    if (b == NULL) {
        return NULL;
    }

    b->last = ngx_sprintf(b->last, "{\"type\":\"%V\",\"title\":\"%V\","
                          "\"status\":%ui,\"detail\":\"",
                          &p->type, &p->title, status);
    b->last = (u_char *) ngx_escape_json(b->last, detail->data, detail->len);
    b->last = ngx_cpymem(b->last, "\"}\n", 3);

    return b;
}


ngx_int_t
ngx_http_gateway_send_problem(ngx_http_request_t *r,
    ngx_http_gateway_problem_e problem, ngx_str_t *detail)
{
    return ngx_http_gateway_send_problem_status(r, problem,
               ngx_http_gateway_problems[problem].status, detail);
}


ngx_int_t
ngx_http_gateway_send_problem_status(ngx_http_request_t *r,
    ngx_http_gateway_problem_e problem, ngx_uint_t status, ngx_str_t *detail)
{
    ngx_http_finalize_request(r,
        ngx_http_gateway_problem_output(r, problem, status, detail));

    return NGX_DONE;
}


ngx_int_t
ngx_http_gateway_problem_output(ngx_http_request_t *r,
    ngx_http_gateway_problem_e problem, ngx_uint_t status, ngx_str_t *detail)
{
    ngx_int_t     rc;
    ngx_buf_t    *b;
    ngx_chain_t   out;

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    b = ngx_http_gateway_problem_body(r->pool, problem, status, detail);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    r->headers_out.status = status;
    r->headers_out.content_length_n = b->last - b->pos;
    r->headers_out.content_type = ngx_http_gateway_problem_type;
    r->headers_out.content_type_len = ngx_http_gateway_problem_type.len;
    r->headers_out.content_type_lowcase = NULL;

    ngx_http_clear_last_modified(r);
    ngx_http_clear_etag(r);

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


ngx_table_elt_t *
ngx_http_gateway_add_header(ngx_http_request_t *r, char *name, size_t len)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NULL;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    h->key.data = (u_char *) name;
    h->key.len = ngx_strlen(name);
    h->value.len = 0;
    h->value.data = NULL;

    if (len) {
        h->value.data = ngx_pnalloc(r->pool, len);
        if (h->value.data == NULL) {
            return NULL;
        }
    }

    return h;
}


ngx_int_t
ngx_http_gateway_retry_after(ngx_http_request_t *r, ngx_msec_t ms)
{
    ngx_table_elt_t  *h;

    h = ngx_http_gateway_add_header(r, "Retry-After", NGX_TIME_T_LEN);
    if (h == NULL) {
        return NGX_ERROR;
    }

    /* whole seconds, never 0 while refusing */

    h->value.len = ngx_http_gateway_uint(h->value.data,
                                         ngx_max((ms + 999) / 1000, 1))
                   - h->value.data;

    return NGX_OK;
}


u_char *
ngx_http_gateway_uint(u_char *p, ngx_uint_t n)
{
    u_char  *d, digits[NGX_INT_T_LEN];

    d = digits + NGX_INT_T_LEN;

    do {
        *--d = (u_char) ('0' + n % 10);
        n /= 10;
    } while (n);

    return ngx_cpymem(p, d, digits + NGX_INT_T_LEN - d);
}
