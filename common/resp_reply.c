/*
 * This file implements the incremental RESP2/RESP3 reply parser declared in
 * resp_reply.h: the client side of the Redis protocol, turning the bytes a
 * server sent into a tree of struct resp_reply.
 *
 * A reply is a sequence of items, each starting with a type byte and a
 * header line ended by CRLF. Some items are complete with their line
 * (+status, :integer, ,double, #bool, (bignum, _null, -error), some carry a
 * blob of a length given on the line ($bulk, !blob error, =verbatim), and
 * aggregates (*array, %map, ~set, >push, |attribute) announce how many items
 * follow. The parser keeps a stack of the aggregates being filled: each item
 * parsed is appended to the innermost one, an aggregate that got all its
 * items is popped, and the reply is complete when the stack is empty again
 * and the top-level item is set. Attributes sit on the same stack but are
 * never attached to anything: when complete they are freed, and the item
 * after them takes their place.
 *
 * Progress (the position of the next item, where the search for a newline
 * resumes, the length of an awaited blob) lives in the parser, so a reply
 * that arrives a byte at a time is scanned once; a blob is copied only when
 * all of it has arrived. Everything partly built belongs either to the root
 * or to an attribute frame, which is all resp_reply_parser_reset() frees.
 */
#include "resp_reply.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Element slots reserved when an aggregate header arrives, at most. */
#define RESP_REPLY_FIRST_SLOTS 16

struct resp_reply_limits resp_reply_limits_default(void)
{
    struct resp_reply_limits l = {
        .max_depth = 32,
        .max_bulk = (size_t)512 * 1024 * 1024,
        .max_elements = (size_t)16 * 1024 * 1024,
        .max_line = (size_t)1024 * 1024,
    };
    return l;
}

void resp_reply_parser_init(struct resp_reply_parser *p,
                            const struct resp_reply_limits *limits)
{
    memset(p, 0, sizeof(*p));
    p->limits = limits != NULL ? *limits : resp_reply_limits_default();
    if (p->limits.max_depth > RESP_REPLY_DEPTH_CAP) {
        p->limits.max_depth = RESP_REPLY_DEPTH_CAP;
    }
}

void resp_reply_free(struct resp_reply *r)
{
    if (r == NULL) {
        return;
    }
    for (size_t i = 0; i < r->elements; i++) {
        resp_reply_free(r->element[i]);
    }
    free(r->element);
    free(r->str);
    free(r);
}

void resp_reply_parser_reset(struct resp_reply_parser *p)
{
    for (size_t i = 0; i < p->depth; i++) {
        if (p->stack[i].attribute) {
            resp_reply_free(p->stack[i].agg);
        }
    }
    resp_reply_free(p->root);
    p->root = NULL;
    p->depth = 0;
    p->pos = 0;
    p->scan = 0;
    p->blob_type = 0;
    p->blob_len = 0;
    p->failed = 0;
    p->err[0] = '\0';
}

void resp_reply_parser_deinit(struct resp_reply_parser *p)
{
    resp_reply_parser_reset(p);
}

size_t resp_reply_parser_want(const struct resp_reply_parser *p)
{
    if (p->blob_type != 0) {
        return p->pos + p->blob_len + 2;
    }
    return p->scan + 1;
}

const char *resp_reply_type_name(enum resp_reply_type t)
{
    switch (t) {
    case RESP_REPLY_STATUS: return "status";
    case RESP_REPLY_ERRORMSG: return "error";
    case RESP_REPLY_INTEGER: return "integer";
    case RESP_REPLY_BULK: return "bulk";
    case RESP_REPLY_NULL: return "null";
    case RESP_REPLY_ARRAY: return "array";
    case RESP_REPLY_MAP: return "map";
    case RESP_REPLY_SET: return "set";
    case RESP_REPLY_DOUBLE: return "double";
    case RESP_REPLY_BOOL: return "boolean";
    case RESP_REPLY_VERBATIM: return "verbatim";
    case RESP_REPLY_BIGNUM: return "big-number";
    case RESP_REPLY_PUSH: return "push";
    }
    return "unknown";
}

/* Records a protocol error; the parser stays failed until reset. */
__attribute__((format(printf, 2, 3)))
static enum resp_reply_status fail(struct resp_reply_parser *p,
                                   const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err, sizeof(p->err), fmt, ap);
    va_end(ap);
    p->failed = 1;
    return RESP_REPLY_ERROR;
}

/* A new node of the given type, or NULL. */
static struct resp_reply *node_new(enum resp_reply_type type)
{
    struct resp_reply *r = calloc(1, sizeof(*r));
    if (r != NULL) {
        r->type = type;
    }
    return r;
}

/* Copies n bytes (plus a NUL) into r->str; false when out of memory. */
static bool node_set_str(struct resp_reply *r, const char *s, size_t n)
{
    r->str = malloc(n + 1);
    if (r->str == NULL) {
        return false;
    }
    if (n > 0) {
        memcpy(r->str, s, n);
    }
    r->str[n] = '\0';
    r->len = n;
    return true;
}

/*
 * Parses a decimal int64 ("-" allowed, at least one digit, nothing else).
 * Returns false on anything else, overflow included.
 */
static bool parse_i64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (n > 0 && s[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i == n) {
        return false;
    }
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (limit - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    if (neg) {
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        *out = (int64_t)v;
    }
    return true;
}

/* Parses a RESP3 double line (decimal, exponent, inf, -inf, nan). */
static bool parse_double(const char *s, size_t n, double *out)
{
    char tmp[128];
    if (n == 0 || n >= sizeof(tmp)) {
        return false;
    }
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    if (strcmp(tmp, "inf") == 0 || strcmp(tmp, "+inf") == 0) {
        *out = INFINITY;
        return true;
    }
    if (strcmp(tmp, "-inf") == 0) {
        *out = -INFINITY;
        return true;
    }
    if (strcmp(tmp, "nan") == 0 || strcmp(tmp, "-nan") == 0) {
        *out = NAN;
        return true;
    }
    /* Only what a decimal number may contain: no blanks, hex or words. */
    for (size_t i = 0; i < n; i++) {
        char c = tmp[i];
        if (!((c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' ||
              c == 'e' || c == 'E')) {
            return false;
        }
    }
    char *end = NULL;
    errno = 0;
    double v = strtod(tmp, &end);
    if (end != tmp + n || errno == EINVAL) {
        return false;
    }
    *out = v;
    return true;
}

/* True if s[0, n) is a big number: an optional '-' and at least one digit. */
static bool valid_bignum(const char *s, size_t n)
{
    size_t i = (n > 0 && s[0] == '-') ? 1 : 0;
    if (i == n) {
        return false;
    }
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return false;
        }
    }
    return true;
}

/*
 * Appends child to the aggregate of frame f, growing its element array
 * geometrically, from at most RESP_REPLY_FIRST_SLOTS, and never beyond the
 * count its header announced.
 */
static bool frame_append(struct resp_reply_frame *f, struct resp_reply *child)
{
    struct resp_reply *agg = f->agg;
    size_t n = agg->elements;
    if (n == f->cap) {
        size_t total = n + f->want;
        size_t next = n == 0 ? RESP_REPLY_FIRST_SLOTS : n * 2;
        if (next > total) {
            next = total;
        }
        struct resp_reply **grown =
            realloc(agg->element, next * sizeof(*grown));
        if (grown == NULL) {
            return false;
        }
        agg->element = grown;
        f->cap = next;
    }
    agg->element[n] = child;
    agg->elements = n + 1;
    f->want--;
    return true;
}

/*
 * Places a finished header's node: attaches it to the innermost aggregate
 * (or makes it the root) and, for an aggregate expecting `want` elements,
 * pushes a frame. Attributes are pushed but never attached. On failure the
 * node has been freed or attached, so nothing leaks.
 */
static enum resp_reply_status place(struct resp_reply_parser *p,
                                    struct resp_reply *node, bool aggregate,
                                    bool attribute, size_t want)
{
    if (aggregate && want > 0 && p->depth >= p->limits.max_depth) {
        resp_reply_free(node);
        return fail(p, "reply nested deeper than %zu levels",
                    p->limits.max_depth);
    }
    if (!attribute) {
        if (p->depth == 0) {
            p->root = node;
        } else if (!frame_append(&p->stack[p->depth - 1], node)) {
            resp_reply_free(node);
            return fail(p, "out of memory");
        }
    }
    if (aggregate && want > 0) {
        struct resp_reply_frame *f = &p->stack[p->depth++];
        f->agg = node;
        f->want = want;
        f->cap = 0;
        f->attribute = attribute ? 1 : 0;
    } else if (attribute) {
        resp_reply_free(node); /* an empty attribute: nothing to keep */
    }
    while (p->depth > 0 && p->stack[p->depth - 1].want == 0) {
        struct resp_reply_frame *f = &p->stack[--p->depth];
        if (f->attribute) {
            resp_reply_free(f->agg);
        }
        f->agg = NULL;
    }
    return RESP_REPLY_OK;
}

/* Builds the node of a blob ($, !, =) whose bytes are s[0, n). */
static enum resp_reply_status blob_done(struct resp_reply_parser *p,
                                        const char *s, size_t n)
{
    enum resp_reply_type type = p->blob_type == '$' ? RESP_REPLY_BULK
                                : p->blob_type == '!' ? RESP_REPLY_ERRORMSG
                                                      : RESP_REPLY_VERBATIM;
    struct resp_reply *r = node_new(type);
    if (r == NULL) {
        return fail(p, "out of memory");
    }
    bool ok;
    if (type == RESP_REPLY_VERBATIM) {
        if (n < 4 || s[3] != ':') {
            resp_reply_free(r);
            return fail(p, "verbatim string without a 3-byte format");
        }
        memcpy(r->format, s, 3);
        r->format[3] = '\0';
        ok = node_set_str(r, s + 4, n - 4);
    } else {
        ok = node_set_str(r, s, n);
    }
    if (!ok) {
        resp_reply_free(r);
        return fail(p, "out of memory");
    }
    return place(p, r, false, false, 0);
}

/*
 * Handles one complete header line: type byte t, content s[0, n). Sets
 * p->blob_type when a blob must follow.
 */
static enum resp_reply_status header_done(struct resp_reply_parser *p, char t,
                                          const char *s, size_t n)
{
    struct resp_reply *r;
    int64_t v;
    switch (t) {
    case '+':
    case '-':
    case '(':
    case ',': {
        enum resp_reply_type type = t == '+'   ? RESP_REPLY_STATUS
                                    : t == '-' ? RESP_REPLY_ERRORMSG
                                    : t == '(' ? RESP_REPLY_BIGNUM
                                               : RESP_REPLY_DOUBLE;
        double d = 0;
        if (t == '(' && !valid_bignum(s, n)) {
            return fail(p, "bad big number");
        }
        if (t == ',' && !parse_double(s, n, &d)) {
            return fail(p, "bad double");
        }
        r = node_new(type);
        if (r == NULL || !node_set_str(r, s, n)) {
            resp_reply_free(r);
            return fail(p, "out of memory");
        }
        r->dval = d;
        return place(p, r, false, false, 0);
    }
    case ':':
        if (!parse_i64(s, n, &v)) {
            return fail(p, "bad integer");
        }
        r = node_new(RESP_REPLY_INTEGER);
        if (r == NULL) {
            return fail(p, "out of memory");
        }
        r->integer = v;
        return place(p, r, false, false, 0);
    case '#':
        if (n != 1 || (s[0] != 't' && s[0] != 'f')) {
            return fail(p, "bad boolean");
        }
        r = node_new(RESP_REPLY_BOOL);
        if (r == NULL) {
            return fail(p, "out of memory");
        }
        r->integer = s[0] == 't';
        return place(p, r, false, false, 0);
    case '_':
        if (n != 0) {
            return fail(p, "bad null");
        }
        r = node_new(RESP_REPLY_NULL);
        if (r == NULL) {
            return fail(p, "out of memory");
        }
        return place(p, r, false, false, 0);
    case '$':
    case '!':
    case '=':
        if (n == 1 && s[0] == '?') {
            return fail(p, "streamed strings are not supported");
        }
        if (!parse_i64(s, n, &v) || v < -1 || (v == -1 && t != '$')) {
            return fail(p, "bad string length");
        }
        if (v == -1) {
            r = node_new(RESP_REPLY_NULL);
            if (r == NULL) {
                return fail(p, "out of memory");
            }
            return place(p, r, false, false, 0);
        }
        if ((uint64_t)v > p->limits.max_bulk) {
            return fail(p, "string of %lld bytes is over the limit of %zu",
                        (long long)v, p->limits.max_bulk);
        }
        p->blob_type = t;
        p->blob_len = (size_t)v;
        return RESP_REPLY_OK;
    case '*':
    case '%':
    case '~':
    case '>':
    case '|': {
        if (n == 1 && s[0] == '?') {
            return fail(p, "streamed aggregates are not supported");
        }
        if (!parse_i64(s, n, &v) || v < -1 || (v == -1 && t != '*')) {
            return fail(p, "bad aggregate length");
        }
        if (v == -1) {
            r = node_new(RESP_REPLY_NULL);
            if (r == NULL) {
                return fail(p, "out of memory");
            }
            return place(p, r, false, false, 0);
        }
        bool pairs = t == '%' || t == '|';
        uint64_t count = (uint64_t)v;
        if (count > p->limits.max_elements ||
            (pairs && count > p->limits.max_elements / 2)) {
            return fail(p, "aggregate of %llu elements is over the limit of "
                        "%zu", (unsigned long long)(pairs ? count * 2 : count),
                        p->limits.max_elements);
        }
        enum resp_reply_type type = t == '*'   ? RESP_REPLY_ARRAY
                                    : t == '~' ? RESP_REPLY_SET
                                    : t == '>' ? RESP_REPLY_PUSH
                                               : RESP_REPLY_MAP;
        r = node_new(type);
        if (r == NULL) {
            return fail(p, "out of memory");
        }
        return place(p, r, true, t == '|',
                     (size_t)(pairs ? count * 2 : count));
    }
    default:
        return fail(p, "unknown reply type byte 0x%02x", (unsigned char)t);
    }
}

enum resp_reply_status resp_reply_parse(struct resp_reply_parser *p,
                                        const char *buf, size_t len,
                                        size_t *used,
                                        struct resp_reply **out)
{
    *used = 0;
    *out = NULL;
    if (p->failed) {
        return RESP_REPLY_ERROR;
    }
    for (;;) {
        enum resp_reply_status st;
        if (p->blob_type != 0) {
            if (len - p->pos < p->blob_len + 2) {
                return RESP_REPLY_NEED_MORE;
            }
            const char *data = buf + p->pos;
            if (data[p->blob_len] != '\r' || data[p->blob_len + 1] != '\n') {
                return fail(p, "string of %zu bytes not followed by CRLF",
                            p->blob_len);
            }
            st = blob_done(p, data, p->blob_len);
            p->pos += p->blob_len + 2;
            p->scan = p->pos;
            p->blob_type = 0;
        } else {
            if (p->scan >= len) {
                return RESP_REPLY_NEED_MORE;
            }
            const char *nl = memchr(buf + p->scan, '\n', len - p->scan);
            if (nl == NULL) {
                /* type byte + line + CRLF */
                if (len - p->pos > p->limits.max_line + 3) {
                    return fail(p, "header line longer than %zu bytes",
                                p->limits.max_line);
                }
                p->scan = len;
                return RESP_REPLY_NEED_MORE;
            }
            size_t end = (size_t)(nl - buf);
            /*
             * The length before the CRLF: a line refused as too long while
             * its '\n' had not arrived is refused the same way once it has,
             * so the error does not depend on how the bytes were split.
             */
            if (end - p->pos > p->limits.max_line + 2) {
                return fail(p, "header line longer than %zu bytes",
                            p->limits.max_line);
            }
            if (end < p->pos + 2 || buf[end - 1] != '\r') {
                return fail(p, "line not ended by CRLF");
            }
            size_t n = end - 1 - (p->pos + 1);
            st = header_done(p, buf[p->pos], buf + p->pos + 1, n);
            p->pos = end + 1;
            p->scan = p->pos;
        }
        if (st != RESP_REPLY_OK) {
            return st;
        }
        if (p->depth == 0 && p->blob_type == 0 && p->root != NULL) {
            *out = p->root;
            *used = p->pos;
            p->root = NULL;
            p->pos = 0;
            p->scan = 0;
            return RESP_REPLY_OK;
        }
    }
}
