/*
 * commands.h: the commands of the admin CLI `larder` (tables, versions,
 * active, activate, rollback, get, mget, diff, status, nodes, ring, node
 * add|remove, rebalance, table create|config, drain, undrain) and their
 * help, run from parsed arguments.
 *
 * Output goes to `out` only once a command has finished (it is built in
 * memory first, so a failure never leaves half a table or half a JSON
 * document), messages to `err` prefixed "larder: ". Every command returns
 * one of the exit codes below, each with one meaning; get and mget print
 * their results and exit 1 when a key is absent; status exits 1 when the
 * cluster (or the node) is not healthy.
 */
#ifndef LARDER_CLI_COMMANDS_H
#define LARDER_CLI_COMMANDS_H

#include <stdio.h>

#include "cli_args.h"

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_NOTFOUND = 1,    /* not found, or refused (activation, node) */
    CLI_EXIT_USAGE = 2,       /* bad command line */
    CLI_EXIT_UNREACHABLE = 3, /* cannot reach the node, the membership or
                                 the store */
};

/*
 * Runs the command named by a (or prints help for a->help, or a usage
 * error for a parse failure the caller passes as parse_rc < 0).
 */
int cli_run(const struct cli_args *a, int parse_rc, FILE *out, FILE *err);

#endif
