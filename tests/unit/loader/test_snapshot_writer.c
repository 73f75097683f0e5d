/*
 * This file implements the unit tests of the snapshot writer
 * (loader/snapshot_writer.c): writer-to-reader round trips through the
 * segment codec (common/snap_format.c, the code common/segment.c reads with)
 * for many text and binary keys, empty keys and values, values of 1 MiB and
 * more, a partition with no rows, duplicates under both policies, 64-bit
 * hash collisions and index wrap-around, byte-identical output whatever
 * the input order, the atomic-write rule (nothing at the path, and no
 * temporary file, unless finish succeeds), option and row checks, the
 * memory overhead per key against the 16-byte target, and partitions over
 * the memory budget, built through sorted chunks, giving the same bytes as
 * in memory (duplicates across chunks, collisions, empty and one-row
 * partitions) and leaving no chunk file behind.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "snap_format.h"
#include "snapshot_writer.h"
#include "test_tmpdir.h"

/* ---- helpers ------------------------------------------------------------ */

static char tmpdir[64];
static char seg_path[128];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/larder-snapw-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(seg_path, sizeof(seg_path), "%s/part-00000.seg", tmpdir);
    return 0;
}

static int teardown_dir(void **state)
{
    (void)state;
    test_tmpdir_remove(tmpdir);
    return 0;
}

/* Entries in tmpdir (temporary files included). */
static int dir_entries(void)
{
    DIR *d = opendir(tmpdir);
    assert_non_null(d);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            n++;
        }
    }
    closedir(d);
    return n;
}

/* The whole file in an exactly sized heap buffer (ASan sees over-reads). */
static uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return buf;
}

static struct snap_writer_options opts(uint32_t partition,
                                       uint32_t partitions,
                                       enum snap_dup_policy dup)
{
    struct snap_writer_options o = {
        .table = "features.user-v2",
        .version = 42,
        .partition = partition,
        .partitions = partitions,
        .dims = 0,
        .on_duplicate = dup,
        .format = 0,
    };
    return o;
}

static struct snap_writer *new_writer(const struct snap_writer_options *o)
{
    struct snap_writer *w = NULL;
    char err[256];
    int rc = snap_writer_create(seg_path, o, &w, err, sizeof(err));
    if (rc != 0) {
        fail_msg("create: %s", err);
    }
    return w;
}

static void add(struct snap_writer *w, const void *k, size_t klen,
                const void *v, size_t vlen)
{
    char err[256];
    if (snap_writer_add(w, k, klen, v, vlen, XXH3_64bits(k, klen), err,
                        sizeof(err)) != 0) {
        fail_msg("add: %s", err);
    }
}

static void finish(struct snap_writer *w, struct snap_file_info *info)
{
    char err[256];
    if (snap_writer_finish(w, info, err, sizeof(err)) != 0) {
        fail_msg("finish: %s", err);
    }
}

/* A verified image of seg_path; *buf must be freed. */
static void open_image(struct snap_image *img, uint8_t **buf,
                       uint64_t *file_sum)
{
    size_t len;
    char err[256];
    *buf = read_all(seg_path, &len);
    if (snap_image_open(img, *buf, len, file_sum, err, sizeof(err)) != 0) {
        fail_msg("image: %s", err);
    }
}

static void assert_get(const struct snap_image *img, const void *k,
                       size_t klen, const void *v, size_t vlen)
{
    const uint8_t *got;
    size_t glen;
    assert_true(snap_image_get(img, k, klen, XXH3_64bits(k, klen), &got,
                               &glen));
    assert_int_equal(glen, vlen);
    if (vlen > 0) {
        assert_memory_equal(got, v, vlen);
    }
}

static void assert_absent(const struct snap_image *img, const void *k,
                          size_t klen)
{
    const uint8_t *got;
    size_t glen;
    assert_false(snap_image_get(img, k, klen, XXH3_64bits(k, klen), &got,
                                &glen));
}

/* Key i of a mixed set: text keys, and binary ones with NUL and 0xff. */
static size_t make_key(uint32_t i, uint8_t *out)
{
    if (i % 3 != 0) {
        return (size_t)sprintf((char *)out, "user:%u", i);
    }
    size_t n = 1 + i % 37;
    for (size_t j = 0; j < n; j++) {
        out[j] = (uint8_t)((i >> (j % 4 * 8)) ^ (j * 0x9d));
    }
    out[0] = 0x00;
    out[n - 1] = 0xff;
    memcpy(out + n, &i, sizeof(i)); /* keeps keys distinct */
    return n + sizeof(i);
}

/* Value i: 0..199 bytes, empty for every 7th key. */
static size_t make_value(uint32_t i, uint8_t *out)
{
    size_t n = i % 7 == 0 ? 0 : i % 200;
    for (size_t j = 0; j < n; j++) {
        out[j] = (uint8_t)(i * 31 + j);
    }
    return n;
}

/* ---- tests -------------------------------------------------------------- */

/* Many keys of one partition out of 4: every one found, others absent. */
static void test_round_trip_many_keys(void **state)
{
    (void)state;
    const uint32_t partitions = 4, part = 2, total = 60000;
    struct snap_writer_options o = opts(part, partitions, SNAP_DUP_ERROR);
    o.dims = 16;
    struct snap_writer *w = new_writer(&o);
    uint8_t k[64], v[256];
    uint64_t mine = 0, kbytes = 0, vbytes = 0;
    for (uint32_t i = 0; i < total; i++) {
        size_t kl = make_key(i, k);
        if (XXH3_64bits(k, kl) % partitions != part) {
            continue;
        }
        size_t vl = make_value(i, v);
        add(w, k, kl, v, vl);
        mine++;
        kbytes += kl;
        vbytes += vl;
    }
    assert_true(mine > total / 5);
    assert_int_equal(access(seg_path, F_OK), -1); /* nothing before finish */
    struct snap_file_info info;
    finish(w, &info);
    snap_writer_destroy(&w);
    assert_null(w);
    assert_int_equal(info.rows, mine);
    assert_int_equal(info.duplicates, 0);
    assert_int_equal(info.key_bytes, kbytes);
    assert_int_equal(info.value_bytes, vbytes);
    assert_int_equal(dir_entries(), 1); /* no temporary file left */

    struct snap_image img;
    uint8_t *buf;
    uint64_t sum;
    open_image(&img, &buf, &sum);
    assert_int_equal(info.bytes, img.len);
    assert_int_equal(info.checksum, sum);
    assert_int_equal(sum, XXH3_64bits(buf, img.len));
    assert_string_equal(img.h.table, "features.user-v2");
    assert_int_equal(img.h.format, SNAP_FORMAT_NEWEST);
    assert_int_equal(img.h.version, 42);
    assert_int_equal(img.h.partition, part);
    assert_int_equal(img.h.partitions, partitions);
    assert_int_equal(img.h.dims, 16);
    assert_int_equal(img.h.rows, mine);
    assert_int_equal(img.h.key_bytes, kbytes);
    assert_int_equal(img.h.value_bytes, vbytes);
    assert_true(img.h.rows * 5 <= img.h.slots * 4); /* load <= 0.8 */

    for (uint32_t i = 0; i < total; i++) {
        size_t kl = make_key(i, k);
        if (XXH3_64bits(k, kl) % partitions == part) {
            size_t vl = make_value(i, v);
            assert_get(&img, k, kl, v, vl);
        } else {
            assert_absent(&img, k, kl);
        }
    }
    /* Iteration yields every row once, in hash order. */
    uint64_t cursor = 0, n = 0, prev = 0;
    const uint8_t *rk, *rv;
    size_t rkl, rvl;
    int rc;
    while ((rc = snap_image_next(&img, &cursor, &rk, &rkl, &rv, &rvl)) == 1) {
        uint64_t h = XXH3_64bits(rk, rkl);
        assert_true(n == 0 || h >= prev);
        prev = h;
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, mine);
    free(buf);
}

/* Empty key, empty values, 1 MiB values and one bigger than the buffer. */
static void test_empty_and_large_values(void **state)
{
    (void)state;
    struct snap_writer_options o = opts(0, 1, SNAP_DUP_ERROR);
    struct snap_writer *w = new_writer(&o);
    const size_t mib = (size_t)1 << 20;
    uint8_t *big = malloc(3 * mib + 7);
    assert_non_null(big);
    for (size_t i = 0; i < 3 * mib + 7; i++) {
        big[i] = (uint8_t)(i * 7 + (i >> 12));
    }
    add(w, "", 0, "empty key", 9);
    add(w, "e1", 2, "", 0);
    add(w, "e2", 2, NULL, 0);
    add(w, "m1", 2, big, mib);
    add(w, "m2", 2, big + 1, mib);
    add(w, "small", 5, "x", 1);
    add(w, "m3", 2, big, 3 * mib + 7);
    struct snap_file_info info;
    finish(w, &info);
    snap_writer_destroy(&w);
    assert_int_equal(info.rows, 7);

    struct snap_image img;
    uint8_t *buf;
    open_image(&img, &buf, NULL);
    assert_get(&img, "", 0, "empty key", 9);
    assert_get(&img, "e1", 2, "", 0);
    assert_get(&img, "e2", 2, "", 0);
    assert_get(&img, "m1", 2, big, mib);
    assert_get(&img, "m2", 2, big + 1, mib);
    assert_get(&img, "small", 5, "x", 1);
    assert_get(&img, "m3", 2, big, 3 * mib + 7);
    assert_absent(&img, "m4", 2);
    free(buf);
    free(big);
}

/* A partition without rows is a valid segment that finds nothing. */
static void test_zero_rows(void **state)
{
    (void)state;
    struct snap_writer_options o = opts(3, 8, SNAP_DUP_ERROR);
    struct snap_writer *w = new_writer(&o);
    struct snap_file_info info;
    finish(w, &info);
    snap_writer_destroy(&w);
    assert_int_equal(info.rows, 0);
    assert_int_equal(info.key_bytes, 0);
    assert_int_equal(info.bytes, SNAP_HEADER_BYTES + SNAP_SLOT_BYTES +
                                     SNAP_FOOTER_BYTES);
    struct snap_image img;
    uint8_t *buf;
    open_image(&img, &buf, NULL);
    assert_int_equal(img.h.rows, 0);
    assert_int_equal(img.h.partition, 3);
    assert_absent(&img, "anything", 8);
    assert_absent(&img, "", 0);
    uint64_t cursor = 0;
    const uint8_t *rk, *rv;
    size_t rkl, rvl;
    assert_int_equal(snap_image_next(&img, &cursor, &rk, &rkl, &rv, &rvl), 0);
    free(buf);
}

/* SNAP_DUP_ERROR: the build fails naming the key; nothing is written. */
static void test_duplicates_error(void **state)
{
    (void)state;
    struct snap_writer_options o = opts(0, 1, SNAP_DUP_ERROR);
    struct snap_writer *w = new_writer(&o);
    add(w, "alpha", 5, "1", 1);
    add(w, "beta", 4, "2", 1);
    add(w, "gam\nma\x01", 7, "3", 1);
    add(w, "delta", 5, "4", 1);
    add(w, "gam\nma\x01", 7, "5", 1);
    struct snap_file_info info;
    char err[256];
    assert_int_equal(snap_writer_finish(w, &info, err, sizeof(err)), -1);
    assert_int_equal(errno, EEXIST);
    assert_non_null(strstr(err, "duplicate key 'gam\\x0ama\\x01'"));
    assert_int_equal(info.rows, 0);
    assert_int_equal(dir_entries(), 0);
    /* A finished writer refuses more work. */
    assert_int_equal(snap_writer_add(w, "x", 1, "y", 1, XXH3_64bits("x", 1),
                                     err, sizeof(err)), -1);
    assert_int_equal(snap_writer_finish(w, &info, err, sizeof(err)), -1);
    snap_writer_destroy(&w);
    assert_int_equal(dir_entries(), 0);
}

/* SNAP_DUP_LAST: the last row added with a key wins; the rest count. */
static void test_duplicates_last(void **state)
{
    (void)state;
    struct snap_writer_options o = opts(0, 1, SNAP_DUP_LAST);
    struct snap_writer *w = new_writer(&o);
    const uint8_t bin[] = {0, 1, 0, 0xff};
    add(w, "k1", 2, "a", 1);
    add(w, "k2", 2, "b", 1);
    add(w, "k1", 2, "c", 1);
    add(w, bin, sizeof(bin), "first", 5);
    add(w, "k1", 2, "", 0);
    add(w, "k1", 2, "last", 4);
    add(w, bin, sizeof(bin), "second", 6);
    for (int i = 0; i < 1000; i++) {
        char v[16];
        int n = snprintf(v, sizeof(v), "v%d", i);
        add(w, "hot", 3, v, (size_t)n);
    }
    struct snap_file_info info;
    finish(w, &info);
    snap_writer_destroy(&w);
    assert_int_equal(info.rows, 4);
    assert_int_equal(info.duplicates, 3 + 1 + 999);
    assert_int_equal(info.key_bytes, 2 + 2 + sizeof(bin) + 3);
    assert_int_equal(info.value_bytes, 4 + 1 + 6 + 4);
    struct snap_image img;
    uint8_t *buf;
    open_image(&img, &buf, NULL);
    assert_get(&img, "k1", 2, "last", 4);
    assert_get(&img, "k2", 2, "b", 1);
    assert_get(&img, bin, sizeof(bin), "second", 6);
    assert_get(&img, "hot", 3, "v999", 4);
    free(buf);
}

/*
 * Distinct keys whose 64-bit hashes collide (forced here: the writer
 * trusts the caller's hash) are all kept and all found; home slots at the
 * very end of the index wrap around to its start.
 */
static void test_collisions_and_wrap(void **state)
{
    (void)state;
    struct snap_writer_options o = opts(0, 1, SNAP_DUP_LAST);
    struct snap_writer *w = new_writer(&o);
    char err[256];
    const uint64_t same = UINT64_C(0x123456789abcdef0);
    /* w0..w3 hash to UINT64_MAX - i: all have the last slot as home. */
    const char *keys[] = {"c0", "c1", "c2", "c3", "w0", "w1", "w2", "w3"};
    uint64_t hashes[8];
    for (int i = 0; i < 8; i++) {
        hashes[i] = i < 4 ? same : UINT64_MAX - (uint64_t)(i - 4);
    }
    for (int i = 7; i >= 0; i--) {
        assert_int_equal(snap_writer_add(w, keys[i], 2, keys[i], 2,
                                         hashes[i], err, sizeof(err)), 0);
    }
    /* a duplicate among the rows that wrap */
    assert_int_equal(snap_writer_add(w, "w1", 2, "W1", 2, hashes[5], err,
                                     sizeof(err)), 0);
    struct snap_file_info info;
    finish(w, &info);
    snap_writer_destroy(&w);
    assert_int_equal(info.rows, 8);
    assert_int_equal(info.duplicates, 1);
    struct snap_image img;
    uint8_t *buf;
    open_image(&img, &buf, NULL);
    /* The first slot holds a row that wrapped around. */
    assert_true(snap_le64(img.index) != 0);
    const uint8_t *v;
    size_t vl;
    for (int i = 0; i < 8; i++) {
        assert_true(snap_image_get(&img, keys[i], 2, hashes[i], &v, &vl));
        assert_int_equal(vl, 2);
        assert_memory_equal(v, i == 5 ? "W1" : keys[i], 2);
    }
    assert_false(snap_image_get(&img, "c4", 2, same, &v, &vl));
    assert_false(snap_image_get(&img, "w4", 2, UINT64_MAX, &v, &vl));
    free(buf);
}

/* The file depends on the rows, not on the order they were added in. */
static void test_deterministic(void **state)
{
    (void)state;
    uint64_t sums[2];
    uint8_t k[64], v[256];
    for (int pass = 0; pass < 2; pass++) {
        struct snap_writer_options o = opts(0, 1, SNAP_DUP_ERROR);
        struct snap_writer *w = new_writer(&o);
        for (uint32_t j = 0; j < 5000; j++) {
            uint32_t i = pass == 0 ? j : 4999 - j;
            add(w, k, make_key(i, k), v, make_value(i, v));
        }
        struct snap_file_info info;
        finish(w, &info);
        snap_writer_destroy(&w);
        sums[pass] = info.checksum;
    }
    assert_int_equal(sums[0], sums[1]);
}

/* Bad options and rows of another partition are refused. */
static void test_refusals(void **state)
{
    (void)state;
    struct snap_writer *w = NULL;
    char err[256];
    struct snap_writer_options o = opts(0, 4, SNAP_DUP_ERROR);
    o.table = "bad name";
    assert_int_equal(snap_writer_create(seg_path, &o, &w, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "table"));
    o = opts(4, 4, SNAP_DUP_ERROR);
    assert_int_equal(snap_writer_create(seg_path, &o, &w, err, sizeof(err)),
                     -1);
    o = opts(0, 4, SNAP_DUP_ERROR);
    o.format = SNAP_FORMAT_NEWEST + 1;
    assert_int_equal(snap_writer_create(seg_path, &o, &w, err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "format"));
    assert_null(w);

    /* Every format this build reads can be written on request. */
    for (uint32_t f = SNAP_FORMAT_OLDEST; f <= SNAP_FORMAT_NEWEST; f++) {
        o = opts(0, 1, SNAP_DUP_ERROR);
        o.format = f;
        w = new_writer(&o);
        add(w, "k", 1, "v", 1);
        struct snap_file_info info;
        finish(w, &info);
        snap_writer_destroy(&w);
        struct snap_image img;
        uint8_t *buf;
        open_image(&img, &buf, NULL);
        assert_int_equal(img.h.format, f);
        assert_get(&img, "k", 1, "v", 1);
        free(buf);
    }

    o = opts(1, 4, SNAP_DUP_ERROR);
    w = new_writer(&o);
    uint64_t h = UINT64_C(0x1000) + 2; /* partition 2 of 4 */
    assert_int_equal(snap_writer_add(w, "k", 1, "v", 1, h, err, sizeof(err)),
                     -1);
    assert_int_equal(errno, EINVAL);
    assert_non_null(strstr(err, "partition 2"));
    /* Destroyed unfinished: no file appears. */
    snap_writer_destroy(&w);
    snap_writer_destroy(&w); /* idempotent on NULL */
}

/* An unwritable directory fails finish and leaves nothing behind. */
static void test_write_failure(void **state)
{
    (void)state;
    char bad[160];
    snprintf(bad, sizeof(bad), "%s/missing-dir/part.seg", tmpdir);
    struct snap_writer_options o = opts(0, 1, SNAP_DUP_ERROR);
    struct snap_writer *w = NULL;
    char err[256];
    assert_int_equal(snap_writer_create(bad, &o, &w, err, sizeof(err)), 0);
    assert_int_equal(snap_writer_add(w, "k", 1, "v", 1, XXH3_64bits("k", 1),
                                     err, sizeof(err)), 0);
    struct snap_file_info info;
    assert_int_equal(snap_writer_finish(w, &info, err, sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "missing-dir"));
    snap_writer_destroy(&w);
    assert_int_equal(dir_entries(), 0);
}

/*
 * Memory overhead per key, every byte of the file counted: (file size -
 * key bytes - value bytes) / rows, with 16-byte keys and 64-byte values,
 * must stay within the design's 16 bytes.
 */
static void test_overhead_per_key(void **state)
{
    (void)state;
    const uint32_t rows = 200000;
    struct snap_writer_options o = opts(0, 1, SNAP_DUP_ERROR);
    struct snap_writer *w = new_writer(&o);
    uint8_t k[16], v[64];
    memset(v, 'v', sizeof(v));
    for (uint32_t i = 0; i < rows; i++) {
        snprintf((char *)k, sizeof(k), "key%012u", i);
        k[15] = '#';
        add(w, k, sizeof(k), v, sizeof(v));
    }
    struct snap_file_info info;
    finish(w, &info);
    snap_writer_destroy(&w);
    double overhead =
        (double)(info.bytes - info.key_bytes - info.value_bytes) / rows;
    assert_true(overhead <= 16.0);
    assert_true(overhead >= 10.0); /* the index alone is 8 / 0.8 */
}

/* ---- chunks: partitions over the memory budget -------------------------- */

/* A row of a chunk test, with the hash the writer is given. */
struct test_row {
    uint8_t *k;
    size_t kl;
    uint8_t *v;
    size_t vl;
    uint64_t hash;
};

static struct test_row *rows_new(size_t n)
{
    struct test_row *r = calloc(n ? n : 1, sizeof(*r));
    assert_non_null(r);
    return r;
}

static void row_set(struct test_row *r, const void *k, size_t kl,
                    const void *v, size_t vl, uint64_t hash)
{
    r->k = malloc(kl ? kl : 1);
    r->v = malloc(vl ? vl : 1);
    assert_non_null(r->k);
    assert_non_null(r->v);
    memcpy(r->k, k, kl);
    memcpy(r->v, v, vl);
    r->kl = kl;
    r->vl = vl;
    r->hash = hash;
}

static void rows_free(struct test_row *r, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(r[i].k);
        free(r[i].v);
    }
    free(r);
}

/*
 * Builds rows[0, n) into path (one partition of one) with a memory budget
 * (0: the default); returns finish's result, fills *info and err. Checks
 * that while the rows are added no file shows in the directory: the chunk
 * file is unlinked as soon as it is made.
 */
static int build_at(const char *path, enum snap_dup_policy dup,
                    uint64_t budget, const struct test_row *rows, size_t n,
                    struct snap_file_info *info, char *err, size_t errlen)
{
    struct snap_writer_options o = opts(0, 1, dup);
    o.memory_budget = budget;
    struct snap_writer *w = NULL;
    int before = dir_entries();
    assert_int_equal(snap_writer_create(path, &o, &w, err, errlen), 0);
    for (size_t i = 0; i < n; i++) {
        if (snap_writer_add(w, rows[i].k, rows[i].kl, rows[i].v, rows[i].vl,
                            rows[i].hash, err, errlen) != 0) {
            fail_msg("add: %s", err);
        }
    }
    assert_int_equal(dir_entries(), before);
    int rc = snap_writer_finish(w, info, err, errlen);
    snap_writer_destroy(&w);
    return rc;
}

/*
 * Builds rows in memory (default budget) and with each small budget; the
 * files must be equal byte for byte, the small budgets having gone through
 * chunks (more than one unless the rows are few). Leaves the in-memory
 * file at seg_path and only it; returns its info.
 */
static struct snap_file_info assert_chunked_same(enum snap_dup_policy dup,
                                                 const struct test_row *rows,
                                                 size_t n)
{
    static const uint64_t budgets[] = {1, 700, 4096, 64 << 10};
    char err[256], path[160];
    struct snap_file_info mem, ch;
    if (build_at(seg_path, dup, 0, rows, n, &mem, err, sizeof(err)) != 0) {
        fail_msg("in memory: %s", err);
    }
    assert_int_equal(mem.chunks, 0);
    size_t mem_len;
    uint8_t *mem_bytes = read_all(seg_path, &mem_len);
    snprintf(path, sizeof(path), "%s/chunked.seg", tmpdir);
    for (size_t b = 0; b < sizeof(budgets) / sizeof(budgets[0]); b++) {
        if (build_at(path, dup, budgets[b], rows, n, &ch, err,
                     sizeof(err)) != 0) {
            fail_msg("budget %u: %s", (unsigned)budgets[b], err);
        }
        if (n > 100) {
            assert_true(ch.chunks > 1);
        }
        if (budgets[b] == 1) {
            assert_int_equal(ch.chunks, n); /* a chunk per row */
        }
        assert_int_equal(ch.rows, mem.rows);
        assert_int_equal(ch.duplicates, mem.duplicates);
        assert_int_equal(ch.bytes, mem.bytes);
        assert_int_equal(ch.checksum, mem.checksum);
        assert_int_equal(ch.key_bytes, mem.key_bytes);
        assert_int_equal(ch.value_bytes, mem.value_bytes);
        size_t len;
        uint8_t *bytes = read_all(path, &len);
        assert_int_equal(len, mem_len);
        assert_memory_equal(bytes, mem_bytes, len);
        free(bytes);
        assert_int_equal(dir_entries(), 2); /* the two segments, no more */
        assert_int_equal(unlink(path), 0);
    }
    free(mem_bytes);
    assert_int_equal(dir_entries(), 1);
    return mem;
}

/*
 * Mixed rows: text and binary keys, empty values, a value larger than a
 * chunk's read buffer, and 64-bit hash collisions between different keys
 * (forced: the writer trusts the caller's hash), some of them at the very
 * end of the hash range so their slots wrap around.
 */
static size_t mixed_rows(struct test_row *rows, uint32_t n)
{
    uint8_t k[64], v[256];
    static uint8_t big[100000];
    size_t m = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t kl = make_key(i, k), vl = make_value(i, v);
        uint64_t h = XXH3_64bits(k, kl);
        if (i % 10 == 0) {
            h = UINT64_C(0x123456789abcdef0); /* collides with other keys */
        } else if (i % 97 == 0) {
            h = UINT64_MAX - i % 3; /* home slot at the end: wraps */
        }
        if (i == n / 2) {
            memset(big, 'B', sizeof(big));
            row_set(&rows[m++], k, kl, big, sizeof(big), h);
        } else {
            row_set(&rows[m++], k, kl, v, vl, h);
        }
    }
    return m;
}

/* SNAP_DUP_ERROR without duplicates: chunks give the in-memory bytes. */
static void test_chunks_same_bytes(void **state)
{
    (void)state;
    const uint32_t n = 3000;
    struct test_row *rows = rows_new(n);
    size_t m = mixed_rows(rows, n);
    struct snap_file_info info = assert_chunked_same(SNAP_DUP_ERROR, rows, m);
    assert_int_equal(info.rows, n);
    assert_int_equal(info.duplicates, 0);
    struct snap_image img;
    uint8_t *buf;
    open_image(&img, &buf, NULL);
    const uint8_t *got;
    size_t glen;
    for (size_t i = 0; i < m; i++) {
        assert_true(snap_image_get(&img, rows[i].k, rows[i].kl, rows[i].hash,
                                   &got, &glen));
        assert_int_equal(glen, rows[i].vl);
        assert_memory_equal(got, rows[i].v, glen);
    }
    free(buf);
    rows_free(rows, m);
}

/*
 * SNAP_DUP_LAST with duplicates far apart in the input, so in different
 * chunks, among colliding keys too: the last row of a key in input order
 * wins, as in memory, and the files are the same.
 */
static void test_chunks_dup_last(void **state)
{
    (void)state;
    const uint32_t n = 2000;
    struct test_row *rows = rows_new(3 * n + 4);
    size_t m = mixed_rows(rows, n);
    uint8_t k[64], v[32];
    for (uint32_t round = 1; round <= 2; round++) {
        for (uint32_t i = 0; i < n; i += 3) {
            size_t kl = make_key(i, k);
            int vl = snprintf((char *)v, sizeof(v), "round %u of %u", round,
                              i);
            row_set(&rows[m++], k, kl, v, (size_t)vl, rows[i].hash);
        }
    }
    /* a key given first and last of all, with a colliding hash */
    struct test_row edge;
    row_set(&edge, "edge", 4, "first", 5, UINT64_C(0x123456789abcdef0));
    memmove(&rows[1], &rows[0], m * sizeof(*rows));
    rows[0] = edge;
    m++;
    row_set(&rows[m++], "edge", 4, "final", 5, edge.hash);
    struct snap_file_info info = assert_chunked_same(SNAP_DUP_LAST, rows, m);
    uint32_t repeated = (n + 2) / 3;
    assert_int_equal(info.rows, n + 1);
    assert_int_equal(info.duplicates, 2 * repeated + 1);
    struct snap_image img;
    uint8_t *buf;
    open_image(&img, &buf, NULL);
    const uint8_t *got;
    size_t glen;
    assert_true(snap_image_get(&img, "edge", 4, rows[0].hash, &got, &glen));
    assert_int_equal(glen, 5);
    assert_memory_equal(got, "final", 5);
    for (uint32_t i = 0; i < n; i++) {
        size_t kl = make_key(i, k);
        assert_true(snap_image_get(&img, k, kl, rows[1 + i].hash, &got,
                                   &glen));
        if (i % 3 == 0) {
            int vl = snprintf((char *)v, sizeof(v), "round 2 of %u", i);
            assert_int_equal(glen, (size_t)vl);
            assert_memory_equal(got, v, glen);
        } else {
            assert_int_equal(glen, rows[1 + i].vl);
        }
    }
    free(buf);
    rows_free(rows, m);
}

/*
 * SNAP_DUP_ERROR with one key given twice, first and last, in different
 * chunks (and colliding with other keys): the same error as in memory,
 * and nothing left in the directory.
 */
static void test_chunks_dup_error(void **state)
{
    (void)state;
    const uint32_t n = 1500;
    struct test_row *rows = rows_new(n + 2);
    size_t m = mixed_rows(rows, n);
    uint8_t k[64];
    size_t kl = make_key(30, k); /* hash forced to collide (i % 10 == 0) */
    row_set(&rows[m++], k, kl, "again", 5, rows[30].hash);
    char mem_err[256], err[256];
    struct snap_file_info info;
    assert_int_equal(build_at(seg_path, SNAP_DUP_ERROR, 0, rows, m, &info,
                              mem_err, sizeof(mem_err)), -1);
    assert_int_equal(errno, EEXIST);
    assert_int_equal(dir_entries(), 0);
    static const uint64_t budgets[] = {1, 4096};
    for (size_t b = 0; b < 2; b++) {
        assert_int_equal(build_at(seg_path, SNAP_DUP_ERROR, budgets[b], rows,
                                  m, &info, err, sizeof(err)), -1);
        assert_int_equal(errno, EEXIST);
        assert_string_equal(err, mem_err);
        assert_int_equal(info.rows, 0);
        assert_int_equal(info.chunks, 0);
        assert_int_equal(dir_entries(), 0);
    }
    assert_non_null(strstr(err, "duplicate key '"));
    rows_free(rows, m);
}

/*
 * No rows, one row, and one row bigger than the budget and the smallest
 * read buffer: the same bytes through chunks; and a writer destroyed
 * unfinished after its first chunks leaves nothing.
 */
static void test_chunks_small_partitions(void **state)
{
    (void)state;
    struct snap_file_info info = assert_chunked_same(SNAP_DUP_ERROR, NULL, 0);
    assert_int_equal(info.rows, 0);
    assert_int_equal(unlink(seg_path), 0);
    struct test_row *rows = rows_new(1);
    row_set(&rows[0], "only", 4, "one", 3, XXH3_64bits("only", 4));
    info = assert_chunked_same(SNAP_DUP_LAST, rows, 1);
    assert_int_equal(info.rows, 1);
    assert_int_equal(unlink(seg_path), 0);
    rows_free(rows, 1);
    static uint8_t big[200000];
    memset(big, 0xab, sizeof(big));
    rows = rows_new(1);
    row_set(&rows[0], "", 0, big, sizeof(big), XXH3_64bits("", 0));
    info = assert_chunked_same(SNAP_DUP_ERROR, rows, 1);
    assert_int_equal(info.value_bytes, sizeof(big));
    assert_int_equal(unlink(seg_path), 0);
    rows_free(rows, 1);

    struct snap_writer_options o = opts(0, 1, SNAP_DUP_ERROR);
    o.memory_budget = 1;
    struct snap_writer *w = new_writer(&o);
    add(w, "a", 1, "1", 1);
    add(w, "b", 1, "2", 1);
    add(w, "c", 1, "3", 1);
    snap_writer_destroy(&w);
    assert_int_equal(dir_entries(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_many_keys, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_empty_and_large_values,
                                        setup_dir, teardown_dir),
        cmocka_unit_test_setup_teardown(test_zero_rows, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_duplicates_error, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_duplicates_last, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_collisions_and_wrap, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_deterministic, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_refusals, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_write_failure, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_overhead_per_key, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_chunks_same_bytes, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_chunks_dup_last, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_chunks_dup_error, setup_dir,
                                        teardown_dir),
        cmocka_unit_test_setup_teardown(test_chunks_small_partitions,
                                        setup_dir, teardown_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
