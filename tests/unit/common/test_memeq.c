/*
 * Tests for memeq.h: the inline equality test agrees with memcmp for every
 * length up to 80, every position of a one-byte difference, every value of
 * that byte's bit flip, and every alignment of either string.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "memeq.h"

enum { MAX_LEN = 80, ALIGNS = 8 };

static void test_equal_strings(void **state)
{
    (void)state;
    unsigned char a[MAX_LEN + ALIGNS], b[MAX_LEN + ALIGNS];
    for (size_t i = 0; i < sizeof(a); i++) {
        a[i] = (unsigned char)(i * 37 + 11);
    }
    for (size_t oa = 0; oa < ALIGNS; oa++) {
        for (size_t ob = 0; ob < ALIGNS; ob++) {
            for (size_t n = 0; n <= MAX_LEN; n++) {
                memcpy(b + ob, a + oa, n);
                assert_true(memeq(a + oa, b + ob, n));
            }
        }
    }
}

static void test_one_byte_differs(void **state)
{
    (void)state;
    unsigned char a[MAX_LEN + ALIGNS], b[MAX_LEN + ALIGNS];
    for (size_t i = 0; i < sizeof(a); i++) {
        a[i] = (unsigned char)(i * 37 + 11);
    }
    for (size_t ob = 0; ob < ALIGNS; ob++) {
        for (size_t n = 1; n <= MAX_LEN; n++) {
            for (size_t at = 0; at < n; at++) {
                for (int bit = 0; bit < 8; bit++) {
                    memcpy(b + ob, a, n);
                    b[ob + at] ^= (unsigned char)(1u << bit);
                    assert_false(memeq(a, b + ob, n));
                    assert_false(memeq(b + ob, a, n));
                }
            }
        }
    }
}

/* Bytes outside [0, n) never decide the answer. */
static void test_outside_ignored(void **state)
{
    (void)state;
    unsigned char a[MAX_LEN + 2], b[MAX_LEN + 2];
    for (size_t n = 0; n <= MAX_LEN; n++) {
        memset(a, 'x', sizeof(a));
        memset(b, 'y', sizeof(b));
        memset(a + 1, 'k', n);
        memset(b + 1, 'k', n);
        assert_true(memeq(a + 1, b + 1, n));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_strings),
        cmocka_unit_test(test_one_byte_differs),
        cmocka_unit_test(test_outside_ignored),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
