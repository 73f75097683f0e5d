/*
 * health.h: whether a node is fit to serve, as /health and INFO report it.
 *
 *   starting  no batch view yet: the node is joining, pulling the active
 *             versions (HTTP 503)
 *   stopping  SIGTERM received: finishing in-flight requests (HTTP 503)
 *   draining  LARDER.DRAIN or the operator's drain mark: the node keeps
 *             serving, clients route elsewhere (HTTP 503)
 *   joining   serving a view, but membership names another active
 *             generation that the node is still pulling or cannot switch
 *             to (a version over --batch-memory, a failing pull): the
 *             node keeps serving what it has, its one reason says what
 *             it waits for (HTTP 503). Never while membership is
 *             unreachable: that is degraded, so that an outage of
 *             membership does not take every node out of service
 *   degraded  serving, but: a table's active version is older than its
 *             max age (the table config's max_age_s, else --max-age), or
 *             membership is unreachable (serving the saved view), or the
 *             active versions are not all resident in RAM (HTTP 200, or
 *             503 with ?strict=1)
 *   ok        none of the above (HTTP 200)
 *
 * The age of a version is the age of its data: now minus the time the
 * loader built it (the manifest's created_ms), or minus the time this node
 * activated it when the manifest has no creation time.
 */
#ifndef LARDER_HEALTH_H
#define LARDER_HEALTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "batch_view.h"

struct server;

enum health_state {
    HEALTH_OK = 0,
    HEALTH_DEGRADED,
    HEALTH_STARTING,
    HEALTH_STOPPING,
    HEALTH_DRAINING,
    HEALTH_JOINING,
};

#define HEALTH_STATES (HEALTH_JOINING + 1)

#define HEALTH_REASONS_MAX 8
#define HEALTH_REASON_LEN 200

struct health_report {
    enum health_state state;
    size_t nreasons; /* reasons kept, at most HEALTH_REASONS_MAX */
    size_t nomitted; /* further reasons that did not fit */
    char reasons[HEALTH_REASONS_MAX][HEALTH_REASON_LEN];
};

/* What the verdict is made of. */
struct health_input {
    const struct batch_view *view; /* NULL while joining */
    const struct batch_usage *usage; /* of view */
    bool stopping;
    bool draining;
    bool membership_degraded;
    /* Membership answered and names an active generation other than the
     * view's (puller_behind()). */
    bool behind;
    uint64_t active_generation; /* the cluster's, if behind */
    const char *switch_why;     /* why switching to it failed; NULL or "":
                                   still pulling */
    uint64_t default_max_age_s; /* --max-age; 0: none */
    int64_t now_ms;             /* Unix ms */
};

/* Applies the rules above (stopping, then draining, then starting, then
 * joining, win over the rest). Pure: no I/O, no clock. */
void health_evaluate(const struct health_input *in, struct health_report *out);

/* Milliseconds since vi's data was built (or activated here, if the build
 * time is unknown); 0 if neither is known. Never negative. */
int64_t health_version_age_ms(const struct batch_vinfo *vi, int64_t now_ms);

/* The max age that applies to table t, in seconds; 0: none. */
uint64_t health_max_age_s(const struct batch_vtable *t, uint64_t default_s);

/* "ok", "degraded", "starting", "stopping", "draining", "joining". */
const char *health_state_name(enum health_state s);

/*
 * Evaluates the node's health for view v (which the caller keeps valid,
 * inside a read section) with usage measured on it: gathers the server's
 * inputs (--max-age, shutdown, membership, the puller's lag) and calls
 * health_evaluate().
 */
void health_check(struct server *srv, const struct batch_view *v,
                  const struct batch_usage *usage, int64_t now_ms,
                  struct health_report *out);

#endif
