#!/usr/bin/env python3
"""Write a random-weight llama-architecture GGUF of any shape (for benchmarks and load tests).

Example (TinyLlama-1.1B shape, real llama SentencePiece vocab copied from a vocab-only GGUF):
  python3 python/oracle/make_random_gguf.py --dim 2048 --layers 22 --heads 32 --kv-heads 4 \
      --ffn 5632 --dtype f16 --vocab-from /work/shared/testdata/vocab/ggml-vocab-llama-spm.gguf -o tiny.gguf

Without --vocab-from a synthetic GPT-2 style byte-level BPE vocab (256 byte tokens, random but valid
merges, <|begin_of_text|>/<|end_of_text|> at the end) of --vocab tokens is embedded.

Tensors are generated and written one row-chunk at a time, so peak memory stays around
--chunk-mb regardless of model size.  The weights are random (std --std, norms ~1): the model's
output is meaningless, but its size, layout, metadata and compute cost are those of a real model.
Tensor layout follows llama.cpp's converter (Q/K in permuted "llama" layout — irrelevant for
random data, but the file is indistinguishable in structure from a converted checkpoint).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import gguf

QTYPES = {
    "f32": gguf.GGMLQuantizationType.F32,
    "f16": gguf.GGMLQuantizationType.F16,
    "bf16": gguf.GGMLQuantizationType.BF16,
    "q8_0": gguf.GGMLQuantizationType.Q8_0,
    "q4_0": gguf.GGMLQuantizationType.Q4_0,
}
FILE_TYPES = {
    "f32": gguf.LlamaFileType.ALL_F32,
    "f16": gguf.LlamaFileType.MOSTLY_F16,
    "bf16": gguf.LlamaFileType.MOSTLY_BF16,
    "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    "q4_0": gguf.LlamaFileType.MOSTLY_Q4_0,
}


def byte_level_alphabet() -> list[str]:
    """The byte -> printable-unicode mapping used by GPT-2 style byte-level BPE, indexed by byte."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    out = {}
    extra = 0
    for b in range(256):
        if b in keep:
            out[b] = chr(b)
        else:
            out[b] = chr(256 + extra)
            extra += 1
    return [out[b] for b in range(256)]


def synthetic_gpt2_vocab(n_vocab: int, seed: int):
    specials = ["<|begin_of_text|>", "<|end_of_text|>"]
    n_merges = n_vocab - 256 - len(specials)
    if n_merges < 0:
        raise SystemExit("--vocab must be at least 258 for the synthetic gpt2 vocab")
    rng = np.random.default_rng(seed)
    tokens = byte_level_alphabet()
    known = set(tokens)
    letters = [tokens[b] for b in range(ord("a"), ord("z") + 1)] + [tokens[ord(" ")]]
    grown = list(letters)          # letter-only pieces: merges build word-like tokens from these
    merges = []
    while len(merges) < n_merges:
        a = grown[int(rng.integers(len(grown)))]
        b = letters[int(rng.integers(len(letters)))] if rng.random() < 0.8 else grown[int(rng.integers(len(grown)))]
        new = a + b
        if new in known or len(new) > 16:
            continue
        known.add(new)
        tokens.append(new)
        grown.append(new)
        merges.append(f"{a} {b}")
    types = [int(gguf.TokenType.NORMAL)] * len(tokens) + [int(gguf.TokenType.CONTROL)] * len(specials)
    tokens += specials
    return tokens, types, merges, len(tokens) - 2, len(tokens) - 1


def copy_tokenizer(w: gguf.GGUFWriter, path: Path) -> int:
    r = gguf.GGUFReader(str(path))
    n = None
    for name, f in r.fields.items():
        if not name.startswith("tokenizer."):
            continue
        val = f.contents()
        if f.types[0] == gguf.GGUFValueType.ARRAY:
            w.add_key_value(name, val, gguf.GGUFValueType.ARRAY, sub_type=f.types[-1])
        else:
            w.add_key_value(name, val, f.types[0])
        if name == "tokenizer.ggml.tokens":
            n = len(val)
    if n is None:
        raise SystemExit(f"{path}: no tokenizer.ggml.tokens")
    return n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dim", type=int, default=768)
    ap.add_argument("--layers", type=int, default=12)
    ap.add_argument("--heads", type=int, default=12)
    ap.add_argument("--kv-heads", type=int, default=None, help="default: --heads")
    ap.add_argument("--head-dim", type=int, default=None, help="default: dim / heads")
    ap.add_argument("--ffn", type=int, default=2048)
    ap.add_argument("--vocab", type=int, default=None,
                    help="vocab size (default: from --vocab-from, else 32000)")
    ap.add_argument("--vocab-from", type=Path, default=None,
                    help="copy every tokenizer.* key from this GGUF (e.g. a ggml-vocab-*.gguf)")
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--rope-theta", type=float, default=10000.0)
    ap.add_argument("--eps", type=float, default=1e-5)
    ap.add_argument("--dtype", choices=sorted(QTYPES), default="f16",
                    help="type of the 2-D weights; norms are always F32 (llama.cpp convention)")
    ap.add_argument("--tied", action="store_true", help="omit output.weight (tied embeddings)")
    ap.add_argument("--std", type=float, default=0.02)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk-mb", type=int, default=64, help="float32 scratch per write chunk")
    ap.add_argument("--name", default="random-llama")
    ap.add_argument("-o", "--output", type=Path, required=True)
    a = ap.parse_args(argv)

    kv_heads = a.kv_heads or a.heads
    head_dim = a.head_dim or a.dim // a.heads
    if a.heads % kv_heads or head_dim % 2:
        raise SystemExit("heads must be a multiple of kv-heads and head_dim even")
    qtype = QTYPES[a.dtype]

    w = gguf.GGUFWriter(str(a.output), "llama")
    if a.vocab_from:
        n_vocab = copy_tokenizer(w, a.vocab_from)
        if a.vocab is not None and a.vocab != n_vocab:
            raise SystemExit(f"--vocab {a.vocab} != {n_vocab} tokens in {a.vocab_from}")
    else:
        n_vocab = a.vocab or 32000
        tokens, types, merges, bos, eos = synthetic_gpt2_vocab(n_vocab, a.seed)
        w.add_tokenizer_model("gpt2")
        w.add_tokenizer_pre("gpt-2")
        w.add_token_list(tokens)
        w.add_token_types(types)
        w.add_token_merges(merges)
        w.add_bos_token_id(bos)
        w.add_eos_token_id(eos)
        w.add_add_bos_token(True)
        w.add_add_eos_token(False)

    w.add_name(a.name)
    w.add_context_length(a.ctx)
    w.add_embedding_length(a.dim)
    w.add_block_count(a.layers)
    w.add_feed_forward_length(a.ffn)
    w.add_head_count(a.heads)
    w.add_head_count_kv(kv_heads)
    w.add_rope_freq_base(a.rope_theta)
    w.add_layer_norm_rms_eps(a.eps)
    w.add_rope_dimension_count(head_dim)
    if head_dim != a.dim // a.heads:
        w.add_key_length(head_dim)
        w.add_value_length(head_dim)
    w.add_vocab_size(n_vocab)
    w.add_file_type(FILE_TYPES[a.dtype])
    w.add_quantization_version(gguf.GGML_QUANT_VERSION)

    # (name, [rows, cols] numpy order, kind) ; kind: "norm" (F32, ~1) or "w" (dtype, N(0, std))
    plan = [("token_embd.weight", (n_vocab, a.dim), "w")]
    for i in range(a.layers):
        p = f"blk.{i}."
        plan += [
            (p + "attn_norm.weight", (a.dim,), "norm"),
            (p + "attn_q.weight", (a.heads * head_dim, a.dim), "w"),
            (p + "attn_k.weight", (kv_heads * head_dim, a.dim), "w"),
            (p + "attn_v.weight", (kv_heads * head_dim, a.dim), "w"),
            (p + "attn_output.weight", (a.dim, a.heads * head_dim), "w"),
            (p + "ffn_norm.weight", (a.dim,), "norm"),
            (p + "ffn_gate.weight", (a.ffn, a.dim), "w"),
            (p + "ffn_up.weight", (a.ffn, a.dim), "w"),
            (p + "ffn_down.weight", (a.dim, a.ffn), "w"),
        ]
    plan.append(("output_norm.weight", (a.dim,), "norm"))
    if not a.tied:
        plan.append(("output.weight", (n_vocab, a.dim), "w"))

    def ttype(kind):
        return gguf.GGMLQuantizationType.F32 if kind == "norm" else qtype

    total = 0
    for name, shape, kind in plan:
        t = ttype(kind)
        if t == gguf.GGMLQuantizationType.F32:
            w.add_tensor_info(name, shape, np.dtype(np.float32), int(np.prod(shape)) * 4)
        elif t == gguf.GGMLQuantizationType.F16:
            w.add_tensor_info(name, shape, np.dtype(np.float16), int(np.prod(shape)) * 2)
        else:
            bshape = gguf.quant_shape_to_byte_shape(shape, t)
            w.add_tensor_info(name, bshape, np.dtype(np.uint8), int(np.prod(bshape)), raw_dtype=t)
        total += w.tensors[0][name].nbytes

    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_ti_data_to_file()
    fout = w.fout[0]
    w.write_padding(fout, fout.tell())

    rng = np.random.default_rng(a.seed)
    written = 0
    for name, shape, kind in plan:
        t = ttype(kind)
        rows = shape[0]
        cols = shape[1] if len(shape) > 1 else None
        nbytes = 0
        if kind == "norm":
            data = (1.0 + 0.05 * rng.standard_normal(shape, dtype=np.float32)).astype(np.float32)
            data.tofile(fout)
            nbytes = data.nbytes
        else:
            step = max(1, (a.chunk_mb << 20) // (4 * cols))
            for r0 in range(0, rows, step):
                x = rng.standard_normal((min(step, rows - r0), cols), dtype=np.float32)
                x *= a.std
                if t == gguf.GGMLQuantizationType.F16:
                    x = x.astype(np.float16)
                elif t != gguf.GGMLQuantizationType.F32:
                    x = gguf.quants.quantize(x, t)
                x.tofile(fout)
                nbytes += x.nbytes
        assert nbytes == w.tensors[0][name].nbytes, (name, nbytes)
        w.write_padding(fout, nbytes)
        written += nbytes
        if sys.stderr.isatty():
            print(f"\r{written / (1 << 20):9.1f} / {total / (1 << 20):.1f} MiB", end="", file=sys.stderr)
    w.close()
    print(f"wrote {a.output} ({a.output.stat().st_size / (1 << 20):.1f} MiB, vocab {n_vocab}, dtype {a.dtype})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
