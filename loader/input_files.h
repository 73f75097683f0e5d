/*
 * input_files.h: turns the --input paths into the list of files a load
 * reads, in order: a file stands for itself; a directory for its regular
 * files (not recursively), sorted by name, names starting with '.' (.crc
 * checksums) and '_' (_SUCCESS, _committed_*, _started_*) skipped. A
 * directory is an output directory as Spark and Hadoop write it: one
 * without a _SUCCESS file may still be being written and is refused
 * unless allow_incomplete. A path that does not exist but holds a glob
 * character (* ? [) is a glob(3) pattern: its matches, sorted, each
 * taken as above (files whose name starts with '.' or '_' skipped).
 *
 * A remote path (s3://bucket/prefix, webhdfs://host:port/path,
 * hdfs://host:port/path: object_source.h) is listed through its store:
 * one object stands for itself; a directory or prefix for its direct
 * files under the same rules as a local directory (names starting with
 * '.' or '_' skipped, _SUCCESS required unless allow_incomplete). Glob
 * characters are literal in a remote path.
 */
#ifndef LARDER_INPUT_FILES_H
#define LARDER_INPUT_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct input_files {
    char **paths;    /* owned: local paths or remote URIs */
    uint64_t *sizes; /* owned: bytes of each file, as listed */
    size_t n;
};

enum input_files_status {
    INPUT_FILES_OK = 0,
    INPUT_FILES_MISSING, /* a path does not exist or cannot be read */
    INPUT_FILES_EMPTY,   /* a directory without files */
    INPUT_FILES_INCOMPLETE, /* a directory without _SUCCESS */
    INPUT_FILES_NOMEM,
    INPUT_FILES_IO, /* a remote store kept failing (past its retries) */
};

/*
 * Expands paths[0..n); allow_incomplete accepts directories without
 * _SUCCESS. On failure err names the path (a glob that matches no file is
 * INPUT_FILES_MISSING, and so is a remote path that does not exist, is
 * refused (credentials) or is not a valid URI).
 */
enum input_files_status input_files_expand(const char *const *paths,
                                           size_t n, bool allow_incomplete,
                                           struct input_files *out,
                                           char *err, size_t errlen);

void input_files_free(struct input_files *f);

#endif
