/*
 * This file implements the fuzz target of the segment reader (segment.c
 * and the snap_image codec of common/snap_format.c it runs on its
 * mapping). An input is a whole segment file, with one change: when it is
 * long enough to have a footer, the harness writes the right checksum
 * (XXH3 of every byte before the footer) into the footer, so mutations get
 * past the checksum into the header checks, the index and the records.
 * The footer magic stays as the input has it.
 *
 * The 8 checksum bytes of the input are thus free, and their first byte
 * steers the harness: when its bit 0 is set, the header fields that follow
 * from the file size and the slot count (index offset, data offset, data
 * size) are made consistent first, so that inputs whose size the fuzzer
 * changed still reach the index and the records.
 *
 * The file is read twice, and both readers must agree:
 *   - segment_open() on a memfd holding it (the node's mmap path), then
 *     segment_get() and segment_next();
 *   - snap_image_open() on a heap copy of exactly its size, so that
 *     AddressSanitizer catches any read outside the image (a mapping has
 *     no redzones), with every returned pointer checked to lie inside it.
 * Lookups: the first keys iteration returns, a few fixed keys, and one key
 * with a hash taken from the input (which no real key need have: a lookup
 * must stay inside the image whatever the hash).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "fuzz_check.h"
#include "memfile.h"
#include "segment.h"
#include "snap_format.h"
#include "transcript.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keys from iteration that are also looked up. */
enum { LOOKUPS_FROM_ITERATION = 16 };

static const struct {
    const char *k;
    size_t len;
} fixed_keys[] = {{"", 0}, {"a", 1}, {"k", 1}, {"key1", 4}, {"\0", 1}};

/* Makes the size-derived header fields agree with the file's size. */
static void repair_header(uint8_t *img, size_t size)
{
    uint64_t body = size - SNAP_FOOTER_BYTES;
    uint64_t slots = snap_le64(img + SNAP_H_SLOTS);
    uint64_t max_slots = (body - SNAP_HEADER_BYTES) / SNAP_SLOT_BYTES;
    if (slots > max_slots) {
        slots = max_slots;
    }
    uint64_t data_off = SNAP_HEADER_BYTES + slots * SNAP_SLOT_BYTES;
    snap_put_le64(img + SNAP_H_SLOTS, slots);
    snap_put_le64(img + SNAP_H_INDEX_OFF, SNAP_HEADER_BYTES);
    snap_put_le64(img + SNAP_H_DATA_OFF, data_off);
    snap_put_le64(img + SNAP_H_DATA_BYTES, body - data_off);
}

/* True if [p, p + n) lies inside the image img[0, size). */
static bool inside(const uint8_t *img, size_t size, const void *p, size_t n)
{
    const uint8_t *q = p;
    return q >= img && q <= img + size && n <= (size_t)(img + size - q);
}

/* Reads the image through snap_image_*; records what it saw. */
static int read_image(const uint8_t *img, size_t size, uint64_t odd_hash,
                      struct transcript *t)
{
    struct snap_image si;
    char err[256] = "";
    uint64_t sum = 0;
    if (snap_image_open(&si, img, size, &sum, err, sizeof(err)) != 0) {
        CHECK(err[0] != '\0');
        return -1;
    }
    CHECK(sum == XXH3_64bits(img, size));
    transcript_u64(t, si.h.rows);

    uint64_t cursor = 0;
    const uint8_t *k, *v;
    size_t kl, vl;
    int rc;
    size_t records = 0;
    const uint8_t *keys[LOOKUPS_FROM_ITERATION];
    size_t key_lens[LOOKUPS_FROM_ITERATION];
    while ((rc = snap_image_next(&si, &cursor, &k, &kl, &v, &vl)) == 1) {
        CHECK(inside(img, size, k, kl) && inside(img, size, v, vl));
        CHECK(++records <= size);
        transcript_str(t, k, kl);
        transcript_str(t, v, vl);
        if (records <= LOOKUPS_FROM_ITERATION) {
            keys[records - 1] = k;
            key_lens[records - 1] = kl;
        }
    }
    CHECK(rc == 0 || rc == -1);
    transcript_u64(t, (uint64_t)rc);

    size_t nkeys = records < LOOKUPS_FROM_ITERATION ? records
                                                    : LOOKUPS_FROM_ITERATION;
    for (size_t i = 0; i < nkeys; i++) {
        bool found = snap_image_get(&si, keys[i], key_lens[i],
                                    XXH3_64bits(keys[i], key_lens[i]), &v,
                                    &vl);
        CHECK(!found || inside(img, size, v, vl));
        transcript_u64(t, found);
        if (found) {
            transcript_str(t, v, vl);
        }
    }
    for (size_t i = 0; i < sizeof(fixed_keys) / sizeof(fixed_keys[0]); i++) {
        bool found = snap_image_get(&si, fixed_keys[i].k, fixed_keys[i].len,
                                    XXH3_64bits(fixed_keys[i].k,
                                                fixed_keys[i].len),
                                    &v, &vl);
        CHECK(!found || inside(img, size, v, vl));
        transcript_u64(t, found);
    }
    bool found = snap_image_get(&si, "k", 1, odd_hash, &v, &vl);
    CHECK(!found || inside(img, size, v, vl));
    return 0;
}

/* Reads the same bytes as a file through segment.h; records the same. */
static int read_file(const char *path, const uint8_t *img, size_t size,
                     struct transcript *t)
{
    struct segment *s = NULL;
    char err[512] = "";
    if (segment_open(path, NULL, 0, &s, NULL, err, sizeof(err)) != 0) {
        CHECK(s == NULL && err[0] != '\0');
        return -1;
    }
    CHECK(segment_mapped_bytes(s) == size);
    CHECK(segment_checksum(s) == XXH3_64bits(img, size));
    CHECK(segment_resident_bytes(s) <= size);
    transcript_u64(t, segment_rows(s));

    uint64_t cursor = 0;
    const char *k, *v;
    size_t kl, vl;
    int rc;
    size_t records = 0;
    const char *keys[LOOKUPS_FROM_ITERATION];
    size_t key_lens[LOOKUPS_FROM_ITERATION];
    while ((rc = segment_next(s, &cursor, &k, &kl, &v, &vl)) == 1) {
        CHECK(++records <= size);
        transcript_str(t, k, kl);
        transcript_str(t, v, vl);
        if (records <= LOOKUPS_FROM_ITERATION) {
            keys[records - 1] = k;
            key_lens[records - 1] = kl;
        }
    }
    transcript_u64(t, (uint64_t)rc);

    size_t nkeys = records < LOOKUPS_FROM_ITERATION ? records
                                                    : LOOKUPS_FROM_ITERATION;
    for (size_t i = 0; i < nkeys; i++) {
        bool found = segment_get(s, keys[i], key_lens[i],
                                 XXH3_64bits(keys[i], key_lens[i]), &v, &vl);
        transcript_u64(t, found);
        if (found) {
            transcript_str(t, v, vl);
        }
    }
    for (size_t i = 0; i < sizeof(fixed_keys) / sizeof(fixed_keys[0]); i++) {
        bool found = segment_get(s, fixed_keys[i].k, fixed_keys[i].len,
                                 XXH3_64bits(fixed_keys[i].k,
                                             fixed_keys[i].len),
                                 &v, &vl);
        transcript_u64(t, found);
    }
    segment_close(&s);
    CHECK(s == NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct memfile file = {.fd = -1};
    if (file.fd < 0) {
        memfile_open(&file, "fuzz_segment");
    }
    uint8_t *img = malloc(size > 0 ? size : 1);
    CHECK(img != NULL);
    memcpy(img, data, size);
    uint64_t odd_hash = 0;
    if (size >= SNAP_HEADER_BYTES + SNAP_FOOTER_BYTES) {
        size_t body = size - SNAP_FOOTER_BYTES;
        odd_hash = snap_le64(img + body);
        if (img[body] & 1) {
            repair_header(img, size);
        }
        snap_put_le64(img + body, XXH3_64bits(img, body));
    }

    struct transcript by_image = {0}, by_file = {0};
    int rc_image = read_image(img, size, odd_hash, &by_image);
    int rc_file = read_file(memfile_set(&file, img, size), img, size,
                            &by_file);
    CHECK(rc_image == rc_file);
    transcript_expect_equal(&by_image, &by_file, "image vs file");
    transcript_clear(&by_image);
    transcript_clear(&by_file);
    free(img);
    return 0;
}
