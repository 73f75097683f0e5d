/*
 * This file implements the space-saving top-K sketch of hotkeys.h: one
 * linear pass over the K counters finds the key or the smallest counter,
 * and merging sorts all counters of all sketches to add up equal keys.
 */
#include "hotkeys.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

void hotkeys_init(struct hotkeys *s)
{
    s->n = 0;
}

static uint64_t key_hash(const char *table, size_t tlen, const char *key,
                         size_t klen)
{
    return XXH3_64bits_withSeed(key, klen, XXH3_64bits(table, tlen));
}

void hotkeys_offer(struct hotkeys *s, const char *table, size_t tlen,
                   const char *key, size_t klen, uint64_t weight)
{
    if (tlen > HOTKEY_TABLE_MAX) {
        tlen = HOTKEY_TABLE_MAX;
    }
    uint64_t h = key_hash(table, tlen, key, klen);
    struct hotkey *min = NULL;
    for (size_t i = 0; i < s->n; i++) {
        struct hotkey *e = &s->e[i];
        if (e->hash == h && e->tlen == tlen &&
            memcmp(e->table, table, tlen) == 0) {
            e->count += weight;
            return;
        }
        if (min == NULL || e->count < min->count) {
            min = e;
        }
    }
    struct hotkey *e;
    uint64_t base = 0;
    if (s->n < HOTKEYS_K) {
        e = &s->e[s->n++];
    } else {
        e = min;
        base = min->count;
    }
    e->hash = h;
    e->count = base + weight;
    e->error = base;
    e->tlen = (uint8_t)tlen;
    memcpy(e->table, table, tlen);
    e->truncated = klen > HOTKEY_KEY_MAX;
    e->klen = (uint8_t)(e->truncated ? HOTKEY_KEY_MAX : klen);
    memcpy(e->key, key, e->klen);
}

void hotkeys_decay(struct hotkeys *s, unsigned halvings)
{
    if (halvings == 0) {
        return;
    }
    size_t kept = 0;
    for (size_t i = 0; i < s->n; i++) {
        struct hotkey e = s->e[i];
        e.count = halvings >= 64 ? 0 : e.count >> halvings;
        e.error = halvings >= 64 ? 0 : e.error >> halvings;
        if (e.count > 0) {
            s->e[kept++] = e;
        }
    }
    s->n = kept;
}

/* Orders by what a reader sees: table, truncated, kept key bytes. */
static int by_display(const void *a, const void *b)
{
    const struct hotkey *x = a, *y = b;
    size_t t = x->tlen < y->tlen ? x->tlen : y->tlen;
    int c = memcmp(x->table, y->table, t);
    if (c != 0 || x->tlen != y->tlen) {
        return c != 0 ? c : (x->tlen < y->tlen ? -1 : 1);
    }
    if (x->truncated != y->truncated) {
        return x->truncated ? 1 : -1;
    }
    size_t k = x->klen < y->klen ? x->klen : y->klen;
    c = memcmp(x->key, y->key, k);
    if (c != 0 || x->klen != y->klen) {
        return c != 0 ? c : (x->klen < y->klen ? -1 : 1);
    }
    return 0;
}

static int by_count(const void *a, const void *b)
{
    const struct hotkey *x = a, *y = b;
    if (x->count != y->count) {
        return x->count > y->count ? -1 : 1;
    }
    return by_display(a, b);
}

size_t hotkeys_merge(const struct hotkeys *const *parts, size_t nparts,
                     struct hotkey *out, size_t cap)
{
    size_t total = 0;
    for (size_t i = 0; i < nparts; i++) {
        total += parts[i]->n;
    }
    if (total == 0 || cap == 0) {
        return 0;
    }
    struct hotkey *all = malloc(total * sizeof(*all));
    if (all == NULL) {
        return 0;
    }
    size_t n = 0;
    for (size_t i = 0; i < nparts; i++) {
        for (size_t k = 0; k < parts[i]->n; k++) {
            if (parts[i]->e[k].count > 0) {
                all[n++] = parts[i]->e[k];
            }
        }
    }
    qsort(all, n, sizeof(*all), by_display);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m > 0 && by_display(&all[m - 1], &all[i]) == 0) {
            all[m - 1].count += all[i].count;
            all[m - 1].error += all[i].error;
        } else {
            all[m++] = all[i];
        }
    }
    qsort(all, m, sizeof(*all), by_count);
    if (m > cap) {
        m = cap;
    }
    memcpy(out, all, m * sizeof(*out));
    free(all);
    return m;
}
