/*
 * This file implements the unit tests of the Prometheus text writer
 * (node/prom_text.c): HELP and TYPE lines, samples with and without
 * labels, the escaping of label values and help text, the printable
 * spelling of binary keys, float values and metric name validation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "prom_text.h"

/* Checks that b holds exactly want, then empties it. */
static void expect_text(struct buf *b, const char *want)
{
    assert_false(buf_failed(b));
    size_t n = strlen(want);
    if (b->len != n || memcmp(b->data, want, n) != 0) {
        fail_msg("expected\n%s\ngot\n%.*s", want, (int)b->len,
                 b->data ? b->data : "");
    }
    b->len = 0;
}

static void test_family_and_plain_sample(void **state)
{
    struct buf b = {0};
    prom_family(&b, "larder_live_keys", PROM_GAUGE, "Keys in the live table.");
    prom_sample_u64(&b, "larder_live_keys", NULL, 0, 42);
    expect_text(&b, "# HELP larder_live_keys Keys in the live table.\n"
                    "# TYPE larder_live_keys gauge\n"
                    "larder_live_keys 42\n");
    prom_family(&b, "a_total", PROM_COUNTER, "x");
    prom_family(&b, "h", PROM_HISTOGRAM, "y");
    expect_text(&b, "# HELP a_total x\n# TYPE a_total counter\n"
                    "# HELP h y\n# TYPE h histogram\n");
    prom_sample_u64(&b, "big", NULL, 0, UINT64_MAX);
    expect_text(&b, "big 18446744073709551615\n");
    buf_deinit(&b);
}

static void test_help_escaping(void **state)
{
    struct buf b = {0};
    prom_family(&b, "m", PROM_GAUGE, "a \\ b\nc \"q\"");
    /* In HELP only backslash and newline are escaped; quotes stay. */
    expect_text(&b, "# HELP m a \\\\ b\\nc \"q\"\n# TYPE m gauge\n");
    buf_deinit(&b);
}

static void test_labels_escaped(void **state)
{
    struct buf b = {0};
    const char v[] = "we\"ird\\key\nend";
    struct prom_label l[2] = {{"table", "t1", 2}, {"key", v, sizeof(v) - 1}};
    prom_sample_u64(&b, "larder_hot_key_requests", l, 2, 7);
    expect_text(&b, "larder_hot_key_requests{table=\"t1\",key=\"we\\\"ird"
                    "\\\\key\\nend\"} 7\n");
    /* An empty value and bytes with a NUL inside are kept as given. */
    struct prom_label e = {"k", "a\0b", 3};
    prom_sample_u64(&b, "m", &e, 1, 0);
    assert_int_equal(b.len, strlen("m{k=\"a\"} 0\n") + 2);
    assert_memory_equal(b.data, "m{k=\"a\0b\"} 0\n", b.len);
    b.len = 0;
    struct prom_label z = {"k", "", 0};
    prom_sample_u64(&b, "m", &z, 1, 1);
    expect_text(&b, "m{k=\"\"} 1\n");
    buf_deinit(&b);
}

static void test_printable(void **state)
{
    struct buf b = {0};
    const char key[] = "a\\b\x01\n\x7f\xff\xc3\xa9 ~\"";
    prom_printable(&b, key, sizeof(key) - 1);
    expect_text(&b, "a\\\\b\\x01\\x0a\\x7f\\xff\\xc3\\xa9 ~\"");
    /* Distinct keys stay distinct: a real "\x01" text vs the byte 1. */
    struct buf c = {0};
    prom_printable(&b, "\\x01", 4);
    prom_printable(&c, "\x01", 1);
    assert_false(b.len == c.len && memcmp(b.data, c.data, b.len) == 0);
    buf_deinit(&b);
    buf_deinit(&c);
}

static void test_printable_then_escaped(void **state)
{
    /* What /metrics does with a key: printable first, then label escaping;
     * the line must hold no raw newline and end with the value. */
    struct buf key = {0}, b = {0};
    const char raw[] = "x\"\n\\";
    prom_printable(&key, raw, sizeof(raw) - 1);
    struct prom_label l = {"key", key.data, key.len};
    prom_sample_u64(&b, "m", &l, 1, 3);
    expect_text(&b, "m{key=\"x\\\"\\\\x0a\\\\\\\\\"} 3\n");
    buf_deinit(&key);
    buf_deinit(&b);
}

static void test_doubles(void **state)
{
    struct buf b = {0};
    prom_sample_double(&b, "m", NULL, 0, 0.1);
    prom_sample_double(&b, "m", NULL, 0, 2.5);
    prom_sample_double(&b, "m", NULL, 0, 12);
    prom_sample_double(&b, "m", NULL, 0, INFINITY);
    prom_sample_double(&b, "m", NULL, 0, -INFINITY);
    prom_sample_double(&b, "m", NULL, 0, NAN);
    expect_text(&b, "m 0.1\nm 2.5\nm 12\nm +Inf\nm -Inf\nm NaN\n");
    buf_deinit(&b);
}

static void test_names(void **state)
{
    assert_true(prom_valid_name("larder_commands_total"));
    assert_true(prom_valid_name("_x:y9"));
    assert_false(prom_valid_name(""));
    assert_false(prom_valid_name("9x"));
    assert_false(prom_valid_name("a-b"));
    assert_false(prom_valid_name("a b"));
    assert_false(prom_valid_name(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_family_and_plain_sample),
        cmocka_unit_test(test_help_escaping),
        cmocka_unit_test(test_labels_escaped),
        cmocka_unit_test(test_printable),
        cmocka_unit_test(test_printable_then_escaped),
        cmocka_unit_test(test_doubles),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
