/*
 * This file implements controller.h: reading the member list and the batch
 * tables, computing or promoting a placement with placement.h, and storing
 * it with one compare-and-set, retried from a fresh read when another
 * controller got there first.
 */
#include "controller.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum {
    CONTROLLER_ATTEMPTS = 5, /* compare-and-set attempts before giving up */
};

enum memb_status controller_read(struct membership *m, struct placement **out,
                                 uint64_t *cas, char *err, size_t errlen)
{
    *out = NULL;
    char *json = NULL;
    enum memb_status st = membership_placement_get(m, &json, cas);
    if (st != MEMB_OK) {
        if (st == MEMB_ERR) {
            snprintf(err, errlen, "reading the placement: %s",
                     membership_error(m));
        }
        return st;
    }
    char why[512] = "";
    enum place_status ps =
        placement_from_json(json, strlen(json), out, why, sizeof(why));
    free(json);
    if (ps != PLACE_OK) {
        snprintf(err, errlen, "the stored placement does not parse: %s",
                 why[0] ? why : place_status_name(ps));
        return MEMB_ERR;
    }
    return MEMB_OK;
}

/* Stores pl if the token is still cas. */
static enum memb_status store(struct membership *m, const struct placement *pl,
                              uint64_t cas, char *err, size_t errlen)
{
    char *json = placement_to_json(pl);
    if (json == NULL) {
        snprintf(err, errlen, "out of memory");
        return MEMB_ERR;
    }
    enum memb_status st = membership_placement_cas(m, cas, json);
    free(json);
    if (st != MEMB_OK && st != MEMB_CONFLICT) {
        snprintf(err, errlen, "storing the placement: %s",
                 membership_error(m));
    }
    return st;
}

/* The placement's partitions in motion, or 0 if it cannot tell. */
static size_t count_moves(const struct placement *pl)
{
    struct place_move *moves = NULL;
    size_t n = 0;
    if (placement_moves(pl, &moves, &n) != PLACE_OK) {
        return 0;
    }
    free(moves);
    return n;
}

/* The inputs of placement_compute(): members left after exclude, tables. */
struct inputs {
    struct place_member *members;
    size_t nmembers;
    struct place_table *tables;
    size_t ntables;
};

static void inputs_free(struct inputs *in)
{
    free(in->members);
    free(in->tables);
    memset(in, 0, sizeof(*in));
}

static enum memb_status read_inputs(struct membership *m,
                                    controller_exclude_fn exclude, void *arg,
                                    struct inputs *in, char *err,
                                    size_t errlen)
{
    memset(in, 0, sizeof(*in));
    struct memb_member *mem = NULL;
    size_t nmem = 0;
    enum memb_status st = membership_member_list(m, &mem, &nmem);
    if (st != MEMB_OK) {
        snprintf(err, errlen, "listing members: %s", membership_error(m));
        return st;
    }
    struct memb_table *tabs = NULL;
    size_t ntabs = 0;
    st = membership_table_list(m, &tabs, &ntabs);
    if (st != MEMB_OK) {
        free(mem);
        snprintf(err, errlen, "listing tables: %s", membership_error(m));
        return st;
    }
    in->members = calloc(nmem ? nmem : 1, sizeof(*in->members));
    in->tables = calloc(ntabs ? ntabs : 1, sizeof(*in->tables));
    if (in->members == NULL || in->tables == NULL) {
        free(mem);
        free(tabs);
        inputs_free(in);
        snprintf(err, errlen, "out of memory");
        return MEMB_ERR;
    }
    for (size_t i = 0; i < nmem; i++) {
        if (exclude != NULL && exclude(arg, &mem[i])) {
            continue;
        }
        struct place_member *pm = &in->members[in->nmembers++];
        snprintf(pm->id, sizeof(pm->id), "%s", mem[i].id);
        snprintf(pm->zone, sizeof(pm->zone), "%s", mem[i].zone);
        pm->capacity = mem[i].capacity;
    }
    for (size_t i = 0; i < ntabs; i++) {
        if (tabs[i].kind != MEMB_TABLE_BATCH) {
            continue;
        }
        struct place_table *pt = &in->tables[in->ntables++];
        snprintf(pt->name, sizeof(pt->name), "%s", tabs[i].name);
        pt->partitions = tabs[i].partitions;
        pt->replication = tabs[i].replication;
    }
    free(mem);
    free(tabs);
    return MEMB_OK;
}

static void pause_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

enum memb_status controller_replace(struct membership *m,
                                    controller_exclude_fn exclude, void *arg,
                                    struct controller_result *out, char *err,
                                    size_t errlen)
{
    memset(out, 0, sizeof(*out));
    for (int attempt = 0; attempt < CONTROLLER_ATTEMPTS; attempt++) {
        struct placement *prev = NULL;
        uint64_t cas = 0;
        enum memb_status st = controller_read(m, &prev, &cas, err, errlen);
        if (st != MEMB_OK && st != MEMB_NOTFOUND) {
            return st;
        }
        struct inputs in;
        st = read_inputs(m, exclude, arg, &in, err, errlen);
        if (st != MEMB_OK) {
            placement_destroy(&prev);
            return st;
        }
        struct placement *next = NULL;
        char why[512] = "";
        enum place_status ps = placement_compute(
            in.members, in.nmembers, in.tables, in.ntables, prev, &next,
            &out->report, why, sizeof(why));
        inputs_free(&in);
        if (ps != PLACE_OK) {
            placement_destroy(&prev);
            snprintf(err, errlen, "cannot place the tables: %s",
                     why[0] ? why : place_status_name(ps));
            return ps == PLACE_NOMEM ? MEMB_ERR : MEMB_INVALID;
        }
        if (prev != NULL && placement_same_assignment(prev, next)) {
            out->generation = placement_generation(prev);
            out->moves = count_moves(prev);
            placement_destroy(&prev);
            placement_destroy(&next);
            return MEMB_OK;
        }
        placement_destroy(&prev);
        st = store(m, next, cas, err, errlen);
        if (st == MEMB_OK) {
            out->changed = true;
            out->generation = placement_generation(next);
            out->moves = count_moves(next);
        }
        placement_destroy(&next);
        if (st != MEMB_CONFLICT) {
            return st;
        }
        pause_ms(10L << attempt);
    }
    snprintf(err, errlen, "the placement kept changing under us (%d "
             "attempts); try again", CONTROLLER_ATTEMPTS);
    return MEMB_CONFLICT;
}
/* What promotion asks of membership, per call of placement_promote(). */
struct ready_probe {
    struct membership *m;
    struct memb_active active;
    enum memb_status st; /* first failure */
    /* The last table asked, and its live nodes' readiness records. */
    char table[MEMB_NAME_MAX];
    struct memb_ready *ready; /* sorted by node */
    size_t nready;
};

static bool has_partition(const uint32_t *parts, size_t n, uint32_t p)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (parts[mid] == p) {
            return true;
        }
        if (parts[mid] < p) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return false;
}

static int ready_node_cmp(const void *key, const void *elem)
{
    return strcmp(key, ((const struct memb_ready *)elem)->node);
}

/*
 * place_ready_fn: node holds partition of table for the table's active
 * version (a table with none is ready everywhere). Only the records of
 * nodes not known to be dead count (membership_ready_list()): a dead
 * node's record says what it held before it died, and promoting to it
 * would let the last live replicas drop the partition. Records are read
 * once per table in a row, which is the order promotion asks in.
 */
static bool node_ready(void *arg, const char *table, uint32_t partition,
                       const char *node)
{
    struct ready_probe *r = arg;
    uint64_t version = membership_active_version(&r->active, table);
    if (version == 0) {
        return true;
    }
    if (strcmp(r->table, table) != 0) {
        membership_ready_free(r->ready, r->nready);
        r->ready = NULL;
        r->nready = 0;
        snprintf(r->table, sizeof(r->table), "%s", table);
        enum memb_status st = membership_ready_list(r->m, table, version,
                                                    &r->ready, &r->nready);
        if (st != MEMB_OK && r->st == MEMB_OK) {
            r->st = st;
        }
    }
    const struct memb_ready *rec =
        r->nready == 0 ? NULL
                       : bsearch(node, r->ready, r->nready, sizeof(*r->ready),
                                 ready_node_cmp);
    return rec != NULL && has_partition(rec->partitions, rec->n, partition);
}

enum memb_status controller_promote(struct membership *m,
                                    struct controller_result *out, char *err,
                                    size_t errlen)
{
    memset(out, 0, sizeof(*out));
    for (int attempt = 0; attempt < CONTROLLER_ATTEMPTS; attempt++) {
        struct placement *pl = NULL;
        uint64_t cas = 0;
        enum memb_status st = controller_read(m, &pl, &cas, err, errlen);
        if (st == MEMB_NOTFOUND) {
            return MEMB_OK; /* nothing placed, nothing to promote */
        }
        if (st != MEMB_OK) {
            return st;
        }
        struct ready_probe probe = {.m = m};
        st = membership_active_get(m, &probe.active);
        if (st != MEMB_OK) {
            placement_destroy(&pl);
            snprintf(err, errlen, "reading the active map: %s",
                     membership_error(m));
            return st;
        }
        long promoted = placement_promote(pl, node_ready, &probe);
        membership_ready_free(probe.ready, probe.nready);
        membership_active_free(&probe.active);
        if (probe.st != MEMB_OK) {
            placement_destroy(&pl);
            snprintf(err, errlen, "reading readiness: %s",
                     membership_error(m));
            return probe.st;
        }
        if (promoted < 0) {
            placement_destroy(&pl);
            snprintf(err, errlen, "out of memory");
            return MEMB_ERR;
        }
        out->generation = placement_generation(pl);
        out->moves = count_moves(pl);
        if (promoted == 0) {
            placement_destroy(&pl);
            return MEMB_OK;
        }
        st = store(m, pl, cas, err, errlen);
        placement_destroy(&pl);
        if (st == MEMB_OK) {
            out->changed = true;
            out->promoted = promoted;
            return MEMB_OK;
        }
        if (st != MEMB_CONFLICT) {
            return st;
        }
        pause_ms(10L << attempt);
    }
    snprintf(err, errlen, "the placement kept changing under us (%d "
             "attempts); try again", CONTROLLER_ATTEMPTS);
    return MEMB_CONFLICT;
}
