/*
 * This file implements store_retention.h: choosing the versions past
 * retention from the table's records and the active map, deleting their
 * objects from the store their manifest URI names, and marking them
 * retired.
 */
#include "store_retention.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "version_objects.h"

int store_retention_apply(struct membership *m, struct store *s,
                          const char *table, uint32_t keep,
                          struct retention_result *r, char *err,
                          size_t errlen)
{
    memset(r, 0, sizeof(*r));
    if (keep == 0) {
        keep = 1;
    }
    struct memb_active a;
    enum memb_status st = membership_active_get(m, &a);
    if (st != MEMB_OK) {
        snprintf(err, errlen, "reading the active map: %s",
                 membership_error(m));
        return -1;
    }
    uint64_t active = membership_active_version(&a, table);
    membership_active_free(&a);
    if (active == 0) {
        return 0; /* nothing active: nothing is known to be old */
    }
    struct memb_version *vs = NULL;
    size_t n = 0;
    st = membership_version_list(m, table, &vs, &n);
    if (st != MEMB_OK) {
        snprintf(err, errlen, "listing versions of %s: %s", table,
                 membership_error(m));
        return -1;
    }
    /* Newest first among the older ones: the first keep - 1 once-active
     * versions stay. */
    uint32_t kept = 1;
    int rc = 0;
    for (size_t i = n; i-- > 0;) {
        struct memb_version *v = &vs[i];
        if (v->version >= active || v->state == MEMB_V_RETIRED) {
            continue;
        }
        if (v->state == MEMB_V_ACTIVE && kept < keep) {
            kept++;
            continue;
        }
        char why[768] = "";
        if (version_objects_delete(s, table, v, &r->objects, why,
                                   sizeof(why)) != 0) {
            if (rc == 0) {
                snprintf(err, errlen, "%s version %" PRIu64 ": %s", table,
                         v->version, why);
                rc = -1;
            }
            continue;
        }
        if (v->state == MEMB_V_ACTIVE && v->activated_ms == 0) {
            /* Activated before activated_ms was recorded: its creation
             * is the latest time known to precede the activation, and
             * any non-zero time says "once active" when nothing is
             * known. */
            v->activated_ms = v->created_ms > 0 ? v->created_ms : 1;
        }
        v->state = MEMB_V_RETIRED;
        st = membership_version_put(m, table, v);
        if (st != MEMB_OK) {
            if (rc == 0) {
                snprintf(err, errlen, "%s version %" PRIu64 ": marking it "
                         "retired: %s", table, v->version,
                         membership_error(m));
                rc = -1;
            }
            continue;
        }
        r->retired++;
        log_verbose("retired %s version %" PRIu64 " (objects deleted from "
                    "the store)", table, v->version);
    }
    free(vs);
    return rc;
}
