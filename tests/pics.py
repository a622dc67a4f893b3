"""Input files of the image CLI tests (train_image, imagine, eval_image), written with the
standard library alone: grey PNGs in labelled folders, and a GGUF that is a text model.

The scripts import it in programs run by pics_py (tests/lib.sh)."""
import os
import random
import struct
import zlib


def png(path, w, h, rows, ctype=0):
    """An 8-bit PNG of colour type ctype (0: grey) from rows of byte values."""
    raw = b"".join(b"\0" + bytes(r) for r in rows)
    def chunk(t, d): return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xffffffff)
    with open(path, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, ctype, 0, 0, 0))
                + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


# 8x8 patterns, one a label
BARS = lambda x, y: 255 if x % 4 < 2 else 0
RINGS = lambda x, y: 255 if (x - 3.5) ** 2 + (y - 3.5) ** 2 < 9 else 0
CORNER = lambda x, y: 255 if x + y < 7 else 0


def pattern_folder(root, patterns, n=12, seed=5):
    """root/LABEL/NN.png: n 8x8 grey images of each label's pattern (LABEL: pattern, in order)
    with a little noise, drawn from random.seed(seed)."""
    random.seed(seed)
    for name, f in patterns.items():
        os.makedirs(os.path.join(root, name))
        for i in range(n):
            rows = [[max(0, min(255, f(x, y) + random.randint(-20, 20))) for x in range(8)] for y in range(8)]
            png(os.path.join(root, name, "%02d.png" % i), 8, 8, rows)


def flat_folder(root, labels, n=12):
    """root/LABEL/NN.png: n flat 8x8 grey images a label, image i of level 10 i."""
    for d in labels:
        os.makedirs(os.path.join(root, d))
        for i in range(n):
            png(os.path.join(root, d, "%02d.png" % i), 8, 8, [[i * 10] * 8 for _ in range(8)])


def text_gguf(path):
    """A weightless GGUF v3 text model: architecture llama, a gpt2 tokenizer, no tensors."""
    def s(b): return struct.pack("<Q", len(b)) + b
    kv = [(b"general.architecture", b"llama"), (b"tokenizer.ggml.model", b"gpt2")]
    with open(path, "wb") as f:
        f.write(b"GGUF" + struct.pack("<IQQ", 3, 0, len(kv)))
        for k, v in kv:
            f.write(s(k) + struct.pack("<I", 8) + s(v))
