/*
 * This file implements the multi-threaded stress test of the live table
 * (node/live_table.c), meant to run under ThreadSanitizer and
 * AddressSanitizer. Four threads share one table:
 *
 * - churn: random GET/SET (with TTLs, NX/XX/KEEPTTL, SET ... GET)/DEL/
 *   EXPIRE/TTL/EXISTS and expiry cycles on a small key space under a small
 *   maxmemory, so that eviction (also across shards) runs all the time,
 *   while one thread switches the eviction policy;
 * - resize: each thread inserts, reads back and deletes its own keys in a
 *   two-shard table, so that growths and shrinks run concurrently;
 * - MSET atomicity: writers MSET one value to a group of keys spread over
 *   256 shards (under maxmemory, with filler writes that keep eviction
 *   busy) while readers MGET the group: every key an MGET finds must hold
 *   the same value.
 *
 * Every value names its key and is self-checking, so a value read while
 * another thread writes it shows up as corrupt. Worker threads never call
 * cmocka (its failures jump to the test's stack); they count faults and
 * keep the first message, and the main thread asserts after joining. At the
 * end the table must pass live_verify() (a full scan agrees with the
 * counters), live_count() must equal the keys found by reading the whole
 * key space, a write must bring used_memory back under the limit, and
 * live_flush() must bring it back to the empty baseline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "live_table.h"

enum {
    THREADS = 4,
    CHURN_OPS = 100000,     /* per thread */
    CHURN_KEYS = 4096,
    CHURN_MAXMEMORY = 128 * 1024,
    MAX_VALUE = 300,
    MAX_TTL_MS = 3000,
    RESIZE_KEYS = 20000,    /* per thread */
};

#define T0 INT64_C(1700000000000)

/* Faults seen by worker threads; the first message is kept. */
static atomic_uint faults;
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static char fault_msg[256];

static void fault(const char *msg, unsigned i)
{
    if (atomic_fetch_add(&faults, 1) == 0) {
        pthread_mutex_lock(&fault_lock);
        snprintf(fault_msg, sizeof(fault_msg), "%s (key %u)", msg, i);
        pthread_mutex_unlock(&fault_lock);
    }
}

static void assert_no_faults(void)
{
    pthread_mutex_lock(&fault_lock);
    if (atomic_load(&faults) != 0)
        fail_msg("%u faults in worker threads, first: %s",
                 atomic_load(&faults), fault_msg);
    pthread_mutex_unlock(&fault_lock);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static size_t key_of(char *buf, unsigned i)
{
    return (size_t)sprintf(buf, "key:%u", i);
}

/* A value for key i: "<key>|" then a filler byte that depends on the total
 * length, so any mix of two values is detected. */
static size_t value_of(char *buf, unsigned i, size_t filler)
{
    size_t n = key_of(buf, i);
    buf[n++] = '|';
    size_t len = n + filler;
    memset(buf + n, 'a' + (int)(len % 26), filler);
    return len;
}

struct value_check {
    unsigned key;
    unsigned calls;
    bool bad;
};

/* Visitor: checks that a value is a whole value of the expected key. */
static void check_value(void *arg, const char *value, size_t len)
{
    struct value_check *c = arg;
    char expect[MAX_VALUE + 32];
    size_t n = key_of(expect, c->key);
    expect[n++] = '|';
    c->calls++;
    if (len < n || len > n + MAX_VALUE || memcmp(value, expect, n) != 0) {
        c->bad = true;
        return;
    }
    for (size_t i = n; i < len; i++)
        if (value[i] != 'a' + (int)(len % 26))
            c->bad = true;
}

/* ---- churn -------------------------------------------------------------- */

struct churn {
    struct live_table *t;
    atomic_llong clock; /* shared "now": one ms per operation */
};

struct churn_arg {
    struct churn *shared;
    unsigned id;
};

static const enum live_policy evicting[] = {
    LIVE_ALLKEYS_LRU, LIVE_ALLKEYS_RANDOM, LIVE_VOLATILE_LRU,
    LIVE_VOLATILE_TTL, LIVE_NOEVICTION,
};

static void churn_one(struct live_table *t, uint64_t *rng, int64_t now)
{
    char key[32], val[MAX_VALUE + 32];
    unsigned k = (unsigned)(rng_next(rng) % CHURN_KEYS);
    size_t kl = key_of(key, k);
    unsigned op = (unsigned)(rng_next(rng) % 100);
    struct value_check c = { k, 0, false };
    enum live_status rc;

    if (op < 40) {
        rc = live_get(t, key, kl, now, check_value, &c);
        if (rc != LIVE_OK && rc != LIVE_NOTFOUND)
            fault("GET status", k);
        if (c.bad || c.calls != (rc == LIVE_OK))
            fault("GET value", k);
    } else if (op < 65) {
        size_t vl = value_of(val, k, (size_t)(rng_next(rng) % MAX_VALUE));
        unsigned r = (unsigned)(rng_next(rng) % 100);
        int64_t at = r < 30 ? now + 1 + (int64_t)(rng_next(rng) % MAX_TTL_MS) : 0;
        unsigned flags = r >= 80 ? LIVE_SET_NX : r >= 70 ? LIVE_SET_XX
                       : r >= 60 ? LIVE_SET_KEEPTTL : 0;
        bool get_old = r % 4 == 0;
        rc = live_set(t, key, kl, val, vl, at, flags, now,
                      get_old ? check_value : NULL, &c);
        if (rc == LIVE_NOTFOUND || (rc == LIVE_NOTSET && flags == 0)
            || (rc == LIVE_NOTSET && flags == LIVE_SET_KEEPTTL))
            fault("SET status", k);
        if (c.bad || c.calls > 1)
            fault("SET old value", k);
    } else if (op < 75) {
        rc = live_del(t, key, kl, now);
        if (rc != LIVE_OK && rc != LIVE_NOTFOUND)
            fault("DEL status", k);
    } else if (op < 83) {
        int64_t at = rng_next(rng) % 10 == 0
                   ? now - 1 : now + 1 + (int64_t)(rng_next(rng) % MAX_TTL_MS);
        rc = live_expire(t, key, kl, at, now);
        if (rc != LIVE_OK && rc != LIVE_NOTFOUND)
            fault("EXPIRE status", k);
    } else if (op < 88) {
        /* Threads read the shared clock at different moments, so another
         * thread may have set the expiry from a later "now". */
        int64_t ttl = live_ttl(t, key, kl, now);
        if (ttl < -2 || ttl == 0 || ttl > MAX_TTL_MS + THREADS * CHURN_OPS)
            fault("TTL range", k);
    } else if (op < 93) {
        rc = live_exists(t, key, kl, now);
        if (rc != LIVE_OK && rc != LIVE_NOTFOUND)
            fault("EXISTS status", k);
    } else if (op < 97) {
        live_expire_cycle(t, now, 64);
    } else {
        struct live_stats st;
        live_get_stats(t, &st);
        if (st.keys_with_ttl > st.keys || st.resizing_shards > 4)
            fault("stats", k);
        if (live_count(t) > CHURN_KEYS)
            fault("count above the key space", k);
    }
}

static void *churn_thread(void *p)
{
    struct churn_arg *a = p;
    struct live_table *t = a->shared->t;
    uint64_t rng = 0x9E3779B97F4A7C15u * (a->id + 1);
    for (unsigned i = 0; i < CHURN_OPS; i++) {
        int64_t now = T0 + atomic_fetch_add(&a->shared->clock, 1);
        churn_one(t, &rng, now);
        if (a->id == 0 && i % 10000 == 9999)
            live_set_limits(t, CHURN_MAXMEMORY,
                            evicting[(i / 10000) % (sizeof(evicting)
                                                    / sizeof(evicting[0]))]);
    }
    return NULL;
}

static void run_threads(void *(*fn)(void *), void *args, size_t arg_size)
{
    pthread_t th[THREADS];
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, fn,
                                        (char *)args + i * arg_size), 0);
    for (unsigned i = 0; i < THREADS; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
}

static void assert_verified(struct live_table *t)
{
    char err[256] = "";
    if (live_verify(t, err, sizeof(err)) != 0)
        fail_msg("live_verify: %s", err);
}

static void test_churn_with_eviction(void **state)
{
    (void)state;
    struct live_options o = live_options_default();
    o.shards_log2 = 2;
    o.maxmemory = CHURN_MAXMEMORY;
    o.policy = LIVE_ALLKEYS_LRU;
    struct churn shared = { .t = live_create(&o) };
    assert_non_null(shared.t);
    atomic_init(&shared.clock, 0);
    const uint64_t baseline = 0;

    struct churn_arg args[THREADS];
    for (unsigned i = 0; i < THREADS; i++)
        args[i] = (struct churn_arg){ &shared, i };
    run_threads(churn_thread, args, sizeof(args[0]));
    assert_no_faults();

    struct live_table *t = shared.t;
    assert_verified(t);
    struct live_stats st;
    live_get_stats(t, &st);
    print_message("churn: %llu keys, %llu evicted, %llu expired, used %llu\n",
                  (unsigned long long)st.keys,
                  (unsigned long long)st.evicted_keys,
                  (unsigned long long)st.expired_keys,
                  (unsigned long long)st.used_memory);
    assert_true(st.evicted_keys > 0);
    assert_true(st.expired_keys > 0);

    /* Reading the whole key space (which reclaims expired keys) finds
     * exactly the keys the table counts. */
    int64_t now = T0 + atomic_load(&shared.clock);
    uint64_t found = 0;
    char key[32], val[MAX_VALUE + 32];
    for (unsigned k = 0; k < CHURN_KEYS; k++) {
        size_t kl = key_of(key, k);
        struct value_check c = { k, 0, false };
        found += live_get(t, key, kl, now, check_value, &c) == LIVE_OK;
        assert_false(c.bad);
    }
    assert_int_equal(live_count(t), found);
    live_get_stats(t, &st);
    assert_int_equal(st.keys, found);
    assert_verified(t);

    /* EXPIRE may have pushed used_memory over the limit by a few bytes; the
     * next write evicts back under it. */
    live_set_limits(t, CHURN_MAXMEMORY, LIVE_ALLKEYS_LRU);
    size_t vl = value_of(val, 0, 100);
    size_t kl = key_of(key, 0);
    assert_int_equal(live_set(t, key, kl, val, vl, 0, 0, now, NULL, NULL),
                     LIVE_OK);
    live_get_stats(t, &st);
    assert_true(st.used_memory <= CHURN_MAXMEMORY);

    live_flush(t);
    live_get_stats(t, &st);
    assert_int_equal(st.used_memory, baseline);
    assert_int_equal(st.keys, 0);
    assert_int_equal(live_count(t), 0);
    assert_verified(t);
    live_destroy(&t);
}

/* ---- concurrent resizes ------------------------------------------------- */

struct resize_arg {
    struct live_table *t;
    unsigned first; /* this thread's keys: first .. first + RESIZE_KEYS - 1 */
};

static void *resize_thread(void *p)
{
    struct resize_arg *a = p;
    char key[32], val[MAX_VALUE + 32];
    for (int round = 0; round < 2; round++) {
        for (unsigned i = a->first; i < a->first + RESIZE_KEYS; i++) {
            size_t kl = key_of(key, i), vl = value_of(val, i, i % 40);
            if (live_set(a->t, key, kl, val, vl, 0, 0, T0, NULL, NULL) != LIVE_OK)
                fault("SET", i);
            /* A key stored earlier by this thread is still there. */
            unsigned old = a->first + (i * 7919u) % (i - a->first + 1);
            struct value_check c = { old, 0, false };
            kl = key_of(key, old);
            if (live_get(a->t, key, kl, T0, check_value, &c) != LIVE_OK || c.bad)
                fault("GET during growth", old);
        }
        for (unsigned i = a->first; i < a->first + RESIZE_KEYS; i++) {
            size_t kl = key_of(key, i);
            if (live_del(a->t, key, kl, T0) != LIVE_OK)
                fault("DEL", i);
            unsigned later = i + 1 + (i * 7919u) % (a->first + RESIZE_KEYS - i);
            if (later < a->first + RESIZE_KEYS) {
                struct value_check c = { later, 0, false };
                kl = key_of(key, later);
                if (live_get(a->t, key, kl, T0, check_value, &c) != LIVE_OK
                    || c.bad)
                    fault("GET during shrink", later);
            }
        }
    }
    return NULL;
}

static void test_concurrent_resizes(void **state)
{
    (void)state;
    struct live_options o = live_options_default();
    o.shards_log2 = 1;
    struct live_table *t = live_create(&o);
    assert_non_null(t);
    struct resize_arg args[THREADS];
    for (unsigned i = 0; i < THREADS; i++)
        args[i] = (struct resize_arg){ t, i * RESIZE_KEYS };
    run_threads(resize_thread, args, sizeof(args[0]));
    assert_no_faults();
    assert_int_equal(live_count(t), 0);
    assert_verified(t);
    live_flush(t);
    struct live_stats st;
    live_get_stats(t, &st);
    assert_int_equal(st.used_memory, 0);
    live_destroy(&t);
}

/* ---- MSET atomicity ----------------------------------------------------- */

enum {
    GROUP_KEYS = 48,        /* one MSET group, spread over 256 shards; at
                               most 48 locks held, under ThreadSanitizer's
                               limit of 64 per thread */
    GROUP_WRITERS = 2,
    GROUP_READERS = 2,
    GROUP_MSETS = 3000,     /* per writer */
    GROUP_MAX_READS = 200000, /* per reader, a bound if writers stall */
    GROUP_MAXMEMORY = 256 * 1024,
    GROUP_FILLER_VALUE = 200,
};

struct group {
    struct live_table *t;
    const char *keys[GROUP_KEYS];
    size_t klens[GROUP_KEYS];
    char key_bytes[GROUP_KEYS][32];
    atomic_uint writers_left;
    atomic_uint torn;       /* MGETs that saw values of two MSETs */
    atomic_uint full_reads; /* MGETs that found every key */
};

struct group_arg {
    struct group *g;
    unsigned id;
};

/* What one MGET of the group saw: the first value and any disagreement. */
struct group_read {
    char first[64];
    size_t first_len;
    unsigned found;
    bool mixed;
};

static void group_read_fn(void *arg, const char *value, size_t len)
{
    struct group_read *r = arg;
    if (value == NULL)
        return; /* evicted or deleted since: only present keys must agree */
    if (r->found++ == 0) {
        r->first_len = len < sizeof(r->first) ? len : sizeof(r->first);
        memcpy(r->first, value, r->first_len);
    } else if (len != r->first_len || memcmp(value, r->first, len) != 0) {
        r->mixed = true;
    }
}

/*
 * Writers MSET every key of the group to one value ("<writer>:<seq>" plus
 * a filler whose length varies, so eviction sees different sizes) and, in
 * between, store filler keys and delete one group key, so that the table
 * stays at maxmemory and MSET must make room across shards.
 */
static void *group_writer(void *p)
{
    struct group_arg *a = p;
    struct group *g = a->g;
    uint64_t rng = 0x2545F4914F6CDD1Du * (a->id + 1);
    char val[64], key[32], filler[GROUP_FILLER_VALUE];
    memset(filler, 'f', sizeof(filler));
    const char *vals[GROUP_KEYS];
    size_t vlens[GROUP_KEYS];
    for (unsigned seq = 0; seq < GROUP_MSETS; seq++) {
        int64_t now = T0 + seq;
        int n = snprintf(val, sizeof(val), "%u:%u:", a->id, seq);
        size_t vl = (size_t)n + seq % 32;
        memset(val + n, 'v', seq % 32);
        for (unsigned i = 0; i < GROUP_KEYS; i++) {
            vals[i] = val;
            vlens[i] = vl;
        }
        if (live_mset(g->t, g->keys, g->klens, vals, vlens, GROUP_KEYS, now)
            != LIVE_OK)
            fault("MSET", seq);
        for (int f = 0; f < 4; f++) {
            unsigned k = 100000 + (unsigned)(rng_next(&rng) % 20000);
            size_t kl = key_of(key, k);
            if (live_set(g->t, key, kl, filler, sizeof(filler), 0, 0, now,
                         NULL, NULL) != LIVE_OK)
                fault("filler SET", seq);
        }
        if (seq % 8 == 0) {
            unsigned k = (unsigned)(rng_next(&rng) % GROUP_KEYS);
            live_del(g->t, g->keys[k], g->klens[k], now);
        }
    }
    atomic_fetch_sub(&g->writers_left, 1);
    return NULL;
}

static void *group_reader(void *p)
{
    struct group_arg *a = p;
    struct group *g = a->g;
    /* Odd readers ask in reverse order: the lock order must not depend on
     * the argument order. */
    const char *keys[GROUP_KEYS];
    size_t klens[GROUP_KEYS];
    for (unsigned i = 0; i < GROUP_KEYS; i++) {
        unsigned k = a->id % 2 ? GROUP_KEYS - 1 - i : i;
        keys[i] = g->keys[k];
        klens[i] = g->klens[k];
    }
    for (unsigned i = 0; i < GROUP_MAX_READS
                         && atomic_load(&g->writers_left) > 0; i++) {
        struct group_read r = { .found = 0, .mixed = false };
        size_t found = live_mget(g->t, keys, klens, GROUP_KEYS,
                                 T0 + i % GROUP_MSETS, group_read_fn, &r);
        if (found != r.found)
            fault("MGET count", i);
        if (r.mixed)
            atomic_fetch_add(&g->torn, 1);
        if (found == GROUP_KEYS)
            atomic_fetch_add(&g->full_reads, 1);
    }
    return NULL;
}

static void *group_thread(void *p)
{
    struct group_arg *a = p;
    return a->id < GROUP_WRITERS ? group_writer(p) : group_reader(p);
}

static void test_mset_atomic_against_mget(void **state)
{
    (void)state;
    struct live_options o = live_options_default(); /* 256 shards */
    o.maxmemory = GROUP_MAXMEMORY;
    o.policy = LIVE_ALLKEYS_LRU;
    struct group g = { .t = live_create(&o) };
    assert_non_null(g.t);
    for (unsigned i = 0; i < GROUP_KEYS; i++) {
        g.klens[i] = (size_t)sprintf(g.key_bytes[i], "group:%u", i);
        g.keys[i] = g.key_bytes[i];
    }
    atomic_init(&g.writers_left, GROUP_WRITERS);
    atomic_init(&g.torn, 0);
    atomic_init(&g.full_reads, 0);

    enum { N = GROUP_WRITERS + GROUP_READERS };
    pthread_t th[N];
    struct group_arg args[N];
    for (unsigned i = 0; i < N; i++) {
        args[i] = (struct group_arg){ &g, i };
        assert_int_equal(pthread_create(&th[i], NULL, group_thread, &args[i]),
                         0);
    }
    for (unsigned i = 0; i < N; i++)
        assert_int_equal(pthread_join(th[i], NULL), 0);
    assert_no_faults();

    struct live_stats st;
    live_get_stats(g.t, &st);
    print_message("MSET/MGET: %u torn reads, %u full reads, %llu evicted\n",
                  atomic_load(&g.torn), atomic_load(&g.full_reads),
                  (unsigned long long)st.evicted_keys);
    assert_int_equal(atomic_load(&g.torn), 0);
    assert_true(atomic_load(&g.full_reads) > 0);
    assert_true(st.evicted_keys > 0);
    assert_true(st.used_memory <= GROUP_MAXMEMORY);
    assert_verified(g.t);
    live_destroy(&g.t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_churn_with_eviction),
        cmocka_unit_test(test_concurrent_resizes),
        cmocka_unit_test(test_mset_atomic_against_mget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
