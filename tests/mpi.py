#!/usr/bin/env python3
"""mpi.py: data-parallel runs over Open MPI (docs/distributed.md), two ranks on this machine.

A short curriculum (a scored CHOICE task, a generation task, a stage with EWC and replay, one
with LwF; batches of 5 rows, odd on purpose, with grad_accum 2) is run by one process and by
`mpirun -np 2`:
- the per-step losses agree to 1e-5 relative and the matrices to 1e-6; only rank 0 writes (the
  run file and one live log, nothing else in the directory);
- that 2-rank run sums its gradients in buckets of 4 KiB (LETHE_DIST_BUCKET_BYTES): several
  buckets per step, some started while the backward still computes (rank 0's count line), and
  the equality above holds; the default buckets give the very same run file;
- EWC's Fisher, whose examples the two ranks split, equals the single process's to 1e-6 (norm
  relative);
- two 2-rank runs with --deterministic-reduce give bit-identical parameters;
- a 2-rank run stopped after its first stage and resumed by one process ends as the
  uninterrupted run does (same tolerances);
- a rank killed with SIGKILL mid-run ends the job with a message, exit status not 0, and the last
  published run file intact (it opens and keeps its completed rows).
Skipped (77) when lethe was built without MPI or mpirun is missing.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ["LETHE_BUILDDIR"]
SRC = os.environ.get("LETHE_SRCDIR", os.path.dirname(os.path.abspath(os.path.dirname(__file__))))
LETHE = os.path.join(BUILD, "engine", "lethe")

with open(os.path.join(BUILD, "config.h")) as f:
    if "#define HAVE_MPI 1" not in f.read():
        print("SKIP: lethe was configured without MPI")
        sys.exit(77)
MPIRUN = shutil.which("mpirun")
if not MPIRUN:
    print("SKIP: mpirun is not installed (Debian package openmpi-bin)")
    sys.exit(77)
try:
    import h5py
    import numpy as np
except ImportError:
    print("SKIP: python3-h5py or python3-numpy is not installed")
    sys.exit(77)

failed = 0


def check(ok, what):
    global failed
    if not ok:
        failed += 1
        print("FAIL:", what)
    return ok


QS = os.path.join(SRC, "curricula", "quickstart")
tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
cur = os.path.join(tmp, "mpi.yaml")
with open(cur, "w") as f:
    f.write("""lethe: 1
name: mpi
seed: 7
model: {preset: tiny, context: 64, layers: 2, dim: 32, heads: 2}
tokenizer: {vocab: 300}
train: {batch: 5, grad_accum: 2, steps: %(steps)d, optimizer: {lr: 2.0e-3}, clip: 1.0}
tasks:
  reviews: {plugin: sentiment, train: %(qs)s/reviews.train.tsv, eval: %(qs)s/reviews.dev.tsv,
            train_limit: 200, eval_limit: 20}
  entities: {plugin: ner, train: %(qs)s/entities.train.txt, eval: %(qs)s/entities.dev.txt,
             train_limit: 200, eval_limit: 18, max_new_tokens: 6}
stages:
  - {name: one, tasks: [reviews]}
  - name: two
    tasks: [entities]
    regularize: {kind: ewc, lambda: 20, fisher_examples: 6}
    replay: {per_task: 8, ratio: 0.4}
  - {name: three, tasks: [reviews], regularize: {kind: lwf, lambda: 1, temperature: 2}}
evaluate: {tasks: all, baseline: true}
output: unused.h5
""" % {"qs": QS, "steps": int(os.environ.get("LETHE_MPI_STEPS", "4"))})

MPI = [MPIRUN, "--allow-run-as-root", "--oversubscribe", "-np", "2"]
# Open MPI keeps its session directory (and PMIx sockets, whose paths are short) under TMPDIR.
ENV = dict(os.environ, TMPDIR="/tmp")
# Under the sanitizers (make distcheck), Open MPI's own allocations at MPI_Init that it never
# frees, some in components it has unloaded (so no suppression can name them), would fail every
# rank at exit: leak checking is off for the MPI launches only, the one-process run keeps it.
MPI_ENV = dict(ENV, ASAN_OPTIONS=(os.environ.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":"))


def run(out, ranks, *extra, wait=True, env_add=None):
    cmd = ([] if ranks == 1 else MPI) + [LETHE, "run", "--threads", "1", "-o", out] + list(extra) + [cur]
    env = dict(ENV if ranks == 1 else MPI_ENV, **(env_add or {}))
    if not wait:
        return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                start_new_session=True)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)


def rows(path):
    try:
        with h5py.File(path, "r") as f:
            return f["matrices/primary"].shape[0]
    except Exception:
        return 0


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
        f.visititems(visit)
    return out


def close(a, b, tol):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype.kind not in "fiu" or b.dtype.kind not in "fiu":
        return a.shape == b.shape and bool((a == b).all())
    a, b = a.astype(np.float64), b.astype(np.float64)
    if a.shape != b.shape:
        return False
    both_nan = np.isnan(a) & np.isnan(b)
    scale = np.maximum(np.abs(a), np.abs(b))
    ok = both_nan | (np.abs(a - b) <= tol * np.maximum(scale, 1e-12))
    return bool(ok.all())


def same_results(a_path, b_path, what):
    """Loss curves to 1e-5 relative per step, matrices to 1e-6, the same rows and tasks."""
    a, b = datasets(a_path), datasets(b_path)
    curves = [k for k in a if k.endswith("curves/loss")]
    check(len(curves) == 3, "%s: three loss curves in %s, got %s" % (what, a_path, curves))
    for k in curves:
        check(k in b and close(a[k], b[k], 1e-5), "%s: %s: %s vs %s" % (what, k, a[k], b.get(k)))
    mats = [k for k in a if k.startswith("matrices/")]
    check(len(mats) >= 2, "%s: matrices in %s" % (what, a_path))
    for k in mats:
        check(k in b and close(a[k], b[k], 1e-6), "%s: %s: %s vs %s" % (what, k, a[k], b.get(k)))


# One process, then two ranks.
one = os.path.join(tmp, "one.h5")
p = run(one, 1, "--quiet")
check(p.returncode == 0, "one process: %s" % p.stderr)
d2 = os.path.join(tmp, "two")
os.mkdir(d2)
two = os.path.join(d2, "two.h5")
p = run(two, 2, env_add={"LETHE_DIST_BUCKET_BYTES": "4096"})
if check(p.returncode == 0, "two ranks: %s" % p.stderr):
    same_results(one, two, "2 ranks vs 1 process")
    m = re.search(r"(\d+) gradient buckets summed, (\d+) of them started during the backward",
                  p.stderr)
    n_steps = 3 * int(os.environ.get("LETHE_MPI_STEPS", "4"))
    if check(m, "the bucket count line:\n%s" % p.stderr):
        total, early = int(m.group(1)), int(m.group(2))
        print("4 KiB buckets: %d summed in %d steps, %d started during the backward" % (total, n_steps, early))
        check(total > 2 * n_steps and early >= n_steps,
              "several buckets per step, some overlapping the backward: %d, %d" % (total, early))
    a, b = datasets(one), datasets(two)
    k = "resume/ewc_fisher"
    if check(k in a and k in b, "%s in both run files" % k):
        fa, fb = a[k].astype(np.float64), b[k].astype(np.float64)
        rel = np.linalg.norm(fa - fb) / max(np.linalg.norm(fa), 1e-300)
        print("EWC Fisher, 2 ranks vs 1 process: relative difference %.3g" % rel)
        check(fa.shape == fb.shape and rel <= 1e-6 and np.abs(fa).max() > 0,
              "EWC's Fisher split over 2 ranks: relative difference %.3g" % rel)
    two_d = os.path.join(tmp, "two-default.h5")
    p2 = run(two_d, 2, "--quiet")
    if check(p2.returncode == 0, "two ranks, default buckets: %s" % p2.stderr):
        c = datasets(two_d)
        for key in a:
            if key.startswith(("stages/", "matrices/", "resume/params")):
                check(key in c and close(b[key], c[key], 0),
                      "4 KiB vs default buckets on 2 ranks: %s differs" % key)
    check(sorted(os.listdir(d2)) == ["two.h5", "two.h5.log.jsonl"],
          "only rank 0 writes: %s" % sorted(os.listdir(d2)))
    check(p.stderr.count("lethe: wrote") == 1 and "2 ranks:" in p.stderr,
          "rank 0 alone reports progress:\n%s" % p.stderr)
    with open(two + ".log.jsonl") as f:
        starts = sum('"event":"start"' in line.replace(" ", "") for line in f)
    check(starts == 1, "one start record in the live log, got %d" % starts)

# Two 2-rank runs in rank order: bit-identical parameters.
det = []
for i in range(2):
    out = os.path.join(tmp, "det%d.h5" % i)
    p = run(out, 2, "--quiet", "--deterministic-reduce")
    check(p.returncode == 0, "--deterministic-reduce run %d: %s" % (i, p.stderr))
    det.append(out)
if failed == 0:
    a, b = datasets(det[0]), datasets(det[1])
    params = [k for k in a if k.endswith("params")]
    check(len(params) >= 3, "parameters in the run file: %s" % params)
    for k in params:
        check(np.array_equal(a[k], b[k]), "--deterministic-reduce: %s differs between runs" % k)
    same_results(one, det[0], "--deterministic-reduce vs 1 process")


def stop_when(proc, path, n_rows, sig):
    """Sends sig to proc's group once path has n_rows rows; returns the rows seen then."""
    while proc.poll() is None:
        r = rows(path)
        if r >= n_rows:
            os.killpg(proc.pid, sig)
            return r
        time.sleep(0.05)
    return rows(path)


# Resume across a change of rank count: two ranks stopped after stage one, one process ends it.
res = os.path.join(tmp, "res.h5")
proc = run(res, 2, "--quiet", wait=False)
seen = stop_when(proc, res, 2, signal.SIGTERM)
proc.communicate()
print("resume: the 2-rank run stopped with %d rows" % seen)
check(2 <= seen < 4, "the 2-rank run was stopped after its first stage (rows %d)" % seen)
p = run(res, 1, "--quiet", "--resume")
if check(p.returncode == 0, "resume on one process: %s" % p.stderr):
    same_results(one, res, "2 ranks then resumed on 1")

# A rank killed mid-run: the job ends with a message; the run file keeps its completed rows.
dead = os.path.join(tmp, "dead.h5")
proc = run(dead, 2, "--quiet", wait=False)
victim = None
while proc.poll() is None and rows(dead) < 2:
    time.sleep(0.05)
for pid in os.listdir("/proc"):
    try:
        with open("/proc/%s/environ" % pid, "rb") as f:
            env = f.read().split(b"\0")
        with open("/proc/%s/cmdline" % pid, "rb") as f:
            cmd = f.read()
    except OSError:
        continue
    if b"OMPI_COMM_WORLD_RANK=1" in env and dead.encode() in cmd and b"mpirun" not in cmd:
        victim = int(pid)
before = rows(dead)
if check(victim is not None and proc.poll() is None, "found rank 1 of the running job"):
    os.kill(victim, signal.SIGKILL)
try:
    _, err = proc.communicate(timeout=300)
except subprocess.TimeoutExpired:
    os.killpg(proc.pid, signal.SIGKILL)
    _, err = proc.communicate()
    check(False, "the job did not end after its rank 1 was killed")
print("killed rank 1 (pid %s) with %d rows; the job said:\n%s" % (victim, before, err.strip()))
check(proc.returncode != 0, "a killed rank fails the job (status %s)" % proc.returncode)
check("rank 1" in err or "signal 9" in err or "Killed" in err,
      "the job says a rank died:\n%s" % err)
after = rows(dead)
check(after >= before >= 2, "the run file keeps its completed rows (%d before, %d after)" % (before, after))
if after:
    a, b = datasets(one), datasets(dead)
    check(close(a["matrices/primary"][:after], b["matrices/primary"], 1e-6),
          "the killed run's completed rows are the single process's")

if failed:
    print("%d check(s) failed; files in %s" % (failed, tmp))
    sys.exit(1)
shutil.rmtree(tmp)
print("ok")
