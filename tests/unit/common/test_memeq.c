/*
 * Tests for memeq.h: the inline equality test agrees with memcmp for every
 * length up to 80, every position of a one-byte difference, every value of
 * that byte's bit flip, and every alignment of either string; and
 * memeq_masked() agrees with a byte-by-byte reference for every length up
 * to 40 with each byte of the input replaced by each of the 256 values.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
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

/* (a[i] | mask[i]) == b[i] for every i < n, a byte at a time. */
static bool masked_reference(const unsigned char *a, const unsigned char *m,
                             const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((a[i] | m[i]) != b[i]) {
            return false;
        }
    }
    return true;
}

static void test_masked(void **state)
{
    (void)state;
    /* b: lower-case letters and other bytes; mask 0x20 on the letters. */
    static const char text[] = "t.get-larder.versions_0@`[{~\x0e z9";
    unsigned char a[48], b[48], m[48];
    for (size_t n = 0; n <= 40; n++) {
        for (size_t i = 0; i < n; i++) {
            b[i] = (unsigned char)text[(i * 7 + n) % (sizeof(text) - 1)];
            m[i] = b[i] >= 'a' && b[i] <= 'z' ? 0x20 : 0;
            a[i] = (i & 1) && m[i] ? (unsigned char)(b[i] - 0x20) : b[i];
        }
        assert_true(memeq_masked(a, m, b, n));
        for (size_t at = 0; at < n; at++) {
            unsigned char saved = a[at];
            for (int c = 0; c < 256; c++) {
                a[at] = (unsigned char)c;
                assert_int_equal(memeq_masked(a, m, b, n),
                                 masked_reference(a, m, b, n));
            }
            a[at] = saved;
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_equal_strings),
        cmocka_unit_test(test_one_byte_differs),
        cmocka_unit_test(test_outside_ignored),
        cmocka_unit_test(test_masked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
