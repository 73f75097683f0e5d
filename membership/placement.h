/*
 * placement.h: which nodes hold which partition of which table. This file
 * is the pure computation (no I/O, no clock, no global state) of the
 * cluster's stored assignment and its JSON form; storing it (ZooKeeper's
 * `placement` znode, a node's data directory) is the membership backends'
 * business.
 *
 * A placement is {generation, current[t][p], target[t][p]}: `current` lists
 * the nodes that hold partition p of table t now, `target` the nodes that
 * should. Routing uses current ∪ target; an old replica drops a partition
 * only when every target replica is ready (placement_promote()).
 *
 * How a target is computed (placement_compute()), for each table alone:
 *  - The ring: every member puts round(160 * capacity / 100) points (at
 *    least 1) on a 64-bit ring, point i of member `id` at
 *    XXH3_64bits_withSeed(id, strlen(id), i). Partition p of table t starts
 *    its walk at XXH3_64bits_withSeed(t, strlen(t), p), so tables spread
 *    differently. Points are ordered by (hash, member id).
 *  - R = the table's replication, capped at the number of members; 0 ("all")
 *    or R >= members puts every member on every partition (R > members is
 *    counted in place_report.capped_tables).
 *  - Zones first: with Z distinct zones among the members ("" is a zone
 *    like any other), a partition's R replicas span min(R, Z) zones.
 *  - Bounded loads: a member of capacity c holds at most
 *    cap = ceil(1.25 * P * R * c / total capacity) replicas of the table
 *    (P partitions), so no member exceeds (1 + 0.25) x its mean share.
 *    Only when zones or distinctness leave no member under its cap is one
 *    placed above it, on the least loaded allowed member; that is counted
 *    in place_report.over_bound.
 *  - The ideal replicas of a partition are the first R distinct members met
 *    walking clockwise (members of unused zones first), ignoring loads.
 *  - Stability: given the previous placement, each table is filled in
 *    phases, each over all partitions in ascending order: (1) keep every
 *    previous target replica that is still a member; (2) where a member
 *    above its cap holds a replica the ring moved to a new ideal member
 *    (ideal now, not under the previous members: typically a joiner),
 *    hand it over; (3) members still above their cap (caps shrink when
 *    members join) shed replicas, highest partitions first: those the
 *    ring moved away, then those not ideal, then any; (4) fill free slots
 *    with new ideal members under their cap; (5) a replica shed in (3)
 *    goes to the member with the most room, so a joiner absorbs it rather
 *    than it moving twice; (6) hand the remaining replicas the ring moved
 *    away to their new ideal members, where under the cap; (7) walk the
 *    ring for the rest, skipping members at their cap; (8) if still
 *    short, the least loaded allowed member (over_bound). Zones are
 *    respected throughout. Replicas kept stay in their replica slot, so
 *    target[t][p][i] only changes where a replica really moves; with the
 *    same members and tables the target does not change at all. Without
 *    a previous placement only (4), (7) and (8) apply. A result that
 *    needed (8) is computed again from itself (a few times at most) until
 *    it no longer changes, so that promise holds there too.
 *  - The change between two targets, as the tests measure it: over all
 *    (table, partition) present in both, sum max(|old|, |new|) -
 *    |old ∩ new|, divided by the sum of max(|old|, |new|): the fraction of
 *    replica slots whose node changed, a replica that stays not counted.
 * The result depends only on the inputs' values, never on their order, on
 * pointers or on floating point, so every machine computes the same
 * placement from the same inputs.
 *
 * Ownership: a struct placement is created by placement_compute() or
 * placement_from_json() and freed by placement_destroy(); strings returned
 * by the accessors are borrowed from it and live until it is changed
 * (placement_promote()) or destroyed. A placement is used by one thread at
 * a time; const functions may run concurrently.
 */
#ifndef LARDER_PLACEMENT_H
#define LARDER_PLACEMENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "membership.h"

/* Limits and constants of placement; see the header comment. */
enum {
    PLACE_FORMAT = 1,              /* JSON format version written and read */
    PLACE_POINTS_PER_100 = 160,    /* ring points per 100 of capacity */
    PLACE_DEFAULT_CAPACITY = 100,  /* what a capacity of 0 means */
    PLACE_CAPACITY_MAX = 1000,     /* largest capacity accepted */
    PLACE_MEMBERS_MAX = 1024,      /* largest member list accepted */
    PLACE_NODES_MAX = 4096,        /* members + former members still listed */
    PLACE_PARTITIONS_MAX = 1 << 20, /* largest partition count accepted */
    PLACE_EPSILON_NUM = 1,         /* bound = ceil((1 + 1/4) x mean) */
    PLACE_EPSILON_DEN = 4,
};

enum place_status {
    PLACE_OK = 0,
    PLACE_INVALID,  /* bad input (message in err) */
    PLACE_NOTFOUND, /* no such table or partition */
    PLACE_NOMEM,    /* out of memory */
};

/* A member as placement sees it (memb_member's persistent fields). */
struct place_member {
    char id[MEMB_NAME_MAX];   /* unique; membership_valid_name() */
    char zone[MEMB_NAME_MAX]; /* "" if none; else a valid name */
    uint32_t capacity;        /* relative weight; 0 means 100 */
};

/* A table as placement sees it (memb_table's partitions and replication). */
struct place_table {
    char name[MEMB_NAME_MAX];
    uint32_t partitions;  /* 1..PLACE_PARTITIONS_MAX */
    uint32_t replication; /* replicas per partition; 0 means "all" */
};

/* What placement_compute() had to bend (all 0 in the ordinary case). */
struct place_report {
    uint32_t capped_tables; /* tables with replication > members: every
                               member holds every partition */
    char first_capped[MEMB_NAME_MAX]; /* the first such table, by name */
    uint64_t over_bound;    /* replicas placed above their member's cap */
};

/* A table of a placement (borrowed strings). */
struct place_table_info {
    const char *name;
    uint32_t partitions;
    uint32_t replication; /* as configured; 0 means "all" */
    uint32_t replicas;    /* as placed: min(replication or members, members) */
};

/* A partition whose target differs (as a set) from its current nodes. */
struct place_move {
    uint32_t table; /* index, see placement_table_at() */
    uint32_t partition;
};

enum place_set {
    PLACE_CURRENT = 0, /* the nodes that hold the partition now */
    PLACE_TARGET,      /* the nodes that should hold it */
    PLACE_ROUTING,     /* current ∪ target: current first, then the rest */
};

struct placement;

/*
 * Computes a new placement of tables over members. prev (may be NULL: no
 * previous placement) is only read. The result's generation is prev's + 1
 * (1 without prev); its target is computed as the header comment says; its
 * current is prev's current for tables present in prev with the same
 * partition count, and equals the target otherwise (a new or repartitioned
 * table has nothing to hand over). Nodes of prev's current that are no
 * longer members stay in current (and in the node list, as non-members)
 * until promoted away; tables absent from `tables` are dropped. report may
 * be NULL. Returns PLACE_INVALID with a message in err for an empty member
 * list, an invalid or duplicate id, name or zone, a capacity above
 * PLACE_CAPACITY_MAX, more than PLACE_MEMBERS_MAX members, or a partition
 * count of 0 or above PLACE_PARTITIONS_MAX. On success *out is owned by
 * the caller (placement_destroy()).
 */
enum place_status placement_compute(const struct place_member *members,
                                    size_t nmembers,
                                    const struct place_table *tables,
                                    size_t ntables,
                                    const struct placement *prev,
                                    struct placement **out,
                                    struct place_report *report, char *err,
                                    size_t errlen);

/* Frees a placement and sets *pl to NULL; NULL and *pl == NULL are fine. */
void placement_destroy(struct placement **pl);

uint64_t placement_generation(const struct placement *pl);

/* Number of tables; they are indexed 0..n-1 in name order. */
size_t placement_table_count(const struct placement *pl);

/* Fills *out for table index i; PLACE_NOTFOUND if i is out of range. */
enum place_status placement_table_at(const struct placement *pl, size_t i,
                                     struct place_table_info *out);

/*
 * The nodes of (table, partition) in set `which`: writes up to max ids
 * (borrowed) to ids (may be NULL when max is 0) and their total count to
 * *n. Target and current are in replica-slot order. PLACE_NOTFOUND if the
 * table or the partition does not exist.
 */
enum place_status placement_nodes(const struct placement *pl,
                                  const char *table, uint32_t partition,
                                  enum place_set which, const char **ids,
                                  size_t max, size_t *n);

/*
 * The partitions in motion (target != current as sets), by table index
 * then partition: *out is malloc'd (caller frees; NULL when *n is 0).
 */
enum place_status placement_moves(const struct placement *pl,
                                  struct place_move **out, size_t *n);

/*
 * Answers whether `node` holds partition `partition` of `table`, ready
 * (verified and populated) for every version still readable; borrowed
 * strings, valid during the call only.
 */
typedef bool (*place_ready_fn)(void *arg, const char *table,
                               uint32_t partition, const char *node);

/*
 * Promotes target to current for every partition in motion whose target
 * nodes are all ready (ready() asked once per target node of a moving
 * partition, until one is not). Nodes of current no longer referenced by
 * any current or target and no longer members are then dropped from the
 * node list. If anything changed, the generation increases by 1. Returns
 * the number of partitions promoted, or -1 (pl unchanged) if out of memory.
 */
long placement_promote(struct placement *pl, place_ready_fn ready,
                       void *arg);

/*
 * True if a and b are the same placement: generation, nodes (ids, zones,
 * capacities, membership), tables and every current and target list in
 * slot order.
 */
bool placement_equal(const struct placement *a, const struct placement *b);

/*
 * placement_equal() without the generation: true if storing b over a would
 * change nothing anyone routes by (what a controller asks before storing
 * a freshly computed placement, whose generation is always new).
 */
bool placement_same_assignment(const struct placement *a,
                               const struct placement *b);

/*
 * Serialises to compact JSON (malloc'd, NUL-terminated; caller frees), or
 * NULL if out of memory. The form:
 *   {"format":1,"generation":G,
 *    "nodes":[{"id":..,"zone":..,"capacity":..,"member":true},..],
 *    "tables":[{"name":..,"partitions":P,"replication":R,"replicas":r,
 *               "current":[[i,..],..],"target":[[i,..],..]},..]}
 * where lists hold indexes into "nodes" (sorted by id; tables by name) and
 * "target" is left out when it equals "current" everywhere.
 */
char *placement_to_json(const struct placement *pl);

/*
 * Parses what placement_to_json() writes. Refuses (PLACE_INVALID, message
 * in err) another format version, unsorted or duplicate nodes or tables,
 * invalid names, a list with an index out of range, a repeated node or no
 * node, a partition count that does not match the lists, and replicas
 * above the member count. Unknown fields are ignored. On success *out is
 * owned by the caller.
 */
enum place_status placement_from_json(const char *json, size_t len,
                                      struct placement **out, char *err,
                                      size_t errlen);

const char *place_status_name(enum place_status st);

#endif
