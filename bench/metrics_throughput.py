#!/usr/bin/env python3
"""metrics_throughput.py: seconds per 100,000 sentence pairs for `lethe score bleu` and
`lethe score rouge` (with and without stemming), medians of repeated runs.

The pairs are generated here, deterministically: references of 5 to 30 words drawn from a
Zipf-like vocabulary of 5,000 made-up words with punctuation, hypotheses made from them by
dropping, replacing and swapping words, as a system's output differs from its reference. The
peer, measured in the same run on the same pairs, is nltk's corpus_bleu (Debian's python3-nltk;
sacrebleu and rouge-score are not packaged for Debian 12): the same n-gram counting in Python,
on whitespace tokens rather than 13a tokens. No ROUGE peer is available offline.

Usage: bench/metrics_throughput.py [--lethe PATH] [--pairs N] [--repeat K]
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time


def words(rng, n):
    # Pronounceable pseudo-words, so the stemmer has suffixes to work on.
    syll = ["ka", "lo", "mi", "ne", "ru", "sa", "to", "vi", "del", "mar", "ton", "ing", "ed", "tion", "ly", "ness"]
    out = set()
    while len(out) < n:
        out.add("".join(rng.choice(syll) for _ in range(rng.randint(1, 4))))
    return sorted(out)


def generate(path, n, seed=1234):
    rng = random.Random(seed)
    vocab = words(rng, 5000)
    weights = [1.0 / (i + 1) for i in range(len(vocab))]
    punct = [",", ".", "!", "?", ";"]
    with open(path, "w") as f:
        for _ in range(n):
            ref = rng.choices(vocab, weights, k=rng.randint(5, 30))
            ref[0] = ref[0].capitalize()
            hyp = []
            for w in ref:
                r = rng.random()
                if r < 0.08:
                    continue
                hyp.append(rng.choices(vocab, weights)[0] if r < 0.2 else w)
            if len(hyp) > 3 and rng.random() < 0.3:
                i = rng.randrange(len(hyp) - 1)
                hyp[i], hyp[i + 1] = hyp[i + 1], hyp[i]
            end = rng.choice(punct)
            f.write(json.dumps({"hyp": " ".join(hyp) + end, "refs": [" ".join(ref) + end],
                                "ref": " ".join(ref) + end}) + "\n")


def time_command(cmd, repeat):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - t)
    return statistics.median(times), times


def nltk_peer(path, repeat):
    try:
        from nltk.translate.bleu_score import corpus_bleu
    except ImportError:
        return None
    hyps, refs = [], []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            hyps.append(r["hyp"].split())
            refs.append([x.split() for x in r["refs"]])
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        corpus_bleu(refs, hyps)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--lethe", default=os.path.join(here, "..", "engine", "lethe"))
    ap.add_argument("--pairs", type=int, default=100000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    scale = 100000 / args.pairs
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "pairs.jsonl")
        generate(path, args.pairs)
        print("pairs: %d (%.1f MB), repeats: %d, medians in seconds per 100k pairs" %
              (args.pairs, os.path.getsize(path) / 1e6, args.repeat))
        results = {}
        for name, extra in (("bleu", ["bleu"]), ("rouge", ["rouge"]), ("rouge --stem", ["rouge", "--stem"]),
                            ("chrf", ["chrf"])):
            med, _ = time_command([args.lethe, "score"] + extra + [path], args.repeat)
            results[name] = med * scale
            print("lethe score %-12s %8.3f s" % (name, med * scale))
        peer = nltk_peer(path, args.repeat)
        if peer is not None:
            print("nltk corpus_bleu (peer)  %8.3f s   lethe/nltk speed ratio: %.1f" %
                  (peer * scale, peer / (results["bleu"] / scale)))
        else:
            print("nltk is not installed: no peer measured")


if __name__ == "__main__":
    sys.exit(main())
