/*
 * s3_client.h: the S3 operations larder needs, over http_client.h, signed
 * with sigv4.h, with credentials and region from aws_credentials.h:
 * ListObjectsV2 (every page), HEAD, GET (whole, or pull-style with ranged
 * resume), PUT from memory, PUT of a file (multipart when large) and
 * DELETE.
 *
 * Endpoint: the caller's, else AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL,
 * else https://s3.<region>.amazonaws.com. Addressing: virtual-host style
 * (bucket.host/key) on AWS's own endpoint for DNS-compatible bucket names;
 * path style (host/bucket/key) for a custom endpoint, for bucket names with
 * dots or other characters a host name cannot carry, and whenever the
 * caller or LARDER_S3_PATH_STYLE=1 asks for it (=0 forces virtual-host
 * style, even on a custom endpoint).
 *
 * Retries (http_client.h's policy, LARDER_HTTP_RETRY_*): network failures,
 * 5xx (503 SlowDown included), 429, 408 and S3's 400 RequestTimeout are
 * retried with exponential backoff and full jitter, each attempt signed
 * anew. Anything else fails at once: 404 and 403 are never retried.
 *
 * Errors: -1 with a message naming the object ("s3://bucket/key"), S3's
 * error Code and Message when it sent them, and errno: ENOENT (no such
 * object or bucket), EACCES (403 or 401, wrong credentials: the message
 * says InvalidAccessKeyId or SignatureDoesNotMatch when S3 does), EIO
 * (the store kept failing past the retries, or an object changed while
 * read), EINVAL (a bad URI or argument), ENOMEM.
 *
 * Thread safety: a client may be shared by threads; each call and each
 * reader is independent. Credentials that expire are resolved again
 * before they do, under a lock.
 */
#ifndef LARDER_S3_CLIENT_H
#define LARDER_S3_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "s3_xml.h"

/* Multipart uploads: files of at least the threshold go up in parts. */
#define S3_MULTIPART_THRESHOLD ((uint64_t)64 << 20)
#define S3_PART_SIZE ((uint64_t)16 << 20)
#define S3_MIN_PART_SIZE ((uint64_t)5 << 20) /* S3's floor but the last */
#define S3_MAX_PARTS 10000u

/* Addressing style; S3_ADDRESSING_AUTO applies the rules above. */
enum s3_addressing {
    S3_ADDRESSING_AUTO = 0,
    S3_ADDRESSING_PATH,
    S3_ADDRESSING_VIRTUAL,
};

struct s3_client_options {
    const char *endpoint; /* "https://host[:port]"; NULL: the environment */
    const char *region;   /* NULL: the credentials chain's region */
    const char *profile;  /* NULL: AWS_PROFILE, else "default" */
    enum s3_addressing addressing; /* AUTO lets LARDER_S3_PATH_STYLE decide */
    uint64_t multipart_threshold;  /* 0: S3_MULTIPART_THRESHOLD */
    uint64_t part_size;            /* 0: S3_PART_SIZE (at least 5 MiB) */
};

struct s3_client;

/*
 * Resolves credentials and the endpoint. opt may be NULL (all defaults).
 * 0, or -1 with err (no credentials, a bad endpoint URL).
 */
int s3_client_create(const struct s3_client_options *opt,
                     struct s3_client **out, char *err, size_t errlen);

void s3_client_destroy(struct s3_client **c);

/*
 * Splits "s3://bucket/key" (the key may be empty or end in '/'): copies
 * the bucket into bucket and points *key into uri. 0, or -1 with err for a
 * URI that is not s3:// or has an invalid bucket name.
 */
int s3_uri_split(const char *uri, char *bucket, size_t bucket_len,
                 const char **key, char *err, size_t errlen);

struct s3_object_info {
    uint64_t size;
    char etag[256]; /* quotes kept */
};

/* HEAD: the object's size and ETag. */
int s3_head(struct s3_client *c, const char *bucket, const char *key,
            struct s3_object_info *info, char *err, size_t errlen);

/*
 * ListObjectsV2 of prefix, every page (continuation tokens), into *out
 * (zeroed first; the caller frees it with s3_list_free). With a delimiter
 * ("/"), keys below it come back as common prefixes. An empty result is 0
 * with nothing in *out: the caller decides whether that is an error.
 */
int s3_list_objects(struct s3_client *c, const char *bucket,
                    const char *prefix, const char *delimiter,
                    struct s3_list *out, char *err, size_t errlen);

/* PUT of len bytes from memory (one request, SHA-256 signed body). */
int s3_put(struct s3_client *c, const char *bucket, const char *key,
           const void *data, size_t len, char *err, size_t errlen);

/*
 * PUT of a local file: one request below the multipart threshold, else a
 * multipart upload (parts retried one by one; on failure the upload is
 * aborted, so no parts are left behind to pay for).
 */
int s3_put_file(struct s3_client *c, const char *bucket, const char *key,
                const char *path, char *err, size_t errlen);

/* DELETE (a missing object is not an error: S3 says 204 either way). */
int s3_delete(struct s3_client *c, const char *bucket, const char *key,
              char *err, size_t errlen);

/* ---- reading an object -------------------------------------------------- */

struct s3_reader;

/*
 * Starts a GET of the whole object. A read that breaks (a reset, a stall,
 * a body cut short) is resumed from the next byte with a Range request
 * carrying If-Match on the ETag of the first response; an object replaced
 * meanwhile fails with EIO instead of mixing two versions.
 */
int s3_reader_open(struct s3_client *c, const char *bucket, const char *key,
                   struct s3_reader **out, char *err, size_t errlen);

/* As read(2): > 0, 0 at the end (every byte of the object), -1 with err. */
ssize_t s3_reader_read(struct s3_reader *r, void *buf, size_t len, char *err,
                       size_t errlen);

/* Size and ETag from the first response. */
const struct s3_object_info *s3_reader_info(const struct s3_reader *r);

/* Bytes returned so far; resumed reads so far. */
uint64_t s3_reader_offset(const struct s3_reader *r);
unsigned s3_reader_resumes(const struct s3_reader *r);

void s3_reader_close(struct s3_reader **r);

/*
 * Reads a whole object of at most max_len bytes into a malloc'd buffer
 * (NUL after its *len bytes) the caller frees.
 */
int s3_get_bytes(struct s3_client *c, const char *bucket, const char *key,
                 size_t max_len, char **data, size_t *len, char *err,
                 size_t errlen);

#endif
