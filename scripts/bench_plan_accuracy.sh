#!/usr/bin/env bash
# How close `tokenmill plan --hardware this` comes to what `tokenmill bench` measures on this
# machine: decode (tg128 runs at positions 0..127, so plan at --context 64) and prefill (pp512)
# of the 1.1B random-weight Llama in F16, Q8_0 and Q4_0 (the files of scripts/bench_cpu_models.sh).
# Output: a markdown table of estimate, measurement and measured / estimate.
# Usage: scripts/bench_plan_accuracy.sh [THREADS=2] [REPS=3]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
threads="${1:-2}"
reps="${2:-3}"
dir="${TOKENMILL_BENCH_DIR:-/tmp/tokenmill-bench}"
bin="$here/build/tokenmill"
MODELS_ONLY=1 "$here/scripts/bench_cpu_models.sh" "$threads" >&2
echo "## tokenmill plan vs tokenmill bench, $threads threads ($(date -u +%Y-%m-%d), $(uname -m))"
echo
echo "| model | plan decode t/s | bench tg128 t/s | measured / plan | plan prefill t/s | bench pp512 t/s | measured / plan |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: |"
for t in F16 Q8_0 Q4_0; do
  m="$dir/tokenmill-llama1.1b-$t.gguf"
  plan=$("$bin" plan -m "$m" --hardware this --context 64 --prompt-len 512 --threads "$threads" --json)
  bench=$("$bin" bench -m "$m" -p 512 -n 128 -r "$reps" -t "$threads" --json --no-limits)
  python3 - "$t" "$plan" "$bench" <<'PY'
import json, sys
name, plan, bench = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
roof = plan["devices"][0]["roofline"]
tps = {x["name"]: x["mean_ts"] for x in bench["tests"]}
d, p = roof["decode_tokens_per_s"], roof["prefill_tokens_per_s"]
print(f"| 1.1B {name} | {d:.1f} | {tps['tg128']:.1f} | {tps['tg128'] / d:.0%} | {p:.0f} | {tps['pp512']:.1f} | {tps['pp512'] / p:.0%} |")
PY
done
