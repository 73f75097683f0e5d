/*
 * This file implements a node's users (auth.h): salted PBKDF2 password
 * hashes and their text form, the ACL file parser, immutable user tables
 * and their publication and reclamation on reload, per-connection
 * sessions, and the loopback test behind protected mode.
 *
 * Reclamation: a reload (any thread, under a.lock) unpublishes the old
 * table onto a.retired; auth_reclaim(), on one thread only, hands retired
 * tables to a qsbr (qsbr.h) whose readers are the workers' batch epochs,
 * and frees them once every worker has left the read section it may have
 * loaded them in. Until the readers are named, retired tables wait for
 * auth_destroy().
 */
#include "auth.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "log.h"
#include "qsbr.h"

struct auth {
    struct auth_table *current; /* qsbr_publish() / qsbr_load() */
    bool required;              /* atomic copy of current->required */
    pthread_mutex_t lock;       /* serialises reloads; guards what follows */
    bool has_defpass;
    struct auth_hash defpass;   /* the default user's, kept across reloads */
    struct auth_table *retired; /* unpublished, not yet handed to qsbr */
    bool readers_set;
    struct qsbr qsbr; /* used by the auth_reclaim() thread only */
};

/* ------------------------------------------------------------------ */
/* Hashes */

static const char hexdigits[] = "0123456789abcdef";

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Decodes 2*n hex digits into n bytes; false on a non-hex digit. */
static bool hex_decode(const char *s, size_t n, uint8_t *out)
{
    for (size_t i = 0; i < n; i++) {
        int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            return false;
        }
        out[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

static void hex_encode(const uint8_t *p, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hexdigits[p[i] >> 4];
        out[2 * i + 1] = hexdigits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

/* Derives the PBKDF2-HMAC-SHA256 hash of pw with h's salt and count. */
static bool derive(const struct auth_hash *h, const char *pw, size_t pwlen,
                   uint8_t out[AUTH_HASH_LEN])
{
    if (pwlen > INT_MAX || h->iterations == 0 || h->iterations > INT_MAX) {
        return false;
    }
    return PKCS5_PBKDF2_HMAC(pw, (int)pwlen, h->salt, h->salt_len,
                             (int)h->iterations, EVP_sha256(), AUTH_HASH_LEN,
                             out) == 1;
}

int auth_hash_password(const char *pw, size_t pwlen, uint32_t iterations,
                       struct auth_hash *out)
{
    memset(out, 0, sizeof(*out));
    out->iterations = iterations;
    out->salt_len = AUTH_SALT_LEN;
    if (iterations < AUTH_ITER_MIN || iterations > AUTH_ITER_MAX ||
        RAND_bytes(out->salt, AUTH_SALT_LEN) != 1 ||
        !derive(out, pw, pwlen, out->hash)) {
        return -1;
    }
    return 0;
}

void auth_hash_format(const struct auth_hash *h, char *out, size_t outlen)
{
    char salt[2 * AUTH_SALT_MAX + 1], hash[2 * AUTH_HASH_LEN + 1];
    hex_encode(h->salt, h->salt_len, salt);
    hex_encode(h->hash, AUTH_HASH_LEN, hash);
    snprintf(out, outlen, "%s$%u$%s$%s", AUTH_SCHEME, (unsigned)h->iterations,
             salt, hash);
}

int auth_hash_parse(const char *s, size_t len, struct auth_hash *out,
                    char *err, size_t errlen)
{
    static const char prefix[] = AUTH_SCHEME "$";
    const size_t plen = sizeof(prefix) - 1;
    memset(out, 0, sizeof(*out));
    if (len < plen || memcmp(s, prefix, plen) != 0) {
        snprintf(err, errlen,
                 "the password must be a hash made by 'larderd "
                 "--hash-password' (" AUTH_SCHEME "$ITER$SALT_HEX$HASH_HEX), "
                 "not plain text");
        return -1;
    }
    const char *p = s + plen, *end = s + len;
    const char *d1 = memchr(p, '$', (size_t)(end - p));
    const char *d2 = d1 ? memchr(d1 + 1, '$', (size_t)(end - d1 - 1)) : NULL;
    if (d2 == NULL || memchr(d2 + 1, '$', (size_t)(end - d2 - 1)) != NULL) {
        snprintf(err, errlen, "a hash has four '$'-separated fields: "
                              AUTH_SCHEME "$ITER$SALT_HEX$HASH_HEX");
        return -1;
    }
    uint64_t iter = 0;
    size_t ndig = (size_t)(d1 - p);
    bool digits = ndig > 0 && ndig <= 8 && p[0] != '0';
    for (size_t i = 0; digits && i < ndig; i++) {
        digits = p[i] >= '0' && p[i] <= '9';
        iter = iter * 10 + (uint64_t)(p[i] - '0');
    }
    if (!digits || iter < AUTH_ITER_MIN || iter > AUTH_ITER_MAX) {
        snprintf(err, errlen, "the iteration count must be a number from %u "
                              "to %u", AUTH_ITER_MIN, AUTH_ITER_MAX);
        return -1;
    }
    size_t saltx = (size_t)(d2 - d1 - 1), hashx = (size_t)(end - d2 - 1);
    if (saltx % 2 != 0 || saltx < 2 * AUTH_SALT_MIN ||
        saltx > 2 * AUTH_SALT_MAX ||
        !hex_decode(d1 + 1, saltx / 2, out->salt)) {
        snprintf(err, errlen, "the salt must be %u to %u bytes in hex",
                 AUTH_SALT_MIN, AUTH_SALT_MAX);
        return -1;
    }
    if (hashx != 2 * AUTH_HASH_LEN ||
        !hex_decode(d2 + 1, AUTH_HASH_LEN, out->hash)) {
        snprintf(err, errlen, "the hash must be %u bytes in hex",
                 AUTH_HASH_LEN);
        return -1;
    }
    out->iterations = (uint32_t)iter;
    out->salt_len = (uint8_t)(saltx / 2);
    return 0;
}

bool auth_hash_verify(const struct auth_hash *h, const char *pw, size_t pwlen)
{
    uint8_t d[AUTH_HASH_LEN] = {0};
    bool derived = derive(h, pw, pwlen, d);
    bool same = CRYPTO_memcmp(d, h->hash, AUTH_HASH_LEN) == 0;
    OPENSSL_cleanse(d, sizeof(d));
    return derived && same;
}

const char *auth_role_name(enum auth_role role)
{
    return role == AUTH_ROLE_ADMIN ? "admin" : "reader";
}

/* ------------------------------------------------------------------ */
/* ACL files */

void auth_users_deinit(struct auth_users *u)
{
    if (u->v != NULL) {
        OPENSSL_cleanse(u->v, u->cap * sizeof(*u->v));
    }
    free(u->v);
    u->v = NULL;
    u->n = u->cap = 0;
}

static struct auth_user *users_add(struct auth_users *u)
{
    if (u->n == u->cap) {
        size_t cap = u->cap ? u->cap * 2 : 16;
        struct auth_user *v = realloc(u->v, cap * sizeof(*v));
        if (v == NULL) {
            return NULL;
        }
        u->v = v;
        u->cap = cap;
    }
    struct auth_user *user = &u->v[u->n++];
    memset(user, 0, sizeof(*user));
    return user;
}

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r';
}

#define ACL_FIELDS 4
#define SHOW_MAX 40 /* longest piece of a bad line quoted in an error */

/* Parses one line; "SOURCE:LINE: why" in err on error. */
static int acl_line(const char *line, size_t len, const char *source,
                    unsigned lineno, struct auth_users *out, char *err,
                    size_t errlen)
{
    const char *tok[ACL_FIELDS + 1];
    size_t tlen[ACL_FIELDS + 1];
    size_t ntok = 0;
    char why[256];
    if (memchr(line, '\0', len) != NULL) {
        snprintf(err, errlen, "%s:%u: NUL byte in the line", source, lineno);
        return -1;
    }
    for (size_t i = 0; i < len && ntok <= ACL_FIELDS;) {
        while (i < len && is_blank(line[i])) {
            i++;
        }
        size_t start = i;
        while (i < len && !is_blank(line[i])) {
            i++;
        }
        if (i > start) {
            tok[ntok] = line + start;
            tlen[ntok++] = i - start;
        }
    }
    if (ntok == 0 || tok[0][0] == '#') {
        return 0;
    }
    if (tlen[0] != 4 || memcmp(tok[0], "user", 4) != 0) {
        snprintf(err, errlen,
                 "%s:%u: unknown directive '%.*s' (expected 'user NAME ROLE "
                 "HASH')", source, lineno,
                 (int)(tlen[0] > SHOW_MAX ? SHOW_MAX : tlen[0]), tok[0]);
        return -1;
    }
    if (ntok != ACL_FIELDS) {
        snprintf(err, errlen, "%s:%u: expected 'user NAME ROLE HASH', got "
                              "%s%zu fields", source, lineno,
                 ntok > ACL_FIELDS ? "more than " : "",
                 ntok > ACL_FIELDS ? (size_t)ACL_FIELDS : ntok);
        return -1;
    }
    if (tlen[1] > AUTH_NAME_MAX) {
        snprintf(err, errlen, "%s:%u: user name longer than %d bytes", source,
                 lineno, AUTH_NAME_MAX);
        return -1;
    }
    for (size_t i = 0; i < tlen[1]; i++) {
        if (tok[1][i] < '!' || tok[1][i] > '~') {
            snprintf(err, errlen, "%s:%u: user name has a byte that is not "
                                  "printable ASCII", source, lineno);
            return -1;
        }
    }
    enum auth_role role;
    if (tlen[2] == 6 && strncasecmp(tok[2], "reader", 6) == 0) {
        role = AUTH_ROLE_READER;
    } else if (tlen[2] == 5 && strncasecmp(tok[2], "admin", 5) == 0) {
        role = AUTH_ROLE_ADMIN;
    } else {
        snprintf(err, errlen, "%s:%u: unknown role '%.*s' for user '%.*s' "
                              "(reader or admin)", source, lineno,
                 (int)(tlen[2] > SHOW_MAX ? SHOW_MAX : tlen[2]), tok[2],
                 (int)tlen[1], tok[1]);
        return -1;
    }
    struct auth_hash h;
    if (auth_hash_parse(tok[3], tlen[3], &h, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s:%u: user '%.*s': %s", source, lineno,
                 (int)tlen[1], tok[1], why);
        return -1;
    }
    if (out->n >= AUTH_USERS_MAX) {
        snprintf(err, errlen, "%s:%u: more than %d users", source, lineno,
                 AUTH_USERS_MAX);
        return -1;
    }
    struct auth_user *u = users_add(out);
    if (u == NULL) {
        snprintf(err, errlen, "%s:%u: out of memory", source, lineno);
        return -1;
    }
    memcpy(u->name, tok[1], tlen[1]);
    u->role = role;
    u->hash = h;
    u->line = lineno;
    return 0;
}

/* Orders users by name, then by line. */
static int user_cmp(const void *a, const void *b)
{
    const struct auth_user *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c != 0 ? c : (x->line > y->line) - (x->line < y->line);
}

/* The first pair of users with one name in a sorted array, or NULL. */
static const struct auth_user *find_duplicate(const struct auth_user *v,
                                              size_t n)
{
    for (size_t i = 1; i < n; i++) {
        if (strcmp(v[i - 1].name, v[i].name) == 0) {
            return &v[i - 1];
        }
    }
    return NULL;
}

int auth_acl_parse(const char *text, size_t len, const char *source,
                   struct auth_users *out, char *err, size_t errlen)
{
    size_t first = out->n, pos = 0;
    unsigned lineno = 0;
    while (pos < len) {
        const char *line = text + pos;
        const char *nl = memchr(line, '\n', len - pos);
        size_t llen = nl ? (size_t)(nl - line) : len - pos;
        pos += llen + (nl != NULL);
        lineno++;
        if (acl_line(line, llen, source, lineno, out, err, errlen) != 0) {
            return -1;
        }
    }
    /* Duplicates: report the later line, naming the first. */
    size_t n = out->n - first;
    if (n < 2) {
        return 0;
    }
    struct auth_user *sorted = malloc(n * sizeof(*sorted));
    if (sorted == NULL) {
        snprintf(err, errlen, "%s: out of memory", source);
        return -1;
    }
    memcpy(sorted, out->v + first, n * sizeof(*sorted));
    qsort(sorted, n, sizeof(*sorted), user_cmp);
    const struct auth_user *dup = find_duplicate(sorted, n);
    if (dup != NULL) {
        snprintf(err, errlen, "%s:%u: duplicate user '%s' (first on line %u)",
                 source, dup[1].line, dup->name, dup->line);
    }
    OPENSSL_cleanse(sorted, n * sizeof(*sorted));
    free(sorted);
    return dup != NULL ? -1 : 0;
}

int auth_acl_load(const char *path, struct auth_users *out, char *err,
                  size_t errlen)
{
    FILE *f = fopen(path, "rb");
    struct stat st;
    if (f == NULL || fstat(fileno(f), &st) != 0) {
        snprintf(err, errlen, "cannot open ACL file %s: %s", path,
                 strerror(errno));
        if (f != NULL) {
            fclose(f);
        }
        return -1;
    }
    if (!S_ISREG(st.st_mode) || (uint64_t)st.st_size > AUTH_FILE_MAX) {
        snprintf(err, errlen, "ACL file %s is not a regular file of at most "
                              "%u bytes", path, AUTH_FILE_MAX);
        fclose(f);
        return -1;
    }
    char *text = malloc((size_t)st.st_size + 1);
    size_t len = text ? fread(text, 1, (size_t)st.st_size, f) : 0;
    bool failed = text == NULL || ferror(f);
    fclose(f);
    if (failed) {
        snprintf(err, errlen, "cannot read ACL file %s", path);
        free(text);
        return -1;
    }
    if (st.st_mode & S_IROTH) {
        log_warning("ACL file %s is readable by every user of the machine; "
                    "consider chmod 600", path);
    }
    int rc = auth_acl_parse(text, len, path, out, err, errlen);
    OPENSSL_cleanse(text, len);
    free(text);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Tables */

struct auth_table *auth_table_create(const struct auth_users *users,
                                     const struct auth_hash *defpass,
                                     bool has_acl_file,
                                     uint32_t dummy_iterations, char *err,
                                     size_t errlen)
{
    size_t n = users->n + (defpass != NULL);
    struct auth_table *t = calloc(1, sizeof(*t) + n * sizeof(t->users[0]));
    if (t == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (users->n > 0) {
        memcpy(t->users, users->v, users->n * sizeof(t->users[0]));
    }
    if (defpass != NULL) {
        struct auth_user *d = &t->users[users->n];
        snprintf(d->name, sizeof(d->name), "%s", AUTH_DEFAULT_USER);
        d->role = AUTH_ROLE_ADMIN;
        d->hash = *defpass;
    }
    t->nusers = n;
    qsort(t->users, n, sizeof(t->users[0]), user_cmp);
    const struct auth_user *dup = find_duplicate(t->users, n);
    if (dup != NULL) {
        if (dup->line == 0) {
            snprintf(err, errlen,
                     "the ACL file defines user '%s' (line %u) and "
                     "requirepass sets its password too: use only one",
                     dup->name, dup[1].line);
        } else {
            snprintf(err, errlen, "duplicate user '%s' (lines %u and %u)",
                     dup->name, dup->line, dup[1].line);
        }
        OPENSSL_cleanse(t->users, n * sizeof(t->users[0]));
        free(t);
        return NULL;
    }
    t->required = defpass != NULL || has_acl_file;
    t->dummy.iterations = dummy_iterations;
    t->dummy.salt_len = AUTH_SALT_LEN;
    return t;
}

const struct auth_user *auth_table_find(const struct auth_table *t,
                                        const char *name, size_t len)
{
    size_t lo = 0, hi = t->nusers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const char *un = t->users[mid].name;
        size_t ulen = strlen(un);
        int c = memcmp(name, un, len < ulen ? len : ulen);
        if (c == 0) {
            c = (len > ulen) - (len < ulen);
        }
        if (c == 0) {
            return &t->users[mid];
        }
        if (c < 0) {
            hi = mid;
        } else {
            lo = mid + 1;
        }
    }
    return NULL;
}

const struct auth_user *auth_table_verify(const struct auth_table *t,
                                          const char *name, size_t namelen,
                                          const char *pw, size_t pwlen)
{
    const struct auth_user *u = auth_table_find(t, name, namelen);
    if (u == NULL) {
        auth_hash_verify(&t->dummy, pw, pwlen); /* same cost, no answer */
        return NULL;
    }
    return auth_hash_verify(&u->hash, pw, pwlen) ? u : NULL;
}

/* Frees a table, wiping its hashes. */
static void table_free(void *arg)
{
    struct auth_table *t = arg;
    OPENSSL_cleanse(t->users, t->nusers * sizeof(t->users[0]));
    free(t);
}

/* ------------------------------------------------------------------ */
/* Sessions */

static void session_set(struct auth_session *s, const char *user,
                        enum auth_role role, uint64_t generation)
{
    snprintf(s->user, sizeof(s->user), "%s", user);
    s->role = role;
    s->authenticated = true;
    s->generation = generation;
}

void auth_session_refresh(struct auth_session *s, const struct auth_table *t)
{
    if (!t->required) {
        session_set(s, AUTH_DEFAULT_USER, AUTH_ROLE_ADMIN, t->generation);
        return;
    }
    if (s->authenticated) {
        const struct auth_user *u = auth_table_find(t, s->user,
                                                    strlen(s->user));
        if (u != NULL) {
            s->role = u->role;
        } else {
            s->authenticated = false;
            s->user[0] = '\0';
        }
    }
    s->generation = t->generation;
}

bool auth_session_login(struct auth_session *s, const struct auth_table *t,
                        const char *name, size_t namelen, const char *pw,
                        size_t pwlen)
{
    if (!t->required) {
        bool is_default = namelen == strlen(AUTH_DEFAULT_USER) &&
                          memcmp(name, AUTH_DEFAULT_USER, namelen) == 0;
        if (is_default) {
            session_set(s, AUTH_DEFAULT_USER, AUTH_ROLE_ADMIN, t->generation);
        }
        return is_default;
    }
    const struct auth_user *u = auth_table_verify(t, name, namelen, pw, pwlen);
    if (u != NULL) {
        session_set(s, u->name, u->role, t->generation);
    }
    return u != NULL;
}

/* ------------------------------------------------------------------ */
/* HTTP Basic credentials */

int auth_basic_parse(const char *header, char *user, size_t userlen,
                     char *pw, size_t pwlen)
{
    static const char scheme[] = "Basic ";
    if (header == NULL ||
        strncasecmp(header, scheme, sizeof(scheme) - 1) != 0) {
        return -1;
    }
    const char *b64 = header + sizeof(scheme) - 1;
    while (*b64 == ' ') {
        b64++;
    }
    size_t n = strlen(b64);
    while (n > 0 && b64[n - 1] == ' ') {
        n--;
    }
    /* base64 of user:password, both at most their buffers (with a NUL). */
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > userlen + pwlen) {
        return -1;
    }
    unsigned char *raw = malloc(n / 4 * 3 + 1);
    if (raw == NULL) {
        return -1;
    }
    int len = EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)n);
    int rc = -1;
    if (len >= 0) {
        /* EVP_DecodeBlock counts the '=' padding as zero bytes. */
        if (b64[n - 1] == '=') {
            len--;
            if (b64[n - 2] == '=') {
                len--;
            }
        }
        const unsigned char *colon = memchr(raw, ':', (size_t)len);
        size_t ulen = colon != NULL ? (size_t)(colon - raw) : 0;
        size_t plen = colon != NULL ? (size_t)len - ulen - 1 : 0;
        if (colon != NULL && ulen < userlen && plen < pwlen &&
            memchr(raw, '\0', (size_t)len) == NULL) {
            memcpy(user, raw, ulen);
            user[ulen] = '\0';
            memcpy(pw, colon + 1, plen);
            pw[plen] = '\0';
            rc = 0;
        }
    }
    OPENSSL_cleanse(raw, n / 4 * 3 + 1);
    free(raw);
    return rc;
}

/* ------------------------------------------------------------------ */
/* Protected mode */

bool auth_addr_is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, addr, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    if (inet_pton(AF_INET6, addr, &a6) == 1) {
        return IN6_IS_ADDR_LOOPBACK(&a6) ||
               (IN6_IS_ADDR_V4MAPPED(&a6) && a6.s6_addr[12] == 127);
    }
    return false;
}

/* ------------------------------------------------------------------ */
/* Publication */

int auth_create(const struct auth_config *cfg, struct auth **out, char *err,
                size_t errlen)
{
    struct auth *a = calloc(1, sizeof(*a));
    *out = NULL;
    if (a == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&a->lock, NULL);
    qsbr_init(&a->qsbr, NULL, 0);
    if (auth_reload(a, cfg, err, errlen) != 0) {
        auth_destroy(&a);
        return -1;
    }
    *out = a;
    return 0;
}

void auth_destroy(struct auth **ap)
{
    struct auth *a = *ap;
    if (a == NULL) {
        return;
    }
    qsbr_deinit(&a->qsbr);
    while (a->retired != NULL) {
        struct auth_table *next = a->retired->retired_next;
        table_free(a->retired);
        a->retired = next;
    }
    if (a->current != NULL) {
        table_free(a->current);
    }
    OPENSSL_cleanse(&a->defpass, sizeof(a->defpass));
    pthread_mutex_destroy(&a->lock);
    free(a);
    *ap = NULL;
}

void auth_set_readers(struct auth *a, uint64_t *const *epochs, size_t n)
{
    pthread_mutex_lock(&a->lock);
    qsbr_init(&a->qsbr, epochs, n);
    a->readers_set = true;
    pthread_mutex_unlock(&a->lock);
}

int auth_reload(struct auth *a, const struct auth_config *cfg, char *err,
                size_t errlen)
{
    if (cfg->iterations < AUTH_ITER_MIN || cfg->iterations > AUTH_ITER_MAX) {
        snprintf(err, errlen, "hash-iterations must be from %u to %u",
                 AUTH_ITER_MIN, AUTH_ITER_MAX);
        return -1;
    }
    struct auth_hash newpass = {0};
    bool has_new = cfg->requirepass != NULL && cfg->requirepass[0] != '\0';
    if (has_new && auth_hash_password(cfg->requirepass,
                                      strlen(cfg->requirepass),
                                      cfg->iterations, &newpass) != 0) {
        snprintf(err, errlen, "cannot hash requirepass");
        return -1;
    }
    struct auth_users users = {0};
    bool has_file = cfg->acl_file != NULL && cfg->acl_file[0] != '\0';
    if (has_file && auth_acl_load(cfg->acl_file, &users, err, errlen) != 0) {
        auth_users_deinit(&users);
        OPENSSL_cleanse(&newpass, sizeof(newpass));
        return -1;
    }
    int rc = -1;
    pthread_mutex_lock(&a->lock);
    const struct auth_hash *defpass =
        cfg->requirepass != NULL ? (has_new ? &newpass : NULL)
                                 : (a->has_defpass ? &a->defpass : NULL);
    if (cfg->protected_mode && defpass == NULL && !has_file &&
        !auth_addr_is_loopback(cfg->bind)) {
        snprintf(err, errlen,
                 "protected mode: %s is not a loopback address and no "
                 "password is set. Set --requirepass or --acl-file, bind "
                 "127.0.0.1, or let anyone who can reach the port in with "
                 "--protected-mode no", cfg->bind);
    } else {
        struct auth_table *t = auth_table_create(&users, defpass, has_file,
                                                 cfg->iterations, err, errlen);
        if (t != NULL) {
            struct auth_table *old = a->current;
            t->generation = old != NULL ? old->generation + 1 : 1;
            if (defpass != NULL) {
                a->defpass = *defpass;
            }
            a->has_defpass = defpass != NULL;
            qsbr_publish(&a->current, t);
            __atomic_store_n(&a->required, t->required, __ATOMIC_RELEASE);
            if (old != NULL) {
                old->retired_next = a->retired;
                a->retired = old;
            }
            rc = 0;
        }
    }
    pthread_mutex_unlock(&a->lock);
    auth_users_deinit(&users);
    OPENSSL_cleanse(&newpass, sizeof(newpass));
    return rc;
}

size_t auth_reclaim(struct auth *a)
{
    pthread_mutex_lock(&a->lock);
    struct auth_table *list = a->readers_set ? a->retired : NULL;
    if (a->readers_set) {
        a->retired = NULL;
    }
    size_t waiting = 0;
    for (struct auth_table *t = a->retired; t != NULL; t = t->retired_next) {
        waiting++;
    }
    pthread_mutex_unlock(&a->lock);
    while (list != NULL) {
        struct auth_table *next = list->retired_next;
        qsbr_defer(&a->qsbr, table_free, list);
        list = next;
    }
    return waiting + qsbr_poll(&a->qsbr);
}

const struct auth_table *auth_current(const struct auth *a)
{
    return qsbr_load(&a->current);
}

bool auth_required(const struct auth *a)
{
    return __atomic_load_n(&a->required, __ATOMIC_ACQUIRE);
}

void auth_requirepass_format(struct auth *a, char *out, size_t outlen)
{
    pthread_mutex_lock(&a->lock);
    if (a->has_defpass) {
        auth_hash_format(&a->defpass, out, outlen);
    } else if (outlen > 0) {
        out[0] = '\0';
    }
    pthread_mutex_unlock(&a->lock);
}
