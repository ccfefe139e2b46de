"""`--activations {auto,int8,float}` end to end: float activations (weight-only quantization)
give the logits of the same model with its weights dequantized to F32, up to the order of f32
sums; int8 activations do not; a GGUF's tokenmill.activations key chooses float under `auto`;
types without a float-activation kernel are refused by name; bench and inspect say what ran."""
import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

gguf = pytest.importorskip("gguf")

PROMPT = "the quick brown fox jumps over the lazy dog and keeps running"


def make_random(path, dtype):
    """A random 2-layer llama (rows of 256 and 512: whole K-quant super-blocks) with a synthetic
    byte-level vocab; every matrix, the LM head and the embedding included, stored as dtype."""
    r = subprocess.run([sys.executable, str(REPO / "python" / "oracle" / "make_random_gguf.py"),
                        "--dim", "256", "--layers", "2", "--heads", "4", "--kv-heads", "2", "--ffn", "512",
                        "--vocab", "512", "--ctx", "256", "--std", "0.0625", "--dtype", dtype, "-o", str(path)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr


def with_key(src, dst, value):
    """A copy of src (metadata and tensors as they are) with the string key tokenmill.activations."""
    reader = gguf.GGUFReader(str(src))
    writer = gguf.GGUFWriter(str(dst), arch=reader.get_field("general.architecture").contents())
    for field in reader.fields.values():
        if field.name == "general.architecture" or field.name.startswith("GGUF."):
            continue  # written by GGUFWriter itself
        kind = field.types[0]
        sub = field.types[-1] if kind == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), kind, sub_type=sub)
    writer.add_string("tokenmill.activations", value)
    for t in reader.tensors:
        writer.add_tensor_info(t.name, t.data.shape, t.data.dtype, t.data.nbytes, t.tensor_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for t in reader.tensors:
        writer.write_tensor_data(t.data)
    writer.close()


@pytest.fixture(scope="module")
def models(tmp_path_factory, run_cli):
    d = tmp_path_factory.mktemp("activations")
    m = {"q4": d / "q4_0.gguf", "f16": d / "f16.gguf"}
    make_random(m["q4"], "q4_0")
    make_random(m["f16"], "f16")
    # The Q4_0 model's weights dequantized to F32 (exactly: every Q4_0 value is an f32).
    m["dequantized"] = d / "dequantized.gguf"
    r = run_cli("quantize", m["q4"], m["dequantized"], "F32", "--allow-requantize")
    assert r.returncode == 0, r.stderr
    # `quantize ... Q4_0`: Q4_0 layers, a Q6_K LM head (no float-activation kernel).
    m["q4_q6k_head"] = d / "q4_0_q6k_head.gguf"
    r = run_cli("quantize", m["f16"], m["q4_q6k_head"], "Q4_0")
    assert r.returncode == 0, r.stderr
    m["q4_key"] = d / "q4_0_key.gguf"
    with_key(m["q4"], m["q4_key"], "float")
    m["q4_q6k_head_key"] = d / "q4_0_q6k_head_key.gguf"
    with_key(m["q4_q6k_head"], m["q4_q6k_head_key"], "float")
    m["bad_key"] = d / "bad_key.gguf"
    with_key(m["q4"], m["bad_key"], "bf16")
    return m


def logits(run_cli, tmp_path, model, *flags):
    out = tmp_path / f"{model.stem}-{'-'.join(flags) or 'default'}.npy"
    r = run_cli("logits", "-m", model, "-p", PROMPT, "--all", "-o", out, *flags)
    assert r.returncode == 0, r.stderr
    return np.load(out)


def rel_max_err(a, b):
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_float_activations_give_the_dequantized_models_logits(run_cli, tmp_path, models):
    ref = logits(run_cli, tmp_path, models["dequantized"])
    as_float = logits(run_cli, tmp_path, models["q4"], "--activations", "float")
    as_int8 = logits(run_cli, tmp_path, models["q4"], "--activations", "int8")
    default = logits(run_cli, tmp_path, models["q4"])
    assert as_float.shape == ref.shape
    err_float, err_int8 = rel_max_err(as_float, ref), rel_max_err(as_int8, ref)
    assert err_float < 1e-4, err_float  # f32 summation order only
    assert err_int8 > 10 * err_float, (err_int8, err_float)  # int8 activations round them
    assert np.array_equal(default, as_int8)  # auto without the key: int8
    # The key chooses float under auto; explicit int8 still wins.
    assert np.array_equal(logits(run_cli, tmp_path, models["q4_key"]), as_float)
    assert np.array_equal(logits(run_cli, tmp_path, models["q4_key"], "--activations", "int8"), as_int8)
    # Repacking does not apply to float-activation matrices: --no-repack changes nothing.
    assert np.array_equal(logits(run_cli, tmp_path, models["q4"], "--activations", "float", "--no-repack"), as_float)


def test_types_without_a_float_kernel(run_cli, tmp_path, models):
    r = run_cli("logits", "-m", models["q4_q6k_head"], "-p", PROMPT, "--activations", "float",
                "-o", tmp_path / "x.npy")
    assert r.returncode == 1
    assert "output.weight" in r.stderr and "Q6_K" in r.stderr and "float" in r.stderr, r.stderr
    # auto with the key: float for the Q4_0 layers, int8 for the Q6_K head.
    r = run_cli("bench", "-m", models["q4_q6k_head_key"], "-p", "0", "-n", "4", "-r", "1", "--no-limits", "--json")
    assert r.returncode == 0, r.stderr
    config = json.loads(r.stdout)["config"]
    assert config["activations"] == "float+int8"
    assert config["float_activation_matrices"] == 14 and config["int8_activation_matrices"] == 1


def test_bench_inspect_and_run_say_which_activations_ran(run_cli, models):
    for flags, mode in (([], "int8"), (["--activations", "float"], "float")):
        r = run_cli("bench", "-m", models["q4"], "-p", "0", "-n", "4", "-r", "1", "--no-limits", *flags)
        assert r.returncode == 0, r.stderr
        assert f"activations: {mode}:" in r.stdout, r.stdout
    r = run_cli("run", "-m", models["q4"], "-p", "hello", "-n", "2", "--temp", "0", "--activations", "float")
    assert r.returncode == 0, r.stderr
    assert "activations float" in r.stderr, r.stderr

    r = run_cli("inspect", "-m", models["q4"], "--no-tensors")
    assert r.returncode == 0, r.stderr
    assert "quantized to int8 blocks per matmul" in r.stdout and "--activations float keeps" in r.stdout, r.stdout
    r = run_cli("inspect", "-m", models["q4_key"], "--no-tensors")
    assert "tokenmill.activations" in r.stdout and "f32 for 15 quantized matrices" in r.stdout, r.stdout
    assert "repacked at load: none" in r.stdout, r.stdout
    r = run_cli("inspect", "-m", models["q4_q6k_head"], "--no-tensors")
    assert "--activations float refuses this file" in r.stdout and "Q6_K" in r.stdout, r.stdout


def test_bad_values_are_refused(run_cli, tmp_path, models):
    r = run_cli("logits", "-m", models["bad_key"], "-p", PROMPT, "-o", tmp_path / "x.npy")
    assert r.returncode == 1
    assert "tokenmill.activations" in r.stderr and "bf16" in r.stderr, r.stderr
    r = run_cli("logits", "-m", models["q4"], "-p", PROMPT, "--activations", "fp8", "-o", tmp_path / "x.npy")
    assert 1 < r.returncode < 128  # a command-line error
    assert "--activations" in r.stderr and "fp8" in r.stderr, r.stderr
