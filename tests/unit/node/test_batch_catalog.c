/*
 * This file implements the unit tests of the batch catalog (node/batch.c)
 * with real segment files: pulling a version through a fetch callback,
 * switching the view, reading through it, keeping an old view and its
 * segments alive while a reader is inside a read section, reusing and
 * re-fetching local files after a restart, the saved view file, deleting
 * versions, the fatal --require-mlock path, and partial holdings (a
 * placement's share of the partitions: mapping some, reshaping to others
 * while a reader keeps the old view, memory counted per partition, routes
 * and cluster data carried into the view and view.json).
 *
 * Segments are written by a minimal encoder following
 * docs/snapshot-format.md (linear probing in input order); the "store" is
 * a directory the fetch callback copies from.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xxhash.h>

#include "batch.h"
#include "log.h"
#include "manifest.h"
#include "ownership.h"
#include "qsbr.h"
#include "segment.h"
#include "snap_format.h"
#include "test_tmpdir.h"

enum { PARTS = 2, ROWS = 100 };

static char root[64];
static char data_dir[128];
static char store_dir[128];
static int fetches;

/* ---- building versions ---------------------------------------------------- */

/* Writes the segment of one partition: keys k<i> whose partition is p,
 * values "<version>:k<i>". Returns its checksum and fills rows/bytes. */
static uint64_t write_segment(const char *path, const char *table,
                              uint64_t version, uint32_t p, uint64_t *rows,
                              uint64_t *bytes)
{
    char keys[ROWS][16], vals[ROWS][32];
    size_t n = 0;
    for (int i = 0; i < ROWS; i++) {
        char k[16];
        snprintf(k, sizeof(k), "k%d", i);
        if (XXH3_64bits(k, strlen(k)) % PARTS == p) {
            strcpy(keys[n], k);
            snprintf(vals[n], sizeof(vals[n]), "%llu:%s",
                     (unsigned long long)version, k);
            n++;
        }
    }
    struct snap_header h = {.format = SNAP_FORMAT_NEWEST,
                            .partition = p,
                            .partitions = PARTS,
                            .version = version,
                            .rows = n};
    snprintf(h.table, sizeof(h.table), "%s", table);
    h.index_off = SNAP_HEADER_BYTES;
    h.slots = snap_slots_for(n);
    h.data_off = h.index_off + h.slots * SNAP_SLOT_BYTES;
    for (size_t i = 0; i < n; i++) {
        h.data_bytes += snap_record_size(strlen(keys[i]), strlen(vals[i]));
        h.key_bytes += strlen(keys[i]);
        h.value_bytes += strlen(vals[i]);
    }
    size_t len = h.data_off + h.data_bytes + SNAP_FOOTER_BYTES;
    uint8_t *img = calloc(1, len);
    assert_non_null(img);
    snap_header_encode(&h, img);
    uint64_t off = h.data_off;
    for (size_t i = 0; i < n; i++) {
        size_t kl = strlen(keys[i]), vl = strlen(vals[i]);
        uint64_t hash = XXH3_64bits(keys[i], kl);
        uint64_t s = snap_slot_home(hash, h.slots);
        while (snap_le64(img + h.index_off + s * SNAP_SLOT_BYTES) != 0) {
            s = (s + 1) % h.slots;
        }
        snap_put_le64(img + h.index_off + s * SNAP_SLOT_BYTES,
                      snap_slot_make(hash, off));
        uint8_t *q = img + off;
        q += snap_varint_put(q, kl);
        q += snap_varint_put(q, vl);
        memcpy(q, keys[i], kl);
        memcpy(q + kl, vals[i], vl);
        off += snap_record_size(kl, vl);
    }
    size_t body = len - SNAP_FOOTER_BYTES;
    snap_put_le64(img + body, XXH3_64bits(img, body));
    memcpy(img + body + 8, SNAP_FOOTER_MAGIC, SNAP_MAGIC_BYTES);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(img, 1, len, f), len);
    fclose(f);
    uint64_t sum = XXH3_64bits(img, len);
    free(img);
    *rows = n;
    *bytes = len;
    return sum;
}

/* Publishes table/version to the store directory; returns the manifest
 * JSON (caller frees). */
static char *publish(const char *table, uint64_t version)
{
    struct manifest m = {.version = version, .format = SNAP_FORMAT_NEWEST,
                         .partitions = PARTS};
    snprintf(m.table, sizeof(m.table), "%s", table);
    m.files = calloc(PARTS, sizeof(*m.files));
    assert_non_null(m.files);
    char dir[256];
    snprintf(dir, sizeof(dir), "%s/%s", store_dir, table);
    mkdir(dir, 0755);
    for (uint32_t p = 0; p < PARTS; p++) {
        struct manifest_file *f = &m.files[p];
        char path[512];
        f->partition = p;
        snprintf(f->key, sizeof(f->key), "%s-v%llu-p%u.seg", table,
                 (unsigned long long)version, p);
        snprintf(path, sizeof(path), "%s/%s", store_dir, f->key);
        f->checksum = write_segment(path, table, version, p, &f->rows,
                                    &f->bytes);
        m.rows += f->rows;
        m.bytes += f->bytes;
    }
    char *json = manifest_to_json(&m);
    assert_non_null(json);
    free(m.files);
    return json;
}

static int copy_from_store(void *arg, const struct batch_held *h, uint32_t p,
                           const char *path, char *err, size_t errlen)
{
    char src[512];
    snprintf(src, sizeof(src), "%s/%s", store_dir, h->manifest.files[p].key);
    FILE *in = fopen(src, "rb");
    if (in == NULL) {
        snprintf(err, errlen, "no %s", src);
        return -1;
    }
    FILE *out = fopen(path, "wb");
    assert_non_null(out);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        assert_int_equal(fwrite(buf, 1, n, out), n);
    }
    fclose(in);
    fclose(out);
    fetches++;
    return 0;
}

/* ---- fixtures -------------------------------------------------------------- */

static int setup(void **state)
{
    snprintf(root, sizeof(root), "/tmp/larder-batch-XXXXXX");
    assert_non_null(mkdtemp(root));
    snprintf(data_dir, sizeof(data_dir), "%s/data", root);
    snprintf(store_dir, sizeof(store_dir), "%s/store", root);
    assert_int_equal(mkdir(store_dir, 0755), 0);
    fetches = 0;
    log_set_level(LOG_LVL_WARNING);
    return 0;
}

static int teardown(void **state)
{
    test_tmpdir_remove(root);
    return 0;
}

static uint64_t epochs[2];
static uint64_t *epoch_ptrs[2] = {&epochs[0], &epochs[1]};

static struct batch *create(bool require_mlock)
{
    struct batch_options o = {
        .data_dir = data_dir,
        .memory = 1 << 30,
        .policy = {.retain_hot = 1, .retain = 2, .grace_ms = 60000},
        .require_mlock = require_mlock,
    };
    struct batch *b;
    char err[256];
    if (batch_create(&o, epoch_ptrs, 2, &b, err, sizeof(err)) != 0) {
        fail_msg("batch_create: %s", err);
    }
    return b;
}

static struct batch_held *add_and_map(struct batch *b, const char *table,
                                      uint64_t version)
{
    char *json = publish(table, version);
    char err[512];
    struct batch_held *h = batch_held_add(b, table, version, json,
                                          strlen(json), err, sizeof(err));
    free(json);
    if (h == NULL) {
        fail_msg("batch_held_add: %s", err);
    }
    if (batch_held_map(b, h, copy_from_store, NULL, err, sizeof(err)) != 0) {
        fail_msg("batch_held_map: %s", err);
    }
    return h;
}

/* Reads key through the active (or pinned) version of a view. */
static const char *read_key(const struct batch_view *v, const char *table,
                            uint64_t pin, const char *key, char *out)
{
    const struct batch_vtable *t = batch_view_table(v, table, strlen(table));
    assert_non_null(t);
    const struct batch_vinfo *vi = pin ? batch_view_version(t, pin) : t->active;
    assert_non_null(vi);
    assert_non_null(vi->segs);
    uint64_t h = XXH3_64bits(key, strlen(key));
    const char *val;
    size_t vlen;
    if (!segment_get(vi->segs[h % vi->partitions], key, strlen(key), h, &val,
                     &vlen)) {
        return NULL;
    }
    memcpy(out, val, vlen);
    out[vlen] = '\0';
    return out;
}

static uint64_t stat_of(struct batch *b, size_t field_offset)
{
    struct batch_stats st;
    batch_read_stats(b, &st);
    return *(uint64_t *)((char *)&st + field_offset);
}
#define STAT(b, f) stat_of(b, offsetof(struct batch_stats, f))

/* ---- tests ----------------------------------------------------------------- */

static void test_pull_switch_and_read(void **state)
{
    struct batch *b = create(false);
    assert_null(batch_current(b));
    struct batch_held *h = add_and_map(b, "users", 1);
    assert_int_equal(fetches, PARTS);
    assert_int_equal(STAT(b, batch_pulls_total), PARTS);
    assert_int_equal(batch_ram_bytes(b), h->manifest.bytes);
    /* Mapped but nothing published before the first switch. */
    batch_commit(b);
    assert_null(batch_current(b));

    batch_switch(b, 1, &h, 1, 1000);
    batch_commit(b);
    const struct batch_view *v = batch_current(b);
    assert_non_null(v);
    assert_int_equal(v->generation, 1);
    char out[64];
    assert_string_equal(read_key(v, "users", 0, "k7", out), "1:k7");
    assert_null(read_key(v, "users", 0, "nope", out));
    char path[512];
    snprintf(path, sizeof(path), "%s/view.json", data_dir);
    assert_int_equal(access(path, R_OK), 0);
    batch_destroy(&b);
    assert_null(b);
}

/* A reader inside a read section keeps the view it loaded, and the
 * segments of a version unmapped meanwhile, until it leaves. */
static void test_old_view_survives_reader(void **state)
{
    struct batch *b = create(false);
    struct batch_held *h1 = add_and_map(b, "users", 1);
    batch_switch(b, 1, &h1, 1, 1000);
    batch_commit(b);

    qsbr_enter(&epochs[0]);
    const struct batch_view *old = batch_current(b);

    struct batch_held *h2 = add_and_map(b, "users", 2);
    batch_switch(b, 2, &h2, 1, 2000);
    assert_int_equal(h1->state, BATCH_GRACE);
    assert_int_equal(h1->last_active_ms, 2000);
    batch_held_unmap(b, h1);
    batch_held_set_state(b, h1, BATCH_COLD);
    batch_commit(b);

    const struct batch_view *now = batch_current(b);
    assert_ptr_not_equal(now, old);
    char out[64];
    assert_string_equal(read_key(now, "users", 0, "k3", out), "2:k3");
    const struct batch_vinfo *cold =
        batch_view_version(batch_view_table(now, "users", 5), 1);
    assert_int_equal(cold->state, BATCH_COLD);
    assert_null(cold->segs);
    /* The reader still reads version 1 through its old view (ASan checks
     * that nothing under it was freed). */
    assert_string_equal(read_key(old, "users", 0, "k3", out), "1:k3");
    batch_commit(b);
    assert_string_equal(read_key(old, "users", 0, "k4", out), "1:k4");
    qsbr_leave(&epochs[0]);
    batch_commit(b); /* now the old view and version 1's segments go */
    assert_int_equal(batch_ram_bytes(b), h2->manifest.bytes);
    batch_destroy(&b);
}

/* A restart finds versions on disk, reuses files that verify, fetches
 * again those that do not, and restores last-active times. */
static void test_restart_reuses_and_refetches(void **state)
{
    struct batch *b = create(false);
    struct batch_held *h1 = add_and_map(b, "users", 1);
    batch_switch(b, 1, &h1, 1, 1000);
    batch_commit(b);
    struct batch_held *h2 = add_and_map(b, "users", 2);
    batch_switch(b, 2, &h2, 1, 2000);
    batch_commit(b);
    batch_destroy(&b);

    /* Damage one local file of version 1. */
    char path[512];
    snprintf(path, sizeof(path), "%s/segments/users/v-000001/part-00001.seg",
             data_dir);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 200, SEEK_SET);
    fputc(0x5a ^ 0xff, f);
    fclose(f);

    b = create(false);
    assert_int_equal(batch_held_count(b), 2);
    h1 = batch_held_find(b, "users", 1);
    h2 = batch_held_find(b, "users", 2);
    assert_non_null(h1);
    assert_non_null(h2);
    assert_null(h1->segs);
    assert_int_equal(h1->state, BATCH_COLD);
    struct batch_saved_view saved;
    char err[512];
    assert_int_equal(batch_load_saved(b, &saved, 5000, err, sizeof(err)), 0);
    assert_int_equal(saved.generation, 2);
    assert_int_equal(h1->last_active_ms, 2000);
    assert_int_equal(h2->last_active_ms, 5000);
    batch_saved_view_free(&saved);

    fetches = 0;
    assert_int_equal(batch_held_map(b, h2, NULL, NULL, err, sizeof(err)), 0);
    assert_int_equal(STAT(b, batch_reused_total), PARTS);
    /* Without a fetch callback a bad file fails the map... */
    assert_int_equal(batch_held_map(b, h1, NULL, NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "partition 1"));
    assert_null(h1->segs);
    /* ... with one, it is fetched again. */
    assert_int_equal(batch_held_map(b, h1, copy_from_store, NULL, err,
                                    sizeof(err)), 0);
    assert_int_equal(fetches, 1);
    assert_int_equal(STAT(b, batch_pulls_total), 1);
    batch_switch(b, 2, &h2, 1, 6000);
    batch_commit(b);
    char out[64];
    assert_string_equal(read_key(batch_current(b), "users", 1, "k9", out),
                        "1:k9");
    batch_destroy(&b);
}

static void test_drop_and_bad_local_manifest(void **state)
{
    struct batch *b = create(false);
    struct batch_held *h1 = add_and_map(b, "t1", 1);
    add_and_map(b, "t1", 2);
    batch_switch(b, 1, &h1, 1, 1000);
    batch_commit(b);
    struct batch_held *h2 = batch_held_find(b, "t1", 2);
    batch_held_drop(b, h2);
    assert_int_equal(STAT(b, batch_dropped_total), 1);
    assert_null(batch_held_find(b, "t1", 2));
    batch_commit(b);
    char dir[512];
    snprintf(dir, sizeof(dir), "%s/segments/t1/v-000002", data_dir);
    assert_int_equal(access(dir, F_OK), -1);
    batch_destroy(&b);

    /* A version directory whose manifest is not valid is deleted at start. */
    snprintf(dir, sizeof(dir), "%s/segments/t1/v-000003", data_dir);
    assert_int_equal(mkdir(dir, 0755), 0);
    char path[600];
    snprintf(path, sizeof(path), "%s/manifest.json", dir);
    FILE *f = fopen(path, "w");
    fputs("{not json", f);
    fclose(f);
    b = create(false);
    assert_int_equal(batch_held_count(b), 1);
    assert_int_equal(access(dir, F_OK), -1);
    batch_destroy(&b);
}

static void test_manifest_for_other_version_refused(void **state)
{
    struct batch *b = create(false);
    char *json = publish("users", 4);
    char err[512];
    assert_null(batch_held_add(b, "users", 5, json, strlen(json), err,
                               sizeof(err)));
    assert_non_null(strstr(err, "version 4"));
    assert_null(batch_held_add(b, "other", 4, json, strlen(json), err,
                               sizeof(err)));
    assert_null(batch_held_add(b, "../x", 4, json, strlen(json), err,
                               sizeof(err)));
    free(json);
    assert_int_equal(batch_held_count(b), 0);
    batch_destroy(&b);
}

/* Turns CAP_IPC_LOCK (which lets root lock beyond the limit) off or back
 * on in the effective set of this process. */
static void ipc_lock_capability(bool on)
{
    struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
    struct __user_cap_data_struct data[2];
    if (syscall(SYS_capget, &hdr, data) != 0) {
        return;
    }
    uint32_t bit = 1u << (CAP_IPC_LOCK % 32);
    if (on) {
        data[CAP_IPC_LOCK / 32].effective |=
            data[CAP_IPC_LOCK / 32].permitted & bit;
    } else {
        data[CAP_IPC_LOCK / 32].effective &= ~bit;
    }
    syscall(SYS_capset, &hdr, data);
}

/* With no memlock allowance, --require-mlock makes mapping fail and marks
 * the batch failed; without it the version maps unlocked. */
/* The key k<i> whose partition is p (some i < ROWS). */
static const char *key_in(uint32_t p, char *out)
{
    for (int i = 0; i < ROWS; i++) {
        snprintf(out, 16, "k%d", i);
        if (XXH3_64bits(out, strlen(out)) % PARTS == p) {
            return out;
        }
    }
    fail_msg("no key in partition %u", p);
    return NULL;
}

static bool part_file_exists(const char *table, uint64_t version, uint32_t p)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/segments/%s/v-%06llu/part-%05u.seg",
             data_dir, table, (unsigned long long)version, p);
    return access(path, F_OK) == 0;
}

static void test_partial_holding_and_reshape(void **state)
{
    struct batch *b = create(false);
    char *json = publish("users", 1);
    char err[512];
    struct batch_held *h = batch_held_add(b, "users", 1, json, strlen(json),
                                          err, sizeof(err));
    free(json);
    assert_non_null(h);
    uint64_t only0[1] = {0x1}, only1[1] = {0x2};
    assert_false(batch_held_matches(h, only0));
    assert_int_equal(batch_held_missing_bytes(h, only0),
                     h->manifest.files[0].bytes);
    assert_int_equal(batch_held_map_parts(b, h, only0, copy_from_store, NULL,
                                          err, sizeof(err)),
                     0);
    assert_int_equal(fetches, 1);
    assert_true(batch_held_matches(h, only0));
    assert_false(batch_held_matches(h, NULL));
    assert_int_equal(h->held, 1);
    assert_int_equal(h->held_bytes, h->manifest.files[0].bytes);
    assert_int_equal(h->held_rows, h->manifest.files[0].rows);
    assert_int_equal(batch_ram_bytes(b), h->manifest.files[0].bytes);
    assert_false(part_file_exists("users", 1, 1));

    struct batch_node nodes[1] = {{.id = "other", .addr = "10.0.0.9:7000",
                                   .capacity = 100}};
    batch_set_cluster(b, "me", "{\"generation\":4}", 4, nodes, 1);
    uint32_t route[PARTS] = {BATCH_NO_ROUTE, 0};
    batch_held_set_route(b, h, route);
    batch_switch(b, 1, &h, 1, 1000);
    batch_commit(b);
    const struct batch_view *old = batch_current(b);
    const struct batch_vinfo *vi = batch_view_table(old, "users", 5)->active;
    assert_int_equal(vi->held_partitions, 1);
    assert_int_equal(vi->held_bytes, h->manifest.files[0].bytes);
    assert_non_null(vi->segs[0]);
    assert_null(vi->segs[1]);
    assert_non_null(vi->route);
    assert_int_equal(vi->route[1], 0);
    assert_int_equal(old->placement_generation, 4);
    assert_string_equal(old->nodes[0].addr, "10.0.0.9:7000");
    assert_non_null(old->description);
    assert_non_null(strstr(old->description, "\"me\":[0]"));
    char path[512], *saved;
    snprintf(path, sizeof(path), "%s/view.json", data_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    saved = calloc(1, 4096);
    assert_true(fread(saved, 1, 4095, f) > 0);
    fclose(f);
    assert_non_null(strstr(saved, "\"placement\":{\"generation\":4}"));
    assert_non_null(strstr(saved, "10.0.0.9:7000"));
    free(saved);

    /* Reshape to partition 1 while a reader holds the old view. */
    qsbr_enter(&epochs[0]);
    char k0[16], k1[16], out[64];
    key_in(0, k0);
    key_in(1, k1);
    assert_int_equal(batch_held_map_parts(b, h, only1, copy_from_store, NULL,
                                          err, sizeof(err)),
                     0);
    assert_int_equal(fetches, 2);
    assert_int_equal(h->held, 1);
    assert_int_equal(batch_ram_bytes(b), h->manifest.files[1].bytes);
    assert_false(part_file_exists("users", 1, 0)); /* dropped */
    batch_held_set_route(b, h, NULL);
    batch_commit(b);
    const struct batch_view *now = batch_current(b);
    vi = batch_view_table(now, "users", 5)->active;
    assert_null(vi->segs[0]);
    assert_non_null(vi->segs[1]);
    assert_null(vi->route);
    char want[32];
    snprintf(want, sizeof(want), "1:%s", k1);
    assert_string_equal(read_key(now, "users", 0, k1, out), want);
    /* The old view still reads partition 0 (ASan: nothing freed). */
    assert_non_null(read_key(old, "users", 0, k0, out));
    qsbr_leave(&epochs[0]);
    batch_commit(b);

    /* Back to every partition: partition 1 keeps its segment. */
    struct segment *kept = h->segs[1];
    assert_int_equal(batch_held_map_parts(b, h, NULL, copy_from_store, NULL,
                                          err, sizeof(err)),
                     0);
    assert_ptr_equal(h->segs[1], kept);
    assert_int_equal(h->held, PARTS);
    assert_int_equal(batch_ram_bytes(b), h->manifest.bytes);
    assert_int_equal(fetches, 3);
    batch_commit(b);
    assert_non_null(read_key(batch_current(b), "users", 0, k0, out));
    batch_destroy(&b);
}

static void test_require_mlock(void **state)
{
    struct rlimit old;
    getrlimit(RLIMIT_MEMLOCK, &old);
    struct rlimit none = {0, old.rlim_max};
    assert_int_equal(setrlimit(RLIMIT_MEMLOCK, &none), 0);
    ipc_lock_capability(false);
    struct batch *b = create(true);
    char *json = publish("users", 1);
    char err[512];
    struct batch_held *h = batch_held_add(b, "users", 1, json, strlen(json),
                                          err, sizeof(err));
    free(json);
    assert_non_null(h);
    int rc = batch_held_map(b, h, copy_from_store, NULL, err, sizeof(err));
    if (rc == 0) {
        /* Privileged enough to lock anyway: nothing to test here. */
        setrlimit(RLIMIT_MEMLOCK, &old);
        ipc_lock_capability(true);
        batch_destroy(&b);
        skip();
    }
    assert_true(batch_failed(b));
    assert_non_null(strstr(err, "--require-mlock"));
    assert_null(h->segs);
    batch_destroy(&b);

    b = create(false);
    h = batch_held_find(b, "users", 1);
    assert_int_equal(batch_held_map(b, h, copy_from_store, NULL, err,
                                    sizeof(err)), 0);
    assert_false(batch_failed(b));
    assert_false(segment_locked(h->segs[0]));
    setrlimit(RLIMIT_MEMLOCK, &old);
    ipc_lock_capability(true);
    batch_destroy(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pull_switch_and_read, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_old_view_survives_reader, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_reuses_and_refetches,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_drop_and_bad_local_manifest, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_manifest_for_other_version_refused,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_require_mlock, setup, teardown),
        cmocka_unit_test_setup_teardown(test_partial_holding_and_reshape,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
