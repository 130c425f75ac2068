
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_module.h"


/*
 * The request headers the gateway reads, removes and adds for the
 * function: the client's copies of what the gateway vouches for go, in
 * any spelling, before the gateway's own are added.
 */


static ngx_uint_t ngx_http_gateway_own_header(ngx_table_elt_t *h,
    void *data);


/*
 * The function learns who called it from X-Gateway-* request headers
 * the client cannot forge: the client's own are removed first.
 */

ngx_int_t
ngx_http_gateway_set_headers(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx)
{
    if (ngx_http_gateway_remove_request_headers(r,
                                                ngx_http_gateway_own_header,
                                                &ctx->service->auth)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_http_gateway_add_request_header(r, &gmcf->service_header,
                                            &ctx->service->name)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_gateway_auth_headers(r, gmcf, ctx);
}


/*
 * How many request headers have this name (any case); *h is the last of
 * them.  For the few headers the gateway reads that nginx does not keep.
 */

ngx_uint_t
ngx_http_gateway_request_header(ngx_http_request_t *r, ngx_str_t *name,
    ngx_table_elt_t **h)
{
    ngx_uint_t        i, n;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *e;

    n = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        e = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (e[i].key.len == name->len
                && ngx_strncasecmp(e[i].key.data, name->data, name->len)
                   == 0)
            {
                *h = &e[i];
                n++;
            }
        }
    }

    return n;
}


/* its lower case and hash, once, as the proxy module looks for both */

ngx_int_t
ngx_http_gateway_header_init(ngx_pool_t *pool, ngx_http_gateway_header_t *h,
    ngx_str_t *name)
{
    h->key = *name;

    h->lowcase.len = name->len;
    h->lowcase.data = ngx_pnalloc(pool, name->len);
    if (h->lowcase.data == NULL) {
        return NGX_ERROR;
    }

    ngx_strlow(h->lowcase.data, name->data, name->len);
    h->hash = ngx_hash_key(h->lowcase.data, h->lowcase.len);

    return NGX_OK;
}


/* a request header for the function, as if the client had sent it */

ngx_int_t
ngx_http_gateway_add_request_header(ngx_http_request_t *r,
    ngx_http_gateway_header_t *name, ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_in.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->key = name->key;
    h->value = *value;
    h->lowcase_key = name->lowcase.data;
    h->hash = name->hash;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


/* the request headers drop() takes, removed */

ngx_int_t
ngx_http_gateway_remove_request_headers(ngx_http_request_t *r,
    ngx_http_gateway_header_pt drop, void *data)
{
    ngx_uint_t        i, found;
    ngx_list_t        headers;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *copy;

    found = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            found += drop(&h[i], data);
        }
    }

    if (found == 0) {
        return NGX_OK;
    }

    /*
     * A new list, so that the pointers nginx keeps into the old one
     * (r->headers_in.host and the like) stay valid.
     */

    if (ngx_list_init(&headers, r->pool, 20, sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            if (drop(&h[i], data)) {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "gateway removed header \"%V\"",
                               &h[i].key);
                continue;
            }

            copy = ngx_list_push(&headers);
            if (copy == NULL) {
                return NGX_ERROR;
            }

            *copy = h[i];
        }
    }

    /* the list's "last" may point into itself: mind the copy */

    r->headers_in.headers = headers;

    if (headers.last == &headers.part) {
        r->headers_in.headers.last = &r->headers_in.headers.part;
    }

    /* $http_authorization reads this pointer, not the list */

    if (r->headers_in.authorization
        && drop(r->headers_in.authorization, data))
    {
        r->headers_in.authorization = NULL;
    }

    return NGX_OK;
}


/*
 * Headers the function must not get from the client: any X-Gateway-*,
 * the service's credentials, claim and method-override headers, and
 * for a service that signs its calls, the signature's header family.
 * "_" and "-" are one: CGI, WSGI, Rack and PHP map both to "_", and a
 * client's "X_Gateway_Consumer" would reach them as the gateway's own.
 */

static ngx_uint_t
ngx_http_gateway_own_header(ngx_table_elt_t *h, void *data)
{
    ngx_http_gateway_auth_t *auth = data;

    ngx_str_t   name, *d;
    ngx_uint_t  i;

    name.data = h->lowcase_key;
    name.len = h->key.len;

    if (name.len > sizeof(NGX_HTTP_GATEWAY_HEADER_PREFIX) - 1
        && ngx_http_gateway_header_name_is(&name,
               (u_char *) NGX_HTTP_GATEWAY_HEADER_PREFIX,
               sizeof(NGX_HTTP_GATEWAY_HEADER_PREFIX) - 1))
    {
        return 1;
    }

    /* a signing service's whole family, e.g. X-Amz-* */

    if (auth->drop_prefix.len
        && ngx_http_gateway_header_name_is(&name, auth->drop_prefix.data,
                                           auth->drop_prefix.len))
    {
        return 1;
    }

    d = auth->drop.elts;

    for (i = 0; i < auth->drop.nelts; i++) {
        if (d[i].len == name.len
            && ngx_http_gateway_header_name_is(&name, d[i].data, d[i].len))
        {
            return 1;
        }
    }

    return 0;
}


/*
 * Whether a lower case header name starts with another lower case name,
 * taking "_" and "-" as the same.
 */

ngx_uint_t
ngx_http_gateway_header_name_is(ngx_str_t *name, u_char *lowcase, size_t len)
{
    u_char  c, d;
    size_t  i;

    if (name->len < len) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = name->data[i];
        d = lowcase[i];

        if ((c == '_' ? '-' : c) != (d == '_' ? '-' : d)) {
            return 0;
        }
    }

    return 1;
}
