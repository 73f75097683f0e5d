/*
 * json_row.h: parses one JSON text (a JSONL line) straight into the
 * reader model of input_reader.h, for the JSONL reader.
 *
 * It parses in place: strings point into the text, and a string with
 * escapes is unescaped where it stands (never longer than its escaped
 * form), so nothing is copied and no tree is built beside the row. It
 * accepts what jansson's json_loadb() accepts with JSON_REJECT_DUPLICATES,
 * which the reader used before: RFC 8259 JSON, UTF-8 checked, integers in
 * int64 (else "too big integer"), reals that do not overflow, no "\u0000"
 * escape, no repeated member name in any object, nesting up to
 * JSON_ROW_MAX_DEPTH. tests/fuzz/fuzz_json_row.c compares the two.
 *
 * Ownership: the fields and values point into the text and into the
 * parser's own arrays, valid until the next parse or json_row_free().
 */
#ifndef LARDER_JSON_ROW_H
#define LARDER_JSON_ROW_H

#include <stddef.h>

#include "input_reader.h"

#define JSON_ROW_MAX_DEPTH 2048

enum json_row_status {
    JSON_ROW_OK = 0,
    JSON_ROW_INVALID,    /* not JSON: err says what and at which column */
    JSON_ROW_NOT_OBJECT, /* valid JSON, but not an object */
    JSON_ROW_NOMEM,
};

/* Zero-initialise; reused from row to row, so its arrays grow once. */
struct json_row {
    struct input_value *stack; /* values of the containers being parsed */
    size_t stack_len, stack_cap;
    struct input_value *arena; /* children of finished containers */
    size_t arena_len, arena_cap;
    struct input_field *fields; /* the top-level object's members */
    size_t nfields, fields_cap;
    unsigned *seen; /* hash slots for the duplicate-name check */
    size_t seen_cap;
};

/*
 * Parses text[0..len) (which it modifies) as one JSON object into
 * jr->fields (jr->nfields of them, in document order). On failure err
 * says why (it starts with "invalid JSON" for JSON_ROW_INVALID).
 */
enum json_row_status json_row_parse(struct json_row *jr, char *text,
                                    size_t len, char *err, size_t errlen);

void json_row_free(struct json_row *jr);

#endif
