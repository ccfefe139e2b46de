"""A quantized copy of the bundled model through the CLI: `inspect` reports the weight types and
how they are computed, `logits` stay close to the F16 original's, and repacking the Q8_0 matrices
at load (the default) changes no logit."""
import numpy as np

from conftest import REPO

DEFAULT_MODEL = REPO / "models" / "tokenmill-default.gguf"


def test_q8_0_model_inspects_and_scores_close_to_f16(run_cli, tmp_path):
    q8 = tmp_path / "default-q8_0.gguf"
    r = run_cli("quantize", DEFAULT_MODEL, q8, "Q8_0")
    assert r.returncode == 0, r.stderr

    r = run_cli("inspect", "-m", q8, "--no-tensors")
    assert r.returncode == 0, r.stderr
    assert "weight types" in r.stdout
    assert any(line.split()[:1] == ["Q8_0"] for line in r.stdout.splitlines()), r.stdout
    assert "used from the mapped file" in r.stdout
    assert "repacked at load:" in r.stdout

    prompt = "The quick brown fox jumps over the lazy dog"
    out = {}
    for name, path, flags in (("f16", DEFAULT_MODEL, []), ("q8", q8, []), ("q8_in_place", q8, ["--no-repack"])):
        npy = tmp_path / f"{name}.npy"
        r = run_cli("logits", "-m", path, "-p", prompt, "--all", "-o", npy, *flags)
        assert r.returncode == 0, r.stderr
        out[name] = np.load(npy)
    # Repacked or in place, the same integer dots and float operations in the same order.
    assert np.array_equal(out["q8"], out["q8_in_place"])
    assert out["q8"].shape == out["f16"].shape
    # Q8_0 weights and int8 activations: a few percent of the logit range at most (docs/kernels.md).
    err = np.max(np.abs(out["q8"] - out["f16"])) / np.max(np.abs(out["f16"]))
    assert 0 < err < 0.05, err
