/*
 * This file implements the unit tests of how the admin CLI shows values
 * (cli/value_format.c), writes JSON (cli/json_writer.c) and aligns tables
 * (cli/text_table.c): stored rows (msgpack maps, packed here with
 * msgpack-c) as JSON with every msgpack type, values that only look like
 * msgpack, hostile msgpack headers, text and binary values in both output
 * modes, UTF-8 validation, string escaping, double formatting, base64, and
 * column alignment.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

#include "json_writer.h"
#include "text_table.h"
#include "value_format.h"

#define LIT(s) (s), (sizeof(s) - 1)

/* The JSON form of v[0, n), NUL-terminated (caller frees). */
static char *to_json(const char *v, size_t n, enum value_kind *kind)
{
    struct buf b = {0};
    struct json_writer w;
    jw_init(&w, &b);
    *kind = value_write_json(&w, v, n);
    buf_append(&b, "", 1);
    assert_false(buf_failed(&b));
    return b.data;
}

/* The human form of v[0, n), NUL-terminated (caller frees). */
static char *to_human(const char *v, size_t n)
{
    struct buf b = {0};
    value_append_human(&b, v, n);
    buf_append(&b, "", 1);
    return b.data;
}

static void pack_str(msgpack_packer *pk, const char *s)
{
    msgpack_pack_str(pk, strlen(s));
    msgpack_pack_str_body(pk, s, strlen(s));
}

static void test_row_all_types(void **state)
{
    (void)state;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 12);
    pack_str(&pk, "name");
    pack_str(&pk, "ann \"the\" \xc3\xa9");
    pack_str(&pk, "age");
    msgpack_pack_int64(&pk, 31);
    pack_str(&pk, "neg");
    msgpack_pack_int64(&pk, INT64_MIN);
    pack_str(&pk, "big");
    msgpack_pack_uint64(&pk, UINT64_MAX);
    pack_str(&pk, "score");
    msgpack_pack_double(&pk, 0.1);
    pack_str(&pk, "whole");
    msgpack_pack_double(&pk, 2.0);
    pack_str(&pk, "f32");
    msgpack_pack_float(&pk, 1.5f);
    pack_str(&pk, "ok");
    msgpack_pack_true(&pk);
    pack_str(&pk, "none");
    msgpack_pack_nil(&pk);
    pack_str(&pk, "tags");
    msgpack_pack_array(&pk, 2);
    pack_str(&pk, "a");
    msgpack_pack_false(&pk);
    pack_str(&pk, "obj");
    msgpack_pack_map(&pk, 1);
    msgpack_pack_int(&pk, 7); /* a non-string key */
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "foo", 3);
    pack_str(&pk, "nan");
    msgpack_pack_double(&pk, NAN);

    enum value_kind kind;
    assert_int_equal(value_classify(sb.data, sb.size), VALUE_ROW);
    char *j = to_json(sb.data, sb.size, &kind);
    assert_int_equal(kind, VALUE_ROW);
    assert_string_equal(
        j, "{\"name\":\"ann \\\"the\\\" \xc3\xa9\",\"age\":31,"
           "\"neg\":-9223372036854775808,\"big\":18446744073709551615,"
           "\"score\":0.1,\"whole\":2.0,\"f32\":1.5,\"ok\":true,"
           "\"none\":null,\"tags\":[\"a\",false],\"obj\":{\"7\":\"Zm9v\"},"
           "\"nan\":null}");
    char *h = to_human(sb.data, sb.size);
    assert_string_equal(h, j); /* humans get the same compact JSON */
    free(j);
    free(h);
    msgpack_sbuffer_destroy(&sb);
}

static void test_empty_and_nested_rows(void **state)
{
    (void)state;
    enum value_kind kind;
    char *j = to_json(LIT("\x80"), &kind);
    assert_string_equal(j, "{}");
    free(j);
    /* {"a": {"b": [1, -1]}} */
    j = to_json(LIT("\x81\xa1" "a\x81\xa1" "b\x92\x01\xff"), &kind);
    assert_int_equal(kind, VALUE_ROW);
    assert_string_equal(j, "{\"a\":{\"b\":[1,-1]}}");
    free(j);
    /* map16 and map32 headers are rows too. */
    j = to_json(LIT("\xde\x00\x01\xa1k\xc3"), &kind);
    assert_string_equal(j, "{\"k\":true}");
    free(j);
    j = to_json(LIT("\xdf\x00\x00\x00\x01\xa1k\xc2"), &kind);
    assert_string_equal(j, "{\"k\":false}");
    free(j);
}

static void test_not_rows(void **state)
{
    (void)state;
    enum value_kind kind;
    /* Text, even text that is valid msgpack of another type ("1" is a
     * positive fixint). */
    assert_int_equal(value_classify(LIT("1")), VALUE_TEXT);
    assert_int_equal(value_classify(LIT("hello")), VALUE_TEXT);
    assert_int_equal(value_classify(LIT("")), VALUE_TEXT);
    char *j = to_json(LIT("hello"), &kind);
    assert_int_equal(kind, VALUE_TEXT);
    assert_string_equal(j, "\"hello\"");
    free(j);
    /* An array is not a row. */
    assert_int_equal(value_classify(LIT("\x91\x01")), VALUE_BINARY);
    /* A map with a byte after it, and a truncated map. */
    assert_int_equal(value_classify(LIT("\x81\xa1" "a\x01" "x")),
                     VALUE_BINARY);
    assert_int_equal(value_classify(LIT("\x82\xa1" "a")), VALUE_BINARY);
    /* Hostile counts: refused before msgpack-c would allocate for them. */
    assert_int_equal(value_classify(LIT("\xdf\xff\xff\xff\xff")),
                     VALUE_BINARY);
    assert_int_equal(value_classify(LIT("\x81\xa1k\xdd\xff\xff\xff\xff")),
                     VALUE_BINARY);
    assert_int_equal(value_classify(LIT("\x81\xa1k\xdb\xff\xff\xff\xff")),
                     VALUE_BINARY);
    assert_int_equal(value_classify(LIT("\x81\xa1k\xc1")), VALUE_BINARY);
    j = to_json(LIT("\xdf\xff\xff\xff\xff"), &kind);
    assert_int_equal(kind, VALUE_BINARY);
    assert_string_equal(j, "\"3/////8=\"");
    free(j);
}

static void test_binary_values(void **state)
{
    (void)state;
    enum value_kind kind;
    char *j = to_json(LIT("\xff\x00"), &kind);
    assert_int_equal(kind, VALUE_BINARY);
    assert_string_equal(j, "\"/wA=\"");
    free(j);
    char *h = to_human(LIT("\xff\x00" "a\"\\\n"));
    assert_string_equal(h, "\"\\xff\\x00a\\\"\\\\\\n\"");
    free(h);
}

static void test_human_text(void **state)
{
    (void)state;
    struct {
        const char *in;
        size_t n;
        const char *out;
    } cases[] = {
        {LIT("plain text"), "plain text"},
        {LIT("caf\xc3\xa9"), "caf\xc3\xa9"},
        {LIT(""), "\"\""},
        {LIT(" lead"), "\" lead\""},
        {LIT("trail "), "\"trail \""},
        {LIT("\"q"), "\"\\\"q\""},
        {LIT("a\tb"), "\"a\\tb\""},
        {LIT("a\rb\x7f"), "\"a\\rb\\x7f\""},
        {LIT("caf\xc3\xa9\xc3"), "\"caf\xc3\xa9\\xc3\""},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct buf b = {0};
        value_append_text(&b, cases[i].in, cases[i].n);
        buf_append(&b, "", 1);
        assert_string_equal(b.data, cases[i].out);
        buf_deinit(&b);
    }
}

static void test_utf8(void **state)
{
    (void)state;
    const unsigned char *u;
    u = (const unsigned char *)"a";
    assert_int_equal(jw_utf8_seq(u, 1), 1);
    u = (const unsigned char *)"\xc3\xa9";
    assert_int_equal(jw_utf8_seq(u, 2), 2);
    assert_int_equal(jw_utf8_seq(u, 1), 0); /* cut short */
    u = (const unsigned char *)"\xe2\x82\xac";
    assert_int_equal(jw_utf8_seq(u, 3), 3);
    u = (const unsigned char *)"\xf0\x9f\x98\x80";
    assert_int_equal(jw_utf8_seq(u, 4), 4);
    u = (const unsigned char *)"\xc0\x80"; /* overlong NUL */
    assert_int_equal(jw_utf8_seq(u, 2), 0);
    u = (const unsigned char *)"\xe0\x80\xaf"; /* overlong */
    assert_int_equal(jw_utf8_seq(u, 3), 0);
    u = (const unsigned char *)"\xed\xa0\x80"; /* surrogate */
    assert_int_equal(jw_utf8_seq(u, 3), 0);
    u = (const unsigned char *)"\xf4\x90\x80\x80"; /* above U+10FFFF */
    assert_int_equal(jw_utf8_seq(u, 4), 0);
    u = (const unsigned char *)"\x80";
    assert_int_equal(jw_utf8_seq(u, 1), 0);
    u = (const unsigned char *)"\xc3\x28";
    assert_int_equal(jw_utf8_seq(u, 2), 0);
}

static void test_json_writer(void **state)
{
    (void)state;
    struct buf b = {0};
    struct json_writer w;
    jw_init(&w, &b);
    jw_object_begin(&w);
    jw_key_str(&w, "s");
    jw_string(&w, LIT("a\"\\\n\r\t\x01\x7f\xff" "b"));
    jw_key_str(&w, "list");
    jw_array_begin(&w);
    jw_u64(&w, 0);
    jw_i64(&w, -3);
    jw_double(&w, 1e300);
    jw_double(&w, -0.25);
    jw_double(&w, 100.0);
    jw_double(&w, INFINITY);
    jw_double(&w, 1.0 / 3.0);
    jw_bool(&w, true);
    jw_null(&w);
    jw_array_begin(&w);
    jw_array_end(&w);
    jw_object_begin(&w);
    jw_object_end(&w);
    jw_array_end(&w);
    jw_key(&w, LIT("k\x00z"));
    jw_str(&w, "");
    jw_object_end(&w);
    buf_append(&b, "", 1);
    assert_string_equal(
        b.data, "{\"s\":\"a\\\"\\\\\\n\\r\\t\\u0001\\u007f\\ufffdb\","
                "\"list\":[0,-3,1e+300,-0.25,100.0,null,0.3333333333333333,"
                "true,null,[],{}],\"k\\u0000z\":\"\"}");
    buf_deinit(&b);
}

static void test_base64(void **state)
{
    (void)state;
    const char *in[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    const char *out[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==", "Zm9vYmE=",
                         "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        struct buf b = {0};
        value_append_base64(&b, in[i], strlen(in[i]));
        buf_append(&b, "", 1);
        assert_string_equal(b.data, out[i]);
        buf_deinit(&b);
    }
}

static void test_text_table(void **state)
{
    (void)state;
    const char *hdr[] = {"TABLE", "V", "ACTIVE"};
    struct text_table t;
    text_table_init(&t, 3, hdr);
    const char *r1[] = {"caf\xc3\xa9s", "12", "yes"};
    const char *r2[] = {"a", "3", "-"};
    text_table_add(&t, r1);
    text_table_add(&t, r2);
    for (int i = 0; i < 20; i++) /* growth past the first allocation */
        text_table_add(&t, r2);
    struct buf b = {0};
    assert_true(text_table_render(&t, &b));
    buf_append(&b, "", 1);
    const char *want_head = "TABLE  V   ACTIVE\n"
                            "caf\xc3\xa9s  12  yes\n"
                            "a      3   -\n";
    assert_memory_equal(b.data, want_head, strlen(want_head));
    assert_int_equal(b.len - 1, strlen(want_head) +
                                    20 * strlen("a      3   -\n"));
    buf_deinit(&b);
    text_table_deinit(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_row_all_types),
        cmocka_unit_test(test_empty_and_nested_rows),
        cmocka_unit_test(test_not_rows),
        cmocka_unit_test(test_binary_values),
        cmocka_unit_test(test_human_text),
        cmocka_unit_test(test_utf8),
        cmocka_unit_test(test_json_writer),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_text_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
