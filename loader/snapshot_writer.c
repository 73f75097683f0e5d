/*
 * This file implements the snapshot writer of snapshot_writer.h: it builds
 * one segment file (docs/snapshot-format.md) from the rows of a partition.
 *
 * Rows. snap_writer_add() appends each row to one growable arena already
 * encoded as the record it will become (varint klen, varint vlen, key,
 * value) and pushes (hash, arena offset, record size) onto a row array.
 * Arena offsets grow with input order, which the duplicate policy relies
 * on. Keeping the size in the row lets the index be built without
 * touching the arena; only the final copy of the records reads it, in
 * hash order, prefetching ahead.
 *
 * Finishing. The row array is sorted by hash: a counting sort by the
 * high 32 bits into about n/2 buckets (hashes are uniform, so buckets are
 * tiny), then an insertion sort inside each bucket (qsort for the rare big
 * one). Runs of rows with the same 64-bit hash are then sorted by (key,
 * arena offset), so duplicates sit next to each other with the last one
 * added last, and distinct keys that collide on all 64 bits come out in
 * key order: the file depends only on the set of rows, not on the order
 * they came in. Duplicates fail the build or keep the last row.
 *
 * Index. Because the home slot is monotone in the hash, rows in hash order
 * are placed with one forward pass: each goes to max(home, previous slot +
 * 1); the few that run past the end wrap to the first free slots at the
 * start. The result is the table linear probing would build, at the cost
 * of a sequential write. Records are written in the same order, so a
 * key's record sits near its neighbours' in the index.
 *
 * Output goes through atomic_file (temporary name, rename, and with the
 * sync option the fsyncs), hashed as it is written, so the file's checksum
 * costs no second read.
 *
 * Chunks. When the rows held (records plus SW_ROW_COST bytes a row of
 * sorting space) would pass the memory budget, the writer sorts them by
 * (hash, key, input order) as above, appends them as one chunk to its
 * chunk file (snapshot_chunks.h), and starts over with empty buffers. A
 * row's input order across chunks is its seq: the bytes of records added
 * before it, which grows with input order like an arena offset. At finish
 * (what it still holds becomes the last chunk) the chunks are merged,
 * with the same deduplication as above on adjacent rows of equal hash and
 * key, three times: to count the rows kept, which sizes the index; to
 * place them in the index as above; to stream the records after header
 * and index. The file is thus written in order and hashed as it goes, and
 * is the same, byte for byte, as the in-memory path would write; memory
 * is the index, 8 bytes a slot (10 a row), plus the merge's buffers.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "snapshot_writer.h"

#include "atomic_file.h"
#include "snap_format.h"
#include "snapshot_chunks.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits and tuning of the writer, in one place. */
enum {
    SW_ARENA_MIN = 1 << 20,   /* first arena allocation */
    SW_ROWS_MIN = 1 << 14,    /* first row array allocation */
    SW_OUT_BUF = 1 << 20,     /* output buffer for records */
    SW_KEY_SHOWN = 64,        /* key bytes quoted in a duplicate error */
    SW_PREFETCH = 16,         /* rows ahead whose records are prefetched */
    SW_ROWS_PER_BUCKET = 2,   /* sorting: rows per bucket, on average */
    SW_INSERTION_MAX = 16,    /* larger buckets are sorted with qsort */
    SW_MERGE_SHARE = 4,       /* merge read buffers: budget / this */
    SW_PENDING_MIN = 256,     /* first allocation of a merge's pending row */
};

/*
 * A row: its hash, and in ref the arena offset of its record (low 40 bits)
 * and the record's size (high 24 bits; SW_SIZE_BIG if it does not fit, then
 * read from the record itself).
 */
struct snap_row {
    uint64_t hash;
    uint64_t ref;
};

#define SW_SIZE_SHIFT SNAP_OFF_BITS
#define SW_SIZE_BIG ((UINT64_C(1) << (64 - SW_SIZE_SHIFT)) - 1)

/*
 * Memory a held row costs besides its record: its row, the row's copy in
 * sort_rows and its share of the bucket starts there.
 */
#define SW_ROW_COST \
    (2 * sizeof(struct snap_row) + sizeof(uint64_t) / SW_ROWS_PER_BUCKET)

struct snap_writer {
    char *path;
    char table[SNAP_TABLE_MAX + 1];
    struct snap_writer_options o; /* o.table points at table above */
    uint8_t *arena;               /* records in input order */
    uint64_t arena_len;
    uint64_t arena_cap;
    struct snap_row *rows;
    uint64_t nrows;
    uint64_t rows_cap;
    uint64_t key_bytes;           /* of the rows in the array */
    uint64_t value_bytes;
    uint64_t budget;              /* bytes of rows held before a chunk */
    struct snap_chunks *chunks;   /* NULL until the first chunk */
    uint64_t chunk_rows;          /* rows in chunks */
    uint64_t chunk_bytes;         /* bytes of records in chunks */
    bool finished;                /* finish was called: no more adds */
};

/*
 * The file being written by snap_writer_finish (on its stack: the XXH3
 * state wants 64-byte alignment, which heap blocks do not promise).
 */
struct seg_out {
    struct atomic_file file;
    XXH3_state_t hash; /* of the bytes written so far */
    uint8_t *buf;      /* records waiting to be written; owned */
    size_t len;
};

/* Formats err, sets errno to errnum and returns -1. */
static int fail(int errnum, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(int errnum, char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    errno = errnum;
    return -1;
}

int snap_writer_create(const char *path, const struct snap_writer_options *o,
                       struct snap_writer **out, char *err, size_t errlen)
{
    *out = NULL;
    if (path == NULL || path[0] == '\0') {
        return fail(EINVAL, err, errlen, "snapshot writer: empty path");
    }
    if (o->table == NULL || !snap_table_name_valid(o->table)) {
        return fail(EINVAL, err, errlen,
                    "snapshot writer: invalid table name '%s'",
                    o->table != NULL ? o->table : "");
    }
    if (o->partitions == 0 || o->partition >= o->partitions) {
        return fail(EINVAL, err, errlen,
                    "snapshot writer: partition %u outside 0..%u",
                    o->partition, o->partitions ? o->partitions - 1 : 0);
    }
    if (o->format != 0 &&
        (o->format < SNAP_FORMAT_OLDEST || o->format > SNAP_FORMAT_NEWEST)) {
        return fail(EINVAL, err, errlen,
                    "snapshot writer: cannot write segment format %u (this "
                    "build writes %u..%u)", o->format, SNAP_FORMAT_OLDEST,
                    SNAP_FORMAT_NEWEST);
    }
    if (o->on_duplicate != SNAP_DUP_ERROR && o->on_duplicate != SNAP_DUP_LAST) {
        return fail(EINVAL, err, errlen, "snapshot writer: bad duplicate "
                    "policy");
    }
    struct snap_writer *w = calloc(1, sizeof(*w));
    if (w == NULL || (w->path = strdup(path)) == NULL) {
        free(w);
        return fail(ENOMEM, err, errlen, "out of memory");
    }
    w->o = *o;
    snprintf(w->table, sizeof(w->table), "%s", o->table);
    w->o.table = w->table;
    if (w->o.format == 0) {
        w->o.format = SNAP_FORMAT_NEWEST;
    }
    w->budget = o->memory_budget ? o->memory_budget
                                 : SNAP_WRITER_MEMORY_DEFAULT;
    *out = w;
    return 0;
}

/* Grows *p (elements of size sz) to hold at least need; false if not. */
static bool grow(void **p, uint64_t *cap, uint64_t need, size_t sz,
                 uint64_t min)
{
    if (need <= *cap) {
        return true;
    }
    uint64_t c = *cap ? *cap : min;
    while (c < need) {
        c *= 2;
    }
    if (c > SIZE_MAX / sz) {
        return false;
    }
    void *q = realloc(*p, (size_t)(c * sz));
    if (q == NULL) {
        return false;
    }
    *p = q;
    *cap = c;
    return true;
}

/* Bytes the writer's held rows cost, with sorting space (see budget). */
static inline uint64_t held_bytes(uint64_t arena_len, uint64_t nrows)
{
    return arena_len + nrows * SW_ROW_COST;
}

static int write_chunk(struct snap_writer *w, char *err, size_t errlen);

int snap_writer_add(struct snap_writer *w, const void *key, size_t klen,
                    const void *value, size_t vlen, uint64_t hash,
                    char *err, size_t errlen)
{
    if (w->finished) {
        return fail(EINVAL, err, errlen, "snapshot writer: add after finish");
    }
    uint32_t p = (uint32_t)(hash % w->o.partitions);
    if (p != w->o.partition) {
        return fail(EINVAL, err, errlen,
                    "snapshot writer: row with hash %016" PRIx64
                    " belongs to partition %u, not %u", hash, p,
                    w->o.partition);
    }
    uint64_t rec = (uint64_t)klen + vlen + 2 * SNAP_VARINT_MAX;
    if (klen >= SNAP_MAX_FILE_BYTES || vlen >= SNAP_MAX_FILE_BYTES ||
        w->chunk_bytes + w->arena_len + rec > SNAP_MAX_FILE_BYTES) {
        return fail(EINVAL, err, errlen,
                    "snapshot writer: partition %u over the segment size "
                    "limit of %" PRIu64 " bytes", w->o.partition,
                    (uint64_t)SNAP_MAX_FILE_BYTES);
    }
    if (w->nrows > 0 &&
        held_bytes(w->arena_len + rec, w->nrows + 1) > w->budget &&
        write_chunk(w, err, errlen) != 0) {
        return -1;
    }
    if (!grow((void **)&w->arena, &w->arena_cap, w->arena_len + rec, 1,
              SW_ARENA_MIN) ||
        !grow((void **)&w->rows, &w->rows_cap, w->nrows + 1,
              sizeof(struct snap_row), SW_ROWS_MIN)) {
        return fail(ENOMEM, err, errlen, "out of memory");
    }
    uint8_t *a = w->arena + w->arena_len;
    size_t n = snap_varint_put(a, klen);
    n += snap_varint_put(a + n, vlen);
    if (klen > 0) {
        memcpy(a + n, key, klen);
    }
    if (vlen > 0) {
        memcpy(a + n + klen, value, vlen);
    }
    uint64_t size = n + klen + vlen;
    w->rows[w->nrows].hash = hash;
    w->rows[w->nrows].ref =
        w->arena_len | (size < SW_SIZE_BIG ? size : SW_SIZE_BIG)
                           << SW_SIZE_SHIFT;
    w->nrows++;
    w->arena_len += size;
    w->key_bytes += klen;
    w->value_bytes += vlen;
    return 0;
}

/* ---- sorting and deduplication -------------------------------------- */

static inline uint64_t row_off(const struct snap_row *r)
{
    return r->ref & SNAP_OFF_MASK;
}

/* Decodes the arena record at off. */
static void arena_record(const struct snap_writer *w, uint64_t off,
                         const uint8_t **key, uint64_t *klen, uint64_t *vlen,
                         uint64_t *size)
{
    const uint8_t *p = w->arena + off;
    const uint8_t *end = w->arena + w->arena_len;
    size_t n = snap_varint_get(p, end, klen);
    n += snap_varint_get(p + n, end, vlen);
    *key = p + n;
    *size = n + *klen + *vlen;
}

/* The size of a row's record. */
static inline uint64_t row_size(const struct snap_writer *w,
                                const struct snap_row *r)
{
    uint64_t size = r->ref >> SW_SIZE_SHIFT;
    if (size == SW_SIZE_BIG) {
        const uint8_t *k;
        uint64_t klen, vlen;
        arena_record(w, row_off(r), &k, &klen, &vlen, &size);
    }
    return size;
}

/*
 * Rows are visited in hash order, records sit in the arena in input
 * order: fetch the start of row i's record early (if there is a row i).
 */
static inline void prefetch_record(const struct snap_writer *w, uint64_t i,
                                   uint64_t n)
{
    if (i < n) {
        __builtin_prefetch(w->arena + row_off(&w->rows[i]));
    }
}

/*
 * qsort_r order of rows whose hashes share their high 32 bits: by hash,
 * then key, then input order.
 */
static int cmp_hash_key_input(const void *a, const void *b, void *arg)
{
    const struct snap_writer *w = arg;
    const struct snap_row *ra = a, *rb = b;
    if (ra->hash != rb->hash) {
        return ra->hash < rb->hash ? -1 : 1;
    }
    const uint8_t *ka, *kb;
    uint64_t la, lb, va, vb, sa, sb;
    arena_record(w, row_off(ra), &ka, &la, &va, &sa);
    arena_record(w, row_off(rb), &kb, &lb, &vb, &sb);
    int c = memcmp(ka, kb, la < lb ? la : lb);
    if (c == 0 && la != lb) {
        c = la < lb ? -1 : 1;
    }
    if (c == 0) {
        c = row_off(ra) < row_off(rb) ? -1 : 1;
    }
    return c;
}

/* Insertion sort of a few rows by hash; stable. */
static void insertion_sort(struct snap_row *r, uint64_t n)
{
    for (uint64_t i = 1; i < n; i++) {
        struct snap_row x = r[i];
        uint64_t j = i;
        for (; j > 0 && r[j - 1].hash > x.hash; j--) {
            r[j] = r[j - 1];
        }
        r[j] = x;
    }
}

/*
 * Sorts w->rows by hash, rows with equal hashes staying in input order:
 * a counting sort into buckets by the high 32 bits of the hash (about
 * SW_ROWS_PER_BUCKET rows each, hashes being uniform), then a sort inside
 * each bucket. Replaces w->rows by the sorted copy.
 */
static int sort_rows(struct snap_writer *w, char *err, size_t errlen)
{
    uint64_t n = w->nrows;
    uint64_t nb = n / SW_ROWS_PER_BUCKET + 1;
    uint64_t *start = calloc(nb + 1, sizeof(*start));
    struct snap_row *sorted = malloc((n ? n : 1) * sizeof(*sorted));
    if (start == NULL || sorted == NULL) {
        free(start);
        free(sorted);
        return fail(ENOMEM, err, errlen, "out of memory");
    }
    const struct snap_row *rows = w->rows;
    for (uint64_t i = 0; i < n; i++) {
        start[((rows[i].hash >> 32) * nb) >> 32]++;
    }
    uint64_t sum = 0;
    for (uint64_t b = 0; b <= nb; b++) {
        uint64_t c = start[b];
        start[b] = sum;
        sum += c;
    }
    for (uint64_t i = 0; i < n; i++) {
        sorted[start[((rows[i].hash >> 32) * nb) >> 32]++] = rows[i];
    }
    /* start[b] is now where bucket b + 1 starts */
    for (uint64_t b = 0, first = 0; b < nb; first = start[b], b++) {
        uint64_t size = start[b] - first;
        if (size > SW_INSERTION_MAX) {
            qsort_r(sorted + first, size, sizeof(*sorted), cmp_hash_key_input,
                    w);
        } else if (size > 1) {
            insertion_sort(sorted + first, size);
        }
    }
    free(start);
    free(w->rows);
    w->rows = sorted;
    w->rows_cap = n;
    return 0;
}

/* Quotes a key for an error message: printable bytes, \xHH for others. */
static void quote_key(const uint8_t *k, uint64_t klen, char *out, size_t n)
{
    size_t o = 0;
    uint64_t shown = klen < SW_KEY_SHOWN ? klen : SW_KEY_SHOWN;
    for (uint64_t i = 0; i < shown && o + 5 < n; i++) {
        if (k[i] >= 0x20 && k[i] < 0x7f && k[i] != '\\' && k[i] != '\'') {
            out[o++] = (char)k[i];
        } else {
            o += (size_t)snprintf(out + o, n - o, "\\x%02x", k[i]);
        }
    }
    if (shown < klen && o + 4 < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o < n ? o : n - 1] = '\0';
}

/* Fails with EEXIST naming the duplicate key. */
static int dup_error(const struct snap_writer *w, const uint8_t *key,
                     uint64_t klen, char *err, size_t errlen)
{
    char q[SW_KEY_SHOWN * 4 + 8];
    quote_key(key, klen, q, sizeof(q));
    return fail(EEXIST, err, errlen, "duplicate key '%s' in partition %u", q,
                w->o.partition);
}

/*
 * Sorts and deduplicates the rows; returns the number kept (at the front
 * of w->rows), or -1 with err for a duplicate under SNAP_DUP_ERROR.
 */
static int64_t sort_and_dedupe(struct snap_writer *w, uint64_t *duplicates,
                               char *err, size_t errlen)
{
    if (w->nrows > SNAP_MAX_SLOTS) {
        return fail(EINVAL, err, errlen,
                    "snapshot writer: %" PRIu64 " rows are over the segment "
                    "limit", w->nrows);
    }
    if (sort_rows(w, err, errlen) != 0) {
        return -1;
    }
    uint64_t n = w->nrows;
    struct snap_row *rows = w->rows;
    uint64_t kept = 0;
    *duplicates = 0;
    for (uint64_t i = 0; i < n;) {
        uint64_t j = i + 1;
        while (j < n && rows[j].hash == rows[i].hash) {
            j++;
        }
        if (j - i > 1) {
            qsort_r(rows + i, j - i, sizeof(*rows), cmp_hash_key_input, w);
        }
        for (uint64_t k = i; k < j; k++) {
            const uint8_t *ka, *kb;
            uint64_t la, lb, va, vb, size;
            bool dup = false;
            if (k + 1 < j) {
                arena_record(w, row_off(&rows[k]), &ka, &la, &va, &size);
                arena_record(w, row_off(&rows[k + 1]), &kb, &lb, &vb, &size);
                dup = la == lb && memcmp(ka, kb, la) == 0;
            }
            if (dup && w->o.on_duplicate == SNAP_DUP_ERROR) {
                return dup_error(w, ka, la, err, errlen);
            }
            if (dup) {
                (*duplicates)++; /* a later row with this key wins */
                w->key_bytes -= la;
                w->value_bytes -= va;
            } else {
                rows[kept++] = rows[k];
            }
        }
        i = j;
    }
    return (int64_t)kept;
}

/* ---- output ------------------------------------------------------------ */

static int out_write(struct seg_out *o, const void *p, size_t n, char *err,
                     size_t errlen)
{
    XXH3_64bits_update(&o->hash, p, n);
    return atomic_file_write(&o->file, p, n, err, errlen);
}

static int out_flush(struct seg_out *o, char *err, size_t errlen)
{
    int rc = out_write(o, o->buf, o->len, err, errlen);
    o->len = 0;
    return rc;
}

/* Appends to the output buffer, writing through when it is full. */
static int out_append(struct seg_out *o, const void *p, size_t n, char *err,
                      size_t errlen)
{
    if (n > SW_OUT_BUF - o->len && out_flush(o, err, errlen) != 0) {
        return -1;
    }
    if (n >= SW_OUT_BUF) {
        return out_write(o, p, n, err, errlen);
    }
    memcpy(o->buf + o->len, p, n);
    o->len += n;
    return 0;
}

/*
 * The index being filled in one forward pass over rows in hash order:
 * each row goes to max(home, previous slot + 1); the few that run past the
 * end wrap to the first free slots at the start.
 */
struct index_fill {
    uint8_t *index; /* slots words, zeroed */
    uint64_t slots;
    uint64_t next;  /* first slot after the last one filled in order */
    uint64_t wrap;  /* next candidate slot for rows that wrap around */
};

static inline void index_place(struct index_fill *f, uint64_t hash,
                               uint64_t off)
{
    uint64_t pos = snap_slot_home(hash, f->slots);
    if (pos < f->next) {
        pos = f->next;
    }
    if (pos < f->slots) {
        f->next = pos + 1;
    } else {
        while (snap_le64(f->index + f->wrap * SNAP_SLOT_BYTES) != 0) {
            f->wrap++;
        }
        pos = f->wrap++;
    }
    snap_put_le64(f->index + pos * SNAP_SLOT_BYTES, snap_slot_make(hash, off));
}

/*
 * Fills the header of a segment of kept rows, but for data_bytes; -1 with
 * err if they need more slots than the format has.
 */
static int header_init(const struct snap_writer *w, uint64_t kept,
                       uint64_t key_bytes, uint64_t value_bytes,
                       struct snap_header *h, char *err, size_t errlen)
{
    *h = (struct snap_header){
        .format = w->o.format,
        .partition = w->o.partition,
        .partitions = w->o.partitions,
        .dims = w->o.dims,
        .version = w->o.version,
        .rows = kept,
        .index_off = SNAP_HEADER_BYTES,
        .slots = snap_slots_for(kept),
        .key_bytes = key_bytes,
        .value_bytes = value_bytes,
    };
    memcpy(h->table, w->table, sizeof(h->table));
    if (h->slots > SNAP_MAX_SLOTS) {
        return fail(EINVAL, err, errlen,
                    "snapshot writer: %" PRIu64 " rows are over the segment "
                    "limit", kept);
    }
    h->data_off = h->index_off + h->slots * SNAP_SLOT_BYTES;
    return 0;
}

/* Writes the records of the data region, in order, to o. */
typedef int (*records_fn)(struct snap_writer *w, uint64_t kept,
                          struct seg_out *o, char *err, size_t errlen);

/*
 * Streams header, index (freed once written), the records and the footer
 * into o.
 */
static int write_segment(struct snap_writer *w, uint64_t kept,
                         struct seg_out *o, const struct snap_header *h,
                         uint8_t *index, records_fn records, char *err,
                         size_t errlen)
{
    o->buf = malloc(SW_OUT_BUF);
    if (o->buf == NULL) {
        free(index);
        return fail(ENOMEM, err, errlen, "out of memory");
    }
    uint8_t header[SNAP_HEADER_BYTES];
    snap_header_encode(h, header);
    XXH3_64bits_reset(&o->hash);
    int rc = atomic_file_open(&o->file, w->path, err, errlen);
    o->file.no_sync = !w->o.sync;
    if (rc == 0) {
        rc = out_write(o, header, sizeof(header), err, errlen);
    }
    if (rc == 0) {
        rc = out_write(o, index, h->slots * SNAP_SLOT_BYTES, err, errlen);
    }
    free(index);
    if (rc == 0) {
        rc = records(w, kept, o, err, errlen);
    }
    if (rc == 0) {
        rc = out_flush(o, err, errlen);
    }
    if (rc == 0) {
        uint8_t footer[SNAP_FOOTER_BYTES];
        snap_put_le64(footer, XXH3_64bits_digest(&o->hash));
        memcpy(footer + 8, SNAP_FOOTER_MAGIC, SNAP_MAGIC_BYTES);
        rc = out_write(o, footer, sizeof(footer), err, errlen);
    }
    return rc;
}

/*
 * Writes the segment of kept rows described by h, with its index (owned:
 * freed here) and the records from records(), and fills *info.
 */
static int write_file(struct snap_writer *w, uint64_t kept,
                      const struct snap_header *h, uint8_t *index,
                      records_fn records, struct snap_file_info *info,
                      char *err, size_t errlen)
{
    if (h->data_off + h->data_bytes + SNAP_FOOTER_BYTES > SNAP_MAX_FILE_BYTES) {
        free(index);
        return fail(EINVAL, err, errlen,
                    "snapshot writer: partition %u over the segment size "
                    "limit of %" PRIu64 " bytes", w->o.partition,
                    (uint64_t)SNAP_MAX_FILE_BYTES);
    }
    struct seg_out o = {.file = {.fd = -1}};
    int rc = write_segment(w, kept, &o, h, index, records, err, errlen);
    if (rc == 0) {
        rc = atomic_file_commit(&o.file, err, errlen);
    }
    int saved = errno;
    atomic_file_abort(&o.file); /* no-op after a commit */
    free(o.buf);
    errno = saved;
    if (rc != 0) {
        return -1;
    }
    info->rows = kept;
    info->bytes = h->data_off + h->data_bytes + SNAP_FOOTER_BYTES;
    info->checksum = XXH3_64bits_digest(&o.hash);
    info->key_bytes = h->key_bytes;
    info->value_bytes = h->value_bytes;
    return 0;
}

/* Frees the rows and buffers; the writer keeps only its options. */
static void release_rows(struct snap_writer *w)
{
    free(w->arena);
    free(w->rows);
    w->arena = NULL;
    w->rows = NULL;
    w->arena_len = w->arena_cap = w->nrows = w->rows_cap = 0;
    w->key_bytes = w->value_bytes = 0;
}

/* ---- in memory ----------------------------------------------------------- */

/* The records of w->rows[0, kept), copied from the arena in hash order. */
static int arena_records(struct snap_writer *w, uint64_t kept,
                         struct seg_out *o, char *err, size_t errlen)
{
    int rc = 0;
    for (uint64_t i = 0; i < kept && rc == 0; i++) {
        const struct snap_row *r = &w->rows[i];
        prefetch_record(w, i + SW_PREFETCH, kept);
        rc = out_append(o, w->arena + row_off(r), row_size(w, r), err,
                        errlen);
    }
    return rc;
}

/* Builds the segment from the rows held in memory. */
static int finish_in_memory(struct snap_writer *w, uint64_t *duplicates,
                            struct snap_file_info *info, char *err,
                            size_t errlen)
{
    int64_t kept = sort_and_dedupe(w, duplicates, err, errlen);
    struct snap_header h;
    if (kept < 0 || header_init(w, (uint64_t)kept, w->key_bytes,
                                w->value_bytes, &h, err, errlen) != 0) {
        return -1;
    }
    uint8_t *index = calloc(h.slots, SNAP_SLOT_BYTES);
    if (index == NULL) {
        return fail(ENOMEM, err, errlen, "out of memory");
    }
    struct index_fill f = {.index = index, .slots = h.slots};
    uint64_t off = h.data_off;
    for (uint64_t i = 0; i < (uint64_t)kept; i++) {
        const struct snap_row *r = &w->rows[i];
        index_place(&f, r->hash, off);
        off += row_size(w, r);
    }
    h.data_bytes = off - h.data_off;
    return write_file(w, (uint64_t)kept, &h, index, arena_records, info, err,
                      errlen);
}

/* ---- chunks ------------------------------------------------------------- */

/*
 * Sorts the held rows by (hash, key, input order) and appends them to the
 * chunk file as one chunk; the writer then holds no row (its buffers stay
 * allocated for the next ones).
 */
static int write_chunk(struct snap_writer *w, char *err, size_t errlen)
{
    if (w->chunks == NULL &&
        snap_chunks_create(w->path, (size_t)(w->budget / SW_MERGE_SHARE),
                           &w->chunks, err, errlen) != 0) {
        return -1;
    }
    if (sort_rows(w, err, errlen) != 0) {
        return -1;
    }
    struct snap_row *rows = w->rows;
    uint64_t n = w->nrows;
    for (uint64_t i = 0, j; i < n; i = j) {
        for (j = i + 1; j < n && rows[j].hash == rows[i].hash; j++) {
        }
        if (j - i > 1) {
            qsort_r(rows + i, j - i, sizeof(*rows), cmp_hash_key_input, w);
        }
    }
    for (uint64_t i = 0; i < n; i++) {
        const struct snap_row *r = &rows[i];
        prefetch_record(w, i + SW_PREFETCH, n);
        if (snap_chunks_add(w->chunks, r->hash, w->chunk_bytes + row_off(r),
                            w->arena + row_off(r), row_size(w, r), err,
                            errlen) != 0) {
            return -1;
        }
    }
    if (snap_chunks_end(w->chunks, err, errlen) != 0) {
        return -1;
    }
    w->chunk_rows += n;
    w->chunk_bytes += w->arena_len;
    w->nrows = w->arena_len = 0;
    w->key_bytes = w->value_bytes = 0;
    return 0;
}

/* The last row of a run of equal keys seen so far in a merge (a copy). */
struct pending_row {
    struct snap_chunk_row row; /* pointers into buf */
    uint8_t *buf;              /* owned */
    uint64_t cap;
    bool have;
};

static int pending_set(struct pending_row *p, const struct snap_chunk_row *r)
{
    if (!grow((void **)&p->buf, &p->cap, r->size ? r->size : 1, 1,
              SW_PENDING_MIN)) {
        return -1;
    }
    memcpy(p->buf, r->rec, r->size);
    p->row = *r;
    p->row.rec = p->buf;
    p->row.key = p->buf + (r->key - r->rec);
    p->have = true;
    return 0;
}

/* Takes each row the merge keeps; 0 or -1 with err. */
typedef int (*emit_fn)(void *ctx, const struct snap_chunk_row *row,
                       char *err, size_t errlen);

/*
 * Merges the chunks and deduplicates as the in-memory path does: of
 * adjacent rows with equal hash and key, fails (SNAP_DUP_ERROR) or keeps
 * the last (the latest in input order). Passes each kept row to emit, in
 * the order of the data region.
 */
static int merge_rows(struct snap_writer *w, uint64_t *duplicates,
                      emit_fn emit, void *ctx, char *err, size_t errlen)
{
    struct pending_row p = {.have = false};
    int rc = snap_chunks_merge_start(w->chunks, err, errlen);
    *duplicates = 0;
    while (rc == 0) {
        struct snap_chunk_row r;
        int n = snap_chunks_merge_next(w->chunks, &r, err, errlen);
        if (n <= 0) {
            rc = n;
            break;
        }
        if (p.have && p.row.hash == r.hash && p.row.klen == r.klen &&
            memcmp(p.row.key, r.key, r.klen) == 0) {
            if (w->o.on_duplicate == SNAP_DUP_ERROR) {
                rc = dup_error(w, r.key, r.klen, err, errlen);
                break;
            }
            (*duplicates)++; /* this later row replaces the pending one */
        } else if (p.have) {
            rc = emit(ctx, &p.row, err, errlen);
        }
        if (rc == 0 && pending_set(&p, &r) != 0) {
            rc = fail(ENOMEM, err, errlen, "out of memory");
        }
    }
    if (rc == 0 && p.have) {
        rc = emit(ctx, &p.row, err, errlen);
    }
    free(p.buf);
    return rc;
}

/* The first pass: what the header needs. */
struct merge_count {
    uint64_t kept;
    uint64_t data_bytes;
    uint64_t key_bytes;
    uint64_t value_bytes;
};

static int count_row(void *ctx, const struct snap_chunk_row *r, char *err,
                     size_t errlen)
{
    (void)err;
    (void)errlen;
    struct merge_count *c = ctx;
    c->kept++;
    c->data_bytes += r->size;
    c->key_bytes += r->klen;
    c->value_bytes += r->vlen;
    return 0;
}

/* The second pass: the index, now that its size is known. */
struct merge_index {
    struct index_fill f;
    uint64_t off; /* file offset of the next record */
};

static int index_row(void *ctx, const struct snap_chunk_row *r, char *err,
                     size_t errlen)
{
    (void)err;
    (void)errlen;
    struct merge_index *m = ctx;
    index_place(&m->f, r->hash, m->off);
    m->off += r->size;
    return 0;
}

/* The third pass: the records into the segment. */
struct merge_write {
    struct seg_out *o;
    uint64_t written;
};

static int write_row(void *ctx, const struct snap_chunk_row *r, char *err,
                     size_t errlen)
{
    struct merge_write *m = ctx;
    m->written++;
    return out_append(m->o, r->rec, (size_t)r->size, err, errlen);
}

static int merge_records(struct snap_writer *w, uint64_t kept,
                         struct seg_out *o, char *err, size_t errlen)
{
    struct merge_write m = {.o = o};
    uint64_t duplicates;
    if (merge_rows(w, &duplicates, write_row, &m, err, errlen) != 0) {
        return -1;
    }
    if (m.written != kept) {
        return fail(EIO, err, errlen, "snapshot writer: chunk merge gave "
                    "%" PRIu64 " rows, then %" PRIu64, kept, m.written);
    }
    return 0;
}

/*
 * Builds the segment from chunks: what is still held becomes the last
 * chunk, then the merge runs three times: to count the rows kept (which
 * sizes the index), to place them in the index, and to write them. The
 * merges cost CPU (reading the chunk file, mostly from the page cache,
 * and the heap), but memory is only the index, 8 bytes a slot.
 */
static int finish_chunked(struct snap_writer *w, uint64_t *duplicates,
                          struct snap_file_info *info, char *err,
                          size_t errlen)
{
    if (w->nrows > 0 && write_chunk(w, err, errlen) != 0) {
        return -1;
    }
    release_rows(w);
    if (w->chunk_rows > SNAP_MAX_SLOTS) {
        return fail(EINVAL, err, errlen,
                    "snapshot writer: %" PRIu64 " rows are over the segment "
                    "limit", w->chunk_rows);
    }
    struct merge_count c = {.kept = 0};
    struct snap_header h;
    if (merge_rows(w, duplicates, count_row, &c, err, errlen) != 0 ||
        header_init(w, c.kept, c.key_bytes, c.value_bytes, &h, err,
                    errlen) != 0) {
        return -1;
    }
    h.data_bytes = c.data_bytes;
    uint8_t *index = calloc(h.slots, SNAP_SLOT_BYTES);
    if (index == NULL) {
        return fail(ENOMEM, err, errlen, "out of memory");
    }
    struct merge_index m = {
        .f = {.index = index, .slots = h.slots},
        .off = h.data_off,
    };
    uint64_t again;
    if (merge_rows(w, &again, index_row, &m, err, errlen) != 0) {
        free(index);
        return -1;
    }
    if (write_file(w, c.kept, &h, index, merge_records, info, err,
                   errlen) != 0) {
        return -1;
    }
    info->chunks = snap_chunks_count(w->chunks);
    return 0;
}

/* ---- finishing ---------------------------------------------------------- */

int snap_writer_finish(struct snap_writer *w, struct snap_file_info *info,
                       char *err, size_t errlen)
{
    if (w->finished) {
        return fail(EINVAL, err, errlen, "snapshot writer: finished twice");
    }
    w->finished = true;
    memset(info, 0, sizeof(*info));
    uint64_t duplicates = 0;
    bool chunked = w->chunks != NULL ||
                   (w->nrows > 0 &&
                    held_bytes(w->arena_len, w->nrows) > w->budget);
    int rc = chunked ? finish_chunked(w, &duplicates, info, err, errlen)
                     : finish_in_memory(w, &duplicates, info, err, errlen);
    int saved = errno;
    if (rc == 0) {
        info->duplicates = duplicates;
    } else {
        memset(info, 0, sizeof(*info));
    }
    release_rows(w);
    snap_chunks_destroy(&w->chunks);
    errno = saved;
    return rc;
}

void snap_writer_destroy(struct snap_writer **wp)
{
    struct snap_writer *w = *wp;
    if (w == NULL) {
        return;
    }
    release_rows(w);
    snap_chunks_destroy(&w->chunks);
    free(w->path);
    free(w);
    *wp = NULL;
}
