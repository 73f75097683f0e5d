/*
 * This file implements aws_credentials_parse.h. The STS reply is read with
 * expat, keeping the path of element names down to the fields it needs;
 * the container JSON with jansson. Every credential value is checked to be
 * printable ASCII without blanks before it is copied, since it goes into
 * HTTP headers later, and no message here quotes one.
 */
#include "aws_credentials_parse.h"

#include <ctype.h>
#include <expat.h>
#include <jansson.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* ---- shared helpers ----------------------------------------------------- */

static void clear_keys(struct aws_credentials *out)
{
    memset(out->access_key_id, 0, sizeof(out->access_key_id));
    memset(out->secret_access_key, 0, sizeof(out->secret_access_key));
    memset(out->session_token, 0, sizeof(out->session_token));
    out->expires_ms = 0;
}

/* Trims ASCII white space at both ends of [*p, *p + *n). */
static void trim_space(const char **p, size_t *n)
{
    while (*n > 0 && isspace((unsigned char)**p)) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && isspace((unsigned char)(*p)[*n - 1])) {
        (*n)--;
    }
}

/*
 * Copies the credential field `name` (src[n], trimmed) into dst[dstlen]:
 * it must be non-empty, fit, and be printable ASCII without blanks.
 */
static int copy_field(char *dst, size_t dstlen, const char *src, size_t n,
                      const char *name, char *err, size_t errlen)
{
    trim_space(&src, &n);
    if (n == 0) {
        snprintf(err, errlen, "%s is missing or empty", name);
        return -1;
    }
    if (n >= dstlen) {
        snprintf(err, errlen, "%s is too long (%zu bytes, at most %zu)",
                 name, n, dstlen - 1);
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)src[i];
        if (c <= 0x20 || c >= 0x7f) {
            snprintf(err, errlen, "%s has a character that is not "
                     "printable ASCII (at byte %zu)", name, i);
            return -1;
        }
    }
    memmove(dst, src, n); /* src may lie inside dst */
    dst[n] = '\0';
    return 0;
}

int aws_credentials_copy_value(char *dst, size_t dstlen, const char *src,
                               const char *name, char *err, size_t errlen)
{
    return copy_field(dst, dstlen, src, strlen(src), name, err, errlen);
}

/* Parses exactly `digits` decimal digits at s; -1 if not digits. */
static int parse_digits(const char *s, int digits)
{
    int v = 0;
    for (int i = 0; i < digits; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int aws_time_parse_ms(const char *s, int64_t *out_ms)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30,
                                  31, 31, 30, 31, 30, 31};
    if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' ||
        (s[10] != 'T' && s[10] != 't') || s[13] != ':' || s[16] != ':') {
        return -1;
    }
    int y = parse_digits(s, 4), mo = parse_digits(s + 5, 2);
    int d = parse_digits(s + 8, 2), h = parse_digits(s + 11, 2);
    int mi = parse_digits(s + 14, 2), sec = parse_digits(s + 17, 2);
    if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 ||
        mi < 0 || mi > 59 || sec < 0 || sec > 60) {
        return -1;
    }
    if (d > mdays[mo - 1] + (mo == 2 && is_leap(y))) {
        return -1;
    }
    const char *p = s + 19;
    int64_t ms = 0;
    if (*p == '.') {
        p++;
        int n = 0;
        while (isdigit((unsigned char)*p)) {
            if (n < 3) {
                ms = ms * 10 + (*p - '0');
            }
            n++;
            p++;
        }
        if (n == 0) {
            return -1;
        }
        for (; n < 3; n++) {
            ms *= 10;
        }
    }
    int64_t offset_s = 0;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int oh = parse_digits(p + 1, 2);
        if (oh < 0 || p[3] != ':') {
            return -1;
        }
        int om = parse_digits(p + 4, 2);
        if (om < 0 || oh > 23 || om > 59) {
            return -1;
        }
        offset_s = (int64_t)oh * 3600 + (int64_t)om * 60;
        if (*p == '-') {
            offset_s = -offset_s;
        }
        p += 6;
    } else {
        return -1;
    }
    if (*p != '\0') {
        return -1;
    }
    int64_t secs = days_from_civil(y, mo, d) * 86400 + (int64_t)h * 3600 +
                   (int64_t)mi * 60 + sec - offset_s;
    *out_ms = secs * 1000 + ms;
    return 0;
}

/* ---- STS XML ------------------------------------------------------------ */

enum sts_field {
    STS_ACCESS_KEY_ID,
    STS_SECRET_ACCESS_KEY,
    STS_SESSION_TOKEN,
    STS_EXPIRATION,
    STS_ERROR_CODE,
    STS_ERROR_MESSAGE,
    STS_NFIELDS,
};

/* Where each field is: its element path from the root, and its size. */
static const struct {
    const char *path[4];
    size_t cap;
} sts_fields[STS_NFIELDS] = {
    [STS_ACCESS_KEY_ID] = {{"AssumeRoleWithWebIdentityResponse",
                            "AssumeRoleWithWebIdentityResult", "Credentials",
                            "AccessKeyId"}, 128},
    [STS_SECRET_ACCESS_KEY] = {{"AssumeRoleWithWebIdentityResponse",
                                "AssumeRoleWithWebIdentityResult",
                                "Credentials", "SecretAccessKey"}, 128},
    [STS_SESSION_TOKEN] = {{"AssumeRoleWithWebIdentityResponse",
                            "AssumeRoleWithWebIdentityResult", "Credentials",
                            "SessionToken"}, 4096},
    [STS_EXPIRATION] = {{"AssumeRoleWithWebIdentityResponse",
                         "AssumeRoleWithWebIdentityResult", "Credentials",
                         "Expiration"}, 64},
    [STS_ERROR_CODE] = {{"ErrorResponse", "Error", "Code", NULL}, 128},
    [STS_ERROR_MESSAGE] = {{"ErrorResponse", "Error", "Message", NULL}, 512},
};

#define STS_MAX_DEPTH 8

struct sts_state {
    XML_Parser parser;
    const char *path[STS_MAX_DEPTH]; /* borrowed from expat while open */
    char names[STS_MAX_DEPTH][64];   /* local names of the open elements */
    int depth;                       /* may exceed STS_MAX_DEPTH */
    int field;                       /* the field being read, or -1 */
    char text[STS_NFIELDS][4096];
    size_t text_len[STS_NFIELDS];
    bool seen[STS_NFIELDS];
    bool too_long[STS_NFIELDS];
    bool doctype;
};

/* The local part of an expat name "URI\x01local" (or a plain name). */
static const char *local_name(const char *name)
{
    const char *sep = strrchr(name, '\x01');
    return sep != NULL ? sep + 1 : name;
}

static void XMLCALL sts_start(void *arg, const XML_Char *name,
                              const XML_Char **attrs)
{
    (void)attrs;
    struct sts_state *st = arg;
    int d = st->depth++;
    st->field = -1;
    if (d >= STS_MAX_DEPTH) {
        return;
    }
    snprintf(st->names[d], sizeof(st->names[d]), "%s", local_name(name));
    for (int f = 0; f < STS_NFIELDS; f++) {
        int want = 0;
        while (want < 4 && sts_fields[f].path[want] != NULL) {
            want++;
        }
        if (want != d + 1) {
            continue;
        }
        bool match = true;
        for (int i = 0; i <= d && match; i++) {
            match = strcmp(st->names[i], sts_fields[f].path[i]) == 0;
        }
        if (match) {
            st->field = f;
            st->seen[f] = true;
            st->text_len[f] = 0;
            st->too_long[f] = false;
            return;
        }
    }
}

static void XMLCALL sts_end(void *arg, const XML_Char *name)
{
    (void)name;
    struct sts_state *st = arg;
    st->depth--;
    st->field = -1;
}

static void XMLCALL sts_text(void *arg, const XML_Char *s, int len)
{
    struct sts_state *st = arg;
    if (st->field < 0 || len <= 0) {
        return;
    }
    int f = st->field;
    size_t cap = sts_fields[f].cap;
    if (cap > sizeof(st->text[f])) {
        cap = sizeof(st->text[f]);
    }
    if (st->text_len[f] + (size_t)len >= cap) {
        st->too_long[f] = true;
        return;
    }
    memcpy(st->text[f] + st->text_len[f], s, (size_t)len);
    st->text_len[f] += (size_t)len;
}

static void XMLCALL sts_doctype(void *arg, const XML_Char *name,
                                const XML_Char *sysid, const XML_Char *pubid,
                                int has_internal_subset)
{
    (void)name;
    (void)sysid;
    (void)pubid;
    (void)has_internal_subset;
    struct sts_state *st = arg;
    st->doctype = true;
    XML_StopParser(st->parser, XML_FALSE);
}

/* Copies printable characters of src[n] into dst[dstlen], others as '?'. */
static void copy_printable(char *dst, size_t dstlen, const char *src,
                           size_t n)
{
    const char *p = src;
    trim_space(&p, &n);
    size_t j = 0;
    for (size_t i = 0; i < n && j + 1 < dstlen; i++) {
        unsigned char c = (unsigned char)p[i];
        dst[j++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    if (dstlen > 0) {
        dst[j] = '\0';
    }
}

/* Reports the STS error document held in st. */
static void sts_error_message(const struct sts_state *st, char *err,
                              size_t errlen)
{
    char code[128], msg[256];
    copy_printable(code, sizeof(code), st->text[STS_ERROR_CODE],
                   st->text_len[STS_ERROR_CODE]);
    copy_printable(msg, sizeof(msg), st->text[STS_ERROR_MESSAGE],
                   st->text_len[STS_ERROR_MESSAGE]);
    snprintf(err, errlen, "STS error %s: %s", code[0] ? code : "(no code)",
             msg[0] ? msg : "(no message)");
}

static const char *const sts_names[STS_NFIELDS] = {
    "Credentials/AccessKeyId", "Credentials/SecretAccessKey",
    "Credentials/SessionToken", "Credentials/Expiration", "Error/Code",
    "Error/Message",
};

/* Copies the four credential fields of st into out. */
static int sts_take(const struct sts_state *st, struct aws_credentials *out,
                    char *err, size_t errlen)
{
    for (int f = STS_ACCESS_KEY_ID; f <= STS_EXPIRATION; f++) {
        if (st->too_long[f]) {
            snprintf(err, errlen, "STS reply: %s is too long", sts_names[f]);
            return -1;
        }
    }
    char why[160];
    struct {
        char *dst;
        size_t dstlen;
        int f;
    } take[] = {
        {out->access_key_id, sizeof(out->access_key_id), STS_ACCESS_KEY_ID},
        {out->secret_access_key, sizeof(out->secret_access_key),
         STS_SECRET_ACCESS_KEY},
        {out->session_token, sizeof(out->session_token), STS_SESSION_TOKEN},
    };
    for (size_t i = 0; i < sizeof(take) / sizeof(take[0]); i++) {
        if (copy_field(take[i].dst, take[i].dstlen, st->text[take[i].f],
                       st->text_len[take[i].f], sts_names[take[i].f], why,
                       sizeof(why)) != 0) {
            snprintf(err, errlen, "STS reply: %s", why);
            return -1;
        }
    }
    char when[64];
    copy_printable(when, sizeof(when), st->text[STS_EXPIRATION],
                   st->text_len[STS_EXPIRATION]);
    if (aws_time_parse_ms(when, &out->expires_ms) != 0) {
        snprintf(err, errlen, "STS reply: Credentials/Expiration '%s' is "
                 "not an ISO 8601 time", when);
        return -1;
    }
    return 0;
}

int aws_sts_parse_credentials(const char *xml, size_t len,
                              struct aws_credentials *out, char *err,
                              size_t errlen)
{
    clear_keys(out);
    if (len > INT_MAX) {
        snprintf(err, errlen, "STS reply too large (%zu bytes)", len);
        return -1;
    }
    struct sts_state state;
    struct sts_state *st = &state;
    memset(st, 0, sizeof(*st));
    st->field = -1;
    st->parser = XML_ParserCreateNS(NULL, '\x01');
    if (st->parser == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    XML_SetUserData(st->parser, st);
    XML_SetElementHandler(st->parser, sts_start, sts_end);
    XML_SetCharacterDataHandler(st->parser, sts_text);
    XML_SetStartDoctypeDeclHandler(st->parser, sts_doctype);
    enum XML_Status xs = XML_Parse(st->parser, xml, (int)len, XML_TRUE);
    int rc = -1;
    if (st->doctype) {
        snprintf(err, errlen, "STS reply has a DOCTYPE, which is refused");
    } else if (xs != XML_STATUS_OK) {
        snprintf(err, errlen, "STS reply is not well-formed XML: %s at "
                 "line %lu",
                 XML_ErrorString(XML_GetErrorCode(st->parser)),
                 (unsigned long)XML_GetCurrentLineNumber(st->parser));
    } else if (st->seen[STS_ERROR_CODE] || st->seen[STS_ERROR_MESSAGE]) {
        sts_error_message(st, err, errlen);
    } else if (!st->seen[STS_ACCESS_KEY_ID] &&
               !st->seen[STS_SECRET_ACCESS_KEY] &&
               !st->seen[STS_SESSION_TOKEN]) {
        snprintf(err, errlen, "STS reply has no AssumeRoleWithWebIdentity"
                 "Result/Credentials");
    } else {
        rc = sts_take(st, out, err, errlen);
    }
    XML_ParserFree(st->parser);
    if (rc != 0) {
        clear_keys(out);
    }
    explicit_bzero(st->text, sizeof(st->text));
    return rc;
}

/* ---- container / IMDS JSON ---------------------------------------------- */

/* Copies the string member `name` of object o into dst (see copy_field). */
static int json_field(json_t *o, const char *name, char *dst, size_t dstlen,
                      char *err, size_t errlen)
{
    json_t *v = json_object_get(o, name);
    if (v == NULL) {
        snprintf(err, errlen, "%s is missing", name);
        return -1;
    }
    if (!json_is_string(v)) {
        snprintf(err, errlen, "%s is not a string", name);
        return -1;
    }
    return copy_field(dst, dstlen, json_string_value(v),
                      json_string_length(v), name, err, errlen);
}

int aws_container_parse_credentials(const char *json, size_t len,
                                    struct aws_credentials *out, char *err,
                                    size_t errlen)
{
    clear_keys(out);
    json_error_t jerr;
    json_t *root = json_loadb(json, len, 0, &jerr);
    if (root == NULL) {
        /* jerr.text may quote the input near the error: not printed. */
        snprintf(err, errlen, "credentials reply is not JSON (line %d, "
                 "column %d)", jerr.line, jerr.column);
        return -1;
    }
    int rc = -1;
    char why[160];
    if (!json_is_object(root)) {
        snprintf(err, errlen, "credentials reply is not a JSON object");
        goto done;
    }
    json_t *code = json_object_get(root, "Code");
    if (code != NULL && (!json_is_string(code) ||
                         strcmp(json_string_value(code), "Success") != 0)) {
        char c[64] = "", m[256] = "";
        if (json_is_string(code)) {
            copy_printable(c, sizeof(c), json_string_value(code),
                           json_string_length(code));
        }
        json_t *msg = json_object_get(root, "Message");
        if (json_is_string(msg)) {
            copy_printable(m, sizeof(m), json_string_value(msg),
                           json_string_length(msg));
        }
        snprintf(err, errlen, "credentials reply has Code '%s'%s%s", c,
                 m[0] ? ": " : "", m);
        goto done;
    }
    if (json_field(root, "AccessKeyId", out->access_key_id,
                   sizeof(out->access_key_id), why, sizeof(why)) != 0 ||
        json_field(root, "SecretAccessKey", out->secret_access_key,
                   sizeof(out->secret_access_key), why, sizeof(why)) != 0 ||
        json_field(root, "Token", out->session_token,
                   sizeof(out->session_token), why, sizeof(why)) != 0) {
        snprintf(err, errlen, "credentials reply: %s", why);
        goto done;
    }
    char when[64];
    if (json_field(root, "Expiration", when, sizeof(when), why,
                   sizeof(why)) != 0) {
        snprintf(err, errlen, "credentials reply: %s", why);
        goto done;
    }
    if (aws_time_parse_ms(when, &out->expires_ms) != 0) {
        snprintf(err, errlen, "credentials reply: Expiration '%s' is not an "
                 "ISO 8601 time", when);
        goto done;
    }
    rc = 0;
done:
    json_decref(root);
    if (rc != 0) {
        clear_keys(out);
    }
    return rc;
}

/* ---- IMDS role list ----------------------------------------------------- */

int aws_imds_parse_role(const char *body, size_t len, char *role,
                        size_t rolelen, char *err, size_t errlen)
{
    if (rolelen > 0) {
        role[0] = '\0';
    }
    const char *p = body, *end = body + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl != NULL ? nl : end;
        const char *s = p;
        size_t n = (size_t)(stop - p);
        p = nl != NULL ? nl + 1 : end;
        trim_space(&s, &n);
        if (n == 0) {
            continue;
        }
        if (n >= rolelen) {
            snprintf(err, errlen, "IMDS role name is too long (%zu bytes)",
                     n);
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            /* strchr() finds a NUL byte too: its terminator matches. */
            if (!isalnum(c) && (c == '\0' || strchr("+=,.@_-", c) == NULL)) {
                snprintf(err, errlen, "IMDS role name has a character an "
                         "IAM role name cannot have (at byte %zu)", i);
                return -1;
            }
        }
        memcpy(role, s, n);
        role[n] = '\0';
        return 0;
    }
    snprintf(err, errlen, "IMDS lists no IAM role (no instance profile "
             "attached?)");
    return -1;
}

/* ---- container URL ------------------------------------------------------ */

/* True if h[n] is a dotted quad 127.a.b.c. */
static bool is_loopback_v4(const char *h, size_t n)
{
    char buf[16];
    if (n >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, h, n);
    buf[n] = '\0';
    unsigned a, b, c, d;
    char tail;
    if (sscanf(buf, "%3u.%3u.%3u.%3u%c", &a, &b, &c, &d, &tail) != 4) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)buf[i]) && buf[i] != '.') {
            return false;
        }
    }
    return a == 127 && b <= 255 && c <= 255 && d <= 255;
}

static bool host_allowed_for_http(const char *h, size_t n)
{
    static const char *const allowed[] = {
        "localhost", "[::1]", "169.254.170.2", "169.254.170.23",
        "[fd00:ec2::23]",
    };
    for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
        if (strlen(allowed[i]) == n && strncasecmp(h, allowed[i], n) == 0) {
            return true;
        }
    }
    return is_loopback_v4(h, n);
}

int aws_container_url(const char *relative_uri, const char *full_uri,
                      char *out, size_t outlen, char *err, size_t errlen)
{
    int n;
    if (relative_uri != NULL && relative_uri[0] != '\0') {
        if (relative_uri[0] != '/') {
            snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI "
                     "does not start with '/'");
            return -1;
        }
        n = snprintf(out, outlen, "http://169.254.170.2%s", relative_uri);
    } else if (full_uri != NULL && full_uri[0] != '\0') {
        bool https = strncasecmp(full_uri, "https://", 8) == 0;
        bool http = strncasecmp(full_uri, "http://", 7) == 0;
        if (!https && !http) {
            snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI is "
                     "neither http:// nor https://");
            return -1;
        }
        const char *host = full_uri + (https ? 8 : 7);
        size_t hlen = strcspn(host, "/?#");
        if (memchr(host, '@', hlen) != NULL || hlen == 0) {
            snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI has "
                     "no host or has user information");
            return -1;
        }
        /* The host without its port: "[v6]" or up to the first ':'. */
        size_t name_len;
        if (host[0] == '[') {
            const char *rb = memchr(host, ']', hlen);
            name_len = rb != NULL ? (size_t)(rb - host) + 1 : hlen;
        } else {
            name_len = strcspn(host, ":/?#");
        }
        if (http && !host_allowed_for_http(host, name_len)) {
            snprintf(err, errlen, "AWS_CONTAINER_CREDENTIALS_FULL_URI host "
                     "'%.*s' is not allowed over plain http (only loopback, "
                     "169.254.170.2, 169.254.170.23, [fd00:ec2::23]; use "
                     "https)", (int)(name_len > 200 ? 200 : name_len), host);
            return -1;
        }
        n = snprintf(out, outlen, "%s", full_uri);
    } else {
        snprintf(err, errlen, "neither AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
                 " nor AWS_CONTAINER_CREDENTIALS_FULL_URI is set");
        return -1;
    }
    if (n < 0 || (size_t)n >= outlen) {
        snprintf(err, errlen, "container credentials URL is too long");
        return -1;
    }
    return 0;
}
