/*
 * This file implements read_plan.h: one walk over the files in order,
 * with the span boundaries at total × s / nspans; a boundary that falls
 * inside a splittable file cuts it there, one inside another file moves
 * to the file's end.
 */
#include "read_plan.h"

#include <stdlib.h>

/* The byte of the whole input where span s begins (s in 1 .. n-1). */
static uint64_t boundary(uint64_t total, uint32_t nspans, uint32_t s)
{
    /* total * s / nspans without overflow for any total below 2^64. */
    return total / nspans * s + total % nspans * s / nspans;
}

int read_plan_make(const uint64_t *sizes, const bool *splittable,
                   size_t nfiles, uint32_t nspans, uint64_t piece_min,
                   struct read_plan *out)
{
    *out = (struct read_plan){0};
    uint64_t total = 0;
    for (size_t i = 0; i < nfiles; i++) {
        total += sizes[i];
    }
    if (piece_min == 0) {
        piece_min = 1;
    }
    if (nspans == 0 || total / piece_min < 2) {
        nspans = 1;
    } else if (total / nspans < piece_min) {
        nspans = (uint32_t)(total / piece_min);
    }
    /* Each boundary adds at most one piece to the files. */
    out->pieces = calloc(nfiles + nspans, sizeof(*out->pieces));
    out->first = calloc((size_t)nspans + 1, sizeof(*out->first));
    if (out->pieces == NULL || out->first == NULL) {
        read_plan_free(out);
        return -1;
    }
    out->nspans = nspans;
    uint32_t span = 0;
    uint64_t pos = 0; /* where the current file begins in the input */
    for (size_t f = 0; f < nfiles; f++) {
        uint64_t cur = 0; /* where the current piece begins in the file */
        while (span + 1 < nspans) {
            uint64_t b = boundary(total, nspans, span + 1);
            if (b >= pos + sizes[f]) {
                break; /* the next span begins after this file */
            }
            if (b > pos + cur && !splittable[f]) {
                break; /* the rest of the file stays in this span */
            }
            if (b > pos + cur) {
                out->pieces[out->npieces++] =
                    (struct read_piece){f, cur, b - pos};
                cur = b - pos;
            }
            out->first[++span] = out->npieces;
        }
        out->pieces[out->npieces++] = (struct read_piece){f, cur, 0};
        pos += sizes[f];
        while (span + 1 < nspans && boundary(total, nspans, span + 1) <= pos) {
            out->first[++span] = out->npieces;
        }
    }
    while (span < nspans) {
        out->first[++span] = out->npieces;
    }
    return 0;
}

void read_plan_free(struct read_plan *p)
{
    free(p->pieces);
    free(p->first);
    *p = (struct read_plan){0};
}
