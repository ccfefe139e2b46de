"""Shapes of the demo models (Llama architecture, Hugging Face transformers' LlamaForCausalLM)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

# Hidden size, layers, attention heads, kv heads (GQA), FFN size. head_dim = hidden / heads = 64.
SHAPES = {
    "target": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=6, num_key_value_heads=2,
                   intermediate_size=1024),
    "draft": dict(hidden_size=128, num_hidden_layers=4, num_attention_heads=2, num_key_value_heads=1,
                  intermediate_size=384),
    # Tests only: one tiny step of the whole pipeline.
    "tiny": dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                 intermediate_size=128),
}
MAX_CONTEXT = 2048


def config_for(shape: str, vocab_size: int, bos_id: int, eos_id: int) -> LlamaConfig:
    if shape not in SHAPES:
        raise ValueError(f"unknown model shape '{shape}' (known: {', '.join(SHAPES)})")
    return LlamaConfig(vocab_size=vocab_size, max_position_embeddings=MAX_CONTEXT, rms_norm_eps=1e-5,
                       rope_theta=10000.0, tie_word_embeddings=False, bos_token_id=bos_id,
                       eos_token_id=eos_id, hidden_act="silu", attention_bias=False, mlp_bias=False,
                       **SHAPES[shape])


def build(shape: str, vocab_size: int, bos_id: int, eos_id: int, seed: int) -> LlamaForCausalLM:
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config_for(shape, vocab_size, bos_id, eos_id))
    return model


def parameter_count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def save_checkpoint(model: LlamaForCausalLM, out: Path, tokenizer_dir: Path, dtype: torch.dtype,
                    eos_ids: list[int]) -> None:
    """An HF checkpoint: safetensors in dtype, config.json, generation_config.json, tokenizer files."""
    out.mkdir(parents=True, exist_ok=True)
    copy = LlamaForCausalLM(model.config)
    copy.load_state_dict(model.state_dict())
    copy.to(dtype)
    copy.generation_config = GenerationConfig(bos_token_id=model.config.bos_token_id, eos_token_id=eos_ids,
                                              do_sample=True, temperature=0.8, top_p=0.95)
    copy.save_pretrained(out, safe_serialization=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        shutil.copy(tokenizer_dir / name, out / name)


def load_checkpoint(path: Path, dtype: torch.dtype = torch.float32) -> LlamaForCausalLM:
    model = LlamaForCausalLM.from_pretrained(path, dtype=dtype)
    model.eval()
    return model


def read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())
