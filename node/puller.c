/*
 * This file implements the puller thread (puller.h). One cycle:
 *
 *   1. connect to membership if not connected (register the member if its
 *      record is absent, live state "joining"); while it is unreachable,
 *      serve the saved view with the saved placement;
 *   2. read the active map, the tables, each batch table's versions, the
 *      placement and the members (this node's drain mark among them);
 *   3. if the map's generation differs from the view's: make sure every
 *      version it names is held, verified and mapped (pulling or
 *      re-populating the partitions this node owns; a version whose
 *      missing partitions do not fit in --batch-memory is refused, as a
 *      pull would be), then switch all tables at once; the node is
 *      "ready" while it serves the map's generation, "joining" otherwise
 *      (and behind for /health, puller_behind(), while it pulls for such
 *      a switch or cannot make it, until the view of the map's generation
 *      is published);
 *   4. reshape mapped versions whose owned partitions changed with the
 *      placement (pull the new ones, drop the ones no longer routed here);
 *   5. pull every staged version newer than its table's active one that
 *      fits in --batch-memory, or record a refusal saying why not;
 *   6. record readiness for what is mapped, apply retention, compute where
 *      clients go for partitions held elsewhere, publish the view, reclaim
 *      what no worker can use, report memory use.
 *
 * Between cycles it waits in membership_wait_change(), in slices so that
 * a stop or LARDER.DRAIN is noticed promptly, for at most
 * --watch-interval-ms (readiness and retention timers are not changes).
 *
 * Failed pulls and switches are retried with a growing delay (1 s to 30 s),
 * so a corrupt file in the store is not fetched ten times a second.
 */
#include "puller.h"

#include <errno.h>
#include <jansson.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <xxhash.h>

#include "batch.h"
#include "controller_duty.h"
#include "log.h"
#include "membership.h"
#include "ownership.h"
#include "placement.h"
#include "store.h"

enum {
    RETRY_FIRST_MS = 1000,
    RETRY_MAX_MS = 30000,
    CONNECT_RETRY_MS = 1000,
    WAIT_SLICE_MS = 100, /* longest single membership_wait_change() */
    READY_REFRESH_MS = 1000, /* re-read other nodes' readiness this often */
};

/* Memory of one (table, version) that failed or was refused. */
struct attempt {
    char table[MEMB_NAME_MAX];
    uint64_t version;
    int64_t retry_at_ms;
    unsigned failures;
    bool refused; /* a refusal is recorded in membership */
    bool seen;    /* still relevant in this cycle */
};

/* What one cycle read from membership. */
struct cluster {
    struct memb_active active;
    struct memb_table *tables;
    size_t ntables;
    struct memb_version **versions; /* per table; NULL for live tables */
    size_t *nversions;
    char *placement_json; /* NULL: none stored */
    struct memb_member *members;
    size_t nmembers;
};

/* One version's readiness records, as membership_ready_list() gave them. */
struct ready_cache {
    char table[MEMB_NAME_MAX];
    uint64_t version;
    int64_t fetched_ms;
    struct memb_ready *list; /* sorted by node; owned */
    size_t n;
    bool used; /* asked for in the current cycle */
};

struct puller {
    char *membership_uri;
    char *store_uri;
    char *node_id;
    char *addr;
    char *zone;
    uint32_t capacity;
    bool owns_record; /* local: the node keeps its member record current */
    uint64_t interval_ms;
    struct controller_duty *duty; /* the placement controller role */
    /* Readiness records of the versions held, re-read at most every
     * READY_REFRESH_MS (readiness changes are not watched). */
    struct ready_cache *ready;
    size_t nready;
    void (*on_fatal)(void *arg);
    void *fatal_arg;

    struct batch *b;
    struct store *store;
    struct membership *m; /* NULL while unreachable */
    bool answered; /* m answered this cycle's reads (false: unreachable) */

    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int stop; /* atomic; also read under lock for the wait */

    int64_t next_connect_ms;
    bool warned_unreachable;
    bool saved_loaded;
    bool saved_partial; /* the saved view is served without some tables */
    struct batch_saved_view saved;
    bool announced_ready;
    char live_state[MEMB_STATE_MAX]; /* last set in membership; "" none */
    /* Why the last switch failed ("" none), and to which generation. */
    char switch_why[PULLER_WHY_LEN];
    uint64_t switch_why_gen;
    /* What puller_behind() answers: set by the thread under lag_lock. */
    pthread_mutex_t lag_lock;
    bool behind;
    struct puller_lag lag;
    bool lagging; /* this cycle ends behind the active generation */
    int drain_requested; /* atomic: LARDER.DRAIN */
    int draining;        /* atomic: requested or marked */
    int drain_marked;    /* atomic: the operator's mark, as last read */
    int wake;            /* atomic: cut the wait short */
    struct placement *pl; /* the placement applied; NULL: none */
    char *pl_json;        /* its JSON as stored */
    struct batch_node *nodes; /* the members last seen, sorted by id */
    size_t nnodes;
    bool reported;
    uint64_t reported_used;
    char last_error[512];

    struct attempt *attempts;
    size_t nattempts;
    size_t attempts_cap;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool stopping(const struct puller *p)
{
    return __atomic_load_n(&p->stop, __ATOMIC_RELAXED) != 0;
}

/* Logs a problem once until a different one (or success) comes. */
__attribute__((format(printf, 2, 3)))
static void problem(struct puller *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (strcmp(msg, p->last_error) != 0) {
        log_warning("%s", msg);
        snprintf(p->last_error, sizeof(p->last_error), "%s", msg);
    }
}

/* ---- attempts ----------------------------------------------------------- */

static struct attempt *attempt_find(struct puller *p, const char *table,
                                    uint64_t version)
{
    for (size_t i = 0; i < p->nattempts; i++) {
        if (p->attempts[i].version == version &&
            strcmp(p->attempts[i].table, table) == 0) {
            p->attempts[i].seen = true;
            return &p->attempts[i];
        }
    }
    return NULL;
}

/* The attempt for table/version, created if needed (NULL if no memory). */
static struct attempt *attempt_get(struct puller *p, const char *table,
                                   uint64_t version)
{
    struct attempt *a = attempt_find(p, table, version);
    if (a != NULL) {
        return a;
    }
    if (p->nattempts == p->attempts_cap) {
        size_t cap = p->attempts_cap ? p->attempts_cap * 2 : 8;
        struct attempt *n = realloc(p->attempts, cap * sizeof(*n));
        if (n == NULL) {
            return NULL;
        }
        p->attempts = n;
        p->attempts_cap = cap;
    }
    a = &p->attempts[p->nattempts++];
    memset(a, 0, sizeof(*a));
    snprintf(a->table, sizeof(a->table), "%s", table);
    a->version = version;
    a->seen = true;
    return a;
}

/* True if table/version failed recently and must wait. */
static bool backing_off(struct puller *p, const char *table, uint64_t version,
                        int64_t now)
{
    struct attempt *a = attempt_find(p, table, version);
    return a != NULL && now < a->retry_at_ms;
}

static void attempt_failed(struct puller *p, const char *table,
                           uint64_t version, int64_t now)
{
    struct attempt *a = attempt_get(p, table, version);
    if (a != NULL) {
        int64_t delay = RETRY_FIRST_MS;
        for (unsigned i = 0; i < a->failures && delay < RETRY_MAX_MS; i++) {
            delay *= 2;
        }
        a->retry_at_ms = now + (delay < RETRY_MAX_MS ? delay : RETRY_MAX_MS);
        a->failures++;
    }
}

static void attempt_clear(struct puller *p, const char *table,
                          uint64_t version)
{
    struct attempt *a = attempt_find(p, table, version);
    if (a != NULL) {
        *a = p->attempts[--p->nattempts];
    }
}

/* Forgets attempts not seen since the last call. */
static void attempts_prune(struct puller *p)
{
    for (size_t i = 0; i < p->nattempts;) {
        if (!p->attempts[i].seen) {
            p->attempts[i] = p->attempts[--p->nattempts];
        } else {
            p->attempts[i].seen = false;
            i++;
        }
    }
}

/* ---- membership --------------------------------------------------------- */

static const char *memb_why(struct puller *p, enum memb_status st)
{
    return st == MEMB_ERR || st == MEMB_INVALID ? membership_error(p->m)
                                                : memb_status_name(st);
}

static void report_memory(struct puller *p)
{
    uint64_t used = batch_ram_bytes(p->b);
    if (p->m == NULL || !p->answered ||
        (p->reported && used == p->reported_used)) {
        return;
    }
    enum memb_status st = membership_member_memory(p->m, p->node_id,
                                                   batch_budget(p->b), used);
    if (st == MEMB_OK) {
        p->reported = true;
        p->reported_used = used;
    } else {
        problem(p, "membership: cannot record memory use: %s",
                memb_why(p, st));
    }
}

/*
 * Registers this node's persistent member record if it is absent. Under
 * local: the node is the only writer of its record and also brings it up
 * to date (address, zone, capacity); elsewhere (zk:) the operator's
 * `larder node add` is the source of truth and a differing record is only
 * reported.
 */
static enum memb_status register_member(struct puller *p, struct membership *m)
{
    struct memb_member *list = NULL;
    size_t n = 0;
    enum memb_status st = membership_member_list(m, &list, &n);
    if (st == MEMB_NOTFOUND) {
        st = MEMB_OK;
        n = 0;
    }
    if (st != MEMB_OK) {
        return st;
    }
    const struct memb_member *cur = NULL;
    for (size_t i = 0; i < n && cur == NULL; i++) {
        if (strcmp(list[i].id, p->node_id) == 0) {
            cur = &list[i];
        }
    }
    bool differs = cur != NULL &&
                   (strcmp(cur->addr, p->addr) != 0 ||
                    strcmp(cur->zone, p->zone) != 0 ||
                    (cur->capacity ? cur->capacity : PLACE_DEFAULT_CAPACITY) !=
                        p->capacity);
    if (cur == NULL || (differs && p->owns_record)) {
        struct memb_member mem;
        memset(&mem, 0, sizeof(mem));
        snprintf(mem.id, sizeof(mem.id), "%s", p->node_id);
        snprintf(mem.addr, sizeof(mem.addr), "%s", p->addr);
        snprintf(mem.zone, sizeof(mem.zone), "%s", p->zone);
        mem.capacity = p->capacity;
        mem.batch_memory = batch_budget(p->b);
        mem.batch_used = batch_ram_bytes(p->b);
        st = membership_member_put(m, &mem);
    } else if (differs) {
        log_warning("member record of '%s' says %s zone '%s' capacity %"
                    PRIu32 ", this node has %s zone '%s' capacity %" PRIu32
                    ": the record wins (change it with larder node add)",
                    p->node_id, cur->addr, cur->zone, cur->capacity,
                    p->addr, p->zone, p->capacity);
    }
    free(list);
    return st;
}

/* Opens membership and registers the member. */
static void connect_membership(struct puller *p, int64_t now)
{
    char err[512];
    struct membership *m = NULL;
    p->next_connect_ms = now + CONNECT_RETRY_MS;
    if (membership_open(p->membership_uri, &m, err, sizeof(err)) != MEMB_OK) {
        if (!p->warned_unreachable) {
            p->warned_unreachable = true;
            log_warning("membership %s is unreachable (%s): serving the last "
                        "saved view, degraded; retrying every %d s",
                        p->membership_uri, err, CONNECT_RETRY_MS / 1000);
        }
        batch_set_degraded(p->b, true);
        return;
    }
    p->m = m;
    const char *state = puller_draining(p) ? "draining" : "joining";
    enum memb_status st = register_member(p, m);
    if (st == MEMB_OK) {
        st = membership_live_set(m, p->node_id, state);
    }
    if (st != MEMB_OK) {
        log_warning("membership %s: cannot register member '%s': %s",
                    p->membership_uri, p->node_id, memb_why(p, st));
        membership_close(&p->m);
        batch_set_degraded(p->b, true);
        return;
    }
    if (p->warned_unreachable) {
        log_notice("membership %s is reachable again", p->membership_uri);
    }
    p->warned_unreachable = false;
    p->announced_ready = false;
    snprintf(p->live_state, sizeof(p->live_state), "%s", state);
    p->reported = false;
    log_notice("registered as member '%s' (%s, zone '%s', capacity %" PRIu32
               ") in %s, batch memory budget %" PRIu64 " bytes", p->node_id,
               p->addr, p->zone, p->capacity, p->membership_uri,
               batch_budget(p->b));
}

static void cluster_free(struct cluster *cs)
{
    membership_active_free(&cs->active);
    for (size_t i = 0; i < cs->ntables; i++) {
        if (cs->versions != NULL) {
            free(cs->versions[i]);
        }
    }
    free(cs->versions);
    free(cs->nversions);
    free(cs->tables);
    free(cs->placement_json);
    free(cs->members);
    memset(cs, 0, sizeof(*cs));
}

/* Reads the active map, the tables and the batch tables' versions. */
static int read_cluster(struct puller *p, struct cluster *cs)
{
    memset(cs, 0, sizeof(*cs));
    enum memb_status st = membership_active_get(p->m, &cs->active);
    if (st != MEMB_OK) {
        problem(p, "membership: cannot read the active map: %s",
                memb_why(p, st));
        return -1;
    }
    st = membership_table_list(p->m, &cs->tables, &cs->ntables);
    if (st != MEMB_OK) {
        problem(p, "membership: cannot list tables: %s", memb_why(p, st));
        cluster_free(cs);
        return -1;
    }
    size_t n = cs->ntables ? cs->ntables : 1;
    cs->versions = calloc(n, sizeof(*cs->versions));
    cs->nversions = calloc(n, sizeof(*cs->nversions));
    if (cs->versions == NULL || cs->nversions == NULL) {
        cluster_free(cs);
        return -1;
    }
    for (size_t i = 0; i < cs->ntables; i++) {
        if (cs->tables[i].kind != MEMB_TABLE_BATCH) {
            continue;
        }
        st = membership_version_list(p->m, cs->tables[i].name,
                                     &cs->versions[i], &cs->nversions[i]);
        if (st == MEMB_NOTFOUND) {
            cs->versions[i] = NULL;
            cs->nversions[i] = 0;
        } else if (st != MEMB_OK) {
            problem(p, "membership: cannot list versions of '%s': %s",
                    cs->tables[i].name, memb_why(p, st));
            cluster_free(cs);
            return -1;
        }
    }
    uint64_t cas = 0;
    st = membership_placement_get(p->m, &cs->placement_json, &cas);
    if (st != MEMB_OK && st != MEMB_NOTFOUND) {
        problem(p, "membership: cannot read the placement: %s",
                memb_why(p, st));
        cluster_free(cs);
        return -1;
    }
    st = membership_member_list(p->m, &cs->members, &cs->nmembers);
    if (st != MEMB_OK && st != MEMB_NOTFOUND) {
        problem(p, "membership: cannot list members: %s", memb_why(p, st));
        cluster_free(cs);
        return -1;
    }
    return 0;
}

/* The version record of table/version from this cycle's lists, else read
 * from membership into *scratch; NULL if there is none. */
static const struct memb_version *find_record(struct puller *p,
                                              const struct cluster *cs,
                                              const char *table,
                                              uint64_t version,
                                              struct memb_version *scratch)
{
    for (size_t i = 0; i < cs->ntables; i++) {
        if (strcmp(cs->tables[i].name, table) != 0) {
            continue;
        }
        for (size_t k = 0; k < cs->nversions[i]; k++) {
            if (cs->versions[i][k].version == version) {
                return &cs->versions[i][k];
            }
        }
        return NULL;
    }
    if (membership_version_get(p->m, table, version, scratch) == MEMB_OK) {
        return scratch;
    }
    return NULL;
}

/* The version the active map names for table, or 0. */
static uint64_t active_version(const struct cluster *cs, const char *table)
{
    for (size_t i = 0; i < cs->active.n; i++) {
        if (strcmp(cs->active.entries[i].table, table) == 0) {
            return cs->active.entries[i].version;
        }
    }
    return 0;
}

/* The freshness bound of table's config (0: none or no config). */
static uint64_t table_max_age(const struct cluster *cs, const char *table)
{
    for (size_t i = 0; i < cs->ntables; i++) {
        if (strcmp(cs->tables[i].name, table) == 0) {
            return cs->tables[i].max_age_s;
        }
    }
    return 0;
}

/* ---- placement and members --------------------------------------------- */

/*
 * Makes json (NULL: none stored) the placement applied. A document that
 * does not parse is reported and the previous placement kept: a node must
 * not start pulling every partition because of a damaged record.
 */
static void apply_placement(struct puller *p, const char *json)
{
    if ((json == NULL && p->pl_json == NULL) ||
        (json != NULL && p->pl_json != NULL && strcmp(json, p->pl_json) == 0)) {
        return;
    }
    struct placement *pl = NULL;
    char *copy = NULL;
    if (json != NULL) {
        char err[256];
        enum place_status st = placement_from_json(json, strlen(json), &pl,
                                                   err, sizeof(err));
        if (st != PLACE_OK) {
            problem(p, "ignoring the stored placement: %s", err);
            return;
        }
        if ((copy = strdup(json)) == NULL) {
            placement_destroy(&pl);
            return;
        }
    }
    placement_destroy(&p->pl);
    free(p->pl_json);
    p->pl = pl;
    p->pl_json = copy;
    if (pl != NULL) {
        log_notice("applying placement generation %" PRIu64,
                   placement_generation(pl));
    } else {
        log_notice("no placement stored: holding every partition");
    }
}

/* Remembers the member list (as LARDER.VIEW shows it). */
static void apply_members(struct puller *p, const struct memb_member *ms,
                          size_t n)
{
    struct batch_node *nodes = calloc(n ? n : 1, sizeof(*nodes));
    if (nodes == NULL) {
        return;
    }
    bool marked = false;
    for (size_t i = 0; i < n; i++) {
        struct batch_node *bn = &nodes[i];
        snprintf(bn->id, sizeof(bn->id), "%s", ms[i].id);
        snprintf(bn->addr, sizeof(bn->addr), "%s", ms[i].addr);
        snprintf(bn->zone, sizeof(bn->zone), "%s", ms[i].zone);
        bn->capacity = ms[i].capacity ? ms[i].capacity
                                      : PLACE_DEFAULT_CAPACITY;
        bn->live = ms[i].live != 0;
        bn->draining = ms[i].draining != 0;
        snprintf(bn->state, sizeof(bn->state), "%s", ms[i].state);
        if (strcmp(ms[i].id, p->node_id) == 0) {
            marked = ms[i].draining != 0;
        }
    }
    free(p->nodes);
    p->nodes = nodes;
    p->nnodes = n;
    if (marked != (__atomic_load_n(&p->drain_marked, __ATOMIC_RELAXED) != 0)) {
        log_notice("membership %s this node's drain mark", marked ? "sets"
                                                                   : "clears");
        __atomic_store_n(&p->drain_marked, marked ? 1 : 0, __ATOMIC_RELAXED);
    }
}

/* The partitions of h this node owns: a malloc'd bitmap, or NULL for all
 * (no placement decides, or out of memory). */
static uint64_t *owned_parts(struct puller *p, const char *table,
                             uint32_t np)
{
    uint64_t *bits = calloc(own_words(np) ? own_words(np) : 1, sizeof(*bits));
    if (bits != NULL && !own_partitions(p->pl, table, np, p->node_id, bits)) {
        free(bits);
        bits = NULL;
    }
    return bits;
}

/* own_ready_fn over one version's readiness records (membership). */
struct ready_records {
    const struct memb_ready *list; /* sorted by node */
    size_t n;
};

static int ready_node_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct memb_ready *)elem)->node);
}

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static bool record_ready(void *arg, const char *node, uint32_t partition)
{
    const struct ready_records *r = arg;
    const struct memb_ready *rec =
        r->n == 0 ? NULL
                  : bsearch(node, r->list, r->n, sizeof(*r->list),
                            ready_node_cmp);
    return rec != NULL && rec->n > 0 &&
           bsearch(&partition, rec->partitions, rec->n,
                   sizeof(*rec->partitions), u32_cmp) != NULL;
}

/*
 * The readiness records of table/version: from the cache when read less
 * than READY_REFRESH_MS ago, else from membership. NULL when membership
 * cannot say (unreachable, an error).
 */
static const struct ready_cache *ready_records(struct puller *p,
                                               const char *table,
                                               uint64_t version, int64_t now)
{
    struct ready_cache *c = NULL;
    for (size_t i = 0; i < p->nready && c == NULL; i++) {
        if (p->ready[i].version == version &&
            strcmp(p->ready[i].table, table) == 0) {
            c = &p->ready[i];
        }
    }
    if (c != NULL && now - c->fetched_ms < READY_REFRESH_MS) {
        c->used = true;
        return c;
    }
    if (p->m == NULL || !p->answered) {
        return NULL; /* do not wait for a membership that does not answer */
    }
    struct memb_ready *list = NULL;
    size_t n = 0;
    if (membership_ready_list(p->m, table, version, &list, &n) != MEMB_OK) {
        return NULL;
    }
    if (c == NULL) {
        struct ready_cache *grown =
            realloc(p->ready, (p->nready + 1) * sizeof(*grown));
        if (grown == NULL) {
            membership_ready_free(list, n);
            return NULL;
        }
        p->ready = grown;
        c = &p->ready[p->nready++];
        memset(c, 0, sizeof(*c));
        snprintf(c->table, sizeof(c->table), "%s", table);
        c->version = version;
    } else {
        membership_ready_free(c->list, c->n);
    }
    c->list = list;
    c->n = n;
    c->fetched_ms = now;
    c->used = true;
    return c;
}

/* Forgets the cached records of versions no longer held. */
static void ready_cache_prune(struct puller *p)
{
    size_t k = 0;
    for (size_t i = 0; i < p->nready; i++) {
        if (p->ready[i].used) {
            p->ready[i].used = false;
            p->ready[k++] = p->ready[i];
        } else {
            membership_ready_free(p->ready[i].list, p->ready[i].n);
        }
    }
    p->nready = k;
}

/* Adds one version's records to ready: {table: {"<version>": {node:
 * [partitions]}}}. */
static void add_ready_json(json_t *ready, const char *table, uint64_t version,
                           const struct memb_ready *list, size_t n)
{
    json_t *t = json_object_get(ready, table);
    if (t == NULL) {
        t = json_object();
        json_object_set_new(ready, table, t);
    }
    json_t *who = json_object();
    for (size_t i = 0; i < n; i++) {
        json_t *parts = json_array();
        for (size_t k = 0; k < list[i].n; k++) {
            json_array_append_new(parts, json_integer(list[i].partitions[k]));
        }
        json_object_set_new(who, list[i].node, parts);
    }
    char ver[24];
    snprintf(ver, sizeof(ver), "%llu", (unsigned long long)version);
    json_object_set_new(t, ver, who);
}

/* Gives every mapped version where clients go for what it does not hold
 * (preferring nodes that recorded the partition ready for that version),
 * and the batch what the view says about the cluster, every node's
 * readiness included while membership answers. */
static void update_routes(struct puller *p, int64_t now)
{
    struct own_member *om = calloc(p->nnodes ? p->nnodes : 1, sizeof(*om));
    if (om == NULL) {
        return;
    }
    for (size_t i = 0; i < p->nnodes; i++) {
        om[i] = (struct own_member){.id = p->nodes[i].id,
                                    .addr = p->nodes[i].addr,
                                    .live = p->nodes[i].live,
                                    .draining = p->nodes[i].draining};
    }
    json_t *ready = p->m != NULL && p->answered ? json_object() : NULL;
    for (size_t i = 0; i < batch_held_count(p->b); i++) {
        struct batch_held *h = batch_held_at(p->b, i);
        uint32_t np = h->manifest.partitions;
        const struct ready_cache *rc = NULL;
        if (h->segs != NULL && p->m != NULL && p->answered) {
            rc = ready_records(p, h->table, h->version, now);
            if (rc != NULL && ready != NULL) {
                add_ready_json(ready, h->table, h->version, rc->list, rc->n);
            } else {
                json_decref(ready); /* a partial picture is no picture */
                ready = NULL;
            }
        }
        if (h->segs == NULL || h->held == np) {
            batch_held_set_route(p->b, h, NULL);
            continue;
        }
        struct ready_records rr = {.list = rc != NULL ? rc->list : NULL,
                                   .n = rc != NULL ? rc->n : 0};
        uint32_t *route = malloc(np * sizeof(*route));
        uint64_t *held = calloc(own_words(np), sizeof(*held));
        if (route != NULL && held != NULL) {
            for (uint32_t k = 0; k < np; k++) {
                if (h->segs[k] != NULL) {
                    own_set(held, k);
                }
            }
            if (own_routes(p->pl, h->table, np, p->node_id, held, om,
                           p->nnodes, rc != NULL ? record_ready : NULL, &rr,
                           route) == 0) {
                batch_held_set_route(p->b, h, route);
            }
        }
        free(route);
        free(held);
    }
    free(om);
    ready_cache_prune(p);
    char *ready_json =
        ready != NULL ? json_dumps(ready, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(ready);
    batch_set_ready(p->b, ready_json);
    free(ready_json);
    batch_set_cluster(p->b, p->node_id, p->pl_json,
                      p->pl != NULL ? placement_generation(p->pl) : 0,
                      p->nodes, p->nnodes);
}

/* ---- fetching ------------------------------------------------------------ */

/* The store key of a version's manifest: its URI with the store's prefix
 * removed, or the conventional key if the URI names another spelling. */
static void manifest_store_key(struct puller *p, const char *table,
                               uint64_t version, const char *uri, char *key,
                               size_t keylen)
{
    char probe[MEMB_URI_MAX + 8];
    store_uri(p->store, "x", probe, sizeof(probe));
    size_t plen = strlen(probe);
    if (plen > 0 && probe[plen - 1] == 'x' &&
        strncmp(uri, probe, plen - 1) == 0 && uri[plen - 1] != '\0') {
        snprintf(key, keylen, "%s", uri + plen - 1);
    } else {
        manifest_key(key, keylen, table, version);
    }
}

static int fetch_part(void *arg, const struct batch_held *h, uint32_t part,
                      const char *path, char *err, size_t errlen)
{
    struct puller *p = arg;
    if (stopping(p)) {
        snprintf(err, errlen, "the node is shutting down");
        return -1;
    }
    const struct manifest_file *f = &h->manifest.files[part];
    return store_get_file(p->store, f->key, path, f->checksum, err, errlen);
}

/*
 * The held version table/version, fetching and verifying its manifest if
 * the node does not have it (or has a copy that differs from the record).
 */
static struct batch_held *ensure_held(struct puller *p, const char *table,
                                      uint64_t version,
                                      const struct memb_version *rec,
                                      char *err, size_t errlen)
{
    struct batch_held *h = batch_held_find(p->b, table, version);
    if (h != NULL && rec != NULL && rec->manifest_checksum != 0 &&
        h->manifest_checksum != rec->manifest_checksum && h->segs == NULL &&
        h->state != BATCH_ACTIVE) {
        log_notice("local manifest of %s version %" PRIu64 " differs from "
                   "the published one: fetching it again", table, version);
        batch_held_drop(p->b, h);
        h = NULL;
    }
    if (h != NULL) {
        return h;
    }
    if (rec == NULL) {
        snprintf(err, errlen, "membership has no record of it");
        return NULL;
    }
    char key[MEMB_URI_MAX];
    manifest_store_key(p, table, version, rec->manifest_uri, key, sizeof(key));
    char *data = NULL;
    size_t len = 0;
    char why[400];
    if (store_get_bytes(p->store, key, &data, &len, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "cannot fetch its manifest %.200s: %s", key, why);
        return NULL;
    }
    uint64_t sum = XXH3_64bits(data, len);
    if (rec->manifest_checksum != 0 && sum != rec->manifest_checksum) {
        snprintf(err, errlen, "manifest %.200s does not match its checksum "
                 "(expected %016" PRIx64 ", got %016" PRIx64 ")",
                 key, rec->manifest_checksum, sum);
        free(data);
        return NULL;
    }
    h = batch_held_add(p->b, table, version, data, len, err, errlen);
    free(data);
    return h;
}

/* Records exactly the partitions of h this node holds (again after each
 * change of them). The workers' view (with routes for what is no longer
 * held) is published first: a partition is advertised only once requests
 * can read it, since the controller lets the old replicas drop it as soon
 * as it sees the record. */
static void mark_ready(struct puller *p, struct batch_held *h)
{
    if (p->m == NULL || h->ready_marked || h->segs == NULL) {
        return;
    }
    update_routes(p, wall_ms());
    batch_commit(p->b);
    uint32_t n = h->manifest.partitions;
    uint32_t *parts = malloc((n ? n : 1) * sizeof(*parts));
    if (parts == NULL) {
        return;
    }
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (h->segs[i] != NULL) {
            parts[k++] = i;
        }
    }
    enum memb_status st = membership_ready_set(p->m, h->table, h->version,
                                               p->node_id, parts, k);
    free(parts);
    if (st == MEMB_OK) {
        h->ready_marked = true;
    } else {
        problem(p, "membership: cannot record readiness of %s version %"
                PRIu64 ": %s", h->table, h->version, memb_why(p, st));
    }
}

/* Maps h (fetching what is missing), checking for the fatal mlock case. */
static int map_version(struct puller *p, struct batch_held *h, char *err,
                       size_t errlen)
{
    uint64_t *want = owned_parts(p, h->table, h->manifest.partitions);
    int rc = batch_held_map_parts(p->b, h, want,
                                  p->m != NULL ? fetch_part : NULL, p, err,
                                  errlen);
    free(want);
    if (rc != 0 && batch_failed(p->b)) {
        log_warning("fatal: %s", err);
        __atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
        if (p->on_fatal != NULL) {
            p->on_fatal(p->fatal_arg);
        }
    }
    return rc;
}

/* ---- switching ------------------------------------------------------------ */

static void refuse_version(struct puller *p, const char *table,
                           uint64_t version, const char *reason, int64_t now);

/*
 * True if mapping what this node owns of h fits in --batch-memory; else
 * refuses the version (reason in err) so that activating a version a node
 * cannot hold never makes it spend memory it does not have.
 */
static bool switch_fits(struct puller *p, struct batch_held *h, int64_t now,
                        char *err, size_t errlen)
{
    uint64_t *want = owned_parts(p, h->table, h->manifest.partitions);
    uint64_t more = batch_held_missing_bytes(h, want);
    free(want);
    char reason[MEMB_FIELD_MAX];
    if (more == 0 || batch_budget_fits(batch_budget(p->b),
                                       batch_ram_bytes(p->b), more, reason,
                                       sizeof(reason))) {
        return true;
    }
    refuse_version(p, h->table, h->version, reason, now);
    snprintf(err, errlen, "%s", reason);
    return false;
}

static void log_switch(const struct memb_active *a)
{
    char list[1024];
    size_t off = 0;
    list[0] = '\0';
    for (size_t i = 0; i < a->n && off < sizeof(list); i++) {
        int w = snprintf(list + off, sizeof(list) - off, "%s%s=%" PRIu64,
                         i ? " " : "", a->entries[i].table,
                         a->entries[i].version);
        off += w > 0 ? (size_t)w : 0;
    }
    log_notice("switched to generation %" PRIu64 ": %s", a->generation,
               a->n ? list : "(no tables)");
}

/*
 * Makes every version of the active map held and mapped, then switches
 * all tables at once. On any failure nothing switches (the node keeps
 * serving its current view) and the failure is retried later.
 */
static void try_switch(struct puller *p, const struct cluster *cs, int64_t now)
{
    size_t n = cs->active.n;
    struct batch_held **hs = calloc(n ? n : 1, sizeof(*hs));
    if (hs == NULL) {
        return;
    }
    char err[768] = "";
    const struct memb_active_entry *bad = NULL;
    bool refused = false;
    for (size_t i = 0; i < n && bad == NULL; i++) {
        const struct memb_active_entry *e = &cs->active.entries[i];
        struct memb_version scratch;
        if (backing_off(p, e->table, e->version, now) || stopping(p)) {
            free(hs);
            return;
        }
        const struct memb_version *rec =
            find_record(p, cs, e->table, e->version, &scratch);
        hs[i] = batch_valid_table_name(e->table)
                    ? ensure_held(p, e->table, e->version, rec, err,
                                  sizeof(err))
                    : NULL;
        if (hs[i] == NULL && err[0] == '\0') {
            snprintf(err, sizeof(err), "bad table name");
        }
        if (hs[i] != NULL && !switch_fits(p, hs[i], now, err, sizeof(err))) {
            refused = true;
            bad = e;
        } else if (hs[i] == NULL ||
                   map_version(p, hs[i], err, sizeof(err)) != 0) {
            bad = e;
        }
    }
    if (bad != NULL) {
        p->switch_why_gen = cs->active.generation;
        /* A table name, a version and the first 128 bytes of err fit. */
        snprintf(p->switch_why, sizeof(p->switch_why), "%s version %" PRIu64
                 "%s: %.128s", bad->table, bad->version,
                 refused ? " does not fit" : "", err);
    }
    if (bad != NULL && refused) {
        uint64_t cur = 0;
        problem(p, "cannot switch to generation %" PRIu64 ": %s version %"
                PRIu64 " does not fit: %s; %s", cs->active.generation,
                bad->table, bad->version, err,
                batch_generation(p->b, &cur)
                    ? "still serving the previous generation"
                    : "not ready yet");
        free(hs);
        return;
    }
    if (bad != NULL) {
        uint64_t cur = 0;
        bool has = batch_generation(p->b, &cur);
        log_warning("cannot switch to generation %" PRIu64 ": %s version %"
                    PRIu64 ": %s; %s", cs->active.generation, bad->table,
                    bad->version, err,
                    has ? "still serving the previous generation"
                        : "not ready yet");
        attempt_failed(p, bad->table, bad->version, now);
        BATCH_STAT_ADD(p->b, batch_pull_failures_total, 1);
        free(hs);
        return;
    }
    batch_switch(p->b, cs->active.generation, hs, n, now);
    p->saved_partial = false;
    p->switch_why[0] = '\0';
    BATCH_STAT_ADD(p->b, batch_switches_total, 1);
    log_switch(&cs->active);
    for (size_t i = 0; i < n; i++) {
        attempt_clear(p, hs[i]->table, hs[i]->version);
    }
    free(hs);
}

/*
 * True if switching to cs's active map has something to pull or map first,
 * which may take long; false if every version is mapped with the
 * partitions this node owns (the usual case: pulled while staged).
 */
static bool switch_needs_pull(struct puller *p, const struct cluster *cs)
{
    for (size_t i = 0; i < cs->active.n; i++) {
        const struct memb_active_entry *e = &cs->active.entries[i];
        struct batch_held *h = batch_held_find(p->b, e->table, e->version);
        if (h == NULL || h->segs == NULL) {
            return true;
        }
        uint64_t *want = owned_parts(p, h->table, h->manifest.partitions);
        uint64_t more = batch_held_missing_bytes(h, want);
        free(want);
        if (more > 0) {
            return true;
        }
    }
    return false;
}

/* Serves the saved view from local files (membership unreachable). */
static void serve_saved(struct puller *p, int64_t now)
{
    const struct batch_saved_view *s = &p->saved;
    struct batch_held **hs = calloc(s->n ? s->n : 1, sizeof(*hs));
    if (hs == NULL) {
        return;
    }
    /* Exactly the partitions the last placement gave this node. */
    apply_placement(p, s->placement_json);
    if (p->nodes == NULL && s->nnodes > 0 &&
        (p->nodes = calloc(s->nnodes, sizeof(*p->nodes))) != NULL) {
        memcpy(p->nodes, s->nodes, s->nnodes * sizeof(*p->nodes));
        p->nnodes = s->nnodes;
    }
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        const struct batch_saved_version *sv = &s->versions[i];
        if (!sv->active) {
            continue;
        }
        char err[768];
        struct batch_held *h = batch_held_find(p->b, sv->table, sv->version);
        if (h == NULL) {
            log_warning("cannot serve %s version %" PRIu64 " (degraded): it "
                        "is not on local disk", sv->table, sv->version);
        } else if (map_version(p, h, err, sizeof(err)) != 0) {
            log_warning("cannot serve %s version %" PRIu64 " (degraded): %s",
                        sv->table, sv->version, err);
        } else {
            hs[n++] = h;
        }
    }
    size_t nactive = 0;
    for (size_t i = 0; i < s->n; i++) {
        nactive += s->versions[i].active;
    }
    p->saved_partial = n < nactive;
    batch_switch(p->b, s->generation, hs, n, now);
    log_notice("serving generation %" PRIu64 " from the saved view with %zu "
               "of its %zu tables (degraded)", s->generation, n, nactive);
    free(hs);
}

/* ---- pulling ---------------------------------------------------------------- */

static void pull_failed(struct puller *p, const char *table, uint64_t version,
                        const char *why, int64_t now)
{
    log_warning("cannot pull %s version %" PRIu64 ": %s", table, version, why);
    BATCH_STAT_ADD(p->b, batch_pull_failures_total, 1);
    attempt_failed(p, table, version, now);
    struct attempt *a = attempt_find(p, table, version);
    if (a != NULL && !a->refused && p->m != NULL) {
        char reason[MEMB_FIELD_MAX];
        snprintf(reason, sizeof(reason), "pull failed: %s", why);
        if (membership_refusal_set(p->m, table, version, p->node_id, reason) ==
            MEMB_OK) {
            a->refused = true;
        }
    }
}

/*
 * Records (once) that table/version does not fit in --batch-memory, so a
 * waiting loader fails at once, and retries it later: memory may free up.
 */
static void refuse_version(struct puller *p, const char *table,
                           uint64_t version, const char *reason, int64_t now)
{
    struct attempt *a = attempt_get(p, table, version);
    if (a != NULL && !a->refused) {
        if (p->m != NULL && membership_refusal_set(p->m, table, version,
                                                   p->node_id,
                                                   reason) == MEMB_OK) {
            a->refused = true;
        }
        log_warning("refusing to pull %s version %" PRIu64 ": %s", table,
                    version, reason);
        BATCH_STAT_ADD(p->b, batch_refusals_total, 1);
    }
    if (a != NULL) {
        a->retry_at_ms = now + RETRY_FIRST_MS;
    }
}

/* Pulls one staged version if it fits; refuses it if it does not. */
static void pull_version(struct puller *p, const char *table, const struct memb_version *rec,
                         int64_t now)
{
    struct batch_held *h = batch_held_find(p->b, table, rec->version);
    struct attempt *a = attempt_find(p, table, rec->version);
    if ((h != NULL && h->segs != NULL) || (a != NULL && now < a->retry_at_ms)) {
        return;
    }
    char err[768] = "";
    uint64_t need = rec->bytes;
    uint64_t *want = owned_parts(p, table, rec->partitions);
    bool partial = want != NULL;
    free(want);
    if (need == 0 || partial) {
        /* What this node will hold is known from the manifest. */
        h = ensure_held(p, table, rec->version, rec, err, sizeof(err));
        if (h == NULL) {
            pull_failed(p, table, rec->version, err, now);
            return;
        }
        want = owned_parts(p, table, h->manifest.partitions);
        need = batch_held_missing_bytes(h, want);
        free(want);
    }
    char reason[MEMB_FIELD_MAX];
    if (!batch_budget_fits(batch_budget(p->b), batch_ram_bytes(p->b), need,
                           reason, sizeof(reason))) {
        refuse_version(p, table, rec->version, reason, now);
        return;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (h == NULL) {
        h = ensure_held(p, table, rec->version, rec, err, sizeof(err));
    }
    if (h == NULL) {
        pull_failed(p, table, rec->version, err, now);
        return;
    }
    int mapped = map_version(p, h, err, sizeof(err));
    store_release_copy_buffer(); /* the pull is over: see store.h */
    if (mapped != 0) {
        if (h->state != BATCH_ACTIVE && h->last_active_ms == 0) {
            batch_held_drop(p->b, h);
        }
        pull_failed(p, table, rec->version, err, now);
        return;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    batch_held_set_state(p->b, h, BATCH_INCOMING);
    attempt_clear(p, table, rec->version);
    log_notice("pulled %s version %" PRIu64 ": %" PRIu32 " of %" PRIu32
               " partitions, %" PRIu64 " rows, %" PRIu64 " bytes in %lld ms",
               table, rec->version, h->held, h->manifest.partitions,
               h->held_rows, h->held_bytes,
               (long long)((t1.tv_sec - t0.tv_sec) * 1000 +
                           (t1.tv_nsec - t0.tv_nsec) / 1000000));
    mark_ready(p, h);
}

/* Pulls every staged version newer than its table's active one. */
static void pull_staged(struct puller *p, const struct cluster *cs,
                        int64_t now)
{
    for (size_t i = 0; i < cs->ntables && !stopping(p); i++) {
        const char *table = cs->tables[i].name;
        if (cs->tables[i].kind != MEMB_TABLE_BATCH ||
            !batch_valid_table_name(table)) {
            continue;
        }
        uint64_t av = active_version(cs, table);
        for (size_t k = 0; k < cs->nversions[i] && !stopping(p); k++) {
            const struct memb_version *rec = &cs->versions[i][k];
            if (rec->state == MEMB_V_STAGED && rec->version > av) {
                pull_version(p, table, rec, now);
            }
        }
    }
}

/*
 * Decides which never-active held versions are still wanted: named by the
 * active map, or staged and newer than the active version. Records
 * readiness for the mapped ones that membership still considers usable,
 * and gives every held version its table's freshness bound (for /health).
 */
static void mark_wanted(struct puller *p, const struct cluster *cs)
{
    for (size_t i = 0; i < batch_held_count(p->b); i++) {
        struct batch_held *h = batch_held_at(p->b, i);
        struct memb_version scratch;
        const struct memb_version *rec =
            find_record(p, cs, h->table, h->version, &scratch);
        uint64_t av = active_version(cs, h->table);
        bool usable = rec != NULL && (rec->state == MEMB_V_STAGED ||
                                      rec->state == MEMB_V_ACTIVE);
        h->wanted = av == h->version ||
                    (rec != NULL && rec->state == MEMB_V_STAGED &&
                     h->version > av);
        if (usable) {
            mark_ready(p, h);
        }
        batch_held_set_max_age(p->b, h, table_max_age(cs, h->table));
    }
}

/* ---- retention ---------------------------------------------------------- */

static void clear_ready(struct puller *p, const struct batch_held *h)
{
    static const uint32_t none[1] = {0};
    if (p->m != NULL) {
        membership_ready_set(p->m, h->table, h->version, p->node_id, none, 0);
    }
}

/* Applies the retention plan to the held versions of one table. */
static void retain_table(struct puller *p, const char *table, int64_t now,
                         const struct batch_policy *pol)
{
    size_t n = 0, total = batch_held_count(p->b);
    struct batch_held **hs = malloc((total ? total : 1) * sizeof(*hs));
    struct batch_candidate *c = malloc((total ? total : 1) * sizeof(*c));
    enum batch_fate *fate = malloc((total ? total : 1) * sizeof(*fate));
    if (hs == NULL || c == NULL || fate == NULL) {
        free(hs);
        free(c);
        free(fate);
        return;
    }
    bool connected = p->m != NULL && p->answered;
    for (size_t i = 0; i < total; i++) {
        struct batch_held *h = batch_held_at(p->b, i);
        if (strcmp(h->table, table) == 0) {
            hs[n] = h;
            c[n] = (struct batch_candidate){
                .version = h->version,
                .last_active_ms = h->last_active_ms,
                .active = h->state == BATCH_ACTIVE,
                .wanted = connected ? h->wanted : true,
            };
            n++;
        }
    }
    batch_plan_retention(pol, now, c, n, fate);
    for (size_t i = 0; i < n; i++) {
        struct batch_held *h = hs[i];
        char err[768];
        switch (fate[i]) {
        case BATCH_ACTIVE:
            break;
        case BATCH_INCOMING:
            if (h->segs != NULL) {
                batch_held_set_state(p->b, h, BATCH_INCOMING);
            }
            break;
        case BATCH_HOT:
            if (h->segs == NULL && !backing_off(p, h->table, h->version, now)) {
                if (map_version(p, h, err, sizeof(err)) != 0) {
                    log_warning("cannot keep %s version %" PRIu64 " hot: %s",
                                h->table, h->version, err);
                    attempt_failed(p, h->table, h->version, now);
                }
            }
            batch_held_set_state(p->b, h, h->segs ? BATCH_HOT : BATCH_COLD);
            break;
        case BATCH_GRACE:
            batch_held_set_state(p->b, h, h->segs ? BATCH_GRACE : BATCH_COLD);
            break;
        case BATCH_COLD:
            if (h->segs != NULL) {
                log_notice("unmapping %s version %" PRIu64 " (kept on disk)",
                           h->table, h->version);
                batch_held_unmap(p->b, h);
            }
            batch_held_set_state(p->b, h, BATCH_COLD);
            break;
        case BATCH_DROP:
            if (connected) {
                log_notice("deleting %s version %" PRIu64 " from local disk",
                           h->table, h->version);
                clear_ready(p, h);
                batch_held_drop(p->b, h);
            } else {
                batch_held_unmap(p->b, h);
                batch_held_set_state(p->b, h, BATCH_COLD);
            }
            break;
        }
    }
    free(hs);
    free(c);
    free(fate);
}

static void apply_retention(struct puller *p, int64_t now)
{
    const struct batch_policy *pol = batch_policy_of(p->b);
    /* Tables first: dropping versions reorders the catalog. */
    size_t total = batch_held_count(p->b);
    char (*names)[BATCH_NAME_MAX] = malloc((total ? total : 1) *
                                           sizeof(*names));
    if (names == NULL) {
        return;
    }
    size_t nnames = 0;
    for (size_t i = 0; i < total; i++) {
        const char *t = batch_held_at(p->b, i)->table;
        bool seen = false;
        for (size_t k = 0; k < nnames && !seen; k++) {
            seen = strcmp(names[k], t) == 0;
        }
        if (!seen) {
            snprintf(names[nnames++], BATCH_NAME_MAX, "%s", t);
        }
    }
    for (size_t k = 0; k < nnames; k++) {
        retain_table(p, names[k], now, pol);
    }
    free(names);
}

/* ---- the thread -------------------------------------------------------------- */

/*
 * Gives mapped versions the partitions the placement now routes here:
 * pulls the ones gained (when they fit in --batch-memory) and drops the
 * ones no longer routed here.
 */
static void reshape_held(struct puller *p, int64_t now)
{
    for (size_t i = 0; i < batch_held_count(p->b) && !stopping(p); i++) {
        struct batch_held *h = batch_held_at(p->b, i);
        if (h->segs == NULL || backing_off(p, h->table, h->version, now)) {
            continue;
        }
        uint64_t *want = owned_parts(p, h->table, h->manifest.partitions);
        if (batch_held_matches(h, want)) {
            free(want);
            continue;
        }
        char reason[MEMB_FIELD_MAX], err[768];
        uint64_t more = batch_held_missing_bytes(h, want);
        free(want);
        if (!batch_budget_fits(batch_budget(p->b), batch_ram_bytes(p->b),
                               more, reason, sizeof(reason))) {
            problem(p, "cannot take the partitions the placement gives this "
                    "node of %s version %" PRIu64 ": %s", h->table,
                    h->version, reason);
            attempt_failed(p, h->table, h->version, now);
            continue;
        }
        uint32_t before = h->held;
        if (map_version(p, h, err, sizeof(err)) != 0) {
            log_warning("cannot take the partitions the placement gives this "
                        "node of %s version %" PRIu64 ": %s", h->table,
                        h->version, err);
            BATCH_STAT_ADD(p->b, batch_pull_failures_total, 1);
            attempt_failed(p, h->table, h->version, now);
            continue;
        }
        log_notice("%s version %" PRIu64 ": now holding %" PRIu32 " of %"
                   PRIu32 " partitions (was %" PRIu32 ")", h->table,
                   h->version, h->held, h->manifest.partitions, before);
        mark_ready(p, h);
    }
}

/* Publishes the live state: draining, else ready once serving the
 * cluster's generation, else joining. */
static void update_live_state(struct puller *p, bool ready)
{
    bool draining = __atomic_load_n(&p->drain_requested, __ATOMIC_RELAXED) ||
                    __atomic_load_n(&p->drain_marked, __ATOMIC_RELAXED);
    __atomic_store_n(&p->draining, draining ? 1 : 0, __ATOMIC_RELAXED);
    if (p->m == NULL) {
        return;
    }
    const char *want = draining ? "draining" : ready ? "ready" : "joining";
    if (strcmp(want, p->live_state) == 0) {
        return;
    }
    enum memb_status st = membership_live_set(p->m, p->node_id, want);
    if (st != MEMB_OK) {
        problem(p, "membership: cannot set live state: %s", memb_why(p, st));
        return;
    }
    log_notice("live state %s", want);
    snprintf(p->live_state, sizeof(p->live_state), "%s", want);
}

/*
 * Publishes for puller_behind() whether the node serves a view of another
 * generation than gen, the cluster's active one (with the reason its last
 * switch to gen failed, if one did).
 */
static void set_behind(struct puller *p, bool behind, uint64_t gen)
{
    pthread_mutex_lock(&p->lag_lock);
    p->behind = behind;
    p->lag.generation = behind ? gen : 0;
    snprintf(p->lag.why, sizeof(p->lag.why), "%s",
             behind && p->switch_why_gen == gen ? p->switch_why : "");
    pthread_mutex_unlock(&p->lag_lock);
}

static void sync_cluster(struct puller *p, int64_t now)
{
    struct cluster cs;
    p->answered = read_cluster(p, &cs) == 0;
    if (!p->answered) {
        batch_set_degraded(p->b, true);
        return;
    }
    apply_placement(p, cs.placement_json);
    apply_members(p, cs.members, cs.nmembers);
    controller_duty_run(p->duty, p->m, cs.members, cs.nmembers, cs.tables,
                        cs.ntables,
                        cs.placement_json != NULL ? p->pl : NULL, now);
    uint64_t gen = 0;
    bool has = batch_generation(p->b, &gen);
    if (!has || gen != cs.active.generation || p->saved_partial) {
        /* Said by /health while the versions are pulled (try_switch()
         * may take long), not for a switch to versions already mapped. */
        if (has && gen != cs.active.generation &&
            switch_needs_pull(p, &cs)) {
            set_behind(p, true, cs.active.generation);
        }
        try_switch(p, &cs, now);
    }
    has = batch_generation(p->b, &gen);
    bool ready = has && gen == cs.active.generation;
    if (ready) {
        batch_set_degraded(p->b, false);
        p->last_error[0] = '\0';
        if (!p->announced_ready) {
            p->announced_ready = true;
            log_notice("ready: serving generation %" PRIu64, gen);
        }
    }
    /* "ready" only while serving the cluster's generation: a node that
     * cannot switch (a version it has no room for, a failing pull) says
     * "joining", so routing prefers the nodes that can. */
    update_live_state(p, ready);
    /* Once switched, behind ends only with the view's publication
     * (cycle()); until then the node still serves the old generation. */
    p->lagging = has && !ready;
    if (p->lagging) {
        set_behind(p, true, cs.active.generation);
    }
    if (!stopping(p)) {
        reshape_held(p, now);
    }
    if (!stopping(p)) {
        pull_staged(p, &cs, now);
    }
    mark_wanted(p, &cs);
    attempts_prune(p);
    cluster_free(&cs);
}

static void cycle(struct puller *p)
{
    int64_t now = wall_ms();
    p->lagging = false;
    if (!p->saved_loaded) {
        char err[512];
        p->saved_loaded = true;
        if (batch_load_saved(p->b, &p->saved, now, err, sizeof(err)) != 0) {
            log_warning("ignoring the saved view: %s", err);
        }
    }
    if (p->m == NULL && now >= p->next_connect_ms) {
        connect_membership(p, now);
    }
    if (p->m == NULL) {
        p->answered = false;
        uint64_t gen;
        if (!batch_generation(p->b, &gen)) {
            serve_saved(p, now);
        }
        update_live_state(p, false);
    } else {
        sync_cluster(p, now);
    }
    if (!stopping(p)) {
        apply_retention(p, now);
    }
    update_routes(p, now);
    batch_commit(p->b);
    if (!p->lagging) {
        set_behind(p, false, 0);
    }
    report_memory(p);
}

/* True once the wait between cycles should end early. */
static bool woken(struct puller *p)
{
    return stopping(p) || __atomic_exchange_n(&p->wake, 0, __ATOMIC_RELAXED);
}

/*
 * Waits up to the watch interval: in membership_wait_change() slices while
 * connected (returning as soon as something changed), else on the
 * condition variable. Either way a stop or a wake ends it.
 */
static void wait_next(struct puller *p)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    int64_t start = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    int64_t until = start + (int64_t)p->interval_ms;
    bool watching = p->m != NULL;
    while (watching && !woken(p)) {
        clock_gettime(CLOCK_MONOTONIC, &ts);
        int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
        if (now >= until) {
            return;
        }
        int slice = (int)(until - now < WAIT_SLICE_MS ? until - now
                                                      : WAIT_SLICE_MS);
        bool changed = false;
        enum memb_status st = membership_wait_change(p->m, slice, &changed);
        if (changed) {
            return; /* the next cycle reads it */
        }
        if (st != MEMB_OK) {
            /* The next cycle reports it; sleep out the interval first. */
            problem(p, "membership: cannot watch for changes: %s",
                    memb_why(p, st));
            watching = false;
        }
    }
    if (watching) {
        return;
    }
    ts.tv_sec = (time_t)(until / 1000);
    ts.tv_nsec = (long)(until % 1000) * 1000000;
    pthread_mutex_lock(&p->lock);
    while (!p->stop && !__atomic_load_n(&p->wake, __ATOMIC_RELAXED)) {
        if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT) {
            break;
        }
    }
    __atomic_store_n(&p->wake, 0, __ATOMIC_RELAXED);
    pthread_mutex_unlock(&p->lock);
}

static void *puller_main(void *arg)
{
    struct puller *p = arg;
    while (!stopping(p)) {
        cycle(p);
        wait_next(p);
    }
    return NULL;
}

void puller_set_drain(struct puller *p, bool drain)
{
    __atomic_store_n(&p->drain_requested, drain ? 1 : 0, __ATOMIC_RELAXED);
    /* Seen at once by /health; the live state follows at the next cycle. */
    bool marked = __atomic_load_n(&p->drain_marked, __ATOMIC_RELAXED) != 0;
    __atomic_store_n(&p->draining, drain || marked ? 1 : 0, __ATOMIC_RELAXED);
    pthread_mutex_lock(&p->lock);
    __atomic_store_n(&p->wake, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

bool puller_draining(const struct puller *p)
{
    return p != NULL && __atomic_load_n(&p->draining, __ATOMIC_RELAXED) != 0;
}

bool puller_behind(struct puller *p, struct puller_lag *out)
{
    if (p == NULL) {
        return false;
    }
    pthread_mutex_lock(&p->lag_lock);
    bool behind = p->behind;
    if (behind) {
        *out = p->lag;
    }
    pthread_mutex_unlock(&p->lag_lock);
    return behind;
}

static char *dup_or_empty(const char *s)
{
    return strdup(s != NULL ? s : "");
}

int puller_create(const struct puller_options *o, struct batch *b,
                  struct puller **out, char *err, size_t errlen)
{
    *out = NULL;
    struct puller *p = calloc(1, sizeof(*p));
    if (p == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    p->membership_uri = dup_or_empty(o->membership_uri);
    p->store_uri = dup_or_empty(o->store_uri);
    p->node_id = dup_or_empty(o->node_id);
    p->addr = dup_or_empty(o->addr);
    p->zone = dup_or_empty(o->zone);
    p->capacity = o->capacity ? o->capacity : PLACE_DEFAULT_CAPACITY;
    p->interval_ms = o->watch_interval_ms ? o->watch_interval_ms : 1;
    p->duty = o->controller ? controller_duty_create(o->rebalance_delay_ms)
                            : NULL;
    p->on_fatal = o->on_fatal;
    p->fatal_arg = o->fatal_arg;
    p->b = b;
    pthread_mutex_init(&p->lock, NULL);
    pthread_mutex_init(&p->lag_lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&p->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (p->membership_uri == NULL || p->store_uri == NULL ||
        p->node_id == NULL || p->addr == NULL || p->zone == NULL ||
        (o->controller && p->duty == NULL)) {
        snprintf(err, errlen, "out of memory");
        puller_destroy(&p);
        return -1;
    }
    p->owns_record = strncmp(p->membership_uri, "local:", 6) == 0;
    if (!batch_valid_table_name(p->node_id)) {
        snprintf(err, errlen, "--node-id '%s' is not valid "
                 "([A-Za-z0-9_.-], 1 to 64 characters)", p->node_id);
        puller_destroy(&p);
        return -1;
    }
    char why[512];
    if (store_open(p->store_uri, &p->store, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "--store %s: %s", p->store_uri, why);
        puller_destroy(&p);
        return -1;
    }
    if (store_set_bandwidth(p->store, o->pull_bandwidth) != 0) {
        snprintf(err, errlen, "out of memory");
        puller_destroy(&p);
        return -1;
    }
    *out = p;
    return 0;
}

int puller_start(struct puller *p)
{
    if (pthread_create(&p->thread, NULL, puller_main, p) != 0) {
        return -1;
    }
    p->started = true;
    return 0;
}

void puller_stop(struct puller *p)
{
    if (p == NULL) {
        return;
    }
    pthread_mutex_lock(&p->lock);
    __atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    if (p->started) {
        pthread_join(p->thread, NULL);
        p->started = false;
    }
}

void puller_destroy(struct puller **pp)
{
    struct puller *p = *pp;
    if (p == NULL) {
        return;
    }
    puller_stop(p);
    controller_duty_release(p->duty);
    controller_duty_destroy(&p->duty);
    if (p->m != NULL) {
        membership_close(&p->m);
    }
    if (p->store != NULL) {
        store_close(&p->store);
    }
    batch_saved_view_free(&p->saved);
    placement_destroy(&p->pl);
    free(p->pl_json);
    free(p->nodes);
    free(p->zone);
    for (size_t i = 0; i < p->nready; i++) {
        membership_ready_free(p->ready[i].list, p->ready[i].n);
    }
    free(p->ready);
    free(p->attempts);
    free(p->membership_uri);
    free(p->store_uri);
    free(p->node_id);
    free(p->addr);
    pthread_mutex_destroy(&p->lock);
    pthread_mutex_destroy(&p->lag_lock);
    pthread_cond_destroy(&p->cond);
    free(p);
    *pp = NULL;
}
