/*
 * This file implements snappy_decode: a bounds-checked decoder of raw
 * snappy blocks, written from the published format description. Literals
 * and copies whose source does not overlap their destination are one
 * memcpy; overlapping copies (a run repeating a short pattern) go byte by
 * byte, which is what makes them repeat.
 */
#include "snappy_decode.h"

#include <stdio.h>
#include <string.h>

/* Reads the length varint; the number of bytes it took, or 0 if invalid. */
static size_t read_length(const uint8_t *src, size_t srclen, size_t *out)
{
    uint64_t v = 0;
    for (size_t i = 0; i < srclen && i < 5; i++) {
        v |= (uint64_t)(src[i] & 0x7F) << (7 * i);
        if ((src[i] & 0x80) == 0) {
            if (v > UINT32_MAX) {
                return 0;
            }
            *out = (size_t)v;
            return i + 1;
        }
    }
    return 0;
}

int snappy_decode_length(const uint8_t *src, size_t srclen, size_t *out)
{
    return read_length(src, srclen, out) == 0 ? -1 : 0;
}

/* Little-endian unsigned integer of n (1..4) bytes. */
static uint32_t load_le(const uint8_t *p, size_t n)
{
    uint32_t v = 0;
    for (size_t i = 0; i < n; i++) {
        v |= (uint32_t)p[i] << (8 * i);
    }
    return v;
}

int snappy_decode(const uint8_t *src, size_t srclen, uint8_t *dst,
                  size_t dstlen, char *err, size_t errlen)
{
    size_t announced;
    size_t ip = read_length(src, srclen, &announced);
    if (ip == 0) {
        snprintf(err, errlen, "snappy: invalid length header");
        return -1;
    }
    if (announced != dstlen) {
        snprintf(err, errlen, "snappy: length %zu, expected %zu", announced,
                 dstlen);
        return -1;
    }
    size_t op = 0;
    while (ip < srclen) {
        uint8_t tag = src[ip++];
        size_t len;
        size_t offset;
        switch (tag & 3) {
        case 0: /* literal */
            len = (size_t)(tag >> 2) + 1;
            if (len > 60) {
                size_t nb = len - 60; /* 1..4 length bytes */
                if (srclen - ip < nb) {
                    snprintf(err, errlen, "snappy: truncated literal "
                             "length at byte %zu", ip);
                    return -1;
                }
                len = (size_t)load_le(src + ip, nb) + 1;
                ip += nb;
            }
            if (srclen - ip < len || dstlen - op < len) {
                snprintf(err, errlen, "snappy: literal of %zu bytes at byte "
                         "%zu overruns the block", len, ip);
                return -1;
            }
            memcpy(dst + op, src + ip, len);
            ip += len;
            op += len;
            continue;
        case 1: /* copy, 11-bit offset */
            if (srclen - ip < 1) {
                goto truncated;
            }
            len = (size_t)((tag >> 2) & 7) + 4;
            offset = ((size_t)(tag >> 5) << 8) | src[ip];
            ip += 1;
            break;
        case 2: /* copy, 16-bit offset */
            if (srclen - ip < 2) {
                goto truncated;
            }
            len = (size_t)(tag >> 2) + 1;
            offset = load_le(src + ip, 2);
            ip += 2;
            break;
        default: /* copy, 32-bit offset */
            if (srclen - ip < 4) {
                goto truncated;
            }
            len = (size_t)(tag >> 2) + 1;
            offset = load_le(src + ip, 4);
            ip += 4;
            break;
        }
        if (offset == 0 || offset > op || dstlen - op < len) {
            snprintf(err, errlen, "snappy: copy of %zu bytes from offset %zu "
                     "at output byte %zu is out of bounds", len, offset, op);
            return -1;
        }
        if (offset >= len) {
            memcpy(dst + op, dst + op - offset, len);
        } else {
            for (size_t i = 0; i < len; i++) {
                dst[op + i] = dst[op - offset + i];
            }
        }
        op += len;
    }
    if (op != dstlen) {
        snprintf(err, errlen, "snappy: %zu bytes decoded, %zu announced", op,
                 dstlen);
        return -1;
    }
    return 0;

truncated:
    snprintf(err, errlen, "snappy: truncated copy at byte %zu", ip);
    return -1;
}
