
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


/*
 * The gateway zone's init callback, as nginx calls it on start and on
 * reload: a fresh zone, a zone kept across a reload, and an old zone of
 * another layout version (or not a gateway zone at all), which must
 * start afresh instead of failing the reload.  The zone is malloc'ed
 * memory set up as ngx_init_zone_pool() sets up a mapping; the rate
 * limit store is the real one, to show the zone usable afterwards.
 */


#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gateway_test.h"
#include "ngx_http_gateway_module.h"

/* the real store: "usable" is judged by what the gateway does with it */
#include "ngx_gateway_limit.c"


#define ZONE_SIZE  (1024 * 1024)
#define R10        10000


/* what the zone's init needs of the rest of the module and of nginx */

ngx_module_t  ngx_http_gateway_module;

static ngx_time_t             test_time = { .sec = 1700000000 };
volatile ngx_time_t          *ngx_cached_time = &test_time;

static ngx_uint_t             circuit_calls;
static void                  *circuit_gmcf;


ngx_int_t
ngx_http_gateway_breaker_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_gateway_main_conf_t *gmcf)
{
    ngx_http_gateway_zone_t  *zone = shm_zone->data;

    /* the services are looked up in a tree that must be there */
    assert_non_null(zone->sh);
    assert_ptr_equal(zone->sh->services.sentinel,
                     &zone->sh->services_sentinel);

    circuit_calls++;
    circuit_gmcf = gmcf;

    return NGX_OK;
}


ngx_int_t
ngx_http_gateway_bulkheads_init_zone(ngx_shm_zone_t *shm_zone,
    ngx_http_gateway_main_conf_t *gmcf)
{
    ngx_http_gateway_zone_t  *zone = shm_zone->data;

    /* the bulkheads are looked up in a tree that must be there too */
    assert_non_null(zone->sh);
    assert_ptr_equal(zone->sh->bulkheads.sentinel,
                     &zone->sh->bulkheads_sentinel);
    assert_ptr_equal(gmcf, circuit_gmcf);

    return NGX_OK;
}


/* nginx's list of zones: the one the test set up */

static ngx_shm_zone_t        *next_shm_zone;


ngx_shm_zone_t *
ngx_shared_memory_add(ngx_conf_t *cf, ngx_str_t *name, size_t size,
    void *tag)
{
    assert_non_null(next_shm_zone);
    assert_int_equal(size, next_shm_zone->shm.size);
    assert_ptr_equal(tag, &ngx_http_gateway_module);
    assert_int_equal(name->len, next_shm_zone->shm.name.len);

    return next_shm_zone;
}


/* the directive's parsing is not under test here */


ssize_t
ngx_parse_size(ngx_str_t *line)
{
    fail_msg("ngx_parse_size called");
    return NGX_ERROR;
}


void
ngx_conf_log_error(ngx_uint_t level, ngx_conf_t *cf, ngx_err_t err,
    const char *fmt, ...)
{
    fail_msg("ngx_conf_log_error called");
}


/* one configuration's zone */
typedef struct {
    u_char                   *mem;
    ngx_pool_t               *pool;
    ngx_shm_zone_t            shm_zone;
    ngx_http_gateway_zone_t  *zone;
    int                       gmcf;       /* only its address matters */
} gen_t;


static ngx_log_t  test_log;


/*
 * What "gateway_zone gw 1m;" in a configuration makes, over the mapping
 * mem: nginx's shm_zone, with the module's init and data.
 */

static void
gen_make(gen_t *g, u_char *mem)
{
    ngx_str_t        name;
    ngx_conf_t       cf;
    ngx_shm_zone_t  *shm_zone;

    ngx_memzero(g, sizeof(gen_t));

    g->mem = mem;
    g->pool = gateway_test_pool();

    g->shm_zone.shm.addr = mem;
    g->shm_zone.shm.size = ZONE_SIZE;
    ngx_str_set(&g->shm_zone.shm.name, "gw");
    test_log.log_level = NGX_LOG_DEBUG;
    g->shm_zone.shm.log = &test_log;
    g->shm_zone.tag = &ngx_http_gateway_module;

    ngx_memzero(&cf, sizeof(ngx_conf_t));
    cf.pool = g->pool;
    ngx_str_set(&name, "gw");

    next_shm_zone = &g->shm_zone;
    shm_zone = ngx_http_gateway_zone_add(&cf, &name, ZONE_SIZE, &g->gmcf);
    next_shm_zone = NULL;

    assert_ptr_equal(shm_zone, &g->shm_zone);
    assert_non_null(shm_zone->init);
    assert_non_null(shm_zone->data);

    g->zone = shm_zone->data;
}


static void
gen_free(gen_t *g)
{
    ngx_destroy_pool(g->pool);
}


/* a new mapping, as ngx_init_zone_pool() leaves it */

static u_char *
mapping(void)
{
    u_char           *mem;
    ngx_slab_pool_t  *sp;
    static int        sizes_done;

    if (ngx_pagesize == 0) {
        ngx_pagesize = 4096;
        ngx_pagesize_shift = 12;
        ngx_cacheline_size = 64;
    }

    if (!sizes_done) {
        /* it adds to a static: once a process */
        ngx_slab_sizes_init();
        sizes_done = 1;
    }

    mem = NULL;
    assert_int_equal(posix_memalign((void **) &mem, ngx_pagesize, ZONE_SIZE),
                     0);
    assert_non_null(mem);

    /* an mmap'ed segment is zeroed; garbage here shows what is reset */
    memset(mem, 0xa5, ZONE_SIZE);

    sp = (ngx_slab_pool_t *) mem;
    sp->end = mem + ZONE_SIZE;
    sp->min_shift = 3;
    sp->addr = mem;

    ngx_slab_init(sp);

    return mem;
}


/* nginx calls init with the old configuration's zone, or NULL */

static ngx_int_t
init(gen_t *g, gen_t *old)
{
    circuit_calls = 0;
    circuit_gmcf = NULL;
    gateway_test_logged[0] = '\0';

    return g->shm_zone.init(&g->shm_zone, old ? old->shm_zone.data : NULL);
}


/* a key's bucket in the zone's rate limit store: the zone at work */

static ngx_int_t
take(gen_t *g, const char *key, ngx_msec_t now)
{
    ngx_str_t                   k;
    ngx_uint_t                  created, remaining;
    ngx_msec_t                  reset, retry;
    ngx_gateway_bucket_t       *b;

    k.data = (u_char *) key;
    k.len = strlen(key);

    b = ngx_gateway_limit_lookup(g->zone->shpool, &g->zone->sh->limits,
                                 &k, now, R10, &created);
    assert_non_null(b);

    /* 10r/s, no burst */
    return ngx_gateway_bucket_take(b, R10, 0, now, &remaining, &reset,
                                   &retry);
}


/* the zone as a fresh one is: nothing in it but the context */

static void
assert_fresh(gen_t *g)
{
    ngx_http_gateway_shctx_t  *sh;

    sh = g->zone->sh;

    assert_non_null(sh);
    assert_ptr_equal(g->zone->shpool, (ngx_slab_pool_t *) g->mem);
    assert_ptr_equal(g->zone->shpool->data, sh);
    assert_int_equal(sh->magic, NGX_HTTP_GATEWAY_SHM_MAGIC);
    assert_int_equal(sh->version, NGX_HTTP_GATEWAY_SHM_VERSION);
    assert_int_equal(sh->created, test_time.sec);

    assert_ptr_equal(sh->services.root, &sh->services_sentinel);
    assert_ptr_equal(sh->limits.rbtree.root, &sh->limits.sentinel);
    assert_true(ngx_queue_empty(&sh->limits.lru));
    assert_int_equal(sh->limits.nodes, 0);
    assert_true(ngx_queue_empty(&sh->holds));

    assert_string_equal((char *) g->zone->shpool->log_ctx,
                        " in gateway zone \"gw\"");
    assert_int_equal(g->zone->shpool->log_nomem, 0);

    assert_int_equal(circuit_calls, 1);
    assert_ptr_equal(circuit_gmcf, &g->gmcf);
}


static void
test_fresh(void **state)
{
    gen_t  g;

    gen_make(&g, mapping());

    assert_int_equal(init(&g, NULL), NGX_OK);
    assert_fresh(&g);
    assert_string_equal((char *) gateway_test_logged,
                        "gateway zone \"gw\" created, 1024k\n");

    /* 10r/s without burst: one now, the next only 100 ms later */
    assert_int_equal(take(&g, "alice", 1000), NGX_OK);
    assert_int_equal(take(&g, "alice", 1050), NGX_BUSY);
    assert_int_equal(take(&g, "alice", 1100), NGX_OK);

    gen_free(&g);
    free(g.mem);
}


/* a reload that keeps the zone keeps what is in it */

static void
test_kept(void **state)
{
    gen_t                      old, g;
    ngx_http_gateway_shctx_t  *sh;

    gen_make(&old, mapping());
    assert_int_equal(init(&old, NULL), NGX_OK);

    assert_int_equal(take(&old, "alice", 1000), NGX_OK);
    sh = old.zone->sh;

    gen_make(&g, old.mem);

    assert_int_equal(init(&g, &old), NGX_OK);
    assert_string_equal((char *) gateway_test_logged,
                        "gateway zone \"gw\" kept across reload\n");

    assert_ptr_equal(g.zone->sh, sh);
    assert_ptr_equal(g.zone->shpool, old.zone->shpool);
    assert_int_equal(sh->limits.nodes, 1);
    assert_int_equal(circuit_calls, 1);
    assert_ptr_equal(circuit_gmcf, &g.gmcf);

    /* alice's bucket is still full: kept, not reset */
    assert_int_equal(take(&g, "alice", 1050), NGX_BUSY);

    gen_free(&old);
    gen_free(&g);
    free(g.mem);
}


/*
 * The old zone, in use, with a context of another layout version: the
 * reload goes on, with a notice, and the zone is as a fresh one, its
 * whole slab free again.
 */

static void
reinit_case(uint32_t magic, uint32_t version, uint32_t said)
{
    u_char           *p;
    size_t            size;
    char              notice[200];
    gen_t             old, g, ref;
    ngx_uint_t        i, pfree;
    ngx_slab_pool_t  *sp;

    snprintf(notice, sizeof(notice),
             "gateway zone \"gw\" holds state of layout version %u, "
             "this module uses %u: it starts afresh\n"
             "gateway zone \"gw\" created, 1024k\n",
             (unsigned) said, (unsigned) NGX_HTTP_GATEWAY_SHM_VERSION);

    /* what a fresh zone leaves free of its slab */
    gen_make(&ref, mapping());
    assert_int_equal(init(&ref, NULL), NGX_OK);
    pfree = ref.zone->shpool->pfree;
    gen_free(&ref);
    free(ref.mem);

    gen_make(&old, mapping());
    assert_int_equal(init(&old, NULL), NGX_OK);

    /* a zone at work: keys in the store, the slab mostly taken */

    assert_int_equal(take(&old, "alice", 1000), NGX_OK);
    assert_int_equal(take(&old, "bob", 1000), NGX_OK);

    sp = old.zone->shpool;

    for (i = 0; i < 200; i++) {
        p = ngx_slab_alloc(sp, 4000);
        assert_non_null(p);
        memset(p, 0x5a, 4000);
    }

    assert_true(sp->pfree < pfree - 200);

    old.zone->sh->magic = magic;
    old.zone->sh->version = version;

    /* the next configuration, over the same mapping */

    gen_make(&g, old.mem);

    assert_int_equal(init(&g, &old), NGX_OK);
    assert_string_equal((char *) gateway_test_logged, notice);

    assert_fresh(&g);
    assert_int_equal(g.zone->shpool->pfree, pfree);

    /* alice starts with a full quota again, in a store that works */
    assert_int_equal(take(&g, "alice", 1050), NGX_OK);
    assert_int_equal(take(&g, "alice", 1060), NGX_BUSY);
    assert_int_equal(g.zone->sh->limits.nodes, 1);

    /* nearly the whole slab can be had: nothing of the old is held */
    size = (pfree - 4) * ngx_pagesize;
    p = ngx_slab_alloc(g.zone->shpool, size);
    assert_non_null(p);
    ngx_slab_free(g.zone->shpool, p);

    gen_free(&old);

    /* and a later reload keeps the new zone */
    gen_make(&old, g.mem);
    assert_int_equal(init(&old, &g), NGX_OK);
    assert_ptr_equal(old.zone->sh, g.zone->sh);
    assert_int_equal(take(&old, "alice", 1070), NGX_BUSY);

    gen_free(&old);
    gen_free(&g);
    free(g.mem);
}


static void
test_older_version(void **state)
{
    reinit_case(NGX_HTTP_GATEWAY_SHM_MAGIC, NGX_HTTP_GATEWAY_SHM_VERSION - 1,
                NGX_HTTP_GATEWAY_SHM_VERSION - 1);
}


static void
test_newer_version(void **state)
{
    reinit_case(NGX_HTTP_GATEWAY_SHM_MAGIC, NGX_HTTP_GATEWAY_SHM_VERSION + 7,
                NGX_HTTP_GATEWAY_SHM_VERSION + 7);
}


static void
test_not_a_gateway_zone(void **state)
{
    /* whatever its version field says, it is not read as one */
    reinit_case(0xdeadbeef, NGX_HTTP_GATEWAY_SHM_VERSION, 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_fresh),
        cmocka_unit_test(test_kept),
        cmocka_unit_test(test_older_version),
        cmocka_unit_test(test_newer_version),
        cmocka_unit_test(test_not_a_gateway_zone),
    };

    return cmocka_run_group_tests_name("zone", tests, NULL, NULL);
}
