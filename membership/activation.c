/*
 * This file implements activation.h: the checks before a change of the
 * active map (versions exist and are activatable, every partition has
 * enough ready replicas, versions linked by a run id stay together) and
 * the compare-and-set loop that applies it, plus rollback to the previous
 * generation. It uses only membership.h, so it works on every backend.
 */
#include "activation.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

/* Limits of the compare-and-set loop. */
enum {
    ACTIVATION_MAX_ATTEMPTS = 20, /* CAS attempts lost to other tables */
    ACTIVATION_BACKOFF_US = 200,  /* grows linearly with the attempt */
    ACTIVATION_JITTER_US = 500,
};

static enum memb_status act_fail(char *err, size_t errlen,
                                 enum memb_status st, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum memb_status act_fail(char *err, size_t errlen,
                                 enum memb_status st, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ---- versions of other tables, for run-id links ------------------------- */

struct table_versions {
    char table[MEMB_NAME_MAX];
    struct memb_version *v; /* ascending; owned */
    size_t n;
};

/* The version lists read so far; each table is read at most once. */
struct version_cache {
    struct table_versions *t;
    size_t n;
    size_t cap;
};

static void version_cache_free(struct version_cache *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->t[i].v);
    }
    free(c->t);
    memset(c, 0, sizeof(*c));
}

/* Returns the cached versions of table, reading them on first use. */
static enum memb_status version_cache_get(struct membership *m,
                                          struct version_cache *c,
                                          const char *table,
                                          const struct table_versions **out)
{
    for (size_t i = 0; i < c->n; i++) {
        if (strcmp(c->t[i].table, table) == 0) {
            *out = &c->t[i];
            return MEMB_OK;
        }
    }
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        struct table_versions *t = realloc(c->t, cap * sizeof(*t));
        if (t == NULL) {
            return MEMB_ERR;
        }
        c->t = t;
        c->cap = cap;
    }
    struct table_versions *tv = &c->t[c->n];
    memset(tv, 0, sizeof(*tv));
    snprintf(tv->table, sizeof(tv->table), "%s", table);
    enum memb_status st = membership_version_list(m, table, &tv->v, &tv->n);
    if (st == MEMB_NOTFOUND) {
        st = MEMB_OK; /* nothing recorded: no linked versions */
    }
    if (st != MEMB_OK) {
        return st;
    }
    c->n++;
    *out = tv;
    return MEMB_OK;
}

static const struct memb_version *find_version(const struct table_versions *tv,
                                               uint64_t version)
{
    for (size_t i = 0; i < tv->n; i++) {
        if (tv->v[i].version == version) {
            return &tv->v[i];
        }
    }
    return NULL;
}

/* Only versions that could be activated hold a run together. */
static bool linkable(const struct memb_version *v)
{
    return v->state == MEMB_V_STAGED || v->state == MEMB_V_ACTIVE;
}

/* ---- maps ---------------------------------------------------------------- */

static int entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct memb_active_entry *)a)->table,
                  ((const struct memb_active_entry *)b)->table);
}

/* next = base with the pairs replaced or inserted, sorted by table. */
static enum memb_status build_map(const struct memb_active *base,
                                  const struct activation_pair *pairs,
                                  size_t n, struct memb_active *next)
{
    memset(next, 0, sizeof(*next));
    next->entries = calloc(base->n + n, sizeof(*next->entries));
    if (next->entries == NULL) {
        return MEMB_ERR;
    }
    for (size_t i = 0; i < base->n; i++) {
        next->entries[next->n++] = base->entries[i];
    }
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < next->n &&
               strcmp(next->entries[j].table, pairs[i].table) != 0) {
            j++;
        }
        if (j == next->n) {
            next->n++;
            snprintf(next->entries[j].table, sizeof(next->entries[j].table),
                     "%s", pairs[i].table);
        }
        next->entries[j].version = pairs[i].version;
    }
    qsort(next->entries, next->n, sizeof(next->entries[0]), entry_cmp);
    return MEMB_OK;
}

/* ---- checks -------------------------------------------------------------- */

static enum memb_status check_arguments(const struct activation_pair *pairs,
                                        size_t n, char *err, size_t errlen)
{
    if (pairs == NULL || n == 0) {
        return act_fail(err, errlen, MEMB_INVALID, "nothing to activate");
    }
    for (size_t i = 0; i < n; i++) {
        if (memchr(pairs[i].table, '\0', sizeof(pairs[i].table)) == NULL ||
            !membership_valid_name(pairs[i].table)) {
            return act_fail(err, errlen, MEMB_INVALID,
                            "invalid table name \"%.64s\"", pairs[i].table);
        }
        if (pairs[i].version == 0) {
            return act_fail(err, errlen, MEMB_INVALID, "%s: version 0",
                            pairs[i].table);
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(pairs[i].table, pairs[j].table) == 0) {
                return act_fail(err, errlen, MEMB_INVALID,
                                "table %s named twice", pairs[i].table);
            }
        }
    }
    return MEMB_OK;
}

/* The version must exist and be staged or active; its record in *rec. */
static enum memb_status check_version(struct membership *m,
                                      const struct activation_pair *p,
                                      struct memb_version *rec, char *err,
                                      size_t errlen)
{
    enum memb_status st = membership_version_get(m, p->table, p->version, rec);
    if (st == MEMB_NOTFOUND) {
        return act_fail(err, errlen, MEMB_NOTFOUND,
                        "%s=%" PRIu64 ": no such version", p->table,
                        p->version);
    }
    if (st != MEMB_OK) {
        return act_fail(err, errlen, st, "%s=%" PRIu64 ": %s", p->table,
                        p->version, membership_error(m));
    }
    if (!linkable(rec)) {
        return act_fail(err, errlen, MEMB_INVALID,
                        "%s=%" PRIu64 " is %s: only staged or active versions "
                        "can be activated",
                        p->table, p->version,
                        memb_version_state_name(rec->state));
    }
    return MEMB_OK;
}

/* Every partition of the version has at least `need` ready replicas. */
static enum memb_status check_ready(struct membership *m,
                                    const struct activation_pair *p,
                                    const struct memb_version *rec,
                                    uint32_t need, char *err, size_t errlen)
{
    uint32_t parts = rec->partitions;
    if (parts == 0) {
        struct memb_table t;
        if (membership_table_get(m, p->table, &t) == MEMB_OK) {
            parts = t.partitions;
        }
    }
    if (parts == 0) {
        return act_fail(err, errlen, MEMB_INVALID,
                        "%s=%" PRIu64 ": partition count unknown", p->table,
                        p->version);
    }
    uint32_t *counts = calloc(parts, sizeof(*counts));
    if (counts == NULL) {
        return act_fail(err, errlen, MEMB_ERR, "out of memory");
    }
    enum memb_status st =
        membership_ready_count(m, p->table, p->version, parts, counts);
    if (st != MEMB_OK) {
        free(counts);
        return act_fail(err, errlen, st, "%s=%" PRIu64 ": %s", p->table,
                        p->version, membership_error(m));
    }
    uint32_t short_parts = 0;
    uint32_t first = 0;
    for (uint32_t i = 0; i < parts; i++) {
        if (counts[i] < need) {
            if (short_parts == 0) {
                first = i;
            }
            short_parts++;
        }
    }
    uint32_t first_count = counts[first];
    free(counts);
    if (short_parts == 0) {
        return MEMB_OK;
    }
    char node[MEMB_FIELD_MAX];
    char reason[MEMB_FIELD_MAX];
    bool refused = membership_refusal_get(m, p->table, p->version, node,
                                          reason) == MEMB_OK;
    return act_fail(err, errlen, MEMB_INVALID,
                    "%s=%" PRIu64 " is not ready: %" PRIu32 " of %" PRIu32
                    " partitions have fewer than %" PRIu32
                    " ready replicas (partition %" PRIu32 " has %" PRIu32
                    ")%s%s%s%s",
                    p->table, p->version, short_parts, parts, need, first,
                    first_count, refused ? "; node " : "",
                    refused ? node : "", refused ? " refused it: " : "",
                    refused ? reason : "");
}

/*
 * Run-id links: for each pair with a run id, every other table's staged
 * or active version of the same run must be active in `next` (any of
 * them, when a run loaded one table twice).
 */
static enum memb_status check_links(struct membership *m,
                                    struct version_cache *cache,
                                    const struct activation_pair *pairs,
                                    const struct memb_version *recs, size_t n,
                                    const struct memb_active *next,
                                    char *err, size_t errlen)
{
    struct memb_table *tables = NULL;
    size_t ntables = 0;
    enum memb_status st = membership_table_list(m, &tables, &ntables);
    if (st != MEMB_OK) {
        return act_fail(err, errlen, st, "listing tables: %s",
                        membership_error(m));
    }
    /* The configured tables plus every table of the map. */
    size_t ncand = ntables + next->n;
    for (size_t i = 0; st == MEMB_OK && i < n; i++) {
        const char *run = recs[i].run_id;
        if (run[0] == '\0') {
            continue;
        }
        for (size_t k = 0; st == MEMB_OK && k < ncand; k++) {
            const char *other = k < ntables ? tables[k].name
                                            : next->entries[k - ntables].table;
            if (strcmp(other, pairs[i].table) == 0) {
                continue;
            }
            const struct table_versions *tv = NULL;
            st = version_cache_get(m, cache, other, &tv);
            if (st != MEMB_OK) {
                st = act_fail(err, errlen, st, "versions of %s: %s", other,
                              membership_error(m));
                break;
            }
            const struct memb_version *linked = NULL;
            for (size_t j = 0; j < tv->n; j++) {
                if (linkable(&tv->v[j]) && strcmp(tv->v[j].run_id, run) == 0) {
                    linked = &tv->v[j]; /* the newest one wins the message */
                }
            }
            if (linked == NULL) {
                continue;
            }
            uint64_t target = membership_active_version(next, other);
            const struct memb_version *tr = find_version(tv, target);
            if (tr != NULL && strcmp(tr->run_id, run) == 0) {
                continue;
            }
            char where[MEMB_NAME_MAX + 48];
            if (target == 0) {
                snprintf(where, sizeof(where), "%s would have no version",
                         other);
            } else {
                snprintf(where, sizeof(where), "%s would stay at %" PRIu64,
                         other, target);
            }
            st = act_fail(err, errlen, MEMB_INVALID,
                          "run id \"%s\" links %s=%" PRIu64 " to %s=%" PRIu64
                          ", which would not be active (%s): activate them "
                          "together or force",
                          run, pairs[i].table, pairs[i].version, other,
                          linked->version, where);
        }
    }
    free(tables);
    return st;
}

/* The first of the pairs' tables whose version differs in a and b, or NULL. */
/*
 * Fails as a conflict on table, changed by someone else (the map is at
 * generation now); `then`, if not NULL, is what went wrong after it.
 */
static enum memb_status fail_changed(char *err, size_t errlen,
                                     const char *table, uint64_t now,
                                     const char *then)
{
    return act_fail(err, errlen, MEMB_CONFLICT,
                    "table %s changed concurrently (generation %" PRIu64
                    ")%s%s",
                    table, now, then != NULL ? "; then " : "",
                    then != NULL ? then : "");
}

static const char *changed_table(const struct memb_active *a,
                                 const struct memb_active *b,
                                 const struct activation_pair *pairs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (membership_active_version(a, pairs[i].table) !=
            membership_active_version(b, pairs[i].table)) {
            return pairs[i].table;
        }
    }
    return NULL;
}

/*
 * After a readiness check failed with st and err: if one of the pairs'
 * tables was activated by someone else since base was read, that is the
 * reason (the other activation may have made these versions old, and
 * nodes discard old staged versions), so the failure becomes a conflict
 * naming it, with the readiness message after it. Else st, unchanged.
 */
static enum memb_status changed_while_checking(
    struct membership *m, const struct memb_active *base,
    const struct activation_pair *pairs, size_t n, enum memb_status st,
    char *err, size_t errlen)
{
    struct memb_active now = {0};
    if (membership_active_get(m, &now) != MEMB_OK) {
        return st;
    }
    const char *changed = changed_table(base, &now, pairs, n);
    if (changed != NULL) {
        char was[512];
        snprintf(was, sizeof(was), "%s", err != NULL ? err : "");
        st = fail_changed(err, errlen, changed, now.generation, was);
    }
    membership_active_free(&now);
    return st;
}

static void backoff(unsigned attempt)
{
    unsigned long us = ACTIVATION_BACKOFF_US * (attempt + 1UL) +
                       ((unsigned long)getpid() * 7919UL + attempt * 104729UL) %
                           ACTIVATION_JITTER_US;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)(us * 1000UL)};
    nanosleep(&ts, NULL);
}

/* ---- apply and rollback -------------------------------------------------- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Marks the activated versions active, stamping the time of a first
 * activation (also on an active record written before activated_ms
 * existed); the map already changed.
 */
static void mark_active(struct membership *m,
                        const struct activation_pair *pairs,
                        struct memb_version *recs, size_t n)
{
    int64_t now = wall_ms();
    for (size_t i = 0; i < n; i++) {
        if (recs[i].state == MEMB_V_ACTIVE && recs[i].activated_ms != 0) {
            continue;
        }
        recs[i].state = MEMB_V_ACTIVE;
        if (recs[i].activated_ms == 0) {
            recs[i].activated_ms = now;
        }
        if (membership_version_put(m, pairs[i].table, &recs[i]) != MEMB_OK) {
            log_warning("activated %s=%" PRIu64
                        " but could not mark it active: %s",
                        pairs[i].table, pairs[i].version, membership_error(m));
        }
    }
}

/*
 * The CAS loop: build the next map on base (the map the versions were
 * checked against; replaced by newer ones as the loop goes), check links
 * against it, CAS; a loss to other tables is retried, a loss to one of the
 * pairs' tables fails.
 */
static enum memb_status swap_in(struct membership *m,
                                const struct activation_pair *pairs,
                                const struct memb_version *recs, size_t n,
                                bool force, struct memb_active *base,
                                struct memb_active *next, char *err,
                                size_t errlen)
{
    struct version_cache cache = {0};
    enum memb_status st;
    for (unsigned attempt = 0;; attempt++) {
        st = build_map(base, pairs, n, next);
        if (st != MEMB_OK) {
            st = act_fail(err, errlen, st, "out of memory");
            break;
        }
        if (!force) {
            st = check_links(m, &cache, pairs, recs, n, next, err, errlen);
            if (st != MEMB_OK) {
                break;
            }
        }
        st = membership_active_cas(m, base->generation, next);
        if (st != MEMB_CONFLICT) {
            if (st != MEMB_OK) {
                act_fail(err, errlen, st, "changing the active map: %s",
                         membership_error(m));
            }
            break;
        }
        membership_active_free(next);
        struct memb_active now = {0};
        st = membership_active_get(m, &now);
        if (st != MEMB_OK) {
            act_fail(err, errlen, st, "reading the active map: %s",
                     membership_error(m));
            break;
        }
        const char *changed = changed_table(base, &now, pairs, n);
        membership_active_free(base);
        *base = now;
        if (changed != NULL) {
            st = fail_changed(err, errlen, changed, base->generation, NULL);
            break;
        }
        if (attempt + 1 >= ACTIVATION_MAX_ATTEMPTS) {
            st = act_fail(err, errlen, MEMB_CONFLICT,
                          "the active map kept changing: gave up after %d "
                          "attempts (generation %" PRIu64 ")",
                          ACTIVATION_MAX_ATTEMPTS, base->generation);
            break;
        }
        backoff(attempt);
    }
    if (st != MEMB_OK) {
        membership_active_free(next);
    }
    version_cache_free(&cache);
    return st;
}

enum memb_status activation_apply(struct membership *m,
                                  const struct activation_pair *pairs,
                                  size_t n,
                                  const struct activation_options *o,
                                  struct memb_active *result, char *err,
                                  size_t errlen)
{
    if (result != NULL) {
        memset(result, 0, sizeof(*result));
    }
    if (m == NULL) {
        return act_fail(err, errlen, MEMB_INVALID, "no membership handle");
    }
    enum memb_status st = check_arguments(pairs, n, err, errlen);
    if (st != MEMB_OK) {
        return st;
    }
    bool force = o != NULL && o->force;
    uint32_t need = o != NULL && o->min_replicas > 0 ? o->min_replicas : 1;
    struct memb_version *recs = calloc(n, sizeof(*recs));
    if (recs == NULL) {
        return act_fail(err, errlen, MEMB_ERR, "out of memory");
    }
    /* The map the versions are checked against: if one of the pairs'
     * tables changes after this, the activation fails as concurrent. */
    struct memb_active base = {0};
    st = membership_active_get(m, &base);
    if (st != MEMB_OK) {
        act_fail(err, errlen, st, "reading the active map: %s",
                 membership_error(m));
    }
    for (size_t i = 0; st == MEMB_OK && i < n; i++) {
        st = check_version(m, &pairs[i], &recs[i], err, errlen);
    }
    for (size_t i = 0; st == MEMB_OK && i < n; i++) {
        st = check_ready(m, &pairs[i], &recs[i], need, err, errlen);
        if (st != MEMB_OK) {
            st = changed_while_checking(m, &base, pairs, n, st, err, errlen);
        }
    }
    struct memb_active next = {0};
    if (st == MEMB_OK) {
        st = swap_in(m, pairs, recs, n, force, &base, &next, err, errlen);
    }
    membership_active_free(&base);
    if (st == MEMB_OK) {
        mark_active(m, pairs, recs, n);
        if (result != NULL) {
            *result = next;
        } else {
            membership_active_free(&next);
        }
    }
    free(recs);
    return st;
}

enum memb_status activation_rollback(struct membership *m,
                                     struct memb_active *result, char *err,
                                     size_t errlen)
{
    if (result != NULL) {
        memset(result, 0, sizeof(*result));
    }
    if (m == NULL) {
        return act_fail(err, errlen, MEMB_INVALID, "no membership handle");
    }
    struct memb_active cur = {0};
    enum memb_status st = membership_active_get(m, &cur);
    if (st != MEMB_OK) {
        return act_fail(err, errlen, st, "reading the active map: %s",
                        membership_error(m));
    }
    uint64_t g = cur.generation;
    membership_active_free(&cur);
    if (g <= 1) {
        return act_fail(err, errlen, MEMB_NOTFOUND,
                        "nothing to roll back to (generation %" PRIu64 ")", g);
    }
    struct memb_active prev = {0};
    st = membership_active_get_generation(m, g - 1, &prev);
    if (st != MEMB_OK) {
        return act_fail(err, errlen, st, "generation %" PRIu64 ": %s", g - 1,
                        membership_error(m));
    }
    for (size_t i = 0; i < prev.n; i++) {
        struct memb_version rec;
        const struct memb_active_entry *e = &prev.entries[i];
        if (membership_version_get(m, e->table, e->version, &rec) == MEMB_OK &&
            rec.state == MEMB_V_RETIRED) {
            act_fail(err, errlen, MEMB_INVALID,
                     "cannot roll back to generation %" PRIu64 ": %s=%" PRIu64
                     " is retired",
                     g - 1, e->table, e->version);
            membership_active_free(&prev);
            return MEMB_INVALID;
        }
    }
    st = membership_active_cas(m, g, &prev);
    if (st == MEMB_CONFLICT) {
        membership_active_free(&prev);
        return act_fail(err, errlen, st,
                        "the active map changed during the rollback (it was "
                        "at generation %" PRIu64 "); nothing was rolled back",
                        g);
    }
    if (st != MEMB_OK) {
        membership_active_free(&prev);
        return act_fail(err, errlen, st, "changing the active map: %s",
                        membership_error(m));
    }
    if (result != NULL) {
        *result = prev;
    } else {
        membership_active_free(&prev);
    }
    return MEMB_OK;
}
