/*
 * This file implements aws_credentials.h: the provider chain and its I/O
 * (environment, files, HTTP through http_client.h). Every document the
 * providers read is parsed by aws_ini.h or aws_credentials_parse.h.
 *
 * Each provider answers FOUND, SKIPPED (not configured here: the chain goes
 * on) or FAILED (configured but broken: the chain stops, so a broken
 * container or web identity setup never silently falls back to another
 * identity, the instance role say). Each appends one note saying what it
 * saw; the notes make the error message. Buffers that held a secret are
 * wiped before they are freed.
 */
#include "aws_credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "aws_credentials_parse.h"
#include "aws_ini.h"
#include "http_client.h"

/* Limits and timeouts of the providers. */
static const struct {
    size_t max_file_bytes;        /* shared files and token files */
    size_t max_reply_bytes;       /* any provider's HTTP reply */
    long sts_timeout_ms;          /* one STS attempt, whole exchange */
    long sts_connect_timeout_ms;
    long ecs_timeout_ms;          /* one container endpoint attempt */
    long ecs_connect_timeout_ms;
    unsigned ecs_attempts;
    unsigned ecs_backoff_base_ms; /* see http_backoff_ms() */
    unsigned ecs_backoff_max_ms;
    long imds_timeout_ms;         /* each IMDS exchange, and its connect */
    const char *imds_token_ttl_s; /* asked for the IMDSv2 session token */
    const char *default_region;
    const char *imds_endpoint_v4;
    const char *imds_endpoint_v6;
} aws_limits = {
    .max_file_bytes = 1 << 20,
    .max_reply_bytes = 64 << 10,
    .sts_timeout_ms = 10000,
    .sts_connect_timeout_ms = 3000,
    .ecs_timeout_ms = 2000,
    .ecs_connect_timeout_ms = 1000,
    .ecs_attempts = 3,
    .ecs_backoff_base_ms = 100,
    .ecs_backoff_max_ms = 1000,
    .imds_timeout_ms = 1000,
    .imds_token_ttl_s = "21600",
    .default_region = "us-east-1",
    .imds_endpoint_v4 = "http://169.254.169.254",
    .imds_endpoint_v6 = "http://[fd00:ec2::254]",
};

enum provider_result { FOUND, SKIPPED, FAILED };

/* What the chain has seen so far. */
struct chain {
    char notes[2048];     /* "env (why), profile 'x' (why), ..." */
    char failure[1024];   /* why the provider that FAILED failed */
    const char *failed_source;
};

/* Appends "source (why)" to the notes. */
static void note(struct chain *c, const char *source, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void note(struct chain *c, const char *source, const char *fmt, ...)
{
    size_t used = strlen(c->notes);
    if (used + 1 >= sizeof(c->notes)) {
        return;
    }
    char why[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    snprintf(c->notes + used, sizeof(c->notes) - used, "%s%s (%s)",
             used ? ", " : "", source, why);
}

/* Records why the provider `source` failed; returns FAILED. */
static enum provider_result fail_with(struct chain *c, const char *source,
                                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum provider_result fail_with(struct chain *c, const char *source,
                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->failure, sizeof(c->failure), fmt, ap);
    va_end(ap);
    c->failed_source = source;
    return FAILED;
}

/* The variable's value, or NULL when it is unset or empty. */
static const char *env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wipes and frees a buffer that may hold a secret. */
static void free_secret(char *p, size_t len)
{
    if (p != NULL) {
        explicit_bzero(p, len);
        free(p);
    }
}

/*
 * Reads the whole file at path (at most max bytes) into a malloc'd,
 * NUL-terminated buffer. Returns 0, or -1 with errno set (EFBIG when too
 * large).
 */
static int read_file(const char *path, size_t max, char **out, size_t *len)
{
    *out = NULL;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (S_ISDIR(sb.st_mode)) {
        close(fd);
        errno = EISDIR;
        return -1;
    }
    char *buf = malloc(max + 1);
    if (buf == NULL) {
        close(fd);
        errno = ENOMEM;
        return -1;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, buf + n, max + 1 - n);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            int e = errno;
            free_secret(buf, max + 1);
            close(fd);
            errno = e;
            return -1;
        }
        if (r == 0) {
            break;
        }
        n += (size_t)r;
        if (n > max) {
            free_secret(buf, max + 1);
            close(fd);
            errno = EFBIG;
            return -1;
        }
    }
    close(fd);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

/* Reads a token file and trims white space at its ends into *out. */
static int read_token_file(const char *path, char **out, size_t *cap)
{
    size_t len;
    if (read_file(path, aws_limits.max_file_bytes, out, &len) != 0) {
        return -1;
    }
    *cap = len + 1;
    char *s = *out;
    size_t start = 0;
    while (start < len && strchr(" \t\r\n", s[start]) != NULL) {
        start++;
    }
    while (len > start && strchr(" \t\r\n", s[len - 1]) != NULL) {
        len--;
    }
    memmove(s, s + start, len - start);
    memset(s + (len - start), 0, *cap - (len - start));
    return 0;
}

/* ---- the shared files --------------------------------------------------- */

struct shared_file {
    char path[PATH_MAX];
    char *text;  /* NULL when not read */
    size_t len;
    int error;   /* 0, or the errno of reading it (ENOENT: absent) */
};

struct shared_files {
    struct shared_file cred, config;
    char profile[128];
    bool explicit_profile; /* named by the caller or AWS_PROFILE, and not
                              "default" */
    char config_section[160];
};

/* Expands a leading "~" of path with $HOME into out; -1 if too long. */
static int expand_home(const char *path, char *out, size_t outlen)
{
    int n;
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
        const char *home = env("HOME");
        n = snprintf(out, outlen, "%s%s", home != NULL ? home : "",
                     path + 1);
    } else {
        n = snprintf(out, outlen, "%s", path);
    }
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static void load_shared_file(struct shared_file *f, const char *var,
                             const char *fallback)
{
    const char *p = env(var);
    if (expand_home(p != NULL ? p : fallback, f->path, sizeof(f->path)) !=
        0) {
        f->error = ENAMETOOLONG;
        return;
    }
    if (read_file(f->path, aws_limits.max_file_bytes, &f->text, &f->len) !=
        0) {
        f->error = errno;
    }
}

/* Picks the profile and reads both files. -1 with err if the name is bad. */
static int load_shared_files(struct shared_files *s, const char *profile_arg,
                             char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    const char *p = profile_arg != NULL && profile_arg[0] != '\0'
                        ? profile_arg
                        : env("AWS_PROFILE");
    if (p == NULL) {
        p = "default";
    }
    if (strlen(p) >= sizeof(s->profile) || strpbrk(p, "[]\r\n") != NULL) {
        snprintf(err, errlen, "profile name '%.64s' is too long or has "
                 "'[', ']' or a line break", p);
        return -1;
    }
    snprintf(s->profile, sizeof(s->profile), "%s", p);
    s->explicit_profile = strcmp(p, "default") != 0;
    load_shared_file(&s->cred, "AWS_SHARED_CREDENTIALS_FILE",
                     "~/.aws/credentials");
    load_shared_file(&s->config, "AWS_CONFIG_FILE", "~/.aws/config");
    /* In the config file a profile is "[profile NAME]"; the default one is
     * "[default]", which the CLI also accepts as "[profile default]". */
    if (strcmp(p, "default") == 0 &&
        (s->config.text == NULL ||
         aws_ini_has_section(s->config.text, s->config.len, "default") ||
         !aws_ini_has_section(s->config.text, s->config.len,
                              "profile default"))) {
        snprintf(s->config_section, sizeof(s->config_section), "default");
    } else {
        snprintf(s->config_section, sizeof(s->config_section), "profile %s",
                 p);
    }
    return 0;
}

static void free_shared_files(struct shared_files *s)
{
    free_secret(s->cred.text, s->cred.len);
    free_secret(s->config.text, s->config.len);
    s->cred.text = s->config.text = NULL;
}

/* "no such file" or the reason a shared file was not read. */
static const char *file_problem(const struct shared_file *f)
{
    return f->error == ENOENT ? "no such file" : strerror(f->error);
}

/* ---- region ------------------------------------------------------------- */

static bool region_name_ok(const char *r)
{
    if (r[0] == '\0') {
        return false;
    }
    for (const char *p = r; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
              *p == '-')) {
            return false;
        }
    }
    return true;
}

/* Fills out->region: AWS_REGION, AWS_DEFAULT_REGION, the config file, or
 * the default. -1 with err when the value found is not a region name, or
 * the config file, needed for it, cannot be read. */
static int resolve_region(const struct shared_files *s,
                          struct aws_credentials *out, char *err,
                          size_t errlen)
{
    const char *from = "AWS_REGION";
    const char *r = env("AWS_REGION");
    if (r == NULL) {
        from = "AWS_DEFAULT_REGION";
        r = env("AWS_DEFAULT_REGION");
    }
    char buf[sizeof(out->region)];
    if (r == NULL && s->config.text != NULL) {
        int got = aws_ini_get(s->config.text, s->config.len,
                              s->config_section, "region", buf, sizeof(buf));
        if (got < 0) {
            snprintf(err, errlen, "region of [%s] in %s is too long",
                     s->config_section, s->config.path);
            return -1;
        }
        if (got > 0) {
            from = s->config.path;
            r = buf;
        }
    } else if (r == NULL && s->config.error != ENOENT) {
        snprintf(err, errlen, "cannot read %s for the region: %s",
                 s->config.path, file_problem(&s->config));
        return -1;
    }
    if (r == NULL) {
        r = aws_limits.default_region;
    }
    if (strlen(r) >= sizeof(out->region) || !region_name_ok(r)) {
        snprintf(err, errlen, "region '%.64s' from %s is not a region name",
                 r, from);
        return -1;
    }
    snprintf(out->region, sizeof(out->region), "%s", r);
    return 0;
}

/* ---- 1. environment ----------------------------------------------------- */

static enum provider_result from_env(struct chain *c,
                                     struct aws_credentials *out)
{
    const char *id = env("AWS_ACCESS_KEY_ID");
    const char *secret = env("AWS_SECRET_ACCESS_KEY");
    const char *token = env("AWS_SESSION_TOKEN");
    if (id == NULL && secret == NULL) {
        note(c, "env", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY not set");
        return SKIPPED;
    }
    if (id == NULL || secret == NULL) {
        return fail_with(c, "env", "%s is set but %s is not",
                         id != NULL ? "AWS_ACCESS_KEY_ID"
                                    : "AWS_SECRET_ACCESS_KEY",
                         id != NULL ? "AWS_SECRET_ACCESS_KEY"
                                    : "AWS_ACCESS_KEY_ID");
    }
    char why[256];
    if (aws_credentials_copy_value(out->access_key_id,
                                   sizeof(out->access_key_id), id,
                                   "AWS_ACCESS_KEY_ID", why,
                                   sizeof(why)) != 0 ||
        aws_credentials_copy_value(out->secret_access_key,
                                   sizeof(out->secret_access_key), secret,
                                   "AWS_SECRET_ACCESS_KEY", why,
                                   sizeof(why)) != 0 ||
        (token != NULL &&
         aws_credentials_copy_value(out->session_token,
                                    sizeof(out->session_token), token,
                                    "AWS_SESSION_TOKEN", why,
                                    sizeof(why)) != 0)) {
        return fail_with(c, "env", "%s", why);
    }
    snprintf(out->source, sizeof(out->source), "env");
    return FOUND;
}

/* ---- 2. shared files ---------------------------------------------------- */

/* Ways to get credentials from a profile that larder does not implement:
 * a profile using one must fail rather than fall through to another
 * identity. */
static const char *const unsupported_profile_keys[] = {
    "role_arn", "credential_process", "sso_session", "sso_start_url",
};

/*
 * Looks for keys in section of file f. FOUND, SKIPPED (no keys there) or
 * FAILED (partial or bad keys).
 */
static enum provider_result profile_keys(struct chain *c,
                                         const struct shared_file *f,
                                         const char *section,
                                         struct aws_credentials *out)
{
    static const struct {
        const char *key;
        size_t off, size;
    } fields[] = {
        {"aws_access_key_id", offsetof(struct aws_credentials, access_key_id),
         sizeof(out->access_key_id)},
        {"aws_secret_access_key",
         offsetof(struct aws_credentials, secret_access_key),
         sizeof(out->secret_access_key)},
        {"aws_session_token", offsetof(struct aws_credentials, session_token),
         sizeof(out->session_token)},
    };
    int got[3];
    for (int i = 0; i < 3; i++) {
        char *dst = (char *)out + fields[i].off;
        got[i] = aws_ini_get(f->text, f->len, section, fields[i].key, dst,
                             fields[i].size);
        if (got[i] < 0) {
            return fail_with(c, "profile", "%s in [%s] of %s is too long",
                             fields[i].key, section, f->path);
        }
    }
    if (!got[0] && !got[1]) {
        explicit_bzero(out->session_token, sizeof(out->session_token));
        return SKIPPED;
    }
    if (!got[0] || !got[1]) {
        return fail_with(c, "profile", "[%s] of %s has %s but no %s",
                         section, f->path, fields[got[0] ? 0 : 1].key,
                         fields[got[0] ? 1 : 0].key);
    }
    for (int i = 0; i < 3; i++) {
        char *dst = (char *)out + fields[i].off;
        char why[256];
        if (got[i] && aws_credentials_copy_value(dst, fields[i].size, dst,
                                                 fields[i].key, why,
                                                 sizeof(why)) != 0) {
            return fail_with(c, "profile", "[%s] of %s: %s", section,
                             f->path, why);
        }
    }
    snprintf(out->source, sizeof(out->source), "profile");
    return FOUND;
}

static enum provider_result from_profile(struct chain *c,
                                         const struct shared_files *s,
                                         struct aws_credentials *out)
{
    char who[160];
    snprintf(who, sizeof(who), "profile '%s'", s->profile);
    const struct {
        const struct shared_file *f;
        const char *section;
    } files[] = {
        {&s->cred, s->profile},
        {&s->config, s->config_section},
    };
    bool any_section = false;
    for (int i = 0; i < 2; i++) {
        const struct shared_file *f = files[i].f;
        if (f->text == NULL) {
            if (f->error != ENOENT) {
                return fail_with(c, "profile", "cannot read %s: %s", f->path,
                                 file_problem(f));
            }
            continue;
        }
        if (!aws_ini_has_section(f->text, f->len, files[i].section)) {
            continue;
        }
        any_section = true;
        enum provider_result r = profile_keys(c, f, files[i].section, out);
        if (r != SKIPPED) {
            return r;
        }
        for (size_t k = 0; k < sizeof(unsupported_profile_keys) /
                                   sizeof(unsupported_profile_keys[0]);
             k++) {
            char v[8];
            if (aws_ini_get(f->text, f->len, files[i].section,
                            unsupported_profile_keys[k], v, sizeof(v)) != 0) {
                return fail_with(c, "profile", "[%s] of %s uses %s, which "
                                 "larder does not support: give the profile "
                                 "keys, or use another source",
                                 files[i].section, f->path,
                                 unsupported_profile_keys[k]);
            }
        }
    }
    char says[2][192]; /* what each file holds for the profile */
    for (int i = 0; i < 2; i++) {
        const struct shared_file *f = files[i].f;
        if (f->text == NULL) {
            snprintf(says[i], sizeof(says[i]), "no such file");
        } else if (!aws_ini_has_section(f->text, f->len, files[i].section)) {
            snprintf(says[i], sizeof(says[i]), "no [%s]", files[i].section);
        } else {
            snprintf(says[i], sizeof(says[i]), "[%s] has no aws_access_key_id",
                     files[i].section);
        }
    }
    if (!any_section && s->explicit_profile) {
        return fail_with(c, "profile", "profile '%s' not found: %s: %s; %s: "
                         "%s", s->profile, s->cred.path, says[0],
                         s->config.path, says[1]);
    }
    note(c, who, "%s: %s; %s: %s", s->cred.path, says[0], s->config.path,
         says[1]);
    return SKIPPED;
}

/* ---- HTTP helpers ------------------------------------------------------- */

/* Wipes and frees a response whose body may hold credentials, and leaves
 * it empty, so freeing it again is harmless. */
static void free_response(struct http_response *resp)
{
    if (resp->body != NULL) {
        explicit_bzero(resp->body, resp->body_len);
    }
    http_response_free(resp);
    memset(resp, 0, sizeof(*resp));
}

/* Initialises libcurl before a provider's first exchange; false (and the
 * provider FAILED) if it cannot be. */
static bool http_ready(struct chain *c, const char *source)
{
    if (http_global_init() != 0) {
        fail_with(c, source, "cannot initialise the HTTP client");
        return false;
    }
    return true;
}

/*
 * Runs req with up to `attempts` attempts, retrying network failures and
 * retryable statuses after a backoff. Returns HTTP_DONE with *resp set
 * (any status), or another outcome with why.
 */
static enum http_outcome exchange_with_retries(const struct http_request *req,
                                               const struct http_retry *retry,
                                               struct http_response *resp,
                                               char *why, size_t whylen)
{
    uint64_t seed = (uint64_t)now_ms() | 1;
    unsigned attempts = retry->max_attempts ? retry->max_attempts : 1;
    for (unsigned a = 1;; a++) {
        memset(resp, 0, sizeof(*resp));
        enum http_outcome o = http_exchange(req, resp, why, whylen);
        bool again = o == HTTP_NETWORK ||
                     (o == HTTP_DONE && http_status_retryable(resp->status));
        if (!again || a >= attempts) {
            return o;
        }
        unsigned pause = http_backoff_ms(retry, a, resp->retry_after, &seed);
        free_response(resp);
        http_sleep_ms(pause);
    }
}

/* Appends name=percent-encoded(value) to the form in b; -1 if full. */
static int form_append(char *b, size_t cap, size_t *len, const char *name,
                       const char *value)
{
    static const char hex[] = "0123456789ABCDEF";
    int n = snprintf(b + *len, cap - *len, "%s%s=", *len ? "&" : "", name);
    if (n < 0 || (size_t)n >= cap - *len) {
        return -1;
    }
    *len += (size_t)n;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
        bool plain = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
                     (*p >= '0' && *p <= '9') || strchr("-_.~", *p) != NULL;
        if (*len + 4 > cap) {
            return -1;
        }
        if (plain) {
            b[(*len)++] = (char)*p;
        } else {
            b[(*len)++] = '%';
            b[(*len)++] = hex[*p >> 4];
            b[(*len)++] = hex[*p & 15];
        }
    }
    b[*len] = '\0';
    return 0;
}

/* Copies url without trailing '/' into out; -1 if too long. */
static int endpoint_base(const char *url, char *out, size_t outlen)
{
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/') {
        n--;
    }
    if (n >= outlen) {
        return -1;
    }
    memcpy(out, url, n);
    out[n] = '\0';
    return 0;
}

/* ---- 3. web identity ---------------------------------------------------- */

/* The STS endpoint for region: AWS_ENDPOINT_URL_STS, AWS_ENDPOINT_URL, or
 * the regional one. */
static int sts_endpoint(const char *region, char *out, size_t outlen)
{
    const char *e = env("AWS_ENDPOINT_URL_STS");
    if (e == NULL) {
        e = env("AWS_ENDPOINT_URL");
    }
    if (e != NULL) {
        return endpoint_base(e, out, outlen);
    }
    bool china = strncmp(region, "cn-", 3) == 0;
    int n = snprintf(out, outlen, "https://sts.%s.amazonaws.com%s", region,
                     china ? ".cn" : "");
    return n < 0 || (size_t)n >= outlen ? -1 : 0;
}

static enum provider_result from_web_identity(struct chain *c,
                                              struct aws_credentials *out)
{
    const char *token_file = env("AWS_WEB_IDENTITY_TOKEN_FILE");
    const char *role_arn = env("AWS_ROLE_ARN");
    if (token_file == NULL && role_arn == NULL) {
        note(c, "web-identity", "AWS_WEB_IDENTITY_TOKEN_FILE and AWS_ROLE_ARN"
             " not set");
        return SKIPPED;
    }
    if (token_file == NULL || role_arn == NULL) {
        return fail_with(c, "web-identity", "%s is set but %s is not",
                         token_file ? "AWS_WEB_IDENTITY_TOKEN_FILE"
                                    : "AWS_ROLE_ARN",
                         token_file ? "AWS_ROLE_ARN"
                                    : "AWS_WEB_IDENTITY_TOKEN_FILE");
    }
    if (!http_ready(c, "web-identity")) {
        return FAILED;
    }
    char url[1024];
    if (sts_endpoint(out->region, url, sizeof(url) - 1) != 0) {
        return fail_with(c, "web-identity", "STS endpoint URL too long");
    }
    strcat(url, "/");
    char session[128];
    const char *name = env("AWS_ROLE_SESSION_NAME");
    if (name != NULL) {
        snprintf(session, sizeof(session), "%s", name);
    } else {
        snprintf(session, sizeof(session), "larder-%lld",
                 (long long)(now_ms() / 1000));
    }
    char *token = NULL;
    size_t token_cap = 0;
    if (read_token_file(token_file, &token, &token_cap) != 0) {
        return fail_with(c, "web-identity", "cannot read "
                         "AWS_WEB_IDENTITY_TOKEN_FILE %s: %s", token_file,
                         strerror(errno));
    }
    if (token[0] == '\0') {
        free_secret(token, token_cap);
        return fail_with(c, "web-identity", "AWS_WEB_IDENTITY_TOKEN_FILE %s "
                         "is empty", token_file);
    }
    size_t cap = 3 * (strlen(token) + strlen(role_arn) + strlen(session)) +
                 256;
    char *form = malloc(cap);
    size_t flen = 0;
    if (form == NULL ||
        form_append(form, cap, &flen, "Action",
                    "AssumeRoleWithWebIdentity") != 0 ||
        form_append(form, cap, &flen, "RoleArn", role_arn) != 0 ||
        form_append(form, cap, &flen, "RoleSessionName", session) != 0 ||
        form_append(form, cap, &flen, "Version", "2011-06-15") != 0 ||
        form_append(form, cap, &flen, "WebIdentityToken", token) != 0) {
        free_secret(form, cap);
        free_secret(token, token_cap);
        return fail_with(c, "web-identity", "out of memory");
    }
    free_secret(token, token_cap);

    static const char *const headers[] = {
        "Content-Type: application/x-www-form-urlencoded; charset=utf-8",
        "Accept: application/xml", NULL,
    };
    struct http_request req;
    http_request_init(&req, "POST", url);
    req.headers = headers;
    req.body = form;
    req.body_len = flen;
    req.timeout_ms = aws_limits.sts_timeout_ms;
    req.connect_timeout_ms = aws_limits.sts_connect_timeout_ms;
    req.stall_timeout_ms = aws_limits.sts_timeout_ms;
    req.max_body = aws_limits.max_reply_bytes;
    struct http_retry retry;
    http_retry_default(&retry);
    struct http_response resp;
    char why[512];
    enum http_outcome o = exchange_with_retries(&req, &retry, &resp, why,
                                                sizeof(why));
    free_secret(form, cap);
    enum provider_result r = FAILED;
    if (o != HTTP_DONE) {
        fail_with(c, "web-identity", "STS at %s: %s", url, why);
    } else if (resp.status < 200 || resp.status > 299) {
        /* An STS error document says why; anything else is a status. */
        struct aws_credentials scratch;
        char stserr[512] = "";
        if (resp.body == NULL ||
            aws_sts_parse_credentials(resp.body, resp.body_len, &scratch,
                                      stserr, sizeof(stserr)) == 0 ||
            strncmp(stserr, "STS error", 9) != 0) {
            stserr[0] = '\0';
        }
        explicit_bzero(&scratch, sizeof(scratch));
        fail_with(c, "web-identity", "AssumeRoleWithWebIdentity at %s for "
                  "%s: HTTP %ld%s%s", url, role_arn, resp.status,
                  stserr[0] ? ": " : "", stserr);
    } else if (aws_sts_parse_credentials(resp.body, resp.body_len, out, why,
                                         sizeof(why)) != 0) {
        fail_with(c, "web-identity", "AssumeRoleWithWebIdentity at %s: %s",
                  url, why);
    } else {
        snprintf(out->source, sizeof(out->source), "web-identity");
        r = FOUND;
    }
    free_response(&resp);
    return r;
}

/* ---- 4. container endpoint (ECS, EKS Pod Identity) ---------------------- */

static enum provider_result from_container(struct chain *c,
                                           struct aws_credentials *out)
{
    const char *rel = env("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
    const char *full = env("AWS_CONTAINER_CREDENTIALS_FULL_URI");
    if (rel == NULL && full == NULL) {
        note(c, "ecs", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and "
             "AWS_CONTAINER_CREDENTIALS_FULL_URI not set");
        return SKIPPED;
    }
    if (!http_ready(c, "ecs")) {
        return FAILED;
    }
    char url[2048], why[512];
    if (aws_container_url(rel, full, url, sizeof(url), why, sizeof(why)) !=
        0) {
        return fail_with(c, "ecs", "%s", why);
    }
    /* Authorization: the token file wins over the variable (it rotates). */
    char *auth = NULL;
    size_t auth_cap = 0;
    const char *auth_file = env("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    const char *auth_value = env("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    if (auth_file != NULL) {
        char *tok = NULL;
        size_t tok_cap = 0;
        if (read_token_file(auth_file, &tok, &tok_cap) != 0) {
            return fail_with(c, "ecs", "cannot read "
                             "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s: %s",
                             auth_file, strerror(errno));
        }
        auth_value = tok;
        auth_cap = tok_cap;
        auth = tok;
    }
    char *header = NULL;
    size_t header_cap = 0;
    if (auth_value != NULL) {
        if (strpbrk(auth_value, "\r\n") != NULL) {
            free_secret(auth, auth_cap);
            return fail_with(c, "ecs", "the container authorization token "
                             "has a line break");
        }
        header_cap = strlen(auth_value) + 32;
        header = malloc(header_cap);
        if (header == NULL) {
            free_secret(auth, auth_cap);
            return fail_with(c, "ecs", "out of memory");
        }
        snprintf(header, header_cap, "Authorization: %s", auth_value);
    }
    free_secret(auth, auth_cap);
    const char *headers[3] = {"Accept: application/json", header, NULL};

    struct http_request req;
    http_request_init(&req, "GET", url);
    req.headers = headers;
    req.timeout_ms = aws_limits.ecs_timeout_ms;
    req.connect_timeout_ms = aws_limits.ecs_connect_timeout_ms;
    req.stall_timeout_ms = aws_limits.ecs_timeout_ms;
    req.max_body = aws_limits.max_reply_bytes;
    struct http_retry retry = {aws_limits.ecs_attempts,
                               aws_limits.ecs_backoff_base_ms,
                               aws_limits.ecs_backoff_max_ms};
    struct http_response resp;
    enum http_outcome o = exchange_with_retries(&req, &retry, &resp, why,
                                                sizeof(why));
    free_secret(header, header_cap);
    enum provider_result r = FAILED;
    if (o != HTTP_DONE) {
        fail_with(c, "ecs", "%s: %s", url, why);
    } else if (resp.status != 200) {
        fail_with(c, "ecs", "%s: HTTP %ld%s", url, resp.status,
                  resp.status == 401 || resp.status == 403
                      ? " (check AWS_CONTAINER_AUTHORIZATION_TOKEN"
                        "[_FILE])"
                      : "");
    } else if (aws_container_parse_credentials(resp.body, resp.body_len, out,
                                               why, sizeof(why)) != 0) {
        fail_with(c, "ecs", "%s: %s", url, why);
    } else {
        snprintf(out->source, sizeof(out->source), "ecs");
        r = FOUND;
    }
    free_response(&resp);
    return r;
}

/* ---- 5. EC2 instance metadata (IMDSv2) ---------------------------------- */

/* One IMDS exchange with the short timeouts; -1 with why unless 200. */
static int imds_call(const char *method, const char *url,
                     const char *const *headers, struct http_response *resp,
                     char *why, size_t whylen)
{
    struct http_request req;
    http_request_init(&req, method, url);
    req.headers = headers;
    req.timeout_ms = aws_limits.imds_timeout_ms;
    req.connect_timeout_ms = aws_limits.imds_timeout_ms;
    req.stall_timeout_ms = aws_limits.imds_timeout_ms;
    req.max_body = aws_limits.max_reply_bytes;
    memset(resp, 0, sizeof(*resp));
    char e[384];
    if (http_exchange(&req, resp, e, sizeof(e)) != HTTP_DONE) {
        snprintf(why, whylen, "%s %s: %s", method, url, e);
        return -1;
    }
    if (resp->status != 200 || resp->body == NULL) {
        snprintf(why, whylen, "%s %s: HTTP %ld", method, url, resp->status);
        return -1;
    }
    return 0;
}

static enum provider_result from_imds(struct chain *c,
                                      struct aws_credentials *out)
{
    const char *off = env("AWS_EC2_METADATA_DISABLED");
    if (off != NULL && strcasecmp(off, "true") == 0) {
        note(c, "imds", "disabled by AWS_EC2_METADATA_DISABLED");
        return SKIPPED;
    }
    if (!http_ready(c, "imds")) {
        return FAILED;
    }
    const char *ep = env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
    if (ep == NULL) {
        const char *mode = env("AWS_EC2_METADATA_SERVICE_ENDPOINT_MODE");
        ep = mode != NULL && strcasecmp(mode, "IPv6") == 0
                 ? aws_limits.imds_endpoint_v6
                 : aws_limits.imds_endpoint_v4;
    }
    char base[1024], url[1400], why[768];
    if (endpoint_base(ep, base, sizeof(base)) != 0) {
        return fail_with(c, "imds", "AWS_EC2_METADATA_SERVICE_ENDPOINT is "
                         "too long");
    }

    /* The session token (IMDSv2). */
    char ttl[96];
    snprintf(ttl, sizeof(ttl), "X-aws-ec2-metadata-token-ttl-seconds: %s",
             aws_limits.imds_token_ttl_s);
    const char *put_headers[] = {ttl, NULL};
    snprintf(url, sizeof(url), "%s/latest/api/token", base);
    struct http_response resp;
    if (imds_call("PUT", url, put_headers, &resp, why, sizeof(why)) != 0) {
        free_response(&resp);
        return fail_with(c, "imds", "no IMDSv2 session token: %s (not on "
                         "EC2? set AWS_EC2_METADATA_DISABLED=true to skip "
                         "IMDS)", why);
    }
    char token_header[1200];
    char token[1024];
    char tok_why[160];
    int bad = resp.body_len >= sizeof(token)
                  ? -1
                  : aws_credentials_copy_value(token, sizeof(token),
                                               resp.body, "IMDS token",
                                               tok_why, sizeof(tok_why));
    free_response(&resp);
    if (bad != 0) {
        return fail_with(c, "imds", "PUT %s: the token is empty, too long "
                         "or not printable", url);
    }
    snprintf(token_header, sizeof(token_header),
             "X-aws-ec2-metadata-token: %s", token);
    explicit_bzero(token, sizeof(token));
    const char *get_headers[] = {token_header, NULL};

    /* The role, then its credentials. */
    enum provider_result r = FAILED;
    char role[256];
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/",
             base);
    if (imds_call("GET", url, get_headers, &resp, why, sizeof(why)) != 0) {
        fail_with(c, "imds", "%s%s", why,
                  resp.status == 404 ? " (no IAM role attached to the "
                                       "instance?)"
                                     : "");
        goto done;
    }
    if (aws_imds_parse_role(resp.body, resp.body_len, role, sizeof(role),
                            why, sizeof(why)) != 0) {
        fail_with(c, "imds", "GET %s: %s", url, why);
        goto done;
    }
    free_response(&resp);
    snprintf(url, sizeof(url), "%s/latest/meta-data/iam/security-credentials/"
             "%s", base, role);
    if (imds_call("GET", url, get_headers, &resp, why, sizeof(why)) != 0) {
        fail_with(c, "imds", "%s", why);
        goto done;
    }
    if (aws_container_parse_credentials(resp.body, resp.body_len, out, why,
                                        sizeof(why)) != 0) {
        fail_with(c, "imds", "GET %s: %s", url, why);
        goto done;
    }
    snprintf(out->source, sizeof(out->source), "imds");
    r = FOUND;
done:
    free_response(&resp);
    explicit_bzero(token_header, sizeof(token_header));
    return r;
}

/* ---- the chain ---------------------------------------------------------- */

int aws_credentials_resolve(struct aws_credentials *out,
                            const char *profile_or_null, char *err,
                            size_t errlen)
{
    memset(out, 0, sizeof(*out));
    struct shared_files files;
    if (load_shared_files(&files, profile_or_null, err, errlen) != 0) {
        return -1;
    }
    if (resolve_region(&files, out, err, errlen) != 0) {
        free_shared_files(&files);
        return -1;
    }
    struct chain *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        free_shared_files(&files);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    enum provider_result r = from_env(c, out);
    if (r == SKIPPED) {
        r = from_profile(c, &files, out);
    }
    free_shared_files(&files);
    if (r == SKIPPED) {
        r = from_web_identity(c, out);
    }
    if (r == SKIPPED) {
        r = from_container(c, out);
    }
    if (r == SKIPPED) {
        r = from_imds(c, out);
    }
    if (r != FOUND) {
        if (r == FAILED) {
            snprintf(err, errlen, "AWS credentials: %s failed: %s%s%s%s",
                     c->failed_source, c->failure,
                     c->notes[0] ? " (tried before: " : "", c->notes,
                     c->notes[0] ? ")" : "");
        } else {
            snprintf(err, errlen, "no AWS credentials found; tried %s",
                     c->notes);
        }
        explicit_bzero(out, sizeof(*out));
    }
    free(c);
    return r == FOUND ? 0 : -1;
}
