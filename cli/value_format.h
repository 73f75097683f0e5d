/*
 * value_format.h: how the admin CLI shows a stored value (and a key).
 *
 * A batch table's row is stored as a msgpack map of its fields; such a
 * value is decoded and shown as a JSON object. Any other value is bytes:
 * shown as they are when they are printable UTF-8 text, quoted with
 * escapes otherwise (human output), or as a JSON string when valid UTF-8
 * and base64 otherwise (--json output, where the caller marks it with
 * "encoding": "base64").
 *
 * A value counts as a row only if the whole of it is exactly one msgpack
 * map, so text that merely starts like msgpack is never misread. Inside a
 * row: str -> string, int -> number, float -> number (NaN and infinities
 * -> null), bool, nil -> null, array -> array, map -> object (a key that is
 * not a string is written as the JSON text of its value), bin and ext ->
 * base64 string.
 */
#ifndef LARDER_CLI_VALUE_FORMAT_H
#define LARDER_CLI_VALUE_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "json_writer.h"

enum value_kind {
    VALUE_ROW = 0, /* a msgpack map */
    VALUE_TEXT,    /* valid UTF-8 (not a row) */
    VALUE_BINARY,  /* anything else */
};

/* What kind of value v[0, n) is. */
enum value_kind value_classify(const char *v, size_t n);

/*
 * Writes v[0, n) as one JSON value: a row as an object, text as a string,
 * binary as a base64 string. Returns the kind written.
 */
enum value_kind value_write_json(struct json_writer *w, const char *v,
                                 size_t n);

/*
 * Appends the human form of v[0, n) to out: a row as compact JSON, other
 * values as value_append_text() does.
 */
void value_append_human(struct buf *out, const char *v, size_t n);

/*
 * Appends s[0, n) as is if it is non-empty, valid UTF-8 without control
 * characters and without leading or trailing blanks or a leading '"';
 * otherwise double-quoted with \" \\ \n \r \t and \xHH escapes (valid
 * non-ASCII UTF-8 stays as is).
 */
void value_append_text(struct buf *out, const char *s, size_t n);

/* Appends the standard base64 (with padding) of s[0, n). */
void value_append_base64(struct buf *out, const char *s, size_t n);

#endif
