/*
 * This file implements the unit tests of gzip input (loader/byte_source.c
 * and the line formats on top of it): data written by zlib reads back
 * unchanged whatever the read size, concatenated members are one stream,
 * plain files pass through, a truncated or corrupt stream or a .gz file
 * without gzip data is an error naming the byte offset (and keeps being
 * one), an empty file is empty, and TSV/JSONL readers read .gz files and
 * report a damaged one as a bad file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "byte_source.h"
#include "input_reader.h"

static char tmp_path[64];

static const char *write_tmp(const void *data, size_t len,
                             const char *suffix)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/larder-test-gz-XXXXXX%s",
             suffix);
    int fd = mkstemps(tmp_path, (int)strlen(suffix));
    assert_true(fd >= 0);
    if (len > 0) {
        assert_int_equal(write(fd, data, len), (ssize_t)len);
    }
    close(fd);
    return tmp_path;
}

/* One gzip member of data, as zlib writes it; *n its size (malloc'd). */
static unsigned char *gzip_member(const void *data, size_t len, size_t *n)
{
    size_t cap = compressBound((uLong)len) + 64;
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    z_stream z;
    memset(&z, 0, sizeof(z));
    assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8,
                                  Z_DEFAULT_STRATEGY),
                     Z_OK);
    z.next_in = (unsigned char *)data;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
    *n = z.total_out;
    deflateEnd(&z);
    return out;
}

/* Deterministic, compressible but not trivial test data. */
static unsigned char *make_data(size_t len, unsigned seed)
{
    unsigned char *d = malloc(len);
    assert_non_null(d);
    uint32_t x = seed * 2654435761u + 1;
    for (size_t i = 0; i < len; i++) {
        x = x * 1103515245u + 12345u;
        d[i] = (unsigned char)("abcdefgh\n,\t0123"[(x >> 16) & 15]);
    }
    return d;
}

/*
 * Reads the whole stream with reads of `chunk` bytes. Returns the bytes
 * read (malloc'd, *n), or NULL with err and *e set on an error.
 */
static unsigned char *read_all(const char *path, size_t chunk, size_t *n,
                               char *err, int *e)
{
    struct byte_source *s;
    assert_int_equal(byte_source_open(path, &s, err, 256), 0);
    size_t cap = 1 << 16, len = 0;
    unsigned char *out = malloc(cap);
    assert_non_null(out);
    for (;;) {
        if (cap - len < chunk) {
            cap = cap * 2 + chunk;
            out = realloc(out, cap);
            assert_non_null(out);
        }
        ssize_t r = byte_source_read(s, out + len, chunk, err, 256);
        if (r < 0) {
            *e = errno;
            /* An error sticks. */
            char again[256];
            assert_int_equal(byte_source_read(s, out, chunk, again, 256),
                             -1);
            assert_string_equal(again, err);
            byte_source_close(s);
            free(out);
            return NULL;
        }
        if (r == 0) {
            assert_int_equal(byte_source_read(s, out, chunk, err, 256), 0);
            break;
        }
        assert_true((size_t)r <= chunk);
        len += (size_t)r;
    }
    byte_source_close(s);
    *n = len;
    return out;
}

static void test_round_trip_any_read_size(void **state)
{
    size_t len = (3u << 20) + 12345;
    unsigned char *data = make_data(len, 1);
    size_t zn;
    unsigned char *z = gzip_member(data, len, &zn);
    const char *p = write_tmp(z, zn, ".tsv.gz");
    static const size_t chunks[] = {7, 4096, 1u << 20, 8u << 20};
    for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
        char err[256] = "";
        int e = 0;
        size_t n = 0;
        unsigned char *got = read_all(p, chunks[i], &n, err, &e);
        if (got == NULL) {
            fail_msg("read: %s", err);
        }
        assert_int_equal(n, len);
        assert_memory_equal(got, data, len);
        free(got);
    }
    struct byte_source *s;
    char err[256];
    assert_int_equal(byte_source_open(p, &s, err, sizeof(err)), 0);
    unsigned char c; /* byte by byte, on the first part */
    for (size_t i = 0; i < 100000; i++) {
        assert_int_equal(byte_source_read(s, &c, 1, err, sizeof(err)), 1);
        assert_int_equal(c, data[i]);
    }
    assert_true(byte_source_is_gzip(s));
    assert_true(byte_source_file_offset(s) <= zn);
    byte_source_close(s);
    unlink(p);
    free(z);
    free(data);
}

static void test_concatenated_members(void **state)
{
    size_t la = 200000, lb = 70000;
    unsigned char *a = make_data(la, 2);
    unsigned char *b = make_data(lb, 3);
    size_t na, nb, ne;
    unsigned char *za = gzip_member(a, la, &na);
    unsigned char *zb = gzip_member(b, lb, &nb);
    unsigned char *ze = gzip_member("", 0, &ne); /* an empty member */
    unsigned char *all = malloc(na + ne + nb);
    assert_non_null(all);
    memcpy(all, za, na);
    memcpy(all + na, ze, ne);
    memcpy(all + na + ne, zb, nb);
    const char *p = write_tmp(all, na + ne + nb, ".gz");
    static const size_t chunks[] = {13, 65536};
    for (size_t i = 0; i < 2; i++) {
        char err[256] = "";
        int e = 0;
        size_t n = 0;
        unsigned char *got = read_all(p, chunks[i], &n, err, &e);
        if (got == NULL) {
            fail_msg("read: %s", err);
        }
        assert_int_equal(n, la + lb);
        assert_memory_equal(got, a, la);
        assert_memory_equal(got + la, b, lb);
        free(got);
    }
    unlink(p);
    free(all);
    free(za);
    free(zb);
    free(ze);
    free(a);
    free(b);
}

static void test_truncated_and_corrupt(void **state)
{
    size_t len = 500000;
    unsigned char *data = make_data(len, 4);
    size_t zn;
    unsigned char *z = gzip_member(data, len, &zn);
    /* Cut inside the header, the deflate data and the trailer. */
    size_t cuts[] = {2, 5, 11, zn / 3, zn / 2, zn - 9, zn - 4, zn - 1};
    for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
        const char *p = write_tmp(z, cuts[i], ".json.gz");
        char err[256] = "", want[64];
        int e = 0;
        size_t n = 0;
        unsigned char *got = read_all(p, 65536, &n, err, &e);
        if (got != NULL) {
            fail_msg("a gzip file cut at %zu of %zu read without error",
                     cuts[i], zn);
        }
        assert_int_equal(e, EBADMSG);
        snprintf(want, sizeof(want), "the file ends at byte %zu", cuts[i]);
        if (strstr(err, "truncated gzip data") == NULL ||
            strstr(err, want) == NULL) {
            fail_msg("cut at %zu: message '%s'", cuts[i], err);
        }
        unlink(p);
    }
    /* A damaged CRC, and a damaged deflate stream. */
    z[zn - 6] ^= 0xFF;
    const char *p = write_tmp(z, zn, ".gz");
    char err[256] = "";
    int e = 0;
    size_t n = 0;
    assert_null(read_all(p, 65536, &n, err, &e));
    assert_int_equal(e, EBADMSG);
    assert_non_null(strstr(err, "corrupt gzip data near byte"));
    assert_non_null(strstr(err, "incorrect data check"));
    unlink(p);
    z[zn - 6] ^= 0xFF;
    z[20] ^= 0x55;
    z[21] ^= 0xAA;
    p = write_tmp(z, zn, ".gz");
    assert_null(read_all(p, 65536, &n, err, &e));
    assert_int_equal(e, EBADMSG);
    unlink(p);
    /* Garbage after a complete member is not a member. */
    z[20] ^= 0x55;
    z[21] ^= 0xAA;
    unsigned char *tail = malloc(zn + 4);
    assert_non_null(tail);
    memcpy(tail, z, zn);
    memcpy(tail + zn, "junk", 4);
    p = write_tmp(tail, zn + 4, ".gz");
    assert_null(read_all(p, 65536, &n, err, &e));
    assert_int_equal(e, EBADMSG);
    unlink(p);
    free(tail);
    free(z);
    free(data);
}

static void test_plain_empty_and_misnamed(void **state)
{
    char err[256] = "";
    int e = 0;
    size_t n = 0;
    /* Plain data passes through, at any read size. */
    const char *p = write_tmp("k\tv\na\t1\n", 8, ".tsv");
    unsigned char *got = read_all(p, 3, &n, err, &e);
    assert_non_null(got);
    assert_int_equal(n, 8);
    assert_memory_equal(got, "k\tv\na\t1\n", 8);
    free(got);
    struct byte_source *s;
    assert_int_equal(byte_source_open(p, &s, err, sizeof(err)), 0);
    char buf[16];
    assert_int_equal(byte_source_read(s, buf, sizeof(buf), err, sizeof(err)),
                     8);
    assert_false(byte_source_is_gzip(s));
    assert_int_equal(byte_source_file_offset(s), 8);
    byte_source_close(s);
    unlink(p);
    /* An empty file is an empty stream, .gz or not. */
    p = write_tmp("", 0, ".csv.gz");
    got = read_all(p, 64, &n, err, &e);
    assert_non_null(got);
    assert_int_equal(n, 0);
    free(got);
    unlink(p);
    /* A .gz name on plain data is refused. */
    p = write_tmp("k,v\n", 4, ".csv.gz");
    assert_null(read_all(p, 64, &n, err, &e));
    assert_int_equal(e, EBADMSG);
    assert_non_null(strstr(err, "no gzip data"));
    unlink(p);
    /* A missing file fails at open, with errno. */
    assert_int_equal(byte_source_open("/nonexistent/x.gz", &s, err,
                                      sizeof(err)),
                     -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "/nonexistent/x.gz"));
}

static struct input_reader_options opts = {.max_record = 1 << 20};

static void test_line_formats_read_gzip(void **state)
{
    static const char tsv[] = "k\tv\na\t1\nb\t2\n";
    size_t zn;
    unsigned char *z = gzip_member(tsv, sizeof(tsv) - 1, &zn);
    /* Gzip is found by its magic, whatever the name. */
    const char *p = write_tmp(z, zn, ".tsv");
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256] = "";
    assert_int_equal(input_reader_open(&r, &input_format_tsv, p, &opts, err,
                                       sizeof(err)),
                     INPUT_ROW);
    assert_int_equal(input_reader_next(&r, &row, &pos, err, sizeof(err)),
                     INPUT_ROW);
    assert_int_equal(input_reader_next(&r, &row, &pos, err, sizeof(err)),
                     INPUT_ROW);
    assert_int_equal(pos.line, 3);
    assert_memory_equal(row.fields[0].value.u.s.p, "b", 1);
    assert_int_equal(input_reader_next(&r, &row, &pos, err, sizeof(err)),
                     INPUT_EOF);
    input_reader_close(&r);
    unlink(p);
    /* A truncated one: the header is there, then the file is bad. */
    p = write_tmp(z, zn - 3, ".tsv.gz");
    assert_int_equal(input_reader_open(&r, &input_format_tsv, p, &opts, err,
                                       sizeof(err)),
                     INPUT_ROW);
    enum input_status st;
    while ((st = input_reader_next(&r, &row, &pos, err, sizeof(err))) ==
           INPUT_ROW) {
    }
    assert_int_equal(st, INPUT_BAD_FILE);
    assert_non_null(strstr(err, "truncated gzip data"));
    input_reader_close(&r);
    unlink(p);
    free(z);
    /* JSONL, cut inside the first member's data: a bad file at open or
     * at the first row. */
    char json[4096];
    size_t jl = 0;
    for (int i = 0; i < 60; i++) {
        jl += (size_t)snprintf(json + jl, sizeof(json) - jl,
                               "{\"k\":\"u%d\",\"v\":%d}\n", i, i * 31);
    }
    z = gzip_member(json, jl, &zn);
    p = write_tmp(z, zn / 2, ".jsonl.gz");
    st = input_reader_open(&r, &input_format_jsonl, p, &opts, err,
                           sizeof(err));
    assert_int_equal(st, INPUT_ROW);
    size_t rows = 0;
    while ((st = input_reader_next(&r, &row, &pos, err, sizeof(err))) ==
           INPUT_ROW) {
        rows++;
    }
    assert_int_equal(st, INPUT_BAD_FILE);
    assert_true(rows < 60);
    input_reader_close(&r);
    unlink(p);
    free(z);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_any_read_size),
        cmocka_unit_test(test_concatenated_members),
        cmocka_unit_test(test_truncated_and_corrupt),
        cmocka_unit_test(test_plain_empty_and_misnamed),
        cmocka_unit_test(test_line_formats_read_gzip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
