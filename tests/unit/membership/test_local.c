/*
 * This file implements the unit tests of membership.h on the local:DIR
 * backend (membership/membership.c, membership/local.c): URIs and names,
 * tables, version allocation and records, readiness, refusals, the active
 * map with compare-and-set and history, load locks, members and liveness,
 * drain marks, the stored placement, change notification, and damaged
 * files. zk: URIs are checked for syntax here (and an unreachable server
 * for its bounded wait); the zk: backend itself is tested against a real
 * ZooKeeper by tests/integration/test_zk_membership.py. Several tests fork: processes that race on the
 * version counter and the active map, a load lock held by a child that
 * is killed with SIGKILL, and live records of processes that exited. Each
 * test works in a fresh temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "membership.h"
#include "test_tmpdir.h"

struct fixture {
    char dir[256];
    char uri[300];
    struct membership *m;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/larder-memb-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->uri, sizeof(f->uri), "local:%s/cluster", f->dir);
    char err[256];
    assert_int_equal(membership_open(f->uri, &f->m, err, sizeof(err)),
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

/* DIR/<rel> of the fixture's cluster directory. */
static void cluster_path(const struct fixture *f, char *out, size_t len,
                         const char *rel)
{
    snprintf(out, len, "%s/cluster/%s", f->dir, rel);
}

static int file_exists(const struct fixture *f, const char *rel)
{
    char path[PATH_MAX + 64];
    cluster_path(f, path, sizeof(path), rel);
    return access(path, F_OK) == 0;
}

static void write_file(const struct fixture *f, const char *rel,
                       const char *text)
{
    char path[PATH_MAX + 64];
    cluster_path(f, path, sizeof(path), rel);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs(text, fp);
    fclose(fp);
}

static struct membership *open_second(const struct fixture *f)
{
    struct membership *m = NULL;
    char err[256];
    assert_int_equal(membership_open(f->uri, &m, err, sizeof(err)), MEMB_OK);
    return m;
}

/* Waits for a child; returns its exit status, or 128 + signal. */
static int wait_child(pid_t pid)
{
    int status;
    while (waitpid(pid, &status, 0) < 0) {
        assert_int_equal(errno, EINTR);
    }
    if (WIFEXITED(status)) {
        return WEXITSTATUS(status);
    }
    return 128 + WTERMSIG(status);
}

/* ---- URIs and names ----------------------------------------------------- */

static void test_open_uri(void **state)
{
    struct fixture *f = *state;
    struct membership *m = NULL;
    char err[256] = "";

    assert_int_equal(membership_open("nope", &m, err, sizeof(err)),
                     MEMB_INVALID);
    assert_null(m);
    assert_non_null(strstr(err, "local:DIR"));
    assert_int_equal(membership_open("nfs://127.0.0.1/x", &m, err,
                                     sizeof(err)),
                     MEMB_INVALID);
    assert_non_null(strstr(err, "zk://"));

    /* zk: URIs are checked before any connection is tried. */
    static const char *const bad_zk[] = {
        "zk:127.0.0.1:2181/x",
        "zk://",
        "zk:///x",
        "zk://127.0.0.1:1/x?bogus=1",
        "zk://127.0.0.1:1/x?session_ms=5",
        "zk://127.0.0.1:1/x?wait_ms=abc",
        "zk://127.0.0.1:1/a//b",
        "zk://127.0.0.1:1/a/../b",
        "zk://127.0.0.1:1/x?auth=nocolon",
        "zk://127.0.0.1:1/x?cluster=a%2Fb",
        "zk://127.0.0.1:1/x?cluster",
        "zk://host name:1/x",
    };
    for (size_t i = 0; i < sizeof(bad_zk) / sizeof(bad_zk[0]); i++) {
        err[0] = '\0';
        assert_int_equal(membership_open(bad_zk[i], &m, err, sizeof(err)),
                         MEMB_INVALID);
        assert_null(m);
        assert_true(strlen(err) > 0);
    }
    /* Nothing listens on port 1: a bounded wait, then a clear error. */
    assert_int_equal(membership_open("zk://127.0.0.1:1/x?wait_ms=300", &m,
                                     err, sizeof(err)),
                     MEMB_ERR);
    assert_null(m);
    assert_non_null(strstr(err, "ZooKeeper unreachable"));
    assert_int_equal(membership_open("local:", &m, err, sizeof(err)),
                     MEMB_INVALID);
    assert_int_equal(membership_open(NULL, &m, err, sizeof(err)),
                     MEMB_INVALID);

    /* A missing directory is created, parents included. */
    char uri[600];
    snprintf(uri, sizeof(uri), "local:%s/a/b/c", f->dir);
    assert_int_equal(membership_open(uri, &m, err, sizeof(err)), MEMB_OK);
    assert_non_null(m);
    membership_close(&m);
    assert_null(m);
    membership_close(&m); /* closing NULL is a no-op */

    /* A regular file is not a directory. */
    char path[300];
    snprintf(path, sizeof(path), "%s/plain", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(uri, sizeof(uri), "local:%s", path);
    assert_int_not_equal(membership_open(uri, &m, err, sizeof(err)), MEMB_OK);
    assert_null(m);
    assert_true(strlen(err) > 0);
}

static void test_names(void **state)
{
    struct fixture *f = *state;
    char long_name[80];
    memset(long_name, 'a', sizeof(long_name));
    long_name[64] = '\0';
    assert_true(membership_valid_name(long_name));
    long_name[64] = 'a';
    long_name[65] = '\0';
    assert_false(membership_valid_name(long_name));
    assert_true(membership_valid_name("user_factors-v2.daily"));
    assert_true(membership_valid_name("A"));
    assert_false(membership_valid_name(""));
    assert_false(membership_valid_name(NULL));
    assert_false(membership_valid_name("."));
    assert_false(membership_valid_name(".."));
    assert_false(membership_valid_name("a/b"));
    assert_false(membership_valid_name("a b"));
    assert_false(membership_valid_name("caf\xc3\xa9"));

    /* Every entry point refuses a bad name before touching the disk. */
    struct membership *m = f->m;
    struct memb_table t = {.partitions = 4};
    snprintf(t.name, sizeof(t.name), "a/b");
    assert_int_equal(membership_table_put(m, &t), MEMB_INVALID);
    assert_non_null(strstr(membership_error(m), "a/b"));
    assert_int_equal(membership_table_get(m, "..", &t), MEMB_INVALID);
    uint64_t v;
    assert_int_equal(membership_version_alloc(m, "", &v), MEMB_INVALID);
    struct memb_version rec = {.version = 1};
    assert_int_equal(membership_version_put(m, "x y", &rec), MEMB_INVALID);
    assert_int_equal(membership_version_get(m, "x/y", 1, &rec), MEMB_INVALID);
    struct memb_version *list;
    size_t n;
    assert_int_equal(membership_version_list(m, "..", &list, &n),
                     MEMB_INVALID);
    uint32_t parts[1] = {0};
    assert_int_equal(membership_ready_set(m, "t", 1, "bad node", parts, 1),
                     MEMB_INVALID);
    assert_int_equal(membership_ready_count(m, "t/", 1, 1, parts),
                     MEMB_INVALID);
    assert_int_equal(membership_refusal_set(m, "t", 1, "../n", "r"),
                     MEMB_INVALID);
    char node[MEMB_FIELD_MAX], reason[MEMB_FIELD_MAX];
    assert_int_equal(membership_refusal_get(m, "", 1, node, reason),
                     MEMB_INVALID);
    struct memb_lock *lock = NULL;
    assert_int_equal(membership_lock(m, "../x", &lock), MEMB_INVALID);
    assert_null(lock);
    struct memb_member mem = {0};
    snprintf(mem.id, sizeof(mem.id), "n/1");
    assert_int_equal(membership_member_put(m, &mem), MEMB_INVALID);
    snprintf(mem.id, sizeof(mem.id), "n1");
    snprintf(mem.zone, sizeof(mem.zone), "zone a");
    assert_int_equal(membership_member_put(m, &mem), MEMB_INVALID);
    assert_int_equal(membership_member_remove(m, ".."), MEMB_INVALID);
    assert_int_equal(membership_live_set(m, "n1", "very-long-state-name"),
                     MEMB_INVALID);
    assert_int_equal(membership_live_set(m, "n1", ""), MEMB_INVALID);
    assert_int_equal(membership_live_set(m, "n 1", "ready"), MEMB_INVALID);
    assert_int_equal(membership_member_memory(m, "", 1, 1), MEMB_INVALID);
    struct memb_active_entry e = {.table = "a b", .version = 1};
    struct memb_active next = {.n = 1, .entries = &e};
    assert_int_equal(membership_active_cas(m, 0, &next), MEMB_INVALID);

    /* Version 0 is never a version. */
    assert_int_equal(membership_version_put(m, "t", &(struct memb_version){0}),
                     MEMB_INVALID);
    assert_int_equal(membership_version_get(m, "t", 0, &rec), MEMB_INVALID);
    assert_int_equal(membership_ready_set(m, "t", 0, "n", parts, 1),
                     MEMB_INVALID);

    /* Nothing was written by any of the refused calls. */
    assert_false(file_exists(f, "tables"));
    assert_false(file_exists(f, "members"));
    assert_false(file_exists(f, "active.json"));
}

static void test_status_names(void **state)
{
    (void)state;
    const char *seen[6];
    enum memb_status all[] = {MEMB_OK,      MEMB_NOTFOUND, MEMB_CONFLICT,
                              MEMB_BUSY,    MEMB_INVALID,  MEMB_ERR};
    for (size_t i = 0; i < 6; i++) {
        seen[i] = memb_status_name(all[i]);
        assert_non_null(seen[i]);
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(seen[i], seen[j]);
        }
    }
    assert_string_equal(memb_status_name(MEMB_NOTFOUND), "not found");
    assert_string_equal(memb_version_state_name(MEMB_V_STAGED), "staged");
    assert_string_equal(memb_version_state_name(MEMB_V_ACTIVE), "active");
    assert_string_equal(memb_version_state_name(MEMB_V_FAILED), "failed");
    assert_string_equal(memb_version_state_name(MEMB_V_RETIRED), "retired");
    assert_string_equal(memb_table_kind_name(MEMB_TABLE_BATCH), "batch");
    assert_string_equal(memb_table_kind_name(MEMB_TABLE_LIVE), "live");
}

/* ---- tables ------------------------------------------------------------- */

static void test_tables(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    struct memb_table t = {0}, got;

    assert_int_equal(membership_table_get(m, "users", &got), MEMB_NOTFOUND);
    assert_non_null(strstr(membership_error(m), "users"));

    const char *names[] = {"users", "items", "popular"};
    for (size_t i = 0; i < 3; i++) {
        memset(&t, 0, sizeof(t));
        snprintf(t.name, sizeof(t.name), "%s", names[i]);
        t.kind = i == 2 ? MEMB_TABLE_LIVE : MEMB_TABLE_BATCH;
        t.partitions = 256 + (uint32_t)i;
        t.replication = (uint32_t)i; /* 0 is "all" */
        t.max_age_s = 86400 * (i + 1);
        t.dims = i == 1 ? 64 : 0;
        snprintf(t.fallback_key, sizeof(t.fallback_key), "fb-%zu", i);
        assert_int_equal(membership_table_put(m, &t), MEMB_OK);
    }
    assert_true(file_exists(f, "tables/users/config.json"));

    assert_int_equal(membership_table_get(m, "items", &got), MEMB_OK);
    assert_string_equal(got.name, "items");
    assert_int_equal(got.kind, MEMB_TABLE_BATCH);
    assert_int_equal(got.partitions, 257);
    assert_int_equal(got.replication, 1);
    assert_int_equal(got.max_age_s, 2 * 86400);
    assert_int_equal(got.dims, 64);
    assert_string_equal(got.fallback_key, "fb-1");
    assert_int_equal(membership_table_get(m, "users", &got), MEMB_OK);
    assert_int_equal(got.replication, 0);
    assert_int_equal(membership_table_get(m, "popular", &got), MEMB_OK);
    assert_int_equal(got.kind, MEMB_TABLE_LIVE);

    /* Replace. */
    got.partitions = 16;
    got.fallback_key[0] = '\0';
    assert_int_equal(membership_table_put(m, &got), MEMB_OK);
    assert_int_equal(membership_table_get(m, "popular", &got), MEMB_OK);
    assert_int_equal(got.partitions, 16);
    assert_string_equal(got.fallback_key, "");

    /* A table with versions but no config is not listed. */
    uint64_t v;
    assert_int_equal(membership_version_alloc(m, "unconfigured", &v),
                     MEMB_OK);

    struct memb_table *list = NULL;
    size_t n = 0;
    assert_int_equal(membership_table_list(m, &list, &n), MEMB_OK);
    assert_int_equal(n, 3);
    assert_string_equal(list[0].name, "items");
    assert_string_equal(list[1].name, "popular");
    assert_string_equal(list[2].name, "users");
    assert_int_equal(list[1].partitions, 16);
    free(list);

    /* Zero partitions, an unknown kind: refused. */
    t.partitions = 0;
    assert_int_equal(membership_table_put(m, &t), MEMB_INVALID);
    t.partitions = 1;
    t.kind = (enum memb_table_kind)7;
    assert_int_equal(membership_table_put(m, &t), MEMB_INVALID);
}

static void test_table_list_empty(void **state)
{
    struct fixture *f = *state;
    struct memb_table *list = (struct memb_table *)&list;
    size_t n = 99;
    assert_int_equal(membership_table_list(f->m, &list, &n), MEMB_OK);
    assert_int_equal(n, 0);
    free(list);
}

/* ---- versions ----------------------------------------------------------- */

static void test_version_alloc(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    uint64_t v;
    for (uint64_t want = 1; want <= 3; want++) {
        assert_int_equal(membership_version_alloc(m, "users", &v), MEMB_OK);
        assert_int_equal(v, want);
    }
    /* Per table. */
    assert_int_equal(membership_version_alloc(m, "items", &v), MEMB_OK);
    assert_int_equal(v, 1);
    assert_true(file_exists(f, "tables/users/version-counter"));

    /* Never below a version that was recorded. */
    struct memb_version rec = {.version = 50, .partitions = 1};
    assert_int_equal(membership_version_put(m, "users", &rec), MEMB_OK);
    assert_int_equal(membership_version_alloc(m, "users", &v), MEMB_OK);
    assert_int_equal(v, 51);

    /* Another handle, later: continues. */
    struct membership *m2 = open_second(f);
    assert_int_equal(membership_version_alloc(m2, "users", &v), MEMB_OK);
    assert_int_equal(v, 52);
    membership_close(&m2);

    /* Never reused even if the record of the highest version is gone. */
    char path[PATH_MAX + 64];
    cluster_path(f, path, sizeof(path), "tables/users/versions/v-000050.json");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(membership_version_alloc(m, "users", &v), MEMB_OK);
    assert_int_equal(v, 53);

    /* A damaged counter is an error, not a restart at 1. */
    write_file(f, "tables/items/version-counter", "seven\n");
    assert_int_equal(membership_version_alloc(m, "items", &v), MEMB_ERR);
    assert_non_null(strstr(membership_error(m), "version-counter"));
}

static struct memb_version make_version(uint64_t version,
                                        enum memb_version_state state)
{
    struct memb_version v = {0};
    v.version = version;
    v.state = state;
    snprintf(v.manifest_uri, sizeof(v.manifest_uri),
             "file:///store/users/v-%06" PRIu64 "/manifest.json", version);
    v.manifest_checksum = 0xfedcba9876543210ULL; /* above INT64_MAX */
    v.rows = 1000 * version;
    v.bytes = UINT64_MAX - version; /* above INT64_MAX */
    v.partitions = 8;
    v.format = 1;
    snprintf(v.run_id, sizeof(v.run_id), "run-%" PRIu64, version);
    snprintf(v.push_id, sizeof(v.push_id), "push-%" PRIu64, version);
    v.created_ms = 1700000000000LL + (int64_t)version;
    v.activated_ms = v.created_ms + 60000;
    return v;
}

static void assert_version_equal(const struct memb_version *a,
                                 const struct memb_version *b)
{
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->state, b->state);
    assert_string_equal(a->manifest_uri, b->manifest_uri);
    assert_true(a->manifest_checksum == b->manifest_checksum);
    assert_true(a->rows == b->rows);
    assert_true(a->bytes == b->bytes);
    assert_int_equal(a->partitions, b->partitions);
    assert_int_equal(a->format, b->format);
    assert_string_equal(a->run_id, b->run_id);
    assert_string_equal(a->push_id, b->push_id);
    assert_true(a->created_ms == b->created_ms);
    assert_true(a->activated_ms == b->activated_ms);
}

static void test_versions(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    struct memb_version got;
    struct memb_version *list = NULL;
    size_t n = 0;

    assert_int_equal(membership_version_list(m, "users", &list, &n),
                     MEMB_NOTFOUND);
    assert_int_equal(membership_version_get(m, "users", 1, &got),
                     MEMB_NOTFOUND);
    assert_non_null(strstr(membership_error(m), "users=1"));

    uint64_t numbers[] = {20, 3, 1000000, 7};
    for (size_t i = 0; i < 4; i++) {
        struct memb_version v = make_version(numbers[i], MEMB_V_STAGED);
        assert_int_equal(membership_version_put(m, "users", &v), MEMB_OK);
    }
    assert_true(file_exists(f, "tables/users/versions/v-000020.json"));
    assert_true(file_exists(f, "tables/users/versions/v-1000000.json"));

    struct memb_version want = make_version(1000000, MEMB_V_STAGED);
    assert_int_equal(membership_version_get(m, "users", 1000000, &got),
                     MEMB_OK);
    assert_version_equal(&got, &want);
    assert_int_equal(membership_version_get(m, "users", 4, &got),
                     MEMB_NOTFOUND);

    /* Ascending by number, not by file name. */
    assert_int_equal(membership_version_list(m, "users", &list, &n), MEMB_OK);
    assert_int_equal(n, 4);
    assert_int_equal(list[0].version, 3);
    assert_int_equal(list[1].version, 7);
    assert_int_equal(list[2].version, 20);
    assert_int_equal(list[3].version, 1000000);
    want = make_version(7, MEMB_V_STAGED);
    assert_version_equal(&list[1], &want);
    free(list);

    /* Replace: the state changes, nothing else. */
    want = make_version(20, MEMB_V_FAILED);
    assert_int_equal(membership_version_put(m, "users", &want), MEMB_OK);
    assert_int_equal(membership_version_get(m, "users", 20, &got), MEMB_OK);
    assert_version_equal(&got, &want);

    /* Retired after it was active: the activation time stays; never
     * activated is 0. */
    want = make_version(20, MEMB_V_RETIRED);
    assert_int_equal(membership_version_put(m, "users", &want), MEMB_OK);
    assert_int_equal(membership_version_get(m, "users", 20, &got), MEMB_OK);
    assert_version_equal(&got, &want);
    want.activated_ms = 0;
    assert_int_equal(membership_version_put(m, "users", &want), MEMB_OK);
    assert_int_equal(membership_version_get(m, "users", 20, &got), MEMB_OK);
    assert_version_equal(&got, &want);

    /* A record written before activated_ms existed reads it as 0. */
    write_file(f, "tables/users/versions/v-000040.json",
               "{\"version\": 40, \"state\": \"retired\", "
               "\"push_id\": \"push-40\", \"created_ms\": 1700000000040}");
    assert_int_equal(membership_version_get(m, "users", 40, &got), MEMB_OK);
    assert_int_equal(got.state, MEMB_V_RETIRED);
    assert_string_equal(got.push_id, "push-40");
    assert_true(got.created_ms == 1700000000040LL);
    assert_true(got.activated_ms == 0);

    /* A table that only allocated a number lists no versions. */
    uint64_t v;
    assert_int_equal(membership_version_alloc(m, "items", &v), MEMB_OK);
    assert_int_equal(membership_version_list(m, "items", &list, &n), MEMB_OK);
    assert_int_equal(n, 0);
    free(list);

    /* Bad records are refused. */
    struct memb_version bad = make_version(30, MEMB_V_STAGED);
    bad.state = (enum memb_version_state)9;
    assert_int_equal(membership_version_put(m, "users", &bad), MEMB_INVALID);
    bad = make_version(30, MEMB_V_STAGED);
    memset(bad.run_id, 'r', sizeof(bad.run_id)); /* no NUL */
    assert_int_equal(membership_version_put(m, "users", &bad), MEMB_INVALID);
    bad = make_version(30, MEMB_V_STAGED);
    snprintf(bad.push_id, sizeof(bad.push_id), "\xff\xfe");
    assert_int_equal(membership_version_put(m, "users", &bad), MEMB_INVALID);
    assert_non_null(strstr(membership_error(m), "UTF-8"));
    assert_int_equal(membership_version_get(m, "users", 30, &got),
                     MEMB_NOTFOUND);
}

/* ---- readiness and refusals --------------------------------------------- */

static void count(struct membership *m, const char *table, uint64_t version,
                  uint32_t npartitions, uint32_t *counts)
{
    for (uint32_t i = 0; i < npartitions; i++) {
        counts[i] = 77; /* must be overwritten */
    }
    assert_int_equal(membership_ready_count(m, table, version, npartitions,
                                            counts),
                     MEMB_OK);
}

static void test_ready(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    uint32_t c[4];

    count(m, "users", 1, 4, c);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c[i], 0);
    }

    uint32_t n1[] = {3, 0, 1, 1, 7}; /* unsorted, a duplicate, out of range */
    uint32_t n2[] = {1, 2};
    assert_int_equal(membership_ready_set(m, "users", 1, "n1", n1, 5),
                     MEMB_OK);
    assert_int_equal(membership_ready_set(m, "users", 1, "n2", n2, 2),
                     MEMB_OK);
    assert_true(file_exists(f, "ready/users/v-000001/n1.json"));
    count(m, "users", 1, 4, c);
    assert_int_equal(c[0], 1);
    assert_int_equal(c[1], 2);
    assert_int_equal(c[2], 1);
    assert_int_equal(c[3], 1);

    /* Another version, another table: separate. */
    count(m, "users", 2, 4, c);
    assert_int_equal(c[1], 0);
    count(m, "items", 1, 4, c);
    assert_int_equal(c[1], 0);

    /* Replace, then remove. */
    uint32_t only2[] = {2};
    assert_int_equal(membership_ready_set(m, "users", 1, "n1", only2, 1),
                     MEMB_OK);
    count(m, "users", 1, 4, c);
    assert_int_equal(c[0], 0);
    assert_int_equal(c[1], 1);
    assert_int_equal(c[2], 2);
    assert_int_equal(c[3], 0);
    assert_int_equal(membership_ready_set(m, "users", 1, "n1", NULL, 0),
                     MEMB_OK);
    assert_false(file_exists(f, "ready/users/v-000001/n1.json"));
    assert_int_equal(membership_ready_set(m, "users", 1, "n1", NULL, 0),
                     MEMB_OK);
    count(m, "users", 1, 4, c);
    assert_int_equal(c[2], 1);

    /* A node whose process is gone is not counted; a live one is. */
    assert_int_equal(membership_live_set(m, "n2", "ready"), MEMB_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct membership *cm = NULL;
        char err[256];
        uint32_t all[] = {0, 1, 2, 3};
        int ok = membership_open(f->uri, &cm, err, sizeof(err)) == MEMB_OK &&
                 membership_live_set(cm, "n3", "ready") == MEMB_OK &&
                 membership_ready_set(cm, "users", 1, "n3", all, 4) == MEMB_OK;
        membership_close(&cm);
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(wait_child(pid), 0);
    assert_true(file_exists(f, "ready/users/v-000001/n3.json"));
    count(m, "users", 1, 4, c);
    assert_int_equal(c[0], 0);
    assert_int_equal(c[1], 1);
    assert_int_equal(c[2], 1);
    /* Once n3 is live again (in this process), it counts. */
    assert_int_equal(membership_live_set(m, "n3", "ready"), MEMB_OK);
    count(m, "users", 1, 4, c);
    assert_int_equal(c[0], 1);
    assert_int_equal(c[2], 2);
}

static void test_refusals(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    char node[MEMB_FIELD_MAX], reason[MEMB_FIELD_MAX];

    assert_int_equal(membership_refusal_get(m, "users", 4, node, reason),
                     MEMB_NOTFOUND);
    assert_int_equal(membership_refusal_set(m, "users", 4, "n2",
                                            "needs 2.1 GiB, has 1.0 GiB"),
                     MEMB_OK);
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL); /* a later created_ms */
    assert_int_equal(membership_refusal_set(m, "users", 4, "n1", "disk full"),
                     MEMB_OK);
    assert_int_equal(membership_refusal_get(m, "users", 4, node, reason),
                     MEMB_OK);
    assert_string_equal(node, "n2");
    assert_string_equal(reason, "needs 2.1 GiB, has 1.0 GiB");
    assert_int_equal(membership_refusal_get(m, "users", 5, node, reason),
                     MEMB_NOTFOUND);

    /* A long reason is cut, at a character boundary, not refused. */
    char longer[1000] = "";
    for (int i = 0; i < 400; i++) {
        strcat(longer, "\xc3\xa9"); /* é */
    }
    assert_int_equal(membership_refusal_set(m, "items", 1, "n1", longer),
                     MEMB_OK);
    assert_int_equal(membership_refusal_get(m, "items", 1, node, reason),
                     MEMB_OK);
    assert_int_equal(strlen(reason), MEMB_FIELD_MAX - 1 - 1);
    assert_int_equal(strncmp(reason, longer, strlen(reason)), 0);
}

/* ---- the active map ----------------------------------------------------- */

static void test_active_cas_history(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    struct memb_active a;

    assert_int_equal(membership_active_get(m, &a), MEMB_OK);
    assert_int_equal(a.generation, 0);
    assert_int_equal(a.n, 0);
    membership_active_free(&a);

    struct memb_active_entry e1[] = {{"users", 3}, {"items", 2}};
    struct memb_active next = {.n = 2, .entries = e1};
    assert_int_equal(membership_active_cas(m, 1, &next), MEMB_CONFLICT);
    assert_false(file_exists(f, "active.json"));
    assert_int_equal(membership_active_cas(m, 0, &next), MEMB_OK);
    assert_int_equal(next.generation, 1);
    assert_true(next.changed_ms > 0);
    assert_string_equal(e1[0].table, "items"); /* sorted in place */
    assert_true(file_exists(f, "active.json"));

    assert_int_equal(membership_active_get(m, &a), MEMB_OK);
    assert_int_equal(a.generation, 1);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.entries[0].table, "items");
    assert_int_equal(a.entries[0].version, 2);
    assert_string_equal(a.entries[1].table, "users");
    assert_int_equal(a.entries[1].version, 3);
    assert_int_equal(membership_active_version(&a, "users"), 3);
    assert_int_equal(membership_active_version(&a, "nope"), 0);
    membership_active_free(&a);
    assert_null(a.entries);

    /* A stale expectation loses and changes nothing. */
    struct memb_active_entry e2[] = {{"users", 4}};
    next = (struct memb_active){.n = 1, .entries = e2};
    assert_int_equal(membership_active_cas(m, 0, &next), MEMB_CONFLICT);
    assert_non_null(strstr(membership_error(m), "generation 1"));
    assert_int_equal(membership_active_cas(m, 1, &next), MEMB_OK);
    assert_int_equal(next.generation, 2);
    struct memb_active_entry e3[] = {{"users", 5}, {"ranks", 1}};
    next = (struct memb_active){.n = 2, .entries = e3};
    assert_int_equal(membership_active_cas(m, 2, &next), MEMB_OK);
    assert_int_equal(next.generation, 3);
    next = (struct memb_active){0}; /* the empty map is a map too */
    assert_int_equal(membership_active_cas(m, 3, &next), MEMB_OK);
    assert_int_equal(next.generation, 4);

    /* Every generation is kept. */
    assert_true(file_exists(f, "active-history/g-00000001.json"));
    assert_true(file_exists(f, "active-history/g-00000003.json"));
    assert_int_equal(membership_active_get_generation(m, 1, &a), MEMB_OK);
    assert_int_equal(a.generation, 1);
    assert_int_equal(a.n, 2);
    assert_int_equal(membership_active_version(&a, "items"), 2);
    membership_active_free(&a);
    assert_int_equal(membership_active_get_generation(m, 2, &a), MEMB_OK);
    assert_int_equal(a.n, 1);
    assert_int_equal(membership_active_version(&a, "users"), 4);
    membership_active_free(&a);
    assert_int_equal(membership_active_get_generation(m, 3, &a), MEMB_OK);
    assert_int_equal(a.n, 2);
    assert_string_equal(a.entries[0].table, "ranks");
    membership_active_free(&a);
    assert_int_equal(membership_active_get_generation(m, 4, &a), MEMB_OK);
    assert_int_equal(a.generation, 4);
    assert_int_equal(a.n, 0);
    membership_active_free(&a);
    assert_int_equal(membership_active_get_generation(m, 0, &a), MEMB_OK);
    assert_int_equal(a.n, 0);
    assert_int_equal(membership_active_get_generation(m, 5, &a),
                     MEMB_NOTFOUND);
    char path[PATH_MAX + 64];
    cluster_path(f, path, sizeof(path), "active-history/g-00000002.json");
    assert_int_equal(unlink(path), 0);
    assert_int_equal(membership_active_get_generation(m, 2, &a),
                     MEMB_NOTFOUND);

    /* A table twice or version 0: refused. */
    struct memb_active_entry dup[] = {{"a", 1}, {"b", 1}, {"a", 2}};
    next = (struct memb_active){.n = 3, .entries = dup};
    assert_int_equal(membership_active_cas(m, 4, &next), MEMB_INVALID);
    assert_non_null(strstr(membership_error(m), "twice"));
    struct memb_active_entry zero[] = {{"a", 0}};
    next = (struct memb_active){.n = 1, .entries = zero};
    assert_int_equal(membership_active_cas(m, 4, &next), MEMB_INVALID);
    assert_int_equal(membership_active_get(m, &a), MEMB_OK);
    assert_int_equal(a.generation, 4);
}

enum { CAS_CHILDREN = 4, CAS_EACH = 25 };

/* A child's loop: CAS_EACH successful increments of its own table. */
static int cas_child(const char *uri, int id)
{
    struct membership *m = NULL;
    char err[256];
    if (membership_open(uri, &m, err, sizeof(err)) != MEMB_OK) {
        return 2;
    }
    char table[MEMB_NAME_MAX];
    snprintf(table, sizeof(table), "child%d", id);
    int done = 0;
    while (done < CAS_EACH) {
        struct memb_active cur;
        if (membership_active_get(m, &cur) != MEMB_OK) {
            return 3;
        }
        struct memb_active next = {0};
        next.entries = calloc(cur.n + 1, sizeof(*next.entries));
        if (next.entries == NULL) {
            return 4;
        }
        for (size_t i = 0; i < cur.n; i++) {
            next.entries[next.n++] = cur.entries[i];
        }
        uint64_t mine = membership_active_version(&cur, table);
        if (mine == 0) {
            snprintf(next.entries[next.n].table, MEMB_NAME_MAX, "%s", table);
            next.entries[next.n++].version = 1;
        } else {
            for (size_t i = 0; i < next.n; i++) {
                if (strcmp(next.entries[i].table, table) == 0) {
                    next.entries[i].version = mine + 1;
                }
            }
        }
        enum memb_status st = membership_active_cas(m, cur.generation, &next);
        if (st == MEMB_OK) {
            done++;
        } else if (st != MEMB_CONFLICT) {
            return 5;
        }
        membership_active_free(&next);
        membership_active_free(&cur);
    }
    membership_close(&m);
    return 0;
}

static void test_active_cas_processes(void **state)
{
    struct fixture *f = *state;
    pid_t pids[CAS_CHILDREN];
    for (int i = 0; i < CAS_CHILDREN; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            _exit(cas_child(f->uri, i));
        }
    }
    for (int i = 0; i < CAS_CHILDREN; i++) {
        assert_int_equal(wait_child(pids[i]), 0);
    }
    /* No lost update: one generation per success. */
    struct memb_active a;
    assert_int_equal(membership_active_get(f->m, &a), MEMB_OK);
    assert_int_equal(a.generation, CAS_CHILDREN * CAS_EACH);
    assert_int_equal(a.n, CAS_CHILDREN);
    for (size_t i = 0; i < a.n; i++) {
        assert_int_equal(a.entries[i].version, CAS_EACH);
    }
    membership_active_free(&a);
    /* Each generation's map grows one table's version by one. */
    uint64_t total_prev = 0;
    for (uint64_t g = 1; g < CAS_CHILDREN * CAS_EACH; g++) {
        assert_int_equal(membership_active_get_generation(f->m, g, &a),
                         MEMB_OK);
        assert_int_equal(a.generation, g);
        uint64_t total = 0;
        for (size_t i = 0; i < a.n; i++) {
            total += a.entries[i].version;
        }
        assert_int_equal(total, total_prev + 1);
        total_prev = total;
        membership_active_free(&a);
    }
}

enum { ALLOC_CHILDREN = 4, ALLOC_EACH = 25 };

static void test_version_alloc_processes(void **state)
{
    struct fixture *f = *state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pids[ALLOC_CHILDREN];
    for (int i = 0; i < ALLOC_CHILDREN; i++) {
        pids[i] = fork();
        assert_true(pids[i] >= 0);
        if (pids[i] == 0) {
            close(fds[0]);
            struct membership *m = NULL;
            char err[256];
            if (membership_open(f->uri, &m, err, sizeof(err)) != MEMB_OK) {
                _exit(2);
            }
            uint64_t got[ALLOC_EACH];
            for (int k = 0; k < ALLOC_EACH; k++) {
                if (membership_version_alloc(m, "users", &got[k]) != MEMB_OK) {
                    _exit(3);
                }
                if (k > 0 && got[k] <= got[k - 1]) {
                    _exit(4); /* not monotonic within a process */
                }
            }
            membership_close(&m);
            /* One write below PIPE_BUF is atomic. */
            if (write(fds[1], got, sizeof(got)) != (ssize_t)sizeof(got)) {
                _exit(5);
            }
            _exit(0);
        }
    }
    close(fds[1]);
    for (int i = 0; i < ALLOC_CHILDREN; i++) {
        assert_int_equal(wait_child(pids[i]), 0);
    }
    uint64_t all[ALLOC_CHILDREN * ALLOC_EACH];
    size_t have = 0;
    while (have < sizeof(all)) {
        ssize_t r = read(fds[0], (char *)all + have, sizeof(all) - have);
        assert_true(r > 0);
        have += (size_t)r;
    }
    close(fds[0]);
    /* Distinct, and together exactly 1..N: nothing skipped or repeated. */
    int seen[ALLOC_CHILDREN * ALLOC_EACH + 1] = {0};
    for (size_t i = 0; i < ALLOC_CHILDREN * ALLOC_EACH; i++) {
        assert_in_range(all[i], 1, ALLOC_CHILDREN * ALLOC_EACH);
        assert_int_equal(seen[all[i]], 0);
        seen[all[i]] = 1;
    }
    uint64_t v;
    assert_int_equal(membership_version_alloc(f->m, "users", &v), MEMB_OK);
    assert_int_equal(v, ALLOC_CHILDREN * ALLOC_EACH + 1);
}

/* ---- load locks -------------------------------------------------------- */

static void test_lock_in_process(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    struct membership *m2 = open_second(f);
    struct memb_lock *a = NULL, *b = NULL, *c = NULL, *d = NULL;

    assert_int_equal(membership_lock(m, "users", &a), MEMB_OK);
    assert_non_null(a);
    assert_true(file_exists(f, "locks/users.lock"));
    assert_int_equal(membership_lock(m2, "users", &b), MEMB_BUSY);
    assert_null(b);
    char pid[32];
    snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
    assert_non_null(strstr(membership_error(m2), pid));
    /* The same handle cannot take it twice either. */
    assert_int_equal(membership_lock(m, "users", &b), MEMB_BUSY);
    assert_int_equal(membership_lock_check(m, a), MEMB_OK);
    assert_int_equal(membership_lock_check(m2, a), MEMB_INVALID);
    assert_int_equal(membership_lock_check(m, NULL), MEMB_INVALID);
    /* Other tables are independent. */
    assert_int_equal(membership_lock(m2, "items", &c), MEMB_OK);

    membership_unlock(&a);
    assert_null(a);
    membership_unlock(&a); /* NULL: no-op */
    membership_unlock(NULL);
    assert_int_equal(membership_lock(m2, "users", &b), MEMB_OK);

    /* Closing a handle releases its locks; unlock still frees them. */
    assert_int_equal(membership_lock(m, "items", &a), MEMB_BUSY);
    membership_close(&m2);
    assert_int_equal(membership_lock(m, "items", &a), MEMB_OK);
    assert_int_equal(membership_lock(m, "users", &d), MEMB_OK);
    membership_unlock(&b);
    membership_unlock(&c);
    assert_null(b);
    assert_null(c);
    membership_unlock(&d);
    membership_unlock(&a);
}

static void test_lock_processes(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    struct memb_lock *lock = NULL;

    /* Held here: a child is refused. */
    assert_int_equal(membership_lock(m, "users", &lock), MEMB_OK);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct membership *cm = NULL;
        struct memb_lock *cl = NULL;
        char err[256];
        if (membership_open(f->uri, &cm, err, sizeof(err)) != MEMB_OK) {
            _exit(2);
        }
        _exit(membership_lock(cm, "users", &cl) == MEMB_BUSY ? 0 : 1);
    }
    assert_int_equal(wait_child(pid), 0);
    membership_unlock(&lock);

    /* Held by a child: refused here until the child is killed. */
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        struct membership *cm = NULL;
        struct memb_lock *cl = NULL;
        char err[256];
        char ok = membership_open(f->uri, &cm, err, sizeof(err)) == MEMB_OK &&
                          membership_lock(cm, "users", &cl) == MEMB_OK
                      ? 'y'
                      : 'n';
        if (write(ready[1], &ok, 1) != 1) {
            _exit(2);
        }
        for (;;) {
            pause();
        }
    }
    close(ready[1]);
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    close(ready[0]);
    assert_int_equal(ok, 'y');
    assert_int_equal(membership_lock(m, "users", &lock), MEMB_BUSY);
    char pidtext[32];
    snprintf(pidtext, sizeof(pidtext), "pid %ld", (long)pid);
    assert_non_null(strstr(membership_error(m), pidtext));
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(wait_child(pid), 128 + SIGKILL);
    assert_int_equal(membership_lock(m, "users", &lock), MEMB_OK);
    membership_unlock(&lock);
}

/* ---- members ------------------------------------------------------------ */

static void test_members(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    struct memb_member *list = NULL;
    size_t n = 0;

    assert_int_equal(membership_member_list(m, &list, &n), MEMB_OK);
    assert_int_equal(n, 0);
    free(list);

    struct memb_member a = {.id = "node-b", .addr = "10.0.0.2:6380",
                            .zone = "z1", .capacity = 0};
    struct memb_member b = {.id = "node-a", .addr = "10.0.0.1:6380",
                            .capacity = 200, .batch_memory = 1 << 30};
    assert_int_equal(membership_member_put(m, &a), MEMB_OK);
    assert_int_equal(membership_member_put(m, &b), MEMB_OK);
    assert_true(file_exists(f, "members/node-a.json"));

    assert_int_equal(membership_member_list(m, &list, &n), MEMB_OK);
    assert_int_equal(n, 2);
    assert_string_equal(list[0].id, "node-a");
    assert_string_equal(list[0].addr, "10.0.0.1:6380");
    assert_string_equal(list[0].zone, "");
    assert_int_equal(list[0].capacity, 200);
    assert_int_equal(list[0].batch_memory, 1 << 30);
    assert_int_equal(list[0].live, 0);
    assert_string_equal(list[0].state, "");
    assert_string_equal(list[1].id, "node-b");
    assert_string_equal(list[1].zone, "z1");
    assert_int_equal(list[1].capacity, 100); /* the default */
    free(list);

    /* Live while this process runs. */
    assert_int_equal(membership_live_set(m, "node-a", "joining"), MEMB_OK);
    assert_int_equal(membership_live_set(m, "node-a", "ready"), MEMB_OK);
    assert_true(file_exists(f, "live/node-a.json"));
    assert_int_equal(membership_member_memory(m, "node-a", 4096, 1024),
                     MEMB_OK);
    assert_int_equal(membership_member_list(m, &list, &n), MEMB_OK);
    assert_int_equal(list[0].live, 1);
    assert_string_equal(list[0].state, "ready");
    assert_int_equal(list[0].batch_memory, 4096);
    assert_int_equal(list[0].batch_used, 1024);
    assert_string_equal(list[0].addr, "10.0.0.1:6380"); /* kept */
    assert_int_equal(list[1].live, 0);
    free(list);

    /* Live only while the process that said so exists. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct membership *cm = NULL;
        char err[256];
        int ok = membership_open(f->uri, &cm, err, sizeof(err)) == MEMB_OK &&
                 membership_live_set(cm, "node-b", "ready") == MEMB_OK;
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(wait_child(pid), 0);
    assert_true(file_exists(f, "live/node-b.json"));
    assert_int_equal(membership_member_list(m, &list, &n), MEMB_OK);
    assert_int_equal(list[1].live, 0);
    assert_string_equal(list[1].state, "");
    free(list);

    /* A live record naming this pid with another start time is stale. */
    char text[256];
    snprintf(text, sizeof(text),
             "{\"id\":\"node-b\",\"pid\":%ld,\"start_ticks\":1,"
             "\"state\":\"ready\"}\n",
             (long)getpid());
    write_file(f, "live/node-b.json", text);
    assert_int_equal(membership_member_list(m, &list, &n), MEMB_OK);
    assert_int_equal(list[1].live, 0);
    free(list);

    assert_int_equal(membership_member_memory(m, "node-c", 1, 1),
                     MEMB_NOTFOUND);
    assert_int_equal(membership_member_remove(m, "node-c"), MEMB_NOTFOUND);
    assert_int_equal(membership_member_remove(m, "node-a"), MEMB_OK);
    assert_false(file_exists(f, "live/node-a.json"));
    assert_int_equal(membership_member_list(m, &list, &n), MEMB_OK);
    assert_int_equal(n, 1);
    assert_string_equal(list[0].id, "node-b");
    free(list);
}

/* ---- drain marks, placement and change notification --------------------- */

static void test_drain(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    struct memb_member *list = NULL;
    size_t n = 0;

    assert_int_equal(membership_drain_set(m, "node-a", true), MEMB_NOTFOUND);
    assert_int_equal(membership_drain_set(m, "node-a", false), MEMB_OK);
    assert_int_equal(membership_drain_set(m, "bad/id", true), MEMB_INVALID);
    struct memb_member a = {.id = "node-a", .addr = "10.0.0.1:6380"};
    assert_int_equal(membership_member_put(m, &a), MEMB_OK);
    assert_int_equal(membership_drain_set(m, "node-a", true), MEMB_OK);
    assert_int_equal(membership_drain_set(m, "node-a", true), MEMB_OK);
    assert_true(file_exists(f, "drain/node-a.json"));
    assert_int_equal(membership_member_list(m, &list, &n), MEMB_OK);
    assert_int_equal(n, 1);
    assert_int_equal(list[0].draining, 1);
    free(list);
    assert_int_equal(membership_drain_set(m, "node-a", false), MEMB_OK);
    assert_int_equal(membership_member_list(m, &list, &n), MEMB_OK);
    assert_int_equal(list[0].draining, 0);
    free(list);
    /* Removing the member clears its mark. */
    assert_int_equal(membership_drain_set(m, "node-a", true), MEMB_OK);
    assert_int_equal(membership_member_remove(m, "node-a"), MEMB_OK);
    assert_false(file_exists(f, "drain/node-a.json"));
}

static void test_placement(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    struct membership *m2 = open_second(f);
    char *json = (char *)"x";
    uint64_t cas = 99;

    assert_int_equal(membership_placement_get(m, &json, &cas), MEMB_NOTFOUND);
    assert_null(json);
    assert_int_equal(cas, 0);
    assert_int_equal(membership_placement_cas(m, 1, "{}"), MEMB_CONFLICT);
    assert_int_equal(membership_placement_cas(m, 0, "[1]"), MEMB_INVALID);
    assert_int_equal(membership_placement_cas(m, 0, "{\"a\":"), MEMB_INVALID);
    assert_int_equal(membership_placement_cas(m, 0, NULL), MEMB_INVALID);
    assert_int_equal(
        membership_placement_cas(m, 0, "{ \"generation\": 1, \"current\": "
                                       "{\"t\": [[\"a\"]]}, \"b\": 2.5 }"),
        MEMB_OK);
    assert_int_equal(membership_placement_get(m2, &json, &cas), MEMB_OK);
    assert_string_equal(json,
                        "{\"b\":2.5,\"current\":{\"t\":[[\"a\"]]},"
                        "\"generation\":1}");
    assert_int_equal(cas, 1);
    free(json);
    /* Two writers from token 1: one wins. */
    assert_int_equal(membership_placement_cas(m2, 1, "{\"generation\":2}"),
                     MEMB_OK);
    assert_int_equal(membership_placement_cas(m, 1, "{\"generation\":3}"),
                     MEMB_CONFLICT);
    assert_int_equal(membership_placement_get(m, &json, &cas), MEMB_OK);
    assert_string_equal(json, "{\"generation\":2}");
    assert_int_equal(cas, 2);
    free(json);
    membership_close(&m2);
}

static void test_wait_change(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    struct membership *m2 = open_second(f);
    bool changed = true;

    /* Nothing happened since open. */
    assert_int_equal(membership_wait_change(m, 0, &changed), MEMB_OK);
    assert_false(changed);
    assert_int_equal(membership_wait_change(m, -1, &changed), MEMB_INVALID);

    /* Each watched kind of record wakes it. */
    struct memb_table t = {.name = "users", .partitions = 4};
    struct memb_member a = {.id = "node-a", .addr = "10.0.0.1:6380"};
    struct memb_active_entry e = {.table = "users", .version = 1};
    struct memb_active next = {.n = 1, .entries = &e};
    uint64_t v;
    for (int step = 0; step < 7; step++) {
        enum memb_status st = MEMB_OK;
        switch (step) {
        case 0:
            st = membership_table_put(m2, &t);
            break;
        case 1:
            st = membership_version_alloc(m2, "users", &v);
            if (st == MEMB_OK) {
                struct memb_version rec = {.version = v, .partitions = 4};
                st = membership_version_put(m2, "users", &rec);
            }
            break;
        case 2:
            st = membership_member_put(m2, &a);
            break;
        case 3:
            st = membership_live_set(m2, "node-a", "ready");
            break;
        case 4:
            st = membership_drain_set(m2, "node-a", true);
            break;
        case 5:
            st = membership_active_cas(m2, 0, &next);
            break;
        default:
            st = membership_placement_cas(m2, 0, "{}");
            break;
        }
        assert_int_equal(st, MEMB_OK);
        changed = false;
        assert_int_equal(membership_wait_change(m, 2000, &changed), MEMB_OK);
        assert_true(changed);
        assert_int_equal(membership_wait_change(m, 0, &changed), MEMB_OK);
        assert_false(changed);
    }

    /* Readiness does not count; a timeout returns unchanged. */
    uint32_t parts[] = {0, 1};
    assert_int_equal(membership_ready_set(m2, "users", 1, "node-a", parts, 2),
                     MEMB_OK);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    assert_int_equal(membership_wait_change(m, 250, &changed), MEMB_OK);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    assert_false(changed);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
              (t1.tv_nsec - t0.tv_nsec) / 1000000;
    assert_true(ms >= 240);

    /* A live process that dies is a change. */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct membership *cm = NULL;
        char err[256];
        int ok = membership_open(f->uri, &cm, err, sizeof(err)) == MEMB_OK &&
                 membership_live_set(cm, "node-b", "ready") == MEMB_OK;
        _exit(ok ? 0 : 1);
    }
    assert_int_equal(wait_child(pid), 0);
    assert_int_equal(membership_wait_change(m, 2000, &changed), MEMB_OK);
    assert_true(changed);
    membership_close(&m2);
}

/* ---- damaged files ------------------------------------------------------ */

static void test_damaged_files(void **state)
{
    struct fixture *f = *state;
    struct membership *m = f->m;
    struct memb_table t = {.name = "users", .partitions = 4};
    assert_int_equal(membership_table_put(m, &t), MEMB_OK);

    write_file(f, "active.json", "{\"generation\": 3, \"tables\": ");
    struct memb_active a;
    assert_int_equal(membership_active_get(m, &a), MEMB_ERR);
    assert_non_null(strstr(membership_error(m), "active.json"));
    struct memb_active next = {0};
    assert_int_equal(membership_active_cas(m, 3, &next), MEMB_ERR);
    write_file(f, "active.json",
               "{\"generation\": 3, \"tables\": {\"a/b\": 1}}");
    assert_int_equal(membership_active_get(m, &a), MEMB_ERR);
    assert_non_null(strstr(membership_error(m), "tables"));
    write_file(f, "active.json", "{\"generation\": 3, \"tables\": {\"a\": 0}}");
    assert_int_equal(membership_active_get(m, &a), MEMB_ERR);

    write_file(f, "tables/users/config.json", "[1, 2]");
    assert_int_equal(membership_table_get(m, "users", &t), MEMB_ERR);
    struct memb_table *list = NULL;
    size_t n = 0;
    assert_int_equal(membership_table_list(m, &list, &n), MEMB_ERR);
    assert_null(list);
    write_file(f, "tables/users/config.json",
               "{\"name\": \"users\", \"kind\": \"weird\", \"partitions\": 4}");
    assert_int_equal(membership_table_get(m, "users", &t), MEMB_ERR);
    assert_non_null(strstr(membership_error(m), "kind"));

    struct memb_version v = make_version(2, MEMB_V_STAGED);
    assert_int_equal(membership_version_put(m, "users", &v), MEMB_OK);
    write_file(f, "tables/users/versions/v-000002.json",
               "{\"version\": 2, \"state\": \"staged\", \"rows\": -1}");
    assert_int_equal(membership_version_get(m, "users", 2, &v), MEMB_ERR);
    assert_non_null(strstr(membership_error(m), "rows"));
    write_file(f, "tables/users/versions/v-000002.json",
               "{\"version\": 3, \"state\": \"staged\"}");
    assert_int_equal(membership_version_get(m, "users", 2, &v), MEMB_ERR);
    write_file(f, "tables/users/versions/v-000002.json",
               "{\"version\": 2, \"state\": \"retired\", "
               "\"activated_ms\": \"yes\"}");
    assert_int_equal(membership_version_get(m, "users", 2, &v), MEMB_ERR);
    assert_non_null(strstr(membership_error(m), "activated_ms"));

    /* Temporary files left by a crash are never read as records. */
    write_file(f, "tables/users/versions/.tmp~v-000009.json.1.2.3", "{");
    write_file(f, "tables/users/versions/v-000004.json",
               "{\"version\": 4, \"state\": \"staged\"}");
    struct memb_version *vl = NULL;
    assert_int_equal(membership_version_list(m, "users", &vl, &n), MEMB_ERR);
    write_file(f, "tables/users/versions/v-000002.json",
               "{\"version\": 2, \"state\": \"staged\"}");
    assert_int_equal(membership_version_list(m, "users", &vl, &n), MEMB_OK);
    assert_int_equal(n, 2);
    free(vl);

    uint32_t p0[] = {0};
    assert_int_equal(membership_ready_set(m, "users", 4, "n1", p0, 1), MEMB_OK);
    write_file(f, "ready/users/v-000004/n1.json", "{\"partitions\": [0, -1]}");
    uint32_t c[4];
    assert_int_equal(membership_ready_count(m, "users", 4, 4, c), MEMB_ERR);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_open_uri, setup, teardown),
        cmocka_unit_test_setup_teardown(test_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_status_names, setup, teardown),
        cmocka_unit_test_setup_teardown(test_tables, setup, teardown),
        cmocka_unit_test_setup_teardown(test_table_list_empty, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_version_alloc, setup, teardown),
        cmocka_unit_test_setup_teardown(test_versions, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ready, setup, teardown),
        cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_active_cas_history, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_active_cas_processes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_version_alloc_processes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lock_in_process, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_lock_processes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_members, setup, teardown),
        cmocka_unit_test_setup_teardown(test_drain, setup, teardown),
        cmocka_unit_test_setup_teardown(test_placement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wait_change, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_files, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
