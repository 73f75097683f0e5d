/*
 * This file implements the unit tests of the JSONL input format
 * (loader/reader_jsonl.c, through the input_reader vtable, on temporary
 * files): scalar types, member order, nested arrays of maps (a
 * recommendation list), escapes, blank lines, and every kind of bad row —
 * invalid JSON, not an object, a repeated member, an integer outside
 * int64 — with reading going on after each.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "input_reader.h"

static char tmp_path[64];

static const char *write_tmp(const char *data)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/larder-test-jsonl-XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    size_t len = strlen(data);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return tmp_path;
}

static const struct input_reader_options opts = {.max_record = 1 << 20};

static void open_ok(struct input_reader *r, const char *path)
{
    char err[256] = "";
    enum input_status st = input_reader_open(r, &input_format_jsonl, path,
                                             &opts, err, sizeof(err));
    if (st != INPUT_ROW) {
        fail_msg("open: %s: %s", input_status_name(st), err);
    }
}

static enum input_status next(struct input_reader *r, struct input_row *row,
                              struct input_pos *pos, char *err)
{
    memset(pos, 0, sizeof(*pos));
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

static void check_str(const struct input_value *v, const char *s, size_t len)
{
    assert_int_equal(v->kind, INPUT_STR);
    assert_int_equal(v->u.s.len, len);
    assert_memory_equal(v->u.s.p, s, len);
}

static void test_scalars_in_order(void **state)
{
    const char *p = write_tmp(
        "{\"user\":\"u1\",\"age\":42,\"score\":0.5,\"vip\":true,"
        "\"old\":false,\"note\":null,\"neg\":-9223372036854775808}\n");
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(row.n, 7);
    assert_int_equal(row.layout, 0);
    assert_int_equal(pos.line, 1);
    check_str(field(&row, 0, "user"), "u1", 2);
    const struct input_value *v = field(&row, 1, "age");
    assert_int_equal(v->kind, INPUT_INT);
    assert_int_equal(v->u.i, 42);
    v = field(&row, 2, "score");
    assert_int_equal(v->kind, INPUT_FLOAT);
    assert_true(v->u.f == 0.5);
    v = field(&row, 3, "vip");
    assert_int_equal(v->kind, INPUT_BOOL);
    assert_true(v->u.b);
    v = field(&row, 4, "old");
    assert_int_equal(v->kind, INPUT_BOOL);
    assert_false(v->u.b);
    assert_int_equal(field(&row, 5, "note")->kind, INPUT_NIL);
    v = field(&row, 6, "neg");
    assert_int_equal(v->kind, INPUT_INT);
    assert_true(v->u.i == INT64_MIN);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(p);
}

static void test_nested_recommendations(void **state)
{
    const char *p = write_tmp(
        "{\"user\":\"u7\",\"recs\":[{\"item\":\"i1\",\"score\":0.9},"
        "{\"item\":\"i2\",\"score\":0.25}],\"m\":{\"a\":[1,[2,[]]],\"b\":{}}}"
        "\n");
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    const struct input_value *recs = field(&row, 1, "recs");
    assert_int_equal(recs->kind, INPUT_ARRAY);
    assert_int_equal(recs->n, 2);
    const struct input_value *m0 = &recs->u.items[1];
    assert_int_equal(m0->kind, INPUT_MAP);
    assert_int_equal(m0->n, 2);
    check_str(&m0->u.items[0], "item", 4);
    check_str(&m0->u.items[1], "i2", 2);
    check_str(&m0->u.items[2], "score", 5);
    assert_int_equal(m0->u.items[3].kind, INPUT_FLOAT);
    assert_true(m0->u.items[3].u.f == 0.25);
    const struct input_value *m = field(&row, 2, "m");
    assert_int_equal(m->kind, INPUT_MAP);
    const struct input_value *a = &m->u.items[1];
    assert_int_equal(a->kind, INPUT_ARRAY);
    assert_int_equal(a->n, 2);
    assert_int_equal(a->u.items[0].u.i, 1);
    assert_int_equal(a->u.items[1].kind, INPUT_ARRAY);
    assert_int_equal(a->u.items[1].u.items[1].kind, INPUT_ARRAY);
    assert_int_equal(a->u.items[1].u.items[1].n, 0);
    assert_int_equal(m->u.items[3].kind, INPUT_MAP);
    assert_int_equal(m->u.items[3].n, 0);
    input_reader_close(&r);
    unlink(p);
}

static void test_escapes(void **state)
{
    const char *p = write_tmp("{\"k\\u00e9y\":\"a\\tb\\\"c\\u20ac\"}\n");
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_str(field(&row, 0, "k\xc3\xa9y"), "a\tb\"c\xe2\x82\xac", 8);
    input_reader_close(&r);
    unlink(p);
}

static void test_bad_rows_and_recovery(void **state)
{
    const char *p = write_tmp("{\"k\":1}\n"
                              "{\"k\":\n"
                              "[1,2]\n"
                              "\n"
                              "   \t\n"
                              "{\"k\":1,\"k\":2}\n"
                              "{\"k\":99999999999999999999}\n"
                              "{\"k\":2} trailing\n"
                              "{\"k\":3}\r\n");
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 2);
    assert_non_null(strstr(err, "invalid JSON"));
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 3);
    assert_string_equal(err, "not a JSON object");
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 6);
    assert_non_null(strstr(err, "duplicate"));
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 7);
    assert_non_null(strstr(err, "too big"));
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 8);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(pos.line, 9);
    assert_int_equal(field(&row, 0, "k")->u.i, 3);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(p);
}

static void test_many_rows_reuse_buffers(void **state)
{
    size_t n = 20000;
    char *data = malloc(n * 64);
    assert_non_null(data);
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        off += (size_t)sprintf(data + off,
                               "{\"id\":%zu,\"v\":[%zu,{\"x\":\"%zu\"}]}\n",
                               i, i * 2, i);
    }
    const char *p = write_tmp(data);
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
        assert_int_equal(field(&row, 0, "id")->u.i, (int64_t)i);
        const struct input_value *v = field(&row, 1, "v");
        assert_int_equal(v->u.items[0].u.i, (int64_t)(i * 2));
        char want[32];
        int wl = sprintf(want, "%zu", i);
        check_str(&v->u.items[1].u.items[1], want, (size_t)wl);
        assert_int_equal(pos.line, i + 1);
    }
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    free(data);
    unlink(p);
}

static void test_missing_file(void **state)
{
    struct input_reader r;
    char err[256] = "";
    assert_int_equal(input_reader_open(&r, &input_format_jsonl,
                                       "/nonexistent/x.jsonl", &opts, err,
                                       sizeof(err)),
                     INPUT_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_in_order),
        cmocka_unit_test(test_nested_recommendations),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_bad_rows_and_recovery),
        cmocka_unit_test(test_many_rows_reuse_buffers),
        cmocka_unit_test(test_missing_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
