/*
 * server.h: the larderd process: a listening socket and signal handling on
 * the main thread's event loop, and N worker threads, each with its own
 * event_base owning the connections handed to it. Nothing on the request
 * path takes a global lock: workers share only the live table (sharded
 * locks) and a few atomic counters.
 */
#ifndef LARDER_SERVER_H
#define LARDER_SERVER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "live_table.h"
#include "node_options.h"
#include "resp.h"
#include "stats.h"

struct event_base;
struct event;
struct conn;
struct server;
struct batch;
struct puller;
struct http_server;
struct auth;
struct worker_metrics;

struct worker {
    struct server *srv;
    unsigned id;
    pthread_t thread;
    struct event_base *base;
    int notify_rd;
    int notify_wr;
    struct event *ev_notify;
    struct event *ev_deadline; /* shutdown timeout */
    pthread_mutex_t lock;      /* guards the hand-off queue below */
    int *pending_fds;
    size_t npending;
    size_t pending_cap;
    bool stopping;
    struct conn *conns; /* doubly linked list of this worker's clients */
    uint64_t nconns;
    struct node_stats stats;
    struct worker_metrics *metrics; /* per-command figures, hot keys */
    /* Quiescent-state counter for the batch view (qsbr.h): odd while this
     * worker runs a batch of requests; written only by this worker. */
    uint64_t batch_epoch;
};

struct server {
    struct node_options *opts; /* borrowed; CONFIG SET writes through it */
    pthread_mutex_t config_lock; /* serialises CONFIG SET and option reads */
    struct live_table *live;
    struct resp_limits limits;
    struct event_base *base;
    int listen_fd;
    struct event *ev_accept;
    struct event *ev_sigterm;
    struct event *ev_sigint;
    struct event *ev_sighup; /* reloads options and users (reconfig.h) */
    struct event *ev_expire;
    struct worker *workers;
    unsigned nworkers;
    unsigned next_worker;
    uint64_t connected_clients;    /* atomic */
    uint64_t next_client_id;       /* atomic */
    uint64_t rejected_connections; /* atomic */
    uint64_t used_memory_peak;     /* atomic */
    struct batch *batch;   /* batch tables: catalog and served view */
    struct puller *puller; /* the thread that pulls and switches them */
    uint64_t **batch_epochs; /* &workers[i].batch_epoch, then &http_epoch */
    struct http_server *http; /* /metrics and /health; NULL if off */
    struct auth *auth; /* users and passwords; workers read its table */
    int argc;          /* main()'s arguments, borrowed, for SIGHUP */
    char **argv;
    uint64_t http_epoch; /* quiescent-state counter of the HTTP thread */
    uint16_t port;                 /* the port actually bound */
    int64_t start_ms;
    char run_id[41];
    int shutting_down; /* atomic */
};

/* Binds, creates the live table and starts the workers. -1 with err. */
int server_init(struct server *srv, struct node_options *opts, char *err,
                size_t errlen);

/* Runs until SIGTERM/SIGINT and a graceful shutdown; returns 0. */
int server_run(struct server *srv);

/* Frees everything server_init() created. */
void server_deinit(struct server *srv);

/* Sums the workers' counters into *out. */
void server_sum_stats(struct server *srv, struct node_stats *out);

/* Bytes the allocator reports in use by the whole process. */
uint64_t server_used_memory(struct server *srv);

/* Called by a worker when a connection closes. */
void server_client_closed(struct server *srv);

#endif
