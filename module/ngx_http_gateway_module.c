
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_module.h"


static ngx_int_t ngx_http_gateway_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_gateway_init_process(ngx_cycle_t *cycle);
static void ngx_http_gateway_exit_process(ngx_cycle_t *cycle);
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

    { ngx_string("gateway_store"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_gateway_store,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
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

    { ngx_string("gateway_jwks_uri"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_gateway_jwks_uri,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gateway_oidc_issuer"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_gateway_jwks_uri,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("gateway_jwks_trusted_certificate"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_gateway_jwks_trusted,
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
    ngx_http_gateway_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_gateway_exit_process,         /* exit process */
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
    ngx_http_gateway_ctx_t          *ctx;
    ngx_gateway_route_match_t        m;
    ngx_http_gateway_loc_conf_t     *glcf;
    ngx_http_gateway_main_conf_t    *gmcf;

    glcf = ngx_http_get_module_loc_conf(r, ngx_http_gateway_module);

    if (glcf->table == NULL) {
        return NGX_DECLINED;
    }

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gateway_module);

    ctx = ngx_http_get_module_ctx(r, ngx_http_gateway_module);

    /*
     * A retry, redirected here after its backoff: its context again,
     * and its attempt is to be signed afresh; then as any request back.
     */

    if (ctx == NULL && ngx_http_gateway_retries_resume(r) == NGX_OK) {
        ctx = ngx_http_get_module_ctx(r, ngx_http_gateway_module);
        ngx_http_gateway_sign_next(ctx);
    }

    if (ctx != NULL) {

        /* still waiting for keys or for Redis: nothing goes on before */

        if ((ctx->keys_wait && ctx->keys_wait->waiting)
            || (ctx->cluster && !ctx->cluster->decided))
        {
            return NGX_AGAIN;
        }

        /* back from Redis with its word on the strict limits: admit */

        if (ctx->cluster && !ctx->cluster->resumed) {
            ctx->cluster->resumed = 1;
            m = ctx->cluster->match;

            rc = ngx_http_gateway_breaker_admit(r, gmcf, ctx, &m);
            goto admitted;
        }

        /*
         * Back after the request body was read, a wait in the queue or
         * a retry's backoff: a slot (a retry's attempt takes one again),
         * the attempt signed once, then on to the proxy.
         */

        if (ngx_http_gateway_keys_resume(ctx, &m) != NGX_OK) {
            rc = ngx_http_gateway_bulkhead_resume(r);
            if (rc != NGX_DECLINED) {
                return rc;
            }

            return ngx_http_gateway_sign_pending(r, ctx);
        }

        /* back with keys from the identity provider: authenticated again */

        rc = NGX_OK;

    } else {

        /*
         * The pipeline: route, authenticate, admit (the breaker's word,
         * the rate limits and the breaker's lease of a probe, in one
         * decision), then the call's target and headers for the proxy,
         * a slot and a signature.  A step that refuses answers itself
         * and returns NGX_DONE; one that waits returns NGX_AGAIN and
         * runs the phases again when done.
         */

        rc = ngx_http_gateway_route_request(r, glcf, &m, &ctx);
    }

    if (rc == NGX_OK) {
        /* not touched after: a refusal may have freed the request */
        ctx->match = &m;
        rc = ngx_http_gateway_authenticate(r, gmcf, ctx);
    }

    if (rc == NGX_OK) {
        rc = ngx_http_gateway_sign_ready(r, ctx);
    }

    if (rc == NGX_OK) {
        rc = ngx_http_gateway_breaker_admit(r, gmcf, ctx, &m);
    }

admitted:

    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_http_gateway_retries_begin(r, gmcf, ctx) != NGX_OK
        || ngx_http_gateway_set_target(r, ctx, &m) != NGX_OK
        || ngx_http_gateway_set_headers(r, gmcf, ctx) != NGX_OK)
    {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_gateway_set_variable(r, gmcf->target_index, &ctx->target);

    /* a slot for the call, or a place in the queue (NGX_AGAIN) */

    rc = ngx_http_gateway_bulkhead_begin(r, gmcf, ctx);
    if (rc != NGX_OK) {
        return rc;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "gateway route \"%V\" service \"%V\" target \"%V\"",
                   &ctx->route->pattern, &ctx->service->name, &ctx->target);

    return ngx_http_gateway_sign_pending(r, ctx);
}


static ngx_int_t
ngx_http_gateway_init_process(ngx_cycle_t *cycle)
{
    if (ngx_http_gateway_auth_init_process(cycle) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_http_gateway_bulkheads_init_process(cycle) != NGX_OK
        || ngx_http_gateway_sign_init_process(cycle) != NGX_OK)
    {
        return NGX_ERROR;
    }

    return ngx_http_gateway_cluster_init_process(cycle);
}


static void
ngx_http_gateway_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_gateway_cluster_exit_process(cycle);
    ngx_http_gateway_sign_exit_process(cycle);
    ngx_http_gateway_keys_exit_process(cycle);
    ngx_http_gateway_retries_exit_process(cycle);
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


static ngx_int_t
ngx_http_gateway_preconfiguration(ngx_conf_t *cf)
{
    if (ngx_http_gateway_add_variables(cf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_gateway_bulkhead_add_variables(cf);
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
        || ngx_http_gateway_auth_init(cf, gmcf) != NGX_OK
        || ngx_http_gateway_sign_init(cf, gmcf) != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    /* after authentication: a limit per consumer needs one */

    s = gmcf->services.elts;

    for (i = 0; i < gmcf->services.nelts; i++) {
        if (ngx_http_gateway_rate_limit_init(cf, s[i]) != NGX_OK
            || ngx_http_gateway_cluster_init(cf, gmcf, s[i]) != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    if (ngx_http_gateway_bulkheads_init(cf, gmcf) != NGX_OK) {
        return NGX_CONF_ERROR;
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
