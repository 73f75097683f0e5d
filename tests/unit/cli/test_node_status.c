/*
 * This file implements the unit tests of the INFO reader behind
 * `larder status` (cli/node_status.c): health, reasons, generation and the
 * table lines of "INFO batch", freshness, and a reply without a health
 * field.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "node_status.h"

static const char info[] =
    "# Batch\r\n"
    "batch_state:ready\r\n"
    "batch_degraded:0\r\n"
    "batch_generation:7\r\n"
    "batch_tables:2\r\n"
    "health:degraded\r\n"
    "health_reasons:table recs version 3 is 7200 s old (max age 3600 s)\r\n"
    "batch_pulls_total:4\r\n"
    "table_recs:active_version=3,rows=50,bytes=4096,versions=2,"
    "version_age_seconds=7200,max_age_seconds=3600,pull_ms=12\r\n"
    "table_users:active_version=9,rows=10,bytes=100,versions=1,"
    "version_age_seconds=5,max_age_seconds=0,pull_ms=1\r\n"
    "\r\n";

static void test_parse(void **state)
{
    struct node_status st;
    char err[128];
    assert_int_equal(node_status_parse(info, sizeof(info) - 1, &st, err,
                                       sizeof(err)), 0);
    assert_string_equal(st.health, "degraded");
    assert_string_equal(st.state, "ready");
    assert_string_equal(st.reasons,
                        "table recs version 3 is 7200 s old (max age 3600 s)");
    assert_int_equal(st.generation, 7);
    assert_false(st.degraded);
    assert_int_equal(st.ntables, 2);
    assert_string_equal(st.tables[0].name, "recs");
    assert_int_equal(st.tables[0].version, 3);
    assert_int_equal(st.tables[0].rows, 50);
    assert_int_equal(st.tables[0].bytes, 4096);
    assert_int_equal(st.tables[0].age_s, 7200);
    assert_int_equal(st.tables[0].max_age_s, 3600);
    assert_false(node_status_fresh(&st.tables[0]));
    assert_string_equal(st.tables[1].name, "users");
    assert_true(node_status_fresh(&st.tables[1])); /* no max age */
    node_status_free(&st);
}

static void test_no_health_field(void **state)
{
    static const char old[] = "# Batch\r\nbatch_state:ready\r\n";
    struct node_status st;
    char err[128];
    assert_int_equal(node_status_parse(old, sizeof(old) - 1, &st, err,
                                       sizeof(err)), -1);
    assert_non_null(strstr(err, "no health field"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse),
        cmocka_unit_test(test_no_health_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
