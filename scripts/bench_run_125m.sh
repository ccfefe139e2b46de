#!/usr/bin/env bash
# Prefill and decode tokens/s of `tokenmill run` on a random-weight Llama GGUF of about 125M
# parameters (dim 768, 12 layers, 12 heads, 4 KV heads, ffn 2048, vocab 32000) in F16.
# The model is generated once with python/oracle/make_random_gguf.py (needs numpy + gguf).
# Usage: scripts/bench_run_125m.sh [DTYPE=f16] [THREADS=2] [REPS=3]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dtype="${1:-f16}"
threads="${2:-2}"
reps="${3:-3}"
model="${TOKENMILL_BENCH_DIR:-/tmp}/tokenmill-llama125m-${dtype}.gguf"
vocab="$here/../shared/testdata/vocab/ggml-vocab-llama-spm.gguf"
if [ ! -f "$model" ]; then
  vocab_args=()
  [ -f "$vocab" ] && vocab_args=(--vocab-from "$vocab")
  python3 "$here/python/oracle/make_random_gguf.py" --dim 768 --layers 12 --heads 12 --kv-heads 4 \
    --ffn 2048 --vocab 32000 --ctx 2048 --dtype "$dtype" "${vocab_args[@]}" -o "$model"
fi
[ -x "$here/build/tokenmill" ] || "$here/scripts/build.sh"
# A prompt of about 500 tokens: prefill runs as two 256-token chunks.
prompt="$(python3 -c "print(' '.join(['the quick brown fox jumps over the lazy dog near the river bank'] * 38))")"
echo "model: $model  threads: $threads"
for i in $(seq "$reps"); do
  "$here/build/tokenmill" run -m "$model" -p "$prompt" -n 128 --ignore-eos -q -t "$threads" 2>&1 >/dev/null |
    grep -E "^(prefill|decode):"
done
