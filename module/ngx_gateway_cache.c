
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gateway_cache.h"


static ngx_uint_t ngx_gateway_cache_hash(ngx_str_t *key,
    ngx_uint_t tag);
static ngx_gateway_cache_entry_t *ngx_gateway_cache_find(
    ngx_gateway_cache_t *cache, ngx_str_t *key, ngx_uint_t hash,
    ngx_uint_t tag);
static ngx_uint_t ngx_gateway_cache_equal(u_char *a, u_char *b,
    size_t len);
static void ngx_gateway_cache_remove(ngx_gateway_cache_t *cache,
    ngx_gateway_cache_entry_t *entry);
static void ngx_gateway_cache_cleanup(void *data);


ngx_gateway_cache_t *
ngx_gateway_cache_create(ngx_pool_t *pool, ngx_uint_t capacity,
    ngx_log_t *log)
{
    ngx_uint_t                 size;
    ngx_pool_cleanup_t        *cln;
    ngx_gateway_cache_t       *cache;

    cache = ngx_pcalloc(pool, sizeof(ngx_gateway_cache_t));
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

    cln->handler = ngx_gateway_cache_cleanup;
    cln->data = cache;

    return cache;
}


u_char *
ngx_gateway_cache_get(ngx_gateway_cache_t *cache, ngx_str_t *key,
    ngx_uint_t tag, time_t now, size_t *len)
{
    ngx_gateway_cache_entry_t       *e;

    e = ngx_gateway_cache_find(cache, key,
                               ngx_gateway_cache_hash(key, tag),
                               tag);
    if (e == NULL) {
        return NULL;
    }

    if (now >= e->expires) {
        ngx_gateway_cache_remove(cache, e);
        return NULL;
    }

    ngx_queue_remove(&e->queue);
    ngx_queue_insert_head(&cache->lru, &e->queue);

    *len = e->len;

    return e->data;
}


ngx_int_t
ngx_gateway_cache_put(ngx_gateway_cache_t *cache, ngx_str_t *key,
    ngx_uint_t tag, time_t expires, u_char *data, size_t len)
{
    ngx_uint_t                        hash;
    ngx_queue_t                      *q;
    ngx_gateway_cache_entry_t        *e;

    if (cache->capacity == 0) {
        return NGX_OK;
    }

    hash = ngx_gateway_cache_hash(key, tag);

    e = ngx_gateway_cache_find(cache, key, hash, tag);
    if (e) {
        ngx_gateway_cache_remove(cache, e);
    }

    if (cache->n == cache->capacity) {
        q = ngx_queue_last(&cache->lru);
        e = ngx_queue_data(q, ngx_gateway_cache_entry_t, queue);
        ngx_gateway_cache_remove(cache, e);
    }

    e = ngx_alloc(offsetof(ngx_gateway_cache_entry_t, data) + len
                  + key->len, cache->log);
    if (e == NULL) {
        return NGX_ERROR;
    }

    e->hash = hash;
    e->tag = tag;
    e->expires = expires;
    e->len = len;
    ngx_memcpy(e->data, data, len);
    e->key_len = key->len;
    ngx_memcpy(e->data + len, key->data, key->len);

    e->next = cache->buckets[hash & cache->mask];
    cache->buckets[hash & cache->mask] = e;
    ngx_queue_insert_head(&cache->lru, &e->queue);
    cache->n++;

    return NGX_OK;
}


/*
 * The key's last bytes, eight at a time, with its length and the tag,
 * multiplied and folded: they are a signature, nothing to spread.
 */

static ngx_uint_t
ngx_gateway_cache_hash(ngx_str_t *key, ngx_uint_t tag)
{
    u_char    *p, *last;
    uint64_t   h, w;

    last = key->data + key->len;
    p = key->len > NGX_GATEWAY_CACHE_HASHED
        ? last - NGX_GATEWAY_CACHE_HASHED : key->data;

    h = (uint64_t) key->len << 32 ^ tag;

    for ( /* void */ ; p + 8 <= last; p += 8) {
        ngx_memcpy(&w, p, 8);
        h = (h ^ w) * 0x9e3779b97f4a7c15ULL;
    }

    for ( /* void */ ; p < last; p++) {
        h = (h ^ *p) * 0x9e3779b97f4a7c15ULL;
    }

    return (ngx_uint_t) (h ^ h >> 29);
}


static ngx_gateway_cache_entry_t *
ngx_gateway_cache_find(ngx_gateway_cache_t *cache, ngx_str_t *key,
    ngx_uint_t hash, ngx_uint_t tag)
{
    ngx_gateway_cache_entry_t       *e;

    for (e = cache->buckets[hash & cache->mask]; e; e = e->next) {
        if (e->hash == hash && e->tag == tag && e->key_len == key->len
            && ngx_gateway_cache_equal(e->data + e->len, key->data,
                                       key->len))
        {
            return e;
        }
    }

    return NULL;
}


/*
 * Constant time: a stored token must not be learnt byte by byte from
 * how long a wrong one takes to be refused.  Eight bytes at a time:
 * CRYPTO_memcmp() goes byte by byte, several times this on a token.
 */

static ngx_uint_t
ngx_gateway_cache_equal(u_char *a, u_char *b, size_t len)
{
    size_t    i;
    uint64_t  x, y, diff;

    diff = 0;

    for (i = 0; i + 8 <= len; i += 8) {
        ngx_memcpy(&x, a + i, 8);
        ngx_memcpy(&y, b + i, 8);
        diff |= x ^ y;
    }

    for ( /* void */ ; i < len; i++) {
        diff |= (uint64_t) (a[i] ^ b[i]);
    }

    return diff == 0;
}


static void
ngx_gateway_cache_remove(ngx_gateway_cache_t *cache,
    ngx_gateway_cache_entry_t *entry)
{
    ngx_gateway_cache_entry_t       **e;

    e = &cache->buckets[entry->hash & cache->mask];

    while (*e != entry) {
        e = &(*e)->next;
    }

    *e = entry->next;

    ngx_queue_remove(&entry->queue);
    cache->n--;

    ngx_free(entry);
}


static void
ngx_gateway_cache_cleanup(void *data)
{
    ngx_gateway_cache_t *cache = data;

    ngx_queue_t                     *q;
    ngx_gateway_cache_entry_t       *e;

    while (!ngx_queue_empty(&cache->lru)) {
        q = ngx_queue_head(&cache->lru);
        e = ngx_queue_data(q, ngx_gateway_cache_entry_t, queue);
        ngx_gateway_cache_remove(cache, e);
    }
}
