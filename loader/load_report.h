/*
 * load_report.h: how larder-load reports a finished load on stdout — one
 * JSON object (--json) or a short text summary — and a failure on stderr.
 */
#ifndef LARDER_LOAD_REPORT_H
#define LARDER_LOAD_REPORT_H

#include <stdio.h>

#include "load.h"

/*
 * The result as compact JSON (malloc'd; caller frees), NULL if out of
 * memory. Fields: table, version, state, previous_version, rows,
 * rows_read, bad_rows, duplicates, bytes, key_bytes, value_bytes,
 * input_bytes, files, partitions, min_replicas, run_id, push_id, seconds
 * {read, build, publish, wait, activate, total}, peak_rss_bytes,
 * bad_row_samples [{file, line, offset, reason}], exit_code and, on
 * failure, error.
 */
char *load_report_json(const struct load_config *c,
                       const struct load_result *r);

/* A text summary of a successful (or no-op) load. */
void load_report_text(FILE *f, const struct load_config *c,
                      const struct load_result *r);

#endif
