#!/usr/bin/env python3
"""Generate tiny random-weight model fixtures: HF checkpoint + GGUF + reference logits.

Usage:  python3 python/oracle/gen_model_fixtures.py [--out DIR] [--only CASE[,CASE...]]

For every case this builds a small model with Hugging Face transformers (from a config in this
file, no downloads), randomizes its weights with a fixed seed, and writes
tests/fixtures/models/<case>/:

  hf/              save_pretrained output + tokenizer.json + tokenizer_config.json
  model.gguf       the same weights written with the gguf package's GGUFWriter following
                   llama.cpp's converter conventions (Q/K permutation for arch "llama", ...)
  reference.json   prompts, greedy continuations, tokenizations (see docs/oracles.md)
  logits_K.npy     float32 [n_tokens, vocab] logits at every position of prompt K

Then it re-reads everything (check_gguf_vs_hf.check_case) and fails loudly on any mismatch.
Output is deterministic for a fixed set of package versions.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

import numpy as np
import torch
import gguf
from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

sys.path.insert(0, str(Path(__file__).resolve().parent))
from corpus import CORPUS, TOKENIZE_TEXTS  # noqa: E402
from gguf_conventions import hf_to_gguf_name, llama3_rope_factors, permute_qk  # noqa: E402
import check_gguf_vs_hf  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
DEFAULT_OUT = REPO / "tests" / "fixtures" / "models"

CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

# Pre-tokenizer split patterns (the published regexes of the respective tokenizer families).
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                 r"|\s*[\r\n]+|\s+(?!\S)|\s+")
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")


@dataclass
class TokSpec:
    name: str
    vocab_size: int
    ggml_pre: str                 # tokenizer.ggml.pre value in GGUF
    specials: list[str]
    specials_first: bool          # True: specials get ids 0..k-1, else the last k ids
    bos: str | None
    eos: str
    add_bos: bool
    ggml_bos: str                 # bos id written to GGUF (llama.cpp always wants one)


TOKENIZERS = {
    # GPT-2 byte-level regex, specials first, BOS added (llama-2-like ids: <s>=0, </s>=1).
    "gpt2": TokSpec("gpt2", 384, "gpt-2", ["<s>", "</s>", "<|im_start|>", "<|im_end|>"], True,
                    "<s>", "</s>", True, "<s>"),
    # Llama-3 split regex, specials last, BOS added.
    "llama3": TokSpec("llama3", 352, "llama-bpe",
                      ["<|begin_of_text|>", "<|end_of_text|>", "<|im_start|>", "<|im_end|>"], False,
                      "<|begin_of_text|>", "<|end_of_text|>", True, "<|begin_of_text|>"),
    # Qwen2 split regex + NFC, specials last, no BOS (bos_token null in tokenizer_config).
    "qwen2": TokSpec("qwen2", 320, "qwen2", ["<|endoftext|>", "<|im_start|>", "<|im_end|>"], False,
                     None, "<|im_end|>", False, "<|endoftext|>"),
}


@dataclass
class Case:
    name: str
    model_type: str               # HF model_type: llama | mistral | qwen2 | qwen3
    gguf_arch: str                # llama | qwen2 | qwen3
    tok: str
    hidden: int = 64
    inter: int = 128
    layers: int = 2
    heads: int = 4
    kv_heads: int = 4
    head_dim: int = 16
    rope_theta: float = 10000.0
    rope_scaling: dict | None = None
    eps: float = 1e-5
    tied: bool = False
    sliding_window: int | None = None
    dtype: str = "f32"            # f32 | f16 | bf16 (storage dtype of HF and GGUF weights)
    max_shard_size: str | None = None
    legacy_config: bool = True    # rewrite config.json rope_parameters -> rope_theta/rope_scaling
    prompt_lens: list[int] = field(default_factory=lambda: [1, 5, 40])
    seed: int = 0


CASES = [
    Case("llama", "llama", "llama", "gpt2", inter=128, seed=101),
    Case("llama3_gqa", "llama", "llama", "llama3", inter=96, kv_heads=2, rope_theta=500000.0,
         rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                       "original_max_position_embeddings": 64}, seed=202),
    Case("llama_mqa_tied", "llama", "llama", "gpt2", inter=160, kv_heads=1, tied=True, eps=1e-6, seed=303),
    Case("mistral", "mistral", "llama", "gpt2", inter=128, kv_heads=2, sliding_window=8,
         prompt_lens=[1, 5, 19, 40], seed=404),
    Case("qwen2", "qwen2", "qwen2", "qwen2", inter=96, kv_heads=2, tied=True, eps=1e-6, rope_theta=1000000.0,
         seed=505),
    Case("qwen3", "qwen3", "qwen3", "qwen2", inter=128, kv_heads=2, eps=1e-6, rope_theta=1000000.0,
         legacy_config=False, seed=606),
    Case("qwen3_hd32", "qwen3", "qwen3", "qwen2", inter=96, kv_heads=2, head_dim=32, eps=1e-6, tied=True,
         rope_theta=1000000.0, legacy_config=False, seed=707),
    Case("llama_f16", "llama", "llama", "gpt2", inter=128, dtype="f16", seed=808),
    Case("llama_bf16", "llama", "llama", "gpt2", inter=128, dtype="bf16", legacy_config=False, seed=909),
    Case("llama_sharded", "llama", "llama", "gpt2", inter=128, kv_heads=2, max_shard_size="150KB", seed=1010),
]

MAX_POS = 256
N_GREEDY = 16
MIN_MARGIN = 2e-3                 # regenerate weights (next seed) if a greedy step is closer than this
TORCH_DTYPES = {"f32": torch.float32, "f16": torch.float16, "bf16": torch.bfloat16}


# ----------------------------------------------------------------------------------------------
# tokenizer
# ----------------------------------------------------------------------------------------------
def build_tokenizer(spec: TokSpec) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    if spec.ggml_pre == "gpt-2":
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    else:
        pattern = QWEN2_PATTERN if spec.ggml_pre == "qwen2" else LLAMA3_PATTERN
        if spec.ggml_pre == "qwen2":
            tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ])
    tok.decoder = decoders.ByteLevel()
    n_train = spec.vocab_size - (0 if spec.specials_first else len(spec.specials))
    trainer = trainers.BpeTrainer(
        vocab_size=n_train, min_frequency=1, show_progress=False,
        special_tokens=spec.specials if spec.specials_first else [],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(CORPUS.splitlines(keepends=True), trainer)
    if not spec.specials_first:
        tok.add_special_tokens(spec.specials)
    if tok.get_vocab_size() != spec.vocab_size:
        raise SystemExit(f"tokenizer {spec.name}: trained vocab {tok.get_vocab_size()} != {spec.vocab_size}; "
                         "enlarge the corpus")
    if spec.add_bos:
        bos_id = tok.token_to_id(spec.bos)
        tok.post_processor = processors.TemplateProcessing(
            single=f"{spec.bos} $A:0", pair=f"{spec.bos} $A:0 {spec.bos} $B:1",
            special_tokens=[(spec.bos, bos_id)])
    return tok


def tokenizer_config(spec: TokSpec, tok: Tokenizer) -> dict:
    added = {}
    for s in spec.specials:
        added[str(tok.token_to_id(s))] = {"content": s, "lstrip": False, "normalized": False, "rstrip": False,
                                          "single_word": False, "special": True}
    return {
        "add_bos_token": spec.add_bos,
        "add_eos_token": False,
        "added_tokens_decoder": added,
        "bos_token": spec.bos,
        "chat_template": CHATML_TEMPLATE,
        "clean_up_tokenization_spaces": False,
        "eos_token": spec.eos,
        "model_max_length": MAX_POS,
        "pad_token": None,
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": None,
    }


def tokenizer_gguf_data(spec: TokSpec, tok: Tokenizer, tok_json: dict):
    vocab = tok.get_vocab(with_added_tokens=True)
    id_to_tok = {i: t for t, i in vocab.items()}
    assert sorted(id_to_tok) == list(range(spec.vocab_size))
    tokens = [id_to_tok[i] for i in range(spec.vocab_size)]
    special_ids = {tok.token_to_id(s) for s in spec.specials}
    types = [int(gguf.TokenType.CONTROL) if i in special_ids else int(gguf.TokenType.NORMAL)
             for i in range(spec.vocab_size)]
    merges = []
    for m in tok_json["model"]["merges"]:
        merges.append(m if isinstance(m, str) else " ".join(m))
    return tokens, types, merges


# ----------------------------------------------------------------------------------------------
# model
# ----------------------------------------------------------------------------------------------
def make_config(case: Case, spec: TokSpec, tok: Tokenizer):
    rope = {"rope_type": "default", "rope_theta": case.rope_theta}
    if case.rope_scaling:
        rope = dict(case.rope_scaling, rope_theta=case.rope_theta)
    bos_id = tok.token_to_id(spec.ggml_bos)
    eos_id = tok.token_to_id(spec.eos)
    common = dict(vocab_size=spec.vocab_size, hidden_size=case.hidden, intermediate_size=case.inter,
                  num_hidden_layers=case.layers, num_attention_heads=case.heads,
                  num_key_value_heads=case.kv_heads, head_dim=case.head_dim, hidden_act="silu",
                  max_position_embeddings=MAX_POS, rms_norm_eps=case.eps, tie_word_embeddings=case.tied,
                  rope_parameters=rope, bos_token_id=bos_id, eos_token_id=eos_id, initializer_range=0.02,
                  use_cache=True)
    if case.model_type == "llama":
        return transformers.LlamaConfig(**common, attention_bias=False, mlp_bias=False)
    if case.model_type == "mistral":
        return transformers.MistralConfig(**common, sliding_window=case.sliding_window)
    if case.model_type == "qwen2":
        return transformers.Qwen2Config(**common, use_sliding_window=False, max_window_layers=case.layers)
    if case.model_type == "qwen3":
        return transformers.Qwen3Config(**common, attention_bias=False, use_sliding_window=False,
                                        max_window_layers=case.layers)
    raise ValueError(case.model_type)


def randomize(model, seed: int):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                v = 1.0 + 0.15 * torch.randn(p.shape, generator=g)
            elif name.endswith(".bias"):
                v = 0.2 * torch.randn(p.shape, generator=g)
            elif "embed_tokens" in name or "lm_head" in name:
                v = 0.15 * torch.randn(p.shape, generator=g)
            else:
                v = 0.1 * torch.randn(p.shape, generator=g)
            p.copy_(v.to(p.dtype))


@torch.no_grad()
def full_logits(model, ids: list[int]) -> np.ndarray:
    out = model(input_ids=torch.tensor([ids], dtype=torch.long), use_cache=False)
    return out.logits[0].float().numpy().astype(np.float32)


@torch.no_grad()
def greedy_no_cache(model, prompt: list[int], n: int):
    ids = list(prompt)
    margins = []
    for _ in range(n):
        last = full_logits(model, ids)[-1]
        top2 = np.sort(last)[-2:]
        margins.append(float(top2[1] - top2[0]))
        ids.append(int(np.argmax(last)))
    return ids[len(prompt):], margins


@torch.no_grad()
def greedy_generate(model, prompt: list[int], n: int) -> list[int]:
    gc = copy.deepcopy(model.generation_config)
    gc.do_sample = False
    gc.max_new_tokens = n
    gc.min_new_tokens = None
    gc.eos_token_id = None     # never stop early: we want exactly n tokens
    gc.pad_token_id = 0
    out = model.generate(torch.tensor([prompt]), generation_config=gc,
                         attention_mask=torch.ones(1, len(prompt), dtype=torch.long))
    return out[0, len(prompt):].tolist()


def make_prompts(case: Case, spec: TokSpec, tok: Tokenizer) -> list[list[int]]:
    text = (CORPUS * 2).replace("\n", " ")
    ids = tok.encode(text, add_special_tokens=True).ids
    prompts = []
    for n in case.prompt_lens:
        if n == 1:
            prompts.append([tok.token_to_id(spec.bos)] if spec.bos else ids[:1])
        else:
            prompts.append(ids[:n])
    return prompts


def legacy_rope_config(cfg: dict) -> dict:
    """Rewrite transformers-5 'rope_parameters' as the rope_theta/rope_scaling pair most hub
    checkpoints carry, keeping key order stable."""
    rp = cfg.pop("rope_parameters")
    cfg["rope_theta"] = rp["rope_theta"]
    if rp.get("rope_type", "default") != "default":
        cfg["rope_scaling"] = {k: v for k, v in rp.items() if k != "rope_theta"}
    else:
        cfg["rope_scaling"] = None
    return dict(sorted(cfg.items()))


# ----------------------------------------------------------------------------------------------
# GGUF
# ----------------------------------------------------------------------------------------------
FILE_TYPES = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
              "bf16": gguf.LlamaFileType.MOSTLY_BF16}


def write_gguf(path: Path, case: Case, spec: TokSpec, tok: Tokenizer, tok_json: dict,
               state: dict[str, np.ndarray]):
    arch = case.gguf_arch
    w = gguf.GGUFWriter(str(path), arch)
    w.add_name(case.name)
    w.add_context_length(MAX_POS)
    w.add_embedding_length(case.hidden)
    w.add_block_count(case.layers)
    w.add_feed_forward_length(case.inter)
    w.add_head_count(case.heads)
    w.add_head_count_kv(case.kv_heads)
    w.add_rope_freq_base(case.rope_theta)
    w.add_layer_norm_rms_eps(case.eps)
    if case.head_dim != case.hidden // case.heads or case.model_type == "qwen3":
        w.add_key_length(case.head_dim)
        w.add_value_length(case.head_dim)
    if arch == "llama":
        w.add_rope_dimension_count(case.head_dim)
    if case.sliding_window:
        w.add_sliding_window(case.sliding_window)
    w.add_vocab_size(spec.vocab_size)
    w.add_file_type(FILE_TYPES[case.dtype])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    tokens, types, merges = tokenizer_gguf_data(spec, tok, tok_json)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(spec.ggml_pre)
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_bos_token_id(tok.token_to_id(spec.ggml_bos))
    w.add_eos_token_id(tok.token_to_id(spec.eos))
    w.add_add_bos_token(spec.add_bos)
    w.add_add_eos_token(False)
    w.add_chat_template(CHATML_TEMPLATE)

    def put(name: str, arr: np.ndarray):
        arr = np.ascontiguousarray(arr, dtype=np.float32)
        if arr.ndim == 1 or case.dtype == "f32":
            w.add_tensor(name, arr)                      # 1-D tensors (norms, biases) stay F32
        elif case.dtype == "f16":
            w.add_tensor(name, arr.astype(np.float16))
        else:
            raw = gguf.quants.quantize(arr, gguf.GGMLQuantizationType.BF16)
            w.add_tensor(name, raw, raw_shape=raw.shape, raw_dtype=gguf.GGMLQuantizationType.BF16)

    names = list(state)
    ordered = ["model.embed_tokens.weight"]
    for i in range(case.layers):
        ordered += sorted(n for n in names if n.startswith(f"model.layers.{i}."))
    ordered += ["model.norm.weight"] + (["lm_head.weight"] if "lm_head.weight" in state else [])
    assert sorted(ordered) == sorted(names), set(names) ^ set(ordered)

    put("token_embd.weight", state["model.embed_tokens.weight"])
    if case.rope_scaling and case.rope_scaling["rope_type"] == "llama3":
        rs = case.rope_scaling
        put("rope_freqs.weight", llama3_rope_factors(case.head_dim, case.rope_theta, rs["factor"],
                                                     rs["low_freq_factor"], rs["high_freq_factor"],
                                                     rs["original_max_position_embeddings"]))
    for n in ordered[1:]:
        t = state[n]
        if arch == "llama" and (n.endswith("q_proj.weight") or n.endswith("q_proj.bias")):
            t = permute_qk(t, case.heads)
        elif arch == "llama" and (n.endswith("k_proj.weight") or n.endswith("k_proj.bias")):
            t = permute_qk(t, case.kv_heads)
        put(hf_to_gguf_name(n), t)

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


# ----------------------------------------------------------------------------------------------
# driver
# ----------------------------------------------------------------------------------------------
def build_case(case: Case, out_root: Path, toks: dict):
    spec = TOKENIZERS[case.tok]
    tok, tok_json = toks[case.tok]
    cdir = out_root / case.name
    if cdir.exists():
        shutil.rmtree(cdir)
    hf_dir = cdir / "hf"
    hf_dir.mkdir(parents=True)

    cfg = make_config(case, spec, tok)
    prompts = make_prompts(case, spec, tok)
    # Pick the first seed whose greedy continuation has no near-ties (robust argmax reference).
    for attempt in range(50):
        seed = case.seed + attempt
        torch.manual_seed(seed)
        model = AutoModelForCausalLM.from_config(cfg, attn_implementation="eager", dtype=torch.float32)
        model.eval()
        randomize(model, seed)
        if case.dtype != "f32":
            # round the parameters (not the rope buffers) to the storage dtype, compute in float32
            with torch.no_grad():
                for p in model.parameters():
                    p.copy_(p.to(TORCH_DTYPES[case.dtype]).float())
        gen_ids, margins = greedy_no_cache(model, prompts[1], N_GREEDY)
        if min(margins) >= MIN_MARGIN and len(set(gen_ids)) > 2:
            break
    else:
        raise SystemExit(f"{case.name}: no seed with a clear greedy path")

    # save the checkpoint in the storage dtype
    save_model = model
    if case.dtype != "f32":
        save_model = copy.deepcopy(model).to(TORCH_DTYPES[case.dtype])
    kw = {"max_shard_size": case.max_shard_size} if case.max_shard_size else {}
    save_model.save_pretrained(str(hf_dir), safe_serialization=True, **kw)
    del save_model
    cfg_path = hf_dir / "config.json"
    cfg_json = json.loads(cfg_path.read_text())
    if case.legacy_config:
        cfg_json = legacy_rope_config(cfg_json)
    cfg_path.write_text(json.dumps(cfg_json, indent=2) + "\n")

    (hf_dir / "tokenizer.json").write_text(json.dumps(tok_json, indent=2, ensure_ascii=False) + "\n",
                                           encoding="utf-8")
    (hf_dir / "tokenizer_config.json").write_text(
        json.dumps(tokenizer_config(spec, tok), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    # reference logits from the in-memory float32 model
    ref_prompts = []
    for k, ids in enumerate(prompts):
        logits = full_logits(model, ids)
        assert logits.shape == (len(ids), spec.vocab_size) and np.isfinite(logits).all()
        np.save(cdir / f"logits_{k}.npy", logits)
        ref_prompts.append({"ids": ids, "logits_npy": f"logits_{k}.npy"})

    # the saved checkpoint, loaded back by transformers in float32, must reproduce the reference
    reloaded = AutoModelForCausalLM.from_pretrained(str(hf_dir), dtype=torch.float32, attn_implementation="eager")
    reloaded.eval()
    for p in ref_prompts:
        err = np.max(np.abs(full_logits(reloaded, p["ids"]) - np.load(cdir / p["logits_npy"])))
        if err > 1e-6:
            raise SystemExit(f"{case.name}: reloaded hf/ checkpoint differs from reference by {err:g}")
    del reloaded

    gen_cached = greedy_generate(model, prompts[1], N_GREEDY)
    if gen_cached != gen_ids:
        raise SystemExit(f"{case.name}: generate() {gen_cached} != no-cache greedy {gen_ids}")

    # tokenization references (tokenizers library; cross-checked with transformers AutoTokenizer)
    hf_tok = AutoTokenizer.from_pretrained(str(hf_dir))
    tok_refs = []
    for text in TOKENIZE_TEXTS:
        ids = tok.encode(text, add_special_tokens=True).ids
        ids_hf = hf_tok(text)["input_ids"]
        if ids != ids_hf:
            raise SystemExit(f"{case.name}: tokenizers {ids} != transformers {ids_hf} for {text!r}")
        assert tok.decode(ids, skip_special_tokens=False).endswith(text) or not spec.add_bos
        tok_refs.append({"text": text, "ids": ids})
    messages = [{"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Hi there"},
                {"role": "assistant", "content": "Hello."},
                {"role": "user", "content": "What is 2+2?"}]
    chat_text = hf_tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    chat_ids = tok.encode(chat_text, add_special_tokens=True).ids

    # weights as stored (rounded to the storage dtype), float32 numpy, HF names
    state = {n: t.detach().float().numpy().copy() for n, t in model.state_dict().items()}
    if case.tied:
        state.pop("lm_head.weight", None)
    write_gguf(cdir / "model.gguf", case, spec, tok, tok_json, state)

    ref = {
        "case": case.name,
        "architecture": case.model_type,
        "hf_architecture": cfg_json["architectures"][0],
        "gguf_architecture": case.gguf_arch,
        "weights_dtype": case.dtype,
        "seed": seed,
        "vocab_size": spec.vocab_size,
        "tokenizer": {"name": spec.name, "ggml_pre": spec.ggml_pre,
                      "bos_id": tok.token_to_id(spec.bos) if spec.bos else None,
                      "eos_id": tok.token_to_id(spec.eos), "add_bos": spec.add_bos},
        "config_style": "legacy rope_theta/rope_scaling" if case.legacy_config else "transformers-5 rope_parameters",
        "gguf_qk_permuted": case.gguf_arch == "llama",
        "rope_style_hf": "neox",
        "rope_style_gguf": "interleaved" if case.gguf_arch == "llama" else "neox",
        "sliding_window": case.sliding_window,
        "prompts": ref_prompts,
        "greedy": [{"prompt_ids": prompts[1], "generated_ids": gen_ids,
                    "min_top2_margin": round(min(margins), 6)}],
        "tokenize": tok_refs,
        "chat": [{"messages": messages, "add_generation_prompt": True, "text": chat_text, "ids": chat_ids}],
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "tokenizers": __import__("tokenizers").__version__,
                     "gguf": getattr(gguf, "__version__", None) or _pkg_version("gguf")},
    }
    (cdir / "reference.json").write_text(json.dumps(ref, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return cdir


def _pkg_version(name: str) -> str:
    from importlib.metadata import version
    return version(name)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--only", default="", help="comma-separated case names")
    args = ap.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()

    wanted = [c for c in CASES if not args.only or c.name in args.only.split(",")]
    toks = {}
    for name in sorted({c.tok for c in wanted}):
        t = build_tokenizer(TOKENIZERS[name])
        toks[name] = (t, json.loads(t.to_str()))
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for case in wanted:
        cdir = build_case(case, args.out, toks)
        check_gguf_vs_hf.check_case(cdir)
        size = sum(f.stat().st_size for f in cdir.rglob("*") if f.is_file())
        total += size
        print(f"{case.name:16s} ok  {size / 1024:7.1f} KiB")
    print(f"total {total / 1024:.1f} KiB in {args.out}")


if __name__ == "__main__":
    main()
