"""End-to-end checks of the CLI's tools against independent readers (PyPI gguf, numpy)."""
import numpy as np
import pytest

gguf = pytest.importorskip("gguf")


def test_tokenize_vocab_only_gguf(run_cli, shared_vocab):
    vocab = shared_vocab / "ggml-vocab-gpt-2.gguf"
    r = run_cli("tokenize", "-m", vocab, "-p", "Hello world", "--no-special")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["15496", "995"]  # expected ids from the vocab's .out file
    d = run_cli("detokenize", "-m", vocab, "15496", "995")
    assert d.returncode == 0 and d.stdout.rstrip("\n") == "Hello world"


def test_inspect_counts_parameters(run_cli, fixtures_dir):
    path = fixtures_dir / "models" / "llama" / "model.gguf"
    r = run_cli("inspect", "-m", path)
    assert r.returncode == 0, r.stderr
    reader = gguf.GGUFReader(str(path))
    n_params = sum(int(np.prod(t.shape)) for t in reader.tensors)
    assert f"{n_params} parameters" in r.stdout
    for t in reader.tensors:
        assert t.name in r.stdout


def test_convert_output_reads_with_gguf_package(run_cli, fixtures_dir, tmp_path):
    out = tmp_path / "converted.gguf"
    r = run_cli("convert", fixtures_dir / "models" / "llama" / "hf", "-o", out, "--outtype", "f16")
    assert r.returncode == 0, r.stderr
    ours = gguf.GGUFReader(str(out))
    ref = gguf.GGUFReader(str(fixtures_dir / "models" / "llama" / "model.gguf"))
    assert sorted(t.name for t in ours.tensors) == sorted(t.name for t in ref.tensors)
    ref_by_name = {t.name: t for t in ref.tensors}
    for t in ours.tensors:
        want = np.asarray(ref_by_name[t.name].data, dtype=np.float32)
        got = np.asarray(t.data, dtype=np.float32)
        assert got.shape == want.shape, t.name
        if len(t.shape) >= 2 and t.shape[1] > 1:
            # matrices: f16 rounding of the reference's f32 weights, exactly
            assert t.tensor_type == gguf.GGMLQuantizationType.F16, t.name
            want = want.astype(np.float16).astype(np.float32)
        else:
            assert t.tensor_type == gguf.GGMLQuantizationType.F32, t.name  # norms stay f32
        np.testing.assert_array_equal(got, want, err_msg=t.name)
    keys = {f.name for f in ours.fields.values()}
    for k in ("general.architecture", "llama.block_count", "llama.attention.head_count_kv",
              "tokenizer.ggml.tokens", "tokenizer.ggml.model"):
        assert k in keys


def test_logits_npy_matches_text(run_cli, fixtures_dir, tmp_path):
    path = fixtures_dir / "models" / "llama" / "model.gguf"
    out = tmp_path / "l.npy"
    r1 = run_cli("logits", "-m", path, "--ids", "1", "2", "3", "--all", "-o", out)
    assert r1.returncode == 0, r1.stderr
    arr = np.load(out)
    r2 = run_cli("logits", "-m", path, "--ids", "1", "2", "3", "--all")
    rows = [list(map(float, line.split())) for line in r2.stdout.strip().splitlines()]
    assert arr.shape == (3, len(rows[0]))
    np.testing.assert_allclose(arr, np.array(rows, dtype=np.float32), rtol=1e-6)


def test_run_greedy_is_deterministic(run_cli, fixtures_dir):
    path = fixtures_dir / "models" / "llama" / "model.gguf"
    a = run_cli("run", "-m", path, "-p", "hello", "-n", "12", "--temp", "0", "--ignore-eos")
    b = run_cli("run", "-m", path, "-p", "hello", "-n", "12", "--temp", "0", "--ignore-eos")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    assert "prefill:" in a.stderr and "decode:" in a.stderr


def test_seeded_sampling_is_reproducible(run_cli, fixtures_dir):
    path = fixtures_dir / "models" / "llama" / "model.gguf"
    args = ("run", "-m", path, "-p", "hello", "-n", "16", "--temp", "1.0", "--ignore-eos")
    a = run_cli(*args, "--seed", "7")
    b = run_cli(*args, "--seed", "7")
    c = run_cli(*args, "--seed", "8")
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    assert a.stdout != c.stdout


def test_batch_mode_matches_single_runs(run_cli, fixtures_dir, tmp_path):
    """Continuous batching gives every request the greedy text a lone `run` gives it."""
    import json
    path = fixtures_dir / "models" / "llama" / "model.gguf"
    prompts = ["hello", "the quick brown fox", "once upon a time there was", "a b c d e f g"]
    batch = tmp_path / "in.jsonl"
    batch.write_text("".join(json.dumps({"id": f"p{i}", "prompt": p, "max_tokens": 10, "temperature": 0,
                                         "ignore_eos": True}) + "\n" for i, p in enumerate(prompts)))
    out = tmp_path / "out.jsonl"
    r = run_cli("run", "-m", path, "--batch", batch, "-o", out, "-b", "8")
    assert r.returncode == 0, r.stderr
    assert "output tokens/s" in r.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in rows] == [f"p{i}" for i in range(len(prompts))]
    for p, row in zip(prompts, rows):
        single = run_cli("run", "-m", path, "-p", p, "-n", "10", "--temp", "0", "--ignore-eos", "-q")
        assert single.returncode == 0, single.stderr
        assert row["text"] == single.stdout[:-1]  # run ends its output with a newline
        assert row["usage"]["completion_tokens"] == 10
        assert row["finish_reason"] == "length"


def test_batch_mode_bad_line(run_cli, fixtures_dir, tmp_path):
    batch = tmp_path / "bad.jsonl"
    batch.write_text('{"prompt": "ok"}\n{not json\n')
    r = run_cli("run", "-m", fixtures_dir / "models" / "llama" / "model.gguf", "--batch", batch)
    assert r.returncode == 1
    assert f"{batch}:2" in r.stderr and "invalid JSON" in r.stderr


def test_chat_uses_template_and_answers(run_cli, fixtures_dir):
    path = fixtures_dir / "models" / "llama" / "model.gguf"
    r = run_cli("chat", "-m", path, "-p", "Hi there", "-p", "And again", "-n", "6", "--temp", "0",
                "--show-prompt", "--ignore-eos")
    assert r.returncode == 0, r.stderr
    assert r.stdout.count("> ") == 2
    # The model's ChatML template was rendered, and the second turn reused the first turn's KV.
    assert "<|im_start|>user\nHi there<|im_end|>" in r.stderr
    assert "cached" in r.stderr
    second = [line for line in r.stderr.splitlines() if line.startswith("[") and "cached" in line][1]
    assert "(0 cached)" not in second


def test_chat_reads_stdin(run_cli, fixtures_dir):
    path = fixtures_dir / "models" / "llama" / "model.gguf"
    r = run_cli("chat", "-m", path, "-n", "4", "--temp", "0", input_text="hello\n\n")
    assert r.returncode == 0, r.stderr
    assert "prompt tokens" in r.stderr
