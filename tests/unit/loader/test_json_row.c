/*
 * Unit tests of loader/json_row.c, the JSONL reader's in-place JSON
 * parser: every value kind, nesting (pointers into the arena stay right
 * after it grows), escapes and surrogate pairs unescaped in place, the
 * int64 bounds, duplicate names in small and hashed objects, the depth
 * limit, and each refusal with its column. tests/fuzz/fuzz_json_row.c
 * compares it with jansson on random inputs.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json_row.h"

/* The text last parsed: kept until the next parse, as the row's strings
 * point into it. */
static char *copy;

static int free_copy(void **state)
{
    (void)state;
    free(copy);
    copy = NULL;
    return 0;
}

/* Parses a copy of text (json_row writes in place). */
static enum json_row_status parse(struct json_row *jr, const char *text,
                                  size_t len, char *err)
{
    free(copy);
    copy = malloc(len + 1);
    assert_non_null(copy);
    memcpy(copy, text, len);
    copy[len] = '\0';
    err[0] = '\0';
    return json_row_parse(jr, copy, len, err, 256);
}

static enum json_row_status parse_str(struct json_row *jr, const char *text,
                                      char *err)
{
    return parse(jr, text, strlen(text), err);
}

static void str_is(const struct input_value *v, const char *want)
{
    assert_int_equal(v->kind, INPUT_STR);
    assert_int_equal(v->u.s.len, strlen(want));
    assert_memory_equal(v->u.s.p, want, strlen(want));
}

static void name_is(const struct json_row *jr, size_t i, const char *want)
{
    assert_true(i < jr->nfields);
    assert_int_equal(jr->fields[i].name_len, strlen(want));
    assert_memory_equal(jr->fields[i].name, want, strlen(want));
}

static void test_scalars_and_order(void **state)
{
    (void)state;
    struct json_row jr = {0};
    char err[256];
    assert_int_equal(
        parse_str(&jr,
                  " {\"s\" : \"x\", \"i\":-42,\"f\":2.5e-3,\"t\":true,"
                  "\"n\":null, \"b\":false ,\"z\":-0}\t",
                  err),
        JSON_ROW_OK);
    assert_int_equal(jr.nfields, 7);
    name_is(&jr, 0, "s");
    str_is(&jr.fields[0].value, "x");
    name_is(&jr, 1, "i");
    assert_int_equal(jr.fields[1].value.kind, INPUT_INT);
    assert_int_equal(jr.fields[1].value.u.i, -42);
    assert_int_equal(jr.fields[2].value.kind, INPUT_FLOAT);
    assert_true(jr.fields[2].value.u.f == 2.5e-3);
    assert_int_equal(jr.fields[3].value.kind, INPUT_BOOL);
    assert_true(jr.fields[3].value.u.b);
    assert_int_equal(jr.fields[4].value.kind, INPUT_NIL);
    assert_int_equal(jr.fields[5].value.kind, INPUT_BOOL);
    assert_false(jr.fields[5].value.u.b);
    assert_int_equal(jr.fields[6].value.kind, INPUT_INT);
    assert_int_equal(jr.fields[6].value.u.i, 0);

    assert_int_equal(parse_str(&jr, "{}", err), JSON_ROW_OK);
    assert_int_equal(jr.nfields, 0);
    json_row_free(&jr);
}

static void test_int64_bounds(void **state)
{
    (void)state;
    struct json_row jr = {0};
    char err[256];
    assert_int_equal(parse_str(&jr,
                               "{\"max\":9223372036854775807,"
                               "\"min\":-9223372036854775808}",
                               err),
                     JSON_ROW_OK);
    assert_true(jr.fields[0].value.u.i == INT64_MAX);
    assert_true(jr.fields[1].value.u.i == INT64_MIN);
    const char *too_big[] = {
        "{\"a\":9223372036854775808}",
        "{\"a\":-9223372036854775809}",
        "{\"a\":123456789012345678901234567890}",
    };
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(parse_str(&jr, too_big[i], err), JSON_ROW_INVALID);
        assert_non_null(strstr(err, "too big"));
        assert_non_null(strstr(err, "column 6"));
    }
    assert_int_equal(parse_str(&jr, "{\"a\":1e999}", err), JSON_ROW_INVALID);
    assert_non_null(strstr(err, "overflow"));
    assert_int_equal(parse_str(&jr, "{\"a\":1e-999}", err), JSON_ROW_OK);
    assert_int_equal(jr.fields[0].value.kind, INPUT_FLOAT);
    json_row_free(&jr);
}

/* Nested containers, enough of them that the arena and the stack grow
 * several times: every pointer must still lead to the right values. */
static void test_nesting_survives_growth(void **state)
{
    (void)state;
    struct json_row jr = {0};
    char err[256];
    size_t cap = 1 << 16, n = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    n += (size_t)snprintf(text + n, cap - n, "{\"recs\":[");
    for (int i = 0; i < 500; i++) {
        n += (size_t)snprintf(text + n, cap - n,
                              "%s{\"item\":\"i%d\",\"score\":%d,\"tags\":[%d,"
                              "[]]}",
                              i ? "," : "", i, i, i);
    }
    n += (size_t)snprintf(text + n, cap - n, "],\"after\":{\"x\":[1]}}");
    assert_int_equal(parse(&jr, text, n, err), JSON_ROW_OK);
    free(text);
    assert_int_equal(jr.nfields, 2);
    const struct input_value *recs = &jr.fields[0].value;
    assert_int_equal(recs->kind, INPUT_ARRAY);
    assert_int_equal(recs->n, 500);
    for (int i = 0; i < 500; i++) {
        const struct input_value *m = &recs->u.items[i];
        char want[16];
        assert_int_equal(m->kind, INPUT_MAP);
        assert_int_equal(m->n, 3);
        str_is(&m->u.items[0], "item");
        snprintf(want, sizeof(want), "i%d", i);
        str_is(&m->u.items[1], want);
        assert_int_equal(m->u.items[3].u.i, i);
        const struct input_value *tags = &m->u.items[5];
        assert_int_equal(tags->kind, INPUT_ARRAY);
        assert_int_equal(tags->n, 2);
        assert_int_equal(tags->u.items[0].u.i, i);
        assert_int_equal(tags->u.items[1].kind, INPUT_ARRAY);
        assert_int_equal(tags->u.items[1].n, 0);
    }
    const struct input_value *after = &jr.fields[1].value;
    assert_int_equal(after->kind, INPUT_MAP);
    str_is(&after->u.items[0], "x");
    assert_int_equal(after->u.items[1].u.items[0].u.i, 1);
    json_row_free(&jr);
}

static void test_escapes_in_place(void **state)
{
    (void)state;
    struct json_row jr = {0};
    char err[256];
    assert_int_equal(
        parse_str(&jr,
                  "{\"k\\u00e9y\":\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t"
                  "\\u20ac\\ud83d\\ude00 caf\xc3\xa9\",\"next\":\"plain\"}",
                  err),
        JSON_ROW_OK);
    name_is(&jr, 0, "k\xc3\xa9y");
    str_is(&jr.fields[0].value,
           "a\"b\\c/d\b\f\n\r\t\xe2\x82\xac\xf0\x9f\x98\x80 caf\xc3\xa9");
    name_is(&jr, 1, "next");
    str_is(&jr.fields[1].value, "plain");
    json_row_free(&jr);
}

static void test_duplicates(void **state)
{
    (void)state;
    struct json_row jr = {0};
    char err[256];
    assert_int_equal(parse_str(&jr, "{\"a\":1,\"b\":{\"c\":1,\"c\":2}}", err),
                     JSON_ROW_INVALID);
    assert_non_null(strstr(err, "duplicate"));
    /* Equal once unescaped. */
    assert_int_equal(parse_str(&jr, "{\"a\":1,\"\\u0061\":2}", err),
                     JSON_ROW_INVALID);
    assert_non_null(strstr(err, "duplicate"));
    /* Objects beyond the pairwise check go through the hash table. */
    char text[4096];
    size_t n = (size_t)snprintf(text, sizeof(text), "{");
    for (int i = 0; i < 100; i++) {
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s\"f%d\":%d",
                              i ? "," : "", i, i);
    }
    snprintf(text + n, sizeof(text) - n, "}");
    assert_int_equal(parse_str(&jr, text, err), JSON_ROW_OK);
    assert_int_equal(jr.nfields, 100);
    name_is(&jr, 99, "f99");
    snprintf(text + n, sizeof(text) - n, ",\"f57\":0}");
    assert_int_equal(parse_str(&jr, text, err), JSON_ROW_INVALID);
    assert_non_null(strstr(err, "duplicate"));
    json_row_free(&jr);
}

static void test_depth_limit(void **state)
{
    (void)state;
    struct json_row jr = {0};
    char err[256];
    /* jansson's count: every value, scalars included, is one level. */
    size_t depth = JSON_ROW_MAX_DEPTH - 1; /* arrays, under the object */
    size_t cap = 2 * depth + 64;
    char *text = malloc(cap);
    assert_non_null(text);
    size_t n = (size_t)snprintf(text, cap, "{\"a\":");
    memset(text + n, '[', depth);
    n += depth;
    memset(text + n, ']', depth);
    n += depth;
    text[n++] = '}';
    assert_int_equal(parse(&jr, text, n, err), JSON_ROW_OK);
    /* One more level: a scalar in the innermost array. */
    n = (size_t)snprintf(text, cap, "{\"a\":");
    memset(text + n, '[', depth);
    n += depth;
    text[n++] = '1';
    memset(text + n, ']', depth);
    n += depth;
    text[n++] = '}';
    assert_int_equal(parse(&jr, text, n, err), JSON_ROW_INVALID);
    assert_non_null(strstr(err, "depth"));
    free(text);
    json_row_free(&jr);
}

static void test_refusals(void **state)
{
    (void)state;
    struct json_row jr = {0};
    char err[256];
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        enum json_row_status want;
        const char *column;
    } cases[] = {
        {"[1,2]", 0, JSON_ROW_NOT_OBJECT, NULL},
        {"42", 0, JSON_ROW_INVALID, "column 1:"},
        {"", 0, JSON_ROW_INVALID, "column 1:"},
        {"{\"a\":1", 0, JSON_ROW_INVALID, "column 7:"},
        {"{\"a\":1} x", 0, JSON_ROW_INVALID, "column 9:"},
        {"{\"a\":1,}", 0, JSON_ROW_INVALID, "column 8:"},
        {"{\"a\" 1}", 0, JSON_ROW_INVALID, "column 6:"},
        {"{a:1}", 0, JSON_ROW_INVALID, "column 2:"},
        {"{\"a\":01}", 0, JSON_ROW_INVALID, "column 7:"},
        {"{\"a\":1.}", 0, JSON_ROW_INVALID, "column 8:"},
        {"{\"a\":.5}", 0, JSON_ROW_INVALID, "column 6:"},
        {"{\"a\":1e}", 0, JSON_ROW_INVALID, "column 8:"},
        {"{\"a\":-}", 0, JSON_ROW_INVALID, "column 6:"},
        {"{\"a\":tru}", 0, JSON_ROW_INVALID, "column 6:"},
        {"{\"a\":truex}", 0, JSON_ROW_INVALID, "column 10:"},
        {"{\"a\":\"x\ty\"}", 0, JSON_ROW_INVALID, "column 8:"},
        {"{\"a\":\"\\x\"}", 0, JSON_ROW_INVALID, "column 8:"},
        {"{\"a\":\"\\u12g4\"}", 0, JSON_ROW_INVALID, NULL},
        {"{\"a\":\"\\u0000\"}", 0, JSON_ROW_INVALID, NULL},
        {"{\"a\":\"\\ud800\"}", 0, JSON_ROW_INVALID, NULL},
        {"{\"a\":\"\\udc00\"}", 0, JSON_ROW_INVALID, NULL},
        {"{\"a\":\"\\ud800\\u0041\"}", 0, JSON_ROW_INVALID, NULL},
        {"{\"a\":\"\xc0\xaf\"}", 0, JSON_ROW_INVALID, "column 7:"},
        {"{\"a\":\"\xed\xa0\x80\"}", 0, JSON_ROW_INVALID, "column 7:"},
        {"{\"a\":\"\xf4\x90\x80\x80\"}", 0, JSON_ROW_INVALID, "column 7:"},
        {"{\"a\":\"\xe2\x82\"}", 0, JSON_ROW_INVALID, "column 7:"},
        {"{\"a\":\"abc", 0, JSON_ROW_INVALID, NULL},
        {"{\"a\":\"ab\\", 0, JSON_ROW_INVALID, NULL},
        {"{\"a\":1}\0", 8, JSON_ROW_INVALID, "column 8:"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        enum json_row_status st = parse(&jr, cases[i].text, len, err);
        if (st != cases[i].want) {
            fail_msg("case %zu (%s): status %d, want %d (%s)", i,
                     cases[i].text, st, cases[i].want, err);
        }
        if (cases[i].want == JSON_ROW_INVALID &&
            (strncmp(err, "invalid JSON at column ", 23) != 0 ||
             (cases[i].column != NULL && strstr(err, cases[i].column) ==
                                             NULL))) {
            fail_msg("case %zu (%s): message \"%s\", want %s", i,
                     cases[i].text, err,
                     cases[i].column ? cases[i].column : "a column");
        }
    }
    json_row_free(&jr);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_scalars_and_order),
        cmocka_unit_test(test_int64_bounds),
        cmocka_unit_test(test_nesting_survives_growth),
        cmocka_unit_test(test_escapes_in_place),
        cmocka_unit_test(test_duplicates),
        cmocka_unit_test(test_depth_limit),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, free_copy);
}
