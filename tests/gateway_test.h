
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _GATEWAY_TEST_H_INCLUDED_
#define _GATEWAY_TEST_H_INCLUDED_


#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The messages logged (at any level the log lets through), each ending
 * in a newline; a test empties it with gateway_test_logged[0] = '\0'.
 */
extern u_char gateway_test_logged[4096];

/* a pool with a real (silent) log, as nginx's own code expects */
ngx_pool_t *gateway_test_pool(void);

/* an ngx_str_t of a C string, allocated in the pool */
ngx_str_t gateway_test_str(ngx_pool_t *pool, const char *s);


#endif /* _GATEWAY_TEST_H_INCLUDED_ */
