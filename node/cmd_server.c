/*
 * This file implements the connection and server commands: PING, ECHO,
 * SELECT, QUIT, HELLO, CLIENT, COMMAND, CONFIG and INFO — enough of each
 * for redis-cli, redis-benchmark and Redis client libraries to work
 * unmodified against a node.
 */
#include <event2/event.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "command.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "reconfig.h"
#include "server.h"

#ifndef LARDER_VERSION
#define LARDER_VERSION "0.1.0"
#endif
/* The Redis version whose commands a node's subset follows, for clients
 * that gate features on INFO's redis_version. */
#define REDIS_COMPAT_VERSION "7.0.0"

void cmd_ping(struct cmd_ctx *ctx)
{
    if (ctx->argc > 2) {
        reply_error(&ctx->r, "ERR wrong number of arguments for 'ping' command");
    } else if (ctx->argc == 2) {
        reply_bulk(&ctx->r, cmd_arg(ctx, 1), cmd_len(ctx, 1));
    } else {
        reply_status(&ctx->r, "PONG");
    }
}

void cmd_echo(struct cmd_ctx *ctx)
{
    reply_bulk(&ctx->r, cmd_arg(ctx, 1), cmd_len(ctx, 1));
}

void cmd_select(struct cmd_ctx *ctx)
{
    long long db;
    if (!cmd_int(ctx, 1, &db)) {
        reply_error(&ctx->r, "ERR value is not an integer or out of range");
    } else if (db != 0) {
        reply_error(&ctx->r, "ERR DB index is out of range");
    } else {
        reply_status(&ctx->r, "OK");
    }
}

void cmd_quit(struct cmd_ctx *ctx)
{
    reply_status(&ctx->r, "OK");
    ctx->c->closing = true;
}

void cmd_hello(struct cmd_ctx *ctx)
{
    long long proto = ctx->c->proto;
    size_t i = 1;
    if (ctx->argc >= 2) {
        if (!cmd_int(ctx, 1, &proto)) {
            reply_error(&ctx->r,
                        "ERR Protocol version is not an integer or out of range");
            return;
        }
        if (proto != 2 && proto != 3) {
            reply_error(&ctx->r, "NOPROTO unsupported protocol version");
            return;
        }
        i = 2;
    }
    const char *setname = NULL;
    size_t setname_len = 0;
    size_t auth_user = 0; /* argument index of AUTH's user name, if given */
    for (; i < ctx->argc; i++) {
        if (cmd_is(ctx, i, "auth") && i + 2 < ctx->argc) {
            auth_user = i + 1;
            i += 2;
        } else if (cmd_is(ctx, i, "setname") && i + 1 < ctx->argc) {
            setname = cmd_arg(ctx, i + 1);
            setname_len = cmd_len(ctx, i + 1);
            i++;
        } else {
            reply_errorf(&ctx->r, "ERR Syntax error in HELLO option '%.*s'",
                         (int)(cmd_len(ctx, i) > 64 ? 64 : cmd_len(ctx, i)),
                         cmd_arg(ctx, i));
            return;
        }
    }
    if (auth_user != 0 && !cmd_auth_login(ctx, auth_user, auth_user + 1)) {
        return;
    }
    if (!ctx->c->auth.authenticated) {
        reply_error(&ctx->r,
                    "NOAUTH HELLO must be called with the client already "
                    "authenticated, otherwise the HELLO <proto> AUTH <user> "
                    "<pass> option can be used to authenticate the client and "
                    "select the RESP protocol version at the same time");
        return;
    }
    if (setname != NULL) {
        char *name = strndup(setname, setname_len);
        if (name != NULL) {
            free(ctx->c->name);
            ctx->c->name = name;
        }
    }
    ctx->c->proto = (int)proto;
    ctx->r.proto = (int)proto;
    reply_map(&ctx->r, 7);
    reply_bulk_str(&ctx->r, "server");
    reply_bulk_str(&ctx->r, "larder");
    reply_bulk_str(&ctx->r, "version");
    reply_bulk_str(&ctx->r, LARDER_VERSION);
    reply_bulk_str(&ctx->r, "proto");
    reply_int(&ctx->r, proto);
    reply_bulk_str(&ctx->r, "id");
    reply_int(&ctx->r, (long long)ctx->c->id);
    reply_bulk_str(&ctx->r, "mode");
    reply_bulk_str(&ctx->r, "standalone");
    reply_bulk_str(&ctx->r, "role");
    reply_bulk_str(&ctx->r, "master");
    reply_bulk_str(&ctx->r, "modules");
    reply_array(&ctx->r, 0);
}

static void unknown_subcommand(struct cmd_ctx *ctx, const char *cmd)
{
    size_t len = cmd_len(ctx, 1) > 64 ? 64 : cmd_len(ctx, 1);
    reply_errorf(&ctx->r, "ERR unknown subcommand '%.*s'. Try %s HELP.",
                 (int)len, cmd_arg(ctx, 1), cmd);
}

void cmd_client(struct cmd_ctx *ctx)
{
    struct conn *c = ctx->c;
    if (cmd_is(ctx, 1, "setname") && ctx->argc == 3) {
        const char *p = cmd_arg(ctx, 2);
        size_t len = cmd_len(ctx, 2);
        for (size_t i = 0; i < len; i++) {
            if (p[i] < '!' || p[i] > '~') {
                reply_error(&ctx->r, "ERR Client names cannot contain spaces, "
                                     "newlines or special characters.");
                return;
            }
        }
        free(c->name);
        c->name = len ? strndup(p, len) : NULL;
        reply_status(&ctx->r, "OK");
    } else if (cmd_is(ctx, 1, "getname") && ctx->argc == 2) {
        if (c->name != NULL) {
            reply_bulk_str(&ctx->r, c->name);
        } else {
            reply_null(&ctx->r);
        }
    } else if (cmd_is(ctx, 1, "id") && ctx->argc == 2) {
        reply_int(&ctx->r, (long long)c->id);
    } else if (cmd_is(ctx, 1, "setinfo") && ctx->argc == 4) {
        reply_status(&ctx->r, "OK");
    } else {
        unknown_subcommand(ctx, "CLIENT");
    }
}

/* One COMMAND entry in Redis 7's ten-field layout. */
static void reply_command_entry(struct reply *r, const struct command *cmd)
{
    reply_array(r, 10);
    reply_bulk_str(r, cmd->name);
    reply_int(r, cmd->arity);
    size_t nflags = !!(cmd->flags & CMD_WRITE) + !!(cmd->flags & CMD_READONLY) +
                    !!(cmd->flags & CMD_ADMIN) + !!(cmd->flags & CMD_FAST);
    reply_array(r, nflags);
    if (cmd->flags & CMD_WRITE) {
        reply_status(r, "write");
    }
    if (cmd->flags & CMD_READONLY) {
        reply_status(r, "readonly");
    }
    if (cmd->flags & CMD_ADMIN) {
        reply_status(r, "admin");
    }
    if (cmd->flags & CMD_FAST) {
        reply_status(r, "fast");
    }
    reply_int(r, cmd->first_key);
    reply_int(r, cmd->last_key);
    reply_int(r, cmd->key_step);
    for (int i = 0; i < 4; i++) {
        reply_array(r, 0); /* ACL categories, tips, key specs, subcommands */
    }
}

void cmd_command(struct cmd_ctx *ctx)
{
    size_t n;
    const struct command *all = command_all(&n);
    if (ctx->argc == 1) {
        reply_array(&ctx->r, n);
        for (size_t i = 0; i < n; i++) {
            reply_command_entry(&ctx->r, &all[i]);
        }
    } else if (cmd_is(ctx, 1, "count") && ctx->argc == 2) {
        reply_int(&ctx->r, (long long)n);
    } else if (cmd_is(ctx, 1, "info")) {
        reply_array(&ctx->r, ctx->argc - 2);
        for (size_t i = 2; i < ctx->argc; i++) {
            const struct command *cmd = command_lookup(cmd_arg(ctx, i),
                                                       cmd_len(ctx, i));
            if (cmd != NULL) {
                reply_command_entry(&ctx->r, cmd);
            } else {
                reply_null(&ctx->r);
            }
        }
    } else if (cmd_is(ctx, 1, "docs")) {
        reply_map(&ctx->r, 0);
    } else {
        unknown_subcommand(ctx, "COMMAND");
    }
}

/* Settings Redis tools ask for that a node does not have, with the values
 * that describe it: no persistence, one database. */
static const char *const config_compat[][2] = {
    {"save", ""},
    {"appendonly", "no"},
    {"databases", "1"},
};
#define NCOMPAT (sizeof(config_compat) / sizeof(config_compat[0]))

static bool config_matches(struct cmd_ctx *ctx, const char *name)
{
    for (size_t i = 2; i < ctx->argc; i++) {
        char pattern[256];
        size_t len = cmd_len(ctx, i);
        if (len >= sizeof(pattern)) {
            continue;
        }
        memcpy(pattern, cmd_arg(ctx, i), len);
        pattern[len] = '\0';
        if (fnmatch(pattern, name, FNM_CASEFOLD) == 0) {
            return true;
        }
    }
    return false;
}

static void config_get(struct cmd_ctx *ctx)
{
    struct server *srv = ctx->srv;
    struct option *opts = (struct option *)srv->opts;
    size_t nopts = OPTION_COUNT(*srv->opts);
    size_t matched = 0;
    pthread_mutex_lock(&srv->config_lock);
    for (size_t i = 0; i < nopts; i++) {
        matched += config_matches(ctx, opts[i].name);
    }
    for (size_t i = 0; i < NCOMPAT; i++) {
        matched += config_matches(ctx, config_compat[i][0]);
    }
    reply_map(&ctx->r, matched);
    for (size_t i = 0; i < nopts; i++) {
        if (config_matches(ctx, opts[i].name)) {
            char value[256];
            option_format(&opts[i], value, sizeof(value));
            reply_bulk_str(&ctx->r, opts[i].name);
            reply_bulk_str(&ctx->r, value);
        }
    }
    pthread_mutex_unlock(&srv->config_lock);
    for (size_t i = 0; i < NCOMPAT; i++) {
        if (config_matches(ctx, config_compat[i][0])) {
            reply_bulk_str(&ctx->r, config_compat[i][0]);
            reply_bulk_str(&ctx->r, config_compat[i][1]);
        }
    }
}

/* Applies one reloadable option (CONFIG SET, SIGHUP); the config lock is
 * held. */
int do_config_set(struct server *srv, const char *name, const char *value,
                  char *err, size_t errlen)
{
    struct option *o = option_find((struct option *)srv->opts,
                                   OPTION_COUNT(*srv->opts), name);
    if (o == NULL || !(o->flags & OPTION_RELOADABLE)) {
        snprintf(err, errlen,
                 "ERR Unknown option or number of arguments for CONFIG SET - '%s'",
                 name);
        return -1;
    }
    char why[480];
    if (do_reconfig_set(srv, o, value, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "ERR CONFIG SET failed: %s", why);
        return -1;
    }
    live_set_limits(srv->live, srv->opts->maxmemory.num,
                    (enum live_policy)srv->opts->maxmemory_policy.num);
    log_set_level((enum log_level)srv->opts->loglevel.num);
    return 0;
}

static void config_set(struct cmd_ctx *ctx)
{
    if (ctx->argc < 4 || ctx->argc % 2 != 0) {
        reply_error(&ctx->r, "ERR wrong number of arguments for 'config|set' command");
        return;
    }
    char err[512];
    int rc = 0;
    pthread_mutex_lock(&ctx->srv->config_lock);
    for (size_t i = 2; i + 1 < ctx->argc && rc == 0; i += 2) {
        char *name = strndup(cmd_arg(ctx, i), cmd_len(ctx, i));
        char *value = strndup(cmd_arg(ctx, i + 1), cmd_len(ctx, i + 1));
        rc = (name && value) ? do_config_set(ctx->srv, name, value, err,
                                             sizeof(err))
                             : -1;
        if (rc != 0 && (name == NULL || value == NULL)) {
            snprintf(err, sizeof(err), "ERR out of memory");
        }
        free(name);
        free(value);
    }
    pthread_mutex_unlock(&ctx->srv->config_lock);
    if (rc != 0) {
        reply_error(&ctx->r, err);
    } else {
        reply_status(&ctx->r, "OK");
    }
}

void cmd_config(struct cmd_ctx *ctx)
{
    if (cmd_is(ctx, 1, "get")) {
        if (ctx->argc < 3) {
            reply_error(&ctx->r,
                        "ERR wrong number of arguments for 'config|get' command");
        } else {
            config_get(ctx);
        }
    } else if (cmd_is(ctx, 1, "set")) {
        config_set(ctx);
    } else if (cmd_is(ctx, 1, "resetstat") && ctx->argc == 2) {
        reply_status(&ctx->r, "OK");
    } else {
        unknown_subcommand(ctx, "CONFIG");
    }
}

/* Formats bytes as Redis' *_human fields do (1.50M). */
static void human_bytes(char *out, size_t outlen, uint64_t n)
{
    static const char units[] = "BKMGT";
    double v = (double)n;
    int u = 0;
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    if (u == 0) {
        snprintf(out, outlen, "%" PRIu64 "B", n);
    } else {
        snprintf(out, outlen, "%.2f%c", v, units[u]);
    }
}

static void info_server(struct cmd_ctx *ctx, struct buf *b)
{
    struct server *srv = ctx->srv;
    struct utsname u;
    struct timeval tv;
    uname(&u);
    gettimeofday(&tv, NULL);
    int64_t uptime = (ctx->now_ms - srv->start_ms) / 1000;
    pthread_mutex_lock(&srv->config_lock);
    uint64_t hz = srv->opts->hz.num;
    const char *config = srv->opts->config.str ? srv->opts->config.str : "";
    buf_printf(b,
               "# Server\r\n"
               "redis_version:%s\r\n"
               "larder_version:%s\r\n"
               "redis_mode:standalone\r\n"
               "os:%s %s %s\r\n"
               "arch_bits:%d\r\n"
               "multiplexing_api:%s\r\n"
               "process_id:%d\r\n"
               "run_id:%s\r\n"
               "tcp_port:%u\r\n"
               "server_time_usec:%lld\r\n"
               "uptime_in_seconds:%lld\r\n"
               "uptime_in_days:%lld\r\n"
               "hz:%" PRIu64 "\r\n"
               "worker_threads:%u\r\n"
               "config_file:%s\r\n\r\n",
               REDIS_COMPAT_VERSION, LARDER_VERSION, u.sysname, u.release,
               u.machine, (int)(sizeof(void *) * 8),
               event_base_get_method(srv->base), (int)getpid(), srv->run_id,
               srv->port, (long long)tv.tv_sec * 1000000 + tv.tv_usec,
               (long long)uptime, (long long)(uptime / 86400), hz,
               srv->nworkers, config);
    pthread_mutex_unlock(&srv->config_lock);
}

static void info_clients(struct cmd_ctx *ctx, struct buf *b)
{
    struct server *srv = ctx->srv;
    pthread_mutex_lock(&srv->config_lock);
    uint64_t maxclients = srv->opts->maxclients.num;
    pthread_mutex_unlock(&srv->config_lock);
    buf_printf(b,
               "# Clients\r\n"
               "connected_clients:%" PRIu64 "\r\n"
               "maxclients:%" PRIu64 "\r\n"
               "blocked_clients:0\r\n\r\n",
               __atomic_load_n(&srv->connected_clients, __ATOMIC_RELAXED),
               maxclients);
}

static void info_memory(struct cmd_ctx *ctx, struct buf *b,
                        const struct live_stats *ls)
{
    struct server *srv = ctx->srv;
    uint64_t used = server_used_memory(srv);
    uint64_t peak = __atomic_load_n(&srv->used_memory_peak, __ATOMIC_RELAXED);
    if (used > peak) {
        peak = used; /* the timer records it too; INFO never shows less */
    }
    uint64_t rss = metrics_rss_bytes();
    pthread_mutex_lock(&srv->config_lock);
    uint64_t maxmemory = srv->opts->maxmemory.num;
    char policy[64];
    option_format(&srv->opts->maxmemory_policy, policy, sizeof(policy));
    pthread_mutex_unlock(&srv->config_lock);
    char used_h[32], rss_h[32], peak_h[32], max_h[32];
    human_bytes(used_h, sizeof(used_h), used);
    human_bytes(rss_h, sizeof(rss_h), rss);
    human_bytes(peak_h, sizeof(peak_h), peak);
    human_bytes(max_h, sizeof(max_h), maxmemory);
    buf_printf(b,
               "# Memory\r\n"
               "used_memory:%" PRIu64 "\r\n"
               "used_memory_human:%s\r\n"
               "used_memory_rss:%" PRIu64 "\r\n"
               "used_memory_rss_human:%s\r\n"
               "used_memory_peak:%" PRIu64 "\r\n"
               "used_memory_peak_human:%s\r\n"
               "used_memory_dataset:%" PRIu64 "\r\n"
               "used_memory_live:%" PRIu64 "\r\n"
               "maxmemory:%" PRIu64 "\r\n"
               "maxmemory_human:%s\r\n"
               "maxmemory_policy:%s\r\n"
               "mem_allocator:libc\r\n\r\n",
               used, used_h, rss, rss_h, peak, peak_h, ls->used_memory,
               ls->used_memory, maxmemory, max_h, policy);
}

static void info_stats(struct cmd_ctx *ctx, struct buf *b,
                       const struct live_stats *ls)
{
    struct node_stats st;
    server_sum_stats(ctx->srv, &st);
    buf_append_str(b, "# Stats\r\n");
#define METRIC_PRINT(name, help) \
    buf_printf(b, #name ":%" PRIu64 "\r\n", st.name);
    NODE_METRICS(METRIC_PRINT)
#undef METRIC_PRINT
    buf_printf(b,
               "rejected_connections:%" PRIu64 "\r\n"
               "expired_keys:%" PRIu64 "\r\n"
               "evicted_keys:%" PRIu64 "\r\n"
               "live_resizing_shards:%" PRIu64 "\r\n\r\n",
               __atomic_load_n(&ctx->srv->rejected_connections, __ATOMIC_RELAXED),
               ls->expired_keys, ls->evicted_keys, ls->resizing_shards);
}

static void info_keyspace(struct buf *b, const struct live_stats *ls)
{
    buf_append_str(b, "# Keyspace\r\n");
    if (ls->keys > 0) {
        buf_printf(b, "db0:keys=%" PRIu64 ",expires=%" PRIu64 ",avg_ttl=0\r\n",
                   ls->keys, ls->keys_with_ttl);
    }
    buf_append_str(b, "\r\n");
}

/* True if INFO's arguments ask for this section. */
static bool info_wants(struct cmd_ctx *ctx, const char *section)
{
    if (ctx->argc == 1) {
        return true;
    }
    for (size_t i = 1; i < ctx->argc; i++) {
        if (cmd_is(ctx, i, section) || cmd_is(ctx, i, "all") ||
            cmd_is(ctx, i, "everything") || cmd_is(ctx, i, "default")) {
            return true;
        }
    }
    return false;
}

void cmd_info(struct cmd_ctx *ctx)
{
    struct buf b = {0};
    struct live_stats ls;
    live_get_stats(ctx->srv->live, &ls);
    if (info_wants(ctx, "server")) {
        info_server(ctx, &b);
    }
    if (info_wants(ctx, "clients")) {
        info_clients(ctx, &b);
    }
    if (info_wants(ctx, "memory")) {
        info_memory(ctx, &b, &ls);
    }
    if (info_wants(ctx, "stats")) {
        info_stats(ctx, &b, &ls);
    }
    if (info_wants(ctx, "batch")) {
        cmd_batch_info(ctx, &b);
    }
    if (info_wants(ctx, "keyspace")) {
        info_keyspace(&b, &ls);
    }
    if (b.len >= 2) {
        b.len -= 2; /* no blank line after the last section */
    }
    if (buf_failed(&b)) {
        reply_error(&ctx->r, "ERR out of memory");
    } else {
        reply_verbatim(&ctx->r, b.data ? b.data : "", b.len);
    }
    buf_deinit(&b);
}
