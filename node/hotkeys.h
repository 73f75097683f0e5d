/*
 * hotkeys.h: a space-saving top-K sketch of the keys a node reads most
 * (Metwally, Agrawal, El Abbadi, "Efficient computation of frequent and
 * top-k elements in data streams", 2005).
 *
 * The sketch keeps HOTKEYS_K counters. A key it monitors has its counter
 * increased; a new key takes over the counter with the smallest count and
 * starts from that count (recorded as its error), so every key read more
 * than total/K times is in the sketch and no count is under-estimated.
 * Counts can be halved (hotkeys_decay()) so the sketch follows the current
 * load rather than the whole history.
 *
 * A key is identified by its table and all of its bytes (a 64-bit hash of
 * both); only the first HOTKEY_KEY_MAX bytes are kept for display. The
 * sketch does no locking and no I/O: node/metrics.c keeps one per worker
 * and merges them (hotkeys_merge()) when asked.
 */
#ifndef LARDER_HOTKEYS_H
#define LARDER_HOTKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HOTKEYS_K 32          /* counters per sketch */
#define HOTKEY_KEY_MAX 64     /* key bytes kept for display */
#define HOTKEY_TABLE_MAX 64   /* table name bytes kept */

struct hotkey {
    uint64_t hash;   /* of the table and the whole key */
    uint64_t count;  /* estimated reads: never less than the true count */
    uint64_t error;  /* how much of count may be over-estimate */
    uint8_t tlen;
    uint8_t klen;    /* bytes of key kept (<= HOTKEY_KEY_MAX) */
    bool truncated;  /* the key was longer than klen */
    char table[HOTKEY_TABLE_MAX];
    char key[HOTKEY_KEY_MAX];
};

struct hotkeys {
    size_t n; /* counters in use */
    struct hotkey e[HOTKEYS_K];
};

/* Starts empty. */
void hotkeys_init(struct hotkeys *s);

/* Counts weight reads of key[0, klen) in table[0, tlen) (a table name
 * longer than HOTKEY_TABLE_MAX is cut). */
void hotkeys_offer(struct hotkeys *s, const char *table, size_t tlen,
                   const char *key, size_t klen, uint64_t weight);

/* Halves every count (and error) `halvings` times; counters that reach 0
 * are freed. */
void hotkeys_decay(struct hotkeys *s, unsigned halvings);

/*
 * Merges sketches: counts of the same displayed key (table, kept bytes,
 * truncated) are added, so no two results look alike. Writes at most cap
 * entries, highest count first (ties by table and key), and returns how
 * many. Entries with count 0 are left out.
 */
size_t hotkeys_merge(const struct hotkeys *const *parts, size_t nparts,
                     struct hotkey *out, size_t cap);

#endif
