
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_gateway_cache.h"


static ngx_http_gateway_cache_entry_t **ngx_http_gateway_cache_bucket(
    ngx_http_gateway_cache_t *cache, u_char *key, ngx_uint_t tag);
static void ngx_http_gateway_cache_remove(ngx_http_gateway_cache_t *cache,
    ngx_http_gateway_cache_entry_t *entry);
static void ngx_http_gateway_cache_cleanup(void *data);


ngx_http_gateway_cache_t *
ngx_http_gateway_cache_create(ngx_pool_t *pool, ngx_uint_t capacity,
    ngx_log_t *log)
{
    ngx_uint_t                 size;
    ngx_pool_cleanup_t        *cln;
    ngx_http_gateway_cache_t  *cache;

    cache = ngx_pcalloc(pool, sizeof(ngx_http_gateway_cache_t));
    if (cache == NULL) {
        return NULL;
    }

    for (size = 16; size < capacity; size <<= 1) { /* void */ }

    cache->buckets = ngx_pcalloc(pool, size * sizeof(void *));
    if (cache->buckets == NULL) {
        return NULL;
    }

    cache->mask = size - 1;
    cache->capacity = capacity;
    cache->log = log;
    ngx_queue_init(&cache->lru);

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_gateway_cache_cleanup;
    cln->data = cache;

    return cache;
}


u_char *
ngx_http_gateway_cache_get(ngx_http_gateway_cache_t *cache, u_char *key,
    ngx_uint_t tag, time_t now, size_t *len)
{
    ngx_http_gateway_cache_entry_t  *e;

    for (e = *ngx_http_gateway_cache_bucket(cache, key, tag); e; e = e->next)
    {
        if (e->tag != tag
            || ngx_memcmp(e->key, key, NGX_HTTP_GATEWAY_CACHE_KEY_LEN) != 0)
        {
            continue;
        }

        if (now >= e->expires) {
            ngx_http_gateway_cache_remove(cache, e);
            return NULL;
        }

        ngx_queue_remove(&e->queue);
        ngx_queue_insert_head(&cache->lru, &e->queue);

        *len = e->len;

        return e->data;
    }

    return NULL;
}


ngx_int_t
ngx_http_gateway_cache_put(ngx_http_gateway_cache_t *cache, u_char *key,
    ngx_uint_t tag, time_t expires, u_char *data, size_t len)
{
    ngx_queue_t                      *q;
    ngx_http_gateway_cache_entry_t   *e, **bucket;

    if (cache->capacity == 0) {
        return NGX_OK;
    }

    bucket = ngx_http_gateway_cache_bucket(cache, key, tag);

    for (e = *bucket; e; e = e->next) {
        if (e->tag == tag
            && ngx_memcmp(e->key, key, NGX_HTTP_GATEWAY_CACHE_KEY_LEN) == 0)
        {
            ngx_http_gateway_cache_remove(cache, e);
            break;
        }
    }

    if (cache->n == cache->capacity) {
        q = ngx_queue_last(&cache->lru);
        e = ngx_queue_data(q, ngx_http_gateway_cache_entry_t, queue);
        ngx_http_gateway_cache_remove(cache, e);
    }

    e = ngx_alloc(offsetof(ngx_http_gateway_cache_entry_t, data) + len,
                  cache->log);
    if (e == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(e->key, key, NGX_HTTP_GATEWAY_CACHE_KEY_LEN);
    e->tag = tag;
    e->expires = expires;
    e->len = len;
    ngx_memcpy(e->data, data, len);

    e->next = *bucket;
    *bucket = e;
    ngx_queue_insert_head(&cache->lru, &e->queue);
    cache->n++;

    return NGX_OK;
}


static ngx_http_gateway_cache_entry_t **
ngx_http_gateway_cache_bucket(ngx_http_gateway_cache_t *cache, u_char *key,
    ngx_uint_t tag)
{
    ngx_uint_t  h;

    /* keys are digests: their first bytes are uniform */

    h = ((ngx_uint_t) key[0] | (ngx_uint_t) key[1] << 8
         | (ngx_uint_t) key[2] << 16 | (ngx_uint_t) key[3] << 24)
        ^ (tag * 2654435761u);

    return &cache->buckets[h & cache->mask];
}


static void
ngx_http_gateway_cache_remove(ngx_http_gateway_cache_t *cache,
    ngx_http_gateway_cache_entry_t *entry)
{
    ngx_http_gateway_cache_entry_t  **e;

    e = ngx_http_gateway_cache_bucket(cache, entry->key, entry->tag);

    while (*e != entry) {
        e = &(*e)->next;
    }

    *e = entry->next;

    ngx_queue_remove(&entry->queue);
    cache->n--;

    ngx_free(entry);
}


static void
ngx_http_gateway_cache_cleanup(void *data)
{
    ngx_http_gateway_cache_t *cache = data;

    ngx_queue_t                     *q;
    ngx_http_gateway_cache_entry_t  *e;

    while (!ngx_queue_empty(&cache->lru)) {
        q = ngx_queue_head(&cache->lru);
        e = ngx_queue_data(q, ngx_http_gateway_cache_entry_t, queue);
        ngx_http_gateway_cache_remove(cache, e);
    }
}
