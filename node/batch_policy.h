/*
 * batch_policy.h: the rules that decide what a node keeps of a batch
 * table's versions, and whether a new version fits in memory. Pure
 * functions: no I/O, no clock (the caller passes the time), so they are
 * tested on their own.
 *
 * Retention, per table, among the versions the node holds:
 * - the active version is kept mapped, populated and locked;
 * - versions once active here are ranked by when they were last active
 *   (most recent first): the first retain_hot stay mapped and locked (hot),
 *   so a rollback to them is instant; the rest up to retain (hot ones
 *   included) stay on disk, unmapped (cold); beyond retain they are
 *   deleted;
 * - whatever its rank, a version stays mapped for grace_ms after it was
 *   last active, so a read pinned to it a moment ago still succeeds;
 * - a version never active here is kept (incoming) while it is still
 *   wanted (staged and newer than the active one), else deleted.
 */
#ifndef LARDER_BATCH_POLICY_H
#define LARDER_BATCH_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct batch_policy {
    unsigned retain_hot; /* previously active versions kept mapped */
    unsigned retain;     /* previously active versions kept on disk */
    int64_t grace_ms;    /* readable this long after last active */
};

/* One held version of a table, as the plan sees it. */
struct batch_candidate {
    uint64_t version;
    int64_t last_active_ms; /* when it stopped being active; 0: never was */
    bool active;            /* named by the view being served */
    bool wanted;            /* never active: still worth keeping */
};

/* What the plan decides for a version; also its state in a view. */
enum batch_fate {
    BATCH_ACTIVE = 0, /* served: mapped, populated, locked */
    BATCH_INCOMING,   /* pulled, not yet active: mapped */
    BATCH_HOT,        /* previously active, kept for rollback: mapped */
    BATCH_GRACE,      /* retired a moment ago, still readable: mapped */
    BATCH_COLD,       /* retained on disk only: unmapped */
    BATCH_DROP,       /* to be deleted */
};

/* "active", "incoming", "hot", "grace", "cold", "drop". */
const char *batch_fate_name(enum batch_fate f);

/* True for the fates whose files are mapped (readable with VERSION). */
static inline bool batch_fate_mapped(enum batch_fate f)
{
    return f <= BATCH_GRACE;
}

/*
 * Decides the fate of each of the n candidates of one table (any order):
 * out[i] is the fate of c[i].
 */
void batch_plan_retention(const struct batch_policy *p, int64_t now_ms,
                          const struct batch_candidate *c, size_t n,
                          enum batch_fate *out);

/*
 * Memory check before a pull: true if held + need <= budget. Otherwise
 * false, with a reason for the loader, e.g. "needs 1.50 GiB, --batch-memory
 * leaves 512.00 MiB (budget 4.00 GiB, 3.50 GiB held)".
 */
bool batch_budget_fits(uint64_t budget, uint64_t held, uint64_t need,
                       char *reason, size_t reasonlen);

/* Formats a byte count with binary units ("512.00 MiB", "17 B"). */
void batch_format_bytes(char *out, size_t outlen, uint64_t n);

/* Half of the physical memory: the default --batch-memory. */
uint64_t batch_budget_default(void);

#endif
