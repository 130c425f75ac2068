
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include "gateway_test.h"
#include "ngx_gateway_lease.h"


static void
test_lease_take(void **state)
{
    ngx_gateway_lease_t  l;

    ngx_memzero(&l, sizeof(ngx_gateway_lease_t));

    assert_int_equal(ngx_gateway_lease_holder(&l, 1000), 0);

    /* one holder at a time */

    assert_int_equal(ngx_gateway_lease_take(&l, 10, 1000, 500), NGX_OK);
    assert_int_equal(ngx_gateway_lease_holder(&l, 1000), 10);
    assert_int_equal(ngx_gateway_lease_take(&l, 11, 1001, 500), NGX_BUSY);
    assert_int_equal(ngx_gateway_lease_take(&l, 11, 1499, 500), NGX_BUSY);

    /* the holder renews */

    assert_int_equal(ngx_gateway_lease_take(&l, 10, 1400, 500), NGX_OK);
    assert_int_equal(ngx_gateway_lease_take(&l, 11, 1899, 500), NGX_BUSY);

    /* a holder that died: another takes it once it expired */

    assert_int_equal(ngx_gateway_lease_holder(&l, 1900), 0);
    assert_int_equal(ngx_gateway_lease_take(&l, 11, 1900, 500), NGX_OK);
    assert_int_equal(ngx_gateway_lease_holder(&l, 1900), 11);

    /* only the holder gives it up */

    ngx_gateway_lease_give_up(&l, 10);
    assert_int_equal(ngx_gateway_lease_holder(&l, 1901), 11);
    ngx_gateway_lease_give_up(&l, 11);
    assert_int_equal(ngx_gateway_lease_holder(&l, 1901), 0);
    assert_int_equal(ngx_gateway_lease_take(&l, 12, 1902, 500), NGX_OK);
}


static void
test_lease_wrap(void **state)
{
    ngx_msec_t           now;
    ngx_gateway_lease_t  l;

    ngx_memzero(&l, sizeof(ngx_gateway_lease_t));

    /* across the wrap of the millisecond clock */

    now = (ngx_msec_t) -100;

    assert_int_equal(ngx_gateway_lease_take(&l, 10, now, 500), NGX_OK);
    assert_int_equal(ngx_gateway_lease_holder(&l, now + 399), 10);
    assert_int_equal(ngx_gateway_lease_take(&l, 11, now + 399, 500),
                     NGX_BUSY);
    assert_int_equal(ngx_gateway_lease_holder(&l, now + 500), 0);
    assert_int_equal(ngx_gateway_lease_take(&l, 11, now + 500, 500), NGX_OK);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_lease_take),
        cmocka_unit_test(test_lease_wrap),
    };

    return cmocka_run_group_tests_name("lease", tests, NULL, NULL);
}
