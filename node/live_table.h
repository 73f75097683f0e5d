/*
 * live_table.h: the mutable key-value store behind larder's live tables (the
 * table named "default" that plain Redis tools talk to).
 *
 * The table is split into a power-of-two number of shards chosen by the key
 * hash; each shard is an independent open-addressing hash table with its
 * own mutex, its own incremental resize (no operation moves more than a
 * small constant number of entries, so there is never a stop-the-world
 * rehash) and its own eviction sampling. Worker threads therefore contend
 * only when they touch the same shard, and no lock is global.
 *
 * Values are copied out under the shard lock through a visitor callback, so
 * readers need no reference counts: a worker copies the value straight into
 * its reply buffer.
 *
 * Time is passed in by the caller (milliseconds, CLOCK_REALTIME-based Unix
 * time) so that tests can drive expiry deterministically.
 *
 * Memory is accounted at the allocator level: every entry is charged its
 * malloc_usable_size() plus the allocator's per-chunk header, and every
 * slot array its full size. With --maxmemory set, a write that would exceed
 * the limit first evicts (sampled LRU or random, per policy) from the
 * writer's shard, then from the others; with "noeviction" it fails with
 * LIVE_OOM instead.
 *
 * MGET and MSET (live_mget(), live_mset()) lock all the shards of their
 * keys at once, so MSET is atomic and MGET sees a consistent snapshot.
 */
#ifndef LARDER_LIVE_TABLE_H
#define LARDER_LIVE_TABLE_H

#include <stddef.h>
#include <stdint.h>

/* The name the live table answers to (T.GET, metrics). */
#define LIVE_TABLE_NAME "default"

struct live_table;

enum live_status {
    LIVE_OK = 0,
    LIVE_NOTFOUND, /* no such key (or it has expired) */
    LIVE_NOTSET,   /* SET NX found the key, or SET XX did not */
    LIVE_OOM,      /* over maxmemory and nothing could be evicted */
};

enum live_policy {
    LIVE_NOEVICTION = 0, /* refuse writes over maxmemory */
    LIVE_ALLKEYS_LRU,    /* evict the least recently used of a sample */
    LIVE_ALLKEYS_RANDOM, /* evict a random key */
    LIVE_VOLATILE_LRU,   /* like allkeys-lru, among keys with a TTL */
    LIVE_VOLATILE_TTL,   /* evict the sampled key closest to expiry */
};

struct live_options {
    uint64_t maxmemory;        /* bytes; 0 means no limit */
    enum live_policy policy;
    unsigned shards_log2;      /* 2^shards_log2 shards (default 8) */
    unsigned eviction_samples; /* keys sampled per eviction (default 5) */
};

/* Flags for live_set(). */
#define LIVE_SET_NX      0x1u /* only if the key does not exist */
#define LIVE_SET_XX      0x2u /* only if the key exists */
#define LIVE_SET_KEEPTTL 0x4u /* keep the existing expiry time */

/* Called with a value while the shard lock is held: copy, don't keep. */
typedef void (*live_visit_fn)(void *arg, const char *value, size_t len);

struct live_stats {
    uint64_t used_memory;   /* bytes held by entries and slot arrays */
    uint64_t keys;          /* live keys (expired-but-unreclaimed included) */
    uint64_t keys_with_ttl; /* keys that carry an expiry time */
    uint64_t expired_keys;  /* reclaimed by lazy or active expiry, total */
    uint64_t evicted_keys;  /* removed to stay under maxmemory, total */
    uint64_t resizing_shards; /* shards in the middle of a resize */
};

/* Options with the defaults documented above. */
struct live_options live_options_default(void);

/* Creates an empty table (NULL on allocation failure). Owned by the caller. */
struct live_table *live_create(const struct live_options *options);

/* Frees the table and every entry; sets *table to NULL. */
void live_destroy(struct live_table **table);

/* Changes the memory limit and policy at run time (CONFIG SET). */
void live_set_limits(struct live_table *t, uint64_t maxmemory,
                     enum live_policy policy);

/*
 * Looks a key up. On LIVE_OK calls fn(arg, value, len) under the lock and
 * marks the entry as recently used. An expired entry is deleted (lazy
 * expiry) and reported as LIVE_NOTFOUND.
 */
enum live_status live_get(struct live_table *t, const char *key, size_t klen,
                          int64_t now_ms, live_visit_fn fn, void *arg);

/*
 * Stores a value. expire_at_ms is an absolute Unix time in ms, or 0 for no
 * expiry (ignored with LIVE_SET_KEEPTTL when the key exists). If old_fn is
 * not NULL and the key existed, old_fn(arg, old value) is called first (SET
 * ... GET). Returns LIVE_NOTSET when NX/XX prevented the write, LIVE_OOM
 * when the limit could not be met.
 */
enum live_status live_set(struct live_table *t, const char *key, size_t klen,
                          const char *value, size_t vlen,
                          int64_t expire_at_ms, unsigned flags, int64_t now_ms,
                          live_visit_fn old_fn, void *arg);

/*
 * Called by live_mget() once per key, in argument order, with the shard
 * locks held: value is the key's value (copy, don't keep), or NULL (len 0)
 * if the key does not exist or has expired. Must not call into the table.
 */
typedef void (*live_mget_fn)(void *arg, const char *value, size_t len);

/*
 * MGET: looks up keys[i] (klens[i] bytes) for i < n as one snapshot. The
 * shards of all the keys are locked together, so no write, single-key or
 * live_mset(), is seen half done. Calls fn for every key in order, found
 * or not; as live_get() does, marks found keys as recently used and deletes
 * expired ones. Returns how many keys were found. Cannot fail: beyond 64
 * keys it allocates, and falls back to slower work if that fails. While fn
 * runs, writers to any of the locked shards wait.
 */
size_t live_mget(struct live_table *t, const char *const *keys,
                 const size_t *klens, size_t n, int64_t now_ms,
                 live_mget_fn fn, void *arg);

/*
 * MSET: stores values[i] (vlens[i] bytes) under keys[i] for i < n, all at
 * once: no reader (live_mget(), live_get(), ...) sees some of the new
 * values without the others. The keys lose any expiry time. A key given
 * more than once gets its last value, as in Redis. The memory check covers
 * the whole command (new entries and slot arrays, less the entries
 * replaced) and evicts per policy first; LIVE_OOM means nothing was
 * written.
 */
enum live_status live_mset(struct live_table *t, const char *const *keys,
                           const size_t *klens, const char *const *values,
                           const size_t *vlens, size_t n, int64_t now_ms);

/* Deletes a key; LIVE_OK if it existed (and had not expired). */
enum live_status live_del(struct live_table *t, const char *key, size_t klen,
                          int64_t now_ms);

/* LIVE_OK if the key exists and has not expired. */
enum live_status live_exists(struct live_table *t, const char *key,
                             size_t klen, int64_t now_ms);

/*
 * Sets an absolute expiry time (ms). A time at or before now deletes the key
 * at once. LIVE_NOTFOUND if the key does not exist.
 */
enum live_status live_expire(struct live_table *t, const char *key,
                             size_t klen, int64_t expire_at_ms, int64_t now_ms);

/*
 * PERSIST: removes the key's expiry. LIVE_OK if it had one, LIVE_NOTSET
 * if it has none, LIVE_NOTFOUND if the key does not exist, LIVE_OOM if the
 * entry without the field cannot be allocated (the expiry then stays).
 */
enum live_status live_persist(struct live_table *t, const char *key,
                              size_t klen, int64_t now_ms);

/*
 * Remaining time to live in ms: -2 if the key does not exist, -1 if it has
 * no expiry.
 */
int64_t live_ttl(struct live_table *t, const char *key, size_t klen,
                 int64_t now_ms);

/* Number of keys (as in live_stats.keys). */
uint64_t live_count(struct live_table *t);

/* Deletes every key. */
void live_flush(struct live_table *t);

/*
 * Active expiry: examines at most `budget` slots, continuing from where the
 * previous call stopped (a cursor walks every shard in turn), and deletes
 * expired entries. Shards without keys that carry a TTL are skipped at no
 * cost. Returns the number of keys deleted. Safe to call from any thread.
 */
uint64_t live_expire_cycle(struct live_table *t, int64_t now_ms,
                           uint64_t budget);

/* Fills *s with a consistent-enough snapshot of the counters. */
void live_get_stats(struct live_table *t, struct live_stats *s);

/*
 * Checks every shard against a full scan: each entry is in the right shard
 * and reachable from its home slot, the key, TTL and memory counters match
 * what the scan finds, and used_memory equals the sum of the shards. O(n),
 * one shard lock at a time; the used_memory comparison is meaningful only
 * while no other thread writes. For tests and DEBUG commands. Returns 0, or
 * -1 with a description of the first fault in err (errlen bytes).
 */
int live_verify(struct live_table *t, char *err, size_t errlen);

/* Parses "noeviction", "allkeys-lru", ...; -1 if unknown. */
int live_policy_parse(const char *name);

/* The name of a policy, as accepted by live_policy_parse(). */
const char *live_policy_name(enum live_policy policy);

#endif
