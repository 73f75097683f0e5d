/*
 * This file implements the writer side of quiescent-state-based
 * reclamation (qsbr.h): a FIFO of deferred frees, each with a snapshot of
 * the readers' epochs taken when it was deferred.
 */
#include "qsbr.h"

#include <stdlib.h>
#include <time.h>

struct qsbr_item {
    struct qsbr_item *next;
    qsbr_free_fn fn;
    void *arg;
    uint64_t snap[]; /* one epoch per reader */
};

void qsbr_init(struct qsbr *q, uint64_t *const *epochs, size_t nreaders)
{
    q->epochs = epochs;
    q->nreaders = nreaders;
    q->pending = q->last = NULL;
    q->npending = 0;
}

void qsbr_deinit(struct qsbr *q)
{
    struct qsbr_item *it = q->pending;
    while (it != NULL) {
        struct qsbr_item *next = it->next;
        it->fn(it->arg);
        free(it);
        it = next;
    }
    q->pending = q->last = NULL;
    q->npending = 0;
}

static void snapshot(const struct qsbr *q, uint64_t *snap)
{
    for (size_t i = 0; i < q->nreaders; i++) {
        snap[i] = __atomic_load_n(q->epochs[i], __ATOMIC_SEQ_CST);
    }
}

/* True once every reader was quiescent at, or has moved on since, snap. */
static bool grace_over(const struct qsbr *q, const uint64_t *snap)
{
    for (size_t i = 0; i < q->nreaders; i++) {
        if ((snap[i] & 1) != 0 &&
            __atomic_load_n(q->epochs[i], __ATOMIC_ACQUIRE) == snap[i]) {
            return false;
        }
    }
    return true;
}

void qsbr_defer(struct qsbr *q, qsbr_free_fn fn, void *arg)
{
    struct qsbr_item *it = malloc(sizeof(*it) + q->nreaders * sizeof(uint64_t));
    if (it == NULL) {
        /* No room to remember it: wait out the grace period here, one
         * reader at a time (a snapshot taken after the unpublish suffices). */
        for (size_t i = 0; i < q->nreaders; i++) {
            uint64_t s = __atomic_load_n(q->epochs[i], __ATOMIC_SEQ_CST);
            while ((s & 1) != 0 &&
                   __atomic_load_n(q->epochs[i], __ATOMIC_ACQUIRE) == s) {
                nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
            }
        }
        fn(arg);
        return;
    }
    it->next = NULL;
    it->fn = fn;
    it->arg = arg;
    snapshot(q, it->snap);
    if (q->last != NULL) {
        q->last->next = it;
    } else {
        q->pending = it;
    }
    q->last = it;
    q->npending++;
}

size_t qsbr_poll(struct qsbr *q)
{
    struct qsbr_item **pp = &q->pending;
    q->last = NULL;
    while (*pp != NULL) {
        struct qsbr_item *it = *pp;
        if (grace_over(q, it->snap)) {
            *pp = it->next;
            it->fn(it->arg);
            free(it);
            q->npending--;
        } else {
            q->last = it;
            pp = &it->next;
        }
    }
    return q->npending;
}
