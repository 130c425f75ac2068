
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * libFuzzer harness of ngx_gateway_parse_retry_after(), the parser
 * of a function's Retry-After header.  The first byte chooses "now": odd,
 * the next 4 bytes are it (any time a 32-bit clock reaches); even, a
 * fixed time of 2011.  The rest is the field value, copied to a buffer of
 * its own size so that ASan sees any read past it.  The result is
 * checked against a reference: delay-seconds are digits alone, anything
 * else is an HTTP-date as ngx_parse_http_time() reads it.  Invariants
 * are checked with abort().
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ngx_config.h>
#include <ngx_core.h>
#include "nginx_stubs.h"
#include <ngx_http.h>
#include "ngx_gateway_retry.h"


#define FUZZ_NOW    1300819000
#define FUZZ_UNSET  ((ngx_msec_t) 0x5a5a5a5a)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* the delay the value means, in seconds, or -1: refused */

static int64_t
fuzz_reference(u_char *p, size_t len, time_t now)
{
    u_char   *end;
    time_t    date;
    int64_t   sec;

    end = p + len;

    while (p < end && (*p == ' ' || *p == '\t')) {
        p++;
    }

    while (end > p && (end[-1] == ' ' || end[-1] == '\t')) {
        end--;
    }

    if (p == end) {
        return -1;
    }

    if (*p >= '0' && *p <= '9') {
        sec = 0;

        for ( /* void */ ; p < end; p++) {
            if (*p < '0' || *p > '9') {
                return -1;
            }

            sec = ngx_min(sec * 10 + (*p - '0'),
                          NGX_GATEWAY_RETRY_AFTER_MAX + 1);
        }

    } else {
        date = ngx_parse_http_time(p, end - p);

        if (date == NGX_ERROR) {
            return -1;
        }

        sec = (date > now) ? date - now : 0;
    }

    return ngx_min(sec, NGX_GATEWAY_RETRY_AFTER_MAX);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char      *value;
    time_t       now;
    int64_t      expect;
    uint32_t     now32;
    ngx_int_t    rc;
    ngx_msec_t   delay;

    if (size < 1) {
        return 0;
    }

    now = FUZZ_NOW;

    if (data[0] & 1) {
        if (size < 5) {
            return 0;
        }

        ngx_memcpy(&now32, data + 1, sizeof(uint32_t));
        now = now32;
        data += 4;
        size -= 4;
    }

    data++;
    size--;

    value = malloc(size ? size : 1);
    if (value == NULL) {
        abort();
    }

    ngx_memcpy(value, data, size);

    delay = FUZZ_UNSET;
    rc = ngx_gateway_parse_retry_after(value, size, now, &delay);
    expect = fuzz_reference(value, size, now);

    if (rc == NGX_OK) {
        if (expect < 0 || delay != (ngx_msec_t) expect * 1000
            || delay > NGX_GATEWAY_RETRY_AFTER_MAX * 1000)
        {
            abort();
        }

    } else if (rc != NGX_DECLINED || expect >= 0 || delay != FUZZ_UNSET) {
        abort();
    }

    free(value);

    return 0;
}
