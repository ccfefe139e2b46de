// PromptScorer: runs a prompt through the model and returns its logits (every position, or the
// last), prefilling in chunks of max_batch_tokens through the same ForwardBatch/KvStorage contract
// the serving engine uses. For `tokenmill logits`, `tokenmill perplexity` and oracle tests; text
// generation goes through the Engine.
#pragma once
#include <cstdint>
#include <memory>
#include <vector>

#include "core/thread_pool.h"
#include "engine/model_loader.h"
#include "model/kv_storage.h"
#include "model/llama.h"

namespace tokenmill {

struct ScorerOptions {
  int32_t context_tokens = 0;       // KV capacity; 0 = the model's max context (capped at 8192)
  int32_t max_batch_tokens = 256;   // prefill chunk size
  int threads = 0;                  // 0 = all cores
};

class PromptScorer {
 public:
  PromptScorer(LoadedModel& model, const ScorerOptions& options);

  // Logits of the prompt: every position ([n, vocab]) when all_positions, else the last ([1, vocab]).
  // Throws Error when the prompt is empty or longer than the context.
  std::vector<float> prompt_logits(const std::vector<int32_t>& prompt_ids, bool all_positions);

  // Logits of positions [first_position, end_position) only ([end - first, vocab]); the other
  // positions are run for their K/V without computing logits. Requires
  // 0 <= first_position <= end_position <= prompt size; throws Error otherwise.
  std::vector<float> prompt_logits(const std::vector<int32_t>& prompt_ids, int32_t first_position,
                                   int32_t end_position);

  int32_t context_tokens() const { return context_tokens_; }

 private:
  // Runs ids at positions first_pos.. and writes the logits of the chunk's rows
  // [rows_begin, rows_end) to logits ([rows_end - rows_begin, vocab]; may be null when empty).
  void run_chunk(const std::vector<int32_t>& ids, int32_t first_pos, int32_t rows_begin, int32_t rows_end,
                 float* logits);

  LoadedModel& loaded_;
  ThreadPool pool_;
  int32_t context_tokens_;
  std::unique_ptr<LlamaModel> llama_;
  std::unique_ptr<KvStorage> kv_;
  std::vector<int32_t> block_table_;  // the one sequence owns blocks 0..n-1 in order
  ForwardBatch batch_;
};

}  // namespace tokenmill
