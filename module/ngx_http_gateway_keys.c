
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include "ngx_http_gateway_module.h"


/*
 * Keys from identity providers.  Each worker has a timer per key source
 * that looks, at least every second, whether a fetch is due (in the
 * zone); the worker that takes the source's lease fetches (discovery
 * document first, for "gateway_oidc_issuer"), checks the key set, and
 * puts it into the zone with a new generation.  Every worker parses a
 * new generation into keys of its own (OpenSSL keys cannot be shared),
 * on its timer or on its next request, whichever comes first.  Requests
 * wait only while no key set was ever loaded, or for the early refetch
 * their token's unknown "kid" asked for; a waiting request polls the
 * zone (nothing in the zone can wake another worker's requests).
 */


#define NGX_HTTP_GATEWAY_KEYS_TICK       1000
#define NGX_HTTP_GATEWAY_KEYS_POLL       50

/* a fetch's lease: the discovery document and the key set, one second more */
#define ngx_http_gateway_keys_lease(src)  (2 * (src)->timeout + 1000)


static ngx_int_t ngx_http_gateway_keys_param(ngx_conf_t *cf,
    ngx_str_t *param, ngx_msec_t *ms);
static void ngx_http_gateway_keys_tick(ngx_event_t *ev);
static void ngx_http_gateway_keys_try(ngx_http_gateway_keys_t *src);
static void ngx_http_gateway_keys_run(ngx_http_gateway_keys_t *src,
    ngx_http_gateway_fetch_t *f);
static void ngx_http_gateway_keys_fetched(ngx_http_gateway_fetch_t *f);
static ngx_int_t ngx_http_gateway_keys_discovered(
    ngx_http_gateway_keys_t *src, ngx_http_gateway_fetch_t *f,
    ngx_str_t *uri, ngx_str_t *why);
static ngx_int_t ngx_http_gateway_keys_publish(ngx_http_gateway_keys_t *src,
    ngx_http_gateway_fetch_t *f, ngx_str_t *why);
static void ngx_http_gateway_keys_failed(ngx_http_gateway_keys_t *src,
    ngx_str_t *why);
static void ngx_http_gateway_keys_release(ngx_http_gateway_keys_t *src);
static ngx_uint_t ngx_http_gateway_keys_adopt(
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_keys_t *src,
    ngx_log_t *log);
static void ngx_http_gateway_keys_settle(ngx_http_gateway_keys_main_t *km,
    ngx_uint_t merged);
static ngx_int_t ngx_http_gateway_keys_merge(
    ngx_http_gateway_main_conf_t *gmcf);
static ngx_uint_t ngx_http_gateway_keys_waited(
    ngx_http_gateway_keys_main_t *km, ngx_http_gateway_keys_wait_t *w);
static ngx_int_t ngx_http_gateway_keys_wait(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx);
static void ngx_http_gateway_keys_wait_handler(ngx_http_request_t *r);
static ngx_slab_pool_t *ngx_http_gateway_keys_shpool(
    ngx_http_gateway_keys_t *src);
static json_t *ngx_http_gateway_keys_json(ngx_gateway_jwks_t *jwks);


/* gateway_jwks_uri URL [refresh=] [min_refresh=] [timeout=];
 * gateway_oidc_issuer URL [...]; */

char *
ngx_http_gateway_jwks_uri(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_main_conf_t *gmcf = conf;

    char                          *err;
    ngx_str_t                     *value;
    ngx_uint_t                     i;
    ngx_msec_t                    *ms;
    ngx_gateway_url_t              u;
    ngx_http_gateway_keys_t       *src, *other;
    ngx_http_gateway_keys_main_t  *km;

    value = cf->args->elts;

    if (ngx_gateway_url_parse(&value[1], &u, &err) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid URL \"%V\": %s",
                           &value[1], err);
        return NGX_CONF_ERROR;
    }

    if (!ngx_gateway_keys_url_allowed(&u)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" is not https: "
                           "anyone on the path could put in a key; http is "
                           "only for a loopback address (127.0.0.1, [::1])",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

#if !(NGX_HTTP_SSL)
    if (u.ssl) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" needs nginx built "
                           "with the http_ssl_module", &value[1]);
        return NGX_CONF_ERROR;
    }
#endif

    km = gmcf->keys;

    if (km == NULL) {
        km = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_keys_main_t));
        if (km == NULL) {
            return NGX_CONF_ERROR;
        }

        if (ngx_array_init(&km->sources, cf->pool, 2,
                           sizeof(ngx_http_gateway_keys_t))
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

        gmcf->keys = km;
    }

    other = km->sources.elts;

    for (i = 0; i < km->sources.nelts; i++) {
        if (other[i].url.len == value[1].len
            && ngx_strncmp(other[i].url.data, value[1].data, value[1].len)
               == 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" is a key source "
                               "already, in %s:%ui", &value[1],
                               other[i].file, other[i].line);
            return NGX_CONF_ERROR;
        }
    }

    src = ngx_array_push(&km->sources);
    if (src == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_memzero(src, sizeof(ngx_http_gateway_keys_t));

    src->url = value[1];
    src->discovery = (cmd->name.len == sizeof("gateway_oidc_issuer") - 1);
    src->file = cf->conf_file->file.name.data;
    src->line = cf->conf_file->line;
    src->conf.refresh = 600000;
    src->conf.min_refresh = 30000;
    src->timeout = 10000;

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "refresh=", 8) == 0) {
            ms = &src->conf.refresh;

        } else if (ngx_strncmp(value[i].data, "min_refresh=", 12) == 0) {
            ms = &src->conf.min_refresh;

        } else if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            ms = &src->timeout;

        } else {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid parameter \"%V\"", &value[i]);
            return NGX_CONF_ERROR;
        }

        if (ngx_http_gateway_keys_param(cf, &value[i], ms) != NGX_OK) {
            return NGX_CONF_ERROR;
        }
    }

    if (src->conf.min_refresh > src->conf.refresh) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"min_refresh\" is longer "
                           "than \"refresh\" for \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    /* the zone block: kept across reloads, for the same URL and kind */

    src->name.len = sizeof("oidc ") - 1 + src->url.len;
    src->name.data = ngx_pnalloc(cf->pool, src->name.len);
    if (src->name.data == NULL) {
        return NGX_CONF_ERROR;
    }

    ngx_sprintf(src->name.data, "%s%V", src->discovery ? "oidc " : "jwks ",
                &src->url);

    return NGX_CONF_OK;
}


/* "name=time", from 1s to 1d */

static ngx_int_t
ngx_http_gateway_keys_param(ngx_conf_t *cf, ngx_str_t *param,
    ngx_msec_t *ms)
{
    u_char     *eq;
    ngx_int_t   n;
    ngx_str_t  *value, name, v;

    eq = ngx_strlchr(param->data, param->data + param->len, '=');

    name.data = param->data;
    name.len = eq - param->data;
    v.data = eq + 1;
    v.len = param->data + param->len - v.data;

    n = ngx_parse_time(&v, 0);

    if (n == NGX_ERROR || n < 1000 || n > 86400000) {
        value = cf->args->elts;

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "invalid %V value \"%V\" "
                           "for \"%V\": from 1s to 1d", &name, &v,
                           &value[1]);
        return NGX_ERROR;
    }

    *ms = (ngx_msec_t) n;

    return NGX_OK;
}


/* gateway_jwks_trusted_certificate file; */

char *
ngx_http_gateway_jwks_trusted(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_main_conf_t *gmcf = conf;

    ngx_str_t  *value, *trusted;

    value = cf->args->elts;
    trusted = &gmcf->keys_trusted;

    if (trusted->data) {
        return "is duplicate";
    }

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "empty file name");
        return NGX_CONF_ERROR;
    }

#if !(NGX_HTTP_SSL)
    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "\"%V\" needs nginx built "
                       "with the http_ssl_module", &cmd->name);
    return NGX_CONF_ERROR;
#endif

    *trusted = value[1];

    return NGX_CONF_OK;
}


/*
 * After the http block: the TLS context and the resolver.  Names need
 * the http block's "resolver": nothing resolves with a blocking call.
 */

ngx_int_t
ngx_http_gateway_keys_init(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf)
{
    char                          *err;
    ngx_uint_t                     i;
    ngx_gateway_url_t              u;
    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_gateway_keys_t       *src;
    ngx_http_gateway_keys_main_t  *km;

    km = gmcf->keys;

    if (km == NULL) {
        if (gmcf->keys_trusted.data) {
            ngx_log_error(NGX_LOG_WARN, cf->log, 0,
                          "\"gateway_jwks_trusted_certificate\" has no "
                          "effect without \"gateway_jwks_uri\" or "
                          "\"gateway_oidc_issuer\"");
        }

        return NGX_OK;
    }

    km->fetch = ngx_http_gateway_fetch_conf(cf, &gmcf->keys_trusted);
    if (km->fetch == NULL) {
        return NGX_ERROR;
    }

    clcf = km->fetch->clcf;
    src = km->sources.elts;

    for (i = 0; i < km->sources.nelts; i++) {

        (void) ngx_gateway_url_parse(&src[i].url, &u, &err);

        /* the http block's dummy resolver, made as it merged, has none */

        if (!u.ip
            && (clcf->resolver == NULL
                || clcf->resolver == NGX_CONF_UNSET_PTR
                || clcf->resolver->connections.nelts == 0))
        {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"%V\" in %s:%ui names a host: a \"resolver\" is "
                          "needed in the http block", &src[i].url,
                          src[i].file, src[i].line);
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* the issuer of the only key source, when it is a discovered one */

ngx_str_t *
ngx_http_gateway_keys_issuer(ngx_http_gateway_main_conf_t *gmcf)
{
    ngx_http_gateway_keys_t  *src;

    if (gmcf->keys == NULL || gmcf->keys->sources.nelts != 1
        || gmcf->jwks != NULL)
    {
        return NULL;
    }

    src = gmcf->keys->sources.elts;

    return src->discovery ? &src->url : NULL;
}


ngx_int_t
ngx_http_gateway_keys_init_process(ngx_cycle_t *cycle,
    ngx_http_gateway_main_conf_t *gmcf)
{
    ngx_uint_t                     i;
    ngx_http_gateway_zone_t       *zone;
    ngx_http_gateway_keys_t       *src;
    ngx_http_gateway_keys_main_t  *km;

    /*
     * Not in the cache manager and loader, which init modules too: the
     * loader exits without the exit hook (a lease never given back).
     */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    km = gmcf->keys;

    if (km == NULL || gmcf->shm_zone == NULL) {
        return NGX_OK;
    }

    zone = gmcf->shm_zone->data;
    src = km->sources.elts;

    for (i = 0; i < km->sources.nelts; i++) {
        src[i].gmcf = gmcf;

        src[i].sh = ngx_http_gateway_zone_object(zone, &src[i].name,
                                          sizeof(ngx_http_gateway_keys_sh_t));
        if (src[i].sh == NULL) {
            ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                          "gateway: no room in the zone for the keys of "
                          "\"%V\"", &src[i].url);
            continue;
        }

        /* a schedule kept across a reload: under this refresh now */

        ngx_shmtx_lock(&ngx_http_gateway_keys_shpool(&src[i])->mutex);
        ngx_gateway_keys_clamp(&src[i].sh->state, &src[i].conf,
                               ngx_current_msec);
        ngx_shmtx_unlock(&ngx_http_gateway_keys_shpool(&src[i])->mutex);

        /* a set kept across a reload is there for the first request */

        (void) ngx_http_gateway_keys_adopt(gmcf, &src[i], cycle->log);

        src[i].timer.handler = ngx_http_gateway_keys_tick;
        src[i].timer.data = &src[i];
        src[i].timer.log = cycle->log;
        src[i].timer.cancelable = 1;

        /* the workers, started together, need not look together */
        ngx_add_timer(&src[i].timer, 1 + ngx_random() % 100);
    }

    return ngx_http_gateway_keys_merge(gmcf);
}


void
ngx_http_gateway_keys_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    ngx_http_gateway_keys_t       *src;
    ngx_http_gateway_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_gateway_module);

    if (gmcf == NULL || gmcf->keys == NULL) {
        return;
    }

    src = gmcf->keys->sources.elts;

    for (i = 0; i < gmcf->keys->sources.nelts; i++) {

        if (src[i].timer.timer_set) {
            ngx_del_timer(&src[i].timer);
        }

        if (src[i].fetch) {
            ngx_http_gateway_fetch_destroy(src[i].fetch);
            src[i].fetch = NULL;
            ngx_http_gateway_keys_release(&src[i]);
        }
    }
}


static void
ngx_http_gateway_keys_tick(ngx_event_t *ev)
{
    ngx_http_gateway_keys_t  *src = ev->data;

    ngx_msec_t  wait;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (ngx_http_gateway_keys_adopt(src->gmcf, src, ev->log)) {
        (void) ngx_http_gateway_keys_merge(src->gmcf);
    }

    if (src->fetch == NULL) {
        ngx_http_gateway_keys_try(src);
    }

    /*
     * Due and not fetching: another worker holds the lease, and this one
     * looks again soon, in case that worker dies.
     */

    if (src->fetch) {
        wait = NGX_HTTP_GATEWAY_KEYS_TICK;

    } else {
        wait = ngx_gateway_keys_wait(&src->sh->state, ngx_current_msec);
        wait = wait ? ngx_min(wait, NGX_HTTP_GATEWAY_KEYS_TICK) : 100;
    }

    if (!ev->timer_set) {
        ngx_add_timer(ev, wait);
    }
}


/* a fetch, if one is due and this worker gets the source's lease */

static void
ngx_http_gateway_keys_try(ngx_http_gateway_keys_t *src)
{
    ngx_uint_t                     take;
    ngx_msec_t                     now;
    ngx_slab_pool_t               *shpool;
    ngx_http_gateway_fetch_t      *f;
    ngx_http_gateway_keys_sh_t    *sh;
    ngx_http_gateway_main_conf_t  *gmcf;

    sh = src->sh;
    now = ngx_current_msec;

    /* a look without the lock first: most ticks find nothing due */

    if (sh == NULL || src->fetch || ngx_exiting
        || !ngx_gateway_keys_due(&sh->state, now))
    {
        return;
    }

    gmcf = src->gmcf;

    f = ngx_http_gateway_fetch_create(gmcf->keys->fetch, ngx_cycle->log);
    if (f == NULL) {
        return;
    }

    shpool = ngx_http_gateway_keys_shpool(src);
    take = 0;

    ngx_shmtx_lock(&shpool->mutex);

    if (ngx_gateway_keys_due(&sh->state, now)
        && ngx_gateway_lease_take(&sh->lease, ngx_pid, now,
                                  ngx_http_gateway_keys_lease(src))
           == NGX_OK)
    {
        ngx_gateway_keys_begin(&sh->state, now);
        take = 1;

        /* the key set's URL, once discovered */

        if (!src->discovery) {
            f->url = src->url;

        } else if (sh->jwks_uri_len) {
            f->url.data = ngx_pnalloc(f->pool, sh->jwks_uri_len);

            if (f->url.data) {
                ngx_memcpy(f->url.data, sh->jwks_uri, sh->jwks_uri_len);
                f->url.len = sh->jwks_uri_len;
            }
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (!take) {
        ngx_http_gateway_fetch_destroy(f);
        return;
    }

    src->discovering = (f->url.len == 0);

    if (src->discovering
        && ngx_gateway_keys_discovery_url(f->pool, &src->url, &f->url)
           != NGX_OK)
    {
        ngx_str_set(&f->err, "no memory");
        ngx_http_gateway_keys_failed(src, &f->err);
        ngx_http_gateway_fetch_destroy(f);
        ngx_http_gateway_keys_release(src);
        return;
    }

    ngx_http_gateway_keys_run(src, f);
}


static void
ngx_http_gateway_keys_run(ngx_http_gateway_keys_t *src,
    ngx_http_gateway_fetch_t *f)
{
    f->max_size = NGX_HTTP_GATEWAY_KEYS_MAX_SIZE;
    f->timeout = src->timeout;
    f->handler = ngx_http_gateway_keys_fetched;
    f->data = src;

    src->fetch = f;

    if (ngx_http_gateway_fetch_start(f) != NGX_OK) {
        src->fetch = NULL;
        ngx_http_gateway_keys_failed(src, &f->err);
        ngx_http_gateway_fetch_destroy(f);
        ngx_http_gateway_keys_release(src);
    }
}


static void
ngx_http_gateway_keys_fetched(ngx_http_gateway_fetch_t *f)
{
    ngx_http_gateway_keys_t  *src = f->data;

    ngx_int_t                      rc;
    ngx_str_t                      why, uri;
    ngx_http_gateway_fetch_t      *next;
    ngx_http_gateway_main_conf_t  *gmcf;

    gmcf = src->gmcf;
    src->fetch = NULL;

    if (f->rc != NGX_OK) {
        why = f->err;
        rc = NGX_DECLINED;

    } else if (f->response.status != NGX_HTTP_OK) {
        why.data = ngx_pnalloc(f->pool, 64);
        if (why.data == NULL) {
            ngx_str_set(&why, "no memory");

        } else {
            why.len = ngx_sprintf(why.data, "the %s answered status %ui",
                                  src->discovering ? "discovery document"
                                                   : "key set",
                                  f->response.status)
                      - why.data;
        }

        rc = NGX_DECLINED;

    } else if (src->discovering) {
        rc = ngx_http_gateway_keys_discovered(src, f, &uri, &why);

        if (rc == NGX_OK) {
            /* the key set now, under the same lease */

            next = ngx_http_gateway_fetch_create(gmcf->keys->fetch,
                                                 ngx_cycle->log);
            if (next) {
                next->url.data = ngx_pnalloc(next->pool, uri.len);
            }

            if (next == NULL || next->url.data == NULL) {
                if (next) {
                    ngx_http_gateway_fetch_destroy(next);
                }

                ngx_str_set(&why, "no memory");
                rc = NGX_DECLINED;

            } else {
                ngx_memcpy(next->url.data, uri.data, uri.len);
                next->url.len = uri.len;

                ngx_http_gateway_fetch_destroy(f);

                src->discovering = 0;
                (void) ngx_http_gateway_lease_take(gmcf->shm_zone->data,
                           &src->sh->lease, ngx_http_gateway_keys_lease(src));

                ngx_http_gateway_keys_run(src, next);
                return;
            }
        }

    } else {
        rc = ngx_http_gateway_keys_publish(src, f, &why);
    }

    if (rc != NGX_OK) {
        ngx_http_gateway_keys_failed(src, &why);
    }

    ngx_http_gateway_fetch_destroy(f);
    ngx_http_gateway_keys_release(src);

    if (ngx_http_gateway_keys_adopt(gmcf, src, ngx_cycle->log)) {
        (void) ngx_http_gateway_keys_merge(gmcf);
    }
}


/* the discovery document's "jwks_uri", into the zone */

static ngx_int_t
ngx_http_gateway_keys_discovered(ngx_http_gateway_keys_t *src,
    ngx_http_gateway_fetch_t *f, ngx_str_t *uri, ngx_str_t *why)
{
    u_char                      *p;
    ngx_int_t                    rc;
    ngx_slab_pool_t             *shpool;
    ngx_http_gateway_keys_sh_t  *sh;

    rc = ngx_gateway_keys_discovery(f->pool, f->response.body.data,
                                    f->response.body.len, &src->url, uri,
                                    why);
    if (rc != NGX_OK) {
        if (rc == NGX_ERROR) {
            ngx_str_set(why, "no memory");
        }

        return NGX_DECLINED;
    }

    sh = src->sh;
    shpool = ngx_http_gateway_keys_shpool(src);

    ngx_shmtx_lock(&shpool->mutex);

    if (sh->jwks_uri_len != uri->len
        || ngx_memcmp(sh->jwks_uri, uri->data, uri->len) != 0)
    {
        p = ngx_slab_alloc_locked(shpool, uri->len);

        if (p == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            ngx_str_set(why, "the gateway zone is full");
            return NGX_DECLINED;
        }

        ngx_memcpy(p, uri->data, uri->len);

        if (sh->jwks_uri) {
            ngx_slab_free_locked(shpool, sh->jwks_uri);
        }

        sh->jwks_uri = p;
        sh->jwks_uri_len = uri->len;
    }

    ngx_shmtx_unlock(&shpool->mutex);

    return NGX_OK;
}


/* a key set that loads, into the zone: a new generation if it changed */

static ngx_int_t
ngx_http_gateway_keys_publish(ngx_http_gateway_keys_t *src,
    ngx_http_gateway_fetch_t *f, ngx_str_t *why)
{
    u_char                      *p;
    ngx_str_t                    err, *body;
    ngx_uint_t                   changed, recovered, skipped;
    ngx_pool_t                  *pool;
    ngx_slab_pool_t             *shpool;
    ngx_gateway_jwks_t           jwks;
    ngx_http_gateway_keys_sh_t  *sh;

    body = &f->response.body;

    /* checked here, once, before any worker takes it */

    pool = ngx_create_pool(4096, f->log);
    if (pool == NULL) {
        ngx_str_set(why, "no memory");
        return NGX_DECLINED;
    }

    if (ngx_gateway_keys_parse(pool, body->data, body->len, &jwks,
                               &skipped, &err)
        != NGX_OK)
    {
        why->data = ngx_pnalloc(f->pool, err.len + 32);

        if (why->data == NULL) {
            ngx_str_set(why, "invalid key set");

        } else {
            why->len = ngx_sprintf(why->data, "invalid key set: %V", &err)
                       - why->data;
        }

        ngx_destroy_pool(pool);
        return NGX_DECLINED;
    }

    sh = src->sh;
    shpool = ngx_http_gateway_keys_shpool(src);

    ngx_shmtx_lock(&shpool->mutex);

    changed = (sh->doc_len != body->len
               || ngx_memcmp(sh->doc, body->data, body->len) != 0);

    if (changed) {
        p = ngx_slab_alloc_locked(shpool, body->len);

        if (p == NULL) {
            ngx_shmtx_unlock(&shpool->mutex);
            ngx_destroy_pool(pool);
            ngx_str_set(why, "the gateway zone is full");
            return NGX_DECLINED;
        }

        ngx_memcpy(p, body->data, body->len);

        if (sh->doc) {
            ngx_slab_free_locked(shpool, sh->doc);
        }

        sh->doc = p;
        sh->doc_len = body->len;
    }

    recovered = (sh->state.failures != 0);

    ngx_gateway_keys_end(&sh->state, &src->conf, ngx_current_msec, 1,
                         changed, f->response.max_age);

    sh->fetched = ngx_time();
    sh->loaded = sh->fetched;

    ngx_shmtx_unlock(&shpool->mutex);

    if (changed || recovered) {
        ngx_log_error(NGX_LOG_NOTICE, ngx_cycle->log, 0,
                      "gateway: key set of \"%V\" loaded: %ui keys%s%V",
                      &src->url, jwks.nkeys,
                      skipped ? "; skipped: " : "", &err);
    }

    ngx_destroy_pool(pool);

    return NGX_OK;
}


/*
 * A fetch failed: the last good set stays.  The first failure in a row
 * is logged at warn, with why; the ones after it at info.
 */

static void
ngx_http_gateway_keys_failed(ngx_http_gateway_keys_t *src, ngx_str_t *why)
{
    ngx_uint_t                   first, loaded, level;
    ngx_slab_pool_t             *shpool;
    ngx_http_gateway_keys_sh_t  *sh;

    sh = src->sh;
    shpool = ngx_http_gateway_keys_shpool(src);

    ngx_shmtx_lock(&shpool->mutex);

    ngx_gateway_keys_end(&sh->state, &src->conf, ngx_current_msec, 0, 0, -1);

    first = (sh->state.failures == 1);
    loaded = (sh->state.generation != 0);

    sh->fetched = ngx_time();
    sh->failed = sh->fetched;
    sh->error_len = ngx_min(why->len, NGX_HTTP_GATEWAY_KEYS_ERROR_LEN);
    ngx_memcpy(sh->error, why->data, sh->error_len);

    if (src->discovery) {
        /* discovered afresh next time: the provider may have moved it */

        if (sh->jwks_uri) {
            ngx_slab_free_locked(shpool, sh->jwks_uri);
            sh->jwks_uri = NULL;
            sh->jwks_uri_len = 0;
        }
    }

    ngx_shmtx_unlock(&shpool->mutex);

    level = first ? NGX_LOG_WARN : NGX_LOG_INFO;

    ngx_log_error(level, ngx_cycle->log, 0,
                  "gateway: keys of \"%V\" not fetched: %V; %s", &src->url,
                  why, loaded ? "the last good key set is kept"
                              : "no key set is loaded, JWT requests get 503");
}


static void
ngx_http_gateway_keys_release(ngx_http_gateway_keys_t *src)
{
    ngx_http_gateway_main_conf_t  *gmcf;

    gmcf = src->gmcf;

    ngx_http_gateway_lease_give_up(gmcf->shm_zone->data, &src->sh->lease);
}


/*
 * A generation of the zone this worker has not parsed yet: parsed into
 * keys of its own.  1 if the source's keys changed.
 */

static ngx_uint_t
ngx_http_gateway_keys_adopt(ngx_http_gateway_main_conf_t *gmcf,
    ngx_http_gateway_keys_t *src, ngx_log_t *log)
{
    u_char                      *doc;
    size_t                       len;
    ngx_str_t                    err;
    ngx_uint_t                   i, generation, skipped;
    ngx_pool_t                  *pool;
    ngx_slab_pool_t             *shpool;
    ngx_gateway_jwks_t           jwks;
    ngx_http_gateway_keys_sh_t  *sh;

    sh = src->sh;

    if (sh == NULL || sh->state.generation == src->generation) {
        return 0;
    }

    /* kept as long as the set: the cycle's log, not a request's */

    pool = ngx_create_pool(4096, ngx_cycle->log);
    if (pool == NULL) {
        return 0;
    }

    shpool = ngx_http_gateway_keys_shpool(src);

    ngx_shmtx_lock(&shpool->mutex);

    generation = sh->state.generation;
    len = sh->doc_len;
    doc = ngx_pnalloc(pool, len + 1);

    if (doc) {
        ngx_memcpy(doc, sh->doc, len);
        doc[len] = '\0';
    }

    ngx_shmtx_unlock(&shpool->mutex);

    if (doc == NULL) {
        ngx_destroy_pool(pool);
        return 0;
    }

    if (ngx_gateway_keys_parse(pool, doc, len, &jwks, &skipped, &err)
        != NGX_OK)
    {
        /* it loaded in the worker that fetched it: memory, then */
        ngx_log_error(NGX_LOG_ALERT, log, 0,
                      "gateway: key set of \"%V\" not loaded: %V",
                      &src->url, &err);
        ngx_destroy_pool(pool);
        src->generation = generation;
        return 0;
    }

    /* the keys of a discovered issuer verify its tokens only */

    if (src->discovery) {
        for (i = 0; i < jwks.nkeys; i++) {
            jwks.keys[i].issuer = src->url;
        }
    }

    /*
     * The merged set still points at the keys of the set before: it is
     * freed only once a merge without it succeeds.
     */

    if (!src->pending) {
        src->old_pool = src->pool;
        src->old_jwks = src->jwks;
        src->old_generation = src->generation;
        src->pending = 1;

    } else if (src->pool) {
        /* adopted but never merged: nothing points at it */
        ngx_destroy_pool(src->pool);
    }

    src->pool = pool;
    src->jwks = jwks;
    src->generation = generation;

    return 1;
}


/* after a merge: the sets before are freed if it worked, else back */

static void
ngx_http_gateway_keys_settle(ngx_http_gateway_keys_main_t *km,
    ngx_uint_t merged)
{
    ngx_uint_t                i;
    ngx_http_gateway_keys_t  *src;

    src = km->sources.elts;

    for (i = 0; i < km->sources.nelts; i++) {

        if (!src[i].pending) {
            continue;
        }

        if (merged) {
            if (src[i].old_pool) {
                ngx_destroy_pool(src[i].old_pool);
            }

        } else {
            /* adopted again at the next look */
            if (src[i].pool) {
                ngx_destroy_pool(src[i].pool);
            }

            src[i].pool = src[i].old_pool;
            src[i].jwks = src[i].old_jwks;
            src[i].generation = src[i].old_generation;
        }

        src[i].old_pool = NULL;
        src[i].pending = 0;
    }
}


/* the file's keys and every source's, as one set for verification */

static ngx_int_t
ngx_http_gateway_keys_merge(ngx_http_gateway_main_conf_t *gmcf)
{
    ngx_uint_t                     i, n;
    ngx_pool_t                    *pool;
    ngx_gateway_jwk_t             *k;
    ngx_http_gateway_keys_t       *src;
    ngx_http_gateway_keys_main_t  *km;

    km = gmcf->keys;
    src = km->sources.elts;

    n = gmcf->jwks ? gmcf->jwks->nkeys : 0;

    for (i = 0; i < km->sources.nelts; i++) {
        n += src[i].jwks.nkeys;
    }

    pool = ngx_create_pool(1024, ngx_cycle->log);
    if (pool == NULL) {
        ngx_http_gateway_keys_settle(km, 0);
        return NGX_ERROR;
    }

    k = ngx_palloc(pool, (n ? n : 1) * sizeof(ngx_gateway_jwk_t));
    if (k == NULL) {
        ngx_destroy_pool(pool);
        ngx_http_gateway_keys_settle(km, 0);
        return NGX_ERROR;
    }

    km->all.keys = k;
    km->all.nkeys = n;

    if (gmcf->jwks) {
        ngx_memcpy(k, gmcf->jwks->keys,
                   gmcf->jwks->nkeys * sizeof(ngx_gateway_jwk_t));
        k += gmcf->jwks->nkeys;
    }

    for (i = 0; i < km->sources.nelts; i++) {
        ngx_memcpy(k, src[i].jwks.keys,
                   src[i].jwks.nkeys * sizeof(ngx_gateway_jwk_t));
        k += src[i].jwks.nkeys;
    }

    if (km->pool) {
        ngx_destroy_pool(km->pool);
    }

    km->pool = pool;

    ngx_http_gateway_keys_settle(km, 1);

    /* tokens verified with the keys before are verified afresh */
    km->version++;

    return NGX_OK;
}


/* the keys a token is verified with, in this worker, as of now */

ngx_gateway_jwks_t *
ngx_http_gateway_keys_current(ngx_http_gateway_main_conf_t *gmcf,
    ngx_log_t *log)
{
    ngx_uint_t                     i, changed;
    ngx_http_gateway_keys_t       *src;
    ngx_http_gateway_keys_main_t  *km;

    km = gmcf->keys;

    if (km == NULL || km->pool == NULL) {
        return gmcf->jwks;
    }

    src = km->sources.elts;
    changed = 0;

    for (i = 0; i < km->sources.nelts; i++) {
        changed |= ngx_http_gateway_keys_adopt(gmcf, &src[i], log);
    }

    if (changed) {
        (void) ngx_http_gateway_keys_merge(gmcf);
    }

    return &km->all;
}


/* changes with every new key set of this worker: a cache tag part */

ngx_uint_t
ngx_http_gateway_keys_version(ngx_http_gateway_main_conf_t *gmcf)
{
    return gmcf->keys ? gmcf->keys->version : 0;
}


/* 1 once every source the request waits for has ended a fetch since */

static ngx_uint_t
ngx_http_gateway_keys_waited(ngx_http_gateway_keys_main_t *km,
    ngx_http_gateway_keys_wait_t *w)
{
    ngx_uint_t                i;
    ngx_http_gateway_keys_t  *src;

    src = km->sources.elts;

    for (i = 0; i < km->sources.nelts; i++) {
        if (w->attempts[i] && src[i].sh->state.attempts + 1 == w->attempts[i])
        {
            return 0;
        }
    }

    return 1;
}


/*
 * No key set was ever loaded: the request waits for a fetch that is due
 * or under way (once), else gets 503 with Retry-After: the client did
 * nothing wrong.
 */

ngx_int_t
ngx_http_gateway_keys_missing(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx)
{
    ngx_str_t                      detail;
    ngx_uint_t                     i, fetching;
    ngx_msec_t                     retry, wait;
    ngx_http_gateway_keys_t       *src;
    ngx_http_gateway_keys_main_t  *km;

    km = gmcf->keys;

    /* a fetch that is due begins now; one under way is waited for */

    if (km && (ctx->keys_wait == NULL || !ctx->keys_wait->resumed)) {
        src = km->sources.elts;
        fetching = 0;

        for (i = 0; i < km->sources.nelts; i++) {
            ngx_http_gateway_keys_try(&src[i]);

            if (src[i].sh
                && ngx_gateway_lease_holder(&src[i].sh->lease,
                                            ngx_current_msec))
            {
                fetching = 1;
            }
        }

        if (fetching) {
            return ngx_http_gateway_keys_wait(r, gmcf, ctx);
        }
    }

    retry = NGX_MAX_INT32_VALUE;

    if (km) {
        src = km->sources.elts;

        for (i = 0; i < km->sources.nelts; i++) {
            if (src[i].sh) {
                wait = ngx_gateway_keys_wait(&src[i].sh->state,
                                             ngx_current_msec);
                retry = ngx_min(retry, wait);
            }
        }
    }

    if (retry == NGX_MAX_INT32_VALUE) {
        retry = NGX_HTTP_GATEWAY_KEYS_TICK;
    }

    ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                  "gateway: no key set loaded to verify the token");

    if (ngx_http_gateway_retry_after(r, retry) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_str_set(&detail, "The keys that verify tokens could not be loaded "
                         "from the identity provider yet.");

    return ngx_http_gateway_send_problem(r,
                                     NGX_HTTP_GATEWAY_PROBLEM_KEYS_UNAVAILABLE,
                                     &detail);
}


/*
 * The token names a key no set has: one early refetch per min_refresh
 * at most, which the request waits for; NGX_DECLINED refuses it.
 */

ngx_int_t
ngx_http_gateway_keys_unknown(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx)
{
    ngx_uint_t                     i, asked, resumed;
    ngx_slab_pool_t               *shpool;
    ngx_http_gateway_keys_t       *src;
    ngx_http_gateway_keys_main_t  *km;

    km = gmcf->keys;

    if (km == NULL) {
        return NGX_DECLINED;
    }

    src = km->sources.elts;
    asked = 0;
    resumed = (ctx->keys_wait && ctx->keys_wait->resumed);

    for (i = 0; i < km->sources.nelts; i++) {
        if (src[i].sh == NULL) {
            continue;
        }

        shpool = ngx_http_gateway_keys_shpool(&src[i]);

        ngx_shmtx_lock(&shpool->mutex);

        /*
         * Asked for now, or asked for by another request and under way
         * (waited for); else, or still unknown after the wait, one more
         * fetch once min_refresh is over.
         */

        if (resumed) {
            ngx_gateway_keys_later(&src[i].sh->state, &src[i].conf);

        } else if (ngx_gateway_keys_unknown(&src[i].sh->state, &src[i].conf,
                                            ngx_current_msec)
                   == NGX_OK
                   || ngx_gateway_lease_holder(&src[i].sh->lease,
                                               ngx_current_msec))
        {
            asked = 1;

        } else {
            ngx_gateway_keys_later(&src[i].sh->state, &src[i].conf);
        }

        ngx_shmtx_unlock(&shpool->mutex);

        ngx_http_gateway_keys_try(&src[i]);
    }

    if (!asked) {
        return NGX_DECLINED;
    }

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "gateway keys: unknown key, waiting for a refetch");

    return ngx_http_gateway_keys_wait(r, gmcf, ctx);
}


static ngx_int_t
ngx_http_gateway_keys_wait(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx)
{
    ngx_uint_t                     i;
    ngx_msec_t                     timeout;
    ngx_http_gateway_keys_t       *src;
    ngx_http_gateway_keys_wait_t  *w;
    ngx_http_gateway_keys_main_t  *km;

    w = ctx->keys_wait;

    if (w == NULL) {
        w = ngx_pcalloc(r->pool, sizeof(ngx_http_gateway_keys_wait_t));
        if (w == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ctx->keys_wait = w;
    }

    km = gmcf->keys;
    src = km->sources.elts;
    timeout = 0;

    if (w->attempts == NULL) {
        w->attempts = ngx_pcalloc(r->pool,
                                  km->sources.nelts * sizeof(ngx_uint_t));
        if (w->attempts == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    /*
     * Waited for: the sources fetching or due now, each until a fetch of
     * its own ended (not another source's).
     */

    for (i = 0; i < km->sources.nelts; i++) {
        timeout = ngx_max(timeout, ngx_http_gateway_keys_lease(&src[i]));

        w->attempts[i] = 0;

        if (src[i].sh
            && (ngx_gateway_lease_holder(&src[i].sh->lease, ngx_current_msec)
                || ngx_gateway_keys_due(&src[i].sh->state, ngx_current_msec)))
        {
            w->attempts[i] = src[i].sh->state.attempts + 1;
        }
    }

    w->match = *ctx->match;
    w->deadline = ngx_current_msec + timeout;
    w->waiting = 1;

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_gateway_keys_wait_handler;

    r->connection->write->delayed = 1;
    ngx_add_timer(r->connection->write, NGX_HTTP_GATEWAY_KEYS_POLL);

    return NGX_AGAIN;
}


static void
ngx_http_gateway_keys_wait_handler(ngx_http_request_t *r)
{
    ngx_event_t                   *wev;
    ngx_http_gateway_ctx_t        *ctx;
    ngx_http_gateway_keys_wait_t  *w;
    ngx_http_gateway_main_conf_t  *gmcf;

    wev = r->connection->write;

    if (wev->delayed) {
        if (ngx_handle_write_event(wev, 0) != NGX_OK) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        }

        return;
    }

    ctx = ngx_http_get_module_ctx(r, ngx_http_gateway_module);
    gmcf = ngx_http_get_module_main_conf(r, ngx_http_gateway_module);
    w = ctx->keys_wait;

    /* a fetch ended somewhere, or it is too late: on with the request */

    if (!ngx_http_gateway_keys_waited(gmcf->keys, w)
        && (ngx_msec_int_t) (w->deadline - ngx_current_msec) > 0)
    {
        wev->delayed = 1;
        ngx_add_timer(wev, NGX_HTTP_GATEWAY_KEYS_POLL);
        return;
    }

    w->waiting = 0;
    w->resumed = 1;

    if (ngx_handle_read_event(r->connection->read, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->read_event_handler = ngx_http_block_reading;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
}


/*
 * For the phase handler: a request that waited for keys comes back with
 * its context; NGX_OK and its route's match then, else NGX_DECLINED.
 */

ngx_int_t
ngx_http_gateway_keys_resume(ngx_http_gateway_ctx_t *ctx,
    ngx_gateway_route_match_t *m)
{
    ngx_http_gateway_keys_wait_t  *w;

    w = ctx->keys_wait;

    if (w == NULL || !w->resumed || w->rerun) {
        return NGX_DECLINED;
    }

    /* once: the phase handler runs again only after a wait */
    w->rerun = 1;

    *m = w->match;

    return NGX_OK;
}


static ngx_slab_pool_t *
ngx_http_gateway_keys_shpool(ngx_http_gateway_keys_t *src)
{
    ngx_http_gateway_zone_t       *zone;
    ngx_http_gateway_main_conf_t  *gmcf;

    gmcf = src->gmcf;
    zone = gmcf->shm_zone->data;

    return zone->shpool;
}


/* "keys" of gateway_status: each source, as this worker sees it */

ngx_int_t
ngx_http_gateway_keys_status_json(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, void *root)
{
    time_t                         now;
    json_t                        *list, *o, *v;
    ngx_pid_t                      fetcher;
    ngx_uint_t                     i;
    ngx_msec_t                     wait;
    ngx_http_gateway_keys_t       *src;
    ngx_http_gateway_keys_sh_t     sh;
    ngx_http_gateway_keys_main_t  *km;

    km = gmcf->keys;

    if (km == NULL && gmcf->jwks == NULL) {
        return NGX_OK;
    }

    list = json_array();
    if (list == NULL || json_object_set_new(root, "keys", list) != 0) {
        return NGX_ERROR;
    }

    if (gmcf->jwks) {
        o = json_pack("{s:s#, s:s}", "source", gmcf->jwks_file.data,
                      (int) gmcf->jwks_file.len, "kind", "file");

        if (o == NULL || json_array_append_new(list, o) != 0) {
            return NGX_ERROR;
        }

        if (json_object_update_missing_new(o,
                ngx_http_gateway_keys_json(gmcf->jwks))
            != 0)
        {
            return NGX_ERROR;
        }
    }

    if (km == NULL) {
        return NGX_OK;
    }

    (void) ngx_http_gateway_keys_current(gmcf, r->connection->log);

    src = km->sources.elts;
    now = ngx_time();

    for (i = 0; i < km->sources.nelts; i++) {

        o = json_pack("{s:s#, s:s}", "source", src[i].url.data,
                      (int) src[i].url.len, "kind",
                      src[i].discovery ? "oidc_issuer" : "jwks_uri");

        if (o == NULL || json_array_append_new(list, o) != 0) {
            return NGX_ERROR;
        }

        if (src[i].sh == NULL) {
            continue;
        }

        ngx_shmtx_lock(&ngx_http_gateway_keys_shpool(&src[i])->mutex);
        sh = *src[i].sh;
        v = sh.jwks_uri_len ? json_stringn((char *) sh.jwks_uri,
                                           sh.jwks_uri_len)
                            : json_null();
        ngx_shmtx_unlock(&ngx_http_gateway_keys_shpool(&src[i])->mutex);

        wait = ngx_gateway_keys_wait(&sh.state, ngx_current_msec);
        fetcher = ngx_gateway_lease_holder(&sh.lease, ngx_current_msec);

        if (json_object_set_new(o, "jwks_uri", v) != 0
            || json_object_update_missing_new(o,
                   ngx_http_gateway_keys_json(&src[i].jwks))
               != 0
            || json_object_set_new(o, "generation",
                                   json_integer(sh.state.generation)) != 0
            || json_object_set_new(o, "fetches",
                                   json_integer(sh.state.attempts)) != 0
            || json_object_set_new(o, "failures_in_a_row",
                                   json_integer(sh.state.failures)) != 0
            || json_object_set_new(o, "last_fetch",
                                   sh.fetched ? json_integer(sh.fetched)
                                              : json_null()) != 0
            || json_object_set_new(o, "last_success",
                                   sh.loaded ? json_integer(sh.loaded)
                                             : json_null()) != 0
            || json_object_set_new(o, "last_error",
                                   sh.error_len
                                   ? json_stringn((char *) sh.error,
                                                  sh.error_len)
                                   : json_null()) != 0
            || json_object_set_new(o, "last_error_at",
                                   sh.failed ? json_integer(sh.failed)
                                             : json_null()) != 0
            || json_object_set_new(o, "next_refresh",
                                   json_integer(now + (time_t) wait / 1000))
               != 0
            || json_object_set_new(o, "next_refresh_in_ms",
                                   json_integer(wait)) != 0
            || json_object_set_new(o, "fetcher_pid",
                                   fetcher ? json_integer(fetcher)
                                           : json_null()) != 0)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}


/* {"keys": n, "kids": [...], "algorithms": [...]} */

static json_t *
ngx_http_gateway_keys_json(ngx_gateway_jwks_t *jwks)
{
    json_t      *o, *kids, *names;
    ngx_str_t   *name;
    ngx_uint_t   i, bit, algs;

    algs = 0;

    o = json_object();
    kids = json_array();
    names = json_array();

    if (o == NULL || kids == NULL || names == NULL) {
        goto failed;
    }

    for (i = 0; i < jwks->nkeys; i++) {
        if (jwks->keys[i].kid.len
            && json_array_append_new(kids,
                   json_stringn((char *) jwks->keys[i].kid.data,
                                jwks->keys[i].kid.len))
               != 0)
        {
            goto failed;
        }

        algs |= jwks->keys[i].alg;
    }

    for (bit = 1; bit <= NGX_GATEWAY_JWT_ALL_ALGS; bit <<= 1) {
        name = (algs & bit) ? ngx_gateway_jwt_alg_name(bit) : NULL;

        if (name
            && json_array_append_new(names, json_stringn((char *) name->data,
                                                         name->len))
               != 0)
        {
            goto failed;
        }
    }

    if (json_object_set_new(o, "keys", json_integer(jwks->nkeys)) != 0
        || json_object_set_new(o, "kids", kids) != 0
        || json_object_set_new(o, "algorithms", names) != 0)
    {
        json_decref(o);
        return NULL;
    }

    return o;

failed:

    json_decref(o);
    json_decref(kids);
    json_decref(names);

    return NULL;
}


/* the Prometheus lines of the key sources */

size_t
ngx_http_gateway_keys_status_len(ngx_http_gateway_main_conf_t *gmcf)
{
    size_t                    len;
    ngx_uint_t                i;
    ngx_http_gateway_keys_t  *src;

    if (gmcf->keys == NULL) {
        return 0;
    }

    src = gmcf->keys->sources.elts;
    len = 1024;

    for (i = 0; i < gmcf->keys->sources.nelts; i++) {
        len += 3 * (src[i].url.len + 128);
    }

    return len;
}


u_char *
ngx_http_gateway_keys_status_text(ngx_http_gateway_main_conf_t *gmcf,
    u_char *p)
{
    ngx_uint_t                i;
    ngx_http_gateway_keys_t  *src;

    if (gmcf->keys == NULL) {
        return p;
    }

    /* a set another worker fetched, as a request would take it now */
    (void) ngx_http_gateway_keys_current(gmcf, ngx_cycle->log);

    src = gmcf->keys->sources.elts;

    p = ngx_sprintf(p, "# HELP gateway_keys_loaded Keys of the source in "
                       "this worker.\n"
                       "# TYPE gateway_keys_loaded gauge\n");

    for (i = 0; i < gmcf->keys->sources.nelts; i++) {
        p = ngx_sprintf(p, "gateway_keys_loaded{source=\"%V\"} %ui\n",
                        &src[i].url, src[i].jwks.nkeys);
    }

    p = ngx_sprintf(p, "# HELP gateway_keys_fetches_total Fetches of the "
                       "source's keys that ended.\n"
                       "# TYPE gateway_keys_fetches_total counter\n");

    for (i = 0; i < gmcf->keys->sources.nelts; i++) {
        p = ngx_sprintf(p, "gateway_keys_fetches_total{source=\"%V\"} %ui\n",
                        &src[i].url,
                        src[i].sh ? src[i].sh->state.attempts : 0);
    }

    p = ngx_sprintf(p, "# HELP gateway_keys_failures Failed fetches of the "
                       "source's keys in a row.\n"
                       "# TYPE gateway_keys_failures gauge\n");

    for (i = 0; i < gmcf->keys->sources.nelts; i++) {
        p = ngx_sprintf(p, "gateway_keys_failures{source=\"%V\"} %ui\n",
                        &src[i].url,
                        src[i].sh ? src[i].sh->state.failures : 0);
    }

    return p;
}
