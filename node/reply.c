/*
 * This file implements the RESP2/RESP3 reply encoders declared in reply.h.
 */
#include "reply.h"

#include <stdarg.h>
#include <stdio.h>

/* Appends <type><n>\r\n. */
static void header(struct buf *b, char type, long long n)
{
    if (!buf_reserve(b, 24)) {
        return;
    }
    b->data[b->len++] = type;
    buf_append_i64(b, n);
    b->data[b->len++] = '\r';
    b->data[b->len++] = '\n';
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

void reply_bulk(struct reply *r, const char *p, size_t len)
{
    if (!buf_reserve(r->out, len + 32)) {
        return;
    }
    header(r->out, '$', (long long)len);
    buf_append(r->out, p, len);
    buf_append(r->out, "\r\n", 2);
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
    header(r->out, '=', (long long)len + 4);
    buf_append(r->out, "txt:", 4);
    buf_append(r->out, p, len);
    buf_append(r->out, "\r\n", 2);
}
