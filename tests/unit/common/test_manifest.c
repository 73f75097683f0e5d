/*
 * This file implements the unit tests of manifests (common/manifest.c):
 * a JSON round trip of every field (64-bit checksums with the top bit set,
 * a schema, an empty run id), the store keys of a version's objects, and
 * refusal of malformed or inconsistent JSON with a message naming the
 * problem, leaving the output struct empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest.h"

/* A manifest of 3 partitions; files and schema_json are malloc'd. */
static void sample(struct manifest *m, const char *schema)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->table, sizeof(m->table), "user_features");
    m->version = 12;
    m->format = 1;
    m->partitions = 3;
    m->dims = 0;
    m->key_bytes = 300;
    m->value_bytes = 4000;
    snprintf(m->run_id, sizeof(m->run_id), "als-2024-05-01");
    m->created_ms = 1714521600123;
    m->load_ms = 61250;
    m->schema_json = schema != NULL ? strdup(schema) : NULL;
    m->files = calloc(3, sizeof(*m->files));
    assert_non_null(m->files);
    const uint64_t sums[] = {UINT64_C(0xfedcba9876543210), 0, 1};
    for (uint32_t p = 0; p < 3; p++) {
        struct manifest_file *f = &m->files[p];
        f->partition = p;
        manifest_segment_key(f->key, sizeof(f->key), m->table, m->version, p);
        f->rows = 10 + p;
        f->bytes = 1000 + p;
        f->checksum = sums[p];
        m->rows += f->rows;
        m->bytes += f->bytes;
    }
}

static void assert_same(const struct manifest *a, const struct manifest *b)
{
    assert_string_equal(a->table, b->table);
    assert_int_equal(a->version, b->version);
    assert_int_equal(a->format, b->format);
    assert_int_equal(a->partitions, b->partitions);
    assert_int_equal(a->dims, b->dims);
    assert_int_equal(a->rows, b->rows);
    assert_int_equal(a->bytes, b->bytes);
    assert_int_equal(a->key_bytes, b->key_bytes);
    assert_int_equal(a->value_bytes, b->value_bytes);
    assert_string_equal(a->run_id, b->run_id);
    assert_int_equal(a->created_ms, b->created_ms);
    assert_int_equal(a->load_ms, b->load_ms);
    for (uint32_t p = 0; p < a->partitions; p++) {
        assert_int_equal(a->files[p].partition, b->files[p].partition);
        assert_string_equal(a->files[p].key, b->files[p].key);
        assert_int_equal(a->files[p].rows, b->files[p].rows);
        assert_int_equal(a->files[p].bytes, b->files[p].bytes);
        assert_int_equal(a->files[p].checksum, b->files[p].checksum);
    }
}

static void test_round_trip(void **state)
{
    (void)state;
    struct manifest m, back;
    sample(&m, "{\"fields\": [{\"name\": \"age\", \"type\": \"int\"}]}");
    char *json = manifest_to_json(&m);
    assert_non_null(json);
    assert_non_null(strstr(json, "\"checksum\": \"fedcba9876543210\""));
    char err[256];
    if (manifest_from_json(json, strlen(json), &back, err, sizeof(err))) {
        fail_msg("%s", err);
    }
    assert_same(&m, &back);
    assert_string_equal(back.schema_json,
                        "{\"fields\":[{\"name\":\"age\",\"type\":\"int\"}]}");
    /* A second trip gives the same text. */
    char *again = manifest_to_json(&back);
    assert_string_equal(json, again);
    free(again);
    free(json);
    manifest_free(&back);
    manifest_free(&m);
    assert_null(m.files);
    assert_null(m.schema_json);

    /* No schema, empty run id. */
    sample(&m, NULL);
    m.run_id[0] = '\0';
    json = manifest_to_json(&m);
    assert_non_null(json);
    assert_int_equal(manifest_from_json(json, strlen(json), &back, err,
                                        sizeof(err)), 0);
    assert_same(&m, &back);
    assert_null(back.schema_json);
    free(json);
    manifest_free(&back);

    /* load_ms is optional: a manifest from before it existed has 0. */
    json = manifest_to_json(&m);
    assert_non_null(json);
    char *field = strstr(json, "\"load_ms\": 61250,");
    assert_non_null(field);
    memmove(field, field + strlen("\"load_ms\": 61250,"),
            strlen(field + strlen("\"load_ms\": 61250,")) + 1);
    assert_int_equal(manifest_from_json(json, strlen(json), &back, err,
                                        sizeof(err)), 0);
    assert_int_equal(back.load_ms, 0);
    assert_int_equal(back.created_ms, m.created_ms);
    free(json);
    manifest_free(&back);

    /* A schema that is not JSON cannot be serialised. */
    m.schema_json = strdup("{not json");
    assert_null(manifest_to_json(&m));
    manifest_free(&m);
}

static void test_keys(void **state)
{
    (void)state;
    char out[64];
    assert_int_equal(manifest_key(out, sizeof(out), "t", 12), 0);
    assert_string_equal(out, "t/v-000012/manifest.json");
    assert_int_equal(manifest_segment_key(out, sizeof(out), "t", 12, 17), 0);
    assert_string_equal(out, "t/v-000012/part-00017.seg");
    assert_int_equal(manifest_segment_key(out, sizeof(out), "t", 1234567,
                                          123456), 0);
    assert_string_equal(out, "t/v-1234567/part-123456.seg");
    char small[10];
    assert_int_equal(manifest_key(small, sizeof(small), "t", 12), -1);
}

/*
 * The serialised sample with the first occurrence of from replaced by to
 * (from "" means: use to as the whole document).
 */
static char *edited(const char *from, const char *to)
{
    struct manifest m;
    sample(&m, "{\"a\": 1}");
    char *json = manifest_to_json(&m);
    manifest_free(&m);
    assert_non_null(json);
    if (from[0] == '\0') {
        free(json);
        return strdup(to);
    }
    char *at = strstr(json, from);
    if (at == NULL) {
        fail_msg("'%s' not in %s", from, json);
    }
    size_t n = strlen(json) - strlen(from) + strlen(to) + 1;
    char *out = malloc(n);
    assert_non_null(out);
    snprintf(out, n, "%.*s%s%s", (int)(at - json), json, to,
             at + strlen(from));
    free(json);
    return out;
}

static void test_malformed(void **state)
{
    (void)state;
#define SUM "\"checksum\": \"fedcba9876543210\""
    const struct {
        const char *from, *to, *message;
    } cases[] = {
        {"", "", "line 1"},
        {"", "{", "manifest: line"},
        {"", "not json", "manifest: line"},
        {"", "[]", "top level must be an object"},
        {"", "{\"table\": \"t\"}", "missing field 'version'"},
        {"\"version\": 12", "\"version\": \"12\"", "'version' must be"},
        {"\"version\": 12", "\"version\": -1", "'version' must be"},
        {"\"version\": 12", "\"version\": 1.5", "'version' must be"},
        {"\"partitions\": 3", "\"partitions\": 4", "one entry per partition"},
        {"\"partitions\": 3", "\"partitions\": 0", "at least 1"},
        {"\"table\": \"user_features\"", "\"table\": \"bad/name\"",
         "invalid table name"},
        {"\"table\": \"user_features\"", "\"table\": \"\"", "'table'"},
        {"\"rows\": 33", "\"rows\": 34", "add up to 33 rows"},
        {"\"bytes\": 3003", "\"bytes\": 3000", "add up to"},
        {SUM, "\"checksum\": \"fedcba987654321\"",
         "'files[0].checksum' must be 16 hex digits"},
        {SUM, "\"checksum\": \"fedcba987654321g\"",
         "'files[0].checksum' must be 16 hex digits"},
        {SUM, "\"checksum\": 5",
         "'files[0].checksum' must be a string"},
        {"\"partition\": 1", "\"partition\": 2", "files must list partitions"},
        {"\"key\": \"user_features/v-000012/part-00001.seg\"", "\"key\": \"\"",
         "'files[1].key'"},
        {"\"run_id\": \"als-2024-05-01\"", "\"run_id\": null",
         "'run_id' must be a string"},
        {"\"files\": [", "\"files\": 3, \"x\": [", "'files' must be an array"},
        {"\"dims\": 0", "\"dims\": 0, \"dims\": 1", "duplicate"},
        {"\"version\": 12", "\"version\": 99999999999999999999", "line"},
        {"\"load_ms\": 61250", "\"load_ms\": -1", "'load_ms' must be"},
    };
#undef SUM
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *json = edited(cases[i].from, cases[i].to);
        struct manifest m;
        memset(&m, 0xab, sizeof(m));
        char err[256] = "";
        int rc = manifest_from_json(json, strlen(json), &m, err, sizeof(err));
        if (rc != -1 || strstr(err, cases[i].message) == NULL ||
            strncmp(err, "manifest: ", 10) != 0) {
            fail_msg("case %zu: rc %d, expected '%s' in: %s", i, rc,
                     cases[i].message, err);
        }
        assert_null(m.files);
        assert_null(m.schema_json);
        assert_int_equal(m.partitions, 0);
        free(json);
    }

    /* Fields this release does not know are ignored. */
    char *json = edited("\"dims\": 0", "\"dims\": 0, \"future\": [1, 2]");
    struct manifest m;
    char err[256];
    assert_int_equal(manifest_from_json(json, strlen(json), &m, err,
                                        sizeof(err)), 0);
    manifest_free(&m);
    free(json);

    /* Only len bytes are read: a cut document is malformed. */
    json = edited("", "{\"table\": \"t\"} trailing");
    assert_int_equal(manifest_from_json(json, 5, &m, err, sizeof(err)), -1);
    free(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
