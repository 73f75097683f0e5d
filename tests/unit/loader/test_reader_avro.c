/*
 * This file implements the unit tests of the Avro input format
 * (loader/reader_avro.c, through the input_reader vtable): files written
 * by libavro's own writer with each codec (null, deflate, snappy), read
 * back and compared value by value — string, long, double, boolean, a
 * null union, an array of records, a map, a nested record, float, enum,
 * fixed and bytes; hand-built files for what libavro's writer does not
 * produce (array and map blocks with a negative count, empty blocks,
 * recursive schemas, absurd counts); and damaged files — truncated at
 * every byte, a wrong sync marker, an unknown codec, garbage, random byte
 * flips — which must give a bad-file error naming the block and offset,
 * never a crash (the sanitizer build runs these).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <avro.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input_reader.h"

#define NROWS 3000

static const char SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"user\",\"fields\":["
    "{\"name\":\"user\",\"type\":\"string\"},"
    "{\"name\":\"age\",\"type\":\"long\"},"
    "{\"name\":\"score\",\"type\":\"double\"},"
    "{\"name\":\"vip\",\"type\":\"boolean\"},"
    "{\"name\":\"nick\",\"type\":[\"null\",\"string\"]},"
    "{\"name\":\"recs\",\"type\":{\"type\":\"array\",\"items\":"
    "{\"type\":\"record\",\"name\":\"rec\",\"fields\":["
    "{\"name\":\"item\",\"type\":\"string\"},"
    "{\"name\":\"score\",\"type\":\"double\"}]}}},"
    "{\"name\":\"counts\",\"type\":{\"type\":\"map\",\"values\":\"long\"}},"
    "{\"name\":\"addr\",\"type\":{\"type\":\"record\",\"name\":\"addr\","
    "\"fields\":[{\"name\":\"city\",\"type\":\"string\"},"
    "{\"name\":\"zip\",\"type\":\"int\"}]}},"
    "{\"name\":\"ratio\",\"type\":\"float\"},"
    "{\"name\":\"tier\",\"type\":{\"type\":\"enum\",\"name\":\"tier\","
    "\"symbols\":[\"FREE\",\"GOLD\"]}},"
    "{\"name\":\"hash\",\"type\":{\"type\":\"fixed\",\"name\":\"h4\","
    "\"size\":4}},"
    "{\"name\":\"blob\",\"type\":\"bytes\"}]}";

static const char *FIELD_NAMES[] = {"user",  "age",   "score",  "vip",
                                    "nick",  "recs",  "counts", "addr",
                                    "ratio", "tier",  "hash",   "blob"};
#define NFIELDS (sizeof(FIELD_NAMES) / sizeof(FIELD_NAMES[0]))

static const struct input_reader_options opts = {.max_record = 1 << 20};

/* ---- files -------------------------------------------------------------- */

static void tmp_name(char *path, size_t len)
{
    snprintf(path, len, "/tmp/larder-test-avro-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
}

static void write_bytes(const char *path, const void *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(p, 1, len, f), len);
    fclose(f);
}

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc((size_t)n + 1);
    assert_non_null(p);
    assert_int_equal(fread(p, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return p;
}

static void check_avro(int rc)
{
    if (rc != 0) {
        fail_msg("libavro: %s", avro_strerror());
    }
}

static void set_field_string(avro_value_t *rec, const char *name,
                             const char *s)
{
    avro_value_t f;
    check_avro(avro_value_get_by_name(rec, name, &f, NULL));
    check_avro(avro_value_set_string(&f, s));
}

/* Row i of the test data, written with libavro's generic values. */
static void fill_row(avro_value_t *rec, int i)
{
    char s[64];
    avro_value_t f, g, h;
    check_avro(avro_value_reset(rec));
    snprintf(s, sizeof(s), "u%05d", i);
    set_field_string(rec, "user", s);
    check_avro(avro_value_get_by_name(rec, "age", &f, NULL));
    check_avro(avro_value_set_long(&f, (int64_t)i * 7 - 3));
    check_avro(avro_value_get_by_name(rec, "score", &f, NULL));
    check_avro(avro_value_set_double(&f, i / 4.0));
    check_avro(avro_value_get_by_name(rec, "vip", &f, NULL));
    check_avro(avro_value_set_boolean(&f, i % 3 == 0));
    check_avro(avro_value_get_by_name(rec, "nick", &f, NULL));
    if (i % 2) {
        check_avro(avro_value_set_branch(&f, 0, &g));
        check_avro(avro_value_set_null(&g));
    } else {
        check_avro(avro_value_set_branch(&f, 1, &g));
        snprintf(s, sizeof(s), "n%d", i);
        check_avro(avro_value_set_string(&g, s));
    }
    check_avro(avro_value_get_by_name(rec, "recs", &f, NULL));
    for (int k = 0; k < i % 4; k++) {
        check_avro(avro_value_append(&f, &g, NULL));
        snprintf(s, sizeof(s), "i%d", i * 10 + k);
        set_field_string(&g, "item", s);
        check_avro(avro_value_get_by_name(&g, "score", &h, NULL));
        check_avro(avro_value_set_double(&h, 1.0 / (k + 1)));
    }
    check_avro(avro_value_get_by_name(rec, "counts", &f, NULL));
    if (i % 3 != 0) {
        check_avro(avro_value_add(&f, "a", &g, NULL, NULL));
        check_avro(avro_value_set_long(&g, i));
        check_avro(avro_value_add(&f, "b", &g, NULL, NULL));
        check_avro(avro_value_set_long(&g, -i));
    }
    check_avro(avro_value_get_by_name(rec, "addr", &f, NULL));
    snprintf(s, sizeof(s), "c%d", i % 17);
    set_field_string(&f, "city", s);
    check_avro(avro_value_get_by_name(&f, "zip", &g, NULL));
    check_avro(avro_value_set_int(&g, 10000 + i));
    check_avro(avro_value_get_by_name(rec, "ratio", &f, NULL));
    check_avro(avro_value_set_float(&f, 0.5f * (float)i));
    check_avro(avro_value_get_by_name(rec, "tier", &f, NULL));
    check_avro(avro_value_set_enum(&f, i % 2));
    check_avro(avro_value_get_by_name(rec, "hash", &f, NULL));
    unsigned char hash[4] = {(unsigned char)i, (unsigned char)(i >> 8), 0,
                             0xFF};
    check_avro(avro_value_set_fixed(&f, hash, sizeof(hash)));
    check_avro(avro_value_get_by_name(rec, "blob", &f, NULL));
    unsigned char blob[4] = {'b', 0, (unsigned char)i, 'z'};
    check_avro(avro_value_set_bytes(&f, blob, (size_t)(i % 5 < 4 ? i % 5
                                                                  : 4)));
}

/* Writes n rows with libavro's writer; small blocks, so there are many. */
static void write_libavro(const char *path, const char *codec, int n)
{
    avro_schema_t schema;
    check_avro(avro_schema_from_json_length(SCHEMA, strlen(SCHEMA), &schema));
    avro_value_iface_t *iface = avro_generic_class_from_schema(schema);
    assert_non_null(iface);
    avro_value_t rec;
    check_avro(avro_generic_value_new(iface, &rec));
    avro_file_writer_t w;
    unlink(path);
    check_avro(avro_file_writer_create_with_codec(path, schema, &w, codec,
                                                  4096));
    for (int i = 0; i < n; i++) {
        fill_row(&rec, i);
        check_avro(avro_file_writer_append_value(w, &rec));
    }
    check_avro(avro_file_writer_close(w));
    avro_value_decref(&rec);
    avro_value_iface_decref(iface);
    avro_schema_decref(schema);
}

/* ---- reading ------------------------------------------------------------ */

static enum input_status open_file(struct input_reader *r, const char *path,
                                   char *err)
{
    err[0] = '\0';
    return input_reader_open(r, &input_format_avro, path, &opts, err, 512);
}

static void open_ok(struct input_reader *r, const char *path)
{
    char err[512];
    enum input_status st = open_file(r, path, err);
    if (st != INPUT_ROW) {
        fail_msg("open: %s: %s", input_status_name(st), err);
    }
}

static enum input_status next(struct input_reader *r, struct input_row *row,
                              struct input_pos *pos, char *err)
{
    memset(pos, 0xA5, sizeof(*pos));
    err[0] = '\0';
    return input_reader_next(r, row, pos, err, 512);
}

static void check_str(const struct input_value *v, const void *s,
                      size_t len)
{
    assert_int_equal(v->kind, INPUT_STR);
    assert_int_equal(v->u.s.len, len);
    assert_memory_equal(v->u.s.p, s, len);
}

static void check_cstr(const struct input_value *v, const char *s)
{
    check_str(v, s, strlen(s));
}

static void check_int(const struct input_value *v, int64_t i)
{
    assert_int_equal(v->kind, INPUT_INT);
    assert_int_equal(v->u.i, i);
}

static void check_float(const struct input_value *v, double f)
{
    assert_int_equal(v->kind, INPUT_FLOAT);
    assert_true(v->u.f == f);
}

/* The value of key in a MAP value, or NULL. */
static const struct input_value *map_get(const struct input_value *m,
                                         const char *key)
{
    assert_int_equal(m->kind, INPUT_MAP);
    for (uint32_t k = 0; k < m->n; k++) {
        const struct input_value *kv = &m->u.items[2 * k];
        assert_int_equal(kv->kind, INPUT_STR);
        if (kv->u.s.len == strlen(key) &&
            memcmp(kv->u.s.p, key, kv->u.s.len) == 0) {
            return &m->u.items[2 * k + 1];
        }
    }
    return NULL;
}

/* Compares a row with fill_row(i). */
static void check_row(const struct input_row *row, int i)
{
    char s[64];
    assert_int_equal(row->n, NFIELDS);
    for (size_t k = 0; k < NFIELDS; k++) {
        assert_int_equal(row->fields[k].name_len, strlen(FIELD_NAMES[k]));
        assert_memory_equal(row->fields[k].name, FIELD_NAMES[k],
                            strlen(FIELD_NAMES[k]));
    }
    const struct input_field *f = row->fields;
    snprintf(s, sizeof(s), "u%05d", i);
    check_cstr(&f[0].value, s);
    check_int(&f[1].value, (int64_t)i * 7 - 3);
    check_float(&f[2].value, i / 4.0);
    assert_int_equal(f[3].value.kind, INPUT_BOOL);
    assert_int_equal(f[3].value.u.b, i % 3 == 0);
    if (i % 2) {
        assert_int_equal(f[4].value.kind, INPUT_NIL);
    } else {
        snprintf(s, sizeof(s), "n%d", i);
        check_cstr(&f[4].value, s);
    }
    const struct input_value *recs = &f[5].value;
    assert_int_equal(recs->kind, INPUT_ARRAY);
    assert_int_equal(recs->n, i % 4);
    for (uint32_t k = 0; k < recs->n; k++) {
        const struct input_value *e = &recs->u.items[k];
        assert_int_equal(e->kind, INPUT_MAP);
        assert_int_equal(e->n, 2);
        check_cstr(&e->u.items[0], "item"); /* field order kept */
        snprintf(s, sizeof(s), "i%d", i * 10 + (int)k);
        check_cstr(&e->u.items[1], s);
        check_cstr(&e->u.items[2], "score");
        check_float(&e->u.items[3], 1.0 / (k + 1));
    }
    const struct input_value *counts = &f[6].value;
    assert_int_equal(counts->kind, INPUT_MAP);
    if (i % 3 == 0) {
        assert_int_equal(counts->n, 0);
    } else {
        assert_int_equal(counts->n, 2);
        check_int(map_get(counts, "a"), i);
        check_int(map_get(counts, "b"), -i);
    }
    const struct input_value *addr = &f[7].value;
    assert_int_equal(addr->n, 2);
    snprintf(s, sizeof(s), "c%d", i % 17);
    check_cstr(map_get(addr, "city"), s);
    check_int(map_get(addr, "zip"), 10000 + i);
    check_float(&f[8].value, (double)(0.5f * (float)i));
    check_cstr(&f[9].value, i % 2 ? "GOLD" : "FREE");
    unsigned char hash[4] = {(unsigned char)i, (unsigned char)(i >> 8), 0,
                             0xFF};
    check_str(&f[10].value, hash, 4);
    unsigned char blob[4] = {'b', 0, (unsigned char)i, 'z'};
    check_str(&f[11].value, blob, (size_t)(i % 5 < 4 ? i % 5 : 4));
}

/*
 * Reads a whole file; returns the status that ended it (INPUT_EOF or an
 * error, whose message is left in err) and the rows read in *rows. Every
 * row is checked against fill_row when check is set.
 */
static enum input_status read_all_rows(const char *path, bool check,
                                       int *rows, char *err)
{
    struct input_reader r;
    *rows = 0;
    enum input_status st = open_file(&r, path, err);
    if (st != INPUT_ROW) {
        return st;
    }
    struct input_row row;
    struct input_pos pos;
    uint64_t layout = 0;
    while ((st = next(&r, &row, &pos, err)) == INPUT_ROW) {
        assert_int_equal(pos.line, 0);
        if (check) {
            check_row(&row, *rows);
            if (*rows == 0) {
                layout = row.layout;
                assert_int_not_equal(layout, 0);
            }
            assert_int_equal(row.layout, layout);
        }
        (*rows)++;
    }
    input_reader_close(&r);
    return st;
}

static void round_trip(const char *codec)
{
    char path[64], err[512];
    tmp_name(path, sizeof(path));
    write_libavro(path, codec, NROWS);
    int rows;
    enum input_status st = read_all_rows(path, true, &rows, err);
    if (st != INPUT_EOF) {
        fail_msg("%s: %s: %s", codec, input_status_name(st), err);
    }
    assert_int_equal(rows, NROWS);
    unlink(path);
}

static void test_round_trip_null(void **state)
{
    round_trip("null");
}

static void test_round_trip_deflate(void **state)
{
    round_trip("deflate");
}

static void test_round_trip_snappy(void **state)
{
    round_trip("snappy");
}

/* A file of only a header: no rows, no error. */
static void test_no_rows(void **state)
{
    char path[64], err[512];
    tmp_name(path, sizeof(path));
    write_libavro(path, "deflate", 0);
    int rows;
    assert_int_equal(read_all_rows(path, true, &rows, err), INPUT_EOF);
    assert_int_equal(rows, 0);
    unlink(path);
}

/* ---- hand-built files --------------------------------------------------- */

struct bytes {
    unsigned char p[1 << 16];
    size_t n;
};

static void put(struct bytes *b, const void *p, size_t n)
{
    assert_true(b->n + n <= sizeof(b->p));
    memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put_long(struct bytes *b, int64_t v)
{
    uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
    do {
        unsigned char c = z & 0x7F;
        z >>= 7;
        if (z) {
            c |= 0x80;
        }
        put(b, &c, 1);
    } while (z);
}

static void put_str(struct bytes *b, const char *s)
{
    put_long(b, (int64_t)strlen(s));
    put(b, s, strlen(s));
}

static const char SYNC[16] = "0123456789abcdef";

/* A header with schema and codec (NULL: no avro.codec entry). */
static void put_header(struct bytes *b, const char *schema, const char *codec)
{
    put(b, "Obj\x01", 4);
    put_long(b, codec ? 2 : 1);
    put_str(b, "avro.schema");
    put_str(b, schema);
    if (codec) {
        put_str(b, "avro.codec");
        put_str(b, codec);
    }
    put_long(b, 0);
    put(b, SYNC, 16);
}

/* A block of count records whose encoding is data (null codec). */
static void put_block(struct bytes *b, int64_t count, const struct bytes *d)
{
    put_long(b, count);
    put_long(b, (int64_t)d->n);
    put(b, d->p, d->n);
    put(b, SYNC, 16);
}

static const char LIST_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"r\",\"fields\":["
    "{\"name\":\"k\",\"type\":\"string\"},"
    "{\"name\":\"xs\",\"type\":{\"type\":\"array\",\"items\":\"int\"}},"
    "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":"
    "[\"string\",\"null\"]}}]}";

/*
 * Arrays and maps in several blocks, negative block counts (with a byte
 * size), an empty file block, and no avro.codec (null).
 */
static void test_blocked_arrays_and_maps(void **state)
{
    static struct bytes f, d;
    f.n = d.n = 0;
    put_header(&f, LIST_SCHEMA, NULL);
    /* Record 1: xs = [1, 2] + [-3] (second block negative), m in two
       blocks: {"a": "x"} + {"b": null}. */
    put_str(&d, "key1");
    put_long(&d, 2);
    put_long(&d, 1);
    put_long(&d, 2);
    put_long(&d, -1);
    put_long(&d, 1); /* block byte size */
    put_long(&d, -3);
    put_long(&d, 0);
    put_long(&d, -1);
    put_long(&d, 4);
    put_str(&d, "a");
    put_long(&d, 0);
    put_str(&d, "x");
    put_long(&d, 1);
    put_str(&d, "b");
    put_long(&d, 1);
    put_long(&d, 0);
    /* Record 2: empty array and map. */
    put_str(&d, "key2");
    put_long(&d, 0);
    put_long(&d, 0);
    put_block(&f, 2, &d);
    struct bytes empty = {.n = 0};
    put_block(&f, 0, &empty);
    char path[64], err[512];
    tmp_name(path, sizeof(path));
    write_bytes(path, f.p, f.n);

    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    open_ok(&r, path);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(row.n, 3);
    check_cstr(&row.fields[0].value, "key1");
    /* The null codec gives the record's own offset. */
    assert_int_equal(pos.line, 0);
    assert_int_equal(pos.offset, f.n - 16 - 2 - 16 - d.n);
    const struct input_value *xs = &row.fields[1].value;
    assert_int_equal(xs->kind, INPUT_ARRAY);
    assert_int_equal(xs->n, 3);
    check_int(&xs->u.items[0], 1);
    check_int(&xs->u.items[1], 2);
    check_int(&xs->u.items[2], -3);
    const struct input_value *m = &row.fields[2].value;
    assert_int_equal(m->n, 2);
    check_cstr(map_get(m, "a"), "x");
    assert_int_equal(map_get(m, "b")->kind, INPUT_NIL);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_cstr(&row.fields[0].value, "key2");
    assert_int_equal(row.fields[1].value.kind, INPUT_ARRAY);
    assert_int_equal(row.fields[1].value.n, 0);
    assert_int_equal(row.fields[2].value.kind, INPUT_MAP);
    assert_int_equal(row.fields[2].value.n, 0);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(path);
}

/* Opens data as a file and reads it to the end; the final status. */
static enum input_status read_bytes_file(const void *p, size_t n, int *rows,
                                         char *err)
{
    char path[64];
    tmp_name(path, sizeof(path));
    write_bytes(path, p, n);
    enum input_status st = read_all_rows(path, false, rows, err);
    unlink(path);
    return st;
}

static void expect_bad(const struct bytes *f, int rows_before,
                       const char *needle)
{
    char err[512];
    int rows;
    enum input_status st = read_bytes_file(f->p, f->n, &rows, err);
    if (st != INPUT_BAD_FILE || strstr(err, needle) == NULL) {
        fail_msg("expected a bad file with '%s', got %s: %s", needle,
                 input_status_name(st), err);
    }
    assert_int_equal(rows, rows_before);
}

static const char NULLS_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"r\",\"fields\":["
    "{\"name\":\"k\",\"type\":\"string\"},"
    "{\"name\":\"xs\",\"type\":{\"type\":\"array\",\"items\":\"null\"}}]}";

static const char LIST_NODE_SCHEMA[] =
    "{\"type\":\"record\",\"name\":\"node\",\"fields\":["
    "{\"name\":\"v\",\"type\":\"long\"},"
    "{\"name\":\"next\",\"type\":[\"null\",\"node\"]}]}";

/* Damaged record data inside an intact block. */
static void test_bad_records(void **state)
{
    static struct bytes f, d;

    /* An array of 2 * 10^8 nulls (5 bytes of data): refused before
       anything is allocated for it. */
    f.n = d.n = 0;
    put_header(&f, NULLS_SCHEMA, "null");
    put_str(&d, "k");
    put_long(&d, 200000000);
    put_long(&d, 0);
    put_block(&f, 1, &d);
    expect_bad(&f, 0, "more than the record can hold");

    /* A modest array of nulls is fine. */
    f.n = d.n = 0;
    put_header(&f, NULLS_SCHEMA, "null");
    put_str(&d, "k");
    put_long(&d, 1000);
    put_long(&d, 0);
    put_block(&f, 1, &d);
    char err[512];
    int rows;
    assert_int_equal(read_bytes_file(f.p, f.n, &rows, err), INPUT_EOF);
    assert_int_equal(rows, 1);

    /* A string longer than the block. */
    f.n = d.n = 0;
    put_header(&f, NULLS_SCHEMA, "null");
    put_long(&d, 1000);
    put_str(&d, "abc");
    put_block(&f, 1, &d);
    expect_bad(&f, 0, "block 1 at byte");

    /* A union index out of range. */
    f.n = d.n = 0;
    put_header(&f, LIST_NODE_SCHEMA, "null");
    put_long(&d, 5);
    put_long(&d, 2);
    put_block(&f, 1, &d);
    expect_bad(&f, 0, "union index 2 out of range");

    /* A recursive schema nested deeper than the limit. */
    f.n = d.n = 0;
    put_header(&f, LIST_NODE_SCHEMA, "null");
    for (int i = 0; i < 300; i++) {
        put_long(&d, i);
        put_long(&d, 1);
    }
    put_long(&d, 300);
    put_long(&d, 0);
    put_block(&f, 1, &d);
    expect_bad(&f, 0, "nested deeper");

    /* ...and one within it decodes. */
    f.n = d.n = 0;
    put_header(&f, LIST_NODE_SCHEMA, "null");
    for (int i = 0; i < 100; i++) {
        put_long(&d, i);
        put_long(&d, 1);
    }
    put_long(&d, 100);
    put_long(&d, 0);
    put_block(&f, 1, &d);
    assert_int_equal(read_bytes_file(f.p, f.n, &rows, err), INPUT_EOF);
    assert_int_equal(rows, 1);

    /* Bytes left over after a block's records. */
    f.n = d.n = 0;
    put_header(&f, NULLS_SCHEMA, "null");
    put_str(&d, "k");
    put_long(&d, 0);
    put_str(&d, "extra");
    put_block(&f, 1, &d);
    expect_bad(&f, 1, "left after its 1 records");

    /* A block claiming more records than it holds. */
    f.n = d.n = 0;
    put_header(&f, NULLS_SCHEMA, "null");
    put_str(&d, "k");
    put_long(&d, 0);
    put_block(&f, 2, &d);
    expect_bad(&f, 1, "record 2: truncated record");
}

static void test_bad_headers(void **state)
{
    static struct bytes f;
    f.n = 0;
    put_header(&f, LIST_SCHEMA, "zstandard");
    expect_bad(&f, 0, "unsupported codec 'zstandard'");

    f.n = 0;
    put_header(&f, "{\"type\":\"record\",\"name\":", "null");
    expect_bad(&f, 0, "avro.schema");

    f.n = 0;
    put_header(&f, "\"string\"", "null");
    expect_bad(&f, 0, "not a record");

    f.n = 0; /* no schema at all */
    put(&f, "Obj\x01", 4);
    put_long(&f, 0);
    put(&f, SYNC, 16);
    expect_bad(&f, 0, "no avro.schema");

    f.n = 0;
    put(&f, "PAR1", 4);
    put(&f, SYNC, 16);
    expect_bad(&f, 0, "not an Avro object container file");

    f.n = 0;
    expect_bad(&f, 0, "the file is empty");

    f.n = 0; /* a metadata length far beyond the file */
    put(&f, "Obj\x01", 4);
    put_long(&f, 1);
    put_long(&f, 1LL << 40);
    expect_bad(&f, 0, "invalid header metadata key length");
}

/* ---- damaged libavro files ---------------------------------------------- */

/*
 * The offset of the n-th sync marker of a file (0: the header's); the
 * marker is the file's last 16 bytes.
 */
static size_t sync_at(const unsigned char *p, size_t len, int n)
{
    const unsigned char *sync = p + len - 16;
    size_t from = 4;
    for (;;) {
        const unsigned char *at = memmem(p + from, len - from, sync, 16);
        assert_non_null(at);
        if (n-- == 0) {
            return (size_t)(at - p);
        }
        from = (size_t)(at - p) + 16;
    }
}

static void truncations(const char *codec)
{
    char path[64], err[512];
    tmp_name(path, sizeof(path));
    write_libavro(path, codec, 200);
    size_t len;
    unsigned char *p = read_all(path, &len);
    size_t header_end = sync_at(p, len, 0) + 16;
    size_t first_block_end = sync_at(p, len, 1) + 16;
    int full_rows, rows;
    assert_int_equal(read_all_rows(path, true, &full_rows, err), INPUT_EOF);
    assert_int_equal(full_rows, 200);
    /* Every cut through the header and the first block's framing, then
       samples: denser through the first block than after it. */
    for (size_t cut = 0; cut < len;
         cut += cut < header_end + 32 ? 1 : cut < first_block_end + 32 ? 5
                                                                       : 61) {
        enum input_status st = read_bytes_file(p, cut, &rows, err);
        if (cut == header_end || cut == first_block_end) {
            /* At a block boundary the file is shorter, not damaged. */
            assert_int_equal(st, INPUT_EOF);
            continue;
        }
        if (st == INPUT_EOF) {
            /* Only at some block boundary. */
            assert_true(rows > 0 && rows < full_rows);
            assert_int_equal(memcmp(p + cut - 16, p + header_end - 16, 16),
                             0);
            continue;
        }
        if (st != INPUT_BAD_FILE) {
            fail_msg("%s cut at %zu: %s: %s", codec, cut,
                     input_status_name(st), err);
        }
        if (cut > header_end && strstr(err, "truncated") == NULL) {
            fail_msg("%s cut at %zu: %s", codec, cut, err);
        }
        if (cut > header_end && cut < first_block_end) {
            /* Mid-block: the message names the block and its offset. */
            char want[64];
            snprintf(want, sizeof(want), "block 1 at byte %zu", header_end);
            if (strstr(err, want) == NULL) {
                fail_msg("%s cut at %zu: '%s' lacks '%s'", codec, cut, err,
                         want);
            }
            assert_int_equal(rows, 0);
        }
    }
    free(p);
    unlink(path);
}

static void test_truncated_everywhere(void **state)
{
    truncations("null");
    truncations("deflate");
    truncations("snappy");
}

static void test_wrong_sync_marker(void **state)
{
    const char *codecs[] = {"null", "deflate", "snappy"};
    for (size_t c = 0; c < 3; c++) {
        char path[64], err[512], want[96];
        tmp_name(path, sizeof(path));
        write_libavro(path, codecs[c], 300);
        size_t len;
        unsigned char *p = read_all(path, &len);
        size_t s1 = sync_at(p, len, 1);
        size_t s2 = sync_at(p, len, 2);
        p[s2 + 5] ^= 0x40; /* the second block's marker */
        int rows, first_block_rows;
        write_bytes(path, p, s1 + 16);
        assert_int_equal(read_all_rows(path, false, &first_block_rows, err),
                         INPUT_EOF);
        enum input_status st = read_bytes_file(p, len, &rows, err);
        assert_int_equal(st, INPUT_BAD_FILE);
        snprintf(want, sizeof(want), "block 2 at byte %zu: wrong sync marker "
                 "at byte %zu", s1 + 16, s2);
        if (strstr(err, want) == NULL) {
            fail_msg("%s: '%s' lacks '%s'", codecs[c], err, want);
        }
        /* The rows of the good first block came before the error. */
        assert_int_equal(rows, first_block_rows);
        free(p);
        unlink(path);
    }
}

static void test_unknown_codec_in_libavro_file(void **state)
{
    char path[64], err[512];
    tmp_name(path, sizeof(path));
    write_libavro(path, "deflate", 10);
    size_t len;
    unsigned char *p = read_all(path, &len);
    unsigned char *at = memmem(p, len, "deflate", 7);
    assert_non_null(at);
    memcpy(at, "inflate", 7);
    int rows;
    assert_int_equal(read_bytes_file(p, len, &rows, err), INPUT_BAD_FILE);
    assert_non_null(strstr(err, "unsupported codec 'inflate'"));
    free(p);
    unlink(path);
}

/* A small deterministic generator for the garbage tests. */
static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_garbage(void **state)
{
    uint64_t seed = 0x9E3779B97F4A7C15ULL;
    static unsigned char buf[8192];
    char err[512];
    int rows;
    for (int t = 0; t < 200; t++) {
        size_t n = rng_next(&seed) % sizeof(buf);
        for (size_t i = 0; i < n; i++) {
            buf[i] = (unsigned char)rng_next(&seed);
        }
        if (t % 2) {
            memcpy(buf, "Obj\x01", n < 4 ? n : 4); /* past the magic */
        }
        enum input_status st = read_bytes_file(buf, n, &rows, err);
        assert_int_equal(st, INPUT_BAD_FILE);
        assert_int_equal(rows, 0);
    }
}

/* Random byte flips in real files: any outcome but a crash or a hang. */
static void test_random_damage(void **state)
{
    const char *codecs[] = {"null", "deflate", "snappy"};
    uint64_t seed = 12345;
    for (size_t c = 0; c < 3; c++) {
        char path[64], err[512];
        tmp_name(path, sizeof(path));
        write_libavro(path, codecs[c], 300);
        size_t len;
        unsigned char *orig = read_all(path, &len);
        unsigned char *p = malloc(len);
        assert_non_null(p);
        int bad = 0;
        for (int t = 0; t < 300; t++) {
            memcpy(p, orig, len);
            int flips = 1 + (int)(rng_next(&seed) % 4);
            for (int k = 0; k < flips; k++) {
                p[rng_next(&seed) % len] = (unsigned char)rng_next(&seed);
            }
            int rows;
            enum input_status st = read_bytes_file(p, len, &rows, err);
            assert_true(st == INPUT_EOF || st == INPUT_BAD_FILE);
            assert_true(rows <= 300);
            bad += st == INPUT_BAD_FILE;
        }
        /* Compressed data and framing catch most damage. */
        if (strcmp(codecs[c], "null") != 0) {
            assert_true(bad > 200);
        }
        free(p);
        free(orig);
        unlink(path);
    }
}

static void test_missing_file(void **state)
{
    struct input_reader r;
    char err[512];
    assert_int_equal(open_file(&r, "/nonexistent/x.avro", err),
                     INPUT_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_null),
        cmocka_unit_test(test_round_trip_deflate),
        cmocka_unit_test(test_round_trip_snappy),
        cmocka_unit_test(test_no_rows),
        cmocka_unit_test(test_blocked_arrays_and_maps),
        cmocka_unit_test(test_bad_records),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_truncated_everywhere),
        cmocka_unit_test(test_wrong_sync_marker),
        cmocka_unit_test(test_unknown_codec_in_libavro_file),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test(test_random_damage),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
