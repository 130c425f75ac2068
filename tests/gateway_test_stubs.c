
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * What the unit tests need of nginx besides the core objects they link:
 * a cycle with a log, a log writer (silent unless GATEWAY_TEST_LOG is set
 * in the environment) and the shared memory mutex.
 */


#include <stdio.h>
#include <stdlib.h>
#include "gateway_test.h"


static ngx_log_t        gateway_test_log;
static ngx_cycle_t      gateway_test_cycle = { .log = &gateway_test_log };

volatile ngx_cycle_t   *ngx_cycle = &gateway_test_cycle;

/* what was logged, for tests of what is said */
u_char                  gateway_test_logged[4096];


void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
    u_char   buf[1024], *p;
    size_t   len;
    va_list  args;

    va_start(args, fmt);
    p = ngx_vslprintf(buf, buf + sizeof(buf) - 1, fmt, args);
    va_end(args);

    *p = '\0';

    len = ngx_strlen(gateway_test_logged);

    if (len + (p - buf) + 2 <= sizeof(gateway_test_logged)) {
        p = ngx_cpymem(gateway_test_logged + len, buf, p - buf);
        *p++ = '\n';
        *p = '\0';
    }

    if (getenv("GATEWAY_TEST_LOG") == NULL) {
        return;
    }

    fprintf(stderr, "log[%lu]: %s\n", (unsigned long) level, buf);
}


void
ngx_log_abort(ngx_err_t err, const char *fmt, ...)
{
    abort();
}


void
ngx_debug_point(void)
{
    abort();
}


/* one process: the slab pool's mutex has nothing to exclude */

void
ngx_shmtx_lock(ngx_shmtx_t *mtx)
{
}


void
ngx_shmtx_unlock(ngx_shmtx_t *mtx)
{
}


ngx_pool_t *
gateway_test_pool(void)
{
    ngx_pool_t  *pool;

    if (ngx_pagesize == 0) {
        ngx_pagesize = 4096;
        ngx_pagesize_shift = 12;
        ngx_cacheline_size = 64;
    }

    pool = ngx_create_pool(4096, &gateway_test_log);
    assert_non_null(pool);

    return pool;
}


ngx_str_t
gateway_test_str(ngx_pool_t *pool, const char *s)
{
    ngx_str_t  str;

    str.len = ngx_strlen(s);
    str.data = ngx_pnalloc(pool, str.len + 1);
    assert_non_null(str.data);

    ngx_memcpy(str.data, s, str.len + 1);

    return str;
}
