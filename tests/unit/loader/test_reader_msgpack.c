/*
 * This file implements the unit tests of the msgpack input format
 * (loader/reader_msgpack.c, through the input_reader vtable): streams
 * written with msgpack-c's packer and read back — every value type,
 * nested arrays and maps, the byte offset of each row, streams larger than
 * the reader's buffer, gzip — and the bad cases: objects that are bad rows
 * (not a map, a non-string key, a repeated field, an integer above int64,
 * an ext value) with reading going on after each, and damaged streams
 * that make the file bad (truncated mid-map at the end, bytes that are not
 * msgpack, an object over the size limit, nesting beyond msgpack-c's).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "input_reader.h"

static struct input_reader_options opts = {.max_record = 1 << 20};

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str_with_body(pk, s, strlen(s));
}

static char *write_tmp(const void *p, size_t len, const char *suffix)
{
    static char path[64];
    snprintf(path, sizeof(path), "/tmp/larder-test-mp-XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    assert_true(fd >= 0);
    assert_int_equal(write(fd, p, len), (ssize_t)len);
    close(fd);
    return path;
}

static void open_ok(struct input_reader *r, const char *path)
{
    char err[256] = "";
    enum input_status st = input_reader_open(r, &input_format_msgpack, path,
                                             &opts, err, sizeof(err));
    if (st != INPUT_ROW) {
        fail_msg("open: %s: %s", input_status_name(st), err);
    }
}

static enum input_status next(struct input_reader *r, struct input_row *row,
                              struct input_pos *pos, char *err)
{
    memset(pos, 0xA5, sizeof(*pos));
    err[0] = '\0';
    return input_reader_next(r, row, pos, err, 256);
}

static const struct input_value *field(const struct input_row *row,
                                       size_t i, const char *name)
{
    assert_true(i < row->n);
    assert_int_equal(row->fields[i].name_len, strlen(name));
    assert_memory_equal(row->fields[i].name, name, strlen(name));
    return &row->fields[i].value;
}

static void check_str(const struct input_value *v, const void *s,
                      size_t len)
{
    assert_int_equal(v->kind, INPUT_STR);
    assert_int_equal(v->u.s.len, len);
    assert_memory_equal(v->u.s.p, s, len);
}

static void expect_bad_row(struct input_reader *r, uint64_t offset,
                           const char *needle)
{
    struct input_row row;
    struct input_pos pos;
    char err[256];
    enum input_status st = next(r, &row, &pos, err);
    if (st != INPUT_BAD_ROW || strstr(err, needle) == NULL) {
        fail_msg("expected a bad row with '%s', got %s: %s", needle,
                 input_status_name(st), err);
    }
    assert_int_equal(pos.line, 0);
    assert_int_equal(pos.offset, offset);
}

/* A row {"k": key} after whatever the test packed, to show reading goes
   on. */
static void expect_key_row(struct input_reader *r, const char *key,
                           uint64_t offset)
{
    struct input_row row;
    struct input_pos pos;
    char err[256];
    enum input_status st = next(r, &row, &pos, err);
    if (st != INPUT_ROW) {
        fail_msg("expected row %s, got %s: %s", key, input_status_name(st),
                 err);
    }
    assert_int_equal(row.n, 1);
    check_str(field(&row, 0, "k"), key, strlen(key));
    assert_int_equal(pos.offset, offset);
}

static void pack_key_row(msgpack_packer *pk, const char *key)
{
    msgpack_pack_map(pk, 1);
    pack_str(pk, "k");
    pack_str(pk, key);
}

static void test_types_and_nesting(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 10);
    pack_str(&pk, "user");
    pack_str(&pk, "u1");
    pack_str(&pk, "age");
    msgpack_pack_int(&pk, 42);
    pack_str(&pk, "big");
    msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX);
    pack_str(&pk, "neg");
    msgpack_pack_int64(&pk, INT64_MIN);
    pack_str(&pk, "score");
    msgpack_pack_double(&pk, 0.93);
    pack_str(&pk, "f32");
    msgpack_pack_float(&pk, 1.5f);
    pack_str(&pk, "vip");
    msgpack_pack_true(&pk);
    pack_str(&pk, "note");
    msgpack_pack_nil(&pk);
    pack_str(&pk, "blob");
    msgpack_pack_bin_with_body(&pk, "\0\1\2", 3);
    pack_str(&pk, "recs");
    msgpack_pack_array(&pk, 2);
    for (int i = 0; i < 2; i++) {
        msgpack_pack_map(&pk, 2);
        pack_str(&pk, "item");
        pack_str(&pk, i ? "i2" : "i1");
        pack_str(&pk, "tags");
        msgpack_pack_array(&pk, (size_t)i);
        if (i) {
            msgpack_pack_false(&pk);
        }
    }
    size_t second = sb.size;
    pack_key_row(&pk, "after");
    const char *path = write_tmp(sb.data, sb.size, ".msgpack");
    msgpack_sbuffer_destroy(&sb);

    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, path);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(pos.line, 0);
    assert_int_equal(pos.offset, 0);
    assert_int_equal(row.layout, 0);
    assert_int_equal(row.n, 10);
    check_str(field(&row, 0, "user"), "u1", 2);
    const struct input_value *v = field(&row, 1, "age");
    assert_int_equal(v->kind, INPUT_INT);
    assert_int_equal(v->u.i, 42);
    v = field(&row, 2, "big");
    assert_int_equal(v->kind, INPUT_INT);
    assert_int_equal(v->u.i, INT64_MAX);
    v = field(&row, 3, "neg");
    assert_int_equal(v->kind, INPUT_INT);
    assert_true(v->u.i == INT64_MIN);
    v = field(&row, 4, "score");
    assert_int_equal(v->kind, INPUT_FLOAT);
    assert_true(v->u.f == 0.93);
    v = field(&row, 5, "f32");
    assert_int_equal(v->kind, INPUT_FLOAT);
    assert_true(v->u.f == 1.5);
    v = field(&row, 6, "vip");
    assert_int_equal(v->kind, INPUT_BOOL);
    assert_true(v->u.b);
    assert_int_equal(field(&row, 7, "note")->kind, INPUT_NIL);
    check_str(field(&row, 8, "blob"), "\0\1\2", 3);
    v = field(&row, 9, "recs");
    assert_int_equal(v->kind, INPUT_ARRAY);
    assert_int_equal(v->n, 2);
    for (uint32_t i = 0; i < 2; i++) {
        const struct input_value *m = &v->u.items[i];
        assert_int_equal(m->kind, INPUT_MAP);
        assert_int_equal(m->n, 2);
        check_str(&m->u.items[0], "item", 4);
        check_str(&m->u.items[1], i ? "i2" : "i1", 2);
        check_str(&m->u.items[2], "tags", 4);
        assert_int_equal(m->u.items[3].kind, INPUT_ARRAY);
        assert_int_equal(m->u.items[3].n, i);
    }
    assert_int_equal(v->u.items[1].u.items[3].u.items[0].kind, INPUT_BOOL);
    assert_false(v->u.items[1].u.items[3].u.items[0].u.b);
    expect_key_row(&r, "after", second);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(path);
}

/* Empty strings (msgpack-c gives them no pointer) are valid values. */
static void test_empty_strings(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "");
    pack_str(&pk, "");
    pack_str(&pk, "b");
    msgpack_pack_bin(&pk, 0);
    pack_str(&pk, "m");
    msgpack_pack_map(&pk, 1);
    pack_str(&pk, "");
    pack_str(&pk, "x");
    const char *path = write_tmp(sb.data, sb.size, ".msgpack");
    msgpack_sbuffer_destroy(&sb);
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, path);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(row.n, 3);
    assert_non_null(row.fields[0].name);
    check_str(field(&row, 0, ""), "", 0);
    assert_non_null(row.fields[0].value.u.s.p);
    check_str(field(&row, 1, "b"), "", 0);
    assert_non_null(row.fields[1].value.u.s.p);
    const struct input_value *m = field(&row, 2, "m");
    check_str(&m->u.items[0], "", 0);
    assert_non_null(m->u.items[0].u.s.p);
    check_str(&m->u.items[1], "x", 1);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(path);
}

static void test_bad_rows_then_go_on(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    size_t off[16];
    int n = 0;
    /* First a scalar: the unpacker has made no zone yet. */
    msgpack_pack_int(&pk, 5);
    off[n++] = sb.size; /* not a map */
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 2);
    off[n++] = sb.size;
    pack_key_row(&pk, "r1");
    off[n++] = sb.size; /* an integer key */
    msgpack_pack_map(&pk, 1);
    msgpack_pack_int(&pk, 7);
    pack_str(&pk, "x");
    off[n++] = sb.size;
    pack_key_row(&pk, "r2");
    off[n++] = sb.size; /* above int64 */
    msgpack_pack_map(&pk, 1);
    pack_str(&pk, "n");
    msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX + 1);
    off[n++] = sb.size; /* a repeated field, few fields */
    msgpack_pack_map(&pk, 2);
    pack_str(&pk, "a");
    msgpack_pack_int(&pk, 1);
    pack_str(&pk, "a");
    msgpack_pack_int(&pk, 2);
    off[n++] = sb.size; /* a repeated field among many */
    msgpack_pack_map(&pk, 40);
    for (int i = 0; i < 40; i++) {
        char name[16];
        snprintf(name, sizeof(name), "f%d", i == 33 ? 5 : i);
        pack_str(&pk, name);
        msgpack_pack_int(&pk, i);
    }
    off[n++] = sb.size; /* an ext value, nested */
    msgpack_pack_map(&pk, 1);
    pack_str(&pk, "x");
    msgpack_pack_array(&pk, 1);
    msgpack_pack_ext_with_body(&pk, "\1\2", 2, 5);
    off[n++] = sb.size; /* a nested map with a non-string key */
    msgpack_pack_map(&pk, 1);
    pack_str(&pk, "m");
    msgpack_pack_map(&pk, 1);
    msgpack_pack_nil(&pk);
    msgpack_pack_int(&pk, 1);
    off[n++] = sb.size; /* a bare string */
    pack_str(&pk, "hello");
    off[n++] = sb.size; /* an empty map: a row without fields */
    msgpack_pack_map(&pk, 0);
    off[n++] = sb.size;
    pack_key_row(&pk, "r3");
    const char *path = write_tmp(sb.data, sb.size, ".mpk");
    msgpack_sbuffer_destroy(&sb);

    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, path);
    expect_bad_row(&r, 0, "not a map but a msgpack integer");
    expect_bad_row(&r, off[0], "not a map but a msgpack array");
    expect_key_row(&r, "r1", off[1]);
    expect_bad_row(&r, off[2],
                   "key 1 of the map is not a string but a msgpack integer");
    expect_key_row(&r, "r2", off[3]);
    expect_bad_row(&r, off[4], "outside the int64 range");
    expect_bad_row(&r, off[5], "field 'a' repeated");
    expect_bad_row(&r, off[6], "field 'f5' repeated");
    expect_bad_row(&r, off[7], "field 'x': an ext value");
    expect_bad_row(&r, off[8], "nested map has a nil key");
    expect_bad_row(&r, off[9], "not a map but a msgpack str");
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(row.n, 0);
    assert_int_equal(pos.offset, off[10]);
    expect_key_row(&r, "r3", off[11]);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(path);
}

/* Reads path to its end; the final status, rows read and err. */
static enum input_status read_to_end(const char *path, int *rows, char *err)
{
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    enum input_status st = input_reader_open(&r, &input_format_msgpack, path,
                                             &opts, err, 256);
    *rows = 0;
    if (st != INPUT_ROW) {
        return st;
    }
    while ((st = next(&r, &row, &pos, err)) == INPUT_ROW ||
           st == INPUT_BAD_ROW) {
        *rows += st == INPUT_ROW;
    }
    input_reader_close(&r);
    return st;
}

static void expect_bad_file(const void *p, size_t len, int rows_before,
                            const char *needle)
{
    char err[256];
    int rows;
    const char *path = write_tmp(p, len, ".msgpack");
    enum input_status st = read_to_end(path, &rows, err);
    unlink(path);
    if (st != INPUT_BAD_FILE || strstr(err, needle) == NULL) {
        fail_msg("expected a bad file with '%s', got %s: %s", needle,
                 input_status_name(st), err);
    }
    assert_int_equal(rows, rows_before);
}

static void test_truncated_mid_map(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_key_row(&pk, "r1");
    pack_key_row(&pk, "r2");
    size_t start = sb.size;
    msgpack_pack_map(&pk, 3);
    pack_str(&pk, "k");
    pack_str(&pk, "r3");
    pack_str(&pk, "v");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_int(&pk, 2);
    pack_str(&pk, "w");
    pack_str(&pk, "a longer string value");
    char want[96];
    snprintf(want, sizeof(want), "truncated: the file ends inside the "
             "object at byte %zu", start);
    /* Every cut inside the last object. */
    for (size_t cut = start + 1; cut < sb.size; cut++) {
        expect_bad_file(sb.data, cut, 2, want);
    }
    /* A cut between objects is a shorter stream. */
    char err[256];
    int rows;
    const char *path = write_tmp(sb.data, start, ".msgpack");
    assert_int_equal(read_to_end(path, &rows, err), INPUT_EOF);
    assert_int_equal(rows, 2);
    unlink(path);
    msgpack_sbuffer_destroy(&sb);
}

static void test_damaged_streams(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    pack_key_row(&pk, "r1");
    size_t start = sb.size;
    msgpack_sbuffer_write(&sb, "\xc1", 1); /* never used in msgpack */
    pack_key_row(&pk, "r2");
    char want[64];
    snprintf(want, sizeof(want), "invalid msgpack data in the object at "
             "byte %zu", start);
    expect_bad_file(sb.data, sb.size, 1, want);
    msgpack_sbuffer_clear(&sb);

    /* Nested deeper than msgpack-c parses. */
    msgpack_pack_map(&pk, 1);
    pack_str(&pk, "deep");
    for (int i = 0; i < 40; i++) {
        msgpack_pack_array(&pk, 1);
    }
    msgpack_pack_nil(&pk);
    expect_bad_file(sb.data, sb.size, 0, "nested deeper");
    msgpack_sbuffer_clear(&sb);

    /* An object over the size limit, made of small values. */
    opts.max_record = 4096;
    pack_key_row(&pk, "r1");
    msgpack_pack_map(&pk, 1);
    pack_str(&pk, "k");
    msgpack_pack_array(&pk, 1000);
    for (int i = 0; i < 1000; i++) {
        pack_str(&pk, "abcdefghij");
    }
    pack_key_row(&pk, "r2");
    expect_bad_file(sb.data, sb.size, 1, "the object at byte 6 is longer "
                    "than the limit of 4096");
    opts.max_record = 1 << 20;

    /* Counts and lengths no object within the limit can hold: refused
       before msgpack-c allocates room for them, after the rows before. */
    static const struct {
        const char *bytes;
        size_t len;
        const char *want;
    } huge[] = {
        {"\xdd\xff\xff\xff\xff", 5, "declaring 4294967295 items (array)"},
        {"\x81\xa1k\xdf\xff\xff\xff\xff", 8,
         "at byte 9 declaring 8589934590 keys and values (map)"},
        {"\x81\xa1k\xdb\x7f\xff\xff\xff", 8, "2147483647 bytes (str)"},
        {"\x81\xa1k\xc6\x01\x00\x00\x00", 8, "16777216 bytes (bin)"},
        {"\xc9\x01\x00\x00\x00\x05", 6, "16777216 bytes (ext)"},
    };
    for (size_t i = 0; i < sizeof(huge) / sizeof(huge[0]); i++) {
        msgpack_sbuffer_clear(&sb);
        pack_key_row(&pk, "r1");
        size_t at = sb.size;
        msgpack_sbuffer_write(&sb, huge[i].bytes, huge[i].len);
        pack_key_row(&pk, "r2");
        char head[96];
        snprintf(head, sizeof(head), "the object at byte %zu has a header",
                 at);
        expect_bad_file(sb.data, sb.size, 1, head);
        expect_bad_file(sb.data, sb.size, 1, huge[i].want);
    }
    /* At the limit itself an array count is allowed (and truncated). */
    msgpack_sbuffer_clear(&sb);
    msgpack_pack_array(&pk, opts.max_record);
    expect_bad_file(sb.data, sb.size, 0, "truncated");
    msgpack_sbuffer_destroy(&sb);

    /* An empty file has no rows, and no error. */
    char err[256];
    int rows;
    const char *path = write_tmp("", 0, ".msgpack");
    assert_int_equal(read_to_end(path, &rows, err), INPUT_EOF);
    assert_int_equal(rows, 0);
    unlink(path);
}

/* Many rows: the unpacker's buffer refills and moves under the reader. */
static void test_large_stream(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    enum { N = 60000 };
    size_t *off = malloc(N * sizeof(*off));
    assert_non_null(off);
    char s[64];
    for (int i = 0; i < N; i++) {
        off[i] = sb.size;
        msgpack_pack_map(&pk, 3);
        pack_str(&pk, "key");
        snprintf(s, sizeof(s), "k%015d", i);
        pack_str(&pk, s);
        pack_str(&pk, "value");
        /* Now and then a value far longer than the rest. */
        size_t len = i % 5000 == 7 ? 300000 : 40;
        char *v = malloc(len);
        assert_non_null(v);
        memset(v, 'a' + i % 26, len);
        msgpack_pack_str_with_body(&pk, v, len);
        free(v);
        pack_str(&pk, "n");
        msgpack_pack_array(&pk, 1);
        msgpack_pack_int(&pk, i);
    }
    const char *path = write_tmp(sb.data, sb.size, ".msgpack");
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, path);
    for (int i = 0; i < N; i++) {
        enum input_status st = next(&r, &row, &pos, err);
        if (st != INPUT_ROW) {
            fail_msg("row %d: %s: %s", i, input_status_name(st), err);
        }
        assert_int_equal(pos.offset, off[i]);
        snprintf(s, sizeof(s), "k%015d", i);
        check_str(field(&row, 0, "key"), s, strlen(s));
        const struct input_value *v = field(&row, 1, "value");
        assert_int_equal(v->kind, INPUT_STR);
        assert_int_equal(v->u.s.len, i % 5000 == 7 ? 300000 : 40);
        assert_int_equal(v->u.s.p[0], 'a' + i % 26);
        assert_int_equal(v->u.s.p[v->u.s.len - 1], 'a' + i % 26);
        v = field(&row, 2, "n");
        assert_int_equal(v->u.items[0].u.i, i);
    }
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(path);
    free(off);
    msgpack_sbuffer_destroy(&sb);
}

/* A .msgpack.gz file is read through the gzip layer. */
static void test_gzip(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int i = 0; i < 1000; i++) {
        char s[16];
        snprintf(s, sizeof(s), "r%d", i);
        pack_key_row(&pk, s);
    }
    char path[64];
    snprintf(path, sizeof(path), "/tmp/larder-test-mp-XXXXXX.msgpack.gz");
    int fd = mkstemps(path, 11);
    assert_true(fd >= 0);
    close(fd);
    gzFile gz = gzopen(path, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, sb.data, (unsigned)sb.size), (int)sb.size);
    gzclose(gz);
    assert_ptr_equal(input_format_guess(path), &input_format_msgpack);
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, path);
    for (int i = 0; i < 1000; i++) {
        char s[16];
        snprintf(s, sizeof(s), "r%d", i);
        assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
        check_str(field(&row, 0, "k"), s, strlen(s));
    }
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);

    /* A truncated gzip stream is a bad file. */
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    static unsigned char gzbytes[1 << 16];
    size_t glen = fread(gzbytes, 1, sizeof(gzbytes), f);
    fclose(f);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(gzbytes, 1, glen / 2, f), glen / 2);
    fclose(f);
    int rows;
    assert_int_equal(read_to_end(path, &rows, err), INPUT_BAD_FILE);
    assert_true(rows < 1000);
    unlink(path);
    msgpack_sbuffer_destroy(&sb);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Random bytes, and random damage to a good stream: no crash, no hang. */
static void test_random_damage(void **state)
{
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    for (int i = 0; i < 200; i++) {
        msgpack_pack_map(&pk, 3);
        pack_str(&pk, "k");
        msgpack_pack_int(&pk, i * 1000003);
        pack_str(&pk, "recs");
        msgpack_pack_array(&pk, 2);
        msgpack_pack_double(&pk, i / 3.0);
        msgpack_pack_bin_with_body(&pk, "xyz", 3);
        pack_str(&pk, "m");
        msgpack_pack_map(&pk, 1);
        pack_str(&pk, "a");
        msgpack_pack_nil(&pk);
    }
    unsigned char *p = malloc(sb.size);
    assert_non_null(p);
    uint64_t seed = 777;
    char err[256];
    for (int t = 0; t < 400; t++) {
        size_t n = sb.size;
        if (t % 4 == 0) {
            n = rng_next(&seed) % 4096;
            for (size_t i = 0; i < n; i++) {
                p[i] = (unsigned char)rng_next(&seed);
            }
        } else {
            memcpy(p, sb.data, n);
            for (int k = 0; k < 1 + t % 3; k++) {
                p[rng_next(&seed) % n] = (unsigned char)rng_next(&seed);
            }
        }
        const char *path = write_tmp(p, n, ".msgpack");
        int rows;
        enum input_status st = read_to_end(path, &rows, err);
        unlink(path);
        assert_true(st == INPUT_EOF || st == INPUT_BAD_FILE);
    }
    free(p);
    msgpack_sbuffer_destroy(&sb);
}

static void test_guess_and_missing(void **state)
{
    assert_ptr_equal(input_format_guess("a/part-0.msgpack"),
                     &input_format_msgpack);
    assert_ptr_equal(input_format_guess("x.MPK"), &input_format_msgpack);
    assert_ptr_equal(input_format_guess("x.avro"), &input_format_avro);
    assert_ptr_equal(input_format_find("msgpack"), &input_format_msgpack);
    assert_ptr_equal(input_format_find("avro"), &input_format_avro);
    struct input_reader r;
    char err[256];
    assert_int_equal(input_reader_open(&r, &input_format_msgpack,
                                       "/nonexistent/x.msgpack", &opts, err,
                                       sizeof(err)),
                     INPUT_NOT_FOUND);
}

/* Every test starts with the default limit. */
static int reset_opts(void **state)
{
    opts.max_record = 1 << 20;
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_types_and_nesting, reset_opts),
        cmocka_unit_test_setup(test_empty_strings, reset_opts),
        cmocka_unit_test_setup(test_bad_rows_then_go_on, reset_opts),
        cmocka_unit_test_setup(test_truncated_mid_map, reset_opts),
        cmocka_unit_test_setup(test_damaged_streams, reset_opts),
        cmocka_unit_test_setup(test_large_stream, reset_opts),
        cmocka_unit_test_setup(test_gzip, reset_opts),
        cmocka_unit_test_setup(test_random_damage, reset_opts),
        cmocka_unit_test_setup(test_guess_and_missing, reset_opts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
