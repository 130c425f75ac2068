
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_HTTP_GATEWAY_ZONE_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_ZONE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gateway_limit.h"
#include "ngx_gateway_cluster.h"
#include "ngx_gateway_retry.h"


/* bump the version on any change of what the zone holds */
#define NGX_HTTP_GATEWAY_SHM_MAGIC      0x77746167  /* "gatw" */
#define NGX_HTTP_GATEWAY_SHM_VERSION    11

#define NGX_HTTP_GATEWAY_ZONE_NAME      "gateway"
#define NGX_HTTP_GATEWAY_ZONE_SIZE      (16 * 1024 * 1024)

/* this host's name in Redis, in hex */
#define NGX_HTTP_GATEWAY_HOST_LEN       16


/* lives in the shared memory, first in the slab pool's data */
typedef struct {
    uint32_t                     magic;
    uint32_t                     version;
    time_t                       created;
    ngx_gateway_limit_sh_t       limits;
    ngx_rbtree_t                 services;   /* by service name */
    ngx_rbtree_node_t            services_sentinel;
    ngx_queue_t                  holds;      /* of holders */
    ngx_queue_t                  objects;    /* named blocks (fetch.c) */
    ngx_rbtree_t                 bulkheads;  /* by service (and caller) */
    ngx_rbtree_node_t            bulkheads_sentinel;

    /* scope=cluster: this host's keys and its view of the store */
    ngx_gateway_cluster_sh_t     cluster;
    ngx_atomic_t                 store_down;
    ngx_atomic_t                 store_retry;   /* msec of the next try */
    ngx_atomic_t                 store_errors;
    ngx_msec_t                   synced;        /* last sync answered */
    ngx_uint_t                   kick;          /* a sync is wanted */
    u_char                       host[NGX_HTTP_GATEWAY_HOST_LEN + 1];
} ngx_http_gateway_shctx_t;


/*
 * What a worker holds of the services' retry budgets, in the zone, so
 * that another worker can give back the share of one that died (see
 * ngx_http_gateway_retry.c); held[] is indexed by service index.
 */
typedef struct {
    ngx_gateway_budget_t        *budget;
    ngx_uint_t                   active;
    ngx_uint_t                   retries;
} ngx_http_gateway_hold_t;


typedef struct {
    ngx_queue_t                  queue;      /* in holds */
    ngx_pid_t                    pid;
    ngx_int_t                    slot;       /* ngx_process_slot */
    ngx_uint_t                   n;
    ngx_http_gateway_hold_t      held[1];
} ngx_http_gateway_holder_t;


/* lives in configuration memory: shm_zone->data */
typedef struct {
    ngx_http_gateway_shctx_t   *sh;
    ngx_slab_pool_t            *shpool;
    void                       *gmcf;     /* the configuration using it */

    /* this worker's, made at its first request with retries */
    ngx_http_gateway_holder_t  *holder;
    ngx_uint_t                  holder_failed;
    ngx_msec_t                  reclaimed;  /* last looked for the dead */
} ngx_http_gateway_zone_t;


char *ngx_http_gateway_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
ngx_shm_zone_t *ngx_http_gateway_zone_add(ngx_conf_t *cf, ngx_str_t *name,
    size_t size, void *gmcf);


#endif /* _NGX_HTTP_GATEWAY_ZONE_H_INCLUDED_ */
