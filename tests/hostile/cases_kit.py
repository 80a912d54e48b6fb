"""cases_kit.py: hostile-input cases for the data readers' NUL bytes, JSON \\u0000 escapes and
byte-order marks (issue #13, "Silent damage to data"), whose fixes belong to the plugin-kit work
(issue #16). Not run until catalogue.py's LISTS names "cases_kit" (one line, at the merge)."""
from cases import Case, task

CASES = [
    task("kit-text-nul-byte", "{plugin: text, train: data.txt, eval: data.txt}", b"Mu\x00ller\n", r"data\.txt:1:3: a NUL byte"),
    task("kit-sentiment-tsv-nul-byte", "{plugin: sentiment, train: data.tsv, eval: data.tsv}", b"sentence\tlabel\nMu\x00ller\t1\n",
         r"data\.tsv:2:3: a NUL byte", fname="data.tsv"),
    task("kit-ner-conll-nul-byte", "{plugin: ner, train: data.conll, eval: data.conll}", b"Mu\x00ller NNP B-NP B-PER\n",
         r"data\.conll:1:3: a NUL byte", fname="data.conll"),
    task("kit-translation-tsv-nul-byte", "{plugin: translation, source: en, target: de, train: data.tsv, eval: data.tsv}",
         b"a\tMu\x00ller\n", r"data\.tsv:1:5: a NUL byte", fname="data.tsv"),
    task("kit-sentiment-json-u0000", "{plugin: sentiment, train: data.jsonl, eval: data.jsonl}",
         b'{"text": "Mu\\u0000ller", "label": 1}\n', r"data\.jsonl:1:\d+: .*(NUL|\\\\u0000)", fname="data.jsonl"),
    task("kit-summarize-json-u0000", "{plugin: summarize, train: data.jsonl, eval: data.jsonl}",
         b'{"document": "a\\u0000b", "summary": "s"}\n', r"data\.jsonl:1:\d+: .*(NUL|\\\\u0000)", fname="data.jsonl"),
    Case("kit-score-json-u0000", {"s.jsonl": '{"hyp": "a\\u0000b", "refs": ["a"]}\n'}, ["score", "bleu", "s.jsonl"], 2,
         r"s\.jsonl:1:\d+: .*(NUL|\\\\u0000)"),
    task("kit-sentiment-bom-headerless", "{plugin: sentiment, header: false, train: data.tsv, eval: data.tsv}",
         b"\xef\xbb\xbfTom is fine\t1\nbad\t0\n", r"also appear in its training data", status=0, fname="data.tsv"),
    task("kit-ner-conll-bom", "{plugin: ner, train: data.conll, eval: data.conll}", b"\xef\xbb\xbfTom NNP B-NP B-PER\n",
         r"also appear in its training data", status=0, fname="data.conll"),
]
