/*
 * This file implements spill run files: buffered appends per partition
 * while the input is read, and sequential reading of one run when its
 * partition is built.
 *
 * Files are kept open between flushes when the process may hold one
 * descriptor per partition (RLIMIT_NOFILE); with more partitions than
 * that, each flush opens the run file in append mode and closes it again.
 * Every write goes through file_write_all() (and its test hook).
 */
#include "spill.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "file_write.h"

#define SPILL_BUF_MIN (16u << 10)
#define SPILL_BUF_MAX (1u << 20)
#define SPILL_FDS_RESERVED 64 /* descriptors left for everything else */
#define SPILL_READ_CHUNK (1u << 20)
#define VARINT_MAX 10

struct spill_part {
    char *buf; /* allocated on first use */
    size_t len;
    int fd;    /* -1 when not open */
    uint64_t rows;
    uint64_t bytes; /* written to the file so far */
};

struct spill {
    char *dir;
    uint32_t writer;
    uint32_t partitions;
    size_t bufsz;
    bool keep_open;
    struct spill_part *parts;
};

static size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

/* Decodes a varint from [p, end): bytes used, 0 if incomplete, -1 bad. */
static int varint_get(const uint8_t *p, const uint8_t *end, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < VARINT_MAX; i++) {
        if (p + i >= end) {
            return 0;
        }
        x |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *v = x;
            return i + 1;
        }
    }
    return -1;
}

int spill_create(const struct spill_options *o, struct spill **out,
                 char *err, size_t errlen)
{
    struct spill *s = calloc(1, sizeof(*s));
    if (s == NULL || o->partitions == 0) {
        free(s);
        snprintf(err, errlen, o->partitions ? "out of memory"
                                            : "zero partitions");
        return -1;
    }
    s->dir = strdup(o->dir);
    s->parts = calloc(o->partitions, sizeof(*s->parts));
    if (s->dir == NULL || s->parts == NULL) {
        free(s->dir);
        free(s->parts);
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    s->writer = o->writer;
    s->partitions = o->partitions;
    size_t per = o->buffer_bytes / o->partitions;
    s->bufsz = per < SPILL_BUF_MIN ? SPILL_BUF_MIN
               : per > SPILL_BUF_MAX ? SPILL_BUF_MAX : per;
    struct rlimit rl;
    rlim_t fds = (rlim_t)o->partitions * (o->writers ? o->writers : 1);
    s->keep_open = getrlimit(RLIMIT_NOFILE, &rl) == 0 &&
                   (rl.rlim_cur == RLIM_INFINITY ||
                    rl.rlim_cur > fds + SPILL_FDS_RESERVED);
    for (uint32_t p = 0; p < o->partitions; p++) {
        s->parts[p].fd = -1;
    }
    *out = s;
    return 0;
}

void spill_run_file(const char *dir, uint32_t writer, uint32_t p, char *out,
                    size_t outlen)
{
    snprintf(out, outlen, "%s/run-%05u-%u", dir, p, writer);
}

void spill_run_path(const struct spill *s, uint32_t p, char *out,
                    size_t outlen)
{
    spill_run_file(s->dir, s->writer, p, out, outlen);
}

/* Writes n bytes to partition p's file, opening it if needed. */
static int part_write(struct spill *s, uint32_t p, const void *data,
                      size_t n, char *err, size_t errlen)
{
    struct spill_part *sp = &s->parts[p];
    char path[4096];
    spill_run_path(s, p, path, sizeof(path));
    if (sp->fd < 0) {
        sp->fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
        if (sp->fd < 0) {
            int e = errno;
            snprintf(err, errlen, "cannot create %s: %s", path, strerror(e));
            errno = e;
            return -1;
        }
    }
    if (file_write_all(sp->fd, data, n) != 0) {
        int e = errno;
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(e));
        errno = e;
        return -1;
    }
    sp->bytes += n;
    if (!s->keep_open) {
        close(sp->fd);
        sp->fd = -1;
    }
    return 0;
}

static int part_flush(struct spill *s, uint32_t p, char *err, size_t errlen)
{
    struct spill_part *sp = &s->parts[p];
    if (sp->len == 0) {
        return 0;
    }
    int rc = part_write(s, p, sp->buf, sp->len, err, errlen);
    sp->len = 0;
    return rc;
}

int spill_add(struct spill *s, uint32_t p, const void *key, size_t klen,
              const void *value, size_t vlen, char *err, size_t errlen)
{
    struct spill_part *sp = &s->parts[p];
    uint8_t hdr[2 * VARINT_MAX];
    size_t hl = varint_put(hdr, klen);
    hl += varint_put(hdr + hl, vlen);
    size_t need = hl + klen + vlen;
    if (sp->buf == NULL) {
        sp->buf = malloc(s->bufsz);
        if (sp->buf == NULL) {
            snprintf(err, errlen, "out of memory");
            errno = ENOMEM;
            return -1;
        }
    }
    if (s->bufsz - sp->len < need && part_flush(s, p, err, errlen) != 0) {
        return -1;
    }
    sp->rows++;
    if (need > s->bufsz) {
        /* A row bigger than the buffer goes straight to the file. */
        if (part_write(s, p, hdr, hl, err, errlen) != 0 ||
            part_write(s, p, key, klen, err, errlen) != 0 ||
            part_write(s, p, value, vlen, err, errlen) != 0) {
            return -1;
        }
        return 0;
    }
    char *d = sp->buf + sp->len;
    memcpy(d, hdr, hl);
    memcpy(d + hl, key, klen);
    memcpy(d + hl + klen, value, vlen);
    sp->len += need;
    return 0;
}

int spill_finish(struct spill *s, char *err, size_t errlen)
{
    for (uint32_t p = 0; p < s->partitions; p++) {
        struct spill_part *sp = &s->parts[p];
        if (part_flush(s, p, err, errlen) != 0) {
            return -1;
        }
        free(sp->buf);
        sp->buf = NULL;
        if (sp->fd >= 0) {
            close(sp->fd);
            sp->fd = -1;
        }
    }
    return 0;
}

uint64_t spill_rows(const struct spill *s, uint32_t p)
{
    return s->parts[p].rows;
}

uint64_t spill_bytes(const struct spill *s, uint32_t p)
{
    return s->parts[p].bytes;
}

void spill_destroy(struct spill **sp)
{
    struct spill *s = *sp;
    if (s == NULL) {
        return;
    }
    for (uint32_t p = 0; p < s->partitions; p++) {
        free(s->parts[p].buf);
        if (s->parts[p].fd >= 0) {
            close(s->parts[p].fd);
        }
    }
    free(s->parts);
    free(s->dir);
    free(s);
    *sp = NULL;
}

/* ---- reading ------------------------------------------------------------ */

struct spill_run {
    int fd; /* -1: an empty run */
    uint8_t *buf;
    size_t cap;
    size_t start, end;
    bool eof;
};

int spill_run_open(const char *path, struct spill_run **out, char *err,
                   size_t errlen)
{
    struct spill_run *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    r->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (r->fd < 0) {
        if (errno != ENOENT) {
            snprintf(err, errlen, "cannot open %s: %s", path,
                     strerror(errno));
            free(r);
            return -1;
        }
        r->eof = true;
        *out = r;
        return 0;
    }
    r->cap = SPILL_READ_CHUNK;
    r->buf = malloc(r->cap);
    if (r->buf == NULL) {
        close(r->fd);
        free(r);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    *out = r;
    return 0;
}

/* Reads until at least `want` bytes are buffered or EOF. 0 or -1. */
static int run_fill(struct spill_run *r, size_t want, char *err,
                    size_t errlen)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    if (want > r->cap) {
        uint8_t *nb = realloc(r->buf, want);
        if (nb == NULL) {
            snprintf(err, errlen, "out of memory (a %zu-byte row)", want);
            return -1;
        }
        r->buf = nb;
        r->cap = want;
    }
    while (r->end < want && !r->eof) {
        ssize_t n = read(r->fd, r->buf + r->end, r->cap - r->end);
        if (n > 0) {
            r->end += (size_t)n;
        } else if (n == 0) {
            r->eof = true;
        } else if (errno != EINTR) {
            snprintf(err, errlen, "run file read error: %s",
                     strerror(errno));
            return -1;
        }
    }
    return 0;
}

int spill_run_next(struct spill_run *r, const char **key, size_t *klen,
                   const char **value, size_t *vlen, char *err,
                   size_t errlen)
{
    for (;;) {
        const uint8_t *p = r->buf + r->start;
        const uint8_t *end = r->buf + r->end;
        uint64_t kl, vl;
        int a = r->end > r->start ? varint_get(p, end, &kl) : 0;
        int b = a > 0 ? varint_get(p + a, end, &vl) : 0;
        if (a < 0 || b < 0) {
            snprintf(err, errlen, "corrupt run file (bad length)");
            return -1;
        }
        if (a > 0 && b > 0) {
            size_t hl = (size_t)a + (size_t)b;
            if (kl > SIZE_MAX / 2 || vl > SIZE_MAX / 2) {
                snprintf(err, errlen, "corrupt run file (bad length)");
                return -1;
            }
            size_t need = hl + (size_t)kl + (size_t)vl;
            if ((size_t)(end - p) >= need) {
                *key = (const char *)p + hl;
                *klen = (size_t)kl;
                *value = (const char *)p + hl + kl;
                *vlen = (size_t)vl;
                r->start += need;
                return 1;
            }
            if (r->eof) {
                snprintf(err, errlen, "run file truncated");
                return -1;
            }
            size_t want = need > r->cap ? need : r->cap;
            if (run_fill(r, want, err, errlen) != 0) {
                return -1;
            }
            continue;
        }
        if (r->eof) {
            if (r->end > r->start) {
                snprintf(err, errlen, "run file truncated");
                return -1;
            }
            return 0;
        }
        if (run_fill(r, r->cap, err, errlen) != 0) {
            return -1;
        }
    }
}

void spill_run_close(struct spill_run **rp)
{
    struct spill_run *r = *rp;
    if (r == NULL) {
        return;
    }
    if (r->fd >= 0) {
        close(r->fd);
    }
    free(r->buf);
    free(r);
    *rp = NULL;
}
