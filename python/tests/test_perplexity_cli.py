"""`tokenmill perplexity` end to end. The expected perplexity is computed here independently: Hugging
Face tokenizers tokenizes the text, the chunking rule (chunks of ctx from an empty cache, BOS in
front, logits of positions [ctx/2, ctx-1) scored against the next token) is restated in numpy over
the logits `tokenmill logits --all` prints for each chunk, and log-softmax and the standard error are
numpy's. The KLD base file is parsed from its documented layout (docs/quality.md).
"""
import json
import random
import struct

import numpy as np
import pytest

tokenizers = pytest.importorskip("tokenizers")

MODELS = {"llama": {"bos": 0}, "qwen2": {"bos": None}}  # qwen2's tokenizer adds no BOS
HEADER = struct.Struct("<8s6I")


def model_path(fixtures_dir, case):
    return fixtures_dir / "models" / case / "model.gguf"


def make_text(seed=5, n_paragraphs=40):
    """Varied English-like text with numbers, punctuation and a little non-ASCII, ~4000 tokens."""
    rng = random.Random(seed)
    nouns = ["model", "cache", "token", "river", "engine", "garden", "window", "letter", "planet", "kernel",
             "thread", "matrix", "village", "teacher", "question", "café", "bridge", "signal"]
    verbs = ["reads", "writes", "builds", "measures", "follows", "breaks", "keeps", "turns", "finds", "moves"]
    adjectives = ["quiet", "large", "small", "quick", "naïve", "bright", "old", "careful", "strange", "blue"]
    out = []
    for p in range(n_paragraphs):
        sentences = []
        for _ in range(rng.randint(2, 5)):
            words = [rng.choice(adjectives), rng.choice(nouns), rng.choice(verbs), "the", rng.choice(nouns)]
            if rng.random() < 0.3:
                words += ["in", str(rng.randint(1, 2024)), "steps"]
            if rng.random() < 0.2:
                words += ["—", "and", rng.choice(nouns) + "s"]
            s = " ".join(words)
            sentences.append(s[0].upper() + s[1:] + rng.choice([".", "!", "?", "."]))
        out.append(f"{p + 1}. " + " ".join(sentences))
    return "\n\n".join(out) + "\n"


@pytest.fixture(scope="module")
def text_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("ppl") / "text.txt"
    path.write_text(make_text(), encoding="utf-8")
    return path


def hf_tokens(fixtures_dir, case, path):
    tok = tokenizers.Tokenizer.from_file(str(fixtures_dir / "models" / case / "hf" / "tokenizer.json"))
    return tok.encode(path.read_text(encoding="utf-8")).ids


def chunk_logits(run_cli, model, ids, tmp_path):
    out = tmp_path / "chunk.npy"
    r = run_cli("logits", "-m", model, "--ids", *ids, "--all", "-o", out, "-t", 2)
    assert r.returncode == 0, r.stderr
    return np.load(out).astype(np.float64)


def log_softmax(x):
    m = x.max(axis=-1, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=-1, keepdims=True))


def expected_scores(run_cli, model, tokens, ctx, n_chunks, bos, tmp_path):
    """Per scored position: (log-probabilities [vocab], target token), in order."""
    rows = []
    for c in range(n_chunks):
        ids = list(tokens[c * ctx:(c + 1) * ctx])
        if bos is not None:
            ids[0] = bos
        lsm = log_softmax(chunk_logits(run_cli, model, ids, tmp_path))
        for j in range(ctx // 2, ctx - 1):  # logits of position j predict token j + 1
            rows.append((lsm[j], tokens[c * ctx + j + 1]))
    return rows


def perplexity_json(run_cli, *args):
    r = run_cli("perplexity", *args, "--json", "-t", 2)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout), r.stderr


@pytest.mark.parametrize("case,ctx,batch", [("llama", 64, 16), ("llama", 37, 256), ("qwen2", 64, 24)])
def test_perplexity_matches_numpy(run_cli, fixtures_dir, text_file, tmp_path, case, ctx, batch):
    model = model_path(fixtures_dir, case)
    tokens = hf_tokens(fixtures_dir, case, text_file)
    assert len(tokens) > 2000
    n_chunks = 5
    got, log = perplexity_json(run_cli, "-m", model, "-f", text_file, "-c", ctx, "-b", batch, "--chunks", n_chunks)
    nll = np.array([-lp[t] for lp, t in expected_scores(run_cli, model, tokens, ctx, n_chunks,
                                                         MODELS[case]["bos"], tmp_path)])
    assert len(nll) == n_chunks * (ctx - ctx // 2 - 1)
    ppl = np.exp(nll.mean())
    assert got["n_tokens_scored"] == len(nll)
    assert got["n_chunks"] == n_chunks and got["ctx"] == ctx
    assert got["ppl"] == pytest.approx(ppl, rel=1e-4)
    assert got["nll_mean"] == pytest.approx(nll.mean(), rel=1e-4)
    assert got["ppl_stderr"] == pytest.approx(ppl * nll.std(ddof=1) / np.sqrt(len(nll)), rel=1e-3)
    assert got["seconds"] >= 0
    # Running estimates per chunk on stderr, the last one the final perplexity.
    progress = log.strip().splitlines()[-1]
    assert progress.startswith("[1]") and f"[{n_chunks}]" in progress
    assert float(progress.rstrip(",").split("]")[-1]) == pytest.approx(ppl, rel=1e-3)


def test_all_chunks_by_default_and_text_output(run_cli, fixtures_dir, text_file):
    model = model_path(fixtures_dir, "llama")
    n_tokens = len(hf_tokens(fixtures_dir, "llama", text_file))
    r = run_cli("perplexity", "-m", model, "-f", text_file, "--ctx", 128, "--batch", 50, "-t", 2)
    assert r.returncode == 0, r.stderr
    chunks = n_tokens // 128
    assert "PPL = " in r.stdout and "+/-" in r.stdout
    assert f"scored {chunks * 63} tokens in {chunks} chunks of 128" in r.stdout
    assert "tokens/s" in r.stdout
    # The default chunk is 512 tokens, capped by this model's context of 256.
    got, _ = perplexity_json(run_cli, "-m", model, "-f", text_file)
    assert got["ctx"] == 256 and got["n_chunks"] == n_tokens // 256


def read_kld_base(path):
    data = path.read_bytes()
    magic, version, vocab, ctx, n_chunks, first, rows = HEADER.unpack_from(data)
    assert magic == b"TMKLBASE" and version == 1
    assert first == ctx // 2 and rows == ctx - first - 1
    tokens = np.frombuffer(data, "<i4", n_chunks * ctx, HEADER.size)
    logprobs = np.frombuffer(data, "<f4", offset=HEADER.size + 4 * tokens.size)
    assert logprobs.size == n_chunks * rows * vocab  # nothing after the log-probabilities
    return {"vocab": vocab, "ctx": ctx, "n_chunks": n_chunks, "tokens": tokens,
            "logprobs": logprobs.reshape(n_chunks * rows, vocab)}


@pytest.fixture(scope="module")
def llama_base(run_cli, fixtures_dir, text_file, tmp_path_factory):
    """The F32 llama's KLD base over 6 chunks of 64."""
    path = tmp_path_factory.mktemp("kld") / "base.kld"
    got, log = perplexity_json(run_cli, "-m", model_path(fixtures_dir, "llama"), "-f", text_file, "-c", 64,
                               "--chunks", 6, "--kl-divergence-base", path)
    assert "wrote the log-probabilities of 186 positions" in log
    return path, got


def test_kld_base_file_layout(run_cli, fixtures_dir, text_file, tmp_path, llama_base):
    path, got = llama_base
    base = read_kld_base(path)
    tokens = hf_tokens(fixtures_dir, "llama", text_file)
    assert (base["vocab"], base["ctx"], base["n_chunks"]) == (384, 64, 6)
    assert list(base["tokens"]) == tokens[:6 * 64]
    rows = expected_scores(run_cli, model_path(fixtures_dir, "llama"), tokens, 64, 6, 0, tmp_path)
    want = np.stack([lp for lp, _ in rows])
    np.testing.assert_allclose(base["logprobs"], want, atol=2e-5)
    assert got["ppl"] == pytest.approx(np.exp(-np.mean([lp[t] for lp, t in rows])), rel=1e-4)


def test_kld_of_a_model_against_itself_is_zero(run_cli, fixtures_dir, text_file, llama_base):
    path, plain = llama_base
    got, _ = perplexity_json(run_cli, "-m", model_path(fixtures_dir, "llama"), "-f", text_file,
                             "--kl-divergence-base", path, "--kl-divergence")
    # ctx and chunks come from the base file.
    assert got["ctx"] == 64 and got["n_chunks"] == 6
    k = got["kld"]
    assert k["n_positions"] == 186
    assert abs(k["mean"]) < 1e-9 and abs(k["max"]) < 1e-9
    assert k["same_top_p"] == 1.0
    assert k["ppl_ratio"] == pytest.approx(1.0, abs=1e-6)
    assert k["ppl_base"] == pytest.approx(plain["ppl"], rel=1e-6)
    assert got["ppl"] == pytest.approx(plain["ppl"], rel=1e-12)


@pytest.mark.parametrize("scheme", ["Q8_0", "Q4_0"])
def test_kld_of_a_quantized_copy(run_cli, fixtures_dir, text_file, tmp_path, llama_base, monkeypatch, scheme):
    path, plain = llama_base
    quantized = tmp_path / f"llama-{scheme}.gguf"
    r = run_cli("quantize", model_path(fixtures_dir, "llama"), quantized, scheme)
    assert r.returncode == 0, r.stderr
    compare = ("-m", quantized, "-f", text_file, "--kl-divergence-base", path, "--kl-divergence")
    got, _ = perplexity_json(run_cli, *compare)
    k = got["kld"]
    assert k["mean"] > 1e-5 and k["max"] > k["p99"] >= k["p95"] >= k["p90"] >= k["median"] > 0
    assert k["ppl_base"] == pytest.approx(plain["ppl"], rel=1e-6)
    assert k["ppl_ratio"] == pytest.approx(got["ppl"] / k["ppl_base"], rel=1e-12)
    if scheme == "Q4_0":
        assert k["same_top_p"] < 1.0

    # The same statistics from the base file and the quantized copy's own logits, in numpy. The
    # scalar kernels give the same logits whatever rows a forward pass computes (the AMX prefill of
    # quantized weights rounds activations to BF16, the int8 paths to int8: the two can differ).
    monkeypatch.setenv("TOKENMILL_ISA", "scalar")
    k = perplexity_json(run_cli, *compare)[0]["kld"]
    base = read_kld_base(path)
    tokens = hf_tokens(fixtures_dir, "llama", text_file)
    rows = expected_scores(run_cli, quantized, tokens, 64, 6, 0, tmp_path)
    q = np.stack([lp for lp, _ in rows])
    p = log_softmax(base["logprobs"].astype(np.float64))
    kld = (np.exp(p) * (p - q)).sum(axis=1)
    assert k["mean"] == pytest.approx(kld.mean(), rel=1e-3, abs=1e-7)
    assert k["stderr"] == pytest.approx(kld.std(ddof=1) / np.sqrt(len(kld)), rel=1e-2)
    assert k["median"] == pytest.approx(np.median(kld), rel=1e-3, abs=1e-7)
    assert k["p99"] == pytest.approx(np.percentile(kld, 99), rel=1e-3, abs=1e-7)
    assert k["max"] == pytest.approx(kld.max(), rel=1e-3, abs=1e-7)
    same_top = np.mean(p.argmax(axis=1) == q.argmax(axis=1))
    assert k["same_top_p"] == pytest.approx(same_top, abs=1.5 / len(kld))  # one position of float ties


def assert_clean_error(r, *needles):
    assert r.returncode == 1, (r.returncode, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), r.stderr
    for n in needles:
        assert n in lines[-1], r.stderr


def test_bad_text_and_context(run_cli, fixtures_dir, tmp_path, text_file):
    model = model_path(fixtures_dir, "llama")
    missing = tmp_path / "missing.txt"
    assert_clean_error(run_cli("perplexity", "-m", model, "-f", missing), str(missing), "cannot open")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    assert_clean_error(run_cli("perplexity", "-m", model, "-f", empty), str(empty), "empty")
    short = tmp_path / "short.txt"
    short.write_text("A few words only.")
    n = len(hf_tokens(fixtures_dir, "llama", short))
    assert_clean_error(run_cli("perplexity", "-m", model, "-f", short, "-c", 64),
                       f"has {n} tokens", "needs 64")
    for ctx in (1, 2, 3):
        assert_clean_error(run_cli("perplexity", "-m", model, "-f", text_file, "-c", ctx), "at least 4")
    assert_clean_error(run_cli("perplexity", "-m", model, "-f", text_file, "-c", 1024), "maximum context of 256")
    assert_clean_error(run_cli("perplexity", "-m", model, "-f", text_file, "--kl-divergence"),
                       "--kl-divergence-base")


def test_bad_kld_base(run_cli, fixtures_dir, text_file, tmp_path, llama_base):
    path, _ = llama_base
    model = model_path(fixtures_dir, "llama")

    def compare(base, *extra, m=model, text=text_file):
        return run_cli("perplexity", "-m", m, "-f", text, "--kl-divergence-base", base, "--kl-divergence", *extra)

    data = path.read_bytes()
    assert_clean_error(compare(tmp_path / "none.kld"), "none.kld", "cannot open")
    truncated = tmp_path / "truncated.kld"
    truncated.write_bytes(data[:len(data) - 100])
    assert_clean_error(compare(truncated), str(truncated), "truncated")
    tiny = tmp_path / "tiny.kld"
    tiny.write_bytes(data[:12])
    assert_clean_error(compare(tiny), str(tiny), "not a KLD base file")
    magic = tmp_path / "magic.kld"
    magic.write_bytes(b"_logits_" + data[8:])
    assert_clean_error(compare(magic), str(magic), "bad magic")
    # Another model's vocabulary (qwen2: 320 tokens).
    assert_clean_error(compare(path, m=model_path(fixtures_dir, "qwen2")), "vocabulary of 384", "320")
    # Another text.
    other = tmp_path / "other.txt"
    other.write_text(make_text(seed=6), encoding="utf-8")
    assert_clean_error(compare(path, text=other), "different tokens")
    # Another chunking.
    assert_clean_error(compare(path, "-c", 32), "context of 64")
    assert_clean_error(compare(path, "--chunks", 7), "has 6 chunks")
    # A prefix of the base's chunks is fine.
    got, _ = perplexity_json(run_cli, "-m", model, "-f", text_file, "--kl-divergence-base", path,
                             "--kl-divergence", "--chunks", 2)
    assert got["n_chunks"] == 2 and got["kld"]["n_positions"] == 62
