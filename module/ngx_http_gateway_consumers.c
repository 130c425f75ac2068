
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include "ngx_http_gateway_parse.h"
#include "ngx_http_gateway_consumers.h"


#define NGX_HTTP_GATEWAY_CONSUMER_ID_MAX  128


typedef struct {
    ngx_pool_t                     *pool;
    u_char                         *data;
    size_t                          len;
    ngx_str_t                      *err;
    ngx_http_gateway_consumers_t   *consumers;
} ngx_http_gateway_consumers_ctx_t;


static ngx_int_t ngx_http_gateway_consumer_parse(
    ngx_http_gateway_consumers_ctx_t *ctx, json_t *item, ngx_uint_t n);
static ngx_int_t ngx_http_gateway_consumer_keys(
    ngx_http_gateway_consumers_ctx_t *ctx, ngx_http_gateway_consumer_t *c,
    json_t *keys);
static ngx_int_t ngx_http_gateway_consumer_services(
    ngx_http_gateway_consumers_ctx_t *ctx, ngx_http_gateway_consumer_t *c,
    json_t *services);
static ngx_int_t ngx_http_gateway_consumer_string(
    ngx_http_gateway_consumers_ctx_t *ctx, json_t *value, const char *member,
    ngx_str_t *str);
static ngx_int_t ngx_http_gateway_consumer_id(ngx_str_t *id);
static ngx_int_t ngx_http_gateway_consumers_tables(
    ngx_http_gateway_consumers_ctx_t *ctx);
static ngx_int_t ngx_http_gateway_consumers_error(
    ngx_http_gateway_consumers_ctx_t *ctx, const char *member,
    ngx_str_t *value, ngx_uint_t occurrence, const char *fmt, ...);
static u_char *ngx_http_gateway_consumers_locate(
    ngx_http_gateway_consumers_ctx_t *ctx, const char *member,
    ngx_str_t *value, ngx_uint_t occurrence);
static ngx_uint_t ngx_http_gateway_consumers_key_slot(u_char *digest);
static void ngx_http_gateway_consumers_cleanup(void *data);


ngx_int_t
ngx_http_gateway_consumers_parse(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_http_gateway_consumers_t *consumers, ngx_str_t *err)
{
    u_char                            *p;
    size_t                             i;
    json_t                            *root, *list, *item;
    ngx_int_t                          rc;
    const char                        *member;
    json_error_t                       error;
    ngx_pool_cleanup_t                *cln;
    ngx_http_gateway_consumers_ctx_t   ctx;

    ngx_memzero(consumers, sizeof(ngx_http_gateway_consumers_t));

    consumers->text.data = data;
    consumers->text.len = len;

    ctx.pool = pool;
    ctx.data = data;
    ctx.len = len;
    ctx.err = err;
    ctx.consumers = consumers;

    root = json_loadb((char *) data, len, JSON_REJECT_DUPLICATES, &error);

    if (root == NULL) {
        p = ngx_pnalloc(pool, NGX_MAX_ERROR_STR);
        if (p == NULL) {
            return NGX_ERROR;
        }

        err->data = p;
        err->len = ngx_snprintf(p, NGX_MAX_ERROR_STR,
                                "invalid JSON at line %d, column %d: %s",
                                error.line, error.column, error.text)
                   - p;

        return NGX_DECLINED;
    }

    cln = ngx_pool_cleanup_add(pool, 0);
    if (cln == NULL) {
        json_decref(root);
        return NGX_ERROR;
    }

    cln->handler = ngx_http_gateway_consumers_cleanup;
    cln->data = root;

    if (!json_is_object(root)) {
        ngx_str_set(err, "the file holds a JSON object: "
                         "{\"consumers\": [...]}");
        return NGX_DECLINED;
    }

    json_object_foreach(root, member, item) {
        if (ngx_strcmp(member, "consumers") != 0) {
            return ngx_http_gateway_consumers_error(&ctx, NULL, NULL, 0,
                       "unknown member \"%s\" at the top level", member);
        }
    }

    list = json_object_get(root, "consumers");

    if (!json_is_array(list)) {
        ngx_str_set(err, "the file holds {\"consumers\": [...]}, an array");
        return NGX_DECLINED;
    }

    consumers->nconsumers = json_array_size(list);

    if (consumers->nconsumers) {
        consumers->consumers = ngx_pcalloc(pool,
                                   consumers->nconsumers
                                   * sizeof(ngx_http_gateway_consumer_t));
        if (consumers->consumers == NULL) {
            return NGX_ERROR;
        }
    }

    json_array_foreach(list, i, item) {
        rc = ngx_http_gateway_consumer_parse(&ctx, item, i);
        if (rc != NGX_OK) {
            return rc;
        }
    }

    return ngx_http_gateway_consumers_tables(&ctx);
}


static ngx_int_t
ngx_http_gateway_consumer_parse(ngx_http_gateway_consumers_ctx_t *ctx,
    json_t *item, ngx_uint_t n)
{
    json_t                       *value;
    ngx_int_t                     rc;
    ngx_str_t                     err;
    const char                   *member;
    ngx_http_gateway_consumer_t  *c;

    c = &ctx->consumers->consumers[n];

    if (!json_is_object(item)) {
        return ngx_http_gateway_consumers_error(ctx, NULL, NULL, 0,
                   "consumer #%ui is not a JSON object", n + 1);
    }

    rc = ngx_http_gateway_consumer_string(ctx, json_object_get(item, "id"),
                                          "id", &c->id);
    if (rc != NGX_OK) {
        if (rc == NGX_ABORT) {
            return ngx_http_gateway_consumers_error(ctx, NULL, NULL, 0,
                       "consumer #%ui has no \"id\" string", n + 1);
        }

        return rc;
    }

    if (ngx_http_gateway_consumer_id(&c->id) != NGX_OK) {
        return ngx_http_gateway_consumers_error(ctx, "id", &c->id, 1,
                   "invalid consumer id \"%V\": 1 to 128 letters, digits "
                   "and \"_-.@:\"", &c->id);
    }

    json_object_foreach(item, member, value) {

        if (ngx_strcmp(member, "id") == 0) {
            continue;
        }

        if (ngx_strcmp(member, "keys") == 0) {
            rc = ngx_http_gateway_consumer_keys(ctx, c, value);

        } else if (ngx_strcmp(member, "services") == 0) {
            rc = ngx_http_gateway_consumer_services(ctx, c, value);

        } else if (ngx_strcmp(member, "jwt_subject") == 0) {
            rc = ngx_http_gateway_consumer_string(ctx, value, member,
                                                  &c->jwt_subject);

        } else if (ngx_strcmp(member, "jwt_issuer") == 0) {
            rc = ngx_http_gateway_consumer_string(ctx, value, member,
                                                  &c->jwt_issuer);

        } else if (ngx_strcmp(member, "rate_limit") == 0) {
            rc = ngx_http_gateway_consumer_string(ctx, value, member,
                                                  &c->rate_limit);

            if (rc == NGX_OK
                && ngx_http_gateway_parse_rate_limit(&c->rate_limit, &c->rate,
                                                     &c->burst, &err)
                   != NGX_OK)
            {
                return ngx_http_gateway_consumers_error(ctx, member,
                           &c->rate_limit, 1,
                           "invalid rate_limit \"%V\" of consumer \"%V\": %V",
                           &c->rate_limit, &c->id, &err);
            }

        } else {
            return ngx_http_gateway_consumers_error(ctx, NULL, NULL, 0,
                       "unknown member \"%s\" in consumer \"%V\"",
                       member, &c->id);
        }

        if (rc == NGX_ABORT) {
            return ngx_http_gateway_consumers_error(ctx, NULL, NULL, 0,
                       "\"%s\" of consumer \"%V\" is not a string",
                       member, &c->id);
        }

        if (rc != NGX_OK) {
            return rc;
        }
    }

    if (c->services == NULL && !c->all_services) {
        return ngx_http_gateway_consumers_error(ctx, "id", &c->id, 1,
                   "consumer \"%V\" has no \"services\" list (use [\"*\"] "
                   "for every service)", &c->id);
    }

    if (c->jwt_issuer.len && c->jwt_subject.len == 0) {
        return ngx_http_gateway_consumers_error(ctx, "jwt_issuer",
                   &c->jwt_issuer, 1,
                   "\"jwt_issuer\" of consumer \"%V\" has no \"jwt_subject\"",
                   &c->id);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gateway_consumer_keys(ngx_http_gateway_consumers_ctx_t *ctx,
    ngx_http_gateway_consumer_t *c, json_t *keys)
{
    u_char     *hex, *digest;
    size_t      i, j;
    json_t     *key;
    ngx_int_t   byte;
    ngx_str_t  *text;

    if (!json_is_array(keys)) {
        return ngx_http_gateway_consumers_error(ctx, NULL, NULL, 0,
                   "\"keys\" of consumer \"%V\" is not an array", &c->id);
    }

    c->keys = ngx_palloc(ctx->pool,
                         (json_array_size(keys) + 1) * sizeof(ngx_str_t));
    c->digests = ngx_palloc(ctx->pool, (json_array_size(keys) + 1)
                                       * NGX_HTTP_GATEWAY_DIGEST_LEN);
    if (c->keys == NULL || c->digests == NULL) {
        return NGX_ERROR;
    }

    json_array_foreach(keys, i, key) {
        if (!json_is_string(key)) {
            return ngx_http_gateway_consumers_error(ctx, NULL, NULL, 0,
                       "key #%uz of consumer \"%V\" is not a string",
                       i + 1, &c->id);
        }

        text = &c->keys[i];
        text->data = (u_char *) json_string_value(key);
        text->len = json_string_length(key);

        digest = c->digests + i * NGX_HTTP_GATEWAY_DIGEST_LEN;
        hex = text->data + sizeof("sha256:") - 1;

        byte = NGX_ERROR;

        if (text->len == sizeof("sha256:") - 1
                         + 2 * NGX_HTTP_GATEWAY_DIGEST_LEN
            && ngx_strncmp(text->data, "sha256:", 7) == 0)
        {
            for (j = 0; j < NGX_HTTP_GATEWAY_DIGEST_LEN; j++) {
                byte = ngx_hextoi(hex + 2 * j, 2);

                if (byte == NGX_ERROR) {
                    break;
                }

                digest[j] = (u_char) byte;
            }
        }

        if (byte == NGX_ERROR) {
            return ngx_http_gateway_consumers_error(ctx, NULL, text, 1,
                       "key #%uz of consumer \"%V\" is not \"sha256:\" "
                       "and 64 hexadecimal digits", i + 1, &c->id);
        }

        c->nkeys++;
        ctx->consumers->nkeys++;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_gateway_consumer_services(ngx_http_gateway_consumers_ctx_t *ctx,
    ngx_http_gateway_consumer_t *c, json_t *services)
{
    size_t      i;
    json_t     *s;
    ngx_str_t  *name;

    if (!json_is_array(services)) {
        return ngx_http_gateway_consumers_error(ctx, NULL, NULL, 0,
                   "\"services\" of consumer \"%V\" is not an array",
                   &c->id);
    }

    c->services = ngx_palloc(ctx->pool,
                             (json_array_size(services) + 1)
                             * sizeof(ngx_str_t));
    if (c->services == NULL) {
        return NGX_ERROR;
    }

    json_array_foreach(services, i, s) {
        if (!json_is_string(s) || json_string_length(s) == 0) {
            return ngx_http_gateway_consumers_error(ctx, NULL, NULL, 0,
                       "service #%uz of consumer \"%V\" is not a name",
                       i + 1, &c->id);
        }

        name = &c->services[c->nservices++];
        name->data = (u_char *) json_string_value(s);
        name->len = json_string_length(s);

        if (name->len == 1 && name->data[0] == '*') {
            c->all_services = 1;
        }
    }

    return NGX_OK;
}


/* NGX_ABORT: the value is missing or not a string */

static ngx_int_t
ngx_http_gateway_consumer_string(ngx_http_gateway_consumers_ctx_t *ctx,
    json_t *value, const char *member, ngx_str_t *str)
{
    if (!json_is_string(value)) {
        return NGX_ABORT;
    }

    str->data = (u_char *) json_string_value(value);
    str->len = json_string_length(value);

    return NGX_OK;
}


/* ids travel in the X-Gateway-Consumer header and in logs */

static ngx_int_t
ngx_http_gateway_consumer_id(ngx_str_t *id)
{
    u_char  *p, *last;

    if (id->len == 0 || id->len > NGX_HTTP_GATEWAY_CONSUMER_ID_MAX) {
        return NGX_ERROR;
    }

    last = id->data + id->len;

    for (p = id->data; p < last; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
            || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'
            || *p == '.' || *p == '@' || *p == ':')
        {
            continue;
        }

        return NGX_ERROR;
    }

    return NGX_OK;
}


/*
 * Builds the digest and subject tables, finding duplicates of ids,
 * keys and subjects on the way.
 */

static ngx_int_t
ngx_http_gateway_consumers_tables(ngx_http_gateway_consumers_ctx_t *ctx)
{
    u_char                           *digest;
    ngx_uint_t                        i, j, slot, size;
    ngx_http_gateway_consumer_t      *c, **ids;
    ngx_http_gateway_key_slot_t      *ks;
    ngx_http_gateway_consumers_t     *cs;
    ngx_http_gateway_subject_slot_t  *ss;

    cs = ctx->consumers;

    /* ids: through a table of their own, as files of a million load */

    for (size = 8; size < 2 * cs->nconsumers; size <<= 1) { /* void */ }

    ids = ngx_pcalloc(ctx->pool, size * sizeof(ngx_http_gateway_consumer_t *));
    if (ids == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < cs->nconsumers; i++) {
        c = &cs->consumers[i];
        slot = ngx_crc32_short(c->id.data, c->id.len) & (size - 1);

        while (ids[slot]) {
            if (ids[slot]->id.len == c->id.len
                && ngx_memcmp(ids[slot]->id.data, c->id.data, c->id.len) == 0)
            {
                return ngx_http_gateway_consumers_error(ctx, "id", &c->id, 2,
                           "duplicate consumer id \"%V\"", &c->id);
            }

            slot = (slot + 1) & (size - 1);
        }

        ids[slot] = c;
    }

    ngx_pfree(ctx->pool, ids);

    for (size = 8; size < 2 * cs->nkeys; size <<= 1) { /* void */ }

    cs->keys = ngx_pcalloc(ctx->pool,
                           size * sizeof(ngx_http_gateway_key_slot_t));
    if (cs->keys == NULL) {
        return NGX_ERROR;
    }

    cs->keys_mask = size - 1;

    for (size = 8; size < 2 * cs->nconsumers; size <<= 1) { /* void */ }

    cs->subjects = ngx_pcalloc(ctx->pool,
                               size * sizeof(ngx_http_gateway_subject_slot_t));
    if (cs->subjects == NULL) {
        return NGX_ERROR;
    }

    cs->subjects_mask = size - 1;

    for (i = 0; i < cs->nconsumers; i++) {
        c = &cs->consumers[i];

        if (c->jwt_subject.len) {
            slot = ngx_crc32_short(c->jwt_subject.data,
                                                   c->jwt_subject.len)
                   & cs->subjects_mask;

            for ( ;; ) {
                ss = &cs->subjects[slot];

                if (ss->consumer == NULL) {
                    ss->subject = c->jwt_subject;
                    ss->consumer = c;
                    break;
                }

                if (ss->subject.len == c->jwt_subject.len
                    && ngx_memcmp(ss->subject.data, c->jwt_subject.data,
                                  c->jwt_subject.len)
                       == 0)
                {
                    return ngx_http_gateway_consumers_error(ctx,
                               "jwt_subject", &c->jwt_subject, 2,
                               "consumers \"%V\" and \"%V\" have the same "
                               "jwt_subject \"%V\"", &ss->consumer->id,
                               &c->id, &c->jwt_subject);
                }

                slot = (slot + 1) & cs->subjects_mask;
            }
        }
    }

    for (i = 0; i < cs->nconsumers; i++) {
        c = &cs->consumers[i];

        for (j = 0; j < c->nkeys; j++) {
            digest = c->digests + j * NGX_HTTP_GATEWAY_DIGEST_LEN;

            if (ngx_http_gateway_consumers_by_key(cs, digest) != NULL) {
                return ngx_http_gateway_consumers_error(ctx, NULL,
                           &c->keys[j], 2,
                           "duplicate key \"%V\" (consumer \"%V\")",
                           &c->keys[j], &c->id);
            }

            slot = ngx_http_gateway_consumers_key_slot(digest);

            while (cs->keys[slot & cs->keys_mask].consumer) {
                slot++;
            }

            ks = &cs->keys[slot & cs->keys_mask];
            ngx_memcpy(ks->digest, digest, NGX_HTTP_GATEWAY_DIGEST_LEN);
            ks->consumer = c;
        }
    }

    return NGX_OK;
}


ngx_http_gateway_consumer_t *
ngx_http_gateway_consumers_by_key(ngx_http_gateway_consumers_t *consumers,
    u_char *digest)
{
    ngx_uint_t                    slot;
    ngx_http_gateway_key_slot_t  *ks;

    if (consumers->keys == NULL) {
        return NULL;
    }

    slot = ngx_http_gateway_consumers_key_slot(digest);

    for ( ;; ) {
        ks = &consumers->keys[slot & consumers->keys_mask];

        if (ks->consumer == NULL) {
            return NULL;
        }

        if (CRYPTO_memcmp(ks->digest, digest, NGX_HTTP_GATEWAY_DIGEST_LEN)
            == 0)
        {
            return ks->consumer;
        }

        slot++;
    }
}


ngx_http_gateway_consumer_t *
ngx_http_gateway_consumers_by_subject(ngx_http_gateway_consumers_t *consumers,
    ngx_str_t *subject)
{
    ngx_uint_t                        slot;
    ngx_http_gateway_subject_slot_t  *ss;

    if (consumers->subjects == NULL) {
        return NULL;
    }

    slot = ngx_crc32_short(subject->data, subject->len)
           & consumers->subjects_mask;

    for ( ;; ) {
        ss = &consumers->subjects[slot];

        if (ss->consumer == NULL) {
            return NULL;
        }

        if (ss->subject.len == subject->len
            && ngx_memcmp(ss->subject.data, subject->data, subject->len) == 0)
        {
            return ss->consumer;
        }

        slot = (slot + 1) & consumers->subjects_mask;
    }
}


static ngx_uint_t
ngx_http_gateway_consumers_key_slot(u_char *digest)
{
    /* a SHA-256 digest is uniform: its first bytes are a good hash */

    return (ngx_uint_t) digest[0] | (ngx_uint_t) digest[1] << 8
           | (ngx_uint_t) digest[2] << 16 | (ngx_uint_t) digest[3] << 24;
}


/*
 * Formats *ctx->err and returns NGX_DECLINED.  When the offending value
 * is given, the message ends with its line and column in the file.
 */

static ngx_int_t
ngx_http_gateway_consumers_error(ngx_http_gateway_consumers_ctx_t *ctx,
    const char *member, ngx_str_t *value, ngx_uint_t occurrence,
    const char *fmt, ...)
{
    u_char      *p, *last, *at, *s;
    va_list      args;
    ngx_uint_t   line, column;

    p = ngx_pnalloc(ctx->pool, NGX_MAX_ERROR_STR);
    if (p == NULL) {
        return NGX_ERROR;
    }

    last = p + NGX_MAX_ERROR_STR;

    va_start(args, fmt);
    ctx->err->data = p;
    p = ngx_vslprintf(p, last, fmt, args);
    va_end(args);

    at = (value && occurrence)
         ? ngx_http_gateway_consumers_locate(ctx, member, value, occurrence)
         : NULL;

    if (at) {
        line = 1;
        column = 1;

        for (s = ctx->data; s < at; s++) {
            if (*s == '\n') {
                line++;
                column = 1;

            } else {
                column++;
            }
        }

        p = ngx_slprintf(p, last, " at line %ui, column %ui", line, column);
    }

    ctx->err->len = p - ctx->err->data;

    return NGX_DECLINED;
}


/*
 * jansson keeps no positions: find the occurrence-th "value" string in
 * the text, as the value of "member" when one is named.  NULL when the
 * text writes it otherwise (escapes, other case).
 */

static u_char *
ngx_http_gateway_consumers_locate(ngx_http_gateway_consumers_ctx_t *ctx,
    const char *member, ngx_str_t *value, ngx_uint_t occurrence)
{
    u_char  *p, *q, *last;
    size_t   mlen;

    last = ctx->data + ctx->len;
    mlen = member ? ngx_strlen(member) : 0;

    for (p = ctx->data; p + value->len + 2 <= last; p++) {

        if (p[0] != '"' || p[value->len + 1] != '"'
            || ngx_memcmp(p + 1, value->data, value->len) != 0)
        {
            continue;
        }

        if (member) {
            q = p - 1;

            while (q >= ctx->data && (*q == ' ' || *q == '\t' || *q == '\r'
                                      || *q == '\n'))
            {
                q--;
            }

            if (q < ctx->data || *q != ':') {
                continue;
            }

            q--;

            while (q >= ctx->data && (*q == ' ' || *q == '\t' || *q == '\r'
                                      || *q == '\n'))
            {
                q--;
            }

            if (q - (ptrdiff_t) mlen - 1 < ctx->data || *q != '"'
                || *(q - mlen - 1) != '"'
                || ngx_memcmp(q - mlen, member, mlen) != 0)
            {
                continue;
            }
        }

        if (--occurrence == 0) {
            return p;
        }
    }

    return NULL;
}


ngx_int_t
ngx_http_gateway_consumers_where(ngx_http_gateway_consumers_t *cs,
    ngx_http_gateway_consumer_t *c, ngx_str_t *service, ngx_uint_t *line,
    ngx_uint_t *column)
{
    u_char                            *p, *q, *start, *last;
    ngx_http_gateway_consumers_ctx_t   ctx;

    ctx.data = cs->text.data;
    ctx.len = cs->text.len;

    start = ngx_http_gateway_consumers_locate(&ctx, "id", &c->id, 1);

    if (start == NULL) {
        return NGX_DECLINED;
    }

    /* from the consumer's "{": no member of a consumer is an object */

    while (start > ctx.data && *start != '{') {
        start--;
    }

    last = ctx.data + ctx.len;

    for (p = start; p + service->len + 2 <= last && *p != '}'; p++) {

        if (p[0] != '"' || p[service->len + 1] != '"'
            || ngx_memcmp(p + 1, service->data, service->len) != 0)
        {
            continue;
        }

        /* an element of an array, not a member's value */

        for (q = p - 1; q > start && (*q == ' ' || *q == '\t' || *q == '\r'
                                      || *q == '\n'); q--)
        {
            /* void */
        }

        if (*q == '[' || *q == ',') {
            break;
        }
    }

    if (p + service->len + 2 > last || *p == '}') {
        return NGX_DECLINED;
    }

    *line = 1;
    *column = 1;

    for (q = ctx.data; q < p; q++) {
        if (*q == '\n') {
            (*line)++;
            *column = 1;

        } else {
            (*column)++;
        }
    }

    return NGX_OK;
}


static void
ngx_http_gateway_consumers_cleanup(void *data)
{
    json_decref(data);
}
