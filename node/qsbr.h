/*
 * qsbr.h: quiescent-state-based reclamation for one writer thread and a
 * fixed set of reader threads (the workers).
 *
 * Each reader owns one 64-bit epoch counter and is its only writer. It makes
 * the counter odd when it starts a read section (a batch of requests) and
 * even when it ends it; between the two it may use any object it loaded
 * from a shared pointer, with no lock and no reference count. The writer
 * replaces a shared pointer, then defers the old object with qsbr_defer():
 * the object is freed by qsbr_poll() only once every reader has been seen
 * outside a read section since the replacement — its epoch was even when
 * the writer looked, or has changed since. An idle reader (even epoch)
 * therefore never delays reclamation.
 *
 * Ordering: the reader's odd store and its pointer load, and the writer's
 * pointer store and its epoch loads, are sequentially consistent, so either
 * the reader sees the new pointer or the writer sees the odd epoch.
 */
#ifndef LARDER_QSBR_H
#define LARDER_QSBR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reader: begins a read section. epoch is the caller's own counter. */
static inline void qsbr_enter(uint64_t *epoch)
{
    uint64_t e = __atomic_load_n(epoch, __ATOMIC_RELAXED);
    __atomic_store_n(epoch, e + 1, __ATOMIC_SEQ_CST);
}

/* Reader: ends a read section; nothing loaded inside may be used after. */
static inline void qsbr_leave(uint64_t *epoch)
{
    uint64_t e = __atomic_load_n(epoch, __ATOMIC_RELAXED);
    __atomic_store_n(epoch, e + 1, __ATOMIC_RELEASE);
}

/* Publishes a new value of a shared pointer (writer side); slot is a
 * pointer to the shared pointer, of any pointer type. */
#define qsbr_publish(slot, value) \
    __atomic_store_n((slot), (value), __ATOMIC_SEQ_CST)

/* Loads a shared pointer (reader side, inside a read section). */
#define qsbr_load(slot) __atomic_load_n((slot), __ATOMIC_SEQ_CST)

typedef void (*qsbr_free_fn)(void *arg);

struct qsbr_item;

/* The writer's state: the readers' counters and the deferred frees. */
struct qsbr {
    uint64_t *const *epochs; /* borrowed: one counter per reader */
    size_t nreaders;
    struct qsbr_item *pending; /* oldest first */
    struct qsbr_item *last;
    size_t npending;
};

/* Starts with no pending frees. epochs must outlive q. */
void qsbr_init(struct qsbr *q, uint64_t *const *epochs, size_t nreaders);

/*
 * Frees everything still pending without waiting: only once no reader can
 * run any more (shutdown).
 */
void qsbr_deinit(struct qsbr *q);

/*
 * Arranges for fn(arg) to run once every reader has passed a quiescent
 * state. Call it after the object was unpublished. If memory for the
 * bookkeeping runs out it waits for the grace period instead (the writer
 * blocks, readers do not).
 */
void qsbr_defer(struct qsbr *q, qsbr_free_fn fn, void *arg);

/* Runs the deferred frees whose grace period has ended; returns how many
 * are still pending. */
size_t qsbr_poll(struct qsbr *q);

#endif
