"""cases.py: the hostile-input catalogue run by catalogue.py. A case is files (name -> text, bytes,
or a function writing the file at the path it is given), a `lethe` command line ({d} is the
case's directory, {seed} a small valid run file, {plugins} the test plugins' folder), the exit
status and a pattern standard error must match. Add a case for every hostile input that ever
misbehaved, named for what it is."""
import os
import struct
import subprocess


class Case:
    def __init__(self, name, files, argv, status, pattern, env=None, stdin=None, timeout=30,
                 check=None):
        self.name, self.files, self.argv, self.status, self.pattern = name, files, argv, status, pattern
        self.env, self.stdin, self.timeout, self.check = env or {}, stdin, timeout, check


# A valid curriculum of a few seconds; cur(...) makes a hostile variant by replacing text.
BASE = """lethe: 1
name: h
seed: 3
model: {preset: tiny, context: 16, layers: 1, dim: 16, heads: 1}
tokenizer: {vocab: 260}
train: {batch: 2, steps: 2}
tasks:
  p: {plugin: text, train: lines.txt, eval: lines.txt, unit: line, eval_limit: 1}
stages:
  - {name: one, tasks: [p]}
output: out.h5
"""

_seed = {}


def seed_run(root, lethe, env):
    """A small valid run file, made once per catalogue run."""
    if root not in _seed:
        d = os.path.join(root, "_seed")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, "c.yaml"), "w") as f:
            f.write(BASE.replace("output: out.h5", "output: seed.h5"))
        import shutil
        shutil.copy(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data", "text",
                                 "lines.txt"), d)
        subprocess.run([lethe, "run", "--quiet", "c.yaml"], cwd=d, env=env, check=True,
                       capture_output=True)
        _seed[root] = os.path.join(d, "seed.h5")
    return _seed[root]


def cur(old=None, new=None, *more):
    text = BASE
    pairs = [(old, new)] + list(zip(more[::2], more[1::2])) if old is not None else []
    for o, n in pairs:
        assert o in text, o
        text = text.replace(o, n)
    return text


def validate(name, yaml, pattern, status=2, files=None, argv=None, **kw):
    f = {"c.yaml": yaml}
    f.update(files or {})
    return Case(name, f, argv or ["validate", "c.yaml"], status, pattern, **kw)


def task(name, line, data, pattern, status=2, fname="data.txt"):
    """A curriculum whose task p is `line` (train and eval: fname holding data)."""
    yaml = cur("  p: {plugin: text, train: lines.txt, eval: lines.txt, unit: line, eval_limit: 1}",
               "  p: " + line)
    return validate(name, yaml, pattern, status, files={fname: data})


def unchanged(path, content):
    def check(d):
        with open(os.path.join(d, path), "rb") as f:
            return None if f.read() == content else "%s was changed" % path
    return check


def big_tasks(path):
    with open(path, "w") as f:
        f.write(BASE.split("tasks:")[0] + "tasks:\n")
        # 80,000 as in issue #13; 10,000 under the sanitizers, whose allocator is far slower
        for i in range(10000 if os.environ.get("LETHE_HOSTILE_SANITIZED") else 80000):
            f.write("  t%d: {plugin: text, train: lines.txt}\n" % i)
        f.write("  t5: {plugin: text, train: lines.txt}\nstages:\n  - {name: one, tasks: [t1]}\n")


def deep(path):
    with open(path, "w") as f:
        f.write(BASE + "extra: " + "[" * 5000 + "]" * 5000 + "\n")


def truncated_seed(n):
    def make(path):
        seed = _seed[next(iter(_seed))]
        with open(seed, "rb") as f:
            data = f.read()
        with open(path, "wb") as f:
            f.write(data[:n] if n >= 0 else data[:len(data) // 2])
    return make


def copy_seed(path):
    with open(_seed[next(iter(_seed))], "rb") as f, open(path, "wb") as g:
        g.write(f.read())


def damaged_heap(field, value):
    """The seed run file with one field of its first global-heap object overwritten: libhdf5 1.10
    copies past its heap buffer (size) or reads an unused slot (index) without checking
    (docs/reliability.md); lethe's check process must take the crash, not lethe."""
    def make(path):
        with open(_seed[next(iter(_seed))], "rb") as f:
            data = bytearray(f.read())
        at = data.find(b"GCOL")
        assert at >= 0, "the seed run file has no global heap"
        if field == "size":
            struct.pack_into("<Q", data, at + 24, value)
        else:
            struct.pack_into("<H", data, at + 16, value)
        with open(path, "wb") as f:
            f.write(data)
    return make


def row_attr(name, value):
    """The seed run file with attribute `name` of its first trained row set to `value` (h5py)."""
    def make(path):
        import h5py
        copy_seed(path)
        with h5py.File(path, "r+") as f:
            row = sorted(r for r in f["stages"] if "/curves" not in r and "loss" in f["stages"][r].get("curves", {}))[0]
            f["stages"][row].attrs[name] = value
    return make


E = r"^c\.yaml:%d:%d: "  # a curriculum error at line:col

CASES = [
    # ---- curricula: YAML ----------------------------------------------------------------
    validate("yaml-tag-str-on-number", cur("steps: 2", "steps: !!str 2"),
             E % (6, 26) + r"YAML tags \('!!str'\) are not supported"),
    validate("yaml-tag-local", cur("steps: 2", "steps: !foo 2"), E % (6, 26) + r"YAML tags \('!foo'\)"),
    validate("yaml-tag-binary", cur("batch: 2", "batch: !!binary AAAA"), E % (6, 16) + r"YAML tags \('!!binary'\)"),
    validate("yaml-tag-on-mapping", cur("train: {", "train: !!map {"), E % (6, 8) + r"YAML tags \('!!map'\)"),
    validate("yaml-tag-on-bool", cur("name: h", "name: h\nfoo: !!bool true"), E % (3, 6) + r"YAML tags \('!!bool'\)"),
    validate("yaml-alias", cur("seed: 3", "seed: &s 3\nx: *s"), r"^c\.yaml:4:4: aliases \(\*name\) are not supported"),
    validate("yaml-two-documents", BASE + "---\nlethe: 1\n", r"^c\.yaml:12:1: a curriculum is one YAML document"),
    validate("yaml-syntax-error", cur("seed: 3", "seed: [3"), r"^c\.yaml:\d+:\d+: .*(flow|expected)"),
    validate("yaml-tab-indent", cur("  p: {", "\tp: {"), r"^c\.yaml:8:1: found character that cannot start any token"),
    validate("yaml-invalid-utf8", cur("name: h", "name: h\xff".encode("latin-1").decode("latin-1")).encode("latin-1"),
             r"c\.yaml.*(UTF-8|invalid|utf)"),
    validate("yaml-nul-byte", BASE.encode().replace(b"seed: 3", b"seed: 3\x00"), r"c\.yaml:3:\d+: .*NUL|c\.yaml.*(control|special characters)"),
    validate("yaml-empty-file", "", r"c\.yaml: .*(empty|no |expected)"),
    validate("yaml-only-comment", "# nothing\n", r"c\.yaml.*(empty|expected|mapping)"),
    validate("yaml-not-a-mapping", "- a\n- b\n", r"^c\.yaml:1:1: expected a map of curriculum keys"),
    validate("yaml-complex-key", cur("seed: 3", "seed: 3\n? [a]\n: b"), r"^c\.yaml:4:3: a key must be a plain value"),
    validate("yaml-nested-too-deeply", "", r"c\.yaml:12:\d+: nested too deeply", files={"c.yaml": deep}),
    validate("yaml-duplicate-key", cur("seed: 3", "seed: 3\nseed: 4"), r"^c\.yaml:4:1: .*'seed' appears twice \(first at line 3\)"),
    validate("yaml-80000-tasks-linear", "", r"^c\.yaml:(80008|10008):3: tasks: key 't5' appears twice \(first at line 13\)",
             files={"c.yaml": big_tasks}, timeout=20, argv=["validate", "--no-data", "c.yaml"]),
    validate("yaml-bom-is-fine", b"\xef\xbb\xbf" + BASE.encode(), r"also appear in its training data", status=0),
    validate("yaml-crlf-is-fine", BASE.replace("\n", "\r\n"), r"also appear in its training data", status=0),
    # ---- curricula: values ---------------------------------------------------------------
    validate("lethe-version-2", cur("lethe: 1", "lethe: 2"), E % (1, 8) + ".*(version|1)"),
    validate("missing-stages", cur("stages:\n  - {name: one, tasks: [p]}\n", ""), r"c\.yaml.*stages"),
    validate("unknown-key-suggests", cur("train: {batch: 2, steps: 2}", "train: {batch: 2, steps: 2, lr_rate: 1}"),
             E % (6, 29) + r"train: unknown key 'lr_rate'$"),
    validate("lr-above-bound", cur("steps: 2}", "steps: 2, lr: 100}"), E % (6, 33) + r"lr: expected a number > 0 and <= 10, got '100'"),
    validate("lr-negative", cur("steps: 2}", "steps: 2, lr: -1}"), E % (6, 33) + r"lr: expected a number > 0 and <= 10, got '-1'"),
    validate("lr-quoted", cur("steps: 2}", "steps: 2, lr: '1e-3'}"), E % (6, 33) + r"lr: expected a number > 0 and <= 10, got '1e-3'"),
    validate("steps-zero", cur("steps: 2", "steps: 0"), E % (6, 26) + r"steps: expected an integer from 1 to 1000000000, got '0'"),
    validate("steps-huge", cur("steps: 2", "steps: 1e99"), E % (6, 26) + r"steps: expected an integer from 1 to 1000000000, got '1e99'"),
    validate("steps-nan", cur("steps: 2", "steps: .nan"), E % (6, 26) + r"steps: expected an integer from 1 to 1000000000, got '\.nan'"),
    validate("batch-word", cur("batch: 2", "batch: abc"), E % (6, 16) + r".*batch"),
    validate("epochs-above-bound", cur("steps: 2", "epochs: 2000000"), E % (6, 27) + r"epochs: expected a number > 0 and <= 1e\+06, got '2000000'"),
    validate("mix-weight-negative", cur("{name: one, tasks: [p]}", "{name: one, mix: {p: -1}}"), E % (10, 26) + r"mix weight: expected a number > 0 and <= 1e\+09, got '-1'"),
    validate("stage-undefined-task", cur("tasks: [p]}", "tasks: [q]}"), E % (10, 25) + r"stage 'one': no task named 'q' \(did you mean 'p'\?\)"),
    validate("stage-name-slash", cur("name: one", "name: a/b"), E % (10, 12) + r"stage 'a/b': a name must be"),
    validate("stage-name-dot", cur("name: one", "name: ."), E % (10, 12) + r"stage '\.': a name must be"),
    validate("stage-name-empty", cur("name: one", "name: ''"), E % (10, 12) + r".*name"),
    validate("stage-name-too-long", cur("name: one", "name: " + "x" * 201), E % (10, 12) + r".*1 to 200 characters"),
    validate("task-name-slash", cur("  p: {", "  re/views: {", "tasks: [p]", "tasks: [re/views]"),
             E % (8, 3) + r"task 're/views': a name must be"),
    validate("task-name-dot", cur("  p: {", "  .: {", "tasks: [p]", "tasks: ['.']"), E % (8, 3) + r"task '\.'"),
    validate("output-empty", cur("output: out.h5", "output: ''"), E % (11, 9) + r"output: expected the run file's path, got an empty string"),
    validate("output-directory", cur("output: out.h5", "output: sub"), E % (11, 9) + r"output: .*sub is a directory",
             files={"sub/keep": ""}),
    validate("output-device", cur("output: out.h5", "output: /dev/null"), E % (11, 9) + r"output: /dev/null is a device or special file"),
    validate("empty-mapping", cur("output: out.h5", "output: out.h5\nevaluate: {}"), r"also appear in its training data", status=0),  # qsort(NULL) (fuzz)
    validate("output-parent-is-a-file", cur("output: out.h5", "output: lines.txt/sub/out.h5"), E % (11, 9) + r"output: lines\.txt is not a directory$"),
    validate("unset-variable", cur("train: lines.txt", "train: '${LETHE_NO_SUCH_VAR}'"), E % (8, 28) + r".*LETHE_NO_SUCH_VAR"),
    validate("freeze-unknown", cur("{name: one, tasks: [p]}", "{name: one, tasks: [p], freeze: [wings]}"), E % (10, 38) + r"freeze: expected one of 'embeddings', .* got 'wings'"),
    validate("plugin-not-found-hint", cur("plugin: text", "plugin: txt"), E % (8, 15) + r"task 'p': no plugin named 'txt' \(did you mean 'text'\?\)"),
    validate("plugin-bare-so-is-a-path", cur("plugin: text", "plugin: topic.so"), E % (8, 15) + r"task 'p': topic\.so: No such file"),
    validate("data-file-missing", cur("train: lines.txt", "train: nope.txt"), E % (8, 28) + r"task 'p': nope\.txt: cannot open"),
    validate("data-file-is-directory", cur("train: lines.txt", "train: sub"), E % (8, 28) + r"task 'p': sub: read error: Is a directory", files={"sub/x": ""}),
    validate("model-from-missing", cur("model: {preset: tiny, context: 16, layers: 1, dim: 16, heads: 1}", "model: {from: nowhere}",
                                       "tokenizer: {vocab: 260}\n", ""), E % (4, 15) + r"model from: nowhere: No such file or directory"),
    validate("model-from-garbage-bin", cur("model: {preset: tiny, context: 16, layers: 1, dim: 16, heads: 1}", "model: {from: m.bin}",
                                           "tokenizer: {vocab: 260}\n", ""), E % (4, 15) + r"model from: m\.bin: header field dim is \d+: not a llama2\.c checkpoint", files={"m.bin": b"\x07" * 40}),
    validate("model-from-text-file", cur("model: {preset: tiny, context: 16, layers: 1, dim: 16, heads: 1}", "model: {from: lines.txt}",
                                         "tokenizer: {vocab: 260}\n", ""), E % (4, 15) + r"model from: lines\.txt: header field dim is \d+: not a llama2\.c checkpoint"),
    validate("model-from-bad-safetensors",
             cur("model: {preset: tiny, context: 16, layers: 1, dim: 16, heads: 1}", "model: {from: hf}", "tokenizer: {vocab: 260}\n", ""),
             E % (4, 15) + r"model from: hf/config\.json: missing 'vocab_size'", files={"hf/config.json": '{"model_type": "llama", "hidden_size": 16}',
                                           "hf/model.safetensors": b"\xff" * 8 + b"{}"}),
    validate("model-from-bad-config-json",
             cur("model: {preset: tiny, context: 16, layers: 1, dim: 16, heads: 1}", "model: {from: hf}", "tokenizer: {vocab: 260}\n", ""),
             E % (4, 15) + r"model from: hf/config\.json: not a JSON object", files={"hf/config.json": '{"model_type": "llama", "hidden_size": '}),
    # ---- plugin data formats -------------------------------------------------------------
    task("text-invalid-utf8", "{plugin: text, train: data.txt, eval: data.txt}", b"good line\nbad \xc3\x28 line\n", r"data\.txt:2:5: .*UTF-8"),
    task("text-empty-file", "{plugin: text, train: data.txt, eval: data.txt}", b"", r"data\.txt.*(empty|no )"),
    task("text-jsonl-not-json", "{plugin: text, train: data.jsonl, eval: data.jsonl}", b'{"text": "a"}\n{"text": \n', r"data\.jsonl:2:", fname="data.jsonl"),
    task("text-jsonl-wrong-type", "{plugin: text, train: data.jsonl, eval: data.jsonl}", b'{"text": 3}\n', r"data\.jsonl:1: .*text", fname="data.jsonl"),
    task("text-crlf-is-fine", "{plugin: text, train: data.txt, eval: data.txt}", b"one line\r\ntwo line\r\n", r"1 of 1 eval examples also appear", status=0),
    task("sentiment-tsv-one-column", "{plugin: sentiment, train: data.tsv, eval: data.tsv}", b"sentence\tlabel\nno tab here\n", r"data\.tsv:2: ", fname="data.tsv"),
    task("sentiment-tsv-three-columns", "{plugin: sentiment, train: data.tsv, eval: data.tsv}", b"sentence\tlabel\na\t1\textra\n", r"data\.tsv:3: |data\.tsv:2: ", fname="data.tsv"),
    task("sentiment-label-outside-set", "{plugin: sentiment, train: data.tsv, eval: data.tsv, labels: [neg, pos]}",
         b"sentence\tlabel\nfine\t7\n", r"data\.tsv:2: .*7", fname="data.tsv"),
    task("sentiment-jsonl-missing-label", "{plugin: sentiment, train: data.jsonl, eval: data.jsonl}", b'{"text": "a"}\n', r"data\.jsonl:1: .*label", fname="data.jsonl"),
    task("sentiment-jsonl-not-object", "{plugin: sentiment, train: data.jsonl, eval: data.jsonl}", b'[1, 2]\n', r"data\.jsonl:1: ", fname="data.jsonl"),
    task("ner-conll-bad-tag", "{plugin: ner, train: data.conll, eval: data.conll}", b"Anna NNP B-NP X-PER\n", r"data\.conll:1: .*X-PER", fname="data.conll"),
    task("ner-conll-no-tag-column", "{plugin: ner, train: data.conll, eval: data.conll}", b"Anna\n", r"data\.conll:1: ", fname="data.conll"),
    task("ner-jsonl-length-mismatch", "{plugin: ner, train: data.jsonl, eval: data.jsonl}",
         b'{"tokens": ["a", "b"], "ner_tags": ["O"]}\n', r"data\.jsonl:1: ", fname="data.jsonl"),
    task("summarize-jsonl-missing-summary", "{plugin: summarize, train: data.jsonl, eval: data.jsonl}", b'{"document": "x"}\n', r"data\.jsonl:1: .*summary", fname="data.jsonl"),
    task("summarize-invalid-utf8", "{plugin: summarize, train: data.jsonl, eval: data.jsonl}", b'{"document": "\xff", "summary": "s"}\n', r"data\.jsonl:1:\d+: .*UTF-8", fname="data.jsonl"),
    task("translation-tsv-one-column", "{plugin: translation, source: en, target: de, train: data.tsv, eval: data.tsv}", b"only english\n", r"data\.tsv:1: ", fname="data.tsv"),
    task("translation-missing-file-named-as-given", "{plugin: translation, source: en, target: de, train: x.tsv, eval: x.tsv}", b"",
         r"task 'p': x\.tsv: cannot open: No such file or directory \(nor x\.tsv\.en"),
    validate("translation-pair-unequal-lines", cur("  p: {plugin: text, train: lines.txt, eval: lines.txt, unit: line, eval_limit: 1}",
                                                   "  p: {plugin: translation, source: en, target: de, train: pr, eval: pr}"),
             r"pr\.en has 2 lines but pr\.de has 1", files={"pr.en": "a\nb\n", "pr.de": "c\n"}),
    task("instruct-not-json", "{plugin: instruct, train: data.jsonl, eval: data.jsonl}", b'{"instruction": \n', r"data\.jsonl:1:", fname="data.jsonl"),
    task("instruct-no-output", "{plugin: instruct, train: data.jsonl, eval: data.jsonl}", b'{"instruction": "do"}\n', r"data\.jsonl:1: ", fname="data.jsonl"),
    # ---- run files -----------------------------------------------------------------------
    Case("report-random-bytes", {"r.h5": os.urandom(4096)}, ["report", "r.h5"], 2, r"^lethe: r\.h5: .*HDF5"),
    Case("report-empty-file", {"r.h5": b""}, ["report", "r.h5"], 2, r"^lethe: r\.h5: "),
    Case("report-text-file", {"r.h5": "not a run file\n"}, ["report", "r.h5"], 2, r"^lethe: r\.h5: "),
    Case("report-missing-file", {}, ["report", "nope.h5"], 2, r"^lethe: nope\.h5: "),
    Case("report-truncated", {"r.h5": truncated_seed(-1)}, ["report", "r.h5"], 2, r"^lethe: r\.h5: "),
    Case("report-truncated-header", {"r.h5": truncated_seed(600)}, ["report", "--format", "json", "r.h5"], 2, r"^lethe: r\.h5: "),
    Case("report-damaged-heap-size", {"r.h5": damaged_heap("size", 1 << 40)}, ["report", "r.h5"], 2,
         r"^lethe: r\.h5: damaged HDF5 structures: (reading them crashed libhdf5|libhdf5 stopped with status)"),  # a signal, or a sanitizer's stop
    Case("report-damaged-heap-size-small", {"r.h5": damaged_heap("size", 5000)}, ["report", "r.h5"], 2, r"^lethe: r\.h5: "),
    Case("report-damaged-heap-index", {"r.h5": damaged_heap("index", 300)}, ["report", "r.h5"], 2, r"^lethe: r\.h5: "),
    Case("resume-damaged-heap", {"c.yaml": BASE, "out.h5": damaged_heap("size", 1 << 40)}, ["run", "-q", "--resume", "c.yaml"], 2,
         r"^lethe: out\.h5: damaged HDF5 structures"),
    Case("report-output-is-input", {"r.h5": copy_seed}, ["report", "-o", "r.h5", "r.h5"], 2,
         r"^lethe: r\.h5: is also an input: the output would destroy it"),
    Case("report-output-is-input-by-link", {"r.h5": copy_seed, "sub/x": ""}, ["report", "-o", "./sub/../r.h5", "r.h5"], 2,
         r"^lethe: \./sub/\.\./r\.h5: is also an input"),
    Case("compare-output-is-second-input", {"a.h5": copy_seed, "b.h5": copy_seed}, ["compare", "-o", "b.h5", "a.h5", "b.h5"], 2,
         r"^lethe: b\.h5: is also an input"),
    Case("report-output-device", {"r.h5": copy_seed}, ["report", "-o", "/dev/full", "r.h5"], 2, r"/dev/full: not a regular file"),
    Case("report-output-directory", {"r.h5": copy_seed, "sub/x": ""}, ["report", "-o", "sub", "r.h5"], 2, r"sub: not a regular file"),
    Case("report-bad-format", {"r.h5": copy_seed}, ["report", "--format", "pdf", "r.h5"], 2, r"pdf"),
    Case("report-bad-precision", {"r.h5": row_attr("precision", "fp16")}, ["report", "r.h5"], 2,
         r"^lethe: r\.h5: attribute 'precision' of 'stages/[0-9]+_[a-z]+' is 'fp16', expected fp32 or bf16$"),
    Case("resume-garbage-names-file", {"c.yaml": BASE, "out.h5": "garbage\n"}, ["run", "-q", "--resume", "c.yaml"], 2,
         r"^lethe: out\.h5: not a readable HDF5 file", check=unchanged("out.h5", b"garbage\n")),
    Case("resume-nothing", {"c.yaml": BASE}, ["run", "-q", "--resume", "c.yaml"], 2, r"^lethe: out\.h5: nothing to resume"),
    Case("resume-and-force", {"c.yaml": BASE}, ["run", "--resume", "--force", "c.yaml"], 2, r"--force and --resume exclude each other"),
    Case("run-output-exists", {"c.yaml": BASE, "out.h5": "keep"}, ["run", "-q", "c.yaml"], 2, r"out\.h5 exists: give --force",
         check=unchanged("out.h5", b"keep")),
    Case("run-output-device-force", {"c.yaml": BASE}, ["run", "-q", "--force", "-o", "/dev/null", "c.yaml"], 2,
         r"/dev/null is a device or special file"),
    Case("run-output-directory", {"c.yaml": BASE, "sub/x": ""}, ["run", "-q", "-o", "sub", "c.yaml"], 2, r"sub is a directory"),
    Case("run-output-parent-is-file", {"c.yaml": BASE}, ["run", "-q", "-o", "lines.txt/x.h5", "c.yaml"], 1, r"lines\.txt/x\.h5\.lock: cannot create the run's lock: Not a directory"),
    Case("run-output-locked", {"c.yaml": BASE, "out.h5.lock": ""}, ["run", "-q", "c.yaml"], 0, r"^$"),
    # ---- score inputs --------------------------------------------------------------------
    Case("score-dev-zero", {}, ["score", "bleu", "/dev/zero"], 2, r"^lethe: /dev/zero:1:1: a NUL byte"),
    Case("score-stdin-zero", {}, ["score", "bleu", "-"], 2, r"^lethe: <stdin>:1:1: a NUL byte", stdin="/dev/zero"),
    Case("score-rouge-ref-and-refs", {"s.jsonl": '{"hyp": "a", "ref": "a", "refs": ["b"]}\n'}, ["score", "rouge", "s.jsonl"], 2,
         r"^lethe: s\.jsonl:1: give either 'ref' or 'refs', not both"),
    Case("score-not-json", {"s.jsonl": '{"hyp": "a", "ref": "a"}\n{"hyp": \n'}, ["score", "bleu", "s.jsonl"], 2, r"^lethe: s\.jsonl:2:"),
    Case("score-not-object", {"s.jsonl": '["a", "b"]\n'}, ["score", "bleu", "s.jsonl"], 2, r"^lethe: s\.jsonl:1: expected a JSON object"),
    Case("score-missing-hyp", {"s.jsonl": '{"ref": "a"}\n'}, ["score", "chrf", "s.jsonl"], 2, r"^lethe: s\.jsonl:1: .*hyp"),
    Case("score-invalid-utf8", {"s.jsonl": b'{"hyp": "\xff", "ref": "a"}\n'}, ["score", "bleu", "s.jsonl"], 2, r"^lethe: s\.jsonl:1:10: invalid UTF-8"),
    Case("score-empty", {"s.jsonl": ""}, ["score", "bleu", "s.jsonl"], 2, r"^lethe: s\.jsonl: "),
    Case("score-blank-lines-only", {"s.jsonl": "\n\n  \n"}, ["score", "bleu", "s.jsonl"], 2, r"^lethe: s\.jsonl: no records"),
    Case("score-unknown-metric", {}, ["score", "bleuu", "x"], 2, r"unknown metric 'bleuu' \(did you mean 'bleu'\?\)"),
    Case("score-seqeval-lengths", {"s.jsonl": '{"hyp": ["O"], "ref": ["O", "B-PER"]}\n'}, ["score", "seqeval", "s.jsonl"], 2, r"^lethe: s\.jsonl:1: "),
    Case("score-seqeval-bad-tag", {"s.jsonl": '{"hyp": ["Q-PER"], "ref": ["B-PER"]}\n'}, ["score", "seqeval", "s.jsonl"], 2, r"^lethe: s\.jsonl:1: "),
    Case("score-classify-number", {"s.jsonl": '{"pred": 1, "gold": "a"}\n'}, ["score", "classify", "s.jsonl"], 2, r"^lethe: s\.jsonl:1: labels mix numbers and strings"),
    Case("score-refs-empty", {"s.jsonl": '{"hyp": "a", "refs": []}\n'}, ["score", "rouge", "s.jsonl"], 2, r"^lethe: s\.jsonl:1: field 'refs' must hold at least one"),
    Case("score-bleu-empty-refs", {"s.jsonl": '{"hyp": "a s", "refs": []}\n'}, ["score", "bleu", "s.jsonl"], 2,
         r"^lethe: s\.jsonl:1: field 'refs' must hold at least one reference"),  # leaked its list (fuzz_score)
    Case("score-beta-negative", {"s.jsonl": '{"hyp": "a", "ref": "a"}\n'}, ["score", "chrf", "--beta", "-1", "s.jsonl"], 2, r"--beta"),
    Case("score-directory", {"sub/x": ""}, ["score", "bleu", "sub"], 2, r"^lethe: sub: "),
    Case("score-missing-file", {}, ["score", "bleu", "nope.jsonl"], 2, r"^lethe: nope\.jsonl: cannot open"),
    Case("score-ok", {"s.jsonl": '{"hyp": "the cat", "refs": ["the cat"]}\n'}, ["score", "bleu", "s.jsonl"], 0, r"^$"),
    # ---- plugin folders ------------------------------------------------------------------
    validate("plugin-path-entry-missing", BASE, r"^lethe: warning: LETHE_PLUGIN_PATH entry '/nonexistent-lethe': No such file or directory",
             status=0, env={"LETHE_PLUGIN_PATH": "/nonexistent-lethe"}),
    Case("plugin-broken-earlier-in-path", {"c.yaml": BASE, "pp/sentiment.so": lambda p: os.symlink(
        os.path.join(os.environ.get("LETHE_TEST_PLUGINS", ""), "bad_abi.so"), p)}, ["validate", "c.yaml"], 0,
         r"^lethe: warning: .*pp/sentiment\.so: plugin built for ABI version 99.*\(skipped\)", env={"LETHE_PLUGIN_PATH": "{d}/pp"}),
    Case("plugin-duplicate-name-warned", {"c.yaml": BASE}, ["validate", "c.yaml"], 0,
         r"^lethe: warning: .*dup_b\.so: plugin name 'dup' is already taken by .*dup_a\.so", env={"LETHE_PLUGIN_PATH": "{plugins}"}),
    Case("plugins-duplicate-name-error", {}, ["plugins"], 2, r"^lethe: .*dup_b\.so: plugin name 'dup' is already taken",
         env={"LETHE_PLUGIN_PATH": "{plugins}"}),
    Case("plugin-path-option-missing", {}, ["plugins", "-p", "/nonexistent-lethe"], 2, r"/nonexistent-lethe"),
    Case("plugin-no-entry", {}, ["inspect", "{plugins}/bad_noentry.so", "lines.txt"], 2, r"bad_noentry\.so: not a lethe plugin: no symbol"),
    Case("plugin-undefined-symbol", {}, ["inspect", "{plugins}/bad_undefined.so", "lines.txt"], 2, r"bad_undefined\.so: cannot load plugin: .*undefined symbol"),
    Case("plugin-text-file-as-so", {"fake.so": "not ELF\n"}, ["inspect", "./fake.so", "lines.txt"], 2, r"fake\.so: cannot load plugin"),
    Case("plugin-bad-size", {}, ["inspect", "{plugins}/bad_size.so", "lines.txt"], 2, r"bad_size\.so: plugin descriptor is \d+ bytes"),
    Case("plugin-no-score", {}, ["inspect", "{plugins}/bad_noscore.so", "lines.txt"], 2, r"lacks the required operation 'score'"),
    Case("inspect-unknown-plugin", {}, ["inspect", "txt", "lines.txt"], 2, r"no plugin named 'txt' \(looked in"),
    # ---- checkpoints and tokenizers -------------------------------------------------------
    Case("tokenize-missing-model", {}, ["tokenize", "nowhere", "hello"], 2, r"nowhere"),
    Case("tokenize-token-id-huge", {"m/tokenizer.json": '{"model": {"type": "BPE", "vocab": {"a": 0, "b": 777777775}, "merges": []}}',
                                    "t.txt": "ab\n"}, ["tokenize", "m", "t.txt"], 2,
         r"^lethe: m/tokenizer\.json: token 'b': id 777777775 is out of range \(the file lists 2 tokens"),  # a 6 GB id table (fuzz)
    Case("tokenize-bad-tokenizer-json", {"m/config.json": "{}", "m/tokenizer.json": "{\"model\": "}, ["tokenize", "m", "hello"], 2, r"m/"),
    # A run trained without an adapter: --adapter is refused before anything is written.
    Case("export-adapter-without-adapter", {"r.h5": copy_seed}, ["export", "--adapter", "r.h5", "out"], 2,
         r"^lethe: r\.h5: the last trained stage has no unmerged LoRA adapter to export \(--adapter needs",
         check=lambda d: "out was created" if os.path.exists(os.path.join(d, "out")) else None),
    Case("export-adapter-stage-without-adapter", {"r.h5": copy_seed}, ["export", "--adapter", "--stage", "one", "r.h5", "out"], 2,
         r"^lethe: r\.h5: one has no unmerged LoRA adapter to export",
         check=lambda d: "out was created" if os.path.exists(os.path.join(d, "out")) else None),
]
