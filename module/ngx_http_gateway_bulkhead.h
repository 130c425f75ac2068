
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_HTTP_GATEWAY_BULKHEAD_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_BULKHEAD_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gateway_bulkhead.h"


#define NGX_HTTP_GATEWAY_BULKHEAD_PER_SERVICE   0
#define NGX_HTTP_GATEWAY_BULKHEAD_PER_CONSUMER  1


/* a service's "concurrency", "deadline" and "cold_start" */
typedef struct {
    ngx_uint_t                       limit;     /* 0: no concurrency */
    ngx_uint_t                       queue;
    ngx_msec_t                       queue_timeout;
    ngx_uint_t                       per;
    ngx_msec_t                       deadline;  /* 0: none */
    ngx_msec_t                       cold_start;    /* 0: none */
    ngx_msec_t                       idle;
    ngx_gateway_bulkhead_t          *node;      /* the service's, in the
                                                   zone */
} ngx_http_gateway_bulkhead_conf_t;


typedef struct ngx_http_gateway_bulkhead_call_s
    ngx_http_gateway_bulkhead_call_t;
typedef struct ngx_http_gateway_bulkheads_s  ngx_http_gateway_bulkheads_t;


char *ngx_http_gateway_concurrency(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gateway_deadline(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gateway_cold_start(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);


#endif /* _NGX_HTTP_GATEWAY_BULKHEAD_H_INCLUDED_ */
