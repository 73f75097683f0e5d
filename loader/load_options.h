/*
 * load_options.h: the options of larder-load, declared once (option.h's
 * X-macro table) for parsing and --help. --input, which takes several
 * paths, is parsed by main.c and listed in its usage text.
 */
#ifndef LARDER_LOAD_OPTIONS_H
#define LARDER_LOAD_OPTIONS_H

#include "option.h"

#define LOAD_OPTIONS(X)                                                       \
    X(membership, "membership", OPTION_STR, "", NULL, 0,                      \
      "cluster membership URI, e.g. local:/var/lib/larder/membership; "     \
      "required")                                                           \
    X(store, "store", OPTION_STR, "", NULL, 0,                                \
      "snapshot store URI, e.g. file:///var/lib/larder/store; required")     \
    X(zk_auth, "zk-auth", OPTION_STR, "", NULL, 0,                            \
      "USER:PASSWORD for a zk:// membership's digest ACLs (default: "         \
      "$LARDER_ZK_AUTH, which the process list does not show)")               \
    X(s3_endpoint, "s3-endpoint", OPTION_STR, "", NULL, 0,                    \
      "S3 endpoint URL for s3:// stores and inputs (MinIO, Ceph...); "        \
      "overrides $AWS_ENDPOINT_URL_S3 and $AWS_ENDPOINT_URL")                 \
    X(table, "table", OPTION_STR, "", NULL, 0,                                \
      "the batch table to load, [A-Za-z0-9_.-]{1,64}; required")            \
    X(format, "format", OPTION_ENUM, "auto",                                  \
      "auto|tsv|jsonl|csv|avro|msgpack", 0,                                   \
      "input format; auto: by file extension (.tsv .tab, .jsonl .ndjson "     \
      ".json, .csv, .avro, .msgpack .mpk; also with .gz)")                    \
    X(key, "key", OPTION_STR, "", NULL, 0,                                    \
      "the field holding each row's key; required")                          \
    X(fields, "fields", OPTION_STR, "", NULL, 0,                              \
      "comma-separated fields stored in the value's msgpack map, in this "    \
      "order; empty: every field but the key")                             \
    X(value_field, "value-field", OPTION_STR, "", NULL, 0,                    \
      "store this one field's raw bytes as the value instead of a map")       \
    X(partitions, "partitions", OPTION_UINT, "0", NULL, 0,                    \
      "partitions of a new table (0: 256); must match an existing "      \
      "table's")                                                              \
    X(run_id, "run-id", OPTION_STR, "", NULL, 0,                              \
      "training run id linking versions of several tables")                   \
    X(push_id, "push-id", OPTION_STR, "", NULL, 0,                            \
      "orchestrator retry key: a push id that already succeeded is a no-op")  \
    X(stage_only, "stage-only", OPTION_BOOL, "no", NULL, 0,                   \
      "publish and register the version (staged) but do not wait or "         \
      "activate")                                                             \
    X(allow_empty, "allow-empty", OPTION_BOOL, "no", NULL, 0,                 \
      "accept an input without rows (the version deletes every key)")        \
    X(allow_incomplete, "allow-incomplete", OPTION_BOOL, "no", NULL, 0,       \
      "load an input directory that has no _SUCCESS marker")                 \
    X(max_bad_rows, "max-bad-rows", OPTION_STR, "", NULL, 0,                  \
      "bad rows allowed; empty: none, or any within --max-bad-ratio")         \
    X(max_bad_ratio, "max-bad-ratio", OPTION_STR, "", NULL, 0,                \
      "fraction of bad rows allowed, 0..1")                                   \
    X(max_row_change, "max-row-change", OPTION_STR, "", NULL, 0,              \
      "percent by which the row count may differ from the active "            \
      "version's")                                                            \
    X(allow_schema_change, "allow-schema-change", OPTION_BOOL, "no", NULL, 0, \
      "accept fields or types that differ from the active version's")         \
    X(on_duplicate, "on-duplicate", OPTION_ENUM, "error", "error|last", 0,    \
      "a key given twice fails the load, or the last row wins")               \
    X(ready_timeout, "ready-timeout", OPTION_UINT, "300", NULL, 0,            \
      "seconds to wait for the cluster to hold the version")                  \
    X(min_replicas, "min-replicas", OPTION_UINT, "0", NULL, 0,                \
      "ready replicas per partition before activating (0: max(1, R-1))")      \
    X(store_retain, "store-retain", OPTION_UINT, "3", NULL, 0,                \
      "versions of the table kept in the store after an activation: the "     \
      "active one and those before it that rollback returns to")              \
    X(work_dir, "work-dir", OPTION_STR, "", NULL, 0,                          \
      "where the scratch directory goes; empty: $TMPDIR or /tmp")           \
    X(build_threads, "build-threads", OPTION_UINT, "0", NULL, 0,              \
      "partitions built or published at once (0: 4, at most 64)")            \
    X(read_threads, "read-threads", OPTION_UINT, "0", NULL, 0,                \
      "threads reading the input, each a span of it (0: the CPUs it may "     \
      "run on, at most 8; at most 64)")                                       \
    X(read_piece, "read-piece", OPTION_BYTES, "64mb", NULL, 0,                \
      "fewest input bytes a reading thread takes: a smaller input is read "   \
      "by fewer threads")                                                     \
    X(build_memory, "build-memory", OPTION_BYTES, "6mb", NULL, 0,             \
      "rows a partition build holds in memory before it sorts them to a "     \
      "chunk file and merges (per build thread)")                             \
    X(max_record_size, "max-record-size", OPTION_BYTES, "64mb", NULL, 0,      \
      "longest input line; a longer one is a bad row")                        \
    X(spill_buffer, "spill-buffer", OPTION_BYTES, "32mb", NULL, 0,            \
      "write buffers of all partition run files together")                    \
    X(json, "json", OPTION_BOOL, "no", NULL, 0,                               \
      "print the result as one JSON object on stdout")                        \
    X(progress, "progress", OPTION_BOOL, "no", NULL, 0,                       \
      "redraw a progress line while reading (only when stderr is a "          \
      "terminal)")                                                            \
    X(loglevel, "loglevel", OPTION_ENUM, "notice",                            \
      "debug|verbose|notice|warning", 0, "stderr log verbosity")

struct load_options {
    LOAD_OPTIONS(OPTION_DECLARE)
};

#endif
