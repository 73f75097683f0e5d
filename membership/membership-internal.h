/*
 * membership-internal.h: what a membership backend implements, and the
 * handle shared by membership.c (URI dispatch, argument checks, error
 * messages, lock bookkeeping) and the backends (local.c, zk.c).
 *
 * membership.c validates every argument before it calls a backend: names
 * are valid, pointers are not NULL, strings in records are NUL-terminated,
 * version numbers are not 0, an active map has no duplicate tables and is
 * sorted by table. A backend can rely on that and only does its I/O.
 *
 * A handle is used by one thread at a time; backends keep no global state.
 */
#ifndef LARDER_MEMBERSHIP_INTERNAL_H
#define LARDER_MEMBERSHIP_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "membership.h"

#define MEMB_ERR_MAX 512

/*
 * A held load lock. A backend allocates its own struct (with this one as
 * its first member) with malloc; membership.c links it into the handle's
 * list, calls the backend's lock_release exactly once (at unlock or at
 * close, whichever comes first) and frees it at unlock.
 */
struct memb_lock {
    const struct memb_backend *backend;
    struct membership *owner; /* NULL once the handle was closed */
    struct memb_lock *next;   /* the owner's list of held locks */
    bool held;
    char table[MEMB_NAME_MAX];
};

/* One backend: the operations behind every public function. */
struct memb_backend {
    const char *scheme; /* "local" for "local:DIR" */

    /* Sets m->state from the part of the URI after "scheme:". */
    enum memb_status (*open)(struct membership *m, const char *location);
    /* Frees m->state; held locks were released before. */
    void (*close)(struct membership *m);

    enum memb_status (*table_put)(struct membership *m,
                                  const struct memb_table *t);
    enum memb_status (*table_get)(struct membership *m, const char *name,
                                  struct memb_table *out);
    /* The table has a config and is not active (checked by the caller). */
    enum memb_status (*table_remove)(struct membership *m, const char *name);
    /* Any order (membership.c sorts them). */
    enum memb_status (*table_list)(struct membership *m,
                                   struct memb_table **out, size_t *n);

    enum memb_status (*version_alloc)(struct membership *m, const char *table,
                                      uint64_t *out);
    enum memb_status (*version_put)(struct membership *m, const char *table,
                                    const struct memb_version *v);
    enum memb_status (*version_get)(struct membership *m, const char *table,
                                    uint64_t version,
                                    struct memb_version *out);
    /* Any order (membership.c sorts them). */
    enum memb_status (*version_list)(struct membership *m, const char *table,
                                     struct memb_version **out, size_t *n);

    enum memb_status (*ready_set)(struct membership *m, const char *table,
                                  uint64_t version, const char *node,
                                  const uint32_t *partitions, size_t n);
    enum memb_status (*ready_get)(struct membership *m, const char *table,
                                  uint64_t version, const char *node,
                                  uint32_t **partitions, size_t *n);
    /* Live nodes' records, any order (membership.c sorts them). */
    enum memb_status (*ready_list)(struct membership *m, const char *table,
                                   uint64_t version, struct memb_ready **out,
                                   size_t *n);
    enum memb_status (*refusal_set)(struct membership *m, const char *table,
                                    uint64_t version, const char *node,
                                    const char *reason);
    enum memb_status (*refusal_get)(struct membership *m, const char *table,
                                    uint64_t version, char *node,
                                    char *reason);

    enum memb_status (*active_get)(struct membership *m,
                                   struct memb_active *out);
    enum memb_status (*active_get_generation)(struct membership *m,
                                              uint64_t generation,
                                              struct memb_active *out);
    enum memb_status (*active_cas)(struct membership *m, uint64_t expected,
                                   struct memb_active *next);

    /* Allocates the backend's lock struct into *out, held. */
    enum memb_status (*lock)(struct membership *m, const char *table,
                             struct memb_lock **out);
    /* Drops the hold (does not free the struct). */
    void (*lock_release)(struct memb_lock *lock);

    enum memb_status (*member_put)(struct membership *m,
                                   const struct memb_member *mem);
    enum memb_status (*member_remove)(struct membership *m, const char *id);
    /* Any order (membership.c sorts them). */
    enum memb_status (*member_list)(struct membership *m,
                                    struct memb_member **out, size_t *n);
    enum memb_status (*live_set)(struct membership *m, const char *id,
                                 const char *state);
    enum memb_status (*member_memory)(struct membership *m, const char *id,
                                      uint64_t budget, uint64_t used);
    enum memb_status (*drain_set)(struct membership *m, const char *id,
                                  bool draining);

    /* Whether a lock still held by the caller's reckoning really is. */
    enum memb_status (*lock_check)(struct membership *m,
                                   const struct memb_lock *lock);

    /* json: validated, compact with sorted keys, <= MEMB_PLACEMENT_MAX. */
    enum memb_status (*placement_get)(struct membership *m, char **json,
                                      uint64_t *cas_version);
    enum memb_status (*placement_cas)(struct membership *m, uint64_t expected,
                                      const char *json);

    enum memb_status (*wait_change)(struct membership *m, int timeout_ms,
                                    bool *changed);
};

struct membership {
    const struct memb_backend *backend;
    void *state;             /* the backend's own, owned by it */
    struct memb_lock *locks; /* locks taken through this handle, held */
    char err[MEMB_ERR_MAX];
};

/* The local:DIR backend (local.c). */
extern const struct memb_backend memb_local_backend;

/* The zk://hosts/chroot backend (zk.c). */
extern const struct memb_backend memb_zk_backend;

/*
 * Opens a handle on an explicit backend; membership_open() is this after
 * picking the backend by URI scheme. Tests use it to wrap a backend.
 */
enum memb_status membership_open_backend(const struct memb_backend *backend,
                                         const char *location,
                                         struct membership **out, char *err,
                                         size_t errlen);

/* Keeps a formatted message in the handle; returns st for tail calls. */
enum memb_status memb_fail(struct membership *m, enum memb_status st,
                           const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Wall-clock time in Unix milliseconds. */
int64_t memb_now_ms(void);

#endif
