/*
 * This file implements the fuzz target of the manifest codec
 * (common/manifest.c): an input is a manifest's JSON. A refused input must
 * come with a message and leave the struct empty; an accepted one must
 * survive a round trip: serialised again, it parses to the same manifest,
 * and serialising that gives the same text (the writer is a fixed point).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_same(const struct manifest *a, const struct manifest *b)
{
    CHECK(strcmp(a->table, b->table) == 0);
    CHECK(a->version == b->version && a->format == b->format);
    CHECK(a->partitions == b->partitions && a->dims == b->dims);
    CHECK(a->rows == b->rows && a->bytes == b->bytes);
    CHECK(a->key_bytes == b->key_bytes && a->value_bytes == b->value_bytes);
    CHECK(strcmp(a->run_id, b->run_id) == 0);
    CHECK(a->created_ms == b->created_ms);
    CHECK((a->schema_json == NULL) == (b->schema_json == NULL));
    CHECK(a->schema_json == NULL ||
          strcmp(a->schema_json, b->schema_json) == 0);
    for (uint32_t i = 0; i < a->partitions; i++) {
        const struct manifest_file *fa = &a->files[i], *fb = &b->files[i];
        CHECK(fa->partition == i && fb->partition == i);
        CHECK(strcmp(fa->key, fb->key) == 0);
        CHECK(fa->rows == fb->rows && fa->bytes == fb->bytes);
        CHECK(fa->checksum == fb->checksum);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct manifest m;
    char err[256] = "";
    if (manifest_from_json((const char *)data, size, &m, err,
                           sizeof(err)) != 0) {
        CHECK(err[0] != '\0');
        CHECK(m.files == NULL && m.schema_json == NULL && m.partitions == 0);
        return 0;
    }
    CHECK(m.partitions >= 1 && m.files != NULL);
    char *json = manifest_to_json(&m);
    CHECK(json != NULL);
    struct manifest again;
    if (manifest_from_json(json, strlen(json), &again, err,
                           sizeof(err)) != 0) {
        fprintf(stderr, "written manifest refused: %s\n%s\n", err, json);
        abort();
    }
    check_same(&m, &again);
    char *json2 = manifest_to_json(&again);
    CHECK(json2 != NULL && strcmp(json, json2) == 0);
    free(json2);
    free(json);
    manifest_free(&again);
    manifest_free(&m);
    return 0;
}
