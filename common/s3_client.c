/*
 * This file implements s3_client.h. Every request goes through one path:
 * s3_build() turns a description of the call (method, bucket, key, query
 * parameters, extra headers, body) into a URL and a signed header list for
 * the current time and credentials; s3_perform() runs it with
 * http_exchange() and retries what is worth retrying, signing each attempt
 * anew; s3_fail() turns a final error response into a message naming the
 * object and an errno. The reader does the same with http_stream_*() and
 * resumes a broken body from the next byte.
 *
 * Parsing of S3's XML lives in s3_xml.c; this file does only I/O.
 */
#include "s3_client.h"

#include "aws_credentials.h"
#include "buf.h"
#include "http_client.h"
#include "sigv4.h"

#include <openssl/evp.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Options, limits and environment variables of this module. */
#define S3_ENV_ENDPOINT_S3 "AWS_ENDPOINT_URL_S3"
#define S3_ENV_ENDPOINT "AWS_ENDPOINT_URL"
#define S3_ENV_PATH_STYLE "LARDER_S3_PATH_STYLE"
#define S3_SERVICE "s3"
#define S3_CREDENTIALS_MARGIN_MS (5 * 60 * 1000) /* refresh this early */
#define S3_MAX_SMALL_RESPONSE ((size_t)16 << 20) /* list pages, errors */
#define S3_HASH_BUF ((size_t)1 << 20)
#define S3_URI_MAX 2048 /* object URIs in messages */
#define S3_MSG_MAX (S3_URI_MAX + 1536) /* a message naming one */
#define S3_BUCKET_MAX 63
#define S3_UPLOAD_ID_MAX 1024
#define S3_MAX_LIST_PAGES 1000000u

struct s3_client {
    char scheme[8];       /* "https" or "http" */
    char host[256];       /* endpoint host, ":port" only when not default */
    char base_path[256];  /* "" or "/path" of the endpoint, no trailing '/' */
    bool aws_endpoint;    /* AWS's own regional endpoint */
    enum s3_addressing addressing;
    uint64_t threshold;
    uint64_t part_size;
    char *profile;        /* NULL: the chain's default */
    char region_override[64];
    pthread_mutex_t lock; /* guards creds */
    struct aws_credentials creds;
};

/* ---- helpers ------------------------------------------------------------- */

static uint64_t s3_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A seed for backoff jitter that differs between threads and calls. */
static uint64_t s3_seed(const void *salt)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t v = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^
                 (uint64_t)(uintptr_t)salt ^ (uint64_t)pthread_self();
    return v != 0 ? v : 1;
}

/* "s3://bucket/key" for messages. */
static void s3_object_uri(const char *bucket, const char *key, char *out,
                          size_t outlen)
{
    snprintf(out, outlen, "s3://%s/%s", bucket, key != NULL ? key : "");
}

/* True if bucket can be a DNS label under the endpoint (and its cert). */
static bool s3_bucket_dns_compatible(const char *bucket)
{
    size_t n = strlen(bucket);
    if (n < 3 || n > S3_BUCKET_MAX || bucket[0] == '-' ||
        bucket[n - 1] == '-') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = bucket[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-')) {
            return false;
        }
    }
    return true;
}

/* Bucket names larder accepts at all: S3's rules, loosely (dots allowed,
 * upper case and '_' allowed for older buckets and other servers). */
static bool s3_bucket_valid(const char *bucket)
{
    size_t n = strlen(bucket);
    if (n < 3 || n > 255) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char ch = bucket[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
              ch == '_')) {
            return false;
        }
    }
    return true;
}

int s3_uri_split(const char *uri, char *bucket, size_t bucket_len,
                 const char **key, char *err, size_t errlen)
{
    if (strncmp(uri, "s3://", 5) != 0) {
        snprintf(err, errlen, "'%.200s' is not an s3:// URI", uri);
        errno = EINVAL;
        return -1;
    }
    const char *b = uri + 5;
    const char *slash = strchr(b, '/');
    size_t n = slash != NULL ? (size_t)(slash - b) : strlen(b);
    if (n == 0 || n >= bucket_len) {
        snprintf(err, errlen, "'%.200s': no bucket name, or too long", uri);
        errno = EINVAL;
        return -1;
    }
    memcpy(bucket, b, n);
    bucket[n] = '\0';
    if (!s3_bucket_valid(bucket)) {
        snprintf(err, errlen, "'%.200s': invalid bucket name '%s'", uri,
                 bucket);
        errno = EINVAL;
        return -1;
    }
    *key = slash != NULL ? slash + 1 : b + n;
    return 0;
}

/*
 * Parses "scheme://host[:port][/path]" into the client. Default ports
 * are dropped so that the Host header signed is the one sent.
 */
static int s3_parse_endpoint(struct s3_client *c, const char *url, char *err,
                             size_t errlen)
{
    const char *rest;
    bool https;
    if (strncmp(url, "https://", 8) == 0) {
        rest = url + 8;
        https = true;
    } else if (strncmp(url, "http://", 7) == 0) {
        rest = url + 7;
        https = false;
    } else {
        snprintf(err, errlen, "S3 endpoint '%.200s': expected http:// or "
                 "https://", url);
        errno = EINVAL;
        return -1;
    }
    snprintf(c->scheme, sizeof(c->scheme), "%s", https ? "https" : "http");
    size_t hn = strcspn(rest, "/?#");
    if (hn == 0 || hn >= sizeof(c->host) || rest[hn] == '?' ||
        rest[hn] == '#') {
        snprintf(err, errlen, "S3 endpoint '%.200s': bad host", url);
        errno = EINVAL;
        return -1;
    }
    memcpy(c->host, rest, hn);
    c->host[hn] = '\0';
    const char *default_port = https ? ":443" : ":80";
    size_t dp = strlen(default_port);
    if (hn > dp && strcmp(c->host + hn - dp, default_port) == 0) {
        c->host[hn - dp] = '\0';
    }
    const char *path = rest + hn;
    size_t pn = strlen(path);
    while (pn > 0 && path[pn - 1] == '/') {
        pn--;
    }
    if (pn >= sizeof(c->base_path)) {
        snprintf(err, errlen, "S3 endpoint '%.200s': path too long", url);
        errno = EINVAL;
        return -1;
    }
    memcpy(c->base_path, path, pn);
    c->base_path[pn] = '\0';
    return 0;
}

/* Copies the current credentials, resolving them again near expiry. */
static int s3_credentials(struct s3_client *c, bool force,
                          struct aws_credentials *out, char *err,
                          size_t errlen)
{
    int rc = 0;
    pthread_mutex_lock(&c->lock);
    bool stale = c->creds.expires_ms != 0 &&
                 (uint64_t)c->creds.expires_ms <
                     s3_now_ms() + S3_CREDENTIALS_MARGIN_MS;
    if (force || stale) {
        struct aws_credentials fresh;
        if (aws_credentials_resolve(&fresh, c->profile, err, errlen) == 0) {
            c->creds = fresh;
            memset(&fresh, 0, sizeof(fresh));
        } else {
            rc = -1;
            errno = EACCES;
        }
    }
    if (rc == 0) {
        *out = c->creds;
    }
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int s3_client_create(const struct s3_client_options *opt,
                     struct s3_client **out, char *err, size_t errlen)
{
    static const struct s3_client_options defaults;
    if (opt == NULL) {
        opt = &defaults;
    }
    *out = NULL;
    if (http_global_init() != 0) {
        snprintf(err, errlen, "cannot initialise libcurl");
        errno = EIO;
        return -1;
    }
    struct s3_client *c = calloc(1, sizeof(*c));
    if (c == NULL || (opt->profile != NULL &&
                      (c->profile = strdup(opt->profile)) == NULL)) {
        free(c);
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    pthread_mutex_init(&c->lock, NULL);
    if (aws_credentials_resolve(&c->creds, c->profile, err, errlen) != 0) {
        s3_client_destroy(&c);
        errno = EACCES;
        return -1;
    }
    if (opt->region != NULL && opt->region[0] != '\0') {
        snprintf(c->region_override, sizeof(c->region_override), "%s",
                 opt->region);
    }
    const char *region = c->region_override[0] != '\0' ? c->region_override
                                                        : c->creds.region;
    if (region[0] == '\0') {
        region = "us-east-1";
        snprintf(c->region_override, sizeof(c->region_override), "%s",
                 region);
    }
    const char *endpoint = opt->endpoint;
    if (endpoint == NULL || endpoint[0] == '\0') {
        endpoint = getenv(S3_ENV_ENDPOINT_S3);
    }
    if (endpoint == NULL || endpoint[0] == '\0') {
        endpoint = getenv(S3_ENV_ENDPOINT);
    }
    char aws[128];
    if (endpoint == NULL || endpoint[0] == '\0') {
        snprintf(aws, sizeof(aws), "https://s3.%s.amazonaws.com", region);
        endpoint = aws;
        c->aws_endpoint = true;
    }
    if (s3_parse_endpoint(c, endpoint, err, errlen) != 0) {
        s3_client_destroy(&c);
        return -1;
    }
    c->addressing = opt->addressing;
    const char *ps = getenv(S3_ENV_PATH_STYLE);
    if (c->addressing == S3_ADDRESSING_AUTO && ps != NULL) {
        if (strcmp(ps, "1") == 0 || strcmp(ps, "true") == 0) {
            c->addressing = S3_ADDRESSING_PATH;
        } else if (strcmp(ps, "0") == 0 || strcmp(ps, "false") == 0) {
            c->addressing = S3_ADDRESSING_VIRTUAL;
        }
    }
    c->threshold = opt->multipart_threshold > 0 ? opt->multipart_threshold
                                                : S3_MULTIPART_THRESHOLD;
    c->part_size = opt->part_size > 0 ? opt->part_size : S3_PART_SIZE;
    if (c->part_size < S3_MIN_PART_SIZE) {
        c->part_size = S3_MIN_PART_SIZE;
    }
    *out = c;
    return 0;
}

void s3_client_destroy(struct s3_client **cp)
{
    struct s3_client *c = *cp;
    if (c == NULL) {
        return;
    }
    pthread_mutex_destroy(&c->lock);
    memset(&c->creds, 0, sizeof(c->creds));
    free(c->profile);
    free(c);
    *cp = NULL;
}

/* ---- one request ----------------------------------------------------------- */

/* What one S3 call sends; everything borrowed. */
struct s3_call {
    const char *method;
    const char *bucket;
    const char *key; /* NULL for a bucket-level call (List) */
    const char *prefix; /* names a bucket-level call in messages */
    const struct sigv4_pair *params;
    size_t n_params;
    const struct sigv4_pair *headers; /* extra headers, signed and sent */
    size_t n_headers;
    const void *body;
    size_t body_len;
    int body_fd;
    uint64_t body_offset;
    uint64_t body_length;
    const char *payload_hash; /* NULL: the empty body's */
    size_t max_body;
    bool error_in_200; /* a 200 may carry an <Error> (CompleteMultipart) */
};

#define S3_MAX_SENT_HEADERS 12

/* A call made concrete for one attempt; owned strings. */
struct s3_built {
    char *url;
    char *lines[S3_MAX_SENT_HEADERS + 1]; /* "Name: value", NULL-ended */
    size_t n;
};

static void s3_built_free(struct s3_built *b)
{
    free(b->url);
    for (size_t i = 0; i < b->n; i++) {
        free(b->lines[i]);
    }
    memset(b, 0, sizeof(*b));
}

static int s3_add_line(struct s3_built *b, const char *name,
                       const char *value)
{
    if (b->n >= S3_MAX_SENT_HEADERS) {
        errno = EINVAL;
        return -1;
    }
    struct buf l = {0};
    buf_printf(&l, "%s: %s", name, value);
    buf_append(&l, "", 1);
    if (buf_failed(&l)) {
        buf_deinit(&l);
        errno = ENOMEM;
        return -1;
    }
    b->lines[b->n++] = l.data;
    return 0;
}

static bool s3_use_path_style(const struct s3_client *c, const char *bucket)
{
    switch (c->addressing) {
    case S3_ADDRESSING_PATH:
        return true;
    case S3_ADDRESSING_VIRTUAL:
        return false;
    default:
        return !c->aws_endpoint || !s3_bucket_dns_compatible(bucket);
    }
}

/*
 * Builds the URL and the signed headers of call for now. Returns 0, or -1
 * with err.
 */
static int s3_build(struct s3_client *c, const struct s3_call *call,
                    struct s3_built *b, char *err, size_t errlen)
{
    memset(b, 0, sizeof(*b));
    struct aws_credentials creds;
    if (s3_credentials(c, false, &creds, err, errlen) != 0) {
        return -1;
    }
    bool path_style = s3_use_path_style(c, call->bucket);
    struct buf host = {0};
    if (!path_style) {
        buf_printf(&host, "%s.", call->bucket);
    }
    buf_append_str(&host, c->host);
    buf_append(&host, "", 1);

    struct buf path = {0};
    if (c->base_path[0] != '\0') {
        buf_append_str(&path, c->base_path);
    }
    if (path_style) {
        buf_printf(&path, "/%s", call->bucket);
    }
    if (call->key != NULL || !path_style) {
        buf_append(&path, "/", 1);
    }
    if (call->key != NULL) {
        size_t kn = strlen(call->key);
        if (buf_reserve(&path, 3 * kn + 1)) {
            path.len += sigv4_uri_encode(call->key, kn, true,
                                         path.data + path.len,
                                         path.cap - path.len);
        }
    }
    buf_append(&path, "", 1);

    char *query = sigv4_canonical_query(call->params, call->n_params);
    char date[SIGV4_AMZ_DATE_LEN + 1];
    sigv4_amz_date(time(NULL), date);
    const char *payload =
        call->payload_hash != NULL ? call->payload_hash : SIGV4_EMPTY_SHA256;
    const char *region = c->region_override[0] != '\0' ? c->region_override
                                                        : creds.region;
    int rc = -1;
    if (buf_failed(&host) || buf_failed(&path) || query == NULL) {
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        goto out;
    }
    struct sigv4_request sr = {
        .method = call->method,
        .host = host.data,
        .path = path.data,
        .query = query,
        .headers = call->headers,
        .n_headers = call->n_headers,
        .payload_hash = payload,
        .amz_date = date,
        .region = region,
        .service = S3_SERVICE,
        .access_key_id = creds.access_key_id,
        .secret_access_key = creds.secret_access_key,
        .session_token = creds.session_token,
    };
    char auth[1024];
    if (sigv4_authorization(&sr, auth, sizeof(auth)) != 0) {
        snprintf(err, errlen, "cannot sign the request: %s",
                 strerror(errno));
        goto out;
    }
    struct buf url = {0};
    buf_printf(&url, "%s://%s%s", c->scheme, host.data, path.data);
    if (query[0] != '\0') {
        buf_printf(&url, "?%s", query);
    }
    buf_append(&url, "", 1);
    if (buf_failed(&url)) {
        buf_deinit(&url);
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        goto out;
    }
    b->url = url.data;
    bool ok = s3_add_line(b, "Host", host.data) == 0 &&
              s3_add_line(b, "x-amz-date", date) == 0 &&
              s3_add_line(b, "x-amz-content-sha256", payload) == 0 &&
              s3_add_line(b, "Authorization", auth) == 0;
    if (ok && creds.session_token[0] != '\0') {
        ok = s3_add_line(b, "x-amz-security-token", creds.session_token) == 0;
    }
    for (size_t i = 0; ok && i < call->n_headers; i++) {
        ok = s3_add_line(b, call->headers[i].name, call->headers[i].value) ==
             0;
    }
    if (!ok) {
        snprintf(err, errlen, "cannot build the request headers");
        s3_built_free(b);
        goto out;
    }
    b->lines[b->n] = NULL;
    rc = 0;
out:
    memset(&creds, 0, sizeof(creds));
    buf_deinit(&host);
    buf_deinit(&path);
    free(query);
    return rc;
}

/* True for S3 error codes worth retrying whatever the status says. */
static bool s3_code_retryable(const char *code)
{
    return strcmp(code, "RequestTimeout") == 0 ||
           strcmp(code, "SlowDown") == 0 ||
           strcmp(code, "InternalError") == 0 ||
           strcmp(code, "ServiceUnavailable") == 0;
}

/*
 * The message and errno of a final error response. what names the object
 * or bucket; body is S3's error document (may be empty: HEAD).
 */
static void s3_fail(long status, const char *body, size_t body_len,
                    const char *what, char *err, size_t errlen)
{
    struct s3_error_doc doc;
    bool have = s3_xml_parse_error(body, body_len, &doc) == 0;
    const char *code = have ? doc.code : "";
    const char *msg = have ? doc.message : "";
    if (status == 404) {
        errno = ENOENT;
        if (strcmp(code, "NoSuchBucket") == 0) {
            snprintf(err, errlen, "%s: no such bucket (404 %s: %s)", what,
                     code, msg);
        } else {
            snprintf(err, errlen, "%s: not found (404%s%s%s%s)", what,
                     have ? " " : "", code, have ? ": " : "", msg);
        }
        return;
    }
    if (status == 401 || status == 403) {
        errno = EACCES;
        if (strcmp(code, "InvalidAccessKeyId") == 0 ||
            strcmp(code, "SignatureDoesNotMatch") == 0 ||
            strcmp(code, "ExpiredToken") == 0 ||
            strcmp(code, "InvalidToken") == 0) {
            snprintf(err, errlen, "%s: wrong credentials (%ld %s: %s)", what,
                     status, code, msg);
        } else if (have) {
            snprintf(err, errlen, "%s: access denied (%ld %s: %s)", what,
                     status, code, msg);
        } else {
            snprintf(err, errlen, "%s: access denied (%ld): check the "
                     "credentials and the bucket's policy", what, status);
        }
        return;
    }
    if (status == 412) {
        errno = EIO;
        snprintf(err, errlen, "%s: the object changed while it was read "
                 "(412 %s)", what, code);
        return;
    }
    errno = EIO;
    if (have) {
        snprintf(err, errlen, "%s: HTTP %ld %s: %s", what, status, code,
                 msg);
    } else {
        snprintf(err, errlen, "%s: HTTP %ld", what, status);
    }
}

/* True if an error response (status, body) is worth another attempt. */
static bool s3_response_retryable(long status, const char *body,
                                  size_t body_len)
{
    if (http_status_retryable(status)) {
        return true;
    }
    struct s3_error_doc doc;
    return s3_xml_parse_error(body, body_len, &doc) == 0 &&
           s3_code_retryable(doc.code);
}

/* True if S3 said the session credentials have expired. */
static bool s3_response_expired(long status, const char *body,
                                size_t body_len)
{
    struct s3_error_doc doc;
    return (status == 400 || status == 403) &&
           s3_xml_parse_error(body, body_len, &doc) == 0 &&
           strcmp(doc.code, "ExpiredToken") == 0;
}

/*
 * Runs call with retries. On 0, *resp holds the 2xx response (the caller
 * frees it); on -1 it is freed and err/errno say why.
 */
static int s3_perform(struct s3_client *c, const struct s3_call *call,
                      struct http_response *resp, char *err, size_t errlen)
{
    char what[S3_URI_MAX];
    s3_object_uri(call->bucket, call->key != NULL ? call->key : call->prefix,
                  what, sizeof(what));
    struct http_retry retry;
    http_retry_default(&retry);
    unsigned attempts = retry.max_attempts > 0 ? retry.max_attempts : 1;
    uint64_t seed = s3_seed(call);
    bool refreshed = false;
    char last[S3_MSG_MAX] = "";
    for (unsigned attempt = 1;; attempt++) {
        struct s3_built b;
        if (s3_build(c, call, &b, err, errlen) != 0) {
            return -1;
        }
        struct http_request req;
        http_request_init(&req, call->method, b.url);
        req.headers = (const char *const *)b.lines;
        req.body = call->body;
        req.body_len = call->body_len;
        req.body_fd = call->body_fd;
        req.body_offset = call->body_offset;
        req.body_length = call->body_length;
        req.max_body = call->max_body > 0 ? call->max_body
                                          : S3_MAX_SMALL_RESPONSE;
        char herr[512] = "";
        enum http_outcome o = http_exchange(&req, resp, herr, sizeof(herr));
        s3_built_free(&b);
        bool retryable = false;
        if (o == HTTP_DONE && resp->status >= 200 && resp->status < 300) {
            struct s3_error_doc doc;
            if (!call->error_in_200 ||
                s3_xml_parse_error(resp->body, resp->body_len, &doc) != 0) {
                return 0;
            }
            snprintf(last, sizeof(last), "%s: %s in a 200 response: %s",
                     what, doc.code, doc.message);
            retryable = true;
        } else if (o == HTTP_DONE) {
            if (!refreshed &&
                s3_response_expired(resp->status, resp->body,
                                    resp->body_len)) {
                /* Temporary credentials ran out: fetch new ones once. */
                struct aws_credentials fresh;
                refreshed = true;
                if (s3_credentials(c, true, &fresh, err, errlen) != 0) {
                    http_response_free(resp);
                    return -1;
                }
                memset(&fresh, 0, sizeof(fresh));
                http_response_free(resp);
                attempt--;
                continue;
            }
            if (!s3_response_retryable(resp->status, resp->body,
                                       resp->body_len)) {
                s3_fail(resp->status, resp->body, resp->body_len, what, err,
                        errlen);
                http_response_free(resp);
                return -1;
            }
            s3_fail(resp->status, resp->body, resp->body_len, what, last,
                    sizeof(last));
            retryable = true;
        } else if (o == HTTP_NETWORK) {
            snprintf(last, sizeof(last), "%s: %s", what, herr);
            retryable = true;
        } else {
            snprintf(err, errlen, "%s: %s", what, herr);
            http_response_free(resp);
            errno = o == HTTP_ABORTED ? ECANCELED : EIO;
            return -1;
        }
        if (!retryable || attempt >= attempts) {
            snprintf(err, errlen, "%s (gave up after %u attempts)", last,
                     attempt);
            http_response_free(resp);
            errno = EIO;
            return -1;
        }
        unsigned ms = http_backoff_ms(&retry, attempt, resp->retry_after,
                                      &seed);
        http_response_free(resp);
        http_sleep_ms(ms);
    }
}

/* ---- object operations ----------------------------------------------------- */

static void s3_call_init(struct s3_call *call, const char *method,
                         const char *bucket, const char *key)
{
    memset(call, 0, sizeof(*call));
    call->method = method;
    call->bucket = bucket;
    call->key = key;
    call->body_fd = -1;
}

int s3_head(struct s3_client *c, const char *bucket, const char *key,
            struct s3_object_info *info, char *err, size_t errlen)
{
    struct s3_call call;
    s3_call_init(&call, "HEAD", bucket, key);
    struct http_response resp;
    if (s3_perform(c, &call, &resp, err, errlen) != 0) {
        return -1;
    }
    memset(info, 0, sizeof(*info));
    info->size = resp.content_length != UINT64_MAX ? resp.content_length : 0;
    snprintf(info->etag, sizeof(info->etag), "%s", resp.etag);
    http_response_free(&resp);
    return 0;
}

int s3_list_objects(struct s3_client *c, const char *bucket,
                    const char *prefix, const char *delimiter,
                    struct s3_list *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char *token = NULL;
    int rc = 0;
    for (unsigned page = 0; rc == 0; page++) {
        struct sigv4_pair params[4];
        size_t np = 0;
        params[np++] = (struct sigv4_pair){"list-type", "2"};
        params[np++] = (struct sigv4_pair){"prefix", prefix};
        if (delimiter != NULL && delimiter[0] != '\0') {
            params[np++] = (struct sigv4_pair){"delimiter", delimiter};
        }
        if (token != NULL) {
            params[np++] = (struct sigv4_pair){"continuation-token", token};
        }
        struct s3_call call;
        s3_call_init(&call, "GET", bucket, NULL);
        call.prefix = prefix;
        call.params = params;
        call.n_params = np;
        struct http_response resp;
        if (s3_perform(c, &call, &resp, err, errlen) != 0) {
            rc = -1;
            break;
        }
        struct s3_list pg;
        char perr[256];
        if (s3_xml_parse_list(resp.body, resp.body_len, &pg, perr,
                              sizeof(perr)) != 0) {
            snprintf(err, errlen, "s3://%s/%s: %s", bucket, prefix, perr);
            errno = EIO;
            rc = -1;
        } else if (s3_list_append(out, &pg) != 0) {
            snprintf(err, errlen, "out of memory");
            errno = ENOMEM;
            rc = -1;
        } else if (pg.truncated && token != NULL &&
                   strcmp(pg.next_token, token) == 0) {
            snprintf(err, errlen, "s3://%s/%s: the listing repeats its "
                     "continuation token", bucket, prefix);
            errno = EIO;
            rc = -1;
        } else if (pg.truncated && page + 1 >= S3_MAX_LIST_PAGES) {
            snprintf(err, errlen, "s3://%s/%s: more than %u pages", bucket,
                     prefix, S3_MAX_LIST_PAGES);
            errno = EIO;
            rc = -1;
        } else if (pg.truncated) {
            free(token);
            token = pg.next_token;
            pg.next_token = NULL;
        } else {
            s3_list_free(&pg);
            http_response_free(&resp);
            break;
        }
        s3_list_free(&pg);
        http_response_free(&resp);
    }
    free(token);
    if (rc != 0) {
        s3_list_free(out);
    }
    return rc;
}

int s3_put(struct s3_client *c, const char *bucket, const char *key,
           const void *data, size_t len, char *err, size_t errlen)
{
    char hash[SIGV4_HEX_LEN + 1];
    sigv4_sha256_hex(data, len, hash);
    struct s3_call call;
    s3_call_init(&call, "PUT", bucket, key);
    call.body = data != NULL ? data : "";
    call.body_len = len;
    call.payload_hash = hash;
    struct http_response resp;
    if (s3_perform(c, &call, &resp, err, errlen) != 0) {
        return -1;
    }
    http_response_free(&resp);
    return 0;
}

int s3_delete(struct s3_client *c, const char *bucket, const char *key,
              char *err, size_t errlen)
{
    struct s3_call call;
    s3_call_init(&call, "DELETE", bucket, key);
    struct http_response resp;
    if (s3_perform(c, &call, &resp, err, errlen) != 0) {
        return -1;
    }
    http_response_free(&resp);
    return 0;
}

/* The SHA-256 (hex) of length bytes of fd from offset. 0, or -1 with err. */
static int s3_hash_range(int fd, uint64_t offset, uint64_t length,
                         const char *path, char out[SIGV4_HEX_LEN + 1],
                         char *err, size_t errlen)
{
    char *buf = malloc(S3_HASH_BUF);
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = -1;
    if (buf == NULL || md == NULL ||
        EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        goto out;
    }
    uint64_t done = 0;
    while (done < length) {
        size_t want = length - done < S3_HASH_BUF ? (size_t)(length - done)
                                                  : S3_HASH_BUF;
        ssize_t n = pread(fd, buf, want, (off_t)(offset + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            snprintf(err, errlen, "cannot read %s: %s", path,
                     n < 0 ? strerror(errno) : "it shrank while read");
            errno = EIO;
            goto out;
        }
        EVP_DigestUpdate(md, buf, (size_t)n);
        done += (uint64_t)n;
    }
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dn = 0;
    EVP_DigestFinal_ex(md, digest, &dn);
    static const char hex[] = "0123456789abcdef";
    for (unsigned i = 0; i < dn; i++) {
        out[2 * i] = hex[digest[i] >> 4];
        out[2 * i + 1] = hex[digest[i] & 15];
    }
    out[2 * dn] = '\0';
    rc = 0;
out:
    EVP_MD_CTX_free(md);
    free(buf);
    return rc;
}

/* PUT of length bytes of fd from offset, with extra query parameters. */
static int s3_put_range(struct s3_client *c, const char *bucket,
                        const char *key, const struct sigv4_pair *params,
                        size_t n_params, int fd, uint64_t offset,
                        uint64_t length, const char *path,
                        char etag[256], char *err, size_t errlen)
{
    char hash[SIGV4_HEX_LEN + 1];
    if (s3_hash_range(fd, offset, length, path, hash, err, errlen) != 0) {
        return -1;
    }
    struct s3_call call;
    s3_call_init(&call, "PUT", bucket, key);
    call.params = params;
    call.n_params = n_params;
    call.body_fd = fd;
    call.body_offset = offset;
    call.body_length = length;
    call.payload_hash = hash;
    struct http_response resp;
    if (s3_perform(c, &call, &resp, err, errlen) != 0) {
        return -1;
    }
    if (etag != NULL) {
        snprintf(etag, 256, "%s", resp.etag);
    }
    http_response_free(&resp);
    return 0;
}

/* Aborts a multipart upload, best effort (the caller is failing anyway). */
static void s3_abort_upload(struct s3_client *c, const char *bucket,
                            const char *key, const char *upload_id)
{
    struct sigv4_pair params[] = {{"uploadId", upload_id}};
    struct s3_call call;
    s3_call_init(&call, "DELETE", bucket, key);
    call.params = params;
    call.n_params = 1;
    struct http_response resp;
    char err[256];
    if (s3_perform(c, &call, &resp, err, sizeof(err)) == 0) {
        http_response_free(&resp);
    }
}

static int s3_multipart(struct s3_client *c, const char *bucket,
                        const char *key, int fd, uint64_t size,
                        const char *path, char *err, size_t errlen)
{
    char what[S3_URI_MAX];
    s3_object_uri(bucket, key, what, sizeof(what));
    uint64_t part = c->part_size;
    if ((size + part - 1) / part > S3_MAX_PARTS) {
        uint64_t mib = (uint64_t)1 << 20;
        part = ((size + S3_MAX_PARTS - 1) / S3_MAX_PARTS + mib - 1) / mib *
               mib;
    }
    unsigned n_parts = (unsigned)((size + part - 1) / part);

    struct sigv4_pair create[] = {{"uploads", ""}};
    struct s3_call call;
    s3_call_init(&call, "POST", bucket, key);
    call.params = create;
    call.n_params = 1;
    struct http_response resp;
    if (s3_perform(c, &call, &resp, err, errlen) != 0) {
        return -1;
    }
    char upload_id[S3_UPLOAD_ID_MAX];
    int rc = s3_xml_parse_upload_id(resp.body, resp.body_len, upload_id,
                                    sizeof(upload_id));
    http_response_free(&resp);
    if (rc != 0) {
        snprintf(err, errlen, "%s: no UploadId in the answer to "
                 "CreateMultipartUpload", what);
        errno = EIO;
        return -1;
    }

    struct buf done = {0};
    buf_append_str(&done, "<CompleteMultipartUpload>");
    for (unsigned i = 0; i < n_parts && rc == 0; i++) {
        uint64_t off = (uint64_t)i * part;
        uint64_t len = size - off < part ? size - off : part;
        char number[16];
        snprintf(number, sizeof(number), "%u", i + 1);
        struct sigv4_pair params[] = {{"partNumber", number},
                                      {"uploadId", upload_id}};
        char etag[256];
        if (s3_put_range(c, bucket, key, params, 2, fd, off, len, path, etag,
                         err, errlen) != 0) {
            rc = -1;
        } else if (etag[0] == '\0') {
            snprintf(err, errlen, "%s: no ETag for part %u", what, i + 1);
            errno = EIO;
            rc = -1;
        } else {
            /* ETags are quoted hex: nothing in them needs XML escaping. */
            buf_printf(&done, "<Part><PartNumber>%u</PartNumber>"
                       "<ETag>%s</ETag></Part>", i + 1, etag);
        }
    }
    buf_append_str(&done, "</CompleteMultipartUpload>");
    if (rc == 0 && buf_failed(&done)) {
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        rc = -1;
    }
    if (rc == 0) {
        char hash[SIGV4_HEX_LEN + 1];
        sigv4_sha256_hex(done.data, done.len, hash);
        struct sigv4_pair params[] = {{"uploadId", upload_id}};
        s3_call_init(&call, "POST", bucket, key);
        call.params = params;
        call.n_params = 1;
        call.body = done.data;
        call.body_len = done.len;
        call.payload_hash = hash;
        call.error_in_200 = true;
        if (s3_perform(c, &call, &resp, err, errlen) != 0) {
            rc = -1;
        } else {
            http_response_free(&resp);
        }
    }
    buf_deinit(&done);
    if (rc != 0) {
        int saved = errno;
        s3_abort_upload(c, bucket, key, upload_id);
        errno = saved;
    }
    return rc;
}

int s3_put_file(struct s3_client *c, const char *bucket, const char *key,
                const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    int rc;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat %s: %s", path, strerror(errno));
        rc = -1;
    } else if ((uint64_t)st.st_size >= c->threshold) {
        rc = s3_multipart(c, bucket, key, fd, (uint64_t)st.st_size, path,
                          err, errlen);
    } else {
        rc = s3_put_range(c, bucket, key, NULL, 0, fd, 0,
                          (uint64_t)st.st_size, path, NULL, err, errlen);
    }
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

/* ---- reader -------------------------------------------------------------- */

struct s3_reader {
    struct s3_client *c;
    char *bucket;
    char *key;
    char what[S3_URI_MAX];
    struct http_stream *s;
    struct s3_object_info info;
    bool have_info;
    uint64_t offset;  /* bytes returned */
    uint64_t skip;    /* bytes to drop: a server that ignored Range */
    unsigned resumes;
    unsigned failures; /* consecutive, without a byte between them */
    struct http_retry retry;
    uint64_t seed;
    char last[S3_MSG_MAX]; /* the last transient failure */
};

/*
 * Counts a transient failure and sleeps before the next attempt; -1 with
 * err when the attempts are spent.
 */
static int s3_reader_backoff(struct s3_reader *r, const char *retry_after,
                             char *err, size_t errlen)
{
    r->failures++;
    unsigned max = r->retry.max_attempts > 0 ? r->retry.max_attempts : 1;
    if (r->failures >= max) {
        snprintf(err, errlen, "%s (gave up after %u attempts)", r->last,
                 r->failures);
        errno = EIO;
        return -1;
    }
    http_sleep_ms(http_backoff_ms(&r->retry, r->failures, retry_after,
                                  &r->seed));
    return 0;
}

/* Opens the body stream at r->offset, with retries. 0 or -1 with err. */
static int s3_reader_connect(struct s3_reader *r, char *err, size_t errlen)
{
    for (;;) {
        char range[64];
        struct sigv4_pair headers[2];
        size_t nh = 0;
        if (r->offset > 0) {
            snprintf(range, sizeof(range), "bytes=%" PRIu64 "-", r->offset);
            headers[nh++] = (struct sigv4_pair){"Range", range};
        }
        if (r->have_info && r->info.etag[0] != '\0') {
            headers[nh++] = (struct sigv4_pair){"If-Match", r->info.etag};
        }
        struct s3_call call;
        s3_call_init(&call, "GET", r->bucket, r->key);
        call.headers = headers;
        call.n_headers = nh;
        struct s3_built b;
        if (s3_build(r->c, &call, &b, err, errlen) != 0) {
            return -1;
        }
        struct http_request req;
        http_request_init(&req, "GET", b.url);
        req.headers = (const char *const *)b.lines;
        struct http_response resp;
        char herr[512] = "";
        enum http_outcome o =
            http_stream_open(&req, &r->s, &resp, herr, sizeof(herr));
        s3_built_free(&b);
        if (o == HTTP_DONE && (resp.status == 200 || resp.status == 206)) {
            int rc = 0;
            if (!r->have_info) {
                r->info.size = resp.content_length != UINT64_MAX
                                   ? resp.content_length : 0;
                snprintf(r->info.etag, sizeof(r->info.etag), "%s",
                         resp.etag);
                r->have_info = resp.content_length != UINT64_MAX;
                if (!r->have_info) {
                    snprintf(err, errlen, "%s: no Content-Length in the "
                             "response", r->what);
                    errno = EIO;
                    rc = -1;
                }
            } else if (r->info.etag[0] != '\0' && resp.etag[0] != '\0' &&
                       strcmp(r->info.etag, resp.etag) != 0) {
                snprintf(err, errlen, "%s: the object changed while it was "
                         "read (ETag %s, then %s)", r->what, r->info.etag,
                         resp.etag);
                errno = EIO;
                rc = -1;
            } else if (resp.status == 200) {
                r->skip = r->offset; /* Range ignored: drop what we have */
            }
            http_response_free(&resp);
            if (rc != 0) {
                http_stream_close(&r->s);
            }
            return rc;
        }
        const char *retry_after = "";
        if (o == HTTP_DONE) {
            http_stream_close(&r->s);
            if (!s3_response_retryable(resp.status, resp.body,
                                       resp.body_len)) {
                s3_fail(resp.status, resp.body, resp.body_len, r->what, err,
                        errlen);
                http_response_free(&resp);
                return -1;
            }
            s3_fail(resp.status, resp.body, resp.body_len, r->what, r->last,
                    sizeof(r->last));
            retry_after = resp.retry_after;
        } else if (o == HTTP_NETWORK) {
            snprintf(r->last, sizeof(r->last), "%s: %s", r->what, herr);
        } else {
            snprintf(err, errlen, "%s: %s", r->what, herr);
            http_response_free(&resp);
            errno = EIO;
            return -1;
        }
        char ra[sizeof(resp.retry_after)];
        snprintf(ra, sizeof(ra), "%s", retry_after);
        http_response_free(&resp);
        if (s3_reader_backoff(r, ra, err, errlen) != 0) {
            return -1;
        }
    }
}

int s3_reader_open(struct s3_client *c, const char *bucket, const char *key,
                   struct s3_reader **out, char *err, size_t errlen)
{
    *out = NULL;
    struct s3_reader *r = calloc(1, sizeof(*r));
    if (r == NULL || (r->bucket = strdup(bucket)) == NULL ||
        (r->key = strdup(key)) == NULL) {
        if (r != NULL) {
            free(r->bucket);
            free(r);
        }
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    r->c = c;
    s3_object_uri(bucket, key, r->what, sizeof(r->what));
    http_retry_default(&r->retry);
    r->seed = s3_seed(r);
    if (s3_reader_connect(r, err, errlen) != 0) {
        int saved = errno;
        s3_reader_close(&r);
        errno = saved;
        return -1;
    }
    *out = r;
    return 0;
}

ssize_t s3_reader_read(struct s3_reader *r, void *buf, size_t len, char *err,
                       size_t errlen)
{
    for (;;) {
        if (r->s == NULL) {
            if (r->offset >= r->info.size) {
                return 0;
            }
            r->resumes++;
            if (s3_reader_connect(r, err, errlen) != 0) {
                return -1;
            }
        }
        char herr[512] = "";
        ssize_t n = http_stream_read(r->s, buf, len, herr, sizeof(herr));
        if (n > 0 && r->skip > 0) {
            uint64_t drop = (uint64_t)n < r->skip ? (uint64_t)n : r->skip;
            r->skip -= drop;
            memmove(buf, (char *)buf + drop, (size_t)((uint64_t)n - drop));
            n -= (ssize_t)drop;
            if (n == 0) {
                continue;
            }
        }
        if (n > 0) {
            if (r->offset + (uint64_t)n > r->info.size) {
                snprintf(err, errlen, "%s: more bytes than its %" PRIu64
                         " announced", r->what, r->info.size);
                errno = EIO;
                return -1;
            }
            r->offset += (uint64_t)n;
            r->failures = 0;
            return n;
        }
        if (n == 0 && r->offset == r->info.size) {
            http_stream_close(&r->s);
            return 0;
        }
        if (n < 0 && errno != EIO) {
            snprintf(err, errlen, "%s: %s", r->what, herr);
            return -1;
        }
        /* A broken body: resume from the next byte after a pause. */
        if (n == 0) {
            snprintf(r->last, sizeof(r->last), "%s: body ended at byte %"
                     PRIu64 " of %" PRIu64, r->what, r->offset,
                     r->info.size);
        } else {
            snprintf(r->last, sizeof(r->last), "%s: %s", r->what, herr);
        }
        http_stream_close(&r->s);
        if (s3_reader_backoff(r, "", err, errlen) != 0) {
            return -1;
        }
    }
}

const struct s3_object_info *s3_reader_info(const struct s3_reader *r)
{
    return &r->info;
}

uint64_t s3_reader_offset(const struct s3_reader *r)
{
    return r->offset;
}

unsigned s3_reader_resumes(const struct s3_reader *r)
{
    return r->resumes;
}

void s3_reader_close(struct s3_reader **rp)
{
    struct s3_reader *r = *rp;
    if (r == NULL) {
        return;
    }
    http_stream_close(&r->s);
    free(r->bucket);
    free(r->key);
    free(r);
    *rp = NULL;
}

int s3_get_bytes(struct s3_client *c, const char *bucket, const char *key,
                 size_t max_len, char **data, size_t *len, char *err,
                 size_t errlen)
{
    *data = NULL;
    *len = 0;
    struct s3_reader *r;
    if (s3_reader_open(c, bucket, key, &r, err, errlen) != 0) {
        return -1;
    }
    uint64_t size = r->info.size;
    if (size > max_len) {
        snprintf(err, errlen, "%s is %" PRIu64 " bytes, over the %zu limit "
                 "for small objects", r->what, size, max_len);
        s3_reader_close(&r);
        errno = EFBIG;
        return -1;
    }
    char *buf = malloc((size_t)size + 1);
    if (buf == NULL) {
        s3_reader_close(&r);
        snprintf(err, errlen, "out of memory");
        errno = ENOMEM;
        return -1;
    }
    size_t got = 0;
    for (;;) {
        ssize_t n = s3_reader_read(r, buf + got, (size_t)size - got + 1,
                                   err, errlen);
        if (n < 0) {
            int saved = errno;
            free(buf);
            s3_reader_close(&r);
            errno = saved;
            return -1;
        }
        if (n == 0) {
            break;
        }
        got += (size_t)n;
    }
    s3_reader_close(&r);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return 0;
}
