/*
 * This file implements csv_scanner (csv_scanner.h): a state machine over
 * one record, resumable at any byte, that writes each field's unquoted
 * bytes back into the record buffer behind the read position. Two fast
 * paths keep it near memchr speed: a whole line without quotes is split
 * at once, and runs of plain bytes inside a field are moved in one go.
 */
#include "csv_scanner.h"

#include <stdlib.h>
#include <string.h>

enum csv_state {
    CSV_FIELD_START = 0, /* at the first byte of a field */
    CSV_UNQUOTED,        /* inside an unquoted field */
    CSV_QUOTED,          /* inside a quoted field */
    CSV_QUOTE_SEEN,      /* a '"' in a quoted field: its end, or "" */
    CSV_QUOTE_CR,        /* "\r" right after a closing quote */
};

void csv_scanner_init(struct csv_scanner *s)
{
    memset(s, 0, sizeof(*s));
}

void csv_scanner_deinit(struct csv_scanner *s)
{
    free(s->fields);
    memset(s, 0, sizeof(*s));
}

/* Starts a new record: everything but the field list's memory. */
static void csv_reset(struct csv_scanner *s)
{
    s->nfields = 0;
    s->newlines = 0;
    s->problem = CSV_FINE;
    s->problem_field = 0;
    s->problem_newlines = 0;
    s->skip = false;
    s->state = CSV_FIELD_START;
    s->pos = 0;
    s->w = 0;
    s->field_start = 0;
    s->field_quoted = false;
    s->quote_newlines = 0;
    s->started = false;
    s->done = false;
}

void csv_scanner_discard(struct csv_scanner *s)
{
    s->pos = 0;
    s->w = 0;
    s->field_start = 0;
    /* CSV_QUOTE_CR writes the held-back "\r" before the byte it rereads,
     * which needs w behind pos; with both reset that would write ahead of
     * the input. The record is being skipped, so the "\r" can go. */
    if (s->state == CSV_QUOTE_CR) {
        s->state = CSV_UNQUOTED;
    }
}

bool csv_scanner_in_quotes(const struct csv_scanner *s, size_t *field,
                           uint64_t *newlines)
{
    if (s->state != CSV_QUOTED) {
        return false;
    }
    *field = s->nfields + 1;
    *newlines = s->quote_newlines;
    return true;
}

static void csv_note(struct csv_scanner *s, enum csv_problem p,
                     uint64_t newlines)
{
    if (s->problem == CSV_FINE) {
        s->problem = p;
        s->problem_field = s->nfields + 1;
        s->problem_newlines = newlines;
    }
}

/* Ends the current field; -1 when the field list cannot grow. */
static int csv_end_field(struct csv_scanner *s)
{
    if (!s->skip) {
        if (s->nfields == s->fields_cap) {
            size_t cap = s->fields_cap ? s->fields_cap * 2 : 16;
            struct csv_field *nf = realloc(s->fields, cap * sizeof(*nf));
            if (nf == NULL) {
                return -1;
            }
            s->fields = nf;
            s->fields_cap = cap;
        }
        s->fields[s->nfields].off = s->field_start;
        s->fields[s->nfields].len = s->w - s->field_start;
        s->fields[s->nfields].quoted = s->field_quoted;
    }
    s->nfields++;
    s->field_start = s->w;
    s->field_quoted = false;
    s->state = CSV_FIELD_START;
    return 0;
}

/*
 * The fast path for a record that starts at rec[0] and is a whole line
 * without quotes (most records): splits it at its commas. Returns
 * CSV_MORE when it does not apply (nothing is changed then).
 */
static enum csv_status csv_scan_plain_line(struct csv_scanner *s, char *rec,
                                           size_t len, size_t *consumed)
{
    char *nl = memchr(rec, '\n', len);
    if (nl == NULL || memchr(rec, '"', (size_t)(nl - rec)) != NULL) {
        return CSV_MORE;
    }
    size_t end = (size_t)(nl - rec);
    size_t stop = end > 0 && rec[end - 1] == '\r' ? end - 1 : end;
    size_t start = 0;
    for (;;) {
        char *comma = memchr(rec + start, ',', stop - start);
        size_t fend = comma ? (size_t)(comma - rec) : stop;
        s->field_start = start;
        s->w = fend;
        if (csv_end_field(s) != 0) {
            return CSV_NOMEM;
        }
        if (comma == NULL) {
            break;
        }
        start = fend + 1;
    }
    s->newlines = 1;
    s->pos = end + 1;
    s->started = true;
    *consumed = s->pos;
    s->done = true;
    return CSV_RECORD;
}

/* Bytes at the start of p[0..n) that are plain inside an unquoted field. */
static size_t csv_plain_run(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && p[i] != ',' && p[i] != '\n' && p[i] != '"') {
        i++;
    }
    return i;
}

/* Counts the '\n' bytes of p[0..n). */
static uint64_t csv_count_newlines(const char *p, size_t n)
{
    uint64_t k = 0;
    const char *end = p + n;
    while ((p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
        k++;
        p++;
    }
    return k;
}

/* Moves a run of n field bytes at pos to the output position. */
static void csv_take_run(struct csv_scanner *s, char *rec, size_t n)
{
    if (s->w != s->pos) {
        memmove(rec + s->w, rec + s->pos, n);
    }
    s->w += n;
    s->pos += n;
    s->started = true;
}

/* Ends the record at the current position. */
static enum csv_status csv_end_record(struct csv_scanner *s,
                                      size_t *consumed)
{
    if (csv_end_field(s) != 0) {
        return CSV_NOMEM;
    }
    if (s->skip) {
        s->nfields = 0;
    }
    *consumed = s->pos;
    s->done = true;
    return CSV_RECORD;
}

enum csv_status csv_scan(struct csv_scanner *s, char *rec, size_t len,
                         bool eof, size_t *consumed)
{
    if (s->done) {
        csv_reset(s);
    }
    if (!s->started && !s->skip) {
        enum csv_status st = csv_scan_plain_line(s, rec, len, consumed);
        if (st != CSV_MORE) {
            return st;
        }
    }
    while (s->pos < len) {
        if (s->state == CSV_UNQUOTED) {
            csv_take_run(s, rec, csv_plain_run(rec + s->pos, len - s->pos));
        } else if (s->state == CSV_QUOTED) {
            const char *q = memchr(rec + s->pos, '"', len - s->pos);
            size_t n = q ? (size_t)(q - (rec + s->pos)) : len - s->pos;
            s->newlines += csv_count_newlines(rec + s->pos, n);
            csv_take_run(s, rec, n);
        }
        if (s->pos == len) {
            break;
        }
        char c = rec[s->pos++];
        s->started = true;
        switch (s->state) {
        case CSV_FIELD_START:
            if (c == '"') {
                s->state = CSV_QUOTED;
                s->field_quoted = true;
                s->quote_newlines = s->newlines;
                break;
            }
            s->state = CSV_UNQUOTED;
            s->pos--; /* the same byte again, as part of the field */
            break;
        case CSV_UNQUOTED:
            if (c == ',') {
                if (csv_end_field(s) != 0) {
                    return CSV_NOMEM;
                }
            } else if (c == '\n') {
                s->newlines++;
                if (s->w > s->field_start && rec[s->w - 1] == '\r') {
                    s->w--; /* "\r\n" */
                }
                return csv_end_record(s, consumed);
            } else {
                if (c == '"') {
                    csv_note(s, CSV_BARE_QUOTE, s->newlines);
                }
                rec[s->w++] = c;
            }
            break;
        case CSV_QUOTED:
            if (c == '"') {
                s->state = CSV_QUOTE_SEEN;
            } else {
                s->newlines += c == '\n';
                rec[s->w++] = c;
            }
            break;
        case CSV_QUOTE_SEEN:
            if (c == '"') {
                rec[s->w++] = '"';
                s->state = CSV_QUOTED;
            } else if (c == ',') {
                if (csv_end_field(s) != 0) {
                    return CSV_NOMEM;
                }
            } else if (c == '\n') {
                s->newlines++;
                return csv_end_record(s, consumed);
            } else if (c == '\r') {
                s->state = CSV_QUOTE_CR;
            } else {
                csv_note(s, CSV_AFTER_QUOTE, s->newlines);
                s->state = CSV_UNQUOTED;
                s->pos--;
            }
            break;
        case CSV_QUOTE_CR:
            if (c == '\n') {
                s->newlines++;
                return csv_end_record(s, consumed);
            }
            /* A lone "\r": text after the quote, kept with what follows
             * (w is at least two bytes behind: the quote and the "\r"). */
            csv_note(s, CSV_AFTER_QUOTE, s->newlines);
            rec[s->w++] = '\r';
            s->state = CSV_UNQUOTED;
            s->pos--;
            break;
        }
    }
    if (!eof) {
        return CSV_MORE;
    }
    if (!s->started) {
        return CSV_END;
    }
    if (s->state == CSV_QUOTED) {
        csv_note(s, CSV_UNCLOSED, s->quote_newlines);
    } else if (s->state == CSV_UNQUOTED && s->w > s->field_start &&
               rec[s->w - 1] == '\r') {
        s->w--; /* a last line ending in a lone "\r" */
    }
    return csv_end_record(s, consumed);
}
