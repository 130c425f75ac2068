
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <jansson.h>
#include "ngx_http_gateway_module.h"
#include "ngx_http_gateway_sign.h"


/*
 * Credentials fetched in the background, on nginx's events, never on a
 * client's request: AWS keys from the instance metadata service (IMDSv2:
 * a session token PUT, the role's name, its keys), or Google ID tokens
 * from the metadata server or from Google's token endpoint for a service
 * account's key.  One worker fetches (it holds the lease of the block in
 * the zone) and puts what it got in the block; every worker copies it
 * from there when it changed.  Fetched again halfway to the expiry, five
 * minutes before it at most; after a failure again after 1 s, 2 s, ...
 * 10 s; what was fetched before is used until it expires.
 *
 * Nothing fetched (keys, session tokens, ID tokens) is ever logged; the
 * errors name the step and the host, never a value.
 */


#define NGX_HTTP_GATEWAY_SIGN_TICK       1000
#define NGX_HTTP_GATEWAY_SIGN_TIMEOUT    5000
#define NGX_HTTP_GATEWAY_SIGN_LEASE      (4 * NGX_HTTP_GATEWAY_SIGN_TIMEOUT)
#define NGX_HTTP_GATEWAY_SIGN_MAX_BODY   16384

/* IMDSv2 session tokens asked for: 6 hours, the longest */
#define NGX_HTTP_GATEWAY_IMDS_TTL        "21600"

#define NGX_HTTP_GATEWAY_IMDS_TOKEN      0
#define NGX_HTTP_GATEWAY_IMDS_ROLE       1
#define NGX_HTTP_GATEWAY_IMDS_KEYS       2


static void ngx_http_gateway_sign_tick(ngx_event_t *ev);
static ngx_int_t ngx_http_gateway_sign_due(ngx_http_gateway_sign_t *sc);
static ngx_int_t ngx_http_gateway_sign_step(ngx_http_gateway_sign_t *sc);
static void ngx_http_gateway_sign_done(ngx_http_gateway_fetch_t *f);
static ngx_int_t ngx_http_gateway_sign_got(ngx_http_gateway_sign_t *sc,
    ngx_http_gateway_fetch_t *f, ngx_str_t *err);
static void ngx_http_gateway_sign_store(ngx_http_gateway_sign_t *sc,
    ngx_str_t *values, time_t expires);
static void ngx_http_gateway_sign_failed(ngx_http_gateway_sign_t *sc,
    const char *fmt, ...);
static void ngx_http_gateway_sign_finish(ngx_http_gateway_sign_t *sc);


static char  *ngx_http_gateway_sign_steps[] = {
    "IMDS session token", "IMDS role", "IMDS credentials"
};


/*
 * At configuration: the client's TLS context and resolver, and the name
 * of the block in the zone, made of what is fetched from where: services
 * that fetch the same from the same place share one block, and so one
 * fetcher; and what was fetched survives reloads that keep it, and only
 * those.
 */

ngx_int_t
ngx_http_gateway_sign_refresh_init(ngx_conf_t *cf,
    ngx_http_gateway_sign_t *sc)
{
    u_char     *p;
    uint32_t    crc;
    ngx_str_t   trusted;

    if (sc->source < NGX_HTTP_GATEWAY_CREDS_IMDS) {
        return NGX_OK;
    }

    ngx_str_null(&trusted);

    sc->fetch_conf = ngx_http_gateway_fetch_conf(cf, &trusted);
    if (sc->fetch_conf == NULL) {
        return NGX_ERROR;
    }

    ngx_crc32_init(crc);
    ngx_crc32_update(&crc, (u_char *) &sc->source, sizeof(ngx_uint_t));
    ngx_crc32_update(&crc, sc->endpoint.data, sc->endpoint.len);
    ngx_crc32_update(&crc, sc->audience.data, sc->audience.len);
    ngx_crc32_update(&crc, sc->file.data, sc->file.len);
    ngx_crc32_final(crc);

    sc->name.len = sizeof("sign  ") - 1 + NGX_INT_T_LEN + 8;
    sc->name.data = ngx_pnalloc(cf->pool, sc->name.len);
    if (sc->name.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(sc->name.data, "sign %ui %08xD", sc->source, crc);
    sc->name.len = p - sc->name.data;

    return NGX_OK;
}


ngx_int_t
ngx_http_gateway_sign_refresh_start(ngx_cycle_t *cycle,
    ngx_http_gateway_sign_t *sc, ngx_shm_zone_t *shm_zone,
    ngx_http_gateway_sign_t *leader)
{
    sc->zone = shm_zone->data;

    sc->local = ngx_palloc(cycle->pool, NGX_HTTP_GATEWAY_SIGN_DATA);
    if (sc->local == NULL) {
        return NGX_ERROR;
    }

    /* a worker's lease is its own: one fetcher per block in a worker */

    if (leader) {
        sc->sh = leader->sh;
        return NGX_OK;
    }

    sc->sh = ngx_http_gateway_zone_object(sc->zone, &sc->name,
                 sizeof(ngx_http_gateway_sign_shared_t));
    if (sc->sh == NULL) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "gateway: no room in the gateway zone for the "
                      "credentials of service \"%V\": its calls are refused",
                      sc->service_name);
        return NGX_OK;
    }

    sc->tick.handler = ngx_http_gateway_sign_tick;
    sc->tick.data = sc;
    sc->tick.log = cycle->log;
    sc->tick.cancelable = 1;

    /* at once: the first worker up fetches */
    ngx_add_timer(&sc->tick, 1);

    return NGX_OK;
}


void
ngx_http_gateway_sign_refresh_stop(ngx_http_gateway_sign_t *sc)
{
    if (sc->tick.timer_set) {
        ngx_del_timer(&sc->tick);
    }

    if (sc->fetch) {
        ngx_http_gateway_fetch_destroy(sc->fetch);
        sc->fetch = NULL;
        ngx_http_gateway_sign_finish(sc);
    }
}


static void
ngx_http_gateway_sign_tick(ngx_event_t *ev)
{
    ngx_http_gateway_sign_t *sc = ev->data;

    if (ngx_exiting || ngx_quit || ngx_terminate) {
        return;
    }

    if (sc->fetch == NULL && ngx_http_gateway_sign_due(sc)
        && ngx_http_gateway_lease_take(sc->zone, &sc->sh->lease,
                                       NGX_HTTP_GATEWAY_SIGN_LEASE)
           == NGX_OK)
    {
        /* another worker may have fetched just before the lease was ours */

        if (!ngx_http_gateway_sign_due(sc)) {
            ngx_http_gateway_lease_give_up(sc->zone, &sc->sh->lease);

        } else {
            sc->steps = ngx_create_pool(1024, ev->log);

            if (sc->steps == NULL) {
                ngx_http_gateway_lease_give_up(sc->zone, &sc->sh->lease);

            } else {
                sc->step = NGX_HTTP_GATEWAY_IMDS_TOKEN;
                (void) ngx_http_gateway_sign_step(sc);
            }
        }
    }

    ngx_add_timer(ev, NGX_HTTP_GATEWAY_SIGN_TICK);
}


/* nothing yet, half the time to the expiry over, and not backing off */

static ngx_int_t
ngx_http_gateway_sign_due(ngx_http_gateway_sign_t *sc)
{
    ngx_int_t                        due;
    ngx_http_gateway_sign_shared_t  *sh;

    sh = sc->sh;

    ngx_shmtx_lock(&sc->zone->shpool->mutex);

    due = (sh->generation == 0 || ngx_time() >= sh->refresh)
          && (sh->failures == 0
              || (ngx_msec_int_t) (ngx_current_msec - sh->retry) >= 0);

    ngx_shmtx_unlock(&sc->zone->shpool->mutex);

    return due;
}


/* the fetch of this step; NGX_ERROR when it could not start (recorded) */

static ngx_int_t
ngx_http_gateway_sign_step(ngx_http_gateway_sign_t *sc)
{
    u_char                    *p;
    size_t                     len;
    ngx_keyval_t              *h;
    ngx_http_gateway_fetch_t  *f;

    f = ngx_http_gateway_fetch_create(sc->fetch_conf, sc->tick.log);
    if (f == NULL) {
        ngx_http_gateway_sign_failed(sc, "no memory");
        return NGX_ERROR;
    }

    h = ngx_pcalloc(f->pool, 2 * sizeof(ngx_keyval_t));
    if (h == NULL) {
        goto nomem;
    }

    f->headers = h;
    f->nheaders = 1;
    f->max_size = NGX_HTTP_GATEWAY_SIGN_MAX_BODY;
    f->timeout = NGX_HTTP_GATEWAY_SIGN_TIMEOUT;
    f->handler = ngx_http_gateway_sign_done;
    f->data = sc;

    len = sc->endpoint.len + sizeof("/latest/meta-data/iam/"
                                    "security-credentials/") - 1
          + sc->role.len;

    switch (sc->source) {

    case NGX_HTTP_GATEWAY_CREDS_IMDS:

        f->url.data = ngx_pnalloc(f->pool, len);
        if (f->url.data == NULL) {
            goto nomem;
        }

        p = ngx_cpymem(f->url.data, sc->endpoint.data, sc->endpoint.len);

        if (sc->step == NGX_HTTP_GATEWAY_IMDS_TOKEN) {
            p = ngx_cpymem(p, "/latest/api/token",
                           sizeof("/latest/api/token") - 1);
            ngx_str_set(&f->method, "PUT");
            ngx_str_set(&h->key, "X-aws-ec2-metadata-token-ttl-seconds");
            ngx_str_set(&h->value, NGX_HTTP_GATEWAY_IMDS_TTL);

        } else {
            p = ngx_cpymem(p, "/latest/meta-data/iam/security-credentials/",
                           sizeof("/latest/meta-data/iam/"
                                  "security-credentials/") - 1);

            if (sc->step == NGX_HTTP_GATEWAY_IMDS_KEYS) {
                p = ngx_cpymem(p, sc->role.data, sc->role.len);
            }

            ngx_str_set(&h->key, "X-aws-ec2-metadata-token");
            h->value = sc->imds_token;
        }

        f->url.len = p - f->url.data;
        break;

    case NGX_HTTP_GATEWAY_CREDS_METADATA:

        len = sc->endpoint.len
              + sizeof("/computeMetadata/v1/instance/service-accounts/"
                       "default/identity?audience=&format=full") - 1
              + sc->audience.len
              + 2 * ngx_escape_uri(NULL, sc->audience.data,
                                   sc->audience.len, NGX_ESCAPE_ARGS);

        f->url.data = ngx_pnalloc(f->pool, len);
        if (f->url.data == NULL) {
            goto nomem;
        }

        p = ngx_cpymem(f->url.data, sc->endpoint.data, sc->endpoint.len);
        p = ngx_cpymem(p, "/computeMetadata/v1/instance/service-accounts/"
                          "default/identity?audience=",
                       sizeof("/computeMetadata/v1/instance/"
                              "service-accounts/default/identity?"
                              "audience=") - 1);
        p = (u_char *) ngx_escape_uri(p, sc->audience.data, sc->audience.len,
                                      NGX_ESCAPE_ARGS);
        p = ngx_cpymem(p, "&format=full", sizeof("&format=full") - 1);

        f->url.len = p - f->url.data;

        ngx_str_set(&h->key, "Metadata-Flavor");
        ngx_str_set(&h->value, "Google");
        break;

    default: /* NGX_HTTP_GATEWAY_CREDS_KEY */

        {
        ngx_str_t  assertion;

        if (ngx_gateway_gcp_assertion(f->pool, &sc->key_file, &sc->audience,
                                      ngx_time(), &assertion)
            != NGX_OK
            || ngx_gateway_gcp_token_request(f->pool, &assertion,
                                             &f->request_body)
               != NGX_OK)
        {
            ngx_http_gateway_fetch_destroy(f);
            ngx_http_gateway_sign_failed(sc, "the token request could not "
                                         "be made");
            return NGX_ERROR;
        }
        }

        f->url = sc->key_file.token_uri;
        ngx_str_set(&f->method, "POST");
        ngx_str_set(&h->key, "Content-Type");
        ngx_str_set(&h->value, "application/x-www-form-urlencoded");
        break;
    }

    if (ngx_http_gateway_fetch_start(f) != NGX_OK) {
        ngx_http_gateway_sign_failed(sc, "%s: %V",
                                     sc->source == NGX_HTTP_GATEWAY_CREDS_IMDS
                                     ? ngx_http_gateway_sign_steps[sc->step]
                                     : "ID token", &f->err);
        ngx_http_gateway_fetch_destroy(f);
        return NGX_ERROR;
    }

    sc->fetch = f;

    return NGX_OK;

nomem:

    ngx_http_gateway_fetch_destroy(f);
    ngx_http_gateway_sign_failed(sc, "no memory");

    return NGX_ERROR;
}


static void
ngx_http_gateway_sign_done(ngx_http_gateway_fetch_t *f)
{
    ngx_http_gateway_sign_t *sc = f->data;

    char       *what;
    ngx_str_t   err;

    sc->fetch = NULL;

    what = (sc->source == NGX_HTTP_GATEWAY_CREDS_IMDS)
           ? ngx_http_gateway_sign_steps[sc->step] : "ID token";

    if (f->rc != NGX_OK) {
        ngx_http_gateway_sign_failed(sc, "%s: %V", what, &f->err);
        ngx_http_gateway_fetch_destroy(f);
        return;
    }

    if (f->response.status != NGX_HTTP_OK) {
        ngx_http_gateway_sign_failed(sc, "%s: status %ui from %s", what,
                                     f->response.status, f->host);
        ngx_http_gateway_fetch_destroy(f);
        return;
    }

    /* what the parsers leave unsaid when they run out of memory */
    ngx_str_set(&err, "no memory");

    switch (ngx_http_gateway_sign_got(sc, f, &err)) {

    case NGX_AGAIN:
        ngx_http_gateway_fetch_destroy(f);

        /* the next step, the lease renewed for it */

        if (ngx_http_gateway_lease_take(sc->zone, &sc->sh->lease,
                                        NGX_HTTP_GATEWAY_SIGN_LEASE)
            != NGX_OK)
        {
            ngx_http_gateway_sign_finish(sc);
            return;
        }

        sc->step++;
        (void) ngx_http_gateway_sign_step(sc);
        return;

    case NGX_OK:
        ngx_http_gateway_fetch_destroy(f);
        ngx_http_gateway_sign_finish(sc);
        return;

    default:
        ngx_http_gateway_sign_failed(sc, "%s: %V", what, &err);
        ngx_http_gateway_fetch_destroy(f);
        return;
    }
}


/*
 * The body of a step's answer.  NGX_AGAIN: the next step; NGX_OK:
 * stored; NGX_DECLINED: not what was asked for (*err).
 */

static ngx_int_t
ngx_http_gateway_sign_got(ngx_http_gateway_sign_t *sc,
    ngx_http_gateway_fetch_t *f, ngx_str_t *err)
{
    u_char                         *p;
    time_t                          expires;
    ngx_str_t                       body, values[3];
    ngx_gateway_aws_credentials_t   creds;

    body = f->response.body;

    /* a text answer: its line */

    while (body.len && (body.data[body.len - 1] == '\n'
                        || body.data[body.len - 1] == '\r'
                        || body.data[body.len - 1] == ' '))
    {
        body.len--;
    }

    ngx_memzero(values, sizeof(values));

    switch (sc->source) {

    case NGX_HTTP_GATEWAY_CREDS_IMDS:

        if (sc->step == NGX_HTTP_GATEWAY_IMDS_TOKEN) {
            if (body.len > 4096
                || ngx_gateway_aws_credential_valid(&body) != NGX_OK)
            {
                ngx_str_set(err, "not a token");
                return NGX_DECLINED;
            }

            sc->imds_token.len = body.len;
            sc->imds_token.data = ngx_pstrdup(sc->steps, &body);
            return sc->imds_token.data ? NGX_AGAIN : NGX_ERROR;
        }

        if (sc->step == NGX_HTTP_GATEWAY_IMDS_ROLE) {

            /* the first role listed */

            p = ngx_strlchr(body.data, body.data + body.len, '\n');
            if (p) {
                body.len = p - body.data;
            }

            if (body.len > 128
                || ngx_gateway_aws_credential_valid(&body) != NGX_OK
                || ngx_strlchr(body.data, body.data + body.len, '/')
                || ngx_strlchr(body.data, body.data + body.len, '?')
                || ngx_strlchr(body.data, body.data + body.len, '%'))
            {
                ngx_str_set(err, "no role is attached to the instance");
                return NGX_DECLINED;
            }

            sc->role.len = body.len;
            sc->role.data = ngx_pstrdup(sc->steps, &body);
            return sc->role.data ? NGX_AGAIN : NGX_ERROR;
        }

        if (ngx_gateway_aws_imds_credentials(sc->steps, &f->response.body,
                                             &creds, &expires, err)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        values[0] = creds.access_key;
        values[1] = creds.secret_key;
        values[2] = creds.session_token;
        break;

    case NGX_HTTP_GATEWAY_CREDS_METADATA:
        values[2] = body;
        break;

    default: /* NGX_HTTP_GATEWAY_CREDS_KEY */
        if (ngx_gateway_gcp_token_response(sc->steps, &f->response.body,
                                           &values[2], err)
            != NGX_OK)
        {
            return NGX_DECLINED;
        }

        break;
    }

    if (sc->type == NGX_HTTP_GATEWAY_SIGN_GCP
        && ngx_gateway_gcp_token_expiry(sc->steps, &values[2], &expires, err)
           != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (expires <= ngx_time()) {
        ngx_str_set(err, "what came had expired already");
        return NGX_DECLINED;
    }

    if (values[0].len + values[1].len + values[2].len
        > NGX_HTTP_GATEWAY_SIGN_DATA)
    {
        ngx_str_set(err, "too long");
        return NGX_DECLINED;
    }

    ngx_http_gateway_sign_store(sc, values, expires);

    return NGX_OK;
}


static void
ngx_http_gateway_sign_store(ngx_http_gateway_sign_t *sc, ngx_str_t *values,
    time_t expires)
{
    u_char                          *p;
    time_t                           now, ahead;
    ngx_uint_t                       i;
    ngx_http_gateway_sign_shared_t  *sh;

    sh = sc->sh;
    now = ngx_time();

    /* halfway to the expiry, and 5 minutes before it at most */

    ahead = ngx_min((expires - now) / 2, 300);

    ngx_shmtx_lock(&sc->zone->shpool->mutex);

    p = sh->data;

    for (i = 0; i < 3; i++) {
        p = ngx_cpymem(p, values[i].data, values[i].len);
        sh->len[i] = values[i].len;
    }

    sh->generation++;
    sh->fetched = now;
    sh->expires = expires;
    sh->refresh = expires - ngx_max(ahead, 1);
    sh->failures = 0;
    sh->error_len = 0;
    sh->fetches++;

    ngx_shmtx_unlock(&sc->zone->shpool->mutex);

    ngx_log_error(NGX_LOG_INFO, sc->tick.log, 0,
                  "gateway: credentials of service \"%V\" fetched, "
                  "valid for %T s", sc->service_name, expires - now);
}


static void
ngx_http_gateway_sign_failed(ngx_http_gateway_sign_t *sc, const char *fmt,
    ...)
{
    u_char                          *p, error[NGX_HTTP_GATEWAY_SIGN_ERROR];
    va_list                          args;
    ngx_uint_t                       failures;
    ngx_http_gateway_sign_shared_t  *sh;

    va_start(args, fmt);
    p = ngx_vslprintf(error, error + sizeof(error), fmt, args);
    va_end(args);

    sh = sc->sh;

    ngx_shmtx_lock(&sc->zone->shpool->mutex);

    failures = ++sh->failures;
    sh->retry = ngx_current_msec + 1000 * ngx_min(failures, 10);
    sh->error_len = p - error;
    sh->error_time = ngx_time();
    ngx_memcpy(sh->error, error, sh->error_len);

    ngx_shmtx_unlock(&sc->zone->shpool->mutex);

    ngx_log_error(NGX_LOG_WARN, sc->tick.log, 0,
                  "gateway: fetching the credentials of service \"%V\" "
                  "failed (%ui in a row): %*s", sc->service_name, failures,
                  p - error, error);

    ngx_http_gateway_sign_finish(sc);
}


/* the refresh is over: its memory freed, the lease given up */

static void
ngx_http_gateway_sign_finish(ngx_http_gateway_sign_t *sc)
{
    if (sc->steps) {
        ngx_destroy_pool(sc->steps);
        sc->steps = NULL;
    }

    ngx_str_null(&sc->imds_token);
    ngx_str_null(&sc->role);

    ngx_http_gateway_lease_give_up(sc->zone, &sc->sh->lease);
}


/*
 * On a request: this worker's copy, taken again from the zone when a
 * worker fetched anew; NGX_OK while it has not expired.
 */

ngx_int_t
ngx_http_gateway_sign_fetched(ngx_http_gateway_sign_t *sc)
{
    u_char                          *p;
    ngx_http_gateway_sign_shared_t  *sh;

    sh = sc->sh;

    if (sh == NULL) {
        return NGX_DECLINED;
    }

    if (sh->generation == sc->generation && sc->generation
        && ngx_time() < sc->expires)
    {
        sc->have = 1;
        return NGX_OK;
    }

    ngx_shmtx_lock(&sc->zone->shpool->mutex);

    if (sh->generation != sc->generation) {
        ngx_memcpy(sc->local, sh->data, sh->len[0] + sh->len[1] + sh->len[2]);

        p = sc->local;

        sc->creds.access_key.data = p;
        sc->creds.access_key.len = sh->len[0];
        p += sh->len[0];

        sc->creds.secret_key.data = p;
        sc->creds.secret_key.len = sh->len[1];
        p += sh->len[1];

        sc->creds.session_token.data = p;
        sc->creds.session_token.len = sh->len[2];
        sc->token = sc->creds.session_token;

        sc->generation = sh->generation;
        sc->creds.generation = sh->generation;
        sc->expires = sh->expires;
        sc->loaded = sh->fetched;
    }

    sc->have = (sc->generation && ngx_time() < sc->expires);

    if (!sc->have) {
        if (sh->error_len) {
            sc->error_len = sh->error_len;
            sc->error_time = sh->error_time;
            ngx_memcpy(sc->error, sh->error, sh->error_len);

        } else {
            sc->error_len = ngx_sprintf(sc->error, "%s",
                                        sc->generation
                                        ? "the credentials expired"
                                        : "none fetched yet")
                            - sc->error;
        }
    }

    ngx_shmtx_unlock(&sc->zone->shpool->mutex);

    return sc->have ? NGX_OK : NGX_DECLINED;
}


/* for a refusal's Retry-After: until the next fetch, 1 s at least */

ngx_msec_t
ngx_http_gateway_sign_retry_in(ngx_http_gateway_sign_t *sc)
{
    ngx_msec_int_t  left;

    if (sc->sh == NULL || sc->sh->failures == 0) {
        return 1000;
    }

    left = (ngx_msec_int_t) (sc->sh->retry - ngx_current_msec);

    return (left > 1000) ? (ngx_msec_t) left : 1000;
}


ngx_int_t
ngx_http_gateway_sign_refresh_status(ngx_http_gateway_sign_t *sc,
    void *json)
{
    json_t                          *st = json;
    json_t                          *v[7];
    ngx_uint_t                       i, n;
    ngx_http_gateway_sign_shared_t   sh;

    static char  *names[] = { "credentials", "fetched", "expires",
                              "fetches", "failures", "error",
                              "error_time" };

    if (sc->sh == NULL) {
        return json_object_set_new(st, "credentials", json_false()) == 0
               ? NGX_OK : NGX_ERROR;
    }

    /* the numbers and the error, never the data */

    ngx_shmtx_lock(&sc->zone->shpool->mutex);
    ngx_memcpy(&sh, sc->sh, offsetof(ngx_http_gateway_sign_shared_t, len));
    ngx_shmtx_unlock(&sc->zone->shpool->mutex);

    n = 0;

    v[n++] = json_boolean(sh.generation && ngx_time() < sh.expires);
    v[n++] = sh.generation ? json_integer(sh.fetched) : json_null();
    v[n++] = sh.generation ? json_integer(sh.expires) : json_null();
    v[n++] = json_integer(sh.fetches);
    v[n++] = json_integer(sh.failures);
    v[n++] = sh.error_len ? json_stringn((char *) sh.error, sh.error_len)
                          : json_null();
    v[n++] = sh.error_len ? json_integer(sh.error_time) : json_null();

    for (i = 0; i < n; i++) {
        if (json_object_set_new(st, names[i], v[i]) != 0) {

            /* each call takes its value, even when it fails */

            for (i++; i < n; i++) {
                json_decref(v[i]);
            }

            return NGX_ERROR;
        }
    }

    return NGX_OK;
}

