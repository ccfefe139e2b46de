#include "engine_stream.h"

#include <algorithm>
#include <chrono>

#include "core/error.h"
#include "model/kv_storage.h"

namespace tokenmill::cli {

double StreamStats::prefill_tokens_per_s() const {
  return prefill_seconds > 0 ? (prompt_tokens - cached_tokens) / prefill_seconds : 0.0;
}

double StreamStats::decode_tokens_per_s() const {
  return decode_seconds > 0 && generated_tokens > 1 ? (generated_tokens - 1) / decode_seconds : 0.0;
}

EngineConfig single_user_engine_config(const LoadedModel& model, int threads, int32_t context_tokens,
                                       int32_t max_batch_tokens) {
  EngineConfig c;
  c.threads = threads;
  c.max_model_len = context_tokens;
  c.max_num_batched_tokens = max_batch_tokens;
  c.max_num_seqs = 1;
  c.max_queued_requests = 1;
  const int64_t len = context_tokens > 0 ? context_tokens : std::min<int64_t>(model.config.max_context, 8192);
  // The context, plus two blocks so the previous turn's blocks can stay cached for the next.
  const int64_t blocks = (len + c.block_size - 1) / c.block_size + 2;
  c.kv_cache_bytes = size_t(blocks * c.block_size) * KvStorage::bytes_per_token(model.config);
  return c;
}

void fit_max_tokens(GenerateRequest& request, int32_t max_model_len) {
  const int32_t room = max_model_len - int32_t(request.prompt_ids.size());
  if (request.params.max_tokens && *request.params.max_tokens > room && room >= 1) request.params.max_tokens = room;
}

StreamStats stream_request(Engine& engine, GenerateRequest request,
                           const std::function<void(std::string_view)>& on_text) {
  using Clock = std::chrono::steady_clock;
  StreamStats st;
  st.prompt_tokens = int32_t(request.prompt_ids.size());
  const auto t0 = Clock::now();
  std::shared_ptr<RequestStream> stream = engine.add_request(std::move(request));
  auto t_first = t0;
  bool seen_first = false;
  for (;;) {
    RequestEvent ev;
    if (!stream->next(ev, std::chrono::milliseconds(100))) continue;
    for (const ChoiceDelta& d : ev.deltas) {
      if (!seen_first && !d.token_ids.empty()) {
        seen_first = true;
        t_first = Clock::now();
      }
      if (!d.text.empty()) on_text(d.text);
      if (d.finish) st.finish = *d.finish;
    }
    if (ev.done) {
      check(ev.error.empty(), ev.error);
      st.generated_tokens = ev.usage.completion_tokens;
      st.cached_tokens = ev.usage.cached_tokens;
      break;
    }
  }
  const auto t_end = Clock::now();
  if (!seen_first) t_first = t_end;
  st.prefill_seconds = std::chrono::duration<double>(t_first - t0).count();
  st.decode_seconds = std::chrono::duration<double>(t_end - t_first).count();
  return st;
}

}  // namespace tokenmill::cli
