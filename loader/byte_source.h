/*
 * byte_source.h: reads one input file as a stream of bytes, gunzipping it
 * on the fly when it holds gzip data. Every input format reads its file
 * through this (the line formats through line_source.h), so each of them
 * takes .gz files without knowing about compression. I/O only: it knows
 * nothing about what the bytes mean.
 *
 * The file is a local path, or a remote object named by its URI
 * (s3://, webhdfs://, hdfs://: object_source.h), read through
 * object_reader_*(), which retries and resumes on its own; everything
 * below (gzip detection, offsets in messages) is the same for both.
 *
 * A file is gzip when its first two bytes are the gzip magic (1f 8b),
 * whatever its name. Members are read one after the other (a file of
 * concatenated gzip members, as `cat a.gz b.gz` or a parallel compressor
 * writes, is one stream). A file named *.gz that does not start with the
 * magic is refused, as is a gzip stream that ends inside a member (a
 * truncated file) or fails its checksum; an empty file is an empty stream
 * whatever its name.
 *
 * Errors come back as -1 with a message in err and errno set:
 *   EBADMSG   the data is damaged (a truncated or corrupt gzip stream, a
 *             .gz file without gzip data): the file is unusable as input;
 *             the message names the compressed byte offset;
 *   ENOMEM    out of memory;
 *   another   the read(2) error (EIO...), or a remote read's error (EIO
 *             once the store kept failing past its retries, EACCES...),
 *             its message naming the URI.
 *
 * Use: byte_source_open(); byte_source_read() until it returns 0;
 * byte_source_close(). One source is used by one thread at a time.
 */
#ifndef LARDER_BYTE_SOURCE_H
#define LARDER_BYTE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct byte_source;

/*
 * Opens path. Returns 0 with *out set (the caller owns it: close it), or
 * -1 with err and errno as open(2) gives them (ENOENT, EACCES, EISDIR...)
 * or ENOMEM; for a remote URI as object_reader_open() gives them (it
 * asks the store whether the object exists). Reads nothing yet: damaged
 * data shows in the first read.
 */
int byte_source_open(const char *path, struct byte_source **out, char *err,
                     size_t errlen);

/*
 * Reads up to len bytes of the (decompressed) stream into buf. Returns
 * the number of bytes read (> 0), 0 at the end of the stream, or -1 with
 * err and errno (see above). Once it has returned 0 or -1 it keeps doing
 * so.
 */
ssize_t byte_source_read(struct byte_source *s, void *buf, size_t len,
                         char *err, size_t errlen);

/* True once a read has found gzip data. */
bool byte_source_is_gzip(const struct byte_source *s);

/* Bytes of the file itself (compressed, if gzip) consumed so far, local
 * or remote alike. */
uint64_t byte_source_file_offset(const struct byte_source *s);

/*
 * Moves a local file that holds plain (not gzip) data to byte offset
 * offset, so that the next read starts there: how a piece of a file is
 * read by one of several threads. Returns 0, or -1 with err and errno
 * (ESPIPE for gzip data or a remote object, which only stream).
 */
int byte_source_seek(struct byte_source *s, uint64_t offset, char *err,
                     size_t errlen);

/*
 * True if path is a local file that byte_source_seek() can move in: not a
 * remote URI, not named .gz, and its first bytes are not the gzip magic.
 */
bool byte_source_seekable(const char *path);

/* Closes the file and frees everything; NULL is allowed. */
void byte_source_close(struct byte_source *s);

#endif
