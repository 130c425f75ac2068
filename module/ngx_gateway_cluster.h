
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_GATEWAY_CLUSTER_H_INCLUDED_
#define _NGX_GATEWAY_CLUSTER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <hiredis/hiredis.h>
#include "ngx_gateway_limit.h"


/*
 * Cluster rate limits: one limit shared by the gateway hosts through
 * Redis.  Pure: the slab pool, the keys, the replies and the time are
 * arguments; nothing here reads the clock, takes a lock or does I/O.
 *
 * sync=INTERVAL is local-first.  Redis keeps, per limited key, the
 * cluster's GCRA state (tat, in microseconds of Redis's TIME) and per
 * host its demand.  Every INTERVAL each host tells Redis, per key, the
 * tokens it holds (its lease), the requests it admitted beyond a lease
 * and its demand; one script grants or takes back tokens so that the
 * host holds its demand's share of what the cluster may still admit, up
 * to INTERVAL ahead.  Between syncs a host admits from its lease alone.
 * Tokens are granted by one atomic script out of what is free, so hosts
 * never hold more together than the bucket has: the overshoot is bounded
 * by the horizon (rate * INTERVAL) and by the few requests a host admits
 * on first sight of a key, before its first lease (see the README).
 *
 * This file holds the zone's store of cluster keys, the decision of a
 * request, the batch a sync sends and what its replies do, the local
 * fallback, and the reading of replies (hiredis's redisReply trees, from
 * untrusted bytes: a reply of another shape is an error).
 */


#define NGX_GATEWAY_CLUSTER_OPEN        0   /* on_store_error= */
#define NGX_GATEWAY_CLUSTER_CLOSED      1
#define NGX_GATEWAY_CLUSTER_LOCAL       2

/* collections without demand after which a key gives its lease back */
#define NGX_GATEWAY_CLUSTER_IDLE        10

/* a reply awaited longer was lost with its process: collect anew */
#define NGX_GATEWAY_CLUSTER_LOST        10000


typedef struct {
    ngx_rbtree_t                 rbtree;    /* by ngx_crc32_short(key) */
    ngx_rbtree_node_t            sentinel;
    ngx_queue_t                  lru;       /* most recently used first */
    ngx_queue_t                  pending;   /* keys a sync must report */
    ngx_uint_t                   nodes;
    ngx_uint_t                   hosts;     /* in the cluster; 0: unknown */
} ngx_gateway_cluster_sh_t;


typedef struct {
    u_char                       color;
    u_char                       queued;    /* in pending */
    u_short                      len;       /* of data */
    uint32_t                     rate;      /* 0.001 r/s */
    uint32_t                     burst;
    ngx_msec_t                   interval;  /* of its sync */
    ngx_msec_t                   due;       /* its next sync */
    ngx_queue_t                  lru;
    ngx_queue_t                  pending;
    ngx_uint_t                   lease;     /* tokens this host holds */
    ngx_uint_t                   extra;     /* admitted beyond a lease */
    ngx_uint_t                   demand;    /* requests since collected */
    ngx_uint_t                   prov;      /* first-sight admissions */
    ngx_uint_t                   idle;      /* collections, no demand */
    ngx_uint_t                   inflight;  /* sync replies awaited */
    ngx_uint_t                   seq;       /* of the last report */
    ngx_uint_t                   unacked;   /* it may be sent again */
    ngx_uint_t                   r_hold;    /* what it said */
    ngx_uint_t                   r_extra;
    ngx_uint_t                   r_demand;
    ngx_uint_t                   r_want;
    ngx_msec_t                   sent;      /* since then */
    int64_t                      free;      /* cluster's, last reply */
    ngx_msec_t                   reset;     /* ms, at synced */
    ngx_msec_t                   synced;    /* 0: never */
    ngx_gateway_bucket_t         fallback;  /* while Redis is away */
    u_char                       data[1];   /* the Redis key */
} ngx_gateway_cluster_node_t;


/* a request's decision on a cluster line */
typedef struct {
    ngx_int_t                    rc;        /* NGX_OK, NGX_BUSY */
    ngx_uint_t                   remaining;
    ngx_msec_t                   reset;
    ngx_msec_t                   retry;
    ngx_uint_t                   kick;      /* a sync would help now */
} ngx_gateway_cluster_decision_t;


/* what one sync reports of one key, and what its reply says */
typedef struct {
    ngx_str_t                    key;       /* a copy, outside the zone */
    ngx_uint_t                   seq;       /* the same when sent again */
    ngx_uint_t                   rate;
    ngx_uint_t                   burst;
    ngx_msec_t                   interval;
    ngx_uint_t                   hold;
    ngx_uint_t                   extra;
    ngx_uint_t                   demand;
    ngx_uint_t                   want;
} ngx_gateway_cluster_report_t;


typedef struct {
    int64_t                      delta;     /* tokens granted (< 0: taken) */
    int64_t                      free;      /* the cluster's, after */
    ngx_uint_t                   hosts;
    ngx_msec_t                   reset;
} ngx_gateway_cluster_grant_t;


/* a strict decision from Redis */
typedef struct {
    ngx_uint_t                   admitted;
    ngx_uint_t                   remaining;
    ngx_msec_t                   reset;
    ngx_msec_t                   retry;
    ngx_uint_t                   hosts;
} ngx_gateway_cluster_strict_t;


void ngx_gateway_cluster_init(ngx_gateway_cluster_sh_t *sh);

/*
 * Finds or creates the entry of a Redis key (as the limit store does:
 * LRU order, the oldest evicted when the slab is full; NULL when even
 * that fails).  A new entry may admit prov requests before its first
 * lease: its share of burst + 1 by the hosts in the cluster, or one
 * while that number is unknown (no reply since the zone was made).
 */
ngx_gateway_cluster_node_t *ngx_gateway_cluster_lookup(
    ngx_slab_pool_t *shpool, ngx_gateway_cluster_sh_t *sh, ngx_str_t *key,
    ngx_uint_t rate, ngx_uint_t burst, ngx_msec_t interval, ngx_msec_t now);

/*
 * The decision of one request with Redis reachable: from the lease, or
 * from the first-sight allowance.  With commit 0 nothing changes (a dry
 * decision: another line may refuse the request); commit 1 spends what
 * the decision said.  A refusal spends nothing.
 */
void ngx_gateway_cluster_decide(ngx_gateway_cluster_sh_t *sh,
    ngx_gateway_cluster_node_t *cn, ngx_msec_t now, ngx_uint_t commit,
    ngx_gateway_cluster_decision_t *d);

/* a request offered, admitted or not: the demand the next sync reports */
void ngx_gateway_cluster_offer(ngx_gateway_cluster_sh_t *sh,
    ngx_gateway_cluster_node_t *cn);

/*
 * The decision with Redis away: mode open admits, closed refuses, local
 * enforces this host's share (1 / hosts in the cluster as Redis last
 * said; the whole limit when never said) of the rate and burst in a
 * bucket of the entry.  retry_at: when Redis is tried again.
 */
void ngx_gateway_cluster_fallback(ngx_gateway_cluster_sh_t *sh,
    ngx_gateway_cluster_node_t *cn, ngx_uint_t mode, ngx_msec_t now,
    ngx_msec_t retry_at, ngx_uint_t commit,
    ngx_gateway_cluster_decision_t *d);

/* the hosts in the cluster, as Redis's registry of hosts says */
void ngx_gateway_cluster_hosts(ngx_gateway_cluster_sh_t *sh,
    ngx_uint_t hosts);

/* the rate and burst of one host's share */
void ngx_gateway_cluster_share(ngx_uint_t rate, ngx_uint_t burst,
    ngx_uint_t hosts, ngx_uint_t *host_rate, ngx_uint_t *host_burst);

/*
 * Moves up to max due entries (or all with kick) into reports, copying
 * their keys into buf (len bytes; a key that no longer fits waits for
 * the next collect); the counts reported leave the entries.  A report
 * without its reply (lost, timed out: it may have been applied) is sent
 * again as it was, with its sequence number, until one comes.  Returns
 * how many.
 */
ngx_uint_t ngx_gateway_cluster_collect(ngx_gateway_cluster_sh_t *sh,
    ngx_msec_t now, ngx_uint_t kick, ngx_gateway_cluster_report_t *rep,
    ngx_uint_t max, u_char *buf, size_t len);

/*
 * A reply to a report: the lease grows or shrinks by the grant (tokens
 * taken back that were spent meanwhile become extra, reported next
 * time); g NULL: no reply, the report is sent again by the next collect.
 */
void ngx_gateway_cluster_apply(ngx_gateway_cluster_sh_t *sh,
    ngx_slab_pool_t *shpool, ngx_gateway_cluster_report_t *rep,
    ngx_gateway_cluster_grant_t *g, ngx_msec_t now);

/*
 * The sync script's arithmetic in C, as the script does it (for the
 * tests' simulated Redis): state tat in us, now in us, te the emission
 * interval in us, tau burst * te, horizon the sync interval in us;
 * others: the sum of the other live hosts' demands, n: live hosts;
 * seq and delta: what the key keeps of the host's last report, so that
 * a report sent again is answered as it was, not applied twice.
 */
void ngx_gateway_cluster_grant(int64_t *tat, int64_t now, int64_t te,
    int64_t tau, int64_t horizon, ngx_gateway_cluster_report_t *rep,
    uint64_t others, ngx_uint_t n, ngx_uint_t *seq, int64_t *delta,
    ngx_gateway_cluster_grant_t *g);

/* the replies: NGX_OK, or NGX_ERROR for any other shape or value */
ngx_int_t ngx_gateway_cluster_parse_grant(redisReply *reply,
    ngx_gateway_cluster_grant_t *g);
ngx_int_t ngx_gateway_cluster_parse_strict(redisReply *reply,
    ngx_gateway_cluster_strict_t *s);
ngx_int_t ngx_gateway_cluster_parse_ok(redisReply *reply);
ngx_int_t ngx_gateway_cluster_parse_hosts(redisReply *reply,
    ngx_uint_t *hosts);

/* the emission interval and tolerance of a rate, in us */
int64_t ngx_gateway_cluster_te(ngx_uint_t rate);


#endif /* _NGX_GATEWAY_CLUSTER_H_INCLUDED_ */
