/*
 * schema.h: the schema of a batch table version — its key field, how its
 * values are stored (a msgpack map of fields, or one field's raw bytes)
 * and, for each value field in the order first seen, the set of types its
 * values were stored as. A load collects it while it encodes rows
 * (row_encoder.h), the manifest keeps it as JSON, and the schema-change
 * gate compares a new version's with the active version's.
 *
 * JSON form (compact; fields in the order first seen):
 *
 *   {"key":"user","value":"map","fields":[{"name":"age","type":"int"},
 *    {"name":"score","type":"float|nil"}]}
 *   {"key":"user","value":"raw","field":"vec","fields":[...]}
 *
 * A type is int, float, str, bool, nil, array or map (the msgpack type the
 * value was stored as, docs/loader.md "Value encoding"); a field seen with
 * several types has their union, joined by '|' in that order ("int|nil").
 * At most SCHEMA_MAX_FIELDS fields are kept; a schema that saw more says
 * "truncated":true. Names that are not valid UTF-8 are written with '?'
 * for the bytes JSON cannot carry.
 *
 * Pure: no I/O. Not thread-safe (one schema per encoder).
 */
#ifndef LARDER_SCHEMA_H
#define LARDER_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"

/* Types, one bit each; a field's types are a union of them. */
enum schema_type {
    SCHEMA_INT = 1u << 0,
    SCHEMA_FLOAT = 1u << 1,
    SCHEMA_STR = 1u << 2,
    SCHEMA_BOOL = 1u << 3,
    SCHEMA_NIL = 1u << 4,
    SCHEMA_ARRAY = 1u << 5,
    SCHEMA_MAP = 1u << 6,
};

#define SCHEMA_MAX_FIELDS 1024

struct schema;

/*
 * Creates an empty schema for values keyed by key_field and stored as a
 * map (value_field NULL or "") or as value_field's raw bytes. NULL if out
 * of memory.
 */
struct schema *schema_create(const char *key_field, const char *value_field);

void schema_destroy(struct schema **s);

/*
 * Notes that field name[0, len) held a value stored as type (one
 * SCHEMA_* bit). Fields of one row are looked up fastest when noted in
 * the same order as in the previous row, after schema_row_begin().
 */
void schema_note(struct schema *s, const char *name, size_t len,
                 unsigned type);

/* Starts a row: the next schema_note() looks first at the first field. */
void schema_row_begin(struct schema *s);

/*
 * Notes every field of from, in from's order, with its types, as if s had
 * seen from's rows after its own: merging the schemas of consecutive
 * pieces of the input in input order gives the schema of the whole.
 */
void schema_merge(struct schema *s, const struct schema *from);

/* The JSON form above (malloc'd; caller frees); NULL if out of memory. */
char *schema_to_json(const struct schema *s);

/*
 * Parses the JSON form. Also reads the form of earlier manifests, where a
 * field lists its types as an array ("types":["int","nil"]). Returns the
 * schema, or NULL with err for JSON that is not a schema.
 */
struct schema *schema_from_json(const char *json, char *err, size_t errlen);

/*
 * "int|nil" for types (SCHEMA_* bits) into out; "none" for 0. Names that
 * do not fit are left out whole.
 */
void schema_types_name(unsigned types, char *out, size_t outlen);

/*
 * Compares the schema of a new version (now) with that of the active
 * one (was): the key field, the value layout, the fields added and
 * removed, and the fields whose union of types differs. Returns the
 * number of differences and, when there are some, appends a description
 * to msg, e.g. "added fields: bonus (float); removed fields: age (int);
 * type changes: score float -> float|nil" (at most ten names of each
 * kind, then "and N more").
 */
size_t schema_compare(const struct schema *was, const struct schema *now,
                      struct buf *msg);

#endif
