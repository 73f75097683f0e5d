/*
 * json_writer.h: a small streaming JSON emitter for the admin CLI's --json
 * output, writing into a struct buf.
 *
 * The writer places commas and colons itself: the caller opens and closes
 * objects and arrays and, inside an object, gives a key before each value.
 * Strings are bytes: valid UTF-8 passes through, control characters, '"'
 * and '\' are escaped, and a byte that is not part of valid UTF-8 becomes
 * U+FFFD (JSON cannot carry it; callers that must keep bytes exactly
 * encode them first, e.g. as base64). Doubles are written in the shortest
 * form that reads back as the same double, always with a '.' or exponent
 * so they stay floats; NaN and infinities, which JSON lacks, become null.
 */
#ifndef LARDER_CLI_JSON_WRITER_H
#define LARDER_CLI_JSON_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "buf.h"

/* Deepest nesting of objects and arrays the writer tracks. */
#define JW_DEPTH_MAX 64

struct json_writer {
    struct buf *out;            /* borrowed */
    size_t depth;
    bool first[JW_DEPTH_MAX + 1]; /* no element yet at this level */
    bool after_key;
};

/* Starts writing into out (appending to what it holds). */
void jw_init(struct json_writer *w, struct buf *out);

void jw_object_begin(struct json_writer *w);
void jw_object_end(struct json_writer *w);
void jw_array_begin(struct json_writer *w);
void jw_array_end(struct json_writer *w);

/* A key inside an object: s[0, n) as a string. */
void jw_key(struct json_writer *w, const char *s, size_t n);

/* A NUL-terminated key. */
static inline void jw_key_str(struct json_writer *w, const char *s)
{
    jw_key(w, s, strlen(s));
}

void jw_string(struct json_writer *w, const char *s, size_t n);
void jw_str(struct json_writer *w, const char *s); /* NUL-terminated */
void jw_u64(struct json_writer *w, uint64_t v);
void jw_i64(struct json_writer *w, int64_t v);
void jw_double(struct json_writer *w, double v);
void jw_bool(struct json_writer *w, bool v);
void jw_null(struct json_writer *w);

/*
 * Length of the valid UTF-8 sequence starting at s (of at most n bytes):
 * 1 to 4, or 0 if the bytes there are not valid UTF-8 (overlong forms,
 * surrogates and code points above U+10FFFF are invalid).
 */
size_t jw_utf8_seq(const unsigned char *s, size_t n);

/* Appends the shortest round-tripping text of a finite double to out. */
void jw_format_double(struct buf *out, double v);

#endif
