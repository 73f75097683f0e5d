/*
 * snapshot_writer.h: builds one snapshot segment file — the rows of one
 * (table, version, partition) — in the format of docs/snapshot-format.md.
 *
 * The writer keeps the rows of its partition in memory (the loader spills
 * rows to per-partition run files first, so memory is bounded by the
 * largest partition), deduplicates them, builds the index, and writes the
 * file under a temporary name, fsyncs it and renames it into place, so a
 * crash never leaves a file that looks complete.
 *
 * Functions return 0, or -1 with a message in err and errno saying what
 * kind of failure it was: ENOMEM (out of memory), EEXIST (a duplicate key
 * under SNAP_DUP_ERROR), EINVAL (bad options, a row of another partition,
 * a partition over the format's limits), anything else: an I/O error from
 * the system call that failed.
 */
#ifndef LARDER_SNAPSHOT_WRITER_H
#define LARDER_SNAPSHOT_WRITER_H

#include <stddef.h>
#include <stdint.h>

enum snap_dup_policy {
    SNAP_DUP_ERROR = 0, /* a repeated key fails the build */
    SNAP_DUP_LAST,      /* the last row with a key wins */
};

struct snap_writer_options {
    const char *table;
    uint64_t version;
    uint32_t partition;
    uint32_t partitions;
    uint32_t dims; /* vector tables; 0 otherwise */
    enum snap_dup_policy on_duplicate;
    uint32_t format; /* 0: the newest this build writes */
};

/* What a finished segment holds. */
struct snap_file_info {
    uint64_t rows;       /* distinct keys written */
    uint64_t duplicates; /* rows dropped as repeated keys (SNAP_DUP_LAST) */
    uint64_t bytes;      /* file size */
    uint64_t checksum;   /* xxh3-64 of the whole file */
    uint64_t key_bytes;  /* sum of key lengths */
    uint64_t value_bytes;
};

struct snap_writer;

/*
 * Starts a segment that will be written to path (nothing is created until
 * snap_writer_finish). o->table is copied.
 */
int snap_writer_create(const char *path, const struct snap_writer_options *o,
                       struct snap_writer **out, char *err, size_t errlen);

/*
 * Adds a row (copied). hash is xxh3_64(key), which the caller has already
 * computed to choose the partition; a row whose hash % partitions is not
 * this writer's partition is refused. Empty keys and values are allowed.
 */
int snap_writer_add(struct snap_writer *w, const void *key, size_t klen,
                    const void *value, size_t vlen, uint64_t hash,
                    char *err, size_t errlen);

/*
 * Deduplicates, indexes and writes the file atomically. On a duplicate key
 * with SNAP_DUP_ERROR returns -1 naming the key. Fills *info (zeroed on
 * failure). Frees the rows either way; the writer accepts nothing more.
 */
int snap_writer_finish(struct snap_writer *w, struct snap_file_info *info,
                       char *err, size_t errlen);

/*
 * Frees the writer and sets *w to NULL. Unfinished, it leaves no file: the
 * temporary file exists only inside snap_writer_finish.
 */
void snap_writer_destroy(struct snap_writer **w);

#endif
