/*
 * This file implements the commands of the admin CLI declared in
 * commands.h. Each command is one row of the command table below (name,
 * arguments, the options it accepts, its help line, and the function that
 * runs it); dispatch, argument counts, option checks and help text all
 * come from that table.
 *
 * Membership commands (tables, versions, active, activate, rollback) talk
 * to the membership backend through membership.h and activation.h. get and
 * mget find a live member in the membership (or take --node), connect to
 * it with the blocking RESP client and send T.GET / T.MGET; values that are
 * stored rows (msgpack maps) are shown as JSON (value_format.h). diff reads
 * two versions' manifests and segments from the store their records name
 * (manifest_fetch.h) and compares them (version_diff.h).
 *
 * A command builds its standard output in memory and writes it at the end,
 * so a failure half-way never leaves half a table or half a JSON document
 * on stdout; messages go to stderr, prefixed "larder: ".
 */
#include "commands.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "activation.h"
#include "buf.h"
#include "json_writer.h"
#include "manifest_fetch.h"
#include "membership.h"
#include "node_status.h"
#include "resp_client.h"
#include "text_table.h"
#include "value_format.h"
#include "version_diff.h"

/* Options every command accepts. */
#define CLI_GLOBAL_OPTS (CLI_OPT(MEMBERSHIP) | CLI_OPT(JSON) | CLI_OPT(HELP))

/* Options of the commands that read from a node. */
#define CLI_NODE_OPTS (CLI_OPT(NODE) | CLI_OPT(TIMEOUT) | CLI_OPT(USER) | \
                       CLI_OPT(PASSWORD_FILE))
#define CLI_READ_OPTS (CLI_OPT(VERSION) | CLI_NODE_OPTS)

/* What a running command has at hand. */
struct cli_ctx {
    const struct cli_args *a;
    FILE *err;
    struct membership *m; /* opened on first use, closed by cli_run */
    struct buf text;      /* standard output, written at the end */
};

struct cli_command {
    const char *name;
    const char *args;    /* usage after the name */
    const char *summary;
    const char *detail;  /* more for the command's own help, or NULL */
    size_t min_pos;      /* arguments after the command name */
    size_t max_pos;      /* SIZE_MAX: any number */
    unsigned opts;       /* command-specific options accepted */
    int (*run)(struct cli_ctx *c);
};

static int cmd_tables(struct cli_ctx *c);
static int cmd_versions(struct cli_ctx *c);
static int cmd_active(struct cli_ctx *c);
static int cmd_activate(struct cli_ctx *c);
static int cmd_rollback(struct cli_ctx *c);
static int cmd_get(struct cli_ctx *c);
static int cmd_mget(struct cli_ctx *c);
static int cmd_diff(struct cli_ctx *c);
static int cmd_status(struct cli_ctx *c);

static const struct cli_command commands[] = {
    {"tables", "", "table configs and the active version of each", NULL, 0,
     0, 0, cmd_tables},
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
     "Rows (msgpack maps) are shown as JSON. Exits 1 if the key is absent.",
     2, 2, CLI_READ_OPTS, cmd_get},
    {"mget", "TABLE KEY...", "read keys from one version on a live node",
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
    {"status", "", "health and freshness of a live node's tables",
     "Asks the node (--node, or a live member) for INFO batch and shows its "
     "health\n(ok, degraded with the reasons, starting, stopping) and, per "
     "batch table, the\nactive version, its age and its max age. Exits 1 "
     "unless the node is ok.", 0, 0, CLI_NODE_OPTS,
     cmd_status},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

__attribute__((format(printf, 3, 4)))
static int say(struct cli_ctx *c, int code, const char *fmt, ...)
{
    va_list ap;
    fputs("larder: ", c->err);
    va_start(ap, fmt);
    vfprintf(c->err, fmt, ap);
    va_end(ap);
    fputc('\n', c->err);
    return code;
}

/* The exit code for a membership failure: I/O means unreachable. */
static int memb_exit(enum memb_status st)
{
    return st == MEMB_ERR ? CLI_EXIT_UNREACHABLE : CLI_EXIT_NOTFOUND;
}

/* ---- help ------------------------------------------------------------ */

static void print_option(FILE *f, int bit)
{
    const struct cli_option_info *o = &cli_options[bit];
    char left[64];
    snprintf(left, sizeof(left), "--%s%s%s", o->name, o->value ? " " : "",
             o->value ? o->value : "");
    fprintf(f, "  %-24s %s\n", left, o->help);
}

static void print_usage(FILE *f)
{
    fputs("usage: larder [--membership URI] [--json] <command> [arguments]"
          "\n\nThe admin CLI of larder: tables, versions, activation, "
          "rollback, reads.\n\nCommands:\n", f);
    for (size_t i = 0; i < NCOMMANDS; i++) {
        char left[64];
        snprintf(left, sizeof(left), "%s %s", commands[i].name,
                 commands[i].args);
        fprintf(f, "  %-24s %s\n", left, commands[i].summary);
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

static const struct cli_command *find_command(const char *name)
{
    for (size_t i = 0; i < NCOMMANDS; i++) {
        if (strcmp(commands[i].name, name) == 0) {
            return &commands[i];
        }
    }
    return NULL;
}

/* ---- shared helpers ---------------------------------------------------- */

/*
 * Opens the membership named by --membership once. A local: directory must
 * exist already: a typo must not quietly create an empty cluster.
 */
static int open_membership(struct cli_ctx *c)
{
    if (c->m != NULL) {
        return CLI_EXIT_OK;
    }
    const char *uri = c->a->membership;
    if (strncmp(uri, "local:", 6) == 0) {
        struct stat st;
        if (stat(uri + 6, &st) != 0 || !S_ISDIR(st.st_mode)) {
            return say(c, CLI_EXIT_UNREACHABLE,
                       "cannot open membership %s: no such directory %s "
                       "(set --membership or LARDER_MEMBERSHIP)",
                       uri, uri + 6);
        }
    }
    char err[512] = "";
    enum memb_status st = membership_open(uri, &c->m, err, sizeof(err));
    if (st != MEMB_OK) {
        c->m = NULL;
        return say(c, CLI_EXIT_UNREACHABLE, "cannot open membership %s: %s",
                   uri, err[0] ? err : memb_status_name(st));
    }
    return CLI_EXIT_OK;
}

/* Reports a failed membership call made for `what`. */
static int memb_failed(struct cli_ctx *c, enum memb_status st,
                       const char *what)
{
    return say(c, memb_exit(st), "%s: %s", what,
               st == MEMB_ERR || st == MEMB_INVALID ? membership_error(c->m)
                                                    : memb_status_name(st));
}

/* The version of table in an active map, or 0 if it has none. */
static uint64_t active_version(const struct memb_active *a, const char *table)
{
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->entries[i].table, table) == 0) {
            return a->entries[i].version;
        }
    }
    return 0;
}

/* Formats Unix milliseconds as "2024-05-01T12:00:00Z" ("-" if unset). */
static void format_time(int64_t ms, char *out, size_t outlen)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (ms <= 0 || gmtime_r(&s, &tm) == NULL ||
        strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0) {
        snprintf(out, outlen, "-");
    }
}

/* Appends a rendered table to the output; false if memory ran out. */
static int emit_table(struct cli_ctx *c, struct text_table *t)
{
    bool ok = text_table_render(t, &c->text);
    text_table_deinit(t);
    return ok ? CLI_EXIT_OK : say(c, CLI_EXIT_NOTFOUND, "out of memory");
}

static const char *kind_name(enum memb_table_kind k)
{
    return k == MEMB_TABLE_LIVE ? "live" : "batch";
}

/* ---- tables, versions, active ------------------------------------------ */

static int cmd_tables(struct cli_ctx *c)
{
    int rc = open_membership(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct memb_table *tables = NULL;
    size_t n = 0;
    enum memb_status st = membership_table_list(c->m, &tables, &n);
    if (st != MEMB_OK) {
        return memb_failed(c, st, "cannot list tables");
    }
    struct memb_active act = {0};
    st = membership_active_get(c->m, &act);
    if (st != MEMB_OK) {
        free(tables);
        return memb_failed(c, st, "cannot read the active map");
    }
    if (c->a->json) {
        struct json_writer w;
        jw_init(&w, &c->text);
        jw_array_begin(&w);
        for (size_t i = 0; i < n; i++) {
            const struct memb_table *t = &tables[i];
            uint64_t v = active_version(&act, t->name);
            jw_object_begin(&w);
            jw_key_str(&w, "table");
            jw_str(&w, t->name);
            jw_key_str(&w, "kind");
            jw_str(&w, kind_name(t->kind));
            jw_key_str(&w, "partitions");
            jw_u64(&w, t->partitions);
            jw_key_str(&w, "replication");
            if (t->replication == 0) {
                jw_str(&w, "all");
            } else {
                jw_u64(&w, t->replication);
            }
            jw_key_str(&w, "fallback_key");
            if (t->fallback_key[0]) {
                jw_str(&w, t->fallback_key);
            } else {
                jw_null(&w);
            }
            jw_key_str(&w, "max_age_s");
            jw_u64(&w, t->max_age_s);
            jw_key_str(&w, "dims");
            jw_u64(&w, t->dims);
            jw_key_str(&w, "active_version");
            if (v != 0) {
                jw_u64(&w, v);
            } else {
                jw_null(&w);
            }
            jw_object_end(&w);
        }
        jw_array_end(&w);
        buf_append(&c->text, "\n", 1);
    } else if (n == 0) {
        buf_printf(&c->text, "no tables in %s\n", c->a->membership);
    } else {
        const char *hdr[] = {"TABLE", "KIND", "PARTITIONS", "REPLICATION",
                             "ACTIVE"};
        struct text_table t;
        text_table_init(&t, 5, hdr);
        for (size_t i = 0; i < n; i++) {
            char parts[24], repl[24], ver[24];
            uint64_t v = active_version(&act, tables[i].name);
            snprintf(parts, sizeof(parts), "%u", tables[i].partitions);
            if (tables[i].replication == 0) {
                snprintf(repl, sizeof(repl), "all");
            } else {
                snprintf(repl, sizeof(repl), "%u", tables[i].replication);
            }
            if (v != 0) {
                snprintf(ver, sizeof(ver), "%llu", (unsigned long long)v);
            } else {
                snprintf(ver, sizeof(ver), "-");
            }
            const char *row[] = {tables[i].name, kind_name(tables[i].kind),
                                 parts, repl, ver};
            text_table_add(&t, row);
        }
        rc = emit_table(c, &t);
    }
    membership_active_free(&act);
    free(tables);
    return rc;
}

static int cmd_versions(struct cli_ctx *c)
{
    const char *table = c->a->pos[0];
    if (!cli_valid_table_name(table)) {
        return say(c, CLI_EXIT_USAGE, "\"%s\" is not a table name", table);
    }
    int rc = open_membership(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct memb_version *vs = NULL;
    size_t n = 0;
    enum memb_status st = membership_version_list(c->m, table, &vs, &n);
    if (st == MEMB_NOTFOUND) {
        return say(c, CLI_EXIT_NOTFOUND, "no table %s", table);
    }
    if (st != MEMB_OK) {
        return memb_failed(c, st, "cannot list versions");
    }
    struct memb_active act = {0};
    st = membership_active_get(c->m, &act);
    if (st != MEMB_OK) {
        free(vs);
        return memb_failed(c, st, "cannot read the active map");
    }
    uint64_t active = active_version(&act, table);
    membership_active_free(&act);
    if (c->a->json) {
        struct json_writer w;
        jw_init(&w, &c->text);
        jw_array_begin(&w);
        for (size_t i = 0; i < n; i++) {
            const struct memb_version *v = &vs[i];
            char created[32];
            format_time(v->created_ms, created, sizeof(created));
            jw_object_begin(&w);
            jw_key_str(&w, "version");
            jw_u64(&w, v->version);
            jw_key_str(&w, "state");
            jw_str(&w, memb_version_state_name(v->state));
            jw_key_str(&w, "active");
            jw_bool(&w, v->version == active);
            jw_key_str(&w, "rows");
            jw_u64(&w, v->rows);
            jw_key_str(&w, "bytes");
            jw_u64(&w, v->bytes);
            jw_key_str(&w, "partitions");
            jw_u64(&w, v->partitions);
            jw_key_str(&w, "format");
            jw_u64(&w, v->format);
            jw_key_str(&w, "run_id");
            jw_str(&w, v->run_id);
            jw_key_str(&w, "push_id");
            jw_str(&w, v->push_id);
            jw_key_str(&w, "created_ms");
            jw_i64(&w, v->created_ms);
            jw_key_str(&w, "created");
            jw_str(&w, created);
            jw_key_str(&w, "manifest_uri");
            jw_str(&w, v->manifest_uri);
            jw_key_str(&w, "manifest_checksum");
            char sum[24];
            snprintf(sum, sizeof(sum), "%016llx",
                     (unsigned long long)v->manifest_checksum);
            jw_str(&w, sum);
            jw_object_end(&w);
        }
        jw_array_end(&w);
        buf_append(&c->text, "\n", 1);
    } else if (n == 0) {
        buf_printf(&c->text, "table %s has no versions\n", table);
    } else {
        const char *hdr[] = {"VERSION", "STATE", "ROWS", "BYTES", "RUN ID",
                             "CREATED", "ACTIVE"};
        struct text_table t;
        text_table_init(&t, 7, hdr);
        for (size_t i = 0; i < n; i++) {
            const struct memb_version *v = &vs[i];
            char ver[24], rows[24], bytes[24], created[32];
            snprintf(ver, sizeof(ver), "%llu",
                     (unsigned long long)v->version);
            snprintf(rows, sizeof(rows), "%llu", (unsigned long long)v->rows);
            snprintf(bytes, sizeof(bytes), "%llu",
                     (unsigned long long)v->bytes);
            format_time(v->created_ms, created, sizeof(created));
            const char *row[] = {ver, memb_version_state_name(v->state),
                                 rows, bytes,
                                 v->run_id[0] ? v->run_id : "-", created,
                                 v->version == active ? "yes" : "-"};
            text_table_add(&t, row);
        }
        rc = emit_table(c, &t);
    }
    free(vs);
    return rc;
}

/* Writes an active map's tables as a JSON object {table: version}. */
static void json_map(struct json_writer *w, const struct memb_active *a)
{
    jw_object_begin(w);
    for (size_t i = 0; i < a->n; i++) {
        jw_key_str(w, a->entries[i].table);
        jw_u64(w, a->entries[i].version);
    }
    jw_object_end(w);
}

static int cmd_active(struct cli_ctx *c)
{
    int rc = open_membership(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct memb_active act = {0};
    enum memb_status st = membership_active_get(c->m, &act);
    if (st != MEMB_OK) {
        return memb_failed(c, st, "cannot read the active map");
    }
    char changed[32];
    format_time(act.changed_ms, changed, sizeof(changed));
    if (c->a->json) {
        struct json_writer w;
        jw_init(&w, &c->text);
        jw_object_begin(&w);
        jw_key_str(&w, "generation");
        jw_u64(&w, act.generation);
        jw_key_str(&w, "changed_ms");
        jw_i64(&w, act.changed_ms);
        jw_key_str(&w, "changed");
        jw_str(&w, changed);
        jw_key_str(&w, "tables");
        json_map(&w, &act);
        jw_object_end(&w);
        buf_append(&c->text, "\n", 1);
    } else if (act.generation == 0) {
        buf_printf(&c->text, "generation 0: nothing activated yet\n");
    } else {
        buf_printf(&c->text, "generation %llu (changed %s)\n",
                   (unsigned long long)act.generation, changed);
        const char *hdr[] = {"TABLE", "VERSION"};
        struct text_table t;
        text_table_init(&t, 2, hdr);
        for (size_t i = 0; i < act.n; i++) {
            char ver[24];
            snprintf(ver, sizeof(ver), "%llu",
                     (unsigned long long)act.entries[i].version);
            const char *row[] = {act.entries[i].table, ver};
            text_table_add(&t, row);
        }
        rc = emit_table(c, &t);
    }
    membership_active_free(&act);
    return rc;
}

/* ---- activate, rollback ------------------------------------------------ */

/*
 * Prints what changed between two active maps (both sorted by table): the
 * new generation, then "table: old -> new" per changed table.
 */
static void print_changes(struct cli_ctx *c, const struct memb_active *old,
                          const struct memb_active *now)
{
    struct json_writer w;
    if (c->a->json) {
        jw_init(&w, &c->text);
        jw_object_begin(&w);
        jw_key_str(&w, "generation");
        jw_u64(&w, now->generation);
        jw_key_str(&w, "changes");
        jw_array_begin(&w);
    } else {
        buf_printf(&c->text, "generation %llu\n",
                   (unsigned long long)now->generation);
    }
    size_t i = 0, j = 0, changes = 0;
    while (i < old->n || j < now->n) {
        int cmp = i == old->n   ? 1
                  : j == now->n ? -1
                                : strcmp(old->entries[i].table,
                                         now->entries[j].table);
        const char *table = cmp <= 0 ? old->entries[i].table
                                     : now->entries[j].table;
        uint64_t from = cmp <= 0 ? old->entries[i].version : 0;
        uint64_t to = cmp >= 0 ? now->entries[j].version : 0;
        i += cmp <= 0;
        j += cmp >= 0;
        if (from == to) {
            continue;
        }
        changes++;
        if (c->a->json) {
            jw_object_begin(&w);
            jw_key_str(&w, "table");
            jw_str(&w, table);
            jw_key_str(&w, "from");
            if (from != 0) {
                jw_u64(&w, from);
            } else {
                jw_null(&w);
            }
            jw_key_str(&w, "to");
            if (to != 0) {
                jw_u64(&w, to);
            } else {
                jw_null(&w);
            }
            jw_object_end(&w);
            continue;
        }
        char a[24] = "(none)", b[24] = "(none)";
        if (from != 0) {
            snprintf(a, sizeof(a), "%llu", (unsigned long long)from);
        }
        if (to != 0) {
            snprintf(b, sizeof(b), "%llu", (unsigned long long)to);
        }
        buf_printf(&c->text, "%s: %s -> %s\n", table, a, b);
    }
    if (c->a->json) {
        jw_array_end(&w);
        jw_key_str(&w, "tables");
        json_map(&w, now);
        jw_object_end(&w);
        buf_append(&c->text, "\n", 1);
    } else if (changes == 0) {
        buf_printf(&c->text, "no table changed\n");
    }
}

/*
 * Prints the change from the map `now` replaced: read back from history
 * (exact, even if someone else changed the map meanwhile), else the map
 * read before the change.
 */
static void report_change(struct cli_ctx *c, const struct memb_active *before,
                          const struct memb_active *now)
{
    struct memb_active old = {0};
    if (now->generation > 1 &&
        membership_active_get_generation(c->m, now->generation - 1, &old) ==
            MEMB_OK) {
        print_changes(c, &old, now);
        membership_active_free(&old);
        return;
    }
    print_changes(c, before, now);
}

/*
 * True when every partition of table/version has at least `need` ready
 * replicas. A version that does not exist counts as ready here, so that
 * activation_apply() reports it with its own message.
 */
static bool version_ready(struct membership *m, const char *table,
                          uint64_t version, uint32_t need)
{
    struct memb_version v;
    if (membership_version_get(m, table, version, &v) != MEMB_OK ||
        v.partitions == 0) {
        return true;
    }
    uint32_t *counts = calloc(v.partitions, sizeof(*counts));
    if (counts == NULL) {
        return true;
    }
    bool ready = membership_ready_count(m, table, version, v.partitions,
                                        counts) == MEMB_OK;
    for (uint32_t p = 0; ready && p < v.partitions; p++) {
        ready = counts[p] >= need;
    }
    free(counts);
    return ready;
}

/*
 * activate --wait: polls readiness every 100 ms until every pair is ready,
 * a node refuses one of them, or wait_s seconds pass; activation_apply()
 * then gives the verdict.
 */
static void wait_until_ready(struct cli_ctx *c,
                             const struct activation_pair *pairs, size_t n)
{
    uint32_t need = c->a->min_replicas ? c->a->min_replicas : 1;
    for (uint64_t waited_ms = 0; waited_ms < (uint64_t)c->a->wait_s * 1000;
         waited_ms += 100) {
        bool all = true;
        for (size_t i = 0; i < n && all; i++) {
            char node[MEMB_FIELD_MAX], reason[MEMB_FIELD_MAX];
            if (membership_refusal_get(c->m, pairs[i].table, pairs[i].version,
                                       node, reason) == MEMB_OK) {
                return;
            }
            all = version_ready(c->m, pairs[i].table, pairs[i].version, need);
        }
        if (all) {
            return;
        }
        struct timespec ts = {0, 100 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static int cmd_activate(struct cli_ctx *c)
{
    const struct cli_args *a = c->a;
    struct activation_pair *pairs = calloc(a->npos, sizeof(*pairs));
    if (pairs == NULL) {
        return say(c, CLI_EXIT_NOTFOUND, "out of memory");
    }
    for (size_t i = 0; i < a->npos; i++) {
        char err[256];
        if (cli_args_parse_pair(a->pos[i], pairs[i].table,
                                sizeof(pairs[i].table), &pairs[i].version,
                                err, sizeof(err)) < 0) {
            free(pairs);
            return say(c, CLI_EXIT_USAGE, "%s", err);
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(pairs[k].table, pairs[i].table) == 0) {
                say(c, CLI_EXIT_USAGE, "table %s given twice",
                    pairs[i].table);
                free(pairs);
                return CLI_EXIT_USAGE;
            }
        }
    }
    int rc = open_membership(c);
    if (rc != CLI_EXIT_OK) {
        free(pairs);
        return rc;
    }
    wait_until_ready(c, pairs, a->npos);
    struct memb_active before = {0};
    (void)membership_active_get(c->m, &before);
    struct activation_options o = {.force = a->force,
                                   .min_replicas = a->min_replicas};
    struct memb_active now = {0};
    char err[1024] = "";
    enum memb_status st =
        activation_apply(c->m, pairs, a->npos, &o, &now, err, sizeof(err));
    free(pairs);
    if (st != MEMB_OK) {
        membership_active_free(&before);
        return say(c, memb_exit(st), "activation refused: %s",
                   err[0] ? err : memb_status_name(st));
    }
    report_change(c, &before, &now);
    membership_active_free(&before);
    membership_active_free(&now);
    return CLI_EXIT_OK;
}

static int cmd_rollback(struct cli_ctx *c)
{
    int rc = open_membership(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct memb_active before = {0};
    (void)membership_active_get(c->m, &before);
    struct memb_active now = {0};
    char err[1024] = "";
    enum memb_status st = activation_rollback(c->m, &now, err, sizeof(err));
    if (st != MEMB_OK) {
        membership_active_free(&before);
        if (st == MEMB_NOTFOUND) {
            return say(c, CLI_EXIT_NOTFOUND, "%s",
                       err[0] ? err : "nothing to roll back to");
        }
        return say(c, memb_exit(st), "rollback refused: %s",
                   err[0] ? err : memb_status_name(st));
    }
    report_change(c, &before, &now);
    membership_active_free(&before);
    membership_active_free(&now);
    return CLI_EXIT_OK;
}

/* ---- get, mget ---------------------------------------------------------- */

/* Longest password read from --password-file or $LARDER_PASSWORD. */
#define CLI_PASSWORD_MAX 512

/*
 * The password to AUTH with, into pw: the first line of --password-file,
 * else $LARDER_PASSWORD, else none (pw = ""). A password is never taken
 * from the command line, where other users of the machine could read it.
 */
static int read_password(struct cli_ctx *c, char *pw, size_t pwlen)
{
    pw[0] = '\0';
    if (c->a->password_file == NULL) {
        if (c->a->env_password != NULL) {
            if (strlen(c->a->env_password) >= pwlen) {
                return say(c, CLI_EXIT_USAGE, "$LARDER_PASSWORD is longer "
                           "than %zu bytes", pwlen - 1);
            }
            snprintf(pw, pwlen, "%s", c->a->env_password);
        }
        return CLI_EXIT_OK;
    }
    FILE *f = fopen(c->a->password_file, "r");
    if (f == NULL) {
        return say(c, CLI_EXIT_USAGE, "--password-file %s: %s",
                   c->a->password_file, strerror(errno));
    }
    bool got = fgets(pw, (int)pwlen, f) != NULL;
    fclose(f);
    size_t n = got ? strcspn(pw, "\r\n") : 0;
    if (!got || n == 0) {
        return say(c, CLI_EXIT_USAGE, "--password-file %s is empty",
                   c->a->password_file);
    }
    if (pw[n] == '\0' && n == pwlen - 1) {
        return say(c, CLI_EXIT_USAGE, "--password-file %s: the password is "
                   "longer than %zu bytes", c->a->password_file, pwlen - 1);
    }
    pw[n] = '\0';
    return CLI_EXIT_OK;
}

/*
 * Authenticates a fresh connection when a password was given (AUTH pw, or
 * AUTH user pw with --user); closes it and says why on failure.
 */
static int authenticate(struct cli_ctx *c, struct resp_client **cl)
{
    char pw[CLI_PASSWORD_MAX + 1];
    int rc = read_password(c, pw, sizeof(pw));
    if (rc != CLI_EXIT_OK || pw[0] == '\0') {
        if (rc == CLI_EXIT_OK && c->a->user != NULL) {
            rc = say(c, CLI_EXIT_USAGE, "--user needs a password: "
                     "--password-file or $LARDER_PASSWORD");
        }
        if (rc != CLI_EXIT_OK) {
            resp_client_close(cl);
        }
        return rc;
    }
    const char *argv[3] = {"AUTH"};
    int argc = 1;
    if (c->a->user != NULL) {
        argv[argc++] = c->a->user;
    }
    argv[argc++] = pw;
    struct resp_reply *r = NULL;
    char err[512] = "";
    enum resp_client_status st =
        resp_client_command(*cl, argc, argv, NULL, &r, err, sizeof(err));
    explicit_bzero(pw, sizeof(pw));
    if (st != RESP_CLIENT_OK) {
        resp_client_close(cl);
        return say(c, CLI_EXIT_UNREACHABLE, "AUTH: %s", err);
    }
    if (r->type == RESP_REPLY_ERRORMSG) {
        rc = say(c, CLI_EXIT_NOTFOUND, "%s refused AUTH%s%s: %.*s",
                 resp_client_peer(*cl), c->a->user ? " as " : "",
                 c->a->user ? c->a->user : "", (int)r->len, r->str);
        resp_client_close(cl);
    }
    resp_reply_free(r);
    return rc;
}

/*
 * Connects to --node, or else to a live member of the membership (those in
 * state "ready" first, then by id), trying each until one accepts, and
 * authenticates when a password was given.
 */
static int connect_node(struct cli_ctx *c, struct resp_client **out)
{
    char err[512] = "";
    if (c->a->node != NULL) {
        if (resp_client_connect_addr(c->a->node, c->a->timeout_ms, out, err,
                                     sizeof(err)) != RESP_CLIENT_OK) {
            return say(c, CLI_EXIT_UNREACHABLE, "%s", err);
        }
        return authenticate(c, out);
    }
    int rc = open_membership(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct memb_member *mem = NULL;
    size_t n = 0;
    enum memb_status st = membership_member_list(c->m, &mem, &n);
    if (st != MEMB_OK) {
        return memb_failed(c, st, "cannot list members");
    }
    size_t tried = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (size_t i = 0; i < n; i++) {
            bool ready = strcmp(mem[i].state, "ready") == 0;
            if (!mem[i].live || mem[i].addr[0] == '\0' ||
                ready != (pass == 0)) {
                continue;
            }
            tried++;
            if (resp_client_connect_addr(mem[i].addr, c->a->timeout_ms, out,
                                         err, sizeof(err)) ==
                RESP_CLIENT_OK) {
                free(mem);
                return authenticate(c, out);
            }
        }
    }
    free(mem);
    if (tried == 0) {
        return say(c, CLI_EXIT_UNREACHABLE,
                   "no live node in %s (%zu member%s; use --node IP:PORT)",
                   c->a->membership, n, n == 1 ? "" : "s");
    }
    return say(c, CLI_EXIT_UNREACHABLE, "cannot reach any live node: %s",
               err);
}

/*
 * Sends keys[0, nkeys) of table as T.GET (single) or T.MGET and returns the
 * reply; an error reply or a connection failure is reported here.
 */
static int fetch(struct cli_ctx *c, bool single, const char *table,
                 const char *const *keys, size_t nkeys,
                 struct resp_reply **reply, struct resp_client **cl)
{
    int rc = connect_node(c, cl);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    size_t argc = nkeys + 4;
    const char **argv = calloc(argc, sizeof(*argv));
    if (argv == NULL) {
        return say(c, CLI_EXIT_NOTFOUND, "out of memory");
    }
    size_t k = 0;
    char ver[24];
    argv[k++] = single ? "T.GET" : "T.MGET";
    argv[k++] = table;
    for (size_t i = 0; i < nkeys; i++) {
        argv[k++] = keys[i];
    }
    if (c->a->seen & CLI_OPT(VERSION)) {
        snprintf(ver, sizeof(ver), "%llu", (unsigned long long)c->a->version);
        argv[k++] = "VERSION";
        argv[k++] = ver;
    }
    char err[512] = "";
    enum resp_client_status st =
        resp_client_command(*cl, (int)k, argv, NULL, reply, err, sizeof(err));
    free(argv);
    if (st != RESP_CLIENT_OK) {
        return say(c, CLI_EXIT_UNREACHABLE, "%s", err);
    }
    if ((*reply)->type == RESP_REPLY_ERRORMSG) {
        return say(c, CLI_EXIT_NOTFOUND, "%s: %s", resp_client_peer(*cl),
                   (*reply)->str);
    }
    return CLI_EXIT_OK;
}

/* True if r carries a value (as bytes); false for a null. */
static bool reply_value(const struct resp_reply *r)
{
    return r->type == RESP_REPLY_BULK || r->type == RESP_REPLY_STATUS ||
           r->type == RESP_REPLY_VERBATIM;
}

/* Appends one key's result: a JSON object, or a human line. */
static void emit_value(struct cli_ctx *c, struct json_writer *w,
                       const char *key, const struct resp_reply *r,
                       bool with_key)
{
    bool found = reply_value(r);
    if (c->a->json) {
        jw_object_begin(w);
        jw_key_str(w, "key");
        jw_str(w, key);
        jw_key_str(w, "value");
        enum value_kind kind = VALUE_TEXT;
        if (found) {
            kind = value_write_json(w, r->str, r->len);
        } else {
            jw_null(w);
        }
        jw_key_str(w, "found");
        jw_bool(w, found);
        if (kind == VALUE_BINARY) {
            jw_key_str(w, "encoding");
            jw_str(w, "base64");
        }
        jw_object_end(w);
        return;
    }
    if (with_key) {
        value_append_text(&c->text, key, strlen(key));
        buf_append(&c->text, "\t", 1);
    }
    if (found) {
        value_append_human(&c->text, r->str, r->len);
    } else {
        buf_append_str(&c->text, "(nil)");
    }
    buf_append(&c->text, "\n", 1);
}

/* Checks the table argument of get/mget. */
static int check_table_arg(struct cli_ctx *c, const char *table)
{
    if (!cli_valid_table_name(table)) {
        return say(c, CLI_EXIT_USAGE, "\"%s\" is not a table name", table);
    }
    return CLI_EXIT_OK;
}

static int cmd_get(struct cli_ctx *c)
{
    const char *table = c->a->pos[0];
    const char *key = c->a->pos[1];
    int rc = check_table_arg(c, table);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct resp_reply *r = NULL;
    struct resp_client *cl = NULL;
    rc = fetch(c, true, table, &key, 1, &r, &cl);
    if (rc == CLI_EXIT_OK && !reply_value(r) && r->type != RESP_REPLY_NULL) {
        rc = say(c, CLI_EXIT_NOTFOUND, "%s: unexpected %s reply to T.GET",
                 resp_client_peer(cl), resp_reply_type_name(r->type));
    }
    if (rc == CLI_EXIT_OK) {
        struct json_writer w;
        jw_init(&w, &c->text);
        emit_value(c, &w, key, r, false);
        if (c->a->json) {
            buf_append(&c->text, "\n", 1);
        }
        if (!reply_value(r)) {
            rc = CLI_EXIT_NOTFOUND;
        }
    }
    resp_reply_free(r);
    resp_client_close(&cl);
    return rc;
}

static int cmd_mget(struct cli_ctx *c)
{
    const char *table = c->a->pos[0];
    const char *const *keys = c->a->pos + 1;
    size_t nkeys = c->a->npos - 1;
    int rc = check_table_arg(c, table);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (!(c->a->seen & CLI_OPT(VERSION)) && nkeys >= 2 &&
        strcasecmp(keys[nkeys - 2], "VERSION") == 0) {
        return say(c, CLI_EXIT_USAGE,
                   "a key named %s cannot be second to last: the node would "
                   "read it as the VERSION option (reorder the keys or give "
                   "--version)", keys[nkeys - 2]);
    }
    struct resp_reply *r = NULL;
    struct resp_client *cl = NULL;
    rc = fetch(c, false, table, keys, nkeys, &r, &cl);
    if (rc == CLI_EXIT_OK &&
        (r->type != RESP_REPLY_ARRAY || r->elements != nkeys)) {
        rc = say(c, CLI_EXIT_NOTFOUND,
                 "%s: unexpected reply to T.MGET (%s of %zu elements for "
                 "%zu keys)", resp_client_peer(cl),
                 resp_reply_type_name(r->type), r->elements, nkeys);
    }
    if (rc == CLI_EXIT_OK) {
        struct json_writer w;
        jw_init(&w, &c->text);
        if (c->a->json) {
            jw_array_begin(&w);
        }
        for (size_t i = 0; i < nkeys; i++) {
            emit_value(c, &w, keys[i], r->element[i], true);
            if (!reply_value(r->element[i])) {
                rc = CLI_EXIT_NOTFOUND;
            }
        }
        if (c->a->json) {
            jw_array_end(&w);
            buf_append(&c->text, "\n", 1);
        }
    }
    resp_reply_free(r);
    resp_client_close(&cl);
    return rc;
}

/* ---- diff --------------------------------------------------------------- */

/* One version being compared: its record, manifest and store. */
struct diff_input {
    struct memb_version rec;
    struct manifest manifest;
    struct store *store;
};

static void diff_input_free(struct diff_input *in)
{
    manifest_free(&in->manifest);
    store_close(&in->store);
}

/* Reads table/version's record and manifest into in; an exit code. */
static int diff_open(struct cli_ctx *c, const char *table, uint64_t version,
                     struct diff_input *in)
{
    enum memb_status st = membership_version_get(c->m, table, version,
                                                 &in->rec);
    if (st == MEMB_NOTFOUND) {
        return say(c, CLI_EXIT_NOTFOUND, "table %s has no version %llu",
                   table, (unsigned long long)version);
    }
    if (st != MEMB_OK) {
        return memb_failed(c, st, "cannot read the version record");
    }
    if (in->rec.manifest_uri[0] == '\0') {
        return say(c, CLI_EXIT_NOTFOUND, "%s version %llu has no manifest "
                   "(state %s)", table, (unsigned long long)version,
                   memb_version_state_name(in->rec.state));
    }
    char err[1024];
    if (manifest_fetch(in->rec.manifest_uri, in->rec.manifest_checksum,
                       table, version, &in->manifest, &in->store, err,
                       sizeof(err)) != 0) {
        return say(c, CLI_EXIT_UNREACHABLE, "%s version %llu: %s", table,
                   (unsigned long long)version, err);
    }
    return CLI_EXIT_OK;
}

/* True if s[0, n) is valid UTF-8. */
static bool is_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t k = jw_utf8_seq((const unsigned char *)s + i, n - i);
        if (k == 0) {
            return false;
        }
        i += k;
    }
    return true;
}

static void json_diff_side(struct json_writer *w, const char *name,
                           const struct diff_input *in)
{
    jw_key_str(w, name);
    jw_object_begin(w);
    jw_key_str(w, "version");
    jw_u64(w, in->rec.version);
    jw_key_str(w, "state");
    jw_str(w, memb_version_state_name(in->rec.state));
    jw_key_str(w, "rows");
    jw_u64(w, in->manifest.rows);
    jw_key_str(w, "partitions");
    jw_u64(w, in->manifest.partitions);
    jw_object_end(w);
}

/* A changed key as JSON: key, from, to, and which of them are base64. */
static void json_change(struct json_writer *w,
                        const struct version_diff_change *ch)
{
    jw_object_begin(w);
    bool key_text = is_utf8(ch->key, ch->klen);
    jw_key_str(w, "key");
    if (key_text) {
        jw_string(w, ch->key, ch->klen);
    } else {
        struct buf b64 = {0};
        value_append_base64(&b64, ch->key, ch->klen);
        jw_string(w, b64.data ? b64.data : "", b64.len);
        buf_deinit(&b64);
    }
    jw_key_str(w, "from");
    enum value_kind from = value_write_json(w, ch->from, ch->flen);
    jw_key_str(w, "to");
    enum value_kind to = value_write_json(w, ch->to, ch->tlen);
    if (!key_text) {
        jw_key_str(w, "key_encoding");
        jw_str(w, "base64");
    }
    if (from == VALUE_BINARY) {
        jw_key_str(w, "from_encoding");
        jw_str(w, "base64");
    }
    if (to == VALUE_BINARY) {
        jw_key_str(w, "to_encoding");
        jw_str(w, "base64");
    }
    jw_object_end(w);
}

static void print_diff(struct cli_ctx *c, const char *table,
                       const struct diff_input *a, const struct diff_input *b,
                       const struct version_diff *d)
{
    if (c->a->json) {
        struct json_writer w;
        jw_init(&w, &c->text);
        jw_object_begin(&w);
        jw_key_str(&w, "table");
        jw_str(&w, table);
        json_diff_side(&w, "from", a);
        json_diff_side(&w, "to", b);
        jw_key_str(&w, "added");
        jw_u64(&w, d->added);
        jw_key_str(&w, "removed");
        jw_u64(&w, d->removed);
        jw_key_str(&w, "changed");
        jw_u64(&w, d->changed);
        jw_key_str(&w, "unchanged");
        jw_u64(&w, d->unchanged);
        jw_key_str(&w, "sample");
        jw_array_begin(&w);
        for (size_t i = 0; i < d->nsample; i++) {
            json_change(&w, &d->sample[i]);
        }
        jw_array_end(&w);
        jw_object_end(&w);
        buf_append(&c->text, "\n", 1);
        return;
    }
    buf_printf(&c->text, "%s: version %llu (%s, %llu rows) -> version %llu "
               "(%s, %llu rows)\n", table,
               (unsigned long long)a->rec.version,
               memb_version_state_name(a->rec.state),
               (unsigned long long)a->manifest.rows,
               (unsigned long long)b->rec.version,
               memb_version_state_name(b->rec.state),
               (unsigned long long)b->manifest.rows);
    buf_printf(&c->text, "added      %llu\nremoved    %llu\nchanged    "
               "%llu\nunchanged  %llu\n", (unsigned long long)d->added,
               (unsigned long long)d->removed,
               (unsigned long long)d->changed,
               (unsigned long long)d->unchanged);
    if (d->nsample == 0) {
        return;
    }
    buf_printf(&c->text, "changed values (%zu of %llu):\n", d->nsample,
               (unsigned long long)d->changed);
    for (size_t i = 0; i < d->nsample; i++) {
        const struct version_diff_change *ch = &d->sample[i];
        value_append_text(&c->text, ch->key, ch->klen);
        buf_append_str(&c->text, "\n  - ");
        value_append_human(&c->text, ch->from, ch->flen);
        buf_append_str(&c->text, "\n  + ");
        value_append_human(&c->text, ch->to, ch->tlen);
        buf_append(&c->text, "\n", 1);
    }
}

static int cmd_diff(struct cli_ctx *c)
{
    const char *table = c->a->pos[0];
    uint64_t v1, v2;
    int rc = check_table_arg(c, table);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    for (int i = 1; i <= 2; i++) {
        if (cli_args_parse_version(c->a->pos[i], i == 1 ? &v1 : &v2) != 0) {
            return say(c, CLI_EXIT_USAGE, "\"%s\" is not a version number",
                       c->a->pos[i]);
        }
    }
    rc = open_membership(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct diff_input a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    rc = diff_open(c, table, v1, &a);
    if (rc == CLI_EXIT_OK) {
        rc = diff_open(c, table, v2, &b);
    }
    if (rc == CLI_EXIT_OK) {
        struct version_diff_side old = {&a.manifest, a.store};
        struct version_diff_side now = {&b.manifest, b.store};
        struct version_diff d;
        char err[1024];
        if (version_diff_compute(&old, &now, c->a->sample, &d, err,
                                 sizeof(err)) != 0) {
            rc = say(c, CLI_EXIT_UNREACHABLE, "cannot compare: %s", err);
        } else {
            print_diff(c, table, &a, &b, &d);
            version_diff_free(&d);
        }
    }
    diff_input_free(&a);
    diff_input_free(&b);
    return rc;
}

/* ---- status ------------------------------------------------------------- */

/* Formats seconds as "45s", "3m 5s", "2h 10m", "4d 3h". */
static void format_age(uint64_t s, char *out, size_t outlen)
{
    if (s < 60) {
        snprintf(out, outlen, "%llus", (unsigned long long)s);
    } else if (s < 3600) {
        snprintf(out, outlen, "%llum %llus", (unsigned long long)(s / 60),
                 (unsigned long long)(s % 60));
    } else if (s < 86400) {
        snprintf(out, outlen, "%lluh %llum", (unsigned long long)(s / 3600),
                 (unsigned long long)(s % 3600 / 60));
    } else {
        snprintf(out, outlen, "%llud %lluh", (unsigned long long)(s / 86400),
                 (unsigned long long)(s % 86400 / 3600));
    }
}

static void emit_status_json(struct cli_ctx *c, const char *peer,
                             const struct node_status *st)
{
    struct json_writer w;
    jw_init(&w, &c->text);
    jw_object_begin(&w);
    jw_key_str(&w, "node");
    jw_str(&w, peer);
    jw_key_str(&w, "health");
    jw_str(&w, st->health);
    jw_key_str(&w, "reasons");
    jw_array_begin(&w);
    for (const char *r = st->reasons; *r != '\0';) {
        const char *end = strstr(r, "; ");
        size_t n = end != NULL ? (size_t)(end - r) : strlen(r);
        jw_string(&w, r, n);
        r += n + (end != NULL ? 2 : 0);
    }
    jw_array_end(&w);
    jw_key_str(&w, "batch_state");
    jw_str(&w, st->state);
    jw_key_str(&w, "membership_reachable");
    jw_bool(&w, !st->degraded);
    jw_key_str(&w, "generation");
    jw_u64(&w, st->generation);
    jw_key_str(&w, "tables");
    jw_array_begin(&w);
    for (size_t i = 0; i < st->ntables; i++) {
        const struct node_status_table *t = &st->tables[i];
        jw_object_begin(&w);
        jw_key_str(&w, "table");
        jw_str(&w, t->name);
        jw_key_str(&w, "version");
        jw_u64(&w, t->version);
        jw_key_str(&w, "rows");
        jw_u64(&w, t->rows);
        jw_key_str(&w, "bytes");
        jw_u64(&w, t->bytes);
        jw_key_str(&w, "age_seconds");
        jw_u64(&w, t->age_s);
        jw_key_str(&w, "max_age_seconds");
        jw_u64(&w, t->max_age_s);
        jw_key_str(&w, "fresh");
        jw_bool(&w, node_status_fresh(t));
        jw_object_end(&w);
    }
    jw_array_end(&w);
    jw_object_end(&w);
    buf_append(&c->text, "\n", 1);
}

static int emit_status_text(struct cli_ctx *c, const char *peer,
                            const struct node_status *st)
{
    buf_printf(&c->text, "%s: %s, generation %llu%s\n", peer, st->health,
               (unsigned long long)st->generation,
               st->degraded ? ", membership unreachable" : "");
    for (const char *r = st->reasons; *r != '\0';) {
        const char *end = strstr(r, "; ");
        size_t n = end != NULL ? (size_t)(end - r) : strlen(r);
        buf_printf(&c->text, "  %.*s\n", (int)n, r);
        r += n + (end != NULL ? 2 : 0);
    }
    if (st->ntables == 0) {
        return CLI_EXIT_OK;
    }
    buf_append(&c->text, "\n", 1);
    const char *hdr[] = {"TABLE", "VERSION", "ROWS", "AGE", "MAX AGE",
                         "FRESH"};
    struct text_table t;
    text_table_init(&t, 6, hdr);
    for (size_t i = 0; i < st->ntables; i++) {
        const struct node_status_table *x = &st->tables[i];
        char version[24], rows[24], age[32], max_age[32];
        snprintf(version, sizeof(version), "%llu",
                 (unsigned long long)x->version);
        snprintf(rows, sizeof(rows), "%llu", (unsigned long long)x->rows);
        format_age(x->age_s, age, sizeof(age));
        if (x->max_age_s > 0) {
            format_age(x->max_age_s, max_age, sizeof(max_age));
        } else {
            snprintf(max_age, sizeof(max_age), "-");
        }
        const char *row[] = {x->name,  version,
                             x->version ? rows : "-",
                             x->version ? age : "-", max_age,
                             x->version == 0           ? "-"
                             : node_status_fresh(x) ? "yes"
                                                    : "no"};
        text_table_add(&t, row);
    }
    return emit_table(c, &t);
}

static int cmd_status(struct cli_ctx *c)
{
    struct resp_client *cl = NULL;
    int rc = connect_node(c, &cl);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    const char *argv[] = {"INFO", "batch"};
    struct resp_reply *r = NULL;
    char err[512] = "";
    if (resp_client_command(cl, 2, argv, NULL, &r, err, sizeof(err)) !=
        RESP_CLIENT_OK) {
        rc = say(c, CLI_EXIT_UNREACHABLE, "%s", err);
    } else if (r->type == RESP_REPLY_ERRORMSG) {
        rc = say(c, CLI_EXIT_NOTFOUND, "%s: %s", resp_client_peer(cl),
                 r->str);
    } else if (!reply_value(r)) {
        rc = say(c, CLI_EXIT_NOTFOUND, "%s: unexpected %s reply to INFO",
                 resp_client_peer(cl), resp_reply_type_name(r->type));
    } else {
        struct node_status st;
        if (node_status_parse(r->str, r->len, &st, err, sizeof(err)) != 0) {
            rc = say(c, CLI_EXIT_NOTFOUND, "%s: %s", resp_client_peer(cl),
                     err);
        } else {
            if (c->a->json) {
                emit_status_json(c, resp_client_peer(cl), &st);
            } else {
                rc = emit_status_text(c, resp_client_peer(cl), &st);
            }
            if (rc == CLI_EXIT_OK && strcmp(st.health, "ok") != 0) {
                rc = CLI_EXIT_NOTFOUND;
            }
            node_status_free(&st);
        }
    }
    resp_reply_free(r);
    resp_client_close(&cl);
    return rc;
}

/* ---- dispatch ----------------------------------------------------------- */

int cli_run(const struct cli_args *a, int parse_rc, FILE *out, FILE *err)
{
    struct cli_ctx c = {.a = a, .err = err};
    if (parse_rc < 0) {
        say(&c, CLI_EXIT_USAGE, "%s", a->err);
        fputs("(see larder --help)\n", err);
        return CLI_EXIT_USAGE;
    }
    const char *name = a->command;
    bool help = a->help;
    if (name != NULL && strcmp(name, "help") == 0) {
        help = true;
        name = a->npos > 0 ? a->pos[0] : NULL;
    }
    if (name == NULL) {
        print_usage(help ? out : err);
        return help ? CLI_EXIT_OK : CLI_EXIT_USAGE;
    }
    const struct cli_command *cmd = find_command(name);
    if (cmd == NULL) {
        say(&c, CLI_EXIT_USAGE, "unknown command \"%s\" (see larder --help)",
            name);
        return CLI_EXIT_USAGE;
    }
    if (help) {
        print_command_help(out, cmd);
        return CLI_EXIT_OK;
    }
    unsigned extra = a->seen & ~(cmd->opts | CLI_GLOBAL_OPTS);
    for (int bit = 0; bit < CLI_OPT_COUNT; bit++) {
        if (extra & (1u << bit)) {
            say(&c, CLI_EXIT_USAGE, "--%s does not apply to %s",
                cli_options[bit].name, cmd->name);
            print_command_usage(err, cmd);
            return CLI_EXIT_USAGE;
        }
    }
    if (a->npos < cmd->min_pos || a->npos > cmd->max_pos) {
        say(&c, CLI_EXIT_USAGE, "%s takes %s", cmd->name,
            cmd->args[0] ? cmd->args : "no arguments");
        print_command_usage(err, cmd);
        return CLI_EXIT_USAGE;
    }
    int rc = cmd->run(&c);
    if (buf_failed(&c.text)) {
        rc = say(&c, CLI_EXIT_NOTFOUND, "out of memory");
    } else if (c.text.len > 0) {
        fwrite(c.text.data, 1, c.text.len, out);
    }
    buf_deinit(&c.text);
    membership_close(&c.m);
    return rc;
}
