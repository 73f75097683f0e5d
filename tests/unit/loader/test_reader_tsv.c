/*
 * This file implements the unit tests of the TSV input format
 * (loader/reader_tsv.c, through the input_reader vtable, on temporary
 * files): header and rows, positions, line endings and byte-order mark,
 * blank lines, bad rows (field count, too long) and recovering after
 * them, bad headers, empty and missing files, layouts, long lines that
 * outgrow the read buffer, and a file read in pieces (byte ranges) giving
 * every row exactly once, wherever it is cut.
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

/* Writes len bytes to a new temporary file; its path is in tmp_path. */
static const char *write_tmp(const char *data, size_t len)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/larder-test-tsv-XXXXXX");
    int fd = mkstemp(tmp_path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return tmp_path;
}

#define WRITE_LIT(s) write_tmp((s), sizeof(s) - 1)

static struct input_reader_options opts = {.max_record = 1 << 20};

static void open_ok(struct input_reader *r, const char *path,
                    const struct input_reader_options *o)
{
    char err[256] = "";
    enum input_status st = input_reader_open(r, &input_format_tsv, path, o,
                                             err, sizeof(err));
    if (st != INPUT_ROW) {
        fail_msg("open: %s: %s", input_status_name(st), err);
    }
}

/* Checks field i of row: name and text. */
static void check_field(const struct input_row *row, size_t i,
                        const char *name, const char *text)
{
    assert_true(i < row->n);
    const struct input_field *f = &row->fields[i];
    assert_int_equal(f->name_len, strlen(name));
    assert_memory_equal(f->name, name, f->name_len);
    assert_int_equal(f->value.kind, INPUT_TEXT);
    assert_int_equal(f->value.u.s.len, strlen(text));
    if (f->value.u.s.len) {
        assert_memory_equal(f->value.u.s.p, text, f->value.u.s.len);
    }
}

static enum input_status next(struct input_reader *r, struct input_row *row,
                              struct input_pos *pos, char *err)
{
    memset(pos, 0, sizeof(*pos));
    return input_reader_next(r, row, pos, err, 256);
}

static void test_header_and_rows(void **state)
{
    const char *p = WRITE_LIT("user\tage\tcountry\nu1\t42\tDE\nu2\t\tFR\n");
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p, &opts);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(row.n, 3);
    assert_true(row.layout != 0);
    uint64_t layout = row.layout;
    check_field(&row, 0, "user", "u1");
    check_field(&row, 1, "age", "42");
    check_field(&row, 2, "country", "DE");
    assert_int_equal(pos.line, 2);
    assert_int_equal(pos.offset, 17);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 0, "user", "u2");
    check_field(&row, 1, "age", "");
    check_field(&row, 2, "country", "FR");
    assert_int_equal(row.layout, layout);
    assert_int_equal(pos.line, 3);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(p);
}

static void test_crlf_bom_blank_and_no_final_newline(void **state)
{
    const char *p =
        WRITE_LIT("\xEF\xBB\xBFk\tv\r\n\r\na\t1\r\n\nb\t2");
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p, &opts);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 0, "k", "a");
    check_field(&row, 1, "v", "1");
    assert_int_equal(pos.line, 3);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 0, "k", "b");
    check_field(&row, 1, "v", "2");
    assert_int_equal(pos.line, 5);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(p);
}

static void test_field_count_mismatch_is_a_bad_row(void **state)
{
    const char *p = WRITE_LIT("k\tv\na\t1\nb\nc\t3\t4\nd\t4\n");
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p, &opts);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 3);
    assert_string_equal(err, "1 fields, the header has 2");
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 4);
    assert_string_equal(err, "3 fields, the header has 2");
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 0, "k", "d");
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(p);
}

static void test_too_long_line_skipped(void **state)
{
    const char *p = WRITE_LIT("k\tv\na\t1\nbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
                              "\t2\nc\t3\n");
    struct input_reader_options small = {.max_record = 16};
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p, &small);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 0, "k", "a");
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 3);
    assert_non_null(strstr(err, "longer"));
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 0, "k", "c");
    assert_int_equal(pos.line, 4);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(p);
}

static void test_bad_headers(void **state)
{
    static const char *const headers[] = {"a\t\tb\n1\t2\t3\n", "a\tb\ta\n",
                                          "\tb\n"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        const char *p = write_tmp(headers[i], strlen(headers[i]));
        struct input_reader r;
        char err[256] = "";
        assert_int_equal(input_reader_open(&r, &input_format_tsv, p, &opts,
                                           err, sizeof(err)),
                         INPUT_BAD_FILE);
        assert_non_null(strstr(err, "header"));
        unlink(p);
    }
}

static void test_empty_file_and_header_only(void **state)
{
    const char *inputs[] = {"", "k\tv\n", "\n\n"};
    for (size_t i = 0; i < 3; i++) {
        const char *p = write_tmp(inputs[i], strlen(inputs[i]));
        struct input_reader r;
        struct input_row row;
        struct input_pos pos;
        char err[256];
        open_ok(&r, p, &opts);
        assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
        input_reader_close(&r);
        unlink(p);
    }
}

static void test_missing_file(void **state)
{
    struct input_reader r;
    char err[256] = "";
    assert_int_equal(input_reader_open(&r, &input_format_tsv,
                                       "/nonexistent/x.tsv", &opts, err,
                                       sizeof(err)),
                     INPUT_NOT_FOUND);
    assert_non_null(strstr(err, "/nonexistent/x.tsv"));
}

static void test_layout_per_file(void **state)
{
    const char *p1 = WRITE_LIT("k\tv\na\t1\n");
    char path1[64];
    strcpy(path1, p1);
    const char *p2 = WRITE_LIT("v\tk\n2\tb\n");
    struct input_reader r1, r2;
    struct input_row row1, row2;
    struct input_pos pos;
    char err[256];
    open_ok(&r1, path1, &opts);
    open_ok(&r2, p2, &opts);
    assert_int_equal(next(&r1, &row1, &pos, err), INPUT_ROW);
    assert_int_equal(next(&r2, &row2, &pos, err), INPUT_ROW);
    assert_true(row1.layout != row2.layout);
    check_field(&row2, 0, "v", "2");
    check_field(&row2, 1, "k", "b");
    input_reader_close(&r1);
    input_reader_close(&r2);
    unlink(path1);
    unlink(p2);
}

static void test_line_longer_than_read_buffer(void **state)
{
    size_t big = 3u << 20;
    size_t len = 4 + 2 + big + 1 + 6;
    char *data = malloc(len);
    assert_non_null(data);
    memcpy(data, "k\tv\na\t", 6);
    memset(data + 6, 'x', big);
    memcpy(data + 6 + big, "\nb\tyy\n", 6);
    const char *p = write_tmp(data, len - 1);
    struct input_reader_options o = {.max_record = 8u << 20};
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p, &o);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(row.fields[1].value.u.s.len, big);
    assert_memory_equal(row.fields[1].value.u.s.p, data + 6, big);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 1, "v", "yy");
    assert_int_equal(pos.offset, 6 + big + 1);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    free(data);
    unlink(p);
}

static void test_format_registry(void **state)
{
    assert_ptr_equal(input_format_find("tsv"), &input_format_tsv);
    assert_ptr_equal(input_format_find("TSV"), &input_format_tsv);
    assert_null(input_format_find("xml"));
    assert_ptr_equal(input_format_guess("/d/part-0001.tsv"),
                     &input_format_tsv);
    assert_ptr_equal(input_format_guess("x.TAB"), &input_format_tsv);
    assert_ptr_equal(input_format_guess("x.ndjson"), &input_format_jsonl);
    assert_null(input_format_guess("/d.tsv/part-0001"));
    assert_ptr_equal(input_format_guess("x.tsv.gz"), &input_format_tsv);
    assert_null(input_format_guess("x.gz"));
}

/* A row or bad row as read: where it starts and its first field. */
struct seen {
    uint64_t offset;
    enum input_status st;
    char first[16];
};

/* Reads [start, end) of path (both 0: all of it), appending to out. */
static size_t read_range(const char *path, uint64_t start, uint64_t end,
                         size_t max_record, struct seen *out, size_t n,
                         size_t cap)
{
    struct input_reader_options o = {.max_record = max_record,
                                     .range_start = start,
                                     .range_end = end};
    struct input_reader r;
    open_ok(&r, path, &o);
    for (;;) {
        struct input_row row;
        struct input_pos pos;
        char err[256];
        enum input_status st = input_reader_next(&r, &row, &pos, err,
                                                 sizeof(err));
        if (st == INPUT_EOF) {
            break;
        }
        assert_true(st == INPUT_ROW || st == INPUT_BAD_ROW);
        assert_true(n < cap);
        out[n].offset = pos.offset;
        out[n].st = st;
        out[n].first[0] = '\0';
        if (st == INPUT_ROW) {
            snprintf(out[n].first, sizeof(out[n].first), "%.*s",
                     (int)row.fields[0].value.u.s.len,
                     row.fields[0].value.u.s.p);
        }
        if (start == 0 && end == 0) {
            assert_true(st != INPUT_ROW || pos.line > 0);
        }
        n++;
    }
    input_reader_close(&r);
    return n;
}

static void test_pieces_give_every_row_once(void **state)
{
    (void)state;
    /* Short and long lines (over the 40-byte limit: bad rows, skipped
     * across piece edges), blank lines, CRLF, no final newline. */
    char data[4096];
    size_t len = (size_t)snprintf(data, sizeof(data), "id\tv\n");
    for (int i = 0; i < 60; i++) {
        int pad = (i * 7) % 23;
        if (i % 13 == 5) {
            pad = 70; /* too long */
        }
        len += (size_t)snprintf(data + len, sizeof(data) - len,
                                "r%d\t%.*s%s", i, pad,
                                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
                                "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                                i % 11 == 3 ? "\r\n\n" : "\n");
    }
    len += (size_t)snprintf(data + len, sizeof(data) - len, "last\tend");
    const char *path = write_tmp(data, len);
    enum { CAP = 128 };
    struct seen whole[CAP], parts[CAP];
    size_t nwhole = read_range(path, 0, 0, 40, whole, 0, CAP);
    assert_int_equal(nwhole, 61);
    assert_string_equal(whole[60].first, "last");
    /* Two pieces cut at every byte, and three at a spread of pairs. */
    for (uint64_t cut = 1; cut < len; cut++) {
        size_t n = read_range(path, 0, cut, 40, parts, 0, CAP);
        n = read_range(path, cut, 0, 40, parts, n, CAP);
        assert_int_equal(n, nwhole);
        for (size_t i = 0; i < n; i++) {
            assert_int_equal(parts[i].offset, whole[i].offset);
            assert_int_equal(parts[i].st, whole[i].st);
            assert_string_equal(parts[i].first, whole[i].first);
        }
    }
    for (uint64_t a = 1; a < len; a += 37) {
        for (uint64_t b = a + 1; b < len; b += 53) {
            size_t n = read_range(path, 0, a, 40, parts, 0, CAP);
            n = read_range(path, a, b, 40, parts, n, CAP);
            n = read_range(path, b, 0, 40, parts, n, CAP);
            assert_int_equal(n, nwhole);
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(parts[i].offset, whole[i].offset);
            }
        }
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_and_rows),
        cmocka_unit_test(test_crlf_bom_blank_and_no_final_newline),
        cmocka_unit_test(test_field_count_mismatch_is_a_bad_row),
        cmocka_unit_test(test_too_long_line_skipped),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_empty_file_and_header_only),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_layout_per_file),
        cmocka_unit_test(test_line_longer_than_read_buffer),
        cmocka_unit_test(test_format_registry),
        cmocka_unit_test(test_pieces_give_every_row_once),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
