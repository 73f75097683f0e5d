/*
 * spill.h: per-partition run files, the loader's way of keeping memory
 * bounded. While the input is read, each row is appended (through a
 * buffer per partition) to the run file of its partition; each partition
 * is later read back alone and built into a segment.
 *
 * A run file is a sequence of records: varint key length, varint value
 * length, key, value (varints are LEB128: 7 bits a byte, low bits first).
 * Rows keep their input order within a partition, so "the last row with a
 * key" means the same thing in the run file as in the input. A partition
 * that received no row has no run file.
 */
#ifndef LARDER_SPILL_H
#define LARDER_SPILL_H

#include <stddef.h>
#include <stdint.h>

struct spill_options {
    const char *dir;     /* existing directory for the run files */
    uint32_t partitions;
    size_t buffer_bytes; /* write buffers of all partitions together */
    /* Several writers (one per reading thread) share dir: each has its
     * own run files, named by writer (0 ..); writers (0 means 1) is how
     * many there are, so that they share the descriptors too. */
    uint32_t writer;
    uint32_t writers;
};

struct spill;

/* Creates a spill writer; 0 or -1 with err. No file is created yet. */
int spill_create(const struct spill_options *o, struct spill **out,
                 char *err, size_t errlen);

/* Appends one row to partition p's run. 0, or -1 with err (errno set). */
int spill_add(struct spill *s, uint32_t p, const void *key, size_t klen,
              const void *value, size_t vlen, char *err, size_t errlen);

/*
 * Writes every buffer out and closes the files; the runs are complete
 * after it. 0, or -1 with err (errno set).
 */
int spill_finish(struct spill *s, char *err, size_t errlen);

/* Rows added to partition p. */
uint64_t spill_rows(const struct spill *s, uint32_t p);

/* Bytes of partition p's run file (after spill_finish). */
uint64_t spill_bytes(const struct spill *s, uint32_t p);

/* The path of partition p's run file (spill_run_file() names it). */
void spill_run_path(const struct spill *s, uint32_t p, char *out,
                    size_t outlen);

/* Closes files and frees the writer; the run files stay. */
void spill_destroy(struct spill **s);

/* The path of writer's run file of partition p in dir. */
void spill_run_file(const char *dir, uint32_t writer, uint32_t p, char *out,
                    size_t outlen);

/* ---- reading a run back ------------------------------------------------ */

struct spill_run;

/* Opens a run file; a missing file is an empty run. 0 or -1 with err. */
int spill_run_open(const char *path, struct spill_run **out, char *err,
                   size_t errlen);

/*
 * The next record: 1 with key and value pointing into the reader's buffer
 * (valid until the next call), 0 at the end, -1 with err on a read error
 * or a truncated or corrupt record.
 */
int spill_run_next(struct spill_run *r, const char **key, size_t *klen,
                   const char **value, size_t *vlen, char *err,
                   size_t errlen);

void spill_run_close(struct spill_run **r);

#endif
