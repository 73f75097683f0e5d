/*
 * This file implements reader_drain.h. The file is a memfd (memfile.h),
 * rewritten for each input. Checked, from input_reader.h:
 *   - open() of an existing file never says INPUT_NOT_FOUND, succeeds with
 *     a state, or fails with a message;
 *   - next() returns a known status; bad rows, bad files and I/O errors
 *     come with a message; positions never go backwards;
 *   - every byte of every name and string of a row is readable (so
 *     AddressSanitizer sees a dangling or short pointer), kinds are known,
 *     maps have string keys, and counts match their items;
 *   - rows that share a nonzero layout have the same field names in the
 *     same order;
 *   - reader_drain_pieces(): the rows, bad rows and errors of the pieces,
 *     in order, are those of the whole file (see reader_drain.h).
 */
#include "reader_drain.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "byte_source.h"
#include "fuzz_check.h"
#include "memfile.h"
#include "transcript.h"

/* Deepest value nesting walked; deeper values are only counted. */
#define DRAIN_MAX_DEPTH 256

/* The field names of the last layout seen, to compare later rows with. */
struct layout_names {
    uint64_t layout; /* 0: none yet */
    size_t n;
    char **names; /* owned copies */
    size_t *lens;
};

static void layout_names_clear(struct layout_names *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->names[i]);
    }
    free(l->names);
    free(l->lens);
    memset(l, 0, sizeof(*l));
}

static void layout_names_check(struct layout_names *l,
                               const struct input_row *row)
{
    if (row->layout == 0) {
        return;
    }
    if (row->layout == l->layout) {
        CHECK(row->n == l->n);
        for (size_t i = 0; i < row->n; i++) {
            CHECK(row->fields[i].name_len == l->lens[i]);
            CHECK(memcmp(row->fields[i].name, l->names[i], l->lens[i]) == 0);
        }
        return;
    }
    layout_names_clear(l);
    l->layout = row->layout;
    l->n = row->n;
    l->names = calloc(row->n + 1, sizeof(*l->names));
    l->lens = calloc(row->n + 1, sizeof(*l->lens));
    CHECK(l->names != NULL && l->lens != NULL);
    for (size_t i = 0; i < row->n; i++) {
        l->lens[i] = row->fields[i].name_len;
        l->names[i] = malloc(l->lens[i] + 1);
        CHECK(l->names[i] != NULL);
        memcpy(l->names[i], row->fields[i].name, l->lens[i]);
    }
}

/* Reads every byte of p[0, n) (the sum keeps the reads from vanishing). */
static unsigned touch(const char *p, size_t n)
{
    CHECK(n == 0 || p != NULL);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        sum += (unsigned char)p[i];
    }
    return sum;
}

/*
 * Reads every byte of v and what it holds, and appends v to t (NULL: no
 * record): its kind, count and contents, doubles by their bits.
 */
static unsigned walk(const struct input_value *v, unsigned depth,
                     struct transcript *t)
{
    if (t != NULL) {
        transcript_u64(t, (uint64_t)v->kind);
        transcript_u64(t, v->n);
    }
    switch (v->kind) {
    case INPUT_NIL:
        return 0;
    case INPUT_INT:
        if (t != NULL) {
            transcript_u64(t, (uint64_t)v->u.i);
        }
        return 0;
    case INPUT_FLOAT:
        if (t != NULL) {
            transcript_put(t, &v->u.f, sizeof(v->u.f));
        }
        return 0;
    case INPUT_BOOL:
        if (t != NULL) {
            transcript_u64(t, v->u.b ? 1 : 0);
        }
        return v->u.b ? 1 : 0;
    case INPUT_STR:
    case INPUT_TEXT:
        if (t != NULL) {
            transcript_str(t, v->u.s.p, v->u.s.len);
        }
        return touch(v->u.s.p, v->u.s.len);
    case INPUT_ARRAY:
    case INPUT_MAP: {
        size_t items = v->kind == INPUT_MAP ? 2 * (size_t)v->n : v->n;
        CHECK(items == 0 || v->u.items != NULL);
        if (depth >= DRAIN_MAX_DEPTH) {
            return 0;
        }
        unsigned sum = 0;
        for (size_t i = 0; i < items; i++) {
            if (v->kind == INPUT_MAP && i % 2 == 0) {
                CHECK(v->u.items[i].kind == INPUT_STR);
            }
            sum += walk(&v->u.items[i], depth + 1, t);
        }
        return sum;
    }
    }
    CHECK(!"unknown input_kind");
    return 0;
}

/*
 * Opens path with options o and reads it to its end, checking every
 * promise, and appends what a caller can observe to t (NULL: no record):
 * a failed open's status and message; then, for each row, bad row or
 * error ending the file, its status and offset, its line number when the
 * offset is below lines_below (a piece after the first counts lines from
 * its own start), a bad row's or error's message, and a row's fields.
 * Returns the status of the open.
 */
static enum input_status drain(const struct input_format *f,
                               const char *path,
                               const struct input_reader_options *o,
                               struct transcript *t, uint64_t lines_below)
{
    struct input_reader r;
    char err[512] = "";
    enum input_status opened = input_reader_open(&r, f, path, o, err,
                                                 sizeof(err));
    if (opened != INPUT_ROW) {
        CHECK(opened == INPUT_BAD_FILE || opened == INPUT_IO);
        CHECK(err[0] != '\0');
        if (t != NULL) {
            transcript_u64(t, (uint64_t)opened);
            transcript_str(t, err, strlen(err));
        }
        return opened;
    }
    struct layout_names names = {0};
    struct input_pos last = {0};
    volatile unsigned sum = 0;
    for (;;) {
        struct input_row row = {0};
        struct input_pos pos = {0};
        err[0] = '\0';
        enum input_status st = input_reader_next(&r, &row, &pos, err,
                                                 sizeof(err));
        if (st == INPUT_EOF) {
            break;
        }
        CHECK(st == INPUT_ROW || st == INPUT_BAD_ROW ||
              st == INPUT_BAD_FILE || st == INPUT_IO);
        if (t != NULL) {
            transcript_u64(t, (uint64_t)st);
        }
        if (st == INPUT_BAD_FILE || st == INPUT_IO) {
            CHECK(err[0] != '\0');
            if (t != NULL) {
                transcript_str(t, err, strlen(err));
            }
            break;
        }
        CHECK(pos.line >= last.line && pos.offset >= last.offset);
        last = pos;
        if (t != NULL) {
            transcript_u64(t, pos.offset);
            if (pos.offset < lines_below) {
                transcript_u64(t, pos.line);
            }
        }
        if (st == INPUT_BAD_ROW) {
            CHECK(err[0] != '\0');
            if (t != NULL) {
                transcript_str(t, err, strlen(err));
            }
            continue;
        }
        CHECK(row.n == 0 || row.fields != NULL);
        if (t != NULL) {
            transcript_u64(t, row.n);
            transcript_u64(t, row.layout != 0);
        }
        for (size_t i = 0; i < row.n; i++) {
            if (t != NULL) {
                transcript_str(t, row.fields[i].name,
                               row.fields[i].name_len);
            }
            sum += touch(row.fields[i].name, row.fields[i].name_len);
            sum += walk(&row.fields[i].value, 0, t);
        }
        layout_names_check(&names, &row);
    }
    (void)sum;
    layout_names_clear(&names);
    input_reader_close(&r);
    return opened;
}

/* The file every input is written to, created on first use. */
static const char *drain_file(const char *name, const uint8_t *data,
                              size_t size)
{
    static struct memfile file = {.fd = -1};
    if (file.fd < 0) {
        memfile_open(&file, name);
    }
    return memfile_set(&file, data, size);
}

void reader_drain(const struct input_format *f, size_t max_record,
                  const uint8_t *data, size_t size)
{
    const char *path = drain_file(f->name, data, size);
    const struct input_reader_options o = {.max_record = max_record};
    drain(f, path, &o, NULL, 0);
}

/* Byte i of the input, 0 past its end. */
static unsigned byte_at(const uint8_t *data, size_t size, size_t i)
{
    return i < size ? data[i] : 0;
}

/*
 * The cut points of an input of size bytes (see reader_drain.h): returns
 * how many (1 or 2), in cut[0] <= cut[1], each in [0, size].
 */
static int pieces_cut(const uint8_t *data, size_t size, uint64_t cut[2])
{
    uint64_t first = byte_at(data, size, 0) |
                     byte_at(data, size, size - 1) << 8;
    uint64_t second = byte_at(data, size, 1) |
                      (size >= 2 ? byte_at(data, size, size - 2) << 8 : 0);
    cut[0] = first % (size + 1);
    if (second % 3 == 0) {
        return 1;
    }
    cut[1] = cut[0] + (second / 3) % (size - cut[0] + 1);
    return 2;
}

void reader_drain_pieces(const struct input_format *f, size_t max_record,
                         const uint8_t *data, size_t size)
{
    CHECK(f->splittable);
    const char *path = drain_file(f->name, data, size);
    uint64_t cut[2];
    int ncut = size > 0 ? pieces_cut(data, size, cut) : 0;
    struct input_reader_options o = {.max_record = max_record};
    struct transcript whole = {0};
    enum input_status opened = drain(f, path, &o, &whole,
                                     ncut > 0 ? cut[0] : 0);
    if (ncut == 0 || !byte_source_seekable(path)) {
        transcript_clear(&whole);
        return;
    }
    /* Piece i is [bound[i], bound[i + 1]); the last ends at 0, the file's
     * end. An earlier piece ending at 0 is [0, 0): empty, and skipped, as
     * those options would mean the whole file. */
    uint64_t bound[4] = {0, cut[0], ncut > 1 ? cut[1] : 0, 0};
    struct transcript pieces = {0};
    for (int i = 0; i <= ncut; i++) {
        o.range_start = bound[i];
        o.range_end = bound[i + 1];
        if (i < ncut && o.range_end == 0) {
            continue;
        }
        if (opened != INPUT_ROW) {
            /* Every piece must refuse the file as the whole read did. */
            transcript_clear(&pieces);
        }
        drain(f, path, &o, &pieces, cut[0]);
        if (opened != INPUT_ROW) {
            transcript_expect_equal(&whole, &pieces, "open of a piece");
        }
    }
    if (opened == INPUT_ROW) {
        transcript_expect_equal(&whole, &pieces, "pieces vs whole file");
    }
    transcript_clear(&pieces);
    transcript_clear(&whole);
}
