/*
 * This file implements membership_probe, the driver that holds both
 * membership backends to one contract (tests/integration/
 * test_zk_membership.py runs it against local:DIR and against a real
 * ZooKeeper):
 *
 *   membership_probe URI contract
 *       Runs every membership.h function through three handles of one
 *       process and checks what a caller can see: tables, version
 *       allocation and records, readiness, refusals, the active map's
 *       compare-and-set and history, load locks, members, live records,
 *       drain marks, placement and change notification. Prints one line
 *       per group and exits 0, or prints "FAIL file:line: ..." and exits 1.
 *       The few places where the backends differ by design (docs/
 *       membership.md) are checked per scheme.
 *
 *   membership_probe URI serve [--watch]
 *       Opens one handle and runs commands read from stdin, one per line,
 *       answering one line each (the grammar is in run_command()), so a
 *       test can hold a handle in a process it may SIGSTOP or kill -9.
 *       With --watch it calls membership_wait_change() while idle, as a
 *       node's watch loop does, so the handle notices an expired session
 *       by itself.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "membership.h"

static const char *g_uri;
static bool g_zk; /* the URI is zk:// (the backend-specific checks) */

static void die(const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4), noreturn));

static void die(const char *file, int line, const char *fmt, ...)
{
    fprintf(stdout, "FAIL %s:%d: ", file, line);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stdout, fmt, ap);
    va_end(ap);
    fputc('\n', stdout);
    fflush(stdout);
    exit(1);
}

/* Fails unless expr (a memb_status) is want; names the handle's error. */
#define EXPECT(m, expr, want)                                                 \
    do {                                                                      \
        enum memb_status st_ = (expr);                                        \
        if (st_ != (want)) {                                                  \
            die(__FILE__, __LINE__, "%s: got %s, want %s (%s)", #expr,        \
                memb_status_name(st_), memb_status_name(want),                \
                membership_error(m));                                         \
        }                                                                     \
    } while (0)

#define CHECK(cond, ...)                                                      \
    do {                                                                      \
        if (!(cond)) {                                                        \
            die(__FILE__, __LINE__, __VA_ARGS__);                             \
        }                                                                     \
    } while (0)

static struct membership *open_handle(void)
{
    struct membership *m = NULL;
    char err[512];
    enum memb_status st = membership_open(g_uri, &m, err, sizeof(err));
    CHECK(st == MEMB_OK, "open %s: %s: %s", g_uri, memb_status_name(st), err);
    return m;
}

static void done(const char *group)
{
    printf("ok %s\n", group);
    fflush(stdout);
}

/* ---- the contract ------------------------------------------------------- */

static void check_tables(struct membership *a, struct membership *b)
{
    struct memb_table *list = NULL;
    size_t n = 99;
    struct memb_table t;
    EXPECT(a, membership_table_list(a, &list, &n), MEMB_OK);
    CHECK(n == 0, "fresh cluster lists %zu tables", n);
    free(list);
    EXPECT(a, membership_table_get(a, "users", &t), MEMB_NOTFOUND);
    EXPECT(a, membership_table_get(a, "bad/name", &t), MEMB_INVALID);

    struct memb_table users = {.name = "users", .kind = MEMB_TABLE_BATCH,
                               .partitions = 8, .replication = 2,
                               .fallback_key = "popular", .max_age_s = 86400,
                               .dims = 64};
    struct memb_table items = {.name = "items", .kind = MEMB_TABLE_LIVE,
                               .partitions = 4, .replication = 0};
    EXPECT(a, membership_table_put(a, &users), MEMB_OK);
    EXPECT(b, membership_table_put(b, &items), MEMB_OK);
    EXPECT(b, membership_table_get(b, "users", &t), MEMB_OK);
    CHECK(strcmp(t.name, "users") == 0 && t.kind == MEMB_TABLE_BATCH &&
              t.partitions == 8 && t.replication == 2 &&
              strcmp(t.fallback_key, "popular") == 0 &&
              t.max_age_s == 86400 && t.dims == 64,
          "users read back differently");
    EXPECT(a, membership_table_list(a, &list, &n), MEMB_OK);
    CHECK(n == 2 && strcmp(list[0].name, "items") == 0 &&
              strcmp(list[1].name, "users") == 0 && list[0].replication == 0,
          "table list: %zu tables, not [items, users]", n);
    free(list);
    users.partitions = 16; /* put replaces */
    EXPECT(a, membership_table_put(a, &users), MEMB_OK);
    EXPECT(b, membership_table_get(b, "users", &t), MEMB_OK);
    CHECK(t.partitions == 16, "users has %u partitions after replace",
          t.partitions);
    done("tables");
}

static void check_versions(struct membership *a, struct membership *b)
{
    struct memb_version *list = NULL;
    size_t n = 0;
    struct memb_version v;
    EXPECT(a, membership_version_list(a, "nothing", &list, &n),
           MEMB_NOTFOUND);
    EXPECT(a, membership_version_get(a, "users", 1, &v), MEMB_NOTFOUND);
    EXPECT(a, membership_version_get(a, "users", 0, &v), MEMB_INVALID);

    /* Monotonic across handles, never 0, never repeated. */
    uint64_t got[6];
    for (int i = 0; i < 6; i++) {
        struct membership *h = i % 2 ? b : a;
        EXPECT(h, membership_version_alloc(h, "users", &got[i]), MEMB_OK);
        CHECK(got[i] > 0, "version 0 allocated");
        CHECK(i == 0 || got[i] > got[i - 1],
              "version %" PRIu64 " after %" PRIu64, got[i], got[i - 1]);
    }
    /* A table with versions but no config yet: listed versions, no table. */
    uint64_t other;
    EXPECT(a, membership_version_alloc(a, "fresh", &other), MEMB_OK);
    EXPECT(a, membership_version_list(a, "fresh", &list, &n), MEMB_OK);
    CHECK(n == 0, "fresh lists %zu versions before any put", n);
    free(list);
    struct memb_table t;
    EXPECT(a, membership_table_get(a, "fresh", &t), MEMB_NOTFOUND);

    /* Records of two allocated versions, written and read by others. */
    struct memb_version rec = {
        .version = got[1], .state = MEMB_V_STAGED,
        .manifest_uri = "file:///data/users/v/manifest.json",
        .manifest_checksum = 0xfedcba9876543210ULL, .rows = 1000000,
        .bytes = UINT64_MAX - 5, .partitions = 16, .format = 2,
        .run_id = "run-7", .push_id = "push-7", .created_ms = 1700000000123,
        .activated_ms = 1700000000456};
    EXPECT(a, membership_version_put(a, "users", &rec), MEMB_OK);
    struct memb_version rec2 = rec;
    rec2.version = got[4];
    snprintf(rec2.run_id, sizeof(rec2.run_id), "run-8");
    EXPECT(b, membership_version_put(b, "users", &rec2), MEMB_OK);
    EXPECT(b, membership_version_get(b, "users", got[1], &v), MEMB_OK);
    CHECK(memcmp(&v, &rec, sizeof(v)) == 0, "version record differs");
    rec.state = MEMB_V_ACTIVE;
    EXPECT(b, membership_version_put(b, "users", &rec), MEMB_OK);
    EXPECT(a, membership_version_get(a, "users", got[1], &v), MEMB_OK);
    CHECK(v.state == MEMB_V_ACTIVE, "state not replaced");
    EXPECT(a, membership_version_list(a, "users", &list, &n), MEMB_OK);
    CHECK(n == 2 && list[0].version == got[1] && list[1].version == got[4] &&
              strcmp(list[1].run_id, "run-8") == 0,
          "version list: %zu records", n);
    free(list);
    done("versions");
}

static void check_readiness(struct membership *a, struct membership *b)
{
    uint32_t counts[5];
    EXPECT(a, membership_ready_count(a, "users", 3, 5, counts), MEMB_OK);
    for (int p = 0; p < 5; p++) {
        CHECK(counts[p] == 0, "empty readiness counts %u", counts[p]);
    }
    EXPECT(a, membership_live_set(a, "n1", "ready"), MEMB_OK);
    EXPECT(b, membership_live_set(b, "n2", "ready"), MEMB_OK);
    uint32_t p1[] = {2, 0, 1};
    uint32_t p2[] = {1, 2, 2, 9};
    EXPECT(a, membership_ready_set(a, "users", 3, "n1", p1, 3), MEMB_OK);
    EXPECT(b, membership_ready_set(b, "users", 3, "n2", p2, 4), MEMB_OK);
    EXPECT(a, membership_ready_count(a, "users", 3, 5, counts), MEMB_OK);
    CHECK(counts[0] == 1 && counts[1] == 2 && counts[2] == 2 &&
              counts[3] == 0 && counts[4] == 0,
          "counts %u %u %u %u %u", counts[0], counts[1], counts[2], counts[3],
          counts[4]);
    /* Other versions are apart. */
    EXPECT(a, membership_ready_count(a, "users", 4, 5, counts), MEMB_OK);
    CHECK(counts[1] == 0, "version 4 counts version 3's readiness");
    /* Replace, then remove. */
    uint32_t only0[] = {0};
    EXPECT(a, membership_ready_set(a, "users", 3, "n1", only0, 1), MEMB_OK);
    EXPECT(b, membership_ready_set(b, "users", 3, "n2", NULL, 0), MEMB_OK);
    EXPECT(b, membership_ready_set(b, "users", 3, "n2", NULL, 0), MEMB_OK);
    EXPECT(a, membership_ready_count(a, "users", 3, 5, counts), MEMB_OK);
    CHECK(counts[0] == 1 && counts[1] == 0 && counts[2] == 0,
          "after replace/remove: %u %u %u", counts[0], counts[1], counts[2]);

    /*
     * A node that never set a live record: counted under local: (nothing
     * says it is dead), not under zk: (no live znode, no session).
     */
    EXPECT(a, membership_ready_set(a, "users", 3, "ghost", only0, 1),
           MEMB_OK);
    EXPECT(a, membership_ready_count(a, "users", 3, 5, counts), MEMB_OK);
    CHECK(counts[0] == (g_zk ? 1u : 2u), "a node without live record: %u",
          counts[0]);
    /*
     * A node whose handle closed: dead under zk: (its session ended), still
     * live under local: (liveness is the process, and it still runs; the
     * integration test kills processes for that).
     */
    struct membership *c = open_handle();
    EXPECT(c, membership_live_set(c, "n3", "ready"), MEMB_OK);
    EXPECT(c, membership_ready_set(c, "users", 3, "n3", only0, 1), MEMB_OK);
    EXPECT(a, membership_ready_count(a, "users", 3, 5, counts), MEMB_OK);
    CHECK(counts[0] == (g_zk ? 2u : 3u), "with n3: %u", counts[0]);
    membership_close(&c);
    EXPECT(a, membership_ready_count(a, "users", 3, 5, counts), MEMB_OK);
    CHECK(counts[0] == (g_zk ? 1u : 3u), "n3 closed its handle: %u",
          counts[0]);
    EXPECT(a, membership_ready_set(a, "users", 3, "ghost", NULL, 0), MEMB_OK);
    done("readiness");
}

static void check_refusals(struct membership *a, struct membership *b)
{
    char node[MEMB_FIELD_MAX];
    char reason[MEMB_FIELD_MAX];
    EXPECT(a, membership_refusal_get(a, "users", 3, node, reason),
           MEMB_NOTFOUND);
    EXPECT(b, membership_refusal_set(b, "users", 3, "n2", "needs 2 GiB"),
           MEMB_OK);
    struct timespec ts = {.tv_nsec = 20 * 1000000};
    nanosleep(&ts, NULL);
    char longer[600];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    EXPECT(a, membership_refusal_set(a, "users", 3, "n1", longer), MEMB_OK);
    EXPECT(a, membership_refusal_get(a, "users", 3, node, reason), MEMB_OK);
    CHECK(strcmp(node, "n2") == 0 && strcmp(reason, "needs 2 GiB") == 0,
          "first refusal: %s: %s", node, reason);
    EXPECT(a, membership_refusal_get(a, "users", 4, node, reason),
           MEMB_NOTFOUND);
    done("refusals");
}

static void check_active(struct membership *a, struct membership *b)
{
    struct memb_active cur;
    EXPECT(a, membership_active_get(a, &cur), MEMB_OK);
    CHECK(cur.generation == 0 && cur.n == 0, "fresh map at generation %" PRIu64,
          cur.generation);
    membership_active_free(&cur);

    struct memb_active_entry e1[] = {{"users", 2}};
    struct memb_active next = {.n = 1, .entries = e1};
    EXPECT(a, membership_active_cas(a, 0, &next), MEMB_OK);
    CHECK(next.generation == 1 && next.changed_ms > 0, "generation %" PRIu64,
          next.generation);
    /* b read generation 0 too: it loses. */
    struct memb_active_entry e2[] = {{"users", 5}, {"items", 1}};
    struct memb_active other = {.n = 2, .entries = e2};
    EXPECT(b, membership_active_cas(b, 0, &other), MEMB_CONFLICT);
    EXPECT(b, membership_active_cas(b, 1, &other), MEMB_OK);
    CHECK(other.generation == 2, "b's map got %" PRIu64, other.generation);
    struct memb_active_entry dup[] = {{"users", 1}, {"users", 2}};
    struct memb_active bad = {.n = 2, .entries = dup};
    EXPECT(a, membership_active_cas(a, 2, &bad), MEMB_INVALID);

    EXPECT(a, membership_active_get(a, &cur), MEMB_OK);
    CHECK(cur.generation == 2 && cur.n == 2 &&
              strcmp(cur.entries[0].table, "items") == 0 &&
              membership_active_version(&cur, "users") == 5,
          "current map at %" PRIu64, cur.generation);
    membership_active_free(&cur);
    EXPECT(b, membership_active_get_generation(b, 1, &cur), MEMB_OK);
    CHECK(cur.generation == 1 && cur.n == 1 &&
              membership_active_version(&cur, "users") == 2,
          "history 1");
    membership_active_free(&cur);
    EXPECT(b, membership_active_get_generation(b, 0, &cur), MEMB_OK);
    CHECK(cur.n == 0, "generation 0 not empty");
    membership_active_free(&cur);
    EXPECT(b, membership_active_get_generation(b, 2, &cur), MEMB_OK);
    CHECK(cur.generation == 2, "generation 2");
    membership_active_free(&cur);
    EXPECT(b, membership_active_get_generation(b, 3, &cur), MEMB_NOTFOUND);
    /* Rolling back is a CAS of an old map: history keeps every step. */
    EXPECT(a, membership_active_get_generation(a, 1, &cur), MEMB_OK);
    EXPECT(a, membership_active_cas(a, 2, &cur), MEMB_OK);
    CHECK(cur.generation == 3, "rollback got %" PRIu64, cur.generation);
    membership_active_free(&cur);
    EXPECT(b, membership_active_get_generation(b, 2, &cur), MEMB_OK);
    CHECK(membership_active_version(&cur, "items") == 1, "history 2");
    membership_active_free(&cur);
    done("active");
}

static void check_locks(struct membership *a, struct membership *b)
{
    struct memb_lock *la = NULL;
    struct memb_lock *lb = NULL;
    struct memb_lock *lc = NULL;
    EXPECT(a, membership_lock(a, "users", &la), MEMB_OK);
    EXPECT(b, membership_lock(b, "users", &lb), MEMB_BUSY);
    CHECK(lb == NULL, "a lock out of BUSY");
    CHECK(strstr(membership_error(b), "locked by another load") != NULL,
          "BUSY says: %s", membership_error(b));
    char pid[32];
    snprintf(pid, sizeof(pid), "pid %ld", (long)getpid());
    CHECK(strstr(membership_error(b), pid) != NULL,
          "BUSY does not name the holder: %s", membership_error(b));
    EXPECT(a, membership_lock(a, "users", &lb), MEMB_BUSY);
    EXPECT(a, membership_lock_check(a, la), MEMB_OK);
    EXPECT(b, membership_lock_check(b, la), MEMB_INVALID);
    EXPECT(b, membership_lock(b, "items", &lc), MEMB_OK);
    membership_unlock(&la);
    CHECK(la == NULL, "unlock leaves the pointer");
    EXPECT(b, membership_lock(b, "users", &lb), MEMB_OK);
    EXPECT(a, membership_lock(a, "items", &la), MEMB_BUSY);
    membership_unlock(&lb);
    membership_unlock(&lc);
    EXPECT(a, membership_lock(a, "items", &la), MEMB_OK);
    membership_unlock(&la);
    done("locks");
}

static const struct memb_member *find_member(const struct memb_member *list,
                                             size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(list[i].id, id) == 0) {
            return &list[i];
        }
    }
    return NULL;
}

static void check_members(struct membership *a, struct membership *b)
{
    struct memb_member *list = NULL;
    size_t n = 0;
    struct memb_member x = {.id = "node-b", .addr = "10.0.0.2:6380",
                            .zone = "z1"};
    struct memb_member y = {.id = "node-a", .addr = "10.0.0.1:6380",
                            .capacity = 200, .batch_memory = 1 << 30};
    EXPECT(a, membership_member_put(a, &x), MEMB_OK);
    EXPECT(b, membership_member_put(b, &y), MEMB_OK);
    EXPECT(a, membership_live_set(a, "node-a", "joining"), MEMB_OK);
    EXPECT(a, membership_live_set(a, "node-a", "ready"), MEMB_OK);
    EXPECT(b, membership_member_memory(b, "node-a", 4096, 1024), MEMB_OK);
    EXPECT(b, membership_member_memory(b, "node-c", 1, 1), MEMB_NOTFOUND);
    EXPECT(b, membership_drain_set(b, "node-b", true), MEMB_OK);
    EXPECT(b, membership_drain_set(b, "node-c", true), MEMB_NOTFOUND);
    EXPECT(b, membership_member_list(b, &list, &n), MEMB_OK);
    CHECK(n == 2 && strcmp(list[0].id, "node-a") == 0 &&
              strcmp(list[1].id, "node-b") == 0,
          "member list of %zu", n);
    const struct memb_member *na = &list[0];
    const struct memb_member *nb = &list[1];
    CHECK(na->live == 1 && strcmp(na->state, "ready") == 0 &&
              na->capacity == 200 && na->batch_memory == 4096 &&
              na->batch_used == 1024 &&
              strcmp(na->addr, "10.0.0.1:6380") == 0 && na->draining == 0,
          "node-a: live %d state %s", na->live, na->state);
    CHECK(nb->live == 0 && nb->state[0] == '\0' && nb->capacity == 100 &&
              strcmp(nb->zone, "z1") == 0 && nb->draining == 1,
          "node-b: live %d draining %d", nb->live, nb->draining);
    free(list);
    EXPECT(b, membership_drain_set(b, "node-b", false), MEMB_OK);
    EXPECT(a, membership_member_remove(a, "node-a"), MEMB_OK);
    EXPECT(a, membership_member_remove(a, "node-a"), MEMB_NOTFOUND);
    EXPECT(b, membership_member_list(b, &list, &n), MEMB_OK);
    CHECK(n == 1 && find_member(list, n, "node-b")->draining == 0,
          "after remove: %zu", n);
    free(list);
    EXPECT(a, membership_live_set(a, "node-a", "bad state!"), MEMB_INVALID);
    done("members");
}

static void check_placement(struct membership *a, struct membership *b)
{
    char *json = NULL;
    uint64_t cas = 7;
    EXPECT(a, membership_placement_get(a, &json, &cas), MEMB_NOTFOUND);
    CHECK(json == NULL && cas == 0, "absent placement");
    EXPECT(a, membership_placement_cas(a, 1, "{}"), MEMB_CONFLICT);
    EXPECT(a, membership_placement_cas(a, 0, "[]"), MEMB_INVALID);
    EXPECT(a, membership_placement_cas(a, 0, "{\"generation\": 1, "
                                             "\"current\": {\"t\": "
                                             "[[\"a\", \"b\"]]}}"),
           MEMB_OK);
    EXPECT(b, membership_placement_cas(b, 0, "{}"), MEMB_CONFLICT);
    EXPECT(b, membership_placement_get(b, &json, &cas), MEMB_OK);
    CHECK(strcmp(json, "{\"current\":{\"t\":[[\"a\",\"b\"]]},"
                       "\"generation\":1}") == 0 &&
              cas == 1,
          "placement %s at %" PRIu64, json, cas);
    free(json);
    EXPECT(b, membership_placement_cas(b, 1, "{\"generation\":2}"), MEMB_OK);
    EXPECT(a, membership_placement_cas(a, 1, "{\"generation\":3}"),
           MEMB_CONFLICT);
    EXPECT(a, membership_placement_get(a, &json, &cas), MEMB_OK);
    CHECK(strcmp(json, "{\"generation\":2}") == 0 && cas == 2,
          "placement %s at %" PRIu64, json, cas);
    free(json);
    /* Large documents go through whole. */
    size_t big = 300000;
    char *doc = malloc(big + 32);
    CHECK(doc != NULL, "out of memory");
    int k = snprintf(doc, big + 32, "{\"pad\":\"");
    memset(doc + k, 'p', big);
    snprintf(doc + k + big, 32, "\"}");
    EXPECT(a, membership_placement_cas(a, 2, doc), MEMB_OK);
    EXPECT(b, membership_placement_get(b, &json, &cas), MEMB_OK);
    CHECK(strcmp(json, doc) == 0 && cas == 3, "large placement");
    free(json);
    free(doc);
    done("placement");
}

/* Waits until c reports no more changes (bounded). */
static void settle(struct membership *c)
{
    bool changed = true;
    for (int i = 0; i < 20 && changed; i++) {
        EXPECT(c, membership_wait_change(c, 300, &changed), MEMB_OK);
    }
    CHECK(!changed, "changes kept coming");
}

static void check_wait_change(struct membership *a, struct membership *b)
{
    (void)a;
    struct membership *c = open_handle();
    bool changed = true;
    settle(c);
    EXPECT(c, membership_wait_change(c, -1, &changed), MEMB_INVALID);
    struct memb_table t = {.name = "watched", .partitions = 2};
    struct memb_member mem = {.id = "node-w", .addr = "10.0.0.9:1"};
    char *json = NULL;
    uint64_t cas = 0;
    EXPECT(b, membership_placement_get(b, &json, &cas), MEMB_OK);
    free(json);
    struct memb_active cur;
    EXPECT(b, membership_active_get(b, &cur), MEMB_OK);
    uint64_t gen = cur.generation;
    membership_active_free(&cur);
    const char *what[] = {"table config", "version record", "member",
                          "live record", "live state", "drain mark",
                          "active map", "placement", "live record gone"};
    struct membership *d = NULL;
    for (size_t step = 0; step < sizeof(what) / sizeof(what[0]); step++) {
        uint64_t v;
        struct memb_version rec = {.partitions = 2};
        struct memb_active_entry e = {.table = "watched", .version = 1};
        struct memb_active next = {.n = 1, .entries = &e};
        switch (step) {
        case 0:
            EXPECT(b, membership_table_put(b, &t), MEMB_OK);
            break;
        case 1:
            EXPECT(b, membership_version_alloc(b, "watched", &v), MEMB_OK);
            rec.version = v;
            EXPECT(b, membership_version_put(b, "watched", &rec), MEMB_OK);
            break;
        case 2:
            EXPECT(b, membership_member_put(b, &mem), MEMB_OK);
            break;
        case 3:
            d = open_handle();
            EXPECT(d, membership_live_set(d, "node-w", "joining"), MEMB_OK);
            break;
        case 4:
            EXPECT(d, membership_live_set(d, "node-w", "ready"), MEMB_OK);
            break;
        case 5:
            EXPECT(b, membership_drain_set(b, "node-w", true), MEMB_OK);
            break;
        case 6:
            EXPECT(b, membership_active_cas(b, gen, &next), MEMB_OK);
            break;
        case 7:
            EXPECT(b, membership_placement_cas(b, cas, "{}"), MEMB_OK);
            break;
        default:
            /* zk: the session ends, live/node-w goes; local: the process
             * that wrote the record still runs, so nothing changes. */
            membership_close(&d);
            if (!g_zk) {
                continue;
            }
            break;
        }
        changed = false;
        EXPECT(c, membership_wait_change(c, 5000, &changed), MEMB_OK);
        CHECK(changed, "no change reported after: %s", what[step]);
        settle(c);
    }
    /* Readiness and memory figures are not watched. */
    uint32_t p[] = {0};
    EXPECT(b, membership_ready_set(b, "watched", 1, "node-w", p, 1), MEMB_OK);
    EXPECT(b, membership_member_memory(b, "node-w", 10, 5), MEMB_OK);
    EXPECT(c, membership_wait_change(c, 400, &changed), MEMB_OK);
    CHECK(!changed, "readiness or memory reported as a change");
    membership_close(&c);
    done("wait_change");
}

static int run_contract(void)
{
    struct membership *a = open_handle();
    struct membership *b = open_handle();
    check_tables(a, b);
    check_versions(a, b);
    check_readiness(a, b);
    check_refusals(a, b);
    check_active(a, b);
    check_locks(a, b);
    check_members(a, b);
    check_placement(a, b);
    check_wait_change(a, b);
    membership_close(&a);
    membership_close(&b);
    CHECK(a == NULL && b == NULL, "close leaves the pointer");
    printf("contract passed\n");
    return 0;
}

/* ---- serve: one handle driven from stdin -------------------------------- */

#define MAX_LOCKS 16

struct served {
    struct membership *m;
    struct memb_lock *locks[MAX_LOCKS];
    char tables[MAX_LOCKS][MEMB_NAME_MAX]; /* of locks[i] */
};

static struct memb_lock **find_lock(struct served *s, const char *table)
{
    for (int i = 0; i < MAX_LOCKS; i++) {
        if (s->locks[i] != NULL && strcmp(s->tables[i], table) == 0) {
            return &s->locks[i];
        }
    }
    return NULL;
}

static void reply_status(struct membership *m, enum memb_status st)
{
    if (st == MEMB_OK) {
        printf("ok\n");
    } else {
        printf("%s %s\n", memb_status_name(st), membership_error(m));
    }
}

/* Parses "0,1,2" into parts (at most 64); returns the count. */
static size_t parse_parts(const char *s, uint32_t *parts)
{
    size_t n = 0;
    while (s != NULL && *s != '\0' && n < 64) {
        parts[n++] = (uint32_t)strtoul(s, NULL, 10);
        s = strchr(s, ',');
        s = s != NULL ? s + 1 : NULL;
    }
    return n;
}

/*
 * Commands (words separated by spaces); each answers one line, "ok" or
 * "<status> <message>" unless said otherwise:
 *   live ID STATE | ready T V ID P,P,.. | unready T V ID | lock T |
 *   lockcheck T | unlock T | tableput T | ping (lists tables) |
 *   alloc T      -> "version N" (the next version number of T) |
 *   count T V N  -> "counts C0 C1 ..." |
 *   member ID    -> "member live=L state=S draining=D" or "none" |
 *   wait MS      -> "changed" / "unchanged" | pid -> the process id |
 *   quit (closes the handle, answers "bye")
 */
static bool run_command(struct served *s, char *line)
{
    char *argv[8] = {0};
    int argc = 0;
    for (char *tok = strtok(line, " \t\r\n"); tok != NULL && argc < 8;
         tok = strtok(NULL, " \t\r\n")) {
        argv[argc++] = tok;
    }
    if (argc == 0) {
        return true;
    }
    struct membership *m = s->m;
    const char *cmd = argv[0];
    if (strcmp(cmd, "quit") == 0) {
        for (int i = 0; i < MAX_LOCKS; i++) {
            membership_unlock(&s->locks[i]);
        }
        membership_close(&s->m);
        printf("bye\n");
        return false;
    }
    if (strcmp(cmd, "pid") == 0) {
        printf("%ld\n", (long)getpid());
    } else if (strcmp(cmd, "live") == 0 && argc == 3) {
        reply_status(m, membership_live_set(m, argv[1], argv[2]));
    } else if ((strcmp(cmd, "ready") == 0 && argc == 5) ||
               (strcmp(cmd, "unready") == 0 && argc == 4)) {
        uint32_t parts[64];
        size_t n = argc == 5 ? parse_parts(argv[4], parts) : 0;
        reply_status(m, membership_ready_set(m, argv[1],
                                             strtoull(argv[2], NULL, 10),
                                             argv[3], parts, n));
    } else if (strcmp(cmd, "lock") == 0 && argc == 2) {
        int slot = 0;
        while (slot < MAX_LOCKS && s->locks[slot] != NULL) {
            slot++;
        }
        enum memb_status st = slot < MAX_LOCKS
                                  ? membership_lock(m, argv[1],
                                                    &s->locks[slot])
                                  : MEMB_ERR;
        if (st == MEMB_OK) {
            snprintf(s->tables[slot], sizeof(s->tables[slot]), "%s", argv[1]);
        }
        reply_status(m, st);
    } else if (strcmp(cmd, "lockcheck") == 0 && argc == 2) {
        struct memb_lock **l = find_lock(s, argv[1]);
        reply_status(m, l != NULL ? membership_lock_check(m, *l)
                                  : MEMB_NOTFOUND);
    } else if (strcmp(cmd, "unlock") == 0 && argc == 2) {
        struct memb_lock **l = find_lock(s, argv[1]);
        if (l != NULL) {
            membership_unlock(l);
        }
        printf(l != NULL ? "ok\n" : "notfound\n");
    } else if (strcmp(cmd, "tableput") == 0 && argc == 2) {
        struct memb_table t = {.partitions = 4};
        snprintf(t.name, sizeof(t.name), "%s", argv[1]);
        reply_status(m, membership_table_put(m, &t));
    } else if (strcmp(cmd, "alloc") == 0 && argc == 2) {
        uint64_t v = 0;
        enum memb_status st = membership_version_alloc(m, argv[1], &v);
        if (st == MEMB_OK) {
            printf("version %llu\n", (unsigned long long)v);
        } else {
            reply_status(m, st);
        }
    } else if (strcmp(cmd, "ping") == 0) {
        struct memb_table *list = NULL;
        size_t n;
        reply_status(m, membership_table_list(m, &list, &n));
        free(list);
    } else if (strcmp(cmd, "count") == 0 && argc == 4) {
        uint32_t counts[64];
        uint32_t n = (uint32_t)strtoul(argv[3], NULL, 10);
        n = n > 64 ? 64 : n;
        enum memb_status st = membership_ready_count(
            m, argv[1], strtoull(argv[2], NULL, 10), n, counts);
        if (st != MEMB_OK) {
            reply_status(m, st);
        } else {
            printf("counts");
            for (uint32_t p = 0; p < n; p++) {
                printf(" %u", counts[p]);
            }
            printf("\n");
        }
    } else if (strcmp(cmd, "member") == 0 && argc == 2) {
        struct memb_member *list = NULL;
        size_t n = 0;
        enum memb_status st = membership_member_list(m, &list, &n);
        const struct memb_member *x =
            st == MEMB_OK ? find_member(list, n, argv[1]) : NULL;
        if (st != MEMB_OK) {
            reply_status(m, st);
        } else if (x == NULL) {
            printf("none\n");
        } else {
            printf("member live=%d state=%s draining=%d\n", x->live,
                   x->state[0] != '\0' ? x->state : "-", x->draining);
        }
        free(list);
    } else if (strcmp(cmd, "memberput") == 0 && argc == 2) {
        struct memb_member x = {.addr = "127.0.0.1:1"};
        snprintf(x.id, sizeof(x.id), "%s", argv[1]);
        reply_status(m, membership_member_put(m, &x));
    } else if (strcmp(cmd, "wait") == 0 && argc == 2) {
        bool changed = false;
        enum memb_status st =
            membership_wait_change(m, atoi(argv[1]), &changed);
        if (st != MEMB_OK) {
            reply_status(m, st);
        } else {
            printf(changed ? "changed\n" : "unchanged\n");
        }
    } else {
        printf("invalid command\n");
    }
    return true;
}

static int run_serve(bool watch)
{
    struct served s = {.m = open_handle()};
    printf("serving %ld\n", (long)getpid());
    fflush(stdout);
    char line[1024];
    size_t used = 0;
    for (;;) {
        struct pollfd pfd = {.fd = STDIN_FILENO, .events = POLLIN};
        int rc = poll(&pfd, 1, watch ? 0 : -1);
        if (rc == 0) {
            bool changed;
            /* Idle: what a node's watch loop does; renews a lost session. */
            if (membership_wait_change(s.m, 100, &changed) != MEMB_OK) {
                struct timespec ts = {.tv_nsec = 100 * 1000000};
                nanosleep(&ts, NULL);
            }
            continue;
        }
        if (rc < 0) {
            if (errno == EINTR) {
                continue;
            }
            return 1;
        }
        ssize_t r = read(STDIN_FILENO, line + used, sizeof(line) - 1 - used);
        if (r <= 0) {
            break; /* stdin closed */
        }
        used += (size_t)r;
        char *nl;
        while ((nl = memchr(line, '\n', used)) != NULL) {
            *nl = '\0';
            size_t consumed = (size_t)(nl - line) + 1;
            char cmd[1024];
            memcpy(cmd, line, consumed);
            memmove(line, line + consumed, used - consumed);
            used -= consumed;
            bool more = run_command(&s, cmd);
            fflush(stdout);
            if (!more) {
                return 0;
            }
        }
        if (used == sizeof(line) - 1) {
            used = 0; /* a line too long: dropped */
        }
    }
    for (int i = 0; i < MAX_LOCKS; i++) {
        membership_unlock(&s.locks[i]);
    }
    membership_close(&s.m);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: %s URI contract | %s URI serve [--watch]\n",
                argv[0], argv[0]);
        return 2;
    }
    g_uri = argv[1];
    g_zk = strncmp(g_uri, "zk:", 3) == 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (strcmp(argv[2], "contract") == 0) {
        return run_contract();
    }
    if (strcmp(argv[2], "serve") == 0) {
        return run_serve(argc > 3 && strcmp(argv[3], "--watch") == 0);
    }
    fprintf(stderr, "%s: unknown mode %s\n", argv[0], argv[2]);
    return 2;
}
