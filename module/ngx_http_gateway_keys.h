
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_HTTP_GATEWAY_KEYS_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_KEYS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gateway_jwt.h"
#include "ngx_gateway_keys.h"
#include "ngx_gateway_routes.h"
#include "ngx_http_gateway_fetch.h"


/* the largest key set or discovery document taken */
#define NGX_HTTP_GATEWAY_KEYS_MAX_SIZE  (512 * 1024)

/* the longest error text kept for the status */
#define NGX_HTTP_GATEWAY_KEYS_ERROR_LEN  256


/* a key source's state in the zone, shared by the workers */
typedef struct {
    ngx_gateway_lease_t              lease;     /* of the fetcher */
    ngx_gateway_keys_state_t         state;
    u_char                          *doc;       /* the last good set */
    size_t                           doc_len;
    u_char                          *jwks_uri;  /* discovered */
    size_t                           jwks_uri_len;
    time_t                           fetched;   /* last fetch ended */
    time_t                           loaded;    /* last good fetch */
    time_t                           failed;    /* last failure */
    size_t                           error_len;
    u_char                           error[NGX_HTTP_GATEWAY_KEYS_ERROR_LEN];
} ngx_http_gateway_keys_sh_t;


/* one "gateway_jwks_uri" or "gateway_oidc_issuer" */
typedef struct {
    ngx_str_t                        url;
    ngx_str_t                        name;      /* of its zone block */
    ngx_uint_t                       discovery;
    ngx_gateway_keys_conf_t          conf;
    ngx_msec_t                       timeout;
    u_char                          *file;      /* where it was set */
    ngx_uint_t                       line;

    /* this worker's */
    void                            *gmcf;
    ngx_http_gateway_keys_sh_t      *sh;
    ngx_event_t                      timer;
    ngx_http_gateway_fetch_t        *fetch;
    ngx_uint_t                       discovering;   /* fetch's step */
    ngx_uint_t                       generation;    /* adopted */
    ngx_pool_t                      *pool;      /* of jwks */
    ngx_gateway_jwks_t               jwks;

    /* the set before, still in the merged set until a merge succeeds */
    ngx_pool_t                      *old_pool;
    ngx_gateway_jwks_t               old_jwks;
    ngx_uint_t                       old_generation;
    ngx_uint_t                       pending;   /* adopted, not merged */
} ngx_http_gateway_keys_t;


typedef struct {
    ngx_array_t                      sources;   /* of keys_t */
    ngx_http_gateway_fetch_conf_t   *fetch;

    /* this worker's: the file's keys and every source's, together */
    ngx_gateway_jwks_t               all;
    ngx_pool_t                      *pool;      /* of all.keys */
    ngx_uint_t                       version;   /* changes of "all" */
} ngx_http_gateway_keys_main_t;


/* a request that waits for keys (in its context) */
typedef struct {
    ngx_gateway_route_match_t        match;
    ngx_msec_t                       deadline;
    ngx_uint_t                      *attempts;  /* per source: fetches
                                                   ended + 1 if waited
                                                   for, else 0 */
    unsigned                         waiting:1;
    unsigned                         resumed:1;
    unsigned                         rerun:1;
} ngx_http_gateway_keys_wait_t;


char *ngx_http_gateway_jwks_uri(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
char *ngx_http_gateway_jwks_trusted(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

#endif /* _NGX_HTTP_GATEWAY_KEYS_H_INCLUDED_ */
