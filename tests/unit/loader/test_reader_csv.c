/*
 * This file implements the unit tests of the CSV input format: the record
 * scanner (loader/csv_scanner.c) on its own — quoting, line ends, every
 * split of a document into two reads and byte-by-byte feeding, malformed
 * records — and the reader (loader/reader_csv.c, through the input_reader
 * vtable, on temporary files): header and rows, positions across quoted
 * newlines, CRLF, byte-order mark, blank lines, bad rows and recovering
 * after them, an unclosed quote at the end of the file, records longer
 * than the limit or than the read buffer, bad headers, gzip input, the
 * registry, layouts shared with TSV.
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
#include <zlib.h>

#include "csv_scanner.h"
#include "input_reader.h"

/* ---- the scanner --------------------------------------------------------- */

#define MAX_RECORDS 16
#define MAX_FIELDS 8

/* What a document scans to: records of fields, as NUL-terminated text. */
struct scanned {
    size_t nrec;
    size_t nfields[MAX_RECORDS];
    char field[MAX_RECORDS][MAX_FIELDS][64];
    enum csv_problem problem[MAX_RECORDS];
    uint64_t newlines[MAX_RECORDS];
    size_t consumed[MAX_RECORDS];
};

/*
 * Scans doc[0..n) as a reader would: the first call sees first bytes,
 * every later one `step` more (0: all the rest), the end of the text only
 * once every byte was given.
 */
static void scan_doc(const char *doc, size_t n, size_t first, size_t step,
                     struct scanned *out)
{
    char *buf = malloc(n + 1);
    assert_non_null(buf);
    memcpy(buf, doc, n);
    struct csv_scanner s;
    csv_scanner_init(&s);
    memset(out, 0, sizeof(*out));
    size_t start = 0;
    size_t avail = first < n ? first : n;
    bool eof = false;
    for (;;) {
        size_t consumed = 0;
        enum csv_status st = csv_scan(&s, buf + start, avail - start, eof,
                                      &consumed);
        if (st == CSV_END) {
            break;
        }
        if (st == CSV_MORE) {
            assert_false(eof);
            if (avail == n) {
                eof = true;
            } else {
                avail = step == 0 || avail + step > n ? n : avail + step;
            }
            continue;
        }
        assert_int_equal(st, CSV_RECORD);
        assert_true(out->nrec < MAX_RECORDS);
        assert_true(s.nfields <= MAX_FIELDS);
        size_t r = out->nrec++;
        out->nfields[r] = s.nfields;
        out->problem[r] = s.problem;
        out->newlines[r] = s.newlines;
        out->consumed[r] = consumed;
        for (size_t i = 0; i < s.nfields; i++) {
            assert_true(s.fields[i].len < 64);
            memcpy(out->field[r][i], buf + start + s.fields[i].off,
                   s.fields[i].len);
            out->field[r][i][s.fields[i].len] = '\0';
        }
        start += consumed;
    }
    assert_int_equal(start, n);
    csv_scanner_deinit(&s);
    free(buf);
}

static void scan_all(const char *doc, struct scanned *out)
{
    scan_doc(doc, strlen(doc), strlen(doc), 0, out);
}

static void expect_record(const struct scanned *sc, size_t r, size_t n, ...)
{
    assert_true(r < sc->nrec);
    assert_int_equal(sc->nfields[r], n);
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(sc->field[r][i], va_arg(ap, const char *));
    }
    va_end(ap);
}

static void test_scan_quoting(void **state)
{
    struct scanned sc;
    scan_all("a,\"b,c\",\"say \"\"hi\"\"\"\n"
             "\"two\nlines\",,\"\"\n"
             "x,\"\"\"\",\"a\r\nb\"\n",
             &sc);
    assert_int_equal(sc.nrec, 3);
    expect_record(&sc, 0, 3, "a", "b,c", "say \"hi\"");
    expect_record(&sc, 1, 3, "two\nlines", "", "");
    assert_int_equal(sc.newlines[1], 2);
    expect_record(&sc, 2, 3, "x", "\"", "a\r\nb");
    for (size_t r = 0; r < 3; r++) {
        assert_int_equal(sc.problem[r], CSV_FINE);
    }
}

static void test_scan_line_ends(void **state)
{
    struct scanned sc;
    /* CRLF after unquoted and quoted fields; a lone CR inside a field is
     * data; the last record lacks its line end; a trailing comma is an
     * empty last field. */
    scan_all("a,b\r\n\"q\"\r\nc\rd,e,\r\nlast", &sc);
    assert_int_equal(sc.nrec, 4);
    expect_record(&sc, 0, 2, "a", "b");
    assert_int_equal(sc.consumed[0], 5);
    expect_record(&sc, 1, 1, "q");
    expect_record(&sc, 2, 3, "c\rd", "e", "");
    expect_record(&sc, 3, 1, "last");
    assert_int_equal(sc.newlines[3], 0);
    /* A blank line is one empty unquoted field. */
    scan_all("\n\r\n\"\"\n", &sc);
    assert_int_equal(sc.nrec, 3);
    expect_record(&sc, 0, 1, "");
    expect_record(&sc, 1, 1, "");
    expect_record(&sc, 2, 1, "");
    /* The end of the text after a closing quote and a lone CR. */
    scan_all("\"a\"\r", &sc);
    assert_int_equal(sc.nrec, 1);
    expect_record(&sc, 0, 1, "a");
    assert_int_equal(sc.problem[0], CSV_FINE);
    scan_all("", &sc);
    assert_int_equal(sc.nrec, 0);
}

static void test_scan_malformed_records(void **state)
{
    struct scanned sc;
    scan_all("ab\"c,d\n\"x\"y,z\nok,1\n\"open,2\nmore\n", &sc);
    assert_int_equal(sc.nrec, 4);
    expect_record(&sc, 0, 2, "ab\"c", "d");
    assert_int_equal(sc.problem[0], CSV_BARE_QUOTE);
    expect_record(&sc, 1, 2, "xy", "z");
    assert_int_equal(sc.problem[1], CSV_AFTER_QUOTE);
    expect_record(&sc, 2, 2, "ok", "1");
    assert_int_equal(sc.problem[2], CSV_FINE);
    /* The open quote runs to the end of the text. */
    expect_record(&sc, 3, 1, "open,2\nmore\n");
    assert_int_equal(sc.problem[3], CSV_UNCLOSED);
    /* A closing quote followed by a lone CR and text. */
    scan_all("\"a\"\rb,c\n", &sc);
    expect_record(&sc, 0, 2, "a\rb", "c");
    assert_int_equal(sc.problem[0], CSV_AFTER_QUOTE);
}

/* Every way to cut a document in two reads, and byte-by-byte feeding,
 * give what one read gives. */
static void test_scan_every_split(void **state)
{
    static const char doc[] =
        "id,name,note\r\n"
        "1,\"Smith, J\",\"said \"\"no\"\"\"\r\n"
        "\r\n"
        "2,\"multi\r\nline\n\",\"\"\n"
        "3,bad\"quote,\"x\"y\n"
        "4,,\"\"\"\"\r\n"
        "5,\"unclosed,\n";
    size_t n = sizeof(doc) - 1;
    struct scanned whole, part;
    scan_doc(doc, n, n, 0, &whole);
    assert_int_equal(whole.nrec, 7);
    expect_record(&whole, 1, 3, "1", "Smith, J", "said \"no\"");
    expect_record(&whole, 3, 3, "2", "multi\r\nline\n", "");
    expect_record(&whole, 5, 3, "4", "", "\"");
    assert_int_equal(whole.problem[4], CSV_BARE_QUOTE);
    assert_int_equal(whole.problem[6], CSV_UNCLOSED);
    for (size_t k = 0; k <= n; k++) {
        scan_doc(doc, n, k, 0, &part);
        assert_memory_equal(&part, &whole, sizeof(whole));
    }
    scan_doc(doc, n, 0, 1, &part);
    assert_memory_equal(&part, &whole, sizeof(whole));
}

/* ---- the reader --------------------------------------------------------- */

static char tmp_path[64];

/* Writes len bytes to a new temporary file named *suffix. */
static const char *write_tmp_as(const char *data, size_t len,
                                const char *suffix)
{
    snprintf(tmp_path, sizeof(tmp_path), "/tmp/larder-test-csv-XXXXXX%s",
             suffix);
    int fd = mkstemps(tmp_path, (int)strlen(suffix));
    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
    return tmp_path;
}

#define WRITE_LIT(s) write_tmp_as((s), sizeof(s) - 1, ".csv")

static struct input_reader_options opts = {.max_record = 1 << 20};

static void open_ok(struct input_reader *r, const char *path,
                    const struct input_reader_options *o)
{
    char err[256] = "";
    enum input_status st = input_reader_open(r, &input_format_csv, path, o,
                                             err, sizeof(err));
    if (st != INPUT_ROW) {
        fail_msg("open: %s: %s", input_status_name(st), err);
    }
}

static enum input_status next(struct input_reader *r, struct input_row *row,
                              struct input_pos *pos, char *err)
{
    memset(pos, 0, sizeof(*pos));
    err[0] = '\0';
    return input_reader_next(r, row, pos, err, 256);
}

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

static void test_read_rows_and_positions(void **state)
{
    /* As Python's csv module writes it: CRLF, quotes where needed. */
    const char *p = WRITE_LIT("\xEF\xBB\xBFuser,\"na,me\",note\r\n"
                              "u1,\"Smith, J\",\"a \"\"b\"\"\r\nc\"\r\n"
                              "\r\n"
                              "u2,,\"\"\r\n"
                              "u3,x,y");
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p, &opts);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(row.n, 3);
    assert_true(row.layout != 0);
    check_field(&row, 0, "user", "u1");
    check_field(&row, 1, "na,me", "Smith, J");
    check_field(&row, 2, "note", "a \"b\"\r\nc");
    assert_int_equal(pos.line, 2);
    assert_int_equal(pos.offset, 22);
    uint64_t layout = row.layout;
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 0, "user", "u2");
    check_field(&row, 1, "na,me", "");
    check_field(&row, 2, "note", "");
    assert_int_equal(pos.line, 5); /* the quoted newline counts, and the
                                      blank line 4 is skipped */
    assert_int_equal(row.layout, layout);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 0, "user", "u3");
    check_field(&row, 2, "note", "y");
    assert_int_equal(pos.line, 6);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(p);
}

static void test_bad_rows_and_recovery(void **state)
{
    const char *p = WRITE_LIT("k,v\n"
                              "a,1\n"
                              "b\n"
                              "c,3,4\n"
                              "d,x\"y\n"
                              "\"e\"f,5\n"
                              "g,7\n");
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
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 5);
    assert_non_null(strstr(err, "field 2 (line 5): a quote inside an "
                                "unquoted field"));
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 6);
    assert_non_null(strstr(err, "field 1 (line 6): text after the closing "
                                "quote"));
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 0, "k", "g");
    assert_int_equal(pos.line, 7);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(p);
}

static void test_unclosed_quote_at_eof(void **state)
{
    const char *p = WRITE_LIT("k,v\n"
                              "a,1\n"
                              "b,\"never\n"
                              "closed\n"
                              "c,3\n");
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p, &opts);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 3);
    assert_int_equal(pos.offset, 8);
    assert_string_equal(err, "field 2: the quote opened on line 3 is not "
                             "closed at the end of the file");
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(p);
}

static void test_too_long_records_skipped(void **state)
{
    struct input_reader_options small = {.max_record = 16};
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    /* A long unquoted record, a long quoted one spanning lines (skipped
     * as a whole, its quoted newlines counted), then good rows. */
    const char *p = WRITE_LIT("k,v\n"
                              "a,1\n"
                              "b,xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
                              "c,\"yyyyyyyyyy\nyyyyyyyyyyyyyyy\nyyyy,\n\"\n"
                              "d,4\n");
    open_ok(&r, p, &small);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 0, "k", "a");
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 3);
    assert_string_equal(err, "record longer than the limit of 16 bytes");
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 4);
    assert_string_equal(err, "record longer than the limit of 16 bytes: the "
                             "quote of field 2, opened on line 4, is not "
                             "closed");
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 0, "k", "d");
    check_field(&row, 1, "v", "4");
    assert_int_equal(pos.line, 8);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(p);

    /* An unclosed quote in a file far larger than the limit: one bad row,
     * then the end, in bounded memory. */
    size_t big = 5u << 20;
    char *data = malloc(big);
    assert_non_null(data);
    memcpy(data, "k,v\na,\"", 7);
    for (size_t i = 7; i < big; i++) {
        data[i] = i % 50 == 0 ? '\n' : 'z';
    }
    p = write_tmp_as(data, big, ".csv");
    struct input_reader_options mid = {.max_record = 4096};
    open_ok(&r, p, &mid);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    assert_int_equal(pos.line, 2);
    assert_non_null(strstr(err, "opened on line 2, is not closed"));
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    free(data);
    unlink(p);
}

/*
 * A record over the limit whose closing quote and "\r" end exactly where
 * the reader refills its buffer (found by fuzz_reader_csv): skipping it
 * must not write ahead of the input, so every row after it is read.
 */
static void test_skip_quote_cr_at_refill(void **state)
{
    enum { LIMIT = 512, ROWS = 300 };
    struct input_reader_options o = {.max_record = LIMIT};
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    size_t len = 0;
    char *data = malloc(2 + 1 + (LIMIT - 1) + 4 + 2 * ROWS);
    assert_non_null(data);
    memcpy(data + len, "k\n\"", 3);
    len += 3;
    memset(data + len, 'x', LIMIT - 1);
    len += LIMIT - 1;
    memcpy(data + len, "\"\rz\n", 4);
    len += 4;
    for (int i = 0; i < ROWS; i++) {
        memcpy(data + len, "1\n", 2);
        len += 2;
    }
    const char *p = write_tmp_as(data, len, ".csv");
    open_ok(&r, p, &o);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_BAD_ROW);
    for (int i = 0; i < ROWS; i++) {
        assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
        check_field(&row, 0, "k", "1");
    }
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    free(data);
    unlink(p);
}

static void test_record_longer_than_read_buffer(void **state)
{
    size_t big = 3u << 20;
    size_t len = 7 + big + 7;
    char *data = malloc(len);
    assert_non_null(data);
    memcpy(data, "k,v\na,\"", 7);
    for (size_t i = 0; i < big; i++) {
        data[7 + i] = i % 1000 == 999 ? '\n' : (i % 1000 == 500 ? ',' : 'x');
    }
    memcpy(data + 7 + big, "\"\nb,yy\n", 7);
    const char *p = write_tmp_as(data, len, ".csv");
    struct input_reader_options o = {.max_record = 8u << 20};
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p, &o);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    assert_int_equal(row.fields[1].value.u.s.len, big);
    assert_memory_equal(row.fields[1].value.u.s.p, data + 7, big);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 1, "v", "yy");
    assert_int_equal(pos.offset, 7 + big + 2);
    assert_int_equal(pos.line, 3 + big / 1000);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    free(data);
    unlink(p);
}

static void test_bad_headers(void **state)
{
    static const char *const headers[] = {
        "a,,b\n1,2,3\n", "a,b,a\n", ",b\n", "a,\"b\n", "\"a\"x,b\n"};
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++) {
        const char *p = write_tmp_as(headers[i], strlen(headers[i]), ".csv");
        struct input_reader r;
        char err[256] = "";
        assert_int_equal(input_reader_open(&r, &input_format_csv, p, &opts,
                                           err, sizeof(err)),
                         INPUT_BAD_FILE);
        assert_non_null(strstr(err, "header"));
        unlink(p);
    }
    /* A quoted header name may hold a comma or a quote. */
    const char *p = WRITE_LIT("\"a,b\",\"c\"\"d\"\n1,2\n");
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p, &opts);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 0, "a,b", "1");
    check_field(&row, 1, "c\"d", "2");
    input_reader_close(&r);
    unlink(p);
}

static void test_empty_files(void **state)
{
    const char *inputs[] = {"", "k,v\r\n", "\n\r\n", "\xEF\xBB\xBF"};
    for (size_t i = 0; i < 4; i++) {
        const char *p = write_tmp_as(inputs[i], strlen(inputs[i]), ".csv");
        struct input_reader r;
        struct input_row row;
        struct input_pos pos;
        char err[256];
        open_ok(&r, p, &opts);
        assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
        input_reader_close(&r);
        unlink(p);
    }
    struct input_reader r;
    char err[256] = "";
    assert_int_equal(input_reader_open(&r, &input_format_csv,
                                       "/nonexistent/x.csv", &opts, err,
                                       sizeof(err)),
                     INPUT_NOT_FOUND);
    assert_non_null(strstr(err, "/nonexistent/x.csv"));
}

/* Gzip-compresses data into a file named *.csv.gz, cut to keep bytes
 * (0: all). */
static const char *write_gz(const char *data, size_t len, size_t keep)
{
    uLongf cap = compressBound((uLong)len) + 64;
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
    size_t n = z.total_out;
    deflateEnd(&z);
    const char *p = write_tmp_as((const char *)out, keep ? keep : n,
                                 ".csv.gz");
    free(out);
    return p;
}

static void test_gzip_csv(void **state)
{
    static const char doc[] = "k,v\r\na,\"1,\"\"x\"\"\"\r\nb,\"2\n3\"\r\n";
    const char *p = write_gz(doc, sizeof(doc) - 1, 0);
    assert_ptr_equal(input_format_guess(p), &input_format_csv);
    struct input_reader r;
    struct input_row row;
    struct input_pos pos;
    char err[256];
    open_ok(&r, p, &opts);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 1, "v", "1,\"x\"");
    assert_int_equal(next(&r, &row, &pos, err), INPUT_ROW);
    check_field(&row, 1, "v", "2\n3");
    assert_int_equal(pos.line, 3);
    assert_int_equal(next(&r, &row, &pos, err), INPUT_EOF);
    input_reader_close(&r);
    unlink(p);

    /* Cut short: the rows before the cut, then the whole file is bad. */
    char big[8192];
    size_t len = 0;
    len += (size_t)snprintf(big, sizeof(big), "k,v\n");
    for (int i = 0; len + 32 < sizeof(big); i++) {
        len += (size_t)snprintf(big + len, sizeof(big) - len, "k%d,%d\n", i,
                                i * 7919 % 1000);
    }
    p = write_gz(big, len, 0);
    FILE *f = fopen(p, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long full = ftell(f);
    fclose(f);
    unlink(p);
    p = write_gz(big, len, (size_t)full - 12);
    open_ok(&r, p, &opts);
    enum input_status st;
    size_t rows = 0;
    while ((st = next(&r, &row, &pos, err)) == INPUT_ROW) {
        rows++;
    }
    assert_int_equal(st, INPUT_BAD_FILE);
    assert_non_null(strstr(err, "truncated gzip data"));
    assert_true(rows > 0);
    input_reader_close(&r);
    unlink(p);
}

static void test_registry_and_layouts(void **state)
{
    assert_ptr_equal(input_format_find("csv"), &input_format_csv);
    assert_ptr_equal(input_format_find("CSV"), &input_format_csv);
    assert_ptr_equal(input_format_guess("/out/part-00000-c000.csv"),
                     &input_format_csv);
    assert_ptr_equal(input_format_guess("part-1.CSV.GZ"), &input_format_csv);
    assert_ptr_equal(input_format_guess("part-1.json.gz"),
                     &input_format_jsonl);
    assert_null(input_format_guess("part-1.gz"));
    assert_null(input_format_guess("/d.csv/part-1"));
    /* A TSV and a CSV file never share a layout id: a consumer caching
     * field positions per layout must not mix them up. */
    const char *p = write_tmp_as("k\tv\na\t1\n", 8, ".tsv");
    char tsv[64];
    strcpy(tsv, p);
    p = WRITE_LIT("v,k\n1,a\n");
    struct input_reader rt, rc;
    struct input_row row_t, row_c;
    struct input_pos pos;
    char err[256] = "";
    assert_int_equal(input_reader_open(&rt, &input_format_tsv, tsv, &opts,
                                       err, sizeof(err)),
                     INPUT_ROW);
    open_ok(&rc, p, &opts);
    assert_int_equal(next(&rt, &row_t, &pos, err), INPUT_ROW);
    assert_int_equal(next(&rc, &row_c, &pos, err), INPUT_ROW);
    assert_true(row_t.layout != row_c.layout);
    input_reader_close(&rt);
    input_reader_close(&rc);
    unlink(tsv);
    unlink(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scan_quoting),
        cmocka_unit_test(test_scan_line_ends),
        cmocka_unit_test(test_scan_malformed_records),
        cmocka_unit_test(test_scan_every_split),
        cmocka_unit_test(test_read_rows_and_positions),
        cmocka_unit_test(test_bad_rows_and_recovery),
        cmocka_unit_test(test_unclosed_quote_at_eof),
        cmocka_unit_test(test_too_long_records_skipped),
        cmocka_unit_test(test_skip_quote_cr_at_refill),
        cmocka_unit_test(test_record_longer_than_read_buffer),
        cmocka_unit_test(test_bad_headers),
        cmocka_unit_test(test_empty_files),
        cmocka_unit_test(test_gzip_csv),
        cmocka_unit_test(test_registry_and_layouts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
