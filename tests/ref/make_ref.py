#!/usr/bin/env python3
"""Generate the LMRF reference files for loom's correctness tests.

Run from anywhere:  /usr/bin/python3 tests/ref/make_ref.py
Everything is computed in float64 with PyTorch and stored as float32.
Deterministic: re-running rewrites byte-identical files.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

from lmrf import f32, write_lmrf

HERE = os.path.dirname(os.path.abspath(__file__))

EPS_NORM = 1e-5
ROPE_BASE = 10000.0
# NB: with eps=1e-8 the first AdamW step is ~lr*sign(g); weights whose gradient
# is ~1e-8 make step3.* ill-conditioned in f32 (see the f32 diagnostic below).
# eps 1e-6, not 1e-8: with 1e-8 a few weights whose gradients are ~1e-8 get an update that
# float32 rounding changes by ~1% of lr, which no fp32 implementation (PyTorch fp32 included)
# can reproduce within 1e-4; 1e-6 keeps the comparison about the arithmetic, not that noise.
HPARAMS = dict(lr=1e-2, beta1=0.9, beta2=0.95, eps=1e-6, weight_decay=0.1, clip=1.0)

CASES = [
    dict(file="case_gqa.bin", V=67, C=32, L=2, H=4, KVH=2, F=64, T=8, B=2, tied=False, seed=1234),
    dict(file="case_tied.bin", V=259, C=48, L=1, H=3, KVH=3, F=96, T=11, B=3, tied=True, seed=4321),
]


# ----------------------------------------------------------------------------
# model (functional, parameters in a dict keyed by GGUF names)

def param_specs(cfg):
    """Ordered list of (name, shape, kind) with kind 'mat' or 'norm'."""
    V, C, L, H, KVH, Fd = cfg["V"], cfg["C"], cfg["L"], cfg["H"], cfg["KVH"], cfg["F"]
    hd = C // H
    specs = [("token_embd.weight", (V, C), "mat")]
    for l in range(L):
        p = "blk.%d." % l
        specs += [
            (p + "attn_norm.weight", (C,), "norm"),
            (p + "attn_q.weight", (H * hd, C), "mat"),
            (p + "attn_k.weight", (KVH * hd, C), "mat"),
            (p + "attn_v.weight", (KVH * hd, C), "mat"),
            (p + "attn_output.weight", (C, H * hd), "mat"),
            (p + "ffn_norm.weight", (C,), "norm"),
            (p + "ffn_gate.weight", (Fd, C), "mat"),
            (p + "ffn_up.weight", (Fd, C), "mat"),
            (p + "ffn_down.weight", (C, Fd), "mat"),
        ]
    specs.append(("output_norm.weight", (C,), "norm"))
    if not cfg["tied"]:
        specs.append(("output.weight", (V, C), "mat"))
    return specs


def init_params(cfg):
    g = torch.Generator().manual_seed(cfg["seed"])
    params = {}
    for name, shape, kind in param_specs(cfg):
        z = torch.randn(shape, generator=g, dtype=torch.float64)
        if kind == "mat":
            w = 0.02 * z
        else:
            w = 1.0 + 0.1 * z
        # round through f32 so the C side (which loads f32) starts from
        # exactly the same weights as this float64 reference
        w = w.float().double()
        params[name] = w.requires_grad_(True)
    return params


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS_NORM) * w


def rope_tables(T, hd, dtype):
    i = torch.arange(hd // 2, dtype=torch.float64)
    inv_freq = ROPE_BASE ** (-2.0 * i / hd)
    pos = torch.arange(T, dtype=torch.float64)
    ang = pos[:, None] * inv_freq[None, :]          # (T, hd/2)
    return torch.cos(ang).to(dtype), torch.sin(ang).to(dtype)


def apply_rope(x, cos, sin):
    """x: (B, nh, T, hd); llama.cpp 'normal' adjacent-pair layout."""
    x0 = x[..., 0::2]
    x1 = x[..., 1::2]
    r0 = x0 * cos - x1 * sin
    r1 = x0 * sin + x1 * cos
    return torch.stack((r0, r1), dim=-1).flatten(-2)


def attention(params, prefix, h, cfg):
    """Attention sub-block: returns attn @ Wo.T for normalised input h (B,T,C)."""
    C, H, KVH = cfg["C"], cfg["H"], cfg["KVH"]
    hd = C // H
    B, T, _ = h.shape
    cos, sin = rope_tables(T, hd, h.dtype)
    mask = torch.ones(T, T, dtype=torch.bool).triu(1)
    q = (h @ params[prefix + "attn_q.weight"].T).view(B, T, H, hd).transpose(1, 2)
    k = (h @ params[prefix + "attn_k.weight"].T).view(B, T, KVH, hd).transpose(1, 2)
    v = (h @ params[prefix + "attn_v.weight"].T).view(B, T, KVH, hd).transpose(1, 2)
    q = apply_rope(q, cos, sin)
    k = apply_rope(k, cos, sin)
    rep = H // KVH
    k = k.repeat_interleave(rep, dim=1)   # query head j -> kv head j // rep
    v = v.repeat_interleave(rep, dim=1)
    att = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
    att = att.masked_fill(mask, float("-inf")).softmax(-1)
    y = (att @ v).transpose(1, 2).reshape(B, T, H * hd)
    return y @ params[prefix + "attn_output.weight"].T


def forward(params, cfg, idx):
    x = params["token_embd.weight"][idx]
    for l in range(cfg["L"]):
        p = "blk.%d." % l
        x = x + attention(params, p, rmsnorm(x, params[p + "attn_norm.weight"]), cfg)
        h = rmsnorm(x, params[p + "ffn_norm.weight"])
        gate = F.silu(h @ params[p + "ffn_gate.weight"].T)
        up = h @ params[p + "ffn_up.weight"].T
        x = x + (gate * up) @ params[p + "ffn_down.weight"].T
    x = rmsnorm(x, params["output_norm.weight"])
    wout = params["token_embd.weight"] if cfg["tied"] else params["output.weight"]
    return x @ wout.T


def loss_fn(logits, targets):
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))


def make_optimizer(params, cfg):
    specs = param_specs(cfg)
    decay = [params[n] for n, s, k in specs if len(s) == 2]
    nodecay = [params[n] for n, s, k in specs if len(s) == 1]
    return torch.optim.AdamW(
        [dict(params=decay, weight_decay=HPARAMS["weight_decay"]),
         dict(params=nodecay, weight_decay=0.0)],
        lr=HPARAMS["lr"], betas=(HPARAMS["beta1"], HPARAMS["beta2"]),
        eps=HPARAMS["eps"])


# ----------------------------------------------------------------------------
# independent checks

def check_rope():
    torch.manual_seed(0)
    B, nh, T, hd = 2, 3, 7, 8
    x = torch.randn(B, nh, T, hd, dtype=torch.float64)
    cos, sin = rope_tables(T, hd, torch.float64)
    got = apply_rope(x, cos, sin)
    ref = torch.empty_like(x)
    for b in range(B):
        for h in range(nh):
            for p in range(T):
                for i in range(hd // 2):
                    theta = p * ROPE_BASE ** (-2.0 * i / hd)
                    c, s = math.cos(theta), math.sin(theta)
                    a0 = x[b, h, p, 2 * i].item()
                    a1 = x[b, h, p, 2 * i + 1].item()
                    ref[b, h, p, 2 * i] = a0 * c - a1 * s
                    ref[b, h, p, 2 * i + 1] = a0 * s + a1 * c
    err = (got - ref).abs().max().item()
    assert err < 1e-12, "RoPE mismatch %g" % err
    print("check: rope vs per-element loop, max err %.3g" % err)


def check_attention_loop(params, cfg, idx):
    """Recompute layer-0 attention output with explicit loops (GQA mapping,
    causal mask, scale) and compare with the vectorised forward."""
    C, H, KVH = cfg["C"], cfg["H"], cfg["KVH"]
    hd = C // H
    B, T = idx.shape
    with torch.no_grad():
        x = params["token_embd.weight"][idx]
        h = rmsnorm(x, params["blk.0.attn_norm.weight"])
        q = h @ params["blk.0.attn_q.weight"].T
        k = h @ params["blk.0.attn_k.weight"].T
        v = h @ params["blk.0.attn_v.weight"].T
        out = torch.zeros(B, T, H * hd, dtype=torch.float64)

        def rot(vec, p):
            r = vec.clone()
            for i in range(hd // 2):
                th = p * ROPE_BASE ** (-2.0 * i / hd)
                c, s = math.cos(th), math.sin(th)
                r[2 * i] = vec[2 * i] * c - vec[2 * i + 1] * s
                r[2 * i + 1] = vec[2 * i] * s + vec[2 * i + 1] * c
            return r

        for b in range(B):
            for j in range(H):
                kv = j // (H // KVH)
                for t in range(T):
                    qv = rot(q[b, t, j * hd:(j + 1) * hd], t)
                    sc = []
                    for u in range(t + 1):
                        kvec = rot(k[b, u, kv * hd:(kv + 1) * hd], u)
                        sc.append((qv * kvec).sum().item() / math.sqrt(hd))
                    m = max(sc)
                    e = [math.exp(s - m) for s in sc]
                    z = sum(e)
                    acc = torch.zeros(hd, dtype=torch.float64)
                    for u in range(t + 1):
                        acc += (e[u] / z) * v[b, u, kv * hd:(kv + 1) * hd]
                    out[b, t, j * hd:(j + 1) * hd] = acc
        ref = out @ params["blk.0.attn_output.weight"].T
        got = attention(params, "blk.0.", h, cfg)
    err = (got - ref).abs().max().item()
    assert err < 1e-12, "attention mismatch %g" % err
    print("check: attention (GQA %d/%d) vs loops, max err %.3g" % (H, KVH, err))


def check_finite_diff(params, cfg, idx, tgt, grads):
    probes = [("blk.0.attn_q.weight", (1, 3)), ("blk.0.attn_k.weight", (2, 5)),
              ("blk.0.attn_norm.weight", (4,)), ("token_embd.weight", (int(idx[0, 0]), 1)),
              ("output_norm.weight", (7,))]
    last = "blk.%d." % (cfg["L"] - 1)
    probes += [(last + "attn_v.weight", (3, 0)), (last + "attn_output.weight", (0, 6)),
               (last + "ffn_gate.weight", (5, 2)), (last + "ffn_up.weight", (9, 4)),
               (last + "ffn_down.weight", (1, 11)), (last + "ffn_norm.weight", (3,))]
    if not cfg["tied"]:
        probes.append(("output.weight", (int(tgt[0, 0]), 2)))
    h = 1e-4  # balances truncation (h^2) and float64 round-off (eps/h)
    worst = 0.0
    for name, ix in probes:
        with torch.no_grad():
            w = params[name]
            old = w[ix].item()
            w[ix] = old + h
            lp = loss_fn(forward(params, cfg, idx), tgt).item()
            w[ix] = old - h
            lm = loss_fn(forward(params, cfg, idx), tgt).item()
            w[ix] = old
        fd = (lp - lm) / (2 * h)
        an = grads[name][ix].item()
        # float64 round-off in the loss difference is ~1e-16*loss/h ~ 1e-12
        err = abs(fd - an)
        worst = max(worst, err / max(abs(an), 1e-8))
        if os.environ.get("MAKE_REF_VERBOSE"):
            print("    fd %-28s %-10s fd % .10e  analytic % .10e" % (name, ix, fd, an))
        assert err < 1e-10 + 1e-5 * abs(an), "finite diff mismatch %s%s: fd %g analytic %g" % (name, ix, fd, an)
    print("check: gradient vs central finite difference, %d elements, worst rel err %.3g"
          % (len(probes), worst))


def manual_adamw(params, cfg, idx, tgt, steps):
    """Plain-formula AdamW + global-norm clipping, to pin down the exact
    semantics the C side must implement (checked against torch.optim)."""
    specs = param_specs(cfg)
    hp = HPARAMS
    w = {n: params[n].detach().clone().requires_grad_(True) for n, _, _ in specs}
    m = {n: torch.zeros_like(w[n]) for n in w}
    v = {n: torch.zeros_like(w[n]) for n in w}
    for t in range(1, steps + 1):
        for n in w:
            w[n].grad = None
        loss_fn(forward(w, cfg, idx), tgt).backward()
        norm = math.sqrt(sum((w[n].grad ** 2).sum().item() for n in w))
        coef = min(1.0, hp["clip"] / (norm + 1e-6))       # torch's clip_grad_norm_
        with torch.no_grad():
            for n, shape, _ in specs:
                g = w[n].grad * coef
                wd = hp["weight_decay"] if len(shape) == 2 else 0.0
                w[n] *= 1.0 - hp["lr"] * wd                 # decoupled decay first
                m[n] = hp["beta1"] * m[n] + (1 - hp["beta1"]) * g
                v[n] = hp["beta2"] * v[n] + (1 - hp["beta2"]) * g * g
                mhat = m[n] / (1 - hp["beta1"] ** t)
                vhat = v[n] / (1 - hp["beta2"] ** t)
                w[n] -= hp["lr"] * mhat / (vhat.sqrt() + hp["eps"])
    return w


def f32_diagnostic(cfg, init, idx, tgt, records):
    """Not a check: rerun the same pipeline in float32 torch and print, per
    record group, max|a-b|/max|b| against the float64 reference, i.e. what
    an f32 implementation can be expected to reach."""
    specs = param_specs(cfg)
    p = {n: torch.from_numpy(init[n].copy()).requires_grad_(True) for n, _, _ in specs}
    got = {}
    logits = forward(p, cfg, idx)
    loss_fn(logits, tgt).backward()
    got["logits"] = logits.detach()
    for n in p:
        got["grad." + n] = p[n].grad.clone()
    opt = make_optimizer(p, cfg)
    for step in range(1, 4):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(p, cfg, idx), tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(p.values()), HPARAMS["clip"])
        opt.step()
        got["loss.step%d" % step] = loss.detach().reshape(1)
    for n in p:
        got["step3." + n] = p[n].detach()
    ref = dict(records)
    groups = {}
    for k, v in got.items():
        b = torch.from_numpy(ref[k]).double()
        r = (v.double() - b).abs().max().item() / max(b.abs().max().item(), 1e-12)
        gname = k.split(".")[0] if "." in k and not k.startswith("loss") else k
        if r > groups.get(gname, (0.0, ""))[0] or gname not in groups:
            groups[gname] = (r, k)
    print("  f32-torch vs reference (worst max|a-b|/max|b| per group):")
    for gname, (r, k) in groups.items():
        print("    %-10s %.2e  (%s)%s" % (gname, r, k, "" if r < 1e-4 else "  > 1e-4"))


def make_case(cfg):
    torch.manual_seed(cfg["seed"])
    V, B, T = cfg["V"], cfg["B"], cfg["T"]
    specs = param_specs(cfg)
    params = init_params(cfg)
    g = torch.Generator().manual_seed(cfg["seed"] + 1)
    tokens = torch.randint(0, V, (B, T + 1), generator=g, dtype=torch.int64)
    idx, tgt = tokens[:, :T], tokens[:, 1:]

    records = [
        ("config", np.array([V, cfg["C"], cfg["L"], cfg["H"], cfg["KVH"], cfg["F"], T, B,
                             1 if cfg["tied"] else 0], dtype=np.int32)),
        ("hparams", np.array([HPARAMS[k] for k in ("lr", "beta1", "beta2", "eps",
                                                   "weight_decay", "clip")], dtype=np.float32)),
        ("tokens", tokens.numpy().astype(np.int32)),
    ]
    for name, _, _ in specs:
        records.append((name, f32(params[name])))

    logits = forward(params, cfg, idx)
    loss = loss_fn(logits, tgt)
    loss.backward()
    grads = {n: params[n].grad.detach().clone() for n, _, _ in specs}
    records.append(("loss", np.array([loss.item()], dtype=np.float32)))
    records.append(("logits", f32(logits)))
    for name, _, _ in specs:
        records.append(("grad." + name, f32(grads[name])))
    for p in params.values():
        p.grad = None

    if cfg["KVH"] != cfg["H"]:
        check_attention_loop(params, cfg, idx)
    check_finite_diff(params, cfg, idx, tgt, grads)

    manual = manual_adamw(params, cfg, idx, tgt, 3)
    opt = make_optimizer(params, cfg)
    allp = [params[n] for n, _, _ in specs]
    for step in range(1, 4):
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(forward(params, cfg, idx), tgt)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(allp, HPARAMS["clip"])
        opt.step()
        records.append(("loss.step%d" % step, np.array([loss.item()], dtype=np.float32)))
        print("  %s step %d loss %.6f grad_norm %.4f" % (cfg["file"], step, loss.item(), gn.item()))
    err = max((manual[n] - params[n]).abs().max().item() for n, _, _ in specs)
    assert err < 1e-12, "manual AdamW mismatch %g" % err
    print("check: 3 steps of manual AdamW+clip vs torch.optim.AdamW, max err %.3g" % err)
    for name, _, _ in specs:
        records.append(("step3." + name, f32(params[name])))

    f32_diagnostic(cfg, {n: a for n, a in records if n in params}, idx, tgt, records)

    path = os.path.join(HERE, cfg["file"])
    write_lmrf(path, records)
    print("wrote %s (%d records, %d bytes)" % (path, len(records), os.path.getsize(path)))


def main():
    torch.set_default_dtype(torch.float64)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    check_rope()
    for cfg in CASES:
        make_case(cfg)
    return 0


if __name__ == "__main__":
    sys.exit(main())
