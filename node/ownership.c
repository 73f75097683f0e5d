/*
 * This file implements ownership.h: a node's partitions of a table under
 * the stored placement, and the node a client is sent to for the others.
 */
#include "ownership.h"

#include <stdlib.h>
#include <string.h>

uint32_t own_count(const uint64_t *bits, uint32_t n)
{
    uint32_t c = 0;
    for (uint32_t p = 0; p < n; p++) {
        c += own_test(bits, p);
    }
    return c;
}

/* True if pl places `table` with exactly `partitions` partitions. */
static bool placed(const struct placement *pl, const char *table,
                   uint32_t partitions)
{
    if (pl == NULL) {
        return false;
    }
    size_t lo = 0, hi = placement_table_count(pl);
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        struct place_table_info ti;
        if (placement_table_at(pl, mid, &ti) != PLACE_OK) {
            return false;
        }
        int c = strcmp(ti.name, table);
        if (c == 0) {
            return ti.partitions == partitions;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

/* A growable list of borrowed node ids. */
struct id_list {
    const char **ids;
    size_t cap;
};

/* The nodes of (table, p) in set `which` into l; -1 if out of memory. */
static int nodes_of(const struct placement *pl, const char *table,
                    uint32_t p, enum place_set which, struct id_list *l,
                    size_t *n)
{
    if (placement_nodes(pl, table, p, which, l->ids, l->cap, n) != PLACE_OK) {
        *n = 0;
        return 0;
    }
    if (*n <= l->cap) {
        return 0;
    }
    const char **ids = realloc(l->ids, *n * sizeof(*ids));
    if (ids == NULL) {
        return -1;
    }
    l->ids = ids;
    l->cap = *n;
    placement_nodes(pl, table, p, which, l->ids, l->cap, n);
    return 0;
}

bool own_partitions(const struct placement *pl, const char *table,
                    uint32_t partitions, const char *node, uint64_t *bits)
{
    size_t words = own_words(partitions);
    if (!placed(pl, table, partitions)) {
        memset(bits, 0xff, words * sizeof(*bits));
        return false;
    }
    memset(bits, 0, words * sizeof(*bits));
    for (uint32_t p = 0; p < partitions; p++) {
        size_t n = 0;
        /* Routing sets are small: ask for a generous prefix, then the
         * whole set only in the rare case it is longer. */
        const char *ids[64];
        placement_nodes(pl, table, p, PLACE_ROUTING, ids, 64, &n);
        if (n > 64) {
            const char **all = malloc(n * sizeof(*all));
            if (all == NULL) {
                memset(bits, 0xff, words * sizeof(*bits));
                return false;
            }
            placement_nodes(pl, table, p, PLACE_ROUTING, all, n, &n);
            for (size_t i = 0; i < n; i++) {
                if (strcmp(all[i], node) == 0) {
                    own_set(bits, p);
                }
            }
            free(all);
            continue;
        }
        for (size_t i = 0; i < n; i++) {
            if (strcmp(ids[i], node) == 0) {
                own_set(bits, p);
            }
        }
    }
    return true;
}

static const struct own_member *member_find(const struct own_member *m,
                                            size_t n, const char *id,
                                            size_t *index)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m[mid].id, id);
        if (c == 0) {
            *index = mid;
            return &m[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* The preference of a candidate: a larger key wins; ties keep the first
 * in routing order. */
static unsigned rank(const struct own_member *m, bool ready, bool current)
{
    return (m->live ? 8u : 0u) | (ready ? 4u : 0u) | (current ? 2u : 0u) |
           (m->draining ? 0u : 1u);
}

int own_routes(const struct placement *pl, const char *table,
               uint32_t partitions, const char *self, const uint64_t *held,
               const struct own_member *members, size_t nmembers,
               own_ready_fn ready, void *arg, uint32_t *route)
{
    for (uint32_t p = 0; p < partitions; p++) {
        route[p] = OWN_NONE;
    }
    if (!placed(pl, table, partitions)) {
        return 0;
    }
    struct id_list l = {0};
    int rc = 0;
    for (uint32_t p = 0; p < partitions && rc == 0; p++) {
        if (held != NULL && own_test(held, p)) {
            continue;
        }
        size_t ncur = 0, n = 0;
        if (nodes_of(pl, table, p, PLACE_CURRENT, &l, &ncur) != 0 ||
            nodes_of(pl, table, p, PLACE_ROUTING, &l, &n) != 0) {
            rc = -1;
            break;
        }
        unsigned best_rank = 0;
        for (size_t i = 0; i < n; i++) {
            size_t idx;
            const struct own_member *m =
                member_find(members, nmembers, l.ids[i], &idx);
            if (m == NULL || m->addr == NULL || m->addr[0] == '\0' ||
                strcmp(m->id, self) == 0) {
                continue;
            }
            bool r = ready != NULL && ready(arg, m->id, p);
            unsigned k = rank(m, r, i < ncur) + 1; /* 0 is "none yet" */
            if (k > best_rank) {
                best_rank = k;
                route[p] = (uint32_t)idx;
            }
        }
    }
    free(l.ids);
    return rc;
}
