
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * libFuzzer harness of the route table: ngx_gateway_route_parse(),
 * ngx_gateway_route_table_create() and ngx_gateway_route_match().
 * The input is lines; those before the first empty line are routes, the
 * others paths to look up.  The first byte of a route line sets its
 * methods (bits GET, POST, PUT, DELETE, PATCH; none of them: every
 * method), the rest is the pattern; the first byte of a path line picks
 * the method of the request, the rest is the path.  Every line is copied
 * to a buffer of its own size, so that ASan sees any read past it.
 *
 * Checked with abort(): a compiled pattern writes back as the pattern;
 * the table reports a conflict exactly when two routes match the same
 * paths with a common method; every route is found for its own path
 * (parameters filled in); and any lookup gives what a plain reference
 * matcher, trying every route, gives: the route, or the allowed methods.
 */


#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ngx_config.h>
#include <ngx_core.h>
#include "nginx_stubs.h"
#include <ngx_http.h>
#include "ngx_gateway_routes.h"


#define FUZZ_MAX_ROUTES  64
#define FUZZ_MAX_PATHS   64
#define FUZZ_ALL         ((ngx_uint_t) -1)


typedef struct {
    ngx_str_t         *segments;
    ngx_uint_t         nsegments;
    ngx_uint_t         trailing_slash;
} fuzz_path_t;


static ngx_uint_t  fuzz_route_methods[] = {
    NGX_HTTP_GET|NGX_HTTP_HEAD, NGX_HTTP_POST, NGX_HTTP_PUT,
    NGX_HTTP_DELETE, NGX_HTTP_PATCH
};

static ngx_uint_t  fuzz_request_methods[] = {
    NGX_HTTP_GET, NGX_HTTP_HEAD, NGX_HTTP_POST, NGX_HTTP_PUT,
    NGX_HTTP_DELETE, NGX_HTTP_PATCH, NGX_HTTP_OPTIONS
};


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* the pattern again, from what route_parse() made of it */

static void
fuzz_check_parsed(ngx_pool_t *pool, ngx_str_t *pattern,
    ngx_gateway_route_t *route)
{
    u_char      *text, *p, c;
    size_t       i, j;
    ngx_uint_t   k, nparams;
    ngx_str_t   *seg, *name;

    if (route->nsegments > NGX_GATEWAY_MAX_SEGMENTS
        || route->nparams > route->nsegments)
    {
        abort();
    }

    text = ngx_pnalloc(pool, pattern->len + 1);
    if (text == NULL) {
        abort();
    }

    p = text;

    if (route->exact) {
        *p++ = '=';
    }

    nparams = 0;

    for (i = 0; i < route->nsegments; i++) {
        seg = &route->segments[i];

        if (p - text + 1 > (ptrdiff_t) pattern->len) {
            abort();
        }

        *p++ = '/';

        if (seg->len) {
            for (j = 0; j < seg->len; j++) {
                c = seg->data[j];

                if (c < 0x21 || c == 0x7f || c == '/' || c == '{'
                    || c == '}' || c == '%' || c == '?' || c == '#')
                {
                    abort();
                }
            }

            if ((seg->len == 1 && seg->data[0] == '.')
                || (seg->len == 2 && seg->data[0] == '.'
                    && seg->data[1] == '.'))
            {
                abort();
            }

            if (p - text + seg->len > pattern->len) {
                abort();
            }

            p = ngx_cpymem(p, seg->data, seg->len);
            continue;
        }

        if (nparams == route->nparams
            || route->params[nparams].segment != i)
        {
            abort();
        }

        name = &route->params[nparams++].name;

        if (name->len == 0 || name->len > 64
            || (name->data[0] >= '0' && name->data[0] <= '9'))
        {
            abort();
        }

        for (j = 0; j < name->len; j++) {
            c = name->data[j];

            if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
                  || (c >= '0' && c <= '9') || c == '_'))
            {
                abort();
            }
        }

        for (k = 0; k + 1 < nparams; k++) {
            if (route->params[k].name.len == name->len
                && ngx_memcmp(route->params[k].name.data, name->data,
                              name->len)
                   == 0)
            {
                abort();
            }
        }

        if (p - text + name->len + 2 > pattern->len) {
            abort();
        }

        *p++ = '{';
        p = ngx_cpymem(p, name->data, name->len);
        *p++ = '}';
    }

    if (nparams != route->nparams) {
        abort();
    }

    if (route->nsegments == 0 || route->trailing_slash) {
        *p++ = '/';
    }

    if ((route->trailing_slash && route->nsegments == 0)
        || (size_t) (p - text) != pattern->len
        || ngx_memcmp(text, pattern->data, pattern->len) != 0)
    {
        abort();
    }
}


/* whether two routes match the same paths */

static ngx_uint_t
fuzz_same_paths(ngx_gateway_route_t *a, ngx_gateway_route_t *b)
{
    ngx_uint_t  i;

    if (a->nsegments != b->nsegments || a->exact != b->exact
        || (a->exact && a->trailing_slash != b->trailing_slash))
    {
        return 0;
    }

    for (i = 0; i < a->nsegments; i++) {
        if (a->segments[i].len != b->segments[i].len
            || ngx_memcmp(a->segments[i].data, b->segments[i].data,
                          a->segments[i].len)
               != 0)
        {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
fuzz_conflict(ngx_gateway_route_t *a, ngx_gateway_route_t *b)
{
    return fuzz_same_paths(a, b) && (a->methods & b->methods);
}


/* the segments of a path as the reference sees them: all of them */

static void
fuzz_split(ngx_pool_t *pool, ngx_str_t *path, fuzz_path_t *fp)
{
    u_char  *p, *last, *start;

    fp->segments = ngx_palloc(pool, (path->len / 2 + 1) * sizeof(ngx_str_t));
    if (fp->segments == NULL) {
        abort();
    }

    fp->nsegments = 0;
    p = path->data;
    last = p + path->len;

    while (p < last) {
        if (*p == '/') {
            p++;
            continue;
        }

        start = p;

        while (p < last && *p != '/') {
            p++;
        }

        fp->segments[fp->nsegments].data = start;
        fp->segments[fp->nsegments].len = p - start;
        fp->nsegments++;
    }

    fp->trailing_slash = (fp->nsegments > 0
                          && path->data[path->len - 1] == '/');
}


static ngx_uint_t fuzz_has_control(ngx_str_t *s);


static ngx_uint_t
fuzz_matches(ngx_gateway_route_t *route, fuzz_path_t *fp)
{
    ngx_uint_t  i;

    if (route->exact) {
        if (fp->nsegments != route->nsegments
            || fp->trailing_slash != route->trailing_slash)
        {
            return 0;
        }

    } else if (fp->nsegments < route->nsegments) {
        return 0;
    }

    for (i = 0; i < route->nsegments; i++) {
        if (route->segments[i].len
            && (route->segments[i].len != fp->segments[i].len
                || ngx_memcmp(route->segments[i].data, fp->segments[i].data,
                              fp->segments[i].len)
                   != 0))
        {
            return 0;
        }

        /* a parameter never takes a segment with a control byte */

        if (route->segments[i].len == 0
            && fuzz_has_control(&fp->segments[i]))
        {
            return 0;
        }
    }

    return 1;
}


static ngx_uint_t
fuzz_has_control(ngx_str_t *s)
{
    size_t  i;

    for (i = 0; i < s->len; i++) {
        if (s->data[i] < 0x20 || s->data[i] == 0x7f) {
            return 1;
        }
    }

    return 0;
}


/*
 * Whether a, declared at ia, is more specific than b, at ib, both
 * matching a path: a literal segment before a parameter, a longer route
 * before a shorter one, exact before prefix, then declaration order.
 */

static ngx_uint_t
fuzz_before(ngx_gateway_route_t *a, ngx_uint_t ia,
    ngx_gateway_route_t *b, ngx_uint_t ib)
{
    ngx_uint_t  i;

    for (i = 0; i < a->nsegments && i < b->nsegments; i++) {
        if ((a->segments[i].len == 0) != (b->segments[i].len == 0)) {
            return a->segments[i].len != 0;
        }
    }

    if (a->nsegments != b->nsegments) {
        return a->nsegments > b->nsegments;
    }

    if (a->exact != b->exact) {
        return a->exact;
    }

    return ia < ib;
}


static void
fuzz_lookup(ngx_pool_t *pool, ngx_gateway_route_table_t *table,
    ngx_gateway_route_t **routes, ngx_uint_t nroutes, ngx_str_t *path,
    ngx_uint_t method)
{
    ngx_int_t                        rc;
    ngx_uint_t                       i, n, best, allowed;
    fuzz_path_t                      fp;
    ngx_gateway_route_t             *route;
    ngx_gateway_route_match_t        m;

    fuzz_split(pool, path, &fp);

    allowed = 0;
    best = nroutes;

    for (i = 0; i < nroutes; i++) {
        if (!fuzz_matches(routes[i], &fp)) {
            continue;
        }

        allowed |= routes[i]->methods;

        if ((routes[i]->methods & method)
            && (best == nroutes
                || fuzz_before(routes[i], i, routes[best], best)))
        {
            best = i;
        }
    }

    rc = ngx_gateway_route_match(table, path, method, &m);

    n = ngx_min(fp.nsegments, table->max_depth);

    if (m.nsegments != n) {
        abort();
    }

    for (i = 0; i < n; i++) {
        if (m.segments[i].data != fp.segments[i].data
            || m.segments[i].len != fp.segments[i].len)
        {
            abort();
        }
    }

    if (rc != NGX_OK) {
        if (rc != NGX_DECLINED || best != nroutes || m.route != NULL
            || m.allowed != allowed)
        {
            abort();
        }

        return;
    }

    route = m.route;

    if (best == nroutes || route != routes[best]
        || (m.allowed & ~allowed) || !(m.allowed & method))
    {
        abort();
    }

    if (route->nsegments == 0) {
        if (m.rest != path->data) {
            abort();
        }

    } else if (m.rest != fp.segments[route->nsegments - 1].data
                         + fp.segments[route->nsegments - 1].len)
    {
        abort();
    }
}


/* the path of a route: its parameters as "v", its trailing slash */

static void
fuzz_own_path(ngx_pool_t *pool, ngx_gateway_route_t *route,
    ngx_str_t *path)
{
    u_char      *p;
    size_t       len;
    ngx_uint_t   i;

    len = 1;

    for (i = 0; i < route->nsegments; i++) {
        len += 1 + (route->segments[i].len ? route->segments[i].len : 1);
    }

    p = ngx_pnalloc(pool, len);
    if (p == NULL) {
        abort();
    }

    path->data = p;

    for (i = 0; i < route->nsegments; i++) {
        *p++ = '/';

        if (route->segments[i].len) {
            p = ngx_cpymem(p, route->segments[i].data,
                           route->segments[i].len);

        } else {
            *p++ = 'v';
        }
    }

    if (route->nsegments == 0 || route->trailing_slash) {
        *p++ = '/';
    }

    path->len = p - path->data;
}


static ngx_uint_t
fuzz_methods(u_char c)
{
    ngx_uint_t  i, methods;

    methods = 0;

    for (i = 0; i < sizeof(fuzz_route_methods) / sizeof(ngx_uint_t); i++) {
        if (c & (1 << i)) {
            methods |= fuzz_route_methods[i];
        }
    }

    return methods ? methods : FUZZ_ALL;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t                           len;
    ngx_str_t                        line, err, own;
    fuzz_path_t                      fp;
    ngx_uint_t                       i, j, nroutes, npaths, in_paths;
    ngx_uint_t                       method, low, conflicts;
    ngx_pool_t                      *pool;
    ngx_array_t                      list;
    const uint8_t                   *p, *last, *nl;
    ngx_gateway_route_t             *route, **r, **routes, *conflict[2];
    ngx_gateway_route_table_t       *table;
    struct {
        ngx_str_t                    path;
        ngx_uint_t                   method;
    }                                paths[FUZZ_MAX_PATHS];

    pool = ngx_create_pool(4096, &nginx_stub_log);
    if (pool == NULL) {
        abort();
    }

    if (ngx_array_init(&list, pool, 8, sizeof(void *)) != NGX_OK) {
        abort();
    }

    p = data;
    last = data + size;
    in_paths = 0;
    npaths = 0;

    while (p < last) {
        nl = memchr(p, '\n', last - p);
        len = (nl ? nl : last) - p;

        if (len == 0) {
            in_paths = 1;
            p++;
            continue;
        }

        /* a buffer of the line's own size */

        line.len = len - 1;
        line.data = ngx_pnalloc(pool, len);
        if (line.data == NULL) {
            abort();
        }

        ngx_memcpy(line.data, p + 1, len - 1);

        if (in_paths) {
            if (npaths < FUZZ_MAX_PATHS) {
                paths[npaths].path = line;
                paths[npaths].method = fuzz_request_methods[p[0] % 7];
                npaths++;
            }

        } else if (list.nelts < FUZZ_MAX_ROUTES) {
            route = ngx_pcalloc(pool, sizeof(ngx_gateway_route_t));
            if (route == NULL) {
                abort();
            }

            route->pattern = line;
            route->methods = fuzz_methods(p[0]);
            route->strip = (p[0] & 0x40) ? 1 : 0;

            err.len = 0;
            err.data = NULL;

            switch (ngx_gateway_route_parse(pool, &line, route, &err)) {

            case NGX_OK:
                fuzz_check_parsed(pool, &line, route);

                r = ngx_array_push(&list);
                if (r == NULL) {
                    abort();
                }

                *r = route;
                break;

            case NGX_DECLINED:
                if (err.len == 0 || err.data == NULL) {
                    abort();
                }

                break;

            default:
                abort();
            }
        }

        p += len;
    }

    routes = list.elts;
    nroutes = list.nelts;

    conflicts = 0;

    for (i = 0; i < nroutes && !conflicts; i++) {
        for (j = 0; j < i; j++) {
            if (fuzz_conflict(routes[j], routes[i])) {
                conflicts = 1;
                break;
            }
        }
    }

    conflict[0] = NULL;
    conflict[1] = NULL;

    table = ngx_gateway_route_table_create(pool, &list, conflict);
    if (table == NULL) {
        abort();
    }

    if (conflicts) {

        /* the first route that conflicts with an earlier one */

        if (table->nroutes != 0 || conflict[0] != routes[j]
            || conflict[1] != routes[i - 1]
            || !fuzz_conflict(conflict[0], conflict[1]))
        {
            abort();
        }

        goto done;
    }

    if (table->nroutes != nroutes) {
        abort();
    }

    for (i = 0; i < nroutes; i++) {
        if (table->max_depth < routes[i]->nsegments) {
            abort();
        }

        fuzz_own_path(pool, routes[i], &own);

        /* the route matches its own path: the lookup finds a route */

        fuzz_split(pool, &own, &fp);

        if (!fuzz_matches(routes[i], &fp)) {
            abort();
        }

        low = routes[i]->methods & (0 - routes[i]->methods);
        method = (low == 1) ? NGX_HTTP_GET : low;

        fuzz_lookup(pool, table, routes, nroutes, &own, method);
    }

    for (i = 0; i < npaths; i++) {
        fuzz_lookup(pool, table, routes, nroutes, &paths[i].path,
                    paths[i].method);
    }

done:

    ngx_destroy_pool(pool);

    return 0;
}
