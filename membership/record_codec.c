/*
 * This file implements the JSON encoding of membership records
 * (record_codec.h): table configs, version records, the active map,
 * members, readiness and refusals, with the field readers both backends
 * use. Encoders and decoders only move between structs and jansson
 * documents; the backends do the I/O.
 */
#include "record_codec.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int memb_parse_u64(const char *s, uint64_t *out)
{
    int base = 10;
    if (s[0] == '0' && s[1] == 'x') {
        base = 16;
        s += 2;
    }
    if (!((s[0] >= '0' && s[0] <= '9') ||
          (base == 16 && ((s[0] >= 'a' && s[0] <= 'f') ||
                          (s[0] >= 'A' && s[0] <= 'F'))))) {
        return -1;
    }
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, base);
    if (errno != 0 || *end != '\0') {
        return -1;
    }
    *out = v;
    return 0;
}

/* ---- field readers ------------------------------------------------------ */

void memb_jr_bad(struct memb_jreader *r, const char *key)
{
    if (r->bad == NULL) {
        r->bad = key;
    }
}

/* A uint64 value: a non-negative integer or a string parse_u64 takes. */
static uint64_t jr_u64_value(struct memb_jreader *r, json_t *v,
                             const char *key)
{
    if (json_is_integer(v) && json_integer_value(v) >= 0) {
        return (uint64_t)json_integer_value(v);
    }
    uint64_t u;
    if (json_is_string(v) && memb_parse_u64(json_string_value(v), &u) == 0) {
        return u;
    }
    memb_jr_bad(r, key);
    return 0;
}

uint64_t memb_jr_u64(struct memb_jreader *r, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return v != NULL ? jr_u64_value(r, v, key) : 0;
}

uint32_t memb_jr_u32(struct memb_jreader *r, json_t *o, const char *key)
{
    uint64_t v = memb_jr_u64(r, o, key);
    if (v > UINT32_MAX) {
        memb_jr_bad(r, key);
        return 0;
    }
    return (uint32_t)v;
}

int64_t memb_jr_i64(struct memb_jreader *r, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return 0;
    }
    if (!json_is_integer(v)) {
        memb_jr_bad(r, key);
        return 0;
    }
    return (int64_t)json_integer_value(v);
}

void memb_jr_str(struct memb_jreader *r, json_t *o, const char *key,
                 char *buf, size_t size)
{
    buf[0] = '\0';
    json_t *v = json_object_get(o, key);
    if (v == NULL) {
        return;
    }
    if (!json_is_string(v) || json_string_length(v) >= size ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        memb_jr_bad(r, key);
        return;
    }
    memcpy(buf, json_string_value(v), json_string_length(v) + 1);
}

json_t *memb_json_u64(uint64_t v)
{
    if (v <= (uint64_t)INT64_MAX) {
        return json_integer((json_int_t)v);
    }
    char buf[24];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return json_string(buf);
}

void memb_jset(json_t **doc, const char *key, json_t *value)
{
    if (*doc == NULL) {
        json_decref(value);
        return;
    }
    if (value == NULL || json_object_set_new(*doc, key, value) != 0) {
        json_decref(*doc);
        *doc = NULL;
    }
}

char *memb_json_text(json_t *doc, bool pretty)
{
    if (doc == NULL) {
        return NULL;
    }
    if (!pretty) {
        return json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    }
    char *text = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
    if (text == NULL) {
        return NULL;
    }
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (line == NULL) {
        free(text);
        return NULL;
    }
    line[len] = '\n';
    line[len + 1] = '\0';
    return line;
}

json_t *memb_json_parse(struct membership *m, const char *where,
                        const char *data, size_t len)
{
    json_error_t jerr;
    json_t *doc = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        memb_fail(m, MEMB_ERR, "%s:%d:%d: %s", where, jerr.line, jerr.column,
                  jerr.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        memb_fail(m, MEMB_ERR, "%s: not a JSON object", where);
        return NULL;
    }
    return doc;
}

static enum memb_status bad_field(struct membership *m, const char *where,
                                  const char *field)
{
    return memb_fail(m, MEMB_ERR, "%s: bad field \"%s\"", where, field);
}

/* ---- tables ------------------------------------------------------------- */

json_t *memb_table_encode(const struct memb_table *t)
{
    json_t *doc = json_object();
    memb_jset(&doc, "name", json_string(t->name));
    memb_jset(&doc, "kind", json_string(memb_table_kind_name(t->kind)));
    memb_jset(&doc, "partitions", json_integer(t->partitions));
    memb_jset(&doc, "replication", t->replication == 0
                                       ? json_string("all")
                                       : json_integer(t->replication));
    memb_jset(&doc, "fallback_key", json_string(t->fallback_key));
    memb_jset(&doc, "max_age_s", memb_json_u64(t->max_age_s));
    memb_jset(&doc, "dims", json_integer(t->dims));
    return doc;
}

enum memb_status memb_table_decode(struct membership *m, const char *where,
                                   json_t *doc, struct memb_table *t)
{
    struct memb_jreader r = {0};
    memset(t, 0, sizeof(*t));
    memb_jr_str(&r, doc, "name", t->name, sizeof(t->name));
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (kind != NULL && strcmp(kind, "live") == 0) {
        t->kind = MEMB_TABLE_LIVE;
    } else if (kind != NULL && strcmp(kind, "batch") == 0) {
        t->kind = MEMB_TABLE_BATCH;
    } else {
        memb_jr_bad(&r, "kind");
    }
    t->partitions = memb_jr_u32(&r, doc, "partitions");
    json_t *rep = json_object_get(doc, "replication");
    if (json_is_string(rep) && strcmp(json_string_value(rep), "all") == 0) {
        t->replication = 0;
    } else {
        t->replication = memb_jr_u32(&r, doc, "replication");
    }
    memb_jr_str(&r, doc, "fallback_key", t->fallback_key,
                sizeof(t->fallback_key));
    t->max_age_s = memb_jr_u64(&r, doc, "max_age_s");
    t->dims = memb_jr_u32(&r, doc, "dims");
    if (r.bad == NULL && !membership_valid_name(t->name)) {
        r.bad = "name";
    }
    return r.bad != NULL ? bad_field(m, where, r.bad) : MEMB_OK;
}

/* ---- versions ----------------------------------------------------------- */

json_t *memb_version_encode(const struct memb_version *v)
{
    char checksum[24];
    snprintf(checksum, sizeof(checksum), "0x%016" PRIx64,
             v->manifest_checksum);
    json_t *doc = json_object();
    memb_jset(&doc, "version", memb_json_u64(v->version));
    memb_jset(&doc, "state", json_string(memb_version_state_name(v->state)));
    memb_jset(&doc, "manifest_uri", json_string(v->manifest_uri));
    memb_jset(&doc, "manifest_checksum", json_string(checksum));
    memb_jset(&doc, "rows", memb_json_u64(v->rows));
    memb_jset(&doc, "bytes", memb_json_u64(v->bytes));
    memb_jset(&doc, "partitions", json_integer(v->partitions));
    memb_jset(&doc, "format", json_integer(v->format));
    memb_jset(&doc, "run_id", json_string(v->run_id));
    memb_jset(&doc, "push_id", json_string(v->push_id));
    memb_jset(&doc, "created_ms", json_integer(v->created_ms));
    memb_jset(&doc, "activated_ms", json_integer(v->activated_ms));
    return doc;
}

enum memb_status memb_version_decode(struct membership *m, const char *where,
                                     json_t *doc, struct memb_version *v)
{
    struct memb_jreader r = {0};
    memset(v, 0, sizeof(*v));
    v->version = memb_jr_u64(&r, doc, "version");
    const char *state = json_string_value(json_object_get(doc, "state"));
    bool known = false;
    for (int s = MEMB_V_STAGED; s <= MEMB_V_RETIRED; s++) {
        enum memb_version_state vs = (enum memb_version_state)s;
        if (state != NULL && strcmp(state, memb_version_state_name(vs)) == 0) {
            v->state = vs;
            known = true;
        }
    }
    if (!known) {
        memb_jr_bad(&r, "state");
    }
    memb_jr_str(&r, doc, "manifest_uri", v->manifest_uri,
                sizeof(v->manifest_uri));
    v->manifest_checksum = memb_jr_u64(&r, doc, "manifest_checksum");
    v->rows = memb_jr_u64(&r, doc, "rows");
    v->bytes = memb_jr_u64(&r, doc, "bytes");
    v->partitions = memb_jr_u32(&r, doc, "partitions");
    v->format = memb_jr_u32(&r, doc, "format");
    memb_jr_str(&r, doc, "run_id", v->run_id, sizeof(v->run_id));
    memb_jr_str(&r, doc, "push_id", v->push_id, sizeof(v->push_id));
    v->created_ms = memb_jr_i64(&r, doc, "created_ms");
    v->activated_ms = memb_jr_i64(&r, doc, "activated_ms");
    return r.bad != NULL ? bad_field(m, where, r.bad) : MEMB_OK;
}

/* ---- the active map ----------------------------------------------------- */

json_t *memb_active_encode(const struct memb_active *a)
{
    json_t *tables = json_object();
    for (size_t i = 0; tables != NULL && i < a->n; i++) {
        memb_jset(&tables, a->entries[i].table,
                  memb_json_u64(a->entries[i].version));
    }
    json_t *doc = json_object();
    memb_jset(&doc, "generation", memb_json_u64(a->generation));
    memb_jset(&doc, "changed_ms", json_integer(a->changed_ms));
    memb_jset(&doc, "tables", tables);
    return doc;
}

static int active_entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct memb_active_entry *)a)->table,
                  ((const struct memb_active_entry *)b)->table);
}

enum memb_status memb_active_decode(struct membership *m, const char *where,
                                    json_t *doc, struct memb_active *a)
{
    struct memb_jreader r = {0};
    memset(a, 0, sizeof(*a));
    a->generation = memb_jr_u64(&r, doc, "generation");
    a->changed_ms = memb_jr_i64(&r, doc, "changed_ms");
    json_t *tables = json_object_get(doc, "tables");
    if (tables != NULL && !json_is_object(tables)) {
        memb_jr_bad(&r, "tables");
    }
    size_t n = json_object_size(tables);
    if (r.bad == NULL && n > 0) {
        a->entries = calloc(n, sizeof(*a->entries));
        if (a->entries == NULL) {
            return memb_fail(m, MEMB_ERR, "out of memory");
        }
        const char *key;
        json_t *value;
        json_object_foreach(tables, key, value)
        {
            uint64_t version = jr_u64_value(&r, value, "tables");
            if (!membership_valid_name(key) || version == 0) {
                memb_jr_bad(&r, "tables");
                break;
            }
            struct memb_active_entry *e = &a->entries[a->n++];
            snprintf(e->table, sizeof(e->table), "%s", key);
            e->version = version;
        }
        qsort(a->entries, a->n, sizeof(a->entries[0]), active_entry_cmp);
    }
    if (r.bad != NULL) {
        membership_active_free(a);
        return bad_field(m, where, r.bad);
    }
    return MEMB_OK;
}

/* ---- members ------------------------------------------------------------ */

json_t *memb_member_encode(const struct memb_member *mem)
{
    json_t *doc = json_object();
    memb_jset(&doc, "id", json_string(mem->id));
    memb_jset(&doc, "addr", json_string(mem->addr));
    memb_jset(&doc, "zone", json_string(mem->zone));
    memb_jset(&doc, "capacity",
              json_integer(mem->capacity ? mem->capacity : 100));
    memb_jset(&doc, "batch_memory", memb_json_u64(mem->batch_memory));
    memb_jset(&doc, "batch_used", memb_json_u64(mem->batch_used));
    return doc;
}

enum memb_status memb_member_decode(struct membership *m, const char *where,
                                    json_t *doc, struct memb_member *out)
{
    struct memb_jreader r = {0};
    memset(out, 0, sizeof(*out));
    memb_jr_str(&r, doc, "id", out->id, sizeof(out->id));
    memb_jr_str(&r, doc, "addr", out->addr, sizeof(out->addr));
    memb_jr_str(&r, doc, "zone", out->zone, sizeof(out->zone));
    out->capacity = memb_jr_u32(&r, doc, "capacity");
    out->batch_memory = memb_jr_u64(&r, doc, "batch_memory");
    out->batch_used = memb_jr_u64(&r, doc, "batch_used");
    if (r.bad == NULL && !membership_valid_name(out->id)) {
        r.bad = "id";
    }
    return r.bad != NULL ? bad_field(m, where, r.bad) : MEMB_OK;
}

/* ---- readiness and refusals --------------------------------------------- */

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a;
    uint32_t y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts and deduplicates v in place; returns the new length. */
static size_t sort_unique(uint32_t *v, size_t n)
{
    if (n < 2) {
        return n;
    }
    qsort(v, n, sizeof(*v), u32_cmp);
    size_t k = 1;
    for (size_t i = 1; i < n; i++) {
        if (v[i] != v[k - 1]) {
            v[k++] = v[i];
        }
    }
    return k;
}

json_t *memb_ready_encode(const char *node, const uint32_t *partitions,
                          size_t n)
{
    uint32_t *sorted = malloc((n > 0 ? n : 1) * sizeof(*sorted));
    json_t *list = json_array();
    if (sorted == NULL || list == NULL) {
        free(sorted);
        json_decref(list);
        return NULL;
    }
    if (n > 0) {
        memcpy(sorted, partitions, n * sizeof(*sorted));
    }
    size_t k = sort_unique(sorted, n);
    for (size_t i = 0; list != NULL && i < k; i++) {
        if (json_array_append_new(list, json_integer(sorted[i])) != 0) {
            json_decref(list);
            list = NULL;
        }
    }
    free(sorted);
    json_t *doc = json_object();
    memb_jset(&doc, "node", json_string(node));
    memb_jset(&doc, "partitions", list);
    memb_jset(&doc, "changed_ms", json_integer(memb_now_ms()));
    return doc;
}

enum memb_status memb_ready_decode(struct membership *m, const char *where,
                                   json_t *doc, uint32_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    json_t *list = json_object_get(doc, "partitions");
    size_t len = json_array_size(list);
    uint32_t *parts = malloc((len > 0 ? len : 1) * sizeof(*parts));
    if (parts == NULL) {
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    bool ok = json_is_array(list);
    for (size_t i = 0; ok && i < len; i++) {
        json_t *p = json_array_get(list, i);
        if (!json_is_integer(p) || json_integer_value(p) < 0 ||
            json_integer_value(p) > UINT32_MAX) {
            ok = false;
        } else {
            parts[i] = (uint32_t)json_integer_value(p);
        }
    }
    if (!ok) {
        free(parts);
        return bad_field(m, where, "partitions");
    }
    *out = parts;
    *n = sort_unique(parts, len);
    return MEMB_OK;
}

enum memb_status memb_ready_append(struct membership *m, const char *where,
                                   const char *node, json_t *doc,
                                   struct memb_ready **list, size_t *n)
{
    uint32_t *parts = NULL;
    size_t nparts = 0;
    enum memb_status st = memb_ready_decode(m, where, doc, &parts, &nparts);
    if (st != MEMB_OK) {
        return st;
    }
    struct memb_ready *grown = realloc(*list, (*n + 1) * sizeof(**list));
    if (grown == NULL) {
        free(parts);
        return memb_fail(m, MEMB_ERR, "out of memory");
    }
    *list = grown;
    struct memb_ready *r = &grown[(*n)++];
    snprintf(r->node, sizeof(r->node), "%s", node);
    r->partitions = parts;
    r->n = nparts;
    return MEMB_OK;
}

json_t *memb_refusal_encode(const char *node, const char *reason)
{
    json_t *doc = json_object();
    memb_jset(&doc, "node", json_string(node));
    memb_jset(&doc, "reason", json_string(reason));
    memb_jset(&doc, "created_ms", json_integer(memb_now_ms()));
    return doc;
}

enum memb_status memb_refusal_decode(struct membership *m, const char *where,
                                     json_t *doc, char *reason,
                                     int64_t *created_ms)
{
    struct memb_jreader r = {0};
    memb_jr_str(&r, doc, "reason", reason, MEMB_FIELD_MAX);
    *created_ms = memb_jr_i64(&r, doc, "created_ms");
    return r.bad != NULL ? bad_field(m, where, r.bad) : MEMB_OK;
}

void memb_first_refusal_consider(struct memb_first_refusal *f,
                                 const char *node, const char *reason,
                                 int64_t created_ms)
{
    if (!f->found || created_ms < f->created_ms ||
        (created_ms == f->created_ms && strcmp(node, f->node) < 0)) {
        f->found = true;
        f->created_ms = created_ms;
        snprintf(f->node, sizeof(f->node), "%s", node);
        snprintf(f->reason, sizeof(f->reason), "%s", reason);
    }
}
