/*
 * This file implements the admin CLI's cluster commands: nodes, ring and
 * the cluster mode of status (rendered by cluster_output.h from the
 * cluster view), and the commands that change the cluster — node add and
 * remove, rebalance, table create and config, drain and undrain — each a
 * membership change followed by controller_replace() (controller.h), the
 * one place where the stored placement is recomputed.
 *
 * Every recompute here leaves out the members marked draining: the mark is
 * an operator's request that a node's partitions move away, so drain
 * re-places at once and a later node add does not hand the partitions
 * back. rebalance also leaves out the members that are not live.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_ctx.h"
#include "cluster_output.h"
#include "controller.h"
#include "version_objects.h"
#include "json_writer.h"

_Static_assert(CLI_CAPACITY_MAX == PLACE_CAPACITY_MAX,
               "--capacity's limit is placement's");
_Static_assert(CLI_PARTITIONS_MAX == PLACE_PARTITIONS_MAX,
               "--partitions's limit is placement's");

/* ---- reading the cluster ------------------------------------------------- */

int cmd_nodes(struct cli_ctx *c)
{
    struct cluster_view v;
    int rc = cli_load_view(c, &v, false);
    if (rc == CLI_EXIT_OK &&
        !cluster_render_nodes(&v, c->a->json, &c->text)) {
        rc = cli_say(c, CLI_EXIT_NOTFOUND, "out of memory");
    }
    cluster_view_free(&v);
    return rc;
}

int cmd_ring(struct cli_ctx *c)
{
    const char *table = c->npos > 0 ? c->pos[0] : NULL;
    if (table != NULL && !cli_valid_table_name(table)) {
        return cli_say(c, CLI_EXIT_USAGE, "\"%s\" is not a table name",
                       table);
    }
    struct cluster_view v;
    int rc = cli_load_view(c, &v, false);
    bool notfound = false;
    if (rc == CLI_EXIT_OK &&
        !cluster_render_ring(&v, table, c->a->json, &c->text, &notfound)) {
        rc = notfound ? cli_say(c, CLI_EXIT_NOTFOUND, "table %s is not in "
                                "the placement%s", table,
                                v.placement == NULL ? " (none is stored)" : "")
                      : cli_say(c, CLI_EXIT_NOTFOUND, "out of memory");
    }
    cluster_view_free(&v);
    return rc;
}

/* Now, Unix ms: what the active versions' ages are judged against. */
static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int cmd_cluster_status(struct cli_ctx *c)
{
    struct cluster_view v;
    int rc = cli_load_view(c, &v, true);
    if (rc == CLI_EXIT_OK) {
        struct cluster_health h;
        cluster_health_check(&v, wall_ms(), &h);
        if (!cluster_render_status(&v, &h, c->a->json, &c->text)) {
            rc = cli_say(c, CLI_EXIT_NOTFOUND, "out of memory");
        } else if (!h.healthy) {
            rc = CLI_EXIT_NOTFOUND;
        }
        cluster_health_free(&h);
    }
    cluster_view_free(&v);
    return rc;
}

/* ---- changing the placement ---------------------------------------------- */

/* controller_exclude_fn: members marked draining. */
static bool exclude_draining(void *arg, const struct memb_member *mem)
{
    (void)arg;
    return mem->draining != 0;
}

/* controller_exclude_fn: members draining or not live. */
static bool exclude_unavailable(void *arg, const struct memb_member *mem)
{
    (void)arg;
    return mem->draining != 0 || !mem->live;
}

/* The member list; an exit code. *mem is malloc'd. */
static int list_members(struct cli_ctx *c, struct memb_member **mem,
                        size_t *n)
{
    *mem = NULL;
    *n = 0;
    int rc = cli_open_membership(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    enum memb_status st = membership_member_list(c->m, mem, n);
    if (st != MEMB_OK) {
        return cli_memb_failed(c, st, "cannot list members");
    }
    return CLI_EXIT_OK;
}

/* Members that exclude keeps, other than `skip` (may be NULL). */
static size_t count_kept(const struct memb_member *mem, size_t n,
                         controller_exclude_fn exclude, const char *skip)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        k += !exclude(NULL, &mem[i]) &&
             (skip == NULL || strcmp(mem[i].id, skip) != 0);
    }
    return k;
}

/* The stored placement (NULL if none); an exit code. */
static int read_placement(struct cli_ctx *c, struct placement **pl)
{
    uint64_t cas = 0;
    char err[1024] = "";
    enum memb_status st = controller_read(c->m, pl, &cas, err, sizeof(err));
    if (st != MEMB_OK && st != MEMB_NOTFOUND) {
        return cli_say(c, cli_memb_exit(st), "%s", err);
    }
    return CLI_EXIT_OK;
}

/*
 * Recomputes the placement without the members exclude names and reports
 * the change (into w's open object with --json; as text otherwise, with
 * every moved partition when list is set).
 */
static int replace(struct cli_ctx *c, controller_exclude_fn exclude,
                   bool list, struct json_writer *w)
{
    struct placement *before = NULL, *after = NULL;
    int rc = read_placement(c, &before);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct controller_result res;
    char err[1024] = "";
    enum memb_status st =
        controller_replace(c->m, exclude, NULL, &res, err, sizeof(err));
    if (st != MEMB_OK) {
        placement_destroy(&before);
        return cli_say(c, cli_memb_exit(st), "the placement was not "
                       "recomputed: %s", err[0] ? err : memb_status_name(st));
    }
    rc = read_placement(c, &after);
    if (rc == CLI_EXIT_OK) {
        cluster_render_moves(before, after, list, c->a->json, w, &c->text);
        uint32_t capped = res.report.capped_tables;
        if (c->a->json) {
            jw_key_str(w, "capped_tables");
            jw_u64(w, capped);
        } else if (capped > 0) {
            buf_printf(&c->text, "note: %u table%s (first: %s) ask%s for "
                       "more replicas than there are members: every member "
                       "holds every partition\n", capped,
                       capped == 1 ? "" : "s", res.report.first_capped,
                       capped == 1 ? "s" : "");
        }
    }
    placement_destroy(&before);
    placement_destroy(&after);
    return rc;
}

/* Starts the JSON object of a command's result. */
static void json_begin(struct cli_ctx *c, struct json_writer *w)
{
    if (c->a->json) {
        jw_init(w, &c->text);
        jw_object_begin(w);
    }
}

static void json_end(struct cli_ctx *c, struct json_writer *w)
{
    if (c->a->json) {
        jw_object_end(w);
        cli_json_done(c);
    }
}

/* Says why the placement was not recomputed ("placement_unchanged"). */
static void no_placement_change(struct cli_ctx *c, struct json_writer *w,
                              const char *why)
{
    if (c->a->json) {
        jw_key_str(w, "placement_unchanged");
        jw_str(w, why);
    } else {
        buf_printf(&c->text, "%s\n", why);
    }
}

/* ---- node add, node remove, rebalance ------------------------------------ */

/*
 * True if s is "IPv4:PORT" or "[IPv6]:PORT" with a port 1..65535: nodes
 * register addresses, not names (a name could resolve differently on
 * every client).
 */
static bool valid_node_addr(const char *s)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s) {
        return false;
    }
    char host[64];
    size_t hl = (size_t)(colon - s);
    int family = AF_INET;
    if (s[0] == '[') {
        if (hl < 3 || s[hl - 1] != ']') {
            return false;
        }
        s++;
        hl -= 2;
        family = AF_INET6;
    }
    if (hl == 0 || hl >= sizeof(host)) {
        return false;
    }
    memcpy(host, s, hl);
    host[hl] = '\0';
    unsigned char addr[16];
    if (inet_pton(family, host, addr) != 1) {
        return false;
    }
    const char *p = colon + 1;
    if (*p < '1' || *p > '9' || strlen(p) > 5) {
        return false;
    }
    long port = 0;
    for (; *p != '\0'; p++) {
        if (*p < '0' || *p > '9') {
            return false;
        }
        port = port * 10 + (*p - '0');
    }
    return port <= 65535;
}

static int check_node_id(struct cli_ctx *c, const char *id)
{
    if (!membership_valid_name(id)) {
        return cli_say(c, CLI_EXIT_USAGE, "\"%s\" is not a node id "
                       "([A-Za-z0-9_.-], 1 to 64 characters)", id);
    }
    return CLI_EXIT_OK;
}

static void json_member(struct json_writer *w, const struct memb_member *m)
{
    jw_key_str(w, "member");
    jw_object_begin(w);
    jw_key_str(w, "id");
    jw_str(w, m->id);
    jw_key_str(w, "addr");
    jw_str(w, m->addr);
    jw_key_str(w, "zone");
    jw_str(w, m->zone);
    jw_key_str(w, "capacity");
    jw_u64(w, m->capacity);
    jw_object_end(w);
}

int cmd_node_add(struct cli_ctx *c)
{
    const char *id = c->pos[0], *addr = c->pos[1];
    int rc = check_node_id(c, id);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (!valid_node_addr(addr)) {
        return cli_say(c, CLI_EXIT_USAGE, "\"%s\" is not IP:PORT (an IPv4 "
                       "address, or [IPv6], and a port 1 to 65535; nodes "
                       "register IP addresses, not names)", addr);
    }
    struct memb_member *mem = NULL;
    size_t n = 0;
    rc = list_members(c, &mem, &n);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct memb_member rec;
    memset(&rec, 0, sizeof(rec));
    bool exists = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(mem[i].id, id) == 0) {
            rec = mem[i];
            exists = true;
        } else if (strcmp(mem[i].addr, addr) == 0) {
            rc = cli_say(c, CLI_EXIT_NOTFOUND, "%s is already the address "
                         "of member %s (larder node remove %s first)", addr,
                         mem[i].id, mem[i].id);
        }
    }
    free(mem);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    snprintf(rec.id, sizeof(rec.id), "%s", id);
    snprintf(rec.addr, sizeof(rec.addr), "%s", addr);
    if (c->a->zone != NULL || !exists) {
        snprintf(rec.zone, sizeof(rec.zone), "%s",
                 c->a->zone != NULL ? c->a->zone : "");
    }
    if ((c->a->seen & CLI_OPT(CAPACITY)) || !exists) {
        rec.capacity = c->a->capacity;
    }
    enum memb_status st = membership_member_put(c->m, &rec);
    if (st != MEMB_OK) {
        return cli_memb_failed(c, st, "cannot record the member");
    }
    struct json_writer w;
    json_begin(c, &w);
    if (c->a->json) {
        jw_key_str(&w, "added");
        jw_bool(&w, !exists);
        json_member(&w, &rec);
    } else {
        buf_printf(&c->text, "%s member %s: %s, zone %s, capacity %u\n",
                   exists ? "updated" : "added", rec.id, rec.addr,
                   rec.zone[0] ? rec.zone : "-", rec.capacity);
    }
    rc = replace(c, exclude_draining, false, &w);
    json_end(c, &w);
    return rc;
}

/*
 * For a command on member id: checks the id and that it is a member, and
 * gives how many members there are and how many not draining other than
 * id. An exit code (CLI_EXIT_NOTFOUND, said, when id is no member).
 */
static int member_census(struct cli_ctx *c, const char *id, size_t *members,
                         size_t *kept)
{
    int rc = check_node_id(c, id);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct memb_member *mem = NULL;
    size_t n = 0;
    rc = list_members(c, &mem, &n);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    bool found = false;
    for (size_t i = 0; i < n; i++) {
        found = found || strcmp(mem[i].id, id) == 0;
    }
    *members = n;
    *kept = count_kept(mem, n, exclude_draining, id);
    free(mem);
    if (!found) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "no member %s", id);
    }
    return CLI_EXIT_OK;
}

int cmd_node_remove(struct cli_ctx *c)
{
    const char *id = c->pos[0];
    size_t n = 0, kept = 0;
    int rc = member_census(c, id, &n, &kept);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (n > 1 && kept == 0) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "every other member is "
                       "draining: %s's partitions would have nowhere to go "
                       "(larder undrain one first)", id);
    }
    enum memb_status st = membership_member_remove(c->m, id);
    if (st == MEMB_NOTFOUND) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "no member %s", id);
    }
    if (st != MEMB_OK) {
        return cli_memb_failed(c, st, "cannot remove the member");
    }
    struct json_writer w;
    json_begin(c, &w);
    if (c->a->json) {
        jw_key_str(&w, "removed");
        jw_str(&w, id);
    } else {
        buf_printf(&c->text, "removed member %s\n", id);
    }
    if (n == 1) { /* it was the last member */
        no_placement_change(c, &w, "no member left: the stored placement "
                            "is unchanged");
    } else {
        rc = replace(c, exclude_draining, false, &w);
    }
    json_end(c, &w);
    return rc;
}

int cmd_rebalance(struct cli_ctx *c)
{
    struct memb_member *mem = NULL;
    size_t n = 0;
    int rc = list_members(c, &mem, &n);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    size_t kept = count_kept(mem, n, exclude_unavailable, NULL);
    free(mem);
    if (kept == 0) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "refused: no live member that "
                       "is not draining (of %zu): every partition would be "
                       "left without a node", n);
    }
    struct json_writer w;
    json_begin(c, &w);
    rc = replace(c, exclude_unavailable, true, &w);
    json_end(c, &w);
    return rc;
}

/* ---- table create, table config ------------------------------------------ */

static void config_text(struct cli_ctx *c, const char *what,
                        const struct memb_table *t)
{
    char repl[16];
    if (t->replication == 0) {
        snprintf(repl, sizeof(repl), "all");
    } else {
        snprintf(repl, sizeof(repl), "%u", t->replication);
    }
    buf_printf(&c->text, "%s table %s: %s, %u partitions, replication %s, "
               "fallback key %s, max age %llu s\n", what, t->name,
               memb_table_kind_name(t->kind), t->partitions, repl,
               t->fallback_key[0] ? t->fallback_key : "-",
               (unsigned long long)t->max_age_s);
}

static void config_json(struct json_writer *w, const struct memb_table *t)
{
    jw_key_str(w, "table");
    jw_object_begin(w);
    jw_key_str(w, "table");
    jw_str(w, t->name);
    jw_key_str(w, "kind");
    jw_str(w, memb_table_kind_name(t->kind));
    jw_key_str(w, "partitions");
    jw_u64(w, t->partitions);
    jw_key_str(w, "replication");
    if (t->replication == 0) {
        jw_str(w, "all");
    } else {
        jw_u64(w, t->replication);
    }
    jw_key_str(w, "fallback_key");
    if (t->fallback_key[0]) {
        jw_str(w, t->fallback_key);
    } else {
        jw_null(w);
    }
    jw_key_str(w, "max_age_s");
    jw_u64(w, t->max_age_s);
    jw_object_end(w);
}

/*
 * After a table change: re-places batch tables when asked, else says why
 * not. An exit code.
 */
static int place_table(struct cli_ctx *c, const struct memb_table *t,
                       bool needed, struct json_writer *w)
{
    if (t->kind != MEMB_TABLE_BATCH) {
        no_placement_change(c, w, "a live table is not placed");
        return CLI_EXIT_OK;
    }
    if (!needed) {
        no_placement_change(c, w, "placement unchanged");
        return CLI_EXIT_OK;
    }
    struct memb_member *mem = NULL;
    size_t n = 0;
    int rc = list_members(c, &mem, &n);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    size_t kept = count_kept(mem, n, exclude_draining, NULL);
    free(mem);
    if (kept == 0) {
        no_placement_change(c, w, "no member to place it on yet: larder "
                            "node add places it");
        return CLI_EXIT_OK;
    }
    return replace(c, exclude_draining, false, w);
}

int cmd_table_create(struct cli_ctx *c)
{
    const char *name = c->pos[0];
    if (!membership_valid_name(name)) {
        return cli_say(c, CLI_EXIT_USAGE, "\"%s\" is not a table name", name);
    }
    int rc = cli_open_membership(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct memb_table t;
    enum memb_status st = membership_table_get(c->m, name, &t);
    if (st == MEMB_OK) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "table %s exists (larder table "
                       "config %s changes it)", name, name);
    }
    if (st != MEMB_NOTFOUND) {
        return cli_memb_failed(c, st, "cannot read the table config");
    }
    memset(&t, 0, sizeof(t));
    snprintf(t.name, sizeof(t.name), "%s", name);
    t.kind = c->a->kind_live ? MEMB_TABLE_LIVE : MEMB_TABLE_BATCH;
    t.partitions = c->a->partitions;
    t.replication = c->a->replication;
    snprintf(t.fallback_key, sizeof(t.fallback_key), "%s",
             c->a->fallback_key != NULL ? c->a->fallback_key : "");
    t.max_age_s = c->a->max_age_s;
    st = membership_table_put(c->m, &t);
    if (st != MEMB_OK) {
        return cli_memb_failed(c, st, "cannot create the table");
    }
    struct json_writer w;
    json_begin(c, &w);
    if (c->a->json) {
        config_json(&w, &t);
    } else {
        config_text(c, "created", &t);
    }
    rc = place_table(c, &t, true, &w);
    json_end(c, &w);
    return rc;
}

/*
 * The config of the existing table name (a command's argument), with the
 * membership opened; an exit code, having said why when it is not OK.
 * create_hint adds how to create a missing table.
 */
static int read_table(struct cli_ctx *c, const char *name, bool create_hint,
                      struct memb_table *t)
{
    if (!membership_valid_name(name)) {
        return cli_say(c, CLI_EXIT_USAGE, "\"%s\" is not a table name", name);
    }
    int rc = cli_open_membership(c);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    enum memb_status st = membership_table_get(c->m, name, t);
    if (st == MEMB_NOTFOUND) {
        return create_hint ? cli_say(c, CLI_EXIT_NOTFOUND, "no table %s "
                                     "(larder table create %s)", name, name)
                           : cli_say(c, CLI_EXIT_NOTFOUND, "no table %s",
                                     name);
    }
    if (st != MEMB_OK) {
        return cli_memb_failed(c, st, "cannot read the table config");
    }
    return CLI_EXIT_OK;
}

int cmd_table_config(struct cli_ctx *c)
{
    const struct cli_args *a = c->a;
    const char *name = c->pos[0];
    struct memb_table t;
    int rc = read_table(c, name, true, &t);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if ((a->seen & CLI_OPT(PARTITIONS)) && a->partitions != t.partitions) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "refused: changing the "
                       "partition count of %s (%u -> %u) is a repartition, "
                       "which larder does not do (out of scope); create a "
                       "new table and load it instead", name, t.partitions,
                       a->partitions);
    }
    enum memb_table_kind kind = a->kind_live ? MEMB_TABLE_LIVE
                                             : MEMB_TABLE_BATCH;
    if ((a->seen & CLI_OPT(KIND)) && kind != t.kind) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "refused: %s is a %s table; a "
                       "table's kind cannot change", name,
                       memb_table_kind_name(t.kind));
    }
    bool replicas = (a->seen & CLI_OPT(REPLICATION)) &&
                    a->replication != t.replication;
    if (a->seen & CLI_OPT(REPLICATION)) {
        t.replication = a->replication;
    }
    if (a->fallback_key != NULL) {
        snprintf(t.fallback_key, sizeof(t.fallback_key), "%s",
                 a->fallback_key);
    }
    if (a->seen & CLI_OPT(MAX_AGE)) {
        t.max_age_s = a->max_age_s;
    }
    bool change = (a->seen & (CLI_OPT(REPLICATION) | CLI_OPT(FALLBACK_KEY) |
                              CLI_OPT(MAX_AGE))) != 0;
    if (change) {
        enum memb_status st = membership_table_put(c->m, &t);
        if (st != MEMB_OK) {
            return cli_memb_failed(c, st, "cannot change the table");
        }
    }
    struct json_writer w;
    json_begin(c, &w);
    if (c->a->json) {
        jw_key_str(&w, "changed");
        jw_bool(&w, change);
        config_json(&w, &t);
    } else {
        config_text(c, change ? "changed" : "unchanged:", &t);
    }
    rc = place_table(c, &t, replicas, &w);
    json_end(c, &w);
    return rc;
}

/* ---- drain, undrain ------------------------------------------------------ */

static int set_drain(struct cli_ctx *c, bool draining)
{
    const char *id = c->pos[0];
    size_t n = 0, kept = 0;
    int rc = member_census(c, id, &n, &kept);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    if (draining && kept == 0) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "refused: %s is the last "
                       "member not draining; its partitions would have "
                       "nowhere to go", id);
    }
    enum memb_status st = membership_drain_set(c->m, id, draining);
    if (st == MEMB_NOTFOUND) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "no member %s", id);
    }
    if (st != MEMB_OK) {
        return cli_memb_failed(c, st, "cannot set the drain mark");
    }
    struct json_writer w;
    json_begin(c, &w);
    if (c->a->json) {
        jw_key_str(&w, "node");
        jw_str(&w, id);
        jw_key_str(&w, "draining");
        jw_bool(&w, draining);
    } else {
        buf_printf(&c->text, "%s %s\n", draining ? "draining" : "undrained",
                   id);
    }
    rc = replace(c, exclude_draining, false, &w);
    json_end(c, &w);
    return rc;
}

int cmd_drain(struct cli_ctx *c)
{
    return set_drain(c, true);
}

int cmd_undrain(struct cli_ctx *c)
{
    return set_drain(c, false);
}

/* ---- table drop ------------------------------------------------------------ */

/* Takes table out of the active map (one CAS, retried when other tables
 * changed meanwhile). An exit code. */
static int deactivate(struct cli_ctx *c, const char *table)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        struct memb_active a;
        enum memb_status st = membership_active_get(c->m, &a);
        if (st != MEMB_OK) {
            return cli_memb_failed(c, st, "cannot read the active map");
        }
        struct memb_active next = {0};
        next.entries = calloc(a.n ? a.n : 1, sizeof(*next.entries));
        if (next.entries == NULL) {
            membership_active_free(&a);
            return cli_say(c, CLI_EXIT_NOTFOUND, "out of memory");
        }
        for (size_t i = 0; i < a.n; i++) {
            if (strcmp(a.entries[i].table, table) != 0) {
                next.entries[next.n++] = a.entries[i];
            }
        }
        uint64_t gen = a.generation;
        membership_active_free(&a);
        st = membership_active_cas(c->m, gen, &next);
        free(next.entries);
        if (st == MEMB_OK) {
            return CLI_EXIT_OK;
        }
        if (st != MEMB_CONFLICT) {
            return cli_memb_failed(c, st, "cannot change the active map");
        }
    }
    return cli_say(c, CLI_EXIT_NOTFOUND, "the active map kept changing; "
                   "try again");
}

int cmd_table_drop(struct cli_ctx *c)
{
    const char *name = c->pos[0];
    struct memb_table t;
    int rc = read_table(c, name, false, &t);
    if (rc != CLI_EXIT_OK) {
        return rc;
    }
    struct memb_lock *lock = NULL;
    enum memb_status st = membership_lock(c->m, name, &lock);
    if (st == MEMB_BUSY) {
        return cli_say(c, CLI_EXIT_NOTFOUND, "refused: a load of %s is "
                       "running", name);
    }
    if (st != MEMB_OK) {
        return cli_memb_failed(c, st, "cannot take the table's load lock");
    }
    struct memb_active a;
    st = membership_active_get(c->m, &a);
    uint64_t active = st == MEMB_OK ? membership_active_version(&a, name) : 0;
    membership_active_free(&a);
    if (st != MEMB_OK) {
        membership_unlock(&lock);
        return cli_memb_failed(c, st, "cannot read the active map");
    }
    if (active != 0 && !c->a->force) {
        membership_unlock(&lock);
        return cli_say(c, CLI_EXIT_NOTFOUND, "refused: %s is active "
                       "(version %llu); larder table drop %s --force takes "
                       "it out of the active map first", name,
                       (unsigned long long)active, name);
    }
    if (active != 0 && (rc = deactivate(c, name)) != CLI_EXIT_OK) {
        membership_unlock(&lock);
        return rc;
    }
    struct memb_version *vs = NULL;
    size_t n = 0;
    st = membership_version_list(c->m, name, &vs, &n);
    if (st != MEMB_OK && st != MEMB_NOTFOUND) {
        membership_unlock(&lock);
        return cli_memb_failed(c, st, "cannot list the versions");
    }
    uint64_t objects = 0;
    for (size_t i = 0; i < n; i++) {
        char err[1024];
        if (version_objects_delete(NULL, name, &vs[i], &objects, err,
                                   sizeof(err)) != 0) {
            free(vs);
            membership_unlock(&lock);
            return cli_say(c, CLI_EXIT_UNREACHABLE, "version %llu of %s: "
                           "%s; nothing removed from membership (run it "
                           "again)", (unsigned long long)vs[i].version, name,
                           err);
        }
    }
    free(vs);
    st = membership_table_remove(c->m, name);
    membership_unlock(&lock);
    if (st != MEMB_OK) {
        return cli_memb_failed(c, st, "cannot remove the table");
    }
    struct json_writer w;
    json_begin(c, &w);
    if (c->a->json) {
        jw_key_str(&w, "dropped");
        jw_str(&w, name);
        jw_key_str(&w, "versions");
        jw_u64(&w, n);
        jw_key_str(&w, "objects_deleted");
        jw_u64(&w, objects);
    } else {
        buf_printf(&c->text, "dropped table %s: %zu version(s), %llu "
                   "object(s) deleted from the store\n", name, n,
                   (unsigned long long)objects);
    }
    rc = place_table(c, &t, t.kind == MEMB_TABLE_BATCH, &w);
    json_end(c, &w);
    return rc;
}
