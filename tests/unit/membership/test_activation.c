/*
 * This file implements the unit tests of activation.h
 * (membership/activation.c) on the local:DIR backend: argument checks,
 * refusals (missing version, failed or retired state, not ready, a run id
 * split), force, version states after activation, the compare-and-set loop
 * (a concurrent change of the same table fails, also while the versions
 * are being checked; one of another table is retried, retries are
 * bounded, several processes activating at once all succeed) and
 * rollback. Concurrent changes are injected deterministically by a wrapped
 * backend whose compare-and-set or readiness read first runs a change
 * through a second handle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "activation.h"
#include "membership-internal.h"
#include "test_tmpdir.h"

enum { PARTS = 4 };

struct fixture {
    char dir[256];
    char location[300];
    char uri[320];
    struct membership *m;
    char err[512];
};

/* ---- a backend whose CAS lets another writer in first ------------------- */

static struct memb_backend hooked_backend;
static const char *hook_dir;   /* where the injected change is written */
static const char *hook_table; /* the table it bumps */
static int hook_times;         /* how many CAS calls see a change; -1: all */

/* Bumps hook_table's version in the active map through another handle. */
static void inject_change(void)
{
    struct membership *other = NULL;
    char err[256];
    assert_int_equal(membership_open_backend(&memb_local_backend, hook_dir,
                                             &other, err, sizeof(err)),
                     MEMB_OK);
    struct memb_active cur;
    assert_int_equal(membership_active_get(other, &cur), MEMB_OK);
    struct memb_active next = {0};
    next.entries = calloc(cur.n + 1, sizeof(*next.entries));
    assert_non_null(next.entries);
    uint64_t v = membership_active_version(&cur, hook_table);
    for (size_t i = 0; i < cur.n; i++) {
        if (strcmp(cur.entries[i].table, hook_table) != 0) {
            next.entries[next.n++] = cur.entries[i];
        }
    }
    snprintf(next.entries[next.n].table, MEMB_NAME_MAX, "%s", hook_table);
    next.entries[next.n++].version = v + 100;
    assert_int_equal(membership_active_cas(other, cur.generation, &next),
                     MEMB_OK);
    membership_active_free(&next);
    membership_active_free(&cur);
    membership_close(&other);
}

static enum memb_status hooked_cas(struct membership *m, uint64_t expected,
                                   struct memb_active *next)
{
    if (hook_times != 0) {
        if (hook_times > 0) {
            hook_times--;
        }
        inject_change();
    }
    return memb_local_backend.active_cas(m, expected, next);
}

static int hook_ready_times; /* how many readiness reads see a change */

/* Readiness as the local backend has it, after the injected change while
 * hook_ready_times lasts: another activation lands during the check. */
static enum memb_status hooked_ready_list(struct membership *m,
                                          const char *table, uint64_t version,
                                          struct memb_ready **out, size_t *n)
{
    if (hook_ready_times > 0) {
        hook_ready_times--;
        inject_change();
    }
    return memb_local_backend.ready_list(m, table, version, out, n);
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/larder-act-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->location, sizeof(f->location), "%s/cluster", f->dir);
    snprintf(f->uri, sizeof(f->uri), "local:%s", f->location);
    hooked_backend = memb_local_backend;
    hooked_backend.active_cas = hooked_cas;
    hooked_backend.ready_list = hooked_ready_list;
    hook_dir = f->location;
    hook_table = NULL;
    hook_times = 0;
    hook_ready_times = 0;
    char err[256];
    assert_int_equal(membership_open_backend(&hooked_backend, f->location,
                                             &f->m, err, sizeof(err)),
                     MEMB_OK);
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

/* ---- helpers ------------------------------------------------------------- */

/* Records table=version (state, run id) with PARTS partitions. */
static void stage(struct membership *m, const char *table, uint64_t version,
                  enum memb_version_state state, const char *run_id)
{
    struct memb_version v = {0};
    v.version = version;
    v.state = state;
    v.partitions = PARTS;
    v.rows = 10;
    snprintf(v.run_id, sizeof(v.run_id), "%s", run_id);
    snprintf(v.manifest_uri, sizeof(v.manifest_uri),
             "file:///store/%s/v-%06" PRIu64 "/manifest.json", table, version);
    assert_int_equal(membership_version_put(m, table, &v), MEMB_OK);
    struct memb_table t = {0};
    if (membership_table_get(m, table, &t) == MEMB_NOTFOUND) {
        snprintf(t.name, sizeof(t.name), "%s", table);
        t.partitions = PARTS;
        t.replication = 1;
        assert_int_equal(membership_table_put(m, &t), MEMB_OK);
    }
}

/* Node `node` holds every partition of table=version. */
static void ready(struct membership *m, const char *table, uint64_t version,
                  const char *node)
{
    uint32_t all[PARTS];
    for (uint32_t i = 0; i < PARTS; i++) {
        all[i] = i;
    }
    assert_int_equal(membership_ready_set(m, table, version, node, all, PARTS),
                     MEMB_OK);
}

/* stage + ready on node n1. */
static void stage_ready(struct membership *m, const char *table,
                        uint64_t version, const char *run_id)
{
    stage(m, table, version, MEMB_V_STAGED, run_id);
    ready(m, table, version, "n1");
}

static struct activation_pair pair(const char *table, uint64_t version)
{
    struct activation_pair p = {0};
    snprintf(p.table, sizeof(p.table), "%s", table);
    p.version = version;
    return p;
}

static enum memb_status apply1(struct fixture *f, const char *table,
                               uint64_t version, bool force)
{
    struct activation_pair p = pair(table, version);
    struct activation_options o = {.force = force};
    return activation_apply(f->m, &p, 1, &o, NULL, f->err, sizeof(f->err));
}

static enum memb_status apply2(struct fixture *f, const char *t1,
                               uint64_t v1, const char *t2, uint64_t v2)
{
    struct activation_pair p[2] = {pair(t1, v1), pair(t2, v2)};
    struct activation_options o = {0};
    return activation_apply(f->m, p, 2, &o, NULL, f->err, sizeof(f->err));
}

static uint64_t active_of(struct fixture *f, const char *table,
                          uint64_t *generation)
{
    struct memb_active a;
    assert_int_equal(membership_active_get(f->m, &a), MEMB_OK);
    uint64_t v = membership_active_version(&a, table);
    if (generation != NULL) {
        *generation = a.generation;
    }
    membership_active_free(&a);
    return v;
}

static enum memb_version_state state_of(struct fixture *f, const char *table,
                                        uint64_t version)
{
    struct memb_version v;
    assert_int_equal(membership_version_get(f->m, table, version, &v),
                     MEMB_OK);
    return v.state;
}

static int64_t activated_ms_of(struct fixture *f, const char *table,
                               uint64_t version)
{
    struct memb_version v;
    assert_int_equal(membership_version_get(f->m, table, version, &v),
                     MEMB_OK);
    return v.activated_ms;
}

/* ---- tests --------------------------------------------------------------- */

static void test_apply(void **state)
{
    struct fixture *f = *state;
    stage_ready(f->m, "users", 1, "");
    stage_ready(f->m, "items", 1, "");

    struct activation_pair p = pair("users", 1);
    struct memb_active result;
    int64_t before = memb_now_ms();
    assert_int_equal(activation_apply(f->m, &p, 1, NULL, &result, f->err,
                                      sizeof(f->err)),
                     MEMB_OK);
    int64_t after = memb_now_ms();
    assert_int_equal(result.generation, 1);
    assert_int_equal(result.n, 1);
    assert_string_equal(result.entries[0].table, "users");
    assert_int_equal(result.entries[0].version, 1);
    membership_active_free(&result);
    assert_int_equal(state_of(f, "users", 1), MEMB_V_ACTIVE);
    assert_int_equal(state_of(f, "items", 1), MEMB_V_STAGED);
    /* The first activation is stamped; a staged version has none. */
    int64_t first = activated_ms_of(f, "users", 1);
    assert_true(first >= before && first <= after);
    assert_true(activated_ms_of(f, "items", 1) == 0);

    /* Another table joins the map; the first one stays. */
    assert_int_equal(apply1(f, "items", 1, false), MEMB_OK);
    uint64_t g;
    assert_int_equal(active_of(f, "users", &g), 1);
    assert_int_equal(active_of(f, "items", NULL), 1);
    assert_int_equal(g, 2);

    /* A new version replaces the old; an active version can be re-applied. */
    stage_ready(f->m, "users", 2, "");
    assert_int_equal(apply1(f, "users", 2, false), MEMB_OK);
    assert_int_equal(active_of(f, "users", &g), 2);
    assert_int_equal(g, 3);
    assert_int_equal(state_of(f, "users", 1), MEMB_V_ACTIVE);
    struct timespec pause = {.tv_sec = 0, .tv_nsec = 5 * 1000000};
    nanosleep(&pause, NULL);
    assert_int_equal(apply1(f, "users", 1, false), MEMB_OK);
    assert_int_equal(active_of(f, "users", &g), 1);
    assert_int_equal(g, 4);
    assert_true(activated_ms_of(f, "users", 1) == first);

    /* An active record written before activated_ms existed gets one when
     * it is activated again. */
    stage(f->m, "users", 3, MEMB_V_ACTIVE, "");
    ready(f->m, "users", 3, "n1");
    assert_int_equal(apply1(f, "users", 3, false), MEMB_OK);
    assert_true(activated_ms_of(f, "users", 3) >= first);
}

static void test_invalid_arguments(void **state)
{
    struct fixture *f = *state;
    stage_ready(f->m, "users", 1, "");
    struct activation_pair p[2] = {pair("users", 1), pair("users", 1)};
    assert_int_equal(activation_apply(f->m, p, 0, NULL, NULL, f->err,
                                      sizeof(f->err)),
                     MEMB_INVALID);
    assert_int_equal(activation_apply(f->m, NULL, 1, NULL, NULL, f->err,
                                      sizeof(f->err)),
                     MEMB_INVALID);
    assert_int_equal(activation_apply(f->m, p, 2, NULL, NULL, f->err,
                                      sizeof(f->err)),
                     MEMB_INVALID);
    assert_non_null(strstr(f->err, "twice"));
    p[0] = pair("a/b", 1);
    assert_int_equal(activation_apply(f->m, p, 1, NULL, NULL, f->err,
                                      sizeof(f->err)),
                     MEMB_INVALID);
    assert_non_null(strstr(f->err, "a/b"));
    p[0] = pair("users", 0);
    assert_int_equal(activation_apply(f->m, p, 1, NULL, NULL, f->err,
                                      sizeof(f->err)),
                     MEMB_INVALID);
    assert_int_equal(activation_apply(NULL, p, 1, NULL, NULL, NULL, 0),
                     MEMB_INVALID);
    uint64_t g;
    active_of(f, "users", &g);
    assert_int_equal(g, 0);
}

static void test_refuse_missing(void **state)
{
    struct fixture *f = *state;
    stage_ready(f->m, "users", 1, "");
    assert_int_equal(apply2(f, "users", 1, "users_x", 9), MEMB_NOTFOUND);
    assert_non_null(strstr(f->err, "users_x=9"));
    assert_int_equal(apply1(f, "users", 2, false), MEMB_NOTFOUND);
    assert_non_null(strstr(f->err, "users=2"));
    /* Nothing changed, not even the state of the good version. */
    uint64_t g;
    assert_int_equal(active_of(f, "users", &g), 0);
    assert_int_equal(g, 0);
    assert_int_equal(state_of(f, "users", 1), MEMB_V_STAGED);
}

static void test_refuse_state(void **state)
{
    struct fixture *f = *state;
    stage(f->m, "users", 1, MEMB_V_FAILED, "");
    ready(f->m, "users", 1, "n1");
    assert_int_equal(apply1(f, "users", 1, false), MEMB_INVALID);
    assert_non_null(strstr(f->err, "users=1 is failed"));
    stage(f->m, "users", 2, MEMB_V_RETIRED, "");
    ready(f->m, "users", 2, "n1");
    assert_int_equal(apply1(f, "users", 2, true), MEMB_INVALID);
    assert_non_null(strstr(f->err, "retired"));
    uint64_t g;
    active_of(f, "users", &g);
    assert_int_equal(g, 0);
}

static void test_refuse_not_ready(void **state)
{
    struct fixture *f = *state;
    stage(f->m, "users", 1, MEMB_V_STAGED, "");
    assert_int_equal(apply1(f, "users", 1, false), MEMB_INVALID);
    assert_non_null(strstr(f->err, "users=1 is not ready"));
    assert_non_null(strstr(f->err, "4 of 4"));

    /* Three partitions of four. */
    uint32_t three[] = {0, 1, 3};
    assert_int_equal(membership_ready_set(f->m, "users", 1, "n1", three, 3),
                     MEMB_OK);
    assert_int_equal(apply1(f, "users", 1, false), MEMB_INVALID);
    assert_non_null(strstr(f->err, "1 of 4"));
    assert_non_null(strstr(f->err, "partition 2 has 0"));

    /* A refusal is named in the message. */
    assert_int_equal(membership_refusal_set(f->m, "users", 1, "n2",
                                            "needs 2 GiB"),
                     MEMB_OK);
    assert_int_equal(apply1(f, "users", 1, false), MEMB_INVALID);
    assert_non_null(strstr(f->err, "n2 refused it: needs 2 GiB"));

    /* min_replicas 2: one node is not enough, two are; 0 means 1. */
    ready(f->m, "users", 1, "n1");
    struct activation_pair p = pair("users", 1);
    struct activation_options two = {.min_replicas = 2};
    assert_int_equal(activation_apply(f->m, &p, 1, &two, NULL, f->err,
                                      sizeof(f->err)),
                     MEMB_INVALID);
    assert_non_null(strstr(f->err, "fewer than 2"));
    ready(f->m, "users", 1, "n2");
    assert_int_equal(activation_apply(f->m, &p, 1, &two, NULL, f->err,
                                      sizeof(f->err)),
                     MEMB_OK);
    stage_ready(f->m, "users", 2, "");
    p = pair("users", 2);
    struct activation_options zero = {.min_replicas = 0};
    assert_int_equal(activation_apply(f->m, &p, 1, &zero, NULL, f->err,
                                      sizeof(f->err)),
                     MEMB_OK);
    assert_int_equal(active_of(f, "users", NULL), 2);
}

static void test_run_id_links(void **state)
{
    struct fixture *f = *state;
    stage_ready(f->m, "users", 1, "run-a");
    stage_ready(f->m, "items", 1, "run-a");
    stage_ready(f->m, "recs", 1, "");

    /* One of a run alone: refused, naming the missing table=version. */
    assert_int_equal(apply1(f, "users", 1, false), MEMB_INVALID);
    assert_non_null(strstr(f->err, "items=1"));
    assert_non_null(strstr(f->err, "run-a"));
    uint64_t g;
    active_of(f, "users", &g);
    assert_int_equal(g, 0);
    /* Unrelated tables are not held back. */
    assert_int_equal(apply1(f, "recs", 1, false), MEMB_OK);
    /* Together: accepted. */
    assert_int_equal(apply2(f, "users", 1, "items", 1), MEMB_OK);
    assert_int_equal(state_of(f, "items", 1), MEMB_V_ACTIVE);

    /* Next run, activated one table at a time: the second is linked to an
     * active first, which is fine; the first had no partner yet. */
    stage_ready(f->m, "users", 2, "run-b");
    assert_int_equal(apply1(f, "users", 2, false), MEMB_OK);
    stage_ready(f->m, "items", 2, "run-b");
    assert_int_equal(apply1(f, "items", 2, false), MEMB_OK);

    /* Going back to users=1 alone would split run-a (items is at 2). */
    assert_int_equal(apply1(f, "users", 1, false), MEMB_INVALID);
    assert_non_null(strstr(f->err, "items=1"));
    assert_non_null(strstr(f->err, "items would stay at 2"));
    /* ... and pairing it with the wrong items version too. */
    stage_ready(f->m, "items", 3, "run-c");
    assert_int_equal(apply2(f, "users", 1, "items", 3), MEMB_INVALID);
    assert_non_null(strstr(f->err, "items=1"));
    /* Force splits it. */
    assert_int_equal(apply1(f, "users", 1, true), MEMB_OK);
    assert_int_equal(active_of(f, "users", NULL), 1);
    assert_int_equal(active_of(f, "items", NULL), 2);

    /* A run that loaded a table twice: either version keeps it together. */
    stage_ready(f->m, "users", 4, "run-d");
    stage_ready(f->m, "items", 4, "run-d");
    stage_ready(f->m, "items", 5, "run-d");
    assert_int_equal(apply2(f, "users", 4, "items", 4), MEMB_OK);
    /* A failed version of a run links nothing. */
    stage_ready(f->m, "users", 6, "run-e");
    stage(f->m, "items", 6, MEMB_V_FAILED, "run-e");
    assert_int_equal(apply1(f, "users", 6, false), MEMB_OK);
}

static void test_conflict_same_table(void **state)
{
    struct fixture *f = *state;
    stage_ready(f->m, "users", 1, "");
    stage_ready(f->m, "users", 2, "");
    assert_int_equal(apply1(f, "users", 1, false), MEMB_OK);

    /* Someone switches users between our read and our CAS. */
    hook_table = "users";
    hook_times = 1;
    assert_int_equal(apply1(f, "users", 2, false), MEMB_CONFLICT);
    assert_non_null(strstr(f->err, "table users changed concurrently "
                                   "(generation 2)"));
    uint64_t g;
    assert_int_equal(active_of(f, "users", &g), 101); /* theirs */
    assert_int_equal(g, 2);
    assert_int_equal(state_of(f, "users", 2), MEMB_V_STAGED);
}

/*
 * Someone activates users while our versions are being checked. The
 * activation is judged against the map it read first: it fails as a
 * conflict whether the check then passes (the CAS must not replace their
 * switch) or fails (our version may be old now, and nodes discard old
 * staged versions: the conflict is named, then the readiness message).
 */
static void test_conflict_during_checks(void **state)
{
    struct fixture *f = *state;
    stage_ready(f->m, "users", 1, "");
    stage_ready(f->m, "users", 2, "");
    stage(f->m, "users", 3, MEMB_V_STAGED, "");
    assert_int_equal(apply1(f, "users", 1, false), MEMB_OK);

    hook_table = "users";
    hook_ready_times = 1;
    assert_int_equal(apply1(f, "users", 2, false), MEMB_CONFLICT);
    assert_non_null(strstr(f->err, "table users changed concurrently"));
    uint64_t g;
    assert_int_equal(active_of(f, "users", &g), 101); /* theirs */
    assert_int_equal(g, 2);
    assert_int_equal(state_of(f, "users", 2), MEMB_V_STAGED);

    hook_ready_times = 1;
    assert_int_equal(apply1(f, "users", 3, false), MEMB_CONFLICT);
    assert_non_null(strstr(f->err, "table users changed concurrently "
                                   "(generation 3); then users=3 is not "
                                   "ready"));
    assert_int_equal(active_of(f, "users", &g), 201);
    assert_int_equal(g, 3);

    /* With no change, a version that is not ready is just that. */
    assert_int_equal(apply1(f, "users", 3, false), MEMB_INVALID);
    assert_non_null(strstr(f->err, "users=3 is not ready"));
    assert_null(strstr(f->err, "concurrently"));
}

static void test_retry_other_table(void **state)
{
    struct fixture *f = *state;
    stage_ready(f->m, "users", 1, "");
    stage_ready(f->m, "items", 1, "");
    assert_int_equal(apply1(f, "items", 1, false), MEMB_OK);

    /* Others change items twice while we try: both are kept, we retry. */
    hook_table = "items";
    hook_times = 2;
    struct activation_pair p = pair("users", 1);
    struct memb_active result;
    assert_int_equal(activation_apply(f->m, &p, 1, NULL, &result, f->err,
                                      sizeof(f->err)),
                     MEMB_OK);
    assert_int_equal(hook_times, 0);
    assert_int_equal(result.generation, 4);
    assert_int_equal(membership_active_version(&result, "items"), 201);
    assert_int_equal(membership_active_version(&result, "users"), 1);
    membership_active_free(&result);
    uint64_t g;
    assert_int_equal(active_of(f, "items", &g), 201);
    assert_int_equal(g, 4);
    assert_int_equal(state_of(f, "users", 1), MEMB_V_ACTIVE);
}

static void test_retry_bounded(void **state)
{
    struct fixture *f = *state;
    stage_ready(f->m, "users", 1, "");
    hook_table = "items";
    hook_times = -1;
    assert_int_equal(apply1(f, "users", 1, false), MEMB_CONFLICT);
    assert_non_null(strstr(f->err, "gave up after 20 attempts"));
    hook_times = 0;
    uint64_t g;
    assert_int_equal(active_of(f, "users", &g), 0);
    assert_int_equal(g, 20);
    assert_int_equal(state_of(f, "users", 1), MEMB_V_STAGED);
}

enum { ACT_CHILDREN = 3, ACT_EACH = 8 };

static void test_concurrent_processes(void **state)
{
    struct fixture *f = *state;
    char table[MEMB_NAME_MAX];
    for (int c = 0; c < ACT_CHILDREN; c++) {
        snprintf(table, sizeof(table), "t%d", c);
        for (uint64_t v = 1; v <= ACT_EACH; v++) {
            stage_ready(f->m, table, v, "");
        }
    }
    pid_t pids[ACT_CHILDREN];
    for (int c = 0; c < ACT_CHILDREN; c++) {
        pids[c] = fork();
        assert_true(pids[c] >= 0);
        if (pids[c] == 0) {
            struct membership *m = NULL;
            char err[512];
            if (membership_open(f->uri, &m, err, sizeof(err)) != MEMB_OK) {
                _exit(2);
            }
            snprintf(table, sizeof(table), "t%d", c);
            for (uint64_t v = 1; v <= ACT_EACH; v++) {
                struct activation_pair p = pair(table, v);
                if (activation_apply(m, &p, 1, NULL, NULL, err,
                                     sizeof(err)) != MEMB_OK) {
                    fprintf(stderr, "child %d: %s\n", c, err);
                    _exit(3);
                }
            }
            membership_close(&m);
            _exit(0);
        }
    }
    for (int c = 0; c < ACT_CHILDREN; c++) {
        int status;
        assert_int_equal(waitpid(pids[c], &status, 0), pids[c]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    uint64_t g;
    for (int c = 0; c < ACT_CHILDREN; c++) {
        snprintf(table, sizeof(table), "t%d", c);
        assert_int_equal(active_of(f, table, &g), ACT_EACH);
    }
    assert_int_equal(g, ACT_CHILDREN * ACT_EACH);
}

static void test_rollback(void **state)
{
    struct fixture *f = *state;
    struct memb_active result;

    assert_int_equal(activation_rollback(f->m, &result, f->err,
                                         sizeof(f->err)),
                     MEMB_NOTFOUND);
    assert_non_null(strstr(f->err, "nothing to roll back"));
    stage_ready(f->m, "users", 1, "run-1");
    stage_ready(f->m, "items", 1, "run-1");
    stage_ready(f->m, "users", 2, "run-2");
    stage_ready(f->m, "items", 2, "run-2");
    assert_int_equal(apply2(f, "users", 1, "items", 1), MEMB_OK);
    assert_int_equal(activation_rollback(f->m, NULL, f->err, sizeof(f->err)),
                     MEMB_NOTFOUND);

    /* Linked tables go back together, as a new generation. */
    assert_int_equal(apply2(f, "users", 2, "items", 2), MEMB_OK);
    assert_int_equal(activation_rollback(f->m, &result, f->err,
                                         sizeof(f->err)),
                     MEMB_OK);
    assert_int_equal(result.generation, 3);
    assert_int_equal(result.n, 2);
    assert_int_equal(membership_active_version(&result, "users"), 1);
    assert_int_equal(membership_active_version(&result, "items"), 1);
    membership_active_free(&result);
    uint64_t g;
    assert_int_equal(active_of(f, "users", &g), 1);
    assert_int_equal(active_of(f, "items", NULL), 1);
    assert_int_equal(g, 3);

    /* Rolling back the rollback restores generation 2's map. */
    assert_int_equal(activation_rollback(f->m, NULL, f->err, sizeof(f->err)),
                     MEMB_OK);
    assert_int_equal(active_of(f, "users", &g), 2);
    assert_int_equal(active_of(f, "items", NULL), 2);
    assert_int_equal(g, 4);

    /* A map whose history is gone cannot be restored. */
    char path[PATH_MAX + 64];
    snprintf(path, sizeof(path), "%s/active-history/g-00000003.json",
             f->location);
    assert_int_equal(unlink(path), 0);
    assert_int_equal(activation_rollback(f->m, NULL, f->err, sizeof(f->err)),
                     MEMB_NOTFOUND);
    assert_non_null(strstr(f->err, "generation 3"));
    assert_int_equal(active_of(f, "users", &g), 2);
    assert_int_equal(g, 4);
}

static void test_rollback_refusals(void **state)
{
    struct fixture *f = *state;
    stage_ready(f->m, "users", 1, "");
    stage_ready(f->m, "users", 2, "");
    assert_int_equal(apply1(f, "users", 1, false), MEMB_OK);
    assert_int_equal(apply1(f, "users", 2, false), MEMB_OK);

    /* A concurrent change during the rollback: nothing rolled back. */
    hook_table = "items";
    hook_times = 1;
    assert_int_equal(activation_rollback(f->m, NULL, f->err, sizeof(f->err)),
                     MEMB_CONFLICT);
    uint64_t g;
    assert_int_equal(active_of(f, "users", &g), 2);
    assert_int_equal(g, 3);

    /* The previous map names a retired version: refused. */
    stage(f->m, "users", 5, MEMB_V_RETIRED, "");
    stage_ready(f->m, "users", 6, "");
    struct memb_active_entry e[] = {{"users", 5}};
    struct memb_active next = {.n = 1, .entries = e};
    assert_int_equal(membership_active_cas(f->m, 3, &next), MEMB_OK);
    assert_int_equal(apply1(f, "users", 6, false), MEMB_OK);
    assert_int_equal(activation_rollback(f->m, NULL, f->err, sizeof(f->err)),
                     MEMB_INVALID);
    assert_non_null(strstr(f->err, "users=5 is retired"));
    assert_int_equal(active_of(f, "users", &g), 6);
    assert_int_equal(g, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_apply, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_arguments, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_refuse_missing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_state, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refuse_not_ready, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_run_id_links, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflict_same_table, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_conflict_during_checks, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retry_other_table, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retry_bounded, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_processes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback_refusals, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
