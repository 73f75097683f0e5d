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
 * option is checked by the command table (commands.c), not here.
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

/* Default and largest --capacity (node add): placement.h's limits. */
#define CLI_DEFAULT_CAPACITY 100
#define CLI_CAPACITY_MAX 1000

/* Default and largest --partitions (table create). */
#define CLI_DEFAULT_PARTITIONS 256
#define CLI_PARTITIONS_MAX (1u << 20)

/* Largest --replication given as a number. */
#define CLI_REPLICATION_MAX 1024

/* Longest --seeds list, in addresses. */
#define CLI_SEEDS_MAX 64

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
      "get, mget: ask this node instead of the key's; status: report on "    \
      "this node only")                                                      \
    X(TIMEOUT, "timeout", "MS",                                              \
      "commands that talk to nodes: connect and reply timeout (default "     \
      "2000)")                                                               \
    X(USER, "user", "NAME",                                                  \
      "commands that talk to nodes: the node user to AUTH as (default: the " \
      "default user)")                                                       \
    X(ZK_AUTH, "zk-auth", "USER:PASSWORD",                                   \
      "ZooKeeper digest credentials for a zk:// membership (default: "       \
      "$LARDER_ZK_AUTH, which the process list does not show)")              \
    X(PASSWORD_FILE, "password-file", "PATH",                                \
      "commands that talk to nodes: AUTH with the first line of PATH "       \
      "(default: $LARDER_PASSWORD, if set)")                                 \
    X(SAMPLE, "sample", "N",                                                 \
      "diff: how many changed values to show (default 10)")                  \
    X(SEEDS, "seeds", "HOST:PORT,...",                                       \
      "nodes, ring, tables, status, get, mget: read the cluster from a "     \
      "node's LARDER.VIEW instead of the membership")                        \
    X(ZONE, "zone", "Z", "node add: the node's zone (default: none)")        \
    X(CAPACITY, "capacity", "N",                                             \
      "node add: relative weight, 1 to 1000 (default 100)")                  \
    X(PARTITIONS, "partitions", "N",                                         \
      "table create: partition count, fixed for the table's life "           \
      "(default 256)")                                                       \
    X(REPLICATION, "replication", "R|all",                                   \
      "table create, config: replicas per partition, or all (default all)")  \
    X(FALLBACK_KEY, "fallback-key", "K",                                     \
      "table create, config: key served when a read fails (\"\" clears it)") \
    X(MAX_AGE, "max-age", "SECONDS",                                         \
      "table create, config: age after which /health reports the table "     \
      "stale (0: none)")                                                     \
    X(KIND, "kind", "batch|live",                                            \
      "table create: batch (loaded by version) or live (SET/DEL); default "  \
      "batch")

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
    const char *zk_auth;       /* --zk-auth, or NULL */
    const char *env_password;  /* $LARDER_PASSWORD (set by the caller) */
    int timeout_ms;
    uint32_t sample;        /* diff --sample */
    const char *seeds;      /* --seeds, or NULL */
    const char *zone;       /* --zone, or NULL */
    uint32_t capacity;      /* --capacity (default CLI_DEFAULT_CAPACITY) */
    uint32_t partitions;    /* --partitions (default CLI_DEFAULT_PARTITIONS) */
    uint32_t replication;   /* --replication; 0 means "all" */
    const char *fallback_key; /* --fallback-key ("" clears), or NULL */
    uint64_t max_age_s;     /* --max-age */
    bool kind_live;         /* --kind live */
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

/*
 * Splits a --seeds list "host:port,host:port" into at most max addresses,
 * each a malloc'd string in out[0, *n) (free each with free()). Returns 0,
 * or -1 with a message in err (an empty entry, one without ":PORT", a port
 * outside 1..65535, more than max) and nothing to free.
 */
int cli_args_split_seeds(const char *list, char **out, size_t max,
                         size_t *n, char *err, size_t errlen);

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
