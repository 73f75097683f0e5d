/*
 * s3_xml.h: the XML documents larder reads from S3, parsed with expat.
 * Pure: bytes in, structures out, no I/O (s3_client.c does the requests).
 *
 *   ListObjectsV2 result   objects (key, size, ETag), common prefixes, the
 *                          truncation flag and the continuation token;
 *   error document         <Error><Code/><Message/></Error>, which S3 sends
 *                          with 4xx/5xx and sometimes with a 200 (a failed
 *                          CompleteMultipartUpload);
 *   multipart upload       the UploadId of InitiateMultipartUpload.
 *
 * Limits (S3_XML_MAX_*) bound what a hostile or broken server can make a
 * parser allocate; past them a document is refused.
 */
#ifndef LARDER_S3_XML_H
#define LARDER_S3_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define S3_XML_MAX_TEXT ((size_t)16 << 10) /* one element's text */
#define S3_XML_MAX_ENTRIES 100000u         /* objects + prefixes a page */

struct s3_object {
    char *key;  /* malloc'd */
    uint64_t size;
    char *etag; /* malloc'd, quotes kept; "" if absent */
};

/* One page of ListObjectsV2, or several appended (s3_list_append). */
struct s3_list {
    struct s3_object *objects;
    size_t n_objects;
    char **prefixes; /* CommonPrefixes, malloc'd strings */
    size_t n_prefixes;
    bool truncated;
    char *next_token; /* NextContinuationToken; NULL if none */
};

/*
 * Parses a ListObjectsV2 result into *out (zeroed first). Returns 0, or -1
 * with err for malformed XML, another document, a missing Key or Size, a
 * bad Size or a limit passed (out is then empty).
 */
int s3_xml_parse_list(const char *xml, size_t len, struct s3_list *out,
                      char *err, size_t errlen);

/* Moves every object and prefix of page to the end of all. 0 or -1. */
int s3_list_append(struct s3_list *all, struct s3_list *page);

void s3_list_free(struct s3_list *l);

struct s3_error_doc {
    char code[64];     /* "NoSuchKey", "SlowDown"... */
    char message[512]; /* truncated if longer */
};

/*
 * Parses an S3 error document. Returns 0 when the document is an <Error>
 * with a Code, -1 otherwise (not XML, another document, no Code); out is
 * zeroed either way first.
 */
int s3_xml_parse_error(const char *xml, size_t len, struct s3_error_doc *out);

/*
 * The UploadId of an InitiateMultipartUploadResult into out. 0, or -1 when
 * absent, malformed or longer than outlen - 1.
 */
int s3_xml_parse_upload_id(const char *xml, size_t len, char *out,
                           size_t outlen);

#endif
