
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <stdio.h>
#include <stdlib.h>
#include "gateway_test.h"
#include "ngx_http_gateway_limit.h"


#define KIB   1024
#define MIB   (1024 * 1024)
#define DAY   ((ngx_msec_t) 86400000)

/* 10r/s: one request leaks in 100 ms */
#define R10   10000


typedef struct {
    ngx_int_t                     rc;
    ngx_uint_t                    remaining;
    ngx_msec_t                    reset;
    ngx_msec_t                    retry;
} take_t;


typedef struct {
    ngx_pool_t                   *pool;
    u_char                       *mem;
    ngx_slab_pool_t              *shpool;
    ngx_http_gateway_limit_sh_t  *sh;
} limit_state_t;


static take_t
take(ngx_http_gateway_bucket_t *b, ngx_uint_t rate, ngx_uint_t burst,
    ngx_msec_t now)
{
    take_t  t;

    /* values the function must overwrite */
    t.remaining = 77777;
    t.reset = 77777;
    t.retry = 77777;

    t.rc = ngx_http_gateway_bucket_take(b, rate, burst, now, &t.remaining,
                                        &t.reset, &t.retry);
    return t;
}


/* one decision and everything it answers */
#define assert_take(b, rate, burst, now, rc_, rem, rst, rty)                  \
    do {                                                                      \
        take_t  t_ = take(b, rate, burst, now);                               \
        assert_int_equal(t_.rc, rc_);                                         \
        assert_int_equal(t_.remaining, rem);                                  \
        assert_int_equal(t_.reset, rst);                                      \
        assert_int_equal(t_.retry, rty);                                      \
    } while (0)


/* a refusal, and the bucket it leaves exactly as it was */
#define assert_refused(b, rate, burst, now, rst, rty)                         \
    do {                                                                      \
        ngx_http_gateway_bucket_t  before_ = *(b);                            \
        assert_take(b, rate, burst, now, NGX_BUSY, 0, rst, rty);              \
        assert_memory_equal(&before_, b, sizeof(before_));                    \
    } while (0)


/* bucket */


static void
test_bucket_burst(void **state)
{
    ngx_uint_t                 i, j, k, burst;
    ngx_msec_t                 t0;
    ngx_http_gateway_bucket_t  b;

    static ngx_uint_t  bursts[] = { 0, 1, 5, 100 };
    static ngx_msec_t  starts[] = { 0, 1, 123456 };

    for (k = 0; k < sizeof(bursts) / sizeof(bursts[0]); k++) {
        burst = bursts[k];

        for (j = 0; j < sizeof(starts) / sizeof(starts[0]); j++) {
            t0 = starts[j];
            ngx_memzero(&b, sizeof(b));

            /* burst + 1 at once: each costs 100 ms of leaking at 10r/s */

            for (i = 0; i <= burst; i++) {
                assert_take(&b, R10, burst, t0, NGX_OK, burst - i,
                            (i + 1) * 100, 0);
            }

            assert_int_equal(b.last, t0);
            assert_int_equal(b.excess, (burst + 1) * 1000);

            assert_refused(&b, R10, burst, t0, (burst + 1) * 100, 100);
            assert_refused(&b, R10, burst, t0, (burst + 1) * 100, 100);
        }
    }
}


static void
test_bucket_refill_boundary(void **state)
{
    ngx_uint_t                 i, k, rate, period;
    ngx_msec_t                 t0;
    ngx_http_gateway_bucket_t  b;

    /* rates whose request period is a whole number of ms */
    static ngx_uint_t  rates[] = { 1000000, 10000, 4000, 1000, 500, 16 };

    t0 = 1000;

    for (k = 0; k < sizeof(rates) / sizeof(rates[0]); k++) {
        rate = rates[k];
        period = 1000 * 1000 / rate;

        ngx_memzero(&b, sizeof(b));

        for (i = 0; i < 4; i++) {
            assert_take(&b, rate, 3, t0, NGX_OK, 3 - i, (i + 1) * period, 0);
        }

        /* one ms early: not yet */
        assert_refused(&b, rate, 3, t0 + period - 1, 3 * period + 1, 1);

        /* exactly one period: exactly one more */
        assert_take(&b, rate, 3, t0 + period, NGX_OK, 0, 4 * period, 0);
        assert_refused(&b, rate, 3, t0 + period, 4 * period, period);
    }

    /* 7r/s: a request leaks in 142.86 ms, admitted at 143 ms */

    ngx_memzero(&b, sizeof(b));

    for (i = 0; i < 4; i++) {
        assert_take(&b, 7000, 3, t0, NGX_OK, 3 - i,
                    ((i + 1) * 1000 * 1000 + 6999) / 7000, 0);
    }

    assert_refused(&b, 7000, 3, t0, 572, 143);
    assert_refused(&b, 7000, 3, t0 + 142, 572 - 142, 1);

    /* 4000 - 1001 leaked + 1000: 3999, which drains in 571.3 ms */
    assert_take(&b, 7000, 3, t0 + 143, NGX_OK, 0, 572, 0);
    assert_int_equal(b.excess, 3999);
    assert_refused(&b, 7000, 3, t0 + 143, 572, 143);
}


static void
test_bucket_refused_not_counted(void **state)
{
    ngx_uint_t                 i, k;
    ngx_msec_t                 t0;
    ngx_http_gateway_bucket_t  b;

    t0 = 5000;
    ngx_memzero(&b, sizeof(b));

    assert_take(&b, 1000, 1, t0, NGX_OK, 1, 1000, 0);
    assert_take(&b, 1000, 1, t0, NGX_OK, 0, 2000, 0);

    /* three refusals every ms for a second: none is counted */

    for (i = 0; i < 1000; i++) {
        for (k = 0; k < 3; k++) {
            assert_refused(&b, 1000, 1, t0 + i, 2000 - i, 1000 - i);
        }
    }

    assert_int_equal(b.last, t0);
    assert_int_equal(b.excess, 2000);

    /* the refill time is the one without refusals */
    assert_take(&b, 1000, 1, t0 + 1000, NGX_OK, 0, 2000, 0);
    assert_refused(&b, 1000, 1, t0 + 1000, 2000, 1000);
}


static void
test_bucket_idle_refill(void **state)
{
    ngx_uint_t                 i;
    ngx_msec_t                 t0;
    ngx_http_gateway_bucket_t  b, c;

    t0 = 1000;
    ngx_memzero(&b, sizeof(b));

    for (i = 0; i < 6; i++) {
        assert_take(&b, R10, 5, t0, NGX_OK, 5 - i, (i + 1) * 100, 0);
    }

    /* (burst + 1) / rate = 600 ms to empty; one ms before, not quite */

    c = b;
    assert_take(&c, R10, 5, t0 + 599, NGX_OK, 4, 101, 0);
    assert_int_equal(c.excess, 1010);

    c = b;
    assert_take(&c, R10, 5, t0 + 600, NGX_OK, 5, 100, 0);

    for (i = 1; i < 6; i++) {
        assert_take(&c, R10, 5, t0 + 600, NGX_OK, 5 - i, (i + 1) * 100, 0);
    }

    assert_refused(&c, R10, 5, t0 + 600, 600, 100);

    /*
     * Negative excess: a long idle bucket is empty, not in credit.  The
     * request counts 1000 whatever the time that leaked before it.
     */

    c = b;
    assert_take(&c, R10, 5, t0 + 1000000, NGX_OK, 5, 100, 0);
    assert_int_equal(c.excess, 1000);
    assert_int_equal(c.last, t0 + 1000000);

    for (i = 1; i < 6; i++) {
        assert_take(&c, R10, 5, t0 + 1000000, NGX_OK, 5 - i, (i + 1) * 100,
                    0);
    }

    assert_refused(&c, R10, 5, t0 + 1000000, 600, 100);
}


static void
test_bucket_per_minute(void **state)
{
    ngx_http_gateway_bucket_t  b;

    /* 30r/m: one every 2000 ms */

    ngx_memzero(&b, sizeof(b));

    assert_take(&b, 500, 0, 60000, NGX_OK, 0, 2000, 0);
    assert_refused(&b, 500, 0, 60000, 2000, 2000);
    assert_refused(&b, 500, 0, 61999, 1, 1);
    assert_take(&b, 500, 0, 62000, NGX_OK, 0, 2000, 0);
    assert_refused(&b, 500, 0, 62001, 1999, 1999);

    /* 30r/m burst=2 */

    ngx_memzero(&b, sizeof(b));

    assert_take(&b, 500, 2, 0, NGX_OK, 2, 2000, 0);
    assert_take(&b, 500, 2, 0, NGX_OK, 1, 4000, 0);
    assert_take(&b, 500, 2, 0, NGX_OK, 0, 6000, 0);
    assert_refused(&b, 500, 2, 1999, 4001, 1);
    assert_take(&b, 500, 2, 2000, NGX_OK, 0, 6000, 0);

    /* 1r/m is 16 (1000 / 60, as limit_req rounds): 62.5 s a request */

    ngx_memzero(&b, sizeof(b));

    assert_take(&b, 16, 0, 100, NGX_OK, 0, 62500, 0);
    assert_refused(&b, 16, 0, 100 + 62499, 1, 1);
    assert_take(&b, 16, 0, 100 + 62500, NGX_OK, 0, 62500, 0);
}


static void
test_bucket_clock_back(void **state)
{
    ngx_msec_t                 t;
    ngx_http_gateway_bucket_t  b;

    /* full bucket: 3 requests at 1r/s with burst=2 */

    ngx_memzero(&b, sizeof(b));

    assert_take(&b, 1000, 2, 10000, NGX_OK, 2, 1000, 0);
    assert_take(&b, 1000, 2, 10000, NGX_OK, 1, 2000, 0);
    assert_take(&b, 1000, 2, 10000, NGX_OK, 0, 3000, 0);

    /*
     * A second back: nothing leaked; the waits count the second until the
     * clock is back at last (limit_req's ngx_abs() would refill here)
     */

    assert_refused(&b, 1000, 2, 9000, 4000, 2000);
    assert_refused(&b, 1000, 2, 0, 13000, 11000);
    assert_int_equal(b.last, 10000);

    /* nothing was granted for the step: the refill is still at 11000 */
    assert_refused(&b, 1000, 2, 10999, 2001, 1);
    assert_take(&b, 1000, 2, 11000, NGX_OK, 0, 3000, 0);

    /*
     * An older time admitted into a bucket with room (another worker's
     * cached clock): counted, but last does not move back, which would
     * leak the 500 ms twice
     */

    ngx_memzero(&b, sizeof(b));

    assert_take(&b, 1000, 2, 10000, NGX_OK, 2, 1000, 0);
    assert_take(&b, 1000, 2, 9500, NGX_OK, 1, 2500, 0);
    assert_int_equal(b.last, 10000);
    assert_int_equal(b.excess, 2000);

    /* leaked from 10000 (1000 of 2000), not from 9500 (1500) */
    assert_take(&b, 1000, 2, 11000, NGX_OK, 1, 2000, 0);
    assert_int_equal(b.excess, 2000);

    /* an empty bucket has nothing to leak: it takes any time as last */

    ngx_memzero(&b, sizeof(b));

    t = (ngx_msec_t) -500;

    assert_take(&b, 1000, 2, t, NGX_OK, 2, 1000, 0);
    assert_int_equal(b.last, t);
    assert_take(&b, 1000, 2, t, NGX_OK, 1, 2000, 0);
    assert_take(&b, 1000, 2, t, NGX_OK, 0, 3000, 0);

    /* the clock wraps: 499 is 999 ms after -500, as in limit_req */
    assert_refused(&b, 1000, 2, 499, 2001, 1);
    assert_take(&b, 1000, 2, 500, NGX_OK, 0, 3000, 0);
    assert_int_equal(b.last, 500);
}


static void
test_bucket_huge_jump(void **state)
{
    ngx_msec_t                 t0;
    ngx_http_gateway_bucket_t  b;

    t0 = 1000;

    /* 1000000r/s burst=1000000, full; 400 days: rate * ms is 3.5e19 */

    b.last = t0;
    b.excess = 1000001000;

    assert_refused(&b, 1000000000, 1000000, t0, 1001, 1);
    assert_take(&b, 1000000000, 1000000, t0 + 400 * DAY, NGX_OK, 1000000,
                1, 0);
    assert_int_equal(b.excess, 1000);

    /* 1r/m burst=1000000, full: 723 days to empty */

    b.last = t0;
    b.excess = 1000001000;

    assert_refused(&b, 16, 1000000, t0, 62500062500, 62500);

    /* 400 days leak 552960 requests */
    assert_take(&b, 16, 1000000, t0 + 400 * DAY, NGX_OK, 552959,
                27940125000, 0);
    assert_int_equal(b.excess, 447042000);

    /* 2^60 ms at 16: rate * ms is 2^64, which wraps to 0 */

    b.last = t0;
    b.excess = 1000001000;

    assert_take(&b, 16, 1000000, t0 + ((ngx_msec_t) 1 << 60), NGX_OK,
                1000000, 62500, 0);

    /* the longest forward step a signed difference reads */

    b.last = t0;
    b.excess = 1000001000;

    assert_take(&b, 16, 1000000, t0 + NGX_MAX_INT_T_VALUE, NGX_OK, 1000000,
                62500, 0);
    assert_int_equal(b.excess, 1000);
}


static void
test_bucket_rate_change(void **state)
{
    ngx_http_gateway_bucket_t  b;

    ngx_memzero(&b, sizeof(b));

    /* 10r/s, then 20r/s: the 50 ms since last leak at the new rate */

    assert_take(&b, R10, 0, 1000, NGX_OK, 0, 100, 0);
    assert_refused(&b, R10, 0, 1050, 50, 50);
    assert_take(&b, 2 * R10, 0, 1050, NGX_OK, 0, 50, 0);

    /* back to 10r/s at once */
    assert_refused(&b, R10, 0, 1100, 50, 50);
    assert_take(&b, R10, 0, 1150, NGX_OK, 0, 100, 0);

    /* a smaller burst at once: 6 in the bucket, room for 2 */

    ngx_memzero(&b, sizeof(b));

    assert_take(&b, R10, 5, 1000, NGX_OK, 5, 100, 0);
    assert_take(&b, R10, 5, 1000, NGX_OK, 4, 200, 0);
    assert_take(&b, R10, 5, 1000, NGX_OK, 3, 300, 0);
    assert_take(&b, R10, 5, 1000, NGX_OK, 2, 400, 0);
    assert_refused(&b, R10, 1, 1000, 400, 300);
    assert_refused(&b, R10, 1, 1299, 101, 1);
    assert_take(&b, R10, 1, 1300, NGX_OK, 0, 200, 0);
}


/* each value of each step worked out by hand, at 3r/s burst=2 */

static void
test_bucket_steps(void **state)
{
    ngx_http_gateway_bucket_t  b;

    ngx_memzero(&b, sizeof(b));

    /* a request leaks in 333.3 ms */
    assert_take(&b, 3000, 2, 1000, NGX_OK, 2, 334, 0);
    assert_int_equal(b.excess, 1000);

    /* 100 ms leak 300: 700 + 1000 */
    assert_take(&b, 3000, 2, 1100, NGX_OK, 1, 567, 0);
    assert_int_equal(b.excess, 1700);

    assert_take(&b, 3000, 2, 1100, NGX_OK, 0, 900, 0);
    assert_int_equal(b.excess, 2700);

    /* 2400 + 1000 > 3000; 700 must leak: 233.3 ms after last */
    assert_refused(&b, 3000, 2, 1200, 800, 134);
    assert_refused(&b, 3000, 2, 1333, 667, 1);

    /* 234 ms leak 702: 1998 + 1000, 2 thousandths of a request left */
    assert_take(&b, 3000, 2, 1334, NGX_OK, 0, 1000, 0);
    assert_int_equal(b.excess, 2998);
    assert_int_equal(b.last, 1334);

    /* 998 must leak now, in 332.7 ms */
    assert_refused(&b, 3000, 2, 1334, 1000, 333);
}


/* store */


static void
zone_create(limit_state_t *st, size_t size)
{
    ngx_slab_pool_t  *sp;

    static ngx_uint_t  sizes_done;

    if (!sizes_done) {
        /* it adds to a static: once a process */
        ngx_slab_sizes_init();
        sizes_done = 1;
    }

    free(st->mem);

    assert_int_equal(posix_memalign((void **) &st->mem, ngx_pagesize, size),
                     0);

    /* as ngx_init_zone_pool() */

    sp = (ngx_slab_pool_t *) st->mem;
    sp->end = st->mem + size;
    sp->min_shift = 3;
    sp->addr = st->mem;

    ngx_slab_init(sp);

    /* as the zone does: we evict, then log once */
    sp->log_nomem = 0;

    st->shpool = sp;

    st->sh = ngx_slab_alloc_locked(sp, sizeof(ngx_http_gateway_limit_sh_t));
    assert_non_null(st->sh);

    ngx_http_gateway_limit_init(st->sh);
}


static int
setup(void **state)
{
    limit_state_t  *st;

    st = calloc(1, sizeof(limit_state_t));
    st->pool = gateway_test_pool();

    zone_create(st, 64 * KIB);

    *state = st;

    return 0;
}


static int
teardown(void **state)
{
    limit_state_t  *st = *state;

    free(st->mem);
    ngx_destroy_pool(st->pool);
    free(st);

    return 0;
}


/* key n of len bytes (len >= 12), in buf */

static ngx_str_t
key_of(u_char *buf, size_t len, ngx_uint_t n)
{
    ngx_str_t  key;

    ngx_memset(buf, 'x', len);
    snprintf((char *) buf, 12, "k%010lu", (unsigned long) n);
    buf[11] = '-';

    key.data = buf;
    key.len = len;

    return key;
}


static ngx_http_gateway_bucket_t *
lookup(limit_state_t *st, ngx_str_t *key, ngx_msec_t now, ngx_uint_t rate,
    ngx_uint_t *created)
{
    return ngx_http_gateway_limit_lookup(st->shpool, st->sh, key, now, rate,
                                         created);
}


/* the entry of a key, without touching the store */

static ngx_http_gateway_limit_node_t *
find(limit_state_t *st, ngx_str_t *key)
{
    uint32_t                        hash;
    ngx_int_t                       rc;
    ngx_rbtree_node_t              *node;
    ngx_http_gateway_limit_node_t  *ln;

    hash = ngx_crc32_short(key->data, key->len);

    for (node = st->sh->rbtree.root; node != st->sh->rbtree.sentinel; ) {

        if (hash != node->key) {
            node = (hash < node->key) ? node->left : node->right;
            continue;
        }

        ln = ngx_http_gateway_limit_node(node);
        rc = ngx_memn2cmp(key->data, ln->data, key->len, ln->len);

        if (rc == 0) {
            return ln;
        }

        node = (rc < 0) ? node->left : node->right;
    }

    return NULL;
}


/*
 * The tree in order, the queue and the count agree, and every entry of
 * the queue is found by its key.  Returns the count.
 */

static ngx_uint_t
check_store(limit_state_t *st)
{
    ngx_str_t                       key;
    ngx_uint_t                      n, m;
    ngx_queue_t                    *q;
    ngx_rbtree_node_t              *node, *prev;
    ngx_http_gateway_limit_node_t  *ln, *lp;

    n = 0;
    prev = NULL;

    if (st->sh->rbtree.root != st->sh->rbtree.sentinel) {

        for (node = ngx_rbtree_min(st->sh->rbtree.root,
                                   st->sh->rbtree.sentinel);
             node != NULL;
             node = ngx_rbtree_next(&st->sh->rbtree, node))
        {
            if (prev != NULL) {
                assert_true(prev->key <= node->key);

                if (prev->key == node->key) {
                    lp = ngx_http_gateway_limit_node(prev);
                    ln = ngx_http_gateway_limit_node(node);
                    assert_true(ngx_memn2cmp(lp->data, ln->data, lp->len,
                                             ln->len)
                                < 0);
                }
            }

            prev = node;
            n++;
        }
    }

    m = 0;

    for (q = ngx_queue_head(&st->sh->lru);
         q != ngx_queue_sentinel(&st->sh->lru);
         q = ngx_queue_next(q))
    {
        ln = ngx_queue_data(q, ngx_http_gateway_limit_node_t, queue);

        key.data = ln->data;
        key.len = ln->len;
        assert_ptr_equal(find(st, &key), ln);

        m++;
    }

    assert_int_equal(n, st->sh->nodes);
    assert_int_equal(m, st->sh->nodes);

    return n;
}


/* chunks in use in the slab's slot of 128 bytes (nodes of short keys) */

static ngx_uint_t
used_128(limit_state_t *st)
{
    return st->shpool->stats[7 - st->shpool->min_shift].used;
}


static ngx_http_gateway_limit_node_t *
lru_at(limit_state_t *st, ngx_uint_t head)
{
    ngx_queue_t  *q;

    q = head ? ngx_queue_head(&st->sh->lru) : ngx_queue_last(&st->sh->lru);

    return ngx_queue_data(q, ngx_http_gateway_limit_node_t, queue);
}


/*
 * Creates keys from `from` on (each taken once at `now`, so not idle)
 * until a creation had to evict; returns the count the store held then.
 * *next: the first key not created.
 */

static ngx_uint_t
fill(limit_state_t *st, size_t len, ngx_uint_t from, ngx_msec_t now,
    ngx_uint_t *next)
{
    u_char                      buf[256];
    ngx_str_t                   key;
    ngx_uint_t                  n, before, created;
    ngx_http_gateway_bucket_t  *b;

    for (n = from; /* void */; n++) {
        assert_true(n < from + 1000000);

        before = st->sh->nodes;

        key = key_of(buf, len, n);
        b = lookup(st, &key, now, 1000, &created);
        assert_non_null(b);
        assert_true(created);
        assert_int_equal(take(b, 1000, 10, now).rc, NGX_OK);

        if (st->sh->nodes == before) {
            *next = n + 1;
            return before;
        }
    }
}


static void
test_store_create_find(void **state)
{
    limit_state_t  *st = *state;

    u_char                     *big;
    ngx_str_t                   a, ab, abc, key;
    ngx_uint_t                  created;
    ngx_http_gateway_bucket_t  *b, *b2, *b3;

    a = gateway_test_str(st->pool, "a");
    ab = gateway_test_str(st->pool, "ab");
    abc = gateway_test_str(st->pool, "abc");

    created = 7;
    assert_null(find(st, &ab));

    b = lookup(st, &ab, 1000, R10, &created);
    assert_non_null(b);
    assert_int_equal(created, 1);
    assert_int_equal(b->last, 0);
    assert_int_equal(b->excess, 0);
    assert_int_equal(st->sh->nodes, 1);

    assert_take(b, R10, 1, 1000, NGX_OK, 1, 100, 0);

    /* found again, with its state */
    b2 = lookup(st, &ab, 1010, R10, &created);
    assert_ptr_equal(b2, b);
    assert_int_equal(created, 0);
    assert_take(b2, R10, 1, 1010, NGX_OK, 0, 190, 0);
    assert_refused(b2, R10, 1, 1010, 190, 90);

    /* prefixes of each other are distinct keys */
    b2 = lookup(st, &a, 1010, R10, &created);
    assert_int_equal(created, 1);
    b3 = lookup(st, &abc, 1010, R10, &created);
    assert_int_equal(created, 1);
    assert_true(b2 != b && b3 != b && b2 != b3);
    assert_int_equal(st->sh->nodes, 3);
    assert_int_equal(b2->excess, 0);
    assert_int_equal(b3->excess, 0);

    assert_int_equal(find(st, &ab)->bucket.excess, 1900);
    assert_int_equal(check_store(st), 3);

    /* the longest key, in a zone that holds it */

    zone_create(st, 1 * MIB);

    big = ngx_pnalloc(st->pool, NGX_HTTP_GATEWAY_LIMIT_KEY_MAX + 1);
    ngx_memset(big, 'k', NGX_HTTP_GATEWAY_LIMIT_KEY_MAX + 1);

    key.data = big;
    key.len = NGX_HTTP_GATEWAY_LIMIT_KEY_MAX;

    b = lookup(st, &key, 1000, R10, &created);
    assert_non_null(b);
    assert_int_equal(created, 1);
    assert_int_equal(take(b, R10, 0, 1000).rc, NGX_OK);
    assert_ptr_equal(lookup(st, &key, 1000, R10, &created), b);
    assert_int_equal(created, 0);

    /* one byte more is refused, never truncated into the same key */
    key.len++;
    created = 7;
    assert_null(lookup(st, &key, 1000, R10, &created));
    assert_int_equal(created, 0);

    key.len = 1;
    assert_non_null(lookup(st, &key, 1000, R10, &created));
    assert_int_equal(created, 1);

    assert_int_equal(check_store(st), 2);
}


static void
stale_insert(ngx_rbtree_node_t *temp, ngx_rbtree_node_t *node,
    ngx_rbtree_node_t *sentinel)
{
    fail_msg("the tree's insert function of another mapping was called");
}


/*
 * A zone kept across a reload was initialised by a copy of the module
 * that may have been mapped at another address
 */

static void
test_store_kept_zone(void **state)
{
    limit_state_t  *st = *state;

    ngx_str_t    a, b;
    ngx_uint_t   created;

    a = gateway_test_str(st->pool, "a");
    b = gateway_test_str(st->pool, "b");

    take(lookup(st, &a, 1000, R10, &created), R10, 5, 1000);

    st->sh->rbtree.insert = stale_insert;

    assert_non_null(lookup(st, &b, 1000, R10, &created));
    assert_int_equal(created, 1);
    assert_int_equal(check_store(st), 2);
}


typedef struct {
    uint32_t    crc;
    uint32_t    n;
} crc_key_t;


static int
crc_key_cmp(const void *one, const void *two)
{
    const crc_key_t  *a = one, *b = two;

    if (a->crc != b->crc) {
        return (a->crc < b->crc) ? -1 : 1;
    }

    return (a->n < b->n) ? -1 : (a->n > b->n);
}


static ngx_str_t
crc_key(u_char *buf, ngx_uint_t n)
{
    ngx_str_t  key;

    key.data = buf;
    key.len = snprintf((char *) buf, 16, "k%08x",
                       (unsigned) ((n * 2654435761u) & 0xffffffff));
    return key;
}


/*
 * The 4 bytes that, appended to a key, give it back its crc32: a crc's
 * register runs backwards from the one wanted (the table's top bytes are
 * all distinct), then forwards choosing the bytes.
 */

static void
crc_forge(ngx_str_t *key, u_char *suffix)
{
    uint32_t    table[256], c, reg, x;
    ngx_uint_t  i, j, k, idx[4];

    for (i = 0; i < 256; i++) {
        c = (uint32_t) i;

        for (j = 0; j < 8; j++) {
            c = (c >> 1) ^ ((c & 1) ? 0xedb88320 : 0);
        }

        table[i] = c;
    }

    reg = ngx_crc32_short(key->data, key->len) ^ 0xffffffff;

    x = reg;

    for (k = 4; k-- > 0; /* void */) {
        for (i = 0; table[i] >> 24 != x >> 24; i++) { /* void */ }

        idx[k] = i;
        x = (x ^ table[i]) << 8;
    }

    for (k = 0; k < 4; k++) {
        suffix[k] = (u_char) ((reg ^ idx[k]) & 0xff);
        reg = (reg >> 8) ^ table[idx[k]];
    }
}


static void
test_store_crc_collision(void **state)
{
    limit_state_t  *st = *state;

    u_char                      bufs[6][16];
    ngx_str_t                   keys[6], key;
    ngx_uint_t                  i, k, pairs, created;
    crc_key_t                  *all;
    ngx_http_gateway_bucket_t  *b[6];

    /*
     * 2^18 short keys: about 8 pairs share a crc32 (birthdays).  Keys of
     * a counter never do: a crc detects any change within 32 bits, and is
     * linear; a multiplicative hash scatters them.
     */

    all = malloc(sizeof(crc_key_t) << 18);
    assert_non_null(all);

    for (i = 0; i < (1 << 18); i++) {
        key = crc_key(bufs[0], i);
        all[i].crc = ngx_crc32_short(key.data, key.len);
        all[i].n = i;
    }

    qsort(all, 1 << 18, sizeof(crc_key_t), crc_key_cmp);

    pairs = 0;

    for (i = 1; i < (1 << 18) && pairs < 3; i++) {
        if (all[i].crc != all[i - 1].crc) {
            continue;
        }

        for (k = 0; k < 2; k++) {
            keys[2 * pairs + k] = crc_key(bufs[2 * pairs + k], all[i - k].n);
        }

        print_message("crc32 0x%08x: \"%.*s\" and \"%.*s\"\n",
                      (unsigned) all[i].crc,
                      (int) keys[2 * pairs].len, keys[2 * pairs].data,
                      (int) keys[2 * pairs + 1].len,
                      keys[2 * pairs + 1].data);
        pairs++;
    }

    free(all);

    assert_int_equal(pairs, 3);

    for (i = 0; i < 6; i++) {
        assert_int_equal(ngx_crc32_short(keys[i].data, keys[i].len),
                         ngx_crc32_short(keys[i ^ 1].data, keys[i ^ 1].len));
        assert_true(keys[i].len != keys[i ^ 1].len
                    || ngx_memcmp(keys[i].data, keys[i ^ 1].data,
                                  keys[i].len) != 0);

        b[i] = lookup(st, &keys[i], 1000, R10, &created);
        assert_non_null(b[i]);
        assert_int_equal(created, 1);

        /* one admitted in the first of a pair, two in the second */
        assert_int_equal(take(b[i], R10, 5, 1000).rc, NGX_OK);

        if (i & 1) {
            assert_int_equal(take(b[i], R10, 5, 1000).rc, NGX_OK);
        }
    }

    assert_int_equal(check_store(st), 6);

    for (i = 0; i < 6; i++) {
        assert_ptr_equal(lookup(st, &keys[i], 1000, R10, &created), b[i]);
        assert_int_equal(created, 0);
        assert_int_equal(b[i]->excess, (i & 1) ? 2000 : 1000);
    }

    /* the first of each pair made idle and dropped: the second stays */

    for (i = 0; i < 6; i += 2) {
        b[i]->excess = 0;
    }

    /* LRU, oldest first: 0, 1, ... 5; bring the second ones to the head */

    for (i = 1; i < 6; i += 2) {
        lookup(st, &keys[i], 1000, R10, &created);
    }

    key = gateway_test_str(st->pool, "new");
    assert_non_null(lookup(st, &key, 1000, R10, &created));
    key = gateway_test_str(st->pool, "new2");
    assert_non_null(lookup(st, &key, 1000, R10, &created));

    assert_int_equal(check_store(st), 5);

    for (i = 0; i < 6; i++) {
        if (i & 1) {
            assert_ptr_equal(&find(st, &keys[i])->bucket, b[i]);
            assert_int_equal(b[i]->excess, 2000);

        } else {
            assert_null(find(st, &keys[i]));
        }
    }

    /*
     * Keys that are prefixes of each other with one crc32: "alice",
     * "alice" + 4 bytes, "alice" + the same 4 bytes twice
     */

    ngx_memcpy(bufs[0], "consumer:alice", 14);
    keys[0].data = bufs[0];
    keys[0].len = 14;

    crc_forge(&keys[0], bufs[0] + 14);
    ngx_memcpy(bufs[0] + 18, bufs[0] + 14, 4);

    for (i = 0; i < 3; i++) {
        keys[i].data = bufs[0];
        keys[i].len = 14 + 4 * i;

        assert_int_equal(ngx_crc32_short(keys[i].data, keys[i].len),
                         ngx_crc32_short(keys[0].data, keys[0].len));
    }

    /* created longest first, then shortest first */

    for (k = 0; k < 2; k++) {
        for (i = 0; i < 3; i++) {
            key = keys[k ? i : 2 - i];

            b[i] = lookup(st, &key, 1000, R10, &created);
            assert_non_null(b[i]);
            assert_int_equal(created, 1);
            assert_int_equal(take(b[i], R10, 5, 1000).rc, NGX_OK);
        }

        for (i = 0; i < 3; i++) {
            key = keys[k ? i : 2 - i];

            assert_ptr_equal(lookup(st, &key, 1000, R10, &created), b[i]);
            assert_int_equal(created, 0);
            assert_int_equal(find(st, &key)->len, key.len);
        }

        assert_int_equal(check_store(st), 8 + 3 * k);

        /* change the first bytes, for new keys of the same crc next */
        bufs[0][0] = 'C';
        crc_forge(&keys[0], bufs[0] + 14);
        ngx_memcpy(bufs[0] + 18, bufs[0] + 14, 4);
    }
}


static void
test_store_lru(void **state)
{
    limit_state_t  *st = *state;

    ngx_str_t                       a, b, c;
    ngx_uint_t                      created;
    ngx_http_gateway_limit_node_t  *ln;

    a = gateway_test_str(st->pool, "a");
    b = gateway_test_str(st->pool, "b");
    c = gateway_test_str(st->pool, "c");

    take(lookup(st, &a, 1000, R10, &created), R10, 5, 1000);
    take(lookup(st, &b, 1000, R10, &created), R10, 5, 1000);
    take(lookup(st, &c, 1000, R10, &created), R10, 5, 1000);

    /* newest first: c b a */
    assert_ptr_equal(lru_at(st, 1), find(st, &c));
    assert_ptr_equal(lru_at(st, 0), find(st, &a));

    /* a lookup of a moves it to the head: a c b */
    lookup(st, &a, 1000, R10, &created);
    assert_int_equal(created, 0);
    assert_ptr_equal(lru_at(st, 1), find(st, &a));
    assert_ptr_equal(lru_at(st, 0), find(st, &b));

    ln = ngx_queue_data(ngx_queue_next(ngx_queue_head(&st->sh->lru)),
                        ngx_http_gateway_limit_node_t, queue);
    assert_ptr_equal(ln, find(st, &c));

    /* so b is the one a full zone evicts */
    lookup(st, &b, 1000, R10, &created);
    assert_ptr_equal(lru_at(st, 0), find(st, &c));

    assert_int_equal(check_store(st), 3);
}


static void
test_store_idle(void **state)
{
    limit_state_t  *st = *state;

    u_char                      buf[64];
    ngx_str_t                   key;
    ngx_uint_t                  i, created;
    ngx_http_gateway_bucket_t  *b;

    /* five keys, one request each at 1r/s at 0: idle from 1000 on */

    for (i = 0; i < 5; i++) {
        key = key_of(buf, 40, i);
        b = lookup(st, &key, 0, 1000, &created);
        assert_int_equal(take(b, 1000, 0, 0).rc, NGX_OK);
    }

    /* at 999 none is idle */
    key = key_of(buf, 40, 5);
    b = lookup(st, &key, 999, 1000, &created);
    assert_int_equal(take(b, 1000, 0, 999).rc, NGX_OK);
    assert_int_equal(check_store(st), 6);

    /* at 1000 a creation drops two, the oldest */
    key = key_of(buf, 40, 6);
    b = lookup(st, &key, 1000, 1000, &created);
    assert_int_equal(take(b, 1000, 0, 1000).rc, NGX_OK);
    assert_int_equal(check_store(st), 5);

    for (i = 0; i < 7; i++) {
        key = key_of(buf, 40, i);

        if (i < 2) {
            assert_null(find(st, &key));

        } else {
            assert_non_null(find(st, &key));
        }
    }

    /* a found key drops none */
    key = key_of(buf, 40, 2);
    lookup(st, &key, 1000, 1000, &created);
    assert_int_equal(created, 0);
    assert_int_equal(check_store(st), 5);

    /*
     * LRU now, oldest first: 3 4 5 6 2.  Key 5 (taken at 999) is not idle
     * at 1000: the walk stops at it, dropping only 3 and 4
     */

    key = key_of(buf, 40, 7);
    lookup(st, &key, 1000, 1000, &created);
    assert_int_equal(check_store(st), 4);
    key = key_of(buf, 40, 8);
    lookup(st, &key, 1000, 1000, &created);
    assert_int_equal(check_store(st), 5);

    key = key_of(buf, 40, 5);
    assert_non_null(find(st, &key));
    key = key_of(buf, 40, 4);
    assert_null(find(st, &key));
}


static void
test_store_idle_own_rate(void **state)
{
    limit_state_t  *st = *state;

    ngx_str_t                   x, y, z;
    ngx_uint_t                  created;
    ngx_http_gateway_bucket_t  *b;

    x = gateway_test_str(st->pool, "x");
    y = gateway_test_str(st->pool, "y");
    z = gateway_test_str(st->pool, "z");

    /* x used at 1r/s at 0: at 500 it is not idle, at 10r/s it would be */

    b = lookup(st, &x, 0, 1000, &created);
    assert_int_equal(take(b, 1000, 0, 0).rc, NGX_OK);

    lookup(st, &y, 500, R10, &created);
    assert_int_equal(check_store(st), 2);
    assert_non_null(find(st, &x));

    /*
     * x looked up with 10r/s (a reload changed its policy): it is judged
     * by that rate from now on, and idle at 500
     */

    lookup(st, &x, 500, R10, &created);
    assert_int_equal(created, 0);
    assert_int_equal(find(st, &x)->rate, R10);

    /* y (created, never taken) is idle at once; then x */

    lookup(st, &z, 500, R10, &created);
    assert_int_equal(check_store(st), 1);
    assert_null(find(st, &x));
    assert_null(find(st, &y));
    assert_non_null(find(st, &z));
}


static void
test_store_full(void **state)
{
    limit_state_t  *st = *state;

    u_char                      buf[64];
    ngx_str_t                   key;
    ngx_uint_t                  i, cap, next, created;
    ngx_http_gateway_bucket_t  *b;

    cap = fill(st, 40, 0, 1000, &next);

    print_message("a 64k zone holds %lu keys of 40 bytes\n",
                  (unsigned long) cap);

    assert_true(cap > 64 * KIB / 128 * 3 / 4);
    assert_true(cap < 64 * KIB / 128);
    assert_int_equal(next, cap + 1);

    /* key 0 made room for key cap */
    key = key_of(buf, 40, 0);
    assert_null(find(st, &key));
    assert_int_equal(check_store(st), cap);
    assert_int_equal(used_128(st), cap + 1);

    /* 4 more zones' worth: it keeps working, evicting the oldest */

    for (i = next; i < 5 * cap + 1; i++) {
        key = key_of(buf, 40, i);
        b = lookup(st, &key, 1000, 1000, &created);
        assert_non_null(b);
        assert_int_equal(created, 1);
        assert_int_equal(take(b, 1000, 10, 1000).rc, NGX_OK);
        assert_int_equal(st->sh->nodes, cap);
    }

    assert_int_equal(check_store(st), cap);
    assert_int_equal(used_128(st), cap + 1);

    /* the newest cap keys are there, newest first in the LRU */

    for (i = 0; i < 5 * cap + 1; i++) {
        key = key_of(buf, 40, i);

        if (i < 4 * cap + 1) {
            assert_null(find(st, &key));

        } else {
            assert_non_null(find(st, &key));
        }
    }

    key = key_of(buf, 40, 5 * cap);
    assert_ptr_equal(lru_at(st, 1), find(st, &key));
    key = key_of(buf, 40, 4 * cap + 1);
    assert_ptr_equal(lru_at(st, 0), find(st, &key));

    /*
     * No leak: once all are idle, as many new keys fit again, each
     * creation dropping two idle ones, and then the zone is full again
     */

    for (i = 0; i < cap; i++) {
        key = key_of(buf, 40, 1000000 + i);
        b = lookup(st, &key, 1000000, 1000, &created);
        assert_non_null(b);
        assert_int_equal(created, 1);
        assert_int_equal(take(b, 1000, 10, 1000000).rc, NGX_OK);
    }

    assert_int_equal(check_store(st), cap);
    assert_int_equal(used_128(st), cap + 1);

    for (i = 0; i < 5 * cap + 1; i++) {
        key = key_of(buf, 40, i);
        assert_null(find(st, &key));
    }

    key = key_of(buf, 40, 2000000);
    assert_non_null(lookup(st, &key, 1000000, 1000, &created));
    assert_int_equal(check_store(st), cap);
    key = key_of(buf, 40, 1000000);
    assert_null(find(st, &key));
}


/*
 * One decision looks up several keys: pinned, the first ones stay, empty
 * (idle) as they are, and in a full zone too; unpinned, they go again.
 */

static void
test_store_pinned(void **state)
{
    limit_state_t  *st = *state;

    u_char                      buf[64];
    ngx_str_t                   key, a, b;
    ngx_uint_t                  i, cap, next, created;
    ngx_http_gateway_bucket_t  *ba, *bb;

    /* an empty store: a is created idle, b's creation would drop it */

    a = gateway_test_str(st->pool, "a");
    b = gateway_test_str(st->pool, "b");

    ba = lookup(st, &a, 0, 1000, &created);
    ngx_http_gateway_limit_pin(ba, 1);
    bb = lookup(st, &b, 0, 1000, &created);
    ngx_http_gateway_limit_pin(bb, 1);

    assert_ptr_equal(find(st, &a), (u_char *) ba
                     - offsetof(ngx_http_gateway_limit_node_t, bucket));
    assert_int_equal(check_store(st), 2);

    /* a full zone evicts around the pinned ones */

    cap = fill(st, 40, 0, 1000, &next);

    for (i = next; i < 3 * cap; i++) {
        key = key_of(buf, 40, i);
        assert_non_null(lookup(st, &key, 1000, 1000, &created));
    }

    assert_non_null(find(st, &a));
    assert_non_null(find(st, &b));

    /* unpinned, and idle, they are the first to go */

    ngx_http_gateway_limit_pin(ba, 0);
    ngx_http_gateway_limit_pin(bb, 0);

    for (i = 0; i < cap; i++) {
        key = key_of(buf, 40, 10 * cap + i);
        assert_non_null(lookup(st, &key, 2000000, 1000, &created));
    }

    assert_null(find(st, &a));
    assert_null(find(st, &b));
    assert_true(check_store(st) <= cap);
}


/* the oldest entry of keys of this length, from the LRU tail */

static ngx_http_gateway_limit_node_t *
oldest_of(limit_state_t *st, size_t len)
{
    ngx_queue_t                    *q;
    ngx_http_gateway_limit_node_t  *ln;

    for (q = ngx_queue_last(&st->sh->lru);
         q != ngx_queue_sentinel(&st->sh->lru);
         q = ngx_queue_prev(q))
    {
        ln = ngx_queue_data(q, ngx_http_gateway_limit_node_t, queue);

        if (ln->len == len) {
            return ln;
        }
    }

    return NULL;
}


static void
test_store_sizes(void **state)
{
    limit_state_t  *st = *state;

    u_char                          buf[3000], old40[40], old100[100];
    u_char                         *olds;
    size_t                         *lens;
    ngx_str_t                       key, k40, k100;
    ngx_uint_t                      i, k, n, cap, next, created, full;
    ngx_queue_t                    *q;
    ngx_http_gateway_bucket_t      *b;
    ngx_http_gateway_limit_node_t  *ln;

    assert_int_equal(ngx_http_gateway_limit_node_size(1), 128);
    assert_int_equal(ngx_http_gateway_limit_node_size(40), 128);
    assert_int_equal(ngx_http_gateway_limit_node_size(56), 128);
    assert_int_equal(ngx_http_gateway_limit_node_size(57), 256);
    assert_int_equal(ngx_http_gateway_limit_node_size(184), 256);
    assert_int_equal(ngx_http_gateway_limit_node_size(185), 512);
    assert_int_equal(ngx_http_gateway_limit_node_size(2048 - 72), 2048);
    assert_int_equal(ngx_http_gateway_limit_node_size(2048 - 71), 4096);
    assert_int_equal(ngx_http_gateway_limit_node_size(65535), 17 * 4096);

    /*
     * Keys of 40 and 100 bytes in turn (nodes of 128 and 256 bytes),
     * until both sizes have had to evict
     */

    full = 0;

    for (n = 0; full != 3; n++) {
        assert_true(n < 10000);

        key = key_of(buf, (n & 1) ? 100 : 40, n);
        i = st->sh->nodes;
        b = lookup(st, &key, 1000, 1000, &created);
        assert_non_null(b);
        assert_int_equal(take(b, 1000, 10, 1000).rc, NGX_OK);

        if (st->sh->nodes == i) {
            full |= (n & 1) ? 2 : 1;
        }
    }

    cap = check_store(st);
    next = n;

    /*
     * The LRU, oldest first: 10 keys of 40 bytes, all of 100 bytes, the
     * other keys of 40 bytes
     */

    olds = calloc(cap, 100);
    lens = calloc(cap, sizeof(size_t));
    assert_true(olds != NULL && lens != NULL);

    n = 0;

    for (q = ngx_queue_last(&st->sh->lru);
         q != ngx_queue_sentinel(&st->sh->lru);
         q = ngx_queue_prev(q))
    {
        ln = ngx_queue_data(q, ngx_http_gateway_limit_node_t, queue);
        ngx_memcpy(olds + 100 * n, ln->data, ln->len);
        lens[n++] = ln->len;
    }

    for (k = 0; k < 2; k++) {
        full = 0;

        for (i = 0; i < cap; i++) {
            if (lens[i] == 40 && full++ < 10) {
                continue;
            }

            if ((lens[i] == 100) != (k == 0)) {
                continue;
            }

            key.data = olds + 100 * i;
            key.len = lens[i];
            lookup(st, &key, 1000, 1000, &created);
            assert_int_equal(created, 0);
        }
    }

    free(olds);
    free(lens);

    assert_int_equal(lru_at(st, 0)->len, 40);

    /*
     * A 100 bytes key evicts the oldest node of 256 bytes, and not the
     * older ones of 128 bytes: one eviction, wherever the nodes lie
     */

    for (i = 0; i < 20; i++) {
        ln = oldest_of(st, 40);
        ngx_memcpy(old40, ln->data, 40);
        ln = oldest_of(st, 100);
        ngx_memcpy(old100, ln->data, 100);

        k40.data = old40;
        k40.len = 40;
        k100.data = old100;
        k100.len = 100;

        key = key_of(buf, 100, next + i);
        assert_non_null(lookup(st, &key, 1000, 1000, &created));
        assert_int_equal(created, 1);

        assert_int_equal(check_store(st), cap);
        assert_null(find(st, &k100));
        assert_non_null(find(st, &k40));
    }

    /* older entries than any of 256 bytes were kept */
    assert_int_equal(lru_at(st, 0)->len, 40);

    /*
     * A key of 3000 bytes wants a page, and no node has that size: the
     * oldest go, whatever their size, until a page is free.  Here the
     * oldest 62 (nodes 1 to 30 share the first page with the store's
     * header and the newest node)
     */

    zone_create(st, 64 * KIB);

    cap = fill(st, 40, 0, 1000, &next);

    key = key_of(buf, 3000, next);
    b = lookup(st, &key, 1000, 1000, &created);
    assert_non_null(b);
    assert_int_equal(created, 1);

    n = check_store(st);
    print_message("a 3000 bytes key in a full zone evicted %lu entries\n",
                  (unsigned long) (cap + 1 - n));
    assert_true(cap + 1 - n <= NGX_HTTP_GATEWAY_LIMIT_EVICT);
    assert_ptr_equal(lru_at(st, 1), find(st, &key));

    /* the oldest went, the newest stayed */

    for (i = 1; i < next; i++) {
        key = key_of(buf, 40, i);

        if (i <= cap + 1 - n) {
            assert_null(find(st, &key));

        } else {
            assert_non_null(find(st, &key));
        }
    }
}


static void
test_store_no_room(void **state)
{
    limit_state_t  *st = *state;

    u_char                      buf[256];
    void                       *raw[1024];
    ngx_str_t                   key;
    ngx_uint_t                  i, n, created;
    ngx_http_gateway_bucket_t  *b;

    /* a zone full of other allocations (breakers, metrics...) */

    for (n = 0; n < 1024; n++) {
        raw[n] = ngx_slab_alloc_locked(st->shpool, 128);

        if (raw[n] == NULL) {
            break;
        }
    }

    assert_true(n > 0 && n < 1024);

    key = key_of(buf, 40, 1);
    created = 7;
    assert_null(lookup(st, &key, 1000, R10, &created));
    assert_int_equal(created, 0);
    assert_int_equal(check_store(st), 0);

    /* one chunk free: it fits */
    ngx_slab_free_locked(st->shpool, raw[--n]);
    assert_non_null(lookup(st, &key, 1000, R10, &created));
    assert_int_equal(created, 1);
    assert_int_equal(check_store(st), 1);

    /* a 200 bytes key (512 bytes) cannot fit, even evicting all we own */

    key = key_of(buf, 200, 2);
    assert_null(lookup(st, &key, 1000, R10, &created));
    assert_int_equal(created, 0);
    assert_int_equal(check_store(st), 0);

    for (i = 0; i < n; i++) {
        ngx_slab_free_locked(st->shpool, raw[i]);
    }

    b = lookup(st, &key, 1000, R10, &created);
    assert_non_null(b);
    assert_int_equal(created, 1);
    assert_int_equal(take(b, R10, 5, 1000).rc, NGX_OK);
    assert_int_equal(check_store(st), 1);

    /* a key larger than the zone: NULL at once, the others are kept */

    for (i = 0; i < 5; i++) {
        key = key_of(buf, 40, 10 + i);
        take(lookup(st, &key, 1000, R10, &created), R10, 5, 1000);
    }

    assert_int_equal(check_store(st), 6);

    key.data = ngx_pnalloc(st->pool, 65535);
    key.len = 65535;
    ngx_memset(key.data, 'K', key.len);

    assert_null(lookup(st, &key, 1000, R10, &created));
    assert_int_equal(check_store(st), 6);

    /*
     * A tiny zone (8 pages, the floor), its header in one page: a node of
     * all the other pages fits, and evicts another; one of one page more
     * passes the size check, evicts everything, and still cannot fit
     */

    zone_create(st, 8 * 4096);

    n = st->shpool->pfree;
    print_message("an 8 pages zone has %lu pages free\n", (unsigned long) n);
    assert_true(n >= 4);

    key.len = n * 4096 - 72;
    assert_non_null(lookup(st, &key, 1000, R10, &created));
    key.data[0] = 'L';
    assert_non_null(lookup(st, &key, 1000, R10, &created));
    assert_int_equal(created, 1);
    assert_int_equal(check_store(st), 1);

    key.len = (n + 1) * 4096 - 72;
    assert_true(key.len + 72
                <= (size_t) (st->shpool->end - st->shpool->start));
    assert_null(lookup(st, &key, 1000, R10, &created));
    assert_int_equal(created, 0);
    assert_int_equal(check_store(st), 0);

    /* and the zone works as before */

    key = key_of(buf, 40, 1);
    assert_non_null(lookup(st, &key, 1000, R10, &created));
    assert_int_equal(check_store(st), 1);
    /* beside the header, in its page: every other page came back */
    assert_int_equal(st->shpool->pfree, n);
}


static void
test_store_measure_16m(void **state)
{
    limit_state_t  *st = *state;

    ngx_uint_t  cap, next;

    zone_create(st, 16 * MIB);

    cap = fill(st, 40, 0, 1000, &next);

    print_message("a 16m zone holds %lu keys of 40 bytes: %lu.%02lu bytes "
                  "a key (nodes of %lu bytes)\n",
                  (unsigned long) cap, (unsigned long) (16 * MIB / cap),
                  (unsigned long) (16 * MIB * 100 / cap % 100),
                  (unsigned long) ngx_http_gateway_limit_node_size(40));

    /* the slab's page descriptors cost 24 bytes a page: 0.6% */
    assert_true(cap * ngx_http_gateway_limit_node_size(40) <= 16 * MIB);
    assert_true(cap * ngx_http_gateway_limit_node_size(40) > 16 * MIB / 100
                                                               * 99);
    assert_int_equal(check_store(st), cap);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_bucket_burst),
        cmocka_unit_test_setup_teardown(test_store_pinned, setup, teardown),
        cmocka_unit_test(test_bucket_refill_boundary),
        cmocka_unit_test(test_bucket_refused_not_counted),
        cmocka_unit_test(test_bucket_idle_refill),
        cmocka_unit_test(test_bucket_per_minute),
        cmocka_unit_test(test_bucket_clock_back),
        cmocka_unit_test(test_bucket_huge_jump),
        cmocka_unit_test(test_bucket_rate_change),
        cmocka_unit_test(test_bucket_steps),
        cmocka_unit_test_setup_teardown(test_store_create_find, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_crc_collision, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_kept_zone, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_lru, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_idle_own_rate, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_store_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_no_room, setup, teardown),
        cmocka_unit_test_setup_teardown(test_store_measure_16m, setup,
                                        teardown),
    };

    return cmocka_run_group_tests_name("limit", tests, NULL, NULL);
}
