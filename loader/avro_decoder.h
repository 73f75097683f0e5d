/*
 * avro_decoder.h: decodes records in Avro's binary encoding, under the
 * writer's schema, into input values (input_reader.h). The schema is the
 * JSON text of an object container file's header, parsed by libavro and
 * then compiled into a small tree this decoder walks; the record bytes are
 * decoded here, every length, count and index checked against the bytes
 * and the schema, so damaged data gives an error and never a read out of
 * bounds (libavro's own readers trust lengths in the data).
 *
 * Values: null → NIL, boolean → BOOL, int and long → INT, float and
 * double → FLOAT, string, bytes and fixed → STR (the bytes), enum → STR
 * (the symbol), array → ARRAY, map → MAP, a nested record → MAP of its
 * field names, a union → the value of its branch (so ["null", T] gives
 * NIL or the T value).
 *
 * Pure: no I/O. Strings point into the record bytes given, nested values
 * into the arena; the top-level record must be a record schema, whose
 * fields are a row's fields.
 */
#ifndef LARDER_AVRO_DECODER_H
#define LARDER_AVRO_DECODER_H

#include <stddef.h>
#include <stdint.h>

#include "input_reader.h"
#include "value_arena.h"

/* Nesting deeper than this (a recursive schema's data) is an error. */
#define AVDEC_MAX_DEPTH 256

/*
 * Array and map items, and values of zero bytes in general, that a record
 * may hold beyond one per byte of its block: a bound on the memory a few
 * damaged bytes can claim ("10^18 nulls follow").
 */
#define AVDEC_FREE_VALUES 65536

struct avdec;

/*
 * Compiles the writer's schema from its JSON text. Returns 0 (*out set;
 * the caller destroys it), or -1 with err if the text is not a valid Avro
 * schema or its top level is not a record.
 */
int avdec_create(const char *json, size_t len, struct avdec **out,
                 char *err, size_t errlen);

void avdec_destroy(struct avdec **d);

/* The number of fields of the top-level record. */
size_t avdec_field_count(const struct avdec *d);

/*
 * Sets the name of each of the avdec_field_count() fields (pointing into
 * the decoder, valid until it is destroyed).
 */
void avdec_field_names(const struct avdec *d, struct input_field *fields);

/*
 * Decodes one record starting at *p (no further than end) into the values
 * of fields (avdec_field_count() of them); nested values are taken from
 * arena. Returns 0 with *p moved past the record, or -1 with err if the
 * bytes are not a record of the schema.
 */
int avdec_record(const struct avdec *d, const uint8_t **p,
                 const uint8_t *end, struct input_field *fields,
                 struct value_arena *arena, char *err, size_t errlen);

#endif
