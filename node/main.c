/*
 * larderd: the larder cache node. This file parses options (config file
 * first, then the command line, which wins), sets up logging and runs the
 * server until SIGTERM. `larderd --hash-password` instead prints the hash
 * of a password read from standard input, for an ACL file.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "auth.h"
#include "log.h"
#include "node_options.h"
#include "reconfig.h"
#include "server.h"

static void usage(FILE *f, struct node_options *opts)
{
    fprintf(f,
            "Usage: larderd [--option value]...\n"
            "       larderd --hash-password [--hash-iterations N] "
            "< password\n"
            "A larder cache node: speaks the Redis protocol (RESP2/RESP3) on\n"
            "--bind:--port and serves the live table 'default'.\n"
            "Options may also be given in a file (--config) as 'name value'\n"
            "lines; the command line overrides the file.\n\n"
            "Options:\n");
    option_print_help((struct option *)opts, OPTION_COUNT(*opts), f);
    fprintf(f, "  --help\n      print this text and exit\n");
}

/*
 * --hash-password: reads one line from standard input (without echo on a
 * terminal) and prints its hash for an ACL file. Returns the exit code.
 */
static int print_password_hash(const struct node_options *opts)
{
    struct termios saved;
    bool tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
    if (tty) {
        struct termios quiet = saved;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
        fprintf(stderr, "Password: ");
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len = getline(&line, &cap, stdin);
    if (tty) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
        fputc('\n', stderr);
    }
    while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
        len--;
    }
    int rc = 0;
    struct auth_hash h;
    if (len <= 0) {
        fprintf(stderr, "larderd: --hash-password: no password on standard "
                        "input\n");
        rc = 64;
    } else if (opts->hash_iterations.num < AUTH_ITER_MIN ||
               opts->hash_iterations.num > AUTH_ITER_MAX) {
        fprintf(stderr, "larderd: --hash-iterations must be from %u to %u\n",
                AUTH_ITER_MIN, AUTH_ITER_MAX);
        rc = 64;
    } else if (auth_hash_password(line, (size_t)len,
                                  (uint32_t)opts->hash_iterations.num,
                                  &h) != 0) {
        fprintf(stderr, "larderd: --hash-password: hashing failed\n");
        rc = 70;
    } else {
        char out[AUTH_HASH_STR_MAX];
        auth_hash_format(&h, out, sizeof(out));
        printf("%s\n", out);
    }
    if (line != NULL) {
        explicit_bzero(line, cap);
        free(line);
    }
    return rc;
}

int main(int argc, char **argv)
{
    static struct node_options opts = {NODE_OPTIONS(OPTION_INIT)};
    struct option *table = (struct option *)&opts;
    size_t n = OPTION_COUNT(opts);
    char err[512];
    bool hash_mode = argc > 1 && strcmp(argv[1], "--hash-password") == 0;
    if (hash_mode) {
        argc--; /* the option parser skips argv[0] */
        argv++;
    }

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
    if (reconfig_load_options(&opts, argc, argv, err, sizeof(err)) != 0) {
        fprintf(stderr, "larderd: %s\n", err);
        option_free(table, n);
        return 64;
    }
    log_set_level((enum log_level)opts.loglevel.num);
    log_set_format((enum log_format)opts.log_format.num);
    signal(SIGPIPE, SIG_IGN);
    if (hash_mode) {
        int hrc = print_password_hash(&opts);
        option_free(table, n);
        return hrc;
    }

    /* The S3 client reads its endpoint from the environment (s3_client.h);
     * set before any thread starts. */
    if (opts.s3_endpoint.str[0] != '\0') {
        setenv("AWS_ENDPOINT_URL_S3", opts.s3_endpoint.str, 1);
    }
    /* Likewise a zk:// membership's digest credentials (membership.h). */
    if (opts.zk_auth.str[0] != '\0') {
        setenv("LARDER_ZK_AUTH", opts.zk_auth.str, 1);
    }

    struct server srv;
    int rc;
    if (server_init(&srv, &opts, err, sizeof(err)) != 0) {
        log_warning("cannot start: %s", err);
        rc = 1;
    } else {
        srv.argc = argc;
        srv.argv = argv;
        rc = server_run(&srv);
    }
    server_deinit(&srv);
    option_free(table, n);
    return rc;
}
