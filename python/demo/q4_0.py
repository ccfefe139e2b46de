"""INT4 group-wise weight quantization in the GGUF Q4_0 format: fake quantization, STE, packing.

Scheme (symmetric, groups of 32 along each weight row, one scale per group):
  m  = the group's element of largest magnitude (signed; the first one on ties)
  d  = f16(m / -8)                       the scale, stored as IEEE half
  q  = clamp(round_half_even(w / d), -8, 7)   (q = 0 for every element when d = 0)
  w' = d * q                             what inference computes with

The element m maps to q = -8 exactly, so the group's range is used in full.

Two grids share this layout. "group32" (the default, GGUF's own Q4_0) takes m per group of 32.
"tensor" takes one m for the whole matrix, so every block of the tensor stores the same d: a
coarser INT4 grid (one scale per tensor) in bytes any Q4_0 reader computes with unchanged. On the
demo target, round-to-nearest costs next to nothing on group32 and about 2% perplexity on tensor,
which is where the ablation can show what QAT recovers (docs/demo_models.md). Stage 1 (QAT) trains
through w' with the straight-through estimator; stage 2 packs the same q and d, so the packed file
holds exactly the weights the fake-quantized forward pass used.

Bit packing (GGUF / ggml block_q4_0, 18 bytes per group of 32 weights):
  bytes 0-1   d as little-endian f16
  bytes 2-17  qs[j] = (q[j] + 8) | (q[j + 16] + 8) << 4   for j = 0..15
i.e. the low nibbles hold elements 0-15 and the high nibbles elements 16-31, each stored with an
offset of 8 (0..15). Dequantization: w'[j] = d * ((qs[j] & 15) - 8), w'[j+16] = d * ((qs[j] >> 4) - 8).
"""
from __future__ import annotations

import numpy as np
import torch

GROUP = 32
BLOCK_BYTES = 18
GRIDS = ("group32", "tensor")


def scales_and_codes(w: torch.Tensor, grid: str = "group32") -> tuple[torch.Tensor, torch.Tensor]:
    """w: [rows, cols] f32, cols a multiple of 32 -> (d [rows, cols/32] f32 holding f16 values,
    q [rows, cols/32, 32] in -8..7 as f32)."""
    if w.dim() != 2 or w.shape[1] % GROUP != 0:
        raise ValueError(f"Q4_0 needs a matrix whose rows are a multiple of {GROUP} long, got {tuple(w.shape)}")
    if grid not in GRIDS:
        raise ValueError(f"unknown grid {grid!r} (one of {', '.join(GRIDS)})")
    groups = w.float().reshape(w.shape[0], -1, GROUP)
    if grid == "tensor":
        flat = groups.reshape(-1)
        m = flat[flat.abs().argmax()].expand(groups.shape[:2])
    else:
        idx = groups.abs().argmax(dim=-1, keepdim=True)
        m = groups.gather(-1, idx).squeeze(-1)
    d = (m / -8.0).to(torch.float16).to(torch.float32)
    safe = torch.where(d == 0, torch.ones_like(d), d)
    q = torch.clamp(torch.round(groups / safe.unsqueeze(-1)), -8, 7)
    q = torch.where((d == 0).unsqueeze(-1), torch.zeros_like(q), q)
    return d, q


def fake_quant(w: torch.Tensor, grid: str = "group32") -> torch.Tensor:
    """w' = d * q, the weight the packed file holds (same shape and dtype as w; no gradient)."""
    d, q = scales_and_codes(w.detach(), grid)
    return (q * d.unsqueeze(-1)).reshape(w.shape).to(w.dtype)


class FakeQuantSTE(torch.nn.Module):
    """Parametrization of a Linear's weight: the forward pass sees fake_quant(w), the backward pass
    hands the gradient to w unchanged (straight-through estimator)."""

    def __init__(self, grid: str = "group32"):
        super().__init__()
        self.grid = grid

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w + (fake_quant(w, self.grid) - w).detach()


def pack(w: torch.Tensor, grid: str = "group32") -> np.ndarray:
    """w: [rows, cols] -> uint8 [rows, cols/32 * 18], the GGUF Q4_0 bytes of fake_quant(w, grid)."""
    d, q = scales_and_codes(w, grid)
    rows, groups = d.shape
    codes = (q + 8).to(torch.uint8).numpy()                          # [rows, groups, 32] in 0..15
    out = np.empty((rows, groups, BLOCK_BYTES), dtype=np.uint8)
    out[..., 0:2] = d.numpy().astype("<f2").view(np.uint8).reshape(rows, groups, 2)
    out[..., 2:] = codes[..., :16] | (codes[..., 16:] << 4)
    return out.reshape(rows, groups * BLOCK_BYTES)


def unpack(data: np.ndarray, cols: int) -> np.ndarray:
    """Inverse of pack: uint8 [rows, cols/32 * 18] -> f32 [rows, cols] (the dequantized weights)."""
    rows = data.shape[0]
    blocks = data.reshape(rows, cols // GROUP, BLOCK_BYTES)
    d = blocks[..., 0:2].copy().view("<f2").astype(np.float32)      # [rows, groups, 1]
    qs = blocks[..., 2:]
    q = np.concatenate([qs & 15, qs >> 4], axis=-1).astype(np.float32) - 8
    return (q * d).reshape(rows, cols)
