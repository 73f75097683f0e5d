/*
 * This file implements the batch-table commands — T.GET, T.MGET, T.INFO,
 * LARDER.ACTIVE, LARDER.VERSIONS, LARDER.VIEW, LARDER.DRAIN — and the
 * "# Batch" section of INFO.
 *
 * Every command reads one view (batch_current()) for its whole run: the
 * worker is inside a read section (qsbr.h) while it runs commands, so the
 * view and its segments stay valid without a lock, and a multi-key read
 * sees one version of one table. Values are copied from the mapping into
 * the reply buffer.
 *
 * Errors: -NOTABLE (no active version), -NOVERSION (a pinned version this
 * node does not hold mapped), -BUSY (the node is still loading its first
 * view), -ERR (syntax), and in a cluster -WRONGNODE <partition> <ip:port>
 * when a key's partition of the version read is held by other nodes (the
 * address is one of them, chosen by the puller: node/ownership.h), or
 * -NOREPLICA when the node knows no other holder. T.MGET stays atomic:
 * if any key's partition is not held here, the whole command answers
 * -WRONGNODE for the first such key, and a client splits its keys by
 * partition.
 *
 * T.GET and T.MGET also read the live table "default" when no batch table
 * has that name, so the same client code works for both kinds.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "batch.h"
#include "command.h"
#include "conn.h"
#include "health.h"
#include "live_table.h"
#include "metrics.h"
#include "puller.h"
#include "segment.h"
#include "server.h"

/*
 * Under RESP3, a batch read's reply comes after an attribute naming the
 * view generation it was read from, {"view-generation": G}, so a client
 * notices a newer view on any reply; RESP2 clients see it in T.INFO,
 * INFO and -WRONGNODE's refetch.
 */
static void reply_view_attribute(struct cmd_ctx *ctx,
                                 const struct batch_view *v)
{
    /* The protocol is tested here first only to spare RESP2 reads a call. */
    if (ctx->r.proto >= 3 && reply_attribute(&ctx->r, 1)) {
        reply_bulk_str(&ctx->r, "view-generation");
        reply_int(&ctx->r, (long long)batch_view_generation(v));
    }
}

/* The view, or NULL after replying -BUSY while the node is joining. */
static const struct batch_view *view_or_busy(struct cmd_ctx *ctx)
{
    const struct batch_view *v = batch_current(ctx->srv->batch);
    if (v == NULL) {
        reply_error(&ctx->r,
                    "BUSY node is joining: batch tables are still loading");
    }
    return v;
}

/* Argument i's length as a table name, not yet checked but for that;
 * replies -ERR and returns false if it is wrong. */
static bool table_name_len(struct cmd_ctx *ctx, size_t i, size_t *len)
{
    *len = cmd_len(ctx, i);
    if (*len == 0 || *len >= BATCH_NAME_MAX) {
        reply_error(&ctx->r, "ERR invalid table name");
        return false;
    }
    return true;
}

/* Copies argument i as a table name; replies -ERR and returns false if it
 * is not a valid one (so names in error replies are always printable). */
static bool table_arg(struct cmd_ctx *ctx, size_t i, char name[BATCH_NAME_MAX])
{
    size_t len;
    if (!table_name_len(ctx, i, &len)) {
        return false;
    }
    memcpy(name, cmd_arg(ctx, i), len);
    name[len] = '\0';
    if (!batch_valid_table_name(name)) {
        reply_error(&ctx->r, "ERR invalid table name");
        return false;
    }
    return true;
}

/*
 * The batch table argument i (len bytes) names in v, or NULL; *name is
 * then the table's name, or (NULL) a copy of the argument in buf. The
 * name is checked only when no table has it (a table's own name is
 * valid): *bad is then set, after replying -ERR, for an invalid one, so
 * names in error replies are always printable. The reads' fast path: the
 * argument is not copied when a table has it.
 */
static const struct batch_vtable *find_table(struct cmd_ctx *ctx,
                                             const struct batch_view *v,
                                             size_t i, size_t len,
                                             char buf[BATCH_NAME_MAX],
                                             const char **name, bool *bad)
{
    const char *arg = cmd_arg(ctx, i);
    const struct batch_vtable *t = batch_view_table(v, arg, len);
    *bad = false;
    if (t != NULL) {
        *name = t->name;
        return t;
    }
    memcpy(buf, arg, len);
    buf[len] = '\0';
    *name = buf;
    *bad = !batch_valid_table_name(buf);
    if (*bad) {
        reply_error(&ctx->r, "ERR invalid table name");
    }
    return NULL;
}

/* Parses argument i as a version number (> 0). */
static bool version_arg(struct cmd_ctx *ctx, size_t i, uint64_t *out)
{
    long long v;
    if (!cmd_int(ctx, i, &v) || v <= 0) {
        reply_error(&ctx->r, "ERR VERSION must be a positive integer");
        return false;
    }
    *out = (uint64_t)v;
    return true;
}

/*
 * The version a read uses: the pinned one if pinned, else the active one.
 * NULL after replying -NOTABLE or -NOVERSION.
 */
static const struct batch_vinfo *read_version(struct cmd_ctx *ctx,
                                              const struct batch_vtable *t,
                                              const char *name, bool pinned,
                                              uint64_t pin)
{
    if (pinned) {
        const struct batch_vinfo *vi = t ? batch_view_version(t, pin) : NULL;
        if (vi == NULL || vi->segs == NULL) {
            reply_errorf(&ctx->r, "NOVERSION version %" PRIu64
                         " of '%s' is not held", pin, name);
            return NULL;
        }
        return vi;
    }
    if (t == NULL || t->active == NULL) {
        reply_errorf(&ctx->r, "NOTABLE no active version of table '%s'", name);
        return NULL;
    }
    return t->active;
}

/*
 * The segment of vi holding the partition of a key whose hash is h
 * (xxh3-64, as the loader placed it), or NULL if that partition is not
 * held here; *part is the partition.
 */
static const struct segment *key_segment(const struct batch_vinfo *vi,
                                         uint64_t h, uint32_t *part)
{
    *part = (uint32_t)(h % vi->partitions);
    return vi->segs != NULL ? vi->segs[*part] : NULL;
}

/* Sends the client to the node the view names for partition part. */
static void reply_wrongnode(struct cmd_ctx *ctx, const struct batch_view *v,
                            const struct batch_vinfo *vi, const char *name,
                            uint32_t part)
{
    uint32_t r = vi->route != NULL ? vi->route[part] : BATCH_NO_ROUTE;
    if (r < v->nnodes && v->nodes[r].addr[0] != '\0') {
        reply_errorf(&ctx->r, "WRONGNODE %" PRIu32 " %s", part,
                     v->nodes[r].addr);
    } else {
        reply_errorf(&ctx->r, "NOREPLICA no known node holds partition %"
                     PRIu32 " of '%s' version %" PRIu64, part, name,
                     vi->version);
    }
}

/* Offers argument i, a key read from table `name` (nlen bytes), to the
 * hot-key sketch. */
static void note_read(struct cmd_ctx *ctx, const char *name, size_t nlen,
                      size_t i)
{
    struct worker_metrics *wm = ctx->w->metrics;
    if (metrics_hot_due(wm)) {
        metrics_hot_sample(wm, name, nlen, cmd_arg(ctx, i), cmd_len(ctx, i),
                           ctx->now_ms);
    }
}

static void count_lookup(struct cmd_ctx *ctx, bool hit)
{
    if (hit) {
        STAT_ADD(&ctx->w->stats, keyspace_hits, 1);
    } else {
        STAT_ADD(&ctx->w->stats, keyspace_misses, 1);
    }
}

static void reply_live_value(void *arg, const char *value, size_t len)
{
    reply_bulk(arg, value, len);
}

static void reply_live_value_or_null(void *arg, const char *value, size_t len)
{
    if (value != NULL) {
        reply_bulk(arg, value, len);
    } else {
        reply_null(arg);
    }
}

/* True if reads of `name` go to the live table (no batch table has it). */
static bool is_live(const struct batch_vtable *t, const char *name)
{
    return t == NULL && strcmp(name, LIVE_TABLE_NAME) == 0;
}

void cmd_tget(struct cmd_ctx *ctx)
{
    char buf[BATCH_NAME_MAX];
    const char *name;
    bool pinned = ctx->argc == 5 && cmd_is(ctx, 3, "version");
    uint64_t pin = 0;
    if (ctx->argc != 3 && !pinned) {
        reply_error(&ctx->r, ctx->argc == 5 ? "ERR syntax error"
                                            : "ERR wrong number of arguments "
                                              "for 't.get' command");
        return;
    }
    size_t nlen;
    if (!table_name_len(ctx, 1, &nlen) ||
        (pinned && !version_arg(ctx, 4, &pin))) {
        return;
    }
    const struct batch_view *v = view_or_busy(ctx);
    if (v == NULL) {
        return;
    }
    bool bad;
    const struct batch_vtable *t =
        find_table(ctx, v, 1, nlen, buf, &name, &bad);
    if (bad) {
        return;
    }
    if (is_live(t, name)) {
        if (pinned) {
            reply_error(&ctx->r, "ERR VERSION applies to batch tables only");
            return;
        }
        enum live_status st = live_get(ctx->srv->live, cmd_arg(ctx, 2),
                                       cmd_len(ctx, 2), ctx->now_ms,
                                       reply_live_value, &ctx->r);
        if (st != LIVE_OK) {
            reply_null(&ctx->r);
        }
        count_lookup(ctx, st == LIVE_OK);
        note_read(ctx, name, nlen, 2);
        return;
    }
    const struct batch_vinfo *vi = read_version(ctx, t, name, pinned, pin);
    if (vi == NULL) {
        return;
    }
    const char *key = cmd_arg(ctx, 2);
    size_t klen = cmd_len(ctx, 2);
    uint64_t h = XXH3_64bits(key, klen);
    uint32_t part;
    const struct segment *s = key_segment(vi, h, &part);
    if (s == NULL) {
        reply_wrongnode(ctx, v, vi, name, part);
        return;
    }
    const char *value;
    size_t vlen;
    bool hit = segment_get(s, key, klen, h, &value, &vlen);
    reply_view_attribute(ctx, v);
    if (hit) {
        reply_bulk(&ctx->r, value, vlen);
    } else {
        reply_null(&ctx->r);
    }
    count_lookup(ctx, hit);
    note_read(ctx, name, nlen, 2);
}

/* T.MGET on the live table: one snapshot through live_mget(). */
static void tmget_live(struct cmd_ctx *ctx, size_t nkeys)
{
    const char *stack_keys[64];
    size_t stack_lens[64];
    const char **keys = stack_keys;
    size_t *lens = stack_lens;
    if (nkeys > 64) {
        keys = malloc(nkeys * sizeof(*keys));
        lens = malloc(nkeys * sizeof(*lens));
        if (keys == NULL || lens == NULL) {
            free(keys);
            free(lens);
            reply_error(&ctx->r, "ERR out of memory");
            return;
        }
    }
    for (size_t i = 0; i < nkeys; i++) {
        keys[i] = cmd_arg(ctx, 2 + i);
        lens[i] = cmd_len(ctx, 2 + i);
        note_read(ctx, LIVE_TABLE_NAME, strlen(LIVE_TABLE_NAME), 2 + i);
    }
    reply_array(&ctx->r, nkeys);
    size_t hits = live_mget(ctx->srv->live, keys, lens, nkeys, ctx->now_ms,
                            reply_live_value_or_null, &ctx->r);
    STAT_ADD(&ctx->w->stats, keyspace_hits, hits);
    STAT_ADD(&ctx->w->stats, keyspace_misses, nkeys - hits);
    if (keys != stack_keys) {
        free(keys);
        free(lens);
    }
}

void cmd_tmget(struct cmd_ctx *ctx)
{
    char buf[BATCH_NAME_MAX];
    const char *name;
    size_t nkeys = ctx->argc - 2;
    bool pinned = false;
    uint64_t pin = 0;
    if (ctx->argc >= 5 && cmd_is(ctx, ctx->argc - 2, "version")) {
        /* A key literally named VERSION cannot be the penultimate
         * argument: it is read as the VERSION option. */
        pinned = true;
        nkeys -= 2;
    }
    size_t nlen;
    if (!table_name_len(ctx, 1, &nlen) ||
        (pinned && !version_arg(ctx, ctx->argc - 1, &pin))) {
        return;
    }
    const struct batch_view *v = view_or_busy(ctx);
    if (v == NULL) {
        return;
    }
    bool bad;
    const struct batch_vtable *t =
        find_table(ctx, v, 1, nlen, buf, &name, &bad);
    if (bad) {
        return;
    }
    if (is_live(t, name)) {
        if (pinned) {
            reply_error(&ctx->r, "ERR VERSION applies to batch tables only");
        } else {
            tmget_live(ctx, nkeys);
        }
        return;
    }
    const struct batch_vinfo *vi = read_version(ctx, t, name, pinned, pin);
    if (vi == NULL) {
        return;
    }
    if (vi->held_partitions < vi->partitions) {
        for (size_t i = 0; i < nkeys; i++) {
            uint32_t part;
            uint64_t h = XXH3_64bits(cmd_arg(ctx, 2 + i), cmd_len(ctx, 2 + i));
            if (key_segment(vi, h, &part) == NULL) {
                reply_wrongnode(ctx, v, vi, name, part);
                return;
            }
        }
    }
    uint64_t hits = 0;
    reply_view_attribute(ctx, v);
    reply_array(&ctx->r, nkeys);
    for (size_t i = 0; i < nkeys; i++) {
        const char *key = cmd_arg(ctx, 2 + i);
        size_t klen = cmd_len(ctx, 2 + i);
        uint64_t h = XXH3_64bits(key, klen);
        uint32_t part;
        const struct segment *s = key_segment(vi, h, &part);
        const char *value;
        size_t vlen;
        if (s != NULL && segment_get(s, key, klen, h, &value, &vlen)) {
            reply_bulk(&ctx->r, value, vlen);
            hits++;
        } else {
            reply_null(&ctx->r);
        }
        note_read(ctx, name, nlen, 2 + i);
    }
    STAT_ADD(&ctx->w->stats, keyspace_hits, hits);
    STAT_ADD(&ctx->w->stats, keyspace_misses, nkeys - hits);
}

/* One version as a map: version, state, rows, bytes, partitions, times. */
static void reply_vinfo(struct reply *r, const struct batch_vinfo *vi)
{
    reply_map(r, 9);
    reply_bulk_str(r, "version");
    reply_int(r, (long long)vi->version);
    reply_bulk_str(r, "state");
    reply_bulk_str(r, batch_fate_name(vi->state));
    reply_bulk_str(r, "rows");
    reply_int(r, (long long)vi->rows);
    reply_bulk_str(r, "bytes");
    reply_int(r, (long long)vi->bytes);
    reply_bulk_str(r, "partitions");
    reply_int(r, (long long)vi->partitions);
    reply_bulk_str(r, "loaded_at_ms");
    reply_int(r, vi->loaded_ms);
    reply_bulk_str(r, "activated_at_ms");
    reply_int(r, vi->activated_ms);
    reply_bulk_str(r, "last_active_ms");
    reply_int(r, vi->last_active_ms);
    reply_bulk_str(r, "held_partitions");
    reply_int(r, (long long)vi->held_partitions);
}

void cmd_tinfo(struct cmd_ctx *ctx)
{
    char name[BATCH_NAME_MAX];
    if (!table_arg(ctx, 1, name)) {
        return;
    }
    const struct batch_view *v = view_or_busy(ctx);
    if (v == NULL) {
        return;
    }
    const struct batch_vtable *t = batch_view_table(v, name, strlen(name));
    if (is_live(t, name)) {
        reply_map(&ctx->r, 3);
        reply_bulk_str(&ctx->r, "table");
        reply_bulk_str(&ctx->r, name);
        reply_bulk_str(&ctx->r, "kind");
        reply_bulk_str(&ctx->r, "live");
        reply_bulk_str(&ctx->r, "keys");
        reply_int(&ctx->r, (long long)live_count(ctx->srv->live));
        return;
    }
    if (t == NULL) {
        reply_errorf(&ctx->r, "NOTABLE no version of table '%s' is held",
                     name);
        return;
    }
    const struct batch_vinfo *a = t->active;
    reply_map(&ctx->r, 13);
    reply_bulk_str(&ctx->r, "table");
    reply_bulk_str(&ctx->r, name);
    reply_bulk_str(&ctx->r, "kind");
    reply_bulk_str(&ctx->r, "batch");
    reply_bulk_str(&ctx->r, "generation");
    reply_int(&ctx->r, (long long)v->generation);
    reply_bulk_str(&ctx->r, "view_generation");
    reply_int(&ctx->r, (long long)batch_view_generation(v));
    reply_bulk_str(&ctx->r, "held_partitions");
    reply_int(&ctx->r, a ? (long long)a->held_partitions : 0);
    reply_bulk_str(&ctx->r, "held_bytes");
    reply_int(&ctx->r, a ? (long long)a->held_bytes : 0);
    reply_bulk_str(&ctx->r, "active_version");
    if (a != NULL) {
        reply_int(&ctx->r, (long long)a->version);
    } else {
        reply_null(&ctx->r);
    }
    reply_bulk_str(&ctx->r, "partitions");
    reply_int(&ctx->r, a ? (long long)a->partitions : 0);
    reply_bulk_str(&ctx->r, "rows");
    reply_int(&ctx->r, a ? (long long)a->rows : 0);
    reply_bulk_str(&ctx->r, "bytes");
    reply_int(&ctx->r, a ? (long long)a->bytes : 0);
    reply_bulk_str(&ctx->r, "loaded_at_ms");
    reply_int(&ctx->r, a ? a->loaded_ms : 0);
    reply_bulk_str(&ctx->r, "activated_at_ms");
    reply_int(&ctx->r, a ? a->activated_ms : 0);
    reply_bulk_str(&ctx->r, "versions");
    reply_array(&ctx->r, t->nversions);
    for (size_t i = 0; i < t->nversions; i++) {
        reply_vinfo(&ctx->r, &t->versions[i]);
    }
}

void cmd_larder_active(struct cmd_ctx *ctx)
{
    const struct batch_view *v = view_or_busy(ctx);
    if (v == NULL) {
        return;
    }
    size_t nactive = 0;
    for (size_t i = 0; i < v->ntables; i++) {
        nactive += v->tables[i].active != NULL;
    }
    reply_map(&ctx->r, 4);
    reply_bulk_str(&ctx->r, "generation");
    reply_int(&ctx->r, (long long)v->generation);
    reply_bulk_str(&ctx->r, "changed_ms");
    reply_int(&ctx->r, v->changed_ms);
    reply_bulk_str(&ctx->r, "degraded");
    reply_int(&ctx->r, batch_degraded(ctx->srv->batch));
    reply_bulk_str(&ctx->r, "tables");
    reply_map(&ctx->r, nactive);
    for (size_t i = 0; i < v->ntables; i++) {
        if (v->tables[i].active != NULL) {
            reply_bulk_str(&ctx->r, v->tables[i].name);
            reply_int(&ctx->r, (long long)v->tables[i].active->version);
        }
    }
}

/* Parses argument i as an unsigned 64-bit decimal number. */
static bool u64_arg(struct cmd_ctx *ctx, size_t i, uint64_t *out)
{
    const char *p = cmd_arg(ctx, i);
    size_t len = cmd_len(ctx, i);
    uint64_t v = 0;
    if (len == 0 || len > 20) {
        return false;
    }
    for (size_t k = 0; k < len; k++) {
        unsigned d = (unsigned)(p[k] - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10) {
            return false;
        }
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

void cmd_larder_view(struct cmd_ctx *ctx)
{
    uint64_t since = 0;
    bool has_since = ctx->argc == 3 && cmd_is(ctx, 1, "since");
    if (ctx->argc != 1 && !has_since) {
        reply_error(&ctx->r, "ERR syntax: LARDER.VIEW [SINCE generation]");
        return;
    }
    if (has_since && !u64_arg(ctx, 2, &since)) {
        reply_error(&ctx->r, "ERR SINCE needs a view generation (an "
                             "unsigned integer)");
        return;
    }
    const struct batch_view *v = view_or_busy(ctx);
    if (v == NULL) {
        return;
    }
    if (has_since && since == batch_view_generation(v)) {
        reply_null(&ctx->r);
    } else if (v->description == NULL) {
        reply_error(&ctx->r, "ERR the view could not be described (out of "
                             "memory); try again");
    } else {
        reply_bulk_str(&ctx->r, v->description);
    }
}

void cmd_larder_drain(struct cmd_ctx *ctx)
{
    bool on = true;
    if (ctx->argc == 2 && cmd_is(ctx, 1, "off")) {
        on = false;
    } else if (ctx->argc > 2 || (ctx->argc == 2 && !cmd_is(ctx, 1, "on"))) {
        reply_error(&ctx->r, "ERR syntax: LARDER.DRAIN [ON|OFF]");
        return;
    }
    puller_set_drain(ctx->srv->puller, on);
    reply_status(&ctx->r, "OK");
}

void cmd_larder_versions(struct cmd_ctx *ctx)
{
    char name[BATCH_NAME_MAX];
    if (!table_arg(ctx, 1, name)) {
        return;
    }
    const struct batch_view *v = view_or_busy(ctx);
    if (v == NULL) {
        return;
    }
    const struct batch_vtable *t = batch_view_table(v, name, strlen(name));
    if (t == NULL) {
        reply_array(&ctx->r, 0);
        return;
    }
    reply_array(&ctx->r, t->nversions);
    for (size_t i = 0; i < t->nversions; i++) {
        reply_vinfo(&ctx->r, &t->versions[i]);
    }
}

void cmd_batch_info(struct cmd_ctx *ctx, struct buf *b)
{
    struct batch *batch = ctx->srv->batch;
    const struct batch_view *v = batch_current(batch);
    uint64_t ntables = 0;
    for (size_t i = 0; v != NULL && i < v->ntables; i++) {
        ntables += v->tables[i].active != NULL;
    }
    struct batch_usage u;
    batch_view_usage(v, &u);
    struct health_report h;
    health_check(ctx->srv, v, &u, ctx->now_ms, &h);
    struct batch_stats st;
    batch_read_stats(batch, &st);
    buf_printf(b,
               "# Batch\r\n"
               "batch_state:%s\r\n"
               "batch_degraded:%d\r\n"
               "batch_generation:%" PRIu64 "\r\n"
               "batch_memory:%" PRIu64 "\r\n"
               "batch_used_bytes:%" PRIu64 "\r\n"
               "batch_mapped_bytes:%" PRIu64 "\r\n"
               "batch_resident_bytes:%" PRIu64 "\r\n"
               "batch_locked_bytes:%" PRIu64 "\r\n"
               "batch_tables:%" PRIu64 "\r\n"
               "view_generation:%" PRIu64 "\r\n"
               "draining:%d\r\n"
               "health:%s\r\n",
               v != NULL ? "ready" : "joining", batch_degraded(batch) ? 1 : 0,
               v != NULL ? v->generation : 0, batch_budget(batch), u.used,
               u.mapped, u.resident, u.locked, ntables,
               v != NULL ? batch_view_generation(v) : 0,
               puller_draining(ctx->srv->puller) ? 1 : 0,
               health_state_name(h.state));
    buf_append_str(b, "health_reasons:");
    for (size_t i = 0; i < h.nreasons; i++) {
        buf_printf(b, "%s%s", i ? "; " : "", h.reasons[i]);
    }
    if (h.nomitted > 0) {
        buf_printf(b, "; and %zu more", h.nomitted);
    }
    buf_append_str(b, "\r\n");
#define BATCH_METRIC_PRINT(name, help) \
    buf_printf(b, #name ":%" PRIu64 "\r\n", st.name);
    BATCH_METRICS(BATCH_METRIC_PRINT)
#undef BATCH_METRIC_PRINT
    pthread_mutex_lock(&ctx->srv->config_lock);
    uint64_t max_age = ctx->srv->opts->max_age.num;
    pthread_mutex_unlock(&ctx->srv->config_lock);
    for (size_t i = 0; v != NULL && i < v->ntables; i++) {
        const struct batch_vtable *t = &v->tables[i];
        const struct batch_vinfo *a = t->active;
        buf_printf(b,
                   "table_%s:active_version=%" PRIu64 ",rows=%" PRIu64
                   ",bytes=%" PRIu64 ",held_partitions=%" PRIu32
                   ",held_rows=%" PRIu64 ",versions=%zu,version_age_seconds=%"
                   PRId64 ",max_age_seconds=%" PRIu64 ",pull_ms=%" PRId64
                   ",load_ms=%" PRId64 "\r\n",
                   t->name, a ? a->version : 0, a ? a->rows : 0,
                   a ? a->bytes : 0, a ? a->held_partitions : 0,
                   a ? a->held_rows : 0, t->nversions,
                   a ? health_version_age_ms(a, ctx->now_ms) / 1000 : 0,
                   health_max_age_s(t, max_age), a ? a->pull_ms : 0,
                   a ? a->load_ms : 0);
    }
    buf_append_str(b, "\r\n");
}
