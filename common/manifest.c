/*
 * This file implements manifest.h: the manifest of a (table, version) to
 * and from JSON with jansson, and the store keys of a version's objects.
 *
 * 64-bit checksums are written as 16 lowercase hex digits in strings (JSON
 * numbers lose precision past 2^53 in many readers); counts and versions
 * are JSON integers. Parsing is strict about types and consistency (one
 * file per partition, in order; per-file rows and bytes add up to the
 * totals) and ignores fields it does not know, so later releases can add
 * some.
 */
#include "manifest.h"

#include "snap_format.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int manifest_key(char *out, size_t outlen, const char *table,
                 uint64_t version)
{
    int n = snprintf(out, outlen, "%s/v-%06" PRIu64 "/manifest.json", table,
                     version);
    return n >= 0 && (size_t)n < outlen ? 0 : -1;
}

int manifest_segment_key(char *out, size_t outlen, const char *table,
                         uint64_t version, uint32_t partition)
{
    int n = snprintf(out, outlen, "%s/v-%06" PRIu64 "/part-%05u.seg", table,
                     version, partition);
    return n >= 0 && (size_t)n < outlen ? 0 : -1;
}

/* ---- writing ----------------------------------------------------------- */

/* Adds name: value to obj; false if value is NULL or the set fails. */
static bool put(json_t *obj, const char *name, json_t *value)
{
    return value != NULL && json_object_set_new(obj, name, value) == 0;
}

static json_t *json_u64(uint64_t v)
{
    return v > INT64_MAX ? NULL : json_integer((json_int_t)v);
}

static json_t *json_hex64(uint64_t v)
{
    char hex[17];
    snprintf(hex, sizeof(hex), "%016" PRIx64, v);
    return json_string(hex);
}

static json_t *file_to_json(const struct manifest_file *f)
{
    json_t *o = json_object();
    if (o == NULL || !put(o, "partition", json_integer(f->partition)) ||
        !put(o, "key", json_string(f->key)) ||
        !put(o, "rows", json_u64(f->rows)) ||
        !put(o, "bytes", json_u64(f->bytes)) ||
        !put(o, "checksum", json_hex64(f->checksum))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *manifest_to_json(const struct manifest *m)
{
    json_t *root = json_object();
    json_t *files = json_array();
    json_t *schema = NULL;
    char *out = NULL;
    if (m->schema_json != NULL) {
        schema = json_loads(m->schema_json, JSON_DECODE_ANY, NULL);
    } else {
        schema = json_null();
    }
    if (root == NULL || files == NULL || schema == NULL ||
        (m->partitions > 0 && m->files == NULL)) {
        goto done;
    }
    for (uint32_t i = 0; i < m->partitions; i++) {
        json_t *f = file_to_json(&m->files[i]);
        if (f == NULL || json_array_append_new(files, f) != 0) {
            goto done;
        }
    }
    if (put(root, "table", json_string(m->table)) &&
        put(root, "version", json_u64(m->version)) &&
        put(root, "format", json_integer(m->format)) &&
        put(root, "partitions", json_integer(m->partitions)) &&
        put(root, "dims", json_integer(m->dims)) &&
        put(root, "rows", json_u64(m->rows)) &&
        put(root, "bytes", json_u64(m->bytes)) &&
        put(root, "key_bytes", json_u64(m->key_bytes)) &&
        put(root, "value_bytes", json_u64(m->value_bytes)) &&
        put(root, "run_id", json_string(m->run_id)) &&
        put(root, "created_ms", json_integer(m->created_ms)) &&
        put(root, "load_ms", json_integer(m->load_ms)) &&
        put(root, "schema", json_incref(schema)) &&
        put(root, "files", json_incref(files))) {
        out = json_dumps(root, JSON_INDENT(2));
    }
done:
    json_decref(schema);
    json_decref(files);
    json_decref(root);
    return out;
}

/* ---- parsing ----------------------------------------------------------- */

/* Formats "manifest: " + message into err; returns -1. */
static int bad(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    int n = snprintf(err, errlen, "manifest: ");
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/* Reads field name of obj as an integer in [0, max]; where names obj. */
static int get_uint(json_t *obj, const char *where, const char *name,
                    uint64_t max, uint64_t *out, char *err, size_t errlen)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL) {
        return bad(err, errlen, "missing field '%s%s'", where, name);
    }
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) > max) {
        return bad(err, errlen,
                   "field '%s%s' must be an integer in 0..%" PRIu64, where,
                   name, max);
    }
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

/* Copies string field name into out[outlen]; empty allowed if allow_empty. */
static int get_str(json_t *obj, const char *where, const char *name,
                   char *out, size_t outlen, bool allow_empty, char *err,
                   size_t errlen)
{
    json_t *v = json_object_get(obj, name);
    if (v == NULL) {
        return bad(err, errlen, "missing field '%s%s'", where, name);
    }
    if (!json_is_string(v)) {
        return bad(err, errlen, "field '%s%s' must be a string", where, name);
    }
    size_t n = json_string_length(v);
    if (n >= outlen || (n == 0 && !allow_empty) ||
        strlen(json_string_value(v)) != n) {
        return bad(err, errlen,
                   "field '%s%s' must be a string of %s1..%zu bytes without "
                   "NUL", where, name, allow_empty ? "0 or " : "",
                   outlen - 1);
    }
    memcpy(out, json_string_value(v), n + 1);
    return 0;
}

static int get_hex64(json_t *obj, const char *where, const char *name,
                     uint64_t *out, char *err, size_t errlen)
{
    char hex[17];
    if (get_str(obj, where, name, hex, sizeof(hex), false, err, errlen)) {
        return -1;
    }
    uint64_t v = 0;
    size_t i = 0;
    for (; hex[i] != '\0'; i++) {
        char c = hex[i];
        int d = c >= '0' && c <= '9'   ? c - '0'
                : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                       : -1;
        if (d < 0) {
            break;
        }
        v = v << 4 | (uint64_t)d;
    }
    if (i != 16 || hex[i] != '\0') {
        return bad(err, errlen, "field '%s%s' must be 16 hex digits", where,
                   name);
    }
    *out = v;
    return 0;
}

static int parse_file(json_t *o, uint32_t index, struct manifest_file *f,
                      char *err, size_t errlen)
{
    char where[32];
    snprintf(where, sizeof(where), "files[%u].", index);
    if (!json_is_object(o)) {
        return bad(err, errlen, "files[%u] must be an object", index);
    }
    uint64_t partition = 0;
    if (get_uint(o, where, "partition", UINT32_MAX, &partition, err,
                 errlen) != 0 ||
        get_str(o, where, "key", f->key, sizeof(f->key), false, err,
                errlen) != 0 ||
        get_uint(o, where, "rows", INT64_MAX, &f->rows, err, errlen) != 0 ||
        get_uint(o, where, "bytes", INT64_MAX, &f->bytes, err, errlen) != 0 ||
        get_hex64(o, where, "checksum", &f->checksum, err, errlen) != 0) {
        return -1;
    }
    if (partition != index) {
        return bad(err, errlen,
                   "files[%u] is partition %" PRIu64 ": files must list "
                   "partitions 0..N-1 in order", index, partition);
    }
    f->partition = (uint32_t)partition;
    return 0;
}

static int parse_root(json_t *root, struct manifest *m, char *err,
                      size_t errlen)
{
    if (!json_is_object(root)) {
        return bad(err, errlen, "top level must be an object");
    }
    uint64_t format = 0, partitions = 0, dims = 0, created = 0;
    if (get_str(root, "", "table", m->table, sizeof(m->table), false, err,
                errlen) != 0 ||
        get_uint(root, "", "version", INT64_MAX, &m->version, err,
                 errlen) != 0 ||
        get_uint(root, "", "format", UINT32_MAX, &format, err, errlen) != 0 ||
        get_uint(root, "", "partitions", UINT32_MAX, &partitions, err,
                 errlen) != 0 ||
        get_uint(root, "", "dims", UINT32_MAX, &dims, err, errlen) != 0 ||
        get_uint(root, "", "rows", INT64_MAX, &m->rows, err, errlen) != 0 ||
        get_uint(root, "", "bytes", INT64_MAX, &m->bytes, err, errlen) != 0 ||
        get_uint(root, "", "key_bytes", INT64_MAX, &m->key_bytes, err,
                 errlen) != 0 ||
        get_uint(root, "", "value_bytes", INT64_MAX, &m->value_bytes, err,
                 errlen) != 0 ||
        get_str(root, "", "run_id", m->run_id, sizeof(m->run_id), true, err,
                errlen) != 0 ||
        get_uint(root, "", "created_ms", INT64_MAX, &created, err,
                 errlen) != 0) {
        return -1;
    }
    if (!snap_table_name_valid(m->table)) {
        return bad(err, errlen, "invalid table name '%s'", m->table);
    }
    if (format == 0 || partitions == 0) {
        return bad(err, errlen, "format and partitions must be at least 1");
    }
    m->format = (uint32_t)format;
    m->partitions = (uint32_t)partitions;
    m->dims = (uint32_t)dims;
    m->created_ms = (int64_t)created;
    /* Optional: manifests written before it was added have none. */
    uint64_t load_ms = 0;
    if (json_object_get(root, "load_ms") != NULL &&
        get_uint(root, "", "load_ms", INT64_MAX, &load_ms, err, errlen) !=
            0) {
        return -1;
    }
    m->load_ms = (int64_t)load_ms;

    json_t *schema = json_object_get(root, "schema");
    if (schema != NULL && !json_is_null(schema)) {
        m->schema_json = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
        if (m->schema_json == NULL) {
            return bad(err, errlen, "out of memory");
        }
    }

    json_t *files = json_object_get(root, "files");
    if (!json_is_array(files) || json_array_size(files) != partitions) {
        return bad(err, errlen,
                   "'files' must be an array of one entry per partition "
                   "(%" PRIu64 ")", partitions);
    }
    m->files = calloc(partitions, sizeof(*m->files));
    if (m->files == NULL) {
        return bad(err, errlen, "out of memory");
    }
    uint64_t rows = 0, bytes = 0;
    for (uint32_t i = 0; i < m->partitions; i++) {
        struct manifest_file *f = &m->files[i];
        if (parse_file(json_array_get(files, i), i, f, err, errlen) != 0) {
            return -1;
        }
        rows += f->rows; /* no overflow: each is below 2^63, at most 2^32 */
        bytes += f->bytes;
        if (rows > INT64_MAX || bytes > INT64_MAX) {
            return bad(err, errlen, "file totals overflow");
        }
    }
    if (rows != m->rows || bytes != m->bytes) {
        return bad(err, errlen,
                   "files add up to %" PRIu64 " rows and %" PRIu64
                   " bytes, the totals say %" PRIu64 " and %" PRIu64,
                   rows, bytes, m->rows, m->bytes);
    }
    return 0;
}

int manifest_from_json(const char *json, size_t len, struct manifest *out,
                       char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return bad(err, errlen, "line %d column %d: %s", jerr.line,
                   jerr.column, jerr.text);
    }
    int rc = parse_root(root, out, err, errlen);
    json_decref(root);
    if (rc != 0) {
        manifest_free(out);
    }
    return rc;
}

void manifest_free(struct manifest *m)
{
    free(m->schema_json);
    free(m->files);
    memset(m, 0, sizeof(*m));
}
