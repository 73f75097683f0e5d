/*
 * controller.h: the one place where the stored placement changes. The
 * admin CLI calls it after `larder node add|remove` and on `larder
 * rebalance`; a node holding the controller lock calls it on its own,
 * periodically, to finish moves and to re-place the partitions of members
 * that have been dead longer than --rebalance-delay. Nobody else computes
 * a placement: everyone else reads the stored one (placement.h).
 *
 * Two steps, each one compare-and-set of the placement document:
 *   replace   compute a new target from the persistent member list (minus
 *             the members the caller excludes, e.g. long dead ones) and
 *             the batch tables' configs, keeping what it can of the
 *             previous placement (placement_compute);
 *   promote   make target the current set of every partition in motion
 *             whose target nodes are all ready for every readable version
 *             of its table (the active one; a table with no active version
 *             has nothing to hand over and moves at once), so an old
 *             replica drops a partition only once its successors hold it;
 *             only the records of nodes not known to be dead count
 *             (membership_ready_list()): a dead node's old record does not
 *             make it a successor.
 * A lost compare-and-set is retried a few times from a fresh read.
 */
#ifndef LARDER_CONTROLLER_H
#define LARDER_CONTROLLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "membership.h"
#include "placement.h"

/* The name of the controller lock (a membership load lock of that name). */
#define CONTROLLER_LOCK "_controller"

struct controller_result {
    uint64_t generation; /* of the stored placement afterwards (0: none) */
    bool changed;        /* a new document was stored */
    size_t moves;        /* partitions still in motion afterwards */
    long promoted;       /* partitions promoted (promote) */
    struct place_report report; /* what placement_compute() had to bend */
};

/*
 * Decides which members a replace leaves out: return true to exclude
 * member mem (e.g. dead past the rebalance delay). NULL keeps them all.
 */
typedef bool (*controller_exclude_fn)(void *arg,
                                      const struct memb_member *mem);

/*
 * Recomputes the target. Stores a new placement only if the target or the
 * table list differs from the stored one (changed tells). MEMB_INVALID
 * with err when placement refuses the inputs (no member left, say).
 */
enum memb_status controller_replace(struct membership *m,
                                    controller_exclude_fn exclude, void *arg,
                                    struct controller_result *out, char *err,
                                    size_t errlen);

/* Promotes what is ready (see above); stores only if something moved. */
enum memb_status controller_promote(struct membership *m,
                                    struct controller_result *out, char *err,
                                    size_t errlen);

/*
 * Reads the stored placement: MEMB_OK with *out (caller destroys), or
 * MEMB_NOTFOUND with *out NULL when none was stored; *cas gets the
 * document's CAS token. MEMB_ERR when the document does not parse.
 */
enum memb_status controller_read(struct membership *m, struct placement **out,
                                 uint64_t *cas, char *err, size_t errlen);

#endif
