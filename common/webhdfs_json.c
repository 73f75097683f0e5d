/*
 * This file implements the WebHDFS JSON parsers of webhdfs_json.h over
 * jansson. They read from a buffer and do no I/O, so they are unit-tested
 * on literal bodies (tests/unit/common/test_webhdfs_json.c).
 */
#include "webhdfs_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Loads body as one JSON object; NULL with err (errno EBADMSG). */
static json_t *load_object(const char *body, size_t len, char *err,
                           size_t errlen)
{
    json_error_t je;
    json_t *root = json_loadb(body, len, 0, &je);
    if (root == NULL || !json_is_object(root)) {
        snprintf(err, errlen, "not a JSON object%s%.100s",
                 root == NULL ? ": " : "", root == NULL ? je.text : "");
        json_decref(root);
        errno = EBADMSG;
        return NULL;
    }
    return root;
}

/* Fills *out from one FileStatus object; name_required for listings. */
static int parse_status(json_t *fs, bool name_required,
                        struct webhdfs_status *out, char *err,
                        size_t errlen)
{
    memset(out, 0, sizeof(*out));
    json_t *type = json_object_get(fs, "type");
    json_t *length = json_object_get(fs, "length");
    json_t *suffix = json_object_get(fs, "pathSuffix");
    if (!json_is_string(type) || !json_is_integer(length) ||
        json_integer_value(length) < 0) {
        snprintf(err, errlen, "a FileStatus lacks a type or a length");
        errno = EBADMSG;
        return -1;
    }
    const char *name = json_is_string(suffix) ? json_string_value(suffix)
                                              : "";
    if (name_required &&
        (name[0] == '\0' || strchr(name, '/') != NULL ||
         strcmp(name, ".") == 0 || strcmp(name, "..") == 0)) {
        snprintf(err, errlen, "a listing entry has the bad name \"%.100s\"",
                 name);
        errno = EBADMSG;
        return -1;
    }
    out->name = strdup(name);
    if (out->name == NULL) {
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    const char *t = json_string_value(type);
    out->is_dir = strcmp(t, "DIRECTORY") == 0;
    out->is_file = strcmp(t, "FILE") == 0;
    out->length = (uint64_t)json_integer_value(length);
    return 0;
}

int webhdfs_parse_file_status(const char *body, size_t len,
                              struct webhdfs_status *out, char *err,
                              size_t errlen)
{
    json_t *root = load_object(body, len, err, errlen);
    if (root == NULL) {
        return -1;
    }
    json_t *fs = json_object_get(root, "FileStatus");
    int rc;
    if (!json_is_object(fs)) {
        snprintf(err, errlen, "no FileStatus object in the answer");
        errno = EBADMSG;
        rc = -1;
    } else {
        rc = parse_status(fs, false, out, err, errlen);
    }
    json_decref(root);
    return rc;
}

int webhdfs_parse_list(const char *body, size_t len,
                       struct webhdfs_status **out, size_t *n, char *err,
                       size_t errlen)
{
    *out = NULL;
    *n = 0;
    json_t *root = load_object(body, len, err, errlen);
    if (root == NULL) {
        return -1;
    }
    json_t *arr = json_object_get(json_object_get(root, "FileStatuses"),
                                  "FileStatus");
    if (!json_is_array(arr)) {
        snprintf(err, errlen, "no FileStatuses.FileStatus array in the "
                 "answer");
        json_decref(root);
        errno = EBADMSG;
        return -1;
    }
    size_t count = json_array_size(arr);
    struct webhdfs_status *list = calloc(count ? count : 1, sizeof(*list));
    if (list == NULL) {
        snprintf(err, errlen, "out of memory");
        json_decref(root);
        errno = ENOMEM;
        return -1;
    }
    for (size_t i = 0; i < count; i++) {
        json_t *fs = json_array_get(arr, i);
        if (!json_is_object(fs)) {
            snprintf(err, errlen, "listing entry %zu is not an object", i);
            errno = EBADMSG;
        }
        if (!json_is_object(fs) ||
            parse_status(fs, true, &list[i], err, errlen) != 0) {
            int e = errno;
            webhdfs_list_free(list, i);
            json_decref(root);
            errno = e;
            return -1;
        }
    }
    json_decref(root);
    *out = list;
    *n = count;
    return 0;
}

void webhdfs_status_free(struct webhdfs_status *s)
{
    free(s->name);
    s->name = NULL;
}

void webhdfs_list_free(struct webhdfs_status *list, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        webhdfs_status_free(&list[i]);
    }
    free(list);
}

static void copy_field(json_t *obj, const char *key, char *dst, size_t cap)
{
    json_t *v = json_object_get(obj, key);
    snprintf(dst, cap, "%s", json_is_string(v) ? json_string_value(v) : "");
}

int webhdfs_parse_remote_exception(const char *body, size_t len,
                                   struct webhdfs_error *out)
{
    memset(out, 0, sizeof(*out));
    char err[256];
    json_t *root = body != NULL ? load_object(body, len, err, sizeof(err))
                                : NULL;
    json_t *re = json_object_get(root, "RemoteException");
    if (!json_is_object(re)) {
        json_decref(root);
        return -1;
    }
    copy_field(re, "exception", out->exception, sizeof(out->exception));
    copy_field(re, "javaClassName", out->java_class,
               sizeof(out->java_class));
    copy_field(re, "message", out->message, sizeof(out->message));
    json_decref(root);
    return 0;
}

/* The exceptions with an errno of their own, by simple class name. */
static const struct {
    const char *name;
    int errno_value;
} webhdfs_exceptions[] = {
    {"FileNotFoundException", ENOENT},
    {"AccessControlException", EACCES},
    {"SecurityException", EACCES},
    {"InvalidToken", EACCES},
};

int webhdfs_exception_errno(const char *exception)
{
    if (exception == NULL) {
        return EIO;
    }
    /* "org.apache.hadoop.security.token.SecretManager$InvalidToken" */
    const char *simple = exception;
    for (const char *p = exception; *p != '\0'; p++) {
        if (*p == '.' || *p == '$') {
            simple = p + 1;
        }
    }
    for (size_t i = 0;
         i < sizeof(webhdfs_exceptions) / sizeof(webhdfs_exceptions[0]);
         i++) {
        if (strcmp(simple, webhdfs_exceptions[i].name) == 0) {
            return webhdfs_exceptions[i].errno_value;
        }
    }
    return EIO;
}
