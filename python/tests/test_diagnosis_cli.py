"""Bottleneck diagnosis end to end: `tokenmill bench --json` classifies decode and prefill against the
limits it measured, and `tokenmill serve --profile` answers GET /debug/profile with the steps'
op shares and their classification; without --profile the route says how to turn it on."""
import json

from conftest import REPO
from test_server_support import ServerProcess

MODEL = REPO / "models" / "tokenmill-default.gguf"
BOUNDS = {"memory-bound", "compute-bound", "overhead-bound"}


def test_bench_json_has_a_diagnosis_per_phase(run_cli):
    r = run_cli("bench", "-m", MODEL, "-p", 64, "-n", 16, "-r", 1, "-t", 2, "--profile", "--json")
    assert r.returncode == 0, r.stderr
    d = {p["phase"]: p for p in json.loads(r.stdout)["diagnosis"]}
    assert set(d) == {"prefill", "decode"}
    for p in d.values():
        assert p["bound"] in BOUNDS
        assert p["bandwidth_fraction"] > 0 and p["compute_fraction"] > 0
        assert p["phase"] in p["advice"]
        ops = {o["op"] for o in p["ops"]}
        assert {"matmul_qkv", "matmul_gate_up", "attention"} <= ops
        assert 0 <= p["overhead_share"] < 1
    text = run_cli("bench", "-m", MODEL, "-p", 32, "-n", 8, "-r", 1, "-t", 2).stdout
    assert "diagnosis: decode is" in text and "-> " in text


def test_serve_profile_route(tokenmill_bin):
    s = ServerProcess(tokenmill_bin, MODEL, "--profile")
    try:
        for _ in range(3):
            status, _, _ = s.request("POST", "/v1/completions",
                                     json.dumps({"prompt": "Once upon a time", "max_tokens": 8, "ignore_eos": True}).encode(),
                                     {"Content-Type": "application/json"})
            assert status == 200
        status, _, body = s.request("GET", "/debug/profile")
        assert status == 200
        j = json.loads(body)
        assert j["steps"] >= 3 * 8 and j["tokens"] > j["steps"] and j["busy_seconds"] > 0
        assert j["diagnosis"]["phase"] == "serving" and j["diagnosis"]["bound"] in BOUNDS
        assert "serving is" in j["diagnosis"]["advice"]
        shares = [o["share"] for o in j["diagnosis"]["ops"]]
        assert 0.3 < sum(shares) <= 1.0 + 1e-9
    finally:
        s.close()
    plain = ServerProcess(tokenmill_bin, MODEL)
    try:
        status, _, body = plain.request("GET", "/debug/profile")
        assert status == 404 and "--profile" in json.loads(body)["error"]["message"]
    finally:
        plain.close()
