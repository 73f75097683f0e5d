/*
 * This file implements the unit tests of the RESP2/RESP3 reply parser
 * (common/resp_reply.c): every reply type, nulls in their three spellings,
 * attributes dropped wherever they appear, pipelined replies, every error,
 * the limits (depth, bulk, elements, line) at and just over each bound,
 * want(), and reset. The central check is that a stream of replies gives the
 * same transcript however it is cut into reads: in one piece, one byte at a
 * time, in two pieces at every position, and in random pieces. Each call
 * gets a fresh heap copy of exactly the bytes available, so
 * AddressSanitizer catches any read past them and any pointer into the
 * buffer kept across calls.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp_reply.h"

/* A string literal as (pointer, length), embedded NUL bytes included. */
#define LIT(s) (s), (sizeof(s) - 1)

/* A growable NUL-terminated byte string for transcripts and streams. */
struct bytes {
    char *buf;
    size_t len;
    size_t cap;
};

static void bytes_add(struct bytes *b, const void *data, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->buf = realloc(b->buf, cap);
        assert_non_null(b->buf);
        b->cap = cap;
    }
    if (n > 0)
        memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = '\0';
}

static void bytes_printf(struct bytes *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof(tmp));
    bytes_add(b, tmp, (size_t)n);
}

static void bytes_free(struct bytes *b)
{
    free(b->buf);
    memset(b, 0, sizeof(*b));
}

/* Appends s[0, n) quoted, with \xHH for bytes outside printable ASCII. */
static void render_str(struct bytes *t, const char *s, size_t n)
{
    bytes_add(t, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\')
            bytes_add(t, &s[i], 1);
        else
            bytes_printf(t, "\\x%02x", c);
    }
    bytes_add(t, "\"", 1);
}

/* A one-line canonical form of a reply tree, for comparing runs. */
static void render(struct bytes *t, const struct resp_reply *r)
{
    assert_non_null(r);
    if (r->str != NULL)
        assert_int_equal(r->str[r->len], '\0');
    switch (r->type) {
    case RESP_REPLY_STATUS:
        bytes_add(t, "+", 1);
        render_str(t, r->str, r->len);
        return;
    case RESP_REPLY_ERRORMSG:
        bytes_add(t, "-", 1);
        render_str(t, r->str, r->len);
        return;
    case RESP_REPLY_INTEGER:
        bytes_printf(t, ":%lld", (long long)r->integer);
        return;
    case RESP_REPLY_BULK:
        bytes_add(t, "$", 1);
        render_str(t, r->str, r->len);
        return;
    case RESP_REPLY_NULL:
        bytes_add(t, "_", 1);
        return;
    case RESP_REPLY_DOUBLE:
        bytes_printf(t, ",%.17g/", r->dval);
        render_str(t, r->str, r->len);
        return;
    case RESP_REPLY_BOOL:
        bytes_add(t, r->integer ? "#t" : "#f", 2);
        return;
    case RESP_REPLY_VERBATIM:
        bytes_printf(t, "=%s:", r->format);
        render_str(t, r->str, r->len);
        return;
    case RESP_REPLY_BIGNUM:
        bytes_add(t, "(", 1);
        bytes_add(t, r->str, r->len);
        return;
    case RESP_REPLY_ARRAY:
    case RESP_REPLY_SET:
    case RESP_REPLY_PUSH:
    case RESP_REPLY_MAP: {
        const char *open = r->type == RESP_REPLY_ARRAY ? "*["
                           : r->type == RESP_REPLY_SET ? "~["
                           : r->type == RESP_REPLY_PUSH ? ">["
                                                        : "%{";
        bytes_add(t, open, 2);
        if (r->type == RESP_REPLY_MAP)
            assert_int_equal(r->elements % 2, 0);
        for (size_t i = 0; i < r->elements; i++) {
            if (i > 0)
                bytes_add(t, r->type == RESP_REPLY_MAP && i % 2 ? ":" : ",",
                          1);
            render(t, r->element[i]);
        }
        bytes_add(t, r->type == RESP_REPLY_MAP ? "}" : "]", 1);
        return;
    }
    }
    fail_msg("unknown reply type %d", (int)r->type);
}

/* How a stream is handed to the parser. */
enum feed {
    FEED_ONE_SHOT,   /* everything at once */
    FEED_BYTEWISE,   /* one more byte per call */
    FEED_TWO_CHUNKS, /* `split` bytes, then the rest */
    FEED_RANDOM,     /* pieces of random size, from seed `split` */
};

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/*
 * Parses the stream s[0, n) as a client would, receiving bytes as `feed`
 * says, and writes one transcript line per reply ("ERROR: msg" ends it).
 * Checks on the way: *used and *out are 0/NULL unless OK, want() exceeds
 * the bytes given on NEED_MORE, and an error stays until reset.
 */
static void run_feed(const char *s, size_t n,
                     const struct resp_reply_limits *lim, enum feed feed,
                     size_t split, struct bytes *t)
{
    struct resp_reply_parser p;
    resp_reply_parser_init(&p, lim);
    uint64_t seed = split * 2654435761u + 1;
    size_t start = 0; /* first byte of the reply being parsed */
    size_t avail = 0; /* bytes received so far */
    int errored = 0;
    while (avail < n && !errored) {
        switch (feed) {
        case FEED_ONE_SHOT:
            avail = n;
            break;
        case FEED_BYTEWISE:
            avail++;
            break;
        case FEED_TWO_CHUNKS:
            avail = avail < split ? split : n;
            break;
        case FEED_RANDOM:
            avail += 1 + rng_next(&seed) % 9;
            if (avail > n)
                avail = n;
            break;
        }
        for (;;) {
            size_t have = avail - start;
            char *copy = malloc(have ? have : 1);
            assert_non_null(copy);
            memcpy(copy, s + start, have);
            size_t used = 99;
            struct resp_reply *r = (struct resp_reply *)&used;
            enum resp_reply_status st =
                resp_reply_parse(&p, copy, have, &used, &r);
            free(copy);
            if (st == RESP_REPLY_OK) {
                assert_true(used > 0 && used <= have);
                render(t, r);
                bytes_printf(t, " (%zu)\n", used);
                resp_reply_free(r);
                start += used;
                continue;
            }
            assert_int_equal(used, 0);
            assert_null(r);
            if (st == RESP_REPLY_ERROR) {
                bytes_printf(t, "ERROR: %s\n", p.err);
                /* Sticky: the same bytes fail again without a message
                 * change. */
                char again[sizeof(p.err)];
                memcpy(again, p.err, sizeof(again));
                assert_int_equal(resp_reply_parse(&p, s + start, have, &used,
                                                  &r),
                                 RESP_REPLY_ERROR);
                assert_string_equal(again, p.err);
                errored = 1;
                break;
            }
            assert_int_equal(st, RESP_REPLY_NEED_MORE);
            assert_true(resp_reply_parser_want(&p) > have);
            break;
        }
    }
    if (!errored && start < n)
        bytes_printf(t, "INCOMPLETE %zu\n", n - start);
    resp_reply_parser_deinit(&p);
}

/*
 * Checks that s[0, n) gives the transcript `expected` fed in one piece,
 * bytewise, in two pieces at every position and in random pieces.
 */
static void check_stream_lim(const char *s, size_t n, const char *expected,
                             const struct resp_reply_limits *lim)
{
    struct bytes t = {0};
    run_feed(s, n, lim, FEED_ONE_SHOT, 0, &t);
    if (strcmp(t.buf ? t.buf : "", expected) != 0)
        fail_msg("one shot: expected\n%sgot\n%s", expected, t.buf);
    bytes_free(&t);
    run_feed(s, n, lim, FEED_BYTEWISE, 0, &t);
    if (strcmp(t.buf ? t.buf : "", expected) != 0)
        fail_msg("bytewise: expected\n%sgot\n%s", expected, t.buf);
    bytes_free(&t);
    for (size_t split = 1; split < n; split++) {
        run_feed(s, n, lim, FEED_TWO_CHUNKS, split, &t);
        if (strcmp(t.buf ? t.buf : "", expected) != 0)
            fail_msg("split at %zu: expected\n%sgot\n%s", split, expected,
                     t.buf);
        bytes_free(&t);
    }
    for (size_t seed = 0; seed < 20; seed++) {
        run_feed(s, n, lim, FEED_RANDOM, seed, &t);
        if (strcmp(t.buf ? t.buf : "", expected) != 0)
            fail_msg("random seed %zu: expected\n%sgot\n%s", seed, expected,
                     t.buf);
        bytes_free(&t);
    }
}

static void check_stream(const char *s, size_t n, const char *expected)
{
    check_stream_lim(s, n, expected, NULL);
}

/* ---- types ------------------------------------------------------------ */

static void test_simple_types(void **state)
{
    (void)state;
    check_stream(LIT("+OK\r\n"), "+\"OK\" (5)\n");
    check_stream(LIT("+\r\n"), "+\"\" (3)\n");
    check_stream(LIT("-ERR unknown command\r\n"),
                 "-\"ERR unknown command\" (22)\n");
    check_stream(LIT("-NOTABLE no such table\r\n"),
                 "-\"NOTABLE no such table\" (24)\n");
    check_stream(LIT(":0\r\n"), ":0 (4)\n");
    check_stream(LIT(":-42\r\n"), ":-42 (6)\n");
    check_stream(LIT(":9223372036854775807\r\n"),
                 ":9223372036854775807 (22)\n");
    check_stream(LIT(":-9223372036854775808\r\n"),
                 ":-9223372036854775808 (23)\n");
}

static void test_bulk_strings(void **state)
{
    (void)state;
    check_stream(LIT("$3\r\nabc\r\n"), "$\"abc\" (9)\n");
    check_stream(LIT("$0\r\n\r\n"), "$\"\" (6)\n");
    /* Binary safe: CRLF and NUL inside the data. */
    check_stream(LIT("$6\r\na\r\n\0\nb\r\n"),
                 "$\"a\\x0d\\x0a\\x00\\x0ab\" (12)\n");
    check_stream(LIT("$-1\r\n"), "_ (5)\n");
}

static void test_nulls(void **state)
{
    (void)state;
    check_stream(LIT("$-1\r\n"), "_ (5)\n");
    check_stream(LIT("*-1\r\n"), "_ (5)\n");
    check_stream(LIT("_\r\n"), "_ (3)\n");
}

static void test_arrays(void **state)
{
    (void)state;
    check_stream(LIT("*0\r\n"), "*[] (4)\n");
    check_stream(LIT("*2\r\n$1\r\na\r\n:1\r\n"), "*[$\"a\",:1] (15)\n");
    check_stream(LIT("*3\r\n$1\r\na\r\n$-1\r\n$1\r\nc\r\n"),
                 "*[$\"a\",_,$\"c\"] (23)\n");
    check_stream(LIT("*2\r\n*1\r\n+x\r\n*0\r\n"), "*[*[+\"x\"],*[]] (16)\n");
    check_stream(LIT("*3\r\n*0\r\n*0\r\n*1\r\n*0\r\n"),
                 "*[*[],*[],*[*[]]] (20)\n");
    check_stream(LIT("*1\r\n*-1\r\n"), "*[_] (9)\n");
}

static void test_resp3_aggregates(void **state)
{
    (void)state;
    check_stream(LIT("%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n"),
                 "%{+\"a\"::1,+\"b\":*[:2]} (24)\n");
    check_stream(LIT("%0\r\n"), "%{} (4)\n");
    check_stream(LIT("~2\r\n:1\r\n$1\r\nx\r\n"), "~[:1,$\"x\"] (15)\n");
    check_stream(LIT(">3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n"),
                 ">[+\"message\",+\"ch\",$\"hi\"] (27)\n");
    check_stream(LIT("%1\r\n$1\r\nk\r\n%1\r\n$1\r\nj\r\n~0\r\n"),
                 "%{$\"k\":%{$\"j\":~[]}} (26)\n");
}

static void test_resp3_scalars(void **state)
{
    (void)state;
    check_stream(LIT(",3.5\r\n"), ",3.5/\"3.5\" (6)\n");
    check_stream(LIT(",-0.25\r\n"), ",-0.25/\"-0.25\" (8)\n");
    check_stream(LIT(",10\r\n"), ",10/\"10\" (5)\n");
    check_stream(LIT(",1e10\r\n"), ",10000000000/\"1e10\" (7)\n");
    check_stream(LIT(",inf\r\n"), ",inf/\"inf\" (6)\n");
    check_stream(LIT(",-inf\r\n"), ",-inf/\"-inf\" (7)\n");
    check_stream(LIT("#t\r\n"), "#t (4)\n");
    check_stream(LIT("#f\r\n"), "#f (4)\n");
    check_stream(LIT("=15\r\ntxt:Some string\r\n"),
                 "=txt:\"Some string\" (22)\n");
    check_stream(LIT("=4\r\nmkd:\r\n"), "=mkd:\"\" (10)\n");
    check_stream(LIT("(3492890328409238509324850943850943825024385\r\n"),
                 "(3492890328409238509324850943850943825024385 (46)\n");
    check_stream(LIT("(-12\r\n"), "(-12 (6)\n");
    check_stream(LIT("!21\r\nSYNTAX invalid syntax\r\n"),
                 "-\"SYNTAX invalid syntax\" (28)\n");
}

static void test_nan_double(void **state)
{
    (void)state;
    struct resp_reply_parser p;
    resp_reply_parser_init(&p, NULL);
    size_t used;
    struct resp_reply *r;
    assert_int_equal(resp_reply_parse(&p, LIT(",nan\r\n"), &used, &r),
                     RESP_REPLY_OK);
    assert_int_equal(r->type, RESP_REPLY_DOUBLE);
    assert_true(isnan(r->dval));
    resp_reply_free(r);
    resp_reply_parser_deinit(&p);
}

static void test_attributes_dropped(void **state)
{
    (void)state;
    /* Before the top-level reply, with a nested map in it. */
    check_stream(LIT("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n"
                     "*2\r\n:1\r\n:2\r\n"),
                 "*[:1,:2] (51)\n");
    /* Inside an array, before one element. */
    check_stream(LIT("*2\r\n|1\r\n+k\r\n+v\r\n:1\r\n:2\r\n"),
                 "*[:1,:2] (24)\n");
    /* Empty, and two in a row. */
    check_stream(LIT("|0\r\n:5\r\n"), ":5 (8)\n");
    check_stream(LIT("|1\r\n+a\r\n+b\r\n|1\r\n+c\r\n+d\r\n$1\r\nx\r\n"),
                 "$\"x\" (31)\n");
    /* An attribute inside an attribute. */
    check_stream(LIT("|1\r\n+a\r\n|1\r\n+b\r\n+c\r\n+d\r\n:7\r\n"),
                 ":7 (28)\n");
}

static void test_pipelined(void **state)
{
    (void)state;
    check_stream(LIT("+OK\r\n:1\r\n$1\r\nx\r\n*1\r\n_\r\n"),
                 "+\"OK\" (5)\n:1 (4)\n$\"x\" (7)\n*[_] (7)\n");
}

static void test_incomplete_left(void **state)
{
    (void)state;
    check_stream(LIT("+OK\r\n$5\r\nab"), "+\"OK\" (5)\nINCOMPLETE 6\n");
    check_stream(LIT("*2\r\n:1\r\n"), "INCOMPLETE 8\n");
}

static void test_large_aggregate_grows(void **state)
{
    (void)state;
    struct bytes s = {0};
    struct bytes want = {0};
    bytes_printf(&s, "*100\r\n");
    bytes_add(&want, "*[", 2);
    for (int i = 0; i < 100; i++) {
        bytes_printf(&s, ":%d\r\n", i);
        bytes_printf(&want, "%s:%d", i ? "," : "", i);
    }
    bytes_printf(&want, "] (%zu)\n", s.len);
    check_stream(s.buf, s.len, want.buf);
    bytes_free(&s);
    bytes_free(&want);
}

/* ---- errors ----------------------------------------------------------- */

static void test_errors(void **state)
{
    (void)state;
    check_stream(LIT("?x\r\n"), "ERROR: unknown reply type byte 0x3f\n");
    check_stream(LIT("\r\n"), "ERROR: line not ended by CRLF\n");
    check_stream(LIT("+OK\n"), "ERROR: line not ended by CRLF\n");
    check_stream(LIT("\n"), "ERROR: line not ended by CRLF\n");
    check_stream(LIT(":abc\r\n"), "ERROR: bad integer\n");
    check_stream(LIT(":\r\n"), "ERROR: bad integer\n");
    check_stream(LIT(":-\r\n"), "ERROR: bad integer\n");
    check_stream(LIT(":+1\r\n"), "ERROR: bad integer\n");
    check_stream(LIT(":9223372036854775808\r\n"), "ERROR: bad integer\n");
    check_stream(LIT(":-9223372036854775809\r\n"), "ERROR: bad integer\n");
    check_stream(LIT("$-2\r\n"), "ERROR: bad string length\n");
    check_stream(LIT("$abc\r\n"), "ERROR: bad string length\n");
    check_stream(LIT("!-1\r\n"), "ERROR: bad string length\n");
    check_stream(LIT("=-1\r\n"), "ERROR: bad string length\n");
    check_stream(LIT("$3\r\nabcX\r\n"),
                 "ERROR: string of 3 bytes not followed by CRLF\n");
    check_stream(LIT("$3\r\nabc\rX"),
                 "ERROR: string of 3 bytes not followed by CRLF\n");
    check_stream(LIT("#x\r\n"), "ERROR: bad boolean\n");
    check_stream(LIT("#tt\r\n"), "ERROR: bad boolean\n");
    check_stream(LIT("_x\r\n"), "ERROR: bad null\n");
    check_stream(LIT(",abc\r\n"), "ERROR: bad double\n");
    check_stream(LIT(",\r\n"), "ERROR: bad double\n");
    check_stream(LIT(", 1\r\n"), "ERROR: bad double\n");
    check_stream(LIT(",0x10\r\n"), "ERROR: bad double\n");
    check_stream(LIT(",1.5.2\r\n"), "ERROR: bad double\n");
    check_stream(LIT("(12a\r\n"), "ERROR: bad big number\n");
    check_stream(LIT("(\r\n"), "ERROR: bad big number\n");
    check_stream(LIT("=3\r\ntxt\r\n"),
                 "ERROR: verbatim string without a 3-byte format\n");
    check_stream(LIT("=5\r\ntxt;x\r\n"),
                 "ERROR: verbatim string without a 3-byte format\n");
    check_stream(LIT("%-1\r\n"), "ERROR: bad aggregate length\n");
    check_stream(LIT("~-1\r\n"), "ERROR: bad aggregate length\n");
    check_stream(LIT("*-2\r\n"), "ERROR: bad aggregate length\n");
    check_stream(LIT("*x\r\n"), "ERROR: bad aggregate length\n");
    check_stream(LIT("$?\r\n"), "ERROR: streamed strings are not supported\n");
    check_stream(LIT("*?\r\n"),
                 "ERROR: streamed aggregates are not supported\n");
    /* An error deep inside an aggregate frees what was built (ASan). */
    check_stream(LIT("*2\r\n%1\r\n$1\r\nk\r\n*2\r\n:1\r\n:x\r\n"),
                 "ERROR: bad integer\n");
    check_stream(LIT("|1\r\n+a\r\n*1\r\n:x\r\n"), "ERROR: bad integer\n");
    /* A good reply before a bad one is still delivered. */
    check_stream(LIT(":1\r\n:x\r\n"), ":1 (4)\nERROR: bad integer\n");
}

static void test_error_sticky_until_reset(void **state)
{
    (void)state;
    struct resp_reply_parser p;
    resp_reply_parser_init(&p, NULL);
    size_t used;
    struct resp_reply *r;
    assert_int_equal(resp_reply_parse(&p, LIT("*2\r\n:1\r\n:x\r\n"), &used,
                                      &r),
                     RESP_REPLY_ERROR);
    assert_string_equal(p.err, "bad integer");
    assert_int_equal(resp_reply_parse(&p, LIT("+OK\r\n"), &used, &r),
                     RESP_REPLY_ERROR);
    resp_reply_parser_reset(&p);
    assert_string_equal(p.err, "");
    assert_int_equal(resp_reply_parse(&p, LIT("+OK\r\n"), &used, &r),
                     RESP_REPLY_OK);
    assert_int_equal(r->type, RESP_REPLY_STATUS);
    resp_reply_free(r);
    /* Reset in the middle of a reply frees what was built. */
    assert_int_equal(resp_reply_parse(&p, LIT("*3\r\n$1\r\na\r\n|1\r\n+k\r\n"),
                                      &used, &r),
                     RESP_REPLY_NEED_MORE);
    resp_reply_parser_reset(&p);
    assert_int_equal(resp_reply_parse(&p, LIT(":3\r\n"), &used, &r),
                     RESP_REPLY_OK);
    assert_int_equal(r->integer, 3);
    resp_reply_free(r);
    /* Deinit in the middle frees too. */
    assert_int_equal(resp_reply_parse(&p, LIT("%2\r\n+a\r\n*2\r\n"), &used,
                                      &r),
                     RESP_REPLY_NEED_MORE);
    resp_reply_parser_deinit(&p);
}

/* ---- limits ----------------------------------------------------------- */

static void test_limits_default(void **state)
{
    (void)state;
    struct resp_reply_limits l = resp_reply_limits_default();
    assert_int_equal(l.max_depth, 32);
    assert_int_equal(l.max_bulk, 512u * 1024 * 1024);
    assert_int_equal(l.max_elements, 16u * 1024 * 1024);
    assert_int_equal(l.max_line, 1024 * 1024);
    struct resp_reply_parser p;
    l.max_depth = 100000;
    resp_reply_parser_init(&p, &l);
    assert_int_equal(p.limits.max_depth, RESP_REPLY_DEPTH_CAP);
    resp_reply_parser_deinit(&p);
}

static void test_limit_depth(void **state)
{
    (void)state;
    struct resp_reply_limits l = resp_reply_limits_default();
    l.max_depth = 3;
    check_stream_lim(LIT("*1\r\n*1\r\n*1\r\n:1\r\n"), "*[*[*[:1]]] (16)\n",
                     &l);
    /* An empty aggregate opens no level. */
    check_stream_lim(LIT("*1\r\n*1\r\n*1\r\n*0\r\n"), "*[*[*[*[]]]] (16)\n",
                     &l);
    check_stream_lim(LIT("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n"),
                     "ERROR: reply nested deeper than 3 levels\n", &l);
    check_stream_lim(LIT("*1\r\n*1\r\n*1\r\n|1\r\n+a\r\n+b\r\n:1\r\n"),
                     "ERROR: reply nested deeper than 3 levels\n", &l);
    check_stream_lim(LIT("%1\r\n+a\r\n~1\r\n>1\r\n*1\r\n:1\r\n"),
                     "ERROR: reply nested deeper than 3 levels\n", &l);
    /* The default refuses a deep nesting without recursion trouble. */
    struct bytes s = {0};
    for (int i = 0; i < 200; i++)
        bytes_add(&s, "*1\r\n", 4);
    bytes_add(&s, ":1\r\n", 4);
    struct bytes t = {0};
    run_feed(s.buf, s.len, NULL, FEED_ONE_SHOT, 0, &t);
    assert_string_equal(t.buf, "ERROR: reply nested deeper than 32 levels\n");
    bytes_free(&t);
    bytes_free(&s);
}

static void test_limit_bulk(void **state)
{
    (void)state;
    struct resp_reply_limits l = resp_reply_limits_default();
    l.max_bulk = 10;
    check_stream_lim(LIT("$10\r\n0123456789\r\n"), "$\"0123456789\" (17)\n",
                     &l);
    /* Refused as soon as the header is complete, data not awaited. */
    check_stream_lim(LIT("$11\r\n"),
                     "ERROR: string of 11 bytes is over the limit of 10\n",
                     &l);
    check_stream_lim(LIT("!11\r\n"),
                     "ERROR: string of 11 bytes is over the limit of 10\n",
                     &l);
    check_stream_lim(LIT("=11\r\n"),
                     "ERROR: string of 11 bytes is over the limit of 10\n",
                     &l);
    struct bytes t = {0};
    run_feed(LIT("$9223372036854775807\r\n"), NULL, FEED_ONE_SHOT, 0, &t);
    assert_string_equal(t.buf, "ERROR: string of 9223372036854775807 bytes "
                               "is over the limit of 536870912\n");
    bytes_free(&t);
}

static void test_limit_elements(void **state)
{
    (void)state;
    struct resp_reply_limits l = resp_reply_limits_default();
    l.max_elements = 4;
    check_stream_lim(LIT("*4\r\n:1\r\n:2\r\n:3\r\n:4\r\n"),
                     "*[:1,:2,:3,:4] (20)\n", &l);
    check_stream_lim(LIT("*5\r\n"),
                     "ERROR: aggregate of 5 elements is over the limit of "
                     "4\n", &l);
    check_stream_lim(LIT("%2\r\n:1\r\n:2\r\n:3\r\n:4\r\n"),
                     "%{:1::2,:3::4} (20)\n", &l);
    check_stream_lim(LIT("%3\r\n"),
                     "ERROR: aggregate of 6 elements is over the limit of "
                     "4\n", &l);
    check_stream_lim(LIT("|3\r\n"),
                     "ERROR: aggregate of 6 elements is over the limit of "
                     "4\n", &l);
    check_stream_lim(LIT("~5\r\n"),
                     "ERROR: aggregate of 5 elements is over the limit of "
                     "4\n", &l);
    /* A huge claim within the limit allocates only what arrives. */
    struct resp_reply_parser p;
    resp_reply_parser_init(&p, NULL);
    size_t used;
    struct resp_reply *r;
    assert_int_equal(resp_reply_parse(&p, LIT("*16000000\r\n:1\r\n"), &used,
                                      &r),
                     RESP_REPLY_NEED_MORE);
    assert_int_equal(p.depth, 1);
    assert_int_equal(p.stack[0].cap, 16);
    resp_reply_parser_deinit(&p);
}

static void test_limit_line(void **state)
{
    (void)state;
    struct resp_reply_limits l = resp_reply_limits_default();
    l.max_line = 8;
    check_stream_lim(LIT("+12345678\r\n"), "+\"12345678\" (11)\n", &l);
    check_stream_lim(LIT("+123456789\r\n"),
                     "ERROR: header line longer than 8 bytes\n", &l);
    /* Without a newline, refused once more than a line's worth arrived. */
    check_stream_lim(LIT("-1234567890123"),
                     "ERROR: header line longer than 8 bytes\n", &l);
    check_stream_lim(LIT("-12345678\r"), "INCOMPLETE 10\n", &l);
    /* Too long and not ended by CRLF: the length is reported, however the
     * bytes arrive (found by fuzz_resp_reply). */
    check_stream_lim(LIT("+1234567890123\n"),
                     "ERROR: header line longer than 8 bytes\n", &l);
}

/* ---- want ------------------------------------------------------------- */

static void test_want(void **state)
{
    (void)state;
    struct resp_reply_parser p;
    resp_reply_parser_init(&p, NULL);
    size_t used;
    struct resp_reply *r;
    assert_int_equal(resp_reply_parser_want(&p), 1);
    assert_int_equal(resp_reply_parse(&p, "", 0, &used, &r),
                     RESP_REPLY_NEED_MORE);
    assert_int_equal(resp_reply_parse(&p, LIT("+OK"), &used, &r),
                     RESP_REPLY_NEED_MORE);
    assert_int_equal(resp_reply_parser_want(&p), 4);
    resp_reply_parser_reset(&p);
    assert_int_equal(resp_reply_parser_want(&p), 1);
    assert_int_equal(resp_reply_parse(&p, LIT("$10\r\n01"), &used, &r),
                     RESP_REPLY_NEED_MORE);
    assert_int_equal(resp_reply_parser_want(&p), 17);
    assert_int_equal(resp_reply_parse(&p, LIT("$10\r\n0123456789\r"), &used,
                                      &r),
                     RESP_REPLY_NEED_MORE);
    assert_int_equal(resp_reply_parse(&p, LIT("$10\r\n0123456789\r\n"),
                                      &used, &r),
                     RESP_REPLY_OK);
    assert_int_equal(used, 17);
    assert_int_equal(r->len, 10);
    resp_reply_free(r);
    assert_int_equal(resp_reply_parser_want(&p), 1);
    resp_reply_parser_deinit(&p);
}

static void test_type_names(void **state)
{
    (void)state;
    assert_string_equal(resp_reply_type_name(RESP_REPLY_BULK), "bulk");
    assert_string_equal(resp_reply_type_name(RESP_REPLY_MAP), "map");
    assert_string_equal(resp_reply_type_name(RESP_REPLY_ERRORMSG), "error");
    assert_string_equal(resp_reply_type_name(RESP_REPLY_PUSH), "push");
    resp_reply_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_types),
        cmocka_unit_test(test_bulk_strings),
        cmocka_unit_test(test_nulls),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_resp3_aggregates),
        cmocka_unit_test(test_resp3_scalars),
        cmocka_unit_test(test_nan_double),
        cmocka_unit_test(test_attributes_dropped),
        cmocka_unit_test(test_pipelined),
        cmocka_unit_test(test_incomplete_left),
        cmocka_unit_test(test_large_aggregate_grows),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_error_sticky_until_reset),
        cmocka_unit_test(test_limits_default),
        cmocka_unit_test(test_limit_depth),
        cmocka_unit_test(test_limit_bulk),
        cmocka_unit_test(test_limit_elements),
        cmocka_unit_test(test_limit_line),
        cmocka_unit_test(test_want),
        cmocka_unit_test(test_type_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
