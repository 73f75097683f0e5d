/*
 * stats.h: the node's counters, declared once as an X-macro table. Each
 * worker thread owns one struct node_stats and is its only writer; INFO
 * sums them across workers with relaxed atomic loads, so counting costs no
 * lock and no read-modify-write instruction on the request path.
 */
#ifndef LARDER_STATS_H
#define LARDER_STATS_H

#include <stdint.h>

/* X(name, help) */
#define NODE_METRICS(X)                                                        \
    X(total_connections_received, "client connections accepted")              \
    X(total_commands_processed, "commands executed")                          \
    X(total_net_input_bytes, "bytes read from clients")                       \
    X(total_net_output_bytes, "bytes written to clients")                     \
    X(keyspace_hits, "key lookups that found a value")                        \
    X(keyspace_misses, "key lookups that found nothing")                      \
    X(total_error_replies, "error replies sent")                              \
    X(protocol_errors, "connections closed for malformed input")              \
    X(client_limit_closes, "connections closed for exceeding a buffer limit") \
    X(auth_failures, "AUTH attempts with a wrong user name or password")

#define METRIC_DECLARE(name, help) uint64_t name;

struct node_stats {
    NODE_METRICS(METRIC_DECLARE)
};

#define METRIC_COUNT (sizeof(struct node_stats) / sizeof(uint64_t))

/* Adds v to a counter owned by the calling thread. */
#define STAT_ADD(st, field, v) \
    __atomic_store_n(&(st)->field, (st)->field + (uint64_t)(v), \
                     __ATOMIC_RELAXED)

#endif
