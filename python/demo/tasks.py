"""Task accuracy of a demo model, greedy, through `tokenmill run --batch` (offline batching):
column addition (the worked answer must end in the right sum) and chat facts (the answer must name
the right animal sound, color or home). Problems come from a seed the training corpus never used."""
from __future__ import annotations

import json
import random
import subprocess
import tempfile
from pathlib import Path

from . import chat
from .gguf_export import tokenmill_bin


def addition_cases(rng: random.Random, n: int) -> list[tuple[dict, str]]:
    out = []
    for _ in range(n):
        a, b = rng.randint(2, 999), rng.randint(2, 999)
        out.append(({"prompt": f"Question: What is {a} + {b}?\nAnswer:", "max_tokens": 80},
                    f"So {a} + {b} = {a + b}."))
    return out


def fact_cases(rng: random.Random, n: int) -> list[tuple[dict, str]]:
    out = []
    tables = [("What sound does a {} make?", chat.ANIMAL_SOUNDS), ("What color is {}?", chat.COLORS),
              ("Where does a {} live?", chat.ANIMAL_HOMES)]
    for _ in range(n):
        question, table = rng.choice(tables)
        key, value = rng.choice(list(table.items()))
        messages = [{"role": "system", "content": "You are a helpful assistant."},
                    {"role": "user", "content": question.format(key)}]
        out.append(({"messages": messages, "max_tokens": 30}, value))
    return out


def accuracy(model: Path, cases: list[tuple[dict, str]], extra: tuple[str, ...] = ()) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        req, res = Path(tmp) / "req.jsonl", Path(tmp) / "res.jsonl"
        req.write_text("".join(json.dumps({**c, "id": str(i), "temperature": 0}) + "\n"
                               for i, (c, _) in enumerate(cases)))
        subprocess.run([tokenmill_bin(), "run", "-m", str(model), "--batch", str(req), "-o", str(res), *extra],
                       check=True, capture_output=True)
        texts = {r["id"]: r["text"] for r in map(json.loads, res.read_text().splitlines())}
    hits = sum(expected in texts[str(i)] for i, (_, expected) in enumerate(cases))
    return hits / len(cases)


def task_scores(model: Path, seed: int = 20261125, n: int = 100, extra: tuple[str, ...] = ()) -> dict:
    rng = random.Random(seed)
    return {"addition": accuracy(model, addition_cases(rng, n), extra),
            "facts": accuracy(model, fact_cases(rng, n), extra)}
