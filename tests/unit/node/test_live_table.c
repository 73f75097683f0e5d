/*
 * This file implements the unit tests of the live table (node/live_table.c):
 * SET/GET/DEL/EXISTS and the SET flags, binary-safe keys and values, TTLs
 * with lazy and active expiry, incremental resizing of a single shard under
 * inserts and deletes (every key checked while a resize is in progress),
 * eviction under each policy, memory accounting (flush returns to the empty
 * baseline), MGET and MSET (order, missing and duplicate keys, expiry, all-
 * or-nothing memory checks, slot growth) and the memory overhead per key of
 * one million small keys.
 * Time is passed in explicitly, so expiry and LRU ages are deterministic.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live_table.h"

/* A string literal as (pointer, length), embedded NUL bytes included. */
#define LIT(s) (s), (sizeof(s) - 1)

#define T0 INT64_C(1700000000000) /* an arbitrary "now" in Unix ms */

/* ---- helpers ------------------------------------------------------------ */

/* A copy of the last value a visitor was shown. */
struct capture {
    char *data;
    size_t len;
    int calls;
};

static void capture_fn(void *arg, const char *value, size_t len)
{
    struct capture *c = arg;
    free(c->data);
    c->data = malloc(len + 1);
    assert_non_null(c->data);
    if (len)
        memcpy(c->data, value, len);
    c->len = len;
    c->calls++;
}

static void capture_reset(struct capture *c)
{
    free(c->data);
    memset(c, 0, sizeof(*c));
}

/* Compares a visited value with the expected one, without allocating. */
struct expect {
    const char *value;
    size_t len;
    bool match;
};

static void expect_fn(void *arg, const char *value, size_t len)
{
    struct expect *e = arg;
    e->match = len == e->len && (len == 0 || memcmp(value, e->value, len) == 0);
}

/* Asserts that key holds exactly value at now_ms. */
static void assert_value(struct live_table *t, const char *key, size_t klen,
                         int64_t now_ms, const char *value, size_t vlen)
{
    struct expect e = { value, vlen, false };
    assert_int_equal(live_get(t, key, klen, now_ms, expect_fn, &e), LIVE_OK);
    assert_true(e.match);
}

static void assert_verified(struct live_table *t)
{
    char err[256] = "";
    if (live_verify(t, err, sizeof(err)) != 0)
        fail_msg("live_verify: %s", err);
}

static struct live_table *make_table(unsigned shards_log2, uint64_t maxmemory,
                                     enum live_policy policy)
{
    struct live_options o = live_options_default();
    o.shards_log2 = shards_log2;
    o.maxmemory = maxmemory;
    o.policy = policy;
    struct live_table *t = live_create(&o);
    assert_non_null(t);
    return t;
}

static struct live_stats stats_of(struct live_table *t)
{
    struct live_stats s;
    live_get_stats(t, &s);
    return s;
}

/* Key and value of index i for the bulk tests. */
static size_t key_of(char *buf, unsigned i)
{
    return (size_t)sprintf(buf, "key:%u", i);
}

static size_t value_of(char *buf, unsigned i)
{
    return (size_t)sprintf(buf, "value-%u-%u", i, i * 2654435761u);
}

static enum live_status set_plain(struct live_table *t, const char *key,
                                  size_t klen, const char *value, size_t vlen,
                                  int64_t now_ms)
{
    return live_set(t, key, klen, value, vlen, 0, 0, now_ms, NULL, NULL);
}

/* ---- basics ------------------------------------------------------------- */

static void test_policy_names(void **state)
{
    (void)state;
    const char *names[] = { "noeviction", "allkeys-lru", "allkeys-random",
                            "volatile-lru", "volatile-ttl" };
    for (int i = 0; i < 5; i++) {
        assert_int_equal(live_policy_parse(names[i]), i);
        assert_string_equal(live_policy_name((enum live_policy)i), names[i]);
    }
    assert_int_equal(live_policy_parse("allkeys-lfu"), -1);
    assert_int_equal(live_policy_parse(""), -1);
    assert_null(live_policy_name((enum live_policy)99));
}

static void test_options_and_create(void **state)
{
    (void)state;
    struct live_options o = live_options_default();
    assert_int_equal(o.maxmemory, 0);
    assert_int_equal(o.policy, LIVE_NOEVICTION);
    assert_int_equal(o.shards_log2, 8);
    assert_int_equal(o.eviction_samples, 5);
    o.shards_log2 = 40;
    assert_null(live_create(&o));
    struct live_table *t = live_create(NULL);
    assert_non_null(t);
    assert_int_equal(stats_of(t).used_memory, 0);
    live_destroy(&t);
    assert_null(t);
    live_destroy(&t); /* a NULL table is fine */
}

static void test_set_get_overwrite_del_exists(void **state)
{
    (void)state;
    struct live_table *t = make_table(4, 0, LIVE_NOEVICTION);
    assert_int_equal(live_get(t, LIT("a"), T0, NULL, NULL), LIVE_NOTFOUND);
    assert_int_equal(live_exists(t, LIT("a"), T0), LIVE_NOTFOUND);
    assert_int_equal(set_plain(t, LIT("a"), LIT("1"), T0), LIVE_OK);
    assert_value(t, LIT("a"), T0, LIT("1"));
    assert_int_equal(live_exists(t, LIT("a"), T0), LIVE_OK);
    assert_int_equal(live_count(t), 1);

    assert_int_equal(set_plain(t, LIT("a"), LIT("a much longer value"), T0),
                     LIVE_OK);
    assert_value(t, LIT("a"), T0, LIT("a much longer value"));
    assert_int_equal(set_plain(t, LIT("b"), LIT("2"), T0), LIVE_OK);
    assert_int_equal(live_count(t), 2);

    assert_int_equal(live_del(t, LIT("a"), T0), LIVE_OK);
    assert_int_equal(live_del(t, LIT("a"), T0), LIVE_NOTFOUND);
    assert_int_equal(live_get(t, LIT("a"), T0, NULL, NULL), LIVE_NOTFOUND);
    assert_value(t, LIT("b"), T0, LIT("2"));
    assert_int_equal(live_count(t), 1);
    assert_int_equal(stats_of(t).keys, 1);
    assert_verified(t);
    live_destroy(&t);
}

static void test_set_flags_and_old_value(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, 0, LIVE_NOEVICTION);
    struct capture c = { 0 };

    /* GET on a missing key: not called. */
    assert_int_equal(live_set(t, LIT("k"), LIT("v1"), 0, 0, T0, capture_fn, &c),
                     LIVE_OK);
    assert_int_equal(c.calls, 0);
    /* GET on an existing key: the old value, once. */
    assert_int_equal(live_set(t, LIT("k"), LIT("v2"), 0, 0, T0, capture_fn, &c),
                     LIVE_OK);
    assert_int_equal(c.calls, 1);
    assert_memory_equal(c.data, "v1", 2);
    assert_value(t, LIT("k"), T0, LIT("v2"));

    /* NX: refused on an existing key, which keeps its value; GET still
     * reports the value (SET NX GET). */
    assert_int_equal(live_set(t, LIT("k"), LIT("v3"), 0, LIVE_SET_NX, T0,
                              capture_fn, &c), LIVE_NOTSET);
    assert_int_equal(c.calls, 2);
    assert_memory_equal(c.data, "v2", 2);
    assert_value(t, LIT("k"), T0, LIT("v2"));
    assert_int_equal(live_set(t, LIT("n"), LIT("nx"), 0, LIVE_SET_NX, T0, NULL,
                              NULL), LIVE_OK);
    assert_value(t, LIT("n"), T0, LIT("nx"));

    /* XX: refused on a missing key, without calling old_fn. */
    assert_int_equal(live_set(t, LIT("x"), LIT("v"), 0, LIVE_SET_XX, T0,
                              capture_fn, &c), LIVE_NOTSET);
    assert_int_equal(c.calls, 2);
    assert_int_equal(live_exists(t, LIT("x"), T0), LIVE_NOTFOUND);
    assert_int_equal(live_set(t, LIT("k"), LIT("v4"), 0, LIVE_SET_XX, T0, NULL,
                              NULL), LIVE_OK);
    assert_value(t, LIT("k"), T0, LIT("v4"));

    /* KEEPTTL keeps the expiry; a plain SET clears it. */
    assert_int_equal(live_set(t, LIT("k"), LIT("v5"), T0 + 5000, 0, T0, NULL,
                              NULL), LIVE_OK);
    assert_int_equal(live_ttl(t, LIT("k"), T0), 5000);
    assert_int_equal(live_set(t, LIT("k"), LIT("v6"), 0, LIVE_SET_KEEPTTL,
                              T0 + 1000, NULL, NULL), LIVE_OK);
    assert_int_equal(live_ttl(t, LIT("k"), T0 + 1000), 4000);
    assert_value(t, LIT("k"), T0 + 1000, LIT("v6"));
    /* KEEPTTL ignores a new expiry when the key exists... */
    assert_int_equal(live_set(t, LIT("k"), LIT("v7"), T0 + 99000,
                              LIVE_SET_KEEPTTL, T0 + 1000, NULL, NULL), LIVE_OK);
    assert_int_equal(live_ttl(t, LIT("k"), T0 + 1000), 4000);
    /* ... and a key without one keeps having none. */
    assert_int_equal(live_set(t, LIT("n"), LIT("v"), T0 + 99000,
                              LIVE_SET_KEEPTTL, T0, NULL, NULL), LIVE_OK);
    assert_int_equal(live_ttl(t, LIT("n"), T0), -1);
    /* KEEPTTL on a missing key uses the given expiry. */
    assert_int_equal(live_set(t, LIT("fresh"), LIT("v"), T0 + 3000,
                              LIVE_SET_KEEPTTL, T0, NULL, NULL), LIVE_OK);
    assert_int_equal(live_ttl(t, LIT("fresh"), T0), 3000);
    assert_int_equal(live_set(t, LIT("k"), LIT("v8"), 0, 0, T0 + 1000, NULL,
                              NULL), LIVE_OK);
    assert_int_equal(live_ttl(t, LIT("k"), T0 + 1000), -1);
    assert_int_equal(stats_of(t).keys_with_ttl, 1);

    capture_reset(&c);
    assert_verified(t);
    live_destroy(&t);
}

static void test_binary_keys_and_values(void **state)
{
    (void)state;
    struct live_table *t = make_table(3, 0, LIVE_NOEVICTION);
    assert_int_equal(set_plain(t, LIT("a\0b"), LIT("x\0y\0"), T0), LIVE_OK);
    assert_int_equal(set_plain(t, LIT("a\0c"), LIT("other"), T0), LIVE_OK);
    assert_int_equal(set_plain(t, LIT("a"), LIT("short"), T0), LIVE_OK);
    assert_value(t, LIT("a\0b"), T0, LIT("x\0y\0"));
    assert_value(t, LIT("a\0c"), T0, LIT("other"));
    assert_value(t, LIT("a"), T0, LIT("short"));
    assert_int_equal(live_get(t, LIT("a\0"), T0, NULL, NULL), LIVE_NOTFOUND);

    /* The empty key and the empty value. */
    assert_int_equal(set_plain(t, "", 0, LIT("empty key"), T0), LIVE_OK);
    assert_value(t, "", 0, T0, LIT("empty key"));
    assert_int_equal(set_plain(t, LIT("ev"), "", 0, T0), LIVE_OK);
    struct capture c = { 0 };
    assert_int_equal(live_get(t, LIT("ev"), T0, capture_fn, &c), LIVE_OK);
    assert_int_equal(c.calls, 1);
    assert_int_equal(c.len, 0);

    /* A 1 MB value of every byte value, then overwritten by a small one. */
    size_t big_len = 1 << 20;
    char *big = malloc(big_len);
    assert_non_null(big);
    for (size_t i = 0; i < big_len; i++)
        big[i] = (char)(i * 131 + (i >> 9));
    uint64_t before = stats_of(t).used_memory;
    assert_int_equal(set_plain(t, LIT("big\0key"), big, big_len, T0), LIVE_OK);
    uint64_t with_big = stats_of(t).used_memory;
    assert_true(with_big >= before + big_len);
    assert_int_equal(live_get(t, LIT("big\0key"), T0, capture_fn, &c), LIVE_OK);
    assert_int_equal(c.len, big_len);
    assert_memory_equal(c.data, big, big_len);
    assert_int_equal(set_plain(t, LIT("big\0key"), LIT("tiny"), T0), LIVE_OK);
    assert_true(stats_of(t).used_memory < before + 1024);
    assert_value(t, LIT("big\0key"), T0, LIT("tiny"));
    free(big);
    capture_reset(&c);
    assert_verified(t);
    live_destroy(&t);
}

/* ---- expiry ------------------------------------------------------------- */

static void test_ttl_and_expire(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, 0, LIVE_NOEVICTION);
    assert_int_equal(live_ttl(t, LIT("k"), T0), -2);
    assert_int_equal(live_expire(t, LIT("k"), T0 + 1000, T0), LIVE_NOTFOUND);
    assert_int_equal(set_plain(t, LIT("k"), LIT("v"), T0), LIVE_OK);
    assert_int_equal(live_ttl(t, LIT("k"), T0), -1);
    assert_int_equal(stats_of(t).keys_with_ttl, 0);

    /* EXPIRE adds an expiry (the entry grows), then changes it in place. */
    assert_int_equal(live_expire(t, LIT("k"), T0 + 10000, T0), LIVE_OK);
    assert_int_equal(live_ttl(t, LIT("k"), T0), 10000);
    assert_int_equal(live_ttl(t, LIT("k"), T0 + 2500), 7500);
    assert_int_equal(stats_of(t).keys_with_ttl, 1);
    assert_int_equal(live_expire(t, LIT("k"), T0 + 20000, T0), LIVE_OK);
    assert_int_equal(live_ttl(t, LIT("k"), T0), 20000);
    assert_int_equal(stats_of(t).keys_with_ttl, 1);
    assert_value(t, LIT("k"), T0, LIT("v"));
    assert_verified(t);

    /* PERSIST drops the expiry and only that (the entry loses its field;
     * whether its allocation shrinks depends on the allocator's sizes). */
    uint64_t used = stats_of(t).used_memory;
    assert_int_equal(live_persist(t, LIT("k"), T0), LIVE_OK);
    assert_int_equal(live_ttl(t, LIT("k"), T0 + 30000), -1);
    assert_int_equal(stats_of(t).keys_with_ttl, 0);
    assert_true(stats_of(t).used_memory <= used);
    assert_value(t, LIT("k"), T0 + 30000, LIT("v"));
    assert_int_equal(live_persist(t, LIT("k"), T0), LIVE_NOTSET);
    assert_int_equal(live_persist(t, LIT("nope"), T0), LIVE_NOTFOUND);
    assert_verified(t);
    assert_int_equal(live_expire(t, LIT("k"), T0 + 20000, T0), LIVE_OK);

    /* An expiry in the past, or exactly now, deletes at once. */
    assert_int_equal(live_expire(t, LIT("k"), T0 - 1, T0), LIVE_OK);
    assert_int_equal(live_exists(t, LIT("k"), T0 - 5000), LIVE_NOTFOUND);
    assert_int_equal(live_count(t), 0);
    assert_int_equal(set_plain(t, LIT("k"), LIT("v"), T0), LIVE_OK);
    assert_int_equal(live_expire(t, LIT("k"), T0, T0), LIVE_OK);
    assert_int_equal(live_count(t), 0);
    assert_int_equal(stats_of(t).keys_with_ttl, 0);

    /* SET with an expiry already past stores nothing and drops the old. */
    assert_int_equal(set_plain(t, LIT("k"), LIT("v"), T0), LIVE_OK);
    assert_int_equal(live_set(t, LIT("k"), LIT("w"), T0 - 1, 0, T0, NULL, NULL),
                     LIVE_OK);
    assert_int_equal(live_ttl(t, LIT("k"), T0), -2);
    assert_int_equal(live_count(t), 0);
    assert_verified(t);
    live_destroy(&t);
}

static void test_lazy_expiry(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, 0, LIVE_NOEVICTION);
    const int64_t at = T0 + 1000;
    const char *names[] = { "get", "exists", "ttl", "del", "setnx", "expire" };
    for (int i = 0; i < 6; i++)
        assert_int_equal(live_set(t, names[i], strlen(names[i]), LIT("v"), at,
                                  0, T0, NULL, NULL), LIVE_OK);
    assert_int_equal(live_count(t), 6);
    assert_int_equal(live_exists(t, LIT("get"), at - 1), LIVE_OK);

    /* Each access at the expiry time sees no key and reclaims it. */
    assert_int_equal(live_get(t, LIT("get"), at, NULL, NULL), LIVE_NOTFOUND);
    assert_int_equal(live_exists(t, LIT("exists"), at), LIVE_NOTFOUND);
    assert_int_equal(live_ttl(t, LIT("ttl"), at + 5), -2);
    assert_int_equal(live_del(t, LIT("del"), at), LIVE_NOTFOUND);
    assert_int_equal(live_expire(t, LIT("expire"), at + 9999, at), LIVE_NOTFOUND);
    struct capture c = { 0 };
    assert_int_equal(live_set(t, LIT("setnx"), LIT("new"), 0, LIVE_SET_NX, at,
                              capture_fn, &c), LIVE_OK);
    assert_int_equal(c.calls, 0); /* an expired key has no old value */
    assert_value(t, LIT("setnx"), at, LIT("new"));

    struct live_stats st = stats_of(t);
    assert_int_equal(st.keys, 1);
    assert_int_equal(st.expired_keys, 6);
    assert_int_equal(st.keys_with_ttl, 0);
    capture_reset(&c);
    assert_verified(t);
    live_destroy(&t);
}

static void test_active_expiry(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, 0, LIVE_NOEVICTION);
    enum { N = 4000 };
    char key[32], val[64];
    for (unsigned i = 0; i < 2 * N; i++) {
        size_t kl = key_of(key, i), vl = value_of(val, i);
        int64_t at = i % 2 ? T0 + 1000 + i : 0;
        assert_int_equal(live_set(t, key, kl, val, vl, at, 0, T0, NULL, NULL),
                         LIVE_OK);
    }
    assert_int_equal(stats_of(t).keys_with_ttl, N);
    assert_int_equal(live_expire_cycle(t, T0 + 500, 1000000), 0);

    /* Every slot of every shard in a bounded number of small calls. */
    const int64_t later = T0 + 1000 + 2 * N;
    const uint64_t budget = 64;
    const unsigned max_calls = (unsigned)(2 * (2 * N / 0.5) / budget) + 8;
    uint64_t reclaimed = 0;
    unsigned calls = 0;
    while (stats_of(t).keys_with_ttl > 0 && calls < max_calls) {
        reclaimed += live_expire_cycle(t, later, budget);
        calls++;
    }
    print_message("active expiry: %u calls of budget %llu\n", calls,
                  (unsigned long long)budget);
    assert_true(calls < max_calls);
    assert_int_equal(reclaimed, N);
    struct live_stats st = stats_of(t);
    assert_int_equal(st.keys, N);
    assert_int_equal(st.expired_keys, N);
    for (unsigned i = 0; i < 2 * N; i += 2) {
        size_t kl = key_of(key, i), vl = value_of(val, i);
        assert_value(t, key, kl, later, val, vl);
    }
    assert_verified(t);
    live_destroy(&t);
}

static void test_active_expiry_skips_shards_without_ttl(void **state)
{
    (void)state;
    struct live_table *t = make_table(8, 0, LIVE_NOEVICTION);
    char key[32];
    for (unsigned i = 0; i < 2000; i++) {
        size_t kl = key_of(key, i);
        assert_int_equal(set_plain(t, key, kl, LIT("v"), T0), LIVE_OK);
    }
    assert_int_equal(live_set(t, LIT("ttl"), LIT("v"), T0 + 10, 0, T0, NULL,
                              NULL), LIVE_OK);
    /* 256 shards of ~8 keys: walking them all with a budget of 16 slots
     * would take ~150 calls; shards without TTL keys cost nothing. */
    unsigned calls = 0;
    uint64_t reclaimed = 0;
    while (reclaimed == 0 && calls < 3) {
        reclaimed = live_expire_cycle(t, T0 + 10, 16);
        calls++;
    }
    assert_int_equal(reclaimed, 1);
    assert_int_equal(live_count(t), 2000);
    live_destroy(&t);
}

/* ---- resizing ----------------------------------------------------------- */

/* A key space with a record of which keys are stored. */
struct keyspace {
    struct live_table *t;
    bool *present;
    unsigned n;           /* keys 0..n-1 have been used */
    unsigned stored;      /* how many of them are present */
    unsigned cursor;      /* next key for the rotating check */
    unsigned full_checks; /* keyspace_check_all() calls */
    unsigned verified_mid_resize; /* live_verify() runs during a resize */
    unsigned gets_mid_resize;     /* key checks made during a resize */
};

/* Checks key i: its value if stored, absence otherwise. */
static void keyspace_check(struct keyspace *ks, unsigned i)
{
    char key[32], val[64];
    size_t kl = key_of(key, i);
    if (ks->present[i]) {
        size_t vl = value_of(val, i);
        assert_value(ks->t, key, kl, T0, val, vl);
    } else {
        assert_int_equal(live_exists(ks->t, key, kl, T0), LIVE_NOTFOUND);
    }
}

/* Checks every key of the key space, then the table's own invariants. */
static void keyspace_check_all(struct keyspace *ks)
{
    for (unsigned i = 0; i < ks->n; i++)
        keyspace_check(ks, i);
    assert_verified(ks->t);
    assert_int_equal(live_count(ks->t), ks->stored);
    ks->full_checks++;
}

static bool is_resizing(struct live_table *t)
{
    return stats_of(t).resizing_shards > 0;
}

/*
 * Checks after one operation. Every operation advances a resize, so a check
 * of all keys through live_get() would finish the resize it meant to
 * observe. Instead, during a resize: live_verify() every 256 operations
 * (it finds every stored entry through the lookup path without moving
 * anything) and, at every step, 4 keys from a cursor that rotates over the
 * whole key space, so every key is read back mid-resize again and again.
 * Outside resizes: every key through live_get() when a resize ends.
 * Returns whether the shard is resizing.
 */
static bool keyspace_step_check(struct keyspace *ks, bool *was_resizing,
                                unsigned step)
{
    bool now = is_resizing(ks->t);
    if (now && (now != *was_resizing || step % 256 == 0)) {
        assert_verified(ks->t);
        assert_int_equal(live_count(ks->t), ks->stored);
        ks->verified_mid_resize++;
    }
    if (!now && *was_resizing)
        keyspace_check_all(ks);
    *was_resizing = now;
    for (int k = 0; k < 4; k++) {
        ks->cursor = ks->cursor + 1 < ks->n ? ks->cursor + 1 : 0;
        ks->gets_mid_resize += is_resizing(ks->t);
        keyspace_check(ks, ks->cursor);
    }
    return now;
}

static void keyspace_set(struct keyspace *ks, unsigned i)
{
    char key[32], val[64];
    size_t kl = key_of(key, i), vl = value_of(val, i);
    assert_int_equal(set_plain(ks->t, key, kl, val, vl, T0), LIVE_OK);
    assert_value(ks->t, key, kl, T0, val, vl);
    ks->stored += !ks->present[i];
    ks->present[i] = true;
    if (i >= ks->n)
        ks->n = i + 1;
}

static void keyspace_del(struct keyspace *ks, unsigned i)
{
    char key[32];
    size_t kl = key_of(key, i);
    assert_int_equal(live_del(ks->t, key, kl, T0),
                     ks->present[i] ? LIVE_OK : LIVE_NOTFOUND);
    assert_int_equal(live_exists(ks->t, key, kl, T0), LIVE_NOTFOUND);
    ks->stored -= ks->present[i];
    ks->present[i] = false;
}

static void test_resize_single_shard(void **state)
{
    (void)state;
    enum { N = 200000, EXTRA = 100000 };
    struct keyspace ks = { .t = make_table(0, 0, LIVE_NOEVICTION),
                           .present = calloc(N + EXTRA, sizeof(bool)) };
    assert_non_null(ks.present);
    bool resizing = false;
    unsigned resizes = 0, resizing_ops = 0, longest = 0, run = 0;

    /* Growth: 200k inserts into one shard. */
    for (unsigned i = 0; i < N; i++) {
        keyspace_set(&ks, i);
        bool was = resizing;
        if (keyspace_step_check(&ks, &resizing, i)) {
            resizing_ops++;
            run++;
            resizes += !was;
            longest = run > longest ? run : longest;
        } else {
            run = 0;
        }
    }
    assert_int_equal(live_count(ks.t), N);
    keyspace_check_all(&ks);
    /* The resize is incremental: it spans many operations. */
    print_message("growth: %u resizes, %u ops while resizing, longest %u\n",
                  resizes, resizing_ops, longest);
    assert_true(resizes >= 10);
    assert_true(longest >= 500);

    /* Deletes while a growth is in progress: insert until one starts, then
     * delete every third stored key, inserting one new key per delete. */
    unsigned next = N, deletes_mid_resize = 0, step = 0;
    while (!resizing && next < N + EXTRA) {
        keyspace_set(&ks, next++);
        keyspace_step_check(&ks, &resizing, step++);
    }
    assert_true(resizing);
    for (unsigned i = 0; i < N && resizing; i += 3) {
        keyspace_del(&ks, i);
        deletes_mid_resize++;
        if (next < N + EXTRA)
            keyspace_set(&ks, next++);
        keyspace_step_check(&ks, &resizing, step++);
    }
    print_message("deletes during a growth: %u\n", deletes_mid_resize);
    assert_true(deletes_mid_resize >= 100);
    keyspace_check_all(&ks);

    /* Shrink: delete almost everything; keep deleting (and sometimes
     * re-inserting) while the shrink drains the big array. */
    unsigned shrink_ops = 0;
    for (unsigned i = 0; i < ks.n; i++) {
        if (i % 50 == 0 || !ks.present[i])
            continue;
        keyspace_del(&ks, i);
        if (i % 7 == 0)
            keyspace_set(&ks, i - 1);
        shrink_ops += keyspace_step_check(&ks, &resizing, step++);
    }
    print_message("operations during shrinks: %u\n", shrink_ops);
    assert_true(shrink_ops >= 10);
    keyspace_check_all(&ks);
    uint64_t left = live_count(ks.t);
    struct live_stats st = stats_of(ks.t);
    /* Shrunk: the slot arrays no longer reflect the peak of 300k keys. */
    assert_true(st.used_memory < left * 200 + 64 * 1024);
    print_message("full checks %u, verifies mid-resize %u, key checks "
                  "mid-resize %u\n", ks.full_checks, ks.verified_mid_resize,
                  ks.gets_mid_resize);
    /* Each operation moves up to 16 entries, so a resize lasts about
     * (entries / 16) operations: reads mid-resize are bounded by that. */
    assert_true(ks.gets_mid_resize >= N / 10);
    assert_true(ks.verified_mid_resize >= 20);
    free(ks.present);
    live_destroy(&ks.t);
}

/* ---- eviction ----------------------------------------------------------- */

enum { EV_MAX = 256 * 1024, EV_KEYS = 20000 };

/* Inserts key i with a 100-byte value and checks the memory limit. */
static void ev_set(struct live_table *t, unsigned i, int64_t at, int64_t now)
{
    char key[32], val[100];
    size_t kl = key_of(key, i);
    memset(val, 'a' + (int)(i % 26), sizeof(val));
    assert_int_equal(live_set(t, key, kl, val, sizeof(val), at, 0, now, NULL,
                              NULL), LIVE_OK);
    assert_true(stats_of(t).used_memory <= EV_MAX);
}

static bool ev_has(struct live_table *t, unsigned i, int64_t now)
{
    char key[32];
    size_t kl = key_of(key, i);
    return live_exists(t, key, kl, now) == LIVE_OK;
}

/* Every inserted key is stored, evicted or expired, and nothing else. */
static void assert_key_balance(struct live_table *t, uint64_t inserted)
{
    struct live_stats st = stats_of(t);
    assert_int_equal(st.keys + st.evicted_keys + st.expired_keys, inserted);
    assert_true(st.evicted_keys > 0);
    assert_true(st.used_memory <= EV_MAX);
    assert_verified(t);
}

static void test_evict_allkeys_lru(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, EV_MAX, LIVE_ALLKEYS_LRU);
    enum { HOT = 50 };
    int64_t now = T0;
    for (unsigned i = 0; i < HOT; i++)
        ev_set(t, i, 0, now);
    for (unsigned i = HOT; i < EV_KEYS; i++) {
        now += 100;
        ev_set(t, i, 0, now);
        if (i % 10 == 0) {
            char key[32];
            for (unsigned h = 0; h < HOT; h++) {
                size_t kl = key_of(key, h);
                live_get(t, key, kl, now, NULL, NULL);
            }
        }
    }
    unsigned hot_left = 0;
    for (unsigned h = 0; h < HOT; h++)
        hot_left += ev_has(t, h, now);
    print_message("allkeys-lru: %u of %u hot keys survive, %llu keys\n",
                  hot_left, HOT, (unsigned long long)live_count(t));
    assert_true(hot_left >= HOT * 9 / 10);
    assert_key_balance(t, EV_KEYS);
    live_destroy(&t);
}

static void test_evict_allkeys_random(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, EV_MAX, LIVE_ALLKEYS_RANDOM);
    for (unsigned i = 0; i < EV_KEYS; i++)
        ev_set(t, i, i % 3 ? 0 : T0 + 1000000, T0 + i);
    /* Random eviction spares no one: early keys are almost all gone. */
    unsigned early_left = 0;
    for (unsigned i = 0; i < 1000; i++)
        early_left += ev_has(t, i, T0 + EV_KEYS);
    assert_true(early_left < 100);
    assert_key_balance(t, EV_KEYS);
    live_destroy(&t);
}

static void test_evict_volatile_lru(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, EV_MAX, LIVE_VOLATILE_LRU);
    enum { PERSISTENT = 200 };
    int64_t now = T0;
    for (unsigned i = 0; i < PERSISTENT; i++)
        ev_set(t, i, 0, now);
    for (unsigned i = PERSISTENT; i < EV_KEYS; i++) {
        now += 100;
        ev_set(t, i, now + 100000000, now);
    }
    for (unsigned i = 0; i < PERSISTENT; i++)
        assert_true(ev_has(t, i, now)); /* keys without TTL are never evicted */
    assert_key_balance(t, EV_KEYS);
    live_destroy(&t);
}

static void test_evict_volatile_needs_ttl_keys(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, 64 * 1024, LIVE_VOLATILE_LRU);
    char key[32], val[100] = { 0 };
    enum live_status rc = LIVE_OK;
    unsigned i;
    for (i = 0; i < 10000 && rc == LIVE_OK; i++) {
        size_t kl = key_of(key, i);
        rc = set_plain(t, key, kl, val, sizeof(val), T0);
    }
    assert_int_equal(rc, LIVE_OOM);
    struct live_stats st = stats_of(t);
    assert_int_equal(st.evicted_keys, 0);
    assert_int_equal(st.keys, i - 1);
    assert_true(st.used_memory <= 64 * 1024);
    live_destroy(&t);
}

static void test_evict_volatile_ttl(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, EV_MAX, LIVE_VOLATILE_TTL);
    /* Expiry times unrelated to insertion order: the survivors are mostly
     * keys with a far expiry (LRU or random eviction keep about as many
     * near ones as far ones). */
    const uint32_t spread = 1000000;
    unsigned far = 0, near = 0;
    for (unsigned i = 0; i < EV_KEYS; i++)
        ev_set(t, i, T0 + 100000000 + (i * 2654435761u) % spread, T0 + i);
    for (unsigned i = 0; i < EV_KEYS; i++) {
        if (ev_has(t, i, T0 + EV_KEYS))
            *((i * 2654435761u) % spread >= spread / 2 ? &far : &near) += 1;
    }
    print_message("volatile-ttl survivors: %u far, %u near expiry\n", far, near);
    assert_true(far > 3 * near);
    assert_key_balance(t, EV_KEYS);
    live_destroy(&t);
}

static void test_evict_reclaims_expired_first(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, EV_MAX, LIVE_ALLKEYS_LRU);
    /* Fill to the limit with keys that all expire at T0 + 1000. */
    unsigned n = 0;
    while (stats_of(t).evicted_keys == 0 && n < EV_KEYS)
        ev_set(t, n++, T0 + 1000, T0);
    assert_true(n < EV_KEYS);
    uint64_t evicted = stats_of(t).evicted_keys;
    /* Later, a big value needs room: every sample is expired, so expired
     * keys are reclaimed and nothing live is evicted. */
    size_t big_len = EV_MAX / 2;
    char *big = calloc(1, big_len);
    assert_non_null(big);
    assert_int_equal(set_plain(t, LIT("big"), big, big_len, T0 + 2000), LIVE_OK);
    struct live_stats st = stats_of(t);
    assert_int_equal(st.evicted_keys, evicted);
    assert_true(st.expired_keys > 0);
    assert_true(st.used_memory <= EV_MAX);
    free(big);
    assert_verified(t);
    live_destroy(&t);
}

static void test_noeviction(void **state)
{
    (void)state;
    const uint64_t max = 64 * 1024;
    struct live_table *t = make_table(2, max, LIVE_NOEVICTION);
    char key[32], val[100] = { 0 };
    enum live_status rc = LIVE_OK;
    unsigned n = 0;
    while (rc == LIVE_OK) {
        size_t kl = key_of(key, n);
        rc = set_plain(t, key, kl, val, sizeof(val), T0);
        assert_true(stats_of(t).used_memory <= max);
        n += rc == LIVE_OK;
    }
    assert_int_equal(rc, LIVE_OOM);
    assert_int_equal(live_count(t), n);
    assert_int_equal(stats_of(t).evicted_keys, 0);

    /* SET ... GET that fails shows no old value; the key is unchanged. */
    struct capture c = { 0 };
    char bigger[4000] = { 1 };
    size_t kl0 = key_of(key, 0);
    uint64_t used = stats_of(t).used_memory;
    if (used + 4000 > max) {
        assert_int_equal(live_set(t, key, kl0, bigger, sizeof(bigger), 0, 0, T0,
                                  capture_fn, &c), LIVE_OOM);
        assert_int_equal(c.calls, 0);
        assert_value(t, key, kl0, T0, val, sizeof(val));
    }
    /* Overwriting with a smaller value and deleting still work. */
    assert_int_equal(set_plain(t, key, kl0, LIT("s"), T0), LIVE_OK);
    assert_true(stats_of(t).used_memory < used);
    size_t kl1 = key_of(key, 1);
    assert_int_equal(live_del(t, key, kl1, T0), LIVE_OK);
    size_t kl = key_of(key, n);
    assert_int_equal(set_plain(t, key, kl, val, sizeof(val), T0), LIVE_OK);
    assert_true(stats_of(t).used_memory <= max);
    capture_reset(&c);
    assert_verified(t);
    live_destroy(&t);
}

static void test_value_larger_than_limit(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, 64 * 1024, LIVE_ALLKEYS_LRU);
    for (unsigned i = 0; i < 100; i++)
        ev_set(t, i, 0, T0);
    char *big = calloc(1, 100 * 1024);
    assert_non_null(big);
    /* Cannot fit even in an empty table: refused without evicting. */
    assert_int_equal(set_plain(t, LIT("big"), big, 100 * 1024, T0), LIVE_OOM);
    assert_int_equal(live_count(t), 100);
    assert_int_equal(stats_of(t).evicted_keys, 0);
    free(big);
    live_destroy(&t);
}

static void test_slot_growth_counts_against_limit(void **state)
{
    (void)state;
    char key[32], val[64];
    /* Find, without a limit, the insert that grows the slot array: memory
     * jumps by much more than one entry. */
    struct live_table *t = make_table(0, 0, LIVE_NOEVICTION);
    uint64_t before = 0;
    unsigned grow_at = 0;
    for (unsigned i = 0; i < 10000 && grow_at == 0; i++) {
        before = stats_of(t).used_memory;
        size_t kl = key_of(key, i), vl = value_of(val, i);
        assert_int_equal(set_plain(t, key, kl, val, vl, T0), LIVE_OK);
        if (i > 100 && stats_of(t).used_memory > before + 512)
            grow_at = i;
    }
    live_destroy(&t);
    assert_true(grow_at > 0);

    /* The same inserts, then a limit with room for the next entry but not
     * for the larger array (growth depends only on the key count; entry
     * charges may differ by a chunk with the allocator's state): refused,
     * and the limit holds. */
    t = make_table(0, 0, LIVE_NOEVICTION);
    for (unsigned i = 0; i < grow_at; i++) {
        size_t kl = key_of(key, i), vl = value_of(val, i);
        assert_int_equal(set_plain(t, key, kl, val, vl, T0), LIVE_OK);
    }
    const uint64_t max = stats_of(t).used_memory + 256;
    live_set_limits(t, max, LIVE_NOEVICTION);
    size_t kl = key_of(key, grow_at), vl = value_of(val, grow_at);
    assert_int_equal(set_plain(t, key, kl, val, vl, T0), LIVE_OOM);
    assert_true(stats_of(t).used_memory <= max);
    assert_int_equal(live_count(t), grow_at);
    assert_verified(t);
    live_destroy(&t);
}

static void test_set_limits_at_run_time(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, 0, LIVE_NOEVICTION);
    char key[32], val[100] = { 0 };
    for (unsigned i = 0; i < 3000; i++) {
        size_t kl = key_of(key, i);
        assert_int_equal(set_plain(t, key, kl, val, sizeof(val), T0), LIVE_OK);
    }
    uint64_t used = stats_of(t).used_memory;
    assert_true(used > 300000);
    /* A lower limit with noeviction: new keys are refused... */
    live_set_limits(t, 200000, LIVE_NOEVICTION);
    size_t kl = key_of(key, 5000);
    assert_int_equal(set_plain(t, key, kl, val, sizeof(val), T0), LIVE_OOM);
    /* ... and with an evicting policy the next write evicts down to it. */
    live_set_limits(t, 200000, LIVE_ALLKEYS_RANDOM);
    assert_int_equal(set_plain(t, key, kl, val, sizeof(val), T0), LIVE_OK);
    struct live_stats st = stats_of(t);
    assert_true(st.used_memory <= 200000);
    assert_true(st.evicted_keys > 0);
    live_set_limits(t, 0, LIVE_NOEVICTION);
    assert_int_equal(set_plain(t, LIT("more"), val, sizeof(val), T0), LIVE_OK);
    assert_verified(t);
    live_destroy(&t);
}

/* ---- MGET and MSET ------------------------------------------------------ */

/* Checks live_mget() visits against expected values (NULL: missing). */
struct mget_expect {
    const char *const *values;
    const size_t *lens;
    size_t next;       /* index of the next visit */
    unsigned mismatches;
};

static void mget_expect_fn(void *arg, const char *value, size_t len)
{
    struct mget_expect *m = arg;
    const char *want = m->values[m->next];
    size_t want_len = m->lens[m->next];
    m->next++;
    if (want == NULL ? value != NULL
                     : value == NULL || len != want_len
                       || (len != 0 && memcmp(value, want, len) != 0))
        m->mismatches++;
}

/* Asserts that live_mget() of keys shows values, in order. */
static void assert_mget(struct live_table *t, const char *const *keys,
                        const size_t *klens, size_t n, int64_t now_ms,
                        const char *const *values, const size_t *vlens)
{
    struct mget_expect m = { values, vlens, 0, 0 };
    size_t found = 0;
    for (size_t i = 0; i < n; i++)
        found += values[i] != NULL;
    assert_int_equal(live_mget(t, keys, klens, n, now_ms, mget_expect_fn, &m),
                     found);
    assert_int_equal(m.next, n);
    assert_int_equal(m.mismatches, 0);
}

/* n generated keys and values, with pointer and length arrays. */
struct kv_batch {
    size_t n;
    char (*keys)[32];
    char (*vals)[64];
    const char **kp, **vp;
    size_t *kl, *vl;
};

/* Keys key_of(first..first+n-1); value suffix `tag` tells batches apart. */
static void batch_make(struct kv_batch *b, unsigned first, size_t n,
                       const char *tag)
{
    b->n = n;
    b->keys = calloc(n, sizeof(*b->keys));
    b->vals = calloc(n, sizeof(*b->vals));
    b->kp = calloc(n, sizeof(*b->kp));
    b->vp = calloc(n, sizeof(*b->vp));
    b->kl = calloc(n, sizeof(*b->kl));
    b->vl = calloc(n, sizeof(*b->vl));
    assert_true(b->keys && b->vals && b->kp && b->vp && b->kl && b->vl);
    for (size_t i = 0; i < n; i++) {
        b->kl[i] = key_of(b->keys[i], first + (unsigned)i);
        b->vl[i] = (size_t)snprintf(b->vals[i], sizeof(b->vals[i]),
                                    "%s-%u", tag, first + (unsigned)i);
        b->kp[i] = b->keys[i];
        b->vp[i] = b->vals[i];
    }
}

static void batch_free(struct kv_batch *b)
{
    free(b->keys);
    free(b->vals);
    free(b->kp);
    free(b->vp);
    free(b->kl);
    free(b->vl);
}

static enum live_status batch_mset(struct live_table *t,
                                   const struct kv_batch *b, int64_t now_ms)
{
    return live_mset(t, b->kp, b->kl, b->vp, b->vl, b->n, now_ms);
}

/* Asserts every key of b holds its value, with one live_mget(). */
static void batch_assert_stored(struct live_table *t, const struct kv_batch *b,
                                int64_t now_ms)
{
    assert_mget(t, b->kp, b->kl, b->n, now_ms, b->vp, b->vl);
}

/* Counts the keys of b that exist. */
static size_t batch_count_present(struct live_table *t,
                                  const struct kv_batch *b, int64_t now_ms)
{
    size_t n = 0;
    for (size_t i = 0; i < b->n; i++)
        n += live_exists(t, b->kp[i], b->kl[i], now_ms) == LIVE_OK;
    return n;
}

static void test_mset_mget_basic(void **state)
{
    (void)state;
    struct live_table *t = make_table(4, 0, LIVE_NOEVICTION);
    const char *keys[] = { "a", "b\0x", "", "c" };
    size_t klens[] = { 1, 3, 0, 1 };
    const char *vals[] = { "1", "two\0", "empty key", "" };
    size_t vlens[] = { 1, 4, 9, 0 };
    assert_int_equal(live_mset(t, keys, klens, vals, vlens, 4, T0), LIVE_OK);
    assert_int_equal(live_count(t), 4);
    assert_mget(t, keys, klens, 4, T0, vals, vlens);
    assert_value(t, LIT("b\0x"), T0, LIT("two\0"));

    /* Missing keys are visited too, with NULL; a key may be asked twice. */
    const char *ask[] = { "nope", "c", "a", "b", "a" };
    size_t asklens[] = { 4, 1, 1, 1, 1 };
    const char *want[] = { NULL, "", "1", NULL, "1" };
    size_t wantlens[] = { 0, 0, 1, 0, 1 };
    assert_mget(t, ask, asklens, 5, T0, want, wantlens);
    assert_int_equal(live_mget(t, ask, asklens, 0, T0, mget_expect_fn, NULL),
                     0);
    assert_int_equal(live_mset(t, keys, klens, vals, vlens, 0, T0), LIVE_OK);

    /* MSET overwrites and clears expiry times, like SET. */
    assert_int_equal(live_set(t, LIT("a"), LIT("old"), T0 + 5000, 0, T0, NULL,
                              NULL), LIVE_OK);
    assert_int_equal(stats_of(t).keys_with_ttl, 1);
    const char *v2[] = { "new a", "new b", "new empty", "new c" };
    size_t v2lens[] = { 5, 5, 9, 5 };
    assert_int_equal(live_mset(t, keys, klens, v2, v2lens, 4, T0), LIVE_OK);
    assert_int_equal(live_ttl(t, LIT("a"), T0), -1);
    assert_int_equal(stats_of(t).keys_with_ttl, 0);
    assert_int_equal(live_count(t), 4);
    assert_mget(t, keys, klens, 4, T0, v2, v2lens);
    assert_verified(t);
    live_destroy(&t);
}

static void test_mset_mget_many_keys(void **state)
{
    (void)state;
    /* Beyond the on-stack arrays, over every shard, and (one shard) a
     * batch far larger than the shard's array. */
    for (unsigned shards_log2 = 0; shards_log2 <= 8; shards_log2 += 8) {
        struct live_table *t = make_table(shards_log2, 0, LIVE_NOEVICTION);
        struct kv_batch a, b;
        batch_make(&a, 0, 20000, "a");
        batch_make(&b, 10000, 20000, "b"); /* half old keys, half new */
        assert_int_equal(batch_mset(t, &a, T0), LIVE_OK);
        batch_assert_stored(t, &a, T0);
        assert_verified(t);
        assert_int_equal(batch_mset(t, &b, T0), LIVE_OK);
        assert_int_equal(live_count(t), 30000);
        batch_assert_stored(t, &b, T0);
        assert_mget(t, a.kp, a.kl, 10000, T0, a.vp, a.vl);
        assert_verified(t);
        /* MSET grows a shard once, to the size it needs: the slot arrays
         * stay within what 1.5x growth would have reached. */
        struct live_stats st = stats_of(t);
        print_message("%u shard(s): 30000 keys in %llu bytes\n",
                      1u << shards_log2, (unsigned long long)st.used_memory);
        assert_true(st.used_memory < 30000 * (64 + 8 * 1.5 / 0.85) + 65536);
        batch_free(&a);
        batch_free(&b);
        live_destroy(&t);
    }
}

static void test_mset_into_resizing_shard(void **state)
{
    (void)state;
    /* A shard that has just started to grow, then an MSET of as many new
     * keys as it holds: more than its new array takes, so the resize in
     * progress is finished and the shard grows again, before any write. */
    struct live_table *t = make_table(0, 0, LIVE_NOEVICTION);
    char key[32], val[64];
    unsigned n = 0;
    while (n < 1000 || !is_resizing(t)) {
        size_t kl = key_of(key, n), vl = value_of(val, n);
        assert_int_equal(set_plain(t, key, kl, val, vl, T0), LIVE_OK);
        n++;
    }
    struct kv_batch b;
    batch_make(&b, n, n, "m");
    assert_int_equal(batch_mset(t, &b, T0), LIVE_OK);
    assert_int_equal(live_count(t), 2 * n);
    assert_verified(t);
    batch_assert_stored(t, &b, T0);
    for (unsigned i = 0; i < n; i++) {
        size_t kl = key_of(key, i), vl = value_of(val, i);
        assert_value(t, key, kl, T0, val, vl);
    }
    batch_free(&b);
    live_destroy(&t);
}

static void test_mset_duplicate_keys(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, 0, LIVE_NOEVICTION);
    assert_int_equal(set_plain(t, LIT("b"), LIT("old b"), T0), LIVE_OK);
    /* The last value of a key wins, as in Redis. */
    const char *keys[] = { "a", "b", "a", "c", "b", "a" };
    size_t klens[] = { 1, 1, 1, 1, 1, 1 };
    const char *vals[] = { "a1", "b1", "a2", "c1", "b2", "a3" };
    size_t vlens[] = { 2, 2, 2, 2, 2, 2 };
    assert_int_equal(live_mset(t, keys, klens, vals, vlens, 6, T0), LIVE_OK);
    assert_int_equal(live_count(t), 3);
    assert_value(t, LIT("a"), T0, LIT("a3"));
    assert_value(t, LIT("b"), T0, LIT("b2"));
    assert_value(t, LIT("c"), T0, LIT("c1"));
    assert_verified(t);
    live_destroy(&t);

    /* One new key given 10000 times costs one entry, not 10000 (nor a
     * slot array sized for 10000). */
    t = make_table(0, 0, LIVE_NOEVICTION);
    enum { DUPS = 10000 };
    const char **kp = calloc(DUPS, sizeof(*kp));
    const char **vp = calloc(DUPS, sizeof(*vp));
    size_t *kl = calloc(DUPS, sizeof(*kl)), *vl = calloc(DUPS, sizeof(*vl));
    char (*vals2)[16] = calloc(DUPS, sizeof(*vals2));
    assert_true(kp && vp && kl && vl && vals2);
    for (unsigned i = 0; i < DUPS; i++) {
        kp[i] = "k";
        kl[i] = 1;
        vl[i] = (size_t)sprintf(vals2[i], "v%u", i);
        vp[i] = vals2[i];
    }
    assert_int_equal(live_mset(t, kp, kl, vp, vl, DUPS, T0), LIVE_OK);
    assert_int_equal(live_count(t), 1);
    assert_value(t, LIT("k"), T0, vals2[DUPS - 1], vl[DUPS - 1]);
    assert_true(stats_of(t).used_memory < 256);
    assert_verified(t);
    free(kp);
    free(vp);
    free(kl);
    free(vl);
    free(vals2);
    live_destroy(&t);
}

static void test_mset_mget_expiry(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, 0, LIVE_NOEVICTION);
    const int64_t at = T0 + 1000;
    assert_int_equal(live_set(t, LIT("t1"), LIT("x"), at, 0, T0, NULL, NULL),
                     LIVE_OK);
    assert_int_equal(live_set(t, LIT("t2"), LIT("y"), at, 0, T0, NULL, NULL),
                     LIVE_OK);
    assert_int_equal(set_plain(t, LIT("p"), LIT("z"), T0), LIVE_OK);
    const char *keys[] = { "t1", "p", "t2" };
    size_t klens[] = { 2, 1, 2 };

    /* Before the expiry time both are seen; at it, MGET reclaims them. */
    const char *before[] = { "x", "z", "y" };
    size_t blens[] = { 1, 1, 1 };
    assert_mget(t, keys, klens, 3, at - 1, before, blens);
    const char *after[] = { NULL, "z", NULL };
    size_t alens[] = { 0, 1, 0 };
    assert_mget(t, keys, klens, 3, at, after, alens);
    struct live_stats st = stats_of(t);
    assert_int_equal(st.keys, 1);
    assert_int_equal(st.expired_keys, 2);
    assert_int_equal(st.keys_with_ttl, 0);

    /* MSET over a key that expired but was not reclaimed yet: a new key. */
    assert_int_equal(live_set(t, LIT("t3"), LIT("old"), at, 0, T0, NULL, NULL),
                     LIVE_OK);
    const char *mk[] = { "t3", "p" };
    size_t mkl[] = { 2, 1 };
    const char *mv[] = { "new", "zz" };
    size_t mvl[] = { 3, 2 };
    assert_int_equal(live_mset(t, mk, mkl, mv, mvl, 2, at), LIVE_OK);
    assert_mget(t, mk, mkl, 2, at + 99999, mv, mvl);
    st = stats_of(t);
    assert_int_equal(st.keys, 2);
    assert_int_equal(st.expired_keys, 3);
    assert_int_equal(st.keys_with_ttl, 0);
    assert_verified(t);
    live_destroy(&t);
}

static void test_mget_marks_keys_used(void **state)
{
    (void)state;
    /* As test_evict_allkeys_lru, with the hot keys read by MGET. */
    struct live_table *t = make_table(2, EV_MAX, LIVE_ALLKEYS_LRU);
    enum { HOT = 50 };
    struct kv_batch hot;
    batch_make(&hot, 0, HOT, "hot");
    int64_t now = T0;
    assert_int_equal(batch_mset(t, &hot, now), LIVE_OK);
    for (unsigned i = HOT; i < EV_KEYS; i++) {
        now += 100;
        ev_set(t, i, 0, now);
        if (i % 10 == 0) {
            struct mget_expect m = { hot.vp, hot.vl, 0, 0 };
            live_mget(t, hot.kp, hot.kl, HOT, now, mget_expect_fn, &m);
        }
    }
    size_t hot_left = batch_count_present(t, &hot, now);
    print_message("allkeys-lru with MGET: %zu of %u hot keys survive\n",
                  hot_left, HOT);
    assert_true(hot_left >= HOT * 9 / 10);
    assert_key_balance(t, EV_KEYS);
    batch_free(&hot);
    live_destroy(&t);
}

static void test_mset_oom_writes_nothing(void **state)
{
    (void)state;
    const uint64_t max = 64 * 1024;
    struct live_table *t = make_table(2, max, LIVE_NOEVICTION);
    char key[32], val[100] = { 0 };
    unsigned n = 0;
    /* Fill to the limit with no resize left in progress (finishing one
     * frees the old array, so fill again after it). Then less room is left
     * than one more key and a grown slot array need: under 3 KB here. */
    for (;;) {
        while (set_plain(t, key, key_of(key, n), val, sizeof(val), T0)
               == LIVE_OK)
            n++;
        if (!is_resizing(t))
            break;
        for (int i = 0; i < 1000 && is_resizing(t); i++)
            live_expire_cycle(t, T0, 1000); /* each visit advances one */
    }
    uint64_t used = stats_of(t).used_memory;

    /* 200 new keys (8 KB at least), of which the first few would fit:
     * none is written. */
    struct kv_batch fresh;
    batch_make(&fresh, n, 200, "new");
    assert_int_equal(batch_mset(t, &fresh, T0), LIVE_OOM);
    assert_int_equal(batch_count_present(t, &fresh, T0), 0);
    assert_int_equal(live_count(t), n);
    assert_int_equal(stats_of(t).used_memory, used);

    /* A failing MSET that also names existing keys leaves them alone
     * (values as large as theirs, so replacing them frees no room). */
    struct kv_batch mixed;
    batch_make(&mixed, n - 5, 55, "mixed");
    char big_val[sizeof(val)];
    memset(big_val, 'M', sizeof(big_val));
    for (size_t i = 0; i < mixed.n; i++) {
        mixed.vp[i] = big_val;
        mixed.vl[i] = sizeof(big_val);
    }
    assert_int_equal(batch_mset(t, &mixed, T0), LIVE_OOM);
    for (unsigned i = n - 5; i < n; i++)
        assert_value(t, key, key_of(key, i), T0, val, sizeof(val));
    assert_int_equal(batch_count_present(t, &mixed, T0), 5);
    assert_int_equal(stats_of(t).used_memory, used);

    /* Overwriting with values of the same size needs no room: it works at
     * the limit, like SET, because only the net growth is checked. */
    const char *kp[10];
    size_t kl[10], vl[10];
    const char *vp[10];
    char keys[10][32], vals[10][100];
    for (unsigned i = 0; i < 10; i++) {
        kl[i] = key_of(keys[i], i);
        kp[i] = keys[i];
        memset(vals[i], 'A' + (int)i, sizeof(vals[i]));
        vp[i] = vals[i];
        vl[i] = sizeof(vals[i]);
    }
    assert_int_equal(live_mset(t, kp, kl, vp, vl, 10, T0), LIVE_OK);
    assert_mget(t, kp, kl, 10, T0, vp, vl);
    assert_true(stats_of(t).used_memory <= max);
    assert_int_equal(stats_of(t).evicted_keys, 0);
    assert_verified(t);
    batch_free(&fresh);
    batch_free(&mixed);
    live_destroy(&t);
}

static void test_mset_evicts_to_fit(void **state)
{
    (void)state;
    struct live_table *t = make_table(4, EV_MAX, LIVE_ALLKEYS_LRU);
    unsigned n = 0;
    while (stats_of(t).evicted_keys == 0) {
        ev_set(t, n, 0, T0 + n);
        n++;
    }
    uint64_t evicted = stats_of(t).evicted_keys;

    /* 200 new keys over 16 shards: room is made with no lock held. */
    struct kv_batch b;
    batch_make(&b, n, 200, "evicting");
    assert_int_equal(batch_mset(t, &b, T0 + n + 1), LIVE_OK);
    batch_assert_stored(t, &b, T0 + n + 1);
    struct live_stats st = stats_of(t);
    assert_true(st.evicted_keys > evicted);
    assert_true(st.used_memory <= EV_MAX);
    assert_verified(t);

    /* More than the limit in one MSET: refused without evicting. */
    char *big = calloc(1, EV_MAX / 2);
    assert_non_null(big);
    const char *kp[] = { "big1", "big2", "big3" };
    size_t kl[] = { 4, 4, 4 };
    const char *vp[] = { big, big, big };
    size_t vl[] = { EV_MAX / 2, EV_MAX / 2, EV_MAX / 2 };
    assert_int_equal(live_mset(t, kp, kl, vp, vl, 3, T0 + n + 2), LIVE_OOM);
    assert_int_equal(stats_of(t).evicted_keys, st.evicted_keys);
    assert_int_equal(live_exists(t, LIT("big1"), T0 + n + 2), LIVE_NOTFOUND);
    free(big);
    batch_free(&b);
    live_destroy(&t);
}

static void test_mset_growth_counts_against_limit(void **state)
{
    (void)state;
    /* Without a limit, the memory an MSET of 1000 keys into an empty
     * one-shard table ends up holding: its entries and the slot array it
     * sizes for them (over 1000 / 0.85 slots: more than 9 KB). */
    struct kv_batch b;
    batch_make(&b, 0, 1000, "grow");
    struct live_table *t = make_table(0, 0, LIVE_NOEVICTION);
    assert_int_equal(batch_mset(t, &b, T0), LIVE_OK);
    const uint64_t full = stats_of(t).used_memory;
    assert_true(full > 1000 * (1 / 0.85) * 8);
    live_destroy(&t);

    /* A limit 2 KB short of that leaves room for the entries but not the
     * array: refused, nothing written. 2 KB over it is enough. (Margins:
     * entry charges may differ by a chunk with the allocator's state.) */
    t = make_table(0, full - 2048, LIVE_NOEVICTION);
    assert_int_equal(batch_mset(t, &b, T0), LIVE_OOM);
    assert_int_equal(live_count(t), 0);
    assert_int_equal(stats_of(t).used_memory, 0);
    live_set_limits(t, full + 2048, LIVE_NOEVICTION);
    assert_int_equal(batch_mset(t, &b, T0), LIVE_OK);
    assert_true(stats_of(t).used_memory <= full + 2048);
    batch_assert_stored(t, &b, T0);
    assert_verified(t);
    batch_free(&b);
    live_destroy(&t);
}

/* ---- memory ------------------------------------------------------------- */

static void test_flush_returns_to_baseline(void **state)
{
    (void)state;
    struct live_table *t = make_table(2, 0, LIVE_NOEVICTION);
    const uint64_t baseline = stats_of(t).used_memory;
    char key[32], val[64];
    /* Stop while a shard is resizing, so flush must free both arrays. */
    unsigned i = 0;
    while (i < 100000 && (i < 5000 || !is_resizing(t))) {
        size_t kl = key_of(key, i), vl = value_of(val, i);
        assert_int_equal(live_set(t, key, kl, val, vl, i % 2 ? T0 + 5000 : 0, 0,
                                  T0, NULL, NULL), LIVE_OK);
        i++;
    }
    assert_true(is_resizing(t));
    assert_true(stats_of(t).used_memory > baseline + i * 16);
    live_flush(t);
    struct live_stats st = stats_of(t);
    assert_int_equal(st.used_memory, baseline);
    assert_int_equal(st.keys, 0);
    assert_int_equal(st.keys_with_ttl, 0);
    assert_int_equal(st.resizing_shards, 0);
    assert_int_equal(live_count(t), 0);
    size_t kl = key_of(key, 1);
    assert_int_equal(live_exists(t, key, kl, T0), LIVE_NOTFOUND);
    assert_verified(t);
    /* The table is usable again, and deleting everything also returns to
     * the baseline once the shards have shrunk. */
    for (i = 0; i < 1000; i++) {
        kl = key_of(key, i);
        assert_int_equal(set_plain(t, key, kl, LIT("v"), T0), LIVE_OK);
    }
    for (i = 0; i < 1000; i++) {
        kl = key_of(key, i);
        assert_int_equal(live_del(t, key, kl, T0), LIVE_OK);
    }
    for (i = 0; i < 100 && is_resizing(t); i++)
        live_exists(t, LIT("x"), T0);
    live_flush(t);
    assert_int_equal(stats_of(t).used_memory, baseline);
    live_destroy(&t);
}

static void test_memory_overhead_1m_keys(void **state)
{
    (void)state;
    enum { N = 1000000, KLEN = 16, VLEN = 64 };
    struct live_table *t = live_create(NULL); /* default options */
    assert_non_null(t);
    char key[KLEN + 1], val[VLEN];
    memset(val, 'v', sizeof(val));
    for (unsigned i = 0; i < N; i++) {
        snprintf(key, sizeof(key), "k%015u", i);
        memcpy(val, key, KLEN);
        assert_int_equal(live_set(t, key, KLEN, val, VLEN, 0, 0, T0, NULL, NULL),
                         LIVE_OK);
    }
    struct live_stats st = stats_of(t);
    assert_int_equal(st.keys, N);
    double payload = (double)N * (KLEN + VLEN);
    double overhead = ((double)st.used_memory - payload) / N;
    print_message("1M keys (16 B keys, 64 B values): used_memory %llu, "
                  "overhead %.2f bytes/key, %llu shards resizing\n",
                  (unsigned long long)st.used_memory, overhead,
                  (unsigned long long)st.resizing_shards);
    /* A slot costs at least 8 B / 0.85; an entry at least its header. */
    assert_true(overhead >= 8 / 0.85 + 7);
    assert_true(overhead <= 32.0);
    snprintf(key, sizeof(key), "k%015u", 123456u);
    memcpy(val, key, KLEN);
    assert_value(t, key, KLEN, T0, val, VLEN);
    live_flush(t);
    assert_int_equal(stats_of(t).used_memory, 0);
    live_destroy(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_policy_names),
        cmocka_unit_test(test_options_and_create),
        cmocka_unit_test(test_set_get_overwrite_del_exists),
        cmocka_unit_test(test_set_flags_and_old_value),
        cmocka_unit_test(test_binary_keys_and_values),
        cmocka_unit_test(test_ttl_and_expire),
        cmocka_unit_test(test_lazy_expiry),
        cmocka_unit_test(test_active_expiry),
        cmocka_unit_test(test_active_expiry_skips_shards_without_ttl),
        cmocka_unit_test(test_resize_single_shard),
        cmocka_unit_test(test_evict_allkeys_lru),
        cmocka_unit_test(test_evict_allkeys_random),
        cmocka_unit_test(test_evict_volatile_lru),
        cmocka_unit_test(test_evict_volatile_needs_ttl_keys),
        cmocka_unit_test(test_evict_volatile_ttl),
        cmocka_unit_test(test_evict_reclaims_expired_first),
        cmocka_unit_test(test_noeviction),
        cmocka_unit_test(test_value_larger_than_limit),
        cmocka_unit_test(test_slot_growth_counts_against_limit),
        cmocka_unit_test(test_set_limits_at_run_time),
        cmocka_unit_test(test_mset_mget_basic),
        cmocka_unit_test(test_mset_mget_many_keys),
        cmocka_unit_test(test_mset_into_resizing_shard),
        cmocka_unit_test(test_mset_duplicate_keys),
        cmocka_unit_test(test_mset_mget_expiry),
        cmocka_unit_test(test_mget_marks_keys_used),
        cmocka_unit_test(test_mset_oom_writes_nothing),
        cmocka_unit_test(test_mset_evicts_to_fit),
        cmocka_unit_test(test_mset_growth_counts_against_limit),
        cmocka_unit_test(test_flush_returns_to_baseline),
        cmocka_unit_test(test_memory_overhead_1m_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
