
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_GATEWAY_KEYS_H_INCLUDED_
#define _NGX_GATEWAY_KEYS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_gateway_jwt.h"
#include "ngx_gateway_http.h"


/*
 * Keys from an identity provider: when a key set is fetched, and the
 * provider's OpenID Connect discovery document.  Pure code: the time is
 * an argument (ngx_current_msec values, a monotonic clock the workers
 * share), nothing logs.
 */


/* the first retry after a failed fetch; each next one waits twice as long */
#define NGX_GATEWAY_KEYS_BACKOFF     1000


typedef struct {
    ngx_msec_t                 refresh;      /* at most between fetches */
    ngx_msec_t                 min_refresh;  /* at least between them */
} ngx_gateway_keys_conf_t;


/* a key source's schedule, shared by the workers (in the zone) */
typedef struct {
    ngx_uint_t                 generation;   /* of the set; 0: none yet */
    ngx_uint_t                 attempts;     /* fetches that ended */
    ngx_uint_t                 failures;     /* in a row */
    ngx_msec_t                 next;         /* the next fetch is due */
    ngx_msec_t                 started;      /* the last fetch began */
    unsigned                   begun:1;      /* a fetch ever began */
    unsigned                   early:1;      /* a refetch is asked for */
    unsigned                   later:1;      /* one after min_refresh */
} ngx_gateway_keys_state_t;


/* is a fetch due: never fetched, asked for early, or its time came */
ngx_uint_t ngx_gateway_keys_due(ngx_gateway_keys_state_t *st,
    ngx_msec_t now);

/* a fetch begins */
void ngx_gateway_keys_begin(ngx_gateway_keys_state_t *st, ngx_msec_t now);

/*
 * A fetch ended: ok, and with a set unlike the last one (changed), its
 * Cache-Control max-age in seconds (-1: none).  The next fetch is due
 * after max-age within [min_refresh, refresh], or after refresh; after
 * a failure, after 1 s, 2 s, 4 s... and never later than refresh.
 */
void ngx_gateway_keys_end(ngx_gateway_keys_state_t *st,
    ngx_gateway_keys_conf_t *conf, ngx_msec_t now, ngx_uint_t ok,
    ngx_uint_t changed, time_t max_age);

/*
 * A token names a key the set does not have: NGX_OK asks for a fetch now
 * (st->early), unless one began less than min_refresh ago: NGX_DECLINED.
 * So unknown "kid"s cause one fetch per min_refresh at most.
 */
ngx_int_t ngx_gateway_keys_unknown(ngx_gateway_keys_state_t *st,
    ngx_gateway_keys_conf_t *conf, ngx_msec_t now);

/*
 * A schedule kept across a reload, under a configuration whose refresh
 * may be shorter now: the next fetch is no further than refresh away.
 */
void ngx_gateway_keys_clamp(ngx_gateway_keys_state_t *st,
    ngx_gateway_keys_conf_t *conf, ngx_msec_t now);

/*
 * The token's key is still unknown after NGX_DECLINED, or after the fetch
 * it waited for (which may have begun before the provider published the
 * key): a fetch is due min_refresh after the last one began, not at the
 * next refresh; if one is under way, its end keeps that time.
 */
void ngx_gateway_keys_later(ngx_gateway_keys_state_t *st,
    ngx_gateway_keys_conf_t *conf);

/* ms until the next fetch is due, 0 if it is */
ngx_msec_t ngx_gateway_keys_wait(ngx_gateway_keys_state_t *st,
    ngx_msec_t now);

/*
 * The "jwks_uri" of an OpenID Connect discovery document (OpenID Connect
 * Discovery 1.0, section 3), checked: a JSON object whose "issuer" is
 * exactly the issuer asked (section 4.3), and a "jwks_uri" that is an
 * https URL (or http at a loopback address literal, if the issuer is
 * http).  jwks_uri points into memory of
 * the pool.  NGX_OK; NGX_DECLINED with *err (a fixed text, or one made
 * in the pool, with no bytes of the document); NGX_ERROR: no memory.
 */
ngx_int_t ngx_gateway_keys_discovery(ngx_pool_t *pool, u_char *data,
    size_t len, ngx_str_t *issuer, ngx_str_t *jwks_uri, ngx_str_t *err);

/*
 * Loads a JWK Set published by an identity provider.  Unlike a file of
 * the operator's (ngx_gateway_jwks_parse(), all or nothing), a provider's
 * set may hold keys that are not for signatures ("use": "enc", as
 * Keycloak publishes) or that the gateway does not take: each is skipped,
 * and the others load.  A secret ("kty": "oct") is never taken from the
 * network: it would be public.  A "kid" seen before is skipped too.
 * *skipped counts the keys skipped, *err (when any was) says why the
 * first was.  NGX_OK with at least one key; NGX_DECLINED with *err when
 * none loads or the document is no JWK Set; NGX_ERROR: no memory.
 */
ngx_int_t ngx_gateway_keys_parse(ngx_pool_t *pool, u_char *data, size_t len,
    ngx_gateway_jwks_t *jwks, ngx_uint_t *skipped, ngx_str_t *err);

/*
 * 1 if a key source may be fetched at this URL: https, or http only at a
 * loopback address literal (127.0.0.0/8, ::1), a provider on this host.
 * Over http anywhere else, anyone on the path could put in a key.
 */
ngx_uint_t ngx_gateway_keys_url_allowed(ngx_gateway_url_t *u);

/* the discovery document's URL: issuer + "/.well-known/openid-configuration" */
ngx_int_t ngx_gateway_keys_discovery_url(ngx_pool_t *pool,
    ngx_str_t *issuer, ngx_str_t *url);


#endif /* _NGX_GATEWAY_KEYS_H_INCLUDED_ */
