/*
 * This file implements the backend-independent half of membership.h:
 * opening a handle by URI scheme, checking every argument before a backend
 * sees it, keeping the last error message, tracking the load locks a handle
 * holds, and the names of statuses and states. Each public function checks
 * its arguments and forwards to the backend's vtable
 * (membership-internal.h).
 */
#include "membership-internal.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The backends membership_open() knows, by URI scheme. */
static const struct memb_backend *const memb_backends[] = {
    &memb_local_backend,
    &memb_zk_backend,
};

enum memb_status memb_fail(struct membership *m, enum memb_status st,
                           const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m->err, sizeof(m->err), fmt, ap);
    va_end(ap);
    return st;
}

int64_t memb_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int membership_valid_name(const char *name)
{
    if (name == NULL) {
        return 0;
    }
    size_t len = strlen(name);
    if (len == 0 || len >= MEMB_NAME_MAX) {
        return 0;
    }
    /* "." and ".." match the character set but name directories. */
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                 (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-';
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

const char *memb_status_name(enum memb_status st)
{
    switch (st) {
    case MEMB_OK:
        return "ok";
    case MEMB_NOTFOUND:
        return "not found";
    case MEMB_CONFLICT:
        return "conflict";
    case MEMB_BUSY:
        return "busy";
    case MEMB_INVALID:
        return "invalid";
    case MEMB_ERR:
        return "error";
    }
    return "unknown";
}

const char *memb_version_state_name(enum memb_version_state s)
{
    switch (s) {
    case MEMB_V_STAGED:
        return "staged";
    case MEMB_V_ACTIVE:
        return "active";
    case MEMB_V_FAILED:
        return "failed";
    case MEMB_V_RETIRED:
        return "retired";
    }
    return "unknown";
}

const char *memb_table_kind_name(enum memb_table_kind k)
{
    switch (k) {
    case MEMB_TABLE_BATCH:
        return "batch";
    case MEMB_TABLE_LIVE:
        return "live";
    }
    return "unknown";
}

/* True if the fixed-size field holds a NUL-terminated string. */
static bool terminated(const char *field, size_t size)
{
    return memchr(field, '\0', size) != NULL;
}

/* ---- handles ------------------------------------------------------------ */

enum memb_status membership_open_backend(const struct memb_backend *backend,
                                         const char *location,
                                         struct membership **out, char *err,
                                         size_t errlen)
{
    struct membership *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        if (err != NULL && errlen > 0) {
            snprintf(err, errlen, "out of memory");
        }
        return MEMB_ERR;
    }
    m->backend = backend;
    enum memb_status st = backend->open(m, location);
    if (st != MEMB_OK) {
        if (err != NULL && errlen > 0) {
            snprintf(err, errlen, "%s", m->err);
        }
        free(m);
        return st;
    }
    *out = m;
    return MEMB_OK;
}

enum memb_status membership_open(const char *uri, struct membership **out,
                                 char *err, size_t errlen)
{
    if (out == NULL) {
        return MEMB_INVALID;
    }
    *out = NULL;
    const char *colon = uri != NULL ? strchr(uri, ':') : NULL;
    if (colon == NULL) {
        if (err != NULL && errlen > 0) {
            snprintf(err, errlen,
                     "membership URI \"%s\": expected local:DIR or "
                     "zk://host:port/chroot",
                     uri != NULL ? uri : "");
        }
        return MEMB_INVALID;
    }
    size_t slen = (size_t)(colon - uri);
    for (size_t i = 0; i < sizeof(memb_backends) / sizeof(memb_backends[0]);
         i++) {
        const struct memb_backend *b = memb_backends[i];
        if (strlen(b->scheme) == slen && memcmp(b->scheme, uri, slen) == 0) {
            return membership_open_backend(b, colon + 1, out, err, errlen);
        }
    }
    if (err != NULL && errlen > 0) {
        snprintf(err, errlen,
                 "membership URI \"%s\": unsupported scheme \"%.*s\" "
                 "(this build has local:DIR and zk://host:port/chroot)",
                 uri, (int)slen, uri);
    }
    return MEMB_INVALID;
}

void membership_close(struct membership **mp)
{
    if (mp == NULL || *mp == NULL) {
        return;
    }
    struct membership *m = *mp;
    for (struct memb_lock *l = m->locks; l != NULL; l = l->next) {
        l->backend->lock_release(l);
        l->held = false;
        l->owner = NULL;
    }
    m->locks = NULL;
    m->backend->close(m);
    free(m);
    *mp = NULL;
}

const char *membership_error(const struct membership *m)
{
    return m != NULL ? m->err : "no membership handle";
}

/* ---- tables ------------------------------------------------------------- */

static enum memb_status check_name(struct membership *m, const char *what,
                                   const char *name)
{
    if (!membership_valid_name(name)) {
        return memb_fail(m, MEMB_INVALID,
                         "invalid %s name \"%.80s\" (want [A-Za-z0-9_.-]"
                         "{1,64})",
                         what, name != NULL ? name : "(null)");
    }
    return MEMB_OK;
}

enum memb_status membership_table_put(struct membership *m,
                                      const struct memb_table *t)
{
    if (t == NULL) {
        return memb_fail(m, MEMB_INVALID, "no table config");
    }
    if (!terminated(t->name, sizeof(t->name))) {
        return memb_fail(m, MEMB_INVALID, "table name not terminated");
    }
    enum memb_status st = check_name(m, "table", t->name);
    if (st != MEMB_OK) {
        return st;
    }
    if (t->kind != MEMB_TABLE_BATCH && t->kind != MEMB_TABLE_LIVE) {
        return memb_fail(m, MEMB_INVALID, "table %s: unknown kind %d",
                         t->name, (int)t->kind);
    }
    if (t->partitions == 0) {
        return memb_fail(m, MEMB_INVALID, "table %s: 0 partitions", t->name);
    }
    if (!terminated(t->fallback_key, sizeof(t->fallback_key))) {
        return memb_fail(m, MEMB_INVALID,
                         "table %s: fallback key not terminated", t->name);
    }
    return m->backend->table_put(m, t);
}

enum memb_status membership_table_get(struct membership *m, const char *name,
                                      struct memb_table *out)
{
    enum memb_status st = check_name(m, "table", name);
    if (st != MEMB_OK) {
        return st;
    }
    if (out == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    return m->backend->table_get(m, name, out);
}

enum memb_status membership_table_remove(struct membership *m,
                                         const char *name)
{
    if (name == NULL || !membership_valid_name(name)) {
        return memb_fail(m, MEMB_INVALID, "bad table name");
    }
    struct memb_table t;
    enum memb_status st = m->backend->table_get(m, name, &t);
    if (st != MEMB_OK) {
        return st == MEMB_NOTFOUND
                   ? memb_fail(m, MEMB_NOTFOUND, "no table %s", name)
                   : st;
    }
    struct memb_active a;
    st = m->backend->active_get(m, &a);
    if (st != MEMB_OK) {
        return st;
    }
    uint64_t active = membership_active_version(&a, name);
    membership_active_free(&a);
    if (active != 0) {
        return memb_fail(m, MEMB_BUSY, "table %s is active (version %llu)",
                         name, (unsigned long long)active);
    }
    return m->backend->table_remove(m, name);
}

static int table_cmp(const void *a, const void *b)
{
    return strcmp(((const struct memb_table *)a)->name,
                  ((const struct memb_table *)b)->name);
}

enum memb_status membership_table_list(struct membership *m,
                                       struct memb_table **out, size_t *n)
{
    if (out == NULL || n == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    *out = NULL;
    *n = 0;
    enum memb_status st = m->backend->table_list(m, out, n);
    if (st == MEMB_OK && *n > 1) {
        qsort(*out, *n, sizeof(**out), table_cmp);
    }
    return st;
}

/* ---- versions ----------------------------------------------------------- */

enum memb_status membership_version_alloc(struct membership *m,
                                          const char *table, uint64_t *out)
{
    enum memb_status st = check_name(m, "table", table);
    if (st != MEMB_OK) {
        return st;
    }
    if (out == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    return m->backend->version_alloc(m, table, out);
}

enum memb_status membership_version_put(struct membership *m,
                                        const char *table,
                                        const struct memb_version *v)
{
    enum memb_status st = check_name(m, "table", table);
    if (st != MEMB_OK) {
        return st;
    }
    if (v == NULL || v->version == 0) {
        return memb_fail(m, MEMB_INVALID, "table %s: version 0", table);
    }
    if (v->state != MEMB_V_STAGED && v->state != MEMB_V_ACTIVE &&
        v->state != MEMB_V_FAILED && v->state != MEMB_V_RETIRED) {
        return memb_fail(m, MEMB_INVALID, "%s=%llu: unknown state %d", table,
                         (unsigned long long)v->version, (int)v->state);
    }
    if (!terminated(v->manifest_uri, sizeof(v->manifest_uri)) ||
        !terminated(v->run_id, sizeof(v->run_id)) ||
        !terminated(v->push_id, sizeof(v->push_id))) {
        return memb_fail(m, MEMB_INVALID, "%s=%llu: string not terminated",
                         table, (unsigned long long)v->version);
    }
    return m->backend->version_put(m, table, v);
}

enum memb_status membership_version_get(struct membership *m,
                                        const char *table, uint64_t version,
                                        struct memb_version *out)
{
    enum memb_status st = check_name(m, "table", table);
    if (st != MEMB_OK) {
        return st;
    }
    if (out == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    if (version == 0) {
        return memb_fail(m, MEMB_INVALID, "table %s: version 0", table);
    }
    return m->backend->version_get(m, table, version, out);
}

static int version_cmp(const void *a, const void *b)
{
    uint64_t x = ((const struct memb_version *)a)->version;
    uint64_t y = ((const struct memb_version *)b)->version;
    return x < y ? -1 : x > y;
}

enum memb_status membership_version_list(struct membership *m,
                                         const char *table,
                                         struct memb_version **out,
                                         size_t *n)
{
    enum memb_status st = check_name(m, "table", table);
    if (st != MEMB_OK) {
        return st;
    }
    if (out == NULL || n == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    *out = NULL;
    *n = 0;
    st = m->backend->version_list(m, table, out, n);
    if (st == MEMB_OK && *n > 1) {
        qsort(*out, *n, sizeof(**out), version_cmp);
    }
    return st;
}

/* ---- readiness ---------------------------------------------------------- */

static enum memb_status check_table_version_node(struct membership *m,
                                                 const char *table,
                                                 uint64_t version,
                                                 const char *node)
{
    enum memb_status st = check_name(m, "table", table);
    if (st == MEMB_OK && node != NULL) {
        st = check_name(m, "node", node);
    }
    if (st == MEMB_OK && version == 0) {
        st = memb_fail(m, MEMB_INVALID, "table %s: version 0", table);
    }
    return st;
}

enum memb_status membership_ready_set(struct membership *m, const char *table,
                                      uint64_t version, const char *node,
                                      const uint32_t *partitions, size_t n)
{
    if (node == NULL) {
        return memb_fail(m, MEMB_INVALID, "no node");
    }
    enum memb_status st = check_table_version_node(m, table, version, node);
    if (st != MEMB_OK) {
        return st;
    }
    if (n > 0 && partitions == NULL) {
        return memb_fail(m, MEMB_INVALID, "no partitions");
    }
    return m->backend->ready_set(m, table, version, node, partitions, n);
}

enum memb_status membership_ready_get(struct membership *m, const char *table,
                                      uint64_t version, const char *node,
                                      uint32_t **partitions, size_t *n)
{
    if (partitions == NULL || n == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    *partitions = NULL;
    *n = 0;
    if (node == NULL) {
        return memb_fail(m, MEMB_INVALID, "no node");
    }
    enum memb_status st = check_table_version_node(m, table, version, node);
    if (st != MEMB_OK) {
        return st;
    }
    return m->backend->ready_get(m, table, version, node, partitions, n);
}

void membership_ready_free(struct memb_ready *r, size_t n)
{
    for (size_t i = 0; r != NULL && i < n; i++) {
        free(r[i].partitions);
    }
    free(r);
}

static int ready_cmp(const void *a, const void *b)
{
    return strcmp(((const struct memb_ready *)a)->node,
                  ((const struct memb_ready *)b)->node);
}

enum memb_status membership_ready_list(struct membership *m,
                                       const char *table, uint64_t version,
                                       struct memb_ready **out, size_t *n)
{
    if (out == NULL || n == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    *out = NULL;
    *n = 0;
    enum memb_status st = check_table_version_node(m, table, version, NULL);
    if (st != MEMB_OK) {
        return st;
    }
    st = m->backend->ready_list(m, table, version, out, n);
    if (st != MEMB_OK) {
        membership_ready_free(*out, *n);
        *out = NULL;
        *n = 0;
        return st;
    }
    if (*n > 1) {
        qsort(*out, *n, sizeof(**out), ready_cmp);
    }
    return MEMB_OK;
}

enum memb_status membership_ready_count(struct membership *m,
                                        const char *table, uint64_t version,
                                        uint32_t npartitions,
                                        uint32_t *counts)
{
    if (npartitions > 0 && counts == NULL) {
        return memb_fail(m, MEMB_INVALID, "no counts");
    }
    struct memb_ready *r = NULL;
    size_t n = 0;
    enum memb_status st = membership_ready_list(m, table, version, &r, &n);
    if (st != MEMB_OK) {
        return st;
    }
    if (npartitions > 0) {
        memset(counts, 0, npartitions * sizeof(*counts));
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < r[i].n; j++) {
            if (r[i].partitions[j] < npartitions) {
                counts[r[i].partitions[j]]++;
            }
        }
    }
    membership_ready_free(r, n);
    return MEMB_OK;
}

/*
 * Copies src into dst (size bytes) cut at a UTF-8 character boundary, so
 * a long message is shortened rather than refused.
 */
static void copy_utf8_cut(char *dst, size_t size, const char *src)
{
    size_t len = strlen(src);
    if (len >= size) {
        len = size - 1;
        while (len > 0 && ((unsigned char)src[len] & 0xC0) == 0x80) {
            len--;
        }
    }
    memcpy(dst, src, len);
    dst[len] = '\0';
}

enum memb_status membership_refusal_set(struct membership *m,
                                        const char *table, uint64_t version,
                                        const char *node, const char *reason)
{
    if (node == NULL) {
        return memb_fail(m, MEMB_INVALID, "no node");
    }
    enum memb_status st = check_table_version_node(m, table, version, node);
    if (st != MEMB_OK) {
        return st;
    }
    if (reason == NULL) {
        return memb_fail(m, MEMB_INVALID, "no reason");
    }
    char cut[MEMB_FIELD_MAX];
    copy_utf8_cut(cut, sizeof(cut), reason);
    return m->backend->refusal_set(m, table, version, node, cut);
}

enum memb_status membership_refusal_get(struct membership *m,
                                        const char *table, uint64_t version,
                                        char *node, char *reason)
{
    enum memb_status st = check_table_version_node(m, table, version, NULL);
    if (st != MEMB_OK) {
        return st;
    }
    if (node == NULL || reason == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    return m->backend->refusal_get(m, table, version, node, reason);
}

/* ---- the active map ----------------------------------------------------- */

void membership_active_free(struct memb_active *a)
{
    if (a == NULL) {
        return;
    }
    free(a->entries);
    memset(a, 0, sizeof(*a));
}

uint64_t membership_active_version(const struct memb_active *a,
                                   const char *table)
{
    if (a == NULL || table == NULL) {
        return 0;
    }
    for (size_t i = 0; i < a->n; i++) {
        if (strcmp(a->entries[i].table, table) == 0) {
            return a->entries[i].version;
        }
    }
    return 0;
}

enum memb_status membership_active_get(struct membership *m,
                                       struct memb_active *out)
{
    if (out == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    memset(out, 0, sizeof(*out));
    return m->backend->active_get(m, out);
}

enum memb_status membership_active_get_generation(struct membership *m,
                                                  uint64_t generation,
                                                  struct memb_active *out)
{
    if (out == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    memset(out, 0, sizeof(*out));
    return m->backend->active_get_generation(m, generation, out);
}

static int entry_cmp(const void *a, const void *b)
{
    const struct memb_active_entry *x = a;
    const struct memb_active_entry *y = b;
    return strcmp(x->table, y->table);
}

enum memb_status membership_active_cas(struct membership *m,
                                       uint64_t expected,
                                       struct memb_active *next)
{
    if (next == NULL || (next->n > 0 && next->entries == NULL)) {
        return memb_fail(m, MEMB_INVALID, "no map");
    }
    for (size_t i = 0; i < next->n; i++) {
        const struct memb_active_entry *e = &next->entries[i];
        if (!terminated(e->table, sizeof(e->table))) {
            return memb_fail(m, MEMB_INVALID, "table name not terminated");
        }
        enum memb_status st = check_name(m, "table", e->table);
        if (st != MEMB_OK) {
            return st;
        }
        if (e->version == 0) {
            return memb_fail(m, MEMB_INVALID, "table %s: version 0",
                             e->table);
        }
    }
    if (next->n > 1) {
        qsort(next->entries, next->n, sizeof(next->entries[0]), entry_cmp);
    }
    for (size_t i = 1; i < next->n; i++) {
        if (strcmp(next->entries[i - 1].table, next->entries[i].table) == 0) {
            return memb_fail(m, MEMB_INVALID, "table %s appears twice",
                             next->entries[i].table);
        }
    }
    return m->backend->active_cas(m, expected, next);
}

/* ---- the per-table load lock -------------------------------------------- */

enum memb_status membership_lock(struct membership *m, const char *table,
                                 struct memb_lock **out)
{
    enum memb_status st = check_name(m, "table", table);
    if (st != MEMB_OK) {
        return st;
    }
    if (out == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    *out = NULL;
    struct memb_lock *l = NULL;
    st = m->backend->lock(m, table, &l);
    if (st != MEMB_OK) {
        return st;
    }
    l->backend = m->backend;
    l->owner = m;
    l->held = true;
    snprintf(l->table, sizeof(l->table), "%s", table);
    l->next = m->locks;
    m->locks = l;
    *out = l;
    return MEMB_OK;
}

void membership_unlock(struct memb_lock **lockp)
{
    if (lockp == NULL || *lockp == NULL) {
        return;
    }
    struct memb_lock *l = *lockp;
    if (l->held) {
        l->backend->lock_release(l);
        l->held = false;
    }
    if (l->owner != NULL) {
        struct memb_lock **pp = &l->owner->locks;
        while (*pp != NULL && *pp != l) {
            pp = &(*pp)->next;
        }
        if (*pp == l) {
            *pp = l->next;
        }
    }
    free(l);
    *lockp = NULL;
}

/* ---- members ------------------------------------------------------------ */

enum memb_status membership_member_put(struct membership *m,
                                       const struct memb_member *mem)
{
    if (mem == NULL) {
        return memb_fail(m, MEMB_INVALID, "no member");
    }
    if (!terminated(mem->id, sizeof(mem->id)) ||
        !terminated(mem->addr, sizeof(mem->addr)) ||
        !terminated(mem->zone, sizeof(mem->zone))) {
        return memb_fail(m, MEMB_INVALID, "member: string not terminated");
    }
    enum memb_status st = check_name(m, "member", mem->id);
    if (st != MEMB_OK) {
        return st;
    }
    if (mem->zone[0] != '\0' && !membership_valid_name(mem->zone)) {
        return memb_fail(m, MEMB_INVALID, "member %s: invalid zone \"%s\"",
                         mem->id, mem->zone);
    }
    return m->backend->member_put(m, mem);
}

enum memb_status membership_member_remove(struct membership *m,
                                          const char *id)
{
    enum memb_status st = check_name(m, "member", id);
    if (st != MEMB_OK) {
        return st;
    }
    return m->backend->member_remove(m, id);
}

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const struct memb_member *)a)->id,
                  ((const struct memb_member *)b)->id);
}

enum memb_status membership_member_list(struct membership *m,
                                        struct memb_member **out, size_t *n)
{
    if (out == NULL || n == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    *out = NULL;
    *n = 0;
    enum memb_status st = m->backend->member_list(m, out, n);
    if (st == MEMB_OK && *n > 1) {
        qsort(*out, *n, sizeof(**out), member_cmp);
    }
    return st;
}

enum memb_status membership_live_set(struct membership *m, const char *id,
                                     const char *state)
{
    enum memb_status st = check_name(m, "member", id);
    if (st != MEMB_OK) {
        return st;
    }
    if (state == NULL || strlen(state) >= MEMB_STATE_MAX ||
        !membership_valid_name(state)) {
        return memb_fail(m, MEMB_INVALID, "member %s: invalid live state",
                         id);
    }
    return m->backend->live_set(m, id, state);
}

enum memb_status membership_member_memory(struct membership *m,
                                          const char *id, uint64_t budget,
                                          uint64_t used)
{
    enum memb_status st = check_name(m, "member", id);
    if (st != MEMB_OK) {
        return st;
    }
    return m->backend->member_memory(m, id, budget, used);
}

enum memb_status membership_drain_set(struct membership *m, const char *id,
                                      bool draining)
{
    enum memb_status st = check_name(m, "member", id);
    if (st != MEMB_OK) {
        return st;
    }
    return m->backend->drain_set(m, id, draining);
}

enum memb_status membership_lock_check(struct membership *m,
                                       const struct memb_lock *lock)
{
    if (lock == NULL) {
        return memb_fail(m, MEMB_INVALID, "no lock");
    }
    if (lock->owner != m) {
        return memb_fail(m, MEMB_INVALID,
                         "lock on table %s was not taken through this "
                         "handle (or the handle was closed)",
                         lock->table);
    }
    if (!lock->held) {
        return memb_fail(m, MEMB_ERR, "lock on table %s was released",
                         lock->table);
    }
    return m->backend->lock_check(m, lock);
}

/* ---- placement ---------------------------------------------------------- */

enum memb_status membership_placement_get(struct membership *m, char **json,
                                          uint64_t *cas_version)
{
    if (json == NULL || cas_version == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    *json = NULL;
    *cas_version = 0;
    enum memb_status st = m->backend->placement_get(m, json, cas_version);
    if (st != MEMB_OK) {
        free(*json);
        *json = NULL;
        *cas_version = 0;
    }
    return st;
}

enum memb_status membership_placement_cas(struct membership *m,
                                          uint64_t expected,
                                          const char *json)
{
    if (json == NULL) {
        return memb_fail(m, MEMB_INVALID, "no placement");
    }
    json_error_t jerr;
    json_t *doc = json_loads(json, JSON_REJECT_DUPLICATES, &jerr);
    if (doc == NULL) {
        return memb_fail(m, MEMB_INVALID, "placement: %d:%d: %s", jerr.line,
                         jerr.column, jerr.text);
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        return memb_fail(m, MEMB_INVALID, "placement: not a JSON object");
    }
    char *text = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(doc);
    if (text == NULL) {
        return memb_fail(m, MEMB_ERR, "placement: cannot encode");
    }
    enum memb_status st;
    size_t len = strlen(text);
    if (len > MEMB_PLACEMENT_MAX) {
        st = memb_fail(m, MEMB_INVALID,
                       "placement of %zu bytes is larger than %d", len,
                       MEMB_PLACEMENT_MAX);
    } else {
        st = m->backend->placement_cas(m, expected, text);
    }
    free(text);
    return st;
}

/* ---- change notification ------------------------------------------------ */

enum memb_status membership_wait_change(struct membership *m, int timeout_ms,
                                        bool *changed)
{
    if (changed == NULL) {
        return memb_fail(m, MEMB_INVALID, "no output");
    }
    *changed = false;
    if (timeout_ms < 0) {
        return memb_fail(m, MEMB_INVALID, "negative timeout");
    }
    return m->backend->wait_change(m, timeout_ms, changed);
}
