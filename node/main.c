/*
 * larderd: the larder cache node. This file parses options (config file
 * first, then the command line, which wins), sets up logging and runs the
 * server until SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "node_options.h"
#include "server.h"

static void usage(FILE *f, struct node_options *opts)
{
    fprintf(f,
            "Usage: larderd [--option value]...\n"
            "A larder cache node: speaks the Redis protocol (RESP2/RESP3) on\n"
            "--bind:--port and serves the live table 'default'.\n"
            "Options may also be given in a file (--config) as 'name value'\n"
            "lines; the command line overrides the file.\n\n"
            "Options:\n");
    option_print_help((struct option *)opts, OPTION_COUNT(*opts), f);
    fprintf(f, "  --help\n      print this text and exit\n");
}

int main(int argc, char **argv)
{
    static struct node_options opts = {NODE_OPTIONS(OPTION_INIT)};
    struct option *table = (struct option *)&opts;
    size_t n = OPTION_COUNT(opts);
    char err[512];

    if (option_load_defaults(table, n) != 0) {
        fprintf(stderr, "larderd: internal error: bad option default\n");
        return 70;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout, &opts);
            option_free(table, n);
            return 0;
        }
    }
    /* The config file is read first so that flags override it. */
    if (option_parse_args(table, n, argc, argv, err, sizeof(err)) != 0 ||
        (opts.config.str[0] != '\0' &&
         (option_load_file(table, n, opts.config.str, err, sizeof(err)) != 0 ||
          option_parse_args(table, n, argc, argv, err, sizeof(err)) != 0))) {
        fprintf(stderr, "larderd: %s\n", err);
        option_free(table, n);
        return 64;
    }
    log_set_level((enum log_level)opts.loglevel.num);
    signal(SIGPIPE, SIG_IGN);

    struct server srv;
    int rc;
    if (server_init(&srv, &opts, err, sizeof(err)) != 0) {
        log_warning("cannot start: %s", err);
        rc = 1;
    } else {
        rc = server_run(&srv);
    }
    server_deinit(&srv);
    option_free(table, n);
    return rc;
}
