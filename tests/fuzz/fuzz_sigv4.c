
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * libFuzzer harness of the SigV4 canonical forms: the path and the query
 * come from clients.  The input is split at the first two NUL bytes into
 * a path, a query and a header value.  Checked with abort(): the path
 * and the query come out as "/" and unreserved bytes, "%", "=" and "&"
 * only, with every "%" followed by two upper case hex digits (and a path
 * starting with "/" still does); the
 * canonical query of a canonical query is itself; a header value comes
 * out trimmed, without two spaces in a row.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ngx_config.h>
#include <ngx_core.h>
#include "nginx_stubs.h"
#include "ngx_gateway_sigv4.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static void
fuzz_check_encoded(ngx_str_t *s, const char *also)
{
    u_char  c;
    size_t  i;

    for (i = 0; i < s->len; i++) {
        c = s->data[i];

        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z')
            || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
            || c == '~' || (c && strchr(also, c)))
        {
            continue;
        }

        if (c != '%' || i + 2 >= s->len) {
            abort();
        }

        if (s->data[i + 1] == '\0' || s->data[i + 2] == '\0'
            || !strchr("0123456789ABCDEF", s->data[i + 1])
            || !strchr("0123456789ABCDEF", s->data[i + 2]))
        {
            abort();
        }

        i += 2;
    }
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                      *buf, *p, *last, *nul;
    ngx_str_t                    part[3], out, again, sh;
    ngx_uint_t                   i;
    ngx_pool_t                  *pool;
    ngx_gateway_sigv4_header_t   h;

    buf = malloc(size ? size : 1);
    if (buf == NULL) {
        abort();
    }

    ngx_memcpy(buf, data, size);

    p = buf;
    last = buf + size;

    for (i = 0; i < 3; i++) {
        nul = (i < 2) ? memchr(p, '\0', last - p) : NULL;

        part[i].data = p;
        part[i].len = (nul ? nul : last) - p;
        p = nul ? nul + 1 : last;
    }

    pool = ngx_create_pool(1024, &nginx_stub_log);
    if (pool == NULL) {
        abort();
    }

    if (ngx_gateway_sigv4_canonical_uri(pool, &part[0], &out) != NGX_OK) {
        abort();
    }

    /* the gateway's paths start with "/", and so does their form */

    if (part[0].len && part[0].data[0] == '/'
        && (out.len == 0 || out.data[0] != '/'))
    {
        abort();
    }

    fuzz_check_encoded(&out, "/");

    if (ngx_gateway_sigv4_canonical_query(pool, &part[1], &out) != NGX_OK) {
        abort();
    }

    fuzz_check_encoded(&out, "=&");

    if (ngx_gateway_sigv4_canonical_query(pool, &out, &again) != NGX_OK
        || again.len != out.len
        || ngx_memcmp(again.data, out.data, out.len) != 0)
    {
        abort();
    }

    ngx_str_set(&h.name, "X-Fuzz");
    h.value = part[2];

    if (ngx_gateway_sigv4_canonical_headers(pool, &h, 1, &out, &sh)
        != NGX_OK)
    {
        abort();
    }

    /* "x-fuzz:" VALUE "\n" */

    if (out.len < 8 || ngx_strncmp(out.data, "x-fuzz:", 7) != 0
        || out.data[out.len - 1] != '\n')
    {
        abort();
    }

    for (p = out.data + 7; p < out.data + out.len - 1; p++) {
        if (*p == '\t' || *p == '\n' || *p == '\r'
            || (*p == ' ' && (p == out.data + 7
                              || p == out.data + out.len - 2
                              || p[1] == ' ')))
        {
            abort();
        }
    }

    ngx_destroy_pool(pool);
    free(buf);

    return 0;
}
