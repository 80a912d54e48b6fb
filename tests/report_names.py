#!/usr/bin/env python3
"""report_names.py: reports of a run whose task names hold a comma, a quote, a bar, Cyrillic and
an emoji (issue #13's cases): CSV rows parse with the csv module into five fields with the names
intact (RFC 4180 quoting), the text report is valid UTF-8 with no character cut in half, JSON
parses, and CSV and JSON numbers are the shortest decimals that read back to the same double."""
import csv
import io
import json
import os
import re
import subprocess
import sys
import tempfile

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


A, B = 'a,b|c"d', "отзывы🙂отзывы🙂отзывы"
tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
cur = os.path.join(tmp, "names.yaml")
with open(cur, "w", encoding="utf-8") as f:
    f.write("""lethe: 1
name: names
seed: 2
model: {preset: tiny, context: 32, layers: 1}
tokenizer: {vocab: 280}
train: {batch: 2, steps: 3}
tasks:
  %s: {plugin: text, train: %s, eval: %s, unit: line}
  %s: {plugin: text, train: %s, eval: %s, unit: line}
stages:
  - {name: s, tasks: [%s]}
""" % (json.dumps(A, ensure_ascii=False), TEXT, TEXT, json.dumps(B, ensure_ascii=False), TEXT, TEXT, json.dumps(A, ensure_ascii=False)))
run = os.path.join(tmp, "names.h5")
p = subprocess.run([LETHE, "run", "--quiet", "-o", run, cur], capture_output=True)
check(p.returncode == 0, "run: %r" % p.stderr)


def report(fmt):
    p = subprocess.run([LETHE, "report", "--format", fmt, run], capture_output=True)
    check(p.returncode == 0, "report %s: %r" % (fmt, p.stderr))
    return p.stdout


raw = report("csv")
rows = list(csv.reader(io.StringIO(raw.decode("utf-8"))))
check(all(len(r) == 5 for r in rows), "csv rows of other widths: %r" % [r for r in rows if len(r) != 5][:3])
tasks = {r[2] for r in rows[1:] if r[0] == "matrix"}
check(tasks == {A, B}, "csv task names %r" % tasks)
nums = [r[4] for r in rows[1:] if r[4]]
for v in nums:
    x = float(v)
    short = next(s for s in ("%.*g" % (k, x) for k in range(1, 18)) if float(s) == x)
    if v != short:
        check(False, "csv number %s is not the shortest form %s" % (v, short))
        break
try:
    text = report("text").decode("utf-8")
    check(B[:14] in text or B in text, "the Cyrillic name is not in the text report")
except UnicodeDecodeError as e:
    check(False, "text report is not UTF-8: %s" % e)
js = report("json").decode("utf-8")
try:
    json.loads(js)
except ValueError as e:
    check(False, "json: %s" % e)
long_floats = re.findall(r"\d\.\d{16,}", js)
check(not [f for f in long_floats if len(repr(float(f))) < len(f)], "json has long forms: %r" % long_floats[:3])
print("report_names: %s" % ("ok" if not failed else "%d failures" % failed))
sys.exit(1 if failed else 0)
