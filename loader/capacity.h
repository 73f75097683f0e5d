/*
 * capacity.h: the loader's memory check before it publishes — can enough
 * live nodes hold their share of a new version within their
 * --batch-memory budget? Pure: works on a member list.
 *
 * A node's share is the whole version when the table is replicated to all
 * nodes (replication 0) or when there are no more members than replicas;
 * otherwise bytes × R / members, plus the 25% by which bounded-load
 * placement may exceed the mean. A node fits if its budget minus what its
 * batch versions hold now covers its share; a member that reports no
 * budget (0) is not judged and counts as fitting.
 */
#ifndef LARDER_CAPACITY_H
#define LARDER_CAPACITY_H

#include <stddef.h>
#include <stdint.h>

#include "membership.h"

struct capacity_verdict {
    uint32_t members; /* all members, live or not */
    uint32_t live;
    uint32_t fit;     /* live members that can take their share */
    uint64_t share;   /* bytes each node needs */
};

/*
 * Judges a version of `bytes` bytes against members[0..n): returns 0 if
 * at least `required` live members fit (all of them when fewer are live;
 * none when no member is live: there is no one to ask), else -1 with a
 * message naming each live node's free memory and the share it needs. *v
 * is filled either way.
 */
int capacity_check(const struct memb_member *members, size_t n,
                   uint32_t replication, uint64_t bytes, uint32_t required,
                   struct capacity_verdict *v, char *msg, size_t msglen);

/* Writes a byte count for people, e.g. "1.5 GiB". */
void capacity_format_bytes(uint64_t bytes, char *out, size_t outlen);

#endif
