/*
 * membership.h: the one interface to cluster state — table configs,
 * version numbers and records, per-partition readiness, the active map
 * with compare-and-set, and the per-table load lock.
 *
 * Backends: "local:DIR" (membership/local.c: files under DIR, changed by
 * atomic renames under flock; the embedded default for one node on one
 * machine) and "zk://host:port[,host:port...]/chroot[?options]"
 * (membership/zk.c: a ZooKeeper ensemble). Callers never know which one
 * they talk to; docs/membership.md lists where the two differ (what
 * "live" means, and how long a dead holder's lock lingers).
 *
 * Every function returns a memb_status; on MEMB_ERR a message is kept in
 * the handle (membership_error()). Strings in records are bounded (see the
 * MEMB_*_MAX sizes) and always NUL-terminated. Names of tables are
 * [A-Za-z0-9_.-]{1,64} ("." and ".." excepted); other names are refused
 * with MEMB_INVALID. Node (member) ids, zones and live states follow the
 * same rule.
 *
 * A handle is used by one thread at a time; several handles, threads and
 * processes may work on the same cluster state concurrently. After fork(),
 * a child opens its own handle (a lock held through an inherited handle is
 * shared with the parent until both close it). docs/membership.md
 * describes the local: file layout and its locking rules, and the zk: URI
 * options (session timeout, bounded waits, digest ACLs).
 */
#ifndef LARDER_MEMBERSHIP_H
#define LARDER_MEMBERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum memb_status {
    MEMB_OK = 0,
    MEMB_NOTFOUND, /* no such table, version or record */
    MEMB_CONFLICT, /* compare-and-set lost: someone changed it first */
    MEMB_BUSY,     /* the lock is held by another holder */
    MEMB_INVALID,  /* a bad name or argument */
    MEMB_ERR,      /* I/O or backend failure: see membership_error() */
};

#define MEMB_NAME_MAX 65   /* table names, node ids (with the NUL) */
#define MEMB_ID_MAX 129    /* run ids, push ids */
#define MEMB_URI_MAX 1024  /* manifest URIs, store URIs */
#define MEMB_FIELD_MAX 256 /* fallback key, free text */
#define MEMB_STATE_MAX 16  /* live states, with the NUL */

struct membership;

/*
 * Opens a backend by URI: "local:DIR" (DIR is created if missing) or
 * "zk://host:port[,host:port...][/chroot][?cluster=NAME&session_ms=N&
 * wait_ms=N&auth=user:password]" (waits up to wait_ms for a first
 * connection: MEMB_ERR "ZooKeeper unreachable" otherwise).
 */
enum memb_status membership_open(const char *uri, struct membership **out,
                                 char *err, size_t errlen);

/*
 * Closes the handle (releasing any lock it holds); sets *m to NULL. A lock
 * released this way is still freed with membership_unlock().
 */
void membership_close(struct membership **m);

/* The message of the last MEMB_ERR/MEMB_INVALID on this handle. */
const char *membership_error(const struct membership *m);

/* ---- tables ---------------------------------------------------------- */

enum memb_table_kind {
    MEMB_TABLE_BATCH = 0, /* immutable per version, loaded in bulk */
    MEMB_TABLE_LIVE,      /* mutable, SET/DEL with TTL */
};

struct memb_table {
    char name[MEMB_NAME_MAX];
    enum memb_table_kind kind;
    uint32_t partitions;  /* fixed at creation (default 256) */
    uint32_t replication; /* replicas per partition; 0 means "all" */
    char fallback_key[MEMB_FIELD_MAX]; /* "" if none */
    uint64_t max_age_s;   /* freshness bound for /health; 0: none */
    uint32_t dims;        /* vector tables: fixed dimension; 0 otherwise */
};

/* Creates or replaces a table's config (partitions must not be 0). */
enum memb_status membership_table_put(struct membership *m,
                                      const struct memb_table *t);

/* Reads one table's config. */
enum memb_status membership_table_get(struct membership *m, const char *name,
                                      struct memb_table *out);

/*
 * Removes a table: its config, its version records, readiness and
 * refusals. Its version counter stays, so a table created again under the
 * name never reuses a number. MEMB_NOTFOUND if it has no config; MEMB_BUSY
 * while the active map names it (take it out of the map first). Deleting
 * its versions' store objects is the caller's job (version_objects.h).
 */
enum memb_status membership_table_remove(struct membership *m,
                                         const char *name);

/*
 * Lists tables: *out is a malloc'd array of *n configs (the caller frees
 * it with free()), sorted by name.
 */
enum memb_status membership_table_list(struct membership *m,
                                       struct memb_table **out, size_t *n);

/* ---- versions -------------------------------------------------------- */

enum memb_version_state {
    MEMB_V_STAGED = 0, /* built and published, not yet activated */
    MEMB_V_ACTIVE,     /* named by the active map now or before */
    MEMB_V_FAILED,     /* a load that did not complete */
    MEMB_V_RETIRED,    /* removed from nodes; activated_ms says whether it
                        * was ever active */
};

struct memb_version {
    uint64_t version;
    enum memb_version_state state;
    char manifest_uri[MEMB_URI_MAX]; /* e.g. file:///d/t/v-000012/manifest.json */
    uint64_t manifest_checksum;      /* xxh3-64 of the manifest file */
    uint64_t rows;
    uint64_t bytes;       /* total size of the segment files */
    uint32_t partitions;
    uint32_t format;      /* segment format version */
    char run_id[MEMB_ID_MAX];  /* links versions of one training run */
    char push_id[MEMB_ID_MAX]; /* the orchestrator's retry key */
    int64_t created_ms;   /* Unix ms */
    /*
     * Unix ms of the version's first activation; 0 if it was never
     * activated. Kept when the version is retired, so a retired version
     * that once served is told from a failed or never-activated one. A
     * record written before this field existed reads as 0; store retention
     * gives such a record, if it is active, its created_ms when retiring
     * it (store_retention.h).
     */
    int64_t activated_ms;
};

/*
 * Allocates the next version number for a table: monotonically increasing,
 * never reused, even across tables' drops and process crashes.
 */
enum memb_status membership_version_alloc(struct membership *m,
                                          const char *table, uint64_t *out);

/* Creates or replaces a version record. */
enum memb_status membership_version_put(struct membership *m,
                                        const char *table,
                                        const struct memb_version *v);

enum memb_status membership_version_get(struct membership *m,
                                        const char *table, uint64_t version,
                                        struct memb_version *out);

/*
 * Lists a table's versions, ascending; *out is malloc'd (caller frees).
 * MEMB_NOTFOUND if nothing was ever recorded for the table (no config, no
 * version allocated).
 */
enum memb_status membership_version_list(struct membership *m,
                                         const char *table,
                                         struct memb_version **out,
                                         size_t *n);

/* ---- readiness ------------------------------------------------------- */

/*
 * Records that node `node` holds (verified, populated) the given
 * partitions of table/version. Replaces that node's earlier record for the
 * same table/version; n == 0 removes it (the node dropped the version).
 */
enum memb_status membership_ready_set(struct membership *m, const char *table,
                                      uint64_t version, const char *node,
                                      const uint32_t *partitions, size_t n);

/*
 * Counts, for each partition p < npartitions, how many nodes have recorded
 * it ready for table/version: counts[p] (array of npartitions provided by
 * the caller). A node known to be dead is not counted. local: a dead node
 * is one whose live record names a process that is gone, and a node that
 * never set a live record is counted. zk: only nodes with a live record
 * (an ephemeral znode of a session not yet expired) are counted.
 */
enum memb_status membership_ready_count(struct membership *m,
                                        const char *table, uint64_t version,
                                        uint32_t npartitions,
                                        uint32_t *counts);

/*
 * The partitions node `node` recorded ready for table/version, whether or
 * not the node is live now: *partitions is malloc'd (the caller frees it),
 * sorted and without repeats; MEMB_NOTFOUND (with *partitions NULL and *n
 * 0) if the node has no record for it. A dead node's record stays: the
 * placement controller asks membership_ready_list() instead before it lets
 * an old replica drop a partition.
 */
enum memb_status membership_ready_get(struct membership *m, const char *table,
                                      uint64_t version, const char *node,
                                      uint32_t **partitions, size_t *n);

/* One node's readiness record (membership_ready_list()). */
struct memb_ready {
    char node[MEMB_NAME_MAX];
    uint32_t *partitions; /* sorted, unique; malloc'd */
    size_t n;
};

/*
 * Every node's readiness record of table/version, sorted by node, leaving
 * out nodes known to be dead exactly as membership_ready_count() does:
 * *out is malloc'd (free it with membership_ready_free()); MEMB_OK with *n
 * 0 if there is none. What a node needs to route around itself and what
 * LARDER.VIEW reports.
 */
enum memb_status membership_ready_list(struct membership *m,
                                       const char *table, uint64_t version,
                                       struct memb_ready **out, size_t *n);

void membership_ready_free(struct memb_ready *r, size_t n);

/*
 * Records that node `node` refused to pull table/version, with a reason
 * (e.g. "needs 2.1 GiB, --batch-memory leaves 1.0 GiB"): a loader waiting
 * for readiness fails at once with it instead of timing out.
 */
enum memb_status membership_refusal_set(struct membership *m,
                                        const char *table, uint64_t version,
                                        const char *node, const char *reason);

/*
 * The first refusal recorded for table/version: MEMB_NOTFOUND if none, else
 * MEMB_OK with the node and reason copied (each buffer MEMB_FIELD_MAX).
 */
enum memb_status membership_refusal_get(struct membership *m,
                                        const char *table, uint64_t version,
                                        char *node, char *reason);

/* ---- the active map -------------------------------------------------- */

struct memb_active_entry {
    char table[MEMB_NAME_MAX];
    uint64_t version;
};

/*
 * The active map: which version of each batch table is served. Changed
 * only by membership_active_cas(); every change increments generation and
 * keeps the map it replaced as history (for rollback).
 */
struct memb_active {
    uint64_t generation; /* 0: nothing was ever activated */
    size_t n;
    struct memb_active_entry *entries; /* malloc'd; sorted by table */
    int64_t changed_ms;
};

/* Frees entries (not the struct) and zeroes it. */
void membership_active_free(struct memb_active *a);

/* The version of table in the map a, or 0 if the map has none. */
uint64_t membership_active_version(const struct memb_active *a,
                                   const char *table);

/* Reads the current map (generation 0 and n 0 if none yet). */
enum memb_status membership_active_get(struct membership *m,
                                       struct memb_active *out);

/*
 * Reads the map as it was at a past generation (from history); the current
 * generation and generation 0 (empty) work too. MEMB_NOTFOUND for a
 * generation not reached yet or no longer kept.
 */
enum memb_status membership_active_get_generation(struct membership *m,
                                                  uint64_t generation,
                                                  struct memb_active *out);

/*
 * Replaces the map if its generation is still `expected`; the new map gets
 * generation expected + 1 (written to next->generation, with
 * next->changed_ms). next->entries are sorted by table in place; a table
 * named twice or a version 0 is MEMB_INVALID. MEMB_CONFLICT if the
 * generation moved on.
 */
enum memb_status membership_active_cas(struct membership *m,
                                       uint64_t expected,
                                       struct memb_active *next);

/* ---- the per-table load lock ----------------------------------------- */

struct memb_lock;

/*
 * Takes the load lock of a table without waiting: MEMB_BUSY if another
 * holder has it. The lock dies with its holder: local: the process (kill -9
 * included), zk: the ZooKeeper session (closed with the handle, or expired
 * session_ms after the process died or froze).
 */
enum memb_status membership_lock(struct membership *m, const char *table,
                                 struct memb_lock **out);

/* Releases the lock; sets *lock to NULL. */
void membership_unlock(struct memb_lock **lock);

/*
 * MEMB_OK if the lock taken through m is still held. Under zk: a lock dies
 * with its ZooKeeper session: after the session expired (a long pause, a
 * partition), this is MEMB_ERR "lock ... was lost", and a loader must then
 * fail rather than activate, since another load may hold the table now.
 */
enum memb_status membership_lock_check(struct membership *m,
                                       const struct memb_lock *lock);

/* ---- members ----------------------------------------------------------- */

/*
 * A node of the cluster. The persistent record (what placement is computed
 * from) is written by `larder node add` or, under local:, by the node
 * itself at start; liveness is separate: a node is live while the process
 * (local:) or the ZooKeeper session (zk:) that called membership_live_set()
 * is alive.
 */
struct memb_member {
    char id[MEMB_NAME_MAX];
    char addr[MEMB_FIELD_MAX]; /* "ip:port" clients connect to */
    char zone[MEMB_NAME_MAX];  /* "" if none */
    uint32_t capacity;         /* relative weight; 0 is stored as 100 */
    int live;                  /* filled by membership_member_list() */
    char state[MEMB_STATE_MAX]; /* live state: joining, ready, draining */
    int draining;              /* filled by membership_member_list() */
    uint64_t batch_memory;     /* the node's --batch-memory budget, bytes */
    uint64_t batch_used;       /* bytes its batch versions hold now */
};

enum memb_status membership_member_put(struct membership *m,
                                       const struct memb_member *mem);

enum memb_status membership_member_remove(struct membership *m,
                                          const char *id);

/* Lists members sorted by id, with live, state and draining filled in. */
enum memb_status membership_member_list(struct membership *m,
                                        struct memb_member **out, size_t *n);

/*
 * Marks the calling process's node live with a state ("joining", "ready",
 * "draining"). Under local: the record carries the process id and counts as
 * live only while that process exists; under zk: it is an ephemeral znode
 * of the handle's session, made again with its last state if the session
 * expires and the handle opens a new one.
 */
enum memb_status membership_live_set(struct membership *m, const char *id,
                                     const char *state);

/*
 * Updates a member's batch_memory / batch_used figures; MEMB_NOTFOUND if
 * the member was never put.
 */
enum memb_status membership_member_memory(struct membership *m,
                                          const char *id, uint64_t budget,
                                          uint64_t used);

/*
 * Marks a member as draining (or not): an operator's request that its
 * partitions move away, kept apart from its live state so it survives the
 * node's restarts. MEMB_NOTFOUND when marking a member that was never put;
 * clearing a mark that is not there is MEMB_OK. Removing the member clears
 * it.
 */
enum memb_status membership_drain_set(struct membership *m, const char *id,
                                      bool draining);

/* ---- placement ---------------------------------------------------------- */

/* The largest placement document, in bytes (one ZooKeeper znode). */
#define MEMB_PLACEMENT_MAX 1000000

/*
 * The stored placement: an opaque JSON object (membership/placement.h
 * gives it meaning) and its CAS token. *json is malloc'd (the caller
 * frees it) and holds the document as membership_placement_cas() stored
 * it: compact, keys sorted. MEMB_NOTFOUND, with *json NULL and
 * *cas_version 0, if none was ever stored.
 */
enum memb_status membership_placement_get(struct membership *m, char **json,
                                          uint64_t *cas_version);

/*
 * Stores json (a JSON object, at most MEMB_PLACEMENT_MAX bytes once made
 * compact with sorted keys) if the stored token is still `expected` (0:
 * nothing stored yet). Each store adds 1 to the token (the first gives 1).
 * MEMB_CONFLICT if another store came first; MEMB_INVALID if json is not a
 * JSON object or too large.
 */
enum memb_status membership_placement_cas(struct membership *m,
                                          uint64_t expected,
                                          const char *json);

/* ---- change notification ------------------------------------------------ */

/*
 * Waits up to timeout_ms for a change to what a node watches: the active
 * map, the placement, table configs and version lists, the member list,
 * live records (their appearance, disappearance and state) and drain
 * marks. *changed is true if something changed since the handle was
 * opened or since the previous call returned with *changed true; then it
 * returns at once. Readiness, refusals, locks and members' memory figures
 * do not count. Read the state after this returns: a change that happens
 * after the return is reported by the next call.
 *
 * zk: ZooKeeper watches, re-armed before each return. local: polls the
 * files every 100 ms (a dead process's live record counts as a change).
 * Spurious wake-ups are possible; a missed change is not.
 */
enum memb_status membership_wait_change(struct membership *m, int timeout_ms,
                                        bool *changed);

/* ---- helpers ----------------------------------------------------------- */

/* True if name is a valid table name. */
int membership_valid_name(const char *name);

const char *memb_status_name(enum memb_status st);
const char *memb_version_state_name(enum memb_version_state s);
const char *memb_table_kind_name(enum memb_table_kind k);

#endif
