/*
 * This file implements the unit tests of manifest_fetch.h: a manifest
 * published in a file:// store is read back through its URI alone (the
 * store handed over when asked), and every way it can be wrong — a URI
 * that does not end in the version's manifest key, a missing object, a
 * checksum that differs from the record's, a manifest naming another
 * version, a store that cannot be opened — fails with a message saying
 * which.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xxhash.h>

#include "manifest_fetch.h"
#include "test_tmpdir.h"

static char tmpdir[64];
static char store_uri_text[128];
static struct store *st;
static uint64_t sum; /* xxh3 of the published manifest of t version 7 */

/* Publishes manifest json of table/version; returns its checksum. */
static uint64_t publish(const char *table, uint64_t version,
                        uint64_t as_version)
{
    struct manifest m;
    memset(&m, 0, sizeof(m));
    snprintf(m.table, sizeof(m.table), "%s", table);
    m.version = version;
    m.format = 1;
    m.partitions = 1;
    m.rows = 2;
    m.bytes = 100;
    m.schema_json = strdup("{\"fields\":[]}");
    m.files = calloc(1, sizeof(*m.files));
    assert_non_null(m.files);
    manifest_segment_key(m.files[0].key, sizeof(m.files[0].key), table,
                         version, 0);
    m.files[0].rows = 2;
    m.files[0].bytes = 100;
    m.files[0].checksum = 5;
    char *json = manifest_to_json(&m);
    assert_non_null(json);
    manifest_free(&m);
    char key[256], err[256];
    assert_int_equal(manifest_key(key, sizeof(key), table, as_version), 0);
    assert_int_equal(store_put_bytes(st, key, json, strlen(json), err,
                                     sizeof(err)), 0);
    uint64_t h = XXH3_64bits(json, strlen(json));
    free(json);
    return h;
}

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/larder-mfetch-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    snprintf(store_uri_text, sizeof(store_uri_text), "file://%s/store",
             tmpdir);
    char err[256];
    if (store_open(store_uri_text, &st, err, sizeof(err)) != 0) {
        return -1;
    }
    sum = publish("t", 7, 7);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    store_close(&st);
    test_tmpdir_remove(tmpdir);
    return 0;
}

static void uri_of(const char *key, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/%s", store_uri_text, key);
}

static void test_fetch_by_uri(void **state)
{
    (void)state;
    char uri[512], err[256];
    uri_of("t/v-000007/manifest.json", uri, sizeof(uri));
    struct manifest m;
    struct store *s = NULL;
    assert_int_equal(manifest_fetch(uri, sum, "t", 7, &m, &s, err,
                                     sizeof(err)), 0);
    assert_string_equal(m.table, "t");
    assert_int_equal(m.version, 7);
    assert_int_equal(m.rows, 2);
    assert_string_equal(m.schema_json, "{\"fields\":[]}");
    /* The store handed over is the one the URI names. */
    assert_non_null(s);
    char path[512], want[512];
    assert_int_equal(store_local_path(s, m.files[0].key, path, sizeof(path),
                                      err, sizeof(err)), 0);
    snprintf(want, sizeof(want), "%s/store/t/v-000007/part-00000.seg",
             tmpdir);
    assert_string_equal(path, want);
    store_close(&s);
    manifest_free(&m);

    /* Checksum 0 is not checked; no store asked for. */
    assert_int_equal(manifest_fetch(uri, 0, "t", 7, &m, NULL, err,
                                    sizeof(err)), 0);
    manifest_free(&m);
}

static void expect_failure(const char *uri, uint64_t checksum,
                           const char *table, uint64_t version,
                           const char *needle)
{
    struct manifest m;
    struct store *s = (struct store *)1;
    char err[512] = "";
    assert_int_equal(manifest_fetch(uri, checksum, table, version, &m, &s,
                                    err, sizeof(err)), -1);
    assert_null(s);
    assert_null(m.files);
    assert_null(m.schema_json);
    if (strstr(err, needle) == NULL) {
        fail_msg("message '%s' lacks '%s'", err, needle);
    }
}

static void test_failures(void **state)
{
    (void)state;
    char uri[512];
    /* The URI names another version or table than asked. */
    uri_of("t/v-000007/manifest.json", uri, sizeof(uri));
    expect_failure(uri, sum, "t", 8, "does not end in /t/v-000008/");
    expect_failure(uri, sum, "u", 7, "does not end in /u/v-000007/");
    expect_failure("t/v-000007/manifest.json", sum, "t", 7,
                   "does not end in");
    /* A store that cannot be opened, a missing object. */
    expect_failure("s3://b/t/v-000007/manifest.json", sum, "t", 7, "s3://");
    uri_of("t/v-000009/manifest.json", uri, sizeof(uri));
    expect_failure(uri, 0, "t", 9, "not found");
    /* The bytes are not those the record vouches for. */
    uri_of("t/v-000007/manifest.json", uri, sizeof(uri));
    expect_failure(uri, sum ^ 1, "t", 7, "does not match the checksum");
    /* The manifest at version 10's key describes version 7. */
    uint64_t h = publish("t", 7, 10);
    uri_of("t/v-000010/manifest.json", uri, sizeof(uri));
    expect_failure(uri, h, "t", 10, "names t version 7");
    /* Not a manifest. */
    char err[256];
    assert_int_equal(store_put_bytes(st, "t/v-000011/manifest.json", "{}", 2,
                                     err, sizeof(err)), 0);
    uri_of("t/v-000011/manifest.json", uri, sizeof(uri));
    expect_failure(uri, 0, "t", 11, "manifest t/v-000011/manifest.json: ");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_fetch_by_uri),
        T(test_failures),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
