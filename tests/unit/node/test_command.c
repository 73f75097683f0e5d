/*
 * This file implements the unit tests of command lookup (node/command.c):
 * every command is found by its name in any case, and any other name is
 * not, checked against a plain search of the table for every name with
 * each of its bytes replaced by each of the 256 byte values, truncated and
 * extended. Only ASCII letters match in either case: bytes that `| 0x20`
 * maps onto a name's byte ('\x0e' onto '.') must not match it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "command.h"

static int setup(void **state)
{
    command_setup();
    return 0;
}

static unsigned char ascii_lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* The command called name[0, len), found by comparing with every entry. */
static const struct command *plain_lookup(const char *name, size_t len)
{
    size_t n;
    const struct command *all = command_all(&n);
    for (size_t i = 0; i < n; i++) {
        if (strlen(all[i].name) != len) {
            continue;
        }
        size_t k = 0;
        while (k < len &&
               ascii_lower((unsigned char)name[k]) == (unsigned char)all[i].name[k]) {
            k++;
        }
        if (k == len) {
            return &all[i];
        }
    }
    return NULL;
}

static void test_names_in_any_case(void **state)
{
    size_t n;
    const struct command *all = command_all(&n);
    for (size_t i = 0; i < n; i++) {
        char upper[64], mixed[64];
        size_t len = strlen(all[i].name);
        assert_true(len < sizeof(upper));
        for (size_t k = 0; k < len; k++) {
            char c = all[i].name[k];
            upper[k] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
            mixed[k] = k % 2 ? upper[k] : c;
        }
        assert_ptr_equal(command_lookup(all[i].name, len), &all[i]);
        assert_ptr_equal(command_lookup(upper, len), &all[i]);
        assert_ptr_equal(command_lookup(mixed, len), &all[i]);
    }
    assert_ptr_equal(command_lookup("GeT", 3), command_lookup("get", 3));
    assert_non_null(command_lookup("T.GET", 5));
}

static void test_other_names(void **state)
{
    static const char *const names[] = {
        "ge",  "gett",   "t.ge",  "t.gett", "t.mge", "expir", "pexpir",
        "flush", "flushal", "larder.", "larder.activ", "t\x0eget",
        "T\x0eGET", "larder\x0e" "active", "get\0", "g\0t", "",
    };
    static const size_t lens[] = {2, 4, 4, 6, 5, 5, 6, 5, 7, 7, 12, 5,
                                  5, 13, 4, 3, 0};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        assert_null(command_lookup(names[i], lens[i]));
    }
    char longname[64];
    memset(longname, 'a', sizeof(longname));
    assert_null(command_lookup(longname, sizeof(longname)));
}

/*
 * Every name with one byte replaced by every value, one byte shorter and
 * one byte longer: the lookup finds what the plain search finds.
 */
static void test_agrees_with_plain_search(void **state)
{
    size_t n, checked = 0, found = 0;
    const struct command *all = command_all(&n);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        size_t len = strlen(all[i].name);
        for (size_t pos = 0; pos <= len; pos++) {
            for (unsigned v = 0; v < 256; v++) {
                memcpy(name, all[i].name, len);
                name[pos] = (char)v;
                size_t try_len = pos == len ? len + 1 : len;
                const struct command *want = plain_lookup(name, try_len);
                assert_ptr_equal(command_lookup(name, try_len), want);
                found += want != NULL;
                checked++;
            }
        }
        assert_ptr_equal(command_lookup(all[i].name, len - 1),
                         plain_lookup(all[i].name, len - 1));
    }
    /* Each name is found as itself and in upper case at each letter. */
    assert_true(found >= n);
    assert_true(checked > 256 * n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names_in_any_case),
        cmocka_unit_test(test_other_names),
        cmocka_unit_test(test_agrees_with_plain_search),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
