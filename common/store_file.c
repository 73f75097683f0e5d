/*
 * This file implements the file:// store backend (store_backend.h): the
 * object at key K lives at ROOT/K. Writes go through atomic_file
 * (temporary file, fsync, rename, directory fsync) after creating the
 * key's directories, so a reader of the store sees whole objects or none;
 * a file moved in on the same file system is renamed into place instead;
 * copies out of the store are hashed on the way and placed atomically only
 * when the checksum matches.
 */
#include "store_backend.h"

#include "atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_store {
    char *root; /* absolute directory */
};

static int file_open(const char *location, void **state, char *err,
                     size_t errlen)
{
    struct file_store *fs = calloc(1, sizeof(*fs));
    if (fs == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (location[0] == '/') {
        fs->root = strdup(location);
    } else {
        char cwd[PATH_MAX];
        if (getcwd(cwd, sizeof(cwd)) == NULL) {
            snprintf(err, errlen, "store file://%s: cannot get the current "
                     "directory: %s", location, strerror(errno));
            free(fs);
            return -1;
        }
        size_t n = strlen(cwd) + strlen(location) + 2;
        fs->root = malloc(n);
        if (fs->root != NULL) {
            snprintf(fs->root, n, "%s/%s", cwd, location);
        }
    }
    if (fs->root == NULL) {
        snprintf(err, errlen, "out of memory");
        free(fs);
        return -1;
    }
    *state = fs;
    return 0;
}

static void file_close(void *state)
{
    struct file_store *fs = state;
    free(fs->root);
    free(fs);
}

static const char *file_location(const void *state)
{
    const struct file_store *fs = state;
    return fs->root;
}

/* ROOT/key, malloc'd. */
static char *object_path(const struct file_store *fs, const char *key,
                         char *err, size_t errlen)
{
    size_t n = strlen(fs->root) + strlen(key) + 2;
    char *p = malloc(n);
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(p, n, "%s/%s", fs->root, key);
    return p;
}

/* Opens an object for reading; a missing one is reported by its key. */
static int open_object(const struct file_store *fs, const char *key,
                       const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        if (saved == ENOENT) {
            snprintf(err, errlen, "object '%s' not found in store file://%s",
                     key, fs->root);
        } else {
            snprintf(err, errlen, "cannot open object '%s' (%s): %s", key,
                     path, strerror(saved));
        }
        errno = saved;
    }
    return fd;
}

/* A file read by store_copy_stream(); name is the file in messages. */
struct fd_source {
    int fd;
    const char *name;
};

static ssize_t fd_read(void *src, void *buf, size_t len, char *err,
                       size_t errlen)
{
    struct fd_source *f = src;
    for (;;) {
        ssize_t n = read(f->fd, buf, len);
        if (n >= 0 || errno != EINTR) {
            if (n < 0) {
                snprintf(err, errlen, "cannot read %s: %s", f->name,
                         strerror(errno));
            }
            return n;
        }
    }
}

static int file_put_file(void *state, const char *key, const char *src_path,
                         uint64_t *checksum_out, char *err, size_t errlen)
{
    struct file_store *fs = state;
    int src = open(src_path, O_RDONLY | O_CLOEXEC);
    if (src < 0) {
        snprintf(err, errlen, "cannot open %s: %s", src_path,
                 strerror(errno));
        return -1;
    }
    char *dst = object_path(fs, key, err, errlen);
    struct fd_source f = {.fd = src, .name = src_path};
    uint64_t sum = 0;
    int rc = dst != NULL ? store_copy_stream(fd_read, &f, src_path, dst, true,
                                             0, &sum, NULL, err, errlen)
                         : -1;
    close(src);
    free(dst);
    if (rc == 0 && checksum_out != NULL) {
        *checksum_out = sum;
    }
    return rc;
}

static int file_put_bytes(void *state, const char *key, const void *data,
                          size_t len, char *err, size_t errlen)
{
    struct file_store *fs = state;
    char *dst = object_path(fs, key, err, errlen);
    struct atomic_file af = {.fd = -1};
    int rc = -1;
    if (dst != NULL && atomic_file_make_parent_dirs(dst, err, errlen) == 0 &&
        atomic_file_open(&af, dst, err, errlen) == 0) {
        if (atomic_file_write(&af, data, len, err, errlen) == 0) {
            rc = atomic_file_commit(&af, err, errlen);
        } else {
            atomic_file_abort(&af);
        }
    }
    free(dst);
    return rc;
}

static int file_move_file(void *state, const char *key,
                          const char *src_path, char *err, size_t errlen)
{
    struct file_store *fs = state;
    char *dst = object_path(fs, key, err, errlen);
    int rc = -1;
    if (dst != NULL && atomic_file_make_parent_dirs(dst, err, errlen) == 0) {
        rc = atomic_file_move(src_path, dst, err, errlen);
        if (rc != 0 && errno == EXDEV) {
            rc = 1; /* another file system: the caller copies */
        }
    }
    free(dst);
    return rc;
}

static int file_get_file(void *state, const char *key, const char *dst_path,
                         uint64_t expected_checksum, struct store_pacer *pacer,
                         char *err, size_t errlen)
{
    struct file_store *fs = state;
    char *src_path = object_path(fs, key, err, errlen);
    if (src_path == NULL) {
        return -1;
    }
    int src = open_object(fs, key, src_path, err, errlen);
    free(src_path);
    if (src < 0) {
        return -1;
    }
    /* A copy out of the store is verified whenever it is used (store.h),
     * so it skips the fsyncs: after a crash it is fetched again. */
    char what[600];
    snprintf(what, sizeof(what), "object '%s'", key);
    struct fd_source f = {.fd = src, .name = key};
    uint64_t sum = 0;
    int rc = store_copy_stream(fd_read, &f, what, dst_path, false,
                               expected_checksum, &sum, pacer, err, errlen);
    int saved = errno;
    close(src);
    errno = saved;
    return rc;
}

static int file_get_bytes(void *state, const char *key, char **data,
                          size_t *len, char *err, size_t errlen)
{
    struct file_store *fs = state;
    char *path = object_path(fs, key, err, errlen);
    if (path == NULL) {
        return -1;
    }
    int fd = open_object(fs, key, path, err, errlen);
    free(path);
    if (fd < 0) {
        return -1;
    }
    struct stat st;
    char *buf = NULL;
    size_t size = 0;
    int rc = -1;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat object '%s': %s", key,
                 strerror(errno));
    } else if ((uint64_t)st.st_size > STORE_MAX_SMALL_OBJECT) {
        snprintf(err, errlen, "object '%s' is %lld bytes, over the %zu "
                 "limit for small objects", key, (long long)st.st_size,
                 STORE_MAX_SMALL_OBJECT);
    } else if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
        snprintf(err, errlen, "out of memory");
    } else {
        rc = 0;
        while (size < (size_t)st.st_size) {
            ssize_t n = read(fd, buf + size, (size_t)st.st_size - size);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                snprintf(err, errlen, "cannot read object '%s': %s", key,
                         n < 0 ? strerror(errno) : "it shrank while read");
                rc = -1;
                break;
            }
            size += (size_t)n;
        }
    }
    close(fd);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    buf[size] = '\0';
    *data = buf;
    *len = size;
    return 0;
}

static int file_remove(void *state, const char *key, char *err,
                       size_t errlen)
{
    struct file_store *fs = state;
    char *path = object_path(fs, key, err, errlen);
    if (path == NULL) {
        return -1;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        snprintf(err, errlen, "cannot delete object '%s' (%s): %s", key, path,
                 strerror(errno));
        free(path);
        return -1;
    }
    /* Directories of the key left empty go too (rmdir refuses others). */
    size_t rootlen = strlen(fs->root);
    for (char *slash = strrchr(path, '/');
         slash != NULL && (size_t)(slash - path) > rootlen;
         slash = strrchr(path, '/')) {
        *slash = '\0';
        if (rmdir(path) != 0) {
            break;
        }
    }
    free(path);
    return 0;
}

static int file_local_path(const void *state, const char *key, char *out,
                           size_t outlen, char *err, size_t errlen)
{
    const struct file_store *fs = state;
    if ((size_t)snprintf(out, outlen, "%s/%s", fs->root, key) >= outlen) {
        snprintf(err, errlen, "path of object '%s' is too long", key);
        return -1;
    }
    return 0;
}

const struct store_backend store_file_backend = {
    .scheme = "file://",
    .open = file_open,
    .close = file_close,
    .location = file_location,
    .put_file = file_put_file,
    .move_file = file_move_file,
    .put_bytes = file_put_bytes,
    .get_file = file_get_file,
    .get_bytes = file_get_bytes,
    .remove = file_remove,
    .local_path = file_local_path,
};
