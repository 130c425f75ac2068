
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_module.h"


#define NGX_HTTP_GATEWAY_HEADER_PREFIX  "x-gateway-"


static ngx_int_t ngx_http_gateway_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_gateway_reject(ngx_http_request_t *r,
    ngx_http_gateway_route_match_t *m);
static ngx_int_t ngx_http_gateway_set_target(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_http_gateway_route_match_t *m);
static ngx_int_t ngx_http_gateway_set_headers(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx);
static ngx_int_t ngx_http_gateway_remove_headers(ngx_http_request_t *r,
    ngx_array_t *drop);
static ngx_uint_t ngx_http_gateway_own_header(ngx_table_elt_t *h,
    ngx_array_t *drop);
static ngx_int_t ngx_http_gateway_args(ngx_http_request_t *r,
    ngx_str_t *drop, ngx_str_t *args);

static char *ngx_http_gateway_route(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_gateway_route_reachable(ngx_conf_t *cf,
    ngx_http_gateway_route_t *route);
static char *ngx_http_gateway_build_routes(ngx_conf_t *cf,
    ngx_http_gateway_loc_conf_t *glcf);

static void ngx_http_gateway_check_proxy(ngx_conf_t *cf,
    ngx_http_gateway_loc_conf_t *glcf, ngx_http_gateway_loc_conf_t *prev);
static ngx_uint_t ngx_http_gateway_sets_header(ngx_http_gateway_service_t *s,
    ngx_str_t *name);

static ngx_int_t ngx_http_gateway_preconfiguration(ngx_conf_t *cf);
static ngx_int_t ngx_http_gateway_postconfiguration(ngx_conf_t *cf);
static void *ngx_http_gateway_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_gateway_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_gateway_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_gateway_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);


static ngx_conf_num_bounds_t  ngx_http_gateway_jwt_cache_bounds = {
    ngx_http_gateway_conf_bounds, 0, 1000000
};


static ngx_command_t  ngx_http_gateway_commands[] = {

    { ngx_string("gateway_zone"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_gateway_zone,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gateway_main_conf_t, shm_zone),
      NULL },

    { ngx_string("gateway_service"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_BLOCK|NGX_CONF_TAKE1,
      ngx_http_gateway_service_block,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gateway_consumers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gateway_auth_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gateway_jwks"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gateway_auth_file,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gateway_default_auth"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE12,
      ngx_http_gateway_auth_modes,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gateway_main_conf_t, default_auth),
      NULL },

    { ngx_string("gateway_jwt_cache"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_num_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_gateway_main_conf_t, jwt_cache_size),
      &ngx_http_gateway_jwt_cache_bounds },

    { ngx_string("gateway_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_gateway_status,
      0,
      0,
      NULL },

    { ngx_string("gateway_route"),
      NGX_HTTP_SRV_CONF|NGX_HTTP_LOC_CONF|NGX_CONF_2MORE,
      ngx_http_gateway_route,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_gateway_module_ctx = {
    ngx_http_gateway_preconfiguration,     /* preconfiguration */
    ngx_http_gateway_postconfiguration,    /* postconfiguration */

    ngx_http_gateway_create_main_conf,     /* create main configuration */
    ngx_http_gateway_init_main_conf,       /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_gateway_create_loc_conf,      /* create location configuration */
    ngx_http_gateway_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_gateway_module = {
    NGX_MODULE_V1,
    &ngx_http_gateway_module_ctx,          /* module context */
    ngx_http_gateway_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_gateway_auth_init_process,    /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_gateway_retries_exit_process, /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


/*
 * Preaccess phase: after rewrites have chosen the location, before the
 * access checks and the proxy.  A request of a location with routes
 * either gets its route, service and target, or a problem response.
 */

static ngx_int_t
ngx_http_gateway_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_str_t                        detail;
    ngx_uint_t                       i;
    ngx_http_gateway_ctx_t          *ctx;
    ngx_http_gateway_route_t        *route;
    ngx_http_gateway_loc_conf_t     *glcf;
    ngx_http_gateway_main_conf_t    *gmcf;
    ngx_http_gateway_route_match_t   m;

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gateway_module);

    if (glcf->table == NULL
        || ngx_http_get_module_ctx(r, ngx_http_gateway_module) != NULL)
    {
        return NGX_DECLINED;
    }

    /* a retry, redirected here after its backoff: straight to the proxy */

    if (ngx_http_gateway_retries_resume(r) == NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_http_gateway_route_path_check(&r->uri) != NGX_OK) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gateway: a \".;\" or \"..;\" segment in the request "
                      "path");

        ngx_str_set(&detail, "The request path has a segment that starts "
                             "with \".;\" or \"..;\", which servers of "
                             "functions may read as a dot segment.");

        return ngx_http_gateway_send_problem(r,
                                             NGX_HTTP_GATEWAY_PROBLEM_BAD_PATH,
                                             &detail);
    }

    if (ngx_http_gateway_route_match(glcf->table, &r->uri, r->method, &m)
        != NGX_OK)
    {
        return ngx_http_gateway_reject(r, &m);
    }

    route = m.route;

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_gateway_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ctx->route = route;
    ctx->service = route->service;

    ngx_http_gateway_count(ctx->service, requests);

    if (route->nparams) {
        ctx->params = ngx_palloc(r->pool, route->nparams * sizeof(ngx_str_t));
        if (ctx->params == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        for (i = 0; i < route->nparams; i++) {
            ctx->params[i] = m.segments[route->params[i].segment];
        }
    }

    ngx_http_set_ctx(r, ctx, ngx_http_gateway_module);

    /* refusals are logged with the service and route they were for */

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gateway_module);
    ngx_http_gateway_set_variable(r, gmcf->service_index,
                                  &ctx->service->name);
    ngx_http_gateway_set_variable(r, gmcf->route_index, &route->pattern);

    /* the pipeline: each step answers a refusal itself (NGX_DONE) */

    rc = ngx_http_gateway_authenticate(r, gmcf, ctx);

    /* the breaker, the rate limit and the breaker again, in one hold */

    if (rc == NGX_OK) {
        rc = ngx_http_gateway_circuit_admit(r, gmcf, ctx);
    }

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_gateway_retries_begin(r, gmcf, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_gateway_set_target(r, ctx, &m) != NGX_OK
        || ngx_http_gateway_set_headers(r, gmcf, ctx) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_gateway_set_variable(r, gmcf->target_index, &ctx->target);

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "gateway route \"%V\" service \"%V\" target \"%V\"",
                   &route->pattern, &ctx->service->name, &ctx->target);

    return NGX_DECLINED;
}


static ngx_int_t
ngx_http_gateway_reject(ngx_http_request_t *r,
    ngx_http_gateway_route_match_t *m)
{
    u_char           *p;
    ngx_str_t         detail;
    ngx_table_elt_t  *allow;

    if (m->allowed == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "gateway: no route matches the request path");

        ngx_str_set(&detail, "No route of this gateway matches the "
                             "request path.");

        return ngx_http_gateway_send_problem(r,
                                             NGX_HTTP_GATEWAY_PROBLEM_NO_ROUTE,
                                             &detail);
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gateway: the route does not allow the method");

    allow = ngx_http_gateway_add_header(r, "Allow",
                                        NGX_HTTP_GATEWAY_METHODS_LEN);
    if (allow == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    p = allow->value.data;
    allow->value.len = ngx_http_gateway_methods_text(p, m->allowed) - p;

    ngx_str_set(&detail, "The route for this path does not allow the "
                         "request method; the Allow header lists those "
                         "it does.");

    return ngx_http_gateway_send_problem(r, NGX_HTTP_GATEWAY_PROBLEM_METHOD,
                                         &detail);
}


/*
 * $gateway_target: scheme://host[:port] + endpoint path + request path
 * (less the route's segments with "strip") + query.  The path is the
 * normalised one the route matched, escaped again as proxy_pass does.
 */

static ngx_int_t
ngx_http_gateway_set_target(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_http_gateway_route_match_t *m)
{
    u_char                       *p;
    size_t                        len;
    ngx_str_t                     rest, args;
    ngx_http_gateway_endpoint_t  *ep;

    ep = &ctx->service->endpoint;

    if (ctx->route->strip) {
        rest.data = m->rest;
        rest.len = r->uri.data + r->uri.len - m->rest;

    } else {
        rest = r->uri;
    }

    if (ep->path.len && ep->path.data[ep->path.len - 1] == '/'
        && rest.len && rest.data[0] == '/')
    {
        rest.data++;
        rest.len--;
    }

    if (ngx_http_gateway_args(r, &ctx->drop_arg, &args) != NGX_OK) {
        return NGX_ERROR;
    }

    len = ep->scheme.len + ep->authority.len + ep->path.len + rest.len
          + 2 * ngx_escape_uri(NULL, rest.data, rest.len, NGX_ESCAPE_URI)
          + sizeof("/?") - 1 + args.len;

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ctx->target.data = p;

    p = ngx_cpymem(p, ep->scheme.data, ep->scheme.len);
    p = ngx_cpymem(p, ep->authority.data, ep->authority.len);
    p = ngx_cpymem(p, ep->path.data, ep->path.len);
    p = (u_char *) ngx_escape_uri(p, rest.data, rest.len, NGX_ESCAPE_URI);

    if (ep->path.len == 0 && rest.len == 0) {
        *p++ = '/';
    }

    if (args.len) {
        *p++ = '?';
        p = ngx_cpymem(p, args.data, args.len);
    }

    ctx->target.len = p - ctx->target.data;

    return NGX_OK;
}


/* the query string, less the "name=" arguments of a query API key */

static ngx_int_t
ngx_http_gateway_args(ngx_http_request_t *r, ngx_str_t *drop,
    ngx_str_t *args)
{
    u_char  *p, *last, *start, *d;

    if (drop->len == 0) {
        *args = r->args;
        return NGX_OK;
    }

    d = ngx_pnalloc(r->pool, r->args.len);
    if (d == NULL) {
        return NGX_ERROR;
    }

    args->data = d;
    p = r->args.data;
    last = p + r->args.len;

    while (p < last) {
        start = p;

        while (p < last && *p != '&') {
            p++;
        }

        if (!((size_t) (p - start) > drop->len && start[drop->len] == '='
              && ngx_strncmp(start, drop->data, drop->len) == 0)
            && p > start)
        {
            if (d != args->data) {
                *d++ = '&';
            }

            d = ngx_cpymem(d, start, p - start);
        }

        p++;
    }

    args->len = d - args->data;

    return NGX_OK;
}


/*
 * The function learns who called it from X-Gateway-* request headers
 * the client cannot forge: the client's own are removed first.
 */

static ngx_int_t
ngx_http_gateway_set_headers(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx)
{
    if (ngx_http_gateway_remove_headers(r, &ctx->service->auth.drop)
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


static ngx_int_t
ngx_http_gateway_remove_headers(ngx_http_request_t *r, ngx_array_t *drop)
{
    ngx_uint_t        i, found;
    ngx_list_t        headers;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *copy;

    found = 0;

    for (part = &r->headers_in.headers.part; part; part = part->next) {
        h = part->elts;

        for (i = 0; i < part->nelts; i++) {
            found += ngx_http_gateway_own_header(&h[i], drop);
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
            if (ngx_http_gateway_own_header(&h[i], drop)) {
                ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                               "gateway removed client header \"%V\"",
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
        && ngx_http_gateway_own_header(r->headers_in.authorization, drop))
    {
        r->headers_in.authorization = NULL;
    }

    return NGX_OK;
}


/*
 * Headers the function must not get from the client: any X-Gateway-*
 * and the service's credentials, claim and method-override headers.
 * "_" and "-" are one: CGI, WSGI, Rack and PHP map both to "_", and a
 * client's "X_Gateway_Consumer" would reach them as the gateway's own.
 */

static ngx_uint_t
ngx_http_gateway_own_header(ngx_table_elt_t *h, ngx_array_t *drop)
{
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

    d = drop->elts;

    for (i = 0; i < drop->nelts; i++) {
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


/*
 * As ngx_conf_check_num_bounds(), but the message names the directive
 * and quotes the value, as every other configuration error does.
 */

char *
ngx_http_gateway_conf_bounds(ngx_conf_t *cf, void *post, void *data)
{
    ngx_conf_num_bounds_t  *bounds = post;
    ngx_int_t              *np = data;

    ngx_str_t  *value;

    if (*np >= bounds->low && *np <= bounds->high) {
        return NGX_CONF_OK;
    }

    value = cf->args->elts;

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid \"%V\" value \"%V\": from %i to %i",
                       &value[0], &value[1], bounds->low, bounds->high);

    return NGX_CONF_ERROR;
}


/* gateway_route [methods] pattern service [strip]; */

static char *
ngx_http_gateway_route(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_loc_conf_t *glcf = conf;

    ngx_int_t                  rc;
    ngx_str_t                 *value, err;
    ngx_uint_t                 n;
    ngx_http_gateway_route_t  *route, **r;

    value = cf->args->elts;
    n = 1;

    route = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_route_t));
    if (route == NULL) {
        return NGX_CONF_ERROR;
    }

    route->methods = NGX_HTTP_GATEWAY_ALL_METHODS;
    route->file = cf->conf_file->file.name.data;
    route->line = cf->conf_file->line;

    if (value[1].len && value[1].data[0] != '/' && value[1].data[0] != '=') {

        if (ngx_http_gateway_parse_methods(&value[1], &route->methods, &err)
            != NGX_OK)
        {
            if (err.len == value[1].len) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid method \"%V\"", &err);

            } else {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid method \"%V\" in \"%V\"",
                                   &err, &value[1]);
            }

            return NGX_CONF_ERROR;
        }

        n++;
    }

    if (cf->args->nelts - n < 2) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "a route needs a pattern and a service");
        return NGX_CONF_ERROR;
    }

    route->pattern = value[n];

    rc = ngx_http_gateway_route_parse(cf->pool, &value[n], route, &err);

    if (rc == NGX_ERROR) {
        return NGX_CONF_ERROR;
    }

    if (rc == NGX_DECLINED) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid route pattern \"%V\": %V",
                           &value[n], &err);
        return NGX_CONF_ERROR;
    }

    route->service_name = value[n + 1];

    for (n += 2; n < cf->args->nelts; n++) {

        if (ngx_strcmp(value[n].data, "strip") == 0 && !route->strip) {
            route->strip = 1;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[n]);
        return NGX_CONF_ERROR;
    }

    if (ngx_http_gateway_route_reachable(cf, route) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    if (glcf->routes == NULL) {
        glcf->routes = ngx_array_create(cf->pool, 4, sizeof(void *));
        if (glcf->routes == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    r = ngx_array_push(glcf->routes);
    if (r == NULL) {
        return NGX_CONF_ERROR;
    }

    *r = route;

    return NGX_CONF_OK;
}


/*
 * A route in a prefix location sees only paths that start with the
 * location's prefix: a route whose literal start is outside it can
 * never match.
 */

static ngx_int_t
ngx_http_gateway_route_reachable(ngx_conf_t *cf,
    ngx_http_gateway_route_t *route)
{
    u_char                    *p, *last;
    size_t                     len;
    ngx_str_t                  literal;
    ngx_http_core_loc_conf_t  *clcf;

    if (!(cf->cmd_type & NGX_HTTP_LOC_CONF)) {
        return NGX_OK;
    }

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->named || clcf->noname || clcf->name.len == 0
#if (NGX_PCRE)
        || clcf->regex
#endif
        )
    {
        return NGX_OK;
    }

    literal = route->pattern;

    if (route->exact) {
        literal.data++;
        literal.len--;
    }

    p = literal.data;
    last = p + literal.len;

    while (p < last && *p != '{') {
        p++;
    }

    literal.len = p - literal.data;

    len = ngx_min(literal.len, clcf->name.len);

    if (ngx_strncmp(literal.data, clcf->name.data, len) == 0) {
        return NGX_OK;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "route \"%V\" can never match in location \"%V\"",
                       &route->pattern, &clcf->name);

    return NGX_ERROR;
}


static char *
ngx_http_gateway_build_routes(ngx_conf_t *cf,
    ngx_http_gateway_loc_conf_t *glcf)
{
    ngx_uint_t                      i;
    ngx_http_gateway_route_t      **route, *conflict[2];
    ngx_http_gateway_main_conf_t   *gmcf;

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gateway_module);

    route = glcf->routes->elts;

    for (i = 0; i < glcf->routes->nelts; i++) {
        route[i]->service = ngx_http_gateway_service_find(gmcf,
                                                  &route[i]->service_name);

        if (route[i]->service == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "unknown gateway service \"%V\" in route \"%V\" "
                          "in %s:%ui", &route[i]->service_name,
                          &route[i]->pattern, route[i]->file,
                          route[i]->line);
            return NGX_CONF_ERROR;
        }
    }

    glcf->table = ngx_http_gateway_route_table_create(cf->pool, glcf->routes,
                                                      conflict);
    if (glcf->table == NULL) {
        return NGX_CONF_ERROR;
    }

    if (glcf->table->nroutes != glcf->routes->nelts) {
        ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                      "route \"%V\" in %s:%ui can never match: route \"%V\" "
                      "in %s:%ui takes the same paths and methods",
                      &conflict[1]->pattern, conflict[1]->file,
                      conflict[1]->line, &conflict[0]->pattern,
                      conflict[0]->file, conflict[0]->line);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_gateway_preconfiguration(ngx_conf_t *cf)
{
    return ngx_http_gateway_add_variables(cf);
}


static ngx_int_t
ngx_http_gateway_postconfiguration(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_PREACCESS_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_gateway_handler;

    return ngx_http_gateway_retries_init(cf);
}


static void *
ngx_http_gateway_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_gateway_main_conf_t  *gmcf;

    gmcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_main_conf_t));
    if (gmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     gmcf->services_hash = { NULL };
     *     gmcf->shm_zone = NULL;
     */

    if (ngx_array_init(&gmcf->services, cf->pool, 4, sizeof(void *))
        != NGX_OK)
    {
        return NULL;
    }

    gmcf->services_keys = ngx_pcalloc(cf->temp_pool,
                                      sizeof(ngx_hash_keys_arrays_t));
    if (gmcf->services_keys == NULL) {
        return NULL;
    }

    gmcf->services_keys->pool = cf->pool;
    gmcf->services_keys->temp_pool = cf->temp_pool;

    if (ngx_hash_keys_array_init(gmcf->services_keys, NGX_HASH_SMALL)
        != NGX_OK)
    {
        return NULL;
    }

    gmcf->default_auth = NGX_CONF_UNSET_UINT;
    gmcf->jwt_cache_size = NGX_CONF_UNSET_UINT;

    return gmcf;
}


static char *
ngx_http_gateway_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_gateway_main_conf_t *gmcf = conf;

    ngx_str_t                     name;
    ngx_uint_t                    i;
    ngx_http_gateway_service_t  **s;

    ngx_str_set(&name, "X-Gateway-Service");

    if (ngx_http_gateway_header_init(cf->pool, &gmcf->service_header, &name)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (ngx_http_gateway_services_init(cf, gmcf) != NGX_OK
        || ngx_http_gateway_auth_init(cf, gmcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* after authentication: a limit per consumer needs one */

    s = gmcf->services.elts;

    for (i = 0; i < gmcf->services.nelts; i++) {
        if (ngx_http_gateway_rate_limit_init(cf, s[i]) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (gmcf->shm_zone == NULL && gmcf->services.nelts) {
        ngx_str_set(&name, NGX_HTTP_GATEWAY_ZONE_NAME);

        gmcf->shm_zone = ngx_http_gateway_zone_add(cf, &name,
                                                  NGX_HTTP_GATEWAY_ZONE_SIZE,
                                                  gmcf);
        if (gmcf->shm_zone == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_gateway_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_gateway_loc_conf_t  *glcf;

    glcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_loc_conf_t));
    if (glcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     glcf->routes = NULL;
     *     glcf->table = NULL;
     */

    return glcf;
}


/*
 * Routes are inherited from the previous level if and only if there
 * are no "gateway_route" directives on the current level.
 */

static char *
ngx_http_gateway_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_gateway_loc_conf_t *prev = parent;
    ngx_http_gateway_loc_conf_t *conf = child;

    if (conf->routes == NULL) {
        conf->routes = prev->routes;
        conf->table = prev->table;

    } else if (conf->table == NULL
               && ngx_http_gateway_build_routes(cf, conf) != NGX_CONF_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (conf->routes) {
        ngx_http_gateway_check_proxy(cf, conf, prev);
    }

    return NGX_CONF_OK;
}


/*
 * Warnings for a location with routes, its own or inherited, whose proxy
 * would not do what the routes mean: no proxy_pass, a proxy_pass of a
 * fixed URL rather than $gateway_target, or a proxy_set_header that
 * replaces a header the gateway sets (once for headers a location
 * inherits together with its routes).  The proxy module keeps its
 * configuration to itself: its directives are found by name, and of its
 * location configuration only the first member is read, which has been
 * ngx_http_upstream_conf_t in every nginx version, and the array that
 * proxy_set_header fills through ngx_conf_set_keyval_slot, at the offset
 * its directive declares.
 */

static void
ngx_http_gateway_check_proxy(ngx_conf_t *cf, ngx_http_gateway_loc_conf_t *glcf,
    ngx_http_gateway_loc_conf_t *prev)
{
    void                       *plcf;
    ngx_str_t                   name;
    ngx_uint_t                  i, j;
    ngx_array_t                *headers;
    ngx_module_t               *proxy;
    ngx_keyval_t               *kv;
    ngx_command_t              *cmd;
    ngx_http_conf_ctx_t        *ctx;
    ngx_http_gateway_route_t  **route;
    ngx_http_core_loc_conf_t   *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);
    route = glcf->routes->elts;

    if (clcf->name.len == 0) {
        return;     /* routes of a server{}: its locations proxy */
    }

    for (i = 0; cf->cycle->modules[i]; i++) {
        if (ngx_strcmp(cf->cycle->modules[i]->name, "ngx_http_proxy_module")
            == 0)
        {
            break;
        }
    }

    proxy = cf->cycle->modules[i];
    ctx = cf->ctx;
    plcf = proxy ? ctx->loc_conf[proxy->ctx_index] : NULL;

    if (clcf->handler == NULL
        || (plcf && ((ngx_http_upstream_conf_t *) plcf)->upstream))
    {
        ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                      "location \"%V\" with gateway routes (%s:%ui) has no "
                      "\"proxy_pass $gateway_target\": routed requests do "
                      "not reach their functions", &clcf->name,
                      route[0]->file, route[0]->line);
    }

    if (plcf == NULL) {
        return;
    }

    for (cmd = proxy->commands; cmd->name.len; cmd++) {
        if (ngx_strcmp(cmd->name.data, "proxy_set_header") == 0) {
            break;
        }
    }

    if (cmd->name.len == 0 || cmd->set != ngx_conf_set_keyval_slot) {
        return;
    }

    headers = *(ngx_array_t **) ((char *) plcf + cmd->offset);

    if (headers == NULL || headers == NGX_CONF_UNSET_PTR
        || (headers == prev->proxy_headers && glcf->routes == prev->routes))
    {
        glcf->proxy_headers = headers;
        return;
    }

    glcf->proxy_headers = headers;

    kv = headers->elts;

    for (i = 0; i < headers->nelts; i++) {
        name.len = kv[i].key.len;
        name.data = ngx_pnalloc(cf->temp_pool, name.len);
        if (name.data == NULL) {
            return;
        }

        ngx_strlow(name.data, kv[i].key.data, name.len);

        for (j = 0; j < glcf->routes->nelts; j++) {
            if (ngx_http_gateway_sets_header(route[j]->service, &name)) {
                ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                              "\"proxy_set_header %V\" in location \"%V\" "
                              "replaces the header the gateway sets for "
                              "service \"%V\" of the route in %s:%ui",
                              &kv[i].key, &clcf->name,
                              &((ngx_http_gateway_service_t *)
                                route[j]->service)->name,
                              route[j]->file, route[j]->line);
                break;
            }
        }
    }
}


/* whether the gateway sets this request header (lower case) for s */

static ngx_uint_t
ngx_http_gateway_sets_header(ngx_http_gateway_service_t *s, ngx_str_t *name)
{
    ngx_uint_t                        i;
    ngx_http_gateway_claim_header_t  *ch;

    if (name->len > sizeof(NGX_HTTP_GATEWAY_HEADER_PREFIX) - 1
        && ngx_http_gateway_header_name_is(name,
               (u_char *) NGX_HTTP_GATEWAY_HEADER_PREFIX,
               sizeof(NGX_HTTP_GATEWAY_HEADER_PREFIX) - 1))
    {
        return 1;
    }

    if (s->auth.claim_headers == NULL) {
        return 0;
    }

    ch = s->auth.claim_headers->elts;

    for (i = 0; i < s->auth.claim_headers->nelts; i++) {
        if (ch[i].header.lowcase.len == name->len
            && ngx_http_gateway_header_name_is(name, ch[i].header.lowcase.data,
                                               name->len))
        {
            return 1;
        }
    }

    return 0;
}
