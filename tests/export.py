#!/usr/bin/env python3
"""export.py: `lethe export` and `model: {from: ...}` round trips.

A short curriculum trains lethe's own tokenizer and a small model; then
- `lethe export RUN DIR` writes a Hugging Face Llama directory: its safetensors hold every tensor
  under Hugging Face's name, bit for bit the run's last parameters (q, k and v split out of wqkv);
- the export's logits, read back by lethe_model_open(), equal the run file's bit for bit, and a
  PyTorch implementation of transformers' LlamaForCausalLM (tests/hf_llama.py) on config.json and
  model.safetensors gives them to 1e-4 (so config.json means to transformers what lethe meant);
- the exported tokenizer.json, run through the Python reference of Hugging Face's byte-level BPE
  (tests/bpe_reference.py) and through lethe's own reader, gives the run's token ids on 10,000
  lines of the shared data plus crafted lines; greedy generations agree;
- exporting the export copies its tokenizer files and writes the same model.safetensors;
- a curriculum from the export and the same curriculum from the run file (`from: RUN.h5, stage:`)
  train to the same parameters bit for bit;
- refusals: a non-empty or non-directory destination, an unknown stage, `stage` without a run
  file; nothing is left behind.
Skips (77) without python3-torch or python3-regex.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import h5py
    import numpy as np
    import regex  # noqa: F401 (bpe_reference needs it)
    import torch
except ImportError as e:
    print("SKIP: %s" % e)
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_llama  # noqa: E402
from bpe_reference import CRAFTED, Reference, corpus  # noqa: E402

BUILD = os.environ["LETHE_BUILDDIR"]
LETHE = os.path.join(BUILD, "engine", "lethe")
DRIVER = os.path.join(BUILD, "tests", "pretrained_run")
DATA = os.environ.get("LETHE_DATA", "")


from testlib import check, finish  # noqa: E402


def lethe(*args, stdin=None):
    return subprocess.run([LETHE] + list(args), input=stdin, capture_output=True, text=True,
                          encoding="utf-8")


def read_safetensors(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, t in header.items():
            if name == "__metadata__":
                continue
            check(t["dtype"] == "F32", "%s: dtype %s" % (name, t["dtype"]))
            b, e = t["data_offsets"]
            f.seek(base + b)
            out[name] = np.frombuffer(f.read(e - b), dtype="<f4").reshape(t["shape"])
        return header, out


if not os.path.isdir(os.path.join(DATA, "sst2")):
    print("SKIP: LETHE_DATA has no sst2/ (set LETHE_DATA to ../shared/data)")
    sys.exit(77)

tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
cur = os.path.join(tmp, "train.yaml")
with open(cur, "w") as f:
    f.write("""lethe: 1
name: export-test
seed: 5
model: {preset: tiny, context: 48, layers: 2, heads: 4}
tokenizer: {vocab: 900}
train: {batch: 4, steps: 12, optimizer: {lr: 3.0e-3}}
tasks:
  prose: {plugin: text, train: %s/sst2/train.tsv, eval: %s/sst2/dev.tsv, unit: line, eval_limit: 8}
stages:
  - {name: one, tasks: [prose]}
  - {name: two, tasks: [prose], lr: 1.0e-3}
""" % (DATA, DATA))
run = os.path.join(tmp, "run.h5")
p = lethe("run", "--quiet", "--threads", "1", "-o", run, cur)
if p.returncode != 0:
    print("FAIL: training the fixture: %s" % p.stderr)
    sys.exit(1)

# 1. The export's files and tensors.
out = os.path.join(tmp, "hf")
p = lethe("export", run, out)
check(p.returncode == 0, "export exit %d: %s" % (p.returncode, p.stderr))
for name in ("config.json", "model.safetensors", "generation_config.json", "tokenizer.json",
             "tokenizer_config.json", "special_tokens_map.json"):
    check(os.path.isfile(os.path.join(out, name)), "export wrote no %s" % name)
check(not [n for n in os.listdir(tmp) if n.endswith(".tmp")], "a temporary directory was left")
cfg = json.load(open(os.path.join(out, "config.json")))
header, st = read_safetensors(os.path.join(out, "model.safetensors"))
with h5py.File(run, "r") as f:
    last = sorted(f["stages"].keys())[-1]
    params = f["stages/%s/params" % last][()]
    names = [n.decode() if isinstance(n, bytes) else n for n in f["model/tensor_names"][()]]
    info = f["model/tensors"][()]
    C, L, NH = f["model"].attrs["dim"], f["model"].attrs["layers"], f["model"].attrs["heads"]
HS = C // NH
want = {"model.embed_tokens.weight", "model.norm.weight"}
for layer in range(L):
    for n in ("input_layernorm", "post_attention_layernorm", "self_attn.q_proj", "self_attn.k_proj",
              "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"):
        want.add("model.layers.%d.%s.weight" % (layer, n))
check(set(st) == want, "tensor names: extra %s, missing %s" % (set(st) - want, want - set(st)))
mismatch = []
for name, (off, rows, cols, _, layer) in zip(names, info):
    block = params[off:off + rows * cols].reshape(rows, cols) if cols > 1 else params[off:off + rows]
    if name.endswith("attn.wqkv"):
        hf = np.concatenate([st["model.layers.%d.self_attn.%s_proj.weight" % (layer, k)] for k in "qkv"])
    else:
        hf_name = {"wte": "model.embed_tokens.weight", "norm": "model.norm.weight"}.get(name)
        if hf_name is None:
            part = name.split(".", 2)[2]
            hf_name = "model.layers.%d.%s.weight" % (layer, {
                "attn_norm": "input_layernorm", "attn.wo": "self_attn.o_proj", "mlp_norm": "post_attention_layernorm",
                "mlp.w1": "mlp.gate_proj", "mlp.w3": "mlp.up_proj", "mlp.w2": "mlp.down_proj"}[part])
        hf = st[hf_name]
    if hf.shape != block.shape or hf.tobytes() != block.astype("<f4").tobytes():
        mismatch.append(name)
check(not mismatch, "tensors differ from the run's last parameters: %s" % mismatch)
check(cfg["num_hidden_layers"] == L and cfg["hidden_size"] == C and cfg["tie_word_embeddings"] is True
      and cfg["rms_norm_eps"] == 1e-05 and cfg["bos_token_id"] == 256 and cfg["eos_token_id"] == 257,
      "config.json: %r" % cfg)

# 2. Logits: the export read back equals the run bit for bit; transformers' forward to 1e-4.
gen = torch.Generator().manual_seed(11)
seqs = [[256] + [int(x) for x in torch.randint(0, cfg["vocab_size"], (n,), generator=gen)] for n in (5, 30, 47)]
cmds = "\n".join("logits " + " ".join(map(str, s)) for s in seqs) + "\n"
a = subprocess.run([DRIVER, run], input=cmds, capture_output=True, text=True)
b = subprocess.run([DRIVER, out], input=cmds, capture_output=True, text=True)
check(a.returncode == 0 and b.returncode == 0, "driver: %s %s" % (a.stderr, b.stderr))
check(a.stdout == b.stdout and a.stdout, "logits of the export differ from the run's")
state = {k: torch.from_numpy(v.copy()) for k, v in st.items()}
rows = [list(map(float, line.split())) for line in b.stdout.splitlines()]
at, worst = 0, 0.0
for s in seqs:
    ref = hf_llama.forward(cfg, state, torch.tensor([s]))[0].double()
    got = torch.tensor(rows[at:at + len(s)], dtype=torch.float64)
    at += len(s)
    worst = max(worst, float((got - ref).abs().max() / ref.abs().max())) if got.shape == ref.shape else 1.0
check(worst < 1e-4, "transformers' forward on the export differs by %.3g of the largest logit" % worst)
prompts_ids = [seqs[0], seqs[1][:12]]
g = subprocess.run([DRIVER, out], input="".join("generate 10 %s\n" % " ".join(map(str, s)) for s in prompts_ids),
                   capture_output=True, text=True)
got = [list(map(int, line.split())) for line in g.stdout.splitlines()]
ref_gen = [hf_llama.greedy(cfg, state, s, 10) for s in prompts_ids]
check(g.returncode == 0 and got == ref_gen, "greedy generations of the export %r, reference %r" % (got, ref_gen))
print("export: logits equal bit for bit; transformers' forward within %.2g" % worst)

# 3. The tokenizer: reference BPE on tokenizer.json, lethe's reader, and the run's own tokenizer.
lines = [ln for ln in corpus() + CRAFTED if "<|" not in ln]
text = "\n".join(lines) + "\n"
p_run = lethe("tokenize", run, stdin=text)
p_out = lethe("tokenize", out, stdin=text)
check(p_run.returncode == 0 and p_out.returncode == 0, "tokenize: %s %s" % (p_run.stderr, p_out.stderr))
ids_run = [json.loads(x)["ids"] for x in p_run.stdout.splitlines()]
ids_out = [json.loads(x)["ids"] for x in p_out.stdout.splitlines()]
ref = Reference(json.load(open(os.path.join(out, "tokenizer.json"), encoding="utf-8")))
bad_ref = [i for i, ln in enumerate(lines) if i >= len(ids_run) or ref.encode(ln) != ids_run[i]]
bad_out = [i for i in range(len(lines)) if i >= len(ids_out) or i >= len(ids_run) or ids_out[i] != ids_run[i]]
check(len(ids_run) == len(lines), "tokenize gave %d lines for %d" % (len(ids_run), len(lines)))
check(not bad_ref, "reference BPE on tokenizer.json differs on %d of %d lines, first %r" %
      (len(bad_ref), len(lines), lines[bad_ref[0]] if bad_ref else None))
check(not bad_out, "lethe on the exported tokenizer differs on %d lines" % len(bad_out))
print("export: tokenizer equal on %d lines (%d with the data)" % (len(lines), len(lines) - len(CRAFTED)))
prompts = "\n".join(lines[:5]) + "\n"
g_run = subprocess.run([LETHE, "generate", "--json", "-n", "12", run], input=prompts, capture_output=True, text=True)
g_out = subprocess.run([LETHE, "generate", "--json", "-n", "12", out], input=prompts, capture_output=True, text=True)
check(g_run.returncode == 0 and g_run.stdout and g_run.stdout == g_out.stdout,
      "generations differ: %r vs %r (%s)" % (g_run.stdout[:200], g_out.stdout[:200], g_out.stderr))

# 4. Exporting the export copies the tokenizer and writes the same tensors.
out2 = os.path.join(tmp, "hf2")
p = lethe("export", out, out2)
check(p.returncode == 0, "export of an export: %s" % p.stderr)
for name in ("model.safetensors", "tokenizer.json", "tokenizer_config.json"):
    check(os.path.isfile(os.path.join(out2, name)) and
          open(os.path.join(out, name), "rb").read() == open(os.path.join(out2, name), "rb").read(),
          "export of the export: %s differs" % name)

# 5. Training on from the export and from the run file: the same parameters.
def cont(name, model):
    path = os.path.join(tmp, name + ".yaml")
    with open(path, "w") as f:
        f.write("""lethe: 1
name: %s
seed: 9
model: %s
train: {batch: 4, steps: 6, optimizer: {lr: 1.0e-3}}
tasks:
  prose: {plugin: text, train: %s/sst2/dev.tsv, eval: %s/sst2/dev.tsv, unit: line, eval_limit: 8}
stages:
  - {name: three, tasks: [prose]}
""" % (name, model, DATA, DATA))
    o = os.path.join(tmp, name + ".h5")
    q = lethe("run", "--quiet", "--threads", "1", "-o", o, path)
    check(q.returncode == 0, "%s: %s" % (name, q.stderr))
    with h5py.File(o, "r") as f:
        return f["stages/01_three/params"][()].tobytes(), dict(f["model"].attrs)


pa, attrs_a = cont("from-export", "{from: %s}" % out)
pb, attrs_b = cont("from-run", "{from: %s, stage: two}" % run)
check(pa == pb, "training from the export and from the run file gave different parameters")
check(attrs_b.get("from_stage") == "two", "the run file does not record from_stage: %r" % attrs_b)
pc, _ = cont("from-run-one", "{from: %s, stage: one}" % run)
check(pc != pb, "stage: one gave the model of stage two")

# 6. Refusals.
full = os.path.join(tmp, "full")
os.makedirs(full)
open(os.path.join(full, "keep.txt"), "w").write("mine\n")
p = lethe("export", run, full)
check(p.returncode == 2 and "full" in p.stderr and os.listdir(full) == ["keep.txt"],
      "export into a non-empty directory: exit %d, %s, %r" % (p.returncode, p.stderr, os.listdir(full)))
p = lethe("export", run, os.path.join(full, "keep.txt"))
check(p.returncode == 2 and open(os.path.join(full, "keep.txt")).read() == "mine\n",
      "export onto a file: exit %d %s" % (p.returncode, p.stderr))
p = lethe("export", "--stage", "nine", run, os.path.join(tmp, "x"))
check(p.returncode == 2 and "nine" in p.stderr and not os.path.exists(os.path.join(tmp, "x")),
      "unknown stage: exit %d %s" % (p.returncode, p.stderr))
bad = os.path.join(tmp, "bad.yaml")
with open(bad, "w") as f:
    f.write("lethe: 1\nmodel: {from: %s, stage: nine}\ntasks:\n  t: {plugin: text, train: %s/sst2/dev.tsv}\n"
            "stages:\n  - {name: s, tasks: [t]}\n" % (run, DATA))
p = lethe("validate", bad)
check(p.returncode == 2 and "bad.yaml:2:" in p.stderr and "nine" in p.stderr, "unknown from stage: %s" % p.stderr)
with open(bad, "w") as f:
    f.write("lethe: 1\nmodel: {from: %s, stage: two}\ntasks:\n  t: {plugin: text, train: %s/sst2/dev.tsv}\n"
            "stages:\n  - {name: s, tasks: [t]}\n" % (out, DATA))
p = lethe("validate", bad)
check(p.returncode == 2 and "bad.yaml:2:" in p.stderr and "checkpoint" in p.stderr,
      "stage with a checkpoint: %s" % p.stderr)

finish()
