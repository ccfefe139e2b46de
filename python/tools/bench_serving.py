"""Serving benchmarks of tokenmill on random-weight Llama GGUFs (figures, not tests).

For each model it starts `tokenmill serve` on 127.0.0.1 and, with `tokenmill bench serve`, measures:
  * batching gain: aggregate output tokens/s at 16 concurrent streams / at 1 stream (whole run,
    prefill included) and aggregate decode tokens/s (16 / p50 TPOT) / single-stream decode;
  * prefix caching: p50 TTFT of a request whose first 1000 tokens are cached / a cold one;
  * HTTP overhead: decode tokens/s through HTTP at concurrency 1 (1 / TPOT) vs `tokenmill run`.
Models are generated once by python/oracle/make_random_gguf.py (125M and 1.1B shapes, F16).

Usage: python3 python/tools/bench_serving.py [--models 125m,1.1b] [--threads 2] [--out DIR]
"""
import argparse
import json
import os
import pathlib
import re
import signal
import subprocess
import sys
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = REPO / "build" / "tokenmill"
VOCAB = REPO.parent / "shared" / "testdata" / "vocab" / "ggml-vocab-llama-spm.gguf"
SHAPES = {
    "125m": ["--dim", "768", "--layers", "12", "--heads", "12", "--kv-heads", "4", "--ffn", "2048"],
    "1.1b": ["--dim", "2048", "--layers", "22", "--heads", "32", "--kv-heads", "4", "--ffn", "5632"],
}


def ensure_model(name, out_dir):
    path = out_dir / f"tokenmill-llama{name}-f16.gguf"
    if not path.exists():
        args = [sys.executable, str(REPO / "python/oracle/make_random_gguf.py"), *SHAPES[name], "--vocab", "32000",
                "--ctx", "2048", "--dtype", "f16", "-o", str(path)]
        if VOCAB.exists():
            args += ["--vocab-from", str(VOCAB)]
        subprocess.run(args, check=True)
    return path


class Server:
    def __init__(self, model, threads):
        self.proc = subprocess.Popen([str(BIN), "serve", "-m", str(model), "--port", "0", "-t", str(threads),
                                      "--max-num-seqs", "32", "--kv-cache-memory", str(2 << 30)],
                                     stderr=subprocess.PIPE, text=True)
        self.url = None
        deadline = time.time() + 300
        while time.time() < deadline:
            line = self.proc.stderr.readline()
            if not line:
                raise RuntimeError("server exited during start-up")
            m = re.search(r"listening on (http://[0-9.]+:\d+)", line)
            if m:
                self.url = m.group(1)
            if "ready" in line:
                return
        raise RuntimeError("server did not become ready")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def bench(url, *, concurrency, requests, input_len, output_len, shared_prefix=0, seed=0, warmup=0):
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = f.name
    args = [str(BIN), "bench", "serve", "--url", url, "-c", str(concurrency), "-n", str(requests),
            "--input-len", str(input_len), "--output-len", str(output_len), "--shared-prefix-len",
            str(shared_prefix), "--seed", str(seed), "--vocab-size", "32000", "--warmup", str(warmup),
            "--json", out]
    subprocess.run(args, check=True, stdout=subprocess.DEVNULL)
    report = json.loads(pathlib.Path(out).read_text())
    os.unlink(out)
    return report


def metric(report, name, stat):
    return report["metrics"][name][stat]


def run_decode_tps(model, threads):
    # About 32 prompt tokens, like the HTTP requests, so both decode over the same context length.
    prompt = " ".join(["the quick brown fox jumps over the lazy dog"] * 3)
    r = subprocess.run([str(BIN), "run", "-m", str(model), "-p", prompt, "-n", "64", "--ignore-eos", "-q", "-t",
                        str(threads)], capture_output=True, text=True, check=True)
    return float(re.search(r"decode:.*= ([0-9.]+) tokens/s", r.stderr).group(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", default="125m,1.1b")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default="/tmp")
    args = ap.parse_args()
    out_dir = pathlib.Path(args.out)
    results = {}
    for name in args.models.split(","):
        model = ensure_model(name, out_dir)
        out_len = 64
        server = Server(model, args.threads)
        try:
            one = bench(server.url, concurrency=1, requests=3, input_len=32, output_len=out_len, warmup=1)
            many = bench(server.url, concurrency=16, requests=16, input_len=32, output_len=out_len, seed=1,
                         warmup=0)
            cold = bench(server.url, concurrency=1, requests=3, input_len=1024, output_len=2, seed=2)
            # Warm-up request puts the shared 1000-token prefix into the cache; the rest hit it.
            warm = bench(server.url, concurrency=1, requests=3, input_len=1024, output_len=2, seed=3,
                         shared_prefix=1000, warmup=1)
        finally:
            server.stop()
        run_tps = run_decode_tps(model, args.threads)
        http_tps = 1000.0 / metric(one, "tpot_ms", "p50")
        r = {
            "output_tokens_per_s_c1": one["summary"]["output_token_throughput"],
            "output_tokens_per_s_c16": many["summary"]["output_token_throughput"],
            "ttft_cold_ms_p50": metric(cold, "ttft_ms", "p50"),
            "ttft_cached_prefix_ms_p50": metric(warm, "ttft_ms", "p50"),
            "http_decode_tokens_per_s_c1": http_tps,
            "run_decode_tokens_per_s": run_tps,
        }
        # Output tokens over the whole run (prefill included), and decode alone: streams / TPOT.
        r["batching_gain"] = r["output_tokens_per_s_c16"] / r["output_tokens_per_s_c1"]
        r["decode_tokens_per_s_c16_from_tpot"] = 16 * 1000.0 / metric(many, "tpot_ms", "p50")
        r["decode_batching_gain"] = r["decode_tokens_per_s_c16_from_tpot"] / http_tps
        r["ttft_ratio_cached_over_cold"] = r["ttft_cached_prefix_ms_p50"] / r["ttft_cold_ms_p50"]
        r["http_over_run"] = http_tps / run_tps
        results[name] = r
        print(f"[{name}] " + json.dumps(r, indent=None), flush=True)
    print(json.dumps(results, indent=2))
    # The table of docs/benchmarks.md.
    print("| model | output tok/s c=1 | output tok/s c=16 | gain (whole run) | decode gain (16/TPOT vs c=1) | "
          "TTFT cold 1024 tok (ms) | TTFT 1000-token prefix cached (ms) | ratio | HTTP c=1 decode tok/s | "
          "`run` decode tok/s | HTTP / run |")
    print("| --- " * 11 + "|")
    for name, r in results.items():
        print(f"| {name} F16 | {r['output_tokens_per_s_c1']:.2f} | {r['output_tokens_per_s_c16']:.2f} | "
              f"{r['batching_gain']:.2f}x | {r['decode_batching_gain']:.2f}x | {r['ttft_cold_ms_p50']:.1f} | "
              f"{r['ttft_cached_prefix_ms_p50']:.1f} | {r['ttft_ratio_cached_over_cold']:.3f} | "
              f"{r['http_decode_tokens_per_s_c1']:.2f} | {r['run_decode_tokens_per_s']:.2f} | "
              f"{r['http_over_run']:.3f} |")


if __name__ == "__main__":
    main()
