/*
 * This file implements avro_decoder: the writer's schema, parsed by
 * libavro, is compiled into a tree of avdec_node (named types compiled
 * once, so a recursive schema becomes a cyclic tree), and records are
 * decoded by walking that tree over the bytes. Names (record fields, enum
 * symbols) are kept as ready-made STR values pointing into libavro's
 * schema, which the decoder holds until it is destroyed.
 *
 * Binary encoding (Avro specification): int and long are zigzag varints,
 * float and double little-endian IEEE 754, boolean one byte 0 or 1,
 * string and bytes a long length then the bytes, fixed its declared size
 * of bytes, enum and union a long index, arrays and maps a sequence of
 * blocks — a long count (negative: its absolute value, followed by a long
 * byte size of the block) then that many items — ended by a count of 0,
 * a record its fields in order.
 */
#include "avro_decoder.h"

#include <avro.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum avdec_type {
    AVDEC_NULL,
    AVDEC_BOOL,
    AVDEC_INT,
    AVDEC_LONG,
    AVDEC_FLOAT,
    AVDEC_DOUBLE,
    AVDEC_BYTES, /* string and bytes */
    AVDEC_FIXED,
    AVDEC_ENUM,
    AVDEC_ARRAY,
    AVDEC_MAP,
    AVDEC_RECORD,
    AVDEC_UNION,
};

struct avdec_node {
    enum avdec_type type;
    uint32_t n;                 /* RECORD fields, UNION branches, ENUM
                                   symbols, FIXED bytes */
    avro_schema_t schema;       /* borrowed; identifies named types */
    struct avdec_node **kids;   /* RECORD field types, UNION branches;
                                   ARRAY and MAP: kids[0], the items */
    struct input_value *names;  /* RECORD field names, ENUM symbols */
};

struct avdec {
    avro_schema_t schema;      /* owned: the names point into it */
    struct avdec_node *root;   /* a RECORD */
    struct avdec_node **nodes; /* every node, for destroy */
    size_t nnodes;
    size_t nodes_cap;
};

/* ---- compiling the schema ----------------------------------------------- */

static struct avdec_node *new_node(struct avdec *d, enum avdec_type type,
                                   avro_schema_t schema)
{
    if (d->nnodes == d->nodes_cap) {
        size_t cap = d->nodes_cap ? 2 * d->nodes_cap : 16;
        struct avdec_node **nn = realloc(d->nodes, cap * sizeof(*nn));
        if (nn == NULL) {
            return NULL;
        }
        d->nodes = nn;
        d->nodes_cap = cap;
    }
    struct avdec_node *n = calloc(1, sizeof(*n));
    if (n == NULL) {
        return NULL;
    }
    n->type = type;
    n->schema = schema;
    d->nodes[d->nnodes++] = n;
    return n;
}

static void set_name(struct input_value *v, const char *s)
{
    v->kind = INPUT_STR;
    v->n = 0;
    v->u.s.p = s;
    v->u.s.len = strlen(s);
}

/*
 * The node of schema s, compiled with its children; NULL with err on a
 * schema this decoder cannot use or out of memory.
 */
static struct avdec_node *compile(struct avdec *d, avro_schema_t s,
                                  char *err, size_t errlen)
{
    while (s != NULL && avro_typeof(s) == AVRO_LINK) {
        s = avro_schema_link_target(s);
    }
    if (s == NULL) {
        snprintf(err, errlen, "schema: a named type without a definition");
        return NULL;
    }
    enum avdec_type t;
    switch (avro_typeof(s)) {
    case AVRO_NULL:
        t = AVDEC_NULL;
        break;
    case AVRO_BOOLEAN:
        t = AVDEC_BOOL;
        break;
    case AVRO_INT32:
        t = AVDEC_INT;
        break;
    case AVRO_INT64:
        t = AVDEC_LONG;
        break;
    case AVRO_FLOAT:
        t = AVDEC_FLOAT;
        break;
    case AVRO_DOUBLE:
        t = AVDEC_DOUBLE;
        break;
    case AVRO_STRING:
    case AVRO_BYTES:
        t = AVDEC_BYTES;
        break;
    case AVRO_FIXED:
        t = AVDEC_FIXED;
        break;
    case AVRO_ENUM:
        t = AVDEC_ENUM;
        break;
    case AVRO_ARRAY:
        t = AVDEC_ARRAY;
        break;
    case AVRO_MAP:
        t = AVDEC_MAP;
        break;
    case AVRO_RECORD:
        t = AVDEC_RECORD;
        break;
    case AVRO_UNION:
        t = AVDEC_UNION;
        break;
    default:
        snprintf(err, errlen, "schema: unsupported type %d",
                 (int)avro_typeof(s));
        return NULL;
    }
    if (t == AVDEC_RECORD || t == AVDEC_ENUM || t == AVDEC_FIXED) {
        for (size_t i = 0; i < d->nnodes; i++) {
            if (d->nodes[i]->schema == s) {
                return d->nodes[i]; /* compiled already (or being so) */
            }
        }
    }
    struct avdec_node *n = new_node(d, t, s);
    if (n == NULL) {
        goto nomem;
    }
    size_t nkids = 0;
    switch (t) {
    case AVDEC_FIXED: {
        int64_t size = avro_schema_fixed_size(s);
        if (size < 0 || size > UINT32_MAX) {
            snprintf(err, errlen, "schema: fixed size %lld",
                     (long long)size);
            return NULL;
        }
        n->n = (uint32_t)size;
        return n;
    }
    case AVDEC_ENUM: {
        int count = avro_schema_enum_number_of_symbols(s);
        n->n = count > 0 ? (uint32_t)count : 0;
        n->names = calloc(n->n ? n->n : 1, sizeof(*n->names));
        if (n->names == NULL) {
            goto nomem;
        }
        for (uint32_t i = 0; i < n->n; i++) {
            const char *sym = avro_schema_enum_get(s, (int)i);
            set_name(&n->names[i], sym ? sym : "");
        }
        return n;
    }
    case AVDEC_ARRAY:
    case AVDEC_MAP:
        nkids = 1;
        break;
    case AVDEC_RECORD:
        nkids = avro_schema_record_size(s);
        break;
    case AVDEC_UNION:
        nkids = avro_schema_union_size(s);
        break;
    default:
        return n;
    }
    if (nkids > UINT32_MAX / 2) {
        snprintf(err, errlen, "schema: too many fields or branches");
        return NULL;
    }
    n->n = (uint32_t)nkids;
    n->kids = calloc(nkids ? nkids : 1, sizeof(*n->kids));
    if (n->kids == NULL) {
        goto nomem;
    }
    if (t == AVDEC_RECORD) {
        n->names = calloc(nkids ? nkids : 1, sizeof(*n->names));
        if (n->names == NULL) {
            goto nomem;
        }
    }
    for (size_t i = 0; i < nkids; i++) {
        avro_schema_t k;
        if (t == AVDEC_ARRAY) {
            k = avro_schema_array_items(s);
        } else if (t == AVDEC_MAP) {
            k = avro_schema_map_values(s);
        } else if (t == AVDEC_UNION) {
            k = avro_schema_union_branch(s, (int)i);
        } else {
            k = avro_schema_record_field_get_by_index(s, (int)i);
            const char *name = avro_schema_record_field_name(s, (int)i);
            set_name(&n->names[i], name ? name : "");
        }
        if ((n->kids[i] = compile(d, k, err, errlen)) == NULL) {
            return NULL;
        }
    }
    return n;

nomem:
    snprintf(err, errlen, "out of memory");
    return NULL;
}

int avdec_create(const char *json, size_t len, struct avdec **out,
                 char *err, size_t errlen)
{
    struct avdec *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (avro_schema_from_json_length(json, len, &d->schema) != 0) {
        snprintf(err, errlen, "invalid schema: %s", avro_strerror());
        d->schema = NULL;
        avdec_destroy(&d);
        return -1;
    }
    d->root = compile(d, d->schema, err, errlen);
    if (d->root == NULL) {
        avdec_destroy(&d);
        return -1;
    }
    if (d->root->type != AVDEC_RECORD) {
        snprintf(err, errlen, "the schema is a %s, not a record",
                 avro_schema_type_name(d->schema));
        avdec_destroy(&d);
        return -1;
    }
    *out = d;
    return 0;
}

void avdec_destroy(struct avdec **dp)
{
    struct avdec *d = *dp;
    if (d == NULL) {
        return;
    }
    for (size_t i = 0; i < d->nnodes; i++) {
        free(d->nodes[i]->kids);
        free(d->nodes[i]->names);
        free(d->nodes[i]);
    }
    free(d->nodes);
    if (d->schema != NULL) {
        avro_schema_decref(d->schema);
    }
    free(d);
    *dp = NULL;
}

size_t avdec_field_count(const struct avdec *d)
{
    return d->root->n;
}

void avdec_field_names(const struct avdec *d, struct input_field *fields)
{
    for (uint32_t i = 0; i < d->root->n; i++) {
        fields[i].name = d->root->names[i].u.s.p;
        fields[i].name_len = d->root->names[i].u.s.len;
    }
}

/* ---- decoding ----------------------------------------------------------- */

struct cursor {
    const uint8_t *p;
    const uint8_t *end;
    struct value_arena *arena;
    size_t budget; /* items arrays and maps may still take */
    unsigned depth;
    char *err;
    size_t errlen;
};

__attribute__((format(printf, 2, 3))) static int
fail(struct cursor *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return -1;
}

/* A zigzag varint of at most 10 bytes. */
static int read_long(struct cursor *c, int64_t *out)
{
    uint64_t v = 0;
    for (unsigned shift = 0; shift < 70; shift += 7) {
        if (c->p == c->end) {
            return fail(c, "truncated record");
        }
        uint8_t b = *c->p++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if ((b & 0x80) == 0) {
            *out = (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
            return 0;
        }
    }
    return fail(c, "varint longer than 10 bytes");
}

/* A length or count: a long in 0..max. */
static int read_size(struct cursor *c, const char *what, size_t max,
                     size_t *out)
{
    int64_t v = 0;
    if (read_long(c, &v) != 0) {
        return -1;
    }
    if (v < 0 || (uint64_t)v > max) {
        return fail(c, "%s %lld out of range (at most %zu)", what,
                    (long long)v, max);
    }
    *out = (size_t)v;
    return 0;
}

static int read_bytes(struct cursor *c, struct input_value *out)
{
    size_t len = 0;
    if (read_size(c, "string length", (size_t)(c->end - c->p), &len) != 0) {
        return -1;
    }
    out->kind = INPUT_STR;
    out->u.s.p = (const char *)c->p;
    out->u.s.len = len;
    c->p += len;
    return 0;
}

static uint64_t load_le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v |= (uint64_t)p[i] << (8 * i);
    }
    return v;
}

static int decode(struct cursor *c, const struct avdec_node *n,
                  struct input_value *out);

/*
 * The items of an array (pairs = false) or a map (pairs = true): blocks
 * of items until a count of 0. Items of several blocks end up in one run
 * of the arena (a later block copies the run further along).
 */
static int decode_items(struct cursor *c, const struct avdec_node *n,
                        bool pairs, struct input_value *out)
{
    struct input_value *items = NULL;
    size_t count = 0;
    size_t per = pairs ? 2 : 1;
    for (;;) {
        int64_t bc = 0;
        if (read_long(c, &bc) != 0) {
            return -1;
        }
        if (bc == 0) {
            break;
        }
        if (bc < 0) {
            int64_t bytes = 0;
            if (bc == INT64_MIN || read_long(c, &bytes) != 0 || bytes < 0) {
                return fail(c, "invalid %s block header",
                            pairs ? "map" : "array");
            }
            bc = -bc;
        }
        if ((uint64_t)bc > c->budget / per ||
            count + (size_t)bc > UINT32_MAX) {
            return fail(c, "%s block of %lld items is more than the record "
                        "can hold", pairs ? "map" : "array", (long long)bc);
        }
        c->budget -= (size_t)bc * per;
        struct input_value *run =
            value_arena_take(c->arena, (count + (size_t)bc) * per);
        if (run == NULL) {
            return fail(c, "out of memory");
        }
        if (count > 0) {
            memcpy(run, items, count * per * sizeof(*run));
        }
        items = run;
        for (size_t i = count; i < count + (size_t)bc; i++) {
            if (pairs) {
                if (read_bytes(c, &items[2 * i]) != 0 ||
                    decode(c, n->kids[0], &items[2 * i + 1]) != 0) {
                    return -1;
                }
            } else if (decode(c, n->kids[0], &items[i]) != 0) {
                return -1;
            }
        }
        count += (size_t)bc;
    }
    out->kind = pairs ? INPUT_MAP : INPUT_ARRAY;
    out->n = (uint32_t)count;
    out->u.items = items ? items : value_arena_take(c->arena, 0);
    if (out->u.items == NULL) {
        return fail(c, "out of memory");
    }
    return 0;
}

static int decode(struct cursor *c, const struct avdec_node *n,
                  struct input_value *out)
{
    int64_t v = 0;
    out->n = 0;
    switch (n->type) {
    case AVDEC_NULL:
        out->kind = INPUT_NIL;
        return 0;
    case AVDEC_BOOL:
        if (c->p == c->end) {
            return fail(c, "truncated record");
        }
        if (*c->p > 1) {
            return fail(c, "boolean byte 0x%02x", *c->p);
        }
        out->kind = INPUT_BOOL;
        out->u.b = *c->p++ == 1;
        return 0;
    case AVDEC_INT:
    case AVDEC_LONG:
        if (read_long(c, &v) != 0) {
            return -1;
        }
        if (n->type == AVDEC_INT && (v < INT32_MIN || v > INT32_MAX)) {
            return fail(c, "int %lld out of range", (long long)v);
        }
        out->kind = INPUT_INT;
        out->u.i = v;
        return 0;
    case AVDEC_FLOAT: {
        if (c->end - c->p < 4) {
            return fail(c, "truncated record");
        }
        uint32_t bits = (uint32_t)load_le(c->p, 4);
        float f;
        memcpy(&f, &bits, sizeof(f));
        c->p += 4;
        out->kind = INPUT_FLOAT;
        out->u.f = f;
        return 0;
    }
    case AVDEC_DOUBLE: {
        if (c->end - c->p < 8) {
            return fail(c, "truncated record");
        }
        uint64_t bits = load_le(c->p, 8);
        memcpy(&out->u.f, &bits, sizeof(out->u.f));
        c->p += 8;
        out->kind = INPUT_FLOAT;
        return 0;
    }
    case AVDEC_BYTES:
        return read_bytes(c, out);
    case AVDEC_FIXED:
        if ((size_t)(c->end - c->p) < n->n) {
            return fail(c, "truncated record");
        }
        out->kind = INPUT_STR;
        out->u.s.p = (const char *)c->p;
        out->u.s.len = n->n;
        c->p += n->n;
        return 0;
    case AVDEC_ENUM:
    case AVDEC_UNION:
        if (read_long(c, &v) != 0) {
            return -1;
        }
        if (v < 0 || v >= (int64_t)n->n) {
            return fail(c, "%s index %lld out of range (%u %s)",
                        n->type == AVDEC_ENUM ? "enum" : "union",
                        (long long)v, n->n,
                        n->type == AVDEC_ENUM ? "symbols" : "branches");
        }
        if (n->type == AVDEC_ENUM) {
            *out = n->names[v];
            return 0;
        }
        return decode(c, n->kids[v], out);
    default:
        break;
    }
    /* Containers: ARRAY, MAP, RECORD. */
    if (++c->depth > AVDEC_MAX_DEPTH) {
        return fail(c, "values nested deeper than %d levels",
                    AVDEC_MAX_DEPTH);
    }
    int rc;
    if (n->type == AVDEC_RECORD) {
        struct input_value *items = value_arena_take(c->arena, 2 * n->n);
        if (items == NULL) {
            return fail(c, "out of memory");
        }
        rc = 0;
        for (uint32_t i = 0; i < n->n && rc == 0; i++) {
            items[2 * i] = n->names[i];
            rc = decode(c, n->kids[i], &items[2 * i + 1]);
        }
        out->kind = INPUT_MAP;
        out->n = n->n;
        out->u.items = items;
    } else {
        rc = decode_items(c, n, n->type == AVDEC_MAP, out);
    }
    c->depth--;
    return rc;
}

int avdec_record(const struct avdec *d, const uint8_t **p,
                 const uint8_t *end, struct input_field *fields,
                 struct value_arena *arena, char *err, size_t errlen)
{
    struct cursor c = {
        .p = *p,
        .end = end,
        .arena = arena,
        .budget = (size_t)(end - *p) + AVDEC_FREE_VALUES,
        .depth = 0,
        .err = err,
        .errlen = errlen,
    };
    const struct avdec_node *root = d->root;
    for (uint32_t i = 0; i < root->n; i++) {
        if (decode(&c, root->kids[i], &fields[i].value) != 0) {
            return -1;
        }
    }
    *p = c.p;
    return 0;
}
