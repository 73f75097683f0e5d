/*
 * transcript.h: a growable record of what a parser returned, so that two
 * runs over the same input (whole, and split at some byte) can be compared
 * with one memcmp. A harness appends the fields it considers observable;
 * two transcripts are equal exactly when the runs were indistinguishable.
 */
#ifndef LARDER_FUZZ_TRANSCRIPT_H
#define LARDER_FUZZ_TRANSCRIPT_H

#include <stddef.h>
#include <stdint.h>

struct transcript {
    unsigned char *bytes; /* owned */
    size_t len;
    size_t cap;
};

/* Appends n bytes (aborts when out of memory). */
void transcript_put(struct transcript *t, const void *p, size_t n);
/* Appends a u64 (a length, a status, an offset). */
void transcript_u64(struct transcript *t, uint64_t v);
/* Appends a length-prefixed byte string. */
void transcript_str(struct transcript *t, const void *p, size_t n);

/* Aborts with both transcripts' lengths and the first difference. */
void transcript_expect_equal(const struct transcript *a,
                             const struct transcript *b, const char *what);

/* Frees the bytes and empties the transcript. */
void transcript_clear(struct transcript *t);

#endif
