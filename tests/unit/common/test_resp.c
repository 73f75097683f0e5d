/*
 * This file implements the unit tests of the RESP2 request parser
 * (common/resp.c): request forms, pipelining, binary-safe arguments, every
 * error message, the limits, resp_parser_want() and reset. The central check
 * is that a stream of requests gives the same results however it is cut
 * into reads: in one piece, one byte at a time, in two pieces at every
 * possible position, and in random pieces. Each call gets a fresh, writable
 * heap copy of exactly the bytes available, so AddressSanitizer catches any
 * read past them and any reliance on the buffer staying put, and every call
 * is checked to have written only where resp_parse() may: over the inline
 * request it returns.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

/* A string literal as (pointer, length), embedded NUL bytes included. */
#define LIT(s) (s), (sizeof(s) - 1)

/* A growable byte string: request streams and result transcripts. */
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
    char tmp[256];
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

/* An expected argument given as a string literal, NUL bytes included. */
struct arg {
    const char *s;
    size_t n;
};
#define A(s) {(s), sizeof(s) - 1}

/*
 * Asserts that a call which was given a copy of orig[0, n) in buf changed
 * only what resp_parse() may change: after RESP_OK for an inline request,
 * bytes of that request, and nothing else.
 */
static void assert_untouched(const char *orig, const char *buf, size_t n,
                             enum resp_status st, size_t used)
{
    size_t from = st == RESP_OK && n > 0 && orig[0] != '*' ? used : 0;
    if (from < n)
        assert_memory_equal(buf + from, orig + from, n - from);
}

/* Transcript line for one parsed request, in a form two runs can compare. */
static void note_ok(struct bytes *t, size_t used, size_t argc,
                    const char *const *args, const size_t *lens)
{
    bytes_printf(t, "OK used=%zu argc=%zu\n", used, argc);
    for (size_t i = 0; i < argc; i++) {
        bytes_printf(t, "%zu:", lens[i]);
        bytes_add(t, args[i], lens[i]);
        bytes_add(t, "\n", 1);
    }
}

static void note_parsed(struct bytes *t, const struct resp_parser *p,
                        const char *req, size_t used)
{
    bytes_printf(t, "OK used=%zu argc=%zu\n", used, p->argc);
    for (size_t i = 0; i < p->argc; i++) {
        assert_true(p->argv[i].off + p->argv[i].len <= used);
        bytes_printf(t, "%zu:", p->argv[i].len);
        bytes_add(t, req + p->argv[i].off, p->argv[i].len);
        bytes_add(t, "\n", 1);
    }
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
 * Parses the whole stream s[0, n) the way a server would, receiving bytes
 * as `feed` says, and writes one transcript line per result. Checks the
 * invariants of every call on the way: *used is 0 unless RESP_OK, want()
 * exceeds the bytes given on RESP_AGAIN but never the request's length, and
 * bytewise a request completes exactly when its last byte arrives.
 */
static void run_feed(const char *s, size_t n, const struct resp_limits *lim,
                     enum feed feed, size_t split, struct bytes *t)
{
    struct resp_parser p;
    resp_parser_init(&p, lim);
    uint64_t seed = split * 0x9e3779b97f4a7c15ull + 1;
    size_t avail;
    switch (feed) {
    case FEED_ONE_SHOT: avail = n; break;
    case FEED_BYTEWISE: avail = n > 0 ? 1 : 0; break;
    case FEED_TWO_CHUNKS: avail = split; break;
    default: avail = rng_next(&seed) % 40; break;
    }
    if (avail > n)
        avail = n;
    size_t start = 0, max_want = 0;
    while (start < n) {
        size_t len = avail - start;
        char *copy = malloc(len ? len : 1);
        assert_non_null(copy);
        memcpy(copy, s + start, len);
        size_t used = 12345;
        enum resp_status st = resp_parse(&p, copy, len, &used);
        assert_untouched(s + start, copy, len, st, used);
        if (st == RESP_OK) {
            assert_true(used > 0 && used <= len);
            assert_true(max_want <= used);
            if (feed == FEED_BYTEWISE)
                assert_int_equal(used, len);
            note_parsed(t, &p, copy, used);
            start += used;
            max_want = 0;
            free(copy);
            continue;
        }
        free(copy);
        assert_int_equal(used, 0);
        if (st == RESP_EPROTO) {
            assert_int_equal(resp_parser_want(&p), 0);
            bytes_printf(t, "ERR %s\n", p.err);
            break;
        }
        assert_int_equal(st, RESP_AGAIN);
        size_t want = resp_parser_want(&p);
        assert_true(want > len);
        if (want > max_want)
            max_want = want;
        if (avail == n) {
            bytes_printf(t, "AGAIN want=%zu\n", want);
            break;
        }
        switch (feed) {
        case FEED_BYTEWISE: avail++; break;
        case FEED_RANDOM: avail += 1 + rng_next(&seed) % 40; break;
        default: avail = n; break;
        }
        if (avail > n)
            avail = n;
    }
    resp_parser_deinit(&p);
}

/*
 * Asserts that every way of feeding s[0, n) produces the transcript
 * `expected`.
 */
static void check_all_feeds(const char *s, size_t n,
                            const struct resp_limits *lim, const char *expected)
{
    struct bytes t = {0};
    run_feed(s, n, lim, FEED_ONE_SHOT, 0, &t);
    assert_string_equal(t.buf ? t.buf : "", expected);
    bytes_free(&t);

    run_feed(s, n, lim, FEED_BYTEWISE, 0, &t);
    assert_string_equal(t.buf ? t.buf : "", expected);
    bytes_free(&t);

    for (size_t k = 0; k <= n; k++) {
        run_feed(s, n, lim, FEED_TWO_CHUNKS, k, &t);
        assert_string_equal(t.buf ? t.buf : "", expected);
        bytes_free(&t);
    }
    for (size_t seed = 0; seed < 50; seed++) {
        run_feed(s, n, lim, FEED_RANDOM, seed, &t);
        assert_string_equal(t.buf ? t.buf : "", expected);
        bytes_free(&t);
    }
}

/* Appends a multibulk request to `s` and its expected result to `t`. */
static void add_multibulk(struct bytes *s, struct bytes *t, size_t argc,
                          const char *const *args, const size_t *lens)
{
    size_t before = s->len;
    bytes_printf(s, "*%zu\r\n", argc);
    for (size_t i = 0; i < argc; i++) {
        bytes_printf(s, "$%zu\r\n", lens[i]);
        bytes_add(s, args[i], lens[i]);
        bytes_add(s, "\r\n", 2);
    }
    note_ok(t, s->len - before, argc, args, lens);
}

/* Appends raw request bytes to `s` and the expected arguments to `t`. */
static void add_raw(struct bytes *s, struct bytes *t, const char *raw,
                    size_t raw_len, size_t argc, const char *const *args)
{
    size_t lens[16];
    assert_true(argc <= 16);
    for (size_t i = 0; i < argc; i++)
        lens[i] = strlen(args[i]);
    bytes_add(s, raw, raw_len);
    note_ok(t, raw_len, argc, args, lens);
}

/*
 * Parses a request given in one piece from a writable heap copy of s[0, n),
 * as a server's query buffer would hold it, checking that the parser wrote
 * only where it may. Returns the status; *copy is the copy after parsing, for
 * the caller to read the arguments from and free.
 */
static enum resp_status parse_copy(struct resp_parser *p, const char *s,
                                   size_t n, size_t *used, char **copy)
{
    *copy = malloc(n ? n : 1);
    assert_non_null(*copy);
    memcpy(*copy, s, n);
    enum resp_status st = resp_parse(p, *copy, n, used);
    assert_untouched(s, *copy, n, st, *used);
    return st;
}

/*
 * Parses a request given in one piece, like parse_copy(), for callers that
 * need no decoded argument (their arguments are also bytes of s).
 */
static enum resp_status parse_once(struct resp_parser *p, const char *s,
                                   size_t n, size_t *used)
{
    char *copy;
    enum resp_status st = parse_copy(p, s, n, used, &copy);
    free(copy);
    return st;
}

static void assert_arg(const struct resp_parser *p, const char *req, size_t i,
                       const char *want, size_t want_len)
{
    assert_true(i < p->argc);
    assert_int_equal(p->argv[i].len, want_len);
    assert_memory_equal(req + p->argv[i].off, want, want_len);
}

/* Writes head, n digits '1' and tail to out; returns the length. */
static size_t digit_line(char *out, const char *head, size_t n,
                         const char *tail)
{
    size_t h = strlen(head), t = strlen(tail);
    memcpy(out, head, h);
    memset(out + h, '1', n);
    memcpy(out + h + n, tail, t);
    return h + n + t;
}

/* --- tests ------------------------------------------------------------ */

static void test_limits_default(void **state)
{
    (void)state;
    struct resp_limits l = resp_limits_default();
    assert_int_equal(l.max_bulk_len, 512u * 1024 * 1024);
    assert_int_equal(l.max_array_len, 1024u * 1024);
    assert_int_equal(l.max_inline_len, 64u * 1024);

    struct resp_parser p;
    resp_parser_init(&p, NULL);
    assert_int_equal(p.limits.max_bulk_len, l.max_bulk_len);
    assert_int_equal(p.limits.max_array_len, l.max_array_len);
    assert_int_equal(p.limits.max_inline_len, l.max_inline_len);
    assert_null(p.argv);
    assert_int_equal(p.argc, 0);
    resp_parser_deinit(&p);

    struct resp_limits mine = {.max_bulk_len = 7, .max_array_len = 8,
                               .max_inline_len = 9};
    resp_parser_init(&p, &mine);
    mine.max_bulk_len = 100; /* copied, not borrowed */
    assert_int_equal(p.limits.max_bulk_len, 7);
    assert_int_equal(p.limits.max_array_len, 8);
    assert_int_equal(p.limits.max_inline_len, 9);
    resp_parser_deinit(&p);
}

static void test_get_one_shot(void **state)
{
    (void)state;
    static const char req[] = "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n";
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t used = 99;
    assert_int_equal(parse_once(&p, LIT(req), &used), RESP_OK);
    assert_int_equal(used, sizeof(req) - 1);
    assert_int_equal(p.argc, 2);
    assert_int_equal(p.argv[0].off, 8);
    assert_int_equal(p.argv[0].len, 3);
    assert_int_equal(p.argv[1].off, 17);
    assert_int_equal(p.argv[1].len, 1);
    assert_arg(&p, req, 0, LIT("GET"));
    assert_arg(&p, req, 1, LIT("k"));
    /* Ready for the next request, and the result is still readable. */
    assert_int_equal(resp_parser_want(&p), 1);
    assert_int_equal(p.argc, 2);
    resp_parser_deinit(&p);
}

static void test_trailing_bytes_left_alone(void **state)
{
    (void)state;
    static const char req[] =
        "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nvalue\r\n*1\r\n$4\r\nPI";
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t used = 0;
    assert_int_equal(parse_once(&p, LIT(req), &used), RESP_OK);
    assert_int_equal(used, 31);
    assert_int_equal(p.argc, 3);
    assert_arg(&p, req, 2, LIT("value"));
    /* The second request is incomplete. */
    assert_int_equal(parse_once(&p, req + used, sizeof(req) - 1 - used, &used),
                     RESP_AGAIN);
    assert_int_equal(used, 0);
    /* Its 4-byte bulk starts 8 bytes in: 8 + 4 + 2. */
    assert_int_equal(resp_parser_want(&p), 14);
    resp_parser_deinit(&p);
}

static void test_next_call_clears_result(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t used;
    assert_int_equal(parse_once(&p, LIT("PING\r\n"), &used), RESP_OK);
    assert_int_equal(p.argc, 1);
    assert_int_equal(parse_once(&p, "", 0, &used), RESP_AGAIN);
    assert_int_equal(p.argc, 0);
    assert_int_equal(resp_parser_want(&p), 1);
    resp_parser_deinit(&p);
}

static void test_empty_arrays(void **state)
{
    (void)state;
    struct {
        const char *in;
        size_t used;
    } cases[] = {
        {"*0\r\n", 4}, {"*-1\r\n", 5}, {"*-5\r\n", 5}, {"*0\r\nPING\r\n", 4},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct resp_parser p;
        resp_parser_init(&p, NULL);
        size_t used = 0;
        assert_int_equal(parse_once(&p, cases[i].in, strlen(cases[i].in), &used),
                         RESP_OK);
        assert_int_equal(used, cases[i].used);
        assert_int_equal(p.argc, 0);
        assert_int_equal(resp_parser_want(&p), 1);
        resp_parser_deinit(&p);
    }
}

static void test_binary_safe_args(void **state)
{
    (void)state;
    static const char req[] = "*4\r\n$3\r\nSET\r\n$3\r\na\0b\r\n"
                              "$8\r\n\r\n$1\r\n*1\r\n$0\r\n\r\n";
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t used = 0;
    assert_int_equal(parse_once(&p, LIT(req), &used), RESP_OK);
    assert_int_equal(used, sizeof(req) - 1);
    assert_int_equal(p.argc, 4);
    assert_arg(&p, req, 0, LIT("SET"));
    assert_arg(&p, req, 1, LIT("a\0b"));
    assert_arg(&p, req, 2, LIT("\r\n$1\r\n*1"));
    assert_arg(&p, req, 3, LIT(""));
    resp_parser_deinit(&p);
}

static void test_inline_forms(void **state)
{
    (void)state;
    struct {
        const char *in;
        size_t argc;
        const char *args[5];
    } cases[] = {
        {"PING\r\n", 1, {"PING"}},
        {"PING\n", 1, {"PING"}},
        {"GET k\r\n", 2, {"GET", "k"}},
        {"  SET \t k\t\tv  \r\n", 3, {"SET", "k", "v"}},
        {"SET k \"hello world\"\r\n", 3, {"SET", "k", "hello world"}},
        {"SET k 'hello world'\n", 3, {"SET", "k", "hello world"}},
        {"SET \"\" ''\n", 3, {"SET", "", ""}},
        {"ECHO \"it's\" 'say \"hi\"'\n", 3, {"ECHO", "it's", "say \"hi\""}},
        {"ECHO 'a\\b' c\\nd\n", 3, {"ECHO", "a\\b", "c\\nd"}},
        {"ECHO \"x\"\t'y'\r\n", 3, {"ECHO", "x", "y"}},
        {"$3\r\n", 1, {"$3"}},
        {"a\rb\r\n", 2, {"a", "b"}},
        {"\r\n", 0, {NULL}},
        {"\n", 0, {NULL}},
        {"   \t \r\n", 0, {NULL}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct resp_parser p;
        resp_parser_init(&p, NULL);
        const char *in = cases[i].in;
        size_t used = 0;
        char *req;
        assert_int_equal(parse_copy(&p, in, strlen(in), &used, &req), RESP_OK);
        assert_int_equal(used, strlen(in));
        assert_int_equal(p.argc, cases[i].argc);
        for (size_t a = 0; a < cases[i].argc; a++)
            assert_arg(&p, req, a, cases[i].args[a], strlen(cases[i].args[a]));
        free(req);
        resp_parser_deinit(&p);
    }
}

/*
 * Where decoded inline arguments lie: a quoted argument that needs no
 * decoding is left where it is, and one that does is written over its own
 * bytes, from its first byte after an opening quote, else from its first.
 */
static void test_inline_quoted_offsets(void **state)
{
    (void)state;
    static const char req[] = "SET \"a b\" 'c'\r\n";
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t used;
    char *buf;
    assert_int_equal(parse_copy(&p, LIT(req), &used, &buf), RESP_OK);
    assert_int_equal(p.argc, 3);
    assert_int_equal(p.argv[1].off, 5);
    assert_int_equal(p.argv[1].len, 3);
    assert_int_equal(p.argv[2].off, 11);
    assert_int_equal(p.argv[2].len, 1);
    assert_memory_equal(buf, req, sizeof(req) - 1); /* nothing to decode */
    free(buf);

    /* SET "\x41" k"v w" "\"": the quoted \x41 starts at 5, the word k at 11,
     * the quoted \" at 19. */
    static const char esc[] = "SET \"\\x41\" k\"v w\" \"\\\"\"\r\n";
    assert_int_equal(parse_copy(&p, LIT(esc), &used, &buf), RESP_OK);
    assert_int_equal(used, sizeof(esc) - 1);
    assert_int_equal(p.argc, 4);
    assert_int_equal(p.argv[1].off, 5);
    assert_arg(&p, buf, 1, LIT("A"));
    assert_int_equal(p.argv[2].off, 11);
    assert_arg(&p, buf, 2, LIT("kv w"));
    assert_int_equal(p.argv[3].off, 19);
    assert_arg(&p, buf, 3, LIT("\""));
    free(buf);
    resp_parser_deinit(&p);
}

/*
 * Inline quoting and escapes, each line checked against redis-server 7.0
 * (sent as is, the arguments read back with LRANGE): every escape of double
 * quotes, \x without two hex digits, the one escape of single quotes, quotes
 * joined to a word, and which blanks end a word or may follow a quote.
 * Fed every way, alone and as one pipeline, so that each line is decoded
 * however it arrives and never before its end has.
 */
static void test_inline_escapes(void **state)
{
    (void)state;
    struct {
        const char *in;
        size_t len;
        size_t argc;
        struct arg args[10];
    } cases[] = {
        {LIT("RPUSH l \"e\\x41\" \"c\\r\\nd\\t\\\"q\\\"\"\r\n"), 4,
         {A("RPUSH"), A("l"), A("eA"), A("c\r\nd\t\"q\"")}},
        {LIT("RPUSH l \"\\n\\r\\t\\b\\a\\\\\\\"\\x41\\x00\\xff\\xFf\\x7e\"\r\n"), 3,
         {A("RPUSH"), A("l"), A("\n\r\t\b\a\\\"A\000\377\377~")}},
        {LIT("RPUSH l \"\\xZZ\" \"\\x4\" \"\\x4g\" \"\\q\" \"\\'\" \"\\0\" \"\\x\" "
             "\"abc\\x\"\r\n"), 10,
         {A("RPUSH"), A("l"), A("xZZ"), A("x4"), A("x4g"), A("q"), A("'"),
          A("0"), A("x"), A("abcx")}},
        {LIT("RPUSH l foo\"bar\" a\"b c\" a'b c' x\"\" y''\r\n"), 7,
         {A("RPUSH"), A("l"), A("foobar"), A("ab c"), A("ab c"), A("x"),
          A("y")}},
        {LIT("RPUSH l a\"\\x41\\\"\" a'\\'\\x41'\r\n"), 4,
         {A("RPUSH"), A("l"), A("aA\""), A("a'\\x41")}},
        {LIT("RPUSH l 'a\\'b' 'x\\ny' 'a\\\\b' '\\x41\\\"'\r\n"), 6,
         {A("RPUSH"), A("l"), A("a'b"), A("x\\ny"), A("a\\\\b"),
          A("\\x41\\\"")}},
        {LIT("RPUSH l \"\\\\\" \"a\\ b\" 'a\"b' \"a'b\"\r\n"), 6,
         {A("RPUSH"), A("l"), A("\\"), A("a b"), A("a\"b"), A("a'b")}},
        {LIT("RPUSH l a\vb c\fd ab\v\"c d\"\r\n"), 5,
         {A("RPUSH"), A("l"), A("a\vb"), A("c\fd"), A("ab\vc d")}},
        {LIT("RPUSH l \"x\"\v y \"z\"\rw \"a b\"\f\"c\"\r\n"), 8,
         {A("RPUSH"), A("l"), A("x"), A("y"), A("z"), A("w"), A("a b"),
          A("c")}},
        {LIT("RPUSH l \"\v\" \"\\\v\"\r\n"), 4,
         {A("RPUSH"), A("l"), A("\v"), A("\v")}},
        {LIT("\v\fR\"PUSH\" \"\\x6c\" \"\\x00\"\r\n"), 3,
         {A("RPUSH"), A("l"), A("\000")}},
        /* Not from Redis, which never finds the end of a line holding a
         * NUL byte: here it is an ordinary byte. */
        {LIT("ECHO a\000b \"c\000\\x00\"\n"), 3,
         {A("ECHO"), A("a\000b"), A("c\000\000")}},
    };
    struct bytes all = {0}, all_t = {0};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bytes t = {0};
        const char *args[10];
        size_t lens[10];
        for (size_t a = 0; a < cases[i].argc; a++) {
            args[a] = cases[i].args[a].s;
            lens[a] = cases[i].args[a].n;
        }
        note_ok(&t, cases[i].len, cases[i].argc, args, lens);
        check_all_feeds(cases[i].in, cases[i].len, NULL, t.buf);
        bytes_add(&all, cases[i].in, cases[i].len);
        bytes_add(&all_t, t.buf, t.len);
        bytes_free(&t);
    }
    check_all_feeds(all.buf, all.len, NULL, all_t.buf);
    bytes_free(&all);
    bytes_free(&all_t);
}

/*
 * A mixed pipeline, checked in every way it can be cut into reads against
 * results written out by hand (through add_multibulk/add_raw).
 */
static void test_split_everywhere(void **state)
{
    (void)state;
    struct bytes s = {0}, t = {0};
    static const char *const get[] = {"GET", "foo"};
    static const size_t get_len[] = {3, 3};
    add_multibulk(&s, &t, 2, get, get_len);

    static const char *const set[] = {"SET", "key", "v\0\r\n\r\n"};
    static const size_t set_len[] = {3, 3, 6};
    add_multibulk(&s, &t, 3, set, set_len);

    add_raw(&s, &t, LIT("PING\r\n"), 1, (const char *const[]){"PING"});
    add_raw(&s, &t, LIT("\r\n"), 0, NULL);
    add_raw(&s, &t, LIT("*0\r\n"), 0, NULL);
    add_raw(&s, &t, LIT(" set k2 \"hello world\" 'a \"b\" c' \"\"\n"), 5,
            (const char *const[]){"set", "k2", "hello world", "a \"b\" c", ""});
    add_raw(&s, &t, LIT("*-1\r\n"), 0, NULL);
    add_raw(&s, &t, LIT("SET \"e\\x41\" k\"\\r\\n\"\r\n"), 3,
            (const char *const[]){"SET", "eA", "k\r\n"});

    static const char *const empty[] = {""};
    static const size_t empty_len[] = {0};
    add_multibulk(&s, &t, 1, empty, empty_len);

    /* A value longer than any header, and an argument count above the
     * parser's first reservation. */
    char big[300];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 26);
    static const char *const set_big_k[] = {"SET", "big"};
    const char *set_big[] = {set_big_k[0], set_big_k[1], big};
    const size_t set_big_len[] = {3, 3, sizeof(big)};
    add_multibulk(&s, &t, 3, set_big, set_big_len);

    const char *many[100];
    size_t many_len[100];
    char names[100][8];
    for (size_t i = 0; i < 100; i++) {
        snprintf(names[i], sizeof(names[i]), "k%zu", i);
        many[i] = names[i];
        many_len[i] = strlen(names[i]);
    }
    many[0] = "MGET";
    many_len[0] = 4;
    add_multibulk(&s, &t, 100, many, many_len);

    add_raw(&s, &t, LIT("GET k\n"), 2, (const char *const[]){"GET", "k"});
    static const char *const echo[] = {"ECHO", "*1\r\n$3\r\nGET"};
    static const size_t echo_len[] = {4, 12};
    add_multibulk(&s, &t, 2, echo, echo_len);

    /* The stream ends inside a request: the last line says what it wants. */
    bytes_add(&s, LIT("*2\r\n$3\r\nGET\r\n$10\r\nab"));
    bytes_printf(&t, "AGAIN want=%zu\n", (size_t)(13 + 5 + 10 + 2));

    check_all_feeds(s.buf, s.len, NULL, t.buf);
    bytes_free(&s);
    bytes_free(&t);
}

static void test_pipeline_many(void **state)
{
    (void)state;
    enum { N = 20000 };
    struct bytes s = {0};
    for (size_t i = 0; i < N; i++) {
        char key[32], val[32];
        int kl = snprintf(key, sizeof(key), "key:%zu", i);
        int vl = snprintf(val, sizeof(val), "value-%zu", i * 7);
        switch (i % 3) {
        case 0:
            bytes_printf(&s, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", kl, key);
            break;
        case 1:
            bytes_printf(&s, "*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n", kl,
                         key, vl, val);
            break;
        default:
            bytes_printf(&s, "SET %s %s\r\n", key, val);
            break;
        }
    }
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t off = 0;
    for (size_t i = 0; i < N; i++) {
        char key[32], val[32];
        int kl = snprintf(key, sizeof(key), "key:%zu", i);
        int vl = snprintf(val, sizeof(val), "value-%zu", i * 7);
        size_t used = 0;
        char *req = s.buf + off;
        assert_int_equal(resp_parse(&p, req, s.len - off, &used), RESP_OK);
        if (i % 3 == 0) {
            assert_int_equal(p.argc, 2);
            assert_arg(&p, req, 0, LIT("GET"));
            assert_arg(&p, req, 1, key, (size_t)kl);
        } else {
            assert_int_equal(p.argc, 3);
            assert_arg(&p, req, 0, "SET", 3);
            assert_arg(&p, req, 1, key, (size_t)kl);
            assert_arg(&p, req, 2, val, (size_t)vl);
        }
        off += used;
    }
    assert_int_equal(off, s.len);
    size_t used = 1;
    assert_int_equal(resp_parse(&p, s.buf + off, 0, &used), RESP_AGAIN);
    assert_int_equal(used, 0);
    resp_parser_deinit(&p);
    bytes_free(&s);
}

/*
 * Every error message, each after a good request, fed every way: the message
 * must not depend on how the bytes arrived.
 */
static void test_errors(void **state)
{
    (void)state;
    static const char mb_len[] = "Protocol error: invalid multibulk length";
    static const char mb_big[] = "Protocol error: too big mbulk count string";
    static const char b_len[] = "Protocol error: invalid bulk length";
    static const char b_big[] = "Protocol error: too big bulk count string";
    static const char crlf[] = "Protocol error: bulk data not followed by CRLF";
    static const char quotes[] = "Protocol error: unbalanced quotes in request";
    static const char inl_big[] = "Protocol error: too big inline request";
    static const char inl_many[] =
        "Protocol error: too many arguments in inline request";
    const struct resp_limits small = {.max_bulk_len = 5, .max_array_len = 3,
                                      .max_inline_len = 16};
    /* Header lines around the 64-byte limit ('\r' included). */
    char l64[80], l65[80], w64[80], w65[80], b65[80];
    size_t l64_len = digit_line(l64, "*", 62, "\r\n");
    size_t l65_len = digit_line(l65, "*", 63, "\r\n");
    size_t w64_len = digit_line(w64, "*", 63, "");
    size_t w65_len = digit_line(w65, "*", 64, "");
    size_t b65_len = digit_line(b65, "*1\r\n$", 64, "");
    struct {
        const char *in;
        size_t len;
        const char *msg;
        const struct resp_limits *lim;
    } cases[] = {
        {LIT("*abc\r\n"), mb_len, NULL},
        {LIT("*\r\n"), mb_len, NULL},
        {LIT("*1x\r\n"), mb_len, NULL},
        {LIT("*01\r\n"), mb_len, NULL},
        {LIT("*+2\r\n"), mb_len, NULL},
        {LIT("*-0\r\n"), mb_len, NULL},
        {LIT("*2\n"), mb_len, NULL},
        {LIT("*2\r\r\n"), mb_len, NULL},
        {LIT("*99999999999999999999\r\n"), mb_len, NULL},
        {LIT("*9223372036854775808\r\n"), mb_len, NULL},
        {LIT("*-9223372036854775809\r\n"), mb_len, NULL},
        {LIT("*9223372036854775807\r\n"), mb_len, NULL},
        {LIT("*1048577\r\n"), mb_len, NULL},
        {LIT("*4\r\n"), mb_len, &small},
        /* Header lines: 64 bytes before '\n' are parsed, 65 are too many. */
        {l64, l64_len, mb_len, NULL},
        {l65, l65_len, mb_big, NULL},
        {w64, w64_len, NULL, NULL}, /* not yet too long: waits */
        {w65, w65_len, mb_big, NULL},
        {LIT("*1\r\nX"), "Protocol error: expected '$', got 'X'", NULL},
        {LIT("*1\r\n:1\r\n"), "Protocol error: expected '$', got ':'", NULL},
        {LIT("*1\r\n\0"), "Protocol error: expected '$', got '\\x00'", NULL},
        {LIT("*1\r\n\r\n"), "Protocol error: expected '$', got '\\x0d'", NULL},
        {LIT("*2\r\n$1\r\na\r\n\xff"),
         "Protocol error: expected '$', got '\\xff'", NULL},
        {LIT("*1\r\n$-1\r\n"), b_len, NULL},
        {LIT("*1\r\n$-5\r\n"), b_len, NULL},
        {LIT("*1\r\n$abc\r\n"), b_len, NULL},
        {LIT("*1\r\n$\r\n"), b_len, NULL},
        {LIT("*1\r\n$03\r\nabc\r\n"), b_len, NULL},
        {LIT("*1\r\n$-0\r\n"), b_len, NULL},
        {LIT("*1\r\n$3\n"), b_len, NULL},
        {LIT("*1\r\n$3 \r\n"), b_len, NULL},
        {LIT("*1\r\n$2147483648\r\n"), b_len, NULL},
        {LIT("*1\r\n$536870913\r\n"), b_len, NULL},
        {LIT("*1\r\n$99999999999999999999999\r\n"), b_len, NULL},
        {LIT("*1\r\n$9223372036854775807\r\n"), b_len, NULL},
        {LIT("*1\r\n$6\r\n"), b_len, &small},
        {b65, b65_len, b_big, NULL},
        {LIT("*1\r\n$3\r\nfooXY"), crlf, NULL},
        {LIT("*1\r\n$3\r\nfoo\rX"), crlf, NULL},
        {LIT("*1\r\n$3\r\nfoo\n\r"), crlf, NULL},
        {LIT("*2\r\n$3\r\nfoo\r\n$0\r\nxx"), crlf, NULL},
        {LIT("SET k \"v\r\n"), quotes, NULL},
        {LIT("SET k 'v\n"), quotes, NULL},
        {LIT("SET \"a\"b\r\n"), quotes, NULL},
        {LIT("SET 'a'b\r\n"), quotes, NULL},
        {LIT("SET k \"v\\\"\n"), quotes, NULL},
        {LIT("SET k \"v\\\n"), quotes, NULL},
        {LIT("SET a\"b\n"), quotes, NULL},
        {LIT("SET a\"b\"c\n"), quotes, NULL},
        {LIT("SET k c\\\"d\n"), quotes, NULL},
        {LIT("SET k \"\\x4\n"), quotes, NULL},
        {LIT("SET k 'a\\\\'\n"), quotes, NULL},
        {LIT("SET k 'a'\\\n"), quotes, NULL},
        {LIT("SET k \"a\\\\\"b\n"), quotes, NULL},
        /* Refused whole: the good arguments before are not decoded. */
        {LIT("SET \"\\x41\" k\"v\" a\"b\"c\n"), quotes, NULL},
        {LIT("0123456789abcdefg"), inl_big, &small},
        {LIT("0123456789abcdef\r\n"), inl_big, &small},
        {LIT("a b c d\n"), inl_many, &small},
    };
    const char *prefix = "*1\r\n$4\r\nPING\r\n";
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bytes s = {0}, t = {0};
        bytes_add(&s, prefix, strlen(prefix));
        bytes_add(&s, cases[i].in, cases[i].len);
        note_ok(&t, strlen(prefix), 1, (const char *const[]){"PING"},
                (const size_t[]){4});
        if (cases[i].msg != NULL)
            bytes_printf(&t, "ERR %s\n", cases[i].msg);
        else
            bytes_printf(&t, "AGAIN want=%zu\n", cases[i].len + 1);
        check_all_feeds(s.buf, s.len, cases[i].lim, t.buf);
        bytes_free(&s);
        bytes_free(&t);
    }
}

/*
 * Requests that arrive whole, as most do, against the same bytes fed in
 * pieces: a request is parsed in one pass only when it is complete and
 * every header is plain digits, and anything else it meets in any argument
 * (the last one included) must end exactly as it does byte by byte.
 */
#define TEN_BYTES "0123456789"
#define HUNDRED_BYTES_BUT_ONE                                                \
    TEN_BYTES TEN_BYTES TEN_BYTES TEN_BYTES TEN_BYTES TEN_BYTES TEN_BYTES     \
    TEN_BYTES TEN_BYTES "012345678"
#define HUNDRED_BYTES HUNDRED_BYTES_BUT_ONE "9"

static void test_whole_requests_as_pieces(void **state)
{
    (void)state;
    static const char b_len[] = "Protocol error: invalid bulk length";
    static const char mb_len[] = "Protocol error: invalid multibulk length";
    static const char crlf[] = "Protocol error: bulk data not followed by CRLF";
    const struct resp_limits small = {.max_bulk_len = 5, .max_array_len = 3,
                                      .max_inline_len = 16};
    const struct resp_limits open = {.max_bulk_len = SIZE_MAX,
                                     .max_array_len = SIZE_MAX,
                                     .max_inline_len = 16};
    struct {
        const char *in;
        size_t len;
        size_t argc;          /* arguments when parsed, or */
        const char *msg;      /* the error, or (both 0/NULL) */
        size_t want;          /* what it waits for */
        const struct resp_limits *lim;
    } cases[] = {
        {LIT("*3\r\n$5\r\nT.GET\r\n$5\r\nbench\r\n$16\r\nkey:000000000007\r\n"),
         3, NULL, 0, NULL},
        {LIT("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"), 3, NULL, 0, NULL},
        {LIT("*1\r\n$0\r\n\r\n"), 1, NULL, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$01\r\nk\r\n"), 0, b_len, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$00\r\n\r\n"), 0, b_len, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$-1\r\n"), 0, b_len, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$+1\r\nk\r\n"), 0, b_len, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n:1\r\nk\r\n"), 0,
         "Protocol error: expected '$', got ':'", 0, NULL},
        {LIT("*3\r\n$3\r\nGET\r\n$1\r\nk\r\n$1\r\nkXY"), 0, crlf, 0, NULL},
        {LIT("*3\r\n$3\r\nGET\r\n$1\r\nk\r\n$1\r\nk\n\r"), 0, crlf, 0, NULL},
        {LIT("*3\r\n$3\r\nGET\r\n$1\r\nk\r\n$1\r\nkX\n"), 0, crlf, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$1\r\nk\rX*1\r\n$1\r\nk\r\n"), 0, crlf, 0,
         NULL},
        {LIT("*3\r\n$3\r\nGET\r\n$1\r\nk\r\n$1\r\nk\r"), 0, NULL, 27, NULL},
        {LIT("*3\r\n$3\r\nGET\r\n$1\r\nk\r\n$1\r\n"), 0, NULL, 27, NULL},
        {LIT("*3\r\n$3\r\nGET\r\n$1\r\nk\r\n$1\r"), 0, NULL, 24, NULL},
        {LIT("*3\r\n$3\r\nGET\r\n$1\r\nk\r\n"), 0, NULL, 21, NULL},
        {LIT("*3\r\n"), 0, NULL, 5, NULL},
        {LIT("*3\r"), 0, NULL, 4, NULL},
        {LIT("*3\r\n$5\r\nabcde\r\n$0\r\n\r\n$1\r\nx\r\n"), 3, NULL, 0, &small},
        {LIT("*3\r\n$5\r\nabcde\r\n$1\r\nx\r\n$6\r\nabcdef\r\n"), 0, b_len, 0,
         &small},
        {LIT("*4\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n"), 0, mb_len,
         0, &small},
        /* Lengths of one, two and three digits, and lines that look like
         * them up to a byte: the short header path must judge each one as
         * the general path does. */
        {LIT("*2\r\n$4\r\nECHO\r\n$9\r\n012345678\r\n"), 2, NULL, 0,
         NULL},
        {LIT("*2\r\n$4\r\nECHO\r\n$10\r\n0123456789\r\n"), 2, NULL, 0,
         NULL},
        {LIT("*2\r\n$4\r\nECHO\r\n$99\r\n" HUNDRED_BYTES_BUT_ONE "\r\n"),
         2, NULL, 0, NULL},
        {LIT("*2\r\n$4\r\nECHO\r\n$100\r\n" HUNDRED_BYTES "\r\n"), 2,
         NULL, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$1\n\rk\r\n"), 0, b_len, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$1\r\r\nk\r\n"), 0, b_len, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$1\0\r\nk\r\n"), 0, b_len, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$1:\r\nk\r\n"), 0, b_len, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$1/\r\nk\r\n"), 0, b_len, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$:\r\nk\r\n"), 0, b_len, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$/\r\nk\r\n"), 0, b_len, 0, NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$12\n\rabcdefghijkl\r\n"), 0, b_len, 0,
         NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$12\r\rabcdefghijkl\r\n"), 0, b_len, 0,
         NULL},
        {LIT("*2\r\n$3\r\nGET\r\n$1:\r\nabcdefghijkl\r\n"), 0, b_len, 0,
         NULL},
        {LIT("*2\n$3\r\nGET\r\n$1\r\nk\r\n"), 0, mb_len, 0, NULL},
        {LIT("*2:\r\n$3\r\nGET\r\n$1\r\nk\r\n"), 0, mb_len, 0, NULL},
        {LIT("*1\r\n$1\r\nk"), 0, NULL, 11, NULL},
        {LIT("*1\r\n$12\r\n"), 0, NULL, 23, NULL},
        /* 18 digits are read in one pass, 19 by the general path. */
        {LIT("*1\r\n$999999999999999999\r\nab"), 0, NULL,
         25 + 999999999999999999u + 2, &open},
        {LIT("*1\r\n$1111111111111111111\r\nab"), 0, NULL,
         26 + 1111111111111111111u + 2, &open},
        {LIT("*1111111111111111111\r\n$1\r\na\r\n"), 0, NULL, 30, &open},
    };
    const char *prefix = "*1\r\n$4\r\nPING\r\n";
    const char *suffix = "*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n";
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bytes s = {0}, t = {0};
        bytes_add(&s, prefix, strlen(prefix));
        note_ok(&t, strlen(prefix), 1, (const char *const[]){"PING"},
                (const size_t[]){4});
        bytes_add(&s, cases[i].in, cases[i].len);
        if (cases[i].argc > 0) {
            /* The arguments, read back from the request by hand. */
            const char *args[3];
            size_t lens[3], at = 0;
            assert_true(cases[i].argc <= 3);
            while (cases[i].in[at] != '\n')
                at++;
            for (size_t a = 0; a < cases[i].argc; a++) {
                lens[a] = strtoul(cases[i].in + at + 2, NULL, 10);
                while (cases[i].in[++at] != '\n')
                    ;
                args[a] = cases[i].in + at + 1;
                at += lens[a] + 2;
            }
            note_ok(&t, cases[i].len, cases[i].argc, args, lens);
            bytes_add(&s, suffix, strlen(suffix));
            note_ok(&t, strlen(suffix), 2, (const char *const[]){"ECHO", "hi"},
                    (const size_t[]){4, 2});
        } else if (cases[i].msg != NULL) {
            bytes_add(&s, suffix, strlen(suffix));
            bytes_printf(&t, "ERR %s\n", cases[i].msg);
        } else {
            bytes_printf(&t, "AGAIN want=%zu\n", cases[i].want);
        }
        check_all_feeds(s.buf, s.len, cases[i].lim, t.buf);
        bytes_free(&s);
        bytes_free(&t);
    }
}

/*
 * Whole requests of every size around argv's reservations, each parsed
 * twice in a row: the arguments and the slots argv ends up with must be
 * those of the same requests parsed from a first read of the header alone.
 */
static void test_whole_request_argv(void **state)
{
    (void)state;
    static const size_t counts[] = {1, 2, 7, 8, 9, 63, 64, 65, 128, 129, 1000};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        size_t n = counts[c];
        struct bytes req = {0};
        bytes_printf(&req, "*%zu\r\n", n);
        size_t header = req.len;
        for (size_t i = 0; i < n; i++) {
            char arg[16];
            int len = snprintf(arg, sizeof(arg), "a%zu", i * 7);
            bytes_printf(&req, "$%d\r\n%s\r\n", len, arg);
        }
        struct resp_parser whole, pieces;
        resp_parser_init(&whole, NULL);
        resp_parser_init(&pieces, NULL);
        for (int round = 0; round < 2; round++) {
            size_t used_w = 0, used_p = 0;
            assert_int_equal(parse_once(&whole, req.buf, req.len, &used_w),
                             RESP_OK);
            assert_int_equal(parse_once(&pieces, req.buf, header, &used_p),
                             RESP_AGAIN);
            assert_int_equal(parse_once(&pieces, req.buf, req.len, &used_p),
                             RESP_OK);
            assert_int_equal(used_w, req.len);
            assert_int_equal(used_p, req.len);
            assert_int_equal(whole.argc, n);
            assert_int_equal(pieces.argc, n);
            assert_int_equal(whole.argv_cap, pieces.argv_cap);
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(whole.argv[i].off, pieces.argv[i].off);
                assert_int_equal(whole.argv[i].len, pieces.argv[i].len);
            }
            assert_int_equal(resp_parser_want(&whole), 1);
        }
        resp_parser_deinit(&whole);
        resp_parser_deinit(&pieces);
        bytes_free(&req);
    }
}

static void test_error_is_sticky(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t used = 7;
    assert_int_equal(parse_once(&p, LIT("*x\r\n"), &used), RESP_EPROTO);
    assert_int_equal(used, 0);
    assert_string_equal(p.err, "Protocol error: invalid multibulk length");
    assert_int_equal(resp_parser_want(&p), 0);
    /* Even a good request is refused until the parser is reset. */
    assert_int_equal(parse_once(&p, LIT("PING\r\n"), &used), RESP_EPROTO);
    assert_string_equal(p.err, "Protocol error: invalid multibulk length");
    resp_parser_reset(&p);
    assert_string_equal(p.err, "");
    assert_int_equal(parse_once(&p, LIT("PING\r\n"), &used), RESP_OK);
    assert_int_equal(used, 6);
    resp_parser_deinit(&p);
}

static void test_limits_boundaries(void **state)
{
    (void)state;
    const struct resp_limits small = {.max_bulk_len = 5, .max_array_len = 3,
                                      .max_inline_len = 16};
    struct {
        const char *in;
        size_t argc;
    } ok[] = {
        {"*3\r\n$5\r\nabcde\r\n$0\r\n\r\n$1\r\nx\r\n", 3},
        {"0123456789abcdef\n", 1},    /* 16 bytes before '\n' */
        {"0123456789abcde\r\n", 1},   /* 16 with the '\r' */
        {"a b c\n", 3},
        {"\"0123456789abcd\"\n", 1},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        struct resp_parser p;
        resp_parser_init(&p, &small);
        size_t used = 0;
        size_t n = strlen(ok[i].in);
        assert_int_equal(parse_once(&p, ok[i].in, n, &used), RESP_OK);
        assert_int_equal(used, n);
        assert_int_equal(p.argc, ok[i].argc);
        resp_parser_deinit(&p);
    }

    /* The largest default bulk is accepted and waited for. */
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t used = 0;
    assert_int_equal(parse_once(&p, LIT("*1\r\n$536870912\r\n"), &used),
                     RESP_AGAIN);
    assert_int_equal(resp_parser_want(&p), 16 + 536870912u + 2);
    resp_parser_deinit(&p);

    /* As is the largest default array. */
    resp_parser_init(&p, NULL);
    assert_int_equal(parse_once(&p, LIT("*1048576\r\n"), &used), RESP_AGAIN);
    assert_int_equal(resp_parser_want(&p), 11);
    resp_parser_deinit(&p);
}

static void test_huge_bulk_header_refused(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t used = 0;
    assert_int_equal(parse_once(&p, LIT("*1\r\n$2147483648\r\n"), &used),
                     RESP_EPROTO);
    assert_string_equal(p.err, "Protocol error: invalid bulk length");
    /* Nothing was sized after the claim: argv holds the minimum, and the
     * caller is not asked for any more bytes. */
    assert_true(p.argv_cap <= 8);
    assert_int_equal(resp_parser_want(&p), 0);
    resp_parser_deinit(&p);

    /* Refused as soon as the line is complete, with no data behind it. */
    resp_parser_init(&p, NULL);
    assert_int_equal(parse_once(&p, LIT("*1\r\n$2147483648\r"), &used),
                     RESP_AGAIN);
    assert_int_equal(parse_once(&p, LIT("*1\r\n$2147483648\r\n"), &used),
                     RESP_EPROTO);
    resp_parser_deinit(&p);
}

/*
 * A header that claims a million arguments allocates for 64; argv then grows
 * by doubling as arguments arrive, and ends at exactly the count.
 */
static void test_huge_array_grows_with_data(void **state)
{
    (void)state;
    enum { N = 1000000 };
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t used = 0;
    assert_int_equal(parse_once(&p, LIT("*1000000\r\n"), &used), RESP_AGAIN);
    assert_int_equal(p.argv_cap, 64);
    assert_int_equal(resp_parser_want(&p), 11);

    struct bytes s = {0};
    bytes_add(&s, LIT("*1000000\r\n"));
    for (size_t i = 0; i < N; i++) {
        char c = (char)('a' + i % 26);
        bytes_add(&s, LIT("$1\r\n"));
        bytes_add(&s, &c, 1);
        bytes_add(&s, LIT("\r\n"));
    }
    /* 1000 arguments in: at most twice that many slots. */
    size_t thousand = 10 + 1000 * 7;
    assert_int_equal(resp_parse(&p, s.buf, thousand, &used), RESP_AGAIN);
    assert_int_equal(p.argc, 1000);
    assert_true(p.argv_cap >= 1000 && p.argv_cap <= 2000);

    /* The rest in 64 KiB reads, as a server would. */
    size_t len = thousand;
    enum resp_status st;
    do {
        len = len + 65536 < s.len ? len + 65536 : s.len;
        st = resp_parse(&p, s.buf, len, &used);
        if (st == RESP_AGAIN)
            assert_true(p.argv_cap <= 2 * p.argc);
    } while (st == RESP_AGAIN);
    assert_int_equal(st, RESP_OK);
    assert_int_equal(used, s.len);
    assert_int_equal(p.argc, N);
    assert_int_equal(p.argv_cap, N);
    for (size_t i = 0; i < N; i += 99991) {
        char c = (char)('a' + i % 26);
        assert_int_equal(p.argv[i].off, 10 + i * 7 + 4);
        assert_arg(&p, s.buf, i, &c, 1);
    }
    resp_parser_deinit(&p);
    bytes_free(&s);
}

static void test_inline_argv_grows(void **state)
{
    (void)state;
    struct bytes s = {0};
    for (size_t i = 0; i < 3000; i++)
        bytes_printf(&s, "a%zu ", i);
    bytes_add(&s, LIT("\r\n"));
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t used = 0;
    assert_int_equal(resp_parse(&p, s.buf, s.len, &used), RESP_OK);
    assert_int_equal(used, s.len);
    assert_int_equal(p.argc, 3000);
    assert_true(p.argv_cap >= 3000 && p.argv_cap <= 6000);
    assert_arg(&p, s.buf, 2999, LIT("a2999"));
    resp_parser_deinit(&p);
    bytes_free(&s);
}

/* want() after each prefix of one request, worked out by hand. */
static void test_want_values(void **state)
{
    (void)state;
    /* "*2\r\n" 0-3, "$3\r\n" 4-7, "GET\r\n" 8-12, "$5\r\n" 13-16,
     * "hello\r\n" 17-23. */
    char req[] = "*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n";
    static const size_t want[] = {
        1,                           /* nothing yet */
        2, 3, 4,                     /* in "*2\r\n" */
        5, 6, 7, 8,                  /* at and in "$3\r\n" */
        13, 13, 13, 13, 13,          /* "GET" and its CRLF */
        14, 15, 16, 17,              /* at and in "$5\r\n" */
        24, 24, 24, 24, 24, 24, 24,  /* "hello" and its CRLF */
    };
    assert_int_equal(sizeof(want) / sizeof(want[0]), sizeof(req) - 1);
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    assert_int_equal(resp_parser_want(&p), 1);
    size_t used;
    for (size_t len = 0; len < sizeof(req) - 1; len++) {
        assert_int_equal(resp_parse(&p, req, len, &used), RESP_AGAIN);
        assert_int_equal(resp_parser_want(&p), want[len]);
    }
    assert_int_equal(resp_parse(&p, req, sizeof(req) - 1, &used), RESP_OK);
    assert_int_equal(used, sizeof(req) - 1);
    assert_int_equal(resp_parser_want(&p), 1);

    /* Inline: one more byte each time. */
    char pin[] = "PIN";
    assert_int_equal(resp_parse(&p, pin, 3, &used), RESP_AGAIN);
    assert_int_equal(resp_parser_want(&p), 4);
    resp_parser_deinit(&p);
}

/* A big value arrives in reads sized by want(), in a buffer that moves. */
static void test_big_value_moving_buffer(void **state)
{
    (void)state;
    enum { VLEN = 1 << 20 };
    struct bytes s = {0};
    bytes_printf(&s, "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$%d\r\n", VLEN);
    size_t value_off = s.len;
    for (size_t i = 0; i < VLEN; i++) {
        char c = (char)(i * 31);
        bytes_add(&s, &c, 1);
    }
    bytes_add(&s, LIT("\r\n"));

    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t len = 0, used = 0, calls = 0;
    enum resp_status st;
    char *buf = NULL;
    for (;;) {
        /* A new buffer each call, as if the caller reallocated it. */
        free(buf);
        buf = malloc(len ? len : 1);
        assert_non_null(buf);
        memcpy(buf, s.buf, len);
        st = resp_parse(&p, buf, len, &used);
        calls++;
        if (st != RESP_AGAIN)
            break;
        size_t want = resp_parser_want(&p);
        assert_true(want > len && want <= s.len);
        len = len + 1000 > want ? len + 1000 : want;
        if (len > s.len)
            len = s.len;
    }
    assert_int_equal(st, RESP_OK);
    assert_int_equal(used, s.len);
    assert_int_equal(p.argc, 3);
    assert_int_equal(p.argv[2].off, value_off);
    assert_arg(&p, buf, 2, s.buf + value_off, VLEN);
    /* Once the header was in, want() asked for the whole value at once. */
    assert_true(calls < 40);
    free(buf);
    resp_parser_deinit(&p);
    bytes_free(&s);
}

static void test_reset(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    size_t used;
    assert_int_equal(parse_once(&p, LIT("*2\r\n$3\r\nGET\r\n$1"), &used),
                     RESP_AGAIN);
    assert_int_equal(p.argc, 1);
    resp_parser_reset(&p);
    assert_int_equal(p.argc, 0);
    assert_int_equal(resp_parser_want(&p), 1);
    /* The next bytes are a new request, inline this time. */
    assert_int_equal(parse_once(&p, LIT("GET k\r\n"), &used), RESP_OK);
    assert_int_equal(used, 7);
    assert_int_equal(p.argc, 2);
    assert_arg(&p, "GET k\r\n", 1, LIT("k"));

    /* Reset in the middle of a bulk, then a multibulk request. */
    assert_int_equal(parse_once(&p, LIT("*1\r\n$100\r\nabc"), &used),
                     RESP_AGAIN);
    assert_int_equal(resp_parser_want(&p), 110 + 2);
    resp_parser_reset(&p);
    assert_int_equal(parse_once(&p, LIT("*1\r\n$4\r\nPING\r\n"), &used),
                     RESP_OK);
    assert_int_equal(used, 14);
    assert_int_equal(p.argc, 1);
    resp_parser_deinit(&p);
}

static void test_deinit_and_reinit(void **state)
{
    (void)state;
    struct resp_parser p;
    resp_parser_init(&p, NULL);
    resp_parser_deinit(&p); /* nothing was allocated */
    assert_null(p.argv);

    resp_parser_init(&p, NULL);
    size_t used;
    assert_int_equal(parse_once(&p, LIT("*1\r\n$4\r\nPING\r\n"), &used),
                     RESP_OK);
    assert_non_null(p.argv);
    resp_parser_deinit(&p);
    assert_null(p.argv);
    assert_int_equal(p.argv_cap, 0);
    assert_int_equal(p.argc, 0);

    resp_parser_init(&p, NULL);
    assert_int_equal(parse_once(&p, LIT("ECHO hi\n"), &used), RESP_OK);
    assert_arg(&p, "ECHO hi\n", 1, LIT("hi"));
    resp_parser_deinit(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limits_default),
        cmocka_unit_test(test_get_one_shot),
        cmocka_unit_test(test_trailing_bytes_left_alone),
        cmocka_unit_test(test_next_call_clears_result),
        cmocka_unit_test(test_empty_arrays),
        cmocka_unit_test(test_binary_safe_args),
        cmocka_unit_test(test_inline_forms),
        cmocka_unit_test(test_inline_quoted_offsets),
        cmocka_unit_test(test_inline_escapes),
        cmocka_unit_test(test_split_everywhere),
        cmocka_unit_test(test_pipeline_many),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_whole_requests_as_pieces),
        cmocka_unit_test(test_whole_request_argv),
        cmocka_unit_test(test_error_is_sticky),
        cmocka_unit_test(test_limits_boundaries),
        cmocka_unit_test(test_huge_bulk_header_refused),
        cmocka_unit_test(test_huge_array_grows_with_data),
        cmocka_unit_test(test_inline_argv_grows),
        cmocka_unit_test(test_want_values),
        cmocka_unit_test(test_big_value_moving_buffer),
        cmocka_unit_test(test_reset),
        cmocka_unit_test(test_deinit_and_reinit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
