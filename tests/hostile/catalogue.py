#!/usr/bin/env python3
"""tests/hostile/catalogue.py: the catalogue of hostile inputs (docs/reliability.md). Each case of
cases.py (and of every list named in LISTS) is a set of input files, written by the case or
generated, a `lethe` command, the exit status it must give and a pattern its standard error
must match (re.search, multi-line). Every case must also finish without a signal, a sanitizer
report or a core, within its time limit, and leave no temporary file (*.tmp) behind.
Run by `make check` (and so by the sanitizer build of `make distcheck`).
Usage: catalogue.py [-v] [NAME-SUBSTRING ...]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True
import cases  # noqa: E402

# The lists of cases run. cases_kit.py holds the data readers' NUL-byte / byte-order-mark cases
# owned by the plugin-kit work (issue #16): add "cases_kit" here once its fixes are merged.
LISTS = ["cases", "cases_kit"]

BUILD = os.environ.get("LETHE_BUILDDIR", os.path.join(HERE, "..", ".."))
LETHE = os.path.join(BUILD, "engine", "lethe")

def sanitized():
    """Whether the build under test uses the sanitizers (times then stretch about 5 times)."""
    try:
        with open(os.path.join(BUILD, "config.status"), errors="replace") as f:
            return "fsanitize" in f.read()
    except OSError:
        return False


SLOW = 5 if sanitized() else 1
ENV = dict(os.environ)
if SLOW > 1:
    os.environ["LETHE_HOSTILE_SANITIZED"] = "1"
ENV.pop("LETHE_PLUGIN_PATH", None)
ENV["LC_ALL"] = "C.UTF-8"


def crashed(p):
    return (p.returncode < 0 or p.returncode >= 128 or "Sanitizer" in p.stderr
            or "runtime error:" in p.stderr or "Segmentation" in p.stderr)


def run_case(c, root, verbose):
    d = os.path.join(root, re.sub(r"[^A-Za-z0-9_.-]", "_", c.name))
    os.makedirs(d)
    shutil.copy(os.path.join(HERE, "..", "data", "text", "lines.txt"), os.path.join(d, "lines.txt"))
    seed = cases.seed_run(root, LETHE, ENV)  # first: copy_seed and truncated_seed read it
    for name, content in c.files.items():
        path = os.path.join(d, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if callable(content):
            content(path)
        else:
            with open(path, "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
    subst = {"d": d, "plugins": os.environ.get("LETHE_TEST_PLUGINS", ""), "build": BUILD,
             "seed": seed}
    argv = [a.format(**subst) for a in c.argv]
    env = dict(ENV)
    for k, v in c.env.items():
        env[k] = v.format(**subst)
    stdin = open(c.stdin, "rb") if c.stdin else subprocess.DEVNULL
    t0 = time.time()
    try:
        p = subprocess.run([LETHE] + argv, cwd=d, env=env, stdin=stdin, capture_output=True,
                           timeout=c.timeout * SLOW + 60)
        p.stderr = p.stderr.decode("utf-8", "replace")
    except subprocess.TimeoutExpired:
        return "timed out"
    finally:
        if c.stdin:
            stdin.close()
    took = time.time() - t0
    problems = []
    if crashed(p):
        problems.append("crashed")
    if p.returncode != c.status:
        problems.append("exit %d, expected %d" % (p.returncode, c.status))
    if not re.search(c.pattern, p.stderr, re.M):
        problems.append("stderr does not match /%s/" % c.pattern)
    if took > c.timeout * SLOW:
        problems.append("took %.1f s, limit %d s" % (took, c.timeout))
    left = [f for f in os.listdir(d) if f.endswith(".tmp")]
    if left:
        problems.append("left %s" % left)
    if c.check:
        why = c.check(d)
        if why:
            problems.append(why)
    if problems and not verbose:
        problems.append("stderr: %r" % p.stderr[-700:])
    if verbose:
        print("  %s: exit %d, %.1f s\n    %s" % (c.name, p.returncode, took, p.stderr.strip().replace("\n", "\n    ")))
    return "; ".join(problems)


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    only = [a for a in args if a != "-v"]
    all_cases = []
    for name in LISTS:
        all_cases += __import__(name).CASES
    names = [c.name for c in all_cases]
    dups = {n for n in names if names.count(n) > 1}
    if dups:
        print("FAIL: case names repeated: %s" % sorted(dups))
        return 1
    root = tempfile.mkdtemp(prefix="lethe-hostile-")
    failed = 0
    ran = 0
    for c in all_cases:
        if only and not any(o in c.name for o in only):
            continue
        ran += 1
        why = run_case(c, root, verbose)
        if why:
            failed += 1
            print("FAIL: %s: %s" % (c.name, why))
    print("hostile catalogue: %d cases, %d failed" % (ran, failed))
    if not failed:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
