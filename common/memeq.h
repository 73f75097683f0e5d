/*
 * memeq.h: an inline equality test for short byte strings — keys and
 * table names on the read path — where a call to libc memcmp costs more
 * than the comparison it makes. It compares 8 bytes at a time with
 * unaligned loads, the last word overlapping the one before, so it never
 * reads outside either string. Equality only: no order. memeq_masked() is
 * the same test with a mask OR-ed into one side first, which makes a
 * case-insensitive comparison with a known lower-case string.
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

static inline uint16_t memeq_load16(const unsigned char *p)
{
    uint16_t v;
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

/*
 * True if (a[i] | mask[i]) == b[i] for every i < n. With b lower case and
 * mask 0x20 where b has a letter (else 0), it is true exactly when a
 * equals b ignoring the case of ASCII letters.
 */
static inline bool memeq_masked(const void *a, const void *mask,
                                const void *b, size_t n)
{
    const unsigned char *x = a, *m = mask, *y = b;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            if ((memeq_load64(x + i) | memeq_load64(m + i)) !=
                memeq_load64(y + i)) {
                return false;
            }
        }
        size_t i = n - 8;
        return (memeq_load64(x + i) | memeq_load64(m + i)) ==
               memeq_load64(y + i);
    }
    if (n >= 4) {
        size_t i = n - 4;
        return (memeq_load32(x) | memeq_load32(m)) == memeq_load32(y) &&
               (memeq_load32(x + i) | memeq_load32(m + i)) ==
                   memeq_load32(y + i);
    }
    if (n >= 2) {
        size_t i = n - 2;
        return (uint16_t)(memeq_load16(x) | memeq_load16(m)) ==
                   memeq_load16(y) &&
               (uint16_t)(memeq_load16(x + i) | memeq_load16(m + i)) ==
                   memeq_load16(y + i);
    }
    return n == 0 || (x[0] | m[0]) == y[0];
}

#endif
