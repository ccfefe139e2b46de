"""`tokenmill serve` under stress and at the edges of its life: clients that vanish mid-stream,
SIGTERM while a stream runs, and a real Prometheus server scraping /metrics."""
import json
import shutil
import signal
import subprocess
import threading
import time
import urllib.request

import pytest

from test_server_support import ServerProcess, open_sse_socket, read_until, wait_for

STREAM_BODY = {"prompt": "Once upon a time", "max_tokens": 200, "stream": True, "ignore_eos": True}


@pytest.fixture(scope="module")
def model(fixtures_dir):
    return fixtures_dir / "models" / "llama" / "model.gguf"


def test_disconnect_storm_frees_every_block(tokenmill_bin, model):
    s = ServerProcess(tokenmill_bin, model)
    try:
        def vanishing_client(_):
            sock = open_sse_socket(s.port, "/v1/completions", STREAM_BODY)
            try:
                read_until(sock, b"data:", 3)
            finally:
                sock.close()

        threads = [threading.Thread(target=vanishing_client, args=(i,)) for i in range(30)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)

        def idle():
            m = s.metrics()
            return m["tokenmill_requests_running"] == 0 and m["tokenmill_requests_waiting"] == 0 and \
                m["tokenmill_kv_cache_usage_ratio"] == 0
        assert wait_for(idle, timeout=5), s.metrics()
        # The clients left long before 200 tokens: their requests were aborted, not run to the end.
        assert s.metrics()['tokenmill_requests_finished_total{finish_reason="abort"}'] >= 1
        status, _, raw = s.request("POST", "/v1/completions", {"prompt": "Hello", "max_tokens": 4, "ignore_eos": True})
        assert status == 200, raw
        assert json.loads(raw)["usage"]["completion_tokens"] == 4
    finally:
        s.close()


def test_sigterm_lets_running_stream_finish(tokenmill_bin, model):
    s = ServerProcess(tokenmill_bin, model, "--drain-timeout", 20)
    try:
        sock = open_sse_socket(s.port, "/v1/completions", {**STREAM_BODY, "stream_options": {"include_usage": True}})
        received = read_until(sock, b"data:", 2)
        s.proc.send_signal(signal.SIGTERM)
        # Draining: health turns 503 and new work is refused, while the admitted stream goes on.
        def draining():
            try:
                return s.request("GET", "/health", timeout=2)[0] == 503
            except OSError:
                return True  # already finished and gone
        assert wait_for(draining, timeout=5)
        received += read_until(sock, b"data: [DONE]", 1)
        sock.close()
        assert b"data: [DONE]" in received
        events = [line[len(b"data: "):] for line in received.split(b"\n") if line.startswith(b"data: {")]
        usage = json.loads(events[-1])["usage"]
        assert usage["completion_tokens"] == 200  # the whole completion, not cut by the shutdown
        assert json.loads(events[-2])["choices"][0]["finish_reason"] == "length"
        assert s.proc.wait(timeout=25) == 0
        assert "draining" in s.log_text()
    finally:
        s.close()


def test_prometheus_scrapes_metrics(tokenmill_bin, model, tmp_path):
    prometheus = shutil.which("prometheus")
    if prometheus is None:
        pytest.skip("the prometheus binary is not installed (Debian package 'prometheus')")
    s = ServerProcess(tokenmill_bin, model)
    prom = None
    try:
        config = tmp_path / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: tokenmill\n    static_configs:\n"
            f"      - targets: ['127.0.0.1:{s.port}']\n")
        # Prometheus takes its port from the command line; ask the kernel for a free one first.
        import socket
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            prom_port = probe.getsockname()[1]
        log = open(tmp_path / "prometheus.log", "wb")
        prom = subprocess.Popen([prometheus, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                                 f"--web.listen-address=127.0.0.1:{prom_port}"], stdout=log, stderr=log)
        # ignore_eos: the random-weight model may sample EOS before the 4 tokens the query expects.
        s.request("POST", "/v1/completions", {"prompt": "Hello", "max_tokens": 4, "ignore_eos": True})

        def target_health():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{prom_port}/api/v1/targets", timeout=2) as r:
                    targets = json.load(r)["data"]["activeTargets"]
                return targets and targets[0]["health"] == "up" and targets[0]
            except OSError:
                return None
        target = wait_for(target_health, timeout=30, interval=0.5)
        assert target, (tmp_path / "prometheus.log").read_text(errors="replace")[-2000:]
        assert target["lastError"] == ""

        def queried():
            url = f"http://127.0.0.1:{prom_port}/api/v1/query?query=tokenmill_generation_tokens_total"
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    result = json.load(r)["data"]["result"]
            except OSError:
                return None
            return result and float(result[0]["value"][1]) >= 4
        # Generous: on a loaded machine the first scrapes and the query engine can lag.
        assert wait_for(queried, timeout=30, interval=0.5)
    finally:
        if prom is not None:
            prom.terminate()
            try:
                prom.wait(timeout=10)
            except subprocess.TimeoutExpired:
                prom.kill()
        s.close()
