/*
 * This file implements schema.h: a list of fields in the order first seen
 * (a remembered position makes rows that repeat the previous row's order
 * cost one comparison per field), its JSON form with jansson, and the
 * comparison the schema-change gate makes.
 */
#include "schema.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Names of each kind listed by schema_compare() before "and N more". */
#define SCHEMA_LIST_MAX 10

struct schema_field {
    char *name;
    size_t len;
    unsigned types;
};

struct schema {
    char *key;
    char *value_field; /* NULL: a map */
    struct schema_field *fields;
    size_t n;
    size_t cap;
    size_t hint; /* where the next field of the row is looked for first */
    bool truncated;
};

static const struct {
    unsigned bit;
    const char *name;
} type_names[] = {
    {SCHEMA_INT, "int"},   {SCHEMA_FLOAT, "float"}, {SCHEMA_STR, "str"},
    {SCHEMA_BOOL, "bool"}, {SCHEMA_NIL, "nil"},     {SCHEMA_ARRAY, "array"},
    {SCHEMA_MAP, "map"},
};

#define NTYPES (sizeof(type_names) / sizeof(type_names[0]))

struct schema *schema_create(const char *key_field, const char *value_field)
{
    struct schema *s = calloc(1, sizeof(*s));
    if (s == NULL) {
        return NULL;
    }
    s->key = strdup(key_field ? key_field : "");
    if (value_field != NULL && value_field[0] != '\0') {
        s->value_field = strdup(value_field);
        if (s->value_field == NULL) {
            free(s->key);
            s->key = NULL;
        }
    }
    if (s->key == NULL) {
        free(s);
        return NULL;
    }
    return s;
}

void schema_destroy(struct schema **sp)
{
    struct schema *s = *sp;
    if (s == NULL) {
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        free(s->fields[i].name);
    }
    free(s->fields);
    free(s->value_field);
    free(s->key);
    free(s);
    *sp = NULL;
}

void schema_row_begin(struct schema *s)
{
    s->hint = 0;
}

static bool field_is(const struct schema_field *f, const char *name,
                     size_t len)
{
    return f->len == len && memcmp(f->name, name, len) == 0;
}

void schema_note(struct schema *s, const char *name, size_t len,
                 unsigned type)
{
    if (s->hint < s->n && field_is(&s->fields[s->hint], name, len)) {
        s->fields[s->hint++].types |= type;
        return;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (field_is(&s->fields[i], name, len)) {
            s->fields[i].types |= type;
            s->hint = i + 1;
            return;
        }
    }
    if (s->n >= SCHEMA_MAX_FIELDS) {
        s->truncated = true;
        return;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        struct schema_field *nf = realloc(s->fields, cap * sizeof(*nf));
        if (nf == NULL) {
            s->truncated = true;
            return;
        }
        s->fields = nf;
        s->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        s->truncated = true;
        return;
    }
    memcpy(copy, name, len);
    copy[len] = '\0';
    s->fields[s->n] = (struct schema_field){copy, len, type};
    s->hint = ++s->n;
}

void schema_merge(struct schema *s, const struct schema *from)
{
    schema_row_begin(s);
    for (size_t i = 0; i < from->n; i++) {
        schema_note(s, from->fields[i].name, from->fields[i].len,
                    from->fields[i].types);
    }
    if (from->truncated) {
        s->truncated = true;
    }
    schema_row_begin(s);
}

void schema_types_name(unsigned types, char *out, size_t outlen)
{
    size_t used = 0;
    out[0] = '\0';
    for (size_t k = 0; k < NTYPES; k++) {
        if (types & type_names[k].bit) {
            int n = snprintf(out + used, outlen - used, "%s%s",
                             used ? "|" : "", type_names[k].name);
            if (n < 0 || (size_t)n >= outlen - used) {
                out[used] = '\0'; /* whole names only */
                return;
            }
            used += (size_t)n;
        }
    }
    if (used == 0) {
        snprintf(out, outlen, "none");
    }
}

/* ---- JSON --------------------------------------------------------------- */

/* A JSON string of s[0, len); bytes JSON cannot carry become '?'. */
static json_t *name_json(const char *s, size_t len)
{
    json_t *j = json_stringn(s, len);
    if (j != NULL) {
        return j;
    }
    char *copy = malloc(len + 1);
    if (copy == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        copy[i] = c >= 0x80 || c == 0 ? '?' : (char)c;
    }
    j = json_stringn(copy, len);
    free(copy);
    return j;
}

char *schema_to_json(const struct schema *s)
{
    json_t *root = json_object();
    json_t *fields = json_array();
    bool ok = root != NULL && fields != NULL &&
              json_object_set_new(root, "key",
                                  name_json(s->key, strlen(s->key))) == 0 &&
              json_object_set_new(root, "value",
                                  json_string(s->value_field ? "raw"
                                                             : "map")) == 0;
    if (ok && s->value_field != NULL) {
        ok = json_object_set_new(root, "field",
                                 name_json(s->value_field,
                                           strlen(s->value_field))) == 0;
    }
    for (size_t i = 0; ok && i < s->n; i++) {
        char types[64];
        schema_types_name(s->fields[i].types, types, sizeof(types));
        json_t *f = json_pack("{s:o,s:s}", "name",
                              name_json(s->fields[i].name, s->fields[i].len),
                              "type", types);
        ok = json_array_append_new(fields, f) == 0;
    }
    char *out = NULL;
    if (ok) {
        ok = json_object_set(root, "fields", fields) == 0 &&
             (!s->truncated ||
              json_object_set_new(root, "truncated", json_true()) == 0);
    }
    if (ok) {
        out = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    }
    json_decref(fields);
    json_decref(root);
    return out;
}

/* The SCHEMA_* bit named name[0, len), or 0. */
static unsigned type_bit(const char *name, size_t len)
{
    for (size_t k = 0; k < NTYPES; k++) {
        if (strlen(type_names[k].name) == len &&
            memcmp(type_names[k].name, name, len) == 0) {
            return type_names[k].bit;
        }
    }
    return 0;
}

/* Types of one field: "int|nil", or ["int","nil"]; 0 with err if bad. */
static unsigned field_types(json_t *f, size_t i, char *err, size_t errlen)
{
    json_t *one = json_object_get(f, "type");
    json_t *many = json_object_get(f, "types");
    unsigned types = 0;
    if (json_is_string(one)) {
        const char *p = json_string_value(one);
        for (;;) {
            const char *bar = strchr(p, '|');
            size_t len = bar ? (size_t)(bar - p) : strlen(p);
            unsigned bit = type_bit(p, len);
            if (bit == 0) {
                snprintf(err, errlen, "schema: fields[%zu] has an unknown "
                         "type '%.*s'", i, (int)len, p);
                return 0;
            }
            types |= bit;
            if (bar == NULL) {
                return types;
            }
            p = bar + 1;
        }
    }
    if (json_is_array(many) && json_array_size(many) > 0) {
        size_t k;
        json_t *t;
        json_array_foreach(many, k, t) {
            unsigned bit = json_is_string(t)
                               ? type_bit(json_string_value(t),
                                          json_string_length(t))
                               : 0;
            if (bit == 0) {
                snprintf(err, errlen, "schema: fields[%zu].types[%zu] is "
                         "not a type", i, k);
                return 0;
            }
            types |= bit;
        }
        return types;
    }
    snprintf(err, errlen, "schema: fields[%zu] has no type", i);
    return 0;
}

/* Reads the fields array into s; 0, or -1 with err. */
static int read_fields(struct schema *s, json_t *fields, char *err,
                       size_t errlen)
{
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        json_t *name = json_object_get(f, "name");
        if (!json_is_string(name)) {
            snprintf(err, errlen, "schema: fields[%zu] has no name", i);
            return -1;
        }
        unsigned types = field_types(f, i, err, errlen);
        if (types == 0) {
            return -1;
        }
        schema_note(s, json_string_value(name), json_string_length(name),
                    types);
    }
    return 0;
}

struct schema *schema_from_json(const char *text, char *err, size_t errlen)
{
    json_error_t je;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (root == NULL) {
        snprintf(err, errlen, "schema: not JSON: %s", je.text);
        return NULL;
    }
    json_t *key = json_object_get(root, "key");
    json_t *value = json_object_get(root, "value");
    json_t *field = json_object_get(root, "field");
    json_t *fields = json_object_get(root, "fields");
    const char *layout = value ? json_string_value(value) : "map";
    bool raw = layout != NULL && strcmp(layout, "raw") == 0;
    struct schema *s = NULL;
    if (!json_is_object(root) || !json_is_array(fields)) {
        snprintf(err, errlen, "schema: not an object with a 'fields' array");
    } else if (key != NULL && !json_is_string(key)) {
        snprintf(err, errlen, "schema: 'key' is not a string");
    } else if (layout == NULL || (!raw && strcmp(layout, "map") != 0)) {
        snprintf(err, errlen, "schema: 'value' is neither \"map\" nor "
                 "\"raw\"");
    } else if (raw && !json_is_string(field)) {
        snprintf(err, errlen, "schema: a raw value needs a 'field' string");
    } else if ((s = schema_create(key ? json_string_value(key) : "",
                                  raw ? json_string_value(field)
                                      : NULL)) == NULL) {
        snprintf(err, errlen, "out of memory");
    } else if (read_fields(s, fields, err, errlen) != 0) {
        schema_destroy(&s);
    } else {
        s->truncated |= json_is_true(json_object_get(root, "truncated"));
    }
    json_decref(root);
    return s;
}

/* ---- comparison ----------------------------------------------------------- */

static const struct schema_field *find(const struct schema *s,
                                       const struct schema_field *f)
{
    for (size_t i = 0; i < s->n; i++) {
        if (field_is(&s->fields[i], f->name, f->len)) {
            return &s->fields[i];
        }
    }
    return NULL;
}

/* One kind of difference being listed: "added fields: a (int), b ...". */
struct diff_list {
    struct buf *msg;
    size_t *total;
    size_t n;
};

static void list_item(struct diff_list *l, const char *title)
{
    if (l->n == 0) {
        buf_printf(l->msg, "%s%s: ", *l->total ? "; " : "", title);
    } else if (l->n < SCHEMA_LIST_MAX) {
        buf_append_str(l->msg, ", ");
    }
    l->n++;
    (*l->total)++;
}

static void list_end(struct diff_list *l)
{
    if (l->n > SCHEMA_LIST_MAX) {
        buf_printf(l->msg, " and %zu more", l->n - SCHEMA_LIST_MAX);
    }
}

/* Lists fields of a missing from b, with their types. */
static void list_missing(const struct schema *a, const struct schema *b,
                         const char *title, struct buf *msg, size_t *total)
{
    struct diff_list l = {msg, total, 0};
    for (size_t i = 0; i < a->n; i++) {
        if (find(b, &a->fields[i]) != NULL) {
            continue;
        }
        list_item(&l, title);
        if (l.n <= SCHEMA_LIST_MAX) {
            char types[64];
            schema_types_name(a->fields[i].types, types, sizeof(types));
            buf_printf(msg, "%s (%s)", a->fields[i].name, types);
        }
    }
    list_end(&l);
}

/* The value layout as text: "map" or "raw field F". */
static void layout_name(const struct schema *s, char *out, size_t outlen)
{
    if (s->value_field == NULL) {
        snprintf(out, outlen, "map");
    } else {
        snprintf(out, outlen, "raw field %s", s->value_field);
    }
}

size_t schema_compare(const struct schema *was, const struct schema *now,
                      struct buf *msg)
{
    size_t total = 0;
    if (strcmp(was->key, now->key) != 0) {
        buf_printf(msg, "key field: %s -> %s", was->key, now->key);
        total++;
    }
    char a[128], b[128];
    layout_name(was, a, sizeof(a));
    layout_name(now, b, sizeof(b));
    if (strcmp(a, b) != 0) {
        buf_printf(msg, "%svalue: %s -> %s", total ? "; " : "", a, b);
        total++;
    }
    list_missing(now, was, "added fields", msg, &total);
    list_missing(was, now, "removed fields", msg, &total);
    struct diff_list l = {msg, &total, 0};
    for (size_t i = 0; i < now->n; i++) {
        const struct schema_field *old = find(was, &now->fields[i]);
        if (old == NULL || old->types == now->fields[i].types) {
            continue;
        }
        list_item(&l, "type changes");
        if (l.n <= SCHEMA_LIST_MAX) {
            schema_types_name(old->types, a, sizeof(a));
            schema_types_name(now->fields[i].types, b, sizeof(b));
            buf_printf(msg, "%s %s -> %s", now->fields[i].name, a, b);
        }
    }
    list_end(&l);
    return total;
}
