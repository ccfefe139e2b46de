"""Token streams of the corpus splits and the batches the trainers draw from them."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from .corpus import read_split
from .tokenizer_train import BOS


def encode_split(tokenizer: Tokenizer, path: Path) -> np.ndarray:
    """All documents of a split as one stream: BOS, document tokens, BOS, next document, ...

    BOS (<|endoftext|>) both opens a document and, for the one before, marks where it ended.
    The chat turn markers in the text become their special tokens.
    """
    texts = [d["text"] for d in read_split(path)]
    bos = tokenizer.token_to_id(BOS)
    encoded = tokenizer.encode_batch(texts, add_special_tokens=False)
    total = sum(len(e.ids) + 1 for e in encoded)
    out = np.empty(total, dtype=np.int32)
    i = 0
    for e in encoded:
        out[i] = bos
        out[i + 1:i + 1 + len(e.ids)] = e.ids
        i += 1 + len(e.ids)
    return out


class Batches:
    """Random windows of seq_len + 1 tokens (inputs and shifted labels), seeded."""

    def __init__(self, stream: np.ndarray, seq_len: int, batch_size: int, seed: int):
        if len(stream) <= seq_len + 1:
            raise ValueError(f"token stream of {len(stream)} tokens is too short for windows of {seq_len}")
        self.stream = torch.from_numpy(stream.astype(np.int64))
        self.seq_len, self.batch_size = seq_len, batch_size
        self.gen = torch.Generator().manual_seed(seed)

    def next(self) -> torch.Tensor:
        starts = torch.randint(0, len(self.stream) - self.seq_len - 1, (self.batch_size,), generator=self.gen)
        return torch.stack([self.stream[s:s + self.seq_len + 1] for s in starts.tolist()])


def eval_windows(stream: np.ndarray, seq_len: int, max_windows: int) -> torch.Tensor:
    """Consecutive non-overlapping windows of seq_len + 1 tokens from the start of the stream."""
    n = min(max_windows, (len(stream) - 1) // seq_len)
    t = torch.from_numpy(stream.astype(np.int64))
    return torch.stack([t[i * seq_len:i * seq_len + seq_len + 1] for i in range(n)])


@torch.no_grad()
def mean_loss(model, windows: torch.Tensor, batch_size: int = 8) -> float:
    """Mean next-token cross-entropy (nats) over every position of the windows."""
    model.eval()
    total, count = 0.0, 0
    for i in range(0, len(windows), batch_size):
        w = windows[i:i + batch_size]
        logits = model(input_ids=w[:, :-1]).logits.float()
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), w[:, 1:].reshape(-1),
                                                 reduction="sum")
        total += float(loss)
        count += w[:, 1:].numel()
    return total / count
