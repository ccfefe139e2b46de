#!/usr/bin/env bash
# `tokenmill bench` of one Q4_0 model with int8 activations (the default: int8 dot products) and
# with float activations (--activations float: weight-only quantization, f32 activations), side by
# side. The model is a random-weight Llama at TinyLlama-1.1B shape (dim 2048, 22 layers, 32 heads,
# 4 KV heads, ffn 5632, vocab 32000) with every matrix in Q4_0, the LM head included (so that
# --activations float applies to all of them), made once with python/oracle/make_random_gguf.py
# (needs numpy + gguf). Output: markdown on stdout.
# Usage: scripts/bench_activations.sh [THREADS=2] [REPS=3] [PROMPT=512] [GEN=128]
#        (model cached in $TOKENMILL_BENCH_DIR)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
threads="${1:-2}"
reps="${2:-3}"
prompt="${3:-512}"
gen="${4:-128}"
dir="${TOKENMILL_BENCH_DIR:-/tmp/tokenmill-bench}"
mkdir -p "$dir"
bin="$here/build/tokenmill"
[ -x "$bin" ] || "$here/scripts/build.sh" >&2
model="$dir/tokenmill-llama1.1b-all-Q4_0.gguf"
if [ ! -f "$model" ]; then
  vocab="$here/../shared/testdata/vocab/ggml-vocab-llama-spm.gguf"
  vocab_args=()
  [ -f "$vocab" ] && vocab_args=(--vocab-from "$vocab")
  echo "generating $model" >&2
  python3 "$here/python/oracle/make_random_gguf.py" --dim 2048 --layers 22 --heads 32 --kv-heads 4 \
    --ffn 5632 --vocab 32000 --ctx 2048 --dtype q4_0 "${vocab_args[@]}" -o "$model" >&2
fi

echo "## int8 vs float activations, $threads threads, $reps repetitions ($(date -u +%Y-%m-%d), $(uname -m))"
echo
for mode in int8 float; do
  echo "### llama1.1b Q4_0 (LM head Q4_0), --activations $mode"
  echo
  "$bin" bench -m "$model" -p "$prompt" -n "$gen" -t "$threads" -r "$reps" --activations "$mode" 2>/dev/null
  echo
done
