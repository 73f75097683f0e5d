/*
 * This file implements the unit tests of loader/schema.c: the types a
 * field was seen with become a union in a fixed order ("int|nil"), fields
 * keep the order first seen whatever the order of later rows, the JSON
 * form (map and raw layouts, truncation past SCHEMA_MAX_FIELDS, names
 * that are not UTF-8) reads back as the same schema, the earlier
 * "types":[...] form is read too, malformed schemas are refused with a
 * message, and the comparison reports exactly the key, layout, added,
 * removed and retyped fields.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

static void note(struct schema *s, const char *name, unsigned type)
{
    schema_note(s, name, strlen(name), type);
}

static void assert_json(const struct schema *s, const char *want)
{
    char *j = schema_to_json(s);
    assert_non_null(j);
    assert_string_equal(j, want);
    free(j);
}

static void test_types_name(void **state)
{
    (void)state;
    char out[64];
    schema_types_name(0, out, sizeof(out));
    assert_string_equal(out, "none");
    schema_types_name(SCHEMA_NIL | SCHEMA_INT, out, sizeof(out));
    assert_string_equal(out, "int|nil");
    schema_types_name(SCHEMA_MAP | SCHEMA_ARRAY | SCHEMA_NIL | SCHEMA_BOOL |
                          SCHEMA_STR | SCHEMA_FLOAT | SCHEMA_INT,
                      out, sizeof(out));
    assert_string_equal(out, "int|float|str|bool|nil|array|map");
    char tiny[8];
    schema_types_name(SCHEMA_INT | SCHEMA_FLOAT, tiny, sizeof(tiny));
    assert_string_equal(tiny, "int");
}

static void test_collect_and_json(void **state)
{
    (void)state;
    struct schema *s = schema_create("user", NULL);
    assert_non_null(s);
    assert_json(s, "{\"key\":\"user\",\"value\":\"map\",\"fields\":[]}");
    /* Row 1: age, score; row 2 in another order, with a new field. */
    schema_row_begin(s);
    note(s, "age", SCHEMA_INT);
    note(s, "score", SCHEMA_FLOAT);
    schema_row_begin(s);
    note(s, "tags", SCHEMA_ARRAY);
    note(s, "score", SCHEMA_NIL);
    note(s, "age", SCHEMA_INT);
    schema_row_begin(s);
    note(s, "age", SCHEMA_NIL);
    note(s, "score", SCHEMA_FLOAT);
    note(s, "tags", SCHEMA_ARRAY);
    assert_json(s, "{\"key\":\"user\",\"value\":\"map\",\"fields\":["
                   "{\"name\":\"age\",\"type\":\"int|nil\"},"
                   "{\"name\":\"score\",\"type\":\"float|nil\"},"
                   "{\"name\":\"tags\",\"type\":\"array\"}]}");
    schema_destroy(&s);
    assert_null(s);
    schema_destroy(&s);

    s = schema_create("k", "vec");
    note(s, "vec", SCHEMA_STR);
    assert_json(s, "{\"key\":\"k\",\"value\":\"raw\",\"field\":\"vec\","
                   "\"fields\":[{\"name\":\"vec\",\"type\":\"str\"}]}");
    schema_destroy(&s);
}

static void test_truncation_and_names(void **state)
{
    (void)state;
    struct schema *s = schema_create("k", "");
    char name[16];
    for (int i = 0; i <= SCHEMA_MAX_FIELDS; i++) {
        snprintf(name, sizeof(name), "f%d", i);
        note(s, name, SCHEMA_INT);
    }
    char *j = schema_to_json(s);
    assert_non_null(j);
    assert_non_null(strstr(j, "\"f1023\""));
    assert_null(strstr(j, "\"f1024\""));
    assert_non_null(strstr(j, ",\"truncated\":true}"));
    char err[256];
    struct schema *back = schema_from_json(j, err, sizeof(err));
    assert_non_null(back);
    char *j2 = schema_to_json(back);
    assert_string_equal(j, j2);
    free(j2);
    free(j);
    schema_destroy(&back);
    schema_destroy(&s);

    /* A name that is not UTF-8 (a Latin-1 TSV header) still gives JSON. */
    s = schema_create("k", NULL);
    schema_note(s, "caf\xe9", 4, SCHEMA_STR);
    assert_json(s, "{\"key\":\"k\",\"value\":\"map\",\"fields\":["
                   "{\"name\":\"caf?\",\"type\":\"str\"}]}");
    schema_destroy(&s);
}

static void test_from_json(void **state)
{
    (void)state;
    char err[256];
    const char *j = "{\"key\":\"u\",\"value\":\"raw\",\"field\":\"v\","
                    "\"fields\":[{\"name\":\"v\",\"type\":\"str|nil\"}]}";
    struct schema *s = schema_from_json(j, err, sizeof(err));
    assert_non_null(s);
    assert_json(s, j);
    schema_destroy(&s);

    /* The earlier form: a list of types; unknown members ignored. */
    s = schema_from_json("{\"key\":\"u\",\"value\":\"map\",\"fields\":["
                         "{\"name\":\"a\",\"types\":[\"nil\",\"int\"]}],"
                         "\"later\":1}", err, sizeof(err));
    assert_non_null(s);
    assert_json(s, "{\"key\":\"u\",\"value\":\"map\",\"fields\":["
                   "{\"name\":\"a\",\"type\":\"int|nil\"}]}");
    schema_destroy(&s);

    static const struct {
        const char *json;
        const char *msg;
    } bad[] = {
        {"{", "schema: not JSON"},
        {"[]", "'fields' array"},
        {"{\"fields\":{}}", "'fields' array"},
        {"{\"key\":1,\"fields\":[]}", "'key' is not a string"},
        {"{\"value\":\"blob\",\"fields\":[]}", "neither \"map\" nor \"raw\""},
        {"{\"value\":\"raw\",\"fields\":[]}", "needs a 'field'"},
        {"{\"fields\":[{\"type\":\"int\"}]}", "fields[0] has no name"},
        {"{\"fields\":[{\"name\":\"a\",\"type\":\"int\"},{\"name\":\"b\"}]}",
         "fields[1] has no type"},
        {"{\"fields\":[{\"name\":\"a\",\"type\":\"int|text\"}]}",
         "unknown type 'text'"},
        {"{\"fields\":[{\"name\":\"a\",\"type\":\"\"}]}", "unknown type ''"},
        {"{\"fields\":[{\"name\":\"a\",\"types\":[\"int\",2]}]}",
         "fields[0].types[1] is not a type"},
        {"{\"fields\":[{\"name\":\"a\",\"types\":[]}]}",
         "fields[0] has no type"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = '\0';
        s = schema_from_json(bad[i].json, err, sizeof(err));
        if (s != NULL || strstr(err, bad[i].msg) == NULL) {
            fail_msg("%s: got %s '%s', want '%s'", bad[i].json,
                     s ? "a schema" : "NULL", err, bad[i].msg);
        }
    }
}

/* Compares two JSON schemas; returns the count, msg in out. */
static size_t compare(const char *was, const char *now, char *out,
                      size_t outlen)
{
    char err[256];
    struct schema *a = schema_from_json(was, err, sizeof(err));
    struct schema *b = schema_from_json(now, err, sizeof(err));
    assert_non_null(a);
    assert_non_null(b);
    struct buf msg = {0};
    size_t n = schema_compare(a, b, &msg);
    buf_append(&msg, "", 1);
    assert_false(buf_failed(&msg));
    snprintf(out, outlen, "%s", msg.data);
    buf_deinit(&msg);
    schema_destroy(&a);
    schema_destroy(&b);
    return n;
}

#define MAP(fields) "{\"key\":\"u\",\"value\":\"map\",\"fields\":[" fields "]}"
#define F(n, t) "{\"name\":\"" n "\",\"type\":\"" t "\"}"

static void test_compare(void **state)
{
    (void)state;
    char msg[2048];
    /* Same fields and types, in another order: no difference. */
    assert_int_equal(compare(MAP(F("a", "int") "," F("b", "str|nil")),
                             MAP(F("b", "str|nil") "," F("a", "int")), msg,
                             sizeof(msg)), 0);
    assert_string_equal(msg, "");
    /* Added, removed and retyped fields, each listed with types. */
    assert_int_equal(compare(MAP(F("a", "int") "," F("b", "str") "," F("c",
                                 "float")),
                             MAP(F("a", "int|nil") "," F("c", "float") ","
                                 F("d", "array") "," F("e", "map")),
                             msg, sizeof(msg)), 4);
    assert_string_equal(msg, "added fields: d (array), e (map); removed "
                             "fields: b (str); type changes: a int -> "
                             "int|nil");
    /* A narrower union is a change too. */
    assert_int_equal(compare(MAP(F("a", "int|nil")), MAP(F("a", "int")),
                             msg, sizeof(msg)), 1);
    assert_string_equal(msg, "type changes: a int|nil -> int");
    /* The key field and the value layout. */
    assert_int_equal(
        compare(MAP(F("v", "str")),
                "{\"key\":\"id\",\"value\":\"raw\",\"field\":\"v\","
                "\"fields\":[" F("v", "str") "]}", msg, sizeof(msg)), 2);
    assert_string_equal(msg, "key field: u -> id; value: map -> raw field v");
}

static void test_compare_long_lists(void **state)
{
    (void)state;
    struct schema *a = schema_create("k", NULL);
    struct schema *b = schema_create("k", NULL);
    char name[16];
    for (int i = 0; i < 13; i++) {
        snprintf(name, sizeof(name), "n%02d", i);
        note(b, name, SCHEMA_INT);
    }
    struct buf msg = {0};
    assert_int_equal(schema_compare(a, b, &msg), 13);
    buf_append(&msg, "", 1);
    assert_string_equal(msg.data, "added fields: n00 (int), n01 (int), n02 "
                                  "(int), n03 (int), n04 (int), n05 (int), "
                                  "n06 (int), n07 (int), n08 (int), n09 "
                                  "(int) and 3 more");
    buf_deinit(&msg);
    schema_destroy(&a);
    schema_destroy(&b);
}

static void test_merge_in_input_order(void **state)
{
    (void)state;
    /* The schema of a whole input equals the merge of its pieces'. */
    struct schema *a = schema_create("user", NULL);
    struct schema *b = schema_create("user", NULL);
    struct schema *whole = schema_create("user", NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(whole);
    struct {
        const char *name;
        unsigned type;
    } rows[] = {{"age", SCHEMA_INT},   {"tags", SCHEMA_ARRAY},
                {"age", SCHEMA_NIL},   {"score", SCHEMA_FLOAT},
                {"tags", SCHEMA_NIL},  {"name", SCHEMA_STR},
                {"age", SCHEMA_FLOAT}};
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
        note(i < 3 ? a : b, rows[i].name, rows[i].type);
        note(whole, rows[i].name, rows[i].type);
    }
    schema_merge(a, b);
    char *got = schema_to_json(a);
    char *want = schema_to_json(whole);
    assert_string_equal(got, want);
    assert_non_null(strstr(got, "\"name\":\"age\",\"type\":\"int|float|nil\""));
    free(got);
    free(want);
    schema_destroy(&a);
    schema_destroy(&b);
    schema_destroy(&whole);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_types_name),
        cmocka_unit_test(test_collect_and_json),
        cmocka_unit_test(test_truncation_and_names),
        cmocka_unit_test(test_from_json),
        cmocka_unit_test(test_compare),
        cmocka_unit_test(test_compare_long_lists),
        cmocka_unit_test(test_merge_in_input_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
