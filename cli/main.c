/*
 * larder: the admin CLI. This file only parses the command line and runs
 * the command (cli_args.h, commands.h), returning its exit code.
 */
#include <stdio.h>
#include <stdlib.h>

#include "cli_args.h"
#include "commands.h"

int main(int argc, char **argv)
{
    struct cli_args a;
    int parse_rc = cli_args_parse(&a, argc, argv, getenv("LARDER_MEMBERSHIP"));
    a.env_password = getenv("LARDER_PASSWORD");
    /* A zk:// membership takes its digest credentials from there. */
    if (parse_rc == 0 && a.zk_auth != NULL) {
        setenv("LARDER_ZK_AUTH", a.zk_auth, 1);
    }
    int rc = cli_run(&a, parse_rc, stdout, stderr);
    cli_args_free(&a);
    if (fflush(stdout) != 0 && rc == CLI_EXIT_OK) {
        perror("larder: writing the output");
        rc = CLI_EXIT_NOTFOUND;
    }
    return rc;
}
