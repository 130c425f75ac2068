
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <stdio.h>
#include <stdlib.h>
#include "gateway_test.h"
#include "ngx_gateway_cluster.h"
#include <hiredis/read.h>


#define KIB      1024

/* 10r/s in 0.001 r/s */
#define R10      10000

#define HOSTS    3


typedef struct {
    u_char                       *mem;
    ngx_slab_pool_t              *shpool;
    ngx_gateway_cluster_sh_t     *sh;
} store_t;


static void
store_create(store_t *st, size_t size)
{
    ngx_slab_pool_t  *sp;

    static ngx_uint_t  sizes_done;

    if (!sizes_done) {
        ngx_slab_sizes_init();
        sizes_done = 1;
    }

    assert_int_equal(posix_memalign((void **) &st->mem, ngx_pagesize, size),
                     0);

    sp = (ngx_slab_pool_t *) st->mem;
    sp->end = st->mem + size;
    sp->min_shift = 3;
    sp->addr = st->mem;

    ngx_slab_init(sp);
    sp->log_nomem = 0;

    st->shpool = sp;
    st->sh = ngx_slab_alloc_locked(sp, sizeof(ngx_gateway_cluster_sh_t));
    assert_non_null(st->sh);

    ngx_gateway_cluster_init(st->sh);
}


static ngx_str_t
key(const char *s)
{
    ngx_str_t  k;

    k.data = (u_char *) s;
    k.len = ngx_strlen(s);

    return k;
}


/* a request as the glue decides it: dry, then offered and committed */

static ngx_int_t
request(store_t *st, ngx_gateway_cluster_node_t *cn, ngx_msec_t now,
    ngx_gateway_cluster_decision_t *d)
{
    ngx_gateway_cluster_decision_t  c;

    ngx_gateway_cluster_decide(st->sh, cn, now, 0, d);
    ngx_gateway_cluster_offer(st->sh, cn);

    if (d->rc == NGX_OK) {
        ngx_gateway_cluster_decide(st->sh, cn, now, 1, &c);
        assert_int_equal(c.rc, NGX_OK);
        assert_int_equal(c.remaining, d->remaining);
    }

    return d->rc;
}


/* a fresh key admits its first-sight share, then waits for a lease */

static void
test_first_sight(void **state)
{
    store_t                          st;
    ngx_str_t                        k;
    ngx_uint_t                       i;
    ngx_gateway_cluster_node_t      *cn;
    ngx_gateway_cluster_decision_t   d;

    store_create(&st, 64 * KIB);
    k = key("gw:{s:1:a}");

    cn = ngx_gateway_cluster_lookup(st.shpool, st.sh, &k, R10, 5, 100, 1000);
    assert_non_null(cn);

    /* a fresh zone does not know how many hosts there are: one request */

    assert_int_equal(st.sh->hosts, 0);
    assert_int_equal(cn->prov, 1);
    assert_int_equal(request(&st, cn, 1000, &d), NGX_OK);
    assert_int_equal(request(&st, cn, 1000, &d), NGX_BUSY);
    assert_true(d.kick);

    /* one host known: burst + 1 at once, as limit_req */

    ngx_gateway_cluster_hosts(st.sh, 1);
    k = key("gw:{s:1:c}");
    cn = ngx_gateway_cluster_lookup(st.shpool, st.sh, &k, R10, 5, 100, 1000);
    assert_non_null(cn);

    for (i = 0; i < 6; i++) {
        assert_int_equal(request(&st, cn, 1000, &d), NGX_OK);
        assert_int_equal(d.remaining, 5 - i);
    }

    assert_int_equal(request(&st, cn, 1000, &d), NGX_BUSY);
    assert_int_equal(d.remaining, 0);
    assert_true(d.kick);
    assert_int_equal(d.retry, 1);

    /* all charged to the next sync, the refusal only as demand */

    assert_int_equal(cn->extra, 6);
    assert_int_equal(cn->demand, 7);
    assert_int_equal(cn->queued, 1);

    /* with three hosts known, a new key's share is a third */

    ngx_gateway_cluster_hosts(st.sh, 3);
    k = key("gw:{s:1:b}");
    cn = ngx_gateway_cluster_lookup(st.shpool, st.sh, &k, R10, 5, 100, 1000);
    assert_int_equal(cn->prov, 2);

    free(st.mem);
}


/* collect and apply: delta accounting of the lease */

static void
test_collect_apply(void **state)
{
    u_char                           buf[256];
    store_t                          st;
    ngx_str_t                        k;
    ngx_uint_t                       n;
    ngx_gateway_cluster_node_t      *cn;
    ngx_gateway_cluster_decision_t   d;
    ngx_gateway_cluster_report_t     rep[4];
    ngx_gateway_cluster_grant_t      g;
    ngx_uint_t                       seq;

    store_create(&st, 64 * KIB);
    k = key("gw:{s:1:a}");

    cn = ngx_gateway_cluster_lookup(st.shpool, st.sh, &k, R10, 0, 100, 1000);
    assert_int_equal(request(&st, cn, 1000, &d), NGX_OK);
    assert_int_equal(request(&st, cn, 1000, &d), NGX_BUSY);

    /* not due yet: nothing; a kick: now */

    assert_int_equal(ngx_gateway_cluster_collect(st.sh, 999, 0, rep, 4, buf,
                                                 sizeof(buf)), 0);
    n = ngx_gateway_cluster_collect(st.sh, 1000, 0, rep, 4, buf,
                                    sizeof(buf));
    assert_int_equal(n, 1);
    assert_int_equal(rep[0].key.len, k.len);
    assert_memory_equal(rep[0].key.data, k.data, k.len);
    assert_int_equal(rep[0].hold, 0);
    assert_int_equal(rep[0].extra, 1);
    assert_int_equal(rep[0].demand, 2);
    assert_int_equal(rep[0].want, 3);
    assert_int_equal(cn->extra, 0);
    assert_int_equal(cn->demand, 0);

    /* in flight: not collected twice */

    assert_int_equal(ngx_gateway_cluster_collect(st.sh, 5000, 1, rep + 1, 3,
                                                 buf + 64, 64), 0);

    /*
     * A lost reply (Redis may have applied the report): the report is
     * sent again as it was, with its number, not merged into the next;
     * what came meanwhile waits for the one after.
     */

    seq = rep[0].seq;
    assert_true(seq != 0);

    ngx_gateway_cluster_apply(st.sh, st.shpool, &rep[0], NULL, 1001);
    assert_int_equal(cn->extra, 0);
    assert_int_equal(cn->demand, 0);
    assert_int_equal(cn->inflight, 0);
    assert_int_equal(cn->unacked, 1);

    assert_int_equal(request(&st, cn, 1100, &d), NGX_BUSY);

    /* a grant of 3: three admitted from the lease, then refused */

    n = ngx_gateway_cluster_collect(st.sh, 1200, 0, rep, 4, buf,
                                    sizeof(buf));
    assert_int_equal(n, 1);
    assert_int_equal(rep[0].seq, seq);
    assert_int_equal(rep[0].extra, 1);
    assert_int_equal(rep[0].demand, 2);
    assert_int_equal(cn->demand, 1);

    /* one spent from nothing meanwhile: the lease starts below zero */

    g.delta = 3;
    g.free = 7;
    g.hosts = 2;
    g.reset = 300;

    ngx_gateway_cluster_apply(st.sh, st.shpool, &rep[0], &g, 1201);
    assert_int_equal(cn->lease, 3);
    assert_int_equal(cn->unacked, 0);

    /* the hosts of one key are not the cluster's */

    assert_int_equal(st.sh->hosts, 0);

    assert_int_equal(request(&st, cn, 1201, &d), NGX_OK);
    assert_int_equal(d.remaining, 0);         /* burst 0 */
    assert_int_equal(cn->lease, 2);

    /* taken back more than is left: what was spent is extra */

    n = ngx_gateway_cluster_collect(st.sh, 1300, 0, rep, 4, buf,
                                    sizeof(buf));
    assert_int_equal(n, 1);
    assert_int_equal(rep[0].seq, seq + 1);
    assert_int_equal(rep[0].hold, 2);
    assert_int_equal(rep[0].demand, 2);
    assert_int_equal(request(&st, cn, 1301, &d), NGX_OK);
    assert_int_equal(request(&st, cn, 1301, &d), NGX_OK);
    assert_int_equal(request(&st, cn, 1301, &d), NGX_BUSY);

    g.delta = -2;
    g.free = 0;
    ngx_gateway_cluster_apply(st.sh, st.shpool, &rep[0], &g, 1302);
    assert_int_equal(cn->lease, 0);
    assert_int_equal(cn->extra, 2);

    /* the cluster has nothing free: no first-sight, a longer retry */

    assert_int_equal(cn->prov, 0);
    assert_int_equal(request(&st, cn, 1302, &d), NGX_BUSY);
    assert_false(d.kick);
    assert_int_equal(d.retry, 100);

    free(st.mem);
}


/* an idle key gives its lease back and leaves the syncs */

static void
test_idle(void **state)
{
    u_char                           buf[256];
    store_t                          st;
    ngx_str_t                        k;
    ngx_uint_t                       i, n;
    ngx_msec_t                       now;
    ngx_gateway_cluster_node_t      *cn;
    ngx_gateway_cluster_decision_t   d;
    ngx_gateway_cluster_report_t     rep[1];
    ngx_gateway_cluster_grant_t      g;

    store_create(&st, 64 * KIB);
    k = key("gw:{s:1:a}");

    cn = ngx_gateway_cluster_lookup(st.shpool, st.sh, &k, R10, 0, 100, 0);
    assert_int_equal(request(&st, cn, 0, &d), NGX_OK);

    now = 0;

    for (i = 0; i < NGX_GATEWAY_CLUSTER_IDLE + 1; i++) {
        n = ngx_gateway_cluster_collect(st.sh, now, 0, rep, 1, buf,
                                        sizeof(buf));
        assert_int_equal(n, 1);

        if (i < NGX_GATEWAY_CLUSTER_IDLE) {
            assert_true(rep[0].want >= 1);
            g.delta = (i == 0) ? 1 : 0;

        } else {
            assert_int_equal(rep[0].want, 0);
            g.delta = -1;
        }

        g.free = 5;
        g.hosts = 1;
        g.reset = 0;
        ngx_gateway_cluster_apply(st.sh, st.shpool, &rep[0], &g, now + 1);

        now += 100;
    }

    assert_int_equal(cn->queued, 0);
    assert_int_equal(cn->lease, 0);
    assert_int_equal(cn->prov, 1);
    assert_int_equal(ngx_gateway_cluster_collect(st.sh, now + 1000, 1, rep,
                                                 1, buf, sizeof(buf)), 0);

    free(st.mem);
}


static void
test_fallback(void **state)
{
    store_t                          st;
    ngx_str_t                        k;
    ngx_uint_t                       rate, burst, i, admitted;
    ngx_msec_t                       now;
    ngx_gateway_cluster_node_t      *cn;
    ngx_gateway_cluster_decision_t   d;

    store_create(&st, 64 * KIB);
    k = key("gw:{s:1:a}");

    cn = ngx_gateway_cluster_lookup(st.shpool, st.sh, &k, 30000, 5, 100, 0);

    ngx_gateway_cluster_fallback(st.sh, cn, NGX_GATEWAY_CLUSTER_OPEN, 0, 500,
                                 1, &d);
    assert_int_equal(d.rc, NGX_OK);

    ngx_gateway_cluster_fallback(st.sh, cn, NGX_GATEWAY_CLUSTER_CLOSED, 100,
                                 500, 1, &d);
    assert_int_equal(d.rc, NGX_BUSY);
    assert_int_equal(d.retry, 400);

    ngx_gateway_cluster_fallback(st.sh, cn, NGX_GATEWAY_CLUSTER_CLOSED, 600,
                                 500, 1, &d);
    assert_int_equal(d.retry, 1);

    /* local: a third of 30r/s burst 5 on each of three hosts */

    ngx_gateway_cluster_share(30000, 5, 3, &rate, &burst);
    assert_int_equal(rate, 10000);
    assert_int_equal(burst, 1);

    ngx_gateway_cluster_share(1, 0, 7, &rate, &burst);
    assert_int_equal(rate, 1);

    /* hosts unknown (never heard of Redis): the whole limit */

    admitted = 0;

    for (now = 0; now < 1000; now += 10) {
        ngx_gateway_cluster_fallback(st.sh, cn, NGX_GATEWAY_CLUSTER_LOCAL, now,
                                     0, 1, &d);
        admitted += (d.rc == NGX_OK);
    }

    assert_int_equal(admitted, 30 + 5);

    /* three: a third, whatever hosts the key itself was seen by */

    ngx_memzero(&cn->fallback, sizeof(ngx_gateway_bucket_t));
    ngx_gateway_cluster_hosts(st.sh, 3);
    admitted = 0;

    for (now = 0; now < 10000; now += 10) {
        for (i = 0; i < 2; i++) {
            ngx_gateway_cluster_fallback(st.sh, cn, NGX_GATEWAY_CLUSTER_LOCAL,
                                         now, 0, 1, &d);
            admitted += (d.rc == NGX_OK);
        }
    }

    /* 10 s of 10r/s, and a burst of 1 + 1 */
    assert_int_equal(admitted, 100 + 1);

    /* a dry decision spends nothing */

    ngx_gateway_cluster_fallback(st.sh, cn, NGX_GATEWAY_CLUSTER_LOCAL, 20000,
                                 0, 0, &d);
    ngx_gateway_cluster_fallback(st.sh, cn, NGX_GATEWAY_CLUSTER_LOCAL, 20000,
                                 0, 0, &d);
    ngx_gateway_cluster_fallback(st.sh, cn, NGX_GATEWAY_CLUSTER_LOCAL, 20000,
                                 0, 0, &d);
    assert_int_equal(d.rc, NGX_OK);

    free(st.mem);
}


/* the script's arithmetic: GCRA with limit_req's burst, and shares */

static void
test_grant(void **state)
{
    int64_t                        tat, now, te, tau, hz, last, t;
    ngx_uint_t                     seq;
    ngx_gateway_cluster_report_t   rep;
    ngx_gateway_cluster_grant_t    g;

    seq = 0;
    last = 0;

    te = ngx_gateway_cluster_te(R10);
    assert_int_equal(te, 100000);
    assert_int_equal(ngx_gateway_cluster_te(1), 1000000000);

    tau = 5 * te;
    hz = 100000;
    now = 1700000000000000LL;
    tat = 0;

    /* alone, wanting much: burst + 1 and the horizon's one token */

    ngx_memzero(&rep, sizeof(rep));
    rep.demand = 100;
    rep.want = 1000;

    rep.seq++;
    ngx_gateway_cluster_grant(&tat, now, te, tau, hz, &rep, 0, 1, &seq,
                              &last, &g);
    assert_int_equal(g.delta, 7);
    assert_int_equal(g.free, 0);
    assert_int_equal(g.hosts, 1);
    assert_int_equal(tat, now + 7 * te);
    assert_int_equal(g.reset, 700);

    /* 100 ms later, holding 7 of which 2 are left: one more came free */

    now += 100000;
    rep.hold = 2;
    rep.seq++;
    ngx_gateway_cluster_grant(&tat, now, te, tau, hz, &rep, 0, 1, &seq,
                              &last, &g);
    assert_int_equal(g.delta, 1);
    assert_int_equal(g.free, 0);

    /* a want of 0 gives everything back */

    rep.hold = 3;
    rep.want = 0;
    rep.seq++;
    ngx_gateway_cluster_grant(&tat, now, te, tau, hz, &rep, 0, 1, &seq,
                              &last, &g);
    assert_int_equal(g.delta, -3);
    assert_int_equal(g.free, 3);

    /* extra is charged; a debt leaves nothing free and grants nothing */

    rep.hold = 0;
    rep.extra = 20;
    rep.want = 10;
    rep.seq++;
    ngx_gateway_cluster_grant(&tat, now, te, tau, hz, &rep, 0, 1, &seq,
                              &last, &g);
    assert_int_equal(g.delta, 0);
    assert_true(g.free < 0);

    /* tokens given back after they leaked are no credit */

    tat = now;
    rep.extra = 0;
    rep.hold = 50;
    rep.want = 0;
    rep.seq++;
    ngx_gateway_cluster_grant(&tat, now, te, tau, hz, &rep, 0, 1, &seq,
                              &last, &g);
    assert_int_equal(tat, now);
    assert_int_equal(g.free, 7);

    /* by demand: a third of 9 free to a host with a third of it */

    tat = now - 1000000;
    tau = 7 * te;
    rep.hold = 0;
    rep.demand = 10;
    rep.want = 100;
    rep.seq++;
    ngx_gateway_cluster_grant(&tat, now, te, tau, hz, &rep, 20, 3, &seq,
                              &last, &g);
    assert_int_equal(g.delta, 3);
    assert_int_equal(g.hosts, 3);

    /*
     * The same report again (its reply was lost): the same delta, and
     * nothing charged twice; a new one is applied.
     */

    t = tat;
    rep.extra = 4;
    rep.seq++;
    ngx_gateway_cluster_grant(&tat, now, te, tau, hz, &rep, 20, 3, &seq,
                              &last, &g);
    assert_int_equal(tat, t + 4 * te + g.delta * te);
    t = tat;

    ngx_gateway_cluster_grant(&tat, now, te, tau, hz, &rep, 20, 3, &seq,
                              &last, &g);
    assert_int_equal(tat, t);
    assert_int_equal(g.delta, last);

    rep.seq++;
    ngx_gateway_cluster_grant(&tat, now, te, tau, hz, &rep, 20, 3, &seq,
                              &last, &g);
    assert_true(tat > t);
}


/*
 * Three hosts, one Redis, a simulated millisecond clock: requests spread
 * over the hosts at a multiple of the rate, syncs every interval (a
 * quarter of it after a kick), replies after a round trip; host clocks
 * are offset from each other.  What is admitted stays within the bound
 * the README states: in any window of W ms at most
 * rate * W + burst + 1 (limit_req's) plus rate * interval + burst + 1 +
 * hosts.
 */

typedef struct {
    store_t                        st;
    ngx_msec_t                     offset;     /* its monotonic clock */
    ngx_msec_t                     last_sync;
    ngx_msec_t                     counted;    /* hosts, last asked */
    ngx_uint_t                     kick;
    ngx_uint_t                     n;          /* reports in flight */
    ngx_uint_t                     hosts;      /* in the reply */
    ngx_uint_t                     batches;
    ngx_msec_t                     reply_at;
    ngx_gateway_cluster_report_t   rep[4];
    ngx_gateway_cluster_grant_t    g[4];
    u_char                         buf[4 * 64];
} sim_host_t;


typedef struct {
    ngx_uint_t                     admitted;
    ngx_uint_t                     offered;
    ngx_uint_t                     max_window;   /* most in any window */
} sim_result_t;


/*
 * spike: requests each host gets at once at the start (its zone fresh,
 * knowing no hosts); loss: every loss-th batch's replies are lost after
 * Redis applied it (0: none).
 */

static void
simulate(ngx_uint_t rate, ngx_uint_t burst, ngx_msec_t interval,
    ngx_uint_t load, ngx_msec_t duration, ngx_msec_t window,
    ngx_msec_t rtt, ngx_uint_t spike, ngx_uint_t loss, sim_result_t *res)
{
    int64_t                          tat, te, now_us;
    uint64_t                         others;
    ngx_str_t                        k;
    ngx_uint_t                       h, j, i, live, *per_ms, sum;
    ngx_msec_t                       t, tick, hnow;
    sim_host_t                       hosts[HOSTS];
    ngx_gateway_cluster_node_t      *cn;
    ngx_gateway_cluster_decision_t   d;
    uint64_t                         demand[HOSTS];
    int64_t                          seen[HOSTS], delta[HOSTS];
    ngx_uint_t                       seq[HOSTS], s;
    ngx_msec_t                       registered[HOSTS];
    double                           next[HOSTS], gap;

    k = key("gw:{s:1:k}");
    te = ngx_gateway_cluster_te(rate);
    tat = 0;
    tick = ngx_max(interval / 4, 5);

    per_ms = calloc(duration, sizeof(ngx_uint_t));
    assert_non_null(per_ms);

    ngx_memzero(res, sizeof(sim_result_t));

    /* requests every gap ms on each host, the hosts out of step */

    gap = 1000.0 * HOSTS / ((double) rate / 1000 * load);

    for (h = 0; h < HOSTS; h++) {
        store_create(&hosts[h].st, 256 * KIB);
        hosts[h].offset = 1000000 * (h + 1) + 7 * h;
        hosts[h].last_sync = 0;
        hosts[h].counted = 0;
        hosts[h].kick = 0;
        hosts[h].n = 0;
        hosts[h].batches = 0;
        hosts[h].reply_at = 0;
        next[h] = gap * h / HOSTS;
        demand[h] = 0;
        seen[h] = -1;
        seq[h] = 0;
        delta[h] = 0;
        registered[h] = (ngx_msec_t) -1;
    }

    for (t = 0; t < duration; t++) {

        /* Redis's microseconds: not on the millisecond */
        now_us = 1700000000000000LL + (int64_t) t * 1000
                 + (int64_t) (t * 7919 % 1000);

        for (h = 0; h < HOSTS; h++) {
            hnow = t + hosts[h].offset;

            /* replies */

            if (hosts[h].reply_at && t >= hosts[h].reply_at) {
                hosts[h].reply_at = 0;

                if (loss && hosts[h].batches % loss == 0) {

                    /* lost, as with a timeout: Redis applied them */

                    for (i = 0; i < hosts[h].n; i++) {
                        ngx_gateway_cluster_apply(hosts[h].st.sh,
                                                  hosts[h].st.shpool,
                                                  &hosts[h].rep[i], NULL,
                                                  hnow);
                    }

                } else {
                    ngx_gateway_cluster_hosts(hosts[h].st.sh,
                                              hosts[h].hosts);

                    for (i = 0; i < hosts[h].n; i++) {
                        ngx_gateway_cluster_apply(hosts[h].st.sh,
                                                  hosts[h].st.shpool,
                                                  &hosts[h].rep[i],
                                                  &hosts[h].g[i], hnow);
                    }
                }

                hosts[h].n = 0;
            }

            /* requests: a spike at first, then evenly */

            for (s = (t == 0) ? spike : 0; s; s--) {
                res->offered++;

                cn = ngx_gateway_cluster_lookup(hosts[h].st.shpool,
                                                hosts[h].st.sh, &k, rate,
                                                burst, interval, hnow);
                if (request(&hosts[h].st, cn, hnow, &d) == NGX_OK) {
                    res->admitted++;
                    per_ms[t]++;
                }

                if (d.kick) {
                    hosts[h].kick = 1;
                }
            }

            while (next[h] <= t) {
                next[h] += gap;
                res->offered++;

                cn = ngx_gateway_cluster_lookup(hosts[h].st.shpool,
                                                hosts[h].st.sh, &k, rate,
                                                burst, interval, hnow);
                if (request(&hosts[h].st, cn, hnow, &d) == NGX_OK) {
                    res->admitted++;
                    per_ms[t]++;
                }

                if (d.kick) {
                    hosts[h].kick = 1;
                }
            }

            /* the sync timer: every tick, due keys; a kick after a tick */

            if (hosts[h].reply_at == 0 && (t + 3 * h) % tick == 0) {
                hosts[h].n = ngx_gateway_cluster_collect(
                                 hosts[h].st.sh, hnow,
                                 hosts[h].kick
                                 && hnow - hosts[h].last_sync >= tick,
                                 hosts[h].rep, 4, hosts[h].buf,
                                 sizeof(hosts[h].buf));

                /* the hosts are counted with each sync, or every second */

                if (hosts[h].n == 0
                    && registered[h] != (ngx_msec_t) -1
                    && t - hosts[h].counted < 1000)
                {
                    continue;
                }

                hosts[h].counted = t;
                hosts[h].batches++;
                hosts[h].reply_at = t + rtt;

                registered[h] = t;
                hosts[h].hosts = 0;

                for (j = 0; j < HOSTS; j++) {
                    if (registered[j] != (ngx_msec_t) -1
                        && t - registered[j] <= 3000)
                    {
                        hosts[h].hosts++;
                    }
                }

                if (hosts[h].n == 0) {
                    continue;
                }

                hosts[h].kick = 0;
                hosts[h].last_sync = hnow;

                /* Redis runs the script now, for each key */

                for (i = 0; i < hosts[h].n; i++) {
                    others = 0;
                    live = 1;

                    for (j = 0; j < HOSTS; j++) {
                        if (j != h && seen[j] >= 0
                            && now_us - seen[j]
                               <= (int64_t) (3 * interval * 1000))
                        {
                            others += demand[j];
                            live++;
                        }
                    }

                    ngx_gateway_cluster_grant(&tat, now_us, te,
                                              te * (int64_t) burst,
                                              (int64_t) interval * 1000,
                                              &hosts[h].rep[i], others, live,
                                              &seq[h], &delta[h],
                                              &hosts[h].g[i]);

                    demand[h] = hosts[h].rep[i].demand;
                    seen[h] = now_us;
                }
            }
        }
    }

    /* the most admitted in any window */

    sum = 0;

    for (t = 0; t < duration; t++) {
        sum += per_ms[t];

        if (t >= window) {
            sum -= per_ms[t - window];
        }

        if (sum > res->max_window) {
            res->max_window = sum;
        }
    }

    for (h = 0; h < HOSTS; h++) {
        free(hosts[h].st.mem);
    }

    free(per_ms);
}


static void
check_simulation(ngx_uint_t rate, ngx_uint_t burst, ngx_msec_t interval,
    ngx_uint_t load, ngx_msec_t rtt, ngx_uint_t spike, ngx_uint_t loss)
{
    double        quota, bound, limit_req;
    sim_result_t  res;

    simulate(rate, burst, interval, load, 20000, 1000, rtt, spike, loss,
             &res);

    quota = (double) rate / 1000 * 20 + burst + 1;
    limit_req = (double) rate / 1000 + burst + 1;
    bound = limit_req + (double) rate / 1000 * interval / 1000 + burst + 1
            + HOSTS;

    print_message("  %u r/s burst %u sync %ums at %ux (rtt %ums, spike %u, "
                  "1/%u lost): %u of %u offered "
                  "admitted over 20 s, %.1f%% of the quota %.0f; most in "
                  "a second %u (limit_req %.0f, bound %.0f)\n",
                  (unsigned) (rate / 1000), (unsigned) burst,
                  (unsigned) interval, (unsigned) load, (unsigned) rtt,
                  (unsigned) spike, (unsigned) loss,
                  (unsigned) res.admitted, (unsigned) res.offered,
                  100.0 * res.admitted / quota, quota,
                  (unsigned) res.max_window, limit_req, bound);

    assert_true(res.admitted <= quota + bound - limit_req);
    assert_true(res.admitted >= quota * 0.95);
    assert_true(res.max_window <= bound);
}


static void
test_simulation(void **state)
{
    check_simulation(100000, 10, 100, 2, 1, 0, 0);
    check_simulation(100000, 10, 100, 10, 1, 0, 0);
    check_simulation(20000, 0, 100, 2, 1, 0, 0);
    check_simulation(20000, 0, 100, 10, 1, 0, 0);
    check_simulation(500000, 50, 100, 10, 1, 0, 0);
    check_simulation(100000, 10, 1000, 10, 1, 0, 0);

    /*
     * Three fresh hosts, a large burst spent at once before any reply:
     * each admits one until it knows the hosts (with a full burst each,
     * 303 in the first second against a bound of 216).
     */

    check_simulation(10000, 100, 100, 10, 20, 200, 0);
    check_simulation(100000, 100, 100, 10, 20, 500, 0);

    /* replies lost after Redis applied them: sent again, not charged twice */

    check_simulation(100000, 10, 100, 10, 5, 0, 3);
    check_simulation(10000, 100, 100, 10, 20, 200, 2);
}


/* replies: the shapes the scripts answer, and nothing else */

static redisReply *
parse(const char *bytes, size_t len)
{
    void         *reply;
    redisReader  *rd;

    rd = redisReaderCreate();
    assert_non_null(rd);

    reply = NULL;

    if (redisReaderFeed(rd, bytes, len) != REDIS_OK
        || redisReaderGetReply(rd, &reply) != REDIS_OK)
    {
        reply = NULL;
    }

    redisReaderFree(rd);

    return reply;
}


#define REPLY(s)  parse(s, sizeof(s) - 1)


static void
test_parse_replies(void **state)
{
    redisReply                    *r;
    ngx_uint_t                     hosts;
    ngx_gateway_cluster_grant_t    g;
    ngx_gateway_cluster_strict_t   s;

    r = REPLY("*4\r\n:-3\r\n:12\r\n:3\r\n:250\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_grant(r, &g), NGX_OK);
    assert_int_equal(g.delta, -3);
    assert_int_equal(g.free, 12);
    assert_int_equal(g.hosts, 3);
    assert_int_equal(g.reset, 250);
    assert_int_equal(ngx_gateway_cluster_parse_strict(r, &s), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("*5\r\n:1\r\n:4\r\n:200\r\n:0\r\n:2\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_strict(r, &s), NGX_OK);
    assert_int_equal(s.admitted, 1);
    assert_int_equal(s.remaining, 4);
    assert_int_equal(s.reset, 200);
    assert_int_equal(s.hosts, 2);
    assert_int_equal(ngx_gateway_cluster_parse_grant(r, &g), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("+OK\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_ok(r), NGX_OK);
    assert_int_equal(ngx_gateway_cluster_parse_grant(r, &g), NGX_ERROR);
    freeReplyObject(r);

    /* errors, wrong types, counts, values */

    assert_int_equal(ngx_gateway_cluster_parse_grant(NULL, &g), NGX_ERROR);
    assert_int_equal(ngx_gateway_cluster_parse_ok(NULL), NGX_ERROR);

    r = REPLY("-NOAUTH Authentication required.\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_ok(r), NGX_ERROR);
    assert_int_equal(ngx_gateway_cluster_parse_grant(r, &g), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("+OKAY\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_ok(r), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("*4\r\n:1\r\n$2\r\n12\r\n:3\r\n:250\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_grant(r, &g), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("*3\r\n:1\r\n:2\r\n:3\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_grant(r, &g), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("*4\r\n:1\r\n:2\r\n:0\r\n:3\r\n");       /* no host */
    assert_int_equal(ngx_gateway_cluster_parse_grant(r, &g), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("*4\r\n:1\r\n:2\r\n:1\r\n:-1\r\n");      /* reset < 0 */
    assert_int_equal(ngx_gateway_cluster_parse_grant(r, &g), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("*4\r\n:9223372036854775807\r\n:2\r\n:1\r\n:1\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_grant(r, &g), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("*5\r\n:2\r\n:4\r\n:200\r\n:0\r\n:2\r\n");   /* admitted 2 */
    assert_int_equal(ngx_gateway_cluster_parse_strict(r, &s), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("*5\r\n:1\r\n*1\r\n:4\r\n:200\r\n:0\r\n:2\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_strict(r, &s), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("*-1\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_strict(r, &s), NGX_ERROR);
    freeReplyObject(r);

    /* the count of hosts: an integer from 1 */

    r = REPLY(":3\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_hosts(r, &hosts), NGX_OK);
    assert_int_equal(hosts, 3);
    freeReplyObject(r);

    r = REPLY(":0\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_hosts(r, &hosts), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY(":-1\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_hosts(r, &hosts), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY(":100000\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_hosts(r, &hosts), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("$1\r\n3\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_hosts(r, &hosts), NGX_ERROR);
    freeReplyObject(r);

    r = REPLY("-NOSCRIPT No matching script.\r\n");
    assert_int_equal(ngx_gateway_cluster_parse_hosts(r, &hosts), NGX_ERROR);
    freeReplyObject(r);

    assert_int_equal(ngx_gateway_cluster_parse_hosts(NULL, &hosts),
                     NGX_ERROR);

    /* not a reply at all: the reader refuses it */

    assert_null(REPLY("?garbage\r\n"));
}


/* random bytes, and mutations of good replies: an error or a reply */

static void
test_parse_garbage(void **state)
{
    char                           buf[64];
    void                          *reply;
    size_t                         len, j;
    ngx_uint_t                     i, n, ok, hosts;
    redisReader                   *rd;
    ngx_gateway_cluster_grant_t    g;
    ngx_gateway_cluster_strict_t   s;

    static const char  *seeds[] = {
        "*4\r\n:-3\r\n:12\r\n:3\r\n:250\r\n",
        "*5\r\n:1\r\n:4\r\n:200\r\n:0\r\n:2\r\n",
        "+OK\r\n",
        "-ERR x\r\n",
        ":3\r\n",
    };

    srandom(17);
    ok = 0;

    for (i = 0; i < 200000; i++) {

        if (i % 2) {
            len = random() % sizeof(buf);

            for (j = 0; j < len; j++) {
                buf[j] = (char) (random() % 256);
            }

        } else {
            len = ngx_strlen(seeds[i / 2 % 5]);
            ngx_memcpy(buf, seeds[i / 2 % 5], len);

            for (n = random() % 3 + 1; n; n--) {
                buf[random() % len] = "*:$+-\r\n0123456789-x"[random() % 20];
            }
        }

        rd = redisReaderCreate();
        assert_non_null(rd);

        if (redisReaderFeed(rd, buf, len) == REDIS_OK) {

            while (redisReaderGetReply(rd, &reply) == REDIS_OK
                   && reply != NULL)
            {
                if (ngx_gateway_cluster_parse_grant(reply, &g) == NGX_OK) {
                    assert_true(g.hosts >= 1);
                    ok++;
                }

                if (ngx_gateway_cluster_parse_strict(reply, &s) == NGX_OK) {
                    assert_true(s.admitted <= 1);
                    ok++;
                }

                if (ngx_gateway_cluster_parse_hosts(reply, &hosts)
                    == NGX_OK)
                {
                    assert_true(hosts >= 1 && hosts <= 65536);
                    ok++;
                }

                (void) ngx_gateway_cluster_parse_ok(reply);
                freeReplyObject(reply);
            }
        }

        redisReaderFree(rd);
    }

    /* some mutations stay good replies */
    assert_true(ok > 0);
}


/* a full store evicts its oldest keys */

static void
test_store_full(void **state)
{
    u_char                       name[32];
    store_t                      st;
    ngx_str_t                    k;
    ngx_uint_t                   i;
    ngx_gateway_cluster_node_t  *cn, *first;

    store_create(&st, 32 * KIB);

    k.data = name;
    k.len = ngx_sprintf(name, "gw:{s:1:%06ui}", (ngx_uint_t) 0) - name;
    first = ngx_gateway_cluster_lookup(st.shpool, st.sh, &k, R10, 0, 100, 0);
    ngx_gateway_cluster_offer(st.sh, first);

    for (i = 1; i < 2000; i++) {
        k.len = ngx_sprintf(name, "gw:{s:1:%06ui}", i) - name;
        cn = ngx_gateway_cluster_lookup(st.shpool, st.sh, &k, R10, 0, 100,
                                        0);
        assert_non_null(cn);
        ngx_gateway_cluster_offer(st.sh, cn);
    }

    assert_true(st.sh->nodes < 2000);

    /* the newest is there, and found again */

    assert_ptr_equal(ngx_gateway_cluster_lookup(st.shpool, st.sh, &k, R10, 0,
                                                100, 0), cn);

    /* a key too long for the store */

    k.len = NGX_GATEWAY_LIMIT_KEY_MAX + 1;
    assert_null(ngx_gateway_cluster_lookup(st.shpool, st.sh, &k, R10, 0, 100,
                                           0));

    free(st.mem);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_first_sight),
        cmocka_unit_test(test_collect_apply),
        cmocka_unit_test(test_idle),
        cmocka_unit_test(test_fallback),
        cmocka_unit_test(test_grant),
        cmocka_unit_test(test_simulation),
        cmocka_unit_test(test_parse_replies),
        cmocka_unit_test(test_parse_garbage),
        cmocka_unit_test(test_store_full),
    };

    ngx_pool_t  *pool;
    int          rc;

    /* it sets the page size the slab needs */
    pool = gateway_test_pool();

    rc = cmocka_run_group_tests_name("cluster", tests, NULL, NULL);

    ngx_destroy_pool(pool);

    return rc;
}
