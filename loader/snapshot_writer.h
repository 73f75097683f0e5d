/*
 * snapshot_writer.h: builds one snapshot segment file — the rows of one
 * (table, version, partition) — in the format of docs/snapshot-format.md.
 *
 * The writer keeps the rows of its partition in memory up to a memory
 * budget, deduplicates them, builds the index, and writes the file under a
 * temporary name and renames it into place, so no reader sees a partial
 * file. A partition larger than the budget goes to sorted chunks in a
 * temporary file next to the segment, merged at finish
 * (snapshot_chunks.h): the file is byte for byte the same either way, and
 * memory stays about the budget plus the index (see memory_budget).
 *
 * With the sync option it fsyncs the file and its directory too, so a
 * crash never leaves a file that looks complete; larder-load's segments
 * are scratch files, copied into the store (which fsyncs) and deleted, so
 * it leaves sync off.
 *
 * Functions return 0, or -1 with a message in err and errno saying what
 * kind of failure it was: ENOMEM (out of memory), EEXIST (a duplicate key
 * under SNAP_DUP_ERROR), EINVAL (bad options, a row of another partition,
 * a partition over the format's limits), anything else: an I/O error from
 * the system call that failed.
 */
#ifndef LARDER_SNAPSHOT_WRITER_H
#define LARDER_SNAPSHOT_WRITER_H

#include <stdbool.h>
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
    bool sync;       /* fsync the file and its directory at finish */
    /*
     * Bytes of rows (records plus sorting space, 36 bytes a row) held in
     * memory before they go to a sorted chunk; 0: the default. A partition
     * built from chunks needs, at finish, merge read buffers of a quarter
     * of the budget and the index (8 bytes a slot, 10 a row): what grows
     * with the partition is the index, 10 bytes a row, against 36 plus the
     * record in memory.
     */
    uint64_t memory_budget;
};

/*
 * Default memory_budget: 6 MiB, so larder-load's 4 build threads hold
 * about 24 MiB of rows, less than its 32 MiB of spill buffers while the
 * input is read (the build phase then never sets the peak), and
 * partitions of up to ~53,000 rows of 80 bytes are built in memory alone.
 */
#define SNAP_WRITER_MEMORY_DEFAULT (UINT64_C(6) << 20)

/* What a finished segment holds. */
struct snap_file_info {
    uint64_t rows;       /* distinct keys written */
    uint64_t duplicates; /* rows dropped as repeated keys (SNAP_DUP_LAST) */
    uint64_t bytes;      /* file size */
    uint64_t checksum;   /* xxh3-64 of the whole file */
    uint64_t key_bytes;  /* sum of key lengths */
    uint64_t value_bytes;
    uint64_t chunks;     /* sorted chunks the rows went through; 0: none */
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
 * When the rows held would pass the memory budget they are first written
 * out as a sorted chunk, so add may also fail with an I/O error.
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
 * temporary segment file exists only inside snap_writer_finish, and the
 * chunk file has no name from the moment it is created.
 */
void snap_writer_destroy(struct snap_writer **w);

#endif
