#!/usr/bin/env python3
"""faults.py: what `lethe run` and `lethe report` leave behind when the process dies or the disk
fills (docs/reliability.md).

kill -9: a short run of three stages is killed with SIGKILL at K moments drawn from a seeded
generator over its length (one of them the moment a temporary run file appears, i.e. during a
write), each time followed by `--resume` until it completes; every completed run file must be
bit-identical (tests/rundigest.py) to an uninterrupted run's, and no temporary file may remain.
K is 5, or LETHE_KILLS (20 in `make check-long`).

Full disk: tests/.libs/enospc.so (LD_PRELOAD) makes writes to *.tmp files fail with ENOSPC after
a budget. `run` (new output), `run --force` over a run file, `run --resume` of a partial run file
(the H5Ocopy path) and `report -o` over an older report must each fail with a message naming
the file and the disk, without a signal or sanitizer report, leave the old file byte for byte,
and leave no temporary file.
"""
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

BUILD = os.environ["LETHE_BUILDDIR"]
SRC = os.environ["LETHE_SRCDIR"]
LETHE = os.path.join(BUILD, "engine", "lethe")
SHIM = os.path.join(BUILD, "tests", ".libs", "enospc.so")
KILLS = int(os.environ.get("LETHE_KILLS", "5"))
ONLY_DISK = os.environ.get("LETHE_FAULTS") == "disk"  # skip the kill -9 part (debugging)
failed = 0

CURRICULUM = """lethe: 1
name: faults
seed: 5
model: {preset: tiny, context: 32, layers: 2, dim: 32, heads: 2}
tokenizer: {vocab: 300}
train: {batch: 4, steps: 60, schedule: {name: cosine, warmup: 5}, optimizer: {lr: 1.0e-3}}
tasks:
  prose: {plugin: text, train: lines.txt, eval: lines.txt, unit: line}
stages:
  - {name: one, tasks: [prose]}
  - {name: two, tasks: [prose], lr: 5.0e-4}
  - {name: three, tasks: [prose], freeze: [embeddings]}
evaluate: {tasks: all, baseline: true}
output: out.h5
"""


def check(ok, what):
    global failed
    if not ok:
        failed += 1
        print("FAIL:", what)


def crashed(p):
    err = p.stderr if isinstance(p.stderr, str) else ""
    return p.returncode < 0 or p.returncode >= 128 or "Sanitizer" in err or "runtime error:" in err


def lethe(d, args, env=None):
    e = dict(os.environ)
    e.pop("LETHE_PLUGIN_PATH", None)
    e.update(env or {})
    return subprocess.run([LETHE] + args, cwd=d, env=e, capture_output=True, text=True, errors="replace")


def digest(path):
    p = subprocess.run([sys.executable, os.path.join(SRC, "tests", "rundigest.py"), path],
                       capture_output=True, text=True)
    return p.stdout.strip()


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def temps(d):
    return [f for f in os.listdir(d) if f.endswith(".tmp")]


def setup(root, name):
    d = os.path.join(root, name)
    os.makedirs(d)
    shutil.copy(os.path.join(SRC, "tests", "data", "text", "lines.txt"), d)
    with open(os.path.join(d, "c.yaml"), "w") as f:
        f.write(CURRICULUM)
    return d


def start(d, args):
    e = dict(os.environ)
    e.pop("LETHE_PLUGIN_PATH", None)
    return subprocess.Popen([LETHE] + args, cwd=d, env=e, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, errors="replace", start_new_session=True)


def kill_tree(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)  # the libtool wrapper's child too
    except ProcessLookupError:
        pass
    p.wait()


def finish(d):
    """Resumes (or starts, if nothing was written) until the run completes."""
    for _ in range(3):
        args = ["run", "--quiet", "--threads", "1"]
        args += ["--resume"] if os.path.exists(os.path.join(d, "out.h5")) else []
        p = lethe(d, args + ["c.yaml"])
        check(not crashed(p), "resume crashed: %r" % p.stderr[-500:])
        if p.returncode == 0:
            return True
        print("resume failed: exit %d: %s" % (p.returncode, p.stderr.strip()[-400:]))
        return False
    return False


def kill_tests(root):
    ref = setup(root, "reference")
    t0 = time.time()
    p = lethe(ref, ["run", "--quiet", "--threads", "1", "c.yaml"])
    length = time.time() - t0
    check(p.returncode == 0, "reference run: exit %d %s" % (p.returncode, p.stderr[-500:]))
    want = digest(os.path.join(ref, "out.h5"))
    rng = random.Random(13)
    moments = sorted(rng.uniform(0.05, 0.95) * length for _ in range(KILLS - 1))
    for i, m in enumerate(["write"] + moments):
        d = setup(root, "kill%d" % i)
        p = start(d, ["run", "--quiet", "--threads", "1", "c.yaml"])
        if m == "write":  # the moment a temporary run file exists: during a write
            deadline = time.time() + 3 * length + 30
            while p.poll() is None and not temps(d) and time.time() < deadline:
                time.sleep(0.0005)
        else:
            time.sleep(m)
        killed = p.poll() is None
        kill_tree(p)
        if not finish(d):
            check(False, "kill %d (at %s): the run could not be completed" % (i, m))
            continue
        got = digest(os.path.join(d, "out.h5"))
        check(got == want, "kill %d (at %s, killed=%s): digest %s, uninterrupted %s" % (i, m, killed, got, want))
        check(not temps(d), "kill %d: temporary files left after the resume: %s" % (i, temps(d)))
    print("kill -9: %d moments over a %.1f s run" % (KILLS, length))
    return os.path.join(ref, "out.h5")


def full_disk(root, good):
    if not os.path.exists(SHIM):
        print("FAIL: %s is not built" % SHIM)
        return check(False, "shim")
    env = {"LD_PRELOAD": SHIM, "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") + ":verify_asan_link_order=0"}
    size = os.path.getsize(good)

    def refused(p, d, what, old=None, old_sha=None):
        msg = p.stderr.strip()
        if os.environ.get("V"):
            print("%s: exit %d: %s" % (what, p.returncode, msg))
        check(not crashed(p), "%s: crashed (exit %d): %r" % (what, p.returncode, msg[-600:]))
        check(p.returncode == 1, "%s: exit %d, expected 1: %r" % (what, p.returncode, msg[-400:]))
        check("No space left on device" in msg and ("out.h5" in msg or "r.txt" in msg), "%s: unclear message %r" % (what, msg[-400:]))
        check(not temps(d), "%s: temporary files left: %s" % (what, temps(d)))
        if old:
            check(os.path.exists(old) and sha(old) == old_sha, "%s: %s was changed" % (what, old))

    # A new output: nothing may appear.
    d = setup(root, "full-new")
    p = lethe(d, ["run", "--quiet", "--threads", "1", "c.yaml"], dict(env, LETHE_ENOSPC_BYTES=str(size // 3)))
    refused(p, d, "run on a full disk")
    # --force over a complete run file: the old one stays.
    d = setup(root, "full-force")
    shutil.copy(good, os.path.join(d, "out.h5"))
    old = sha(os.path.join(d, "out.h5"))
    # (The first write fails: a later one would have published this run's first rows over the
    # old file already, as --force asks; the partial-run case below covers later writes.)
    p = lethe(d, ["run", "--quiet", "--threads", "1", "--force", "c.yaml"], dict(env, LETHE_ENOSPC_BYTES="4096"))
    refused(p, d, "run --force on a full disk", os.path.join(d, "out.h5"), old)
    # A run whose second or later write fails: the first is published, then --resume (copying
    # the stages written, H5Ocopy) on a full disk must leave it as it was.
    d = setup(root, "full-resume")
    budget = None
    for frac in (0.25, 0.4, 0.55, 0.7):
        for f in os.listdir(d):
            if f.startswith("out.h5"):
                os.unlink(os.path.join(d, f))
        p = lethe(d, ["run", "--quiet", "--threads", "1", "c.yaml"], dict(env, LETHE_ENOSPC_BYTES=str(int(size * frac))))
        if p.returncode != 0 and os.path.exists(os.path.join(d, "out.h5")):
            budget = int(size * frac)
            refused(p, d, "run whose later write meets a full disk")
            break
    check(budget is not None, "no budget left a partial run file")
    if budget is not None:
        old = sha(os.path.join(d, "out.h5"))
        for b in (budget // 4, budget // 2, budget):
            p = lethe(d, ["run", "--quiet", "--threads", "1", "--resume", "c.yaml"], dict(env, LETHE_ENOSPC_BYTES=str(b)))
            refused(p, d, "run --resume on a full disk (budget %d)" % b, os.path.join(d, "out.h5"), old)
        p = lethe(d, ["run", "--quiet", "--threads", "1", "--resume", "c.yaml"])
        check(p.returncode == 0, "--resume once the disk has room: exit %d %s" % (p.returncode, p.stderr[-300:]))
    # report -o over an older report.
    d = setup(root, "full-report")
    with open(os.path.join(d, "r.txt"), "w") as f:
        f.write("the old report\n")
    old = sha(os.path.join(d, "r.txt"))
    for fmt in ("text", "json", "csv", "html"):
        p = lethe(d, ["report", "--format", fmt, "-o", "r.txt", good], dict(env, LETHE_ENOSPC_FSYNC="1"))
        refused(p, d, "report --format %s -o on a full disk" % fmt, os.path.join(d, "r.txt"), old)
    print("full disk: run, run --force, run --resume, report -o")


def main():
    root = tempfile.mkdtemp(prefix="lethe-faults-")
    good = kill_tests(root) if not ONLY_DISK else None
    if ONLY_DISK:
        good = os.path.join(setup(root, "reference"), "out.h5")
        lethe(os.path.dirname(good), ["run", "--quiet", "--threads", "1", "c.yaml"])
    if os.path.exists(good):
        full_disk(root, good)
    if failed:
        print("faults: %d failed (files kept in %s)" % (failed, root))
        return 1
    shutil.rmtree(root, ignore_errors=True)
    print("faults: all passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
