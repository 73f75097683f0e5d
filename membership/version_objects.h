/*
 * version_objects.h: deleting the store objects of one version of a
 * table — what retention (loader/store_retention.h) and `larder table
 * drop` do before they retire or forget a version.
 */
#ifndef LARDER_VERSION_OBJECTS_H
#define LARDER_VERSION_OBJECTS_H

#include <stddef.h>
#include <stdint.h>

#include "membership.h"
#include "store.h"

/*
 * Deletes the objects of version rec of table: those its manifest lists,
 * from the store its record's manifest URI names; without a readable
 * manifest (a load that failed before publishing it), the conventional
 * keys of rec->partitions segments from fallback (NULL: none, then such a
 * version's objects are left alone). The manifest goes last,
 * so a retry still finds the list. Objects already gone are not an error.
 * Adds the objects deleted to *objects. Returns 0, or -1 with err.
 */
int version_objects_delete(struct store *fallback, const char *table,
                           const struct memb_version *rec, uint64_t *objects,
                           char *err, size_t errlen);

#endif
