/*
 * This file implements controller_duty.h: the controller lock, the record
 * of when each member was last seen live, and one turn of promotion and
 * re-placement through membership/controller.h.
 */
#include "controller_duty.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controller.h"
#include "log.h"

enum {
    LOCK_RETRY_MS = 3000, /* how often a node without the lock tries it */
    PROMOTE_EVERY_MS = 1000, /* how often the holder looks for promotions */
};

/* When a member was first seen not live by this holder (0: live). */
struct dead_since {
    char id[MEMB_NAME_MAX];
    int64_t since_ms;
};

struct controller_duty {
    uint64_t delay_ms;
    struct memb_lock *lock; /* held, or NULL */
    int64_t next_try_ms;
    struct dead_since *dead;
    size_t ndead;
    /* What the last re-placement was computed from: members (and which
     * were left out) and batch tables, as text. The holder re-places only
     * when it changes, so it does not undo an operator's `larder
     * rebalance` on its own. */
    char *inputs;
    int64_t next_promote_ms;
    char last_error[512];
};

struct controller_duty *controller_duty_create(uint64_t rebalance_delay_ms)
{
    struct controller_duty *d = calloc(1, sizeof(*d));
    if (d != NULL) {
        d->delay_ms = rebalance_delay_ms;
    }
    return d;
}

bool controller_duty_held(const struct controller_duty *d)
{
    return d != NULL && d->lock != NULL;
}

void controller_duty_release(struct controller_duty *d)
{
    if (d == NULL) {
        return;
    }
    if (d->lock != NULL) {
        membership_unlock(&d->lock);
        log_notice("released the placement controller lock");
    }
    free(d->dead);
    d->dead = NULL;
    d->ndead = 0;
    free(d->inputs);
    d->inputs = NULL;
}

void controller_duty_destroy(struct controller_duty **dp)
{
    struct controller_duty *d = *dp;
    if (d == NULL) {
        return;
    }
    controller_duty_release(d);
    free(d);
    *dp = NULL;
}

/* Logs a failure once until another one (or success) comes. */
static void failed(struct controller_duty *d, const char *what,
                   const char *err)
{
    char msg[sizeof(d->last_error)];
    snprintf(msg, sizeof(msg), "placement controller: %s: %s", what, err);
    if (strcmp(msg, d->last_error) != 0) {
        log_warning("%s", msg);
        snprintf(d->last_error, sizeof(d->last_error), "%s", msg);
    }
}

/* Updates the dead-since record from the member list; returns how many
 * members have been dead for at least the delay. */
static size_t note_liveness(struct controller_duty *d,
                            const struct memb_member *members, size_t n,
                            int64_t now)
{
    struct dead_since *next = calloc(n ? n : 1, sizeof(*next));
    if (next == NULL) {
        return 0;
    }
    size_t k = 0, overdue = 0;
    for (size_t i = 0; i < n; i++) {
        if (members[i].live) {
            continue;
        }
        int64_t since = now;
        for (size_t j = 0; j < d->ndead; j++) {
            if (strcmp(d->dead[j].id, members[i].id) == 0) {
                since = d->dead[j].since_ms;
            }
        }
        snprintf(next[k].id, sizeof(next[k].id), "%s", members[i].id);
        next[k].since_ms = since;
        if ((uint64_t)(now - since) >= d->delay_ms) {
            overdue++;
        }
        k++;
    }
    free(d->dead);
    d->dead = next;
    d->ndead = k;
    return overdue;
}

struct exclude_ctx {
    const struct controller_duty *d;
    int64_t now;
    struct membership *m;
    /* The placement whose targets say who is left out already: the one
     * just applied (for the inputs' description), or NULL to read the
     * stored one afresh (during a replace, which thus sees what its own
     * read saw, or loses its compare-and-set and tries again). */
    const struct placement *pl;
};

/* True if some target of pl names id. */
static bool targeted(const struct placement *pl, const char *id)
{
    for (size_t t = 0; t < placement_table_count(pl); t++) {
        struct place_table_info ti;
        if (placement_table_at(pl, t, &ti) != PLACE_OK) {
            continue;
        }
        for (uint32_t p = 0; p < ti.partitions; p++) {
            const char *ids[PLACE_MEMBERS_MAX];
            size_t k = 0;
            placement_nodes(pl, ti.name, p, PLACE_TARGET, ids,
                            PLACE_MEMBERS_MAX, &k);
            for (size_t i = 0; i < k && i < PLACE_MEMBERS_MAX; i++) {
                if (strcmp(ids[i], id) == 0) {
                    return true;
                }
            }
        }
    }
    return false;
}

/* True if the stored (or given) placement's targets name id; true also
 * when it cannot tell, which leaves the member to the delay. */
static bool still_targeted(const struct exclude_ctx *x, const char *id)
{
    if (x->pl != NULL) {
        return targeted(x->pl, id);
    }
    struct placement *pl = NULL;
    uint64_t cas = 0;
    char err[256];
    if (controller_read(x->m, &pl, &cas, err, sizeof(err)) != MEMB_OK) {
        return true;
    }
    bool yes = targeted(pl, id);
    placement_destroy(&pl);
    return yes;
}

/*
 * controller_exclude_fn: draining members; members dead past the delay;
 * and members not live that no target names (left out already, by an
 * earlier holder or `larder rebalance`): a new holder counts the delay
 * afresh, but must not hand partitions back to a node that is down.
 */
static bool exclude_member(void *arg, const struct memb_member *mem)
{
    const struct exclude_ctx *x = arg;
    if (mem->draining) {
        return true;
    }
    if (mem->live) {
        return false;
    }
    for (size_t j = 0; j < x->d->ndead; j++) {
        if (strcmp(x->d->dead[j].id, mem->id) == 0 &&
            (uint64_t)(x->now - x->d->dead[j].since_ms) >= x->d->delay_ms) {
            return true;
        }
    }
    return !still_targeted(x, mem->id);
}

/* Appends text to the growable string *s (of *len, *cap); false if out of
 * memory. */
static bool append(char **s, size_t *len, size_t *cap, const char *text)
{
    size_t n = strlen(text);
    if (*len + n + 1 > *cap) {
        size_t want = (*len + n + 1) * 2;
        char *grown = realloc(*s, want);
        if (grown == NULL) {
            return false;
        }
        *s = grown;
        *cap = want;
    }
    memcpy(*s + *len, text, n + 1);
    *len += n;
    return true;
}

/* The inputs of a re-placement as text (malloc'd), or NULL. */
static char *describe_inputs(const struct exclude_ctx *x,
                             const struct memb_member *members, size_t n,
                             const struct memb_table *tables, size_t ntables)
{
    char *s = NULL;
    size_t len = 0, cap = 0;
    bool ok = append(&s, &len, &cap, "members");
    for (size_t i = 0; ok && i < n; i++) {
        char item[3 * MEMB_NAME_MAX + 48];
        snprintf(item, sizeof(item), " %s/%s/%u%s", members[i].id,
                 members[i].zone, members[i].capacity,
                 exclude_member((void *)x, &members[i]) ? "/out" : "");
        ok = append(&s, &len, &cap, item);
    }
    ok = ok && append(&s, &len, &cap, "; tables");
    for (size_t i = 0; ok && i < ntables; i++) {
        if (tables[i].kind != MEMB_TABLE_BATCH) {
            continue;
        }
        char item[MEMB_NAME_MAX + 48];
        snprintf(item, sizeof(item), " %s/%u/%u", tables[i].name,
                 tables[i].partitions, tables[i].replication);
        ok = append(&s, &len, &cap, item);
    }
    if (!ok) {
        free(s);
        return NULL;
    }
    return s;
}

void controller_duty_run(struct controller_duty *d, struct membership *m,
                         const struct memb_member *members, size_t n,
                         const struct memb_table *tables, size_t ntables,
                         const struct placement *pl, int64_t now_ms)
{
    if (d == NULL) {
        return;
    }
    if (d->lock != NULL && membership_lock_check(m, d->lock) != MEMB_OK) {
        log_warning("lost the placement controller lock: %s",
                    membership_error(m));
        controller_duty_release(d);
        d->next_try_ms = now_ms;
    }
    if (d->lock == NULL) {
        if (now_ms < d->next_try_ms) {
            return;
        }
        d->next_try_ms = now_ms + LOCK_RETRY_MS;
        if (membership_lock(m, CONTROLLER_LOCK, &d->lock) != MEMB_OK) {
            d->lock = NULL;
            return; /* another node controls (or membership failed) */
        }
        log_notice("holding the placement controller lock (rebalance "
                   "delay %llu s)",
                   (unsigned long long)(d->delay_ms / 1000));
    }
    size_t overdue = note_liveness(d, members, n, now_ms);
    if (pl == NULL) {
        return; /* nothing to maintain until the operator places */
    }
    char err[1024] = "";
    struct exclude_ctx x = {.d = d, .now = now_ms, .m = m, .pl = pl};
    char *inputs = describe_inputs(&x, members, n, tables, ntables);
    if (inputs == NULL) {
        return;
    }
    x.pl = NULL; /* the replace asks the stored placement */
    struct controller_result r;
    if (d->inputs == NULL || strcmp(inputs, d->inputs) != 0) {
        enum memb_status st =
            controller_replace(m, exclude_member, &x, &r, err, sizeof(err));
        if (st != MEMB_OK) {
            free(inputs);
            failed(d, "re-placing", err);
            return;
        }
        if (r.changed) {
            log_notice("placement generation %llu: re-placed after a change "
                       "of members or tables (%zu member(s) dead for %llu s "
                       "or more left out); %zu partition(s) moving",
                       (unsigned long long)r.generation, overdue,
                       (unsigned long long)(d->delay_ms / 1000), r.moves);
        }
        free(d->inputs);
        d->inputs = inputs;
        inputs = NULL;
    }
    free(inputs);
    if (now_ms < d->next_promote_ms) {
        return;
    }
    d->next_promote_ms = now_ms + PROMOTE_EVERY_MS;
    enum memb_status st = controller_promote(m, &r, err, sizeof(err));
    if (st != MEMB_OK) {
        failed(d, "promoting", err);
        return;
    }
    if (r.changed) {
        log_notice("placement generation %llu: %ld partition(s) handed over "
                   "to their new replicas; %zu still moving",
                   (unsigned long long)r.generation, r.promoted, r.moves);
    }
    d->last_error[0] = '\0';
}
