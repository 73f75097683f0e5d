/*
 * cluster_output.h: what the admin CLI's cluster commands print, computed
 * from a struct cluster_view (or two placements) into a struct buf, as
 * aligned text tables or as JSON: the node list (`larder nodes`), the ring
 * (`larder ring`), the partitions a placement change moved (`larder
 * rebalance`, `node add` ...) and the cluster's health verdict (`larder
 * status`). Pure: no I/O, no clock, so the unit tests render fixed views.
 */
#ifndef LARDER_CLI_CLUSTER_OUTPUT_H
#define LARDER_CLI_CLUSTER_OUTPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "cluster_view.h"
#include "json_writer.h"

/* Replicas a node holds per the placement, over every table. */
struct cluster_load {
    uint64_t held;     /* in current */
    uint64_t incoming; /* in target, not yet in current */
};

/*
 * Fills loads[i] for v->nodes[i] (an array of v->nnodes). false if out of
 * memory.
 */
bool cluster_loads(const struct cluster_view *v, struct cluster_load *loads);

/* Appends "1.5 GiB"-style text for a byte count. */
void cluster_format_bytes(uint64_t bytes, char *out, size_t outlen);

/* Formats seconds as "45s", "3m 5s", "2h 10m", "4d 3h". */
void cluster_format_age(uint64_t s, char *out, size_t outlen);

/*
 * How fresh a table's active version is at a moment. Its age is the age
 * of its data, now minus its created_ms (the version record has no
 * activation time), as a node's /health counts it; it is stale when that
 * is more than the table's max age (0: none, never stale).
 */
struct cluster_freshness {
    bool age_known;  /* an active version with a known created_ms */
    uint64_t age_s;  /* whole seconds; 0 when not known */
    bool judged;     /* whether it is stale is known: an active version,
                        its max age known, and its age too unless the max
                        age is 0 */
    bool stale;      /* judged, max age > 0 and older than that */
};

void cluster_table_freshness(const struct cluster_table *t, int64_t now_ms,
                             struct cluster_freshness *out);

/* The node list: a text table, or a JSON array. false if out of memory. */
bool cluster_render_nodes(const struct cluster_view *v, bool json,
                          struct buf *out);

/*
 * The ring: for each table of the placement (or only `table` when not
 * NULL), the nodes of each partition now and, where it differs, their
 * target. false with *notfound set when the table is not placed; false
 * with *notfound clear when out of memory.
 */
bool cluster_render_ring(const struct cluster_view *v, const char *table,
                         bool json, struct buf *out, bool *notfound);

/*
 * What a placement change did: generations, partitions in motion
 * afterwards, and (in JSON always, in text when list is true) every
 * partition whose target set changed, "table/p: a,b -> a,c". before may be
 * NULL (nothing was stored). With JSON the members are written into an
 * object the caller opened with w.
 */
void cluster_render_moves(const struct placement *before,
                          const struct placement *after, bool list,
                          bool json, struct json_writer *w,
                          struct buf *out);

/*
 * The verdict of `larder status`: healthy, or not ("degraded", exit 1)
 * with the reasons. There is no level in between.
 */
struct cluster_health {
    bool healthy;
    int64_t now_ms;     /* the moment ages were judged at (Unix ms) */
    struct buf reasons; /* why not healthy: lines, each ending "\n" */
    struct buf notes;   /* worth knowing, not a failure: lines */
};

/*
 * Judges the cluster at now_ms: healthy unless a member is not live, an
 * active version has a partition with fewer than min(R, live members)
 * ready replicas (R "all" counts as every live member; no live member
 * fails every partition), an active version's readiness is unknown, an
 * active version is stale (cluster_table_freshness()), or a node holds
 * more batch data than its budget. Partitions in motion, drain marks, a
 * missing placement and an active version whose freshness is unknown are
 * notes. Free with cluster_health_free().
 */
void cluster_health_check(const struct cluster_view *v, int64_t now_ms,
                          struct cluster_health *h);

void cluster_health_free(struct cluster_health *h);

/*
 * The whole status report: verdict, reasons, notes, nodes, tables (with
 * their ages at h->now_ms).
 */
bool cluster_render_status(const struct cluster_view *v,
                           const struct cluster_health *h, bool json,
                           struct buf *out);

#endif
