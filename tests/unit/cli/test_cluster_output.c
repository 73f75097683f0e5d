/*
 * This file implements the unit tests of what the admin CLI's cluster
 * commands print (cli/cluster_output.c), from the fixed cluster of
 * cluster_fixture.h: the nodes table with partitions held and incoming,
 * the ring with targets where a move is under way (text and JSON), the
 * moves of a placement change, and the health verdict with its reasons,
 * the age of each active version among them.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "cluster_fixture.h"
#include "cluster_output.h"

/* The moment the verdicts are judged at: items version 7 is an hour old. */
#define NOW (FIXTURE_CREATED_MS + 3600 * 1000)

static void load(const char *json, struct cluster_view *v)
{
    char err[512] = "";
    if (cluster_view_from_json(json, strlen(json), "10.0.0.1:7000", v, err,
                               sizeof(err)) != 0) {
        fail_msg("cluster_view_from_json: %s", err);
    }
}

/* The buffer's text (NUL-terminated in place). */
static const char *text(struct buf *b)
{
    buf_append(b, "", 1);
    b->len--;
    return b->data;
}

static void test_loads(void **state)
{
    (void)state;
    struct cluster_view v;
    load(FIXTURE_VIEW, &v);
    struct cluster_load loads[4];
    assert_true(cluster_loads(&v, loads));
    /* current: 0 a,b  1 b,c  2 c,a  3 d,b; target of 3: c,b */
    uint64_t held[] = {2, 3, 2, 1}, incoming[] = {0, 0, 1, 0};
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(loads[i].held, held[i]);
        assert_int_equal(loads[i].incoming, incoming[i]);
    }
    cluster_view_free(&v);
}

static void test_format_bytes(void **state)
{
    (void)state;
    char s[32];
    cluster_format_bytes(0, s, sizeof(s));
    assert_string_equal(s, "0 B");
    cluster_format_bytes(1023, s, sizeof(s));
    assert_string_equal(s, "1023 B");
    cluster_format_bytes(1536, s, sizeof(s));
    assert_string_equal(s, "1.5 KiB");
    cluster_format_bytes(4294967296ull, s, sizeof(s));
    assert_string_equal(s, "4.0 GiB");
}

static void test_nodes_text(void **state)
{
    (void)state;
    struct cluster_view v;
    load(FIXTURE_VIEW, &v);
    struct buf b = {0};
    assert_true(cluster_render_nodes(&v, false, &b));
    assert_string_equal(
        text(&b),
        "ID  ADDRESS        ZONE  CAPACITY  LIVE  STATE    DRAINING  MEMORY  "
        "         PARTITIONS\n"
        "a   10.0.0.1:7000  z1    100       yes   ready    -         1.0 "
        "GiB/4.0 GiB  2\n"
        "b   10.0.0.2:7000  z2    100       yes   joining  -         -      "
        "          3\n"
        "c   10.0.0.3:7000  z1    200       no    -        yes       -      "
        "          2 +1 incoming\n"
        "d   -              -     -         -     removed  -         -      "
        "          1\n");
    buf_deinit(&b);
    cluster_view_free(&v);
}

static void test_nodes_json(void **state)
{
    (void)state;
    struct cluster_view v;
    load(FIXTURE_VIEW, &v);
    struct buf b = {0};
    assert_true(cluster_render_nodes(&v, true, &b));
    const char *s = text(&b);
    assert_non_null(strstr(
        s, "{\"id\":\"c\",\"addr\":\"10.0.0.3:7000\",\"zone\":\"z1\","
           "\"capacity\":200,\"member\":true,\"live\":false,\"state\":\"\","
           "\"draining\":true,\"batch_memory\":0,\"batch_used\":0,"
           "\"partitions\":2,\"incoming\":1}"));
    assert_non_null(strstr(s, "{\"id\":\"d\",\"addr\":\"\""));
    assert_int_equal(s[0], '[');
    assert_int_equal(s[b.len - 1], '\n');
    buf_deinit(&b);
    /* An empty cluster says how to add a member. */
    struct cluster_view e;
    load("{\"generation\":0}", &e);
    assert_true(cluster_render_nodes(&e, false, &b));
    assert_string_equal(text(&b), "no members in 10.0.0.1:7000 (larder node "
                                  "add ID IP:PORT)\n");
    buf_deinit(&b);
    cluster_view_free(&e);
    cluster_view_free(&v);
}

static void test_ring(void **state)
{
    (void)state;
    struct cluster_view v;
    load(FIXTURE_VIEW, &v);
    struct buf b = {0};
    bool notfound = true;
    assert_true(cluster_render_ring(&v, NULL, false, &b, &notfound));
    assert_false(notfound);
    assert_string_equal(text(&b),
                        "placement generation 9\n"
                        "\n"
                        "table items: 4 partitions, replication 2\n"
                        "PARTITION  NODES  TARGET\n"
                        "0          a,b    -\n"
                        "1          b,c    -\n"
                        "2          c,a    -\n"
                        "3          d,b    c,b\n");
    b.len = 0;
    assert_true(cluster_render_ring(&v, "items", true, &b, &notfound));
    assert_string_equal(
        text(&b),
        "{\"generation\":9,\"tables\":[{\"table\":\"items\","
        "\"partitions\":4,\"replication\":2,\"replicas\":2,\"ring\":["
        "{\"partition\":0,\"current\":[\"a\",\"b\"],\"target\":[\"a\",\"b\"],"
        "\"moving\":false},"
        "{\"partition\":1,\"current\":[\"b\",\"c\"],\"target\":[\"b\",\"c\"],"
        "\"moving\":false},"
        "{\"partition\":2,\"current\":[\"c\",\"a\"],\"target\":[\"c\",\"a\"],"
        "\"moving\":false},"
        "{\"partition\":3,\"current\":[\"d\",\"b\"],\"target\":[\"c\",\"b\"],"
        "\"moving\":true}]}]}\n");
    b.len = 0;
    assert_false(cluster_render_ring(&v, "nope", false, &b, &notfound));
    assert_true(notfound);
    buf_deinit(&b);
    cluster_view_free(&v);

    /* Without a placement: a hint in text, an empty list in JSON. */
    load("{\"generation\":0}", &v);
    assert_true(cluster_render_ring(&v, NULL, false, &b, &notfound));
    assert_non_null(strstr(text(&b), "no placement stored"));
    b.len = 0;
    assert_true(cluster_render_ring(&v, NULL, true, &b, &notfound));
    assert_string_equal(text(&b), "{\"generation\":0,\"tables\":[]}\n");
    buf_deinit(&b);
    cluster_view_free(&v);
}

/* The fixture's placement with another target for partition 0. */
static struct placement *moved_placement(void)
{
    const char *base = FIXTURE_PLACEMENT;
    char *json = strdup(base);
    assert_non_null(json);
    char *g = strstr(json, "\"generation\":9");
    g[13] = '7'; /* 9 -> 7 keeps the length: generation 7, older */
    char *t = strstr(json, "\"target\":[[0,1]");
    t[13] = '2';  /* target of partition 0: a,c */
    struct placement *pl = NULL;
    char err[256] = "";
    if (placement_from_json(json, strlen(json), &pl, err, sizeof(err)) !=
        PLACE_OK) {
        fail_msg("placement_from_json: %s", err);
    }
    free(json);
    return pl;
}

static void test_moves(void **state)
{
    (void)state;
    struct cluster_view v;
    load(FIXTURE_VIEW, &v);
    struct placement *before = moved_placement();
    struct buf b = {0};
    cluster_render_moves(before, v.placement, true, false, NULL, &b);
    assert_string_equal(text(&b),
                        "placement generation 9 (was 7): 1 partition "
                        "re-placed, 1 in motion\n"
                        "  items/0: a,c -> a,b\n");
    b.len = 0;
    struct json_writer w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    cluster_render_moves(before, v.placement, false, true, &w, &b);
    jw_object_end(&w);
    assert_string_equal(text(&b),
                        "{\"moved\":[{\"table\":\"items\",\"partition\":0,"
                        "\"from\":[\"a\",\"c\"],\"to\":[\"a\",\"b\"]}],"
                        "\"generation\":9,\"previous_generation\":7,"
                        "\"changed\":true,\"in_motion\":1}");
    /* Nothing stored before: the tables are new, nothing re-placed. */
    b.len = 0;
    cluster_render_moves(NULL, v.placement, true, false, NULL, &b);
    assert_string_equal(text(&b), "placement generation 9 (was 0): 0 "
                                  "partitions re-placed, 1 in motion\n");
    b.len = 0;
    cluster_render_moves(v.placement, v.placement, true, false, NULL, &b);
    assert_string_equal(text(&b), "placement generation 9 unchanged, 1 "
                                  "partition in motion\n");
    buf_deinit(&b);
    placement_destroy(&before);
    cluster_view_free(&v);
}

static void test_health(void **state)
{
    (void)state;
    struct cluster_view v;
    load(FIXTURE_VIEW, &v);
    struct cluster_health h;
    cluster_health_check(&v, NOW, &h);
    assert_false(h.healthy);
    assert_string_equal(text(&h.reasons),
                        "node c is not live\n"
                        "table items version 7: 1 of 4 partitions have "
                        "fewer than 2 ready replicas (fewest: 1)\n");
    assert_string_equal(text(&h.notes),
                        "node c is draining\n"
                        "node d was removed and still holds partitions "
                        "until their move finishes\n"
                        "1 partition in motion\n");
    struct buf b = {0};
    assert_true(cluster_render_status(&v, &h, false, &b));
    const char *s = text(&b);
    assert_non_null(strstr(s, "cluster 10.0.0.1:7000: degraded\n"
                              "  node c is not live\n"));
    assert_non_null(strstr(s, "  note: 1 partition in motion\n"));
    assert_non_null(strstr(s, "TABLE  VERSION  PARTITIONS  REPLICATION  "
                              "READY         AGE    MAX AGE  FRESH\n"
                              "items  7        4           2            "
                              "3/4 (need 2)  1h 0m  1d 0h    yes\n"));
    b.len = 0;
    assert_true(cluster_render_status(&v, &h, true, &b));
    s = text(&b);
    assert_non_null(strstr(s, "{\"source\":\"10.0.0.1:7000\","
                              "\"verdict\":\"degraded\",\"reasons\":[\"node c "
                              "is not live\","));
    assert_non_null(strstr(s, "\"needed_replicas\":2,"
                              "\"partitions_ready\":3,\"age_seconds\":3600,"
                              "\"max_age_seconds\":86400,\"stale\":false}"));
    cluster_health_free(&h);
    buf_deinit(&b);

    /* c back, readiness complete, no memory over budget: healthy, and
     * only notes remain. */
    v.nodes[2].live = true;
    v.tables[0].ready[1] = 2;
    cluster_health_check(&v, NOW, &h);
    assert_true(h.healthy);
    assert_int_equal(h.reasons.len, 0);
    cluster_health_free(&h);

    /* Over its memory budget, or readiness unknown: degraded. */
    v.nodes[1].batch_memory = 100;
    v.nodes[1].batch_used = 200;
    cluster_health_check(&v, NOW, &h);
    assert_false(h.healthy);
    assert_string_equal(text(&h.reasons), "node b holds 200 B of batch "
                                          "data, over its budget of 100 B\n");
    cluster_health_free(&h);
    v.nodes[1].batch_used = 0;
    free(v.tables[0].ready);
    v.tables[0].ready = NULL;
    cluster_health_check(&v, NOW, &h);
    assert_false(h.healthy);
    assert_string_equal(text(&h.reasons), "table items version 7: "
                                          "readiness unknown\n");
    cluster_health_free(&h);
    cluster_view_free(&v);

    /* With no live member (so no ready replica counted), every partition
     * falls short of one replica. */
    load(FIXTURE_VIEW, &v);
    v.nodes[0].live = v.nodes[1].live = false;
    memset(v.tables[0].ready, 0, 4 * sizeof(v.tables[0].ready[0]));
    cluster_health_check(&v, NOW, &h);
    assert_string_equal(text(&h.reasons),
                        "node a is not live\n"
                        "node b is not live\n"
                        "node c is not live\n"
                        "table items version 7: 4 of 4 partitions have "
                        "fewer than 1 ready replica (fewest: 0)\n");
    cluster_health_free(&h);
    cluster_view_free(&v);
}

/* The fixture with every node live and every partition ready. */
static void load_healthy(struct cluster_view *v)
{
    load(FIXTURE_VIEW, v);
    v->nodes[2].live = true;
    v->tables[0].ready[1] = 2;
}

/* The status report of v at now (text or JSON), NUL-terminated in b. */
static const char *status_at(const struct cluster_view *v, int64_t now,
                             bool json, struct buf *b)
{
    struct cluster_health h;
    cluster_health_check(v, now, &h);
    b->len = 0;
    assert_true(cluster_render_status(v, &h, json, b));
    cluster_health_free(&h);
    return text(b);
}

static void test_freshness(void **state)
{
    (void)state;
    struct cluster_view v;
    struct cluster_health h;
    struct buf b = {0};
    load_healthy(&v);
    const int64_t day = 86400LL * 1000;

    /* Exactly the max age old: still fresh. */
    cluster_health_check(&v, FIXTURE_CREATED_MS + day, &h);
    assert_true(h.healthy);
    assert_null(strstr(text(&h.notes), "freshness"));
    cluster_health_free(&h);

    /* A millisecond older: stale, a reason, so degraded (exit 1). */
    cluster_health_check(&v, FIXTURE_CREATED_MS + day + 1, &h);
    assert_false(h.healthy);
    assert_string_equal(text(&h.reasons), "table items version 7 is stale: "
                                          "86400 s old (max age 86400 s)\n");
    cluster_health_free(&h);
    const char *s = status_at(&v, FIXTURE_CREATED_MS + 2 * day, false, &b);
    assert_non_null(strstr(s, ": degraded\n  table items version 7 is stale: "
                              "172800 s old (max age 86400 s)\n"));
    assert_non_null(strstr(s, "AGE    MAX AGE  FRESH\n"));
    assert_non_null(strstr(s, "4/4 (need 2)  2d 0h  1d 0h    no\n"));
    s = status_at(&v, FIXTURE_CREATED_MS + 2 * day, true, &b);
    assert_non_null(strstr(s, "\"verdict\":\"degraded\","));
    assert_non_null(strstr(s, "\"age_seconds\":172800,"
                              "\"max_age_seconds\":86400,\"stale\":true}"));

    /* A clock behind the creation time: age 0, fresh. */
    cluster_health_check(&v, FIXTURE_CREATED_MS - 5000, &h);
    assert_true(h.healthy);
    cluster_health_free(&h);

    /* No max age: never stale, however old. */
    v.tables[0].max_age_s = 0;
    cluster_health_check(&v, FIXTURE_CREATED_MS + 1000 * day, &h);
    assert_true(h.healthy);
    cluster_health_free(&h);
    s = status_at(&v, FIXTURE_CREATED_MS + 1000 * day, false, &b);
    assert_non_null(strstr(s, "1000d 0h  -        yes\n"));
    s = status_at(&v, FIXTURE_CREATED_MS + 1000 * day, true, &b);
    assert_non_null(strstr(s, "\"age_seconds\":86400000,"
                              "\"max_age_seconds\":0,\"stale\":false}"));

    /* No creation time recorded: not judged, a note, healthy. */
    v.tables[0].max_age_s = 86400;
    v.tables[0].created_ms = 0;
    cluster_health_check(&v, FIXTURE_CREATED_MS + 2 * day, &h);
    assert_true(h.healthy);
    assert_non_null(strstr(text(&h.notes), "table items version 7: "
                                           "freshness unknown (no creation "
                                           "time recorded)\n"));
    cluster_health_free(&h);
    s = status_at(&v, FIXTURE_CREATED_MS + 2 * day, true, &b);
    assert_non_null(strstr(s, "\"age_seconds\":null,"
                              "\"max_age_seconds\":86400,\"stale\":false}"));

    /* A view without max ages (an older node): a note, healthy. */
    v.tables[0].created_ms = FIXTURE_CREATED_MS;
    v.tables[0].max_age_known = false;
    cluster_health_check(&v, FIXTURE_CREATED_MS + 2 * day, &h);
    assert_true(h.healthy);
    assert_non_null(strstr(text(&h.notes), "table items version 7: "
                                           "freshness unknown (the view does "
                                           "not report max ages; "
                                           "--membership does)\n"));
    cluster_health_free(&h);
    s = status_at(&v, FIXTURE_CREATED_MS + 2 * day, false, &b);
    assert_non_null(strstr(s, "2d 0h  unknown  unknown\n"));

    /* No active version: nothing to judge. */
    v.tables[0].max_age_known = true;
    v.tables[0].active_version = 0;
    free(v.tables[0].ready);
    v.tables[0].ready = NULL;
    cluster_health_check(&v, FIXTURE_CREATED_MS + 2 * day, &h);
    assert_true(h.healthy);
    assert_null(strstr(text(&h.notes), "freshness"));
    cluster_health_free(&h);
    s = status_at(&v, FIXTURE_CREATED_MS + 2 * day, true, &b);
    assert_non_null(strstr(s, "\"age_seconds\":null,"
                              "\"max_age_seconds\":86400,\"stale\":false}"));
    buf_deinit(&b);
    cluster_view_free(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loads),
        cmocka_unit_test(test_format_bytes),
        cmocka_unit_test(test_nodes_text),
        cmocka_unit_test(test_nodes_json),
        cmocka_unit_test(test_ring),
        cmocka_unit_test(test_moves),
        cmocka_unit_test(test_health),
        cmocka_unit_test(test_freshness),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
