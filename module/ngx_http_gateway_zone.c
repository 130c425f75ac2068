
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include "ngx_http_gateway_module.h"


static ngx_int_t ngx_http_gateway_init_zone(ngx_shm_zone_t *shm_zone,
    void *data);
static void ngx_http_gateway_zone_reinit_pool(ngx_shm_zone_t *shm_zone);
static ngx_int_t ngx_http_gateway_zone_fresh(ngx_shm_zone_t *shm_zone);
static void ngx_http_gateway_zone_log_resize(ngx_shm_zone_t *shm_zone);


/* gateway_zone name size; */

char *
ngx_http_gateway_zone(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    char  *p = conf;

    ssize_t           size;
    ngx_str_t        *value;
    ngx_shm_zone_t  **zone;

    zone = (ngx_shm_zone_t **) (p + cmd->offset);

    if (*zone != NULL) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone name \"%V\"", &value[1]);
        return NGX_CONF_ERROR;
    }

    size = ngx_parse_size(&value[2]);

    if (size == NGX_ERROR) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid zone size \"%V\"", &value[2]);
        return NGX_CONF_ERROR;
    }

    if (size < (ssize_t) (8 * ngx_pagesize)) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is too small: \"%V\" is less than "
                           "%uzk", &value[1], &value[2],
                           8 * ngx_pagesize / 1024);
        return NGX_CONF_ERROR;
    }

    *zone = ngx_http_gateway_zone_add(cf, &value[1], size, conf);
    if (*zone == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


ngx_shm_zone_t *
ngx_http_gateway_zone_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    void *gmcf)
{
    ngx_shm_zone_t           *shm_zone;
    ngx_http_gateway_zone_t  *zone;

    zone = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_zone_t));
    if (zone == NULL) {
        return NULL;
    }

    shm_zone = ngx_shared_memory_add(cf, name, size,
                                     &ngx_http_gateway_module);
    if (shm_zone == NULL) {
        return NULL;
    }

    if (shm_zone->data) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "zone \"%V\" is already used by another "
                           "\"gateway_zone\"", name);
        return NULL;
    }

    zone->gmcf = gmcf;

    shm_zone->init = ngx_http_gateway_init_zone;
    shm_zone->data = zone;

    return shm_zone;
}


/*
 * Runs in the master, on start and on every reload.  nginx hands back
 * the old zone (data != NULL) only when name, size and tag (the module's
 * address) are unchanged; old workers still use it, so it is adopted,
 * never reset.  A changed layout cannot come that way: a different build
 * of the module is a different tag, and nginx maps a new zone for it.
 * Should the zone hold anything else all the same, it starts afresh.
 */

static ngx_int_t
ngx_http_gateway_init_zone(ngx_shm_zone_t *shm_zone, void *data)
{
    ngx_http_gateway_zone_t   *ozone = data;

    ngx_int_t                  rc;
    ngx_http_gateway_zone_t   *zone;
    ngx_http_gateway_shctx_t  *sh;

    zone = shm_zone->data;
    zone->shpool = (ngx_slab_pool_t *) shm_zone->shm.addr;

    sh = NULL;

    if (ozone) {
        sh = ozone->sh;

    } else if (shm_zone->shm.exists) {
        sh = zone->shpool->data;
    }

    if (sh == NULL) {
        ngx_http_gateway_zone_log_resize(shm_zone);
        rc = ngx_http_gateway_zone_fresh(shm_zone);

    } else if (sh->magic != NGX_HTTP_GATEWAY_SHM_MAGIC
               || sh->version != NGX_HTTP_GATEWAY_SHM_VERSION)
    {
        ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                      "gateway zone \"%V\" holds state of layout version "
                      "%uD, this module uses %d: it starts afresh",
                      &shm_zone->shm.name,
                      (sh->magic == NGX_HTTP_GATEWAY_SHM_MAGIC)
                      ? sh->version : 0,
                      NGX_HTTP_GATEWAY_SHM_VERSION);

        ngx_http_gateway_zone_reinit_pool(shm_zone);

        rc = ngx_http_gateway_zone_fresh(shm_zone);

    } else {
        zone->sh = sh;

        if (ozone) {
            ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                          "gateway zone \"%V\" kept across reload",
                          &shm_zone->shm.name);
        }

        rc = NGX_OK;
    }

    if (rc != NGX_OK) {
        return NGX_ERROR;
    }

    /* fresh or kept, each concern finds or makes its state in the zone */

    if (ngx_http_gateway_breaker_init_zone(shm_zone, zone->gmcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_gateway_bulkheads_init_zone(shm_zone, zone->gmcf);
}


/*
 * The slab pool emptied as ngx_init_zone_pool() makes it.  Its mutex is
 * kept: the pool header is nginx's own, created for this very mapping,
 * and an old worker may hold the lock.
 */

static void
ngx_http_gateway_zone_reinit_pool(ngx_shm_zone_t *shm_zone)
{
    ngx_slab_pool_t  *sp;

    sp = (ngx_slab_pool_t *) shm_zone->shm.addr;

    ngx_shmtx_lock(&sp->mutex);

    sp->end = shm_zone->shm.addr + shm_zone->shm.size;
    sp->min_shift = 3;
    sp->addr = shm_zone->shm.addr;

    ngx_slab_init(sp);

    ngx_shmtx_unlock(&sp->mutex);
}


/* an empty zone: the shared context first in the slab pool */

static ngx_int_t
ngx_http_gateway_zone_fresh(ngx_shm_zone_t *shm_zone)
{
    size_t                    len;
    ngx_http_gateway_zone_t  *zone;

    zone = shm_zone->data;

    zone->sh = ngx_slab_calloc(zone->shpool,
                               sizeof(ngx_http_gateway_shctx_t));
    if (zone->sh == NULL) {
        return NGX_ERROR;
    }

    zone->sh->magic = NGX_HTTP_GATEWAY_SHM_MAGIC;
    zone->sh->version = NGX_HTTP_GATEWAY_SHM_VERSION;
    zone->sh->created = ngx_time();
    ngx_gateway_limit_init(&zone->sh->limits);
    ngx_gateway_cluster_init(&zone->sh->cluster);
    ngx_rbtree_init(&zone->sh->services, &zone->sh->services_sentinel,
                    ngx_str_rbtree_insert_value);
    ngx_queue_init(&zone->sh->holds);
    ngx_queue_init(&zone->sh->objects);
    ngx_rbtree_init(&zone->sh->bulkheads, &zone->sh->bulkheads_sentinel,
                    ngx_str_rbtree_insert_value);

    zone->shpool->data = zone->sh;

    len = sizeof(" in gateway zone \"\"") + shm_zone->shm.name.len;

    zone->shpool->log_ctx = ngx_slab_alloc(zone->shpool, len);
    if (zone->shpool->log_ctx == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(zone->shpool->log_ctx, " in gateway zone \"%V\"%Z",
                &shm_zone->shm.name);

    /* allocation failures are handled (evict, then one alert) */
    zone->shpool->log_nomem = 0;

    ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                  "gateway zone \"%V\" created, %uzk",
                  &shm_zone->shm.name, shm_zone->shm.size / 1024);

    return NGX_OK;
}


/*
 * On reload nginx maps a new segment when the size changed, and the
 * state of the old one is lost: say so, since nginx does not.
 */

static void
ngx_http_gateway_zone_log_resize(ngx_shm_zone_t *shm_zone)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_shm_zone_t   *old;

    /* while the new cycle is set up, ngx_cycle is still the old one */

    if (ngx_cycle == NULL || ngx_cycle->shared_memory.part.elts == NULL) {
        return;
    }

    part = (ngx_list_part_t *) &ngx_cycle->shared_memory.part;
    old = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return;
            }

            part = part->next;
            old = part->elts;
            i = 0;
        }

        if (old[i].tag == shm_zone->tag
            && old[i].shm.name.len == shm_zone->shm.name.len
            && ngx_strncmp(old[i].shm.name.data, shm_zone->shm.name.data,
                           shm_zone->shm.name.len)
               == 0
            && old[i].shm.size != shm_zone->shm.size)
        {
            ngx_log_error(NGX_LOG_NOTICE, shm_zone->shm.log, 0,
                          "gateway zone \"%V\" resized from %uzk to %uzk: "
                          "its state starts afresh", &shm_zone->shm.name,
                          old[i].shm.size / 1024, shm_zone->shm.size / 1024);
            return;
        }
    }
}
