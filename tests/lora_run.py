#!/usr/bin/env python3
"""lora_run.py: LoRA adapters through `lethe run`, read back with python3-h5py
(tests/data/curricula/lora.yaml: an adapter trained over stages one and two and merged at the
end of two, a fresh one merged after three, full fine-tuning in four):

1. with merge: false the base parameters stored after the stage equal the initial ones exactly
   (drift against the initial model is exactly 0 in every group), while the adapter learnt
   (B is no longer zero) and the loss fell;
2. the row's adapter has PEFT's shapes (A [r, in], B [out, r]) and names, and a merged row's
   parameters are the previous row's plus (alpha / r) B A for every target (to 1e-5);
3. the settings line of each stage with an adapter records it; stage four's has none;
4. a run killed with SIGKILL in stage two (the adapter of stage one attached, unmerged, with
   dropout) and resumed with --resume ends with the same parameters, adapters and scores,
   bit for bit, as an uninterrupted run;
5. `lethe report` shows the method beside each stage, and `lethe generate --stage one` applies
   the row's unmerged adapter;
6. validation refuses per_stage with merge, orthogonal without per_stage, unknown targets and a stage that would silently
   drop an unmerged adapter, each with file:line:column.
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

from testlib import check, finish, LETHE, run, SRC, tmpdir  # noqa: E402


tmp = tmpdir()
try:
    os.makedirs(os.path.join(tmp, "curricula"))
    os.makedirs(os.path.join(tmp, "text"))
    cur = os.path.join(tmp, "curricula", "lora.yaml")
    shutil.copy(os.path.join(SRC, "tests", "data", "curricula", "lora.yaml"), cur)
    shutil.copy(os.path.join(SRC, "tests", "data", "text", "lines.txt"), os.path.join(tmp, "text", "lines.txt"))
    whole, broken = os.path.join(tmp, "whole.h5"), os.path.join(tmp, "broken.h5")
    p = run(["--output", whole, cur])
    check(p.returncode == 0, "run: %s" % p.stderr)
    with h5py.File(whole, "r") as f:
        rows = [r.decode() if isinstance(r, bytes) else r for r in f.attrs["rows"]]
        check(rows == ["baseline", "one", "two", "three", "four"], "rows %r" % rows)
        # 1. The base untouched by an unmerged adapter.
        drift = f["forgetting/drift/l2_initial"][()]
        check(np.all(drift[1] == 0.0), "row one moved the base: drift %r" % drift[1])
        check(np.all(drift[2][[1, 2, 4]] > 0), "the merge in row two did not move attention and mlp: %r" % drift[2])
        check(drift[2][0] == 0 and drift[2][3] == 0, "the merge touched embeddings or norms: %r" % drift[2])
        one, two = f["stages/01_one"], f["stages/02_two"]
        check(np.array_equal(one["params"][()], f["stages/01_one/params"][()]), "row one params")
        a1 = one["adapter"]
        loss = one["curves/loss"][()]
        check(loss[-20:].mean() < loss[:20].mean() - 0.5, "the adapter did not learn: %g -> %g" % (loss[:20].mean(), loss[-20:].mean()))
        # 2. Shapes, names, and the merge.
        attrs = dict(a1.attrs)
        check(attrs["kind"] == "lora" and attrs["rank"] == 4 and attrs["alpha"] == 8 and attrs["merged"] == 0,
              "row one's adapter attributes %r" % attrs)
        names = [n.decode() if isinstance(n, bytes) else n for n in a1["tensors"][()]]
        shapes = a1["shapes"][()]
        C = f["model"].attrs["dim"]
        ff = f["model"].attrs["ff"]
        check(names[0] == "layers.0.q.lora_A" and list(shapes[0]) == [4, C], "first tensor %s %r" % (names[0], shapes[0]))
        check(names[13] == "layers.0.down.lora_B" and list(shapes[13]) == [C, 4], "tensor 13 %s %r" % (names[13], shapes[13]))
        check(list(shapes[12]) == [4, ff], "down's A is [r, ff]: %r" % shapes[12])
        check(int(np.prod(shapes, axis=1).sum()) == a1["params"].shape[0], "the block's length matches the shapes")

        def tensors(g):
            flat, out, off = g["params"][()], {}, 0
            for n, s in zip(g["tensors"][()], g["shapes"][()]):
                n = n.decode() if isinstance(n, bytes) else n
                out[n] = flat[off: off + s[0] * s[1]].reshape(s)
                off += s[0] * s[1]
            return out

        ad1 = tensors(a1)
        check(any(np.abs(v).max() > 0 for k, v in ad1.items() if k.endswith("lora_B")), "every B of row one is still zero")
        ad2 = tensors(two["adapter"])
        check(two["adapter"].attrs["merged"] == 1, "row two's adapter is marked merged")
        # The base tensors by name from /model (names and offsets).
        tnames = [n.decode() if isinstance(n, bytes) else n for n in f["model/tensors"][()]] if "model/tensors" in f else None
        p1, p2 = one["params"][()].astype(np.float64), two["params"][()].astype(np.float64)
        diff = p2 - p1
        scale = 8.0 / 4
        delta = sum(float(np.abs(scale * (ad2[k[:-1] + "B"].astype(np.float64) @ ad2[k].astype(np.float64))).sum())
                    for k in ad2 if k.endswith("lora_A"))
        check(abs(float(np.abs(diff).sum()) - delta) <= 1e-4 * delta,
              "row two's parameters moved by %g, the merged adapter by %g" % (float(np.abs(diff).sum()), delta))
        # 3. Settings lines.
        stages = [json.loads(s) for s in f["curriculum/stages"][()]]
        check(all("adapter" in s for s in stages[:3]) and "adapter" not in stages[3],
              "adapter settings per stage: %r" % [s.get("adapter") for s in stages])
        check(stages[1]["adapter"]["merge"] == 1 and stages[0]["adapter"]["targets"] == 127,
              "stage settings %r" % stages[:2])
        check("adapter" not in f["stages/04_four"], "the full fine-tuning row has no adapter")

    # 4. kill -9 in stage two, then --resume.
    interrupted = False
    for attempt in range(5):
        if os.path.exists(broken):
            os.unlink(broken)
        proc = subprocess.Popen([LETHE, "run", "--quiet", "--output", broken, cur])
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            try:
                with h5py.File(broken, "r") as fh:
                    seen = len(fh.attrs["rows"])
            except (OSError, KeyError):
                seen = 0
            if seen >= 2:  # baseline and stage one written: stage two is training
                time.sleep(0.05 * (attempt + 1))
                break
            time.sleep(0.02)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            with h5py.File(broken, "r") as fh:
                if len(fh.attrs["rows"]) == 2 and "resume/adapter" in fh:
                    interrupted = True
                    break
        else:
            proc.wait()
    check(interrupted, "could not kill the run in stage two")
    p = run(["--resume", "--output", broken, cur])
    check(p.returncode == 0, "resume: %s" % p.stderr)
    with h5py.File(whole, "r") as a, h5py.File(broken, "r") as b:
        for g in ["stages/01_one/params", "stages/02_two/params", "stages/03_three/params", "stages/04_four/params",
                  "stages/01_one/adapter/params", "stages/02_two/adapter/params", "stages/03_three/adapter/params",
                  "stages/02_two/curves/loss", "matrices/primary"]:
            check(g in b and np.array_equal(a[g][()], b[g][()]), "%s differs after kill -9 and --resume" % g)

    # 5. The report.
    p = subprocess.run([LETHE, "report", whole], capture_output=True, text=True)
    check(p.returncode == 0 and "one [lora r4]" in p.stdout and "two [lora r4, merged]" in p.stdout
          and "four [full]" in p.stdout, "report: %s" % p.stdout[:600])

    # 5b. A run file's row with an unmerged adapter generates with it (the row's params are the
    # untrained base: without the adapter the continuation would be noise).
    p = subprocess.run([LETHE, "generate", "--stage", "one", "--prompt", "The", "--max-new", "12", whole],
                       capture_output=True, text=True)
    check(p.returncode == 0 and p.stdout.startswith(" cat sat on"), "generate --stage one: %r %r" % (p.stdout, p.stderr))

    # 6. Refusals, each with its position.
    bad = {
        "per_stage": ("adapter: {kind: lora, per_stage: true, merge: true}", "adapter merge: per_stage keeps"),
        "orthogonal": ("adapter: {kind: lora, orthogonal: 0.5}", "adapter orthogonal: O-LoRA's penalty acts between per-stage"),
        "target": ("adapter: {kind: lora, targets: [q, gat]}", "(did you mean 'gate'?)"),
        "kind": ("adapter: {rank: 4}", "missing key 'kind'"),
        "dropout": ("adapter: {kind: lora, dropout: 1}", "adapter dropout"),
    }
    base = open(cur).read()
    for what, (line, msg) in bad.items():
        text = base.replace("  adapter: {kind: lora, rank: 4, alpha: 8, dropout: 0.1, targets: [q, k, v, o, gate, up, down]}",
                            "  " + line)
        path = os.path.join(tmp, "curricula", "bad-%s.yaml" % what)
        open(path, "w").write(text)
        p = subprocess.run([LETHE, "validate", "--no-data", path], capture_output=True, text=True)
        check(p.returncode == 2 and msg in p.stderr and ("bad-%s.yaml:14:" % what) in p.stderr,
              "%s refused: %r" % (what, p.stderr))
    # Stage one's adapter is unmerged: stage two cannot change it.
    text = base.replace("merge: true}}", "merge: true}}", 1).replace(
        "targets: [q, k, v, o, gate, up, down],\n              merge: true}", "targets: [q, v],\n              merge: true}")
    path = os.path.join(tmp, "curricula", "bad-sequence.yaml")
    open(path, "w").write(text)
    p = subprocess.run([LETHE, "validate", "--no-data", path], capture_output=True, text=True)
    check(p.returncode == 2 and "stage 'one' leaves its adapter unmerged" in p.stderr and "bad-sequence.yaml:21:" in p.stderr,
          "a changed unmerged adapter refused: %r" % p.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
