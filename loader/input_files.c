/*
 * This file implements the expansion of --input paths into files
 * (input_files.h): local paths with stat(2), opendir(3) and glob(3),
 * remote ones (s3://, webhdfs://, hdfs://) with object_source_list(); the
 * rules for an output directory (skipped names, _SUCCESS) are the same
 * for both.
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

#include "object_source.h"

static int add(struct input_files *f, size_t *cap, const char *path,
               uint64_t size)
{
    if (f->n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        char **np = realloc(f->paths, c * sizeof(*np));
        if (np == NULL) {
            return -1;
        }
        f->paths = np;
        uint64_t *ns = realloc(f->sizes, c * sizeof(*ns));
        if (ns == NULL) {
            return -1;
        }
        f->sizes = ns;
        *cap = c;
    }
    f->paths[f->n] = strdup(path);
    if (f->paths[f->n] == NULL) {
        return -1;
    }
    f->sizes[f->n] = size;
    f->n++;
    return 0;
}

/* True for names a directory's reader skips: hidden files (.crc
 * checksums) and markers (_SUCCESS, _committed_*, _started_*). */
static bool skipped_name(const char *name)
{
    return name[0] == '.' || name[0] == '_';
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The marker Spark and Hadoop write into an output directory last. */
#define INPUT_FILES_SUCCESS_MARKER "_SUCCESS"

/* The rules every input directory meets, local or remote: it holds files,
 * and its _SUCCESS marker unless allow_incomplete. */
static enum input_files_status check_dir(const char *dir, size_t files,
                                         bool complete,
                                         bool allow_incomplete, char *err,
                                         size_t errlen)
{
    if (files == 0) {
        snprintf(err, errlen, "directory %s holds no input files", dir);
        return INPUT_FILES_EMPTY;
    }
    if (!complete && !allow_incomplete) {
        snprintf(err, errlen, "%s has no " INPUT_FILES_SUCCESS_MARKER
                 " marker: the job that writes it may still be running; "
                 "use --allow-incomplete to load it anyway", dir);
        return INPUT_FILES_INCOMPLETE;
    }
    return INPUT_FILES_OK;
}

/* Sorts the paths of one local directory (from first on) by name, then
 * records their sizes, which are not known to follow the sort. */
static void sort_with_sizes(struct input_files *f, size_t first)
{
    qsort(f->paths + first, f->n - first, sizeof(*f->paths), cmp_str);
    for (size_t i = first; i < f->n; i++) {
        struct stat sb;
        f->sizes[i] = stat(f->paths[i], &sb) == 0 ? (uint64_t)sb.st_size
                                                  : 0;
    }
}

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
        if (skipped_name(de->d_name)) {
            continue;
        }
        char path[4096];
        struct stat sb;
        int len = snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
        if (len < 0 || (size_t)len >= sizeof(path) || stat(path, &sb) != 0 ||
            !S_ISREG(sb.st_mode)) {
            continue;
        }
        if (add(f, cap, path, 0) != 0) {
            st = INPUT_FILES_NOMEM;
            snprintf(err, errlen, "out of memory");
            break;
        }
    }
    closedir(d);
    if (st != INPUT_FILES_OK) {
        return st;
    }
    st = check_dir(dir, f->n - first, complete, allow_incomplete, err,
                   errlen);
    if (st == INPUT_FILES_OK) {
        sort_with_sizes(f, first);
    }
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
            } else if (add(f, cap, path, (uint64_t)sb.st_size) != 0) {
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

/*
 * Expands a remote input: an object stands for itself, a directory (or
 * prefix) for its files under the rules of a local directory. Glob
 * characters mean nothing special here.
 */
static enum input_files_status expand_remote(const char *uri,
                                             bool allow_incomplete,
                                             struct input_files *f,
                                             size_t *cap, char *err,
                                             size_t errlen)
{
    struct object_list l;
    bool is_object;
    if (object_source_list(uri, &l, &is_object, err, errlen) != 0) {
        /* err names the URI; the errno says which kind of failure. */
        return errno == ENOMEM                        ? INPUT_FILES_NOMEM
               : errno == ENOENT || errno == EACCES ||
                       errno == EINVAL || errno == EISDIR
                   ? INPUT_FILES_MISSING
                   : INPUT_FILES_IO;
    }
    size_t first = f->n;
    bool complete = false;
    enum input_files_status st = INPUT_FILES_OK;
    for (size_t i = 0; i < l.n && st == INPUT_FILES_OK; i++) {
        const struct object_entry *e = &l.entries[i];
        if (!is_object) {
            complete |= strcmp(e->name, INPUT_FILES_SUCCESS_MARKER) == 0;
            if (skipped_name(e->name)) {
                continue;
            }
        }
        if (add(f, cap, e->uri, e->size) != 0) {
            snprintf(err, errlen, "out of memory");
            st = INPUT_FILES_NOMEM;
        }
    }
    object_list_free(&l);
    if (st == INPUT_FILES_OK && !is_object) {
        st = check_dir(uri, f->n - first, complete, allow_incomplete, err,
                       errlen);
    }
    return st; /* in name order: the listing is sorted */
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
        if (object_source_is_remote(paths[i])) {
            st = expand_remote(paths[i], allow_incomplete, &f, &cap, err,
                               errlen);
        } else if (stat(paths[i], &sb) != 0 &&
                   strpbrk(paths[i], "*?[") != NULL) {
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
        } else if (add(&f, &cap, paths[i], (uint64_t)sb.st_size) != 0) {
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
    free(f->sizes);
    f->paths = NULL;
    f->sizes = NULL;
    f->n = 0;
}
