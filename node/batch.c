/*
 * This file implements the catalog of batch versions a node holds
 * (batch.h): the local files under <data-dir>/segments/<table>/v-NNNNNN/
 * (manifest.json and part-NNNNN.seg), mapping and unmapping them, building
 * and publishing the immutable view the workers read, reclaiming what they
 * no longer can, and the view file <data-dir>/view.json.
 *
 * Everything here but the reader functions runs on the puller thread.
 */
#include "batch.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#include "log.h"
#include "ownership.h"
#include "qsbr.h"
#include "segment.h"

/* The segments of one mapped version; h->segs points at segs[]. Unmapped
 * sets wait on the detached list until the next view is published. When a
 * version is reshaped (batch_held_map_parts()), the segments it keeps move
 * to the new set: the old set, still read through an older view, then no
 * longer owns them (own[p] 0) and does not close them. */
struct seg_set {
    struct seg_set *next;
    uint32_t n;
    unsigned char *own; /* [n], after segs[] in the same allocation */
    struct segment *segs[];
};

struct batch {
    char *seg_dir;   /* <data-dir>/segments */
    char *view_path; /* <data-dir>/view.json */
    uint64_t budget;
    struct batch_policy policy;
    bool require_mlock;
    bool mlock_warned;
    unsigned pull_threads;

    struct batch_held **held;
    size_t nheld;
    size_t held_cap;

    struct batch_view *view; /* published; read with qsbr_load() */
    struct qsbr qsbr;
    struct seg_set *detached; /* unmapped, still named by the view */
    bool dirty;               /* the catalog changed since the view */
    bool switched;            /* a switch awaits its view file */
    char self[BATCH_NAME_MAX];
    char *placement_json;     /* owned; NULL: no placement */
    char *ready_json;         /* owned; NULL: readiness of others unknown */
    uint64_t placement_generation;
    struct batch_node *nodes; /* owned */
    size_t nnodes;
    bool has_generation;
    uint64_t generation;
    int64_t changed_ms;

    int degraded; /* atomic */
    int failed;   /* atomic */
    struct batch_stats stats;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t monotonic_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- files ------------------------------------------------------------ */

/* snprintf for paths: false (and an empty string) if it did not fit. */
__attribute__((format(printf, 3, 4)))
static bool fmt_path(char *out, size_t outlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(out, outlen, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= outlen) {
        out[0] = '\0';
        return false;
    }
    return true;
}

static char *path_join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *p = malloc(n);
    if (p != NULL) {
        snprintf(p, n, "%s/%s", a, b);
    }
    return p;
}

/* mkdir -p. 0 or -1 with errno. */
static int make_dirs(const char *path)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(tmp)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(tmp, path, len + 1);
    for (char *p = tmp + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
                return -1;
            }
            *p = '/';
        }
    }
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) {
        return -1;
    }
    return 0;
}

/* Reads a whole (small) file into a malloc'd, NUL-terminated buffer.
 * 0, or -1 with errno. */
static int read_whole(const char *path, char **data, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    struct stat st;
    char *p = NULL;
    if (fstat(fd, &st) != 0 || (p = malloc((size_t)st.st_size + 1)) == NULL) {
        int e = p == NULL && errno == 0 ? ENOMEM : errno;
        close(fd);
        errno = e;
        return -1;
    }
    size_t got = 0, want = (size_t)st.st_size;
    while (got < want) {
        ssize_t n = read(fd, p + got, want - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int e = n == 0 ? EIO : errno; /* the file shrank under us */
            free(p);
            close(fd);
            errno = e;
            return -1;
        }
        got += (size_t)n;
    }
    close(fd);
    p[got] = '\0';
    *data = p;
    *len = got;
    return 0;
}

/* Writes a file atomically: temporary name, fsync, rename. */
static int write_atomic(const char *path, const char *data, size_t len)
{
    char tmp[4096];
    if (!fmt_path(tmp, sizeof(tmp), "%s.tmp", path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int e = errno;
            close(fd);
            unlink(tmp);
            errno = e;
            return -1;
        }
        off += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    if (rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        errno = e;
        return -1;
    }
    return 0;
}

/* Deletes the files of a directory, then the directory. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d != NULL) {
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            char path[4096];
            fmt_path(path, sizeof(path), "%s/%s", dir, e->d_name);
            if (unlink(path) != 0 && errno != ENOENT) {
                log_warning("cannot delete %s: %s", path, strerror(errno));
            }
        }
        closedir(d);
    }
    if (rmdir(dir) != 0 && errno != ENOENT) {
        log_warning("cannot delete %s: %s", dir, strerror(errno));
    }
}

static void version_dir(const struct batch *b, const char *table,
                        uint64_t version, char *out, size_t outlen)
{
    fmt_path(out, outlen, "%s/%s/v-%06" PRIu64, b->seg_dir, table, version);
}

void batch_part_path(const struct batch *b, const char *table,
                     uint64_t version, uint32_t p, char *out, size_t outlen)
{
    fmt_path(out, outlen, "%s/%s/v-%06" PRIu64 "/part-%05" PRIu32 ".seg",
             b->seg_dir, table, version, p);
}

/* ---- the catalog -------------------------------------------------------- */

/* Parses and checks a manifest for table/version into h->manifest. */
static int load_manifest(struct batch_held *h, const char *json, size_t len,
                         char *err, size_t errlen)
{
    char why[256];
    if (manifest_from_json(json, len, &h->manifest, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "bad manifest: %s", why);
        return -1;
    }
    const struct manifest *m = &h->manifest;
    if (strcmp(m->table, h->table) != 0 || m->version != h->version) {
        snprintf(err, errlen, "manifest is for %s version %" PRIu64
                 ", expected %s version %" PRIu64, m->table, m->version,
                 h->table, h->version);
        manifest_free(&h->manifest);
        return -1;
    }
    if (m->partitions == 0 || m->files == NULL) {
        snprintf(err, errlen, "manifest lists no partitions");
        manifest_free(&h->manifest);
        return -1;
    }
    for (uint32_t p = 0; p < m->partitions; p++) {
        if (m->files[p].partition != p || m->files[p].key[0] == '\0') {
            snprintf(err, errlen, "manifest entry %" PRIu32
                     " does not describe partition %" PRIu32, p, p);
            manifest_free(&h->manifest);
            return -1;
        }
    }
    h->manifest_checksum = XXH3_64bits(json, len);
    return 0;
}

static struct batch_held *held_new(struct batch *b, const char *table,
                                   uint64_t version)
{
    if (b->nheld == b->held_cap) {
        size_t cap = b->held_cap ? b->held_cap * 2 : 16;
        struct batch_held **p = realloc(b->held, cap * sizeof(*p));
        if (p == NULL) {
            return NULL;
        }
        b->held = p;
        b->held_cap = cap;
    }
    struct batch_held *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        return NULL;
    }
    size_t tlen = strnlen(table, sizeof(h->table) - 1); /* names are <= 64 */
    memcpy(h->table, table, tlen);
    h->table[tlen] = '\0';
    h->version = version;
    h->state = BATCH_COLD;
    return h;
}

static void held_free(struct batch_held *h)
{
    manifest_free(&h->manifest);
    free(h->route);
    free(h);
}

size_t batch_held_count(const struct batch *b)
{
    return b->nheld;
}

struct batch_held *batch_held_at(struct batch *b, size_t i)
{
    return i < b->nheld ? b->held[i] : NULL;
}

struct batch_held *batch_held_find(struct batch *b, const char *table,
                                   uint64_t version)
{
    for (size_t i = 0; i < b->nheld; i++) {
        if (b->held[i]->version == version &&
            strcmp(b->held[i]->table, table) == 0) {
            return b->held[i];
        }
    }
    return NULL;
}

struct batch_held *batch_held_add(struct batch *b, const char *table,
                                  uint64_t version, const char *json,
                                  size_t len, char *err, size_t errlen)
{
    if (!batch_valid_table_name(table) || version == 0) {
        snprintf(err, errlen, "bad table name or version");
        return NULL;
    }
    struct batch_held *h = held_new(b, table, version);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (load_manifest(h, json, len, err, errlen) != 0) {
        free(h);
        return NULL;
    }
    char dir[4096], path[4200];
    version_dir(b, table, version, dir, sizeof(dir));
    fmt_path(path, sizeof(path), "%s/manifest.json", dir);
    if (make_dirs(dir) != 0 || write_atomic(path, json, len) != 0) {
        snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
        held_free(h);
        return NULL;
    }
    b->held[b->nheld++] = h;
    b->dirty = true;
    return h;
}

/* Adds what one version directory holds to the catalog, or deletes the
 * directory if it holds nothing usable. */
static void scan_version(struct batch *b, const char *table, const char *dir,
                         uint64_t version)
{
    char path[4200];
    fmt_path(path, sizeof(path), "%s/manifest.json", dir);
    char *json;
    size_t len;
    char err[512];
    if (read_whole(path, &json, &len) != 0) {
        log_notice("deleting %s: no readable manifest.json (%s)", dir,
                   strerror(errno));
        remove_dir(dir);
        return;
    }
    struct batch_held *h = held_new(b, table, version);
    if (h == NULL) {
        free(json);
        return;
    }
    if (load_manifest(h, json, len, err, sizeof(err)) != 0) {
        log_notice("deleting %s: %s", dir, err);
        free(h);
        free(json);
        remove_dir(dir);
        return;
    }
    free(json);
    b->held[b->nheld++] = h;
}

/* Builds the catalog from <data-dir>/segments: every version cold. */
static void scan(struct batch *b)
{
    DIR *d = opendir(b->seg_dir);
    if (d == NULL) {
        return;
    }
    struct dirent *te;
    while ((te = readdir(d)) != NULL) {
        if (te->d_name[0] == '.' || !batch_valid_table_name(te->d_name)) {
            continue;
        }
        char tdir[4096];
        if (!fmt_path(tdir, sizeof(tdir), "%s/%s", b->seg_dir, te->d_name)) {
            continue;
        }
        DIR *vd = opendir(tdir);
        if (vd == NULL) {
            continue;
        }
        struct dirent *ve;
        while ((ve = readdir(vd)) != NULL) {
            char *end;
            if (strncmp(ve->d_name, "v-", 2) != 0) {
                continue;
            }
            errno = 0;
            unsigned long long v = strtoull(ve->d_name + 2, &end, 10);
            if (*end != '\0' || v == 0 || errno != 0) {
                continue;
            }
            char vdir[4200];
            if (!fmt_path(vdir, sizeof(vdir), "%s/%s", tdir, ve->d_name)) {
                continue;
            }
            scan_version(b, te->d_name, vdir, v);
        }
        closedir(vd);
        rmdir(tdir); /* only succeeds when nothing is left */
    }
    closedir(d);
}

/* ---- mapping ------------------------------------------------------------ */

static struct seg_set *seg_set_new(uint32_t n)
{
    struct seg_set *set = calloc(1, sizeof(*set) +
                                        n * sizeof(struct segment *) + n);
    if (set != NULL) {
        set->n = n;
        set->own = (unsigned char *)&set->segs[n];
    }
    return set;
}

static void seg_set_close(void *arg)
{
    struct seg_set *set = arg;
    for (uint32_t i = 0; i < set->n; i++) {
        if (set->own[i]) {
            segment_close(&set->segs[i]);
        }
    }
    free(set);
}

static bool wanted(const uint64_t *want, uint32_t p)
{
    return want == NULL || own_test(want, p);
}

static struct seg_set *set_of(struct segment **segs)
{
    return (struct seg_set *)((char *)segs - offsetof(struct seg_set, segs));
}

/* Opens partition p of h from its local file. */
static int open_part(const struct batch_held *h, uint32_t p,
                     const char *path, struct segment **seg, bool *locked,
                     char *err, size_t errlen)
{
    struct segment_expect ex = {
        .table = h->table,
        .version = h->version,
        .partition = p,
        .checksum = h->manifest.files[p].checksum,
    };
    return segment_open(path, &ex, SEGMENT_POPULATE | SEGMENT_MLOCK, seg,
                        locked, err, errlen);
}

/*
 * One mapping of a version's partitions, shared by the threads that map
 * them (batch_held_map_parts): each takes the next partition from todo.
 * Only the fields under lock, the counters (atomic) and each partition's
 * own slots of set are written by more than one thread.
 */
struct map_run {
    struct batch *b; /* read only */
    struct batch_held *h;
    struct seg_set *set;
    const uint32_t *todo;
    uint32_t ntodo;
    batch_fetch_fn fetch;
    void *arg;
    uint32_t next;     /* atomic: the next index of todo */
    uint64_t pulls;    /* atomic */
    uint64_t reused;   /* atomic */
    pthread_mutex_t lock;
    bool failed;       /* under lock: stop taking partitions */
    char err[1536];    /* under lock: the first failure */
    char unlocked[4200]; /* under lock: the first segment mlock refused */
};

static void map_failed(struct map_run *run, const char *why)
{
    pthread_mutex_lock(&run->lock);
    if (!run->failed) {
        run->failed = true;
        snprintf(run->err, sizeof(run->err), "%s", why);
    }
    pthread_mutex_unlock(&run->lock);
}

/*
 * Opens (fetching if needed) partition p of the run's version into
 * set->segs[p]; 0, or -1 with err.
 */
static int map_part(struct map_run *run, uint32_t p, char *err,
                    size_t errlen)
{
    struct batch_held *h = run->h;
    struct seg_set *set = run->set;
    char path[4200], why[512];
    bool locked = true;
    batch_part_path(run->b, h->table, h->version, p, path, sizeof(path));
    int rc = -1;
    bool exists = access(path, F_OK) == 0;
    if (exists) {
        rc = open_part(h, p, path, &set->segs[p], &locked, why, sizeof(why));
    } else {
        snprintf(why, sizeof(why), "missing");
    }
    if (rc == 0) {
        __atomic_add_fetch(&run->reused, 1, __ATOMIC_RELAXED);
    } else if (run->fetch != NULL) {
        if (exists) {
            log_notice("%s does not verify (%s): fetching it again", path,
                       why);
            unlink(path);
        }
        if (run->fetch(run->arg, h, p, path, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "partition %" PRIu32 ": %s", p, why);
            return -1;
        }
        __atomic_add_fetch(&run->pulls, 1, __ATOMIC_RELAXED);
        if (open_part(h, p, path, &set->segs[p], &locked, why,
                      sizeof(why)) != 0) {
            snprintf(err, errlen, "partition %" PRIu32 ": %s", p, why);
            unlink(path);
            return -1;
        }
    } else {
        snprintf(err, errlen, "partition %" PRIu32 " (%.512s): %s", p, path,
                 why);
        return -1;
    }
    set->own[p] = 1;
    if (!locked) {
        pthread_mutex_lock(&run->lock);
        if (run->unlocked[0] == '\0') {
            snprintf(run->unlocked, sizeof(run->unlocked), "%s", path);
        }
        pthread_mutex_unlock(&run->lock);
    }
    return 0;
}

/* A mapping thread: partitions until none is left or one failed. */
static void *map_worker(void *arg)
{
    struct map_run *run = arg;
    for (;;) {
        pthread_mutex_lock(&run->lock);
        bool failed = run->failed;
        pthread_mutex_unlock(&run->lock);
        uint32_t i = __atomic_fetch_add(&run->next, 1, __ATOMIC_RELAXED);
        if (failed || i >= run->ntodo) {
            return NULL;
        }
        char err[1536];
        if (map_part(run, run->todo[i], err, sizeof(err)) != 0) {
            map_failed(run, err);
        }
    }
}

/*
 * Maps the run's partitions with up to b->pull_threads threads (the
 * calling one included); 0, or -1 with err, every partition that was
 * opened then still in run->set. A segment mlock refused is fatal with
 * --require-mlock, else warned about once.
 */
static int map_parts(struct map_run *run, char *err, size_t errlen)
{
    struct batch *b = run->b;
    unsigned want = b->pull_threads < run->ntodo ? b->pull_threads
                                                 : run->ntodo;
    pthread_t tids[64];
    unsigned started = 0;
    for (unsigned i = 1; i < want && i <= 64; i++) {
        if (pthread_create(&tids[started], NULL, map_worker, run) != 0) {
            break; /* fewer threads: the others still get everything */
        }
        started++;
    }
    map_worker(run);
    for (unsigned i = 0; i < started; i++) {
        pthread_join(tids[i], NULL);
    }
    BATCH_STAT_ADD(b, batch_pulls_total, run->pulls);
    BATCH_STAT_ADD(b, batch_reused_total, run->reused);
    if (run->failed) {
        snprintf(err, errlen, "%s", run->err);
        return -1;
    }
    if (run->unlocked[0] != '\0') {
        if (b->require_mlock) {
            snprintf(err, errlen,
                     "cannot lock %s in memory (mlock failed) and "
                     "--require-mlock is set: raise the memlock limit "
                     "(ulimit -l, LimitMEMLOCK=)",
                     run->unlocked);
            batch_set_failed(b);
            return -1;
        }
        if (!b->mlock_warned) {
            b->mlock_warned = true;
            log_warning("cannot lock batch segments in memory (mlock "
                        "failed, first on %s): they may be paged out "
                        "under memory pressure; raise the memlock limit "
                        "(ulimit -l, LimitMEMLOCK=) or start with "
                        "--require-mlock yes to make this fatal",
                        run->unlocked);
        }
    }
    return 0;
}

bool batch_held_matches(const struct batch_held *h, const uint64_t *want)
{
    if (h->segs == NULL) {
        return false;
    }
    for (uint32_t p = 0; p < h->manifest.partitions; p++) {
        if ((h->segs[p] != NULL) != wanted(want, p)) {
            return false;
        }
    }
    return true;
}

uint64_t batch_held_missing_bytes(const struct batch_held *h,
                                  const uint64_t *want)
{
    uint64_t sum = 0;
    for (uint32_t p = 0; p < h->manifest.partitions; p++) {
        if (wanted(want, p) && (h->segs == NULL || h->segs[p] == NULL)) {
            sum += h->manifest.files[p].bytes;
        }
    }
    return sum;
}

int batch_held_map(struct batch *b, struct batch_held *h, batch_fetch_fn fetch,
                   void *arg, char *err, size_t errlen)
{
    return batch_held_map_parts(b, h, NULL, fetch, arg, err, errlen);
}

int batch_held_map_parts(struct batch *b, struct batch_held *h,
                         const uint64_t *want, batch_fetch_fn fetch,
                         void *arg, char *err, size_t errlen)
{
    if (batch_held_matches(h, want)) {
        return 0;
    }
    int64_t started_ms = monotonic_ms();
    uint32_t np = h->manifest.partitions;
    struct seg_set *old = h->segs != NULL ? set_of(h->segs) : NULL;
    struct seg_set *set = seg_set_new(np);
    uint32_t *todo = malloc((np ? np : 1) * sizeof(*todo));
    if (set == NULL || todo == NULL) {
        if (set != NULL) {
            seg_set_close(set);
        }
        free(todo);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    uint32_t ntodo = 0;
    for (uint32_t p = 0; p < np; p++) {
        if (!wanted(want, p)) {
            continue;
        }
        if (old != NULL && old->segs[p] != NULL) {
            set->segs[p] = old->segs[p]; /* moved below, on success */
            continue;
        }
        todo[ntodo++] = p;
    }
    struct map_run run = {.b = b, .h = h, .set = set, .todo = todo,
                          .ntodo = ntodo, .fetch = fetch, .arg = arg};
    pthread_mutex_init(&run.lock, NULL);
    int rc = map_parts(&run, err, errlen);
    pthread_mutex_destroy(&run.lock);
    free(todo);
    if (rc != 0) {
        seg_set_close(set); /* closes only what it opened */
        return -1;
    }
    uint32_t held = 0;
    uint64_t rows = 0, bytes = 0;
    for (uint32_t p = 0; p < np; p++) {
        if (set->segs[p] == NULL) {
            continue;
        }
        if (old != NULL && old->segs[p] == set->segs[p]) {
            old->own[p] = 0;
        }
        set->own[p] = 1;
        held++;
        rows += h->manifest.files[p].rows;
        bytes += h->manifest.files[p].bytes;
    }
    if (old != NULL) {
        for (uint32_t p = 0; p < np; p++) {
            if (old->own[p]) {
                char path[4200];
                batch_part_path(b, h->table, h->version, p, path,
                                sizeof(path));
                log_notice("dropping partition %" PRIu32 " of %s version %"
                           PRIu64 ": the placement gives it to other nodes",
                           p, h->table, h->version);
                unlink(path); /* the mapping outlives the name */
            }
        }
        old->next = b->detached;
        b->detached = old;
    }
    h->segs = set->segs;
    h->held = held;
    h->held_rows = rows;
    h->held_bytes = bytes;
    h->ready_marked = false;
    if (old == NULL) {
        h->loaded_ms = wall_ms();
        h->pull_ms = monotonic_ms() - started_ms;
    }
    b->dirty = true;
    return 0;
}

void batch_held_unmap(struct batch *b, struct batch_held *h)
{
    if (h->segs == NULL) {
        return;
    }
    struct seg_set *set = set_of(h->segs);
    h->segs = NULL;
    h->held = 0;
    h->held_rows = h->held_bytes = 0;
    h->ready_marked = false;
    h->loaded_ms = 0;
    set->next = b->detached;
    b->detached = set;
    b->dirty = true;
}

void batch_held_drop(struct batch *b, struct batch_held *h)
{
    batch_held_unmap(b, h);
    char dir[4096];
    version_dir(b, h->table, h->version, dir, sizeof(dir));
    remove_dir(dir);
    char tdir[4096];
    fmt_path(tdir, sizeof(tdir), "%s/%s", b->seg_dir, h->table);
    rmdir(tdir); /* only succeeds when no version is left */
    for (size_t i = 0; i < b->nheld; i++) {
        if (b->held[i] == h) {
            b->held[i] = b->held[--b->nheld];
            break;
        }
    }
    held_free(h);
    BATCH_STAT_ADD(b, batch_dropped_total, 1);
    b->dirty = true;
}

void batch_held_set_route(struct batch *b, struct batch_held *h,
                          const uint32_t *route)
{
    uint32_t np = h->manifest.partitions;
    size_t size = (size_t)np * sizeof(*route);
    if (route == NULL) {
        if (h->route != NULL) {
            free(h->route);
            h->route = NULL;
            b->dirty = true;
        }
        return;
    }
    if (h->route != NULL && memcmp(h->route, route, size) == 0) {
        return;
    }
    if (h->route == NULL && (h->route = malloc(size ? size : 1)) == NULL) {
        return; /* out of memory: clients get no address, retried later */
    }
    memcpy(h->route, route, size);
    b->dirty = true;
}

/* True if two member lists differ in what view.json keeps of them. */
static bool nodes_saved_differ(const struct batch_node *a, size_t na,
                               const struct batch_node *c, size_t nc)
{
    if (na != nc) {
        return true;
    }
    for (size_t i = 0; i < na; i++) {
        if (strcmp(a[i].id, c[i].id) != 0 || strcmp(a[i].addr, c[i].addr) != 0 ||
            strcmp(a[i].zone, c[i].zone) != 0 ||
            a[i].capacity != c[i].capacity) {
            return true;
        }
    }
    return false;
}

void batch_set_ready(struct batch *b, const char *ready_json)
{
    if ((ready_json == NULL && b->ready_json == NULL) ||
        (ready_json != NULL && b->ready_json != NULL &&
         strcmp(ready_json, b->ready_json) == 0)) {
        return;
    }
    char *copy = NULL;
    if (ready_json != NULL && (copy = strdup(ready_json)) == NULL) {
        return; /* out of memory: tried again with the next change */
    }
    free(b->ready_json);
    b->ready_json = copy;
    b->dirty = true;
}

void batch_set_cluster(struct batch *b, const char *self,
                       const char *placement_json,
                       uint64_t placement_generation,
                       const struct batch_node *nodes, size_t nnodes)
{
    bool same_pl = (placement_json == NULL && b->placement_json == NULL) ||
                   (placement_json != NULL && b->placement_json != NULL &&
                    strcmp(placement_json, b->placement_json) == 0);
    bool same_nodes = nnodes == b->nnodes &&
                      (nnodes == 0 ||
                       memcmp(nodes, b->nodes, nnodes * sizeof(*nodes)) == 0);
    if (same_pl && same_nodes && strcmp(self, b->self) == 0 &&
        placement_generation == b->placement_generation) {
        return;
    }
    char *pl = NULL;
    struct batch_node *ns = NULL;
    if ((placement_json != NULL && (pl = strdup(placement_json)) == NULL) ||
        (nnodes > 0 && (ns = malloc(nnodes * sizeof(*ns))) == NULL)) {
        free(pl);
        return; /* out of memory: tried again with the next change */
    }
    if (nnodes > 0) {
        memcpy(ns, nodes, nnodes * sizeof(*ns));
    }
    if (!same_pl || nodes_saved_differ(nodes, nnodes, b->nodes, b->nnodes)) {
        if (b->has_generation) {
            b->switched = true; /* saved with the next view */
        }
    }
    free(b->placement_json);
    free(b->nodes);
    b->placement_json = pl;
    b->nodes = ns;
    b->nnodes = nnodes;
    b->placement_generation = placement_generation;
    snprintf(b->self, sizeof(b->self), "%s", self);
    b->dirty = true;
}

void batch_held_set_max_age(struct batch *b, struct batch_held *h,
                            uint64_t max_age_s)
{
    if (h->max_age_s != max_age_s) {
        h->max_age_s = max_age_s;
        b->dirty = true;
    }
}

void batch_held_set_state(struct batch *b, struct batch_held *h,
                          enum batch_fate state)
{
    if (h->state != state) {
        h->state = state;
        b->dirty = true;
    }
}

uint64_t batch_ram_bytes(const struct batch *b)
{
    uint64_t sum = 0;
    for (size_t i = 0; i < b->nheld; i++) {
        if (b->held[i]->segs != NULL) {
            sum += b->held[i]->held_bytes;
        }
    }
    return sum;
}

/* ---- switching and publishing ------------------------------------------ */

void batch_switch(struct batch *b, uint64_t generation,
                  struct batch_held *const *active, size_t n, int64_t now_ms)
{
    for (size_t i = 0; i < b->nheld; i++) {
        struct batch_held *h = b->held[i];
        bool named = false;
        for (size_t k = 0; k < n && !named; k++) {
            named = active[k] == h;
        }
        if (named && h->state != BATCH_ACTIVE) {
            h->state = BATCH_ACTIVE;
            h->activated_ms = now_ms;
            h->last_active_ms = 0;
        } else if (!named && h->state == BATCH_ACTIVE) {
            h->state = BATCH_GRACE; /* the retention plan refines it */
            h->last_active_ms = now_ms;
        }
    }
    b->generation = generation;
    b->has_generation = true;
    b->changed_ms = now_ms;
    b->switched = true;
    b->dirty = true;
}

bool batch_generation(const struct batch *b, uint64_t *generation)
{
    *generation = b->generation;
    return b->has_generation;
}

static int held_order(const void *a, const void *b)
{
    const struct batch_held *x = *(struct batch_held *const *)a;
    const struct batch_held *y = *(struct batch_held *const *)b;
    int c = strcmp(x->table, y->table);
    if (c != 0) {
        return c;
    }
    return x->version < y->version ? -1 : x->version > y->version;
}

/* Builds a view of the catalog; NULL if out of memory. */
static struct batch_view *build_view(struct batch *b)
{
    struct batch_view *v = calloc(1, sizeof(*v));
    struct batch_held **order = malloc((b->nheld + 1) * sizeof(*order));
    if (v == NULL || order == NULL) {
        free(v);
        free(order);
        return NULL;
    }
    v->generation = b->generation;
    v->changed_ms = b->changed_ms;
    v->placement_generation = b->placement_generation;
    snprintf(v->self, sizeof(v->self), "%s", b->self);
    if ((b->placement_json != NULL &&
         (v->placement_json = strdup(b->placement_json)) == NULL) ||
        (b->ready_json != NULL &&
         (v->ready_json = strdup(b->ready_json)) == NULL) ||
        (b->nnodes > 0 &&
         (v->nodes = malloc(b->nnodes * sizeof(*v->nodes))) == NULL)) {
        free(order);
        batch_view_free(v);
        return NULL;
    }
    if (b->nnodes > 0) {
        memcpy(v->nodes, b->nodes, b->nnodes * sizeof(*v->nodes));
        v->nnodes = b->nnodes;
    }
    if (b->nheld > 0) {
        memcpy(order, b->held, b->nheld * sizeof(*order));
        qsort(order, b->nheld, sizeof(*order), held_order);
    }
    size_t ntables = 0;
    for (size_t i = 0; i < b->nheld; i++) {
        ntables += i == 0 || strcmp(order[i]->table, order[i - 1]->table) != 0;
    }
    v->tables = calloc(ntables ? ntables : 1, sizeof(*v->tables));
    if (v->tables == NULL) {
        free(order);
        batch_view_free(v);
        return NULL;
    }
    for (size_t i = 0; i < b->nheld;) {
        size_t j = i;
        while (j < b->nheld && strcmp(order[j]->table, order[i]->table) == 0) {
            j++;
        }
        struct batch_vtable *t = &v->tables[v->ntables++];
        snprintf(t->name, sizeof(t->name), "%s", order[i]->table);
        t->versions = calloc(j - i, sizeof(*t->versions));
        if (t->versions == NULL) {
            free(order);
            batch_view_free(v);
            return NULL;
        }
        for (size_t k = i; k < j; k++) {
            const struct batch_held *h = order[k];
            t->versions[t->nversions++] = (struct batch_vinfo){
                .version = h->version,
                .state = h->segs != NULL || h->state == BATCH_ACTIVE
                             ? h->state
                             : BATCH_COLD,
                .partitions = h->manifest.partitions,
                .rows = h->manifest.rows,
                .bytes = h->manifest.bytes,
                .loaded_ms = h->loaded_ms,
                .activated_ms = h->activated_ms,
                .last_active_ms = h->last_active_ms,
                .created_ms = h->manifest.created_ms,
                .pull_ms = h->pull_ms,
                .load_ms = h->manifest.load_ms,
                .segs = h->segs,
                .held_partitions = h->held,
                .held_rows = h->held_rows,
                .held_bytes = h->held_bytes,
            };
            if (h->segs != NULL && h->route != NULL &&
                h->held < h->manifest.partitions) {
                size_t size = h->manifest.partitions * sizeof(uint32_t);
                uint32_t *route = malloc(size);
                if (route == NULL) {
                    free(order);
                    batch_view_free(v);
                    return NULL;
                }
                memcpy(route, h->route, size);
                t->versions[t->nversions - 1].route = route;
            }
            if (h->max_age_s > t->max_age_s) {
                t->max_age_s = h->max_age_s;
            }
        }
        i = j;
    }
    free(order);
    batch_view_finish(v);
    v->description = batch_view_describe(v);
    return v;
}

static void view_free_cb(void *arg)
{
    batch_view_free(arg);
}

static void write_view_file(struct batch *b, const struct batch_view *v)
{
    char *json = batch_view_encode(v);
    if (json == NULL) {
        log_warning("cannot write %s: out of memory", b->view_path);
        return;
    }
    if (write_atomic(b->view_path, json, strlen(json)) != 0) {
        log_warning("cannot write %s: %s", b->view_path, strerror(errno));
    }
    free(json);
}

void batch_commit(struct batch *b)
{
    if (!b->has_generation) {
        /* Nothing was ever published: no worker can hold these. */
        while (b->detached != NULL) {
            struct seg_set *set = b->detached;
            b->detached = set->next;
            seg_set_close(set);
        }
        b->dirty = false;
    } else if (b->dirty) {
        struct batch_view *v = build_view(b);
        if (v == NULL) {
            log_warning("cannot build the batch view: out of memory "
                        "(retrying)");
        } else {
            struct batch_view *old = b->view;
            qsbr_publish(&b->view, v);
            if (old != NULL) {
                qsbr_defer(&b->qsbr, view_free_cb, old);
            }
            while (b->detached != NULL) {
                struct seg_set *set = b->detached;
                b->detached = set->next;
                qsbr_defer(&b->qsbr, seg_set_close, set);
            }
            b->dirty = false;
            if (b->switched) {
                b->switched = false;
                write_view_file(b, v);
            }
        }
    }
    qsbr_poll(&b->qsbr);
}

int batch_load_saved(struct batch *b, struct batch_saved_view *out,
                     int64_t now_ms, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    char *json;
    size_t len;
    if (read_whole(b->view_path, &json, &len) != 0) {
        if (errno == ENOENT) {
            return 0;
        }
        snprintf(err, errlen, "cannot read %s: %s", b->view_path,
                 strerror(errno));
        return -1;
    }
    char why[256];
    int rc = batch_view_decode(json, len, out, why, sizeof(why));
    free(json);
    if (rc != 0) {
        snprintf(err, errlen, "%s: %s", b->view_path, why);
        return -1;
    }
    for (size_t i = 0; i < out->n; i++) {
        const struct batch_saved_version *s = &out->versions[i];
        struct batch_held *h = batch_held_find(b, s->table, s->version);
        if (h != NULL) {
            h->last_active_ms = s->active ? now_ms : s->last_active_ms;
        }
    }
    return 0;
}

/* ---- life cycle and readers -------------------------------------------- */

int batch_create(const struct batch_options *o, uint64_t *const *epochs,
                 size_t nreaders, struct batch **out, char *err,
                 size_t errlen)
{
    *out = NULL;
    struct batch *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    b->seg_dir = path_join(o->data_dir, "segments");
    b->view_path = path_join(o->data_dir, "view.json");
    if (b->seg_dir == NULL || b->view_path == NULL) {
        snprintf(err, errlen, "out of memory");
        batch_destroy(&b);
        return -1;
    }
    if (make_dirs(b->seg_dir) != 0) {
        snprintf(err, errlen, "cannot create %s: %s", b->seg_dir,
                 strerror(errno));
        batch_destroy(&b);
        return -1;
    }
    b->budget = o->memory;
    b->policy = o->policy;
    b->require_mlock = o->require_mlock;
    b->pull_threads = o->pull_threads > 0 ? o->pull_threads : 1;
    qsbr_init(&b->qsbr, epochs, nreaders);
    scan(b);
    *out = b;
    return 0;
}

void batch_destroy(struct batch **bp)
{
    struct batch *b = *bp;
    if (b == NULL) {
        return;
    }
    qsbr_deinit(&b->qsbr);
    while (b->detached != NULL) {
        struct seg_set *set = b->detached;
        b->detached = set->next;
        seg_set_close(set);
    }
    for (size_t i = 0; i < b->nheld; i++) {
        if (b->held[i]->segs != NULL) {
            seg_set_close(set_of(b->held[i]->segs));
        }
        held_free(b->held[i]);
    }
    free(b->held);
    free(b->placement_json);
    free(b->ready_json);
    free(b->nodes);
    batch_view_free(b->view);
    free(b->seg_dir);
    free(b->view_path);
    free(b);
    *bp = NULL;
}

const struct batch_view *batch_current(const struct batch *b)
{
    return qsbr_load(&b->view);
}

void batch_read_stats(const struct batch *b, struct batch_stats *out)
{
    const uint64_t *src = (const uint64_t *)&b->stats;
    uint64_t *dst = (uint64_t *)out;
    for (size_t i = 0; i < sizeof(*out) / sizeof(uint64_t); i++) {
        dst[i] = __atomic_load_n(&src[i], __ATOMIC_RELAXED);
    }
}

struct batch_stats *batch_stats_of(struct batch *b)
{
    return &b->stats;
}

const struct batch_policy *batch_policy_of(const struct batch *b)
{
    return &b->policy;
}

uint64_t batch_budget(const struct batch *b)
{
    return b->budget;
}

bool batch_degraded(const struct batch *b)
{
    return __atomic_load_n(&b->degraded, __ATOMIC_RELAXED) != 0;
}

void batch_set_degraded(struct batch *b, bool degraded)
{
    __atomic_store_n(&b->degraded, degraded ? 1 : 0, __ATOMIC_RELAXED);
}

bool batch_failed(const struct batch *b)
{
    return __atomic_load_n(&b->failed, __ATOMIC_RELAXED) != 0;
}

void batch_set_failed(struct batch *b)
{
    __atomic_store_n(&b->failed, 1, __ATOMIC_RELAXED);
}
