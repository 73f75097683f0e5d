/*
 * This file implements the JSONL input format (JSON Lines, also called
 * NDJSON): one JSON object per line, parsed in place by json_row.h. The
 * object's members become the row's fields, in the order they appear;
 * nested arrays and objects become INPUT_ARRAY and INPUT_MAP values, so a
 * list of {"item": .., "score": ..} maps keeps its shape. Blank lines are
 * skipped. A line that is not valid JSON, is not an object, repeats a
 * member name or holds an integer outside int64 is a bad row.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "input_reader.h"
#include "json_row.h"
#include "line_source.h"

struct jsonl_reader {
    struct line_source *src;
    struct json_row row; /* the current row's fields and values */
};

static void jsonl_close(void *state)
{
    struct jsonl_reader *r = state;
    if (r == NULL) {
        return;
    }
    line_source_close(r->src);
    json_row_free(&r->row);
    free(r);
}

static enum input_status jsonl_open(const char *path,
                                    const struct input_reader_options *o,
                                    void **state, char *err, size_t errlen)
{
    struct jsonl_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return INPUT_IO;
    }
    if (line_source_open(path, o->max_record, &r->src, err, errlen) != 0) {
        int e = errno;
        free(r);
        return e == ENOMEM ? INPUT_IO : INPUT_NOT_FOUND;
    }
    if (line_source_limit(r->src, o->range_start, o->range_end, err,
                          errlen) != 0) {
        jsonl_close(r);
        return INPUT_IO;
    }
    *state = r;
    return INPUT_ROW;
}

/* True if the line holds only blanks. */
static int is_blank(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r') {
            return 0;
        }
    }
    return 1;
}

static enum input_status jsonl_next(void *state, struct input_row *row,
                                    struct input_pos *pos, char *err,
                                    size_t errlen)
{
    struct jsonl_reader *r = state;
    for (;;) {
        char *line;
        size_t len;
        uint64_t lineno, offset;
        enum line_status ls = line_source_next(r->src, &line, &len, &lineno,
                                               &offset, err, errlen);
        if (ls == LINE_EOF) {
            return INPUT_EOF;
        }
        if (ls == LINE_ERR) {
            return errno == EBADMSG ? INPUT_BAD_FILE : INPUT_IO;
        }
        pos->line = lineno;
        pos->offset = offset;
        if (ls == LINE_TOO_LONG) {
            snprintf(err, errlen, "line longer than the limit");
            return INPUT_BAD_ROW;
        }
        if (is_blank(line, len)) {
            continue;
        }
        switch (json_row_parse(&r->row, line, len, err, errlen)) {
        case JSON_ROW_OK:
            break;
        case JSON_ROW_NOMEM:
            return INPUT_IO;
        case JSON_ROW_INVALID:
        case JSON_ROW_NOT_OBJECT:
            return INPUT_BAD_ROW;
        }
        row->n = r->row.nfields;
        row->fields = r->row.fields;
        row->layout = 0;
        return INPUT_ROW;
    }
}

const struct input_format input_format_jsonl = {
    .name = "jsonl",
    .splittable = true,
    .open = jsonl_open,
    .next = jsonl_next,
    .close = jsonl_close,
};
