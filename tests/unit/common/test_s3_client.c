/*
 * This file implements the unit tests of the S3 client (common/s3_client.c)
 * and, under it, the HTTP client (common/http_client.c), against a scripted
 * fake S3 server on 127.0.0.1 run by a thread of the test: each test sets
 * the reply to each request and then checks what the client sent and did.
 *
 * Covered: a GET cut by a connection reset is resumed with Range and
 * If-Match and yields every byte, read in small pieces (the paused
 * stream); an object whose ETag changes between resumes fails; 500 and
 * 503 SlowDown are retried, each attempt signed again with the body's
 * SHA-256; 404 and 403 are not retried and the messages name the object
 * (and say "wrong credentials" for SignatureDoesNotMatch); ListObjectsV2
 * follows continuation tokens with a sorted, encoded query; the endpoint
 * comes from AWS_ENDPOINT_URL_S3 before AWS_ENDPOINT_URL, with path-style
 * addressing and the endpoint's base path; a multipart upload sends its
 * parts and completes, and a failed part aborts the upload. The s3://
 * input backend (object_source_s3.c, through object_source.h) lists an
 * object, a prefix as a directory (direct files only, no marker) and an
 * empty prefix (ENOENT), and reads an object.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "object_source.h"
#include "s3_client.h"
#include "sigv4.h"

/* ---- the fake server ------------------------------------------------------ */

#define FAKE_MAX_REQS 64
#define FAKE_HEAD_MAX 16384

struct fake_req {
    char method[8];
    char target[2048];
    char host[256];
    char range[64];
    char if_match[128];
    char sha[80];
    bool signed_req; /* an Authorization header came */
    size_t body_len;
};

struct fake_reply {
    int status;
    char headers[512];    /* extra "Name: value\r\n" lines */
    const char *body;     /* borrowed */
    size_t body_len;
    size_t content_length; /* announced; 0: body_len */
    size_t cut_after;      /* reset after this many body bytes; 0: none */
};

typedef void (*fake_handler)(int n, const struct fake_req *req,
                             struct fake_reply *out);

static struct {
    int fd;
    int port;
    pthread_t thread;
    volatile bool stop;
    pthread_mutex_t mu;
    struct fake_req reqs[FAKE_MAX_REQS];
    int n;
    fake_handler handler;
} fake;

/* Copies header name's value out of the raw head, "" if absent. */
static void fake_header(const char *head, const char *name, char *out,
                        size_t outlen)
{
    out[0] = '\0';
    size_t nl = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p != NULL;
         p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ') {
                v++;
            }
            size_t vn = strcspn(v, "\r");
            snprintf(out, outlen, "%.*s", (int)vn, v);
            return;
        }
    }
}

static void fake_send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k <= 0) {
            return;
        }
        p += k;
        n -= (size_t)k;
    }
}

static void fake_serve(int cfd)
{
    char head[FAKE_HEAD_MAX + 1];
    size_t got = 0;
    char *end = NULL;
    while (end == NULL && got < FAKE_HEAD_MAX) {
        ssize_t k = recv(cfd, head + got, FAKE_HEAD_MAX - got, 0);
        if (k <= 0) {
            return;
        }
        got += (size_t)k;
        head[got] = '\0';
        end = strstr(head, "\r\n\r\n");
    }
    if (end == NULL) {
        return;
    }
    struct fake_req r;
    memset(&r, 0, sizeof(r));
    sscanf(head, "%7s %2047s", r.method, r.target);
    char cl[32], auth[16];
    fake_header(head, "Host", r.host, sizeof(r.host));
    fake_header(head, "Range", r.range, sizeof(r.range));
    fake_header(head, "If-Match", r.if_match, sizeof(r.if_match));
    fake_header(head, "x-amz-content-sha256", r.sha, sizeof(r.sha));
    fake_header(head, "Authorization", auth, sizeof(auth));
    fake_header(head, "Content-Length", cl, sizeof(cl));
    r.signed_req = strncmp(auth, "AWS4-HMAC", 9) == 0;
    size_t want = (size_t)strtoul(cl, NULL, 10);
    size_t have = got - (size_t)(end + 4 - head);
    while (have < want) {
        char buf[65536];
        ssize_t k = recv(cfd, buf, sizeof(buf), 0);
        if (k <= 0) {
            break;
        }
        have += (size_t)k;
    }
    r.body_len = have;

    pthread_mutex_lock(&fake.mu);
    int n = fake.n;
    if (n < FAKE_MAX_REQS) {
        fake.reqs[n] = r;
        fake.n++;
    }
    fake_handler handler = fake.handler;
    pthread_mutex_unlock(&fake.mu);

    struct fake_reply rep;
    memset(&rep, 0, sizeof(rep));
    rep.status = 200;
    handler(n, &r, &rep);
    size_t clen = rep.content_length ? rep.content_length : rep.body_len;
    char top[1024];
    int tn = snprintf(top, sizeof(top),
                      "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n"
                      "Connection: close\r\n%s\r\n",
                      rep.status, clen, rep.headers);
    fake_send_all(cfd, top, (size_t)tn);
    if (strcmp(r.method, "HEAD") == 0) {
        return;
    }
    size_t body = rep.cut_after ? rep.cut_after : rep.body_len;
    fake_send_all(cfd, rep.body, body);
    if (rep.cut_after) {
        struct linger lg = {1, 0}; /* close with a reset */
        setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
    }
}

static void *fake_main(void *arg)
{
    (void)arg;
    while (!fake.stop) {
        struct pollfd pfd = {fake.fd, POLLIN, 0};
        if (poll(&pfd, 1, 50) <= 0) {
            continue;
        }
        int cfd = accept(fake.fd, NULL, NULL);
        if (cfd < 0) {
            continue;
        }
        fake_serve(cfd);
        close(cfd);
    }
    return NULL;
}

static void fake_start(void)
{
    pthread_mutex_init(&fake.mu, NULL);
    fake.fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fake.fd >= 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fake.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(listen(fake.fd, 16), 0);
    socklen_t len = sizeof(a);
    assert_int_equal(getsockname(fake.fd, (struct sockaddr *)&a, &len), 0);
    fake.port = ntohs(a.sin_port);
    fake.stop = false;
    assert_int_equal(pthread_create(&fake.thread, NULL, fake_main, NULL), 0);
}

static void fake_stop(void)
{
    fake.stop = true;
    pthread_join(fake.thread, NULL);
    close(fake.fd);
}

/* Starts a test: handler answers; the request log is emptied. */
static void fake_script(fake_handler h)
{
    pthread_mutex_lock(&fake.mu);
    fake.handler = h;
    fake.n = 0;
    pthread_mutex_unlock(&fake.mu);
}

static int fake_count(void)
{
    pthread_mutex_lock(&fake.mu);
    int n = fake.n;
    pthread_mutex_unlock(&fake.mu);
    return n;
}

static struct fake_req fake_get(int i)
{
    pthread_mutex_lock(&fake.mu);
    struct fake_req r = fake.reqs[i];
    pthread_mutex_unlock(&fake.mu);
    return r;
}

static void set_error(struct fake_reply *out, int status, const char *code)
{
    static char doc[256];
    snprintf(doc, sizeof(doc), "<?xml version=\"1.0\"?><Error><Code>%s"
             "</Code><Message>scripted %d</Message></Error>", code, status);
    out->status = status;
    out->body = doc;
    out->body_len = strlen(doc);
}

/* ---- fixtures ----------------------------------------------------------------- */

static char endpoint[64];
static struct s3_client *client;

static struct s3_client *new_client(const struct s3_client_options *opt)
{
    struct s3_client *c = NULL;
    char err[512];
    if (s3_client_create(opt, &c, err, sizeof(err)) != 0) {
        fail_msg("s3_client_create: %s", err);
    }
    return c;
}

static int setup(void **state)
{
    (void)state;
    fake_start();
    snprintf(endpoint, sizeof(endpoint), "http://127.0.0.1:%d", fake.port);
    setenv("AWS_ACCESS_KEY_ID", "AKIDTEST", 1);
    setenv("AWS_SECRET_ACCESS_KEY", "secret", 1);
    unsetenv("AWS_SESSION_TOKEN");
    setenv("AWS_REGION", "eu-west-1", 1);
    setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
    setenv("AWS_ENDPOINT_URL_S3", endpoint, 1);
    unsetenv("AWS_ENDPOINT_URL");
    unsetenv("LARDER_S3_PATH_STYLE");
    setenv("LARDER_HTTP_RETRY_ATTEMPTS", "4", 1);
    setenv("LARDER_HTTP_RETRY_BASE_MS", "1", 1);
    setenv("LARDER_HTTP_RETRY_MAX_MS", "5", 1);
    client = new_client(NULL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    s3_client_destroy(&client);
    assert_null(client);
    fake_stop();
    return 0;
}

/* ---- reads --------------------------------------------------------------------- */

#define OBJ_SIZE (300 * 1024 + 7)
static char object[OBJ_SIZE];

static void fill_object(void)
{
    for (size_t i = 0; i < OBJ_SIZE; i++) {
        object[i] = (char)(i * 131 + (i >> 9));
    }
}

/* First GET: the whole object announced, a third sent, then a reset. */
static void reply_cut_then_range(int n, const struct fake_req *req,
                                 struct fake_reply *out)
{
    snprintf(out->headers, sizeof(out->headers), "ETag: \"e1\"\r\n");
    if (n == 0) {
        out->body = object;
        out->body_len = OBJ_SIZE;
        out->cut_after = OBJ_SIZE / 3;
        return;
    }
    size_t from = (size_t)strtoul(req->range + strlen("bytes="), NULL, 10);
    out->status = 206;
    snprintf(out->headers, sizeof(out->headers),
             "ETag: \"e1\"\r\nContent-Range: bytes %zu-%d/%d\r\n", from,
             OBJ_SIZE - 1, OBJ_SIZE);
    out->body = object + from;
    out->body_len = OBJ_SIZE - from;
}

static void test_get_resumes_after_reset(void **state)
{
    (void)state;
    fill_object();
    fake_script(reply_cut_then_range);
    char err[512];
    struct s3_reader *r;
    assert_int_equal(s3_reader_open(client, "bkt", "dir/obj.seg", &r, err,
                                     sizeof(err)), 0);
    assert_int_equal(s3_reader_info(r)->size, OBJ_SIZE);
    assert_string_equal(s3_reader_info(r)->etag, "\"e1\"");
    char *got = malloc(OBJ_SIZE);
    assert_non_null(got);
    size_t total = 0;
    for (;;) {
        /* Small reads: the stream pauses between them. */
        char buf[1000];
        ssize_t n = s3_reader_read(r, buf, sizeof(buf), err, sizeof(err));
        if (n < 0) {
            fail_msg("read: %s", err);
        }
        if (n == 0) {
            break;
        }
        assert_true(total + (size_t)n <= OBJ_SIZE);
        memcpy(got + total, buf, (size_t)n);
        total += (size_t)n;
    }
    assert_int_equal(total, OBJ_SIZE);
    assert_memory_equal(got, object, OBJ_SIZE);
    assert_int_equal(s3_reader_resumes(r), 1);
    assert_int_equal(s3_reader_offset(r), OBJ_SIZE);
    free(got);
    s3_reader_close(&r);
    assert_null(r);

    assert_int_equal(fake_count(), 2);
    struct fake_req first = fake_get(0), second = fake_get(1);
    assert_string_equal(first.target, "/bkt/dir/obj.seg");
    assert_string_equal(first.range, "");
    assert_true(first.signed_req);
    char want[64];
    /* Resumed from a byte the client had, on the same ETag. */
    unsigned long from = strtoul(second.range + 6, NULL, 10);
    assert_true(strncmp(second.range, "bytes=", 6) == 0);
    assert_true(from > 0 && from <= OBJ_SIZE / 3);
    snprintf(want, sizeof(want), "bytes=%lu-", from);
    assert_string_equal(second.range, want);
    assert_string_equal(second.if_match, "\"e1\"");
}

/* Cut, then the object is another one (another ETag). */
static void reply_cut_then_changed(int n, const struct fake_req *req,
                                   struct fake_reply *out)
{
    (void)req;
    out->body = object;
    out->body_len = OBJ_SIZE;
    if (n == 0) {
        snprintf(out->headers, sizeof(out->headers), "ETag: \"e1\"\r\n");
        out->cut_after = 1000;
    } else {
        out->status = 206;
        snprintf(out->headers, sizeof(out->headers), "ETag: \"e2\"\r\n");
        out->body_len = OBJ_SIZE - 1000;
    }
}

static void test_get_fails_when_object_changes(void **state)
{
    (void)state;
    fake_script(reply_cut_then_changed);
    char err[512];
    struct s3_reader *r;
    assert_int_equal(s3_reader_open(client, "bkt", "k", &r, err,
                                     sizeof(err)), 0);
    char buf[65536];
    ssize_t n;
    while ((n = s3_reader_read(r, buf, sizeof(buf), err, sizeof(err))) > 0) {
    }
    assert_int_equal(n, -1);
    assert_int_equal(errno, EIO);
    assert_non_null(strstr(err, "changed"));
    assert_non_null(strstr(err, "s3://bkt/k"));
    s3_reader_close(&r);
}

static void reply_404(int n, const struct fake_req *req,
                      struct fake_reply *out)
{
    (void)n;
    (void)req;
    set_error(out, 404, "NoSuchKey");
}

static void reply_403_signature(int n, const struct fake_req *req,
                                struct fake_reply *out)
{
    (void)n;
    (void)req;
    set_error(out, 403, "SignatureDoesNotMatch");
}

static void test_404_and_403_not_retried(void **state)
{
    (void)state;
    char err[512];
    struct s3_reader *r = NULL;
    fake_script(reply_404);
    assert_int_equal(s3_reader_open(client, "bkt", "a/missing.seg", &r, err,
                                     sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_null(r);
    assert_non_null(strstr(err, "s3://bkt/a/missing.seg"));
    assert_non_null(strstr(err, "NoSuchKey"));
    assert_int_equal(fake_count(), 1);

    fake_script(reply_404);
    struct s3_object_info info;
    assert_int_equal(s3_head(client, "bkt", "a/missing.seg", &info, err,
                             sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "not found"));
    assert_int_equal(fake_count(), 1);

    fake_script(reply_403_signature);
    assert_int_equal(s3_put(client, "bkt", "a/b", "xyz", 3, err,
                            sizeof(err)), -1);
    assert_int_equal(errno, EACCES);
    assert_non_null(strstr(err, "s3://bkt/a/b"));
    assert_non_null(strstr(err, "wrong credentials"));
    assert_non_null(strstr(err, "SignatureDoesNotMatch"));
    assert_int_equal(fake_count(), 1);
}

/* ---- retries -------------------------------------------------------------------- */

static void reply_500_503_then_ok(int n, const struct fake_req *req,
                                  struct fake_reply *out)
{
    (void)req;
    if (n == 0) {
        set_error(out, 500, "InternalError");
    } else if (n == 1) {
        set_error(out, 503, "SlowDown");
    } else {
        snprintf(out->headers, sizeof(out->headers), "ETag: \"x\"\r\n");
    }
}

static void reply_always_503(int n, const struct fake_req *req,
                             struct fake_reply *out)
{
    (void)n;
    (void)req;
    set_error(out, 503, "SlowDown");
}

static void test_transient_errors_retried(void **state)
{
    (void)state;
    char err[512];
    fake_script(reply_500_503_then_ok);
    const char *body = "hello, store";
    assert_int_equal(s3_put(client, "bkt", "k", body, strlen(body), err,
                            sizeof(err)), 0);
    assert_int_equal(fake_count(), 3);
    char sha[SIGV4_HEX_LEN + 1];
    sigv4_sha256_hex(body, strlen(body), sha);
    for (int i = 0; i < 3; i++) {
        struct fake_req r = fake_get(i);
        assert_string_equal(r.method, "PUT");
        assert_string_equal(r.sha, sha);
        assert_int_equal(r.body_len, strlen(body));
        assert_true(r.signed_req);
    }

    /* Past the attempts (4 here), the last error is reported. */
    fake_script(reply_always_503);
    assert_int_equal(s3_put(client, "bkt", "k", body, strlen(body), err,
                            sizeof(err)), -1);
    assert_int_equal(errno, EIO);
    assert_int_equal(fake_count(), 4);
    assert_non_null(strstr(err, "SlowDown"));
    assert_non_null(strstr(err, "gave up after 4 attempts"));
}

/* ---- listing -------------------------------------------------------------------- */

static void reply_two_pages(int n, const struct fake_req *req,
                            struct fake_reply *out)
{
    (void)req;
    static const char p1[] =
        "<ListBucketResult><IsTruncated>true</IsTruncated>"
        "<Contents><Key>dir/a</Key><Size>1</Size></Contents>"
        "<CommonPrefixes><Prefix>dir/sub/</Prefix></CommonPrefixes>"
        "<NextContinuationToken>t/1=</NextContinuationToken>"
        "</ListBucketResult>";
    static const char p2[] =
        "<ListBucketResult><IsTruncated>false</IsTruncated>"
        "<Contents><Key>dir/b</Key><Size>2</Size></Contents>"
        "</ListBucketResult>";
    out->body = n == 0 ? p1 : p2;
    out->body_len = strlen(out->body);
}

static void test_list_follows_pages(void **state)
{
    (void)state;
    fake_script(reply_two_pages);
    struct s3_list l;
    char err[512];
    assert_int_equal(s3_list_objects(client, "bkt", "dir/", "/", &l, err,
                                     sizeof(err)), 0);
    assert_int_equal(l.n_objects, 2);
    assert_string_equal(l.objects[0].key, "dir/a");
    assert_string_equal(l.objects[1].key, "dir/b");
    assert_int_equal(l.objects[1].size, 2);
    assert_int_equal(l.n_prefixes, 1);
    assert_string_equal(l.prefixes[0], "dir/sub/");
    s3_list_free(&l);
    assert_int_equal(fake_count(), 2);
    assert_string_equal(fake_get(0).target,
                        "/bkt?delimiter=%2F&list-type=2&prefix=dir%2F");
    assert_string_equal(fake_get(1).target,
                        "/bkt?continuation-token=t%2F1%3D&delimiter=%2F&"
                        "list-type=2&prefix=dir%2F");
}

/* ---- endpoints -------------------------------------------------------------- */

static void reply_ok(int n, const struct fake_req *req,
                     struct fake_reply *out)
{
    (void)n;
    (void)req;
}

static void test_endpoint_selection(void **state)
{
    (void)state;
    char err[512];
    char port[16];
    snprintf(port, sizeof(port), ":%d", fake.port);

    /* AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL (a dead port here). */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1", 1);
    struct s3_client *c = new_client(NULL);
    fake_script(reply_ok);
    assert_int_equal(s3_delete(c, "my.dotted.bucket", "a b/c+d", err,
                               sizeof(err)), 0);
    struct fake_req r = fake_get(0);
    assert_string_equal(r.method, "DELETE");
    assert_string_equal(r.target, "/my.dotted.bucket/a%20b/c%2Bd");
    assert_non_null(strstr(r.host, port));
    s3_client_destroy(&c);
    unsetenv("AWS_ENDPOINT_URL");

    /* An explicit endpoint with a base path wins over the environment. */
    char with_path[96];
    snprintf(with_path, sizeof(with_path), "%s/base/", endpoint);
    setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:1", 1);
    struct s3_client_options opt = {.endpoint = with_path};
    c = new_client(&opt);
    fake_script(reply_ok);
    assert_int_equal(s3_put(c, "bkt", "k", "v", 1, err, sizeof(err)), 0);
    assert_string_equal(fake_get(0).target, "/base/bkt/k");
    s3_client_destroy(&c);
    setenv("AWS_ENDPOINT_URL_S3", endpoint, 1);

    /* A bad endpoint is refused when the client is made. */
    struct s3_client_options bad = {.endpoint = "ftp://example.com"};
    assert_int_equal(s3_client_create(&bad, &c, err, sizeof(err)), -1);
    assert_null(c);
    assert_non_null(strstr(err, "ftp://example.com"));
}

static void test_uri_split(void **state)
{
    (void)state;
    char bucket[64], err[256];
    const char *key;
    assert_int_equal(s3_uri_split("s3://bkt/a/b/", bucket, sizeof(bucket),
                                  &key, err, sizeof(err)), 0);
    assert_string_equal(bucket, "bkt");
    assert_string_equal(key, "a/b/");
    assert_int_equal(s3_uri_split("s3://bkt", bucket, sizeof(bucket), &key,
                                  err, sizeof(err)), 0);
    assert_string_equal(key, "");
    assert_int_equal(s3_uri_split("s3:///k", bucket, sizeof(bucket), &key,
                                  err, sizeof(err)), -1);
    assert_int_equal(s3_uri_split("s3://b@d/k", bucket, sizeof(bucket), &key,
                                  err, sizeof(err)), -1);
    assert_non_null(strstr(err, "invalid bucket"));
    assert_int_equal(s3_uri_split("gs://bkt/k", bucket, sizeof(bucket), &key,
                                  err, sizeof(err)), -1);
}

/* ---- multipart ------------------------------------------------------------ */

static const char upload_doc[] =
    "<InitiateMultipartUploadResult><UploadId>up-1</UploadId>"
    "</InitiateMultipartUploadResult>";

static void reply_multipart(int n, const struct fake_req *req,
                            struct fake_reply *out)
{
    if (strcmp(req->method, "POST") == 0 && strstr(req->target, "uploads=")) {
        out->body = upload_doc;
        out->body_len = strlen(upload_doc);
    } else if (strcmp(req->method, "PUT") == 0) {
        snprintf(out->headers, sizeof(out->headers), "ETag: \"p%d\"\r\n", n);
    }
}

static void reply_multipart_part_fails(int n, const struct fake_req *req,
                                       struct fake_reply *out)
{
    if (strcmp(req->method, "PUT") == 0 &&
        strstr(req->target, "partNumber=2") != NULL) {
        set_error(out, 403, "AccessDenied");
        return;
    }
    reply_multipart(n, req, out);
}

/* A temporary file of size bytes; its path in path. */
static void make_file(char *path, size_t pathlen, size_t size)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, pathlen, "%s/larder-s3-XXXXXX",
             dir != NULL && dir[0] != '\0' ? dir : P_tmpdir);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    char *buf = calloc(1, size);
    assert_non_null(buf);
    assert_int_equal(write(fd, buf, size), (ssize_t)size);
    free(buf);
    close(fd);
}

static void test_multipart_upload(void **state)
{
    (void)state;
    char err[512], path[256];
    size_t size = (size_t)(11u << 20);
    make_file(path, sizeof(path), size);
    struct s3_client_options opt = {.multipart_threshold = 6u << 20,
                                    .part_size = 5u << 20};
    struct s3_client *c = new_client(&opt);

    fake_script(reply_multipart);
    if (s3_put_file(c, "bkt", "big.seg", path, err, sizeof(err)) != 0) {
        fail_msg("s3_put_file: %s", err);
    }
    /* Create, three parts (5 + 5 + 1 MiB), complete. */
    assert_int_equal(fake_count(), 5);
    assert_string_equal(fake_get(0).method, "POST");
    assert_string_equal(fake_get(0).target, "/bkt/big.seg?uploads=");
    size_t sizes[3] = {5u << 20, 5u << 20, 1u << 20};
    for (int i = 0; i < 3; i++) {
        struct fake_req r = fake_get(1 + i);
        char want[128];
        snprintf(want, sizeof(want),
                 "/bkt/big.seg?partNumber=%d&uploadId=up-1", i + 1);
        assert_string_equal(r.method, "PUT");
        assert_string_equal(r.target, want);
        assert_int_equal(r.body_len, sizes[i]);
        assert_int_equal(strlen(r.sha), SIGV4_HEX_LEN);
    }
    assert_string_equal(fake_get(4).method, "POST");
    assert_string_equal(fake_get(4).target, "/bkt/big.seg?uploadId=up-1");

    /* A part that fails: the upload is aborted. */
    fake_script(reply_multipart_part_fails);
    assert_int_equal(s3_put_file(c, "bkt", "big.seg", path, err,
                                 sizeof(err)), -1);
    assert_int_equal(errno, EACCES);
    int n = fake_count();
    struct fake_req last = fake_get(n - 1);
    assert_string_equal(last.method, "DELETE");
    assert_string_equal(last.target, "/bkt/big.seg?uploadId=up-1");

    /* Below the threshold: one PUT. */
    fake_script(reply_ok);
    assert_int_equal(truncate(path, 1000), 0);
    assert_int_equal(s3_put_file(c, "bkt", "small.seg", path, err,
                                 sizeof(err)), 0);
    assert_int_equal(fake_count(), 1);
    assert_string_equal(fake_get(0).target, "/bkt/small.seg");
    assert_int_equal(fake_get(0).body_len, 1000);

    s3_client_destroy(&c);
    unlink(path);
}

/* ---- the s3:// input backend ---------------------------------------------- */

static void reply_source(int n, const struct fake_req *req,
                         struct fake_reply *out)
{
    (void)n;
    static const char listing[] =
        "<ListBucketResult><IsTruncated>false</IsTruncated>"
        "<Contents><Key>in/</Key><Size>0</Size></Contents>"
        "<Contents><Key>in/b.jsonl</Key><Size>7</Size></Contents>"
        "<Contents><Key>in/a.jsonl</Key><Size>5</Size></Contents>"
        "<CommonPrefixes><Prefix>in/sub/</Prefix></CommonPrefixes>"
        "</ListBucketResult>";
    static const char empty[] =
        "<ListBucketResult><IsTruncated>false</IsTruncated>"
        "</ListBucketResult>";
    if (strcmp(req->method, "HEAD") == 0) {
        if (strcmp(req->target, "/bkt/in/a.jsonl") == 0) {
            out->content_length = 5;
        } else {
            set_error(out, 404, "NoSuchKey");
        }
    } else if (strstr(req->target, "list-type=2") != NULL) {
        out->body = strstr(req->target, "prefix=in%2F") ? listing : empty;
        out->body_len = strlen(out->body);
    } else if (strcmp(req->target, "/bkt/in/a.jsonl") == 0) {
        out->body = "hello";
        out->body_len = 5;
    } else {
        set_error(out, 404, "NoSuchKey");
    }
}

static void test_object_source(void **state)
{
    (void)state;
    char err[512];
    struct object_list l;
    bool is_object = true;
    fake_script(reply_source);
    if (object_source_list("s3://bkt/in", &l, &is_object, err,
                           sizeof(err)) != 0) {
        fail_msg("list: %s", err);
    }
    assert_false(is_object);
    assert_int_equal(l.n, 2);
    assert_string_equal(l.entries[0].uri, "s3://bkt/in/a.jsonl");
    assert_string_equal(l.entries[0].name, "a.jsonl");
    assert_int_equal(l.entries[0].size, 5);
    assert_string_equal(l.entries[1].name, "b.jsonl");
    object_list_free(&l);
    /* A HEAD that missed, then the listing of "in/" with "/". */
    assert_string_equal(fake_get(0).method, "HEAD");
    assert_string_equal(fake_get(1).target,
                        "/bkt?delimiter=%2F&list-type=2&prefix=in%2F");

    assert_int_equal(object_source_list("s3://bkt/in/a.jsonl", &l, &is_object,
                                        err, sizeof(err)), 0);
    assert_true(is_object);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.entries[0].size, 5);
    object_list_free(&l);

    assert_int_equal(object_source_list("s3://bkt/nothing/", &l, &is_object,
                                        err, sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "s3://bkt/nothing/"));

    struct object_reader *r;
    assert_int_equal(object_reader_open("s3://bkt/in/a.jsonl", &r, err,
                                        sizeof(err)), 0);
    char buf[16];
    size_t got = 0;
    ssize_t n;
    while ((n = object_reader_read(r, buf + got, sizeof(buf) - got, err,
                                   sizeof(err))) > 0) {
        got += (size_t)n;
    }
    assert_int_equal(n, 0);
    assert_int_equal(got, 5);
    assert_memory_equal(buf, "hello", 5);
    object_reader_close(&r);

    assert_int_equal(object_reader_open("s3://bkt/in/zzz", &r, err,
                                        sizeof(err)), -1);
    assert_int_equal(errno, ENOENT);
    assert_non_null(strstr(err, "s3://bkt/in/zzz"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_get_resumes_after_reset),
        cmocka_unit_test(test_get_fails_when_object_changes),
        cmocka_unit_test(test_404_and_403_not_retried),
        cmocka_unit_test(test_transient_errors_retried),
        cmocka_unit_test(test_list_follows_pages),
        cmocka_unit_test(test_endpoint_selection),
        cmocka_unit_test(test_uri_split),
        cmocka_unit_test(test_multipart_upload),
        cmocka_unit_test(test_object_source),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
