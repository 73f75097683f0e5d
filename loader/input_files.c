/*
 * This file implements the expansion of --input paths into files
 * (input_files.h).
 */
#include "input_files.h"

#include <dirent.h>
#include <errno.h>
#include <glob.h>
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

/* The marker Spark and Hadoop write into an output directory last. */
#define INPUT_FILES_SUCCESS_MARKER "_SUCCESS"

static enum input_files_status expand_dir(const char *dir,
                                          bool allow_incomplete,
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
    bool complete = false;
    enum input_files_status st = INPUT_FILES_OK;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        complete |= strcmp(de->d_name, INPUT_FILES_SUCCESS_MARKER) == 0;
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
    if (st == INPUT_FILES_OK && !complete && !allow_incomplete) {
        snprintf(err, errlen, "%s has no " INPUT_FILES_SUCCESS_MARKER
                 " marker: the job that writes it may still be running; "
                 "use --allow-incomplete to load it anyway", dir);
        return INPUT_FILES_INCOMPLETE;
    }
    qsort(f->paths + first, f->n - first, sizeof(*f->paths), cmp_str);
    return st;
}

/*
 * Expands a glob pattern: its matches in name order, but those whose name
 * starts with '.' or '_'; directories as directories, regular files.
 */
static enum input_files_status expand_glob(const char *pattern,
                                           bool allow_incomplete,
                                           struct input_files *f,
                                           size_t *cap, char *err,
                                           size_t errlen)
{
    glob_t g;
    int rc = glob(pattern, GLOB_NOSORT, NULL, &g);
    if (rc == GLOB_NOSPACE) {
        snprintf(err, errlen, "out of memory");
        globfree(&g);
        return INPUT_FILES_NOMEM;
    }
    if (rc != 0 && rc != GLOB_NOMATCH) {
        snprintf(err, errlen, "input %s: cannot read a directory the "
                 "pattern goes through", pattern);
        globfree(&g);
        return INPUT_FILES_MISSING;
    }
    size_t first = f->n;
    enum input_files_status st = INPUT_FILES_OK;
    if (rc == 0) {
        qsort(g.gl_pathv, g.gl_pathc, sizeof(*g.gl_pathv), cmp_str);
    }
    for (size_t i = 0; rc == 0 && i < g.gl_pathc && st == INPUT_FILES_OK;
         i++) {
        const char *path = g.gl_pathv[i];
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        struct stat sb;
        if (base[0] == '.' || base[0] == '_' || stat(path, &sb) != 0) {
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            st = expand_dir(path, allow_incomplete, f, cap, err, errlen);
        } else if (S_ISREG(sb.st_mode)) {
            if (access(path, R_OK) != 0) {
                snprintf(err, errlen, "input %s: %s", path, strerror(errno));
                st = INPUT_FILES_MISSING;
            } else if (add(f, cap, path) != 0) {
                snprintf(err, errlen, "out of memory");
                st = INPUT_FILES_NOMEM;
            }
        }
    }
    globfree(&g);
    if (st == INPUT_FILES_OK && f->n == first) {
        snprintf(err, errlen, "input %s matches no input files", pattern);
        return INPUT_FILES_MISSING;
    }
    return st;
}

enum input_files_status input_files_expand(const char *const *paths,
                                           size_t n, bool allow_incomplete,
                                           struct input_files *out,
                                           char *err, size_t errlen)
{
    struct input_files f = {0};
    size_t cap = 0;
    enum input_files_status st = INPUT_FILES_OK;
    for (size_t i = 0; i < n && st == INPUT_FILES_OK; i++) {
        struct stat sb;
        if (stat(paths[i], &sb) != 0 && strpbrk(paths[i], "*?[") != NULL) {
            st = expand_glob(paths[i], allow_incomplete, &f, &cap, err,
                             errlen);
        } else if (stat(paths[i], &sb) != 0) {
            snprintf(err, errlen, "input %s: %s", paths[i], strerror(errno));
            st = INPUT_FILES_MISSING;
        } else if (S_ISDIR(sb.st_mode)) {
            st = expand_dir(paths[i], allow_incomplete, &f, &cap, err,
                            errlen);
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
