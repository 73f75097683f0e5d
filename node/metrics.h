/*
 * metrics.h: what a node measures per request — calls, error replies and a
 * latency histogram per command, and a sample of the keys it reads (the
 * hot-key sketch) — and the /metrics page that reports them with every
 * other figure of the node in the Prometheus text format.
 *
 * Per-worker state, one writer. Each worker owns a struct worker_metrics
 * and is the only writer of its counters (relaxed atomic stores, as
 * stats.h); a scrape sums them with relaxed loads. The hot-key sketch is
 * the one shared structure: a worker takes its own sketch's mutex only for
 * a sampled read (one in --hotkey-sample), and a scrape takes it to copy
 * the sketch, so the mutex is practically never contended.
 *
 * Every request is counted (calls and errors per command). Latency is
 * measured on one request in --latency-sample (a random countdown per
 * worker; 1: every request), with CLOCK_MONOTONIC read just before and
 * just after the command runs: it covers running the command and encoding
 * its reply, not parsing, the network or the time queued in the socket.
 * A clock read costs tens of nanoseconds, a pipelined GET a few hundred,
 * hence the sampling. The histogram buckets are fixed
 * (METRICS_BUCKET_BOUNDS_NS); its _count is the number of timed requests.
 *
 * Hot keys: GET, MGET, T.GET and T.MGET offer each key they read with
 * probability 1/--hotkey-sample (a random countdown per worker, so a
 * sampled key costs a hash and a pass over HOTKEYS_K counters, and an
 * unsampled one a decrement). Each sample counts --hotkey-sample reads, so
 * counts estimate reads. Counts halve every METRICS_HOT_HALF_LIFE_MS, so
 * the list follows the current load.
 */
#ifndef LARDER_METRICS_H
#define LARDER_METRICS_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "batch_view.h"
#include "buf.h"
#include "command.h"
#include "hotkeys.h"
#include "stats.h"

struct server;

/* Upper bounds of the latency buckets, in nanoseconds: 0.5 µs to 1 s; a
 * last bucket (+Inf) takes the rest. Consecutive bounds are at least a
 * factor 2 apart, so a power-of-two range holds at most one of them
 * (metrics_observe() relies on it). */
#define METRICS_BUCKET_BOUNDS_NS                                               \
    {500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,      \
     1000000, 2500000, 5000000, 10000000, 25000000, 50000000, 100000000,      \
     250000000, 500000000, 1000000000}
#define METRICS_BUCKETS 21 /* the bounds above and +Inf */

/* Hot-key counts halve this often. */
#define METRICS_HOT_HALF_LIFE_MS 60000

/* Hot keys exported by /metrics. */
#define METRICS_HOT_EXPORT HOTKEYS_K

/* One command's counters on one worker. */
struct cmd_metrics {
    uint64_t calls;
    uint64_t errors;  /* calls answered with an error reply */
    uint64_t sum_ns;  /* total latency of the timed calls */
    uint64_t buckets[METRICS_BUCKETS]; /* timed calls; not cumulative */
};

struct worker_metrics {
    struct cmd_metrics *cmds; /* by command table index; the last one
                                 counts unknown commands */
    const struct command *cmd_base; /* command_all() */
    size_t unknown;                 /* index of the unknown-command slot */
    uint64_t bounds_ns[METRICS_BUCKETS]; /* the bounds, then UINT64_MAX */
    uint8_t bucket_of_log2[64]; /* first bucket whose bound >= 2^i */
    uint32_t time_every;     /* --latency-sample */
    uint32_t time_countdown; /* requests until the next timed one */
    uint32_t hot_every;     /* --hotkey-sample; 0: off */
    uint32_t hot_countdown; /* reads until the next sample; 0: off */
    uint64_t rng;           /* xorshift state for both countdowns */
    pthread_mutex_t hot_lock; /* guards hot and hot_epoch */
    int64_t hot_epoch;        /* half-lives since 1970 of the last decay */
    struct hotkeys hot;
};

/*
 * Creates every worker's metrics (srv->workers[i].metrics) with the
 * sampling rate of srv->opts. -1 with err if out of memory.
 */
int metrics_setup(struct server *srv, char *err, size_t errlen);

/* Frees what metrics_setup() created; safe after a partial setup. */
void metrics_teardown(struct server *srv);

/* CLOCK_MONOTONIC in nanoseconds; never 0. */
static inline uint64_t metrics_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + 1;
}

/* Takes the next countdown of --latency-sample (out of line). */
uint32_t metrics_time_rearm(struct worker_metrics *wm);

/* A request is about to run: its start time if it is one to time, else 0
 * (for cmd_ctx.clock_ns). */
static inline uint64_t metrics_request_start(struct worker_metrics *wm)
{
    if (wm->time_countdown > 1) {
        wm->time_countdown--;
        return 0;
    }
    if (wm->time_countdown == 0) {
        return 0; /* timing is off */
    }
    wm->time_countdown = metrics_time_rearm(wm);
    return metrics_clock_ns();
}

/* Records the histogram observation of a timed request. */
static inline void metrics_observe(struct worker_metrics *wm,
                                   struct cmd_metrics *m, uint64_t ns)
{
    /* The one bound in [2^k, 2^(k+1)) decides between two buckets. */
    unsigned b = wm->bucket_of_log2[63 - __builtin_clzll(ns | 1)];
    b += ns > wm->bounds_ns[b];
    STAT_ADD(m, sum_ns, ns);
    STAT_ADD(m, buckets[b], 1);
}

/* Records one request that ctx ran (ctx->cmd: the command, NULL if
 * unknown; ctx->clock_ns: from metrics_request_start()), whose reply
 * started at byte `reply_at` of the output. */
static inline void metrics_request_done(struct worker_metrics *wm,
                                        const struct cmd_ctx *ctx,
                                        size_t reply_at)
{
    struct cmd_metrics *m =
        &wm->cmds[ctx->cmd != NULL ? (size_t)(ctx->cmd - wm->cmd_base)
                                   : wm->unknown];
    STAT_ADD(m, calls, 1);
    if (__builtin_expect(ctx->r.out->len > reply_at &&
                             ctx->r.out->data[reply_at] == '-', 0)) {
        STAT_ADD(m, errors, 1);
    }
    if (__builtin_expect(ctx->clock_ns != 0, 0)) {
        uint64_t now = metrics_clock_ns();
        metrics_observe(wm, m, now > ctx->clock_ns ? now - ctx->clock_ns
                                                   : 0);
    }
}

/*
 * A key is being read: true if this read is to be offered to the hot-key
 * sketch (one in --hotkey-sample), in which case the caller calls
 * metrics_hot_sample(). Split in two so an unsampled read costs only the
 * countdown, not even the arguments of the sample.
 */
static inline bool metrics_hot_due(struct worker_metrics *wm)
{
    if (wm->hot_countdown > 1) {
        wm->hot_countdown--;
        return false;
    }
    return wm->hot_countdown == 1;
}

/* Offers a read of key[0, klen) in table to the sketch (out of line). */
void metrics_hot_sample(struct worker_metrics *wm, const char *table,
                        size_t tlen, const char *key, size_t klen,
                        int64_t now_ms);

/* Resident set size of the process, from /proc/self/statm (0 if unknown). */
uint64_t metrics_rss_bytes(void);

/*
 * Appends the /metrics page: every figure of the node. v is the batch view
 * (NULL while joining) and usage its memory, both kept valid by the
 * caller; now_ms is Unix time.
 */
void metrics_render(struct server *srv, const struct batch_view *v,
                    const struct batch_usage *usage, int64_t now_ms,
                    struct buf *out);

#endif
