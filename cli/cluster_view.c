/*
 * This file implements cluster_view.h: filling one struct cluster_view
 * from the membership (membership.h, controller_read()) or from a node's
 * LARDER.VIEW document (parsed with jansson), and the read routing that
 * get/mget do with it.
 */
#include "cluster_view.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <xxhash.h>

#include "controller.h"

void cluster_view_free(struct cluster_view *v)
{
    for (size_t i = 0; i < v->ntables; i++) {
        free(v->tables[i].ready);
    }
    free(v->tables);
    free(v->nodes);
    for (size_t i = 0; i < v->nready_nodes; i++) {
        free(v->ready_nodes[i]);
    }
    free(v->ready_nodes);
    membership_active_free(&v->active);
    placement_destroy(&v->placement);
    memset(v, 0, sizeof(*v));
}

const struct cluster_node *cluster_view_node(const struct cluster_view *v,
                                             const char *id)
{
    for (size_t i = 0; i < v->nnodes; i++) {
        if (strcmp(v->nodes[i].id, id) == 0) {
            return &v->nodes[i];
        }
    }
    return NULL;
}

const struct cluster_table *cluster_view_table(const struct cluster_view *v,
                                               const char *name)
{
    for (size_t i = 0; i < v->ntables; i++) {
        if (strcmp(v->tables[i].name, name) == 0) {
            return &v->tables[i];
        }
    }
    return NULL;
}

size_t cluster_view_live(const struct cluster_view *v)
{
    size_t n = 0;
    for (size_t i = 0; i < v->nnodes; i++) {
        n += v->nodes[i].member && v->nodes[i].live;
    }
    return n;
}

/* Appends a zeroed node (id set); NULL if out of memory. */
static struct cluster_node *add_node(struct cluster_view *v, const char *id)
{
    struct cluster_node *nodes =
        realloc(v->nodes, (v->nnodes + 1) * sizeof(*nodes));
    if (nodes == NULL) {
        return NULL;
    }
    v->nodes = nodes;
    struct cluster_node *n = &nodes[v->nnodes++];
    memset(n, 0, sizeof(*n));
    snprintf(n->id, sizeof(n->id), "%s", id);
    return n;
}

/* Appends a zeroed table (name set); NULL if out of memory. */
static struct cluster_table *add_table(struct cluster_view *v,
                                       const char *name)
{
    struct cluster_table *t =
        realloc(v->tables, (v->ntables + 1) * sizeof(*t));
    if (t == NULL) {
        return NULL;
    }
    v->tables = t;
    struct cluster_table *x = &t[v->ntables++];
    memset(x, 0, sizeof(*x));
    snprintf(x->name, sizeof(x->name), "%s", name);
    return x;
}

static int node_cmp(const void *a, const void *b)
{
    const struct cluster_node *x = a, *y = b;
    if (x->member != y->member) {
        return x->member ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

static int table_cmp(const void *a, const void *b)
{
    return strcmp(((const struct cluster_table *)a)->name,
                  ((const struct cluster_table *)b)->name);
}

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct memb_active_entry *)a)->table,
                  ((const struct memb_active_entry *)b)->table);
}

/*
 * Adds the nodes the placement names that are not members (former members
 * still holding partitions), then sorts: members by id, then the rest.
 * false if out of memory.
 */
static bool add_placement_nodes(struct cluster_view *v)
{
    const struct placement *pl = v->placement;
    size_t ntables = pl != NULL ? placement_table_count(pl) : 0;
    const char **ids = NULL;
    if (ntables > 0) {
        ids = malloc(PLACE_NODES_MAX * sizeof(*ids));
        if (ids == NULL) {
            return false;
        }
    }
    for (size_t t = 0; t < ntables; t++) {
        struct place_table_info ti;
        if (placement_table_at(pl, t, &ti) != PLACE_OK) {
            continue;
        }
        for (uint32_t p = 0; p < ti.partitions; p++) {
            for (int set = PLACE_CURRENT; set <= PLACE_TARGET; set++) {
                size_t n = 0;
                if (placement_nodes(pl, ti.name, p, (enum place_set)set, ids,
                                    PLACE_NODES_MAX, &n) != PLACE_OK) {
                    continue;
                }
                for (size_t i = 0; i < n && i < PLACE_NODES_MAX; i++) {
                    if (cluster_view_node(v, ids[i]) == NULL &&
                        add_node(v, ids[i]) == NULL) {
                        free(ids);
                        return false;
                    }
                }
            }
        }
    }
    free(ids);
    if (v->nnodes > 1) {
        qsort(v->nodes, v->nnodes, sizeof(v->nodes[0]), node_cmp);
    }
    return true;
}

/* Adds (or completes) the placement's tables; false if out of memory. */
static bool add_placement_tables(struct cluster_view *v)
{
    const struct placement *pl = v->placement;
    size_t ntables = pl != NULL ? placement_table_count(pl) : 0;
    for (size_t t = 0; t < ntables; t++) {
        struct place_table_info ti;
        if (placement_table_at(pl, t, &ti) != PLACE_OK) {
            continue;
        }
        if (cluster_view_table(v, ti.name) != NULL) {
            continue;
        }
        struct cluster_table *x = add_table(v, ti.name);
        if (x == NULL) {
            return false;
        }
        x->kind = MEMB_TABLE_BATCH;
        x->partitions = ti.partitions;
        x->replication = ti.replication;
    }
    return true;
}

/* Adds the active map's tables the view lacks; false if out of memory. */
static bool add_active_tables(struct cluster_view *v)
{
    for (size_t i = 0; i < v->active.n; i++) {
        const struct memb_active_entry *e = &v->active.entries[i];
        struct cluster_table *x =
            (struct cluster_table *)cluster_view_table(v, e->table);
        if (x == NULL && (x = add_table(v, e->table)) == NULL) {
            return false;
        }
        x->active_version = e->version;
    }
    if (v->ntables > 1) {
        qsort(v->tables, v->ntables, sizeof(v->tables[0]), table_cmp);
    }
    return true;
}

/* ---- from the membership ------------------------------------------------- */

/*
 * Sets the created_ms of each table's active version from its record; a
 * record that is missing leaves it unknown. MEMB_OK, or a failure with a
 * message in err.
 */
static enum memb_status add_created(struct membership *m,
                                    struct cluster_view *v, char *err,
                                    size_t errlen)
{
    for (size_t i = 0; i < v->ntables; i++) {
        struct cluster_table *x = &v->tables[i];
        if (x->active_version == 0) {
            continue;
        }
        struct memb_version rec;
        enum memb_status st = membership_version_get(m, x->name,
                                                     x->active_version, &rec);
        if (st == MEMB_NOTFOUND) {
            continue;
        }
        if (st != MEMB_OK) {
            snprintf(err, errlen, "cannot read %s version %" PRIu64 ": %s",
                     x->name, x->active_version, membership_error(m));
            return st;
        }
        x->created_ms = rec.created_ms > 0 ? rec.created_ms : 0;
    }
    return MEMB_OK;
}

enum memb_status cluster_view_from_membership(struct membership *m,
                                              const char *source,
                                              bool health,
                                              struct cluster_view *v,
                                              char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->source, sizeof(v->source), "%s", source);
    struct memb_member *mem = NULL;
    size_t nmem = 0;
    enum memb_status st = membership_member_list(m, &mem, &nmem);
    if (st != MEMB_OK) {
        snprintf(err, errlen, "cannot list members: %s", membership_error(m));
        return st;
    }
    v->nodes = calloc(nmem ? nmem : 1, sizeof(*v->nodes));
    if (v->nodes == NULL) {
        free(mem);
        snprintf(err, errlen, "out of memory");
        return MEMB_ERR;
    }
    for (size_t i = 0; i < nmem; i++) {
        struct cluster_node *n = &v->nodes[v->nnodes++];
        snprintf(n->id, sizeof(n->id), "%s", mem[i].id);
        snprintf(n->addr, sizeof(n->addr), "%s", mem[i].addr);
        snprintf(n->zone, sizeof(n->zone), "%s", mem[i].zone);
        n->capacity = mem[i].capacity ? mem[i].capacity
                                      : PLACE_DEFAULT_CAPACITY;
        n->member = true;
        n->live = mem[i].live != 0;
        snprintf(n->state, sizeof(n->state), "%s", mem[i].state);
        n->draining = mem[i].draining != 0;
        n->batch_memory = mem[i].batch_memory;
        n->batch_used = mem[i].batch_used;
    }
    free(mem);

    uint64_t cas = 0;
    st = controller_read(m, &v->placement, &cas, err, errlen);
    if (st != MEMB_OK && st != MEMB_NOTFOUND) {
        return st;
    }
    struct memb_table *tabs = NULL;
    size_t ntabs = 0;
    st = membership_table_list(m, &tabs, &ntabs);
    if (st != MEMB_OK) {
        snprintf(err, errlen, "cannot list tables: %s", membership_error(m));
        return st;
    }
    v->tables = calloc(ntabs ? ntabs : 1, sizeof(*v->tables));
    if (v->tables == NULL) {
        free(tabs);
        snprintf(err, errlen, "out of memory");
        return MEMB_ERR;
    }
    for (size_t i = 0; i < ntabs; i++) {
        struct cluster_table *x = &v->tables[v->ntables++];
        snprintf(x->name, sizeof(x->name), "%s", tabs[i].name);
        x->config_known = true;
        x->kind = tabs[i].kind;
        x->partitions = tabs[i].partitions;
        x->replication = tabs[i].replication;
        snprintf(x->fallback_key, sizeof(x->fallback_key), "%s",
                 tabs[i].fallback_key);
        x->max_age_known = true;
        x->max_age_s = tabs[i].max_age_s;
        x->dims = tabs[i].dims;
    }
    free(tabs);
    st = membership_active_get(m, &v->active);
    if (st != MEMB_OK) {
        snprintf(err, errlen, "cannot read the active map: %s",
                 membership_error(m));
        return st;
    }
    if (!add_placement_nodes(v) || !add_placement_tables(v) ||
        !add_active_tables(v)) {
        snprintf(err, errlen, "out of memory");
        return MEMB_ERR;
    }
    if (health && (st = add_created(m, v, err, errlen)) != MEMB_OK) {
        return st;
    }
    for (size_t i = 0; health && i < v->ntables; i++) {
        struct cluster_table *x = &v->tables[i];
        if (x->active_version == 0 || x->partitions == 0) {
            continue;
        }
        x->ready = calloc(x->partitions, sizeof(*x->ready));
        if (x->ready == NULL) {
            snprintf(err, errlen, "out of memory");
            return MEMB_ERR;
        }
        st = membership_ready_count(m, x->name, x->active_version,
                                    x->partitions, x->ready);
        if (st != MEMB_OK) {
            snprintf(err, errlen, "cannot count ready replicas of %s "
                     "version %" PRIu64 ": %s", x->name, x->active_version,
                     membership_error(m));
            return st;
        }
    }
    return MEMB_OK;
}

/* ---- from LARDER.VIEW ---------------------------------------------------- */

__attribute__((format(printf, 3, 4)))
static int bad(char *err, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A non-negative integer field (missing: 0); false if of another type. */
static bool get_u64(const json_t *obj, const char *key, uint64_t *out)
{
    const json_t *x = json_object_get(obj, key);
    *out = 0;
    if (x == NULL || json_is_null(x)) {
        return true;
    }
    if (!json_is_integer(x) || json_integer_value(x) < 0) {
        return false;
    }
    *out = (uint64_t)json_integer_value(x);
    return true;
}

/* A string field copied into out (missing: ""); false if not a string. */
static bool get_str(const json_t *obj, const char *key, char *out,
                    size_t outlen)
{
    const json_t *x = json_object_get(obj, key);
    out[0] = '\0';
    if (x == NULL || json_is_null(x)) {
        return true;
    }
    if (!json_is_string(x) || json_string_length(x) >= outlen) {
        return false;
    }
    memcpy(out, json_string_value(x), json_string_length(x) + 1);
    return true;
}

/* A boolean field (missing: false); false if of another type. */
static bool get_bool(const json_t *obj, const char *key, bool *out)
{
    const json_t *x = json_object_get(obj, key);
    *out = false;
    if (x == NULL || json_is_null(x)) {
        return true;
    }
    if (json_is_boolean(x)) {
        *out = json_is_true(x);
        return true;
    }
    if (json_is_integer(x)) {
        *out = json_integer_value(x) != 0;
        return true;
    }
    return false;
}

static int parse_active(const json_t *doc, struct cluster_view *v, char *err,
                        size_t errlen)
{
    const json_t *act = json_object_get(doc, "active");
    if (act == NULL || json_is_null(act)) {
        return 0;
    }
    const json_t *tables = json_object_get(act, "tables");
    if (!json_is_object(act) || !get_u64(act, "generation",
                                         &v->active.generation) ||
        (tables != NULL && !json_is_object(tables))) {
        return bad(err, errlen, "\"active\" is not {generation, tables}");
    }
    size_t n = tables != NULL ? json_object_size(tables) : 0;
    v->active.entries = calloc(n ? n : 1, sizeof(*v->active.entries));
    if (v->active.entries == NULL) {
        return bad(err, errlen, "out of memory");
    }
    const char *name;
    json_t *ver;
    json_object_foreach((json_t *)tables, name, ver) {
        struct memb_active_entry *e = &v->active.entries[v->active.n];
        if (!json_is_integer(ver) || json_integer_value(ver) <= 0 ||
            strlen(name) >= sizeof(e->table)) {
            return bad(err, errlen, "\"active\": bad entry for table %s",
                       name);
        }
        snprintf(e->table, sizeof(e->table), "%s", name);
        e->version = (uint64_t)json_integer_value(ver);
        v->active.n++;
    }
    if (v->active.n > 1) {
        qsort(v->active.entries, v->active.n, sizeof(v->active.entries[0]),
              entry_cmp);
    }
    return 0;
}

static int parse_placement(const json_t *doc, struct cluster_view *v,
                           char *err, size_t errlen)
{
    const json_t *pl = json_object_get(doc, "placement");
    if (pl == NULL || json_is_null(pl)) {
        return 0;
    }
    char *text = NULL;
    if (json_is_string(pl)) {
        text = strdup(json_string_value(pl));
    } else if (json_is_object(pl)) {
        text = json_dumps(pl, JSON_COMPACT | JSON_SORT_KEYS);
    } else {
        return bad(err, errlen, "\"placement\" is neither an object nor "
                   "null");
    }
    if (text == NULL) {
        return bad(err, errlen, "out of memory");
    }
    char why[512] = "";
    enum place_status st = placement_from_json(text, strlen(text),
                                               &v->placement, why,
                                               sizeof(why));
    free(text);
    if (st != PLACE_OK) {
        return bad(err, errlen, "the placement does not parse: %s",
                   why[0] ? why : place_status_name(st));
    }
    return 0;
}

static int parse_nodes(const json_t *doc, struct cluster_view *v, char *err,
                       size_t errlen)
{
    const json_t *nodes = json_object_get(doc, "nodes");
    if (nodes == NULL || json_is_null(nodes)) {
        return 0;
    }
    if (!json_is_array(nodes)) {
        return bad(err, errlen, "\"nodes\" is not an array");
    }
    size_t i;
    const json_t *x;
    json_array_foreach(nodes, i, x) {
        char id[MEMB_NAME_MAX];
        if (!json_is_object(x) || !get_str(x, "id", id, sizeof(id)) ||
            !membership_valid_name(id)) {
            return bad(err, errlen, "\"nodes\"[%zu]: no valid \"id\"", i);
        }
        if (cluster_view_node(v, id) != NULL) {
            return bad(err, errlen, "\"nodes\": %s listed twice", id);
        }
        struct cluster_node *n = add_node(v, id);
        if (n == NULL) {
            return bad(err, errlen, "out of memory");
        }
        uint64_t cap;
        n->member = true;
        if (!get_str(x, "addr", n->addr, sizeof(n->addr)) ||
            !get_str(x, "zone", n->zone, sizeof(n->zone)) ||
            !get_str(x, "state", n->state, sizeof(n->state)) ||
            !get_u64(x, "capacity", &cap) || cap > UINT32_MAX ||
            !get_bool(x, "live", &n->live) ||
            !get_bool(x, "draining", &n->draining) ||
            !get_u64(x, "batch_memory", &n->batch_memory) ||
            !get_u64(x, "batch_used", &n->batch_used)) {
            return bad(err, errlen, "\"nodes\"[%zu] (%s): a field of the "
                       "wrong type", i, id);
        }
        n->capacity = cap ? (uint32_t)cap : PLACE_DEFAULT_CAPACITY;
    }
    return 0;
}

/*
 * Reads "freshness" into the tables with an active version; entries for
 * other tables are ignored.
 */
static int parse_freshness(const json_t *doc, struct cluster_view *v,
                           char *err, size_t errlen)
{
    const json_t *fr = json_object_get(doc, "freshness");
    if (fr == NULL || json_is_null(fr)) {
        return 0;
    }
    if (!json_is_object(fr)) {
        return bad(err, errlen, "\"freshness\" is not an object");
    }
    const char *name;
    const json_t *e;
    json_object_foreach((json_t *)fr, name, e) {
        uint64_t created, max_age;
        if (!json_is_object(e) || !get_u64(e, "created_ms", &created) ||
            created > INT64_MAX || !get_u64(e, "max_age_s", &max_age)) {
            return bad(err, errlen, "\"freshness\": bad entry for table %s",
                       name);
        }
        struct cluster_table *x =
            (struct cluster_table *)cluster_view_table(v, name);
        if (x == NULL || x->active_version == 0) {
            continue;
        }
        x->created_ms = (int64_t)created;
        x->max_age_s = max_age;
        x->max_age_known = true;
    }
    return 0;
}

bool cluster_view_ready_counted(const struct cluster_view *v,
                                const char *id)
{
    for (size_t i = 0; i < v->nready_nodes; i++) {
        if (strcmp(v->ready_nodes[i], id) == 0) {
            return true;
        }
    }
    return false;
}

/* Remembers that id's readiness is counted; false if out of memory. */
static bool ready_counted_add(struct cluster_view *v, const char *id)
{
    if (cluster_view_ready_counted(v, id)) {
        return true;
    }
    char **grown = realloc(v->ready_nodes,
                           (v->nready_nodes + 1) * sizeof(*grown));
    if (grown == NULL) {
        return false;
    }
    v->ready_nodes = grown;
    if ((grown[v->nready_nodes] = strdup(id)) == NULL) {
        return false;
    }
    v->nready_nodes++;
    return true;
}

/*
 * Checks one table's readiness r (counts, or {node: [partitions]}) of
 * x's active version; with counts non-NULL, adds it there (nodes in
 * `counted` or not live are skipped).
 */
static int ready_table(const json_t *r, const struct cluster_view *v,
                       const struct cluster_table *x, uint32_t *counts,
                       char *err, size_t errlen)
{
    size_t i;
    const json_t *e;
    if (json_is_array(r)) {
        if (json_array_size(r) != x->partitions) {
            return bad(err, errlen, "\"ready\" of %s: %zu counts for %u "
                       "partitions", x->name, json_array_size(r),
                       x->partitions);
        }
        json_array_foreach(r, i, e) {
            if (!json_is_integer(e) || json_integer_value(e) < 0 ||
                json_integer_value(e) > UINT32_MAX) {
                return bad(err, errlen, "\"ready\" of %s: a bad count",
                           x->name);
            }
            if (counts != NULL) {
                counts[i] += (uint32_t)json_integer_value(e);
            }
        }
        return 0;
    }
    if (!json_is_object(r)) {
        return bad(err, errlen, "\"ready\" of %s is neither counts nor "
                   "{node: partitions}", x->name);
    }
    const char *node;
    const json_t *parts;
    json_object_foreach((json_t *)r, node, parts) {
        if (!json_is_array(parts)) {
            return bad(err, errlen, "\"ready\" of %s: node %s: not a list",
                       x->name, node);
        }
        const struct cluster_node *n = cluster_view_node(v, node);
        bool count = counts != NULL && n != NULL && n->live &&
                     !cluster_view_ready_counted(v, node);
        json_array_foreach(parts, i, e) {
            if (!json_is_integer(e) || json_integer_value(e) < 0 ||
                json_integer_value(e) >= x->partitions) {
                return bad(err, errlen, "\"ready\" of %s: node %s: a bad "
                           "partition", x->name, node);
            }
            if (count) {
                counts[json_integer_value(e)]++;
            }
        }
    }
    return 0;
}

/* The readiness of x's active version in a view document, or NULL. */
static const json_t *ready_of(const json_t *ready,
                              const struct cluster_table *x)
{
    const json_t *t = json_object_get(ready, x->name);
    if (x->active_version == 0 || x->partitions == 0 || !json_is_object(t)) {
        return NULL;
    }
    char ver[24];
    snprintf(ver, sizeof(ver), "%" PRIu64, x->active_version);
    return json_object_get(t, ver);
}

/*
 * Adds the readiness of document doc to v: checks it all first, then
 * counts (so a bad document changes nothing), then marks its nodes
 * counted. first: tables without counts yet get them (zeroed) even where
 * doc says nothing, and a missing "ready" leaves readiness unknown.
 */
static int add_ready(struct cluster_view *v, const json_t *doc, bool first,
                     char *err, size_t errlen)
{
    const json_t *ready = json_object_get(doc, "ready");
    if (ready == NULL || json_is_null(ready)) {
        return 0;
    }
    if (!json_is_object(ready)) {
        return bad(err, errlen, "\"ready\" is not an object");
    }
    for (size_t i = 0; i < v->ntables; i++) {
        const json_t *r = ready_of(ready, &v->tables[i]);
        if (r != NULL &&
            ready_table(r, v, &v->tables[i], NULL, err, errlen) != 0) {
            return -1;
        }
    }
    for (size_t i = 0; i < v->ntables; i++) {
        struct cluster_table *x = &v->tables[i];
        const json_t *r = ready_of(ready, x);
        if (x->ready == NULL && (r != NULL || (first && v->ready_partial &&
                                               x->active_version != 0 &&
                                               x->partitions != 0))) {
            x->ready = calloc(x->partitions, sizeof(*x->ready));
            if (x->ready == NULL) {
                return bad(err, errlen, "out of memory");
            }
        }
        if (r != NULL) {
            ready_table(r, v, x, x->ready, err, errlen);
        }
    }
    const char *table;
    const json_t *versions;
    json_object_foreach((json_t *)ready, table, versions) {
        const char *ver;
        const json_t *who;
        json_object_foreach((json_t *)versions, ver, who) {
            const char *node;
            const json_t *parts;
            json_object_foreach((json_t *)who, node, parts) {
                if (!ready_counted_add(v, node)) {
                    return bad(err, errlen, "out of memory");
                }
            }
        }
    }
    return 0;
}

int cluster_view_merge_ready(struct cluster_view *v, const char *json,
                             size_t len, char *err, size_t errlen)
{
    json_error_t je;
    json_t *doc = json_loadb(json, len, 0, &je);
    if (doc == NULL) {
        return bad(err, errlen, "not JSON: %s (line %d)", je.text, je.line);
    }
    int rc = json_is_object(doc) ? add_ready(v, doc, false, err, errlen)
                                 : bad(err, errlen, "not a view");
    json_decref(doc);
    return rc;
}

int cluster_view_from_json(const char *json, size_t len, const char *source,
                           struct cluster_view *v, char *err, size_t errlen)
{
    memset(v, 0, sizeof(*v));
    snprintf(v->source, sizeof(v->source), "%s", source);
    v->from_node = true;
    json_error_t je;
    json_t *doc = json_loadb(json, len, 0, &je);
    if (doc == NULL) {
        return bad(err, errlen, "not JSON: %s (line %d)", je.text, je.line);
    }
    int rc = 0;
    if (!json_is_object(doc) || !get_u64(doc, "generation", &v->generation)) {
        rc = bad(err, errlen, "not a view: expected an object with an "
                 "integer \"generation\"");
    }
    if (rc == 0) {
        rc = parse_active(doc, v, err, errlen);
    }
    if (rc == 0) {
        rc = parse_placement(doc, v, err, errlen);
    }
    if (rc == 0) {
        rc = parse_nodes(doc, v, err, errlen);
    }
    if (rc == 0 && (!add_placement_nodes(v) || !add_placement_tables(v) ||
                    !add_active_tables(v))) {
        rc = bad(err, errlen, "out of memory");
    }
    if (rc == 0) {
        rc = parse_freshness(doc, v, err, errlen);
    }
    if (rc == 0) {
        const json_t *src = json_object_get(doc, "ready_source");
        v->ready_partial = json_is_string(src) &&
                           strcmp(json_string_value(src), "self") == 0;
        rc = add_ready(v, doc, true, err, errlen);
    }
    json_decref(doc);
    return rc;
}

/* ---- routing ------------------------------------------------------------- */

uint32_t cluster_key_partition(const char *key, size_t klen,
                               uint32_t partitions)
{
    return (uint32_t)(XXH3_64bits(key, klen) % partitions);
}

/* Appends node index i to out unless present, unusable or out is full. */
static void route_add(const struct cluster_view *v, size_t i, size_t *out,
                      size_t max, size_t *n)
{
    const struct cluster_node *x = &v->nodes[i];
    if (!x->live || x->addr[0] == '\0' || *n == max) {
        return;
    }
    for (size_t k = 0; k < *n; k++) {
        if (out[k] == i) {
            return;
        }
    }
    out[(*n)++] = i;
}

/* Moves the nodes in state "ready" of out[from, n) first, keeping order. */
static void ready_first(const struct cluster_view *v, size_t *out,
                        size_t from, size_t n)
{
    size_t w = from;
    for (size_t r = from; r < n; r++) {
        if (strcmp(v->nodes[out[r]].state, "ready") == 0) {
            size_t x = out[r];
            memmove(&out[w + 1], &out[w], (r - w) * sizeof(*out));
            out[w++] = x;
        }
    }
}

void cluster_view_route(const struct cluster_view *v, const char *table,
                        const char *key, size_t klen, size_t *out,
                        size_t max, size_t *n, uint32_t *partition)
{
    *n = 0;
    *partition = UINT32_MAX;
    struct place_table_info ti = {0};
    size_t nt = v->placement != NULL ? placement_table_count(v->placement)
                                     : 0;
    for (size_t t = 0; t < nt; t++) {
        if (placement_table_at(v->placement, t, &ti) == PLACE_OK &&
            strcmp(ti.name, table) == 0) {
            break;
        }
        ti.name = NULL;
    }
    if (ti.name == NULL || ti.partitions == 0) {
        for (size_t i = 0; i < v->nnodes; i++) {
            if (v->nodes[i].member) {
                route_add(v, i, out, max, n);
            }
        }
        ready_first(v, out, 0, *n);
        return;
    }
    *partition = cluster_key_partition(key, klen, ti.partitions);
    for (int set = PLACE_CURRENT; set <= PLACE_TARGET; set++) {
        size_t cnt = 0, from = *n;
        if (placement_nodes(v->placement, table, *partition,
                            (enum place_set)set, NULL, 0, &cnt) != PLACE_OK ||
            cnt == 0) {
            continue;
        }
        const char **ids = calloc(cnt, sizeof(*ids));
        if (ids == NULL) {
            return;
        }
        placement_nodes(v->placement, table, *partition, (enum place_set)set,
                        ids, cnt, &cnt);
        for (size_t k = 0; k < cnt; k++) {
            const struct cluster_node *x = cluster_view_node(v, ids[k]);
            if (x != NULL) {
                route_add(v, (size_t)(x - v->nodes), out, max, n);
            }
        }
        free(ids);
        ready_first(v, out, from, *n);
    }
}
