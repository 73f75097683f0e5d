/*
 * This file implements the unit tests of the admin CLI's cluster view
 * (cli/cluster_view.c): reading a LARDER.VIEW document (nodes, the active
 * map, the embedded placement, readiness in both forms, freshness), refusing
 * malformed ones, adding the readiness other nodes report, and routing a
 * key to the nodes that hold its partition.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "cluster_fixture.h"
#include "cluster_view.h"

static void load(const char *json, struct cluster_view *v)
{
    char err[512] = "";
    int rc = cluster_view_from_json(json, strlen(json), "seed", v, err,
                                    sizeof(err));
    if (rc != 0) {
        fail_msg("cluster_view_from_json: %s", err);
    }
}

static void test_parse(void **state)
{
    (void)state;
    struct cluster_view v;
    load(FIXTURE_VIEW, &v);
    assert_true(v.from_node);
    assert_string_equal(v.source, "seed");
    assert_int_equal(v.generation, 31);
    assert_int_equal(v.active.generation, 4);
    assert_int_equal(v.active.n, 1);
    assert_string_equal(v.active.entries[0].table, "items");
    assert_int_equal(v.active.entries[0].version, 7);
    assert_non_null(v.placement);
    assert_int_equal(placement_generation(v.placement), 9);

    /* Members by id, then d, which only the placement names. */
    assert_int_equal(v.nnodes, 4);
    const char *ids[] = {"a", "b", "c", "d"};
    for (size_t i = 0; i < 4; i++) {
        assert_string_equal(v.nodes[i].id, ids[i]);
    }
    assert_true(v.nodes[0].member && v.nodes[0].live);
    assert_string_equal(v.nodes[0].addr, "10.0.0.1:7000");
    assert_string_equal(v.nodes[0].state, "ready");
    assert_true(v.nodes[0].batch_memory == 4294967296ull);
    assert_true(v.nodes[0].batch_used == 1073741824ull);
    assert_string_equal(v.nodes[1].state, "joining");
    assert_false(v.nodes[2].live);
    assert_true(v.nodes[2].draining);
    assert_int_equal(v.nodes[2].capacity, 200);
    assert_false(v.nodes[3].member);
    assert_false(v.nodes[3].live);
    assert_int_equal(cluster_view_live(&v), 2);

    /* The table comes from the placement, its version from the map. */
    assert_int_equal(v.ntables, 1);
    const struct cluster_table *t = cluster_view_table(&v, "items");
    assert_non_null(t);
    assert_false(t->config_known);
    assert_int_equal(t->partitions, 4);
    assert_int_equal(t->replication, 2);
    assert_int_equal(t->active_version, 7);
    assert_non_null(t->ready);
    uint32_t want[] = {2, 1, 2, 2};
    assert_memory_equal(t->ready, want, sizeof(want));
    /* From "freshness": when version 7 was built, and the max age. */
    assert_true(t->max_age_known);
    assert_true(t->created_ms == FIXTURE_CREATED_MS);
    assert_int_equal(t->max_age_s, 86400);
    assert_null(cluster_view_table(&v, "nope"));
    cluster_view_free(&v);
    assert_null(v.nodes);
    assert_null(v.placement);
}

static void test_ready_by_node(void **state)
{
    (void)state;
    struct cluster_view v;
    load(FIXTURE_VIEW_BY_NODE, &v);
    const struct cluster_table *t = cluster_view_table(&v, "items");
    uint32_t want[] = {2, 1, 2, 2};
    assert_non_null(t->ready);
    assert_memory_equal(t->ready, want, sizeof(want));
    cluster_view_free(&v);

    /* No readiness for the active version: unknown, not zero. */
    load(FIXTURE_VIEW_WITH("{}"), &v);
    assert_null(cluster_view_table(&v, "items")->ready);
    cluster_view_free(&v);
}

static void test_merge_ready(void **state)
{
    (void)state;
    /* A seed that lists only its own partitions says so. */
    const char *seed =
        FIXTURE_VIEW_WITH("{\"items\":{\"7\":{\"a\":[0,2]}}},"
                          "\"ready_source\":\"self\"");
    struct cluster_view v;
    load(seed, &v);
    assert_true(v.ready_partial);
    const struct cluster_table *t = cluster_view_table(&v, "items");
    uint32_t want1[] = {1, 0, 1, 0};
    assert_memory_equal(t->ready, want1, sizeof(want1));
    assert_true(cluster_view_ready_counted(&v, "a"));
    assert_false(cluster_view_ready_counted(&v, "b"));

    char err[256];
    const char *b = "{\"ready\":{\"items\":{\"7\":{\"b\":[0,1,3]}}}}";
    assert_int_equal(cluster_view_merge_ready(&v, b, strlen(b), err,
                                              sizeof(err)),
                     0);
    uint32_t want2[] = {2, 1, 1, 1};
    assert_memory_equal(t->ready, want2, sizeof(want2));
    /* A node counts once; a node that is not live does not count. */
    assert_int_equal(cluster_view_merge_ready(&v, b, strlen(b), err,
                                              sizeof(err)),
                     0);
    const char *c = "{\"ready\":{\"items\":{\"7\":{\"c\":[1]}}}}";
    assert_int_equal(cluster_view_merge_ready(&v, c, strlen(c), err,
                                              sizeof(err)),
                     0);
    assert_memory_equal(t->ready, want2, sizeof(want2));
    /* A bad document changes nothing. */
    const char *bad =
        "{\"ready\":{\"items\":{\"7\":{\"d\":[0],\"e\":[9]}}}}";
    assert_int_equal(cluster_view_merge_ready(&v, bad, strlen(bad), err,
                                              sizeof(err)),
                     -1);
    assert_string_equal(err, "\"ready\" of items: node e: a bad partition");
    assert_memory_equal(t->ready, want2, sizeof(want2));
    assert_false(cluster_view_ready_counted(&v, "d"));
    assert_int_equal(cluster_view_merge_ready(&v, "[", 1, err, sizeof(err)),
                     -1);
    cluster_view_free(&v);

    /* A seed that holds nothing of the active version: zero counts, to be
     * completed by the other nodes, not "unknown". */
    load(FIXTURE_VIEW_WITH("{},\"ready_source\":\"self\""), &v);
    t = cluster_view_table(&v, "items");
    assert_non_null(t->ready);
    uint32_t zero[4] = {0};
    assert_memory_equal(t->ready, zero, sizeof(zero));
    cluster_view_free(&v);
}

static void test_minimal_and_placement_as_text(void **state)
{
    (void)state;
    struct cluster_view v;
    load("{\"generation\":0}", &v);
    assert_int_equal(v.nnodes, 0);
    assert_int_equal(v.ntables, 0);
    assert_null(v.placement);
    cluster_view_free(&v);
    /* A view without "freshness" (an older node): ages unknown; an entry
     * for a table without an active version is ignored. */
    load("{\"generation\":1,\"active\":{\"generation\":1,\"tables\":"
         "{\"t\":3}}}", &v);
    assert_int_equal(v.ntables, 1);
    assert_false(v.tables[0].max_age_known);
    assert_true(v.tables[0].created_ms == 0);
    cluster_view_free(&v);
    load("{\"generation\":1,\"active\":{\"generation\":1,\"tables\":"
         "{\"t\":3}},\"freshness\":{\"t\":{\"created_ms\":5,"
         "\"max_age_s\":0},\"u\":{\"created_ms\":6,\"max_age_s\":1}}}", &v);
    assert_int_equal(v.ntables, 1);
    assert_true(v.tables[0].max_age_known);
    assert_true(v.tables[0].created_ms == 5);
    assert_int_equal(v.tables[0].max_age_s, 0);
    cluster_view_free(&v);
    /* The placement may come as the text placement_to_json() wrote. */
    struct buf b = {0};
    buf_append_str(&b, "{\"generation\":1,\"placement\":\"");
    for (const char *p = FIXTURE_PLACEMENT; *p; p++) {
        if (*p == '"') {
            buf_append(&b, "\\", 1);
        }
        buf_append(&b, p, 1);
    }
    buf_append_str(&b, "\"}");
    buf_append(&b, "", 1);
    load(b.data, &v);
    buf_deinit(&b);
    assert_non_null(v.placement);
    assert_int_equal(v.nnodes, 4); /* every node the placement names */
    assert_false(v.nodes[0].member);
    cluster_view_free(&v);
}

static void expect_refused(const char *json, const char *msg)
{
    struct cluster_view v;
    char err[512] = "";
    assert_int_equal(cluster_view_from_json(json, strlen(json), "s", &v, err,
                                            sizeof(err)),
                     -1);
    if (strstr(err, msg) == NULL) {
        fail_msg("error \"%s\" lacks \"%s\"", err, msg);
    }
    cluster_view_free(&v);
}

static void test_refused(void **state)
{
    (void)state;
    expect_refused("not json", "not JSON");
    expect_refused("[1]", "not a view");
    expect_refused("{\"generation\":\"x\"}", "not a view");
    expect_refused("{\"generation\":1,\"nodes\":{}}", "not an array");
    expect_refused("{\"generation\":1,\"nodes\":[{\"addr\":\"x\"}]}",
                   "no valid \"id\"");
    expect_refused("{\"generation\":1,\"nodes\":[{\"id\":\"a\"},"
                   "{\"id\":\"a\"}]}", "listed twice");
    expect_refused("{\"generation\":1,\"nodes\":[{\"id\":\"a\","
                   "\"live\":\"yes\"}]}", "wrong type");
    expect_refused("{\"generation\":1,\"placement\":{\"format\":2}}",
                   "placement does not parse");
    expect_refused("{\"generation\":1,\"active\":{\"tables\":{\"t\":0}}}",
                   "bad entry for table t");
    expect_refused(FIXTURE_VIEW_WITH("{\"items\":{\"7\":[1,2]}}"),
                   "2 counts for 4 partitions");
    expect_refused(FIXTURE_VIEW_WITH("{\"items\":{\"7\":{\"a\":[4]}}}"),
                   "a bad partition");
    expect_refused("{\"generation\":1,\"freshness\":[]}",
                   "\"freshness\" is not an object");
    expect_refused("{\"generation\":1,\"freshness\":{\"t\":"
                   "{\"created_ms\":-1}}}", "bad entry for table t");
    expect_refused("{\"generation\":1,\"freshness\":{\"t\":"
                   "{\"max_age_s\":\"1d\"}}}", "bad entry for table t");
}

/* A key of items that falls in partition p. */
static void key_in(uint32_t p, char *key, size_t keylen)
{
    for (int i = 0;; i++) {
        snprintf(key, keylen, "k%d", i);
        if (cluster_key_partition(key, strlen(key), 4) == p) {
            return;
        }
    }
}

static void test_route(void **state)
{
    (void)state;
    struct cluster_view v;
    load(FIXTURE_VIEW, &v);
    size_t out[8], n;
    uint32_t part;
    char key[16];

    /* Partition 0 is on a (ready) and b (joining). */
    key_in(0, key, sizeof(key));
    cluster_view_route(&v, "items", key, strlen(key), out, 8, &n, &part);
    assert_int_equal(part, 0);
    assert_int_equal(n, 2);
    assert_string_equal(v.nodes[out[0]].id, "a");
    assert_string_equal(v.nodes[out[1]].id, "b");
    /* Nodes in state ready go first within the current holders. */
    snprintf(v.nodes[0].state, sizeof(v.nodes[0].state), "joining");
    snprintf(v.nodes[1].state, sizeof(v.nodes[1].state), "ready");
    cluster_view_route(&v, "items", key, strlen(key), out, 8, &n, &part);
    assert_int_equal(n, 2);
    assert_string_equal(v.nodes[out[0]].id, "b");
    assert_string_equal(v.nodes[out[1]].id, "a");

    /* Partition 3: d (gone) and b now, c (down) and b next: b only. */
    key_in(3, key, sizeof(key));
    cluster_view_route(&v, "items", key, strlen(key), out, 8, &n, &part);
    assert_int_equal(part, 3);
    assert_int_equal(n, 1);
    assert_string_equal(v.nodes[out[0]].id, "b");

    /* A table the placement lacks: every live member, ready first. */
    cluster_view_route(&v, "default", "x", 1, out, 8, &n, &part);
    assert_int_equal(part, UINT32_MAX);
    assert_int_equal(n, 2);
    assert_string_equal(v.nodes[out[0]].id, "b");
    assert_string_equal(v.nodes[out[1]].id, "a");
    /* max bounds the list. */
    cluster_view_route(&v, "default", "x", 1, out, 1, &n, &part);
    assert_int_equal(n, 1);
    cluster_view_free(&v);
}

static void test_key_partition(void **state)
{
    (void)state;
    /* xxh3_64 of the key, modulo the partition count, as the loader
     * writes rows: the empty key's xxh3 is 0x2d06800538d394c2. */
    assert_int_equal(cluster_key_partition("", 0, 1000),
                     0x2d06800538d394c2ull % 1000);
    assert_int_equal(cluster_key_partition("abc", 3, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_ready_by_node),
        cmocka_unit_test(test_merge_ready),
        cmocka_unit_test(test_minimal_and_placement_as_text),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_route),
        cmocka_unit_test(test_key_partition),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
