
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <hiredis/hiredis.h>
#include <hiredis/async.h>
#include "ngx_http_gateway_module.h"


/*
 * Cluster rate limits, the glue: "gateway_store", hiredis's async API
 * on nginx's event loop (an adapter: hiredis asks for read and write
 * events, nginx's handlers call it back), the sync of one worker per
 * host, the strict requests that wait for Redis, and what happens while
 * Redis is away.  See ngx_gateway_cluster.h for the arithmetic.
 */


/* between attempts while Redis is away */
#define NGX_HTTP_GATEWAY_STORE_RETRY    500

/* keys one sync reports in one pipelined batch */
#define NGX_HTTP_GATEWAY_SYNC_BATCH     512

/* hosts not heard of for this long do not share strict limits */
#define NGX_HTTP_GATEWAY_STRICT_STALE   10000

/* each host counts the hosts at least this often, with its sync's timer */
#define NGX_HTTP_GATEWAY_HOSTS_EVERY    1000

/* and a host not heard of for this long is no longer counted */
#define NGX_HTTP_GATEWAY_HOSTS_STALE    3000

/* the sync's timer when only sync=strict lines need the store */
#define NGX_HTTP_GATEWAY_PROBE_TICK     250

/* Redis's registry of hosts, a sorted set by Redis's TIME (ms) */
#define NGX_HTTP_GATEWAY_HOSTS_KEY      "gw:{hosts}"

/* the scripts, by their place in ngx_http_gateway_scripts[] */
#define NGX_HTTP_GATEWAY_SCRIPT_SYNC    0
#define NGX_HTTP_GATEWAY_SCRIPT_STRICT  1
#define NGX_HTTP_GATEWAY_SCRIPT_HOSTS   2
#define NGX_HTTP_GATEWAY_SCRIPT_REFUND  3
#define NGX_HTTP_GATEWAY_SCRIPTS        4

/* of an error reply, what a log line quotes */
#define NGX_HTTP_GATEWAY_ERROR_LEN      96


typedef struct ngx_http_gateway_redis_s  ngx_http_gateway_redis_t;
typedef struct ngx_http_gateway_sync_s   ngx_http_gateway_sync_t;


struct ngx_http_gateway_store_s {
    ngx_str_t                        url;       /* without the password */
    u_char                          *addr;      /* numeric, NUL-ended */
    int                              port;
    ngx_str_t                        user;
    ngx_str_t                        password;
    ngx_int_t                        db;
    ngx_msec_t                       timeout;
    ngx_uint_t                       nconns;
    ngx_msec_t                       tick;      /* of the sync timer */

    /* per worker */
    ngx_log_t                       *log;
    ngx_http_gateway_main_conf_t    *gmcf;
    ngx_http_gateway_redis_t        *conns;
    ngx_uint_t                       next;
    ngx_event_t                      sync;
    ngx_http_gateway_sync_t         *batch;     /* worker 0's, reused */
    ngx_msec_t                       last_sync;
    ngx_uint_t                       probed;    /* Redis tried at start */
    ngx_msec_t                       hosts_at;  /* hosts last counted */
    ngx_uint_t                       exiting;
    u_char                           host[NGX_HTTP_GATEWAY_HOST_LEN + 1];

    /* the scripts' SHA-1, for EVALSHA; loaded on each new connection */
    u_char                           sha[NGX_HTTP_GATEWAY_SCRIPTS][40];

    /* Redis's last error, printable, for the one warn of a transition */
    u_char                           error[NGX_HTTP_GATEWAY_ERROR_LEN];
};


struct ngx_http_gateway_redis_s {
    redisAsyncContext               *ac;
    ngx_connection_t                *c;
    ngx_http_gateway_store_t        *store;
    ngx_uint_t                       noscript;  /* ended for NOSCRIPT */
};


/* one report's command: its reply goes to its report, whatever failed */
typedef struct {
    ngx_http_gateway_sync_t         *sync;
    ngx_uint_t                       i;
} ngx_http_gateway_sync_cb_t;


/* a sync: the count of hosts, its reports and their replies */
struct ngx_http_gateway_sync_s {
    ngx_http_gateway_store_t        *store;
    ngx_http_gateway_redis_t        *conn;
    ngx_event_t                      timer;
    ngx_uint_t                       inflight;
    ngx_uint_t                       n;
    ngx_uint_t                       replied;
    ngx_uint_t                       counting;  /* the hosts' reply awaited */
    ngx_uint_t                       failed;
    const char                      *why;
    ngx_gateway_cluster_report_t     rep[NGX_HTTP_GATEWAY_SYNC_BATCH];
    ngx_http_gateway_sync_cb_t       cb[NGX_HTTP_GATEWAY_SYNC_BATCH];
    u_char                          *keys;
};


/* a request waiting for Redis's word on its strict lines */
typedef struct {
    ngx_http_request_t              *request;   /* NULL: gone */
    ngx_http_gateway_store_t        *store;
    ngx_http_gateway_redis_t        *conn;
    ngx_event_t                      timer;
    ngx_uint_t                       waiting;   /* replies awaited */
    ngx_uint_t                       refs;      /* hiredis callbacks */
    ngx_uint_t                       failed;
    const char                      *why;
    ngx_pool_cleanup_t              *cln;       /* in the request's pool */
    ngx_http_gateway_cluster_req_t  *req;
} ngx_http_gateway_strict_op_t;


typedef struct {
    ngx_http_gateway_strict_op_t    *op;
    ngx_uint_t                       line;      /* index in lim->lk */
} ngx_http_gateway_strict_cb_t;


static ngx_int_t ngx_http_gateway_store_url(ngx_conf_t *cf,
    ngx_http_gateway_store_t *st, ngx_str_t *value);
static ngx_http_gateway_redis_t *ngx_http_gateway_redis_get(
    ngx_http_gateway_store_t *st, ngx_uint_t i);
static void ngx_http_gateway_redis_close(ngx_http_gateway_redis_t *rd);
static void ngx_http_gateway_redis_add_read(void *data);
static void ngx_http_gateway_redis_del_read(void *data);
static void ngx_http_gateway_redis_add_write(void *data);
static void ngx_http_gateway_redis_del_write(void *data);
static void ngx_http_gateway_redis_cleanup(void *data);
static void ngx_http_gateway_redis_read(ngx_event_t *ev);
static void ngx_http_gateway_redis_write(ngx_event_t *ev);
static void ngx_http_gateway_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_gateway_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_gateway_redis_auth(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_http_gateway_redis_loaded(redisAsyncContext *ac, void *r,
    void *data);
static const char *ngx_http_gateway_redis_error(ngx_http_gateway_store_t *st,
    redisAsyncContext *ac, redisReply *reply, const char *what);
static ngx_int_t ngx_http_gateway_script_sha(u_char *sha, ngx_str_t *text);
static void ngx_http_gateway_sync_tick(ngx_event_t *ev);
static ngx_int_t ngx_http_gateway_sync_send(ngx_http_gateway_sync_t *sy,
    ngx_uint_t i);
static void ngx_http_gateway_sync_hosts(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_http_gateway_sync_reply(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_http_gateway_refund_reply(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_http_gateway_sync_timeout(ngx_event_t *ev);
static void ngx_http_gateway_sync_done(ngx_http_gateway_sync_t *sy);
static void ngx_http_gateway_strict_reply(redisAsyncContext *ac, void *r,
    void *data);
static void ngx_http_gateway_strict_timeout(ngx_event_t *ev);
static void ngx_http_gateway_strict_resume(ngx_http_gateway_strict_op_t *op);
static void ngx_http_gateway_strict_cleanup(void *data);
static void ngx_http_gateway_store_up(ngx_http_gateway_store_t *st);
static void ngx_http_gateway_store_failed(ngx_http_gateway_store_t *st,
    const char *why);
static ngx_uint_t ngx_http_gateway_store_usable(
    ngx_http_gateway_store_t *st);
static ngx_http_gateway_zone_t *ngx_http_gateway_store_zone(
    ngx_http_gateway_store_t *st);


/*
 * One script per key and sync: the arithmetic of
 * ngx_gateway_cluster_grant(), with Redis's clock.  The key is a hash:
 * "t" the cluster's theoretical arrival time in us, and per host
 * "us:demand:seq:delta" of its last report, so that a report sent again
 * (its reply lost) is answered as it was and not charged twice.  A
 * host's field outlives its liveness by a minute, for that.
 */

static const char  ngx_http_gateway_sync_script[] =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
    "local host = ARGV[1] "
    "local te, tau, hz = tonumber(ARGV[2]), tonumber(ARGV[3]), "
    "  tonumber(ARGV[4]) "
    "local hold, extra = tonumber(ARGV[5]), tonumber(ARGV[6]) "
    "local demand, want = tonumber(ARGV[7]), tonumber(ARGV[8]) "
    "local stale = tonumber(ARGV[9]) * 1000 "
    "local seq = ARGV[10] "
    "local h = redis.call('HGETALL', KEYS[1]) "
    "local tat, others, n, last = now, 0, 1, nil "
    "for i = 1, #h, 2 do "
    "  local f, v = h[i], h[i + 1] "
    "  if f == 't' then "
    "    tat = math.max(tonumber(v) or now, now) "
    "  elseif f == host then last = v "
    "  else "
    "    local ts, d = string.match(v, '^(%d+):(%d+)') "
    "    if ts and now - tonumber(ts) <= stale then "
    "      others = others + tonumber(d) n = n + 1 "
    "    elseif not ts or now - tonumber(ts) > stale + 60000000 then "
    "      redis.call('HDEL', KEYS[1], f) end "
    "  end "
    "end "
    "if last then "
    "  local ls, ld = string.match(last, '^%d+:%d+:(%d+):(-?%d+)$') "
    "  if ls == seq then "
    "    return {tonumber(ld), math.floor((now + tau + te + hz - tat) / te), "
    "      n, math.floor((tat - now) / 1000)} "
    "  end "
    "end "
    "tat = tat + extra * te "
    "local free = math.floor((now + tau + te + hz - tat) / te) "
    "local avail = free + hold "
    "local target = 0 "
    "if avail > 0 then "
    "  local x "
    "  if others + demand == 0 then x = avail / n "
    "  else x = avail * demand / (others + demand) end "
    "  target = math.floor(x) "
    "  if x - target > (now % 1000) / 1000 then target = target + 1 end "
    "end "
    "if target > want then target = want end "
    "local delta = target - hold "
    "tat = math.max(tat + delta * te, now) "
    "local left = math.floor((now + tau + te + hz - tat) / te) "
    "redis.call('HSET', KEYS[1], 't', string.format('%.0f', tat), host, "
    "  string.format('%.0f:%.0f:%s:%.0f', now, demand, seq, delta)) "
    "redis.call('PEXPIRE', KEYS[1], "
    "  math.floor((tat - now) / 1000) + tonumber(ARGV[9]) + 1000) "
    "return {delta, left, n, math.floor((tat - now) / 1000)}";


/* sync=strict: GCRA on Redis for each request; a refusal is not counted */

static const char  ngx_http_gateway_strict_script[] =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
    "local te, tau = tonumber(ARGV[2]), tonumber(ARGV[3]) "
    "local stale = tonumber(ARGV[4]) * 1000 "
    "local h = redis.call('HGETALL', KEYS[1]) "
    "local tat, n = now, 1 "
    "for i = 1, #h, 2 do "
    "  local f, v = h[i], h[i + 1] "
    "  if f == 't' then "
    "    tat = math.max(tonumber(v) or now, now) "
    "  elseif f ~= ARGV[1] then "
    "    if now - (tonumber(string.match(v, '^%d+') or '0')) <= stale "
    "    then n = n + 1 else redis.call('HDEL', KEYS[1], f) end "
    "  end "
    "end "
    "local new = tat + te "
    "local ok, rem, retry = 1, 0, 0 "
    "if new - now > tau + te then "
    "  ok = 0 retry = math.ceil((new - now - tau - te) / 1000) new = tat "
    "else rem = math.floor((now + tau + te - new) / te) end "
    "redis.call('HSET', KEYS[1], 't', string.format('%.0f', new), "
    "  ARGV[1], string.format('%.0f:0', now)) "
    "redis.call('PEXPIRE', KEYS[1], "
    "  math.floor((new - now) / 1000) + tonumber(ARGV[4]) + 1000) "
    "return {ok, rem, math.floor((new - now) / 1000), retry, n}";


/*
 * A strict line's token given back: another line, or the breaker,
 * refused the request after Redis admitted it.
 */

static const char  ngx_http_gateway_refund_script[] =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) "
    "local tat = tonumber(redis.call('HGET', KEYS[1], 't') or '') "
    "if tat and tat > now then "
    "  redis.call('HSET', KEYS[1], 't', "
    "    string.format('%.0f', math.max(tat - tonumber(ARGV[1]), now))) "
    "end "
    "return 1";


/*
 * The hosts of the cluster: each registers itself with every sync (at
 * least every second) and learns how many were heard of lately.
 */

static const char  ngx_http_gateway_hosts_script[] =
    "local t = redis.call('TIME') "
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "
    "redis.call('ZADD', KEYS[1], now, ARGV[1]) "
    "redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', "
    "  now - tonumber(ARGV[2])) "
    "redis.call('PEXPIRE', KEYS[1], 2 * tonumber(ARGV[2])) "
    "return redis.call('ZCARD', KEYS[1])";


static ngx_str_t  ngx_http_gateway_scripts[] = {
    ngx_string(ngx_http_gateway_sync_script),
    ngx_string(ngx_http_gateway_strict_script),
    ngx_string(ngx_http_gateway_hosts_script),
    ngx_string(ngx_http_gateway_refund_script)
};


/* gateway_store redis://[user:password@]host:port[/db] [timeout=] [...] */

char *
ngx_http_gateway_store(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_gateway_main_conf_t *gmcf = conf;

    ngx_int_t                  n;
    ngx_str_t                 *value, s;
    ngx_uint_t                 i;
    ngx_http_gateway_store_t  *st;

    if (gmcf->store) {
        return "is duplicate";
    }

    st = ngx_pcalloc(cf->pool, sizeof(ngx_http_gateway_store_t));
    if (st == NULL) {
        return NGX_CONF_ERROR;
    }

    st->timeout = 50;
    st->nconns = 4;
    st->db = 0;

    value = cf->args->elts;

    if (ngx_http_gateway_store_url(cf, st, &value[1]) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    for (i = 2; i < cf->args->nelts; i++) {

        if (ngx_strncmp(value[i].data, "timeout=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            st->timeout = ngx_parse_time(&s, 0);

            if (st->timeout == (ngx_msec_t) NGX_ERROR || st->timeout == 0
                || st->timeout > 60000)
            {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid timeout \"%V\": 1ms to 60s",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            continue;
        }

        if (ngx_strncmp(value[i].data, "connections=", 12) == 0) {
            n = ngx_atoi(value[i].data + 12, value[i].len - 12);

            if (n < 1 || n > 64) {
                ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                                   "invalid connections \"%V\": 1 to 64",
                                   &value[i]);
                return NGX_CONF_ERROR;
            }

            st->nconns = n;
            continue;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid parameter \"%V\"", &value[i]);
        return NGX_CONF_ERROR;
    }

    /* 1 for the sync, the others for strict requests */
    st->nconns++;

    for (i = 0; i < NGX_HTTP_GATEWAY_SCRIPTS; i++) {
        if (ngx_http_gateway_script_sha(st->sha[i],
                                        &ngx_http_gateway_scripts[i])
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }
    }

    gmcf->store = st;

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_gateway_store_url(ngx_conf_t *cf, ngx_http_gateway_store_t *st,
    ngx_str_t *value)
{
    u_char     *p, *at, *colon, *slash, *end, text[NGX_SOCKADDR_STRLEN];
    size_t      len;
    ngx_url_t   u;

    if (value->len <= 8 || ngx_strncmp(value->data, "redis://", 8) != 0) {

        /* whatever it is, what is before an "@" may be a password */

        end = value->data + value->len;

        for (at = end; at > value->data && at[-1] != '@'; at--) {
            /* void */
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store \"%s%*s\": "
                           "redis://[user:password@]host:port[/db]",
                           (at > value->data) ? "...@" : "", end - at, at);
        return NGX_ERROR;
    }

    p = value->data + 8;
    end = value->data + value->len;

    for (at = end; at > p && at[-1] != '@'; at--) { /* void */ }

    if (at > p) {
        colon = ngx_strlchr(p, at - 1, ':');

        if (colon) {
            st->user.data = p;
            st->user.len = colon - p;
            st->password.data = colon + 1;
            st->password.len = at - 1 - (colon + 1);

        } else {
            st->password.data = p;
            st->password.len = at - 1 - p;
        }

        if (st->password.len == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid store: an empty password");
            return NGX_ERROR;
        }

        p = at;
    }

    slash = ngx_strlchr(p, end, '/');

    if (slash) {
        st->db = ngx_atoi(slash + 1, end - slash - 1);

        if (st->db == NGX_ERROR || st->db > 1000000) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid store database \"%*s\"",
                               end - slash, slash);
            return NGX_ERROR;
        }

        end = slash;
    }

    ngx_memzero(&u, sizeof(ngx_url_t));

    u.url.data = p;
    u.url.len = end - p;
    u.default_port = 6379;


    if (ngx_parse_url(cf->pool, &u) != NGX_OK || u.naddrs == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid store host \"%V\"%s%s", &u.url,
                           u.err ? ": " : "", u.err ? u.err : "");
        return NGX_ERROR;
    }

    /* the address as hiredis wants it: numeric, so that it never resolves */

    len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, text,
                        NGX_SOCKADDR_STRLEN, 0);

    st->addr = ngx_pnalloc(cf->pool, len + 1);
    if (st->addr == NULL) {
        return NGX_ERROR;
    }

    ngx_cpystrn(st->addr, text, len + 1);
    st->port = ngx_inet_get_port(u.addrs[0].sockaddr);

    /* for the logs: never the password */

    st->url.data = ngx_pnalloc(cf->pool, sizeof("redis://@/") - 1
                                         + st->user.len + u.url.len
                                         + NGX_INT_T_LEN);
    if (st->url.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(st->url.data, "redis://%V%s%V", &st->user,
                    st->user.len ? "@" : "", &u.url);

    if (slash) {
        p = ngx_sprintf(p, "/%i", st->db);
    }

    st->url.len = p - st->url.data;

    return NGX_OK;
}


/*
 * rate_limit's cluster settings, when the configuration is read: a
 * cluster line needs the store.
 */

ngx_int_t
ngx_http_gateway_cluster_init(ngx_conf_t *cf,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_service_t *s)
{
    ngx_uint_t                      i;
    ngx_http_gateway_limit_conf_t  *lc;
    ngx_http_gateway_store_t       *st;

    lc = s->limits.elts;
    st = gmcf->store;

    for (i = 0; i < s->limits.nelts; i++) {

        if (!lc[i].cluster) {
            continue;
        }

        if (st == NULL) {
            ngx_log_error(NGX_LOG_EMERG, cf->log, 0,
                          "\"rate_limit ... scope=cluster\" of gateway "
                          "service \"%V\" in %s:%ui needs "
                          "\"gateway_store\"", &s->name, s->file, s->line);
            return NGX_ERROR;
        }

        if (lc[i].sync
            && (st->tick == 0 || lc[i].sync / 4 < st->tick))
        {
            st->tick = ngx_max(lc[i].sync / 4, 5);
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_gateway_cluster_init_process(ngx_cycle_t *cycle)
{
    uint32_t                       r1, r2;
    ngx_http_gateway_sync_t       *sy;
    ngx_http_gateway_zone_t       *zone;
    ngx_http_gateway_store_t      *st;
    ngx_http_gateway_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_gateway_module);

    if (gmcf == NULL || gmcf->store == NULL || gmcf->shm_zone == NULL) {
        return NGX_OK;
    }

    st = gmcf->store;
    st->log = cycle->log;
    st->gmcf = gmcf;

    st->conns = ngx_pcalloc(cycle->pool,
                            st->nconns * sizeof(ngx_http_gateway_redis_t));
    if (st->conns == NULL) {
        return NGX_ERROR;
    }

    zone = gmcf->shm_zone->data;

    /* this host's name in Redis: made once per zone, kept across reloads */

    ngx_shmtx_lock(&zone->shpool->mutex);

    if (zone->sh->host[0] == '\0') {
        r1 = (uint32_t) ngx_random();
        r2 = (uint32_t) ngx_random() ^ (uint32_t) ngx_pid;
        ngx_sprintf(zone->sh->host, "%08xD%08xD%Z", r1, r2);
    }

    ngx_memcpy(st->host, zone->sh->host, NGX_HTTP_GATEWAY_HOST_LEN + 1);

    /* a new configuration (maybe another store): Redis is tried at once */
    zone->sh->store_retry = 0;

    ngx_shmtx_unlock(&zone->shpool->mutex);

    /* one worker per host syncs, or counts the hosts and probes Redis */

    if (st->tick == 0) {
        st->tick = NGX_HTTP_GATEWAY_PROBE_TICK;
    }

    if (ngx_worker == 0) {

        /* one sync at a time: its buffers are made once */

        sy = ngx_pcalloc(cycle->pool, sizeof(ngx_http_gateway_sync_t)
                                      + NGX_HTTP_GATEWAY_SYNC_BATCH * 256);
        if (sy == NULL) {
            return NGX_ERROR;
        }

        sy->store = st;
        sy->keys = (u_char *) sy + sizeof(ngx_http_gateway_sync_t);
        sy->timer.handler = ngx_http_gateway_sync_timeout;
        sy->timer.data = sy;
        sy->timer.log = cycle->log;
        sy->timer.cancelable = 1;

        st->batch = sy;

        st->sync.handler = ngx_http_gateway_sync_tick;
        st->sync.data = st;
        st->sync.log = cycle->log;
        st->sync.cancelable = 1;

        /* the first tick at once: whether Redis is there, known early */
        ngx_add_timer(&st->sync, 1);
    }

    return NGX_OK;
}


void
ngx_http_gateway_cluster_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    ngx_http_gateway_store_t      *st;
    ngx_http_gateway_main_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_gateway_module);

    if (gmcf == NULL || gmcf->store == NULL) {
        return;
    }

    st = gmcf->store;
    st->exiting = 1;

    if (st->sync.timer_set) {
        ngx_del_timer(&st->sync);
    }

    if (st->conns == NULL) {
        return;
    }

    for (i = 0; i < st->nconns; i++) {
        ngx_http_gateway_redis_close(&st->conns[i]);
    }
}


/*
 * Connection i, connected (or connecting) with AUTH and SELECT queued
 * first: hiredis sends commands in order once connected.
 */

static ngx_http_gateway_redis_t *
ngx_http_gateway_redis_get(ngx_http_gateway_store_t *st, ngx_uint_t i)
{
    ngx_uint_t                 n;
    redisAsyncContext         *ac;
    ngx_connection_t          *c;
    ngx_http_gateway_redis_t  *rd;

    rd = &st->conns[i];

    if (rd->ac) {
        return rd;
    }

    ac = redisAsyncConnect((char *) st->addr, st->port);

    if (ac == NULL) {
        ngx_http_gateway_store_failed(st, "no memory");
        return NULL;
    }

    if (ac->err) {
        ngx_http_gateway_store_failed(st, ac->errstr);
        redisAsyncFree(ac);
        return NULL;
    }

    c = ngx_get_connection(ac->c.fd, st->log);
    if (c == NULL) {
        redisAsyncFree(ac);
        return NULL;
    }

    c->data = rd;
    c->number = ngx_atomic_fetch_add(ngx_connection_counter, 1);
    c->read->handler = ngx_http_gateway_redis_read;
    c->write->handler = ngx_http_gateway_redis_write;
    c->read->log = st->log;
    c->write->log = st->log;

    rd->ac = ac;
    rd->c = c;
    rd->store = st;
    rd->noscript = 0;

    ac->data = rd;
    ac->ev.data = rd;
    ac->ev.addRead = ngx_http_gateway_redis_add_read;
    ac->ev.delRead = ngx_http_gateway_redis_del_read;
    ac->ev.addWrite = ngx_http_gateway_redis_add_write;
    ac->ev.delWrite = ngx_http_gateway_redis_del_write;
    ac->ev.cleanup = ngx_http_gateway_redis_cleanup;

    (void) redisAsyncSetConnectCallback(ac,
                                        ngx_http_gateway_redis_connected);
    (void) redisAsyncSetDisconnectCallback(ac,
                                        ngx_http_gateway_redis_disconnected);

    if (st->password.len) {
        if (st->user.len) {
            (void) redisAsyncCommand(ac, ngx_http_gateway_redis_auth, st,
                                     "AUTH %b %b", st->user.data,
                                     st->user.len, st->password.data,
                                     st->password.len);
        } else {
            (void) redisAsyncCommand(ac, ngx_http_gateway_redis_auth, st,
                                     "AUTH %b", st->password.data,
                                     st->password.len);
        }
    }

    if (st->db) {
        (void) redisAsyncCommand(ac, ngx_http_gateway_redis_auth, st,
                                 "SELECT %d", (int) st->db);
    }

    /*
     * The scripts, once per connection, so that each call is an EVALSHA:
     * a Redis restarted (an empty script cache) is a new connection.
     */

    for (n = 0; n < NGX_HTTP_GATEWAY_SCRIPTS; n++) {
        (void) redisAsyncCommand(ac, ngx_http_gateway_redis_loaded,
                                 st->sha[n], "SCRIPT LOAD %b",
                                 ngx_http_gateway_scripts[n].data,
                                 ngx_http_gateway_scripts[n].len);
    }

    return rd;
}


/* frees the connection: hiredis calls every callback still awaited */

static void
ngx_http_gateway_redis_close(ngx_http_gateway_redis_t *rd)
{
    redisAsyncContext  *ac;

    ac = rd->ac;

    if (ac == NULL) {
        return;
    }

    redisAsyncFree(ac);
}


static void
ngx_http_gateway_redis_add_read(void *data)
{
    ngx_http_gateway_redis_t *rd = data;

    /* level-triggered: hiredis reads what one read gives, then asks again */

    if (rd->c && !rd->c->read->active) {
        (void) ngx_add_event(rd->c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_gateway_redis_del_read(void *data)
{
    ngx_http_gateway_redis_t *rd = data;

    if (rd->c && rd->c->read->active) {
        (void) ngx_del_event(rd->c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_gateway_redis_add_write(void *data)
{
    ngx_http_gateway_redis_t *rd = data;

    if (rd->c && !rd->c->write->active) {
        (void) ngx_add_event(rd->c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_gateway_redis_del_write(void *data)
{
    ngx_http_gateway_redis_t *rd = data;

    if (rd->c && rd->c->write->active) {
        (void) ngx_del_event(rd->c->write, NGX_WRITE_EVENT, 0);
    }
}


/* hiredis closes the socket after this */

static void
ngx_http_gateway_redis_cleanup(void *data)
{
    ngx_http_gateway_redis_t *rd = data;

    ngx_connection_t  *c;

    c = rd->c;

    rd->ac = NULL;
    rd->c = NULL;

    if (c == NULL) {
        return;
    }

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    if (c->read->timer_set) {
        ngx_del_timer(c->read);
    }

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;
}


static void
ngx_http_gateway_redis_read(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_gateway_redis_t  *rd;

    c = ev->data;
    rd = c->data;

    if (rd->ac) {
        redisAsyncHandleRead(rd->ac);
    }
}


static void
ngx_http_gateway_redis_write(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_gateway_redis_t  *rd;

    c = ev->data;
    rd = c->data;

    if (rd->ac) {
        redisAsyncHandleWrite(rd->ac);
    }
}


static void
ngx_http_gateway_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_http_gateway_redis_t  *rd;

    rd = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context after this */
        ngx_http_gateway_store_failed(rd->store, ac->errstr);
    }
}


static void
ngx_http_gateway_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_gateway_redis_t  *rd;

    rd = ac->data;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, rd->store->log, 0,
                   "gateway store disconnected: %d", status);

    /* Redis closed it (stopped, restarted, killed): it is away for now */

    if (status != REDIS_OK && !rd->store->exiting && !rd->noscript) {
        ngx_http_gateway_store_failed(rd->store, "connection closed");
    }
}


static void
ngx_http_gateway_redis_auth(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_gateway_store_t *st = data;

    if (r == NULL || st->exiting) {
        return;
    }

    if (ngx_gateway_cluster_parse_ok(r) != NGX_OK) {
        ngx_http_gateway_store_failed(st, "AUTH or SELECT refused");
        redisAsyncFree(ac);
    }
}


/* SCRIPT LOAD answers the script's SHA-1, which we know */

static void
ngx_http_gateway_redis_loaded(redisAsyncContext *ac, void *r, void *data)
{
    u_char *sha = data;

    redisReply                *reply;
    ngx_http_gateway_redis_t  *rd;

    reply = r;
    rd = ac->data;

    if (reply == NULL || rd == NULL || rd->store->exiting) {
        return;
    }

    if (reply->type != REDIS_REPLY_STRING || reply->len != 40
        || ngx_strncasecmp((u_char *) reply->str, sha, 40) != 0)
    {
        ngx_http_gateway_store_failed(rd->store,
            ngx_http_gateway_redis_error(rd->store, ac, reply,
                                         "SCRIPT LOAD refused"));
        return;
    }

    /* Redis answers, as it should */

    ngx_http_gateway_store_up(rd->store);
}


/*
 * An error reply (or no reply) ends the connection: a script cache
 * flushed (NOSCRIPT), a user without a right, a Redis in trouble; the
 * next connection starts afresh.  Returns what the warn line says, or
 * NULL for NOSCRIPT: Redis is there, and the next connection loads the
 * scripts again (the request at hand falls back, the store is not down).
 */

static const char *
ngx_http_gateway_redis_error(ngx_http_gateway_store_t *st,
    redisAsyncContext *ac, redisReply *reply, const char *what)
{
    u_char                    *p, *last;
    size_t                     i;
    ngx_http_gateway_redis_t  *rd;

    rd = ac->data;

    /* the other replies awaited on a connection ended for NOSCRIPT */

    if (reply == NULL) {
        return (rd && rd->noscript) ? NULL : "connection lost";
    }

    if (reply->type != REDIS_REPLY_ERROR || reply->str == NULL) {
        redisAsyncFree(ac);
        return what;
    }

    if (reply->len >= 8 && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0) {
        if (rd) {
            rd->noscript = 1;
        }

        redisAsyncFree(ac);
        return NULL;
    }

    /* Redis's words, printable only, shortened */

    p = st->error;
    last = st->error + NGX_HTTP_GATEWAY_ERROR_LEN - 1;

    for (i = 0; i < reply->len && p < last; i++) {
        *p++ = (reply->str[i] >= 0x20 && reply->str[i] < 0x7f)
               ? (u_char) reply->str[i] : '?';
    }

    *p = '\0';

    redisAsyncFree(ac);

    return (const char *) st->error;
}


static ngx_int_t
ngx_http_gateway_script_sha(u_char *sha, ngx_str_t *text)
{
    u_char        md[EVP_MAX_MD_SIZE];
    unsigned int  n;

    if (EVP_Digest(text->data, text->len, md, &n, EVP_sha1(), NULL) != 1
        || n != 20)
    {
        return NGX_ERROR;
    }

    ngx_hex_dump(sha, md, 20);

    return NGX_OK;
}


/* the sync: one worker's timer, every quarter of the shortest interval */

static void
ngx_http_gateway_sync_tick(ngx_event_t *ev)
{
    ngx_uint_t                 i, n, kick;
    ngx_http_gateway_sync_t   *sy;
    ngx_http_gateway_zone_t   *zone;
    ngx_http_gateway_redis_t  *rd;
    ngx_http_gateway_store_t  *st;

    st = ev->data;

    if (st->exiting || ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    ngx_add_timer(&st->sync, st->tick);

    sy = st->batch;

    if (sy->inflight || !ngx_http_gateway_store_usable(st)) {
        return;
    }

    zone = ngx_http_gateway_store_zone(st);

    ngx_shmtx_lock(&zone->shpool->mutex);

    kick = zone->sh->kick
           && ngx_current_msec - st->last_sync >= st->tick;

    n = ngx_gateway_cluster_collect(&zone->sh->cluster, ngx_current_msec,
                                    kick, sy->rep,
                                    NGX_HTTP_GATEWAY_SYNC_BATCH, sy->keys,
                                    NGX_HTTP_GATEWAY_SYNC_BATCH * 256);
    if (n) {
        zone->sh->kick = 0;
    }

    ngx_shmtx_unlock(&zone->shpool->mutex);

    /*
     * Nothing to report: the hosts are still counted every second, and
     * Redis is tried at start and while it is away, on a new connection
     * and with the store's timeout, so that the first requests of a host
     * started while Redis is away follow on_store_error too.
     */

    if (n == 0) {
        if (st->probed && !zone->sh->store_down
            && ngx_current_msec - st->hosts_at < NGX_HTTP_GATEWAY_HOSTS_EVERY)
        {
            return;
        }

        if (!st->probed || zone->sh->store_down) {
            ngx_http_gateway_redis_close(&st->conns[0]);
        }

    } else {
        st->last_sync = ngx_current_msec;
    }

    st->probed = 1;
    st->hosts_at = ngx_current_msec;

    sy->conn = NULL;
    sy->n = n;
    sy->replied = 0;
    sy->counting = 0;
    sy->failed = 0;
    sy->why = NULL;

    rd = ngx_http_gateway_redis_get(st, 0);

    if (rd == NULL) {
        ngx_http_gateway_sync_done(sy);
        return;
    }

    sy->conn = rd;
    sy->inflight = 1;

    /* first the hosts, so that a new host knows them from the replies on */

    if (redisAsyncCommand(rd->ac, ngx_http_gateway_sync_hosts, sy,
                          "EVALSHA %b 1 " NGX_HTTP_GATEWAY_HOSTS_KEY " %s %d",
                          st->sha[NGX_HTTP_GATEWAY_SCRIPT_HOSTS], (size_t) 40,
                          st->host, NGX_HTTP_GATEWAY_HOSTS_STALE)
        == REDIS_OK)
    {
        sy->counting = 1;

    } else {
        sy->failed = 1;
        sy->why = "a command not sent";
    }

    for (i = 0; i < n; i++) {
        if (ngx_http_gateway_sync_send(sy, i) != NGX_OK) {

            /* not sent: the next sync sends it */

            sy->failed = 1;
            sy->why = "a command not sent";
            sy->replied++;

            ngx_shmtx_lock(&zone->shpool->mutex);
            ngx_gateway_cluster_apply(&zone->sh->cluster, zone->shpool,
                                      &sy->rep[i], NULL, ngx_current_msec);
            ngx_shmtx_unlock(&zone->shpool->mutex);
        }
    }

    ngx_add_timer(&sy->timer, st->timeout);

    if (sy->replied == sy->n && !sy->counting) {
        ngx_http_gateway_sync_done(sy);
    }
}


/* EVALSHA sync 1 key host te tau horizon hold extra demand want stale seq */

static ngx_int_t
ngx_http_gateway_sync_send(ngx_http_gateway_sync_t *sy, ngx_uint_t i)
{
    u_char                        *p, *last, buf[10 * NGX_INT64_LEN];
    size_t                         argvlen[14];
    int64_t                        te;
    ngx_uint_t                     k;
    const char                    *argv[14];
    ngx_http_gateway_store_t      *st;
    ngx_gateway_cluster_report_t  *rep;

    st = sy->store;
    rep = &sy->rep[i];
    te = ngx_gateway_cluster_te(rep->rate);

    argv[0] = "EVALSHA";
    argv[1] = (char *) st->sha[NGX_HTTP_GATEWAY_SCRIPT_SYNC];
    argvlen[1] = 40;
    argv[2] = "1";
    argv[3] = (char *) rep->key.data;
    argvlen[3] = rep->key.len;
    argv[4] = (char *) st->host;

    /* the numbers, each after the last */

    p = buf;
    last = buf + sizeof(buf);

    argv[5] = (char *) p;
    p = ngx_slprintf(p, last, "%L", te);
    argv[6] = (char *) p;
    p = ngx_slprintf(p, last, "%L", te * (int64_t) rep->burst);
    argv[7] = (char *) p;
    p = ngx_slprintf(p, last, "%L", (int64_t) rep->interval * 1000);
    argv[8] = (char *) p;
    p = ngx_slprintf(p, last, "%ui", rep->hold);
    argv[9] = (char *) p;
    p = ngx_slprintf(p, last, "%ui", rep->extra);
    argv[10] = (char *) p;
    p = ngx_slprintf(p, last, "%ui", rep->demand);
    argv[11] = (char *) p;
    p = ngx_slprintf(p, last, "%ui", rep->want);
    argv[12] = (char *) p;
    p = ngx_slprintf(p, last, "%M", 3 * rep->interval);
    argv[13] = (char *) p;
    p = ngx_slprintf(p, last, "%ui", rep->seq);

    for (k = 5; k < 13; k++) {
        argvlen[k] = (u_char *) argv[k + 1] - (u_char *) argv[k];
    }

    argvlen[13] = p - (u_char *) argv[13];

    for (k = 0; k < 5; k++) {
        if (k != 1 && k != 3) {
            argvlen[k] = ngx_strlen(argv[k]);
        }
    }

    sy->cb[i].sync = sy;
    sy->cb[i].i = i;

    if (redisAsyncCommandArgv(sy->conn->ac, ngx_http_gateway_sync_reply,
                              &sy->cb[i], 14, argv, argvlen)
        != REDIS_OK)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


static void
ngx_http_gateway_sync_hosts(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_gateway_sync_t *sy = data;

    ngx_uint_t                hosts;
    ngx_http_gateway_zone_t  *zone;

    sy->counting = 0;

    if (!sy->store->exiting) {

        if (ngx_gateway_cluster_parse_hosts(r, &hosts) == NGX_OK) {
            zone = ngx_http_gateway_store_zone(sy->store);

            ngx_shmtx_lock(&zone->shpool->mutex);
            ngx_gateway_cluster_hosts(&zone->sh->cluster, hosts);
            ngx_shmtx_unlock(&zone->shpool->mutex);

        } else {
            if (!sy->failed) {
                sy->why = ngx_http_gateway_redis_error(sy->store, ac, r,
                                                       "a bad hosts reply");
            }

            sy->failed = 1;
        }
    }

    if (sy->replied == sy->n) {
        ngx_http_gateway_sync_done(sy);
    }
}


/* each reply to its report; hiredis calls back in the commands' order */

static void
ngx_http_gateway_sync_reply(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_gateway_sync_cb_t *cb = data;

    ngx_http_gateway_sync_t      *sy;
    ngx_http_gateway_zone_t      *zone;
    ngx_gateway_cluster_grant_t   g, *grant;

    sy = cb->sync;
    sy->replied++;

    zone = ngx_http_gateway_store_zone(sy->store);

    grant = &g;

    /* a process that exits leaves the report to the next sync */

    if (sy->store->exiting
        || ngx_gateway_cluster_parse_grant(r, &g) != NGX_OK)
    {
        if (!sy->failed && !sy->store->exiting) {
            sy->why = ngx_http_gateway_redis_error(sy->store, ac, r,
                                                   "a bad sync reply");
        }

        sy->failed = 1;
        grant = NULL;
    }

    ngx_shmtx_lock(&zone->shpool->mutex);
    ngx_gateway_cluster_apply(&zone->sh->cluster, zone->shpool,
                              &sy->rep[cb->i], grant, ngx_current_msec);
    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (sy->replied == sy->n && !sy->counting) {
        ngx_http_gateway_sync_done(sy);
    }
}


static void
ngx_http_gateway_sync_timeout(ngx_event_t *ev)
{
    ngx_http_gateway_sync_t *sy = ev->data;

    /* each reply awaited comes now, as none: then the batch is done */

    sy->failed = 1;
    sy->why = "sync timed out";

    if (sy->conn && sy->conn->ac) {
        ngx_http_gateway_redis_close(sy->conn);

    } else {
        ngx_http_gateway_sync_done(sy);
    }
}


static void
ngx_http_gateway_sync_done(ngx_http_gateway_sync_t *sy)
{
    ngx_uint_t                 i;
    ngx_http_gateway_zone_t   *zone;
    ngx_http_gateway_store_t  *st;

    st = sy->store;

    if (sy->timer.timer_set) {
        ngx_del_timer(&sy->timer);
    }

    sy->inflight = 0;

    zone = ngx_http_gateway_store_zone(st);

    if (sy->conn == NULL && !st->exiting) {

        /* never sent: the next sync sends them */

        ngx_shmtx_lock(&zone->shpool->mutex);

        for (i = 0; i < sy->n; i++) {
            ngx_gateway_cluster_apply(&zone->sh->cluster, zone->shpool,
                                      &sy->rep[i], NULL, ngx_current_msec);
        }

        ngx_shmtx_unlock(&zone->shpool->mutex);

        sy->failed = 1;
        sy->why = "cannot connect";
    }

    if (!st->exiting) {
        if (sy->failed && sy->why == NULL) {
            /* NOSCRIPT: the next sync, on a new connection, loads them */

        } else if (sy->failed) {
            ngx_http_gateway_store_failed(st, sy->why);

        } else {
            if (sy->n) {
                zone->sh->synced = ngx_current_msec;
            }

            ngx_http_gateway_store_up(st);
        }
    }
}


/*
 * sync=strict: before the admission, Redis decides each strict line of
 * the request; the request waits (asynchronously) up to the store's
 * timeout.  NGX_OK: decided (or Redis is away: the lines fall back),
 * NGX_AGAIN: waiting, the handler runs again with the answers.
 */

ngx_int_t
ngx_http_gateway_cluster_strict(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_http_gateway_limits_t *lim, ngx_gateway_route_match_t *m)
{
    u_char                          *p, te[NGX_INT64_LEN],
                                    tau[NGX_INT64_LEN], stale[NGX_INT_T_LEN];
    size_t                           argvlen[8];
    int64_t                          t;
    ngx_uint_t                       i, n;
    const char                      *argv[8];
    ngx_pool_cleanup_t              *cln;
    ngx_http_gateway_redis_t        *rd;
    ngx_http_gateway_store_t        *st;
    ngx_http_gateway_strict_cb_t    *cb;
    ngx_http_gateway_strict_op_t    *op;
    ngx_http_gateway_cluster_req_t  *req;

    req = ctx->cluster;

    if (req && req->decided) {
        for (i = 0; i < lim->n && i < NGX_HTTP_GATEWAY_LIMITS_MAX + 1; i++) {
            lim->lk[i].strict = req->strict[i];
            lim->lk[i].answered = req->answered[i];
        }

        return NGX_OK;
    }

    n = 0;

    for (i = 0; i < lim->n; i++) {
        lim->lk[i].answered = 0;

        if (lim->lk[i].lc->cluster && lim->lk[i].lc->sync == 0) {
            n++;
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    st = gmcf->store;

    if (!ngx_http_gateway_store_usable(st)) {
        return NGX_OK;
    }

    req = ngx_pcalloc(r->pool, sizeof(ngx_http_gateway_cluster_req_t));
    if (req == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    req->match = *m;

    /* not in the request's pool: hiredis may call back after it is gone */

    op = ngx_calloc(sizeof(ngx_http_gateway_strict_op_t)
                    + n * sizeof(ngx_http_gateway_strict_cb_t), st->log);
    if (op == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        ngx_free(op);
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    st->next = (st->next + 1) % (st->nconns - 1);

    rd = ngx_http_gateway_redis_get(st, 1 + st->next);

    if (rd == NULL) {
        ngx_free(op);
        return NGX_OK;
    }

    op->request = r;
    op->store = st;
    op->conn = rd;
    op->req = req;
    op->cln = cln;

    cln->handler = ngx_http_gateway_strict_cleanup;
    cln->data = op;

    cb = (ngx_http_gateway_strict_cb_t *) (op + 1);

    argv[0] = "EVALSHA";
    argvlen[0] = 7;
    argv[1] = (char *) st->sha[NGX_HTTP_GATEWAY_SCRIPT_STRICT];
    argvlen[1] = 40;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[4] = (char *) st->host;
    argvlen[4] = ngx_strlen(st->host);

    p = ngx_sprintf(stale, "%d", NGX_HTTP_GATEWAY_STRICT_STALE);
    argv[7] = (char *) stale;
    argvlen[7] = p - stale;

    for (i = 0; i < lim->n; i++) {
        if (!lim->lk[i].lc->cluster || lim->lk[i].lc->sync) {
            continue;
        }

        argv[3] = (char *) lim->lk[i].redis_key.data;
        argvlen[3] = lim->lk[i].redis_key.len;

        t = ngx_gateway_cluster_te(lim->lk[i].lc->rate);

        p = ngx_sprintf(te, "%L", t);
        argv[5] = (char *) te;
        argvlen[5] = p - te;

        p = ngx_sprintf(tau, "%L", t * (int64_t) lim->lk[i].lc->burst);
        argv[6] = (char *) tau;
        argvlen[6] = p - tau;

        cb->op = op;
        cb->line = i;

        if (redisAsyncCommandArgv(rd->ac, ngx_http_gateway_strict_reply, cb,
                                  8, argv, argvlen)
            == REDIS_OK)
        {
            op->waiting++;
            op->refs++;
        }

        cb++;
    }

    if (op->refs == 0) {
        cln->handler = NULL;
        ngx_free(op);
        return NGX_OK;
    }

    ctx->cluster = req;

    op->timer.handler = ngx_http_gateway_strict_timeout;
    op->timer.data = op;
    op->timer.log = r->connection->log;

    ngx_add_timer(&op->timer, st->timeout);

    /* as limit_req's delay: the client may go meanwhile */

    r->read_event_handler = ngx_http_test_reading;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_AGAIN;
}


static void
ngx_http_gateway_strict_reply(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_gateway_strict_cb_t *cb = data;

    ngx_http_gateway_strict_op_t    *op;
    ngx_http_gateway_cluster_req_t  *req;
    ngx_gateway_cluster_strict_t     s;

    op = cb->op;

    if (op->request && !op->store->exiting) {
        req = op->req;

        if (ngx_gateway_cluster_parse_strict(r, &s) == NGX_OK) {
            req->strict[cb->line] = s;
            req->answered[cb->line] = 1;
            ngx_http_gateway_store_up(op->store);

        } else if (!op->failed) {
            op->failed = 1;
            op->why = ngx_http_gateway_redis_error(op->store, ac, r,
                                                   "a bad strict reply");
        }

        if (--op->waiting == 0) {
            if (op->failed && op->why) {
                ngx_http_gateway_store_failed(op->store, op->why);
            }

            ngx_http_gateway_strict_resume(op);
        }
    }

    if (--op->refs == 0) {
        if (op->timer.timer_set) {
            ngx_del_timer(&op->timer);
        }

        if (op->request == NULL) {
            ngx_free(op);
        }
    }
}


static void
ngx_http_gateway_strict_timeout(ngx_event_t *ev)
{
    ngx_http_gateway_strict_op_t *op = ev->data;

    ngx_http_gateway_redis_t  *rd;

    rd = op->conn;

    ngx_http_gateway_store_failed(op->store, "strict request timed out");

    /* the lines not answered fall back; the op waits for hiredis alone */

    ngx_http_gateway_strict_resume(op);

    /* every callback awaited on it comes now, as none, and frees op */

    ngx_http_gateway_redis_close(rd);
}


/* the request goes on with what Redis said; op no longer knows it */

static void
ngx_http_gateway_strict_resume(ngx_http_gateway_strict_op_t *op)
{
    ngx_connection_t    *c;
    ngx_http_request_t  *r;

    r = op->request;

    if (r == NULL) {
        return;
    }

    op->request = NULL;
    op->req->decided = 1;
    op->cln->handler = NULL;

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    if (op->refs == 0) {
        ngx_free(op);
    }

    c = r->connection;

    r->write_event_handler = ngx_http_core_run_phases;
    ngx_http_core_run_phases(r);

    ngx_http_run_posted_requests(c);
}


/* the request ended first (the client went): the op forgets it */

static void
ngx_http_gateway_strict_cleanup(void *data)
{
    ngx_http_gateway_strict_op_t *op = data;

    if (op->request == NULL) {
        return;
    }

    op->request = NULL;

    if (op->timer.timer_set) {
        ngx_del_timer(&op->timer);
    }

    if (op->refs == 0) {
        ngx_free(op);
    }
}


/*
 * A cluster line's dry decision, under the zone's lock, after the strict
 * lines had Redis's word: nothing is spent until the commit.
 */

void
ngx_http_gateway_cluster_take(ngx_http_gateway_zone_t *zone,
    ngx_http_gateway_limit_check_t *lk)
{
    ngx_gateway_cluster_node_t      *cn;
    ngx_gateway_cluster_decision_t   d;

    lk->node = NULL;
    lk->fallback = 0;
    lk->kick = 0;

    if (lk->lc->sync == 0 && lk->answered) {
        lk->rc = lk->strict.admitted ? NGX_OK : NGX_BUSY;
        lk->remaining = lk->strict.remaining;
        lk->reset = lk->strict.reset;
        lk->retry = lk->strict.admitted ? 0 : ngx_max(lk->strict.retry, 1);
        lk->decided = 1;
        return;
    }

    cn = ngx_gateway_cluster_lookup(zone->shpool, &zone->sh->cluster,
                                    &lk->redis_key, lk->lc->rate,
                                    lk->lc->burst,
                                    lk->lc->sync ? lk->lc->sync : 1000,
                                    ngx_current_msec);
    if (cn == NULL) {
        lk->decided = 0;
        return;
    }

    lk->node = cn;
    lk->decided = 1;

    if (lk->lc->sync == 0 || zone->sh->store_down) {
        lk->fallback = 1;
        ngx_gateway_cluster_fallback(&zone->sh->cluster, cn,
                                     lk->lc->on_error, ngx_current_msec,
                                     zone->sh->store_retry, 0, &d);

    } else {
        ngx_gateway_cluster_decide(&zone->sh->cluster, cn, ngx_current_msec,
                                   0, &d);
        lk->kick = d.kick;
    }

    lk->rc = d.rc;
    lk->remaining = d.remaining;
    lk->reset = d.reset;
    lk->retry = d.retry;
}


/* the same lock hold: the request offered, and admitted or not */

void
ngx_http_gateway_cluster_commit(ngx_http_gateway_zone_t *zone,
    ngx_http_gateway_service_t *s, ngx_http_gateway_limit_check_t *lk,
    ngx_uint_t admitted)
{
    ngx_gateway_cluster_node_t      *cn;
    ngx_gateway_cluster_decision_t   d;

    cn = lk->node;

    if (cn == NULL) {
        return;
    }

    if (lk->fallback) {
        ngx_http_gateway_count(s, fallbacks);

        if (admitted) {
            ngx_gateway_cluster_fallback(&zone->sh->cluster, cn,
                                         lk->lc->on_error, ngx_current_msec,
                                         zone->sh->store_retry, 1, &d);
        }

        return;
    }

    ngx_gateway_cluster_offer(&zone->sh->cluster, cn);

    if (admitted) {
        ngx_gateway_cluster_decide(&zone->sh->cluster, cn, ngx_current_msec,
                                   1, &d);
    }

    if (lk->kick) {
        zone->sh->kick = 1;
    }
}


/*
 * The request was not admitted after all (another line, the zone, or the
 * breaker refused it): the tokens its strict lines took in Redis go
 * back, so that a refused request is charged to no bucket.  Not waited
 * for; lost with Redis, they leak back at the line's rate.
 */

void
ngx_http_gateway_cluster_refund(ngx_http_gateway_main_conf_t *gmcf,
    ngx_http_gateway_limits_t *lim)
{
    u_char                          *p, te[NGX_INT64_LEN];
    ngx_uint_t                       i;
    ngx_http_gateway_redis_t        *rd;
    ngx_http_gateway_store_t        *st;
    ngx_http_gateway_limit_check_t  *lk;

    st = gmcf->store;
    rd = NULL;

    for (i = 0; i < lim->n; i++) {
        lk = &lim->lk[i];

        if (!lk->lc->cluster || lk->lc->sync
            || !lk->answered || !lk->strict.admitted)
        {
            continue;
        }

        if (rd == NULL) {
            st->next = (st->next + 1) % (st->nconns - 1);

            rd = ngx_http_gateway_redis_get(st, 1 + st->next);
            if (rd == NULL) {
                return;
            }
        }

        p = ngx_sprintf(te, "%L", ngx_gateway_cluster_te(lk->lc->rate));

        if (redisAsyncCommand(rd->ac, ngx_http_gateway_refund_reply, st,
                              "EVALSHA %b 1 %b %b",
                              st->sha[NGX_HTTP_GATEWAY_SCRIPT_REFUND],
                              (size_t) 40, lk->redis_key.data,
                              lk->redis_key.len, te, (size_t) (p - te))
            != REDIS_OK)
        {
            return;
        }
    }
}


static void
ngx_http_gateway_refund_reply(redisAsyncContext *ac, void *r, void *data)
{
    ngx_http_gateway_store_t *st = data;

    redisReply  *reply;

    reply = r;

    /* an error ends the connection (NOSCRIPT: the next loads them) */

    if (reply && reply->type == REDIS_REPLY_ERROR && !st->exiting) {
        (void) ngx_http_gateway_redis_error(st, ac, reply, "");
    }
}


/*
 * The Redis key of a line's bucket, with its hash tag: the service, the
 * line and a digest of whom it counts, so that hosts agree whatever the
 * order of their services, and Redis sees no identity.
 */

ngx_int_t
ngx_http_gateway_cluster_key(ngx_http_request_t *r,
    ngx_http_gateway_main_conf_t *gmcf, ngx_http_gateway_ctx_t *ctx,
    ngx_http_gateway_limit_check_t *lk, ngx_str_t *who)
{
    u_char        *p, md[EVP_MAX_MD_SIZE];
    unsigned int   len;

    if (EVP_Digest(who->data, who->len, md, &len, gmcf->sha256, NULL) != 1
        || len < 16)
    {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, sizeof("gw:{:}") - 1 + ctx->service->name.len
                             + NGX_INT_T_LEN + 1 + 32);
    if (p == NULL) {
        return NGX_ERROR;
    }

    lk->redis_key.data = p;

    p = ngx_cpymem(p, "gw:{", 4);
    p = ngx_cpymem(p, ctx->service->name.data, ctx->service->name.len);
    *p++ = ':';
    p = ngx_http_gateway_uint(p, lk->number);
    *p++ = ':';
    p = ngx_hex_dump(p, md, 16);
    *p++ = '}';

    lk->redis_key.len = p - lk->redis_key.data;

    return NGX_OK;
}


/* gateway_status: the host's view of the store */

void
ngx_http_gateway_cluster_status(ngx_http_gateway_main_conf_t *gmcf,
    ngx_http_gateway_store_view_t *view)
{
    ngx_http_gateway_zone_t  *zone;

    ngx_memzero(view, sizeof(ngx_http_gateway_store_view_t));

    if (gmcf->store == NULL || gmcf->shm_zone == NULL) {
        return;
    }

    zone = gmcf->shm_zone->data;

    view->up = !zone->sh->store_down;
    view->errors = zone->sh->store_errors;

    ngx_shmtx_lock(&zone->shpool->mutex);
    view->hosts = zone->sh->cluster.hosts;
    ngx_shmtx_unlock(&zone->shpool->mutex);

    if (zone->sh->synced) {
        view->lag = ngx_current_msec - zone->sh->synced;
    }
}


static void
ngx_http_gateway_store_up(ngx_http_gateway_store_t *st)
{
    ngx_http_gateway_zone_t  *zone;

    zone = ngx_http_gateway_store_zone(st);

    if (zone->sh->store_down
        && ngx_atomic_cmp_set(&zone->sh->store_down, 1, 0))
    {
        ngx_log_error(NGX_LOG_WARN, st->log, 0,
                      "gateway: store %V is up again: cluster rate limits "
                      "are shared again", &st->url);
    }
}


static void
ngx_http_gateway_store_failed(ngx_http_gateway_store_t *st,
    const char *why)
{
    ngx_http_gateway_zone_t  *zone;

    if (st->exiting) {
        return;
    }

    zone = ngx_http_gateway_store_zone(st);

    (void) ngx_atomic_fetch_add(&zone->sh->store_errors, 1);

    zone->sh->store_retry = ngx_current_msec + NGX_HTTP_GATEWAY_STORE_RETRY;

    if (!zone->sh->store_down
        && ngx_atomic_cmp_set(&zone->sh->store_down, 0, 1))
    {
        ngx_log_error(NGX_LOG_WARN, st->log, 0,
                      "gateway: store %V is down (%s): cluster rate limits "
                      "follow on_store_error until it is back",
                      &st->url, why ? why : "error");
    }
}


/*
 * Whether to ask Redis now: always while it is up; while it is down,
 * once every NGX_HTTP_GATEWAY_STORE_RETRY ms for the whole host (the
 * first process to see the time take the attempt).
 */

static ngx_uint_t
ngx_http_gateway_store_usable(ngx_http_gateway_store_t *st)
{
    ngx_atomic_uint_t         retry;
    ngx_http_gateway_zone_t  *zone;

    zone = ngx_http_gateway_store_zone(st);

    if (!zone->sh->store_down) {
        return 1;
    }

    retry = zone->sh->store_retry;

    if ((ngx_msec_int_t) (ngx_current_msec - retry) < 0) {
        return 0;
    }

    return ngx_atomic_cmp_set(&zone->sh->store_retry, retry,
                              ngx_current_msec
                              + NGX_HTTP_GATEWAY_STORE_RETRY);
}


static ngx_http_gateway_zone_t *
ngx_http_gateway_store_zone(ngx_http_gateway_store_t *st)
{
    return st->gmcf->shm_zone->data;
}
