"""Cost accounting end to end: `tokenmill serve --price-per-hour --power-watts` puts each request's
cost in its usage and prices busy time and savings in /metrics (concurrent requests' costs add up
to the priced busy time); `tokenmill cost` prices a benchmark's JSON; bad input is named."""
import concurrent.futures
import json

import pytest

from conftest import REPO
from test_server_support import TINY_MODEL_NAME, ServerProcess

openai = pytest.importorskip("openai")

PRICE, WATTS = 3.6, 100.0   # $0.001 per busy second, 100 J per busy second
Q8_MODEL_ARGS = ("--price-per-hour", PRICE, "--power-watts", WATTS, "--memory-bandwidth", 20)


@pytest.fixture(scope="module")
def priced_server(tokenmill_bin, fixtures_dir):
    s = ServerProcess(tokenmill_bin, fixtures_dir / "models" / "llama" / "model.gguf", *Q8_MODEL_ARGS)
    yield s
    s.close()


def test_usage_carries_cost_and_adds_up_to_busy_time(priced_server):
    client = openai.OpenAI(base_url=priced_server.base_url + "/v1", api_key="x", max_retries=0, timeout=60)
    prompt = "The quick brown fox jumps over the lazy dog. " * 5

    def one(i):
        return client.completions.create(model=TINY_MODEL_NAME, prompt=prompt + str(i), max_tokens=16 + i,
                                         temperature=0, extra_body={"ignore_eos": True})

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        results = list(pool.map(one, range(6)))
    costs = [r.usage.model_extra["cost"] for r in results]
    for c in costs:
        assert c["prompt_seconds"] > 0 and c["completion_seconds"] > 0
        seconds = c["prompt_seconds"] + c["completion_seconds"]
        assert c["usd"] == pytest.approx(seconds * PRICE / 3600, rel=1e-9)
        assert c["energy_joules"] == pytest.approx(seconds * WATTS, rel=1e-9)
        assert c["savings"]["quantization_bytes"] == 0   # f32 weights save nothing vs F16
    m = priced_server.metrics()
    busy = m['tokenmill_busy_seconds_total{phase="prompt"}'] + m['tokenmill_busy_seconds_total{phase="completion"}']
    assert sum(c["prompt_seconds"] + c["completion_seconds"] for c in costs) == pytest.approx(busy, rel=1e-6)
    usd = m['tokenmill_cost_usd_total{phase="prompt"}'] + m['tokenmill_cost_usd_total{phase="completion"}']
    assert sum(c["usd"] for c in costs) == pytest.approx(usd, rel=1e-6)
    assert m["tokenmill_energy_joules_total"] == pytest.approx(busy * WATTS, rel=1e-6)
    # The same prompt prefix again: the cached part is priced as a saving.
    again = one(0).usage.model_extra["cost"]["savings"]
    assert again["prefix_cache_seconds"] > 0
    assert again["prefix_cache_usd"] == pytest.approx(again["prefix_cache_seconds"] * PRICE / 3600, rel=1e-9)
    assert priced_server.metrics()['tokenmill_savings_usd_total{source="prefix_cache"}'] > 0


def test_unpriced_server_keeps_openai_usage(tokenmill_bin, fixtures_dir):
    s = ServerProcess(tokenmill_bin, fixtures_dir / "models" / "llama" / "model.gguf")
    try:
        status, _, body = s.request("POST", "/v1/completions",
                                    json.dumps({"prompt": "hello", "max_tokens": 4}).encode(),
                                    {"Content-Type": "application/json"})
        assert status == 200
        assert "cost" not in json.loads(body)["usage"]
    finally:
        s.close()


def test_cost_of_bench_and_bench_serve_json(run_cli, tmp_path):
    bench = {"model": {"name": "m"}, "tests": [{"name": "pp512", "kind": "pp", "mean_ts": 500.0},
                                               {"name": "tg128", "kind": "tg", "mean_ts": 50.0}]}
    f = tmp_path / "bench.json"
    f.write_text(json.dumps(bench))
    r = run_cli("cost", f, "--price-per-hour", 1.8, "--power-watts", 100, "--json")
    assert r.returncode == 0, r.stderr
    j = json.loads(r.stdout)
    assert j["usd_per_million_input_tokens"] == pytest.approx(0.0005 / 500 * 1e6)   # $1 per 1M
    assert j["usd_per_million_output_tokens"] == pytest.approx(0.0005 / 50 * 1e6)   # $10 per 1M
    assert j["joules_per_output_token"] == pytest.approx(2.0)
    assert j["human_equivalent"] == pytest.approx(50 / 0.87)
    serve = {"model": "m", "summary": {"duration_s": 10.0, "total_input_tokens": 3000, "total_output_tokens": 1000,
                                       "successful_requests": 20}}
    f.write_text(json.dumps(serve))
    j = json.loads(run_cli("cost", f, "--price-per-hour", 3.6, "--json", "--human-tokens-per-s", 2).stdout)
    assert j["usd_per_request"] == pytest.approx(0.01 / 20)
    assert j["usd_per_million_output_tokens"] == pytest.approx(0.01 / 4000 * 1e6)
    assert j["human_equivalent"] == pytest.approx(100 / 2)
    text = run_cli("cost", f, "--price-per-hour", 3.6).stdout
    assert "$ per 1M output tokens" in text and "human equivalent" in text


def test_cost_bad_input(run_cli, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    other = tmp_path / "other.json"
    other.write_text('{"hello": 1}')
    cases = [
        ([bad, "--price-per-hour", 1], "not valid JSON"),
        ([other, "--price-per-hour", 1], "neither `tokenmill bench --json` output"),
        ([tmp_path / "missing.json", "--price-per-hour", 1], "cannot be read"),
        ([other, "--price-per-hour", 0], "--price-per-hour must be > 0"),
    ]
    for args, message in cases:
        r = run_cli("cost", *args)
        assert r.returncode == 1, (args, r.stdout)
        assert message in r.stderr, (args, r.stderr)
    for flag in ("--price-per-hour", "--power-watts", "--memory-bandwidth", "--kv-cache-tokens"):
        r = run_cli("serve", "-m", REPO / "models" / "tokenmill-default.gguf", flag, -1)
        assert 0 < r.returncode < 128 and flag in r.stderr, (flag, r.stderr)


def test_quantized_model_prices_the_bytes_it_does_not_move(run_cli, tokenmill_bin, tmp_path):
    q8 = tmp_path / "default-q8_0.gguf"
    r = run_cli("quantize", REPO / "models" / "tokenmill-default.gguf", q8, "Q8_0")
    assert r.returncode == 0, r.stderr
    s = ServerProcess(tokenmill_bin, q8, *Q8_MODEL_ARGS)
    try:
        status, _, body = s.request("POST", "/v1/completions",
                                    json.dumps({"prompt": "Once upon a time", "max_tokens": 8, "ignore_eos": True}).encode(),
                                    {"Content-Type": "application/json"})
        assert status == 200
        savings = json.loads(body)["usage"]["cost"]["savings"]
        m = s.metrics()
    finally:
        s.close()
    # Q8_0 matrices take 34 bytes per 32 weights where F16 takes 64: per step, the layer matrices
    # and the head save 30/64 of their F16 bytes; the steps are shared by this one request.
    assert savings["quantization_bytes"] > 0
    assert savings["quantization_seconds"] == pytest.approx(savings["quantization_bytes"] / 20e9, rel=1e-9)
    assert savings["quantization_usd"] == pytest.approx(savings["quantization_seconds"] * PRICE / 3600, rel=1e-9)
    assert m["tokenmill_quantization_bytes_not_moved_total"] == pytest.approx(savings["quantization_bytes"], rel=1e-9)
    steps = m["tokenmill_engine_steps_total"]
    per_step = savings["quantization_bytes"] / steps
    params = 6 * (384 * 384 * 2 + 384 * 128 * 2 + 3 * 384 * 1024) + 2421 * 384   # layer matrices + head
    assert per_step == pytest.approx(params * 2 * 30 / 64, rel=1e-6)
