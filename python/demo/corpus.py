"""Deterministic, seeded corpus for the demo models: stories, chat dialogues, arithmetic, code.

  python3 -m demo.corpus -o OUT_DIR [--seed 1234] [--megabytes 6]

Writes OUT_DIR/{train,valid,test}.jsonl (one document per line: {"kind", "text"}) and
OUT_DIR/test.txt, the test split's plain-text documents (everything but the chats, whose turn
markers are special tokens) separated by blank lines: the file `tokenmill perplexity` reads.
The same seed and size give byte-identical files.
"""
from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from . import arithmetic, chat, code_snippets, stories

KIND_WEIGHTS = {"story": 45, "chat": 30, "arithmetic": 13, "code": 12}
SPLIT_SHARES = {"valid": 0.04, "test": 0.04}  # the rest is train


def document(rng: random.Random, kind: str) -> str:
    if kind == "story":
        return stories.story(rng)
    if kind == "chat":
        return chat.dialogue(rng)
    if kind == "arithmetic":
        return arithmetic.worksheet(rng)
    return code_snippets.code_document(rng)


def generate(seed: int, total_bytes: int) -> list[dict]:
    """Documents until their text reaches total_bytes; each one tagged with its split."""
    rng = random.Random(seed)
    kinds, weights = list(KIND_WEIGHTS), list(KIND_WEIGHTS.values())
    docs, size = [], 0
    while size < total_bytes:
        kind = rng.choices(kinds, weights)[0]
        text = document(rng, kind)
        r = rng.random()
        split = "valid" if r < SPLIT_SHARES["valid"] else "test" if r < SPLIT_SHARES["valid"] + SPLIT_SHARES["test"] else "train"
        docs.append({"kind": kind, "text": text, "split": split})
        size += len(text.encode()) + 1
    return docs


def write(docs: list[dict], out: Path) -> dict[str, int]:
    out.mkdir(parents=True, exist_ok=True)
    counts = {}
    for split in ("train", "valid", "test"):
        rows = [d for d in docs if d["split"] == split]
        counts[split] = len(rows)
        with open(out / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for d in rows:
                f.write(json.dumps({"kind": d["kind"], "text": d["text"]}, ensure_ascii=False) + "\n")
    plain = [d["text"] for d in docs if d["split"] == "test" and d["kind"] != "chat"]
    (out / "test.txt").write_text("\n\n".join(plain) + "\n", encoding="utf-8")
    return counts


def read_split(path: Path) -> list[dict]:
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("-o", "--out", type=Path, required=True, help="output directory")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--megabytes", type=float, default=6.0, help="total text size (default 6)")
    a = p.parse_args(argv)
    if a.megabytes <= 0:
        p.error("--megabytes must be positive")
    docs = generate(a.seed, int(a.megabytes * 1e6))
    counts = write(docs, a.out)
    size = sum(len(d["text"].encode()) for d in docs)
    print(f"corpus: {len(docs)} documents, {size / 1e6:.2f} MB -> {a.out} "
          f"(train {counts['train']}, valid {counts['valid']}, test {counts['test']})")


if __name__ == "__main__":
    main()
