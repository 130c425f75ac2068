
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include "gateway_test.h"
#include <ngx_http.h>
#include "ngx_http_gateway_parse.h"
#include "ngx_http_gateway_routes.h"


typedef struct {
    ngx_pool_t                      *pool;
    ngx_array_t                     *routes;
    ngx_http_gateway_route_table_t  *table;
    ngx_http_gateway_route_t        *conflict[2];
} routes_state_t;


static ngx_http_gateway_route_t *
route_new(routes_state_t *st, const char *methods, const char *pattern,
    unsigned strip)
{
    ngx_str_t                  p, m, err;
    ngx_http_gateway_route_t  *route, **r;

    route = ngx_pcalloc(st->pool, sizeof(ngx_http_gateway_route_t));
    assert_non_null(route);

    m = gateway_test_str(st->pool, methods);
    assert_int_equal(ngx_http_gateway_parse_methods(&m, &route->methods,
                                                    &err), NGX_OK);

    p = gateway_test_str(st->pool, pattern);
    route->pattern = p;
    route->strip = strip;
    route->service = route;

    assert_int_equal(ngx_http_gateway_route_parse(st->pool, &p, route, &err),
                     NGX_OK);

    r = ngx_array_push(st->routes);
    assert_non_null(r);
    *r = route;

    return route;
}


static void
table_build(routes_state_t *st)
{
    st->table = ngx_http_gateway_route_table_create(st->pool, st->routes,
                                                    st->conflict);
    assert_non_null(st->table);
}


static ngx_int_t
match(routes_state_t *st, const char *path, ngx_uint_t method,
    ngx_http_gateway_route_match_t *m)
{
    ngx_str_t  p;

    p = gateway_test_str(st->pool, path);

    return ngx_http_gateway_route_match(st->table, &p, method, m);
}


/* the pattern of the route chosen for a GET of path, or "404"/"405" */

static const char *
winner(routes_state_t *st, const char *path, ngx_uint_t method)
{
    static char                     buf[256];
    ngx_http_gateway_route_match_t  m;

    if (match(st, path, method, &m) != NGX_OK) {
        return m.allowed ? "405" : "404";
    }

    ngx_memcpy(buf, m.route->pattern.data, m.route->pattern.len);
    buf[m.route->pattern.len] = '\0';

    return buf;
}


static int
setup(void **state)
{
    routes_state_t  *st;

    st = calloc(1, sizeof(routes_state_t));
    st->pool = gateway_test_pool();
    st->routes = ngx_array_create(st->pool, 4, sizeof(void *));

    *state = st;

    return 0;
}


static int
teardown(void **state)
{
    routes_state_t  *st = *state;

    ngx_destroy_pool(st->pool);
    free(st);

    return 0;
}


static ngx_int_t
parse_error(routes_state_t *st, const char *pattern)
{
    ngx_str_t                 p, err;
    ngx_http_gateway_route_t  route;

    ngx_memzero(&route, sizeof(route));
    p = gateway_test_str(st->pool, pattern);

    return ngx_http_gateway_route_parse(st->pool, &p, &route, &err);
}


static void
test_parse_valid(void **state)
{
    routes_state_t            *st = *state;
    ngx_http_gateway_route_t  *r;

    r = route_new(st, "*", "/", 0);
    assert_int_equal(r->nsegments, 0);
    assert_false(r->exact);
    assert_false(r->trailing_slash);

    r = route_new(st, "*", "=/healthz", 0);
    assert_true(r->exact);
    assert_int_equal(r->nsegments, 1);
    assert_memory_equal(r->segments[0].data, "healthz", 7);

    r = route_new(st, "*", "/orders/", 0);
    assert_true(r->trailing_slash);
    assert_int_equal(r->nsegments, 1);

    r = route_new(st, "*", "/users/{id}/posts/{post_id}", 0);
    assert_int_equal(r->nsegments, 4);
    assert_int_equal(r->nparams, 2);
    assert_int_equal(r->params[0].segment, 1);
    assert_int_equal(r->params[1].segment, 3);
    assert_int_equal(r->params[1].name.len, 7);
    assert_memory_equal(r->params[1].name.data, "post_id", 7);
    assert_int_equal(r->segments[1].len, 0);
    assert_int_equal(r->segments[2].len, 5);
}


static void
test_parse_invalid(void **state)
{
    routes_state_t  *st = *state;
    char             deep[64 * 3 + 8];
    ngx_uint_t       i;

    assert_int_equal(parse_error(st, ""), NGX_DECLINED);
    assert_int_equal(parse_error(st, "orders"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "="), NGX_DECLINED);
    assert_int_equal(parse_error(st, "==/a"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/a//b"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/a?b=1"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/a#b"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/a%20b"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/a b"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/a\tb"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/./a"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/a/.."), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/{}"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/{id"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/id}"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/x{id}"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/{id}x"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/{1id}"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/{i-d}"), NGX_DECLINED);
    assert_int_equal(parse_error(st, "/{id}/{id}"), NGX_DECLINED);

    /* dots inside a segment are ordinary characters */
    assert_int_equal(parse_error(st, "/a.b/..c/.d"), NGX_OK);

    /* 64 segments are allowed, 65 are not */

    for (i = 0; i < 64; i++) {
        ngx_memcpy(deep + 2 * i, "/a", 2);
    }

    deep[128] = '\0';
    assert_int_equal(parse_error(st, deep), NGX_OK);

    ngx_memcpy(deep + 128, "/a", 3);
    assert_int_equal(parse_error(st, deep), NGX_DECLINED);
}


static void
test_prefix_segments(void **state)
{
    routes_state_t  *st = *state;

    route_new(st, "*", "/orders/", 0);
    table_build(st);

    /* a prefix matches whole segments, with or without a trailing "/" */
    assert_string_equal(winner(st, "/orders", NGX_HTTP_GET), "/orders/");
    assert_string_equal(winner(st, "/orders/", NGX_HTTP_GET), "/orders/");
    assert_string_equal(winner(st, "/orders/1/x", NGX_HTTP_GET), "/orders/");
    assert_string_equal(winner(st, "/ordersx", NGX_HTTP_GET), "404");
    assert_string_equal(winner(st, "/order", NGX_HTTP_GET), "404");
    assert_string_equal(winner(st, "/", NGX_HTTP_GET), "404");
    assert_string_equal(winner(st, "/x/orders", NGX_HTTP_GET), "404");
}


static void
test_most_specific(void **state)
{
    routes_state_t  *st = *state;

    route_new(st, "*", "/", 0);
    route_new(st, "*", "/api/", 0);
    route_new(st, "*", "/api/v1/", 0);
    route_new(st, "*", "=/api/v1", 0);
    route_new(st, "*", "/api/{version}/users", 0);
    route_new(st, "*", "/api/v1/{resource}", 0);
    table_build(st);

    assert_string_equal(winner(st, "/", NGX_HTTP_GET), "/");
    assert_string_equal(winner(st, "/other", NGX_HTTP_GET), "/");
    assert_string_equal(winner(st, "/api", NGX_HTTP_GET), "/api/");
    assert_string_equal(winner(st, "/api/v2", NGX_HTTP_GET), "/api/");

    /* exact beats the prefix of the same path */
    assert_string_equal(winner(st, "/api/v1", NGX_HTTP_GET), "=/api/v1");
    assert_string_equal(winner(st, "/api/v1/", NGX_HTTP_GET), "/api/v1/");

    /* a literal segment beats a parameter at the same position */
    assert_string_equal(winner(st, "/api/v1/users", NGX_HTTP_GET),
                        "/api/v1/{resource}");
    assert_string_equal(winner(st, "/api/v2/users", NGX_HTTP_GET),
                        "/api/{version}/users");

    /* longer beats shorter */
    assert_string_equal(winner(st, "/api/v1/orders/7", NGX_HTTP_GET),
                        "/api/v1/{resource}");
    assert_string_equal(winner(st, "/api/v2/users/7", NGX_HTTP_GET),
                        "/api/{version}/users");
}


static void
test_backtracking(void **state)
{
    routes_state_t  *st = *state;

    route_new(st, "*", "=/users/me/settings", 0);
    route_new(st, "*", "=/users/{id}/posts", 0);
    table_build(st);

    assert_string_equal(winner(st, "/users/me/settings", NGX_HTTP_GET),
                        "=/users/me/settings");

    /* "me" is a literal child, but only the parameter route matches */
    assert_string_equal(winner(st, "/users/me/posts", NGX_HTTP_GET),
                        "=/users/{id}/posts");
    assert_string_equal(winner(st, "/users/7/settings", NGX_HTTP_GET),
                        "404");
    assert_string_equal(winner(st, "/users/7/posts/x", NGX_HTTP_GET),
                        "404");
}


static void
test_exact_trailing_slash(void **state)
{
    routes_state_t  *st = *state;

    route_new(st, "*", "=/a", 0);
    route_new(st, "*", "=/a/", 0);
    route_new(st, "*", "=/", 0);
    table_build(st);

    assert_string_equal(winner(st, "/a", NGX_HTTP_GET), "=/a");
    assert_string_equal(winner(st, "/a/", NGX_HTTP_GET), "=/a/");
    assert_string_equal(winner(st, "/", NGX_HTTP_GET), "=/");
    assert_string_equal(winner(st, "/a/b", NGX_HTTP_GET), "404");
}


static void
test_methods(void **state)
{
    routes_state_t                  *st = *state;
    ngx_http_gateway_route_match_t   m;

    route_new(st, "GET", "/orders/", 0);
    route_new(st, "POST,PUT", "/orders/{id}", 0);
    route_new(st, "DELETE", "/admin/", 0);
    table_build(st);

    /* GET admits HEAD */
    assert_string_equal(winner(st, "/orders/1", NGX_HTTP_HEAD), "/orders/");
    assert_string_equal(winner(st, "/orders/1", NGX_HTTP_POST),
                        "/orders/{id}");

    /* a less specific route takes a method the more specific lacks */
    assert_string_equal(winner(st, "/orders/1", NGX_HTTP_GET), "/orders/");

    /* no route of this path takes PATCH: 405 and the union of methods */
    assert_int_equal(match(st, "/orders/1", NGX_HTTP_PATCH, &m),
                     NGX_DECLINED);
    assert_int_equal(m.allowed, NGX_HTTP_GET | NGX_HTTP_HEAD | NGX_HTTP_POST
                                | NGX_HTTP_PUT);

    assert_int_equal(match(st, "/orders", NGX_HTTP_POST, &m), NGX_DECLINED);
    assert_int_equal(m.allowed, NGX_HTTP_GET | NGX_HTTP_HEAD);

    assert_int_equal(match(st, "/nothing", NGX_HTTP_GET, &m), NGX_DECLINED);
    assert_int_equal(m.allowed, 0);

    assert_string_equal(winner(st, "/admin/x", NGX_HTTP_UNKNOWN), "405");
}


static void
test_strip_and_params(void **state)
{
    routes_state_t                  *st = *state;
    ngx_http_gateway_route_t        *r;
    ngx_http_gateway_route_match_t   m;

    r = route_new(st, "*", "/fn/{name}/", 1);
    route_new(st, "*", "/", 1);
    table_build(st);

    assert_int_equal(match(st, "/fn/resize/img/1.png", NGX_HTTP_GET, &m),
                     NGX_OK);
    assert_ptr_equal(m.route, r);
    assert_int_equal(m.segments[r->params[0].segment].len, 6);
    assert_memory_equal(m.segments[r->params[0].segment].data, "resize", 6);
    assert_string_equal((char *) m.rest, "/img/1.png");

    assert_int_equal(match(st, "/fn/resize", NGX_HTTP_GET, &m), NGX_OK);
    assert_string_equal((char *) m.rest, "");

    assert_int_equal(match(st, "/fn/resize/", NGX_HTTP_GET, &m), NGX_OK);
    assert_string_equal((char *) m.rest, "/");

    /* the root prefix strips nothing */
    assert_int_equal(match(st, "/other/x", NGX_HTTP_GET, &m), NGX_OK);
    assert_string_equal((char *) m.rest, "/other/x");
}


static void
test_unnormalised_paths(void **state)
{
    routes_state_t                  *st = *state;
    ngx_http_gateway_route_match_t   m;

    route_new(st, "*", "=/a/b", 0);
    route_new(st, "*", "/p/", 1);
    table_build(st);

    /* with merge_slashes off nginx keeps "//": empty segments are skipped */
    assert_string_equal(winner(st, "//a//b", NGX_HTTP_GET), "=/a/b");

    assert_int_equal(match(st, "/p//x", NGX_HTTP_GET, &m), NGX_OK);
    assert_string_equal((char *) m.rest, "//x");
}


static void
test_deeper_than_any_route(void **state)
{
    routes_state_t  *st = *state;
    char             path[4096];
    ngx_uint_t       i;

    route_new(st, "*", "/a/", 0);
    route_new(st, "*", "=/a/b", 0);
    table_build(st);

    ngx_memcpy(path, "/a/b", 4);

    for (i = 0; i < 1000; i++) {
        ngx_memcpy(path + 4 + 2 * i, "/b", 2);
    }

    path[4 + 2000] = '\0';

    assert_string_equal(winner(st, path, NGX_HTTP_GET), "/a/");
    assert_string_equal(winner(st, "/a/b/", NGX_HTTP_GET), "/a/");
    assert_string_equal(winner(st, "/a/b", NGX_HTTP_GET), "=/a/b");
}


static void
test_conflicts(void **state)
{
    routes_state_t  *st = *state;

    route_new(st, "GET", "/orders/", 0);
    route_new(st, "POST", "/orders", 0);
    route_new(st, "GET", "=/orders", 0);
    route_new(st, "GET", "=/orders/", 0);
    route_new(st, "GET", "/orders/{id}", 0);
    table_build(st);

    assert_int_equal(st->table->nroutes, 5);

    /* same paths and a common method: the second can never match */
    route_new(st, "PUT,POST", "/orders/", 0);
    table_build(st);

    assert_int_equal(st->table->nroutes, 0);
    assert_string_equal((char *) st->conflict[0]->pattern.data, "/orders");
    assert_string_equal((char *) st->conflict[1]->pattern.data, "/orders/");
}


static void
test_parameter_names_do_not_split_nodes(void **state)
{
    routes_state_t                  *st = *state;
    ngx_http_gateway_route_match_t   m;

    route_new(st, "GET", "=/u/{id}", 0);
    route_new(st, "POST", "=/u/{uid}", 0);
    table_build(st);

    assert_int_equal(match(st, "/u/5", NGX_HTTP_POST, &m), NGX_OK);
    assert_memory_equal(m.route->params[0].name.data, "uid", 3);

    /* the same parameter position with a common method conflicts */
    route_new(st, "GET", "=/u/{other}", 0);
    table_build(st);
    assert_int_equal(st->table->nroutes, 0);
}


static void
test_many_routes(void **state)
{
    routes_state_t  *st = *state;
    char             pattern[64], path[64];
    ngx_uint_t       i;

    for (i = 0; i < 10000; i++) {
        ngx_sprintf((u_char *) pattern, "/fn%ui/%s%Z", i,
                    (i % 3 == 0) ? "{id}/run" : "");
        route_new(st, (i % 2) ? "POST" : "*", pattern, 0);
    }

    table_build(st);

    assert_int_equal(st->table->nroutes, 10000);

    /* one node per distinct segment: "/fnN", "{id}" and "run" */
    assert_int_equal(st->table->nnodes, 1 + 10000 + 2 * 3334);

    for (i = 0; i < 10000; i++) {
        ngx_sprintf((u_char *) path, "/fn%ui/7/run%Z", i);
        ngx_sprintf((u_char *) pattern, "/fn%ui/%s%Z", i,
                    (i % 3 == 0) ? "{id}/run" : "");

        assert_string_equal(winner(st, path, NGX_HTTP_POST), pattern);
        assert_string_equal(winner(st, path, NGX_HTTP_GET),
                            (i % 2) ? "405" : pattern);
    }

    assert_string_equal(winner(st, "/fn10000", NGX_HTTP_GET), "404");
    assert_string_equal(winner(st, "/fn", NGX_HTTP_GET), "404");
}


static void
test_control_bytes_match_no_parameter(void **state)
{
    routes_state_t  *st = *state;

    route_new(st, "GET", "/users/{id}", 0);
    route_new(st, "GET", "/files/", 0);
    table_build(st);

    assert_string_equal(winner(st, "/users/7", NGX_HTTP_GET), "/users/{id}");
    assert_string_equal(winner(st, "/users/7\r\nX-Gateway-Consumer: a",
                               NGX_HTTP_GET), "404");
    assert_string_equal(winner(st, "/users/a\tb", NGX_HTTP_GET), "404");
    assert_string_equal(winner(st, "/users/a\x7f", NGX_HTTP_GET), "404");
    assert_string_equal(winner(st, "/users/a\x1f", NGX_HTTP_GET), "404");

    /* bytes from 0x80 are UTF-8, not controls */
    assert_string_equal(winner(st, "/users/\xc3\xa9", NGX_HTTP_GET),
                        "/users/{id}");

    /* a prefix route forwards the rest as an escaped path: no variable */
    assert_string_equal(winner(st, "/files/a\r\nb", NGX_HTTP_GET),
                        "/files/");
}


static void
test_dot_semicolon_segments(void **state)
{
    ngx_uint_t   i;
    ngx_str_t    path;

    static const char  *bad[] = {
        "/..;/admin", "/a/..;jsessionid=1/b", "/a/.;/b", "/.;", "/a/..;",
        NULL
    };

    static const char  *good[] = {
        "/", "/a/b", "/a/..b", "/a/.b;c", "/a/b..;", "/a/x.;", "/a;/..x",
        "/a/...;", "", NULL
    };

    (void) state;

    for (i = 0; bad[i]; i++) {
        path.data = (u_char *) bad[i];
        path.len = strlen(bad[i]);
        assert_int_equal(ngx_http_gateway_route_path_check(&path),
                         NGX_DECLINED);
    }

    for (i = 0; good[i]; i++) {
        path.data = (u_char *) good[i];
        path.len = strlen(good[i]);
        assert_int_equal(ngx_http_gateway_route_path_check(&path), NGX_OK);
    }
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_parse_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_parse_invalid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_prefix_segments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_most_specific, setup, teardown),
        cmocka_unit_test_setup_teardown(test_backtracking, setup, teardown),
        cmocka_unit_test_setup_teardown(test_exact_trailing_slash, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_methods, setup, teardown),
        cmocka_unit_test_setup_teardown(test_strip_and_params, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_unnormalised_paths, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_deeper_than_any_route, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_parameter_names_do_not_split_nodes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_routes, setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_control_bytes_match_no_parameter, setup, teardown),
        cmocka_unit_test(test_dot_semicolon_segments),
    };

    return cmocka_run_group_tests_name("routes", tests, NULL, NULL);
}
