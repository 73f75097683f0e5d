/*
 * object_source_backend.h: what one remote input scheme implements for
 * object_source.c. Internal to common/. A backend gets the URI whole
 * (scheme included) and fills the same structures as the public functions.
 */
#ifndef LARDER_OBJECT_SOURCE_BACKEND_H
#define LARDER_OBJECT_SOURCE_BACKEND_H

#include "object_source.h"

struct object_source_backend {
    const char *scheme; /* with its "://", e.g. "s3://" */
    int (*list)(const char *uri, struct object_list *out, bool *is_object,
                char *err, size_t errlen);
    /* Returns the backend's reader state in *state. */
    int (*open)(const char *uri, void **state, char *err, size_t errlen);
    ssize_t (*read)(void *state, void *buf, size_t len, char *err,
                    size_t errlen);
    void (*close)(void *state);
};

extern const struct object_source_backend object_source_s3;
extern const struct object_source_backend object_source_webhdfs;
extern const struct object_source_backend object_source_hdfs;

#endif
