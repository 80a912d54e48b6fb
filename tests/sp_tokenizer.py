#!/usr/bin/env python3
"""sp_tokenizer.py: lethe's SentencePiece tokenizers (engine/model/sp_tokenizer.cc over Debian's
libsentencepiece) against python3-sentencepiece: models trained here on the shared data in the
Llama 2 manner (BPE with byte fallback and split digits) and as a unigram model give the same
ids on 10,000 lines of the shared data plus lines in other scripts, emoji, digits and whitespace
runs, and decode them back to the same text. A file that is not a SentencePiece model is refused
with a message naming it. Skips (77) without python3-sentencepiece.
"""
import io
import os
import subprocess
import sys
import tempfile

try:
    import sentencepiece as spm
except ImportError:
    print("SKIP: python3-sentencepiece is not installed")
    sys.exit(77)

DRIVER = os.path.join(os.environ["LETHE_BUILDDIR"], "tests", "sp_tokenize")
DATA = os.environ.get("LETHE_DATA", "")


from testlib import check, finish  # noqa: E402


def corpus():
    lines = []
    for rel, limit in (("sst2/train.tsv", 3000), ("multi30k/train.de", 3000), ("multi30k/train.fr", 3000),
                       ("multi30k/train.en", 1000)):
        path = os.path.join(DATA, rel)
        if DATA and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                for i, line in enumerate(f):
                    if i >= limit:
                        break
                    lines.append(line.rstrip("\n").split("\t")[0])
    return lines[:10000]


EXTRA = ["Ελληνικά κείμενα", "Привет, мир!", "日本語のテキスト", "emoji 🙂👍🏽 here", "numbers 1234567 and 3.14",
         "tabs\tand  multiple   spaces", "   leading", "trailing   ", "", "Don't stop; I'M here"]

tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
lines = corpus()
if len(lines) < 10000:
    print("note: %d data lines (LETHE_DATA=%r)" % (len(lines), DATA))
train = lines[:4000] + EXTRA if lines else EXTRA * 50 + ["the quick brown fox jumps over the lazy dog"] * 50
lines = lines + EXTRA
for kind, opts in (("bpe", dict(model_type="bpe", byte_fallback=True, split_digits=True, vocab_size=800,
                                 character_coverage=0.9995)),
                   ("unigram", dict(model_type="unigram", vocab_size=600))):
    prefix = os.path.join(tmp, kind)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(sentence_iterator=iter(train), model_writer=model, num_threads=1,
                                   minloglevel=2, hard_vocab_limit=False, **opts)
    with open(prefix + ".model", "wb") as f:
        f.write(model.getvalue())
    sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
    p = subprocess.run([DRIVER, prefix + ".model", "--decode"], input="\n".join(lines) + "\n",
                       capture_output=True, text=True, encoding="utf-8")
    check(p.returncode == 0, "%s: driver exit %d: %s" % (kind, p.returncode, p.stderr[:300]))
    out = p.stdout.split("\n")
    check(out[0] == "vocab %d bos %d eos %d" % (sp.get_piece_size(), sp.bos_id(), sp.eos_id()), "%s: %r" % (kind, out[0]))
    bad = 0
    for i, line in enumerate(lines):
        want_ids = " ".join(str(x) for x in sp.encode(line))
        want_text = sp.decode(sp.encode(line))
        got_ids, got_text = (out[1 + 2 * i], out[2 + 2 * i]) if 2 + 2 * i < len(out) else (None, None)
        if got_ids != want_ids or got_text != want_text:
            bad += 1
            if bad <= 3:
                print("%s line %d %r: lethe %r %r, python %r %r" % (kind, i, line[:60], got_ids, got_text, want_ids, want_text))
    check(bad == 0, "%s: %d of %d lines differ" % (kind, bad, len(lines)))

    if kind == "bpe":
        # `lethe tokenize` on a directory holding tokenizer.model: the same ids, BOS from the model.
        model_dir = os.path.join(tmp, "sp_model")
        os.makedirs(model_dir)
        with open(os.path.join(model_dir, "tokenizer.model"), "wb") as f:
            f.write(model.getvalue())
        lethe = os.path.join(os.environ["LETHE_BUILDDIR"], "engine", "lethe")
        some = lines[:200] + EXTRA
        p = subprocess.run([lethe, "tokenize", "--add-special", model_dir], input="\n".join(some) + "\n",
                           capture_output=True, text=True)
        got = [__import__("json").loads(l)["ids"] for l in p.stdout.splitlines()] if p.returncode == 0 else []
        check(got == [[sp.bos_id()] + sp.encode(l) for l in some], "lethe tokenize: %s" % p.stderr[:200])

for name, content in (("random.model", os.urandom(4096)), ("empty.model", b""), ("text.model", b"hello world\n")):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(content)
    p = subprocess.run([DRIVER, path], input="x\n", capture_output=True, text=True)
    check(p.returncode == 2 and p.stderr.startswith(path + ": "), "%s: exit %d %r" % (name, p.returncode, p.stderr))
p = subprocess.run([DRIVER, os.path.join(tmp, "missing.model")], input="x\n", capture_output=True, text=True)
check(p.returncode == 2 and "missing.model" in p.stderr, "missing model: %r" % p.stderr)

finish()
