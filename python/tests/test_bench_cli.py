"""`tokenmill bench`: the model benchmark's JSON and markdown output, its flag errors, and the
`bench serve` subcommand living beside it. Small runs on the bundled model; no timed assertions.
"""
import json
import math
import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
MODEL = REPO / "models" / "tokenmill-default.gguf"
SMALL = ("-m", MODEL, "-p", "16", "-n", "4", "-r", "2")


def assert_clean_error(result, *needles):
    assert result.returncode != 0, result
    assert 0 < result.returncode < 128, f"exit {result.returncode}: {result.stderr}"
    for n in needles:
        assert n in result.stderr, result.stderr


def positive(x):
    return isinstance(x, (int, float)) and math.isfinite(x) and x > 0


def test_json_has_config_samples_and_stats(run_cli):
    r = run_cli("bench", *SMALL, "--json", "--no-limits")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)  # stdout is exactly one JSON object
    assert doc["config"]["repetitions"] == 2
    assert doc["config"]["threads"] >= 1
    assert doc["config"]["isa"]
    assert doc["model"]["n_params"] > 0 and doc["model"]["size_bytes"] > 0
    assert doc["limits"] is None
    assert doc["ratios"]["decode_of_bandwidth"] is None
    assert positive(doc["work"]["decode_bytes_per_token"])
    assert positive(doc["work"]["prefill_ops_per_token"])
    tests = {t["name"]: t for t in doc["tests"]}
    assert set(tests) == {"pp16", "tg4"}
    for t in tests.values():
        assert len(t["samples_ts"]) == 2 and len(t["samples_s"]) == 2
        assert all(positive(v) for v in t["samples_ts"])
        assert positive(t["mean_ts"])
        assert t["sd_ts"] >= 0
    assert tests["pp16"]["kind"] == "pp" and positive(tests["pp16"]["ops_per_s"])
    assert tests["tg4"]["kind"] == "tg" and positive(tests["tg4"]["weight_bytes_per_s"])
    assert "profile" not in doc


def test_markdown_has_pp_and_tg_rows(run_cli):
    r = run_cli("bench", *SMALL, "--no-limits")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    header = lines[0]
    for column in ("model", "size", "params", "backend", "threads", "test", "t/s"):
        assert f" {column} " in header, header
    rows = [line for line in lines if line.startswith("| ") and "±" in line]
    assert [row.split("|")[6].strip() for row in rows] == ["pp16", "tg4"], r.stdout
    assert "of roof" not in header  # no limits measured
    assert "work per token" in r.stdout


def test_limits_and_profile_in_one_run(run_cli):
    r = run_cli("bench", "-m", MODEL, "-p", "8", "-n", "4", "-r", "1", "--profile", "--json")
    assert r.returncode == 0, r.stderr
    doc = json.loads(r.stdout)
    limits = doc["limits"]
    for key in ("read_bw_gbs", "f32_gflops", "int8_gops"):
        assert positive(limits[key]), limits
    assert limits["int8_instruction"]
    assert positive(doc["ratios"]["decode_of_bandwidth"])
    assert positive(doc["ratios"]["prefill_of_int8"])
    profile = doc["profile"]
    assert profile["tokens"] == 4
    assert sum(op["seconds"] for op in profile["ops"]) <= profile["wall_seconds"] * 1.001
    assert {op["op"] for op in profile["ops"]} >= {"matmul_qkv", "attention", "lm_head"}


@pytest.mark.parametrize("args,needle", [
    (("-p", "0", "-n", "0"), "both 0"),
    (("-t", "-1"), "--threads"),
    (("-t", "many"), "--threads"),
    (("-r", "0"), "--repetitions"),
    (("-b", "0"), "--batch-size"),
    (("--no-such-flag",), "--no-such-flag"),
])
def test_bad_flags_are_clear_errors(run_cli, args, needle):
    r = run_cli("bench", "-m", MODEL, *args)
    assert_clean_error(r, needle)


def test_missing_model_is_a_clear_error(run_cli, tmp_path):
    missing = tmp_path / "absent.gguf"
    r = run_cli("bench", "-m", missing, "-p", "4", "-n", "2", "--no-limits")
    assert_clean_error(r, str(missing), "no such file")


def test_bench_serve_still_works(run_cli):
    r = run_cli("bench", "serve", "--help")
    assert r.returncode == 0, r.stderr
    assert "--url" in r.stdout and "--concurrency" in r.stdout
    r = run_cli("bench", "serve")  # --url is required
    assert_clean_error(r, "--url")


def test_no_repack_computes_the_file_layout(run_cli, tmp_path):
    q8 = tmp_path / "default-q8_0.gguf"
    assert run_cli("quantize", MODEL, q8, "Q8_0").returncode == 0
    inspect = run_cli("inspect", "-m", q8, "--no-tensors")
    repacks = "repacked at load: none" not in inspect.stdout  # this CPU's kernels prefer repacking
    types = {}
    for flags in ((), ("--no-repack",)):
        r = run_cli("bench", "-m", q8, "-p", "16", "-n", "4", "-r", "1", "--json", "--no-limits", *flags)
        assert r.returncode == 0, r.stderr
        types[flags] = json.loads(r.stdout)["model"]["weight_dtype"]
    assert types[("--no-repack",)] == "Q8_0"
    assert ("Q8_0_R16" in types[()]) == repacks, (types, inspect.stdout)
