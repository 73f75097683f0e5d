/*
 * This file implements version_diff.h: a scan of one version's partition
 * with a lookup of each key in the other version, run both ways. Segments
 * are opened when first needed and closed as soon as the scan no longer
 * needs them, so with equal partition counts two segments are open at a
 * time, and otherwise one version's segments plus one.
 */
#include "version_diff.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "segment.h"

/* A version being compared: its segments, opened on demand. */
struct diff_version {
    const struct version_diff_side *side;
    struct segment **segs; /* per partition; NULL: not open */
};

/* What a scan counts: keys missing from the other version, or changes. */
enum diff_scan {
    DIFF_SCAN_OLD, /* old -> new: removed, changed, unchanged */
    DIFF_SCAN_NEW, /* new -> old: added */
};

static uint32_t partitions_of(const struct diff_version *v)
{
    return v->side->manifest->partitions;
}

/* The segment of partition p, opening (and verifying) it if needed. */
static struct segment *segment_of(struct diff_version *v, uint32_t p,
                                  char *err, size_t errlen)
{
    if (v->segs[p] != NULL) {
        return v->segs[p];
    }
    const struct manifest *m = v->side->manifest;
    const struct manifest_file *f = &m->files[p];
    char path[4096], why[512];
    if (store_local_path(v->side->store, f->key, path, sizeof(path), why,
                         sizeof(why)) != 0) {
        snprintf(err, errlen, "%s", why);
        return NULL;
    }
    struct segment_expect expect = {m->table, m->version, p, f->checksum};
    bool locked;
    if (segment_open(path, &expect, 0, &v->segs[p], &locked, why,
                     sizeof(why)) != 0) {
        snprintf(err, errlen, "%s version %llu partition %u: %s", m->table,
                 (unsigned long long)m->version, p, why);
        return NULL;
    }
    return v->segs[p];
}

static void close_all(struct diff_version *v)
{
    for (uint32_t p = 0; v->segs != NULL && p < partitions_of(v); p++) {
        segment_close(&v->segs[p]);
    }
}

static char *copy_bytes(const char *p, size_t n)
{
    char *c = malloc(n ? n : 1);
    if (c != NULL) {
        memcpy(c, p, n);
    }
    return c;
}

/* Adds a change to the sample; -1 if out of memory. */
static int keep_change(struct version_diff *d, const char *k, size_t kl,
                       const char *from, size_t fl, const char *to,
                       size_t tl)
{
    struct version_diff_change *c = &d->sample[d->nsample];
    c->key = copy_bytes(k, kl);
    c->from = copy_bytes(from, fl);
    c->to = copy_bytes(to, tl);
    c->klen = kl;
    c->flen = fl;
    c->tlen = tl;
    d->nsample++;
    return c->key && c->from && c->to ? 0 : -1;
}

/*
 * Scans partition p of a, looking every key up in b, and counts what the
 * scan is for. 0, or -1 with err.
 */
static int scan(struct diff_version *a, uint32_t p, struct diff_version *b,
                enum diff_scan what, size_t sample, struct version_diff *d,
                char *err, size_t errlen)
{
    struct segment *sa = segment_of(a, p, err, errlen);
    if (sa == NULL) {
        return -1;
    }
    uint32_t nb = partitions_of(b);
    uint64_t cursor = 0;
    const char *k, *v, *bv;
    size_t kl, vl, bvl;
    int rc;
    while ((rc = segment_next(sa, &cursor, &k, &kl, &v, &vl)) == 1) {
        uint64_t h = XXH3_64bits(k, kl);
        struct segment *sb = segment_of(b, (uint32_t)(h % nb), err, errlen);
        if (sb == NULL) {
            return -1;
        }
        bool found = segment_get(sb, k, kl, h, &bv, &bvl);
        if (what == DIFF_SCAN_NEW) {
            d->added += !found;
        } else if (!found) {
            d->removed++;
        } else if (vl == bvl && memcmp(v, bv, vl) == 0) {
            d->unchanged++;
        } else {
            d->changed++;
            if (d->nsample < sample &&
                keep_change(d, k, kl, v, vl, bv, bvl) != 0) {
                snprintf(err, errlen, "out of memory");
                return -1;
            }
        }
    }
    if (rc < 0) {
        const struct manifest *m = a->side->manifest;
        snprintf(err, errlen, "%s version %llu partition %u: damaged data "
                 "region", m->table, (unsigned long long)m->version, p);
        return -1;
    }
    return 0;
}

static int compare(struct diff_version *old, struct diff_version *now,
                   size_t sample, struct version_diff *d, char *err,
                   size_t errlen)
{
    bool same = partitions_of(old) == partitions_of(now);
    for (uint32_t p = 0; p < partitions_of(old); p++) {
        if (scan(old, p, now, DIFF_SCAN_OLD, sample, d, err, errlen) != 0) {
            return -1;
        }
        if (same) {
            if (scan(now, p, old, DIFF_SCAN_NEW, 0, d, err, errlen) != 0) {
                return -1;
            }
            segment_close(&now->segs[p]);
        }
        segment_close(&old->segs[p]);
    }
    if (same) {
        return 0;
    }
    close_all(now);
    for (uint32_t p = 0; p < partitions_of(now); p++) {
        if (scan(now, p, old, DIFF_SCAN_NEW, 0, d, err, errlen) != 0) {
            return -1;
        }
        segment_close(&now->segs[p]);
    }
    return 0;
}

int version_diff_compute(const struct version_diff_side *old,
                         const struct version_diff_side *now, size_t sample,
                         struct version_diff *d, char *err, size_t errlen)
{
    memset(d, 0, sizeof(*d));
    struct diff_version a = {old, NULL}, b = {now, NULL};
    if (partitions_of(&a) == 0 || partitions_of(&b) == 0) {
        snprintf(err, errlen, "a version without partitions");
        return -1;
    }
    a.segs = calloc(partitions_of(&a), sizeof(*a.segs));
    b.segs = calloc(partitions_of(&b), sizeof(*b.segs));
    d->sample = calloc(sample ? sample : 1, sizeof(*d->sample));
    int rc = -1;
    if (a.segs == NULL || b.segs == NULL || d->sample == NULL) {
        snprintf(err, errlen, "out of memory");
    } else {
        rc = compare(&a, &b, sample, d, err, errlen);
        close_all(&a);
        close_all(&b);
    }
    free(a.segs);
    free(b.segs);
    if (rc != 0) {
        version_diff_free(d);
    }
    return rc;
}

void version_diff_free(struct version_diff *d)
{
    for (size_t i = 0; i < d->nsample; i++) {
        free(d->sample[i].key);
        free(d->sample[i].from);
        free(d->sample[i].to);
    }
    free(d->sample);
    memset(d, 0, sizeof(*d));
}
