#!/usr/bin/env python3
"""hostile_runfiles.py: the run-file reader trusts nothing (docs/run-file.md, "What the reader
checks"). From one small valid run file (a curriculum of its own: two tasks, three stages of a
few steps on a tiny model, seconds to run), h5py makes malformed copies: datasets of the wrong shape, rank or type, attributes that lie
about them, missing datasets and groups, another format_version, a truncated file, random bytes,
a file that is not HDF5. Each goes through `lethe report` in every format, `lethe compare` beside
a good file and `lethe run --resume`; each must exit 2 with one message naming the file (and the
dataset or attribute, where there is one), never crash (a signal, a sanitizer report), and leave
the file byte for byte as it was. Resuming with fewer stages, more stages or another curriculum
(other tasks, another model size) is refused the same way.
Skips (77) without h5py.
"""
import hashlib
import json
import os
import re
import resource
import signal
import shutil
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
except ImportError:
    print("SKIP: python3-h5py is not installed")
    sys.exit(77)

LETHE = os.path.join(os.environ["LETHE_BUILDDIR"], "engine", "lethe")
DUMP = os.path.join(os.environ["LETHE_BUILDDIR"], "tests", "runfile_dump")
SRC = os.environ["LETHE_SRCDIR"]
FORMATS = ("text", "markdown", "csv", "json", "html")


from testlib import check, finish  # noqa: E402


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def lethe(args):
    return subprocess.run([LETHE] + args, capture_output=True, text=True, errors="replace")


def crashed(p):
    return p.returncode < 0 or p.returncode >= 128 or "Sanitizer" in p.stderr or "runtime error" in p.stderr


def refused(p, path, names, what):
    """Exit 2, no crash, one message naming the file (and every string of names)."""
    msg = p.stderr.strip()
    ok = p.returncode == 2 and not crashed(p) and os.path.basename(path) in msg and all(n in msg for n in names)
    ok = ok and len([l for l in msg.splitlines() if l.startswith("lethe:")]) == 1
    check(ok, "%s: exit %d, stderr %r" % (what, p.returncode, msg[-600:]))


# ---- the mutations: each takes an h5py.File opened r+ ------------------------------------------

def replace(f, path, data, keep_attrs=True):
    attrs = dict(f[path].attrs) if keep_attrs else {}
    del f[path]
    f[path] = data
    for k, v in attrs.items():
        f[path].attrs[k] = v


def strings(n):
    return np.array(["x"] * n, dtype=h5py.string_dtype())


MUTATIONS = [
    # (name, function, strings the message must hold)
    ("stats 5x7", lambda f: replace(f, "stages/01_one/eval/reviews/stats", np.zeros((5, 7))),
     ["stages/01_one/eval/reviews/stats", "5x7"]),
    ("aggregate 9", lambda f: f["stages/01_one/eval/reviews"].attrs.__setitem__("aggregate", np.int64(9)),
     ["stages/01_one/eval/reviews", "aggregate"]),
    ("interval cells 2x2x2", lambda f: replace(f, "intervals/primary/cells", np.zeros((2, 2, 2))),
     ["intervals/primary/cells", "2x2x2"]),
    ("interval acc of 3", lambda f: replace(f, "intervals/primary/acc", np.zeros(3)), ["intervals/primary/acc"]),
    ("missing interval of learning", lambda f: f.__delitem__("intervals/primary/learning"), ["intervals/primary/learning"]),
    ("primary 400x400", lambda f: replace(f, "matrices/primary", np.zeros((400, 400))), ["matrices/primary", "400x400"]),
    ("learning of 200000", lambda f: replace(f, "forgetting/primary/learning", np.zeros(200000)),
     ["forgetting/primary/learning", "200000"]),
    ("drift 400x500", lambda f: replace(f, "forgetting/drift/relative_previous", np.zeros((400, 500))),
     ["forgetting/drift/relative_previous"]),
    ("primary 3-D", lambda f: replace(f, "matrices/primary", np.zeros((4, 2, 3))), ["matrices/primary", "4x2x3"]),
    ("primary 2x2", lambda f: replace(f, "matrices/primary", np.zeros((2, 2))), ["matrices/primary", "2x2"]),
    ("primary scalar", lambda f: replace(f, "matrices/primary", np.float64(1.0)), ["matrices/primary", "scalar"]),
    ("learning of 1", lambda f: replace(f, "forgetting/primary/learning", np.zeros(1)), ["forgetting/primary/learning"]),
    ("primary of strings", lambda f: replace(f, "matrices/primary", np.array([["x", "y"]] * 4, dtype=h5py.string_dtype())),
     ["matrices/primary", "strings"]),
    ("transfer of strings", lambda f: replace(f, "forgetting/target_nll/transfer", strings(2)),
     ["forgetting/target_nll/transfer", "strings"]),
    ("negative events", lambda f: replace(f, "forgetting/events/reviews",
                                          np.full(len(f["forgetting/events/reviews"]), -2**31, dtype=np.int32)),
     ["forgetting/events/reviews", "negative"]),
    ("events of floats", lambda f: replace(f, "forgetting/events/reviews", np.zeros(len(f["forgetting/events/reviews"]))),
     ["forgetting/events/reviews", "floats"]),
    ("metrics attribute of 1", lambda f: f["matrices/primary"].attrs.__setitem__("metrics", strings(1)),
     ["metrics", "matrices/primary"]),
    ("columns attribute of 1000", lambda f: f["matrices/primary"].attrs.__setitem__("columns", strings(1000)),
     ["matrices/primary"]),
    ("rows attribute of 1000", lambda f: f.attrs.__setitem__("rows", strings(1000)), ["rows"]),
    ("primary's rows attribute of 1000", lambda f: f["matrices/primary"].attrs.__setitem__("rows", strings(1000)),
     ["rows", "matrices/primary"]),
    ("rows attribute of integers", lambda f: f.attrs.__setitem__("rows", np.arange(4)), ["rows", "integers"]),
    ("missing primary", lambda f: f.__delitem__("matrices/primary"), ["matrices/primary"]),
    ("missing forgetting group", lambda f: f.__delitem__("forgetting"), ["forgetting"]),
    ("missing stage group", lambda f: f.__delitem__("stages/02_two"), ["stages/02_two"]),
    ("missing transfer", lambda f: f.__delitem__("forgetting/primary/transfer"), ["forgetting/primary/transfer"]),
    ("format_version 7", lambda f: f.attrs.__setitem__("format_version", 7), ["format_version 7", "format_version 1"]),
    ("format_version as a string", lambda f: f.attrs.__setitem__("format_version", "1"), ["format_version"]),
    ("another format", lambda f: f.attrs.__setitem__("format", "other"), ["format"]),
    ("loss curve too short", lambda f: replace(f, "stages/01_one/curves/loss", np.zeros(3, dtype=np.float32)),
     ["curves/loss"]),
    ("scores 2-D", lambda f: replace(f, "stages/00_baseline/eval/reviews/score", np.zeros((2, 2))), ["eval/reviews/score"]),
    ("metric values longer than names", lambda f: replace(f, "stages/00_baseline/eval/prose/metric_values", np.zeros(50)),
     ["metric_values"]),
    ("examples attribute lies", lambda f: f["stages/00_baseline/eval/prose"].attrs.__setitem__("examples", 100000),
     ["stages/00_baseline/eval/prose"]),
    ("merges with 3 columns", lambda f: replace(f, "tokenizer/merges", np.zeros((5, 3), dtype=np.int32)), ["tokenizer/merges"]),
    ("model dim as a string", lambda f: f["model"].attrs.__setitem__("dim", "wide"), ["dim", "model"]),
    ("resume params too short", lambda f: replace(f, "resume/params", np.zeros(10, dtype=np.float32)), ["resume/params"]),
    ("trained row out of range", lambda f: replace(f, "forgetting/primary/trained_row", np.array([9999, 1], dtype=np.int32)),
     ["forgetting/primary/trained_row"]),
]


def hostile_bytes(good, bad, kind):
    data = open(good, "rb").read()
    with open(bad, "wb") as f:
        if kind == "truncated":
            f.write(data[: len(data) // 2])
        elif kind == "random":
            f.write(np.random.default_rng(9).integers(0, 256, len(data), dtype=np.uint8).tobytes())
        elif kind == "text":
            f.write(b"lethe: 1\nthis is not a run file\n")
        # "empty": nothing


tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
try:
    # One small valid run: two tasks (one with forgetting events), three short stages.
    os.makedirs(os.path.join(tmp, "curricula"))
    text = """lethe: 1
name: hostile
seed: 7
model: {preset: tiny, context: 48, layers: 2}
tokenizer: {vocab: 300}
train: {batch: 4, steps: 6, optimizer: {lr: 1.0e-3}}
tasks:
  reviews: {plugin: sentiment, train: %(q)s/reviews.train.tsv, eval: %(q)s/reviews.dev.tsv, eval_limit: 16}
  prose: {plugin: text, train: %(t)s/lines.txt, eval: %(t)s/lines.txt, unit: line}
stages:
  - {name: one, tasks: [reviews]}
  - {name: two, tasks: [prose], lr: 5.0e-4}
  - {name: three, tasks: [reviews, prose], freeze: [embeddings]}
output: hostile.h5
""" % {"q": os.path.join(SRC, "curricula", "quickstart"), "t": os.path.join(SRC, "tests", "data", "text")}
    cur = os.path.join(tmp, "curricula", "small.yaml")
    open(cur, "w").write(text)
    good = os.path.join(tmp, "good.h5")
    p = lethe(["run", "--quiet", "--output", good, cur])
    if p.returncode != 0:
        print("FAIL: the small run: exit %d: %s" % (p.returncode, p.stderr))
        sys.exit(1)
    for fmt in FORMATS:
        p = lethe(["report", "--format", fmt, good])
        check(p.returncode == 0 and p.stdout, "report %s of the good file: %s" % (fmt, p.stderr))
    p = lethe(["run", "--quiet", "--resume", "--output", good, cur])
    check(p.returncode == 0, "resuming the complete good file: %s" % p.stderr)

    # The public reader (lethe/runfile.h, through tests/runfile_dump) returns what h5py reads.
    p = subprocess.run([DUMP, good], capture_output=True, text=True)
    check(p.returncode == 0, "runfile_dump: %s" % p.stderr)
    d = json.loads(p.stdout) if p.returncode == 0 else {}
    with h5py.File(good, "r") as f:
        rows = list(f.attrs["rows"])
        cols = list(f["matrices/primary"].attrs["columns"])
        check(d.get("version") == 1 and d.get("name") == "hostile" and d.get("rows") == rows and d.get("columns") == cols,
              "dump: names %r" % {k: d.get(k) for k in ("version", "name", "rows", "columns")})
        check(d.get("plugins") == ["sentiment", "text"] and d.get("metrics") == list(f["matrices/primary"].attrs["metrics"])
              and d.get("lower") == [0, 1] and d.get("trained") == [0, 1, 1, 1], "dump: columns %r" % d)
        for name, m in d.get("matrices", {}).items():
            want = f["matrices/" + name.replace("/", ".")][()].ravel()
            check(np.array_equal(np.array([np.nan if v is None else v for v in m]), want, equal_nan=True),
                  "dump: matrix %s" % name)
        check({n.replace("/", ".") for n in d.get("matrices", {})} == {"primary"} | {n for n in f["matrices"] if n not in ("primary", "rows", "columns")},
              "dump: matrix names %r" % list(d.get("matrices", {})))
        fg = f["forgetting/primary"]
        check(d["forgetting"]["primary"]["trained_row"] == list(fg["trained_row"][()]) and
              np.array_equal(np.array([np.nan if v is None else v for v in d["forgetting"]["primary"]["learning"]]),
                             fg["learning"][()], equal_nan=True), "dump: forgetting")
        evals = [f["stages/%02d_%s/eval/%s" % (r, rows[r], c)] for r in range(len(rows)) for c in cols]
        check(len(d["evals"]) == len(evals) and all(
            e["n"] == g.attrs["examples"] and e["nll"] == sum(g["nll"][()].tolist()) and
            e["tokens"] == int(g["n_tokens"][()].sum()) and e["metrics"] == list(g["metric_names"].asstr()) and
            e["flags"] == list(g["metric_flags"][()]) and e["predictions"] == ("predictions" in g)
            for e, g in zip(d["evals"], evals)), "dump: evaluations")
        check([n for n, _ in d["loss"]] == [0] + [len(f["stages/%02d_%s/curves/loss" % (r, rows[r])]) for r in range(1, len(rows))],
              "dump: curves %r" % d["loss"])
        params = [f["stages/%02d_%s/params" % (r, rows[r])][()].astype(np.float64) for r in range(1, len(rows))]
        check(len(d["params"]) == 3 and all(abs(a - sum(b.tolist())) <= 1e-9 * np.abs(b).sum()
                                            for a, b in zip(d["params"], params)), "dump: parameters")
        check(d["vocab"] == f["tokenizer"].attrs["vocab_size"] and d["steps_taken"] == f["resume"].attrs["optimizer_steps"],
              "dump: tokenizer and resume state")

    cases = [(name, fn, names) for name, fn, names in MUTATIONS] + \
            [(kind + " file", kind, []) for kind in ("truncated", "random", "text", "empty")]
    for i, (name, fn, names) in enumerate(cases):
        bad = os.path.join(tmp, "bad%02d.h5" % i)
        if callable(fn):
            shutil.copy(good, bad)
            with h5py.File(bad, "r+") as f:
                fn(f)
        else:
            hostile_bytes(good, bad, fn)
        before = sha(bad)
        for fmt in FORMATS:
            p = lethe(["report", "--format", fmt, bad])
            refused(p, bad, names, "%s: report --format %s" % (name, fmt))
            if fmt == "text" and os.environ.get("V"):
                print("%-34s %s" % (name, p.stderr.strip()))
        refused(lethe(["compare", good, bad]), bad, names, "%s: compare" % name)
        refused(lethe(["run", "--quiet", "--resume", "--output", bad, cur]), bad, names, "%s: run --resume" % name)
        check(sha(bad) == before, "%s: the file changed" % name)
    print("%d malformed run files" % len(cases))

    # Resuming with another curriculum is refused, naming the first difference.
    others = {
        "fewer stages": text.replace("  - {name: three, tasks: [reviews, prose], freeze: [embeddings]}\n", ""),
        "more stages": text.replace("output:", "  - {name: four, tasks: [prose]}\noutput:"),
        "other stage names": text.replace("name: two", "name: deux"),
        "other tasks": text.replace("prose", "verse"),
        "another plugin": text.replace("prose: {plugin: text", "prose: {plugin: sentiment").replace(", unit: line", "")
        .replace("%s/lines.txt" % os.path.join(SRC, "tests", "data", "text"), os.path.join(SRC, "curricula", "quickstart", "reviews.dev.tsv")),
        "a bigger model": text.replace("layers: 2", "layers: 3"),
        "another context": text.replace("context: 48", "context: 64"),
        "another learning rate": text.replace("lr: 5.0e-4", "lr: 6.0e-4"),
        "another seed": text.replace("seed: 7", "seed: 8"),
    }
    for what, t in others.items():
        path = os.path.join(tmp, "curricula", "other.yaml")
        open(path, "w").write(t)
        before = sha(good)
        p = lethe(["run", "--quiet", "--resume", "--output", good, path])
        refused(p, good, ["written by another curriculum"], "resume with %s" % what)
        check(sha(good) == before, "resume with %s: the file changed" % what)

    # A write that fails half way (the file size limit, as a full disk would): the message names
    # the HDF5 call, the object and the system's reason, HDF5 prints no error stack, the previous file is untouched and
    # the temporary one is removed.
    def small_files():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (300000, 300000))

    before = sha(good)
    p = subprocess.run([LETHE, "run", "--quiet", "--force", "--output", good, cur], capture_output=True, text=True,
                       preexec_fn=small_files)
    msg = p.stderr.strip()
    check(p.returncode == 1 and re.fullmatch(r"lethe: \S*good\.h5\.\d+\.tmp: H5\w+ '[^']*' failed: File too large", msg) is not None,
          "write error: exit %d, %r" % (p.returncode, msg[-600:]))
    left = [n for n in os.listdir(os.path.dirname(good)) if n.startswith(os.path.basename(good) + ".") and n.endswith(".tmp")]
    check(sha(good) == before and not left, "a failed write leaves the file and no .tmp: %r" % left)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
