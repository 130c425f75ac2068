
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * libFuzzer harness of ngx_gateway_parse_grpc_timeout(), the parser of a
 * client's grpc-timeout header (a budget it may shorten its deadline
 * with).  The input is the field value, copied to a buffer of its own
 * size so that ASan sees any read past it.  The result is checked against
 * a reference written apart: 1 to 8 digits, one unit letter, a positive
 * value, rounded up to ms, at most a day.  Invariants are checked with
 * abort().
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ngx_config.h>
#include <ngx_core.h>
#include "nginx_stubs.h"
#include "ngx_gateway_bulkhead.h"


#define FUZZ_UNSET  ((ngx_msec_t) 0x5a5a5a5a)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* the budget in ms, or -1: refused */

static int64_t
fuzz_reference(const u_char *p, size_t len)
{
    size_t    i;
    double    v, ns;

    if (len < 2 || len > 9) {
        return -1;
    }

    v = 0;

    for (i = 0; i + 1 < len; i++) {
        if (!isdigit(p[i])) {
            return -1;
        }

        v = v * 10 + (p[i] - '0');
    }

    switch (p[len - 1]) {
    case 'H': ns = v * 3600e9; break;
    case 'M': ns = v * 60e9; break;
    case 'S': ns = v * 1e9; break;
    case 'm': ns = v * 1e6; break;
    case 'u': ns = v * 1e3; break;
    case 'n': ns = v; break;
    default: return -1;
    }

    if (v == 0) {
        return -1;
    }

    /* whole ms, rounded up: exact in a double for these magnitudes */

    v = (ns + 999999) / 1e6;
    v = (double) (int64_t) v;

    return (v > NGX_GATEWAY_DEADLINE_MAX) ? NGX_GATEWAY_DEADLINE_MAX
                                          : (int64_t) v;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *value;
    int64_t      expect;
    ngx_int_t    rc;
    ngx_msec_t   ms;

    value = malloc(size ? size : 1);
    if (value == NULL) {
        abort();
    }

    ngx_memcpy(value, data, size);

    ms = FUZZ_UNSET;
    rc = ngx_gateway_parse_grpc_timeout(value, size, &ms);
    expect = fuzz_reference(value, size);

    if (rc == NGX_OK) {
        if (expect < 1 || ms != (ngx_msec_t) expect
            || ms > NGX_GATEWAY_DEADLINE_MAX)
        {
            abort();
        }

    } else if (rc != NGX_DECLINED || expect >= 0 || ms != FUZZ_UNSET) {
        abort();
    }

    free(value);

    return 0;
}
