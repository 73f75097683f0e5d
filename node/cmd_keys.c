/*
 * This file implements the Redis string-key commands on the live table
 * "default": GET, SET, MGET, MSET, DEL, EXISTS, EXPIRE, PEXPIRE, TTL, PTTL,
 * DBSIZE and FLUSHALL/FLUSHDB.
 *
 * MSET is atomic and MGET reads a consistent snapshot, as in Redis: the
 * live table locks the shards of all their keys together. Multi-key DEL and
 * EXISTS are applied key by key: each key is atomic, the command as a whole
 * is not. Replicated live tables will refuse NX/XX later; on one node they
 * mean what Redis means.
 */
#include <limits.h>
#include <stdlib.h>

#include "command.h"
#include "conn.h"
#include "metrics.h"
#include "server.h"

#define OOM_ERROR "OOM command not allowed when used memory > 'maxmemory'."

enum {
    KEY_ARGS_ON_STACK = 128, /* MGET keys, MSET keys + values: no malloc */
};

/*
 * Pointers to and lengths of command arguments, laid out as live_mget()
 * and live_mset() take them: on the stack for up to KEY_ARGS_ON_STACK,
 * on the heap beyond.
 */
struct key_args {
    const char **ptrs;
    size_t *lens;
    const char *stack_ptrs[KEY_ARGS_ON_STACK];
    size_t stack_lens[KEY_ARGS_ON_STACK];
};

/* Makes room for n arguments; false if the heap arrays cannot be had. */
static bool key_args_init(struct key_args *a, size_t n)
{
    if (n <= KEY_ARGS_ON_STACK) {
        a->ptrs = a->stack_ptrs;
        a->lens = a->stack_lens;
        return true;
    }
    a->ptrs = malloc(n * sizeof(*a->ptrs));
    a->lens = malloc(n * sizeof(*a->lens));
    if (a->ptrs == NULL || a->lens == NULL) {
        free(a->ptrs);
        free(a->lens);
        return false;
    }
    return true;
}

static void key_args_deinit(struct key_args *a)
{
    if (a->ptrs != a->stack_ptrs) {
        free(a->ptrs);
        free(a->lens);
    }
}

/* Stores command argument arg as entry i. */
static void key_args_set(struct key_args *a, size_t i,
                         const struct cmd_ctx *ctx, size_t arg)
{
    a->ptrs[i] = cmd_arg(ctx, arg);
    a->lens[i] = cmd_len(ctx, arg);
}

/* Visitor: appends a value as a bulk reply. */
static void reply_value(void *arg, const char *value, size_t len)
{
    reply_bulk(arg, value, len);
}

/* The previous value of a key, captured by SET ... GET. */
struct old_value {
    struct buf b;
    bool found;
};

/* Visitor: keeps a copy of the old value (called under the shard lock). */
static void copy_value(void *arg, const char *value, size_t len)
{
    struct old_value *old = arg;
    old->found = true;
    buf_append(&old->b, value, len);
}

static void count_lookup(struct cmd_ctx *ctx, enum live_status st)
{
    if (st == LIVE_OK) {
        STAT_ADD(&ctx->w->stats, keyspace_hits, 1);
    } else {
        STAT_ADD(&ctx->w->stats, keyspace_misses, 1);
    }
}

/* Offers argument i, a key read from the live table, to the hot-key
 * sketch. */
static void note_read(struct cmd_ctx *ctx, size_t i)
{
    struct worker_metrics *wm = ctx->w->metrics;
    if (metrics_hot_due(wm)) {
        metrics_hot_sample(wm, LIVE_TABLE_NAME, sizeof(LIVE_TABLE_NAME) - 1,
                           cmd_arg(ctx, i), cmd_len(ctx, i), ctx->now_ms);
    }
}

void cmd_get(struct cmd_ctx *ctx)
{
    enum live_status st = live_get(ctx->srv->live, cmd_arg(ctx, 1),
                                   cmd_len(ctx, 1), ctx->now_ms, reply_value,
                                   &ctx->r);
    count_lookup(ctx, st);
    if (st != LIVE_OK) {
        reply_null(&ctx->r);
    }
    note_read(ctx, 1);
}

/* Visitor of MGET: appends a value, or a null for a missing key. */
static void reply_value_or_null(void *arg, const char *value, size_t len)
{
    if (value != NULL) {
        reply_bulk(arg, value, len);
    } else {
        reply_null(arg);
    }
}

void cmd_mget(struct cmd_ctx *ctx)
{
    size_t n = ctx->argc - 1;
    struct key_args a;
    if (!key_args_init(&a, n)) {
        reply_error(&ctx->r, OOM_ERROR);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        key_args_set(&a, i, ctx, 1 + i);
        note_read(ctx, 1 + i);
    }
    reply_array(&ctx->r, n);
    size_t hits = live_mget(ctx->srv->live, a.ptrs, a.lens, n, ctx->now_ms,
                            reply_value_or_null, &ctx->r);
    STAT_ADD(&ctx->w->stats, keyspace_hits, hits);
    STAT_ADD(&ctx->w->stats, keyspace_misses, n - hits);
    key_args_deinit(&a);
}

/*
 * Converts a relative or absolute expiry argument into absolute Unix ms.
 * unit_ms is 1000 for seconds; absolute says whether the value is already a
 * point in time. Returns false for values Redis calls invalid.
 */
static bool expiry_at(long long v, long long unit_ms, bool absolute,
                      int64_t now_ms, int64_t *at)
{
    if (v <= 0 || v > LLONG_MAX / unit_ms) {
        return false;
    }
    long long ms = v * unit_ms;
    if (absolute) {
        *at = ms;
        return true;
    }
    if (ms > LLONG_MAX - now_ms) {
        return false;
    }
    *at = now_ms + ms;
    return true;
}

void cmd_set(struct cmd_ctx *ctx)
{
    unsigned flags = 0;
    bool get = false;
    bool has_expiry = false;
    int64_t expire_at = 0;
    for (size_t i = 3; i < ctx->argc; i++) {
        long long unit = 0;
        bool absolute = false;
        if (cmd_is(ctx, i, "nx") && !(flags & LIVE_SET_XX)) {
            flags |= LIVE_SET_NX;
        } else if (cmd_is(ctx, i, "xx") && !(flags & LIVE_SET_NX)) {
            flags |= LIVE_SET_XX;
        } else if (cmd_is(ctx, i, "get")) {
            get = true;
        } else if (cmd_is(ctx, i, "keepttl") && !has_expiry) {
            flags |= LIVE_SET_KEEPTTL;
        } else if (cmd_is(ctx, i, "ex")) {
            unit = 1000;
        } else if (cmd_is(ctx, i, "px")) {
            unit = 1;
        } else if (cmd_is(ctx, i, "exat")) {
            unit = 1000;
            absolute = true;
        } else if (cmd_is(ctx, i, "pxat")) {
            unit = 1;
            absolute = true;
        } else {
            reply_error(&ctx->r, "ERR syntax error");
            return;
        }
        if (unit != 0) {
            long long v;
            if (has_expiry || (flags & LIVE_SET_KEEPTTL) || i + 1 >= ctx->argc) {
                reply_error(&ctx->r, "ERR syntax error");
                return;
            }
            i++;
            if (!cmd_int(ctx, i, &v)) {
                reply_error(&ctx->r,
                            "ERR value is not an integer or out of range");
                return;
            }
            if (!expiry_at(v, unit, absolute, ctx->now_ms, &expire_at)) {
                reply_error(&ctx->r, "ERR invalid expire time in 'set' command");
                return;
            }
            has_expiry = true;
        }
    }
    struct old_value old = {{0}, false};
    enum live_status st = live_set(ctx->srv->live, cmd_arg(ctx, 1),
                                   cmd_len(ctx, 1), cmd_arg(ctx, 2),
                                   cmd_len(ctx, 2), expire_at, flags,
                                   ctx->now_ms, get ? copy_value : NULL, &old);
    if (st == LIVE_OOM) {
        reply_error(&ctx->r, OOM_ERROR);
    } else if (get) {
        if (old.found) {
            reply_bulk(&ctx->r, old.b.data, old.b.len);
        } else {
            reply_null(&ctx->r);
        }
    } else if (st == LIVE_NOTSET) {
        reply_null(&ctx->r);
    } else {
        reply_status(&ctx->r, "OK");
    }
    buf_deinit(&old.b);
}

void cmd_mset(struct cmd_ctx *ctx)
{
    if ((ctx->argc - 1) % 2 != 0) {
        reply_error(&ctx->r, "ERR wrong number of arguments for 'mset' command");
        return;
    }
    /* Keys in entries [0, n), their values in [n, 2n). */
    size_t n = (ctx->argc - 1) / 2;
    struct key_args a;
    if (!key_args_init(&a, 2 * n)) {
        reply_error(&ctx->r, OOM_ERROR);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        key_args_set(&a, i, ctx, 1 + 2 * i);
        key_args_set(&a, n + i, ctx, 2 + 2 * i);
    }
    enum live_status st = live_mset(ctx->srv->live, a.ptrs, a.lens,
                                    a.ptrs + n, a.lens + n, n, ctx->now_ms);
    key_args_deinit(&a);
    if (st == LIVE_OOM) {
        reply_error(&ctx->r, OOM_ERROR);
    } else {
        reply_status(&ctx->r, "OK");
    }
}

void cmd_del(struct cmd_ctx *ctx)
{
    long long n = 0;
    for (size_t i = 1; i < ctx->argc; i++) {
        n += live_del(ctx->srv->live, cmd_arg(ctx, i), cmd_len(ctx, i),
                      ctx->now_ms) == LIVE_OK;
    }
    reply_int(&ctx->r, n);
}

void cmd_exists(struct cmd_ctx *ctx)
{
    long long n = 0;
    for (size_t i = 1; i < ctx->argc; i++) {
        n += live_exists(ctx->srv->live, cmd_arg(ctx, i), cmd_len(ctx, i),
                         ctx->now_ms) == LIVE_OK;
    }
    reply_int(&ctx->r, n);
}

/* EXPIRE and PEXPIRE: unit_ms is 1000 or 1. */
static void do_expire(struct cmd_ctx *ctx, long long unit_ms, const char *name)
{
    long long v;
    if (!cmd_int(ctx, 2, &v)) {
        reply_error(&ctx->r, "ERR value is not an integer or out of range");
        return;
    }
    int64_t at;
    if (v < LLONG_MIN / unit_ms) {
        reply_errorf(&ctx->r, "ERR invalid expire time in '%s' command", name);
        return;
    }
    if (v <= 0) {
        at = ctx->now_ms; /* in the past: delete now, as Redis does */
    } else if (!expiry_at(v, unit_ms, false, ctx->now_ms, &at)) {
        reply_errorf(&ctx->r, "ERR invalid expire time in '%s' command", name);
        return;
    }
    enum live_status st = live_expire(ctx->srv->live, cmd_arg(ctx, 1),
                                      cmd_len(ctx, 1), at, ctx->now_ms);
    reply_int(&ctx->r, st == LIVE_OK);
}

void cmd_expire(struct cmd_ctx *ctx)
{
    do_expire(ctx, 1000, "expire");
}

void cmd_pexpire(struct cmd_ctx *ctx)
{
    do_expire(ctx, 1, "pexpire");
}

void cmd_persist(struct cmd_ctx *ctx)
{
    enum live_status st = live_persist(ctx->srv->live, cmd_arg(ctx, 1),
                                       cmd_len(ctx, 1), ctx->now_ms);
    if (st == LIVE_OOM) {
        reply_error(&ctx->r, OOM_ERROR);
        return;
    }
    reply_int(&ctx->r, st == LIVE_OK);
}

void cmd_ttl(struct cmd_ctx *ctx)
{
    int64_t ms = live_ttl(ctx->srv->live, cmd_arg(ctx, 1), cmd_len(ctx, 1),
                          ctx->now_ms);
    reply_int(&ctx->r, ms < 0 ? ms : (ms + 500) / 1000);
}

void cmd_pttl(struct cmd_ctx *ctx)
{
    reply_int(&ctx->r, live_ttl(ctx->srv->live, cmd_arg(ctx, 1),
                                cmd_len(ctx, 1), ctx->now_ms));
}

void cmd_dbsize(struct cmd_ctx *ctx)
{
    reply_int(&ctx->r, (long long)live_count(ctx->srv->live));
}

void cmd_flushall(struct cmd_ctx *ctx)
{
    if (ctx->argc > 2 ||
        (ctx->argc == 2 && !cmd_is(ctx, 1, "async") && !cmd_is(ctx, 1, "sync"))) {
        reply_error(&ctx->r, "ERR syntax error");
        return;
    }
    live_flush(ctx->srv->live);
    reply_status(&ctx->r, "OK");
}
