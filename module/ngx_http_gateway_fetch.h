
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_HTTP_GATEWAY_FETCH_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_FETCH_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_gateway_http.h"
#include "ngx_gateway_lease.h"
#include "ngx_http_gateway_zone.h"


/*
 * The gateway's background HTTP(S) client: one request, one response,
 * on nginx's events (the model is nginx's OCSP client), never on a
 * client's request.  Names go through the "resolver" of the http block;
 * https verifies the certificate chain against the trusted CAs of the
 * configuration and the host name (or IP address) of the URL, with SNI.
 *
 * Configuration (once per set of trusted CAs, in an http-level directive
 * or init_main_conf):
 *
 *     ngx_http_gateway_fetch_conf_t  *fc;
 *
 *     fc = ngx_http_gateway_fetch_conf(cf, &trusted);   (len 0: the
 *                                                     system's CA bundle)
 *
 * A fetch (in a worker):
 *
 *     f = ngx_http_gateway_fetch_create(fc, cycle->log);
 *     ngx_str_set(&f->url, "http://169.254.169.254/latest/api/token");
 *     ngx_str_set(&f->method, "PUT");             (default GET)
 *     f->headers = h; f->nheaders = 1;            (ngx_keyval_t[])
 *     f->request_body = ...;                      (optional)
 *     f->max_size = 64 * 1024;                    (of the response body)
 *     f->timeout = 5000;                          (the whole fetch, ms)
 *     f->handler = my_done; f->data = me;
 *
 *     if (ngx_http_gateway_fetch_start(f) != NGX_OK) {
 *         log f->err; ngx_http_gateway_fetch_destroy(f);
 *     }
 *
 * my_done(f) is called once, from the event loop (never from within
 * _start): f->rc is NGX_OK when a whole response came (any status:
 * f->response.status, .body, .max_age, .content_type,
 * ngx_gateway_http_header(&f->response, ...)), else NGX_ERROR with f->err
 * saying why: "could not resolve \"host\" (...)", "connect() to ...
 * failed (111: Connection refused)", "TLS certificate verify failed:
 * <reason>", "timed out", "too big", "bad response: <reason>"...  The
 * handler then calls ngx_http_gateway_fetch_destroy(f), after which
 * nothing of f may be used.  _destroy cancels a fetch under way (worker
 * exit, reload): the handler is not called then.
 *
 * Everything of a fetch lives in its own pool, freed by _destroy.  No
 * request header or body, nor any response body, is ever logged (IMDS
 * tokens and credentials travel through here); f->err names the host,
 * never the path or the query.
 */


typedef struct ngx_http_gateway_fetch_s  ngx_http_gateway_fetch_t;

typedef void (*ngx_http_gateway_fetch_handler_pt)(ngx_http_gateway_fetch_t *f);


typedef struct {
#if (NGX_HTTP_SSL)
    ngx_ssl_t                         *ssl;
#endif
    ngx_http_core_loc_conf_t          *clcf;   /* http level: resolver */
} ngx_http_gateway_fetch_conf_t;


struct ngx_http_gateway_fetch_s {
    /* set by the caller */
    ngx_str_t                          url;
    ngx_str_t                          method;
    ngx_keyval_t                      *headers;
    ngx_uint_t                         nheaders;
    ngx_str_t                          request_body;
    size_t                             max_size;
    ngx_msec_t                         timeout;
    ngx_http_gateway_fetch_handler_pt  handler;
    void                              *data;

    /* the outcome, in the handler */
    ngx_int_t                          rc;
    ngx_str_t                          err;
    ngx_gateway_http_response_t        response;

    /* the client's own */
    ngx_pool_t                        *pool;
    ngx_log_t                         *log;
    ngx_http_gateway_fetch_conf_t     *conf;
    ngx_gateway_url_t                  u;
    u_char                            *host;   /* NUL-terminated */
    ngx_str_t                          request;
    size_t                             sent;
    u_char                            *buf;
    size_t                             len;
    size_t                             size;
    ngx_resolver_ctx_t                *resolve;
    ngx_addr_t                        *addrs;
    ngx_uint_t                         naddrs;
    ngx_uint_t                         naddr;
    ngx_peer_connection_t              peer;
    ngx_event_t                        timer;
    ngx_event_t                        done;
    unsigned                           connected:1;
    unsigned                           finished:1;
};


/*
 * The TLS context (with the CA file, or the system's bundle) and the
 * http block's resolver; NULL after an [emerg] was logged.
 */
ngx_http_gateway_fetch_conf_t *ngx_http_gateway_fetch_conf(ngx_conf_t *cf,
    ngx_str_t *trusted);

/*
 * NULL on memory failure.  log: the cycle's (ngx_cycle->log), never a
 * request's: a fetch outlives requests.
 */
ngx_http_gateway_fetch_t *ngx_http_gateway_fetch_create(
    ngx_http_gateway_fetch_conf_t *conf, ngx_log_t *log);

/* NGX_OK: the handler will be called; NGX_ERROR: f->err says why */
ngx_int_t ngx_http_gateway_fetch_start(ngx_http_gateway_fetch_t *f);

void ngx_http_gateway_fetch_destroy(ngx_http_gateway_fetch_t *f);


/*
 * "One fetcher per host": a lease in the zone.  _zone_object() finds or
 * makes (zeroed) a named block of the zone, kept across reloads while
 * the zone is; a lease is a field of such a block.  _lease_take() is
 * NGX_OK when this worker holds the lease for ttl ms more (taken, or
 * renewed), NGX_BUSY when another worker does; a worker that died holds
 * it no more once ttl has passed.  _lease_give_up() when done.
 */
void *ngx_http_gateway_zone_object(ngx_http_gateway_zone_t *zone,
    ngx_str_t *name, size_t size);
ngx_int_t ngx_http_gateway_lease_take(ngx_http_gateway_zone_t *zone,
    ngx_gateway_lease_t *lease, ngx_msec_t ttl);
void ngx_http_gateway_lease_give_up(ngx_http_gateway_zone_t *zone,
    ngx_gateway_lease_t *lease);


#endif /* _NGX_HTTP_GATEWAY_FETCH_H_INCLUDED_ */
