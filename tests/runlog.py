#!/usr/bin/env python3
"""runlog.py: the live log of `lethe run` (engine/run/runlog.c) and `lethe report --follow`.
A short curriculum on the text fixture writes RUN.h5.log.jsonl: a start record, one step record
per optimizer step with its task losses, every metric of every row, and an end record "ok"; the
step losses equal the run file's loss curves (the log says what the file keeps). The CSV form has
13 columns on every line; --log '' writes none; --resume appends; `report --follow` watches a run
in progress to its end.
"""
import csv
import json
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
SRC = os.path.abspath(os.environ.get("LETHE_TEST_SRCDIR", "tests"))
LETHE = os.path.join(BUILD, "engine", "lethe")
TEXT = os.path.join(SRC, "data", "text", "lines.txt")
failed = 0


def check(ok, what):
    global failed
    if not ok:
        failed += 1
        print("FAIL:", what)


tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
cur = os.path.join(tmp, "log.yaml")
with open(cur, "w") as f:
    f.write("""lethe: 1
name: logged
seed: 4
model: {preset: tiny, context: 32, layers: 1}
tokenizer: {vocab: 280}
train: {batch: 2, steps: 5}
tasks:
  a: {plugin: text, train: %s, eval: %s, unit: line}
  b: {plugin: text, train: %s, eval: %s, unit: line}
stages:
  - {name: one, tasks: [a]}
  - {name: two, mix: {a: 1, b: 1}}
""" % (TEXT, TEXT, TEXT, TEXT))


def run(out, *extra):
    return subprocess.run([LETHE, "run", "--quiet", "-o", out] + list(extra) + [cur], capture_output=True, text=True)


out = os.path.join(tmp, "r.h5")
p = run(out)
check(p.returncode == 0, "run: %s" % p.stderr)
recs = [json.loads(line) for line in open(out + ".log.jsonl")]
ev = [r["event"] for r in recs]
check(ev[0] == "start" and ev[-1] == "end" and recs[-1]["status"] == "ok", "start/end: %r" % recs[-1])
steps = [r for r in recs if r["event"] == "step"]
check([(r["stage"], r["step"]) for r in steps] == [("one", i) for i in range(1, 6)] + [("two", i) for i in range(1, 6)],
      "step records %r" % [(r["stage"], r["step"]) for r in steps])
check(all(set(r["task_loss"]) == ({"a"} if r["stage"] == "one" else {"a", "b"}) for r in steps), "task_loss keys")
mixed = [r for r in steps if r["stage"] == "two"]
check(any(r["task_loss"]["a"] is None or r["task_loss"]["b"] is None for r in mixed) or
      all(isinstance(r["task_loss"]["a"], float) for r in mixed), "task_loss values")
evals = [r for r in recs if r["event"] == "eval"]
check(sorted({(r["stage"], r["task"]) for r in evals}) ==
      sorted((s, t) for s in ("baseline", "one", "two") for t in ("a", "b")), "eval records")
check(all(any(r["primary"] for r in evals if r["stage"] == s and r["task"] == t)
          for s in ("baseline", "one", "two") for t in ("a", "b")), "a primary metric per cell")
with h5py.File(out, "r") as f:
    for k, s in ((1, "one"), (2, "two")):
        want = list(f["stages/%02d_%s/curves/loss" % (k, s)][()])
        got = [r["loss"] for r in steps if r["stage"] == s]
        check(got == [float(x) for x in want], "stage %s: log losses %r, run file %r" % (s, got, want))
        m = f["matrices/primary"][()]
        for j, t in enumerate(("a", "b")):
            v = [r["value"] for r in evals if r["stage"] == s and r["task"] == t and r["primary"]][0]
            check(v == float(m[k, j]), "stage %s task %s: log %r, matrix %r" % (s, t, v, m[k, j]))

# CSV, none, resume.
out2 = os.path.join(tmp, "c.h5")
p = run(out2, "--log-format", "csv")
rows = list(csv.reader(open(out2 + ".log.csv")))
check(p.returncode == 0 and rows[0][:3] == ["event", "row", "stage"] and all(len(r) == 13 for r in rows),
      "csv: %r" % [r for r in rows if len(r) != 13][:3])
out3 = os.path.join(tmp, "n.h5")
p = run(out3, "--log", "")
check(p.returncode == 0 and not os.path.exists(out3 + ".log.jsonl"), "--log '' wrote a log")
p = run(out, "--resume")
recs2 = [json.loads(line) for line in open(out + ".log.jsonl")]
check(len(recs2) > len(recs) and recs2[len(recs)]["event"] == "start" and recs2[len(recs)]["resumed"] is True,
      "resume did not append a start record")

# Bad log options: an unknown format is a usage error; a log that cannot be created stops the
# run before anything is written, naming the log.
bad = os.path.join(tmp, "bad.h5")
p = run(bad, "--log-format", "xml")
check(p.returncode == 2 and "--log-format" in p.stderr and "xml" in p.stderr and not os.path.exists(bad),
      "--log-format xml: %d %r" % (p.returncode, p.stderr))
nolog = os.path.join(tmp, "missing", "l.jsonl")
p = run(bad, "--log", nolog)
check(p.returncode != 0 and nolog in p.stderr and not os.path.exists(bad),
      "--log into a missing folder: %d %r" % (p.returncode, p.stderr))

# --follow: a run in progress, followed to its end.
out4 = os.path.join(tmp, "f.h5")
bg = subprocess.Popen([LETHE, "run", "--quiet", "-o", out4, cur], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
fo = subprocess.run([LETHE, "report", "--follow", out4], capture_output=True, text=True, timeout=300)
bg.wait()
check(fo.returncode == 0 and "the run ended: ok" in fo.stdout and "baseline" in fo.stdout,
      "follow: exit %d %r %r" % (fo.returncode, fo.stdout[-300:], fo.stderr))
p = subprocess.run([LETHE, "report", "--follow", os.path.join(tmp, "none.h5"), "--once"], capture_output=True, text=True)
check(p.returncode == 2 and "none.h5.log.jsonl" in p.stderr, "follow of nothing: %d %r" % (p.returncode, p.stderr))
print("runlog: %s" % ("ok" if not failed else "%d failures" % failed))
sys.exit(1 if failed else 0)
