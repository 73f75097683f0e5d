/*
 * sigv4.h: AWS Signature Version 4 for requests larder sends to S3 with an
 * Authorization header. Pure: strings in, strings out, no clock, no I/O
 * (the caller passes the time as an x-amz-date stamp), so every step is
 * unit-tested against AWS's published examples.
 *
 * The steps, each exposed for tests:
 *   canonical request  method, encoded path, canonical query string,
 *                      canonical headers, signed header list, payload hash;
 *   string to sign     "AWS4-HMAC-SHA256", date, scope, hash of the above;
 *   signing key        HMAC chain over date, region, service, "aws4_request";
 *   Authorization      "AWS4-HMAC-SHA256 Credential=…,SignedHeaders=…,
 *                      Signature=…".
 *
 * The signed headers are always host, x-amz-content-sha256, x-amz-date and,
 * with a session token, x-amz-security-token, plus whatever extra headers
 * the caller lists (Range, Date, x-amz-storage-class...). The caller sends
 * the same headers with the same values; sigv4_request documents which.
 *
 * The query string is signed exactly as the URL carries it, so a caller
 * builds it with sigv4_canonical_query(), which sorts and encodes, and puts
 * the result in the URL unchanged.
 */
#ifndef LARDER_SIGV4_H
#define LARDER_SIGV4_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* x-amz-content-sha256 for a body that is not hashed (GETs, streams). */
#define SIGV4_UNSIGNED_PAYLOAD "UNSIGNED-PAYLOAD"
/* SHA-256 of no bytes, for requests without a body. */
#define SIGV4_EMPTY_SHA256 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

#define SIGV4_HEX_LEN 64       /* a SHA-256 in hex, without the NUL */
#define SIGV4_AMZ_DATE_LEN 16  /* "YYYYMMDDTHHMMSSZ", without the NUL */

/* One header or query parameter: a name and a value (both borrowed). */
struct sigv4_pair {
    const char *name;
    const char *value;
};

struct sigv4_request {
    const char *method;       /* "GET", "PUT"... */
    const char *host;         /* the Host header as sent: "b.s3.amazonaws.com",
                                 "127.0.0.1:9000" (port when not default) */
    const char *path;         /* URI-encoded absolute path, "/" at least
                                 (sigv4_uri_encode with keep_slash) */
    const char *query;        /* canonical query string (sorted, encoded),
                                 "" or NULL for none */
    const struct sigv4_pair *headers; /* extra headers to sign, any case,
                                         no duplicates; may be NULL */
    size_t n_headers;
    const char *payload_hash; /* lower-case hex SHA-256 of the body, or
                                 SIGV4_UNSIGNED_PAYLOAD; sent as
                                 x-amz-content-sha256 */
    const char *amz_date;     /* "20130524T000000Z"; sent as x-amz-date */
    const char *region;       /* "us-east-1" */
    const char *service;      /* "s3" */
    const char *access_key_id;
    const char *secret_access_key;
    const char *session_token; /* NULL or "" for none; else sent as
                                  x-amz-security-token */
};

/*
 * The canonical request, malloc'd (the caller frees it); NULL when out of
 * memory or when a header name or value is not printable ASCII (errno
 * EINVAL), which would make the signature ambiguous.
 */
char *sigv4_canonical_request(const struct sigv4_request *r);

/* The string to sign, malloc'd; NULL as above. */
char *sigv4_string_to_sign(const struct sigv4_request *r);

/*
 * The signature in lower-case hex (SIGV4_HEX_LEN + 1 bytes); 0, or -1
 * as above.
 */
int sigv4_signature(const struct sigv4_request *r,
                    char out[SIGV4_HEX_LEN + 1]);

/*
 * The whole Authorization header value into out. Returns 0, or -1 when it
 * does not fit (ENOSPC) or as above.
 */
int sigv4_authorization(const struct sigv4_request *r, char *out,
                        size_t outlen);

/* The lower-case hex SHA-256 of len bytes. */
void sigv4_sha256_hex(const void *data, size_t len,
                      char out[SIGV4_HEX_LEN + 1]);

/* Formats t (UTC) as an x-amz-date stamp. */
void sigv4_amz_date(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1]);

/*
 * Percent-encodes in[0..n) as SigV4 wants: every byte but A-Z a-z 0-9
 * '-' '.' '_' '~' becomes %XX (upper-case hex); '/' is kept when
 * keep_slash (object key paths) and encoded otherwise (query values).
 * Writes a NUL-terminated string; returns its length, or (size_t)-1 when
 * it does not fit in outlen.
 */
size_t sigv4_uri_encode(const char *in, size_t n, bool keep_slash, char *out,
                        size_t outlen);

/*
 * The canonical query string of n parameters (names and values raw, not
 * yet encoded; a NULL value is an empty one): each encoded, sorted by
 * encoded name then value, joined as "a=1&b=&c=3". Malloc'd; NULL when
 * out of memory. The same string goes in the URL after '?'.
 */
char *sigv4_canonical_query(const struct sigv4_pair *params, size_t n);

#endif
