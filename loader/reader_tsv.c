/*
 * This file implements the TSV input format: a header line of field names,
 * then one row per line, fields separated by one tab. There is no quoting
 * and no escaping, so a field cannot hold a tab or a newline (export such
 * data as JSONL). Lines may end in "\n" or "\r\n"; empty lines are skipped;
 * a UTF-8 byte-order mark before the header is ignored. Every field is
 * INPUT_TEXT: the row encoder types it. A line whose field count differs
 * from the header's is a bad row.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input_reader.h"
#include "line_source.h"

struct tsv_reader {
    struct line_source *src;
    char *header;               /* owned copy of the header line */
    struct input_field *fields; /* names point into header */
    size_t nfields;
    uint64_t layout;
};

static void tsv_close(void *state)
{
    struct tsv_reader *r = state;
    if (r == NULL) {
        return;
    }
    line_source_close(r->src);
    free(r->header);
    free(r->fields);
    free(r);
}

/* Counts the tab-separated fields of a line. */
static size_t tsv_count_fields(const char *line, size_t len)
{
    size_t n = 1;
    const char *p = line;
    const char *end = line + len;
    while ((p = memchr(p, '\t', (size_t)(end - p))) != NULL) {
        n++;
        p++;
    }
    return n;
}

/*
 * Splits the header into field names; refuses empty and repeated names.
 * Returns 0 or -1 with err.
 */
static int tsv_parse_header(struct tsv_reader *r, char *err, size_t errlen)
{
    size_t len = strlen(r->header);
    size_t n = tsv_count_fields(r->header, len);
    r->fields = calloc(n, sizeof(*r->fields));
    if (r->fields == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char *p = r->header;
    for (size_t i = 0; i < n; i++) {
        char *tab = strchr(p, '\t');
        size_t l = tab ? (size_t)(tab - p) : strlen(p);
        if (l == 0) {
            snprintf(err, errlen, "header: field %zu has an empty name",
                     i + 1);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (r->fields[j].name_len == l &&
                memcmp(r->fields[j].name, p, l) == 0) {
                snprintf(err, errlen, "header: field name '%.*s' repeated",
                         (int)l, p);
                return -1;
            }
        }
        r->fields[i].name = p;
        r->fields[i].name_len = l;
        r->fields[i].value.kind = INPUT_TEXT;
        p += l + 1;
    }
    r->nfields = n;
    return 0;
}

static enum input_status tsv_open(const char *path,
                                  const struct input_reader_options *o,
                                  void **state, char *err, size_t errlen)
{
    struct tsv_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return INPUT_IO;
    }
    if (line_source_open(path, o->max_record, &r->src, err, errlen) != 0) {
        int e = errno;
        free(r);
        return e == ENOMEM ? INPUT_IO : INPUT_NOT_FOUND;
    }
    char *line;
    size_t len;
    uint64_t lineno, offset;
    enum line_status ls;
    do {
        ls = line_source_next(r->src, &line, &len, &lineno, &offset, err,
                              errlen);
    } while (ls == LINE_OK && len == 0);
    switch (ls) {
    case LINE_OK:
        break;
    case LINE_EOF: /* an empty file: no header and no rows */
        r->layout = input_layout_new();
        *state = r;
        return INPUT_ROW;
    case LINE_TOO_LONG:
        snprintf(err, errlen, "header line longer than %zu bytes",
                 o->max_record);
        tsv_close(r);
        return INPUT_BAD_FILE;
    case LINE_ERR: {
        int e = errno;
        tsv_close(r);
        return e == EBADMSG ? INPUT_BAD_FILE : INPUT_IO;
    }
    }
    if (len >= 3 && memcmp(line, "\xEF\xBB\xBF", 3) == 0) {
        line += 3;
    }
    r->header = strdup(line);
    if (r->header == NULL) {
        snprintf(err, errlen, "out of memory");
        tsv_close(r);
        return INPUT_IO;
    }
    if (tsv_parse_header(r, err, errlen) != 0) {
        tsv_close(r);
        return INPUT_BAD_FILE;
    }
    if (line_source_limit(r->src, o->range_start, o->range_end, err,
                          errlen) != 0) {
        tsv_close(r);
        return INPUT_IO;
    }
    r->layout = input_layout_new();
    *state = r;
    return INPUT_ROW;
}

static enum input_status tsv_next(void *state, struct input_row *row,
                                  struct input_pos *pos, char *err,
                                  size_t errlen)
{
    struct tsv_reader *r = state;
    if (r->fields == NULL) {
        return INPUT_EOF;
    }
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
        if (len == 0) {
            continue;
        }
        const char *p = line;
        const char *end = line + len;
        size_t i = 0;
        for (;;) {
            const char *tab = memchr(p, '\t', (size_t)(end - p));
            const char *fend = tab ? tab : end;
            if (i < r->nfields) {
                r->fields[i].value.u.s.p = p;
                r->fields[i].value.u.s.len = (size_t)(fend - p);
            }
            i++;
            if (tab == NULL) {
                break;
            }
            p = tab + 1;
        }
        if (i != r->nfields) {
            snprintf(err, errlen, "%zu fields, the header has %zu", i,
                     r->nfields);
            return INPUT_BAD_ROW;
        }
        row->n = r->nfields;
        row->fields = r->fields;
        row->layout = r->layout;
        return INPUT_ROW;
    }
}

const struct input_format input_format_tsv = {
    .name = "tsv",
    .splittable = true,
    .open = tsv_open,
    .next = tsv_next,
    .close = tsv_close,
};
