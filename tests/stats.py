#!/usr/bin/env python3
"""stats.py: the statistics of intervals and comparisons (engine/metrics/stats.c) against Python:
the bootstrap indices against a reimplementation of their generator (SplitMix64, Lemire's bounded
integers), percentiles against numpy.percentile, bootstrap intervals of a mean (NaN-aware)
against numpy over the same resamples, Welch's t-test against scipy.stats.ttest_ind(equal_var=
False), and BLEU from summed sentence statistics against sacrebleu's compute_bleu formula.
Skips (77) without numpy or scipy.
"""
import math
import os
import random
import subprocess
import sys

try:
    import numpy as np
    from scipy import stats
except ImportError:
    print("SKIP: numpy or scipy (python3-sklearn brings both) is not installed")
    sys.exit(77)

TOOL = os.path.join(os.environ["LETHE_BUILDDIR"], "tests", "stats_tool")
M64 = (1 << 64) - 1


from testlib import check, finish  # noqa: E402


def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & M64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return state, z ^ (z >> 31)


def indices(n, b, seed):
    state, out = seed, []
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
    return np.array(out).reshape(b, n)


rng = random.Random(11)
cmds, expect = [], []
for n, b, seed in ((1, 3, 0), (7, 5, 1234), (100, 20, 2**63 + 5), (3, 50, 42)):
    cmds.append("indices %d %d %d" % (n, b, seed))
    expect.append(("indices", indices(n, b, seed)))
for _ in range(200):
    vals = [rng.choice([rng.random(), rng.randint(-5, 5), 0.5]) for _ in range(rng.randint(1, 30))]
    p = rng.choice([0, 2.5, 50, 97.5, 100, rng.uniform(0, 100)])
    cmds.append("percentile %r %s" % (p, " ".join(repr(v) for v in vals)))
    expect.append(("percentile", float(np.percentile(vals, p))))
for _ in range(30):
    n = rng.randint(1, 60)
    x = [rng.choice([0.0, 1.0, rng.random(), float("nan")]) for _ in range(n)]
    b, seed, level = rng.choice([10, 200, 1000]), rng.randint(0, 10**6), rng.choice([0.9, 0.95, 0.99])
    idx = indices(n, b, seed)
    xs = np.array(x)
    means = [np.nanmean(xs[row]) for row in idx if not np.isnan(xs[row]).all()]
    a = (1 - level) / 2 * 100
    want = (np.percentile(means, a), np.percentile(means, 100 - a)) if means else (math.nan, math.nan)
    cmds.append("meanci %d %d %d %r %s" % (n, b, seed, level, " ".join(repr(v) for v in x)))
    expect.append(("meanci", want))
for _ in range(100):
    a = [rng.gauss(0, 1) for _ in range(rng.randint(2, 12))]
    b = [rng.gauss(rng.uniform(-2, 2), rng.uniform(0.1, 3)) for _ in range(rng.randint(2, 12))]
    r = stats.ttest_ind(a, b, equal_var=False)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    cmds.append("welch %d %s" % (len(a), " ".join(repr(v) for v in a + b)))
    expect.append(("welch", (r.statistic, df, r.pvalue)))
for _ in range(100):
    totals = [rng.randint(0, 50) for _ in range(4)]
    totals.sort(reverse=True)
    counts = [rng.randint(0, t) for t in totals]
    sys_len, ref_len = totals[0], rng.randint(1, 60)
    # sacrebleu's compute_bleu, smooth_method='exp'
    prec, smooth, score = [0.0] * 4, 1.0, 0.0
    if any(counts):
        for n in range(1, 5):
            if totals[n - 1] == 0:
                break
            if counts[n - 1] == 0:
                smooth *= 2
                prec[n - 1] = 100.0 / (smooth * totals[n - 1])
            else:
                prec[n - 1] = 100.0 * counts[n - 1] / totals[n - 1]
        bp = 1.0 if sys_len >= ref_len else (math.exp(1 - ref_len / sys_len) if sys_len > 0 else 0.0)
        score = bp * math.exp(sum(math.log(p) if p > 0 else -9999999999 for p in prec) / 4)
    cmds.append("bleu %s %d %d" % (" ".join(str(v) for v in counts + totals), sys_len, ref_len))
    expect.append(("bleu", score))

p = subprocess.run([TOOL], input="\n".join(cmds) + "\n", capture_output=True, text=True)
check(p.returncode == 0, "stats_tool exit %d: %s" % (p.returncode, p.stderr))
out = p.stdout.splitlines()
check(len(out) == len(cmds), "%d answers for %d commands" % (len(out), len(cmds)))
bad = {}
for line, (kind, want) in zip(out, expect):
    got = line.split()
    if kind == "indices":
        ok = np.array_equal(np.array([int(v) for v in got]).reshape(want.shape), want)
    elif kind == "percentile" or kind == "bleu":
        ok = float(got[0]) == want or abs(float(got[0]) - want) <= 1e-12 * max(1.0, abs(want))
    elif kind == "meanci":
        # numpy sums pairwise, lethe in index order: equal to rounding
        ok = all((math.isnan(float(g)) and math.isnan(w)) or abs(float(g) - w) <= 1e-12 * max(1.0, abs(w))
                 for g, w in zip(got, want))
    else:
        ok = all(abs(float(g) - w) <= 1e-9 * max(1e-300, abs(w)) for g, w in zip(got, want))
    if not ok:
        bad.setdefault(kind, []).append((line, want))
for kind in ("indices", "percentile", "meanci", "welch", "bleu"):
    check(kind not in bad, "%s: %d differ, first %r" % (kind, len(bad.get(kind, [])), bad.get(kind, [None])[0]))
finish()
