/*
 * This file implements the zk:// membership backend: the cluster state in
 * a ZooKeeper ensemble, through the multi-threaded C client's synchronous
 * calls. docs/membership.md has the URI and its options, docs/architecture.md
 * the znode layout under <chroot>/larder/<cluster>; records are the same
 * JSON documents the local: backend writes (record_codec.h).
 *
 * Connection handling. Every operation first waits (at most wait_ms) for a
 * connected session and retries calls that failed because the connection
 * dropped, until the same deadline; then it fails with MEMB_ERR "ZooKeeper
 * unreachable". Calls that are not idempotent check what a lost reply hid:
 * a lock's ephemeral znode is ours if its owner is our session, a CAS that
 * reports a conflict after a retry is ours if the stored data are ours. An
 * expired session is replaced by a new one on the next use of the handle:
 * the live records this handle set are created again with their last
 * state, its load locks are lost (membership_lock_check() says so), and the
 * watches of membership_wait_change() are set again.
 *
 * The client library calls zk_watcher on its own completion thread; it
 * touches only the fields under zk_state.mu. Everything else belongs to the
 * thread using the handle.
 */
#include "membership-internal.h"
#include "record_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zookeeper/zookeeper.h>

#include "log.h"

/* Options of the URI's query string and their defaults and bounds. */
#define ZK_SESSION_MS_DEFAULT 10000
#define ZK_SESSION_MS_MIN 100
#define ZK_SESSION_MS_MAX 600000
#define ZK_WAIT_MS_MIN 0
#define ZK_WAIT_MS_MAX 3600000
#define ZK_CLUSTER_DEFAULT "default"
#define ZK_AUTH_ENV "LARDER_ZK_AUTH"

#define ZK_HOSTS_MAX 1024
#define ZK_AUTH_MAX 256
#define ZK_PATH_MAX 1024
#define ZK_CHROOT_MAX 256
/* How long a wait for the connection sleeps between looks at its state. */
#define ZK_POLL_MS 100
/* Compare-and-set loops that lose to concurrent writers give up after. */
#define ZK_CAS_ATTEMPTS 50

/* Our own return code: the wait ran out, the message is in the handle. */
#define ZK_GAVE_UP (-9999)

/* The skeleton created at open, under <chroot>/larder/<cluster>. */
static const char *const zk_skeleton[] = {
    "members", "live",  "tables",         "ready", "refusals",
    "locks",   "drain", "active-history",
};

/* A live record this handle set, made again in a new session. */
struct zk_live {
    char id[MEMB_NAME_MAX];
    char state[MEMB_STATE_MAX];
    struct zk_live *next;
};

struct zk_lock {
    struct memb_lock base;
    int64_t session; /* the session that owns locks/<table>; 0: released */
};

struct zk_state {
    char hosts[ZK_HOSTS_MAX];
    char base[ZK_PATH_MAX]; /* <chroot>/larder/<cluster> */
    char auth[ZK_AUTH_MAX]; /* "user:password", "" for none */
    int session_ms;
    int wait_ms;

    zhandle_t *zh;
    int64_t session; /* the current session's id */
    bool renewing;      /* in zk_setup_session: an expiry is a failure */
    bool setup_pending; /* a new session awaits zk_setup_session */
    unsigned sessions;  /* sessions set up so far */
    struct ACL acl_entries[2];
    struct ACL_vector acl; /* what created znodes get */
    struct zk_live *lives;
    bool armed; /* the watches of wait_change are set */

    pthread_mutex_t mu;
    pthread_cond_t cond;
    /* Under mu, written by zk_watcher and the auth completion. */
    bool expired;
    uint64_t changes; /* watch events seen */
    bool auth_done;
    int auth_rc;

    uint64_t seen; /* changes reported by wait_change (handle's thread) */
};

static struct zk_state *zs_of(struct membership *m)
{
    return m->state;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- library callbacks -------------------------------------------------- */

/* The library's log lines, at larder's verbose level. */
static void zk_log_line(const char *message)
{
    size_t len = strlen(message);
    while (len > 0 && (message[len - 1] == '\n' || message[len - 1] == '\r')) {
        len--;
    }
    log_verbose("zookeeper: %.*s", (int)len, message);
}

/*
 * The session watcher and the watcher of every watch we set: session
 * events track expiry; any other event is a change for wait_change.
 */
static void zk_watcher(zhandle_t *zh, int type, int state, const char *path,
                       void *ctx)
{
    (void)zh;
    (void)path;
    struct zk_state *zs = ctx;
    pthread_mutex_lock(&zs->mu);
    if (type == ZOO_SESSION_EVENT) {
        if (state == ZOO_EXPIRED_SESSION_STATE) {
            zs->expired = true;
        }
    } else {
        zs->changes++;
    }
    pthread_cond_broadcast(&zs->cond);
    pthread_mutex_unlock(&zs->mu);
}

static void zk_auth_done(int rc, const void *data)
{
    struct zk_state *zs = (struct zk_state *)data;
    pthread_mutex_lock(&zs->mu);
    zs->auth_done = true;
    zs->auth_rc = rc;
    pthread_cond_broadcast(&zs->cond);
    pthread_mutex_unlock(&zs->mu);
}

/* Sleeps on the condition until something is signalled or ms pass. */
static void zk_nap(struct zk_state *zs, int64_t ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&zs->mu);
    pthread_cond_timedwait(&zs->cond, &zs->mu, &ts);
    pthread_mutex_unlock(&zs->mu);
}

/* ---- sessions ----------------------------------------------------------- */

static enum memb_status unreachable(struct membership *m)
{
    struct zk_state *zs = zs_of(m);
    return memb_fail(m, MEMB_ERR,
                     "ZooKeeper unreachable: no connection to %s within %d "
                     "ms",
                     zs->hosts, zs->wait_ms);
}

static enum memb_status zk_start_session(struct membership *m);
static int zk_setup_session(struct membership *m, int64_t deadline);

/*
 * Waits until the session is connected and set up: ZOK, or ZK_GAVE_UP
 * with the message set when the deadline passes, the credentials are
 * refused, or no new session can replace an expired one.
 */
static int zk_ready(struct membership *m, int64_t deadline)
{
    struct zk_state *zs = zs_of(m);
    for (;;) {
        if (zs->zh == NULL) { /* a new session could not be started */
            if (zk_start_session(m) != MEMB_OK) {
                return ZK_GAVE_UP;
            }
            continue;
        }
        int state = zoo_state(zs->zh);
        pthread_mutex_lock(&zs->mu);
        bool expired = zs->expired;
        pthread_mutex_unlock(&zs->mu);
        if (expired || state == ZOO_EXPIRED_SESSION_STATE) {
            if (zs->renewing) {
                memb_fail(m, MEMB_ERR,
                          "ZooKeeper session expired while it was being "
                          "set up (session_ms=%d too short?)",
                          zs->session_ms);
                return ZK_GAVE_UP;
            }
            log_notice("ZooKeeper session 0x%" PRIx64 " expired; starting "
                       "a new one",
                       (uint64_t)zs->session);
            if (zk_start_session(m) != MEMB_OK) {
                return ZK_GAVE_UP;
            }
            continue;
        }
        if (state == ZOO_AUTH_FAILED_STATE) {
            memb_fail(m, MEMB_ERR,
                      "ZooKeeper %s refused the credentials (auth=user:...)",
                      zs->hosts);
            return ZK_GAVE_UP;
        }
        if (state == ZOO_CONNECTED_STATE) {
            return zs->setup_pending && !zs->renewing
                       ? zk_setup_session(m, deadline)
                       : ZOK;
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            unreachable(m);
            return ZK_GAVE_UP;
        }
        zk_nap(zs, left < ZK_POLL_MS ? left : ZK_POLL_MS);
    }
}

/* Failures that a new attempt, once connected again, may not have. */
static bool zk_transient(int rc)
{
    return rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT ||
           rc == ZSESSIONEXPIRED || rc == ZINVALIDSTATE ||
           rc == ZSESSIONMOVED;
}

/* One operation's deadline, and whether an attempt was already made. */
struct zk_call {
    int64_t deadline;
    bool retried;
};

static struct zk_call zk_call_start(struct membership *m)
{
    struct zk_call c = {.deadline = mono_ms() + zs_of(m)->wait_ms};
    return c;
}

/*
 * After an attempt that returned *rc: true to try again (a transient
 * failure before the deadline). At the deadline *rc becomes ZK_GAVE_UP
 * with the "unreachable" message.
 */
static bool zk_again(struct membership *m, struct zk_call *c, int *rc)
{
    if (!zk_transient(*rc)) {
        return false;
    }
    if (mono_ms() >= c->deadline) {
        unreachable(m);
        *rc = ZK_GAVE_UP;
        return false;
    }
    c->retried = true;
    return true;
}

/* The message for a ZooKeeper error the caller did not expect. */
static enum memb_status zk_fail(struct membership *m, int rc, const char *what,
                                const char *path)
{
    if (rc == ZK_GAVE_UP) {
        return MEMB_ERR; /* the message is set */
    }
    if (rc == ZNOAUTH) {
        return memb_fail(m, MEMB_ERR,
                         "ZooKeeper: not authorised to %s %s (the cluster's "
                         "znodes have a digest ACL: open with "
                         "?auth=user:password or set " ZK_AUTH_ENV ")",
                         what, path);
    }
    return memb_fail(m, MEMB_ERR, "ZooKeeper: %s %s: %s", what, path,
                     zerror(rc));
}

static void zk_disconnect(struct zk_state *zs)
{
    if (zs->zh != NULL) {
        zookeeper_close(zs->zh);
        zs->zh = NULL;
    }
    zs->session = 0;
}

/*
 * Replaces the session (closing the old handle) without waiting: the
 * client library connects in the background and sends the credentials
 * first; zk_setup_session() finishes the job once connected.
 */
static enum memb_status zk_start_session(struct membership *m)
{
    struct zk_state *zs = zs_of(m);
    zk_disconnect(zs);
    pthread_mutex_lock(&zs->mu);
    zs->expired = false;
    zs->auth_done = false;
    zs->auth_rc = ZOK;
    pthread_mutex_unlock(&zs->mu);
    zs->setup_pending = true;
    zs->zh = zookeeper_init2(zs->hosts, zk_watcher, zs->session_ms, NULL, zs,
                             0, zk_log_line);
    if (zs->zh == NULL) {
        return memb_fail(m, MEMB_ERR,
                         "ZooKeeper %s: cannot start a session (host names "
                         "resolve?): %s",
                         zs->hosts, strerror(errno));
    }
    if (zs->auth[0] != '\0') {
        int rc = zoo_add_auth(zs->zh, "digest", zs->auth,
                              (int)strlen(zs->auth), zk_auth_done, zs);
        if (rc != ZOK) {
            zk_disconnect(zs);
            return memb_fail(m, MEMB_ERR,
                             "ZooKeeper %s: cannot send the credentials: %s",
                             zs->hosts, zerror(rc));
        }
    }
    return MEMB_OK;
}

static enum memb_status zk_live_create(struct membership *m, const char *id,
                                       const char *state);

/*
 * The first connection of a new session: the credentials accepted, the
 * live records set through this handle created again with their last
 * state (after an expiry; held locks are lost: their session id no longer
 * matches), and the watches of wait_change to be set again. Left pending,
 * to be tried again by the next call, if it cannot finish.
 */
static int zk_setup_session(struct membership *m, int64_t deadline)
{
    struct zk_state *zs = zs_of(m);
    for (;;) {
        pthread_mutex_lock(&zs->mu);
        bool done = zs->auth_done || zs->auth[0] == '\0';
        int rc = zs->auth_rc;
        pthread_mutex_unlock(&zs->mu);
        if (done && (rc == ZCONNECTIONLOSS || rc == ZOPERATIONTIMEOUT) &&
            deadline - mono_ms() > 0) {
            /* The connection dropped before the server answered the
             * credentials (a server just started, say): not a refusal.
             * Start over with a new session and send them again. */
            if (zk_start_session(m) != MEMB_OK) {
                return ZK_GAVE_UP;
            }
            zk_nap(zs, ZK_POLL_MS);
            continue;
        }
        if (done && rc != ZOK) {
            memb_fail(m, MEMB_ERR,
                      "ZooKeeper %s refused the digest credentials: %s",
                      zs->hosts, zerror(rc));
            return ZK_GAVE_UP;
        }
        if (done) {
            break;
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            unreachable(m);
            return ZK_GAVE_UP;
        }
        zk_nap(zs, left < ZK_POLL_MS ? left : ZK_POLL_MS);
    }
    const clientid_t *id = zoo_client_id(zs->zh);
    zs->session = id != NULL ? id->client_id : 0;
    enum memb_status st = MEMB_OK;
    zs->renewing = true;
    for (struct zk_live *l = zs->lives; l != NULL && st == MEMB_OK;
         l = l->next) {
        st = zk_live_create(m, l->id, l->state);
    }
    zs->renewing = false;
    if (st != MEMB_OK) {
        return ZK_GAVE_UP;
    }
    zs->setup_pending = false;
    if (zs->sessions++ > 0) {
        pthread_mutex_lock(&zs->mu);
        zs->changes++; /* watches died with the old session */
        pthread_mutex_unlock(&zs->mu);
        zs->armed = false;
        log_notice("ZooKeeper: new session 0x%" PRIx64 "%s",
                   (uint64_t)zs->session,
                   zs->lives != NULL ? ", live records set again" : "");
    }
    return ZOK;
}

/* ---- paths and calls with retries --------------------------------------- */

/* base/<fmt...> into out (ZK_PATH_MAX bytes). */
static enum memb_status zpath(struct membership *m, char *out,
                              const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum memb_status zpath(struct membership *m, char *out,
                              const char *fmt, ...)
{
    struct zk_state *zs = zs_of(m);
    int n = snprintf(out, ZK_PATH_MAX, "%s/", zs->base);
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(out + n, (size_t)(ZK_PATH_MAX - n), fmt, ap);
    va_end(ap);
    if (k < 0 || k >= ZK_PATH_MAX - n) {
        return memb_fail(m, MEMB_ERR, "znode path too long under %s",
                         zs->base);
    }
    return MEMB_OK;
}

/* exists: ZOK with stat, ZNONODE, or a failure. */
static int zk_exists(struct membership *m, const char *path,
                     struct Stat *stat)
{
    struct zk_call c = zk_call_start(m);
    int rc;
    do {
        rc = zk_ready(m, c.deadline);
        if (rc == ZOK) {
            rc = zoo_exists(zs_of(m)->zh, path, 0, stat);
        }
    } while (zk_again(m, &c, &rc));
    return rc;
}

/*
 * Reads a znode's data into *data (malloc'd, NUL-terminated, the caller
 * frees; *len bytes) with its stat.
 */
static int zk_get(struct membership *m, const char *path, char **data,
                  int *len, struct Stat *stat)
{
    *data = NULL;
    *len = 0;
    struct zk_call c = zk_call_start(m);
    int cap = 4096;
    for (;;) {
        char *buf = malloc((size_t)cap + 1);
        if (buf == NULL) {
            memb_fail(m, MEMB_ERR, "out of memory");
            return ZK_GAVE_UP;
        }
        int rc;
        int n;
        do {
            rc = zk_ready(m, c.deadline);
            n = cap;
            if (rc == ZOK) {
                rc = zoo_get(zs_of(m)->zh, path, 0, buf, &n, stat);
            }
        } while (zk_again(m, &c, &rc));
        if (rc == ZOK && stat->dataLength > cap) {
            free(buf); /* it grew between the calls: read it all */
            cap = stat->dataLength;
            continue;
        }
        if (rc != ZOK) {
            free(buf);
            return rc;
        }
        if (n < 0) {
            n = 0; /* a znode without data */
        }
        buf[n] = '\0';
        *data = buf;
        *len = n;
        return ZOK;
    }
}

/* set with a version (-1: any); *retried says whether a reply was lost. */
static int zk_set(struct membership *m, const char *path, const char *data,
                  int len, int version, bool *retried)
{
    struct zk_call c = zk_call_start(m);
    int rc;
    do {
        rc = zk_ready(m, c.deadline);
        if (rc == ZOK) {
            rc = zoo_set(zs_of(m)->zh, path, data, len, version);
        }
    } while (zk_again(m, &c, &rc));
    if (retried != NULL) {
        *retried = c.retried;
    }
    return rc;
}

/* create; created (ZK_PATH_MAX bytes, may be NULL) gets the real name. */
static int zk_create(struct membership *m, const char *path, const char *data,
                     int len, int mode, char *created, bool *retried)
{
    struct zk_state *zs = zs_of(m);
    struct zk_call c = zk_call_start(m);
    int rc;
    do {
        rc = zk_ready(m, c.deadline);
        if (rc == ZOK) {
            rc = zoo_create(zs->zh, path, data, len, &zs->acl, mode, created,
                            created != NULL ? ZK_PATH_MAX : 0);
        }
    } while (zk_again(m, &c, &rc));
    if (retried != NULL) {
        *retried = c.retried;
    }
    return rc;
}

static int zk_delete(struct membership *m, const char *path, int version)
{
    struct zk_call c = zk_call_start(m);
    int rc;
    do {
        rc = zk_ready(m, c.deadline);
        if (rc == ZOK) {
            rc = zoo_delete(zs_of(m)->zh, path, version);
        }
    } while (zk_again(m, &c, &rc));
    if (rc == ZNONODE && c.retried) {
        rc = ZOK; /* the lost reply was our delete */
    }
    return rc;
}

/* Children names, unsorted (the caller frees with
 * deallocate_String_vector()); zk_list() is what most callers want. */
static int zk_children(struct membership *m, const char *path,
                       struct String_vector *out)
{
    memset(out, 0, sizeof(*out));
    struct zk_call c = zk_call_start(m);
    int rc;
    do {
        rc = zk_ready(m, c.deadline);
        if (rc == ZOK) {
            rc = zoo_get_children(zs_of(m)->zh, path, 0, out);
        }
    } while (zk_again(m, &c, &rc));
    return rc;
}

static int zk_multi(struct membership *m, int count, const zoo_op_t *ops,
                    zoo_op_result_t *results, bool *retried)
{
    struct zk_call c = zk_call_start(m);
    int rc;
    do {
        rc = zk_ready(m, c.deadline);
        if (rc == ZOK) {
            rc = zoo_multi(zs_of(m)->zh, count, ops, results);
        }
    } while (zk_again(m, &c, &rc));
    if (retried != NULL) {
        *retried = c.retried;
    }
    return rc;
}

static int str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void sort_children(struct String_vector *v)
{
    if (v->count > 1) {
        qsort(v->data, (size_t)v->count, sizeof(v->data[0]), str_cmp);
    }
}

static bool has_child(const struct String_vector *v, const char *name)
{
    return v->count > 0 &&
           bsearch(&name, v->data, (size_t)v->count, sizeof(v->data[0]),
                   str_cmp) != NULL;
}

/*
 * The names of path's children, sorted; none when path does not exist.
 * The caller frees *out with deallocate_String_vector() (also when empty).
 */
static enum memb_status zk_list(struct membership *m, const char *path,
                                struct String_vector *out)
{
    int rc = zk_children(m, path, out);
    if (rc == ZNONODE) {
        memset(out, 0, sizeof(*out));
        return MEMB_OK;
    }
    if (rc != ZOK) {
        return zk_fail(m, rc, "list", path);
    }
    sort_children(out);
    return MEMB_OK;
}

/* Creates path's missing ancestors and path itself (empty, persistent). */
static int zk_ensure(struct membership *m, const char *path)
{
    int rc = zk_create(m, path, NULL, -1, ZOO_PERSISTENT, NULL, NULL);
    if (rc == ZNONODE) {
        char parent[ZK_PATH_MAX];
        snprintf(parent, sizeof(parent), "%s", path);
        char *slash = strrchr(parent, '/');
        if (slash == NULL || slash == parent) {
            return rc;
        }
        *slash = '\0';
        rc = zk_ensure(m, parent);
        if (rc == ZOK || rc == ZNODEEXISTS) {
            rc = zk_create(m, path, NULL, -1, ZOO_PERSISTENT, NULL, NULL);
        }
    }
    if (rc == ZNOAUTH && zk_exists(m, path, &(struct Stat){0}) == ZOK) {
        rc = ZNODEEXISTS;
    }
    return rc == ZNODEEXISTS ? ZOK : rc;
}

/* Creates the ancestors of path (not path). */
static int zk_ensure_parent(struct membership *m, const char *path)
{
    char parent[ZK_PATH_MAX];
    snprintf(parent, sizeof(parent), "%s", path);
    char *slash = strrchr(parent, '/');
    if (slash == NULL || slash == parent) {
        return ZOK;
    }
    *slash = '\0';
    return zk_ensure(m, parent);
}

/*
 * Stores a whole record: set, or create (with ancestors) if missing. The
 * document is written compact; NULL doc (not UTF-8) is MEMB_INVALID.
 */
static enum memb_status zk_put_json(struct membership *m, const char *path,
                                    json_t *doc)
{
    if (doc == NULL) {
        return memb_fail(m, MEMB_INVALID,
                         "%s: cannot encode record (strings must be UTF-8)",
                         path);
    }
    char *text = memb_json_text(doc, false);
    if (text == NULL) {
        return memb_fail(m, MEMB_ERR, "%s: cannot encode record", path);
    }
    int len = (int)strlen(text);
    int rc = ZNONODE;
    for (int attempt = 0; attempt < 3 && rc == ZNONODE; attempt++) {
        rc = zk_set(m, path, text, len, -1, NULL);
        if (rc == ZNONODE) {
            rc = zk_create(m, path, text, len, ZOO_PERSISTENT, NULL, NULL);
            if (rc == ZNONODE) {
                rc = zk_ensure_parent(m, path);
                rc = rc == ZOK ? ZNONODE : rc;
            } else if (rc == ZNODEEXISTS) {
                rc = ZNONODE; /* created meanwhile: set it */
            }
        }
    }
    free(text);
    return rc == ZOK ? MEMB_OK : zk_fail(m, rc, "write", path);
}

/*
 * Reads a JSON record: MEMB_NOTFOUND if the znode is missing or has no
 * data (a table or version allocated but not yet described).
 */
static enum memb_status zk_get_json(struct membership *m, const char *path,
                                    json_t **out, struct Stat *stat)
{
    *out = NULL;
    struct Stat local_stat;
    char *data;
    int len;
    int rc = zk_get(m, path, &data, &len, stat != NULL ? stat : &local_stat);
    if (rc == ZNONODE) {
        return memb_fail(m, MEMB_NOTFOUND, "%s: not found", path);
    }
    if (rc != ZOK) {
        return zk_fail(m, rc, "read", path);
    }
    if (len == 0) {
        free(data);
        return memb_fail(m, MEMB_NOTFOUND, "%s: no record", path);
    }
    *out = memb_json_parse(m, path, data, (size_t)len);
    free(data);
    return *out != NULL ? MEMB_OK : MEMB_ERR;
}

/* ---- open / close ------------------------------------------------------- */

static bool valid_hosts(const char *h, size_t len)
{
    if (len == 0 || len >= ZK_HOSTS_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = h[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (c >= '0' && c <= '9') || c == '.' || c == '-' ||
                  c == ':' || c == ',' || c == '[' || c == ']' || c == '_';
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Whether the key of an option (klen bytes at k) is name. */
static bool key_is(const char *k, size_t klen, const char *name)
{
    return strlen(name) == klen && memcmp(k, name, klen) == 0;
}

/* An integer option within [lo, hi]. */
static bool parse_ms(const char *s, size_t len, int lo, int hi, int *out)
{
    char buf[16];
    uint64_t v;
    if (len == 0 || len >= sizeof(buf)) {
        return false;
    }
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (memb_parse_u64(buf, &v) != 0 || v < (uint64_t)lo ||
        v > (uint64_t)hi) {
        return false;
    }
    *out = (int)v;
    return true;
}

/*
 * Parses "//hosts[/chroot][?key=value&...]" into zs; *cluster receives the
 * cluster name. The password is never echoed in a message.
 */
static enum memb_status parse_location(struct membership *m,
                                       struct zk_state *zs,
                                       const char *location, char *cluster)
{
    const char *usage = "zk://host:port[,host:port...][/chroot]"
                        "[?cluster=NAME&session_ms=N&wait_ms=N&"
                        "auth=user:password]";
    if (strncmp(location, "//", 2) != 0) {
        return memb_fail(m, MEMB_INVALID, "zk: URI: expected %s", usage);
    }
    const char *p = location + 2;
    size_t hlen = strcspn(p, "/?");
    if (!valid_hosts(p, hlen)) {
        return memb_fail(m, MEMB_INVALID,
                         "zk: URI: bad host list \"%.*s\" (expected %s)",
                         (int)(hlen < 200 ? hlen : 200), p, usage);
    }
    memcpy(zs->hosts, p, hlen);
    zs->hosts[hlen] = '\0';
    p += hlen;
    char chroot[ZK_CHROOT_MAX] = "";
    size_t clen = strcspn(p, "?");
    while (clen > 0 && p[clen - 1] == '/') {
        clen--; /* "/" and "/x/" mean the root and /x */
    }
    if (clen >= sizeof(chroot)) {
        return memb_fail(m, MEMB_INVALID, "zk: URI: chroot too long");
    }
    memcpy(chroot, p, clen);
    chroot[clen] = '\0';
    /* Every component of the chroot is a valid name: no "//", ".", "..". */
    for (char *c = chroot; *c != '\0';) {
        char *next = strchr(c + 1, '/');
        size_t n = next != NULL ? (size_t)(next - c - 1) : strlen(c + 1);
        char part[MEMB_NAME_MAX];
        if (n == 0 || n >= sizeof(part)) {
            return memb_fail(m, MEMB_INVALID, "zk: URI: bad chroot \"%s\"",
                             chroot);
        }
        memcpy(part, c + 1, n);
        part[n] = '\0';
        if (!membership_valid_name(part)) {
            return memb_fail(m, MEMB_INVALID, "zk: URI: bad chroot \"%s\"",
                             chroot);
        }
        c = next != NULL ? next : c + 1 + n;
    }
    p = strchr(p, '?');
    snprintf(cluster, MEMB_NAME_MAX, "%s", ZK_CLUSTER_DEFAULT);
    while (p != NULL && *p != '\0') {
        p++; /* past '?' or '&' */
        size_t len = strcspn(p, "&");
        const char *eq = memchr(p, '=', len);
        if (eq == NULL) {
            return memb_fail(m, MEMB_INVALID,
                             "zk: URI: option \"%.*s\" without a value",
                             (int)(len < 64 ? len : 64), p);
        }
        size_t klen = (size_t)(eq - p);
        const char *v = eq + 1;
        size_t vlen = len - klen - 1;
        if (key_is(p, klen, "cluster")) {
            if (vlen >= MEMB_NAME_MAX) {
                vlen = MEMB_NAME_MAX; /* refused below */
            }
            char name[MEMB_NAME_MAX + 1];
            memcpy(name, v, vlen);
            name[vlen] = '\0';
            if (!membership_valid_name(name)) {
                return memb_fail(m, MEMB_INVALID,
                                 "zk: URI: bad cluster name \"%s\"", name);
            }
            memcpy(cluster, name, vlen + 1); /* valid: vlen < MEMB_NAME_MAX */
        } else if (key_is(p, klen, "session_ms")) {
            if (!parse_ms(v, vlen, ZK_SESSION_MS_MIN, ZK_SESSION_MS_MAX,
                          &zs->session_ms)) {
                return memb_fail(m, MEMB_INVALID,
                                 "zk: URI: session_ms must be %d..%d",
                                 ZK_SESSION_MS_MIN, ZK_SESSION_MS_MAX);
            }
        } else if (key_is(p, klen, "wait_ms")) {
            if (!parse_ms(v, vlen, ZK_WAIT_MS_MIN, ZK_WAIT_MS_MAX,
                          &zs->wait_ms)) {
                return memb_fail(m, MEMB_INVALID,
                                 "zk: URI: wait_ms must be %d..%d",
                                 ZK_WAIT_MS_MIN, ZK_WAIT_MS_MAX);
            }
        } else if (key_is(p, klen, "auth")) {
            if (vlen >= sizeof(zs->auth) || memchr(v, ':', vlen) == NULL ||
                v[0] == ':') {
                return memb_fail(m, MEMB_INVALID,
                                 "zk: URI: auth must be user:password");
            }
            memcpy(zs->auth, v, vlen);
            zs->auth[vlen] = '\0';
        } else {
            return memb_fail(m, MEMB_INVALID,
                             "zk: URI: unknown option \"%.*s\" (known: "
                             "cluster, session_ms, wait_ms, auth)",
                             (int)(klen < 64 ? klen : 64), p);
        }
        p += len;
    }
    int n = snprintf(zs->base, sizeof(zs->base), "%s/larder/%s", chroot,
                     cluster);
    if (n < 0 || (size_t)n >= sizeof(zs->base)) {
        return memb_fail(m, MEMB_INVALID, "zk: URI: path too long");
    }
    return MEMB_OK;
}

/* world may read; the digest identity of the creator may do anything. */
static void set_acl(struct zk_state *zs)
{
    if (zs->auth[0] == '\0') {
        zs->acl = ZOO_OPEN_ACL_UNSAFE;
        return;
    }
    zs->acl_entries[0].perms = ZOO_PERM_READ;
    zs->acl_entries[0].id.scheme = "world";
    zs->acl_entries[0].id.id = "anyone";
    zs->acl_entries[1].perms = ZOO_PERM_ALL;
    zs->acl_entries[1].id.scheme = "auth"; /* the session's digest id */
    zs->acl_entries[1].id.id = "";
    zs->acl.count = 2;
    zs->acl.data = zs->acl_entries;
}

/* The library's log level follows larder's (its lines go to verbose). */
static void set_library_log_level(void)
{
    enum log_level lv = log_get_level();
    zoo_set_debug_level(lv == LOG_LVL_DEBUG     ? ZOO_LOG_LEVEL_DEBUG
                        : lv == LOG_LVL_VERBOSE ? ZOO_LOG_LEVEL_WARN
                                                : ZOO_LOG_LEVEL_ERROR);
}

static void zk_free_state(struct zk_state *zs)
{
    zk_disconnect(zs);
    while (zs->lives != NULL) {
        struct zk_live *next = zs->lives->next;
        free(zs->lives);
        zs->lives = next;
    }
    pthread_cond_destroy(&zs->cond);
    pthread_mutex_destroy(&zs->mu);
    free(zs);
}

static enum memb_status zk_arm(struct membership *m);

static enum memb_status zk_open(struct membership *m, const char *location)
{
    struct zk_state *zs = calloc(1, sizeof(*zs));
    if (zs == NULL) {
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    zs->session_ms = ZK_SESSION_MS_DEFAULT;
    zs->wait_ms = -1;
    char cluster[MEMB_NAME_MAX];
    enum memb_status st = parse_location(m, zs, location, cluster);
    if (st != MEMB_OK) {
        free(zs);
        return st;
    }
    if (zs->wait_ms < 0) {
        zs->wait_ms = zs->session_ms;
    }
    const char *env = getenv(ZK_AUTH_ENV);
    if (zs->auth[0] == '\0' && env != NULL && env[0] != '\0') {
        if (strlen(env) >= sizeof(zs->auth) || strchr(env, ':') == NULL ||
            env[0] == ':') {
            free(zs);
            return memb_fail(m, MEMB_INVALID,
                             ZK_AUTH_ENV " must be user:password");
        }
        snprintf(zs->auth, sizeof(zs->auth), "%s", env);
    }
    set_acl(zs);
    pthread_mutex_init(&zs->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&zs->cond, &ca);
    pthread_condattr_destroy(&ca);
    m->state = zs;
    set_library_log_level();

    st = zk_start_session(m);
    for (size_t i = 0;
         st == MEMB_OK && i < sizeof(zk_skeleton) / sizeof(zk_skeleton[0]);
         i++) {
        char path[ZK_PATH_MAX];
        st = zpath(m, path, "%s", zk_skeleton[i]);
        int rc = st == MEMB_OK ? zk_ensure(m, path) : ZOK;
        if (rc != ZOK && rc != ZNOAUTH) {
            st = zk_fail(m, rc, "create", path); /* a reader needs none */
        }
    }
    if (st == MEMB_OK) {
        st = zk_arm(m);
    }
    if (st != MEMB_OK) {
        zk_free_state(zs);
        m->state = NULL;
        return st;
    }
    return MEMB_OK;
}

static void zk_close(struct membership *m)
{
    zk_free_state(zs_of(m)); /* closing the session drops its ephemerals */
    m->state = NULL;
}

/* ---- tables ------------------------------------------------------------- */

static enum memb_status zk_table_put(struct membership *m,
                                     const struct memb_table *t)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "tables/%s", t->name);
    if (st != MEMB_OK) {
        return st;
    }
    json_t *doc = memb_table_encode(t);
    st = zk_put_json(m, path, doc);
    json_decref(doc);
    return st;
}

static enum memb_status zk_table_get(struct membership *m, const char *name,
                                     struct memb_table *out)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "tables/%s", name);
    json_t *doc = NULL;
    if (st == MEMB_OK) {
        st = zk_get_json(m, path, &doc, NULL);
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

/* Deletes everything below the znode at path, and the znode itself unless
 * keep_root; a missing one is fine. */
static enum memb_status zk_delete_tree(struct membership *m, const char *path,
                                       bool keep_root)
{
    struct String_vector kids;
    enum memb_status st = zk_list(m, path, &kids);
    if (st != MEMB_OK) {
        return st;
    }
    for (int32_t i = 0; st == MEMB_OK && i < kids.count; i++) {
        char child[ZK_PATH_MAX];
        int n = snprintf(child, sizeof(child), "%s/%s", path, kids.data[i]);
        st = n > 0 && (size_t)n < sizeof(child)
                 ? zk_delete_tree(m, child, false)
                 : memb_fail(m, MEMB_ERR, "path too long under %s", path);
    }
    deallocate_String_vector(&kids);
    if (st != MEMB_OK || keep_root) {
        return st;
    }
    int rc = zk_delete(m, path, -1);
    return rc == ZOK || rc == ZNONODE ? MEMB_OK : zk_fail(m, rc, "delete", path);
}

/*
 * The config (tables/<t>'s data) is emptied first, so a half-done removal
 * shows no table; tables/<t>/versions stays, without children: its
 * sequence counter keeps numbers from being reused.
 */
static enum memb_status zk_table_remove(struct membership *m, const char *name)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "tables/%s", name);
    if (st != MEMB_OK) {
        return st;
    }
    int rc = zk_set(m, path, "", 0, -1, NULL);
    if (rc != ZOK) {
        return zk_fail(m, rc, "clear", path);
    }
    st = zpath(m, path, "tables/%s/versions", name);
    if (st == MEMB_OK) {
        st = zk_delete_tree(m, path, true);
    }
    if (st == MEMB_OK) {
        st = zpath(m, path, "ready/%s", name);
    }
    if (st == MEMB_OK) {
        st = zk_delete_tree(m, path, false);
    }
    if (st == MEMB_OK) {
        st = zpath(m, path, "refusals/%s", name);
    }
    if (st == MEMB_OK) {
        st = zk_delete_tree(m, path, false);
    }
    return st;
}

static enum memb_status zk_table_list(struct membership *m,
                                      struct memb_table **out, size_t *n)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "tables");
    if (st != MEMB_OK) {
        return st;
    }
    struct String_vector names;
    st = zk_list(m, path, &names);
    if (st != MEMB_OK) {
        return st;
    }
    struct memb_table *v =
        calloc(names.count > 0 ? (size_t)names.count : 1, sizeof(*v));
    if (v == NULL) {
        deallocate_String_vector(&names);
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    size_t k = 0;
    for (int32_t i = 0; st == MEMB_OK && i < names.count; i++) {
        if (!membership_valid_name(names.data[i])) {
            continue;
        }
        st = zk_table_get(m, names.data[i], &v[k]);
        if (st == MEMB_OK) {
            k++;
        } else if (st == MEMB_NOTFOUND) {
            st = MEMB_OK; /* versions allocated, no config yet */
        }
    }
    deallocate_String_vector(&names);
    if (st != MEMB_OK) {
        free(v);
        return st;
    }
    *out = v;
    *n = k;
    return MEMB_OK;
}

/* ---- versions ----------------------------------------------------------- */

#define ZK_VERSION_FMT "v-%010" PRIu64

/* The version number of a child name "v-NNNNNNNNNN"; 0 if not one. */
static uint64_t version_of(const char *name)
{
    uint64_t v;
    if (strncmp(name, "v-", 2) != 0 || strlen(name) != 12 ||
        memb_parse_u64(name + 2, &v) != 0) {
        return 0;
    }
    return v;
}

/*
 * One create of a persistent sequential znode: the sequence number ZooKeeper
 * appends is the version, so numbers only grow and are never handed out
 * twice (a reply lost to a dropped connection skips a number). The znode
 * has no data until version_put; sequence 0 is skipped (no version 0).
 */
static enum memb_status zk_version_alloc(struct membership *m,
                                         const char *table, uint64_t *out)
{
    char dir[ZK_PATH_MAX];
    char prefix[ZK_PATH_MAX];
    enum memb_status st = zpath(m, dir, "tables/%s/versions", table);
    if (st == MEMB_OK) {
        st = zpath(m, prefix, "tables/%s/versions/v-", table);
    }
    if (st != MEMB_OK) {
        return st;
    }
    int rc = zk_ensure(m, dir);
    if (rc != ZOK) {
        return zk_fail(m, rc, "create", dir);
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        char created[ZK_PATH_MAX];
        rc = zk_create(m, prefix, NULL, -1, ZOO_PERSISTENT_SEQUENTIAL,
                       created, NULL);
        if (rc != ZOK) {
            return zk_fail(m, rc, "create", prefix);
        }
        const char *slash = strrchr(created, '/');
        uint64_t v = version_of(slash != NULL ? slash + 1 : created);
        if (v > 0) {
            *out = v;
            return MEMB_OK;
        }
    }
    return memb_fail(m, MEMB_ERR, "%s: no version number was handed out",
                     dir);
}

/*
 * Fills an allocated version's znode and touches tables/<t>/versions in
 * the same multi, so watchers of the version list see records change.
 */
static enum memb_status zk_version_put(struct membership *m,
                                       const char *table,
                                       const struct memb_version *v)
{
    char path[ZK_PATH_MAX];
    char dir[ZK_PATH_MAX];
    enum memb_status st =
        zpath(m, path, "tables/%s/versions/" ZK_VERSION_FMT, table,
              v->version);
    if (st == MEMB_OK) {
        st = zpath(m, dir, "tables/%s/versions", table);
    }
    if (st != MEMB_OK) {
        return st;
    }
    json_t *doc = memb_version_encode(v);
    char *text = memb_json_text(doc, false);
    json_decref(doc);
    if (text == NULL) {
        return memb_fail(m, MEMB_INVALID,
                         "%s: cannot encode record (strings must be UTF-8)",
                         path);
    }
    zoo_op_t ops[2];
    zoo_op_result_t results[2];
    zoo_set_op_init(&ops[0], path, text, (int)strlen(text), -1, NULL);
    zoo_set_op_init(&ops[1], dir, NULL, -1, -1, NULL);
    int rc = zk_multi(m, 2, ops, results, NULL);
    free(text);
    if (rc == ZNONODE) {
        return memb_fail(m, MEMB_NOTFOUND,
                         "version %s=%" PRIu64
                         " was never allocated (zk: versions come from "
                         "membership_version_alloc)",
                         table, v->version);
    }
    return rc == ZOK ? MEMB_OK : zk_fail(m, rc, "write", path);
}

static enum memb_status zk_version_get(struct membership *m,
                                       const char *table, uint64_t version,
                                       struct memb_version *out)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "tables/%s/versions/" ZK_VERSION_FMT,
                                table, version);
    json_t *doc = NULL;
    if (st == MEMB_OK) {
        st = zk_get_json(m, path, &doc, NULL);
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

static enum memb_status zk_version_list(struct membership *m,
                                        const char *table,
                                        struct memb_version **out, size_t *n)
{
    char tpath[ZK_PATH_MAX];
    char dir[ZK_PATH_MAX];
    enum memb_status st = zpath(m, tpath, "tables/%s", table);
    if (st == MEMB_OK) {
        st = zpath(m, dir, "tables/%s/versions", table);
    }
    if (st != MEMB_OK) {
        return st;
    }
    struct Stat stat;
    int rc = zk_exists(m, tpath, &stat);
    if (rc == ZNONODE) {
        return memb_fail(m, MEMB_NOTFOUND, "no table %s", table);
    }
    if (rc != ZOK) {
        return zk_fail(m, rc, "read", tpath);
    }
    struct String_vector names;
    st = zk_list(m, dir, &names);
    if (st != MEMB_OK) {
        return st;
    }
    struct memb_version *v =
        calloc(names.count > 0 ? (size_t)names.count : 1, sizeof(*v));
    if (v == NULL) {
        deallocate_String_vector(&names);
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    size_t k = 0;
    for (int32_t i = 0; st == MEMB_OK && i < names.count; i++) {
        uint64_t version = version_of(names.data[i]);
        if (version == 0) {
            continue;
        }
        st = zk_version_get(m, table, version, &v[k]);
        if (st == MEMB_OK) {
            k++;
        } else if (st == MEMB_NOTFOUND) {
            st = MEMB_OK; /* allocated, not yet put */
        }
    }
    deallocate_String_vector(&names);
    if (st != MEMB_OK) {
        free(v);
        return st;
    }
    *out = v;
    *n = k;
    return MEMB_OK;
}

/* ---- readiness and refusals --------------------------------------------- */

static enum memb_status zk_ready_set(struct membership *m, const char *table,
                                     uint64_t version, const char *node,
                                     const uint32_t *partitions, size_t n)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "ready/%s/%" PRIu64 "/%s", table,
                                version, node);
    if (st != MEMB_OK) {
        return st;
    }
    if (n == 0) {
        int rc = zk_delete(m, path, -1);
        return rc == ZOK || rc == ZNONODE ? MEMB_OK
                                          : zk_fail(m, rc, "delete", path);
    }
    json_t *doc = memb_ready_encode(node, partitions, n);
    st = zk_put_json(m, path, doc);
    json_decref(doc);
    return st;
}

static enum memb_status zk_ready_get(struct membership *m, const char *table,
                                     uint64_t version, const char *node,
                                     uint32_t **partitions, size_t *n)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "ready/%s/%" PRIu64 "/%s", table,
                                version, node);
    json_t *doc = NULL;
    if (st == MEMB_OK) {
        st = zk_get_json(m, path, &doc, NULL);
    }
    if (st == MEMB_OK) {
        st = memb_ready_decode(m, path, doc, partitions, n);
    }
    json_decref(doc);
    return st;
}

/* The names under live/, sorted: the members whose session is alive. */
static enum memb_status live_children(struct membership *m,
                                      struct String_vector *live)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "live");
    if (st != MEMB_OK) {
        return st;
    }
    return zk_list(m, path, live);
}

/* Only nodes with a live/<node> znode (a session not expired) count. */
static enum memb_status zk_ready_list(struct membership *m, const char *table,
                                      uint64_t version,
                                      struct memb_ready **out, size_t *n)
{
    char dir[ZK_PATH_MAX];
    enum memb_status st =
        zpath(m, dir, "ready/%s/%" PRIu64, table, version);
    if (st != MEMB_OK) {
        return st;
    }
    struct String_vector nodes, live = {0};
    st = zk_list(m, dir, &nodes);
    if (st != MEMB_OK) {
        return st;
    }
    st = live_children(m, &live);
    for (int32_t i = 0; st == MEMB_OK && i < nodes.count; i++) {
        if (!membership_valid_name(nodes.data[i]) ||
            !has_child(&live, nodes.data[i])) {
            continue;
        }
        char path[ZK_PATH_MAX];
        json_t *doc = NULL;
        st = zpath(m, path, "ready/%s/%" PRIu64 "/%s", table, version,
                   nodes.data[i]);
        if (st == MEMB_OK) {
            st = zk_get_json(m, path, &doc, NULL);
        }
        if (st == MEMB_NOTFOUND) {
            st = MEMB_OK; /* removed while we listed */
        } else if (st == MEMB_OK) {
            st = memb_ready_append(m, path, nodes.data[i], doc, out, n);
        }
        json_decref(doc);
    }
    deallocate_String_vector(&live);
    deallocate_String_vector(&nodes);
    return st;
}

static enum memb_status zk_refusal_set(struct membership *m,
                                       const char *table, uint64_t version,
                                       const char *node, const char *reason)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "refusals/%s/%" PRIu64 "/%s", table,
                                version, node);
    if (st != MEMB_OK) {
        return st;
    }
    json_t *doc = memb_refusal_encode(node, reason);
    st = zk_put_json(m, path, doc);
    json_decref(doc);
    return st;
}

static enum memb_status zk_refusal_get(struct membership *m,
                                       const char *table, uint64_t version,
                                       char *node, char *reason)
{
    char dir[ZK_PATH_MAX];
    enum memb_status st =
        zpath(m, dir, "refusals/%s/%" PRIu64, table, version);
    if (st != MEMB_OK) {
        return st;
    }
    struct String_vector nodes;
    st = zk_list(m, dir, &nodes);
    if (st != MEMB_OK) {
        return st;
    }
    struct memb_first_refusal f = {0};
    for (int32_t i = 0; st == MEMB_OK && i < nodes.count; i++) {
        if (!membership_valid_name(nodes.data[i])) {
            continue;
        }
        char path[ZK_PATH_MAX];
        json_t *doc = NULL;
        st = zpath(m, path, "refusals/%s/%" PRIu64 "/%s", table, version,
                   nodes.data[i]);
        if (st == MEMB_OK) {
            st = zk_get_json(m, path, &doc, NULL);
        }
        char why[MEMB_FIELD_MAX];
        int64_t created;
        if (st == MEMB_NOTFOUND) {
            st = MEMB_OK;
        } else if (st == MEMB_OK) {
            st = memb_refusal_decode(m, path, doc, why, &created);
            if (st == MEMB_OK) {
                memb_first_refusal_consider(&f, nodes.data[i], why, created);
            }
        }
        json_decref(doc);
    }
    deallocate_String_vector(&nodes);
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

/* Reads active: generation 0 and empty if it does not exist yet. */
static enum memb_status read_active(struct membership *m,
                                    struct memb_active *out, char **raw,
                                    struct Stat *stat, bool *exists)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "active");
    if (st != MEMB_OK) {
        return st;
    }
    char *data;
    int len;
    int rc = zk_get(m, path, &data, &len, stat);
    *exists = rc == ZOK;
    if (rc == ZNONODE || (rc == ZOK && len == 0)) {
        free(data);
        memset(out, 0, sizeof(*out));
        if (raw != NULL) {
            *raw = NULL;
        }
        return MEMB_OK;
    }
    if (rc != ZOK) {
        return zk_fail(m, rc, "read", path);
    }
    json_t *doc = memb_json_parse(m, path, data, (size_t)len);
    st = doc != NULL ? memb_active_decode(m, path, doc, out) : MEMB_ERR;
    json_decref(doc);
    if (raw != NULL && st == MEMB_OK) {
        *raw = data;
    } else {
        free(data);
    }
    return st;
}

static enum memb_status zk_active_get(struct membership *m,
                                      struct memb_active *out)
{
    struct Stat stat;
    bool exists;
    return read_active(m, out, NULL, &stat, &exists);
}

static enum memb_status zk_active_get_generation(struct membership *m,
                                                 uint64_t generation,
                                                 struct memb_active *out)
{
    enum memb_status st = zk_active_get(m, out);
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
    char path[ZK_PATH_MAX];
    json_t *doc = NULL;
    st = zpath(m, path, "active-history/g-%010" PRIu64, generation);
    if (st == MEMB_OK) {
        st = zk_get_json(m, path, &doc, NULL);
    }
    if (st == MEMB_NOTFOUND) {
        return memb_fail(m, MEMB_NOTFOUND,
                         "generation %" PRIu64 " is not in the history",
                         generation);
    }
    if (st == MEMB_OK) {
        st = memb_active_decode(m, path, doc, out);
    }
    json_decref(doc);
    if (st == MEMB_OK && out->generation != generation) {
        membership_active_free(out);
        st = memb_fail(m, MEMB_ERR, "%s: records generation mismatch", path);
    }
    return st;
}

/*
 * One multi: the current map becomes active-history/g-<current> and active
 * is set on the znode version read, so two writers cannot both win. A
 * conflict reported after a lost reply is checked against the stored data:
 * if they are ours, the first attempt went through.
 */
static enum memb_status zk_active_cas(struct membership *m, uint64_t expected,
                                      struct memb_active *next)
{
    char path[ZK_PATH_MAX];
    char hist[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "active");
    if (st != MEMB_OK) {
        return st;
    }
    struct memb_active cur = {0};
    char *raw = NULL;
    struct Stat stat;
    bool exists;
    st = read_active(m, &cur, &raw, &stat, &exists);
    if (st != MEMB_OK) {
        return st;
    }
    uint64_t current = cur.generation;
    membership_active_free(&cur);
    if (current != expected) {
        free(raw);
        return memb_fail(m, MEMB_CONFLICT,
                         "active map is at generation %" PRIu64
                         ", expected %" PRIu64,
                         current, expected);
    }
    st = zpath(m, hist, "active-history/g-%010" PRIu64, current);
    struct memb_active staged = *next;
    staged.generation = expected + 1;
    staged.changed_ms = memb_now_ms();
    json_t *doc = memb_active_encode(&staged);
    char *text = memb_json_text(doc, false);
    json_decref(doc);
    if (st == MEMB_OK && text == NULL) {
        st = memb_fail(m, MEMB_ERR, "active: cannot encode the map");
    }
    if (st != MEMB_OK) {
        free(raw);
        free(text);
        return st;
    }
    struct zk_state *zs = zs_of(m);
    zoo_op_t ops[2];
    zoo_op_result_t results[2];
    int nops = 0;
    if (raw != NULL) {
        zoo_create_op_init(&ops[nops++], hist, raw, (int)strlen(raw),
                           &zs->acl, ZOO_PERSISTENT, NULL, 0);
    }
    if (exists) {
        zoo_set_op_init(&ops[nops++], path, text, (int)strlen(text),
                        stat.version, NULL);
    } else {
        zoo_create_op_init(&ops[nops++], path, text, (int)strlen(text),
                           &zs->acl, ZOO_PERSISTENT, NULL, 0);
    }
    bool retried;
    int rc = zk_multi(m, nops, ops, results, &retried);
    if (rc == ZNODEEXISTS && raw != NULL && results[0].err == ZNODEEXISTS) {
        /* The history of this generation is already there: keep it. */
        rc = zk_multi(m, nops - 1, ops + 1, results, &retried);
    }
    free(raw);
    if ((rc == ZBADVERSION || rc == ZNODEEXISTS) && retried) {
        char *now = NULL;
        int len;
        struct Stat s2;
        if (zk_get(m, path, &now, &len, &s2) == ZOK &&
            strcmp(now, text) == 0) {
            rc = ZOK;
        }
        free(now);
    }
    free(text);
    if (rc == ZBADVERSION || rc == ZNODEEXISTS) {
        return memb_fail(m, MEMB_CONFLICT,
                         "active map changed concurrently (expected "
                         "generation %" PRIu64 ")",
                         expected);
    }
    if (rc != ZOK) {
        return zk_fail(m, rc, "write", path);
    }
    next->generation = staged.generation;
    next->changed_ms = staged.changed_ms;
    return MEMB_OK;
}

/* ---- the per-table load lock -------------------------------------------- */

static enum memb_status zk_lock(struct membership *m, const char *table,
                                struct memb_lock **out)
{
    for (const struct memb_lock *l = m->locks; l != NULL; l = l->next) {
        if (strcmp(l->table, table) == 0) {
            return memb_fail(m, MEMB_BUSY,
                             "table %s is locked by another load (this "
                             "handle)",
                             table);
        }
    }
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "locks/%s", table);
    if (st != MEMB_OK) {
        return st;
    }
    char host[256] = "";
    gethostname(host, sizeof(host) - 1);
    json_t *doc = json_object();
    memb_jset(&doc, "pid", json_integer(getpid()));
    memb_jset(&doc, "host", json_string(host));
    memb_jset(&doc, "created_ms", json_integer(memb_now_ms()));
    char *text = memb_json_text(doc, false);
    json_decref(doc);
    if (text == NULL) {
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    int rc = zk_create(m, path, text, (int)strlen(text), ZOO_EPHEMERAL, NULL,
                       NULL);
    free(text);
    if (rc == ZNONODE && zk_ensure_parent(m, path) == ZOK) {
        return zk_lock(m, table, out);
    }
    struct zk_state *zs = zs_of(m);
    if (rc == ZNODEEXISTS) {
        struct Stat stat;
        char *data = NULL;
        int len;
        rc = zk_get(m, path, &data, &len, &stat);
        if (rc == ZNONODE) {
            return zk_lock(m, table, out); /* released meanwhile */
        }
        if (rc == ZOK && stat.ephemeralOwner != zs->session) {
            json_t *h = len > 0 ? json_loadb(data, (size_t)len, 0, NULL)
                                : NULL;
            json_t *pid = json_object_get(h, "pid");
            const char *who = json_string_value(json_object_get(h, "host"));
            st = memb_fail(m, MEMB_BUSY,
                           "table %s is locked by another load (pid %" PRId64
                           " on %s)",
                           table, (int64_t)json_integer_value(pid),
                           who != NULL ? who : "unknown host");
            json_decref(h);
            free(data);
            return st;
        }
        free(data);
        /* Ours: the reply to our create was lost. */
    }
    if (rc != ZOK) {
        return zk_fail(m, rc, "create", path);
    }
    struct zk_lock *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        zk_delete(m, path, -1);
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    l->session = zs->session;
    *out = &l->base;
    return MEMB_OK;
}

/*
 * Deletes locks/<table> if this session still owns it. A lock whose
 * session expired is gone already; one that cannot be deleted now (no
 * connection) goes when the session ends.
 */
static void zk_lock_release(struct memb_lock *lock)
{
    struct zk_lock *l = (struct zk_lock *)lock;
    struct membership *m = lock->owner;
    if (m == NULL || l->session == 0 || l->session != zs_of(m)->session) {
        l->session = 0;
        return;
    }
    l->session = 0;
    char path[ZK_PATH_MAX];
    if (zpath(m, path, "locks/%s", lock->table) != MEMB_OK) {
        return;
    }
    struct Stat stat;
    int rc = zk_exists(m, path, &stat);
    if (rc == ZOK && stat.ephemeralOwner == zs_of(m)->session) {
        rc = zk_delete(m, path, stat.version);
    }
    if (rc != ZOK && rc != ZNONODE) {
        log_warning("releasing the load lock of table %s: %s (it goes "
                    "with the ZooKeeper session)",
                    lock->table,
                    rc == ZK_GAVE_UP ? m->err : zerror(rc));
    }
}

static enum memb_status zk_lock_check(struct membership *m,
                                      const struct memb_lock *lock)
{
    const struct zk_lock *l = (const struct zk_lock *)lock;
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "locks/%s", lock->table);
    if (st != MEMB_OK) {
        return st;
    }
    struct Stat stat;
    int rc = zk_exists(m, path, &stat);
    if (rc != ZOK && rc != ZNONODE) {
        return zk_fail(m, rc, "read", path);
    }
    if (l->session == 0 || l->session != zs_of(m)->session || rc == ZNONODE ||
        stat.ephemeralOwner != l->session) {
        return memb_fail(m, MEMB_ERR,
                         "lock on table %s was lost: its ZooKeeper session "
                         "expired",
                         lock->table);
    }
    return MEMB_OK;
}

/* ---- members ------------------------------------------------------------ */

static enum memb_status zk_member_put(struct membership *m,
                                      const struct memb_member *mem)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "members/%s", mem->id);
    if (st != MEMB_OK) {
        return st;
    }
    json_t *doc = memb_member_encode(mem);
    st = zk_put_json(m, path, doc);
    json_decref(doc);
    return st;
}

static enum memb_status read_member(struct membership *m, const char *id,
                                    struct memb_member *out,
                                    struct Stat *stat)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "members/%s", id);
    json_t *doc = NULL;
    if (st == MEMB_OK) {
        st = zk_get_json(m, path, &doc, stat);
    }
    if (st == MEMB_NOTFOUND) {
        return memb_fail(m, MEMB_NOTFOUND, "no member %s", id);
    }
    if (st == MEMB_OK) {
        st = memb_member_decode(m, path, doc, out);
    }
    json_decref(doc);
    if (st == MEMB_OK && strcmp(out->id, id) != 0) {
        st = memb_fail(m, MEMB_ERR, "%s: bad field \"id\"", path);
    }
    return st;
}

static enum memb_status zk_member_remove(struct membership *m, const char *id)
{
    const char *const dirs[] = {"members", "drain", "live"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        char path[ZK_PATH_MAX];
        enum memb_status st = zpath(m, path, "%s/%s", dirs[i], id);
        if (st != MEMB_OK) {
            return st;
        }
        int rc = zk_delete(m, path, -1);
        if (rc == ZNONODE && i == 0) {
            return memb_fail(m, MEMB_NOTFOUND, "no member %s", id);
        }
        if (rc != ZOK && rc != ZNONODE) {
            return zk_fail(m, rc, "delete", path);
        }
    }
    return MEMB_OK;
}

/* The state of live/<id>, if the znode is there. */
static enum memb_status read_live_state(struct membership *m, const char *id,
                                        struct memb_member *mem)
{
    char path[ZK_PATH_MAX];
    json_t *doc = NULL;
    enum memb_status st = zpath(m, path, "live/%s", id);
    if (st == MEMB_OK) {
        st = zk_get_json(m, path, &doc, NULL);
    }
    if (st == MEMB_NOTFOUND) {
        return MEMB_OK; /* its session ended while we listed */
    }
    if (st == MEMB_OK) {
        struct memb_jreader r = {0};
        memb_jr_str(&r, doc, "state", mem->state, sizeof(mem->state));
        mem->live = 1;
        if (r.bad != NULL) {
            st = memb_fail(m, MEMB_ERR, "%s: bad field \"%s\"", path, r.bad);
        }
    }
    json_decref(doc);
    return st;
}

static enum memb_status zk_member_list(struct membership *m,
                                       struct memb_member **out, size_t *n)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "members");
    if (st != MEMB_OK) {
        return st;
    }
    struct String_vector ids;
    st = zk_list(m, path, &ids);
    if (st != MEMB_OK) {
        return st;
    }
    struct String_vector live = {0};
    struct String_vector drain = {0};
    st = live_children(m, &live);
    if (st == MEMB_OK) {
        st = zpath(m, path, "drain");
    }
    if (st == MEMB_OK) {
        st = zk_list(m, path, &drain);
    }
    struct memb_member *v =
        calloc(ids.count > 0 ? (size_t)ids.count : 1, sizeof(*v));
    if (st == MEMB_OK && v == NULL) {
        st = memb_fail(m, MEMB_ERR, "out of memory");
    }
    size_t k = 0;
    for (int32_t i = 0; st == MEMB_OK && i < ids.count; i++) {
        const char *id = ids.data[i];
        if (!membership_valid_name(id)) {
            continue;
        }
        struct Stat stat;
        st = read_member(m, id, &v[k], &stat);
        if (st == MEMB_NOTFOUND) {
            st = MEMB_OK; /* removed while we listed */
            continue;
        }
        if (st == MEMB_OK && has_child(&live, id)) {
            st = read_live_state(m, id, &v[k]);
        }
        v[k].draining = has_child(&drain, id);
        k += st == MEMB_OK;
    }
    deallocate_String_vector(&ids);
    deallocate_String_vector(&live);
    deallocate_String_vector(&drain);
    if (st != MEMB_OK) {
        free(v);
        return st;
    }
    *out = v;
    *n = k;
    return MEMB_OK;
}

/*
 * Creates (or updates) live/<id> as an ephemeral znode of this session. A
 * znode of another session (the node's previous process, whose session has
 * not expired yet) is replaced: the last writer wins, as under local:.
 */
static enum memb_status zk_live_create(struct membership *m, const char *id,
                                       const char *state)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "live/%s", id);
    if (st != MEMB_OK) {
        return st;
    }
    json_t *doc = json_object();
    memb_jset(&doc, "id", json_string(id));
    memb_jset(&doc, "state", json_string(state));
    memb_jset(&doc, "changed_ms", json_integer(memb_now_ms()));
    char *text = memb_json_text(doc, false);
    json_decref(doc);
    if (text == NULL) {
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    int len = (int)strlen(text);
    int rc = ZNODEEXISTS;
    for (int attempt = 0; attempt < ZK_CAS_ATTEMPTS && rc == ZNODEEXISTS;
         attempt++) {
        rc = zk_create(m, path, text, len, ZOO_EPHEMERAL, NULL, NULL);
        if (rc == ZNONODE) {
            rc = zk_ensure_parent(m, path);
            rc = rc == ZOK ? ZNODEEXISTS : rc; /* try again */
            continue;
        }
        if (rc != ZNODEEXISTS) {
            break;
        }
        struct Stat stat;
        rc = zk_exists(m, path, &stat);
        if (rc == ZNONODE) {
            rc = ZNODEEXISTS; /* gone meanwhile: create again */
        } else if (rc == ZOK && stat.ephemeralOwner == zs_of(m)->session) {
            rc = zk_set(m, path, text, len, stat.version, NULL);
            rc = rc == ZBADVERSION || rc == ZNONODE ? ZNODEEXISTS : rc;
        } else if (rc == ZOK) {
            rc = zk_delete(m, path, stat.version);
            rc = rc == ZOK || rc == ZBADVERSION || rc == ZNONODE
                     ? ZNODEEXISTS
                     : rc;
        }
    }
    free(text);
    return rc == ZOK ? MEMB_OK : zk_fail(m, rc, "write", path);
}

static enum memb_status zk_live_set(struct membership *m, const char *id,
                                    const char *state)
{
    enum memb_status st = zk_live_create(m, id, state);
    if (st != MEMB_OK) {
        return st;
    }
    struct zk_state *zs = zs_of(m);
    struct zk_live *l = zs->lives;
    while (l != NULL && strcmp(l->id, id) != 0) {
        l = l->next;
    }
    if (l == NULL) {
        l = calloc(1, sizeof(*l));
        if (l == NULL) {
            return memb_fail(m, MEMB_ERR, "out of memory");
        }
        snprintf(l->id, sizeof(l->id), "%s", id);
        l->next = zs->lives;
        zs->lives = l;
    }
    snprintf(l->state, sizeof(l->state), "%s", state);
    return MEMB_OK;
}

/* Read, change, set on the znode version read; again if another won. */
static enum memb_status zk_member_memory(struct membership *m, const char *id,
                                         uint64_t budget, uint64_t used)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "members/%s", id);
    for (int attempt = 0; st == MEMB_OK && attempt < ZK_CAS_ATTEMPTS;
         attempt++) {
        struct memb_member mem;
        struct Stat stat;
        st = read_member(m, id, &mem, &stat);
        if (st != MEMB_OK) {
            return st;
        }
        mem.batch_memory = budget;
        mem.batch_used = used;
        json_t *doc = memb_member_encode(&mem);
        char *text = memb_json_text(doc, false);
        json_decref(doc);
        if (text == NULL) {
            return memb_fail(m, MEMB_ERR, "out of memory");
        }
        int rc = zk_set(m, path, text, (int)strlen(text), stat.version, NULL);
        free(text);
        if (rc == ZNONODE) {
            return memb_fail(m, MEMB_NOTFOUND, "no member %s", id);
        }
        if (rc != ZBADVERSION) {
            return rc == ZOK ? MEMB_OK : zk_fail(m, rc, "write", path);
        }
    }
    return st != MEMB_OK ? st
                         : memb_fail(m, MEMB_CONFLICT,
                                     "member %s changed %d times while its "
                                     "memory figures were written",
                                     id, ZK_CAS_ATTEMPTS);
}

static enum memb_status zk_drain_set(struct membership *m, const char *id,
                                     bool draining)
{
    char path[ZK_PATH_MAX];
    char member[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "drain/%s", id);
    if (st == MEMB_OK) {
        st = zpath(m, member, "members/%s", id);
    }
    if (st != MEMB_OK) {
        return st;
    }
    if (!draining) {
        int rc = zk_delete(m, path, -1);
        return rc == ZOK || rc == ZNONODE ? MEMB_OK
                                          : zk_fail(m, rc, "delete", path);
    }
    struct Stat stat;
    int rc = zk_exists(m, member, &stat);
    if (rc == ZNONODE) {
        return memb_fail(m, MEMB_NOTFOUND, "no member %s", id);
    }
    if (rc != ZOK) {
        return zk_fail(m, rc, "read", member);
    }
    json_t *doc = json_object();
    memb_jset(&doc, "id", json_string(id));
    memb_jset(&doc, "changed_ms", json_integer(memb_now_ms()));
    st = zk_put_json(m, path, doc);
    json_decref(doc);
    return st;
}

/* ---- placement ---------------------------------------------------------- */

/* The CAS token is the znode's data version + 1 (0: no znode). */
static enum memb_status zk_placement_get(struct membership *m, char **json,
                                         uint64_t *cas_version)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "placement");
    if (st != MEMB_OK) {
        return st;
    }
    char *data;
    int len;
    struct Stat stat;
    int rc = zk_get(m, path, &data, &len, &stat);
    if (rc == ZNONODE) {
        return memb_fail(m, MEMB_NOTFOUND, "no placement stored yet");
    }
    if (rc != ZOK) {
        return zk_fail(m, rc, "read", path);
    }
    *json = data;
    *cas_version = (uint64_t)stat.version + 1;
    return MEMB_OK;
}

static enum memb_status zk_placement_cas(struct membership *m,
                                         uint64_t expected, const char *json)
{
    char path[ZK_PATH_MAX];
    enum memb_status st = zpath(m, path, "placement");
    if (st != MEMB_OK) {
        return st;
    }
    int len = (int)strlen(json);
    bool retried = false;
    int rc;
    if (expected == 0) {
        rc = zk_create(m, path, json, len, ZOO_PERSISTENT, NULL, &retried);
    } else if (expected - 1 > (uint64_t)INT32_MAX) {
        rc = ZBADVERSION;
    } else {
        rc = zk_set(m, path, json, len, (int)(expected - 1), &retried);
    }
    if ((rc == ZNODEEXISTS || rc == ZBADVERSION) && retried) {
        char *now = NULL;
        int nlen;
        struct Stat stat;
        if (zk_get(m, path, &now, &nlen, &stat) == ZOK &&
            strcmp(now, json) == 0 && (uint64_t)stat.version == expected) {
            rc = ZOK; /* our write went through; its reply was lost */
        }
        free(now);
    }
    if (rc == ZNODEEXISTS || rc == ZBADVERSION || rc == ZNONODE) {
        return memb_fail(m, MEMB_CONFLICT,
                         "placement changed concurrently (expected version "
                         "%" PRIu64 ")",
                         expected);
    }
    return rc == ZOK ? MEMB_OK : zk_fail(m, rc, "write", path);
}

/* ---- change notification ------------------------------------------------ */

/* An exists watch (fires on create, delete and data change). */
static int watch_node(struct membership *m, const char *path)
{
    struct zk_state *zs = zs_of(m);
    struct Stat stat;
    struct zk_call c = zk_call_start(m);
    int rc;
    do {
        rc = zk_ready(m, c.deadline);
        if (rc == ZOK) {
            rc = zoo_wexists(zs->zh, path, zk_watcher, zs, &stat);
        }
    } while (zk_again(m, &c, &rc));
    return rc == ZNONODE ? ZOK : rc;
}

/*
 * A child watch, returning the children (sorted); a missing znode gets an
 * exists watch instead, so its creation is seen.
 */
static int watch_children(struct membership *m, const char *path,
                          struct String_vector *out)
{
    struct zk_state *zs = zs_of(m);
    memset(out, 0, sizeof(*out));
    struct zk_call c = zk_call_start(m);
    int rc;
    do {
        rc = zk_ready(m, c.deadline);
        if (rc == ZOK) {
            rc = zoo_wget_children(zs->zh, path, zk_watcher, zs, out);
        }
    } while (zk_again(m, &c, &rc));
    if (rc == ZNONODE) {
        return watch_node(m, path);
    }
    sort_children(out);
    return rc;
}

/*
 * Sets every watch wait_change relies on: active, placement, the children
 * of members, live and drain, each live record, the table list, each
 * table's config and its versions znode (data: version_put touches it)
 * and children.
 */
static enum memb_status zk_arm(struct membership *m)
{
    char path[ZK_PATH_MAX];
    const char *nodes[] = {"active", "placement"};
    for (size_t i = 0; i < sizeof(nodes) / sizeof(nodes[0]); i++) {
        enum memb_status st = zpath(m, path, "%s", nodes[i]);
        int rc = st == MEMB_OK ? watch_node(m, path) : ZOK;
        if (st != MEMB_OK || rc != ZOK) {
            return st != MEMB_OK ? st : zk_fail(m, rc, "watch", path);
        }
    }
    const char *dirs[] = {"members", "drain", "live", "tables"};
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        struct String_vector kids;
        enum memb_status st = zpath(m, path, "%s", dirs[i]);
        int rc = st == MEMB_OK ? watch_children(m, path, &kids) : ZOK;
        if (st != MEMB_OK || rc != ZOK) {
            return st != MEMB_OK ? st : zk_fail(m, rc, "watch", path);
        }
        for (int32_t k = 0; k < kids.count && st == MEMB_OK && rc == ZOK;
             k++) {
            if (!membership_valid_name(kids.data[k])) {
                continue;
            }
            if (i == 2) {
                st = zpath(m, path, "live/%s", kids.data[k]);
                rc = st == MEMB_OK ? watch_node(m, path) : ZOK;
            } else if (i == 3) {
                struct String_vector versions;
                st = zpath(m, path, "tables/%s", kids.data[k]);
                rc = st == MEMB_OK ? watch_node(m, path) : ZOK;
                if (st == MEMB_OK && rc == ZOK) {
                    st = zpath(m, path, "tables/%s/versions", kids.data[k]);
                }
                if (st == MEMB_OK && rc == ZOK) {
                    rc = watch_node(m, path);
                }
                if (st == MEMB_OK && rc == ZOK) {
                    rc = watch_children(m, path, &versions);
                    deallocate_String_vector(&versions);
                }
            }
        }
        deallocate_String_vector(&kids);
        if (st != MEMB_OK || rc != ZOK) {
            return st != MEMB_OK ? st : zk_fail(m, rc, "watch", path);
        }
    }
    zs_of(m)->armed = true;
    return MEMB_OK;
}

static enum memb_status zk_wait_change(struct membership *m, int timeout_ms,
                                       bool *changed)
{
    struct zk_state *zs = zs_of(m);
    int64_t deadline = mono_ms() + timeout_ms;
    for (;;) {
        pthread_mutex_lock(&zs->mu);
        bool expired = zs->expired;
        uint64_t changes = zs->changes;
        pthread_mutex_unlock(&zs->mu);
        if (expired || zoo_state(zs->zh) == ZOO_EXPIRED_SESSION_STATE) {
            int64_t until = mono_ms() + zs->wait_ms;
            if (zk_ready(m, until) != ZOK) {
                return MEMB_ERR;
            }
            continue; /* the renewal counted a change */
        }
        if (changes != zs->seen || !zs->armed) {
            /* Set the watches again before the caller reads. */
            enum memb_status st = zk_arm(m);
            if (st != MEMB_OK) {
                return st;
            }
            zs->seen = changes;
            *changed = true;
            return MEMB_OK;
        }
        int64_t left = deadline - mono_ms();
        if (left <= 0) {
            return MEMB_OK;
        }
        zk_nap(zs, left < ZK_POLL_MS ? left : ZK_POLL_MS);
    }
}

const struct memb_backend memb_zk_backend = {
    .scheme = "zk",
    .open = zk_open,
    .close = zk_close,
    .table_put = zk_table_put,
    .table_get = zk_table_get,
    .table_remove = zk_table_remove,
    .table_list = zk_table_list,
    .version_alloc = zk_version_alloc,
    .version_put = zk_version_put,
    .version_get = zk_version_get,
    .version_list = zk_version_list,
    .ready_set = zk_ready_set,
    .ready_get = zk_ready_get,
    .ready_list = zk_ready_list,
    .refusal_set = zk_refusal_set,
    .refusal_get = zk_refusal_get,
    .active_get = zk_active_get,
    .active_get_generation = zk_active_get_generation,
    .active_cas = zk_active_cas,
    .lock = zk_lock,
    .lock_release = zk_lock_release,
    .member_put = zk_member_put,
    .member_remove = zk_member_remove,
    .member_list = zk_member_list,
    .live_set = zk_live_set,
    .member_memory = zk_member_memory,
    .drain_set = zk_drain_set,
    .lock_check = zk_lock_check,
    .placement_get = zk_placement_get,
    .placement_cas = zk_placement_cas,
    .wait_change = zk_wait_change,
};
