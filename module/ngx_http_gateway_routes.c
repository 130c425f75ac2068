
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include "ngx_http_gateway_routes.h"


#define NGX_HTTP_GATEWAY_PARAM_NAME_MAX  64


static ngx_int_t ngx_http_gateway_route_parse_segment(
    ngx_http_gateway_route_t *route, ngx_str_t *seg, ngx_pool_t *pool,
    ngx_array_t *params, ngx_str_t *err);
static ngx_uint_t ngx_http_gateway_route_hash(ngx_uint_t parent,
    ngx_str_t *segment);
static ngx_uint_t ngx_http_gateway_route_child(
    ngx_http_gateway_route_table_t *table, ngx_uint_t parent,
    ngx_str_t *segment);
static ngx_int_t ngx_http_gateway_route_add(
    ngx_http_gateway_route_table_t *table, ngx_http_gateway_route_t *route,
    ngx_array_t *lists, ngx_pool_t *pool,
    ngx_http_gateway_route_t **conflict);
static ngx_int_t ngx_http_gateway_route_visit(
    ngx_http_gateway_route_table_t *table, ngx_uint_t node,
    ngx_uint_t depth, ngx_uint_t complete, ngx_uint_t trailing_slash,
    ngx_uint_t method, ngx_http_gateway_route_match_t *m);
static ngx_uint_t ngx_http_gateway_route_param_ok(ngx_str_t *segment);


ngx_int_t
ngx_http_gateway_route_parse(ngx_pool_t *pool, ngx_str_t *pattern,
    ngx_http_gateway_route_t *route, ngx_str_t *err)
{
    u_char       *p, *last, *start;
    ngx_str_t     seg;
    ngx_array_t   segments, params;

    p = pattern->data;
    last = p + pattern->len;

    route->exact = 0;
    route->trailing_slash = 0;

    if (p < last && *p == '=') {
        route->exact = 1;
        p++;
    }

    if (p == last || *p != '/') {
        ngx_str_set(err, "a pattern starts with \"/\" (or \"=/\")");
        return NGX_DECLINED;
    }

    if (ngx_array_init(&segments, pool, 4, sizeof(ngx_str_t)) != NGX_OK) {
        return NGX_ERROR;
    }

    if (ngx_array_init(&params, pool, 1, sizeof(ngx_http_gateway_param_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    route->segments = segments.elts;
    route->nsegments = 0;

    for (p++; p < last; p++) {

        start = p;

        while (p < last && *p != '/') {

            if (*p < 0x21 || *p == 0x7f || *p == '?' || *p == '#') {
                ngx_str_set(err, "paths never contain control characters, "
                                 "spaces, \"?\" or \"#\"");
                return NGX_DECLINED;
            }

            if (*p == '%') {
                ngx_str_set(err, "patterns match the decoded path: write "
                                 "the character, not its %-escape");
                return NGX_DECLINED;
            }

            p++;
        }

        seg.data = start;
        seg.len = p - start;

        if (seg.len == 0) {
            ngx_str_set(err, "empty path segment (\"//\")");
            return NGX_DECLINED;
        }

        if (segments.nelts == NGX_HTTP_GATEWAY_MAX_SEGMENTS) {
            ngx_str_set(err, "more than 64 path segments");
            return NGX_DECLINED;
        }

        route->nsegments = segments.nelts;

        switch (ngx_http_gateway_route_parse_segment(route, &seg, pool,
                                                     &params, err))
        {
        case NGX_OK:
            break;

        case NGX_DECLINED:
            return NGX_DECLINED;

        default:
            return NGX_ERROR;
        }

        if (ngx_array_push(&segments) == NULL) {
            return NGX_ERROR;
        }

        route->segments = segments.elts;
        route->segments[segments.nelts - 1] = seg;

        if (p == last - 1) {
            route->trailing_slash = 1;
        }
    }

    route->nsegments = segments.nelts;
    route->params = params.elts;
    route->nparams = params.nelts;

    return NGX_OK;
}


static ngx_int_t
ngx_http_gateway_route_parse_segment(ngx_http_gateway_route_t *route,
    ngx_str_t *seg, ngx_pool_t *pool, ngx_array_t *params, ngx_str_t *err)
{
    u_char                    *p, *last;
    ngx_str_t                  name;
    ngx_uint_t                 i;
    ngx_http_gateway_param_t  *param;

    last = seg->data + seg->len;

    if (seg->data[0] != '{') {

        if (ngx_strlchr(seg->data, last, '{') != NULL
            || ngx_strlchr(seg->data, last, '}') != NULL)
        {
            ngx_str_set(err, "a parameter \"{name}\" is a whole segment");
            return NGX_DECLINED;
        }

        if ((seg->len == 1 && seg->data[0] == '.')
            || (seg->len == 2 && seg->data[0] == '.' && seg->data[1] == '.'))
        {
            ngx_str_set(err, "nginx removes \".\" and \"..\" segments from "
                             "paths, so this can never match");
            return NGX_DECLINED;
        }

        return NGX_OK;
    }

    if (seg->len < 3 || *(last - 1) != '}') {
        ngx_str_set(err, "a parameter \"{name}\" is a whole segment");
        return NGX_DECLINED;
    }

    name.data = seg->data + 1;
    name.len = seg->len - 2;

    if (name.len > NGX_HTTP_GATEWAY_PARAM_NAME_MAX) {
        ngx_str_set(err, "parameter name longer than 64 characters");
        return NGX_DECLINED;
    }

    for (p = name.data; p < name.data + name.len; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || *p == '_' || (*p >= '0' && *p <= '9' && p != name.data)))
        {
            ngx_str_set(err, "a parameter name is letters, digits and "
                             "\"_\", not starting with a digit");
            return NGX_DECLINED;
        }
    }

    param = params->elts;

    for (i = 0; i < params->nelts; i++) {
        if (param[i].name.len == name.len
            && ngx_strncmp(param[i].name.data, name.data, name.len) == 0)
        {
            ngx_str_set(err, "the same parameter name is used twice");
            return NGX_DECLINED;
        }
    }

    param = ngx_array_push(params);
    if (param == NULL) {
        return NGX_ERROR;
    }

    param->name = name;
    param->segment = route->nsegments;

    /* a parameter is stored as an empty segment */

    seg->len = 0;
    seg->data = NULL;

    return NGX_OK;
}


ngx_http_gateway_route_table_t *
ngx_http_gateway_route_table_create(ngx_pool_t *pool, ngx_array_t *routes,
    ngx_http_gateway_route_t **conflict)
{
    size_t                           size;
    ngx_uint_t                       i, j, n, nsegments;
    ngx_array_t                     *lists, *list;
    ngx_http_gateway_route_t       **route, **dst;
    ngx_http_gateway_route_table_t  *table;

    table = ngx_pcalloc(pool, sizeof(ngx_http_gateway_route_table_t));
    if (table == NULL) {
        return NULL;
    }

    route = routes->elts;
    nsegments = 0;

    for (i = 0; i < routes->nelts; i++) {
        nsegments += route[i]->nsegments;
    }

    /* every segment adds at most one node and one edge */

    table->nodes = ngx_pcalloc(pool, (nsegments + 1)
                                     * sizeof(ngx_http_gateway_route_node_t));
    if (table->nodes == NULL) {
        return NULL;
    }

    table->nnodes = 1;

    for (size = 8; size < 2 * nsegments; size <<= 1) { /* void */ }

    table->edges = ngx_pcalloc(pool,
                               size * sizeof(ngx_http_gateway_route_edge_t));
    if (table->edges == NULL) {
        return NULL;
    }

    table->edges_mask = size - 1;

    lists = ngx_pcalloc(pool, (nsegments + 1) * sizeof(ngx_array_t));
    if (lists == NULL) {
        return NULL;
    }

    for (i = 0; i < routes->nelts; i++) {
        switch (ngx_http_gateway_route_add(table, route[i], lists, pool,
                                           conflict))
        {
        case NGX_OK:
            break;

        case NGX_DECLINED:
            table->nroutes = 0;
            return table;

        default:
            return NULL;
        }
    }

    /* exact routes before prefix ones, each in declaration order */

    for (i = 0; i < table->nnodes; i++) {
        list = &lists[i];

        if (list->nelts == 0) {
            continue;
        }

        dst = ngx_palloc(pool, list->nelts * sizeof(void *));
        if (dst == NULL) {
            return NULL;
        }

        route = list->elts;
        n = 0;

        for (j = 0; j < list->nelts; j++) {
            if (route[j]->exact) {
                dst[n++] = route[j];
            }
        }

        for (j = 0; j < list->nelts; j++) {
            if (!route[j]->exact) {
                dst[n++] = route[j];
            }
        }

        table->nodes[i].routes = dst;
        table->nodes[i].nroutes = n;
    }

    table->nroutes = routes->nelts;

    return table;
}


static ngx_int_t
ngx_http_gateway_route_add(ngx_http_gateway_route_table_t *table,
    ngx_http_gateway_route_t *route, ngx_array_t *lists, ngx_pool_t *pool,
    ngx_http_gateway_route_t **conflict)
{
    ngx_uint_t                       i, node, child, slot;
    ngx_str_t                       *seg;
    ngx_array_t                     *list;
    ngx_http_gateway_route_t       **other, **r;
    ngx_http_gateway_route_edge_t   *edge;

    node = 0;

    for (i = 0; i < route->nsegments; i++) {
        seg = &route->segments[i];

        if (seg->len == 0) {
            if (table->nodes[node].param == 0) {
                table->nodes[node].param = table->nnodes++;
            }

            node = table->nodes[node].param;
            continue;
        }

        child = ngx_http_gateway_route_child(table, node, seg);

        if (child == 0) {
            slot = ngx_http_gateway_route_hash(node, seg) & table->edges_mask;

            for ( ;; ) {
                edge = &table->edges[slot];

                if (edge->child == 0) {
                    break;
                }

                slot = (slot + 1) & table->edges_mask;
            }

            edge->parent = node;
            edge->segment = *seg;
            edge->child = table->nnodes++;

            child = edge->child;
        }

        node = child;
    }

    if (route->nsegments > table->max_depth) {
        table->max_depth = route->nsegments;
    }

    list = &lists[node];

    if (list->elts == NULL) {
        if (ngx_array_init(list, pool, 2, sizeof(void *)) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    other = list->elts;

    for (i = 0; i < list->nelts; i++) {
        if (other[i]->exact == route->exact
            && (!route->exact
                || other[i]->trailing_slash == route->trailing_slash)
            && (other[i]->methods & route->methods))
        {
            conflict[0] = other[i];
            conflict[1] = route;
            return NGX_DECLINED;
        }
    }

    r = ngx_array_push(list);
    if (r == NULL) {
        return NGX_ERROR;
    }

    *r = route;

    return NGX_OK;
}


static ngx_uint_t
ngx_http_gateway_route_hash(ngx_uint_t parent, ngx_str_t *segment)
{
    uint32_t  h;
    size_t    i;

    /* FNV-1a over the parent node number and the segment */

    h = 2166136261u ^ (uint32_t) parent;
    h *= 16777619u;

    for (i = 0; i < segment->len; i++) {
        h ^= segment->data[i];
        h *= 16777619u;
    }

    return h;
}


static ngx_uint_t
ngx_http_gateway_route_child(ngx_http_gateway_route_table_t *table,
    ngx_uint_t parent, ngx_str_t *segment)
{
    ngx_uint_t                      slot;
    ngx_http_gateway_route_edge_t  *edge;

    slot = ngx_http_gateway_route_hash(parent, segment) & table->edges_mask;

    for ( ;; ) {
        edge = &table->edges[slot];

        if (edge->child == 0) {
            return 0;
        }

        if (edge->parent == parent
            && edge->segment.len == segment->len
            && ngx_memcmp(edge->segment.data, segment->data, segment->len)
               == 0)
        {
            return edge->child;
        }

        slot = (slot + 1) & table->edges_mask;
    }
}


ngx_int_t
ngx_http_gateway_route_match(ngx_http_gateway_route_table_t *table,
    ngx_str_t *path, ngx_uint_t method, ngx_http_gateway_route_match_t *m)
{
    u_char      *p, *last, *start;
    ngx_uint_t   complete, trailing_slash;

    m->route = NULL;
    m->allowed = 0;
    m->nsegments = 0;
    m->rest = path->data;

    p = path->data;
    last = p + path->len;
    complete = 1;

    while (p < last) {

        if (*p == '/') {
            p++;
            continue;
        }

        if (m->nsegments == table->max_depth) {
            complete = 0;
            break;
        }

        start = p;

        while (p < last && *p != '/') {
            p++;
        }

        m->segments[m->nsegments].data = start;
        m->segments[m->nsegments].len = p - start;
        m->nsegments++;
    }

    trailing_slash = (m->nsegments > 0 && path->data[path->len - 1] == '/');

    if (ngx_http_gateway_route_visit(table, 0, 0, complete, trailing_slash,
                                     method, m)
        != NGX_OK)
    {
        return NGX_DECLINED;
    }

    if (m->route->nsegments) {
        start = m->segments[m->route->nsegments - 1].data;
        m->rest = start + m->segments[m->route->nsegments - 1].len;
    }

    return NGX_OK;
}


/*
 * Depth first, literal segment before parameter before the node's own
 * routes: the first route found is the most specific one.
 */

static ngx_int_t
ngx_http_gateway_route_visit(ngx_http_gateway_route_table_t *table,
    ngx_uint_t node, ngx_uint_t depth, ngx_uint_t complete,
    ngx_uint_t trailing_slash, ngx_uint_t method,
    ngx_http_gateway_route_match_t *m)
{
    ngx_uint_t                      i, child;
    ngx_http_gateway_route_t       *route;
    ngx_http_gateway_route_node_t  *n;

    n = &table->nodes[node];

    if (depth < m->nsegments) {
        child = ngx_http_gateway_route_child(table, node,
                                             &m->segments[depth]);

        if (child
            && ngx_http_gateway_route_visit(table, child, depth + 1,
                                            complete, trailing_slash,
                                            method, m)
               == NGX_OK)
        {
            return NGX_OK;
        }

        if (n->param
            && ngx_http_gateway_route_param_ok(&m->segments[depth])
            && ngx_http_gateway_route_visit(table, n->param, depth + 1,
                                            complete, trailing_slash,
                                            method, m)
               == NGX_OK)
        {
            return NGX_OK;
        }
    }

    for (i = 0; i < n->nroutes; i++) {
        route = n->routes[i];

        if (route->exact
            && (depth != m->nsegments || !complete
                || route->trailing_slash != trailing_slash))
        {
            continue;
        }

        m->allowed |= route->methods;

        if (route->methods & method) {
            m->route = route;
            return NGX_OK;
        }
    }

    return NGX_DECLINED;
}


/*
 * A parameter becomes a variable that configurations put in request
 * headers: a control byte in it (CR, LF, NUL...) could split the header,
 * so such a segment is no value of any parameter.
 */

static ngx_uint_t
ngx_http_gateway_route_param_ok(ngx_str_t *segment)
{
    u_char  *p, *last;

    last = segment->data + segment->len;

    for (p = segment->data; p < last; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }

    return 1;
}


ngx_int_t
ngx_http_gateway_route_path_check(ngx_str_t *path)
{
    u_char  *p, *last;

    p = path->data;
    last = p + path->len;

    while (p < last) {

        if (*p++ != '/' || p == last || *p != '.') {
            continue;
        }

        /* "/.;" or "/..;": servlet containers read them as "." or ".." */

        if ((last - p >= 2 && p[1] == ';')
            || (last - p >= 3 && p[1] == '.' && p[2] == ';'))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}
