/*
 * manifest_fetch.h: reads the manifest of one (table, version) from the
 * store its version record names. A record's manifest URI is the store's
 * URI followed by the manifest's key, "<table>/v-<version %06>/
 * manifest.json", so the store can be told from the URI alone: readers
 * such as the loader's schema gate and `larder diff` reach a version's
 * manifest and segments without being told where its loader put them.
 */
#ifndef LARDER_MANIFEST_FETCH_H
#define LARDER_MANIFEST_FETCH_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "store.h"

/*
 * Opens the store of manifest_uri, reads the manifest of table/version,
 * checks it against checksum (its xxh3-64, as the version record keeps
 * it; 0: not checked) and that it names table and version, and parses it
 * into *out (the caller frees it with manifest_free). With store_out set,
 * the open store is handed to the caller (who closes it); else it is
 * closed. Returns 0, or -1 with err (out then left empty).
 */
int manifest_fetch(const char *manifest_uri, uint64_t checksum,
                   const char *table, uint64_t version, struct manifest *out,
                   struct store **store_out, char *err, size_t errlen);

#endif
