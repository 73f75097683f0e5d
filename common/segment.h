/*
 * segment.h: reads one snapshot segment file (docs/snapshot-format.md)
 * through mmap. A segment is verified — header, format version, whole-file
 * xxh3 checksum — before it can be used; lookups then cost one index probe
 * and touch no heap memory.
 *
 * Readers accept their own format version and the one before it, and
 * refuse newer ones with a clear error.
 */
#ifndef LARDER_SEGMENT_H
#define LARDER_SEGMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "snap_format.h"

/* What the caller expects the file to be; a mismatch refuses it. */
struct segment_expect {
    const char *table;
    uint64_t version;
    uint32_t partition;
    uint64_t checksum; /* xxh3-64 of the whole file; 0: don't compare */
};

#define SEGMENT_POPULATE 0x1u /* fault every page in (MAP_POPULATE) */
#define SEGMENT_MLOCK    0x2u /* mlock the mapping */

struct segment;

/*
 * Opens, maps and verifies a segment. flags: SEGMENT_*. If SEGMENT_MLOCK
 * fails (memlock limit), the segment still opens, *locked is false, and the
 * caller decides (warn, or fail under --require-mlock).
 */
int segment_open(const char *path, const struct segment_expect *expect,
                 unsigned flags, struct segment **out, bool *locked,
                 char *err, size_t errlen);

/* Unmaps and frees; sets *s to NULL. */
void segment_close(struct segment **s);

/*
 * Finds a key; hash is xxh3_64(key). Returns true and points *value into
 * the mapping (valid until segment_close) or false if absent.
 */
bool segment_get(const struct segment *s, const void *key, size_t klen,
                 uint64_t hash, const char **value, size_t *vlen);

/*
 * Iterates over the records in file order (hash order): *cursor starts at
 * 0. Returns 1 with the next record (pointers into the mapping), 0 at the
 * end, -1 if the data region is damaged.
 */
int segment_next(const struct segment *s, uint64_t *cursor, const char **key,
                 size_t *klen, const char **value, size_t *vlen);

uint64_t segment_rows(const struct segment *s);
uint64_t segment_mapped_bytes(const struct segment *s);
/* Pages of the mapping now resident in RAM (mincore), in bytes. */
uint64_t segment_resident_bytes(const struct segment *s);
bool segment_locked(const struct segment *s);
/* xxh3-64 of the whole file (what manifests record), computed on open. */
uint64_t segment_checksum(const struct segment *s);
/* The decoded header: table, version, partitions, dims, format, totals. */
const struct snap_header *segment_header(const struct segment *s);

/*
 * Format versions this build reads: [segment_format_oldest(),
 * segment_format_newest()] (SNAP_FORMAT_OLDEST/NEWEST in snap_format.h).
 */
uint32_t segment_format_newest(void);
uint32_t segment_format_oldest(void);

#endif
