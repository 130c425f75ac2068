
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <stdio.h>
#include <stdlib.h>
#include "gateway_test.h"
#include "ngx_gateway_bulkhead.h"


#define HOLDERS  10


/* a bulkhead of n holders, as the zone has it; freed when the test ends */

static ngx_gateway_bulkhead_t *
new_bulkhead(ngx_uint_t n)
{
    static ngx_gateway_bulkhead_t  *last;

    free(last);

    last = malloc(ngx_gateway_bulkhead_size(n));
    assert_non_null(last);

    ngx_gateway_bulkhead_init(last, n);

    return last;
}


/* a bulkhead whose n holders are all claimed (pids 1000 and on) */

static ngx_gateway_bulkhead_t *
all_held(ngx_uint_t n)
{
    ngx_uint_t               i;
    ngx_gateway_bulkhead_t  *b;

    b = new_bulkhead(n);
    assert_int_equal(b->nholders, n);

    for (i = 0; i < n; i++) {
        assert_non_null(ngx_gateway_bulkhead_holder(b, 1000 + i));
    }

    assert_null(ngx_gateway_bulkhead_holder(b, 5000));

    return b;
}


/* the holders a (pid 1) and c (pid 2); a has the only slot of limit 1 */

static ngx_gateway_bulkhead_t *
one_slot_taken(ngx_gateway_bulkhead_holder_t **a,
    ngx_gateway_bulkhead_holder_t **c)
{
    ngx_gateway_bulkhead_t  *b;

    b = new_bulkhead(HOLDERS);

    *a = ngx_gateway_bulkhead_holder(b, 1);
    *c = ngx_gateway_bulkhead_holder(b, 2);

    assert_int_equal(ngx_gateway_bulkhead_try(b, 1, *a), NGX_OK);

    return b;
}


/* a waiter of a simulated worker: its ticket, in its worker's order */

typedef struct {
    ngx_pid_t                       pid;
    ngx_gateway_bulkhead_holder_t  *h;
    ngx_atomic_uint_t               waiting[64];
    ngx_uint_t                      n;
} worker_t;


static ngx_atomic_uint_t
next_of(worker_t *w)
{
    return (w->n > 1) ? w->waiting[1] : 0;
}


static void
drop_first(worker_t *w)
{
    memmove(&w->waiting[0], &w->waiting[1],
            (w->n - 1) * sizeof(ngx_atomic_uint_t));
    w->n--;
}


static void
test_slots(void **state)
{
    ngx_uint_t                      i;
    ngx_gateway_bulkhead_t         *b;
    ngx_gateway_bulkhead_holder_t  *h;

    b = new_bulkhead(HOLDERS);

    h = ngx_gateway_bulkhead_holder(b, 100);
    assert_non_null(h);
    assert_ptr_equal(ngx_gateway_bulkhead_holder(b, 100), h);
    assert_ptr_equal(ngx_gateway_bulkhead_find(b, 100), h);
    assert_null(ngx_gateway_bulkhead_find(b, 101));

    for (i = 0; i < 3; i++) {
        assert_int_equal(ngx_gateway_bulkhead_try(b, 3, h), NGX_OK);
    }

    assert_int_equal(ngx_gateway_bulkhead_try(b, 3, h), NGX_AGAIN);
    assert_int_equal(b->in_flight, 3);
    assert_int_equal(h->slots, 3);

    ngx_gateway_bulkhead_release(b, h);
    assert_int_equal(b->in_flight, 2);
    assert_int_equal(ngx_gateway_bulkhead_try(b, 3, h), NGX_OK);

    /* never below 0, whatever a caller gets wrong */

    for (i = 0; i < 5; i++) {
        ngx_gateway_bulkhead_release(b, h);
    }

    assert_int_equal(b->in_flight, 0);
    assert_int_equal(h->slots, 0);

    /* without a holder: counted all the same */

    assert_int_equal(ngx_gateway_bulkhead_try(b, 1, NULL), NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_try(b, 1, NULL), NGX_AGAIN);
    ngx_gateway_bulkhead_release(b, NULL);
    assert_int_equal(b->in_flight, 0);
}


static void
test_holders_full(void **state)
{
    ngx_gateway_bulkhead_t         *b;
    ngx_gateway_bulkhead_holder_t  *h;

    b = all_held(HOLDERS);

    /* a dead one freed: its place is taken */

    h = ngx_gateway_bulkhead_find(b, 1003);
    (void) ngx_gateway_bulkhead_release_holder(b, h);

    h = ngx_gateway_bulkhead_holder(b, 5000);
    assert_non_null(h);
    assert_int_equal(h->slots, 0);
    assert_int_equal(h->first, 0);
}


/* a slot comes free only for the head of the queue */

static void
test_queue_order(void **state)
{
    ngx_atomic_uint_t               t1, t2, t3;
    ngx_gateway_bulkhead_t         *b;
    ngx_gateway_bulkhead_holder_t  *a, *c;

    b = one_slot_taken(&a, &c);

    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 2, c, &t1), NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 2, a, &t2), NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 2, a, &t3), NGX_BUSY);
    assert_true(t1 < t2);
    assert_int_equal(b->queued, 2);
    assert_int_equal(ngx_gateway_bulkhead_head(b), t1);

    /* nobody jumps the queue, not even when a slot is free */

    ngx_gateway_bulkhead_release(b, a);
    assert_int_equal(ngx_gateway_bulkhead_try(b, 1, a), NGX_AGAIN);
    assert_int_equal(ngx_gateway_bulkhead_admit(b, 1, a, t2, 0),
                     NGX_AGAIN);

    assert_int_equal(ngx_gateway_bulkhead_admit(b, 1, c, t1, 0), NGX_OK);
    assert_int_equal(b->in_flight, 1);
    assert_int_equal(b->queued, 1);
    assert_int_equal(c->first, 0);
    assert_int_equal(ngx_gateway_bulkhead_head(b), t2);

    /* t2 is the head, but no slot */

    assert_int_equal(ngx_gateway_bulkhead_admit(b, 1, a, t2, 0),
                     NGX_AGAIN);

    ngx_gateway_bulkhead_release(b, c);
    assert_int_equal(ngx_gateway_bulkhead_admit(b, 1, a, t2, 0), NGX_OK);
    assert_int_equal(b->queued, 0);
    assert_int_equal(ngx_gateway_bulkhead_head(b), 0);
}


/* a waiter that leaves (timed out, abandoned) moves the head at once */

static void
test_queue_leave(void **state)
{
    ngx_atomic_uint_t               t1, t2, t3;
    ngx_gateway_bulkhead_t         *b;
    ngx_gateway_bulkhead_holder_t  *a, *c;

    b = one_slot_taken(&a, &c);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 3, a, &t1), NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 3, a, &t2), NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 3, c, &t3), NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 3, c, &t3), NGX_BUSY);

    /* a's first leaves: its next is a's first now */

    ngx_gateway_bulkhead_leave(b, a, t2);
    assert_int_equal(b->queued, 2);
    assert_int_equal(a->waiting, 1);
    assert_int_equal(ngx_gateway_bulkhead_head(b), t2);

    /* the place is free again: another may queue */

    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 3, c, &t1), NGX_OK);
    assert_int_equal(c->first, t3);

    /* a's last leaves: c's first is the head */

    ngx_gateway_bulkhead_leave(b, a, 0);
    assert_int_equal(ngx_gateway_bulkhead_head(b), t3);
    assert_int_equal(a->waiting, 0);
}


/* a worker killed while holding slots and waiters gives them back */

static void
test_dead_holder(void **state)
{
    ngx_atomic_uint_t               t1, t2;
    ngx_gateway_bulkhead_t         *b;
    ngx_gateway_bulkhead_holder_t  *dead, *live;

    b = new_bulkhead(HOLDERS);

    dead = ngx_gateway_bulkhead_holder(b, 66);
    live = ngx_gateway_bulkhead_holder(b, 77);

    assert_int_equal(ngx_gateway_bulkhead_try(b, 2, dead), NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_try(b, 2, dead), NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 5, dead, &t1),
                     NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 5, live, &t2),
                     NGX_OK);

    /* the dead worker's waiter is the head: the live one is stuck */

    assert_int_equal(ngx_gateway_bulkhead_admit(b, 2, live, t2, 0),
                     NGX_AGAIN);

    assert_int_equal(ngx_gateway_bulkhead_release_holder(b, dead), 2);
    assert_int_equal(dead->pid, 0);
    assert_int_equal(b->in_flight, 0);
    assert_int_equal(b->queued, 1);
    assert_int_equal(ngx_gateway_bulkhead_head(b), t2);

    assert_int_equal(ngx_gateway_bulkhead_admit(b, 2, live, t2, 0),
                     NGX_OK);
    assert_int_equal(b->in_flight, 1);
    assert_int_equal(b->queued, 0);
}


/*
 * A worker whose first requests queued without a holder (all were
 * taken), then got one: the next waiter it names when its first is
 * admitted may be one without the holder.  That ticket must not stay
 * the holder's first once it leaves, or it is the head forever and no
 * waiter anywhere is ever admitted.
 */

static void
test_foreign_ticket(void **state)
{
    ngx_atomic_uint_t               t1, t2, t3;
    ngx_gateway_bulkhead_t         *b;
    ngx_gateway_bulkhead_holder_t  *a, *c;

    b = one_slot_taken(&a, &c);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 5, a, &t1), NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 5, NULL, &t2), NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 5, c, &t3), NGX_OK);

    ngx_gateway_bulkhead_release(b, a);

    /* t1 admitted, naming the holderless t2 as next */

    assert_int_equal(ngx_gateway_bulkhead_admit(b, 1, a, t1, t2), NGX_OK);
    assert_int_equal(a->waiting, 0);
    assert_int_equal(a->first, 0);

    /* t2 times out; t3 is the head once the slot is free */

    ngx_gateway_bulkhead_leave(b, NULL, 0);
    ngx_gateway_bulkhead_release(b, a);

    assert_int_equal(ngx_gateway_bulkhead_head(b), t3);
    assert_int_equal(ngx_gateway_bulkhead_admit(b, 1, c, t3, 0), NGX_OK);
    assert_int_equal(b->queued, 0);

    /* the same by a leave: a holder without waiters has no first */

    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 5, a, &t1), NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 5, NULL, &t2), NGX_OK);
    assert_int_equal(ngx_gateway_bulkhead_enqueue(b, 5, c, &t3), NGX_OK);

    ngx_gateway_bulkhead_leave(b, a, t2);
    assert_int_equal(a->first, 0);
    ngx_gateway_bulkhead_leave(b, NULL, 0);

    assert_int_equal(ngx_gateway_bulkhead_head(b), t3);

    /* a stale first of a holder with no waiter is not the head either */

    a->first = t1;
    assert_int_equal(ngx_gateway_bulkhead_head(b), t3);
}


/* as many holders as the bulkhead was made with, for any count */

static void
test_holders_sized(void **state)
{
    ngx_gateway_bulkhead_t  *b;

    b = all_held(130);
    assert_ptr_equal(ngx_gateway_bulkhead_find(b, 1129), &b->holders[129]);
}


/* references: a dead worker's given back, never below 0 */

static void
test_refs(void **state)
{
    ngx_gateway_bulkhead_t         *b;
    ngx_gateway_bulkhead_holder_t  *dead, *live;

    b = new_bulkhead(HOLDERS);

    dead = ngx_gateway_bulkhead_holder(b, 66);
    live = ngx_gateway_bulkhead_holder(b, 77);

    ngx_gateway_bulkhead_ref(b, dead);
    ngx_gateway_bulkhead_ref(b, dead);
    ngx_gateway_bulkhead_ref(b, live);
    ngx_gateway_bulkhead_ref(b, NULL);
    assert_int_equal(b->refs, 4);
    assert_int_equal(dead->refs, 2);

    (void) ngx_gateway_bulkhead_release_holder(b, dead);
    assert_int_equal(b->refs, 2);

    assert_int_equal(ngx_gateway_bulkhead_unref(b, live), 1);
    assert_int_equal(live->refs, 0);
    assert_int_equal(ngx_gateway_bulkhead_unref(b, NULL), 0);
    assert_int_equal(ngx_gateway_bulkhead_unref(b, live), 0);
}


/*
 * Four workers, random arrivals, releases and departures: never more
 * than the limit in flight, never more than the queue's size waiting,
 * and the waiters admitted in the order they queued.
 */

static void
test_queue_simulation(void **state)
{
    ngx_uint_t                 i, k, round, limit, max, held[4];
    ngx_atomic_uint_t          t, last;
    ngx_gateway_bulkhead_t    *b;
    worker_t                   w[4];

    limit = 3;
    max = 5;
    last = 0;
    srandom(19);

    b = new_bulkhead(HOLDERS);
    ngx_memzero(w, sizeof(w));
    ngx_memzero(held, sizeof(held));

    for (k = 0; k < 4; k++) {
        w[k].pid = 200 + k;
        w[k].h = ngx_gateway_bulkhead_holder(b, w[k].pid);
    }

    for (round = 0; round < 20000; round++) {
        k = random() % 4;

        switch (random() % 4) {

        case 0:     /* a request comes */
            if (ngx_gateway_bulkhead_try(b, limit, w[k].h) == NGX_OK) {
                held[k]++;
                break;
            }

            if (ngx_gateway_bulkhead_enqueue(b, max, w[k].h, &t)
                == NGX_OK)
            {
                w[k].waiting[w[k].n++] = t;
            }

            break;

        case 1:     /* an attempt ends */
            if (held[k]) {
                held[k]--;
                ngx_gateway_bulkhead_release(b, w[k].h);
            }

            break;

        case 2:     /* the worker's first waiter looks for a slot */
            if (w[k].n == 0) {
                break;
            }

            t = w[k].waiting[0];

            if (ngx_gateway_bulkhead_admit(b, limit, w[k].h, t,
                                           next_of(&w[k]))
                == NGX_OK)
            {
                assert_true(last == 0 || (ngx_atomic_int_t) (t - last) > 0);
                last = t;
                held[k]++;
                drop_first(&w[k]);
            }

            break;

        case 3:     /* a waiter times out or is abandoned: the first */
            if (w[k].n && random() % 8 == 0) {
                ngx_gateway_bulkhead_leave(b, w[k].h, next_of(&w[k]));
                drop_first(&w[k]);
            }

            break;
        }

        assert_true(b->in_flight <= limit);
        assert_true(b->queued <= max);

        t = 0;
        for (i = 0; i < 4; i++) {
            t += held[i];
        }

        assert_int_equal(b->in_flight, t);
    }
}


/* deadlines, with an injected clock near the wrap of ngx_msec_t */

static void
test_deadline(void **state)
{
    ngx_msec_t  now, at;

    now = (ngx_msec_t) -300;
    at = now + 1000;

    assert_int_equal(ngx_gateway_deadline_left(now, at), 1000);
    assert_int_equal(ngx_gateway_deadline_left(now + 999, at), 1);
    assert_int_equal(ngx_gateway_deadline_left(now + 1000, at), 0);
    assert_int_equal(ngx_gateway_deadline_left(now + 5000, at), 0);

    /* a timeout is capped by what is left, never 0 (no timer) */

    assert_int_equal(ngx_gateway_deadline_cap(60000, now, at), 1000);
    assert_int_equal(ngx_gateway_deadline_cap(300, now, at), 300);
    assert_int_equal(ngx_gateway_deadline_cap(0, now, at), 1000);
    assert_int_equal(ngx_gateway_deadline_cap(300, now + 900, at), 100);
    assert_int_equal(ngx_gateway_deadline_cap(300, now + 1000, at), 1);
    assert_int_equal(ngx_gateway_deadline_cap(300, now + 2000, at), 1);

    /* a retry: after its backoff, as long as the last attempt took */

    assert_true(ngx_gateway_deadline_retry(now, at, 100, 400));
    assert_true(ngx_gateway_deadline_retry(now + 400, at, 100, 400));
    assert_false(ngx_gateway_deadline_retry(now + 500, at, 100, 400));
    assert_true(ngx_gateway_deadline_retry(now + 800, at, 0, 0));
    assert_false(ngx_gateway_deadline_retry(now + 900, at, 100, 0));
    assert_false(ngx_gateway_deadline_retry(now + 1200, at, 0, 0));
}


static void
test_grpc_timeout(void **state)
{
    ngx_msec_t  ms;

#define grpc(s, expect)                                                       \
    ms = 7;                                                                   \
    assert_int_equal(ngx_gateway_parse_grpc_timeout((u_char *) s,           \
                                                    sizeof(s) - 1, &ms),      \
                     NGX_OK);                                                 \
    assert_int_equal(ms, expect)

#define bad(s)                                                                \
    ms = 7;                                                                   \
    assert_int_equal(ngx_gateway_parse_grpc_timeout((u_char *) s,           \
                                                    sizeof(s) - 1, &ms),      \
                     NGX_DECLINED);                                           \
    assert_int_equal(ms, 7)

    grpc("1S", 1000);
    grpc("200m", 200);
    grpc("2M", 120000);
    grpc("1H", 3600000);
    grpc("1500u", 2);
    grpc("1u", 1);
    grpc("1n", 1);
    grpc("1000000n", 1);
    grpc("1000001n", 2);
    grpc("99999999S", NGX_GATEWAY_DEADLINE_MAX);
    grpc("99999999H", NGX_GATEWAY_DEADLINE_MAX);

    bad("");
    bad("S");
    bad("0S");
    bad("100");
    bad("100s");
    bad("100ms");
    bad("123456789S");
    bad("-1S");
    bad(" 1S");
    bad("1 S");
    bad("1.5S");

#undef grpc
#undef bad
}


static void
test_cold(void **state)
{
    ngx_msec_t  now;

    now = (ngx_msec_t) -100;

    /* never called: cold */
    assert_true(ngx_gateway_cold(now, 0, 600000));

    /* idle for exactly idle: warm; a ms longer: cold (across the wrap) */
    assert_false(ngx_gateway_cold(now + 600000, now, 600000));
    assert_true(ngx_gateway_cold(now + 600001, now, 600000));
    assert_false(ngx_gateway_cold(now + 10, now, 600000));

    /* a clock read before the last one (another worker's): warm */
    assert_false(ngx_gateway_cold(now, now + 5, 1000));

    /* while a cold start goes on (until its timeout), across the wrap */
    assert_false(ngx_gateway_cold_during(now, 0));
    assert_true(ngx_gateway_cold_during(now, now + 3000));
    assert_true(ngx_gateway_cold_during(now + 2999, now + 3000));
    assert_false(ngx_gateway_cold_during(now + 3000, now + 3000));
    assert_false(ngx_gateway_cold_during(now + 9000, now + 3000));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_slots),
        cmocka_unit_test(test_holders_full),
        cmocka_unit_test(test_queue_order),
        cmocka_unit_test(test_queue_leave),
        cmocka_unit_test(test_dead_holder),
        cmocka_unit_test(test_foreign_ticket),
        cmocka_unit_test(test_holders_sized),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_queue_simulation),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_grpc_timeout),
        cmocka_unit_test(test_cold),
    };

    return cmocka_run_group_tests_name("bulkhead", tests, NULL, NULL);
}
