/*
 * This file implements object_source.h: it picks the backend of a remote
 * URI by its scheme (object_source_backend.h) and keeps what every
 * backend shares: the reader handle with its byte count, the sorting of
 * listings and freeing them.
 */
#include "object_source.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http_client.h"
#include "object_source_backend.h"

/* Every scheme larder reads, in the order they are tried. */
static const struct object_source_backend *const object_source_backends[] = {
    &object_source_s3,
    &object_source_webhdfs,
    &object_source_hdfs,
};

#define OBJECT_SOURCE_NBACKENDS                                               \
    (sizeof(object_source_backends) / sizeof(object_source_backends[0]))

struct object_reader {
    const struct object_source_backend *backend; /* borrowed, static */
    void *state;                                 /* the backend's */
    uint64_t offset;                             /* bytes returned */
};

/* The backend of uri's scheme (case-insensitive), or NULL. */
static const struct object_source_backend *backend_of(const char *uri)
{
    for (size_t i = 0; uri != NULL && i < OBJECT_SOURCE_NBACKENDS; i++) {
        const char *scheme = object_source_backends[i]->scheme;
        if (strncasecmp(uri, scheme, strlen(scheme)) == 0) {
            return object_source_backends[i];
        }
    }
    return NULL;
}

bool object_source_is_remote(const char *path)
{
    return backend_of(path) != NULL;
}

/* Finds the backend and makes sure libcurl is ready; NULL with err. */
static const struct object_source_backend *
prepare(const char *uri, char *err, size_t errlen)
{
    const struct object_source_backend *b = backend_of(uri);
    if (b == NULL) {
        snprintf(err, errlen, "%s: not a remote input URI (s3://, "
                 "webhdfs://, hdfs://)", uri ? uri : "(null)");
        errno = EINVAL;
        return NULL;
    }
    if (http_global_init() != 0) {
        snprintf(err, errlen, "%s: cannot initialise libcurl", uri);
        errno = ENOMEM;
        return NULL;
    }
    return b;
}

static int cmp_entry(const void *a, const void *b)
{
    return strcmp(((const struct object_entry *)a)->uri,
                  ((const struct object_entry *)b)->uri);
}

int object_source_list(const char *uri, struct object_list *out,
                       bool *is_object, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    *is_object = false;
    const struct object_source_backend *b = prepare(uri, err, errlen);
    if (b == NULL) {
        return -1;
    }
    if (b->list(uri, out, is_object, err, errlen) != 0) {
        int e = errno;
        object_list_free(out);
        errno = e;
        return -1;
    }
    if (out->n > 1) {
        qsort(out->entries, out->n, sizeof(*out->entries), cmp_entry);
    }
    return 0;
}

void object_list_free(struct object_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->entries[i].uri);
    }
    free(l->entries);
    l->entries = NULL;
    l->n = 0;
}

int object_reader_open(const char *uri, struct object_reader **out,
                       char *err, size_t errlen)
{
    *out = NULL;
    const struct object_source_backend *b = prepare(uri, err, errlen);
    if (b == NULL) {
        return -1;
    }
    struct object_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "%s: out of memory", uri);
        errno = ENOMEM;
        return -1;
    }
    if (b->open(uri, &r->state, err, errlen) != 0) {
        int e = errno;
        free(r);
        errno = e;
        return -1;
    }
    r->backend = b;
    *out = r;
    return 0;
}

ssize_t object_reader_read(struct object_reader *r, void *buf, size_t len,
                           char *err, size_t errlen)
{
    ssize_t n = r->backend->read(r->state, buf, len, err, errlen);
    if (n > 0) {
        r->offset += (uint64_t)n;
    }
    return n;
}

uint64_t object_reader_offset(const struct object_reader *r)
{
    return r->offset;
}

void object_reader_close(struct object_reader **r)
{
    if (r == NULL || *r == NULL) {
        return;
    }
    (*r)->backend->close((*r)->state);
    free(*r);
    *r = NULL;
}
