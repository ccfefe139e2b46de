"""GGUF files of the demo models.

F16/F32: `tokenmill convert HF_DIR -o OUT --outtype f16` (the converter users run on any checkpoint).
INT4 (stage 2 of QAT, and the post-training RTN baseline): the f32 GGUF of the same checkpoint is
rewritten with every linear weight packed as Q4_0 (q4_0.py), the token embedding as f16, norms as
f32, and the metadata copied unchanged plus `tokenmill.activations = "float"`, which tells
tokenmill to run the file as W4A16 (INT4 weights, floating-point activations). Any GGUF reader
(llama.cpp, the gguf package) reads the result.
"""
from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import gguf
import numpy as np
import torch

from . import q4_0

REPO = Path(__file__).resolve().parents[2]
# Linear weights (GGUF names): attention q/k/v/o, FFN gate/up/down, and the output head.
LINEAR = re.compile(r"^(blk\.\d+\.(attn_q|attn_k|attn_v|attn_output|ffn_gate|ffn_up|ffn_down)|output)\.weight$")


def tokenmill_bin() -> str:
    path = os.environ.get("TOKENMILL_BIN", str(REPO / "build" / "tokenmill"))
    if not Path(path).exists():
        raise SystemExit(f"tokenmill binary not found at {path}: build it first (scripts/build.sh)")
    return path


def convert(hf_dir: Path, out: Path, outtype: str) -> None:
    subprocess.run([tokenmill_bin(), "convert", str(hf_dir), "-o", str(out), "--outtype", outtype],
                   check=True, stdout=subprocess.DEVNULL)


def copy_metadata(reader: gguf.GGUFReader, writer: gguf.GGUFWriter, skip: set[str]) -> None:
    for field in reader.fields.values():
        if field.name.startswith("GGUF.") or field.name in skip:
            continue
        vtype = field.types[0]
        sub = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), vtype, sub_type=sub)


def write_q4_0(f32_gguf: Path, out: Path, grid: str = "group32") -> dict[str, int]:
    """Rewrites an f32 GGUF with Q4_0 linear weights (q4_0.py grid); returns {tensor type: count}."""
    reader = gguf.GGUFReader(f32_gguf)
    arch = reader.fields["general.architecture"].contents()
    writer = gguf.GGUFWriter(out, arch=arch)
    copy_metadata(reader, writer, {"general.architecture", "general.file_type"})
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_0)
    writer.add_string("tokenmill.activations", "float")
    counts: dict[str, int] = {}
    for t in reader.tensors:
        data = np.array(t.data)
        if t.tensor_type != gguf.GGMLQuantizationType.F32:
            raise SystemExit(f"{f32_gguf}: tensor {t.name} is {t.tensor_type.name}, expected F32")
        if LINEAR.match(t.name):
            packed = q4_0.pack(torch.from_numpy(data.reshape(data.shape[0], -1)), grid)
            writer.add_tensor(t.name, packed, raw_dtype=gguf.GGMLQuantizationType.Q4_0)
            kind = "Q4_0"
        elif t.name == "token_embd.weight":
            writer.add_tensor(t.name, data.astype(np.float16))
            kind = "F16"
        else:
            writer.add_tensor(t.name, data)
            kind = "F32"
        counts[kind] = counts.get(kind, 0) + 1
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return counts
