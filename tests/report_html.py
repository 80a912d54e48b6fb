#!/usr/bin/env python3
"""report_html.py: the HTML report, `compare --format html` and `report --figure NAME --format svg`
on a tiny run whose task and stage names are hostile (a <script> tag, a&b, both quotes, an
emoji): the HTML is well-formed (every tag closed, no script element, nothing loaded from outside), every name appears escaped and intact, each figure is an XML document
(xml.etree) with the expected elements (stage names on the x axis, one line per task, a legend
or a colour bar), and a bad --figure is refused with the list of figures."""
import html
import json
import os
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

BUILD = os.environ["LETHE_BUILDDIR"]
SRC = os.path.abspath(os.environ.get("LETHE_TEST_SRCDIR", "tests"))
LETHE = os.path.join(BUILD, "engine", "lethe")
TEXT = os.path.join(SRC, "data", "text", "lines.txt")
SVG = "{http://www.w3.org/2000/svg}"


from testlib import check, finish  # noqa: E402


T1, T2 = "<script>alert(1)", "a&b \"q\" 'r' \U0001F642"
S1, S2 = "s<1>&", "s\"2'\U0001F642"
VOID = ("meta", "br", "rect", "line", "circle", "path", "polyline", "img", "hr", "input", "link")


class Page(HTMLParser):
    """Counts svgs and problems: unclosed or misnested tags, script elements, src/href."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.svgs, self.bad, self.text = [], 0, [], []
        self.classes = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.classes.append(a.get("class") or "")
        if tag == "svg":
            self.svgs += 1
        if tag == "script" or any(k in ("src", "href") or k.startswith("on") for k, _ in attrs):
            self.bad.append(tag)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.classes.append(dict(attrs).get("class") or "")

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack.pop() != tag:
            self.bad.append("/" + tag)

    def handle_data(self, data):
        self.text.append(data)


tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
try:
    cur = os.path.join(tmp, "hostile.yaml")
    with open(cur, "w", encoding="utf-8") as f:
        f.write("""lethe: 1
name: %s
seed: 3
model: {preset: tiny, context: 32, layers: 1}
tokenizer: {vocab: 280}
train: {batch: 2, steps: 3}
tasks:
  %s: {plugin: text, train: %s, eval: %s, unit: line}
  %s: {plugin: text, train: %s, eval: %s, unit: line}
stages:
  - {name: %s, tasks: [%s]}
  - {name: %s, tasks: [%s]}
""" % (json.dumps("run <b>&amp;"), json.dumps(T1), TEXT, TEXT, json.dumps(T2, ensure_ascii=False), TEXT,
           TEXT, json.dumps(S1), json.dumps(T1), json.dumps(S2, ensure_ascii=False), json.dumps(T2, ensure_ascii=False)))
    run = os.path.join(tmp, "hostile.h5")
    p = subprocess.run([LETHE, "run", "--quiet", "-o", run, cur], capture_output=True)
    check(p.returncode == 0, "run: %r" % p.stderr)

    # The page.
    out = os.path.join(tmp, "r.html")
    p = subprocess.run([LETHE, "report", "--format", "html", "-o", out, run], capture_output=True)
    check(p.returncode == 0, "report html: %r" % p.stderr)
    page = open(out, encoding="utf-8").read() if p.returncode == 0 else ""
    t = Page()
    t.feed(page)
    t.close()
    check(not t.bad and not t.stack, "HTML problems %r, unclosed %r" % (t.bad, t.stack))
    check("<script>" not in page and "http" not in page, "raw script tag or external reference")
    text = "".join(t.text)
    for name in (T1, T2, S1, S2):
        check(name in text, "name %r not in the page's text" % name)
    # Every chart of the page: matrix, NLL, tasks, forgetting, one per task, events, loss, drift.
    check(t.svgs == 7 + 2, "svgs: %d" % t.svgs)
    check("colour-bar" in t.classes, "no colour bar")
    check(sum(c == "series" for c in t.classes) >= 2 + 2, "series paths: %r" % t.classes.count("series"))
    check("@media print" in page, "no print CSS")
    check("prompts or the targets" in page, "the page says what the run file does not store")

    # Figures: the list, each as XML, and refusals.
    p = subprocess.run([LETHE, "report", "--figure", "list", run], capture_output=True, text=True)
    names = p.stdout.split()
    check(p.returncode == 0 and names == ["matrix", "nll", "tasks", "forgetting", "events", "loss", "drift", "curves"],
          "--figure list: %r" % p.stdout)
    p = subprocess.run([LETHE, "report", "--figure", "pie", "--format", "svg", run], capture_output=True, text=True)
    check(p.returncode == 2 and "no figure 'pie'" in p.stderr and "matrix, nll, tasks" in p.stderr,
          "--figure pie: %r" % p.stderr)
    p = subprocess.run([LETHE, "report", "--format", "svg", run], capture_output=True, text=True)
    check(p.returncode == 2 and "--figure NAME" in p.stderr, "--format svg alone: %r" % p.stderr)
    p = subprocess.run([LETHE, "report", "--figure", "tasks", "--format", "json", run], capture_output=True, text=True)
    check(p.returncode == 2 and "--format svg" in p.stderr, "--figure with --format json: %r" % p.stderr)
    rows = ["baseline", S1, S2]
    # A run without evaluate: {every: N} has no within-stage curves: that figure is refused.
    p = subprocess.run([LETHE, "report", "--figure", "curves", "--format", "svg", run], capture_output=True, text=True)
    check(p.returncode == 2 and "no within-stage curves" in p.stderr, "--figure curves without curves: %r" % p.stderr)
    for name in names:
        if name == "curves":
            continue  # tests/curves.py draws it
        svg = os.path.join(tmp, name + ".svg")
        p = subprocess.run([LETHE, "report", "--figure", name, "--format", "svg", "-o", svg, run],
                           capture_output=True, text=True)
        check(p.returncode == 0, "figure %s: %r" % (name, p.stderr))
        try:
            root = ET.parse(svg).getroot()
        except (ET.ParseError, OSError) as e:
            check(False, "figure %s is not XML: %s" % (name, e))
            continue
        check(root.tag == SVG + "svg" and root.get("viewBox"), "figure %s root %r" % (name, root.tag))
        texts = ["".join(e.itertext()) for e in root.iter(SVG + "text")]
        cls = [e.get("class") for e in root.iter()]
        if name in ("matrix", "nll"):
            check(all(r in texts for r in rows) and T1 in texts and T2 in texts, "%s: names %r" % (name, texts))
            check(root.find(".//%sg[@class='colour-bar']" % SVG) is not None, "%s: colour bar" % name)
            check(cls.count("cell") == 3 * 2, "%s: cells %d" % (name, cls.count("cell")))
        if name == "tasks":
            ticks = [t for e, t in zip(root.iter(SVG + "text"), texts) if e.get("class") == "x-tick"]
            check(ticks == rows, "tasks: x axis %r" % ticks)
            check(cls.count("series") == 2, "tasks: %d series paths" % cls.count("series"))
            legend = root.find(".//%sg[@class='legend']" % SVG)
            check(legend is not None and [("".join(e.itertext())) for e in legend.iter(SVG + "text")] == [T1, T2],
                  "tasks: legend")
            check(cls.count("reference") == 2, "tasks: a dashed baseline per task")
        if name == "loss":
            labels = [t for e, t in zip(root.iter(SVG + "text"), texts) if e.get("class") == "mark-label"]
            check(labels == [S1, S2] and cls.count("mark") == 2, "loss: stage marks %r" % labels)
        if name == "drift":
            ticks = [t for e, t in zip(root.iter(SVG + "text"), texts) if e.get("class") == "x-tick"]
            check(ticks == rows and cls.count("series") == 5, "drift: %r" % ticks)

    # compare: runs (and the same file as a group of one) as HTML, with per-task columns.
    for args in ([run, run], [tmp, run]):
        out = os.path.join(tmp, "c.html")
        if os.path.exists(out):
            os.unlink(out)
        p = subprocess.run([LETHE, "compare", "--format", "html", "-o", out] + args, capture_output=True)
        check(p.returncode == 0, "compare html %r: %r" % (args, p.stderr))
        page = open(out, encoding="utf-8").read() if p.returncode == 0 else ""
        c = Page()
        c.feed(page)
        c.close()
        check(not c.bad and not c.stack, "compare HTML problems %r %r" % (c.bad, c.stack))
        text = "".join(c.text)
        check(T1 in text and T2 in text and "Per task: forgetting" in text and "ACC" in text,
              "compare html: per-task columns")
        # Identical runs: every interval overlaps, so nothing is best.
        check('class="best"' not in page, "compare html marks a best among identical runs")
finally:
    shutil.rmtree(tmp, ignore_errors=True)

finish()
