/*
 * This file implements the Avro input format: Avro object container files
 * (what Spark, Hive and most JVM jobs write), with the null, deflate and
 * snappy codecs. The writer's schema comes from the file's header and its
 * top level must be a record: the record's fields are the row's fields, in
 * schema order, the same for every row of the file (one layout per file).
 * Values are mapped as avro_decoder.h says.
 *
 * The container is framed here, every length checked, rather than with
 * libavro's file reader, which trusts the lengths it reads (a damaged
 * file can make it allocate absurd sizes) and ignores codec errors:
 *
 *   header  "Obj" 0x01; metadata, a map of bytes (avro.schema, the JSON
 *           schema; avro.codec, absent for null); a 16-byte sync marker
 *   blocks  long count of records, long size in bytes, the (compressed)
 *           records, the sync marker again
 *
 * A whole block is in memory at a time: at most --max-record-size bytes,
 * compressed and decompressed (a writer's blocks are some 16-64 KiB). The
 * deflate codec is raw deflate (zlib); snappy is one raw snappy block
 * (snappy_decode.h) followed by the big-endian CRC-32 of the decompressed
 * bytes. Records are decoded in place: strings point into the block.
 *
 * A file that does not start with the header, a header without a schema
 * or with another codec, a truncated block, a wrong sync marker, a block
 * whose data does not decode to its count of records: the file is bad,
 * with the block number and byte offset, and reading stops there — there
 * is no reliable way to find the next record. Offsets count bytes of the
 * (decompressed, if the file is gzip) stream: the file's own offsets for
 * a plain .avro file.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "avro_decoder.h"
#include "byte_source.h"
#include "input_reader.h"
#include "snappy_decode.h"
#include "value_arena.h"

#define AVRO_READ_CHUNK (1u << 20) /* bytes asked of the source per read */
#define AVRO_SYNC_SIZE 16
#define AVRO_MAX_VARINT 10
#define AVRO_MAX_BLOCK (1u << 30) /* zlib counts in unsigned int */

enum avro_codec {
    AVRO_CODEC_NULL,
    AVRO_CODEC_DEFLATE,
    AVRO_CODEC_SNAPPY,
};

struct avro_reader {
    struct byte_source *src;
    size_t max_block; /* bytes of a block, compressed or not */

    /* The read buffer: stream bytes [off, off + end - start) are at
       buf[start..end). */
    uint8_t *buf;
    size_t cap;
    size_t start;
    size_t end;
    uint64_t off;
    bool eof;

    /* From the header. */
    struct avdec *dec;
    enum avro_codec codec;
    uint8_t sync[AVRO_SYNC_SIZE];
    struct input_field *fields;
    size_t nfields;
    uint64_t layout;

    /* The current block. */
    uint64_t block_no;      /* 1-based; 0 before the first */
    uint64_t block_off;     /* stream offset of its count */
    uint64_t data_off;      /* stream offset of its data */
    uint64_t records;       /* its count */
    uint64_t record_no;     /* records of it returned so far */
    const uint8_t *bstart;  /* its decoded data */
    const uint8_t *bp;      /* the next record */
    const uint8_t *bend;
    uint8_t *plain;         /* decompressed data (deflate, snappy) */
    size_t plain_cap;
    z_stream z;
    bool z_ready;

    struct value_arena arena;
    enum input_status failed; /* INPUT_ROW, or the error that ended reading */
};

__attribute__((format(printf, 4, 5))) static enum input_status
bad(struct avro_reader *r, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    r->failed = INPUT_BAD_FILE;
    return INPUT_BAD_FILE;
}

/* bad() for the current block: the message starts with its number and
   offset. */
__attribute__((format(printf, 4, 5))) static enum input_status
bad_block(struct avro_reader *r, char *err, size_t errlen, const char *fmt,
          ...)
{
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    return bad(r, err, errlen, "block %llu at byte %llu: %s",
               (unsigned long long)r->block_no,
               (unsigned long long)r->block_off, why);
}

/* ---- buffered input ----------------------------------------------------- */

/*
 * Makes n bytes available at buf + start, reading more as needed. Returns
 * INPUT_ROW when they are there, INPUT_EOF when the stream ends first
 * (what there is stays available), or INPUT_BAD_FILE / INPUT_IO with err.
 */
static enum input_status need(struct avro_reader *r, size_t n, char *err,
                              size_t errlen)
{
    while (r->end - r->start < n) {
        if (r->eof) {
            return INPUT_EOF;
        }
        if (r->start > 0) {
            memmove(r->buf, r->buf + r->start, r->end - r->start);
            r->end -= r->start;
            r->start = 0;
        }
        if (r->cap - r->end < AVRO_READ_CHUNK / 4 || r->cap < n) {
            size_t cap = r->cap ? r->cap : AVRO_READ_CHUNK;
            while (cap < n || cap - r->end < AVRO_READ_CHUNK / 4) {
                cap *= 2;
            }
            uint8_t *nb = realloc(r->buf, cap);
            if (nb == NULL) {
                snprintf(err, errlen, "out of memory");
                r->failed = INPUT_IO;
                return INPUT_IO;
            }
            r->buf = nb;
            r->cap = cap;
        }
        ssize_t got = byte_source_read(r->src, r->buf + r->end,
                                       r->cap - r->end, err, errlen);
        if (got < 0) {
            r->failed = errno == EBADMSG ? INPUT_BAD_FILE : INPUT_IO;
            return r->failed;
        }
        if (got == 0) {
            r->eof = true;
        }
        r->end += (size_t)got;
    }
    return INPUT_ROW;
}

static void consume(struct avro_reader *r, size_t n)
{
    r->start += n;
    r->off += n;
}

/*
 * Reads a zigzag long (what names it in messages). INPUT_ROW, or an error
 * status with err; a stream that ends inside it is truncated.
 */
static enum input_status take_long(struct avro_reader *r, const char *what,
                                   int64_t *out, char *err, size_t errlen)
{
    enum input_status st = need(r, AVRO_MAX_VARINT, err, errlen);
    if (st != INPUT_ROW && st != INPUT_EOF) {
        return st;
    }
    uint64_t v = 0;
    size_t avail = r->end - r->start;
    for (size_t i = 0; i < AVRO_MAX_VARINT; i++) {
        if (i == avail) {
            return bad(r, err, errlen, "truncated: the file ends inside the "
                       "%s at byte %llu", what, (unsigned long long)r->off);
        }
        uint8_t b = r->buf[r->start + i];
        v |= (uint64_t)(b & 0x7F) << (7 * i);
        if ((b & 0x80) == 0) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            consume(r, i + 1);
            return INPUT_ROW;
        }
    }
    return bad(r, err, errlen, "invalid %s at byte %llu (a varint longer "
               "than 10 bytes)", what, (unsigned long long)r->off);
}

/*
 * Makes the next n bytes available at *p (valid until the next read) and
 * consumes them; a stream that ends first is truncated.
 */
static enum input_status take_bytes(struct avro_reader *r, size_t n,
                                    const char *what, const uint8_t **p,
                                    char *err, size_t errlen)
{
    enum input_status st = need(r, n, err, errlen);
    if (st == INPUT_EOF) {
        return bad(r, err, errlen, "truncated: the %s at byte %llu needs "
                   "%zu bytes, the file ends after %zu", what,
                   (unsigned long long)r->off, n, r->end - r->start);
    }
    if (st != INPUT_ROW) {
        return st;
    }
    *p = r->buf + r->start;
    consume(r, n);
    return INPUT_ROW;
}

/* ---- header ------------------------------------------------------------- */

static enum input_status read_header(struct avro_reader *r, char *err,
                                     size_t errlen)
{
    const uint8_t *p = NULL;
    enum input_status st = need(r, 4, err, errlen);
    if (st == INPUT_EOF) {
        return bad(r, err, errlen, "not an Avro object container file: %s",
                   r->end == r->start ? "the file is empty"
                                      : "shorter than its magic");
    }
    if (st != INPUT_ROW) {
        return st;
    }
    if (memcmp(r->buf + r->start, "Obj\x01", 4) != 0) {
        return bad(r, err, errlen, "not an Avro object container file (no "
                   "\"Obj\\x01\" magic at byte 0)");
    }
    consume(r, 4);
    char *schema = NULL;
    size_t schema_len = 0;
    char codec[32] = "null";
    for (;;) {
        int64_t count;
        if ((st = take_long(r, "header's metadata count", &count, err,
                            errlen)) != INPUT_ROW) {
            goto out;
        }
        if (count == 0) {
            break;
        }
        if (count < 0) {
            int64_t size;
            if (count == INT64_MIN ||
                (st = take_long(r, "header's metadata size", &size, err,
                                errlen)) != INPUT_ROW) {
                if (st == INPUT_ROW) {
                    st = bad(r, err, errlen, "invalid header metadata "
                             "count at byte %llu",
                             (unsigned long long)r->off);
                }
                goto out;
            }
            count = -count;
        }
        for (int64_t i = 0; i < count; i++) {
            int64_t klen, vlen;
            const uint8_t *key = NULL, *val = NULL;
            uint64_t at = r->off;
            if ((st = take_long(r, "header's metadata key", &klen, err,
                                errlen)) != INPUT_ROW) {
                goto out;
            }
            if (klen < 0 || (uint64_t)klen > r->max_block) {
                st = bad(r, err, errlen, "invalid header metadata key "
                         "length %lld at byte %llu", (long long)klen,
                         (unsigned long long)at);
                goto out;
            }
            if ((st = take_bytes(r, (size_t)klen, "header's metadata key",
                                 &key, err, errlen)) != INPUT_ROW) {
                goto out;
            }
            char name[32] = "";
            if (klen < (int64_t)sizeof(name)) {
                memcpy(name, key, (size_t)klen);
                name[klen] = '\0';
            }
            at = r->off;
            if ((st = take_long(r, "header's metadata value", &vlen, err,
                                errlen)) != INPUT_ROW) {
                goto out;
            }
            if (vlen < 0 || (uint64_t)vlen > r->max_block) {
                st = bad(r, err, errlen, "invalid header metadata value "
                         "length %lld at byte %llu", (long long)vlen,
                         (unsigned long long)at);
                goto out;
            }
            if ((st = take_bytes(r, (size_t)vlen, "header's metadata value",
                                 &val, err, errlen)) != INPUT_ROW) {
                goto out;
            }
            if (strcmp(name, "avro.schema") == 0) {
                free(schema);
                if ((schema = malloc((size_t)vlen + 1)) == NULL) {
                    snprintf(err, errlen, "out of memory");
                    st = r->failed = INPUT_IO;
                    goto out;
                }
                memcpy(schema, val, (size_t)vlen);
                schema[vlen] = '\0';
                schema_len = (size_t)vlen;
            } else if (strcmp(name, "avro.codec") == 0) {
                if ((size_t)vlen >= sizeof(codec)) {
                    st = bad(r, err, errlen, "unsupported codec '%.*s...' "
                             "(larder reads null, deflate and snappy)",
                             (int)(sizeof(codec) - 1), (const char *)val);
                    goto out;
                }
                memcpy(codec, val, (size_t)vlen);
                codec[vlen] = '\0';
            }
        }
    }
    if ((st = take_bytes(r, AVRO_SYNC_SIZE, "header's sync marker", &p, err,
                         errlen)) != INPUT_ROW) {
        goto out;
    }
    memcpy(r->sync, p, AVRO_SYNC_SIZE);
    if (strcmp(codec, "null") == 0 || codec[0] == '\0') {
        r->codec = AVRO_CODEC_NULL;
    } else if (strcmp(codec, "deflate") == 0) {
        r->codec = AVRO_CODEC_DEFLATE;
    } else if (strcmp(codec, "snappy") == 0) {
        r->codec = AVRO_CODEC_SNAPPY;
    } else {
        st = bad(r, err, errlen, "unsupported codec '%s' (larder reads "
                 "null, deflate and snappy)", codec);
        goto out;
    }
    if (schema == NULL) {
        st = bad(r, err, errlen, "the header has no avro.schema");
        goto out;
    }
    char why[512];
    if (avdec_create(schema, schema_len, &r->dec, why, sizeof(why)) != 0) {
        st = bad(r, err, errlen, "the header's avro.schema: %s", why);
        goto out;
    }
    st = INPUT_ROW;
out:
    free(schema);
    return st;
}

/* ---- blocks ------------------------------------------------------------- */

/* Inflates a deflate block into r->plain; INPUT_ROW or an error. */
static enum input_status inflate_block(struct avro_reader *r,
                                       const uint8_t *data, size_t size,
                                       size_t *outlen, char *err,
                                       size_t errlen)
{
    if (!r->z_ready) {
        memset(&r->z, 0, sizeof(r->z));
        if (inflateInit2(&r->z, -MAX_WBITS) != Z_OK) {
            snprintf(err, errlen, "out of memory");
            return r->failed = INPUT_IO;
        }
        r->z_ready = true;
    } else {
        inflateReset(&r->z);
    }
    r->z.next_in = (Bytef *)data;
    r->z.avail_in = (uInt)size;
    size_t out = 0;
    for (;;) {
        if (out == r->plain_cap) {
            if (r->plain_cap >= r->max_block) {
                return bad_block(r, err, errlen, "decompresses to more "
                                 "than %zu bytes", r->max_block);
            }
            size_t cap = r->plain_cap ? 2 * r->plain_cap : 4 * size + 4096;
            if (cap > r->max_block) {
                cap = r->max_block;
            }
            uint8_t *np = realloc(r->plain, cap);
            if (np == NULL) {
                snprintf(err, errlen, "out of memory");
                return r->failed = INPUT_IO;
            }
            r->plain = np;
            r->plain_cap = cap;
        }
        r->z.next_out = r->plain + out;
        r->z.avail_out = (uInt)(r->plain_cap - out);
        int zr = inflate(&r->z, Z_NO_FLUSH);
        out = r->plain_cap - r->z.avail_out;
        if (zr == Z_STREAM_END) {
            *outlen = out;
            return INPUT_ROW;
        }
        if (zr == Z_OK || (zr == Z_BUF_ERROR && r->z.avail_out == 0)) {
            continue;
        }
        if (zr == Z_MEM_ERROR) {
            snprintf(err, errlen, "out of memory");
            return r->failed = INPUT_IO;
        }
        return bad_block(r, err, errlen, "deflate data %s",
                         zr == Z_BUF_ERROR ? "ends early"
                                           : (r->z.msg ? r->z.msg
                                                       : "damaged"));
    }
}

/* Decodes a snappy block (data, then a CRC-32) into r->plain. */
static enum input_status unsnappy_block(struct avro_reader *r,
                                        const uint8_t *data, size_t size,
                                        size_t *outlen, char *err,
                                        size_t errlen)
{
    size_t len;
    if (size < 5 || snappy_decode_length(data, size - 4, &len) != 0) {
        return bad_block(r, err, errlen, "invalid snappy data");
    }
    if (len > r->max_block) {
        return bad_block(r, err, errlen, "decompresses to %zu bytes, more "
                         "than %zu", len, r->max_block);
    }
    if (len > r->plain_cap) {
        uint8_t *np = realloc(r->plain, len);
        if (np == NULL) {
            snprintf(err, errlen, "out of memory");
            return r->failed = INPUT_IO;
        }
        r->plain = np;
        r->plain_cap = len;
    }
    char why[256];
    if (snappy_decode(data, size - 4, r->plain, len, why, sizeof(why)) != 0) {
        return bad_block(r, err, errlen, "%s", why);
    }
    const uint8_t *c = data + size - 4;
    uint32_t want = (uint32_t)c[0] << 24 | (uint32_t)c[1] << 16 |
                    (uint32_t)c[2] << 8 | c[3];
    uint32_t crc = (uint32_t)crc32(0L, r->plain, (uInt)len);
    if (crc != want) {
        return bad_block(r, err, errlen, "snappy CRC-32 mismatch");
    }
    *outlen = len;
    return INPUT_ROW;
}

/*
 * Reads the next block and makes its records current. INPUT_ROW,
 * INPUT_EOF at the end of the file (between blocks), or an error.
 */
static enum input_status next_block(struct avro_reader *r, char *err,
                                    size_t errlen)
{
    enum input_status st = need(r, 1, err, errlen);
    if (st == INPUT_EOF && r->end == r->start) {
        return INPUT_EOF;
    }
    if (st != INPUT_ROW && st != INPUT_EOF) {
        return st;
    }
    r->block_no++;
    r->block_off = r->off;
    int64_t count = 0, size = 0;
    if ((st = take_long(r, "block's record count", &count, err, errlen)) !=
            INPUT_ROW ||
        (st = take_long(r, "block's size", &size, err, errlen)) !=
            INPUT_ROW) {
        if (st == INPUT_BAD_FILE) {
            char why[512];
            snprintf(why, sizeof(why), "%s", err);
            return bad_block(r, err, errlen, "%s", why);
        }
        return st;
    }
    if (count < 0 || size < 0 || (uint64_t)size > r->max_block) {
        return bad_block(r, err, errlen, "invalid header (%lld records, "
                         "%lld bytes; at most %zu bytes)", (long long)count,
                         (long long)size, r->max_block);
    }
    r->data_off = r->off;
    st = need(r, (size_t)size + AVRO_SYNC_SIZE, err, errlen);
    if (st == INPUT_EOF) {
        return bad_block(r, err, errlen, "truncated: it needs %lld bytes "
                         "and its sync marker, the file ends after %zu",
                         (long long)size, r->end - r->start);
    }
    if (st != INPUT_ROW) {
        return st;
    }
    const uint8_t *data = r->buf + r->start;
    if (memcmp(data + size, r->sync, AVRO_SYNC_SIZE) != 0) {
        return bad_block(r, err, errlen, "wrong sync marker at byte %llu "
                         "(damaged data)",
                         (unsigned long long)(r->data_off + (uint64_t)size));
    }
    consume(r, (size_t)size + AVRO_SYNC_SIZE);
    size_t len = (size_t)size;
    switch (r->codec) {
    case AVRO_CODEC_NULL:
        r->bstart = data;
        break;
    case AVRO_CODEC_DEFLATE:
        st = inflate_block(r, data, (size_t)size, &len, err, errlen);
        r->bstart = r->plain;
        break;
    case AVRO_CODEC_SNAPPY:
        st = unsnappy_block(r, data, (size_t)size, &len, err, errlen);
        r->bstart = r->plain;
        break;
    }
    if (st != INPUT_ROW) {
        return st;
    }
    r->bp = r->bstart;
    r->bend = r->bstart + len;
    r->records = (uint64_t)count;
    r->record_no = 0;
    return INPUT_ROW;
}

/* ---- the format --------------------------------------------------------- */

static void avro_close(void *state)
{
    struct avro_reader *r = state;
    if (r == NULL) {
        return;
    }
    byte_source_close(r->src);
    avdec_destroy(&r->dec);
    if (r->z_ready) {
        inflateEnd(&r->z);
    }
    free(r->buf);
    free(r->plain);
    free(r->fields);
    value_arena_deinit(&r->arena);
    free(r);
}

static enum input_status avro_open(const char *path,
                                   const struct input_reader_options *o,
                                   void **state, char *err, size_t errlen)
{
    struct avro_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return INPUT_IO;
    }
    if (byte_source_open(path, &r->src, err, errlen) != 0) {
        int e = errno;
        free(r);
        return e == ENOMEM ? INPUT_IO : INPUT_NOT_FOUND;
    }
    r->max_block = o->max_record < AVRO_MAX_BLOCK ? o->max_record
                                                  : AVRO_MAX_BLOCK;
    r->failed = INPUT_ROW;
    enum input_status st = read_header(r, err, errlen);
    if (st != INPUT_ROW) {
        avro_close(r);
        return st;
    }
    r->nfields = avdec_field_count(r->dec);
    r->fields = calloc(r->nfields ? r->nfields : 1, sizeof(*r->fields));
    if (r->fields == NULL) {
        snprintf(err, errlen, "out of memory");
        avro_close(r);
        return INPUT_IO;
    }
    avdec_field_names(r->dec, r->fields);
    r->layout = input_layout_new();
    *state = r;
    return INPUT_ROW;
}

static enum input_status avro_next(void *state, struct input_row *row,
                                   struct input_pos *pos, char *err,
                                   size_t errlen)
{
    struct avro_reader *r = state;
    if (r->failed != INPUT_ROW) {
        snprintf(err, errlen, "reading stopped at an earlier error");
        return r->failed;
    }
    while (r->record_no == r->records) {
        if (r->bp != r->bend) {
            return bad_block(r, err, errlen, "%zu bytes left after its "
                             "%llu records (damaged data)",
                             (size_t)(r->bend - r->bp),
                             (unsigned long long)r->records);
        }
        enum input_status st = next_block(r, err, errlen);
        if (st != INPUT_ROW) {
            return st;
        }
    }
    value_arena_reset(&r->arena);
    pos->line = 0;
    pos->offset = r->codec == AVRO_CODEC_NULL
                      ? r->data_off + (uint64_t)(r->bp - r->bstart)
                      : r->block_off;
    char why[256];
    if (avdec_record(r->dec, &r->bp, r->bend, r->fields, &r->arena, why,
                     sizeof(why)) != 0) {
        return bad_block(r, err, errlen, "record %llu: %s",
                         (unsigned long long)r->record_no + 1, why);
    }
    r->record_no++;
    row->n = r->nfields;
    row->fields = r->fields;
    row->layout = r->layout;
    return INPUT_ROW;
}

const struct input_format input_format_avro = {
    .name = "avro",
    .open = avro_open,
    .next = avro_next,
    .close = avro_close,
};
