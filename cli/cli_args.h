/*
 * cli_args.h: the command line of the admin CLI `larder`, parsed into a
 * struct without doing anything.
 *
 *   larder [options] <command> [arguments] [options]
 *
 * Options may come before or after the command; "--opt value" and
 * "--opt=value" both work; "--" ends the options, so a key that starts
 * with "--" can still be given. Every option is declared once in
 * CLI_OPTIONS below, which also feeds --help. Which command accepts which
 * option is checked by the command table (cli_commands.c), not here.
 */
#ifndef LARDER_CLI_ARGS_H
#define LARDER_CLI_ARGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default of --membership when LARDER_MEMBERSHIP is not set. */
#define CLI_DEFAULT_MEMBERSHIP "local:larder-data/membership"

/* Default of --timeout, milliseconds. */
#define CLI_DEFAULT_TIMEOUT_MS 2000

/* Default and largest --sample (diff). */
#define CLI_DEFAULT_SAMPLE 10
#define CLI_SAMPLE_MAX 10000

/* X(ID, name, value placeholder or NULL for a flag, help) */
#define CLI_OPTIONS(X)                                                       \
    X(MEMBERSHIP, "membership", "URI",                                       \
      "membership to use (default: $LARDER_MEMBERSHIP, else "                \
      CLI_DEFAULT_MEMBERSHIP ")")                                            \
    X(JSON, "json", NULL, "print JSON instead of text")                      \
    X(HELP, "help", NULL, "show help (for a command: larder CMD --help)")    \
    X(FORCE, "force", NULL,                                                  \
      "activate: allow activating part of a run's linked versions")          \
    X(MIN_REPLICAS, "min-replicas", "N",                                     \
      "activate: ready replicas each partition needs (default 1)")           \
    X(WAIT, "wait", "SECONDS",                                               \
      "activate: wait up to SECONDS for the versions to be ready")           \
    X(VERSION, "version", "V",                                               \
      "get, mget: read version V instead of the active one")                 \
    X(NODE, "node", "IP:PORT",                                               \
      "get, mget, status: ask this node instead of a live member")           \
    X(TIMEOUT, "timeout", "MS",                                              \
      "get, mget, status: connect and reply timeout (default 2000)")         \
    X(USER, "user", "NAME",                                                  \
      "get, mget, status: the node user to AUTH as (default: the default "   \
      "user)")                                                               \
    X(PASSWORD_FILE, "password-file", "PATH",                                \
      "get, mget, status: AUTH with the first line of PATH (default: "       \
      "$LARDER_PASSWORD, if set)")                                           \
    X(SAMPLE, "sample", "N",                                                 \
      "diff: how many changed values to show (default 10)")

#define CLI_OPTION_BIT(id, name, value, help) CLI_OPT_BIT_##id,
enum cli_option_bit { CLI_OPTIONS(CLI_OPTION_BIT) CLI_OPT_COUNT };
#undef CLI_OPTION_BIT

#define CLI_OPT(id) (1u << CLI_OPT_BIT_##id)

struct cli_option_info {
    const char *name;
    const char *value; /* placeholder, NULL for a flag */
    const char *help;
};

/* The option table, CLI_OPT_COUNT entries in bit order. */
extern const struct cli_option_info cli_options[CLI_OPT_COUNT];

struct cli_args {
    unsigned seen;          /* CLI_OPT() bits of the options given */
    const char *membership; /* resolved: option, env, default */
    bool json;
    bool help;
    bool force;
    uint32_t min_replicas;  /* 0 if not given */
    uint32_t wait_s;        /* activate --wait; 0: refuse at once */
    uint64_t version;       /* valid if seen & CLI_OPT(VERSION) */
    const char *node;
    const char *user;          /* --user, or NULL */
    const char *password_file; /* --password-file, or NULL */
    const char *env_password;  /* $LARDER_PASSWORD (set by the caller) */
    int timeout_ms;
    uint32_t sample;        /* diff --sample */
    const char *command;    /* NULL if none was given */
    const char **pos;       /* arguments after the command (malloc'd array
                               of borrowed argv strings) */
    size_t npos;
    char err[256];          /* set when parsing fails */
};

/*
 * Parses argv[1..argc). Strings are borrowed from argv; env_membership is
 * the value of LARDER_MEMBERSHIP (NULL if unset). Returns 0, or -1 with
 * a->err set (a usage error). Free with cli_args_free() in both cases.
 */
int cli_args_parse(struct cli_args *a, int argc, char **argv,
                   const char *env_membership);

void cli_args_free(struct cli_args *a);

/* True if s is a table name: [A-Za-z0-9_.-]{1,64}. */
bool cli_valid_table_name(const char *s);

/* Parses a version number (decimal, > 0); 0, or -1 if s is not one. */
int cli_args_parse_version(const char *s, uint64_t *version);

/*
 * Parses "TABLE=VERSION" (as given to activate). Returns 0, or -1 with a
 * message in err.
 */
int cli_args_parse_pair(const char *s, char *table, size_t tablelen,
                        uint64_t *version, char *err, size_t errlen);

#endif
