#!/usr/bin/env python3
"""instruct.py: the `instruct` plugin end to end. A short version of curricula/instruct.yaml
(Alpaca, ShareGPT and chat-messages files, one stage each) validates, trains, and its run file
holds ROUGE-L (primary), exact match and the target NLL for every task after every row; each
trained task's target NLL falls below its baseline in its own stage (the loss is on the
assistant's turns: a model that learnt nothing would not move it). `lethe inspect` shows one
example per assistant turn.
"""
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
SRC = os.environ.get("LETHE_SRCDIR", ".")
LETHE = os.path.join(BUILD, "engine", "lethe")
DATA = os.path.join(os.path.abspath(SRC), "curricula", "instruct")
failed = 0


def check(ok, what):
    global failed
    if not ok:
        failed += 1
        print("FAIL:", what)


tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
cur = os.path.join(tmp, "instruct-mini.yaml")
with open(cur, "w") as f:
    f.write("""lethe: 1
name: instruct-mini
seed: 3
model: {preset: tiny, context: 160, layers: 2}
tokenizer: {vocab: 600}
train: {batch: 8, steps: 40, optimizer: {lr: 3.0e-3}}
tasks:
  alpaca: {plugin: instruct, train: %(d)s/alpaca.train.jsonl, eval: %(d)s/alpaca.dev.jsonl, eval_limit: 8, max_new_tokens: 8}
  arithmetic: {plugin: instruct, format: sharegpt, train: %(d)s/sharegpt.train.jsonl, eval: %(d)s/sharegpt.dev.jsonl, eval_limit: 8, max_new_tokens: 8}
  german: {plugin: instruct, format: messages, turns: last, train: %(d)s/messages.train.jsonl, eval: %(d)s/messages.dev.jsonl, eval_limit: 8, max_new_tokens: 8}
stages:
  - {name: alpaca, tasks: [alpaca]}
  - {name: arithmetic, tasks: [arithmetic]}
  - {name: german, tasks: [german]}
""" % {"d": DATA})
run = os.path.join(tmp, "run.h5")
p = subprocess.run([LETHE, "run", "--quiet", "--threads", "1", "-o", run, cur], capture_output=True, text=True)
check(p.returncode == 0, "run: exit %d %s" % (p.returncode, p.stderr))
check("1200 examples from 600 records" in p.stderr, "no per-turn count in the log: %r" % p.stderr)
if p.returncode == 0:
    with h5py.File(run, "r") as f:
        m = f["matrices"]
        check(set(["rougeL", "exact_match", "target_nll"]) <= set(m.keys()), "matrices: %r" % list(m.keys()))
        r, em, nll = m["rougeL"][()], m["exact_match"][()], m["target_nll"][()]
        check(r.shape == (4, 3) and em.shape == (4, 3), "matrix shapes %r %r" % (r.shape, em.shape))
        check(((r >= 0) & (r <= 1)).all() and ((em >= 0) & (em <= 1)).all(), "scores out of [0, 1]")
        for k in range(3):
            check(nll[k + 1, k] < nll[0, k] - 0.5,
                  "task %d: target NLL %.3f after its stage, %.3f before" % (k, nll[k + 1, k], nll[0, k]))
p = subprocess.run([LETHE, "inspect", "-o", "format=sharegpt", "-n", "2", "instruct",
                    os.path.join(DATA, "sharegpt.dev.jsonl")], capture_output=True, text=True)
check(p.returncode == 0 and "### Assistant:" in p.stdout and "times" in p.stdout,
      "inspect: exit %d %s %s" % (p.returncode, p.stdout[:400], p.stderr))
print("instruct: %s" % ("ok" if not failed else "%d failures" % failed))
sys.exit(1 if failed else 0)
