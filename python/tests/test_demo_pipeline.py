"""The demo-model pipeline (python/demo) end to end at a tiny size: corpus, tokenizer, a few
training steps, export to tokenmill, INT4 fake quantization / packing / W4A16 consistency, and the
function-preserving widening. Full training is scripts/train_demo_models.sh, not a test."""
import json
import re
import sys

import numpy as np
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "python"))
torch = pytest.importorskip("torch")
gguf = pytest.importorskip("gguf")

from demo import (arithmetic, code_snippets, corpus, data, gguf_export, model as demo_model,  # noqa: E402
                  grid_probe, perplexity, q4_0, qat, tokenizer_train, train, widen)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, tokenmill_bin, monkeypatch_module):
    """Corpus (0.3 MB) -> tokenizer -> tiny model after 30 steps -> f32 HF checkpoint."""
    monkeypatch_module.setenv("TOKENMILL_BIN", tokenmill_bin)
    root = tmp_path_factory.mktemp("demo")
    corpus.write(corpus.generate(7, 300_000), root / "corpus")
    tok = tokenizer_train.train(tokenizer_train.training_texts(root / "corpus"), 1024)
    tokenizer_train.save(tok, root / "tok")
    bos, im_end = tok.token_to_id(tokenizer_train.BOS), tok.token_to_id(tokenizer_train.IM_END)
    torch.set_num_threads(2)
    stream = data.encode_split(tok, root / "corpus" / "train.jsonl")
    valid = data.eval_windows(data.encode_split(tok, root / "corpus" / "valid.jsonl"), 64, 4)
    model = demo_model.build("tiny", tok.get_vocab_size(), bos, bos, seed=3)
    before = data.mean_loss(model, valid)
    log = train.train_loop(model, data.Batches(stream, 64, 8, seed=3), 30, 3e-3, 5, valid, 30, use_bf16=False)
    demo_model.save_checkpoint(model, root / "hf", root / "tok", torch.float32, [bos, im_end])
    return {"root": root, "tok": tok, "model": model, "before": before, "log": log, "valid": valid}


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def test_corpus_is_deterministic_and_varied(tmp_path):
    a, b, c = corpus.generate(11, 60_000), corpus.generate(11, 60_000), corpus.generate(12, 60_000)
    assert a == b
    assert a != c
    assert {d["kind"] for d in a} == {"story", "chat", "arithmetic", "code"}
    counts = corpus.write(a, tmp_path)
    assert counts["train"] > counts["valid"] > 0 and counts["test"] > 0
    test_txt = (tmp_path / "test.txt").read_text()
    assert "<|im_start|>" not in test_txt and len(test_txt) > 1000


def test_arithmetic_answers_are_right():
    import random
    rng = random.Random(5)
    checked = 0
    for _ in range(300):
        _, answer = arithmetic.problem(rng)
        for x, op, y, z in re.findall(r"(?<![-+x] )\b(\d+) ([-+x]) (\d+) = (\d+)", answer):
            x, y, z = int(x), int(y), int(z)
            assert z == {"+": x + y, "-": x - y, "x": x * y}[op], answer
            checked += 1
    assert checked > 200


def test_code_snippet_outputs_are_real():
    import random
    rng = random.Random(9)
    for _ in range(20):
        _, code, output = code_snippets.snippet(rng)
        assert code_snippets.run_snippet(code) == output and output


def test_tokenizer_specials_and_round_trip(tiny):
    tok = tiny["tok"]
    text = "<|im_start|>user\nWhat is 12 + 7?<|im_end|>\n"
    ids = tok.encode(text, add_special_tokens=False).ids
    assert ids[0] == tok.token_to_id("<|im_start|>")
    assert tok.token_to_id("<|im_end|>") in ids
    digits = [tok.id_to_token(i) for i in tok.encode("1234", add_special_tokens=False).ids]
    assert digits == ["1", "2", "3", "4"]
    plain = "Once upon a time, Lily found a golden key."
    assert tok.decode(tok.encode(plain, add_special_tokens=False).ids) == plain
    config = json.loads((tiny["root"] / "tok" / "tokenizer_config.json").read_text())
    assert "<|im_start|>" in config["chat_template"]


def test_training_lowers_loss(tiny):
    assert tiny["log"]["valid_loss"][-1][1] < tiny["before"] - 0.5


def test_tokenmill_tokenizes_like_the_trained_tokenizer(tiny, run_cli):
    text = "Tom has 15 apples. He gets 27 more!\n\ndef add(a, b):\n    return a + b"
    r = run_cli("tokenize", "-m", tiny["root"] / "hf", "-p", text)
    assert r.returncode == 0, r.stderr
    expected = tiny["tok"].encode(text).ids
    assert [int(x) for x in r.stdout.split()] == expected


def test_tokenmill_logits_match_pytorch(tiny, run_cli, tmp_path):
    ids = tiny["tok"].encode("Once upon a time, there was a fox.").ids
    r = run_cli("logits", "-m", tiny["root"] / "hf", "--ids", *ids, "--all", "-o", tmp_path / "l.npy")
    assert r.returncode == 0, r.stderr
    with torch.no_grad():
        ref = tiny["model"](input_ids=torch.tensor([ids])).logits[0].numpy()
    got = np.load(tmp_path / "l.npy")
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()


def test_q4_0_packing_matches_the_gguf_reader():
    torch.manual_seed(1)
    w = torch.randn(5, 96) * 0.1
    w[2, 32:64] = 0.0   # an all-zero group: scale 0
    packed = q4_0.pack(w)
    assert packed.shape == (5, 3 * 18)
    ref = gguf.quants.dequantize(packed, gguf.GGMLQuantizationType.Q4_0).reshape(5, 96)
    fq = q4_0.fake_quant(w).numpy()
    assert np.array_equal(ref, fq)
    assert np.array_equal(q4_0.unpack(packed, 96), fq)
    assert np.array_equal(q4_0.fake_quant(torch.from_numpy(fq)).numpy(), fq)  # idempotent
    # 16 levels per group, the largest magnitude kept exactly
    for g in range(3):
        block = fq[0, g * 32:(g + 1) * 32]
        assert len(np.unique(block)) <= 16
        assert np.abs(block).max() == pytest.approx(float(w[0, g * 32:(g + 1) * 32].abs().max()), rel=1e-3)


def test_per_tensor_grid_shares_one_scale_in_q4_0_blocks():
    torch.manual_seed(2)
    w = torch.randn(4, 64) * 0.1
    w[3, 40] = -0.9   # the tensor's largest magnitude sets every block's scale
    packed = q4_0.pack(w, "tensor")
    d = packed.reshape(4, 2, 18)[..., :2].copy().view("<f2").astype(np.float32)
    assert np.all(d == d.flat[0]) and d.flat[0] == np.float16(-0.9 / -8)
    ref = gguf.quants.dequantize(packed, gguf.GGMLQuantizationType.Q4_0).reshape(4, 64)
    assert np.array_equal(ref, q4_0.fake_quant(w, "tensor").numpy())
    # Coarser than groups of 32: a larger error on the same weights.
    err = lambda grid: float((q4_0.fake_quant(w, grid) - w).pow(2).mean())
    assert err("tensor") > 2 * err("group32")
    with pytest.raises(ValueError, match="unknown grid"):
        q4_0.fake_quant(w, "row")


def test_grid_probe_rounds_like_the_packed_grids():
    torch.manual_seed(3)
    w = torch.randn(6, 96) * 0.05
    assert torch.equal(grid_probe.round_to_grid(w, 4, "32"), q4_0.fake_quant(w))
    assert torch.equal(grid_probe.round_to_grid(w, 4, "tensor"), q4_0.fake_quant(w, "tensor"))
    assert len(torch.unique(grid_probe.round_to_grid(w, 2, "row")[0])) <= 4


def test_straight_through_estimator_passes_gradients():
    w = torch.randn(4, 64, requires_grad=True)
    out = q4_0.FakeQuantSTE()(w)
    assert torch.equal(out.detach(), q4_0.fake_quant(w))
    (out * torch.arange(64.0)).sum().backward()
    assert torch.equal(w.grad, torch.arange(64.0).expand(4, 64))


@pytest.mark.parametrize("grid", q4_0.GRIDS)
def test_qat_export_runs_in_tokenmill_as_w4a16(tiny, run_cli, tmp_path, grid):
    """Stage 1 (a few QAT steps), stage 2 (packed Q4_0 GGUF), stage 3 (tokenmill W4A16): the
    fake-quantized PyTorch forward and tokenmill's logits agree within 1e-4 of the largest logit,
    on both INT4 grids."""
    root = tiny["root"]
    m = demo_model.load_checkpoint(root / "hf")
    qat.add_fake_quant(m, grid)
    stream = data.encode_split(tiny["tok"], root / "corpus" / "train.jsonl")
    train.train_loop(m, data.Batches(stream, 64, 4, seed=5), 3, 1e-3, 1, tiny["valid"], 3, use_bf16=False)
    bos = tiny["tok"].token_to_id(tokenizer_train.BOS)
    counts = qat.export(m, root / "tok", tmp_path / "fq-hf", tmp_path / "q4.gguf", [bos], grid)
    assert counts["Q4_0"] == 2 * 7 + 1 and counts["F16"] == 1
    reader = gguf.GGUFReader(tmp_path / "q4.gguf")
    assert reader.fields["tokenmill.activations"].contents() == "float"
    ids = tiny["tok"].encode("Question: What is 12 + 30?\nAnswer:").ids
    r = run_cli("logits", "-m", tmp_path / "q4.gguf", "--ids", *ids, "--all", "-o", tmp_path / "l.npy")
    assert r.returncode == 0, r.stderr
    ref_model = demo_model.load_checkpoint(tmp_path / "fq-hf")
    with torch.no_grad():
        ref = ref_model(input_ids=torch.tensor([ids])).logits[0].numpy()
    got = np.load(tmp_path / "l.npy")
    assert np.abs(got - ref).max() <= 1e-4 * np.abs(ref).max()


def test_widened_model_keeps_the_logits(tiny, run_cli, tmp_path):
    cfg = widen.widen_checkpoint(tiny["root"] / "hf", tmp_path / "wide", 2, 2, 4, "f32")
    assert cfg["hidden_size"] == 128 and cfg["num_attention_heads"] == 4 and cfg["intermediate_size"] == 512
    rel = widen.verify(gguf_export.tokenmill_bin(), tiny["root"] / "hf", tmp_path / "wide", "Once upon a time, Lily")
    assert rel < 1e-5


def test_torch_perplexity_rule():
    ids = list(range(1, 41))
    ch = perplexity.chunks([0] + ids, 16)
    assert len(ch) == 2 and ch[0][0] == 0 and ch[1][0] == 0 and ch[1][1] == 17
    assert perplexity.scored_targets([0] + ids, 16) == list(range(9, 16)) + list(range(25, 32))


def test_widen_rejects_unsupported_checkpoints(tmp_path):
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "mistral"}))
    with pytest.raises(SystemExit, match="only llama"):
        widen.widen_checkpoint(tmp_path, tmp_path / "out", 2, 2, 2, "f32")


def test_torch_perplexity_matches_tokenmill(tiny, run_cli, tmp_path):
    """The report's PyTorch perplexity (demo/perplexity.py) and `tokenmill perplexity` of the same
    f32 checkpoint on the same text agree within the stated tolerance, 1e-6 relative."""
    text = tmp_path / "t.txt"
    text.write_text((tiny["root"] / "corpus" / "test.txt").read_text()[:20000])
    r = run_cli("perplexity", "-m", tiny["root"] / "hf", "-f", text, "-c", "64", "--json")
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    ids = perplexity.tokenize_file(tiny["tok"], text)
    assert got["n_tokens_scored"] == len(perplexity.scored_targets(ids, 64))
    ref = perplexity.torch_ppl(tiny["model"], ids, 64)
    assert abs(got["ppl"] - ref) <= 1e-6 * ref, (got["ppl"], ref)


def test_bad_arguments_give_clear_errors(tmp_path, capsys):
    with pytest.raises(SystemExit):
        corpus.main(["-o", str(tmp_path), "--megabytes", "0"])
    assert "--megabytes must be positive" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        qat.main(["--master", str(tmp_path / "none.pt"), "--hf", str(tmp_path), "--corpus", str(tmp_path),
                  "--tokenizer", str(tmp_path), "-o", str(tmp_path / "out")])
    assert "not found: train the model first" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        widen.main([str(tmp_path), "-o", str(tmp_path / "w")])
    assert "no config.json" in capsys.readouterr().err
    with pytest.raises(ValueError, match="multiple of 32"):
        q4_0.pack(torch.zeros(4, 40))
    with pytest.raises(SystemExit):
        qat.main(["--master", "m", "--hf", "h", "--corpus", "c", "--tokenizer", "t", "-o", "o", "--grid", "row"])
    assert "invalid choice: 'row'" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        grid_probe.main(["--master", str(tmp_path / "none.pt"), "--hf", str(tmp_path), "--corpus", str(tmp_path),
                         "--tokenizer", str(tmp_path)])
    assert "not found" in capsys.readouterr().err
