/*
 * This file implements version_objects.h: reading a version's manifest
 * from the store its record names and deleting what it lists.
 */
#include "version_objects.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "manifest.h"
#include "manifest_fetch.h"

int version_objects_delete(struct store *fallback, const char *table,
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
    if (from == NULL) {
        return 0; /* no manifest and no store to guess from: nothing known */
    }
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

