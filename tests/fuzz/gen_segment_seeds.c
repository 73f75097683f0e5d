/*
 * This file implements gen_segment_seeds, which writes the segment files
 * of corpus/fuzz_segment/ with the loader's own writer
 * (loader/snapshot_writer.c), so the seeds are what nodes really read:
 *
 *   gen_segment_seeds DIR
 *
 * Each seed is small (under 2 KB) and covers one shape: no rows; a few
 * rows with an empty key and an empty value; values long enough for
 * two-byte length varints; binary keys with NUL bytes in partition 1 of
 * 2; a vector table (dims set).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <xxhash.h>

#include "snapshot_writer.h"

struct seed {
    const char *file;
    struct snap_writer_options o;
};

/* Row i of a seed, into key and value buffers; returns false past its end. */
typedef int (*row_fn)(unsigned i, char *k, size_t *kl, char *v, size_t *vl);

static int rows_none(unsigned i, char *k, size_t *kl, char *v, size_t *vl)
{
    (void)i, (void)k, (void)kl, (void)v, (void)vl;
    return 0;
}

static int rows_few(unsigned i, char *k, size_t *kl, char *v, size_t *vl)
{
    static const char *const kv[][2] = {
        {"a", "1"}, {"key1", "value1"}, {"", "empty key"}, {"nil", ""}};
    if (i >= sizeof(kv) / sizeof(kv[0])) {
        return 0;
    }
    *kl = strlen(kv[i][0]);
    *vl = strlen(kv[i][1]);
    memcpy(k, kv[i][0], *kl);
    memcpy(v, kv[i][1], *vl);
    return 1;
}

static int rows_long(unsigned i, char *k, size_t *kl, char *v, size_t *vl)
{
    if (i >= 12) {
        return 0;
    }
    *kl = (size_t)snprintf(k, 32, "user:%u", i);
    *vl = i == 5 ? 200 : 3 + i * 7;
    memset(v, 'a' + (int)i, *vl);
    return 1;
}

static int rows_binary(unsigned i, char *k, size_t *kl, char *v, size_t *vl)
{
    if (i >= 24) {
        return 0;
    }
    k[0] = '\0';
    k[1] = (char)(0xf0 + i % 16);
    k[2] = (char)i;
    *kl = 3;
    v[0] = (char)0x81; /* a msgpack map of one pair, as the loader stores */
    v[1] = (char)0xa1;
    v[2] = 's';
    v[3] = (char)(i & 0x7f);
    *vl = 4;
    return 1;
}

static int rows_vector(unsigned i, char *k, size_t *kl, char *v, size_t *vl)
{
    if (i >= 6) {
        return 0;
    }
    *kl = (size_t)snprintf(k, 32, "item%u", i);
    float f[4] = {(float)i, 0.5f, -1.0f, (float)i / 3};
    memcpy(v, f, sizeof(f));
    *vl = sizeof(f);
    return 1;
}

static int write_seed(const char *dir, const struct seed *s, row_fn rows)
{
    char path[4096], err[256];
    snprintf(path, sizeof(path), "%s/%s", dir, s->file);
    struct snap_writer *w = NULL;
    if (snap_writer_create(path, &s->o, &w, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", path, err);
        return -1;
    }
    char k[64], v[256];
    size_t kl, vl;
    for (unsigned i = 0; rows(i, k, &kl, v, &vl); i++) {
        uint64_t h = XXH3_64bits(k, kl);
        if (h % s->o.partitions != s->o.partition) {
            continue;
        }
        if (snap_writer_add(w, k, kl, v, vl, h, err, sizeof(err)) != 0) {
            fprintf(stderr, "%s: %s\n", path, err);
            snap_writer_destroy(&w);
            return -1;
        }
    }
    struct snap_file_info info;
    int rc = snap_writer_finish(w, &info, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "%s: %s\n", path, err);
    } else {
        printf("%s: %llu rows, %llu bytes\n", path,
               (unsigned long long)info.rows, (unsigned long long)info.bytes);
    }
    snap_writer_destroy(&w);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const struct {
        struct seed s;
        row_fn rows;
    } seeds[] = {
        {{"empty.seg", {.table = "t", .version = 1, .partitions = 1}},
         rows_none},
        {{"few.seg", {.table = "recs", .version = 7, .partitions = 1}},
         rows_few},
        {{"long_values.seg",
          {.table = "user_features", .version = 3, .partitions = 1}},
         rows_long},
        {{"binary_p1of2.seg",
          {.table = "b.in-ary_1", .version = 2, .partition = 1,
           .partitions = 2}},
         rows_binary},
        {{"vector.seg",
          {.table = "emb", .version = 1, .partitions = 1, .dims = 4}},
         rows_vector},
    };
    for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++) {
        if (write_seed(argv[1], &seeds[i].s, seeds[i].rows) != 0) {
            return 1;
        }
    }
    return 0;
}
