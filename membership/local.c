/*
 * This file implements the local:DIR membership backend: the cluster state
 * of one machine as small JSON files under DIR, laid out like the
 * ZooKeeper tree (docs/membership.md has the full layout).
 *
 * Every write goes to a temporary file in the target's directory, is
 * fsync'ed and renamed over the target (then the directory is fsync'ed), so
 * a reader sees the old or the new record and never a torn one, and readers
 * take no lock. A read-modify-write sequence (version allocation, the
 * compare-and-sets of the active map and the placement, a member's memory
 * figures) holds flock on DIR/.lock, opened afresh for each sequence, so
 * it excludes other handles and other processes alike. The per-table load
 * lock is flock on DIR/locks/<table>.lock through a descriptor kept open
 * in the lock: the kernel drops it when the process dies, kill -9
 * included. membership_wait_change() polls a signature of the watched
 * files (names, inodes, sizes, mtimes, live processes) every 100 ms.
 */
#include "membership-internal.h"
#include "record_codec.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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
#include <time.h>
#include <unistd.h>

#define LOCAL_TMP_PREFIX ".tmp~" /* '~' is never part of a valid name */

struct local_state {
    char dir[PATH_MAX]; /* absolute */
    unsigned long tmp_seq;
    uint64_t seen; /* state signature last reported by wait_change */
};

/* How often membership_wait_change() looks at the files. */
#define LOCAL_POLL_MS 100

static enum memb_status state_signature(struct membership *m, uint64_t *out);

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
    char *line = memb_json_text(doc, true);
    if (line == NULL) {
        return memb_fail(m, MEMB_ERR, "%s: cannot encode record", path);
    }
    enum memb_status st = write_atomic(m, path, line, strlen(line));
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
    enum memb_status st = state_signature(m, &s->seen);
    if (st != MEMB_OK) {
        free(s);
        m->state = NULL;
    }
    return st;
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
    json_t *doc = memb_table_encode(t);
    st = write_json(m, path, doc);
    json_decref(doc);
    return st;
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
        st = memb_table_decode(m, path, doc, out);
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

/* nftw callback: removes what it is given (deepest first). */
static int remove_entry(const char *path, const struct stat *sb, int flag,
                        struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

/* Removes the directory tree at path; a missing one is fine. */
static enum memb_status remove_tree(struct membership *m, const char *path)
{
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        return errno == ENOENT ? MEMB_OK
                               : memb_fail(m, MEMB_ERR, "stat %s: %s", path,
                                           strerror(errno));
    }
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0) {
        return memb_fail(m, MEMB_ERR, "cannot remove %s: %s", path,
                         strerror(errno));
    }
    return MEMB_OK;
}

/* The config goes first, so a half-done removal shows no table; the
 * version counter (tables/<t>/version-counter) stays. */
static enum memb_status local_table_remove(struct membership *m,
                                           const char *name)
{
    char path[PATH_MAX];
    enum memb_status st = lpath(m, path, "tables/%s/config.json", name);
    if (st != MEMB_OK) {
        return st;
    }
    if (unlink(path) != 0 && errno != ENOENT) {
        return memb_fail(m, MEMB_ERR, "unlink %s: %s", path, strerror(errno));
    }
    st = lpath(m, path, "tables/%s/versions", name);
    if (st == MEMB_OK) {
        st = remove_tree(m, path);
    }
    if (st == MEMB_OK) {
        st = lpath(m, path, "ready/%s", name);
    }
    if (st == MEMB_OK) {
        st = remove_tree(m, path);
    }
    if (st == MEMB_OK) {
        st = lpath(m, path, "refusals/%s", name);
    }
    if (st == MEMB_OK) {
        st = remove_tree(m, path);
    }
    return st;
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
        st = memb_version_decode(m, path, doc, out);
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
    json_t *doc = memb_version_encode(v);
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
    if (memb_parse_u64(x, &version) != 0 || version == 0) {
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
        if (memb_parse_u64(buf, &last) != 0) {
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

/* ---- readiness and refusals --------------------------------------------- */

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
    struct memb_jreader r = {0};
    uint64_t pid = memb_jr_u64(&r, doc, "pid");
    uint64_t start = memb_jr_u64(&r, doc, "start_ticks");
    memb_jr_str(&r, doc, "state", state, MEMB_STATE_MAX);
    json_decref(doc);
    if (r.bad != NULL || pid > INT_MAX) {
        return memb_fail(m, MEMB_ERR, "%s: bad field \"%s\"", path,
                         r.bad != NULL ? r.bad : "pid");
    }
    *exists = true;
    *alive = process_alive((pid_t)pid, start);
    return MEMB_OK;
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
    json_t *doc = memb_ready_encode(node, partitions, n);
    st = write_json(m, path, doc);
    json_decref(doc);
    return st;
}

static enum memb_status local_ready_get(struct membership *m,
                                        const char *table, uint64_t version,
                                        const char *node, uint32_t **partitions,
                                        size_t *n)
{
    char path[PATH_MAX];
    enum memb_status st = lpath(m, path, "ready/%s/v-%06" PRIu64 "/%s.json",
                                table, version, node);
    json_t *doc = NULL;
    if (st == MEMB_OK) {
        st = read_json(m, path, &doc);
    }
    if (st == MEMB_OK) {
        st = memb_ready_decode(m, path, doc, partitions, n);
    }
    json_decref(doc);
    return st;
}

struct ready_collect {
    struct memb_ready *list;
    size_t n;
};

static enum memb_status collect_ready(struct membership *m, const char *dir,
                                      const char *name, const char *node,
                                      void *arg)
{
    struct ready_collect *c = arg;
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
    if (st == MEMB_OK) {
        st = memb_ready_append(m, path, node, doc, &c->list, &c->n);
    }
    json_decref(doc);
    return st;
}

static enum memb_status local_ready_list(struct membership *m,
                                         const char *table, uint64_t version,
                                         struct memb_ready **out, size_t *n)
{
    char dir[PATH_MAX];
    enum memb_status st =
        lpath(m, dir, "ready/%s/v-%06" PRIu64, table, version);
    if (st != MEMB_OK) {
        return st;
    }
    struct ready_collect c = {0};
    st = for_each_entry(m, dir, "", ".json", collect_ready, &c);
    *out = c.list;
    *n = c.n;
    return st;
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
    memb_jset(&doc, "node", json_string(node));
    memb_jset(&doc, "reason", json_string(reason));
    memb_jset(&doc, "created_ms", json_integer(memb_now_ms()));
    st = write_json(m, path, doc);
    json_decref(doc);
    return st;
}

static enum memb_status consider_refusal(struct membership *m,
                                         const char *dir, const char *name,
                                         const char *node, void *arg)
{
    struct memb_first_refusal *f = arg;
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
    char reason[MEMB_FIELD_MAX];
    int64_t created;
    st = memb_refusal_decode(m, path, doc, reason, &created);
    json_decref(doc);
    if (st == MEMB_OK) {
        memb_first_refusal_consider(f, node, reason, created);
    }
    return st;
}

static enum memb_status local_refusal_get(struct membership *m,
                                          const char *table, uint64_t version,
                                          char *node, char *reason)
{
    char dir[PATH_MAX];
    enum memb_status st =
        lpath(m, dir, "refusals/%s/v-%06" PRIu64, table, version);
    struct memb_first_refusal f = {0};
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

/* Reads the map at path: MEMB_NOTFOUND if the file does not exist. */
static enum memb_status read_active_file(struct membership *m,
                                         const char *path,
                                         struct memb_active *out)
{
    json_t *doc = NULL;
    enum memb_status st = read_json(m, path, &doc);
    if (st == MEMB_OK) {
        st = memb_active_decode(m, path, doc, out);
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
            json_t *doc = memb_active_encode(&cur);
            st = write_json(m, hist, doc);
            json_decref(doc);
        }
    }
    if (st == MEMB_OK) {
        struct memb_active staged = *next;
        staged.generation = expected + 1;
        staged.changed_ms = memb_now_ms();
        json_t *doc = memb_active_encode(&staged);
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
    json_t *doc = memb_member_encode(mem);
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
    st = memb_member_decode(m, path, doc, out);
    json_decref(doc);
    if (st == MEMB_OK && strcmp(out->id, id) != 0) {
        st = memb_fail(m, MEMB_ERR, "%s: bad field \"id\"", path);
    }
    if (st != MEMB_OK) {
        return st;
    }
    bool exists, alive;
    st = read_live(m, id, &exists, &alive, out->state);
    out->live = alive;
    if (!alive) {
        out->state[0] = '\0';
    }
    char drain[PATH_MAX];
    if (st == MEMB_OK) {
        st = lpath(m, drain, "drain/%s.json", id);
    }
    if (st == MEMB_OK) {
        out->draining = access(drain, F_OK) == 0;
    }
    return st;
}

/* drain/<id>.json exists while the member is marked draining. */
static enum memb_status local_drain_set(struct membership *m, const char *id,
                                        bool draining)
{
    char path[PATH_MAX];
    enum memb_status st = lpath(m, path, "drain/%s.json", id);
    if (st != MEMB_OK) {
        return st;
    }
    if (!draining) {
        if (unlink(path) != 0 && errno != ENOENT) {
            return memb_fail(m, MEMB_ERR, "unlink %s: %s", path,
                             strerror(errno));
        }
        return MEMB_OK;
    }
    char member[PATH_MAX];
    st = member_path(m, member, id);
    if (st == MEMB_OK && access(member, F_OK) != 0) {
        st = memb_fail(m, MEMB_NOTFOUND, "no member %s", id);
    }
    if (st != MEMB_OK) {
        return st;
    }
    json_t *doc = json_object();
    memb_jset(&doc, "id", json_string(id));
    memb_jset(&doc, "changed_ms", json_integer(memb_now_ms()));
    st = write_json(m, path, doc);
    json_decref(doc);
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
    return local_drain_set(m, id, false);
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
    memb_jset(&doc, "id", json_string(id));
    memb_jset(&doc, "pid", json_integer(getpid()));
    memb_jset(&doc, "start_ticks", memb_json_u64(process_start(getpid())));
    memb_jset(&doc, "state", json_string(state));
    memb_jset(&doc, "changed_ms", json_integer(memb_now_ms()));
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

/* ---- the lock check, placement and change notification ------------------ */

static enum memb_status local_lock_check(struct membership *m,
                                         const struct memb_lock *lock)
{
    const struct local_lock *l = (const struct local_lock *)lock;
    if (l->fd < 0) {
        return memb_fail(m, MEMB_ERR, "lock on table %s was released",
                         lock->table);
    }
    return MEMB_OK; /* flock holds while the descriptor is open */
}

/*
 * placement.json is {cas_version, placement}; the document is read back
 * compact with sorted keys, as membership.c hands it over.
 */
static enum memb_status read_placement(struct membership *m, const char *path,
                                       char **json, uint64_t *cas_version)
{
    json_t *doc = NULL;
    enum memb_status st = read_json(m, path, &doc);
    if (st == MEMB_NOTFOUND) {
        *cas_version = 0;
        return memb_fail(m, MEMB_NOTFOUND, "no placement stored yet");
    }
    if (st != MEMB_OK) {
        return st;
    }
    struct memb_jreader r = {0};
    *cas_version = memb_jr_u64(&r, doc, "cas_version");
    json_t *p = json_object_get(doc, "placement");
    if (r.bad == NULL && (*cas_version == 0 || !json_is_object(p))) {
        r.bad = *cas_version == 0 ? "cas_version" : "placement";
    }
    if (r.bad == NULL && json != NULL) {
        *json = json_dumps(p, JSON_COMPACT | JSON_SORT_KEYS);
        if (*json == NULL) {
            st = memb_fail(m, MEMB_ERR, "out of memory");
        }
    }
    json_decref(doc);
    if (r.bad != NULL) {
        return memb_fail(m, MEMB_ERR, "%s: bad field \"%s\"", path, r.bad);
    }
    return st;
}

static enum memb_status local_placement_get(struct membership *m, char **json,
                                            uint64_t *cas_version)
{
    char path[PATH_MAX];
    enum memb_status st = lpath(m, path, "placement.json");
    if (st != MEMB_OK) {
        return st;
    }
    return read_placement(m, path, json, cas_version);
}

/* Under the global lock: compare the token, write {token + 1, json}. */
static enum memb_status local_placement_cas(struct membership *m,
                                            uint64_t expected,
                                            const char *json)
{
    char path[PATH_MAX];
    enum memb_status st = lpath(m, path, "placement.json");
    if (st != MEMB_OK) {
        return st;
    }
    json_error_t jerr;
    json_t *placement = json_loads(json, 0, &jerr);
    if (placement == NULL) {
        return memb_fail(m, MEMB_INVALID, "placement: %s", jerr.text);
    }
    int lk = global_lock(m);
    if (lk < 0) {
        json_decref(placement);
        return MEMB_ERR;
    }
    uint64_t current = 0;
    st = read_placement(m, path, NULL, &current);
    if (st == MEMB_NOTFOUND) {
        st = MEMB_OK;
    }
    if (st == MEMB_OK && current != expected) {
        st = memb_fail(m, MEMB_CONFLICT,
                       "placement is at version %" PRIu64
                       ", expected %" PRIu64,
                       current, expected);
    }
    if (st == MEMB_OK) {
        json_t *doc = json_object();
        memb_jset(&doc, "cas_version", memb_json_u64(current + 1));
        memb_jset(&doc, "placement", json_incref(placement));
        st = write_json(m, path, doc);
        json_decref(doc);
    }
    global_unlock(lk);
    json_decref(placement);
    return st;
}

/* FNV-1a over len bytes, continuing from h. */
static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h = (h ^ p[i]) * 0x100000001b3ULL;
    }
    return h;
}

#define FNV_START 0xcbf29ce484222325ULL

/* Hash of a file's identity: inode, size and change time (0 if absent). */
static uint64_t file_signature(const char *path)
{
    struct stat sb;
    if (stat(path, &sb) != 0) {
        return 0;
    }
    uint64_t f[4] = {(uint64_t)sb.st_ino, (uint64_t)sb.st_size,
                     (uint64_t)sb.st_mtim.tv_sec,
                     (uint64_t)sb.st_mtim.tv_nsec};
    return fnv1a(FNV_START, f, sizeof(f));
}

/* What one directory contributes: an order-independent sum over entries. */
enum sig_mode {
    SIG_NAMES,   /* entry names only (members, drain marks) */
    SIG_FILES,   /* names and file identities (versions) */
    SIG_LIVE,    /* names, identities and whether the process lives */
    SIG_TABLES,  /* names, config identities and version lists */
};

struct sig_walk {
    enum sig_mode mode;
    uint64_t sum;
};

static enum memb_status sig_dir(struct membership *m, const char *rel,
                                enum sig_mode mode, uint64_t *sum);

static enum memb_status sig_entry(struct membership *m, const char *dir,
                                  const char *name, const char *x, void *arg)
{
    struct sig_walk *w = arg;
    uint64_t h = fnv1a(FNV_START, name, strlen(name));
    char path[PATH_MAX];
    int len = snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (len < 0 || (size_t)len >= sizeof(path)) {
        return memb_fail(m, MEMB_ERR, "path too long");
    }
    enum memb_status st = MEMB_OK;
    if (w->mode == SIG_FILES || w->mode == SIG_LIVE) {
        uint64_t f = file_signature(path);
        h = fnv1a(h, &f, sizeof(f));
    }
    if (w->mode == SIG_LIVE && membership_valid_name(x)) {
        bool exists, alive;
        char state[MEMB_STATE_MAX];
        if (read_live(m, x, &exists, &alive, state) != MEMB_OK) {
            alive = false; /* a damaged record: its identity counts */
        }
        h = fnv1a(h, &alive, sizeof(alive));
    }
    if (w->mode == SIG_TABLES && membership_valid_name(name)) {
        char rel[PATH_MAX];
        snprintf(rel, sizeof(rel), "tables/%s/config.json", name);
        char config[PATH_MAX];
        st = lpath(m, config, "%s", rel);
        uint64_t f = st == MEMB_OK ? file_signature(config) : 0;
        h = fnv1a(h, &f, sizeof(f));
        uint64_t versions = 0;
        snprintf(rel, sizeof(rel), "tables/%s/versions", name);
        if (st == MEMB_OK) {
            st = sig_dir(m, rel, SIG_FILES, &versions);
        }
        h = fnv1a(h, &versions, sizeof(versions));
    }
    w->sum += h;
    return st;
}

static enum memb_status sig_dir(struct membership *m, const char *rel,
                                enum sig_mode mode, uint64_t *sum)
{
    char dir[PATH_MAX];
    enum memb_status st = lpath(m, dir, "%s", rel);
    struct sig_walk w = {.mode = mode};
    const char *suffix = mode == SIG_TABLES ? "" : ".json";
    if (st == MEMB_OK) {
        st = for_each_entry(m, dir, "", suffix, sig_entry, &w);
    }
    *sum = w.sum;
    return st;
}

/*
 * A hash of everything membership_wait_change() reports: it changes when
 * any watched record is written (each write is a new file), appears or
 * disappears, or when a live record's process dies.
 */
static enum memb_status state_signature(struct membership *m, uint64_t *out)
{
    static const struct {
        const char *rel;
        enum sig_mode mode;
    } dirs[] = {
        {"members", SIG_NAMES},
        {"live", SIG_LIVE},
        {"drain", SIG_NAMES},
        {"tables", SIG_TABLES},
    };
    uint64_t h = FNV_START;
    const char *files[] = {"active.json", "placement.json"};
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        char path[PATH_MAX];
        enum memb_status st = lpath(m, path, "%s", files[i]);
        if (st != MEMB_OK) {
            return st;
        }
        uint64_t f = file_signature(path);
        h = fnv1a(h, &f, sizeof(f));
    }
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        uint64_t sum;
        enum memb_status st = sig_dir(m, dirs[i].rel, dirs[i].mode, &sum);
        if (st != MEMB_OK) {
            return st;
        }
        h = fnv1a(h, &sum, sizeof(sum));
    }
    *out = h;
    return MEMB_OK;
}

static enum memb_status local_wait_change(struct membership *m,
                                          int timeout_ms, bool *changed)
{
    int64_t deadline = memb_now_ms() + timeout_ms;
    for (;;) {
        uint64_t sig;
        enum memb_status st = state_signature(m, &sig);
        if (st != MEMB_OK) {
            return st;
        }
        if (sig != ls(m)->seen) {
            ls(m)->seen = sig;
            *changed = true;
            return MEMB_OK;
        }
        int64_t left = deadline - memb_now_ms();
        if (left <= 0) {
            return MEMB_OK;
        }
        int64_t nap = left < LOCAL_POLL_MS ? left : LOCAL_POLL_MS;
        struct timespec ts = {.tv_sec = nap / 1000,
                              .tv_nsec = (nap % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
        }
    }
}

const struct memb_backend memb_local_backend = {
    .scheme = "local",
    .open = local_open,
    .close = local_close,
    .table_put = local_table_put,
    .table_get = local_table_get,
    .table_remove = local_table_remove,
    .table_list = local_table_list,
    .version_alloc = local_version_alloc,
    .version_put = local_version_put,
    .version_get = local_version_get,
    .version_list = local_version_list,
    .ready_set = local_ready_set,
    .ready_get = local_ready_get,
    .ready_list = local_ready_list,
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
    .drain_set = local_drain_set,
    .lock_check = local_lock_check,
    .placement_get = local_placement_get,
    .placement_cas = local_placement_cas,
    .wait_change = local_wait_change,
};
