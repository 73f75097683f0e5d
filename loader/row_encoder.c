/*
 * This file implements the row encoder: choosing the key and the value
 * fields of a row, typing untyped text, packing the value as a msgpack map
 * (msgpack-c) or taking one field's raw bytes, and noting the types seen
 * per field for the manifest's schema (schema.h).
 *
 * Field positions are looked up once per layout (a TSV file's header) and
 * cached; rows without a layout (JSONL) are looked up row by row.
 */
#include "row_encoder.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <msgpack.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "schema.h"

/* Longest text typed as a number; longer text is a str. */
#define ROW_NUMBER_MAX_TEXT 64

struct row_name {
    const char *p;
    size_t len;
};

/* Where the fields an encoder needs are in rows of one layout. */
struct row_plan {
    uint64_t layout; /* 0: valid for the current row only */
    long key;        /* index of the key field, -1 if absent */
    long value;      /* index of value_field, -1 if absent or unused */
    size_t *sel;     /* indexes of the value fields, in output order */
    size_t nsel;
    size_t cap;
    const struct row_name *missing; /* first requested field absent */
};

struct row_encoder {
    struct row_name key;
    struct row_name value_field; /* len 0: map mode */
    struct row_name *fields;     /* explicit selection, or NULL */
    size_t nfields;
    char *strings; /* owned copies the names above point into */
    struct row_plan plan;
    msgpack_sbuffer sbuf;
    msgpack_packer pk;
    bool pack_failed; /* an append to sbuf failed (out of memory) */
    struct buf json;
    char keybuf[24];
    struct schema *schema; /* owned */
};

/* ---- options ------------------------------------------------------------ */

static bool name_eq(const struct row_name *n, const char *p, size_t len)
{
    return n->len == len && memcmp(n->p, p, len) == 0;
}

/* The packer's output callback: appends to sbuf, noting failures. */
static int pack_write(void *data, const char *p, size_t len)
{
    struct row_encoder *e = data;
    if (msgpack_sbuffer_write(&e->sbuf, p, len) != 0) {
        e->pack_failed = true;
        return -1;
    }
    return 0;
}

int row_encoder_create(const struct row_encoder_options *o,
                       struct row_encoder **out, char *err, size_t errlen)
{
    const char *fields = o->fields ? o->fields : "";
    const char *vf = o->value_field ? o->value_field : "";
    if (o->key_field == NULL || o->key_field[0] == '\0') {
        snprintf(err, errlen, "the key field name is empty");
        return -1;
    }
    if (fields[0] != '\0' && vf[0] != '\0') {
        snprintf(err, errlen, "--fields and --value-field exclude each other");
        return -1;
    }
    struct row_encoder *e = calloc(1, sizeof(*e));
    size_t klen = strlen(o->key_field), flen = strlen(fields),
           vlen = strlen(vf);
    char *s = malloc(klen + flen + vlen + 3);
    if (e == NULL || s == NULL) {
        free(e);
        free(s);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    e->strings = s;
    memcpy(s, o->key_field, klen + 1);
    e->key = (struct row_name){s, klen};
    s += klen + 1;
    memcpy(s, vf, vlen + 1);
    e->value_field = (struct row_name){s, vlen};
    s += vlen + 1;
    memcpy(s, fields, flen + 1);
    msgpack_sbuffer_init(&e->sbuf);
    msgpack_packer_init(&e->pk, e, pack_write);
    e->schema = schema_create(o->key_field, vf);
    if (e->schema == NULL) {
        row_encoder_destroy(&e);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (flen > 0) {
        size_t n = 1;
        for (const char *c = s; *c; c++) {
            n += *c == ',';
        }
        e->fields = calloc(n, sizeof(*e->fields));
        if (e->fields == NULL) {
            row_encoder_destroy(&e);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
        char *p = s;
        for (size_t i = 0; i < n; i++) {
            char *comma = strchr(p, ',');
            size_t l = comma ? (size_t)(comma - p) : strlen(p);
            struct row_name nm = {p, l};
            const char *why = NULL;
            if (l == 0) {
                why = "an empty name";
            } else if (name_eq(&e->key, p, l)) {
                why = "the key field";
            }
            for (size_t j = 0; why == NULL && j < i; j++) {
                if (name_eq(&e->fields[j], p, l)) {
                    why = "a repeated name";
                }
            }
            if (why != NULL) {
                snprintf(err, errlen, "--fields '%s': field %zu is %s",
                         fields, i + 1, why);
                row_encoder_destroy(&e);
                return -1;
            }
            e->fields[i] = nm;
            p += l + 1;
        }
        e->nfields = n;
    }
    *out = e;
    return 0;
}

void row_encoder_destroy(struct row_encoder **ep)
{
    struct row_encoder *e = *ep;
    if (e == NULL) {
        return;
    }
    msgpack_sbuffer_destroy(&e->sbuf);
    buf_deinit(&e->json);
    free(e->plan.sel);
    schema_destroy(&e->schema);
    free(e->fields);
    free(e->strings);
    free(e);
    *ep = NULL;
}

/* ---- plans -------------------------------------------------------------- */

static long find_field(const struct input_row *row, const struct row_name *n)
{
    for (size_t i = 0; i < row->n; i++) {
        if (name_eq(n, row->fields[i].name, row->fields[i].name_len)) {
            return (long)i;
        }
    }
    return -1;
}

/* Computes where the encoder's fields are in row. 0, or -1 on ENOMEM. */
static int plan_compute(struct row_encoder *e, const struct input_row *row)
{
    struct row_plan *p = &e->plan;
    size_t need = e->fields ? e->nfields : row->n;
    if (need > p->cap) {
        size_t *ns = realloc(p->sel, need * sizeof(*ns));
        if (ns == NULL) {
            return -1;
        }
        p->sel = ns;
        p->cap = need;
    }
    p->layout = row->layout;
    p->key = find_field(row, &e->key);
    p->value = e->value_field.len ? find_field(row, &e->value_field) : -1;
    p->missing = NULL;
    p->nsel = 0;
    if (e->value_field.len) {
        return 0;
    }
    if (e->fields != NULL) {
        for (size_t i = 0; i < e->nfields; i++) {
            long idx = find_field(row, &e->fields[i]);
            if (idx < 0) {
                if (p->missing == NULL) {
                    p->missing = &e->fields[i];
                }
                continue;
            }
            p->sel[p->nsel++] = (size_t)idx;
        }
    } else {
        for (size_t i = 0; i < row->n; i++) {
            if ((long)i != p->key) {
                p->sel[p->nsel++] = i;
            }
        }
    }
    return 0;
}

/* ---- typing text -------------------------------------------------------- */

/*
 * The type of untyped text: INPUT_NIL (empty), INPUT_INT (*i set),
 * INPUT_FLOAT (*f set) or INPUT_STR.
 */
static enum input_kind text_type(const char *p, size_t len, int64_t *i,
                                 double *f)
{
    if (len == 0) {
        return INPUT_NIL;
    }
    if (len > ROW_NUMBER_MAX_TEXT) {
        return INPUT_STR;
    }
    size_t k = 0;
    bool neg = p[0] == '-';
    if (neg) {
        k = 1;
    }
    size_t digits0 = k;
    while (k < len && p[k] >= '0' && p[k] <= '9') {
        k++;
    }
    size_t ndigits = k - digits0;
    if (ndigits > 1 && p[digits0] == '0') {
        return INPUT_STR; /* a leading zero: "007", "00.5" stay text */
    }
    if (k == len && ndigits > 0 && !(neg && p[digits0] == '0')) {
        /* Canonical integer: accumulate, checking the int64 range. */
        uint64_t v = 0;
        uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
        bool fits = true;
        for (size_t j = digits0; j < len; j++) {
            unsigned d = (unsigned)(p[j] - '0');
            if (v > (limit - d) / 10) {
                fits = false;
                break;
            }
            v = v * 10 + d;
        }
        if (fits) {
            *i = neg ? (int64_t)(0 - v) : (int64_t)v;
            return INPUT_INT;
        }
    }
    /* A decimal number: [+-] digits [. digits] [e [+-] digits]. */
    size_t frac = 0;
    if (k < len && p[k] == '.') {
        k++;
        size_t f0 = k;
        while (k < len && p[k] >= '0' && p[k] <= '9') {
            k++;
        }
        frac = k - f0;
    }
    if (ndigits + frac == 0) {
        return INPUT_STR;
    }
    if (k < len && (p[k] == 'e' || p[k] == 'E')) {
        k++;
        if (k < len && (p[k] == '-' || p[k] == '+')) {
            k++;
        }
        size_t e0 = k;
        while (k < len && p[k] >= '0' && p[k] <= '9') {
            k++;
        }
        if (k == e0) {
            return INPUT_STR;
        }
    }
    if (k != len) {
        return INPUT_STR;
    }
    char tmp[ROW_NUMBER_MAX_TEXT + 1];
    memcpy(tmp, p, len);
    tmp[len] = '\0';
    double d = strtod(tmp, NULL);
    if (!isfinite(d)) {
        return INPUT_STR;
    }
    *f = d;
    return INPUT_FLOAT;
}

/* ---- schema ------------------------------------------------------------- */

/* Notes the type a value of field name was stored as. */
static void note_type(struct row_encoder *e, const char *name, size_t len,
                      enum input_kind kind)
{
    unsigned type = SCHEMA_STR;
    switch (kind) {
    case INPUT_NIL:
        type = SCHEMA_NIL;
        break;
    case INPUT_BOOL:
        type = SCHEMA_BOOL;
        break;
    case INPUT_INT:
        type = SCHEMA_INT;
        break;
    case INPUT_FLOAT:
        type = SCHEMA_FLOAT;
        break;
    case INPUT_STR:
    case INPUT_TEXT:
        type = SCHEMA_STR;
        break;
    case INPUT_ARRAY:
        type = SCHEMA_ARRAY;
        break;
    case INPUT_MAP:
        type = SCHEMA_MAP;
        break;
    }
    schema_note(e->schema, name, len, type);
}

static const char *const kind_names[] = {
    [INPUT_NIL] = "nil",     [INPUT_BOOL] = "bool",   [INPUT_INT] = "int",
    [INPUT_FLOAT] = "float", [INPUT_STR] = "str",     [INPUT_TEXT] = "text",
    [INPUT_ARRAY] = "array", [INPUT_MAP] = "map",
};

/* Appends s as a JSON string (quoted, escaped). */
static void json_append_string(struct buf *b, const char *s, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    buf_append(b, "\"", 1);
    size_t run = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\') {
            continue;
        }
        buf_append(b, s + run, i - run);
        run = i + 1;
        switch (c) {
        case '"':
            buf_append(b, "\\\"", 2);
            break;
        case '\\':
            buf_append(b, "\\\\", 2);
            break;
        case '\n':
            buf_append(b, "\\n", 2);
            break;
        case '\r':
            buf_append(b, "\\r", 2);
            break;
        case '\t':
            buf_append(b, "\\t", 2);
            break;
        default: {
            char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            buf_append(b, u, 6);
        }
        }
    }
    buf_append(b, s + run, len - run);
    buf_append(b, "\"", 1);
}

char *row_encoder_schema_json(const struct row_encoder *e)
{
    return schema_to_json(e->schema);
}

void row_encoder_merge_schema(struct row_encoder *e,
                              const struct row_encoder *from)
{
    schema_merge(e->schema, from->schema);
}

const struct schema *row_encoder_schema(const struct row_encoder *e)
{
    return e->schema;
}

/* ---- values ------------------------------------------------------------- */

/*
 * Formats a double as the shortest decimal text that reads back equal,
 * marked as a float (a ".0" is added to integral values).
 */
static size_t format_double(double d, char *out, size_t n)
{
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(out, n, "%.*g", prec, d);
        if (strtod(out, NULL) == d) {
            break;
        }
    }
    if (strpbrk(out, ".eEni") == NULL && (size_t)len + 2 < n) {
        memcpy(out + len, ".0", 3);
        len += 2;
    }
    return (size_t)len;
}

/* The type a value is stored as (text is typed). */
static enum input_kind stored_kind(const struct input_value *v, int64_t *i,
                                   double *f)
{
    if (v->kind == INPUT_TEXT) {
        return text_type(v->u.s.p, v->u.s.len, i, f);
    }
    return v->kind;
}

/* Packs v; returns the type it was stored as. */
static enum input_kind pack_value(msgpack_packer *pk,
                                  const struct input_value *v)
{
    int64_t i = 0;
    double f = 0;
    enum input_kind kind = stored_kind(v, &i, &f);
    switch (kind) {
    case INPUT_NIL:
        msgpack_pack_nil(pk);
        break;
    case INPUT_BOOL:
        if (v->u.b) {
            msgpack_pack_true(pk);
        } else {
            msgpack_pack_false(pk);
        }
        break;
    case INPUT_INT:
        msgpack_pack_int64(pk, v->kind == INPUT_TEXT ? i : v->u.i);
        break;
    case INPUT_FLOAT:
        msgpack_pack_double(pk, v->kind == INPUT_TEXT ? f : v->u.f);
        break;
    case INPUT_STR:
    case INPUT_TEXT:
        msgpack_pack_str_with_body(pk, v->u.s.p, v->u.s.len);
        break;
    case INPUT_ARRAY:
        msgpack_pack_array(pk, v->n);
        for (uint32_t k = 0; k < v->n; k++) {
            pack_value(pk, &v->u.items[k]);
        }
        break;
    case INPUT_MAP:
        msgpack_pack_map(pk, v->n);
        for (uint32_t k = 0; k < 2 * v->n; k++) {
            pack_value(pk, &v->u.items[k]);
        }
        break;
    }
    return kind;
}

/* Appends v as compact JSON. */
static void json_value(struct buf *b, const struct input_value *v)
{
    char num[40];
    switch (v->kind) {
    case INPUT_NIL:
        buf_append_str(b, "null");
        break;
    case INPUT_BOOL:
        buf_append_str(b, v->u.b ? "true" : "false");
        break;
    case INPUT_INT:
        buf_append_i64(b, (long long)v->u.i);
        break;
    case INPUT_FLOAT:
        buf_append(b, num, format_double(v->u.f, num, sizeof(num)));
        break;
    case INPUT_STR:
    case INPUT_TEXT:
        json_append_string(b, v->u.s.p, v->u.s.len);
        break;
    case INPUT_ARRAY:
        buf_append(b, "[", 1);
        for (uint32_t k = 0; k < v->n; k++) {
            if (k) {
                buf_append(b, ",", 1);
            }
            json_value(b, &v->u.items[k]);
        }
        buf_append(b, "]", 1);
        break;
    case INPUT_MAP:
        buf_append(b, "{", 1);
        for (uint32_t k = 0; k < v->n; k++) {
            if (k) {
                buf_append(b, ",", 1);
            }
            json_value(b, &v->u.items[2 * k]);
            buf_append(b, ":", 1);
            json_value(b, &v->u.items[2 * k + 1]);
        }
        buf_append(b, "}", 1);
        break;
    }
}

/* The key bytes of a field, or a reason in err. */
static enum row_status encode_key(struct row_encoder *e,
                                  const struct input_value *v,
                                  struct row_encoded *out, char *err,
                                  size_t errlen)
{
    switch (v->kind) {
    case INPUT_STR:
    case INPUT_TEXT:
        out->key = v->u.s.p;
        out->klen = v->u.s.len;
        break;
    case INPUT_INT:
        out->key = e->keybuf;
        out->klen = (size_t)snprintf(e->keybuf, sizeof(e->keybuf), "%" PRId64,
                                     v->u.i);
        break;
    default:
        snprintf(err, errlen, "key field '%.*s' is of type %s (a key must "
                 "be a string or an integer)", (int)e->key.len, e->key.p,
                 kind_names[v->kind]);
        return ROW_BAD;
    }
    if (out->klen == 0) {
        snprintf(err, errlen, "key field '%.*s' is empty", (int)e->key.len,
                 e->key.p);
        return ROW_BAD;
    }
    return ROW_OK;
}

enum row_status row_encoder_encode(struct row_encoder *e,
                                   const struct input_row *row,
                                   struct row_encoded *out, char *err,
                                   size_t errlen)
{
    struct row_plan *p = &e->plan;
    if (row->layout == 0 || row->layout != p->layout) {
        if (plan_compute(e, row) != 0) {
            snprintf(err, errlen, "out of memory");
            return ROW_NOMEM;
        }
    }
    if (p->key < 0) {
        snprintf(err, errlen, "no key field '%.*s'", (int)e->key.len,
                 e->key.p);
        return ROW_BAD;
    }
    enum row_status st = encode_key(e, &row->fields[p->key].value, out, err,
                                    errlen);
    if (st != ROW_OK) {
        return st;
    }
    if (e->value_field.len) {
        if (p->value < 0) {
            snprintf(err, errlen, "no field '%.*s'", (int)e->value_field.len,
                     e->value_field.p);
            return ROW_BAD;
        }
        const struct input_field *fld = &row->fields[p->value];
        const struct input_value *v = &fld->value;
        int64_t i;
        double f;
        note_type(e, fld->name, fld->name_len, stored_kind(v, &i, &f));
        if (v->kind == INPUT_STR || v->kind == INPUT_TEXT) {
            out->value = v->u.s.p;
            out->vlen = v->u.s.len;
            return ROW_OK;
        }
        e->json.len = 0;
        json_value(&e->json, v);
        if (buf_failed(&e->json)) {
            snprintf(err, errlen, "out of memory");
            return ROW_NOMEM;
        }
        out->value = e->json.data;
        out->vlen = e->json.len;
        return ROW_OK;
    }
    if (p->missing != NULL) {
        snprintf(err, errlen, "no field '%.*s'", (int)p->missing->len,
                 p->missing->p);
        return ROW_BAD;
    }
    msgpack_sbuffer_clear(&e->sbuf);
    e->pack_failed = false;
    msgpack_pack_map(&e->pk, (uint32_t)p->nsel);
    schema_row_begin(e->schema);
    for (size_t k = 0; k < p->nsel; k++) {
        const struct input_field *fld = &row->fields[p->sel[k]];
        msgpack_pack_str_with_body(&e->pk, fld->name, fld->name_len);
        note_type(e, fld->name, fld->name_len,
                  pack_value(&e->pk, &fld->value));
    }
    if (e->pack_failed) {
        snprintf(err, errlen, "out of memory");
        return ROW_NOMEM;
    }
    out->value = e->sbuf.data;
    out->vlen = e->sbuf.size;
    return ROW_OK;
}
