/*
 * larder-load: the bulk loader. This file parses the command line into a
 * load_config, installs the SIGINT/SIGTERM handler that stops a load
 * cleanly, runs load_run() and prints the result (stdout) or why it
 * failed (stderr). See docs/loader.md.
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "load.h"
#include "load_options.h"
#include "load_report.h"
#include "log.h"

#define LOAD_READY_POLL_MS 100

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    interrupted = sig;
}

static void usage(FILE *f, struct load_options *opts)
{
    fprintf(f,
            "Usage: larder-load --membership URI --store URI --table T\n"
            "                   --input PATH... --key FIELD [--option value]...\n"
            "Loads a batch table from files (see --format): reads and checks the\n"
            "input, builds one snapshot segment per partition, publishes them\n"
            "to the store, registers the version, waits until the cluster\n"
            "holds it and activates it. On any failure the active version is\n"
            "left as it was. See docs/loader.md.\n\n"
            "Options:\n"
            "  --input PATH...\n"
            "      input files or directories (a directory: its regular files,\n"
            "      sorted by name; names starting with '.' or '_' skipped; it\n"
            "      must hold _SUCCESS unless --allow-incomplete), or glob\n"
            "      patterns such as 'out/part-*.csv.gz' (matches sorted)\n");
    option_print_help((struct option *)opts, OPTION_COUNT(*opts), f);
    fprintf(f,
            "  --help\n      print this text and exit\n\n"
            "Exit codes:\n"
            "  0   loaded (or the push id already succeeded: nothing to do)\n"
            "  64  usage: bad option, or options that contradict the table\n"
            "  65  bad input: bad rows over the limit, duplicate keys, no rows,\n"
            "      a damaged (truncated) gzip file, a directory without _SUCCESS\n"
            "  66  an input file or directory is missing or unreadable, or a\n"
            "      glob matches no file\n"
            "  69  cluster not ready: readiness timeout, a node refused, the\n"
            "      table's load lock is held by another load\n"
            "  70  internal error (including local out-of-memory)\n"
            "  71  the cluster lacks memory for the version\n"
            "  74  I/O error: reading input, writing scratch files, store,\n"
            "      membership\n"
            "  75  a gate failed: --max-row-change, a schema change without\n"
            "      --allow-schema-change, activation refused (a linked run id)\n"
            "  128+N  stopped by signal N (SIGINT, SIGTERM)\n");
}

static bool is_bool_word(const char *s)
{
    static const char *const words[] = {"yes", "no", "true", "false", "1",
                                        "0"};
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcmp(s, words[i]) == 0) {
            return true;
        }
    }
    return false;
}

/*
 * Parses argv: "--name value", "--name=value", boolean flags without a
 * value, and "--input" followed by one or more paths (until the next
 * argument starting with "--"; "--input=PATH" takes one). Returns 0, 1
 * for --help, or -1 with err.
 */
static int parse_args(struct load_options *opts, int argc, char **argv,
                      const char ***inputs, size_t *ninputs, char *err,
                      size_t errlen)
{
    struct option *table = (struct option *)opts;
    size_t n = OPTION_COUNT(*opts);
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            return 1;
        }
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "unexpected argument '%s'", arg);
            return -1;
        }
        const char *eq = strchr(arg, '=');
        size_t nlen = eq ? (size_t)(eq - arg - 2) : strlen(arg + 2);
        char name[64];
        if (nlen >= sizeof(name)) {
            snprintf(err, errlen, "unknown option '%s' (see --help)", arg);
            return -1;
        }
        memcpy(name, arg + 2, nlen);
        name[nlen] = '\0';
        if (strcmp(name, "input") == 0) {
            if (eq != NULL) {
                (*inputs)[(*ninputs)++] = eq + 1;
                continue;
            }
            int first = i + 1;
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                (*inputs)[(*ninputs)++] = argv[++i];
            }
            if (i + 1 == first) {
                snprintf(err, errlen, "option '--input' needs a path");
                return -1;
            }
            continue;
        }
        struct option *o = option_find(table, n, name);
        if (o == NULL) {
            snprintf(err, errlen, "unknown option '--%s' (see --help)", name);
            return -1;
        }
        const char *value;
        if (eq != NULL) {
            value = eq + 1;
        } else if (o->type == OPTION_BOOL) {
            value = i + 1 < argc && is_bool_word(argv[i + 1]) ? argv[++i]
                                                              : "yes";
        } else if (i + 1 < argc) {
            value = argv[++i];
        } else {
            snprintf(err, errlen, "option '--%s' needs a value", name);
            return -1;
        }
        if (option_set(o, value, err, errlen) != 0) {
            return -1;
        }
    }
    return 0;
}

/* Parses a non-negative number option kept as a string. */
static int parse_double(const char *name, const char *s, double max,
                        double *out, char *err, size_t errlen)
{
    char *end;
    errno = 0;
    double d = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(d) || d < 0 ||
        d > max) {
        snprintf(err, errlen, "option '--%s' takes a number from 0 to %g, "
                 "not '%s'", name, max, s);
        return -1;
    }
    *out = d;
    return 0;
}

/* Fills c from the parsed options; 0 or -1 with err. */
static int make_config(struct load_options *o, struct load_config *c,
                       char *err, size_t errlen)
{
    c->table = o->table.str; /* early: a usage error's JSON names it */
    static const struct {
        const char *name;
        size_t off;
    } required[] = {
        {"membership", offsetof(struct load_options, membership)},
        {"store", offsetof(struct load_options, store)},
        {"table", offsetof(struct load_options, table)},
        {"key", offsetof(struct load_options, key)},
    };
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++) {
        const struct option *op =
            (const struct option *)((const char *)o + required[i].off);
        if (op->str[0] == '\0') {
            snprintf(err, errlen, "--%s is required (see --help)",
                     required[i].name);
            return -1;
        }
    }
    if (c->ninputs == 0) {
        snprintf(err, errlen, "--input is required (see --help)");
        return -1;
    }
    c->membership_uri = o->membership.str;
    c->store_uri = o->store.str;
    c->format = strcmp(o->format.str, "auto") == 0
                    ? NULL : input_format_find(o->format.str);
    c->key_field = o->key.str;
    c->fields = o->fields.str;
    c->value_field = o->value_field.str;
    if (o->partitions.num > UINT32_MAX) {
        snprintf(err, errlen, "--partitions is too large");
        return -1;
    }
    c->partitions = (uint32_t)o->partitions.num;
    c->run_id = o->run_id.str;
    c->push_id = o->push_id.str;
    if (strlen(c->run_id) >= 129 || strlen(c->push_id) >= 129) {
        snprintf(err, errlen, "--run-id and --push-id take at most 128 "
                 "bytes");
        return -1;
    }
    c->stage_only = o->stage_only.num != 0;
    c->allow_empty = o->allow_empty.num != 0;
    c->allow_incomplete = o->allow_incomplete.num != 0;
    if (o->max_bad_rows.str[0] != '\0') {
        double d;
        if (parse_double("max-bad-rows", o->max_bad_rows.str, 1e18, &d, err,
                         errlen) != 0 ||
            d != floor(d)) {
            snprintf(err, errlen, "option '--max-bad-rows' takes a "
                     "non-negative integer, not '%s'", o->max_bad_rows.str);
            return -1;
        }
        c->has_max_bad_rows = true;
        c->max_bad_rows = (uint64_t)d;
    }
    if (o->max_bad_ratio.str[0] != '\0') {
        if (parse_double("max-bad-ratio", o->max_bad_ratio.str, 1.0,
                         &c->max_bad_ratio, err, errlen) != 0) {
            return -1;
        }
        c->has_max_bad_ratio = true;
    }
    if (o->max_row_change.str[0] != '\0') {
        if (parse_double("max-row-change", o->max_row_change.str, 1e9,
                         &c->max_row_change, err, errlen) != 0) {
            return -1;
        }
        c->has_max_row_change = true;
    }
    c->allow_schema_change = o->allow_schema_change.num != 0;
    c->progress = o->progress.num != 0;
    c->on_duplicate = o->on_duplicate.num == 1 ? SNAP_DUP_LAST
                                               : SNAP_DUP_ERROR;
    c->ready_timeout_ms = o->ready_timeout.num * 1000;
    c->ready_poll_ms = LOAD_READY_POLL_MS;
    c->min_replicas = (uint32_t)o->min_replicas.num;
    c->work_dir = o->work_dir.str;
    c->build_threads = (uint32_t)o->build_threads.num;
    c->read_threads = (uint32_t)o->read_threads.num;
    c->read_piece = o->read_piece.num;
    c->build_memory = o->build_memory.num;
    c->store_retain = (uint32_t)o->store_retain.num;
    c->max_record = (size_t)o->max_record_size.num;
    c->spill_buffer = (size_t)o->spill_buffer.num;
    if (c->max_record == 0) {
        snprintf(err, errlen, "--max-record-size must be positive");
        return -1;
    }
    c->interrupted = &interrupted;
    return 0;
}

/* The --json object of a load refused before it started. */
static void print_usage_error_json(const struct load_config *c,
                                   const char *err)
{
    struct load_result *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return;
    }
    r->exit_code = LOAD_EXIT_USAGE;
    r->state = "failed";
    snprintf(r->error, sizeof(r->error), "%s", err);
    char *json = load_report_json(c, r);
    if (json != NULL) {
        printf("%s\n", json);
        free(json);
    }
    free(r);
}

int main(int argc, char **argv)
{
    static struct load_options opts = {LOAD_OPTIONS(OPTION_INIT)};
    struct option *table = (struct option *)&opts;
    size_t n = OPTION_COUNT(opts);
    char err[1024];
    if (option_load_defaults(table, n) != 0) {
        fprintf(stderr, "larder-load: internal error: bad option default\n");
        return LOAD_EXIT_INTERNAL;
    }
    const char **inputs = calloc((size_t)argc + 1, sizeof(*inputs));
    struct load_config c;
    memset(&c, 0, sizeof(c));
    if (inputs == NULL) {
        fprintf(stderr, "larder-load: out of memory\n");
        return LOAD_EXIT_INTERNAL;
    }
    int rc = parse_args(&opts, argc, argv, &inputs, &c.ninputs, err,
                        sizeof(err));
    if (rc == 1) {
        usage(stdout, &opts);
        free(inputs);
        option_free(table, n);
        return LOAD_EXIT_OK;
    }
    c.inputs = inputs;
    /* Every S3 client of the process reads its endpoint from there
     * (s3_client.h); set before any thread starts. */
    if (rc == 0 && opts.s3_endpoint.str[0] != '\0') {
        setenv("AWS_ENDPOINT_URL_S3", opts.s3_endpoint.str, 1);
    }
    if (rc == 0 && opts.zk_auth.str[0] != '\0') {
        setenv("LARDER_ZK_AUTH", opts.zk_auth.str, 1);
    }
    if (rc != 0 || make_config(&opts, &c, err, sizeof(err)) != 0) {
        fprintf(stderr, "larder-load: %s\n", err);
        if (opts.json.num) {
            print_usage_error_json(&c, err);
        }
        free(inputs);
        option_free(table, n);
        return LOAD_EXIT_USAGE;
    }
    log_set_level((enum log_level)opts.loglevel.num);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct load_result *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        fprintf(stderr, "larder-load: out of memory\n");
        free(inputs);
        option_free(table, n);
        return LOAD_EXIT_INTERNAL;
    }
    rc = load_run(&c, r);
    if (rc != 0) {
        fprintf(stderr, "larder-load: %s: load failed (exit %d): %s\n",
                c.table, rc, r->error);
    }
    if (opts.json.num) {
        char *json = load_report_json(&c, r);
        if (json != NULL) {
            printf("%s\n", json);
            free(json);
        }
    } else if (rc == 0) {
        load_report_text(stdout, &c, r);
    }
    fflush(stdout);
    free(r);
    free(inputs);
    option_free(table, n);
    return rc;
}
