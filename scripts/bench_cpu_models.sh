#!/usr/bin/env bash
# `tokenmill bench` (pp512 / tg128, llama-bench layout, with this machine's measured read bandwidth
# and int8/f32 peaks) on random-weight Llama GGUFs at real shapes, made with this project's tools:
#   125M: dim 768, 12 layers, 12 heads, 4 KV heads, ffn 2048, vocab 32000
#   1.1B: dim 2048, 22 layers, 32 heads, 4 KV heads, ffn 5632, vocab 32000
# in F16 (python/oracle/make_random_gguf.py) and Q8_0, Q4_0, Q4_K_M (`tokenmill quantize`).
# The 125M files also get a per-op profile of decode, and the 1.1B Q8_0 / Q4_0 files a decode run
# with --no-repack (what repacking at load buys). Output: markdown on stdout.
# Usage: scripts/bench_cpu_models.sh [THREADS=2] [REPS=3]   (models cached in $TOKENMILL_BENCH_DIR;
# MODELS_ONLY=1 makes the files and stops)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
threads="${1:-2}"
reps="${2:-3}"
dir="${TOKENMILL_BENCH_DIR:-/tmp/tokenmill-bench}"
mkdir -p "$dir"
bin="$here/build/tokenmill"
[ -x "$bin" ] || "$here/scripts/build.sh" >&2
vocab="$here/../shared/testdata/vocab/ggml-vocab-llama-spm.gguf"
vocab_args=()
[ -f "$vocab" ] && vocab_args=(--vocab-from "$vocab")

make_f16() {  # name dim layers heads kv_heads ffn
  local out="$dir/tokenmill-$1-F16.gguf"
  [ -f "$out" ] && return
  echo "generating $out" >&2
  python3 "$here/python/oracle/make_random_gguf.py" --dim "$2" --layers "$3" --heads "$4" \
    --kv-heads "$5" --ffn "$6" --vocab 32000 --ctx 2048 --dtype f16 "${vocab_args[@]}" -o "$out" >&2
}
make_f16 llama125m 768 12 12 4 2048
make_f16 llama1.1b 2048 22 32 4 5632
for m in llama125m llama1.1b; do
  for t in Q8_0 Q4_0 Q4_K_M; do
    out="$dir/tokenmill-$m-$t.gguf"
    [ -f "$out" ] || "$bin" quantize "$dir/tokenmill-$m-F16.gguf" "$out" "$t" --threads "$threads" >/dev/null
  done
done

[ "${MODELS_ONLY:-0}" = 1 ] && exit 0
echo "## tokenmill bench, $threads threads, $reps repetitions ($(date -u +%Y-%m-%d), $(uname -m))"
echo
for m in llama1.1b llama125m; do
  for t in F16 Q8_0 Q4_0 Q4_K_M; do
    extra=()
    [ "$m" = llama125m ] && extra=(--profile)
    echo "### $m $t"
    echo
    "$bin" bench -m "$dir/tokenmill-$m-$t.gguf" -p 512 -n 128 -t "$threads" -r "$reps" "${extra[@]}" 2>/dev/null
    echo
    if [ "$m" = llama1.1b ] && { [ "$t" = Q8_0 ] || [ "$t" = Q4_0 ]; }; then
      echo "### $m $t, --no-repack (computed in the file's layout)"
      echo
      "$bin" bench -m "$dir/tokenmill-$m-$t.gguf" -p 0 -n 128 -t "$threads" -r "$reps" --no-repack 2>/dev/null
      echo
    fi
  done
done
