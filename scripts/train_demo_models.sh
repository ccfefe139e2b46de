#!/usr/bin/env bash
# Retrains the bundled demo models from scratch, seeded, on the CPU (about 40 minutes on 2 cores):
# corpus -> tokenizer -> target (11M) and draft (1.4M) models -> HF checkpoints and GGUF files in
# models/ -> INT4 QAT (stage 1 fine-tune, stage 2 packed Q4_0 GGUF) -> the quality report
# (docs/demo_models.md figures: perplexity vs the unigram baseline, PyTorch vs tokenmill, the
# F16 / RTN INT4 / QAT INT4 ablation).
#
#   scripts/train_demo_models.sh [WORK_DIR]     (default /tmp/tokenmill-demo)
#
# Environment: SEED (default 1234), TARGET_STEPS (2000), DRAFT_STEPS (1000), QAT_STEPS (300),
# CORPUS_MB (8). Intermediate files (corpus, f32 masters, QAT outputs) stay in WORK_DIR.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
work="${1:-/tmp/tokenmill-demo}"
seed="${SEED:-1234}"
"$here/scripts/setup.sh" --ml
"$here/scripts/build.sh"
export TOKENMILL_BIN="$here/build/tokenmill"
export PYTHONPATH="$here/python${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$work"
start=$(date +%s)
stamp() { echo "[$(( $(date +%s) - start ))s] $*"; }

stamp "corpus"
python3 -m demo.corpus -o "$work/corpus" --seed "$seed" --megabytes "${CORPUS_MB:-8}"
stamp "tokenizer"
python3 -m demo.tokenizer_train --corpus "$work/corpus" -o "$work/tokenizer"
stamp "target model"
python3 -m demo.train --shape target --corpus "$work/corpus" --tokenizer "$work/tokenizer" \
  -o "$work/target" --steps "${TARGET_STEPS:-2000}" --seed "$seed"
stamp "draft model"
python3 -m demo.train --shape draft --corpus "$work/corpus" --tokenizer "$work/tokenizer" \
  -o "$work/draft" --steps "${DRAFT_STEPS:-1000}" --lr 3e-3 --seed "$seed"

stamp "export to models/"
for m in target:tokenmill-default draft:tokenmill-draft; do
  src="$work/${m%%:*}/hf" name="${m##*:}"
  rm -rf "$here/models/$name-hf"
  cp -r "$src" "$here/models/$name-hf"
  "$TOKENMILL_BIN" convert "$here/models/$name-hf" -o "$here/models/$name.gguf" --outtype f16
done

stamp "INT4 QAT"
python3 -m demo.qat --master "$work/target/master.pt" --hf "$work/target/hf" --corpus "$work/corpus" \
  --tokenizer "$work/tokenizer" -o "$work/qat" --steps "${QAT_STEPS:-300}"
stamp "INT4 QAT, one scale per tensor"
python3 -m demo.qat --master "$work/target/master.pt" --hf "$work/target/hf" --corpus "$work/corpus" \
  --tokenizer "$work/tokenizer" -o "$work/qat-tensor" --steps "${QAT_STEPS:-300}" --grid tensor

stamp "report"
python3 -m demo.report --work "$work" --models "$here/models" -o "$here/docs/demo_models_results.md"
stamp "done"
