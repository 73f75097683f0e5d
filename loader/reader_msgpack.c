/*
 * This file implements the msgpack input format: a stream of msgpack
 * objects, one map per row, with no separator between them (what a
 * msgpack packer writes when it packs one map after another). The map's
 * keys, which must be strings, are the row's fields in the order they
 * appear; values map onto input values as nil → NIL, boolean → BOOL,
 * integers → INT, float 32 and 64 → FLOAT, str and bin → STR, array →
 * ARRAY, map → MAP (string keys only).
 *
 * The stream is parsed by msgpack-c's streaming unpacker, fed from a
 * byte_source (so a .msgpack.gz file is read as its decompressed stream).
 * An object that is not a map, a map with a non-string key or a repeated
 * field, an integer above the int64 range and an ext value make a bad row
 * and reading goes on with the next object. Bytes that are not msgpack, a
 * stream that ends inside an object, or an object longer than
 * --max-record-size make the file bad: a stream without separators gives
 * no way to find the next object. Offsets count bytes of the
 * (decompressed) stream.
 *
 * msgpack-c allocates room for all the items of an array or map as soon
 * as it has read the count, so five bytes claiming 2^32 - 1 items would
 * make it ask for 100 GB. A size guard therefore scans every byte before
 * the unpacker sees it, token by token (a header, then the payload of a
 * str, bin or ext), and stops the feed before a count or length that no
 * object within --max-record-size could hold: the unpacker never reads
 * it, and the file is bad.
 */
#include <errno.h>
#include <msgpack.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "byte_source.h"
#include "input_reader.h"
#include "value_arena.h"

/*
 * The unpacker's first buffer, and the room it makes before each read.
 * The unpacker replaces its buffer (malloc, free) again and again; below
 * glibc's mmap threshold (128 KiB) that does not make glibc raise the
 * threshold, which left the loader's peak RSS 12 MB higher.
 */
#define MSGPACK_READER_BUFFER (64u << 10)
#define MSGPACK_READER_CHUNK (32u << 10)

/* A field name, for finding repeated ones by sorting. */
struct name_ref {
    const char *p;
    size_t len;
};

/* The size guard's state: where it is in the token stream. */
struct size_guard {
    uint64_t skip;         /* payload bytes still to pass */
    uint8_t hdr[9];        /* a token header read in part */
    unsigned hdr_len;
    uint64_t hdr_off;      /* its stream offset */
    const char *bad_what;  /* NULL, or what the refused header counted */
    uint64_t bad_value;
    uint64_t bad_off;
};

struct msgpack_reader {
    struct byte_source *src;
    msgpack_unpacker up;
    bool up_ready;
    bool have_row;      /* the unpacker's zone holds the last object */
    bool eof;
    size_t max_record;
    uint64_t fed;       /* stream bytes given to the unpacker */
    uint64_t obj_start; /* stream offset of the next object */
    struct size_guard guard;
    struct input_field *fields;
    size_t fields_cap;
    struct name_ref *names; /* scratch for finding repeated names */
    size_t names_cap;
    struct value_arena arena;
    enum input_status failed; /* INPUT_ROW, or the error that ended it */
};

__attribute__((format(printf, 5, 6))) static enum input_status
stop(struct msgpack_reader *r, enum input_status st, char *err,
     size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    r->failed = st;
    return st;
}

static const char *type_name(msgpack_object_type t)
{
    switch (t) {
    case MSGPACK_OBJECT_NIL:
        return "nil";
    case MSGPACK_OBJECT_BOOLEAN:
        return "boolean";
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        return "integer";
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        return "float";
    case MSGPACK_OBJECT_STR:
        return "str";
    case MSGPACK_OBJECT_ARRAY:
        return "array";
    case MSGPACK_OBJECT_MAP:
        return "map";
    case MSGPACK_OBJECT_BIN:
        return "bin";
    case MSGPACK_OBJECT_EXT:
        return "ext";
    }
    return "?";
}

/* ---- the size guard ----------------------------------------------------- */

/* The bytes of a token header whose first byte is b (1..9). */
static unsigned header_size(uint8_t b)
{
    static const uint8_t sizes[32] = {
        /* c0 nil, c1 unused, c2 c3 bool */ 1, 1, 1, 1,
        /* c4-c6 bin 8/16/32 */ 2, 3, 5,
        /* c7-c9 ext 8/16/32 (length, type) */ 3, 4, 6,
        /* ca cb float 32/64 */ 5, 9,
        /* cc-cf uint 8-64 */ 2, 3, 5, 9,
        /* d0-d3 int 8-64 */ 2, 3, 5, 9,
        /* d4-d8 fixext 1-16 (type) */ 2, 2, 2, 2, 2,
        /* d9-db str 8/16/32 */ 2, 3, 5,
        /* dc dd array 16/32 */ 3, 5,
        /* de df map 16/32 */ 3, 5,
    };
    return b >= 0xC0 && b <= 0xDF ? sizes[b - 0xC0] : 1;
}

static uint64_t load_be(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/*
 * Checks a complete header: its payload length in *payload, or, for a
 * count or length beyond what max bytes can hold, what it declared
 * (g->bad_what, g->bad_value set).
 */
static bool header_ok(struct size_guard *g, size_t max, uint64_t *payload)
{
    const uint8_t *h = g->hdr;
    uint64_t len = 0, count = 0;
    const char *what = NULL;
    if (h[0] >= 0xA0 && h[0] <= 0xBF) {
        len = h[0] & 0x1F; /* fixstr */
    } else if (h[0] >= 0xD4 && h[0] <= 0xD8) {
        len = 1u << (h[0] - 0xD4); /* fixext */
    } else {
        switch (h[0]) {
        case 0xC4:
        case 0xC5:
        case 0xC6:
            len = load_be(h + 1, header_size(h[0]) - 1);
            what = "bytes (bin)";
            break;
        case 0xC7:
        case 0xC8:
        case 0xC9:
            len = load_be(h + 1, header_size(h[0]) - 2);
            what = "bytes (ext)";
            break;
        case 0xD9:
        case 0xDA:
        case 0xDB:
            len = load_be(h + 1, header_size(h[0]) - 1);
            what = "bytes (str)";
            break;
        case 0xDC:
        case 0xDD:
            count = load_be(h + 1, header_size(h[0]) - 1);
            what = "items (array)";
            break;
        case 0xDE:
        case 0xDF:
            count = load_be(h + 1, header_size(h[0]) - 1) * 2;
            what = "keys and values (map)";
            break;
        default:
            break;
        }
    }
    if (len > max || count > max) {
        g->bad_what = what;
        g->bad_value = len > count ? len : count;
        g->bad_off = g->hdr_off;
        return false;
    }
    *payload = len;
    return true;
}

/*
 * Scans n new stream bytes at offset off. Returns how many of them the
 * unpacker may have: n, or fewer when they complete a refused header (the
 * unpacker then stops just before its last byte).
 */
static size_t guard_scan(struct size_guard *g, const uint8_t *p, size_t n,
                         uint64_t off, size_t max)
{
    size_t i = 0;
    while (i < n) {
        if (g->skip > 0) {
            size_t k = g->skip < n - i ? (size_t)g->skip : n - i;
            g->skip -= k;
            i += k;
            continue;
        }
        if (g->hdr_len == 0) {
            uint8_t b = p[i];
            if (b < 0xC0 || b >= 0xE0) {
                /* One byte: fixint, fixmap, fixarray, fixstr (whose
                   length, at most 31, is the payload). */
                g->skip = b >= 0xA0 && b <= 0xBF ? b & 0x1F : 0;
                i++;
                continue;
            }
            unsigned hs = header_size(b);
            if (n - i >= hs) { /* the whole header is here */
                memcpy(g->hdr, p + i, hs);
                g->hdr_off = off + i;
                if (!header_ok(g, max, &g->skip)) {
                    return i + hs - 1;
                }
                i += hs;
                continue;
            }
            g->hdr_off = off + i;
        }
        g->hdr[g->hdr_len++] = p[i];
        if (g->hdr_len == header_size(g->hdr[0])) {
            g->hdr_len = 0;
            if (!header_ok(g, max, &g->skip)) {
                return i;
            }
        }
        i++;
    }
    return n;
}

/*
 * The bytes of a str or bin: msgpack-c gives an empty one a NULL pointer,
 * which input values do not allow.
 */
static const char *bytes_of(const char *p, uint32_t size)
{
    return size == 0 ? "" : p;
}

/* Results of convert(). */
enum { CONVERT_OK = 0, CONVERT_BAD = -1, CONVERT_NOMEM = -2 };

/*
 * Fills *out from o; nested values go into the arena. CONVERT_BAD with
 * err for a value the row model cannot hold.
 */
static int convert(struct msgpack_reader *r, const msgpack_object *o,
                   struct input_value *out, char *err, size_t errlen)
{
    out->n = 0;
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        out->kind = INPUT_NIL;
        return CONVERT_OK;
    case MSGPACK_OBJECT_BOOLEAN:
        out->kind = INPUT_BOOL;
        out->u.b = o->via.boolean;
        return CONVERT_OK;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        if (o->via.u64 > (uint64_t)INT64_MAX) {
            snprintf(err, errlen, "integer %llu outside the int64 range",
                     (unsigned long long)o->via.u64);
            return CONVERT_BAD;
        }
        out->kind = INPUT_INT;
        out->u.i = (int64_t)o->via.u64;
        return CONVERT_OK;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        out->kind = INPUT_INT;
        out->u.i = o->via.i64;
        return CONVERT_OK;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        out->kind = INPUT_FLOAT;
        out->u.f = o->via.f64;
        return CONVERT_OK;
    case MSGPACK_OBJECT_STR:
        out->kind = INPUT_STR;
        out->u.s.p = bytes_of(o->via.str.ptr, o->via.str.size);
        out->u.s.len = o->via.str.size;
        return CONVERT_OK;
    case MSGPACK_OBJECT_BIN:
        out->kind = INPUT_STR;
        out->u.s.p = bytes_of(o->via.bin.ptr, o->via.bin.size);
        out->u.s.len = o->via.bin.size;
        return CONVERT_OK;
    case MSGPACK_OBJECT_ARRAY: {
        uint32_t n = o->via.array.size;
        struct input_value *items = value_arena_take(&r->arena, n);
        if (items == NULL) {
            return CONVERT_NOMEM;
        }
        for (uint32_t i = 0; i < n; i++) {
            int rc = convert(r, &o->via.array.ptr[i], &items[i], err, errlen);
            if (rc != CONVERT_OK) {
                return rc;
            }
        }
        out->kind = INPUT_ARRAY;
        out->n = n;
        out->u.items = items;
        return CONVERT_OK;
    }
    case MSGPACK_OBJECT_MAP: {
        uint32_t n = o->via.map.size;
        struct input_value *items = value_arena_take(&r->arena, 2 * (size_t)n);
        if (items == NULL) {
            return CONVERT_NOMEM;
        }
        for (uint32_t i = 0; i < n; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            if (kv->key.type != MSGPACK_OBJECT_STR) {
                snprintf(err, errlen, "a nested map has a %s key (keys must "
                         "be strings)", type_name(kv->key.type));
                return CONVERT_BAD;
            }
            int rc = convert(r, &kv->key, &items[2 * i], err, errlen);
            if (rc == CONVERT_OK) {
                rc = convert(r, &kv->val, &items[2 * i + 1], err, errlen);
            }
            if (rc != CONVERT_OK) {
                return rc;
            }
        }
        out->kind = INPUT_MAP;
        out->n = n;
        out->u.items = items;
        return CONVERT_OK;
    }
    case MSGPACK_OBJECT_EXT:
        snprintf(err, errlen, "an ext value (type %d) has no meaning here",
                 o->via.ext.type);
        return CONVERT_BAD;
    }
    snprintf(err, errlen, "unknown msgpack type %d", (int)o->type);
    return CONVERT_BAD;
}

static int cmp_name(const void *a, const void *b)
{
    const struct name_ref *x = a;
    const struct name_ref *y = b;
    if (x->len != y->len) {
        return x->len < y->len ? -1 : 1;
    }
    return memcmp(x->p, y->p, x->len);
}

/*
 * A name that two of the n fields have, in *dup; 1 if there is one, 0 if
 * not, -1 if out of memory. Small rows compare every pair; wider ones sort
 * a copy of the names.
 */
static int repeated_field(struct msgpack_reader *r, size_t n,
                          struct name_ref *dup)
{
    const struct input_field *f = r->fields;
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            for (size_t j = 0; j < i; j++) {
                if (f[i].name_len == f[j].name_len &&
                    memcmp(f[i].name, f[j].name, f[i].name_len) == 0) {
                    *dup = (struct name_ref){f[i].name, f[i].name_len};
                    return 1;
                }
            }
        }
        return 0;
    }
    if (n > r->names_cap) {
        struct name_ref *nn = realloc(r->names, r->fields_cap * sizeof(*nn));
        if (nn == NULL) {
            return -1;
        }
        r->names = nn;
        r->names_cap = r->fields_cap;
    }
    for (size_t i = 0; i < n; i++) {
        r->names[i] = (struct name_ref){f[i].name, f[i].name_len};
    }
    qsort(r->names, n, sizeof(*r->names), cmp_name);
    for (size_t i = 1; i < n; i++) {
        if (cmp_name(&r->names[i - 1], &r->names[i]) == 0) {
            *dup = r->names[i];
            return 1;
        }
    }
    return 0;
}

/* Turns a top-level object into a row, or says why it is a bad row. */
static enum input_status make_row(struct msgpack_reader *r,
                                  const msgpack_object *o,
                                  struct input_row *row, char *err,
                                  size_t errlen)
{
    if (o->type != MSGPACK_OBJECT_MAP) {
        snprintf(err, errlen, "not a map but a msgpack %s",
                 type_name(o->type));
        return INPUT_BAD_ROW;
    }
    size_t n = o->via.map.size;
    if (n > r->fields_cap) {
        size_t cap = r->fields_cap ? r->fields_cap : 16;
        while (cap < n) {
            cap *= 2;
        }
        struct input_field *nf = realloc(r->fields, cap * sizeof(*nf));
        if (nf == NULL) {
            return stop(r, INPUT_IO, err, errlen, "out of memory");
        }
        r->fields = nf;
        r->fields_cap = cap;
    }
    for (size_t i = 0; i < n; i++) {
        const msgpack_object_kv *kv = &o->via.map.ptr[i];
        if (kv->key.type != MSGPACK_OBJECT_STR) {
            snprintf(err, errlen, "key %zu of the map is not a string but "
                     "a msgpack %s", i + 1, type_name(kv->key.type));
            return INPUT_BAD_ROW;
        }
        r->fields[i].name = bytes_of(kv->key.via.str.ptr,
                                     kv->key.via.str.size);
        r->fields[i].name_len = kv->key.via.str.size;
        int rc = convert(r, &kv->val, &r->fields[i].value, err, errlen);
        if (rc == CONVERT_NOMEM) {
            return stop(r, INPUT_IO, err, errlen, "out of memory");
        }
        if (rc == CONVERT_BAD) {
            char why[256];
            snprintf(why, sizeof(why), "%s", err);
            snprintf(err, errlen, "field '%.*s': %s",
                     (int)r->fields[i].name_len, r->fields[i].name, why);
            return INPUT_BAD_ROW;
        }
    }
    struct name_ref dup;
    int rep = repeated_field(r, n, &dup);
    if (rep < 0) {
        return stop(r, INPUT_IO, err, errlen, "out of memory");
    }
    if (rep > 0) {
        snprintf(err, errlen, "field '%.*s' repeated", (int)dup.len, dup.p);
        return INPUT_BAD_ROW;
    }
    row->n = n;
    row->fields = r->fields;
    row->layout = 0;
    return INPUT_ROW;
}

static void msgpack_close(void *state)
{
    struct msgpack_reader *r = state;
    if (r == NULL) {
        return;
    }
    if (r->up_ready) {
        msgpack_unpacker_destroy(&r->up);
    }
    byte_source_close(r->src);
    free(r->fields);
    free(r->names);
    value_arena_deinit(&r->arena);
    free(r);
}

static enum input_status msgpack_open(const char *path,
                                      const struct input_reader_options *o,
                                      void **state, char *err, size_t errlen)
{
    struct msgpack_reader *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        snprintf(err, errlen, "out of memory");
        return INPUT_IO;
    }
    if (byte_source_open(path, &r->src, err, errlen) != 0) {
        int e = errno;
        free(r);
        return e == ENOMEM ? INPUT_IO : INPUT_NOT_FOUND;
    }
    if (!msgpack_unpacker_init(&r->up, MSGPACK_READER_BUFFER)) {
        msgpack_close(r);
        snprintf(err, errlen, "out of memory");
        return INPUT_IO;
    }
    r->up_ready = true;
    r->max_record = o->max_record;
    r->failed = INPUT_ROW;
    *state = r;
    return INPUT_ROW;
}

/* Bytes given to the unpacker that it has not parsed yet. */
static size_t unparsed(const msgpack_unpacker *up)
{
    return up->used - up->off; /* the fields msgpack_unpacker_message_size
                                  reads too */
}

/*
 * An object longer than the limit ends the file, whether or not it has
 * been read whole (the stream cannot be skipped without parsing it).
 */
static enum input_status too_long(struct msgpack_reader *r, uint64_t start,
                                  char *err, size_t errlen)
{
    return stop(r, INPUT_BAD_FILE, err, errlen, "the object at byte %llu is "
                "longer than the limit of %zu bytes (--max-record-size)",
                (unsigned long long)start, r->max_record);
}

static enum input_status msgpack_next(void *state, struct input_row *row,
                                      struct input_pos *pos, char *err,
                                      size_t errlen)
{
    struct msgpack_reader *r = state;
    if (r->failed != INPUT_ROW) {
        snprintf(err, errlen, "reading stopped at an earlier error");
        return r->failed;
    }
    if (r->have_row && r->up.z != NULL) {
        /* The last row's objects are dead: free them, with any input
           buffer the unpacker has replaced meanwhile (it keeps such a
           buffer in the zone while objects may point into it). msgpack-c
           creates the zone with the first object that needs it: a scalar
           row has none. */
        msgpack_unpacker_reset_zone(&r->up);
    }
    r->have_row = false;
    for (;;) {
        int ret = msgpack_unpacker_execute(&r->up);
        if (ret > 0) {
            msgpack_object obj = msgpack_unpacker_data(&r->up);
            msgpack_unpacker_reset(&r->up);
            r->have_row = true;
            uint64_t start = r->obj_start;
            r->obj_start = r->fed - unparsed(&r->up);
            if (r->obj_start - start > r->max_record) {
                return too_long(r, start, err, errlen);
            }
            pos->line = 0;
            pos->offset = start;
            value_arena_reset(&r->arena);
            return make_row(r, &obj, row, err, errlen);
        }
        if (ret < 0) {
            return stop(r, INPUT_BAD_FILE, err, errlen, "%s in the object at "
                        "byte %llu",
                        ret == MSGPACK_UNPACK_NOMEM_ERROR
                            ? "out of memory, or values nested deeper "
                              "than msgpack-c's 32 levels,"
                            : "invalid msgpack data",
                        (unsigned long long)r->obj_start);
        }
        uint64_t pending = r->fed - r->obj_start;
        if (r->eof) {
            if (pending > 0) {
                return stop(r, INPUT_BAD_FILE, err, errlen, "truncated: the "
                            "file ends inside the object at byte %llu (%llu "
                            "bytes of it)", (unsigned long long)r->obj_start,
                            (unsigned long long)pending);
            }
            return INPUT_EOF;
        }
        if (pending > r->max_record) {
            return too_long(r, r->obj_start, err, errlen);
        }
        if (r->guard.bad_what != NULL) {
            return stop(r, INPUT_BAD_FILE, err, errlen, "the object at byte "
                        "%llu has a header at byte %llu declaring %llu %s, "
                        "more than --max-record-size (%zu bytes) allows",
                        (unsigned long long)r->obj_start,
                        (unsigned long long)r->guard.bad_off,
                        (unsigned long long)r->guard.bad_value,
                        r->guard.bad_what, r->max_record);
        }
        if (!msgpack_unpacker_reserve_buffer(&r->up, MSGPACK_READER_CHUNK)) {
            return stop(r, INPUT_IO, err, errlen, "out of memory");
        }
        char *buf = msgpack_unpacker_buffer(&r->up);
        size_t room = msgpack_unpacker_buffer_capacity(&r->up);
        ssize_t got = byte_source_read(r->src, buf, room, err, errlen);
        if (got < 0) {
            r->failed = errno == EBADMSG ? INPUT_BAD_FILE : INPUT_IO;
            return r->failed;
        }
        if (got == 0) {
            r->eof = true;
            continue;
        }
        size_t safe = guard_scan(&r->guard, (const uint8_t *)buf,
                                 (size_t)got, r->fed, r->max_record);
        msgpack_unpacker_buffer_consumed(&r->up, safe);
        r->fed += safe;
    }
}

const struct input_format input_format_msgpack = {
    .name = "msgpack",
    .open = msgpack_open,
    .next = msgpack_next,
    .close = msgpack_close,
};
