/*
 * csv_scanner.h: splits CSV text (RFC 4180) into records and fields. Pure:
 * bytes in, field boundaries out, no I/O (reader_csv.c does the reading).
 *
 * The rules: fields are separated by ',' and records end in "\n" or
 * "\r\n" (a "\r" at the end of a record's last unquoted field is part of
 * the line end). A field that starts with '"' is quoted: it ends at the
 * next lone '"', and may hold ',', '"' (written twice: "") and line ends.
 * The end of the text ends the last record.
 *
 * Malformed records are still cut where a lenient reader would cut them,
 * so one bad record does not swallow the next; the record comes back with
 * its first problem noted:
 *   - a '"' inside an unquoted field (kept as a character);
 *   - text after a quoted field's closing quote (kept as characters);
 *   - the end of the text inside a quoted field (an unclosed quote).
 *
 * Incremental: csv_scan() is given the bytes of the current record seen
 * so far (the same bytes, plus more, on the next call) and resumes where
 * it stopped. It unquotes fields in place (the record's bytes are
 * rewritten, never past what was already scanned), so a field is a plain
 * span of the record buffer.
 */
#ifndef LARDER_CSV_SCANNER_H
#define LARDER_CSV_SCANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct csv_field {
    size_t off;  /* in the record buffer, after unquoting */
    size_t len;
    bool quoted; /* the field was quoted ("" is quoted and empty) */
};

enum csv_problem {
    CSV_FINE = 0,
    CSV_BARE_QUOTE,  /* '"' inside an unquoted field */
    CSV_AFTER_QUOTE, /* characters after a closing quote */
    CSV_UNCLOSED,    /* the text ended inside a quoted field */
};

enum csv_status {
    CSV_RECORD = 0, /* a record is complete: fields, nfields, newlines */
    CSV_MORE,       /* every byte given is scanned: call again with more */
    CSV_END,        /* the text ended and no record was started */
    CSV_NOMEM,
};

struct csv_scanner {
    /* The record of the last CSV_RECORD (valid until the next call). */
    struct csv_field *fields; /* owned */
    size_t nfields;
    uint64_t newlines;          /* '\n' bytes in it, its line end too */
    enum csv_problem problem;   /* the first one, or CSV_FINE */
    size_t problem_field;       /* 1-based field of the problem */
    uint64_t problem_newlines;  /* '\n' bytes before it in the record */
    /* Set by the caller while a record is skipped: fields not recorded. */
    bool skip;
    /* Scan state of the current record. */
    size_t fields_cap;
    int state;
    size_t pos;         /* bytes of the record scanned */
    size_t w;           /* bytes of unquoted output written */
    size_t field_start; /* output offset of the current field */
    bool field_quoted;
    uint64_t quote_newlines; /* '\n' bytes before the open quote */
    bool started;       /* a byte of the record was scanned */
    bool done;          /* the record was returned: reset on the next call */
};

/* Sets up a scanner (nothing allocated yet). */
void csv_scanner_init(struct csv_scanner *s);

/* Frees the scanner's field list. */
void csv_scanner_deinit(struct csv_scanner *s);

/*
 * Scans the current record, whose bytes are rec[0..len) (len never less
 * than at the previous call for the same record; eof: no more bytes will
 * come). On CSV_RECORD, *consumed is the record's length in rec, line end
 * included; the caller drops those bytes and gives the next record's
 * bytes from rec[0] on the next call. The record's fields are spans of
 * rec, which this rewrites in place.
 */
enum csv_status csv_scan(struct csv_scanner *s, char *rec, size_t len,
                         bool eof, size_t *consumed);

/*
 * After CSV_MORE, while the record is skipped (skip set): forgets the
 * bytes scanned so far, so the caller may drop them and give the rest of
 * the record from rec[0]. The newline count and quoting state are kept.
 */
void csv_scanner_discard(struct csv_scanner *s);

/*
 * True if the scan stopped inside a quoted field; *field (1-based) and
 * *newlines ('\n' bytes in the record before its opening quote) say which.
 */
bool csv_scanner_in_quotes(const struct csv_scanner *s, size_t *field,
                           uint64_t *newlines);

#endif
