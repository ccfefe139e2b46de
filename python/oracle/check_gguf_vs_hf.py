#!/usr/bin/env python3
"""Verify a model fixture directory written by gen_model_fixtures.py.

Usage:  python3 python/oracle/check_gguf_vs_hf.py [CASE_DIR ...]   (default: every case)

Checks, for each tests/fixtures/models/<case>/:
  1. model.gguf metadata (read back with gguf.GGUFReader) matches hf/config.json and the tokenizer
     files: hyper-parameters, rope, sliding window, token list, token types, merges, special ids.
  2. every GGUF tensor, dequantized and (arch "llama") un-permuted, equals the HF safetensors
     tensor bit for bit; storage types are as documented (2-D: case dtype, 1-D: F32); output.weight
     is absent exactly when the embeddings are tied; rope_freqs.weight equals the ratio of
     transformers' default and llama3 inverse frequencies.
  3. an independent float64 numpy forward pass over the GGUF tensors, using llama.cpp's semantics
     (interleaved-pair rope on permuted Q/K for arch "llama", NeoX rope for qwen2/qwen3, GQA,
     sliding window i - j < W), reproduces every logits_K.npy.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import gguf
from safetensors import safe_open

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gguf_conventions import hf_to_gguf_name, unpermute_qk  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "models"
LOGITS_ATOL = 2e-4


def load_hf_state(hf_dir: Path) -> dict[str, np.ndarray]:
    import torch  # only for bf16 -> f32
    idx = hf_dir / "model.safetensors.index.json"
    files = sorted(set(json.loads(idx.read_text())["weight_map"].values())) if idx.exists() else ["model.safetensors"]
    out = {}
    for f in files:
        with safe_open(str(hf_dir / f), framework="pt") as sf:
            for k in sf.keys():
                out[k] = sf.get_tensor(k).to(torch.float32).numpy()
    if idx.exists():
        wm = json.loads(idx.read_text())["weight_map"]
        assert set(wm) == set(out), "index.json weight_map does not match the shards"
        assert len(files) >= 2
    return out


def read_gguf(path: Path):
    r = gguf.GGUFReader(str(path))
    meta = {name: f.contents() for name, f in r.fields.items() if not name.startswith("GGUF.")}
    tensors, types = {}, {}
    for t in r.tensors:
        tensors[t.name] = np.asarray(gguf.quants.dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(
            [int(d) for d in reversed(t.shape)])
        types[t.name] = t.tensor_type
    return meta, tensors, types


def rope_params(cfg: dict):
    if "rope_parameters" in cfg and cfg["rope_parameters"]:
        rp = dict(cfg["rope_parameters"])
        return rp.pop("rope_theta"), (rp if rp.get("rope_type", "default") != "default" else None)
    return cfg["rope_theta"], cfg.get("rope_scaling")


def check_metadata(meta, cfg, ref, tok_json, tok_cfg):
    arch = meta["general.architecture"]
    assert arch == ref["gguf_architecture"], arch
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    theta, scaling = rope_params(cfg)
    want = {
        f"{arch}.context_length": cfg["max_position_embeddings"],
        f"{arch}.embedding_length": cfg["hidden_size"],
        f"{arch}.block_count": cfg["num_hidden_layers"],
        f"{arch}.feed_forward_length": cfg["intermediate_size"],
        f"{arch}.attention.head_count": cfg["num_attention_heads"],
        f"{arch}.attention.head_count_kv": cfg["num_key_value_heads"],
        f"{arch}.vocab_size": cfg["vocab_size"],
    }
    for k, v in want.items():
        assert meta[k] == v, (k, meta.get(k), v)
    assert math.isclose(meta[f"{arch}.rope.freq_base"], theta, rel_tol=1e-7)
    assert math.isclose(meta[f"{arch}.attention.layer_norm_rms_epsilon"], cfg["rms_norm_eps"], rel_tol=1e-6)
    key_len = meta.get(f"{arch}.attention.key_length", cfg["hidden_size"] // cfg["num_attention_heads"])
    assert key_len == hd and meta.get(f"{arch}.attention.value_length", hd) == hd
    if arch == "llama":
        assert meta["llama.rope.dimension_count"] == hd
    sw = cfg.get("sliding_window") if (cfg["model_type"] == "mistral" or cfg.get("use_sliding_window")) else None
    assert meta.get(f"{arch}.attention.sliding_window") == sw, (meta.get(f"{arch}.attention.sliding_window"), sw)
    assert (scaling is None) or scaling.get("rope_type") == "llama3"
    assert not any(k.startswith(f"{arch}.rope.scaling") for k in meta), "llama3 scaling is carried by rope_freqs"
    ftype = {"f32": 0, "f16": 1, "bf16": 32}[ref["weights_dtype"]]
    assert meta["general.file_type"] == ftype

    # tokenizer
    assert meta["tokenizer.ggml.model"] == "gpt2"
    assert meta["tokenizer.ggml.pre"] == ref["tokenizer"]["ggml_pre"]
    vocab = dict(tok_json["model"]["vocab"])
    for a in tok_json["added_tokens"]:
        vocab[a["content"]] = a["id"]
    tokens = meta["tokenizer.ggml.tokens"]
    assert len(tokens) == cfg["vocab_size"] == len(vocab)
    assert all(vocab[t] == i for i, t in enumerate(tokens))
    special = {a["id"] for a in tok_json["added_tokens"] if a["special"]}
    assert list(meta["tokenizer.ggml.token_type"]) == [3 if i in special else 1 for i in range(len(tokens))]
    merges = [m if isinstance(m, str) else " ".join(m) for m in tok_json["model"]["merges"]]
    assert list(meta["tokenizer.ggml.merges"]) == merges
    assert meta["tokenizer.ggml.eos_token_id"] == vocab[tok_cfg["eos_token"]]
    if tok_cfg["bos_token"] is not None:
        assert meta["tokenizer.ggml.bos_token_id"] == vocab[tok_cfg["bos_token"]]
    else:
        assert meta["tokenizer.ggml.bos_token_id"] == cfg["bos_token_id"]
    assert bool(meta["tokenizer.ggml.add_bos_token"]) == bool(tok_cfg["add_bos_token"])
    assert meta["tokenizer.chat_template"] == tok_cfg["chat_template"]


def check_tensors(meta, tensors, types, hf, cfg, ref):
    arch = meta["general.architecture"]
    dtype = ref["weights_dtype"]
    want2d = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
              "bf16": gguf.GGMLQuantizationType.BF16}[dtype]
    seen = set()
    for name, w in hf.items():
        gname = hf_to_gguf_name(name)
        assert gname in tensors, f"missing {gname}"
        seen.add(gname)
        g = tensors[gname]
        if arch == "llama" and gname.endswith(("attn_q.weight", "attn_q.bias")):
            g = unpermute_qk(g, cfg["num_attention_heads"])
        elif arch == "llama" and gname.endswith(("attn_k.weight", "attn_k.bias")):
            g = unpermute_qk(g, cfg["num_key_value_heads"])
        assert g.shape == w.shape, (gname, g.shape, w.shape)
        assert np.array_equal(g, w), f"{gname} differs from {name}"
        assert types[gname] == (gguf.GGMLQuantizationType.F32 if w.ndim == 1 else want2d), (gname, types[gname])
    extra = set(tensors) - seen
    tied = cfg.get("tie_word_embeddings", False)
    assert ("output.weight" in tensors) == (not tied) == ("lm_head.weight" in hf)
    theta, scaling = rope_params(cfg)
    if scaling and scaling.get("rope_type") == "llama3":
        assert extra == {"rope_freqs.weight"}, extra
        assert types["rope_freqs.weight"] == gguf.GGMLQuantizationType.F32
        import torch
        from transformers import AutoConfig
        from transformers.modeling_rope_utils import ROPE_INIT_FUNCTIONS
        hcfg = AutoConfig.from_pretrained(str(Path(ref["_dir"]) / "hf"))
        inv_l3, _ = ROPE_INIT_FUNCTIONS["llama3"](hcfg, torch.device("cpu"))
        hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
        inv = 1.0 / (theta ** (np.arange(0, hd, 2, dtype=np.float64) / hd))
        np.testing.assert_allclose(inv / inv_l3.double().numpy(), tensors["rope_freqs.weight"], rtol=2e-6)
        assert len(set(np.round(tensors["rope_freqs.weight"], 5))) >= 3, "llama3 case should hit all 3 branches"
    else:
        assert not extra, extra


def rms(x, w, eps):
    return x / np.sqrt(np.mean(x * x, axis=-1, keepdims=True) + eps) * w


def gguf_forward(meta, W, ids: list[int]) -> np.ndarray:
    """Reference forward pass over GGUF tensors with llama.cpp semantics, float64."""
    arch = meta["general.architecture"]
    W = {k: v.astype(np.float64) for k, v in W.items()}
    dim = meta[f"{arch}.embedding_length"]
    n_head = meta[f"{arch}.attention.head_count"]
    n_kv = meta[f"{arch}.attention.head_count_kv"]
    hd = meta.get(f"{arch}.attention.key_length", dim // n_head)
    eps = meta[f"{arch}.attention.layer_norm_rms_epsilon"]
    theta = meta[f"{arch}.rope.freq_base"]
    window = meta.get(f"{arch}.attention.sliding_window")
    T = len(ids)
    x = W["token_embd.weight"][ids]
    inv = theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
    if "rope_freqs.weight" in W:
        inv = inv / W["rope_freqs.weight"]
    ang = np.arange(T, dtype=np.float64)[:, None] * inv[None, :]        # [T, hd/2]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]         # [T, 1, hd/2]

    def rope(v):  # v: [T, H, hd]
        out = np.empty_like(v)
        if arch == "llama":   # interleaved pairs (2i, 2i+1)
            a, b = v[..., 0::2], v[..., 1::2]
            out[..., 0::2], out[..., 1::2] = a * cos - b * sin, a * sin + b * cos
        else:                 # NeoX halves (i, i + hd/2)
            a, b = v[..., : hd // 2], v[..., hd // 2:]
            out[..., : hd // 2], out[..., hd // 2:] = a * cos - b * sin, a * sin + b * cos
        return out

    qi = np.arange(T)[:, None]
    kj = np.arange(T)[None, :]
    allowed = kj <= qi
    if window:
        allowed &= (qi - kj) < window
    n_layer = meta[f"{arch}.block_count"]
    for l in range(n_layer):
        p = f"blk.{l}."
        h = rms(x, W[p + "attn_norm.weight"], eps)
        q = h @ W[p + "attn_q.weight"].T + W.get(p + "attn_q.bias", 0.0)
        k = h @ W[p + "attn_k.weight"].T + W.get(p + "attn_k.bias", 0.0)
        v = h @ W[p + "attn_v.weight"].T + W.get(p + "attn_v.bias", 0.0)
        q, k, v = q.reshape(T, n_head, hd), k.reshape(T, n_kv, hd), v.reshape(T, n_kv, hd)
        if p + "attn_q_norm.weight" in W:
            q = rms(q, W[p + "attn_q_norm.weight"], eps)
            k = rms(k, W[p + "attn_k_norm.weight"], eps)
        q, k = rope(q), rope(k)
        att = np.empty((T, n_head, hd))
        for hh in range(n_head):
            kh = hh // (n_head // n_kv)
            s = q[:, hh] @ k[:, kh].T / math.sqrt(hd)
            s = np.where(allowed, s, -np.inf)
            s = np.exp(s - s.max(axis=1, keepdims=True))
            att[:, hh] = (s / s.sum(axis=1, keepdims=True)) @ v[:, kh]
        x = x + att.reshape(T, n_head * hd) @ W[p + "attn_output.weight"].T
        h = rms(x, W[p + "ffn_norm.weight"], eps)
        g = h @ W[p + "ffn_gate.weight"].T
        u = h @ W[p + "ffn_up.weight"].T
        x = x + ((g / (1.0 + np.exp(-g))) * u) @ W[p + "ffn_down.weight"].T
    x = rms(x, W["output_norm.weight"], eps)
    out_w = W.get("output.weight", W["token_embd.weight"])
    return x @ out_w.T


def check_case(cdir: Path) -> None:
    cdir = Path(cdir)
    ref = json.loads((cdir / "reference.json").read_text())
    ref["_dir"] = str(cdir)
    hf_dir = cdir / "hf"
    cfg = json.loads((hf_dir / "config.json").read_text())
    tok_json = json.loads((hf_dir / "tokenizer.json").read_text())
    tok_cfg = json.loads((hf_dir / "tokenizer_config.json").read_text())
    meta, tensors, types = read_gguf(cdir / "model.gguf")
    check_metadata(meta, cfg, ref, tok_json, tok_cfg)
    hf = load_hf_state(hf_dir)
    check_tensors(meta, tensors, types, hf, cfg, ref)
    for p in ref["prompts"]:
        want = np.load(cdir / p["logits_npy"])
        assert want.dtype == np.float32 and want.shape == (len(p["ids"]), cfg["vocab_size"])
        got = gguf_forward(meta, tensors, p["ids"])
        err = float(np.max(np.abs(got - want)))
        assert err < LOGITS_ATOL, f"{cdir.name}: GGUF numpy forward vs HF logits max|diff| {err:g}"
    # greedy continuation re-derived from the numpy forward (checks the margins are real)
    for g in ref["greedy"]:
        ids = list(g["prompt_ids"])
        for _ in g["generated_ids"]:
            ids.append(int(np.argmax(gguf_forward(meta, tensors, ids)[-1])))
        assert ids[len(g["prompt_ids"]):] == g["generated_ids"], f"{cdir.name}: greedy mismatch"


def main(argv: list[str]) -> int:
    dirs = [Path(a) for a in argv] or sorted(d for d in FIXTURES.iterdir() if (d / "reference.json").exists())
    for d in dirs:
        check_case(d)
        print(f"{d.name:16s} ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
