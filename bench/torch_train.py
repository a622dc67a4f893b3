#!/usr/bin/env python3
"""PyTorch speed peer for loom: trains the same Llama-style model (fp32, no
biases, RMSNorm, adjacent-pair RoPE, GQA, SwiGLU, AdamW + clipping) on the
bytes of a text file and reports training throughput.

  /usr/bin/python3 bench/torch_train.py --data FILE --layers 4 --heads 4 \
      --kv-heads 4 --dim 128 --ffn-dim 344 --context 64 --batch 12 --vocab 257 \
      --steps 50 --warmup 5 --threads 2 [--tied] [--json]

Runs --warmup untimed steps, then times --steps steps.
"""
import argparse
import json
import math
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

NORM_EPS = 1e-5
ROPE_BASE = 10000.0


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + NORM_EPS) * w


class Block(nn.Module):
    def __init__(self, dim, heads, kv_heads, ffn_dim):
        super().__init__()
        self.h, self.kvh, self.hd = heads, kv_heads, dim // heads
        hd = self.hd
        self.attn_norm = nn.Parameter(torch.ones(dim))
        self.wq = nn.Parameter(torch.empty(heads * hd, dim))
        self.wk = nn.Parameter(torch.empty(kv_heads * hd, dim))
        self.wv = nn.Parameter(torch.empty(kv_heads * hd, dim))
        self.wo = nn.Parameter(torch.empty(dim, heads * hd))
        self.ffn_norm = nn.Parameter(torch.ones(dim))
        self.w1 = nn.Parameter(torch.empty(ffn_dim, dim))   # gate
        self.w3 = nn.Parameter(torch.empty(ffn_dim, dim))   # up
        self.w2 = nn.Parameter(torch.empty(dim, ffn_dim))

    def forward(self, x, rope, attn_bias):
        B, T, C = x.shape
        H, KVH, hd = self.h, self.kvh, self.hd
        h = rmsnorm(x, self.attn_norm)
        # separate GEMMs: a stacked [Wq;Wk;Wv] GEMM is slower on CPU here because
        # the backward of split() is a slow torch.cat
        q, k, v = F.linear(h, self.wq), F.linear(h, self.wk), F.linear(h, self.wv)
        # RoPE, llama.cpp "normal" layout: adjacent pairs (x[2i], x[2i+1]) are the
        # real/imag parts of a complex number rotated by e^{i p theta_i}
        q = torch.view_as_real(torch.view_as_complex(
            q.reshape(B, T, H, hd // 2, 2)) * rope).reshape(B, T, H, hd)
        k = torch.view_as_real(torch.view_as_complex(
            k.reshape(B, T, KVH, hd // 2, 2)) * rope).reshape(B, T, KVH, hd)
        v = v.reshape(B, T, KVH, hd)
        if KVH != H:  # query head j uses kv head j // (H/KVH)
            rep = H // KVH
            k = k[:, :, :, None, :].expand(B, T, KVH, rep, hd).reshape(B, T, H, hd)
            v = v[:, :, :, None, :].expand(B, T, KVH, rep, hd).reshape(B, T, H, hd)
        q = q.transpose(1, 2).reshape(B * H, T, hd)
        k = k.transpose(1, 2).reshape(B * H, T, hd)
        v = v.transpose(1, 2).reshape(B * H, T, hd)
        # scores = bias + scale * q k^T in one call; bias is 0 / -inf (causal)
        att = torch.baddbmm(attn_bias, q, k.transpose(1, 2), beta=1.0, alpha=1.0 / math.sqrt(hd))
        att = torch.softmax(att, dim=-1)
        y = torch.bmm(att, v).view(B, H, T, hd).transpose(1, 2).reshape(B, T, H * hd)
        x = x + F.linear(y, self.wo)
        h = rmsnorm(x, self.ffn_norm)
        return x + F.linear(F.silu(F.linear(h, self.w1)) * F.linear(h, self.w3), self.w2)


class Model(nn.Module):
    def __init__(self, vocab, dim, layers, heads, kv_heads, ffn_dim, context, tied):
        super().__init__()
        assert dim % heads == 0 and heads % kv_heads == 0 and (dim // heads) % 2 == 0
        self.tied = tied
        self.tok = nn.Parameter(torch.empty(vocab, dim))
        self.blocks = nn.ModuleList(Block(dim, heads, kv_heads, ffn_dim) for _ in range(layers))
        self.out_norm = nn.Parameter(torch.ones(dim))
        self.out = None if tied else nn.Parameter(torch.empty(vocab, dim))
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, 0.0, 0.02)
        hd = dim // heads
        inv = ROPE_BASE ** (-torch.arange(0, hd // 2, dtype=torch.float64) * 2.0 / hd)
        ang = torch.arange(context, dtype=torch.float64)[:, None] * inv[None, :]
        rope = torch.polar(torch.ones_like(ang), ang).to(torch.complex64)  # (T, hd/2)
        self.register_buffer("rope", rope[:, None, :], persistent=False)   # (T, 1, hd/2)
        self.register_buffer("bias", torch.full((context, context), float("-inf")).triu(1),
                             persistent=False)

    def forward(self, idx):
        B, T = idx.shape
        x = F.embedding(idx, self.tok)
        rope = self.rope[:T]
        bias = self.bias[:T, :T].expand(B * self.blocks[0].h, T, T) if len(self.blocks) else None
        for blk in self.blocks:
            x = blk(x, rope, bias)
        x = rmsnorm(x, self.out_norm)
        return F.linear(x, self.tok if self.tied else self.out)


def make_optimizer(model, lr):
    decay = [p for p in model.parameters() if p.dim() >= 2]
    nodecay = [p for p in model.parameters() if p.dim() < 2]
    kw = dict(lr=lr, betas=(0.9, 0.95), eps=1e-8)
    try:
        return torch.optim.AdamW([dict(params=decay, weight_decay=0.1),
                                  dict(params=nodecay, weight_decay=0.0)], foreach=True, **kw)
    except TypeError:  # older torch without foreach
        return torch.optim.AdamW([dict(params=decay, weight_decay=0.1),
                                  dict(params=nodecay, weight_decay=0.0)], **kw)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--layers", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--kv-heads", type=int, default=None)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--ffn-dim", type=int, default=344)
    ap.add_argument("--context", type=int, default=64)
    ap.add_argument("--batch", type=int, default=12)
    ap.add_argument("--vocab", type=int, default=257)
    ap.add_argument("--steps", type=int, default=50, help="timed steps")
    ap.add_argument("--warmup", type=int, default=5, help="untimed steps before timing")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--tied", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args(argv)
    kvh = a.kv_heads if a.kv_heads else a.heads
    if a.vocab < 256:
        ap.error("--vocab must be >= 256 (byte tokens)")

    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    torch.manual_seed(0)

    with open(a.data, "rb") as f:
        raw = f.read()
    if len(raw) < a.context + 2:
        ap.error("--data is shorter than one window")
    data = torch.from_numpy(np.frombuffer(raw, dtype=np.uint8).astype(np.int64))
    rng = np.random.default_rng(0)
    offs = torch.arange(a.context + 1)

    model = Model(a.vocab, a.dim, a.layers, a.heads, kvh, a.ffn_dim, a.context, a.tied)
    model.train()
    params = list(model.parameters())
    opt = make_optimizer(model, a.lr)

    def step():
        starts = torch.from_numpy(rng.integers(0, len(raw) - a.context - 1, size=a.batch))
        win = data[starts[:, None] + offs]
        x, y = win[:, :-1], win[:, 1:]
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, logits.size(-1)), y.reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    loss = None
    for _ in range(a.steps):
        loss = step()
    dt = time.perf_counter() - t0
    steps = max(a.steps, 1)
    loss_v = float(loss.item()) if loss is not None else float("nan")
    tok_s = a.batch * a.context * a.steps / dt if dt > 0 else 0.0
    step_ms = 1000.0 * dt / steps
    if a.json:
        print(json.dumps({"tokens_per_s": round(tok_s, 1), "step_ms": round(step_ms, 3),
                          "loss": round(loss_v, 5), "threads": a.threads}))
    else:
        print("torch: tokens/s=%.0f step_ms=%.2f loss=%.4f" % (tok_s, step_ms, loss_v))
    return 0


if __name__ == "__main__":
    sys.exit(main())
