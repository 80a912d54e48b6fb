#!/usr/bin/env python3
"""hf_tokenizer.py: lethe's reader of Hugging Face byte-level BPE tokenizers (tokenizer.json)
against a Python reference implementation of GPT-2-style BPE (Debian's python3-regex for the
split patterns), on 10,000 lines of the shared data sets plus lines in non-Latin scripts, digits,
whitespace runs, contractions and special tokens inside text.

The script learns merges itself (BPE training on part of the data), writes three tokenizer.json
files in the layouts of the families lethe loads (Llama 3: a Split regex then ByteLevel without
its regex, ignore_merges, added tokens after the vocabulary; SmolLM/GPT-2: Digits then ByteLevel
with GPT-2's regex, merges as pairs, special tokens inside the vocabulary; GPT-2 with
add_prefix_space), and compares ids line by line; decoding must give every line back (but
with add_prefix_space, whose space the decoder keeps). Then each
refusal of a tokenizer.json that lethe cannot honour, with its message.
Skips (77) without python3-regex.
"""
import json
import os
import subprocess
import sys
import tempfile

try:
    import regex  # noqa: F401 (bpe_reference needs it)
except ImportError:
    print("SKIP: python3-regex is not installed")
    sys.exit(77)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bpe_reference import B2U, CRAFTED, LLAMA3, Reference, corpus, train  # noqa: E402

DRIVER = os.path.join(os.environ["LETHE_BUILDDIR"], "tests", "hf_tokenize")
DATA = os.environ.get("LETHE_DATA", "")


from testlib import check, finish  # noqa: E402


def tokenizer_json(merges, style):
    chars = [B2U[b] for b in range(256)]
    tokens = []
    seen = set()
    for a, b in merges:
        if a + b not in seen:
            seen.add(a + b)
            tokens.append(a + b)
    if style == "llama3":
        vocab = {t: i for i, t in enumerate(chars + tokens)}
        added = [{"id": len(vocab) + i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True}
                 for i, c in enumerate(["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"])]
        pre = {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}]}
        model_merges = ["%s %s" % m for m in merges]
        ignore = True
    else:
        specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        vocab = {t: i for i, t in enumerate(specials + chars + tokens)}
        added = [{"id": i, "content": c, "single_word": False, "lstrip": False, "rstrip": False,
                  "normalized": False, "special": True} for i, c in enumerate(specials)]
        bl = {"type": "ByteLevel", "add_prefix_space": style == "prefix", "trim_offsets": True, "use_regex": True}
        pre = {"type": "Sequence", "pretokenizers": [{"type": "Digits", "individual_digits": True}, bl]} \
            if style == "smollm" else bl
        model_merges = [list(m) for m in merges]
        ignore = False
    return {"version": "1.0", "truncation": None, "padding": None, "added_tokens": added, "normalizer": None,
            "pre_tokenizer": pre, "post_processor": None,
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "ignore_merges": ignore, "vocab": vocab, "merges": model_merges}}


def run_driver(path, lines, roundtrip=False):
    p = subprocess.run([DRIVER, path] + (["--roundtrip"] if roundtrip else []), input="\n".join(lines) + "\n", capture_output=True,
                       text=True, encoding="utf-8")
    return p


tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
lines = corpus()
if len(lines) < 10000:
    print("note: %d data lines (LETHE_DATA=%r)" % (len(lines), DATA))
merges = train(lines[:1500] + CRAFTED, 700)
lines = lines + CRAFTED
check(len(merges) >= 400, "trained %d merges" % len(merges))

for style in ("llama3", "smollm", "prefix"):
    spec = tokenizer_json(merges, style)
    path = os.path.join(tmp, style + ".json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(spec, f, ensure_ascii=False)
    ref = Reference(spec)
    p = run_driver(path, lines, roundtrip=style != "prefix")
    got = p.stdout.split("\n")
    check(p.returncode == 0, "%s: driver exit %d: %s" % (style, p.returncode, p.stderr[:500]))
    bad = 0
    for i, line in enumerate(lines):
        want = " ".join(str(x) for x in ref.encode(line))
        if i >= len(got) or got[i] != want:
            bad += 1
            if bad <= 3:
                print("%s line %d %r:\n  lethe %s\n  ref   %s" % (style, i, line[:80], got[i][:200] if i < len(got) else None, want[:200]))
    check(bad == 0, "%s: %d of %d lines differ" % (style, bad, len(lines)))

# `lethe tokenize` on a model directory: the same ids as JSON lines, BOS from tokenizer_config.json
# with --add-special, and --decode gives the lines back.
LETHE = os.path.join(os.environ["LETHE_BUILDDIR"], "engine", "lethe")
model_dir = os.path.join(tmp, "model")
os.makedirs(model_dir)
spec = tokenizer_json(merges, "llama3")
with open(os.path.join(model_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
    json.dump(spec, f, ensure_ascii=False)
with open(os.path.join(model_dir, "tokenizer_config.json"), "w") as f:
    json.dump({"bos_token": "<|begin_of_text|>", "eos_token": {"content": "<|end_of_text|>"}}, f)
ref = Reference(spec)
some = lines[:300] + CRAFTED
p = subprocess.run([LETHE, "tokenize", model_dir], input="\n".join(some) + "\n", capture_output=True, text=True)
got = [json.loads(l)["ids"] for l in p.stdout.splitlines()] if p.returncode == 0 else []
check(got == [ref.encode(l) for l in some], "lethe tokenize: exit %d %s" % (p.returncode, p.stderr[:200]))
bos = spec["added_tokens"][0]["id"]
p = subprocess.run([LETHE, "tokenize", "--add-special", model_dir], input="a b\n", capture_output=True, text=True)
check(p.returncode == 0 and json.loads(p.stdout)["ids"] == [bos] + ref.encode("a b"), "--add-special: %r" % p.stdout)
p = subprocess.run([LETHE, "tokenize", "--decode", model_dir], input="\n".join(json.dumps({"ids": i}) for i in got) + "\n",
                   capture_output=True, text=True)
check(p.returncode == 0 and [json.loads(l)["text"] for l in p.stdout.splitlines()] == some, "--decode round trip")
p = subprocess.run([LETHE, "tokenize", "--decode", model_dir], input="[1, 2]\n{\"ids\": [1, -4]}\n", capture_output=True, text=True)
check(p.returncode == 2 and "<stdin>:2: id 2 is not a non-negative integer" in p.stderr, "--decode refusal: %r" % p.stderr)
p = subprocess.run([LETHE, "tokenize", os.path.join(tmp, "nowhere")], input="x\n", capture_output=True, text=True)
check(p.returncode == 2 and "nowhere" in p.stderr, "missing model: %r" % p.stderr)

# Invalid UTF-8 is refused with its byte offset.
p = subprocess.run([DRIVER, os.path.join(tmp, "llama3.json")], input=b"ok \xff bad\n", capture_output=True)
check(p.stdout.startswith(b"ERROR ") and b"invalid UTF-8 at byte 3" in p.stdout, "invalid UTF-8: %r" % p.stdout)

# Refusals: each names the file and what is not supported.
base = tokenizer_json(merges, "smollm")


def variant(change):
    spec = json.loads(json.dumps(base))
    change(spec)
    return spec


cases = [
    (lambda s: s["model"].update(type="WordPiece"), "'model': type 'WordPiece' not supported"),
    (lambda s: s.update(normalizer={"type": "NFC"}), "'normalizer': type 'NFC' not supported"),
    (lambda s: s["model"].update(byte_fallback=True), "'model': 'byte_fallback' must be false"),
    (lambda s: s["model"].update(continuing_subword_prefix="##"), "'continuing_subword_prefix' not supported"),
    (lambda s: s["added_tokens"][0].update(lstrip=True), "added token '<|endoftext|>': 'lstrip' must be false"),
    (lambda s: s.update(pre_tokenizer={"type": "Whitespace"}), "'pre_tokenizer': type 'Whitespace' not supported"),
    (lambda s: s.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "\\s"}, "behavior": "MergedWithPrevious", "invert": False},
        {"type": "ByteLevel", "use_regex": False}]}), "behavior 'MergedWithPrevious' not supported"),
    (lambda s: s.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "(ab"}, "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "use_regex": False}]}), "pattern does not compile at offset 3"),
    (lambda s: s.update(pre_tokenizer={"type": "Sequence", "pretokenizers": [
        {"type": "ByteLevel", "use_regex": False}, {"type": "Digits"}]}), "ByteLevel must be the last"),
    (lambda s: s.update(pre_tokenizer={"type": "Digits"}), "no ByteLevel pre-tokenizer"),
    (lambda s: s["model"]["merges"].append(["zzz", "q"]), "'zzz' is not in the vocabulary"),
    (lambda s: s["model"]["merges"].append("a b c"), "expected \"left right\""),
    (lambda s: s["model"]["vocab"].pop(B2U[0]), "lacks 'Ā', the token of byte 0x00"),
    (lambda s: s["model"]["vocab"].update(extra=5), "id 5 is given to both"),
    (lambda s: s["model"]["vocab"].update(neg=-1), "'model.vocab': 'neg': expected a non-negative integer id"),
    (lambda s: s.update(decoder={"type": "Metaspace"}), "'decoder': type 'Metaspace' not supported"),
    (lambda s: s.pop("model"), "missing object 'model'"),
]
for i, (change, want) in enumerate(cases):
    path = os.path.join(tmp, "bad%d.json" % i)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(variant(change), f, ensure_ascii=False)
    p = run_driver(path, ["x"])
    check(p.returncode == 2 and p.stderr.startswith(path + ": ") and want in p.stderr,
          "refusal %d: exit %d, %r lacks %r" % (i, p.returncode, p.stderr.strip(), want))
for name, text in (("notjson.json", "{not json"), ("array.json", "[]")):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(text)
    p = run_driver(path, ["x"])
    check(p.returncode == 2 and "not a JSON object" in p.stderr, "%s: %r" % (name, p.stderr))
p = run_driver(os.path.join(tmp, "missing.json"), ["x"])
check(p.returncode == 2 and "cannot open" in p.stderr, "missing file: %r" % p.stderr)

finish()
