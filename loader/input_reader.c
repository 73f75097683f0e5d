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
    const char *slash = strrchr(path, '/');
    const char *dot = strrchr(slash ? slash : path, '.');
    if (dot == NULL || dot[1] == '\0') {
        return NULL;
    }
    size_t elen = strlen(dot);
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
