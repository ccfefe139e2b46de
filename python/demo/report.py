"""The demo models' quality report: perplexity against a unigram baseline, PyTorch against
tokenmill, and the INT4 ablation (F16 vs RTN INT4 vs QAT INT4: perplexity, size, decode speed).

  python3 -m demo.report --work WORK_DIR --models models -o docs/demo_models_results.md

WORK_DIR is scripts/train_demo_models.sh's (corpus/, tokenizer/, qat/). Perplexity is windowed as
`tokenmill perplexity` computes it (perplexity.py mirrors its rule in PyTorch).
"""
from __future__ import annotations

import argparse
import datetime
import json
import math
import subprocess
from pathlib import Path

import numpy as np
import torch
from tokenizers import Tokenizer

from . import data, model as demo_model, perplexity, tasks
from .gguf_export import tokenmill_bin


# PyTorch's and tokenmill's perplexity of the same checkpoint and tokens may differ by this much
# (relative): both compute in f32 with double-precision log-likelihoods; only summation order differs.
TORCH_TOLERANCE = 1e-6


def tokenmill_json(*args: str) -> dict:
    r = subprocess.run([tokenmill_bin(), *args, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"tokenmill {' '.join(args)} failed:\n{r.stderr}")
    return json.loads(r.stdout)


def tokenmill_ppl(model: Path, text: Path, ctx: int, extra: tuple[str, ...] = ()) -> dict:
    return tokenmill_json("perplexity", "-m", str(model), "-f", str(text), "--ctx", str(ctx), *extra)


def decode_tps(model: Path, extra: tuple[str, ...] = ()) -> float:
    j = tokenmill_json("bench", "-m", str(model), "-p", "0", "-n", "128", "-r", "3", "--no-limits", *extra)
    return float(next(t["mean_ts"] for t in j["tests"] if t["kind"] == "tg"))


def KLD(base: Path) -> tuple[str, ...]:
    return ("--kl-divergence-base", str(base), "--kl-divergence")


def unigram_ppl(tok: Tokenizer, corpus: Path, scored: list[int]) -> float:
    """Perplexity of an add-one-smoothed unigram model of the train split on the scored tokens."""
    counts = np.bincount(data.encode_split(tok, corpus / "train.jsonl"), minlength=tok.get_vocab_size())
    logp = np.log((counts + 1) / (counts.sum() + len(counts)))
    return float(math.exp(-logp[np.asarray(scored)].mean()))


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, required=True)
    p.add_argument("--models", type=Path, required=True)
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--ctx", type=int, default=512)
    a = p.parse_args(argv)
    text = a.work / "corpus" / "test.txt"
    tok = Tokenizer.from_file(str(a.work / "tokenizer" / "tokenizer.json"))
    ids = perplexity.tokenize_file(tok, text)
    target_hf, target_gguf = a.models / "tokenmill-default-hf", a.models / "tokenmill-default.gguf"
    draft_gguf = a.models / "tokenmill-draft.gguf"
    qat, rtn = a.work / "qat" / "qat-q4_0.gguf", a.work / "qat" / "rtn-q4_0.gguf"
    # The coarser INT4 grid (one scale per tensor, Q4_0 layout), where RTN loses measurably.
    tensor_dir = a.work / "qat-tensor"
    tensor_rows = [("RTN INT4 per-tensor (W4A16)", tensor_dir / "rtn-q4_0.gguf"),
                   ("QAT INT4 per-tensor (W4A16)", tensor_dir / "qat-q4_0.gguf")]
    tensor_rows = [(n, p) for n, p in tensor_rows if p.is_file()]

    res = {"ctx": a.ctx, "test_file": "corpus/test.txt", "test_tokens": len(ids)}
    res["unigram_ppl"] = unigram_ppl(tok, a.work / "corpus", perplexity.scored_targets(ids, a.ctx))
    torch.set_num_threads(2)
    res["torch_ppl_f16"] = perplexity.torch_ppl(demo_model.load_checkpoint(target_hf), ids, a.ctx)
    res["torch_ppl_qat_fakequant"] = perplexity.torch_ppl(
        demo_model.load_checkpoint(a.work / "qat" / "qat-fakequant-hf"), ids, a.ctx)
    rows = {}
    base = a.work / "f16.kld"
    for name, path, extra in [("F16", target_gguf, ("--kl-divergence-base", str(base))),
                              ("RTN INT4 (Q4_0, W4A16)", rtn, KLD(base)),
                              ("QAT INT4 (Q4_0, W4A16)", qat, KLD(base)),
                              ("QAT INT4 (Q4_0, int8 activations)", qat, KLD(base) + ("--activations", "int8")),
                              *[(n, p, KLD(base)) for n, p in tensor_rows],
                              ("draft F16", draft_gguf, ())]:
        pj = tokenmill_ppl(path, text, a.ctx, extra)
        speed_flags = tuple(x for x in extra if x in ("--activations", "int8", "float"))
        rows[name] = {"ppl": pj["ppl"], "ppl_stderr": pj["ppl_stderr"], "bytes": path.stat().st_size,
                      "decode_tps": decode_tps(path, speed_flags), "kld": pj.get("kld"),
                      "tasks": tasks.task_scores(path, extra=speed_flags)}
    base.unlink()
    res["rows"] = rows
    f16, rtn_p, qat_p = (rows[k]["ppl"] for k in ("F16", "RTN INT4 (Q4_0, W4A16)", "QAT INT4 (Q4_0, W4A16)"))
    res["torch_vs_tokenmill_f16_rel"] = abs(res["torch_ppl_f16"] - f16) / f16
    res["torch_vs_tokenmill_qat_rel"] = abs(res["torch_ppl_qat_fakequant"] - qat_p) / qat_p
    res["qat_recovery"] = (rtn_p - qat_p) / (rtn_p - f16) if rtn_p != f16 else float("nan")
    if len(tensor_rows) == 2:
        t_rtn, t_qat = (rows[n]["ppl"] for n, _ in tensor_rows)
        t_kld = [rows[n]["kld"]["mean"] for n, _ in tensor_rows]
        res["tensor_grid"] = {"rtn_ppl": t_rtn, "qat_ppl": t_qat, "rtn_kld": t_kld[0], "qat_kld": t_kld[1],
                              "qat_recovery": (t_rtn - t_qat) / (t_rtn - f16) if t_rtn != f16 else float("nan")}
    (a.out.with_suffix(".json")).write_text(json.dumps(res, indent=1) + "\n")

    lines = [
        "# Demo models: measured quality",
        "",
        f"Written by `python3 -m demo.report` (scripts/train_demo_models.sh) on {datetime.date.today()}; "
        "see [demo_models.md](demo_models.md) for how the models are made.",
        "",
        f"Test split `test.txt`: {len(ids)} tokens, windows of {a.ctx} tokens, the second half of each scored.",
        "",
        "| model | perplexity | vs unigram | KLD vs F16 (mean) | same top-1 as F16 | addition | chat facts | file MiB | decode tok/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| unigram baseline (train-split frequencies) | {res['unigram_ppl']:.2f} | 1.0x | | | | | | |",
    ]
    for name, r in rows.items():
        k = r["kld"]
        kld = f"{k['mean']:.5f}" if k else ""
        top = f"{100 * k['same_top_p']:.2f}%" if k else ""
        lines.append(f"| {name} | {r['ppl']:.4f} ± {r['ppl_stderr']:.3f} | {res['unigram_ppl'] / r['ppl']:.0f}x lower | "
                     f"{kld} | {top} | {100 * r['tasks']['addition']:.0f}% | {100 * r['tasks']['facts']:.0f}% | "
                     f"{r['bytes'] / 2**20:.1f} | {r['decode_tps']:.0f} |")
    lines += [
        "",
        f"- PyTorch's perplexity of the same tokens: F16 checkpoint {res['torch_ppl_f16']:.4f} "
        f"(tokenmill {f16:.4f}, relative difference {res['torch_vs_tokenmill_f16_rel']:.1e}); "
        f"QAT fake-quantized checkpoint {res['torch_ppl_qat_fakequant']:.4f} "
        f"(tokenmill W4A16 {qat_p:.4f}, relative difference {res['torch_vs_tokenmill_qat_rel']:.1e}); "
        f"stated tolerance {TORCH_TOLERANCE:.0e}: "
        f"{'met' if max(res['torch_vs_tokenmill_f16_rel'], res['torch_vs_tokenmill_qat_rel']) <= TORCH_TOLERANCE else 'NOT met'}.",
        f"- INT4 perplexity against F16: RTN {100 * (rtn_p / f16 - 1):+.2f}%, QAT {100 * (qat_p / f16 - 1):+.2f}% "
        f"(one standard error of these perplexities is {100 * rows['F16']['ppl_stderr'] / f16:.1f}%). "
        + (f"QAT recovers {100 * res['qat_recovery']:.0f}% of the RTN loss."
           if rtn_p > f16 + rows["F16"]["ppl_stderr"] else
           "RTN costs no perplexity that this test can resolve, so there is no RTN loss for QAT to recover: "
           "the KL divergence from F16 is the finer measure of what each INT4 model changed."),
        *([f"- The coarser INT4 grid, one scale per tensor (stored as Q4_0 blocks that share it): RTN "
           f"{100 * (res['tensor_grid']['rtn_ppl'] / f16 - 1):+.2f}% perplexity (KLD {res['tensor_grid']['rtn_kld']:.4f}), "
           f"QAT {100 * (res['tensor_grid']['qat_ppl'] / f16 - 1):+.2f}% (KLD {res['tensor_grid']['qat_kld']:.4f}): "
           f"QAT recovers {100 * res['tensor_grid']['qat_recovery']:.0f}% of the RTN loss."]
          if "tensor_grid" in res else []),
        "- addition: share of 100 fresh three-digit sums whose greedy worked answer ends in the right result; "
        "chat facts: share of 100 chat questions (animal sounds, colors, homes) whose greedy answer names the "
        "right one (python/demo/tasks.py, `tokenmill run --batch`).",
        "- The INT4 files run as W4A16 (Q4_0 weights read in place, activations in f32); "
        "decode speed of these cache-resident models is bound by per-token overheads, not memory: "
        "see the widened twin in demo_models.md for a memory-bound comparison.",
        "",
    ]
    a.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
