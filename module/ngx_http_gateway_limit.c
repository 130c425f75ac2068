
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_gateway_limit.h"


static uint64_t ngx_http_gateway_bucket_level(ngx_http_gateway_bucket_t *b,
    ngx_uint_t rate, int64_t ms);
static int64_t ngx_http_gateway_bucket_drain_time(uint64_t excess,
    ngx_uint_t rate);
static ngx_msec_t ngx_http_gateway_limit_msec(int64_t ms);
static void ngx_http_gateway_limit_rbtree_insert_value(
    ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel);
static void ngx_http_gateway_limit_expire(ngx_slab_pool_t *shpool,
    ngx_http_gateway_limit_sh_t *sh, ngx_msec_t now);
static void ngx_http_gateway_limit_delete(ngx_slab_pool_t *shpool,
    ngx_http_gateway_limit_sh_t *sh, ngx_http_gateway_limit_node_t *ln);


ngx_int_t
ngx_http_gateway_bucket_take(ngx_http_gateway_bucket_t *b, ngx_uint_t rate,
    ngx_uint_t burst, ngx_msec_t now, ngx_uint_t *remaining,
    ngx_msec_t *reset, ngx_msec_t *retry)
{
    int64_t   ms;
    uint64_t  level, cap;

    /* signed, as limit_req: a 32-bit clock's wrap reads as elapsed time */
    ms = (ngx_msec_int_t) (now - b->last);

    level = ngx_http_gateway_bucket_level(b, rate, ms);
    cap = ((uint64_t) burst + 1) * 1000;

    if (level + 1000 > cap) {

        /*
         * level > burst * 1000, so excess > burst * 1000: the wait is
         * counted from last, as the next take will count it
         */

        *remaining = 0;
        *reset = ngx_http_gateway_limit_msec(
                     ngx_http_gateway_bucket_drain_time(b->excess, rate) - ms);
        *retry = ngx_http_gateway_limit_msec(
                     ngx_http_gateway_bucket_drain_time(
                         b->excess - (uint64_t) burst * 1000, rate)
                     - ms);

        return NGX_BUSY;
    }

    /*
     * last moves only forward, or from an empty bucket, which has nothing
     * left to leak: moving it back would leak the same time twice
     */

    if (ms > 0 || b->excess == 0) {
        b->last = now;
        ms = 0;
    }

    b->excess = (ngx_uint_t) (level + 1000);

    *remaining = (ngx_uint_t) ((cap - b->excess) / 1000);
    *reset = ngx_http_gateway_limit_msec(
                 ngx_http_gateway_bucket_drain_time(b->excess, rate) - ms);
    *retry = 0;

    return NGX_OK;
}


/* the level at last + ms; no time has elapsed when ms < 0 */

static uint64_t
ngx_http_gateway_bucket_level(ngx_http_gateway_bucket_t *b, ngx_uint_t rate,
    int64_t ms)
{
    if (ms <= 0) {
        return b->excess;
    }

    /* past the drain time rate * ms could overflow: the bucket is empty */

    if (ms >= ngx_http_gateway_bucket_drain_time(b->excess, rate)) {
        return 0;
    }

    return b->excess - (uint64_t) rate * (uint64_t) ms / 1000;
}


/* the least ms with rate * ms / 1000 >= excess */

static int64_t
ngx_http_gateway_bucket_drain_time(uint64_t excess, ngx_uint_t rate)
{
    return (int64_t) ((excess * 1000 + rate - 1) / rate);
}


static ngx_msec_t
ngx_http_gateway_limit_msec(int64_t ms)
{
    if (ms <= 0) {
        return 0;
    }

#if (NGX_PTR_SIZE == 4)

    /* a burst of 100000 at 1r/m leaks in 72 days: beyond 32 bits of ms */

    if (ms > NGX_MAX_UINT32_VALUE) {
        return NGX_MAX_UINT32_VALUE;
    }

#endif

    return (ngx_msec_t) ms;
}


void
ngx_http_gateway_limit_init(ngx_http_gateway_limit_sh_t *sh)
{
    ngx_rbtree_init(&sh->rbtree, &sh->sentinel,
                    ngx_http_gateway_limit_rbtree_insert_value);
    ngx_queue_init(&sh->lru);
    sh->nodes = 0;
}


ngx_http_gateway_bucket_t *
ngx_http_gateway_limit_lookup(ngx_slab_pool_t *shpool,
    ngx_http_gateway_limit_sh_t *sh, ngx_str_t *key, ngx_msec_t now,
    ngx_uint_t rate, ngx_uint_t *created)
{
    size_t                          size, chunk;
    uint32_t                        hash;
    ngx_int_t                       rc;
    ngx_uint_t                      n;
    ngx_queue_t                    *q;
    ngx_rbtree_node_t              *node, *sentinel;
    ngx_http_gateway_limit_node_t  *ln;

    *created = 0;

    if (key->len > NGX_HTTP_GATEWAY_LIMIT_KEY_MAX) {
        return NULL;
    }

    hash = ngx_crc32_short(key->data, key->len);

    node = sh->rbtree.root;
    sentinel = sh->rbtree.sentinel;

    while (node != sentinel) {

        if (hash < node->key) {
            node = node->left;
            continue;
        }

        if (hash > node->key) {
            node = node->right;
            continue;
        }

        /* hash == node->key */

        ln = ngx_http_gateway_limit_node(node);

        rc = ngx_memn2cmp(key->data, ln->data, key->len, (size_t) ln->len);

        if (rc == 0) {
            ngx_queue_remove(&ln->queue);
            ngx_queue_insert_head(&sh->lru, &ln->queue);

            /* at most 1000000 r/s: 10^9 fits in 32 bits */
            ln->rate = (uint32_t) rate;

            return &ln->bucket;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_gateway_limit_node_t, data)
           + key->len;

    /* a node larger than the pages can never fit: keep the others */

    if (size > (size_t) (shpool->end - shpool->start)) {
        return NULL;
    }

    ngx_http_gateway_limit_expire(shpool, sh, now);

    node = ngx_slab_alloc_locked(shpool, size);

    /*
     * A freed chunk serves a node of its own size class only, and a page
     * is freed with its last chunk.  So the oldest entry of the new one's
     * class goes first: one eviction then makes room.  Failing that, the
     * oldest entries of any size go, until a page is free or the bound.
     */

    if (node == NULL) {
        chunk = ngx_http_gateway_limit_node_size(key->len);

        n = 0;

        for (q = ngx_queue_last(&sh->lru);
             q != ngx_queue_sentinel(&sh->lru)
             && n < NGX_HTTP_GATEWAY_LIMIT_EVICT;
             q = ngx_queue_prev(q), n++)
        {
            ln = ngx_queue_data(q, ngx_http_gateway_limit_node_t, queue);

            if (!ln->pinned
                && ngx_http_gateway_limit_node_size(ln->len) == chunk)
            {
                ngx_http_gateway_limit_delete(shpool, sh, ln);
                node = ngx_slab_alloc_locked(shpool, size);
                break;
            }
        }
    }

    for (n = 0; node == NULL && n < NGX_HTTP_GATEWAY_LIMIT_EVICT; n++) {

        for (q = ngx_queue_last(&sh->lru);
             q != ngx_queue_sentinel(&sh->lru);
             q = ngx_queue_prev(q))
        {
            ln = ngx_queue_data(q, ngx_http_gateway_limit_node_t, queue);

            if (!ln->pinned) {
                break;
            }
        }

        if (q == ngx_queue_sentinel(&sh->lru)) {
            break;
        }

        ngx_http_gateway_limit_delete(shpool, sh, ln);

        node = ngx_slab_alloc_locked(shpool, size);
    }

    if (node == NULL) {
        return NULL;
    }

    node->key = hash;

    ln = ngx_http_gateway_limit_node(node);

    ln->len = (u_short) key->len;
    ln->pinned = 0;
    ln->rate = (uint32_t) rate;
    ln->bucket.last = 0;
    ln->bucket.excess = 0;

    ngx_memcpy(ln->data, key->data, key->len);

    /*
     * The tree keeps a pointer to the insert function in the zone, which
     * outlives a reload; this process's copy of the module may be mapped
     * elsewhere than the one that initialised the zone.
     */

    sh->rbtree.insert = ngx_http_gateway_limit_rbtree_insert_value;

    ngx_rbtree_insert(&sh->rbtree, node);
    ngx_queue_insert_head(&sh->lru, &ln->queue);
    sh->nodes++;

    *created = 1;

    return &ln->bucket;
}


void
ngx_http_gateway_limit_pin(ngx_http_gateway_bucket_t *bucket,
    ngx_uint_t pinned)
{
    ngx_http_gateway_limit_node_t  *ln;

    ln = (ngx_http_gateway_limit_node_t *)
             ((u_char *) bucket - offsetof(ngx_http_gateway_limit_node_t,
                                           bucket));
    ln->pinned = pinned ? 1 : 0;
}


size_t
ngx_http_gateway_limit_node_size(size_t key_len)
{
    size_t  size, s;

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_http_gateway_limit_node_t, data)
           + key_len;

    /* as ngx_slab_alloc_locked(): whole pages, or a power of 2 chunk */

    if (size > ngx_pagesize / 2) {
        return ngx_align(size, ngx_pagesize);
    }

    for (s = 8; s < size; s <<= 1) { /* void */ }

    return s;
}


static void
ngx_http_gateway_limit_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t              **p;
    ngx_http_gateway_limit_node_t   *ln, *lnt;

    for ( ;; ) {

        if (node->key < temp->key) {

            p = &temp->left;

        } else if (node->key > temp->key) {

            p = &temp->right;

        } else { /* node->key == temp->key */

            ln = ngx_http_gateway_limit_node(node);
            lnt = ngx_http_gateway_limit_node(temp);

            p = (ngx_memn2cmp(ln->data, lnt->data, ln->len, lnt->len) < 0)
                ? &temp->left : &temp->right;
        }

        if (*p == sentinel) {
            break;
        }

        temp = *p;
    }

    *p = node;
    node->parent = temp;
    node->left = sentinel;
    node->right = sentinel;
    ngx_rbt_red(node);
}


/*
 * Drops one or two idle entries from the LRU tail, by the rate each was
 * last used with; stops at the first entry that is not idle, as the ones
 * before it were used more recently.
 */

static void
ngx_http_gateway_limit_expire(ngx_slab_pool_t *shpool,
    ngx_http_gateway_limit_sh_t *sh, ngx_msec_t now)
{
    ngx_uint_t                      n;
    ngx_queue_t                    *q;
    ngx_http_gateway_limit_node_t  *ln;

    for (n = 0; n < 2; n++) {

        if (ngx_queue_empty(&sh->lru)) {
            return;
        }

        q = ngx_queue_last(&sh->lru);
        ln = ngx_queue_data(q, ngx_http_gateway_limit_node_t, queue);

        if (ln->pinned
            || ngx_http_gateway_bucket_level(&ln->bucket, ln->rate,
                   (ngx_msec_int_t) (now - ln->bucket.last))
               != 0)
        {
            return;
        }

        ngx_http_gateway_limit_delete(shpool, sh, ln);
    }
}


static void
ngx_http_gateway_limit_delete(ngx_slab_pool_t *shpool,
    ngx_http_gateway_limit_sh_t *sh, ngx_http_gateway_limit_node_t *ln)
{
    ngx_rbtree_node_t  *node;

    node = (ngx_rbtree_node_t *)
               ((u_char *) ln - offsetof(ngx_rbtree_node_t, color));

    ngx_queue_remove(&ln->queue);
    ngx_rbtree_delete(&sh->rbtree, node);
    ngx_slab_free_locked(shpool, node);

    sh->nodes--;
}
