/*
 * This file implements the registry of input formats: finding one by name
 * or by a file's extension. A new format adds its vtable to the table
 * below.
 */
#include "input_reader.h"

#include <string.h>
#include <strings.h>

static const struct {
    const struct input_format *format;
    const char *extensions; /* space-separated, with the dot */
} input_formats[] = {
    {&input_format_tsv, ".tsv .tab"},
    {&input_format_jsonl, ".jsonl .ndjson .json"},
    {&input_format_csv, ".csv"},
    {&input_format_avro, ".avro"},
    {&input_format_msgpack, ".msgpack .mpk"},
};

#define NFORMATS (sizeof(input_formats) / sizeof(input_formats[0]))

const struct input_format *input_format_find(const char *name)
{
    for (size_t i = 0; i < NFORMATS; i++) {
        if (strcasecmp(input_formats[i].format->name, name) == 0) {
            return input_formats[i].format;
        }
    }
    return NULL;
}

const struct input_format *input_format_guess(const char *path)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t blen = strlen(base);
    if (blen > 3 && strcasecmp(base + blen - 3, ".gz") == 0) {
        blen -= 3; /* part-0.csv.gz: the extension before .gz */
    }
    const char *dot = memrchr(base, '.', blen);
    if (dot == NULL || dot + 1 == base + blen) {
        return NULL;
    }
    size_t elen = (size_t)(base + blen - dot);
    for (size_t i = 0; i < NFORMATS; i++) {
        const char *p = input_formats[i].extensions;
        while (*p) {
            const char *sp = strchr(p, ' ');
            size_t l = sp ? (size_t)(sp - p) : strlen(p);
            if (l == elen && strncasecmp(p, dot, l) == 0) {
                return input_formats[i].format;
            }
            p += l + (sp ? 1 : 0);
        }
    }
    return NULL;
}

uint64_t input_layout_new(void)
{
    static uint64_t next_layout = 1;
    return __atomic_fetch_add(&next_layout, 1, __ATOMIC_RELAXED);
}

const char *input_status_name(enum input_status st)
{
    switch (st) {
    case INPUT_ROW:
        return "row";
    case INPUT_EOF:
        return "eof";
    case INPUT_BAD_ROW:
        return "bad row";
    case INPUT_BAD_FILE:
        return "bad file";
    case INPUT_NOT_FOUND:
        return "not found";
    case INPUT_IO:
        return "I/O error";
    }
    return "?";
}
