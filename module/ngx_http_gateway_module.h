
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_HTTP_GATEWAY_MODULE_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <openssl/evp.h>
#include "ngx_gateway_breaker.h"
#include "ngx_http_gateway_bulkhead.h"
#include "ngx_gateway_cache.h"
#include "ngx_gateway_cluster.h"
#include "ngx_gateway_consumers.h"
#include "ngx_gateway_jwt.h"
#include "ngx_gateway_limit.h"
#include "ngx_gateway_parse.h"
#include "ngx_http_gateway_problem.h"
#include "ngx_gateway_retry.h"
#include "ngx_gateway_routes.h"
#include "ngx_http_gateway_zone.h"
#include "ngx_http_gateway_keys.h"


/* "auth" modes, as bits */
#define NGX_HTTP_GATEWAY_AUTH_OFF       0x01
#define NGX_HTTP_GATEWAY_AUTH_APIKEY    0x02
#define NGX_HTTP_GATEWAY_AUTH_JWT       0x04


/* a request header the gateway adds, named once at configuration */
typedef struct {
    ngx_str_t                        key;
    ngx_str_t                        lowcase;
    ngx_uint_t                       hash;      /* of lowcase */
} ngx_http_gateway_header_t;


typedef ngx_uint_t (*ngx_http_gateway_header_pt)(ngx_table_elt_t *h,
    void *data);


typedef struct {
    ngx_str_t                        claim;
    ngx_http_gateway_header_t        header;
} ngx_http_gateway_claim_header_t;


typedef struct {
    ngx_uint_t                       modes;     /* unset: the default */
    ngx_str_t                        apikey_header;
    ngx_str_t                        apikey_challenge;  /* of a 401 */
    ngx_str_t                        apikey_query;  /* len 0: refused */
    ngx_gateway_jwt_policy_t         jwt;
    ngx_array_t                     *claim_headers;
    ngx_flag_t                       jwt_forward_token;
    ngx_flag_t                       method_override;

    /* request headers removed before proxying: lower case names */
    ngx_array_t                      drop;
    ngx_str_t                        drop_prefix;   /* and all these */
} ngx_http_gateway_auth_t;


#define NGX_HTTP_GATEWAY_LIMIT_PER_CONSUMER  0
#define NGX_HTTP_GATEWAY_LIMIT_PER_IP        1
#define NGX_HTTP_GATEWAY_LIMIT_PER_SERVICE   2


/* "rate_limit" lines a service may have */
#define NGX_HTTP_GATEWAY_LIMITS_MAX          8


typedef struct {
    ngx_uint_t                       rate;
    ngx_uint_t                       burst;
    ngx_uint_t                       per;
    ngx_uint_t                       status;
    ngx_uint_t                       dry_run;
    ngx_uint_t                       cluster;   /* scope=cluster */
    ngx_msec_t                       sync;      /* 0: sync=strict */
    ngx_uint_t                       on_error;  /* on_store_error= */
} ngx_http_gateway_limit_conf_t;


/* a request's decision on one "rate_limit" line */
typedef struct {
    ngx_http_gateway_limit_conf_t   *lc;
    ngx_uint_t                       number;    /* 1-based, names it */
    ngx_str_t                        key;
    ngx_gateway_bucket_t            *bucket;
    ngx_gateway_bucket_t             taken;     /* the bucket after */
    ngx_int_t                        rc;
    ngx_uint_t                       remaining;
    ngx_msec_t                       reset;
    ngx_msec_t                       retry;

    /* scope=cluster */
    ngx_str_t                        redis_key;
    ngx_gateway_cluster_node_t      *node;
    ngx_gateway_cluster_strict_t     strict;
    unsigned                         answered:1;  /* strict, by Redis */
    unsigned                         decided:1;
    unsigned                         fallback:1;
    unsigned                         kick:1;
} ngx_http_gateway_limit_check_t;


/* a request's decisions on all the lines of its service */
typedef struct {
    ngx_uint_t                       n;
    ngx_uint_t                       refused;   /* a line, or n: none */
    ngx_uint_t                       full;      /* a line, or n: none */
    ngx_http_gateway_limit_conf_t    own;       /* a consumer's limit */
    ngx_http_gateway_limit_check_t   lk[NGX_HTTP_GATEWAY_LIMITS_MAX + 1];
} ngx_http_gateway_limits_t;


/* per service, in the zone: they only grow, updated with atomics */
typedef struct {
    ngx_atomic_t                     requests;      /* routed */
    ngx_atomic_t                     unauthorized;  /* 401 */
    ngx_atomic_t                     forbidden;     /* 403 */
    ngx_atomic_t                     limited;       /* rate limit */
    ngx_atomic_t                     refused;       /* open breaker */
    ngx_atomic_t                     successes;     /* attempts: */
    ngx_atomic_t                     errors;
    ngx_atomic_t                     timeouts;
    ngx_atomic_t                     failed;        /* 5xx */
    ngx_atomic_t                     throttled;     /* 429 */
    ngx_atomic_t                     retries;
    ngx_atomic_t                     retries_refused;  /* no budget */
    ngx_atomic_t                     fallbacks;     /* Redis away */
} ngx_http_gateway_counters_t;


typedef struct {
    ngx_uint_t                       max;       /* 0: no retries */
    ngx_uint_t                       on;
    ngx_msec_t                       base;
    ngx_msec_t                       cap;
    ngx_uint_t                       budget;    /* percent */
    ngx_uint_t                       methods;   /* GET, HEAD, OPTIONS */
    ngx_str_t                        idempotency_header;
} ngx_http_gateway_retries_conf_t;


/* what a breaker counts as failures, besides statuses */
#define NGX_HTTP_GATEWAY_FAIL_ERROR          0x01
#define NGX_HTTP_GATEWAY_FAIL_TIMEOUT        0x02


typedef struct ngx_http_gateway_sign_s  ngx_http_gateway_sign_t;
typedef struct ngx_http_gateway_sign_ctx_s  ngx_http_gateway_sign_ctx_t;


typedef struct {
    ngx_str_t                        name;
    ngx_uint_t                       index;     /* in the services array */
    ngx_gateway_endpoint_t           endpoint;
    ngx_http_upstream_srv_conf_t    *upstream;
    ngx_http_gateway_auth_t          auth;
    ngx_array_t                      limits;    /* of limit_conf_t */

    ngx_gateway_breaker_conf_t       breaker;
    ngx_uint_t                       breaker_on;
    ngx_uint_t                       breaker_failures;
    u_char                           breaker_codes[13];  /* 500-599 */
    ngx_gateway_breaker_t           *circuit;   /* in the zone */
    ngx_atomic_t                    *circuit_lock;  /* in the zone */
    ngx_http_gateway_counters_t     *counters;  /* in the zone */

    ngx_http_gateway_retries_conf_t  retries;
    ngx_gateway_budget_t            *budget;    /* in the zone */

    ngx_http_gateway_sign_t         *sign;      /* NULL: calls unsigned */
    ngx_http_gateway_bulkhead_conf_t  *bulkhead;    /* NULL: none */

    u_char                          *file;      /* where it was declared */
    ngx_uint_t                       line;
} ngx_http_gateway_service_t;


typedef struct ngx_http_gateway_store_s  ngx_http_gateway_store_t;


typedef struct {
    ngx_array_t                      services;  /* of service pointers */
    ngx_hash_t                       services_hash;
    ngx_hash_keys_arrays_t          *services_keys;  /* config time only */

    ngx_shm_zone_t                  *shm_zone;
    ngx_http_gateway_store_t        *store;     /* gateway_store */

    ngx_uint_t                       default_auth;
    ngx_gateway_consumers_t         *consumers;
    ngx_str_t                        consumers_file;
    u_char                          *consumers_conf_file;  /* nginx.conf */
    ngx_uint_t                       consumers_conf_line;
    ngx_gateway_jwks_t              *jwks;
    ngx_str_t                        jwks_file;
    ngx_http_gateway_keys_main_t    *keys;      /* gateway_jwks_uri... */
    ngx_str_t                        keys_trusted;
    ngx_uint_t                       jwt_cache_size;
    ngx_gateway_cache_t             *jwt_cache;     /* per worker */
    EVP_MD                          *sha256;        /* per worker */
    ngx_msec_t                       limit_alert;   /* per worker */
    ngx_http_gateway_bulkheads_t    *bulkheads;     /* NULL: none */

    ngx_http_gateway_header_t        service_header;
    ngx_http_gateway_header_t        consumer_header;
    ngx_http_gateway_header_t        auth_header;
    ngx_http_gateway_header_t        subject_header;
    ngx_http_gateway_header_t        issuer_header;

    ngx_int_t                        service_index;   /* variables */
    ngx_int_t                        route_index;
    ngx_int_t                        target_index;
    ngx_int_t                        consumer_index;
    ngx_int_t                        auth_index;
    ngx_int_t                        subject_index;
    ngx_int_t                        issuer_index;
    ngx_int_t                        remaining_index;
    ngx_int_t                        breaker_index;
    ngx_int_t                        retries_index;
} ngx_http_gateway_main_conf_t;


/* this host's view of the store of cluster rate limits */
typedef struct {
    ngx_uint_t                       up;
    ngx_uint_t                       errors;
    ngx_uint_t                       hosts;     /* 0: not counted yet */
    ngx_msec_t                       lag;
} ngx_http_gateway_store_view_t;


typedef struct {
    ngx_array_t                     *routes;    /* of route pointers */
    ngx_gateway_route_table_t       *table;
    ngx_array_t                     *proxy_headers;  /* checked, at
                                                        configuration */
} ngx_http_gateway_loc_conf_t;


/* a request that asked Redis for its strict lines */
typedef struct {
    ngx_gateway_route_match_t        match;
    ngx_uint_t                       decided;
    ngx_uint_t                       resumed;
    u_char                           answered[NGX_HTTP_GATEWAY_LIMITS_MAX + 1];
    ngx_gateway_cluster_strict_t     strict[NGX_HTTP_GATEWAY_LIMITS_MAX + 1];
} ngx_http_gateway_cluster_req_t;


typedef struct ngx_http_gateway_retry_s  ngx_http_gateway_retry_t;
typedef struct ngx_http_gateway_breaker_call_s
    ngx_http_gateway_breaker_call_t;


typedef struct {
    ngx_http_gateway_service_t      *service;
    ngx_gateway_route_t             *route;
    ngx_str_t                       *params;    /* as route->params */
    ngx_str_t                        target;

    ngx_str_t                        auth;      /* "off", "apikey", "jwt" */
    ngx_str_t                        consumer;  /* id; len 0: not listed */
    ngx_gateway_consumer_t          *consumer_entry;  /* NULL: not listed */
    ngx_str_t                        subject;   /* of a token */
    ngx_str_t                        issuer;
    ngx_str_t                       *claims;    /* as auth.claim_headers */
    ngx_str_t                        drop_arg;  /* query key to remove */

    ngx_http_gateway_retry_t        *retry;
    ngx_http_gateway_breaker_call_t *call;      /* of the breaker */
    ngx_http_gateway_sign_ctx_t     *sign;
    ngx_http_gateway_bulkhead_call_t  *bulk;    /* NULL: none */
    ngx_http_gateway_cluster_req_t  *cluster;   /* strict lines asked */

    ngx_gateway_route_match_t       *match;     /* valid only while the
                                                   phase handler runs */
    ngx_http_gateway_keys_wait_t    *keys_wait; /* waited for keys */
} ngx_http_gateway_ctx_t;


/* a request's retries: in a cleanup of its pool, across redirects */
struct ngx_http_gateway_retry_s {
    ngx_http_request_t              *request;
    ngx_http_gateway_ctx_t          *ctx;       /* of the first attempt */
    ngx_http_gateway_main_conf_t    *gmcf;
    ngx_event_t                      timer;     /* the backoff */
    ngx_str_t                        uri;       /* what error_page may */
    ngx_str_t                        args;      /* change, as the client */
    ngx_str_t                        method_name;   /* sent them */
    ngx_uint_t                       method;
    ngx_uint_t                       attempt;   /* retries so far */
    ngx_uint_t                       decided;   /* upstream states seen */
    unsigned                         budget:1;  /* a budget slot held */
    unsigned                         swallow:1; /* this response is not
                                                   the client's */
    unsigned                         resuming:1;
};


#define NGX_HTTP_GATEWAY_HEADER_PREFIX  "x-gateway-"


ngx_int_t ngx_http_gateway_route_request(ngx_http_request_t *r,
    ngx_http_gateway_loc_conf_t *glcf, ngx_gateway_route_match_t *m,
    ngx_http_gateway_ctx_t **ctxp);
ngx_int_t ngx_http_gateway_set_target(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_gateway_route_match_t *m);
char *ngx_http_gateway_route(ngx_conf_t *cf, ngx_command_t *cmd, void *conf);
char *ngx_http_gateway_build_routes(ngx_conf_t *cf,
    ngx_http_gateway_loc_conf_t *glcf);
void ngx_http_gateway_check_proxy(ngx_conf_t *cf,
    ngx_http_gateway_loc_conf_t *glcf, ngx_http_gateway_loc_conf_t *prev);

ngx_int_t ngx_http_gateway_set_headers(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx);
ngx_uint_t ngx_http_gateway_request_header(ngx_http_request_t *r,
    ngx_str_t *name, ngx_table_elt_t **h);
ngx_int_t ngx_http_gateway_header_init(ngx_pool_t *pool,
    ngx_http_gateway_header_t *h, ngx_str_t *name);
ngx_int_t ngx_http_gateway_add_request_header(ngx_http_request_t *r,
    ngx_http_gateway_header_t *name, ngx_str_t *value);
/* removes the request headers drop(h, data) takes: the client's, and an
 * attempt's signature on a retry */
ngx_int_t ngx_http_gateway_remove_request_headers(ngx_http_request_t *r,
    ngx_http_gateway_header_pt drop, void *data);
ngx_uint_t ngx_http_gateway_header_name_is(ngx_str_t *name, u_char *lowcase,
    size_t len);

char *ngx_http_gateway_conf_bounds(ngx_conf_t *cf, void *post, void *data);

char *ngx_http_gateway_service_block(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_http_gateway_service_t *ngx_http_gateway_service_find(
    ngx_http_gateway_main_conf_t *gmcf, ngx_str_t *name);
ngx_int_t ngx_http_gateway_services_init(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf);

char *ngx_http_gateway_auth_modes(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gateway_auth_file(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gateway_jwt_audience(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gateway_jwt_algorithms(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gateway_jwt_claim_headers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
void ngx_http_gateway_auth_create(ngx_http_gateway_auth_t *auth);
ngx_int_t ngx_http_gateway_auth_init(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf);
ngx_int_t ngx_http_gateway_auth_init_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_gateway_authenticate(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx);
ngx_int_t ngx_http_gateway_auth_headers(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx);

char *ngx_http_gateway_rate_limit(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_gateway_rate_limit_init(ngx_conf_t *cf,
    ngx_http_gateway_service_t *s);
ngx_int_t ngx_http_gateway_rate_limit_prepare(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx, ngx_http_gateway_limits_t *lim);
void ngx_http_gateway_rate_limit_take(ngx_http_request_t *r,
    ngx_http_gateway_zone_t *zone, ngx_http_gateway_ctx_t *ctx,
    ngx_http_gateway_limits_t *lim);
ngx_int_t ngx_http_gateway_rate_limit_answer(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_http_gateway_limits_t *lim);

char *ngx_http_gateway_store(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_gateway_cluster_init(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_service_t *s);
ngx_int_t ngx_http_gateway_cluster_init_process(ngx_cycle_t *cycle);
void ngx_http_gateway_cluster_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_gateway_cluster_strict(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_http_gateway_limits_t *lim, ngx_gateway_route_match_t *m);
void ngx_http_gateway_cluster_take(ngx_http_gateway_zone_t *zone,
    ngx_http_gateway_limit_check_t *lk);
void ngx_http_gateway_cluster_refund(ngx_http_gateway_main_conf_t *gmcf,
    ngx_http_gateway_limits_t *lim);
void ngx_http_gateway_cluster_commit(ngx_http_gateway_zone_t *zone,
    ngx_http_gateway_service_t *s, ngx_http_gateway_limit_check_t *lk,
    ngx_uint_t admitted);
ngx_int_t ngx_http_gateway_cluster_key(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_http_gateway_limit_check_t *lk, ngx_str_t *who);
void ngx_http_gateway_cluster_status(ngx_http_gateway_main_conf_t *gmcf,
    ngx_http_gateway_store_view_t *view);

char *ngx_http_gateway_breaker(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
/* how an attempt of the proxy ended */
#define NGX_HTTP_GATEWAY_ATTEMPT_RESPONSE  0
#define NGX_HTTP_GATEWAY_ATTEMPT_ERROR     1
#define NGX_HTTP_GATEWAY_ATTEMPT_TIMEOUT   2

ngx_uint_t ngx_http_gateway_attempt_failure(ngx_http_upstream_state_t *state);
ngx_int_t ngx_http_gateway_breaker_admit(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_gateway_route_match_t *m);
void ngx_http_gateway_breaker_attempt(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx);
ngx_uint_t ngx_http_gateway_breaker_probe(ngx_http_gateway_ctx_t *ctx);
ngx_int_t ngx_http_gateway_breaker_retry(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx);
void ngx_http_gateway_breaker_lock(ngx_http_gateway_service_t *s);
void ngx_http_gateway_breaker_unlock(ngx_http_gateway_service_t *s);
/* the breaker's spinlock on any lock word of the zone (bulkhead holders) */
void ngx_http_gateway_shm_lock(ngx_atomic_t *lock);
void ngx_http_gateway_shm_unlock(ngx_atomic_t *lock);
ngx_int_t ngx_http_gateway_breaker_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_gateway_main_conf_t *gmcf);

char *ngx_http_gateway_status(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

ngx_int_t ngx_http_gateway_keys_init(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf);
ngx_str_t *ngx_http_gateway_keys_issuer(ngx_http_gateway_main_conf_t *gmcf);
ngx_int_t ngx_http_gateway_keys_init_process(ngx_cycle_t *cycle,
    ngx_http_gateway_main_conf_t *gmcf);
void ngx_http_gateway_keys_exit_process(ngx_cycle_t *cycle);
ngx_gateway_jwks_t *ngx_http_gateway_keys_current(
    ngx_http_gateway_main_conf_t *gmcf, ngx_log_t *log);
ngx_uint_t ngx_http_gateway_keys_version(ngx_http_gateway_main_conf_t *gmcf);
ngx_int_t ngx_http_gateway_keys_missing(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx);
ngx_int_t ngx_http_gateway_keys_unknown(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx);
ngx_int_t ngx_http_gateway_keys_resume(ngx_http_gateway_ctx_t *ctx,
    ngx_gateway_route_match_t *m);
ngx_int_t ngx_http_gateway_keys_status_json(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, void *root);
size_t ngx_http_gateway_keys_status_len(ngx_http_gateway_main_conf_t *gmcf);
u_char *ngx_http_gateway_keys_status_text(ngx_http_gateway_main_conf_t *gmcf,
    u_char *p);

char *ngx_http_gateway_retries(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_gateway_retries_init(ngx_conf_t *cf);
ngx_int_t ngx_http_gateway_retries_begin(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx);
void ngx_http_gateway_retries_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_gateway_retries_resume(ngx_http_request_t *r);

char *ngx_http_gateway_sign_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
ngx_int_t ngx_http_gateway_sign_init(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf);
ngx_int_t ngx_http_gateway_sign_ready(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx);
ngx_int_t ngx_http_gateway_sign_pending(ngx_http_request_t *r,
    ngx_http_gateway_ctx_t *ctx);
void ngx_http_gateway_sign_next(ngx_http_gateway_ctx_t *ctx);
/* a jansson object for gateway_status, of a service that signs */
void *ngx_http_gateway_sign_status(ngx_http_gateway_service_t *s);
ngx_int_t ngx_http_gateway_sign_init_process(ngx_cycle_t *cycle);
void ngx_http_gateway_sign_exit_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_gateway_bulkhead_begin(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx);
ngx_int_t ngx_http_gateway_bulkhead_resume(ngx_http_request_t *r);
ngx_int_t ngx_http_gateway_bulkhead_retry(ngx_http_request_t *r,
    ngx_msec_t delay);
ngx_uint_t ngx_http_gateway_bulkhead_cold_timeout(ngx_http_request_t *r,
    ngx_uint_t i, ngx_http_upstream_state_t *state);
ngx_int_t ngx_http_gateway_bulkheads_init(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf);
ngx_int_t ngx_http_gateway_bulkheads_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_gateway_main_conf_t *gmcf);
ngx_int_t ngx_http_gateway_bulkhead_add_variables(ngx_conf_t *cf);
ngx_int_t ngx_http_gateway_bulkheads_init_process(ngx_cycle_t *cycle);
ngx_int_t ngx_http_gateway_bulkhead_json(ngx_http_gateway_main_conf_t *gmcf,
    ngx_http_gateway_service_t *s, void *obj);
void ngx_http_gateway_bulkhead_gauges(ngx_http_gateway_main_conf_t *gmcf,
    ngx_http_gateway_service_t *s, ngx_uint_t *in_flight,
    ngx_uint_t *queued);
u_char *ngx_http_gateway_bulkhead_prometheus(
    ngx_http_gateway_main_conf_t *gmcf, u_char *p, ngx_array_t *services,
    size_t stride);

#define ngx_http_gateway_count(s, field)                                      \
    (void) ngx_atomic_fetch_add(&(s)->counters->field, 1)

ngx_int_t ngx_http_gateway_add_variables(ngx_conf_t *cf);
void ngx_http_gateway_set_variable(ngx_http_request_t *r, ngx_int_t index,
    ngx_str_t *value);


extern ngx_module_t  ngx_http_gateway_module;


#endif /* _NGX_HTTP_GATEWAY_MODULE_H_INCLUDED_ */
