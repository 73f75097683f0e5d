/*
 * command.h: the command table and the context every command runs with.
 *
 * A command handler reads its arguments from the context, talks to the
 * stores, and appends exactly one reply through ctx->r. Arity follows
 * Redis' convention: N means exactly N arguments including the name, -N
 * means at least N.
 */
#ifndef LARDER_COMMAND_H
#define LARDER_COMMAND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "reply.h"
#include "resp.h"

struct command;
struct conn;
struct server;
struct worker;

struct cmd_ctx {
    struct server *srv;
    struct worker *w;
    struct conn *c;
    struct reply r;
    const char *base;            /* the request's first byte */
    const struct resp_arg *argv; /* offsets from base */
    size_t argc;
    int64_t now_ms; /* Unix time in ms, read once per batch */
    const struct command *cmd; /* set by command_execute(); NULL: unknown */
    uint64_t clock_ns; /* metrics: when it started if timed, else 0 */
};

static inline const char *cmd_arg(const struct cmd_ctx *ctx, size_t i)
{
    return ctx->base + ctx->argv[i].off;
}

static inline size_t cmd_len(const struct cmd_ctx *ctx, size_t i)
{
    return ctx->argv[i].len;
}

/* Case-insensitive comparison of argument i with a lowercase word. */
bool cmd_is(const struct cmd_ctx *ctx, size_t i, const char *word);

/* Parses argument i as a signed 64-bit integer; false if it is not one. */
bool cmd_int(const struct cmd_ctx *ctx, size_t i, long long *out);

typedef void (*cmd_fn)(struct cmd_ctx *ctx);

/* Command flags. */
#define CMD_WRITE    0x1u /* changes data */
#define CMD_READONLY 0x2u /* reads data */
#define CMD_ADMIN    0x4u /* changes the server */
#define CMD_FAST     0x8u /* O(1) or O(arguments) */
/*
 * Access control (cmd_auth.c). A user with the reader role may run only
 * commands flagged CMD_READER (reads, batch-table reads, introspection);
 * an admin runs every command. A command without the flag is thus
 * admin-only by default. Before authenticating, while auth is required, a
 * client may run only commands flagged CMD_NOAUTH.
 */
#define CMD_READER   0x10u /* a reader may run it */
#define CMD_NOAUTH   0x20u /* runs before the client has authenticated */

struct command {
    const char *name; /* lowercase */
    int arity;
    unsigned flags;
    int first_key, last_key, key_step; /* for COMMAND's reply */
    cmd_fn fn;
};

/* Builds the lookup index; call once before any command runs. */
void command_setup(void);

/* Runs one parsed request (argc >= 1) and appends its reply. */
void command_execute(struct cmd_ctx *ctx);

/* Every command, for COMMAND; *n receives the count. */
const struct command *command_all(size_t *n);

/* The command called name[0, len) (any case), or NULL. */
const struct command *command_lookup(const char *name, size_t len);

/* Handlers, grouped by file. cmd_keys.c: */
void cmd_get(struct cmd_ctx *ctx);
void cmd_set(struct cmd_ctx *ctx);
void cmd_mget(struct cmd_ctx *ctx);
void cmd_mset(struct cmd_ctx *ctx);
void cmd_del(struct cmd_ctx *ctx);
void cmd_exists(struct cmd_ctx *ctx);
void cmd_expire(struct cmd_ctx *ctx);
void cmd_pexpire(struct cmd_ctx *ctx);
void cmd_ttl(struct cmd_ctx *ctx);
void cmd_persist(struct cmd_ctx *ctx);
void cmd_pttl(struct cmd_ctx *ctx);
void cmd_dbsize(struct cmd_ctx *ctx);
void cmd_flushall(struct cmd_ctx *ctx);

/* cmd_server.c: */
void cmd_ping(struct cmd_ctx *ctx);
void cmd_echo(struct cmd_ctx *ctx);
void cmd_select(struct cmd_ctx *ctx);
void cmd_quit(struct cmd_ctx *ctx);
void cmd_hello(struct cmd_ctx *ctx);
void cmd_client(struct cmd_ctx *ctx);
void cmd_command(struct cmd_ctx *ctx);
void cmd_config(struct cmd_ctx *ctx);
void cmd_info(struct cmd_ctx *ctx);
/*
 * Applies one reloadable option (CONFIG SET, SIGHUP) with its effects; the
 * config lock is held. Returns 0, or -1 with an "ERR ..." reply in err.
 */
int do_config_set(struct server *srv, const char *name, const char *value,
                  char *err, size_t errlen);

/* cmd_auth.c: */
void cmd_auth(struct cmd_ctx *ctx);
/* True if the client may run cmd; otherwise replies -NOAUTH or -NOPERM. */
bool cmd_auth_allowed(struct cmd_ctx *ctx, const struct command *cmd);
/*
 * Authenticates as the user in argument user_i (0: the default user) with
 * the password in argument pass_i. On failure replies -WRONGPASS, counts
 * it in auth_failures and returns false.
 */
bool cmd_auth_login(struct cmd_ctx *ctx, size_t user_i, size_t pass_i);
/* Sets c's parser limits for its authentication state: tight ones while
 * it must still authenticate. */
void cmd_auth_parser_limits(struct server *srv, struct conn *c);

/* cmd_batch.c: */
struct buf;
void cmd_tget(struct cmd_ctx *ctx);
void cmd_tmget(struct cmd_ctx *ctx);
void cmd_tinfo(struct cmd_ctx *ctx);
void cmd_larder_active(struct cmd_ctx *ctx);
void cmd_larder_versions(struct cmd_ctx *ctx);
void cmd_larder_view(struct cmd_ctx *ctx);
void cmd_larder_drain(struct cmd_ctx *ctx);
/* Appends INFO's "# Batch" section. */
void cmd_batch_info(struct cmd_ctx *ctx, struct buf *b);

#endif
