"""docs.py: the documentation runs. Every ```yaml block of README.md, docs/*.md and docs/plugins/*.md
and every curricula/**/*.yaml passes `lethe validate` (with LETHE_DATA, data files loaded), and
every shell block (```sh) of those pages runs and succeeds; a block of `$ command` lines with
output shows what the command prints, up to a line `...`.

Skipped, and said so: a YAML block whose first line is a comment `# fragment` (a part of a
curriculum, not a whole one) or `# tested by ...` (needs what another test builds); a shell
block right after a line `<!-- no-test: why -->` (it trains for minutes, installs, or needs a
pretrained model or an installed lethe); curricula needing LETHE_MODEL when it is unset.
Without LETHE_DATA the whole test is skipped (exit 77)."""
import glob
import os
import re
import subprocess
import sys
import tempfile

src = os.environ["LETHE_SRCDIR"]
build = os.environ["LETHE_BUILDDIR"]
if not os.environ.get("LETHE_DATA"):
    print("docs.py: LETHE_DATA is not set: skipped")
    sys.exit(77)
lethe = os.path.join(build, "engine", "lethe")
env = dict(os.environ)
env["PATH"] = os.path.join(build, "engine") + os.pathsep + env["PATH"]
env["PKG_CONFIG_PATH"] = build  # the build tree's lethe.pc
tmp = tempfile.mkdtemp(prefix="docs.", dir=os.environ.get("TMPDIR"))
failures, passed, skipped = [], 0, []

pages = [os.path.join(src, "README.md")] + sorted(glob.glob(os.path.join(src, "docs", "*.md")))
pages += sorted(glob.glob(os.path.join(src, "docs", "plugins", "*.md")))
pages.append(os.path.join(src, "curricula", "README.md"))


def blocks(path):
    """(language, first line number, text, the line before the fence) of each fenced block."""
    lines = open(path, encoding="utf-8").read().split("\n")
    i = 0
    while i < len(lines):
        m = re.match(r"^```([a-z]*)$", lines[i])
        if m and m.group(1):
            j = i + 1
            while j < len(lines) and lines[j] != "```":
                j += 1
            yield m.group(1), i + 2, "\n".join(lines[i + 1 : j]) + "\n", lines[i - 1] if i else ""
            i = j
        i += 1


def validate(name, path, cwd):
    global passed
    r = subprocess.run([lethe, "validate", "--quiet", path], cwd=cwd, env=env,
                       capture_output=True, text=True)
    if r.returncode == 0:
        passed += 1
    else:
        failures.append(f"{name}: lethe validate failed:\n" + r.stdout + r.stderr)


def run_shell(name, text):
    global passed
    if re.search(r"^\$ ", text, re.M):  # a transcript: commands and what they print
        chunks = re.split(r"^\$ ", text, flags=re.M)[1:]
        for chunk in chunks:
            cmd, _, want = chunk.partition("\n")
            r = subprocess.run(["sh", "-c", cmd], cwd=src, env=env, capture_output=True, text=True)
            got = r.stdout.split("\n")
            ok = r.returncode == 0
            for k, line in enumerate(want.rstrip("\n").split("\n") if want.strip() else []):
                if line == "...":
                    break
                ok = ok and k < len(got) and got[k] == line
            if ok:
                passed += 1
            else:
                failures.append(f"{name}: `{cmd}` printed\n{r.stdout}{r.stderr}expected\n{want}")
        return
    r = subprocess.run(["sh", "-ec", text], cwd=src, env=env, capture_output=True, text=True)
    if r.returncode == 0:
        passed += 1
    else:
        failures.append(f"{name}: exit {r.returncode}:\n{text}{r.stdout}{r.stderr}")


for page in pages:
    rel = os.path.relpath(page, src)
    for k, (lang, line, text, before) in enumerate(blocks(page)):
        name = f"{rel}:{line}"
        first = text.split("\n", 1)[0]
        if lang == "yaml":
            if re.match(r"#\s*(fragment|tested by)", first):
                skipped.append(f"{name} ({first.strip()})")
                continue
            path = os.path.join(tmp, f"block{k}.yaml")
            open(path, "w", encoding="utf-8").write(text)
            validate(name, path, os.path.dirname(page))
        elif lang in ("sh", "console"):
            if before.startswith("<!-- no-test"):
                skipped.append(f"{name} ({before})")
                continue
            run_shell(name, text)

for path in sorted(glob.glob(os.path.join(src, "curricula", "**", "*.yaml"), recursive=True)):
    rel = os.path.relpath(path, src)
    if "${LETHE_MODEL" in open(path, encoding="utf-8").read() and not env.get("LETHE_MODEL"):
        skipped.append(f"{rel} (needs LETHE_MODEL)")
        continue
    validate(rel, path, src)

for s in skipped:
    print("skipped:", s)
for f in failures:
    print("FAIL:", f)
print(f"docs.py: {passed} passed, {len(failures)} failed, {len(skipped)} skipped")
sys.exit(1 if failures else 0)
