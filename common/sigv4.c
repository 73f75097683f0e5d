/*
 * This file implements sigv4.h: AWS Signature Version 4 with the
 * Authorization header, the four steps AWS documents, on OpenSSL's SHA-256
 * and HMAC. Strings are built in buf (common/buf.h), whose failure flag is
 * checked once per string.
 */
#include "sigv4.h"

#include "buf.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"
#define SIGV4_TERMINATOR "aws4_request"
#define SIGV4_DATE_LEN 8 /* "YYYYMMDD" */
#define SIGV4_MAX_HEADERS 32
#define SIGV4_SHA256_LEN 32

/* One header of the canonical list: a lower-case name, a trimmed value. */
struct sigv4_canon_header {
    char *name;
    char *value;
};

static void sigv4_hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

void sigv4_sha256_hex(const void *data, size_t len,
                      char out[SIGV4_HEX_LEN + 1])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    EVP_Digest(data, len, md, &mdlen, EVP_sha256(), NULL);
    sigv4_hex(md, mdlen, out);
}

static void sigv4_hmac(const void *key, size_t keylen, const char *msg,
                       unsigned char out[SIGV4_SHA256_LEN])
{
    unsigned int outlen = SIGV4_SHA256_LEN;
    HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)msg,
         strlen(msg), out, &outlen);
}

void sigv4_amz_date(time_t t, char out[SIGV4_AMZ_DATE_LEN + 1])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

static bool sigv4_unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

size_t sigv4_uri_encode(const char *in, size_t n, bool keep_slash, char *out,
                        size_t outlen)
{
    static const char digits[] = "0123456789ABCDEF";
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)in[i];
        if (sigv4_unreserved(c) || (keep_slash && c == '/')) {
            if (o + 1 >= outlen) {
                return (size_t)-1;
            }
            out[o++] = (char)c;
        } else {
            if (o + 3 >= outlen) {
                return (size_t)-1;
            }
            out[o++] = '%';
            out[o++] = digits[c >> 4];
            out[o++] = digits[c & 15];
        }
    }
    if (o >= outlen) {
        return (size_t)-1;
    }
    out[o] = '\0';
    return o;
}

/* Appends the encoding of s (keeping nothing but unreserved bytes). */
static void sigv4_append_encoded(struct buf *b, const char *s)
{
    size_t n = strlen(s);
    if (!buf_reserve(b, 3 * n + 1)) {
        return;
    }
    size_t k = sigv4_uri_encode(s, n, false, b->data + b->len, b->cap - b->len);
    b->len += k;
}

struct sigv4_encoded_param {
    char *name;
    char *value;
};

static int sigv4_param_cmp(const void *pa, const void *pb)
{
    const struct sigv4_encoded_param *a = pa;
    const struct sigv4_encoded_param *b = pb;
    int c = strcmp(a->name, b->name);
    return c != 0 ? c : strcmp(a->value, b->value);
}

/* The encoding of s, malloc'd. */
static char *sigv4_encode_dup(const char *s)
{
    struct buf b = {0};
    sigv4_append_encoded(&b, s);
    buf_append(&b, "", 1);
    if (buf_failed(&b)) {
        buf_deinit(&b);
        return NULL;
    }
    return b.data;
}

char *sigv4_canonical_query(const struct sigv4_pair *params, size_t n)
{
    struct sigv4_encoded_param *enc = calloc(n + 1, sizeof(*enc));
    if (enc == NULL) {
        return NULL;
    }
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        enc[i].name = sigv4_encode_dup(params[i].name);
        enc[i].value = sigv4_encode_dup(
            params[i].value != NULL ? params[i].value : "");
        ok = enc[i].name != NULL && enc[i].value != NULL;
    }
    struct buf b = {0};
    if (ok) {
        qsort(enc, n, sizeof(*enc), sigv4_param_cmp);
        for (size_t i = 0; i < n; i++) {
            if (i > 0) {
                buf_append(&b, "&", 1);
            }
            if (enc[i].name[0] != '\0') { /* buf_append wants a buffer */
                buf_append_str(&b, enc[i].name);
            }
            buf_append(&b, "=", 1);
            buf_append_str(&b, enc[i].value);
        }
        buf_append(&b, "", 1);
    }
    for (size_t i = 0; i < n; i++) {
        free(enc[i].name);
        free(enc[i].value);
    }
    free(enc);
    if (!ok || buf_failed(&b)) {
        buf_deinit(&b);
        return NULL;
    }
    return b.data;
}

/*
 * The canonical form of one header: the name lower-cased, the value with
 * leading and trailing blanks dropped and inner runs of blanks made one
 * space. NULL (errno EINVAL) for a control character or a non-ASCII byte.
 */
static int sigv4_canon_one(const char *name, const char *value,
                           struct sigv4_canon_header *out)
{
    size_t nl = strlen(name);
    size_t vl = strlen(value);
    out->name = malloc(nl + 1);
    out->value = malloc(vl + 1);
    if (out->name == NULL || out->value == NULL) {
        errno = ENOMEM;
        return -1;
    }
    if (nl == 0) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < nl; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c <= ' ' || c >= 0x7f || c == ':') {
            errno = EINVAL;
            return -1;
        }
        out->name[i] = (char)tolower(c);
    }
    out->name[nl] = '\0';
    size_t o = 0;
    bool blank = false;
    for (size_t i = 0; i < vl; i++) {
        unsigned char c = (unsigned char)value[i];
        if (c == ' ' || c == '\t') {
            blank = o > 0;
            continue;
        }
        if (c < ' ' || c >= 0x7f) {
            errno = EINVAL;
            return -1;
        }
        if (blank) {
            out->value[o++] = ' ';
            blank = false;
        }
        out->value[o++] = (char)c;
    }
    out->value[o] = '\0';
    return 0;
}

static int sigv4_canon_cmp(const void *pa, const void *pb)
{
    const struct sigv4_canon_header *a = pa;
    const struct sigv4_canon_header *b = pb;
    return strcmp(a->name, b->name);
}

struct sigv4_canon_headers {
    struct sigv4_canon_header h[SIGV4_MAX_HEADERS];
    size_t n;
};

static void sigv4_canon_free(struct sigv4_canon_headers *ch)
{
    for (size_t i = 0; i < ch->n; i++) {
        free(ch->h[i].name);
        free(ch->h[i].value);
    }
    ch->n = 0;
}

/* Collects, canonicalises and sorts the signed headers of r. */
static int sigv4_canon_headers(const struct sigv4_request *r,
                               struct sigv4_canon_headers *ch)
{
    struct sigv4_pair fixed[4] = {
        {"host", r->host},
        {"x-amz-content-sha256", r->payload_hash},
        {"x-amz-date", r->amz_date},
        {"x-amz-security-token", r->session_token},
    };
    size_t nfixed = r->session_token != NULL && r->session_token[0] != '\0'
                        ? 4 : 3;
    ch->n = 0;
    if (nfixed + r->n_headers > SIGV4_MAX_HEADERS) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < nfixed + r->n_headers; i++) {
        const struct sigv4_pair *p =
            i < nfixed ? &fixed[i] : &r->headers[i - nfixed];
        ch->n++;
        if (p->name == NULL || p->value == NULL ||
            sigv4_canon_one(p->name, p->value, &ch->h[i]) != 0) {
            if (p->name == NULL || p->value == NULL) {
                errno = EINVAL;
            }
            sigv4_canon_free(ch);
            return -1;
        }
    }
    qsort(ch->h, ch->n, sizeof(ch->h[0]), sigv4_canon_cmp);
    for (size_t i = 1; i < ch->n; i++) {
        if (strcmp(ch->h[i - 1].name, ch->h[i].name) == 0) {
            sigv4_canon_free(ch);
            errno = EINVAL;
            return -1;
        }
    }
    return 0;
}

static void sigv4_append_signed_list(struct buf *b,
                                     const struct sigv4_canon_headers *ch)
{
    for (size_t i = 0; i < ch->n; i++) {
        if (i > 0) {
            buf_append(b, ";", 1);
        }
        buf_append_str(b, ch->h[i].name);
    }
}

/* Finishes b as a malloc'd string, or frees it and returns NULL. */
static char *sigv4_finish(struct buf *b)
{
    buf_append(b, "", 1);
    if (buf_failed(b)) {
        buf_deinit(b);
        errno = ENOMEM;
        return NULL;
    }
    return b->data;
}

/* Dates and regions are checked: a malformed one must fail, not sign. */
static bool sigv4_fields_valid(const struct sigv4_request *r)
{
    if (r->amz_date == NULL || strlen(r->amz_date) != SIGV4_AMZ_DATE_LEN ||
        r->region == NULL || r->region[0] == '\0' || r->service == NULL ||
        r->service[0] == '\0' || r->payload_hash == NULL ||
        r->method == NULL || r->path == NULL || r->path[0] != '/' ||
        r->access_key_id == NULL || r->secret_access_key == NULL) {
        errno = EINVAL;
        return false;
    }
    return true;
}

char *sigv4_canonical_request(const struct sigv4_request *r)
{
    struct sigv4_canon_headers ch;
    if (!sigv4_fields_valid(r) || sigv4_canon_headers(r, &ch) != 0) {
        return NULL;
    }
    struct buf b = {0};
    buf_printf(&b, "%s\n%s\n%s\n", r->method, r->path,
               r->query != NULL ? r->query : "");
    for (size_t i = 0; i < ch.n; i++) {
        buf_printf(&b, "%s:%s\n", ch.h[i].name, ch.h[i].value);
    }
    buf_append(&b, "\n", 1);
    sigv4_append_signed_list(&b, &ch);
    buf_printf(&b, "\n%s", r->payload_hash);
    sigv4_canon_free(&ch);
    return sigv4_finish(&b);
}

/* The credential scope: "20130524/us-east-1/s3/aws4_request". */
static void sigv4_append_scope(struct buf *b, const struct sigv4_request *r)
{
    buf_append(b, r->amz_date, SIGV4_DATE_LEN);
    buf_printf(b, "/%s/%s/%s", r->region, r->service, SIGV4_TERMINATOR);
}

char *sigv4_string_to_sign(const struct sigv4_request *r)
{
    if (!sigv4_fields_valid(r)) {
        return NULL;
    }
    char *creq = sigv4_canonical_request(r);
    if (creq == NULL) {
        return NULL;
    }
    char hash[SIGV4_HEX_LEN + 1];
    sigv4_sha256_hex(creq, strlen(creq), hash);
    free(creq);
    struct buf b = {0};
    buf_printf(&b, "%s\n%s\n", SIGV4_ALGORITHM, r->amz_date);
    sigv4_append_scope(&b, r);
    buf_printf(&b, "\n%s", hash);
    return sigv4_finish(&b);
}

int sigv4_signature(const struct sigv4_request *r,
                    char out[SIGV4_HEX_LEN + 1])
{
    char *sts = sigv4_string_to_sign(r);
    if (sts == NULL) {
        return -1;
    }
    struct buf secret = {0};
    buf_printf(&secret, "AWS4%s", r->secret_access_key);
    if (buf_failed(&secret)) {
        free(sts);
        buf_deinit(&secret);
        errno = ENOMEM;
        return -1;
    }
    char date[SIGV4_DATE_LEN + 1];
    memcpy(date, r->amz_date, SIGV4_DATE_LEN);
    date[SIGV4_DATE_LEN] = '\0';
    unsigned char k1[SIGV4_SHA256_LEN];
    unsigned char k2[SIGV4_SHA256_LEN];
    sigv4_hmac(secret.data, secret.len, date, k1);
    sigv4_hmac(k1, sizeof(k1), r->region, k2);
    sigv4_hmac(k2, sizeof(k2), r->service, k1);
    sigv4_hmac(k1, sizeof(k1), SIGV4_TERMINATOR, k2);
    sigv4_hmac(k2, sizeof(k2), sts, k1);
    sigv4_hex(k1, sizeof(k1), out);
    /* The secret and the keys derived from it do not outlive the call. */
    memset(secret.data, 0, secret.len);
    memset(k2, 0, sizeof(k2));
    buf_deinit(&secret);
    free(sts);
    return 0;
}

int sigv4_authorization(const struct sigv4_request *r, char *out,
                        size_t outlen)
{
    char sig[SIGV4_HEX_LEN + 1];
    struct sigv4_canon_headers ch;
    if (sigv4_signature(r, sig) != 0 || sigv4_canon_headers(r, &ch) != 0) {
        return -1;
    }
    struct buf b = {0};
    buf_printf(&b, "%s Credential=%s/", SIGV4_ALGORITHM, r->access_key_id);
    sigv4_append_scope(&b, r);
    buf_append_str(&b, ",SignedHeaders=");
    sigv4_append_signed_list(&b, &ch);
    buf_printf(&b, ",Signature=%s", sig);
    sigv4_canon_free(&ch);
    char *s = sigv4_finish(&b);
    if (s == NULL) {
        return -1;
    }
    int rc = 0;
    if ((size_t)snprintf(out, outlen, "%s", s) >= outlen) {
        errno = ENOSPC;
        rc = -1;
    }
    free(s);
    return rc;
}
