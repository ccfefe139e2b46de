"""Bad input to the CLI: a clear one-line error, non-zero exit, never a crash."""
import pathlib

import pytest

MODEL_CASE = "llama"


def model_dir(fixtures_dir):
    return fixtures_dir / "models" / MODEL_CASE


def assert_clean_error(result, *needles):
    assert result.returncode not in (0,), result
    assert result.returncode > 0, f"killed by signal {-result.returncode}: {result.stderr}"
    assert result.returncode < 128, result.stderr
    for n in needles:
        assert n in result.stderr, result.stderr


def test_missing_model_path(run_cli, tmp_path):
    missing = tmp_path / "nope.gguf"
    r = run_cli("run", "-m", missing, "-p", "hi")
    assert_clean_error(r, str(missing), "no such file")


def test_wrong_file_type(run_cli, tmp_path):
    f = tmp_path / "model.gguf"
    f.write_text("this is not a model")
    r = run_cli("run", "-m", f, "-p", "hi")
    assert_clean_error(r, str(f), "GGUF")


def test_truncated_gguf(run_cli, tmp_path, fixtures_dir):
    src = (model_dir(fixtures_dir) / "model.gguf").read_bytes()
    for cut in (10, 100, len(src) // 2, len(src) - 7):
        f = tmp_path / f"cut{cut}.gguf"
        f.write_bytes(src[:cut])
        r = run_cli("run", "-m", f, "-p", "hi", "-n", "2")
        assert_clean_error(r, str(f))


def test_unsupported_architecture(run_cli, tmp_path, fixtures_dir):
    import json
    import shutil
    d = tmp_path / "hf"
    shutil.copytree(model_dir(fixtures_dir) / "hf", d)
    cfg = json.loads((d / "config.json").read_text())
    cfg["model_type"] = "gpt_neox"
    (d / "config.json").write_text(json.dumps(cfg))
    r = run_cli("run", "-m", d, "-p", "hi")
    assert_clean_error(r, "unsupported architecture", "gpt_neox")


@pytest.mark.parametrize("flag,value,needle", [
    ("--temp", "-1", "temperature"),
    ("--top-p", "1.5", "top_p"),
    ("--min-p", "2", "min_p"),
    ("--presence-penalty", "5", "presence_penalty"),
    ("--logit-bias", "abc", "--logit-bias"),
    ("--logit-bias", "999999=1", "logit_bias"),
])
def test_invalid_sampling_values(run_cli, fixtures_dir, flag, value, needle):
    r = run_cli("run", "-m", model_dir(fixtures_dir) / "model.gguf", "-p", "hi", "-n", "2", flag, value)
    assert_clean_error(r, needle)


def test_prompt_longer_than_context(run_cli, fixtures_dir):
    r = run_cli("run", "-m", model_dir(fixtures_dir) / "model.gguf", "-p", "hello world " * 50, "-c", "16")
    assert_clean_error(r, "context")


def test_context_larger_than_model(run_cli, fixtures_dir):
    r = run_cli("run", "-m", model_dir(fixtures_dir) / "model.gguf", "-p", "hi", "-c", "100000")
    assert_clean_error(r, "context")


def test_detokenize_bad_id(run_cli, shared_vocab):
    r = run_cli("detokenize", "-m", shared_vocab / "ggml-vocab-gpt-2.gguf", "15496", "999999999")
    assert_clean_error(r, "999999999")


def test_unknown_flag_is_usage_error(run_cli):
    r = run_cli("run", "--no-such-flag")
    assert r.returncode != 0 and r.returncode < 128


def test_every_subcommand_has_help(run_cli):
    for sub in ("run", "chat", "logits", "tokenize", "detokenize", "inspect", "convert"):
        r = run_cli(sub, "--help")
        assert r.returncode == 0, sub
        assert "--help" in r.stdout, sub


def test_serve_rejects_bad_kv_fraction(run_cli, fixtures_dir):
    r = run_cli("serve", "-m", fixtures_dir / "models" / "llama" / "model.gguf", "--kv-cache-fraction", "2")
    assert r.returncode != 0 and r.returncode < 128
    assert "kv-cache-fraction" in r.stderr
