
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_module.h"


static ngx_int_t ngx_http_gateway_unset_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_gateway_retries_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_gateway_param_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);


/*
 * The route handler stores these values in r->variables, where they
 * survive internal redirects (module contexts do not); the getter only
 * answers for requests that were never routed.  Their data is where the
 * main conf keeps their index.  $gateway_retries is stored by retries.
 */

static ngx_http_variable_t  ngx_http_gateway_vars[] = {

    { ngx_string("gateway_service"), NULL,
      ngx_http_gateway_unset_variable,
      offsetof(ngx_http_gateway_main_conf_t, service_index), 0, 0 },

    { ngx_string("gateway_route"), NULL,
      ngx_http_gateway_unset_variable,
      offsetof(ngx_http_gateway_main_conf_t, route_index), 0, 0 },

    { ngx_string("gateway_target"), NULL,
      ngx_http_gateway_unset_variable,
      offsetof(ngx_http_gateway_main_conf_t, target_index), 0, 0 },

    { ngx_string("gateway_consumer"), NULL,
      ngx_http_gateway_unset_variable,
      offsetof(ngx_http_gateway_main_conf_t, consumer_index), 0, 0 },

    { ngx_string("gateway_auth"), NULL,
      ngx_http_gateway_unset_variable,
      offsetof(ngx_http_gateway_main_conf_t, auth_index), 0, 0 },

    { ngx_string("gateway_subject"), NULL,
      ngx_http_gateway_unset_variable,
      offsetof(ngx_http_gateway_main_conf_t, subject_index), 0, 0 },

    { ngx_string("gateway_issuer"), NULL,
      ngx_http_gateway_unset_variable,
      offsetof(ngx_http_gateway_main_conf_t, issuer_index), 0, 0 },

    { ngx_string("gateway_ratelimit_remaining"), NULL,
      ngx_http_gateway_unset_variable,
      offsetof(ngx_http_gateway_main_conf_t, remaining_index), 0, 0 },

    { ngx_string("gateway_breaker_state"), NULL,
      ngx_http_gateway_unset_variable,
      offsetof(ngx_http_gateway_main_conf_t, breaker_index), 0, 0 },

    { ngx_string("gateway_retries"), NULL,
      ngx_http_gateway_retries_variable,
      offsetof(ngx_http_gateway_main_conf_t, retries_index),
      NGX_HTTP_VAR_NOCACHEABLE, 0 },

    { ngx_string("gateway_param_"), NULL,
      ngx_http_gateway_param_variable, 0, NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};


ngx_int_t
ngx_http_gateway_add_variables(ngx_conf_t *cf)
{
    ngx_int_t                      index;
    ngx_http_variable_t           *var, *v;
    ngx_http_gateway_main_conf_t  *gmcf;

    gmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_gateway_module);

    for (v = ngx_http_gateway_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;

        if (v->get_handler == ngx_http_gateway_param_variable) {
            continue;
        }

        index = ngx_http_get_variable_index(cf, &v->name);
        if (index == NGX_ERROR) {
            return NGX_ERROR;
        }

        *(ngx_int_t *) ((char *) gmcf + v->data) = index;
    }

    return NGX_OK;
}


/* each value is stored where it is decided, before any refusal is sent */

void
ngx_http_gateway_set_variable(ngx_http_request_t *r, ngx_int_t index,
    ngx_str_t *value)
{
    ngx_http_variable_value_t  *v;

    v = &r->variables[index];

    v->data = value->data;
    v->len = value->len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->escape = 0;
}


static ngx_int_t
ngx_http_gateway_unset_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    v->not_found = 1;

    return NGX_OK;
}


/*
 * $gateway_retries: how many times the call was retried; each retry
 * stores its number, so the getter only answers 0 for routed requests.
 */

static ngx_int_t
ngx_http_gateway_retries_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    if (ngx_http_get_module_ctx(r->main, ngx_http_gateway_module) == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    v->data = (u_char *) "0";
    v->len = 1;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;

    return NGX_OK;
}


/* $gateway_param_NAME: the path parameter "{NAME}" of the route */

static ngx_int_t
ngx_http_gateway_param_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t *name = (ngx_str_t *) data;

    size_t                     prefix;
    ngx_uint_t                 i;
    ngx_http_gateway_ctx_t    *ctx;
    ngx_http_gateway_param_t  *param;

    ctx = ngx_http_get_module_ctx(r, ngx_http_gateway_module);

    if (ctx == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    prefix = sizeof("gateway_param_") - 1;
    param = ctx->route->params;

    for (i = 0; i < ctx->route->nparams; i++) {
        if (param[i].name.len == name->len - prefix
            && ngx_strncmp(param[i].name.data, name->data + prefix,
                           param[i].name.len)
               == 0)
        {
            v->data = ctx->params[i].data;
            v->len = ctx->params[i].len;
            v->valid = 1;
            v->no_cacheable = 0;
            v->not_found = 0;
            return NGX_OK;
        }
    }

    v->not_found = 1;

    return NGX_OK;
}
