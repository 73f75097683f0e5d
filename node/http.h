/*
 * http.h: the node's HTTP endpoint for operators and monitoring, on
 * --http-bind:--http-port (off when --http-port is 0, the default):
 *
 *   GET /metrics          the Prometheus text page (metrics.h)
 *   GET /health           {"status": ...} as health.h defines it: 200 when
 *                         ok or degraded, 503 when starting, joining,
 *                         draining or stopping
 *   GET /health?strict=1  the same, but 503 when degraded too
 *
 * It runs libevent's evhttp on a thread of its own, with its own
 * event_base: a scrape walks every mapped segment (mincore) and formats a
 * few hundred lines, and none of that may delay a worker or the acceptor.
 * It reads the batch view as one more quiescent-state reader, through
 * srv->http_epoch.
 */
#ifndef LARDER_HTTP_H
#define LARDER_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct server;
struct http_server;

/*
 * Binds the HTTP socket if srv->opts->http_port is not 0 (*out is NULL
 * otherwise). -1 with err if it cannot be bound.
 */
int http_create(struct server *srv, struct http_server **out, char *err,
                size_t errlen);

/* Starts the thread (nothing if h is NULL). -1 if it cannot be created. */
int http_start(struct http_server *h);

/* Stops the thread and waits for it; safe on NULL, twice, unstarted. */
void http_stop(struct http_server *h);

/* Stops if needed, closes the socket and frees; sets *h to NULL. */
void http_destroy(struct http_server **h);

#endif
