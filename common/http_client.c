/*
 * This file implements http_client.h over libcurl: one easy handle per
 * exchange, DNS and TLS sessions shared process-wide (so a retry or the next
 * part of a multipart upload skips the full handshake), request bodies sent
 * with CURLOPT_UPLOAD and a read callback from memory or a file range, and
 * the response headers larder cares about (Content-Length, ETag, Location,
 * Retry-After) captured as they arrive.
 *
 * The pull-style stream drives the same easy handle through a private multi
 * handle: http_stream_read() runs curl until at least one byte is ready.
 * The write callback copies straight into the caller's buffer and keeps what
 * does not fit in a small spill buffer; while that holds bytes, the next
 * callback pauses the transfer (CURL_WRITEFUNC_PAUSE), so memory stays
 * bounded by one curl chunk however slowly the caller reads.
 *
 * Stalls are detected in the progress callback with millisecond precision:
 * an exchange fails when no byte moved for stall_timeout_ms, not counting
 * time the stream spent paused or waiting for its caller.
 */
#include "http_client.h"

#include <curl/curl.h>

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

/* Limits and defaults. */
#define HTTP_DEFAULT_MAX_BODY ((size_t)1 << 20)
#define HTTP_ERROR_BODY ((size_t)64 << 10) /* kept when not the object */
#define HTTP_DEFAULT_CONNECT_MS 10000L
#define HTTP_DEFAULT_STALL_MS 30000L
#define HTTP_MAX_REDIRECTS 5L
#define HTTP_STREAM_POLL_MS 100

/* Retry policy defaults and the environment variables that override them. */
#define HTTP_RETRY_ATTEMPTS 5u
#define HTTP_RETRY_BASE_MS 100u
#define HTTP_RETRY_MAX_MS 5000u
#define HTTP_RETRY_ENV_ATTEMPTS "LARDER_HTTP_RETRY_ATTEMPTS"
#define HTTP_RETRY_ENV_BASE_MS "LARDER_HTTP_RETRY_BASE_MS"
#define HTTP_RETRY_ENV_MAX_MS "LARDER_HTTP_RETRY_MAX_MS"
#define HTTP_STALL_ENV_MS "LARDER_HTTP_STALL_MS"

/* ---- process-wide state --------------------------------------------------- */

static pthread_once_t http_once = PTHREAD_ONCE_INIT;
static int http_init_rc = -1;
static CURLSH *http_share;
static pthread_mutex_t http_share_locks[CURL_LOCK_DATA_LAST];

static void http_share_lock(CURL *h, curl_lock_data data,
                            curl_lock_access access, void *arg)
{
    pthread_mutex_lock(&http_share_locks[data]);
}

static void http_share_unlock(CURL *h, curl_lock_data data, void *arg)
{
    pthread_mutex_unlock(&http_share_locks[data]);
}

static void http_do_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return;
    }
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++) {
        pthread_mutex_init(&http_share_locks[i], NULL);
    }
    http_share = curl_share_init();
    if (http_share != NULL) {
        curl_share_setopt(http_share, CURLSHOPT_LOCKFUNC, http_share_lock);
        curl_share_setopt(http_share, CURLSHOPT_UNLOCKFUNC,
                          http_share_unlock);
        curl_share_setopt(http_share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
        curl_share_setopt(http_share, CURLSHOPT_SHARE,
                          CURL_LOCK_DATA_SSL_SESSION);
    }
    http_init_rc = 0;
}

int http_global_init(void)
{
    pthread_once(&http_once, http_do_global_init);
    return http_init_rc;
}

static uint64_t http_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- one transfer ---------------------------------------------------------- */

/*
 * Everything the callbacks of one easy handle share. The stream fields are
 * used only by http_stream_*.
 */
struct http_xfer {
    CURL *h;
    struct curl_slist *headers;
    const struct http_request *req; /* borrowed for the exchange */
    struct http_response *resp;     /* borrowed for the exchange */
    char curl_err[CURL_ERROR_SIZE];

    /* request body */
    uint64_t body_len;
    uint64_t body_pos;
    int body_errno; /* a failed read of body_fd */

    /* response body kept in memory */
    size_t max_body;
    size_t cap;
    bool truncate_body; /* keep the first max_body bytes, drop the rest */
    bool body_too_long;
    bool sink_aborted;

    /* headers of the current (last) response */
    long hdr_status;
    bool headers_done; /* the final response's headers are all in */

    /* stall detection */
    long stall_ms;
    uint64_t last_move_ms;
    curl_off_t last_dl;
    curl_off_t last_ul;
    bool stalled;

    /* pull-style stream */
    bool streaming;
    bool paused;
    char *dst; /* the caller's buffer during a read */
    size_t dst_len;
    size_t dst_used;
    char *spill; /* bytes that did not fit in dst */
    size_t spill_len;
    size_t spill_off;
    size_t spill_cap;
    uint64_t received; /* body bytes handed to the caller or spilled */
};

static size_t http_read_cb(char *buf, size_t size, size_t nitems, void *arg)
{
    struct http_xfer *x = arg;
    const struct http_request *req = x->req;
    size_t want = size * nitems;
    uint64_t left = x->body_len - x->body_pos;
    if ((uint64_t)want > left) {
        want = (size_t)left;
    }
    if (want == 0) {
        return 0;
    }
    if (req->body != NULL) {
        memcpy(buf, (const char *)req->body + x->body_pos, want);
        x->body_pos += want;
        return want;
    }
    for (;;) {
        ssize_t n = pread(req->body_fd, buf, want,
                          (off_t)(req->body_offset + x->body_pos));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            x->body_errno = n < 0 ? errno : EIO;
            return CURL_READFUNC_ABORT;
        }
        x->body_pos += (uint64_t)n;
        return (size_t)n;
    }
}

static int http_seek_cb(void *arg, curl_off_t offset, int origin)
{
    struct http_xfer *x = arg;
    if (origin != SEEK_SET || offset < 0 || (uint64_t)offset > x->body_len) {
        return CURL_SEEKFUNC_CANTSEEK;
    }
    x->body_pos = (uint64_t)offset;
    return CURL_SEEKFUNC_OK;
}

/* Copies a header value (trimmed) into out, NUL-terminated, truncated. */
static void http_copy_value(const char *v, size_t n, char *out, size_t outlen)
{
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' ||
                     v[n - 1] == ' ' || v[n - 1] == '\t')) {
        n--;
    }
    if (n >= outlen) {
        n = outlen - 1;
    }
    memcpy(out, v, n);
    out[n] = '\0';
}

/* True if the header line starts with name followed by ':'. */
static bool http_header_is(const char *line, size_t n, const char *name,
                           size_t *value_at)
{
    size_t k = strlen(name);
    if (n <= k || line[k] != ':' || strncasecmp(line, name, k) != 0) {
        return false;
    }
    *value_at = k + 1;
    return true;
}

/* True while curl will follow the response just received elsewhere. */
static bool http_will_follow(const struct http_xfer *x)
{
    return x->req->follow_redirects && x->hdr_status >= 300 &&
           x->hdr_status < 400 && x->resp->location[0] != '\0';
}

static size_t http_header_cb(char *line, size_t size, size_t nitems,
                             void *arg)
{
    struct http_xfer *x = arg;
    struct http_response *r = x->resp;
    size_t n = size * nitems;
    size_t at = 0;
    if (n >= 5 && strncmp(line, "HTTP/", 5) == 0) {
        /* A new response (after a 1xx or a redirect): forget the last. */
        const char *sp = memchr(line, ' ', n);
        x->hdr_status = sp != NULL ? strtol(sp + 1, NULL, 10) : 0;
        r->content_length = UINT64_MAX;
        r->etag[0] = '\0';
        r->location[0] = '\0';
        r->retry_after[0] = '\0';
    } else if (n <= 2 && (line[0] == '\r' || line[0] == '\n')) {
        if (x->hdr_status >= 200 && !http_will_follow(x)) {
            x->headers_done = true;
            r->status = x->hdr_status;
        }
    } else if (http_header_is(line, n, "Content-Length", &at)) {
        char v[32];
        http_copy_value(line + at, n - at, v, sizeof(v));
        char *end = NULL;
        errno = 0;
        unsigned long long cl = strtoull(v, &end, 10);
        if (errno == 0 && end != v && *end == '\0') {
            r->content_length = (uint64_t)cl;
        }
    } else if (http_header_is(line, n, "ETag", &at)) {
        http_copy_value(line + at, n - at, r->etag, sizeof(r->etag));
    } else if (http_header_is(line, n, "Location", &at)) {
        http_copy_value(line + at, n - at, r->location, sizeof(r->location));
    } else if (http_header_is(line, n, "Retry-After", &at)) {
        http_copy_value(line + at, n - at, r->retry_after,
                        sizeof(r->retry_after));
    }
    return n;
}

/* Appends to the in-memory body; false when it would pass max_body. */
static bool http_keep_body(struct http_xfer *x, const char *data, size_t n)
{
    struct http_response *r = x->resp;
    if (r->body_len + n > x->max_body) {
        if (!x->truncate_body) {
            x->body_too_long = true;
            return false;
        }
        n = x->max_body - r->body_len;
    }
    if (r->body_len + n + 1 > x->cap) {
        size_t cap = x->cap == 0 ? 4096 : x->cap;
        while (cap < r->body_len + n + 1) {
            cap *= 2;
        }
        char *b = realloc(r->body, cap);
        if (b == NULL) {
            return false;
        }
        r->body = b;
        x->cap = cap;
    }
    memcpy(r->body + r->body_len, data, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    return true;
}

/* Stream body bytes: into the caller's buffer, the rest into the spill. */
static size_t http_stream_take(struct http_xfer *x, const char *data,
                               size_t n)
{
    if (x->spill_len > x->spill_off) {
        x->paused = true;
        return CURL_WRITEFUNC_PAUSE;
    }
    x->spill_len = 0;
    x->spill_off = 0;
    size_t k = 0;
    if (x->dst != NULL) {
        k = x->dst_len - x->dst_used;
        if (k > n) {
            k = n;
        }
        memcpy(x->dst + x->dst_used, data, k);
        x->dst_used += k;
    }
    if (k < n) {
        size_t rest = n - k;
        if (rest > x->spill_cap) {
            char *b = realloc(x->spill, rest);
            if (b == NULL) {
                return 0;
            }
            x->spill = b;
            x->spill_cap = rest;
        }
        memcpy(x->spill, data + k, rest);
        x->spill_len = rest;
    }
    x->received += n;
    return n;
}

static size_t http_write_cb(char *data, size_t size, size_t nmemb, void *arg)
{
    struct http_xfer *x = arg;
    size_t n = size * nmemb;
    const struct http_request *req = x->req;
    bool body_is_object = x->resp->status >= 200 && x->resp->status < 300;
    if (x->streaming && body_is_object) {
        return http_stream_take(x, data, n);
    }
    if (!x->streaming && req->sink != NULL && body_is_object) {
        if (req->sink(req->sink_arg, data, n) != 0) {
            x->sink_aborted = true;
            return 0;
        }
        return n;
    }
    return http_keep_body(x, data, n) ? n : 0;
}

static int http_progress_cb(void *arg, curl_off_t dltotal, curl_off_t dlnow,
                            curl_off_t ultotal, curl_off_t ulnow)
{
    struct http_xfer *x = arg;
    uint64_t now = http_now_ms();
    if (dlnow != x->last_dl || ulnow != x->last_ul || x->paused) {
        x->last_dl = dlnow;
        x->last_ul = ulnow;
        x->last_move_ms = now;
        return 0;
    }
    if (now - x->last_move_ms > (uint64_t)x->stall_ms) {
        x->stalled = true;
        return 1;
    }
    return 0;
}

static void http_env_unsigned(const char *name, unsigned *v);

/* The stall timeout of requests that set none: HTTP_DEFAULT_STALL_MS, or
 * LARDER_HTTP_STALL_MS (tests shorten it to provoke timeouts). */
static long http_default_stall_ms(void)
{
    unsigned ms = (unsigned)HTTP_DEFAULT_STALL_MS;
    http_env_unsigned(HTTP_STALL_ENV_MS, &ms);
    return ms > 0 ? (long)ms : HTTP_DEFAULT_STALL_MS;
}

/* Sets up x->h for req; 0, or -1 with err. */
static int http_xfer_setup(struct http_xfer *x, const struct http_request *req,
                           struct http_response *resp, char *err,
                           size_t errlen)
{
    memset(resp, 0, sizeof(*resp));
    resp->content_length = UINT64_MAX;
    x->req = req;
    x->resp = resp;
    x->stall_ms = req->stall_timeout_ms > 0 ? req->stall_timeout_ms
                                            : http_default_stall_ms();
    x->last_move_ms = http_now_ms();
    if (http_global_init() != 0) {
        snprintf(err, errlen, "cannot initialise libcurl");
        return -1;
    }
    x->h = curl_easy_init();
    if (x->h == NULL) {
        snprintf(err, errlen, "cannot create a curl handle");
        return -1;
    }
    CURL *h = x->h;
    bool has_body = req->body != NULL || req->body_fd >= 0;
    bool is_put = strcmp(req->method, "PUT") == 0;
    /* POST goes out as an upload too: no form Content-Type added. */
    bool upload = has_body || is_put || strcmp(req->method, "POST") == 0;
    for (const char *const *hp = req->headers; hp != NULL && *hp != NULL;
         hp++) {
        struct curl_slist *l = curl_slist_append(x->headers, *hp);
        if (l == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        x->headers = l;
    }
    if (upload) {
        /* No "Expect: 100-continue" round trip; S3 answers errors anyway. */
        struct curl_slist *l = curl_slist_append(x->headers, "Expect:");
        if (l == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        x->headers = l;
    }
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->curl_err);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, http_header_cb);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, http_write_cb);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, http_progress_cb);
    curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
                     req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                                 : HTTP_DEFAULT_CONNECT_MS);
    if (req->timeout_ms > 0) {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    }
    if (req->follow_redirects) {
        curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(h, CURLOPT_MAXREDIRS, HTTP_MAX_REDIRECTS);
    }
    if (req->negotiate) {
        /* The empty user and password make libcurl take the identity
         * from the Kerberos credential cache. */
        curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_NEGOTIATE);
        curl_easy_setopt(h, CURLOPT_USERPWD, ":");
    }
    if (http_share != NULL) {
        curl_easy_setopt(h, CURLOPT_SHARE, http_share);
    }
    if (upload) {
        if (req->body != NULL) {
            x->body_len = req->body_len;
        } else if (req->body_fd >= 0) {
            x->body_len = req->body_length;
        }
        curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(h, CURLOPT_READFUNCTION, http_read_cb);
        curl_easy_setopt(h, CURLOPT_READDATA, x);
        curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, http_seek_cb);
        curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
        curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
                         (curl_off_t)x->body_len);
        if (!is_put) {
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
        }
    } else if (strcmp(req->method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(req->method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    }
    return 0;
}

static void http_xfer_cleanup(struct http_xfer *x)
{
    if (x->h != NULL) {
        curl_easy_cleanup(x->h);
        x->h = NULL;
    }
    curl_slist_free_all(x->headers);
    x->headers = NULL;
    free(x->spill);
    x->spill = NULL;
}

/* True for curl results no retry can fix. */
static bool http_result_permanent(CURLcode rc)
{
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_BAD_FUNCTION_ARGUMENT:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_NOT_BUILT_IN:
        return true;
    default:
        return false;
    }
}

/* Turns curl's result into an outcome and a message. */
static enum http_outcome http_outcome_of(struct http_xfer *x, CURLcode rc,
                                         char *err, size_t errlen)
{
    const struct http_request *req = x->req;
    const char *detail = x->curl_err[0] != '\0' ? x->curl_err
                                                : curl_easy_strerror(rc);
    if (rc == CURLE_OK) {
        long status = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
        x->resp->status = status;
        char *eff = NULL;
        if (curl_easy_getinfo(x->h, CURLINFO_EFFECTIVE_URL, &eff) ==
                CURLE_OK && eff != NULL) {
            snprintf(x->resp->effective_url,
                     sizeof(x->resp->effective_url), "%s", eff);
        }
        return HTTP_DONE;
    }
    if (x->sink_aborted) {
        snprintf(err, errlen, "%s %s: aborted by the receiver", req->method,
                 req->url);
        return HTTP_ABORTED;
    }
    if (x->body_too_long) {
        snprintf(err, errlen, "%s %s: response body over %zu bytes",
                 req->method, req->url, x->max_body);
        return HTTP_FAILED;
    }
    if (x->body_errno != 0) {
        snprintf(err, errlen, "%s %s: cannot read the request body: %s",
                 req->method, req->url, strerror(x->body_errno));
        return HTTP_FAILED;
    }
    if (x->stalled) {
        snprintf(err, errlen, "%s %s: no data moved for %ld ms", req->method,
                 req->url, x->stall_ms);
        return HTTP_NETWORK;
    }
    snprintf(err, errlen, "%s %s: %s", req->method, req->url, detail);
    if (rc == CURLE_WRITE_ERROR || http_result_permanent(rc)) {
        return HTTP_FAILED;
    }
    return HTTP_NETWORK;
}

void http_request_init(struct http_request *req, const char *method,
                       const char *url)
{
    memset(req, 0, sizeof(*req));
    req->method = method;
    req->url = url;
    req->body_fd = -1;
}

enum http_outcome http_exchange(const struct http_request *req,
                                struct http_response *resp, char *err,
                                size_t errlen)
{
    struct http_xfer x;
    memset(&x, 0, sizeof(x));
    if (req->sink != NULL) {
        /* Only an error's body is kept, for its message. */
        x.max_body = HTTP_ERROR_BODY;
        x.truncate_body = true;
    } else {
        x.max_body = req->max_body > 0 ? req->max_body
                                       : HTTP_DEFAULT_MAX_BODY;
    }
    if (http_xfer_setup(&x, req, resp, err, errlen) != 0) {
        http_xfer_cleanup(&x);
        return HTTP_FAILED;
    }
    CURLcode rc = curl_easy_perform(x.h);
    enum http_outcome out = http_outcome_of(&x, rc, err, errlen);
    if (out == HTTP_DONE && req->sink == NULL && resp->body == NULL &&
        strcmp(req->method, "HEAD") != 0) {
        /* An empty body is still a string. */
        resp->body = calloc(1, 1);
        if (resp->body == NULL) {
            snprintf(err, errlen, "out of memory");
            out = HTTP_FAILED;
        }
    }
    http_xfer_cleanup(&x);
    return out;
}

void http_response_free(struct http_response *resp)
{
    free(resp->body);
    resp->body = NULL;
    resp->body_len = 0;
}

/* ---- pull-style GET --------------------------------------------------------- */

struct http_stream {
    struct http_xfer x;
    struct http_request req; /* a copy: the caller's may go away */
    struct http_response resp; /* the callbacks' view of the headers */
    char *url;
    char **headers;
    CURLM *multi;
    bool done;         /* curl finished the transfer */
    CURLcode result;   /* its result when done */
};

/* Deep-copies what the stream needs of req, which the caller may free. */
static int http_stream_copy_request(struct http_stream *s,
                                    const struct http_request *req)
{
    s->req = *req;
    s->req.sink = NULL;
    s->req.body = NULL;
    s->req.body_fd = -1;
    s->url = strdup(req->url);
    if (s->url == NULL) {
        return -1;
    }
    s->req.url = s->url;
    size_t n = 0;
    while (req->headers != NULL && req->headers[n] != NULL) {
        n++;
    }
    s->headers = calloc(n + 1, sizeof(char *));
    if (s->headers == NULL) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        s->headers[i] = strdup(req->headers[i]);
        if (s->headers[i] == NULL) {
            return -1;
        }
    }
    s->req.headers = (const char *const *)s->headers;
    return 0;
}

static void http_stream_free(struct http_stream *s)
{
    if (s->multi != NULL && s->x.h != NULL) {
        curl_multi_remove_handle(s->multi, s->x.h);
    }
    http_xfer_cleanup(&s->x);
    if (s->multi != NULL) {
        curl_multi_cleanup(s->multi);
    }
    for (size_t i = 0; s->headers != NULL && s->headers[i] != NULL; i++) {
        free(s->headers[i]);
    }
    free(s->headers);
    free(s->url);
    free(s->resp.body);
    free(s);
}

/*
 * Runs curl until stop(s) holds or the transfer ends. Returns 0, or -1
 * with err when the multi interface itself fails.
 */
static int http_stream_pump(struct http_stream *s,
                            bool (*stop)(const struct http_stream *),
                            char *err, size_t errlen)
{
    while (!s->done && !stop(s)) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(s->multi, &running);
        if (mc != CURLM_OK) {
            snprintf(err, errlen, "GET %s: %s", s->req.url,
                     curl_multi_strerror(mc));
            return -1;
        }
        int left = 0;
        CURLMsg *msg;
        while ((msg = curl_multi_info_read(s->multi, &left)) != NULL) {
            if (msg->msg == CURLMSG_DONE) {
                s->done = true;
                s->result = msg->data.result;
            }
        }
        if (s->done || stop(s)) {
            break;
        }
        mc = curl_multi_poll(s->multi, NULL, 0, HTTP_STREAM_POLL_MS, NULL);
        if (mc != CURLM_OK) {
            snprintf(err, errlen, "GET %s: %s", s->req.url,
                     curl_multi_strerror(mc));
            return -1;
        }
    }
    return 0;
}

static bool http_stream_headers_in(const struct http_stream *s)
{
    return s->x.headers_done;
}

static bool http_stream_has_bytes(const struct http_stream *s)
{
    return s->x.dst_used > 0;
}

static bool http_stream_never(const struct http_stream *s)
{
    return false;
}

enum http_outcome http_stream_open(const struct http_request *req,
                                   struct http_stream **out,
                                   struct http_response *resp, char *err,
                                   size_t errlen)
{
    *out = NULL;
    memset(resp, 0, sizeof(*resp));
    resp->content_length = UINT64_MAX;
    struct http_stream *s = calloc(1, sizeof(*s));
    if (s == NULL || http_stream_copy_request(s, req) != 0) {
        snprintf(err, errlen, "out of memory");
        if (s != NULL) {
            http_stream_free(s);
        }
        return HTTP_FAILED;
    }
    s->req.method = "GET";
    s->x.streaming = true;
    s->x.max_body = HTTP_ERROR_BODY;
    s->x.truncate_body = true;
    if (http_xfer_setup(&s->x, &s->req, &s->resp, err, errlen) != 0) {
        http_stream_free(s);
        return HTTP_FAILED;
    }
    s->multi = curl_multi_init();
    if (s->multi == NULL ||
        curl_multi_add_handle(s->multi, s->x.h) != CURLM_OK) {
        snprintf(err, errlen, "GET %s: cannot start a curl transfer",
                 s->req.url);
        http_stream_free(s);
        return HTTP_FAILED;
    }
    if (http_stream_pump(s, http_stream_headers_in, err, errlen) != 0) {
        http_stream_free(s);
        return HTTP_FAILED;
    }
    if (!s->x.headers_done) {
        /* The transfer ended before a final response came. */
        enum http_outcome o = http_outcome_of(
            &s->x, s->result != CURLE_OK ? s->result : CURLE_GOT_NOTHING,
            err, errlen);
        http_stream_free(s);
        return o == HTTP_DONE ? HTTP_NETWORK : o;
    }
    bool is_object = s->resp.status >= 200 && s->resp.status < 300;
    if (!is_object) {
        /* An error: keep its body (bounded) and finish the exchange. */
        if (http_stream_pump(s, http_stream_never, err, errlen) != 0) {
            http_stream_free(s);
            return HTTP_FAILED;
        }
    }
    char *eff = NULL;
    if (curl_easy_getinfo(s->x.h, CURLINFO_EFFECTIVE_URL, &eff) == CURLE_OK &&
        eff != NULL) {
        snprintf(s->resp.effective_url, sizeof(s->resp.effective_url), "%s",
                 eff);
    }
    *resp = s->resp;
    s->resp.body = NULL; /* now the caller's */
    if (!is_object) {
        s->done = true;
    }
    *out = s;
    return HTTP_DONE;
}

ssize_t http_stream_read(struct http_stream *s, void *buf, size_t len,
                         char *err, size_t errlen)
{
    struct http_xfer *x = &s->x;
    if (len == 0) {
        return 0;
    }
    if (x->spill_off < x->spill_len) {
        size_t k = x->spill_len - x->spill_off;
        if (k > len) {
            k = len;
        }
        memcpy(buf, x->spill + x->spill_off, k);
        x->spill_off += k;
        return (ssize_t)k;
    }
    bool is_object = s->resp.status >= 200 && s->resp.status < 300;
    if (!is_object) {
        return 0;
    }
    x->dst = buf;
    x->dst_len = len;
    x->dst_used = 0;
    x->last_move_ms = http_now_ms(); /* the caller's pause is no stall */
    int rc = 0;
    if (x->paused && !s->done) {
        x->paused = false;
        /* May deliver the held bytes through the write callback now. */
        if (curl_easy_pause(x->h, CURLPAUSE_CONT) != CURLE_OK) {
            snprintf(err, errlen, "GET %s: cannot resume the transfer",
                     s->req.url);
            rc = -1;
        }
    }
    if (rc == 0) {
        rc = http_stream_pump(s, http_stream_has_bytes, err, errlen);
    }
    size_t got = x->dst_used;
    x->dst = NULL;
    x->dst_len = 0;
    x->dst_used = 0;
    if (got > 0) {
        return (ssize_t)got;
    }
    if (rc != 0) {
        errno = EIO;
        return -1;
    }
    /* Nothing more: the transfer has ended. */
    if (s->result != CURLE_OK) {
        http_outcome_of(x, s->result, err, errlen);
        errno = EIO;
        return -1;
    }
    uint64_t expect = s->resp.content_length;
    if (expect != UINT64_MAX && x->received != expect) {
        snprintf(err, errlen,
                 "GET %s: body ended after %" PRIu64 " of %" PRIu64 " bytes",
                 s->req.url, x->received, expect);
        errno = EIO;
        return -1;
    }
    return 0;
}

void http_stream_close(struct http_stream **sp)
{
    if (*sp != NULL) {
        http_stream_free(*sp);
        *sp = NULL;
    }
}

/* ---- retries ---------------------------------------------------------------- */

/* Reads an unsigned from the environment, keeping *v if unset or bad. */
static void http_env_unsigned(const char *name, unsigned *v)
{
    const char *s = getenv(name);
    if (s == NULL || *s == '\0') {
        return;
    }
    char *end = NULL;
    errno = 0;
    unsigned long n = strtoul(s, &end, 10);
    if (errno == 0 && *end == '\0' && n <= 3600000ul) {
        *v = (unsigned)n;
    }
}

void http_retry_default(struct http_retry *r)
{
    r->max_attempts = HTTP_RETRY_ATTEMPTS;
    r->base_ms = HTTP_RETRY_BASE_MS;
    r->max_ms = HTTP_RETRY_MAX_MS;
    http_env_unsigned(HTTP_RETRY_ENV_ATTEMPTS, &r->max_attempts);
    http_env_unsigned(HTTP_RETRY_ENV_BASE_MS, &r->base_ms);
    http_env_unsigned(HTTP_RETRY_ENV_MAX_MS, &r->max_ms);
}

bool http_status_retryable(long status)
{
    return (status >= 500 && status <= 599) || status == 429 ||
           status == 408;
}

static uint64_t http_xorshift(uint64_t *seed)
{
    uint64_t v = *seed;
    if (v == 0) {
        v = 0x9e3779b97f4a7c15ull;
    }
    v ^= v << 13;
    v ^= v >> 7;
    v ^= v << 17;
    *seed = v;
    return v;
}

unsigned http_backoff_ms(const struct http_retry *r, unsigned attempt,
                         const char *retry_after, uint64_t *seed)
{
    uint64_t ceiling = r->base_ms;
    for (unsigned i = 1; i < attempt && ceiling < r->max_ms; i++) {
        ceiling *= 2;
    }
    if (ceiling > r->max_ms) {
        ceiling = r->max_ms;
    }
    uint64_t pause = http_xorshift(seed) % (ceiling + 1);
    if (retry_after != NULL && retry_after[0] != '\0') {
        char *end = NULL;
        errno = 0;
        unsigned long secs = strtoul(retry_after, &end, 10);
        if (errno == 0 && end != retry_after && *end == '\0') {
            uint64_t ra = secs > 3600ul ? 3600000u : (uint64_t)secs * 1000u;
            if (ra > r->max_ms) {
                ra = r->max_ms;
            }
            if (ra > pause) {
                pause = ra;
            }
        }
    }
    return (unsigned)pause;
}

void http_sleep_ms(unsigned ms)
{
    struct timespec ts = {.tv_sec = ms / 1000u,
                          .tv_nsec = (long)(ms % 1000u) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}
