/*
 * This file implements segment.h: a snapshot segment file mapped read-only
 * into memory, verified, optionally populated (MAP_POPULATE) and locked
 * (mlock), and read through the codec of common/snap_format.h.
 *
 * Opening reads every byte once to check the footer checksum, so a segment
 * opened without SEGMENT_POPULATE is resident afterwards too (until the
 * kernel reclaims its clean pages, which mlock prevents). The mapping is
 * shared and read-only: pages of the page cache, no heap copy, and the
 * memory counted by segment_mapped_bytes() is the file size.
 */
#include "segment.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* Pages asked about per mincore() call by segment_resident_bytes(). */
enum { SEG_MINCORE_PAGES = 4096 };

struct segment {
    void *map;
    size_t len;
    bool locked;
    uint64_t checksum; /* xxh3-64 of the whole file */
    struct snap_image img;
};

/*
 * Asks for 2 MiB pages on a segment's mapping, best effort. Lookups jump
 * at random through the index and the records, so with 4 KiB pages
 * nearly every one misses the TLB; a huge page covers 512 times as much.
 * The kernel maps a file with huge pages where the page cache holds it in
 * huge folios and the mapping is aligned (it aligns large file mappings
 * itself). Copies into the node are written in whole STORE_COPY_BUF
 * pieces so that written files are held that way; MADV_HUGEPAGE makes the
 * readahead of a file read back from disk (after a restart, or once
 * evicted) allocate huge folios too. Where none of this is supported the
 * mapping simply keeps 4 KiB pages.
 */
static void map_huge(void *map, size_t len)
{
#ifdef MADV_HUGEPAGE
    (void)madvise(map, len, MADV_HUGEPAGE);
#else
    (void)map;
    (void)len;
#endif
}

/* Faults every page of a mapping in, as MAP_POPULATE would (which could
 * not be used: it reads the file in before map_huge() has asked for huge
 * folios). */
static void populate(const void *map, size_t len)
{
#ifdef MADV_POPULATE_READ
    if (madvise((void *)map, len, MADV_POPULATE_READ) == 0) {
        return;
    }
#endif
    long page = sysconf(_SC_PAGESIZE);
    size_t step = page > 0 ? (size_t)page : 4096;
    const volatile unsigned char *p = map;
    for (size_t off = 0; off < len; off += step) {
        (void)p[off];
    }
}

int segment_open(const char *path, const struct segment_expect *expect,
                 unsigned flags, struct segment **out, bool *locked,
                 char *err, size_t errlen)
{
    char msg[256];
    *out = NULL;
    if (locked != NULL) {
        *locked = false;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open segment %s: %s", path,
                 strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat segment %s: %s", path,
                 strerror(errno));
        close(fd);
        return -1;
    }
    if (st.st_size < SNAP_HEADER_BYTES + SNAP_FOOTER_BYTES) {
        snprintf(err, errlen,
                 "segment %s: truncated: %lld bytes, at least %d expected",
                 path, (long long)st.st_size,
                 SNAP_HEADER_BYTES + SNAP_FOOTER_BYTES);
        close(fd);
        return -1;
    }
    struct segment *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        close(fd);
        return -1;
    }
    s->len = (size_t)st.st_size;
    s->map = mmap(NULL, s->len, PROT_READ, MAP_SHARED, fd, 0);
    int saved = errno;
    close(fd);
    if (s->map == MAP_FAILED) {
        snprintf(err, errlen, "cannot map segment %s: %s", path,
                 strerror(saved));
        free(s);
        return -1;
    }
    map_huge(s->map, s->len);
    if (flags & SEGMENT_POPULATE) {
        populate(s->map, s->len);
    }
    if (flags & SEGMENT_MLOCK) {
        if (mlock(s->map, s->len) == 0) {
            s->locked = true;
        } else if (errno != EPERM && errno != ENOMEM && errno != EAGAIN) {
            snprintf(err, errlen, "cannot lock segment %s: %s", path,
                     strerror(errno));
            segment_close(&s);
            return -1;
        }
    }
    if (snap_image_open(&s->img, s->map, s->len, &s->checksum, msg,
                        sizeof(msg)) != 0) {
        snprintf(err, errlen, "segment %s: %s", path, msg);
        segment_close(&s);
        return -1;
    }
    const struct snap_header *h = &s->img.h;
    msg[0] = '\0';
    if (expect != NULL) {
        if (expect->table != NULL && strcmp(expect->table, h->table) != 0) {
            snprintf(msg, sizeof(msg), "holds table '%s', expected '%s'",
                     h->table, expect->table);
        } else if (expect->version != h->version) {
            snprintf(msg, sizeof(msg),
                     "holds version %" PRIu64 ", expected %" PRIu64,
                     h->version, expect->version);
        } else if (expect->partition != h->partition) {
            snprintf(msg, sizeof(msg), "holds partition %u, expected %u",
                     h->partition, expect->partition);
        } else if (expect->checksum != 0 && expect->checksum != s->checksum) {
            snprintf(msg, sizeof(msg),
                     "checksum %016" PRIx64 " differs from the manifest's "
                     "%016" PRIx64, s->checksum, expect->checksum);
        }
    }
    if (msg[0] != '\0') {
        snprintf(err, errlen, "segment %s: %s", path, msg);
        segment_close(&s);
        return -1;
    }
    if (locked != NULL) {
        *locked = s->locked;
    }
    *out = s;
    return 0;
}

void segment_close(struct segment **sp)
{
    struct segment *s = *sp;
    if (s == NULL) {
        return;
    }
    munmap(s->map, s->len); /* also unlocks */
    free(s);
    *sp = NULL;
}

bool segment_get(const struct segment *s, const void *key, size_t klen,
                 uint64_t hash, const char **value, size_t *vlen)
{
    const uint8_t *v;
    if (!snap_image_get(&s->img, key, klen, hash, &v, vlen)) {
        return false;
    }
    *value = (const char *)v;
    return true;
}

int segment_next(const struct segment *s, uint64_t *cursor, const char **key,
                 size_t *klen, const char **value, size_t *vlen)
{
    const uint8_t *k, *v;
    int rc = snap_image_next(&s->img, cursor, &k, klen, &v, vlen);
    if (rc == 1) {
        *key = (const char *)k;
        *value = (const char *)v;
    }
    return rc;
}

uint64_t segment_rows(const struct segment *s)
{
    return s->img.h.rows;
}

uint64_t segment_mapped_bytes(const struct segment *s)
{
    return s->len;
}

uint64_t segment_resident_bytes(const struct segment *s)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t pages = (s->len + page - 1) / page;
    unsigned char vec[SEG_MINCORE_PAGES];
    uint64_t resident = 0;
    for (size_t first = 0; first < pages; first += SEG_MINCORE_PAGES) {
        size_t n = pages - first;
        if (n > SEG_MINCORE_PAGES) {
            n = SEG_MINCORE_PAGES;
        }
        if (mincore((char *)s->map + first * page, n * page, vec) != 0) {
            return 0;
        }
        for (size_t i = 0; i < n; i++) {
            resident += vec[i] & 1;
        }
    }
    resident *= page;
    return resident < s->len ? resident : s->len;
}

bool segment_locked(const struct segment *s)
{
    return s->locked;
}

uint64_t segment_checksum(const struct segment *s)
{
    return s->checksum;
}

const struct snap_header *segment_header(const struct segment *s)
{
    return &s->img.h;
}

uint32_t segment_format_newest(void)
{
    return SNAP_FORMAT_NEWEST;
}

uint32_t segment_format_oldest(void)
{
    return SNAP_FORMAT_OLDEST;
}
