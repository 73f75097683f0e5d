/*
 * read_plan.h: how the read phase of a load divides its input among
 * reading threads. The input (the files of a load, in order, as one
 * sequence of bytes) is cut into spans of about equal size, one per
 * thread, in input order; a span is a list of pieces, each a whole file
 * or a byte range of one. A file is cut only where it is splittable (a
 * line format in a plain local file: input_reader.h); any other file goes
 * whole to the span in which it starts. Keeping spans contiguous and in
 * order is what lets the build read a partition's rows in input order.
 *
 * Pure: no I/O.
 */
#ifndef LARDER_READ_PLAN_H
#define LARDER_READ_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Rows that start at a byte offset in [start, end) of file; end 0: to the
 * end of the file (so start 0 and end 0 is the whole file). */
struct read_piece {
    size_t file;
    uint64_t start;
    uint64_t end;
};

struct read_plan {
    struct read_piece *pieces; /* owned, in input order */
    size_t npieces;
    uint32_t nspans;
    /* nspans + 1 entries (owned): span s is pieces [first[s], first[s+1]);
     * a span may be empty. */
    size_t *first;
};

/*
 * Plans the reading of nfiles files of the given sizes by at most nspans
 * threads, each taking at least piece_min bytes (fewer spans for a small
 * input; one for an input under 2 × piece_min). splittable[i] says whether
 * file i may be cut. Returns 0, or -1 when out of memory.
 */
int read_plan_make(const uint64_t *sizes, const bool *splittable,
                   size_t nfiles, uint32_t nspans, uint64_t piece_min,
                   struct read_plan *out);

void read_plan_free(struct read_plan *p);

#endif
