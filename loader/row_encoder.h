/*
 * row_encoder.h: turns an input row into the (key, value) pair a batch
 * table stores, and records the schema it saw.
 *
 * The key is one field's bytes: a string or untyped text as is, an integer
 * in decimal; any other type, an empty key or a missing key field makes
 * the row bad. The value is, by default, a msgpack map of the chosen
 * fields (every field but the key unless a list is given), field names as
 * str keys, values typed as docs/loader.md "Value encoding" says: JSON
 * strings, integers, floats, booleans, null, arrays and objects map to
 * str, int, float64, bool, nil, array and map; untyped text (TSV) is an
 * integer if it is a canonical int64 ("0", "-12", not "007" or "+1"), a
 * float if it is a decimal number that is a finite double ("1.5", "2e-3"),
 * nil if empty, else a str. With value_field set the value is that one
 * field's raw bytes instead: a string's or text's bytes, any other value
 * as compact JSON text.
 *
 * Pure: no I/O. Not thread-safe (one encoder per thread).
 */
#ifndef LARDER_ROW_ENCODER_H
#define LARDER_ROW_ENCODER_H

#include <stddef.h>
#include <stdint.h>

#include "input_reader.h"
#include "schema.h"

struct row_encoder_options {
    const char *key_field;   /* required */
    const char *fields;      /* "a,b,c"; NULL or "": every field but the key */
    const char *value_field; /* NULL or "": store a msgpack map */
};

/* An encoded row; the pointers are valid until the next encode call. */
struct row_encoded {
    const char *key;
    size_t klen;
    const char *value;
    size_t vlen;
};

enum row_status {
    ROW_OK = 0,
    ROW_BAD,     /* the row cannot be stored; err says why */
    ROW_NOMEM,
};

struct row_encoder;

/*
 * Creates an encoder. Returns 0, or -1 with err for bad options (an empty
 * key field, an empty or repeated name in fields, the key among fields,
 * fields together with value_field).
 */
int row_encoder_create(const struct row_encoder_options *o,
                       struct row_encoder **out, char *err, size_t errlen);

void row_encoder_destroy(struct row_encoder **e);

/* Encodes one row into *out, or says why it is bad. */
enum row_status row_encoder_encode(struct row_encoder *e,
                                   const struct input_row *row,
                                   struct row_encoded *out, char *err,
                                   size_t errlen);

/*
 * The schema seen so far as compact JSON (schema.h; malloc'd, caller
 * frees), e.g.
 * {"key":"user","value":"map","fields":[{"name":"age","type":"int|nil"}]}
 * with fields in the order first seen; "value":"raw" with "field" for a
 * value_field encoder. NULL if out of memory.
 */
char *row_encoder_schema_json(const struct row_encoder *e);

/*
 * Adds the schema from has seen to e's (schema_merge()): the encoders of
 * consecutive pieces of the input, merged in input order.
 */
void row_encoder_merge_schema(struct row_encoder *e,
                              const struct row_encoder *from);

/* The schema seen so far (borrowed: valid until the encoder is destroyed). */
const struct schema *row_encoder_schema(const struct row_encoder *e);

#endif
