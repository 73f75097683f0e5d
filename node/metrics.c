/*
 * This file implements the node's request metrics and hot-key sampling
 * (metrics.h) and renders the /metrics page: it gathers every figure of
 * the node once (the workers' counters summed, the live table's and the
 * batch tables' state, memory, health), then writes them family by family
 * with prom_text.h. Every metric name, type and help text is in the tables
 * below; docs/operations.md lists them for operators.
 */
#include "metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "batch.h"
#include "health.h"
#include "live_table.h"
#include "prom_text.h"
#include "server.h"

/* ---- per-worker state ------------------------------------------------- */

static uint64_t xorshift(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* Events until the next sample: uniform in [1, 2 * every - 1], so one in
 * `every` is sampled on average and no fixed pattern of keys or commands
 * is always (or never) picked; 0 (off) if every is 0. */
static uint32_t next_countdown(struct worker_metrics *wm, uint32_t every)
{
    if (every <= 1) {
        return every;
    }
    return 1 + (uint32_t)(xorshift(&wm->rng) % (2 * every - 1));
}

uint32_t metrics_time_rearm(struct worker_metrics *wm)
{
    return next_countdown(wm, wm->time_every);
}

/* Fills the bucket lookup of wm from METRICS_BUCKET_BOUNDS_NS. */
static void bucket_lookup_init(struct worker_metrics *wm)
{
    static const uint64_t bounds[METRICS_BUCKETS - 1] =
        METRICS_BUCKET_BOUNDS_NS;
    for (size_t b = 0; b < METRICS_BUCKETS - 1; b++) {
        wm->bounds_ns[b] = bounds[b];
    }
    wm->bounds_ns[METRICS_BUCKETS - 1] = UINT64_MAX;
    for (unsigned k = 0; k < 64; k++) {
        uint64_t low = (uint64_t)1 << k;
        unsigned b = 0;
        while (wm->bounds_ns[b] < low) {
            b++;
        }
        wm->bucket_of_log2[k] = (uint8_t)b;
    }
}

int metrics_setup(struct server *srv, char *err, size_t errlen)
{
    size_t ncommands;
    const struct command *all = command_all(&ncommands);
    uint64_t every = srv->opts->hotkey_sample.num;
    uint64_t time_every = srv->opts->latency_sample.num;
    if (every > UINT32_MAX / 2 || time_every > UINT32_MAX / 2) {
        snprintf(err, errlen, "--%s %" PRIu64 " is too large",
                 every > UINT32_MAX / 2 ? "hotkey-sample" : "latency-sample",
                 every > UINT32_MAX / 2 ? every : time_every);
        return -1;
    }
    for (unsigned i = 0; i < srv->nworkers; i++) {
        struct worker_metrics *wm = calloc(1, sizeof(*wm));
        if (wm == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        srv->workers[i].metrics = wm;
        wm->cmds = calloc(ncommands + 1, sizeof(*wm->cmds));
        if (wm->cmds == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        wm->cmd_base = all;
        wm->unknown = ncommands;
        bucket_lookup_init(wm);
        wm->rng = 0x9e3779b97f4a7c15ULL * (i + 1) ^ (uint64_t)getpid();
        wm->hot_every = (uint32_t)every;
        wm->hot_countdown = next_countdown(wm, wm->hot_every);
        wm->time_every = (uint32_t)time_every;
        wm->time_countdown = next_countdown(wm, wm->time_every);
        pthread_mutex_init(&wm->hot_lock, NULL);
        hotkeys_init(&wm->hot);
    }
    return 0;
}

void metrics_teardown(struct server *srv)
{
    for (unsigned i = 0; srv->workers != NULL && i < srv->nworkers; i++) {
        struct worker_metrics *wm = srv->workers[i].metrics;
        if (wm == NULL) {
            continue;
        }
        if (wm->cmds != NULL) {
            pthread_mutex_destroy(&wm->hot_lock);
        }
        free(wm->cmds);
        free(wm);
        srv->workers[i].metrics = NULL;
    }
}

/* Halves the sketch once per half-life passed since its last decay; the
 * hot lock is held. */
static void do_decay(struct worker_metrics *wm, int64_t now_ms)
{
    int64_t epoch = now_ms / METRICS_HOT_HALF_LIFE_MS;
    if (epoch > wm->hot_epoch) {
        int64_t d = epoch - wm->hot_epoch;
        hotkeys_decay(&wm->hot, d > 64 ? 64u : (unsigned)d);
        wm->hot_epoch = epoch;
    }
}

void metrics_hot_sample(struct worker_metrics *wm, const char *table,
                        size_t tlen, const char *key, size_t klen,
                        int64_t now_ms)
{
    wm->hot_countdown = next_countdown(wm, wm->hot_every);
    pthread_mutex_lock(&wm->hot_lock);
    do_decay(wm, now_ms);
    hotkeys_offer(&wm->hot, table, tlen, key, klen, wm->hot_every);
    pthread_mutex_unlock(&wm->hot_lock);
}

uint64_t metrics_rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long pages_total = 0, pages_rss = 0;
    if (f == NULL) {
        return 0;
    }
    if (fscanf(f, "%llu %llu", &pages_total, &pages_rss) != 2) {
        pages_rss = 0;
    }
    fclose(f);
    return pages_rss * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* ---- the node's figures ----------------------------------------------- */

/* Everything /metrics reports that is one number. */
struct figures {
    struct node_stats st;
    struct live_stats ls;
    struct batch_stats bs;
    struct batch_usage usage;
    uint64_t uptime_s, start_time_s;
    uint64_t connected_clients, maxclients, rejected_connections;
    uint64_t used_memory, used_memory_peak, rss, maxmemory;
    uint64_t batch_ready, batch_degraded, batch_generation, batch_budget;
    uint64_t batch_tables;
};

/* X(name, type, help, value): the node-wide metrics without labels. */
#define NODE_FIGURES(X)                                                        \
    X("larder_uptime_seconds", PROM_GAUGE,                                     \
      "Seconds since the node started.", f->uptime_s)                          \
    X("larder_start_time_seconds", PROM_GAUGE,                                 \
      "Unix time the node started at, in seconds.", f->start_time_s)           \
    X("larder_connected_clients", PROM_GAUGE,                                  \
      "Client connections open now.", f->connected_clients)                    \
    X("larder_maxclients", PROM_GAUGE,                                         \
      "Most client connections allowed (--maxclients).", f->maxclients)        \
    X("larder_connections_received_total", PROM_COUNTER,                       \
      "Client connections accepted.", f->st.total_connections_received)        \
    X("larder_rejected_connections_total", PROM_COUNTER,                       \
      "Client connections refused at --maxclients.",                           \
      f->rejected_connections)                                                 \
    X("larder_commands_processed_total", PROM_COUNTER,                         \
      "Commands run (all commands).", f->st.total_commands_processed)          \
    X("larder_error_replies_total", PROM_COUNTER,                              \
      "Error replies sent (all commands).", f->st.total_error_replies)         \
    X("larder_protocol_errors_total", PROM_COUNTER,                            \
      "Connections closed for malformed input.", f->st.protocol_errors)        \
    X("larder_client_limit_closes_total", PROM_COUNTER,                        \
      "Connections closed for exceeding a buffer limit.",                      \
      f->st.client_limit_closes)                                               \
    X("larder_net_input_bytes_total", PROM_COUNTER,                            \
      "Bytes read from clients.", f->st.total_net_input_bytes)                 \
    X("larder_net_output_bytes_total", PROM_COUNTER,                           \
      "Bytes written to clients.", f->st.total_net_output_bytes)               \
    X("larder_keyspace_hits_total", PROM_COUNTER,                              \
      "Key lookups that found a value (live and batch tables).",               \
      f->st.keyspace_hits)                                                     \
    X("larder_keyspace_misses_total", PROM_COUNTER,                            \
      "Key lookups that found nothing (live and batch tables).",               \
      f->st.keyspace_misses)                                                   \
    X("larder_memory_used_bytes", PROM_GAUGE,                                  \
      "Bytes the allocator has handed out to the whole process.",              \
      f->used_memory)                                                          \
    X("larder_memory_peak_bytes", PROM_GAUGE,                                  \
      "Highest larder_memory_used_bytes seen.", f->used_memory_peak)           \
    X("larder_memory_rss_bytes", PROM_GAUGE,                                   \
      "Resident set size of the process.", f->rss)                             \
    X("larder_live_memory_used_bytes", PROM_GAUGE,                             \
      "Bytes charged to the live table (what --maxmemory limits).",            \
      f->ls.used_memory)                                                       \
    X("larder_maxmemory_bytes", PROM_GAUGE,                                    \
      "The live table's memory limit (--maxmemory); 0: none.", f->maxmemory)   \
    X("larder_live_keys", PROM_GAUGE, "Keys in the live table.", f->ls.keys)   \
    X("larder_live_keys_with_ttl", PROM_GAUGE,                                 \
      "Keys in the live table with an expiry time.", f->ls.keys_with_ttl)      \
    X("larder_expired_keys_total", PROM_COUNTER,                               \
      "Live keys deleted because they expired.", f->ls.expired_keys)           \
    X("larder_evicted_keys_total", PROM_COUNTER,                               \
      "Live keys evicted to stay under --maxmemory.", f->ls.evicted_keys)      \
    X("larder_batch_ready", PROM_GAUGE,                                        \
      "1 once the node serves a view of the batch tables, 0 while joining.",   \
      f->batch_ready)                                                          \
    X("larder_batch_degraded", PROM_GAUGE,                                     \
      "1 while membership is unreachable (serving the saved view).",           \
      f->batch_degraded)                                                       \
    X("larder_batch_generation", PROM_GAUGE,                                   \
      "Generation of the active map the node serves.", f->batch_generation)    \
    X("larder_batch_tables", PROM_GAUGE,                                       \
      "Batch tables with an active version.", f->batch_tables)                 \
    X("larder_batch_memory_budget_bytes", PROM_GAUGE,                          \
      "Memory for batch versions (--batch-memory).", f->batch_budget)          \
    X("larder_batch_used_bytes", PROM_GAUGE,                                   \
      "Bytes of batch segment files mapped (counted against the budget).",     \
      f->usage.used)                                                           \
    X("larder_batch_mapped_bytes", PROM_GAUGE,                                 \
      "Bytes of batch segments mapped.", f->usage.mapped)                      \
    X("larder_batch_resident_bytes", PROM_GAUGE,                               \
      "Bytes of batch segment mappings resident in RAM (mincore).",            \
      f->usage.resident)                                                       \
    X("larder_batch_locked_bytes", PROM_GAUGE,                                 \
      "Bytes of batch segments locked in RAM (mlock).", f->usage.locked)

/* X(name, type, help): per batch table, label table; values in
 * table_figures(). */
#define TABLE_FIGURES(X)                                                       \
    X("larder_table_active_version", PROM_GAUGE,                               \
      "Version of the table the node serves.")                                 \
    X("larder_table_rows", PROM_GAUGE, "Rows of the active version.")          \
    X("larder_table_bytes", PROM_GAUGE,                                        \
      "Bytes of the active version's segment files.")                          \
    X("larder_table_versions_held", PROM_GAUGE,                                \
      "Versions of the table on this node (mapped or on disk).")               \
    X("larder_version_age_seconds", PROM_GAUGE,                                \
      "Age of the active version's data: seconds since the loader built it "   \
      "(or since this node activated it, if the build time is unknown).")      \
    X("larder_table_max_age_seconds", PROM_GAUGE,                              \
      "Max age that applies to the table (its config's max_age_s, else "       \
      "--max-age); 0: none.")                                                  \
    X("larder_table_pull_duration_seconds", PROM_GAUGE,                        \
      "Seconds the active version's pull took on this node (fetch what is "    \
      "missing, verify, map, populate, lock).")                                \
    X("larder_table_load_duration_seconds", PROM_GAUGE,                        \
      "Seconds larder-load took to read, build and publish the active "        \
      "version (from its manifest; 0 if unknown).")

enum { TABLE_FIGURE_COUNT = 8 };

static void gather(struct server *srv, const struct batch_view *v,
                   const struct batch_usage *usage, int64_t now_ms,
                   struct figures *f)
{
    memset(f, 0, sizeof(*f));
    server_sum_stats(srv, &f->st);
    live_get_stats(srv->live, &f->ls);
    batch_read_stats(srv->batch, &f->bs);
    f->usage = *usage;
    f->uptime_s = now_ms > srv->start_ms
                      ? (uint64_t)(now_ms - srv->start_ms) / 1000 : 0;
    f->start_time_s = (uint64_t)srv->start_ms / 1000;
    f->connected_clients = __atomic_load_n(&srv->connected_clients,
                                           __ATOMIC_RELAXED);
    f->rejected_connections = __atomic_load_n(&srv->rejected_connections,
                                              __ATOMIC_RELAXED);
    f->used_memory = server_used_memory(srv);
    f->used_memory_peak = __atomic_load_n(&srv->used_memory_peak,
                                          __ATOMIC_RELAXED);
    if (f->used_memory > f->used_memory_peak) {
        f->used_memory_peak = f->used_memory;
    }
    f->rss = metrics_rss_bytes();
    pthread_mutex_lock(&srv->config_lock);
    f->maxmemory = srv->opts->maxmemory.num;
    f->maxclients = srv->opts->maxclients.num;
    pthread_mutex_unlock(&srv->config_lock);
    f->batch_ready = v != NULL;
    f->batch_degraded = batch_degraded(srv->batch);
    f->batch_generation = v != NULL ? v->generation : 0;
    f->batch_budget = batch_budget(srv->batch);
    for (size_t i = 0; v != NULL && i < v->ntables; i++) {
        f->batch_tables += v->tables[i].active != NULL;
    }
}

/* The table's figures in TABLE_FIGURES order (0 for those of the active
 * version when it has none). */
static void table_figures(const struct batch_vtable *t, uint64_t max_age_s,
                          int64_t now_ms, double out[TABLE_FIGURE_COUNT])
{
    const struct batch_vinfo *a = t->active;
    out[0] = a ? (double)a->version : 0;
    out[1] = a ? (double)a->rows : 0;
    out[2] = a ? (double)a->bytes : 0;
    out[3] = (double)t->nversions;
    out[4] = a ? (double)health_version_age_ms(a, now_ms) / 1000.0 : 0;
    out[5] = (double)health_max_age_s(t, max_age_s);
    out[6] = a ? (double)a->pull_ms / 1000.0 : 0;
    out[7] = a ? (double)a->load_ms / 1000.0 : 0;
}

/* Writes a bucket bound in seconds from nanoseconds, without float
 * noise: 500 -> "0.0000005", 1000000000 -> "1". */
static void bound_text(uint64_t ns, char *out, size_t outlen)
{
    uint64_t s = ns / 1000000000u, frac = ns % 1000000000u;
    if (frac == 0) {
        snprintf(out, outlen, "%" PRIu64, s);
        return;
    }
    char digits[10];
    snprintf(digits, sizeof(digits), "%09" PRIu64, frac);
    size_t n = 9;
    while (n > 0 && digits[n - 1] == '0') {
        n--;
    }
    snprintf(out, outlen, "%" PRIu64 ".%.*s", s, (int)n, digits);
}

/* ---- rendering -------------------------------------------------------- */

static void render_figures(struct buf *b, const struct figures *f)
{
#define FIGURE_WRITE(name, type, help, value)                                  \
    prom_family(b, name, type, help);                                          \
    prom_sample_u64(b, name, NULL, 0, value);
    NODE_FIGURES(FIGURE_WRITE)
#undef FIGURE_WRITE
#define BATCH_COUNTER_WRITE(field, help)                                       \
    prom_family(b, "larder_" #field, PROM_COUNTER, help);                      \
    prom_sample_u64(b, "larder_" #field, NULL, 0, f->bs.field);
    BATCH_METRICS(BATCH_COUNTER_WRITE)
#undef BATCH_COUNTER_WRITE
}

static void render_health(struct buf *b, const struct health_report *h)
{
    static const char name[] = "larder_health_status";
    prom_family(b, name, PROM_GAUGE,
                "1 for the node's health state (as /health), 0 for the "
                "others.");
    for (int s = HEALTH_OK; s < HEALTH_STATES; s++) {
        const char *state = health_state_name((enum health_state)s);
        struct prom_label l = {"status", state, strlen(state)};
        prom_sample_u64(b, name, &l, 1, h->state == (enum health_state)s);
    }
}

/* The command counters summed over workers: sums[i] for command index i,
 * the last one for unknown commands. */
static struct cmd_metrics *sum_commands(struct server *srv, size_t nslots)
{
    struct cmd_metrics *sums = calloc(nslots, sizeof(*sums));
    if (sums == NULL) {
        return NULL;
    }
    size_t nfields = sizeof(struct cmd_metrics) / sizeof(uint64_t);
    for (unsigned w = 0; w < srv->nworkers; w++) {
        const struct worker_metrics *wm = srv->workers[w].metrics;
        for (size_t i = 0; i < nslots; i++) {
            const uint64_t *src = (const uint64_t *)&wm->cmds[i];
            uint64_t *dst = (uint64_t *)&sums[i];
            for (size_t k = 0; k < nfields; k++) {
                dst[k] += __atomic_load_n(&src[k], __ATOMIC_RELAXED);
            }
        }
    }
    return sums;
}

/* Timed requests of a command: every one landed in a bucket. */
static uint64_t timed_of(const struct cmd_metrics *m)
{
    uint64_t n = 0;
    for (size_t k = 0; k < METRICS_BUCKETS; k++) {
        n += m->buckets[k];
    }
    return n;
}

static void render_commands(struct buf *b, struct server *srv)
{
    static const uint64_t bounds[METRICS_BUCKETS - 1] =
        METRICS_BUCKET_BOUNDS_NS;
    size_t ncommands;
    const struct command *all = command_all(&ncommands);
    struct cmd_metrics *sums = sum_commands(srv, ncommands + 1);
    if (sums == NULL) {
        b->failed = true;
        return;
    }
    static const char calls[] = "larder_commands_total";
    static const char errors[] = "larder_command_errors_total";
    static const char hist[] = "larder_command_duration_seconds";
    prom_family(b, calls, PROM_COUNTER,
                "Requests by command (\"unknown\": not a command).");
    for (size_t i = 0; i <= ncommands; i++) {
        const char *name = i < ncommands ? all[i].name : "unknown";
        struct prom_label l = {"command", name, strlen(name)};
        prom_sample_u64(b, calls, &l, 1, sums[i].calls);
    }
    prom_family(b, errors, PROM_COUNTER,
                "Requests answered with an error reply, by command.");
    for (size_t i = 0; i <= ncommands; i++) {
        const char *name = i < ncommands ? all[i].name : "unknown";
        struct prom_label l = {"command", name, strlen(name)};
        prom_sample_u64(b, errors, &l, 1, sums[i].errors);
    }
    prom_family(b, hist, PROM_HISTOGRAM,
                "Time a worker spent running a request and encoding its "
                "reply, by command, for one request in --latency-sample; "
                "commands never timed are left out.");
    for (size_t i = 0; i <= ncommands; i++) {
        uint64_t n = timed_of(&sums[i]);
        if (n == 0) {
            continue;
        }
        const char *name = i < ncommands ? all[i].name : "unknown";
        struct prom_label l[2] = {{"command", name, strlen(name)},
                                  {"le", NULL, 0}};
        uint64_t cumulative = 0;
        for (size_t k = 0; k < METRICS_BUCKETS; k++) {
            char le[32];
            if (k < METRICS_BUCKETS - 1) {
                bound_text(bounds[k], le, sizeof(le));
            } else {
                snprintf(le, sizeof(le), "+Inf");
            }
            cumulative += sums[i].buckets[k];
            l[1].value = le;
            l[1].len = strlen(le);
            prom_sample_u64(b, "larder_command_duration_seconds_bucket", l, 2,
                            cumulative);
        }
        prom_sample_double(b, "larder_command_duration_seconds_sum", l, 1,
                           (double)sums[i].sum_ns / 1e9);
        prom_sample_u64(b, "larder_command_duration_seconds_count", l, 1, n);
    }
    free(sums);
}

static void render_tables(struct buf *b, struct server *srv,
                          const struct batch_view *v, int64_t now_ms)
{
    pthread_mutex_lock(&srv->config_lock);
    uint64_t max_age = srv->opts->max_age.num;
    pthread_mutex_unlock(&srv->config_lock);
    static const char *const names[TABLE_FIGURE_COUNT] = {
#define TABLE_NAME(name, type, help) name,
        TABLE_FIGURES(TABLE_NAME)
#undef TABLE_NAME
    };
    static const enum prom_type types[TABLE_FIGURE_COUNT] = {
#define TABLE_TYPE(name, type, help) type,
        TABLE_FIGURES(TABLE_TYPE)
#undef TABLE_TYPE
    };
    static const char *const helps[TABLE_FIGURE_COUNT] = {
#define TABLE_HELP(name, type, help) help,
        TABLE_FIGURES(TABLE_HELP)
#undef TABLE_HELP
    };
    size_t ntables = v != NULL ? v->ntables : 0;
    double(*vals)[TABLE_FIGURE_COUNT] =
        calloc(ntables ? ntables : 1, sizeof(*vals));
    if (vals == NULL) {
        b->failed = true;
        return;
    }
    for (size_t i = 0; i < ntables; i++) {
        table_figures(&v->tables[i], max_age, now_ms, vals[i]);
    }
    for (size_t k = 0; k < TABLE_FIGURE_COUNT; k++) {
        prom_family(b, names[k], types[k], helps[k]);
        for (size_t i = 0; i < ntables; i++) {
            const struct batch_vtable *t = &v->tables[i];
            struct prom_label l = {"table", t->name, strlen(t->name)};
            prom_sample_double(b, names[k], &l, 1, vals[i][k]);
        }
    }
    free(vals);
}

static void render_hot_keys(struct buf *b, struct server *srv, int64_t now_ms)
{
    static const char name[] = "larder_hot_key_requests";
    prom_family(b, name, PROM_GAUGE,
                "Estimated reads of the node's most read keys (GET, MGET, "
                "T.GET, T.MGET; sampled, halving every minute), by table and "
                "key. Keys are shown printable: \\\\ for a backslash, \\xHH "
                "for other bytes, ... after the first 64 bytes.");
    struct hotkeys *copies = malloc(srv->nworkers * sizeof(*copies));
    const struct hotkeys **parts = malloc(srv->nworkers * sizeof(*parts));
    struct hotkey top[METRICS_HOT_EXPORT];
    if (copies == NULL || parts == NULL) {
        free(copies);
        free(parts);
        b->failed = true;
        return;
    }
    for (unsigned w = 0; w < srv->nworkers; w++) {
        struct worker_metrics *wm = srv->workers[w].metrics;
        pthread_mutex_lock(&wm->hot_lock);
        do_decay(wm, now_ms);
        copies[w] = wm->hot;
        pthread_mutex_unlock(&wm->hot_lock);
        parts[w] = &copies[w];
    }
    size_t n = hotkeys_merge(parts, srv->nworkers, top, METRICS_HOT_EXPORT);
    struct buf key = {0};
    for (size_t i = 0; i < n; i++) {
        key.len = 0;
        prom_printable(&key, top[i].key, top[i].klen);
        if (top[i].truncated) {
            buf_append_str(&key, "...");
        }
        struct prom_label l[2] = {
            {"table", top[i].table, top[i].tlen},
            {"key", key.data ? key.data : "", key.len},
        };
        prom_sample_u64(b, name, l, 2, top[i].count);
    }
    if (buf_failed(&key)) {
        b->failed = true;
    }
    buf_deinit(&key);
    free(copies);
    free(parts);
}

void metrics_render(struct server *srv, const struct batch_view *v,
                    const struct batch_usage *usage, int64_t now_ms,
                    struct buf *out)
{
    struct figures f;
    gather(srv, v, usage, now_ms, &f);
    struct health_report h;
    health_check(srv, v, usage, now_ms, &h);
    render_figures(out, &f);
    render_health(out, &h);
    render_commands(out, srv);
    render_tables(out, srv, v, now_ms);
    render_hot_keys(out, srv, now_ms);
}
