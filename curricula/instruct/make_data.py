#!/usr/bin/env python3
"""make_data.py: writes lethe's small synthetic instruction-tuning sets, one per format the
`instruct` plugin reads, so that an instruction curriculum runs with nothing but lethe.
Deterministic: the files committed beside this script are its output, and running it again
rewrites them byte for byte. Train and dev never share a record (checked at the end).

  alpaca.{train,dev}.jsonl     {"instruction", "input", "output"}: word and number skills
                               (capitals, reversal, sums, sorting, counting, opposites) and a
                               few facts without input
  sharegpt.{train,dev}.jsonl   {"conversations": [{"from", "value"}]}: two-turn arithmetic chats
                               with a system line
  messages.{train,dev}.jsonl   {"messages": [{"role", "content"}]}: two-turn English-German word
                               lookups
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261202)

WORDS = ["apple", "river", "garden", "planet", "window", "silver", "market", "pencil", "forest",
         "candle", "bridge", "rocket", "yellow", "summer", "basket", "castle", "dragon", "engine",
         "flower", "guitar", "island", "jacket", "kitten", "lemon", "mirror", "number", "orange",
         "pepper", "rabbit", "sunset", "ticket", "violin", "winter", "zebra", "anchor", "button"]
OPPOSITES = {"hot": "cold", "big": "small", "up": "down", "fast": "slow", "old": "new", "day": "night",
             "open": "closed", "happy": "sad", "light": "dark", "early": "late", "full": "empty",
             "strong": "weak", "high": "low", "long": "short", "wet": "dry", "hard": "soft"}
FACTS = [("What is the capital of France?", "Paris"), ("What is the capital of Japan?", "Tokyo"),
         ("What is the capital of Peru?", "Lima"), ("What is the capital of Norway?", "Oslo"),
         ("What is the capital of Egypt?", "Cairo"), ("How many days are in a week?", "Seven"),
         ("How many legs does a spider have?", "Eight"), ("What color is the sky on a clear day?", "Blue"),
         ("What do bees make?", "Honey"), ("Which planet is closest to the sun?", "Mercury")]
SENTENCES = ["the dog ran home", "we like green tea", "a small bird sang today", "my friend reads books",
             "rain fell all night long", "the old man walked slowly to town", "cats sleep", "she wrote a letter"]
DE = {"dog": "Hund", "cat": "Katze", "house": "Haus", "tree": "Baum", "book": "Buch", "water": "Wasser",
      "bread": "Brot", "child": "Kind", "sun": "Sonne", "moon": "Mond", "car": "Auto", "city": "Stadt",
      "friend": "Freund", "school": "Schule", "table": "Tisch", "door": "Tür", "apple": "Apfel", "milk": "Milch"}


def alpaca_record():
    kind = rng.randrange(7)
    if kind == 0:
        w = rng.choice(WORDS)
        return {"instruction": "Write the word in capital letters.", "input": w, "output": w.upper()}
    if kind == 1:
        w = rng.choice(WORDS)
        return {"instruction": "Reverse the letters of the word.", "input": w, "output": w[::-1]}
    if kind == 2:
        a, b = rng.randrange(10, 90), rng.randrange(10, 90)
        return {"instruction": "Add the two numbers.", "input": "%d and %d" % (a, b), "output": str(a + b)}
    if kind == 3:
        xs = rng.sample(range(1, 30), rng.randrange(3, 6))
        return {"instruction": "Sort the numbers from smallest to largest.", "input": " ".join(map(str, xs)),
                "output": " ".join(map(str, sorted(xs)))}
    if kind == 4:
        s = rng.choice(SENTENCES)
        return {"instruction": "Count the words in the sentence.", "input": s, "output": str(len(s.split()))}
    if kind == 5:
        w = rng.choice(sorted(OPPOSITES))
        return {"instruction": "Give the opposite of the word.", "input": w, "output": OPPOSITES[w]}
    q, a = rng.choice(FACTS)
    return {"instruction": q, "input": "", "output": a}


def sharegpt_record():
    a, b, c = rng.randrange(2, 20), rng.randrange(2, 20), rng.randrange(2, 5)
    return {"conversations": [
        {"from": "system", "value": "You answer arithmetic questions in one sentence."},
        {"from": "human", "value": "What is %d plus %d?" % (a, b)},
        {"from": "gpt", "value": "%d plus %d is %d." % (a, b, a + b)},
        {"from": "human", "value": "And times %d?" % c},
        {"from": "gpt", "value": "%d times %d is %d." % (a + b, c, (a + b) * c)}]}


def messages_record():
    x, y = rng.sample(sorted(DE), 2)
    return {"messages": [
        {"role": "system", "content": "You translate English words into German."},
        {"role": "user", "content": "What is '%s' in German?" % x},
        {"role": "assistant", "content": "'%s' is '%s'." % (x, DE[x])},
        {"role": "user", "content": "And '%s'?" % y},
        {"role": "assistant", "content": "'%s' is '%s'." % (y, DE[y])}]}


def write(name, make, n_train, n_dev):
    seen, train, dev = set(), [], []
    while len(dev) < n_dev:
        r = make()
        key = json.dumps(r, sort_keys=True)
        if key not in seen:
            seen.add(key)
            dev.append(r)
    tries = 0
    while len(train) < n_train and tries < 100 * n_train:
        tries += 1
        r = make()
        key = json.dumps(r, sort_keys=True)
        if key not in seen:  # no dev record in train, no duplicates within train
            seen.add(key)
            train.append(r)
    for split, rows in (("train", train), ("dev", dev)):
        with open(os.path.join(HERE, "%s.%s.jsonl" % (name, split)), "w", encoding="utf-8") as f:
            for r in rows:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")


write("alpaca", alpaca_record, 1500, 120)
write("sharegpt", sharegpt_record, 600, 60)
write("messages", messages_record, 250, 40)
