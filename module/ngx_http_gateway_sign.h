
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_HTTP_GATEWAY_SIGN_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_SIGN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gateway_gcp.h"
#include "ngx_gateway_sigv4.h"
#include "ngx_http_gateway_fetch.h"


/*
 * Signing of calls to private functions (ngx_http_gateway_sign.c), and
 * the credentials fetched in the background for it
 * (ngx_http_gateway_sign_refresh.c).
 */


#define NGX_HTTP_GATEWAY_SIGN_AWS        1
#define NGX_HTTP_GATEWAY_SIGN_GCP        2

/* where the keys, or the tokens, come from */
#define NGX_HTTP_GATEWAY_CREDS_ENV       1
#define NGX_HTTP_GATEWAY_CREDS_FILE      2     /* AWS credentials file */
#define NGX_HTTP_GATEWAY_CREDS_IMDS      3
#define NGX_HTTP_GATEWAY_CREDS_METADATA  4     /* GCP metadata server */
#define NGX_HTTP_GATEWAY_CREDS_KEY       5     /* GCP service account key */

/* keys and tokens fetched, at most */
#define NGX_HTTP_GATEWAY_SIGN_DATA       8192

#define NGX_HTTP_GATEWAY_SIGN_ERROR      192

/* the request headers of a signature, in the order they are set */
#define NGX_HTTP_GATEWAY_SIGN_DATE           0
#define NGX_HTTP_GATEWAY_SIGN_CONTENT_SHA256 1
#define NGX_HTTP_GATEWAY_SIGN_TOKEN          2
#define NGX_HTTP_GATEWAY_SIGN_AUTHORIZATION  3
#define NGX_HTTP_GATEWAY_SIGN_HEADERS        4


/*
 * What one worker fetched for a service, for all of them: in a named
 * block of the zone, under the zone's mutex.  data holds the access key
 * id, the secret and the token (AWS), or the ID token (len[2], Google).
 */
typedef struct {
    ngx_gateway_lease_t             lease;      /* who fetches */
    ngx_uint_t                      generation; /* 0: nothing yet */
    time_t                          fetched;
    time_t                          expires;
    time_t                          refresh;    /* fetched again after */
    ngx_msec_t                      retry;      /* not before, failing */
    ngx_uint_t                      failures;   /* in a row */
    ngx_uint_t                      fetches;
    time_t                          error_time;
    size_t                          error_len;
    u_char                          error[NGX_HTTP_GATEWAY_SIGN_ERROR];
    size_t                          len[3];
    u_char                          data[NGX_HTTP_GATEWAY_SIGN_DATA];
} ngx_http_gateway_sign_shared_t;


struct ngx_http_gateway_sign_s {
    ngx_uint_t                      type;
    ngx_uint_t                      source;
    ngx_str_t                       region;
    ngx_str_t                       service;
    ngx_str_t                       file;
    ngx_str_t                       profile;
    ngx_str_t                       endpoint;   /* IMDS, metadata server */
    ngx_str_t                       audience;
    ngx_str_t                       host;       /* as the proxy sends it */
    ngx_uint_t                      unsigned_payload;
    ngx_gateway_gcp_key_t           key_file;
    ngx_str_t                       name;       /* of the block in the zone */
    ngx_http_gateway_fetch_conf_t  *fetch_conf;
    ngx_str_t                      *service_name;
    ngx_http_gateway_header_t       headers[NGX_HTTP_GATEWAY_SIGN_HEADERS];

    /* this worker's */
    ngx_gateway_aws_credentials_t   creds;
    ngx_str_t                       token;      /* Google's ID token */
    ngx_uint_t                      have;
    time_t                          expires;    /* 0: never */
    ngx_gateway_sigv4_key_t         key;
    ngx_pool_t                     *pool;       /* keys read at run time */
    time_t                          checked;    /* the file last looked at */
    ngx_file_uniq_t                 uniq;
    time_t                          mtime;
    off_t                           size;
    time_t                          loaded;
    u_char                          error[NGX_HTTP_GATEWAY_SIGN_ERROR];
    size_t                          error_len;
    time_t                          error_time;
    time_t                          logged;     /* a refusal, once a second */
    unsigned                        env_tried:1;

    /* this worker's, for what is fetched */
    ngx_http_gateway_zone_t        *zone;
    ngx_http_gateway_sign_shared_t *sh;
    u_char                         *local;      /* a copy of sh->data */
    ngx_uint_t                      generation; /* of the copy */
    ngx_event_t                     tick;
    ngx_http_gateway_fetch_t       *fetch;      /* under way */
    ngx_pool_t                     *steps;      /* of a refresh's fetches */
    ngx_uint_t                      step;
    ngx_str_t                       imds_token;
    ngx_str_t                       role;
};


struct ngx_http_gateway_sign_ctx_s {
    ngx_str_t                       payload;    /* hashed once */
    ngx_uint_t                      attempts;
    unsigned                        current:1;  /* this attempt signed */
};


/* ngx_http_gateway_sign_refresh.c */

ngx_int_t ngx_http_gateway_sign_refresh_init(ngx_conf_t *cf,
    ngx_http_gateway_sign_t *sc);
/* leader: a service before with the same block, whose fetcher it uses */
ngx_int_t ngx_http_gateway_sign_refresh_start(ngx_cycle_t *cycle,
    ngx_http_gateway_sign_t *sc, ngx_shm_zone_t *shm_zone,
    ngx_http_gateway_sign_t *leader);
void ngx_http_gateway_sign_refresh_stop(ngx_http_gateway_sign_t *sc);

/* NGX_OK when the worker's copy is fresh and not expired */
ngx_int_t ngx_http_gateway_sign_fetched(ngx_http_gateway_sign_t *sc);

/* seconds until the next fetch (for Retry-After), at least 1 */
ngx_msec_t ngx_http_gateway_sign_retry_in(ngx_http_gateway_sign_t *sc);

/* what gateway_status shows of the fetched credentials (a json_t *) */
ngx_int_t ngx_http_gateway_sign_refresh_status(ngx_http_gateway_sign_t *sc,
    void *json);


#endif /* _NGX_HTTP_GATEWAY_SIGN_H_INCLUDED_ */
