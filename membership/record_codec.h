/*
 * record_codec.h: the JSON form of membership records, shared by the
 * local: and zk: backends so both store the same documents (a table config
 * is the same JSON in tables/<t>/config.json and in the znode tables/<t>).
 *
 * Encoders build a jansson object the caller owns (NULL when a string is
 * not UTF-8 or memory ran out). Decoders fill a struct from a document and
 * report the first bad field as MEMB_ERR "<where>: bad field \"f\"", where
 * `where` names the file or znode. Nothing here does I/O.
 */
#ifndef LARDER_MEMBERSHIP_RECORD_CODEC_H
#define LARDER_MEMBERSHIP_RECORD_CODEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "membership-internal.h"

/*
 * Parses a uint64 that is all of s: decimal, or hexadecimal after "0x";
 * 0 on success.
 */
int memb_parse_u64(const char *s, uint64_t *out);

/*
 * Reads fields of one record; the first bad field is remembered so the
 * caller reports it once. Missing fields read as 0 or "".
 */
struct memb_jreader {
    const char *bad; /* first bad field, NULL if none */
};

void memb_jr_bad(struct memb_jreader *r, const char *key);
uint64_t memb_jr_u64(struct memb_jreader *r, json_t *o, const char *key);
uint32_t memb_jr_u32(struct memb_jreader *r, json_t *o, const char *key);
int64_t memb_jr_i64(struct memb_jreader *r, json_t *o, const char *key);
/* Copies a string field into buf (size bytes); too long is bad. */
void memb_jr_str(struct memb_jreader *r, json_t *o, const char *key,
                 char *buf, size_t size);

/* A uint64 as a JSON integer, or a decimal string above INT64_MAX. */
json_t *memb_json_u64(uint64_t v);

/*
 * Sets (*doc)[key] = value, stealing value; a NULL value (a string that is
 * not UTF-8) or a failure frees *doc and leaves it NULL.
 */
void memb_jset(json_t **doc, const char *key, json_t *value);

/*
 * The text of doc (malloc'd, the caller frees): keys sorted; indented with
 * a trailing newline when pretty, else compact. NULL on failure.
 */
char *memb_json_text(json_t *doc, bool pretty);

/* Parses a JSON object from len bytes; NULL with a message in m if not. */
json_t *memb_json_parse(struct membership *m, const char *where,
                        const char *data, size_t len);

json_t *memb_table_encode(const struct memb_table *t);
enum memb_status memb_table_decode(struct membership *m, const char *where,
                                   json_t *doc, struct memb_table *t);

json_t *memb_version_encode(const struct memb_version *v);
enum memb_status memb_version_decode(struct membership *m, const char *where,
                                     json_t *doc, struct memb_version *v);

json_t *memb_active_encode(const struct memb_active *a);
/* Fills a (entries malloc'd, sorted by table). */
enum memb_status memb_active_decode(struct membership *m, const char *where,
                                    json_t *doc, struct memb_active *a);

/* The persistent member record: id, addr, zone, capacity, memory. */
json_t *memb_member_encode(const struct memb_member *mem);
/* Fills the persistent fields (live, state, draining are zeroed). */
enum memb_status memb_member_decode(struct membership *m, const char *where,
                                    json_t *doc, struct memb_member *out);

/* {node, partitions: [sorted, unique], changed_ms}. */
json_t *memb_ready_encode(const char *node, const uint32_t *partitions,
                          size_t n);
/* The partitions of doc, sorted and unique: *out malloc'd (caller frees). */
enum memb_status memb_ready_decode(struct membership *m, const char *where,
                                   json_t *doc, uint32_t **out, size_t *n);
/* Decodes node's record doc and appends it to *list (of *n, realloc'd). */
enum memb_status memb_ready_append(struct membership *m, const char *where,
                                   const char *node, json_t *doc,
                                   struct memb_ready **list, size_t *n);

/* {node, reason, created_ms}. */
json_t *memb_refusal_encode(const char *node, const char *reason);
/* The reason (MEMB_FIELD_MAX bytes) and creation time of a refusal. */
enum memb_status memb_refusal_decode(struct membership *m, const char *where,
                                     json_t *doc, char *reason,
                                     int64_t *created_ms);

/*
 * Of refusals considered one by one, the earliest (ties: the smaller node
 * name) is the one membership_refusal_get() returns.
 */
struct memb_first_refusal {
    bool found;
    int64_t created_ms;
    char node[MEMB_FIELD_MAX];
    char reason[MEMB_FIELD_MAX];
};

void memb_first_refusal_consider(struct memb_first_refusal *f,
                                 const char *node, const char *reason,
                                 int64_t created_ms);

#endif
