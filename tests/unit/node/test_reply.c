/*
 * This file implements the unit tests of the reply encoders (node/reply.c)
 * and the buffer they write into (common/buf.h): the exact bytes of bulk
 * strings, integers and aggregate headers at every digit-count boundary,
 * replies that make the buffer grow at every offset around its capacity,
 * and a failed buffer, which takes no more bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "reply.h"

/* Asserts that b holds exactly the NUL-terminated string want. */
static void assert_holds(const struct buf *b, const char *want)
{
    assert_false(buf_failed(b));
    assert_int_equal(b->len, strlen(want));
    assert_memory_equal(b->data, want, b->len);
}

/* A value of len bytes, all 'x', in a fresh allocation (never NULL). */
static char *value_of(size_t len)
{
    char *v = malloc(len + 1);
    assert_non_null(v);
    memset(v, 'x', len);
    v[len] = '\0';
    return v;
}

/* The RESP bulk string for a value of len 'x' bytes, as snprintf writes it. */
static char *bulk_of(size_t len)
{
    char *want = malloc(len + 32);
    assert_non_null(want);
    int n = snprintf(want, 32, "$%zu\r\n", len);
    memset(want + n, 'x', len);
    memcpy(want + n + len, "\r\n", 3);
    return want;
}

static void test_bulk_lengths(void **state)
{
    static const size_t lens[] = {0,   1,    9,    10,    11,    99,
                                  100, 101,  999,  1000,  9999,  10000,
                                  65536, 1000000};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        struct buf b = {0};
        struct reply r = {.out = &b, .proto = 2};
        char *v = value_of(lens[i]);
        char *want = bulk_of(lens[i]);
        reply_bulk(&r, v, lens[i]);
        assert_holds(&b, want);
        free(want);
        free(v);
        buf_deinit(&b);
    }
}

static void test_integers(void **state)
{
    static const long long vals[] = {0,   1,    9,     10,    99,   100,
                                     101, 999,  1000,  -1,    -9,   -10,
                                     -99, -100, 123456789012345678LL,
                                     999999999999999999LL,
                                     1000000000000000000LL, LLONG_MAX,
                                     LLONG_MIN, LLONG_MIN + 1};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        struct buf b = {0};
        struct reply r = {.out = &b, .proto = 2};
        char want[64];
        reply_int(&r, vals[i]);
        snprintf(want, sizeof(want), ":%lld\r\n", vals[i]);
        assert_holds(&b, want);
        b.len = 0;
        buf_append_i64(&b, vals[i]);
        snprintf(want, sizeof(want), "%lld", vals[i]);
        assert_holds(&b, want);
        buf_deinit(&b);
    }
}

static void test_aggregates_and_verbatim(void **state)
{
    struct buf b = {0};
    struct reply r2 = {.out = &b, .proto = 2};
    struct reply r3 = {.out = &b, .proto = 3};
    reply_array(&r2, 0);
    reply_array(&r2, 12);
    reply_map(&r2, 5);
    reply_map(&r3, 5);
    assert_false(reply_attribute(&r2, 1));
    assert_true(reply_attribute(&r3, 1));
    reply_verbatim(&r2, "hello", 5);
    reply_verbatim(&r3, "hello", 5);
    reply_verbatim(&r3, "", 0);
    reply_null(&r2);
    reply_null(&r3);
    assert_holds(&b, "*0\r\n*12\r\n*10\r\n%5\r\n|1\r\n"
                     "$5\r\nhello\r\n=9\r\ntxt:hello\r\n=4\r\ntxt:\r\n"
                     "$-1\r\n_\r\n");
    buf_deinit(&b);
}

/*
 * Puts a reply at every offset from well below to past the buffer's
 * capacity, so that each one is written either in place or after the
 * buffer grows, and checks every byte.
 */
static void test_growth_at_every_offset(void **state)
{
    static const size_t lens[] = {0, 9, 64, 100, 300};
    for (size_t li = 0; li < sizeof(lens) / sizeof(lens[0]); li++) {
        char *v = value_of(lens[li]);
        char *bulk = bulk_of(lens[li]);
        for (size_t fill = 0; fill < 600; fill++) {
            struct buf b = {0};
            struct reply r = {.out = &b, .proto = 2};
            char *pad = value_of(fill);
            if (fill > 0) { /* memcpy() to a NULL b.data is undefined */
                buf_append(&b, pad, fill);
            }
            reply_bulk(&r, v, lens[li]);
            reply_int(&r, (long long)fill - 300);
            reply_array(&r, fill);
            char tail[64];
            snprintf(tail, sizeof(tail), ":%lld\r\n*%zu\r\n",
                     (long long)fill - 300, fill);
            size_t want_len = fill + strlen(bulk) + strlen(tail);
            assert_false(buf_failed(&b));
            assert_int_equal(b.len, want_len);
            assert_true(b.cap >= b.len);
            assert_memory_equal(b.data, pad, fill);
            assert_memory_equal(b.data + fill, bulk, strlen(bulk));
            assert_memory_equal(b.data + fill + strlen(bulk), tail,
                                strlen(tail));
            free(pad);
            buf_deinit(&b);
        }
        free(bulk);
        free(v);
    }
}

/*
 * Once a reservation has failed, nothing is appended any more, even where
 * the buffer still has room.
 */
static void test_failed_buffer_takes_nothing(void **state)
{
    struct buf b = {0};
    struct reply r = {.out = &b, .proto = 2};
    assert_true(buf_reserve(&b, 200));
    buf_append(&b, "ab", 2);
    assert_false(buf_reserve(&b, SIZE_MAX));
    assert_true(buf_failed(&b));
    reply_bulk(&r, "value", 5);
    reply_int(&r, 42);
    reply_array(&r, 3);
    reply_verbatim(&r, "v", 1);
    reply_null(&r);
    reply_status(&r, "OK");
    buf_append(&b, "cd", 2);
    buf_append_i64(&b, 7);
    assert_true(buf_failed(&b));
    assert_int_equal(b.len, 2);
    assert_memory_equal(b.data, "ab", 2);
    assert_false(buf_room(&b, 1));
    buf_deinit(&b);
    assert_false(buf_failed(&b));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bulk_lengths),
        cmocka_unit_test(test_integers),
        cmocka_unit_test(test_aggregates_and_verbatim),
        cmocka_unit_test(test_growth_at_every_offset),
        cmocka_unit_test(test_failed_buffer_takes_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
