/*
 * batch_view.h: what a node serves of its batch tables at one moment — an
 * immutable snapshot built by the puller and read by the workers without
 * a lock (see batch.h for how it is published and reclaimed).
 *
 * A view names, for each table the node holds anything of, the version it
 * serves (if any) and every version it holds with its state; mapped
 * versions carry their segments, one per partition. All tables switch
 * together because they are switched by replacing the whole view.
 *
 * In a cluster, a version may be held partially: the stored placement
 * gives each node some partitions (node/ownership.h). segs[p] is NULL for
 * a partition p held by other nodes, and route[p] names the node a client
 * should ask for it (the -WRONGNODE reply). The view also carries what
 * LARDER.VIEW answers: the placement applied, the members, and the JSON
 * reply itself, built once per view.
 *
 * The view generation a client compares is generation * 2^32 + the
 * placement's generation (batch_view_generation()): both only grow, so it
 * does too (a placement generation is assumed below 2^32).
 *
 * This file also encodes and decodes the view file (<data-dir>/view.json):
 * the generation and, per table, the active version and the versions once
 * active with when they last were, plus the placement applied and the
 * members' addresses, which a node restarted while membership is
 * unreachable serves from (exactly its last partitions).
 */
#ifndef LARDER_BATCH_VIEW_H
#define LARDER_BATCH_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "memeq.h"

#include "batch_policy.h"

struct segment;

#define BATCH_NAME_MAX 65  /* table names with the NUL */
#define BATCH_ADDR_MAX 256 /* "ip:port" with the NUL */
#define BATCH_STATE_MAX 16 /* live states with the NUL */
#define BATCH_NO_ROUTE UINT32_MAX

/* A cluster member as the node last saw it. */
struct batch_node {
    char id[BATCH_NAME_MAX];
    char addr[BATCH_ADDR_MAX]; /* "" if unknown */
    char zone[BATCH_NAME_MAX];
    uint32_t capacity;
    bool live;
    bool draining;                /* the operator's drain mark */
    char state[BATCH_STATE_MAX]; /* joining, ready, draining; "" if not live */
};

/* One version of a table in a view. */
struct batch_vinfo {
    uint64_t version;
    enum batch_fate state; /* never BATCH_DROP */
    uint32_t partitions;
    uint64_t rows;
    uint64_t bytes;          /* total size of its segment files */
    int64_t loaded_ms;       /* when it became readable here; 0 if cold */
    int64_t activated_ms;    /* when it last became active here; 0: never */
    int64_t last_active_ms;  /* when it stopped being active; 0: never/now */
    int64_t created_ms;      /* when the loader built it (manifest); 0 if
                                unknown */
    int64_t pull_ms;         /* how long its last pull took here: fetching
                                what was missing, verifying, mapping,
                                populating, locking */
    int64_t load_ms;         /* how long the loader took to read, build and
                                publish it (manifest); 0 if unknown */
    struct segment *const *segs; /* [partitions] if mapped, else NULL;
                                    borrowed from the catalog; segs[p] is
                                    NULL for a partition not held here */
    uint32_t held_partitions; /* partitions mapped here (0 if cold) */
    uint64_t held_rows;       /* their rows and bytes */
    uint64_t held_bytes;
    const uint32_t *route; /* [partitions] when mapped but not every
                              partition is held: for each one not held, the
                              index in the view's nodes of the node to ask
                              (BATCH_NO_ROUTE: none known); else NULL */
};

struct batch_vtable {
    char name[BATCH_NAME_MAX];
    size_t name_len; /* strlen(name), set by batch_view_finish() */
    const struct batch_vinfo *active; /* into versions, or NULL */
    uint64_t max_age_s; /* the table config's freshness bound; 0: none */
    size_t nversions;
    struct batch_vinfo *versions; /* ascending by version; owned */
};

struct batch_view {
    uint64_t generation; /* of the active map this view serves */
    int64_t changed_ms;  /* when the node switched to it */
    size_t ntables;
    struct batch_vtable *tables; /* sorted by name; owned */
    uint64_t placement_generation; /* of the placement applied; 0: none */
    char self[BATCH_NAME_MAX];     /* this node's member id */
    char *placement_json; /* the placement applied (owned); NULL: none */
    char *ready_json;     /* membership's readiness records (owned), see
                             batch_set_ready(); NULL: only our own known */
    size_t nnodes;
    struct batch_node *nodes; /* sorted by id; owned */
    char *description;        /* LARDER.VIEW's reply (owned); may be NULL
                                 if it could not be built */
};

/* generation * 2^32 + placement_generation (see the header comment). */
uint64_t batch_view_generation(const struct batch_view *v);

/*
 * LARDER.VIEW's JSON for v (malloc'd; caller frees) or NULL if out of
 * memory: {"generation": view generation, "active": {"generation": g,
 * "tables": {table: version}}, "placement": the placement object or null,
 * "nodes": [{"id", "addr", "zone", "capacity", "live", "state",
 * "draining"}], "ready": {table: {"<version>": {node: [partitions]}}},
 * "ready_source": "membership" or "self", "freshness": {table:
 * {"created_ms", "max_age_s"}}}. "ready" covers the versions this node
 * maps: every live node's records as membership had them at the puller's
 * last cycle ("membership"), or, when membership is unreachable, this
 * node's own holdings only ("self"). "freshness" has, per table with an
 * active version, when the loader built it (0: unknown) and the table
 * config's max age (0: none), so a client judges staleness with its own
 * clock. Compact, keys sorted.
 */
char *batch_view_describe(const struct batch_view *v);

/* True if name is a valid table name: [A-Za-z0-9_.-]{1,64}, not "." or
 * "..", so it is safe as a directory name. */
bool batch_valid_table_name(const char *name);

/* Orders table t against name (len bytes) as strcmp orders strings. */
static inline int batch_table_order(const struct batch_vtable *t,
                                    const char *name, size_t len)
{
    size_t n = t->name_len < len ? t->name_len : len;
    for (size_t i = 0; i < n; i++) {
        unsigned char a = (unsigned char)t->name[i];
        unsigned char b = (unsigned char)name[i];
        if (a != b) {
            return a < b ? -1 : 1;
        }
    }
    return (t->name_len > len) - (t->name_len < len);
}

/* The table called name[0, len), or NULL. O(log tables); inline, as it
 * runs on every batch read. */
static inline const struct batch_vtable *
batch_view_table(const struct batch_view *v, const char *name, size_t len)
{
    if (v == NULL) {
        return NULL;
    }
    size_t lo = 0, hi = v->ntables;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct batch_vtable *t = &v->tables[mid];
        if (t->name_len == len && memeq(t->name, name, len)) {
            return t;
        }
        if (batch_table_order(t, name, len) < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* The version v of a table, or NULL. O(log versions). */
const struct batch_vinfo *batch_view_version(const struct batch_vtable *t,
                                             uint64_t version);

/* Sorts tables by name and versions by number, sets each name_len, and
 * sets each active pointer to the version in state BATCH_ACTIVE (if any). */
void batch_view_finish(struct batch_view *v);

/* Memory of the mapped versions of a view (mincore for residency). */
struct batch_usage {
    uint64_t used;     /* bytes of segment files mapped (the budget's view) */
    uint64_t mapped;   /* bytes mapped */
    uint64_t resident; /* bytes of those mappings resident in RAM */
    uint64_t locked;   /* bytes mapped and mlock'ed */
    uint64_t active_mapped;   /* the same two, active versions only */
    uint64_t active_resident;
};

/* Measures v (may be NULL: all zero); v must stay valid meanwhile. */
void batch_view_usage(const struct batch_view *v, struct batch_usage *out);

/* Frees the view and its arrays (never the segments). */
void batch_view_free(struct batch_view *v);

/* ---- the view file ---------------------------------------------------- */

/* One version a view file remembers. */
struct batch_saved_version {
    char table[BATCH_NAME_MAX];
    uint64_t version;
    bool active;
    int64_t last_active_ms;
};

struct batch_saved_view {
    uint64_t generation;
    int64_t changed_ms;
    size_t n;
    struct batch_saved_version *versions; /* owned */
    char *placement_json; /* owned; NULL: no placement was applied */
    size_t nnodes;
    struct batch_node *nodes; /* owned; the members last seen */
};

/* Encodes what a view file keeps of v: malloc'd JSON (caller frees) or
 * NULL if out of memory. Cold and grace versions once active are kept,
 * incoming ones are not; the placement and the members' id, address,
 * zone and capacity are kept too. */
char *batch_view_encode(const struct batch_view *v);

/* Decodes a view file; -1 with err if malformed. */
int batch_view_decode(const char *json, size_t len, struct batch_saved_view *out,
                      char *err, size_t errlen);

void batch_saved_view_free(struct batch_saved_view *s);

#endif
