#!/usr/bin/env python3
"""checkpoint.py: lethe's checkpoint reader (engine/model/checkpoint.c) on checkpoints this
script writes with python3-torch, nothing downloaded:

1. Hugging Face directories: grouped-query attention, an untied head, BF16 weights in two shards
   listed by model.safetensors.index.json, head_dim and llama3 rope scaling in config.json; and a
   tied mistral-type model in one F32/F16 file. The safetensors files are written directly (an
   8-byte length, a JSON header, raw data). Every tensor read back equals the written one
   converted to float32, bit for bit, and the configuration is read as written.
2. llama2.c checkpoints in the legacy layout, version 1 (float32) and version 2 (Q8_0), written
   as llama2.c's export.py writes them: q and k come back permuted from llama2.c's interleaved
   RoPE to Hugging Face's rotate-half layout (as transformers' conversion does), Q8_0 dequantized.
3. Every refusal: config keys that change the computation, missing, extra, misshapen and
   mistyped tensors, a wrong shard map, a llama2.c file of the wrong size or version.
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
    import numpy as np
    import torch
except ImportError:
    print("SKIP: python3-torch is not installed")
    sys.exit(77)

DRIVER = os.path.join(os.environ["LETHE_BUILDDIR"], "tests", "ckpt_dump")


from testlib import check, finish  # noqa: E402


DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int32: "I32"}


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, torch tensor), written in that order."""
    header, blobs, off = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors:
        t = t.contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 else t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def hf_tensors(cfg, gen):
    C, V, FF, L = cfg["hidden_size"], cfg["vocab_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    NH, NKV = cfg["num_attention_heads"], cfg.get("num_key_value_heads", cfg["num_attention_heads"])
    HS = cfg.get("head_dim", C // NH)
    t = [("model.embed_tokens.weight", torch.randn(V, C, generator=gen))]
    for l in range(L):
        p = "model.layers.%d." % l
        t += [(p + "input_layernorm.weight", 1 + 0.1 * torch.randn(C, generator=gen)),
              (p + "self_attn.q_proj.weight", torch.randn(NH * HS, C, generator=gen)),
              (p + "self_attn.k_proj.weight", torch.randn(NKV * HS, C, generator=gen)),
              (p + "self_attn.v_proj.weight", torch.randn(NKV * HS, C, generator=gen)),
              (p + "self_attn.o_proj.weight", torch.randn(C, NH * HS, generator=gen)),
              (p + "post_attention_layernorm.weight", 1 + 0.1 * torch.randn(C, generator=gen)),
              (p + "mlp.gate_proj.weight", torch.randn(FF, C, generator=gen)),
              (p + "mlp.up_proj.weight", torch.randn(FF, C, generator=gen)),
              (p + "mlp.down_proj.weight", torch.randn(C, FF, generator=gen))]
    t.append(("model.norm.weight", 1 + 0.1 * torch.randn(C, generator=gen)))
    if not cfg.get("tie_word_embeddings", False):
        t.append(("lm_head.weight", torch.randn(V, C, generator=gen)))
    return t


def dump(path):
    out = os.path.join(tmp, "dump.bin")
    p = subprocess.run([DRIVER, path, out], capture_output=True, text=True)
    if p.returncode != 0:
        return p, None, None
    lines = p.stdout.strip().split("\n")
    fields = lines[0].split()
    conf = dict(zip(fields[0::2], fields[1::2]))
    data = np.fromfile(out, dtype=np.float32)
    tensors, at = {}, 0
    for line in lines[1:]:
        name, rows, cols = line.split()
        n = int(rows) * int(cols)
        tensors[name] = data[at:at + n].reshape(int(rows), int(cols)) if int(cols) > 1 else data[at:at + n]
        at += n
    return p, conf, tensors


def same(a, b):
    return a.shape == b.shape and a.tobytes() == b.tobytes()


tmp = tempfile.mkdtemp(dir=os.environ.get("TMPDIR"))
gen = torch.Generator().manual_seed(5)

# ---- 1. Hugging Face directories ----------------------------------------------------------------
cfg_a = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 97, "hidden_size": 48,
         "intermediate_size": 80, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
         "head_dim": 16, "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 500000.0,
         "rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                          "original_max_position_embeddings": 64},
         "tie_word_embeddings": False, "hidden_act": "silu", "attention_bias": False, "mlp_bias": False,
         "bos_token_id": 1, "eos_token_id": [2, 3], "torch_dtype": "bfloat16"}
dir_a = os.path.join(tmp, "hf_a")
os.makedirs(dir_a)
with open(os.path.join(dir_a, "config.json"), "w") as f:
    json.dump(cfg_a, f)
ta = [(n, t.to(torch.bfloat16)) for n, t in hf_tensors(cfg_a, gen)]
half = len(ta) // 2
write_safetensors(os.path.join(dir_a, "model-00001-of-00002.safetensors"), ta[:half], {"format": "pt"})
write_safetensors(os.path.join(dir_a, "model-00002-of-00002.safetensors"), ta[half:], {"format": "pt"})
with open(os.path.join(dir_a, "model.safetensors.index.json"), "w") as f:
    json.dump({"metadata": {}, "weight_map": {n: "model-0000%d-of-00002.safetensors" % (1 if i < half else 2)
                                              for i, (n, _) in enumerate(ta)}}, f)
with open(os.path.join(dir_a, "tokenizer.json"), "w") as f:
    f.write("{}")
p, conf, got = dump(dir_a)
check(p.returncode == 0, "hf_a: %s" % p.stderr)
if conf:
    want = {"format": "0", "vocab": "97", "dim": "48", "layers": "2", "heads": "4", "kv_heads": "2", "head_dim": "16",
            "ff": "80", "context": "128", "tied": "0", "rope_theta": "500000", "llama3": "1", "factor": "8",
            "low": "1", "high": "4", "original": "64", "bos": "1", "eos": "2", "tokenizer": "1"}
    check(all(conf.get(k) == v for k, v in want.items()), "hf_a config %r" % conf)
    check(list(got) == [n for n, _ in ta], "hf_a tensor order %r" % list(got)[:5])
    check(all(same(got[n], t.to(torch.float32).numpy()) for n, t in ta), "hf_a tensors equal")

cfg_b = {"model_type": "mistral", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64,
         "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 64, "tie_word_embeddings": True,
         "sliding_window": None, "hidden_act": "silu"}
dir_b = os.path.join(tmp, "hf_b")
os.makedirs(dir_b)
with open(os.path.join(dir_b, "config.json"), "w") as f:
    json.dump(cfg_b, f)
tb = [(n, t.to(torch.float16) if "mlp" in n else t) for n, t in hf_tensors(cfg_b, gen)]
write_safetensors(os.path.join(dir_b, "model.safetensors"), tb[::-1])  # any order in the file
p, conf, got = dump(dir_b)
check(p.returncode == 0, "hf_b: %s" % p.stderr)
if conf:
    check(conf["tied"] == "1" and conf["kv_heads"] == "2" and conf["head_dim"] == "16" and conf["norm_eps"] == "9.99999997e-07"
          and conf["rope_theta"] == "10000" and conf["llama3"] == "0" and conf["bos"] == "-1" and conf["tokenizer"] == "0",
          "hf_b config %r" % conf)
    check("lm_head.weight" not in got and all(same(got[n], t.to(torch.float32).numpy()) for n, t in tb), "hf_b tensors")

# ---- 2. llama2.c checkpoints --------------------------------------------------------------------
def l2c_model(dim, ff, L, NH, NKV, V, T, tied):
    HS = dim // NH
    m = {"tok": torch.randn(V, dim, generator=gen), "norm": 1 + 0.1 * torch.randn(dim, generator=gen)}
    for key, shape in (("att_norm", (dim,)), ("ffn_norm", (dim,)), ("wq", (NH * HS, dim)), ("wk", (NKV * HS, dim)),
                       ("wv", (NKV * HS, dim)), ("wo", (dim, NH * HS)), ("w1", (ff, dim)), ("w2", (dim, ff)), ("w3", (ff, dim))):
        m[key] = [torch.randn(*shape, generator=gen) for _ in range(L)]
    m["out"] = m["tok"] if tied else torch.randn(V, dim, generator=gen)
    m["p"] = (dim, ff, L, NH, NKV, V, T)
    return m


def fp32(t):
    return t.detach().contiguous().view(-1).to(torch.float32).numpy().tobytes()


def q80(t, g):
    w = t.float().reshape(-1, g)
    scale = w.abs().max(dim=1).values / 127.0
    q = torch.round(w / scale[:, None]).to(torch.int8)
    return q, scale


def write_l2c(path, m, version, group=16):
    dim, ff, L, NH, NKV, V, T = m["p"]
    HS = dim // NH
    tied = m["out"] is m["tok"]
    with open(path, "wb") as f:
        if version == 0:
            f.write(struct.pack("7i", dim, ff, L, NH, NKV, V if tied else -V, T))
            f.write(fp32(m["tok"]))
            for key in ("att_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3"):
                for t in m[key]:
                    f.write(fp32(t))
            f.write(fp32(m["norm"]))
            f.write(b"\0" * (T * HS // 2 * 4 * 2))
            if not tied:
                f.write(fp32(m["out"]))
            return
        f.write(struct.pack("I", 0x616b3432) + struct.pack("i", version) + struct.pack("7i", dim, ff, L, NH, NKV, V, T))
        f.write(struct.pack("B", int(tied)))
        if version == 2:
            f.write(struct.pack("i", group))
        f.write(b"\0" * (256 - f.tell()))
        for t in m["att_norm"] + m["ffn_norm"] + [m["norm"]]:
            f.write(fp32(t))
        ws = [m["tok"]] + m["wq"] + m["wk"] + m["wv"] + m["wo"] + m["w1"] + m["w2"] + m["w3"] + ([] if tied else [m["out"]])
        for w in ws:
            if version == 1:
                f.write(fp32(w))
            else:
                q, s = q80(w, group)
                f.write(q.numpy().tobytes() + s.numpy().astype(np.float32).tobytes())


def permute(w, n_heads):
    # transformers' convert_llama_weights_to_hf: interleaved pairs -> rotate-half halves.
    d1, d2 = w.shape
    return w.view(n_heads, d1 // n_heads // 2, 2, d2).transpose(1, 2).reshape(d1, d2)


def expect_l2c(m, version, group=16):
    dim, ff, L, NH, NKV, V, T = m["p"]
    deq = (lambda w: w) if version != 2 else (lambda w: (lambda q, s: (q.float() * s[:, None]).view(w.shape))(*q80(w, group)))
    e = {"model.embed_tokens.weight": deq(m["tok"])}
    for l in range(L):
        p = "model.layers.%d." % l
        e[p + "input_layernorm.weight"] = m["att_norm"][l]
        e[p + "self_attn.q_proj.weight"] = permute(deq(m["wq"][l]), NH)
        e[p + "self_attn.k_proj.weight"] = permute(deq(m["wk"][l]), NKV)
        e[p + "self_attn.v_proj.weight"] = deq(m["wv"][l])
        e[p + "self_attn.o_proj.weight"] = deq(m["wo"][l])
        e[p + "post_attention_layernorm.weight"] = m["ffn_norm"][l]
        e[p + "mlp.gate_proj.weight"] = deq(m["w1"][l])
        e[p + "mlp.up_proj.weight"] = deq(m["w3"][l])
        e[p + "mlp.down_proj.weight"] = deq(m["w2"][l])
    e["model.norm.weight"] = m["norm"]
    if m["out"] is not m["tok"]:
        e["lm_head.weight"] = deq(m["out"])
    return e


for version, tied in ((0, False), (0, True), (1, True), (1, False), (2, False)):
    m = l2c_model(32, 48, 2, 4, 2, 50, 24, tied)
    path = os.path.join(tmp, "l2c_v%d_%s.bin" % (version, "tied" if tied else "untied"))
    write_l2c(path, m, version)
    p, conf, got = dump(path)
    check(p.returncode == 0, "%s: %s" % (path, p.stderr))
    if conf:
        check(conf["format"] == "1" and conf["vocab"] == "50" and conf["kv_heads"] == "2" and conf["tied"] == str(int(tied))
              and conf["context"] == "24" and conf["bos"] == "1" and conf["eos"] == "2", "%s config %r" % (path, conf))
        e = expect_l2c(m, version)
        bad = [n for n in e if n not in got or not same(got[n], e[n].float().numpy())]
        check(list(got) == list(e) and not bad, "%s tensors differ: %r" % (path, bad[:4]))
    if version == 1 and tied:
        shutil.copy(path, os.path.join(tmp, "tokenizer.bin"))  # any file: only its presence is reported
        p, conf, _ = dump(path)
        check(conf and conf["tokenizer"] == "3", "tokenizer.bin beside a llama2.c file: %r" % conf)
        os.unlink(os.path.join(tmp, "tokenizer.bin"))

# ---- 3. refusals --------------------------------------------------------------------------------
def hf_variant(name, cfg_change=None, tensors_change=None, files=None):
    d = os.path.join(tmp, name)
    os.makedirs(d)
    cfg = json.loads(json.dumps(cfg_b))
    if cfg_change:
        cfg_change(cfg)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    t = list(tb)
    if tensors_change:
        t = tensors_change(t)
    if files:
        files(d, t)
    else:
        write_safetensors(os.path.join(d, "model.safetensors"), t)
    return d


cases = [
    (hf_variant("gpt2", lambda c: c.update(model_type="gpt2")), "'model_type' is 'gpt2'"),
    (hf_variant("gelu", lambda c: c.update(hidden_act="gelu")), "'hidden_act' is 'gelu'"),
    (hf_variant("abias", lambda c: c.update(attention_bias=True)), "'attention_bias' is set: attention biases"),
    (hf_variant("mbias", lambda c: c.update(mlp_bias=True)), "'mlp_bias' is set"),
    (hf_variant("sw", lambda c: c.update(sliding_window=4096)), "'sliding_window' is set: sliding-window attention"),
    (hf_variant("linear", lambda c: c.update(rope_scaling={"type": "linear", "factor": 2.0})), "'rope_scaling' of type 'linear'"),
    (hf_variant("tp", lambda c: c.update(pretraining_tp=2)), "'pretraining_tp': expected an integer from 1 to 1"),
    (hf_variant("kv", lambda c: c.update(num_key_value_heads=3, num_attention_heads=4, hidden_size=32)),
     "4 attention heads are not a multiple of 3 key/value heads"),
    (hf_variant("nohidden", lambda c: c.pop("hidden_size")), "config.json: missing 'hidden_size'"),
    (hf_variant("negvocab", lambda c: c.update(vocab_size=-3)), "'vocab_size': expected an integer"),
    (hf_variant("dropout", lambda c: c.update(attention_dropout=0.1)), "'attention_dropout' is not 0"),
    (hf_variant("missing", None, lambda t: t[1:]), "is missing"),
    (hf_variant("extra", None, lambda t: t + [("model.layers.7.mlp.up_proj.weight", torch.zeros(2))]),
     "tensor 'model.layers.7.mlp.up_proj.weight' is not part of a Llama model"),
    (hf_variant("shape", None, lambda t: [(n, torch.zeros(3, 5) if n == "model.norm.weight" else v) for n, v in t]),
     "tensor 'model.norm.weight' has shape [3x5], config.json implies [32]"),
    (hf_variant("dtype", None, lambda t: [(n, torch.zeros(32, dtype=torch.int32) if n == "model.norm.weight" else v) for n, v in t]),
     "tensor 'model.norm.weight' is I32: expected F32, F16 or BF16"),
    (hf_variant("dup", None, None, lambda d, t: (write_safetensors(os.path.join(d, "a.safetensors"), t),
                                                 write_safetensors(os.path.join(d, "b.safetensors"), t[:1]),
                                                 json.dump({"weight_map": dict([(n, "a.safetensors") for n, _ in t])},
                                                           open(os.path.join(d, "model.safetensors.index.json"), "w")),
                                                 json.dump({"weight_map": dict([(n, "a.safetensors") for n, _ in t] +
                                                                               [(t[0][0], "b.safetensors")])},
                                                           open(os.path.join(d, "model.safetensors.index.json"), "w")))),
     "is also in"),
    (hf_variant("badmap", None, None, lambda d, t: (write_safetensors(os.path.join(d, "a.safetensors"), t[:2]),
                                                    write_safetensors(os.path.join(d, "b.safetensors"), t[2:]),
                                                    json.dump({"weight_map": {n: "a.safetensors" for n, _ in t}},
                                                              open(os.path.join(d, "model.safetensors.index.json"), "w")))),
     "which does not hold it"),
    (hf_variant("escape", None, None, lambda d, t: json.dump({"weight_map": {"x": "../x.safetensors"}},
                                                             open(os.path.join(d, "model.safetensors.index.json"), "w"))),
     "expected a file name in the directory"),
    (hf_variant("noweights", None, None, lambda d, t: None), "no model.safetensors or model.safetensors.index.json"),
    (hf_variant("badst", None, None, lambda d, t: open(os.path.join(d, "model.safetensors"), "wb").write(b"\x05" + b"\0" * 7 + b"[1,2]")),
     "model.safetensors: the header does not start with '{'"),
]
m = l2c_model(32, 48, 1, 4, 4, 40, 16, True)
good = os.path.join(tmp, "good_v1.bin")
write_l2c(good, m, 1)
data = open(good, "rb").read()
for name, content, want in (("short.bin", data[:-4], "is %d bytes; the file has %d" % (len(data), len(data) - 4)),
                            ("long.bin", data + b"\0" * 4, "the file has %d" % (len(data) + 4)),
                            ("v3.bin", data[:4] + struct.pack("i", 3) + data[8:], "llama2.c format version 3"),
                            ("zero.bin", b"\0" * 300, "header field dim is 0"),
                            ("tiny.bin", b"\0" * 10, "too short for a llama2.c checkpoint"),
                            ("heads.bin", data[:8] + struct.pack("7i", 32, 48, 1, 3, 3, 40, 16) + data[36:], "dim 32 is not a multiple of 3 heads")):
    path = os.path.join(tmp, name)
    with open(path, "wb") as f:
        f.write(content)
    cases.append((path, want))
m2 = l2c_model(24, 40, 1, 2, 2, 30, 16, False)
q2 = os.path.join(tmp, "q8.bin")
write_l2c(q2, m2, 2, group=16)  # 24 * 40 is not a whole number of 16-groups? 960 = 60 * 16: fine; norms
d2 = open(q2, "rb").read()
path = os.path.join(tmp, "q8group.bin")
with open(path, "wb") as f:
    f.write(d2[:37] + struct.pack("i", 7) + d2[41:])
cases.append((path, "is not a whole number of Q8_0 groups of 7"))
cases.append((os.path.join(tmp, "nonexistent"), "No such file or directory"))

for path, want in cases:
    p, _, _ = dump(path)
    check(p.returncode == 2 and want in p.stderr and path.split("/")[-1] in p.stderr,
          "%s: exit %d, %r lacks %r" % (path, p.returncode, p.stderr.strip(), want))

finish()
