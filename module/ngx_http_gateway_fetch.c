
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_fetch.h"


/* a named block of the zone (ngx_http_gateway_zone_object()) */
typedef struct {
    ngx_queue_t                  queue;
    size_t                       size;
    ngx_str_t                    name;
} ngx_http_gateway_object_t;


static void ngx_http_gateway_fetch_resolve_handler(ngx_resolver_ctx_t *rctx);
static void ngx_http_gateway_fetch_connect(ngx_http_gateway_fetch_t *f);
static void ngx_http_gateway_fetch_next(ngx_http_gateway_fetch_t *f,
    ngx_err_t err, const char *what);
#if (NGX_HTTP_SSL)
static void ngx_http_gateway_fetch_ssl_init(ngx_http_gateway_fetch_t *f);
static void ngx_http_gateway_fetch_ssl_handshake(ngx_connection_t *c);
#endif
static ngx_int_t ngx_http_gateway_fetch_test_connect(ngx_connection_t *c);
static void ngx_http_gateway_fetch_write_handler(ngx_event_t *wev);
static void ngx_http_gateway_fetch_read_handler(ngx_event_t *rev);
static void ngx_http_gateway_fetch_dummy_handler(ngx_event_t *ev);
static void ngx_http_gateway_fetch_timeout(ngx_event_t *ev);
static void ngx_http_gateway_fetch_done_handler(ngx_event_t *ev);
static void ngx_http_gateway_fetch_finish(ngx_http_gateway_fetch_t *f,
    ngx_int_t rc);
static void ngx_http_gateway_fetch_error(ngx_http_gateway_fetch_t *f,
    ngx_err_t err, const char *fmt, ...);
static void ngx_http_gateway_fetch_close(ngx_http_gateway_fetch_t *f);
static u_char *ngx_http_gateway_fetch_log_error(ngx_log_t *log, u_char *buf,
    size_t len);


ngx_http_gateway_fetch_conf_t *
ngx_http_gateway_fetch_conf(ngx_conf_t *cf, ngx_str_t *trusted)
{
    ngx_http_gateway_fetch_conf_t  *fc;
#if (NGX_HTTP_SSL)
    ngx_str_t                       file;
    ngx_pool_cleanup_t             *cln;
#endif

    fc = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_fetch_conf_t));
    if (fc == NULL) {
        return NULL;
    }

    /* the http block's: its "resolver" is known once it is merged */
    fc->clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

#if (NGX_HTTP_SSL)

    fc->ssl = ngx_pcalloc(cf->pool, sizeof(ngx_ssl_t));
    if (fc->ssl == NULL) {
        return NULL;
    }

    fc->ssl->log = cf->log;

    if (ngx_ssl_create(fc->ssl, NGX_SSL_TLSv1_2|NGX_SSL_TLSv1_3, NULL)
        != NGX_OK)
    {
        return NULL;
    }

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_ssl_cleanup_ctx(fc->ssl);
        return NULL;
    }

    cln->handler = ngx_ssl_cleanup_ctx;
    cln->data = fc->ssl;

    /* a copy: the call makes the name a full path in place */

    file = *trusted;

    if (ngx_ssl_trusted_certificate(cf, fc->ssl, &file, 10) != NGX_OK) {
        return NULL;
    }

    if (trusted->len == 0
        && SSL_CTX_set_default_verify_paths(fc->ssl->ctx) != 1)
    {
        ngx_ssl_error(NGX_LOG_EMERG, cf->log, 0,
                      "SSL_CTX_set_default_verify_paths() failed");
        return NULL;
    }

#endif

    return fc;
}


ngx_http_gateway_fetch_t *
ngx_http_gateway_fetch_create(ngx_http_gateway_fetch_conf_t *conf,
    ngx_log_t *log)
{
    ngx_pool_t                *pool;
    ngx_log_t                 *flog;
    ngx_http_gateway_fetch_t  *f;

    pool = ngx_create_pool(4096, log);
    if (pool == NULL) {
        return NULL;
    }

    f = ngx_pcalloc(pool, sizeof(ngx_http_gateway_fetch_t));
    flog = ngx_palloc(pool, sizeof(ngx_log_t));

    if (f == NULL || flog == NULL) {
        ngx_destroy_pool(pool);
        return NULL;
    }

    *flog = *log;
    flog->handler = ngx_http_gateway_fetch_log_error;
    flog->data = f;
    flog->action = "fetching";
    pool->log = flog;

    f->pool = pool;
    f->log = flog;
    f->conf = conf;
    f->rc = NGX_ERROR;

    ngx_str_set(&f->method, "GET");

    f->timer.handler = ngx_http_gateway_fetch_timeout;
    f->timer.data = f;
    f->timer.log = flog;
    f->timer.cancelable = 1;

    f->done.handler = ngx_http_gateway_fetch_done_handler;
    f->done.data = f;
    f->done.log = flog;

    return f;
}


ngx_int_t
ngx_http_gateway_fetch_start(ngx_http_gateway_fetch_t *f)
{
    char                *err;
    ngx_int_t            rc;
    ngx_addr_t          *addr;
    ngx_resolver_t      *resolver;
    ngx_resolver_ctx_t  *rctx, temp;

    if (ngx_gateway_url_parse(&f->url, &f->u, &err) != NGX_OK) {
        ngx_str_set(&f->err, "invalid URL");
        return NGX_ERROR;
    }

#if !(NGX_HTTP_SSL)
    if (f->u.ssl) {
        ngx_str_set(&f->err, "https needs nginx built with SSL");
        return NGX_ERROR;
    }
#endif

    rc = ngx_gateway_http_request(f->pool, &f->method, &f->u, f->headers,
                                  f->nheaders,
                                  f->request_body.len ? &f->request_body
                                                      : NULL,
                                  &f->request, &err);
    if (rc != NGX_OK) {
        if (rc == NGX_DECLINED) {
            f->err.data = (u_char *) err;
            f->err.len = ngx_strlen(err);

        } else {
            ngx_str_set(&f->err, "no memory");
        }

        return NGX_ERROR;
    }

    f->host = ngx_pnalloc(f->pool, f->u.host.len + 1);
    if (f->host == NULL) {
        ngx_str_set(&f->err, "no memory");
        return NGX_ERROR;
    }

    ngx_cpystrn(f->host, f->u.host.data, f->u.host.len + 1);

    f->response.max_size = f->max_size;
    ngx_gateway_http_response_init(&f->response);

    if (f->timeout) {
        ngx_add_timer(&f->timer, f->timeout);
    }

    if (f->u.ip) {
        addr = ngx_pcalloc(f->pool, sizeof(ngx_addr_t));
        if (addr == NULL
            || ngx_parse_addr(f->pool, addr, f->u.host.data, f->u.host.len)
               != NGX_OK)
        {
            ngx_str_set(&f->err, "invalid address");
            return NGX_ERROR;
        }

        ngx_inet_set_port(addr->sockaddr, f->u.port);

        addr->name.data = ngx_pnalloc(f->pool, NGX_SOCKADDR_STRLEN);
        if (addr->name.data == NULL) {
            ngx_str_set(&f->err, "no memory");
            return NGX_ERROR;
        }

        addr->name.len = ngx_sock_ntop(addr->sockaddr, addr->socklen,
                                       addr->name.data, NGX_SOCKADDR_STRLEN,
                                       1);
        f->addrs = addr;
        f->naddrs = 1;

        /* connected from the event loop, as any other outcome is */

        ngx_post_event(&f->done, &ngx_posted_events);

        return NGX_OK;
    }

    resolver = f->conf->clcf->resolver;

    temp.name = f->u.host;

    rctx = (resolver && resolver != NGX_CONF_UNSET_PTR)
           ? ngx_resolve_start(resolver, &temp) : NGX_NO_RESOLVER;

    if (rctx == NULL) {
        ngx_str_set(&f->err, "no memory");
        return NGX_ERROR;
    }

    if (rctx == NGX_NO_RESOLVER) {
        f->err.data = ngx_pnalloc(f->pool, f->u.host.len + 64);
        if (f->err.data == NULL) {
            ngx_str_set(&f->err, "no memory");
            return NGX_ERROR;
        }

        f->err.len = ngx_sprintf(f->err.data, "no \"resolver\" to resolve "
                                 "\"%V\"", &f->u.host)
                     - f->err.data;
        return NGX_ERROR;
    }

    rctx->name = f->u.host;
    rctx->handler = ngx_http_gateway_fetch_resolve_handler;
    rctx->data = f;
    rctx->timeout = f->conf->clcf->resolver_timeout;
    rctx->cancelable = 1;

    f->resolve = rctx;

    if (ngx_resolve_name(rctx) != NGX_OK) {
        f->resolve = NULL;
        ngx_str_set(&f->err, "could not start resolving");
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_gateway_fetch_resolve_handler(ngx_resolver_ctx_t *rctx)
{
    ngx_http_gateway_fetch_t  *f = rctx->data;

    size_t      len;
    ngx_uint_t  i;

    f->resolve = NULL;

    if (rctx->state) {
        ngx_http_gateway_fetch_error(f, 0, "could not resolve \"%V\" (%i: %s)",
                                     &rctx->name, rctx->state,
                                     ngx_resolver_strerror(rctx->state));
        ngx_resolve_name_done(rctx);
        return;
    }

    f->naddrs = rctx->naddrs;
    f->addrs = ngx_pcalloc(f->pool, f->naddrs * sizeof(ngx_addr_t));
    if (f->addrs == NULL) {
        goto failed;
    }

    for (i = 0; i < rctx->naddrs; i++) {
        len = rctx->addrs[i].socklen;

        f->addrs[i].sockaddr = ngx_palloc(f->pool, len);
        f->addrs[i].name.data = ngx_pnalloc(f->pool, NGX_SOCKADDR_STRLEN);

        if (f->addrs[i].sockaddr == NULL || f->addrs[i].name.data == NULL) {
            goto failed;
        }

        ngx_memcpy(f->addrs[i].sockaddr, rctx->addrs[i].sockaddr, len);
        ngx_inet_set_port(f->addrs[i].sockaddr, f->u.port);
        f->addrs[i].socklen = len;
        f->addrs[i].name.len = ngx_sock_ntop(f->addrs[i].sockaddr, len,
                                             f->addrs[i].name.data,
                                             NGX_SOCKADDR_STRLEN, 1);
    }

    ngx_resolve_name_done(rctx);

    ngx_http_gateway_fetch_connect(f);
    return;

failed:

    ngx_resolve_name_done(rctx);
    ngx_http_gateway_fetch_error(f, 0, "no memory");
}


static void
ngx_http_gateway_fetch_connect(ngx_http_gateway_fetch_t *f)
{
    ngx_int_t          rc;
    ngx_addr_t        *addr;
    ngx_connection_t  *c;

    addr = &f->addrs[f->naddr];

    ngx_memzero(&f->peer, sizeof(ngx_peer_connection_t));

    f->peer.sockaddr = addr->sockaddr;
    f->peer.socklen = addr->socklen;
    f->peer.name = &addr->name;
    f->peer.get = ngx_event_get_peer;
    f->peer.log = f->log;
    f->peer.log_error = NGX_ERROR_INFO;

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, f->log, 0,
                   "gateway fetch connect %V", &addr->name);

    rc = ngx_event_connect_peer(&f->peer);

    if (rc == NGX_ERROR) {
        ngx_http_gateway_fetch_error(f, 0, "could not connect to %V",
                                     &addr->name);
        return;
    }

    if (rc == NGX_BUSY || rc == NGX_DECLINED) {
        ngx_http_gateway_fetch_next(f, ngx_socket_errno, "connect()");
        return;
    }

    c = f->peer.connection;
    c->data = f;
    c->pool = f->pool;
    c->log = f->log;
    c->read->log = f->log;
    c->write->log = f->log;

    c->read->handler = ngx_http_gateway_fetch_read_handler;
    c->write->handler = ngx_http_gateway_fetch_write_handler;

    if (rc == NGX_AGAIN) {
        /* connected when the socket is writable */
        return;
    }

    ngx_http_gateway_fetch_write_handler(c->write);
}


/* another address of the name, or the error */

static void
ngx_http_gateway_fetch_next(ngx_http_gateway_fetch_t *f, ngx_err_t err,
    const char *what)
{
    ngx_str_t  *name;

    name = &f->addrs[f->naddr].name;

    if (++f->naddr >= f->naddrs) {
        ngx_http_gateway_fetch_error(f, err, "%s to %V failed", what, name);
        return;
    }

    ngx_http_gateway_fetch_close(f);

    f->sent = 0;
    f->len = 0;
    f->connected = 0;
    ngx_gateway_http_response_init(&f->response);

    ngx_http_gateway_fetch_connect(f);
}


#if (NGX_HTTP_SSL)

static void
ngx_http_gateway_fetch_ssl_init(ngx_http_gateway_fetch_t *f)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    X509_VERIFY_PARAM   *param;

    c = f->peer.connection;

    if (ngx_ssl_create_connection(f->conf->ssl, c,
                                  NGX_SSL_BUFFER|NGX_SSL_CLIENT)
        != NGX_OK)
    {
        ngx_http_gateway_fetch_error(f, 0, "TLS setup failed");
        return;
    }

    /* the chain and the name, checked by OpenSSL as it verifies */

    param = SSL_get0_param(c->ssl->connection);

    if (f->u.ip) {
        if (X509_VERIFY_PARAM_set1_ip_asc(param, (char *) f->host) != 1) {
            ngx_http_gateway_fetch_error(f, 0, "TLS setup failed");
            return;
        }

    } else if (X509_VERIFY_PARAM_set1_host(param, (char *) f->host, 0) != 1
               || SSL_set_tlsext_host_name(c->ssl->connection,
                                           (char *) f->host)
                  != 1)
    {
        ngx_http_gateway_fetch_error(f, 0, "TLS setup failed");
        return;
    }

    c->log->action = "TLS handshaking with the provider";

    rc = ngx_ssl_handshake(c);

    if (rc == NGX_AGAIN) {
        c->ssl->handler = ngx_http_gateway_fetch_ssl_handshake;
        return;
    }

    ngx_http_gateway_fetch_ssl_handshake(c);
}


static void
ngx_http_gateway_fetch_ssl_handshake(ngx_connection_t *c)
{
    long                       rc;
    ngx_http_gateway_fetch_t  *f;

    f = c->data;

    if (!c->ssl->handshaked) {
        ngx_http_gateway_fetch_next(f, 0, "TLS handshake");
        return;
    }

    rc = SSL_get_verify_result(c->ssl->connection);

    if (rc != X509_V_OK) {
        ngx_http_gateway_fetch_error(f, 0,
                                     "TLS certificate verify failed: %s",
                                     X509_verify_cert_error_string(rc));
        return;
    }

    c->log->action = "fetching";

    c->read->handler = ngx_http_gateway_fetch_read_handler;
    c->write->handler = ngx_http_gateway_fetch_write_handler;

    ngx_http_gateway_fetch_write_handler(c->write);
}

#endif


static void
ngx_http_gateway_fetch_write_handler(ngx_event_t *wev)
{
    ssize_t                    n;
    ngx_connection_t          *c;
    ngx_http_gateway_fetch_t  *f;

    c = wev->data;
    f = c->data;

    if (!f->connected) {
        if (ngx_http_gateway_fetch_test_connect(c) != NGX_OK) {
            ngx_http_gateway_fetch_next(f, ngx_socket_errno, "connect()");
            return;
        }

        f->connected = 1;
    }

#if (NGX_HTTP_SSL)
    if (f->u.ssl && c->ssl == NULL) {
        /* connected: the handshake first */
        ngx_http_gateway_fetch_ssl_init(f);
        return;
    }
#endif

    while (f->sent < f->request.len) {
        n = c->send(c, f->request.data + f->sent, f->request.len - f->sent);

        if (n == NGX_AGAIN) {
            if (ngx_handle_write_event(wev, 0) != NGX_OK) {
                ngx_http_gateway_fetch_error(f, 0, "event error");
            }

            return;
        }

        if (n == NGX_ERROR || n == 0) {
            ngx_http_gateway_fetch_next(f, ngx_socket_errno, "send()");
            return;
        }

        f->sent += n;
    }

    wev->handler = ngx_http_gateway_fetch_dummy_handler;

    if (ngx_handle_write_event(wev, 0) != NGX_OK) {
        ngx_http_gateway_fetch_error(f, 0, "event error");
        return;
    }

    ngx_http_gateway_fetch_read_handler(c->read);
}


/* as ngx_http_upstream_test_connect(): did the connect() succeed */

static ngx_int_t
ngx_http_gateway_fetch_test_connect(ngx_connection_t *c)
{
    int        err;
    socklen_t  len;

    err = 0;
    len = sizeof(int);

    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, (void *) &err, &len) == -1) {
        err = ngx_socket_errno;
    }

    if (err) {
        ngx_set_socket_errno(err);
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_gateway_fetch_read_handler(ngx_event_t *rev)
{
    ssize_t                    n;
    ngx_int_t                  rc;
    ngx_uint_t                 eof;
    ngx_connection_t          *c;
    ngx_http_gateway_fetch_t  *f;

    c = rev->data;
    f = c->data;

    if (f->sent < f->request.len) {
        /* not all sent yet: a close or an error shows when sending */
        return;
    }

    if (f->buf == NULL) {
        f->size = f->max_size + NGX_GATEWAY_HTTP_SLACK;
        f->buf = ngx_pnalloc(f->pool, f->size);
        if (f->buf == NULL) {
            ngx_http_gateway_fetch_error(f, 0, "no memory");
            return;
        }
    }

    for ( ;; ) {

        if (f->len == f->size) {
            ngx_http_gateway_fetch_error(f, 0, "too big");
            return;
        }

        n = c->recv(c, f->buf + f->len, f->size - f->len);

        if (n == NGX_AGAIN) {
            if (ngx_handle_read_event(rev, 0) != NGX_OK) {
                ngx_http_gateway_fetch_error(f, 0, "event error");
            }

            return;
        }

        if (n == NGX_ERROR) {
            if (f->len == 0) {
                ngx_http_gateway_fetch_next(f, ngx_socket_errno, "recv()");

            } else {
                ngx_http_gateway_fetch_error(f, ngx_socket_errno,
                                             "recv() from %V failed",
                                             f->peer.name);
            }

            return;
        }

        eof = (n == 0);
        f->len += n;

        rc = ngx_gateway_http_parse(&f->response, f->buf, &f->len, eof);

        if (rc == NGX_OK) {
            ngx_http_gateway_fetch_finish(f, NGX_OK);
            return;
        }

        if (rc == NGX_DECLINED) {
            if (ngx_strcmp(f->response.err, "too big") == 0) {
                ngx_http_gateway_fetch_error(f, 0, "too big");

            } else {
                ngx_http_gateway_fetch_error(f, 0, "bad response: %s",
                                             f->response.err);
            }

            return;
        }
    }
}


static void
ngx_http_gateway_fetch_dummy_handler(ngx_event_t *ev)
{
}


static void
ngx_http_gateway_fetch_timeout(ngx_event_t *ev)
{
    ngx_http_gateway_fetch_t  *f = ev->data;

    if (f->resolve) {
        ngx_resolve_name_done(f->resolve);
        f->resolve = NULL;
    }

    ngx_http_gateway_fetch_error(f, NGX_ETIMEDOUT, "timed out");
}


/*
 * The posted event: the first connect of a literal address, and the
 * handler's call, so that neither runs within the caller's own call.
 */

static void
ngx_http_gateway_fetch_done_handler(ngx_event_t *ev)
{
    ngx_http_gateway_fetch_t  *f = ev->data;

    if (!f->finished) {
        ngx_http_gateway_fetch_connect(f);
        return;
    }

    f->handler(f);
}


static void
ngx_http_gateway_fetch_finish(ngx_http_gateway_fetch_t *f, ngx_int_t rc)
{
    if (f->finished) {
        return;
    }

    f->finished = 1;
    f->rc = rc;

    if (f->timer.timer_set) {
        ngx_del_timer(&f->timer);
    }

    ngx_http_gateway_fetch_close(f);

    if (!f->done.posted) {
        ngx_post_event(&f->done, &ngx_posted_events);
    }
}


static void
ngx_http_gateway_fetch_error(ngx_http_gateway_fetch_t *f, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   *p, *last;
    va_list   args;

    if (f->finished) {
        return;
    }

    p = ngx_pnalloc(f->pool, NGX_MAX_ERROR_STR);

    if (p == NULL) {
        ngx_str_set(&f->err, "no memory");

    } else {
        last = p + NGX_MAX_ERROR_STR;
        f->err.data = p;

        va_start(args, fmt);
        p = ngx_vslprintf(p, last, fmt, args);
        va_end(args);

        if (err) {
            p = ngx_log_errno(p, last, err);
        }

        f->err.len = p - f->err.data;
    }

    ngx_log_debug1(NGX_LOG_DEBUG_EVENT, f->log, 0,
                   "gateway fetch error: %V", &f->err);

    ngx_http_gateway_fetch_finish(f, NGX_ERROR);
}


static void
ngx_http_gateway_fetch_close(ngx_http_gateway_fetch_t *f)
{
    ngx_connection_t  *c;

    c = f->peer.connection;

    if (c == NULL) {
        return;
    }

    f->peer.connection = NULL;

#if (NGX_HTTP_SSL)
    if (c->ssl) {
        c->ssl->no_wait_shutdown = 1;
        c->ssl->no_send_shutdown = 1;
        (void) ngx_ssl_shutdown(c);
    }
#endif

    ngx_close_connection(c);
}


void
ngx_http_gateway_fetch_destroy(ngx_http_gateway_fetch_t *f)
{
    if (f->resolve) {
        ngx_resolve_name_done(f->resolve);
        f->resolve = NULL;
    }

    if (f->timer.timer_set) {
        ngx_del_timer(&f->timer);
    }

    if (f->done.posted) {
        ngx_delete_posted_event(&f->done);
    }

    ngx_http_gateway_fetch_close(f);

    ngx_destroy_pool(f->pool);
}


/* the host (never the path or query: they may carry secrets) */

static u_char *
ngx_http_gateway_fetch_log_error(ngx_log_t *log, u_char *buf, size_t len)
{
    u_char                    *p;
    ngx_http_gateway_fetch_t  *f;

    p = buf;

    if (log->action) {
        p = ngx_snprintf(buf, len, " while %s", log->action);
        len -= p - buf;
        buf = p;
    }

    f = log->data;

    if (f->u.host.len) {
        p = ngx_snprintf(buf, len, ", host: \"%V\"", &f->u.host);
    }

    return p;
}


void *
ngx_http_gateway_zone_object(ngx_http_gateway_zone_t *zone, ngx_str_t *name,
    size_t size)
{
    u_char                     *p;
    ngx_queue_t                *q;
    ngx_http_gateway_object_t  *o;

    ngx_shmtx_lock(&zone->shpool->mutex);

    for (q = ngx_queue_head(&zone->sh->objects);
         q != ngx_queue_sentinel(&zone->sh->objects);
         q = ngx_queue_next(q))
    {
        o = ngx_queue_data(q, ngx_http_gateway_object_t, queue);

        if (o->size == size && o->name.len == name->len
            && ngx_strncmp(o->name.data, name->data, name->len) == 0)
        {
            ngx_shmtx_unlock(&zone->shpool->mutex);
            return (u_char *) o + sizeof(ngx_http_gateway_object_t);
        }
    }

    p = ngx_slab_calloc_locked(zone->shpool,
                               sizeof(ngx_http_gateway_object_t) + size
                               + name->len);
    if (p == NULL) {
        ngx_shmtx_unlock(&zone->shpool->mutex);
        return NULL;
    }

    o = (ngx_http_gateway_object_t *) p;
    o->size = size;
    o->name.len = name->len;
    o->name.data = p + sizeof(ngx_http_gateway_object_t) + size;
    ngx_memcpy(o->name.data, name->data, name->len);

    ngx_queue_insert_tail(&zone->sh->objects, &o->queue);

    ngx_shmtx_unlock(&zone->shpool->mutex);

    return p + sizeof(ngx_http_gateway_object_t);
}


ngx_int_t
ngx_http_gateway_lease_take(ngx_http_gateway_zone_t *zone,
    ngx_gateway_lease_t *lease, ngx_msec_t ttl)
{
    ngx_int_t  rc;

    ngx_shmtx_lock(&zone->shpool->mutex);
    rc = ngx_gateway_lease_take(lease, ngx_pid, ngx_current_msec, ttl);
    ngx_shmtx_unlock(&zone->shpool->mutex);

    return rc;
}


void
ngx_http_gateway_lease_give_up(ngx_http_gateway_zone_t *zone,
    ngx_gateway_lease_t *lease)
{
    ngx_shmtx_lock(&zone->shpool->mutex);
    ngx_gateway_lease_give_up(lease, ngx_pid);
    ngx_shmtx_unlock(&zone->shpool->mutex);
}
