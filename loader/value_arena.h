/*
 * value_arena.h: the memory behind the nested values of one input row
 * (struct input_value arrays of ARRAY and MAP values), for readers that
 * build rows of nested values (avro, msgpack).
 *
 * A reader takes runs of contiguous values while it decodes a row and
 * resets the arena before the next row, so the memory is reused row after
 * row: it grows to what the largest row needed and no further. A run never
 * moves once taken (the arena is a list of chunks), so a value may point
 * to runs taken before or after it.
 */
#ifndef LARDER_VALUE_ARENA_H
#define LARDER_VALUE_ARENA_H

#include <stddef.h>

#include "input_reader.h"

struct value_chunk;

/* Zero-initialised ({0}) it is an empty arena. */
struct value_arena {
    struct value_chunk *chunks;
    size_t nchunks;
    size_t cur;   /* the chunk runs are taken from */
    size_t taken; /* values taken since the last reset */
};

/*
 * n contiguous values (uninitialised), valid until the next reset or
 * deinit; NULL if out of memory. n may be 0 (a valid pointer is still
 * returned).
 */
struct input_value *value_arena_take(struct value_arena *a, size_t n);

/* Makes every value taken so far free for reuse; keeps the memory. */
void value_arena_reset(struct value_arena *a);

/* Frees the memory; the arena is empty again afterwards. */
void value_arena_deinit(struct value_arena *a);

#endif
