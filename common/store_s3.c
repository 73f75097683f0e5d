/*
 * This file implements the s3:// store backend (store_backend.h): the
 * object at key K of store "s3://BUCKET/PREFIX" is the S3 object
 * PREFIX/K of BUCKET (K itself when there is no prefix). Requests go
 * through s3_client.h, which signs, retries and resumes; this file adds
 * what the store contract asks beyond that, as store_file.c does for local
 * files: the xxh3-64 of every object put, and copies out of the store that
 * are hashed while they stream and placed atomically (temporary file,
 * fsync, rename) only when the checksum matches.
 *
 * S3 writes are atomic by nature (an object appears whole or not at all),
 * so puts need no temporary name. No object is a local file: local_path
 * is not offered and readers copy objects out.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "store_backend.h"

#include "s3_client.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S3_STORE_BUCKET_MAX 256

struct s3_store {
    struct s3_client *client;
    char bucket[S3_STORE_BUCKET_MAX];
    char *prefix;   /* "" or "dir/sub" without a trailing '/' */
    char *location; /* "bucket" or "bucket/prefix" */
};

static int s3s_open(const char *location, void **state, char *err,
                    size_t errlen)
{
    struct s3_store *ss = calloc(1, sizeof(*ss));
    size_t n = strlen(location) + 6;
    char *uri = malloc(n);
    if (ss == NULL || uri == NULL) {
        free(ss);
        free(uri);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    snprintf(uri, n, "s3://%s", location);
    const char *prefix = NULL;
    int rc = -1;
    if (s3_uri_split(uri, ss->bucket, sizeof(ss->bucket), &prefix, err,
                     errlen) == 0) {
        ss->prefix = strdup(prefix);
        ss->location = strdup(location);
        if (ss->prefix == NULL || ss->location == NULL) {
            snprintf(err, errlen, "out of memory");
        } else if (s3_client_create(NULL, &ss->client, err, errlen) == 0) {
            rc = 0;
        }
    }
    free(uri);
    if (rc != 0) {
        free(ss->prefix);
        free(ss->location);
        free(ss);
        return -1;
    }
    *state = ss;
    return 0;
}

static void s3s_close(void *state)
{
    struct s3_store *ss = state;
    s3_client_destroy(&ss->client);
    free(ss->prefix);
    free(ss->location);
    free(ss);
}

static const char *s3s_location(const void *state)
{
    const struct s3_store *ss = state;
    return ss->location;
}

/* PREFIX/key (or key), malloc'd. */
static char *s3s_object_key(const struct s3_store *ss, const char *key,
                            char *err, size_t errlen)
{
    size_t n = strlen(ss->prefix) + strlen(key) + 2;
    char *k = malloc(n);
    if (k == NULL) {
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    snprintf(k, n, "%s%s%s", ss->prefix, ss->prefix[0] != '\0' ? "/" : "",
             key);
    return k;
}

/* The xxh3-64 of the whole file at path. 0, or -1 with err. */
static int s3s_hash_file(const char *path, uint64_t *out, char *err,
                         size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    char *buf = malloc(STORE_COPY_BUF);
    if (buf == NULL) {
        close(fd);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    XXH3_state_t st;
    XXH3_64bits_reset(&st);
    int rc = 0;
    for (;;) {
        ssize_t n = read(fd, buf, STORE_COPY_BUF);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            snprintf(err, errlen, "cannot read %s: %s", path,
                     strerror(errno));
            rc = -1;
            break;
        }
        if (n == 0) {
            break;
        }
        XXH3_64bits_update(&st, buf, (size_t)n);
    }
    free(buf);
    close(fd);
    *out = XXH3_64bits_digest(&st);
    return rc;
}

static int s3s_put_file(void *state, const char *key, const char *src_path,
                        uint64_t *checksum_out, char *err, size_t errlen)
{
    struct s3_store *ss = state;
    uint64_t sum = 0;
    if (s3s_hash_file(src_path, &sum, err, errlen) != 0) {
        return -1;
    }
    char *k = s3s_object_key(ss, key, err, errlen);
    if (k == NULL) {
        return -1;
    }
    int rc = s3_put_file(ss->client, ss->bucket, k, src_path, err, errlen);
    free(k);
    if (rc == 0 && checksum_out != NULL) {
        *checksum_out = sum;
    }
    return rc;
}

static int s3s_put_bytes(void *state, const char *key, const void *data,
                         size_t len, char *err, size_t errlen)
{
    struct s3_store *ss = state;
    char *k = s3s_object_key(ss, key, err, errlen);
    if (k == NULL) {
        return -1;
    }
    int rc = s3_put(ss->client, ss->bucket, k, data, len, err, errlen);
    free(k);
    return rc;
}

static ssize_t s3s_read(void *src, void *buf, size_t len, char *err,
                        size_t errlen)
{
    return s3_reader_read(src, buf, len, err, errlen);
}

static int s3s_get_file(void *state, const char *key, const char *dst_path,
                        uint64_t expected_checksum, struct store_pacer *pacer,
                        char *err, size_t errlen)
{
    struct s3_store *ss = state;
    char *k = s3s_object_key(ss, key, err, errlen);
    if (k == NULL) {
        return -1;
    }
    struct s3_reader *r = NULL;
    int rc = s3_reader_open(ss->client, ss->bucket, k, &r, err, errlen);
    free(k);
    if (rc != 0) {
        return -1;
    }
    /* A verified cache of the store, not fsynced: store.h. */
    char what[1400];
    snprintf(what, sizeof(what), "object '%s' in store s3://%s", key,
             ss->location);
    uint64_t sum = 0;
    rc = store_copy_stream(s3s_read, r, what, dst_path, false,
                           expected_checksum, &sum, pacer, err, errlen);
    int saved = errno;
    s3_reader_close(&r);
    errno = saved;
    return rc;
}

static int s3s_get_bytes(void *state, const char *key, char **data,
                         size_t *len, char *err, size_t errlen)
{
    struct s3_store *ss = state;
    char *k = s3s_object_key(ss, key, err, errlen);
    if (k == NULL) {
        return -1;
    }
    int rc = s3_get_bytes(ss->client, ss->bucket, k, STORE_MAX_SMALL_OBJECT,
                          data, len, err, errlen);
    free(k);
    return rc;
}

static int s3s_remove(void *state, const char *key, char *err,
                      size_t errlen)
{
    struct s3_store *ss = state;
    char *k = s3s_object_key(ss, key, err, errlen);
    if (k == NULL) {
        return -1;
    }
    int rc = s3_delete(ss->client, ss->bucket, k, err, errlen);
    free(k);
    return rc;
}

const struct store_backend store_s3_backend = {
    .scheme = "s3://",
    .open = s3s_open,
    .close = s3s_close,
    .location = s3s_location,
    .put_file = s3s_put_file,
    .put_bytes = s3s_put_bytes,
    .get_file = s3s_get_file,
    .get_bytes = s3s_get_bytes,
    .remove = s3s_remove,
    .local_path = NULL,
};
