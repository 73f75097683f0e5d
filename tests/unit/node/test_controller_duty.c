/*
 * Tests of controller_duty.h on a local: membership: the node holding the
 * controller lock re-places a member only after --rebalance-delay, and a
 * new holder never hands partitions back to a member that is down and
 * that no target names any more (left out earlier by another holder or by
 * `larder rebalance`), although it counts that member's delay afresh.
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

#include "controller.h"
#include "controller_duty.h"
#include "membership.h"
#include "placement.h"
#include "test_membership.h"
#include "test_tmpdir.h"

enum { PARTS = 24, DELAY_MS = 600000 };

struct fixture {
    char dir[64];
    struct membership *m;
    struct memb_table table;
};

/*
 * Makes member id live (a live record of this process) or dead (a live
 * record left by a process that has exited, as a node killed with -9
 * leaves it).
 */
static void set_live(struct fixture *f, const char *id, bool live)
{
    if (live) {
        assert_int_equal(membership_live_set(f->m, id, "ready"), MEMB_OK);
        return;
    }
    assert_int_equal(test_memb_dead_live_record(f->dir, id), 0);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/larder-duty-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char uri[128], err[256];
    snprintf(uri, sizeof(uri), "local:%s", f->dir);
    assert_int_equal(membership_open(uri, &f->m, err, sizeof(err)), MEMB_OK);
    for (int i = 0; i < 3; i++) {
        struct memb_member mem = {0};
        snprintf(mem.id, sizeof(mem.id), "n%d", i + 1);
        snprintf(mem.addr, sizeof(mem.addr), "127.0.0.1:%d", 7001 + i);
        mem.capacity = 100;
        assert_int_equal(membership_member_put(f->m, &mem), MEMB_OK);
        set_live(f, mem.id, true);
    }
    snprintf(f->table.name, sizeof(f->table.name), "recs");
    f->table.kind = MEMB_TABLE_BATCH;
    f->table.partitions = PARTS;
    f->table.replication = 1;
    assert_int_equal(membership_table_put(f->m, &f->table), MEMB_OK);
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

static struct placement *stored(struct membership *m, uint64_t *generation)
{
    struct placement *pl = NULL;
    uint64_t cas = 0;
    char err[512];
    assert_int_equal(controller_read(m, &pl, &cas, err, sizeof(err)),
                     MEMB_OK);
    *generation = placement_generation(pl);
    return pl;
}

/* How many partitions list id among their target replicas. */
static size_t targets_of(const struct placement *pl, const char *id)
{
    size_t count = 0;
    for (uint32_t p = 0; p < PARTS; p++) {
        const char *ids[4];
        size_t n = 0;
        assert_int_equal(placement_nodes(pl, "recs", p, PLACE_TARGET, ids, 4,
                                         &n),
                         PLACE_OK);
        for (size_t i = 0; i < n; i++) {
            count += strcmp(ids[i], id) == 0;
        }
    }
    return count;
}

static bool exclude_n3(void *arg, const struct memb_member *mem)
{
    (void)arg;
    return strcmp(mem->id, "n3") == 0;
}

/*
 * One turn of a holder at now_ms, on the member list and placement read
 * from membership as the node's puller reads them; returns the stored
 * generation after it.
 */
static uint64_t turn(struct fixture *f, struct controller_duty *d,
                     int64_t now_ms, size_t *n3_targets)
{
    uint64_t gen = 0;
    struct memb_member *members = NULL;
    size_t n = 0;
    assert_int_equal(membership_member_list(f->m, &members, &n), MEMB_OK);
    assert_int_equal(n, 3);
    struct placement *pl = stored(f->m, &gen);
    controller_duty_run(d, f->m, members, n, &f->table, 1, pl, now_ms);
    assert_true(controller_duty_held(d));
    free(members);
    placement_destroy(&pl);
    pl = stored(f->m, &gen);
    *n3_targets = targets_of(pl, "n3");
    placement_destroy(&pl);
    return gen;
}

/* A member that dies keeps its partitions until the delay has passed. */
static void test_dead_member_waits_for_the_delay(void **state)
{
    struct fixture *f = *state;
    struct controller_result r;
    char err[512];
    assert_int_equal(controller_replace(f->m, NULL, NULL, &r, err,
                                        sizeof(err)),
                     MEMB_OK);
    uint64_t gen0 = r.generation;
    struct controller_duty *d = controller_duty_create(DELAY_MS);
    assert_non_null(d);
    size_t n3 = 0;
    int64_t t0 = 1000000;
    assert_int_equal(turn(f, d, t0, &n3), gen0);
    assert_true(n3 > 0);

    set_live(f, "n3", false); /* killed */
    assert_int_equal(turn(f, d, t0 + 1000, &n3), gen0);
    assert_true(n3 > 0);
    assert_int_equal(turn(f, d, t0 + 1000 + DELAY_MS - 1, &n3), gen0);
    assert_true(n3 > 0);
    uint64_t gen = turn(f, d, t0 + 1000 + DELAY_MS, &n3);
    assert_true(gen > gen0);
    assert_int_equal(n3, 0);
    controller_duty_release(d);
    controller_duty_destroy(&d);
}

/*
 * n3 was left out already (by `larder rebalance` or an earlier holder) and
 * is still down: a new holder must not give it partitions back, although
 * its own count of n3's delay has only just started. Once n3 is live
 * again, it gets partitions back.
 */
static void test_new_holder_does_not_revive_a_left_out_member(void **state)
{
    struct fixture *f = *state;
    struct controller_result r;
    char err[512];
    assert_int_equal(controller_replace(f->m, exclude_n3, NULL, &r, err,
                                        sizeof(err)),
                     MEMB_OK);
    uint64_t gen0 = r.generation;
    set_live(f, "n3", false);
    struct controller_duty *d = controller_duty_create(DELAY_MS);
    assert_non_null(d);
    size_t n3 = 0;
    int64_t t0 = 1000000;
    assert_int_equal(turn(f, d, t0, &n3), gen0);
    assert_int_equal(n3, 0);
    assert_int_equal(turn(f, d, t0 + 5000, &n3), gen0);
    assert_int_equal(n3, 0);

    set_live(f, "n3", true); /* n3 is back */
    uint64_t gen = turn(f, d, t0 + 6000, &n3);
    assert_true(gen > gen0);
    assert_true(n3 > 0);
    controller_duty_release(d);
    controller_duty_destroy(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_dead_member_waits_for_the_delay,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_new_holder_does_not_revive_a_left_out_member, setup,
            teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
