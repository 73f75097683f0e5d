/*
 * This file implements the retention plan and the memory check of
 * batch_policy.h.
 */
#include "batch_policy.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

const char *batch_fate_name(enum batch_fate f)
{
    switch (f) {
    case BATCH_ACTIVE:
        return "active";
    case BATCH_INCOMING:
        return "incoming";
    case BATCH_HOT:
        return "hot";
    case BATCH_GRACE:
        return "grace";
    case BATCH_COLD:
        return "cold";
    case BATCH_DROP:
        return "drop";
    }
    return "?";
}

/* Ranks previously active versions: most recently active first. */
struct ranked {
    int64_t last_active_ms;
    uint64_t version;
    size_t index;
};

static int by_recency(const void *a, const void *b)
{
    const struct ranked *x = a, *y = b;
    if (x->last_active_ms != y->last_active_ms) {
        return x->last_active_ms > y->last_active_ms ? -1 : 1;
    }
    if (x->version != y->version) {
        return x->version > y->version ? -1 : 1;
    }
    return 0;
}

void batch_plan_retention(const struct batch_policy *p, int64_t now_ms,
                          const struct batch_candidate *c, size_t n,
                          enum batch_fate *out)
{
    struct ranked stack[16];
    struct ranked *r = n <= 16 ? stack : malloc(n * sizeof(*r));
    size_t nr = 0;
    unsigned retain = p->retain > p->retain_hot ? p->retain : p->retain_hot;
    for (size_t i = 0; i < n; i++) {
        if (c[i].active) {
            out[i] = BATCH_ACTIVE;
        } else if (c[i].last_active_ms == 0) {
            out[i] = c[i].wanted ? BATCH_INCOMING : BATCH_DROP;
        } else if (r != NULL) {
            r[nr++] = (struct ranked){c[i].last_active_ms, c[i].version, i};
        } else {
            out[i] = BATCH_HOT; /* no memory to rank: keep everything */
        }
    }
    if (r == NULL) {
        return;
    }
    qsort(r, nr, sizeof(*r), by_recency);
    for (size_t k = 0; k < nr; k++) {
        bool in_grace = now_ms - r[k].last_active_ms < p->grace_ms;
        enum batch_fate f;
        if (k < p->retain_hot) {
            f = BATCH_HOT;
        } else if (in_grace) {
            f = BATCH_GRACE;
        } else {
            f = k < retain ? BATCH_COLD : BATCH_DROP;
        }
        out[r[k].index] = f;
    }
    if (r != stack) {
        free(r);
    }
}

void batch_format_bytes(char *out, size_t outlen, uint64_t n)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
    if (n < 1024) {
        snprintf(out, outlen, "%" PRIu64 " B", n);
        return;
    }
    double v = (double)n / 1024;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    snprintf(out, outlen, "%.2f %s", v, units[u]);
}

bool batch_budget_fits(uint64_t budget, uint64_t held, uint64_t need,
                       char *reason, size_t reasonlen)
{
    uint64_t left = held < budget ? budget - held : 0;
    if (need <= left) {
        return true;
    }
    char need_h[32], left_h[32], budget_h[32], held_h[32];
    batch_format_bytes(need_h, sizeof(need_h), need);
    batch_format_bytes(left_h, sizeof(left_h), left);
    batch_format_bytes(budget_h, sizeof(budget_h), budget);
    batch_format_bytes(held_h, sizeof(held_h), held);
    snprintf(reason, reasonlen,
             "needs %s, --batch-memory leaves %s (budget %s, %s held)",
             need_h, left_h, budget_h, held_h);
    return false;
}

uint64_t batch_budget_default(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || size <= 0) {
        return (uint64_t)1 << 30;
    }
    return (uint64_t)pages * (uint64_t)size / 2;
}
