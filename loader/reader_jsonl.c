/*
 * This file implements the JSONL input format (JSON Lines, also called
 * NDJSON): one JSON object per line, parsed with jansson. The object's
 * members become the row's fields, in the order they appear; nested arrays
 * and objects become INPUT_ARRAY and INPUT_MAP values, so a list of
 * {"item": .., "score": ..} maps keeps its shape. Blank lines are skipped.
 * A line that is not valid JSON, is not an object, repeats a member name
 * or holds an integer outside int64 is a bad row.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input_reader.h"
#include "line_source.h"

struct jsonl_reader {
    struct line_source *src;
    json_t *doc;                /* the current row's document */
    struct input_field *fields; /* one per top-level member */
    size_t fields_cap;
    struct input_value *arena; /* nested values of the current row */
    size_t arena_cap;
    size_t arena_used;
};

static void jsonl_close(void *state)
{
    struct jsonl_reader *r = state;
    if (r == NULL) {
        return;
    }
    line_source_close(r->src);
    json_decref(r->doc);
    free(r->fields);
    free(r->arena);
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
    *state = r;
    return INPUT_ROW;
}

/* The number of input_value slots the children of v need, recursively. */
static size_t jsonl_count(const json_t *v)
{
    size_t n = 0;
    if (json_is_array(v)) {
        size_t i;
        const json_t *e;
        json_array_foreach(v, i, e) {
            n += 1 + jsonl_count(e);
        }
    } else if (json_is_object(v)) {
        const char *k;
        const json_t *e;
        json_object_foreach((json_t *)v, k, e) {
            n += 2 + jsonl_count(e);
        }
    }
    return n;
}

/* Takes n consecutive slots from the arena (sized beforehand). */
static struct input_value *jsonl_take(struct jsonl_reader *r, size_t n)
{
    struct input_value *p = r->arena + r->arena_used;
    r->arena_used += n;
    return p;
}

/* Fills *out from v; children go into the arena. */
static void jsonl_convert(struct jsonl_reader *r, const json_t *v,
                          struct input_value *out)
{
    memset(out, 0, sizeof(*out));
    switch (json_typeof(v)) {
    case JSON_NULL:
        out->kind = INPUT_NIL;
        break;
    case JSON_TRUE:
    case JSON_FALSE:
        out->kind = INPUT_BOOL;
        out->u.b = json_is_true(v);
        break;
    case JSON_INTEGER:
        out->kind = INPUT_INT;
        out->u.i = (int64_t)json_integer_value(v);
        break;
    case JSON_REAL:
        out->kind = INPUT_FLOAT;
        out->u.f = json_real_value(v);
        break;
    case JSON_STRING:
        out->kind = INPUT_STR;
        out->u.s.p = json_string_value(v);
        out->u.s.len = json_string_length(v);
        break;
    case JSON_ARRAY: {
        size_t n = json_array_size(v);
        struct input_value *items = jsonl_take(r, n);
        out->kind = INPUT_ARRAY;
        out->n = (uint32_t)n;
        out->u.items = items;
        for (size_t i = 0; i < n; i++) {
            jsonl_convert(r, json_array_get(v, i), &items[i]);
        }
        break;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(v);
        struct input_value *items = jsonl_take(r, 2 * n);
        out->kind = INPUT_MAP;
        out->n = (uint32_t)n;
        out->u.items = items;
        size_t i = 0;
        for (void *it = json_object_iter((json_t *)v); it != NULL;
             it = json_object_iter_next((json_t *)v, it), i++) {
            items[2 * i].kind = INPUT_STR;
            items[2 * i].n = 0;
            items[2 * i].u.s.p = json_object_iter_key(it);
            items[2 * i].u.s.len = json_object_iter_key_len(it);
            jsonl_convert(r, json_object_iter_value(it), &items[2 * i + 1]);
        }
        break;
    }
    }
}

/* Grows an array to hold at least n elements of size sz. */
static int grow(void **p, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap) {
        return 0;
    }
    size_t c = *cap ? *cap : 16;
    while (c < n) {
        c *= 2;
    }
    void *np = realloc(*p, c * sz);
    if (np == NULL) {
        return -1;
    }
    *p = np;
    *cap = c;
    return 0;
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
    json_decref(r->doc);
    r->doc = NULL;
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
        json_error_t jerr;
        r->doc = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
        if (r->doc == NULL) {
            snprintf(err, errlen, "invalid JSON at column %d: %s",
                     jerr.column, jerr.text);
            return INPUT_BAD_ROW;
        }
        if (!json_is_object(r->doc)) {
            snprintf(err, errlen, "not a JSON object");
            return INPUT_BAD_ROW;
        }
        size_t n = json_object_size(r->doc);
        size_t slots = jsonl_count(r->doc);
        if (grow((void **)&r->fields, &r->fields_cap, n,
                 sizeof(*r->fields)) != 0 ||
            grow((void **)&r->arena, &r->arena_cap, slots,
                 sizeof(*r->arena)) != 0) {
            snprintf(err, errlen, "out of memory");
            return INPUT_IO;
        }
        r->arena_used = 0;
        size_t i = 0;
        for (void *it = json_object_iter(r->doc); it != NULL;
             it = json_object_iter_next(r->doc, it), i++) {
            r->fields[i].name = json_object_iter_key(it);
            r->fields[i].name_len = json_object_iter_key_len(it);
            jsonl_convert(r, json_object_iter_value(it), &r->fields[i].value);
        }
        row->n = n;
        row->fields = r->fields;
        row->layout = 0;
        return INPUT_ROW;
    }
}

const struct input_format input_format_jsonl = {
    .name = "jsonl",
    .open = jsonl_open,
    .next = jsonl_next,
    .close = jsonl_close,
};
