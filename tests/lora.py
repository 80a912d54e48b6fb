#!/usr/bin/env python3
"""lora.py: LoRA adapters in the C model against the same adapters written out in PyTorch.

tests/lora_dump writes a grouped-query model's parameters, an adapter (A as lethe initialises
it, B filled with non-zero values), a batch with prompt and padding positions, and the C logits,
loss and adapter gradients. This script rebuilds the model in PyTorch (as tests/parity.py, with
k and v heads repeated for their query groups) with LoRA as PEFT defines it,
    y = W x + (alpha / rank) * B (A x),    A [rank, in], B [out, rank],
on each target (q, k and v separately, each over its own rows of the fused projection), and
checks:
  - loss: relative error <= 1e-5;
  - logits and every adapter tensor's gradient: max |C - torch| / max |torch| <= 1e-4;
  - A lies within PEFT's kaiming-uniform bound 1/sqrt(in) and fills it (max |A| > 0.9 bound);
the last case runs lethe on two threads, so that the large products are split.
Skips (77) when torch is not installed.
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError:
    print("SKIP: python3-torch is not installed")
    sys.exit(77)

torch.set_num_threads(1)
HELPER = os.path.join(os.environ["LETHE_BUILDDIR"], "tests", "lora_dump")
TARGETS = ["q", "k", "v", "o", "gate", "up", "down"]
failures = 0
checks = 0


def check(ok, what):
    global failures, checks
    checks += 1
    if not ok:
        failures += 1
        print("FAIL:", what)


def run(vocab, context, dim, layers, heads, kv_heads, batch, rank, alpha, targets, seed):
    with tempfile.TemporaryDirectory() as d:
        subprocess.run([HELPER, d, str(vocab), str(context), str(dim), str(layers), str(heads),
                        str(kv_heads), str(batch), str(rank), str(alpha), str(targets), str(seed)],
                       check=True)
        meta = json.load(open(os.path.join(d, "meta.json")))
        load = lambda name, dt: np.fromfile(os.path.join(d, name), dtype=dt)
        params, lora, grads_c = load("params.bin", np.float32), load("lora.bin", np.float32), load("lora_grads.bin", np.float32)
        tokens = torch.from_numpy(load("tokens.bin", np.int32).astype(np.int64)).view(batch, context)
        targets_t = torch.from_numpy(load("targets.bin", np.int32).astype(np.int64)).view(batch, context)
        logits_c = torch.from_numpy(load("logits.bin", np.float32)).view(-1, vocab)
    names = [t for i, t in enumerate(TARGETS) if targets & (1 << i)]
    label = "V%d T%d C%d L%d NH%d NKV%d r%d alpha%g %s" % (vocab, context, dim, layers, heads, kv_heads, rank, alpha, "+".join(names))

    def tensors(block, table, grad):
        out = {}
        for t in table:
            a = block[t["offset"]: t["offset"] + t["rows"] * t["cols"]]
            shape = (t["rows"],) if t["cols"] == 1 else (t["rows"], t["cols"])
            out[t["name"]] = torch.tensor(a.reshape(shape), requires_grad=grad)
        return out

    W = tensors(params, meta["tensors"], False)
    A = tensors(lora, meta["lora"], True)
    C, NH, NKV, HS, T, eps = dim, heads, kv_heads, meta["head_dim"], context, meta["norm_eps"]
    HQ, KVC, scale = NH * HS, NKV * HS, alpha / rank
    inv = 1.0 / (meta["rope_theta"] ** (torch.arange(0, HS, 2).float() / HS))
    ang = torch.outer(torch.arange(T).float(), inv)
    cos, sin = ang.cos(), ang.sin()

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def rope(x):  # [B, heads, T, HS]
        x1, x2 = x[..., : HS // 2], x[..., HS // 2:]
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)

    def proj(x, w, l, target):  # PEFT's LoraLayer.forward, dropout off
        y = F.linear(x, w)
        key = "layers.%d.%s.lora_" % (l, target)
        if key + "A" in A:
            y = y + scale * F.linear(F.linear(x, A[key + "A"]), A[key + "B"])
        return y

    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    x = W["wte"][tokens]
    for l in range(layers):
        p = "layers.%d." % l
        h = rms(x, W[p + "attn_norm"])
        wq, wk, wv = W[p + "attn.wqkv"].split([HQ, KVC, KVC], dim=0)
        q = proj(h, wq, l, "q").view(batch, T, NH, HS).transpose(1, 2)
        k = proj(h, wk, l, "k").view(batch, T, NKV, HS).transpose(1, 2)
        v = proj(h, wv, l, "v").view(batch, T, NKV, HS).transpose(1, 2)
        q, k = rope(q), rope(k)
        k, v = k.repeat_interleave(NH // NKV, dim=1), v.repeat_interleave(NH // NKV, dim=1)
        att = (q @ k.transpose(-2, -1)) * (1.0 / HS ** 0.5)
        att = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(batch, T, HQ)
        x = x + proj(y, W[p + "attn.wo"], l, "o")
        h = rms(x, W[p + "mlp_norm"])
        g = F.silu(proj(h, W[p + "mlp.w1"], l, "gate")) * proj(h, W[p + "mlp.w3"], l, "up")
        x = x + proj(g, W[p + "mlp.w2"], l, "down")
    x = rms(x, W["norm"])
    logits = F.linear(x, W["wte"])
    loss = F.cross_entropy(logits.view(-1, vocab), targets_t.view(-1), ignore_index=-1)
    loss.backward()

    rel = lambda a, b: float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))
    check(abs(meta["loss"] - loss.item()) <= 1e-5 * abs(loss.item()), "%s: loss C %.8g torch %.8g" % (label, meta["loss"], loss.item()))
    rows = targets_t.view(-1) >= 0
    e = rel(logits_c, logits.detach().view(-1, vocab)[rows])
    check(e <= 1e-4, "%s: logits relative error %.3g" % (label, e))
    worst = 0.0
    for t in meta["lora"]:
        g_c = torch.from_numpy(grads_c[t["offset"]: t["offset"] + t["rows"] * t["cols"]]).view_as(A[t["name"]])
        g_t = A[t["name"]].grad
        check(float(g_t.abs().max()) > 0, "%s: the reference gradient of %s is zero" % (label, t["name"]))
        e = rel(g_c, g_t)
        worst = max(worst, e)
        check(e <= 1e-4, "%s: gradient of %s relative error %.3g" % (label, t["name"], e))
        if t["name"].endswith("lora_A"):
            bound, mx = 1.0 / t["cols"] ** 0.5, float(A[t["name"]].detach().abs().max())
            check(0.9 * bound < mx <= bound, "%s: %s max |A| %.4g, PEFT's bound %.4g" % (label, t["name"], mx, bound))
    print("%s: loss %.6f, worst adapter gradient relative error %.2e" % (label, loss.item(), worst))


run(300, 32, 64, 2, 4, 2, 3, 4, 8, 0x7f, 1)   # every target, grouped-query attention
run(300, 24, 48, 2, 6, 3, 2, 8, 16, 0x05, 2)  # q and v only (PEFT's default for Llama)
run(300, 16, 64, 1, 4, 1, 2, 2, 3, 0x7a, 3)   # k, o, gate, up, down; one key/value head
os.environ["LETHE_DUMP_THREADS"] = "2"  # the products split over two threads
run(512, 64, 128, 2, 8, 2, 4, 8, 16, 0x7f, 4)
print("%d passed, %d failed" % (checks - failures, failures))
sys.exit(1 if failures else 0)
