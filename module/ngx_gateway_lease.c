
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gateway_lease.h"


ngx_int_t
ngx_gateway_lease_take(ngx_gateway_lease_t *lease, ngx_pid_t pid,
    ngx_msec_t now, ngx_msec_t ttl)
{
    if (ngx_gateway_lease_holder(lease, now) != 0 && lease->holder != pid) {
        return NGX_BUSY;
    }

    lease->holder = pid;
    lease->expires = now + ttl;

    return NGX_OK;
}


void
ngx_gateway_lease_give_up(ngx_gateway_lease_t *lease, ngx_pid_t pid)
{
    if (lease->holder == pid) {
        lease->holder = 0;
        lease->expires = 0;
    }
}


ngx_pid_t
ngx_gateway_lease_holder(ngx_gateway_lease_t *lease, ngx_msec_t now)
{
    /* the clock wraps: compare the difference */

    if (lease->holder == 0
        || (ngx_msec_int_t) (lease->expires - now) <= 0)
    {
        return 0;
    }

    return lease->holder;
}
