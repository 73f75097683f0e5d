/*
 * controller_duty.h: the node side of membership/controller.h. Every node
 * tries to hold the controller lock; the one that holds it, on each of its
 * puller's cycles:
 *   - promotes the partitions whose target replicas are all ready
 *     (controller_promote), so moves finish without an operator;
 *   - re-places (controller_replace) when what placement is computed from
 *     changed: the members (ids, zones, capacities), the batch tables
 *     (partitions, replication: a first load creates a table), or the
 *     members left out — those not live for --rebalance-delay, the
 *     draining ones, and those not live that no target names (left out
 *     before, by an earlier holder or `larder rebalance`: a dead node is
 *     never handed partitions back) — so a node that flaps for less than
 *     the delay causes no pulls at all.
 * It only maintains a placement that exists: a cluster gets its first one
 * from the operator (`larder node add`, `larder rebalance`); until then
 * every node holds every partition.
 * The others only retry the lock now and then, so when the holder dies
 * (its lock dies with it) another node takes over.
 *
 * How long a member has been dead is measured by the holder from when it
 * first saw it not live, so a new holder starts counting afresh: a
 * controller change delays a rebalance, it never hastens nor undoes one.
 *
 * Used by the puller thread only.
 */
#ifndef LARDER_CONTROLLER_DUTY_H
#define LARDER_CONTROLLER_DUTY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "membership.h"
#include "placement.h"

struct controller_duty;

/* rebalance_delay_ms: how long a member may be dead before re-placing. */
struct controller_duty *controller_duty_create(uint64_t rebalance_delay_ms);

/*
 * One turn, on the membership handle m (borrowed): take the lock if free
 * (at most every few seconds), and if held do the work above. members is
 * the member list just read (with live and draining filled), tables the
 * table configs; pl the stored placement just read (borrowed; NULL when
 * none is stored). Failures are logged once and retried on the next turn.
 */
void controller_duty_run(struct controller_duty *d, struct membership *m,
                         const struct memb_member *members, size_t n,
                         const struct memb_table *tables, size_t ntables,
                         const struct placement *pl, int64_t now_ms);

/* True while this node holds the controller lock. */
bool controller_duty_held(const struct controller_duty *d);

/*
 * Releases the lock (it must be done through the handle that took it,
 * before that handle is closed) and forgets what it measured.
 */
void controller_duty_release(struct controller_duty *d);

void controller_duty_destroy(struct controller_duty **d);

#endif
