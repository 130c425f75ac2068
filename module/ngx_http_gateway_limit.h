
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_HTTP_GATEWAY_LIMIT_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_LIMIT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * Rate limits: limit_req's leaky bucket with nodelay, and the store of
 * buckets by key in the gateway zone (rbtree + LRU queue in the slab).
 * Pure: the slab pool, the key, the settings and the time are arguments;
 * nothing here reads the clock or takes a lock.  The caller holds the
 * zone's mutex around each lookup and take: one lock hold per decision.
 *
 * Rates are in 0.001 requests a second, as limit_req keeps them (10r/s
 * is 10000, 30r/m is 500), from 1 to NGX_HTTP_GATEWAY_RATE_MAX * 1000;
 * bursts in requests, at most NGX_HTTP_GATEWAY_RATE_MAX.  Times are
 * milliseconds of a monotonic clock (ngx_current_msec).
 */


#define NGX_HTTP_GATEWAY_LIMIT_KEY_MAX  65535

/* entries looked at, then evicted, when the slab is full */
#define NGX_HTTP_GATEWAY_LIMIT_EVICT    64


/*
 * excess is the level of the bucket, in 0.001 requests: admitted requests
 * that have not leaked yet at `last`, the one admitted at `last` included
 * (limit_req stores this less 1000).  So { 0, 0 } is an empty bucket.
 */
typedef struct {
    ngx_msec_t                 last;      /* when excess was last computed */
    ngx_uint_t                 excess;    /* in 0.001 requests */
} ngx_http_gateway_bucket_t;


/*
 * Admits one request or refuses it.  NGX_OK: admitted, the bucket is
 * updated; NGX_BUSY: refused, the bucket is NOT changed (refused requests
 * are not counted).
 *
 * *remaining: requests that could still pass right now after this
 * decision (0 after the last request of a burst, and when refused);
 * *reset: ms until the bucket is empty again (a full burst + 1 passes
 * then); *retry: on NGX_BUSY ms until one more request would be admitted
 * (> 0), on NGX_OK 0.  A new bucket ({ 0, 0 }) admits burst + 1 requests
 * at once.  A changed rate applies from the last update on.
 *
 * Elapsed time is the signed difference now - last, as in limit_req.
 * When it is negative (a clock stepping back, or another worker's older
 * cached time), no time has elapsed: no quota is granted, last is kept,
 * and reset and retry count the wait until the clock is back at last.
 */
ngx_int_t ngx_http_gateway_bucket_take(ngx_http_gateway_bucket_t *b,
    ngx_uint_t rate, ngx_uint_t burst, ngx_msec_t now,
    ngx_uint_t *remaining, ngx_msec_t *reset, ngx_msec_t *retry);


/* the store, in the gateway zone */
typedef struct {
    ngx_rbtree_t               rbtree;    /* by ngx_crc32_short(key) */
    ngx_rbtree_node_t          sentinel;
    ngx_queue_t                lru;       /* most recently used first */
    ngx_uint_t                 nodes;     /* count, for the status endpoint */
} ngx_http_gateway_limit_sh_t;


/*
 * An entry: an ngx_rbtree_node_t whose fields from `color` on are this
 * struct (limit_req's layout), allocated in the slab with its key.
 */
typedef struct {
    u_char                     color;
    u_char                     pinned;    /* never dropped nor evicted */
    u_short                    len;       /* of data */
    uint32_t                   rate;      /* of the last lookup */
    ngx_queue_t                queue;     /* in lru */
    ngx_http_gateway_bucket_t  bucket;
    u_char                     data[1];   /* the key */
} ngx_http_gateway_limit_node_t;


#define ngx_http_gateway_limit_node(node)                                     \
    ((ngx_http_gateway_limit_node_t *) &(node)->color)


/* an empty store; sh lives in the zone (it may be in the slab) */
void ngx_http_gateway_limit_init(ngx_http_gateway_limit_sh_t *sh);

/*
 * Finds or creates the bucket of a key (at most 65535 bytes: longer keys
 * get NULL, never a truncated key) and moves it to the LRU head; `rate`
 * is stored in the entry to judge later whether it is idle.
 *
 * Creation first drops up to 2 idle entries from the LRU tail (idle: their
 * bucket would be empty at `now`, so dropping them loses nothing).  When
 * the slab is full, it evicts entries whatever their state: the least
 * recently used one whose node has the new node's slab size, if one is
 * among the NGX_HTTP_GATEWAY_LIMIT_EVICT oldest (one eviction then makes
 * room), else the oldest ones, up to NGX_HTTP_GATEWAY_LIMIT_EVICT, until
 * the allocation succeeds.  NULL when even that fails (the zone is full
 * of other allocations or other sizes, or the key can never fit): the
 * caller answers with its configured status and logs one alert.
 * *created: 1 for a new entry (an empty bucket), else 0.
 *
 * The bucket returned is valid while the caller holds the lock and until
 * its next lookup in this store (which may evict it): take, then unlock.
 * A pinned entry is never dropped nor evicted, so that one decision can
 * look up several buckets and keep them all.
 */
ngx_http_gateway_bucket_t *ngx_http_gateway_limit_lookup(
    ngx_slab_pool_t *shpool, ngx_http_gateway_limit_sh_t *sh, ngx_str_t *key,
    ngx_msec_t now, ngx_uint_t rate, ngx_uint_t *created);

/* pins (1) or unpins (0) the entry of a bucket; unpin before unlocking */
void ngx_http_gateway_limit_pin(ngx_http_gateway_bucket_t *bucket,
    ngx_uint_t pinned);

/*
 * Bytes of slab memory one tracked key of this length costs (node and
 * key, rounded up as the slab rounds), not counting the slab's page
 * descriptors (24 bytes a 4k page on 64-bit systems).
 */
size_t ngx_http_gateway_limit_node_size(size_t key_len);


#endif /* _NGX_HTTP_GATEWAY_LIMIT_H_INCLUDED_ */
