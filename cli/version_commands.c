/*
 * This file implements the admin CLI's commands about tables and their
 * versions: tables, versions, active, activate, rollback and diff. They
 * talk to the membership through membership.h and activation.h (tables may
 * also read a seed node's view); diff reads two versions' manifests and
 * segments from the store their records name (manifest_fetch.h) and
 * compares them (version_diff.h).
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "activation.h"
#include "cli_ctx.h"
#include "json_writer.h"
#include "manifest_fetch.h"
#include "value_format.h"
#include "version_diff.h"

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

/* Checks a table argument. */
static int check_table_arg(struct cli_ctx *c, const char *table)
{
    if (!cli_valid_table_name(table)) {
        return cli_say(c, CLI_EXIT_USAGE, "\"%s\" is not a table name",
                       table);
    }
    return CLI_EXIT_OK;
}

/* ---- tables, versions, active ------------------------------------------ */

/* One table as JSON; what the view does not know is null. */
static void json_table(struct json_writer *w, const struct cluster_table *t)
{
    jw_object_begin(w);
    jw_key_str(w, "table");
    jw_str(w, t->name);
    jw_key_str(w, "kind");
    if (t->config_known || t->partitions != 0) {
        jw_str(w, memb_table_kind_name(t->kind));
    } else {
        jw_null(w);
    }
    jw_key_str(w, "partitions");
    jw_u64(w, t->partitions);
    jw_key_str(w, "replication");
    if (t->replication == 0) {
        jw_str(w, "all");
    } else {
        jw_u64(w, t->replication);
    }
    jw_key_str(w, "fallback_key");
    if (t->config_known && t->fallback_key[0]) {
        jw_str(w, t->fallback_key);
    } else {
        jw_null(w);
    }
    jw_key_str(w, "max_age_s");
    if (t->config_known) {
        jw_u64(w, t->max_age_s);
    } else {
        jw_null(w);
    }
    jw_key_str(w, "dims");
    if (t->config_known) {
        jw_u64(w, t->dims);
    } else {
        jw_null(w);
    }
    jw_key_str(w, "active_version");
    if (t->active_version != 0) {
        jw_u64(w, t->active_version);
    } else {
        jw_null(w);
    }
    jw_object_end(w);
}

/*
 * tables: from the membership, every table config; with --seeds, the
 * tables a node's view names (placed tables and the active map), whose
 * kind, fallback key, max age and dims LARDER.VIEW does not carry.
 */
int cmd_tables(struct cli_ctx *c)
{
    struct cluster_view v;
    int rc = cli_load_view(c, &v, false);
    if (rc != CLI_EXIT_OK) {
        cluster_view_free(&v);
        return rc;
    }
    if (c->a->json) {
        struct json_writer w;
        jw_init(&w, &c->text);
        jw_array_begin(&w);
        for (size_t i = 0; i < v.ntables; i++) {
            json_table(&w, &v.tables[i]);
        }
        jw_array_end(&w);
        cli_json_done(c);
    } else if (v.ntables == 0) {
        buf_printf(&c->text, "no tables in %s\n", v.source);
    } else {
        const char *hdr[] = {"TABLE", "KIND", "PARTITIONS", "REPLICATION",
                             "ACTIVE"};
        struct text_table t;
        text_table_init(&t, 5, hdr);
        for (size_t i = 0; i < v.ntables; i++) {
            const struct cluster_table *x = &v.tables[i];
            char parts[24] = "-", repl[24], ver[24] = "-";
            if (x->partitions != 0) {
                snprintf(parts, sizeof(parts), "%u", x->partitions);
            }
            if (x->replication == 0) {
                snprintf(repl, sizeof(repl), "all");
            } else {
                snprintf(repl, sizeof(repl), "%u", x->replication);
            }
            if (x->active_version != 0) {
                snprintf(ver, sizeof(ver), "%llu",
                         (unsigned long long)x->active_version);
            }
            bool kind = x->config_known || x->partitions != 0;
            const char *row[] = {x->name,
                                 kind ? memb_table_kind_name(x->kind) : "-",
                                 parts, repl, ver};
            text_table_add(&t, row);
        }
        rc = cli_emit_table(c, &t);
    }
    cluster_view_free(&v);
    return rc;
}

int cmd_versions(struct cli_ctx *c)
{
    const char *table = c->pos[0];
    if (!cli_valid_table_name(table)) {
        return cli_say(c, CLI_EXIT_USAGE, "\"%s\" is not a table name", table);
    }
    int rc = cli_open_membership(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct memb_version *vs = NULL;
    size_t n = 0;
    enum memb_status st = membership_version_list(c->m, table, &vs, &n);
    if (st == MEMB_NOTFOUND) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "no table %s", table);
    }
    if (st != MEMB_OK) {
        return cli_memb_failed(c, st, "cannot list versions");
    }
    struct memb_active act = {0};
    st = membership_active_get(c->m, &act);
    if (st != MEMB_OK) {
        free(vs);
        return cli_memb_failed(c, st, "cannot read the active map");
    }
    uint64_t active = membership_active_version(&act, table);
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
            jw_key_str(&w, "activated_ms");
            jw_i64(&w, v->activated_ms);
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
        rc = cli_emit_table(c, &t);
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

int cmd_active(struct cli_ctx *c)
{
    int rc = cli_open_membership(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct memb_active act = {0};
    enum memb_status st = membership_active_get(c->m, &act);
    if (st != MEMB_OK) {
        return cli_memb_failed(c, st, "cannot read the active map");
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
        rc = cli_emit_table(c, &t);
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

int cmd_activate(struct cli_ctx *c)
{
    const struct cli_args *a = c->a;
    struct activation_pair *pairs = calloc(c->npos, sizeof(*pairs));
    if (pairs == NULL) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "out of memory");
    }
    for (size_t i = 0; i < c->npos; i++) {
        char err[256];
        if (cli_args_parse_pair(c->pos[i], pairs[i].table,
                                sizeof(pairs[i].table), &pairs[i].version,
                                err, sizeof(err)) < 0) {
            free(pairs);
            return cli_say(c, CLI_EXIT_USAGE, "%s", err);
        }
        for (size_t k = 0; k < i; k++) {
            if (strcmp(pairs[k].table, pairs[i].table) == 0) {
                cli_say(c, CLI_EXIT_USAGE, "table %s given twice",
                        pairs[i].table);
                free(pairs);
                return CLI_EXIT_USAGE;
            }
        }
    }
    int rc = cli_open_membership(c);
    if (rc != CLI_EXIT_OK) {
        free(pairs);
        return rc;
    }
    wait_until_ready(c, pairs, c->npos);
    struct memb_active before = {0};
    (void)membership_active_get(c->m, &before);
    struct activation_options o = {.force = a->force,
                                   .min_replicas = a->min_replicas};
    struct memb_active now = {0};
    char err[1024] = "";
    enum memb_status st =
        activation_apply(c->m, pairs, c->npos, &o, &now, err, sizeof(err));
    free(pairs);
    if (st != MEMB_OK) {
        membership_active_free(&before);
        return cli_say(c, cli_memb_exit(st), "activation refused: %s",
                       err[0] ? err : memb_status_name(st));
    }
    report_change(c, &before, &now);
    membership_active_free(&before);
    membership_active_free(&now);
    return CLI_EXIT_OK;
}

int cmd_rollback(struct cli_ctx *c)
{
    int rc = cli_open_membership(c);
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
            return cli_say(c, CLI_EXIT_NOTFOUND, "%s",
                           err[0] ? err : "nothing to roll back to");
        }
        return cli_say(c, cli_memb_exit(st), "rollback refused: %s",
                       err[0] ? err : memb_status_name(st));
    }
    report_change(c, &before, &now);
    membership_active_free(&before);
    membership_active_free(&now);
    return CLI_EXIT_OK;
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
        return cli_say(c, CLI_EXIT_NOTFOUND, "table %s has no version %llu",
                       table, (unsigned long long)version);
    }
    if (st != MEMB_OK) {
        return cli_memb_failed(c, st, "cannot read the version record");
    }
    if (in->rec.manifest_uri[0] == '\0') {
        return cli_say(c, CLI_EXIT_NOTFOUND, "%s version %llu has no manifest "
                       "(state %s)", table, (unsigned long long)version,
                       memb_version_state_name(in->rec.state));
    }
    char err[1024];
    if (manifest_fetch(in->rec.manifest_uri, in->rec.manifest_checksum,
                       table, version, &in->manifest, &in->store, err,
                       sizeof(err)) != 0) {
        return cli_say(c, CLI_EXIT_UNREACHABLE, "%s version %llu: %s", table,
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

int cmd_diff(struct cli_ctx *c)
{
    const char *table = c->pos[0];
    uint64_t v1, v2;
    int rc = check_table_arg(c, table);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    for (int i = 1; i <= 2; i++) {
        if (cli_args_parse_version(c->pos[i], i == 1 ? &v1 : &v2) != 0) {
            return cli_say(c, CLI_EXIT_USAGE, "\"%s\" is not a version number",
                           c->pos[i]);
        }
    }
    rc = cli_open_membership(c);
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
            rc = cli_say(c, CLI_EXIT_UNREACHABLE, "cannot compare: %s", err);
        } else {
            print_diff(c, table, &a, &b, &d);
            version_diff_free(&d);
        }
    }
    diff_input_free(&a);
    diff_input_free(&b);
    return rc;
}

