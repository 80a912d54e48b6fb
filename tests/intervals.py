#!/usr/bin/env python3
"""intervals.py: the paired bootstrap of docs/forgetting.md ("Intervals") against a Python
reimplementation on the per-example sufficient statistics a run file stores.

A tiny run with one task of every bundled plugin (accuracy and ROUGE-L: means; entity F1, BLEU and
perplexity: corpus metrics recomputed from summed statistics). Checked here:
1. each cell of the primary matrix is its statistics combined over all examples (so the
   statistics are those of the metric the plugin reports);
2. /intervals/primary: every cell's interval, ACC's and BWT's, recomputed in Python with the same
   resamples (SplitMix64 indices, seed + column) and numpy's percentiles;
3. `lethe report --format json` gives each figure as {"value": x, "ci": [low, high]};
4. the target NLL's intervals (computed by the reader from the stored per-example NLL and token
   counts, with the same resamples): BWT and a task's forgetting, recomputed in Python.
"""
import json
import math
import os
import shutil
import subprocess
import sys

try:
    import h5py
    import numpy as np
except ImportError:
    sys.exit(77)

from testlib import check, finish, LETHE, SRC, tmpdir  # noqa: E402
M64 = (1 << 64) - 1


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def indices(n, b, seed):
    """lethe_bootstrap_indices(): Lemire's bounded integers from SplitMix64."""
    state, out = seed & M64, []
    for _ in range(n * b):
        state, r = splitmix64(state)
        m = (r >> 32) * n
        low = m & 0xFFFFFFFF
        if low < n:
            threshold = ((1 << 32) - n) % n
            while low < threshold:
                state, r = splitmix64(state)
                m = (r >> 32) * n
                low = m & 0xFFFFFFFF
        out.append(m >> 32)
    return np.array(out, dtype=np.int64).reshape(b, n)


def bleu(s):
    """sacrebleu's compute_bleu() with exponential smoothing, from summed statistics."""
    correct, total, sys_len, ref_len = s[0:4], s[4:8], s[8], s[9]
    if sys_len < ref_len:
        bp = math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0
    else:
        bp = 1.0
    precisions, smooth, order = [0.0] * 4, 1.0, 4
    for n in range(4):
        if total[n] == 0:
            break
        if correct[n] == 0:
            smooth *= 2
            precisions[n] = 100.0 / (smooth * total[n])
        else:
            precisions[n] = 100.0 * correct[n] / total[n]
    logs = [math.log(p) if p > 0 else -9999999999 for p in precisions[:order]]
    return bp * math.exp(sum(logs) / order)


def combine(agg, stats):
    """lethe_aggregate: 0 mean, 1 F1, 2 BLEU, 3 exp(sum a / sum b)."""
    if agg == 0:
        v = stats[:, 0]
        v = v[~np.isnan(v)]
        return v.mean() if len(v) else math.nan
    s = stats.sum(axis=0)
    if agg == 1:
        p = s[0] / s[1] if s[1] > 0 else 0.0
        r = s[0] / s[2] if s[2] > 0 else 0.0
        return 2 * p * r / (p + r) if p + r > 0 else 0.0
    if agg == 2:
        return bleu(s)
    return math.exp(s[0] / s[1]) if s[1] > 0 else math.nan


tmp = tmpdir()
try:
    q = os.path.join(SRC, "curricula", "quickstart")
    text = """lethe: 1
name: intervals
seed: 5
model: {preset: tiny, context: 64, layers: 2}
tokenizer: {vocab: 320}
train: {batch: 4, steps: 8, optimizer: {lr: 2.0e-3}}
tasks:
  reviews: {plugin: sentiment, train: %(q)s/reviews.train.tsv, eval: %(q)s/reviews.dev.tsv, eval_limit: 24}
  entities: {plugin: ner, train: %(q)s/entities.train.txt, eval: %(q)s/entities.dev.txt, eval_limit: 12, max_new_tokens: 16}
  translation: {plugin: translation, source: en, target: de, train: %(q)s/pairs.train.tsv, eval: %(q)s/pairs.dev.tsv, eval_limit: 12, max_new_tokens: 16}
  summaries: {plugin: summarize, train: %(q)s/summaries.train.jsonl, eval: %(q)s/summaries.dev.jsonl, eval_limit: 8, max_new_tokens: 12}
  prose: {plugin: text, train: %(t)s/lines.txt, eval: %(t)s/lines.txt, unit: line}
stages:
  - {name: one, tasks: [reviews]}
  - {name: two, tasks: [entities, translation]}
  - {name: three, tasks: [summaries, prose]}
evaluate: {tasks: all, baseline: true}
output: intervals.h5
""" % {"q": q, "t": os.path.join(SRC, "tests", "data", "text")}
    cur = os.path.join(tmp, "iv.yaml")
    open(cur, "w").write(text)
    out = os.path.join(tmp, "iv.h5")
    p = subprocess.run([LETHE, "run", "--quiet", "--threads", "2", "--output", out, cur], capture_output=True, text=True)
    if p.returncode != 0:
        print("FAIL: the run: %s" % p.stderr)
        sys.exit(1)
    with h5py.File(out, "r") as f:
        rows = [r.decode() if isinstance(r, bytes) else r for r in f.attrs["rows"]]
        m = f["matrices/primary"][()]
        cols = [c.decode() if isinstance(c, bytes) else c for c in f["matrices/primary"].attrs["columns"]]
        R, C = m.shape
        fg = f["forgetting/primary"]
        scale = fg["scale"][()]
        trained = fg["trained_row"][()]
        iv = f["intervals/primary"]
        B, seed, level = int(iv.attrs["resamples"]), int(iv.attrs["seed"]), float(iv.attrs["level"])
        check(B == 1000 and level == 0.95 and seed == 5, "resamples %d, level %g, seed %d" % (B, level, seed))
        stats, agg = {}, {}
        for r in range(R):
            for c in range(C):
                g = f["stages/%02d_%s/eval/%s" % (r, rows[r], cols[c])]
                stats[r, c] = g["stats"][()]
                agg[c] = int(g.attrs["aggregate"])
        check([agg[c] for c in range(C)] == [0, 1, 2, 0, 3], "aggregates %r" % agg)
        # 1. The statistics give the reported metric.
        for (r, c), s in stats.items():
            want, got = m[r, c], combine(agg[c], s)
            check(abs(want - got) <= 1e-9 * max(1.0, abs(want)), "%s after %s: %r from the statistics, %r reported" % (cols[c], rows[r], got, want))
        # 2. The same resamples in Python: every cell, ACC and BWT.
        lower = [c == 4 for c in range(C)]  # perplexity
        Mb = np.full((B, R, C), np.nan)
        for c in range(C):
            n = stats[0, c].shape[0]
            idx = indices(n, B, seed + c)
            for b in range(B):
                for r in range(R):
                    Mb[b, r, c] = combine(agg[c], stats[r, c][idx[b]])
        pct = lambda v: np.percentile(v[~np.isnan(v)], [2.5, 97.5])
        cells = iv["cells"][()]
        for r in range(R):
            for c in range(C):
                want = pct(Mb[:, r, c])
                check(np.allclose(cells[r, c], want, rtol=1e-9, atol=1e-12), "cell %s/%s: %r vs %r" % (rows[r], cols[c], cells[r, c], want))
        S = Mb / scale
        acc = np.nanmean(S[:, -1, :], axis=1)
        check(np.allclose(iv["acc"][()], pct(acc), rtol=1e-9), "ACC interval %r vs %r" % (iv["acc"][()], pct(acc)))
        bwt_terms = []
        for c in range(C):
            t = trained[c]
            if 0 < t < R - 1:
                sgn = -1.0 if lower[c] else 1.0
                bwt_terms.append(sgn * (S[:, -1, c] - S[:, t, c]))
        bwt = np.nanmean(np.array(bwt_terms), axis=0)
        check(np.allclose(iv["bwt"][()], pct(bwt), rtol=1e-9), "BWT interval %r vs %r" % (iv["bwt"][()], pct(bwt)))
        # Paired: the forgetting of reviews uses one resample for both rows.
        t = trained[0]
        fr = S[:, t, 0] - S[:, -1, 0]
        check(np.allclose(iv["forgetting"][0], pct(fr), rtol=1e-9, atol=1e-12), "reviews' forgetting interval %r vs %r" % (iv["forgetting"][0], pct(fr)))
        point = fg["forgetting"][0]
        check(iv["forgetting"][0][0] <= point + 1e-12 and point <= iv["forgetting"][0][1] + 1e-12, "the interval holds the point")
        stored_acc, acc_ci = fg.attrs["acc"], iv["acc"][()]
        # 4. The target NLL (lethe_runfile_nll_intervals(), computed on reading): the same
        # resamples of each column's examples, sum NLL / sum tokens, every task lower-is-better.
        ftn = f["forgetting/target_nll"]
        Nb = np.full((B, R, C), np.nan)
        for c in range(C):
            ev = [f["stages/%02d_%s/eval/%s" % (r, rows[r], cols[c])] for r in range(R)]
            nll = [g["nll"][()] for g in ev]
            tok = [g["n_tokens"][()].astype(float) for g in ev]
            idx = indices(len(nll[0]), B, seed + c)
            for b in range(B):
                for r in range(R):
                    Nb[b, r, c] = nll[r][idx[b]].sum() / tok[r][idx[b]].sum()
        ntrained = ftn["trained_row"][()]
        terms = [-(Nb[:, -1, c] - Nb[:, ntrained[c], c]) for c in range(C) if 0 < ntrained[c] < R - 1]
        nll_bwt = pct(np.nanmean(np.array(terms), axis=0))
        nll_fr = pct(Nb[:, -1, 0] - Nb[:, ntrained[0], 0])  # reviews, lower is better
        nll_point = ftn.attrs["bwt"]
    # 3. The report's JSON.
    p = subprocess.run([LETHE, "report", "--format", "json", out], capture_output=True, text=True)
    rep = json.loads(p.stdout) if p.returncode == 0 else {}
    a = rep.get("primary", {}).get("acc", {})
    check(abs(a.get("value", -1) - stored_acc) < 1e-12 and np.allclose(a.get("ci"), acc_ci), "report json acc %r" % a)
    cell = rep.get("matrix", [[{}]])[1][0]
    check(abs(cell.get("value", -1) - m[1, 0]) < 1e-12 and np.allclose(cell.get("ci"), cells[1, 0]), "report json cell %r" % cell)
    check(rep.get("primary", {}).get("scale") == "0-1", "report json scale")
    tb = rep.get("target_nll", {}).get("bwt", {})
    check(abs(tb.get("value", -1) - nll_point) < 1e-12 and tb.get("ci") is not None and np.allclose(tb["ci"], nll_bwt, rtol=1e-9),
          "target NLL BWT interval %r vs %r" % (tb, nll_bwt))
    tf = rep.get("target_nll", {}).get("forgetting", {}).get(cols[0], {})
    check(tf.get("ci") is not None and np.allclose(tf["ci"], nll_fr, rtol=1e-9, atol=1e-12),
          "target NLL forgetting interval of %s: %r vs %r" % (cols[0], tf, nll_fr))
    p = subprocess.run([LETHE, "report", out], capture_output=True, text=True)
    check(p.returncode == 0 and "[low, high]: 95% paired bootstrap" in p.stdout, "report text: %s" % p.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
