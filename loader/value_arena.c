/*
 * This file implements value_arena: runs of struct input_value taken from
 * a list of chunks. A run that does not fit in what is left of the current
 * chunk goes to the next chunk large enough (the rest of the current one
 * is left unused until the next reset), or to a new chunk of at least
 * twice the size of the last one.
 */
#include "value_arena.h"

#include <stdint.h>
#include <stdlib.h>

#define VALUE_ARENA_FIRST_CHUNK 1024 /* values */

struct value_chunk {
    struct input_value *v;
    size_t cap;
    size_t used;
};

struct input_value *value_arena_take(struct value_arena *a, size_t n)
{
    while (a->cur < a->nchunks) {
        struct value_chunk *c = &a->chunks[a->cur];
        if (c->cap - c->used >= n) {
            struct input_value *p = c->v + c->used;
            c->used += n;
            a->taken += n;
            return p;
        }
        a->cur++;
    }
    size_t cap = VALUE_ARENA_FIRST_CHUNK;
    if (a->nchunks > 0 && a->chunks[a->nchunks - 1].cap * 2 > cap) {
        cap = a->chunks[a->nchunks - 1].cap * 2;
    }
    if (cap < n) {
        cap = n;
    }
    if (cap > SIZE_MAX / sizeof(struct input_value)) {
        return NULL;
    }
    struct value_chunk *nc =
        realloc(a->chunks, (a->nchunks + 1) * sizeof(*a->chunks));
    if (nc == NULL) {
        return NULL;
    }
    a->chunks = nc;
    struct input_value *v = malloc(cap * sizeof(*v));
    if (v == NULL) {
        return NULL;
    }
    a->chunks[a->nchunks] = (struct value_chunk){v, cap, n};
    a->cur = a->nchunks++;
    a->taken += n;
    return v;
}

void value_arena_reset(struct value_arena *a)
{
    for (size_t i = 0; i <= a->cur && i < a->nchunks; i++) {
        a->chunks[i].used = 0;
    }
    a->cur = 0;
    a->taken = 0;
}

void value_arena_deinit(struct value_arena *a)
{
    for (size_t i = 0; i < a->nchunks; i++) {
        free(a->chunks[i].v);
    }
    free(a->chunks);
    *a = (struct value_arena){0};
}
