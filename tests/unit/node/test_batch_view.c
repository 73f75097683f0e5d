/*
 * This file implements the unit tests of the batch view (node/batch_view.c):
 * lookups of tables and versions, which version is active, table name
 * validation, and the view file's round trip and refusal of bad input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "batch_view.h"

/* A view of tables "items" (v3 active, v2 hot) and "users" (v7 incoming,
 * v5 active, v4 cold), inserted unsorted. */
static struct batch_view *sample_view(void)
{
    struct batch_view *v = calloc(1, sizeof(*v));
    assert_non_null(v);
    v->generation = 9;
    v->changed_ms = 1234;
    v->ntables = 2;
    v->tables = calloc(2, sizeof(*v->tables));
    assert_non_null(v->tables);
    struct batch_vtable *u = &v->tables[0], *it = &v->tables[1];
    strcpy(u->name, "users");
    u->nversions = 3;
    u->versions = calloc(3, sizeof(*u->versions));
    u->versions[0] = (struct batch_vinfo){.version = 7, .state = BATCH_INCOMING};
    u->versions[1] = (struct batch_vinfo){.version = 5, .state = BATCH_ACTIVE,
                                          .rows = 50};
    u->versions[2] = (struct batch_vinfo){.version = 4, .state = BATCH_COLD,
                                          .last_active_ms = 1000};
    strcpy(it->name, "items");
    it->nversions = 2;
    it->versions = calloc(2, sizeof(*it->versions));
    it->versions[0] = (struct batch_vinfo){.version = 3, .state = BATCH_ACTIVE};
    it->versions[1] = (struct batch_vinfo){.version = 2, .state = BATCH_HOT,
                                           .last_active_ms = 1100};
    batch_view_finish(v);
    return v;
}

static void test_lookup(void **state)
{
    struct batch_view *v = sample_view();
    assert_string_equal(v->tables[0].name, "items");
    const struct batch_vtable *u = batch_view_table(v, "users", 5);
    assert_non_null(u);
    assert_non_null(u->active);
    assert_int_equal(u->active->version, 5);
    assert_int_equal(u->active->rows, 50);
    assert_int_equal(u->versions[0].version, 4);
    assert_int_equal(u->versions[2].version, 7);
    assert_non_null(batch_view_version(u, 4));
    assert_int_equal(batch_view_version(u, 7)->state, BATCH_INCOMING);
    assert_null(batch_view_version(u, 6));
    assert_null(batch_view_version(u, 8));
    /* Prefixes, extensions and other names are not matches. */
    assert_null(batch_view_table(v, "user", 4));
    assert_null(batch_view_table(v, "users2", 6));
    assert_null(batch_view_table(v, "usersX", 5 + 1));
    assert_non_null(batch_view_table(v, "usersX", 5));
    assert_null(batch_view_table(v, "a", 1));
    assert_null(batch_view_table(v, "zzz", 3));
    assert_non_null(batch_view_table(v, "items", 5));
    assert_null(batch_view_table(NULL, "items", 5));
    batch_view_free(v);
}

static void test_valid_names(void **state)
{
    assert_true(batch_valid_table_name("users"));
    assert_true(batch_valid_table_name("a.b-c_D9"));
    char longest[65];
    memset(longest, 'x', 64);
    longest[64] = '\0';
    assert_true(batch_valid_table_name(longest));
    char too_long[66];
    memset(too_long, 'x', 65);
    too_long[65] = '\0';
    assert_false(batch_valid_table_name(too_long));
    assert_false(batch_valid_table_name(""));
    assert_false(batch_valid_table_name("."));
    assert_false(batch_valid_table_name(".."));
    assert_false(batch_valid_table_name("a/b"));
    assert_false(batch_valid_table_name("a b"));
    assert_false(batch_valid_table_name("a\r\n"));
}

static void test_view_file_round_trip(void **state)
{
    struct batch_view *v = sample_view();
    char *json = batch_view_encode(v);
    assert_non_null(json);
    struct batch_saved_view s;
    char err[256];
    assert_int_equal(batch_view_decode(json, strlen(json), &s, err, sizeof(err)),
                     0);
    assert_int_equal(s.generation, 9);
    assert_int_equal(s.changed_ms, 1234);
    /* Active versions and previously active ones; incoming are not kept. */
    assert_int_equal(s.n, 4);
    int found = 0;
    for (size_t i = 0; i < s.n; i++) {
        const struct batch_saved_version *x = &s.versions[i];
        if (strcmp(x->table, "users") == 0 && x->version == 5) {
            assert_true(x->active);
            found |= 1;
        } else if (strcmp(x->table, "users") == 0 && x->version == 4) {
            assert_false(x->active);
            assert_int_equal(x->last_active_ms, 1000);
            found |= 2;
        } else if (strcmp(x->table, "items") == 0 && x->version == 3) {
            assert_true(x->active);
            found |= 4;
        } else if (strcmp(x->table, "items") == 0 && x->version == 2) {
            assert_int_equal(x->last_active_ms, 1100);
            found |= 8;
        } else {
            fail_msg("unexpected %s v%llu", x->table,
                     (unsigned long long)x->version);
        }
    }
    assert_int_equal(found, 15);
    batch_saved_view_free(&s);
    free(json);
    batch_view_free(v);
}

static void expect_bad(const char *json)
{
    struct batch_saved_view s;
    char err[256] = "";
    if (batch_view_decode(json, strlen(json), &s, err, sizeof(err)) == 0) {
        fail_msg("accepted %s", json);
    }
    assert_true(err[0] != '\0');
    assert_int_equal(s.n, 0);
    assert_null(s.versions);
}

static void test_view_file_refusals(void **state)
{
    expect_bad("");
    expect_bad("[]");
    expect_bad("{\"tables\":{}}");
    expect_bad("{\"generation\":-1,\"tables\":{}}");
    expect_bad("{\"generation\":1,\"tables\":[]}");
    expect_bad("{\"generation\":1,\"tables\":{\"../etc\":{\"active\":1}}}");
    expect_bad("{\"generation\":1,\"tables\":{\"t\":{\"active\":0}}}");
    expect_bad("{\"generation\":1,\"tables\":{\"t\":{\"active\":\"1\"}}}");
    expect_bad("{\"generation\":1,\"tables\":{\"t\":{\"active\":1,"
               "\"previous\":[{\"version\":2}]}}}");
    expect_bad("{\"generation\":1,\"tables\":{\"t\":{\"active\":1,"
               "\"previous\":{}}}}");
    struct batch_saved_view s;
    char err[256];
    const char *ok = "{\"generation\":3,\"tables\":{\"t\":{\"active\":null}}}";
    assert_int_equal(batch_view_decode(ok, strlen(ok), &s, err, sizeof(err)), 0);
    assert_int_equal(s.generation, 3);
    assert_int_equal(s.n, 0);
    batch_saved_view_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_view_file_round_trip),
        cmocka_unit_test(test_view_file_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
