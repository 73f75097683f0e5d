/*
 * This file implements the unit tests of the health rules (node/health.c):
 * starting without a view, stopping, draining, joining (serving a view of
 * an older generation than the cluster's active one) and its precedence,
 * ok, and each reason for degraded —
 * a table older than its max age (its own, else the node's default; the
 * build time, else the activation time), membership unreachable, active
 * versions not resident — and the age and max-age helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "health.h"

enum { SEC = 1000 };

static const int64_t now = 1700000000LL * SEC;

/* A view of one table "recs" whose active version 3 was built
 * `built_ago` seconds ago (0: unknown) and activated 10 s ago. */
struct fixture {
    struct batch_vinfo vi;
    struct batch_vtable t;
    struct batch_view v;
    struct batch_usage u;
};

static void make(struct fixture *f, int64_t built_ago, uint64_t max_age_s)
{
    memset(f, 0, sizeof(*f));
    f->vi.version = 3;
    f->vi.state = BATCH_ACTIVE;
    f->vi.created_ms = built_ago ? now - built_ago * SEC : 0;
    f->vi.activated_ms = now - 10 * SEC;
    strcpy(f->t.name, "recs");
    f->t.versions = &f->vi;
    f->t.nversions = 1;
    f->t.active = &f->vi;
    f->t.max_age_s = max_age_s;
    f->v.generation = 4;
    f->v.tables = &f->t;
    f->v.ntables = 1;
    f->u.active_mapped = f->u.active_resident = 4096;
}

static struct health_report check(const struct fixture *f, bool degraded,
                                  uint64_t default_max_age_s)
{
    struct health_input in = {
        .view = &f->v,
        .usage = &f->u,
        .membership_degraded = degraded,
        .default_max_age_s = default_max_age_s,
        .now_ms = now,
    };
    struct health_report r;
    health_evaluate(&in, &r);
    return r;
}

static void test_starting_and_stopping(void **state)
{
    struct health_input in = {.now_ms = now};
    struct health_report r;
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_STARTING);
    assert_string_equal(health_state_name(r.state), "starting");
    struct fixture f;
    make(&f, 100000, 1); /* stale, but stopping wins */
    in.view = &f.v;
    in.usage = &f.u;
    in.stopping = true;
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_STOPPING);
    assert_int_equal(r.nreasons, 0);
}

static void test_draining(void **state)
{
    struct fixture f;
    make(&f, 100000, 1); /* stale, but draining wins */
    struct health_input in = {.view = &f.v, .usage = &f.u, .draining = true,
                              .now_ms = now};
    struct health_report r;
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_DRAINING);
    assert_string_equal(health_state_name(r.state), "draining");
    assert_int_equal(r.nreasons, 0);
    in.view = NULL; /* draining while still joining */
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_DRAINING);
    in.stopping = true; /* stopping wins over draining */
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_STOPPING);
}

static void test_joining(void **state)
{
    struct fixture f;
    make(&f, 100000, 1); /* stale too, but joining wins over degraded */
    struct health_input in = {.view = &f.v, .usage = &f.u, .behind = true,
                              .active_generation = 5, .now_ms = now};
    struct health_report r;
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_JOINING);
    assert_string_equal(health_state_name(r.state), "joining");
    assert_int_equal(r.nreasons, 1);
    assert_string_equal(r.reasons[0], "pulling generation 5 (serving 4)");
    in.switch_why = "recs version 4 does not fit: needs 2 MiB";
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_JOINING);
    assert_string_equal(r.reasons[0], "cannot switch to generation 5 "
                                      "(serving 4): recs version 4 does not "
                                      "fit: needs 2 MiB");
    in.switch_why = ""; /* no failure yet: still pulling */
    health_evaluate(&in, &r);
    assert_string_equal(r.reasons[0], "pulling generation 5 (serving 4)");
    /* The view already serves that generation (the puller has yet to
     * say so): not joining. */
    in.active_generation = 4;
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_DEGRADED);
    in.active_generation = 5;
    /* Stopping, draining and starting win over joining. */
    in.draining = true;
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_DRAINING);
    in.stopping = true;
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_STOPPING);
    in.stopping = in.draining = false;
    in.view = NULL;
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_STARTING);
    assert_int_equal(r.nreasons, 0);
}

static void test_not_joining_while_membership_unreachable(void **state)
{
    struct fixture f;
    make(&f, 60, 0);
    struct health_input in = {.view = &f.v, .usage = &f.u, .behind = true,
                              .active_generation = 5,
                              .membership_degraded = true, .now_ms = now};
    struct health_report r;
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_DEGRADED);
    assert_int_equal(r.nreasons, 1);
    assert_non_null(strstr(r.reasons[0], "membership is unreachable"));
    /* Not behind: ok, as before. */
    in.membership_degraded = false;
    in.behind = false;
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_OK);
}

static void test_ok(void **state)
{
    struct fixture f;
    make(&f, 60, 3600);
    struct health_report r = check(&f, false, 0);
    assert_int_equal(r.state, HEALTH_OK);
    assert_int_equal(r.nreasons, 0);
    /* No max age anywhere: any age is fine. */
    make(&f, 10 * 86400, 0);
    r = check(&f, false, 0);
    assert_int_equal(r.state, HEALTH_OK);
}

static void test_stale_by_table_config(void **state)
{
    struct fixture f;
    make(&f, 7200, 3600);
    struct health_report r = check(&f, false, 0);
    assert_int_equal(r.state, HEALTH_DEGRADED);
    assert_int_equal(r.nreasons, 1);
    assert_string_equal(r.reasons[0], "table recs version 3 is 7200 s old "
                                      "(max age 3600 s)");
    /* The table's own bound wins over the default. */
    r = check(&f, false, 100000);
    assert_int_equal(r.state, HEALTH_DEGRADED);
    make(&f, 7200, 10000);
    r = check(&f, false, 60);
    assert_int_equal(r.state, HEALTH_OK);
}

static void test_stale_by_default(void **state)
{
    struct fixture f;
    make(&f, 120, 0);
    assert_int_equal(check(&f, false, 60).state, HEALTH_DEGRADED);
    assert_int_equal(check(&f, false, 121).state, HEALTH_OK);
    /* Without a build time the activation time (10 s ago) counts. */
    make(&f, 0, 0);
    assert_int_equal(health_version_age_ms(&f.vi, now), 10 * SEC);
    assert_int_equal(check(&f, false, 9).state, HEALTH_DEGRADED);
    assert_int_equal(check(&f, false, 11).state, HEALTH_OK);
    assert_int_equal(health_max_age_s(&f.t, 9), 9);
    /* A table without an active version is never stale. */
    f.t.active = NULL;
    assert_int_equal(check(&f, false, 1).state, HEALTH_OK);
}

static void test_membership_and_residency(void **state)
{
    struct fixture f;
    make(&f, 60, 0);
    struct health_report r = check(&f, true, 0);
    assert_int_equal(r.state, HEALTH_DEGRADED);
    assert_non_null(strstr(r.reasons[0], "membership is unreachable"));
    f.u.active_resident = 1024;
    r = check(&f, true, 0);
    assert_int_equal(r.nreasons, 2);
    assert_non_null(strstr(r.reasons[1], "1024 of 4096 bytes resident"));
}

static void test_many_reasons_bounded(void **state)
{
    struct batch_vinfo vi[12];
    struct batch_vtable t[12];
    memset(vi, 0, sizeof(vi));
    memset(t, 0, sizeof(t));
    for (int i = 0; i < 12; i++) {
        vi[i].version = 1;
        vi[i].created_ms = now - 1000 * SEC;
        t[i].name[0] = (char)('a' + i);
        t[i].active = &vi[i];
        t[i].versions = &vi[i];
        t[i].nversions = 1;
    }
    struct batch_view v = {.generation = 1, .ntables = 12, .tables = t};
    struct health_input in = {.view = &v, .default_max_age_s = 1,
                              .now_ms = now};
    struct health_report r;
    health_evaluate(&in, &r);
    assert_int_equal(r.state, HEALTH_DEGRADED);
    assert_int_equal(r.nreasons, HEALTH_REASONS_MAX);
    assert_int_equal(r.nomitted, 12 - HEALTH_REASONS_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starting_and_stopping),
        cmocka_unit_test(test_draining),
        cmocka_unit_test(test_joining),
        cmocka_unit_test(test_not_joining_while_membership_unreachable),
        cmocka_unit_test(test_ok),
        cmocka_unit_test(test_stale_by_table_config),
        cmocka_unit_test(test_stale_by_default),
        cmocka_unit_test(test_membership_and_residency),
        cmocka_unit_test(test_many_reasons_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
