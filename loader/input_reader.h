/*
 * input_reader.h: the one interface every input format of larder-load
 * implements (reader_tsv.c, reader_jsonl.c, reader_csv.c, reader_avro.c,
 * reader_msgpack.c).
 *
 * A format is a vtable — open a file, take the next row, close — named by
 * a short string ("tsv", "jsonl"). A row is a list of named fields whose
 * values use a small format-neutral model (struct input_value): scalars,
 * untyped text (formats without types, such as TSV, give INPUT_TEXT and
 * leave typing to the row encoder), arrays and maps. A reader never
 * decides what a row means (which field is the key, what is stored): that
 * is row_encoder.c's job.
 *
 * Ownership: a row and everything it points to is owned by the reader and
 * valid until the next call of next() or close() on the same reader.
 */
#ifndef LARDER_INPUT_READER_H
#define LARDER_INPUT_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum input_kind {
    INPUT_NIL = 0, /* JSON null; an empty TSV field is TEXT of length 0 */
    INPUT_BOOL,
    INPUT_INT,   /* int64 */
    INPUT_FLOAT, /* double */
    INPUT_STR,   /* a typed string (bytes, usually UTF-8) */
    INPUT_TEXT,  /* untyped text from a typeless format: typed later */
    INPUT_ARRAY, /* n values in items */
    INPUT_MAP,   /* n pairs in items: items[2i] the key (STR), [2i+1] value */
};

struct input_value {
    enum input_kind kind;
    uint32_t n; /* ARRAY: elements; MAP: pairs */
    union {
        bool b;
        int64_t i;
        double f;
        struct {
            const char *p;
            size_t len;
        } s;                             /* STR, TEXT */
        const struct input_value *items; /* ARRAY, MAP */
    } u;
};

struct input_field {
    const char *name;
    size_t name_len;
    struct input_value value;
};

/*
 * One row. layout is nonzero when the names and order of the fields are
 * those of every other row with the same layout (TSV: one layout per file,
 * from its header), so a consumer may cache the positions it looks up;
 * 0 means the fields may differ from row to row (JSONL).
 */
struct input_row {
    size_t n;
    const struct input_field *fields;
    uint64_t layout;
};

/* Where a row (or a bad row) was found: 1-based line and byte offset. */
struct input_pos {
    uint64_t line;   /* 0 for formats without lines */
    uint64_t offset; /* byte offset of the row's start in the file */
};

enum input_status {
    INPUT_ROW = 0,   /* next(): a row was returned */
    INPUT_EOF,       /* next(): no more rows */
    INPUT_BAD_ROW,   /* next(): this row is malformed (err, pos); go on */
    INPUT_BAD_FILE,  /* the file as a whole is unusable (no header, a
                        truncated gzip stream...) */
    INPUT_NOT_FOUND, /* open(): the file is missing or not readable */
    INPUT_IO,        /* a read error: the load cannot go on */
};

/* Limits shared by every format. */
struct input_reader_options {
    size_t max_record; /* longest line or record, in bytes */
    /*
     * A piece of the file: only the rows that start at a byte offset in
     * [range_start, range_end) (both 0: the whole file). Only for a
     * format that is splittable, on a file byte_source_seekable() accepts.
     * A piece after the first reports line numbers counted from its own
     * first line (pos.offset stays the file's).
     */
    uint64_t range_start, range_end;
};

struct input_format {
    const char *name;
    /* Every row is one line, so a plain file can be read in pieces
     * (input_reader_options.range_*) by several threads at once. */
    bool splittable;
    /*
     * Opens path and reads what the format needs up front (TSV: the
     * header). Returns INPUT_ROW on success (*state set), else
     * INPUT_NOT_FOUND, INPUT_BAD_FILE or INPUT_IO with err.
     */
    enum input_status (*open)(const char *path,
                              const struct input_reader_options *o,
                              void **state, char *err, size_t errlen);
    /*
     * Returns the next row (INPUT_ROW), INPUT_EOF, INPUT_BAD_ROW (err says
     * why; the reader has skipped the row and may be called again),
     * INPUT_BAD_FILE (the rest of the file is unusable: damaged data, such
     * as a truncated gzip stream) or INPUT_IO. pos is filled for rows and
     * bad rows.
     */
    enum input_status (*next)(void *state, struct input_row *row,
                              struct input_pos *pos, char *err,
                              size_t errlen);
    /* Frees the state (NULL is allowed). */
    void (*close)(void *state);
};

extern const struct input_format input_format_tsv;
extern const struct input_format input_format_jsonl;
extern const struct input_format input_format_csv;
extern const struct input_format input_format_avro;
extern const struct input_format input_format_msgpack;

/* The format called name ("tsv", "jsonl"), or NULL. */
const struct input_format *input_format_find(const char *name);

/*
 * The format a file name suggests by its extension (.tsv, .tab; .jsonl,
 * .ndjson, .json; .csv; .avro; .msgpack, .mpk), or NULL. A final .gz is
 * looked through (part-0.csv.gz is CSV): every format reads gzip
 * (byte_source.h).
 */
const struct input_format *input_format_guess(const char *path);

/*
 * A new layout id (struct input_row), unique in the process across every
 * format, for a reader whose rows share their fields (one per file).
 */
uint64_t input_layout_new(void);

/* The name of a status, for messages. */
const char *input_status_name(enum input_status st);

/* An open reader: a format plus its state. */
struct input_reader {
    const struct input_format *format;
    void *state;
};

static inline enum input_status
input_reader_open(struct input_reader *r, const struct input_format *f,
                  const char *path, const struct input_reader_options *o,
                  char *err, size_t errlen)
{
    r->format = f;
    r->state = NULL;
    return f->open(path, o, &r->state, err, errlen);
}

static inline enum input_status
input_reader_next(struct input_reader *r, struct input_row *row,
                  struct input_pos *pos, char *err, size_t errlen)
{
    return r->format->next(r->state, row, pos, err, errlen);
}

static inline void input_reader_close(struct input_reader *r)
{
    if (r->format != NULL) {
        r->format->close(r->state);
    }
    r->format = NULL;
    r->state = NULL;
}

#endif
