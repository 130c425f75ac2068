
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <stdio.h>
#include <stdlib.h>
#include "gateway_test.h"
#include "ngx_http_gateway_breaker.h"


#define CLOSED     NGX_HTTP_GATEWAY_BREAKER_CLOSED
#define OPEN       NGX_HTTP_GATEWAY_BREAKER_OPEN
#define HALF_OPEN  NGX_HTTP_GATEWAY_BREAKER_HALF_OPEN

#define S          NGX_HTTP_GATEWAY_BREAKER_SUCCESS
#define F          NGX_HTTP_GATEWAY_BREAKER_FAILURE
#define I          NGX_HTTP_GATEWAY_BREAKER_IGNORED

#define NO_SLOT    NGX_HTTP_GATEWAY_BREAKER_NO_SLOT
#define BUSY_WAIT  NGX_HTTP_GATEWAY_BREAKER_BUSY_RETRY

#define DAY        ((ngx_msec_t) 86400000)


typedef ngx_http_gateway_breaker_t             breaker_t;
typedef ngx_http_gateway_breaker_conf_t        conf_t;
typedef ngx_http_gateway_breaker_ticket_t      ticket_t;
typedef ngx_http_gateway_breaker_transition_t  transition_t;


typedef struct {
    ngx_int_t                                  rc;
    ngx_msec_t                                 retry;
    ticket_t                                   ticket;
    transition_t                               tr;
} admit_t;


static conf_t
conf_make(ngx_uint_t min_requests, ngx_uint_t failure_rate)
{
    conf_t  conf;

    ngx_http_gateway_breaker_conf_init(&conf);
    conf.min_requests = min_requests;
    conf.failure_rate = failure_rate;

    assert_null(ngx_http_gateway_breaker_conf_check(&conf));

    return conf;
}


/*
 * Every admission is first peeked at: peek() changes nothing and answers
 * what admit() then does, and state_now() names the state admit() finds.
 */

static admit_t
admit(breaker_t *b, conf_t *conf, ngx_msec_t now)
{
    admit_t     a;
    ngx_int_t   peeked;
    breaker_t   before;
    ngx_uint_t  state;
    ngx_msec_t  peek_retry;

    before = *b;
    peek_retry = 0x5a5a;

    peeked = ngx_http_gateway_breaker_peek(b, conf, now, &peek_retry);
    state = ngx_http_gateway_breaker_state_now(b, now);
    assert_memory_equal(&before, b, sizeof(breaker_t));

    /* values the function must overwrite */
    memset(&a, 0x5a, sizeof(a));

    a.rc = ngx_http_gateway_breaker_admit(b, conf, now, &a.ticket, &a.retry,
                                          &a.tr);
    assert_int_equal(a.ticket.generation, b->generation);

    assert_int_equal(peeked, (a.rc == NGX_OK) ? NGX_OK : NGX_BUSY);
    assert_int_equal(peek_retry, a.retry);

    if (before.state == OPEN) {
        assert_int_equal(state, (a.rc == NGX_OK || a.tr.to == HALF_OPEN)
                                ? HALF_OPEN : OPEN);

    } else {
        assert_int_equal(state, before.state);
    }

    if (a.rc == NGX_OK) {
        assert_int_equal(a.retry, 0);

    } else {
        assert_true(a.retry > 0);
        assert_int_equal(a.ticket.slot, NO_SLOT);
    }

    return a;
}


/* admitted without a transition: a call of the closed state */
static ticket_t
pass(breaker_t *b, conf_t *conf, ngx_msec_t now)
{
    admit_t  a;

    a = admit(b, conf, now);

    assert_int_equal(a.rc, NGX_OK);
    assert_int_equal(a.tr.from, a.tr.to);
    assert_int_equal(a.ticket.slot, NO_SLOT);

    return a.ticket;
}


/* admitted as a probe, in a slot */
static ticket_t
probe(breaker_t *b, conf_t *conf, ngx_msec_t now)
{
    admit_t  a;

    a = admit(b, conf, now);

    assert_int_equal(a.rc, NGX_OK);
    assert_int_equal(b->state, HALF_OPEN);
    assert_true(a.ticket.slot < conf->probes);
    assert_true(b->leased & (1u << a.ticket.slot));

    return a.ticket;
}


/* refused with this retry_after, the breaker as it was but the counter */
static void
refuse(breaker_t *b, conf_t *conf, ngx_msec_t now, ngx_msec_t retry)
{
    admit_t    a;
    breaker_t  before;

    ngx_memcpy(&before, b, sizeof(breaker_t));
    before.refused++;

    a = admit(b, conf, now);

    assert_int_equal(a.rc, conf->dry_run ? NGX_DECLINED : NGX_BUSY);
    assert_int_equal(a.retry, retry);
    assert_int_equal(a.tr.from, a.tr.to);
    assert_memory_equal(&before, b, sizeof(breaker_t));
}


static transition_t
record(breaker_t *b, conf_t *conf, ngx_msec_t now, ticket_t *t,
    ngx_uint_t outcome, ngx_int_t rc)
{
    transition_t  tr;

    memset(&tr, 0x5a, sizeof(tr));

    assert_int_equal(ngx_http_gateway_breaker_record(b, conf, now, t,
                                                     outcome, &tr),
                     rc);
    return tr;
}


/* a late outcome: nothing changes but the counters */
static void
record_late(breaker_t *b, conf_t *conf, ngx_msec_t now, ticket_t *t,
    ngx_uint_t outcome)
{
    breaker_t     before;
    transition_t  tr;

    ngx_memcpy(&before, b, sizeof(breaker_t));
    before.successes += (outcome == S);
    before.failures += (outcome == F);

    tr = record(b, conf, now, t, outcome, NGX_DECLINED);

    assert_int_equal(tr.from, tr.to);
    assert_memory_equal(&before, b, sizeof(breaker_t));
}


/* one call of the closed state with its outcome; the state after it */
static ngx_uint_t
call(breaker_t *b, conf_t *conf, ngx_msec_t now, ngx_uint_t outcome)
{
    ticket_t      t;
    transition_t  tr;

    t = pass(b, conf, now);
    tr = record(b, conf, now, &t, outcome, outcome == I ? NGX_DECLINED
                                                        : NGX_OK);

    assert_int_equal(tr.from, CLOSED);
    assert_int_equal(tr.to, b->state);

    return b->state;
}


static void
calls(breaker_t *b, conf_t *conf, ngx_msec_t now, const char *outcomes,
    ngx_uint_t last)
{
    size_t      i, n;
    ngx_uint_t  state;

    n = strlen(outcomes);

    for (i = 0; i < n; i++) {
        state = call(b, conf, now, outcomes[i] == 'F' ? F
                                   : outcomes[i] == 'S' ? S : I);

        /* closed until the last one, which leaves `last` */
        assert_int_equal(state, i + 1 < n ? CLOSED : last);
    }
}


static void
assert_window(breaker_t *b, conf_t *conf, ngx_msec_t now,
    ngx_uint_t failures, ngx_uint_t total)
{
    ngx_uint_t  f, t;

    ngx_http_gateway_breaker_window(b, conf, now, &f, &t);

    assert_int_equal(f, failures);
    assert_int_equal(t, total);
}


/* failures until it opens; the transition says why and for how long */
static void
trip(breaker_t *b, conf_t *conf, ngx_msec_t now, ngx_msec_t open_time)
{
    ngx_uint_t    n;
    ticket_t      t;
    transition_t  tr;

    assert_int_equal(b->state, CLOSED);

    for (n = 0; n < 1000000; n++) {
        t = pass(b, conf, now);
        tr = record(b, conf, now, &t, F, NGX_OK);

        if (tr.to == OPEN) {
            break;
        }
    }

    assert_int_equal(tr.from, CLOSED);
    assert_int_equal(tr.to, OPEN);
    assert_int_equal(tr.open_time, open_time);
    assert_int_equal(b->state, OPEN);
    assert_int_equal(b->since, now);
    assert_int_equal(b->open_time, open_time);
}


/* at now, the first call after the open time: it becomes a probe */
static ticket_t
half_open(breaker_t *b, conf_t *conf, ngx_msec_t now)
{
    admit_t   a;
    uint32_t  generation;

    generation = b->generation;

    a = admit(b, conf, now);

    assert_int_equal(a.rc, NGX_OK);
    assert_int_equal(a.tr.from, OPEN);
    assert_int_equal(a.tr.to, HALF_OPEN);
    assert_int_equal(a.tr.reason, NGX_HTTP_GATEWAY_BREAKER_OPEN_ELAPSED);
    assert_int_equal(a.ticket.slot, 0);
    assert_int_equal(a.ticket.generation, generation + 1);
    assert_int_equal(b->state, HALF_OPEN);

    return a.ticket;
}


/* settings */


static void
test_conf(void **state)
{
    conf_t     conf, c;
    breaker_t  b, z;

    ngx_http_gateway_breaker_conf_init(&conf);

    assert_int_equal(conf.failure_rate, 50);
    assert_int_equal(conf.min_requests, 20);
    assert_int_equal(conf.window, 10000);
    assert_int_equal(conf.open, 30000);
    assert_int_equal(conf.max_open, 300000);
    assert_int_equal(conf.probes, 3);
    assert_int_equal(conf.consecutive, 0);
    assert_int_equal(conf.probe_timeout, 30000);
    assert_int_equal(conf.dry_run, 0);
    assert_null(ngx_http_gateway_breaker_conf_check(&conf));

#define check_bad(field, value)                                               \
    c = conf; c.field = value;                                                \
    assert_non_null(ngx_http_gateway_breaker_conf_check(&c))

#define check_good(field, value)                                              \
    c = conf; c.field = value;                                                \
    assert_null(ngx_http_gateway_breaker_conf_check(&c))

    check_bad(failure_rate, 0);
    check_good(failure_rate, 1);
    check_good(failure_rate, 100);
    check_bad(failure_rate, 101);
    check_bad(min_requests, 0);
    check_good(min_requests, 1000000);
    check_bad(min_requests, 1000001);
    check_good(consecutive, 1000000);
    check_bad(consecutive, 1000001);
    check_bad(probes, 0);
    check_good(probes, 16);
    check_bad(probes, 17);
    check_bad(window, 9);
    check_good(window, 10);
    check_good(window, DAY);
    check_bad(window, DAY + 1);
    check_bad(open, 0);
    check_bad(max_open, 29999);
    check_good(max_open, 30000);
    check_bad(max_open, DAY + 1);
    check_bad(probe_timeout, 0);
    check_good(probe_timeout, 1);

#undef check_bad
#undef check_good

    /* a zeroed breaker is a fresh one */

    memset(&b, 0x5a, sizeof(b));
    ngx_http_gateway_breaker_init(&b);
    ngx_memzero(&z, sizeof(z));

    assert_memory_equal(&b, &z, sizeof(b));
    assert_int_equal(b.state, CLOSED);

    assert_string_equal(ngx_http_gateway_breaker_state_name(CLOSED),
                        "closed");
    assert_string_equal(ngx_http_gateway_breaker_state_name(OPEN), "open");
    assert_string_equal(ngx_http_gateway_breaker_state_name(HALF_OPEN),
                        "half-open");
    assert_string_equal(ngx_http_gateway_breaker_state_name(3), "unknown");

    print_message("a breaker takes %lu bytes of the zone\n",
                  (unsigned long) sizeof(breaker_t));
}


/* trip rules */


static void
test_min_requests(void **state)
{
    ngx_uint_t    i;
    breaker_t     b;
    ticket_t      t;
    conf_t        conf;
    transition_t  tr;

    /* Hystrix's 19 of 20: 19 failures are below the volume */

    conf = conf_make(20, 50);
    ngx_memzero(&b, sizeof(b));

    for (i = 0; i < 19; i++) {
        assert_int_equal(call(&b, &conf, 1000, F), CLOSED);
    }

    assert_window(&b, &conf, 1000, 19, 19);
    assert_int_equal(b.transitions, 0);

    t = pass(&b, &conf, 1000);
    tr = record(&b, &conf, 1000, &t, F, NGX_OK);

    assert_int_equal(tr.from, CLOSED);
    assert_int_equal(tr.to, OPEN);
    assert_int_equal(tr.reason, NGX_HTTP_GATEWAY_BREAKER_RATE);
    assert_int_equal(tr.failures, 20);
    assert_int_equal(tr.total, 20);
    assert_int_equal(tr.open_time, 30000);
    assert_int_equal(b.transitions, 1);
    assert_int_equal(b.generation, 1);

    /* 100%: every call in the window must fail */

    conf = conf_make(4, 100);
    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FFFSFFFFFFFFFFF", CLOSED);

    conf = conf_make(4, 100);
    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FFFF", OPEN);

    /* 1%: one failure in 100 calls */

    conf = conf_make(100, 1);
    ngx_memzero(&b, sizeof(b));

    for (i = 0; i < 99; i++) {
        assert_int_equal(call(&b, &conf, 1000, S), CLOSED);
    }

    assert_int_equal(call(&b, &conf, 1000, F), OPEN);

    /* min_requests 1: the first failure */

    conf = conf_make(1, 50);
    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "SF", OPEN);
}


static void
test_rate_boundary(void **state)
{
    breaker_t     b;
    ticket_t      t;
    conf_t        conf;
    transition_t  tr;

    conf = conf_make(5, 50);

    /* 3 of 5 is 60%: open exactly at the 5th outcome, a success */

    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FFFS", CLOSED);

    t = pass(&b, &conf, 1000);
    tr = record(&b, &conf, 1000, &t, S, NGX_OK);

    assert_int_equal(tr.to, OPEN);
    assert_int_equal(tr.reason, NGX_HTTP_GATEWAY_BREAKER_RATE);
    assert_int_equal(tr.failures, 3);
    assert_int_equal(tr.total, 5);

    /* 2 of 5 is 40%: closed, and so it stays */

    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FFSSS", CLOSED);
    assert_window(&b, &conf, 1000, 2, 5);

    /* 3 of 6 is the rate exactly: it opens */
    calls(&b, &conf, 1000, "F", OPEN);

    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FFSSSSF", CLOSED);  /* 3 of 7: 42.8% */
    calls(&b, &conf, 1000, "F", OPEN);          /* 4 of 8: 50% */

    /* ignored outcomes are not calls */

    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FFIIIIIIISS", CLOSED);
    assert_window(&b, &conf, 1000, 2, 4);
    calls(&b, &conf, 1000, "S", CLOSED);
    calls(&b, &conf, 1000, "F", OPEN);
}


static void
test_consecutive(void **state)
{
    breaker_t     b;
    ticket_t      t;
    conf_t        conf;
    transition_t  tr;

    conf = conf_make(1000, 50);
    conf.consecutive = 3;

    /* a success breaks the run */

    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FFSFF", CLOSED);

    t = pass(&b, &conf, 1000);
    tr = record(&b, &conf, 1000, &t, F, NGX_OK);

    assert_int_equal(tr.to, OPEN);
    assert_int_equal(tr.reason, NGX_HTTP_GATEWAY_BREAKER_CONSECUTIVE);
    assert_int_equal(tr.failures, 5);
    assert_int_equal(tr.total, 6);

    /* an ignored outcome (a 429) does not */

    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FFIIF", OPEN);

    /* the run is of outcomes, not of the window: days apart still count */

    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FF", CLOSED);
    calls(&b, &conf, 1000 + DAY, "F", OPEN);

    /* 0 is off */

    conf.consecutive = 0;
    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FFFFFFFFFFFFFFFFFFFF", CLOSED);

    /* with a run set, the rate still trips */

    conf = conf_make(4, 50);
    conf.consecutive = 10;
    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FSF", CLOSED);

    t = pass(&b, &conf, 1000);
    tr = record(&b, &conf, 1000, &t, S, NGX_OK);

    assert_int_equal(tr.to, OPEN);
    assert_int_equal(tr.reason, NGX_HTTP_GATEWAY_BREAKER_RATE);
}


static void
test_window_slides(void **state)
{
    ngx_uint_t  i;
    breaker_t   b;
    conf_t      conf;
    ngx_msec_t  t0;

    /* 10 s of 10 buckets of 1 s, from the first outcome */

    conf = conf_make(20, 50);
    t0 = 1000000;

    ngx_memzero(&b, sizeof(b));

    for (i = 0; i < 10; i++) {
        assert_int_equal(call(&b, &conf, t0, F), CLOSED);
    }

    assert_window(&b, &conf, t0 + 9999, 10, 10);
    assert_window(&b, &conf, t0 + 10000, 0, 0);

    /* 10 more, 10 s later: the first 10 are gone */

    for (i = 0; i < 10; i++) {
        assert_int_equal(call(&b, &conf, t0 + 10000, F), CLOSED);
    }

    assert_window(&b, &conf, t0 + 10000, 10, 10);

    /* 1 ms earlier, they would have been 20 */

    ngx_memzero(&b, sizeof(b));

    for (i = 0; i < 10; i++) {
        assert_int_equal(call(&b, &conf, t0, F), CLOSED);
    }

    for (i = 0; i < 9; i++) {
        assert_int_equal(call(&b, &conf, t0 + 9999, F), CLOSED);
    }

    assert_int_equal(call(&b, &conf, t0 + 9999, F), OPEN);

    /* the end of a bucket leaves with its start: counted 9001 ms */

    ngx_memzero(&b, sizeof(b));

    assert_int_equal(call(&b, &conf, t0, S), CLOSED);

    for (i = 0; i < 10; i++) {
        assert_int_equal(call(&b, &conf, t0 + 999, F), CLOSED);
    }

    assert_window(&b, &conf, t0 + 9999, 10, 11);
    assert_window(&b, &conf, t0 + 10000, 0, 0);

    /* one bucket at a time: 1 F and 2 S a second stay at 10 of 30 */

    ngx_memzero(&b, sizeof(b));

    for (i = 0; i < 60; i++) {
        calls(&b, &conf, t0 + i * 1000, "FSS", CLOSED);
        assert_window(&b, &conf, t0 + i * 1000, ngx_min(i + 1, 10),
                      3 * ngx_min(i + 1, 10));
        assert_window(&b, &conf, t0 + i * 1000 + 999, ngx_min(i + 1, 10),
                      3 * ngx_min(i + 1, 10));
    }

    /* the oldest bucket leaves, failures pile up in the new one */

    for (i = 0; i < 8; i++) {
        calls(&b, &conf, t0 + 60000, "F", CLOSED);
    }

    assert_window(&b, &conf, t0 + 60000, 17, 35);
    calls(&b, &conf, t0 + 60000, "F", OPEN);  /* 18 of 36 */

    /* a day idle: an empty window, without walking a day of buckets */

    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, t0, "FFFFFFFFFFFFFFFFFFF", CLOSED);
    calls(&b, &conf, t0 + DAY, "F", CLOSED);
    assert_window(&b, &conf, t0 + DAY, 1, 1);
    assert_int_equal(b.bucket_start, t0 + DAY);
}


/* open, half-open, closed */


static void
test_open_boundary(void **state)
{
    breaker_t   b;
    conf_t      conf;
    ngx_msec_t  t1;

    conf = conf_make(1, 50);
    t1 = 5000;

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, t1, 30000);

    /* Retry-After: until the open time is over, to the ms */

    refuse(&b, &conf, t1, 30000);
    refuse(&b, &conf, t1 + 1, 29999);
    refuse(&b, &conf, t1 + 29000, 1000);
    refuse(&b, &conf, t1 + 29999, 1);
    assert_int_equal(b.refused, 4);

    /* exactly at the end, the caller is the first probe */

    half_open(&b, &conf, t1 + 30000);
    assert_int_equal(b.since, t1 + 30000);
    assert_int_equal(b.transitions, 2);

    /* the first call an hour later, just the same */

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, t1, 30000);
    half_open(&b, &conf, t1 + 3600000);
}


static void
test_probes_exact(void **state)
{
    ngx_uint_t    i, k, w, p, admitted;
    breaker_t     b;
    conf_t        conf;
    admit_t       a;
    ticket_t      t[NGX_HTTP_GATEWAY_BREAKER_PROBES_MAX];
    ngx_msec_t    t1, t2;
    transition_t  tr;

    static ngx_uint_t  probes[] = { 1, 3, 16 };

    for (k = 0; k < sizeof(probes) / sizeof(probes[0]); k++) {
        p = probes[k];

        conf = conf_make(1, 50);
        conf.probes = p;

        t1 = 1000;
        t2 = t1 + 30000;

        ngx_memzero(&b, sizeof(b));
        trip(&b, &conf, t1, 30000);

        t[0] = half_open(&b, &conf, t2);

        /* 4 workers, 50 calls each, in the same ms: p go */

        admitted = 1;

        for (i = 0; i < 50; i++) {
            for (w = 0; w < 4; w++) {
                a = admit(&b, &conf, t2);

                if (a.rc == NGX_OK) {
                    assert_int_equal(a.ticket.slot, admitted);
                    t[admitted++] = a.ticket;
                    continue;
                }

                assert_int_equal(a.rc, NGX_BUSY);
                assert_int_equal(a.retry, BUSY_WAIT);
            }
        }

        assert_int_equal(admitted, p);
        assert_int_equal(b.refused, 200 - (p - 1));
        assert_int_equal(b.leased, (1u << p) - 1);

        /* distinct leases */

        for (i = 1; i < p; i++) {
            assert_true(t[i].lease != t[i - 1].lease);
        }

        /* successes before the last: still half-open, no slot freed */

        for (i = 0; i + 1 < p; i++) {
            tr = record(&b, &conf, t2 + 10, &t[i], S, NGX_OK);
            assert_int_equal(tr.from, tr.to);
            assert_int_equal(b.state, HALF_OPEN);

            refuse(&b, &conf, t2 + 10, BUSY_WAIT);
        }

        /* the last closes it: a fresh window, trips reset */

        tr = record(&b, &conf, t2 + 20, &t[p - 1], S, NGX_OK);

        assert_int_equal(tr.from, HALF_OPEN);
        assert_int_equal(tr.to, CLOSED);
        assert_int_equal(tr.reason,
                         NGX_HTTP_GATEWAY_BREAKER_PROBES_PASSED);
        assert_int_equal(b.state, CLOSED);
        assert_int_equal(b.trips, 0);
        assert_int_equal(b.leased, 0);
        assert_int_equal(b.passed, 0);
        assert_int_equal(b.transitions, 3);
        assert_window(&b, &conf, t2 + 20, 0, 0);

        /* the next trip opens for the first open time again */

        pass(&b, &conf, t2 + 20);
        trip(&b, &conf, t2 + 30, 30000);
    }
}


static void
test_half_open_retry_after(void **state)
{
    breaker_t  b;
    conf_t     conf;

    /* a lease shorter than the usual wait: the wait is until it ends */

    conf = conf_make(1, 50);
    conf.probes = 1;
    conf.probe_timeout = 800;

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, 0, 30000);
    half_open(&b, &conf, 30000);

    refuse(&b, &conf, 30000, 800);
    refuse(&b, &conf, 30300, 500);
    refuse(&b, &conf, 30799, 1);
    probe(&b, &conf, 30800);
}


static void
test_reopen_doubles(void **state)
{
    ngx_uint_t    i;
    breaker_t     b;
    ticket_t      t, p[3];
    conf_t        conf;
    ngx_msec_t    now;
    transition_t  tr;

    static ngx_msec_t  open[] = { 1000, 2000, 4000, 5000, 5000, 5000 };

    conf = conf_make(1, 50);
    conf.open = 1000;
    conf.max_open = 5000;

    now = 100;

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, now, 1000);

    for (i = 1; i < sizeof(open) / sizeof(open[0]); i++) {
        refuse(&b, &conf, now + open[i - 1] - 1, 1);

        now += open[i - 1];
        t = half_open(&b, &conf, now);

        now += 7;
        tr = record(&b, &conf, now, &t, F, NGX_OK);

        assert_int_equal(tr.from, HALF_OPEN);
        assert_int_equal(tr.to, OPEN);
        assert_int_equal(tr.reason, NGX_HTTP_GATEWAY_BREAKER_PROBE_FAILED);
        assert_int_equal(tr.open_time, open[i]);
        assert_int_equal(b.trips, i + 1);

        /* from the failure on */
        refuse(&b, &conf, now, open[i]);
    }

    /* recovery resets the growth */

    now += 5000;
    p[0] = half_open(&b, &conf, now);
    p[1] = probe(&b, &conf, now);
    p[2] = probe(&b, &conf, now);

    record(&b, &conf, now, &p[0], S, NGX_OK);
    record(&b, &conf, now, &p[1], S, NGX_OK);
    tr = record(&b, &conf, now, &p[2], S, NGX_OK);

    assert_int_equal(tr.to, CLOSED);
    assert_int_equal(b.trips, 0);

    trip(&b, &conf, now, 1000);

    /* a hundred reopenings at the largest times: capped, no overflow */

    conf.open = DAY / 2 + 1;
    conf.max_open = DAY;

    for (i = 0; i < 100; i++) {
        now += b.open_time;
        t = half_open(&b, &conf, now);
        tr = record(&b, &conf, now, &t, F, NGX_OK);

        assert_int_equal(tr.open_time, DAY);
        assert_int_equal(b.trips, i + 2);
    }

    /* a changed open time applies from the next opening */

    conf.open = 10;
    conf.max_open = 10;

    refuse(&b, &conf, now, DAY);

    now += DAY;
    t = half_open(&b, &conf, now);
    tr = record(&b, &conf, now, &t, F, NGX_OK);

    assert_int_equal(tr.open_time, 10);
}


static void
test_lease_expiry(void **state)
{
    breaker_t     b;
    conf_t        conf;
    ticket_t      a, c, p[3];
    ngx_msec_t    t;
    transition_t  tr;

    conf = conf_make(1, 50);
    conf.probes = 1;
    conf.probe_timeout = 5000;

    /* a probe that never answers frees its slot after probe_timeout */

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, 0, 30000);

    t = 30000;
    a = half_open(&b, &conf, t);

    refuse(&b, &conf, t + 1, BUSY_WAIT);
    refuse(&b, &conf, t + 4500, 500);
    refuse(&b, &conf, t + 4999, 1);

    c = probe(&b, &conf, t + 5000);
    assert_int_equal(c.slot, 0);
    assert_true(c.lease != a.lease);
    assert_int_equal(b.leased_at[0], t + 5000);

    refuse(&b, &conf, t + 5001, BUSY_WAIT);

    /* the first one's late success is not the new one's */

    record_late(&b, &conf, t + 6000, &a, S);
    assert_int_equal(b.state, HALF_OPEN);

    tr = record(&b, &conf, t + 6000, &c, S, NGX_OK);
    assert_int_equal(tr.to, CLOSED);

    /* a failure after its lease ran out still reopens */

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, 0, 30000);

    a = half_open(&b, &conf, t);
    c = probe(&b, &conf, t + 5000);

    tr = record(&b, &conf, t + 9000, &a, F, NGX_OK);

    assert_int_equal(tr.from, HALF_OPEN);
    assert_int_equal(tr.to, OPEN);
    assert_int_equal(b.open_time, 60000);

    record_late(&b, &conf, t + 9001, &c, S);

    /* run out but not taken: its success still counts */

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, 0, 30000);

    a = half_open(&b, &conf, t);
    tr = record(&b, &conf, t + 10000, &a, S, NGX_OK);
    assert_int_equal(tr.to, CLOSED);

    /* an ignored outcome frees the slot at once, and counts nothing */

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, 0, 30000);

    a = half_open(&b, &conf, t);
    tr = record(&b, &conf, t + 10, &a, I, NGX_OK);

    assert_int_equal(tr.from, tr.to);
    assert_int_equal(b.state, HALF_OPEN);
    assert_int_equal(b.leased, 0);
    assert_int_equal(b.passed, 0);

    c = probe(&b, &conf, t + 10);
    assert_int_equal(c.slot, 0);

    /* three hung probes: three more after the timeout, never stuck */

    conf.probes = 3;

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, 0, 30000);

    p[0] = half_open(&b, &conf, t);
    p[1] = probe(&b, &conf, t + 100);
    p[2] = probe(&b, &conf, t + 200);

    refuse(&b, &conf, t + 4500, 500);
    refuse(&b, &conf, t + 4999, 1);

    p[0] = probe(&b, &conf, t + 5000);
    refuse(&b, &conf, t + 5000, 100);
    p[1] = probe(&b, &conf, t + 5100);
    p[2] = probe(&b, &conf, t + 5200);
    refuse(&b, &conf, t + 5200, BUSY_WAIT);

    record(&b, &conf, t + 5300, &p[0], S, NGX_OK);
    record(&b, &conf, t + 5300, &p[1], S, NGX_OK);
    tr = record(&b, &conf, t + 5300, &p[2], S, NGX_OK);

    assert_int_equal(tr.to, CLOSED);
}


static void
test_late_results(void **state)
{
    ngx_uint_t    i;
    breaker_t     b;
    conf_t        conf;
    ticket_t      old[10], p[3], r;
    ngx_msec_t    t0, t1;
    transition_t  tr;

    conf = conf_make(4, 50);
    t0 = 10000;
    t1 = t0 + 100;

    ngx_memzero(&b, sizeof(b));

    /* ten calls in flight when the breaker trips */

    for (i = 0; i < 10; i++) {
        old[i] = pass(&b, &conf, t0);
    }

    trip(&b, &conf, t1, 30000);

    /* their failures come in late: nothing moves, open_until included */

    for (i = 0; i < 10; i++) {
        record_late(&b, &conf, t1 + 1000 + i, &old[i], F);
    }

    assert_int_equal(b.failures, 14);
    refuse(&b, &conf, t1 + 29999, 1);

    p[0] = half_open(&b, &conf, t1 + 30000);

    /* late successes do not close it, nor late failures reopen it */

    for (i = 0; i < 5; i++) {
        record_late(&b, &conf, t1 + 30001, &old[i], S);
    }

    for (i = 5; i < 10; i++) {
        record_late(&b, &conf, t1 + 30001, &old[i], F);
    }

    assert_int_equal(b.state, HALF_OPEN);

    /* a refused call's ticket counts nothing either */

    p[1] = probe(&b, &conf, t1 + 30001);
    p[2] = probe(&b, &conf, t1 + 30001);

    r = admit(&b, &conf, t1 + 30002).ticket;
    record_late(&b, &conf, t1 + 30003, &r, F);

    record(&b, &conf, t1 + 30010, &p[0], S, NGX_OK);
    record(&b, &conf, t1 + 30010, &p[1], S, NGX_OK);
    tr = record(&b, &conf, t1 + 30010, &p[2], S, NGX_OK);

    assert_int_equal(tr.to, CLOSED);

    /* a probe recorded twice, after the close: its generation is gone */

    record_late(&b, &conf, t1 + 30011, &p[2], F);

    /* an open state's tickets, and a refused one of the closed state */

    trip(&b, &conf, t1 + 40000, 30000);
    r = admit(&b, &conf, t1 + 40001).ticket;
    record_late(&b, &conf, t1 + 40002, &r, F);
    record_late(&b, &conf, t1 + 40002, &r, S);

    assert_int_equal(b.state, OPEN);
    assert_int_equal(b.since, t1 + 40000);
}


/*
 * Calls every 10 ms, each answering 50 ms later; the function fails from
 * 10 s to 60 s.  The breaker must close at the first half-open after the
 * recovery, without the traffic ever pausing.
 */

#define TRAFFIC_CALLS  64

static void
test_constant_traffic(void **state)
{
    ngx_int_t     rc;
    ngx_uint_t    i, n, sent_open, probes, failing, state_before;
    breaker_t     b;
    ticket_t      ticket[TRAFFIC_CALLS];
    conf_t        conf;
    ngx_msec_t    now, done[TRAFFIC_CALLS], opened, closed, half;
    ngx_msec_t    retry;
    transition_t  tr;

    conf = conf_make(20, 50);
    ngx_memzero(&b, sizeof(b));

    n = 0;
    sent_open = 0;
    probes = 0;
    opened = 0;
    closed = 0;
    half = 0;

    for (now = 0; now <= 200000; now += 10) {

        /* the answers due now, with the function's state when it ran */

        for (i = 0; i < n; /* void */) {
            if (done[i] != now) {
                i++;
                continue;
            }

            failing = (now - 50 >= 10000 && now - 50 < 60000);

            ngx_http_gateway_breaker_record(&b, &conf, now, &ticket[i],
                                            failing ? F : S, &tr);

            if (tr.to == OPEN && tr.from != OPEN) {
                opened = now;
            }

            if (tr.to == CLOSED && tr.from == HALF_OPEN) {
                closed = now;
            }

            ticket[i] = ticket[n - 1];
            done[i] = done[n - 1];
            n--;
        }

        state_before = b.state;

        rc = ngx_http_gateway_breaker_admit(&b, &conf, now, &ticket[n],
                                            &retry, &tr);

        if (tr.to == HALF_OPEN && tr.from == OPEN) {
            half = now;
        }

        if (rc != NGX_OK) {
            assert_int_equal(rc, NGX_BUSY);
            continue;
        }

        sent_open += (state_before == OPEN && b.state == OPEN);
        probes += (b.state == HALF_OPEN);

        assert_true(n < TRAFFIC_CALLS);
        done[n++] = now + 50;

        if (closed && now > closed + 1000) {
            break;
        }
    }

    /*
     * Trips when the failures are half of the window's 1000 calls (about
     * 5 s in, as they slide out successes), then 30 s open, probes that
     * fail at about 45 s, 60 s open, and probes that pass at about 105 s:
     * closed within the open time in force at the recovery and the time
     * of the probes.
     */

    print_message("last opened at %lu ms, half-open at %lu ms, "
                  "closed at %lu ms, %lu probes\n",
                  (unsigned long) opened, (unsigned long) half,
                  (unsigned long) closed, (unsigned long) probes);

    assert_int_equal(sent_open, 0);
    assert_int_equal(b.state, CLOSED);
    assert_true(opened > 40000 && opened < 60000);
    assert_int_equal(half, opened + 60000);

    /* three probes, 10 ms apart, the last answering 50 ms later */
    assert_int_equal(closed, half + 70);

    assert_int_equal(b.transitions, 5);
    assert_int_equal(probes, 2 * conf.probes);
}


static void
test_clock_backwards(void **state)
{
    breaker_t   b;
    conf_t      conf;
    ngx_msec_t  t;

    /* closed: a step back neither slides nor empties the window */

    conf = conf_make(20, 50);
    t = 100000;

    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, t, "SSF", CLOSED);
    calls(&b, &conf, t - 50000, "S", CLOSED);
    calls(&b, &conf, 0, "S", CLOSED);

    assert_window(&b, &conf, 0, 1, 5);
    assert_window(&b, &conf, t + 9999, 1, 5);
    assert_window(&b, &conf, t + 10000, 0, 0);
    assert_int_equal(b.bucket_start, t);

    /* open: the open time does not pass backwards, nor at all */

    conf = conf_make(1, 50);

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, t, 30000);

    refuse(&b, &conf, t - 1, 30000);
    refuse(&b, &conf, 0, 30000);
    refuse(&b, &conf, t + 29999, 1);
    half_open(&b, &conf, t + 30000);

    /* half-open: a lease does not run out backwards */

    conf.probes = 1;
    conf.probe_timeout = 5000;

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, t, 30000);
    half_open(&b, &conf, t + 30000);

    refuse(&b, &conf, t + 20000, BUSY_WAIT);
    refuse(&b, &conf, t + 34999, 1);
    probe(&b, &conf, t + 35000);

    /* a 32-bit style wrap: -500 to 499 is 999 ms */

    conf.open = 1000;
    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, (ngx_msec_t) -500, 1000);

    refuse(&b, &conf, 499, 1);
    half_open(&b, &conf, 500);

    /* the longest forward step a signed difference reads */

    conf = conf_make(20, 50);
    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FFFFFFFFFFFFFFFFFFF", CLOSED);
    calls(&b, &conf, (ngx_msec_t) 1000 + NGX_MAX_INT_T_VALUE, "F", CLOSED);
    assert_window(&b, &conf, (ngx_msec_t) 1000 + NGX_MAX_INT_T_VALUE, 1, 1);
}


static void
test_dry_run(void **state)
{
    ngx_uint_t    i;
    breaker_t     b, real;
    ticket_t      p[2], q[2], r;
    conf_t        conf, real_conf;
    transition_t  tr;

    conf = conf_make(4, 50);
    conf.probes = 2;
    conf.dry_run = 1;

    real_conf = conf;
    real_conf.dry_run = 0;

    /* the same calls to a dry-run breaker and to a real one */

    ngx_memzero(&b, sizeof(b));
    ngx_memzero(&real, sizeof(real));

    trip(&b, &conf, 1000, 30000);
    trip(&real, &real_conf, 1000, 30000);

    /* would refuse: goes, says so, and its outcome counts nothing */

    for (i = 0; i < 5; i++) {
        refuse(&b, &conf, 2000, 29000);
        refuse(&real, &real_conf, 2000, 29000);
    }

    r = admit(&b, &conf, 2000).ticket;
    record_late(&b, &conf, 2001, &r, F);
    record_late(&b, &conf, 2001, &r, S);

    assert_int_equal(b.refused, 6);

    /* the probes are real, the rest would be refused */

    p[0] = half_open(&b, &conf, 31000);
    q[0] = half_open(&real, &real_conf, 31000);
    p[1] = probe(&b, &conf, 31000);
    q[1] = probe(&real, &real_conf, 31000);

    refuse(&b, &conf, 31000, BUSY_WAIT);
    refuse(&real, &real_conf, 31000, BUSY_WAIT);

    r = admit(&b, &conf, 31000).ticket;
    record_late(&b, &conf, 31001, &r, F);

    /* a probe fails in both: both reopen, for 60 s */

    tr = record(&b, &conf, 31002, &p[1], F, NGX_OK);
    assert_int_equal(tr.to, OPEN);
    assert_int_equal(tr.open_time, 60000);

    tr = record(&real, &real_conf, 31002, &q[1], F, NGX_OK);
    assert_int_equal(tr.to, OPEN);

    assert_int_equal(b.state, real.state);
    assert_int_equal(b.since, real.since);
    assert_int_equal(b.open_time, real.open_time);
    assert_int_equal(b.generation, real.generation);
    assert_int_equal(b.transitions, real.transitions);

    /* and close alike */

    p[0] = half_open(&b, &conf, 91002);
    p[1] = probe(&b, &conf, 91002);
    record(&b, &conf, 91003, &p[0], S, NGX_OK);
    tr = record(&b, &conf, 91003, &p[1], S, NGX_OK);

    assert_int_equal(tr.from, HALF_OPEN);
    assert_int_equal(tr.to, CLOSED);
}


static void
test_reload(void **state)
{
    breaker_t     b;
    conf_t        conf, wide;
    admit_t       a;
    ticket_t      p[3];
    transition_t  tr;

    /* a changed window starts empty */

    conf = conf_make(20, 50);
    wide = conf;
    wide.window = 20000;

    ngx_memzero(&b, sizeof(b));
    calls(&b, &conf, 1000, "FFFFFFFFFF", CLOSED);

    assert_window(&b, &conf, 1000, 10, 10);
    assert_window(&b, &wide, 1000, 0, 0);

    calls(&b, &wide, 1000, "F", CLOSED);
    assert_window(&b, &wide, 1000, 1, 1);
    assert_window(&b, &wide, 1000 + 19999, 1, 1);
    assert_window(&b, &wide, 1000 + 20000, 0, 0);

    /* probes lowered below the slots passed: the next call closes it */

    conf = conf_make(1, 50);

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, 0, 30000);

    p[0] = half_open(&b, &conf, 30000);
    p[1] = probe(&b, &conf, 30000);
    p[2] = probe(&b, &conf, 30000);

    record(&b, &conf, 30001, &p[0], S, NGX_OK);
    record(&b, &conf, 30001, &p[1], S, NGX_OK);

    conf.probes = 2;

    a = admit(&b, &conf, 30002);

    assert_int_equal(a.rc, NGX_OK);
    assert_int_equal(a.tr.from, HALF_OPEN);
    assert_int_equal(a.tr.to, CLOSED);
    assert_int_equal(a.ticket.slot, NO_SLOT);

    record_late(&b, &conf, 30003, &p[2], F);

    tr = record(&b, &conf, 30003, &a.ticket, F, NGX_OK);
    assert_int_equal(tr.to, OPEN);

    /* probes raised: one more slot at once */

    conf.probes = 1;

    ngx_memzero(&b, sizeof(b));
    trip(&b, &conf, 0, 30000);

    half_open(&b, &conf, 30000);
    refuse(&b, &conf, 30000, BUSY_WAIT);

    conf.probes = 2;
    p[1] = probe(&b, &conf, 30000);
    assert_int_equal(p[1].slot, 1);
}


static void
test_counters(void **state)
{
    breaker_t  b;
    ticket_t   p, q;
    conf_t     conf;

    conf = conf_make(2, 50);
    conf.probes = 1;

    ngx_memzero(&b, sizeof(b));

    calls(&b, &conf, 0, "SSIF", CLOSED);
    q = pass(&b, &conf, 0);
    calls(&b, &conf, 0, "F", OPEN);

    refuse(&b, &conf, 1, 29999);
    refuse(&b, &conf, 2, 29998);
    record_late(&b, &conf, 3, &q, F);

    p = half_open(&b, &conf, 30000);
    refuse(&b, &conf, 30000, BUSY_WAIT);
    record(&b, &conf, 30001, &p, S, NGX_OK);

    assert_int_equal(b.state, CLOSED);
    assert_int_equal(b.successes, 3);
    assert_int_equal(b.failures, 3);
    assert_int_equal(b.refused, 3);
    assert_int_equal(b.transitions, 3);
    assert_int_equal(b.generation, 3);
}


/*
 * Random calls of 4 workers with clocks that lag each other, outcomes
 * that come late or never, a function that fails in phases: at no time
 * are more probes in flight with a live lease than `probes`, and nothing
 * is admitted while open.
 */

static uint64_t  rnd_state = 88172645463325252ULL;

static uint32_t
rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;

    return (uint32_t) (rnd_state >> 32);
}


#define RANDOM_CALLS  256

static void
test_random_invariants(void **state)
{
    ngx_int_t     rc;
    ngx_uint_t    i, n, step, live, outcome, mask, admitted_half;
    breaker_t     b;
    conf_t        conf;
    ticket_t      ticket[RANDOM_CALLS];
    ngx_msec_t    clock, now, retry, when[RANDOM_CALLS];
    transition_t  tr;

    conf = conf_make(10, 50);
    conf.window = 1000;
    conf.open = 200;
    conf.max_open = 3000;
    conf.probes = 4;
    conf.probe_timeout = 300;

    ngx_memzero(&b, sizeof(b));

    n = 0;
    clock = 1000000;
    admitted_half = 0;

    for (step = 0; step < 400000; step++) {

        clock += rnd() % 3;

        /* a worker's cached time lags by up to 20 ms */
        now = clock - rnd() % 20;

        if (n < RANDOM_CALLS && rnd() % 2) {
            rc = ngx_http_gateway_breaker_admit(&b, &conf, now, &ticket[n],
                                                &retry, &tr);

            if (rc == NGX_OK) {
                assert_true(b.state != OPEN);
                admitted_half += (b.state == HALF_OPEN);
                when[n++] = now;

            } else {
                assert_int_equal(rc, NGX_BUSY);
                assert_true(retry > 0);
            }

        } else if (n > 0) {
            i = rnd() % n;

            /* failing for 20 s of every 50 */
            outcome = ((clock / 20000) % 5 < 2) ? F : S;

            if (rnd() % 10 == 0) {
                outcome = I;
            }

            /* 1 in 100 is lost: a worker that died */

            if (rnd() % 100) {
                ngx_http_gateway_breaker_record(&b, &conf, now, &ticket[i],
                                                outcome, &tr);
            }

            n--;
            ticket[i] = ticket[n];
            when[i] = when[n];
        }

        assert_true(b.state <= HALF_OPEN);
        assert_int_equal(b.generation, (uint32_t) b.transitions);

        mask = (1u << conf.probes) - 1;

        assert_int_equal(b.leased & b.passed, 0);

        if (b.state != HALF_OPEN) {
            assert_int_equal(b.leased | b.passed, 0);
            continue;
        }

        assert_int_equal((b.leased | b.passed) & ~mask, 0);

        /*
         * Probes of this half-open state in flight that were admitted less
         * than probe_timeout ago by the latest clock: no lease of theirs
         * can have run out and been given again.
         */

        live = 0;

        for (i = 0; i < n; i++) {
            if (ticket[i].generation == b.generation
                && ticket[i].slot != NO_SLOT
                && clock - when[i] < conf.probe_timeout)
            {
                live++;
            }
        }

        assert_true(live <= conf.probes);
    }

    print_message("%lu transitions, %lu refused, %lu probes admitted\n",
                  (unsigned long) b.transitions, (unsigned long) b.refused,
                  (unsigned long) admitted_half);

    assert_true(b.transitions > 20);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_conf),
        cmocka_unit_test(test_min_requests),
        cmocka_unit_test(test_rate_boundary),
        cmocka_unit_test(test_consecutive),
        cmocka_unit_test(test_window_slides),
        cmocka_unit_test(test_open_boundary),
        cmocka_unit_test(test_probes_exact),
        cmocka_unit_test(test_half_open_retry_after),
        cmocka_unit_test(test_reopen_doubles),
        cmocka_unit_test(test_lease_expiry),
        cmocka_unit_test(test_late_results),
        cmocka_unit_test(test_constant_traffic),
        cmocka_unit_test(test_clock_backwards),
        cmocka_unit_test(test_dry_run),
        cmocka_unit_test(test_reload),
        cmocka_unit_test(test_counters),
        cmocka_unit_test(test_random_invariants),
    };

    return cmocka_run_group_tests_name("breaker", tests, NULL, NULL);
}
