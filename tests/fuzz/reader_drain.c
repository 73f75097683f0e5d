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
 *     same order.
 */
#include "reader_drain.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "memfile.h"

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

static unsigned walk(const struct input_value *v, unsigned depth)
{
    switch (v->kind) {
    case INPUT_NIL:
    case INPUT_INT:
    case INPUT_FLOAT:
        return 0;
    case INPUT_BOOL:
        return v->u.b ? 1 : 0;
    case INPUT_STR:
    case INPUT_TEXT:
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
            sum += walk(&v->u.items[i], depth + 1);
        }
        return sum;
    }
    }
    CHECK(!"unknown input_kind");
    return 0;
}

void reader_drain(const struct input_format *f, size_t max_record,
                  const uint8_t *data, size_t size)
{
    static struct memfile file = {.fd = -1};
    if (file.fd < 0) {
        memfile_open(&file, f->name);
    }
    const char *path = memfile_set(&file, data, size);
    const struct input_reader_options o = {.max_record = max_record};
    struct input_reader r;
    char err[512] = "";
    enum input_status st = input_reader_open(&r, f, path, &o, err,
                                             sizeof(err));
    if (st != INPUT_ROW) {
        CHECK(st == INPUT_BAD_FILE || st == INPUT_IO);
        CHECK(err[0] != '\0');
        return;
    }
    struct layout_names names = {0};
    struct input_pos last = {0};
    volatile unsigned sum = 0;
    for (;;) {
        struct input_row row = {0};
        struct input_pos pos = {0};
        err[0] = '\0';
        st = input_reader_next(&r, &row, &pos, err, sizeof(err));
        if (st == INPUT_EOF) {
            break;
        }
        CHECK(st == INPUT_ROW || st == INPUT_BAD_ROW ||
              st == INPUT_BAD_FILE || st == INPUT_IO);
        if (st == INPUT_BAD_FILE || st == INPUT_IO) {
            CHECK(err[0] != '\0');
            break;
        }
        CHECK(pos.line >= last.line && pos.offset >= last.offset);
        last = pos;
        if (st == INPUT_BAD_ROW) {
            CHECK(err[0] != '\0');
            continue;
        }
        CHECK(row.n == 0 || row.fields != NULL);
        for (size_t i = 0; i < row.n; i++) {
            sum += touch(row.fields[i].name, row.fields[i].name_len);
            sum += walk(&row.fields[i].value, 0);
        }
        layout_names_check(&names, &row);
    }
    (void)sum;
    layout_names_clear(&names);
    input_reader_close(&r);
}
