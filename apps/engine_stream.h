// Runs one request through the Engine and streams its text: the single generation path of
// `run` and `chat` (the server and `run --batch` use the same Engine).
#pragma once
#include <functional>
#include <string>
#include <string_view>

#include "engine/engine.h"

namespace tokenmill::cli {

struct StreamStats {
  int32_t prompt_tokens = 0;
  int32_t cached_tokens = 0;      // served from the prefix cache
  int32_t generated_tokens = 0;
  double prefill_seconds = 0;     // request sent -> first token
  double decode_seconds = 0;      // first token -> last
  FinishReason finish = FinishReason::Cancelled;

  double prefill_tokens_per_s() const;
  double decode_tokens_per_s() const;  // tokens after the first / decode_seconds
};

// Engine settings for one interactive user: one sequence, a KV cache of exactly the context.
EngineConfig single_user_engine_config(const LoadedModel& model, int threads, int32_t context_tokens,
                                       int32_t max_batch_tokens);

// Lowers max_tokens so prompt + output fit the context, as an interactive user expects (a prompt
// that leaves no room is still rejected by the engine).
void fit_max_tokens(GenerateRequest& request, int32_t max_model_len);

// Sends the request and calls on_text with each piece of text until it finishes. Throws Error
// when the engine rejects the request or reports an error.
StreamStats stream_request(Engine& engine, GenerateRequest request,
                           const std::function<void(std::string_view)>& on_text);

}  // namespace tokenmill::cli
