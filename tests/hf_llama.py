"""hf_llama.py: a PyTorch implementation of Hugging Face's LlamaForCausalLM forward pass
(transformers' modeling_llama: RMSNorm in float32, rotate-half RoPE with the default or llama3
frequencies, grouped-query attention by repeating key/value heads, eager causal attention with a
float32 softmax, SwiGLU, a tied or untied head), written from its definitions so the tests can
hold lethe's logits to it without transformers installed. Imported by the tests; not a test.
"""
import math

import torch


def inv_freq(cfg):
    hs = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    base = cfg.get("rope_theta", 10000.0)
    f = 1.0 / (base ** (torch.arange(0, hs, 2, dtype=torch.int64).float() / hs))
    rs = cfg.get("rope_scaling")
    if not rs:
        return f
    # transformers' _compute_llama3_parameters
    factor, low, high = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"]
    old = rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    wavelen = 2 * math.pi / f
    f_llama = torch.where(wavelen > low_wavelen, f / factor, f)
    smooth = (old / wavelen - low) / (high - low)
    smoothed = (1 - smooth) * f_llama / factor + smooth * f_llama
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, smoothed, f_llama)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


def rms_norm(x, w, eps):
    dtype = x.dtype
    x = x.to(torch.float32)
    var = x.pow(2).mean(-1, keepdim=True)
    return w * (x * torch.rsqrt(var + eps)).to(dtype)


def forward(cfg, state, ids):
    """Logits (B, T, V) of token ids (B, T) for the weights in state (HF names, float tensors)."""
    C, NH = cfg["hidden_size"], cfg["num_attention_heads"]
    NKV = cfg.get("num_key_value_heads") or NH
    HS = cfg.get("head_dim") or C // NH
    eps = cfg.get("rms_norm_eps", 1e-6)
    B, T = ids.shape
    x = state["model.embed_tokens.weight"][ids]
    pos = torch.arange(T).float()
    freqs = torch.outer(pos, inv_freq(cfg))
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos()[None, None], emb.sin()[None, None]
    mask = torch.full((T, T), float("-inf")).triu(1)
    for l in range(cfg["num_hidden_layers"]):
        p = "model.layers.%d." % l
        h = rms_norm(x, state[p + "input_layernorm.weight"], eps)
        q = (h @ state[p + "self_attn.q_proj.weight"].T).view(B, T, NH, HS).transpose(1, 2)
        k = (h @ state[p + "self_attn.k_proj.weight"].T).view(B, T, NKV, HS).transpose(1, 2)
        v = (h @ state[p + "self_attn.v_proj.weight"].T).view(B, T, NKV, HS).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(NH // NKV, dim=1)
        v = v.repeat_interleave(NH // NKV, dim=1)
        a = (q @ k.transpose(2, 3)) / math.sqrt(HS) + mask
        a = torch.softmax(a, dim=-1, dtype=torch.float32).to(q.dtype)
        y = (a @ v).transpose(1, 2).reshape(B, T, NH * HS)
        x = x + y @ state[p + "self_attn.o_proj.weight"].T
        h = rms_norm(x, state[p + "post_attention_layernorm.weight"], eps)
        g = torch.nn.functional.silu(h @ state[p + "mlp.gate_proj.weight"].T) * (h @ state[p + "mlp.up_proj.weight"].T)
        x = x + g @ state[p + "mlp.down_proj.weight"].T
    x = rms_norm(x, state["model.norm.weight"], eps)
    head = state.get("lm_head.weight", state["model.embed_tokens.weight"]) if not cfg.get("tie_word_embeddings") \
        else state["model.embed_tokens.weight"]
    return x @ head.T


def greedy(cfg, state, prompt, n):
    """Greedy continuation of one prompt (a list of ids) by n tokens, recomputing the whole
    sequence each step (no cache: the reference of lethe's KV-cache decoding)."""
    ids = list(prompt)
    for _ in range(n):
        logits = forward(cfg, state, torch.tensor([ids]))
        ids.append(int(logits[0, -1].argmax()))
    return ids[len(prompt):]
