#!/usr/bin/env python3
"""Generate tests/ref/unet_tiny.bin: the reference for loom's image U-Net (tests/test_unet.c).

Run from anywhere:  /usr/bin/python3 tests/ref/make_unet_ref.py
The model is bench/unet_torch.py's UNet (the PyTorch twin of src/model/unet.h) in a tiny
configuration: 8x8 grey images, 3 levels of widths 8/16/16 (8x8, 4x4, 2x2; attention at 2x2 with
2 heads of 8), 3 labels, 4 GroupNorm groups, batch 2 (one image with a label, one with "no
label"). Every weight is random (none zero, so every gradient is exercised) and rounded to f32;
the forward and backward passes run in float64 and are stored as f32.

LMRF records: config (int32: channels, size, levels, w0, w1, w2, n_labels, groups, head_dim, B),
x (B,1,8,8), t (B) int32 timesteps, temb (B,w0) time_embed(t), labels (B) int32, target (B,1,8,8),
eps (B,1,8,8) the predicted noise, loss (1) = mean((eps - target)^2), every parameter under its
loom name, and grad.<name> d(loss)/d(parameter).
Deterministic: re-running rewrites a byte-identical file.
"""
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bench"))
import unet_torch  # noqa: E402
from lmrf import f32, write_lmrf  # noqa: E402

CFG = dict(channels=1, size=8, widths=(8, 16, 16), n_labels=3, groups=4, head_dim=8, B=2, seed=2024)
TIMESTEPS = [17, 803]
LABELS = [2, 3]  # 3 = n_labels: "no label"


def build(dtype):
    c = CFG
    m = unet_torch.UNet(c["channels"], c["size"], c["widths"], c["n_labels"], c["groups"], c["head_dim"])
    return m.to(dtype)


def random_weights(model):
    """Non-zero random weights, rounded to f32: fan-in scaled uniform for convs and linears, 1 +
    N(0, 0.1) and N(0, 0.1) for GroupNorm weights and biases, N(0, 1) for the label embedding."""
    g = torch.Generator().manual_seed(CFG["seed"])
    sd = model.state_dict()
    w = {}
    for name, p in sd.items():
        shape = tuple(p.shape)
        if "norm" in name:
            z = torch.randn(shape, generator=g, dtype=torch.float64) * 0.1
            v = 1.0 + z if name.endswith(".weight") else z
        elif name == "label_embd.weight":
            v = torch.randn(shape, generator=g, dtype=torch.float64)
        else:
            wname = name[:-len("bias")] + "weight" if name.endswith(".bias") else name
            fan_in = int(np.prod(sd[wname].shape[1:]))
            v = (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1) / math.sqrt(fan_in)
        w[name] = v.float().double()
    return w


def inputs():
    g = torch.Generator().manual_seed(CFG["seed"] + 1)
    B, C, S = CFG["B"], CFG["channels"], CFG["size"]
    x = torch.randn(B, C, S, S, generator=g, dtype=torch.float64).float().double()
    target = torch.randn(B, C, S, S, generator=g, dtype=torch.float64).float().double()
    t = torch.tensor(TIMESTEPS, dtype=torch.int64)
    temb = unet_torch.time_embed(t, CFG["widths"][0]).float().double()
    labels = torch.tensor(LABELS, dtype=torch.int64)
    return x, t, temb, labels, target


def run(model, weights, x, temb, labels, target, dtype):
    model.load_state_dict({k: v.to(dtype) for k, v in weights.items()})
    model.zero_grad(set_to_none=True)
    eps = model(x.to(dtype), temb.to(dtype), labels)
    loss = F.mse_loss(eps, target.to(dtype))
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters()}
    return eps.detach(), loss.detach(), grads


def check_finite_diff(model, weights, x, temb, labels, target, grads):
    """Central differences on a few weights of different kinds against autograd (float64)."""
    probes = ["time.fc1.weight", "label_embd.weight", "conv_in.weight", "down.0.res.norm1.weight",
              "down.1.downsample.bias", "down.2.attn.qkv.weight", "mid.attn.out.weight", "mid.res2.emb.weight",
              "up.2.res.skip.weight", "up.1.upsample.weight", "up.0.res.conv2.weight", "out.norm.bias",
              "out.conv.weight"]
    g = torch.Generator().manual_seed(7)
    worst = 0.0
    for name in probes:
        n = weights[name].numel()
        for _ in range(2):
            i = int(torch.randint(0, n, (1,), generator=g))
            h = 1e-6
            vals = []
            for sgn in (1, -1):
                w = {k: v.clone() for k, v in weights.items()}
                w[name].view(-1)[i] += sgn * h
                model.load_state_dict(w)
                with torch.no_grad():
                    vals.append(F.mse_loss(model(x, temb, labels), target).item())
            fd = (vals[0] - vals[1]) / (2 * h)
            ad = grads[name].view(-1)[i].item()
            err = abs(fd - ad) / max(abs(ad), 1e-6)
            worst = max(worst, err)
            assert err < 1e-5 or abs(fd - ad) < 1e-9, "%s[%d]: finite difference %.9g, autograd %.9g" % (name, i, fd, ad)
    print("check: gradients vs central differences (%d probes), worst relative error %.2g" % (2 * len(probes), worst))


def main():
    torch.manual_seed(0)
    model = build(torch.float64)
    weights = random_weights(model)
    x, t, temb, labels, target = inputs()
    eps, loss, grads = run(model, weights, x, temb, labels, target, torch.float64)
    check_finite_diff(model, weights, x, temb, labels, target, grads)
    names = list(weights.keys())
    c = CFG
    config = np.array([c["channels"], c["size"], len(c["widths"])] + list(c["widths"]) +
                      [c["n_labels"], c["groups"], c["head_dim"], c["B"]], dtype=np.int32)
    records = [("config", config), ("x", f32(x)), ("t", np.array(TIMESTEPS, dtype=np.int32)), ("temb", f32(temb)),
               ("labels", np.array(LABELS, dtype=np.int32)), ("target", f32(target)), ("eps", f32(eps)),
               ("loss", np.array([loss.item()], dtype=np.float32))]
    records += [(n, f32(weights[n])) for n in names]
    records += [("grad." + n, f32(grads[n])) for n in names]
    path = os.path.join(HERE, "unet_tiny.bin")
    write_lmrf(path, records)
    n_params = sum(v.numel() for v in weights.values())
    print("wrote %s: %d records, %d parameters, loss %.6f" % (path, len(records), n_params, loss.item()))

    # Not a check: the same in float32 torch, max|a-b|/max|b| against float64, i.e. roughly what an
    # f32 implementation can reach.
    m32 = build(torch.float32)
    e32, l32, g32 = run(m32, weights, x, temb, labels, target, torch.float32)

    def rel(a, b):
        return (a.double() - b).abs().max().item() / max(b.abs().max().item(), 1e-12)

    worst_g = max(rel(g32[n], grads[n]) for n in names)
    print("f32 torch vs f64: eps %.2e, loss %.2e, worst gradient %.2e" % (rel(e32, eps), rel(l32, loss), worst_g))


if __name__ == "__main__":
    main()
