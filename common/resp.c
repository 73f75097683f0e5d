/*
 * This file implements the incremental RESP2 request parser declared in
 * resp.h: the server side of the Redis protocol, turning the bytes a client
 * sent into an argument vector without copying them elsewhere.
 *
 * A request is either a multibulk array (`*<n>\r\n` followed by n bulk
 * strings `$<len>\r\n<bytes>\r\n`) or an inline command (one line split on
 * blanks, as typed into telnet). The parser is a small state machine whose
 * progress lives in struct resp_parser, so a request that arrives a few bytes
 * at a time is scanned once: a finished argument is never looked at again,
 * and a header line being waited for is searched only from where the last
 * call stopped. A multibulk request found whole in the first call, with
 * plain-digit headers, is parsed in one pass instead, without the state
 * between arguments; any other request, or any doubt, leaves it to the state
 * machine from its first byte, so its bytes are then scanned at most twice.
 *
 * Every number is checked against the limits before it is used, and every
 * line the parser waits for has a maximum length, so a client can make the
 * caller buffer at most max_bulk_len (plus a header) for one argument and can
 * never make the parser allocate more than one resp_arg per argument it has
 * actually sent. Error messages follow Redis's wording, because the server
 * sends them back as "-ERR <message>".
 *
 * Inline lines are split and unquoted by the rules of Redis's sdssplitargs(),
 * so a telnet user gets the same arguments from both servers: blanks
 * separate arguments (though only a space, tab or CR ends a bare word, so \v
 * and \f may be inside one); a double-quoted section decodes \n \r \t \b \a and
 * \xHH, and a backslash before any other byte yields that byte; a
 * single-quoted section decodes only \'; a quote may follow the start of a
 * bare word, which then continues inside the quotes; and a closing quote must
 * be followed by a blank or the end of the line. The one difference is a raw
 * NUL byte in the line, an ordinary byte here where Redis never finds the
 * line's end. A line is split only once its '\n' has arrived, in two passes:
 * the first checks every argument and computes where its decoded bytes will
 * lie (so a malformed line is refused without touching the buffer), and the
 * second, only when some argument differs from its bytes, writes the decoded
 * bytes over the argument's own, which are never fewer.
 */
#include "resp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Longest `*<n>` or `$<len>` line, '\r' included: a sign and 19 digits fit
 * with room to spare. A client that sends more without a newline is refused,
 * so a stream of digits cannot grow the caller's buffer without bound.
 */
#define RESP_HEADER_MAX 64

/* Digits the fast header path parses: 18 cannot overflow int64_t. */
#define RESP_FAST_DIGITS 18

/* Arguments reserved when a multibulk header arrives, whatever it claims. */
#define RESP_ARGV_FIRST 64

/* Smallest argv allocation, so tiny requests do not realloc repeatedly. */
#define RESP_ARGV_MIN 8

enum resp_state {
    ST_START = 0, /* nothing of the request seen yet */
    ST_INLINE,    /* looking for the '\n' ending an inline line */
    ST_MB_HEADER, /* looking for the '\n' ending `*<n>` */
    ST_BULK_HEADER, /* looking for the '\n' ending `$<len>` */
    ST_BULK_DATA, /* waiting for <len> bytes and "\r\n" */
    ST_ERROR,     /* a protocol error was reported; only reset helps */
};

struct resp_limits resp_limits_default(void)
{
    struct resp_limits l = {
        .max_bulk_len = (size_t)512 * 1024 * 1024,
        .max_array_len = (size_t)1024 * 1024,
        .max_inline_len = (size_t)64 * 1024,
    };
    return l;
}

void resp_parser_init(struct resp_parser *p, const struct resp_limits *limits)
{
    memset(p, 0, sizeof(*p));
    p->limits = limits != NULL ? *limits : resp_limits_default();
    resp_parser_reset(p);
}

void resp_parser_deinit(struct resp_parser *p)
{
    free(p->argv);
    p->argv = NULL;
    p->argv_cap = 0;
    p->argc = 0;
    resp_parser_reset(p);
}

void resp_parser_reset(struct resp_parser *p)
{
    p->argc = 0;
    p->state = ST_START;
    p->pos = 0;
    p->line = 0;
    p->multibulk = 0;
    p->bulk = -1;
    p->err[0] = '\0';
}

/*
 * Records a protocol error: the message is kept in p->err and the parser
 * stays in the error state (every later call fails the same way) until it is
 * reset. Always returns RESP_EPROTO.
 */
static enum resp_status fail(struct resp_parser *p, const char *msg)
{
    snprintf(p->err, sizeof(p->err), "%s", msg);
    p->state = ST_ERROR;
    return RESP_EPROTO;
}

/*
 * Makes room for at least `need` arguments, keeping those already parsed.
 * Returns 0, or -1 when memory is exhausted (argv is then unchanged).
 */
static int argv_reserve(struct resp_parser *p, size_t need)
{
    if (need <= p->argv_cap)
        return 0;
    if (need > SIZE_MAX / sizeof(*p->argv))
        return -1;
    struct resp_arg *argv = realloc(p->argv, need * sizeof(*p->argv));
    if (argv == NULL)
        return -1;
    p->argv = argv;
    p->argv_cap = need;
    return 0;
}

/*
 * Appends one argument, doubling argv when it is full but never beyond
 * `most`, the number of arguments the request can still have in total
 * (already parsed ones included). Returns 0, or -1 when memory is exhausted.
 */
static int argv_push(struct resp_parser *p, size_t off, size_t len, size_t most)
{
    if (p->argc == p->argv_cap) {
        size_t grow = p->argv_cap < RESP_ARGV_MIN / 2 ? RESP_ARGV_MIN
                                                      : p->argv_cap * 2;
        if (grow > most)
            grow = most;
        if (grow <= p->argc || argv_reserve(p, grow) != 0)
            return -1;
    }
    p->argv[p->argc].off = off;
    p->argv[p->argc].len = len;
    p->argc++;
    return 0;
}

/*
 * Parses the decimal number in s[0, n) the way Redis's string2ll does:
 * an optional '-' and at least one digit, no leading zeros ("0" itself is
 * fine), no other characters, and no overflow of int64_t. Returns 0 and sets
 * *out, or -1.
 */
static int parse_number(const char *s, size_t n, int64_t *out)
{
    int negative = 0;
    if (n > 0 && s[0] == '-') {
        negative = 1;
        s++;
        n--;
    }
    if (n == 0 || s[0] < '0' || s[0] > '9')
        return -1;
    if (s[0] == '0') {
        if (n != 1 || negative)
            return -1;
        *out = 0;
        return 0;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (v > (uint64_t)INT64_MAX)
        return -1;
    *out = negative ? -(int64_t)v : (int64_t)v;
    return 0;
}

/*
 * Reads the header line whose type byte is buf[line] when it has the common
 * form: 1 to 18 digits, the first not '0', then "\r\n", all before buf[len).
 * The number is parsed while scanning (18 digits cannot overflow). Returns
 * the offset after the line and sets *value, or returns 0 for any other line
 * (longer, signed, zero, malformed or incomplete), which read_header()'s
 * general path then judges.
 *
 * One or two digits, the lengths of most names, keys and counts, are
 * accepted before the loop when four bytes follow the type byte; every
 * other line goes through the loop, which alone decides what to refuse.
 */
static inline size_t read_header_fast(const char *buf, size_t line,
                                      size_t len, uint64_t *value)
{
    size_t i = line + 1;
    if (i + 4 <= len && buf[i] >= '1' && buf[i] <= '9') {
        uint64_t d0 = (uint64_t)(buf[i] - '0');
        if (memcmp(buf + i + 1, "\r\n", 2) == 0) {
            *value = d0;
            return i + 3;
        }
        unsigned d1 = (unsigned char)buf[i + 1] - (unsigned)'0';
        if (d1 <= 9 && memcmp(buf + i + 2, "\r\n", 2) == 0) {
            *value = d0 * 10 + d1;
            return i + 4;
        }
    }
    size_t lim = len < i + RESP_FAST_DIGITS ? len : i + RESP_FAST_DIGITS;
    if (i >= lim || buf[i] < '1' || buf[i] > '9')
        return 0;
    uint64_t v = (uint64_t)(buf[i++] - '0');
    while (i < lim && (unsigned char)(buf[i] - '0') <= 9)
        v = v * 10 + (uint64_t)(buf[i++] - '0');
    if (i + 1 >= len || buf[i] != '\r' || buf[i + 1] != '\n')
        return 0;
    *value = v;
    return i + 2;
}

/*
 * Looks for the '\n' ending the header line that starts at p->line, searching
 * only bytes not examined before. On success returns 0 and sets *value to
 * the number between the type byte and "\r\n"; *next is the offset after the
 * line. Returns 1 when more bytes are needed (p->pos then covers everything
 * examined), or -1 when the line is too long (message `too_big`) or its
 * number is malformed (message `invalid`), with the error recorded.
 */
static int read_header(struct resp_parser *p, const char *buf, size_t len,
                       const char *too_big, const char *invalid,
                       int64_t *value, size_t *next)
{
    /* The common case first; anything else takes the general path. */
    if (p->pos == p->line) {
        uint64_t v;
        size_t after = read_header_fast(buf, p->line, len, &v);
        if (after != 0) {
            *value = (int64_t)v;
            *next = after;
            return 0;
        }
    }
    size_t end = len;
    if (end - p->line > RESP_HEADER_MAX)
        end = p->line + RESP_HEADER_MAX + 1;
    const char *nl = NULL;
    if (p->pos < end)
        nl = memchr(buf + p->pos, '\n', end - p->pos);
    if (nl == NULL) {
        if (len - p->line > RESP_HEADER_MAX) {
            fail(p, too_big);
            return -1;
        }
        p->pos = len;
        return 1;
    }
    size_t at = (size_t)(nl - buf);
    /* The line is buf[line] (the type byte), the number, then "\r\n". */
    if (at < p->line + 2 || buf[at - 1] != '\r' ||
        parse_number(buf + p->line + 1, at - 1 - (p->line + 1), value) != 0) {
        fail(p, invalid);
        return -1;
    }
    *next = at + 1;
    return 0;
}

/*
 * Makes the parser ready for the next request after one finished at `used`
 * bytes: argc/argv keep the result for the caller.
 */
static enum resp_status finish(struct resp_parser *p, size_t used,
                               size_t *used_out)
{
    p->state = ST_START;
    p->pos = 0;
    p->line = 0;
    p->multibulk = 0;
    p->bulk = -1;
    *used_out = used;
    return RESP_OK;
}

/*
 * Reports that byte c was found where a bulk header's '$' should be, in
 * Redis's words; bytes that would garble a one-line reply are shown as \xHH.
 */
static enum resp_status fail_expected_dollar(struct resp_parser *p, char c)
{
    unsigned char u = (unsigned char)c;
    if (u >= 0x20 && u < 0x7f)
        snprintf(p->err, sizeof(p->err),
                 "Protocol error: expected '$', got '%c'", c);
    else
        snprintf(p->err, sizeof(p->err),
                 "Protocol error: expected '$', got '\\x%02x'", u);
    p->state = ST_ERROR;
    return RESP_EPROTO;
}

/*
 * The argv slots reserved when a multibulk header claims n > 0 arguments:
 * the header is only a claim, so this is what is likely, not n itself.
 */
static size_t argv_first(uint64_t n)
{
    return n < RESP_ARGV_MIN     ? RESP_ARGV_MIN
           : n < RESP_ARGV_FIRST ? (size_t)n
                                 : RESP_ARGV_FIRST;
}

/*
 * Continues a multibulk request from wherever the parser stopped, up to
 * buf[len). Returns RESP_OK with the whole request parsed, RESP_AGAIN with
 * all of buf[0, len) accounted for in the parser's state, or RESP_EPROTO.
 */
static enum resp_status parse_multibulk(struct resp_parser *p, const char *buf,
                                        size_t len, size_t *used)
{
    int64_t n;
    size_t next;
    int rc;

    for (;;) {
        switch (p->state) {
        case ST_MB_HEADER:
            rc = read_header(p, buf, len,
                             "Protocol error: too big mbulk count string",
                             "Protocol error: invalid multibulk length", &n,
                             &next);
            if (rc != 0)
                return rc > 0 ? RESP_AGAIN : RESP_EPROTO;
            if (n <= 0)
                return finish(p, next, used); /* *0 and *-1: nothing */
            if ((uint64_t)n > p->limits.max_array_len)
                return fail(p, "Protocol error: invalid multibulk length");
            if (argv_reserve(p, argv_first((uint64_t)n)) != 0)
                return fail(p, "out of memory parsing the request");
            p->multibulk = n;
            p->pos = p->line = next;
            p->state = ST_BULK_HEADER;
            break;

        case ST_BULK_HEADER:
            if (p->line >= len)
                return RESP_AGAIN;
            if (buf[p->line] != '$')
                return fail_expected_dollar(p, buf[p->line]);
            rc = read_header(p, buf, len,
                             "Protocol error: too big bulk count string",
                             "Protocol error: invalid bulk length", &n, &next);
            if (rc != 0)
                return rc > 0 ? RESP_AGAIN : RESP_EPROTO;
            if (n < 0 || (uint64_t)n > p->limits.max_bulk_len ||
                (uint64_t)n > SIZE_MAX - 2 - next)
                return fail(p, "Protocol error: invalid bulk length");
            p->bulk = n;
            p->pos = next;
            p->state = ST_BULK_DATA;
            break;

        default: { /* ST_BULK_DATA */
            size_t blen = (size_t)p->bulk;
            if (len < p->pos || len - p->pos < blen + 2)
                return RESP_AGAIN;
            size_t end = p->pos + blen;
            if (buf[end] != '\r' || buf[end + 1] != '\n')
                return fail(p, "Protocol error: bulk data not followed by CRLF");
            size_t most = p->argc + (size_t)p->multibulk;
            if (argv_push(p, p->pos, blen, most) != 0)
                return fail(p, "out of memory parsing the request");
            p->pos = p->line = end + 2;
            p->bulk = -1;
            if (--p->multibulk == 0)
                return finish(p, p->pos, used);
            p->state = ST_BULK_HEADER;
            break;
        }
        }
    }
}

/*
 * Parses, in one pass, a multibulk request that starts at buf[0] and lies
 * wholly in buf[0, len), when its count and every bulk length are headers
 * read_header_fast() reads, within the limits, and argv already has a slot
 * for every argument once the reservation parse_multibulk() makes for the
 * count is made. This is the common request of a client that sends whole
 * commands, and the result is the one parse_multibulk() would give: the
 * same checks in the same order, only without the state kept between
 * arguments. Returns 1 with the parser as finish() leaves it (RESP_OK,
 * *used set), or 0 for any other request: then only argv's slots beyond
 * argc may have been written (and argv reserved as parse_multibulk()
 * reserves it anyway), so parse_multibulk() parses the request from its
 * first byte and reports whatever is wrong or missing exactly as it would
 * have.
 */
static int parse_multibulk_whole(struct resp_parser *p, const char *buf,
                                 size_t len, size_t *used)
{
    uint64_t n, blen;
    size_t pos = read_header_fast(buf, 0, len, &n);
    if (pos == 0 || n > p->limits.max_array_len)
        return 0;
    /* When n fits, argv already holds argv_first(n) slots: argv_cap is 0
     * or at least RESP_ARGV_MIN, so argv_reserve() would do nothing. */
    if (n > p->argv_cap &&
        (argv_reserve(p, argv_first(n)) != 0 || n > p->argv_cap))
        return 0;
    struct resp_arg *argv = p->argv;
    const uint64_t max_bulk = p->limits.max_bulk_len;
    for (size_t i = 0; i < n; i++) {
        if (pos >= len || buf[pos] != '$')
            return 0;
        size_t data = read_header_fast(buf, pos, len, &blen);
        if (data == 0 || blen > max_bulk)
            return 0;
        /* data <= len, and blen + 2 cannot wrap (18 digits at most). */
        if (blen + 2 > len - data)
            return 0;
        size_t end = data + (size_t)blen;
        if (memcmp(buf + end, "\r\n", 2) != 0)
            return 0;
        argv[i].off = data;
        argv[i].len = (size_t)blen;
        pos = end + 2;
    }
    /* In ST_START the progress fields already hold what finish() sets. */
    p->argc = (size_t)n;
    *used = pos;
    return 1;
}

/* Bytes skipped between inline arguments: isspace() in the C locale. */
static int is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' ||
           c == '\f';
}

/* Bytes that end a bare inline word: fewer than is_blank(), as in Redis. */
static int ends_word(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* The value of hex digit c (either case), or -1. */
static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/*
 * Decodes the escape whose backslash is just before s[0], with n >= 1 bytes
 * of the line left from s, as Redis does inside double quotes: \n \r \t \b
 * \a, \xHH (two hex digits, else it is a plain 'x'), and any other byte for
 * itself. Returns the byte and sets *step to the escape's length.
 */
static char unescape(const char *s, size_t n, size_t *step)
{
    int hi, lo;
    *step = 2;
    switch (s[0]) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    case 'x':
        if (n >= 3 && (hi = hex_value(s[1])) >= 0 &&
            (lo = hex_value(s[2])) >= 0) {
            *step = 4;
            return (char)(hi * 16 + lo);
        }
        return 'x';
    default: return s[0];
    }
}

/* Returned by inline_arg() for a quote that is not closed where it must. */
#define INLINE_UNBALANCED SIZE_MAX

/*
 * Reads the inline argument that starts at buf[i] (not a blank) in the line
 * buf[0, end): a bare word, possibly ending in one quoted section. Sets *off
 * and *len to where its decoded bytes lie: the word's own bytes stay put and
 * the decoded section follows them, so *off is i, or i + 1 when the argument
 * is all quoted. Sets *changed when those bytes differ from the line's.
 * When `write` is set the decoded bytes are stored there (each over a byte
 * already read); otherwise the line is only read. Returns the offset after
 * the argument, or INLINE_UNBALANCED.
 */
static size_t inline_arg(char *buf, size_t i, size_t end, int write,
                         size_t *off, size_t *len, int *changed)
{
    size_t start = i;
    while (i < end && !ends_word(buf[i]) && buf[i] != '"' && buf[i] != '\'')
        i++;
    if (i == end || ends_word(buf[i])) {
        *off = start;
        *len = i - start;
        return i;
    }
    char q = buf[i];
    size_t w; /* where the next decoded byte goes */
    if (i == start) {
        *off = w = i + 1; /* all quoted: decoded where the contents start */
    } else {
        *off = start; /* the quoted tail moves back over the quote */
        w = i;
        *changed = 1;
    }
    for (size_t r = i + 1; r < end;) {
        char c = buf[r];
        size_t step = 1;
        if (c == q) {
            if (r + 1 < end && !is_blank(buf[r + 1]))
                return INLINE_UNBALANCED;
            *len = w - *off;
            return r + 1;
        }
        if (c == '\\' && r + 1 < end && q == '"') {
            c = unescape(buf + r + 1, end - r - 1, &step);
            *changed = 1;
        } else if (c == '\\' && r + 1 < end && buf[r + 1] == '\'') {
            c = '\''; /* the only escape in single quotes */
            step = 2;
            *changed = 1;
        }
        if (write)
            buf[w] = c;
        w++;
        r += step;
    }
    return INLINE_UNBALANCED;
}

/*
 * Splits the inline line buf[0, end) (its "\r\n" or "\n" already removed)
 * into arguments as Redis's sdssplitargs() would, decoding in place those
 * that need it once the whole line is known to be valid. Returns RESP_OK or
 * RESP_EPROTO (with the line untouched).
 */
static enum resp_status split_inline(struct resp_parser *p, char *buf,
                                     size_t end)
{
    int changed = 0;
    size_t off, n, i = 0;

    for (;;) {
        while (i < end && is_blank(buf[i]))
            i++;
        if (i == end)
            break;
        i = inline_arg(buf, i, end, 0, &off, &n, &changed);
        if (i == INLINE_UNBALANCED)
            return fail(p, "Protocol error: unbalanced quotes in request");
        if (p->argc >= p->limits.max_array_len)
            return fail(p, "Protocol error: too many arguments in inline request");
        if (argv_push(p, off, n, SIZE_MAX) != 0)
            return fail(p, "out of memory parsing the request");
    }
    if (!changed)
        return RESP_OK;
    /* The same walk again, storing what the first one measured. */
    i = 0;
    for (size_t a = 0; a < p->argc; a++) {
        while (i < end && is_blank(buf[i]))
            i++;
        i = inline_arg(buf, i, end, 1, &off, &n, &changed);
    }
    return RESP_OK;
}

/*
 * Continues an inline request: waits for its '\n' (searching only new
 * bytes), then splits the line. Returns like parse_multibulk().
 */
static enum resp_status parse_inline(struct resp_parser *p, char *buf,
                                     size_t len, size_t *used)
{
    size_t max = p->limits.max_inline_len;
    size_t end = len > max ? max + 1 : len; /* the '\n' may be at most here */
    const char *nl = NULL;
    if (p->pos < end)
        nl = memchr(buf + p->pos, '\n', end - p->pos);
    if (nl == NULL) {
        if (len > max)
            return fail(p, "Protocol error: too big inline request");
        p->pos = len;
        return RESP_AGAIN;
    }
    size_t at = (size_t)(nl - buf);
    size_t line_end = at > 0 && buf[at - 1] == '\r' ? at - 1 : at;
    enum resp_status st = split_inline(p, buf, line_end);
    if (st != RESP_OK)
        return st;
    return finish(p, at + 1, used);
}

enum resp_status resp_parse(struct resp_parser *p, char *buf, size_t len,
                            size_t *used)
{
    *used = 0;
    switch (p->state) {
    case ST_ERROR:
        return RESP_EPROTO;
    case ST_START:
        p->argc = 0;
        if (len == 0)
            return RESP_AGAIN;
        if (buf[0] == '*' && parse_multibulk_whole(p, buf, len, used))
            return RESP_OK;
        p->state = buf[0] == '*' ? ST_MB_HEADER : ST_INLINE;
        break;
    default:
        break;
    }
    if (p->state == ST_INLINE)
        return parse_inline(p, buf, len, used);
    return parse_multibulk(p, buf, len, used);
}

size_t resp_parser_want(const struct resp_parser *p)
{
    switch (p->state) {
    case ST_START:
        return 1;
    case ST_BULK_DATA:
        return p->pos + (size_t)p->bulk + 2;
    case ST_INLINE:
    case ST_MB_HEADER:
    case ST_BULK_HEADER:
        return p->pos + 1;
    default:
        return 0; /* ST_ERROR: no length helps */
    }
}
