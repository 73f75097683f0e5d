/*
 * This file implements the s3:// input backend of object_source.h
 * (object_source_backend.h) over s3_client.h.
 *
 * "s3://bucket/key" names one object when a HEAD of key finds it;
 * otherwise it is a directory: the objects directly under "key/" (listed
 * with "/" as the delimiter, every page), without the deeper "directories"
 * and without the zero-byte "key/" marker some tools create. A URI ending
 * in '/' (or naming the bucket alone) is always a directory.
 *
 * Reads go through s3_reader, which retries and resumes a broken body with
 * a ranged GET on the same ETag, so a reader sees the whole object or an
 * error.
 *
 * One S3 client serves the process: it is created on first use (reading
 * credentials once, refreshing them when they expire) and kept until
 * exit, so listing a directory and opening its hundred files resolves
 * credentials once.
 */
#include "object_source_backend.h"

#include "s3_client.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define OS3_BUCKET_MAX 256

static pthread_mutex_t os3_lock = PTHREAD_MUTEX_INITIALIZER;
static struct s3_client *os3_client; /* guarded by os3_lock until set */

/* The process's client, created on first use; NULL with err. */
static struct s3_client *os3_get_client(char *err, size_t errlen)
{
    pthread_mutex_lock(&os3_lock);
    if (os3_client == NULL) {
        s3_client_create(NULL, &os3_client, err, errlen);
    }
    struct s3_client *c = os3_client;
    int saved = errno;
    pthread_mutex_unlock(&os3_lock);
    errno = saved;
    return c;
}

/* Adds "s3://bucket/key" (size bytes) to out. */
static int os3_add(struct object_list *out, const char *bucket,
                   const char *key, uint64_t size, char *err, size_t errlen)
{
    size_t n = strlen(bucket) + strlen(key) + 7;
    char *uri = malloc(n);
    struct object_entry *e =
        realloc(out->entries, (out->n + 1) * sizeof(*out->entries));
    if (uri == NULL || e == NULL) {
        free(uri);
        if (e != NULL) {
            out->entries = e;
        }
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    out->entries = e;
    snprintf(uri, n, "s3://%s/%s", bucket, key);
    const char *slash = strrchr(uri, '/');
    e[out->n].uri = uri;
    e[out->n].name = (char *)(slash + 1);
    e[out->n].size = size;
    out->n++;
    return 0;
}

static void os3_free_list(struct object_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->entries[i].uri);
    }
    free(l->entries);
    l->entries = NULL;
    l->n = 0;
}

/* Lists the files directly under prefix ("" or ending in '/'). */
static int os3_list_dir(struct s3_client *c, const char *uri,
                        const char *bucket, const char *prefix,
                        struct object_list *out, char *err, size_t errlen)
{
    struct s3_list l;
    if (s3_list_objects(c, bucket, prefix, "/", &l, err, errlen) != 0) {
        return -1;
    }
    size_t pn = strlen(prefix);
    int rc = 0;
    for (size_t i = 0; i < l.n_objects && rc == 0; i++) {
        const struct s3_object *o = &l.objects[i];
        if (strlen(o->key) == pn) {
            continue; /* the "directory" marker itself */
        }
        rc = os3_add(out, bucket, o->key, o->size, err, errlen);
    }
    s3_list_free(&l);
    if (rc == 0 && out->n == 0) {
        snprintf(err, errlen, "%s: no such object, and no objects under "
                 "it as a directory", uri);
        errno = ENOENT;
        rc = -1;
    }
    if (rc != 0) {
        int saved = errno;
        os3_free_list(out);
        errno = saved;
    }
    return rc;
}

static int os3_list(const char *uri, struct object_list *out,
                    bool *is_object, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    *is_object = false;
    char bucket[OS3_BUCKET_MAX];
    const char *key;
    if (s3_uri_split(uri, bucket, sizeof(bucket), &key, err, errlen) != 0) {
        return -1;
    }
    struct s3_client *c = os3_get_client(err, errlen);
    if (c == NULL) {
        return -1;
    }
    size_t kn = strlen(key);
    if (kn > 0 && key[kn - 1] != '/') {
        struct s3_object_info info;
        char herr[1024];
        if (s3_head(c, bucket, key, &info, herr, sizeof(herr)) == 0) {
            *is_object = true;
            return os3_add(out, bucket, key, info.size, err, errlen);
        }
        if (errno != ENOENT) {
            snprintf(err, errlen, "%s", herr);
            return -1;
        }
        size_t n = kn + 2;
        char *prefix = malloc(n);
        if (prefix == NULL) {
            snprintf(err, errlen, "out of memory");
            errno = ENOMEM;
            return -1;
        }
        snprintf(prefix, n, "%s/", key);
        int rc = os3_list_dir(c, uri, bucket, prefix, out, err, errlen);
        free(prefix);
        return rc;
    }
    return os3_list_dir(c, uri, bucket, key, out, err, errlen);
}

static int os3_open(const char *uri, void **state, char *err, size_t errlen)
{
    *state = NULL;
    char bucket[OS3_BUCKET_MAX];
    const char *key;
    if (s3_uri_split(uri, bucket, sizeof(bucket), &key, err, errlen) != 0) {
        return -1;
    }
    if (key[0] == '\0' || key[strlen(key) - 1] == '/') {
        snprintf(err, errlen, "%s: names a directory, not an object", uri);
        errno = EINVAL;
        return -1;
    }
    struct s3_client *c = os3_get_client(err, errlen);
    if (c == NULL) {
        return -1;
    }
    struct s3_reader *r;
    if (s3_reader_open(c, bucket, key, &r, err, errlen) != 0) {
        return -1;
    }
    *state = r;
    return 0;
}

static ssize_t os3_read(void *state, void *buf, size_t len, char *err,
                        size_t errlen)
{
    return s3_reader_read(state, buf, len, err, errlen);
}

static void os3_close(void *state)
{
    struct s3_reader *r = state;
    s3_reader_close(&r);
}

const struct object_source_backend object_source_s3 = {
    .scheme = "s3://",
    .list = os3_list,
    .open = os3_open,
    .read = os3_read,
    .close = os3_close,
};
