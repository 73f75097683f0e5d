/*
 * This file implements manifest_fetch.h: split the manifest URI into the
 * store's URI and the manifest key, read the object, verify and parse it.
 */
#include "manifest_fetch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

int manifest_fetch(const char *manifest_uri, uint64_t checksum,
                   const char *table, uint64_t version, struct manifest *out,
                   struct store **store_out, char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (store_out != NULL) {
        *store_out = NULL;
    }
    char key[512];
    if (manifest_key(key, sizeof(key), table, version) != 0) {
        snprintf(err, errlen, "table name too long");
        return -1;
    }
    size_t ulen = strlen(manifest_uri), klen = strlen(key);
    if (ulen <= klen + 1 || manifest_uri[ulen - klen - 1] != '/' ||
        strcmp(manifest_uri + ulen - klen, key) != 0) {
        snprintf(err, errlen, "manifest URI '%.300s' does not end in /%s",
                 manifest_uri, key);
        return -1;
    }
    char *store_uri = strndup(manifest_uri, ulen - klen - 1);
    if (store_uri == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    struct store *s = NULL;
    char why[768];
    int rc = store_open(store_uri, &s, why, sizeof(why));
    free(store_uri);
    if (rc != 0) {
        snprintf(err, errlen, "%s", why);
        return -1;
    }
    char *data = NULL;
    size_t len = 0;
    rc = store_get_bytes(s, key, &data, &len, why, sizeof(why));
    if (rc != 0) {
        snprintf(err, errlen, "%s", why);
    } else if (checksum != 0 && XXH3_64bits(data, len) != checksum) {
        snprintf(err, errlen, "manifest %s does not match the checksum of "
                 "its version record (%016" PRIx64 ")", key, checksum);
        rc = -1;
    } else if (manifest_from_json(data, len, out, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "manifest %s: %s", key, why);
        rc = -1;
    } else if (strcmp(out->table, table) != 0 || out->version != version) {
        snprintf(err, errlen, "manifest %s names %s version %" PRIu64, key,
                 out->table, out->version);
        manifest_free(out);
        rc = -1;
    }
    free(data);
    if (rc == 0 && store_out != NULL) {
        *store_out = s;
    } else {
        store_close(&s);
    }
    return rc;
}
