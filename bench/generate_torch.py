#!/usr/bin/python3
"""generate_torch.py: the PyTorch peer of `bench/train_lethe --generate` and `--eval`.

The model is torch_reference.py's llama (RMSNorm, RoPE, fused qkv, grouped-query attention where
the config has fewer key/value heads, SwiGLU, tied head, no biases, random weights with std 0.02)
at the shapes bench/train_lethe.c uses (c1's vocabulary is lethe's 260, not 256). Everything runs
under torch.no_grad() in eval mode. One line of JSON on stdout.

--generate (default): greedy generation with a KV cache, the config's batch of prompts of
  --prompt tokens decoded together, --new new tokens each (no stop token); the prompt is one
  batched forward (prefill), then one token per step for the whole batch, the head applied to the
  last position only, keys and values written into preallocated caches, grouped-query attention
  without copying the key/value heads (the query heads of a group are folded into the matrix
  product). Reports new tokens/s (median of --steps runs after --warmup).
--eval: a stage's evaluation as lethe's runner does it (engine/run/runner.c batch_nll()), with
  train_lethe.c's EVAL_* shapes: teacher-forced NLL of 8 sequences of 32 prompt + 32 target
  tokens, then candidate scoring, the summed NLL of 4 candidate continuations of 8 tokens after
  each 32-token prompt (prompt repeated per candidate), in forwards of at most 16 sequences; the
  head is applied to the targeted rows only (as lethe does). Reports input tokens/s of each.

Threads: --threads N sets torch.set_num_threads(N) and OPENBLAS_NUM_THREADS (unless set);
bench/train-throughput also sets OMP_WAIT_POLICY=PASSIVE at 2 threads, the reference's best.

Usage: generate_torch.py --config c1|c2|c3|c4 [--threads N] [--warmup 2] [--steps 5]
                         [--generate | --eval] [--prompt 16] [--new 64]
"""
import argparse
import json
import os
import resource
import sys
import time

CONFIGS = {  # as bench/train_lethe.c
    "c1": dict(vocab=260, ctx=128, d=128, layers=4, heads=4, batch=16),
    "c2": dict(vocab=4096, ctx=256, d=256, layers=6, heads=8, batch=8),
    "c3": dict(vocab=8192, ctx=256, d=512, layers=8, heads=8, batch=8),
    "c4": dict(vocab=49152, ctx=512, d=576, layers=30, heads=9, kv_heads=3, ff=1536, batch=4),
}
EVAL_N, EVAL_P, EVAL_G, EVAL_K, EVAL_C, EVAL_BATCH = 8, 32, 32, 4, 8, 16  # train_lethe.c's

ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
ap.add_argument("--config", default="c1", choices=sorted(CONFIGS))
ap.add_argument("--threads", type=int, default=1)
ap.add_argument("--warmup", type=int, default=2)
ap.add_argument("--steps", type=int, default=5)
mode = ap.add_mutually_exclusive_group()
mode.add_argument("--generate", action="store_true", help="greedy generation (the default)")
mode.add_argument("--eval", action="store_true", help="teacher-forced NLL and candidate scoring")
ap.add_argument("--prompt", type=int, default=16, help="prompt tokens (--generate)")
ap.add_argument("--new", type=int, default=64, help="new tokens per prompt (--generate)")
ap.add_argument("--seed", type=int, default=1234)
ap.add_argument("--check", action="store_true",
                help="first check that cached generation equals recomputing every prefix")
args = ap.parse_args()
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(args.threads))  # before torch loads OpenBLAS
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402

torch.set_num_threads(args.threads)
cfg = CONFIGS[args.config]
V, T, D, L, H, B = cfg["vocab"], cfg["ctx"], cfg["d"], cfg["layers"], cfg["heads"], cfg["batch"]
KV = cfg.get("kv_heads", H)
HD, G = D // H, H // KV
KVD = KV * HD
D_FF = cfg.get("ff") or ((8 * D // 3 + 31) // 32) * 32
if args.prompt + args.new > T:
    sys.exit("generate_torch.py: --prompt + --new exceeds the context %d" % T)


class RMSNorm(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(D))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * self.weight


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.n1, self.n2 = RMSNorm(), RMSNorm()
        self.qkv = nn.Linear(D, D + 2 * KVD, bias=False)
        self.proj = nn.Linear(D, D, bias=False)
        self.w1 = nn.Linear(D, D_FF, bias=False)
        self.w3 = nn.Linear(D, D_FF, bias=False)
        self.w2 = nn.Linear(D_FF, D, bias=False)

    def attention(self, x, cos, sin, cache, pos):
        """x [b, t, D] at positions pos..pos+t-1; cache (k, v) [b, KV, T, HD] or None."""
        b, t, _ = x.shape
        q, k, v = self.qkv(x).split([D, KVD, KVD], dim=2)
        q = rope(q.view(b, t, H, HD).transpose(1, 2), cos, sin)  # [b, H, t, HD]
        k = rope(k.view(b, t, KV, HD).transpose(1, 2), cos, sin)  # [b, KV, t, HD]
        v = v.view(b, t, KV, HD).transpose(1, 2)
        if cache is not None:
            cache[0][:, :, pos:pos + t] = k
            cache[1][:, :, pos:pos + t] = v
            k, v = cache[0][:, :, :pos + t], cache[1][:, :, :pos + t]
        s = k.shape[2]
        # grouped-query attention: the G query heads of a key/value head share one product
        qg = q.reshape(b, KV, G * t, HD)
        att = (qg @ k.transpose(-2, -1)) * (1.0 / HD ** 0.5)  # [b, KV, G t, s]
        if t > 1:
            qpos = torch.arange(pos, pos + t).repeat(G)  # row g*t + i is position pos + i
            att = att.masked_fill(torch.arange(s)[None, :] > qpos[:, None], float("-inf"))
        y = (F.softmax(att, dim=-1) @ v).view(b, H, t, HD)
        return self.proj(y.transpose(1, 2).reshape(b, t, D))

    def forward(self, x, cos, sin, cache=None, pos=0):
        x = x + self.attention(self.n1(x), cos, sin, cache, pos)
        h = self.n2(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


def rope(x, cos, sin):  # rotate-half, as torch_reference.py
    x1, x2 = x[..., :HD // 2], x[..., HD // 2:]
    return torch.cat((x1 * cos - x2 * sin, x1 * sin + x2 * cos), dim=-1)


class Decoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, D)
        self.blocks = nn.ModuleList([Block() for _ in range(L)])
        self.nf = RMSNorm()
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
        inv = 1.0 / (10000.0 ** (torch.arange(0, HD, 2).float() / HD))
        ang = torch.outer(torch.arange(T).float(), inv)
        self.cos, self.sin = ang.cos(), ang.sin()

    def hidden(self, idx, caches=None, pos=0):
        t = idx.shape[1]
        cos, sin = self.cos[pos:pos + t], self.sin[pos:pos + t]
        x = self.wte(idx)
        for i, blk in enumerate(self.blocks):
            x = blk(x, cos, sin, caches[i] if caches else None, pos)
        return self.nf(x)

    def head(self, h):
        return F.linear(h, self.wte.weight)


def generate(model, prompts, new):
    b, p = prompts.shape
    caches = [(torch.empty(b, KV, T, HD), torch.empty(b, KV, T, HD)) for _ in range(L)]
    h = model.hidden(prompts, caches, 0)
    nxt = model.head(h[:, -1]).argmax(-1)
    out = [nxt]
    for i in range(1, new):
        h = model.hidden(nxt[:, None], caches, p + i - 1)
        nxt = model.head(h[:, -1]).argmax(-1)
        out.append(nxt)
    return torch.stack(out, 1)


def seq_nll(model, inp, tgt):
    """Summed NLL per sequence over the targeted positions (tgt >= 0), head on those rows only."""
    h = model.hidden(inp)
    mask = tgt >= 0
    logits = model.head(h[mask])
    nll = F.cross_entropy(logits, tgt[mask], reduction="none")
    rows = torch.arange(inp.shape[0])[:, None].expand_as(tgt)[mask]
    return torch.zeros(inp.shape[0]).index_add_(0, rows, nll)


def evaluate(model, tok):
    """One timed evaluation: (NLL seconds, choice seconds, sum of picked candidates)."""
    tn, tc = EVAL_P + EVAL_G, EVAL_P + EVAL_C
    t0 = time.perf_counter()
    for i0 in range(0, EVAL_N, EVAL_BATCH):
        src = tok[i0:min(EVAL_N, i0 + EVAL_BATCH), :tn]
        tgt = torch.full_like(src, -1)
        tgt[:, EVAL_P - 1:tn - 1] = src[:, EVAL_P:tn]
        seq_nll(model, src, tgt)
    t1 = time.perf_counter()
    prompts = tok[:EVAL_N, :EVAL_P].repeat_interleave(EVAL_K, 0)  # example-major, as lethe
    conts = tok[:EVAL_N, tn:tn + EVAL_K * EVAL_C].reshape(EVAL_N * EVAL_K, EVAL_C)
    seqs = torch.cat([prompts, conts], 1)
    tgts = torch.full_like(seqs, -1)
    tgts[:, EVAL_P - 1:tc - 1] = conts
    cn = torch.cat([seq_nll(model, seqs[i:i + EVAL_BATCH], tgts[i:i + EVAL_BATCH])
                    for i in range(0, EVAL_N * EVAL_K, EVAL_BATCH)])
    picks = int(cn.view(EVAL_N, EVAL_K).argmin(1).sum())
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, picks


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def main():
    torch.manual_seed(args.seed)
    model = Decoder().eval()
    g = torch.Generator().manual_seed(args.seed + 1)
    out = {"engine": "pytorch", "torch_version": torch.__version__, "config": args.config,
           "threads": args.threads, "torch_threads": torch.get_num_threads(),
           "omp_wait_policy_env": os.environ.get("OMP_WAIT_POLICY")}
    with torch.no_grad():
        if args.check:
            prompts = torch.randint(0, V, (B, 4), generator=torch.Generator().manual_seed(7))
            cached, seq = generate(model, prompts, 8), prompts
            for _ in range(8):
                seq = torch.cat([seq, model.head(model.hidden(seq)[:, -1]).argmax(-1)[:, None]], 1)
            if not torch.equal(cached, seq[:, 4:]):
                sys.exit("generate_torch.py: cached generation differs from recomputation")
            print("check: cached generation == recomputation", file=sys.stderr)
        if args.eval:
            tok = torch.randint(0, V, (EVAL_N, 2 * (EVAL_P + EVAL_G)), generator=g)
            tn, tc, picks = [], [], 0
            for i in range(args.warmup + args.steps):
                a, b, p = evaluate(model, tok)
                picks += p
                if i >= args.warmup:
                    tn.append(a)
                    tc.append(b)
            n_in, c_in = EVAL_N * (EVAL_P + EVAL_G), EVAL_N * EVAL_K * (EVAL_P + EVAL_C)
            out.update(mode="eval", examples=EVAL_N, candidates=EVAL_K, nll_input_tokens=n_in,
                       nll_s_median=round(median(tn), 6),
                       nll_tokens_per_s_median=round(n_in / median(tn), 1),
                       choice_input_tokens=c_in, choice_s_median=round(median(tc), 6),
                       choice_tokens_per_s_median=round(c_in / median(tc), 1), picks=picks)
        else:
            prompts = torch.randint(0, V, (B, args.prompt), generator=g)
            times, produced = [], 0
            for i in range(args.warmup + args.steps):
                t0 = time.perf_counter()
                gen = generate(model, prompts, args.new)
                t1 = time.perf_counter()
                produced = gen.numel()
                if i >= args.warmup:
                    times.append(t1 - t0)
            out.update(mode="generate", batch=B, prompt_tokens=args.prompt, new_tokens=produced,
                       s_median=round(median(times), 6),
                       tokens_per_s_median=round(produced / median(times), 1))
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
