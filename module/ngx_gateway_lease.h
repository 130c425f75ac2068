
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_GATEWAY_LEASE_H_INCLUDED_
#define _NGX_GATEWAY_LEASE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * A lease: which one process (of the workers sharing a zone) does a job,
 * such as fetching from a host, for a while.  The holder renews it while
 * it works and gives it up when done; a holder that died (killed, or
 * gone with a reload) loses it when it expires, and another process
 * takes it.  Pure: the caller passes its pid and the time, and holds the
 * lock of the memory the lease lives in.  Times are ngx_current_msec
 * values (a monotonic clock shared by the processes of a host).
 */


typedef struct {
    ngx_pid_t                  holder;     /* 0: nobody */
    ngx_msec_t                 expires;
} ngx_gateway_lease_t;


/*
 * NGX_OK: pid holds the lease until now + ttl (taken, or renewed if it
 * held it already); NGX_BUSY: another process holds it.
 */
ngx_int_t ngx_gateway_lease_take(ngx_gateway_lease_t *lease, ngx_pid_t pid,
    ngx_msec_t now, ngx_msec_t ttl);

/* gives the lease up if pid holds it */
void ngx_gateway_lease_give_up(ngx_gateway_lease_t *lease, ngx_pid_t pid);

/* the process that holds it at "now", or 0 */
ngx_pid_t ngx_gateway_lease_holder(ngx_gateway_lease_t *lease,
    ngx_msec_t now);


#endif /* _NGX_GATEWAY_LEASE_H_INCLUDED_ */
