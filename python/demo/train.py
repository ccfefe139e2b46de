"""Trains a demo model (Llama architecture) on the corpus with PyTorch on the CPU.

  python3 -m demo.train --shape target --corpus CORPUS --tokenizer TOK -o OUT [--steps N] ...

Writes OUT/hf (the checkpoint in f16: safetensors, config.json, generation_config.json, tokenizer
files), OUT/master.pt (f32 weights, the start of QAT fine-tuning) and OUT/train_log.json (loss
curve, timing). Seeded: the same seed, steps and machine give the same weights.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import time
from pathlib import Path

import torch
from tokenizers import Tokenizer

from . import data, model as demo_model
from .tokenizer_train import BOS, IM_END


def bf16_supported() -> bool:
    """Whether this CPU computes bf16 natively (AVX512_BF16 or AMX): autocast then pays off."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " avx512_bf16" in flags or " amx_bf16" in flags


def lr_at(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warmup, then cosine decay to 10% of the peak."""
    if step < warmup:
        return peak * (step + 1) / warmup
    t = (step - warmup) / max(1, steps - warmup)
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * t)))


def optimizer_for(model: torch.nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    decay = [p for p in model.parameters() if p.requires_grad and p.dim() >= 2]
    keep = [p for p in model.parameters() if p.requires_grad and p.dim() < 2]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": keep, "weight_decay": 0.0}], lr=lr, betas=(0.9, 0.95))


def train_loop(model, batches: data.Batches, steps: int, lr: float, warmup: int, valid: torch.Tensor,
               eval_every: int, use_bf16: bool, weight_decay: float = 0.1, label: str = "train") -> dict:
    """Runs steps of AdamW; returns the log (losses, validation losses, tokens/s)."""
    opt = optimizer_for(model, lr, weight_decay)
    log = {"steps": steps, "lr": lr, "batch": batches.batch_size, "seq_len": batches.seq_len,
           "bf16": use_bf16, "train_loss": [], "valid_loss": []}
    start = time.time()
    tokens = 0
    for step in range(steps):
        model.train()
        for g in opt.param_groups:
            g["lr"] = lr_at(step, steps, lr, warmup)
        w = batches.next()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=use_bf16):
            logits = model(input_ids=w[:, :-1]).logits
        loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        tokens += w[:, 1:].numel()
        if step % 10 == 0 or step == steps - 1:
            log["train_loss"].append([step, loss.item()])
        if (step + 1) % eval_every == 0 or step == steps - 1:
            v = data.mean_loss(model, valid)
            log["valid_loss"].append([step + 1, v])
            rate = tokens / (time.time() - start)
            print(f"{label}: step {step + 1}/{steps} loss {loss.item():.3f} valid {v:.3f} "
                  f"(ppl {math.exp(v):.2f}) {rate:.0f} tok/s", flush=True)
    log["seconds"] = time.time() - start
    log["tokens"] = tokens
    return log


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--shape", choices=sorted(demo_model.SHAPES), default="target")
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--tokenizer", type=Path, required=True, help="directory with tokenizer.json")
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--seq-len", type=int, default=512)
    p.add_argument("--lr", type=float, default=1.5e-3)
    p.add_argument("--warmup", type=int, default=100)
    p.add_argument("--eval-every", type=int, default=250)
    p.add_argument("--eval-windows", type=int, default=64)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    p.add_argument("--precision", choices=["auto", "f32", "bf16"], default="auto",
                   help="auto: bf16 autocast where the CPU has native bf16, else f32")
    a = p.parse_args(argv)
    for name in ("steps", "batch", "seq_len", "eval_every", "eval_windows", "threads"):
        if getattr(a, name) <= 0:
            p.error(f"--{name.replace('_', '-')} must be positive")
    torch.set_num_threads(a.threads)
    tok = Tokenizer.from_file(str(a.tokenizer / "tokenizer.json"))
    bos, im_end = tok.token_to_id(BOS), tok.token_to_id(IM_END)
    train_stream = data.encode_split(tok, a.corpus / "train.jsonl")
    valid = data.eval_windows(data.encode_split(tok, a.corpus / "valid.jsonl"), a.seq_len, a.eval_windows)
    model = demo_model.build(a.shape, tok.get_vocab_size(), bos, bos, a.seed)
    use_bf16 = a.precision == "bf16" or (a.precision == "auto" and bf16_supported())
    print(f"{a.shape}: {demo_model.parameter_count(model) / 1e6:.2f}M parameters, "
          f"{len(train_stream) / 1e6:.2f}M training tokens, {a.steps} steps of {a.batch}x{a.seq_len}, "
          f"{'bf16 autocast' if use_bf16 else 'f32'}, {a.threads} threads", flush=True)
    log = train_loop(model, data.Batches(train_stream, a.seq_len, a.batch, a.seed), a.steps, a.lr, a.warmup,
                     valid, a.eval_every, use_bf16, label=a.shape)
    log.update(shape=a.shape, seed=a.seed, parameters=demo_model.parameter_count(model),
               train_tokens_in_corpus=int(len(train_stream)))
    a.out.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), a.out / "master.pt")
    demo_model.save_checkpoint(model, a.out / "hf", a.tokenizer, torch.float16, [bos, im_end])
    (a.out / "train_log.json").write_text(json.dumps(log, indent=1) + "\n")
    print(f"{a.shape}: {log['seconds'] / 60:.1f} min, final valid loss {log['valid_loss'][-1][1]:.3f} -> {a.out}")


if __name__ == "__main__":
    main()
