"""bpe_reference.py: a Python reference implementation of GPT-2-style byte-level BPE as Hugging
Face tokenizers defines it (tokenizer.json: added tokens, Split / Digits / ByteLevel
pre-tokenizers, BPE with ranks and ignore_merges), a small BPE trainer, and the test corpus of
10,000 lines of the shared data sets plus crafted lines (non-Latin scripts, digits, whitespace
runs, contractions, special tokens inside text). Imported by tests/hf_tokenizer.py and
tests/export.py; not a test. Needs Debian's python3-regex for \p{L}-style split patterns.
"""
import collections
import json
import os

import regex

DATA = os.environ.get("LETHE_DATA", "")

GPT2 = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
LLAMA3 = (r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"""
          r"""|\s*[\r\n]+|\s+(?!\S)|\s+""")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return {b: chr(c) for b, c in zip(bs, cs)}


B2U = bytes_to_unicode()


def mapped(s):
    return "".join(B2U[b] for b in s.encode("utf-8"))


# ---- corpus -----------------------------------------------------------------------------------
def corpus():
    lines = []

    def add_file(rel, field=None, tsv_col=None, limit=2000):
        path = os.path.join(DATA, rel)
        if not DATA or not os.path.exists(path):
            return
        with open(path, encoding="utf-8") as f:
            for i, line in enumerate(f):
                if len(lines) >= 10000 or i >= limit:
                    break
                line = line.rstrip("\n")
                if field:
                    obj = json.loads(line)
                    v = obj[field]
                    line = " ".join(v) if isinstance(v, list) else v
                    for part in line.split("\n"):
                        lines.append(part)
                    continue
                if tsv_col is not None:
                    line = line.split("\t")[tsv_col]
                lines.append(line)

    add_file("sst2/train.tsv", tsv_col=0, limit=2500)
    add_file("multi30k/train.de", limit=2000)
    add_file("multi30k/train.fr", limit=2000)
    add_file("multi30k/train.en", limit=1000)
    add_file("conll2003/valid.txt", limit=1000)
    add_file("xsum-sample/train.jsonl" if os.path.exists(os.path.join(DATA, "xsum-sample/train.jsonl")) else "scitldr-a/dev.jsonl",
             field="document" if os.path.exists(os.path.join(DATA, "xsum-sample/train.jsonl")) else "source", limit=200)
    return lines[:10000]


CRAFTED = [
    "Don't stop: I'M here, you'll see, we'VE done it, they'd go.",
    "Ελληνικά κείμενα και λέξεις, ΚΕΦΑΛΑΙΑ.",
    "Привет, мир! Как дела? Ёжик.",
    "日本語のテキスト、漢字とかな。カタカナ",
    "中文文本测试，标点符号！",
    "مرحبا بالعالم ١٢٣٤٥",
    "हिन्दी पाठ और अंक १२३",
    "한국어 텍스트 테스트",
    "ภาษาไทยไม่มีช่องว่าง",
    "emoji 🙂👍🏽 and a family 👩‍👩‍👧 together",
    "numbers 1234567 and 3.14159, 1,000,000 and 0007",
    "tabs\tand  multiple   spaces    end   ",
    "   leading spaces",
    "trailing spaces   ",
    "\u00a0non-breaking\u00a0and\u2003em\u2003spaces\u3000ideographic",
    "carriage\rreturn inside\r\r and after",
    "combining e\u0301 and precomposed \u00e9",
    "Ⅻ roman, x² superscript, ½ fraction",
    "<|endoftext|>special in text<|eot_id|> and <|begin_of_text|>glued",
    "a<|begin_of_text|>b<|end_of_text|><|end_of_text|>",
    "partial <|endof and <| and |> markers",
    "",
    " ",
    "'s's't're 's 'S 'll",
    "x" * 300,
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
    "mixed😀text🚀with💡emoji",
    "C++ && foo->bar != baz; // comment #hash $dollar @at",
]


# ---- training merges (reference BPE trainer, byte level) ---------------------------------------
def train(lines, n_merges):
    words = collections.Counter()
    for line in lines:
        for m in regex.findall(GPT2, line):
            words[tuple(mapped(m))] += 1
    words = [[list(w), c] for w, c in words.items()]
    pairs = collections.Counter()
    where = collections.defaultdict(set)
    for i, (w, c) in enumerate(words):
        for a, b in zip(w, w[1:]):
            pairs[(a, b)] += c
            where[(a, b)].add(i)
    merges = []
    for _ in range(n_merges):
        if not pairs:
            break
        best = max(pairs.items(), key=lambda kv: (kv[1], kv[0]))[0]
        if pairs[best] < 2:
            break
        merges.append(best)
        for i in list(where[best]):
            w, c = words[i]
            for a, b in zip(w, w[1:]):
                pairs[(a, b)] -= c
                if pairs[(a, b)] <= 0:
                    del pairs[(a, b)]
            j, out = 0, []
            while j < len(w):
                if j + 1 < len(w) and (w[j], w[j + 1]) == best:
                    out.append(w[j] + w[j + 1])
                    j += 2
                else:
                    out.append(w[j])
                    j += 1
            words[i][0] = out
            for a, b in zip(out, out[1:]):
                pairs[(a, b)] += c
                where[(a, b)].add(i)
        where.pop(best, None)
    return merges


# ---- the reference tokenizer -------------------------------------------------------------------
class Reference:
    def __init__(self, spec):
        self.spec = spec
        model = spec["model"]
        self.vocab = dict(model["vocab"])
        self.added = {a["content"]: a["id"] for a in spec["added_tokens"]}
        merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
        self.ranks = {}
        for r, m in enumerate(merges):
            self.ranks.setdefault(m, r)
        self.ignore = model.get("ignore_merges", False)
        pre = spec["pre_tokenizer"]
        self.steps = pre["pretokenizers"] if pre["type"] == "Sequence" else [pre]

    def bpe(self, piece):
        s = mapped(piece)
        if self.ignore and s in self.vocab:
            return [self.vocab[s]]
        sym = list(s)
        while len(sym) > 1:
            best = None
            for i in range(len(sym) - 1):
                r = self.ranks.get((sym[i], sym[i + 1]))
                if r is not None and (best is None or r < best[0]):
                    best = (r, i)
            if best is None:
                break
            i = best[1]
            sym[i:i + 2] = [sym[i] + sym[i + 1]]
        return [self.vocab[x] for x in sym]

    def split(self, step, piece):
        if step["type"] == "Digits":
            pat = r"[0-9]" if step.get("individual_digits") else r"[0-9]+"
        elif step["type"] == "Split":
            pat = step["pattern"]["Regex"]
        elif step["type"] == "ByteLevel":
            if step.get("use_regex", True) is False:
                return [piece]
            pat = GPT2
        out, last = [], 0
        for m in regex.finditer(pat, piece):
            if m.start() == m.end():
                continue
            out += [piece[last:m.start()], m.group()]
            last = m.end()
        out.append(piece[last:])
        return [p for p in out if p]

    def encode(self, text):
        ids, i, start = [], 0, 0
        segs = []
        while i < len(text):
            best = max((a for a in self.added if text.startswith(a, i)), key=len, default=None)
            if best is None:
                i += 1
                continue
            segs += [text[start:i], best]
            i += len(best)
            start = i
        segs.append(text[start:])
        for k, seg in enumerate(segs):
            if k % 2:
                ids.append(self.added[seg])
                continue
            if not seg:
                continue
            if self.steps[-1].get("add_prefix_space") and not seg.startswith(" "):
                seg = " " + seg
            pieces = [seg]
            for st in self.steps:
                pieces = [q for p in pieces for q in self.split(st, p)]
            for p in pieces:
                ids += self.bpe(p)
        return ids
