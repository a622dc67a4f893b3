#!/usr/bin/env python3
"""The PyTorch twin of loom's image U-Net (src/model/unet.h): the same layers in the same order,
with state_dict keys equal to loom's tensor names, so weights move between the two by name.

Used by tests/ref/make_unet_ref.py (the correctness reference) and, run as a script, as the speed
peer for `loom train-image`: it times training steps (forward, backward, AdamW) on random data of
the model's shape and prints images per second.

  /usr/bin/python3 bench/unet_torch.py [--size 28] [--channels 1] [--widths 32,64,128]
      [--labels 10] [--batch 64] [--steps 20] [--warmup 3] [--threads 2] [--json]
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

GN_EPS = 1e-5


def time_embed(t, dim, dtype=torch.float64):
    """guided-diffusion's timestep_embedding: [cos(t f_i) | sin(t f_i)], f_i = 10000^(-i/half)."""
    half = dim // 2
    f = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half)
    a = t.to(torch.float64)[:, None] * f[None, :]
    e = torch.cat([torch.cos(a), torch.sin(a)], dim=-1)
    if dim % 2:
        e = torch.cat([e, torch.zeros(e.shape[0], 1, dtype=torch.float64)], dim=-1)
    return e.to(dtype)


class ResBlock(nn.Module):
    def __init__(self, a, b, emb_dim, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, a, eps=GN_EPS)
        self.conv1 = nn.Conv2d(a, b, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * b)
        self.norm2 = nn.GroupNorm(groups, b, eps=GN_EPS)
        self.conv2 = nn.Conv2d(b, b, 3, padding=1)
        self.skip = nn.Conv2d(a, b, 1) if a != b else None

    def forward(self, x, semb):
        h = self.conv1(F.silu(self.norm1(x)))
        s, t = self.emb(semb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + s) + t
        h = self.conv2(F.silu(h))
        return h + (x if self.skip is None else self.skip(x))


class Attention(nn.Module):
    def __init__(self, c, groups, head_dim):
        super().__init__()
        self.heads = c // head_dim
        self.norm = nn.GroupNorm(groups, c, eps=GN_EPS)
        self.qkv = nn.Linear(c, 3 * c)
        self.out = nn.Linear(c, c)

    def forward(self, x):
        B, C, H, W = x.shape
        nh, hd = self.heads, C // self.heads
        t = self.norm(x).flatten(2).transpose(1, 2)                 # (B,HW,C)
        q, k, v = self.qkv(t).chunk(3, dim=-1)                      # [q heads | k heads | v heads]
        q, k, v = (z.reshape(B, H * W, nh, hd).transpose(1, 2) for z in (q, k, v))
        att = ((q @ k.transpose(-1, -2)) / math.sqrt(hd)).softmax(-1)
        a = (att @ v).transpose(1, 2).reshape(B, H * W, C)
        return x + self.out(a).transpose(1, 2).reshape(B, C, H, W)


class UNet(nn.Module):
    def __init__(self, channels=1, size=28, widths=(32, 64, 128), n_labels=10, groups=8, head_dim=32):
        super().__init__()
        L, w, w0 = len(widths), list(widths), widths[0]
        E = 4 * w0
        self.w0, self.n_labels, self.size, self.channels = w0, n_labels, size, channels
        self.time = nn.Module()
        self.time.fc1 = nn.Linear(w0, E)
        self.time.fc2 = nn.Linear(E, E)
        self.label_embd = nn.Embedding(n_labels + 1, E)
        self.conv_in = nn.Conv2d(channels, w0, 3, padding=1)
        self.down = nn.ModuleList()
        for l in range(L):
            m = nn.Module()
            m.res = ResBlock(w[l - 1] if l else w0, w[l], E, groups)
            m.attn = Attention(w[l], groups, head_dim) if l == L - 1 else None
            m.downsample = nn.Conv2d(w[l], w[l], 3, stride=2, padding=1) if l < L - 1 else None
            self.down.append(m)
        self.mid = nn.Module()
        self.mid.res1 = ResBlock(w[-1], w[-1], E, groups)
        self.mid.attn = Attention(w[-1], groups, head_dim)
        self.mid.res2 = ResBlock(w[-1], w[-1], E, groups)
        self.up = nn.ModuleList()   # indexed by level, run from the last level down
        for l in range(L):
            m = nn.Module()
            m.res = ResBlock(2 * w[l], w[l], E, groups)
            m.attn = Attention(w[l], groups, head_dim) if l == L - 1 else None
            m.upsample = nn.Conv2d(w[l], w[l - 1], 3, padding=1) if l > 0 else None
            self.up.append(m)
        self.out = nn.Module()
        self.out.norm = nn.GroupNorm(groups, w0, eps=GN_EPS)
        self.out.conv = nn.Conv2d(w0, channels, 3, padding=1)
        # as loom's lm_unet_init: residual branches end at zero, embeddings N(0,1) (torch's default)
        for name, p in self.named_parameters():
            if ".conv2." in name or ".attn.out." in name or name.startswith("out.conv."):
                nn.init.zeros_(p)

    def forward(self, x, temb, labels):
        """x (B,C,H,W) noised images, temb (B,w0) time_embed(t), labels (B) -> predicted noise."""
        e = self.time.fc2(F.silu(self.time.fc1(temb))) + self.label_embd(labels)
        semb = F.silu(e)
        h = self.conv_in(x)
        skips = []
        for m in self.down:
            h = m.res(h, semb)
            if m.attn is not None:
                h = m.attn(h)
            skips.append(h)
            if m.downsample is not None:
                h = m.downsample(h)
        h = self.mid.res2(self.mid.attn(self.mid.res1(h, semb)), semb)
        for m in reversed(self.up):
            h = m.res(torch.cat([h, skips.pop()], dim=1), semb)
            if m.attn is not None:
                h = m.attn(h)
            if m.upsample is not None:
                h = m.upsample(F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.out.conv(F.silu(self.out.norm(h)))


def cosine_alpha_bar(T, s=0.008):
    """Nichol & Dhariwal's cosine schedule, betas clipped at 0.999, as src/model/diffusion.c."""
    f = lambda t: math.cos((t / T + s) / (1 + s) * math.pi / 2) ** 2
    ab, prod = [], 1.0
    for i in range(T):
        prod *= 1 - min(1 - f(i + 1) / f(i), 0.999)
        ab.append(prod)
    return ab


@torch.no_grad()
def sample_bench(a):
    """DDIM (eta 0, trailing timesteps) with classifier-free guidance: the conditional and the
    unconditional pass in one batch of 2n, as loom imagine runs it."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    widths = [int(v) for v in a.widths.split(",")]
    model = UNet(a.channels, a.size, widths, a.labels).eval()
    T, n = a.diffusion_steps, a.sample
    ab = cosine_alpha_bar(T)
    ts = [math.floor(T - i * T / a.sample_steps + 0.5) - 1 for i in range(a.sample_steps)]
    y = torch.arange(n) % a.labels
    yy = torch.cat([y, torch.full((n,), a.labels)])
    t0 = time.perf_counter()
    x = torch.randn(n, a.channels, a.size, a.size)
    for i, t in enumerate(ts):
        te = time_embed(torch.full((2 * n,), t), widths[0], torch.float32)
        e = model(torch.cat([x, x]), te, yy)
        eps = e[n:] + a.guidance * (e[:n] - e[n:])
        x0 = ((x - math.sqrt(1 - ab[t]) * eps) / math.sqrt(ab[t])).clamp(-1, 1)
        abp = ab[ts[i + 1]] if i + 1 < len(ts) else 1.0
        x = math.sqrt(abp) * x0 + math.sqrt(1 - abp) * eps
    dt = time.perf_counter() - t0
    res = dict(images=n, sample_steps=a.sample_steps, seconds=dt, threads=a.threads, torch=torch.__version__)
    if a.json:
        print(json.dumps(res))
    else:
        print("torch U-Net: %d images, DDIM %d steps, guidance %.1f: %.2f s (%d threads)"
              % (n, a.sample_steps, a.guidance, dt, a.threads))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--size", type=int, default=28)
    ap.add_argument("--channels", type=int, default=1)
    ap.add_argument("--widths", default="32,64,128")
    ap.add_argument("--labels", type=int, default=10)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--diffusion-steps", type=int, default=1000)
    ap.add_argument("--sample", type=int, default=0,
                    help="instead of training: time drawing this many images with DDIM and guidance")
    ap.add_argument("--sample-steps", type=int, default=50)
    ap.add_argument("--guidance", type=float, default=3.0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    if a.sample:
        return sample_bench(a)
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    widths = [int(v) for v in a.widths.split(",")]
    model = UNet(a.channels, a.size, widths, a.labels)
    n_params = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=2e-4, weight_decay=0.0)
    B = a.batch

    def step():
        x = torch.randn(B, a.channels, a.size, a.size)
        eps = torch.randn_like(x)
        t = torch.randint(0, a.diffusion_steps, (B,))
        y = torch.randint(0, a.labels + 1, (B,))
        loss = F.mse_loss(model(x, time_embed(t, widths[0], torch.float32), y), eps)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        step()
    dt = time.perf_counter() - t0
    res = dict(params=n_params, batch=B, steps=a.steps, seconds=dt, images_per_s=B * a.steps / dt,
               threads=a.threads, torch=torch.__version__)
    if a.json:
        print(json.dumps(res))
    else:
        print("torch U-Net: %d parameters, batch %d: %.1f images/s (%d steps in %.2fs, %d threads)"
              % (n_params, B, res["images_per_s"], a.steps, dt, a.threads))


if __name__ == "__main__":
    sys.exit(main())
