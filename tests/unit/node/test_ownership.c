/*
 * This file implements the unit tests of node/ownership.c: which
 * partitions a node holds under a placement (current ∪ target), holding
 * everything without a placement, for an unplaced table and for another
 * partition count, and which node a client is sent to for the others
 * (live first, then ready, then current before target, then not
 * draining; never itself, never a node without an address).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ownership.h"

/*
 * Nodes a, b, c (indexes 0, 1, 2). users: 4 partitions, one replica;
 * partition 3 moves from a to b. items: 2 partitions on two nodes each.
 */
static const char placement_doc[] =
    "{\"format\":1,\"generation\":5,"
    "\"nodes\":[{\"id\":\"a\",\"zone\":\"\",\"capacity\":100,\"member\":true},"
    "{\"id\":\"b\",\"zone\":\"\",\"capacity\":100,\"member\":true},"
    "{\"id\":\"c\",\"zone\":\"\",\"capacity\":100,\"member\":true}],"
    "\"tables\":[{\"name\":\"items\",\"partitions\":2,\"replication\":2,"
    "\"replicas\":2,\"current\":[[0,1],[1,2]]},"
    "{\"name\":\"users\",\"partitions\":4,\"replication\":1,\"replicas\":1,"
    "\"current\":[[0],[1],[2],[0]],\"target\":[[0],[1],[2],[1]]}]}";

static struct placement *load(void)
{
    struct placement *pl = NULL;
    char err[256] = "";
    enum place_status st = placement_from_json(
        placement_doc, strlen(placement_doc), &pl, err, sizeof(err));
    if (st != PLACE_OK) {
        fail_msg("placement_from_json: %s", err);
    }
    return pl;
}

static void test_bitmap_helpers(void **state)
{
    uint64_t bits[2] = {0, 0};
    assert_int_equal(own_words(0), 0);
    assert_int_equal(own_words(64), 1);
    assert_int_equal(own_words(65), 2);
    own_set(bits, 0);
    own_set(bits, 64);
    assert_true(own_test(bits, 0));
    assert_false(own_test(bits, 1));
    assert_true(own_test(bits, 64));
    assert_int_equal(own_count(bits, 65), 2);
    assert_int_equal(own_count(bits, 64), 1);
}

static void test_partitions_under_placement(void **state)
{
    struct placement *pl = load();
    uint64_t bits[1];
    assert_true(own_partitions(pl, "users", 4, "a", bits));
    assert_int_equal(bits[0], 0x9); /* 0 and 3 (still current) */
    assert_true(own_partitions(pl, "users", 4, "b", bits));
    assert_int_equal(bits[0], 0xa); /* 1 and 3 (target) */
    assert_true(own_partitions(pl, "users", 4, "c", bits));
    assert_int_equal(bits[0], 0x4);
    assert_true(own_partitions(pl, "items", 2, "b", bits));
    assert_int_equal(bits[0], 0x3);
    /* A node the placement does not name holds nothing of a placed table. */
    assert_true(own_partitions(pl, "users", 4, "d", bits));
    assert_int_equal(bits[0], 0);
    placement_destroy(&pl);
}

static void test_everything_when_placement_does_not_decide(void **state)
{
    struct placement *pl = load();
    uint64_t bits[2] = {0, 0};
    assert_false(own_partitions(NULL, "users", 4, "a", bits));
    assert_int_equal(own_count(bits, 4), 4);
    bits[0] = 0;
    assert_false(own_partitions(pl, "other", 70, "a", bits));
    assert_int_equal(own_count(bits, 70), 70);
    bits[0] = 0;
    /* users was repartitioned: a version with 8 partitions is not placed. */
    assert_false(own_partitions(pl, "users", 8, "c", bits));
    assert_int_equal(own_count(bits, 8), 8);
    placement_destroy(&pl);
}

/* Members sorted by id; a and b live, c live, d has no address. */
static struct own_member members[] = {
    {.id = "a", .addr = "10.0.0.1:7379", .live = true},
    {.id = "b", .addr = "10.0.0.2:7379", .live = true},
    {.id = "c", .addr = "10.0.0.3:7379", .live = true},
    {.id = "d", .addr = "", .live = true},
};

static bool b_ready(void *arg, const char *node, uint32_t partition)
{
    return strcmp(node, "b") == 0;
}

static void test_routes(void **state)
{
    struct placement *pl = load();
    uint32_t route[4];
    uint64_t held[1] = {0x4}; /* c holds partition 2 */
    assert_int_equal(own_routes(pl, "users", 4, "c", held, members, 4, NULL,
                                NULL, route),
                     0);
    assert_int_equal(route[0], 0);
    assert_int_equal(route[1], 1);
    assert_int_equal(route[2], OWN_NONE); /* held here */
    assert_int_equal(route[3], 0);        /* current before target */

    /* Ready beats current. */
    own_routes(pl, "users", 4, "c", held, members, 4, b_ready, NULL, route);
    assert_int_equal(route[3], 1);

    /* Live beats everything; a node not live is named only when no node
     * of the set is live. */
    members[0].live = false;
    own_routes(pl, "users", 4, "c", held, members, 4, NULL, NULL, route);
    assert_int_equal(route[3], 1);
    assert_int_equal(route[0], 0);
    members[0].live = true;

    /* Not draining breaks a tie. */
    members[1].draining = true;
    own_routes(pl, "items", 2, "a", NULL, members, 4, NULL, NULL, route);
    assert_int_equal(route[0], 1);
    assert_int_equal(route[1], 2); /* b draining, c not: both current */
    members[1].draining = false;
    own_routes(pl, "items", 2, "a", NULL, members, 4, NULL, NULL, route);
    assert_int_equal(route[1], 1); /* routing order */

    /* Never itself, never a node without an address or not a member. */
    struct own_member only_a[] = {{.id = "a", .addr = "10.0.0.1:1",
                                   .live = true}};
    own_routes(pl, "users", 4, "a", NULL, only_a, 1, NULL, NULL, route);
    for (int p = 0; p < 4; p++) {
        assert_int_equal(route[p], OWN_NONE);
    }
    /* Unplaced: nowhere to send anyone. */
    own_routes(pl, "other", 4, "c", NULL, members, 4, NULL, NULL, route);
    assert_int_equal(route[0], OWN_NONE);
    placement_destroy(&pl);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bitmap_helpers),
        cmocka_unit_test(test_partitions_under_placement),
        cmocka_unit_test(test_everything_when_placement_does_not_decide),
        cmocka_unit_test(test_routes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
