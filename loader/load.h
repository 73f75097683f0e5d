/*
 * load.h: one bulk load of a batch table, start to end — read and
 * validate the input, spill it to per-partition runs, build one segment
 * per partition, run the gates, publish the segments and the manifest,
 * register the version, wait until the cluster holds it and activate it
 * (docs/loader.md; DESIGN.md "Bulk load lifecycle").
 *
 * Any failure before activation leaves the active version untouched,
 * marks the version (if one was allocated) failed, and comes back as one
 * exit code with a message. Progress goes to the log (stderr), one line
 * per phase; the caller prints the result.
 */
#ifndef LARDER_LOAD_H
#define LARDER_LOAD_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "input_reader.h"
#include "snapshot_writer.h"

/* Exit codes of larder-load: one meaning each (sysexits.h numbers). */
enum load_exit {
    LOAD_EXIT_OK = 0,           /* loaded (or nothing to do) */
    LOAD_EXIT_USAGE = 64,       /* bad command line or table config */
    LOAD_EXIT_DATA = 65,        /* bad input: bad rows, duplicates, empty */
    LOAD_EXIT_NOINPUT = 66,     /* an input path is missing or unreadable */
    LOAD_EXIT_UNAVAILABLE = 69, /* cluster not ready: timeout, lock busy */
    LOAD_EXIT_INTERNAL = 70,    /* a bug or local out-of-memory */
    LOAD_EXIT_MEMORY = 71,      /* the cluster lacks memory for it */
    LOAD_EXIT_IO = 74,          /* read, write, store or membership I/O */
    LOAD_EXIT_GATE = 75,        /* a gate failed: row change, linked run */
};

enum load_phase {
    LOAD_PHASE_READ = 0,
    LOAD_PHASE_BUILD,
    LOAD_PHASE_PUBLISH,
    LOAD_PHASE_WAIT,
    LOAD_PHASE_ACTIVATE,
    LOAD_PHASES,
};

struct load_config {
    const char *membership_uri;
    const char *store_uri;
    const char *table;
    const char *const *inputs;
    size_t ninputs;
    const struct input_format *format; /* NULL: from each file's extension */
    const char *key_field;
    const char *fields;      /* "" or NULL: every field but the key */
    const char *value_field; /* "" or NULL: a msgpack map */
    uint32_t partitions;     /* 0: the table's, or 256 for a new table */
    const char *run_id;      /* "" or NULL: none */
    const char *push_id;     /* "" or NULL: none */
    bool stage_only;
    bool allow_empty;        /* accept a load without rows */
    bool allow_incomplete;   /* accept input dirs without _SUCCESS */
    bool has_max_bad_rows;
    uint64_t max_bad_rows;
    bool has_max_bad_ratio;
    double max_bad_ratio;
    bool has_max_row_change;
    double max_row_change; /* percent */
    bool allow_schema_change; /* skip the schema-change gate */
    bool progress;           /* a progress line on stderr, if a terminal */
    enum snap_dup_policy on_duplicate;
    uint64_t ready_timeout_ms;
    uint64_t ready_poll_ms;
    uint32_t min_replicas;   /* 0: max(1, R - 1) */
    const char *work_dir;    /* parent of the scratch dir; NULL: $TMPDIR */
    uint32_t build_threads;  /* 0: 4; at most 64 */
    uint32_t read_threads;   /* 0: the CPUs, at most 8; at most 64 */
    uint64_t read_piece;     /* fewest input bytes a read thread takes;
                                0: 64 MiB */
    uint64_t build_memory;   /* per partition build; 0: the writer's default */
    uint32_t store_retain;   /* versions kept in the store (0: 1) */
    size_t max_record;       /* longest input line/record */
    size_t spill_buffer;     /* write buffers of all run files together */
    /* Set (to the signal number) by a signal handler to stop the load. */
    const volatile sig_atomic_t *interrupted;
};

#define LOAD_BAD_SAMPLES 10

struct load_bad_row {
    char file[256];
    uint64_t line;
    uint64_t offset;
    char reason[256];
};

struct load_result {
    int exit_code;
    char error[2048];     /* why, when exit_code != 0 */
    const char *state;    /* "active", "staged", "noop", "failed" */
    uint64_t version;     /* 0 if none was allocated */
    uint64_t previous_version; /* active before this load; 0: none */
    uint64_t files;
    uint32_t read_threads; /* threads that read the input (spans) */
    uint64_t rows_read;   /* good rows read (duplicates included) */
    uint64_t bad_rows;
    uint64_t duplicates;  /* dropped by --on-duplicate last */
    uint64_t rows;        /* distinct keys in the version */
    uint64_t bytes;       /* segment files together */
    uint64_t key_bytes;
    uint64_t value_bytes;
    uint64_t input_bytes; /* bytes of the input files */
    uint32_t partitions;
    uint32_t min_replicas;
    double seconds[LOAD_PHASES];
    uint64_t peak_rss_bytes;
    size_t nbad_samples;
    struct load_bad_row bad_samples[LOAD_BAD_SAMPLES];
};

/* Runs the load; returns the exit code (also in r->exit_code). */
int load_run(const struct load_config *c, struct load_result *r);

/* "read", "build", ... */
const char *load_phase_name(enum load_phase p);

#endif
