/*
 * This file implements byte_source (byte_source.h): an input file read
 * with plain read(2) calls (or, for a remote URI, object_reader_read()
 * calls: the only place the two differ is bs_read_file), or inflated
 * with zlib when its first bytes are
 * the gzip magic. The first read sniffs the magic into an input buffer;
 * plain data is then handed out from that buffer and afterwards read
 * straight into the caller's buffer, gzip data is inflated from it
 * straight into the caller's buffer, one member after the other.
 */
#include "byte_source.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <zlib.h>

#include "object_source.h"

#define BYTE_SOURCE_INBUF (256u << 10) /* compressed bytes per read(2) */
#define BYTE_SOURCE_MAX_OUT (1u << 30) /* zlib counts in unsigned int */

enum bs_mode {
    BS_NEW = 0, /* nothing read yet */
    BS_PLAIN,
    BS_GZIP,
    BS_END,    /* the stream ended: reads give 0 */
    BS_FAILED, /* an error was reported: reads repeat it */
};

struct byte_source {
    int fd;                        /* a local file, or -1 */
    struct object_reader *remote;  /* a remote object, or NULL */
    char read_msg[512];            /* why the last file read failed */
    enum bs_mode mode;
    bool named_gz;      /* the name ends in .gz: gzip data is required */
    bool file_eof;      /* read(2) returned 0 */
    uint64_t file_read; /* bytes read from the file so far */
    unsigned char *in;  /* read buffer: sniffed bytes, or compressed input */
    size_t in_len;      /* plain: bytes in `in`; gzip: unused */
    size_t in_pos;      /* plain: bytes of `in` already handed out */
    z_stream z;
    bool z_ready;       /* inflateInit2 done */
    int fail_errno;     /* BS_FAILED: the errno to repeat */
    char fail_msg[768]; /* BS_FAILED: the message to repeat */
};

/* True if the file name ends in .gz (any case): gzip data is required. */
static bool named_gz(const char *path)
{
    size_t plen = strlen(path);
    return plen >= 3 && strcasecmp(path + plen - 3, ".gz") == 0;
}

/* True if the n bytes at p start with the gzip magic (1f 8b). */
static bool gzip_magic(const unsigned char *p, size_t n)
{
    return n >= 2 && p[0] == 0x1f && p[1] == 0x8b;
}

int byte_source_open(const char *path, struct byte_source **out, char *err,
                     size_t errlen)
{
    struct byte_source *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    s->fd = -1;
    if (object_source_is_remote(path)) {
        /* err names the URI; errno is ENOENT, EACCES, EIO... */
        if (object_reader_open(path, &s->remote, err, errlen) != 0) {
            int e = errno;
            free(s);
            errno = e;
            return -1;
        }
    } else {
        s->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (s->fd < 0) {
            int e = errno;
            snprintf(err, errlen, "cannot open %s: %s", path, strerror(e));
            free(s);
            errno = e;
            return -1;
        }
        posix_fadvise(s->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    s->named_gz = named_gz(path);
    *out = s;
    return 0;
}

void byte_source_close(struct byte_source *s)
{
    if (s == NULL) {
        return;
    }
    if (s->z_ready) {
        inflateEnd(&s->z);
    }
    if (s->remote != NULL) {
        object_reader_close(&s->remote);
    } else {
        close(s->fd);
    }
    free(s->in);
    free(s);
}

bool byte_source_is_gzip(const struct byte_source *s)
{
    return s->z_ready;
}

uint64_t byte_source_file_offset(const struct byte_source *s)
{
    return s->file_read - (s->z_ready ? s->z.avail_in : 0) -
           (s->mode == BS_PLAIN ? s->in_len - s->in_pos : 0);
}

/* Records an error (repeated by later reads); returns -1 with errno. */
static ssize_t bs_fail(struct byte_source *s, int e, char *err,
                       size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static ssize_t bs_fail(struct byte_source *s, int e, char *err,
                       size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(s->fail_msg, sizeof(s->fail_msg), fmt, ap);
    va_end(ap);
    s->mode = BS_FAILED;
    s->fail_errno = e;
    snprintf(err, errlen, "%s", s->fail_msg);
    errno = e;
    return -1;
}

/* read(2) of the file, or a read of the remote object: > 0 bytes, 0 at
 * its end, -1 with errno and s->read_msg. */
static ssize_t bs_read_file(struct byte_source *s, void *buf, size_t len)
{
    for (;;) {
        ssize_t n = s->remote == NULL
                        ? read(s->fd, buf, len)
                        : object_reader_read(s->remote, buf, len,
                                             s->read_msg,
                                             sizeof(s->read_msg));
        if (n > 0) {
            s->file_read += (uint64_t)n;
            return n;
        }
        if (n == 0) {
            s->file_eof = true;
            return 0;
        }
        if (s->remote != NULL || errno != EINTR) {
            int e = errno;
            if (s->remote == NULL) {
                snprintf(s->read_msg, sizeof(s->read_msg), "%s",
                         strerror(e));
            }
            errno = e;
            return -1;
        }
    }
}

/* Refills the compressed input once it is used up; -1 on a read error. */
static int bs_refill(struct byte_source *s)
{
    if (s->z.avail_in > 0 || s->file_eof) {
        return 0;
    }
    ssize_t n = bs_read_file(s, s->in, BYTE_SOURCE_INBUF);
    if (n < 0) {
        return -1;
    }
    s->z.next_in = s->in;
    s->z.avail_in = (uInt)n;
    return 0;
}

/*
 * The first read: fills the buffer with at least the two bytes that tell
 * gzip from plain data, and chooses the mode.
 */
static ssize_t bs_sniff(struct byte_source *s, char *err, size_t errlen)
{
    s->in = malloc(BYTE_SOURCE_INBUF);
    if (s->in == NULL) {
        return bs_fail(s, ENOMEM, err, errlen, "out of memory");
    }
    while (s->in_len < 2 && !s->file_eof) {
        ssize_t n = bs_read_file(s, s->in + s->in_len,
                                 BYTE_SOURCE_INBUF - s->in_len);
        if (n < 0) {
            int e = errno;
            return bs_fail(s, e, err, errlen, "read error: %s",
                           s->read_msg);
        }
        s->in_len += (size_t)n;
    }
    if (s->in_len == 0) {
        s->mode = BS_END;
        return 0;
    }
    if (gzip_magic(s->in, s->in_len)) {
        memset(&s->z, 0, sizeof(s->z));
        /* 16 + MAX_WBITS: a gzip wrapper, with its CRC and length. */
        if (inflateInit2(&s->z, 16 + MAX_WBITS) != Z_OK) {
            return bs_fail(s, ENOMEM, err, errlen, "out of memory");
        }
        s->z_ready = true;
        s->z.next_in = s->in;
        s->z.avail_in = (uInt)s->in_len;
        s->in_len = 0;
        s->mode = BS_GZIP;
        return 0;
    }
    if (s->named_gz) {
        return bs_fail(s, EBADMSG, err, errlen, "named .gz but holds no "
                       "gzip data (no gzip header at byte 0)");
    }
    s->mode = BS_PLAIN;
    return 0;
}

static ssize_t bs_read_plain(struct byte_source *s, void *buf, size_t len,
                             char *err, size_t errlen)
{
    if (s->in_pos < s->in_len) {
        size_t n = s->in_len - s->in_pos;
        n = n < len ? n : len;
        memcpy(buf, s->in + s->in_pos, n);
        s->in_pos += n;
        if (s->in_pos == s->in_len) {
            free(s->in);
            s->in = NULL;
            s->in_len = s->in_pos = 0;
        }
        return (ssize_t)n;
    }
    ssize_t n = s->file_eof ? 0 : bs_read_file(s, buf, len);
    if (n < 0) {
        int e = errno;
        return bs_fail(s, e, err, errlen, "read error: %s",
                       s->read_msg);
    }
    if (n == 0) {
        s->mode = BS_END;
    }
    return n;
}

static ssize_t bs_read_gzip(struct byte_source *s, void *buf, size_t len,
                            char *err, size_t errlen)
{
    s->z.next_out = buf;
    s->z.avail_out = (uInt)len;
    for (;;) {
        if (bs_refill(s) != 0) {
            int e = errno;
            return bs_fail(s, e, err, errlen, "read error: %s",
                           s->read_msg);
        }
        int rc = inflate(&s->z, Z_NO_FLUSH);
        size_t produced = len - s->z.avail_out;
        if (rc == Z_STREAM_END) {
            /* One member done; another may follow. */
            if (bs_refill(s) != 0) {
                int e = errno;
                return bs_fail(s, e, err, errlen, "read error: %s",
                               s->read_msg);
            }
            if (s->z.avail_in == 0) {
                s->mode = BS_END;
                return (ssize_t)produced;
            }
            inflateReset(&s->z);
        } else if (rc == Z_OK) {
            if (produced > 0) {
                return (ssize_t)produced;
            }
        } else if (rc == Z_BUF_ERROR && s->z.avail_in == 0 &&
                   s->file_eof) {
            if (produced > 0) {
                return (ssize_t)produced; /* the error comes next time */
            }
            return bs_fail(s, EBADMSG, err, errlen, "truncated gzip data: "
                           "the file ends at byte %llu inside a gzip "
                           "member", (unsigned long long)s->file_read);
        } else if (rc == Z_MEM_ERROR) {
            return bs_fail(s, ENOMEM, err, errlen, "out of memory");
        } else {
            return bs_fail(s, EBADMSG, err, errlen, "corrupt gzip data "
                           "near byte %llu: %s",
                           (unsigned long long)byte_source_file_offset(s),
                           s->z.msg ? s->z.msg : "inflate failed");
        }
    }
}

ssize_t byte_source_read(struct byte_source *s, void *buf, size_t len,
                         char *err, size_t errlen)
{
    if (len > BYTE_SOURCE_MAX_OUT) {
        len = BYTE_SOURCE_MAX_OUT;
    }
    if (s->mode == BS_NEW && bs_sniff(s, err, errlen) < 0) {
        return -1;
    }
    switch (s->mode) {
    case BS_PLAIN:
        return len == 0 ? 0 : bs_read_plain(s, buf, len, err, errlen);
    case BS_GZIP:
        return len == 0 ? 0 : bs_read_gzip(s, buf, len, err, errlen);
    case BS_FAILED:
        snprintf(err, errlen, "%s", s->fail_msg);
        errno = s->fail_errno;
        return -1;
    case BS_NEW:
    case BS_END:
        break;
    }
    return 0;
}

int byte_source_seek(struct byte_source *s, uint64_t offset, char *err,
                     size_t errlen)
{
    if (s->mode == BS_NEW && bs_sniff(s, err, errlen) < 0) {
        return -1;
    }
    if (s->mode == BS_FAILED) {
        snprintf(err, errlen, "%s", s->fail_msg);
        errno = s->fail_errno;
        return -1;
    }
    if (s->fd < 0 || s->z_ready) {
        snprintf(err, errlen, "cannot seek in %s",
                 s->z_ready ? "gzip data" : "a remote object");
        errno = ESPIPE;
        return -1;
    }
    if (lseek(s->fd, (off_t)offset, SEEK_SET) < 0) {
        int e = errno;
        return (int)bs_fail(s, e, err, errlen, "cannot seek to byte %llu: "
                            "%s", (unsigned long long)offset, strerror(e));
    }
    free(s->in);
    s->in = NULL;
    s->in_len = s->in_pos = 0;
    s->file_read = offset;
    s->file_eof = false;
    s->mode = BS_PLAIN;
    return 0;
}

bool byte_source_seekable(const char *path)
{
    if (object_source_is_remote(path) || named_gz(path)) {
        return false;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    unsigned char magic[2];
    ssize_t n = pread(fd, magic, sizeof(magic), 0);
    close(fd);
    return n >= 0 && !gzip_magic(magic, (size_t)n);
}
