
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * libFuzzer harness of ngx_gateway_consumers_parse(): the input is
 * the text of a consumers file, copied to a buffer of its own size so
 * that ASan sees any read past it (the error locator scans the text).
 * A refused file must come with an error text; a loaded one must hold
 * only valid consumers, each found by each of its key digests and by
 * its JWT subject, and nothing found for a key or subject it lacks;
 * what it holds is what jansson alone reads in the file.
 * Invariants are checked with abort().
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ngx_config.h>
#include <ngx_core.h>
#include "nginx_stubs.h"
#include <jansson.h>
#include <openssl/sha.h>
#include "ngx_gateway_parse.h"
#include "ngx_gateway_consumers.h"


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


static ngx_int_t
fuzz_hex(u_char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


static void
fuzz_check_id(ngx_str_t *id)
{
    u_char  *p;

    if (id->len == 0 || id->len > 128) {
        abort();
    }

    for (p = id->data; p < id->data + id->len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'
              || *p == '.' || *p == '@' || *p == ':'))
        {
            abort();
        }
    }
}


static void
fuzz_check_consumer(ngx_gateway_consumers_t *cs,
    ngx_gateway_consumer_t *c)
{
    u_char      *digest;
    ngx_int_t    hi, lo;
    ngx_str_t    err, *key;
    ngx_uint_t   i, j, star, rate, burst;

    fuzz_check_id(&c->id);

    for (j = 0; j < c->nkeys; j++) {
        key = &c->keys[j];
        digest = c->digests + j * NGX_GATEWAY_DIGEST_LEN;

        if (key->len != 7 + 2 * NGX_GATEWAY_DIGEST_LEN
            || ngx_strncmp(key->data, "sha256:", 7) != 0)
        {
            abort();
        }

        for (i = 0; i < NGX_GATEWAY_DIGEST_LEN; i++) {
            hi = fuzz_hex(key->data[7 + 2 * i]);
            lo = fuzz_hex(key->data[8 + 2 * i]);

            if (hi < 0 || lo < 0 || digest[i] != (u_char) (hi << 4 | lo)) {
                abort();
            }
        }

        if (ngx_gateway_consumers_by_key(cs, digest) != c) {
            abort();
        }
    }

    if (c->jwt_subject.len
        && ngx_gateway_consumers_by_subject(cs, &c->jwt_subject) != c)
    {
        abort();
    }

    if (c->services == NULL && !c->all_services) {
        abort();
    }

    star = 0;

    for (i = 0; i < c->nservices; i++) {
        if (c->services[i].len == 0) {
            abort();
        }

        if (c->services[i].len == 1 && c->services[i].data[0] == '*') {
            star = 1;
        }
    }

    if (star != c->all_services) {
        abort();
    }

    if (c->rate_limit.len == 0) {
        if (c->rate != 0 || c->burst != 0) {
            abort();
        }

        return;
    }

    if (ngx_gateway_parse_rate_limit(&c->rate_limit, &rate, &burst,
                                     &err)
        != NGX_OK
        || rate != c->rate || burst != c->burst || rate == 0)
    {
        abort();
    }
}


static ngx_uint_t
fuzz_same(json_t *value, ngx_str_t *str)
{
    if (value == NULL) {
        return str->len == 0;
    }

    return json_is_string(value)
           && json_string_length(value) == str->len
           && ngx_memcmp(json_string_value(value), str->data, str->len) == 0;
}


/* what jansson alone reads in a loaded file is what was loaded */

static void
fuzz_check_json(const uint8_t *data, size_t size,
    ngx_gateway_consumers_t *cs)
{
    size_t                        i;
    json_t                       *root, *list, *item, *v;
    const char                   *member;
    ngx_gateway_consumer_t       *c;

    root = json_loadb((const char *) data, size, JSON_REJECT_DUPLICATES,
                      NULL);

    if (!json_is_object(root) || json_object_size(root) != 1) {
        abort();
    }

    list = json_object_get(root, "consumers");

    if (!json_is_array(list) || json_array_size(list) != cs->nconsumers) {
        abort();
    }

    json_array_foreach(list, i, item) {
        c = &cs->consumers[i];

        if (!json_is_object(item) || !fuzz_same(json_object_get(item, "id"),
                                                &c->id))
        {
            abort();
        }

        json_object_foreach(item, member, v) {
            if (ngx_strcmp(member, "id") != 0
                && ngx_strcmp(member, "keys") != 0
                && ngx_strcmp(member, "services") != 0
                && ngx_strcmp(member, "jwt_subject") != 0
                && ngx_strcmp(member, "jwt_issuer") != 0
                && ngx_strcmp(member, "rate_limit") != 0)
            {
                abort();
            }
        }

        v = json_object_get(item, "keys");

        if (json_array_size(v) != c->nkeys) {
            abort();
        }

        v = json_object_get(item, "services");

        if (!json_is_array(v) || json_array_size(v) != c->nservices) {
            abort();
        }

        if (!fuzz_same(json_object_get(item, "jwt_subject"), &c->jwt_subject)
            || !fuzz_same(json_object_get(item, "jwt_issuer"), &c->jwt_issuer)
            || (c->jwt_issuer.len && c->jwt_subject.len == 0)
            || !fuzz_same(json_object_get(item, "rate_limit"),
                          &c->rate_limit))
        {
            abort();
        }
    }

    json_decref(root);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    u_char                         *text, digest[SHA256_DIGEST_LENGTH];
    ngx_int_t                       rc;
    ngx_str_t                       err, subject;
    ngx_uint_t                      i, j, nkeys;
    ngx_pool_t                     *pool;
    ngx_gateway_consumer_t         *c;
    ngx_gateway_consumers_t         cs;

    pool = ngx_create_pool(4096, &nginx_stub_log);
    if (pool == NULL) {
        abort();
    }

    text = ngx_pnalloc(pool, size ? size : 1);
    if (text == NULL) {
        abort();
    }

    ngx_memcpy(text, data, size);

    err.len = 0;
    err.data = NULL;

    rc = ngx_gateway_consumers_parse(pool, text, size, &cs, &err);

    if (rc == NGX_DECLINED) {
        if (err.data == NULL || err.len == 0 || err.len > NGX_MAX_ERROR_STR)
        {
            abort();
        }

        goto done;
    }

    if (rc != NGX_OK) {
        abort();
    }

    if ((cs.nconsumers != 0) != (cs.consumers != NULL)
        || cs.keys == NULL || cs.subjects == NULL
        || (cs.keys_mask & (cs.keys_mask + 1)) != 0
        || (cs.subjects_mask & (cs.subjects_mask + 1)) != 0
        || cs.keys_mask + 1 < 2 * cs.nkeys
        || cs.subjects_mask + 1 < 2 * cs.nconsumers)
    {
        abort();
    }

    nkeys = 0;

    for (i = 0; i < cs.nconsumers; i++) {
        c = &cs.consumers[i];

        fuzz_check_consumer(&cs, c);
        nkeys += c->nkeys;

        for (j = 0; j < i; j++) {
            if (c->id.len == cs.consumers[j].id.len
                && ngx_memcmp(c->id.data, cs.consumers[j].id.data,
                              c->id.len)
                   == 0)
            {
                abort();
            }
        }
    }

    if (nkeys != cs.nkeys) {
        abort();
    }

    fuzz_check_json(data, size, &cs);

    /* a key and a subject most likely nobody has: the input's digest */

    SHA256(data, size, digest);

    c = ngx_gateway_consumers_by_key(&cs, digest);

    if (c != NULL) {
        for (j = 0; j < c->nkeys; j++) {
            if (ngx_memcmp(c->digests + j * NGX_GATEWAY_DIGEST_LEN,
                           digest, NGX_GATEWAY_DIGEST_LEN)
                == 0)
            {
                break;
            }
        }

        if (j == c->nkeys) {
            abort();
        }
    }

    subject.data = digest;
    subject.len = sizeof(digest);

    c = ngx_gateway_consumers_by_subject(&cs, &subject);

    if (c != NULL
        && (c->jwt_subject.len != subject.len
            || ngx_memcmp(c->jwt_subject.data, subject.data, subject.len)
               != 0))
    {
        abort();
    }

done:

    ngx_destroy_pool(pool);

    return 0;
}
