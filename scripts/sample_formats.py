"""Binary sample formats for gen_sample.py: msgpack streams and Avro object
container files, written with nothing but the standard library (no
msgpack or avro module is needed).

  msgpack  one map per row, packed back to back; the smallest encoding of
           each value (what msgpack-c's packer writes): nil, bool, int,
           float64, str, bin, array, map.
  avro     an Avro object container file: the header (magic, metadata
           with avro.schema and avro.codec, a 16-byte sync marker), then
           blocks of about 64 KiB of records, each followed by the sync
           marker. Codecs: null and deflate (raw deflate, zlib). The schema
           is inferred from the rows (see infer_schema).

The output depends only on the rows (and the seed of the sync marker), so
gen_sample.py stays deterministic. larder-load's readers are tested
against msgpack-c and libavro's own writers; loading these files with
larder-load (tests/integration/test_loader_formats_binary.py) checks this
module against them.
"""
import hashlib
import itertools
import json
import struct
import zlib

# ---------------------------------------------------------------------------
# msgpack
# ---------------------------------------------------------------------------


def _mp_len(out, n, fix_base, fix_max, codes):
    """Appends a length header: a fix type if n <= fix_max (fix_base | n),
    else the first of codes (8/16/32-bit lengths, None where the type has
    none) that fits."""
    if fix_base is not None and n <= fix_max:
        out.append(fix_base | n)
        return
    for code, fmt, limit in zip(codes, (">B", ">H", ">I"),
                                (0xFF, 0xFFFF, 0xFFFFFFFF)):
        if code is not None and n <= limit:
            out.append(code)
            out += struct.pack(fmt, n)
            return
    raise ValueError("msgpack: length %d too large" % n)


def _mp_pack(out, v):
    if v is None:
        out.append(0xC0)
    elif v is True:
        out.append(0xC3)
    elif v is False:
        out.append(0xC2)
    elif isinstance(v, int):
        if 0 <= v <= 0x7F:
            out.append(v)
        elif -32 <= v < 0:
            out.append(v & 0xFF)
        elif v > 0:
            for code, fmt, limit in ((0xCC, ">B", 0xFF), (0xCD, ">H", 0xFFFF),
                                     (0xCE, ">I", 0xFFFFFFFF),
                                     (0xCF, ">Q", 0xFFFFFFFFFFFFFFFF)):
                if v <= limit:
                    out.append(code)
                    out += struct.pack(fmt, v)
                    return
            raise ValueError("msgpack: integer %d too large" % v)
        else:
            for code, fmt, limit in ((0xD0, ">b", 0x80), (0xD1, ">h", 0x8000),
                                     (0xD2, ">i", 0x80000000),
                                     (0xD3, ">q", 0x8000000000000000)):
                if -v <= limit:
                    out.append(code)
                    out += struct.pack(fmt, v)
                    return
            raise ValueError("msgpack: integer %d too small" % v)
    elif isinstance(v, float):
        out.append(0xCB)
        out += struct.pack(">d", v)
    elif isinstance(v, str):
        b = v.encode("utf-8")
        _mp_len(out, len(b), 0xA0, 31, (0xD9, 0xDA, 0xDB))
        out += b
    elif isinstance(v, (bytes, bytearray)):
        _mp_len(out, len(v), None, 0, (0xC4, 0xC5, 0xC6))
        out += v
    elif isinstance(v, (list, tuple)):
        _mp_len(out, len(v), 0x90, 15, (None, 0xDC, 0xDD))
        for e in v:
            _mp_pack(out, e)
    elif isinstance(v, dict):
        _mp_len(out, len(v), 0x80, 15, (None, 0xDE, 0xDF))
        for k, e in v.items():
            _mp_pack(out, k)
            _mp_pack(out, e)
    else:
        raise TypeError("msgpack: cannot pack %r" % type(v))


def msgpack_pack(v):
    """The msgpack encoding of v (None, bool, int, float, str, bytes, list,
    dict)."""
    out = bytearray()
    _mp_pack(out, v)
    return bytes(out)


def write_msgpack(path, rows):
    """Writes each row (a dict) as one msgpack map; returns the rows."""
    n = 0
    with open(path, "wb") as f:
        buf = bytearray()
        for row in rows:
            _mp_pack(buf, row)
            n += 1
            if len(buf) >= 1 << 20:
                f.write(buf)
                buf = bytearray()
        f.write(buf)
    return n


# ---------------------------------------------------------------------------
# Avro
# ---------------------------------------------------------------------------

AVRO_BLOCK_BYTES = 64 << 10  # records per block: about this many bytes
_PRIMITIVES = {bool: "boolean", int: "long", float: "double", str: "string",
               bytes: "bytes"}


def _infer(v):
    """A type descriptor of one value: a primitive name, "null",
    ("array", elem) (elem None: not known yet) or ("record", {name: t})."""
    if v is None:
        return "null"
    for py, name in _PRIMITIVES.items():
        if type(v) is py:
            return name
    if isinstance(v, list):
        elem = None
        for e in v:
            elem = _merge(elem, _infer(e))
        return ("array", elem)
    if isinstance(v, dict):
        return ("record", {k: _infer(e) for k, e in v.items()})
    raise TypeError("avro: no type for %r" % type(v))


def _merge(a, b):
    """The type of values of both types a and b."""
    if a is None or a == b:
        return b
    if b is None:
        return a
    if (a, b) in (("long", "double"), ("double", "long")):
        return "double"
    if a == "null" or b == "null":
        other = b if a == "null" else a
        if isinstance(other, tuple) and other[0] == "nullable":
            return other
        return ("nullable", other)
    if isinstance(a, tuple) and a[0] == "nullable":
        return ("nullable", _merge(a[1], b))
    if isinstance(b, tuple) and b[0] == "nullable":
        return ("nullable", _merge(a, b[1]))
    if isinstance(a, tuple) and isinstance(b, tuple) and a[0] == b[0]:
        if a[0] == "array":
            return ("array", _merge(a[1], b[1]))
        if a[0] == "record" and list(a[1]) == list(b[1]):
            return ("record", {k: _merge(a[1][k], b[1][k]) for k in a[1]})
    raise TypeError("avro: values of types %r and %r in one field" % (a, b))


def _to_schema(t, name):
    """The Avro schema (JSON value) of a descriptor; records are named after
    the path to them (row, row_recs, ...)."""
    if t is None:
        return "string"  # only empty arrays seen: any item type will do
    if isinstance(t, str):
        return t
    if t[0] == "nullable":
        return ["null", _to_schema(t[1], name)]
    if t[0] == "array":
        return {"type": "array", "items": _to_schema(t[1], name + "_item")}
    return {"type": "record", "name": name,
            "fields": [{"name": k, "type": _to_schema(e, name + "_" + k)}
                       for k, e in t[1].items()]}


def infer_schema(rows, name="row"):
    """The Avro schema of records holding rows (dicts with the same keys in
    the same order): str → string, int → long, float → double (long and
    double mixed: double), bool → boolean, bytes → bytes, None with a type
    → ["null", type], list → array, dict → a nested record."""
    t = None
    for row in rows:
        t = _merge(t, _infer(row))
    if not isinstance(t, tuple) or t[0] != "record":
        raise TypeError("avro: rows must be dicts")
    return _to_schema(t, name)


def _zigzag(out, n):
    n = (n << 1) ^ (n >> 63)
    while n > 0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)


def _encoder(schema):
    """A function (out, value) appending value's binary encoding."""
    if isinstance(schema, list):
        branches = [_encoder(s) for s in schema]
        null_at = schema.index("null")
        other = 1 - null_at

        def union(out, v):
            if v is None:
                _zigzag(out, null_at)
            else:
                _zigzag(out, other)
                branches[other](out, v)
        return union
    if isinstance(schema, dict):
        kind = schema["type"]
        if kind == "array":
            item = _encoder(schema["items"])

            def array(out, v):
                if v:
                    _zigzag(out, len(v))
                    for e in v:
                        item(out, e)
                out.append(0)
            return array
        if kind == "record":
            fields = [(f["name"], _encoder(f["type"]))
                      for f in schema["fields"]]

            def record(out, v):
                for k, enc in fields:
                    enc(out, v[k])
            return record
        return _encoder(kind)
    if schema == "null":
        return lambda out, v: None
    if schema == "boolean":
        return lambda out, v: out.append(1 if v else 0)
    if schema == "long":
        return _zigzag
    if schema == "double":
        return lambda out, v: out.extend(struct.pack("<d", v))
    if schema == "string":
        def string(out, v):
            b = v.encode("utf-8")
            _zigzag(out, len(b))
            out += b
        return string
    if schema == "bytes":
        def raw(out, v):
            _zigzag(out, len(v))
            out += v
        return raw
    raise TypeError("avro: cannot encode schema %r" % (schema,))


def write_avro(path, rows, codec="deflate", name="row", seed=0,
               infer_rows=1000):
    """Writes rows (dicts) as an Avro object container file; the schema is
    inferred from the first infer_rows rows. Returns the rows written."""
    if codec not in ("null", "deflate"):
        raise ValueError("avro: codec %r (null or deflate)" % codec)
    rows = iter(rows)
    head = list(itertools.islice(rows, infer_rows))
    schema = infer_schema(head, name) if head else {
        "type": "record", "name": name, "fields": []}
    text = json.dumps(schema, separators=(",", ":")).encode("utf-8")
    sync = hashlib.md5(b"%d/" % seed + text).digest()
    encode = _encoder(schema)
    n = 0
    with open(path, "wb") as f:
        hdr = bytearray(b"Obj\x01")
        _zigzag(hdr, 2)
        for k, v in ((b"avro.schema", text), (b"avro.codec", codec.encode())):
            _zigzag(hdr, len(k))
            hdr += k
            _zigzag(hdr, len(v))
            hdr += v
        hdr.append(0)
        hdr += sync
        f.write(hdr)
        block, count = bytearray(), 0
        for row in itertools.chain(head, rows):
            encode(block, row)
            count += 1
            if len(block) >= AVRO_BLOCK_BYTES:
                _write_block(f, block, count, codec, sync)
                n += count
                block, count = bytearray(), 0
        if count:
            _write_block(f, block, count, codec, sync)
            n += count
    return n


def _write_block(f, data, count, codec, sync):
    if codec == "deflate":
        z = zlib.compressobj(6, zlib.DEFLATED, -15)
        data = z.compress(bytes(data)) + z.flush()
    out = bytearray()
    _zigzag(out, count)
    _zigzag(out, len(data))
    f.write(out)
    f.write(data)
    f.write(sync)
