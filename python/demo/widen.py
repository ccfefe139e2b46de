"""Widens a trained Llama checkpoint function-preservingly: a memory-bound twin of a small model.

  python3 -m demo.widen models/tokenmill-default-hf -o /tmp/twin-1b [--hidden-mult 8] [--head-mult 8]
      [--ffn-mult 16] [--dtype f16|bf16|f32] [--verify]

The demo target (11M parameters) fits in a CPU's cache, so its speed says little about serving a
real model. Its twin has the layer count, vocabulary and behaviour of the demo model but the width
of a ~1B model (defaults: hidden 384 -> 3072, heads 6 -> 48 with kv heads 2 -> 16, FFN 1024 ->
16384; 1.07B parameters), so every decode step streams 2 GB of f16 weights like a real 1B model.

Construction (k = hidden-mult, m = head-mult, f = ffn-mult):
  residual stream  each hidden unit is repeated k times (embedding columns and RMSNorm weights
                   repeated; RMS over k copies equals RMS over one, so the norms are unchanged);
  readers of it    q/k/v, gate/up and the output head: columns repeated, divided by k
                   (k equal terms w/k * h sum to w * h);
  writers to it    attention output and FFN down: rows repeated (outputs land in every copy);
  heads            every query and kv head repeated m times (same head_dim, so RoPE and the
                   softmax scale are unchanged; query head j*m+r reads a copy of its kv head),
                   the attention output's columns repeated and divided by m;
  FFN units        gate/up rows repeated f times, down columns repeated and divided by f.
With powers of two the divisions are exact, so in f16 or f32 the widened weights hold exactly the
original values scaled by 2^-n, and the logits differ only by the order of float additions.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file, save_file

DTYPES = {"f16": np.float16, "f32": np.float32}
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json")


def rep(a: np.ndarray, times: int, axis: int) -> np.ndarray:
    return np.repeat(a, times, axis=axis)


def rep_heads(w: np.ndarray, head_dim: int, times: int, axis: int) -> np.ndarray:
    """Repeats whole heads (blocks of head_dim along axis) times, each copy next to its original."""
    shape = list(w.shape)
    n_heads = shape[axis] // head_dim
    blocks = w.reshape(shape[:axis] + [n_heads, head_dim] + shape[axis + 1:])
    out = np.repeat(blocks, times, axis=axis)
    shape[axis] *= times
    return out.reshape(shape)


def widen_tensors(t: dict[str, np.ndarray], cfg: dict, k: int, m: int, f: int) -> dict[str, np.ndarray]:
    """t: HF Llama tensors (f32) -> the widened tensors (f32)."""
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    out = {}
    for name, w in t.items():
        if name.endswith("embed_tokens.weight"):
            out[name] = rep(w, k, 1)
        elif name.endswith("norm.weight"):  # input_layernorm, post_attention_layernorm, model.norm
            out[name] = rep(w, k, 0)
        elif name.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight")):
            out[name] = rep(rep_heads(w, hd, m, 0), k, 1) / k
        elif name.endswith("o_proj.weight"):
            out[name] = rep(rep_heads(w, hd, m, 1), k, 0) / m
        elif name.endswith(("gate_proj.weight", "up_proj.weight")):
            out[name] = rep(rep(w, f, 0), k, 1) / k
        elif name.endswith("down_proj.weight"):
            out[name] = rep(rep(w, f, 1), k, 0) / f
        elif name == "lm_head.weight":
            out[name] = rep(w, k, 1) / k
        else:
            raise SystemExit(f"widen: no rule for tensor '{name}' (biases and other architectures are not supported)")
    return out


def widened_config(cfg: dict, k: int, m: int, f: int) -> dict:
    hd = cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"]
    new = dict(cfg)
    new.update(hidden_size=cfg["hidden_size"] * k, num_attention_heads=cfg["num_attention_heads"] * m,
               num_key_value_heads=cfg.get("num_key_value_heads", cfg["num_attention_heads"]) * m,
               intermediate_size=cfg["intermediate_size"] * f, head_dim=hd)
    return new


def parameter_count(cfg: dict) -> int:
    d, hd = cfg["hidden_size"], cfg["head_dim"]
    q, kv = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd
    layer = d * q * 2 + d * kv * 2 + 3 * d * cfg["intermediate_size"] + 2 * d
    return cfg["num_hidden_layers"] * layer + 2 * cfg["vocab_size"] * d + d


def widen_checkpoint(src: Path, dst: Path, k: int, m: int, f: int, dtype: str) -> dict:
    cfg = json.loads((src / "config.json").read_text())
    if cfg.get("model_type") != "llama":
        raise SystemExit(f"widen: {src} is a '{cfg.get('model_type')}' checkpoint; only llama is supported")
    if cfg.get("tie_word_embeddings"):
        raise SystemExit("widen: tied embeddings are not supported (the output head is widened on its own)")
    files = sorted(src.glob("*.safetensors"))
    if not files:
        raise SystemExit(f"widen: no .safetensors files in {src}")
    tensors = {}
    for path in files:
        tensors.update({n: a.astype(np.float32) for n, a in load_file(path).items()})
    wide = widen_tensors(tensors, cfg, k, m, f)
    new_cfg = widened_config(cfg, k, m, f)
    new_cfg["dtype"] = {"f16": "float16", "f32": "float32"}[dtype]
    new_cfg.pop("torch_dtype", None)
    dst.mkdir(parents=True, exist_ok=True)
    save_file({n: a.astype(DTYPES[dtype]) for n, a in wide.items()}, dst / "model.safetensors",
              metadata={"format": "pt"})
    (dst / "config.json").write_text(json.dumps(new_cfg, indent=2) + "\n")
    for name in TOKENIZER_FILES:
        if (src / name).exists():
            shutil.copy(src / name, dst / name)
    return new_cfg


def tokenmill_logits(binary: str, model: Path, prompt: str, out: Path) -> np.ndarray:
    subprocess.run([binary, "logits", "-m", str(model), "-p", prompt, "--all", "-o", str(out)], check=True,
                   capture_output=True)
    return np.load(out)


def verify(binary: str, src: Path, dst: Path, prompt: str) -> float:
    """Max |logit difference| / max |logit| between the original and the widened model in tokenmill."""
    with tempfile.TemporaryDirectory() as tmp:
        a = tokenmill_logits(binary, src, prompt, Path(tmp) / "a.npy")
        b = tokenmill_logits(binary, dst, prompt, Path(tmp) / "b.npy")
    return float(np.abs(a - b).max() / np.abs(a).max())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("src", type=Path, help="HF checkpoint directory (llama, untied)")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--hidden-mult", type=int, default=8)
    p.add_argument("--head-mult", type=int, default=8)
    p.add_argument("--ffn-mult", type=int, default=16)
    p.add_argument("--dtype", choices=sorted(DTYPES), default="f16")
    p.add_argument("--verify", action="store_true",
                   help="compare tokenmill's logits of both models on --prompt (needs build/tokenmill)")
    p.add_argument("--prompt", default="Once upon a time, there was a little fox named Pip.")
    a = p.parse_args(argv)
    for name in ("hidden_mult", "head_mult", "ffn_mult"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1")
    if not (a.src / "config.json").is_file():
        p.error(f"{a.src}: no config.json (expected a Hugging Face checkpoint directory)")
    cfg = widen_checkpoint(a.src, a.out, a.hidden_mult, a.head_mult, a.ffn_mult, a.dtype)
    print(f"widened {a.src} -> {a.out}: hidden {cfg['hidden_size']}, heads {cfg['num_attention_heads']}/"
          f"{cfg['num_key_value_heads']}, ffn {cfg['intermediate_size']}, "
          f"{parameter_count(cfg) / 1e9:.3f}B parameters ({a.dtype})")
    if a.verify:
        from .gguf_export import tokenmill_bin
        rel = verify(tokenmill_bin(), a.src, a.out, a.prompt)
        print(f"verify: max |logit difference| = {rel:.2e} of max |logit|")


if __name__ == "__main__":
    main()
