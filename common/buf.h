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

/*
 * Ensures room for `extra` more bytes; false (and failed set) if not, and
 * always false once the buffer has failed.
 */
bool buf_reserve(struct buf *b, size_t extra);

/*
 * buf_reserve() with its common case inline: true at once when the buffer
 * has not failed and already has room for n more bytes.
 */
static inline bool buf_room(struct buf *b, size_t n)
{
    if (__builtin_expect(b->cap - b->len >= n && !b->failed, 1)) {
        return true;
    }
    return buf_reserve(b, n);
}

/* Frees the storage and resets to empty. */
void buf_deinit(struct buf *b);

/* Appends bytes. */
static inline void buf_append(struct buf *b, const void *p, size_t n)
{
    if (!buf_room(b, n)) {
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

/* Most bytes buf_put_i64() writes: a sign and 19 digits. */
#define BUF_I64_LEN 20

/* buf_put_u64() for u >= 100, out of line. */
char *buf_put_u64_wide(char *p, unsigned long long u);

/*
 * Writes the decimal form of u at p, which has room for BUF_I64_LEN bytes
 * (no NUL), and returns the byte after the last digit. The one- and
 * two-digit cases, the usual lengths and counts of replies, are inline.
 */
static inline char *buf_put_u64(char *p, unsigned long long u)
{
    if (u < 10) {
        p[0] = (char)('0' + u);
        return p + 1;
    }
    if (u < 100) {
        p[0] = (char)('0' + u / 10);
        p[1] = (char)('0' + u % 10);
        return p + 2;
    }
    return buf_put_u64_wide(p, u);
}

/* buf_put_u64() for a signed value: a '-' and then its magnitude. */
static inline char *buf_put_i64(char *p, long long v)
{
    if (v < 0) {
        *p++ = '-';
        return buf_put_u64(p, 0ULL - (unsigned long long)v);
    }
    return buf_put_u64(p, (unsigned long long)v);
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
