/*
 * cluster_view.h: the cluster as the admin CLI's read commands see it —
 * nodes (members and their liveness, drain marks, memory), tables with
 * their active version and per-partition readiness, the active map and
 * the stored placement — in one struct, filled either from the membership
 * or from the JSON a node returns for LARDER.VIEW. The commands that render
 * it (nodes, ring, tables, status) and route reads (get, mget) never know
 * which source it came from.
 *
 * The LARDER.VIEW document:
 *   {"generation": G,
 *    "active": {"generation": g, "tables": {"t": v, ...}},
 *    "placement": <placement_to_json()'s object, or that text as a
 *                  string, or null>,
 *    "nodes": [{"id", "addr", "zone", "capacity", "live", "state",
 *               "draining", optional "batch_memory", "batch_used"}, ...],
 *    "ready": {"t": {"v": [count per partition] | {"node": [p, ...]}}},
 *    "ready_source": "self" (optional),
 *    "freshness": {"t": {"created_ms": c, "max_age_s": m}} (optional)}
 * "ready" may be missing or lack a table: that table's readiness is then
 * unknown. In the {"node": [partitions]} form only live nodes count, as
 * membership_ready_count() counts them, and each node once. With
 * "ready_source": "self" the answering node lists only what it holds
 * itself: the caller asks the other live nodes for their views and adds
 * their readiness with cluster_view_merge_ready(). "freshness" gives, per
 * table with an active version, when the loader built that version (Unix
 * ms, 0: unknown) and the table's max age (seconds, 0: none); a table it
 * lacks (or a node too old to send it) has both unknown. Unknown fields
 * are ignored.
 *
 * Ownership: every pointer in a view is owned by it; cluster_view_free()
 * releases them. Parsing and routing do no I/O.
 */
#ifndef LARDER_CLI_CLUSTER_VIEW_H
#define LARDER_CLI_CLUSTER_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "membership.h"
#include "placement.h"

struct cluster_node {
    char id[MEMB_NAME_MAX];
    char addr[MEMB_FIELD_MAX];  /* "" if unknown */
    char zone[MEMB_NAME_MAX];   /* "" if none */
    uint32_t capacity;
    bool member;                /* in the member list; false: only named
                                   by the placement (removed, still holds
                                   partitions until the move finishes) */
    bool live;
    char state[MEMB_STATE_MAX]; /* "" when not live */
    bool draining;
    uint64_t batch_memory;      /* budget, bytes; 0: unknown or none */
    uint64_t batch_used;
};

struct cluster_table {
    char name[MEMB_NAME_MAX];
    bool config_known;      /* kind, fallback key, max age, dims are known
                               (from the membership, not LARDER.VIEW) */
    enum memb_table_kind kind;
    uint32_t partitions;    /* 0: unknown */
    uint32_t replication;   /* 0: all */
    char fallback_key[MEMB_FIELD_MAX];
    uint64_t max_age_s;
    uint32_t dims;
    uint64_t active_version; /* 0: none */
    bool max_age_known;     /* max_age_s is known: from the membership, or
                               LARDER.VIEW's "freshness" */
    int64_t created_ms;     /* when the loader built the active version
                               (its record's created_ms, Unix ms); 0:
                               unknown or no active version */
    uint32_t *ready;        /* ready live replicas per partition of the
                               active version; NULL: unknown or none */
};

struct cluster_view {
    char source[MEMB_URI_MAX]; /* the membership URI, or the seed node */
    bool from_node;            /* filled from LARDER.VIEW */
    uint64_t generation;       /* LARDER.VIEW's generation; 0 otherwise */
    struct memb_active active;
    struct cluster_node *nodes; /* members by id, then placement-only */
    size_t nnodes;
    struct cluster_table *tables; /* by name */
    size_t ntables;
    struct placement *placement;  /* NULL: none stored */
    bool ready_partial;        /* readiness is only the answering node's */
    char **ready_nodes;        /* nodes whose readiness was counted */
    size_t nready_nodes;
};

/* Frees what v owns and zeroes it; a zeroed view is fine. */
void cluster_view_free(struct cluster_view *v);

/*
 * Fills v from the membership: members, tables, the active map, the
 * stored placement and, with health (what `larder status` judges), the
 * ready replicas of every active version's partitions and each active
 * version's created_ms from its record (both left unknown otherwise).
 * Returns MEMB_OK, or a failure with a message in err.
 */
enum memb_status cluster_view_from_membership(struct membership *m,
                                              const char *source,
                                              bool health,
                                              struct cluster_view *v,
                                              char *err, size_t errlen);

/*
 * Fills v from a LARDER.VIEW document (see the header comment). Returns
 * 0, or -1 with a message in err (not JSON, a field of the wrong type, a
 * placement that does not parse).
 */
int cluster_view_from_json(const char *json, size_t len, const char *source,
                           struct cluster_view *v, char *err, size_t errlen);

/*
 * Adds the readiness in another node's LARDER.VIEW document to v's counts
 * of the active versions, for the nodes not counted yet. Returns 0, or -1
 * with a message in err (v is unchanged then).
 */
int cluster_view_merge_ready(struct cluster_view *v, const char *json,
                             size_t len, char *err, size_t errlen);

/* True if the readiness of node id has been counted. */
bool cluster_view_ready_counted(const struct cluster_view *v,
                                const char *id);

/* The node with this id, or NULL. */
const struct cluster_node *cluster_view_node(const struct cluster_view *v,
                                             const char *id);

/* The table with this name, or NULL. */
const struct cluster_table *cluster_view_table(const struct cluster_view *v,
                                               const char *name);

/* Number of live members. */
size_t cluster_view_live(const struct cluster_view *v);

/* The partition of a key in a table of `partitions`: xxh3_64(key) % P. */
uint32_t cluster_key_partition(const char *key, size_t klen,
                               uint32_t partitions);

/*
 * The nodes a read of key in table should try, best first, as indexes
 * into v->nodes written to out (at most max), their count in *n: when the
 * placement has the table, the live nodes with an address that hold the
 * key's partition now, then those that will (its target); otherwise every
 * live member with an address. Within each group, nodes in state "ready"
 * come first. *partition gets the key's partition (UINT32_MAX when the
 * placement lacks the table).
 */
void cluster_view_route(const struct cluster_view *v, const char *table,
                        const char *key, size_t klen, size_t *out,
                        size_t max, size_t *n, uint32_t *partition);

#endif
