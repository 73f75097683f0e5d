/*
 * batch.h: the batch tables of one node — the catalog of (table, version)
 * pairs it holds on local disk under <data-dir>/segments, which of them are
 * mapped, the view the workers serve from, and the memory budget.
 *
 * Threads. The catalog has exactly one writer, the puller thread
 * (puller.c); workers only read the current view. A view is immutable:
 * the writer changes the catalog, then batch_commit() builds a new view
 * and publishes it with one atomic pointer store, so every table switches
 * at the same instant and a request never sees a mix. The view it
 * replaced, and the segments of versions unmapped meanwhile, are freed by
 * quiescent-state reclamation (qsbr.h): only after every worker has been
 * outside a request batch since the switch. The request path takes no
 * lock and touches no reference count.
 *
 * Workers bracket each batch of requests with qsbr_enter()/qsbr_leave() on
 * their own epoch counter and may use the view returned by batch_current()
 * (and every segment it names) until qsbr_leave().
 */
#ifndef LARDER_BATCH_H
#define LARDER_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch_policy.h"
#include "batch_view.h"
#include "manifest.h"
#include "stats.h"

/* X(name, help): counters written by the puller, read by INFO. */
#define BATCH_METRICS(X)                                                       \
    X(batch_pulls_total, "segment files fetched from the store")              \
    X(batch_reused_total, "segment files found valid on local disk and reused") \
    X(batch_pull_failures_total, "pulls or switches that failed")             \
    X(batch_refusals_total, "versions refused for lack of memory")            \
    X(batch_switches_total, "switches to a new active map")                   \
    X(batch_dropped_total, "versions deleted from local disk")

struct batch_stats {
    BATCH_METRICS(METRIC_DECLARE)
};

struct batch_options {
    const char *data_dir; /* created if missing */
    uint64_t memory;      /* --batch-memory, already resolved (not 0) */
    struct batch_policy policy;
    bool require_mlock;   /* a failed mlock is fatal */
    unsigned pull_threads; /* partitions mapped (fetched) at once; 0: 1 */
};

struct batch;

/*
 * Creates the data directory layout and the catalog of what is already on
 * disk (every version cold, nothing served yet). epochs are the workers'
 * quiescent-state counters (borrowed; they outlive the batch). -1 with err.
 */
int batch_create(const struct batch_options *o, uint64_t *const *epochs,
                 size_t nreaders, struct batch **out, char *err,
                 size_t errlen);

/* Frees everything; no worker and no puller may run any more. */
void batch_destroy(struct batch **b);

/* ---- readers (workers, inside a read section) ------------------------- */

/* The view being served, or NULL until the first one is published. */
const struct batch_view *batch_current(const struct batch *b);

/* Sums of the puller's counters. */
void batch_read_stats(const struct batch *b, struct batch_stats *out);

uint64_t batch_budget(const struct batch *b);

/* True while serving without membership (from view.json, or after a
 * membership error). */
bool batch_degraded(const struct batch *b);

/* True once a fatal condition (mlock failed under --require-mlock) hit. */
bool batch_failed(const struct batch *b);

/* ---- the writer (the puller thread only) ------------------------------ */

/* One version the node holds on local disk. */
struct batch_held {
    char table[BATCH_NAME_MAX];
    uint64_t version;
    struct manifest manifest;   /* the local copy, verified when fetched */
    uint64_t manifest_checksum; /* xxh3-64 of the local manifest.json */
    struct segment **segs;      /* [partitions] while mapped, else NULL;
                                   segs[p] NULL: partition p not held */
    uint32_t held;              /* partitions mapped (0 while unmapped) */
    uint64_t held_rows;         /* their rows and bytes (manifest figures) */
    uint64_t held_bytes;
    uint32_t *route;            /* [partitions] or NULL: where clients go
                                   for partitions not held (owned) */
    enum batch_fate state;
    int64_t loaded_ms;      /* when it was last mapped */
    int64_t activated_ms;   /* when it last became active; 0: never */
    int64_t last_active_ms; /* when it stopped being active; 0: never/now */
    int64_t pull_ms;        /* how long its last batch_held_map() took */
    uint64_t max_age_s;     /* its table's freshness bound; 0: none */
    bool wanted;            /* never active: the puller still wants it */
    bool ready_marked;      /* readiness recorded by this process */
};

/* The held versions, in no particular order; stable until a drop. */
size_t batch_held_count(const struct batch *b);
struct batch_held *batch_held_at(struct batch *b, size_t i);

/* The held version, or NULL. */
struct batch_held *batch_held_find(struct batch *b, const char *table,
                                   uint64_t version);

/*
 * Records a new version from its manifest (already fetched and verified):
 * writes <dir>/manifest.json and returns the held version, cold. NULL with
 * err if the manifest is malformed or not for table/version.
 */
struct batch_held *batch_held_add(struct batch *b, const char *table,
                                  uint64_t version, const char *json,
                                  size_t len, char *err, size_t errlen);

/* Where partition p of a held version lives locally. */
void batch_part_path(const struct batch *b, const char *table,
                     uint64_t version, uint32_t p, char *out, size_t outlen);

/*
 * Fetches partition p of h into path (atomically), verified against the
 * manifest's checksum. 0, or -1 with err.
 */
typedef int (*batch_fetch_fn)(void *arg, const struct batch_held *h,
                              uint32_t p, const char *path, char *err,
                              size_t errlen);

/*
 * Maps every partition of h, populated and locked. A local file is reused
 * when it verifies against the manifest; a missing or bad one is fetched
 * with fetch (when not NULL) and verified again. On failure nothing stays
 * mapped and -1 is returned with err. Under --require-mlock a failed lock
 * fails too and marks the batch failed (batch_failed()).
 */
int batch_held_map(struct batch *b, struct batch_held *h, batch_fetch_fn fetch,
                   void *arg, char *err, size_t errlen);

/*
 * Maps exactly the partitions of h set in want (a bitmap of
 * manifest.partitions bits, ownership.h; NULL: all), as batch_held_map()
 * does. If h is already mapped with another set, it is reshaped: the
 * partitions kept stay mapped (the same segments), the new ones are
 * opened or fetched first, and the ones no longer wanted are unmapped
 * (once no worker can use them) and their local files deleted. On failure
 * h keeps the mapping it had (none if it was unmapped), and -1 is
 * returned with err.
 */
int batch_held_map_parts(struct batch *b, struct batch_held *h,
                         const uint64_t *want, batch_fetch_fn fetch,
                         void *arg, char *err, size_t errlen);

/* True if h is mapped with exactly the partitions of want (NULL: all). */
bool batch_held_matches(const struct batch_held *h, const uint64_t *want);

/* Bytes of the partitions of want (NULL: all) that h has not mapped: what
 * mapping want would add to the budget's count. */
uint64_t batch_held_missing_bytes(const struct batch_held *h,
                                  const uint64_t *want);

/* Sets where clients go for the partitions h does not hold (a copy of
 * route[manifest.partitions] of indexes into the nodes of
 * batch_set_cluster(); NULL: nowhere / every partition held). */
void batch_held_set_route(struct batch *b, struct batch_held *h,
                          const uint32_t *route);

/*
 * Sets the readiness records the next views report in LARDER.VIEW (a
 * copy of ready_json: {table: {"<version>": {node: [partitions]}}} from
 * membership, for the versions this node maps); NULL: only this node's
 * own holdings are known.
 */
void batch_set_ready(struct batch *b, const char *ready_json);

/*
 * Sets what the next views carry about the cluster (copied): this node's
 * id, the placement applied (JSON, NULL: none) and its generation, and the
 * members (sorted by id). A change of the placement or of a member's
 * address is saved in view.json at the next batch_commit().
 */
void batch_set_cluster(struct batch *b, const char *self,
                       const char *placement_json,
                       uint64_t placement_generation,
                       const struct batch_node *nodes, size_t nnodes);

/* Unmaps h (its segments are closed once no worker can use them). */
void batch_held_unmap(struct batch *b, struct batch_held *h);

/* Unmaps h, deletes its files and forgets it; h is invalid afterwards. */
void batch_held_drop(struct batch *b, struct batch_held *h);

/* Sets the freshness bound of h's table (from the table config), as the
 * next view will show it. */
void batch_held_set_max_age(struct batch *b, struct batch_held *h,
                            uint64_t max_age_s);

/* Sets h's state as the next view will show it. */
void batch_held_set_state(struct batch *b, struct batch_held *h,
                          enum batch_fate state);

/* The retention rules the batch was created with. */
const struct batch_policy *batch_policy_of(const struct batch *b);

/* Bytes of the partitions mapped now: what counts against the budget. */
uint64_t batch_ram_bytes(const struct batch *b);

/*
 * Makes exactly the versions active[0..n) active (all must be mapped) as
 * of now_ms, with the active map's generation; versions active before and
 * not named become inactive (last active now_ms). Takes effect, for all
 * tables at once, at the next batch_commit().
 */
void batch_switch(struct batch *b, uint64_t generation,
                  struct batch_held *const *active, size_t n, int64_t now_ms);

/* The generation of the last switch; false if there was none yet. */
bool batch_generation(const struct batch *b, uint64_t *generation);

/*
 * Publishes a new view if anything changed since the last one, defers the
 * old view and unmapped segments, and after a switch (or a change of the
 * placement or of members' addresses) writes view.json atomically. Then
 * frees whatever no worker can still use.
 */
void batch_commit(struct batch *b);

/*
 * Reads <data-dir>/view.json (if any) into *out and gives held versions
 * named as previously active their last-active times (those named active
 * get now_ms). 0 if read (or absent: out->n == 0), -1 with err if bad.
 */
int batch_load_saved(struct batch *b, struct batch_saved_view *out,
                     int64_t now_ms, char *err, size_t errlen);

void batch_set_degraded(struct batch *b, bool degraded);

/* Marks the batch failed (fatal). */
void batch_set_failed(struct batch *b);

/* Adds to a counter of the batch's stats (writer only). */
#define BATCH_STAT_ADD(b, field, v) STAT_ADD(batch_stats_of(b), field, v)
struct batch_stats *batch_stats_of(struct batch *b);

#endif
