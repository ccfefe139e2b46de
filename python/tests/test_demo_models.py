"""The committed demo models (models/, made by scripts/train_demo_models.sh) are trained, agree with
their Hugging Face checkpoints, write in the corpus's style and chat with the template."""
import json
import random
import sys

import numpy as np
import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "python"))
from demo import corpus  # noqa: E402

MODELS = REPO / "models"
TARGET_GGUF, TARGET_HF = MODELS / "tokenmill-default.gguf", MODELS / "tokenmill-default-hf"
DRAFT_GGUF, DRAFT_HF = MODELS / "tokenmill-draft.gguf", MODELS / "tokenmill-draft-hf"


def plain_text(path, seed, n_bytes):
    """Fresh documents from the corpus generator (a seed the models never saw), chats left out."""
    docs = [d for d in corpus.generate(seed, n_bytes) if d["kind"] != "chat"]
    path.write_text("\n\n".join(d["text"] for d in docs) + "\n")
    return path


def test_committed_model_bytes_stay_small():
    total = sum(p.stat().st_size for p in MODELS.rglob("*") if p.is_file())
    assert total <= 60 * 2**20


@pytest.mark.parametrize("gguf,hf", [(TARGET_GGUF, TARGET_HF), (DRAFT_GGUF, DRAFT_HF)])
def test_gguf_and_hf_checkpoint_agree(run_cli, tmp_path, gguf, hf):
    prompt = "Question: What is 25 + 17?\nAnswer:"
    for name, model in (("g", gguf), ("h", hf)):
        r = run_cli("logits", "-m", model, "-p", prompt, "--all", "-o", tmp_path / f"{name}.npy")
        assert r.returncode == 0, r.stderr
    a, b = np.load(tmp_path / "g.npy"), np.load(tmp_path / "h.npy")
    assert a.shape == b.shape
    assert np.abs(a - b).max() <= 1e-3 * np.abs(b).max()


def test_target_perplexity_is_far_below_unigram(run_cli, tmp_path):
    """Unseen text from the corpus generator: a trained model predicts it well; a unigram model of
    the same tokens cannot do better than the entropy of their frequencies."""
    text = plain_text(tmp_path / "fresh.txt", seed=987654, n_bytes=40_000)
    r = run_cli("perplexity", "-m", TARGET_GGUF, "-f", text, "-c", "256", "--json", timeout=300)
    assert r.returncode == 0, r.stderr
    ppl = json.loads(r.stdout)["ppl"]
    ids = [int(x) for x in run_cli("tokenize", "-m", TARGET_GGUF, "-p", text.read_text()).stdout.split()]
    counts = np.bincount(ids)
    p = counts[counts > 0] / counts.sum()
    unigram_ppl_bound = float(np.exp(-(p * np.log(p)).sum()))  # in-sample: a lower bound for unigram
    assert ppl * 5 < unigram_ppl_bound, (ppl, unigram_ppl_bound)
    assert ppl < 3.0


def corpus_words():
    return {w.strip('.,!?"\'():').lower() for d in corpus.generate(31, 300_000) for w in d["text"].split()}


def test_run_continues_a_story(run_cli):
    """Greedy continuation of a story opening: fluent text made of the corpus's words (a random
    model writes byte soup), not a loop of one phrase."""
    prompt = "Once upon a time, there was a little fox named Pip."
    r = run_cli("run", "-p", prompt, "-n", "80", "--temp", "0")
    assert r.returncode == 0, r.stderr
    words = [w.strip('.,!?"\'():').lower() for w in r.stdout[len(prompt):].split()]
    words = [w for w in words if w]
    assert len(words) > 30
    known = corpus_words()
    assert sum(w in known for w in words) >= 0.95 * len(words), words
    assert len(set(words)) > 20


def test_run_answers_arithmetic_in_the_worked_format(run_cli):
    """The column steps read the right digits (the model's whole-sum accuracy is a reported figure,
    docs/demo_models_results.md, not a test)."""
    r = run_cli("run", "-p", "Question: What is 34 + 25?\nAnswer:", "-n", "60", "--temp", "0")
    assert r.returncode == 0, r.stderr
    assert "Answer: Ones: 4 + 5 = 9, write 9.\nTens: 3 + 2 = 5, write 5." in r.stdout


def test_chat_answers_in_the_corpus_style(run_cli):
    r = run_cli("chat", "--temp", "0", "-n", "40", input_text="What sound does a cow make?\n")
    assert r.returncode == 0, r.stderr
    assert "moo" in r.stdout.lower()


def test_draft_agrees_with_target_on_greedy_tokens(run_cli, tmp_path):
    """Speculative decoding needs a draft that predicts what the target would: on fresh text, the
    two models' top-1 tokens agree at most positions."""
    rng = random.Random(5)
    docs = [d["text"] for d in corpus.generate(rng.randint(0, 10**6), 6000) if d["kind"] == "story"]
    prompt = docs[0][:600]
    tops = []
    for model in (TARGET_GGUF, DRAFT_GGUF):
        r = run_cli("logits", "-m", model, "-p", prompt, "--all", "-o", tmp_path / "l.npy")
        assert r.returncode == 0, r.stderr
        tops.append(np.load(tmp_path / "l.npy").argmax(axis=1))
    agreement = float((tops[0] == tops[1]).mean())
    assert agreement > 0.6, agreement
