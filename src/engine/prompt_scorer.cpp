#include "engine/prompt_scorer.h"

#include <algorithm>

#include "core/error.h"

namespace tokenmill {

namespace {
constexpr int32_t kBlockSize = 16;
}  // namespace

PromptScorer::PromptScorer(LoadedModel& model, const ScorerOptions& options)
    : loaded_(model), pool_(options.threads) {
  const ModelConfig& cfg = model.config;
  const int64_t ctx =
      options.context_tokens > 0 ? options.context_tokens : std::min<int64_t>(cfg.max_context, 8192);
  check(ctx <= cfg.max_context, "context of " + std::to_string(ctx) + " tokens exceeds the model's maximum of " +
                                    std::to_string(cfg.max_context));
  context_tokens_ = int32_t(ctx);
  check(options.max_batch_tokens > 0, "max batch tokens must be > 0");
  llama_ = std::make_unique<LlamaModel>(cfg, model.weights, std::min(options.max_batch_tokens, context_tokens_));
  const int32_t n_blocks = (context_tokens_ + kBlockSize - 1) / kBlockSize;
  kv_ = std::make_unique<KvStorage>(cfg, n_blocks, kBlockSize);
  block_table_.resize(size_t(n_blocks));
  for (int32_t i = 0; i < n_blocks; ++i) block_table_[size_t(i)] = i;
}

void PromptScorer::run_chunk(const std::vector<int32_t>& ids, int32_t first_pos, bool all_logits, float* logits) {
  batch_.clear();
  const int32_t n = int32_t(ids.size());
  for (int32_t i = 0; i < n; ++i) {
    const int32_t pos = first_pos + i;
    batch_.token_ids.push_back(ids[size_t(i)]);
    batch_.positions.push_back(pos);
    batch_.slot_mapping.push_back(block_table_[size_t(pos / kBlockSize)] * kBlockSize + pos % kBlockSize);
  }
  SequenceInBatch seq;
  seq.token_begin = 0;
  seq.n_tokens = n;
  seq.n_context = first_pos + n;
  seq.block_table = block_table_;
  batch_.seqs.push_back(std::move(seq));
  if (all_logits) {
    for (int32_t i = 0; i < n; ++i) batch_.logits_rows.push_back(i);
  } else if (logits != nullptr) {
    batch_.logits_rows.push_back(n - 1);
  }
  llama_->forward(batch_, *kv_, logits, pool_);
}

std::vector<float> PromptScorer::prompt_logits(const std::vector<int32_t>& prompt, bool all_positions) {
  const int32_t n = int32_t(prompt.size());
  check(n > 0, "prompt is empty");
  check(n <= context_tokens_, "prompt of " + std::to_string(n) + " tokens does not fit the context of " +
                                  std::to_string(context_tokens_) + " tokens");
  const size_t vocab = size_t(loaded_.config.vocab_size);
  std::vector<float> logits(all_positions ? size_t(n) * vocab : vocab, 0.0f);
  const int32_t chunk = llama_->max_batch_tokens();
  for (int32_t begin = 0; begin < n; begin += chunk) {
    const int32_t end = std::min(n, begin + chunk);
    const std::vector<int32_t> ids(prompt.begin() + begin, prompt.begin() + end);
    if (all_positions) {
      run_chunk(ids, begin, true, logits.data() + size_t(begin) * vocab);
    } else {
      run_chunk(ids, begin, false, end == n ? logits.data() : nullptr);  // middle chunks: K/V only
    }
  }
  return logits;
}

}  // namespace tokenmill
