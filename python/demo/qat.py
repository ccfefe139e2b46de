"""INT4 quantization-aware training and export: the handbook's three stages.

  python3 -m demo.qat --master OUT/target/master.pt --hf OUT/target/hf --corpus C --tokenizer T -o OUT/qat

Stage 1: every linear weight (attention q/k/v/o, FFN gate/up/down, output head) is fake-quantized
to INT4 Q4_0 in the forward pass (q4_0.py) and trained with the straight-through estimator,
starting from the trained f32 weights. The token embedding (a lookup, not a matmul) stays f16.
Stage 2: the fine-tuned weights are packed into a GGUF with Q4_0 tensors (gguf_export.py).
Stage 3: tokenmill runs that file as W4A16 (`tokenmill.activations = "float"` in its metadata).

Also writes the post-training round-to-nearest (RTN) baseline: the same packing applied to the
trained weights without fine-tuning. Outputs under -o:
  qat-fakequant-hf/   HF checkpoint (f32) holding exactly the weights of qat-q4_0.gguf
  qat-q4_0.gguf       stage 2, the packed QAT model
  rtn-fakequant-hf/, rtn-q4_0.gguf   the RTN baseline, same layout
  qat_log.json        fine-tuning curve and validation losses (f32 weights, RTN, QAT)
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

import torch
from torch.nn.utils import parametrize
from tokenizers import Tokenizer

from . import data, gguf_export, model as demo_model, q4_0, train
from .tokenizer_train import BOS, IM_END


def linear_modules(model: torch.nn.Module) -> list[torch.nn.Linear]:
    return [m for m in model.modules() if isinstance(m, torch.nn.Linear)]


def add_fake_quant(model: torch.nn.Module, grid: str = "group32") -> None:
    """Stage 1: the forward pass of every Linear sees its Q4_0 fake-quantized weight (STE backward)."""
    for lin in linear_modules(model):
        if lin.in_features % q4_0.GROUP != 0:
            raise ValueError(f"a linear layer reads {lin.in_features} features: not a multiple of {q4_0.GROUP}")
        parametrize.register_parametrization(lin, "weight", q4_0.FakeQuantSTE(grid))


def freeze_fake_quant(model: torch.nn.Module, grid: str = "group32") -> None:
    """Replaces each parametrized weight by its fake-quantized value, and the token embedding by
    its f16 rounding: the model then computes exactly what the packed GGUF holds."""
    for lin in linear_modules(model):
        if parametrize.is_parametrized(lin, "weight"):
            parametrize.remove_parametrizations(lin, "weight", leave_parametrized=True)
        with torch.no_grad():
            lin.weight.copy_(q4_0.fake_quant(lin.weight, grid))
    emb = model.get_input_embeddings()
    with torch.no_grad():
        emb.weight.copy_(emb.weight.half().float())


def export(model, tokenizer_dir: Path, out_hf: Path, out_gguf: Path, eos_ids: list[int],
           grid: str = "group32") -> dict:
    """Stage 2: HF checkpoint of the fake-quantized weights (f32), then the packed Q4_0 GGUF."""
    freeze_fake_quant(model, grid)
    demo_model.save_checkpoint(model, out_hf, tokenizer_dir, torch.float32, eos_ids)
    with tempfile.TemporaryDirectory() as tmp:
        f32 = Path(tmp) / "f32.gguf"
        gguf_export.convert(out_hf, f32, "f32")
        return gguf_export.write_q4_0(f32, out_gguf, grid)


def load_master(hf_dir: Path, master: Path) -> torch.nn.Module:
    cfg = demo_model.read_json(hf_dir / "config.json")
    model = demo_model.LlamaForCausalLM(demo_model.LlamaConfig(**cfg))
    model.load_state_dict(torch.load(master, map_location="cpu", weights_only=True))
    model.float()
    return model


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--master", type=Path, required=True, help="f32 state dict written by demo.train")
    p.add_argument("--hf", type=Path, required=True, help="the trained HF checkpoint (its config)")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--tokenizer", type=Path, required=True)
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--eval-every", type=int, default=100)
    p.add_argument("--eval-windows", type=int, default=64)
    p.add_argument("--seed", type=int, default=4321)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--precision", choices=["auto", "f32", "bf16"], default="auto")
    p.add_argument("--grid", choices=q4_0.GRIDS, default="group32",
                   help="INT4 grid: group32 (GGUF Q4_0, a scale per 32 weights) or tensor (one scale per "
                        "matrix, stored as Q4_0 blocks that share it)")
    a = p.parse_args(argv)
    for name in ("steps", "batch", "seq_len", "eval_every", "eval_windows", "threads"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    for path in (a.master, a.hf / "config.json"):
        if not path.is_file():
            p.error(f"{path} not found: train the model first (python3 -m demo.train)")
    torch.set_num_threads(a.threads)
    tok = Tokenizer.from_file(str(a.tokenizer / "tokenizer.json"))
    eos_ids = [tok.token_to_id(BOS), tok.token_to_id(IM_END)]
    train_stream = data.encode_split(tok, a.corpus / "train.jsonl")
    valid = data.eval_windows(data.encode_split(tok, a.corpus / "valid.jsonl"), a.seq_len, a.eval_windows)
    use_bf16 = a.precision == "bf16" or (a.precision == "auto" and train.bf16_supported())
    a.out.mkdir(parents=True, exist_ok=True)
    log = {"grid": a.grid, "f32_valid_loss": data.mean_loss(load_master(a.hf, a.master), valid)}

    rtn = load_master(a.hf, a.master)
    log["rtn_tensors"] = export(rtn, a.tokenizer, a.out / "rtn-fakequant-hf", a.out / "rtn-q4_0.gguf", eos_ids,
                                a.grid)
    log["rtn_valid_loss"] = data.mean_loss(rtn, valid)
    print(f"valid loss: f32 {log['f32_valid_loss']:.4f}, RTN INT4 {log['rtn_valid_loss']:.4f}", flush=True)

    qat = load_master(a.hf, a.master)
    add_fake_quant(qat, a.grid)
    log["finetune"] = train.train_loop(qat, data.Batches(train_stream, a.seq_len, a.batch, a.seed), a.steps,
                                       a.lr, a.warmup, valid, a.eval_every, use_bf16, label="qat")
    log["qat_tensors"] = export(qat, a.tokenizer, a.out / "qat-fakequant-hf", a.out / "qat-q4_0.gguf", eos_ids,
                                a.grid)
    log["qat_valid_loss"] = data.mean_loss(qat, valid)
    print(f"valid loss: f32 {log['f32_valid_loss']:.4f}, RTN INT4 {log['rtn_valid_loss']:.4f}, "
          f"QAT INT4 {log['qat_valid_loss']:.4f} -> {a.out}")
    (a.out / "qat_log.json").write_text(json.dumps(log, indent=1) + "\n")


if __name__ == "__main__":
    main()
