/*
 * This file implements the local:DIR membership backend: the cluster state
 * of one machine as small JSON files under DIR, laid out like the
 * ZooKeeper tree (docs/membership.md has the full layout).
 *
 * Every write goes to a temporary file in the target's directory, is
 * fsync'ed and renamed over the target (then the directory is fsync'ed), so
 * a reader sees the old or the new record and never a torn one, and readers
 * take no lock. A read-modify-write sequence (version allocation, the
 * active map's compare-and-set, a member's memory figures) holds flock on
 * DIR/.lock, opened afresh for each sequence, so it excludes other handles
 * and other processes alike. The per-table load lock is flock on
 * DIR/locks/<table>.lock through a descriptor kept open in the lock: the
 * kernel drops it when the process dies, kill -9 included.
 */
#include "membership-internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#define LOCAL_TMP_PREFIX ".tmp~" /* '~' is never part of a valid name */

struct local_state {
    char dir[PATH_MAX]; /* absolute */
    unsigned long tmp_seq;
};

struct local_lock {
    struct memb_lock base;
    int fd;
};

static struct local_state *ls(struct membership *m)
{
    return m->state;
}

/* ---- paths and files ---------------------------------------------------- */

/* Formats DIR/<fmt...> into out (PATH_MAX bytes). */
static enum memb_status lpath(struct membership *m, char *out,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum memb_status lpath(struct membership *m, char *out,
                              const char *fmt, ...)
{
    int n = snprintf(out, PATH_MAX, "%s/", ls(m)->dir);
    if (n < 0 || n >= PATH_MAX) {
        return memb_fail(m, MEMB_ERR, "path too long");
    }
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out + n, (size_t)(PATH_MAX - n), fmt, ap);
    va_end(ap);
    if (k < 0 || k >= PATH_MAX - n) {
        return memb_fail(m, MEMB_ERR, "path too long under %s", ls(m)->dir);
    }
    return MEMB_OK;
}

/* Creates path and its missing parents (mkdir -p). */
static int mkdirs(const char *path)
{
    char buf[PATH_MAX];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char c = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            buf[i] = c;
        }
    }
    return 0;
}

static int fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    int rc = fsync(fd);
    close(fd);
    return rc;
}

static int write_all(int fd, const char *data, size_t len)
{
    while (len > 0) {
        ssize_t w = write(fd, data, len);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        data += w;
        len -= (size_t)w;
    }
    return 0;
}

/*
 * Replaces the file at path with data atomically: a temporary file in the
 * same directory (created with its parents if missing), fsync, rename,
 * fsync of the directory.
 */
static enum memb_status write_atomic(struct membership *m, const char *path,
                                     const char *data, size_t len)
{
    char dir[PATH_MAX];
    char tmp[PATH_MAX];
    const char *slash = strrchr(path, '/');
    size_t dlen = (size_t)(slash - path);
    memcpy(dir, path, dlen);
    dir[dlen] = '\0';
    int n = snprintf(tmp, sizeof(tmp),
                     "%s/" LOCAL_TMP_PREFIX "%s.%ld.%lx.%lu", dir, slash + 1,
                     (long)getpid(), (unsigned long)(uintptr_t)m,
                     ++ls(m)->tmp_seq);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        return memb_fail(m, MEMB_ERR, "%s: path too long", path);
    }
    if (mkdirs(dir) != 0) {
        return memb_fail(m, MEMB_ERR, "mkdir %s: %s", dir, strerror(errno));
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return memb_fail(m, MEMB_ERR, "create %s: %s", tmp, strerror(errno));
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        int e = errno;
        close(fd);
        unlink(tmp);
        return memb_fail(m, MEMB_ERR, "write %s: %s", tmp, strerror(e));
    }
    if (close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        return memb_fail(m, MEMB_ERR, "close %s: %s", tmp, strerror(e));
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return memb_fail(m, MEMB_ERR, "rename to %s: %s", path, strerror(e));
    }
    if (fsync_dir(dir) != 0) {
        return memb_fail(m, MEMB_ERR, "fsync %s: %s", dir, strerror(errno));
    }
    return MEMB_OK;
}

/* Writes a JSON record atomically (keys sorted, indented, one per file). */
static enum memb_status write_json(struct membership *m, const char *path,
                                   json_t *doc)
{
    if (doc == NULL) {
        return memb_fail(m, MEMB_INVALID,
                         "%s: cannot encode record (strings must be UTF-8)",
                         path);
    }
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL) {
        return memb_fail(m, MEMB_ERR, "%s: cannot encode record", path);
    }
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (line == NULL) {
        free(text);
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    enum memb_status st = write_atomic(m, path, line, len + 1);
    free(line);
    return st;
}

/* Reads a JSON object: MEMB_NOTFOUND if the file does not exist. */
static enum memb_status read_json(struct membership *m, const char *path,
                                  json_t **out)
{
    *out = NULL;
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return memb_fail(m, MEMB_NOTFOUND, "%s: not found", path);
        }
        return memb_fail(m, MEMB_ERR, "open %s: %s", path, strerror(errno));
    }
    json_error_t jerr;
    json_t *doc = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    fclose(f);
    if (doc == NULL) {
        return memb_fail(m, MEMB_ERR, "%s:%d:%d: %s", path, jerr.line,
                         jerr.column, jerr.text);
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return memb_fail(m, MEMB_ERR, "%s: not a JSON object", path);
    }
    *out = doc;
    return MEMB_OK;
}

/*
 * Takes the global flock (DIR/.lock) for a read-modify-write sequence:
 * returns the descriptor to pass to global_unlock(), or -1 with an error.
 */
static int global_lock(struct membership *m)
{
    char path[PATH_MAX];
    if (lpath(m, path, ".lock") != MEMB_OK) {
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        memb_fail(m, MEMB_ERR, "open %s: %s", path, strerror(errno));
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            memb_fail(m, MEMB_ERR, "flock %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void global_unlock(int fd)
{
    close(fd); /* drops the flock */
}

/*
 * Calls fn for every entry of dir named "<prefix>X<suffix>" where X is
 * not empty (temporary files and dot files are skipped). A missing
 * directory has no entries.
 */
typedef enum memb_status (*entry_fn)(struct membership *m, const char *dir,
                                     const char *name, const char *x,
                                     void *arg);

static enum memb_status for_each_entry(struct membership *m, const char *dir,
                                       const char *prefix, const char *suffix,
                                       entry_fn fn, void *arg)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        if (errno == ENOENT) {
            return MEMB_OK;
        }
        return memb_fail(m, MEMB_ERR, "opendir %s: %s", dir, strerror(errno));
    }
    size_t plen = strlen(prefix);
    size_t slen = strlen(suffix);
    enum memb_status st = MEMB_OK;
    struct dirent *e;
    while (st == MEMB_OK && (e = readdir(d)) != NULL) {
        const char *name = e->d_name;
        size_t len = strlen(name);
        if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
            strncmp(name, LOCAL_TMP_PREFIX, strlen(LOCAL_TMP_PREFIX)) == 0) {
            continue;
        }
        if (len <= plen + slen || strncmp(name, prefix, plen) != 0 ||
            strcmp(name + len - slen, suffix) != 0) {
            continue;
        }
        char x[NAME_MAX + 1];
        memcpy(x, name + plen, len - plen - slen);
        x[len - plen - slen] = '\0';
        st = fn(m, dir, name, x, arg);
    }
    closedir(d);
    return st;
}

/*
 * Parses a uint64 that is all of s: decimal, or hexadecimal after "0x";
 * 0 on success.
 */
static int parse_u64(const char *s, uint64_t *out)
{
    int base = 10;
    if (s[0] == '0' && s[1] == 'x') {
        base = 16;
        s += 2;
    }
    if (!((s[0] >= '0' && s[0] <= '9') ||
          (base == 16 && ((s[0] >= 'a' && s[0] <= 'f') ||
                          (s[0] >= 'A' && s[0] <= 'F'))))) {
        return -1;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- JSON fields -------------------------------------------------------- */

/*
 * Reads fields of one record; the first bad field is remembered so the
 * caller reports "path: field f: ..." once. Missing fields read as 0 or "".
 */
struct jreader {
    const char *bad; /* first bad field, NULL if none */
};

static void jr_bad(struct jreader *r, const char *key)
{
    if (r->bad == NULL) {
        r->bad = key;
    }
}

/* A uint64 value: a non-negative integer or a string parse_u64 takes. */
static uint64_t jr_u64_value(struct jreader *r, json_t *v, const char *key)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        return (uint64_t)json_integer_value(v);
    }
    uint64_t u;
    if (json_is_string(v) && parse_u64(json_string_value(v), &u) == 0) {
        return u;
    }
    jr_bad(r, key);
    return 0;
}

static uint64_t jr_u64(struct jreader *r, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v != NULL ? jr_u64_value(r, v, key) : 0;
}

static uint32_t jr_u32(struct jreader *r, json_t *o, const char *key)
{
    uint64_t v = jr_u64(r, o, key);
    if (v > UINT32_MAX) {
        jr_bad(r, key);
        return 0;
    }
    return (uint32_t)v;
}

static int64_t jr_i64(struct jreader *r, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return 0;
    }
    if (!json_is_integer(v)) {
        jr_bad(r, key);
        return 0;
    }
    return (int64_t)json_integer_value(v);
}

static void jr_str(struct jreader *r, json_t *o, const char *key, char *buf,
                   size_t size)
{
    buf[0] = '\0';
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return;
    }
    if (!json_is_string(v) || json_string_length(v) >= size ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        jr_bad(r, key);
        return;
    }
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
}

/* A uint64 as a JSON integer, or a decimal string above INT64_MAX. */
static json_t *json_u64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX) {
        return json_integer((json_int_t)v);
    }
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return json_string(buf);
}

/* Sets key to value; value NULL (a string that is not UTF-8) poisons doc. */
static void jset(json_t **doc, const char *key, json_t *value)
{
    if (*doc == NULL) {
        json_decref(value);
        return;
    }
    if (value == NULL || json_object_set_new(*doc, key, value) != 0) {
        json_decref(*doc);
        *doc = NULL;
    }
}

/* ---- open / close ------------------------------------------------------- */

static enum memb_status local_open(struct membership *m, const char *location)
{
    if (location == NULL || location[0] == '\0') {
        return memb_fail(m, MEMB_INVALID, "local: needs a directory");
    }
    if (strlen(location) >= PATH_MAX - 256) {
        return memb_fail(m, MEMB_INVALID, "local:%s: path too long",
                         location);
    }
    if (mkdirs(location) != 0) {
        return memb_fail(m, MEMB_ERR, "local:%s: mkdir: %s", location,
                         strerror(errno));
    }
    struct local_state *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    if (realpath(location, s->dir) == NULL) {
        int e = errno;
        free(s);
        return memb_fail(m, MEMB_ERR, "local:%s: %s", location, strerror(e));
    }
    struct stat sb;
    if (stat(s->dir, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        free(s);
        return memb_fail(m, MEMB_INVALID, "local:%s: not a directory",
                         location);
    }
    m->state = s;
    return MEMB_OK;
}

static void local_close(struct membership *m)
{
    free(m->state);
    m->state = NULL;
}

/* ---- tables ------------------------------------------------------------- */

static enum memb_status local_table_put(struct membership *m,
                                        const struct memb_table *t)
{
    char path[PATH_MAX];
    enum memb_status st = lpath(m, path, "tables/%s/config.json", t->name);
    if (st != MEMB_OK) {
        return st;
    }
    json_t *doc = json_object();
    jset(&doc, "name", json_string(t->name));
    jset(&doc, "kind", json_string(memb_table_kind_name(t->kind)));
    jset(&doc, "partitions", json_integer(t->partitions));
    jset(&doc, "replication", t->replication == 0
                                  ? json_string("all")
                                  : json_integer(t->replication));
    jset(&doc, "fallback_key", json_string(t->fallback_key));
    jset(&doc, "max_age_s", json_u64(t->max_age_s));
    jset(&doc, "dims", json_integer(t->dims));
    st = write_json(m, path, doc);
    json_decref(doc);
    return st;
}

static enum memb_status decode_table(struct membership *m, const char *path,
                                     json_t *doc, struct memb_table *t)
{
    struct jreader r = {0};
    memset(t, 0, sizeof(*t));
    jr_str(&r, doc, "name", t->name, sizeof(t->name));
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (kind != NULL && strcmp(kind, "live") == 0) {
        t->kind = MEMB_TABLE_LIVE;
    } else if (kind != NULL && strcmp(kind, "batch") == 0) {
        t->kind = MEMB_TABLE_BATCH;
    } else {
        jr_bad(&r, "kind");
    }
    t->partitions = jr_u32(&r, doc, "partitions");
    json_t *rep = json_object_get(doc, "replication");
    if (json_is_string(rep) && strcmp(json_string_value(rep), "all") == 0) {
        t->replication = 0;
    } else {
        t->replication = jr_u32(&r, doc, "replication");
    }
    jr_str(&r, doc, "fallback_key", t->fallback_key, sizeof(t->fallback_key));
    t->max_age_s = jr_u64(&r, doc, "max_age_s");
    t->dims = jr_u32(&r, doc, "dims");
    if (r.bad == NULL && !membership_valid_name(t->name)) {
        r.bad = "name";
    }
    if (r.bad != NULL) {
        return memb_fail(m, MEMB_ERR, "%s: bad field \"%s\"", path, r.bad);
    }
    return MEMB_OK;
}

static enum memb_status local_table_get(struct membership *m,
                                        const char *name,
                                        struct memb_table *out)
{
    char path[PATH_MAX];
    enum memb_status st = lpath(m, path, "tables/%s/config.json", name);
    json_t *doc = NULL;
    if (st == MEMB_OK) {
        st = read_json(m, path, &doc);
    }
    if (st == MEMB_NOTFOUND) {
        return memb_fail(m, MEMB_NOTFOUND, "no table %s", name);
    }
    if (st == MEMB_OK) {
        st = decode_table(m, path, doc, out);
    }
    json_decref(doc);
    return st;
}

struct table_vec {
    struct memb_table *v;
    size_t n;
    size_t cap;
};

static enum memb_status collect_table(struct membership *m, const char *dir,
                                      const char *name, const char *x,
                                      void *arg)
{
    struct table_vec *tv = arg;
    if (!membership_valid_name(name)) {
        return MEMB_OK;
    }
    struct memb_table t;
    enum memb_status st = local_table_get(m, name, &t);
    if (st == MEMB_NOTFOUND) {
        return MEMB_OK; /* versions recorded, no config yet */
    }
    if (st != MEMB_OK) {
        return st;
    }
    if (tv->n == tv->cap) {
        size_t cap = tv->cap ? tv->cap * 2 : 16;
        struct memb_table *v = realloc(tv->v, cap * sizeof(*v));
        if (v == NULL) {
            return memb_fail(m, MEMB_ERR, "out of memory");
        }
        tv->v = v;
        tv->cap = cap;
    }
    tv->v[tv->n++] = t;
    return MEMB_OK;
}

static int table_cmp(const void *a, const void *b)
{
    return strcmp(((const struct memb_table *)a)->name,
                  ((const struct memb_table *)b)->name);
}

static enum memb_status local_table_list(struct membership *m,
                                         struct memb_table **out, size_t *n)
{
    char dir[PATH_MAX];
    enum memb_status st = lpath(m, dir, "tables");
    struct table_vec tv = {0};
    if (st == MEMB_OK) {
        st = for_each_entry(m, dir, "", "", collect_table, &tv);
    }
    if (st != MEMB_OK) {
        free(tv.v);
        return st;
    }
    if (tv.n > 1) {
        qsort(tv.v, tv.n, sizeof(tv.v[0]), table_cmp);
    }
    *out = tv.v;
    *n = tv.n;
    return MEMB_OK;
}

/* ---- versions ----------------------------------------------------------- */

static enum memb_status version_path(struct membership *m, char *path,
                                     const char *table, uint64_t version)
{
    return lpath(m, path, "tables/%s/versions/v-%06" PRIu64 ".json", table,
                 version);
}

static enum memb_status decode_version(struct membership *m,
                                       const char *path, json_t *doc,
                                       struct memb_version *v)
{
    struct jreader r = {0};
    memset(v, 0, sizeof(*v));
    v->version = jr_u64(&r, doc, "version");
    const char *state = json_string_value(json_object_get(doc, "state"));
    bool known = false;
    for (int s = MEMB_V_STAGED; s <= MEMB_V_RETIRED; s++) {
        enum memb_version_state vs = (enum memb_version_state)s;
        if (state != NULL && strcmp(state, memb_version_state_name(vs)) == 0) {
            v->state = vs;
            known = true;
        }
    }
    if (!known) {
        jr_bad(&r, "state");
    }
    jr_str(&r, doc, "manifest_uri", v->manifest_uri, sizeof(v->manifest_uri));
    v->manifest_checksum = jr_u64(&r, doc, "manifest_checksum");
    v->rows = jr_u64(&r, doc, "rows");
    v->bytes = jr_u64(&r, doc, "bytes");
    v->partitions = jr_u32(&r, doc, "partitions");
    v->format = jr_u32(&r, doc, "format");
    jr_str(&r, doc, "run_id", v->run_id, sizeof(v->run_id));
    jr_str(&r, doc, "push_id", v->push_id, sizeof(v->push_id));
    v->created_ms = jr_i64(&r, doc, "created_ms");
    if (r.bad != NULL) {
        return memb_fail(m, MEMB_ERR, "%s: bad field \"%s\"", path, r.bad);
    }
    return MEMB_OK;
}

static enum memb_status local_version_get(struct membership *m,
                                          const char *table, uint64_t version,
                                          struct memb_version *out)
{
    char path[PATH_MAX];
    enum memb_status st = version_path(m, path, table, version);
    json_t *doc = NULL;
    if (st == MEMB_OK) {
        st = read_json(m, path, &doc);
    }
    if (st == MEMB_NOTFOUND) {
        return memb_fail(m, MEMB_NOTFOUND, "no version %s=%" PRIu64, table,
                         version);
    }
    if (st == MEMB_OK) {
        st = decode_version(m, path, doc, out);
    }
    if (st == MEMB_OK && out->version != version) {
        st = memb_fail(m, MEMB_ERR, "%s: records version %" PRIu64, path,
                       out->version);
    }
    json_decref(doc);
    return st;
}

static enum memb_status local_version_put(struct membership *m,
                                          const char *table,
                                          const struct memb_version *v)
{
    char path[PATH_MAX];
    enum memb_status st = version_path(m, path, table, v->version);
    if (st != MEMB_OK) {
        return st;
    }
    char checksum[24];
    snprintf(checksum, sizeof(checksum), "0x%016" PRIx64,
             v->manifest_checksum);
    json_t *doc = json_object();
    jset(&doc, "version", json_u64(v->version));
    jset(&doc, "state", json_string(memb_version_state_name(v->state)));
    jset(&doc, "manifest_uri", json_string(v->manifest_uri));
    jset(&doc, "manifest_checksum", json_string(checksum));
    jset(&doc, "rows", json_u64(v->rows));
    jset(&doc, "bytes", json_u64(v->bytes));
    jset(&doc, "partitions", json_integer(v->partitions));
    jset(&doc, "format", json_integer(v->format));
    jset(&doc, "run_id", json_string(v->run_id));
    jset(&doc, "push_id", json_string(v->push_id));
    jset(&doc, "created_ms", json_integer(v->created_ms));
    st = write_json(m, path, doc);
    json_decref(doc);
    return st;
}

struct version_vec {
    const char *table;
    struct memb_version *v;
    size_t n;
    size_t cap;
    uint64_t max; /* the highest version number seen */
};

static enum memb_status collect_version(struct membership *m, const char *dir,
                                        const char *name, const char *x,
                                        void *arg)
{
    struct version_vec *vv = arg;
    uint64_t version;
    char canonical[NAME_MAX + 1];
    if (parse_u64(x, &version) != 0 || version == 0) {
        return MEMB_OK;
    }
    snprintf(canonical, sizeof(canonical), "v-%06" PRIu64 ".json", version);
    if (strcmp(name, canonical) != 0) {
        return MEMB_OK; /* not a name this backend writes */
    }
    if (version > vv->max) {
        vv->max = version;
    }
    if (vv->table == NULL) {
        return MEMB_OK; /* only the maximum is wanted */
    }
    struct memb_version rec;
    enum memb_status st = local_version_get(m, vv->table, version, &rec);
    if (st == MEMB_NOTFOUND) {
        return MEMB_OK; /* removed while we listed */
    }
    if (st != MEMB_OK) {
        return st;
    }
    if (vv->n == vv->cap) {
        size_t cap = vv->cap ? vv->cap * 2 : 16;
        struct memb_version *v = realloc(vv->v, cap * sizeof(*v));
        if (v == NULL) {
            return memb_fail(m, MEMB_ERR, "out of memory");
        }
        vv->v = v;
        vv->cap = cap;
    }
    vv->v[vv->n++] = rec;
    return MEMB_OK;
}

static int version_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct memb_version *)a)->version;
    uint64_t y = ((const struct memb_version *)b)->version;
    return x < y ? -1 : x > y;
}

static enum memb_status local_version_list(struct membership *m,
                                           const char *table,
                                           struct memb_version **out,
                                           size_t *n)
{
    char dir[PATH_MAX];
    enum memb_status st = lpath(m, dir, "tables/%s", table);
    if (st != MEMB_OK) {
        return st;
    }
    struct stat sb;
    if (stat(dir, &sb) != 0) {
        return memb_fail(m, MEMB_NOTFOUND, "no table %s", table);
    }
    st = lpath(m, dir, "tables/%s/versions", table);
    struct version_vec vv = {.table = table};
    if (st == MEMB_OK) {
        st = for_each_entry(m, dir, "v-", ".json", collect_version, &vv);
    }
    if (st != MEMB_OK) {
        free(vv.v);
        return st;
    }
    if (vv.n > 1) {
        qsort(vv.v, vv.n, sizeof(vv.v[0]), version_cmp);
    }
    *out = vv.v;
    *n = vv.n;
    return MEMB_OK;
}

/*
 * The next version is one more than both the counter and every version
 * record on disk, so a lost or older counter never hands out a number
 * twice. The counter is written before the number is returned.
 */
static enum memb_status local_version_alloc(struct membership *m,
                                            const char *table, uint64_t *out)
{
    char counter[PATH_MAX];
    char dir[PATH_MAX];
    enum memb_status st = lpath(m, counter, "tables/%s/version-counter", table);
    if (st == MEMB_OK) {
        st = lpath(m, dir, "tables/%s/versions", table);
    }
    if (st != MEMB_OK) {
        return st;
    }
    int lk = global_lock(m);
    if (lk < 0) {
        return MEMB_ERR;
    }
    uint64_t last = 0;
    FILE *f = fopen(counter, "re");
    if (f != NULL) {
        char buf[32] = {0};
        size_t len = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
        buf[len] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (parse_u64(buf, &last) != 0) {
            st = memb_fail(m, MEMB_ERR, "%s: not a number", counter);
        }
    } else if (errno != ENOENT) {
        st = memb_fail(m, MEMB_ERR, "open %s: %s", counter, strerror(errno));
    }
    struct version_vec vv = {0};
    if (st == MEMB_OK) {
        st = for_each_entry(m, dir, "v-", ".json", collect_version, &vv);
    }
    if (st == MEMB_OK) {
        uint64_t next = (vv.max > last ? vv.max : last) + 1;
        char text[32];
        int len = snprintf(text, sizeof(text), "%" PRIu64 "\n", next);
        st = write_atomic(m, counter, text, (size_t)len);
        if (st == MEMB_OK) {
            *out = next;
        }
    }
    global_unlock(lk);
    return st;
}

/* ---- readiness and refusals ---------------------------------------------- */

/* Start time of a process in clock ticks since boot; 0 if unknown. */
static uint64_t process_start(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    FILE *f = fopen(path, "re");
    if (f == NULL) {
        return 0;
    }
    char buf[1024];
    size_t len = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[len] = '\0';
    char *p = strrchr(buf, ')'); /* the command name may hold spaces */
    if (p == NULL) {
        return 0;
    }
    /* Field 3 (state) follows ") "; starttime is field 22. */
    p++;
    for (int field = 3; field <= 22; field++) {
        while (*p == ' ') {
            p++;
        }
        if (field == 22) {
            return strtoull(p, NULL, 10);
        }
        while (*p != ' ' && *p != '\0') {
            p++;
        }
    }
    return 0;
}

/*
 * Whether the process of a live record still exists: kill(pid, 0) works
 * (or is refused for permission), and when both start times are known they
 * agree, so a recycled pid does not count.
 */
static bool process_alive(pid_t pid, uint64_t start)
{
    if (pid <= 0) {
        return false;
    }
    if (kill(pid, 0) != 0 && errno != EPERM) {
        return false;
    }
    uint64_t now = process_start(pid);
    return start == 0 || now == 0 || now == start;
}

/*
 * Reads the live record of id: *exists says whether there is one, *alive
 * whether its process exists, state is copied (MEMB_STATE_MAX bytes).
 */
static enum memb_status read_live(struct membership *m, const char *id,
                                  bool *exists, bool *alive, char *state)
{
    char path[PATH_MAX];
    *exists = false;
    *alive = false;
    state[0] = '\0';
    enum memb_status st = lpath(m, path, "live/%s.json", id);
    json_t *doc = NULL;
    if (st == MEMB_OK) {
        st = read_json(m, path, &doc);
    }
    if (st == MEMB_NOTFOUND) {
        return MEMB_OK;
    }
    if (st != MEMB_OK) {
        return st;
    }
    struct jreader r = {0};
    uint64_t pid = jr_u64(&r, doc, "pid");
    uint64_t start = jr_u64(&r, doc, "start_ticks");
    jr_str(&r, doc, "state", state, MEMB_STATE_MAX);
    json_decref(doc);
    if (r.bad != NULL || pid > INT_MAX) {
        return memb_fail(m, MEMB_ERR, "%s: bad field \"%s\"", path,
                         r.bad != NULL ? r.bad : "pid");
    }
    *exists = true;
    *alive = process_alive((pid_t)pid, start);
    return MEMB_OK;
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts and deduplicates v in place; returns the new length. */
static size_t sort_unique(uint32_t *v, size_t n)
{
    if (n < 2) {
        return n;
    }
    qsort(v, n, sizeof(*v), u32_cmp);
    size_t k = 1;
    for (size_t i = 1; i < n; i++) {
        if (v[i] != v[k - 1]) {
            v[k++] = v[i];
        }
    }
    return k;
}

static enum memb_status local_ready_set(struct membership *m,
                                        const char *table, uint64_t version,
                                        const char *node,
                                        const uint32_t *partitions, size_t n)
{
    char path[PATH_MAX];
    enum memb_status st = lpath(m, path, "ready/%s/v-%06" PRIu64 "/%s.json",
                                table, version, node);
    if (st != MEMB_OK) {
        return st;
    }
    if (n == 0) {
        if (unlink(path) != 0 && errno != ENOENT) {
            return memb_fail(m, MEMB_ERR, "unlink %s: %s", path,
                             strerror(errno));
        }
        return MEMB_OK;
    }
    uint32_t *sorted = malloc(n * sizeof(*sorted));
    json_t *list = json_array();
    if (sorted == NULL || list == NULL) {
        free(sorted);
        json_decref(list);
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    memcpy(sorted, partitions, n * sizeof(*sorted));
    size_t k = sort_unique(sorted, n);
    for (size_t i = 0; i < k; i++) {
        if (json_array_append_new(list, json_integer(sorted[i])) != 0) {
            free(sorted);
            json_decref(list);
            return memb_fail(m, MEMB_ERR, "out of memory");
        }
    }
    free(sorted);
    json_t *doc = json_object();
    jset(&doc, "node", json_string(node));
    jset(&doc, "partitions", list);
    jset(&doc, "changed_ms", json_integer(memb_now_ms()));
    st = write_json(m, path, doc);
    json_decref(doc);
    return st;
}

struct ready_tally {
    uint32_t npartitions;
    uint32_t *counts;
};

static enum memb_status tally_node(struct membership *m, const char *dir,
                                   const char *name, const char *node,
                                   void *arg)
{
    struct ready_tally *t = arg;
    if (!membership_valid_name(node)) {
        return MEMB_OK;
    }
    bool exists, alive;
    char state[MEMB_STATE_MAX];
    enum memb_status st = read_live(m, node, &exists, &alive, state);
    if (st != MEMB_OK) {
        return st;
    }
    if (exists && !alive) {
        return MEMB_OK;
    }
    char path[PATH_MAX];
    int len = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof(path)) {
        return memb_fail(m, MEMB_ERR, "path too long");
    }
    json_t *doc = NULL;
    st = read_json(m, path, &doc);
    if (st == MEMB_NOTFOUND) {
        return MEMB_OK; /* removed while we listed */
    }
    if (st != MEMB_OK) {
        return st;
    }
    json_t *list = json_object_get(doc, "partitions");
    size_t n = json_array_size(list);
    uint32_t *parts = malloc((n > 0 ? n : 1) * sizeof(*parts));
    if (parts == NULL) {
        json_decref(doc);
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    st = json_is_array(list) ? MEMB_OK : MEMB_ERR;
    for (size_t i = 0; st == MEMB_OK && i < n; i++) {
        json_t *p = json_array_get(list, i);
        if (!json_is_integer(p) || json_integer_value(p) < 0 ||
            json_integer_value(p) > UINT32_MAX) {
            st = MEMB_ERR;
        } else {
            parts[i] = (uint32_t)json_integer_value(p);
        }
    }
    if (st == MEMB_OK) {
        size_t k = sort_unique(parts, n);
        for (size_t i = 0; i < k; i++) {
            if (parts[i] < t->npartitions) {
                t->counts[parts[i]]++;
            }
        }
    } else {
        memb_fail(m, MEMB_ERR, "%s: bad field \"partitions\"", path);
    }
    free(parts);
    json_decref(doc);
    return st;
}

static enum memb_status local_ready_count(struct membership *m,
                                          const char *table, uint64_t version,
                                          uint32_t npartitions,
                                          uint32_t *counts)
{
    char dir[PATH_MAX];
    enum memb_status st =
        lpath(m, dir, "ready/%s/v-%06" PRIu64, table, version);
    if (st != MEMB_OK) {
        return st;
    }
    struct ready_tally t = {.npartitions = npartitions, .counts = counts};
    return for_each_entry(m, dir, "", ".json", tally_node, &t);
}

static enum memb_status local_refusal_set(struct membership *m,
                                          const char *table, uint64_t version,
                                          const char *node,
                                          const char *reason)
{
    char path[PATH_MAX];
    enum memb_status st =
        lpath(m, path, "refusals/%s/v-%06" PRIu64 "/%s.json", table, version,
              node);
    if (st != MEMB_OK) {
        return st;
    }
    json_t *doc = json_object();
    jset(&doc, "node", json_string(node));
    jset(&doc, "reason", json_string(reason));
    jset(&doc, "created_ms", json_integer(memb_now_ms()));
    st = write_json(m, path, doc);
    json_decref(doc);
    return st;
}

struct first_refusal {
    bool found;
    int64_t created_ms;
    char node[MEMB_FIELD_MAX];
    char reason[MEMB_FIELD_MAX];
};

static enum memb_status consider_refusal(struct membership *m,
                                         const char *dir, const char *name,
                                         const char *node, void *arg)
{
    struct first_refusal *f = arg;
    char path[PATH_MAX];
    int len = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof(path) ||
        !membership_valid_name(node)) {
        return MEMB_OK;
    }
    json_t *doc = NULL;
    enum memb_status st = read_json(m, path, &doc);
    if (st == MEMB_NOTFOUND) {
        return MEMB_OK;
    }
    if (st != MEMB_OK) {
        return st;
    }
    struct jreader r = {0};
    char reason[MEMB_FIELD_MAX];
    jr_str(&r, doc, "reason", reason, sizeof(reason));
    int64_t created = jr_i64(&r, doc, "created_ms");
    json_decref(doc);
    if (r.bad != NULL) {
        return memb_fail(m, MEMB_ERR, "%s: bad field \"%s\"", path, r.bad);
    }
    if (!f->found || created < f->created_ms ||
        (created == f->created_ms && strcmp(node, f->node) < 0)) {
        f->found = true;
        f->created_ms = created;
        snprintf(f->node, sizeof(f->node), "%s", node);
        memcpy(f->reason, reason, sizeof(reason));
    }
    return MEMB_OK;
}

static enum memb_status local_refusal_get(struct membership *m,
                                          const char *table, uint64_t version,
                                          char *node, char *reason)
{
    char dir[PATH_MAX];
    enum memb_status st =
        lpath(m, dir, "refusals/%s/v-%06" PRIu64, table, version);
    struct first_refusal f = {0};
    if (st == MEMB_OK) {
        st = for_each_entry(m, dir, "", ".json", consider_refusal, &f);
    }
    if (st != MEMB_OK) {
        return st;
    }
    if (!f.found) {
        return memb_fail(m, MEMB_NOTFOUND, "no refusal for %s=%" PRIu64,
                         table, version);
    }
    memcpy(node, f.node, MEMB_FIELD_MAX);
    memcpy(reason, f.reason, MEMB_FIELD_MAX);
    return MEMB_OK;
}

/* ---- the active map ----------------------------------------------------- */

static json_t *encode_active(const struct memb_active *a)
{
    json_t *tables = json_object();
    for (size_t i = 0; tables != NULL && i < a->n; i++) {
        jset(&tables, a->entries[i].table, json_u64(a->entries[i].version));
    }
    json_t *doc = json_object();
    jset(&doc, "generation", json_u64(a->generation));
    jset(&doc, "changed_ms", json_integer(a->changed_ms));
    jset(&doc, "tables", tables);
    return doc;
}

static int active_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct memb_active_entry *)a)->table,
                  ((const struct memb_active_entry *)b)->table);
}

static enum memb_status decode_active(struct membership *m, const char *path,
                                      json_t *doc, struct memb_active *a)
{
    struct jreader r = {0};
    memset(a, 0, sizeof(*a));
    a->generation = jr_u64(&r, doc, "generation");
    a->changed_ms = jr_i64(&r, doc, "changed_ms");
    json_t *tables = json_object_get(doc, "tables");
    if (tables != NULL && !json_is_object(tables)) {
        jr_bad(&r, "tables");
    }
    size_t n = json_object_size(tables);
    if (r.bad == NULL && n > 0) {
        a->entries = calloc(n, sizeof(*a->entries));
        if (a->entries == NULL) {
            return memb_fail(m, MEMB_ERR, "out of memory");
        }
        const char *key;
        json_t *value;
        json_object_foreach(tables, key, value)
        {
            uint64_t version = jr_u64_value(&r, value, "tables");
            if (!membership_valid_name(key) || version == 0) {
                jr_bad(&r, "tables");
                break;
            }
            struct memb_active_entry *e = &a->entries[a->n++];
            snprintf(e->table, sizeof(e->table), "%s", key);
            e->version = version;
        }
        qsort(a->entries, a->n, sizeof(a->entries[0]), active_entry_cmp);
    }
    if (r.bad != NULL) {
        membership_active_free(a);
        return memb_fail(m, MEMB_ERR, "%s: bad field \"%s\"", path, r.bad);
    }
    return MEMB_OK;
}

/* Reads the map at path: MEMB_NOTFOUND if the file does not exist. */
static enum memb_status read_active_file(struct membership *m,
                                         const char *path,
                                         struct memb_active *out)
{
    json_t *doc = NULL;
    enum memb_status st = read_json(m, path, &doc);
    if (st == MEMB_OK) {
        st = decode_active(m, path, doc, out);
    }
    json_decref(doc);
    return st;
}

static enum memb_status local_active_get(struct membership *m,
                                         struct memb_active *out)
{
    char path[PATH_MAX];
    enum memb_status st = lpath(m, path, "active.json");
    if (st == MEMB_OK) {
        st = read_active_file(m, path, out);
    }
    if (st == MEMB_NOTFOUND) {
        memset(out, 0, sizeof(*out)); /* nothing was ever activated */
        return MEMB_OK;
    }
    return st;
}

static enum memb_status history_path(struct membership *m, char *path,
                                     uint64_t generation)
{
    return lpath(m, path, "active-history/g-%08" PRIu64 ".json", generation);
}

static enum memb_status local_active_get_generation(struct membership *m,
                                                    uint64_t generation,
                                                    struct memb_active *out)
{
    enum memb_status st = local_active_get(m, out);
    if (st != MEMB_OK || out->generation == generation) {
        return st;
    }
    uint64_t current = out->generation;
    membership_active_free(out);
    if (generation == 0) {
        return MEMB_OK; /* the empty map before the first activation */
    }
    if (generation > current) {
        return memb_fail(m, MEMB_NOTFOUND,
                         "no generation %" PRIu64 " (current %" PRIu64 ")",
                         generation, current);
    }
    char path[PATH_MAX];
    st = history_path(m, path, generation);
    if (st == MEMB_OK) {
        st = read_active_file(m, path, out);
    }
    if (st == MEMB_NOTFOUND) {
        return memb_fail(m, MEMB_NOTFOUND,
                         "generation %" PRIu64 " is not in the history",
                         generation);
    }
    if (st == MEMB_OK && out->generation != generation) {
        membership_active_free(out);
        st = memb_fail(m, MEMB_ERR, "%s: records generation mismatch", path);
    }
    return st;
}

/*
 * Under the global lock: the current generation must be `expected`; the
 * current map is kept as history g-<expected>, then the new one replaces
 * active.json. A crash between the two leaves an extra history file for
 * the still-current generation, which is harmless.
 */
static enum memb_status local_active_cas(struct membership *m,
                                         uint64_t expected,
                                         struct memb_active *next)
{
    char path[PATH_MAX];
    char hist[PATH_MAX];
    enum memb_status st = lpath(m, path, "active.json");
    if (st != MEMB_OK) {
        return st;
    }
    int lk = global_lock(m);
    if (lk < 0) {
        return MEMB_ERR;
    }
    struct memb_active cur = {0};
    st = local_active_get(m, &cur);
    if (st == MEMB_OK && cur.generation != expected) {
        st = memb_fail(m, MEMB_CONFLICT,
                       "active map is at generation %" PRIu64
                       ", expected %" PRIu64,
                       cur.generation, expected);
    }
    if (st == MEMB_OK && cur.generation > 0) {
        st = history_path(m, hist, cur.generation);
        if (st == MEMB_OK) {
            json_t *doc = encode_active(&cur);
            st = write_json(m, hist, doc);
            json_decref(doc);
        }
    }
    if (st == MEMB_OK) {
        struct memb_active staged = *next;
        staged.generation = expected + 1;
        staged.changed_ms = memb_now_ms();
        json_t *doc = encode_active(&staged);
        st = write_json(m, path, doc);
        json_decref(doc);
        if (st == MEMB_OK) {
            next->generation = staged.generation;
            next->changed_ms = staged.changed_ms;
        }
    }
    membership_active_free(&cur);
    global_unlock(lk);
    return st;
}

/* ---- the per-table load lock -------------------------------------------- */

static enum memb_status local_lock(struct membership *m, const char *table,
                                   struct memb_lock **out)
{
    char path[PATH_MAX];
    char dir[PATH_MAX];
    enum memb_status st = lpath(m, path, "locks/%s.lock", table);
    if (st == MEMB_OK) {
        st = lpath(m, dir, "locks");
    }
    if (st != MEMB_OK) {
        return st;
    }
    if (mkdirs(dir) != 0) {
        return memb_fail(m, MEMB_ERR, "mkdir %s: %s", dir, strerror(errno));
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return memb_fail(m, MEMB_ERR, "open %s: %s", path, strerror(errno));
    }
    int rc;
    while ((rc = flock(fd, LOCK_EX | LOCK_NB)) != 0 && errno == EINTR) {
    }
    if (rc != 0) {
        int e = errno;
        char holder[32] = {0};
        ssize_t len = pread(fd, holder, sizeof(holder) - 1, 0);
        close(fd);
        if (e != EWOULDBLOCK) {
            return memb_fail(m, MEMB_ERR, "flock %s: %s", path, strerror(e));
        }
        holder[len > 0 ? len : 0] = '\0';
        holder[strcspn(holder, "\n")] = '\0';
        return memb_fail(m, MEMB_BUSY,
                         "table %s is locked by another load (pid %s)", table,
                         holder[0] != '\0' ? holder : "unknown");
    }
    /* The holder's pid, for the message above; informative only. */
    char text[32];
    int len = snprintf(text, sizeof(text), "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, text, (size_t)len, 0) != len) {
        int e = errno;
        close(fd);
        return memb_fail(m, MEMB_ERR, "write %s: %s", path, strerror(e));
    }
    struct local_lock *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        close(fd);
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    l->fd = fd;
    *out = &l->base;
    return MEMB_OK;
}

static void local_lock_release(struct memb_lock *lock)
{
    struct local_lock *l = (struct local_lock *)lock;
    if (l->fd >= 0) {
        close(l->fd); /* drops the flock; the file stays for the next load */
        l->fd = -1;
    }
}

/* ---- members ------------------------------------------------------------ */

static enum memb_status member_path(struct membership *m, char *path,
                                    const char *id)
{
    return lpath(m, path, "members/%s.json", id);
}

static enum memb_status write_member(struct membership *m,
                                     const struct memb_member *mem)
{
    char path[PATH_MAX];
    enum memb_status st = member_path(m, path, mem->id);
    if (st != MEMB_OK) {
        return st;
    }
    json_t *doc = json_object();
    jset(&doc, "id", json_string(mem->id));
    jset(&doc, "addr", json_string(mem->addr));
    jset(&doc, "zone", json_string(mem->zone));
    jset(&doc, "capacity", json_integer(mem->capacity ? mem->capacity : 100));
    jset(&doc, "batch_memory", json_u64(mem->batch_memory));
    jset(&doc, "batch_used", json_u64(mem->batch_used));
    st = write_json(m, path, doc);
    json_decref(doc);
    return st;
}

static enum memb_status read_member(struct membership *m, const char *id,
                                    struct memb_member *out)
{
    char path[PATH_MAX];
    enum memb_status st = member_path(m, path, id);
    json_t *doc = NULL;
    if (st == MEMB_OK) {
        st = read_json(m, path, &doc);
    }
    if (st == MEMB_NOTFOUND) {
        return memb_fail(m, MEMB_NOTFOUND, "no member %s", id);
    }
    if (st != MEMB_OK) {
        return st;
    }
    struct jreader r = {0};
    memset(out, 0, sizeof(*out));
    jr_str(&r, doc, "id", out->id, sizeof(out->id));
    jr_str(&r, doc, "addr", out->addr, sizeof(out->addr));
    jr_str(&r, doc, "zone", out->zone, sizeof(out->zone));
    out->capacity = jr_u32(&r, doc, "capacity");
    out->batch_memory = jr_u64(&r, doc, "batch_memory");
    out->batch_used = jr_u64(&r, doc, "batch_used");
    json_decref(doc);
    if (r.bad == NULL && strcmp(out->id, id) != 0) {
        r.bad = "id";
    }
    if (r.bad != NULL) {
        return memb_fail(m, MEMB_ERR, "%s: bad field \"%s\"", path, r.bad);
    }
    bool exists, alive;
    st = read_live(m, id, &exists, &alive, out->state);
    out->live = alive;
    if (!alive) {
        out->state[0] = '\0';
    }
    return st;
}

static enum memb_status local_member_put(struct membership *m,
                                         const struct memb_member *mem)
{
    return write_member(m, mem);
}

static enum memb_status local_member_remove(struct membership *m,
                                            const char *id)
{
    char path[PATH_MAX];
    char live[PATH_MAX];
    enum memb_status st = member_path(m, path, id);
    if (st == MEMB_OK) {
        st = lpath(m, live, "live/%s.json", id);
    }
    if (st != MEMB_OK) {
        return st;
    }
    if (unlink(path) != 0) {
        if (errno == ENOENT) {
            return memb_fail(m, MEMB_NOTFOUND, "no member %s", id);
        }
        return memb_fail(m, MEMB_ERR, "unlink %s: %s", path, strerror(errno));
    }
    if (unlink(live) != 0 && errno != ENOENT) {
        return memb_fail(m, MEMB_ERR, "unlink %s: %s", live, strerror(errno));
    }
    return MEMB_OK;
}

struct member_vec {
    struct memb_member *v;
    size_t n;
    size_t cap;
};

static enum memb_status collect_member(struct membership *m, const char *dir,
                                       const char *name, const char *id,
                                       void *arg)
{
    struct member_vec *mv = arg;
    if (!membership_valid_name(id)) {
        return MEMB_OK;
    }
    struct memb_member mem;
    enum memb_status st = read_member(m, id, &mem);
    if (st == MEMB_NOTFOUND) {
        return MEMB_OK; /* removed while we listed */
    }
    if (st != MEMB_OK) {
        return st;
    }
    if (mv->n == mv->cap) {
        size_t cap = mv->cap ? mv->cap * 2 : 16;
        struct memb_member *v = realloc(mv->v, cap * sizeof(*v));
        if (v == NULL) {
            return memb_fail(m, MEMB_ERR, "out of memory");
        }
        mv->v = v;
        mv->cap = cap;
    }
    mv->v[mv->n++] = mem;
    return MEMB_OK;
}

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const struct memb_member *)a)->id,
                  ((const struct memb_member *)b)->id);
}

static enum memb_status local_member_list(struct membership *m,
                                          struct memb_member **out, size_t *n)
{
    char dir[PATH_MAX];
    enum memb_status st = lpath(m, dir, "members");
    struct member_vec mv = {0};
    if (st == MEMB_OK) {
        st = for_each_entry(m, dir, "", ".json", collect_member, &mv);
    }
    if (st != MEMB_OK) {
        free(mv.v);
        return st;
    }
    if (mv.n > 1) {
        qsort(mv.v, mv.n, sizeof(mv.v[0]), member_cmp);
    }
    *out = mv.v;
    *n = mv.n;
    return MEMB_OK;
}

static enum memb_status local_live_set(struct membership *m, const char *id,
                                       const char *state)
{
    char path[PATH_MAX];
    enum memb_status st = lpath(m, path, "live/%s.json", id);
    if (st != MEMB_OK) {
        return st;
    }
    json_t *doc = json_object();
    jset(&doc, "id", json_string(id));
    jset(&doc, "pid", json_integer(getpid()));
    jset(&doc, "start_ticks", json_u64(process_start(getpid())));
    jset(&doc, "state", json_string(state));
    jset(&doc, "changed_ms", json_integer(memb_now_ms()));
    st = write_json(m, path, doc);
    json_decref(doc);
    return st;
}

static enum memb_status local_member_memory(struct membership *m,
                                            const char *id, uint64_t budget,
                                            uint64_t used)
{
    int lk = global_lock(m);
    if (lk < 0) {
        return MEMB_ERR;
    }
    struct memb_member mem;
    enum memb_status st = read_member(m, id, &mem);
    if (st == MEMB_OK) {
        mem.batch_memory = budget;
        mem.batch_used = used;
        st = write_member(m, &mem);
    }
    global_unlock(lk);
    return st;
}

const struct memb_backend memb_local_backend = {
    .scheme = "local",
    .open = local_open,
    .close = local_close,
    .table_put = local_table_put,
    .table_get = local_table_get,
    .table_list = local_table_list,
    .version_alloc = local_version_alloc,
    .version_put = local_version_put,
    .version_get = local_version_get,
    .version_list = local_version_list,
    .ready_set = local_ready_set,
    .ready_count = local_ready_count,
    .refusal_set = local_refusal_set,
    .refusal_get = local_refusal_get,
    .active_get = local_active_get,
    .active_get_generation = local_active_get_generation,
    .active_cas = local_active_cas,
    .lock = local_lock,
    .lock_release = local_lock_release,
    .member_put = local_member_put,
    .member_remove = local_member_remove,
    .member_list = local_member_list,
    .live_set = local_live_set,
    .member_memory = local_member_memory,
};
