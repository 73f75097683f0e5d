/*
 * This file implements the fuzz target of the AWS credential parsers:
 * common/aws_ini.c and common/aws_credentials_parse.c. The first byte of
 * an input chooses what is fuzzed (byte % 6), the rest is its text:
 *   0  aws_ini_get / aws_ini_has_section: "SECTION\nKEY\nINI TEXT", with
 *      an output buffer of 1 + (byte / 6) % 48 bytes on the heap. A value
 *      found is trimmed, on one line, a copy of bytes of the text, and its
 *      section exists; "does not fit" finds the same value in a buffer
 *      large enough, and a longer one; "absent" stays absent there.
 *   1  aws_sts_parse_credentials (STS XML), 2 aws_container_parse_credentials
 *      (container / IMDS JSON), 3 aws_credentials_copy_value: a refusal
 *      has a message and cleared keys; accepted keys are non-empty
 *      printable ASCII without blanks, region and source are untouched.
 *      Secrets: the same input with every letter and digit of the
 *      credential values rotated (a->b, z->a, 9->0: same length, same
 *      character classes) must give the same result and the very same
 *      message, so no message can quote a credential value.
 *   4  aws_time_parse_ms: an accepted time written back as
 *      "YYYY-MM-DDTHH:MM:SS.mmmZ" parses to the same milliseconds.
 *   5  aws_imds_parse_role into a heap buffer of 1 + (byte / 6) % 48
 *      bytes, and aws_container_url over "RELATIVE\nFULL".
 */
#include <ctype.h>
#include <expat.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aws_credentials_parse.h"
#include "aws_ini.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Rotates every ASCII letter and digit of s[n] within its class. */
static void rotate(char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z') {
            s[i] = c == 'z' ? 'a' : (char)(c + 1);
        } else if (c >= 'A' && c <= 'Z') {
            s[i] = c == 'Z' ? 'A' : (char)(c + 1);
        } else if (c >= '0' && c <= '9') {
            s[i] = c == '9' ? '0' : (char)(c + 1);
        }
    }
}

/* NUL-terminated heap copy of s[n]. */
static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    CHECK(d != NULL);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

/* ---- INI ---------------------------------------------------------------- */

static bool is_blank(char c)
{
    return c == ' ' || c == '\t';
}

static void fuzz_ini(const char *in, size_t len, size_t outlen)
{
    const char *nl1 = memchr(in, '\n', len);
    if (nl1 == NULL) {
        return;
    }
    const char *rest = nl1 + 1;
    const char *nl2 = memchr(rest, '\n', len - (size_t)(rest - in));
    if (nl2 == NULL) {
        return;
    }
    char *section = dup_n(in, (size_t)(nl1 - in));
    char *key = dup_n(rest, (size_t)(nl2 - rest));
    const char *text = nl2 + 1;
    size_t tlen = len - (size_t)(text - in);
    /* The exact-length heap copy: a read past the text shows. */
    char *buf = malloc(tlen > 0 ? tlen : 1);
    CHECK(buf != NULL);
    memcpy(buf, text, tlen);

    bool has = aws_ini_has_section(buf, tlen, section);
    char *out = malloc(outlen);
    CHECK(out != NULL);
    memset(out, 'x', outlen);
    int rc = aws_ini_get(buf, tlen, section, key, out, outlen);
    CHECK(rc >= -1 && rc <= 1);
    CHECK(out[0] == '\0' || rc == 1);
    CHECK(rc != 1 || has);

    size_t biglen = tlen + 1;
    char *big = malloc(biglen);
    CHECK(big != NULL);
    int rc2 = aws_ini_get(buf, tlen, section, key, big, biglen);
    CHECK(rc2 == (rc == 0 ? 0 : 1));
    if (rc2 == 1) {
        size_t n = strlen(big);
        CHECK(rc != 1 || strcmp(out, big) == 0);
        CHECK(rc != -1 || n >= outlen);
        CHECK(memchr(big, '\n', n) == NULL);
        CHECK(n == 0 || (!is_blank(big[0]) && !is_blank(big[n - 1])));
        CHECK(n == 0 || memmem(buf, tlen, big, n) != NULL);
    }
    free(big);
    free(out);
    free(buf);
    free(key);
    free(section);
}

/* ---- credential documents ----------------------------------------------- */

static void check_keys(const struct aws_credentials *c, bool ok)
{
    const char *keys[] = {c->access_key_id, c->secret_access_key,
                          c->session_token};
    size_t caps[] = {sizeof(c->access_key_id), sizeof(c->secret_access_key),
                     sizeof(c->session_token)};
    for (size_t k = 0; k < 3; k++) {
        size_t n = strnlen(keys[k], caps[k]);
        CHECK(n < caps[k]);
        CHECK(ok ? n > 0 : n == 0);
        for (size_t i = 0; i < n; i++) {
            CHECK(keys[k][i] > 0x20 && keys[k][i] < 0x7f);
        }
    }
    CHECK(ok || c->expires_ms == 0);
    CHECK(strcmp(c->region, "region-kept") == 0);
    CHECK(strcmp(c->source, "source-kept") == 0);
}

typedef int (*cred_parse_fn)(const char *doc, size_t len,
                             struct aws_credentials *out, char *err,
                             size_t errlen);

/*
 * Parses doc and doc_rotated (the same document with its credential
 * values rotated) and checks both give the same result and message.
 */
static void parse_pair(cred_parse_fn parse, const char *doc, size_t len,
                       const char *rotated, size_t rlen)
{
    static struct aws_credentials a, b;
    char err_a[512], err_b[512];
    memset(&a, 0x41, sizeof(a));
    memset(&b, 0x41, sizeof(b));
    snprintf(a.region, sizeof(a.region), "region-kept");
    snprintf(a.source, sizeof(a.source), "source-kept");
    b = a;
    snprintf(err_a, sizeof(err_a), "unset");
    snprintf(err_b, sizeof(err_b), "unset");
    int rc_a = parse(doc, len, &a, err_a, sizeof(err_a));
    CHECK(rc_a == 0 || rc_a == -1);
    check_keys(&a, rc_a == 0);
    if (rc_a != 0) {
        CHECK(err_a[0] != '\0' && strcmp(err_a, "unset") != 0);
    }
    if (rotated == NULL) {
        return;
    }
    int rc_b = parse(rotated, rlen, &b, err_b, sizeof(err_b));
    check_keys(&b, rc_b == 0);
    CHECK(rc_a == rc_b);
    if (rc_a != 0) {
        if (strcmp(err_a, err_b) != 0) {
            fprintf(stderr, "message depends on a credential value:\n"
                    "  %s\n  %s\n", err_a, err_b);
            abort();
        }
    } else {
        CHECK(a.expires_ms == b.expires_ms);
        rotate(a.access_key_id, strlen(a.access_key_id));
        rotate(a.secret_access_key, strlen(a.secret_access_key));
        rotate(a.session_token, strlen(a.session_token));
        CHECK(strcmp(a.access_key_id, b.access_key_id) == 0);
        CHECK(strcmp(a.secret_access_key, b.secret_access_key) == 0);
        CHECK(strcmp(a.session_token, b.session_token) == 0);
    }
}

/*
 * The STS document with its credential values rotated: an expat pass
 * (the parser's own element paths, namespaces stripped) finds the text of
 * AccessKeyId, SecretAccessKey and SessionToken and rotates it in a copy
 * of the input where the text is literal in it (character and entity
 * references are left alone, so classes never change).
 */
struct sts_rot {
    XML_Parser xp;
    char *copy;
    char names[4][64];
    int depth;
    bool in_secret;
    bool ok;
};

static const char *const sts_path[3] = {
    "AssumeRoleWithWebIdentityResponse", "AssumeRoleWithWebIdentityResult",
    "Credentials"};

static const char *local(const char *name)
{
    const char *sep = strrchr(name, '\x01');
    return sep != NULL ? sep + 1 : name;
}

static void XMLCALL rot_start(void *arg, const XML_Char *name,
                              const XML_Char **attrs)
{
    (void)attrs;
    struct sts_rot *r = arg;
    int d = r->depth++;
    r->in_secret = false;
    if (d >= 4) {
        return;
    }
    snprintf(r->names[d], sizeof(r->names[d]), "%s", local(name));
    if (d != 3) {
        return;
    }
    for (int i = 0; i < 3; i++) {
        if (strcmp(r->names[i], sts_path[i]) != 0) {
            return;
        }
    }
    r->in_secret = strcmp(r->names[3], "AccessKeyId") == 0 ||
                   strcmp(r->names[3], "SecretAccessKey") == 0 ||
                   strcmp(r->names[3], "SessionToken") == 0;
}

static void XMLCALL rot_end(void *arg, const XML_Char *name)
{
    (void)name;
    struct sts_rot *r = arg;
    r->depth--;
    r->in_secret = false;
}

static void XMLCALL rot_text(void *arg, const XML_Char *s, int len)
{
    struct sts_rot *r = arg;
    if (!r->in_secret || len <= 0) {
        return;
    }
    XML_Index at = XML_GetCurrentByteIndex(r->xp);
    int count = XML_GetCurrentByteCount(r->xp);
    if (at >= 0 && count == len && memcmp(r->copy + at, s, (size_t)len) == 0) {
        rotate(r->copy + at, (size_t)len);
    }
}

static char *sts_rotated(const char *doc, size_t len)
{
    struct sts_rot r;
    memset(&r, 0, sizeof(r));
    r.copy = dup_n(doc, len);
    r.xp = XML_ParserCreateNS(NULL, '\x01');
    CHECK(r.xp != NULL);
    XML_SetUserData(r.xp, &r);
    XML_SetElementHandler(r.xp, rot_start, rot_end);
    XML_SetCharacterDataHandler(r.xp, rot_text);
    XML_Parse(r.xp, doc, (int)len, XML_TRUE);
    XML_ParserFree(r.xp);
    return r.copy;
}

/* The container JSON re-encoded, and with its credential values rotated. */
static void container_pair(const char *doc, size_t len)
{
    json_t *root = json_loadb(doc, len, 0, NULL);
    if (!json_is_object(root)) {
        json_decref(root);
        parse_pair(aws_container_parse_credentials, doc, len, NULL, 0);
        return;
    }
    char *plain = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
    static const char *const secrets[] = {"AccessKeyId", "SecretAccessKey",
                                          "Token"};
    for (size_t i = 0; i < 3; i++) {
        json_t *v = json_object_get(root, secrets[i]);
        if (json_is_string(v)) {
            size_t n = json_string_length(v);
            char *s = dup_n(json_string_value(v), n);
            rotate(s, n);
            CHECK(json_string_setn(v, s, n) == 0);
            free(s);
        }
    }
    char *rot = json_dumps(root, JSON_COMPACT | JSON_ENCODE_ANY);
    CHECK(plain != NULL && rot != NULL);
    parse_pair(aws_container_parse_credentials, doc, len, NULL, 0);
    parse_pair(aws_container_parse_credentials, plain, strlen(plain), rot,
               strlen(rot));
    free(rot);
    free(plain);
    json_decref(root);
}

static void fuzz_copy_value(const char *in, size_t len, size_t dstlen)
{
    char *src = dup_n(in, len);
    char *rot = dup_n(in, len);
    rotate(rot, len);
    char *dst_a = malloc(dstlen), *dst_b = malloc(dstlen);
    CHECK(dst_a != NULL && dst_b != NULL);
    char err_a[256] = "", err_b[256] = "";
    int a = aws_credentials_copy_value(dst_a, dstlen, src, "TheName", err_a,
                                       sizeof(err_a));
    int b = aws_credentials_copy_value(dst_b, dstlen, rot, "TheName", err_b,
                                       sizeof(err_b));
    CHECK(a == b);
    if (a != 0) {
        CHECK(err_a[0] != '\0' && strstr(err_a, "TheName") != NULL);
        CHECK(strcmp(err_a, err_b) == 0);
    } else {
        size_t n = strlen(dst_a);
        CHECK(n > 0 && n < dstlen);
        rotate(dst_a, n);
        CHECK(strcmp(dst_a, dst_b) == 0);
        /* src may be dst: copying in place gives the same. */
        CHECK(aws_credentials_copy_value(src, len + 1, src, "TheName", err_a,
                                         sizeof(err_a)) == 0);
        rotate(src, strlen(src));
        CHECK(strcmp(src, dst_b) == 0);
    }
    free(dst_b);
    free(dst_a);
    free(rot);
    free(src);
}

/* ---- times, roles, URLs ------------------------------------------------- */

static void fuzz_time(const char *in, size_t len)
{
    char *s = dup_n(in, len);
    int64_t ms = -1;
    if (aws_time_parse_ms(s, &ms) == 0) {
        int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
        time_t t = (time_t)secs;
        struct tm tm;
        CHECK(gmtime_r(&t, &tm) != NULL);
        if (tm.tm_year + 1900 >= 1970 && tm.tm_year + 1900 <= 9999) {
            char back[40];
            snprintf(back, sizeof(back),
                     "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                     tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (int)(ms - secs * 1000));
            int64_t again = -1;
            CHECK(aws_time_parse_ms(back, &again) == 0);
            CHECK(again == ms);
        }
    }
    free(s);
}

static void fuzz_role(const char *in, size_t len, size_t rolelen)
{
    char *body = dup_n(in, len);
    char *role = malloc(rolelen);
    CHECK(role != NULL);
    char err[256] = "";
    if (aws_imds_parse_role(body, len, role, rolelen, err, sizeof(err)) ==
        0) {
        size_t n = strnlen(role, rolelen);
        CHECK(n > 0 && n < rolelen);
        for (size_t i = 0; i < n; i++) {
            CHECK(isalnum((unsigned char)role[i]) ||
                  strchr("+=,.@_-", role[i]) != NULL);
        }
        CHECK(memmem(body, len, role, n) != NULL);
    } else {
        CHECK(err[0] != '\0' && role[0] == '\0');
    }
    free(role);

    const char *nl = memchr(body, '\n', len);
    if (nl != NULL) {
        body[nl - body] = '\0';
        const char *full = nl + 1;
        char url[96];
        if (aws_container_url(body, full, url, sizeof(url), err,
                              sizeof(err)) == 0) {
            CHECK(strnlen(url, sizeof(url)) < sizeof(url));
            CHECK(strncasecmp(url, "http://", 7) == 0 ||
                  strncasecmp(url, "https://", 8) == 0);
        } else {
            CHECK(err[0] != '\0');
        }
    }
    free(body);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > 65536) {
        return 0;
    }
    const char *in = (const char *)data + 1;
    size_t len = size - 1;
    size_t buflen = 1 + (size_t)(data[0] / 6) % 48;
    switch (data[0] % 6) {
    case 0:
        fuzz_ini(in, len, buflen);
        break;
    case 1: {
        char *rot = sts_rotated(in, len);
        parse_pair(aws_sts_parse_credentials, in, len, rot, len);
        free(rot);
        break;
    }
    case 2:
        container_pair(in, len);
        break;
    case 3:
        fuzz_copy_value(in, len, buflen);
        break;
    case 4:
        fuzz_time(in, len);
        break;
    default:
        fuzz_role(in, len, buflen);
        break;
    }
    return 0;
}
