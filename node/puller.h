/*
 * puller.h: the node's background thread for batch tables and its life
 * as a cluster member. Whenever membership reports a change, and at least
 * every --watch-interval-ms, it reads the cluster state (the active map,
 * each batch table's versions, the stored placement, the members), pulls
 * staged versions newer than the active ones from the store when they fit
 * in --batch-memory (refusing, with a reason recorded in membership, when
 * they do not), records readiness, switches the node's view when the
 * active map's generation changes, and applies the retention rules
 * (batch_policy.h).
 *
 * With a stored placement, the node holds of each version only the
 * partitions the placement routes to it (ownership.h): it pulls those,
 * records exactly those as ready, gains and drops partitions as the
 * placement changes, and gives the view, for the others, the node a client
 * should ask. Without one it holds every partition.
 *
 * Its live state in membership is "joining" until it serves the cluster's
 * active generation, then "ready", and "draining" while draining (asked by
 * LARDER.DRAIN or by the operator's drain mark in membership). The same
 * "behind the active generation" is kept for /health (puller_behind()).
 *
 * It is the only writer of the batch catalog (batch.h) and the only user of
 * the membership and store handles. If membership cannot be opened at
 * start, the node serves the view it saved last (<data-dir>/view.json)
 * from local files, reports itself degraded, and keeps trying.
 */
#ifndef LARDER_PULLER_H
#define LARDER_PULLER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct batch;
struct puller;

struct puller_options {
    const char *membership_uri; /* e.g. "local:/data/membership" */
    const char *store_uri;      /* e.g. "file:///data/store" */
    const char *node_id;        /* member id */
    const char *addr;           /* "ip:port" clients connect to */
    const char *zone;           /* "" if none */
    uint32_t capacity;          /* relative weight (1..1000) */
    uint64_t watch_interval_ms;
    bool controller;             /* stand for the placement controller */
    uint64_t rebalance_delay_ms; /* see controller_duty.h */
    uint64_t pull_bandwidth;     /* bytes/s for store copies; 0: no limit */
    /* Called (on the puller thread) after a fatal error, e.g. a failed
     * mlock under --require-mlock: the process should stop. */
    void (*on_fatal)(void *arg);
    void *fatal_arg;
};

/*
 * Opens the store (a bad URI is an error: -1 with err) and prepares the
 * thread; b is borrowed and must outlive the puller.
 */
int puller_create(const struct puller_options *o, struct batch *b,
                  struct puller **out, char *err, size_t errlen);

/* Starts the thread. -1 if it cannot be created. */
int puller_start(struct puller *p);

/* Asks the thread to stop and waits for it (a pull in progress finishes
 * its current file first). Safe to call twice or without a start. */
void puller_stop(struct puller *p);

/*
 * Asks the node to drain (LARDER.DRAIN) or stop draining (LARDER.DRAIN
 * OFF); the puller publishes the live state soon after. Any thread.
 */
void puller_set_drain(struct puller *p, bool drain);

/* True while the node drains: asked with puller_set_drain() or marked
 * draining in membership. Any thread; no lock. */
bool puller_draining(const struct puller *p);

/* What a node that serves a view but not the cluster's active generation
 * waits for (health.h: joining). */
#define PULLER_WHY_LEN 256

struct puller_lag {
    uint64_t generation;      /* the cluster's active generation */
    char why[PULLER_WHY_LEN]; /* why the last switch to it failed; "" if
                                 none has failed yet (still pulling) */
};

/*
 * True if membership answered the puller's last cycle and the node serves
 * a view of another generation than the cluster's active one; then fills
 * *out. False before the first view, while membership is unreachable (the
 * node serves its saved view: degraded, not behind) and once the node
 * serves the active generation. Any thread; takes a short lock.
 */
bool puller_behind(struct puller *p, struct puller_lag *out);

/* Stops the thread if needed and frees everything; sets *p to NULL. */
void puller_destroy(struct puller **p);

#endif
