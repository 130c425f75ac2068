
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGINX_STUBS_H_INCLUDED_
#define _NGINX_STUBS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * What the fuzz harnesses and tests/bench_jwt.c need of nginx besides the
 * core sources they compile in: a cycle with a silent log, and the page
 * and cache line sizes nginx's main() would set.  A harness without an
 * LLVMFuzzerInitialize() of its own gets one that calls
 * nginx_stubs_init().
 */

extern ngx_log_t  nginx_stub_log;

void nginx_stubs_init(void);


#endif /* _NGINX_STUBS_H_INCLUDED_ */
