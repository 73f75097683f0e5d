/*
 * This file implements the streaming JSON emitter declared in
 * json_writer.h: separators, string escaping with UTF-8 validation, and
 * number formatting.
 */
#include "json_writer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct json_writer *w, struct buf *out)
{
    memset(w, 0, sizeof(*w));
    w->out = out;
    w->first[0] = true;
}

/* Writes the separator a new value or key needs at the current level. */
static void sep(struct json_writer *w)
{
    if (w->after_key) {
        w->after_key = false;
        return;
    }
    if (!w->first[w->depth]) {
        buf_append(w->out, ",", 1);
    }
    w->first[w->depth] = false;
}

static void open_level(struct json_writer *w, char c)
{
    sep(w);
    buf_append(w->out, &c, 1);
    if (w->depth < JW_DEPTH_MAX) {
        w->depth++;
    }
    w->first[w->depth] = true;
}

static void close_level(struct json_writer *w, char c)
{
    buf_append(w->out, &c, 1);
    if (w->depth > 0) {
        w->depth--;
    }
}

void jw_object_begin(struct json_writer *w) { open_level(w, '{'); }
void jw_object_end(struct json_writer *w) { close_level(w, '}'); }
void jw_array_begin(struct json_writer *w) { open_level(w, '['); }
void jw_array_end(struct json_writer *w) { close_level(w, ']'); }

size_t jw_utf8_seq(const unsigned char *s, size_t n)
{
    if (n == 0) {
        return 0;
    }
    unsigned char c = s[0];
    if (c < 0x80) {
        return 1;
    }
    size_t len;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
        cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        return 0;
    }
    return len;
}

/* Appends s[0, n) as a quoted JSON string. */
static void put_string(struct buf *out, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    buf_append(out, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_append(out, esc, 2);
            i++;
        } else if (c == '\n') {
            buf_append(out, "\\n", 2);
            i++;
        } else if (c == '\r') {
            buf_append(out, "\\r", 2);
            i++;
        } else if (c == '\t') {
            buf_append(out, "\\t", 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            buf_printf(out, "\\u%04x", c);
            i++;
        } else {
            size_t len = jw_utf8_seq(u + i, n - i);
            if (len == 0) {
                buf_append(out, "\\ufffd", 6);
                i++;
            } else {
                buf_append(out, s + i, len);
                i += len;
            }
        }
    }
    buf_append(out, "\"", 1);
}

void jw_key(struct json_writer *w, const char *s, size_t n)
{
    sep(w);
    put_string(w->out, s, n);
    buf_append(w->out, ":", 1);
    w->after_key = true;
}

void jw_string(struct json_writer *w, const char *s, size_t n)
{
    sep(w);
    put_string(w->out, s, n);
}

void jw_str(struct json_writer *w, const char *s)
{
    jw_string(w, s, strlen(s));
}

void jw_u64(struct json_writer *w, uint64_t v)
{
    sep(w);
    buf_printf(w->out, "%llu", (unsigned long long)v);
}

void jw_i64(struct json_writer *w, int64_t v)
{
    sep(w);
    buf_printf(w->out, "%lld", (long long)v);
}

void jw_format_double(struct buf *out, double v)
{
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v) {
            break;
        }
    }
    buf_append_str(out, tmp);
    if (strpbrk(tmp, ".eE") == NULL) {
        buf_append(out, ".0", 2);
    }
}

void jw_double(struct json_writer *w, double v)
{
    sep(w);
    if (!isfinite(v)) {
        buf_append(w->out, "null", 4);
        return;
    }
    jw_format_double(w->out, v);
}

void jw_bool(struct json_writer *w, bool v)
{
    sep(w);
    buf_append_str(w->out, v ? "true" : "false");
}

void jw_null(struct json_writer *w)
{
    sep(w);
    buf_append(w->out, "null", 4);
}
