
/*
 * Copyright (C) ngx_http_gateway_module authors
 */


#include "gateway_test.h"
#include <openssl/sha.h>
#include "ngx_http_gateway_parse.h"
#include "ngx_http_gateway_consumers.h"


#define DIGEST_A  "sha256:" \
    "72ee9d4355ccb9d3a4c9dbf37382e38e75c1b1a225b5bd1f729ee91bbda30c20"
#define DIGEST_B  "sha256:" \
    "9b94dc1a51a38769f135edf04033ad7f2f487b6c25929be7a861cfc1ab10cf98"


typedef struct {
    ngx_pool_t                    *pool;
    ngx_http_gateway_consumers_t   consumers;
    ngx_str_t                      err;
} consumers_state_t;


static int
setup(void **state)
{
    consumers_state_t  *st;

    st = calloc(1, sizeof(consumers_state_t));
    st->pool = gateway_test_pool();

    *state = st;

    return 0;
}


static int
teardown(void **state)
{
    consumers_state_t  *st = *state;

    ngx_destroy_pool(st->pool);
    free(st);

    return 0;
}


static ngx_int_t
load(consumers_state_t *st, const char *json)
{
    ngx_str_t  text;

    text = gateway_test_str(st->pool, json);

    return ngx_http_gateway_consumers_parse(st->pool, text.data, text.len,
                                            &st->consumers, &st->err);
}


/* asserts the load fails with an error containing the text */

static void
load_fails(consumers_state_t *st, const char *json, const char *text)
{
    char  msg[NGX_MAX_ERROR_STR + 1];

    assert_int_equal(load(st, json), NGX_DECLINED);

    ngx_memcpy(msg, st->err.data, st->err.len);
    msg[st->err.len] = '\0';

    if (strstr(msg, text) == NULL) {
        fail_msg("error \"%s\" lacks \"%s\"", msg, text);
    }
}


static ngx_http_gateway_consumer_t *
by_key(consumers_state_t *st, const char *key)
{
    u_char  digest[SHA256_DIGEST_LENGTH];

    SHA256((u_char *) key, strlen(key), digest);

    return ngx_http_gateway_consumers_by_key(&st->consumers, digest);
}


static void
test_valid(void **state)
{
    consumers_state_t            *st = *state;
    ngx_str_t                     sub;
    ngx_http_gateway_consumer_t  *c;

    /* DIGEST_A is the SHA-256 of "alice-key", DIGEST_B of "bob-key" */

    assert_int_equal(load(st,
        "{\"consumers\": ["
        " {\"id\": \"alice\", \"keys\": [\"" DIGEST_A "\"],"
        "  \"services\": [\"orders\", \"users\"],"
        "  \"rate_limit\": \"10r/s burst=5\"},"
        " {\"id\": \"bob@example.com\", \"keys\": [\"" DIGEST_B "\"],"
        "  \"services\": [\"*\"], \"jwt_subject\": \"svc-bob\"},"
        " {\"id\": \"mobile-app\", \"jwt_subject\": \"mobile-app\","
        "  \"jwt_issuer\": \"https://id.example\", \"services\": [\"*\"]}"
        "]}"), NGX_OK);

    assert_int_equal(st->consumers.nconsumers, 3);

    c = by_key(st, "alice-key");
    assert_non_null(c);
    assert_int_equal(c->id.len, 5);
    assert_memory_equal(c->id.data, "alice", 5);
    assert_int_equal(c->nservices, 2);
    assert_false(c->all_services);
    assert_int_equal(c->rate, 10000);
    assert_int_equal(c->burst, 5);

    c = by_key(st, "bob-key");
    assert_non_null(c);
    assert_true(c->all_services);
    assert_int_equal(c->rate_limit.len, 0);

    assert_null(by_key(st, "alice-key "));
    assert_null(by_key(st, "Alice-key"));
    assert_null(by_key(st, ""));

    sub = gateway_test_str(st->pool, "mobile-app");
    c = ngx_http_gateway_consumers_by_subject(&st->consumers, &sub);
    assert_non_null(c);
    assert_memory_equal(c->id.data, "mobile-app", 10);
    assert_int_equal(c->jwt_issuer.len, 18);
    assert_memory_equal(c->jwt_issuer.data, "https://id.example", 18);

    sub = gateway_test_str(st->pool, "svc-bob");
    c = ngx_http_gateway_consumers_by_subject(&st->consumers, &sub);
    assert_non_null(c);
    assert_memory_equal(c->id.data, "bob@example.com", 15);

    sub = gateway_test_str(st->pool, "alice");
    assert_null(ngx_http_gateway_consumers_by_subject(&st->consumers, &sub));
}


static void
test_empty(void **state)
{
    consumers_state_t  *st = *state;

    assert_int_equal(load(st, "{\"consumers\": []}"), NGX_OK);
    assert_int_equal(st->consumers.nconsumers, 0);
    assert_null(by_key(st, "alice-key"));
}


/* n consumers "c0"..., with keys "key-0"...; the last one's id "c<dup>" */

static char *
many(consumers_state_t *st, ngx_uint_t n, ngx_uint_t dup)
{
    u_char      *json, *p, digest[SHA256_DIGEST_LENGTH];
    char         key[32];
    ngx_uint_t   i, j;

    json = ngx_palloc(st->pool, n * 128 + 64);
    assert_non_null(json);

    p = ngx_sprintf(json, "{\"consumers\": [");

    for (i = 0; i < n; i++) {
        ngx_sprintf((u_char *) key, "key-%ui%Z", i);
        SHA256((u_char *) key, strlen(key), digest);

        p = ngx_sprintf(p, "%s{\"id\": \"c%ui\", \"services\": [\"*\"], "
                           "\"keys\": [\"sha256:", i ? "," : "",
                        (i == n - 1) ? dup : i);

        for (j = 0; j < SHA256_DIGEST_LENGTH; j++) {
            p = ngx_sprintf(p, "%02xd", digest[j]);
        }

        p = ngx_sprintf(p, "\"]}");
    }

    ngx_sprintf(p, "]}%Z");

    return (char *) json;
}


static void
test_many_keys(void **state)
{
    consumers_state_t  *st = *state;
    char                key[32];
    ngx_uint_t          i;

    assert_int_equal(load(st, many(st, 2000, 1999)), NGX_OK);

    for (i = 0; i < 2000; i++) {
        ngx_sprintf((u_char *) key, "key-%ui%Z", i);
        assert_non_null(by_key(st, key));
    }

    assert_null(by_key(st, "key-2000"));
}


/* loading is linear: a pairwise id check took minutes for 100,000 */

static void
test_hundred_thousand(void **state)
{
    consumers_state_t  *st = *state;
    char                key[32];
    ngx_uint_t          i;

    assert_int_equal(load(st, many(st, 100000, 99999)), NGX_OK);
    assert_int_equal(st->consumers.nconsumers, 100000);

    for (i = 0; i < 100000; i += 997) {
        ngx_sprintf((u_char *) key, "key-%ui%Z", i);
        assert_non_null(by_key(st, key));
    }

    /* the last id repeats an early one: found, and where */

    ngx_memzero(&st->consumers, sizeof(ngx_http_gateway_consumers_t));

    load_fails(st, many(st, 100000, 7),
               "duplicate consumer id \"c7\" at line 1, column ");
}


static void
test_json_errors(void **state)
{
    consumers_state_t  *st = *state;

    load_fails(st, "{\"consumers\": [\n  {\"id\": \"a\",}\n]}",
               "invalid JSON at line 2, column");
    load_fails(st, "{\"consumers\": [], \"consumers\": []}",
               "invalid JSON at line 1");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"id\": \"b\","
               " \"services\": []}]}", "duplicate object key");
    load_fails(st, "[]", "the file holds a JSON object");
    load_fails(st, "{}", "the file holds {\"consumers\": [...]}");
    load_fails(st, "{\"consumers\": {}}", "an array");
    load_fails(st, "{\"consumers\": [], \"extra\": 1}",
               "unknown member \"extra\" at the top level");
    load_fails(st, "{\"consumers\": [1]}", "consumer #1 is not a JSON object");
    load_fails(st, "", "invalid JSON");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [],"
               " \"note\": \"x\\u0000y\"}]}", "invalid JSON");
}


static void
test_consumer_errors(void **state)
{
    consumers_state_t  *st = *state;

    load_fails(st, "{\"consumers\": [{\"services\": [\"*\"]}]}",
               "consumer #1 has no \"id\" string");
    load_fails(st, "{\"consumers\": [{\"id\": 7, \"services\": [\"*\"]}]}",
               "consumer #1 has no \"id\" string");
    load_fails(st, "{\"consumers\": [{\"id\": \"a b\", \"services\": []}]}",
               "invalid consumer id \"a b\"");
    load_fails(st, "{\"consumers\": [{\"id\": \"\", \"services\": []}]}",
               "invalid consumer id \"\"");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\"}]}",
               "consumer \"a\" has no \"services\" list");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": \"*\"}]}",
               "\"services\" of consumer \"a\" is not an array");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [\"\"]}]}",
               "service #1 of consumer \"a\" is not a name");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [],"
               " \"key\": []}]}", "unknown member \"key\" in consumer \"a\"");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [],"
               " \"jwt_subject\": 1}]}",
               "\"jwt_subject\" of consumer \"a\" is not a string");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [],"
               " \"jwt_issuer\": \"https://x\"}]}",
               "\"jwt_issuer\" of consumer \"a\" has no \"jwt_subject\"");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [],"
               " \"rate_limit\": \"fast\"}]}",
               "invalid rate_limit \"fast\" of consumer \"a\"");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [],"
               " \"rate_limit\": \"10r/s burst=x\"}]}",
               "burst is 0 to 1000000");
}


static void
test_key_errors(void **state)
{
    consumers_state_t  *st = *state;

    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [],"
               " \"keys\": \"" DIGEST_A "\"}]}",
               "\"keys\" of consumer \"a\" is not an array");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [],"
               " \"keys\": [1]}]}", "key #1 of consumer \"a\" is not a string");

    /* plaintext keys, other digests, short or non-hex digests */

    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [],"
               "\n \"keys\": [\"alice-key\"]}]}",
               "key #1 of consumer \"a\" is not \"sha256:\" and 64 "
               "hexadecimal digits at line 2, column 11");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [],"
               " \"keys\": [\"sha1:a94a8fe5ccb19ba61c4c0873d391e987982fbbd3\""
               "]}]}", "is not \"sha256:\"");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [],"
               " \"keys\": [\"sha256:2bd806c97f0e\"]}]}", "is not \"sha256:\"");
    load_fails(st, "{\"consumers\": [{\"id\": \"a\", \"services\": [],"
               " \"keys\": [\"sha256:"
               "2bd806c97f0e00af1a1fc3328fa763a9269723c8db8fac4f93af71db186d6e9g"
               "\"]}]}", "is not \"sha256:\"");
}


static void
test_duplicates(void **state)
{
    consumers_state_t  *st = *state;

    load_fails(st,
        "{\"consumers\": [\n"
        " {\"id\": \"alice\", \"services\": [\"*\"]},\n"
        " {\"id\": \"bob\", \"services\": [\"*\"]},\n"
        " {\"id\": \"alice\", \"services\": [\"*\"]}\n"
        "]}",
        "duplicate consumer id \"alice\" at line 4, column 9");

    load_fails(st,
        "{\"consumers\": [\n"
        " {\"id\": \"alice\", \"services\": [\"*\"],"
        " \"keys\": [\"" DIGEST_A "\"]},\n"
        " {\"id\": \"bob\", \"services\": [\"*\"],\n"
        "  \"keys\": [\"" DIGEST_B "\", \"" DIGEST_A "\"]}\n"
        "]}",
        "duplicate key \"" DIGEST_A "\" (consumer \"bob\") at line 4, "
        "column 87");

    load_fails(st,
        "{\"consumers\": [\n"
        " {\"id\": \"a\", \"services\": [\"*\"], \"jwt_subject\": \"s\"},\n"
        " {\"id\": \"b\", \"services\": [\"*\"], \"jwt_subject\": \"s\"}\n"
        "]}",
        "consumers \"a\" and \"b\" have the same jwt_subject \"s\" at line 3");
}


static void
test_rates(void **state)
{
    consumers_state_t  *st = *state;
    ngx_str_t           value, err;
    ngx_uint_t          rate, burst;

    value = gateway_test_str(st->pool, "1r/s");
    assert_int_equal(ngx_http_gateway_parse_rate(&value, &rate, &err),
                     NGX_OK);
    assert_int_equal(rate, 1000);

    value = gateway_test_str(st->pool, "30r/m");
    assert_int_equal(ngx_http_gateway_parse_rate(&value, &rate, &err),
                     NGX_OK);
    assert_int_equal(rate, 500);

    value = gateway_test_str(st->pool, "1r/m");
    assert_int_equal(ngx_http_gateway_parse_rate(&value, &rate, &err),
                     NGX_OK);
    assert_int_equal(rate, 16);

    value = gateway_test_str(st->pool, "0r/s");
    assert_int_equal(ngx_http_gateway_parse_rate(&value, &rate, &err),
                     NGX_DECLINED);

    value = gateway_test_str(st->pool, "r/s");
    assert_int_equal(ngx_http_gateway_parse_rate(&value, &rate, &err),
                     NGX_DECLINED);

    value = gateway_test_str(st->pool, "10r/h");
    assert_int_equal(ngx_http_gateway_parse_rate(&value, &rate, &err),
                     NGX_DECLINED);

    value = gateway_test_str(st->pool, "1000001r/s");
    assert_int_equal(ngx_http_gateway_parse_rate(&value, &rate, &err),
                     NGX_DECLINED);

    value = gateway_test_str(st->pool, "  5r/s   burst=0 ");
    assert_int_equal(ngx_http_gateway_parse_rate_limit(&value, &rate, &burst,
                                                       &err), NGX_OK);
    assert_int_equal(rate, 5000);
    assert_int_equal(burst, 0);

    value = gateway_test_str(st->pool, "burst=5 5r/s");
    assert_int_equal(ngx_http_gateway_parse_rate_limit(&value, &rate, &burst,
                                                       &err), NGX_DECLINED);

    value = gateway_test_str(st->pool, "5r/s burst=1 burst=2");
    assert_int_equal(ngx_http_gateway_parse_rate_limit(&value, &rate, &burst,
                                                       &err), NGX_DECLINED);

    value = gateway_test_str(st->pool, "");
    assert_int_equal(ngx_http_gateway_parse_rate_limit(&value, &rate, &burst,
                                                       &err), NGX_DECLINED);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test_setup_teardown(test_valid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty, setup, teardown),
        cmocka_unit_test_setup_teardown(test_many_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hundred_thousand, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_json_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_consumer_errors, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_key_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rates, setup, teardown),
    };

    return cmocka_run_group_tests_name("consumers", tests, NULL, NULL);
}
