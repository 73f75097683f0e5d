/*
 * text_table.h: the aligned columns of the admin CLI's human output.
 *
 * Cells are copied in; the table is rendered with each column padded to
 * its widest cell (counted in UTF-8 characters) and two spaces between
 * columns, the last column unpadded, one line per row after a header line.
 */
#ifndef LARDER_CLI_TEXT_TABLE_H
#define LARDER_CLI_TEXT_TABLE_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

struct text_table {
    size_t ncols;
    size_t nrows;  /* header included */
    size_t cap;    /* rows allocated */
    char **cells;  /* nrows * ncols owned strings, row-major */
    bool failed;   /* an allocation failed: render reports it */
};

/* Starts a table with ncols columns named by headers. */
void text_table_init(struct text_table *t, size_t ncols,
                     const char *const *headers);

/* Appends a row of ncols cells (copied). */
void text_table_add(struct text_table *t, const char *const *cells);

/* Appends the rendered table to out; false if memory ran out. */
bool text_table_render(const struct text_table *t, struct buf *out);

void text_table_deinit(struct text_table *t);

#endif
