/*
 * This file implements placement.h: the consistent-hashing ring with
 * bounded loads that assigns the partitions of each table to members, the
 * current/target bookkeeping of moves and promotions, and the JSON form.
 *
 * Everything is integer arithmetic over inputs sorted by name; nothing is
 * iterated in an order that depends on memory addresses. Node lists are
 * indexes into the placement's node array (sorted by id). Within
 * placement_compute(), per-key sets are tracked with stamp arrays (a slot
 * per node holding the number of the key being filled) so membership and
 * zone tests cost O(1).
 */
#include "placement.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#define NONE UINT32_MAX

/*
 * How many more times placement_compute() computes a result that placed
 * replicas above a cap from itself, to settle it (see there).
 */
#define PLACE_SETTLE_MAX 4

struct place_node {
    char id[MEMB_NAME_MAX];
    char zone[MEMB_NAME_MAX];
    uint32_t capacity; /* 1..PLACE_CAPACITY_MAX */
    bool member;       /* in the member list the target was computed from */
};

/* Node lists of one table: list p is node[p * width ..][0 .. n[p]). */
struct place_lists {
    uint32_t width;
    uint32_t *n;
    uint32_t *node;
};

struct place_tab {
    char name[MEMB_NAME_MAX];
    uint32_t partitions;
    uint32_t replication;
    uint32_t replicas;
    struct place_lists current;
    struct place_lists target;
};

struct placement {
    uint64_t generation;
    uint32_t nnodes;
    struct place_node *nodes; /* sorted by id */
    uint32_t ntables;
    struct place_tab *tables; /* sorted by name */
};

const char *place_status_name(enum place_status st)
{
    switch (st) {
    case PLACE_OK:
        return "ok";
    case PLACE_INVALID:
        return "invalid";
    case PLACE_NOTFOUND:
        return "not found";
    case PLACE_NOMEM:
        return "out of memory";
    }
    return "unknown";
}

/* Formats "placement: " + message into err (may be NULL); returns st. */
static enum place_status fail(char *err, size_t errlen, enum place_status st,
                              const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static enum place_status fail(char *err, size_t errlen, enum place_status st,
                              const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return st;
    }
    int n = snprintf(err, errlen, "placement: ");
    if (n >= 0 && (size_t)n < errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return st;
}

/* ---- node lists -------------------------------------------------------- */

static bool lists_init(struct place_lists *l, uint32_t partitions,
                       uint32_t width)
{
    l->width = width > 0 ? width : 1;
    l->n = calloc(partitions, sizeof(*l->n));
    l->node = calloc((size_t)partitions * l->width, sizeof(*l->node));
    return l->n != NULL && l->node != NULL;
}

static void lists_free(struct place_lists *l)
{
    free(l->n);
    free(l->node);
    memset(l, 0, sizeof(*l));
}

static const uint32_t *lists_get(const struct place_lists *l, uint32_t p,
                                 uint32_t *n)
{
    *n = l->n[p];
    return &l->node[(size_t)p * l->width];
}

/* Re-strides l to at least width (a no-op if already that wide). */
static bool lists_widen(struct place_lists *l, uint32_t partitions,
                        uint32_t width)
{
    if (width <= l->width) {
        return true;
    }
    uint32_t *node = calloc((size_t)partitions * width, sizeof(*node));
    if (node == NULL) {
        return false;
    }
    for (uint32_t p = 0; p < partitions; p++) {
        memcpy(&node[(size_t)p * width], &l->node[(size_t)p * l->width],
               l->n[p] * sizeof(*node));
    }
    free(l->node);
    l->node = node;
    l->width = width;
    return true;
}

/* Sets list p (n must not exceed l->width). */
static void lists_set(struct place_lists *l, uint32_t p, const uint32_t *node,
                      uint32_t n)
{
    memcpy(&l->node[(size_t)p * l->width], node, n * sizeof(*node));
    l->n[p] = n;
}

static bool lists_equal(const struct place_lists *a,
                        const struct place_lists *b, uint32_t partitions)
{
    for (uint32_t p = 0; p < partitions; p++) {
        uint32_t na, nb;
        const uint32_t *la = lists_get(a, p, &na);
        const uint32_t *lb = lists_get(b, p, &nb);
        if (na != nb || memcmp(la, lb, na * sizeof(*la)) != 0) {
            return false;
        }
    }
    return true;
}

/* True if a and b hold the same nodes in any order (both duplicate-free). */
static bool same_set(const uint32_t *a, uint32_t na, const uint32_t *b,
                     uint32_t nb)
{
    if (na != nb) {
        return false;
    }
    if (memcmp(a, b, na * sizeof(*a)) == 0) {
        return true;
    }
    for (uint32_t i = 0; i < na; i++) {
        uint32_t j = 0;
        while (j < nb && b[j] != a[i]) {
            j++;
        }
        if (j == nb) {
            return false;
        }
    }
    return true;
}

static void placement_free(struct placement *pl)
{
    if (pl == NULL) {
        return;
    }
    for (uint32_t t = 0; t < pl->ntables; t++) {
        lists_free(&pl->tables[t].current);
        lists_free(&pl->tables[t].target);
    }
    free(pl->tables);
    free(pl->nodes);
    free(pl);
}

void placement_destroy(struct placement **pl)
{
    if (pl != NULL) {
        placement_free(*pl);
        *pl = NULL;
    }
}

/* Index of node id in pl (sorted by id), or NONE. */
static uint32_t node_find(const struct place_node *nodes, uint32_t n,
                          const char *id)
{
    uint32_t lo = 0, hi = n;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(nodes[mid].id, id);
        if (c == 0) {
            return mid;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NONE;
}

static const struct place_tab *tab_find(const struct placement *pl,
                                        const char *name)
{
    uint32_t lo = 0, hi = pl->ntables;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(pl->tables[mid].name, name);
        if (c == 0) {
            return &pl->tables[mid];
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return NULL;
}

/* ---- the ring ---------------------------------------------------------- */

struct ring_point {
    uint64_t hash;
    uint32_t node; /* index into the node array the ring was built from */
};

/*
 * The members of one node array on the ring, with their zones: zone[i] is
 * the index of node i's zone among the members' distinct zones (sorted),
 * NONE for a non-member.
 */
struct ring {
    struct ring_point *pt;
    size_t npt;
    uint32_t *zone;
    uint32_t nzones;
    uint32_t nmembers;
};

static void ring_free(struct ring *r)
{
    free(r->pt);
    free(r->zone);
    memset(r, 0, sizeof(*r));
}

static bool point_before(const struct ring_point *a,
                         const struct ring_point *b)
{
    return a->hash < b->hash || (a->hash == b->hash && a->node < b->node);
}

/*
 * Sorts points by (hash, node), node order being id order: a stable
 * least-significant-digit radix sort of the top 32 bits of the hash (four
 * passes, so the result is back in pt; tmp has room for n points), then
 * an insertion sort, which only has the rare equal top halves to fix.
 */
static void sort_points(struct ring_point *pt, struct ring_point *tmp,
                        size_t n)
{
    for (unsigned shift = 32; shift < 64; shift += 8) {
        size_t count[257] = {0};
        for (size_t i = 0; i < n; i++) {
            count[((pt[i].hash >> shift) & 0xff) + 1]++;
        }
        for (size_t d = 1; d <= 256; d++) {
            count[d] += count[d - 1];
        }
        for (size_t i = 0; i < n; i++) {
            tmp[count[(pt[i].hash >> shift) & 0xff]++] = pt[i];
        }
        struct ring_point *swap = pt;
        pt = tmp;
        tmp = swap;
    }
    for (size_t i = 1; i < n; i++) {
        struct ring_point x = pt[i];
        size_t j = i;
        while (j > 0 && point_before(&x, &pt[j - 1])) {
            pt[j] = pt[j - 1];
            j--;
        }
        pt[j] = x;
    }
}

static int str_ptr_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static uint32_t points_of(uint32_t capacity)
{
    uint64_t pts = ((uint64_t)capacity * PLACE_POINTS_PER_100 + 50) / 100;
    return pts > 0 ? (uint32_t)pts : 1;
}

/* Builds the ring of the members among nodes[0..n). */
static bool ring_build(struct ring *r, const struct place_node *nodes,
                       uint32_t n)
{
    memset(r, 0, sizeof(*r));
    size_t npt = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (nodes[i].member) {
            npt += points_of(nodes[i].capacity);
            r->nmembers++;
        }
    }
    r->pt = malloc((npt > 0 ? npt : 1) * sizeof(*r->pt));
    struct ring_point *tmp = malloc((npt > 0 ? npt : 1) * sizeof(*tmp));
    r->zone = malloc((n > 0 ? n : 1) * sizeof(*r->zone));
    const char **zones = malloc((n > 0 ? n : 1) * sizeof(*zones));
    if (r->pt == NULL || tmp == NULL || r->zone == NULL || zones == NULL) {
        free(tmp);
        free(zones);
        ring_free(r);
        return false;
    }
    uint32_t nz = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (!nodes[i].member) {
            continue;
        }
        const char *id = nodes[i].id;
        size_t len = strlen(id);
        uint32_t pts = points_of(nodes[i].capacity);
        for (uint32_t k = 0; k < pts; k++) {
            r->pt[r->npt].hash = XXH3_64bits_withSeed(id, len, k);
            r->pt[r->npt].node = i;
            r->npt++;
        }
        zones[nz++] = nodes[i].zone;
    }
    sort_points(r->pt, tmp, r->npt);
    free(tmp);
    qsort(zones, nz, sizeof(*zones), str_ptr_cmp);
    uint32_t distinct = 0;
    for (uint32_t i = 0; i < nz; i++) {
        if (distinct == 0 || strcmp(zones[distinct - 1], zones[i]) != 0) {
            zones[distinct++] = zones[i];
        }
    }
    r->nzones = distinct;
    for (uint32_t i = 0; i < n; i++) {
        r->zone[i] = NONE;
        if (!nodes[i].member) {
            continue;
        }
        const char *key = nodes[i].zone;
        const char **z = bsearch(&key, zones, distinct,
                                 sizeof(*zones), str_ptr_cmp);
        r->zone[i] = (uint32_t)(z - zones);
    }
    free(zones);
    return true;
}

/* The first point at or after hash h (wrapping to 0). */
static size_t ring_start(const struct ring *r, uint64_t h)
{
    size_t lo = 0, hi = r->npt;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->pt[mid].hash < h) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return lo == r->npt ? 0 : lo;
}

static uint64_t key_hash(const char *table, uint32_t partition)
{
    return XXH3_64bits_withSeed(table, strlen(table), partition);
}

/*
 * Scratch sets over a node array: node x is "in" while mark[x] == stamp,
 * zone z "used" while zmark[z] == stamp.
 */
struct marks {
    uint32_t *mark;
    uint32_t *zmark;
    uint32_t stamp;
};

static bool marks_init(struct marks *m, uint32_t nodes, uint32_t zones)
{
    m->mark = calloc(nodes > 0 ? nodes : 1, sizeof(*m->mark));
    m->zmark = calloc(zones > 0 ? zones : 1, sizeof(*m->zmark));
    m->stamp = 0;
    return m->mark != NULL && m->zmark != NULL;
}

static void marks_free(struct marks *m)
{
    free(m->mark);
    free(m->zmark);
}

/* Starts a new empty set (clearing the arrays when the stamp wraps). */
static void marks_next(struct marks *m, uint32_t nodes, uint32_t zones)
{
    if (++m->stamp == 0) {
        memset(m->mark, 0, (nodes > 0 ? nodes : 1) * sizeof(*m->mark));
        memset(m->zmark, 0, (zones > 0 ? zones : 1) * sizeof(*m->zmark));
        m->stamp = 1;
    }
}

/*
 * The ideal replicas of hash h: the first r distinct members met walking
 * clockwise, the first member of each zone first until min(r, nzones)
 * zones are used, then any. Writes them (node indexes of the ring's
 * array) to out; returns how many (r, unless the ring has fewer members).
 */
static uint32_t ring_ideal(const struct ring *rg, uint64_t h, uint32_t r,
                           struct marks *m, uint32_t nnodes, uint32_t *out)
{
    marks_next(m, nnodes, rg->nzones);
    if (rg->npt == 0) {
        return 0;
    }
    uint32_t need = r < rg->nzones ? r : rg->nzones;
    uint32_t s = 0, used = 0;
    size_t start = ring_start(rg, h);
    for (size_t i = 0; i < rg->npt && used < need; i++) {
        uint32_t x = rg->pt[(start + i) % rg->npt].node;
        if (m->mark[x] != m->stamp && m->zmark[rg->zone[x]] != m->stamp) {
            m->mark[x] = m->stamp;
            m->zmark[rg->zone[x]] = m->stamp;
            used++;
            out[s++] = x;
        }
    }
    for (size_t i = 0; i < rg->npt && s < r; i++) {
        uint32_t x = rg->pt[(start + i) % rg->npt].node;
        if (m->mark[x] != m->stamp) {
            m->mark[x] = m->stamp;
            out[s++] = x;
        }
    }
    return s;
}

/* ---- computing a target ------------------------------------------------ */

/* The state of filling one table's target. */
struct fill {
    const struct ring *ring; /* over the new node array */
    uint32_t nnodes;
    uint32_t r;      /* replicas per partition */
    uint32_t need;   /* zones each partition must span: min(r, nzones) */
    uint32_t *load;  /* replicas placed per node (change with fill_load) */
    uint32_t *cap;   /* bound per node */
    uint32_t *zone_room; /* per zone: members with load below their cap */
    uint32_t over;       /* members with load above their cap */
    struct marks set;       /* the partition being filled */
    uint32_t used;          /* zones it uses */
    uint32_t *in_new;       /* ideal under the new ring: == set.stamp */
    uint32_t *in_old;       /* ideal under the previous ring */
    uint32_t *chosen;       /* [partitions * r]: replicas chosen so far */
    uint32_t *nchosen;      /* [partitions] */
};

/* Adds one replica to x's load (or takes one off), keeping the counts. */
static void fill_load(struct fill *f, uint32_t x, bool add)
{
    uint32_t cap = f->cap[x], z = f->ring->zone[x];
    if (add) {
        f->zone_room[z] -= f->load[x] + 1 == cap ? 1 : 0;
        f->over += f->load[x] == cap ? 1 : 0;
        f->load[x]++;
    } else {
        f->load[x]--;
        f->zone_room[z] += f->load[x] + 1 == cap ? 1 : 0;
        f->over -= f->load[x] == cap ? 1 : 0;
    }
}

/* Makes partition p the one being filled (marks its chosen replicas). */
static void fill_begin(struct fill *f, uint32_t p)
{
    marks_next(&f->set, f->nnodes, f->ring->nzones);
    if (f->set.stamp == 1) {
        /* First use, or the stamp wrapped: clear the ideal marks too. */
        memset(f->in_new, 0, f->nnodes * sizeof(*f->in_new));
        memset(f->in_old, 0, f->nnodes * sizeof(*f->in_old));
    }
    f->used = 0;
    const uint32_t *c = &f->chosen[(size_t)p * f->r];
    for (uint32_t i = 0; i < f->nchosen[p]; i++) {
        f->set.mark[c[i]] = f->set.stamp;
        if (f->set.zmark[f->ring->zone[c[i]]] != f->set.stamp) {
            f->set.zmark[f->ring->zone[c[i]]] = f->set.stamp;
            f->used++;
        }
    }
}

static bool fill_has(const struct fill *f, uint32_t x)
{
    return f->set.mark[x] == f->set.stamp;
}

/*
 * True if adding member x to partition p still lets it span f->need
 * zones with the slots left.
 */
static bool fill_zone_ok(const struct fill *f, uint32_t p, uint32_t x)
{
    uint32_t used = f->used +
                    (f->set.zmark[f->ring->zone[x]] != f->set.stamp ? 1 : 0);
    uint32_t left = f->r - f->nchosen[p] - 1;
    return used + left >= f->need;
}

static void fill_add(struct fill *f, uint32_t p, uint32_t x)
{
    f->chosen[(size_t)p * f->r + f->nchosen[p]++] = x;
    f->set.mark[x] = f->set.stamp;
    if (f->set.zmark[f->ring->zone[x]] != f->set.stamp) {
        f->set.zmark[f->ring->zone[x]] = f->set.stamp;
        f->used++;
    }
    fill_load(f, x, true);
}

/* Removes the i-th chosen replica of partition p (order not kept). */
static void fill_remove(struct fill *f, uint32_t p, uint32_t i)
{
    uint32_t *c = &f->chosen[(size_t)p * f->r];
    fill_load(f, c[i], false);
    c[i] = c[--f->nchosen[p]];
}

/*
 * If the i-th chosen replica d of partition p (the partition being filled,
 * ideals marked) was moved away by the ring, replaces it with the first
 * new ideal member under its cap, if zones permit. The marks of p are
 * stale afterwards: call fill_begin() again before using them.
 */
static void fill_hand_over(struct fill *f, uint32_t p, uint32_t i,
                           const uint32_t *ideal, uint32_t nideal)
{
    uint32_t d = f->chosen[(size_t)p * f->r + i];
    if (f->in_old[d] != f->set.stamp || f->in_new[d] == f->set.stamp) {
        return;
    }
    for (uint32_t k = 0; k < nideal; k++) {
        uint32_t q = ideal[k];
        if (fill_has(f, q) || f->in_old[q] == f->set.stamp ||
            f->load[q] >= f->cap[q]) {
            continue;
        }
        /* Try the set without d plus q, zones permitting. */
        f->chosen[(size_t)p * f->r + i] = q;
        fill_begin(f, p);
        if (f->used + (f->r - f->nchosen[p]) >= f->need) {
            fill_load(f, d, false);
            fill_load(f, q, true);
        } else {
            f->chosen[(size_t)p * f->r + i] = d;
        }
        return;
    }
}

/*
 * The member not chosen for partition p with the most room under its cap
 * (ties to the lower id), zones permitting; NONE if none has room.
 */
static uint32_t fill_most_room(const struct fill *f, uint32_t p,
                               const bool *member)
{
    uint32_t best = NONE, room = 0;
    for (uint32_t x = 0; x < f->nnodes; x++) {
        if (!member[x] || fill_has(f, x) || f->load[x] >= f->cap[x] ||
            f->cap[x] - f->load[x] <= room || !fill_zone_ok(f, p, x)) {
            continue;
        }
        best = x;
        room = f->cap[x] - f->load[x];
    }
    return best;
}

/*
 * Marks partition p's ideal replicas under the new ring (ideal) and the
 * previous one (old, NONE where gone) with the stamp fill_begin() set.
 */
static void mark_ideals(struct fill *f, const uint32_t *ideal, uint32_t n,
                        const uint32_t *old, uint32_t nold)
{
    for (uint32_t i = 0; i < n; i++) {
        f->in_new[ideal[i]] = f->set.stamp;
    }
    for (uint32_t i = 0; i < nold; i++) {
        if (old[i] != NONE) {
            f->in_old[old[i]] = f->set.stamp;
        }
    }
}

/*
 * Walks the ring from h for a member not chosen, under its cap and, while
 * partition p spans fewer than f->need zones, of an unused zone; NONE if
 * there is none.
 */
static uint32_t fill_walk(const struct fill *f, uint32_t p, uint64_t h)
{
    const struct ring *rg = f->ring;
    bool new_zone = f->used < f->need;
    /* Is there any candidate at all? (Spares a whole lap of the ring.) */
    uint32_t room = 0;
    for (uint32_t z = 0; z < rg->nzones; z++) {
        if (!new_zone || f->set.zmark[z] != f->set.stamp) {
            room += f->zone_room[z];
        }
    }
    /* Chosen members are counted only when any zone will do. */
    const uint32_t *c = &f->chosen[(size_t)p * f->r];
    for (uint32_t i = 0; !new_zone && i < f->nchosen[p]; i++) {
        room -= f->load[c[i]] < f->cap[c[i]] ? 1 : 0;
    }
    if (room == 0) {
        return NONE;
    }
    size_t start = ring_start(rg, h);
    for (size_t i = 0; i < rg->npt; i++) {
        uint32_t x = rg->pt[(start + i) % rg->npt].node;
        if (fill_has(f, x) || f->load[x] >= f->cap[x]) {
            continue;
        }
        if (new_zone && f->set.zmark[rg->zone[x]] == f->set.stamp) {
            continue;
        }
        return x;
    }
    return NONE;
}

/*
 * The least loaded (relative to its cap) member not chosen, of an unused
 * zone while partition p spans fewer than f->need zones; ties go to the
 * lower id. There always is one: f->r is below the member count.
 */
static uint32_t fill_least_loaded(const struct fill *f, const bool *member)
{
    bool new_zone = f->used < f->need;
    uint32_t best = NONE;
    for (uint32_t x = 0; x < f->nnodes; x++) {
        if (!member[x] || fill_has(f, x)) {
            continue;
        }
        if (new_zone && f->set.zmark[f->ring->zone[x]] == f->set.stamp) {
            continue;
        }
        if (best == NONE || (uint64_t)f->load[x] * f->cap[best] <
                                (uint64_t)f->load[best] * f->cap[x]) {
            best = x;
        }
    }
    return best;
}

/*
 * Orders the n chosen replicas of a partition into slots out[0..n): a
 * replica that held slot j < n of the previous target (prev, mapped to the
 * new node array, NONE where gone) keeps it; the others fill the free
 * slots in the order they were chosen. slot[] is scratch over the node
 * array, all NONE on entry and on return.
 */
static void order_slots(const uint32_t *chosen, uint32_t n,
                        const uint32_t *prev, uint32_t nprev, uint32_t *slot,
                        uint32_t *out)
{
    for (uint32_t j = 0; j < n; j++) {
        out[j] = NONE;
    }
    for (uint32_t j = 0; j < nprev && j < n; j++) {
        if (prev[j] != NONE) {
            slot[prev[j]] = j;
        }
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t j = slot[chosen[i]];
        if (j != NONE) {
            out[j] = chosen[i];
        }
    }
    uint32_t free_slot = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (slot[chosen[i]] != NONE) {
            continue;
        }
        while (out[free_slot] != NONE) {
            free_slot++;
        }
        out[free_slot] = chosen[i];
    }
    for (uint32_t j = 0; j < nprev && j < n; j++) {
        if (prev[j] != NONE) {
            slot[prev[j]] = NONE;
        }
    }
}

/* A node array's worth of NONE (malloc'd), or NULL. */
static uint32_t *none_array(uint32_t n)
{
    uint32_t *a = malloc((n > 0 ? n : 1) * sizeof(*a));
    for (uint32_t i = 0; a != NULL && i < n; i++) {
        a[i] = NONE;
    }
    return a;
}

/* What placement_compute() shares between tables. */
struct compute {
    struct placement *pl;      /* the result being built */
    bool *member;              /* [pl->nnodes] */
    uint32_t nmembers;
    uint64_t total_capacity;
    struct ring ring;          /* the members' ring */
    const struct placement *prev;
    struct ring old_ring;      /* prev's members' ring (over prev->nodes) */
    uint32_t *old_to_new;      /* [prev->nnodes] index in pl->nodes or NONE */
    struct marks old_marks;    /* for walks of old_ring */
};

/* Maps prev's list to new node indexes (NONE where gone) into out. */
static uint32_t map_old(const struct compute *c, const uint32_t *l,
                        uint32_t n, uint32_t *out)
{
    for (uint32_t i = 0; i < n; i++) {
        out[i] = c->old_to_new[l[i]];
    }
    return n;
}

/* Every member on every partition (R = all, or R >= members). */
static bool compute_all(struct compute *c, struct place_tab *t,
                        const struct place_tab *old)
{
    uint32_t n = c->nmembers;
    uint32_t *all = malloc(n * sizeof(*all));
    uint32_t nold = c->prev != NULL && c->prev->nnodes > 0 ? c->prev->nnodes
                                                           : 1;
    uint32_t *prev = malloc(nold * sizeof(*prev));
    uint32_t *slots = malloc(n * sizeof(*slots));
    uint32_t *slot = none_array(c->pl->nnodes);
    bool ok = all != NULL && prev != NULL && slots != NULL && slot != NULL;
    uint32_t k = 0;
    for (uint32_t x = 0; ok && x < c->pl->nnodes; x++) {
        if (c->member[x]) {
            all[k++] = x;
        }
    }
    for (uint32_t p = 0; ok && p < t->partitions; p++) {
        uint32_t nprev = 0;
        if (old != NULL) {
            const uint32_t *l = lists_get(&old->target, p, &nprev);
            map_old(c, l, nprev, prev);
        }
        order_slots(all, n, prev, nprev, slot, slots);
        lists_set(&t->target, p, slots, n);
    }
    free(all);
    free(prev);
    free(slots);
    free(slot);
    return ok;
}

/* R distinct members per partition, bounded loads, zones first. */
static bool compute_ring(struct compute *c, struct place_tab *t,
                         const struct place_tab *old, uint64_t *over_bound)
{
    uint32_t nn = c->pl->nnodes, r = t->replicas, parts = t->partitions;
    uint32_t old_r = old != NULL ? old->replicas : 0;
    struct fill f = {.ring = &c->ring, .nnodes = nn, .r = r};
    f.need = r < c->ring.nzones ? r : c->ring.nzones;
    f.load = calloc(nn, sizeof(*f.load));
    f.cap = calloc(nn, sizeof(*f.cap));
    f.zone_room = calloc(c->ring.nzones, sizeof(*f.zone_room));
    f.in_new = calloc(nn, sizeof(*f.in_new));
    f.in_old = calloc(nn, sizeof(*f.in_old));
    f.chosen = malloc((size_t)parts * r * sizeof(*f.chosen));
    f.nchosen = calloc(parts, sizeof(*f.nchosen));
    uint32_t *ideal = malloc((size_t)parts * r * sizeof(*ideal));
    uint32_t *nideal = calloc(parts, sizeof(*nideal));
    uint32_t *old_ideal =
        malloc(((size_t)parts * old_r + 1) * sizeof(*old_ideal));
    uint32_t *nold_ideal = calloc(parts, sizeof(*nold_ideal));
    uint32_t prev_n = c->prev != NULL ? c->prev->nnodes : 1;
    uint32_t *scratch = malloc((prev_n > nn ? prev_n : nn) * sizeof(*scratch));
    uint32_t *slots = malloc(r * sizeof(*slots));
    uint32_t *slot = none_array(nn);
    uint64_t *hash = malloc(parts * sizeof(*hash));
    bool *orphan = calloc(parts, sizeof(*orphan));
    bool *moved = calloc(parts, sizeof(*moved)); /* ideal set changed */
    struct marks walk = {0};
    bool ok = marks_init(&f.set, nn, c->ring.nzones) &&
              marks_init(&walk, nn, c->ring.nzones) && f.load != NULL &&
              f.cap != NULL && f.zone_room != NULL && f.in_new != NULL &&
              f.in_old != NULL && f.chosen != NULL && f.nchosen != NULL &&
              ideal != NULL &&
              nideal != NULL && old_ideal != NULL && nold_ideal != NULL &&
              scratch != NULL && slots != NULL && slot != NULL &&
              hash != NULL && orphan != NULL && moved != NULL;
    if (!ok) {
        goto done;
    }

    /* cap = ceil((1 + eps) * slots * capacity / total capacity) */
    uint64_t total = (uint64_t)parts * r;
    uint64_t den = PLACE_EPSILON_DEN * c->total_capacity;
    for (uint32_t x = 0; x < nn; x++) {
        if (c->member[x]) {
            uint64_t num = (uint64_t)(PLACE_EPSILON_DEN + PLACE_EPSILON_NUM) *
                           total * c->pl->nodes[x].capacity;
            f.cap[x] = (uint32_t)((num + den - 1) / den);
            f.zone_room[c->ring.zone[x]]++;
        }
    }

    /* Ideal replicas under the new ring and (mapped) the previous one. */
    for (uint32_t p = 0; p < parts; p++) {
        hash[p] = key_hash(t->name, p);
        nideal[p] = ring_ideal(&c->ring, hash[p], r, &walk, nn,
                               &ideal[(size_t)p * r]);
        if (old != NULL) {
            uint32_t n = ring_ideal(&c->old_ring, hash[p], old_r,
                                    &c->old_marks, c->prev->nnodes,
                                    scratch);
            nold_ideal[p] =
                map_old(c, scratch, n, &old_ideal[(size_t)p * old_r]);
            moved[p] = !same_set(&ideal[(size_t)p * r], nideal[p],
                                 &old_ideal[(size_t)p * old_r],
                                 nold_ideal[p]);
        }
    }

    /* (1) Keep every previous replica that is still a member. */
    for (uint32_t p = 0; old != NULL && p < parts; p++) {
        fill_begin(&f, p);
        uint32_t n;
        const uint32_t *l = lists_get(&old->target, p, &n);
        map_old(c, l, n, scratch);
        for (uint32_t i = 0; i < n && f.nchosen[p] < r; i++) {
            uint32_t x = scratch[i];
            if (x != NONE && c->member[x] && !fill_has(&f, x) &&
                fill_zone_ok(&f, p, x)) {
                fill_add(&f, p, x);
            }
        }
    }
    /*
     * (2) Where a member above its cap holds a replica the ring moved to
     * a new ideal member (a joiner), hand it over now.
     */
    for (uint32_t p = 0; f.over > 0 && p < parts; p++) {
        for (uint32_t i = 0; moved[p] && i < f.nchosen[p]; i++) {
            uint32_t d = f.chosen[(size_t)p * r + i];
            if (f.load[d] > f.cap[d]) {
                fill_begin(&f, p);
                mark_ideals(&f, &ideal[(size_t)p * r], nideal[p],
                            &old_ideal[(size_t)p * old_r], nold_ideal[p]);
                fill_hand_over(&f, p, i, &ideal[(size_t)p * r], nideal[p]);
            }
        }
    }
    /*
     * (3) Members still above their cap (it shrinks when members join)
     * shed replicas, highest partitions first: those the ring moved
     * away, then those not ideal, then any.
     */
    for (int pass = 0; f.over > 0 && pass < 3; pass++) {
        for (uint32_t p = parts; f.over > 0 && p-- > 0;) {
            fill_begin(&f, p);
            mark_ideals(&f, &ideal[(size_t)p * r], nideal[p],
                        &old_ideal[(size_t)p * old_r], nold_ideal[p]);
            for (uint32_t i = f.nchosen[p]; i-- > 0;) {
                uint32_t x = f.chosen[(size_t)p * r + i];
                bool ideal_now = f.in_new[x] == f.set.stamp;
                bool away = f.in_old[x] == f.set.stamp && !ideal_now;
                if (f.load[x] > f.cap[x] &&
                    (pass == 2 || (pass == 1 && !ideal_now) || away)) {
                    fill_remove(&f, p, i);
                    orphan[p] = true;
                }
            }
        }
    }
    /* (4) Fill free slots with ideal replicas new since the previous ring. */
    for (uint32_t p = 0; p < parts; p++) {
        if (f.nchosen[p] == r) {
            continue;
        }
        fill_begin(&f, p);
        mark_ideals(&f, &ideal[(size_t)p * r], nideal[p],
                    &old_ideal[(size_t)p * old_r], nold_ideal[p]);
        for (uint32_t i = 0; i < nideal[p] && f.nchosen[p] < r; i++) {
            uint32_t x = ideal[(size_t)p * r + i];
            if (fill_has(&f, x) || f.in_old[x] == f.set.stamp ||
                f.load[x] >= f.cap[x] || !fill_zone_ok(&f, p, x)) {
                continue;
            }
            fill_add(&f, p, x);
        }
    }
    /*
     * (5) Replicas shed in (3) move anyway: to the member with the most
     * room (a joiner, typically), which then takes fewer of (6).
     */
    for (uint32_t p = 0; old != NULL && p < parts; p++) {
        if (!orphan[p]) {
            continue;
        }
        fill_begin(&f, p);
        while (f.nchosen[p] < r) {
            uint32_t x = fill_most_room(&f, p, c->member);
            if (x == NONE) {
                break;
            }
            fill_add(&f, p, x);
        }
    }
    /* (6) Hand replicas the ring moved to new ideal members with room. */
    for (uint32_t p = 0; p < parts; p++) {
        for (uint32_t i = 0; moved[p] && i < f.nchosen[p]; i++) {
            fill_begin(&f, p);
            mark_ideals(&f, &ideal[(size_t)p * r], nideal[p],
                        &old_ideal[(size_t)p * old_r], nold_ideal[p]);
            fill_hand_over(&f, p, i, &ideal[(size_t)p * r], nideal[p]);
        }
    }
    /* (7) Walk the ring, skipping members at their cap; (8) force. */
    for (uint32_t p = 0; p < parts; p++) {
        if (f.nchosen[p] < r) {
            fill_begin(&f, p);
        }
        while (f.nchosen[p] < r) {
            uint32_t x = fill_walk(&f, p, hash[p]);
            if (x == NONE) {
                x = fill_least_loaded(&f, c->member);
                if (f.load[x] >= f.cap[x]) {
                    (*over_bound)++;
                }
            }
            fill_add(&f, p, x);
        }
        uint32_t nprev = 0;
        if (old != NULL) {
            const uint32_t *l = lists_get(&old->target, p, &nprev);
            map_old(c, l, nprev, scratch);
        }
        order_slots(&f.chosen[(size_t)p * r], r, scratch, nprev, slot,
                    slots);
        lists_set(&t->target, p, slots, r);
    }
done:
    marks_free(&f.set);
    marks_free(&walk);
    free(slot);
    free(f.load);
    free(f.cap);
    free(f.zone_room);
    free(f.in_new);
    free(f.in_old);
    free(f.chosen);
    free(f.nchosen);
    free(ideal);
    free(nideal);
    free(old_ideal);
    free(nold_ideal);
    free(scratch);
    free(slots);
    free(hash);
    free(orphan);
    free(moved);
    return ok;
}

static int member_cmp(const void *a, const void *b)
{
    return strcmp(((const struct place_member *)a)->id,
                  ((const struct place_member *)b)->id);
}

static int table_cmp(const void *a, const void *b)
{
    return strcmp(((const struct place_table *)a)->name,
                  ((const struct place_table *)b)->name);
}

/* The table of prev that t continues (same name and partitions), or NULL. */
static const struct place_tab *continued(const struct placement *prev,
                                         const struct place_table *t)
{
    if (prev == NULL) {
        return NULL;
    }
    const struct place_tab *old = tab_find(prev, t->name);
    return old != NULL && old->partitions == t->partitions ? old : NULL;
}

/* Checks and sorts the inputs into ms[] and ts[]. */
static enum place_status check_inputs(const struct place_member *members,
                                      size_t nmembers,
                                      const struct place_table *tables,
                                      size_t ntables,
                                      struct place_member *ms,
                                      struct place_table *ts, char *err,
                                      size_t errlen)
{
    memcpy(ms, members, nmembers * sizeof(*ms));
    for (size_t i = 0; i < nmembers; i++) {
        struct place_member *m = &ms[i];
        if (memchr(m->id, '\0', sizeof(m->id)) == NULL ||
            !membership_valid_name(m->id)) {
            return fail(err, errlen, PLACE_INVALID,
                        "invalid member id \"%.*s\"", MEMB_NAME_MAX - 1,
                        m->id);
        }
        if (memchr(m->zone, '\0', sizeof(m->zone)) == NULL ||
            (m->zone[0] != '\0' && !membership_valid_name(m->zone))) {
            return fail(err, errlen, PLACE_INVALID,
                        "member %s: invalid zone \"%.*s\"", m->id,
                        MEMB_NAME_MAX - 1, m->zone);
        }
        if (m->capacity == 0) {
            m->capacity = PLACE_DEFAULT_CAPACITY;
        }
        if (m->capacity > PLACE_CAPACITY_MAX) {
            return fail(err, errlen, PLACE_INVALID,
                        "member %s: capacity %u above %d", m->id,
                        m->capacity, PLACE_CAPACITY_MAX);
        }
    }
    qsort(ms, nmembers, sizeof(*ms), member_cmp);
    for (size_t i = 1; i < nmembers; i++) {
        if (strcmp(ms[i - 1].id, ms[i].id) == 0) {
            return fail(err, errlen, PLACE_INVALID, "member %s listed twice",
                        ms[i].id);
        }
    }
    if (ntables > 0) {
        memcpy(ts, tables, ntables * sizeof(*ts));
    }
    for (size_t i = 0; i < ntables; i++) {
        if (memchr(ts[i].name, '\0', sizeof(ts[i].name)) == NULL ||
            !membership_valid_name(ts[i].name)) {
            return fail(err, errlen, PLACE_INVALID,
                        "invalid table name \"%.*s\"", MEMB_NAME_MAX - 1,
                        ts[i].name);
        }
        if (ts[i].partitions == 0 ||
            ts[i].partitions > PLACE_PARTITIONS_MAX) {
            return fail(err, errlen, PLACE_INVALID,
                        "table %s: %u partitions (want 1..%d)", ts[i].name,
                        ts[i].partitions, PLACE_PARTITIONS_MAX);
        }
    }
    qsort(ts, ntables, sizeof(*ts), table_cmp);
    for (size_t i = 1; i < ntables; i++) {
        if (strcmp(ts[i - 1].name, ts[i].name) == 0) {
            return fail(err, errlen, PLACE_INVALID, "table %s listed twice",
                        ts[i].name);
        }
    }
    return PLACE_OK;
}

/*
 * The node array of the result: the members plus the nodes of prev's
 * current lists of continued tables (former members still serving), by id.
 */
static bool build_nodes(struct compute *c, const struct place_member *ms,
                        uint32_t nm, const struct place_table *ts,
                        uint32_t nt)
{
    const struct placement *prev = c->prev;
    uint32_t nprev = prev != NULL ? prev->nnodes : 0;
    bool *keep = calloc(nprev > 0 ? nprev : 1, sizeof(*keep));
    struct place_node *nodes = calloc((size_t)nm + nprev, sizeof(*nodes));
    if (keep == NULL || nodes == NULL) {
        free(keep);
        free(nodes);
        return false;
    }
    for (uint32_t i = 0; i < nt; i++) {
        const struct place_tab *old = continued(prev, &ts[i]);
        for (uint32_t p = 0; old != NULL && p < old->partitions; p++) {
            uint32_t n;
            const uint32_t *l = lists_get(&old->current, p, &n);
            for (uint32_t j = 0; j < n; j++) {
                keep[l[j]] = true;
            }
        }
    }
    /* Merge two id-sorted sequences; a member wins over its old record. */
    uint32_t a = 0, b = 0, n = 0;
    while (a < nm || b < nprev) {
        if (b < nprev && !keep[b]) {
            b++;
            continue;
        }
        int cmp = a == nm      ? 1
                  : b == nprev ? -1
                               : strcmp(ms[a].id, prev->nodes[b].id);
        if (cmp <= 0) {
            memcpy(nodes[n].id, ms[a].id, sizeof(nodes[n].id));
            memcpy(nodes[n].zone, ms[a].zone, sizeof(nodes[n].zone));
            nodes[n].capacity = ms[a].capacity;
            nodes[n].member = true;
            a++;
            b += cmp == 0 ? 1 : 0;
        } else {
            nodes[n] = prev->nodes[b];
            nodes[n].member = false;
            b++;
        }
        n++;
    }
    free(keep);
    c->pl->nodes = nodes;
    c->pl->nnodes = n;
    c->member = calloc(n, sizeof(*c->member));
    if (c->member == NULL) {
        return false;
    }
    for (uint32_t i = 0; i < n; i++) {
        c->member[i] = nodes[i].member;
    }
    return true;
}

/* One computation from prev, as the header comment describes. */
static enum place_status compute_once(const struct place_member *members,
                                      size_t nmembers,
                                      const struct place_table *tables,
                                      size_t ntables,
                                      const struct placement *prev,
                                      struct placement **out,
                                      struct place_report *report, char *err,
                                      size_t errlen)
{
    if (out == NULL) {
        return fail(err, errlen, PLACE_INVALID, "no result pointer");
    }
    *out = NULL;
    if (members == NULL || nmembers == 0) {
        return fail(err, errlen, PLACE_INVALID,
                    "no members: nothing to place partitions on");
    }
    if (nmembers > PLACE_MEMBERS_MAX) {
        return fail(err, errlen, PLACE_INVALID, "%zu members (at most %d)",
                    nmembers, PLACE_MEMBERS_MAX);
    }
    if (tables == NULL && ntables > 0) {
        return fail(err, errlen, PLACE_INVALID, "no table array");
    }
    if (ntables > UINT32_MAX) {
        return fail(err, errlen, PLACE_INVALID, "too many tables");
    }
    struct place_report rep = {0};
    struct compute c = {.prev = prev};
    struct place_member *ms = malloc(nmembers * sizeof(*ms));
    struct place_table *ts = malloc((ntables > 0 ? ntables : 1) * sizeof(*ts));
    c.pl = calloc(1, sizeof(*c.pl));
    enum place_status st = PLACE_NOMEM;
    if (ms == NULL || ts == NULL || c.pl == NULL) {
        goto done;
    }
    st = check_inputs(members, nmembers, tables, ntables, ms, ts, err,
                      errlen);
    if (st != PLACE_OK) {
        goto done;
    }
    st = PLACE_NOMEM;
    c.nmembers = (uint32_t)nmembers;
    for (size_t i = 0; i < nmembers; i++) {
        c.total_capacity += ms[i].capacity;
    }
    c.pl->generation = prev != NULL ? prev->generation + 1 : 1;
    if (!build_nodes(&c, ms, c.nmembers, ts, (uint32_t)ntables) ||
        !ring_build(&c.ring, c.pl->nodes, c.pl->nnodes)) {
        goto done;
    }
    if (prev != NULL) {
        c.old_to_new = malloc((prev->nnodes > 0 ? prev->nnodes : 1) *
                              sizeof(*c.old_to_new));
        if (c.old_to_new == NULL ||
            !ring_build(&c.old_ring, prev->nodes, prev->nnodes) ||
            !marks_init(&c.old_marks, prev->nnodes, c.old_ring.nzones)) {
            goto done;
        }
        for (uint32_t i = 0; i < prev->nnodes; i++) {
            c.old_to_new[i] =
                node_find(c.pl->nodes, c.pl->nnodes, prev->nodes[i].id);
        }
    }
    c.pl->tables = calloc(ntables > 0 ? ntables : 1, sizeof(*c.pl->tables));
    if (c.pl->tables == NULL) {
        goto done;
    }
    for (size_t i = 0; i < ntables; i++) {
        struct place_tab *t = &c.pl->tables[i];
        const struct place_tab *old = continued(prev, &ts[i]);
        memcpy(t->name, ts[i].name, sizeof(t->name));
        t->partitions = ts[i].partitions;
        t->replication = ts[i].replication;
        t->replicas = ts[i].replication == 0 ||
                              ts[i].replication > c.nmembers
                          ? c.nmembers
                          : ts[i].replication;
        c.pl->ntables++;
        if (ts[i].replication > c.nmembers && rep.capped_tables++ == 0) {
            memcpy(rep.first_capped, t->name, sizeof(rep.first_capped));
        }
        uint32_t cur_width = old != NULL ? old->current.width : t->replicas;
        if (!lists_init(&t->target, t->partitions, t->replicas) ||
            !lists_init(&t->current, t->partitions, cur_width)) {
            goto done;
        }
        bool ok = t->replicas == c.nmembers
                      ? compute_all(&c, t, old)
                      : compute_ring(&c, t, old, &rep.over_bound);
        if (!ok) {
            goto done;
        }
        for (uint32_t p = 0; p < t->partitions; p++) {
            uint32_t n;
            if (old == NULL) {
                const uint32_t *l = lists_get(&t->target, p, &n);
                lists_set(&t->current, p, l, n);
            } else {
                const uint32_t *l = lists_get(&old->current, p, &n);
                uint32_t *dst = &t->current.node[(size_t)p * cur_width];
                map_old(&c, l, n, dst);
                t->current.n[p] = n;
            }
        }
    }
    st = PLACE_OK;
    *out = c.pl;
    c.pl = NULL;
    if (report != NULL) {
        *report = rep;
    }
done:
    if (st == PLACE_NOMEM) {
        fail(err, errlen, st, "out of memory");
    }
    placement_free(c.pl);
    free(c.member);
    ring_free(&c.ring);
    ring_free(&c.old_ring);
    marks_free(&c.old_marks);
    free(c.old_to_new);
    free(ms);
    free(ts);
    return st;
}

/*
 * Sets current to target for every table of pl that does not continue a
 * table of prev (new or repartitioned: nothing to hand over).
 */
static void current_is_target(struct placement *pl,
                              const struct placement *prev)
{
    for (uint32_t i = 0; i < pl->ntables; i++) {
        struct place_tab *t = &pl->tables[i];
        struct place_table key = {.partitions = t->partitions};
        memcpy(key.name, t->name, sizeof(key.name));
        if (continued(prev, &key) != NULL) {
            continue;
        }
        for (uint32_t p = 0; p < t->partitions; p++) {
            uint32_t n;
            const uint32_t *l = lists_get(&t->target, p, &n);
            lists_set(&t->current, p, l, n);
        }
    }
}

/*
 * compute_once(), settled. A target that had to place replicas above
 * their member's cap (phase 8) is not always a fixed point: computed
 * again from itself with the same members and tables, phase 3 sheds
 * those replicas and the fill may now find members with room, so the
 * next computation would move them a second time (fuzz_placement found
 * one: tests/fuzz/regressions/fuzz_placement/). Such a result is
 * therefore computed again from itself, up to PLACE_SETTLE_MAX times,
 * until its target no longer changes; current and the generation stay
 * what they are relative to prev.
 */
enum place_status placement_compute(const struct place_member *members,
                                    size_t nmembers,
                                    const struct place_table *tables,
                                    size_t ntables,
                                    const struct placement *prev,
                                    struct placement **out,
                                    struct place_report *report, char *err,
                                    size_t errlen)
{
    struct place_report rep = {0};
    enum place_status st = compute_once(members, nmembers, tables, ntables,
                                        prev, out, &rep, err, errlen);
    for (int i = 0; st == PLACE_OK && rep.over_bound > 0 &&
                    i < PLACE_SETTLE_MAX;
         i++) {
        struct placement *next = NULL;
        struct place_report again = {0};
        st = compute_once(members, nmembers, tables, ntables, *out, &next,
                          &again, err, errlen);
        if (st != PLACE_OK) {
            placement_destroy(out);
            break;
        }
        bool settled = placement_same_assignment(*out, next);
        next->generation = (*out)->generation;
        current_is_target(next, prev);
        placement_destroy(out);
        *out = next;
        rep = again;
        if (settled) {
            break;
        }
    }
    if (st == PLACE_OK && report != NULL) {
        *report = rep;
    }
    return st;
}

/* ---- reading a placement ----------------------------------------------- */

uint64_t placement_generation(const struct placement *pl)
{
    return pl->generation;
}

size_t placement_table_count(const struct placement *pl)
{
    return pl->ntables;
}

enum place_status placement_table_at(const struct placement *pl, size_t i,
                                     struct place_table_info *out)
{
    if (i >= pl->ntables) {
        return PLACE_NOTFOUND;
    }
    const struct place_tab *t = &pl->tables[i];
    out->name = t->name;
    out->partitions = t->partitions;
    out->replication = t->replication;
    out->replicas = t->replicas;
    return PLACE_OK;
}

enum place_status placement_nodes(const struct placement *pl,
                                  const char *table, uint32_t partition,
                                  enum place_set which, const char **ids,
                                  size_t max, size_t *n)
{
    *n = 0;
    const struct place_tab *t = table != NULL ? tab_find(pl, table) : NULL;
    if (t == NULL || partition >= t->partitions) {
        return PLACE_NOTFOUND;
    }
    uint32_t nc, nt;
    const uint32_t *cur = lists_get(&t->current, partition, &nc);
    const uint32_t *tgt = lists_get(&t->target, partition, &nt);
    size_t k = 0;
    if (which != PLACE_TARGET) {
        for (uint32_t i = 0; i < nc; i++, k++) {
            if (k < max) {
                ids[k] = pl->nodes[cur[i]].id;
            }
        }
    }
    if (which != PLACE_CURRENT) {
        for (uint32_t i = 0; i < nt; i++) {
            if (which == PLACE_ROUTING) {
                uint32_t j = 0;
                while (j < nc && cur[j] != tgt[i]) {
                    j++;
                }
                if (j < nc) {
                    continue;
                }
            }
            if (k < max) {
                ids[k] = pl->nodes[tgt[i]].id;
            }
            k++;
        }
    }
    *n = k;
    return PLACE_OK;
}

/* True if partition p of t is in motion. */
static bool moving(const struct place_tab *t, uint32_t p)
{
    uint32_t nc, nt;
    const uint32_t *cur = lists_get(&t->current, p, &nc);
    const uint32_t *tgt = lists_get(&t->target, p, &nt);
    return !same_set(cur, nc, tgt, nt);
}

enum place_status placement_moves(const struct placement *pl,
                                  struct place_move **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    size_t count = 0;
    for (uint32_t t = 0; t < pl->ntables; t++) {
        for (uint32_t p = 0; p < pl->tables[t].partitions; p++) {
            count += moving(&pl->tables[t], p) ? 1 : 0;
        }
    }
    if (count == 0) {
        return PLACE_OK;
    }
    struct place_move *mv = malloc(count * sizeof(*mv));
    if (mv == NULL) {
        return PLACE_NOMEM;
    }
    size_t k = 0;
    for (uint32_t t = 0; t < pl->ntables; t++) {
        for (uint32_t p = 0; p < pl->tables[t].partitions; p++) {
            if (moving(&pl->tables[t], p)) {
                mv[k].table = t;
                mv[k].partition = p;
                k++;
            }
        }
    }
    *out = mv;
    *n = count;
    return PLACE_OK;
}

/*
 * Drops non-member nodes no list refers to, renumbering the lists; returns
 * whether any was dropped (none if out of memory: they are dropped later).
 */
static bool prune_nodes(struct placement *pl)
{
    uint32_t *remap = calloc(pl->nnodes > 0 ? pl->nnodes : 1,
                             sizeof(*remap));
    if (remap == NULL) {
        return false;
    }
    for (uint32_t t = 0; t < pl->ntables; t++) {
        const struct place_tab *tab = &pl->tables[t];
        for (uint32_t p = 0; p < tab->partitions; p++) {
            uint32_t nc, nt;
            const uint32_t *cur = lists_get(&tab->current, p, &nc);
            const uint32_t *tgt = lists_get(&tab->target, p, &nt);
            for (uint32_t i = 0; i < nc; i++) {
                remap[cur[i]] = 1;
            }
            for (uint32_t i = 0; i < nt; i++) {
                remap[tgt[i]] = 1;
            }
        }
    }
    uint32_t n = 0;
    for (uint32_t x = 0; x < pl->nnodes; x++) {
        if (pl->nodes[x].member || remap[x]) {
            pl->nodes[n] = pl->nodes[x];
            remap[x] = n++;
        }
    }
    bool changed = n != pl->nnodes;
    pl->nnodes = n;
    for (uint32_t t = 0; changed && t < pl->ntables; t++) {
        struct place_tab *tab = &pl->tables[t];
        for (uint32_t p = 0; p < tab->partitions; p++) {
            uint32_t *cur = &tab->current.node[(size_t)p * tab->current.width];
            uint32_t *tgt = &tab->target.node[(size_t)p * tab->target.width];
            for (uint32_t i = 0; i < tab->current.n[p]; i++) {
                cur[i] = remap[cur[i]];
            }
            for (uint32_t i = 0; i < tab->target.n[p]; i++) {
                tgt[i] = remap[tgt[i]];
            }
        }
    }
    free(remap);
    return changed;
}

long placement_promote(struct placement *pl, place_ready_fn ready,
                       void *arg)
{
    /* Allocate first so that nothing changes if memory runs out. */
    for (uint32_t t = 0; t < pl->ntables; t++) {
        struct place_tab *tab = &pl->tables[t];
        if (!lists_widen(&tab->current, tab->partitions, tab->target.width)) {
            return -1;
        }
    }
    long promoted = 0;
    for (uint32_t t = 0; t < pl->ntables; t++) {
        struct place_tab *tab = &pl->tables[t];
        for (uint32_t p = 0; p < tab->partitions; p++) {
            if (!moving(tab, p)) {
                continue;
            }
            uint32_t nt;
            const uint32_t *tgt = lists_get(&tab->target, p, &nt);
            uint32_t i = 0;
            while (i < nt && ready(arg, tab->name, p, pl->nodes[tgt[i]].id)) {
                i++;
            }
            if (i == nt) {
                lists_set(&tab->current, p, tgt, nt);
                promoted++;
            }
        }
    }
    bool pruned = prune_nodes(pl);
    if (promoted > 0 || pruned) {
        pl->generation++;
    }
    return promoted;
}

bool placement_equal(const struct placement *a, const struct placement *b)
{
    return a->generation == b->generation && placement_same_assignment(a, b);
}

bool placement_same_assignment(const struct placement *a,
                               const struct placement *b)
{
    if (a->nnodes != b->nnodes || a->ntables != b->ntables) {
        return false;
    }
    for (uint32_t x = 0; x < a->nnodes; x++) {
        const struct place_node *na = &a->nodes[x], *nb = &b->nodes[x];
        if (strcmp(na->id, nb->id) != 0 || strcmp(na->zone, nb->zone) != 0 ||
            na->capacity != nb->capacity || na->member != nb->member) {
            return false;
        }
    }
    for (uint32_t t = 0; t < a->ntables; t++) {
        const struct place_tab *ta = &a->tables[t], *tb = &b->tables[t];
        if (strcmp(ta->name, tb->name) != 0 ||
            ta->partitions != tb->partitions ||
            ta->replication != tb->replication ||
            ta->replicas != tb->replicas ||
            !lists_equal(&ta->current, &tb->current, ta->partitions) ||
            !lists_equal(&ta->target, &tb->target, ta->partitions)) {
            return false;
        }
    }
    return true;
}

/* ---- JSON -------------------------------------------------------------- */

static bool put(json_t *obj, const char *name, json_t *value)
{
    return value != NULL && json_object_set_new(obj, name, value) == 0;
}

static json_t *lists_to_json(const struct place_lists *l, uint32_t parts)
{
    json_t *arr = json_array();
    for (uint32_t p = 0; arr != NULL && p < parts; p++) {
        uint32_t n;
        const uint32_t *nodes = lists_get(l, p, &n);
        json_t *one = json_array();
        for (uint32_t i = 0; one != NULL && i < n; i++) {
            if (json_array_append_new(one, json_integer(nodes[i])) != 0) {
                json_decref(one);
                one = NULL;
            }
        }
        if (one == NULL || json_array_append_new(arr, one) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

static json_t *tab_to_json(const struct place_tab *t)
{
    json_t *o = json_object();
    if (o == NULL || !put(o, "name", json_string(t->name)) ||
        !put(o, "partitions", json_integer(t->partitions)) ||
        !put(o, "replication", json_integer(t->replication)) ||
        !put(o, "replicas", json_integer(t->replicas)) ||
        !put(o, "current", lists_to_json(&t->current, t->partitions)) ||
        (!lists_equal(&t->current, &t->target, t->partitions) &&
         !put(o, "target", lists_to_json(&t->target, t->partitions)))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

char *placement_to_json(const struct placement *pl)
{
    if (pl->generation > INT64_MAX) {
        return NULL;
    }
    json_t *root = json_object();
    json_t *nodes = json_array();
    json_t *tables = json_array();
    char *out = NULL;
    if (root == NULL || nodes == NULL || tables == NULL) {
        goto done;
    }
    for (uint32_t x = 0; x < pl->nnodes; x++) {
        const struct place_node *n = &pl->nodes[x];
        json_t *o = json_object();
        if (o == NULL || !put(o, "id", json_string(n->id)) ||
            !put(o, "zone", json_string(n->zone)) ||
            !put(o, "capacity", json_integer(n->capacity)) ||
            !put(o, "member", json_boolean(n->member)) ||
            json_array_append_new(nodes, o) != 0) {
            json_decref(o);
            goto done;
        }
    }
    for (uint32_t t = 0; t < pl->ntables; t++) {
        if (json_array_append_new(tables, tab_to_json(&pl->tables[t])) != 0) {
            goto done;
        }
    }
    if (put(root, "format", json_integer(PLACE_FORMAT)) &&
        put(root, "generation", json_integer((json_int_t)pl->generation)) &&
        put(root, "nodes", json_incref(nodes)) &&
        put(root, "tables", json_incref(tables))) {
        out = json_dumps(root, JSON_COMPACT);
    }
done:
    json_decref(nodes);
    json_decref(tables);
    json_decref(root);
    return out;
}

/* Reads field name of obj as an integer in [min, max]. */
static enum place_status get_uint(json_t *obj, const char *where,
                                  const char *name, uint64_t min,
                                  uint64_t max, uint64_t *out, char *err,
                                  size_t errlen)
{
    json_t *v = json_object_get(obj, name);
    if (!json_is_integer(v) || json_integer_value(v) < 0 ||
        (uint64_t)json_integer_value(v) < min ||
        (uint64_t)json_integer_value(v) > max) {
        return fail(err, errlen, PLACE_INVALID,
                    "%s'%s' must be an integer in %" PRIu64 "..%" PRIu64,
                    where, name, min, max);
    }
    *out = (uint64_t)json_integer_value(v);
    return PLACE_OK;
}

/* Copies string field name (a valid name, or "" if allow_empty) to out. */
static enum place_status get_name(json_t *obj, const char *where,
                                  const char *name, bool allow_empty,
                                  char out[MEMB_NAME_MAX], char *err,
                                  size_t errlen)
{
    json_t *v = json_object_get(obj, name);
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    bool empty_ok = allow_empty && s != NULL && n == 0;
    if (s == NULL || n >= MEMB_NAME_MAX || strlen(s) != n ||
        (!empty_ok && !membership_valid_name(s))) {
        return fail(err, errlen, PLACE_INVALID,
                    "%s'%s' must be a name of [A-Za-z0-9_.-]{1,64}%s", where,
                    name, allow_empty ? " or \"\"" : "");
    }
    memcpy(out, s, n + 1);
    return PLACE_OK;
}

/*
 * Parses the lists of field name into l: one per partition, each of
 * distinct node indexes < nnodes, 1..max long, members only if
 * members_only (member[] flags).
 */
static enum place_status parse_lists(json_t *arr, const char *table,
                                     const char *name, uint32_t parts,
                                     const struct placement *pl,
                                     uint32_t exact, struct place_lists *l,
                                     char *err, size_t errlen)
{
    if (!json_is_array(arr) || json_array_size(arr) != parts) {
        return fail(err, errlen, PLACE_INVALID,
                    "table %s: '%s' must be an array of %u lists", table,
                    name, parts);
    }
    uint32_t width = 1;
    for (uint32_t p = 0; p < parts; p++) {
        json_t *one = json_array_get(arr, p);
        size_t n = json_array_size(one);
        if (!json_is_array(one) || n == 0 || n > pl->nnodes ||
            (exact != 0 && n != exact)) {
            return fail(err, errlen, PLACE_INVALID,
                        "table %s: %s[%u] must list %s distinct nodes", table,
                        name, p, exact != 0 ? "'replicas'" : "1 or more");
        }
        width = n > width ? (uint32_t)n : width;
    }
    if (!lists_init(l, parts, width)) {
        return fail(err, errlen, PLACE_NOMEM, "out of memory");
    }
    for (uint32_t p = 0; p < parts; p++) {
        json_t *one = json_array_get(arr, p);
        uint32_t n = (uint32_t)json_array_size(one);
        uint32_t *dst = &l->node[(size_t)p * width];
        for (uint32_t i = 0; i < n; i++) {
            json_t *v = json_array_get(one, i);
            json_int_t x = json_integer_value(v);
            bool ok = json_is_integer(v) && x >= 0 && x < pl->nnodes &&
                      (exact == 0 || pl->nodes[x].member);
            for (uint32_t j = 0; ok && j < i; j++) {
                ok = dst[j] != (uint32_t)x;
            }
            if (!ok) {
                return fail(err, errlen, PLACE_INVALID,
                            "table %s: %s[%u][%u] is not a %snode index of "
                            "its own", table, name, p, i,
                            exact != 0 ? "member " : "");
            }
            dst[i] = (uint32_t)x;
        }
        l->n[p] = n;
    }
    return PLACE_OK;
}

static enum place_status parse_root(json_t *root, struct placement *pl,
                                    char *err, size_t errlen)
{
    uint64_t v = 0;
    enum place_status st;
    if (!json_is_object(root)) {
        return fail(err, errlen, PLACE_INVALID, "top level must be an object");
    }
    if ((st = get_uint(root, "", "format", 0, INT64_MAX, &v, err, errlen)) !=
        PLACE_OK) {
        return st;
    }
    if (v != PLACE_FORMAT) {
        return fail(err, errlen, PLACE_INVALID,
                    "format %" PRIu64 " (this release reads %d)", v,
                    PLACE_FORMAT);
    }
    if ((st = get_uint(root, "", "generation", 0, INT64_MAX, &pl->generation,
                       err, errlen)) != PLACE_OK) {
        return st;
    }
    json_t *nodes = json_object_get(root, "nodes");
    json_t *tables = json_object_get(root, "tables");
    if (!json_is_array(nodes) || json_array_size(nodes) > PLACE_NODES_MAX ||
        !json_is_array(tables) || json_array_size(tables) > UINT32_MAX) {
        return fail(err, errlen, PLACE_INVALID,
                    "'nodes' (at most %d) and 'tables' must be arrays",
                    PLACE_NODES_MAX);
    }
    size_t nn = json_array_size(nodes), nt = json_array_size(tables);
    pl->nodes = calloc(nn > 0 ? nn : 1, sizeof(*pl->nodes));
    pl->tables = calloc(nt > 0 ? nt : 1, sizeof(*pl->tables));
    if (pl->nodes == NULL || pl->tables == NULL) {
        return fail(err, errlen, PLACE_NOMEM, "out of memory");
    }
    uint32_t nmembers = 0;
    for (size_t i = 0; i < nn; i++) {
        json_t *o = json_array_get(nodes, i);
        struct place_node *n = &pl->nodes[i];
        char where[32];
        snprintf(where, sizeof(where), "nodes[%zu].", i);
        json_t *member = json_object_get(o, "member");
        if ((st = get_name(o, where, "id", false, n->id, err, errlen)) !=
                PLACE_OK ||
            (st = get_name(o, where, "zone", true, n->zone, err, errlen)) !=
                PLACE_OK ||
            (st = get_uint(o, where, "capacity", 1, PLACE_CAPACITY_MAX, &v,
                           err, errlen)) != PLACE_OK) {
            return st;
        }
        if (!json_is_boolean(member)) {
            return fail(err, errlen, PLACE_INVALID,
                        "%s'member' must be true or false", where);
        }
        if (i > 0 && strcmp(pl->nodes[i - 1].id, n->id) >= 0) {
            return fail(err, errlen, PLACE_INVALID,
                        "nodes must be sorted by id, each once (%s)", n->id);
        }
        n->capacity = (uint32_t)v;
        n->member = json_is_true(member);
        nmembers += n->member ? 1 : 0;
        pl->nnodes++;
    }
    if (nmembers > PLACE_MEMBERS_MAX) {
        return fail(err, errlen, PLACE_INVALID, "%u members (at most %d)",
                    nmembers, PLACE_MEMBERS_MAX);
    }
    for (size_t i = 0; i < nt; i++) {
        json_t *o = json_array_get(tables, i);
        struct place_tab *t = &pl->tables[i];
        char where[32];
        snprintf(where, sizeof(where), "tables[%zu].", i);
        uint64_t parts = 0, repl = 0, replicas = 0;
        if ((st = get_name(o, where, "name", false, t->name, err, errlen)) !=
                PLACE_OK ||
            (st = get_uint(o, where, "partitions", 1, PLACE_PARTITIONS_MAX,
                           &parts, err, errlen)) != PLACE_OK ||
            (st = get_uint(o, where, "replication", 0, UINT32_MAX, &repl,
                           err, errlen)) != PLACE_OK ||
            (st = get_uint(o, where, "replicas", 1, nmembers, &replicas, err,
                           errlen)) != PLACE_OK) {
            return st;
        }
        if (i > 0 && strcmp(pl->tables[i - 1].name, t->name) >= 0) {
            return fail(err, errlen, PLACE_INVALID,
                        "tables must be sorted by name, each once (%s)",
                        t->name);
        }
        if (replicas != (repl == 0 || repl > nmembers ? nmembers : repl)) {
            return fail(err, errlen, PLACE_INVALID,
                        "table %s: %" PRIu64 " replicas, but replication %"
                        PRIu64 " over %u members",
                        t->name, replicas, repl, nmembers);
        }
        t->partitions = (uint32_t)parts;
        t->replication = (uint32_t)repl;
        t->replicas = (uint32_t)replicas;
        pl->ntables++;
        json_t *target = json_object_get(o, "target");
        if ((st = parse_lists(json_object_get(o, "current"), t->name,
                              "current", t->partitions, pl, 0, &t->current,
                              err, errlen)) != PLACE_OK ||
            (st = parse_lists(target != NULL ? target
                                             : json_object_get(o, "current"),
                              t->name, target != NULL ? "target" : "current",
                              t->partitions, pl, t->replicas, &t->target, err,
                              errlen)) != PLACE_OK) {
            return st;
        }
    }
    return PLACE_OK;
}

enum place_status placement_from_json(const char *json, size_t len,
                                      struct placement **out, char *err,
                                      size_t errlen)
{
    *out = NULL;
    json_error_t jerr;
    json_t *root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        return fail(err, errlen, PLACE_INVALID, "line %d column %d: %s",
                    jerr.line, jerr.column, jerr.text);
    }
    struct placement *pl = calloc(1, sizeof(*pl));
    enum place_status st =
        pl != NULL ? parse_root(root, pl, err, errlen)
                   : fail(err, errlen, PLACE_NOMEM, "out of memory");
    json_decref(root);
    if (st != PLACE_OK) {
        placement_free(pl);
        return st;
    }
    *out = pl;
    return PLACE_OK;
}
