#!/usr/bin/env python3
"""pretrained.py: pretrained checkpoints computed by lethe's model against a PyTorch
implementation of Hugging Face's Llama forward (tests/hf_llama.py), on checkpoints this script
writes (nothing downloaded):

1. a Hugging Face directory with grouped-query attention, an untied head, BF16 weights and llama3
   rope scaling: lethe's logits equal the reference's to 1e-4 relative (of the largest logit),
   greedy generations with the KV cache equal the reference's recomputed generations, and the
   training backward pass runs (finite loss and gradient) through grouped heads;
2. a tied model in F32 with head_dim different from hidden_size / heads;
3. a llama2.c version-1 checkpoint (interleaved RoPE, permuted on reading): the same logits as the
   reference on the Hugging Face layout of its weights;
4. a refusal: config.json that lethe_model_config_check cannot accept is reported with the path;
5. model: {from: PATH} in a curriculum: validation reads the checkpoint's shape, conflicts named;
6. a curriculum fine-tunes a GQA checkpoint with its own tokenizer through two stages: the run
   starts from the checkpoint's weights, records it, reports, and refuses to resume with another;
7. lethe generate on the checkpoint equals the reference's greedy continuation; on a run file's
   stage it generates too; lethe tokenize reads a run file's tokenizer.
Skips (77) without python3-torch.
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

try:
    import torch
except ImportError:
    print("SKIP: python3-torch is not installed")
    sys.exit(77)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hf_llama  # noqa: E402

DRIVER = os.path.join(os.environ["LETHE_BUILDDIR"], "tests", "pretrained_run")


from testlib import check, finish  # noqa: E402


DT = {torch.float32: "F32", torch.bfloat16: "BF16", torch.float16: "F16"}


def write_safetensors(path, tensors):
    header, blobs, off = {}, [], 0
    for name, t in tensors.items():
        raw = t.contiguous().view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.contiguous().numpy().tobytes()
        header[name] = {"dtype": DT[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def random_state(cfg, gen, scale=0.15):
    C, V, FF, L = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    NH = cfg["num_attention_heads"]
    NKV = cfg.get("num_key_value_heads", NH)
    HS = cfg.get("head_dim") or C // NH
    r = lambda *s: scale * torch.randn(*s, generator=gen)
    st = {"model.embed_tokens.weight": r(V, C)}
    for l in range(L):
        p = "model.layers.%d." % l
        st.update({p + "input_layernorm.weight": 1 + r(C), p + "self_attn.q_proj.weight": r(NH * HS, C),
                   p + "self_attn.k_proj.weight": r(NKV * HS, C), p + "self_attn.v_proj.weight": r(NKV * HS, C),
                   p + "self_attn.o_proj.weight": r(C, NH * HS), p + "post_attention_layernorm.weight": 1 + r(C),
                   p + "mlp.gate_proj.weight": r(FF, C), p + "mlp.up_proj.weight": r(FF, C),
                   p + "mlp.down_proj.weight": r(C, FF)})
    st["model.norm.weight"] = 1 + r(C)
    if not cfg.get("tie_word_embeddings"):
        st["lm_head.weight"] = r(V, C)
    return st


def run(model, commands):
    p = subprocess.run([DRIVER, model], input="\n".join(commands) + "\n", capture_output=True, text=True)
    return p


def compare_logits(name, model, cfg, state, seqs):
    p = run(model, ["logits " + " ".join(map(str, s)) for s in seqs])
    check(p.returncode == 0, "%s: driver exit %d: %s" % (name, p.returncode, p.stderr))
    rows = [list(map(float, l.split())) for l in p.stdout.splitlines()]
    at, worst = 0, 0.0
    for s in seqs:
        want = hf_llama.forward(cfg, state, torch.tensor([s]))[0].double()
        got = torch.tensor(rows[at:at + len(s)], dtype=torch.float64)
        at += len(s)
        if got.shape != want.shape:
            worst = float("inf")
            break
        worst = max(worst, float((got - want).abs().max() / want.abs().max()))
    check(worst < 1e-4, "%s: logits differ by %.3g of the largest" % (name, worst))
    return worst


tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
gen = torch.Generator().manual_seed(3)

# 1. GQA, untied, BF16, llama3 rope scaling.
cfg = {"model_type": "llama", "vocab_size": 211, "hidden_size": 64, "intermediate_size": 96,
       "num_hidden_layers": 3, "num_attention_heads": 8, "num_key_value_heads": 2, "max_position_embeddings": 96,
       "rms_norm_eps": 1e-5, "rope_theta": 50000.0, "tie_word_embeddings": False, "hidden_act": "silu",
       "rope_scaling": {"rope_type": "llama3", "factor": 4.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                        "original_max_position_embeddings": 16}}
d1 = os.path.join(tmp, "gqa")
os.makedirs(d1)
json.dump(cfg, open(os.path.join(d1, "config.json"), "w"))
state = {k: v.to(torch.bfloat16) for k, v in random_state(cfg, gen).items()}
write_safetensors(os.path.join(d1, "model.safetensors"), state)
state32 = {k: v.to(torch.float32) for k, v in state.items()}
seqs = [[int(x) for x in torch.randint(0, 211, (n,), generator=gen)] for n in (1, 7, 40, 90)]
w = compare_logits("gqa", d1, cfg, state32, seqs)
print("gqa: worst logit difference %.3g of the largest" % w)
prompts = [seqs[1], seqs[2][:20]]
p = run(d1, ["generate 12 " + " ".join(map(str, s)) for s in prompts])
got = [list(map(int, l.split())) for l in p.stdout.splitlines()]
want = [hf_llama.greedy(cfg, state32, s, 12) for s in prompts]
check(p.returncode == 0 and got == want, "gqa generations %r vs %r (%s)" % (got, want, p.stderr))
p = run(d1, ["grad " + " ".join(map(str, seqs[2]))])
vals = p.stdout.split()
ok = p.returncode == 0 and len(vals) == 2 and all(v not in ("nan", "inf") for v in vals) and float(vals[1]) > 0
if ok:
    st = {k: v.clone().requires_grad_(True) for k, v in state32.items()}
    logits = hf_llama.forward(cfg, st, torch.tensor([seqs[2]]))[0]
    loss = torch.nn.functional.cross_entropy(logits[:-1], torch.tensor(seqs[2][1:]))
    loss.backward()
    ss = sum(float((v.grad.double() ** 2).sum()) for v in st.values())
    ok = abs(float(vals[0]) - float(loss)) < 1e-4 * abs(float(loss)) and abs(float(vals[1]) - ss) < 1e-3 * ss
    if not ok:
        print("grad: lethe %s, reference loss %r grad^2 %r" % (vals, float(loss), ss))
check(ok, "gqa: training backward through grouped heads equals PyTorch's (%s)" % p.stderr)

# 2. Tied, F32, head_dim other than hidden_size / heads.
cfg2 = {"model_type": "llama", "vocab_size": 300, "hidden_size": 48, "intermediate_size": 64, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 4, "head_dim": 16, "max_position_embeddings": 64,
        "tie_word_embeddings": True}
d2 = os.path.join(tmp, "tied")
os.makedirs(d2)
json.dump(cfg2, open(os.path.join(d2, "config.json"), "w"))
state2 = random_state(cfg2, gen)
write_safetensors(os.path.join(d2, "model.safetensors"), state2)
compare_logits("tied head_dim 16", d2, cfg2, state2, seqs[:3])

# 3. llama2.c version 1: written in Meta's layout, compared with the reference on HF's layout.
C, FF, L, NH, NKV, V, T = 32, 64, 2, 4, 2, 260, 48
HS = C // NH
cfg3 = {"vocab_size": V, "hidden_size": C, "intermediate_size": FF, "num_hidden_layers": L,
        "num_attention_heads": NH, "num_key_value_heads": NKV, "rms_norm_eps": 1e-5, "tie_word_embeddings": True}
hf = random_state(cfg3, gen)


def unpermute(w, n_heads):  # HF rotate-half rows back to Meta's interleaved rows
    d1, d2 = w.shape
    return w.view(n_heads, 2, d1 // n_heads // 2, d2).transpose(1, 2).reshape(d1, d2)


path3 = os.path.join(tmp, "stories.bin")
with open(path3, "wb") as f:
    f.write(struct.pack("I", 0x616b3432) + struct.pack("i", 1) + struct.pack("7i", C, FF, L, NH, NKV, V, T) + b"\x01")
    f.write(b"\0" * (256 - f.tell()))
    lay = lambda k: [hf["model.layers.%d.%s" % (l, k)] for l in range(L)]
    ws = lay("input_layernorm.weight") + lay("post_attention_layernorm.weight") + [hf["model.norm.weight"],
                                                                                    hf["model.embed_tokens.weight"]]
    ws += [unpermute(w, NH) for w in lay("self_attn.q_proj.weight")] + [unpermute(w, NKV) for w in lay("self_attn.k_proj.weight")]
    ws += lay("self_attn.v_proj.weight") + lay("self_attn.o_proj.weight") + lay("mlp.gate_proj.weight")
    ws += lay("mlp.down_proj.weight") + lay("mlp.up_proj.weight")
    for w in ws:
        f.write(w.contiguous().numpy().astype("<f4").tobytes())
compare_logits("llama2.c v1", path3, cfg3, hf, [s[:40] for s in seqs[1:3]])

# lethe export: llama2.c's tokenizer has no Hugging Face form (refused); the weights alone go out
# in Hugging Face's layout and read back to the same logits.
LETHE = os.path.join(os.environ["LETHE_BUILDDIR"], "engine", "lethe")
pieces = [b"<unk>", b"<s>", b"</s>"] + [b"<0x%02X>" % b for b in range(256)] + [b" a"]
open(os.path.join(tmp, "tokenizer.bin"), "wb").write(struct.pack("i", 6) + b"".join(
    struct.pack("f", 0.0) + struct.pack("i", len(t)) + t for t in pieces[:V]))
exp = os.path.join(tmp, "stories-hf")
p = subprocess.run([LETHE, "export", path3, exp], capture_output=True, text=True)
check(p.returncode == 2 and "llama2.c" in p.stderr and not os.path.exists(exp),
      "export of a llama2.c tokenizer: exit %d %r" % (p.returncode, p.stderr))
p = subprocess.run([LETHE, "export", "--weights-only", path3, exp], capture_output=True, text=True)
check(p.returncode == 0 and sorted(os.listdir(exp)) == ["config.json", "generation_config.json", "model.safetensors"],
      "export --weights-only of llama2.c: exit %d %r" % (p.returncode, p.stderr))
cmds = ["logits " + " ".join(map(str, s[:40])) for s in seqs[1:3]]
a, b = run(path3, cmds), run(exp, cmds)
check(a.returncode == 0 and a.stdout == b.stdout, "llama2.c export: logits differ (%s)" % b.stderr)

# 4. A configuration the model refuses, named with its path.
d4 = os.path.join(tmp, "badctx")
os.makedirs(d4)
bad = dict(cfg2, head_dim=15)
json.dump(bad, open(os.path.join(d4, "config.json"), "w"))
p = run(d4, [])
check(p.returncode == 2 and "badctx" in p.stderr and "odd" in p.stderr, "odd head_dim: %r" % p.stderr)

def write_tokenizer(d):
    """A byte-level BPE tokenizer.json without merges: ids 0-255 the bytes, 256/257 BOS/EOS."""
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs, k = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + k)
            k += 1
    byte_char = dict(zip(bs, cs))
    tok_json = {"version": "1.0", "added_tokens": [
        {"id": 256, "content": "<|bos|>", "special": True, "lstrip": False, "rstrip": False, "single_word": False},
        {"id": 257, "content": "<|eos|>", "special": True, "lstrip": False, "rstrip": False, "single_word": False}],
        "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "vocab": {chr(byte_char[b]): b for b in range(256)}, "merges": []}}
    json.dump(tok_json, open(os.path.join(d, "tokenizer.json"), "w"), ensure_ascii=False)


# 5. A curriculum names the checkpoint: lethe validate reads its shape; the shape keys and a
# tokenizer of lethe's own conflict with it; a broken checkpoint is reported at the key.
LETHE = os.path.join(os.environ["LETHE_BUILDDIR"], "engine", "lethe")
lines = os.path.join(tmp, "lines.txt")
with open(lines, "w") as f:
    f.write("one line of text\nanother line\n")


def validate(model_yaml, extra=""):
    cur = os.path.join(tmp, "cur.yaml")
    with open(cur, "w") as f:
        f.write("lethe: 1\nmodel: %s\n%stasks:\n  t: {plugin: text, train: lines.txt, eval: lines.txt}\n"
                "stages:\n  - {name: s, tasks: [t], steps: 1}\noutput: never.h5\n" % (model_yaml, extra))
    return subprocess.run([LETHE, "validate", "--no-data", cur], capture_output=True, text=True)


write_tokenizer(d2)
p = validate("{from: tied, context: 48}")
check(p.returncode == 0 and "2 layers, dim 48, 4 heads, context 48" in p.stdout and "tokenizer vocab 258" in p.stdout,
      "validate from: %r %r" % (p.stdout, p.stderr))
p = validate("{from: gqa}")
check(p.returncode == 2 and "no tokenizer.json or tokenizer.model" in p.stderr, "from: without a tokenizer: %r" % p.stderr)
write_tokenizer(d1)
p = validate("{from: gqa}")
check(p.returncode == 2 and "the tokenizer has 258 tokens, the model's embeddings 211" in p.stderr,
      "a tokenizer larger than the embeddings: %r" % p.stderr)
p = validate("{from: tied, dim: 64, preset: tiny}")
check(p.returncode == 2 and "2:26: model: 'dim' conflicts with 'from'" in p.stderr and "'preset' conflicts" in p.stderr,
      "shape keys with from: %r" % p.stderr)
p = validate("{from: tied}", "tokenizer: {vocab: 300}\n")
check(p.returncode == 2 and "3:12: tokenizer: a pretrained model" in p.stderr, "tokenizer with from: %r" % p.stderr)
p = validate("{from: badctx}")
check(p.returncode == 2 and "2:15: model from: " in p.stderr and "badctx" in p.stderr, "broken from: %r" % p.stderr)

# 6. Fine-tuning a pretrained model through a curriculum: a GQA checkpoint with its own byte-level
# tokenizer (ids 256/257 as BOS/EOS, embeddings padded to 300) trains two stages; the run file
# names the checkpoint, starts from its weights, and reports; resuming the finished run with
# another checkpoint is refused.
cfg6 = {"model_type": "llama", "vocab_size": 300, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2,
        "num_attention_heads": 4, "num_key_value_heads": 2, "max_position_embeddings": 64, "tie_word_embeddings": False,
        "bos_token_id": 256, "eos_token_id": 257}
d6 = os.path.join(tmp, "tiny-llama")
os.makedirs(d6)
json.dump(cfg6, open(os.path.join(d6, "config.json"), "w"))
state6 = random_state(cfg6, gen, scale=0.05)
write_safetensors(os.path.join(d6, "model.safetensors"), state6)
write_tokenizer(d6)
cur6 = os.path.join(tmp, "ft.yaml")
with open(cur6, "w") as f:
    f.write("lethe: 1\nmodel: {from: tiny-llama, context: 48}\ntrain: {batch: 4, steps: 3, lr: 1.0e-3}\n"
            "tasks:\n  a: {plugin: text, train: lines.txt, eval: lines.txt}\n  b: {plugin: text, train: lines.txt, eval: lines.txt}\n"
            "stages:\n  - {name: one, tasks: [a]}\n  - {name: two, tasks: [b]}\nevaluate: {tasks: all, baseline: true}\n"
            "output: ft.h5\n")
out6 = os.path.join(tmp, "ft.h5")
p = subprocess.run([LETHE, "run", "--quiet", "--threads", "1", cur6], capture_output=True, text=True)
check(p.returncode == 0 and os.path.exists(out6), "fine-tuning run: exit %d %s" % (p.returncode, p.stderr))
if p.returncode == 0:
    try:
        import h5py
        import numpy as np
        with h5py.File(out6, "r") as f:
            tok = f["tokenizer"]
            check(tok.attrs["kind"] == "huggingface-bpe" and tok.attrs["source"].endswith("tiny-llama"), "tokenizer attrs")
            m = f["model"]
            check(int(m.attrs["kv_heads"]) == 2 and int(m.attrs["head_dim"]) == 8 and int(m.attrs["vocab"]) == 300,
                  "model attrs %r" % dict(m.attrs))
            p1 = f["stages/01_one/params"][()]
            names = [n.decode() if isinstance(n, bytes) else n for n in f["model/tensor_names"][()]]
            tensors = f["model/tensors"][()]
            wte = names.index("wte")
            off, size = int(tensors[wte][0]), int(tensors[wte][1]) * int(tensors[wte][2])  # offset, rows, cols
            emb0 = state6["model.embed_tokens.weight"].numpy().ravel()
            check(p1.shape[0] > size and not np.array_equal(p1[off:off + size], emb0) and
                  np.abs(p1[off:off + size] - emb0).max() < 0.05, "stage one starts from the checkpoint and moves")
            check(list(f.attrs["rows"]) == ["baseline", "one", "two"], "rows %r" % list(f.attrs["rows"]))
    except ImportError:
        pass
    p = subprocess.run([LETHE, "report", out6], capture_output=True, text=True)
    check(p.returncode == 0 and "Score matrix" in p.stdout, "report of a fine-tuning run: %s" % p.stderr)
    shutil.copytree(d6, os.path.join(tmp, "other-llama"))
    with open(cur6) as f:
        other = f.read().replace("from: tiny-llama", "from: other-llama")
    with open(os.path.join(tmp, "ft-other.yaml"), "w") as f:
        f.write(other)
    before = open(out6, "rb").read()
    p = subprocess.run([LETHE, "run", "--quiet", "--resume", "-o", out6, os.path.join(tmp, "ft-other.yaml")],
                       capture_output=True, text=True)
    check(p.returncode == 2 and "other-llama" in p.stderr and open(out6, "rb").read() == before,
          "resume from another checkpoint refused: %r" % p.stderr)

# 7. lethe generate: the checkpoint's greedy continuation, fed as BOS + the prompt's tokens, equals
# the reference's (cut at the end token); a run file's stage generates too; lethe tokenize reads
# a run file's tokenizer.
p = subprocess.run([LETHE, "generate", "--json", "-n", "6", "--prompt", "one line", d6], capture_output=True, text=True)
ok = p.returncode == 0
if ok:
    g = json.loads(p.stdout)
    want = hf_llama.greedy(cfg6, state6, g["prompt_ids"], 6)
    if 257 in want:
        want = want[:want.index(257)]
    ok = g["prompt"] == "one line" and g["prompt_ids"][0] == 256 and g["ids"] == want
    if not ok:
        print("generate: %r, reference %r" % (g, want))
check(ok, "lethe generate on a checkpoint: %s" % p.stderr)
if os.path.exists(out6):
    p = subprocess.run([LETHE, "generate", "--stage", "one", "-n", "3", out6], input="one line\nanother\n",
                       capture_output=True, text=True)
    check(p.returncode == 0 and len(p.stdout.splitlines()) == 2, "generate from a run file's stage: %s" % p.stderr)
    p = subprocess.run([LETHE, "generate", "--stage", "nine", "--prompt", "x", out6], capture_output=True, text=True)
    check(p.returncode == 2 and "no trained stage 'nine'" in p.stderr, "unknown stage: %r" % p.stderr)
    p = subprocess.run([LETHE, "tokenize", out6], input="ab\n", capture_output=True, text=True)
    check(p.returncode == 0 and json.loads(p.stdout)["ids"] == [97, 98], "tokenize a run file: %r %r" % (p.stdout, p.stderr))
p = subprocess.run([LETHE, "generate", "--prompt", "x", "--stage", "one", d6], capture_output=True, text=True)
check(p.returncode == 2 and "--stage names a stage of a run file" in p.stderr, "--stage on a checkpoint: %r" % p.stderr)

# 8. The shipped pretrained curriculum validates against a model (LETHE_MODEL) and the data.
env = dict(os.environ, LETHE_MODEL=d6)
src = os.environ.get("LETHE_SRCDIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
args = [LETHE, "validate", os.path.join(src, "curricula", "pretrained-sequential.yaml")]
if not (env.get("LETHE_DATA") and os.path.isdir(env["LETHE_DATA"])):
    args.insert(2, "--no-data")
p = subprocess.run(args, capture_output=True, text=True, env=env)
check(p.returncode == 0 and "valid curriculum 'pretrained-sequential'" in p.stdout,
      "curricula/pretrained-sequential.yaml: %s %s" % (p.stdout[-300:], p.stderr[-500:]))

finish()
