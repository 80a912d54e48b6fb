#!/usr/bin/env python3
"""sample.py: eval_limit's random sample and train_limit (engine/run/sample.c) end to end.
On the quick start's review data (label balance 56/44 or so): the eval sample is stratified by
label (each label's count within one of its share), its indices increasing and distinct, the same
for two runs with the same data seed and different for another; eval_sample: first takes
0..N-1; train_limit keeps N training examples; the evaluated predictions are those of the sampled
examples (the per-example arrays have N entries)."""
import csv
import os
import subprocess
import sys
import tempfile

try:
    import h5py
except ImportError:
    print("SKIP: python3-h5py is not installed")
    sys.exit(77)

BUILD = os.environ["LETHE_BUILDDIR"]
SRC = os.path.abspath(os.environ.get("LETHE_SRCDIR", "."))
LETHE = os.path.join(BUILD, "engine", "lethe")
Q = os.path.join(SRC, "curricula", "quickstart")
failed = 0


def check(ok, what):
    global failed
    if not ok:
        failed += 1
        print("FAIL:", what)


tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))


def run(name, seed, extra):
    cur = os.path.join(tmp, name + ".yaml")
    with open(cur, "w") as f:
        f.write("""lethe: 1
name: %s
seed: %s
model: {preset: tiny, context: 48, layers: 1}
tokenizer: {vocab: 300}
train: {batch: 4, steps: 2}
tasks:
  reviews: {plugin: sentiment, train: %s/reviews.train.tsv, eval: %s/reviews.dev.tsv, eval_limit: 25%s}
  pairs: {plugin: translation, source: en, target: de, train: %s/pairs.train.tsv, eval: %s/pairs.dev.tsv, eval_limit: 7, max_new_tokens: 2}
stages:
  - {name: one, tasks: [reviews]}
""" % (name, seed, Q, Q, extra, Q, Q))
    out = os.path.join(tmp, name + ".h5")
    p = subprocess.run([LETHE, "run", "--quiet", "-o", out, cur], capture_output=True, text=True)
    check(p.returncode == 0, "%s: exit %d %s" % (name, p.returncode, p.stderr))
    f = h5py.File(out, "r")
    return f


labels = [row[1] for row in csv.reader(open(os.path.join(Q, "reviews.dev.tsv")), delimiter="\t")][1:]
a = run("a", 11, ", train_limit: 50")
ev = a["samples/reviews/eval"][()]
check(a["samples/reviews/eval"].attrs["kind"] == "stratified", "reviews sample kind %r" % a["samples/reviews/eval"].attrs["kind"])
check(len(ev) == 25 and list(ev) == sorted(set(ev)) and ev.max() < len(labels), "eval indices %r" % list(ev))
for lab in set(labels):
    share = 25 * labels.count(lab) / len(labels)
    got = sum(1 for i in ev if labels[i] == lab)
    check(abs(got - share) < 1, "label %s: %d sampled, share %.2f" % (lab, got, share))
check(a["samples/pairs/eval"].attrs["kind"] == "random" and len(a["samples/pairs/eval"]) == 7, "pairs sample")
check(len(a["samples/reviews/train"]) == 50 and a["samples/reviews/train"].attrs["kind"] == "random", "train_limit")
check("train" not in a["samples/pairs"], "pairs has no train_limit but a train sample")
rows = sorted(a["stages"].keys())
for r in rows:
    g = a["stages/%s/eval/reviews" % r]
    check(all(len(g[k]) == 25 for k in ("nll", "n_tokens", "score", "predictions")) and g.attrs["examples"] == 25,
          "row %s: per-example arrays are not of the sample's size" % r)
b = run("b", 11, ", train_limit: 50")
check((b["samples/reviews/eval"][()] == ev).all() and (b["samples/pairs/eval"][()] == a["samples/pairs/eval"][()]).all(),
      "the same seed chose another sample")
c = run("c", "{init: 11, data: 12}", "")
check(not (c["samples/reviews/eval"][()] == ev).all(), "another data seed chose the same sample")
d = run("d", 11, ", eval_sample: first")
check(list(d["samples/reviews/eval"][()]) == list(range(25)) and d["samples/reviews/eval"].attrs["kind"] == "first",
      "eval_sample: first")
print("sample: %s" % ("ok" if not failed else "%d failures" % failed))
sys.exit(1 if failed else 0)
