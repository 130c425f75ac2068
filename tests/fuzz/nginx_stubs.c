
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <stdlib.h>
#include "nginx_stubs.h"


ngx_log_t               nginx_stub_log;

static ngx_cycle_t      nginx_stub_cycle = { .log = &nginx_stub_log };

volatile ngx_cycle_t   *ngx_cycle = &nginx_stub_cycle;


void
ngx_log_error_core(ngx_uint_t level, ngx_log_t *log, ngx_err_t err,
    const char *fmt, ...)
{
}


void
ngx_log_abort(ngx_err_t err, const char *fmt, ...)
{
    abort();
}


void
nginx_stubs_init(void)
{
    ngx_pagesize = 4096;
    ngx_pagesize_shift = 12;
    ngx_cacheline_size = 64;
}


/* libFuzzer's, for a harness that has nothing else to set up (weak) */

int LLVMFuzzerInitialize(int *argc, char ***argv)
    __attribute__((weak));

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    nginx_stubs_init();

    return 0;
}
