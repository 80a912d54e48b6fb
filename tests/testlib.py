"""testlib.py: what the end-to-end tests (tests/*.py) share: where the build tree's `lethe` and
the sources are (LETHE_BUILDDIR, LETHE_SRCDIR, set by tests/local.mk), check() and the closing
line "N passed, N failed" with the exit status, running `lethe`, and writing a curriculum. A
test imports it after its own skips (exit 77), from its own folder:

    from testlib import LETHE, SRC, check, finish, lethe, run, tmpdir
    tmp = tmpdir()
    try:
        check(run(["--output", out, cur]).returncode == 0, "run")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    finish()
"""
import os
import subprocess
import sys
import tempfile

# Without the variables (a test run by hand in an in-tree build): this file's source tree.
SRC = os.environ.get("LETHE_SRCDIR") or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("LETHE_BUILDDIR") or SRC
LETHE = os.path.join(BUILD, "engine", "lethe")

passed = failed = 0


def check(ok, what):
    """Counts a check; prints FAIL and what failed when ok is false."""
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print("FAIL:", what)


def finish():
    """Prints the closing line and exits: 1 when a check failed, else 0."""
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


def tmpdir():
    """A fresh directory under TMPDIR (the caller removes it)."""
    return tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))


def lethe(args, **kw):
    """`lethe ARGS`, its output captured as text."""
    return subprocess.run([LETHE] + list(args), capture_output=True, text=True, **kw)


def run(args, **kw):
    """`lethe run --quiet ARGS`."""
    return lethe(["run", "--quiet"] + list(args), **kw)


def run_checked(cur, out, *extra):
    """`lethe run` of curriculum cur into out on one thread (extra, default --force), checked to
    succeed."""
    p = lethe(["run", "--quiet", "--threads", "1", "--output", out] + list(extra or ["--force"]) + [cur])
    check(p.returncode == 0, "run %s: exit %d: %s" % (os.path.basename(cur), p.returncode, p.stderr))
    return p


def write(path, text):
    """Writes text (a curriculum, a data file) to path; returns path."""
    with open(path, "w") as f:
        f.write(text)
    return path
