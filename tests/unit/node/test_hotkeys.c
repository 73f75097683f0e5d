/*
 * This file implements the unit tests of the space-saving hot-key sketch
 * (node/hotkeys.c): exact counts while keys fit, the guarantee that a key
 * read more than total/K times is found with a count never below its true
 * one, tables kept apart, long keys truncated for display, decay, and the
 * merge of several workers' sketches into one top list without duplicates.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "hotkeys.h"

static void offer(struct hotkeys *s, const char *table, const char *key,
                  uint64_t weight)
{
    hotkeys_offer(s, table, strlen(table), key, strlen(key), weight);
}

/* The merged entry for table/key from one sketch, or NULL. */
static const struct hotkey *find(const struct hotkey *top, size_t n,
                                 const char *table, const char *key)
{
    for (size_t i = 0; i < n; i++) {
        if (top[i].tlen == strlen(table) && top[i].klen == strlen(key) &&
            memcmp(top[i].table, table, top[i].tlen) == 0 &&
            memcmp(top[i].key, key, top[i].klen) == 0) {
            return &top[i];
        }
    }
    return NULL;
}

static void test_exact_while_it_fits(void **state)
{
    struct hotkeys s;
    hotkeys_init(&s);
    for (int i = 0; i < 10; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%d", i);
        for (int r = 0; r <= i; r++) {
            offer(&s, "default", key, 1);
        }
    }
    const struct hotkeys *parts[] = {&s};
    struct hotkey top[HOTKEYS_K];
    size_t n = hotkeys_merge(parts, 1, top, HOTKEYS_K);
    assert_int_equal(n, 10);
    for (size_t i = 0; i < n; i++) {
        char key[16];
        snprintf(key, sizeof(key), "k%zu", 9 - i); /* highest first */
        assert_int_equal(top[i].klen, strlen(key));
        assert_memory_equal(top[i].key, key, top[i].klen);
        assert_int_equal(top[i].count, 10 - i);
        assert_int_equal(top[i].error, 0);
    }
}

/* A skewed stream with far more distinct keys than counters: the heavy
 * keys are all found, none is under-counted, and error bounds hold. */
static void test_heavy_hitters_found(void **state)
{
    struct hotkeys s;
    hotkeys_init(&s);
    uint64_t total = 0;
    uint64_t x = 12345;
    for (int round = 0; round < 200; round++) {
        offer(&s, "t", "hot-a", 5);
        offer(&s, "t", "hot-b", 3);
        offer(&s, "t", "hot-c", 2);
        total += 10;
        for (int j = 0; j < 10; j++) {
            char key[32];
            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            snprintf(key, sizeof(key), "cold-%llu",
                     (unsigned long long)(x >> 40));
            offer(&s, "t", key, 1);
            total++;
        }
    }
    const struct hotkeys *parts[] = {&s};
    struct hotkey top[HOTKEYS_K];
    size_t n = hotkeys_merge(parts, 1, top, HOTKEYS_K);
    assert_int_equal(n, HOTKEYS_K);
    const char *heavy[] = {"hot-a", "hot-b", "hot-c"};
    uint64_t truth[] = {1000, 600, 400};
    for (int i = 0; i < 3; i++) {
        const struct hotkey *e = find(top, n, "t", heavy[i]);
        assert_non_null(e);
        assert_true(e->count >= truth[i]);
        assert_true(e->count - e->error <= truth[i]);
        assert_true(e->error <= total / HOTKEYS_K);
        assert_memory_equal(top[i].key, heavy[i], strlen(heavy[i]));
    }
}

static void test_tables_apart_and_truncation(void **state)
{
    struct hotkeys s;
    hotkeys_init(&s);
    offer(&s, "users", "k", 1);
    offer(&s, "items", "k", 2);
    char long_key[200];
    memset(long_key, 'x', sizeof(long_key) - 1);
    long_key[sizeof(long_key) - 1] = '\0';
    offer(&s, "t", long_key, 4);
    long_key[150] = 'y'; /* same first 64 bytes, another key */
    offer(&s, "t", long_key, 8);
    assert_int_equal(s.n, 4);
    const struct hotkeys *parts[] = {&s};
    struct hotkey top[HOTKEYS_K];
    size_t n = hotkeys_merge(parts, 1, top, HOTKEYS_K);
    /* The two long keys look alike once truncated: merged into one. */
    assert_int_equal(n, 3);
    assert_true(top[0].truncated);
    assert_int_equal(top[0].klen, HOTKEY_KEY_MAX);
    assert_int_equal(top[0].count, 12);
    assert_int_equal(find(top, n, "items", "k")->count, 2);
    assert_int_equal(find(top, n, "users", "k")->count, 1);
}

static void test_decay(void **state)
{
    struct hotkeys s;
    hotkeys_init(&s);
    offer(&s, "t", "a", 8);
    offer(&s, "t", "b", 1);
    hotkeys_decay(&s, 0);
    assert_int_equal(s.n, 2);
    hotkeys_decay(&s, 1);
    assert_int_equal(s.n, 1); /* b reached 0 and was freed */
    assert_int_equal(s.e[0].count, 4);
    hotkeys_decay(&s, 100);
    assert_int_equal(s.n, 0);
}

static void test_merge_workers(void **state)
{
    struct hotkeys w1, w2;
    hotkeys_init(&w1);
    hotkeys_init(&w2);
    offer(&w1, "default", "shared", 3);
    offer(&w2, "default", "shared", 4);
    offer(&w1, "default", "only1", 5);
    offer(&w2, "default", "only2", 1);
    const struct hotkeys *parts[] = {&w1, &w2};
    struct hotkey top[2];
    size_t n = hotkeys_merge(parts, 2, top, 2); /* capped at 2 */
    assert_int_equal(n, 2);
    assert_memory_equal(top[0].key, "shared", 6);
    assert_int_equal(top[0].count, 7);
    assert_memory_equal(top[1].key, "only1", 5);
    struct hotkeys empty;
    hotkeys_init(&empty);
    const struct hotkeys *none[] = {&empty};
    assert_int_equal(hotkeys_merge(none, 1, top, 2), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_exact_while_it_fits),
        cmocka_unit_test(test_heavy_hitters_found),
        cmocka_unit_test(test_tables_apart_and_truncation),
        cmocka_unit_test(test_decay),
        cmocka_unit_test(test_merge_workers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
