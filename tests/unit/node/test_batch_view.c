/*
 * This file implements the unit tests of the batch view (node/batch_view.c):
 * lookups of tables and versions, which version is active, table name
 * validation, the view file's round trip (with the placement and members)
 * and refusal of bad input, the view generation, and LARDER.VIEW's JSON.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include <jansson.h>

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

/* The table named q[0, len) in names[n], linearly; NULL if none. */
static const char *expected_table(const char *const *names, size_t n,
                                  const char *q, size_t len)
{
    for (size_t i = 0; i < n; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], q, len) == 0) {
            return names[i];
        }
    }
    return NULL;
}

/* Looks q[0, len) up in v and checks the answer against names[n]. */
static void check_lookup(const struct batch_view *v,
                         const char *const *names, size_t n, const char *q,
                         size_t len)
{
    const struct batch_vtable *t = batch_view_table(v, q, len);
    const char *want = expected_table(names, n, q, len);
    if (want == NULL) {
        assert_null(t);
    } else {
        assert_non_null(t);
        assert_string_equal(t->name, want);
    }
}

/* Many tables, names that are prefixes of one another and differ only in
 * their last byte or their length: a lookup finds exactly the table with
 * the name (checked against a linear search), for every name, every
 * prefix and every one-byte extension. */
static void test_lookup_many(void **state)
{
    (void)state;
    static const char *const names[] = {
        "abcdefghijklmnopq", "a", "ab", "abc", "abcd", "abcdefg",
        "abcdefgh", "abcdefghi", "abcdefghijklmnop", "b", "b-1", "b-2",
        "b.1", "users", "users_2", "users_3", "items", "z", "Z", "0", "_x",
        "features.user", "features.item", "recs", "recs2", "recs20",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab",
    };
    size_t n = sizeof(names) / sizeof(names[0]);
    struct batch_view *v = calloc(1, sizeof(*v));
    assert_non_null(v);
    v->tables = calloc(n, sizeof(*v->tables));
    assert_non_null(v->tables);
    v->ntables = n;
    for (size_t i = 0; i < n; i++) {
        strcpy(v->tables[i].name, names[i]);
    }
    batch_view_finish(v);
    static const char ext[] = {'\0', '-', '0', 'A', 'a', 'z', '~'};
    for (size_t i = 0; i < n; i++) {
        char q[BATCH_NAME_MAX + 2];
        size_t len = strlen(names[i]);
        memcpy(q, names[i], len);
        for (size_t l = 1; l <= len; l++) {
            check_lookup(v, names, n, q, l);
        }
        for (size_t e = 0; e < sizeof(ext); e++) {
            q[len] = ext[e];
            check_lookup(v, names, n, q, len + 1);
            char last = q[len - 1];
            q[len - 1] = ext[e];
            check_lookup(v, names, n, q, len);
            q[len - 1] = last;
        }
    }
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

/* sample_view() in a cluster: node "n2" of n1..n2 under placement
 * generation 6; users v5 holds partitions 1 and 3 of 4, v4 is cold. */
static struct batch_view *cluster_view(struct segment **segs)
{
    struct batch_view *v = sample_view();
    v->placement_generation = 6;
    strcpy(v->self, "n2");
    v->placement_json = strdup("{\"generation\":6,\"x\":[1]}");
    v->nnodes = 2;
    v->nodes = calloc(2, sizeof(*v->nodes));
    assert_non_null(v->nodes);
    v->nodes[0] = (struct batch_node){.id = "n1", .addr = "10.0.0.1:7379",
                                      .zone = "z1", .capacity = 100,
                                      .live = true, .state = "ready"};
    v->nodes[1] = (struct batch_node){.id = "n2", .addr = "10.0.0.2:7379",
                                      .capacity = 50, .live = true,
                                      .draining = true, .state = "draining"};
    struct batch_vinfo *u5 = (struct batch_vinfo *)v->tables[1].active;
    u5->partitions = 4;
    u5->segs = segs;
    u5->held_partitions = 2;
    uint32_t *route = malloc(4 * sizeof(*route));
    route[0] = route[2] = 0;
    route[1] = route[3] = BATCH_NO_ROUTE;
    u5->route = route;
    return v;
}

static void test_view_generation_and_description(void **state)
{
    struct segment *segs[4] = {NULL, (struct segment *)segs, NULL,
                               (struct segment *)segs};
    struct batch_view *v = cluster_view(segs);
    ((struct batch_vinfo *)v->tables[1].active)->created_ms = 1700000000000LL;
    v->tables[1].max_age_s = 86400;
    assert_int_equal(batch_view_generation(v), (9ULL << 32) + 6);
    char *d = batch_view_describe(v);
    assert_non_null(d);
    json_error_t je;
    json_t *doc = json_loads(d, 0, &je);
    assert_non_null(doc);
    assert_int_equal(json_integer_value(json_object_get(doc, "generation")),
                     (9LL << 32) + 6);
    json_t *active = json_object_get(doc, "active");
    assert_int_equal(json_integer_value(json_object_get(active, "generation")),
                     9);
    json_t *tables = json_object_get(active, "tables");
    assert_int_equal(json_object_size(tables), 2);
    assert_int_equal(json_integer_value(json_object_get(tables, "users")), 5);
    assert_int_equal(json_integer_value(json_object_get(tables, "items")), 3);
    json_t *pl = json_object_get(doc, "placement");
    assert_int_equal(json_integer_value(json_object_get(pl, "generation")), 6);
    json_t *nodes = json_object_get(doc, "nodes");
    assert_int_equal(json_array_size(nodes), 2);
    json_t *n2 = json_array_get(nodes, 1);
    assert_string_equal(json_string_value(json_object_get(n2, "id")), "n2");
    assert_string_equal(json_string_value(json_object_get(n2, "addr")),
                        "10.0.0.2:7379");
    assert_int_equal(json_integer_value(json_object_get(n2, "capacity")), 50);
    assert_true(json_is_true(json_object_get(n2, "draining")));
    assert_string_equal(json_string_value(json_object_get(n2, "state")),
                        "draining");
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(nodes, 0), "zone")), "z1");
    /* Only mapped versions, only this node, exactly its partitions. */
    json_t *ready = json_object_get(doc, "ready");
    assert_int_equal(json_object_size(ready), 1);
    json_t *mine = json_object_get(json_object_get(json_object_get(
                                       ready, "users"), "5"), "n2");
    assert_int_equal(json_array_size(mine), 2);
    assert_int_equal(json_integer_value(json_array_get(mine, 0)), 1);
    assert_int_equal(json_integer_value(json_array_get(mine, 1)), 3);
    assert_string_equal(json_string_value(json_object_get(doc,
                                                          "ready_source")),
                        "self");
    /* Freshness of each active version: its creation time and the table's
     * max age (0: unknown, none). */
    json_t *fresh = json_object_get(doc, "freshness");
    assert_int_equal(json_object_size(fresh), 2);
    json_t *fu = json_object_get(fresh, "users");
    assert_int_equal(json_integer_value(json_object_get(fu, "created_ms")),
                     1700000000000LL);
    assert_int_equal(json_integer_value(json_object_get(fu, "max_age_s")),
                     86400);
    json_t *fi = json_object_get(fresh, "items");
    assert_int_equal(json_integer_value(json_object_get(fi, "created_ms")),
                     0);
    assert_int_equal(json_integer_value(json_object_get(fi, "max_age_s")),
                     0);
    json_decref(doc);
    free(d);

    /* Without a placement: null, and the generation is the map's alone. */
    free(v->placement_json);
    v->placement_json = NULL;
    v->placement_generation = 0;
    assert_int_equal(batch_view_generation(v), 9ULL << 32);
    d = batch_view_describe(v);
    doc = json_loads(d, 0, &je);
    assert_true(json_is_null(json_object_get(doc, "placement")));
    json_decref(doc);
    free(d);
    batch_view_free(v);
}

static void test_view_file_keeps_placement_and_nodes(void **state)
{
    struct segment *segs[4] = {NULL};
    struct batch_view *v = cluster_view(segs);
    char *json = batch_view_encode(v);
    assert_non_null(json);
    struct batch_saved_view s;
    char err[256];
    assert_int_equal(batch_view_decode(json, strlen(json), &s, err, sizeof(err)),
                     0);
    assert_non_null(s.placement_json);
    assert_string_equal(s.placement_json, "{\"generation\":6,\"x\":[1]}");
    assert_int_equal(s.nnodes, 2);
    assert_string_equal(s.nodes[0].id, "n1");
    assert_string_equal(s.nodes[0].addr, "10.0.0.1:7379");
    assert_string_equal(s.nodes[0].zone, "z1");
    assert_int_equal(s.nodes[1].capacity, 50);
    /* Liveness is not saved: it is not known after a restart. */
    assert_false(s.nodes[0].live);
    batch_saved_view_free(&s);
    free(json);
    batch_view_free(v);

    /* A file written before the cluster fields existed has neither. */
    const char *old = "{\"generation\":3,\"tables\":{}}";
    assert_int_equal(batch_view_decode(old, strlen(old), &s, err, sizeof(err)),
                     0);
    assert_null(s.placement_json);
    assert_int_equal(s.nnodes, 0);
    batch_saved_view_free(&s);
    expect_bad("{\"generation\":1,\"tables\":{},\"placement\":[1]}");
    expect_bad("{\"generation\":1,\"tables\":{},\"nodes\":{}}");
    expect_bad("{\"generation\":1,\"tables\":{},\"nodes\":[{\"id\":"
               "\"../x\",\"addr\":\"\",\"capacity\":1}]}");
    expect_bad("{\"generation\":1,\"tables\":{},\"nodes\":[{\"id\":"
               "\"n\",\"addr\":\"\"}]}");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_lookup_many),
        cmocka_unit_test(test_valid_names),
        cmocka_unit_test(test_view_file_round_trip),
        cmocka_unit_test(test_view_file_refusals),
        cmocka_unit_test(test_view_generation_and_description),
        cmocka_unit_test(test_view_file_keeps_placement_and_nodes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
