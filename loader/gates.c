/*
 * This file implements the data gates of gates.h.
 */
#include "gates.h"

#include <stdio.h>

static uint64_t count_limit(const struct gate_bad_rows *g, bool *limited)
{
    if (g->has_max_rows) {
        *limited = true;
        return g->max_rows;
    }
    *limited = !g->has_max_ratio; /* no limits at all: none allowed */
    return 0;
}

bool gate_bad_rows_hopeless(const struct gate_bad_rows *g, uint64_t bad)
{
    bool limited;
    uint64_t limit = count_limit(g, &limited);
    return limited && bad > limit;
}

int gate_bad_rows_check(const struct gate_bad_rows *g, uint64_t good,
                        uint64_t bad, char *msg, size_t msglen)
{
    bool limited;
    uint64_t limit = count_limit(g, &limited);
    if (limited && bad > limit) {
        if (!g->has_max_rows) {
            snprintf(msg, msglen, "%llu bad rows (none allowed without "
                     "--max-bad-rows or --max-bad-ratio)",
                     (unsigned long long)bad);
        } else {
            snprintf(msg, msglen, "%llu bad rows, more than --max-bad-rows "
                     "%llu", (unsigned long long)bad,
                     (unsigned long long)limit);
        }
        return -1;
    }
    uint64_t total = good + bad;
    if (g->has_max_ratio && total > 0) {
        double ratio = (double)bad / (double)total;
        if (ratio > g->max_ratio) {
            snprintf(msg, msglen, "%llu bad rows of %llu (%.4g), more than "
                     "--max-bad-ratio %.4g", (unsigned long long)bad,
                     (unsigned long long)total, ratio, g->max_ratio);
            return -1;
        }
    }
    return 0;
}

int gate_row_change_check(double max_pct, uint64_t active_rows,
                          uint64_t new_rows, char *msg, size_t msglen)
{
    if (active_rows == 0) {
        if (new_rows == 0) {
            return 0;
        }
        snprintf(msg, msglen, "row count changes from 0 to %llu, more than "
                 "--max-row-change %g%%", (unsigned long long)new_rows,
                 max_pct);
        return -1;
    }
    double diff = new_rows > active_rows ? (double)(new_rows - active_rows)
                                         : (double)(active_rows - new_rows);
    double pct = 100.0 * diff / (double)active_rows;
    if (pct > max_pct) {
        snprintf(msg, msglen, "row count changes from %llu to %llu (%s%.2f%%), "
                 "more than --max-row-change %g%%",
                 (unsigned long long)active_rows, (unsigned long long)new_rows,
                 new_rows >= active_rows ? "+" : "-", pct, max_pct);
        return -1;
    }
    return 0;
}
