/*
 * This file implements cluster_output.h: the node list, the ring, the
 * moves of a placement change and the health verdict of the admin CLI's
 * cluster commands, rendered with text_table.h or json_writer.h.
 */
#include "cluster_output.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text_table.h"

/* Ids of one (table, partition, set): a borrowed list into a scratch. */
struct id_list {
    const char **ids; /* PLACE_NODES_MAX slots, malloc'd */
    size_t n;
};

static bool ids_init(struct id_list *l)
{
    l->n = 0;
    l->ids = malloc(PLACE_NODES_MAX * sizeof(*l->ids));
    return l->ids != NULL;
}

static void ids_free(struct id_list *l)
{
    free(l->ids);
    l->ids = NULL;
}

/* Fills l with the nodes of (table, p) in `set`; empty if none. */
static void ids_get(struct id_list *l, const struct placement *pl,
                    const char *table, uint32_t p, enum place_set set)
{
    l->n = 0;
    if (placement_nodes(pl, table, p, set, l->ids, PLACE_NODES_MAX, &l->n) !=
        PLACE_OK) {
        l->n = 0;
    }
    if (l->n > PLACE_NODES_MAX) {
        l->n = PLACE_NODES_MAX;
    }
}

static bool ids_has(const struct id_list *l, const char *id)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->ids[i], id) == 0) {
            return true;
        }
    }
    return false;
}

/* True if a and b hold the same ids, in any order. */
static bool ids_same_set(const struct id_list *a, const struct id_list *b)
{
    if (a->n != b->n) {
        return false;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (!ids_has(b, a->ids[i])) {
            return false;
        }
    }
    return true;
}

static void ids_text(const struct id_list *l, struct buf *out)
{
    if (l->n == 0) {
        buf_append_str(out, "-");
    }
    for (size_t i = 0; i < l->n; i++) {
        if (i > 0) {
            buf_append(out, ",", 1);
        }
        buf_append_str(out, l->ids[i]);
    }
}

static void ids_json(const struct id_list *l, struct json_writer *w)
{
    jw_array_begin(w);
    for (size_t i = 0; i < l->n; i++) {
        jw_str(w, l->ids[i]);
    }
    jw_array_end(w);
}

/* ---- loads, bytes -------------------------------------------------------- */

bool cluster_loads(const struct cluster_view *v, struct cluster_load *loads)
{
    memset(loads, 0, v->nnodes * sizeof(*loads));
    const struct placement *pl = v->placement;
    size_t nt = pl != NULL ? placement_table_count(pl) : 0;
    if (nt == 0) {
        return true;
    }
    struct id_list cur, tgt;
    if (!ids_init(&cur)) {
        return false;
    }
    if (!ids_init(&tgt)) {
        ids_free(&cur);
        return false;
    }
    for (size_t t = 0; t < nt; t++) {
        struct place_table_info ti;
        if (placement_table_at(pl, t, &ti) != PLACE_OK) {
            continue;
        }
        for (uint32_t p = 0; p < ti.partitions; p++) {
            ids_get(&cur, pl, ti.name, p, PLACE_CURRENT);
            ids_get(&tgt, pl, ti.name, p, PLACE_TARGET);
            for (size_t i = 0; i < v->nnodes; i++) {
                if (ids_has(&cur, v->nodes[i].id)) {
                    loads[i].held++;
                } else if (ids_has(&tgt, v->nodes[i].id)) {
                    loads[i].incoming++;
                }
            }
        }
    }
    ids_free(&cur);
    ids_free(&tgt);
    return true;
}

void cluster_format_bytes(uint64_t bytes, char *out, size_t outlen)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB",
                                        "PiB"};
    if (bytes < 1024) {
        snprintf(out, outlen, "%" PRIu64 " B", bytes);
        return;
    }
    double x = (double)bytes;
    size_t u = 0;
    while (x >= 1024.0 && u + 1 < sizeof(units) / sizeof(units[0])) {
        x /= 1024.0;
        u++;
    }
    snprintf(out, outlen, "%.1f %s", x, units[u]);
}

void cluster_format_age(uint64_t s, char *out, size_t outlen)
{
    if (s < 60) {
        snprintf(out, outlen, "%" PRIu64 "s", s);
    } else if (s < 3600) {
        snprintf(out, outlen, "%" PRIu64 "m %" PRIu64 "s", s / 60, s % 60);
    } else if (s < 86400) {
        snprintf(out, outlen, "%" PRIu64 "h %" PRIu64 "m", s / 3600,
                 s % 3600 / 60);
    } else {
        snprintf(out, outlen, "%" PRIu64 "d %" PRIu64 "h", s / 86400,
                 s % 86400 / 3600);
    }
}

/* "used/budget", "used" without a budget, "-" when both are 0. */
static void format_memory(const struct cluster_node *n, char *out,
                          size_t outlen)
{
    char used[32], budget[32];
    if (n->batch_memory == 0 && n->batch_used == 0) {
        snprintf(out, outlen, "-");
        return;
    }
    cluster_format_bytes(n->batch_used, used, sizeof(used));
    if (n->batch_memory == 0) {
        snprintf(out, outlen, "%s", used);
        return;
    }
    cluster_format_bytes(n->batch_memory, budget, sizeof(budget));
    snprintf(out, outlen, "%s/%s", used, budget);
}

/* ---- nodes --------------------------------------------------------------- */

static void node_json(struct json_writer *w, const struct cluster_node *n,
                      const struct cluster_load *l)
{
    jw_object_begin(w);
    jw_key_str(w, "id");
    jw_str(w, n->id);
    jw_key_str(w, "addr");
    jw_str(w, n->addr);
    jw_key_str(w, "zone");
    jw_str(w, n->zone);
    jw_key_str(w, "capacity");
    jw_u64(w, n->capacity);
    jw_key_str(w, "member");
    jw_bool(w, n->member);
    jw_key_str(w, "live");
    jw_bool(w, n->live);
    jw_key_str(w, "state");
    jw_str(w, n->state);
    jw_key_str(w, "draining");
    jw_bool(w, n->draining);
    jw_key_str(w, "batch_memory");
    jw_u64(w, n->batch_memory);
    jw_key_str(w, "batch_used");
    jw_u64(w, n->batch_used);
    jw_key_str(w, "partitions");
    jw_u64(w, l->held);
    jw_key_str(w, "incoming");
    jw_u64(w, l->incoming);
    jw_object_end(w);
}

static void nodes_json(const struct cluster_view *v,
                       const struct cluster_load *loads,
                       struct json_writer *w)
{
    jw_array_begin(w);
    for (size_t i = 0; i < v->nnodes; i++) {
        node_json(w, &v->nodes[i], &loads[i]);
    }
    jw_array_end(w);
}

static bool nodes_text(const struct cluster_view *v,
                       const struct cluster_load *loads, struct buf *out)
{
    const char *hdr[] = {"ID",       "ADDRESS", "ZONE",   "CAPACITY",
                         "LIVE",     "STATE",   "DRAINING", "MEMORY",
                         "PARTITIONS"};
    struct text_table t;
    text_table_init(&t, 9, hdr);
    for (size_t i = 0; i < v->nnodes; i++) {
        const struct cluster_node *n = &v->nodes[i];
        char cap[16], mem[80], parts[64];
        snprintf(cap, sizeof(cap), "%" PRIu32, n->capacity);
        format_memory(n, mem, sizeof(mem));
        if (loads[i].incoming > 0) {
            snprintf(parts, sizeof(parts), "%" PRIu64 " +%" PRIu64
                     " incoming", loads[i].held, loads[i].incoming);
        } else {
            snprintf(parts, sizeof(parts), "%" PRIu64, loads[i].held);
        }
        const char *row[] = {
            n->id,
            n->addr[0] ? n->addr : "-",
            n->zone[0] ? n->zone : "-",
            n->member ? cap : "-",
            !n->member ? "-" : n->live ? "yes" : "no",
            !n->member ? "removed" : n->state[0] ? n->state : "-",
            n->draining ? "yes" : "-",
            mem,
            parts};
        text_table_add(&t, row);
    }
    bool ok = text_table_render(&t, out);
    text_table_deinit(&t);
    return ok;
}

bool cluster_render_nodes(const struct cluster_view *v, bool json,
                          struct buf *out)
{
    struct cluster_load *loads = calloc(v->nnodes ? v->nnodes : 1,
                                        sizeof(*loads));
    if (loads == NULL || !cluster_loads(v, loads)) {
        free(loads);
        return false;
    }
    bool ok = true;
    if (json) {
        struct json_writer w;
        jw_init(&w, out);
        nodes_json(v, loads, &w);
        buf_append(out, "\n", 1);
    } else if (v->nnodes == 0) {
        buf_printf(out, "no members in %s (larder node add ID IP:PORT)\n",
                   v->source);
    } else {
        ok = nodes_text(v, loads, out);
    }
    free(loads);
    return ok;
}

/* ---- ring ---------------------------------------------------------------- */

static void replication_text(uint32_t r, char *out, size_t outlen)
{
    if (r == 0) {
        snprintf(out, outlen, "all");
    } else {
        snprintf(out, outlen, "%" PRIu32, r);
    }
}

static void replication_json(struct json_writer *w, uint32_t r)
{
    if (r == 0) {
        jw_str(w, "all");
    } else {
        jw_u64(w, r);
    }
}

static bool ring_table(const struct placement *pl,
                       const struct place_table_info *ti, bool json,
                       struct json_writer *w, struct buf *out,
                       struct id_list *cur, struct id_list *tgt)
{
    char repl[16];
    replication_text(ti->replication, repl, sizeof(repl));
    struct text_table t = {0};
    if (json) {
        jw_object_begin(w);
        jw_key_str(w, "table");
        jw_str(w, ti->name);
        jw_key_str(w, "partitions");
        jw_u64(w, ti->partitions);
        jw_key_str(w, "replication");
        replication_json(w, ti->replication);
        jw_key_str(w, "replicas");
        jw_u64(w, ti->replicas);
        jw_key_str(w, "ring");
        jw_array_begin(w);
    } else {
        buf_printf(out, "\ntable %s: %" PRIu32 " partitions, replication "
                   "%s\n", ti->name, ti->partitions, repl);
        const char *hdr[] = {"PARTITION", "NODES", "TARGET"};
        text_table_init(&t, 3, hdr);
    }
    struct buf a = {0}, b = {0};
    for (uint32_t p = 0; p < ti->partitions; p++) {
        ids_get(cur, pl, ti->name, p, PLACE_CURRENT);
        ids_get(tgt, pl, ti->name, p, PLACE_TARGET);
        bool moving = !ids_same_set(cur, tgt);
        if (json) {
            jw_object_begin(w);
            jw_key_str(w, "partition");
            jw_u64(w, p);
            jw_key_str(w, "current");
            ids_json(cur, w);
            jw_key_str(w, "target");
            ids_json(tgt, w);
            jw_key_str(w, "moving");
            jw_bool(w, moving);
            jw_object_end(w);
            continue;
        }
        char pn[16];
        snprintf(pn, sizeof(pn), "%" PRIu32, p);
        a.len = 0;
        b.len = 0;
        ids_text(cur, &a);
        if (moving) {
            ids_text(tgt, &b);
        } else {
            buf_append_str(&b, "-");
        }
        buf_append(&a, "", 1);
        buf_append(&b, "", 1);
        const char *row[] = {pn, a.failed ? "" : a.data,
                             b.failed ? "" : b.data};
        text_table_add(&t, row);
    }
    bool ok = !a.failed && !b.failed;
    buf_deinit(&a);
    buf_deinit(&b);
    if (json) {
        jw_array_end(w);
        jw_object_end(w);
        return ok;
    }
    ok = text_table_render(&t, out) && ok;
    text_table_deinit(&t);
    return ok;
}

bool cluster_render_ring(const struct cluster_view *v, const char *table,
                         bool json, struct buf *out, bool *notfound)
{
    *notfound = false;
    const struct placement *pl = v->placement;
    size_t nt = pl != NULL ? placement_table_count(pl) : 0;
    bool found = table == NULL;
    for (size_t t = 0; t < nt && !found; t++) {
        struct place_table_info ti;
        found = placement_table_at(pl, t, &ti) == PLACE_OK &&
                strcmp(ti.name, table) == 0;
    }
    if (!found) {
        *notfound = true;
        return false;
    }
    struct json_writer w;
    if (json) {
        jw_init(&w, out);
        jw_object_begin(&w);
        jw_key_str(&w, "generation");
        jw_u64(&w, pl != NULL ? placement_generation(pl) : 0);
        jw_key_str(&w, "tables");
        jw_array_begin(&w);
    } else if (pl == NULL) {
        buf_printf(out, "no placement stored in %s (larder node add or "
                   "larder rebalance computes one)\n", v->source);
        return true;
    } else {
        buf_printf(out, "placement generation %" PRIu64 "\n",
                   placement_generation(pl));
    }
    struct id_list cur, tgt;
    bool ok = ids_init(&cur);
    if (ok && !ids_init(&tgt)) {
        ids_free(&cur);
        ok = false;
    }
    for (size_t t = 0; ok && t < nt; t++) {
        struct place_table_info ti;
        if (placement_table_at(pl, t, &ti) != PLACE_OK ||
            (table != NULL && strcmp(ti.name, table) != 0)) {
            continue;
        }
        ok = ring_table(pl, &ti, json, &w, out, &cur, &tgt);
    }
    if (cur.ids != NULL) {
        ids_free(&cur);
        ids_free(&tgt);
    }
    if (json) {
        jw_array_end(&w);
        jw_object_end(&w);
        buf_append(out, "\n", 1);
    }
    return ok;
}

/* ---- moves --------------------------------------------------------------- */

/* True if before had table `name` with `partitions` partitions. */
static bool had_table(const struct placement *before, const char *name,
                      uint32_t partitions)
{
    size_t nt = before != NULL ? placement_table_count(before) : 0;
    for (size_t t = 0; t < nt; t++) {
        struct place_table_info ti;
        if (placement_table_at(before, t, &ti) == PLACE_OK &&
            strcmp(ti.name, name) == 0) {
            return ti.partitions == partitions;
        }
    }
    return false;
}

static size_t count_in_motion(const struct placement *pl)
{
    struct place_move *moves = NULL;
    size_t n = 0;
    if (pl == NULL || placement_moves(pl, &moves, &n) != PLACE_OK) {
        return 0;
    }
    free(moves);
    return n;
}

void cluster_render_moves(const struct placement *before,
                          const struct placement *after, bool list,
                          bool json, struct json_writer *w,
                          struct buf *out)
{
    uint64_t g0 = before != NULL ? placement_generation(before) : 0;
    uint64_t g1 = after != NULL ? placement_generation(after) : 0;
    size_t motion = count_in_motion(after);
    struct id_list old, now;
    bool have = ids_init(&old);
    if (have && !ids_init(&now)) {
        ids_free(&old);
        have = false;
    }
    if (!have) {
        out->failed = true;
        return;
    }
    struct buf lines = {0};
    size_t moved = 0;
    if (json) {
        jw_key_str(w, "moved");
        jw_array_begin(w);
    }
    size_t nt = after != NULL ? placement_table_count(after) : 0;
    for (size_t t = 0; t < nt; t++) {
        struct place_table_info ti;
        if (placement_table_at(after, t, &ti) != PLACE_OK ||
            !had_table(before, ti.name, ti.partitions)) {
            continue;
        }
        for (uint32_t p = 0; p < ti.partitions; p++) {
            ids_get(&old, before, ti.name, p, PLACE_TARGET);
            ids_get(&now, after, ti.name, p, PLACE_TARGET);
            if (ids_same_set(&old, &now)) {
                continue;
            }
            moved++;
            if (json) {
                jw_object_begin(w);
                jw_key_str(w, "table");
                jw_str(w, ti.name);
                jw_key_str(w, "partition");
                jw_u64(w, p);
                jw_key_str(w, "from");
                ids_json(&old, w);
                jw_key_str(w, "to");
                ids_json(&now, w);
                jw_object_end(w);
            } else if (list) {
                buf_printf(&lines, "  %s/%" PRIu32 ": ", ti.name, p);
                ids_text(&old, &lines);
                buf_append_str(&lines, " -> ");
                ids_text(&now, &lines);
                buf_append(&lines, "\n", 1);
            }
        }
    }
    ids_free(&old);
    ids_free(&now);
    if (json) {
        jw_array_end(w);
        jw_key_str(w, "generation");
        jw_u64(w, g1);
        jw_key_str(w, "previous_generation");
        jw_u64(w, g0);
        jw_key_str(w, "changed");
        jw_bool(w, g1 != g0);
        jw_key_str(w, "in_motion");
        jw_u64(w, motion);
    } else if (g1 == g0) {
        buf_printf(out, "placement generation %" PRIu64 " unchanged, %zu "
                   "partition%s in motion\n", g1, motion,
                   motion == 1 ? "" : "s");
    } else {
        buf_printf(out, "placement generation %" PRIu64 " (was %" PRIu64
                   "): %zu partition%s re-placed, %zu in motion\n", g1, g0,
                   moved, moved == 1 ? "" : "s", motion);
        if (lines.len > 0) {
            buf_append(out, lines.data, lines.len);
        }
    }
    if (lines.failed) {
        out->failed = true;
    }
    buf_deinit(&lines);
}

/* ---- health -------------------------------------------------------------- */

/* Replicas each partition of t needs for the verdict: min(R, live). */
static uint32_t needed_replicas(const struct cluster_table *t, size_t live)
{
    uint64_t r = t->replication == 0 ? live : t->replication;
    if (r > live) {
        r = live;
    }
    return r == 0 ? 1 : (uint32_t)r;
}

/* Partitions of t below need, and the lowest count. */
static uint32_t below(const struct cluster_table *t, uint32_t need,
                      uint32_t *lowest)
{
    uint32_t n = 0;
    *lowest = UINT32_MAX;
    for (uint32_t p = 0; p < t->partitions; p++) {
        n += t->ready[p] < need;
        if (t->ready[p] < *lowest) {
            *lowest = t->ready[p];
        }
    }
    return n;
}

void cluster_table_freshness(const struct cluster_table *t, int64_t now_ms,
                             struct cluster_freshness *out)
{
    memset(out, 0, sizeof(*out));
    if (t->active_version == 0) {
        return;
    }
    uint64_t age_ms = 0;
    out->age_known = t->created_ms > 0;
    if (out->age_known && now_ms > t->created_ms) {
        age_ms = (uint64_t)(now_ms - t->created_ms);
        out->age_s = age_ms / 1000;
    }
    out->judged = t->max_age_known && (t->max_age_s == 0 || out->age_known);
    out->stale = out->judged && t->max_age_s > 0 &&
                 t->max_age_s <= UINT64_MAX / 1000 &&
                 age_ms > t->max_age_s * 1000;
}

/* Reasons and notes about the freshness of t's active version. */
static void judge_freshness(const struct cluster_table *t, int64_t now_ms,
                            struct cluster_health *h)
{
    struct cluster_freshness f;
    cluster_table_freshness(t, now_ms, &f);
    if (f.stale) {
        buf_printf(&h->reasons, "table %s version %" PRIu64 " is stale: %"
                   PRIu64 " s old (max age %" PRIu64 " s)\n", t->name,
                   t->active_version, f.age_s, t->max_age_s);
    } else if (!f.judged && !t->max_age_known) {
        buf_printf(&h->notes, "table %s version %" PRIu64 ": freshness "
                   "unknown (the view does not report max ages; "
                   "--membership does)\n", t->name, t->active_version);
    } else if (!f.judged) {
        buf_printf(&h->notes, "table %s version %" PRIu64 ": freshness "
                   "unknown (no creation time recorded)\n", t->name,
                   t->active_version);
    }
}

void cluster_health_check(const struct cluster_view *v, int64_t now_ms,
                          struct cluster_health *h)
{
    memset(h, 0, sizeof(*h));
    h->now_ms = now_ms;
    size_t live = cluster_view_live(v);
    size_t members = 0;
    for (size_t i = 0; i < v->nnodes; i++) {
        const struct cluster_node *n = &v->nodes[i];
        if (!n->member) {
            buf_printf(&h->notes, "node %s was removed and still holds "
                       "partitions until their move finishes\n", n->id);
            continue;
        }
        members++;
        if (!n->live) {
            buf_printf(&h->reasons, "node %s is not live\n", n->id);
        }
        if (n->draining) {
            buf_printf(&h->notes, "node %s is draining\n", n->id);
        }
        if (n->batch_memory > 0 && n->batch_used > n->batch_memory) {
            char used[32], budget[32];
            cluster_format_bytes(n->batch_used, used, sizeof(used));
            cluster_format_bytes(n->batch_memory, budget, sizeof(budget));
            buf_printf(&h->reasons, "node %s holds %s of batch data, over "
                       "its budget of %s\n", n->id, used, budget);
        }
    }
    if (members == 0) {
        buf_printf(&h->reasons, "no members (larder node add ID IP:PORT)\n");
    }
    for (size_t i = 0; i < v->ntables; i++) {
        const struct cluster_table *t = &v->tables[i];
        if (t->active_version == 0) {
            continue;
        }
        if (t->ready == NULL) {
            buf_printf(&h->reasons, "table %s version %" PRIu64 ": "
                       "readiness unknown\n", t->name, t->active_version);
        } else {
            uint32_t need = needed_replicas(t, live), lowest;
            uint32_t n = below(t, need, &lowest);
            if (n > 0) {
                buf_printf(&h->reasons, "table %s version %" PRIu64 ": %"
                           PRIu32 " of %" PRIu32 " partitions have fewer "
                           "than %" PRIu32 " ready replica%s (fewest: %"
                           PRIu32 ")\n", t->name, t->active_version, n,
                           t->partitions, need, need == 1 ? "" : "s",
                           lowest);
            }
        }
        judge_freshness(t, now_ms, h);
    }
    size_t motion = count_in_motion(v->placement);
    if (motion > 0) {
        buf_printf(&h->notes, "%zu partition%s in motion\n", motion,
                   motion == 1 ? "" : "s");
    }
    if (v->placement == NULL) {
        buf_printf(&h->notes, "no placement stored (larder node add or "
                   "larder rebalance computes one)\n");
    }
    h->healthy = h->reasons.len == 0 && !h->reasons.failed;
}

void cluster_health_free(struct cluster_health *h)
{
    buf_deinit(&h->reasons);
    buf_deinit(&h->notes);
}

/* Writes "\n"-terminated lines as a JSON array of strings. */
static void lines_json(struct json_writer *w, const struct buf *b)
{
    jw_array_begin(w);
    for (size_t i = 0; i < b->len;) {
        const char *s = b->data + i;
        const char *nl = memchr(s, '\n', b->len - i);
        size_t n = nl != NULL ? (size_t)(nl - s) : b->len - i;
        jw_string(w, s, n);
        i += n + 1;
    }
    jw_array_end(w);
}

/* Prefixes each line of b with "  " into out. */
static void lines_text(struct buf *out, const struct buf *b,
                       const char *prefix)
{
    for (size_t i = 0; i < b->len;) {
        const char *s = b->data + i;
        const char *nl = memchr(s, '\n', b->len - i);
        size_t n = nl != NULL ? (size_t)(nl - s) : b->len - i;
        buf_printf(out, "%s%.*s\n", prefix, (int)n, s);
        i += n + 1;
    }
}

static void status_tables_json(const struct cluster_view *v,
                               int64_t now_ms, struct json_writer *w)
{
    size_t live = cluster_view_live(v);
    jw_array_begin(w);
    for (size_t i = 0; i < v->ntables; i++) {
        const struct cluster_table *t = &v->tables[i];
        struct cluster_freshness f;
        cluster_table_freshness(t, now_ms, &f);
        jw_object_begin(w);
        jw_key_str(w, "table");
        jw_str(w, t->name);
        jw_key_str(w, "kind");
        if (t->config_known) {
            jw_str(w, memb_table_kind_name(t->kind));
        } else {
            jw_null(w);
        }
        jw_key_str(w, "partitions");
        jw_u64(w, t->partitions);
        jw_key_str(w, "replication");
        replication_json(w, t->replication);
        jw_key_str(w, "active_version");
        if (t->active_version != 0) {
            jw_u64(w, t->active_version);
        } else {
            jw_null(w);
        }
        jw_key_str(w, "needed_replicas");
        jw_u64(w, needed_replicas(t, live));
        jw_key_str(w, "partitions_ready");
        if (t->ready != NULL) {
            uint32_t lowest;
            jw_u64(w, t->partitions - below(t, needed_replicas(t, live),
                                            &lowest));
        } else {
            jw_null(w);
        }
        jw_key_str(w, "age_seconds");
        if (f.age_known) {
            jw_u64(w, f.age_s);
        } else {
            jw_null(w);
        }
        jw_key_str(w, "max_age_seconds");
        if (t->max_age_known) {
            jw_u64(w, t->max_age_s);
        } else {
            jw_null(w);
        }
        jw_key_str(w, "stale");
        jw_bool(w, f.stale);
        jw_object_end(w);
    }
    jw_array_end(w);
}

/* The AGE, MAX AGE and FRESH cells of x. */
static void freshness_text(const struct cluster_table *x, int64_t now_ms,
                           char *age, char *max_age, char *fresh,
                           size_t len)
{
    struct cluster_freshness f;
    cluster_table_freshness(x, now_ms, &f);
    snprintf(age, len, "%s", x->active_version == 0 ? "-" : "unknown");
    if (f.age_known) {
        cluster_format_age(f.age_s, age, len);
    }
    snprintf(max_age, len, "%s", !x->max_age_known ? "unknown"
                                 : x->max_age_s == 0 ? "-" : "");
    if (x->max_age_known && x->max_age_s > 0) {
        cluster_format_age(x->max_age_s, max_age, len);
    }
    snprintf(fresh, len, "%s", x->active_version == 0 ? "-"
                               : !f.judged         ? "unknown"
                               : f.stale           ? "no"
                                                   : "yes");
}

static bool status_tables_text(const struct cluster_view *v, int64_t now_ms,
                               struct buf *out)
{
    size_t live = cluster_view_live(v);
    const char *hdr[] = {"TABLE", "VERSION", "PARTITIONS", "REPLICATION",
                         "READY", "AGE", "MAX AGE", "FRESH"};
    struct text_table t;
    text_table_init(&t, 8, hdr);
    for (size_t i = 0; i < v->ntables; i++) {
        const struct cluster_table *x = &v->tables[i];
        char ver[24] = "-", parts[16], repl[16], ready[64] = "-";
        char age[32], max_age[32], fresh[32];
        freshness_text(x, now_ms, age, max_age, fresh, sizeof(age));
        if (x->active_version != 0) {
            snprintf(ver, sizeof(ver), "%" PRIu64, x->active_version);
            snprintf(ready, sizeof(ready), "unknown");
        }
        snprintf(parts, sizeof(parts), "%" PRIu32, x->partitions);
        replication_text(x->replication, repl, sizeof(repl));
        if (x->ready != NULL) {
            uint32_t need = needed_replicas(x, live), lowest;
            snprintf(ready, sizeof(ready), "%" PRIu32 "/%" PRIu32
                     " (need %" PRIu32 ")",
                     x->partitions - below(x, need, &lowest), x->partitions,
                     need);
        }
        const char *row[] = {x->name, ver,  x->partitions ? parts : "-",
                             repl,    ready, age, max_age, fresh};
        text_table_add(&t, row);
    }
    bool ok = text_table_render(&t, out);
    text_table_deinit(&t);
    return ok;
}

bool cluster_render_status(const struct cluster_view *v,
                           const struct cluster_health *h, bool json,
                           struct buf *out)
{
    struct cluster_load *loads = calloc(v->nnodes ? v->nnodes : 1,
                                        sizeof(*loads));
    if (loads == NULL || !cluster_loads(v, loads)) {
        free(loads);
        return false;
    }
    bool ok = true;
    if (json) {
        struct json_writer w;
        jw_init(&w, out);
        jw_object_begin(&w);
        jw_key_str(&w, "source");
        jw_str(&w, v->source);
        jw_key_str(&w, "verdict");
        jw_str(&w, h->healthy ? "healthy" : "degraded");
        jw_key_str(&w, "reasons");
        lines_json(&w, &h->reasons);
        jw_key_str(&w, "notes");
        lines_json(&w, &h->notes);
        jw_key_str(&w, "active_generation");
        jw_u64(&w, v->active.generation);
        jw_key_str(&w, "placement_generation");
        jw_u64(&w, v->placement ? placement_generation(v->placement) : 0);
        jw_key_str(&w, "nodes");
        nodes_json(v, loads, &w);
        jw_key_str(&w, "tables");
        status_tables_json(v, h->now_ms, &w);
        jw_object_end(&w);
        buf_append(out, "\n", 1);
    } else {
        buf_printf(out, "cluster %s: %s\n", v->source,
                   h->healthy ? "healthy" : "degraded");
        lines_text(out, &h->reasons, "  ");
        lines_text(out, &h->notes, "  note: ");
        if (v->nnodes > 0) {
            buf_append(out, "\n", 1);
            ok = nodes_text(v, loads, out);
        }
        if (ok && v->ntables > 0) {
            buf_append(out, "\n", 1);
            ok = status_tables_text(v, h->now_ms, out);
        }
    }
    free(loads);
    return ok;
}
