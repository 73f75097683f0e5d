/*
 * This file implements the unit tests of quiescent-state-based reclamation
 * (node/qsbr.c) on one thread, driving the readers' epochs by hand: a
 * deferred free waits exactly for the readers that were inside a read
 * section when it was deferred, and for nothing else.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "qsbr.h"

static int freed[8];
static int order[8];
static int norder;

static void mark_freed(void *arg)
{
    int i = (int)(intptr_t)arg;
    freed[i]++;
    order[norder++] = i;
}

static int setup(void **state)
{
    for (int i = 0; i < 8; i++) {
        freed[i] = order[i] = 0;
    }
    norder = 0;
    return 0;
}

static void test_idle_readers_do_not_delay(void **state)
{
    uint64_t e[2] = {0, 0};
    uint64_t *ep[2] = {&e[0], &e[1]};
    struct qsbr q;
    qsbr_init(&q, ep, 2);
    qsbr_defer(&q, mark_freed, (void *)0);
    assert_int_equal(freed[0], 0); /* deferred, not run inline */
    assert_int_equal(qsbr_poll(&q), 0);
    assert_int_equal(freed[0], 1);
    qsbr_deinit(&q);
}

static void test_waits_for_reader_inside(void **state)
{
    uint64_t e[3] = {0, 0, 0};
    uint64_t *ep[3] = {&e[0], &e[1], &e[2]};
    struct qsbr q;
    qsbr_init(&q, ep, 3);
    qsbr_enter(&e[1]);
    qsbr_defer(&q, mark_freed, (void *)1);
    /* A reader entering after the defer cannot hold the old object. */
    qsbr_enter(&e[2]);
    assert_int_equal(qsbr_poll(&q), 1);
    assert_int_equal(freed[1], 0);
    qsbr_leave(&e[1]);
    assert_int_equal(qsbr_poll(&q), 0);
    assert_int_equal(freed[1], 1);
    qsbr_leave(&e[2]);
    qsbr_deinit(&q);
}

/* A reader that left and entered again (odd again, but a different
 * epoch) has passed a quiescent state. */
static void test_reentered_reader_has_passed(void **state)
{
    uint64_t e = 0;
    uint64_t *ep[1] = {&e};
    struct qsbr q;
    qsbr_init(&q, ep, 1);
    qsbr_enter(&e);
    qsbr_defer(&q, mark_freed, (void *)2);
    assert_int_equal(qsbr_poll(&q), 1);
    qsbr_leave(&e);
    qsbr_enter(&e);
    assert_int_equal(qsbr_poll(&q), 0);
    assert_int_equal(freed[2], 1);
    qsbr_leave(&e);
    qsbr_deinit(&q);
}

/* Items deferred at different times are freed as their own grace
 * periods end, in order, and deinit frees what is left. */
static void test_independent_grace_periods(void **state)
{
    uint64_t e[2] = {0, 0};
    uint64_t *ep[2] = {&e[0], &e[1]};
    struct qsbr q;
    qsbr_init(&q, ep, 2);
    qsbr_enter(&e[0]);
    qsbr_defer(&q, mark_freed, (void *)3); /* waits for reader 0 */
    qsbr_leave(&e[0]);
    qsbr_enter(&e[1]);
    qsbr_defer(&q, mark_freed, (void *)4); /* waits for reader 1 */
    qsbr_enter(&e[0]);
    qsbr_defer(&q, mark_freed, (void *)5); /* waits for both */
    assert_int_equal(qsbr_poll(&q), 2);
    assert_int_equal(freed[3], 1);
    qsbr_leave(&e[0]);
    assert_int_equal(qsbr_poll(&q), 2);
    qsbr_leave(&e[1]);
    assert_int_equal(qsbr_poll(&q), 0);
    assert_int_equal(norder, 3);
    assert_int_equal(order[0], 3);
    assert_int_equal(order[1], 4);
    assert_int_equal(order[2], 5);

    qsbr_enter(&e[0]);
    qsbr_defer(&q, mark_freed, (void *)6);
    assert_int_equal(qsbr_poll(&q), 1);
    qsbr_deinit(&q); /* shutdown: no reader runs any more */
    assert_int_equal(freed[6], 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_idle_readers_do_not_delay, setup),
        cmocka_unit_test_setup(test_waits_for_reader_inside, setup),
        cmocka_unit_test_setup(test_reentered_reader_has_passed, setup),
        cmocka_unit_test_setup(test_independent_grace_periods, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
