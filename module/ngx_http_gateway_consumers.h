
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_HTTP_GATEWAY_CONSUMERS_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_CONSUMERS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The consumers file: who may call, with which API keys (stored as
 * SHA-256 digests only), under which JWT subject, and which services.
 * Parsed once per configuration; lookups are by digest and by subject.
 */


#define NGX_HTTP_GATEWAY_DIGEST_LEN   32


typedef struct {
    ngx_str_t                      id;
    ngx_str_t                     *keys;         /* "sha256:..." texts */
    u_char                        *digests;      /* their bytes */
    ngx_uint_t                     nkeys;
    ngx_str_t                      jwt_subject;  /* len 0: none */
    ngx_str_t                      jwt_issuer;   /* len 0: any issuer */
    ngx_str_t                     *services;     /* names, as written */
    ngx_uint_t                     nservices;
    ngx_str_t                      rate_limit;   /* len 0: none */
    ngx_uint_t                     rate;         /* 1 = 0.001 r/s */
    ngx_uint_t                     burst;
    void                          *allowed;      /* the glue's ACL */
    unsigned                       all_services:1;
} ngx_http_gateway_consumer_t;


typedef struct {
    u_char                         digest[NGX_HTTP_GATEWAY_DIGEST_LEN];
    ngx_http_gateway_consumer_t   *consumer;     /* NULL: empty slot */
} ngx_http_gateway_key_slot_t;


typedef struct {
    ngx_str_t                      subject;
    ngx_http_gateway_consumer_t   *consumer;     /* NULL: empty slot */
} ngx_http_gateway_subject_slot_t;


typedef struct {
    ngx_http_gateway_consumer_t       *consumers;
    ngx_uint_t                         nconsumers;
    ngx_http_gateway_key_slot_t       *keys;     /* open addressing */
    ngx_uint_t                         keys_mask;
    ngx_uint_t                         nkeys;
    ngx_http_gateway_subject_slot_t   *subjects;
    ngx_uint_t                         subjects_mask;
    ngx_str_t                          text;     /* as parsed */
} ngx_http_gateway_consumers_t;


/*
 * Parses the JSON text.  NGX_OK; NGX_ERROR on memory failure;
 * NGX_DECLINED with *err (in the pool) naming the problem and its line
 * and column in the text.
 */
ngx_int_t ngx_http_gateway_consumers_parse(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_http_gateway_consumers_t *consumers, ngx_str_t *err);

/* the consumer holding the key whose SHA-256 digest is given, or NULL */
ngx_http_gateway_consumer_t *ngx_http_gateway_consumers_by_key(
    ngx_http_gateway_consumers_t *consumers, u_char *digest);

/* the consumer with this "jwt_subject", or NULL */
ngx_http_gateway_consumer_t *ngx_http_gateway_consumers_by_subject(
    ngx_http_gateway_consumers_t *consumers, ngx_str_t *subject);

/*
 * The line and column where consumer c names a service in its
 * "services" list, in the text it was parsed from (which must still be
 * there); NGX_DECLINED when the text writes it otherwise (escapes).
 */
ngx_int_t ngx_http_gateway_consumers_where(ngx_http_gateway_consumers_t *cs,
    ngx_http_gateway_consumer_t *c, ngx_str_t *service, ngx_uint_t *line,
    ngx_uint_t *column);


#endif /* _NGX_HTTP_GATEWAY_CONSUMERS_H_INCLUDED_ */
