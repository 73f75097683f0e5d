/*
 * input_files.h: turns the --input paths into the list of files a load
 * reads, in order: a file stands for itself; a directory for its regular
 * files (not recursively), sorted by name, names starting with '.' (and
 * '_', as Spark's _SUCCESS marker) skipped.
 */
#ifndef LARDER_INPUT_FILES_H
#define LARDER_INPUT_FILES_H

#include <stddef.h>

struct input_files {
    char **paths; /* owned */
    size_t n;
};

enum input_files_status {
    INPUT_FILES_OK = 0,
    INPUT_FILES_MISSING, /* a path does not exist or cannot be read */
    INPUT_FILES_EMPTY,   /* a directory without files */
    INPUT_FILES_NOMEM,
};

/* Expands paths[0..n); on failure err names the path. */
enum input_files_status input_files_expand(const char *const *paths,
                                           size_t n, struct input_files *out,
                                           char *err, size_t errlen);

void input_files_free(struct input_files *f);

#endif
