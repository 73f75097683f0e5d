/*
 * activation.h: changing the active map safely, shared by larder-load and
 * the admin CLI.
 *
 * activation_apply() switches one or more tables to new versions in one
 * compare-and-set of the active map. Before it does, every version must
 * exist, be staged or active (never failed or retired), and be ready: each
 * partition recorded ready by at least min_replicas nodes. Versions linked
 * by a run id go together: activating one while another table holds a
 * version of the same run that would not be active afterwards is refused
 * unless force (the message names that table=version). Only staged and
 * active versions link; the tables looked at are the configured ones and
 * those of the active map. A CAS that loses to a change of other tables is
 * retried (up to 20 attempts, with a short growing pause); one that loses
 * to a change of one of the same tables fails with MEMB_CONFLICT. After
 * the switch the activated versions' state is MEMB_V_ACTIVE, and
 * activated_ms is set on those activated for the first time.
 *
 * activation_rollback() makes the map of the previous generation current
 * again (as a new generation), so linked tables go back together. It undoes
 * the last change of the map: two rollbacks in a row come back to where
 * they started. It fails with MEMB_NOTFOUND at generation 0 or 1 or when
 * that history is gone, MEMB_INVALID if the previous map names a retired
 * version, and MEMB_CONFLICT (changing nothing) if the map changed while
 * it ran.
 */
#ifndef LARDER_ACTIVATION_H
#define LARDER_ACTIVATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "membership.h"

struct activation_pair {
    char table[MEMB_NAME_MAX];
    uint64_t version;
};

struct activation_options {
    bool force;            /* allow splitting a run id */
    uint32_t min_replicas; /* ready replicas per partition; 0 means 1 */
};

/*
 * On success returns MEMB_OK and, if result is not NULL, the new map
 * (caller frees with membership_active_free). On refusal returns
 * MEMB_INVALID (or MEMB_NOTFOUND, MEMB_CONFLICT) with a message in err.
 * o may be NULL: no force, min_replicas 1.
 */
enum memb_status activation_apply(struct membership *m,
                                  const struct activation_pair *pairs,
                                  size_t n,
                                  const struct activation_options *o,
                                  struct memb_active *result, char *err,
                                  size_t errlen);

/*
 * Restores the previous generation's map; MEMB_NOTFOUND if none. result
 * (if not NULL) receives the new map, freed by the caller.
 */
enum memb_status activation_rollback(struct membership *m,
                                     struct memb_active *result, char *err,
                                     size_t errlen);

#endif
