"""Shared fixtures for the end-to-end tests of the tokenmill CLI.

Run with: TOKENMILL_BIN=build/tokenmill python3 -m pytest -q python/tests
"""
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared" / "testdata"


@pytest.fixture(scope="session")
def tokenmill_bin():
    path = os.environ.get("TOKENMILL_BIN", str(REPO / "build" / "tokenmill"))
    if not pathlib.Path(path).exists():
        pytest.fail(f"tokenmill binary not found at {path}: build first (scripts/build.sh)")
    return path


@pytest.fixture(scope="session")
def run_cli(tokenmill_bin):
    def run(*args, input_text=None, timeout=120):
        return subprocess.run([tokenmill_bin, *map(str, args)], capture_output=True, text=True,
                              input=input_text, timeout=timeout)
    return run


@pytest.fixture(scope="session")
def fixtures_dir():
    return REPO / "tests" / "fixtures"


@pytest.fixture(scope="session")
def shared_vocab():
    return SHARED / "vocab"
