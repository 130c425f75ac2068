
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_HTTP_GATEWAY_MODULE_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_parse.h"
#include "ngx_http_gateway_problem.h"
#include "ngx_http_gateway_routes.h"
#include "ngx_http_gateway_zone.h"


typedef struct {
    ngx_str_t                        name;
    ngx_http_gateway_endpoint_t      endpoint;
    ngx_http_upstream_srv_conf_t    *upstream;
    u_char                          *file;      /* where it was declared */
    ngx_uint_t                       line;
} ngx_http_gateway_service_t;


typedef struct {
    ngx_array_t                      services;  /* of service pointers */
    ngx_hash_t                       services_hash;
    ngx_hash_keys_arrays_t          *services_keys;  /* config time only */

    ngx_shm_zone_t                  *shm_zone;

    ngx_int_t                        service_index;   /* variables */
    ngx_int_t                        route_index;
    ngx_int_t                        target_index;
} ngx_http_gateway_main_conf_t;


typedef struct {
    ngx_array_t                     *routes;    /* of route pointers */
    ngx_http_gateway_route_table_t  *table;
} ngx_http_gateway_loc_conf_t;


typedef struct {
    ngx_http_gateway_service_t      *service;
    ngx_http_gateway_route_t        *route;
    ngx_str_t                       *params;    /* as route->params */
    ngx_str_t                        target;
} ngx_http_gateway_ctx_t;


char *ngx_http_gateway_service_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_gateway_service_t *ngx_http_gateway_service_find(
    ngx_http_gateway_main_conf_t *gmcf, ngx_str_t *name);
ngx_int_t ngx_http_gateway_services_init(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf);

ngx_int_t ngx_http_gateway_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_gateway_init_variables(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf);
void ngx_http_gateway_set_variables(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx);


extern ngx_module_t  ngx_http_gateway_module;


#endif /* _NGX_HTTP_GATEWAY_MODULE_H_INCLUDED_ */
