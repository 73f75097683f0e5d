/*
 * This file implements the fuzz target of loader/json_row.c, the JSONL
 * reader's JSON parser, differentially: every input is also given to
 * jansson's json_loadb() with JSON_REJECT_DUPLICATES (what the reader used
 * before), and the two must agree:
 *   - json_row accepts an object exactly when jansson returns an object,
 *     and then every field and nested value is the same (kind, number
 *     bits, string bytes, array and map order);
 *   - "not an object" exactly when jansson returns an array;
 *   - "invalid" exactly when jansson fails, with a message naming a
 *     column within the input.
 * An input holding a NUL byte is never JSON (not outside strings, not
 * raw inside them), so json_row must refuse it; jansson is not asked,
 * as it skips some NUL bytes ("[4\0]" is an array to it).
 * The input is parsed from a private copy (json_row writes in place).
 */
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "json_row.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void same_value(const struct input_value *v, const json_t *j)
{
    switch (v->kind) {
    case INPUT_NIL:
        CHECK(json_is_null(j));
        break;
    case INPUT_BOOL:
        CHECK(json_is_boolean(j) && v->u.b == json_is_true(j));
        break;
    case INPUT_INT:
        CHECK(json_is_integer(j) && v->u.i == json_integer_value(j));
        break;
    case INPUT_FLOAT: {
        CHECK(json_is_real(j));
        double d = json_real_value(j);
        CHECK(memcmp(&d, &v->u.f, sizeof(d)) == 0);
        break;
    }
    case INPUT_STR:
        CHECK(json_is_string(j) && v->u.s.len == json_string_length(j) &&
              memcmp(v->u.s.p, json_string_value(j), v->u.s.len) == 0);
        break;
    case INPUT_ARRAY:
        CHECK(json_is_array(j) && v->n == json_array_size(j));
        for (size_t i = 0; i < v->n; i++) {
            same_value(&v->u.items[i], json_array_get(j, i));
        }
        break;
    case INPUT_MAP: {
        CHECK(json_is_object(j) && v->n == json_object_size(j));
        size_t i = 0;
        for (void *it = json_object_iter((json_t *)j); it != NULL;
             it = json_object_iter_next((json_t *)j, it), i++) {
            const struct input_value *k = &v->u.items[2 * i];
            CHECK(k->kind == INPUT_STR &&
                  k->u.s.len == json_object_iter_key_len(it) &&
                  memcmp(k->u.s.p, json_object_iter_key(it), k->u.s.len) ==
                      0);
            same_value(&v->u.items[2 * i + 1], json_object_iter_value(it));
        }
        break;
    }
    default:
        CHECK(!"a kind JSON does not have");
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct json_row jr = {0}; /* fresh: first-use paths too */
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    char err[256] = "";
    enum json_row_status st = json_row_parse(&jr, text, size, err,
                                             sizeof(err));
    if (memchr(data, '\0', size) != NULL) {
        CHECK(st == JSON_ROW_INVALID || st == JSON_ROW_NOMEM);
        json_row_free(&jr);
        free(text);
        return 0;
    }
    json_error_t jerr;
    json_t *doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
                             &jerr);
    switch (st) {
    case JSON_ROW_OK:
        CHECK(doc != NULL && json_is_object(doc));
        CHECK(jr.nfields == json_object_size(doc));
        size_t i = 0;
        for (void *it = json_object_iter(doc); it != NULL;
             it = json_object_iter_next(doc, it), i++) {
            CHECK(jr.fields[i].name_len == json_object_iter_key_len(it) &&
                  memcmp(jr.fields[i].name, json_object_iter_key(it),
                         jr.fields[i].name_len) == 0);
            same_value(&jr.fields[i].value, json_object_iter_value(it));
        }
        break;
    case JSON_ROW_NOT_OBJECT:
        CHECK(doc != NULL && json_is_array(doc));
        CHECK(strcmp(err, "not a JSON object") == 0);
        break;
    case JSON_ROW_INVALID: {
        CHECK(doc == NULL);
        size_t column = 0;
        CHECK(sscanf(err, "invalid JSON at column %zu:", &column) == 1);
        CHECK(column >= 1 && column <= size + 1);
        break;
    }
    case JSON_ROW_NOMEM:
        break;
    }
    json_decref(doc);
    json_row_free(&jr);
    free(text);
    return 0;
}
