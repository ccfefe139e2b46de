"""pytest: the committed model fixtures are self-consistent (GGUF == HF weights, numpy forward over
the GGUF reproduces the reference logits and greedy tokens).  Regenerating is not needed to run it."""
from pathlib import Path

import pytest

import check_gguf_vs_hf

CASES = sorted(d for d in check_gguf_vs_hf.FIXTURES.iterdir() if (d / "reference.json").exists()) \
    if check_gguf_vs_hf.FIXTURES.exists() else []


@pytest.mark.parametrize("case_dir", CASES, ids=[d.name for d in CASES])
def test_fixture_consistent(case_dir: Path):
    check_gguf_vs_hf.check_case(case_dir)


def test_fixtures_present():
    assert len(CASES) >= 10, "run python3 python/oracle/gen_model_fixtures.py"
