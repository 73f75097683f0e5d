/*
 * snap_format.h: the byte layout of a snapshot segment file, shared by the
 * writer (loader/snapshot_writer.c) and the reader (common/segment.c). The
 * layout is specified byte by byte in docs/snapshot-format.md; in short:
 *
 *   header (152 bytes) | index (slots x 8 bytes) | data (records) | footer
 *
 * This file holds the constants, the little-endian and varint codecs, the
 * header codec, the index slot arithmetic and snap_image, a reader over the
 * bytes of a whole segment (verification, lookup, iteration). Nothing here
 * does I/O: callers bring the bytes (a mapping, a buffer) and the writer
 * writes them.
 *
 * Every multi-byte integer is little-endian, whatever the host.
 */
#ifndef LARDER_SNAP_FORMAT_H
#define LARDER_SNAP_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memeq.h"

/*
 * Format versions. A build writes SNAP_FORMAT_NEWEST (or, on request, any
 * format it reads) and reads [SNAP_FORMAT_OLDEST, SNAP_FORMAT_NEWEST]: its
 * own format N and N-1. Format 1 is the first, so there is no N-1 yet.
 */
#define SNAP_FORMAT_NEWEST 1u
#define SNAP_FORMAT_OLDEST 1u

/* Sizes and limits of format 1. */
#define SNAP_MAGIC "LARDSEG"       /* 8 bytes with its NUL */
#define SNAP_FOOTER_MAGIC "LARDEND" /* 8 bytes with its NUL */
#define SNAP_MAGIC_BYTES 8
#define SNAP_HEADER_BYTES 152
#define SNAP_FOOTER_BYTES 16        /* u64 checksum + footer magic */
#define SNAP_SLOT_BYTES 8
#define SNAP_TABLE_MAX 64           /* table name bytes, [A-Za-z0-9_.-] */
#define SNAP_FP_BITS 24             /* slot: fingerprint in the top 24 bits */
#define SNAP_OFF_BITS 40            /* ... record file offset in the low 40 */
#define SNAP_OFF_MASK ((UINT64_C(1) << SNAP_OFF_BITS) - 1)
#define SNAP_MAX_FILE_BYTES (UINT64_C(1) << SNAP_OFF_BITS) /* 1 TiB */
#define SNAP_MAX_SLOTS (UINT64_C(1) << 32) /* home slots use 32 hash bits */
#define SNAP_VARINT_MAX 10          /* bytes of the longest u64 varint */
#define SNAP_FP_MULT UINT64_C(0x9E3779B97F4A7C15)

/* Byte offsets of the header fields (format 1). */
enum snap_header_field {
    SNAP_H_MAGIC = 0,        /* 8 bytes "LARDSEG\0" */
    SNAP_H_FORMAT = 8,       /* u32 format version */
    SNAP_H_PARTITION = 12,   /* u32 */
    SNAP_H_PARTITIONS = 16,  /* u32 */
    SNAP_H_DIMS = 20,        /* u32, 0 unless a vector table */
    SNAP_H_VERSION = 24,     /* u64 table version */
    SNAP_H_ROWS = 32,        /* u64 records in the data region */
    SNAP_H_INDEX_OFF = 40,   /* u64 file offset of the index (= 152) */
    SNAP_H_SLOTS = 48,       /* u64 index slots */
    SNAP_H_DATA_OFF = 56,    /* u64 file offset of the data region */
    SNAP_H_DATA_BYTES = 64,  /* u64 size of the data region */
    SNAP_H_KEY_BYTES = 72,   /* u64 sum of key lengths */
    SNAP_H_VALUE_BYTES = 80, /* u64 sum of value lengths */
    SNAP_H_TABLE = 88,       /* 64 bytes, the name NUL-padded */
};

/* The decoded header. */
struct snap_header {
    uint32_t format;
    uint32_t partition;
    uint32_t partitions;
    uint32_t dims;
    uint64_t version;
    uint64_t rows;
    uint64_t index_off;
    uint64_t slots;
    uint64_t data_off;
    uint64_t data_bytes;
    uint64_t key_bytes;
    uint64_t value_bytes;
    char table[SNAP_TABLE_MAX + 1];
};

/* ---- little-endian integers -------------------------------------------- */

static inline uint32_t snap_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

static inline uint64_t snap_le64(const uint8_t *p)
{
    return (uint64_t)snap_le32(p) | (uint64_t)snap_le32(p + 4) << 32;
}

static inline void snap_put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static inline void snap_put_le64(uint8_t *p, uint64_t v)
{
    snap_put_le32(p, (uint32_t)v);
    snap_put_le32(p + 4, (uint32_t)(v >> 32));
}

/* ---- varints: unsigned LEB128, 7 bits a byte, low groups first ---------- */

static inline size_t snap_varint_size(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

/* Writes v at p (room for SNAP_VARINT_MAX bytes); returns bytes written. */
static inline size_t snap_varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/*
 * Reads a varint from [p, end); returns the bytes it took, or 0 if it runs
 * past end, is longer than SNAP_VARINT_MAX bytes or overflows 64 bits.
 */
static inline size_t snap_varint_get(const uint8_t *p, const uint8_t *end,
                                     uint64_t *v)
{
    if (p < end && p[0] < 0x80) {
        *v = p[0];
        return 1;
    }
    uint64_t r = 0;
    for (size_t i = 0; i < SNAP_VARINT_MAX && p + i < end; i++) {
        uint64_t b = p[i] & 0x7f;
        if (i == SNAP_VARINT_MAX - 1 && b > 1) {
            return 0;
        }
        r |= b << (7 * i);
        if (p[i] < 0x80) {
            *v = r;
            return i + 1;
        }
    }
    return 0;
}

/* ---- index slots ------------------------------------------------------- */

/*
 * A key's home slot: a multiply-shift range reduction of the high 32 bits
 * of its hash (the partition, hash % partitions, mostly depends on the low
 * bits). Monotone in the hash, so rows sorted by hash fill the index in
 * order.
 */
static inline uint64_t snap_slot_home(uint64_t hash, uint64_t slots)
{
    return ((hash >> 32) * slots) >> 32;
}

/*
 * A key's 24-bit fingerprint: the top bits of the hash times an odd
 * constant, which mixes in the low 32 bits of the hash — those that do
 * not decide the home slot — so neighbours in the index rarely share it.
 */
static inline uint64_t snap_slot_fp(uint64_t hash)
{
    return (hash * SNAP_FP_MULT) >> SNAP_OFF_BITS;
}

/* A slot word: fingerprint and the record's file offset (never 0). */
static inline uint64_t snap_slot_make(uint64_t hash, uint64_t offset)
{
    return snap_slot_fp(hash) << SNAP_OFF_BITS | offset;
}

/* Slots for rows keys: load factor at most 0.8, and at least one empty. */
uint64_t snap_slots_for(uint64_t rows);

/* Bytes of one record: varint klen, varint vlen, key, value. */
static inline uint64_t snap_record_size(uint64_t klen, uint64_t vlen)
{
    return snap_varint_size(klen) + snap_varint_size(vlen) + klen + vlen;
}

/* True if name is [A-Za-z0-9_.-]{1,64}. */
bool snap_table_name_valid(const char *name);

/* ---- header ------------------------------------------------------------ */

/* Encodes h into out[0, SNAP_HEADER_BYTES) (h->table must be valid). */
void snap_header_encode(const struct snap_header *h, uint8_t *out);

/*
 * Decodes and checks the header of a file of file_len bytes starting at p:
 * magic, format version (a newer format is refused with "segment format N
 * is newer than this build reads (max M); upgrade larderd"), and that
 * every field is in range and every region lies inside the file. Returns
 * 0, or -1 with a message in err.
 */
int snap_header_decode(const uint8_t *p, uint64_t file_len,
                       struct snap_header *h, char *err, size_t errlen);

/* ---- reading a whole segment -------------------------------------------- */

/* A verified segment image; borrows the bytes it was opened on. */
struct snap_image {
    const uint8_t *base;
    uint64_t len;
    struct snap_header h;
    const uint8_t *index; /* base + h.index_off */
    uint64_t data_end;    /* file offset just past the data region */
};

/*
 * Verifies the len bytes at base as a segment and sets up img to read
 * them. In order: magic, format version, length, footer magic, the
 * footer's xxh3-64 of every byte before the footer (so damage anywhere
 * else is reported as a checksum mismatch), then the header fields as
 * snap_header_decode does. Reads the whole image once. *file_checksum
 * (if not NULL) receives the xxh3-64 of all len bytes, the checksum
 * manifests record. Returns 0 or -1 with err.
 */
int snap_image_open(struct snap_image *img, const void *base, uint64_t len,
                    uint64_t *file_checksum, char *err, size_t errlen);

/*
 * Decodes the record at file offset off, checking it lies inside the data
 * region of img. Returns false if it does not.
 */
static inline bool snap_record_at(const struct snap_image *img,
                                  uint64_t off, const uint8_t **key,
                                  uint64_t *klen, const uint8_t **value,
                                  uint64_t *vlen, uint64_t *next)
{
    if (off < img->h.data_off || off >= img->data_end) {
        return false;
    }
    const uint8_t *p = img->base + off;
    const uint8_t *end = img->base + img->data_end;
    size_t n = snap_varint_get(p, end, klen);
    if (n == 0) {
        return false;
    }
    p += n;
    n = snap_varint_get(p, end, vlen);
    if (n == 0) {
        return false;
    }
    p += n;
    uint64_t room = (uint64_t)(end - p);
    if (*klen > room || *vlen > room - *klen) {
        return false;
    }
    *key = p;
    *value = p + *klen;
    *next = (uint64_t)(*value + *vlen - img->base);
    return true;
}

/*
 * Finds key (hash = xxh3_64(key)). Returns true with *value pointing into
 * the image, or false if absent. Every offset and length read from the
 * image is checked against it, so a damaged image can never make this read
 * outside [base, base + len): such an entry is treated as absent. Inline:
 * it is the read path of every batch lookup.
 */
static inline bool snap_image_get(const struct snap_image *img,
                                  const void *key, size_t klen,
                                  uint64_t hash, const uint8_t **value,
                                  size_t *vlen)
{
    const uint64_t slots = img->h.slots;
    const uint64_t fp = snap_slot_fp(hash);
    uint64_t i = snap_slot_home(hash, slots);
    for (uint64_t probes = 0; probes < slots; probes++) {
        uint64_t w = snap_le64(img->index + i * SNAP_SLOT_BYTES);
        if (w == 0) {
            return false;
        }
        if (w >> SNAP_OFF_BITS == fp) {
            const uint8_t *k, *v;
            uint64_t kl, vl, next;
            if (snap_record_at(img, w & SNAP_OFF_MASK, &k, &kl, &v, &vl,
                               &next) &&
                kl == klen && memeq(k, key, klen)) {
                *value = v;
                *vlen = (size_t)vl;
                return true;
            }
        }
        if (++i == slots) {
            i = 0;
        }
    }
    return false;
}

/*
 * Iterates over the records in file order. *cursor starts at 0. Returns 1
 * with the next record, 0 at the end, -1 if the data region is damaged.
 */
int snap_image_next(const struct snap_image *img, uint64_t *cursor,
                    const uint8_t **key, size_t *klen, const uint8_t **value,
                    size_t *vlen);

#endif
