
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_GATEWAY_CACHE_H_INCLUDED_
#define _NGX_GATEWAY_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * A bounded LRU map of signed tokens (and a tag) to small values that
 * expire, private to one worker: verified tokens, so that a signature is
 * checked once per token and not on every request.  Time is passed in.
 *
 * The token itself is the key, compared in full and in constant time: a
 * digest of it would cost more than the rest of the gateway's work on a
 * request.  The bucket is chosen from the token's last bytes, its
 * signature: uniform for every token that can be stored, as only
 * verified ones are.
 */


/* how many of the key's last bytes choose its bucket */
#define NGX_GATEWAY_CACHE_HASHED  32


typedef struct ngx_gateway_cache_entry_s  ngx_gateway_cache_entry_t;

struct ngx_gateway_cache_entry_s {
    ngx_gateway_cache_entry_t       *next;      /* in its bucket */
    ngx_queue_t                      queue;     /* LRU, newest first */
    ngx_uint_t                       hash;
    ngx_uint_t                       tag;
    time_t                           expires;
    size_t                           key_len;
    size_t                           len;
    u_char                           data[1];   /* then the key */
};


typedef struct {
    ngx_gateway_cache_entry_t      **buckets;
    ngx_uint_t                       mask;
    ngx_uint_t                       capacity;
    ngx_uint_t                       n;
    ngx_queue_t                      lru;
    ngx_log_t                       *log;
} ngx_gateway_cache_t;


/* NULL on memory failure; entries are freed with the pool */
ngx_gateway_cache_t *ngx_gateway_cache_create(ngx_pool_t *pool,
    ngx_uint_t capacity, ngx_log_t *log);

/* the value stored for (key, tag) while now < its expiry, or NULL */
u_char *ngx_gateway_cache_get(ngx_gateway_cache_t *cache,
    ngx_str_t *key, ngx_uint_t tag, time_t now, size_t *len);

/*
 * Stores copies of the key and the value, evicting the least recently
 * used entry.
 */
ngx_int_t ngx_gateway_cache_put(ngx_gateway_cache_t *cache,
    ngx_str_t *key, ngx_uint_t tag, time_t expires, u_char *data,
    size_t len);


#endif /* _NGX_GATEWAY_CACHE_H_INCLUDED_ */
