/*
 * manifest.h: the manifest of one (table, version): what the loader built
 * and published, and what a node must fetch and verify. Stored as JSON
 * (jansson) next to the segment files; see docs/snapshot-format.md.
 */
#ifndef LARDER_MANIFEST_H
#define LARDER_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

struct manifest_file {
    uint32_t partition;
    char key[256];      /* store key, e.g. "t/v-000012/part-00017.seg" */
    uint64_t rows;
    uint64_t bytes;
    uint64_t checksum;  /* xxh3-64 of the file */
};

struct manifest {
    char table[65];
    uint64_t version;
    uint32_t format;
    uint32_t partitions;
    uint32_t dims;
    uint64_t rows;
    uint64_t bytes;
    uint64_t key_bytes;
    uint64_t value_bytes;
    char run_id[129];
    int64_t created_ms;
    int64_t load_ms;    /* how long the loader took from its start to
                           publishing this manifest (reading, building,
                           copying the segments); 0 if unknown */
    char *schema_json;  /* the input's fields and types as JSON; owned */
    struct manifest_file *files; /* one per partition, by partition; owned */
};

/*
 * Store keys of a version's objects, as the conventions fix them:
 *   <table>/v-<version %06>/manifest.json
 *   <table>/v-<version %06>/part-<partition %05>.seg
 * Return 0, or -1 if out[outlen] is too small.
 */
int manifest_key(char *out, size_t outlen, const char *table,
                 uint64_t version);
int manifest_segment_key(char *out, size_t outlen, const char *table,
                         uint64_t version, uint32_t partition);

/*
 * Serialises to JSON (malloc'd, NUL-terminated; caller frees). NULL if
 * out of memory, if schema_json is set but is not JSON, if files is NULL
 * while partitions > 0, or if a count is above INT64_MAX.
 */
char *manifest_to_json(const struct manifest *m);

/*
 * Parses JSON; -1 with err on malformed or inconsistent input (out is then
 * left empty). Fields not listed above are ignored.
 */
int manifest_from_json(const char *json, size_t len, struct manifest *out,
                       char *err, size_t errlen);

/* Frees owned members and zeroes the struct. */
void manifest_free(struct manifest *m);

#endif
