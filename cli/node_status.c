/*
 * This file implements the parser of node_status.h: INFO's "field:value"
 * lines, of which health, health_reasons, batch_state, batch_degraded,
 * batch_generation and the table_<name> lines
 * (active_version=..,rows=..,bytes=..,version_age_seconds=..,
 * max_age_seconds=..) are kept.
 */
#include "node_status.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Copies value[0, n) into out (NUL-terminated, cut to fit). */
static void copy_text(char *out, size_t outlen, const char *value, size_t n)
{
    if (n >= outlen) {
        n = outlen - 1;
    }
    memcpy(out, value, n);
    out[n] = '\0';
}

static uint64_t to_u64(const char *s, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && s[i] >= '0' && s[i] <= '9'; i++) {
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    return v;
}

/* Reads the k=v,... list of a table line into t. */
static void parse_table(struct node_status_table *t, const char *v, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t end = i;
        while (end < n && v[end] != ',') {
            end++;
        }
        const char *eq = memchr(v + i, '=', end - i);
        if (eq != NULL) {
            size_t klen = (size_t)(eq - (v + i));
            const char *val = eq + 1;
            size_t vlen = (size_t)(v + end - val);
            uint64_t x = to_u64(val, vlen);
#define FIELD_IS(name) (klen == sizeof(name) - 1 && memcmp(v + i, name, klen) == 0)
            if (FIELD_IS("active_version")) {
                t->version = x;
            } else if (FIELD_IS("rows")) {
                t->rows = x;
            } else if (FIELD_IS("bytes")) {
                t->bytes = x;
            } else if (FIELD_IS("version_age_seconds")) {
                t->age_s = x;
            } else if (FIELD_IS("max_age_seconds")) {
                t->max_age_s = x;
            }
#undef FIELD_IS
        }
        i = end + 1;
    }
}

int node_status_parse(const char *info, size_t len, struct node_status *out,
                      char *err, size_t errlen)
{
    memset(out, 0, sizeof(*out));
    size_t cap = 0;
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && info[end] != '\n') {
            end++;
        }
        size_t n = end - i;
        if (n > 0 && info[i + n - 1] == '\r') {
            n--;
        }
        const char *line = info + i;
        const char *colon = memchr(line, ':', n);
        i = end + 1;
        if (colon == NULL || line[0] == '#') {
            continue;
        }
        size_t klen = (size_t)(colon - line);
        const char *v = colon + 1;
        size_t vlen = n - klen - 1;
#define KEY_IS(name) (klen == sizeof(name) - 1 && memcmp(line, name, klen) == 0)
        if (KEY_IS("health")) {
            copy_text(out->health, sizeof(out->health), v, vlen);
        } else if (KEY_IS("health_reasons")) {
            copy_text(out->reasons, sizeof(out->reasons), v, vlen);
        } else if (KEY_IS("batch_state")) {
            copy_text(out->state, sizeof(out->state), v, vlen);
        } else if (KEY_IS("batch_generation")) {
            out->generation = to_u64(v, vlen);
        } else if (KEY_IS("batch_degraded")) {
            out->degraded = vlen == 1 && v[0] == '1';
        } else if (klen > 6 && memcmp(line, "table_", 6) == 0) {
            if (out->ntables == cap) {
                size_t ncap = cap ? cap * 2 : 8;
                struct node_status_table *t =
                    realloc(out->tables, ncap * sizeof(*t));
                if (t == NULL) {
                    node_status_free(out);
                    snprintf(err, errlen, "out of memory");
                    return -1;
                }
                out->tables = t;
                cap = ncap;
            }
            struct node_status_table *t = &out->tables[out->ntables++];
            memset(t, 0, sizeof(*t));
            copy_text(t->name, sizeof(t->name), line + 6, klen - 6);
            parse_table(t, v, vlen);
        }
#undef KEY_IS
    }
    if (out->health[0] == '\0') {
        node_status_free(out);
        snprintf(err, errlen, "the node's INFO has no health field (an older "
                              "larderd?)");
        return -1;
    }
    return 0;
}

bool node_status_fresh(const struct node_status_table *t)
{
    return t->max_age_s == 0 || t->age_s <= t->max_age_s;
}

void node_status_free(struct node_status *s)
{
    free(s->tables);
    s->tables = NULL;
    s->ntables = 0;
}
