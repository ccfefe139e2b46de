// Generator: runs one sequence through the model — prefill in chunks of max_batch_tokens, then
// token-by-token decode with sampling, stop strings and UTF-8-safe streaming — through the same
// ForwardBatch/KvStorage contract the serving engine uses. It keeps the KV of its last sequence so
// a follow-up prompt (the next chat turn) recomputes only what changed.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/thread_pool.h"
#include "engine/model_loader.h"
#include "model/kv_storage.h"
#include "model/llama.h"
#include "sampling/sampling_params.h"

namespace tokenmill {

struct GeneratorOptions {
  int32_t context_tokens = 0;       // KV capacity; 0 = the model's max context (capped at 8192)
  int32_t max_batch_tokens = 256;   // prefill chunk size
  int threads = 0;                  // 0 = all cores
};

enum class FinishReason { Length, Stop, Eos, Cancelled, ContextFull };
std::string_view finish_reason_name(FinishReason r);

struct GenerationStats {
  int32_t prompt_tokens = 0;
  int32_t cached_prompt_tokens = 0;  // reused from the previous call's KV
  int32_t generated_tokens = 0;
  double prefill_seconds = 0;
  double decode_seconds = 0;
  FinishReason finish = FinishReason::Length;

  double prefill_tokens_per_s() const;
  double decode_tokens_per_s() const;
};

class Generator {
 public:
  Generator(LoadedModel& model, const GeneratorOptions& options);

  // Streams text pieces to on_text (return false to cancel). prompt_ids must be non-empty and
  // shorter than the context. Throws Error for an invalid prompt or sampling params.
  GenerationStats generate(const std::vector<int32_t>& prompt_ids, const SamplingParams& params,
                           const std::function<bool(std::string_view)>& on_text);

  // Logits of the prompt: every position ([n, vocab]) when all_positions, else the last ([1, vocab]).
  std::vector<float> prompt_logits(const std::vector<int32_t>& prompt_ids, bool all_positions);

  int32_t context_tokens() const { return context_tokens_; }
  ThreadPool& pool() { return pool_; }
  const LlamaModel& model() const { return *llama_; }

 private:
  // Makes the KV hold prompt[0 .. n-1) (reusing the common prefix with what it holds), then runs
  // the remaining prompt tokens; returns logits of the requested rows.
  void prefill(const std::vector<int32_t>& prompt_ids, bool all_positions, std::vector<float>& logits);
  void run_chunk(const std::vector<int32_t>& ids, int32_t first_pos, bool all_logits, float* logits);

  LoadedModel& loaded_;
  ThreadPool pool_;
  int32_t context_tokens_;
  std::unique_ptr<LlamaModel> llama_;
  std::unique_ptr<KvStorage> kv_;
  std::vector<int32_t> block_table_;   // the one sequence owns blocks 0..n-1 in order
  std::vector<int32_t> cached_tokens_; // tokens whose K/V are in the cache, by position
  ForwardBatch batch_;
  int32_t last_prefill_cached_ = 0;
};

}  // namespace tokenmill
