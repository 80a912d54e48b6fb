#!/usr/bin/env python3
"""curves.py: end-to-end tests of within-stage curves (evaluate: {every: N, curve_limit: M}) and
loss_weighting (docs/curriculum.md) through the real `lethe` binary, reading run files with h5py:

1. a two-stage curriculum with every: 2 / curve_limit: 8 (train) and every: 10 / curve_limit: 4
   (stage two, 30 steps) stores points at steps 2, 4, 6 and 10, 20 (never at a stage's end), on
   8 and 4 examples, values in [0, 1]; the live log has one curve record per point and task;
   `lethe report` shows them in text, JSON ({stage, step, value} per task) and CSV;
2. the same curriculum twice gives identical run files (tests/rundigest.py);
3. without evaluate: every, the matrices, measures and parameters are identical (curves read the
   model and change nothing);
4. killed with SIGKILL while stage two computes its points and resumed, the run file (points
   included) is identical to the straight run;
5. loss_weighting: token is bit-identical to no key; example changes the training, is stored
   (settings line, row attribute) and shown by validate and report;
6. mistakes are reported with file:line:column.
Skips (77) without h5py.
"""
import csv
import io
import json
import os
import re
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


Q = os.path.join(SRC, "curricula", "quickstart")


def curriculum(path, train_extra="", two_extra="", top_extra=""):
    text = """lethe: 1
name: curves
seed: 5
model: {preset: tiny, context: 64, layers: 2}
tokenizer: {vocab: 320}
train: {batch: 4, steps: 7, optimizer: {lr: 2.0e-3}%(train)s}
tasks:
  reviews: {plugin: sentiment, train: %(q)s/reviews.train.tsv, eval: %(q)s/reviews.dev.tsv, eval_limit: 24}
  entities: {plugin: ner, train: %(q)s/entities.train.txt, eval: %(q)s/entities.dev.txt, eval_limit: 12, max_new_tokens: 8}
stages:
  - {name: one, tasks: [reviews]}
  - {name: two, mix: {reviews: 1, entities: 1}, steps: 30%(two)s}
%(top)s""" % {"q": Q, "train": train_extra, "two": two_extra, "top": top_extra}
    return write(path, text)


def matrices(path):
    with h5py.File(path, "r") as f:
        out = {}
        for g in ("matrices", "forgetting/primary", "forgetting/target_nll"):
            f[g].visititems(lambda n, o: out.__setitem__(g + "/" + n, o[()]) if isinstance(o, h5py.Dataset) else None)
        for k in ("acc", "bwt", "fwt", "chaudhry"):
            out["forgetting/primary@" + k] = f["forgetting/primary"].attrs[k]
        for r in f["stages"]:
            if "params" in f["stages"][r]:
                out[r + "/params"] = f["stages"][r]["params"][()]
        return out


def same(a, b):
    if a.keys() != b.keys():
        return False
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        if x.shape != y.shape or x.dtype != y.dtype:
            return False
        if x.dtype.kind == "f":
            if not np.array_equal(x, y, equal_nan=True):
                return False
        elif not np.array_equal(x, y):
            return False
    return True


CURVES = ", evaluate: {every: 2, curve_limit: 8}"
TWO = ", evaluate: {every: 10, curve_limit: 4}"

tmp = tmpdir()
try:
    # 1. The points.
    cur = curriculum(os.path.join(tmp, "curves.yaml"), CURVES, TWO)
    a = os.path.join(tmp, "a.h5")
    run(cur, a)
    with h5py.File(a, "r") as f:
        cols = [c.decode() if isinstance(c, bytes) else c for c in f["matrices/columns"][()]]
        check(cols == ["reviews", "entities"], "columns %r" % cols)
        check("eval_curve" not in f["stages/00_baseline"], "the baseline has no points")
        want = {"01_one": ([2, 4, 6], [8, 8]), "02_two": ([10, 20], [4, 4])}
        for row, (steps, examples) in want.items():
            g = f["stages"][row]
            check("eval_curve" in g, "%s has eval_curve" % row)
            if "eval_curve" not in g:
                continue
            got = list(g["eval_curve/steps"][()])
            check(got == steps, "%s: points at steps %r, want %r" % (row, got, steps))
            check(g["eval_curve/steps"].dtype == np.int32, "steps are int32")
            v = g["eval_curve/primary"][()]
            check(v.shape == (len(steps), 2) and v.dtype == np.float64, "%s: primary shape %r" % (row, v.shape))
            check(np.all((v >= 0) & (v <= 1)), "%s: values in [0, 1]: %r" % (row, v))
            check(list(g["eval_curve/examples"][()]) == examples, "%s: examples %r" % (row, list(g["eval_curve/examples"][()])))
        stages = [s.decode() if isinstance(s, bytes) else s for s in f["curriculum/stages"][()]]
        st = [json.loads(s) for s in stages]
        check(st[0].get("evaluate") == {"every": 2, "curve_limit": 8} and st[1].get("evaluate") == {"every": 10, "curve_limit": 4},
              "settings lines keep evaluate: %r" % stages)
        check("loss_weighting" not in st[0], "no loss_weighting in the settings by default")
        points_one = f["stages/01_one/eval_curve/primary"][()]
    # The live log: one curve record per point and task, at the same steps and values.
    log = [json.loads(line) for line in open(a + ".log.jsonl")]
    curves = [e for e in log if e["event"] == "curve"]
    check(len(curves) == (3 + 2) * 2, "%d curve records in the live log, want 10" % len(curves))
    one = [(e["step"], e["task"], e["value"], e["examples"]) for e in curves if e["stage"] == "one"]
    check(one[:2] == [(2, "reviews", points_one[0][0], 8), (2, "entities", points_one[0][1], 8)],
          "live log's first points %r" % one[:2])
    # lethe report: text, JSON, CSV.
    p = lethe(["report", a])
    check(p.returncode == 0 and "Within-stage curves" in p.stdout, "report text shows the curves: %s" % p.stderr)
    check(re.search(r"^\s+20\s+\d\.\d{4}\s+\d\.\d{4}$", p.stdout, re.M) is not None, "report text: the row of step 20")
    p = lethe(["report", "--format", "json", a])
    try:
        j = json.loads(p.stdout)
    except ValueError:
        j = {}
        check(False, "report JSON parses: %s" % p.stdout[-300:])
    jc = j.get("curves", {})
    check(sorted(jc) == ["entities", "reviews"], "JSON curves per task: %r" % list(jc))
    pts = jc.get("reviews", [])
    check([(x["stage"], x["step"]) for x in pts] == [("one", 2), ("one", 4), ("one", 6), ("two", 10), ("two", 20)],
          "JSON points %r" % pts)
    check(pts and pts[0]["value"] == points_one[0][0] and pts[0]["examples"] == 8, "JSON point value")
    p = lethe(["report", "--format", "csv", a])
    rows = list(csv.reader(io.StringIO(p.stdout)))
    crow = [r for r in rows if r and r[0] == "curve"]
    check(len(crow) == 10, "CSV: %d curve rows, want 10" % len(crow))
    check(any(r[:4] == ["curve", "one", "reviews", "accuracy@2"] and float(r[4]) == points_one[0][0] for r in crow),
          "CSV: the first point %r" % crow[:1])

    # The HTML report and the standalone figure draw the points: one series per task, on x the
    # step of the whole run (baseline at 0, stage one's points 2, 4, 6 and its end, stage two's
    # after it), a mark where each stage begins.
    svg = os.path.join(tmp, "curves.svg")
    p = lethe(["report", "--figure", "curves", "--format", "svg", "-o", svg, a])
    check(p.returncode == 0, "report --figure curves: %s" % p.stderr)
    if p.returncode == 0:
        import xml.etree.ElementTree as ET
        ns = "{http://www.w3.org/2000/svg}"
        root = ET.parse(svg).getroot()
        cls = [e.get("class") for e in root.iter()]
        marks = ["".join(e.itertext()) for e in root.iter(ns + "text") if e.get("class") == "mark-label"]
        check(cls.count("series") == 2 and marks == ["one", "two"], "curves figure: %r %r" % (cls.count("series"), marks))
        legend = root.find(".//%sg[@class='legend']" % ns)
        check(legend is not None and ["".join(e.itertext()) for e in legend.iter(ns + "text")] == ["reviews", "entities"],
              "curves figure: legend")
    page = os.path.join(tmp, "a.html")
    p = lethe(["report", "--format", "html", "-o", page, a])
    check(p.returncode == 0 and 'id="fig-curves"' in open(page, encoding="utf-8").read(), "HTML report has the curves")

    # 2. Deterministic.
    b = os.path.join(tmp, "b.h5")
    run(cur, b)
    check(rundigest.digest(a) == rundigest.digest(b), "the same curriculum twice gives different run files")

    # 3. Without curves: the same rows.
    plain = os.path.join(tmp, "plain.h5")
    run(curriculum(os.path.join(tmp, "plain.yaml")), plain)
    ma, mp = matrices(a), matrices(plain)
    check(len(ma) > 10 and same(ma, mp), "matrices, measures or parameters differ with evaluate: every")
    with h5py.File(plain, "r") as f:
        check(all("eval_curve" not in f["stages"][r] for r in f["stages"]), "a run without every has no points")

    # 4. Killed while stage two computes its points, resumed: the same file.
    broken = os.path.join(tmp, "broken.h5")
    interrupted = False
    for attempt in range(5):
        for leftover in (broken, broken + ".log.jsonl"):
            if os.path.exists(leftover):
                os.unlink(leftover)
        proc = subprocess.Popen([LETHE, "run", "--quiet", "--threads", "1", "--output", broken, cur])
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            try:
                seen = [json.loads(line) for line in open(broken + ".log.jsonl") if line.endswith("\n")]
            except (OSError, ValueError):
                seen = []
            if any(e["event"] == "curve" and e["stage"] == "two" for e in seen):
                time.sleep(0.02 * attempt)
                break
            time.sleep(0.01)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            with h5py.File(broken, "r") as fh:
                if len(fh.attrs["rows"]) < 3:
                    interrupted = True
                    break
        else:
            proc.wait()
    check(interrupted, "could not kill the run inside stage two")
    run(cur, broken, "--resume")
    check(rundigest.digest(a) == rundigest.digest(broken), "killed and resumed differs from straight through")
    with h5py.File(broken, "r") as fb, h5py.File(a, "r") as fa:
        check(np.array_equal(fb["stages/02_two/eval_curve/primary"][()], fa["stages/02_two/eval_curve/primary"][()]),
              "resumed curve points differ")

    # 5. loss_weighting.
    tok = os.path.join(tmp, "token.h5")
    run(curriculum(os.path.join(tmp, "token.yaml"), ", loss_weighting: token"), tok)
    check(rundigest.digest(tok) == rundigest.digest(plain), "loss_weighting: token is not bit-identical to no key")
    with h5py.File(tok, "r") as ft, h5py.File(plain, "r") as fp:
        check(list(ft["curriculum/stages"][()]) == list(fp["curriculum/stages"][()]), "token changes the settings lines")
        check("loss_weighting" not in ft["stages/01_one"].attrs, "token is not stored as an attribute")
    ex_cur = curriculum(os.path.join(tmp, "example.yaml"), "", ", loss_weighting: example")
    ex = os.path.join(tmp, "example.h5")
    run(ex_cur, ex)
    with h5py.File(ex, "r") as fe, h5py.File(plain, "r") as fp:
        a1 = fe["stages/01_one"].attrs.get("loss_weighting")
        a2 = fe["stages/02_two"].attrs.get("loss_weighting")
        check(a1 is None and a2 in ("example", b"example"), "row attributes: %r, %r" % (a1, a2))
        check(np.array_equal(fe["stages/01_one/params"][()], fp["stages/01_one/params"][()]),
              "stage one (token) trains as without the key")
        check(not np.array_equal(fe["stages/02_two/params"][()], fp["stages/02_two/params"][()]),
              "example weighting changed nothing in a mix of 1- and many-token targets")
        st = json.loads(fe["curriculum/stages"][1])
        check(st.get("loss_weighting") == "example", "settings line: %r" % st)
    p = lethe(["validate", "--no-data", ex_cur])
    check(p.returncode == 0 and "loss weighting: example" in p.stdout, "validate shows the weighting: %s" % p.stdout)
    p = lethe(["validate", "--no-data", cur])
    check("evaluated every 2 steps inside the stage, on the first 8" in p.stdout, "validate shows the curves: %s" % p.stdout)
    p = lethe(["report", ex])
    check("Loss weighting: example" in p.stdout and "stages two" in p.stdout, "report shows the weighting")
    p = lethe(["report", "--format", "json", ex])
    check(json.loads(p.stdout).get("loss_weighting") == {"two": "example"} and "curves" not in json.loads(p.stdout),
          "report JSON: loss_weighting, no curves")

    # 6. Mistakes, each with its place.
    bad = [
        (", evaluate: {every: -1}", "", "", r"evaluate every: expected an integer from 0"),
        (", evaluate: {curve_limit: 3}", "", "", r"train evaluate: missing key 'every'"),
        (", evaluate: {every: 2, limit: 3}", "", "", r"unknown key 'limit'"),
        (", evaluate: {every: 2, curve_limit: 0}", "", "", r"evaluate curve_limit: expected an integer from 1"),
        (", loss_weighting: tokens", "", "", r"loss_weighting: expected one of .* got 'tokens' \(did you mean 'token'\?\)"),
        ("", ", loss_weighting: [example]", "", r"loss_weighting"),
        ("", "", "evaluate: {tasks: all, every: 5}\n", r"evaluate: 'every' belongs in train:"),
    ]
    for i, (tr, two, top, pattern) in enumerate(bad):
        path = curriculum(os.path.join(tmp, "bad%d.yaml" % i), tr, two, top)
        p = lethe(["validate", "--no-data", path])
        line = re.search(r"bad%d\.yaml:(\d+):(\d+): (.*)" % i, p.stderr)
        check(p.returncode == 2 and line is not None and re.search(pattern, line.group(3)) is not None,
              "mistake %d (%s%s%s): exit %d, %s" % (i, tr, two, top, p.returncode, p.stderr.strip()))
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
