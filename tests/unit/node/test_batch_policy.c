/*
 * This file implements the unit tests of the batch retention plan and the
 * memory check (node/batch_policy.c): which versions stay active, hot,
 * in grace, cold or are deleted, as a node sees them after a series of
 * activations and rollbacks; and the refusal reason a loader prints.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "batch_policy.h"

enum { SEC = 1000 };

static const struct batch_policy defaults = {
    .retain_hot = 1,
    .retain = 2,
    .grace_ms = 60 * SEC,
};

/* Plans n candidates and checks each fate. */
static void expect_plan(const struct batch_policy *p, int64_t now,
                        const struct batch_candidate *c, size_t n,
                        const enum batch_fate *want)
{
    enum batch_fate got[16];
    batch_plan_retention(p, now, c, n, got);
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            fail_msg("version %llu: expected %s, got %s",
                     (unsigned long long)c[i].version,
                     batch_fate_name(want[i]), batch_fate_name(got[i]));
        }
    }
}

static void test_active_only(void **state)
{
    struct batch_candidate c[] = {{.version = 1, .active = true}};
    enum batch_fate want[] = {BATCH_ACTIVE};
    expect_plan(&defaults, 1000 * SEC, c, 1, want);
}

/* Daily loads v1..v5, each active a day; now v5 is active. The day
 * before's stays hot, the one before is cold, older ones are deleted. */
static void test_daily_loads(void **state)
{
    int64_t day = 86400 * SEC, now = 5 * day + 10 * SEC;
    struct batch_candidate c[] = {
        {.version = 1, .last_active_ms = 2 * day},
        {.version = 2, .last_active_ms = 3 * day},
        {.version = 3, .last_active_ms = 4 * day},
        {.version = 4, .last_active_ms = 5 * day},
        {.version = 5, .active = true},
    };
    enum batch_fate want[] = {BATCH_DROP, BATCH_DROP, BATCH_COLD, BATCH_HOT,
                              BATCH_ACTIVE};
    expect_plan(&defaults, now, c, 5, want);
}

/* A version retired a moment ago stays readable whatever its rank. */
static void test_grace_keeps_mapped(void **state)
{
    struct batch_policy p = {.retain_hot = 0, .retain = 0, .grace_ms = 60 * SEC};
    int64_t now = 1000 * SEC;
    struct batch_candidate c[] = {
        {.version = 1, .last_active_ms = now - 59 * SEC},
        {.version = 2, .last_active_ms = now - 61 * SEC},
        {.version = 3, .active = true},
    };
    enum batch_fate want[] = {BATCH_GRACE, BATCH_DROP, BATCH_ACTIVE};
    expect_plan(&p, now, c, 3, want);
}

/* Grace beyond --retain keeps a version mapped; once over, it goes. */
static void test_grace_then_cold_then_drop(void **state)
{
    struct batch_policy p = {.retain_hot = 0, .retain = 1, .grace_ms = 10 * SEC};
    struct batch_candidate c[] = {
        {.version = 1, .last_active_ms = 100 * SEC},
        {.version = 2, .last_active_ms = 105 * SEC},
        {.version = 3, .active = true},
    };
    enum batch_fate in_grace[] = {BATCH_GRACE, BATCH_GRACE, BATCH_ACTIVE};
    expect_plan(&p, 106 * SEC, c, 3, in_grace);
    enum batch_fate later[] = {BATCH_DROP, BATCH_GRACE, BATCH_ACTIVE};
    expect_plan(&p, 112 * SEC, c, 3, later);
    enum batch_fate after[] = {BATCH_DROP, BATCH_COLD, BATCH_ACTIVE};
    expect_plan(&p, 116 * SEC, c, 3, after);
}

/* After a rollback the version just left is the hot one, whatever its
 * number: ranking is by when a version was last active. */
static void test_rollback_ranks_by_recency(void **state)
{
    struct batch_candidate c[] = {
        {.version = 1, .active = true},
        {.version = 2, .last_active_ms = 500 * SEC},
        {.version = 3, .last_active_ms = 900 * SEC},
    };
    enum batch_fate want[] = {BATCH_ACTIVE, BATCH_COLD, BATCH_HOT};
    expect_plan(&defaults, 2000 * SEC, c, 3, want);
}

/* Versions never active: kept while wanted, else deleted. */
static void test_incoming(void **state)
{
    struct batch_candidate c[] = {
        {.version = 4, .active = true},
        {.version = 5, .wanted = true},
        {.version = 3, .wanted = false},
    };
    enum batch_fate want[] = {BATCH_ACTIVE, BATCH_INCOMING, BATCH_DROP};
    expect_plan(&defaults, 10 * SEC, c, 3, want);
}

/* retain below retain_hot is read as retain_hot; many versions (beyond
 * the plan's stack array) are ranked too. */
static void test_many_versions(void **state)
{
    struct batch_policy p = {.retain_hot = 3, .retain = 1, .grace_ms = 0};
    struct batch_candidate c[40];
    enum batch_fate got[40];
    for (size_t i = 0; i < 40; i++) {
        c[i] = (struct batch_candidate){.version = i + 1,
                                        .last_active_ms = (int64_t)(i + 1) * SEC};
    }
    c[39].active = true;
    c[39].last_active_ms = 0;
    batch_plan_retention(&p, 1000 * SEC, c, 40, got);
    assert_int_equal(got[39], BATCH_ACTIVE);
    assert_int_equal(got[38], BATCH_HOT);
    assert_int_equal(got[37], BATCH_HOT);
    assert_int_equal(got[36], BATCH_HOT);
    for (size_t i = 0; i < 36; i++) {
        assert_int_equal(got[i], BATCH_DROP);
    }
}

static void test_budget(void **state)
{
    char reason[256] = "";
    assert_true(batch_budget_fits(1000, 400, 600, reason, sizeof(reason)));
    assert_string_equal(reason, "");
    assert_false(batch_budget_fits(1000, 400, 601, reason, sizeof(reason)));
    assert_string_equal(reason, "needs 601 B, --batch-memory leaves 600 B "
                                "(budget 1000 B, 400 B held)");
    uint64_t gib = (uint64_t)1 << 30;
    assert_false(batch_budget_fits(4 * gib, 3 * gib + gib / 2, 3 * gib / 2,
                                   reason, sizeof(reason)));
    assert_string_equal(reason, "needs 1.50 GiB, --batch-memory leaves "
                                "512.00 MiB (budget 4.00 GiB, 3.50 GiB held)");
    /* More held than the budget (a smaller budget after a restart). */
    assert_false(batch_budget_fits(100, 200, 1, reason, sizeof(reason)));
    assert_non_null(strstr(reason, "leaves 0 B"));
    assert_true(batch_budget_default() > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_active_only),
        cmocka_unit_test(test_daily_loads),
        cmocka_unit_test(test_grace_keeps_mapped),
        cmocka_unit_test(test_grace_then_cold_then_drop),
        cmocka_unit_test(test_rollback_ranks_by_recency),
        cmocka_unit_test(test_incoming),
        cmocka_unit_test(test_many_versions),
        cmocka_unit_test(test_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
