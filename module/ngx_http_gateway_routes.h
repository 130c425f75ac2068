
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#ifndef _NGX_HTTP_GATEWAY_ROUTES_H_INCLUDED_
#define _NGX_HTTP_GATEWAY_ROUTES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/*
 * The route table: a segment trie built once at configuration time.
 * A lookup costs one hash probe per path segment, whatever the number
 * of routes; it never reads the request, the clock or global state.
 */


#define NGX_HTTP_GATEWAY_MAX_SEGMENTS  64


typedef struct {
    ngx_str_t                        name;
    ngx_uint_t                       segment;   /* index in the path */
} ngx_http_gateway_param_t;


typedef struct {
    ngx_str_t                        pattern;   /* as written */
    ngx_uint_t                       methods;   /* bit mask of methods */
    void                            *service;   /* opaque to the table */
    ngx_str_t                        service_name;

    ngx_str_t                       *segments;  /* parameters: len 0 */
    ngx_uint_t                       nsegments;
    ngx_http_gateway_param_t        *params;
    ngx_uint_t                       nparams;

    u_char                          *file;      /* where it was declared */
    ngx_uint_t                       line;

    unsigned                         exact:1;
    unsigned                         strip:1;
    unsigned                         trailing_slash:1;
} ngx_http_gateway_route_t;


typedef struct {
    ngx_uint_t                       param;     /* child node, 0: none */
    ngx_http_gateway_route_t       **routes;    /* exact ones first */
    ngx_uint_t                       nroutes;
} ngx_http_gateway_route_node_t;


typedef struct {
    ngx_str_t                        segment;
    ngx_uint_t                       parent;
    ngx_uint_t                       child;     /* 0: empty slot */
} ngx_http_gateway_route_edge_t;


typedef struct {
    ngx_http_gateway_route_node_t   *nodes;     /* nodes[0] is "/" */
    ngx_uint_t                       nnodes;
    ngx_http_gateway_route_edge_t   *edges;     /* open addressing */
    ngx_uint_t                       edges_mask;
    ngx_uint_t                       max_depth;
    ngx_uint_t                       nroutes;
} ngx_http_gateway_route_table_t;


typedef struct {
    ngx_http_gateway_route_t        *route;     /* NULL: no match */
    ngx_uint_t                       allowed;   /* methods of routes whose
                                                   path matched */
    u_char                          *rest;      /* path after the route's
                                                   segments, for "strip" */
    ngx_str_t                        segments[NGX_HTTP_GATEWAY_MAX_SEGMENTS];
    ngx_uint_t                       nsegments;
} ngx_http_gateway_route_match_t;


/*
 * Parses "/users/{id}" or "=/healthz" into route->segments, ->params,
 * ->exact and ->trailing_slash.  Returns NGX_OK, NGX_ERROR on memory
 * failure, or NGX_DECLINED with *err set to why the pattern is invalid.
 */
ngx_int_t ngx_http_gateway_route_parse(ngx_pool_t *pool,
    ngx_str_t *pattern, ngx_http_gateway_route_t *route, ngx_str_t *err);

/*
 * Builds the table from an array of ngx_http_gateway_route_t pointers.
 * Returns NULL on memory failure; when two routes match the same paths
 * with a common method, *conflict[0] and *conflict[1] name them and
 * the returned table has nroutes == 0.
 */
ngx_http_gateway_route_table_t *ngx_http_gateway_route_table_create(
    ngx_pool_t *pool, ngx_array_t *routes,
    ngx_http_gateway_route_t **conflict);

/*
 * Finds the most specific route for a normalised path and a method bit.
 * A segment with a control byte matches no parameter.
 * Returns NGX_OK with m->route set, or NGX_DECLINED: m->allowed is then
 * 0 if no route matches the path, else the methods that would match.
 */
ngx_int_t ngx_http_gateway_route_match(ngx_http_gateway_route_table_t *table,
    ngx_str_t *path, ngx_uint_t method, ngx_http_gateway_route_match_t *m);

/*
 * NGX_DECLINED when a segment of the normalised path starts with ".;" or
 * "..;": nginx leaves them, but servlet containers drop what follows ";"
 * and then read a dot segment, leaving the endpoint's path.
 */
ngx_int_t ngx_http_gateway_route_path_check(ngx_str_t *path);


#endif /* _NGX_HTTP_GATEWAY_ROUTES_H_INCLUDED_ */
