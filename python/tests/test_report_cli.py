"""`tokenmill report` end to end: real `bench serve` runs at two concurrencies against a server on
127.0.0.1, a `plan --json` and an ablation file rendered into one HTML page, which Debian's
chromium (headless) then loads: every chart must draw (the page's own check of each SVG's drawing
box and marks) and a screenshot must come out. Bad input is named."""
import json
import shutil
import subprocess

import pytest

from conftest import REPO
from test_server_support import ServerProcess

MODEL = REPO / "models" / "tokenmill-default.gguf"


def chromium():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("chromium not found: scripts/setup.sh installs the Debian package")


def headless(*args, timeout=90):
    return subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                           *args], capture_output=True, text=True, timeout=timeout)


def test_report_renders_in_a_browser(run_cli, tokenmill_bin, tmp_path):
    server = ServerProcess(tokenmill_bin, MODEL)
    try:
        for c in (1, 3):
            r = run_cli("bench", "serve", "--url", server.base_url, "--concurrency", c, "--requests", 6,
                        "--input-len", 24, "--output-len", 8, "--json", tmp_path / f"serve-c{c}.json")
            assert r.returncode == 0, r.stderr
    finally:
        server.close()
    plan = run_cli("plan", "-m", "Llama-3.1-8B", "--hardware", "H100-SXM,L4", "--context", 8192, "--json")
    assert plan.returncode == 0, plan.stderr
    (tmp_path / "plan.json").write_text(plan.stdout)
    (tmp_path / "ablate.json").write_text(json.dumps({
        "kind": "tokenmill-ablation", "workload": "w",
        "runs": [{"name": "all on", "output_token_throughput": 120.0, "ttft_p50_ms": 30.0},
                 {"name": "no prefix cache", "output_token_throughput": 100.0, "ttft_p50_ms": 60.0}]}))
    out = tmp_path / "report.html"
    files = [tmp_path / n for n in ("serve-c1.json", "serve-c3.json", "plan.json", "ablate.json")]
    r = run_cli("report", *files, "-o", out, "--title", "test report")
    assert r.returncode == 0, r.stderr
    html = out.read_text()
    expected = int(html.split('data-charts="')[1].split('"')[0])
    assert expected == 6   # ablation: 2 metrics; serving: throughput, percentiles, CDF; memory: 1
    dom = headless("--dump-dom", out.as_uri())
    assert dom.returncode == 0, dom.stderr
    assert f'data-charts-rendered="{expected}"' in dom.stdout, dom.stdout[:2000]
    shot = tmp_path / "shot.png"
    s = headless("--hide-scrollbars", "--window-size=1100,2400", f"--screenshot={shot}", out.as_uri())
    assert s.returncode == 0, s.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20000


def test_report_bad_input(run_cli, tmp_path):
    odd = tmp_path / "odd.json"
    odd.write_text('{"x": 1}')
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    for args, message in [([odd], "odd.json: not a result"), ([bad], "not valid JSON"),
                          ([tmp_path / "none.json"], "cannot be read"),
                          ([odd, "-o", tmp_path / "no" / "dir" / "r.html"], "not a result")]:
        r = run_cli("report", *args)
        assert r.returncode == 1, (args, r.stdout)
        assert message in r.stderr, (args, r.stderr)
    good = tmp_path / "plan.json"
    good.write_text(run_cli("plan", "-m", "tokenmill-draft", "--hardware", "L4", "--json").stdout)
    r = run_cli("report", good, "-o", tmp_path / "no" / "dir" / "r.html")
    assert r.returncode == 1 and "cannot be written" in r.stderr


def test_bench_ablate_runs_each_configuration_and_feeds_the_report(run_cli, tmp_path):
    out = tmp_path / "ablate.json"
    r = run_cli("bench", "ablate", "-m", MODEL, "-c", 2, "-n", 4, "--input-len", 48, "--output-len", 6,
                "--shared-prefix-len", 32, "-t", 2, "-o", out, timeout=300)
    assert r.returncode == 0, r.stderr
    j = json.loads(out.read_text())
    assert j["kind"] == "tokenmill-ablation"
    runs = {run["name"]: run for run in j["runs"]}
    measured = ["all on", "no weight quantization", "no prefix cache", "no chunked prefill", "no continuous batching"]
    for name in measured:
        assert runs[name]["output_token_throughput"] > 0, name
        assert runs[name]["failed_requests"] == 0
        assert runs[name]["memory_mb"] > 0
    # The F16 original holds more weight bytes than its Q8_0 copy.
    assert runs["no weight quantization"]["memory_mb"] > runs["all on"]["memory_mb"] + 5
    assert "--static-batching" in runs["no continuous batching"]["serve_args"]
    assert "skipped" in runs["no flash attention"] and "skipped" in runs["no speculative decoding"]
    assert "| no continuous batching |" in r.stdout
    page = tmp_path / "ablate.html"
    assert run_cli("report", out, "-o", page).returncode == 0
    assert 'data-charts="5"' in page.read_text()


def test_bench_ablate_bad_arguments(run_cli, tmp_path):
    r = run_cli("bench", "ablate", "-m", MODEL, "--quant", "Q9_9", "-n", 1)
    assert r.returncode == 1 and "--quant 'Q9_9' is not a scheme" in r.stderr
    r = run_cli("bench", "ablate", "-m", tmp_path / "missing.gguf", "-n", 1)
    assert r.returncode == 1 and "does not exist" in r.stderr
