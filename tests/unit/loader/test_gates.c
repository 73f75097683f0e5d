/*
 * This file implements the unit tests of the data gates
 * (loader/gates.c) and of the memory check (loader/capacity.c): the
 * bad-row limits alone and together, stopping early, the row-change
 * percentage both ways and from zero, and which members fit a version's
 * share under "all" and numeric replication.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "capacity.h"
#include "gates.h"

static void test_bad_rows_default_none_allowed(void **state)
{
    struct gate_bad_rows g = {0};
    char msg[256];
    assert_false(gate_bad_rows_hopeless(&g, 0));
    assert_true(gate_bad_rows_hopeless(&g, 1));
    assert_int_equal(gate_bad_rows_check(&g, 100, 0, msg, sizeof(msg)), 0);
    assert_int_equal(gate_bad_rows_check(&g, 100, 1, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "1 bad rows (none allowed without "
                             "--max-bad-rows or --max-bad-ratio)");
}

static void test_bad_rows_count_limit(void **state)
{
    struct gate_bad_rows g = {.has_max_rows = true, .max_rows = 3};
    char msg[256];
    assert_false(gate_bad_rows_hopeless(&g, 3));
    assert_true(gate_bad_rows_hopeless(&g, 4));
    assert_int_equal(gate_bad_rows_check(&g, 10, 3, msg, sizeof(msg)), 0);
    assert_int_equal(gate_bad_rows_check(&g, 10, 4, msg, sizeof(msg)), -1);
    assert_string_equal(msg, "4 bad rows, more than --max-bad-rows 3");
}

static void test_bad_rows_ratio_only(void **state)
{
    struct gate_bad_rows g = {.has_max_ratio = true, .max_ratio = 0.1};
    char msg[256];
    assert_false(gate_bad_rows_hopeless(&g, 1000000));
    assert_int_equal(gate_bad_rows_check(&g, 90, 10, msg, sizeof(msg)), 0);
    assert_int_equal(gate_bad_rows_check(&g, 89, 11, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "--max-bad-ratio 0.1"));
    assert_int_equal(gate_bad_rows_check(&g, 0, 0, msg, sizeof(msg)), 0);
}

static void test_bad_rows_both(void **state)
{
    struct gate_bad_rows g = {true, 5, true, 0.5};
    char msg[256];
    assert_int_equal(gate_bad_rows_check(&g, 1000, 5, msg, sizeof(msg)), 0);
    assert_int_equal(gate_bad_rows_check(&g, 1000, 6, msg, sizeof(msg)), -1);
    assert_int_equal(gate_bad_rows_check(&g, 2, 3, msg, sizeof(msg)), -1);
    assert_non_null(strstr(msg, "ratio"));
}

static void test_row_change(void **state)
{
    char msg[256];
    assert_int_equal(gate_row_change_check(10, 1000, 1100, msg, sizeof(msg)),
                     0);
    assert_int_equal(gate_row_change_check(10, 1000, 900, msg, sizeof(msg)),
                     0);
    assert_int_equal(gate_row_change_check(10, 1000, 1101, msg, sizeof(msg)),
                     -1);
    assert_string_equal(msg, "row count changes from 1000 to 1101 "
                             "(+10.10%), more than --max-row-change 10%");
    assert_int_equal(gate_row_change_check(10, 1000, 500, msg, sizeof(msg)),
                     -1);
    assert_non_null(strstr(msg, "(-50.00%)"));
    assert_int_equal(gate_row_change_check(0, 7, 7, msg, sizeof(msg)), 0);
    assert_int_equal(gate_row_change_check(5, 0, 0, msg, sizeof(msg)), 0);
    assert_int_equal(gate_row_change_check(5, 0, 1, msg, sizeof(msg)), -1);
}

static struct memb_member member(const char *id, int live, uint64_t budget,
                                 uint64_t used)
{
    struct memb_member m;
    memset(&m, 0, sizeof(m));
    strcpy(m.id, id);
    m.live = live;
    m.batch_memory = budget;
    m.batch_used = used;
    return m;
}

static void test_capacity_replicated_to_all(void **state)
{
    struct memb_member ms[] = {member("a", 1, 1000, 600),
                               member("b", 1, 1000, 0),
                               member("c", 0, 0, 0)};
    struct capacity_verdict v;
    char msg[512];
    assert_int_equal(capacity_check(ms, 3, 0, 500, 1, &v, msg, sizeof(msg)),
                     0);
    assert_int_equal(v.share, 500);
    assert_int_equal(v.live, 2);
    assert_int_equal(v.fit, 1);
    assert_int_equal(capacity_check(ms, 3, 0, 500, 2, &v, msg, sizeof(msg)),
                     -1);
    assert_int_equal(capacity_check(ms, 3, 0, 1001, 1, &v, msg, sizeof(msg)),
                     -1);
    assert_string_equal(msg, "0 of 2 live nodes can hold 1001 B (1 needed): "
                             "a has 400 B free of --batch-memory 1000 B; "
                             "b has 1000 B free of --batch-memory 1000 B");
}

static void test_capacity_share(void **state)
{
    struct memb_member ms[4];
    for (int i = 0; i < 4; i++) {
        char id[8];
        snprintf(id, sizeof(id), "n%d", i);
        ms[i] = member(id, 1, 1000, 0);
    }
    struct capacity_verdict v;
    char msg[512];
    /* R=2 of 4 members: half the bytes, plus 25%. */
    assert_int_equal(capacity_check(ms, 4, 2, 1600, 1, &v, msg, sizeof(msg)),
                     0);
    assert_int_equal(v.share, 1000);
    assert_int_equal(v.fit, 4);
    assert_int_equal(capacity_check(ms, 4, 2, 1700, 1, &v, msg, sizeof(msg)),
                     -1);
    /* A member without a reported budget is not judged. */
    ms[0].batch_memory = 0;
    assert_int_equal(capacity_check(ms, 4, 2, 1700, 1, &v, msg, sizeof(msg)),
                     0);
    assert_int_equal(v.fit, 1);
    /* No live member: nobody to ask. */
    for (int i = 0; i < 4; i++) {
        ms[i].live = 0;
    }
    assert_int_equal(capacity_check(ms, 4, 2, 1 << 30, 1, &v, msg,
                                    sizeof(msg)), 0);
    assert_int_equal(v.live, 0);
}

static void test_format_bytes(void **state)
{
    char b[32];
    capacity_format_bytes(512, b, sizeof(b));
    assert_string_equal(b, "512 B");
    capacity_format_bytes(1536, b, sizeof(b));
    assert_string_equal(b, "1.5 KiB");
    capacity_format_bytes(3ULL << 30, b, sizeof(b));
    assert_string_equal(b, "3.0 GiB");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_rows_default_none_allowed),
        cmocka_unit_test(test_bad_rows_count_limit),
        cmocka_unit_test(test_bad_rows_ratio_only),
        cmocka_unit_test(test_bad_rows_both),
        cmocka_unit_test(test_row_change),
        cmocka_unit_test(test_capacity_replicated_to_all),
        cmocka_unit_test(test_capacity_share),
        cmocka_unit_test(test_format_bytes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
