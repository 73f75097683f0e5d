/*
 * This file implements the WebHDFS backend of object_source.h, for
 * "webhdfs://host:port/path" and "hdfs://host:port/path". Both are read
 * over the WebHDFS REST API (http://host:port/webhdfs/v1/path?op=...) of
 * the NameNode: for hdfs:// the port must therefore be the NameNode's
 * HTTP port (9870 by default in Hadoop 3), not its RPC port (8020), and
 * either scheme without a port gets 9870.
 *
 *   list:  GETFILESTATUS tells a file from a directory; a directory is
 *          then listed with LISTSTATUS (its FILE entries, sorted).
 *   read:  GETFILESTATUS for the length (at the first read, not at
 *          open, so every failure of the store is a read error), then
 *          OPEN, which the NameNode answers with a 307 redirect to a
 *          DataNode that serves the bytes. A transfer broken by the
 *          network is resumed with a new OPEN at offset=<bytes
 *          received>; a stream that ends short of the length is resumed
 *          the same way, and one that runs past it means the file
 *          changed: EIO.
 *
 * Authentication, from the environment (as Hadoop's own clients do):
 *   LARDER_HDFS_DELEGATION_TOKEN  a delegation token (its URL-safe string
 *                                 form), sent as delegation=; when set,
 *                                 user.name is not sent;
 *   HADOOP_USER_NAME              otherwise, user.name= (simple auth); by
 *                                 default the name of the effective user;
 *   LARDER_HDFS_KERBEROS=1        SPNEGO (Kerberos) through libcurl's
 *                                 GSS-API with the ticket of the
 *                                 credential cache (kinit); neither
 *                                 user.name nor a token is sent. Untested:
 *                                 there is no KDC here.
 *
 * Network failures and 5xx/429/408 answers are retried with
 * http_client.h's backoff (LARDER_HTTP_RETRY_* tune it); other 4xx are
 * final, their RemoteException body turned into the message and errno
 * (webhdfs_json.h). The JSON itself is parsed in webhdfs_json.c.
 */
#include "object_source_backend.h"

#include <errno.h>
#include <inttypes.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "http_client.h"
#include "webhdfs_json.h"

#define WEBHDFS_DEFAULT_PORT "9870"      /* the NameNode's HTTP port */
#define WEBHDFS_PREFIX "/webhdfs/v1"
#define WEBHDFS_MAX_URL 8192
#define WEBHDFS_MAX_JSON (64u << 20)     /* a LISTSTATUS of a big dir */
#define WEBHDFS_CALL_TIMEOUT_MS 120000L  /* one metadata call */
#define WEBHDFS_ENV_TOKEN "LARDER_HDFS_DELEGATION_TOKEN"
#define WEBHDFS_ENV_USER "HADOOP_USER_NAME"
#define WEBHDFS_ENV_KERBEROS "LARDER_HDFS_KERBEROS"

/* True if LARDER_HDFS_KERBEROS asks for SPNEGO authentication. */
static bool kerberos_wanted(void)
{
    const char *env = getenv(WEBHDFS_ENV_KERBEROS);
    return env != NULL && env[0] != '\0' && strcmp(env, "0") != 0;
}

/* A parsed URI: where the NameNode is and which path. */
struct webhdfs_target {
    char base[600];  /* "http://host:port" */
    char path[4096]; /* absolute, no trailing '/' but for the root */
    char auth[2048]; /* "&user.name=..." or "&delegation=..." */
};

/* Appends s to dst (of cap bytes) percent-encoded, keeping keep_slash
 * '/' as is; -1 when it does not fit. */
static int append_encoded(char *dst, size_t cap, const char *s,
                          bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = strlen(dst);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || strchr("-._~", *p) ||
                     (keep_slash && *p == '/');
        if (n + (plain ? 1 : 3) >= cap) {
            return -1;
        }
        if (plain) {
            dst[n++] = (char)*p;
        } else {
            dst[n++] = '%';
            dst[n++] = hex[*p >> 4];
            dst[n++] = hex[*p & 15];
        }
    }
    dst[n] = '\0';
    return 0;
}

/* The user.name of simple authentication. */
static const char *user_name(char *buf, size_t cap)
{
    const char *u = getenv(WEBHDFS_ENV_USER);
    if (u != NULL && u[0] != '\0') {
        return u;
    }
    struct passwd pw, *res = NULL;
    char tmp[1024];
    if (getpwuid_r(geteuid(), &pw, tmp, sizeof(tmp), &res) == 0 &&
        res != NULL) {
        snprintf(buf, cap, "%s", pw.pw_name);
        return buf;
    }
    u = getenv("USER");
    return u != NULL && u[0] != '\0' ? u : "nobody";
}

/* Parses uri into *t, with the credentials of the environment. */
static int parse_target(const char *uri, struct webhdfs_target *t,
                        char *err, size_t errlen)
{
    memset(t, 0, sizeof(*t));
    const char *rest = strstr(uri, "://");
    rest = rest ? rest + 3 : uri;
    size_t alen = strcspn(rest, "/?#");
    const char *path = rest + alen;
    if (alen == 0 || (*path != '\0' && *path != '/') || alen > 500) {
        snprintf(err, errlen, "%s: want webhdfs://host:port/path or "
                 "hdfs://host:port/path", uri);
        errno = EINVAL;
        return -1;
    }
    /* The port's colon comes after an IPv6 literal's "]", if any. */
    const char *host_end = memchr(rest, ']', alen);
    host_end = host_end ? host_end : rest;
    const char *colon = memchr(host_end, ':',
                               alen - (size_t)(host_end - rest));
    snprintf(t->base, sizeof(t->base), "http://%.*s%s", (int)alen, rest,
             colon ? "" : ":" WEBHDFS_DEFAULT_PORT);
    size_t plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/') {
        plen--;
    }
    if (plen == 0) {
        path = "/";
        plen = 1;
    }
    if (plen >= sizeof(t->path)) {
        snprintf(err, errlen, "%s: path too long", uri);
        errno = EINVAL;
        return -1;
    }
    memcpy(t->path, path, plen);
    t->path[plen] = '\0';
    const char *token = getenv(WEBHDFS_ENV_TOKEN);
    char ubuf[256];
    int rc;
    if (kerberos_wanted()) {
        t->auth[0] = '\0'; /* SPNEGO says who we are */
        rc = 0;
    } else if (token != NULL && token[0] != '\0') {
        snprintf(t->auth, sizeof(t->auth), "&delegation=");
        rc = append_encoded(t->auth, sizeof(t->auth), token, false);
    } else {
        snprintf(t->auth, sizeof(t->auth), "&user.name=");
        rc = append_encoded(t->auth, sizeof(t->auth),
                            user_name(ubuf, sizeof(ubuf)), false);
    }
    if (rc != 0) {
        snprintf(err, errlen, "%s: the delegation token or user name is "
                 "too long", uri);
        errno = EINVAL;
        return -1;
    }
    return 0;
}

/* The REST URL of op on the target, with extra ("&offset=N") appended. */
static int make_url(const struct webhdfs_target *t, const char *op,
                    const char *extra, char *url, size_t cap)
{
    snprintf(url, cap, "%s" WEBHDFS_PREFIX, t->base);
    if (append_encoded(url, cap, t->path, true) != 0) {
        return -1;
    }
    size_t n = strlen(url);
    int w = snprintf(url + n, cap - n, "?op=%s%s%s", op, t->auth,
                     extra ? extra : "");
    return w < 0 || (size_t)w >= cap - n ? -1 : 0;
}

/* Turns an error answer into err and errno. */
static int status_error(const char *uri, long status, const char *body,
                        size_t len, char *err, size_t errlen)
{
    struct webhdfs_error we;
    int e = EIO;
    if (webhdfs_parse_remote_exception(body, len, &we) == 0 &&
        (we.exception[0] != '\0' || we.java_class[0] != '\0')) {
        e = webhdfs_exception_errno(we.exception[0] ? we.exception
                                                    : we.java_class);
        snprintf(err, errlen, "%s: %s: %s (HTTP %ld)", uri,
                 we.exception[0] ? we.exception : we.java_class,
                 we.message, status);
    } else {
        snprintf(err, errlen, "%s: HTTP %ld from WebHDFS", uri, status);
    }
    if (e == EIO && status == 404) {
        e = ENOENT;
    } else if (e == EIO && (status == 401 || status == 403)) {
        e = EACCES;
    }
    errno = e;
    return -1;
}

/*
 * Masks the value of every "delegation=" in msg, a message of
 * http_client.h that may quote the request URL: a token must not reach
 * the logs.
 */
static void hide_token(char *msg)
{
    static const char key[] = "delegation=", mask[] = "***";
    for (char *p = strstr(msg, key); p != NULL; p = strstr(p, key)) {
        p += sizeof(key) - 1;
        size_t tok = strcspn(p, "&: \t\"'"); /* the token is encoded */
        if (tok >= sizeof(mask) - 1) {
            memcpy(p, mask, sizeof(mask) - 1);
            memmove(p + sizeof(mask) - 1, p + tok, strlen(p + tok) + 1);
        }
    }
}

static uint64_t new_seed(const void *p)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^
                 ((uint64_t)getpid() << 40) ^ (uint64_t)(uintptr_t)p;
    return s ? s : 0x9e3779b97f4a7c15ull;
}

/*
 * GETs a metadata op and returns its 200 body in *resp (the caller frees
 * it with http_response_free), retrying transient failures. -1 with err
 * and errno otherwise.
 */
static int call_json(const char *uri, const struct webhdfs_target *t,
                     const char *op, struct http_response *resp, char *err,
                     size_t errlen)
{
    char url[WEBHDFS_MAX_URL];
    if (make_url(t, op, NULL, url, sizeof(url)) != 0) {
        snprintf(err, errlen, "%s: URL too long", uri);
        errno = EINVAL;
        return -1;
    }
    struct http_retry retry;
    http_retry_default(&retry);
    unsigned attempts = retry.max_attempts ? retry.max_attempts : 1;
    uint64_t seed = new_seed(resp);
    char last[512] = "";
    for (unsigned attempt = 1;; attempt++) {
        struct http_request req;
        http_request_init(&req, "GET", url);
        req.negotiate = kerberos_wanted();
        req.max_body = WEBHDFS_MAX_JSON;
        req.timeout_ms = WEBHDFS_CALL_TIMEOUT_MS;
        char herr[512] = "";
        memset(resp, 0, sizeof(*resp));
        enum http_outcome o = http_exchange(&req, resp, herr, sizeof(herr));
        hide_token(herr);
        if (o == HTTP_DONE && resp->status == 200) {
            return 0;
        }
        if (o == HTTP_DONE && !http_status_retryable(resp->status)) {
            status_error(uri, resp->status, resp->body, resp->body_len, err,
                         errlen);
            int e = errno;
            http_response_free(resp);
            errno = e;
            return -1;
        }
        if (o == HTTP_DONE) {
            snprintf(last, sizeof(last), "HTTP %ld", resp->status);
        } else {
            snprintf(last, sizeof(last), "%s", herr);
        }
        char retry_after[sizeof(resp->retry_after)];
        memcpy(retry_after, resp->retry_after, sizeof(retry_after));
        http_response_free(resp);
        if (o != HTTP_DONE && o != HTTP_NETWORK) {
            snprintf(err, errlen, "%s: %s failed: %s", uri, op, last);
            errno = EIO;
            return -1;
        }
        if (attempt >= attempts) {
            snprintf(err, errlen, "%s: %s failed %u times, last: %s", uri,
                     op, attempt, last);
            errno = EIO;
            return -1;
        }
        http_sleep_ms(http_backoff_ms(&retry, attempt, retry_after, &seed));
    }
}

/* GETFILESTATUS of the target into *st (free st->name). */
static int file_status(const char *uri, const struct webhdfs_target *t,
                       struct webhdfs_status *st, char *err, size_t errlen)
{
    struct http_response resp;
    if (call_json(uri, t, "GETFILESTATUS", &resp, err, errlen) != 0) {
        return -1;
    }
    char perr[256];
    int rc = webhdfs_parse_file_status(resp.body, resp.body_len, st, perr,
                                       sizeof(perr));
    if (rc != 0) {
        snprintf(err, errlen, "%s: GETFILESTATUS: %s", uri, perr);
        errno = EIO;
    }
    http_response_free(&resp);
    return rc;
}

/* Appends uri as one entry; -1 (ENOMEM) with err. */
static int add_entry(struct object_list *out, size_t *cap, char *uri,
                     uint64_t size, char *err, size_t errlen)
{
    if (uri == NULL) {
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    if (out->n == *cap) {
        size_t c = *cap ? *cap * 2 : 16;
        struct object_entry *ne = realloc(out->entries, c * sizeof(*ne));
        if (ne == NULL) {
            free(uri);
            snprintf(err, errlen, "out of memory");
            errno = ENOMEM;
            return -1;
        }
        out->entries = ne;
        *cap = c;
    }
    struct object_entry *e = &out->entries[out->n++];
    e->uri = uri;
    char *slash = strrchr(uri, '/');
    e->name = slash ? slash + 1 : uri;
    e->size = size;
    return 0;
}

/* uri without its trailing slashes, then "/" and name; malloc'd. */
static char *child_uri(const char *uri, const char *name)
{
    size_t n = strlen(uri);
    while (n > 0 && uri[n - 1] == '/') {
        n--;
    }
    size_t len = n + 1 + strlen(name) + 1;
    char *s = malloc(len);
    if (s != NULL) {
        snprintf(s, len, "%.*s/%s", (int)n, uri, name);
    }
    return s;
}

static int webhdfs_list(const char *uri, struct object_list *out,
                        bool *is_object, char *err, size_t errlen)
{
    struct webhdfs_target t;
    if (parse_target(uri, &t, err, errlen) != 0) {
        return -1;
    }
    struct webhdfs_status st;
    if (file_status(uri, &t, &st, err, errlen) != 0) {
        return -1;
    }
    size_t cap = 0;
    if (!st.is_dir) {
        bool file = st.is_file;
        uint64_t length = st.length;
        webhdfs_status_free(&st);
        if (!file) {
            snprintf(err, errlen, "%s: neither a file nor a directory",
                     uri);
            errno = EINVAL;
            return -1;
        }
        *is_object = true;
        size_t n = strlen(uri);
        while (n > 0 && uri[n - 1] == '/') {
            n--; /* "webhdfs://nn/a/f.json/" is f.json */
        }
        return add_entry(out, &cap, strndup(uri, n), length, err, errlen);
    }
    webhdfs_status_free(&st);
    struct http_response resp;
    if (call_json(uri, &t, "LISTSTATUS", &resp, err, errlen) != 0) {
        return -1;
    }
    struct webhdfs_status *list;
    size_t n;
    char perr[256];
    if (webhdfs_parse_list(resp.body, resp.body_len, &list, &n, perr,
                           sizeof(perr)) != 0) {
        int e = errno;
        snprintf(err, errlen, "%s: LISTSTATUS: %s", uri, perr);
        http_response_free(&resp);
        errno = e == ENOMEM ? ENOMEM : EIO;
        return -1;
    }
    http_response_free(&resp);
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (list[i].is_file) {
            rc = add_entry(out, &cap, child_uri(uri, list[i].name),
                           list[i].length, err, errlen);
        }
    }
    webhdfs_list_free(list, n);
    return rc;
}

/* ---- reading -------------------------------------------------------- */

struct webhdfs_reader {
    struct webhdfs_target t;
    char *uri;
    bool have_length;         /* GETFILESTATUS done */
    uint64_t length;          /* from GETFILESTATUS at the first read */
    uint64_t got;             /* bytes handed out */
    struct http_stream *s;    /* the current OPEN, or NULL */
    struct http_retry retry;
    uint64_t seed;
    unsigned failures;        /* in a row, without a byte between */
    char last[512];           /* the last transient failure */
    int fail_errno;           /* nonzero: failed for good */
    char fail_msg[768];
};

static void webhdfs_close(void *state)
{
    struct webhdfs_reader *r = state;
    if (r == NULL) {
        return;
    }
    http_stream_close(&r->s);
    free(r->uri);
    free(r);
}

/* Opening asks nothing yet: the first read does (GETFILESTATUS, OPEN), so
 * that any failure of the store while reading is a read error. */
static int webhdfs_open(const char *uri, void **state, char *err,
                        size_t errlen)
{
    struct webhdfs_reader *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->uri = strdup(uri)) == NULL) {
        free(r);
        snprintf(err, errlen, "%s: out of memory", uri);
        errno = ENOMEM;
        return -1;
    }
    if (parse_target(uri, &r->t, err, errlen) != 0) {
        webhdfs_close(r);
        errno = EINVAL;
        return -1;
    }
    http_retry_default(&r->retry);
    r->seed = new_seed(r);
    *state = r;
    return 0;
}

/* Learns the length of the file (and that it is one); -1 with
 * r->fail_msg and errno. */
static int reader_stat(struct webhdfs_reader *r)
{
    struct webhdfs_status st;
    if (file_status(r->uri, &r->t, &st, r->fail_msg,
                    sizeof(r->fail_msg)) != 0) {
        return -1;
    }
    bool dir = st.is_dir, file = st.is_file;
    r->length = st.length;
    webhdfs_status_free(&st);
    if (!file) {
        snprintf(r->fail_msg, sizeof(r->fail_msg), "%s: %s", r->uri,
                 dir ? "is a directory" : "not a regular file");
        errno = dir ? EISDIR : EINVAL;
        return -1;
    }
    r->have_length = true;
    return 0;
}

/* Fails the reader for good: every later read repeats it. */
static ssize_t reader_fail(struct webhdfs_reader *r, int e, char *err,
                           size_t errlen)
{
    r->fail_errno = e;
    http_stream_close(&r->s);
    snprintf(err, errlen, "%s", r->fail_msg);
    errno = e;
    return -1;
}

/*
 * Counts one transient failure (described in r->last); sleeps before the
 * next attempt, or fails the reader once the attempts are used up.
 */
static int reader_backoff(struct webhdfs_reader *r, const char *retry_after)
{
    http_stream_close(&r->s);
    unsigned attempts = r->retry.max_attempts ? r->retry.max_attempts : 1;
    if (++r->failures >= attempts) {
        snprintf(r->fail_msg, sizeof(r->fail_msg), "%s: reading at byte "
                 "%" PRIu64 " of %" PRIu64 " failed %u times, last: %s",
                 r->uri, r->got, r->length, r->failures, r->last);
        return -1;
    }
    http_sleep_ms(http_backoff_ms(&r->retry, r->failures, retry_after,
                                  &r->seed));
    return 0;
}

/* Starts an OPEN at r->got. 0 with r->s set, 1 after a transient failure
 * (retry), -1 when the reader failed (fail_msg, errno). */
static int reader_start(struct webhdfs_reader *r)
{
    char extra[48] = "", url[WEBHDFS_MAX_URL];
    if (r->got > 0) {
        snprintf(extra, sizeof(extra), "&offset=%" PRIu64, r->got);
    }
    if (make_url(&r->t, "OPEN", extra, url, sizeof(url)) != 0) {
        snprintf(r->fail_msg, sizeof(r->fail_msg), "%s: URL too long",
                 r->uri);
        errno = EINVAL;
        return -1;
    }
    struct http_request req;
    http_request_init(&req, "GET", url);
    req.follow_redirects = true; /* NameNode 307 -> DataNode */
    req.negotiate = kerberos_wanted();
    struct http_response resp;
    memset(&resp, 0, sizeof(resp));
    char herr[512] = "";
    enum http_outcome o = http_stream_open(&req, &r->s, &resp, herr,
                                           sizeof(herr));
    hide_token(herr);
    if (o == HTTP_DONE && resp.status >= 200 && resp.status < 300) {
        http_response_free(&resp);
        return 0;
    }
    http_stream_close(&r->s);
    if (o == HTTP_DONE && !http_status_retryable(resp.status)) {
        char msg[sizeof(r->fail_msg)];
        status_error(r->uri, resp.status, resp.body, resp.body_len, msg,
                     sizeof(msg));
        int e = errno;
        snprintf(r->fail_msg, sizeof(r->fail_msg), "%s", msg);
        http_response_free(&resp);
        errno = e;
        return -1;
    }
    if (o != HTTP_DONE && o != HTTP_NETWORK) {
        snprintf(r->fail_msg, sizeof(r->fail_msg), "%s: OPEN: %s", r->uri,
                 herr);
        http_response_free(&resp);
        errno = EIO;
        return -1;
    }
    if (o == HTTP_DONE) {
        snprintf(r->last, sizeof(r->last), "HTTP %ld", resp.status);
    } else {
        snprintf(r->last, sizeof(r->last), "%s", herr);
    }
    char retry_after[sizeof(resp.retry_after)];
    memcpy(retry_after, resp.retry_after, sizeof(retry_after));
    http_response_free(&resp);
    if (reader_backoff(r, retry_after) != 0) {
        errno = EIO;
        return -1;
    }
    return 1;
}

static ssize_t webhdfs_read(void *state, void *buf, size_t len, char *err,
                            size_t errlen)
{
    struct webhdfs_reader *r = state;
    if (r->fail_errno != 0) {
        snprintf(err, errlen, "%s", r->fail_msg);
        errno = r->fail_errno;
        return -1;
    }
    if (len == 0) {
        return 0;
    }
    if (!r->have_length && reader_stat(r) != 0) {
        return reader_fail(r, errno, err, errlen);
    }
    while (r->got < r->length) {
        if (r->s == NULL) {
            int rc = reader_start(r);
            if (rc < 0) {
                return reader_fail(r, errno, err, errlen);
            }
            if (rc > 0) {
                continue;
            }
        }
        char serr[512] = "";
        ssize_t n = http_stream_read(r->s, buf, len, serr, sizeof(serr));
        hide_token(serr);
        if (n > 0) {
            r->got += (uint64_t)n;
            r->failures = 0;
            if (r->got > r->length) {
                snprintf(r->fail_msg, sizeof(r->fail_msg), "%s: the file "
                         "grew while being read (more than its %" PRIu64
                         " bytes)", r->uri, r->length);
                return reader_fail(r, EIO, err, errlen);
            }
            return n;
        }
        if (n < 0 && errno == ENOMEM) {
            snprintf(r->fail_msg, sizeof(r->fail_msg), "%s: %s", r->uri,
                     serr);
            return reader_fail(r, ENOMEM, err, errlen);
        }
        /* A broken transfer, or one that ended short: resume. */
        snprintf(r->last, sizeof(r->last), "%s", n < 0 ? serr
                 : "the transfer ended before the end of the file");
        if (reader_backoff(r, "") != 0) {
            return reader_fail(r, EIO, err, errlen);
        }
    }
    http_stream_close(&r->s);
    return 0;
}

const struct object_source_backend object_source_webhdfs = {
    "webhdfs://", webhdfs_list, webhdfs_open, webhdfs_read, webhdfs_close,
};

const struct object_source_backend object_source_hdfs = {
    "hdfs://", webhdfs_list, webhdfs_open, webhdfs_read, webhdfs_close,
};
