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
 */
#ifndef LARDER_INPUT_FILES_H
#define LARDER_INPUT_FILES_H

#include <stdbool.h>
#include <stddef.h>

struct input_files {
    char **paths; /* owned */
    size_t n;
};

enum input_files_status {
    INPUT_FILES_OK = 0,
    INPUT_FILES_MISSING, /* a path does not exist or cannot be read */
    INPUT_FILES_EMPTY,   /* a directory without files */
    INPUT_FILES_INCOMPLETE, /* a directory without _SUCCESS */
    INPUT_FILES_NOMEM,
};

/*
 * Expands paths[0..n); allow_incomplete accepts directories without
 * _SUCCESS. On failure err names the path (a glob that matches no file is
 * INPUT_FILES_MISSING).
 */
enum input_files_status input_files_expand(const char *const *paths,
                                           size_t n, bool allow_incomplete,
                                           struct input_files *out,
                                           char *err, size_t errlen);

void input_files_free(struct input_files *f);

#endif
