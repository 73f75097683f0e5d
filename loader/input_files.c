/*
 * This file implements the expansion of --input paths into files
 * (input_files.h).
 */
#include "input_files.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int add(struct input_files *f, size_t *cap, const char *path)
{
    if (f->n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        char **np = realloc(f->paths, c * sizeof(*np));
        if (np == NULL) {
            return -1;
        }
        f->paths = np;
        *cap = c;
    }
    f->paths[f->n] = strdup(path);
    if (f->paths[f->n] == NULL) {
        return -1;
    }
    f->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static enum input_files_status expand_dir(const char *dir,
                                          struct input_files *f,
                                          size_t *cap, char *err,
                                          size_t errlen)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        snprintf(err, errlen, "cannot read directory %s: %s", dir,
                 strerror(errno));
        return INPUT_FILES_MISSING;
    }
    size_t first = f->n;
    enum input_files_status st = INPUT_FILES_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.' || de->d_name[0] == '_') {
            continue;
        }
        char path[4096];
        struct stat sb;
        int len = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (len < 0 || (size_t)len >= sizeof(path) || stat(path, &sb) != 0 ||
            !S_ISREG(sb.st_mode)) {
            continue;
        }
        if (add(f, cap, path) != 0) {
            st = INPUT_FILES_NOMEM;
            snprintf(err, errlen, "out of memory");
            break;
        }
    }
    closedir(d);
    if (st == INPUT_FILES_OK && f->n == first) {
        snprintf(err, errlen, "directory %s holds no input files", dir);
        return INPUT_FILES_EMPTY;
    }
    qsort(f->paths + first, f->n - first, sizeof(*f->paths), cmp_str);
    return st;
}

enum input_files_status input_files_expand(const char *const *paths,
                                           size_t n, struct input_files *out,
                                           char *err, size_t errlen)
{
    struct input_files f = {0};
    size_t cap = 0;
    enum input_files_status st = INPUT_FILES_OK;
    for (size_t i = 0; i < n && st == INPUT_FILES_OK; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0) {
            snprintf(err, errlen, "input %s: %s", paths[i], strerror(errno));
            st = INPUT_FILES_MISSING;
        } else if (S_ISDIR(sb.st_mode)) {
            st = expand_dir(paths[i], &f, &cap, err, errlen);
        } else if (access(paths[i], R_OK) != 0) {
            snprintf(err, errlen, "input %s: %s", paths[i], strerror(errno));
            st = INPUT_FILES_MISSING;
        } else if (add(&f, &cap, paths[i]) != 0) {
            snprintf(err, errlen, "out of memory");
            st = INPUT_FILES_NOMEM;
        }
    }
    if (st != INPUT_FILES_OK) {
        input_files_free(&f);
        return st;
    }
    *out = f;
    return INPUT_FILES_OK;
}

void input_files_free(struct input_files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->paths[i]);
    }
    free(f->paths);
    f->paths = NULL;
    f->n = 0;
}
