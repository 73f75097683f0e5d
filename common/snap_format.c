/*
 * This file implements the segment codec of snap_format.h: the header
 * codec with its range checks, and snap_image, which verifies a whole
 * segment held in memory and looks keys up in it.
 *
 * Lookups walk the index from the key's home slot with linear probing.
 * An empty slot (the word 0: record offsets are never 0, the header comes
 * first) ends the walk; a slot whose fingerprint matches is followed to its
 * record, whose key is compared. Every record offset and length is checked
 * against the data region before it is used.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "snap_format.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

uint64_t snap_slots_for(uint64_t rows)
{
    return rows + (rows + 3) / 4 + (rows == 0);
}

bool snap_table_name_valid(const char *name)
{
    size_t n = 0;
    for (; name[n] != '\0'; n++) {
        char c = name[n];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok || n == SNAP_TABLE_MAX) {
            return false;
        }
    }
    return n > 0;
}

void snap_header_encode(const struct snap_header *h, uint8_t *out)
{
    memset(out, 0, SNAP_HEADER_BYTES);
    memcpy(out + SNAP_H_MAGIC, SNAP_MAGIC, SNAP_MAGIC_BYTES);
    snap_put_le32(out + SNAP_H_FORMAT, h->format);
    snap_put_le32(out + SNAP_H_PARTITION, h->partition);
    snap_put_le32(out + SNAP_H_PARTITIONS, h->partitions);
    snap_put_le32(out + SNAP_H_DIMS, h->dims);
    snap_put_le64(out + SNAP_H_VERSION, h->version);
    snap_put_le64(out + SNAP_H_ROWS, h->rows);
    snap_put_le64(out + SNAP_H_INDEX_OFF, h->index_off);
    snap_put_le64(out + SNAP_H_SLOTS, h->slots);
    snap_put_le64(out + SNAP_H_DATA_OFF, h->data_off);
    snap_put_le64(out + SNAP_H_DATA_BYTES, h->data_bytes);
    snap_put_le64(out + SNAP_H_KEY_BYTES, h->key_bytes);
    snap_put_le64(out + SNAP_H_VALUE_BYTES, h->value_bytes);
    memcpy(out + SNAP_H_TABLE, h->table, strnlen(h->table, SNAP_TABLE_MAX));
}

/* The header's table field: a valid name, then NUL bytes only. */
static bool table_field_ok(const uint8_t *field)
{
    char name[SNAP_TABLE_MAX + 1];
    memcpy(name, field, SNAP_TABLE_MAX);
    name[SNAP_TABLE_MAX] = '\0';
    for (size_t i = strlen(name); i < SNAP_TABLE_MAX; i++) {
        if (field[i] != 0) {
            return false;
        }
    }
    return snap_table_name_valid(name);
}

/*
 * Checks what every format shares and a reader must check first: magic,
 * format version, minimum length. Sets *format.
 */
static int check_preamble(const uint8_t *p, uint64_t file_len,
                          uint32_t *format, char *err, size_t errlen)
{
    const uint64_t min_len = SNAP_HEADER_BYTES + SNAP_FOOTER_BYTES;
    if (file_len < SNAP_MAGIC_BYTES ||
        memcmp(p + SNAP_H_MAGIC, SNAP_MAGIC, SNAP_MAGIC_BYTES) != 0) {
        snprintf(err, errlen, "not a larder segment (bad magic)");
        return -1;
    }
    if (file_len < SNAP_H_FORMAT + 4) {
        snprintf(err, errlen, "truncated segment: %" PRIu64 " bytes",
                 file_len);
        return -1;
    }
    *format = snap_le32(p + SNAP_H_FORMAT);
    if (*format > SNAP_FORMAT_NEWEST) {
        snprintf(err, errlen,
                 "segment format %u is newer than this build reads (max %u); "
                 "upgrade larderd", *format, SNAP_FORMAT_NEWEST);
        return -1;
    }
    if (*format < SNAP_FORMAT_OLDEST) {
        snprintf(err, errlen,
                 "segment format %u is older than this build reads (min %u)",
                 *format, SNAP_FORMAT_OLDEST);
        return -1;
    }
    if (file_len < min_len) {
        snprintf(err, errlen,
                 "truncated segment: %" PRIu64 " bytes, at least %" PRIu64
                 " expected", file_len, min_len);
        return -1;
    }
    return 0;
}

int snap_header_decode(const uint8_t *p, uint64_t file_len,
                       struct snap_header *h, char *err, size_t errlen)
{
    memset(h, 0, sizeof(*h));
    if (check_preamble(p, file_len, &h->format, err, errlen) != 0) {
        return -1;
    }
    h->partition = snap_le32(p + SNAP_H_PARTITION);
    h->partitions = snap_le32(p + SNAP_H_PARTITIONS);
    h->dims = snap_le32(p + SNAP_H_DIMS);
    h->version = snap_le64(p + SNAP_H_VERSION);
    h->rows = snap_le64(p + SNAP_H_ROWS);
    h->index_off = snap_le64(p + SNAP_H_INDEX_OFF);
    h->slots = snap_le64(p + SNAP_H_SLOTS);
    h->data_off = snap_le64(p + SNAP_H_DATA_OFF);
    h->data_bytes = snap_le64(p + SNAP_H_DATA_BYTES);
    h->key_bytes = snap_le64(p + SNAP_H_KEY_BYTES);
    h->value_bytes = snap_le64(p + SNAP_H_VALUE_BYTES);
    memcpy(h->table, p + SNAP_H_TABLE, SNAP_TABLE_MAX);
    h->table[SNAP_TABLE_MAX] = '\0';

    const char *bad = NULL;
    uint64_t body = file_len - SNAP_FOOTER_BYTES;
    if (!table_field_ok(p + SNAP_H_TABLE)) {
        bad = "table name";
    } else if (h->partitions == 0 || h->partition >= h->partitions) {
        bad = "partition";
    } else if (h->index_off != SNAP_HEADER_BYTES) {
        bad = "index offset";
    } else if (h->slots == 0 || h->slots > SNAP_MAX_SLOTS ||
               h->rows >= h->slots) {
        bad = "slot or row count";
    } else if (h->slots > (body - h->index_off) / SNAP_SLOT_BYTES ||
               h->data_off != h->index_off + h->slots * SNAP_SLOT_BYTES) {
        bad = "data offset";
    } else if (h->data_bytes != body - h->data_off ||
               body > SNAP_MAX_FILE_BYTES) {
        bad = "data size";
    } else if (h->key_bytes > h->data_bytes ||
               h->value_bytes > h->data_bytes - h->key_bytes ||
               h->rows > h->data_bytes / 2) {
        bad = "row, key or value totals";
    }
    if (bad != NULL) {
        snprintf(err, errlen, "damaged segment header: bad %s", bad);
        return -1;
    }
    return 0;
}

int snap_image_open(struct snap_image *img, const void *base, uint64_t len,
                    uint64_t *file_checksum, char *err, size_t errlen)
{
    const uint8_t *p = base;
    uint32_t format;
    memset(img, 0, sizeof(*img));
    if (check_preamble(p, len, &format, err, errlen) != 0) {
        return -1;
    }
    uint64_t body = len - SNAP_FOOTER_BYTES;
    if (memcmp(p + body + 8, SNAP_FOOTER_MAGIC, SNAP_MAGIC_BYTES) != 0) {
        snprintf(err, errlen, "damaged or truncated segment: no footer magic");
        return -1;
    }
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    XXH3_64bits_update(&st, p, (size_t)body);
    uint64_t computed = XXH3_64bits_digest(&st);
    uint64_t stored = snap_le64(p + body);
    if (computed != stored) {
        snprintf(err, errlen,
                 "segment checksum mismatch: footer says %016" PRIx64
                 ", contents hash to %016" PRIx64, stored, computed);
        return -1;
    }
    if (snap_header_decode(p, len, &img->h, err, errlen) != 0) {
        return -1;
    }
    if (file_checksum != NULL) {
        XXH3_64bits_update(&st, p + body, SNAP_FOOTER_BYTES);
        *file_checksum = XXH3_64bits_digest(&st);
    }
    img->base = p;
    img->len = len;
    img->index = p + img->h.index_off;
    img->data_end = img->h.data_off + img->h.data_bytes;
    return 0;
}

int snap_image_next(const struct snap_image *img, uint64_t *cursor,
                    const uint8_t **key, size_t *klen, const uint8_t **value,
                    size_t *vlen)
{
    uint64_t off = img->h.data_off + *cursor;
    if (off == img->data_end) {
        return 0;
    }
    uint64_t kl, vl, next;
    if (*cursor >= img->h.data_bytes ||
        !snap_record_at(img, off, key, &kl, value, &vl, &next)) {
        return -1;
    }
    *klen = (size_t)kl;
    *vlen = (size_t)vl;
    *cursor = next - img->h.data_off;
    return 1;
}
