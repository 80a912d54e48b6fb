#!/usr/bin/env python3
"""l2c_tokenizer.py: llama2.c's tokenizer.bin (engine/model/l2c_tokenizer.c) against a Python
port of llama2.c's run.c encode: a SentencePiece BPE model is trained here on the shared data
(python3-sentencepiece), exported to tokenizer.bin exactly as llama2.c's tokenizer.py does, and
both tokenizers encode 10,000 lines plus other scripts, emoji (byte fallback) and whitespace runs:
the ids must agree and decoding must give each line back. Broken files are refused naming the
file. Skips (77) without python3-sentencepiece.
"""
import io
import os
import struct
import subprocess
import sys
import tempfile

try:
    import sentencepiece as spm
except ImportError:
    print("SKIP: python3-sentencepiece is not installed")
    sys.exit(77)

DRIVER = os.path.join(os.environ["LETHE_BUILDDIR"], "tests", "l2c_tokenize")
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
         "tabs\tand  multiple   spaces", "   leading", "trailing   ", "", "x", "Don't stop; I'M here"]


def export(sp, path):
    """llama2.c's tokenizer.py export()."""
    tokens, scores = [], []
    for i in range(sp.get_piece_size()):
        t = sp.id_to_piece(i)
        s = sp.get_score(i)
        if i == sp.bos_id():
            t = "\n<s>\n"
        elif i == sp.eos_id():
            t = "\n</s>\n"
        elif len(t) == 6 and t.startswith("<0x") and t.endswith(">"):
            t = chr(int(t[3:5], 16))
        t = t.replace("\u2581", " ")
        tokens.append(t.encode("utf-8"))
        scores.append(s)
    with open(path, "wb") as f:
        f.write(struct.pack("I", max(len(t) for t in tokens)))
        for b, s in zip(tokens, scores):
            f.write(struct.pack("fI", s, len(b)))
            f.write(b)
    return tokens, scores


def run_c_encode(tokens, scores, text):
    """run.c's encode(t, text, 0, 0): C-string pieces, first match on equal pieces."""
    pieces = [t.split(b"\0")[0] for t in tokens]
    lookup = {}
    for i, p in enumerate(pieces):
        lookup.setdefault(p, i)
    data = text.encode("utf-8")
    ids = []
    if data:
        if b" " in lookup:
            ids.append(lookup[b" "])
    buf = b""
    for i, c in enumerate(data):
        if c & 0xC0 != 0x80:
            buf = b""
        buf += bytes([c])
        if i + 1 < len(data) and data[i + 1] & 0xC0 == 0x80 and len(buf) < 4:
            continue
        if buf in lookup:
            ids.append(lookup[buf])
        else:
            ids += [b + 3 for b in buf]
        buf = b""
    while True:
        best = (-1e10, -1, -1)
        for i in range(len(ids) - 1):
            j = lookup.get(pieces[ids[i]] + pieces[ids[i + 1]])
            # float32 scores compared as run.c does
            if j is not None and struct.unpack("f", struct.pack("f", scores[j]))[0] > best[0]:
                best = (struct.unpack("f", struct.pack("f", scores[j]))[0], j, i)
        if best[2] < 0:
            break
        ids[best[2]:best[2] + 2] = [best[1]]
    return ids


tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
lines = corpus()
if len(lines) < 10000:
    print("note: %d data lines (LETHE_DATA=%r)" % (len(lines), DATA))
train = lines[:4000] + EXTRA if lines else EXTRA * 50
lines = lines + EXTRA
model = io.BytesIO()
spm.SentencePieceTrainer.train(sentence_iterator=iter(train), model_writer=model, model_type="bpe", vocab_size=700,
                               byte_fallback=True, split_digits=True, num_threads=1, minloglevel=2, hard_vocab_limit=False)
sp = spm.SentencePieceProcessor(model_proto=model.getvalue())
path = os.path.join(tmp, "tokenizer.bin")
tokens, scores = export(sp, path)
p = subprocess.run([DRIVER, path, str(len(tokens))], input="\n".join(lines) + "\n", capture_output=True, text=True,
                   encoding="utf-8", errors="surrogateescape")
check(p.returncode == 0, "driver exit %d: %s" % (p.returncode, p.stderr[:300]))
out = p.stdout.split("\n")
bad = badtext = 0
for i, line in enumerate(lines):
    want = " ".join(str(x) for x in run_c_encode(tokens, scores, line))
    got_ids, got_text = (out[2 * i], out[2 * i + 1]) if 2 * i + 1 < len(out) else (None, None)
    if got_ids != want:
        bad += 1
        if bad <= 3:
            print("line %d %r: lethe %r, run.c %r" % (i, line[:60], got_ids, want))
    if got_text != line and "\n" not in line:
        badtext += 1
        if badtext <= 3:
            print("line %d decodes to %r" % (i, got_text))
check(bad == 0, "%d of %d lines differ from run.c" % (bad, len(lines)))
check(badtext == 0, "%d of %d lines do not decode back" % (badtext, len(lines)))

for name, content, vocab, want in (
        ("short.bin", open(path, "rb").read()[:-1], len(tokens), "is cut short"),
        ("fewer.bin", open(path, "rb").read(), len(tokens) + 1, "ends after %d pieces" % len(tokens)),
        ("more.bin", open(path, "rb").read(), len(tokens) - 1, "holds more than"),
        ("zero.bin", b"\0" * 16, 300, "expected a maximum piece length"),
        ("long.bin", struct.pack("I", 4) + struct.pack("fI", 0.0, 9) + b"x" * 9, 300, "piece 0: length 9 (maximum 4)")):
    bad_path = os.path.join(tmp, name)
    with open(bad_path, "wb") as f:
        f.write(content)
    p = subprocess.run([DRIVER, bad_path, str(vocab)], input="x\n", capture_output=True, text=True)
    check(p.returncode == 2 and p.stderr.startswith(bad_path + ": ") and want in p.stderr,
          "%s: exit %d %r lacks %r" % (name, p.returncode, p.stderr, want))

finish()
