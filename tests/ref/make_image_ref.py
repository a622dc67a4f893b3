#!/usr/bin/env python3
"""Generate tests/ref/case_image.bin, the PyTorch reference for loom's image ops.

Run from anywhere:  /usr/bin/python3 tests/ref/make_image_ref.py
(Debian's python3 with torch; the file format is LMRF, written by tests/ref/lmrf.py and read by
tests/ref_io.c.)

A small chain that touches every image op, computed in float64 and stored as float32:

    x (2,3,8,8) -conv 3x3 s1 p1-> c1 (2,8,8,8) -groupnorm 4-> gn -silu-> a1
    temb (2,6) -matmul wt-> t1 -add_bias bt-> ss (2,16)
    scale_shift(a1, ss) -> sc (2,8,8,8) -conv 3x3 s2 p1-> c2 (2,12,4,4) -upsample2x-> up (2,12,8,8)
    concat(up, sc) -> cat (2,20,8,8) -conv 1x1 s1 p0, no bias-> c3 (2,16,8,8)
    -transpose_tokens-> tok (2,64,16) -matmul wqkv-> q0 -add_bias bqkv-> qkv (2,64,48)
    -attention_full H=2 hd=8-> att (2,64,16) -transpose back h=8-> img (2,16,8,8)
    -conv 3x3 s2 p0-> c4 (2,8,3,3)
    concat(avgpool(c4) (2,8), avgpool(img) (2,16)) -> out (2,24);  loss = mse(out, target)

Records: `config` (int32: B, Cin, H, W, G, heads, head_dim, temb_dim), the inputs `x`, `temb`,
`target`, the weights by name, `out.<node>` for every node above, `loss`, and `grad.<leaf>`
for x, temb and every weight. Weights and inputs are rounded to float32 before the float64
run, so a float32 implementation starts from exactly the stored values.
Deterministic: re-running rewrites a byte-identical file.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from lmrf import f32, write_lmrf

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "case_image.bin")

B, CIN, H, W = 2, 3, 8, 8
G, EPS = 4, 1e-5
HEADS, HD = 2, 8
TEMB = 6
SEED = 2024

# name, shape, scale (std of the normal draw), offset
LEAVES = [
    ("x", (B, CIN, H, W), 1.0, 0.0),
    ("temb", (B, TEMB), 1.0, 0.0),
    ("w1", (8, CIN, 3, 3), 1 / math.sqrt(CIN * 9), 0.0),
    ("b1", (8,), 0.1, 0.0),
    ("gn_w", (8,), 0.1, 1.0),
    ("gn_b", (8,), 0.1, 0.0),
    ("wt", (16, TEMB), 0.5 / math.sqrt(TEMB), 0.0),
    ("bt", (16,), 0.1, 0.0),
    ("w2", (12, 8, 3, 3), 1 / math.sqrt(8 * 9), 0.0),
    ("b2", (12,), 0.1, 0.0),
    ("w3", (16, 20, 1, 1), 1 / math.sqrt(20), 0.0),
    ("wqkv", (3 * HEADS * HD, 16), 1 / math.sqrt(16), 0.0),
    ("bqkv", (3 * HEADS * HD,), 0.1, 0.0),
    ("w4", (8, 16, 3, 3), 1 / math.sqrt(16 * 9), 0.0),
    ("b4", (8,), 0.1, 0.0),
]


def make_leaves():
    g = torch.Generator().manual_seed(SEED)
    p = {}
    for name, shape, scale, offset in LEAVES:
        v = offset + scale * torch.randn(shape, generator=g, dtype=torch.float64)
        p[name] = v.float().double().requires_grad_(True)  # exactly representable in f32
    target = torch.randn((B, 24), generator=g, dtype=torch.float64).float().double()
    return p, target


def attention_full(qkv, heads, hd):
    b, t, _ = qkv.shape
    q, k, v = qkv.split(heads * hd, dim=-1)
    q = q.reshape(b, t, heads, hd).transpose(1, 2)
    k = k.reshape(b, t, heads, hd).transpose(1, 2)
    v = v.reshape(b, t, heads, hd).transpose(1, 2)
    att = (q @ k.transpose(-1, -2) / math.sqrt(hd)).softmax(-1)
    return (att @ v).transpose(1, 2).reshape(b, t, heads * hd)


def forward(p, target):
    """Returns (loss, [(name, tensor)] for every node, in graph order)."""
    o = []

    def rec(name, t):
        o.append((name, t))
        return t

    c1 = rec("c1", F.conv2d(p["x"], p["w1"], p["b1"], stride=1, padding=1))
    gn = rec("gn", F.group_norm(c1, G, p["gn_w"], p["gn_b"], eps=EPS))
    a1 = rec("a1", F.silu(gn))
    t1 = rec("t1", p["temb"] @ p["wt"].T)
    ss = rec("ss", t1 + p["bt"])
    C = a1.shape[1]
    sc = rec("sc", a1 * (1 + ss[:, :C, None, None]) + ss[:, C:, None, None])
    c2 = rec("c2", F.conv2d(sc, p["w2"], p["b2"], stride=2, padding=1))
    up = rec("up", F.interpolate(c2, scale_factor=2, mode="nearest"))
    cat = rec("cat", torch.cat([up, sc], dim=1))
    c3 = rec("c3", F.conv2d(cat, p["w3"], None, stride=1, padding=0))
    tok = rec("tok", c3.flatten(2).transpose(1, 2))
    q0 = rec("q0", tok @ p["wqkv"].T)
    qkv = rec("qkv", q0 + p["bqkv"])
    att = rec("att", attention_full(qkv, HEADS, HD))
    img = rec("img", att.transpose(1, 2).reshape(att.shape[0], att.shape[2], H, att.shape[1] // H))
    c4 = rec("c4", F.conv2d(img, p["w4"], p["b4"], stride=2, padding=0))
    p1 = rec("p1", c4.mean(dim=(2, 3)))
    p2 = rec("p2", img.mean(dim=(2, 3)))
    out = rec("out", torch.cat([p1, p2], dim=1))
    loss = F.mse_loss(out, target)
    return loss, o


# ----------------------------------------------------------------------------
# independent checks

def check_ops():
    """The layouts loom assumes, against explicit loops: conv2d's stride/padding indexing,
    nearest upsampling, group statistics over (C/G, H, W), and the q|k|v head split."""
    g = torch.Generator().manual_seed(7)
    x = torch.randn(1, 2, 5, 6, generator=g, dtype=torch.float64)
    w = torch.randn(3, 2, 3, 3, generator=g, dtype=torch.float64)
    for stride, pad in ((1, 1), (2, 1), (2, 0), (1, 0)):
        got = F.conv2d(x, w, None, stride=stride, padding=pad)
        Ho, Wo = got.shape[2], got.shape[3]
        assert Ho == (5 + 2 * pad - 3) // stride + 1 and Wo == (6 + 2 * pad - 3) // stride + 1
        ref = torch.zeros_like(got)
        for co in range(3):
            for oh in range(Ho):
                for ow in range(Wo):
                    s = 0.0
                    for ci in range(2):
                        for ki in range(3):
                            for kj in range(3):
                                ih, iw = oh * stride - pad + ki, ow * stride - pad + kj
                                if 0 <= ih < 5 and 0 <= iw < 6:
                                    s += x[0, ci, ih, iw].item() * w[co, ci, ki, kj].item()
                    ref[0, co, oh, ow] = s
        err = (got - ref).abs().max().item()
        assert err < 1e-12, "conv2d s%d p%d mismatch %g" % (stride, pad, err)
    up = F.interpolate(x, scale_factor=2, mode="nearest")
    assert torch.equal(up[:, :, 1::2, 0::2], x) and torch.equal(up[:, :, 0::2, 1::2], x)
    xg = torch.randn(2, 6, 3, 3, generator=g, dtype=torch.float64)
    got = F.group_norm(xg, 3, eps=EPS)
    blk = xg.reshape(2, 3, -1)
    ref = ((blk - blk.mean(-1, keepdim=True)) / torch.sqrt(blk.var(-1, unbiased=False, keepdim=True) + EPS))
    err = (got - ref.reshape(xg.shape)).abs().max().item()
    assert err < 1e-12, "group_norm mismatch %g" % err
    qkv = torch.randn(1, 4, 3 * 2 * 3, generator=g, dtype=torch.float64)
    got = attention_full(qkv, 2, 3)
    ref = torch.zeros(1, 4, 6, dtype=torch.float64)
    for h in range(2):
        q = qkv[0, :, h * 3:(h + 1) * 3]
        k = qkv[0, :, 6 + h * 3:6 + (h + 1) * 3]
        v = qkv[0, :, 12 + h * 3:12 + (h + 1) * 3]
        ref[0, :, h * 3:(h + 1) * 3] = ((q @ k.T) / math.sqrt(3)).softmax(-1) @ v
    err = (got - ref).abs().max().item()
    assert err < 1e-12, "attention_full mismatch %g" % err
    print("check: conv2d (4 stride/padding cases), upsample, group_norm, attention_full vs loops")


def check_finite_diff(p, target, grads):
    probes = [("x", (1, 2, 0, 7)), ("temb", (0, 3)), ("w1", (5, 1, 2, 0)), ("b1", (3,)), ("gn_w", (6,)),
              ("gn_b", (1,)), ("wt", (9, 4)), ("bt", (2,)), ("w2", (11, 7, 0, 2)), ("b2", (4,)),
              ("w3", (13, 17, 0, 0)), ("wqkv", (40, 5)), ("wqkv", (3, 11)), ("bqkv", (20,)),
              ("w4", (2, 9, 1, 1)), ("b4", (7,))]
    h = 1e-5
    worst = 0.0
    for name, ix in probes:
        with torch.no_grad():
            w = p[name]
            old = w[ix].item()
            w[ix] = old + h
            lp = forward(p, target)[0].item()
            w[ix] = old - h
            lm = forward(p, target)[0].item()
            w[ix] = old
        fd = (lp - lm) / (2 * h)
        an = grads[name][ix].item()
        err = abs(fd - an)
        worst = max(worst, err / max(abs(an), 1e-8))
        assert err < 1e-9 + 1e-5 * abs(an), "finite diff mismatch %s%s: fd %g analytic %g" % (name, ix, fd, an)
    print("check: gradient vs central finite difference, %d elements, worst rel err %.3g" % (len(probes), worst))


def f32_diagnostic(p, target, records):
    """Not a check: the same chain in float32 torch against the float64 reference,
    max|a-b|/max|b| per record: what a float32 implementation can be expected to reach."""
    q = {n: v.detach().float().requires_grad_(True) for n, v in p.items()}
    loss, nodes = forward(q, target.float())
    loss.backward()
    ref = dict(records)
    worst = (0.0, "")
    for name, t in [("out." + n, t) for n, t in nodes] + [("grad." + n, v.grad) for n, v in q.items()]:
        b = torch.from_numpy(ref[name]).double()
        r = (t.detach().double() - b).abs().max().item() / max(b.abs().max().item(), 1e-12)
        worst = max(worst, (r, name))
    print("  f32-torch vs reference: worst max|a-b|/max|b| %.2e (%s)" % worst)


def main():
    torch.set_default_dtype(torch.float64)
    check_ops()
    p, target = make_leaves()
    loss, nodes = forward(p, target)
    loss.backward()
    grads = {n: v.grad.detach().clone() for n, v in p.items()}
    for v in p.values():
        v.grad = None
    check_finite_diff(p, target, grads)

    records = [("config", np.array([B, CIN, H, W, G, HEADS, HD, TEMB], dtype=np.int32))]
    for name, _, _, _ in LEAVES:
        records.append((name, f32(p[name])))
    records.append(("target", f32(target)))
    for name, t in nodes:
        records.append(("out." + name, f32(t)))
    records.append(("loss", np.array([loss.item()], dtype=np.float32)))
    for name, _, _, _ in LEAVES:
        records.append(("grad." + name, f32(grads[name])))
    f32_diagnostic(p, target, records)
    write_lmrf(OUT, records)
    print("loss %.6f; wrote %s (%d records, %d bytes)" % (loss.item(), OUT, len(records), os.path.getsize(OUT)))


if __name__ == "__main__":
    sys.exit(main())
