"""What round-to-nearest costs a trained model on other weight grids, without any training:

  python3 -m demo.grid_probe --master OUT/target/master.pt --hf OUT/target/hf --corpus C --tokenizer T

Every linear weight (as in qat.py) is rounded to a symmetric grid of `bits` with the Q4_0 rule
(m = the group's element of largest magnitude, d = f16(m / -2^(bits-1)), q = clamp(round(w / d),
-2^(bits-1), 2^(bits-1) - 1)), for groups of 32, one scale per row, or one per tensor, and the
validation loss is compared with the f32 weights'. Prints a markdown table (docs/demo_models.md).
"""
from __future__ import annotations

import argparse
import copy
import math
from pathlib import Path

import torch
from tokenizers import Tokenizer

from . import data, qat

GRIDS = [(4, "32"), (4, "row"), (4, "tensor"), (3, "32"), (2, "32")]


def round_to_grid(w: torch.Tensor, bits: int, group: str) -> torch.Tensor:
    rows, cols = w.shape
    g = {"32": w.reshape(rows, -1, 32), "row": w.reshape(rows, 1, cols), "tensor": w.reshape(1, 1, -1)}[group]
    qmin, qmax = -2 ** (bits - 1), 2 ** (bits - 1) - 1
    m = g.gather(-1, g.abs().argmax(-1, keepdim=True))
    d = (m / qmin).half().float()
    d = torch.where(d == 0, torch.ones_like(d), d)
    return (torch.clamp(torch.round(g / d), qmin, qmax) * d).reshape(rows, cols)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--master", type=Path, required=True)
    p.add_argument("--hf", type=Path, required=True)
    p.add_argument("--corpus", type=Path, required=True)
    p.add_argument("--tokenizer", type=Path, required=True)
    p.add_argument("--windows", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=512)
    a = p.parse_args(argv)
    for path in (a.master, a.hf / "config.json", a.tokenizer / "tokenizer.json"):
        if not path.is_file():
            p.error(f"{path} not found")
    tok = Tokenizer.from_file(str(a.tokenizer / "tokenizer.json"))
    valid = data.eval_windows(data.encode_split(tok, a.corpus / "valid.jsonl"), a.seq_len, a.windows)
    ref = qat.load_master(a.hf, a.master)
    base = data.mean_loss(ref, valid)
    print(f"| grid | validation loss | perplexity vs f32 |\n| --- | ---: | ---: |\n| f32 | {base:.4f} | |")
    for bits, group in GRIDS:
        m = copy.deepcopy(ref)
        with torch.no_grad():
            for lin in qat.linear_modules(m):
                lin.weight.copy_(round_to_grid(lin.weight, bits, group))
        loss = data.mean_loss(m, valid)
        name = f"INT{bits}, " + {"32": "groups of 32", "row": "one scale per row", "tensor": "one scale per tensor"}[group]
        print(f"| {name} | {loss:.4f} | {100 * (math.exp(loss - base) - 1):+.2f}% |", flush=True)


if __name__ == "__main__":
    main()
