/*
 * object_source.h: input files that live in a remote object store or file
 * system rather than on local disk: "s3://bucket/prefix" and
 * "webhdfs://host:port/path" ("hdfs://host:port/path" is read through
 * WebHDFS on the same host and port). larder-load lists and reads its
 * --input through this when a path has one of those schemes; local paths
 * never come here.
 *
 * Dispatch by scheme happens in object_source.c; each scheme is one
 * backend (object_source_backend.h): object_source_s3.c,
 * object_source_webhdfs.c. Backends retry transient failures themselves
 * (http_client.h's policy) and resume a broken read where it stopped, so a
 * reader sees either the whole object or an error.
 *
 * Errors: -1 with a message in err naming the URI, and errno set:
 * ENOENT (no such object or prefix), EACCES (refused: 401/403, wrong
 * credentials), EIO (the store kept failing past the retries, or the
 * object changed while being read), ENOMEM, EINVAL (a bad URI).
 */
#ifndef LARDER_OBJECT_SOURCE_H
#define LARDER_OBJECT_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* True if path names a remote input (s3://, webhdfs://, hdfs://). */
bool object_source_is_remote(const char *path);

struct object_entry {
    char *uri;     /* full URI of the object, malloc'd */
    char *name;    /* last path component (points into uri) */
    uint64_t size; /* bytes */
};

struct object_list {
    struct object_entry *entries; /* sorted by uri */
    size_t n;
};

/*
 * Lists what uri names. If it is one object, *is_object is set and the
 * list holds just it. Otherwise it is a directory (S3: a prefix, listed
 * with "/" as the delimiter, every page of it; WebHDFS: LISTSTATUS), and
 * the list holds its direct files, sorted by name, nothing skipped (the
 * caller applies the _SUCCESS and hidden-file rules). An empty prefix or
 * a missing path is ENOENT.
 */
int object_source_list(const char *uri, struct object_list *out,
                       bool *is_object, char *err, size_t errlen);

void object_list_free(struct object_list *l);

struct object_reader;

/* Opens one object for reading from its start. */
int object_reader_open(const char *uri, struct object_reader **out,
                       char *err, size_t errlen);

/* As read(2): > 0 bytes, 0 at the end of the object, -1 with err. */
ssize_t object_reader_read(struct object_reader *r, void *buf, size_t len,
                           char *err, size_t errlen);

/* Bytes returned so far. */
uint64_t object_reader_offset(const struct object_reader *r);

void object_reader_close(struct object_reader **r);

#endif
