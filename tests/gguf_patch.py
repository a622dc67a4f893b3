#!/usr/bin/env python3
"""Patches a copy of a GGUF file in place, size unchanged, for the bad-input tests.

    gguf_patch.py IN OUT key NAME VALUE      a u32, i32 or f32 metadata value ('nan', 'inf' allowed)
    gguf_patch.py IN OUT fill TENSOR VALUE   every element of an F32 tensor

An independent reader of the format (GGUF v2/v3: header, metadata, tensor infos, aligned data),
so that the tests do not depend on loom's own writer to make damaged files."""
import struct
import sys

SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def skip_value(b, at, t):
    if t in SIZES:
        return at + SIZES[t]
    if t == 8:  # string
        n, = struct.unpack_from('<Q', b, at)
        return at + 8 + n
    if t == 9:  # array
        et, n = struct.unpack_from('<IQ', b, at)
        at += 12
        for _ in range(n):
            at = skip_value(b, at, et)
        return at
    raise SystemExit(f'gguf_patch: unknown value type {t}')


def parse(b):
    magic, ver, n_t, n_kv = struct.unpack_from('<4sIQQ', b, 0)
    assert magic == b'GGUF', 'not a GGUF file'
    at, kvs, align = 24, {}, 32
    for _ in range(n_kv):
        n, = struct.unpack_from('<Q', b, at)
        key = b[at + 8:at + 8 + n].decode()
        at += 8 + n
        t, = struct.unpack_from('<I', b, at)
        at += 4
        kvs[key] = (t, at)
        if key == 'general.alignment':
            align, = struct.unpack_from('<I', b, at)
        at = skip_value(b, at, t)
    tensors = {}
    for _ in range(n_t):
        n, = struct.unpack_from('<Q', b, at)
        name = b[at + 8:at + 8 + n].decode()
        at += 8 + n
        nd, = struct.unpack_from('<I', b, at)
        dims = struct.unpack_from(f'<{nd}Q', b, at + 4)
        at += 4 + 8 * nd
        t, off = struct.unpack_from('<IQ', b, at)
        at += 12
        tensors[name] = (t, dims, off)
    data = (at + align - 1) // align * align
    return kvs, tensors, data


def main():
    src, dst, what, name, value = sys.argv[1:6]
    b = bytearray(open(src, 'rb').read())
    kvs, tensors, data = parse(b)
    if what == 'key':
        t, at = kvs[name]
        fmt = {4: '<I', 5: '<i', 6: '<f'}[t]
        struct.pack_into(fmt, b, at, float(value) if t == 6 else int(value))
    else:
        t, dims, off = tensors[name]
        assert t == 0, 'fill needs an F32 tensor'
        n = 1
        for d in dims:
            n *= d
        struct.pack_into(f'<{n}f', b, data + off, *([float(value)] * n))
    open(dst, 'wb').write(b)


main()
