/*
 * buf.h: a growable byte buffer for building replies and messages.
 *
 * The buffer owns its storage. Appends grow it geometrically; on allocation
 * failure the buffer is marked failed, further appends are ignored, and the
 * caller checks buf_failed() once at the end instead of after every append.
 */
#ifndef LARDER_BUF_H
#define LARDER_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed;
};

/* Ensures room for `extra` more bytes; false (and failed set) if not. */
bool buf_reserve(struct buf *b, size_t extra);

/* Frees the storage and resets to empty. */
void buf_deinit(struct buf *b);

/* Appends bytes. */
static inline void buf_append(struct buf *b, const void *p, size_t n)
{
    if (b->cap - b->len < n && !buf_reserve(b, n)) {
        return;
    }
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

/* Appends a NUL-terminated string (without the NUL). */
static inline void buf_append_str(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

/* Appends the decimal form of v. */
void buf_append_i64(struct buf *b, long long v);

/* Appends printf-formatted text. */
void buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static inline bool buf_failed(const struct buf *b)
{
    return b->failed;
}

#endif
