/*
 * Tests of store_retention.h on a local: membership and a file:// store:
 * which versions are retired, that their objects (listed by the manifest,
 * or by convention without one) leave the store, that kept versions keep
 * theirs, that a retired record still says whether it was once active,
 * and that a second pass changes nothing.
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

#include "manifest.h"
#include "membership.h"
#include "store.h"
#include "store_retention.h"
#include "test_tmpdir.h"

static char dir[64];
static struct membership *m;
static struct store *st;

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/larder-ret-XXXXXX");
    assert_non_null(mkdtemp(dir));
    char uri[128], err[256];
    snprintf(uri, sizeof(uri), "local:%s/m", dir);
    assert_int_equal(membership_open(uri, &m, err, sizeof(err)), MEMB_OK);
    snprintf(uri, sizeof(uri), "file://%s/store", dir);
    assert_int_equal(store_open(uri, &st, err, sizeof(err)), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(&st);
    membership_close(&m);
    test_tmpdir_remove(dir);
    return 0;
}

static bool object_exists(const char *key)
{
    char *data = NULL;
    size_t len = 0;
    char err[256];
    int rc = store_get_bytes(st, key, &data, &len, err, sizeof(err));
    free(data);
    return rc == 0;
}

static void seg_key(uint64_t v, uint32_t p, char *out, size_t n)
{
    assert_int_equal(manifest_segment_key(out, n, "t", v, p), 0);
}

/*
 * Allocates a version of table t in state state with two segments in the
 * store and, if with_manifest, a manifest listing them.
 */
static uint64_t make_version(enum memb_version_state state,
                             bool with_manifest)
{
    uint64_t v = 0;
    assert_int_equal(membership_version_alloc(m, "t", &v), MEMB_OK);
    char err[256], key[256];
    struct manifest_file files[2];
    memset(files, 0, sizeof(files));
    for (uint32_t p = 0; p < 2; p++) {
        seg_key(v, p, key, sizeof(key));
        assert_int_equal(store_put_bytes(st, key, "seg", 3, err, sizeof(err)),
                         0);
        files[p].partition = p;
        snprintf(files[p].key, sizeof(files[p].key), "%s", key);
        files[p].bytes = 3;
    }
    struct memb_version rec = {.version = v, .state = state, .partitions = 2};
    if (with_manifest) {
        struct manifest mf = {.version = v, .partitions = 2, .files = files};
        snprintf(mf.table, sizeof(mf.table), "t");
        char *json = manifest_to_json(&mf);
        assert_non_null(json);
        assert_int_equal(manifest_key(key, sizeof(key), "t", v), 0);
        assert_int_equal(store_put_bytes(st, key, json, strlen(json), err,
                                         sizeof(err)),
                         0);
        free(json);
        store_uri(st, key, rec.manifest_uri, sizeof(rec.manifest_uri));
    }
    assert_int_equal(membership_version_put(m, "t", &rec), MEMB_OK);
    return v;
}

static enum memb_version_state state_of(uint64_t v)
{
    struct memb_version rec;
    assert_int_equal(membership_version_get(m, "t", v, &rec), MEMB_OK);
    return rec.state;
}

static int64_t activated_ms_of(uint64_t v)
{
    struct memb_version rec;
    assert_int_equal(membership_version_get(m, "t", v, &rec), MEMB_OK);
    return rec.activated_ms;
}

/* Sets the times of v's record. */
static void set_times(uint64_t v, int64_t created_ms, int64_t activated_ms)
{
    struct memb_version rec;
    assert_int_equal(membership_version_get(m, "t", v, &rec), MEMB_OK);
    rec.created_ms = created_ms;
    rec.activated_ms = activated_ms;
    assert_int_equal(membership_version_put(m, "t", &rec), MEMB_OK);
}

static void test_retires_past_retention(void **state)
{
    (void)state;
    struct memb_table t = {.kind = MEMB_TABLE_BATCH, .partitions = 2,
                           .replication = 1};
    snprintf(t.name, sizeof(t.name), "t");
    assert_int_equal(membership_table_put(m, &t), MEMB_OK);
    uint64_t v1 = make_version(MEMB_V_ACTIVE, true);  /* old active */
    uint64_t v2 = make_version(MEMB_V_FAILED, false); /* failed load */
    uint64_t v3 = make_version(MEMB_V_ACTIVE, true);  /* previous active */
    uint64_t v4 = make_version(MEMB_V_STAGED, true);  /* never activated */
    uint64_t v5 = make_version(MEMB_V_ACTIVE, true);  /* active now */
    uint64_t v6 = make_version(MEMB_V_STAGED, true);  /* newer, staged */
    /* v1 was activated before activated_ms existed; v3 was stamped. */
    set_times(v1, 1700000000001, 0);
    set_times(v3, 1700000000003, 1700000000333);
    struct memb_active_entry e = {.version = v5};
    snprintf(e.table, sizeof(e.table), "t");
    struct memb_active a = {.n = 1, .entries = &e};
    assert_int_equal(membership_active_cas(m, 0, &a), MEMB_OK);

    struct retention_result r;
    char err[512] = "";
    assert_int_equal(store_retention_apply(m, st, "t", 2, &r, err,
                                           sizeof(err)),
                     0);
    assert_int_equal(r.retired, 3);
    assert_int_equal(r.objects, 3 * 3); /* two segments and a manifest each */
    const uint64_t gone[] = {v1, v2, v4};
    const uint64_t kept[] = {v3, v5, v6};
    char key[256];
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(state_of(gone[i]), MEMB_V_RETIRED);
        seg_key(gone[i], 0, key, sizeof(key));
        assert_false(object_exists(key));
        seg_key(gone[i], 1, key, sizeof(key));
        assert_false(object_exists(key));
        assert_int_not_equal(state_of(kept[i]), MEMB_V_RETIRED);
        seg_key(kept[i], 1, key, sizeof(key));
        assert_true(object_exists(key));
        assert_int_equal(manifest_key(key, sizeof(key), "t", kept[i]), 0);
        assert_true(object_exists(key));
    }

    /* Nothing left to do the second time. */
    assert_int_equal(store_retention_apply(m, st, "t", 2, &r, err,
                                           sizeof(err)),
                     0);
    assert_int_equal(r.retired, 0);
    assert_int_equal(r.objects, 0);

    /* Retired records still tell the once-active from the rest: a record
     * from before activated_ms gets its creation time. */
    assert_true(activated_ms_of(v1) == 1700000000001);
    assert_true(activated_ms_of(v2) == 0);
    assert_true(activated_ms_of(v4) == 0);

    /* keep 1: the previous active version goes too, keeping its time. */
    assert_int_equal(store_retention_apply(m, st, "t", 1, &r, err,
                                           sizeof(err)),
                     0);
    assert_int_equal(r.retired, 1);
    assert_int_equal(state_of(v3), MEMB_V_RETIRED);
    assert_true(activated_ms_of(v3) == 1700000000333);
    assert_int_equal(state_of(v6), MEMB_V_STAGED);
}

/* A once-active record with neither time still retires as once active. */
static void test_retires_active_without_times(void **state)
{
    (void)state;
    uint64_t v1 = make_version(MEMB_V_ACTIVE, true);
    uint64_t v2 = make_version(MEMB_V_ACTIVE, true);
    struct memb_active_entry e = {.version = v2};
    snprintf(e.table, sizeof(e.table), "t");
    struct memb_active a = {.n = 1, .entries = &e};
    assert_int_equal(membership_active_cas(m, 0, &a), MEMB_OK);
    struct retention_result r;
    char err[256] = "";
    assert_int_equal(store_retention_apply(m, st, "t", 1, &r, err,
                                           sizeof(err)),
                     0);
    assert_int_equal(r.retired, 1);
    assert_int_equal(state_of(v1), MEMB_V_RETIRED);
    assert_true(activated_ms_of(v1) != 0);
}

static void test_nothing_active_nothing_retired(void **state)
{
    (void)state;
    make_version(MEMB_V_FAILED, false);
    make_version(MEMB_V_STAGED, true);
    struct retention_result r;
    char err[256];
    assert_int_equal(store_retention_apply(m, st, "t", 1, &r, err,
                                           sizeof(err)),
                     0);
    assert_int_equal(r.retired, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_retires_past_retention, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_retires_active_without_times,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_nothing_active_nothing_retired,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
