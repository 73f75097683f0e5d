/*
 * This file implements line_source: buffered line reading for the
 * line-oriented input formats. The buffer starts at 1 MiB and grows (up to
 * the line limit) only for lines that do not fit; data comes from a
 * byte_source, so a gzip file is read as its decompressed text.
 */
#include "line_source.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byte_source.h"

#define LINE_SOURCE_CHUNK (1u << 20)

struct line_source {
    struct byte_source *src;
    char *buf;
    size_t cap;      /* usable bytes; one more is allocated for a NUL */
    size_t start;    /* first unconsumed byte */
    size_t end;      /* end of valid data */
    size_t scanned;  /* bytes after start known to hold no newline */
    size_t max_line;
    uint64_t lineno; /* lines returned or skipped so far */
    uint64_t offset; /* stream offset of buf[start] */
    uint64_t limit;  /* lines starting at or after it are not returned;
                        0: no limit */
    bool eof;
    bool skipping;   /* inside a too-long line, discarding to its end */
};

int line_source_open(const char *path, size_t max_line,
                     struct line_source **out, char *err, size_t errlen)
{
    struct byte_source *src;
    if (byte_source_open(path, &src, err, errlen) != 0) {
        return -1;
    }
    struct line_source *s = calloc(1, sizeof(*s));
    size_t cap = LINE_SOURCE_CHUNK;
    if (max_line + 1 < cap) {
        cap = max_line + 1;
    }
    char *buf = malloc(cap + 1);
    if (s == NULL || buf == NULL) {
        free(s);
        free(buf);
        byte_source_close(src);
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    s->src = src;
    s->buf = buf;
    s->cap = cap;
    s->max_line = max_line;
    *out = s;
    return 0;
}

void line_source_close(struct line_source *s)
{
    if (s == NULL) {
        return;
    }
    byte_source_close(s->src);
    free(s->buf);
    free(s);
}

/*
 * Makes room after end: moves unconsumed data to the front, then grows the
 * buffer if it is still full and a line may be longer. Returns false when
 * the buffer is full of one line at the limit.
 */
static bool make_room(struct line_source *s)
{
    if (s->start > 0) {
        memmove(s->buf, s->buf + s->start, s->end - s->start);
        s->end -= s->start;
        s->start = 0;
    }
    if (s->end < s->cap) {
        return true;
    }
    size_t limit = s->max_line + 1; /* the line plus its newline */
    if (s->cap >= limit) {
        return false;
    }
    size_t cap = s->cap * 2 < limit ? s->cap * 2 : limit;
    char *nb = realloc(s->buf, cap + 1);
    if (nb == NULL) {
        return false;
    }
    s->buf = nb;
    s->cap = cap;
    return true;
}

/* Reads more data; 1 if some came, 0 at EOF, -1 on error (errno set). */
static int fill(struct line_source *s, char *err, size_t errlen)
{
    ssize_t n = byte_source_read(s->src, s->buf + s->end, s->cap - s->end,
                                 err, errlen);
    if (n > 0) {
        s->end += (size_t)n;
        return 1;
    }
    if (n == 0) {
        s->eof = true;
        return 0;
    }
    return -1;
}

enum line_status line_source_next(struct line_source *s, char **line,
                                  size_t *len, uint64_t *lineno,
                                  uint64_t *offset, char *err, size_t errlen)
{
    for (;;) {
        char *nl = NULL;
        if (s->end > s->start + s->scanned) {
            nl = memchr(s->buf + s->start + s->scanned, '\n',
                        s->end - s->start - s->scanned);
        }
        if (s->limit != 0 && s->offset >= s->limit && !s->skipping) {
            s->start = s->end = s->scanned = 0;
            s->eof = true;
            return LINE_EOF;
        }
        if (nl != NULL || (s->eof && s->end > s->start)) {
            size_t end = nl ? (size_t)(nl - s->buf) : s->end;
            size_t l = end - s->start;
            size_t consumed = l + (nl ? 1 : 0);
            char *p = s->buf + s->start;
            uint64_t off = s->offset;
            s->start += consumed;
            s->offset += consumed;
            s->scanned = 0;
            if (s->skipping) {
                s->skipping = false;
                continue;
            }
            s->lineno++;
            if (l > 0 && p[l - 1] == '\r') {
                l--;
            }
            p[l] = '\0';
            *line = p;
            *len = l;
            *lineno = s->lineno;
            *offset = off;
            return LINE_OK;
        }
        if (s->eof) {
            return LINE_EOF;
        }
        s->scanned = s->end - s->start;
        if (!make_room(s)) {
            /* One line fills the whole buffer at the limit. */
            bool was_skipping = s->skipping;
            uint64_t off = s->offset;
            s->offset += s->end - s->start;
            s->start = s->end = s->scanned = 0;
            if (!was_skipping) {
                s->skipping = true;
                s->lineno++;
                *lineno = s->lineno;
                *offset = off;
                *line = NULL;
                *len = 0;
                return LINE_TOO_LONG;
            }
            continue;
        }
        if (fill(s, err, errlen) < 0) {
            return LINE_ERR;
        }
    }
}

int line_source_limit(struct line_source *s, uint64_t start, uint64_t end,
                      char *err, size_t errlen)
{
    if (start > s->offset) {
        if (byte_source_seek(s->src, start - 1, err, errlen) != 0) {
            return -1;
        }
        s->start = s->end = s->scanned = 0;
        s->offset = start - 1;
        s->eof = false;
        s->skipping = true; /* the rest of the line holding byte start-1 */
        s->lineno = 0;
    }
    s->limit = end;
    return 0;
}
