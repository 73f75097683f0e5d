/*
 * This file implements the value formatting of the admin CLI declared in
 * value_format.h: msgpack rows to JSON (with msgpack-c's unpacker), text
 * quoting, and base64.
 */
#include "value_format.h"

#include <msgpack.h>
#include <string.h>

/* Reads a big-endian unsigned integer of `width` bytes. */
static uint64_t be(const unsigned char *p, size_t width)
{
    uint64_t v = 0;
    for (size_t i = 0; i < width; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

/*
 * True if p[0, n) is exactly one well-formed msgpack object whose every
 * announced element count is backed by bytes (each element takes at least
 * one). Run before msgpack-c's unpacker, which allocates for the counts a
 * header claims: a 5-byte value claiming 4 billion map entries is refused
 * here instead of asking for 128 GB.
 */
static bool msgpack_plausible(const unsigned char *p, size_t n)
{
    size_t pos = 0;
    uint64_t pending = 1; /* objects still to read */
    while (pending > 0) {
        if (pos >= n) {
            return false;
        }
        unsigned char c = p[pos];
        uint64_t head = 1;     /* header bytes, type byte included */
        uint64_t payload = 0;  /* bytes after the header */
        uint64_t children = 0; /* objects the header announces */
        size_t w = 0;          /* width of a length field */
        if (c <= 0x7f || c >= 0xe0 || c == 0xc0 || c == 0xc2 || c == 0xc3) {
            head = 1;
        } else if (c <= 0x8f) {
            children = 2u * (c & 0x0f);
        } else if (c <= 0x9f) {
            children = c & 0x0f;
        } else if (c <= 0xbf) {
            payload = c & 0x1f;
        } else if (c >= 0xc4 && c <= 0xc6) { /* bin 8/16/32 */
            w = (size_t)1 << (c - 0xc4);
        } else if (c >= 0xc7 && c <= 0xc9) { /* ext 8/16/32 */
            w = (size_t)1 << (c - 0xc7);
        } else if (c == 0xca || c == 0xcb) {
            payload = c == 0xca ? 4 : 8;
        } else if (c >= 0xcc && c <= 0xd3) { /* (u)int 8..64 */
            payload = (uint64_t)1 << ((c - 0xcc) & 3);
        } else if (c >= 0xd4 && c <= 0xd8) { /* fixext 1..16 */
            payload = 1 + ((uint64_t)1 << (c - 0xd4));
        } else if (c >= 0xd9 && c <= 0xdb) { /* str 8/16/32 */
            w = (size_t)1 << (c - 0xd9);
        } else if (c == 0xdc || c == 0xdd || c == 0xde || c == 0xdf) {
            w = (c == 0xdc || c == 0xde) ? 2 : 4;
        } else {
            return false; /* 0xc1: never used */
        }
        if (w > 0) {
            if (n - pos < 1 + w) {
                return false;
            }
            uint64_t len = be(p + pos + 1, w);
            head = 1 + w;
            if (c >= 0xdc) {
                children = c >= 0xde ? 2 * len : len;
            } else {
                payload = len + (c >= 0xc7 && c <= 0xc9 ? 1 : 0);
            }
        }
        if (head + payload > n - pos) {
            return false;
        }
        pos += head + payload;
        pending = pending - 1 + children;
        if (pending > n - pos) {
            return false;
        }
    }
    return pos == n;
}

/*
 * Unpacks v[0, n) as exactly one msgpack map into *u (the caller destroys
 * u in every case). True if it is one.
 */
static bool unpack_row(const char *v, size_t n, msgpack_unpacked *u)
{
    msgpack_unpacked_init(u);
    if (n == 0) {
        return false;
    }
    unsigned char c = (unsigned char)v[0];
    /* fixmap, map16, map32: checked first so plain text costs nothing. */
    if (!((c >= 0x80 && c <= 0x8f) || c == 0xde || c == 0xdf)) {
        return false;
    }
    if (!msgpack_plausible((const unsigned char *)v, n)) {
        return false;
    }
    size_t off = 0;
    msgpack_unpack_return rc = msgpack_unpack_next(u, v, n, &off);
    return rc == MSGPACK_UNPACK_SUCCESS && off == n &&
           u->data.type == MSGPACK_OBJECT_MAP;
}

static bool is_utf8(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        size_t len = jw_utf8_seq(u + i, n - i);
        if (len == 0) {
            return false;
        }
        i += len;
    }
    return true;
}

enum value_kind value_classify(const char *v, size_t n)
{
    msgpack_unpacked u;
    bool row = unpack_row(v, n, &u);
    msgpack_unpacked_destroy(&u);
    if (row) {
        return VALUE_ROW;
    }
    return is_utf8(v, n) ? VALUE_TEXT : VALUE_BINARY;
}

void value_append_base64(struct buf *out, const char *s, size_t n)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t x = (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8 | u[i + 2];
        char q[4] = {digits[x >> 18], digits[(x >> 12) & 63],
                     digits[(x >> 6) & 63], digits[x & 63]};
        buf_append(out, q, 4);
    }
    if (n - i == 1) {
        uint32_t x = (uint32_t)u[i] << 16;
        char q[4] = {digits[x >> 18], digits[(x >> 12) & 63], '=', '='};
        buf_append(out, q, 4);
    } else if (n - i == 2) {
        uint32_t x = (uint32_t)u[i] << 16 | (uint32_t)u[i + 1] << 8;
        char q[4] = {digits[x >> 18], digits[(x >> 12) & 63],
                     digits[(x >> 6) & 63], '='};
        buf_append(out, q, 4);
    }
}

/* Writes s[0, n) as a base64 JSON string. */
static void write_base64(struct json_writer *w, const char *s, size_t n)
{
    struct buf b = {0};
    value_append_base64(&b, s, n);
    jw_string(w, b.data != NULL ? b.data : "", b.len);
    buf_deinit(&b);
}

static void write_object(struct json_writer *w, const msgpack_object *o);

/* Writes a map key: strings as they are, anything else as its JSON text. */
static void write_key(struct json_writer *w, const msgpack_object *k)
{
    if (k->type == MSGPACK_OBJECT_STR) {
        jw_key(w, k->via.str.ptr, k->via.str.size);
        return;
    }
    struct buf text = {0};
    struct json_writer inner;
    jw_init(&inner, &text);
    write_object(&inner, k);
    jw_key(w, text.data != NULL ? text.data : "", text.len);
    buf_deinit(&text);
}

static void write_object(struct json_writer *w, const msgpack_object *o)
{
    switch (o->type) {
    case MSGPACK_OBJECT_NIL:
        jw_null(w);
        return;
    case MSGPACK_OBJECT_BOOLEAN:
        jw_bool(w, o->via.boolean);
        return;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        jw_u64(w, o->via.u64);
        return;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        jw_i64(w, o->via.i64);
        return;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        jw_double(w, o->via.f64);
        return;
    case MSGPACK_OBJECT_STR:
        jw_string(w, o->via.str.ptr, o->via.str.size);
        return;
    case MSGPACK_OBJECT_BIN:
        write_base64(w, o->via.bin.ptr, o->via.bin.size);
        return;
    case MSGPACK_OBJECT_EXT:
        write_base64(w, o->via.ext.ptr, o->via.ext.size);
        return;
    case MSGPACK_OBJECT_ARRAY:
        jw_array_begin(w);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            write_object(w, &o->via.array.ptr[i]);
        }
        jw_array_end(w);
        return;
    case MSGPACK_OBJECT_MAP:
        jw_object_begin(w);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            write_key(w, &o->via.map.ptr[i].key);
            write_object(w, &o->via.map.ptr[i].val);
        }
        jw_object_end(w);
        return;
    }
    jw_null(w);
}

enum value_kind value_write_json(struct json_writer *w, const char *v,
                                 size_t n)
{
    msgpack_unpacked u;
    enum value_kind kind;
    if (unpack_row(v, n, &u)) {
        write_object(w, &u.data);
        kind = VALUE_ROW;
    } else if (is_utf8(v, n)) {
        jw_string(w, v, n);
        kind = VALUE_TEXT;
    } else {
        write_base64(w, v, n);
        kind = VALUE_BINARY;
    }
    msgpack_unpacked_destroy(&u);
    return kind;
}

void value_append_human(struct buf *out, const char *v, size_t n)
{
    msgpack_unpacked u;
    if (unpack_row(v, n, &u)) {
        struct json_writer w;
        jw_init(&w, out);
        write_object(&w, &u.data);
    } else {
        value_append_text(out, v, n);
    }
    msgpack_unpacked_destroy(&u);
}

/* True if s[0, n) can be printed without quotes (see value_append_text). */
static bool plain_text(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    if (n == 0 || u[0] == ' ' || u[n - 1] == ' ' || u[0] == '"') {
        return false;
    }
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x20 || u[i] == 0x7f) {
            return false;
        }
        size_t len = jw_utf8_seq(u + i, n - i);
        if (len == 0) {
            return false;
        }
        i += len;
    }
    return true;
}

void value_append_text(struct buf *out, const char *s, size_t n)
{
    if (plain_text(s, n)) {
        buf_append(out, s, n);
        return;
    }
    const unsigned char *u = (const unsigned char *)s;
    buf_append(out, "\"", 1);
    size_t i = 0;
    while (i < n) {
        unsigned char c = u[i];
        size_t len;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            buf_append(out, esc, 2);
            i++;
        } else if (c == '\n') {
            buf_append(out, "\\n", 2);
            i++;
        } else if (c == '\r') {
            buf_append(out, "\\r", 2);
            i++;
        } else if (c == '\t') {
            buf_append(out, "\\t", 2);
            i++;
        } else if (c < 0x20 || c == 0x7f) {
            buf_printf(out, "\\x%02x", c);
            i++;
        } else if ((len = jw_utf8_seq(u + i, n - i)) == 0) {
            buf_printf(out, "\\x%02x", c);
            i++;
        } else {
            buf_append(out, s + i, len);
            i += len;
        }
    }
    buf_append(out, "\"", 1);
}
