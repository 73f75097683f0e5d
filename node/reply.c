/*
 * This file implements the RESP2/RESP3 reply encoders declared in reply.h.
 *
 * Every request ends in one of these, so the common ones make a single
 * capacity check for everything they write (buf_room(), inline unless the
 * buffer must grow) and then write the type byte, the digits, the payload
 * and "\r\n" straight into the buffer.
 */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>

/* Most bytes put_header() writes: the type byte, a number and "\r\n". */
#define HEADER_MAX (1 + BUF_I64_LEN + 2)

/*
 * Writes <type><n>\r\n at p, which has room for HEADER_MAX bytes, and
 * returns the byte after it.
 */
static inline char *put_header(char *p, char type, long long n)
{
    *p++ = type;
    p = buf_put_i64(p, n);
    memcpy(p, "\r\n", 2);
    return p + 2;
}

/* Appends <type><n>\r\n. */
static void header(struct buf *b, char type, long long n)
{
    if (!buf_room(b, HEADER_MAX)) {
        return;
    }
    b->len = (size_t)(put_header(b->data + b->len, type, n) - b->data);
}

void reply_status(struct reply *r, const char *s)
{
    buf_append(r->out, "+", 1);
    buf_append_str(r->out, s);
    buf_append(r->out, "\r\n", 2);
}

void reply_error(struct reply *r, const char *msg)
{
    buf_append(r->out, "-", 1);
    buf_append_str(r->out, msg);
    buf_append(r->out, "\r\n", 2);
}

void reply_errorf(struct reply *r, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    for (char *c = msg; *c; c++) {
        if (*c == '\r' || *c == '\n') {
            *c = ' ';
        }
    }
    reply_error(r, msg);
}

void reply_int(struct reply *r, long long v)
{
    header(r->out, ':', v);
}

/*
 * Appends <type><len>\r\n, the prefix, p[0, len) and "\r\n", where the
 * header's number counts the prefix too. The sum cannot wrap: p and prefix
 * are objects, each at most PTRDIFF_MAX bytes.
 */
static inline void put_string(struct buf *b, char type, const char *prefix,
                              size_t plen, const char *p, size_t len)
{
    if (!buf_room(b, HEADER_MAX + plen + len + 2)) {
        return;
    }
    char *w = put_header(b->data + b->len, type, (long long)(plen + len));
    memcpy(w, prefix, plen);
    w += plen;
    memcpy(w, p, len);
    w += len;
    memcpy(w, "\r\n", 2);
    b->len = (size_t)(w + 2 - b->data);
}

void reply_bulk(struct reply *r, const char *p, size_t len)
{
    put_string(r->out, '$', "", 0, p, len);
}

void reply_bulk_str(struct reply *r, const char *s)
{
    reply_bulk(r, s, strlen(s));
}

void reply_null(struct reply *r)
{
    if (r->proto >= 3) {
        buf_append(r->out, "_\r\n", 3);
    } else {
        buf_append(r->out, "$-1\r\n", 5);
    }
}

void reply_array(struct reply *r, size_t n)
{
    header(r->out, '*', (long long)n);
}

void reply_map(struct reply *r, size_t n)
{
    if (r->proto >= 3) {
        header(r->out, '%', (long long)n);
    } else {
        header(r->out, '*', (long long)(2 * n));
    }
}

bool reply_attribute(struct reply *r, size_t n)
{
    if (r->proto < 3) {
        return false;
    }
    header(r->out, '|', (long long)n);
    return true;
}

void reply_verbatim(struct reply *r, const char *p, size_t len)
{
    if (r->proto < 3) {
        reply_bulk(r, p, len);
        return;
    }
    put_string(r->out, '=', "txt:", 4, p, len);
}
