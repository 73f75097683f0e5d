/*
 * http_client.h: one HTTP exchange over libcurl, for the remote stores and
 * sources larder talks to (S3, WebHDFS, the AWS credential endpoints).
 *
 * It does I/O only: it neither signs requests (sigv4.h does) nor parses
 * bodies. One attempt per call; callers loop with the retry helpers at the
 * end of this file, because a retry must often be re-signed or resumed
 * (a ranged GET from the last byte received), which only the caller knows.
 *
 * Two shapes of exchange:
 *   http_exchange()  a whole request: the response body is kept in memory
 *                    (capped) or pushed to a sink callback;
 *   http_stream_*()  a GET read pull-style, for readers that consume a
 *                    remote object as they would a file (curl's multi
 *                    interface underneath, paused while the caller's buffer
 *                    is full; no thread).
 *
 * Thread safety: http_global_init() once per process before any other
 * call (it is idempotent and thread-safe through pthread_once); after it,
 * any number of threads may run exchanges, each with its own objects.
 */
#ifndef LARDER_HTTP_CLIENT_H
#define LARDER_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Initialises libcurl once per process; 0 or -1. */
int http_global_init(void);

struct http_request {
    const char *method;         /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *url;            /* absolute, already percent-encoded */
    const char *const *headers; /* "Name: value" lines, NULL-terminated;
                                   NULL for none */
    /* The body: from memory (body != NULL) or a file range
     * (body_fd >= 0; the fd is borrowed). Neither: no body. A PUT with a
     * body is sent as an upload with a Content-Length, never chunked. */
    const void *body;
    size_t body_len;
    int body_fd; /* -1 when unused: set it, 0 is a valid fd */
    uint64_t body_offset;
    uint64_t body_length;
    long timeout_ms;         /* the whole exchange; 0: no limit */
    long connect_timeout_ms; /* 0: 10 s */
    long stall_timeout_ms;   /* fail when no byte moved for this long;
                                0: 30 s, or LARDER_HTTP_STALL_MS */
    bool follow_redirects;   /* follow 3xx Location (WebHDFS OPEN) */
    bool negotiate;          /* SPNEGO (Kerberos) authentication through
                                libcurl's GSS-API, with the ticket of the
                                credential cache (kinit) */
    /* Response body: streamed to sink when set (return 0 to go on, -1 to
     * abort the exchange), else kept in the response, at most max_body
     * bytes (0: 1 MiB); a longer body fails the exchange. With a sink,
     * only a 2xx body goes to it: another status's body (an error
     * document) is kept in the response instead, its first 64 KiB. */
    int (*sink)(void *arg, const void *data, size_t len);
    void *sink_arg;
    size_t max_body;
};

/* What became of an exchange. */
enum http_outcome {
    HTTP_DONE = 0, /* a response came back: see status (any status) */
    HTTP_NETWORK,  /* connect, reset, timeout, stall: worth a retry */
    HTTP_ABORTED,  /* the sink returned -1 */
    HTTP_FAILED,   /* cannot be retried: a bad URL, out of memory... */
};

struct http_response {
    long status;         /* e.g. 200, 404; 0 when none came back */
    char *body;          /* malloc'd, NUL-terminated; NULL with a sink */
    size_t body_len;
    uint64_t content_length; /* from the header; UINT64_MAX if absent */
    char etag[256];          /* "" if absent (quotes kept) */
    char location[2048];     /* "" if absent */
    char retry_after[32];    /* "" if absent */
    char effective_url[2048]; /* after redirects */
};

/* Initialises a request with the defaults above (body_fd = -1). */
void http_request_init(struct http_request *req, const char *method,
                       const char *url);

/*
 * Runs one exchange. Returns its outcome; err gets a message for anything
 * but HTTP_DONE (a status of 4xx or 5xx is HTTP_DONE: the caller decides
 * what it means). The caller frees the response with http_response_free()
 * whatever the outcome.
 */
enum http_outcome http_exchange(const struct http_request *req,
                                struct http_response *resp, char *err,
                                size_t errlen);

void http_response_free(struct http_response *resp);

/* ---- pull-style GET ----------------------------------------------------- */

struct http_stream;

/*
 * Starts a GET (req->sink and max_body are ignored) and waits for the
 * status line and headers. HTTP_DONE with *out set when a response came
 * back: resp->status tells whether it is the object (2xx) or an error, in
 * which case the error body (up to 64 KiB) is in resp->body and the stream
 * is already finished (close it). Other outcomes leave *out NULL.
 */
enum http_outcome http_stream_open(const struct http_request *req,
                                   struct http_stream **out,
                                   struct http_response *resp, char *err,
                                   size_t errlen);

/*
 * Reads up to len bytes of the body: > 0 bytes read, 0 at its end (all of
 * Content-Length received), -1 on failure with err (errno EIO for a
 * network failure or a body shorter than its Content-Length: the caller
 * may resume with a ranged GET from the bytes it has; ENOMEM).
 */
ssize_t http_stream_read(struct http_stream *s, void *buf, size_t len,
                         char *err, size_t errlen);

/* Aborts or finishes the exchange and frees it; sets *s to NULL. */
void http_stream_close(struct http_stream **s);

/* ---- retries -------------------------------------------------------------- */

struct http_retry {
    unsigned max_attempts; /* including the first; 0 means 1 */
    unsigned base_ms;      /* first backoff ceiling */
    unsigned max_ms;       /* cap of any one backoff */
};

/* Default: 5 attempts, 100 ms base, 5 s cap. The environment overrides
 * them, so tests can shorten them: LARDER_HTTP_RETRY_ATTEMPTS,
 * LARDER_HTTP_RETRY_BASE_MS, LARDER_HTTP_RETRY_MAX_MS (decimal). */
void http_retry_default(struct http_retry *r);

/* True for statuses worth retrying: 500-599, 429 and 408. */
bool http_status_retryable(long status);

/*
 * The pause before attempt number `attempt` (1 = the first retry):
 * exponential backoff with full jitter, uniform in
 * [0, min(max_ms, base_ms * 2^(attempt-1))], drawn from *seed (a caller's
 * xorshift state, any nonzero value). A Retry-After of n seconds from the
 * server raises the pause to n s, within max_ms.
 */
unsigned http_backoff_ms(const struct http_retry *r, unsigned attempt,
                         const char *retry_after, uint64_t *seed);

/* Sleeps ms milliseconds (restarting after signals). */
void http_sleep_ms(unsigned ms);

#endif
