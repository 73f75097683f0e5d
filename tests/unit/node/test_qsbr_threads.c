/*
 * This file implements the concurrency test of quiescent-state-based
 * reclamation (node/qsbr.c): reader threads load a shared pointer inside
 * read sections, as workers load the batch view, while a writer replaces
 * it thousands of times and frees the old objects through qsbr_defer().
 * A freed object is poisoned first, so a reader that could still see one
 * fails the test; under AddressSanitizer it is a use after free, and
 * under ThreadSanitizer any missing ordering is a data race.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "qsbr.h"

enum { READERS = 4, SWAPS = 20000, MAGIC = 0x5eed };

struct object {
    int canary;
    uint64_t serial;
};

static void *shared;
static int stop;
static uint64_t epochs[READERS];
static uint64_t bad[READERS];
static uint64_t reads[READERS];

static void poison_and_free(void *arg)
{
    struct object *o = arg;
    o->canary = 0;
    free(o);
}

static void *reader(void *arg)
{
    size_t id = (size_t)arg;
    uint64_t last = 0;
    while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
        qsbr_enter(&epochs[id]);
        for (int i = 0; i < 8; i++) {
            const struct object *o = qsbr_load(&shared);
            if (o->canary != MAGIC || o->serial < last) {
                bad[id]++;
            }
            last = o->serial;
        }
        qsbr_leave(&epochs[id]);
        uint64_t n = __atomic_add_fetch(&reads[id], 1, __ATOMIC_RELAXED);
        if (n % 64 == 0) {
            /* Sometimes idle, as a worker waiting for requests is. */
            nanosleep(&(struct timespec){.tv_nsec = 10000}, NULL);
        }
    }
    return NULL;
}

static void test_swap_under_readers(void **state)
{
    uint64_t *ep[READERS];
    for (size_t i = 0; i < READERS; i++) {
        ep[i] = &epochs[i];
    }
    struct qsbr q;
    qsbr_init(&q, ep, READERS);
    struct object *first = malloc(sizeof(*first));
    assert_non_null(first);
    *first = (struct object){MAGIC, 0};
    qsbr_publish(&shared, first);
    pthread_t th[READERS];
    for (size_t i = 0; i < READERS; i++) {
        assert_int_equal(pthread_create(&th[i], NULL, reader, (void *)i), 0);
    }
    /* Every reader runs before the swaps start. */
    for (size_t i = 0; i < READERS; i++) {
        while (__atomic_load_n(&reads[i], __ATOMIC_RELAXED) == 0) {
            nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
        }
    }
    size_t max_pending = 0;
    for (uint64_t s = 1; s <= SWAPS; s++) {
        if (s % 100 == 0) {
            /* Let readers run between swaps on a machine with few cores. */
            nanosleep(&(struct timespec){.tv_nsec = 20000}, NULL);
        }
        struct object *o = malloc(sizeof(*o));
        assert_non_null(o);
        *o = (struct object){MAGIC, s};
        void *old = qsbr_load(&shared);
        qsbr_publish(&shared, o);
        qsbr_defer(&q, poison_and_free, old);
        size_t pending = qsbr_poll(&q);
        if (pending > max_pending) {
            max_pending = pending;
        }
    }
    /* Readers make progress, so everything is reclaimed eventually. */
    for (int i = 0; i < 10000 && qsbr_poll(&q) > 0; i++) {
        nanosleep(&(struct timespec){.tv_nsec = 100000}, NULL);
    }
    assert_int_equal(qsbr_poll(&q), 0);
    __atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
    uint64_t total = 0;
    for (size_t i = 0; i < READERS; i++) {
        pthread_join(th[i], NULL);
        assert_int_equal(bad[i], 0);
        total += __atomic_load_n(&reads[i], __ATOMIC_RELAXED);
    }
    assert_true(total > 0);
    qsbr_deinit(&q);
    free(qsbr_load(&shared));
    print_message("read sections %llu, most pending frees %zu\n",
                  (unsigned long long)total, max_pending);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_swap_under_readers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
