"""manpage.py: docs/lethe.1 is complete: every command `lethe --help` lists has a synopsis line
and a COMMANDS entry, and every option `lethe CMD --help` shows (its long and its short form)
is in that command's synopsis; FILES shows installed paths, not a make variable. And
docs/lethe-curriculum.5 names every key docs/curriculum.md documents."""
import os
import re
import subprocess
import sys

build = os.environ["LETHE_BUILDDIR"]
src = os.environ["LETHE_SRCDIR"]
lethe = os.path.join(build, "engine", "lethe")
failures = []


def helptext(*args):
    return subprocess.run([lethe, *args], capture_output=True, text=True).stdout


def unescape(troff):
    return troff.replace("\\-", "-")


page = unescape(open(os.path.join(build, "docs", "lethe.1"), encoding="utf-8").read())
synopsis = page[page.index(".SH SYNOPSIS") : page.index(".SH DESCRIPTION")]
commands_section = page[page.index(".SH COMMANDS") : page.index(".SH OPTIONS")]
blocks = {}
for block in synopsis.split(".br\n"):
    m = re.match(r"\.B lethe (\w+)", block)
    if m:
        blocks[m.group(1)] = block

top = helptext("--help")
commands = re.findall(r"^  ([a-z]+)  ", top[top.index("Commands:") :], re.M)
if len(commands) < 10:
    failures.append(f"lethe --help lists only {commands}")
for opt in ("--version", "--help"):
    if opt not in synopsis.split(".br\n")[0]:
        failures.append(f"synopsis: 'lethe {opt}' missing")
for cmd in commands:
    if cmd not in blocks:
        failures.append(f"synopsis: no line for 'lethe {cmd}'")
        continue
    if not re.search(rf"^\.TP\n\.B {cmd}\n", commands_section, re.M):
        failures.append(f"COMMANDS: no entry for '{cmd}'")
    text = helptext(cmd, "--help")
    if cmd == "score":  # its options are named inside the metric descriptions
        options = [(None, o) for o in sorted(set(re.findall(r"(--[a-z][a-z-]+)", text)))]
    else:
        options = re.findall(r"^  (?:(-[a-zA-Z]), )?\s*(--[a-z][a-z-]*)", text, re.M)
    if not options:
        failures.append(f"lethe {cmd} --help shows no options")
    words = set(re.findall(r"(?<![\w-])--?[a-zA-Z][a-z-]*", blocks[cmd]))
    for short, long in options:
        if long == "--help":
            continue
        for o in (short, long):
            if o and o not in words:
                failures.append(f"synopsis of 'lethe {cmd}': option {o} missing")

files = page[page.index(".SH FILES") : page.index(".SH EXIT STATUS")]
if "$(" in files or "@" in files:
    failures.append("FILES shows a make variable or an unsubstituted @name@")

# lethe-curriculum(5) names every key of docs/curriculum.md's reference tables.
ref = open(os.path.join(src, "docs", "curriculum.md"), encoding="utf-8").read()
man5 = unescape(open(os.path.join(src, "docs", "lethe-curriculum.5"), encoding="utf-8").read())
man5_words = set(re.findall(r"[a-z_][a-z0-9_]*", man5))
keys = set()
for row in re.findall(r"^\| *`([a-z_][a-z0-9_.]*)`", ref, re.M):
    keys.update(row.split("."))
for key in sorted(keys):
    if key not in man5_words:
        failures.append(f"lethe-curriculum(5): key '{key}' of docs/curriculum.md missing")
if len(keys) < 20:
    failures.append(f"docs/curriculum.md: only {len(keys)} keys found: is the table format changed?")

for f in failures:
    print("FAIL:", f)
print(f"manpage.py: {len(commands)} commands checked, {len(failures)} failures")
sys.exit(1 if failures else 0)
