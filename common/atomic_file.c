/*
 * This file implements atomic_file.h: crash-safe replacement of a file by
 * temporary file, fsync, rename and directory fsync, and directory
 * creation that survives a crash too.
 */
#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The directory part of path ("." if it has none); malloc'd. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        return strdup(".");
    }
    if (slash == path) {
        return strdup("/");
    }
    return strndup(path, (size_t)(slash - path));
}

/* fsyncs a directory so that entries created or renamed in it persist. */
static int fsync_dir(const char *dir, char *err, size_t errlen)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open directory %s: %s", dir,
                 strerror(errno));
        return -1;
    }
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0) {
        errno = saved;
        snprintf(err, errlen, "cannot fsync directory %s: %s", dir,
                 strerror(saved));
        return -1;
    }
    return 0;
}

static void reset(struct atomic_file *f)
{
    free(f->path);
    free(f->tmp);
    f->path = NULL;
    f->tmp = NULL;
    f->fd = -1;
}

int atomic_file_open(struct atomic_file *f, const char *path, char *err,
                     size_t errlen)
{
    f->fd = -1;
    f->no_sync = false;
    f->path = strdup(path);
    size_t n = strlen(path) + 32;
    f->tmp = malloc(n);
    if (f->path == NULL || f->tmp == NULL) {
        reset(f);
        errno = ENOMEM;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(f->tmp, n, "%s.tmp.%ld", path, (long)getpid());
    f->fd = open(f->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (f->fd < 0) {
        int saved = errno;
        snprintf(err, errlen, "cannot create %s: %s", f->tmp, strerror(saved));
        reset(f);
        errno = saved;
        return -1;
    }
    return 0;
}

int atomic_file_write(struct atomic_file *f, const void *data, size_t n,
                      char *err, size_t errlen)
{
    const char *p = data;
    while (n > 0) {
        ssize_t w = write(f->fd, p, n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            snprintf(err, errlen, "cannot write %s: %s", f->tmp,
                     strerror(errno));
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int atomic_file_commit(struct atomic_file *f, char *err, size_t errlen)
{
    int saved;
    if (!f->no_sync && fsync(f->fd) != 0) {
        saved = errno;
        snprintf(err, errlen, "cannot fsync %s: %s", f->tmp, strerror(saved));
        goto fail;
    }
    int fd = f->fd;
    f->fd = -1;
    if (close(fd) != 0) {
        saved = errno;
        snprintf(err, errlen, "cannot close %s: %s", f->tmp, strerror(saved));
        goto fail;
    }
    if (rename(f->tmp, f->path) != 0) {
        saved = errno;
        snprintf(err, errlen, "cannot rename %s to %s: %s", f->tmp, f->path,
                 strerror(saved));
        goto fail;
    }
    if (f->no_sync) {
        reset(f);
        return 0;
    }
    char *dir = dir_of(f->path);
    int rc = dir != NULL ? fsync_dir(dir, err, errlen) : -1;
    saved = errno;
    free(dir);
    reset(f);
    errno = saved;
    return rc;

fail:
    atomic_file_abort(f);
    errno = saved;
    return -1;
}

int atomic_file_move(const char *src, const char *dst, char *err,
                     size_t errlen)
{
    int fd = open(src, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        snprintf(err, errlen, "cannot open %s: %s", src, strerror(saved));
        errno = saved;
        return -1;
    }
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    if (rc != 0) {
        snprintf(err, errlen, "cannot fsync %s: %s", src, strerror(saved));
        errno = saved;
        return -1;
    }
    if (rename(src, dst) != 0) {
        saved = errno;
        snprintf(err, errlen, "cannot rename %s to %s: %s", src, dst,
                 strerror(saved));
        errno = saved;
        return -1;
    }
    char *dir = dir_of(dst);
    rc = dir != NULL ? fsync_dir(dir, err, errlen) : -1;
    saved = errno;
    free(dir);
    errno = saved;
    return rc;
}

void atomic_file_abort(struct atomic_file *f)
{
    if (f->tmp == NULL) {
        return;
    }
    if (f->fd >= 0) {
        close(f->fd);
    }
    unlink(f->tmp);
    reset(f);
}

int atomic_file_make_dirs(const char *dir, char *err, size_t errlen)
{
    char *p = strdup(dir);
    if (p == NULL) {
        errno = ENOMEM;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    size_t len = strlen(p);
    /* Each prefix ending before a '/' (and the whole path), in order. */
    for (size_t i = 1; i <= len && rc == 0; i++) {
        if (i < len && p[i] != '/') {
            continue;
        }
        char saved_c = p[i];
        p[i] = '\0';
        if (mkdir(p, 0755) == 0) {
            char *parent = dir_of(p);
            rc = parent != NULL ? fsync_dir(parent, err, errlen) : -1;
            free(parent);
        } else if (errno == EEXIST) {
            struct stat st;
            if (stat(p, &st) != 0 || !S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                snprintf(err, errlen, "%s exists and is not a directory", p);
                rc = -1;
            }
        } else {
            snprintf(err, errlen, "cannot create directory %s: %s", p,
                     strerror(errno));
            rc = -1;
        }
        p[i] = saved_c;
    }
    free(p);
    return rc;
}

int atomic_file_make_parent_dirs(const char *path, char *err, size_t errlen)
{
    char *dir = dir_of(path);
    if (dir == NULL) {
        errno = ENOMEM;
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = atomic_file_make_dirs(dir, err, errlen);
    free(dir);
    return rc;
}
