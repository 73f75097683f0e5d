/*
 * This file implements the command table of the admin CLI declared in
 * commands.h: each command is one row (name, arguments, the options it
 * accepts, its help, and the function that runs it); dispatch, argument
 * counts, option checks and help text all come from that table. A name of
 * two words ("node add") is a command group: its first word on the command
 * line selects the group, its second the command.
 *
 * The commands live in their own files, grouped by what they touch:
 * version_commands.c (tables, versions, active, activate, rollback, diff),
 * read_commands.c (get, mget), status_command.c (status) and
 * cluster_commands.c (nodes, placement, table configs, drain); cli_ctx.h
 * is what they share.
 *
 * A command builds its standard output in memory and writes it at the end,
 * so a failure half-way never leaves half a table or half a JSON document
 * on stdout; messages go to stderr, prefixed "larder: ".
 */
#include "commands.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli_ctx.h"

/* Options every command accepts. */
#define CLI_GLOBAL_OPTS (CLI_OPT(MEMBERSHIP) | CLI_OPT(JSON) | CLI_OPT(HELP) | \
                         CLI_OPT(ZK_AUTH))

/* Options of the commands that talk to a node. */
#define CLI_CONN_OPTS (CLI_OPT(TIMEOUT) | CLI_OPT(USER) | \
                       CLI_OPT(PASSWORD_FILE))
#define CLI_NODE_OPTS (CLI_OPT(NODE) | CLI_CONN_OPTS)
/* Options of the commands that read the cluster view. */
#define CLI_VIEW_OPTS (CLI_OPT(SEEDS) | CLI_CONN_OPTS)
#define CLI_READ_OPTS (CLI_OPT(VERSION) | CLI_NODE_OPTS | CLI_OPT(SEEDS))
/* Options of table create and table config. */
#define CLI_TABLE_OPTS (CLI_OPT(PARTITIONS) | CLI_OPT(REPLICATION) | \
                        CLI_OPT(FALLBACK_KEY) | CLI_OPT(MAX_AGE) | \
                        CLI_OPT(KIND))

struct cli_command {
    const char *name;    /* one word, or "group command" */
    const char *args;    /* usage after the name */
    const char *summary;
    const char *detail;  /* more for the command's own help, or NULL */
    size_t min_pos;      /* arguments after the command name */
    size_t max_pos;      /* SIZE_MAX: any number */
    unsigned opts;       /* command-specific options accepted */
    int (*run)(struct cli_ctx *c);
};

static const struct cli_command commands[] = {
    {"tables", "", "table configs and the active version of each",
     "With --seeds, a node's view gives the placed tables and the active "
     "map only:\nkind, fallback key, max age and dims show as unknown.", 0,
     0, CLI_VIEW_OPTS, cmd_tables},
    {"versions", "TABLE", "every version of a table",
     "Shows version, state, rows, bytes, run id, creation time and whether "
     "it is\nthe active version.", 1, 1, 0, cmd_versions},
    {"active", "", "the active map: generation, table versions", NULL, 0, 0,
     0, cmd_active},
    {"activate", "T=V...", "switch tables to versions in one step",
     "All pairs change in one compare-and-set of the active map. Every "
     "version must\nbe staged or active and ready on --min-replicas nodes; "
     "versions loaded with\none run id go together unless --force.",
     1, SIZE_MAX, CLI_OPT(FORCE) | CLI_OPT(MIN_REPLICAS) | CLI_OPT(WAIT),
     cmd_activate},
    {"rollback", "", "restore the previous active map",
     "The map of the previous generation becomes current again, as a new\n"
     "generation, so linked tables go back together.", 0, 0, 0,
     cmd_rollback},
    {"get", "TABLE KEY", "read one key from a live node",
     "Rows (msgpack maps) are shown as JSON. Exits 1 if the key is absent. "
     "The key\ngoes to a live node holding its partition (or --node); one "
     "-WRONGNODE reply\nis followed.", 2, 2, CLI_READ_OPTS, cmd_get},
    {"mget", "TABLE KEY...", "read keys from one version on live nodes",
     "All keys are read from one version. Exits 1 if any key is absent. "
     "Without\n--version, a key named VERSION cannot be second to last (the "
     "node would read\nit as the VERSION option).", 2, SIZE_MAX,
     CLI_READ_OPTS, cmd_mget},
    {"diff", "TABLE V1 V2", "compare two versions of a batch table",
     "Counts the keys V2 adds and removes, and the keys whose value "
     "changed, and\nshows up to --sample changed values (V1's, then V2's). "
     "Reads both versions from\nthe store their records name, so staged "
     "versions can be compared before\nanyone activates them. Values print "
     "as get prints them.", 3, 3, CLI_OPT(SAMPLE), cmd_diff},
    {"status", "", "health of the cluster, or of one node with --node",
     "Without --node: members (live, state, zone, memory), partitions held, "
     "and for\nevery active version whether each partition has min(R, live "
     "members) ready\nreplicas; the verdict is healthy, or degraded with the "
     "reasons. With --node:\nthat node's INFO batch: its health (ok, "
     "degraded with the reasons, starting,\nstopping) and, per batch table, "
     "the active version, its age and its max age.\nExits 1 unless healthy "
     "(ok).", 0, 0, CLI_NODE_OPTS | CLI_OPT(SEEDS), cmd_status},
    {"nodes", "", "members: address, zone, liveness, memory, partitions",
     "PARTITIONS counts the replicas a node holds per the stored placement, "
     "and\n\"+N incoming\" those its target adds. A node the placement still "
     "names after\n`node remove` shows as removed.", 0, 0, CLI_VIEW_OPTS,
     cmd_nodes},
    {"ring", "[TABLE]", "which nodes hold each partition",
     "Per table of the stored placement, the nodes of each partition now "
     "and, where a\nmove is under way, its target.", 0, 1, CLI_VIEW_OPTS,
     cmd_ring},
    {"node add", "ID IP:PORT", "add (or update) a member, re-place",
     "Records the member (an IP address, not a name; --zone, --capacity "
     "default 100)\nand recomputes the placement; prints its generation and "
     "the partitions in\nmotion. Given an existing ID, updates its address, "
     "zone and capacity.", 2, 2, CLI_OPT(ZONE) | CLI_OPT(CAPACITY),
     cmd_node_add},
    {"node remove", "ID", "remove a member, re-place its partitions",
     "Its partitions move to the others; it keeps serving them until their "
     "new\nholders are ready.", 1, 1, 0, cmd_node_remove},
    {"rebalance", "", "re-place the partitions of members not live",
     "Recomputes the placement without the members that are not live (or "
     "are\ndraining), what a node does on its own after --rebalance-delay, "
     "and lists the\npartitions whose nodes changed. Refused while no member "
     "is live.", 0, 0, 0, cmd_rebalance},
    {"table create", "TABLE", "create a table",
     "Defaults: --kind batch, --partitions 256, --replication all. A batch "
     "table is\nplaced at once.", 1, 1, CLI_TABLE_OPTS, cmd_table_create},
    {"table config", "TABLE", "change a table's replication, fallback, "
     "max age",
     "Changing the partition count is a repartition, which larder does not "
     "do: it is\nrefused (create a new table). A batch table is re-placed "
     "when its replication\nchanges.", 1, 1, CLI_TABLE_OPTS,
     cmd_table_config},
    {"table drop", "TABLE", "remove a table, its versions and their files",
     "Deletes every version's files from the store, the table's records, "
     "and\nre-places the others. Refused while the table is active, unless "
     "--force,\nwhich first takes it out of the active map (clients then "
     "get -NOTABLE), and\nwhile a load of it runs. Version numbers are never "
     "reused.", 1, 1, CLI_OPT(FORCE), cmd_table_drop},
    {"drain", "NODE", "move a member's partitions away",
     "Marks the member draining (the mark outlives its restarts) and "
     "recomputes the\nplacement without it. Refused for the last member not "
     "draining.", 1, 1, 0, cmd_drain},
    {"undrain", "NODE", "clear a drain mark, re-place",
     NULL, 1, 1, 0, cmd_undrain},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

/* ---- help ------------------------------------------------------------ */

static void print_option(FILE *f, int bit)
{
    const struct cli_option_info *o = &cli_options[bit];
    char left[64];
    snprintf(left, sizeof(left), "--%s%s%s", o->name, o->value ? " " : "",
             o->value ? o->value : "");
    fprintf(f, "  %-26s %s\n", left, o->help);
}

static void print_usage(FILE *f)
{
    fputs("usage: larder [--membership URI] [--json] <command> [arguments]"
          "\n\nThe admin CLI of larder: tables, versions, activation, "
          "rollback, reads,\nnodes and placement.\n\nCommands:\n", f);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char left[64];
        snprintf(left, sizeof(left), "%s %s", commands[i].name,
                 commands[i].args);
        fprintf(f, "  %-26s %s\n", left, commands[i].summary);
    }
    fputs("\nOptions (anywhere on the line; \"--\" ends them):\n", f);
    for (int bit = 0; bit < CLI_OPT_COUNT; bit++) {
        print_option(f, bit);
    }
    fputs("\nExit codes: 0 ok, 1 not found or refused, 2 usage, 3 cannot "
          "reach the node, the membership or the store.\n", f);
}

static void print_command_usage(FILE *f, const struct cli_command *cmd)
{
    fprintf(f, "usage: larder %s%s%s", cmd->name, cmd->args[0] ? " " : "",
            cmd->args);
    for (int bit = 0; bit < CLI_OPT_COUNT; bit++) {
        if (cmd->opts & (1u << bit)) {
            const struct cli_option_info *o = &cli_options[bit];
            fprintf(f, " [--%s%s%s]", o->name, o->value ? " " : "",
                    o->value ? o->value : "");
        }
    }
    fputs(" [--json]\n", f);
}

static void print_command_help(FILE *f, const struct cli_command *cmd)
{
    print_command_usage(f, cmd);
    fprintf(f, "\n%c%s.\n", toupper((unsigned char)cmd->summary[0]),
            cmd->summary + 1);
    if (cmd->detail != NULL) {
        fprintf(f, "%s\n", cmd->detail);
    }
    fputs("\nOptions:\n", f);
    for (int bit = 0; bit < CLI_OPT_COUNT; bit++) {
        if ((cmd->opts | CLI_GLOBAL_OPTS) & (1u << bit)) {
            print_option(f, bit);
        }
    }
    fputs("\nExit codes: 0 ok, 1 not found or refused, 2 usage, 3 cannot "
          "reach the node, the membership or the store.\n", f);
}

/* Length of a command name's group word ("node" of "node add"), 0 if
 * the name is one word. */
static size_t group_len(const char *name)
{
    const char *sp = strchr(name, ' ');
    return sp != NULL ? (size_t)(sp - name) : 0;
}

static bool in_group(const struct cli_command *cmd, const char *group)
{
    size_t n = group_len(cmd->name);
    return n > 0 && strlen(group) == n && strncmp(cmd->name, group, n) == 0;
}

/* True if some command is in the group named word. */
static bool is_group(const char *word)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (in_group(&commands[i], word)) {
            return true;
        }
    }
    return false;
}

/*
 * The command named by word and, for a group, sub (may be NULL); *words
 * gets how many of the two it used. NULL if none.
 */
static const struct cli_command *find_command(const char *word,
                                              const char *sub, size_t *words)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const struct cli_command *cmd = &commands[i];
        if (group_len(cmd->name) == 0 && strcmp(cmd->name, word) == 0) {
            *words = 1;
            return cmd;
        }
        if (sub != NULL && in_group(cmd, word) &&
            strcmp(cmd->name + group_len(cmd->name) + 1, sub) == 0) {
            *words = 2;
            return cmd;
        }
    }
    return NULL;
}

/* "add|remove": the commands of a group, for messages. */
static void group_commands(const char *group, char *out, size_t outlen)
{
    size_t len = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (in_group(&commands[i], group) && len < outlen) {
            len += (size_t)snprintf(out + len, outlen - len, "%s%s",
                                    len ? "|" : "",
                                    commands[i].name +
                                        group_len(commands[i].name) + 1);
        }
    }
}

/* Prints the usage of every command of a group. */
static void print_group_usage(FILE *f, const char *group)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (in_group(&commands[i], group)) {
            print_command_usage(f, &commands[i]);
        }
    }
}

/* ---- dispatch ----------------------------------------------------------- */

/* Checks the options and argument count of cmd; a usage exit code. */
static int check_usage(struct cli_ctx *c, const struct cli_command *cmd)
{
    const struct cli_args *a = c->a;
    unsigned extra = a->seen & ~(cmd->opts | CLI_GLOBAL_OPTS);
    for (int bit = 0; bit < CLI_OPT_COUNT; bit++) {
        if (extra & (1u << bit)) {
            cli_say(c, CLI_EXIT_USAGE, "--%s does not apply to %s",
                    cli_options[bit].name, cmd->name);
            print_command_usage(c->err, cmd);
            return CLI_EXIT_USAGE;
        }
    }
    if ((a->seen & CLI_OPT(NODE)) && (a->seen & CLI_OPT(SEEDS))) {
        return cli_say(c, CLI_EXIT_USAGE, "--node and --seeds exclude each "
                       "other");
    }
    if (c->npos < cmd->min_pos || c->npos > cmd->max_pos) {
        cli_say(c, CLI_EXIT_USAGE, "%s takes %s", cmd->name,
                cmd->args[0] ? cmd->args : "no arguments");
        print_command_usage(c->err, cmd);
        return CLI_EXIT_USAGE;
    }
    return CLI_EXIT_OK;
}

int cli_run(const struct cli_args *a, int parse_rc, FILE *out, FILE *err)
{
    struct cli_ctx c = {.a = a, .err = err};
    if (parse_rc < 0) {
        cli_say(&c, CLI_EXIT_USAGE, "%s", a->err);
        fputs("(see larder --help)\n", err);
        return CLI_EXIT_USAGE;
    }
    const char *name = a->command;
    const char *const *pos = a->pos;
    size_t npos = a->npos;
    bool help = a->help;
    if (name != NULL && strcmp(name, "help") == 0) {
        help = true;
        name = npos > 0 ? pos[0] : NULL;
        pos += npos > 0;
        npos -= npos > 0;
    }
    if (name == NULL) {
        print_usage(help ? out : err);
        return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    size_t words = 0;
    const struct cli_command *cmd =
        find_command(name, npos > 0 ? pos[0] : NULL, &words);
    if (cmd == NULL && is_group(name)) {
        char subs[128];
        group_commands(name, subs, sizeof(subs));
        if (help && npos == 0) {
            print_group_usage(out, name);
            return CLI_EXIT_OK;
        }
        if (npos == 0) {
            cli_say(&c, CLI_EXIT_USAGE, "%s needs a command: %s", name, subs);
        } else {
            cli_say(&c, CLI_EXIT_USAGE, "unknown command \"%s %s\" (%s %s)",
                    name, pos[0], name, subs);
        }
        print_group_usage(err, name);
        return CLI_EXIT_USAGE;
    }
    if (cmd == NULL) {
        cli_say(&c, CLI_EXIT_USAGE, "unknown command \"%s\" (see larder "
                "--help)", name);
        return CLI_EXIT_USAGE;
    }
    if (help) {
        print_command_help(out, cmd);
        return CLI_EXIT_OK;
    }
    c.pos = pos + (words - 1);
    c.npos = npos - (words - 1);
    int rc = check_usage(&c, cmd);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    rc = cmd->run(&c);
    if (buf_failed(&c.text)) {
        rc = cli_say(&c, CLI_EXIT_NOTFOUND, "out of memory");
    } else if (c.text.len > 0) {
        fwrite(c.text.data, 1, c.text.len, out);
    }
    buf_deinit(&c.text);
    membership_close(&c.m);
    return rc;
}
