/*
 * store_retention.h: what happens to a table's old versions in the store
 * once a load has activated a new one. larder-load applies it after each
 * activation; nodes apply their own --retain to their local copies.
 *
 * Kept: the active version, every version newer than it (staged for a
 * linked activation or by a later load), and the keep - 1 newest older
 * versions that were once active (what a rollback goes back to).
 * Retired: every other older version — versions once active beyond those,
 * staged versions never activated, failed loads. For each, its objects
 * are deleted from the store (the segments its manifest lists, or by the
 * naming convention when the manifest is gone, and the manifest), then its
 * record's state becomes MEMB_V_RETIRED, which activation and rollback
 * refuse. The record keeps activated_ms, so a retired version that was
 * once active stays told from a failed or never-activated one; an active
 * record without it (written before the field existed) gets its
 * created_ms (1 if that is unknown too) instead. A deletion that fails
 * leaves the version unretired, so the next load tries again; a retired
 * version is never looked at again.
 */
#ifndef LARDER_STORE_RETENTION_H
#define LARDER_STORE_RETENTION_H

#include <stddef.h>
#include <stdint.h>

#include "membership.h"
#include "store.h"

/* Default keep: the active version and two before it. */
#define STORE_RETAIN_DEFAULT 3

struct retention_result {
    uint32_t retired;  /* versions retired by this call */
    uint64_t objects;  /* store objects deleted */
};

/*
 * Applies the rules above to table (keep >= 1; 0 is taken as 1). Returns
 * 0, or -1 with err naming the first version it could not retire (the
 * others are still handled); *r counts what was done either way.
 */
int store_retention_apply(struct membership *m, struct store *s,
                          const char *table, uint32_t keep,
                          struct retention_result *r, char *err,
                          size_t errlen);

#endif
