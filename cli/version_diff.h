/*
 * version_diff.h: compares two versions of a batch table, for `larder
 * diff` — how many keys the newer one adds and removes, how many keep
 * their value and how many change it, with a sample of the changes.
 *
 * Both versions are read from their segment files, mapped in place from
 * a store with local files (file://), partition by partition: every key
 * of the old version is looked up in the new one and every key of the
 * new one in the old, by its hash, in the partition the other version
 * keeps it in (the same partition when both have as many partitions;
 * otherwise hash % that version's partition count). Nothing is held in
 * memory per key: the mappings are the only large memory, the sample is
 * at most `sample` copies. Every segment is verified (its checksum
 * against the manifest's) before it is used.
 */
#ifndef LARDER_CLI_VERSION_DIFF_H
#define LARDER_CLI_VERSION_DIFF_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "store.h"

/* One version: its manifest and the store its segments are in. */
struct version_diff_side {
    const struct manifest *manifest; /* borrowed */
    struct store *store;             /* borrowed */
};

/* A key whose value differs: owned copies of key and both values. */
struct version_diff_change {
    char *key;
    size_t klen;
    char *from;
    size_t flen;
    char *to;
    size_t tlen;
};

struct version_diff {
    uint64_t added;     /* keys only in the new version */
    uint64_t removed;   /* keys only in the old version */
    uint64_t changed;   /* keys in both, with different values */
    uint64_t unchanged; /* keys in both, with the same value */
    struct version_diff_change *sample; /* the first changes met (owned) */
    size_t nsample;
};

/*
 * Compares old against now, keeping up to sample changed keys (in
 * partition and file order). Returns 0, or -1 with err (a store without
 * local files, a missing or damaged segment); *d is then freed.
 */
int version_diff_compute(const struct version_diff_side *old,
                         const struct version_diff_side *now, size_t sample,
                         struct version_diff *d, char *err, size_t errlen);

/* Frees the sample and zeroes *d. */
void version_diff_free(struct version_diff *d);

#endif
