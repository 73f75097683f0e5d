/*
 * cli_ctx.h: what a running command of the admin CLI has at hand (the
 * parsed arguments, the output being built, the membership handle) and the
 * helpers every command file shares: messages with an exit code, opening
 * the membership, connecting (and authenticating) to a node, and reading
 * the cluster view from the membership or from a seed node.
 *
 * A command appends its standard output to c->text; cli_run() writes it
 * once the command has finished. Messages go to c->err at once.
 */
#ifndef LARDER_CLI_CTX_H
#define LARDER_CLI_CTX_H

#include <stdio.h>

#include "buf.h"
#include "cli_args.h"
#include "cluster_view.h"
#include "commands.h"
#include "membership.h"
#include "resp_client.h"
#include "text_table.h"

struct cli_ctx {
    const struct cli_args *a;
    FILE *err;
    struct membership *m;    /* opened on first use, closed by cli_run */
    struct buf text;         /* standard output, written at the end */
    const char *const *pos;  /* the command's arguments (after its name,
                                one or two words) */
    size_t npos;
};

/* Prints "larder: " + the message to c->err; returns code. */
__attribute__((format(printf, 3, 4)))
int cli_say(struct cli_ctx *c, int code, const char *fmt, ...);

/* The exit code for a membership failure: I/O means unreachable. */
int cli_memb_exit(enum memb_status st);

/*
 * Opens the membership named by --membership once. A local: directory must
 * exist already: a typo must not quietly create an empty cluster.
 */
int cli_open_membership(struct cli_ctx *c);

/* Reports a failed membership call made for `what`; returns the code. */
int cli_memb_failed(struct cli_ctx *c, enum memb_status st,
                    const char *what);

/* Appends a rendered table to the output and frees it. */
int cli_emit_table(struct cli_ctx *c, struct text_table *t);

/* Appends "\n" after a JSON document. */
void cli_json_done(struct cli_ctx *c);

/*
 * Connects to addr ("ip:port") and authenticates when a password was
 * given (--password-file, $LARDER_PASSWORD). quiet: a connection failure
 * is not printed (the caller tries another node), its message is left in
 * why. Returns an exit code; *out is set on CLI_EXIT_OK.
 */
int cli_connect(struct cli_ctx *c, const char *addr, bool quiet,
                struct resp_client **out, char *why, size_t whylen);

/*
 * Fills *v with the cluster as the read commands see it: with --seeds,
 * from LARDER.VIEW of the first seed (in random order) that answers;
 * otherwise from the membership. health: what status's verdict needs —
 * the per-partition readiness of the whole cluster and the active
 * versions' creation times — is read from the membership, or, when a
 * seed's view has only its own readiness, every other live node is asked
 * for its view too (the creation times come with the seed's view). Returns
 * an exit code; free *v with cluster_view_free() in every case.
 */
int cli_load_view(struct cli_ctx *c, struct cluster_view *v,
                  bool health);

/*
 * The commands, named by the table in commands.c. Each reads its
 * arguments from c->pos and returns an exit code (commands.h).
 */
int cmd_tables(struct cli_ctx *c);       /* version_commands.c */
int cmd_versions(struct cli_ctx *c);
int cmd_active(struct cli_ctx *c);
int cmd_activate(struct cli_ctx *c);
int cmd_rollback(struct cli_ctx *c);
int cmd_diff(struct cli_ctx *c);
int cmd_get(struct cli_ctx *c);          /* read_commands.c */
int cmd_mget(struct cli_ctx *c);
int cmd_status(struct cli_ctx *c);       /* status_command.c */
int cmd_cluster_status(struct cli_ctx *c); /* cluster_commands.c */
int cmd_nodes(struct cli_ctx *c);
int cmd_ring(struct cli_ctx *c);
int cmd_node_add(struct cli_ctx *c);
int cmd_node_remove(struct cli_ctx *c);
int cmd_rebalance(struct cli_ctx *c);
int cmd_table_create(struct cli_ctx *c);
int cmd_table_config(struct cli_ctx *c);
int cmd_table_drop(struct cli_ctx *c);
int cmd_drain(struct cli_ctx *c);
int cmd_undrain(struct cli_ctx *c);

#endif
