/*
 * This file implements the health rules of health.h: a pure evaluation of
 * a batch view and the node's state, and the glue that gathers that state
 * from the server.
 */
#include "health.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "batch.h"
#include "puller.h"
#include "server.h"

static const char *const state_names[HEALTH_STATES] = {
    "ok", "degraded", "starting", "stopping", "draining", "joining"};

const char *health_state_name(enum health_state s)
{
    return state_names[s];
}

int64_t health_version_age_ms(const struct batch_vinfo *vi, int64_t now_ms)
{
    int64_t since = vi->created_ms > 0 ? vi->created_ms : vi->activated_ms;
    if (since <= 0 || now_ms <= since) {
        return 0;
    }
    return now_ms - since;
}

uint64_t health_max_age_s(const struct batch_vtable *t, uint64_t default_s)
{
    return t->max_age_s > 0 ? t->max_age_s : default_s;
}

__attribute__((format(printf, 2, 3)))
static void add_reason(struct health_report *out, const char *fmt, ...)
{
    out->state = HEALTH_DEGRADED;
    if (out->nreasons == HEALTH_REASONS_MAX) {
        out->nomitted++;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out->reasons[out->nreasons++], HEALTH_REASON_LEN, fmt, ap);
    va_end(ap);
}

void health_evaluate(const struct health_input *in, struct health_report *out)
{
    memset(out, 0, sizeof(*out));
    if (in->stopping) {
        out->state = HEALTH_STOPPING;
        return;
    }
    if (in->draining) {
        out->state = HEALTH_DRAINING;
        return;
    }
    const struct batch_view *v = in->view;
    if (v == NULL) {
        out->state = HEALTH_STARTING;
        return;
    }
    if (in->behind && !in->membership_degraded &&
        in->active_generation != v->generation) {
        out->state = HEALTH_JOINING;
        out->nreasons = 1;
        if (in->switch_why != NULL && in->switch_why[0] != '\0') {
            snprintf(out->reasons[0], HEALTH_REASON_LEN, "cannot switch to "
                     "generation %" PRIu64 " (serving %" PRIu64 "): %s",
                     in->active_generation, v->generation, in->switch_why);
        } else {
            snprintf(out->reasons[0], HEALTH_REASON_LEN, "pulling generation "
                     "%" PRIu64 " (serving %" PRIu64 ")",
                     in->active_generation, v->generation);
        }
        return;
    }
    out->state = HEALTH_OK;
    if (in->membership_degraded) {
        add_reason(out, "membership is unreachable: serving the last saved "
                        "view");
    }
    for (size_t i = 0; i < v->ntables; i++) {
        const struct batch_vtable *t = &v->tables[i];
        uint64_t max_s = health_max_age_s(t, in->default_max_age_s);
        if (t->active == NULL || max_s == 0) {
            continue;
        }
        int64_t age_ms = health_version_age_ms(t->active, in->now_ms);
        if (age_ms > 0 && (uint64_t)age_ms > max_s * 1000) {
            add_reason(out, "table %s version %" PRIu64 " is %" PRId64
                       " s old (max age %" PRIu64 " s)", t->name,
                       t->active->version, age_ms / 1000, max_s);
        }
    }
    const struct batch_usage *u = in->usage;
    if (u != NULL && u->active_resident < u->active_mapped) {
        add_reason(out, "active versions are not all in RAM: %" PRIu64
                   " of %" PRIu64 " bytes resident", u->active_resident,
                   u->active_mapped);
    }
}

void health_check(struct server *srv, const struct batch_view *v,
                  const struct batch_usage *usage, int64_t now_ms,
                  struct health_report *out)
{
    pthread_mutex_lock(&srv->config_lock);
    uint64_t max_age = srv->opts->max_age.num;
    pthread_mutex_unlock(&srv->config_lock);
    struct puller_lag lag;
    bool behind = puller_behind(srv->puller, &lag);
    struct health_input in = {
        .view = v,
        .usage = usage,
        .stopping = __atomic_load_n(&srv->shutting_down, __ATOMIC_RELAXED) != 0,
        .draining = puller_draining(srv->puller),
        .membership_degraded = batch_degraded(srv->batch),
        .behind = behind,
        .active_generation = behind ? lag.generation : 0,
        .switch_why = behind ? lag.why : NULL,
        .default_max_age_s = max_age,
        .now_ms = now_ms,
    };
    health_evaluate(&in, out);
}
