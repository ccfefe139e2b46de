"""llama.cpp GGUF conventions used by the fixture writers (written from the public GGUF spec).

Nothing here depends on tokenmill: these files are independent oracles for it.
"""
from __future__ import annotations

import math

import numpy as np


def permute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """HF (NeoX half-split rope) -> llama.cpp "llama" layout (interleaved-pair rope).

    Within each head of size d, HF pairs row i with row i + d/2; after this permutation the
    pair sits on rows 2i and 2i + 1.  w: [n_head * d, ...] (weight [out, in] or bias [out]).
    Use n_head = num_attention_heads for Q and num_key_value_heads for K.
    """
    d = w.shape[0] // n_head
    assert d * n_head == w.shape[0] and d % 2 == 0
    return w.reshape(n_head, 2, d // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def unpermute_qk(w: np.ndarray, n_head: int) -> np.ndarray:
    """Inverse of permute_qk."""
    d = w.shape[0] // n_head
    return w.reshape(n_head, d // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def llama3_rope_factors(head_dim: int, theta: float, factor: float, low_freq_factor: float,
                        high_freq_factor: float, original_max_pos: int) -> np.ndarray:
    """Per-frequency divisors stored as rope_freqs.weight [head_dim/2] (F32).

    The effective inverse frequency of pair i is theta^(-2i/head_dim) / factors[i].
    """
    inv = 1.0 / (theta ** (np.arange(0, head_dim, 2, dtype=np.float64) / head_dim))
    low_wavelen = original_max_pos / low_freq_factor
    high_wavelen = original_max_pos / high_freq_factor
    out = []
    for f in inv:
        wavelen = 2 * math.pi / f
        if wavelen < high_wavelen:
            out.append(1.0)
        elif wavelen > low_wavelen:
            out.append(factor)
        else:
            smooth = (original_max_pos / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor)
            out.append(1.0 / ((1.0 - smooth) / factor + smooth))
    return np.asarray(out, dtype=np.float32)


# HF parameter name suffix (inside model.layers.N.) -> GGUF tensor name suffix (inside blk.N.)
LAYER_TENSORS = {
    "input_layernorm.weight": "attn_norm.weight",
    "self_attn.q_proj.weight": "attn_q.weight",
    "self_attn.k_proj.weight": "attn_k.weight",
    "self_attn.v_proj.weight": "attn_v.weight",
    "self_attn.o_proj.weight": "attn_output.weight",
    "self_attn.q_proj.bias": "attn_q.bias",
    "self_attn.k_proj.bias": "attn_k.bias",
    "self_attn.v_proj.bias": "attn_v.bias",
    "self_attn.q_norm.weight": "attn_q_norm.weight",
    "self_attn.k_norm.weight": "attn_k_norm.weight",
    "post_attention_layernorm.weight": "ffn_norm.weight",
    "mlp.gate_proj.weight": "ffn_gate.weight",
    "mlp.up_proj.weight": "ffn_up.weight",
    "mlp.down_proj.weight": "ffn_down.weight",
}
GLOBAL_TENSORS = {
    "model.embed_tokens.weight": "token_embd.weight",
    "model.norm.weight": "output_norm.weight",
    "lm_head.weight": "output.weight",
}


def hf_to_gguf_name(name: str) -> str:
    if name in GLOBAL_TENSORS:
        return GLOBAL_TENSORS[name]
    parts = name.split(".")
    assert parts[0] == "model" and parts[1] == "layers", name
    return f"blk.{int(parts[2])}." + LAYER_TENSORS[".".join(parts[3:])]
