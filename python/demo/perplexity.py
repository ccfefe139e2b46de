"""Windowed perplexity in PyTorch, by the rule `tokenmill perplexity` uses (llama.cpp's):

The file is tokenized whole with BOS in front; it is cut into consecutive chunks of ctx tokens
(a partial last chunk is dropped); each chunk is evaluated on its own with its first token replaced
by BOS, and only the second half is scored: the logits at positions ctx/2 .. ctx-2 predict the
tokens at ctx/2 + 1 .. ctx-1. Perplexity = exp(mean negative log-likelihood of scored tokens).
"""
from __future__ import annotations

import math
from pathlib import Path

import torch
from tokenizers import Tokenizer

from .tokenizer_train import BOS


def tokenize_file(tok: Tokenizer, path: Path) -> list[int]:
    return [tok.token_to_id(BOS)] + tok.encode(Path(path).read_text(encoding="utf-8"), add_special_tokens=False).ids


def chunks(ids: list[int], ctx: int) -> list[list[int]]:
    bos = ids[0]
    out = []
    for c in range(len(ids) // ctx):
        chunk = list(ids[c * ctx:(c + 1) * ctx])
        chunk[0] = bos
        out.append(chunk)
    return out


def scored_targets(ids: list[int], ctx: int) -> list[int]:
    return [t for chunk in chunks(ids, ctx) for t in chunk[ctx // 2 + 1:]]


@torch.no_grad()
def torch_ppl(model, ids: list[int], ctx: int) -> float:
    model.eval()
    nll, n = 0.0, 0
    for chunk in chunks(ids, ctx):
        x = torch.tensor([chunk])
        logp = torch.log_softmax(model(input_ids=x).logits[0].double(), dim=-1)
        first = ctx // 2
        targets = x[0, first + 1:]
        nll -= float(logp[first:ctx - 1].gather(1, targets.unsqueeze(1)).sum())
        n += len(targets)
    return math.exp(nll / n)
