
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_module.h"


static char *ngx_http_gateway_service_directive(ngx_conf_t *cf,
    ngx_command_t *dummy, void *conf);
static char *ngx_http_gateway_service_endpoint(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static ngx_uint_t ngx_http_gateway_service_nargs_ok(ngx_command_t *cmd,
    ngx_uint_t nargs);


/*
 * The directives of a "gateway_service" block.  Their "type" holds only
 * the argument count flags; the block handler checks them.
 */

static ngx_conf_num_bounds_t  ngx_http_gateway_jwt_max_size_bounds = {
    ngx_http_gateway_conf_bounds, 256, 65536
};


#define ngx_http_gateway_auth_offset(field)                                   \
    offsetof(ngx_http_gateway_service_t, auth) +                              \
    offsetof(ngx_http_gateway_auth_t, field)


static ngx_command_t  ngx_http_gateway_service_commands[] = {

    { ngx_string("endpoint"),
      NGX_CONF_TAKE1,
      ngx_http_gateway_service_endpoint,
      0,
      0,
      NULL },

    { ngx_string("auth"),
      NGX_CONF_TAKE12,
      ngx_http_gateway_auth_modes,
      0,
      ngx_http_gateway_auth_offset(modes),
      NULL },

    { ngx_string("apikey_header"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      ngx_http_gateway_auth_offset(apikey_header),
      NULL },

    { ngx_string("apikey_query"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      ngx_http_gateway_auth_offset(apikey_query),
      NULL },

    { ngx_string("jwt_issuer"),
      NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      0,
      ngx_http_gateway_auth_offset(jwt.issuer),
      NULL },

    { ngx_string("jwt_audience"),
      NGX_CONF_1MORE,
      ngx_http_gateway_jwt_audience,
      0,
      ngx_http_gateway_auth_offset(jwt.audiences),
      NULL },

    { ngx_string("jwt_algorithms"),
      NGX_CONF_1MORE,
      ngx_http_gateway_jwt_algorithms,
      0,
      ngx_http_gateway_auth_offset(jwt.algorithms),
      NULL },

    { ngx_string("jwt_leeway"),
      NGX_CONF_TAKE1,
      ngx_conf_set_sec_slot,
      0,
      ngx_http_gateway_auth_offset(jwt.leeway),
      NULL },

    { ngx_string("jwt_max_size"),
      NGX_CONF_TAKE1,
      ngx_conf_set_size_slot,
      0,
      ngx_http_gateway_auth_offset(jwt.max_size),
      &ngx_http_gateway_jwt_max_size_bounds },

    { ngx_string("jwt_claim_headers"),
      NGX_CONF_1MORE,
      ngx_http_gateway_jwt_claim_headers,
      0,
      ngx_http_gateway_auth_offset(claim_headers),
      NULL },

    { ngx_string("rate_limit"),
      NGX_CONF_1MORE,
      ngx_http_gateway_rate_limit,
      0,
      0,
      NULL },

    { ngx_string("breaker"),
      NGX_CONF_ANY,
      ngx_http_gateway_breaker,
      0,
      0,
      NULL },

    { ngx_string("retries"),
      NGX_CONF_1MORE,
      ngx_http_gateway_retries,
      0,
      0,
      NULL },

    { ngx_string("sign"),
      NGX_CONF_1MORE,
      ngx_http_gateway_sign_directive,
      0,
      0,
      NULL },

    { ngx_string("concurrency"),
      NGX_CONF_1MORE,
      ngx_http_gateway_concurrency,
      0,
      0,
      NULL },

    { ngx_string("deadline"),
      NGX_CONF_TAKE1,
      ngx_http_gateway_deadline,
      0,
      0,
      NULL },

    { ngx_string("cold_start"),
      NGX_CONF_TAKE12,
      ngx_http_gateway_cold_start,
      0,
      0,
      NULL },

    { ngx_string("jwt_forward_token"),
      NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0,
      ngx_http_gateway_auth_offset(jwt_forward_token),
      NULL },

    { ngx_string("allow_method_override"),
      NGX_CONF_FLAG,
      ngx_conf_set_flag_slot,
      0,
      ngx_http_gateway_auth_offset(method_override),
      NULL },

      ngx_null_command
};


static ngx_uint_t  ngx_http_gateway_argument_number[] = {
    NGX_CONF_NOARGS,
    NGX_CONF_TAKE1,
    NGX_CONF_TAKE2,
    NGX_CONF_TAKE3,
    NGX_CONF_TAKE4,
    NGX_CONF_TAKE5,
    NGX_CONF_TAKE6,
    NGX_CONF_TAKE7
};


/* gateway_service name { ... } */

char *
ngx_http_gateway_service_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gateway_main_conf_t *gmcf = conf;

    char                        *rv;
    ngx_int_t                    rc;
    ngx_str_t                   *value, err;
    ngx_conf_t                   save;
    ngx_http_gateway_service_t  *service, **s;

    value = cf->args->elts;

    if (ngx_gateway_parse_name(&value[1], &err) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid service name \"%V\": %V",
                           &value[1], &err);
        return NGX_CONF_ERROR;
    }

    service = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_service_t));
    if (service == NULL) {
        return NGX_CONF_ERROR;
    }

    service->name = value[1];
    service->index = gmcf->services.nelts;
    service->file = cf->conf_file->file.name.data;
    service->line = cf->conf_file->line;

    rc = ngx_hash_add_key(gmcf->services_keys, &service->name, service,
                          NGX_HASH_READONLY_KEY);

    if (rc == NGX_BUSY) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "duplicate gateway service \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    if (rc != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    s = ngx_array_push(&gmcf->services);
    if (s == NULL) {
        return NGX_CONF_ERROR;
    }

    *s = service;

    ngx_http_gateway_auth_create(&service->auth);

    if (ngx_array_init(&service->limits, cf->pool, 1,
                       sizeof(ngx_http_gateway_limit_conf_t))
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    save = *cf;
    cf->handler = ngx_http_gateway_service_directive;
    cf->handler_conf = (char *) service;

    rv = ngx_conf_parse(cf, NULL);

    *cf = save;

    if (rv != NGX_CONF_OK) {
        return rv;
    }

    if (service->endpoint.scheme.len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "gateway service \"%V\" has no \"endpoint\"",
                           &service->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_gateway_service_directive(ngx_conf_t *cf, ngx_command_t *dummy,
    void *conf)
{
    ngx_http_gateway_service_t *service = conf;

    char           *rv;
    ngx_str_t      *value;
    ngx_uint_t      nargs;
    ngx_command_t  *cmd;

    value = cf->args->elts;
    nargs = cf->args->nelts - 1;

    for (cmd = ngx_http_gateway_service_commands; cmd->name.len; cmd++) {

        if (cmd->name.len != value[0].len
            || ngx_strncmp(cmd->name.data, value[0].data, value[0].len) != 0)
        {
            continue;
        }

        if (!ngx_http_gateway_service_nargs_ok(cmd, nargs)) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid number of arguments in \"%V\" "
                               "directive of gateway service \"%V\"",
                               &cmd->name, &service->name);
            return NGX_CONF_ERROR;
        }

        rv = cmd->set(cf, cmd, service);

        if (rv == NGX_CONF_OK || rv == NGX_CONF_ERROR) {
            return rv;
        }

        /* worded as nginx words it: "endpoint" directive is duplicate */

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" directive %s",
                           &cmd->name, rv);

        return NGX_CONF_ERROR;
    }

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "unknown directive \"%V\" in gateway service \"%V\"",
                       &value[0], &service->name);

    return NGX_CONF_ERROR;
}


/* the argument count rules of ngx_conf_handler() */

static ngx_uint_t
ngx_http_gateway_service_nargs_ok(ngx_command_t *cmd, ngx_uint_t nargs)
{
    if (cmd->type & NGX_CONF_ANY) {
        return 1;
    }

    if (cmd->type & NGX_CONF_FLAG) {
        return nargs == 1;
    }

    if (cmd->type & NGX_CONF_1MORE) {
        return nargs >= 1;
    }

    if (cmd->type & NGX_CONF_2MORE) {
        return nargs >= 2;
    }

    return nargs < 8 && (cmd->type & ngx_http_gateway_argument_number[nargs]);
}


/* endpoint http://upstream-or-host[:port][/path]; */

static char *
ngx_http_gateway_service_endpoint(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_gateway_service_t *service = conf;

    ngx_str_t   *value, err;
    ngx_url_t    u;

    if (service->endpoint.scheme.len) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_gateway_parse_endpoint(&value[1], &service->endpoint, &err)
        != NGX_OK)
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid endpoint \"%V\": %V", &value[1], &err);
        return NGX_CONF_ERROR;
    }

#if !(NGX_HTTP_SSL)
    if (service->endpoint.ssl) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid endpoint \"%V\": https needs nginx "
                           "built with the SSL module", &value[1]);
        return NGX_CONF_ERROR;
    }
#endif

    /*
     * As a static "proxy_pass" does: the host names an upstream{} block,
     * declared before or after, or becomes an implicit one resolved now.
     * "proxy_pass $gateway_target" then finds it by host and port.
     */

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = service->endpoint.authority.data;
    u.url.len = service->endpoint.authority.len
                + service->endpoint.path.len;
    u.default_port = service->endpoint.ssl ? 443 : 80;
    u.uri_part = 1;
    u.no_resolve = 1;

    service->upstream = ngx_http_upstream_add(cf, &u, 0);
    if (service->upstream == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_gateway_services_init(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf)
{
    ngx_hash_init_t  hash;

    if (gmcf->services.nelts == 0) {
        gmcf->services_keys = NULL;
        return NGX_OK;
    }

    /* names are at most 64 bytes: a bucket of 128 holds any of them */

    hash.hash = &gmcf->services_hash;
    hash.key = ngx_hash_key;
    hash.max_size = 65536;
    hash.bucket_size = ngx_align(128, ngx_cacheline_size);
    hash.name = "gateway_services_hash";
    hash.pool = cf->pool;
    hash.temp_pool = NULL;

    if (ngx_hash_init(&hash, gmcf->services_keys->keys.elts,
                      gmcf->services_keys->keys.nelts)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    gmcf->services_keys = NULL;

    return NGX_OK;
}


ngx_http_gateway_service_t *
ngx_http_gateway_service_find(ngx_http_gateway_main_conf_t *gmcf,
    ngx_str_t *name)
{
    if (gmcf->services_hash.buckets == NULL) {
        return NULL;
    }

    return ngx_hash_find(&gmcf->services_hash,
                         ngx_hash_key(name->data, name->len),
                         name->data, name->len);
}
