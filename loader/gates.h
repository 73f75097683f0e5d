/*
 * gates.h: the data gates a load must pass before anything is published —
 * the bad-row limits and the row-count change against the active version.
 * Pure functions: numbers in, a verdict and a message out.
 */
#ifndef LARDER_GATES_H
#define LARDER_GATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Bad-row limits. With neither limit set, no bad row is allowed. With
 * only a ratio set, any number of bad rows is allowed within the ratio.
 * With both set, both must hold.
 */
struct gate_bad_rows {
    bool has_max_rows;
    uint64_t max_rows;
    bool has_max_ratio;
    double max_ratio; /* of bad rows among all rows read, 0..1 */
};

/*
 * True once bad rows are already over the count limit: the load can stop
 * reading (the ratio can only be judged at the end).
 */
bool gate_bad_rows_hopeless(const struct gate_bad_rows *g, uint64_t bad);

/*
 * Judges good and bad row counts at the end of reading: 0 if within the
 * limits, -1 with a message saying which limit failed.
 */
int gate_bad_rows_check(const struct gate_bad_rows *g, uint64_t good,
                        uint64_t bad, char *msg, size_t msglen);

/*
 * The row-change gate: the new row count may differ from the active
 * version's by at most max_pct percent of the active count. An active
 * version of 0 rows passes only a new version of 0 rows. 0 or -1 with a
 * message.
 */
int gate_row_change_check(double max_pct, uint64_t active_rows,
                          uint64_t new_rows, char *msg, size_t msglen);

#endif
