"""`tokenmill plan` end to end: the published-config presets through the CLI, the prediction
against what a running `tokenmill serve` reports it allocated, and bad input."""
import json

from conftest import REPO
from test_server_support import ServerProcess

DEFAULT_MODEL = REPO / "models" / "tokenmill-default.gguf"


def plan_json(run_cli, *args):
    r = run_cli("plan", *args, "--json")
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def test_llama_8b_preset_by_hand(run_cli):
    j = plan_json(run_cli, "-m", "Llama-3.1-8B", "--hardware", "H100-SXM,L4", "--context", "8192")
    assert j["model"]["params_total"] == 8_030_261_248
    assert j["weights"]["bytes"] == 16_060_522_496          # 16.06 GB in BF16
    h100, l4 = j["devices"]
    assert h100["memory"]["kv_bytes_per_token"] == 131072   # 128 KiB in BF16
    assert h100["fit"]["fits"] and h100["fit"]["devices"] == 1
    assert h100["roofline"]["decode_bound"] == "memory"
    assert h100["roofline"]["prefill_bound"] == "compute"
    # The L4 (24 GB) holds the weights but a smaller KV cache than the H100.
    assert 0 < l4["fit"]["max_concurrency"] < h100["fit"]["max_concurrency"]


def test_moe_presets_count_active_parameters(run_cli):
    j = plan_json(run_cli, "-m", "Qwen3-235B-A22B", "--hardware", "H200", "--context", "4096", "--quant", "fp8")
    assert 230e9 < j["model"]["params_total"] < 240e9
    assert 21e9 < j["model"]["params_active"] < 23e9
    dev = j["devices"][0]
    assert dev["fit"]["devices"] == 2      # 236 GB of FP8 weights: 2 x 127 GB usable leaves ~15 GB of KV
    assert 0 < dev["roofline"]["experts_touched"] < 0.1


def test_text_output_shows_formulas_and_every_device(run_cli):
    r = run_cli("plan", "-m", "DeepSeek-V3", "--quant", "fp8", "--context", "32768", "--concurrency", "8")
    assert r.returncode == 0, r.stderr
    for needle in ["KV cache per token", "(512 latent + 64 rope) values", "A100-40GB", "MI300X", "B200",
                   "this", "roofline", "fp8", "routed experts"]:
        assert needle in r.stdout, needle


def test_prediction_matches_serve_allocation(run_cli, tokenmill_bin):
    """Predicted weight + KV bytes within 5% of what tokenmill serve allocates (its /metrics)."""
    context, concurrency, step = 1000, 3, 256
    j = plan_json(run_cli, "-m", DEFAULT_MODEL, "--hardware", "this", "--context", context, "--concurrency",
                  concurrency, "--max-num-batched-tokens", step, "--threads", 2)
    mem = j["devices"][0]["memory"]
    kv_tokens = -(-context // 16) * 16 * concurrency
    server = ServerProcess(tokenmill_bin, DEFAULT_MODEL, "--kv-cache-tokens", kv_tokens, "--max-num-seqs",
                           concurrency, "--max-model-len", context, "--max-num-batched-tokens", step)
    try:
        metrics = server.metrics()
    finally:
        server.close()
    actual = {c: metrics[f'tokenmill_memory_bytes{{component="{c}"}}'] for c in ("weights", "kv_cache", "activations")}
    predicted = mem["weights_bytes"] + mem["kv_bytes"]
    allocated = actual["weights"] + actual["kv_cache"]
    assert abs(predicted - allocated) <= 0.05 * allocated, (predicted, allocated)
    logits = concurrency * j["model"]["vocab_size"] * 4   # sized per step by the engine, not at start
    assert abs(mem["activation_bytes"] - logits - actual["activations"]) <= 0.05 * actual["activations"]


def test_gguf_and_hf_directory_and_quant_override(run_cli):
    gguf = plan_json(run_cli, "-m", DEFAULT_MODEL, "--hardware", "L4")
    hf = plan_json(run_cli, "-m", REPO / "models" / "tokenmill-default-hf", "--hardware", "L4")
    assert gguf["model"]["params_total"] == hf["model"]["params_total"]
    q4 = plan_json(run_cli, "-m", DEFAULT_MODEL, "--hardware", "L4", "--quant", "q4_0")
    assert q4["weights"]["format"] == "Q4_0"
    assert q4["weights"]["bytes"] < 0.4 * gguf["weights"]["bytes"]


def test_bad_input_is_named(run_cli):
    cases = [
        (["-m", "Llama-9-1B"], "neither a file, a directory nor a preset"),
        (["-m", "Llama-3.1-8B", "--quant", "q3_x"], "unknown weight format 'q3_x'"),
        (["-m", "Llama-3.1-8B", "--kv-dtype", "fp6"], "unknown KV cache format 'fp6'"),
        (["-m", "Llama-3.1-8B", "--hardware", "H300"], "unknown hardware 'H300'"),
        (["-m", "tokenmill-draft", "--context", "4096"], "exceeds the model's 2048"),
        (["-m", "Llama-3.1-8B", "--concurrency", "0"], "--concurrency must be >= 1"),
        (["-m", REPO / "README.md"], "neither a GGUF file nor valid JSON"),
    ]
    for args, message in cases:
        r = run_cli("plan", *args)
        assert r.returncode == 1, (args, r.stdout)
        assert message in r.stderr, (args, r.stderr)
