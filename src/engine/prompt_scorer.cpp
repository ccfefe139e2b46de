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

void PromptScorer::run_chunk(const std::vector<int32_t>& ids, int32_t first_pos, int32_t rows_begin,
                             int32_t rows_end, float* logits) {
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
  for (int32_t i = rows_begin; i < rows_end; ++i) batch_.logits_rows.push_back(i);
  llama_->forward(batch_, *kv_, rows_end > rows_begin ? logits : nullptr, pool_);
}

std::vector<float> PromptScorer::prompt_logits(const std::vector<int32_t>& prompt, bool all_positions) {
  const int32_t n = int32_t(prompt.size());
  check(n > 0, "prompt is empty");
  return prompt_logits(prompt, all_positions ? 0 : n - 1, n);
}

std::vector<float> PromptScorer::prompt_logits(const std::vector<int32_t>& prompt, int32_t first_position,
                                               int32_t end_position) {
  const int32_t n = int32_t(prompt.size());
  check(n > 0, "prompt is empty");
  check(n <= context_tokens_, "prompt of " + std::to_string(n) + " tokens does not fit the context of " +
                                  std::to_string(context_tokens_) + " tokens");
  check(0 <= first_position && first_position <= end_position && end_position <= n,
        "logits positions [" + std::to_string(first_position) + ", " + std::to_string(end_position) +
            ") are not inside the prompt of " + std::to_string(n) + " tokens");
  const size_t vocab = size_t(loaded_.config.vocab_size);
  std::vector<float> logits(size_t(end_position - first_position) * vocab, 0.0f);
  const int32_t chunk = llama_->max_batch_tokens();
  for (int32_t begin = 0; begin < n; begin += chunk) {
    const int32_t end = std::min(n, begin + chunk);
    const std::vector<int32_t> ids(prompt.begin() + begin, prompt.begin() + end);
    // This chunk's rows that fall in [first_position, end_position), relative to the chunk.
    const int32_t rows_begin = std::clamp(first_position, begin, end) - begin;
    const int32_t rows_end = std::clamp(end_position, begin, end) - begin;
    float* out =
        rows_end > rows_begin ? logits.data() + size_t(begin + rows_begin - first_position) * vocab : nullptr;
    run_chunk(ids, begin, rows_begin, rows_end, out);
  }
  return logits;
}

}  // namespace tokenmill
