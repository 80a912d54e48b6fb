#!/usr/bin/env python3
"""make_data.py: writes the quick-start data sets of lethe, small and synthetic, for the four
task families, in the formats of the real ones (GLUE TSV, CoNLL columns, a sentence-pair TSV,
JSON lines). Deterministic: the files committed beside this script are its output, and running it
again rewrites them byte for byte. No dev example appears in train.

  reviews.{train,dev}.tsv       sentiment: sentence<TAB>label (1 positive), with a header
  entities.{train,dev}.txt      NER: token<TAB>tag, IOB2 (PER, LOC, ORG), blank line between sentences
  pairs.{train,dev}.tsv         translation English<TAB>German, a small grammar and dictionary
  summaries.{train,dev}.jsonl   summarization: {"document": ..., "summary": ...}, lead-sentence summaries
"""
import json
import os
import random

HERE = os.path.dirname(os.path.abspath(__file__))
rng = random.Random(20261129)

POSITIVE = ["wonderful", "brilliant", "delightful", "moving", "charming", "superb", "funny", "gripping"]
NEGATIVE = ["dull", "awful", "tedious", "boring", "clumsy", "lifeless", "painful", "forgettable"]
THINGS = ["film", "story", "cast", "ending", "script", "soundtrack", "movie", "plot"]
FRAMES = ["the {t} is {a} .", "what a {a} {t} .", "a {a} {t} from start to finish .",
          "i found the {t} {a} .", "honestly , the {t} was {a} .", "{a} , simply {a} ."]

PEOPLE = ["Anna Berg", "Tom Lee", "Maria Silva", "Omar Haddad", "Lena Vogel", "Ravi Kumar", "Sara Novak", "Jon Hale"]
PLACES = ["Paris", "Lagos", "Osaka", "Lima", "Oslo", "Cairo", "Quito", "Perth"]
ORGS = ["Acme Corp", "Blue River Bank", "Nova Labs", "City Council", "Green Party", "Delta Air"]
NER_FRAMES = [["{PER}", "visited", "{LOC}", "on", "Monday", "."],
              ["{PER}", "joined", "{ORG}", "last", "year", "."],
              ["{ORG}", "opened", "an", "office", "in", "{LOC}", "."],
              ["In", "{LOC}", ",", "{PER}", "met", "the", "head", "of", "{ORG}", "."],
              ["{PER}", "and", "{PER}", "left", "{LOC}", "."]]

EN_DE_NOUNS = {"dog": ("Hund", "der"), "cat": ("Katze", "die"), "child": ("Kind", "das"), "man": ("Mann", "der"),
               "woman": ("Frau", "die"), "horse": ("Pferd", "das"), "bird": ("Vogel", "der")}
EN_DE_ADJ = {"red": "rot", "small": "klein", "old": "alt", "happy": "froh", "black": "schwarz"}
EN_DE_VERB = {"runs": "rennt", "sleeps": "schläft", "sings": "singt", "waits": "wartet", "plays": "spielt"}
EN_DE_PLACE = {"in the park": "im Park", "at home": "zu Hause", "on the street": "auf der Straße",
               "by the lake": "am See"}
ADJ_ENDING = {"der": "e", "die": "e", "das": "e"}

ACTIONS = [("won a prize", "won a prize"), ("opened a bakery", "opened a bakery"), ("ran a marathon", "ran a marathon"),
           ("wrote a book", "wrote a book"), ("built a boat", "built a boat"), ("climbed a mountain", "climbed a mountain")]
FILLER = ["The weather was mild that week .", "Friends came to celebrate .", "Local papers reported the news .",
          "Many people were surprised .", "It had taken months of work .", "A small crowd gathered outside ."]


def review():
    label = rng.random() < 0.5
    words = POSITIVE if label else NEGATIVE
    frame = rng.choice(FRAMES)
    return frame.format(t=rng.choice(THINGS), a=rng.choice(words)), int(label)


def entity_sentence():
    tokens, tags = [], []
    for slot in rng.choice(NER_FRAMES):
        if slot.startswith("{"):
            kind = slot[1:-1]
            name = rng.choice({"PER": PEOPLE, "LOC": PLACES, "ORG": ORGS}[kind]).split()
            for i, w in enumerate(name):
                tokens.append(w)
                tags.append(("B-" if i == 0 else "I-") + kind)
        else:
            tokens.append(slot)
            tags.append("O")
    return tokens, tags


def pair():
    noun = rng.choice(sorted(EN_DE_NOUNS))
    adj = rng.choice(sorted(EN_DE_ADJ))
    verb = rng.choice(sorted(EN_DE_VERB))
    place = rng.choice(sorted(EN_DE_PLACE))
    de_noun, article = EN_DE_NOUNS[noun]
    en = "the %s %s %s %s ." % (adj, noun, verb, place)
    de = "%s %s%s %s %s %s ." % (article.capitalize(), EN_DE_ADJ[adj], ADJ_ENDING[article], de_noun, EN_DE_VERB[verb],
                                 EN_DE_PLACE[place])
    return en.capitalize(), de


def summary():
    person = rng.choice(PEOPLE)
    place = rng.choice(PLACES)
    action, short = rng.choice(ACTIONS)
    lead = "%s %s in %s ." % (person, action, place)
    rest = rng.sample(FILLER, 3)
    return " ".join([lead] + rest), "%s %s in %s ." % (person, short, place)


def write(name, lines):
    with open(os.path.join(HERE, name), "w", encoding="utf-8", newline="\n") as f:
        f.write("".join(lines))


def disjoint(make, n_dev, n_train, key):
    """n_dev distinct examples, then n_train that never repeat one of them: a score on dev
    measures what generalises, not what was memorised (lethe validate warns otherwise)."""
    dev, seen = [], set()
    while len(dev) < n_dev:
        x = make()
        if key(x) not in seen:
            seen.add(key(x))
            dev.append(x)
    train = []
    while len(train) < n_train:
        x = make()
        if key(x) not in seen:
            train.append(x)
    return {"train": train, "dev": dev}


reviews = disjoint(review, 120, 800, lambda r: r[0])
sents = disjoint(entity_sentence, 120, 800, lambda s: tuple(s[0]))
pairs = disjoint(pair, 120, 800, lambda p: p[0])
summaries = disjoint(summary, 60, 400, lambda s: s[0])
for split in ("train", "dev"):
    write("reviews.%s.tsv" % split, ["sentence\tlabel\n"] + ["%s\t%d\n" % r for r in reviews[split]])
    write("entities.%s.txt" % split,
          ["".join("%s\t%s\n" % tt for tt in zip(*s)) + "\n" for s in sents[split]])
    write("pairs.%s.tsv" % split, ["%s\t%s\n" % p for p in pairs[split]])
    write("summaries.%s.jsonl" % split,
          [json.dumps(dict(zip(("document", "summary"), s))) + "\n" for s in summaries[split]])
