
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gateway_cluster.h"


/* bounds of what a reply may say; beyond them it is garbage */
#define NGX_GATEWAY_CLUSTER_TOKENS_MAX  ((long long) 1 << 40)
#define NGX_GATEWAY_CLUSTER_HOSTS_MAX   65536
#define NGX_GATEWAY_CLUSTER_MS_MAX      ((long long) 1 << 40)


static void ngx_gateway_cluster_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel);
static ngx_gateway_cluster_node_t *ngx_gateway_cluster_find(
    ngx_gateway_cluster_sh_t *sh, ngx_str_t *key, uint32_t hash);
static void ngx_gateway_cluster_delete(ngx_slab_pool_t *shpool,
    ngx_gateway_cluster_sh_t *sh, ngx_gateway_cluster_node_t *cn);
static ngx_uint_t ngx_gateway_cluster_prov(ngx_uint_t burst,
    ngx_uint_t hosts);
static ngx_msec_t ngx_gateway_cluster_ms(int64_t ms);
static int64_t ngx_gateway_cluster_floor_div(int64_t a, int64_t b);
static ngx_int_t ngx_gateway_cluster_integers(redisReply *reply,
    size_t n, long long *v);


void
ngx_gateway_cluster_init(ngx_gateway_cluster_sh_t *sh)
{
    ngx_rbtree_init(&sh->rbtree, &sh->sentinel,
                    ngx_gateway_cluster_rbtree_insert_value);
    ngx_queue_init(&sh->lru);
    ngx_queue_init(&sh->pending);
    sh->nodes = 0;
    sh->hosts = 0;
}


ngx_gateway_cluster_node_t *
ngx_gateway_cluster_lookup(ngx_slab_pool_t *shpool,
    ngx_gateway_cluster_sh_t *sh, ngx_str_t *key, ngx_uint_t rate,
    ngx_uint_t burst, ngx_msec_t interval, ngx_msec_t now)
{
    size_t                       size;
    uint32_t                     hash;
    ngx_uint_t                   n;
    ngx_queue_t                 *q;
    ngx_rbtree_node_t           *node;
    ngx_gateway_cluster_node_t  *cn;

    if (key->len > NGX_GATEWAY_LIMIT_KEY_MAX) {
        return NULL;
    }

    hash = ngx_crc32_short(key->data, key->len);

    cn = ngx_gateway_cluster_find(sh, key, hash);

    if (cn) {
        ngx_queue_remove(&cn->lru);
        ngx_queue_insert_head(&sh->lru, &cn->lru);

        /* a reload may have changed the line's settings */
        cn->rate = (uint32_t) rate;
        cn->burst = (uint32_t) burst;
        cn->interval = interval;

        return cn;
    }

    size = offsetof(ngx_rbtree_node_t, color)
           + offsetof(ngx_gateway_cluster_node_t, data)
           + key->len;

    node = ngx_slab_alloc_locked(shpool, size);

    /* the oldest entries go, a bounded number, until there is room */

    for (n = 0; node == NULL && n < NGX_GATEWAY_LIMIT_EVICT; n++) {

        if (ngx_queue_empty(&sh->lru)) {
            break;
        }

        q = ngx_queue_last(&sh->lru);
        ngx_gateway_cluster_delete(shpool, sh,
            ngx_queue_data(q, ngx_gateway_cluster_node_t, lru));

        node = ngx_slab_alloc_locked(shpool, size);
    }

    if (node == NULL) {
        return NULL;
    }

    node->key = hash;

    cn = (ngx_gateway_cluster_node_t *) &node->color;

    ngx_memzero(&cn->queued, size - offsetof(ngx_rbtree_node_t, color)
                             - offsetof(ngx_gateway_cluster_node_t, queued));

    cn->len = (u_short) key->len;
    cn->rate = (uint32_t) rate;
    cn->burst = (uint32_t) burst;
    cn->interval = interval;
    cn->due = now;
    cn->prov = ngx_gateway_cluster_prov(burst, sh->hosts);
    cn->free = 1;

    ngx_memcpy(cn->data, key->data, key->len);

    /* as the limit store: this process's insert function */
    sh->rbtree.insert = ngx_gateway_cluster_rbtree_insert_value;

    ngx_rbtree_insert(&sh->rbtree, node);
    ngx_queue_insert_head(&sh->lru, &cn->lru);
    sh->nodes++;

    return cn;
}


void
ngx_gateway_cluster_decide(ngx_gateway_cluster_sh_t *sh,
    ngx_gateway_cluster_node_t *cn, ngx_msec_t now, ngx_uint_t commit,
    ngx_gateway_cluster_decision_t *d)
{
    int64_t     te, wait;
    ngx_msec_t  elapsed;

    te = ngx_gateway_cluster_te(cn->rate);

    d->kick = 0;
    d->retry = 0;

    /* until the cluster's bucket is empty, as Redis said at the sync */

    elapsed = (ngx_msec_int_t) (now - cn->synced) > 0 ? now - cn->synced : 0;
    d->reset = (cn->synced && cn->reset > elapsed) ? cn->reset - elapsed : 0;

    if (cn->lease) {
        d->rc = NGX_OK;
        d->remaining = ngx_min(cn->lease - 1, cn->burst);
        d->reset += (ngx_msec_t) (te / 1000);

        if (commit) {
            cn->lease--;
        }

        return;
    }

    if (cn->prov) {
        d->rc = NGX_OK;
        d->remaining = ngx_min(cn->prov - 1, cn->burst);
        d->reset += (ngx_msec_t) (te / 1000);

        if (commit) {
            cn->prov--;
            cn->extra++;
        }

        return;
    }

    /*
     * No token here: the next sync may bring some, or, when the cluster
     * has none free, the time they take to leak.
     */

    d->rc = NGX_BUSY;
    d->remaining = 0;

    wait = (ngx_msec_int_t) (cn->due - now) > 0 ? cn->due - now : 1;

    if (cn->synced && cn->free <= 0) {
        wait = ngx_max(wait, ((1 - cn->free) * te + 999) / 1000);

    } else {
        d->kick = 1;
    }

    d->retry = ngx_gateway_cluster_ms(wait);
    d->reset = ngx_max(d->reset, d->retry);
}


void
ngx_gateway_cluster_offer(ngx_gateway_cluster_sh_t *sh,
    ngx_gateway_cluster_node_t *cn)
{
    cn->demand++;
    cn->idle = 0;

    if (!cn->queued) {
        cn->queued = 1;
        ngx_queue_insert_tail(&sh->pending, &cn->pending);
    }
}


void
ngx_gateway_cluster_fallback(ngx_gateway_cluster_sh_t *sh,
    ngx_gateway_cluster_node_t *cn, ngx_uint_t mode, ngx_msec_t now,
    ngx_msec_t retry_at, ngx_uint_t commit, ngx_gateway_cluster_decision_t *d)
{
    ngx_uint_t            rate, burst;
    ngx_gateway_bucket_t  b;

    d->kick = 0;

    switch (mode) {

    case NGX_GATEWAY_CLUSTER_OPEN:
        d->rc = NGX_OK;
        d->remaining = cn->burst;
        d->reset = 0;
        d->retry = 0;
        return;

    case NGX_GATEWAY_CLUSTER_CLOSED:
        d->rc = NGX_BUSY;
        d->remaining = 0;
        d->reset = 0;
        d->retry = ngx_gateway_cluster_ms((ngx_msec_int_t) (retry_at - now));

        if (d->retry == 0) {
            d->retry = 1;
        }

        return;

    default: /* NGX_GATEWAY_CLUSTER_LOCAL */
        /* all hosts, not those of the key: any may get its callers */

        ngx_gateway_cluster_share(cn->rate, cn->burst, sh->hosts,
                                  &rate, &burst);

        b = cn->fallback;
        d->rc = ngx_gateway_bucket_take(&b, rate, burst, now, &d->remaining,
                                        &d->reset, &d->retry);

        if (commit && d->rc == NGX_OK) {
            cn->fallback = b;
        }
    }
}


void
ngx_gateway_cluster_hosts(ngx_gateway_cluster_sh_t *sh, ngx_uint_t hosts)
{
    sh->hosts = hosts ? hosts : 1;
}


void
ngx_gateway_cluster_share(ngx_uint_t rate, ngx_uint_t burst,
    ngx_uint_t hosts, ngx_uint_t *host_rate, ngx_uint_t *host_burst)
{
    if (hosts == 0) {
        hosts = 1;
    }

    *host_rate = rate / hosts;

    if (*host_rate == 0) {
        *host_rate = 1;
    }

    *host_burst = burst / hosts;
}


ngx_uint_t
ngx_gateway_cluster_collect(ngx_gateway_cluster_sh_t *sh, ngx_msec_t now,
    ngx_uint_t kick, ngx_gateway_cluster_report_t *rep, ngx_uint_t max,
    u_char *buf, size_t len)
{
    ngx_uint_t                   n;
    ngx_queue_t                 *q, *next;
    ngx_gateway_cluster_node_t  *cn;

    n = 0;

    for (q = ngx_queue_head(&sh->pending);
         q != ngx_queue_sentinel(&sh->pending) && n < max;
         q = next)
    {
        next = ngx_queue_next(q);
        cn = ngx_queue_data(q, ngx_gateway_cluster_node_t, pending);

        if ((cn->inflight
             && (ngx_msec_int_t) (now - cn->sent)
                < NGX_GATEWAY_CLUSTER_LOST)
            || (!kick && (ngx_msec_int_t) (now - cn->due) < 0)
            || cn->len > len)
        {
            continue;
        }

        rep[n].key.data = buf;
        rep[n].key.len = cn->len;
        buf = ngx_cpymem(buf, cn->data, cn->len);
        len -= cn->len;

        rep[n].rate = cn->rate;
        rep[n].burst = cn->burst;
        rep[n].interval = cn->interval;

        if (!cn->unacked) {

            /* a new report; the last one's reply came */

            if (cn->demand == 0) {
                cn->idle++;
            }

            cn->seq = (cn->seq % NGX_MAX_INT32_VALUE) + 1;
            cn->unacked = 1;
            cn->r_hold = cn->lease;
            cn->r_extra = cn->extra;
            cn->r_demand = cn->demand;

            /* a quarter more than the last interval's demand, at least 1 */

            cn->r_want = (cn->idle >= NGX_GATEWAY_CLUSTER_IDLE)
                         ? 0 : cn->demand + cn->demand / 4 + 1;

            cn->extra = 0;
            cn->demand = 0;
        }

        /* else the one without a reply, as it was: Redis may have it */

        rep[n].seq = cn->seq;
        rep[n].hold = cn->r_hold;
        rep[n].extra = cn->r_extra;
        rep[n].demand = cn->r_demand;
        rep[n].want = cn->r_want;

        cn->inflight = 1;
        cn->sent = now;
        cn->due = now + cn->interval;

        n++;
    }

    return n;
}


void
ngx_gateway_cluster_apply(ngx_gateway_cluster_sh_t *sh,
    ngx_slab_pool_t *shpool, ngx_gateway_cluster_report_t *rep,
    ngx_gateway_cluster_grant_t *g, ngx_msec_t now)
{
    int64_t                      lease;
    ngx_gateway_cluster_node_t  *cn;

    cn = ngx_gateway_cluster_find(sh, &rep->key,
                                  ngx_crc32_short(rep->key.data,
                                                  rep->key.len));
    if (cn == NULL) {
        /* evicted meanwhile: what it was granted leaks away in Redis */
        return;
    }

    cn->inflight = 0;

    if (g == NULL) {
        /* it may have been applied: the next collect sends it again */
        return;
    }

    if (rep->seq == cn->seq) {
        cn->unacked = 0;
    }

    /* what was spent of the lease since it was reported stays spent */

    lease = (int64_t) cn->lease + g->delta;

    if (lease < 0) {
        cn->extra += (ngx_uint_t) -lease;
        lease = 0;
    }

    cn->lease = (ngx_uint_t) lease;
    cn->free = g->free;
    cn->reset = g->reset;
    cn->synced = now ? now : 1;

    if (cn->lease == 0 && cn->extra == 0 && cn->demand == 0
        && cn->idle >= NGX_GATEWAY_CLUSTER_IDLE && cn->queued
        && !cn->unacked)
    {
        /* idle: out of the syncs; its next request may go first */

        cn->queued = 0;
        ngx_queue_remove(&cn->pending);

        cn->prov = ngx_gateway_cluster_prov(cn->burst, sh->hosts);
    }

    /* nothing free in the cluster: no request goes before its lease */

    if (g->free <= 0) {
        cn->prov = 0;
    }
}


void
ngx_gateway_cluster_grant(int64_t *tat, int64_t now, int64_t te,
    int64_t tau, int64_t horizon, ngx_gateway_cluster_report_t *rep,
    uint64_t others, ngx_uint_t n, ngx_uint_t *seq, int64_t *delta,
    ngx_gateway_cluster_grant_t *g)
{
    double    x;
    int64_t   free, avail, target, hold;
    uint64_t  sum;

    if (*tat < now) {
        *tat = now;
    }

    if (rep->seq == *seq) {

        /* applied already (its reply was lost): the same answer again */

        g->delta = *delta;
        g->free = ngx_gateway_cluster_floor_div(now + tau + te + horizon
                                                - *tat, te);
        g->hosts = n ? n : 1;
        g->reset = ngx_gateway_cluster_ms((*tat - now) / 1000);
        return;
    }

    /* requests admitted beyond a lease are charged now */

    *tat += (int64_t) rep->extra * te;

    free = ngx_gateway_cluster_floor_div(now + tau + te + horizon - *tat, te);

    hold = (int64_t) rep->hold;
    avail = free + hold;
    sum = others + rep->demand;

    /*
     * The host's share of what is free and what it holds, by demand; a
     * share's fraction of a token is one token as often as the fraction
     * says (the microseconds of Redis's clock decide), so that hosts with
     * shares below one token take turns.
     */

    target = 0;

    if (avail > 0) {
        x = (sum == 0) ? (double) avail / (n ? n : 1)
                       : (double) avail * rep->demand / sum;

        target = (int64_t) x;

        if (x - target > (double) (now % 1000) / 1000) {
            target++;
        }
    }

    if (target > (int64_t) rep->want) {
        target = rep->want;
    }

    g->delta = target - hold;

    /* tokens given back that leaked meanwhile are no credit */

    *tat = ngx_max(*tat + g->delta * te, now);

    *seq = rep->seq;
    *delta = g->delta;

    g->free = ngx_gateway_cluster_floor_div(now + tau + te + horizon - *tat,
                                            te);
    g->hosts = n ? n : 1;
    g->reset = ngx_gateway_cluster_ms((*tat - now) / 1000);
}


ngx_int_t
ngx_gateway_cluster_parse_grant(redisReply *reply,
    ngx_gateway_cluster_grant_t *g)
{
    long long  v[4];

    if (ngx_gateway_cluster_integers(reply, 4, v) != NGX_OK
        || v[0] < -NGX_GATEWAY_CLUSTER_TOKENS_MAX
        || v[0] > NGX_GATEWAY_CLUSTER_TOKENS_MAX
        || v[1] < -NGX_GATEWAY_CLUSTER_TOKENS_MAX
        || v[1] > NGX_GATEWAY_CLUSTER_TOKENS_MAX
        || v[2] < 1 || v[2] > NGX_GATEWAY_CLUSTER_HOSTS_MAX
        || v[3] < 0 || v[3] > NGX_GATEWAY_CLUSTER_MS_MAX)
    {
        return NGX_ERROR;
    }

    g->delta = v[0];
    g->free = v[1];
    g->hosts = (ngx_uint_t) v[2];
    g->reset = (ngx_msec_t) v[3];

    return NGX_OK;
}


ngx_int_t
ngx_gateway_cluster_parse_strict(redisReply *reply,
    ngx_gateway_cluster_strict_t *s)
{
    long long  v[5];

    if (ngx_gateway_cluster_integers(reply, 5, v) != NGX_OK
        || v[0] < 0 || v[0] > 1
        || v[1] < 0 || v[1] > NGX_GATEWAY_CLUSTER_TOKENS_MAX
        || v[2] < 0 || v[2] > NGX_GATEWAY_CLUSTER_MS_MAX
        || v[3] < 0 || v[3] > NGX_GATEWAY_CLUSTER_MS_MAX
        || v[4] < 1 || v[4] > NGX_GATEWAY_CLUSTER_HOSTS_MAX)
    {
        return NGX_ERROR;
    }

    s->admitted = (ngx_uint_t) v[0];
    s->remaining = (ngx_uint_t) v[1];
    s->reset = (ngx_msec_t) v[2];
    s->retry = (ngx_msec_t) v[3];
    s->hosts = (ngx_uint_t) v[4];

    return NGX_OK;
}


ngx_int_t
ngx_gateway_cluster_parse_ok(redisReply *reply)
{
    if (reply == NULL || reply->type != REDIS_REPLY_STATUS
        || reply->str == NULL || reply->len != 2
        || ngx_strncmp(reply->str, "OK", 2) != 0)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


ngx_int_t
ngx_gateway_cluster_parse_hosts(redisReply *reply, ngx_uint_t *hosts)
{
    if (reply == NULL || reply->type != REDIS_REPLY_INTEGER
        || reply->integer < 1
        || reply->integer > NGX_GATEWAY_CLUSTER_HOSTS_MAX)
    {
        return NGX_ERROR;
    }

    *hosts = (ngx_uint_t) reply->integer;

    return NGX_OK;
}


int64_t
ngx_gateway_cluster_te(ngx_uint_t rate)
{
    /* rate in 0.001 r/s: 10r/s is 10000, one every 100000 us */

    return (int64_t) ((1000000000ULL + rate - 1) / rate);
}


static ngx_int_t
ngx_gateway_cluster_integers(redisReply *reply, size_t n, long long *v)
{
    size_t  i;

    if (reply == NULL || reply->type != REDIS_REPLY_ARRAY
        || reply->elements != n || reply->element == NULL)
    {
        return NGX_ERROR;
    }

    for (i = 0; i < n; i++) {
        if (reply->element[i] == NULL
            || reply->element[i]->type != REDIS_REPLY_INTEGER)
        {
            return NGX_ERROR;
        }

        v[i] = reply->element[i]->integer;
    }

    return NGX_OK;
}


static ngx_uint_t
ngx_gateway_cluster_prov(ngx_uint_t burst, ngx_uint_t hosts)
{
    ngx_uint_t  n;

    /* hosts unknown: one, however many there may be */

    if (hosts == 0) {
        return 1;
    }

    n = (burst + 1) / hosts;

    return n ? n : 1;
}


static ngx_msec_t
ngx_gateway_cluster_ms(int64_t ms)
{
    if (ms <= 0) {
        return 0;
    }

    if (ms > NGX_MAX_INT32_VALUE) {
        return NGX_MAX_INT32_VALUE;
    }

    return (ngx_msec_t) ms;
}


static int64_t
ngx_gateway_cluster_floor_div(int64_t a, int64_t b)
{
    int64_t  q;

    q = a / b;

    if ((a % b != 0) && ((a < 0) != (b < 0))) {
        q--;
    }

    return q;
}


static ngx_gateway_cluster_node_t *
ngx_gateway_cluster_find(ngx_gateway_cluster_sh_t *sh, ngx_str_t *key,
    uint32_t hash)
{
    ngx_int_t                    rc;
    ngx_rbtree_node_t           *node, *sentinel;
    ngx_gateway_cluster_node_t  *cn;

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

        cn = (ngx_gateway_cluster_node_t *) &node->color;

        rc = ngx_memn2cmp(key->data, cn->data, key->len, (size_t) cn->len);

        if (rc == 0) {
            return cn;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


static void
ngx_gateway_cluster_rbtree_insert_value(ngx_rbtree_node_t *temp,
    ngx_rbtree_node_t *node, ngx_rbtree_node_t *sentinel)
{
    ngx_rbtree_node_t           **p;
    ngx_gateway_cluster_node_t   *cn, *cnt;

    for ( ;; ) {

        if (node->key < temp->key) {

            p = &temp->left;

        } else if (node->key > temp->key) {

            p = &temp->right;

        } else { /* node->key == temp->key */

            cn = (ngx_gateway_cluster_node_t *) &node->color;
            cnt = (ngx_gateway_cluster_node_t *) &temp->color;

            p = (ngx_memn2cmp(cn->data, cnt->data, cn->len, cnt->len) < 0)
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


static void
ngx_gateway_cluster_delete(ngx_slab_pool_t *shpool,
    ngx_gateway_cluster_sh_t *sh, ngx_gateway_cluster_node_t *cn)
{
    ngx_rbtree_node_t  *node;

    node = (ngx_rbtree_node_t *)
               ((u_char *) cn - offsetof(ngx_rbtree_node_t, color));

    ngx_queue_remove(&cn->lru);

    if (cn->queued) {
        ngx_queue_remove(&cn->pending);
    }

    ngx_rbtree_delete(&sh->rbtree, node);
    ngx_slab_free_locked(shpool, node);

    sh->nodes--;
}
