/*
 * This file implements the unit tests of the segment reader
 * (common/segment.c, over the codec of common/snap_format.c): opening,
 * lookups, iteration, residency and locking; refusal of damaged files
 * (every byte of a small image flipped in memory, a sample of byte
 * positions flipped in files, truncation at many lengths), of files that
 * are not what the caller expects (table, version, partition, checksum),
 * and of formats this build does not read, with the exact message for a
 * newer one; bounds checks that keep lookups inside the image even when a
 * damaged image carries a valid checksum; and, where the machine supports
 * it, 2 MiB pages for a segment copied in as a node copies one, both when
 * its pages are still cached and when they are read back from disk.
 *
 * Segments are built here by a deliberately simple encoder (records in
 * input order, slots filled by plain linear-probing insertion), written
 * from the format description rather than with the loader's writer, so the
 * reader is checked against the format, not against one writer's choices.
 * Only format 1 exists so far: the tests check that every format in
 * [segment_format_oldest(), segment_format_newest()] is read and that
 * newest + 1 is refused (when format 2 arrives, format 1 files stay here
 * as the N-1 case).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <xxhash.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "segment.h"
#include "snap_format.h"
#include "store_backend.h"
#include "test_pieces.h"
#include "test_proc.h"
#include "test_tmpdir.h"

/* ---- a test encoder ------------------------------------------------------ */

struct row {
    const void *k;
    size_t kl;
    const void *v;
    size_t vl;
};

/* Recomputes the footer (checksum and magic) of an image. */
static void reseal(uint8_t *img, size_t len)
{
    size_t body = len - SNAP_FOOTER_BYTES;
    snap_put_le64(img + body, XXH3_64bits(img, body));
    memcpy(img + body + 8, SNAP_FOOTER_MAGIC, SNAP_MAGIC_BYTES);
}

/* A segment image of rows, with header fields from tmpl; caller frees. */
static uint8_t *build_image(const struct snap_header *tmpl,
                            const struct row *rows, size_t n, size_t *len)
{
    struct snap_header h = *tmpl;
    h.rows = n;
    h.index_off = SNAP_HEADER_BYTES;
    h.slots = snap_slots_for(n);
    h.data_off = h.index_off + h.slots * SNAP_SLOT_BYTES;
    h.data_bytes = h.key_bytes = h.value_bytes = 0;
    for (size_t i = 0; i < n; i++) {
        h.data_bytes += snap_record_size(rows[i].kl, rows[i].vl);
        h.key_bytes += rows[i].kl;
        h.value_bytes += rows[i].vl;
    }
    *len = h.data_off + h.data_bytes + SNAP_FOOTER_BYTES;
    uint8_t *img = calloc(1, *len);
    assert_non_null(img);
    snap_header_encode(&h, img);
    uint64_t off = h.data_off;
    for (size_t i = 0; i < n; i++) {
        uint64_t hash = XXH3_64bits(rows[i].k, rows[i].kl);
        uint64_t s = snap_slot_home(hash, h.slots);
        while (snap_le64(img + h.index_off + s * 8) != 0) {
            s = (s + 1) % h.slots;
        }
        snap_put_le64(img + h.index_off + s * 8, snap_slot_make(hash, off));
        uint8_t *p = img + off;
        p += snap_varint_put(p, rows[i].kl);
        p += snap_varint_put(p, rows[i].vl);
        memcpy(p, rows[i].k, rows[i].kl);
        memcpy(p + rows[i].kl, rows[i].v, rows[i].vl);
        off += snap_record_size(rows[i].kl, rows[i].vl);
    }
    reseal(img, *len);
    return img;
}

static struct snap_header header_template(void)
{
    struct snap_header h = {
        .format = SNAP_FORMAT_NEWEST,
        .partition = 5,
        .partitions = 16,
        .version = 7,
    };
    snprintf(h.table, sizeof(h.table), "recs_top");
    return h;
}

/* ---- fixtures ------------------------------------------------------------ */

enum { NROWS = 500 };

static char tmpdir[64];
static char path[128];
static char keys[NROWS][24];
static char vals[NROWS][80];
static struct row rows[NROWS];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/larder-seg-XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(path, sizeof(path), "%s/part-00005.seg", tmpdir);
    for (int i = 0; i < NROWS; i++) {
        int kl = snprintf(keys[i], sizeof(keys[i]), "item:%d", i * 7919);
        int vl = snprintf(vals[i], sizeof(vals[i]), "{\"score\":%d}", i);
        if (i % 10 == 0) {
            keys[i][2] = '\0'; /* binary keys */
        }
        rows[i] = (struct row){keys[i], (size_t)kl, vals[i],
                               i % 13 == 0 ? 0 : (size_t)vl};
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_tmpdir_remove(tmpdir);
    return 0;
}

static void write_file(const char *p, const uint8_t *data, size_t len)
{
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static struct segment_expect expect_of(const uint8_t *img, size_t len)
{
    struct segment_expect e = {
        .table = "recs_top",
        .version = 7,
        .partition = 5,
        .checksum = XXH3_64bits(img, len),
    };
    return e;
}

/* Opens path; returns the status and leaves the message in err. */
static int try_open(const struct segment_expect *e, char *err, size_t n)
{
    struct segment *s = NULL;
    bool locked = true;
    int rc = segment_open(path, e, 0, &s, &locked, err, n);
    if (rc == 0) {
        assert_non_null(s);
        segment_close(&s);
    } else {
        assert_null(s);
        assert_false(locked);
    }
    return rc;
}

static void assert_refused(const struct segment_expect *e, const char *what)
{
    char err[512];
    assert_int_equal(try_open(e, err, sizeof(err)), -1);
    if (strstr(err, what) == NULL) {
        fail_msg("expected '%s' in: %s", what, err);
    }
}

/* ---- tests --------------------------------------------------------------- */

static void test_open_get_iterate(void **state)
{
    (void)state;
    struct snap_header t = header_template();
    t.dims = 8;
    size_t len;
    uint8_t *img = build_image(&t, rows, NROWS, &len);
    write_file(path, img, len);
    struct segment_expect e = expect_of(img, len);
    struct segment *s = NULL;
    char err[256];
    bool locked = true;
    if (segment_open(path, &e, 0, &s, &locked, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_false(locked);
    assert_false(segment_locked(s));
    assert_int_equal(segment_rows(s), NROWS);
    assert_int_equal(segment_mapped_bytes(s), len);
    assert_int_equal(segment_checksum(s), e.checksum);
    const struct snap_header *h = segment_header(s);
    assert_string_equal(h->table, "recs_top");
    assert_int_equal(h->partitions, 16);
    assert_int_equal(h->dims, 8);
    /* Verification read every page: all of it is resident now. */
    assert_int_equal(segment_resident_bytes(s), len);

    for (int i = 0; i < NROWS; i++) {
        const char *v;
        size_t vl;
        uint64_t hash = XXH3_64bits(rows[i].k, rows[i].kl);
        assert_true(segment_get(s, rows[i].k, rows[i].kl, hash, &v, &vl));
        assert_int_equal(vl, rows[i].vl);
        assert_memory_equal(v, rows[i].v, vl);
        /* the key with one more byte is absent */
        char longer[32];
        memcpy(longer, rows[i].k, rows[i].kl);
        longer[rows[i].kl] = '!';
        assert_false(segment_get(s, longer, rows[i].kl + 1,
                                 XXH3_64bits(longer, rows[i].kl + 1), &v,
                                 &vl));
    }
    uint64_t cursor = 0;
    const char *k, *v;
    size_t kl, vl;
    int n = 0, rc;
    while ((rc = segment_next(s, &cursor, &k, &kl, &v, &vl)) == 1) {
        assert_int_equal(kl, rows[n].kl); /* this encoder keeps input order */
        assert_memory_equal(k, rows[n].k, kl);
        n++;
    }
    assert_int_equal(rc, 0);
    assert_int_equal(n, NROWS);
    segment_close(&s);
    assert_null(s);
    segment_close(&s);

    /* No expectations at all is allowed too. */
    assert_int_equal(segment_open(path, NULL, 0, &s, NULL, err, sizeof(err)),
                     0);
    segment_close(&s);
    free(img);
}

/* POPULATE and MLOCK: the segment opens whether or not the lock holds. */
static void test_populate_and_lock(void **state)
{
    (void)state;
    struct snap_header t = header_template();
    size_t len;
    uint8_t *img = build_image(&t, rows, NROWS, &len);
    write_file(path, img, len);
    struct segment_expect e = expect_of(img, len);
    struct segment *s = NULL;
    char err[256];
    bool locked = false;
    if (segment_open(path, &e, SEGMENT_POPULATE | SEGMENT_MLOCK, &s, &locked,
                     err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    assert_int_equal(locked, segment_locked(s));
    assert_int_equal(segment_resident_bytes(s), len);
    const char *v;
    size_t vl;
    assert_true(segment_get(s, rows[3].k, rows[3].kl,
                            XXH3_64bits(rows[3].k, rows[3].kl), &v, &vl));
    segment_close(&s);
    free(img);
}

static void test_zero_rows(void **state)
{
    (void)state;
    struct snap_header t = header_template();
    size_t len;
    uint8_t *img = build_image(&t, NULL, 0, &len);
    write_file(path, img, len);
    struct segment_expect e = expect_of(img, len);
    struct segment *s = NULL;
    char err[256];
    assert_int_equal(segment_open(path, &e, 0, &s, NULL, err, sizeof(err)),
                     0);
    assert_int_equal(segment_rows(s), 0);
    const char *v;
    size_t vl;
    assert_false(segment_get(s, "x", 1, XXH3_64bits("x", 1), &v, &vl));
    segment_close(&s);
    free(img);
}

/* Classifies the error expected when byte pos of the image is damaged. */
static const char *damage_message(size_t pos, size_t len)
{
    if (pos < SNAP_H_FORMAT) {
        return "bad magic";
    }
    if (pos < SNAP_H_FORMAT + 4) {
        return "format";
    }
    if (pos >= len - SNAP_MAGIC_BYTES) {
        return "footer magic";
    }
    return "checksum mismatch";
}

/* Every byte of a small image, flipped in memory, is caught. */
static void test_flip_every_byte_in_memory(void **state)
{
    (void)state;
    struct snap_header t = header_template();
    size_t len;
    uint8_t *img = build_image(&t, rows, 40, &len);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    for (size_t pos = 0; pos < len; pos++) {
        memcpy(copy, img, len);
        copy[pos] ^= (uint8_t)(1u << (pos % 8));
        struct snap_image si;
        char err[256];
        assert_int_equal(snap_image_open(&si, copy, len, NULL, err,
                                         sizeof(err)), -1);
        const char *want = damage_message(pos, len);
        if (strstr(err, want) == NULL) {
            fail_msg("byte %zu: expected '%s' in: %s", pos, want, err);
        }
    }
    free(copy);
    free(img);
}

/* A sample of byte positions flipped in files: segment_open refuses. */
static void test_flip_sampled_bytes_in_files(void **state)
{
    (void)state;
    struct snap_header t = header_template();
    size_t len;
    uint8_t *img = build_image(&t, rows, NROWS, &len);
    struct segment_expect e = expect_of(img, len);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    int tried = 0;
    for (size_t pos = 0; pos < len; pos += pos < 200 ? 3 : 211) {
        memcpy(copy, img, len);
        copy[pos] ^= 0xa5;
        write_file(path, copy, len);
        assert_refused(&e, damage_message(pos, len));
        tried++;
    }
    for (size_t pos = len - SNAP_FOOTER_BYTES; pos < len; pos++) {
        memcpy(copy, img, len);
        copy[pos] ^= 0x10;
        write_file(path, copy, len);
        assert_refused(&e, damage_message(pos, len));
        tried++;
    }
    assert_true(tried > 100);
    /* the undamaged image still opens */
    write_file(path, img, len);
    char err[256];
    assert_int_equal(try_open(&e, err, sizeof(err)), 0);
    free(copy);
    free(img);
}

static void test_truncated(void **state)
{
    (void)state;
    struct snap_header t = header_template();
    size_t len;
    uint8_t *img = build_image(&t, rows, NROWS, &len);
    struct segment_expect e = expect_of(img, len);
    const size_t cuts[] = {0, 1, 7, 11, 100, SNAP_HEADER_BYTES,
                           SNAP_HEADER_BYTES + SNAP_FOOTER_BYTES - 1,
                           len / 2, len - SNAP_FOOTER_BYTES, len - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        write_file(path, img, cuts[i]);
        char err[256];
        assert_int_equal(try_open(&e, err, sizeof(err)), -1);
        bool named = strstr(err, "truncated") != NULL ||
                     strstr(err, "bad magic") != NULL;
        if (!named) {
            fail_msg("cut at %zu: %s", cuts[i], err);
        }
    }
    /* A file with bytes appended is refused too. */
    uint8_t *longer = calloc(1, len + 8);
    assert_non_null(longer);
    memcpy(longer, img, len);
    write_file(path, longer, len + 8);
    assert_refused(&e, "footer magic");
    free(longer);
    free(img);
}

static void test_wrong_expectations(void **state)
{
    (void)state;
    struct snap_header t = header_template();
    size_t len;
    uint8_t *img = build_image(&t, rows, 10, &len);
    write_file(path, img, len);
    struct segment_expect e = expect_of(img, len);
    struct segment_expect bad = e;
    bad.table = "recs_top2";
    assert_refused(&bad, "holds table 'recs_top', expected 'recs_top2'");
    bad = e;
    bad.version = 8;
    assert_refused(&bad, "holds version 7, expected 8");
    bad = e;
    bad.partition = 4;
    assert_refused(&bad, "holds partition 5, expected 4");
    bad = e;
    bad.checksum ^= 1;
    assert_refused(&bad, "differs from the manifest");
    bad = e;
    bad.checksum = 0; /* not compared */
    char err[256];
    assert_int_equal(try_open(&bad, err, sizeof(err)), 0);
    free(img);
}

/* Formats in [oldest, newest] are read; newer and older are refused. */
static void test_format_versions(void **state)
{
    (void)state;
    assert_int_equal(segment_format_newest(), SNAP_FORMAT_NEWEST);
    assert_int_equal(segment_format_oldest(), SNAP_FORMAT_OLDEST);
    assert_true(segment_format_oldest() <= segment_format_newest());
    assert_true(segment_format_newest() - segment_format_oldest() <= 1);
    char err[256];
    for (uint32_t f = segment_format_oldest(); f <= segment_format_newest();
         f++) {
        struct snap_header t = header_template();
        t.format = f;
        size_t len;
        uint8_t *img = build_image(&t, rows, 10, &len);
        write_file(path, img, len);
        struct segment_expect e = expect_of(img, len);
        assert_int_equal(try_open(&e, err, sizeof(err)), 0);
        free(img);
    }

    struct snap_header t = header_template();
    t.format = segment_format_newest() + 1;
    size_t len;
    uint8_t *img = build_image(&t, rows, 10, &len);
    write_file(path, img, len);
    struct segment_expect e = expect_of(img, len);
    assert_int_equal(try_open(&e, err, sizeof(err)), -1);
    char want[160];
    snprintf(want, sizeof(want),
             "segment format %u is newer than this build reads (max %u); "
             "upgrade larderd", segment_format_newest() + 1,
             segment_format_newest());
    if (strstr(err, want) == NULL) {
        fail_msg("expected '%s' in: %s", want, err);
    }
    free(img);

    t.format = segment_format_oldest() - 1;
    img = build_image(&t, rows, 10, &len);
    write_file(path, img, len);
    e = expect_of(img, len);
    assert_refused(&e, "older than this build reads");
    free(img);
}

static void test_missing_and_not_a_segment(void **state)
{
    (void)state;
    char err[256];
    assert_int_equal(try_open(NULL, err, sizeof(err)), -1);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, strerror(ENOENT)));
    uint8_t junk[4096];
    memset(junk, 'j', sizeof(junk));
    write_file(path, junk, sizeof(junk));
    assert_refused(NULL, "bad magic");
}

/*
 * Damage that keeps a valid checksum (written so on purpose): header
 * fields out of range are refused on open; slots and records pointing
 * outside the data region make lookups miss and iteration stop, never
 * read outside the image (an exactly sized heap copy, for ASan).
 */
static void test_bounds_with_valid_checksum(void **state)
{
    (void)state;
    struct snap_header t = header_template();
    size_t len;
    uint8_t *img = build_image(&t, rows, 20, &len);
    uint64_t slots = snap_le64(img + SNAP_H_SLOTS);
    uint64_t data_off = snap_le64(img + SNAP_H_DATA_OFF);
    uint8_t *copy = malloc(len);
    assert_non_null(copy);
    struct snap_image si;
    char err[256];

    /* Header fields that do not fit the file. */
    const struct {
        size_t field;
        uint64_t value;
        bool wide;
        const char *what;
    } fields[] = {
        {SNAP_H_SLOTS, slots + 1, true, "data offset"},
        {SNAP_H_SLOTS, 0, true, "slot or row count"},
        {SNAP_H_ROWS, slots, true, "slot or row count"},
        {SNAP_H_DATA_OFF, data_off + 1, true, "data offset"},
        {SNAP_H_DATA_BYTES, 1, true, "data size"},
        {SNAP_H_INDEX_OFF, 160, true, "index offset"},
        {SNAP_H_KEY_BYTES, UINT64_MAX, true, "totals"},
        {SNAP_H_PARTITION, 16, false, "partition"},
        {SNAP_H_PARTITIONS, 0, false, "partition"},
        {SNAP_H_TABLE, 0x20, false, "table name"},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        memcpy(copy, img, len);
        if (fields[i].wide) {
            snap_put_le64(copy + fields[i].field, fields[i].value);
        } else {
            snap_put_le32(copy + fields[i].field, (uint32_t)fields[i].value);
        }
        reseal(copy, len);
        assert_int_equal(snap_image_open(&si, copy, len, NULL, err,
                                         sizeof(err)), -1);
        if (strstr(err, fields[i].what) == NULL) {
            fail_msg("field at %zu: expected '%s' in: %s", fields[i].field,
                     fields[i].what, err);
        }
    }

    /* The slot of rows[0] points past the data, into the footer. */
    uint64_t h0 = XXH3_64bits(rows[0].k, rows[0].kl);
    memcpy(copy, img, len);
    for (uint64_t s = 0; s < slots; s++) {
        uint8_t *slot = copy + SNAP_HEADER_BYTES + s * 8;
        uint64_t w = snap_le64(slot);
        if (w != 0 && (w & SNAP_OFF_MASK) == data_off) {
            snap_put_le64(slot, snap_slot_make(h0, len - 4));
        }
    }
    reseal(copy, len);
    assert_int_equal(snap_image_open(&si, copy, len, NULL, err, sizeof(err)),
                     0);
    const uint8_t *v;
    size_t vl;
    assert_false(snap_image_get(&si, rows[0].k, rows[0].kl, h0, &v, &vl));
    assert_true(snap_image_get(&si, rows[1].k, rows[1].kl,
                               XXH3_64bits(rows[1].k, rows[1].kl), &v, &vl));

    /* The last record claims a value running past the data region. */
    memcpy(copy, img, len);
    uint64_t last_off = data_off;
    for (int i = 0; i < 19; i++) {
        last_off += snap_record_size(rows[i].kl, rows[i].vl);
    }
    assert_true(rows[19].kl < 128 && rows[19].vl < 128);
    copy[last_off + 1] = 0x7f; /* its one-byte vlen */
    reseal(copy, len);
    assert_int_equal(snap_image_open(&si, copy, len, NULL, err, sizeof(err)),
                     0);
    uint64_t h19 = XXH3_64bits(rows[19].k, rows[19].kl);
    assert_false(snap_image_get(&si, rows[19].k, rows[19].kl, h19, &v, &vl));
    uint64_t cursor = 0;
    const uint8_t *k;
    size_t kl;
    int rc, n = 0;
    while ((rc = snap_image_next(&si, &cursor, &k, &kl, &v, &vl)) == 1) {
        n++;
    }
    assert_int_equal(rc, -1);
    assert_int_equal(n, 19);

    /*
     * The last record made 3 bytes shorter: those bytes, 0xff, are an
     * unterminated varint at the very end of the data region, which a
     * slot now points at.
     */
    memcpy(copy, img, len);
    assert_true(rows[19].vl >= 3);
    copy[last_off + 1] = (uint8_t)(rows[19].vl - 3);
    memset(copy + len - SNAP_FOOTER_BYTES - 3, 0xff, 3);
    for (uint64_t s = 0; s < slots; s++) {
        uint8_t *slot = copy + SNAP_HEADER_BYTES + s * 8;
        if (snap_le64(slot) != 0 && (snap_le64(slot) & SNAP_OFF_MASK) ==
                                        data_off) {
            snap_put_le64(slot, snap_slot_make(h0, len - SNAP_FOOTER_BYTES -
                                                       3));
        }
    }
    reseal(copy, len);
    assert_int_equal(snap_image_open(&si, copy, len, NULL, err, sizeof(err)),
                     0);
    assert_false(snap_image_get(&si, rows[0].k, rows[0].kl, h0, &v, &vl));
    assert_true(snap_image_get(&si, rows[19].k, rows[19].kl, h19, &v, &vl));
    assert_int_equal(vl, rows[19].vl - 3);
    cursor = 0;
    n = 0;
    while ((rc = snap_image_next(&si, &cursor, &k, &kl, &v, &vl)) == 1) {
        n++;
    }
    assert_int_equal(rc, -1);
    assert_int_equal(n, 20);

    /* A full index (no empty slot) still ends every probe. */
    memcpy(copy, img, len);
    for (uint64_t s = 0; s < slots; s++) {
        uint8_t *slot = copy + SNAP_HEADER_BYTES + s * 8;
        if (snap_le64(slot) == 0) {
            snap_put_le64(slot, (UINT64_C(0xabcdef) << SNAP_OFF_BITS) |
                                    data_off);
        }
    }
    reseal(copy, len);
    assert_int_equal(snap_image_open(&si, copy, len, NULL, err, sizeof(err)),
                     0);
    assert_false(snap_image_get(&si, "absent", 6, XXH3_64bits("absent", 6),
                                &v, &vl));
    free(copy);
    free(img);
}

/* The varint codec: sizes, round trips and malformed input. */
static void test_varints(void **state)
{
    (void)state;
    const uint64_t nums[] = {0, 1, 127, 128, 16383, 16384, UINT32_MAX,
                             UINT64_MAX / 3, UINT64_MAX};
    uint8_t buf[SNAP_VARINT_MAX];
    for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++) {
        size_t n = snap_varint_put(buf, nums[i]);
        assert_int_equal(n, snap_varint_size(nums[i]));
        uint64_t got;
        assert_int_equal(snap_varint_get(buf, buf + n, &got), n);
        assert_int_equal(got, nums[i]);
        if (n > 1) {
            assert_int_equal(snap_varint_get(buf, buf + n - 1, &got), 0);
        }
    }
    uint8_t over[SNAP_VARINT_MAX + 1];
    memset(over, 0xff, sizeof(over));
    uint64_t got;
    assert_int_equal(snap_varint_get(over, over + sizeof(over), &got), 0);
    over[SNAP_VARINT_MAX - 1] = 0x02; /* bit 64: overflow */
    assert_int_equal(snap_varint_get(over, over + sizeof(over), &got), 0);
    over[SNAP_VARINT_MAX - 1] = 0x01;
    assert_int_equal(snap_varint_get(over, over + sizeof(over), &got),
                     SNAP_VARINT_MAX);
    assert_int_equal(got, UINT64_MAX);
}

/* ---- huge pages ------------------------------------------------------------ */

/* kB of file pages this process maps with 2 MiB pages, or -1. */
static long file_pmd_mapped_kb(void)
{
    return test_proc_kb("/proc/self/smaps_rollup", "FilePmdMapped");
}

/* True if a file in tmpdir written with one 4 MiB write() is mapped with
 * huge pages here: a kernel whose page cache holds that file system's
 * files in large folios, with transparent huge pages not disabled. */
static bool huge_file_pages_here(void)
{
    char probe[160];
    snprintf(probe, sizeof(probe), "%s/probe", tmpdir);
    size_t len = (size_t)4 << 20;
    char *data = calloc(1, len);
    assert_non_null(data);
    memset(data, 'p', len);
    FILE *f = fopen(probe, "wb");
    assert_non_null(f);
    assert_int_equal(write(fileno(f), data, len), (ssize_t)len);
    fclose(f);
    free(data);
    FILE *r = fopen(probe, "rb");
    assert_non_null(r);
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fileno(r), 0);
    fclose(r);
    assert_true(map != MAP_FAILED);
    long before = file_pmd_mapped_kb();
    (void)madvise(map, len, MADV_HUGEPAGE);
    (void)madvise(map, len, MADV_POPULATE_READ);
    long after = file_pmd_mapped_kb();
    munmap(map, len);
    unlink(probe);
    return before >= 0 && after - before >= 2048;
}

/*
 * A segment fetched the way a node fetches one (store_copy_stream, here
 * from a source of small pieces) and opened with SEGMENT_POPULATE is
 * mapped with 2 MiB pages where the machine can do it at all: lookups then
 * rarely miss the TLB. Skipped where the probe shows it cannot.
 */
static void test_huge_pages(void **state)
{
    (void)state;
    if (!huge_file_pages_here()) {
        skip();
    }
    enum { BIG_ROWS = 3000, BIG_VALUE = 2000 };
    static char big_keys[BIG_ROWS][16];
    static char big_value[BIG_VALUE];
    static struct row big_rows[BIG_ROWS];
    memset(big_value, 'v', sizeof(big_value));
    for (int i = 0; i < BIG_ROWS; i++) {
        int kl = snprintf(big_keys[i], sizeof(big_keys[i]), "k%d", i);
        big_rows[i] = (struct row){big_keys[i], (size_t)kl, big_value,
                                   sizeof(big_value)};
    }
    struct snap_header t = header_template();
    size_t len;
    uint8_t *img = build_image(&t, big_rows, BIG_ROWS, &len);
    assert_true(len > ((size_t)4 << 20));
    struct test_pieces src = {.data = img, .len = len};
    char err[256];
    uint64_t sum;
    if (store_copy_stream(test_pieces_read, &src, "segment", path, false, 0,
                          &sum, NULL, err, sizeof(err)) != 0) {
        fail_msg("%s", err);
    }
    struct segment_expect e = expect_of(img, len);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1) {
            /* Evict the file's pages: read back from disk, as after a
             * restart, it must come back in huge pages as well. */
            int fd = open(path, O_RDONLY);
            assert_true(fd >= 0);
            assert_int_equal(fsync(fd), 0);
            assert_int_equal(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
            close(fd);
        }
        long before = file_pmd_mapped_kb();
        struct segment *s = NULL;
        if (segment_open(path, &e, SEGMENT_POPULATE, &s, NULL, err,
                         sizeof(err)) != 0) {
            fail_msg("%s", err);
        }
        long after = file_pmd_mapped_kb();
        if (after - before < 2048) {
            if (!huge_file_pages_here()) {
                /* The kernel could not find free 2 MiB pages just now
                 * (memory fragmented): the probe fails too. */
                segment_close(&s);
                free(img);
                skip();
            }
            fail_msg("pass %d: the segment (%zu bytes) has %ld kB mapped with "
                     "huge pages", pass, len, after - before);
        }
        const char *v;
        size_t vl;
        const struct row *r = &big_rows[1234];
        assert_true(segment_get(s, r->k, r->kl, XXH3_64bits(r->k, r->kl), &v,
                                &vl));
        assert_int_equal(vl, BIG_VALUE);
        segment_close(&s);
    }
    free(img);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_open_get_iterate),
        T(test_populate_and_lock),
        T(test_zero_rows),
        T(test_flip_every_byte_in_memory),
        T(test_flip_sampled_bytes_in_files),
        T(test_truncated),
        T(test_wrong_expectations),
        T(test_format_versions),
        T(test_missing_and_not_a_segment),
        T(test_bounds_with_valid_checksum),
        T(test_varints),
        T(test_huge_pages),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
