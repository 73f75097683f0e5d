/*
 * memeq.h: an inline equality test for short byte strings — keys and
 * table names on the read path — where a call to libc memcmp costs more
 * than the comparison it makes. It compares 8 bytes at a time with
 * unaligned loads, the last word overlapping the one before, so it never
 * reads outside either string. Equality only: no order.
 */
#ifndef LARDER_MEMEQ_H
#define LARDER_MEMEQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t memeq_load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

static inline uint32_t memeq_load32(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* True if the n bytes at a and at b are the same. */
static inline bool memeq(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            if (memeq_load64(x + i) != memeq_load64(y + i)) {
                return false;
            }
        }
        return memeq_load64(x + n - 8) == memeq_load64(y + n - 8);
    }
    if (n >= 4) {
        return memeq_load32(x) == memeq_load32(y) &&
               memeq_load32(x + n - 4) == memeq_load32(y + n - 4);
    }
    for (size_t i = 0; i < n; i++) {
        if (x[i] != y[i]) {
            return false;
        }
    }
    return true;
}

#endif
