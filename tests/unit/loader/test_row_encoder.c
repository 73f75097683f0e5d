/*
 * This file implements the unit tests of the row encoder
 * (loader/row_encoder.c): the key (text, string, integer; missing, empty
 * and wrong types refused), the msgpack map of the value — decoded again
 * with msgpack-c's unpacker and compared: every scalar type, the typing of
 * untyped text, nested arrays of maps — field selection and order, layout
 * caching, --value-field raw bytes and compact JSON, the schema, and the
 * option checks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "row_encoder.h"

/* ---- building rows ------------------------------------------------------ */

static struct input_value text(const char *s)
{
    struct input_value v = {.kind = INPUT_TEXT};
    v.u.s.p = s;
    v.u.s.len = strlen(s);
    return v;
}

static struct input_value str(const char *s)
{
    struct input_value v = text(s);
    v.kind = INPUT_STR;
    return v;
}

static struct input_value integer(int64_t i)
{
    struct input_value v = {.kind = INPUT_INT};
    v.u.i = i;
    return v;
}

static struct input_value real(double f)
{
    struct input_value v = {.kind = INPUT_FLOAT};
    v.u.f = f;
    return v;
}

static struct input_value boolean(bool b)
{
    struct input_value v = {.kind = INPUT_BOOL};
    v.u.b = b;
    return v;
}

static struct input_value nil(void)
{
    struct input_value v = {.kind = INPUT_NIL};
    return v;
}

static struct input_value array(const struct input_value *items, uint32_t n)
{
    struct input_value v = {.kind = INPUT_ARRAY, .n = n};
    v.u.items = items;
    return v;
}

static struct input_value map(const struct input_value *items, uint32_t n)
{
    struct input_value v = {.kind = INPUT_MAP, .n = n};
    v.u.items = items;
    return v;
}

static struct input_field fld(const char *name, struct input_value v)
{
    struct input_field f = {name, strlen(name), v};
    return f;
}

static struct row_encoder *make(const char *key, const char *fields,
                                const char *value_field)
{
    struct row_encoder_options o = {key, fields, value_field};
    struct row_encoder *e = NULL;
    char err[256] = "";
    if (row_encoder_create(&o, &e, err, sizeof(err)) != 0) {
        fail_msg("create: %s", err);
    }
    return e;
}

static struct row_encoded encode_ok(struct row_encoder *e,
                                    const struct input_field *f, size_t n,
                                    uint64_t layout)
{
    struct input_row row = {n, f, layout};
    struct row_encoded out;
    char err[256] = "";
    enum row_status st = row_encoder_encode(e, &row, &out, err, sizeof(err));
    if (st != ROW_OK) {
        fail_msg("encode: %d: %s", st, err);
    }
    return out;
}

static void encode_bad(struct row_encoder *e, const struct input_field *f,
                       size_t n, uint64_t layout, const char *why)
{
    struct input_row row = {n, f, layout};
    struct row_encoded out;
    char err[256] = "";
    assert_int_equal(row_encoder_encode(e, &row, &out, err, sizeof(err)),
                     ROW_BAD);
    assert_string_equal(err, why);
}

static void check_key(const struct row_encoded *r, const char *key)
{
    assert_int_equal(r->klen, strlen(key));
    assert_memory_equal(r->key, key, r->klen);
}

/* ---- decoding values ---------------------------------------------------- */

struct decoded {
    msgpack_unpacked u;
};

static const msgpack_object *decode(struct decoded *d,
                                    const struct row_encoded *r)
{
    msgpack_unpacked_init(&d->u);
    size_t off = 0;
    assert_int_equal(msgpack_unpack_next(&d->u, r->value, r->vlen, &off),
                     MSGPACK_UNPACK_SUCCESS);
    assert_int_equal(off, r->vlen); /* exactly one object */
    return &d->u.data;
}

static const msgpack_object *map_get(const msgpack_object *m, size_t i,
                                     const char *name)
{
    assert_int_equal(m->type, MSGPACK_OBJECT_MAP);
    assert_true(i < m->via.map.size);
    const msgpack_object_kv *kv = &m->via.map.ptr[i];
    assert_int_equal(kv->key.type, MSGPACK_OBJECT_STR);
    assert_int_equal(kv->key.via.str.size, strlen(name));
    assert_memory_equal(kv->key.via.str.ptr, name, strlen(name));
    return &kv->val;
}

static void check_obj_str(const msgpack_object *o, const char *s)
{
    assert_int_equal(o->type, MSGPACK_OBJECT_STR);
    assert_int_equal(o->via.str.size, strlen(s));
    assert_memory_equal(o->via.str.ptr, s, strlen(s));
}

static void check_obj_int(const msgpack_object *o, int64_t i)
{
    if (i >= 0) {
        assert_int_equal(o->type, MSGPACK_OBJECT_POSITIVE_INTEGER);
        assert_true(o->via.u64 == (uint64_t)i);
    } else {
        assert_int_equal(o->type, MSGPACK_OBJECT_NEGATIVE_INTEGER);
        assert_true(o->via.i64 == i);
    }
}

static void check_obj_float(const msgpack_object *o, double f)
{
    assert_int_equal(o->type, MSGPACK_OBJECT_FLOAT64);
    assert_true(o->via.f64 == f);
}

/* ---- tests -------------------------------------------------------------- */

static void test_default_map_every_field_but_the_key(void **state)
{
    struct row_encoder *e = make("user", NULL, NULL);
    struct input_field f[] = {
        fld("age", integer(42)),      fld("user", str("u1")),
        fld("score", real(0.5)),      fld("vip", boolean(true)),
        fld("old", boolean(false)),   fld("note", nil()),
        fld("name", str("Zoë")),
    };
    struct row_encoded r = encode_ok(e, f, 7, 0);
    check_key(&r, "u1");
    struct decoded d;
    const msgpack_object *m = decode(&d, &r);
    assert_int_equal(m->via.map.size, 6);
    check_obj_int(map_get(m, 0, "age"), 42);
    check_obj_float(map_get(m, 1, "score"), 0.5);
    assert_int_equal(map_get(m, 2, "vip")->type, MSGPACK_OBJECT_BOOLEAN);
    assert_true(map_get(m, 2, "vip")->via.boolean);
    assert_false(map_get(m, 3, "old")->via.boolean);
    assert_int_equal(map_get(m, 4, "note")->type, MSGPACK_OBJECT_NIL);
    check_obj_str(map_get(m, 5, "name"), "Zoë");
    msgpack_unpacked_destroy(&d.u);
    row_encoder_destroy(&e);
    assert_null(e);
}

static void test_text_typing_rule(void **state)
{
    static const struct {
        const char *text;
        int type; /* MSGPACK_OBJECT_* */
        int64_t i;
        double f;
    } cases[] = {
        {"42", MSGPACK_OBJECT_POSITIVE_INTEGER, 42, 0},
        {"0", MSGPACK_OBJECT_POSITIVE_INTEGER, 0, 0},
        {"-7", MSGPACK_OBJECT_NEGATIVE_INTEGER, -7, 0},
        {"9223372036854775807", MSGPACK_OBJECT_POSITIVE_INTEGER, INT64_MAX,
         0},
        {"-9223372036854775808", MSGPACK_OBJECT_NEGATIVE_INTEGER, INT64_MIN,
         0},
        {"9223372036854775808", MSGPACK_OBJECT_FLOAT64, 0,
         9223372036854775808.0},
        {"1.5", MSGPACK_OBJECT_FLOAT64, 0, 1.5},
        {"-0.25", MSGPACK_OBJECT_FLOAT64, 0, -0.25},
        {"2e-3", MSGPACK_OBJECT_FLOAT64, 0, 2e-3},
        {"1E6", MSGPACK_OBJECT_FLOAT64, 0, 1e6},
        {".5", MSGPACK_OBJECT_FLOAT64, 0, 0.5},
        {"5.", MSGPACK_OBJECT_FLOAT64, 0, 5.0},
        {"-0", MSGPACK_OBJECT_FLOAT64, 0, -0.0},
        {"", MSGPACK_OBJECT_NIL, 0, 0},
        {"007", MSGPACK_OBJECT_STR, 0, 0},
        {"00.5", MSGPACK_OBJECT_STR, 0, 0},
        {"+1", MSGPACK_OBJECT_STR, 0, 0},
        {"1e999", MSGPACK_OBJECT_STR, 0, 0},
        {"inf", MSGPACK_OBJECT_STR, 0, 0},
        {"nan", MSGPACK_OBJECT_STR, 0, 0},
        {"0x10", MSGPACK_OBJECT_STR, 0, 0},
        {" 1", MSGPACK_OBJECT_STR, 0, 0},
        {"1 ", MSGPACK_OBJECT_STR, 0, 0},
        {"1e", MSGPACK_OBJECT_STR, 0, 0},
        {"-", MSGPACK_OBJECT_STR, 0, 0},
        {".", MSGPACK_OBJECT_STR, 0, 0},
        {"true", MSGPACK_OBJECT_STR, 0, 0},
        {"abc", MSGPACK_OBJECT_STR, 0, 0},
    };
    struct row_encoder *e = make("k", NULL, NULL);
    for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
        struct input_field f[] = {fld("k", text("key")),
                                  fld("v", text(cases[c].text))};
        struct row_encoded r = encode_ok(e, f, 2, 7);
        struct decoded d;
        const msgpack_object *v = map_get(decode(&d, &r), 0, "v");
        if ((int)v->type != cases[c].type) {
            fail_msg("'%s': type %d, want %d", cases[c].text, v->type,
                     cases[c].type);
        }
        if (v->type == MSGPACK_OBJECT_FLOAT64) {
            assert_true(v->via.f64 == cases[c].f);
        } else if (v->type == MSGPACK_OBJECT_STR) {
            check_obj_str(v, cases[c].text);
        } else if (v->type != MSGPACK_OBJECT_NIL) {
            check_obj_int(v, cases[c].i);
        }
        msgpack_unpacked_destroy(&d.u);
    }
    row_encoder_destroy(&e);
}

/* A recommendation list of item ids with scores round-trips. */
static void test_array_of_maps_round_trip(void **state)
{
    struct row_encoder *e = make("user", NULL, NULL);
    struct input_value recs_items[3][4];
    struct input_value recs[3];
    static const char *const ids[] = {"i1", "i22", "i333"};
    static const double scores[] = {0.9, 0.5, 0.125};
    for (int i = 0; i < 3; i++) {
        recs_items[i][0] = str("item");
        recs_items[i][1] = str(ids[i]);
        recs_items[i][2] = str("score");
        recs_items[i][3] = real(scores[i]);
        recs[i] = map(recs_items[i], 2);
    }
    struct input_value vec[3] = {real(0.25), real(-1.5), integer(3)};
    struct input_value empty_items[1];
    struct input_field f[] = {fld("user", str("u9")),
                              fld("recs", array(recs, 3)),
                              fld("vec", array(vec, 3)),
                              fld("none", array(empty_items, 0)),
                              fld("obj", map(empty_items, 0))};
    struct row_encoded r = encode_ok(e, f, 5, 0);
    struct decoded d;
    const msgpack_object *m = decode(&d, &r);
    const msgpack_object *a = map_get(m, 0, "recs");
    assert_int_equal(a->type, MSGPACK_OBJECT_ARRAY);
    assert_int_equal(a->via.array.size, 3);
    for (int i = 0; i < 3; i++) {
        const msgpack_object *mi = &a->via.array.ptr[i];
        check_obj_str(map_get(mi, 0, "item"), ids[i]);
        check_obj_float(map_get(mi, 1, "score"), scores[i]);
    }
    const msgpack_object *v = map_get(m, 1, "vec");
    check_obj_float(&v->via.array.ptr[0], 0.25);
    check_obj_float(&v->via.array.ptr[1], -1.5);
    check_obj_int(&v->via.array.ptr[2], 3);
    assert_int_equal(map_get(m, 2, "none")->via.array.size, 0);
    assert_int_equal(map_get(m, 3, "obj")->type, MSGPACK_OBJECT_MAP);
    assert_int_equal(map_get(m, 3, "obj")->via.map.size, 0);
    msgpack_unpacked_destroy(&d.u);
    row_encoder_destroy(&e);
}

static void test_keys(void **state)
{
    struct row_encoder *e = make("id", NULL, NULL);
    struct input_field f1[] = {fld("id", integer(-12)), fld("x", nil())};
    struct row_encoded r = encode_ok(e, f1, 2, 0);
    check_key(&r, "-12");
    struct input_field f2[] = {fld("id", text("abc"))};
    r = encode_ok(e, f2, 1, 0);
    check_key(&r, "abc");
    struct decoded d;
    assert_int_equal(decode(&d, &r)->via.map.size, 0);
    msgpack_unpacked_destroy(&d.u);

    struct input_field f3[] = {fld("x", integer(1))};
    encode_bad(e, f3, 1, 0, "no key field 'id'");
    struct input_field f4[] = {fld("id", real(1.5))};
    encode_bad(e, f4, 1, 0, "key field 'id' is of type float (a key must be "
               "a string or an integer)");
    struct input_field f5[] = {fld("id", nil())};
    encode_bad(e, f5, 1, 0, "key field 'id' is of type nil (a key must be "
               "a string or an integer)");
    struct input_field f6[] = {fld("id", text(""))};
    encode_bad(e, f6, 1, 0, "key field 'id' is empty");
    struct input_value items[1] = {integer(1)};
    struct input_field f7[] = {fld("id", array(items, 1))};
    encode_bad(e, f7, 1, 0, "key field 'id' is of type array (a key must be "
               "a string or an integer)");
    row_encoder_destroy(&e);
}

static void test_selected_fields_in_given_order(void **state)
{
    struct row_encoder *e = make("k", "c,a", NULL);
    struct input_field f[] = {fld("a", integer(1)), fld("b", integer(2)),
                              fld("c", integer(3)), fld("k", str("x"))};
    struct row_encoded r = encode_ok(e, f, 4, 0);
    struct decoded d;
    const msgpack_object *m = decode(&d, &r);
    assert_int_equal(m->via.map.size, 2);
    check_obj_int(map_get(m, 0, "c"), 3);
    check_obj_int(map_get(m, 1, "a"), 1);
    msgpack_unpacked_destroy(&d.u);
    struct input_field g[] = {fld("a", integer(1)), fld("k", str("x"))};
    encode_bad(e, g, 2, 0, "no field 'c'");
    row_encoder_destroy(&e);
}

/* A cached layout is used for rows of that layout only. */
static void test_layouts(void **state)
{
    struct row_encoder *e = make("k", NULL, NULL);
    struct input_field f1[] = {fld("k", text("a")), fld("v", text("1"))};
    struct input_field f2[] = {fld("v", text("2")), fld("k", text("b")),
                               fld("w", text("x"))};
    for (int round = 0; round < 2; round++) {
        struct row_encoded r = encode_ok(e, f1, 2, 100);
        check_key(&r, "a");
        r = encode_ok(e, f2, 3, 101);
        check_key(&r, "b");
        struct decoded d;
        const msgpack_object *m = decode(&d, &r);
        assert_int_equal(m->via.map.size, 2);
        check_obj_int(map_get(m, 0, "v"), 2);
        check_obj_str(map_get(m, 1, "w"), "x");
        msgpack_unpacked_destroy(&d.u);
    }
    /* Same layout id, new values: the cached positions still apply. */
    struct input_field f3[] = {fld("k", text("c")), fld("v", text("3"))};
    struct row_encoded r = encode_ok(e, f1, 2, 100);
    r = encode_ok(e, f3, 2, 100);
    check_key(&r, "c");
    /* A layout whose key is missing makes each of its rows bad. */
    struct input_field f4[] = {fld("x", text("1"))};
    encode_bad(e, f4, 1, 102, "no key field 'k'");
    encode_bad(e, f4, 1, 102, "no key field 'k'");
    row_encoder_destroy(&e);
}

static void check_raw(struct row_encoder *e, struct input_value v,
                      const char *want)
{
    struct input_field f[] = {fld("k", str("key")), fld("payload", v)};
    struct row_encoded r = encode_ok(e, f, 2, 0);
    if (r.vlen != strlen(want) || memcmp(r.value, want, r.vlen) != 0) {
        fail_msg("raw value '%.*s', want '%s'", (int)r.vlen, r.value, want);
    }
}

static void test_value_field(void **state)
{
    struct row_encoder *e = make("k", NULL, "payload");
    check_raw(e, str("[1, 2]"), "[1, 2]");
    check_raw(e, text("007"), "007");
    check_raw(e, integer(-3), "-3");
    check_raw(e, real(0.1), "0.1");
    check_raw(e, real(1.0), "1.0");
    check_raw(e, real(1e300), "1e+300");
    check_raw(e, boolean(true), "true");
    check_raw(e, nil(), "null");
    struct input_value vec[2] = {real(0.5), real(-2.0)};
    check_raw(e, array(vec, 2), "[0.5,-2.0]");
    struct input_value kv[4] = {str("item"), str("a\"b\\c\n\x01"),
                                str("score"), real(0.75)};
    struct input_value recs[1] = {map(kv, 2)};
    check_raw(e, array(recs, 1),
              "[{\"item\":\"a\\\"b\\\\c\\n\\u0001\",\"score\":0.75}]");
    struct input_field f[] = {fld("k", str("key"))};
    encode_bad(e, f, 1, 0, "no field 'payload'");
    row_encoder_destroy(&e);
}

static void test_schema(void **state)
{
    struct row_encoder *e = make("k", NULL, NULL);
    struct input_field f1[] = {fld("k", text("a")), fld("n", text("1")),
                               fld("s", text("x"))};
    struct input_field f2[] = {fld("k", text("b")), fld("n", text("1.5")),
                               fld("s", text(""))};
    encode_ok(e, f1, 3, 5);
    encode_ok(e, f2, 3, 5);
    /* A bad row adds nothing. */
    struct input_field f3[] = {fld("zz", text("1"))};
    encode_bad(e, f3, 1, 0, "no key field 'k'");
    char *s = row_encoder_schema_json(e);
    assert_string_equal(
        s, "{\"key\":\"k\",\"value\":\"map\",\"fields\":["
           "{\"name\":\"n\",\"type\":\"int|float\"},"
           "{\"name\":\"s\",\"type\":\"str|nil\"}]}");
    free(s);
    row_encoder_destroy(&e);
    e = make("k", NULL, "p");
    struct input_field f4[] = {fld("k", text("a")), fld("p", text("x"))};
    encode_ok(e, f4, 2, 0);
    s = row_encoder_schema_json(e);
    assert_string_equal(s, "{\"key\":\"k\",\"value\":\"raw\",\"field\":\"p\","
                           "\"fields\":[{\"name\":\"p\",\"type\":\"str\"}]}");
    free(s);
    row_encoder_destroy(&e);
}

static void test_bad_options(void **state)
{
    static const struct {
        const char *key, *fields, *value_field, *why;
    } cases[] = {
        {"", NULL, NULL, "the key field name is empty"},
        {"k", "a,k", NULL, "--fields 'a,k': field 2 is the key field"},
        {"k", "a,,b", NULL, "--fields 'a,,b': field 2 is an empty name"},
        {"k", "a,b,a", NULL, "--fields 'a,b,a': field 3 is a repeated name"},
        {"k", "a", "b", "--fields and --value-field exclude each other"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct row_encoder_options o = {cases[i].key, cases[i].fields,
                                        cases[i].value_field};
        struct row_encoder *e = NULL;
        char err[256] = "";
        assert_int_equal(row_encoder_create(&o, &e, err, sizeof(err)), -1);
        assert_string_equal(err, cases[i].why);
        assert_null(e);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_map_every_field_but_the_key),
        cmocka_unit_test(test_text_typing_rule),
        cmocka_unit_test(test_array_of_maps_round_trip),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_selected_fields_in_given_order),
        cmocka_unit_test(test_layouts),
        cmocka_unit_test(test_value_field),
        cmocka_unit_test(test_schema),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
