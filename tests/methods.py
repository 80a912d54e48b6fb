#!/usr/bin/env python3
"""methods.py: end-to-end tests of the methods against forgetting (docs/methods.md) through the
real `lethe` binary, reading run files with h5py:

1. tests/data/curricula/methods.yaml (every method) validates, runs in seconds, and `lethe report`
   shows each stage's methods beside its name (text and JSON); curricula/methods/ validates; the run file holds the penalty
   curves, the stage attributes, EWC's Fisher and the replay memory (never more than per_task per
   task); freezing by layer leaves exactly the frozen tensors unchanged; reset_optimizer restarts
   AdamW's step counter; the same curriculum twice gives the same run file (tests/rundigest.py);
2. with lambda 0 (each of l2, ewc, lwf) and with replay ratio 0 the run file is bit-identical to
   plain fine-tuning, and with a positive weight it is not;
3. a run with replay and EWC killed with SIGKILL in the middle of a stage and resumed ends
   bit-identical to one run straight through (the memory and the Fisher come from /resume).
Skips (77) without h5py.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

try:
    import h5py
    import numpy as np
except ImportError:
    print("SKIP: python3-h5py is not installed")
    sys.exit(77)

from testlib import check, finish, lethe, LETHE, run_checked as run, SRC, tmpdir, write  # noqa: E402
import rundigest  # noqa: E402


LINES = os.path.join(SRC, "tests", "data", "text", "lines.txt")


def curriculum(path, train_extra="", stage_extra=("", ""), steps=(8, 8)):
    """Two stages on the text fixture; train_extra goes into train, stage_extra into each stage."""
    text = """lethe: 1
name: plain
seed: 11
model: {preset: tiny, context: 32, layers: 2, dim: 32, heads: 2}
tokenizer: {vocab: 300}
train: {batch: 4, optimizer: {lr: 2.0e-3}%s}
tasks:
  a: {plugin: text, train: %s, eval: %s, unit: line}
  b: {plugin: text, train: %s, eval: %s, eval_limit: 2}
stages:
  - {name: one, tasks: [a], steps: %d%s}
  - {name: two, tasks: [b], steps: %d%s}
""" % (train_extra, LINES, LINES, LINES, LINES, steps[0], stage_extra[0], steps[1], stage_extra[1])
    return write(path, text)


tmp = tmpdir()
try:
    # 1. Every method at once.
    cur = os.path.join(tmp, "curricula", "methods.yaml")
    os.makedirs(os.path.dirname(cur))
    os.makedirs(os.path.join(tmp, "text"))
    shutil.copy(os.path.join(SRC, "tests", "data", "curricula", "methods.yaml"), cur)
    shutil.copy(LINES, os.path.join(tmp, "text", "lines.txt"))
    p = lethe(["validate", cur])
    check(p.returncode == 0, "methods.yaml validates: %s" % p.stdout + p.stderr)
    out = os.path.join(tmp, "m.h5")
    t0 = time.time()
    run(cur, out)
    check(time.time() - t0 < 60, "methods.yaml runs in seconds (%.1f s)" % (time.time() - t0))
    p = lethe(["report", out])
    check(p.returncode == 0 and "Methods against forgetting" in p.stdout, "report: %s" % p.stderr)
    for line in ["  one            ewc lambda=50 fisher_examples=4 online_gamma=0.9; replay per_task=3 ratio=0.5",
                 "  two            reset_optimizer; l2 lambda=10; replay per_task=3 ratio=0.5",
                 "  three          freeze layers 0; ewc lambda=50 fisher_examples=4 online_gamma=0.9; replay per_task=3 ratio=0.5",
                 "  four           lwf lambda=1 temperature=2; replay per_task=3 ratio=0.5"]:
        check(line in p.stdout.splitlines(), "report line %r in:\n%s" % (line, p.stdout))
    p = lethe(["report", "--format", "html", out])
    check(p.returncode == 0 and "<h2>Methods against forgetting</h2>" in p.stdout and
          "<td>two</td><td style=\"text-align:left\">reset_optimizer; l2 lambda=10; replay per_task=3 ratio=0.5</td>" in p.stdout,
          "HTML report shows the methods")
    p = lethe(["report", "--format", "json", out])
    try:
        methods = json.loads(p.stdout)["methods"]
    except (ValueError, KeyError) as e:
        methods = {}
        check(False, "report JSON: %s: %s" % (e, p.stdout[-300:]))
    check(methods.get("two") == "reset_optimizer; l2 lambda=10; replay per_task=3 ratio=0.5", "JSON methods %r" % methods)
    with h5py.File(out, "r") as f:
        st = f["stages"]
        check(st["02_two"].attrs["methods"] == "reset_optimizer; l2 lambda=10; replay per_task=3 ratio=0.5",
              "stage attribute 'methods'")
        check("methods" not in st["00_baseline"].attrs, "the baseline has no methods")
        pen = {k: st[k]["curves/penalty"][()] for k in ["01_one", "02_two", "03_three", "04_four"]}
        check(all(v.shape == (6,) and v.dtype == np.float32 for v in pen.values()), "penalty curves' shape")
        check(np.all(pen["01_one"] == 0), "EWC in the first stage has nothing to hold on to: %r" % pen["01_one"])
        # Each stage starts at its anchor (penalty 0 at step 1) and moves away from it.
        for k in ["02_two", "03_three", "04_four"]:
            check(pen[k][0] == 0 and np.all(pen[k][1:] > 0), "%s penalty grows from 0: %r" % (k, pen[k]))
        check(f["resume"].attrs["optimizer_steps"] == 18, "reset_optimizer before stage two: %d steps counted, want 18"
              % f["resume"].attrs["optimizer_steps"])
        fisher = f["resume/ewc_fisher"][()]
        check(fisher.shape == f["resume/params"].shape and np.all(fisher >= 0) and fisher.max() > 0, "EWC's Fisher")
        mem = f["resume/replay_memory"][()]
        n_tasks, cap = int(mem[0]), int(mem[1])
        check(n_tasks == 2 and cap == 3, "replay memory header %r" % mem[:3])
        sizes, o = [4, 2], 3
        for t in range(n_tasks):
            seen, count, done = (int(v) for v in mem[o:o + 3])
            items = mem[o + 3:o + 3 + count]
            check(count <= cap and count == min(cap, sizes[t]) and done == 1, "task %d holds %d (seen %d)" % (t, count, seen))
            check(len(set(items.tolist())) == count and all(i < sizes[t] for i in items), "task %d items %r" % (t, items))
            o += 3 + cap + (sizes[t] + 63) // 64
        check(o == len(mem), "replay memory length %d, want %d" % (len(mem), o))
        # Freezing: stage three freezes layer 0 and the embeddings; everything else moves.
        names = [n.decode() if isinstance(n, bytes) else n for n in f["model/tensor_names"][()]]
        info = f["model/tensors"][()]
        a, b = st["02_two/params"][()], st["03_three/params"][()]
        for name, (off, rows, cols, group, layer) in zip(names, info):
            same = np.array_equal(a[off:off + rows * cols], b[off:off + rows * cols])
            frozen = layer == 0 or group == 0
            check(same == frozen, "stage three: %s %s" % (name, "changed though frozen" if frozen else "did not change"))
    again = os.path.join(tmp, "again.h5")
    run(cur, again)
    check(rundigest.digest(out) == rundigest.digest(again), "the same curriculum twice: the same run file")

    # The study's curricula (docs/methods.md) validate.
    study = os.path.join(SRC, "curricula", "methods")
    for name in ["naive", "replay", "ewc", "l2", "lwf"]:
        p = lethe(["validate", "-q", os.path.join(study, name + ".yaml")])
        check(p.returncode == 0, "curricula/methods/%s.yaml validates: %s" % (name, p.stdout + p.stderr))

    # 2. Weight 0 is plain fine-tuning, bit for bit; a positive weight is not.
    plain = os.path.join(tmp, "plain.h5")
    run(curriculum(os.path.join(tmp, "plain.yaml")), plain)
    want = rundigest.digest(plain)
    zero = {
        "l2": ", regularize: {kind: l2, lambda: 0}",
        "ewc": ", regularize: {kind: ewc, lambda: 0, fisher_examples: 4}",
        "lwf": ", regularize: {kind: lwf, lambda: 0, temperature: 3}",
        "replay": ", replay: {per_task: 2, ratio: 0}",
        "none": ", regularize: {kind: none}, reset_optimizer: false",
    }
    for name, extra in zero.items():
        o = os.path.join(tmp, "zero-%s.h5" % name)
        run(curriculum(os.path.join(tmp, "zero-%s.yaml" % name), extra), o)
        check(rundigest.digest(o) == want, "%s with weight 0 differs from plain fine-tuning" % name)
    some = {
        "l2": ", regularize: {kind: l2, lambda: 5}",
        "ewc": ", regularize: {kind: ewc, lambda: 500, fisher_examples: 4}",
        "lwf": ", regularize: {kind: lwf, lambda: 1, temperature: 2}",
        "replay": ", replay: {per_task: 2, ratio: 0.5}",
        "reset": ", reset_optimizer: true",
    }
    for name, extra in some.items():
        o = os.path.join(tmp, "some-%s.h5" % name)
        run(curriculum(os.path.join(tmp, "some-%s.yaml" % name), extra), o)
        with h5py.File(plain, "r") as a, h5py.File(o, "r") as b:
            # L2 and LwF hold stage one to the initial model; the others have nothing yet.
            check(np.array_equal(a["stages/01_one/params"][()], b["stages/01_one/params"][()]) != (name in ("l2", "lwf")),
                  "%s: stage one changed or not as it should" % name)
            check(not np.array_equal(a["stages/02_two/params"][()], b["stages/02_two/params"][()]),
                  "%s changed nothing in stage two" % name)

    # 3. Killed in a stage and resumed: bit-identical to a run straight through.
    rcur = curriculum(os.path.join(tmp, "resume.yaml"),
                      ", replay: {per_task: 3, ratio: 0.5}, regularize: {kind: ewc, lambda: 100, fisher_examples: 4}",
                      ("", ""), steps=(6, 1000))
    with open(rcur, "a") as fh:
        fh.write("  - {name: three, tasks: [a], steps: 6}\n")
    whole, broken = os.path.join(tmp, "whole.h5"), os.path.join(tmp, "broken.h5")
    run(rcur, whole)
    interrupted = False
    for attempt in range(5):
        if os.path.exists(broken):
            os.unlink(broken)
        proc = subprocess.Popen([LETHE, "run", "--quiet", "--threads", "1", "--output", broken, rcur])
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            try:
                with h5py.File(broken, "r") as fh:
                    rows_seen = len(fh.attrs["rows"])
            except (OSError, KeyError):
                rows_seen = 0
            if rows_seen >= 2:  # baseline and stage one written: stage two is training
                time.sleep(0.05 * (attempt + 1))
                break
            time.sleep(0.02)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            with h5py.File(broken, "r") as fh:
                if len(fh.attrs["rows"]) < 4:
                    interrupted = True
                    break
        else:
            proc.wait()
    check(interrupted, "could not kill the run in the middle of a stage")
    run(rcur, broken, "--resume")
    check(rundigest.digest(whole) == rundigest.digest(broken), "killed and resumed differs from straight through")
    with h5py.File(broken, "r") as fh:
        check(np.all(fh["stages/02_two/curves/penalty"][()][1:] > 0), "EWC held stage two after the resume")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
