#!/usr/bin/env python3
"""metrics.py: `lethe score` against the figures the reference tools printed.

1. every worked case of ../shared/metrics/examples.json (sacrebleu 2.6.0, rouge-score, seqeval
   1.2.2, scikit-learn 1.2.1) to a relative error of 1e-9;
2. the cases of the reference tools' own test suites (sacrebleu's test_bleu.py, test_chrf.py,
   test_sentence_bleu.py; rouge-score's rouge_scorer_test.py) to the precision they state;
3. cases of our own with figures worked by hand (13a tokenization, chrF++ punctuation, seqeval's
   IOB1 reading, malformed input);
4. differential checks where Debian packages the reference: nltk's PorterStemmer on every word of
   the public data sets, scikit-learn on random label sets.
Needs LETHE_BUILDDIR; LETHE_METRICS_EXAMPLES or LETHE_DATA locate examples.json.
"""
import json
import os
import random
import subprocess

LETHE = os.path.join(os.environ["LETHE_BUILDDIR"], "engine", "lethe")
from testlib import check, finish  # noqa: E402


def score(args, lines, status=0):
    text = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\n"
    p = subprocess.run([LETHE, "score"] + args + ["-"], input=text.encode(), capture_output=True)
    if p.returncode != status:
        print("lethe score", args, "exited", p.returncode, p.stderr.decode())
        return None
    return json.loads(p.stdout) if status == 0 else p.stderr.decode()


def close(a, b, rel=1e-9, path=""):
    """True when a matches b: numbers to rel (relative, absolute below 1), containers recursively."""
    if isinstance(b, bool) or isinstance(b, str):
        ok = a == b
    elif isinstance(b, (int, float)):
        ok = isinstance(a, (int, float)) and abs(a - b) <= rel * max(1.0, abs(b))
    elif isinstance(b, list):
        ok = isinstance(a, list) and len(a) == len(b) and all(close(x, y, rel, path) for x, y in zip(a, b))
    elif isinstance(b, dict):
        ok = isinstance(a, dict) and all(k in a and close(a[k], b[k], rel, path + "." + k) for k in b)
    else:
        ok = a == b
    if not ok and not isinstance(b, (list, dict)):
        print("  mismatch at", path, ":", a, "!=", b)
    return ok


def segments(hyps, refs):
    return [{"hyp": h, "refs": [r[i] for r in refs if r[i] is not None]} for i, h in enumerate(hyps)]


BLEU_KEYS = ["score", "counts", "totals", "precisions", "bp", "sys_len", "ref_len"]


def examples(path):
    d = json.load(open(path))
    for e in d["bleu_corpus"]:
        out = score(["bleu"], segments(e["hyps"], e["refs"]))
        check(out and close({k: out[k] for k in BLEU_KEYS}, {k: e["expected"][k] for k in BLEU_KEYS}), e["id"])
    for e in d["bleu_sentence"]:
        out = score(["bleu", "--sentence"], [{"hyp": e["hyp"], "refs": e["refs"]}])
        s = out and out["sentences"][0]
        check(s and close({k: s[k] for k in BLEU_KEYS}, {k: e["expected"][k] for k in BLEU_KEYS}), e["id"])
    for key in ("chrf", "chrf_pp"):
        for e in d[key]:
            o = e["options"]
            out = score(["chrf", "--word-order", str(o["word_order"]), "--char-order", str(o["char_order"]),
                         "--beta", str(o["beta"])], segments(e["hyps"], e["refs"]))
            check(out and close(out["score"], e["expected"]["score"]) and
                  close(out["sentence_scores"], e["expected"]["sentence_scores"]), e["id"])
    for e in d["rouge"]:
        for stem, key in ((False, "no_stem"), (True, "stem")):
            out = score(["rouge"] + (["--stem"] if stem else []), [{"hyp": e["hyp"], "ref": e["ref"]}])
            want = {t: e["expected"][key][t] for t in ("rouge1", "rouge2", "rougeL", "rougeLsum")}
            check(out and close(out["per_example"][0], want), e["id"] + " " + key)
    for e in d["ner"]:
        out = score(["seqeval"], [{"gold": g, "pred": p} for g, p in zip(e["refs"], e["hyps"])])
        want = e["expected"]
        check(out and close(out["micro"], want["micro"]) and set(out["per_type"]) == set(want["per_type"]) and
              all(close(out["per_type"][t], want["per_type"][t]) for t in want["per_type"]), e["id"])
    for e in d["classification"]:
        out = score(["classify"], [{"gold": g, "pred": p} for g, p in zip(e["refs"], e["hyps"])])
        want = e["expected"]
        check(out and close(out["accuracy"], want["accuracy"]) and close(out["macro_f1"], want["macro_f1"]) and
              list(out["per_class"]) == want["labels"] and close(out["per_class"], want["per_class"]), e["id"])


def reference_suites():
    # sacrebleu test_bleu.py (EPSILON 1e-8 on figures given to 7 places)
    refs = [["The dog bit the man.", "It was not unexpected.", "The man bit him first."],
            ["The dog had bit the man.", "No one was surprised.", "The man had bitten the dog."]]
    hyps = ["The dog bit the man.", "It wasn't surprising.", "The man had just bitten him."]
    out = score(["bleu"], segments(hyps, refs))
    check(out and abs(out["score"] - 48.530827) < 1e-6, "sacrebleu corpus 13a")
    out = score(["bleu", "--tokenize", "none"], segments(hyps, refs))
    check(out and abs(out["score"] - 49.1919566) < 1e-6, "sacrebleu corpus none")
    out = score(["bleu"], segments(["", "", ""], refs))
    check(out and out["score"] == 0.0, "sacrebleu empty hypotheses kept")
    # test_sentence_bleu.py
    ref = "producţia de zahăr brut se exprimă în zahăr alb;"
    sys_ = "Producția de zahăr primă va fi exprimată în ceea ce privește zahărul alb;"
    for tok, want in (("13a", 8.493), ("none", 7.347)):
        out = score(["bleu", "--sentence", "--tokenize", tok], [{"hyp": sys_, "refs": [ref]}])
        check(out and abs(out["sentences"][0]["score"] - want) < 1e-3, "sacrebleu sentence " + tok)
    out = score(["bleu", "--sentence"], [{"hyp": "this is a cat", "refs": ["okay thanks"]}])
    check(out and out["sentences"][0]["score"] == 0.0, "sacrebleu sentence no match (#141)")
    # test_chrf.py, effective-order mode (beta 3) and whitespace kept
    for h, r, want in ((["a"], ["a"], 100.0), ([""], ["reference"], 0.0), (["a b c"], ["abc"], 100.0),
                       (["a", "b"], ["a", "c"], 50.0), (["aa"], ["ab"], 25.0)):
        out = score(["chrf", "--beta", "3"], [{"hyp": x, "refs": [y]} for x, y in zip(h, r)])
        check(out and abs(out["score"] - want) < 1e-4, "sacrebleu chrF %r" % h)
    for h, r, want in (
            ("Die Beziehung zwischen Obama und Netanjahu ist nicht gerade freundlich.",
             "Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.", 67.3481606),
            ("risk assessment must be made of those who are qualified and expertise in the sector - these are the scientists .",
             "risk assessment has to be undertaken by those who are qualified and expert in that area - that is the scientists .",
             65.2414427)):
        out = score(["chrf", "--beta", "3", "--whitespace"], [{"hyp": h, "refs": [r]}])
        check(out and abs(out["score"] - want) < 1e-4, "sacrebleu chrF whitespace")
    # rouge_scorer_test.py: score(target, prediction)
    def rouge(target, prediction):
        out = score(["rouge"], [{"hyp": prediction, "ref": target}])
        return out["per_example"][0] if out else None
    r = rouge("testing one two", "testing")
    check(r and close(r["rouge1"], {"precision": 1, "recall": 1 / 3, "fmeasure": 1 / 2}), "rouge1")
    r = rouge("testing one two", "testing one")
    check(r and close(r["rouge2"], {"precision": 1, "recall": 1 / 2, "fmeasure": 2 / 3}), "rouge2")
    r = rouge("testing one two", "testing two")
    check(r and close(r["rougeL"], {"precision": 1, "recall": 2 / 3, "fmeasure": 4 / 5}), "rougeL non-consecutive")
    r = rouge("w1 w2 w3 w4 w5", "w1 w2 w6 w7 w8\nw1 w3 w8 w9 w5")
    check(r and close(r["rougeLsum"], {"precision": 0.4, "recall": 0.8, "fmeasure": 0.4 * 0.8 * 2 / 1.2}), "rougeLsum union")
    for t, p in (("testing one two", ""), ("w1 w2 w3 w4 w5", "/"), ("", "w1")):
        r = rouge(t, p)
        check(r and all(r[k]["fmeasure"] == 0 for k in r), "rouge empty %r %r" % (t, p))


def own_cases():
    # 13a: punctuation split, period/comma next to digits kept, dash after digit split, entities.
    out = score(["bleu", "--sentence"], [{"hyp": "It costs $3.50, i.e. 1,000-2 &amp; more.",
                                          "refs": ["It costs $ 3.50 , i.e . 1,000 - 2 & more ."]}])
    check(out and out["sentences"][0]["score"] > 99.999999, "13a tokenization matches hand tokenization")
    # Python's str.split(): U+00A0 separates tokens (Multi30k German has it).
    out = score(["bleu", "--sentence", "--tokenize", "none"], [{"hyp": "a\u00a0b c d", "refs": ["a b c d"]}])
    check(out and out["sentences"][0]["sys_len"] == 4, "U+00A0 is whitespace")
    # Closest reference length, the shorter on ties: hyp 3 tokens, refs 2 and 4 -> 2.
    out = score(["bleu"], [{"hyp": "a b c", "refs": ["a b c d", "a b"]}])
    check(out and out["ref_len"] == 2 and out["bp"] == 1.0, "closest reference length, shorter on ties")
    # chrF++: '(hi)' splits into '(hi' and ')' (sacrebleu issue #124), '( hi )' into '(', 'hi', ')'.
    # Character orders 1-4 match fully; 5 and 6 exist on neither side and do not count; word
    # unigrams match 1 of 2 (hyp) and 1 of 3 (ref); bigrams match none.
    a = score(["chrf", "--word-order", "2"], [{"hyp": "(hi)", "refs": ["( hi )"]}])
    p_, r_ = (4 + 1 / 2 + 0) / 6, (4 + 1 / 3 + 0) / 6
    check(a and close(a["score"], 100 * 5 * p_ * r_ / (4 * p_ + r_)), "chrF++ punctuation split")
    # seqeval: I- after O starts an entity (IOB1 input reads as conlleval reads it); types differ -> new entity.
    out = score(["seqeval"], [{"gold": ["I-PER", "I-PER", "O", "B-LOC", "I-ORG"],
                               "pred": ["B-PER", "I-PER", "O", "B-LOC", "B-ORG"]}])
    check(out and out["micro"]["tp"] == 3 and out["micro"]["support"] == 3 and out["micro"]["f1"] == 1.0,
          "seqeval IOB1 reading")
    # Entities do not cross sentence boundaries.
    out = score(["seqeval"], [{"gold": ["O", "B-PER"], "pred": ["O", "B-PER"]},
                              {"gold": ["I-PER", "O"], "pred": ["B-PER", "O"]}])
    check(out and out["micro"]["support"] == 2 and out["micro"]["f1"] == 1.0, "seqeval sentence boundary")
    # Numeric labels sort by value, as scikit-learn sorts ints.
    out = score(["classify"], [{"gold": 10, "pred": 9}, {"gold": 9, "pred": 9}, {"gold": 2, "pred": 10}])
    check(out and list(out["per_class"]) == ["2", "9", "10"], "numeric labels sort by value")
    # Malformed input: file, line and a clear reason; exit 2.
    for args, lines, want in (
            (["bleu"], [{"hyp": "a", "refs": ["a"]}, {"hyp": "b"}], "<stdin>:2: field 'refs' is missing"),
            (["bleu"], [{"hyp": 3, "refs": ["a"]}], "<stdin>:1: field 'hyp' must be a string"),
            (["seqeval"], [{"gold": ["O"], "pred": ["O", "O"]}], "<stdin>:1: 'gold' has 1 tags but 'pred' has 2"),
            (["classify"], [{"gold": 1, "pred": "a"}], "<stdin>:1: labels mix numbers and strings"),
            (["rouge"], [{"hyp": "a", "refs": []}], "<stdin>:1: field 'refs' must hold at least one reference")):
        err = score(args, lines, status=2)
        check(err is not None and want in err, "malformed input: " + want)
    p = subprocess.run([LETHE, "score", "bleu", "-"], input=b'{"hyp": "a", "refs": ["a"]}\n{"hyp": oops}\n',
                       capture_output=True)
    check(p.returncode == 2 and b"<stdin>:2:9: invalid JSON" in p.stderr, "invalid JSON names line and column")
    p = subprocess.run([LETHE, "score", "bleu", "-"], input=b'{"hyp": "a\xff", "refs": ["a"]}\n', capture_output=True)
    check(p.returncode == 2 and b"<stdin>:1:11: invalid UTF-8" in p.stderr, "invalid UTF-8 names line and column")
    p = subprocess.run([LETHE, "score", "blue", "x"], capture_output=True)
    check(p.returncode == 2 and b"did you mean 'bleu'?" in p.stderr, "unknown metric suggests")


def differential():
    data = os.environ.get("LETHE_DATA", "")
    try:
        from nltk.stem.porter import PorterStemmer
    except ImportError:
        print("SKIP: nltk is not installed; the Porter stemmer differential test did not run")
        PorterStemmer = None
    if PorterStemmer and os.path.isdir(os.path.join(data, "multi30k")):
        import re
        words = set()
        for f in ("multi30k/train.en", "conll2003/train.txt", "scitldr-a/train.jsonl", "xsum-sample/train.jsonl"):
            text = open(os.path.join(data, f), encoding="utf-8").read().lower()
            words.update(w for w in re.sub(r"[^a-z0-9]+", " ", text).split() if len(w) > 3)
        words = sorted(words)
        stemmer = PorterStemmer()
        helper = os.path.join(os.environ["LETHE_BUILDDIR"], "tests", "stem_words")
        p = subprocess.run([helper], input="\n".join(words).encode() + b"\n", capture_output=True)
        ours = p.stdout.decode().split("\n")[:-1]
        bad = [(w, o, stemmer.stem(w)) for w, o in zip(words, ours) if o != stemmer.stem(w)]
        check(p.returncode == 0 and len(ours) == len(words) and not bad,
              "Porter stemmer agrees with nltk on %d words (differences: %s)" % (len(words), bad[:5]))
    try:
        from sklearn.metrics import accuracy_score, precision_recall_fscore_support
    except ImportError:
        print("SKIP: scikit-learn is not installed; the classification differential test did not run")
        return
    rng = random.Random(7)
    for trial in range(20):
        labels = ["neg", "neu", "pos", "x"][: rng.randint(2, 4)]
        n = rng.randint(1, 60)
        gold = [rng.choice(labels) for _ in range(n)]
        pred = [rng.choice(labels) for _ in range(n)]
        out = score(["classify"], [{"gold": g, "pred": p} for g, p in zip(gold, pred)])
        import numpy as np
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            p, r, f, s = precision_recall_fscore_support(gold, pred, zero_division=0)
        names = sorted(set(gold) | set(pred))
        want = {name: {"precision": p[i], "recall": r[i], "f1": f[i], "support": int(s[i])} for i, name in enumerate(names)}
        check(out and close(out["accuracy"], accuracy_score(gold, pred)) and close(out["macro_f1"], float(np.mean(f)))
              and close(out["per_class"], want), "scikit-learn trial %d" % trial)


def main():
    path = os.environ.get("LETHE_METRICS_EXAMPLES") or os.path.join(
        os.environ.get("LETHE_DATA", ""), "..", "metrics", "examples.json")
    if os.path.exists(path):
        examples(path)
    else:
        print("SKIP: examples.json not found (set LETHE_METRICS_EXAMPLES or LETHE_DATA)")
    reference_suites()
    own_cases()
    differential()
    finish()


if __name__ == "__main__":
    main()
