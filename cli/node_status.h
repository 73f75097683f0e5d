/*
 * node_status.h: what `larder status` shows of a node, read from the text
 * of its "INFO batch" reply: the health verdict with its reasons, the
 * generation served, and each batch table's active version with its age
 * and max age. Parsing only: no I/O.
 */
#ifndef LARDER_CLI_NODE_STATUS_H
#define LARDER_CLI_NODE_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct node_status_table {
    char name[65];
    uint64_t version;   /* 0: no active version */
    uint64_t rows;
    uint64_t bytes;
    uint64_t age_s;     /* age of the active version's data */
    uint64_t max_age_s; /* the limit that applies; 0: none */
};

struct node_status {
    char health[16];       /* ok, degraded, starting, stopping */
    char reasons[1024];    /* "; "-separated, "" if none */
    char state[16];        /* batch_state: ready, joining */
    uint64_t generation;
    bool degraded;         /* membership unreachable */
    size_t ntables;
    struct node_status_table *tables; /* owned, in INFO's order */
};

/*
 * Parses the text of INFO (any sections; "# Batch" is the one used).
 * Returns 0, or -1 with err if the reply has no health field (a node
 * older than the health check) or memory ran out.
 */
int node_status_parse(const char *info, size_t len, struct node_status *out,
                      char *err, size_t errlen);

/* True if the table's active version is within its max age. */
bool node_status_fresh(const struct node_status_table *t);

void node_status_free(struct node_status *s);

#endif
