/*
 * This file implements the CSV input format (RFC 4180): a header record of
 * field names, then one row per record; fields separated by ',', quoted
 * with '"' when they hold a ',', a '"' (doubled) or a line end; records
 * end in "\n" or "\r\n". csv_scanner.c cuts the records; this file reads
 * the file (through byte_source, so .csv.gz works), keeps the buffer,
 * checks the header and turns records into rows.
 *
 * Every field is INPUT_TEXT, quoted or not: the row encoder types it as it
 * types TSV. Blank lines are skipped; a UTF-8 byte-order mark before the
 * header is ignored. A record whose field count differs from the header's,
 * or that is malformed (a stray quote, an unclosed quote at the end of the
 * file) is a bad row; so is a record longer than the limit, which is then
 * skipped to its end as the quoting rules find it, without holding it in
 * memory.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byte_source.h"
#include "csv_scanner.h"
#include "input_reader.h"

#define CSV_CHUNK (1u << 20) /* first buffer size; grows for long records */

struct csv_reader {
    struct byte_source *src;
    char *buf;
    size_t cap;        /* usable bytes of buf */
    size_t start;      /* first byte of the current record */
    size_t end;        /* end of valid data */
    size_t limit;      /* the largest buffer: a record plus "\r\n" */
    size_t max_record;
    bool eof;
    bool skipping;     /* inside a record too long to keep */
    uint64_t lineno;   /* line ends consumed so far */
    uint64_t offset;   /* stream offset of buf[start] */
    struct csv_scanner sc;
    char *header;               /* owned copy of the header's names */
    struct input_field *fields; /* names point into header */
    size_t nfields;
    uint64_t layout;
};

enum csv_rec {
    CSV_REC_OK = 0,   /* a record: rec, line, offset and r->sc */
    CSV_REC_EOF,
    CSV_REC_TOO_LONG, /* err; line and offset of its start */
    CSV_REC_ERR,      /* err, errno (EBADMSG: damaged data) */
};

static void csv_close(void *state)
{
    struct csv_reader *r = state;
    if (r == NULL) {
        return;
    }
    byte_source_close(r->src);
    csv_scanner_deinit(&r->sc);
    free(r->buf);
    free(r->header);
    free(r->fields);
    free(r);
}

/*
 * Makes room after end: moves the current record to the front, then grows
 * the buffer if it is still full. False when it is full at the limit.
 */
static bool csv_make_room(struct csv_reader *r)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (r->end < r->cap) {
        return true;
    }
    if (r->cap >= r->limit) {
        return false;
    }
    size_t cap = r->cap * 2 < r->limit ? r->cap * 2 : r->limit;
    char *nb = realloc(r->buf, cap);
    if (nb == NULL) {
        return false;
    }
    r->buf = nb;
    r->cap = cap;
    return true;
}

/* Reads more data: 0 (r->eof set at the end), or -1 with err and errno. */
static int csv_fill(struct csv_reader *r, char *err, size_t errlen)
{
    ssize_t n = byte_source_read(r->src, r->buf + r->end, r->cap - r->end,
                                 err, errlen);
    if (n < 0) {
        return -1;
    }
    r->end += (size_t)n;
    r->eof = n == 0;
    return 0;
}

static void csv_too_long_message(const struct csv_reader *r,
                                 uint64_t line, char *err, size_t errlen)
{
    size_t field;
    uint64_t nl;
    if (csv_scanner_in_quotes(&r->sc, &field, &nl)) {
        snprintf(err, errlen, "record longer than the limit of %zu bytes: "
                 "the quote of field %zu, opened on line %llu, is not "
                 "closed", r->max_record, field,
                 (unsigned long long)(line + nl));
    } else {
        snprintf(err, errlen, "record longer than the limit of %zu bytes",
                 r->max_record);
    }
}

/*
 * The next record, blank ones included. On CSV_REC_OK its fields are spans
 * of *rec, valid until the next call.
 */
static enum csv_rec csv_next_record(struct csv_reader *r, char **rec,
                                    uint64_t *line, uint64_t *offset,
                                    char *err, size_t errlen)
{
    for (;;) {
        size_t consumed = 0;
        enum csv_status cs = csv_scan(&r->sc, r->buf + r->start,
                                      r->end - r->start, r->eof, &consumed);
        if (cs == CSV_END) {
            return CSV_REC_EOF;
        }
        if (cs == CSV_NOMEM) {
            snprintf(err, errlen, "out of memory");
            errno = ENOMEM;
            return CSV_REC_ERR;
        }
        if (cs == CSV_RECORD) {
            *rec = r->buf + r->start;
            *line = r->lineno + 1;
            *offset = r->offset;
            r->start += consumed;
            r->offset += consumed;
            r->lineno += r->sc.newlines;
            if (r->skipping) {
                r->skipping = false;
                continue;
            }
            return CSV_REC_OK;
        }
        if (r->skipping) {
            r->offset += r->end - r->start;
            r->start = r->end = 0;
            csv_scanner_discard(&r->sc);
        } else if (!csv_make_room(r)) {
            /* One record fills the buffer at the limit: report it and
             * skip the rest of it. */
            *line = r->lineno + 1;
            *offset = r->offset;
            csv_too_long_message(r, *line, err, errlen);
            r->skipping = true;
            r->sc.skip = true;
            r->offset += r->end - r->start;
            r->start = r->end = 0;
            csv_scanner_discard(&r->sc);
            return CSV_REC_TOO_LONG;
        }
        if (csv_fill(r, err, errlen) != 0) {
            return CSV_REC_ERR;
        }
    }
}

/* The input status of a failed read (errno from byte_source). */
static enum input_status csv_read_error(void)
{
    return errno == EBADMSG ? INPUT_BAD_FILE : INPUT_IO;
}

/* Describes the record's problem; false if it has none. */
static bool csv_problem_message(const struct csv_scanner *sc, uint64_t line,
                                char *err, size_t errlen)
{
    unsigned long long at = (unsigned long long)(line + sc->problem_newlines);
    switch (sc->problem) {
    case CSV_FINE:
        return false;
    case CSV_BARE_QUOTE:
        snprintf(err, errlen, "field %zu (line %llu): a quote inside an "
                 "unquoted field (quote the field and double the quote)",
                 sc->problem_field, at);
        break;
    case CSV_AFTER_QUOTE:
        snprintf(err, errlen, "field %zu (line %llu): text after the "
                 "closing quote", sc->problem_field, at);
        break;
    case CSV_UNCLOSED:
        snprintf(err, errlen, "field %zu: the quote opened on line %llu is "
                 "not closed at the end of the file", sc->problem_field, at);
        break;
    }
    return true;
}

static bool csv_is_blank(const struct csv_scanner *sc)
{
    return sc->nfields == 1 && sc->fields[0].len == 0 &&
           !sc->fields[0].quoted && sc->problem == CSV_FINE;
}

/*
 * Takes the header's names from a record: copies them, refuses empty and
 * repeated names. Returns 0 or -1 with err.
 */
static int csv_parse_header(struct csv_reader *r, const char *rec,
                            uint64_t line, char *err, size_t errlen)
{
    const struct csv_scanner *sc = &r->sc;
    if (csv_problem_message(sc, line, err, errlen)) {
        char why[512];
        snprintf(why, sizeof(why), "%s", err);
        snprintf(err, errlen, "header: %s", why);
        return -1;
    }
    size_t n = sc->nfields;
    const struct csv_field *last = &sc->fields[n - 1];
    size_t bytes = last->off + last->len;
    r->header = malloc(bytes + 1);
    r->fields = calloc(n, sizeof(*r->fields));
    if (r->header == NULL || r->fields == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    memcpy(r->header, rec, bytes);
    r->header[bytes] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *name = r->header + sc->fields[i].off;
        size_t l = sc->fields[i].len;
        if (l == 0) {
            snprintf(err, errlen, "header: field %zu has an empty name",
                     i + 1);
            return -1;
        }
        for (size_t j = 0; j < i; j++) {
            if (r->fields[j].name_len == l &&
                memcmp(r->fields[j].name, name, l) == 0) {
                snprintf(err, errlen, "header: field name '%.*s' repeated",
                         (int)l, name);
                return -1;
            }
        }
        r->fields[i].name = name;
        r->fields[i].name_len = l;
        r->fields[i].value.kind = INPUT_TEXT;
    }
    r->nfields = n;
    return 0;
}

/* Drops a UTF-8 byte-order mark at the very start of the text. */
static int csv_skip_bom(struct csv_reader *r, char *err, size_t errlen)
{
    while (r->end < 3 && !r->eof) {
        if (csv_fill(r, err, errlen) != 0) {
            return -1;
        }
    }
    if (r->end >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0) {
        r->start = 3;
        r->offset = 3;
    }
    return 0;
}

static enum input_status csv_open(const char *path,
                                  const struct input_reader_options *o,
                                  void **state, char *err, size_t errlen)
{
    struct csv_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return INPUT_IO;
    }
    if (byte_source_open(path, &r->src, err, errlen) != 0) {
        int e = errno;
        free(r);
        return e == ENOMEM ? INPUT_IO : INPUT_NOT_FOUND;
    }
    csv_scanner_init(&r->sc);
    r->max_record = o->max_record;
    r->limit = o->max_record + 2;
    r->cap = CSV_CHUNK < r->limit ? CSV_CHUNK : r->limit;
    r->buf = malloc(r->cap);
    if (r->buf == NULL) {
        snprintf(err, errlen, "out of memory");
        csv_close(r);
        return INPUT_IO;
    }
    if (csv_skip_bom(r, err, errlen) != 0) {
        enum input_status st = csv_read_error();
        csv_close(r);
        return st;
    }
    for (;;) {
        char *rec;
        uint64_t line, offset;
        enum csv_rec rs = csv_next_record(r, &rec, &line, &offset, err,
                                          errlen);
        if (rs == CSV_REC_EOF) { /* an empty file: no header, no rows */
            break;
        }
        if (rs == CSV_REC_ERR) {
            enum input_status st = csv_read_error();
            csv_close(r);
            return st;
        }
        if (rs == CSV_REC_TOO_LONG) {
            snprintf(err, errlen, "header longer than %zu bytes",
                     o->max_record);
            csv_close(r);
            return INPUT_BAD_FILE;
        }
        if (csv_is_blank(&r->sc)) {
            continue;
        }
        if (csv_parse_header(r, rec, line, err, errlen) != 0) {
            csv_close(r);
            return INPUT_BAD_FILE;
        }
        break;
    }
    r->layout = input_layout_new();
    *state = r;
    return INPUT_ROW;
}

static enum input_status csv_next(void *state, struct input_row *row,
                                  struct input_pos *pos, char *err,
                                  size_t errlen)
{
    struct csv_reader *r = state;
    if (r->fields == NULL) {
        return INPUT_EOF;
    }
    for (;;) {
        char *rec;
        uint64_t line, offset;
        enum csv_rec rs = csv_next_record(r, &rec, &line, &offset, err,
                                          errlen);
        if (rs == CSV_REC_EOF) {
            return INPUT_EOF;
        }
        if (rs == CSV_REC_ERR) {
            return csv_read_error();
        }
        pos->line = line;
        pos->offset = offset;
        if (rs == CSV_REC_TOO_LONG) {
            return INPUT_BAD_ROW;
        }
        const struct csv_scanner *sc = &r->sc;
        if (csv_is_blank(sc)) {
            continue;
        }
        if (csv_problem_message(sc, line, err, errlen)) {
            return INPUT_BAD_ROW;
        }
        if (sc->nfields != r->nfields) {
            snprintf(err, errlen, "%zu fields, the header has %zu",
                     sc->nfields, r->nfields);
            return INPUT_BAD_ROW;
        }
        for (size_t i = 0; i < r->nfields; i++) {
            r->fields[i].value.u.s.p = rec + sc->fields[i].off;
            r->fields[i].value.u.s.len = sc->fields[i].len;
        }
        row->n = r->nfields;
        row->fields = r->fields;
        row->layout = r->layout;
        return INPUT_ROW;
    }
}

const struct input_format input_format_csv = {
    .name = "csv",
    .open = csv_open,
    .next = csv_next,
    .close = csv_close,
};
