/*
 * This file implements transcript.h.
 */
#include "transcript.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void transcript_put(struct transcript *t, const void *p, size_t n)
{
    if (t->cap - t->len < n) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap - t->len < n) {
            cap *= 2;
        }
        unsigned char *b = realloc(t->bytes, cap);
        if (b == NULL) {
            abort();
        }
        t->bytes = b;
        t->cap = cap;
    }
    if (n > 0) {
        memcpy(t->bytes + t->len, p, n);
    }
    t->len += n;
}

void transcript_u64(struct transcript *t, uint64_t v)
{
    transcript_put(t, &v, sizeof(v));
}

void transcript_str(struct transcript *t, const void *p, size_t n)
{
    transcript_u64(t, n);
    transcript_put(t, p, n);
}

void transcript_expect_equal(const struct transcript *a,
                             const struct transcript *b, const char *what)
{
    if (a->len == b->len &&
        (a->len == 0 || memcmp(a->bytes, b->bytes, a->len) == 0)) {
        return;
    }
    size_t i = 0;
    while (i < a->len && i < b->len && a->bytes[i] == b->bytes[i]) {
        i++;
    }
    fprintf(stderr,
            "%s: transcripts differ (%zu and %zu bytes, first at %zu)\n",
            what, a->len, b->len, i);
    abort();
}

void transcript_clear(struct transcript *t)
{
    free(t->bytes);
    t->bytes = NULL;
    t->len = 0;
    t->cap = 0;
}
