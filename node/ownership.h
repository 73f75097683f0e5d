/*
 * ownership.h: which partitions of a table this node holds under the
 * cluster's stored placement (membership/placement.h), and, for each
 * partition it does not hold, which node a client should ask instead (the
 * address a -WRONGNODE reply names).
 *
 * Rules:
 *  - A node holds partition p of table t when the placement's routing set
 *    of (t, p) — current ∪ target — names it. So a partition moving to
 *    this node is held (pulled) as soon as it is a target, and one moving
 *    away is dropped only once the placement lists it in neither set (the
 *    controller promotes target to current only when the target replicas
 *    are ready: placement_promote()).
 *  - Without a placement, for a table the placement does not list, and
 *    for a version whose partition count differs from the placement's
 *    (a repartitioned table), the node holds every partition, as a node
 *    without a cluster does.
 *  - The node a client is sent to for partition p: among the nodes of the
 *    routing set other than this one that are members with an address, the
 *    first by: live, then ready for the version read (when readiness is
 *    known), then in current before only in target, then not draining,
 *    then routing order. A node that is not live is named only when no
 *    node of the set is.
 *
 * Pure: no I/O, no clock, no global state. Bitmaps are arrays of uint64_t,
 * bit p of word p / 64 for partition p.
 */
#ifndef LARDER_OWNERSHIP_H
#define LARDER_OWNERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "placement.h"

/* No node to send a client to. */
#define OWN_NONE UINT32_MAX

/* Words of a bitmap of n partitions. */
static inline size_t own_words(uint32_t n)
{
    return ((size_t)n + 63) / 64;
}

static inline bool own_test(const uint64_t *bits, uint32_t p)
{
    return (bits[p / 64] >> (p % 64)) & 1u;
}

static inline void own_set(uint64_t *bits, uint32_t p)
{
    bits[p / 64] |= (uint64_t)1 << (p % 64);
}

/* Number of bits set among the first n. */
uint32_t own_count(const uint64_t *bits, uint32_t n);

/*
 * Fills bits[own_words(partitions)] with the partitions of `table` that
 * `node` holds under pl (pl may be NULL). Returns true when the placement
 * decides (the table is placed with this partition count), false when
 * every bit was set because it does not (see the rules above).
 */
bool own_partitions(const struct placement *pl, const char *table,
                    uint32_t partitions, const char *node, uint64_t *bits);

/* A member as routing sees it (borrowed strings). */
struct own_member {
    const char *id;
    const char *addr; /* "ip:port"; "" if unknown */
    bool live;
    bool draining;
};

/* Whether `node` holds `partition` of the version read, ready. */
typedef bool (*own_ready_fn)(void *arg, const char *node, uint32_t partition);

/*
 * For each partition p < partitions not set in held, route[p] is the index
 * in members (sorted by id) of the node a client should ask, chosen as the
 * header comment says (ready may be NULL: readiness unknown); OWN_NONE if
 * the routing set names no other member with an address, for held
 * partitions, and for every partition when the placement does not decide
 * (own_partitions() false). Returns -1 if out of memory, else 0.
 */
int own_routes(const struct placement *pl, const char *table,
               uint32_t partitions, const char *self, const uint64_t *held,
               const struct own_member *members, size_t nmembers,
               own_ready_fn ready, void *arg, uint32_t *route);

#endif
