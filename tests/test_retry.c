
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <stdio.h>
#include <stdlib.h>
#include "gateway_test.h"
#include <ngx_http.h>
#include "ngx_gateway_retry.h"


/* Wed, 21 Oct 2015 07:28:00 GMT */
#define NOW        ((time_t) 1445412480)

#define RA_MAX     ((ngx_msec_t) NGX_GATEWAY_RETRY_AFTER_MAX * 1000)
#define UNCHANGED  ((ngx_msec_t) 777777)


static uint64_t  rnd_state = 88172645463325252ULL;

static uint32_t
rnd(void)
{
    rnd_state ^= rnd_state << 13;
    rnd_state ^= rnd_state >> 7;
    rnd_state ^= rnd_state << 17;

    return (uint32_t) (rnd_state >> 32);
}


/* backoff */


static void
test_backoff_bounds(void **state)
{
    ngx_uint_t  attempt;
    ngx_msec_t  cap;

    /* backoff=25ms:1s: 25, 50, 100, 200, 400, 800, then 1000 */

    for (attempt = 0; attempt < 20; attempt++) {
        cap = ngx_min((ngx_msec_t) 25 << attempt, 1000);

        assert_int_equal(ngx_gateway_backoff(attempt, 25, 1000, 0), 0);
        assert_int_equal(ngx_gateway_backoff(attempt, 25, 1000,
                                             0xffffffff),
                         cap);

        /* the middle: half of cap + 1, rounded down */
        assert_int_equal(ngx_gateway_backoff(attempt, 25, 1000,
                                             0x80000000),
                         (cap + 1) / 2);
        assert_int_equal(ngx_gateway_backoff(attempt, 25, 1000,
                                             0x7fffffff),
                         (cap + 1) / 2 - ((cap + 1) % 2 == 0));

        /* the least random that gives cap: the top 1/(cap + 1) */
        assert_int_equal(ngx_gateway_backoff(attempt, 25, 1000,
                             (uint32_t) ((((uint64_t) cap << 32)
                                          + cap) / (cap + 1))),
                         cap);
        assert_int_equal(ngx_gateway_backoff(attempt, 25, 1000,
                             (uint32_t) ((((uint64_t) cap << 32)
                                          + cap) / (cap + 1)) - 1),
                         cap - 1);
    }

    /* base > max: max; base 0 or max 0: no wait */

    assert_int_equal(ngx_gateway_backoff(0, 5000, 1000, 0xffffffff),
                     1000);
    assert_int_equal(ngx_gateway_backoff(3, 0, 1000, 0xffffffff), 0);
    assert_int_equal(ngx_gateway_backoff(3, 25, 0, 0xffffffff), 0);
    assert_int_equal(ngx_gateway_backoff(0, 1, 1, 0xffffffff), 1);
    assert_int_equal(ngx_gateway_backoff(0, 1, 1, 0x7fffffff), 0);
}


static void
test_backoff_overflow(void **state)
{
    ngx_uint_t  attempt;

    static ngx_uint_t  attempts[] = {
        30, 31, 32, 33, 62, 63, 64, 65, 100, 1000, (ngx_uint_t) -1
    };

    for (attempt = 0; attempt < sizeof(attempts) / sizeof(attempts[0]);
         attempt++)
    {
        assert_int_equal(ngx_gateway_backoff(attempts[attempt], 25,
                                             1000, 0xffffffff),
                         1000);
        assert_int_equal(ngx_gateway_backoff(attempts[attempt], 25,
                                             1000, 0),
                         0);

        /* base 1 and the largest max: 2^attempt never wraps to small */
        assert_true(ngx_gateway_backoff(attempts[attempt], 1,
                                        (ngx_msec_t) -1, 0xffffffff)
                    >= ngx_min((ngx_msec_t) 1 << ngx_min(attempts[attempt],
                                                         31),
                               NGX_GATEWAY_BACKOFF_CAP));
    }

    /* attempt 63 with base 1 is 2^63: over the cap of 49 days */

    assert_int_equal(ngx_gateway_backoff(63, 1, (ngx_msec_t) -1,
                                         0xffffffff),
                     NGX_GATEWAY_BACKOFF_CAP);
    assert_int_equal(ngx_gateway_backoff(0, (ngx_msec_t) -1,
                                         (ngx_msec_t) -1, 0xffffffff),
                     NGX_GATEWAY_BACKOFF_CAP);

    /* just under and at the cap */

    assert_int_equal(ngx_gateway_backoff(1, 0x7fffffff, (ngx_msec_t) -1,
                                         0xffffffff),
                     0xfffffffe);
    assert_int_equal(ngx_gateway_backoff(0, 0xfffffffd, (ngx_msec_t) -1,
                                         0xffffffff),
                     0xfffffffd);
}


static void
test_backoff_spread(void **state)
{
    double      mean, var, d;
    ngx_uint_t  i, v, most, bins[10], seen[201], counts[10];
    ngx_msec_t  w[1000], prev;
    uint64_t    r;

    /* 1000 clients' third retry (cap 200 ms) are not synchronised */

    ngx_memzero(bins, sizeof(bins));
    ngx_memzero(seen, sizeof(seen));
    mean = 0;

    for (i = 0; i < 1000; i++) {
        w[i] = ngx_gateway_backoff(3, 25, 1000, rnd());
        assert_true(w[i] <= 200);

        bins[w[i] * 10 / 201]++;
        seen[w[i]]++;
        mean += w[i];
    }

    mean /= 1000;
    var = 0;

    for (i = 0; i < 1000; i++) {
        d = w[i] - mean;
        var += d * d;
    }

    var /= 999;

    most = 0;

    for (v = 0; v <= 200; v++) {
        most = ngx_max(most, seen[v]);
    }

    print_message("1000 clients, cap 200 ms: mean %.1f ms, variance %.0f "
                  "(uniform: 100, 3367), at most %lu on one ms\n",
                  mean, var, (unsigned long) most);

    assert_true(mean > 94 && mean < 106);

    /* uniform on 0..200: (201^2 - 1) / 12 = 3366.7 */
    assert_true(var > 3366.7 * 0.85 && var < 3366.7 * 1.15);

    for (i = 0; i < 10; i++) {
        assert_true(bins[i] > 60 && bins[i] < 140);
    }

    /* about 5 a ms; without jitter all 1000 would wait 200 ms */
    assert_true(most < 20);

    /* every 2^12th random input: each of 0..9 equally often, in order */

    ngx_memzero(counts, sizeof(counts));
    prev = 0;

    for (r = 0; r < ((uint64_t) 1 << 32); r += 4096) {
        v = ngx_gateway_backoff(0, 9, 1000, (uint32_t) r);

        assert_true(v >= prev);
        prev = v;
        counts[v]++;
    }

    for (i = 0; i < 10; i++) {
        assert_true(counts[i] >= 104857 && counts[i] <= 104858);
    }
}


/* Retry-After */


/* the value in memory of its own length, so that ASan sees overreads */
static ngx_int_t
parse(const char *s, time_t now, ngx_msec_t *delay)
{
    size_t     len;
    u_char    *p;
    ngx_int_t  rc;

    len = strlen(s);
    p = malloc(len ? len : 1);
    assert_non_null(p);
    memcpy(p, s, len);

    *delay = UNCHANGED;
    rc = ngx_gateway_parse_retry_after(p, len, now, delay);

    free(p);

    return rc;
}


#define assert_retry_after(s, now, ms)                                        \
    do {                                                                      \
        ngx_msec_t  d_;                                                       \
        assert_int_equal(parse(s, now, &d_), NGX_OK);                         \
        assert_int_equal(d_, ms);                                             \
    } while (0)


#define assert_retry_after_bad(s)                                             \
    do {                                                                      \
        ngx_msec_t  d_;                                                       \
        assert_int_equal(parse(s, NOW, &d_), NGX_DECLINED);                   \
        assert_int_equal(d_, UNCHANGED);                                      \
    } while (0)


static void
test_retry_after_seconds(void **state)
{
    assert_retry_after("0", NOW, 0);
    assert_retry_after("1", NOW, 1000);
    assert_retry_after("120", NOW, 120000);
    assert_retry_after("007", NOW, 7000);
    assert_retry_after(" 5 ", NOW, 5000);
    assert_retry_after("\t5\t", NOW, 5000);

    /* the clock does not matter */
    assert_retry_after("120", 0, 120000);

    /* a day at most, however long the number */
    assert_retry_after("86400", NOW, RA_MAX);
    assert_retry_after("86401", NOW, RA_MAX);
    assert_retry_after("4294967296", NOW, RA_MAX);
    assert_retry_after("18446744073709551616", NOW, RA_MAX);
    assert_retry_after("99999999999999999999999999999999999999999999", NOW,
                       RA_MAX);
    assert_retry_after("00000000000000000000000000000000000000000003", NOW,
                       3000);
}


static void
test_retry_after_date(void **state)
{
    /* RFC 9110's three forms, two minutes ahead */

    assert_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", NOW, 120000);
    assert_retry_after("Wednesday, 21-Oct-15 07:30:00 GMT", NOW, 120000);
    assert_retry_after("Wed Oct 21 07:30:00 2015", NOW, 120000);
    assert_retry_after("  Wed, 21 Oct 2015 07:30:00 GMT  ", NOW, 120000);

    /* one second ahead; now; the past; long ago */

    assert_retry_after("Wed, 21 Oct 2015 07:28:01 GMT", NOW, 1000);
    assert_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", NOW, 0);
    assert_retry_after("Wed, 21 Oct 2015 07:27:59 GMT", NOW, 0);
    assert_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", NOW, 0);
    assert_retry_after("Thu, 01 Jan 1970 00:00:00 GMT", NOW, 0);

    /* far ahead: a day at most */

    assert_retry_after("Thu, 01 Jan 2099 00:00:00 GMT", NOW, RA_MAX);
    assert_retry_after("Thu, 22 Oct 2015 07:28:00 GMT", NOW, RA_MAX);
    assert_retry_after("Thu, 22 Oct 2015 07:27:59 GMT", NOW, RA_MAX - 1000);

    /* from the point of view of a clock far ahead */
    assert_retry_after("Wed, 21 Oct 2015 07:30:00 GMT", 4070908800, 0);

    /*
     * nginx's parser knows a month by its first letters and ignores what
     * follows the time, as for If-Modified-Since: lenient, never unsafe
     */

    assert_retry_after("Wed, 21 Fob 2015 07:28:00 GMT", NOW, 0);
    assert_retry_after("Wed, 21 Nov 2015 07:28:00 XYZ", NOW, RA_MAX);
}


static void
test_retry_after_garbage(void **state)
{
    assert_retry_after_bad("");
    assert_retry_after_bad(" ");
    assert_retry_after_bad("\t \t");
    assert_retry_after_bad("-1");
    assert_retry_after_bad("+5");
    assert_retry_after_bad("1.5");
    assert_retry_after_bad("1e3");
    assert_retry_after_bad("0x10");
    assert_retry_after_bad("12abc");
    assert_retry_after_bad("12 34");
    assert_retry_after_bad("abc");
    assert_retry_after_bad("5s");
    assert_retry_after_bad("Wed, 32 Oct 2015 07:28:00 GMT");
    assert_retry_after_bad("Wed, 21 Xyz 2015 07:28:00 GMT");
    assert_retry_after_bad("Wed, 21 Oct 2015 24:00:00 GMT");
    assert_retry_after_bad("Wed, 21 Oct 2015 07:28");
    assert_retry_after_bad("Wed, 29 Feb 2015 07:28:00 GMT");
    assert_retry_after_bad("Wed,");
    assert_retry_after_bad(",");
    assert_retry_after_bad("Wed 21");
    assert_retry_after_bad("2015-10-21T07:28:00Z");
}


/* the retry budget */


static void
test_budget(void **state)
{
    ngx_uint_t                 i;
    ngx_gateway_budget_t       b;

    ngx_memzero(&b, sizeof(b));

    /* 100 in flight, 20%: 20 retries in flight, the 21st refused */

    for (i = 0; i < 100; i++) {
        ngx_gateway_budget_begin(&b);
    }

    for (i = 0; i < 20; i++) {
        assert_true(ngx_gateway_budget_allows(&b, 20, 3));
        assert_int_equal(ngx_gateway_budget_retry_begin(&b, 20, 3),
                         NGX_OK);
    }

    assert_false(ngx_gateway_budget_allows(&b, 20, 3));
    assert_int_equal(ngx_gateway_budget_retry_begin(&b, 20, 3),
                     NGX_BUSY);
    assert_int_equal(b.retries, 20);
    assert_int_equal(b.retried, 20);
    assert_int_equal(b.exhausted, 1);

    /* one ends: one more may go */

    ngx_gateway_budget_retry_end(&b);
    assert_int_equal(ngx_gateway_budget_retry_begin(&b, 20, 3), NGX_OK);
    assert_int_equal(ngx_gateway_budget_retry_begin(&b, 20, 3),
                     NGX_BUSY);

    /* 99 in flight: 19.8 is 19, and 20 are out */

    ngx_gateway_budget_end(&b);
    assert_false(ngx_gateway_budget_allows(&b, 20, 3));

    /* the floor: 2 in flight still have 3 */

    ngx_memzero(&b, sizeof(b));
    ngx_gateway_budget_begin(&b);
    ngx_gateway_budget_begin(&b);

    for (i = 0; i < 3; i++) {
        assert_int_equal(ngx_gateway_budget_retry_begin(&b, 20, 3),
                         NGX_OK);
    }

    assert_int_equal(ngx_gateway_budget_retry_begin(&b, 20, 3),
                     NGX_BUSY);

    /* 15 in flight: 20% is 3, the floor; 20 in flight: 4 */

    ngx_memzero(&b, sizeof(b));
    b.active = 15;
    b.retries = 3;
    assert_false(ngx_gateway_budget_allows(&b, 20, 3));
    b.active = 20;
    assert_true(ngx_gateway_budget_allows(&b, 20, 3));
    b.retries = 4;
    assert_false(ngx_gateway_budget_allows(&b, 20, 3));

    /* 100% and 0%; a floor of 0 with nothing in flight */

    b.active = 10;
    b.retries = 9;
    assert_true(ngx_gateway_budget_allows(&b, 100, 3));
    b.retries = 10;
    assert_false(ngx_gateway_budget_allows(&b, 100, 3));
    b.retries = 2;
    assert_true(ngx_gateway_budget_allows(&b, 0, 3));
    b.retries = 3;
    assert_false(ngx_gateway_budget_allows(&b, 0, 3));
    b.active = 0;
    b.retries = 0;
    assert_false(ngx_gateway_budget_allows(&b, 20, 0));

    /* no overflow of active * percent */

    b.active = (ngx_uint_t) -1;
    b.retries = 0;
    assert_true(ngx_gateway_budget_allows(&b, 100, 3));

    /* counters never below 0, whatever a caller got wrong */

    ngx_memzero(&b, sizeof(b));
    ngx_gateway_budget_end(&b);
    ngx_gateway_budget_retry_end(&b);
    assert_int_equal(b.active, 0);
    assert_int_equal(b.retries, 0);
}


/*
 * A function failing everything, 100 requests in flight each retrying up
 * to 3 times as soon as the budget allows: at no time more than 20
 * retries in flight, and the counters end at 0.
 */

static void
test_budget_storm(void **state)
{
    ngx_uint_t                 i, round, left[100], retrying[100], most;
    ngx_uint_t                 attempts;
    ngx_gateway_budget_t       b;

    ngx_memzero(&b, sizeof(b));

    for (i = 0; i < 100; i++) {
        ngx_gateway_budget_begin(&b);
        left[i] = 3;
        retrying[i] = 0;
    }

    most = 0;
    attempts = 100;

    for (round = 0; round < 1000000 && b.active; round++) {
        i = rnd() % 100;

        if (left[i] == (ngx_uint_t) -1) {
            continue;
        }

        /* its attempt failed */

        if (retrying[i]) {
            ngx_gateway_budget_retry_end(&b);
            retrying[i] = 0;
        }

        if (left[i]
            && ngx_gateway_budget_retry_begin(&b, 20, 3) == NGX_OK)
        {
            left[i]--;
            retrying[i] = 1;
            attempts++;

        } else {

            /* out of retries or of budget: the client gets the failure */

            ngx_gateway_budget_end(&b);
            left[i] = (ngx_uint_t) -1;
        }

        most = ngx_max(most, b.retries);
        assert_true(b.retries <= 20);
    }

    print_message("%lu attempts for 100 requests, at most %lu retries in "
                  "flight, %lu refused by the budget\n",
                  (unsigned long) attempts, (unsigned long) most,
                  (unsigned long) b.exhausted);

    assert_int_equal(most, 20);
    assert_int_equal(b.active, 0);
    assert_int_equal(b.retries, 0);
    assert_true(attempts <= 100 + 100 * 3);
}


/* which requests may be sent again */


static void
test_methods(void **state)
{
    ngx_uint_t  i, m;

    static ngx_uint_t  unsafe[] = {
        NGX_HTTP_POST, NGX_HTTP_PUT, NGX_HTTP_DELETE, NGX_HTTP_PATCH,
        NGX_HTTP_LOCK, NGX_HTTP_UNLOCK, NGX_HTTP_MKCOL, NGX_HTTP_COPY,
        NGX_HTTP_MOVE, NGX_HTTP_PROPPATCH, NGX_HTTP_TRACE,
        NGX_HTTP_UNKNOWN
    };

    m = NGX_GATEWAY_RETRY_METHODS;

    /* safe by default */

    assert_true(ngx_gateway_retry_method(NGX_HTTP_GET, m, 1, 0));
    assert_true(ngx_gateway_retry_method(NGX_HTTP_HEAD, m, 1, 0));
    assert_true(ngx_gateway_retry_method(NGX_HTTP_OPTIONS, m, 1, 0));

    for (i = 0; i < sizeof(unsafe) / sizeof(unsafe[0]); i++) {

        /* sent: only with the idempotency key */
        assert_false(ngx_gateway_retry_method(unsafe[i], m, 1, 0));
        assert_true(ngx_gateway_retry_method(unsafe[i], m, 1, 1));

        /* a failed connect: the function saw nothing */
        assert_true(ngx_gateway_retry_method(unsafe[i], m, 0, 0));
    }

    /* methods=GET: not even HEAD */

    assert_true(ngx_gateway_retry_method(NGX_HTTP_GET, NGX_HTTP_GET, 1,
                                         0));
    assert_false(ngx_gateway_retry_method(NGX_HTTP_HEAD, NGX_HTTP_GET,
                                          1, 0));

    /* methods=GET,PUT: PUT too */

    assert_true(ngx_gateway_retry_method(NGX_HTTP_PUT,
                                         NGX_HTTP_GET|NGX_HTTP_PUT, 1,
                                         0));
    assert_false(ngx_gateway_retry_method(NGX_HTTP_POST,
                                          NGX_HTTP_GET|NGX_HTTP_PUT, 1,
                                          0));

    /* an empty mask: only the key, or a failed connect */

    assert_false(ngx_gateway_retry_method(NGX_HTTP_GET, 0, 1, 0));
    assert_true(ngx_gateway_retry_method(NGX_HTTP_GET, 0, 1, 1));
    assert_true(ngx_gateway_retry_method(NGX_HTTP_GET, 0, 0, 0));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_backoff_bounds),
        cmocka_unit_test(test_backoff_overflow),
        cmocka_unit_test(test_backoff_spread),
        cmocka_unit_test(test_retry_after_seconds),
        cmocka_unit_test(test_retry_after_date),
        cmocka_unit_test(test_retry_after_garbage),
        cmocka_unit_test(test_budget),
        cmocka_unit_test(test_budget_storm),
        cmocka_unit_test(test_methods),
    };

    return cmocka_run_group_tests_name("retry", tests, NULL, NULL);
}
