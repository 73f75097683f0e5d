/*
 * snapshot_chunks.h: the sorted chunks of a snapshot writer whose partition
 * does not fit its memory budget, and their k-way merge.
 *
 * The writer sorts the rows it holds by (hash, key, input order), appends
 * them here as one chunk, frees their memory and goes on; at finish it
 * merges the chunks, which yields every row of the partition in (hash,
 * key, input order) order, the order of the data region, so duplicates
 * are adjacent and the last of them in input order comes last. The merge
 * can be run again from the start (the writer runs it three times: to
 * count the rows, to index them, to write them).
 *
 * All chunks of a writer go to one temporary file next to the segment,
 * "<segment path>.chunks.XXXXXX", which is unlinked as soon as it is
 * created: it never outlives the open descriptor, whatever happens to the
 * process, and leaves nothing behind on success, failure or a crash. An
 * entry of the file is
 *
 *   u64 hash (little-endian) | varint seq | record
 *
 * where record is the segment record (varint klen | varint vlen | key |
 * value), copied to the data region as is, and seq orders the rows of one
 * key by input order.
 *
 * Memory: one write buffer while chunks are added; while merging, one read
 * buffer per chunk (the merge buffer given at create split between the
 * chunks, each 4 KiB to 1 MiB, grown only for an entry larger than it)
 * and a heap of one index per chunk.
 *
 * Functions return 0 (or a count), or -1 with a message in err and errno
 * set: ENOMEM, EIO for a damaged chunk file, or the error of the system
 * call that failed.
 */
#ifndef LARDER_SNAPSHOT_CHUNKS_H
#define LARDER_SNAPSHOT_CHUNKS_H

#include <stddef.h>
#include <stdint.h>

/* A row of the merge; its pointers are borrowed from the merge's buffers. */
struct snap_chunk_row {
    uint64_t hash;
    uint64_t seq;       /* input order of rows with the same key */
    const uint8_t *rec; /* the segment record: varint klen, vlen, key, value */
    uint64_t size;      /* bytes of rec */
    const uint8_t *key; /* inside rec */
    uint64_t klen;
    uint64_t vlen;
};

struct snap_chunks;

/*
 * Creates (and at once unlinks) the chunk file next to seg_path.
 * merge_buffer is the memory the read buffers of a merge may share.
 */
int snap_chunks_create(const char *seg_path, size_t merge_buffer,
                       struct snap_chunks **out, char *err, size_t errlen);

/*
 * Appends a row to the current chunk (buffered). Rows of a chunk must come
 * in (hash, key, seq) order; rec is the record of size bytes.
 */
int snap_chunks_add(struct snap_chunks *c, uint64_t hash, uint64_t seq,
                    const uint8_t *rec, uint64_t size, char *err,
                    size_t errlen);

/* Ends the current chunk: the rows added since the last end form one. */
int snap_chunks_end(struct snap_chunks *c, char *err, size_t errlen);

/* Chunks ended so far. */
uint64_t snap_chunks_count(const struct snap_chunks *c);

/*
 * Starts (or restarts) the merge of every ended chunk. No chunk can be
 * added after the first merge (its write buffer is freed).
 */
int snap_chunks_merge_start(struct snap_chunks *c, char *err, size_t errlen);

/*
 * The next row of the merge in (hash, key, seq) order: 1 and *row, valid
 * until the next call; 0 at the end; -1 with err.
 */
int snap_chunks_merge_next(struct snap_chunks *c, struct snap_chunk_row *row,
                           char *err, size_t errlen);

/* Closes the file (which is already unlinked), frees c, sets *c to NULL. */
void snap_chunks_destroy(struct snap_chunks **c);

#endif
