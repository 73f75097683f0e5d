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
#include "manifest.h"
#include "manifest_fetch.h"

/*
 * Deletes one version's objects: those its manifest lists, from the store
 * its record names; without a readable manifest (a load that failed before
 * publishing it), the conventional keys of rec->partitions segments from
 * fallback. The manifest goes last, so a retry still finds the list.
 */
static int delete_objects(struct store *fallback, const char *table,
                          const struct memb_version *rec, uint64_t *objects,
                          char *err, size_t errlen)
{
    struct manifest mf;
    struct store *s = NULL;
    char why[512] = "";
    bool listed = rec->manifest_uri[0] != '\0' &&
                  manifest_fetch(rec->manifest_uri, 0, table, rec->version,
                                 &mf, &s, why, sizeof(why)) == 0;
    struct store *from = listed ? s : fallback;
    char key[512];
    int rc = 0;
    uint32_t n = listed ? mf.partitions : rec->partitions;
    for (uint32_t p = 0; p < n && rc == 0; p++) {
        if (listed) {
            snprintf(key, sizeof(key), "%s", mf.files[p].key);
        } else if (manifest_segment_key(key, sizeof(key), table,
                                        rec->version, p) != 0) {
            continue;
        }
        rc = store_delete(from, key, err, errlen);
        *objects += rc == 0;
    }
    if (rc == 0 && manifest_key(key, sizeof(key), table, rec->version) == 0) {
        rc = store_delete(from, key, err, errlen);
        *objects += rc == 0;
    }
    if (listed) {
        manifest_free(&mf);
        store_close(&s);
    }
    return rc;
}

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
        if (delete_objects(s, table, v, &r->objects, why, sizeof(why)) != 0) {
            if (rc == 0) {
                snprintf(err, errlen, "%s version %" PRIu64 ": %s", table,
                         v->version, why);
                rc = -1;
            }
            continue;
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
