/*
 * This file implements the memory check of capacity.h.
 */
#include "capacity.h"

#include <stdio.h>
#include <string.h>

/* Bounded-load placement keeps every node within (1 + 1/4) of the mean. */
#define CAPACITY_SLACK_NUM 5
#define CAPACITY_SLACK_DEN 4

void capacity_format_bytes(uint64_t bytes, char *out, size_t outlen)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)bytes;
    size_t u = 0;
    while (v >= 1024 && u + 1 < sizeof(units) / sizeof(units[0])) {
        v /= 1024;
        u++;
    }
    if (u == 0) {
        snprintf(out, outlen, "%llu B", (unsigned long long)bytes);
    } else {
        snprintf(out, outlen, "%.1f %s", v, units[u]);
    }
}

int capacity_check(const struct memb_member *members, size_t n,
                   uint32_t replication, uint64_t bytes, uint32_t required,
                   struct capacity_verdict *v, char *msg, size_t msglen)
{
    memset(v, 0, sizeof(*v));
    v->members = (uint32_t)n;
    if (replication == 0 || n <= replication) {
        v->share = bytes;
    } else {
        unsigned __int128 s = (unsigned __int128)bytes * replication *
                              CAPACITY_SLACK_NUM / ((unsigned __int128)n *
                                                    CAPACITY_SLACK_DEN);
        v->share = s > bytes ? bytes : (uint64_t)s;
    }
    for (size_t i = 0; i < n; i++) {
        const struct memb_member *m = &members[i];
        if (!m->live) {
            continue;
        }
        v->live++;
        uint64_t free_b = m->batch_memory > m->batch_used
                              ? m->batch_memory - m->batch_used : 0;
        if (m->batch_memory == 0 || free_b >= v->share) {
            v->fit++;
        }
    }
    /* Fewer live nodes than required is for the readiness wait to judge,
     * not a lack of memory. */
    uint32_t need = required < v->live ? required : v->live;
    if (v->live == 0 || v->fit >= need) {
        return 0;
    }
    char share[32];
    capacity_format_bytes(v->share, share, sizeof(share));
    size_t off = (size_t)snprintf(msg, msglen,
                                  "%u of %u live nodes can hold %s (%u "
                                  "needed):", v->fit, v->live, share,
                                  need);
    for (size_t i = 0; i < n && off < msglen; i++) {
        const struct memb_member *m = &members[i];
        if (!m->live) {
            continue;
        }
        char freeb[32], budget[32];
        uint64_t free_b = m->batch_memory > m->batch_used
                              ? m->batch_memory - m->batch_used : 0;
        capacity_format_bytes(free_b, freeb, sizeof(freeb));
        capacity_format_bytes(m->batch_memory, budget, sizeof(budget));
        off += (size_t)snprintf(msg + off, msglen - off,
                                " %s has %s free of --batch-memory %s;",
                                m->id, freeb, budget);
    }
    if (off < msglen && off > 0 && msg[off - 1] == ';') {
        msg[off - 1] = '\0';
    }
    return -1;
}
