/*
 * This file implements the fuzz target of AWS Signature Version 4
 * (common/sigv4.c). An input is lines:
 *   METHOD \n PATH \n REGION \n SERVICE \n SESSION-TOKEN \n QUERY \n
 *   HEADER-NAME:VALUE \n ...   (at most 40 header lines)
 * The raw path goes through sigv4_uri_encode (keep_slash) into a heap
 * buffer of 1 + (first byte of the input) bytes; the query "a=1&b" is split
 * into parameters for sigv4_canonical_query. The keys and the date are
 * fixed.
 *
 * Checked: an encoding uses only unreserved bytes, '/' and %XX, decodes to
 * its input, and fails only when the buffer is too small; the canonical
 * query is sorted and does not depend on the parameters' order; every
 * step refuses the same requests (header names must be printable ASCII
 * without ':', values printable ASCII or tab, no duplicate names) and
 * signing twice gives the same canonical request, string to sign,
 * signature and Authorization; a header value whose blank runs are
 * widened signs the same; an Authorization that does not fit is ENOSPC.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "sigv4.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum { MAX_HEADERS = 40, MAX_PARAMS = 64 };

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' ||
           c == '~';
}

static int hexval(char c)
{
    return c >= '0' && c <= '9' ? c - '0'
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Decodes a SigV4 encoding, checking its form; returns the length. */
static size_t decode(const char *enc, bool keep_slash, char *out)
{
    size_t o = 0;
    for (size_t i = 0; enc[i] != '\0'; i++) {
        unsigned char c = (unsigned char)enc[i];
        if (c == '%') {
            int hi = hexval(enc[i + 1]);
            CHECK(hi >= 0);
            int lo = hexval(enc[i + 2]);
            CHECK(lo >= 0);
            unsigned char d = (unsigned char)(hi << 4 | lo);
            CHECK(!unreserved(d) && !(keep_slash && d == '/'));
            out[o++] = (char)d;
            i += 2;
        } else {
            CHECK(unreserved(c) || (keep_slash && c == '/'));
            out[o++] = (char)c;
        }
    }
    return o;
}

static size_t encoded_len(const char *s, size_t n, bool keep_slash)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        k += unreserved(c) || (keep_slash && c == '/') ? 1 : 3;
    }
    return k;
}

/* Encodes the raw path into an exact heap buffer of outlen bytes. */
static char *encode_path(const char *raw, size_t n, size_t outlen)
{
    char *out = malloc(outlen);
    CHECK(out != NULL);
    size_t k = sigv4_uri_encode(raw, n, true, out, outlen);
    size_t want = encoded_len(raw, n, true);
    if (k == (size_t)-1) {
        CHECK(want + 1 > outlen);
        free(out);
        /* Large enough now. */
        out = malloc(want + 1);
        CHECK(out != NULL);
        k = sigv4_uri_encode(raw, n, true, out, want + 1);
    }
    CHECK(k == want && strlen(out) == k);
    char *dec = malloc(k + 1);
    CHECK(dec != NULL);
    CHECK(decode(out, true, dec) == n && memcmp(dec, raw, n) == 0);
    free(dec);
    return out;
}

static char *query_of(struct sigv4_pair *params, size_t n)
{
    char *q = sigv4_canonical_query(params, n);
    CHECK(q != NULL);
    /* Reversed, the same string. */
    for (size_t i = 0; i < n / 2; i++) {
        struct sigv4_pair t = params[i];
        params[i] = params[n - 1 - i];
        params[n - 1 - i] = t;
    }
    char *q2 = sigv4_canonical_query(params, n);
    CHECK(q2 != NULL && strcmp(q, q2) == 0);
    free(q2);
    /* Parameters joined by '&', each NAME=VALUE, sorted. */
    size_t parts = 0;
    const char *prev = NULL;
    char *dec = malloc(strlen(q) + 1);
    CHECK(dec != NULL);
    for (char *p = q; n > 0;) {
        char *amp = strchr(p, '&');
        size_t len = amp != NULL ? (size_t)(amp - p) : strlen(p);
        char *part = strndup(p, len);
        CHECK(part != NULL);
        char *eq = strchr(part, '=');
        CHECK(eq != NULL);
        *eq = '\0';
        decode(part, false, dec);
        decode(eq + 1, false, dec);
        *eq = '=';
        if (prev != NULL) {
            /* name then value order: compare the name part first. */
            size_t pn = strcspn(prev, "=");
            size_t cn = strcspn(p, "=");
            char *a = strndup(prev, pn), *b = strndup(p, cn);
            CHECK(a != NULL && b != NULL);
            CHECK(strcmp(a, b) <= 0);
            free(a);
            free(b);
        }
        free(part);
        prev = p;
        parts++;
        if (amp == NULL) {
            break;
        }
        p = amp + 1;
    }
    CHECK(parts == n);
    free(dec);
    return q;
}

struct signed_out {
    char *creq;
    char *sts;
    char sig[SIGV4_HEX_LEN + 1];
    int sig_rc;
    char auth[1024];
    int auth_rc;
};

static void sign(const struct sigv4_request *r, struct signed_out *o)
{
    o->creq = sigv4_canonical_request(r);
    o->sts = sigv4_string_to_sign(r);
    CHECK((o->creq == NULL) == (o->sts == NULL));
    memset(o->sig, 0, sizeof(o->sig));
    o->sig_rc = sigv4_signature(r, o->sig);
    CHECK((o->sig_rc == 0) == (o->creq != NULL));
    o->auth_rc = sigv4_authorization(r, o->auth, sizeof(o->auth));
    if (o->sig_rc != 0) {
        CHECK(o->auth_rc == -1);
    } else if (o->auth_rc == 0) {
        CHECK(strncmp(o->auth, "AWS4-HMAC-SHA256 Credential=", 28) == 0);
        CHECK(strstr(o->auth, o->sig) != NULL);
    } else {
        CHECK(errno == ENOSPC);
    }
}

static void same(const struct signed_out *a, const struct signed_out *b)
{
    CHECK((a->creq == NULL) == (b->creq == NULL));
    CHECK(a->creq == NULL || strcmp(a->creq, b->creq) == 0);
    CHECK(a->sts == NULL || strcmp(a->sts, b->sts) == 0);
    CHECK(a->sig_rc == b->sig_rc && strcmp(a->sig, b->sig) == 0);
    CHECK(a->auth_rc == b->auth_rc);
    CHECK(a->auth_rc != 0 || strcmp(a->auth, b->auth) == 0);
}

static void done(struct signed_out *o)
{
    free(o->creq);
    free(o->sts);
}

/* Splits s at each '\n' into at most max lines; returns the count. */
static size_t split(char *s, char **lines, size_t max)
{
    size_t n = 0;
    while (n < max) {
        lines[n++] = s;
        char *nl = strchr(s, '\n');
        if (nl == NULL) {
            break;
        }
        *nl = '\0';
        s = nl + 1;
    }
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 8192) {
        return 0;
    }
    size_t pathlen = 1 + data[0];
    char *in = malloc(size);
    CHECK(in != NULL);
    memcpy(in, data + 1, size - 1);
    in[size - 1] = '\0';
    char *lines[6 + MAX_HEADERS];
    size_t nl = split(in, lines, 6 + MAX_HEADERS);
    if (nl < 6) {
        free(in);
        return 0;
    }

    char *path = encode_path(lines[1], strlen(lines[1]), pathlen);
    char *absolute = malloc(strlen(path) + 2);
    CHECK(absolute != NULL);
    snprintf(absolute, strlen(path) + 2, "%s%s", path[0] == '/' ? "" : "/",
             path);

    struct sigv4_pair params[MAX_PARAMS];
    size_t np = 0;
    for (char *p = lines[5]; *p != '\0' && np < MAX_PARAMS;) {
        char *amp = strchr(p, '&');
        if (amp != NULL) {
            *amp = '\0';
        }
        char *eq = strchr(p, '=');
        if (eq != NULL) {
            *eq = '\0';
        }
        params[np].name = p;
        params[np].value = eq != NULL ? eq + 1 : NULL;
        np++;
        if (amp == NULL) {
            break;
        }
        p = amp + 1;
    }
    char *query = query_of(params, np);

    struct sigv4_pair headers[MAX_HEADERS];
    size_t nh = 0;
    for (size_t i = 6; i < nl; i++) {
        char *colon = strchr(lines[i], ':');
        if (colon == NULL) {
            continue;
        }
        *colon = '\0';
        headers[nh].name = lines[i];
        headers[nh].value = colon + 1;
        nh++;
    }

    struct sigv4_request r = {
        .method = lines[0],
        .host = "bucket.s3.example.com",
        .path = absolute,
        .query = query,
        .headers = headers,
        .n_headers = nh,
        .payload_hash = SIGV4_UNSIGNED_PAYLOAD,
        .amz_date = "20261126T132500Z",
        .region = lines[2],
        .service = lines[3],
        .access_key_id = "AKIDEXAMPLE",
        .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        .session_token = lines[4],
    };
    struct signed_out a, b;
    sign(&r, &a);
    sign(&r, &b);
    same(&a, &b);
    if (r.region[0] == '\0' || r.service[0] == '\0') {
        CHECK(a.creq == NULL);
    }

    /* Widening the blank runs of each value changes nothing signed. */
    char *wide[MAX_HEADERS];
    struct sigv4_pair wide_headers[MAX_HEADERS];
    for (size_t i = 0; i < nh; i++) {
        const char *v = headers[i].value;
        wide[i] = malloc(3 * strlen(v) + 3);
        CHECK(wide[i] != NULL);
        size_t o = 0;
        wide[i][o++] = ' ';
        for (; *v != '\0'; v++) {
            wide[i][o++] = *v;
            if (*v == ' ' || *v == '\t') {
                wide[i][o++] = '\t';
                wide[i][o++] = ' ';
            }
        }
        wide[i][o++] = ' ';
        wide[i][o] = '\0';
        wide_headers[i].name = headers[i].name;
        wide_headers[i].value = wide[i];
    }
    r.headers = wide_headers;
    struct signed_out c;
    sign(&r, &c);
    same(&a, &c);

    /* An Authorization cut short fails with ENOSPC, never overflows. */
    if (a.auth_rc == 0) {
        size_t need = strlen(a.auth) + 1;
        char *small = malloc(need - 1);
        CHECK(small != NULL);
        CHECK(sigv4_authorization(&r, small, need - 1) == -1 &&
              errno == ENOSPC);
        free(small);
    }

    for (size_t i = 0; i < nh; i++) {
        free(wide[i]);
    }
    done(&c);
    done(&b);
    done(&a);
    free(query);
    free(absolute);
    free(path);
    free(in);
    return 0;
}
