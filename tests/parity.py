#!/usr/bin/env python3
"""parity.py: the C model against the same architecture in PyTorch (Debian's python3-torch).

tests/model_dump writes a model's initial parameters, a batch (with prompt and padding positions
that take no loss), the C logits, loss and gradients, and the parameters after one AdamW step.
This script loads the same parameters into a PyTorch Llama-style model written after
../shared/bench/torch_reference.py (RMSNorm, rotate-half RoPE, causal attention, SwiGLU, tied or
untied head), runs the same batch, and checks:
  - loss: relative error <= 1e-5 (2e-3 with bf16 products, the last cases);
  - logits and every parameter's gradient: max |C - torch| / max |torch| <= 1e-4 per tensor
    (2e-2 with bf16 products);
  - AdamW: torch.optim.AdamW given the same gradients lands on the same parameters
    (max |C - torch| <= 1e-6 + 1e-6 |p|), with decay on matrices and none on norms.
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
HELPER = os.path.join(os.environ["LETHE_BUILDDIR"], "tests", "model_dump")
failures = 0
checks = 0


def check(ok, what):
    global failures, checks
    checks += 1
    if not ok:
        failures += 1
        print("FAIL:", what)


def run(vocab, context, dim, layers, heads, tied, batch, seed, tol=(1e-5, 1e-4, 1e-4), tag=""):
    """tol: the loss's relative error, the logits' and the gradients' (max |C - torch| / max |torch|)."""
    with tempfile.TemporaryDirectory() as d:
        p = subprocess.run([HELPER, d, str(vocab), str(context), str(dim), str(layers), str(heads), str(tied),
                            str(batch), str(seed)])
        if p.returncode == 77:
            print("skipped%s: model_dump cannot run it here" % tag)
            return
        if p.returncode:
            raise SystemExit("model_dump failed (%d)" % p.returncode)
        meta = json.load(open(os.path.join(d, "meta.json")))
        load = lambda name, dt: np.fromfile(os.path.join(d, name), dtype=dt)
        params, grads_c, after_c = load("params.bin", np.float32), load("grads.bin", np.float32), load("params_after.bin", np.float32)
        tokens = torch.from_numpy(load("tokens.bin", np.int32).astype(np.int64)).view(batch, context)
        targets = torch.from_numpy(load("targets.bin", np.int32).astype(np.int64)).view(batch, context)
        logits_c = torch.from_numpy(load("logits.bin", np.float32)).view(-1, vocab)
    label = "V%d T%d C%d L%d NH%d %s%s" % (vocab, context, dim, layers, heads, "tied" if tied else "untied", tag)

    W = {}
    for t in meta["tensors"]:
        a = params[t["offset"]: t["offset"] + t["rows"] * t["cols"]]
        shape = (t["rows"],) if t["cols"] == 1 else (t["rows"], t["cols"])
        W[t["name"]] = torch.tensor(a.reshape(shape), requires_grad=True)
    C, NH, T, eps = dim, heads, context, meta["norm_eps"]
    HS = C // NH
    inv = 1.0 / (meta["rope_theta"] ** (torch.arange(0, HS, 2).float() / HS))
    ang = torch.outer(torch.arange(T).float(), inv)
    cos, sin = ang.cos(), ang.sin()

    def rms(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w

    def rope(x):  # [B, NH, T, HS]
        x1, x2 = x[..., : HS // 2], x[..., HS // 2:]
        return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)

    mask = torch.tril(torch.ones(T, T, dtype=torch.bool))
    x = W["wte"][tokens]
    for l in range(layers):
        p = "layers.%d." % l
        h = rms(x, W[p + "attn_norm"])
        q, k, v = F.linear(h, W[p + "attn.wqkv"]).split(C, dim=2)
        q, k, v = (z.view(batch, T, NH, HS).transpose(1, 2) for z in (q, k, v))
        q, k = rope(q), rope(k)
        att = (q @ k.transpose(-2, -1)) * (1.0 / HS ** 0.5)
        att = F.softmax(att.masked_fill(~mask, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(batch, T, C)
        x = x + F.linear(y, W[p + "attn.wo"])
        h = rms(x, W[p + "mlp_norm"])
        x = x + F.linear(F.silu(F.linear(h, W[p + "mlp.w1"])) * F.linear(h, W[p + "mlp.w3"]), W[p + "mlp.w2"])
    x = rms(x, W["norm"])
    head = W["wte"] if tied else W["head"]
    logits = F.linear(x, head)
    loss = F.cross_entropy(logits.view(-1, vocab), targets.view(-1), ignore_index=-1)
    loss.backward()

    rel = lambda a, b: float((a - b).abs().max() / b.abs().max().clamp_min(1e-30))
    check(abs(meta["loss"] - loss.item()) <= tol[0] * abs(loss.item()), "%s: loss C %.8g torch %.8g" % (label, meta["loss"], loss.item()))
    rows = targets.view(-1) >= 0
    e = e_logits = rel(logits_c, logits.detach().view(-1, vocab)[rows])
    check(e <= tol[1], "%s: logits relative error %.3g" % (label, e))
    worst = 0.0
    for t in meta["tensors"]:
        g_c = torch.from_numpy(grads_c[t["offset"]: t["offset"] + t["rows"] * t["cols"]]).view_as(W[t["name"]])
        e = rel(g_c, W[t["name"]].grad)
        worst = max(worst, e)
        check(e <= tol[2], "%s: gradient of %s relative error %.3g" % (label, t["name"], e))

    # AdamW with the same gradients: decay on matrices (embeddings included, as the reference's
    # dim >= 2 rule), none on norm weights.
    decay = [W[t["name"]] for t in meta["tensors"] if t["cols"] > 1]
    no_decay = [W[t["name"]] for t in meta["tensors"] if t["cols"] == 1]
    for t in meta["tensors"]:
        W[t["name"]].grad = torch.from_numpy(grads_c[t["offset"]: t["offset"] + t["rows"] * t["cols"]].copy()).view_as(W[t["name"]])
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": meta["weight_decay"]},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=meta["lr"], betas=tuple(meta["betas"]), eps=meta["eps"])
    opt.step()
    worst_p = 0.0
    for t in meta["tensors"]:
        a_c = torch.from_numpy(after_c[t["offset"]: t["offset"] + t["rows"] * t["cols"]]).view_as(W[t["name"]])
        a_t = W[t["name"]].detach()
        ok = bool(((a_c - a_t).abs() <= 1e-6 + 1e-6 * a_t.abs()).all())
        worst_p = max(worst_p, float((a_c - a_t).abs().max()))
        check(ok, "%s: parameters of %s after AdamW differ by up to %.3g" % (label, t["name"], float((a_c - a_t).abs().max())))
    print("%s: loss %.6f (C %.6f), logits relative error %.2e, worst gradient relative error %.2e, "
          "worst parameter difference after AdamW %.2e" % (label, loss.item(), meta["loss"], e_logits, worst, worst_p))


run(300, 32, 64, 2, 4, 1, 3, 1)
run(300, 24, 48, 3, 3, 0, 2, 2)
run(512, 64, 128, 2, 4, 1, 4, 3)
os.environ["LETHE_DUMP_THREADS"] = "2"  # the same checks with the work split across two threads
run(512, 64, 128, 2, 4, 0, 4, 4)
# bf16 products (train: {precision: bf16}) against the same fp32 PyTorch model: bf16 keeps 8 bits
# of mantissa (relative rounding 2^-9 per input), so logits and gradients are held to 2e-2 of
# their largest magnitude and the loss to 2e-3; AdamW, in fp32 from C's gradients, as before.
# Skipped where lethe was built without oneDNN or the CPU lacks AVX512_BF16.
os.environ["LETHE_DUMP_PRECISION"] = "bf16"
run(512, 64, 128, 2, 4, 0, 4, 4, tol=(2e-3, 2e-2, 2e-2), tag=" bf16")
os.environ["LETHE_DUMP_THREADS"] = "1"
run(300, 32, 64, 2, 4, 1, 3, 1, tol=(2e-3, 2e-2, 2e-2), tag=" bf16")
print("%d passed, %d failed" % (checks - failures, failures))
sys.exit(1 if failures else 0)
