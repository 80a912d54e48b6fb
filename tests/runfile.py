#!/usr/bin/env python3
"""runfile.py: end-to-end tests of `lethe run` and its HDF5 run file, read with Debian's
python3-h5py as any user would (no lethe code):

1. the quick-start curriculum runs, and its run file has the documented layout: attributes,
   curriculum text, tokenizer, model, one group per row with parameters, curves and per-task
   evaluations, score matrices with row and column names, missing cells stored as NaN;
2. forgetting is visible: the first task's primary score after the last stage is below its score
   after the stage that trained it;
3. the same curriculum and seed give the same tensors, byte for byte;
4. an existing run file is never overwritten without --force; an invalid curriculum trains nothing;
5. a run killed with SIGKILL in the middle of a stage and resumed with --resume ends with the same
   parameters, bit for bit, as a run that was never interrupted.
Skips (77) without h5py.
"""
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

from testlib import check, finish, LETHE, run, SRC, tmpdir  # noqa: E402


tmp = tmpdir()
try:
    # 1. The quick start and its layout.
    out = os.path.join(tmp, "quick.h5")
    p = run(["--threads", "2", "--output", out, os.path.join(SRC, "curricula", "quickstart.yaml")])
    check(p.returncode == 0, "quickstart run: exit %d: %s" % (p.returncode, p.stderr))
    # The digest of what the quick start learnt and measured (tests/rundigest.py): a change that
    # moves any parameter, score or measure shows here. Results are promised bit for bit only on
    # the same machine and thread count, so the recorded digest is keyed by the CPU and OpenBLAS core.
    import rundigest
    key = rundigest.machine_key()
    recorded = dict(l.split(None, 1)[::-1] for l in open(os.path.join(SRC, "tests", "data", "quickstart.digest"))
                    if l.strip() and not l.startswith("#"))
    got = rundigest.digest(out) if p.returncode == 0 else None
    if key in recorded:
        check(got == recorded[key], "quick-start digest %s, recorded %s" % (got, recorded[key]))
    else:
        print("note: no digest recorded for %r; this machine's is %s" % (key, got))
    f = h5py.File(out, "r")
    check(f.attrs["format"] == "lethe-run" and f.attrs["format_version"] == 1, "format attributes")
    rows = list(f.attrs["rows"])
    check(rows == ["baseline", "reviews", "entities", "translation", "summaries"], "rows %r" % rows)
    check("lethe: 1" in f["curriculum/text"][()].decode(), "curriculum text")
    check(f["tokenizer/merges"].shape[1] == 2 and f["tokenizer"].attrs["vocab_size"] == 260 + f["tokenizer/merges"].shape[0],
          "tokenizer merges")
    n_params = int(f["model"].attrs["params"])
    check(len(f["model/tensor_names"]) == f["model/tensors"].shape[0], "tensor table")
    for i, name in enumerate(rows):
        g = f["stages/%02d_%s" % (i, name)]
        check(g.attrs["name"] == name, "row %s name" % name)
        if i > 0:
            check(g["params"].shape == (n_params,) and g["params"].dtype == np.float32, "%s params" % name)
            check(g["curves/loss"].shape == (150,) and g["curves/lr"].shape == (150,) and g["curves/grad_norm"].shape == (150,),
                  "%s curves" % name)
        for task in ("reviews", "entities", "translation", "summaries"):
            e = g["eval/" + task]
            n = e.attrs["examples"]
            check(e["nll"].shape == (n,) and e["n_tokens"].shape == (n,) and e["score"].shape == (n,), "%s/%s per-example" % (name, task))
            check(len(e["metric_names"]) == len(e["metric_values"]) > 0, "%s/%s metrics" % (name, task))
            check("predictions" in e and len(e["predictions"]) == n, "%s/%s predictions" % (name, task))
    m = f["matrices/primary"]
    check(m.shape == (5, 4) and list(m.attrs["columns"]) == ["reviews", "entities", "translation", "summaries"] and
          list(m.attrs["rows"]) == rows, "primary matrix shape and names")
    check(list(m.attrs["metrics"]) == ["accuracy", "f1", "bleu", "rougeL"], "primary metric names %r" % list(m.attrs["metrics"]))
    check(not np.isnan(m[()]).any(), "every cell of the primary matrix evaluated")
    acc = f["matrices/accuracy"]
    check(acc.attrs["better"] == "higher" and np.isnan(acc[()][:, 1:]).all(), "cells without the metric are NaN, not 0")
    check(list(f["matrices/rows"]) == [r.encode() for r in rows], "matrices/rows")
    # 2. Forgetting is visible, in the matrix and in the stored measures.
    reviews = m[()][:, 0]
    check(reviews[1] >= 0.9 and reviews[-1] < reviews[1] - 0.2, "reviews forgotten: %r" % list(reviews))
    fg = f["forgetting/primary"]
    check(list(fg["tasks"].asstr()) == ["reviews", "entities", "translation", "summaries"], "forgetting tasks")
    check(list(fg["trained_row"][()]) == [1, 2, 3, 4], "trained rows %r" % list(fg["trained_row"][()]))
    check(abs(fg["forgetting"][0] - (reviews[1] - reviews[-1])) < 1e-12 and np.isnan(fg["forgetting"][3]),
          "per-task forgetting from the matrix")
    # One scale: translation's BLEU is flagged 0-100 and enters every measure divided by 100.
    check(list(fg["scale"][()]) == [1, 1, 100, 1], "scales %r" % list(fg["scale"][()]))
    check(abs(fg.attrs["acc"] - np.nanmean(m[()][-1] / fg["scale"][()])) < 1e-12, "ACC on 0-1")
    check(abs(fg["learning"][2] - m[3, 2] / 100) < 1e-12 and abs(fg["final"][2] - m[-1, 2] / 100) < 1e-12,
          "translation's learning and final on 0-1")
    check(abs(fg["normalised"][0] - (m[-1, 0] - m[0, 0]) / (1 - m[0, 0])) < 1e-12, "chance-normalised")
    check(abs(fg["forward_transfer"][1] - (m[1, 1] - m[0, 1])) < 1e-12 and np.isnan(fg["forward_transfer"][0]),
          "per-task forward transfer")
    check("target_nll" in f["matrices"] and f["matrices/target_nll"].attrs["better"] == "lower", "target NLL matrix")
    # Drift, recomputed here from the stored parameters: ||p2 - p1|| / ||p1|| over all groups.
    p1 = f["stages/01_reviews/params"][()].astype(np.float64)
    p2 = f["stages/02_entities/params"][()].astype(np.float64)
    want = np.linalg.norm(p2 - p1) / np.linalg.norm(p1)
    got = f["forgetting/drift/relative_previous"][2, 4]
    check(abs(got - want) < 1e-9 * want and np.isnan(f["forgetting/drift/relative_previous"][0, 4]), "drift %r vs %r" % (got, want))
    # Forgetting events, recounted from the per-example scores: right (>= 0.5) then wrong.
    ev = 0
    for i in range(1, len(rows) - 1):
        a = f["stages/%02d_%s/eval/reviews/score" % (i, rows[i])][()]
        b = f["stages/%02d_%s/eval/reviews/score" % (i + 1, rows[i + 1])][()]
        ev += int(((a >= 0.5) & (b < 0.5)).sum())
    check(f["forgetting/events/reviews"].attrs["events"] == ev > 0, "events %r vs %r" % (f["forgetting/events/reviews"].attrs["events"], ev))
    # Counted only from the row that trained the task: translation (row 3) has one pair of rows.
    a = f["stages/03_translation/eval/translation/score"][()] / 100
    b = f["stages/04_summaries/eval/translation/score"][()] / 100
    want = int(((a >= 0.5) & (b < 0.5)).sum())
    check(f["forgetting/events/translation"].attrs["events"] == want, "translation events %r vs %r" % (f["forgetting/events/translation"].attrs["events"], want))
    f.close()
    # lethe report reads the same file.
    p = subprocess.run([LETHE, "report", out], capture_output=True, text=True)
    check(p.returncode == 0 and "Score matrix" in p.stdout and "forgetting (Chaudhry)" in p.stdout, "report text: %s" % p.stderr)
    p = subprocess.run([LETHE, "report", "--format", "json", out], capture_output=True, text=True)
    import json
    rep = json.loads(p.stdout)
    check(rep["tasks"][0] == "reviews" and abs(rep["matrix"][1][0]["value"] - reviews[1]) < 1e-12 and
          rep["primary"]["forgetting"]["summaries"]["value"] is None, "report json")
    # Intervals: every figure {"value": x, "ci": [low, high]} around the stored point.
    lo, hi = rep["matrix"][1][0]["ci"]
    check(lo <= reviews[1] <= hi and len(rep["primary"]["bwt"]["ci"]) == 2, "report json intervals %r" % rep["primary"]["bwt"])
    # The HTML report: one self-contained file, an SVG per chart, nothing loaded from outside.
    html_path = os.path.join(tmp, "report.html")
    p = subprocess.run([LETHE, "report", "--format", "html", "-o", html_path, out], capture_output=True, text=True)
    html = open(html_path, encoding="utf-8").read() if p.returncode == 0 else ""
    from html.parser import HTMLParser

    class Tags(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack, self.svgs, self.bad, self.classes = [], 0, 0, []

        def handle_starttag(self, tag, attrs):
            if tag == "svg":
                self.svgs += 1
            if any(k in ("src", "href") for k, _ in attrs):
                self.bad += 1
            self.classes.append(dict(attrs).get("class") or "")
            if tag not in ("meta", "rect", "line", "circle", "polyline", "path", "br"):
                self.stack.append(tag)

        def handle_startendtag(self, tag, attrs):
            self.classes.append(dict(attrs).get("class") or "")

        def handle_endtag(self, tag):
            if tag in ("rect", "line", "circle", "polyline", "path", "br"):
                return
            if not self.stack or self.stack.pop() != tag:
                self.bad += 1

    t = Tags()
    t.feed(html)
    # 2 heatmaps + all tasks + forgetting + 4 task panels + events + the loss curve + drift.
    check(p.returncode == 0 and t.svgs == 11 and t.bad == 0 and not t.stack and "http" not in html,
          "HTML report: %d svgs, %d problems, unclosed %r" % (t.svgs, t.bad, t.stack))
    # Intervals as whiskers (all tasks: 4 x 5 cells at most; forgetting: 4 bars) and bands (the panels),
    # one colour bar per heatmap, and every stage name on the x axes.
    check(24 >= t.classes.count("whisker") >= 12 and t.classes.count("band") >= 4 and
          t.classes.count("colour-bar") == 2, "HTML intervals: %d whiskers, %d bands" %
          (t.classes.count("whisker"), t.classes.count("band")))
    check(all(html.count('class="x-tick">%s<' % r) >= 6 for r in rows), "stage names on every x axis")
    # One figure for a paper: a standalone SVG that parses as XML.
    import xml.etree.ElementTree as ET
    svg_path = os.path.join(tmp, "tasks.svg")
    p = subprocess.run([LETHE, "report", "--figure", "tasks", "--format", "svg", "-o", svg_path, out],
                       capture_output=True, text=True)
    try:
        root = ET.parse(svg_path).getroot() if p.returncode == 0 else None
    except ET.ParseError:
        root = None
    ns = "{http://www.w3.org/2000/svg}"
    check(root is not None and [e.get("class") for e in root.iter(ns + "path")].count("series") == 4 and
          [e.text for e in root.iter(ns + "text") if e.get("class") == "x-tick"] == rows,
          "figure tasks: %r" % p.stderr)
    # Reports are published by rename, never over one of their inputs or over a non-file.
    before = open(out, "rb").read()
    p = subprocess.run([LETHE, "report", "-o", out, out], capture_output=True, text=True)
    check(p.returncode == 2 and "is also an input" in p.stderr and open(out, "rb").read() == before,
          "report -o INPUT refused: %r" % p.stderr)
    p = subprocess.run([LETHE, "compare", "-o", out, out, out], capture_output=True, text=True)
    check(p.returncode == 2 and "is also an input" in p.stderr and open(out, "rb").read() == before,
          "compare -o INPUT refused: %r" % p.stderr)
    p = subprocess.run([LETHE, "report", "-o", tmp, out], capture_output=True, text=True)
    check(p.returncode == 2 and "not a regular file" in p.stderr, "report -o DIR refused: %r" % p.stderr)
    rep = os.path.join(tmp, "r.txt")
    p = subprocess.run([LETHE, "report", "-o", rep, out], capture_output=True, text=True)
    check(p.returncode == 0 and "Score matrix" in open(rep).read() and
          not [n for n in os.listdir(tmp) if n.endswith(".tmp")], "report -o FILE: %r" % p.stderr)
    for fmt in ("markdown", "csv"):
        p = subprocess.run([LETHE, "report", "--format", fmt, out], capture_output=True, text=True)
        check(p.returncode == 0 and "reviews" in p.stdout, "report %s" % fmt)
    # lethe compare: the replay variant of the quick start forgets less.
    replay = os.path.join(tmp, "replay.h5")
    p = run(["--threads", "2", "--output", replay, os.path.join(SRC, "curricula", "quickstart-replay.yaml")])
    check(p.returncode == 0, "replay run: %s" % p.stderr)
    p = subprocess.run([LETHE, "compare", "--format", "json", out, replay], capture_output=True, text=True)
    cmp = json.loads(p.stdout) if p.returncode == 0 else []
    check(len(cmp) == 2 and cmp[1]["forgetting (Chaudhry)"] < cmp[0]["forgetting (Chaudhry)"],
          "replay forgets less: %r" % cmp)
    p = subprocess.run([LETHE, "compare", out, replay], capture_output=True, text=True)
    check(p.returncode == 0 and "replay.h5" in p.stdout and "ACC" in p.stdout, "compare text")
    p = subprocess.run([LETHE, "compare", "--format", "html", out, replay], capture_output=True, text=True)
    # Per-task columns; the replay run is best where its bootstrap interval is apart (ACC, Chaudhry).
    check(p.returncode == 0 and "Per task: forgetting" in p.stdout and p.stdout.count("<th>reviews</th>") == 2 and
          p.stdout.count('class="best"') >= 2, "compare html")
    p = subprocess.run([LETHE, "report", os.path.join(SRC, "README.md")], capture_output=True, text=True)
    check(p.returncode == 2 and "not a readable HDF5 file" in p.stderr, "report on a non-HDF5 file")

    # 3. Determinism: the same curriculum and seed, the same tensors.
    out2 = os.path.join(tmp, "quick2.h5")
    p = run(["--threads", "2", "--output", out2, os.path.join(SRC, "curricula", "quickstart.yaml")])
    with h5py.File(out, "r") as a, h5py.File(out2, "r") as b:
        same = all(np.array_equal(a["stages/%02d_%s/params" % (i, r)][()], b["stages/%02d_%s/params" % (i, r)][()])
                   for i, r in enumerate(rows) if i > 0)
        same = same and np.array_equal(a["matrices/primary"][()], b["matrices/primary"][()], equal_nan=True)
        check(p.returncode == 0 and same, "two runs with the same seed differ")

    # 4. Never overwrite without --force; invalid curricula train nothing.
    before = os.stat(out).st_mtime_ns
    p = run(["--output", out, os.path.join(SRC, "curricula", "quickstart.yaml")])
    check(p.returncode == 2 and "exists: give --force to overwrite it or --resume to continue it" in p.stderr
          and os.stat(out).st_mtime_ns == before, "refuses to overwrite: %s" % p.stderr)
    bad = os.path.join(tmp, "bad.yaml")
    with open(bad, "w") as fh:
        fh.write("lethe: 1\ntasks: {t: {plugin: text, train: /nonexistent.txt}}\nstages: [{name: s, tasks: [t]}]\noutput: never.h5\n")
    p = run([bad])
    check(p.returncode == 2 and "nothing was trained" in p.stderr and not os.path.exists(os.path.join(tmp, "never.h5")),
          "invalid curriculum: %s" % p.stderr)

    # Seeds: --seed N replaces both seeds; seed: {init, data} sets them apart; the file records
    # them and --resume refuses another seed.
    os.makedirs(os.path.join(tmp, "seeds", "curricula"))
    os.makedirs(os.path.join(tmp, "seeds", "text"))
    scur = os.path.join(tmp, "seeds", "curricula", "resume.yaml")
    shutil.copy(os.path.join(SRC, "tests", "data", "curricula", "resume.yaml"), scur)
    shutil.copy(os.path.join(SRC, "tests", "data", "text", "lines.txt"), os.path.join(tmp, "seeds", "text", "lines.txt"))
    s7 = os.path.join(tmp, "s7.h5")
    p = run(["--seed", "7", "--output", s7, scur])
    with h5py.File(s7, "r") as fh:
        check(p.returncode == 0 and int(fh.attrs["seed"]) == 7 and "data_seed" not in fh.attrs,
              "--seed 7: %r" % p.stderr)
    before = open(s7, "rb").read()
    p = run(["--resume", "--seed", "8", "--output", s7, scur])
    check(p.returncode == 2 and "seed 7 in the file, 8 in" in p.stderr and open(s7, "rb").read() == before,
          "resume with another seed refused: %r" % p.stderr)
    with open(scur) as fh:
        text = fh.read()
    split = os.path.join(tmp, "seeds", "curricula", "split.yaml")
    with open(split, "w") as fh:
        fh.write(re.sub(r"(?m)^seed:.*$", "", text) + "\nseed: {init: 7, data: 9}\n")
    s79 = os.path.join(tmp, "s79.h5")
    p = run(["--output", s79, split])
    with h5py.File(s7, "r") as a, h5py.File(s79, "r") as b:
        rows_s = list(a.attrs["rows"])
        same_init = np.array_equal(a["resume/params"][()], b["resume/params"][()])
        check(p.returncode == 0 and int(b.attrs["seed"]) == 7 and int(b.attrs["data_seed"]) == 9 and not same_init,
              "seed: {init: 7, data: 9}: %r" % p.stderr)
    p = subprocess.run([LETHE, "validate", "--no-data", split], capture_output=True, text=True)
    check(p.returncode == 0, "validate seed map: %r" % p.stderr)

    # Two runs, one output: the second stops at once naming the first one's process; the first
    # finishes and leaves neither its lock nor a temporary file behind.
    two = os.path.join(tmp, "two.h5")
    first = subprocess.Popen([LETHE, "run", "--quiet", "--output", two, os.path.join(SRC, "curricula", "quickstart.yaml")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 60
    while time.time() < deadline and not os.path.exists(two + ".lock") and first.poll() is None:
        time.sleep(0.02)
    time.sleep(0.2)
    p = run(["--output", two, os.path.join(SRC, "curricula", "quickstart.yaml")])
    check(p.returncode == 2 and ("process %d" % first.pid) in p.stderr and "another lethe run" in p.stderr,
          "second run on one output: exit %d %r" % (p.returncode, p.stderr))
    first.kill()
    first.wait()
    p = run(["--force", "--output", two, os.path.join(SRC, "curricula", "quickstart.yaml")])
    check(p.returncode == 0, "a killed run's lock does not block the next: %r" % p.stderr)
    # (The killed run may have left its own temporary file: kill -9 allows nothing else.)
    check(not os.path.exists(two + ".lock") and
          not [n for n in os.listdir(tmp) if n.startswith("two.h5.") and n.endswith(".tmp") and
               not n.startswith("two.h5.%d." % first.pid)],
          "no lock or temporary file left: %r" % os.listdir(tmp))

    # 5. kill -9 in the middle of a stage, then --resume: the same parameters as without the kill.
    # The curriculum reads ../text/lines.txt: lay out the same two folders in the temporary one.
    os.makedirs(os.path.join(tmp, "curricula"))
    os.makedirs(os.path.join(tmp, "text"))
    cur = os.path.join(tmp, "curricula", "resume.yaml")
    shutil.copy(os.path.join(SRC, "tests", "data", "curricula", "resume.yaml"), cur)
    shutil.copy(os.path.join(SRC, "tests", "data", "text", "lines.txt"), os.path.join(tmp, "text", "lines.txt"))
    whole, broken = os.path.join(tmp, "whole.h5"), os.path.join(tmp, "broken.h5")
    p = run(["--output", whole, cur])
    check(p.returncode == 0, "uninterrupted run: %s" % p.stderr)
    interrupted = False
    for attempt in range(5):
        if os.path.exists(broken):
            os.unlink(broken)
        proc = subprocess.Popen([LETHE, "run", "--quiet", "--output", broken, cur])
        deadline = time.time() + 60
        rows_seen = 0
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
                rows_seen = len(fh.attrs["rows"])
            if rows_seen < 4:
                interrupted = True
                break
        else:
            proc.wait()
    check(interrupted, "could not kill the run in the middle of a stage")
    with h5py.File(broken, "r") as fh:
        check(len(fh.attrs["rows"]) >= 2 and "matrices/primary" in fh, "the killed run's file is valid")
    p = run(["--resume", "--output", broken, cur])
    check(p.returncode == 0, "resume: %s" % p.stderr)
    with h5py.File(whole, "r") as a, h5py.File(broken, "r") as b:
        rows_a, rows_b = list(a.attrs["rows"]), list(b.attrs["rows"])
        check(rows_a == rows_b == ["baseline", "one", "two", "three"], "rows after resume %r" % rows_b)
        for i, r in enumerate(rows_a):
            if i == 0:
                continue
            g = "stages/%02d_%s/params" % (i, r)
            check(np.array_equal(a[g][()], b[g][()]), "%s differs after kill -9 and --resume" % g)
        check(np.array_equal(a["matrices/primary"][()], b["matrices/primary"][()]), "matrices differ after resume")
        check(np.array_equal(a["forgetting/drift/l2_initial"][()], b["forgetting/drift/l2_initial"][()], equal_nan=True),
              "drift differs after resume")
    p = run(["--resume", "--output", os.path.join(tmp, "none.h5"), cur])
    check(p.returncode == 2 and "nothing to resume" in p.stderr, "resume without a file")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
