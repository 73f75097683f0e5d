/*
 * This file implements lookups in an immutable batch view, LARDER.VIEW's
 * JSON, and the JSON encoding of the view file (batch_view.h). View file
 * layout:
 *
 *   {"generation": 7, "changed_ms": 1700000000000,
 *    "tables": {"users": {"active": 12,
 *                         "previous": [{"version": 11,
 *                                       "last_active_ms": 1699990000000}]}},
 *    "placement": {...placement_to_json()...} or null,
 *    "nodes": [{"id": "n1", "addr": "10.0.0.1:7379", "zone": "a",
 *               "capacity": 100}]}
 *
 * "placement" and "nodes" are optional (files written before they existed
 * have neither: no placement, every partition held).
 */
#include "batch_view.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "segment.h"

bool batch_valid_table_name(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len >= BATCH_NAME_MAX) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char ch = name[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' ||
              ch == '-')) {
            return false;
        }
    }
    /* "." and ".." are valid by the character rule but name directories. */
    return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

const struct batch_vinfo *batch_view_version(const struct batch_vtable *t,
                                             uint64_t version)
{
    size_t lo = 0, hi = t->nversions;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint64_t x = t->versions[mid].version;
        if (x == version) {
            return &t->versions[mid];
        }
        if (x < version) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

void batch_view_usage(const struct batch_view *v, struct batch_usage *out)
{
    memset(out, 0, sizeof(*out));
    for (size_t i = 0; v != NULL && i < v->ntables; i++) {
        const struct batch_vtable *t = &v->tables[i];
        for (size_t k = 0; k < t->nversions; k++) {
            const struct batch_vinfo *vi = &t->versions[k];
            if (vi->segs == NULL) {
                continue;
            }
            out->used += vi->held_bytes;
            for (uint32_t p = 0; p < vi->partitions; p++) {
                const struct segment *s = vi->segs[p];
                if (s == NULL) {
                    continue;
                }
                uint64_t m = segment_mapped_bytes(s);
                uint64_t r = segment_resident_bytes(s);
                out->mapped += m;
                out->resident += r;
                out->locked += segment_locked(s) ? m : 0;
                if (vi == t->active) {
                    out->active_mapped += m;
                    out->active_resident += r;
                }
            }
        }
    }
}

static int table_cmp(const void *a, const void *b)
{
    return strcmp(((const struct batch_vtable *)a)->name,
                  ((const struct batch_vtable *)b)->name);
}

static int version_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct batch_vinfo *)a)->version;
    uint64_t y = ((const struct batch_vinfo *)b)->version;
    return x < y ? -1 : x > y;
}

void batch_view_finish(struct batch_view *v)
{
    if (v->ntables > 1) {
        qsort(v->tables, v->ntables, sizeof(*v->tables), table_cmp);
    }
    for (size_t i = 0; i < v->ntables; i++) {
        struct batch_vtable *t = &v->tables[i];
        t->name_len = strlen(t->name);
        if (t->nversions > 1) {
            qsort(t->versions, t->nversions, sizeof(*t->versions), version_cmp);
        }
        t->active = NULL;
        for (size_t k = 0; k < t->nversions; k++) {
            if (t->versions[k].state == BATCH_ACTIVE) {
                t->active = &t->versions[k];
            }
        }
    }
}

void batch_view_free(struct batch_view *v)
{
    if (v == NULL) {
        return;
    }
    for (size_t i = 0; i < v->ntables; i++) {
        for (size_t k = 0; k < v->tables[i].nversions; k++) {
            free((uint32_t *)v->tables[i].versions[k].route);
        }
        free(v->tables[i].versions);
    }
    free(v->tables);
    free(v->placement_json);
    free(v->ready_json);
    free(v->nodes);
    free(v->description);
    free(v);
}

uint64_t batch_view_generation(const struct batch_view *v)
{
    return (v->generation << 32) + (v->placement_generation & 0xffffffffu);
}

/* The placement JSON as an object (a new reference), or null. */
static json_t *placement_value(const char *json)
{
    json_t *p = json != NULL ? json_loads(json, 0, NULL) : NULL;
    return p != NULL ? p : json_null();
}

static json_t *describe_nodes(const struct batch_view *v)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < v->nnodes; i++) {
        const struct batch_node *n = &v->nodes[i];
        json_array_append_new(
            a, json_pack("{s:s,s:s,s:s,s:I,s:b,s:s,s:b}", "id", n->id,
                         "addr", n->addr, "zone", n->zone, "capacity",
                         (json_int_t)n->capacity, "live", n->live, "state",
                         n->state, "draining", n->draining));
    }
    return a;
}

/* {table: {"<version>": {self: [partitions]}}} for the mapped versions. */
static json_t *describe_ready(const struct batch_view *v)
{
    json_t *ready = json_object();
    for (size_t i = 0; ready != NULL && i < v->ntables; i++) {
        const struct batch_vtable *t = &v->tables[i];
        json_t *jt = json_object();
        for (size_t k = 0; jt != NULL && k < t->nversions; k++) {
            const struct batch_vinfo *vi = &t->versions[k];
            if (vi->segs == NULL) {
                continue;
            }
            json_t *parts = json_array();
            for (uint32_t p = 0; parts != NULL && p < vi->partitions; p++) {
                if (vi->segs[p] != NULL) {
                    json_array_append_new(parts, json_integer(p));
                }
            }
            char ver[24];
            snprintf(ver, sizeof(ver), "%llu",
                     (unsigned long long)vi->version);
            json_t *who = json_object();
            json_object_set_new(who, v->self, parts);
            json_object_set_new(jt, ver, who);
        }
        if (json_object_size(jt) > 0) {
            json_object_set_new(ready, t->name, jt);
        } else {
            json_decref(jt);
        }
    }
    return ready;
}

char *batch_view_describe(const struct batch_view *v)
{
    json_t *tables = json_object();
    json_t *fresh = json_object();
    for (size_t i = 0; tables != NULL && fresh != NULL && i < v->ntables;
         i++) {
        const struct batch_vtable *t = &v->tables[i];
        if (t->active != NULL) {
            json_object_set_new(tables, t->name,
                                json_integer((json_int_t)t->active->version));
            json_object_set_new(
                fresh, t->name,
                json_pack("{s:I,s:I}", "created_ms",
                          (json_int_t)(t->active->created_ms > 0
                                           ? t->active->created_ms
                                           : 0),
                          "max_age_s", (json_int_t)t->max_age_s));
        }
    }
    json_t *ready = v->ready_json != NULL
                        ? json_loads(v->ready_json, 0, NULL)
                        : NULL;
    const char *source = ready != NULL ? "membership" : "self";
    if (ready == NULL) {
        ready = describe_ready(v);
    }
    json_t *root = json_pack(
        "{s:I,s:{s:I,s:o},s:o,s:o,s:o,s:s,s:o}", "generation",
        (json_int_t)batch_view_generation(v), "active", "generation",
        (json_int_t)v->generation, "tables", tables, "placement",
        placement_value(v->placement_json), "nodes", describe_nodes(v),
        "ready", ready, "ready_source", source, "freshness", fresh);
    if (root == NULL) {
        return NULL;
    }
    char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    return s;
}

char *batch_view_encode(const struct batch_view *v)
{
    json_t *root = json_object();
    json_t *tables = json_object();
    if (root == NULL || tables == NULL) {
        json_decref(root);
        json_decref(tables);
        return NULL;
    }
    json_object_set_new(root, "generation", json_integer((json_int_t)v->generation));
    json_object_set_new(root, "changed_ms", json_integer(v->changed_ms));
    for (size_t i = 0; i < v->ntables; i++) {
        const struct batch_vtable *t = &v->tables[i];
        json_t *jt = json_object();
        json_t *prev = json_array();
        for (size_t k = 0; k < t->nversions; k++) {
            const struct batch_vinfo *x = &t->versions[k];
            if (x->last_active_ms != 0 && x->state != BATCH_ACTIVE) {
                json_array_append_new(
                    prev, json_pack("{s:I,s:I}", "version",
                                    (json_int_t)x->version, "last_active_ms",
                                    (json_int_t)x->last_active_ms));
            }
        }
        json_object_set_new(jt, "active",
                            t->active ? json_integer((json_int_t)t->active->version)
                                      : json_null());
        json_object_set_new(jt, "previous", prev);
        json_object_set_new(tables, t->name, jt);
    }
    json_object_set_new(root, "tables", tables);
    json_object_set_new(root, "placement", placement_value(v->placement_json));
    json_t *nodes = json_array();
    for (size_t i = 0; nodes != NULL && i < v->nnodes; i++) {
        const struct batch_node *n = &v->nodes[i];
        json_array_append_new(
            nodes, json_pack("{s:s,s:s,s:s,s:I}", "id", n->id, "addr",
                             n->addr, "zone", n->zone, "capacity",
                             (json_int_t)n->capacity));
    }
    json_object_set_new(root, "nodes", nodes);
    char *s = json_dumps(root, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(root);
    return s;
}

/* Reads the optional "placement" and "nodes" of a view file. */
static int decode_cluster(json_t *root, struct batch_saved_view *out,
                          char *err, size_t errlen)
{
    json_t *pl = json_object_get(root, "placement");
    json_t *nodes = json_object_get(root, "nodes");
    if ((pl != NULL && !json_is_null(pl) && !json_is_object(pl)) ||
        (nodes != NULL && !json_is_array(nodes))) {
        snprintf(err, errlen, "bad \"placement\" or \"nodes\"");
        return -1;
    }
    if (json_is_object(pl)) {
        out->placement_json = json_dumps(pl, JSON_COMPACT | JSON_SORT_KEYS);
        if (out->placement_json == NULL) {
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    size_t n = json_array_size(nodes);
    if (n == 0) {
        return 0;
    }
    out->nodes = calloc(n, sizeof(*out->nodes));
    if (out->nodes == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    size_t i;
    json_t *jn;
    json_array_foreach(nodes, i, jn) {
        const char *id = json_string_value(json_object_get(jn, "id"));
        const char *addr = json_string_value(json_object_get(jn, "addr"));
        const char *zone = json_string_value(json_object_get(jn, "zone"));
        json_t *cap = json_object_get(jn, "capacity");
        if (id == NULL || !batch_valid_table_name(id) || addr == NULL ||
            strlen(addr) >= BATCH_ADDR_MAX ||
            (zone != NULL && strlen(zone) >= BATCH_NAME_MAX) ||
            !json_is_integer(cap) || json_integer_value(cap) < 0 ||
            json_integer_value(cap) > UINT32_MAX) {
            snprintf(err, errlen, "bad node %zu", i);
            return -1;
        }
        struct batch_node *bn = &out->nodes[out->nnodes++];
        snprintf(bn->id, sizeof(bn->id), "%s", id);
        snprintf(bn->addr, sizeof(bn->addr), "%s", addr);
        snprintf(bn->zone, sizeof(bn->zone), "%s", zone ? zone : "");
        bn->capacity = (uint32_t)json_integer_value(cap);
    }
    return 0;
}

static int add_saved(struct batch_saved_view *out, size_t *cap, const char *table,
                     uint64_t version, bool active, int64_t last_active_ms)
{
    if (out->n == *cap) {
        size_t ncap = *cap ? *cap * 2 : 8;
        struct batch_saved_version *p = realloc(out->versions, ncap * sizeof(*p));
        if (p == NULL) {
            return -1;
        }
        out->versions = p;
        *cap = ncap;
    }
    struct batch_saved_version *s = &out->versions[out->n++];
    memset(s, 0, sizeof(*s));
    snprintf(s->table, sizeof(s->table), "%s", table);
    s->version = version;
    s->active = active;
    s->last_active_ms = last_active_ms;
    return 0;
}

int batch_view_decode(const char *json, size_t len, struct batch_saved_view *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    if (errlen > 0) {
        err[0] = '\0';
    }
    json_error_t je;
    json_t *root = json_loadb(json, len, 0, &je);
    if (root == NULL) {
        snprintf(err, errlen, "not JSON: %s (line %d)", je.text, je.line);
        return -1;
    }
    json_t *gen = json_object_get(root, "generation");
    json_t *changed = json_object_get(root, "changed_ms");
    json_t *tables = json_object_get(root, "tables");
    if (!json_is_integer(gen) || json_integer_value(gen) < 0 ||
        !json_is_object(tables)) {
        snprintf(err, errlen, "missing or bad \"generation\" or \"tables\"");
        json_decref(root);
        return -1;
    }
    out->generation = (uint64_t)json_integer_value(gen);
    out->changed_ms = json_is_integer(changed) ? json_integer_value(changed) : 0;
    size_t cap = 0;
    const char *name;
    json_t *jt;
    int rc = 0;
    json_object_foreach(tables, name, jt) {
        json_t *active = json_object_get(jt, "active");
        json_t *prev = json_object_get(jt, "previous");
        if (!batch_valid_table_name(name) || !json_is_object(jt) ||
            (!json_is_null(active) && !(json_is_integer(active) &&
                                        json_integer_value(active) > 0)) ||
            (prev != NULL && !json_is_array(prev))) {
            snprintf(err, errlen, "bad entry for table \"%.64s\"", name);
            rc = -1;
            break;
        }
        if (json_is_integer(active) &&
            add_saved(out, &cap, name, (uint64_t)json_integer_value(active),
                      true, 0) != 0) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
            break;
        }
        size_t i;
        json_t *p;
        json_array_foreach(prev, i, p) {
            json_t *ver = json_object_get(p, "version");
            json_t *last = json_object_get(p, "last_active_ms");
            if (!json_is_integer(ver) || json_integer_value(ver) <= 0 ||
                !json_is_integer(last) || json_integer_value(last) <= 0) {
                snprintf(err, errlen, "bad previous version of \"%.64s\"", name);
                rc = -1;
                break;
            }
            if (add_saved(out, &cap, name, (uint64_t)json_integer_value(ver),
                          false, json_integer_value(last)) != 0) {
                snprintf(err, errlen, "out of memory");
                rc = -1;
                break;
            }
        }
        if (rc != 0) {
            break;
        }
    }
    if (rc == 0) {
        rc = decode_cluster(root, out, err, errlen);
    }
    json_decref(root);
    if (rc != 0) {
        batch_saved_view_free(out);
    }
    return rc;
}

void batch_saved_view_free(struct batch_saved_view *s)
{
    free(s->versions);
    free(s->placement_json);
    free(s->nodes);
    memset(s, 0, sizeof(*s));
}
