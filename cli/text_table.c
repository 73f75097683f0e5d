/*
 * This file implements the aligned text tables declared in text_table.h.
 */
#include "text_table.h"

#include <stdlib.h>
#include <string.h>

void text_table_init(struct text_table *t, size_t ncols,
                     const char *const *headers)
{
    memset(t, 0, sizeof(*t));
    t->ncols = ncols;
    text_table_add(t, headers);
}

void text_table_add(struct text_table *t, const char *const *cells)
{
    if (t->failed) {
        return;
    }
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 8;
        char **grown = realloc(t->cells, cap * t->ncols * sizeof(*grown));
        if (grown == NULL) {
            t->failed = true;
            return;
        }
        t->cells = grown;
        t->cap = cap;
    }
    char **row = t->cells + t->nrows * t->ncols;
    for (size_t c = 0; c < t->ncols; c++) {
        row[c] = strdup(cells[c] != NULL ? cells[c] : "");
        if (row[c] == NULL) {
            for (size_t k = 0; k < c; k++) {
                free(row[k]);
            }
            t->failed = true;
            return;
        }
    }
    t->nrows++;
}

/* Width of a UTF-8 string in characters (continuation bytes not counted). */
static size_t width(const char *s)
{
    size_t w = 0;
    for (; *s != '\0'; s++) {
        if (((unsigned char)*s & 0xc0) != 0x80) {
            w++;
        }
    }
    return w;
}

bool text_table_render(const struct text_table *t, struct buf *out)
{
    if (t->failed) {
        return false;
    }
    size_t *widths = calloc(t->ncols ? t->ncols : 1, sizeof(*widths));
    if (widths == NULL) {
        return false;
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            size_t w = width(t->cells[r * t->ncols + c]);
            if (w > widths[c]) {
                widths[c] = w;
            }
        }
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < t->ncols; c++) {
            const char *cell = t->cells[r * t->ncols + c];
            buf_append_str(out, cell);
            if (c + 1 < t->ncols) {
                size_t pad = widths[c] - width(cell) + 2;
                for (size_t k = 0; k < pad; k++) {
                    buf_append(out, " ", 1);
                }
            }
        }
        buf_append(out, "\n", 1);
    }
    free(widths);
    return !buf_failed(out);
}

void text_table_deinit(struct text_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++) {
        free(t->cells[i]);
    }
    free(t->cells);
    memset(t, 0, sizeof(*t));
}
