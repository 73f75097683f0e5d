/*
 * This file implements the fuzz target of the WebHDFS JSON parsers
 * (common/webhdfs_json.c). The first byte of an input chooses the parser,
 * the rest is the body:
 *   0  webhdfs_parse_file_status: a refusal has a message (errno EBADMSG);
 *      an accepted status has a name and is not both a file and a
 *      directory;
 *   1  webhdfs_parse_list: a refusal has a message, errno EBADMSG and no
 *      list; every accepted entry has a single path component as its name
 *      (not empty, no '/', not "." or ".."), and the listing of a body
 *      holding each accepted entry alone gives that entry back;
 *   2  webhdfs_parse_remote_exception: every field NUL-terminated, all ""
 *      when refused; webhdfs_exception_errno of each field (and of the raw
 *      body) is ENOENT, EACCES or EIO.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "webhdfs_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_errno(int e)
{
    CHECK(e == ENOENT || e == EACCES || e == EIO);
}

static void fuzz_status(const char *body, size_t len)
{
    struct webhdfs_status st;
    char err[256] = "";
    errno = 0;
    if (webhdfs_parse_file_status(body, len, &st, err, sizeof(err)) != 0) {
        CHECK(err[0] != '\0' && errno == EBADMSG);
        return;
    }
    CHECK(st.name != NULL);
    (void)strlen(st.name);
    CHECK(!(st.is_dir && st.is_file));
    webhdfs_status_free(&st);
    CHECK(st.name == NULL);
}

/* Writes s as a JSON string (escaping what must be) into out. */
static size_t json_quote(const char *s, char *out)
{
    size_t n = 0;
    out[n++] = '"';
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            out[n++] = '\\';
            out[n++] = (char)*p;
        } else if (*p < 0x20) {
            n += (size_t)sprintf(out + n, "\\u%04x", *p);
        } else {
            out[n++] = (char)*p;
        }
    }
    out[n++] = '"';
    return n;
}

static void fuzz_list(const char *body, size_t len)
{
    /* Not NULL, so a refusal must be seen to reset it. */
    struct webhdfs_status *list = (struct webhdfs_status *)&list;
    size_t n = 12345;
    char err[256] = "";
    errno = 0;
    if (webhdfs_parse_list(body, len, &list, &n, err, sizeof(err)) != 0) {
        CHECK(err[0] != '\0' && errno == EBADMSG);
        CHECK(list == NULL && n == 0);
        return;
    }
    CHECK(list != NULL);
    for (size_t i = 0; i < n; i++) {
        const char *name = list[i].name;
        CHECK(name != NULL && name[0] != '\0');
        CHECK(strchr(name, '/') == NULL);
        CHECK(strcmp(name, ".") != 0 && strcmp(name, "..") != 0);
        CHECK(!(list[i].is_dir && list[i].is_file));
    }
    /* Each entry alone, written back as a listing, parses to itself. */
    for (size_t i = 0; i < n && i < 4; i++) {
        const struct webhdfs_status *e = &list[i];
        size_t cap = 6 * strlen(e->name) + 256;
        char *doc = malloc(cap);
        CHECK(doc != NULL);
        size_t k = (size_t)sprintf(doc, "{\"FileStatuses\":{\"FileStatus\":"
                                        "[{\"pathSuffix\":");
        k += json_quote(e->name, doc + k);
        k += (size_t)sprintf(doc + k, ",\"type\":\"%s\",\"length\":%llu}]}}",
                             e->is_dir    ? "DIRECTORY"
                             : e->is_file ? "FILE"
                                          : "SYMLINK",
                             (unsigned long long)e->length);
        struct webhdfs_status *one = NULL;
        size_t n1 = 0;
        CHECK(webhdfs_parse_list(doc, k, &one, &n1, err, sizeof(err)) == 0);
        CHECK(n1 == 1 && strcmp(one[0].name, e->name) == 0);
        CHECK(one[0].is_dir == e->is_dir && one[0].is_file == e->is_file);
        CHECK(one[0].length == e->length);
        webhdfs_list_free(one, n1);
        free(doc);
    }
    webhdfs_list_free(list, n);
}

static void fuzz_remote_exception(const char *body, size_t len)
{
    struct webhdfs_error e;
    memset(&e, 0x55, sizeof(e));
    int rc = webhdfs_parse_remote_exception(body, len, &e);
    CHECK(memchr(e.exception, '\0', sizeof(e.exception)) != NULL);
    CHECK(memchr(e.java_class, '\0', sizeof(e.java_class)) != NULL);
    CHECK(memchr(e.message, '\0', sizeof(e.message)) != NULL);
    if (rc != 0) {
        CHECK(rc == -1);
        CHECK(e.exception[0] == '\0' && e.java_class[0] == '\0' &&
              e.message[0] == '\0');
    }
    check_errno(webhdfs_exception_errno(e.exception));
    check_errno(webhdfs_exception_errno(e.java_class));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    const char *body = (const char *)data + 1;
    size_t len = size - 1;
    switch (data[0] % 3) {
    case 0:
        fuzz_status(body, len);
        break;
    case 1:
        fuzz_list(body, len);
        break;
    default: {
        fuzz_remote_exception(body, len);
        char *s = malloc(len + 1);
        CHECK(s != NULL);
        memcpy(s, body, len);
        s[len] = '\0';
        check_errno(webhdfs_exception_errno(s));
        free(s);
        break;
    }
    }
    return 0;
}
