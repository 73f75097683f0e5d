/*
 * Tests of controller.h on a local: membership: replace stores a placement
 * computed from the member list and the batch tables and only stores when
 * the target changes; promote hands a partition over only once every target
 * replica recorded it ready for the active version, and the records of a
 * node whose process is gone do not count; a lost compare-and-set is
 * retried from a fresh read.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "controller.h"
#include "membership.h"
#include "placement.h"
#include "test_membership.h"
#include "test_tmpdir.h"

struct fixture {
    char dir[64];
    struct membership *m;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/larder-ctl-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char uri[128], err[256];
    snprintf(uri, sizeof(uri), "local:%s", f->dir);
    assert_int_equal(membership_open(uri, &f->m, err, sizeof(err)), MEMB_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    membership_close(&f->m);
    test_tmpdir_remove(f->dir);
    free(f);
    return 0;
}

static void add_member(struct membership *m, const char *id)
{
    struct memb_member mem = {0};
    snprintf(mem.id, sizeof(mem.id), "%s", id);
    snprintf(mem.addr, sizeof(mem.addr), "127.0.0.1:%d",
             7000 + (int)(id[strlen(id) - 1] - '0'));
    mem.capacity = 100;
    assert_int_equal(membership_member_put(m, &mem), MEMB_OK);
}

static void add_table(struct membership *m, const char *name,
                      uint32_t partitions, uint32_t replication)
{
    struct memb_table t = {0};
    snprintf(t.name, sizeof(t.name), "%s", name);
    t.kind = MEMB_TABLE_BATCH;
    t.partitions = partitions;
    t.replication = replication;
    assert_int_equal(membership_table_put(m, &t), MEMB_OK);
}

static struct placement *stored(struct membership *m)
{
    struct placement *pl = NULL;
    uint64_t cas = 0;
    char err[512];
    assert_int_equal(controller_read(m, &pl, &cas, err, sizeof(err)),
                     MEMB_OK);
    return pl;
}

/* The nodes of (table, p) in set which, as a comma-separated string. */
static void nodes_of(const struct placement *pl, const char *table,
                     uint32_t p, enum place_set which, char *out,
                     size_t outlen)
{
    const char *ids[8];
    size_t n = 0;
    assert_int_equal(placement_nodes(pl, table, p, which, ids, 8, &n),
                     PLACE_OK);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, outlen - len, "%s%s", i ? "," : "", ids[i]);
    }
}

static void test_replace_stores_once(void **state)
{
    struct fixture *f = *state;
    struct controller_result r;
    char err[512];
    /* Nothing to place on: refused with a message. */
    add_table(f->m, "recs", 16, 2);
    assert_int_equal(controller_replace(f->m, NULL, NULL, &r, err,
                                        sizeof(err)),
                     MEMB_INVALID);
    assert_true(strlen(err) > 0);

    add_member(f->m, "n1");
    add_member(f->m, "n2");
    add_member(f->m, "n3");
    assert_int_equal(controller_replace(f->m, NULL, NULL, &r, err,
                                        sizeof(err)),
                     MEMB_OK);
    assert_true(r.changed);
    assert_int_equal(r.generation, 1);
    assert_int_equal(r.moves, 0); /* a new table has nothing to hand over */

    /* The same inputs again: nothing new is stored. */
    assert_int_equal(controller_replace(f->m, NULL, NULL, &r, err,
                                        sizeof(err)),
                     MEMB_OK);
    assert_false(r.changed);
    assert_int_equal(r.generation, 1);

    struct placement *pl = stored(f->m);
    for (uint32_t p = 0; p < 16; p++) {
        const char *ids[4];
        size_t n = 0;
        assert_int_equal(placement_nodes(pl, "recs", p, PLACE_TARGET, ids, 4,
                                         &n),
                         PLACE_OK);
        assert_int_equal(n, 2);
        assert_string_not_equal(ids[0], ids[1]);
    }
    placement_destroy(&pl);
}

/* Excludes the member named by arg. */
static bool exclude_one(void *arg, const struct memb_member *mem)
{
    return strcmp(mem->id, (const char *)arg) == 0;
}

/* Adds partition p to node's ready record of (table, v). */
static void record_ready(struct membership *m, const char *table, uint64_t v,
                         const char *node, uint32_t p)
{
    uint32_t *held = NULL;
    size_t nheld = 0;
    membership_ready_get(m, table, v, node, &held, &nheld);
    uint32_t *more = realloc(held, (nheld + 1) * sizeof(*more));
    assert_non_null(more);
    more[nheld++] = p;
    assert_int_equal(membership_ready_set(m, table, v, node, more, nheld),
                     MEMB_OK);
    free(more);
}

/*
 * Members n1..n3, table recs with parts partitions and one replica, placed;
 * a version of it active and ready where the placement put it. Returns
 * the version.
 */
static uint64_t place_and_activate(struct fixture *f, uint32_t parts)
{
    struct controller_result r;
    char err[512];
    add_member(f->m, "n1");
    add_member(f->m, "n2");
    add_member(f->m, "n3");
    add_table(f->m, "recs", parts, 1);
    assert_int_equal(controller_replace(f->m, NULL, NULL, &r, err,
                                        sizeof(err)),
                     MEMB_OK);
    uint64_t v = 0;
    assert_int_equal(membership_version_alloc(f->m, "recs", &v), MEMB_OK);
    struct placement *pl = stored(f->m);
    for (uint32_t p = 0; p < parts; p++) {
        char cur[64];
        nodes_of(pl, "recs", p, PLACE_CURRENT, cur, sizeof(cur));
        record_ready(f->m, "recs", v, cur, p);
    }
    placement_destroy(&pl);
    struct memb_active a = {0};
    struct memb_active_entry e = {.version = v};
    snprintf(e.table, sizeof(e.table), "recs");
    a.n = 1;
    a.entries = &e;
    assert_int_equal(membership_active_cas(f->m, 0, &a), MEMB_OK);
    return v;
}

static void test_promote_waits_for_ready_targets(void **state)
{
    struct fixture *f = *state;
    struct controller_result r;
    char err[512];
    uint64_t v = place_and_activate(f, 8);

    /* Leave n2 out: its partitions get new targets, not yet ready. */
    assert_int_equal(controller_replace(f->m, exclude_one, "n2", &r, err,
                                        sizeof(err)),
                     MEMB_OK);
    assert_true(r.changed);
    size_t moving = r.moves;
    assert_true(moving > 0);
    assert_int_equal(controller_promote(f->m, &r, err, sizeof(err)), MEMB_OK);
    assert_false(r.changed);
    assert_int_equal(r.moves, moving);

    /* Each new target records its partitions ready: they move, n2 goes. */
    struct placement *pl = stored(f->m);
    struct place_move *moves = NULL;
    size_t nmoves = 0;
    assert_int_equal(placement_moves(pl, &moves, &nmoves), PLACE_OK);
    for (size_t i = 0; i < nmoves; i++) {
        char cur[64], tgt[64];
        nodes_of(pl, "recs", moves[i].partition, PLACE_CURRENT, cur,
                 sizeof(cur));
        nodes_of(pl, "recs", moves[i].partition, PLACE_TARGET, tgt,
                 sizeof(tgt));
        assert_string_equal(cur, "n2");
        assert_string_not_equal(tgt, "n2");
        record_ready(f->m, "recs", v, tgt, moves[i].partition);
    }
    free(moves);
    placement_destroy(&pl);
    assert_int_equal(controller_promote(f->m, &r, err, sizeof(err)), MEMB_OK);
    assert_true(r.changed);
    assert_int_equal(r.promoted, (long)moving);
    assert_int_equal(r.moves, 0);
    pl = stored(f->m);
    for (uint32_t p = 0; p < 8; p++) {
        char cur[64];
        nodes_of(pl, "recs", p, PLACE_ROUTING, cur, sizeof(cur));
        assert_string_not_equal(cur, "n2");
    }
    placement_destroy(&pl);
}

/*
 * A dead node's ready record says what it held before it died: promoting
 * a partition to it would let the last live replica drop the partition.
 * Only the live targets' partitions move.
 */
static void test_promote_ignores_dead_targets(void **state)
{
    struct fixture *f = *state;
    struct controller_result r;
    char err[512];
    uint64_t v = place_and_activate(f, 32);

    /* n2 leaves; n3 records its new partitions ready, then dies. */
    assert_int_equal(controller_replace(f->m, exclude_one, "n2", &r, err,
                                        sizeof(err)),
                     MEMB_OK);
    size_t moving = r.moves;
    struct placement *pl = stored(f->m);
    struct place_move *moves = NULL;
    size_t nmoves = 0, to_n1 = 0, to_n3 = 0;
    assert_int_equal(placement_moves(pl, &moves, &nmoves), PLACE_OK);
    assert_int_equal(nmoves, moving);
    for (size_t i = 0; i < nmoves; i++) {
        char tgt[64];
        nodes_of(pl, "recs", moves[i].partition, PLACE_TARGET, tgt,
                 sizeof(tgt));
        record_ready(f->m, "recs", v, tgt, moves[i].partition);
        to_n1 += strcmp(tgt, "n1") == 0;
        to_n3 += strcmp(tgt, "n3") == 0;
    }
    free(moves);
    placement_destroy(&pl);
    assert_true(to_n3 > 0); /* else this test proves nothing */
    assert_int_equal(to_n1 + to_n3, moving);
    assert_int_equal(test_memb_dead_live_record(f->dir, "n3"), 0);

    assert_int_equal(controller_promote(f->m, &r, err, sizeof(err)), MEMB_OK);
    assert_int_equal(r.promoted, (long)to_n1);
    assert_int_equal(r.moves, to_n3);
    pl = stored(f->m);
    assert_int_equal(placement_moves(pl, &moves, &nmoves), PLACE_OK);
    for (size_t i = 0; i < nmoves; i++) {
        char cur[64], tgt[64];
        nodes_of(pl, "recs", moves[i].partition, PLACE_CURRENT, cur,
                 sizeof(cur));
        nodes_of(pl, "recs", moves[i].partition, PLACE_TARGET, tgt,
                 sizeof(tgt));
        assert_string_equal(cur, "n2"); /* still served where it was */
        assert_string_equal(tgt, "n3");
    }
    free(moves);
    placement_destroy(&pl);
}

static void test_ready_get(void **state)
{
    struct fixture *f = *state;
    add_table(f->m, "t", 8, 1);
    uint64_t v = 0;
    assert_int_equal(membership_version_alloc(f->m, "t", &v), MEMB_OK);
    uint32_t *parts = NULL;
    size_t n = 7;
    assert_int_equal(membership_ready_get(f->m, "t", v, "n1", &parts, &n),
                     MEMB_NOTFOUND);
    assert_null(parts);
    assert_int_equal(n, 0);
    const uint32_t set[] = {5, 1, 5, 3};
    assert_int_equal(membership_ready_set(f->m, "t", v, "n1", set, 4),
                     MEMB_OK);
    assert_int_equal(membership_ready_get(f->m, "t", v, "n1", &parts, &n),
                     MEMB_OK);
    assert_int_equal(n, 3);
    assert_int_equal(parts[0], 1);
    assert_int_equal(parts[1], 3);
    assert_int_equal(parts[2], 5);
    free(parts);
    assert_int_equal(membership_ready_get(f->m, "t", v, "../x", &parts, &n),
                     MEMB_INVALID);

    /* Every node's record, sorted by node; counts agree with the list. */
    const uint32_t other[] = {3, 0};
    assert_int_equal(membership_ready_set(f->m, "t", v, "a0", other, 2),
                     MEMB_OK);
    struct memb_ready *list = NULL;
    assert_int_equal(membership_ready_list(f->m, "t", v, &list, &n), MEMB_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].node, "a0");
    assert_int_equal(list[0].n, 2);
    assert_int_equal(list[0].partitions[0], 0);
    assert_int_equal(list[0].partitions[1], 3);
    assert_string_equal(list[1].node, "n1");
    assert_int_equal(list[1].n, 3);
    membership_ready_free(list, n);
    uint32_t counts[8];
    assert_int_equal(membership_ready_count(f->m, "t", v, 8, counts),
                     MEMB_OK);
    const uint32_t want[8] = {1, 1, 0, 2, 0, 1, 0, 0};
    assert_memory_equal(counts, want, sizeof(want));
    assert_int_equal(membership_ready_list(f->m, "t", v + 1, &list, &n),
                     MEMB_OK);
    assert_int_equal(n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_replace_stores_once, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_promote_waits_for_ready_targets,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_promote_ignores_dead_targets,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_ready_get, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
