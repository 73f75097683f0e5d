/*
 * This file implements gen_avro_seeds, which writes the Avro object
 * container files of corpus/fuzz_reader_avro/ with libavro, a writer
 * independent of the loader's reader:
 *
 *   gen_avro_seeds DIR
 *
 * The seeds cover a flat record, a record using every Avro type (nested
 * record, enum, fixed, array, map, unions), each codec the reader takes
 * (null, deflate, snappy), a file without rows and a file of several small
 * blocks. Values are filled from the schema by fill(), so a seed is just a
 * schema, a codec, a block size and a row count; blocks stay under the
 * fuzz harness's record limit (reader_drain.c).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <avro.h>

static const char flat_schema[] =
    "{\"type\":\"record\",\"name\":\"row\",\"fields\":["
    "{\"name\":\"id\",\"type\":\"long\"},"
    "{\"name\":\"name\",\"type\":\"string\"},"
    "{\"name\":\"score\",\"type\":\"double\"},"
    "{\"name\":\"ok\",\"type\":\"boolean\"}]}";

static const char all_types_schema[] =
    "{\"type\":\"record\",\"name\":\"all\",\"fields\":["
    "{\"name\":\"i\",\"type\":\"int\"},"
    "{\"name\":\"l\",\"type\":\"long\"},"
    "{\"name\":\"f\",\"type\":\"float\"},"
    "{\"name\":\"d\",\"type\":\"double\"},"
    "{\"name\":\"b\",\"type\":\"boolean\"},"
    "{\"name\":\"n\",\"type\":\"null\"},"
    "{\"name\":\"s\",\"type\":\"string\"},"
    "{\"name\":\"raw\",\"type\":\"bytes\"},"
    "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"f4\","
    "\"size\":4}},"
    "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"color\","
    "\"symbols\":[\"RED\",\"GREEN\",\"BLUE\"]}},"
    "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":\"string\"}},"
    "{\"name\":\"attrs\",\"type\":{\"type\":\"map\",\"values\":\"long\"}},"
    "{\"name\":\"opt\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"recs\",\"type\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"record\",\"name\":\"rec\",\"fields\":["
    "{\"name\":\"item\",\"type\":\"string\"},"
    "{\"name\":\"score\",\"type\":\"float\"}]}}}]}";

/* Fills v (of any type) with values derived from row number i. */
static int fill(avro_value_t *v, int i)
{
    char text[32];
    avro_schema_t schema = avro_value_get_schema(v);
    switch (avro_value_get_type(v)) {
    case AVRO_STRING:
        snprintf(text, sizeof(text), "s%d", i);
        return avro_value_set_string(v, text);
    case AVRO_BYTES:
        return avro_value_set_bytes(v, "\0\1\2\377", (size_t)(i % 5));
    case AVRO_INT32:
        return avro_value_set_int(v, i * 1000 - 7);
    case AVRO_INT64:
        return avro_value_set_long(v, (int64_t)i << 40 | i);
    case AVRO_FLOAT:
        return avro_value_set_float(v, (float)i / 4);
    case AVRO_DOUBLE:
        return avro_value_set_double(v, -1.5 * i);
    case AVRO_BOOLEAN:
        return avro_value_set_boolean(v, i % 2);
    case AVRO_NULL:
        return avro_value_set_null(v);
    case AVRO_ENUM:
        return avro_value_set_enum(
            v, i % avro_schema_enum_number_of_symbols(schema));
    case AVRO_FIXED: {
        char buf[64] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        buf[0] = (char)i;
        return avro_value_set_fixed(v, buf,
                                    (size_t)avro_schema_fixed_size(schema));
    }
    case AVRO_ARRAY:
        for (int k = 0; k < i % 4; k++) {
            avro_value_t item;
            if (avro_value_append(v, &item, NULL) != 0 ||
                fill(&item, i + k) != 0) {
                return -1;
            }
        }
        return 0;
    case AVRO_MAP:
        for (int k = 0; k < i % 3; k++) {
            avro_value_t item;
            snprintf(text, sizeof(text), "k%d", k);
            if (avro_value_add(v, text, &item, NULL, NULL) != 0 ||
                fill(&item, i + k) != 0) {
                return -1;
            }
        }
        return 0;
    case AVRO_UNION: {
        avro_value_t branch;
        int n = (int)avro_schema_union_size(schema);
        return avro_value_set_branch(v, i % n, &branch) != 0
                   ? -1
                   : fill(&branch, i);
    }
    case AVRO_RECORD: {
        size_t n;
        if (avro_value_get_size(v, &n) != 0) {
            return -1;
        }
        for (size_t k = 0; k < n; k++) {
            avro_value_t field;
            if (avro_value_get_by_index(v, k, &field, NULL) != 0 ||
                fill(&field, i + (int)k) != 0) {
                return -1;
            }
        }
        return 0;
    }
    default:
        return -1;
    }
}

static int write_seed(const char *dir, const char *file, const char *json,
                      const char *codec, size_t block_size, int rows)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, file);
    unlink(path);
    avro_schema_t schema;
    avro_file_writer_t w;
    if (avro_schema_from_json_length(json, strlen(json), &schema) != 0 ||
        avro_file_writer_create_with_codec(path, schema, &w, codec,
                                           block_size) != 0) {
        fprintf(stderr, "%s: %s\n", path, avro_strerror());
        return -1;
    }
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    avro_value_t rec;
    avro_generic_value_new(iface, &rec);
    int rc = 0;
    for (int i = 0; i < rows && rc == 0; i++) {
        avro_value_reset(&rec);
        if (fill(&rec, i) != 0 || avro_file_writer_append_value(w, &rec)) {
            fprintf(stderr, "%s: row %d: %s\n", path, i, avro_strerror());
            rc = -1;
        }
    }
    avro_file_writer_close(w);
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
    if (rc == 0) {
        printf("%s: %d rows, %s\n", path, rows, codec);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    int rc = write_seed(dir, "flat.avro", flat_schema, "null", 0, 5);
    rc |= write_seed(dir, "all_types.avro", all_types_schema, "null", 0, 3);
    rc |= write_seed(dir, "flat_deflate.avro", flat_schema, "deflate", 0, 8);
    rc |= write_seed(dir, "all_types_snappy.avro", all_types_schema,
                     "snappy", 0, 3);
    rc |= write_seed(dir, "no_rows.avro", flat_schema, "null", 0, 0);
    rc |= write_seed(dir, "small_blocks.avro", flat_schema, "null", 64, 12);
    return rc == 0 ? 0 : 1;
}
