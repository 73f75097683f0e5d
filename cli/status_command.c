/*
 * This file implements `larder status`. With --node it asks that node for
 * INFO batch (node_status.h) and shows its health (ok, degraded with the
 * reasons, starting, joining, draining, stopping) and each batch table's
 * active version, age and max age, exiting 1 unless the node is ok.
 * Without --node it reports on the whole cluster (cmd_cluster_status(),
 * cluster_commands.c).
 */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli_ctx.h"
#include "cluster_output.h"
#include "json_writer.h"
#include "node_status.h"

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
        cluster_format_age(x->age_s, age, sizeof(age));
        if (x->max_age_s > 0) {
            cluster_format_age(x->max_age_s, max_age, sizeof(max_age));
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
    return cli_emit_table(c, &t);
}

int cmd_status(struct cli_ctx *c)
{
    if (c->a->node == NULL) {
        return cmd_cluster_status(c);
    }
    struct resp_client *cl = NULL;
    char why[512];
    int rc = cli_connect(c, c->a->node, false, &cl, why, sizeof(why));
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    const char *argv[] = {"INFO", "batch"};
    struct resp_reply *r = NULL;
    char err[512] = "";
    if (resp_client_command(cl, 2, argv, NULL, &r, err, sizeof(err)) !=
        RESP_CLIENT_OK) {
        rc = cli_say(c, CLI_EXIT_UNREACHABLE, "%s", err);
    } else if (r->type == RESP_REPLY_ERRORMSG) {
        rc = cli_say(c, CLI_EXIT_NOTFOUND, "%s: %s", resp_client_peer(cl),
                     r->str);
    } else if (r->type != RESP_REPLY_BULK &&
               r->type != RESP_REPLY_VERBATIM) {
        rc = cli_say(c, CLI_EXIT_NOTFOUND, "%s: unexpected %s reply to "
                     "INFO", resp_client_peer(cl),
                     resp_reply_type_name(r->type));
    } else {
        struct node_status st;
        if (node_status_parse(r->str, r->len, &st, err, sizeof(err)) != 0) {
            rc = cli_say(c, CLI_EXIT_NOTFOUND, "%s: %s",
                         resp_client_peer(cl), err);
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
