
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * libFuzzer harness of ngx_gateway_http_parse(): the input is a response
 * as a server (or whoever answers in its place) sends it, received in
 * pieces whose sizes the input's first byte chooses.  A response taken
 * has a status of 100-599, a body within the buffer and within max_size,
 * and the same outcome as the same bytes received at once; a refused one
 * a reason.  Invariants are checked with abort().
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ngx_config.h>
#include <ngx_core.h>
#include "nginx_stubs.h"
#include "ngx_gateway_http.h"


#define FUZZ_MAX_SIZE  1024
#define FUZZ_BUF_SIZE  (FUZZ_MAX_SIZE + NGX_GATEWAY_HTTP_SLACK)


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static ngx_int_t
fuzz_feed(const uint8_t *data, size_t size, size_t step, u_char *buf,
    ngx_gateway_http_response_t *hr)
{
    size_t     len, off, n;
    ngx_int_t  rc;

    hr->max_size = FUZZ_MAX_SIZE;
    ngx_gateway_http_response_init(hr);

    len = 0;
    off = 0;

    while (off < size) {
        n = ngx_min(step, size - off);

        /* as the client does: a full buffer is a response too big */
        if (len + n > FUZZ_BUF_SIZE) {
            return NGX_BUSY;
        }

        ngx_memcpy(buf + len, data + off, n);
        len += n;
        off += n;

        rc = ngx_gateway_http_parse(hr, buf, &len, 0);

        if (len > FUZZ_BUF_SIZE) {
            abort();
        }

        if (rc != NGX_AGAIN) {
            return rc;
        }
    }

    return ngx_gateway_http_parse(hr, buf, &len, 1);
}


static void
fuzz_check(ngx_int_t rc, u_char *buf, ngx_gateway_http_response_t *hr)
{
    if (rc == NGX_OK) {
        if (hr->status < 100 || hr->status > 599
            || hr->body.len > FUZZ_MAX_SIZE
            || (hr->body.len && (hr->body.data < buf
                                 || hr->body.data + hr->body.len
                                    > buf + FUZZ_BUF_SIZE))
            || hr->headers.data + hr->headers.len > buf + FUZZ_BUF_SIZE)
        {
            abort();
        }

        return;
    }

    if (rc == NGX_DECLINED && hr->err == NULL) {
        abort();
    }

    if (rc != NGX_DECLINED && rc != NGX_BUSY) {
        abort();
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                       *whole, *pieces;
    size_t                        step;
    ngx_int_t                     rc1, rc2;
    ngx_str_t                     name, value;
    ngx_gateway_http_response_t   hr1, hr2;

    if (size < 1) {
        return 0;
    }

    step = data[0] % 16 + 1;
    data++;
    size--;

    whole = malloc(FUZZ_BUF_SIZE);
    pieces = malloc(FUZZ_BUF_SIZE);

    if (whole == NULL || pieces == NULL) {
        abort();
    }

    rc1 = fuzz_feed(data, size, size ? size : 1, whole, &hr1);
    rc2 = fuzz_feed(data, size, step, pieces, &hr2);

    fuzz_check(rc1, whole, &hr1);
    fuzz_check(rc2, pieces, &hr2);

    /* how the bytes arrive changes nothing of the outcome */

    if (rc1 == NGX_OK || rc2 == NGX_OK) {
        if (rc1 != rc2 || hr1.status != hr2.status
            || hr1.max_age != hr2.max_age
            || hr1.body.len != hr2.body.len
            || ngx_memcmp(hr1.body.data, hr2.body.data, hr1.body.len) != 0)
        {
            abort();
        }

        ngx_str_set(&name, "Content-Type");
        (void) ngx_gateway_http_header(&hr1, &name, &value);
    }

    free(whole);
    free(pieces);

    return 0;
}
