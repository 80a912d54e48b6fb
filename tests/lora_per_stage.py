#!/usr/bin/env python3
"""lora_per_stage.py: per-stage LoRA adapters (adapter: {per_stage: true}) through `lethe run`,
read back with python3-h5py (tests/data/curricula/lora-per-stage.yaml: a fresh adapter in each of
three stages, the earlier ones frozen and kept):

1. every row stores the untouched base (its params equal the initial model's exactly, drift 0)
   and its own adapter; row k's adapter lists the earlier rows whose adapters are frozen under it
   (frozen_rows: [] / [1] / [1, 2]), each adapter is fresh (row two's A differs from row one's),
   and each learnt (B not zero); `lethe report` labels each row "NAME [lora r4 per stage]";
2. the model a row stands for is rebuilt by the reader as base + every adapter up to that row:
   `lethe export --stage two` (merged) equals base + (alpha/r) B1 A1 + (alpha/r) B2 A2 per
   projection to 1e-5, and differs from base + the second adapter alone;
2b. `lethe export --adapter` writes PEFT's adapter_config.json (peft_type LORA, r, lora_alpha,
   lora_dropout, target_modules in Hugging Face names, task_type CAUSAL_LM, bias none,
   fan_in_fan_out false, base_model_name_or_path the directory) and adapter_model.safetensors
   with PEFT's names and shapes (base_model.model.model.layers.L.self_attn.q_proj.lora_A.weight
   [r, in], ...lora_B.weight [out, r]); with --stage two the base beside it is base + adapter one
   (merged) and W + (alpha/r) B A per module equals the merged export of row two to 1e-5; with
   --stage one the base is the run's base bit for bit; a model without an adapter is refused;
   `model: {from: RUN.h5, stage: two}` starts from base + both adapters: its baseline score
   equals row two's (to 1e-4 relative: the adapters merged in, a different rounding);
3. a run killed with SIGKILL in stage three (adapter one frozen, adapter two attached) and
   resumed with --resume ends with the same parameters, adapters, curves and scores, bit for
   bit, as an uninterrupted run;
4. O-LoRA: orthogonal: 0 gives a run file whose digest (tests/rundigest.py) equals the plain
   per-stage run's; orthogonal: 0.5 logs the penalty per step (0 in stage one, with nothing
   frozen; positive after), its value at the last step of stage two equals
   0.5 sum |A_1 A_2^T| recomputed from the stored adapters (to 5% relative: the logged value
   is from before that step's update, which moves this small value by about 2%; a squared,
   unscaled or one-sided penalty would be off by far more), and the adapters differ from the unpenalised run's;
5. validation refuses merge: true with per_stage, orthogonal without per_stage, and a stage
   after a per-stage one that does not ask for per_stage, each with file:line:column.
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

from testlib import check, finish, lethe, LETHE, run, SRC, tmpdir  # noqa: E402


def s(x):
    return x.decode() if isinstance(x, bytes) else x


def adapter(g):
    """A row's adapter group as {name: array}."""
    flat, out, off = g["params"][()], {}, 0
    for n, sh in zip(g["tensors"][()], g["shapes"][()]):
        out[s(n)] = flat[off: off + sh[0] * sh[1]].reshape(sh).astype(np.float64)
        off += sh[0] * sh[1]
    return out


def safetensors(path):
    """{name: float32 array} of a safetensors file (F32 only)."""
    raw = open(path, "rb").read()
    n = int.from_bytes(raw[:8], "little")
    hdr = json.loads(raw[8: 8 + n])
    out = {}
    for k, v in hdr.items():
        if k == "__metadata__":
            continue
        assert v["dtype"] == "F32", v
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(raw[8 + n + a: 8 + n + b], dtype="<f4").reshape(v["shape"])
    return out


HF = {"q": "self_attn.q_proj", "k": "self_attn.k_proj", "v": "self_attn.v_proj", "o": "self_attn.o_proj",
      "gate": "mlp.gate_proj", "up": "mlp.up_proj", "down": "mlp.down_proj"}

tmp = tmpdir()
try:
    os.makedirs(os.path.join(tmp, "curricula"))
    os.makedirs(os.path.join(tmp, "text"))
    cur = os.path.join(tmp, "curricula", "lora-per-stage.yaml")
    shutil.copy(os.path.join(SRC, "tests", "data", "curricula", "lora-per-stage.yaml"), cur)
    shutil.copy(os.path.join(SRC, "tests", "data", "text", "lines.txt"), os.path.join(tmp, "text", "lines.txt"))
    whole, broken = os.path.join(tmp, "whole.h5"), os.path.join(tmp, "broken.h5")
    p = run(["--output", whole, cur])
    check(p.returncode == 0, "run: %s" % p.stderr)
    # The report labels each row with its per-stage adapter (a plain LoRA row reads "[lora r4]").
    p = lethe(["report", whole])
    check(p.returncode == 0 and all("%s [lora r4 per stage]" % n in p.stdout for n in ("one", "two", "three")),
          "report labels: %s %s" % (p.stdout[:600], p.stderr))
    with h5py.File(whole, "r") as f:
        rows = [s(r) for r in f.attrs["rows"]]
        check(rows == ["baseline", "one", "two", "three"], "rows %r" % rows)
        names = ["01_one", "02_two", "03_three"]
        g = [f["stages/" + n] for n in names]
        # 1. The base untouched; each row its own fresh adapter over the frozen earlier ones.
        p0 = f["stages/00_baseline/params"][()] if "params" in f["stages/00_baseline"] else None
        for k in range(3):
            check(np.array_equal(g[k]["params"][()], g[0]["params"][()]), "row %s's base moved" % names[k])
        if p0 is not None:
            check(np.array_equal(g[0]["params"][()], p0), "row one's base differs from the initial model")
        drift = f["forgetting/drift/l2_initial"][()]
        check(np.all(drift[1:] == 0.0), "per-stage adapters moved the base: drift %r" % drift[1:])
        fr = [list(x["adapter/frozen_rows"][()]) if "frozen_rows" in x["adapter"] else [] for x in g]
        check(fr == [[], [1], [1, 2]], "frozen_rows %r" % fr)
        ad = [adapter(x["adapter"]) for x in g]
        check(not np.array_equal(ad[0]["layers.0.q.lora_A"], ad[1]["layers.0.q.lora_A"]),
              "row two's adapter is not fresh (its A equals row one's)")
        for k in range(3):
            check(any(np.abs(v).max() > 0 for n, v in ad[k].items() if n.endswith("lora_B")),
                  "every B of row %s is zero" % names[k])
        stages = [json.loads(x) for x in f["curriculum/stages"][()]]
        check(all(x["adapter"].get("per_stage") == 1 for x in stages), "settings lines: %r" % [x.get("adapter") for x in stages])
        base = g[0]["params"][()].astype(np.float64)
        tnames = [s(n) for n in f["model/tensor_names"][()]]
        tinfo = {n: row for n, row in zip(tnames, f["model/tensors"][()])}
        mattrs = dict(f["model"].attrs)

    def base_target(l, t):
        """Target t's rows of layer l's base tensor (q, k and v are rows of the fused wqkv)."""
        C, NH = int(mattrs["dim"]), int(mattrs["heads"])
        NKV = int(mattrs.get("kv_heads", NH))
        HS = int(mattrs.get("head_dim", C // NH))
        HQ, KVC = NH * HS, NKV * HS
        name = {"q": "attn.wqkv", "k": "attn.wqkv", "v": "attn.wqkv", "o": "attn.wo",
                "gate": "mlp.w1", "up": "mlp.w3", "down": "mlp.w2"}[t]
        off, rows, cols = [int(x) for x in tinfo["layers.%d.%s" % (l, name)][:3]]
        w = base[off: off + rows * cols].reshape(rows, cols)
        first, n = {"q": (0, HQ), "k": (HQ, KVC), "v": (HQ + KVC, KVC)}.get(t, (0, rows))
        return w[first: first + n]

    # 2. The reader rebuilds row two as base + adapter one + adapter two.
    out = os.path.join(tmp, "export-two")
    p = subprocess.run([LETHE, "export", "--stage", "two", "--weights-only", whole, out], capture_output=True, text=True)
    check(p.returncode == 0, "export --stage two: %s" % p.stderr)
    if p.returncode == 0:
        m2 = safetensors(os.path.join(out, "model.safetensors"))
        scale = 8.0 / 4
        worst = worst_alone = 0.0
        for n in ad[0]:
            if not n.endswith("lora_A"):
                continue
            l, t = int(n.split(".")[1]), n.split(".")[2]
            key = "model.layers.%d.%s.weight" % (l, HF[t])
            d1 = scale * ad[0][n[:-1] + "B"] @ ad[0][n]
            d2 = scale * ad[1][n[:-1] + "B"] @ ad[1][n]
            w0 = base_target(l, t)
            want = w0 + d1 + d2
            worst = max(worst, float(np.abs(m2[key] - want).max()))
            worst_alone = max(worst_alone, float(np.abs(m2[key] - (w0 + d2)).max()))
        check(worst <= 1e-5, "export of row two vs base + both adapters: max error %g" % worst)
        check(worst_alone > 1e-4, "export of row two ignores adapter one (max difference %g)" % worst_alone)
        print("row two rebuilt: max error %.2e against base + both adapters, %.2e without adapter one" % (worst, worst_alone))

    # 2b. export --adapter.
    for stage in ["one", "two"]:
        ad_dir = os.path.join(tmp, "adapter-" + stage)
        p = subprocess.run([LETHE, "export", "--adapter", "--stage", stage, whole, ad_dir], capture_output=True, text=True)
        check(p.returncode == 0, "export --adapter --stage %s: %s" % (stage, p.stderr))
        if p.returncode:
            continue
        cfg = json.load(open(os.path.join(ad_dir, "adapter_config.json")))
        want_cfg = {"peft_type": "LORA", "r": 4, "lora_alpha": 8, "lora_dropout": 0.1, "task_type": "CAUSAL_LM",
                    "bias": "none", "fan_in_fan_out": False,
                    "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]}
        for k, v in want_cfg.items():
            check(cfg.get(k) == v, "adapter_config.json %s: %r, expected %r" % (k, cfg.get(k), v))
        check(os.path.isabs(cfg.get("base_model_name_or_path", "")) and
              cfg["base_model_name_or_path"].endswith("adapter-" + stage), "base_model_name_or_path %r" % cfg.get("base_model_name_or_path"))
        lo = safetensors(os.path.join(ad_dir, "adapter_model.safetensors"))
        wb = safetensors(os.path.join(ad_dir, "model.safetensors"))
        mine = ad[0] if stage == "one" else ad[1]
        want_names = set()
        worst_merged = worst_base = 0.0
        for n in mine:
            if not n.endswith("lora_A"):
                continue
            l, t = int(n.split(".")[1]), n.split(".")[2]
            pre = "base_model.model.model.layers.%d.%s." % (l, HF[t])
            want_names |= {pre + "lora_A.weight", pre + "lora_B.weight"}
            A, B = lo.get(pre + "lora_A.weight"), lo.get(pre + "lora_B.weight")
            check(A is not None and B is not None, "no %s lora_A/lora_B" % pre)
            if A is None or B is None:
                continue
            check(np.array_equal(A, mine[n].astype(np.float32)) and np.array_equal(B, mine[n[:-1] + "B"].astype(np.float32)),
                  "%s: exported A/B differ from the run file's (shapes %r %r)" % (pre, A.shape, B.shape))
            key = "model.layers.%d.%s.weight" % (l, HF[t])
            w = wb[key].astype(np.float64)
            rebuilt = w + (8.0 / 4) * (B.astype(np.float64) @ A.astype(np.float64))
            w0 = base_target(l, t)
            if stage == "two":
                worst_merged = max(worst_merged, float(np.abs(rebuilt - m2[key]).max()))
                d1 = (8.0 / 4) * ad[0][n[:-1] + "B"] @ ad[0][n]
                worst_base = max(worst_base, float(np.abs(w - (w0 + d1)).max()))
            else:
                worst_base = max(worst_base, float(np.abs(w - w0).max()))
        check(set(lo) == want_names, "adapter tensor names: %r" % sorted(set(lo) ^ want_names)[:4])
        if stage == "two":
            check(worst_merged <= 1e-5, "W + (alpha/r) B A vs the merged export: max error %g" % worst_merged)
            check(worst_base <= 1e-5, "the base beside adapter two is not base + adapter one: max error %g" % worst_base)
            print("export --adapter --stage two: W + (alpha/r) B A vs merged export %.2e, base vs base + adapter one %.2e"
                  % (worst_merged, worst_base))
        else:
            check(worst_base == 0.0, "the base beside adapter one differs from the run's base: %g" % worst_base)
    p = subprocess.run([LETHE, "export", "--adapter", "--weights-only", out, os.path.join(tmp, "adapter-none")], capture_output=True, text=True)
    check(p.returncode == 2 and "no unmerged LoRA adapter" in p.stderr and not os.path.exists(os.path.join(tmp, "adapter-none")),
          "--adapter without an adapter: %d %r" % (p.returncode, p.stderr))

    fy = os.path.join(tmp, "curricula", "from.yaml")
    open(fy, "w").write("lethe: 1\nname: from-two\nseed: 3\nmodel: {from: %s, stage: two}\n"
                        "train: {batch: 4, steps: 2, optimizer: {lr: 1.0e-3}}\n"
                        "tasks:\n  prose: {plugin: text, train: ../text/lines.txt, eval: ../text/lines.txt, unit: line}\n"
                        "stages:\n  - {name: more, tasks: [prose]}\noutput: %s\n" % (whole, os.path.join(tmp, "from.h5")))
    p = run([fy])
    check(p.returncode == 0, "from: stage two: %s" % p.stderr)
    if p.returncode == 0:
        with h5py.File(os.path.join(tmp, "from.h5"), "r") as a, h5py.File(whole, "r") as w:
            x, y = float(a["matrices/primary"][0, 0]), float(w["matrices/primary"][2, 0])
            check(abs(x - y) <= 1e-4 * abs(y), "from: stage two starts at %g, row two scored %g" % (x, y))

    # 3. kill -9 in stage three, then --resume.
    interrupted = False
    for attempt in range(6):
        if os.path.exists(broken):
            os.unlink(broken)
        proc = subprocess.Popen([LETHE, "run", "--quiet", "--output", broken, cur])
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                with h5py.File(broken, "r") as fh:
                    seen = len(fh.attrs["rows"])
            except (OSError, KeyError):
                seen = 0
            if seen >= 3:  # baseline, one and two written: stage three is training
                time.sleep(0.05 * (attempt + 1))
                break
            time.sleep(0.02)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            with h5py.File(broken, "r") as fh:
                if len(fh.attrs["rows"]) == 3 and "resume/adapter/frozen_rows" in fh:
                    interrupted = True
                    break
        else:
            proc.wait()
    check(interrupted, "could not kill the run in stage three")
    p = run(["--resume", "--output", broken, cur])
    check(p.returncode == 0, "resume: %s" % p.stderr)
    with h5py.File(whole, "r") as a, h5py.File(broken, "r") as b:
        for n in ["stages/03_three/params", "stages/01_one/adapter/params", "stages/02_two/adapter/params",
                  "stages/03_three/adapter/params", "stages/03_three/adapter/frozen_rows",
                  "stages/03_three/curves/loss", "matrices/primary"]:
            check(n in b and np.array_equal(a[n][()], b[n][()]), "%s differs after kill -9 and --resume" % n)

    # 4. O-LoRA.
    import rundigest
    text = open(cur).read()
    zero, half = os.path.join(tmp, "curricula", "zero.yaml"), os.path.join(tmp, "curricula", "half.yaml")
    open(zero, "w").write(text.replace("per_stage: true}", "per_stage: true, orthogonal: 0}"))
    open(half, "w").write(text.replace("per_stage: true}", "per_stage: true, orthogonal: 0.5}"))
    zf, hf = os.path.join(tmp, "zero.h5"), os.path.join(tmp, "half.h5")
    for c, o in [(zero, zf), (half, hf)]:
        p = run(["--output", o, c])
        check(p.returncode == 0, "run %s: %s" % (c, p.stderr))
    check(rundigest.digest(zf) == rundigest.digest(whole), "orthogonal: 0 changed the run")
    with h5py.File(hf, "r") as f, h5py.File(whole, "r") as w:
        pen = [f["stages/%s/curves/penalty" % n][()] if "penalty" in f["stages/%s/curves" % n] else None for n in names]
        check(all(x is not None for x in pen), "no penalty curve in some stage")
        if all(x is not None for x in pen):
            check(np.all(pen[0] == 0) and np.all(pen[1] > 0) and np.all(pen[2] > 0),
                  "penalty per stage: %r" % [(float(x.min()), float(x.max())) for x in pen])
            a1, a2 = adapter(f["stages/01_one/adapter"]), adapter(f["stages/02_two/adapter"])
            want = 0.5 * sum(float(np.abs(a1[k] @ a2[k].T).sum()) for k in a1 if k.endswith("lora_A"))
            check(abs(float(pen[1][-1]) - want) <= 5e-2 * want,
                  "stage two's last penalty %g, recomputed %g" % (float(pen[1][-1]), want))
            print("O-LoRA penalty: stage two %.4g -> %.4g, stage three %.4g -> %.4g" % (pen[1][0], pen[1][-1], pen[2][0], pen[2][-1]))
            free = adapter(w["stages/02_two/adapter"])
            check(not np.array_equal(a2["layers.0.q.lora_A"], free["layers.0.q.lora_A"]), "the penalty changed nothing")
        meth = [s(x) for x in f["curriculum/stages"][()]]
        check("\"orthogonal\": 0.5" in meth[1], "settings line: %s" % meth[1])

    # 5. Refusals, each with its position.
    base_text = open(cur).read()
    line = "  adapter: {kind: lora, rank: 4, alpha: 8, dropout: 0.1, targets: [q, k, v, o, gate, up, down],\n            per_stage: true}"
    check(line in base_text, "the curriculum's adapter line moved")
    bad = {
        "merge": ("  adapter: {kind: lora, rank: 4, per_stage: true,\n            merge: true}",
                  "adapter merge: per_stage keeps each stage's adapter apart", ":14:"),
        "orthogonal": ("  adapter: {kind: lora, rank: 4,\n            orthogonal: 0.5}",
                       "adapter orthogonal: O-LoRA's penalty acts between per-stage adapters", ":14:"),
        "negative": ("  adapter: {kind: lora, rank: 4, per_stage: true,\n            orthogonal: -1}",
                     "adapter orthogonal: expected a number >= 0", ":14:"),
    }
    for what, (text, msg, pos) in bad.items():
        path = os.path.join(tmp, "curricula", "bad-%s.yaml" % what)
        open(path, "w").write(base_text.replace(line, text))
        p = subprocess.run([LETHE, "validate", "--no-data", path], capture_output=True, text=True)
        check(p.returncode == 2 and msg in p.stderr and ("bad-%s.yaml%s" % (what, pos)) in p.stderr,
              "%s refused: %r" % (what, p.stderr))
    path = os.path.join(tmp, "curricula", "bad-sequence.yaml")
    open(path, "w").write(base_text.replace(
        "  - {name: two, tasks: [prose]}",
        "  - {name: two, tasks: [prose], adapter: {kind: lora, rank: 4, alpha: 8, dropout: 0.1,\n"
        "     targets: [q, k, v, o, gate, up, down]}}"))
    p = subprocess.run([LETHE, "validate", "--no-data", path], capture_output=True, text=True)
    check(p.returncode == 2 and "stage 'one' leaves its adapter unmerged" in p.stderr and "bad-sequence.yaml:19:" in p.stderr,
          "a per-stage adapter followed by a shared one refused: %r" % p.stderr)
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
