/*
 * line_source.h: reads a file as lines, in large sequential reads, for the
 * line-oriented input formats (TSV, JSONL). I/O only: it knows newlines,
 * nothing about what is between them. The bytes come from byte_source.h,
 * so a gzip file gives the lines of its decompressed text; line numbers
 * and offsets are then those of the decompressed text.
 *
 * A line is returned without its "\n" (and without a "\r" before it),
 * NUL-terminated and writable in place (parsers may split it), valid until
 * the next call. A last line without a newline is still a line. A line
 * longer than the limit is reported once (LINE_TOO_LONG) and skipped.
 */
#ifndef LARDER_LINE_SOURCE_H
#define LARDER_LINE_SOURCE_H

#include <stddef.h>
#include <stdint.h>

enum line_status {
    LINE_OK = 0,
    LINE_EOF,
    LINE_TOO_LONG, /* skipped; lineno and offset say which */
    LINE_ERR,      /* the file cannot be read on: message in err, errno
                      EBADMSG for damaged data (a truncated or corrupt
                      gzip stream), else the read error */
};

struct line_source;

/*
 * Opens path for reading. Returns 0, or -1 with err and errno set (ENOENT,
 * EACCES, EISDIR... as open(2) gives them, or ENOMEM).
 */
int line_source_open(const char *path, size_t max_line,
                     struct line_source **out, char *err, size_t errlen);

/*
 * The next line. *lineno is 1-based, *offset the byte offset of the
 * line's first byte.
 */
enum line_status line_source_next(struct line_source *s, char **line,
                                  size_t *len, uint64_t *lineno,
                                  uint64_t *offset, char *err, size_t errlen);

/*
 * Restricts the source to the lines that start at a byte offset in
 * [start, end) of the file (end 0: up to its end), so that a file split
 * into pieces at any offsets is read by one source per piece, every line
 * by exactly one of them. When start is past what was read so far the
 * source seeks (a plain local file only: byte_source_seek()) to start - 1
 * and drops the line holding that byte, which belongs to the piece
 * before; line numbers then count from the piece's first line, and
 * offsets stay those of the file. [0, 0), the whole file, changes nothing,
 * so a reader may call this whatever range it was given. Returns 0, or -1
 * with err and errno (ESPIPE: gzip data or a remote object).
 */
int line_source_limit(struct line_source *s, uint64_t start, uint64_t end,
                      char *err, size_t errlen);

/* Closes the file and frees the buffer; NULL is allowed. */
void line_source_close(struct line_source *s);

#endif
