/*
 * This file implements the growable byte buffer declared in buf.h.
 */
#include "buf.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

bool buf_reserve(struct buf *b, size_t extra)
{
    if (b->failed) {
        return false;
    }
    if (b->cap - b->len >= extra) {
        return true;
    }
    size_t need = b->len + extra;
    if (need < b->len) {
        b->failed = true;
        return false;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        cap = cap > (SIZE_MAX / 2) ? need : cap * 2;
    }
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void buf_deinit(struct buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->failed = false;
}

char *buf_put_u64_wide(char *p, unsigned long long u)
{
    size_t n = 3;
    for (unsigned long long t = u / 1000; t != 0; t /= 10) {
        n++;
    }
    char *end = p + n;
    do {
        *--end = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    return p + n;
}

void buf_append_i64(struct buf *b, long long v)
{
    if (!buf_room(b, BUF_I64_LEN)) {
        return;
    }
    b->len = (size_t)(buf_put_i64(b->data + b->len, v) - b->data);
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !buf_reserve(b, (size_t)n + 1)) {
        return;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}
