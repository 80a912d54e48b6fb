#!/usr/bin/env python3
"""sweep.py: `lethe sweep` and `lethe compare` on groups of seeds, end to end on a tiny curriculum
(seconds): three seeds of a sequential curriculum and three of a variant that replays the first
task, with two jobs at once.

Checked: one ordinary run file per seed (DIR/seed-N.h5, default DIR the output without .h5), each
with its own seed; a second sweep skips the complete seeds; `compare --format json` on the two
directories gives per group and measure the mean, the t-based 95% interval over seeds and n,
and per measure Welch's p-value between the groups, all recomputed here with scipy from the
measures stored in the run files; "best" only where the intervals do not overlap; a group of
one run says there are too few seeds.
"""
import json
import os
import shutil
import sys

try:
    import h5py
    import numpy as np
    from scipy import stats
except ImportError:
    sys.exit(77)

from testlib import check, finish, lethe, SRC, tmpdir  # noqa: E402


def runs(d):
    """The run files of a sweep's folder (each has its live log, RUN.h5.log.jsonl, beside it)."""
    return [n for n in os.listdir(d) if n.endswith(".h5")] if os.path.isdir(d) else []


tmp = tmpdir()
try:
    q = os.path.join(SRC, "curricula", "quickstart")
    base = """lethe: 1
name: %(name)s
seed: 5
model: {preset: tiny, context: 48, layers: 2}
tokenizer: {vocab: 300}
train: {batch: 4, steps: 25, optimizer: {lr: 3.0e-3}}
tasks:
  reviews: {plugin: sentiment, train: %(q)s/reviews.train.tsv, eval: %(q)s/reviews.dev.tsv, eval_limit: 24}
  translation: {plugin: translation, source: en, target: de, train: %(q)s/pairs.train.tsv, eval: %(q)s/pairs.dev.tsv, eval_limit: 8, max_new_tokens: 8}
stages:
  - {name: one, tasks: [reviews]}
  - {name: two, tasks: [%(second)s]}
evaluate: {tasks: all, baseline: true}
output: runs/%(name)s.h5
"""
    for name, second in (("seq", "translation"), ("replay", "translation, reviews")):
        open(os.path.join(tmp, name + ".yaml"), "w").write(base % {"name": name, "q": q, "second": second})
    p = lethe(["sweep", "--seeds", "1-3", "--jobs", "2", os.path.join(tmp, "seq.yaml")])
    seq = os.path.join(tmp, "runs", "seq")
    check(p.returncode == 0 and sorted(runs(seq)) == ["seed-1.h5", "seed-2.h5", "seed-3.h5"],
          "sweep seq: exit %d, %s %r" % (p.returncode, p.stderr, os.listdir(seq) if os.path.isdir(seq) else None))
    replay = os.path.join(tmp, "groups", "replay")
    p = lethe(["sweep", "--seeds", "1,2-3", "--out", replay, os.path.join(tmp, "replay.yaml")])
    check(p.returncode == 0 and len(runs(replay)) == 3, "sweep replay --out: %s" % p.stderr)
    seeds = [int(h5py.File(os.path.join(seq, "seed-%d.h5" % i), "r").attrs["seed"]) for i in (1, 2, 3)]
    check(seeds == [1, 2, 3], "each run file has its seed: %r" % seeds)
    p = lethe(["sweep", "--seeds", "1-3", os.path.join(tmp, "seq.yaml")])
    check(p.returncode == 0 and p.stdout.count("is complete, skipped") == 3, "a second sweep skips: %r" % p.stdout)
    p = lethe(["sweep", "--seeds", "3-1", os.path.join(tmp, "seq.yaml")])
    check(p.returncode == 2 and "--seeds" in p.stderr, "a bad seed list: %r" % p.stderr)

    # Groups: recompute with scipy from the stored measures.
    def measures(d):
        out = []
        for n in sorted(runs(d)):
            with h5py.File(os.path.join(d, n), "r") as f:
                a = f["forgetting/primary"].attrs
                out.append([a["acc"], a["bwt"], a["chaudhry"]])
        return np.array(out)
    p = lethe(["compare", "--format", "json", seq, replay])
    check(p.returncode == 0, "compare json: %s" % p.stderr)
    cmp = json.loads(p.stdout) if p.returncode == 0 else {}
    groups = cmp.get("groups", [{}, {}])
    for gi, d in enumerate((seq, replay)):
        m = measures(d)
        for k, name in enumerate(("ACC", "BWT", "forgetting (Chaudhry)")):
            got = groups[gi].get("measures", {}).get(name, {})
            x = m[:, k]
            mean = x.mean()
            half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
            ok = got.get("n") == 3 and abs(got.get("mean", 1e9) - mean) < 1e-12
            if got.get("ci") is not None:
                ok = ok and np.allclose(got["ci"], [mean - half, mean + half], rtol=1e-9, atol=1e-12)
            else:
                ok = False
            check(ok, "group %d %s: %r vs mean %r, ci %r" % (gi, name, got, mean, [mean - half, mean + half]))
    a, b = measures(seq), measures(replay)
    for k, name in enumerate(("ACC", "BWT", "forgetting (Chaudhry)")):
        want = stats.ttest_ind(a[:, k], b[:, k], equal_var=False).pvalue
        got = cmp.get("p_value", {}).get(name)
        ok = (got is None and np.isnan(want)) or (got is not None and abs(got - want) < 1e-9 * max(1, abs(want)))
        check(ok, "p-value %s: %r vs scipy %r" % (name, got, want))
        # "best" only where the intervals do not overlap
        ga, gb = groups[0]["measures"][name], groups[1]["measures"][name]
        overlap = not (ga["ci"][1] < gb["ci"][0] or gb["ci"][1] < ga["ci"][0])
        check(not (overlap and (ga["best"] or gb["best"])), "best despite overlapping intervals: %s" % name)
    check(cmp.get("too_few_seeds") is False, "enough seeds")
    p = lethe(["compare", seq, os.path.join(replay, "seed-1.h5")])
    check(p.returncode == 0 and "Too few seeds" in p.stdout and "p (1 vs 2)" in p.stdout, "one run: %r" % p.stdout)
    for fmt in ("markdown", "csv", "html"):
        p = lethe(["compare", "--format", fmt, seq, replay])
        check(p.returncode == 0 and "ACC" in p.stdout, "compare %s: %s" % (fmt, p.stderr))
    empty = os.path.join(tmp, "empty")
    os.makedirs(empty)
    p = lethe(["compare", seq, empty])
    check(p.returncode == 2 and "without run files" in p.stderr, "an empty directory: %r" % p.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
