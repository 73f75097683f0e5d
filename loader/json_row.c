/*
 * This file implements json_row.h: a recursive-descent JSON parser that
 * writes input_values directly.
 *
 * While a container is being parsed its children sit on jr->stack; when
 * it closes they move, contiguous, to the end of jr->arena and the
 * container is pushed on the stack in their place, its items recorded as
 * an arena index (the arena may still move). Once the whole text is
 * parsed, one pass turns the indexes into pointers.
 */
#include "json_row.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Objects with at most this many members are checked for a repeated name
 * pair by pair; larger ones through a hash table. */
#define JSON_ROW_PAIRWISE_MAX 16

struct parser {
    struct json_row *jr;
    char *p;
    char *end;
    unsigned depth;
    const char *why; /* the first failure, or NULL */
    const char *at;  /* where it happened */
    bool nomem;
};

static bool fail(struct parser *ps, const char *at, const char *why)
{
    if (ps->why == NULL) {
        ps->why = why;
        ps->at = at;
    }
    return false;
}

static bool out_of_memory(struct parser *ps)
{
    ps->nomem = true;
    return fail(ps, ps->p, "out of memory");
}

/* Grows *arr (of *cap elements of size sz) to hold at least n. */
static bool grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap) {
        return true;
    }
    size_t c = *cap ? *cap : 64;
    while (c < n) {
        c *= 2;
    }
    void *na = realloc(*arr, c * sz);
    if (na == NULL) {
        return false;
    }
    *arr = na;
    *cap = c;
    return true;
}

static bool push(struct parser *ps, const struct input_value *v)
{
    struct json_row *jr = ps->jr;
    if (jr->stack_len == jr->stack_cap &&
        !grow((void **)&jr->stack, &jr->stack_cap, jr->stack_len + 1,
              sizeof(*jr->stack))) {
        return out_of_memory(ps);
    }
    jr->stack[jr->stack_len++] = *v;
    return true;
}

static void skip_ws(struct parser *ps)
{
    char *p = ps->p;
    while (p < ps->end &&
           (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t')) {
        p++;
    }
    ps->p = p;
}

/* ---- strings ------------------------------------------------------------ */

static bool cont(unsigned char c)
{
    return (c & 0xC0) == 0x80;
}

/*
 * The length (2 to 4) of the well-formed UTF-8 sequence at p (whose first
 * byte is 0x80 or more), or 0: no overlong forms, no surrogates, nothing
 * above U+10FFFF.
 */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
    size_t left = (size_t)(end - p);
    unsigned char c = p[0];
    if (c >= 0xC2 && c <= 0xDF) {
        return left >= 2 && cont(p[1]) ? 2 : 0;
    }
    if (c >= 0xE0 && c <= 0xEF) {
        if (left < 3 || !cont(p[1]) || !cont(p[2]) ||
            (c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] > 0x9F)) {
            return 0;
        }
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (left < 4 || !cont(p[1]) || !cont(p[2]) || !cont(p[3]) ||
            (c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] > 0x8F)) {
            return 0;
        }
        return 4;
    }
    return 0;
}

/* The value of 4 hex digits at p (within end), or -1. */
static long hex4(const char *p, const char *end)
{
    if (end - p < 4) {
        return -1;
    }
    long v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p[i];
        int d;
        if (c >= '0' && c <= '9') {
            d = c - '0';
        } else if (c >= 'a' && c <= 'f') {
            d = c - 'a' + 10;
        } else if (c >= 'A' && c <= 'F') {
            d = c - 'A' + 10;
        } else {
            return -1;
        }
        v = v * 16 + d;
    }
    return v;
}

static char *put_utf8(char *w, unsigned long cp)
{
    if (cp < 0x80) {
        *w++ = (char)cp;
    } else if (cp < 0x800) {
        *w++ = (char)(0xC0 | (cp >> 6));
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        *w++ = (char)(0xE0 | (cp >> 12));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    } else {
        *w++ = (char)(0xF0 | (cp >> 18));
        *w++ = (char)(0x80 | ((cp >> 12) & 0x3F));
        *w++ = (char)(0x80 | ((cp >> 6) & 0x3F));
        *w++ = (char)(0x80 | (cp & 0x3F));
    }
    return w;
}

/*
 * Decodes the escape at *r (just after its backslash) to *w; advances
 * both. The output is never longer than the escape, so w stays behind r.
 */
static bool unescape(struct parser *ps, char **r, char **w)
{
    char *q = *r;
    if (q >= ps->end) {
        return fail(ps, q, "premature end of input");
    }
    static const char from[] = "\"\\/bfnrt";
    static const char to[] = "\"\\/\b\f\n\r\t";
    const char *hit = *q != '\0' ? strchr(from, *q) : NULL;
    if (hit != NULL) {
        *(*w)++ = to[hit - from];
        *r = q + 1;
        return true;
    }
    if (*q != 'u') {
        return fail(ps, q, "invalid escape");
    }
    long cp = hex4(q + 1, ps->end);
    if (cp < 0) {
        return fail(ps, q, "invalid \\u escape");
    }
    q += 5;
    if (cp >= 0xDC00 && cp <= 0xDFFF) {
        return fail(ps, q - 6, "invalid Unicode: a lone low surrogate");
    }
    if (cp >= 0xD800 && cp <= 0xDBFF) {
        long lo = ps->end - q >= 6 && q[0] == '\\' && q[1] == 'u'
                      ? hex4(q + 2, ps->end)
                      : -1;
        if (lo < 0xDC00 || lo > 0xDFFF) {
            return fail(ps, q - 6, "invalid Unicode: a lone high surrogate");
        }
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
        q += 6;
    }
    if (cp == 0) {
        return fail(ps, q - 6, "\\u0000 is not allowed");
    }
    *w = put_utf8(*w, (unsigned long)cp);
    *r = q;
    return true;
}

/*
 * Parses the string whose opening quote is at ps->p into v (INPUT_STR,
 * pointing into the text, unescaped in place).
 */
static bool parse_string(struct parser *ps, struct input_value *v)
{
    char *start = ps->p + 1;
    char *r = start;
    const unsigned char *end = (const unsigned char *)ps->end;
    /* Up to the first escape nothing moves. */
    for (;;) {
        if (r >= ps->end) {
            return fail(ps, r, "premature end of input in a string");
        }
        unsigned char c = (unsigned char)*r;
        if (c == '"' || c == '\\') {
            break;
        }
        if (c < 0x20) {
            return fail(ps, r, "control character in a string");
        }
        if (c < 0x80) {
            r++;
            continue;
        }
        size_t n = utf8_seq((const unsigned char *)r, end);
        if (n == 0) {
            return fail(ps, r, "invalid UTF-8 in a string");
        }
        r += n;
    }
    char *w = r;
    while (*r != '"') {
        if (*r == '\\') {
            r++;
            if (!unescape(ps, &r, &w)) {
                return false;
            }
        } else {
            unsigned char c = (unsigned char)*r;
            size_t n = 1;
            if (c < 0x20) {
                return fail(ps, r, "control character in a string");
            }
            if (c >= 0x80 && (n = utf8_seq((const unsigned char *)r, end)) ==
                                 0) {
                return fail(ps, r, "invalid UTF-8 in a string");
            }
            memmove(w, r, n);
            w += n;
            r += n;
        }
        if (r >= ps->end) {
            return fail(ps, r, "premature end of input in a string");
        }
    }
    memset(v, 0, sizeof(*v));
    v->kind = INPUT_STR;
    v->u.s.p = start;
    v->u.s.len = (size_t)(w - start);
    ps->p = r + 1;
    return true;
}

/* ---- numbers and literals --------------------------------------------- */

static bool is_digit(const char *p, const char *end)
{
    return p < end && *p >= '0' && *p <= '9';
}

static bool parse_number(struct parser *ps, struct input_value *v)
{
    char *start = ps->p, *q = start, *end = ps->end;
    bool neg = q < end && *q == '-';
    q += neg;
    if (!is_digit(q, end)) {
        return fail(ps, start, "invalid token");
    }
    uint64_t mag = 0;
    bool big = false;
    if (*q == '0') {
        q++;
    } else {
        while (is_digit(q, end)) {
            unsigned d = (unsigned)(*q - '0');
            big |= mag > (UINT64_MAX - d) / 10;
            mag = mag * 10 + d;
            q++;
        }
    }
    bool real = false;
    if (q < end && *q == '.') {
        real = true;
        q++;
        if (!is_digit(q, end)) {
            return fail(ps, q, "invalid number");
        }
        while (is_digit(q, end)) {
            q++;
        }
    }
    if (q < end && (*q == 'e' || *q == 'E')) {
        real = true;
        q++;
        if (q < end && (*q == '+' || *q == '-')) {
            q++;
        }
        if (!is_digit(q, end)) {
            return fail(ps, q, "invalid number");
        }
        while (is_digit(q, end)) {
            q++;
        }
    }
    memset(v, 0, sizeof(*v));
    if (!real) {
        uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        if (big || mag > limit) {
            return fail(ps, start, neg ? "too big negative integer"
                                        : "too big integer");
        }
        v->kind = INPUT_INT;
        v->u.i = neg ? (int64_t)(0 - mag) : (int64_t)mag;
        ps->p = q;
        return true;
    }
    /* strtod wants a terminated string: the token is copied. */
    size_t len = (size_t)(q - start);
    char small[64];
    char *buf = len < sizeof(small) ? small : malloc(len + 1);
    if (buf == NULL) {
        return out_of_memory(ps);
    }
    memcpy(buf, start, len);
    buf[len] = '\0';
    errno = 0;
    double d = strtod(buf, NULL);
    int e = errno;
    if (buf != small) {
        free(buf);
    }
    if (e == ERANGE && isinf(d)) {
        return fail(ps, start, "real number overflow");
    }
    v->kind = INPUT_FLOAT;
    v->u.f = d;
    ps->p = q;
    return true;
}

static bool parse_literal(struct parser *ps, struct input_value *v)
{
    static const struct {
        const char *word;
        size_t len;
        enum input_kind kind;
        bool b;
    } words[] = {
        {"true", 4, INPUT_BOOL, true},
        {"false", 5, INPUT_BOOL, false},
        {"null", 4, INPUT_NIL, false},
    };
    size_t left = (size_t)(ps->end - ps->p);
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (left >= words[i].len &&
            memcmp(ps->p, words[i].word, words[i].len) == 0) {
            memset(v, 0, sizeof(*v));
            v->kind = words[i].kind;
            v->u.b = words[i].b;
            ps->p += words[i].len;
            return true;
        }
    }
    return fail(ps, ps->p, "invalid token");
}

/* ---- containers ------------------------------------------------------- */

static bool same_name(const struct input_value *a, const struct input_value *b)
{
    return a->u.s.len == b->u.s.len &&
           memcmp(a->u.s.p, b->u.s.p, a->u.s.len) == 0;
}

static uint64_t name_hash(const struct input_value *k)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < k->u.s.len; i++) {
        h = (h ^ (unsigned char)k->u.s.p[i]) * 1099511628211ULL;
    }
    return h;
}

/* True if a name repeats among the n pairs at kv (keys at even slots). */
static bool has_repeat(struct parser *ps, const struct input_value *kv,
                       size_t n, const char **where)
{
    if (n <= JSON_ROW_PAIRWISE_MAX) {
        for (size_t i = 1; i < n; i++) {
            for (size_t j = 0; j < i; j++) {
                if (same_name(&kv[2 * i], &kv[2 * j])) {
                    *where = kv[2 * i].u.s.p;
                    return true;
                }
            }
        }
        return false;
    }
    struct json_row *jr = ps->jr;
    size_t slots = 64;
    while (slots < 2 * n) {
        slots *= 2;
    }
    if (!grow((void **)&jr->seen, &jr->seen_cap, slots, sizeof(*jr->seen))) {
        out_of_memory(ps);
        return false;
    }
    memset(jr->seen, 0, slots * sizeof(*jr->seen));
    for (size_t i = 0; i < n; i++) {
        size_t s = (size_t)name_hash(&kv[2 * i]) & (slots - 1);
        while (jr->seen[s] != 0) {
            if (same_name(&kv[2 * i], &kv[2 * (jr->seen[s] - 1)])) {
                *where = kv[2 * i].u.s.p;
                return true;
            }
            s = (s + 1) & (slots - 1);
        }
        jr->seen[s] = (unsigned)(i + 1);
    }
    return false;
}

/*
 * Closes the container whose children are stack[mark..]: moves them to
 * the arena and leaves the container (kind, n) in their place.
 */
static bool close_container(struct parser *ps, size_t mark,
                            enum input_kind kind, size_t n)
{
    struct json_row *jr = ps->jr;
    size_t count = jr->stack_len - mark;
    if (kind == INPUT_MAP && n > 1) {
        const char *where = NULL;
        if (has_repeat(ps, &jr->stack[mark], n, &where)) {
            return fail(ps, where, "duplicate object key");
        }
        if (ps->nomem) {
            return false;
        }
    }
    if (n > UINT32_MAX) {
        return fail(ps, ps->p, "too many members");
    }
    if (!grow((void **)&jr->arena, &jr->arena_cap, jr->arena_len + count,
              sizeof(*jr->arena))) {
        return out_of_memory(ps);
    }
    struct input_value v;
    memset(&v, 0, sizeof(v));
    v.kind = kind;
    v.n = (uint32_t)n;
    v.u.i = (int64_t)jr->arena_len; /* an index until the fix-up */
    if (count > 0) {
        memcpy(&jr->arena[jr->arena_len], &jr->stack[mark],
               count * sizeof(*jr->arena));
    }
    jr->arena_len += count;
    jr->stack_len = mark;
    return push(ps, &v);
}

static bool parse_value(struct parser *ps);

/* The object or array whose opening bracket is at ps->p. */
static bool parse_container(struct parser *ps, bool object)
{
    size_t mark = ps->jr->stack_len;
    size_t n = 0;
    char close = object ? '}' : ']';
    ps->p++;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == close) {
        ps->p++;
        return close_container(ps, mark, object ? INPUT_MAP : INPUT_ARRAY, 0);
    }
    for (;;) {
        if (object) {
            struct input_value key;
            if (ps->p >= ps->end || *ps->p != '"') {
                return fail(ps, ps->p, "string or '}' expected");
            }
            if (!parse_string(ps, &key) || !push(ps, &key)) {
                return false;
            }
            skip_ws(ps);
            if (ps->p >= ps->end || *ps->p != ':') {
                return fail(ps, ps->p, "':' expected");
            }
            ps->p++;
            skip_ws(ps);
        }
        if (!parse_value(ps)) {
            return false;
        }
        n++;
        skip_ws(ps);
        if (ps->p < ps->end && *ps->p == ',') {
            ps->p++;
            skip_ws(ps);
            continue;
        }
        if (ps->p < ps->end && *ps->p == close) {
            ps->p++;
            return close_container(ps, mark,
                                   object ? INPUT_MAP : INPUT_ARRAY, n);
        }
        return fail(ps, ps->p, object ? "',' or '}' expected"
                                      : "',' or ']' expected");
    }
}

/* Parses the value at ps->p (no leading blanks) and pushes it. */
static bool parse_value(struct parser *ps)
{
    if (ps->p >= ps->end) {
        return fail(ps, ps->p, "premature end of input");
    }
    if (++ps->depth > JSON_ROW_MAX_DEPTH) {
        return fail(ps, ps->p, "maximum parsing depth reached");
    }
    struct input_value v;
    bool ok;
    char c = *ps->p;
    if (c == '{' || c == '[') {
        ok = parse_container(ps, c == '{');
        ps->depth--;
        return ok;
    }
    if (c == '"') {
        ok = parse_string(ps, &v);
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        ok = parse_number(ps, &v);
    } else {
        ok = parse_literal(ps, &v);
    }
    ps->depth--;
    return ok && push(ps, &v);
}

/* ---- the row ------------------------------------------------------------ */

static const struct input_value *items_at(const struct json_row *jr,
                                          const struct input_value *v)
{
    return v->n == 0 ? NULL : jr->arena + (size_t)v->u.i;
}

enum json_row_status json_row_parse(struct json_row *jr, char *text,
                                    size_t len, char *err, size_t errlen)
{
    struct parser ps = {.jr = jr, .p = text, .end = text + len};
    jr->stack_len = 0;
    jr->arena_len = 0;
    jr->nfields = 0;
    skip_ws(&ps);
    if (ps.p >= ps.end || (*ps.p != '{' && *ps.p != '[')) {
        fail(&ps, ps.p, "'[' or '{' expected");
    } else if (parse_value(&ps)) {
        skip_ws(&ps);
        if (ps.p != ps.end) {
            fail(&ps, ps.p, "end of input expected");
        }
    }
    if (ps.why != NULL) {
        if (ps.nomem) {
            snprintf(err, errlen, "out of memory");
            return JSON_ROW_NOMEM;
        }
        snprintf(err, errlen, "invalid JSON at column %zu: %s",
                 (size_t)(ps.at - text) + 1, ps.why);
        return JSON_ROW_INVALID;
    }
    for (size_t i = 0; i < jr->arena_len; i++) {
        struct input_value *v = &jr->arena[i];
        if (v->kind == INPUT_ARRAY || v->kind == INPUT_MAP) {
            v->u.items = items_at(jr, v);
        }
    }
    const struct input_value *top = &jr->stack[0];
    if (top->kind != INPUT_MAP) {
        snprintf(err, errlen, "not a JSON object");
        return JSON_ROW_NOT_OBJECT;
    }
    if (!grow((void **)&jr->fields, &jr->fields_cap, top->n,
              sizeof(*jr->fields))) {
        snprintf(err, errlen, "out of memory");
        return JSON_ROW_NOMEM;
    }
    const struct input_value *kv = items_at(jr, top);
    for (size_t i = 0; i < top->n; i++) {
        jr->fields[i].name = kv[2 * i].u.s.p;
        jr->fields[i].name_len = kv[2 * i].u.s.len;
        jr->fields[i].value = kv[2 * i + 1];
    }
    jr->nfields = top->n;
    return JSON_ROW_OK;
}

void json_row_free(struct json_row *jr)
{
    free(jr->stack);
    free(jr->arena);
    free(jr->fields);
    free(jr->seen);
    memset(jr, 0, sizeof(*jr));
}
