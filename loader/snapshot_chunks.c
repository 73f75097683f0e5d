/*
 * This file implements the chunk file of snapshot_chunks.h: sorted chunks
 * appended through one write buffer to an unlinked temporary file, and
 * their k-way merge.
 *
 * Each chunk is a byte range of the file. The merge gives each chunk a
 * reader (a buffer filled with pread from the chunk's next offset, so the
 * readers share one descriptor without seeking) holding the chunk's
 * current row decoded, and keeps the readers in a binary min-heap ordered
 * by (hash, key, seq). merge_next returns the top row and advances that
 * reader only on the following call, so a returned row stays valid until
 * then.
 */
#include "snapshot_chunks.h"

#include "snap_format.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Limits and tuning of the chunk file, in one place. */
enum {
    SC_WRITE_BUF = 256 << 10, /* write buffer while chunks are added */
    SC_READ_MIN = 4 << 10,    /* smallest read buffer of a chunk */
    SC_READ_MAX = 1 << 20,    /* largest read buffer of a chunk */
    SC_RANGES_MIN = 16,       /* first chunk array allocation */
    /* longest entry head: hash, then varints seq, klen and vlen */
    SC_HEAD_MAX = 8 + 3 * SNAP_VARINT_MAX,
};

/* One chunk: bytes [start, end) of the file. */
struct chunk_range {
    uint64_t start;
    uint64_t end;
};

/* A chunk being merged. */
struct chunk_reader {
    uint64_t pos;   /* file offset of the bytes after buf[0, len) */
    uint64_t end;   /* end of the chunk */
    uint8_t *buf;   /* owned */
    size_t cap;
    size_t len;     /* bytes in buf */
    size_t at;      /* start of the entry after cur */
    struct snap_chunk_row cur; /* points into buf */
};

struct snap_chunks {
    int fd;
    char *name;              /* the file's (unlinked) name, for messages */
    size_t merge_buffer;
    /* adding */
    uint8_t *wbuf;           /* owned, SC_WRITE_BUF bytes */
    size_t wlen;
    uint64_t size;           /* bytes of the file, buffer included */
    uint64_t chunk_start;    /* where the current chunk began */
    struct chunk_range *ranges;
    uint64_t nranges;
    uint64_t ranges_cap;
    /* merging */
    struct chunk_reader *readers; /* one per range, once merging started */
    uint32_t *heap;          /* reader indices, a min-heap */
    uint64_t nheap;
    bool advance_top;        /* the top's row was returned: advance it first */
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

int snap_chunks_create(const char *seg_path, size_t merge_buffer,
                       struct snap_chunks **out, char *err, size_t errlen)
{
    *out = NULL;
    struct snap_chunks *c = calloc(1, sizeof(*c));
    size_t n = strlen(seg_path) + sizeof(".chunks.XXXXXX");
    if (c == NULL || (c->name = malloc(n)) == NULL ||
        (c->wbuf = malloc(SC_WRITE_BUF)) == NULL) {
        if (c != NULL) {
            free(c->name);
        }
        free(c);
        return fail(ENOMEM, err, errlen, "out of memory");
    }
    snprintf(c->name, n, "%s.chunks.XXXXXX", seg_path);
    c->fd = mkstemp(c->name);
    if (c->fd < 0) {
        int saved = errno;
        snprintf(err, errlen, "cannot create %s: %s", c->name,
                 strerror(saved));
        free(c->wbuf);
        free(c->name);
        free(c);
        errno = saved;
        return -1;
    }
    unlink(c->name); /* the descriptor keeps the file while it is needed */
    c->merge_buffer = merge_buffer;
    *out = c;
    return 0;
}

/* Writes all n bytes of p at the end of the file. */
static int file_write(struct snap_chunks *c, const uint8_t *p, size_t n,
                      char *err, size_t errlen)
{
    while (n > 0) {
        ssize_t k = write(c->fd, p, n);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            int saved = errno;
            return fail(saved, err, errlen, "cannot write %s: %s", c->name,
                        strerror(saved));
        }
        p += k;
        n -= (size_t)k;
    }
    return 0;
}

static int flush_wbuf(struct snap_chunks *c, char *err, size_t errlen)
{
    int rc = file_write(c, c->wbuf, c->wlen, err, errlen);
    c->wlen = 0;
    return rc;
}

/* Appends n bytes to the write buffer, writing through when it is full. */
static int append(struct snap_chunks *c, const uint8_t *p, size_t n,
                  char *err, size_t errlen)
{
    c->size += n;
    if (n > SC_WRITE_BUF - c->wlen && flush_wbuf(c, err, errlen) != 0) {
        return -1;
    }
    if (n >= SC_WRITE_BUF) {
        return file_write(c, p, n, err, errlen);
    }
    memcpy(c->wbuf + c->wlen, p, n);
    c->wlen += n;
    return 0;
}

int snap_chunks_add(struct snap_chunks *c, uint64_t hash, uint64_t seq,
                    const uint8_t *rec, uint64_t size, char *err,
                    size_t errlen)
{
    if (c->wbuf == NULL) {
        return fail(EINVAL, err, errlen, "%s: add after a merge", c->name);
    }
    uint8_t head[8 + SNAP_VARINT_MAX];
    snap_put_le64(head, hash);
    size_t n = 8 + snap_varint_put(head + 8, seq);
    if (append(c, head, n, err, errlen) != 0) {
        return -1;
    }
    return append(c, rec, (size_t)size, err, errlen);
}

int snap_chunks_end(struct snap_chunks *c, char *err, size_t errlen)
{
    if (c->wbuf == NULL) {
        return fail(EINVAL, err, errlen, "%s: end after a merge", c->name);
    }
    if (c->nranges == c->ranges_cap) {
        uint64_t cap = c->ranges_cap ? 2 * c->ranges_cap : SC_RANGES_MIN;
        void *p = cap <= SIZE_MAX / sizeof(*c->ranges)
                      ? realloc(c->ranges, (size_t)cap * sizeof(*c->ranges))
                      : NULL;
        if (p == NULL) {
            return fail(ENOMEM, err, errlen, "out of memory");
        }
        c->ranges = p;
        c->ranges_cap = cap;
    }
    if (flush_wbuf(c, err, errlen) != 0) {
        return -1;
    }
    c->ranges[c->nranges].start = c->chunk_start;
    c->ranges[c->nranges].end = c->size;
    c->nranges++;
    c->chunk_start = c->size;
    return 0;
}

uint64_t snap_chunks_count(const struct snap_chunks *c)
{
    return c->nranges;
}

/* ---- merging ------------------------------------------------------------ */

/*
 * Makes room in r->buf for need bytes from r->at on, reading from the file
 * (moving the unread bytes to the front, growing the buffer if need is
 * more than it holds). need never exceeds what is left of the chunk.
 */
static int reader_fill(struct snap_chunks *c, struct chunk_reader *r,
                       size_t need, char *err, size_t errlen)
{
    if (r->at > 0) {
        memmove(r->buf, r->buf + r->at, r->len - r->at);
        r->len -= r->at;
        r->at = 0;
    }
    if (need > r->cap) {
        uint8_t *p = realloc(r->buf, need);
        if (p == NULL) {
            return fail(ENOMEM, err, errlen, "out of memory");
        }
        r->buf = p;
        r->cap = need;
    }
    while (r->len < need) {
        uint64_t left = r->end - r->pos;
        size_t want = r->cap - r->len;
        if (want > left) {
            want = (size_t)left;
        }
        ssize_t k = pread(c->fd, r->buf + r->len, want, (off_t)r->pos);
        if (k < 0 && errno == EINTR) {
            continue;
        }
        if (k < 0) {
            int saved = errno;
            return fail(saved, err, errlen, "cannot read %s: %s", c->name,
                        strerror(saved));
        }
        if (k == 0) {
            return fail(EIO, err, errlen, "%s: chunk file shorter than "
                        "written", c->name);
        }
        r->len += (size_t)k;
        r->pos += (uint64_t)k;
    }
    return 0;
}

/* Decodes the entry at r->at into r->cur: 1, 0 at the chunk's end, -1. */
static int reader_next(struct snap_chunks *c, struct chunk_reader *r,
                       char *err, size_t errlen)
{
    uint64_t left = (r->len - r->at) + (r->end - r->pos);
    if (left == 0) {
        return 0;
    }
    size_t head = left < SC_HEAD_MAX ? (size_t)left : SC_HEAD_MAX;
    if (r->len - r->at < head && reader_fill(c, r, head, err, errlen) != 0) {
        return -1;
    }
    const uint8_t *p = r->buf + r->at;
    const uint8_t *end = r->buf + r->len;
    struct snap_chunk_row *row = &r->cur;
    size_t n1 = left >= 8 ? snap_varint_get(p + 8, end, &row->seq) : 0;
    size_t n2 = n1 ? snap_varint_get(p + 8 + n1, end, &row->klen) : 0;
    size_t n3 = n2 ? snap_varint_get(p + 8 + n1 + n2, end, &row->vlen) : 0;
    uint64_t hlen = 8 + n1 + n2 + n3;
    if (n3 == 0 || row->klen > left || row->vlen > left ||
        hlen + row->klen + row->vlen > left) {
        return fail(EIO, err, errlen, "%s: damaged chunk entry", c->name);
    }
    size_t total = (size_t)(hlen + row->klen + row->vlen);
    if (r->len - r->at < total) {
        if (reader_fill(c, r, total, err, errlen) != 0) {
            return -1;
        }
        p = r->buf + r->at;
    }
    row->hash = snap_le64(p);
    row->rec = p + 8 + n1;
    row->size = total - 8 - n1;
    row->key = p + hlen;
    r->at += total;
    return 1;
}

/* Merge order: hash, then key (bytes, then length), then seq. */
static int row_cmp(const struct snap_chunk_row *a,
                   const struct snap_chunk_row *b)
{
    if (a->hash != b->hash) {
        return a->hash < b->hash ? -1 : 1;
    }
    uint64_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = n > 0 ? memcmp(a->key, b->key, (size_t)n) : 0;
    if (c != 0) {
        return c;
    }
    if (a->klen != b->klen) {
        return a->klen < b->klen ? -1 : 1;
    }
    if (a->seq != b->seq) {
        return a->seq < b->seq ? -1 : 1;
    }
    return 0;
}

static bool heap_less(const struct snap_chunks *c, uint32_t a, uint32_t b)
{
    return row_cmp(&c->readers[a].cur, &c->readers[b].cur) < 0;
}

static void sift_down(struct snap_chunks *c, uint64_t i)
{
    uint32_t *h = c->heap;
    uint64_t n = c->nheap;
    uint32_t x = h[i];
    for (;;) {
        uint64_t l = 2 * i + 1;
        if (l >= n) {
            break;
        }
        uint64_t m = l + 1 < n && heap_less(c, h[l + 1], h[l]) ? l + 1 : l;
        if (!heap_less(c, h[m], x)) {
            break;
        }
        h[i] = h[m];
        i = m;
    }
    h[i] = x;
}

/* A reader's buffer: the merge buffer split between the chunks. */
static size_t read_buffer_size(const struct snap_chunks *c,
                               const struct chunk_range *range)
{
    uint64_t b = c->merge_buffer / (c->nranges ? c->nranges : 1);
    if (b < SC_READ_MIN) {
        b = SC_READ_MIN;
    }
    if (b > SC_READ_MAX) {
        b = SC_READ_MAX;
    }
    uint64_t size = range->end - range->start;
    return (size_t)(size < b ? (size > 0 ? size : 1) : b);
}

int snap_chunks_merge_start(struct snap_chunks *c, char *err, size_t errlen)
{
    if (c->wlen > 0 || c->chunk_start != c->size) {
        return fail(EINVAL, err, errlen, "%s: merge with a chunk not ended",
                    c->name);
    }
    free(c->wbuf); /* no chunk comes after a merge */
    c->wbuf = NULL;
    if (c->readers == NULL && c->nranges > 0) {
        if (c->nranges > UINT32_MAX) {
            return fail(ENOMEM, err, errlen, "out of memory");
        }
        c->readers = calloc((size_t)c->nranges, sizeof(*c->readers));
        c->heap = calloc((size_t)c->nranges, sizeof(*c->heap));
        if (c->readers == NULL || c->heap == NULL) {
            return fail(ENOMEM, err, errlen, "out of memory");
        }
        for (uint64_t i = 0; i < c->nranges; i++) {
            size_t cap = read_buffer_size(c, &c->ranges[i]);
            if ((c->readers[i].buf = malloc(cap)) == NULL) {
                return fail(ENOMEM, err, errlen, "out of memory");
            }
            c->readers[i].cap = cap;
        }
    }
    c->nheap = 0;
    c->advance_top = false;
    for (uint64_t i = 0; i < c->nranges; i++) {
        struct chunk_reader *r = &c->readers[i];
        r->pos = c->ranges[i].start;
        r->end = c->ranges[i].end;
        r->len = r->at = 0;
        int n = reader_next(c, r, err, errlen);
        if (n < 0) {
            return -1;
        }
        if (n > 0) {
            c->heap[c->nheap++] = (uint32_t)i;
        }
    }
    for (uint64_t i = c->nheap / 2; i-- > 0;) {
        sift_down(c, i);
    }
    return 0;
}

int snap_chunks_merge_next(struct snap_chunks *c, struct snap_chunk_row *row,
                           char *err, size_t errlen)
{
    if (c->advance_top) {
        c->advance_top = false;
        int n = reader_next(c, &c->readers[c->heap[0]], err, errlen);
        if (n < 0) {
            return -1;
        }
        if (n == 0) {
            c->heap[0] = c->heap[--c->nheap];
        }
        if (c->nheap > 0) {
            sift_down(c, 0);
        }
    }
    if (c->nheap == 0) {
        return 0;
    }
    *row = c->readers[c->heap[0]].cur;
    c->advance_top = true;
    return 1;
}

void snap_chunks_destroy(struct snap_chunks **cp)
{
    struct snap_chunks *c = *cp;
    if (c == NULL) {
        return;
    }
    if (c->readers != NULL) {
        for (uint64_t i = 0; i < c->nranges; i++) {
            free(c->readers[i].buf);
        }
    }
    free(c->readers);
    free(c->heap);
    free(c->ranges);
    free(c->wbuf);
    close(c->fd);
    free(c->name);
    free(c);
    *cp = NULL;
}
