/*
 * This file implements the live table (live_table.h): a sharded hash table
 * of byte keys and byte values with TTLs, incremental resizing, memory
 * accounting and sampled eviction.
 *
 * Hashing. Every operation hashes its key once with XXH3-64. The top
 * shards_log2 bits choose the shard; the low 32 bits, x, place the key inside
 * the shard: its home slot is (x * cap) >> 32 (a multiply-shift range
 * reduction, so capacities need not be powers of two and can grow by 1.5x)
 * and its fingerprint is the top 20 bits of x.
 *
 * Slots. Each shard is an open-addressing table with linear probing whose
 * slots are 64-bit words: the fingerprint in the top 20 bits and the entry
 * pointer, shifted right by 4, in the low 44 (entries are 16-byte aligned
 * and user-space pointers fit in 48 bits; an allocation that does not is
 * refused). 0 is an empty slot. Comparing fingerprints rejects almost every
 * mismatch without touching the entry. Because the home slot is a monotone
 * function of x, the fingerprint also names the home slot (exactly, or one of
 * two neighbours, while the capacity is below 2^20), so deletion by backward
 * shift and resize migration hash a key again only in the rare ambiguous
 * case.
 *
 * Entries. One malloc per key, unaligned fields read with memcpy:
 *   u32 lru clock | u8 flags | varint klen | varint vlen |
 *   [i64 expire_at_ms, only with ENTRY_HAS_EXPIRE] | key | value
 * A 16-byte key with a 64-byte value is 87 bytes: one 96-byte glibc chunk.
 *
 * Resizing. A shard grows by 1.5x when its load would pass 0.85 and halves
 * (or more) below 1/8. The new array receives all inserts; the old one is
 * drained by every operation on the shard (and by the expiry cycle), a
 * bounded number of slots at a time, so no operation does O(n) work. Lookups
 * look in the new array, then the old. Slots emptied in the old array get
 * SLOT_MOVED instead of 0, so probe chains of entries not yet moved stay
 * intact; only the current array is ever compacted by backward shift.
 *
 * Memory. Each shard keeps its exact charge (malloc_usable_size + chunk
 * header per entry, full size of every slot array) in `mem`, under its lock;
 * the table-wide used_memory is an atomic that shards settle their changes
 * into before unlocking. A write that adds memory under a limit first
 * reserves the bytes with a compare-and-swap, so concurrent writers cannot
 * together pass maxmemory. If the reservation fails, the writer evicts from
 * its own shard, then (after unlocking it) from the others one at a time.
 * MSET computes, with its shards locked, the net bytes the whole command
 * adds (entries, and slot arrays grown once per shard up front, less the
 * entries replaced) and reserves them in one step; if they do not fit it
 * unlocks, evicts like a single write, and tries again with the bytes in
 * hand, so LIVE_OOM leaves nothing written.
 * Only EXPIRE on a key that had no TTL grows an entry without a reservation
 * (by the 8-byte field); the next write evicts that back.
 *
 * Locking. One mutex per shard. Single-key paths hold one shard lock;
 * MGET and MSET hold the locks of all their shards, taken in ascending
 * shard order, and never evict from other shards while holding them, so
 * no cycle of waits can form. The expiry cycle's cursor has its own mutex,
 * always taken before a shard's. Functions named do_* run with the lock of
 * the shards they touch held.
 */
#define XXH_INLINE_ALL
#include <xxhash.h>

#include "live_table.h"

#include <assert.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Limits and tuning of the live table, in one place. */
enum {
    LT_MIN_CAP = 8,             /* slots in a shard's first array */
    LT_GROW_NUM = 3,            /* grow to cap * 3 / 2 ... */
    LT_GROW_DEN = 2,
    LT_LOAD_NUM = 17,           /* ... when load would pass 17/20 = 0.85 */
    LT_LOAD_DEN = 20,
    LT_SHRINK_DIV = 8,          /* shrink when load falls under 1/8 */
    LT_MIGRATE_ENTRIES = 16,    /* entries moved per operation, at most */
    LT_MIGRATE_SCAN = 128,      /* old slots examined per operation, at most */
    LT_CLOCK_MS = 100,          /* resolution of the LRU clock */
    LT_CHUNK_HEADER = 8,        /* glibc's per-chunk header, charged too */
    LT_DEFAULT_SHARDS_LOG2 = 8,
    LT_MAX_SHARDS_LOG2 = 16,
    LT_DEFAULT_SAMPLES = 5,
    LT_MAX_SAMPLES = 64,
    LT_MULTI_STACK_KEYS = 64,   /* MGET/MSET keys handled without malloc */
    LT_SET_STACK_WORDS = 16,    /* shard bitmap words on the stack (1024) */
};
#define LT_MAX_CAP ((size_t)1 << 31) /* home slots come from 32 hash bits */

/* Slot words. */
#define FP_BITS 20
#define FP_LOW_BITS (32 - FP_BITS) /* bits of x below the fingerprint */
#define SLOT_FP_SHIFT (64 - FP_BITS)
#define SLOT_PTR_MASK ((UINT64_C(1) << SLOT_FP_SHIFT) - 1)
#define SLOT_EMPTY UINT64_C(0)
#define SLOT_MOVED UINT64_C(1) /* pointer field 1 = address 16: never an entry */

/* Entry header. */
enum {
    ENTRY_LRU = 0,   /* u32 */
    ENTRY_FLAGS = 4, /* u8 */
    ENTRY_LENS = 5,  /* varint klen, varint vlen */
};
#define ENTRY_HAS_EXPIRE 0x1u

_Static_assert(sizeof(void *) == 8, "slots pack 48-bit pointers");

struct shard {
    _Alignas(64) pthread_mutex_t lock;
    uint64_t *slots;         /* current array: every insert goes here */
    size_t cap;              /* its slots; 0 until the first insert */
    uint64_t *old;           /* array being drained by a resize, or NULL */
    size_t old_cap;
    size_t old_count;        /* entries still in `old` */
    size_t migrate_pos;      /* next slot of `old` to migrate */
    size_t count;            /* entries in both arrays */
    uint64_t mem;            /* exact charge of entries and arrays */
    uint64_t mem_settled;    /* the part of `mem` already in used_memory */
    uint64_t expired;        /* counters for live_get_stats() */
    uint64_t evicted;
    uint64_t rng;            /* eviction sampling */
    /* Written under the lock, read without it by the expiry cycle. */
    _Atomic uint64_t ttl_keys;
    _Atomic bool resizing;
};

struct live_table {
    struct shard *shards;
    size_t nshards;
    unsigned shards_log2;
    unsigned samples;
    _Atomic uint64_t maxmemory;
    _Atomic int policy;
    pthread_mutex_t cycle_lock; /* guards the expiry cursor below */
    size_t cycle_shard;
    size_t cycle_pos;
    _Alignas(64) _Atomic uint64_t used_memory; /* own cache line: hot */
};

/* ---- small helpers ---------------------------------------------------- */

static inline uint64_t key_hash(const char *key, size_t klen)
{
    return XXH3_64bits(key, klen);
}

static inline size_t home_of(uint32_t x, size_t cap)
{
    return (size_t)(((uint64_t)x * cap) >> 32);
}

static inline uint32_t fp_of(uint32_t x)
{
    return x >> FP_LOW_BITS;
}

static inline uint64_t slot_make(uint32_t fp, const uint8_t *e)
{
    return ((uint64_t)fp << SLOT_FP_SHIFT) | ((uintptr_t)e >> 4);
}

static inline bool slot_is_entry(uint64_t v)
{
    return v > SLOT_MOVED;
}

static inline uint8_t *slot_entry(uint64_t v)
{
    return (uint8_t *)(uintptr_t)((v & SLOT_PTR_MASK) << 4);
}

static inline size_t next_pos(size_t pos, size_t cap)
{
    return pos + 1 == cap ? 0 : pos + 1;
}

/* Cyclic distance from a forward to b in an array of cap slots. */
static inline size_t cyc_dist(size_t a, size_t b, size_t cap)
{
    return b >= a ? b - a : b + cap - a;
}

static inline uint32_t lru_clock(int64_t now_ms)
{
    return (uint32_t)((uint64_t)now_ms / LT_CLOCK_MS);
}

static inline bool is_volatile(int policy)
{
    return policy == LIVE_VOLATILE_LRU || policy == LIVE_VOLATILE_TTL;
}

/* A splitmix64 step: the shard's sampling generator. */
static inline uint64_t rng_next(uint64_t *state)
{
    uint64_t z = (*state += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

/* ---- varints and entries ---------------------------------------------- */

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static size_t varint_put(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

static inline const uint8_t *varint_get(const uint8_t *p, uint64_t *v)
{
    uint64_t r = 0;
    unsigned shift = 0;
    while (*p & 0x80) {
        r |= (uint64_t)(*p++ & 0x7f) << shift;
        shift += 7;
    }
    *v = r | (uint64_t)*p++ << shift;
    return p;
}

/* The decoded fields of an entry; pointers borrow the entry's bytes. */
struct entry_view {
    const uint8_t *key;
    size_t klen;
    const uint8_t *val;
    size_t vlen;
    bool has_expire;
    int64_t expire_at; /* meaningful only with has_expire */
};

static inline bool entry_has_expire(const uint8_t *e)
{
    return (e[ENTRY_FLAGS] & ENTRY_HAS_EXPIRE) != 0;
}

/* Position of the expire field (entry_has_expire() must be true). */
static inline uint8_t *entry_expire_field(uint8_t *e)
{
    uint64_t skip;
    const uint8_t *p = varint_get(e + ENTRY_LENS, &skip);
    p = varint_get(p, &skip);
    return e + (p - e);
}

static inline void entry_decode(const uint8_t *e, struct entry_view *v)
{
    uint64_t klen, vlen;
    const uint8_t *p = varint_get(e + ENTRY_LENS, &klen);
    p = varint_get(p, &vlen);
    v->has_expire = entry_has_expire(e);
    if (v->has_expire) {
        memcpy(&v->expire_at, p, sizeof(v->expire_at));
        p += sizeof(v->expire_at);
    } else {
        v->expire_at = 0;
    }
    v->key = p;
    v->klen = (size_t)klen;
    v->val = p + klen;
    v->vlen = (size_t)vlen;
}

static inline int64_t entry_expire_at(const uint8_t *e)
{
    struct entry_view v;
    entry_decode(e, &v);
    return v.expire_at;
}

/* True when the entry carries an expiry time at or before now. */
static inline bool entry_expired(const uint8_t *e, int64_t now_ms)
{
    return entry_has_expire(e) && entry_expire_at(e) <= now_ms;
}

static inline bool entry_key_equals(const uint8_t *e, const char *key,
                                    size_t klen)
{
    uint64_t n, vlen;
    const uint8_t *p = varint_get(e + ENTRY_LENS, &n);
    if (n != klen)
        return false;
    p = varint_get(p, &vlen);
    if (entry_has_expire(e))
        p += sizeof(int64_t);
    return klen == 0 || memcmp(p, key, klen) == 0;
}

static inline uint32_t entry_hash32(const uint8_t *e)
{
    struct entry_view v;
    entry_decode(e, &v);
    return (uint32_t)key_hash((const char *)v.key, v.klen);
}

static inline void entry_touch(uint8_t *e, uint32_t clock)
{
    uint32_t cur;
    memcpy(&cur, e + ENTRY_LRU, sizeof(cur));
    if (cur != clock)
        memcpy(e + ENTRY_LRU, &clock, sizeof(clock));
}

static inline uint32_t entry_lru(const uint8_t *e)
{
    uint32_t clock;
    memcpy(&clock, e + ENTRY_LRU, sizeof(clock));
    return clock;
}

/* Bytes an entry is charged: what the allocator really holds for it. */
static inline uint64_t entry_charge(const uint8_t *e)
{
    return malloc_usable_size((void *)e) + LT_CHUNK_HEADER;
}

/*
 * Allocates and fills an entry; NULL if malloc fails or returns memory that
 * a slot cannot address (not 16-byte aligned or above 2^48). The caller owns
 * the result until it is stored in a slot.
 */
static uint8_t *entry_create(const char *key, size_t klen, const char *val,
                             size_t vlen, bool has_expire, int64_t expire_at,
                             uint32_t clock)
{
    size_t size = ENTRY_LENS + varint_len(klen) + varint_len(vlen) + klen + vlen
                  + (has_expire ? sizeof(int64_t) : 0);
    uint8_t *e = malloc(size);
    if (e == NULL)
        return NULL;
    if (((uintptr_t)e & 15) != 0 || ((uintptr_t)e >> 48) != 0) {
        free(e);
        return NULL;
    }
    memcpy(e + ENTRY_LRU, &clock, sizeof(clock));
    e[ENTRY_FLAGS] = has_expire ? ENTRY_HAS_EXPIRE : 0;
    uint8_t *p = e + ENTRY_LENS;
    p += varint_put(p, klen);
    p += varint_put(p, vlen);
    if (has_expire) {
        memcpy(p, &expire_at, sizeof(expire_at));
        p += sizeof(expire_at);
    }
    if (klen)
        memcpy(p, key, klen);
    if (vlen)
        memcpy(p + klen, val, vlen);
    return e;
}

static inline void visit_value(live_visit_fn fn, void *arg, const uint8_t *e)
{
    struct entry_view v;
    entry_decode(e, &v);
    fn(arg, (const char *)v.val, v.vlen);
}

/* ---- slot arrays -------------------------------------------------------- */

/*
 * The slot of `key` in one array, or NULL. The array must hold at least one
 * empty slot (every array does), so the probe ends.
 */
static inline uint64_t *table_find(uint64_t *slots, size_t cap, uint32_t x,
                                   const char *key, size_t klen)
{
    if (cap == 0)
        return NULL;
    uint32_t fp = fp_of(x);
    size_t pos = home_of(x, cap);
    for (;;) {
        uint64_t v = slots[pos];
        if (v == SLOT_EMPTY)
            return NULL;
        if ((uint32_t)(v >> SLOT_FP_SHIFT) == fp && v != SLOT_MOVED
            && entry_key_equals(slot_entry(v), key, klen))
            return &slots[pos];
        pos = next_pos(pos, cap);
    }
}

/* The home slot, in an array of cap slots, of the entry in slot word v. */
static size_t slot_home(uint64_t v, size_t cap)
{
    uint32_t low = (uint32_t)(v >> SLOT_FP_SHIFT) << FP_LOW_BITS;
    size_t lo = home_of(low, cap);
    if (lo == home_of(low | ((UINT32_C(1) << FP_LOW_BITS) - 1), cap))
        return lo;
    return home_of(entry_hash32(slot_entry(v)), cap);
}

/*
 * Whether the entry in slot word v, found at pos, may move back into the
 * hole at `hole` (earlier in the same cluster): true unless its home lies
 * in the cyclic range (hole, pos]. Decided from the fingerprint when both
 * candidate homes agree.
 */
static bool slot_may_fill(uint64_t v, size_t pos, size_t hole, size_t cap)
{
    uint32_t low = (uint32_t)(v >> SLOT_FP_SHIFT) << FP_LOW_BITS;
    size_t lo = home_of(low, cap);
    size_t hi = home_of(low | ((UINT32_C(1) << FP_LOW_BITS) - 1), cap);
    size_t gap = cyc_dist(hole, pos, cap);
    bool lo_fills = cyc_dist(lo, pos, cap) >= gap;
    if (hi == lo || (hi == lo + 1 && lo_fills == (cyc_dist(hi, pos, cap) >= gap)))
        return lo_fills;
    return cyc_dist(home_of(entry_hash32(slot_entry(v)), cap), pos, cap) >= gap;
}

/* Stores slot word v in the first free slot from its home (one must exist). */
static void table_place(uint64_t *slots, size_t cap, uint64_t v, size_t home)
{
    size_t pos = home;
    while (slots[pos] != SLOT_EMPTY)
        pos = next_pos(pos, cap);
    slots[pos] = v;
}

/*
 * Empties slot `pos` of an array that has no SLOT_MOVED markers, moving
 * later entries of the cluster back so that every probe chain stays
 * unbroken (backward-shift deletion).
 */
static void table_remove_at(uint64_t *slots, size_t cap, size_t pos)
{
    size_t hole = pos;
    for (size_t j = next_pos(pos, cap);; j = next_pos(j, cap)) {
        uint64_t v = slots[j];
        if (v == SLOT_EMPTY)
            break;
        if (slot_may_fill(v, j, hole, cap)) {
            slots[hole] = v;
            hole = j;
        }
    }
    slots[hole] = SLOT_EMPTY;
}

/* ---- shard operations (lock held) ------------------------------------- */

static inline void ttl_keys_add(struct shard *s, int64_t d)
{
    uint64_t n = atomic_load_explicit(&s->ttl_keys, memory_order_relaxed);
    atomic_store_explicit(&s->ttl_keys, n + (uint64_t)d, memory_order_relaxed);
}

static inline uint64_t ttl_keys_get(struct shard *s)
{
    return atomic_load_explicit(&s->ttl_keys, memory_order_relaxed);
}

/* Pushes the shard's charge changes since the last settle to used_memory. */
static void do_settle(struct live_table *t, struct shard *s)
{
    if (s->mem > s->mem_settled)
        atomic_fetch_add_explicit(&t->used_memory, s->mem - s->mem_settled,
                                  memory_order_relaxed);
    else if (s->mem < s->mem_settled)
        atomic_fetch_sub_explicit(&t->used_memory, s->mem_settled - s->mem,
                                  memory_order_relaxed);
    s->mem_settled = s->mem;
}

/*
 * Adds `bytes` to used_memory if that keeps it within maxmemory (always when
 * there is no limit). Needs no lock: the caller then holds the bytes until
 * it hands them to a shard or gives them back.
 */
static bool mem_reserve(struct live_table *t, uint64_t bytes)
{
    uint64_t max = atomic_load_explicit(&t->maxmemory, memory_order_relaxed);
    if (max == 0) {
        atomic_fetch_add_explicit(&t->used_memory, bytes, memory_order_relaxed);
        return true;
    }
    uint64_t cur = atomic_load_explicit(&t->used_memory, memory_order_relaxed);
    do {
        if (cur > max || bytes > max - cur)
            return false;
    } while (!atomic_compare_exchange_weak_explicit(
        &t->used_memory, &cur, cur + bytes, memory_order_relaxed,
        memory_order_relaxed));
    return true;
}

/*
 * mem_reserve() for shard s: on success the bytes count as settled for s,
 * so the caller must grow s->mem by them before the next do_settle().
 */
static bool do_reserve(struct live_table *t, struct shard *s, uint64_t bytes)
{
    if (!mem_reserve(t, bytes))
        return false;
    s->mem_settled += bytes;
    return true;
}

/* Moves the current array aside and makes `fresh` (new_cap slots) current. */
static void do_start_resize(struct shard *s, uint64_t *fresh, size_t new_cap)
{
    s->old = s->slots;
    s->old_cap = s->cap;
    s->old_count = s->count;
    s->migrate_pos = 0;
    s->slots = fresh;
    s->cap = new_cap;
    s->mem += (uint64_t)new_cap * sizeof(uint64_t);
    atomic_store_explicit(&s->resizing, true, memory_order_relaxed);
}

/*
 * Advances the shard's resize by at most LT_MIGRATE_ENTRIES entries and
 * LT_MIGRATE_SCAN slots, freeing the old array once it is drained.
 */
static void do_migrate_step(struct shard *s)
{
    size_t scanned = 0, moved = 0;
    while (s->old_count > 0 && scanned < LT_MIGRATE_SCAN
           && moved < LT_MIGRATE_ENTRIES) {
        assert(s->migrate_pos < s->old_cap);
        uint64_t *p = &s->old[s->migrate_pos++];
        scanned++;
        if (slot_is_entry(*p)) {
            table_place(s->slots, s->cap, *p, slot_home(*p, s->cap));
            *p = SLOT_MOVED;
            s->old_count--;
            moved++;
        }
    }
    if (s->old_count == 0) {
        free(s->old);
        s->mem -= (uint64_t)s->old_cap * sizeof(uint64_t);
        s->old = NULL;
        s->old_cap = 0;
        s->migrate_pos = 0;
        atomic_store_explicit(&s->resizing, false, memory_order_relaxed);
    }
}

/* The slot holding `key` (current array first, then the old one) or NULL. */
static inline uint64_t *do_find(struct shard *s, uint32_t x, const char *key,
                                size_t klen)
{
    uint64_t *p = table_find(s->slots, s->cap, x, key, klen);
    if (p == NULL && s->old != NULL)
        p = table_find(s->old, s->old_cap, x, key, klen);
    return p;
}

/*
 * Unlinks and frees the entry in slot p (of either array) and uncharges it.
 * Never frees an array, so callers may keep walking them.
 */
static void do_remove_slot(struct shard *s, uint64_t *p)
{
    uint8_t *e = slot_entry(*p);
    if (s->old != NULL && p >= s->old && p < s->old + s->old_cap) {
        *p = SLOT_MOVED;
        s->old_count--;
    } else {
        table_remove_at(s->slots, s->cap, (size_t)(p - s->slots));
    }
    s->count--;
    if (entry_has_expire(e))
        ttl_keys_add(s, -1);
    s->mem -= entry_charge(e);
    free(e);
}

/* Like do_find(), but an expired entry is reclaimed and reported absent. */
static inline uint64_t *do_find_live(struct shard *s, uint32_t x,
                                     const char *key, size_t klen,
                                     int64_t now_ms)
{
    uint64_t *p = do_find(s, x, key, klen);
    if (p != NULL && entry_expired(slot_entry(*p), now_ms)) {
        do_remove_slot(s, p);
        s->expired++;
        return NULL;
    }
    return p;
}

/*
 * The capacity of the array that inserting one more key would allocate
 * first (the first array, or a grown one), or 0 if none is needed.
 */
static size_t do_grow_target(const struct shard *s)
{
    if (s->cap == 0)
        return LT_MIN_CAP;
    if (s->old != NULL || s->cap >= LT_MAX_CAP)
        return 0;
    if ((s->count + 1) * LT_LOAD_DEN <= s->cap * LT_LOAD_NUM)
        return 0;
    size_t cap = s->cap / LT_GROW_DEN * LT_GROW_NUM;
    return cap < LT_MAX_CAP ? cap : LT_MAX_CAP;
}

/*
 * Stores a new entry (key absent from the shard), first allocating an array
 * of `grow` slots if grow is not 0 (see do_grow_target()). Returns false,
 * storing nothing, if that leaves no room. The shard then owns e.
 */
static bool do_insert(struct shard *s, uint32_t x, uint8_t *e, size_t grow)
{
    if (grow != 0) {
        uint64_t *fresh = calloc(grow, sizeof(uint64_t));
        if (fresh != NULL && s->cap == 0) {
            s->slots = fresh;
            s->cap = grow;
            s->mem += (uint64_t)grow * sizeof(uint64_t);
        } else if (fresh != NULL) {
            do_start_resize(s, fresh, grow);
        }
    }
    if (s->count + 1 >= s->cap)
        return false; /* keep one empty slot so that every probe ends */
    table_place(s->slots, s->cap, slot_make(fp_of(x), e), home_of(x, s->cap));
    s->count++;
    if (entry_has_expire(e))
        ttl_keys_add(s, 1);
    s->mem += entry_charge(e);
    return true;
}

/* Puts entry e (key hash x) in slot p and frees the entry it replaces. */
static inline void do_replace(struct shard *s, uint64_t *p, uint32_t x,
                              uint8_t *e)
{
    uint8_t *old = slot_entry(*p);
    *p = slot_make(fp_of(x), e);
    ttl_keys_add(s, (int64_t)entry_has_expire(e)
                        - (int64_t)entry_has_expire(old));
    s->mem += entry_charge(e);
    s->mem -= entry_charge(old);
    free(old);
}

/*
 * Starts a shrink when the shard is under 1/8 full and the smaller array
 * fits within maxmemory; the resize then drains like a growth.
 */
static void do_maybe_shrink(struct live_table *t, struct shard *s)
{
    if (s->old != NULL || s->cap <= LT_MIN_CAP
        || s->count * LT_SHRINK_DIV >= s->cap)
        return;
    size_t cap = s->count * 2 > LT_MIN_CAP ? s->count * 2 : LT_MIN_CAP;
    uint64_t bytes = (uint64_t)cap * sizeof(uint64_t);
    if (!do_reserve(t, s, bytes))
        return;
    uint64_t *fresh = calloc(cap, sizeof(uint64_t));
    if (fresh == NULL)
        return; /* the reservation is returned by the next settle */
    do_start_resize(s, fresh, cap);
}

/*
 * One entry chosen by sampling, scanning forward from a random slot of the
 * shard (both arrays) to the first entry the policy may evict; NULL if
 * there is none.
 */
static uint8_t *do_sample(struct shard *s, bool volatile_only)
{
    size_t total = s->cap + (s->old != NULL ? s->old_cap : 0);
    if (total == 0)
        return NULL;
    size_t pos = (size_t)(rng_next(&s->rng) % total);
    for (size_t n = 0; n < total; n++, pos = pos + 1 == total ? 0 : pos + 1) {
        uint64_t v = pos < s->cap ? s->slots[pos] : s->old[pos - s->cap];
        if (!slot_is_entry(v))
            continue;
        uint8_t *e = slot_entry(v);
        if (!volatile_only || entry_has_expire(e))
            return e;
    }
    return NULL;
}

/* Removes a sampled entry: finds its slot again through its key. */
static void do_remove_entry(struct shard *s, const uint8_t *e)
{
    struct entry_view v;
    entry_decode(e, &v);
    uint32_t x = (uint32_t)key_hash((const char *)v.key, v.klen);
    uint64_t *p = do_find(s, x, (const char *)v.key, v.klen);
    assert(p != NULL && slot_entry(*p) == e);
    do_remove_slot(s, p);
}

/*
 * Frees memory in shard s under `policy`: samples t->samples entries; if
 * any has expired, reclaims every expired one of them, otherwise evicts the
 * best candidate (oldest LRU clock, random, or nearest expiry). Returns
 * false if the shard holds nothing the policy may remove.
 */
static bool do_evict_one(struct live_table *t, struct shard *s, int policy,
                         int64_t now_ms)
{
    bool volatile_only = is_volatile(policy);
    if (s->count == 0 || (volatile_only && ttl_keys_get(s) == 0))
        return false;
    uint8_t *cand[LT_MAX_SAMPLES];
    size_t n = 0;
    for (unsigned i = 0; i < t->samples; i++) {
        uint8_t *e = do_sample(s, volatile_only);
        if (e == NULL)
            break;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++)
            seen = cand[k] == e;
        if (!seen)
            cand[n++] = e;
    }
    if (n == 0)
        return false;

    size_t reclaimed = 0;
    for (size_t k = 0; k < n; k++) {
        if (entry_expired(cand[k], now_ms)) {
            do_remove_entry(s, cand[k]);
            s->expired++;
            reclaimed++;
        }
    }
    if (reclaimed > 0)
        return true;

    uint8_t *best = cand[0];
    uint32_t clock = lru_clock(now_ms);
    for (size_t k = 1; k < n; k++) {
        if (policy == LIVE_VOLATILE_TTL) {
            if (entry_expire_at(cand[k]) < entry_expire_at(best))
                best = cand[k];
        } else if (policy != LIVE_ALLKEYS_RANDOM) {
            if ((uint32_t)(clock - entry_lru(cand[k]))
                > (uint32_t)(clock - entry_lru(best)))
                best = cand[k];
        }
    }
    do_remove_entry(s, best);
    s->evicted++;
    return true;
}

/* Frees every entry and array of the shard. */
static void do_clear(struct shard *s)
{
    uint64_t *arrays[2] = { s->slots, s->old };
    size_t caps[2] = { s->cap, s->old != NULL ? s->old_cap : 0 };
    for (int a = 0; a < 2; a++) {
        for (size_t i = 0; i < caps[a]; i++)
            if (slot_is_entry(arrays[a][i]))
                free(slot_entry(arrays[a][i]));
        free(arrays[a]);
    }
    s->slots = s->old = NULL;
    s->cap = s->old_cap = s->old_count = s->migrate_pos = s->count = 0;
    s->mem = 0;
    atomic_store_explicit(&s->ttl_keys, 0, memory_order_relaxed);
    atomic_store_explicit(&s->resizing, false, memory_order_relaxed);
}

/* ---- locking ------------------------------------------------------------ */

static inline size_t shard_index(const struct live_table *t, uint64_t h)
{
    return t->shards_log2 ? (size_t)(h >> (64 - t->shards_log2)) : 0;
}

static inline struct shard *shard_of(struct live_table *t, uint64_t h)
{
    return &t->shards[shard_index(t, h)];
}

static inline void shard_lock(struct shard *s)
{
    pthread_mutex_lock(&s->lock);
}

/*
 * Ends every operation on s: starts a shrink if one is due, advances the
 * resize (so one started by this very operation makes progress at once,
 * and a small array is drained on the spot), settles memory and unlocks.
 */
static inline void shard_unlock(struct live_table *t, struct shard *s)
{
    do_settle(t, s);
    do_maybe_shrink(t, s);
    if (s->old != NULL)
        do_migrate_step(s);
    do_settle(t, s);
    pthread_mutex_unlock(&s->lock);
}

static bool mem_fits(struct live_table *t, uint64_t bytes)
{
    uint64_t max = atomic_load_explicit(&t->maxmemory, memory_order_relaxed);
    uint64_t cur = atomic_load_explicit(&t->used_memory, memory_order_relaxed);
    return max == 0 || (cur <= max && bytes <= max - cur);
}

/*
 * Evicts from `count` shards, starting at shard `first` (modulo the shard
 * count), one shard lock at a time, until `bytes` more would fit. The
 * caller holds no shard lock. Returns false if nothing could be removed and
 * the bytes never fitted; true tells the caller to try its reservation
 * again (other writers may take the room first).
 */
static bool evict_shards(struct live_table *t, size_t first, size_t count,
                         int policy, uint64_t bytes, int64_t now_ms)
{
    bool removed = false;
    for (size_t k = 0; k < count; k++) {
        if (mem_fits(t, bytes))
            return true;
        struct shard *o = &t->shards[(first + k) & (t->nshards - 1)];
        shard_lock(o);
        while (!mem_fits(t, bytes) && do_evict_one(t, o, policy, now_ms)) {
            do_settle(t, o);
            removed = true;
        }
        shard_unlock(t, o);
    }
    return removed || mem_fits(t, bytes);
}

/* ---- public API --------------------------------------------------------- */

struct live_options live_options_default(void)
{
    struct live_options o = {
        .maxmemory = 0,
        .policy = LIVE_NOEVICTION,
        .shards_log2 = LT_DEFAULT_SHARDS_LOG2,
        .eviction_samples = LT_DEFAULT_SAMPLES,
    };
    return o;
}

struct live_table *live_create(const struct live_options *options)
{
    struct live_options o = options ? *options : live_options_default();
    if (o.shards_log2 > LT_MAX_SHARDS_LOG2 || live_policy_name(o.policy) == NULL)
        return NULL;
    struct live_table *t = aligned_alloc(_Alignof(struct live_table),
                                         sizeof(struct live_table));
    if (t == NULL)
        return NULL;
    memset(t, 0, sizeof(*t));
    t->shards_log2 = o.shards_log2;
    t->nshards = (size_t)1 << o.shards_log2;
    t->samples = o.eviction_samples == 0 ? LT_DEFAULT_SAMPLES
               : o.eviction_samples > LT_MAX_SAMPLES ? LT_MAX_SAMPLES
               : o.eviction_samples;
    atomic_init(&t->maxmemory, o.maxmemory);
    atomic_init(&t->policy, (int)o.policy);
    atomic_init(&t->used_memory, 0);
    t->shards = aligned_alloc(_Alignof(struct shard),
                              t->nshards * sizeof(struct shard));
    if (t->shards == NULL || pthread_mutex_init(&t->cycle_lock, NULL) != 0) {
        free(t->shards);
        free(t);
        return NULL;
    }
    memset(t->shards, 0, t->nshards * sizeof(struct shard));
    for (size_t i = 0; i < t->nshards; i++) {
        struct shard *s = &t->shards[i];
        pthread_mutex_init(&s->lock, NULL);
        s->rng = i; /* fixed seeds: runs are reproducible */
        atomic_init(&s->ttl_keys, 0);
        atomic_init(&s->resizing, false);
    }
    return t;
}

void live_destroy(struct live_table **table)
{
    struct live_table *t = *table;
    if (t == NULL)
        return;
    for (size_t i = 0; i < t->nshards; i++) {
        do_clear(&t->shards[i]);
        pthread_mutex_destroy(&t->shards[i].lock);
    }
    pthread_mutex_destroy(&t->cycle_lock);
    free(t->shards);
    free(t);
    *table = NULL;
}

void live_set_limits(struct live_table *t, uint64_t maxmemory,
                     enum live_policy policy)
{
    atomic_store_explicit(&t->maxmemory, maxmemory, memory_order_relaxed);
    atomic_store_explicit(&t->policy, (int)policy, memory_order_relaxed);
}

/*
 * GET and EXISTS: finds a live key, shows its value to fn if fn is not NULL
 * and, with `touch`, marks it as recently used.
 */
static enum live_status lookup(struct live_table *t, const char *key,
                               size_t klen, int64_t now_ms, bool touch,
                               live_visit_fn fn, void *arg)
{
    uint64_t h = key_hash(key, klen);
    struct shard *s = shard_of(t, h);
    enum live_status rc = LIVE_NOTFOUND;
    shard_lock(s);
    uint64_t *p = do_find_live(s, (uint32_t)h, key, klen, now_ms);
    if (p != NULL) {
        uint8_t *e = slot_entry(*p);
        if (touch)
            entry_touch(e, lru_clock(now_ms));
        if (fn != NULL)
            visit_value(fn, arg, e);
        rc = LIVE_OK;
    }
    shard_unlock(t, s);
    return rc;
}

enum live_status live_get(struct live_table *t, const char *key, size_t klen,
                          int64_t now_ms, live_visit_fn fn, void *arg)
{
    return lookup(t, key, klen, now_ms, true, fn, arg);
}

/*
 * SET under the shard lock, retried from the lookup whenever eviction may
 * have changed the shard. The new entry is allocated before the memory
 * check so that its exact charge is known; the old value is shown to old_fn
 * only once the outcome is certain.
 */
enum live_status live_set(struct live_table *t, const char *key, size_t klen,
                          const char *value, size_t vlen,
                          int64_t expire_at_ms, unsigned flags, int64_t now_ms,
                          live_visit_fn old_fn, void *arg)
{
    uint64_t h = key_hash(key, klen);
    uint32_t x = (uint32_t)h;
    struct shard *s = shard_of(t, h);
    int policy = atomic_load_explicit(&t->policy, memory_order_relaxed);
    uint8_t *fresh = NULL;
    enum live_status rc;

    shard_lock(s);
    for (;;) {
        uint64_t *p = do_find_live(s, x, key, klen, now_ms);
        uint8_t *old = p != NULL ? slot_entry(*p) : NULL;
        if (((flags & LIVE_SET_NX) && old != NULL)
            || ((flags & LIVE_SET_XX) && old == NULL)) {
            if (old != NULL && old_fn != NULL)
                visit_value(old_fn, arg, old);
            rc = LIVE_NOTSET;
            break;
        }
        bool keep = (flags & LIVE_SET_KEEPTTL) && old != NULL;
        bool has_expire = keep ? entry_has_expire(old) : expire_at_ms != 0;
        int64_t expire_at = keep ? entry_expire_at(old) : expire_at_ms;
        if (has_expire && expire_at <= now_ms) {
            /* Stored already expired: the key simply ends up absent. */
            if (old != NULL) {
                if (old_fn != NULL)
                    visit_value(old_fn, arg, old);
                do_remove_slot(s, p);
            }
            rc = LIVE_OK;
            break;
        }
        if (fresh != NULL && entry_has_expire(fresh) != has_expire) {
            free(fresh);
            fresh = NULL;
        }
        if (fresh == NULL) {
            fresh = entry_create(key, klen, value, vlen, has_expire, expire_at,
                                 lru_clock(now_ms));
            if (fresh == NULL) {
                rc = LIVE_OOM;
                break;
            }
        } else if (has_expire) {
            memcpy(entry_expire_field(fresh), &expire_at, sizeof(expire_at));
        }

        size_t grow = old != NULL ? 0 : do_grow_target(s);
        uint64_t add = entry_charge(fresh) + (uint64_t)grow * sizeof(uint64_t);
        uint64_t sub = old != NULL ? entry_charge(old) : 0;
        do_settle(t, s); /* frees by this operation count before the check */
        if (add > sub && !do_reserve(t, s, add - sub)) {
            uint64_t need = add - sub;
            uint64_t max = atomic_load_explicit(&t->maxmemory,
                                                memory_order_relaxed);
            if (max == 0)
                continue; /* the limit was lifted meanwhile */
            if (policy == LIVE_NOEVICTION || need > max) {
                rc = LIVE_OOM;
                break;
            }
            bool evicted = do_evict_one(t, s, policy, now_ms);
            do_settle(t, s);
            if (!evicted) {
                size_t self = (size_t)(s - t->shards);
                pthread_mutex_unlock(&s->lock);
                evicted = evict_shards(t, self + 1, t->nshards - 1, policy,
                                       need, now_ms);
                shard_lock(s);
            }
            if (!evicted) {
                rc = LIVE_OOM;
                break;
            }
            continue;
        }

        if (old != NULL) {
            if (old_fn != NULL)
                visit_value(old_fn, arg, old);
            do_replace(s, p, x, fresh);
        } else if (!do_insert(s, x, fresh, grow)) {
            rc = LIVE_OOM;
            break;
        }
        fresh = NULL;
        rc = LIVE_OK;
        break;
    }
    shard_unlock(t, s);
    free(fresh);
    return rc;
}

/* ---- multi-key operations ------------------------------------------------ */

/*
 * MGET and MSET lock every shard their keys live in, in ascending shard
 * order, and unlock them only when done: that is what makes MSET atomic and
 * MGET a snapshot. It is the only path that holds two shard locks, and all
 * its instances take them in the same order, so it cannot deadlock with
 * itself; single-key paths hold one lock, and nothing that holds several
 * calls evict_shards() (MSET makes room with no lock held, then locks
 * again).
 */

/* The set of shards a multi-key operation locks, as a bitmap. */
struct shard_set {
    uint64_t *bits; /* NULL: every shard (the bitmap could not be allocated) */
    size_t lo, hi;  /* words [lo, hi) may be non-zero */
    uint64_t stack_bits[LT_SET_STACK_WORDS];
};

/* Starts an empty set for t's shards. */
static void shard_set_init(struct shard_set *set, const struct live_table *t)
{
    size_t nwords = (t->nshards + 63) / 64;
    set->bits = nwords <= LT_SET_STACK_WORDS
              ? set->stack_bits : malloc(nwords * sizeof(uint64_t));
    if (set->bits != NULL) {
        memset(set->bits, 0, nwords * sizeof(uint64_t));
        set->lo = nwords;
        set->hi = 0;
    } else {
        set->lo = 0;
        set->hi = nwords;
    }
}

static void shard_set_deinit(struct shard_set *set)
{
    if (set->bits != set->stack_bits)
        free(set->bits);
}

static inline void shard_set_add(struct shard_set *set, size_t shard)
{
    if (set->bits == NULL)
        return;
    size_t w = shard / 64;
    set->bits[w] |= UINT64_C(1) << (shard % 64);
    set->lo = w < set->lo ? w : set->lo;
    set->hi = w + 1 > set->hi ? w + 1 : set->hi;
}

/* Word w of the set (every shard when the bitmap is missing). */
static inline uint64_t shard_set_word(const struct shard_set *set,
                                      const struct live_table *t, size_t w)
{
    if (set->bits != NULL)
        return set->bits[w];
    return t->nshards - w * 64 >= 64 ? ~UINT64_C(0)
         : (UINT64_C(1) << (t->nshards - w * 64)) - 1;
}

/* Locks the shards of the set in ascending order. */
static void shard_set_lock(struct live_table *t, const struct shard_set *set)
{
    for (size_t w = set->lo; w < set->hi; w++)
        for (uint64_t b = shard_set_word(set, t, w); b != 0; b &= b - 1)
            shard_lock(&t->shards[w * 64 + (size_t)__builtin_ctzll(b)]);
}

static void shard_set_unlock(struct live_table *t, const struct shard_set *set)
{
    for (size_t w = set->lo; w < set->hi; w++)
        for (uint64_t b = shard_set_word(set, t, w); b != 0; b &= b - 1)
            shard_unlock(t, &t->shards[w * 64 + (size_t)__builtin_ctzll(b)]);
}

size_t live_mget(struct live_table *t, const char *const *keys,
                 const size_t *klens, size_t n, int64_t now_ms,
                 live_mget_fn fn, void *arg)
{
    if (n == 0)
        return 0;
    uint64_t stack_hashes[LT_MULTI_STACK_KEYS];
    uint64_t *hashes = n <= LT_MULTI_STACK_KEYS
                     ? stack_hashes : malloc(n * sizeof(uint64_t));
    struct shard_set set;
    shard_set_init(&set, t);
    for (size_t i = 0; i < n; i++) {
        uint64_t h = key_hash(keys[i], klens[i]);
        if (hashes != NULL)
            hashes[i] = h;
        shard_set_add(&set, shard_index(t, h));
    }

    size_t found = 0;
    uint32_t clock = lru_clock(now_ms);
    shard_set_lock(t, &set);
    for (size_t i = 0; i < n; i++) {
        /* Without the hash array (malloc failed), hash again. */
        uint64_t h = hashes != NULL ? hashes[i] : key_hash(keys[i], klens[i]);
        struct shard *s = shard_of(t, h);
        uint64_t *p = do_find_live(s, (uint32_t)h, keys[i], klens[i], now_ms);
        if (p != NULL) {
            uint8_t *e = slot_entry(*p);
            entry_touch(e, clock);
            visit_value(fn, arg, e);
            found++;
        } else {
            fn(arg, NULL, 0);
        }
    }
    shard_set_unlock(t, &set);

    shard_set_deinit(&set);
    if (hashes != stack_hashes)
        free(hashes);
    return found;
}

/*
 * One distinct key of an MSET. The items are sorted by hash, which groups
 * them by shard in ascending shard order: a shard's items form a run.
 */
struct mset_item {
    uint64_t h;
    const char *key; /* borrowed from the caller */
    size_t klen;
    size_t arg;      /* index into the caller's arrays */
    uint8_t *fresh;  /* the new entry: owned by the item until stored */
    size_t grow;     /* first item of a run: capacity its shard must grow
                        to before the write, or 0 */
};

/* Orders items by hash, then key, then argument index. */
static int mset_item_cmp(const void *a, const void *b)
{
    const struct mset_item *x = a, *y = b;
    if (x->h != y->h)
        return x->h < y->h ? -1 : 1;
    if (x->klen != y->klen)
        return x->klen < y->klen ? -1 : 1;
    int c = x->klen ? memcmp(x->key, y->key, x->klen) : 0;
    if (c != 0)
        return c;
    return x->arg < y->arg ? -1 : x->arg > y->arg;
}

static inline bool mset_same_key(const struct mset_item *x,
                                 const struct mset_item *y)
{
    return x->h == y->h && x->klen == y->klen
           && (x->klen == 0 || memcmp(x->key, y->key, x->klen) == 0);
}

/*
 * Fills items[0..n-1] from the caller's keys, sorts them and drops every
 * key that appears again later in the arguments (the last value wins, as
 * in Redis). Returns how many items are left.
 */
static size_t mset_items_prepare(struct mset_item *items,
                                 const char *const *keys, const size_t *klens,
                                 size_t n)
{
    for (size_t i = 0; i < n; i++)
        items[i] = (struct mset_item){ key_hash(keys[i], klens[i]), keys[i],
                                       klens[i], i, NULL, 0 };
    if (n > 1)
        qsort(items, n, sizeof(items[0]), mset_item_cmp);
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (i + 1 == n || !mset_same_key(&items[i], &items[i + 1]))
            items[m++] = items[i];
    return m;
}

/* The end of the run of items (same shard) that starts at j. */
static size_t mset_run_end(const struct live_table *t,
                           const struct mset_item *items, size_t m, size_t j)
{
    size_t shard = shard_index(t, items[j].h), end = j + 1;
    while (end < m && shard_index(t, items[end].h) == shard)
        end++;
    return end;
}

static void mset_lock(struct live_table *t, const struct mset_item *items,
                      size_t m)
{
    for (size_t j = 0; j < m; j = mset_run_end(t, items, m, j))
        shard_lock(shard_of(t, items[j].h));
}

static void mset_unlock(struct live_table *t, const struct mset_item *items,
                        size_t m)
{
    for (size_t j = 0; j < m; j = mset_run_end(t, items, m, j))
        shard_unlock(t, shard_of(t, items[j].h));
}

/*
 * The capacity shard s must grow to so that k more keys keep its load
 * within the limit, in *grow (0 if the current array has room). Unlike
 * do_grow_target() this may grow by more than 1.5x, and it counts a shard
 * in the middle of a resize as if the resize were done (do_grow_to() then
 * finishes it). False if not even the largest array can hold the keys.
 */
static bool do_room_target(const struct shard *s, size_t k, size_t *grow)
{
    size_t want = s->count + k;
    *grow = 0;
    if (k == 0 || (s->cap != 0 && want * LT_LOAD_DEN <= s->cap * LT_LOAD_NUM))
        return true;
    size_t cap = s->cap == 0 ? LT_MIN_CAP : s->cap / LT_GROW_DEN * LT_GROW_NUM;
    size_t min = want * LT_LOAD_DEN / LT_LOAD_NUM + 1;
    cap = cap > min ? cap : min;
    cap = cap < LT_MAX_CAP ? cap : LT_MAX_CAP;
    if (cap > s->cap)
        *grow = cap;
    return want < (*grow != 0 ? *grow : s->cap); /* one slot stays empty */
}

/*
 * Makes a new current array of `cap` slots for shard s, first draining any
 * resize in progress (work proportional to the keys the caller inserts).
 * False, changing nothing, if the array cannot be allocated.
 */
static bool do_grow_to(struct shard *s, size_t cap)
{
    uint64_t *fresh = calloc(cap, sizeof(uint64_t));
    if (fresh == NULL)
        return false;
    while (s->old != NULL)
        do_migrate_step(s);
    if (s->cap == 0) {
        s->slots = fresh;
        s->cap = cap;
        s->mem += (uint64_t)cap * sizeof(uint64_t);
    } else {
        do_start_resize(s, fresh, cap);
    }
    return true;
}

/*
 * Plans an MSET with its shards locked: reclaims its expired keys, sets
 * each run's `grow`, and returns in *need the bytes the write will add (new
 * entries and grown arrays, less the entries it replaces; may be negative).
 * False if some shard cannot hold its new keys.
 */
static bool do_mset_plan(struct live_table *t, struct mset_item *items,
                         size_t m, int64_t now_ms, int64_t *need)
{
    int64_t bytes = 0;
    for (size_t j = 0, end; j < m; j = end) {
        struct shard *s = shard_of(t, items[j].h);
        size_t new_keys = 0;
        end = mset_run_end(t, items, m, j);
        for (size_t k = j; k < end; k++) {
            uint64_t *p = do_find_live(s, (uint32_t)items[k].h, items[k].key,
                                       items[k].klen, now_ms);
            bytes += (int64_t)entry_charge(items[k].fresh);
            if (p != NULL)
                bytes -= (int64_t)entry_charge(slot_entry(*p));
            else
                new_keys++;
        }
        if (!do_room_target(s, new_keys, &items[j].grow))
            return false;
        bytes += (int64_t)(items[j].grow * sizeof(uint64_t));
    }
    *need = bytes;
    return true;
}

/*
 * Carries out a plan: grows the shards that need it (LIVE_OOM, nothing
 * written, if an array cannot be allocated), then stores every entry,
 * which can no longer fail.
 */
static enum live_status do_mset_apply(struct live_table *t,
                                      struct mset_item *items, size_t m)
{
    for (size_t j = 0; j < m; j = mset_run_end(t, items, m, j))
        if (items[j].grow != 0 && !do_grow_to(shard_of(t, items[j].h),
                                              items[j].grow))
            return LIVE_OOM;
    for (size_t k = 0; k < m; k++) {
        struct shard *s = shard_of(t, items[k].h);
        uint32_t x = (uint32_t)items[k].h;
        uint64_t *p = do_find(s, x, items[k].key, items[k].klen);
        if (p != NULL) {
            do_replace(s, p, x, items[k].fresh);
        } else {
            bool stored = do_insert(s, x, items[k].fresh, 0);
            assert(stored); /* the plan made room */
            (void)stored;
        }
        items[k].fresh = NULL;
    }
    return LIVE_OK;
}

/*
 * Settles the locked shards of an MSET at once. `reserved` bytes were
 * added to used_memory ahead of the write; the shards' net change takes
 * their place in one atomic step (modulo 2^64, so a net decrease simply
 * wraps), so used_memory never counts both.
 */
static void do_mset_settle(struct live_table *t, const struct mset_item *items,
                           size_t m, uint64_t reserved)
{
    uint64_t delta = 0;
    for (size_t j = 0; j < m; j = mset_run_end(t, items, m, j)) {
        struct shard *s = shard_of(t, items[j].h);
        delta += s->mem - s->mem_settled;
        s->mem_settled = s->mem;
    }
    atomic_fetch_add_explicit(&t->used_memory, delta - reserved,
                              memory_order_relaxed);
}

/*
 * For a writer that holds no shard lock and needs `bytes` more of
 * used_memory (`total` in all): evicts under `policy`, from every shard
 * starting at `first`, until they fit, then reserves them, adding them to
 * *reserved, unless another writer took the room first. False if they
 * cannot be made to fit.
 */
static bool reserve_evicting(struct live_table *t, int policy, uint64_t total,
                             uint64_t bytes, size_t first, int64_t now_ms,
                             uint64_t *reserved)
{
    uint64_t max = atomic_load_explicit(&t->maxmemory, memory_order_relaxed);
    if (max != 0 && (policy == LIVE_NOEVICTION || total > max
                     || !evict_shards(t, first, t->nshards, policy, bytes,
                                      now_ms)))
        return false;
    if (mem_reserve(t, bytes))
        *reserved += bytes;
    return true;
}

/*
 * Writes the prepared items (entries created) as one atomic step. Locks
 * their shards and plans; if the net growth does not fit within maxmemory,
 * unlocks everything, makes room with no lock held (evicting from one
 * shard at a time), and locks and plans again with those bytes in hand.
 */
static enum live_status mset_write(struct live_table *t,
                                   struct mset_item *items, size_t m,
                                   int64_t now_ms)
{
    int policy = atomic_load_explicit(&t->policy, memory_order_relaxed);
    uint64_t reserved = 0; /* bytes this call holds in used_memory */
    enum live_status rc;
    for (;;) {
        int64_t need;
        mset_lock(t, items, m);
        if (!do_mset_plan(t, items, m, now_ms, &need)) {
            rc = LIVE_OOM;
            break;
        }
        uint64_t more = need > (int64_t)reserved
                      ? (uint64_t)need - reserved : 0;
        if (more == 0 || mem_reserve(t, more)) {
            reserved += more;
            rc = do_mset_apply(t, items, m);
            break;
        }
        mset_unlock(t, items, m);
        if (!reserve_evicting(t, policy, (uint64_t)need, more,
                              shard_index(t, items[0].h), now_ms, &reserved)) {
            atomic_fetch_sub_explicit(&t->used_memory, reserved,
                                      memory_order_relaxed);
            return LIVE_OOM;
        }
    }
    do_mset_settle(t, items, m, reserved);
    mset_unlock(t, items, m);
    return rc;
}

enum live_status live_mset(struct live_table *t, const char *const *keys,
                           const size_t *klens, const char *const *values,
                           const size_t *vlens, size_t n, int64_t now_ms)
{
    if (n == 0)
        return LIVE_OK;
    struct mset_item stack_items[LT_MULTI_STACK_KEYS];
    struct mset_item *items = n <= LT_MULTI_STACK_KEYS
                            ? stack_items : malloc(n * sizeof(*items));
    if (items == NULL)
        return LIVE_OOM;
    size_t m = mset_items_prepare(items, keys, klens, n);
    enum live_status rc = LIVE_OK;
    uint32_t clock = lru_clock(now_ms);
    for (size_t k = 0; k < m && rc == LIVE_OK; k++) {
        size_t i = items[k].arg;
        items[k].fresh = entry_create(keys[i], klens[i], values[i], vlens[i],
                                      false, 0, clock);
        if (items[k].fresh == NULL)
            rc = LIVE_OOM;
    }
    if (rc == LIVE_OK)
        rc = mset_write(t, items, m, now_ms);
    for (size_t k = 0; k < m; k++)
        free(items[k].fresh); /* NULL once stored */
    if (items != stack_items)
        free(items);
    return rc;
}

enum live_status live_del(struct live_table *t, const char *key, size_t klen,
                          int64_t now_ms)
{
    uint64_t h = key_hash(key, klen);
    struct shard *s = shard_of(t, h);
    shard_lock(s);
    uint64_t *p = do_find_live(s, (uint32_t)h, key, klen, now_ms);
    if (p != NULL)
        do_remove_slot(s, p);
    shard_unlock(t, s);
    return p != NULL ? LIVE_OK : LIVE_NOTFOUND;
}

enum live_status live_exists(struct live_table *t, const char *key,
                             size_t klen, int64_t now_ms)
{
    return lookup(t, key, klen, now_ms, false, NULL, NULL);
}

/*
 * Replaces the entry in slot p (key hash h, shard s locked) by a copy with
 * or without an expiry field (at expire_at_ms), keeping its LRU clock;
 * LIVE_OOM, changing nothing, if the copy cannot be allocated.
 */
static enum live_status reshape_entry(struct shard *s, uint64_t *p,
                                      uint64_t h, bool has_expire,
                                      int64_t expire_at_ms)
{
    uint8_t *e = slot_entry(*p);
    struct entry_view v;
    entry_decode(e, &v);
    uint8_t *copy = entry_create((const char *)v.key, v.klen,
                                 (const char *)v.val, v.vlen, has_expire,
                                 expire_at_ms, entry_lru(e));
    if (copy == NULL) {
        return LIVE_OOM;
    }
    *p = slot_make(fp_of((uint32_t)h), copy);
    ttl_keys_add(s, has_expire ? 1 : -1);
    s->mem += entry_charge(copy);
    s->mem -= entry_charge(e);
    free(e);
    return LIVE_OK;
}

/*
 * EXPIRE: rewrites the field in place when the entry has one; otherwise
 * replaces the entry by a copy with the field (not checked against
 * maxmemory, see the file comment). LIVE_OOM only if that copy cannot be
 * allocated.
 */
enum live_status live_expire(struct live_table *t, const char *key,
                             size_t klen, int64_t expire_at_ms, int64_t now_ms)
{
    uint64_t h = key_hash(key, klen);
    struct shard *s = shard_of(t, h);
    enum live_status rc = LIVE_OK;
    shard_lock(s);
    uint64_t *p = do_find_live(s, (uint32_t)h, key, klen, now_ms);
    if (p == NULL) {
        rc = LIVE_NOTFOUND;
    } else if (expire_at_ms <= now_ms) {
        do_remove_slot(s, p);
    } else {
        uint8_t *e = slot_entry(*p);
        if (entry_has_expire(e)) {
            memcpy(entry_expire_field(e), &expire_at_ms, sizeof(expire_at_ms));
        } else {
            rc = reshape_entry(s, p, h, true, expire_at_ms);
        }
    }
    shard_unlock(t, s);
    return rc;
}

/* PERSIST: replaces the entry by a copy without the expiry field. */
enum live_status live_persist(struct live_table *t, const char *key,
                              size_t klen, int64_t now_ms)
{
    uint64_t h = key_hash(key, klen);
    struct shard *s = shard_of(t, h);
    enum live_status rc = LIVE_OK;
    shard_lock(s);
    uint64_t *p = do_find_live(s, (uint32_t)h, key, klen, now_ms);
    if (p == NULL) {
        rc = LIVE_NOTFOUND;
    } else if (!entry_has_expire(slot_entry(*p))) {
        rc = LIVE_NOTSET;
    } else {
        rc = reshape_entry(s, p, h, false, 0);
    }
    shard_unlock(t, s);
    return rc;
}

int64_t live_ttl(struct live_table *t, const char *key, size_t klen,
                 int64_t now_ms)
{
    uint64_t h = key_hash(key, klen);
    struct shard *s = shard_of(t, h);
    int64_t ttl = -2;
    shard_lock(s);
    uint64_t *p = do_find_live(s, (uint32_t)h, key, klen, now_ms);
    if (p != NULL) {
        const uint8_t *e = slot_entry(*p);
        ttl = entry_has_expire(e) ? entry_expire_at(e) - now_ms : -1;
    }
    shard_unlock(t, s);
    return ttl;
}

uint64_t live_count(struct live_table *t)
{
    uint64_t n = 0;
    for (size_t i = 0; i < t->nshards; i++) {
        struct shard *s = &t->shards[i];
        pthread_mutex_lock(&s->lock);
        n += s->count;
        pthread_mutex_unlock(&s->lock);
    }
    return n;
}

void live_flush(struct live_table *t)
{
    for (size_t i = 0; i < t->nshards; i++) {
        struct shard *s = &t->shards[i];
        pthread_mutex_lock(&s->lock);
        do_clear(s);
        do_settle(t, s);
        pthread_mutex_unlock(&s->lock);
    }
}

/*
 * Walks shard s from *pos (current array, then the old one) reclaiming
 * expired entries, one unit of *budget per slot examined. Returns true when
 * the walk reached the end of the shard (or the shard has no TTL keys left).
 */
static bool do_expire_scan(struct shard *s, int64_t now_ms, size_t *pos,
                           uint64_t *budget, uint64_t *deleted)
{
    size_t total = s->cap + (s->old != NULL ? s->old_cap : 0);
    while (*pos < total && ttl_keys_get(s) > 0) {
        if (*budget == 0)
            return false;
        (*budget)--;
        bool in_old = *pos >= s->cap;
        uint64_t *p = in_old ? &s->old[*pos - s->cap] : &s->slots[*pos];
        if (slot_is_entry(*p) && entry_expired(slot_entry(*p), now_ms)) {
            do_remove_slot(s, p);
            s->expired++;
            (*deleted)++;
            if (!in_old)
                continue; /* backward shift may have refilled this slot */
        }
        (*pos)++;
    }
    return true;
}

uint64_t live_expire_cycle(struct live_table *t, int64_t now_ms,
                           uint64_t budget)
{
    uint64_t deleted = 0;
    pthread_mutex_lock(&t->cycle_lock);
    /*
     * nshards + 1 visits, so that the shard the last call stopped in is
     * finished. A resizing shard is visited even without TTL keys: the
     * visit advances its resize (see shard_unlock()), so that an idle shard
     * does not hold two arrays for ever.
     */
    for (size_t visits = 0; visits <= t->nshards && budget > 0; visits++) {
        struct shard *s = &t->shards[t->cycle_shard];
        if (ttl_keys_get(s) > 0
            || atomic_load_explicit(&s->resizing, memory_order_relaxed)) {
            shard_lock(s);
            bool done = do_expire_scan(s, now_ms, &t->cycle_pos, &budget,
                                       &deleted);
            shard_unlock(t, s);
            if (!done)
                break;
        }
        t->cycle_shard = (t->cycle_shard + 1) & (t->nshards - 1);
        t->cycle_pos = 0;
    }
    pthread_mutex_unlock(&t->cycle_lock);
    return deleted;
}

void live_get_stats(struct live_table *t, struct live_stats *st)
{
    memset(st, 0, sizeof(*st));
    for (size_t i = 0; i < t->nshards; i++) {
        struct shard *s = &t->shards[i];
        pthread_mutex_lock(&s->lock);
        st->keys += s->count;
        st->keys_with_ttl += ttl_keys_get(s);
        st->expired_keys += s->expired;
        st->evicted_keys += s->evicted;
        st->resizing_shards += s->old != NULL;
        pthread_mutex_unlock(&s->lock);
    }
    st->used_memory = atomic_load_explicit(&t->used_memory, memory_order_relaxed);
}

/*
 * Checks one array of shard s: every entry hashes to this shard, carries
 * its fingerprint and is what a lookup of its key finds. Adds what it saw
 * to the counters. Returns false with a message in err on the first fault.
 */
static bool do_verify_array(struct live_table *t, struct shard *s,
                            uint64_t *slots, size_t cap, bool is_old,
                            uint64_t counts[3], uint64_t *mem, char *err,
                            size_t errlen)
{
    size_t empty = 0;
    for (size_t i = 0; i < cap; i++) {
        uint64_t v = slots[i];
        if (v == SLOT_EMPTY) {
            empty++;
            continue;
        }
        if (v == SLOT_MOVED) {
            if (!is_old) {
                snprintf(err, errlen, "moved marker in a current array");
                return false;
            }
            continue;
        }
        const uint8_t *e = slot_entry(v);
        struct entry_view ev;
        entry_decode(e, &ev);
        uint64_t h = key_hash((const char *)ev.key, ev.klen);
        if (shard_of(t, h) != s || fp_of((uint32_t)h) != v >> SLOT_FP_SHIFT) {
            snprintf(err, errlen, "entry in the wrong shard or fingerprint");
            return false;
        }
        if (do_find(s, (uint32_t)h, (const char *)ev.key, ev.klen) != &slots[i]) {
            snprintf(err, errlen, "entry unreachable from its home slot");
            return false;
        }
        counts[0]++;
        counts[1] += ev.has_expire;
        counts[2] += is_old;
        *mem += entry_charge(e);
    }
    if (cap > 0 && empty == 0) {
        snprintf(err, errlen, "array without an empty slot");
        return false;
    }
    return true;
}

int live_verify(struct live_table *t, char *err, size_t errlen)
{
    uint64_t total_mem = 0;
    for (size_t i = 0; i < t->nshards; i++) {
        struct shard *s = &t->shards[i];
        uint64_t counts[3] = { 0, 0, 0 }; /* entries, with TTL, in old */
        pthread_mutex_lock(&s->lock);
        uint64_t mem = ((uint64_t)s->cap + s->old_cap) * sizeof(uint64_t);
        bool ok = do_verify_array(t, s, s->slots, s->cap, false, counts, &mem,
                                  err, errlen)
                  && do_verify_array(t, s, s->old, s->old != NULL ? s->old_cap : 0,
                                     true, counts, &mem, err, errlen);
        if (ok && (counts[0] != s->count || counts[1] != ttl_keys_get(s)
                   || counts[2] != s->old_count)) {
            snprintf(err, errlen, "shard %zu counts %zu/%zu/%zu, found "
                     "%llu/%llu/%llu", i, s->count, (size_t)ttl_keys_get(s),
                     s->old_count, (unsigned long long)counts[0],
                     (unsigned long long)counts[1], (unsigned long long)counts[2]);
            ok = false;
        }
        if (ok && (mem != s->mem || s->mem != s->mem_settled)) {
            snprintf(err, errlen, "shard %zu charged %llu, holds %llu", i,
                     (unsigned long long)s->mem, (unsigned long long)mem);
            ok = false;
        }
        total_mem += s->mem;
        pthread_mutex_unlock(&s->lock);
        if (!ok)
            return -1;
    }
    uint64_t used = atomic_load_explicit(&t->used_memory, memory_order_relaxed);
    if (used != total_mem) {
        snprintf(err, errlen, "used_memory %llu, shards hold %llu",
                 (unsigned long long)used, (unsigned long long)total_mem);
        return -1;
    }
    return 0;
}

static const char *const policy_names[] = {
    [LIVE_NOEVICTION] = "noeviction",
    [LIVE_ALLKEYS_LRU] = "allkeys-lru",
    [LIVE_ALLKEYS_RANDOM] = "allkeys-random",
    [LIVE_VOLATILE_LRU] = "volatile-lru",
    [LIVE_VOLATILE_TTL] = "volatile-ttl",
};

int live_policy_parse(const char *name)
{
    for (size_t i = 0; i < sizeof(policy_names) / sizeof(policy_names[0]); i++)
        if (strcmp(name, policy_names[i]) == 0)
            return (int)i;
    return -1;
}

const char *live_policy_name(enum live_policy policy)
{
    if ((unsigned)policy >= sizeof(policy_names) / sizeof(policy_names[0]))
        return NULL;
    return policy_names[policy];
}
