#!/usr/bin/env python3
"""bf16.py: end-to-end tests of train: {precision: bf16} (docs/performance.md#bf16) through the
real `lethe` binary, reading run files with h5py:

1. mistakes and refusals are reported with file:line:column and exit 2: an unknown precision; bf16
   on a build without oneDNN ("lethe was built without oneDNN; install libdnnl-dev and
   reconfigure"), or, with oneDNN, on a CPU without AVX512_BF16 (simulated with
   LETHE_BF16_UNSUPPORTED=1);
2. precision: fp32 is bit-identical to no key (tests/rundigest.py);
3. where bf16 runs: the quick start's first stage (reviews, 150 steps) in bf16 ends within 2% of
   fp32's final training loss (mean of the last 10 steps), its curve is not fp32's (the products
   really were bf16), and the stage's settings line and row attribute record "precision": "bf16"
   (fp32's do not), which `lethe validate` and `lethe report` (text, JSON, CSV) show.
Only part 1 runs where lethe was built without oneDNN or the CPU lacks AVX512_BF16.
Skips (77) without h5py.
"""
import json
import os
import shutil
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError:
    print("SKIP: python3-h5py is not installed")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rundigest  # noqa: E402
from testlib import SRC, check, finish, lethe as lethe_  # noqa: E402


def lethe(args, env=None):
    e = dict(os.environ)
    e.update(env or {})
    return lethe_(args, env=e)


Q = os.path.join(SRC, "curricula", "quickstart")


def curriculum(path, precision_line, steps=150):
    """The quick start's first stage; precision_line goes in train: at line 8, column 3."""
    text = """lethe: 1
name: bf16
seed: 1234
model: {preset: tiny, context: 96}
tokenizer: {vocab: 1024}
train:
  optimizer: {name: adamw, lr: 2.0e-3, weight_decay: 0.01}
  %(p)s
  schedule: {name: cosine, warmup: 10}
  batch: 16
  steps: %(steps)d
  clip: 1.0
tasks:
  reviews: {plugin: sentiment, train: %(q)s/reviews.train.tsv, eval: %(q)s/reviews.dev.tsv, eval_limit: 20}
stages:
  - {name: reviews, tasks: [reviews]}
evaluate: {tasks: all, baseline: false}
""" % {"q": Q, "p": precision_line, "steps": steps}
    with open(path, "w") as f:
        f.write(text)
    return path


def run(cur, out):
    p = lethe(["run", "--quiet", "--threads", "2", "--force", "--output", out, cur])
    check(p.returncode == 0, "run %s: exit %d: %s" % (os.path.basename(cur), p.returncode, p.stderr))
    return p.returncode == 0


def final_loss(path):
    with h5py.File(path, "r") as f:
        row = [r for r in f["stages"] if r.endswith("_reviews")][0]
        loss = f["stages"][row]["curves/loss"][()]
    return loss, float(np.mean(loss[-10:]))


def settings(path):
    with h5py.File(path, "r") as f:
        lines = f["curriculum/stages"][()]
    return [json.loads(x.decode() if isinstance(x, bytes) else x) for x in lines]


tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
try:
    # 1. Mistakes and refusals, at the key's value: line 8, column 14 ("  precision: " is 13).
    bad = curriculum(os.path.join(tmp, "bad.yaml"), "precision: fp16")
    p = lethe(["validate", bad])
    check(p.returncode == 2 and "bad.yaml:8:14: precision: expected one of 'fp32', 'bf16', got 'fp16'" in p.stderr,
          "unknown precision: exit %d: %s" % (p.returncode, p.stderr))
    b = curriculum(os.path.join(tmp, "b.yaml"), "precision: bf16")
    p = lethe(["validate", b])
    no_dnnl = "lethe was built without oneDNN; install libdnnl-dev and reconfigure" in p.stderr
    no_cpu = "lacks AVX512_BF16" in p.stderr
    if no_dnnl or no_cpu:
        check(p.returncode == 2 and "b.yaml:8:14: precision: bf16: " in p.stderr,
              "bf16 refused here: exit %d: %s" % (p.returncode, p.stderr))
        print("bf16 unavailable here (%s): only the refusals are tested" % p.stderr.strip())
    else:
        check(p.returncode == 0, "validate bf16: exit %d: %s" % (p.returncode, p.stderr))
        p = lethe(["validate", b], {"LETHE_BF16_UNSUPPORTED": "1"})
        check(p.returncode == 2 and "b.yaml:8:14: precision: bf16: this CPU lacks AVX512_BF16" in p.stderr,
              "bf16 on a CPU without it: exit %d: %s" % (p.returncode, p.stderr))

    # 2. precision: fp32 is no key at all.
    a1 = os.path.join(tmp, "a1.h5")
    a2 = os.path.join(tmp, "a2.h5")
    if run(curriculum(os.path.join(tmp, "none.yaml"), "# no precision key", steps=6), a1) and \
            run(curriculum(os.path.join(tmp, "fp32.yaml"), "precision: fp32", steps=6), a2):
        check(rundigest.digest(a1) == rundigest.digest(a2), "precision: fp32 changed the run file")

    # 3. bf16 against fp32 on the quick start's first stage.
    if not (no_dnnl or no_cpu):
        f32 = os.path.join(tmp, "f32.h5")
        b16 = os.path.join(tmp, "b16.h5")
        if run(curriculum(os.path.join(tmp, "f32.yaml"), "precision: fp32"), f32) and run(b, b16):
            lf, mf = final_loss(f32)
            lb, mb = final_loss(b16)
            print("final training loss (mean of the last 10 steps): fp32 %.6g, bf16 %.6g (%+.2f%%)"
                  % (mf, mb, 100 * (mb / mf - 1)))
            check(abs(mb / mf - 1) <= 0.02, "bf16's final loss %.6g is not within 2%% of fp32's %.6g" % (mb, mf))
            check(not np.array_equal(lf, lb), "bf16's loss curve is fp32's: the products were not bf16")
            sb, sf = settings(b16)[0], settings(f32)[0]
            check(sb.get("precision") == "bf16", "bf16 settings line %r" % sb)
            check("precision" not in sf, "fp32 settings line %r" % sf)
            # The row's precision attribute, and what validate and report say of it.
            with h5py.File(b16, "r") as f, h5py.File(f32, "r") as g:
                rb = [r for r in f["stages"] if r.endswith("_reviews")][0]
                rf = [r for r in g["stages"] if r.endswith("_reviews")][0]
                pb = f["stages"][rb].attrs.get("precision")
                pb = pb.decode() if isinstance(pb, bytes) else pb
                check(pb == "bf16", "bf16 row's precision attribute: %r" % pb)
                check("precision" not in g["stages"][rf].attrs, "fp32 row has a precision attribute")
            p = lethe(["validate", b])
            check("  precision: bf16 (training matrix products in bfloat16, fp32 accumulation)" in p.stdout,
                  "validate does not show bf16: %s" % p.stdout)
            p = lethe(["report", b16])
            check(p.returncode == 0 and "Precision: bf16 (training matrix products in bfloat16, fp32 "
                  "accumulation) in stages reviews" in p.stdout, "report: exit %d: %s%s"
                  % (p.returncode, p.stdout, p.stderr))
            p = lethe(["report", "--format", "json", b16])
            check(p.returncode == 0 and json.loads(p.stdout).get("precision") == {"reviews": "bf16"},
                  "report --format json: %s" % p.stdout[:400])
            p = lethe(["report", "--format", "csv", b16])
            check("precision,reviews,,bf16," in p.stdout.splitlines(), "report --format csv: %s" % p.stdout[:400])
            p = lethe(["report", f32])
            check(p.returncode == 0 and "Precision" not in p.stdout, "fp32 report mentions precision")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
