/*
 * This file implements authentication on the request path: the AUTH
 * command, the check every command passes before it runs (-NOAUTH for a
 * client that has not authenticated, -NOPERM for a reader running a
 * command not flagged CMD_READER), and the login that HELLO's AUTH option
 * shares with AUTH.
 *
 * The check costs one atomic load and one comparison while the published
 * user table (auth.h) does not change. When it does, the client's session
 * is brought up to date on its next command, so a removed user's
 * connections lose access then.
 *
 * While a client has not authenticated, its parser takes at most
 * UNAUTH_MAX_ARGS arguments and UNAUTH_MAX_BULK bytes per argument (as
 * Redis does), so an anonymous client cannot make a node buffer a large
 * request.
 */
#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "command.h"
#include "conn.h"
#include "log.h"
#include "server.h"

enum {
    UNAUTH_MAX_ARGS = 10,         /* HELLO 3 AUTH u p SETNAME n fits */
    UNAUTH_MAX_BULK = 16 * 1024,  /* user names and passwords fit */
};

static size_t min_size(size_t a, size_t b)
{
    return a < b ? a : b;
}

void cmd_auth_parser_limits(struct server *srv, struct conn *c)
{
    struct resp_limits l = srv->limits;
    if (!c->auth.authenticated && auth_required(srv->auth)) {
        l.max_array_len = min_size(l.max_array_len, UNAUTH_MAX_ARGS);
        l.max_bulk_len = min_size(l.max_bulk_len, UNAUTH_MAX_BULK);
        l.max_inline_len = min_size(l.max_inline_len, UNAUTH_MAX_BULK);
    }
    c->parser.limits = l;
}

/* Brings the session up to date with the published table. */
static const struct auth_table *session_check(struct cmd_ctx *ctx)
{
    struct auth_session *s = &ctx->c->auth;
    const struct auth_table *t = auth_current(ctx->srv->auth);
    if (s->generation != t->generation) {
        bool was = s->authenticated;
        auth_session_refresh(s, t);
        if (was != s->authenticated) {
            cmd_auth_parser_limits(ctx->srv, ctx->c);
        }
    }
    return t;
}

bool cmd_auth_allowed(struct cmd_ctx *ctx, const struct command *cmd)
{
    session_check(ctx);
    const struct auth_session *s = &ctx->c->auth;
    if (!s->authenticated) {
        if (cmd->flags & CMD_NOAUTH) {
            return true;
        }
        reply_error(&ctx->r, "NOAUTH Authentication required.");
        return false;
    }
    if (s->role == AUTH_ROLE_ADMIN || (cmd->flags & CMD_READER)) {
        return true;
    }
    reply_errorf(&ctx->r,
                 "NOPERM User %s has no permissions to run the '%s' command",
                 s->user, cmd->name);
    return false;
}

bool cmd_auth_login(struct cmd_ctx *ctx, size_t user_i, size_t pass_i)
{
    const struct auth_table *t = session_check(ctx);
    const char *user = user_i ? cmd_arg(ctx, user_i) : AUTH_DEFAULT_USER;
    size_t ulen = user_i ? cmd_len(ctx, user_i) : strlen(AUTH_DEFAULT_USER);
    struct auth_session *s = &ctx->c->auth;
    bool was = s->authenticated;
    if (auth_session_login(s, t, user, ulen, cmd_arg(ctx, pass_i),
                           cmd_len(ctx, pass_i))) {
        if (!was) {
            cmd_auth_parser_limits(ctx->srv, ctx->c);
        }
        return true;
    }
    STAT_ADD(&ctx->w->stats, auth_failures, 1);
    bool printable = ulen <= AUTH_NAME_MAX;
    for (size_t i = 0; printable && i < ulen; i++) {
        printable = user[i] >= '!' && user[i] <= '~';
    }
    log_verbose("client %llu: AUTH failed for user '%.*s'",
                (unsigned long long)ctx->c->id, printable ? (int)ulen : 1,
                printable ? user : "?");
    reply_error(&ctx->r, "WRONGPASS invalid username-password pair or user "
                         "is disabled.");
    return false;
}

void cmd_auth(struct cmd_ctx *ctx)
{
    if (ctx->argc > 3) {
        reply_error(&ctx->r, "ERR syntax error");
        return;
    }
    if (ctx->argc == 2 && !session_check(ctx)->required) {
        reply_error(&ctx->r,
                    "ERR AUTH <password> called without any password "
                    "configured for the default user. Are you sure your "
                    "configuration is correct?");
        return;
    }
    if (cmd_auth_login(ctx, ctx->argc == 3 ? 1 : 0, ctx->argc - 1)) {
        reply_status(&ctx->r, "OK");
    }
}
