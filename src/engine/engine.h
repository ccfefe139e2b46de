// Engine: the serving loop shared by the HTTP server and the CLI's batch mode. One thread runs
// step() = schedule -> run the model on one ForwardBatch -> sample -> stream, over many requests at
// once (continuous batching with chunked prefill, paged KV cache with prefix caching, preemption).
// Every public method is thread-safe; results reach callers through each request's RequestStream.
#pragma once
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "engine/cost.h"
#include "engine/engine_metrics.h"
#include "engine/finish_reason.h"
#include "engine/model_loader.h"
#include "model/op_profile.h"
#include "sampling/sampling_params.h"

namespace tokenmill {

struct EngineConfig {
  int threads = 0;                      // compute threads, 0 = all cores
  int32_t block_size = 16;              // tokens per KV block
  size_t kv_cache_bytes = 0;            // 0: kv_cache_fraction of the memory available now
  int64_t kv_cache_tokens = 0;          // > 0: exactly this many tokens (whole blocks); overrides the two above
  double kv_cache_fraction = 0.5;       // of MemAvailable, when kv_cache_bytes == 0
  int32_t max_model_len = 0;            // per-sequence context, 0 = the model's (capped at 8192)
  int32_t max_num_batched_tokens = 512; // tokens per step (prefill chunks + decodes)
  int32_t max_num_seqs = 64;            // sequences running at once
  int32_t max_queued_requests = 256;    // waiting beyond this -> RequestRejected::QueueFull
  bool enable_prefix_caching = true;
  bool priority_scheduling = false;     // false: FCFS; true: lower `priority` value first, then FCFS
  bool static_batching = false;         // admit only between batches (SchedulerConfig::static_batches)
  bool profile = false;                 // time every op of every step (Engine::serving_profile)
  CostRates cost;                       // prices of busy time (engine/cost.h); all 0: usage has no cost
};

// What the engine did since it started, for `serve --profile` (GET /debug/profile): op timers summed
// over every step, and the steps, tokens and busy time they took.
struct ServingProfile {
  OpProfile ops;
  uint64_t steps = 0;
  uint64_t tokens = 0;        // batched tokens (prefill chunks + decodes)
  double busy_seconds = 0;    // the steps' wall time
};

struct GenerateRequest {
  std::string request_id;               // unique among live requests
  std::vector<int32_t> prompt_ids;
  SamplingParams params;                // validated by add_request
  int32_t n = 1;                        // independent completions sharing the prompt's KV blocks
  int32_t priority = 0;                 // lower is served first when priority_scheduling
  int32_t top_logprobs = -1;            // -1: no logprobs; 0..20: logprob of the sampled token + top k
};

struct TokenLogprob {
  int32_t token_id = 0;
  float logprob = 0;
  std::vector<std::pair<int32_t, float>> top;  // [top_logprobs] most likely (id, logprob)
};

// One increment of output for one of the request's n choices.
struct ChoiceDelta {
  int32_t index = 0;
  std::string text;                     // UTF-8-safe, stop strings removed
  std::vector<int32_t> token_ids;
  std::vector<TokenLogprob> logprobs;   // one per token id when top_logprobs >= 0
  std::optional<FinishReason> finish;   // set on the choice's last delta
};

struct Usage {
  int32_t prompt_tokens = 0;
  int32_t completion_tokens = 0;        // over all n choices
  int32_t cached_tokens = 0;            // prompt tokens served from the prefix cache
  RequestCost cost;                     // step-time shares and savings (engine/cost.h)
};

struct RequestEvent {
  std::vector<ChoiceDelta> deltas;
  bool done = false;                    // last event of the request: every choice finished
  Usage usage;                          // filled on the last event
  std::string error;                    // non-empty: the request failed (done is set)
};

// A request's output queue: the engine thread pushes, the caller pops. Dropping or aborting it
// aborts the request and frees its KV blocks at the next step.
class RequestStream {
 public:
  // Waits up to `timeout` for the next event; false on timeout.
  bool next(RequestEvent& event, std::chrono::milliseconds timeout);
  void abort();                         // idempotent
  bool aborted() const { return aborted_.load(); }
  const std::string& request_id() const { return request_id_; }

  // Engine side.
  explicit RequestStream(std::string request_id) : request_id_(std::move(request_id)) {}
  void push(RequestEvent event);

 private:
  std::string request_id_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<RequestEvent> events_;
  std::atomic<bool> aborted_{false};
};

enum class RejectReason { QueueFull, PromptTooLong, InvalidParams, ShuttingDown };

// Thrown by add_request; `reason` maps to an HTTP status (429, 400, 400, 503).
class RequestRejected : public Error {
 public:
  RequestRejected(RejectReason reason, const std::string& message) : Error(message), reason(reason) {}
  RejectReason reason;
};

class EngineCore;  // the loop's state (scheduler, block manager, model runner), engine.cpp

class Engine {
 public:
  // Loads nothing: takes a loaded model. Sizes the KV cache and logs how many tokens fit.
  Engine(LoadedModel& model, const EngineConfig& config);
  ~Engine();  // stops the loop; unfinished requests get an error event
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Queues a request. Throws RequestRejected (queue full, prompt + 1 longer than the context or
  // than the whole KV cache, invalid sampling params, shutting down).
  std::shared_ptr<RequestStream> add_request(GenerateRequest request);
  void abort(const std::string& request_id);

  // Stops admitting requests; waits up to `timeout` for running and waiting ones to finish,
  // then aborts the rest. Returns true when everything finished in time.
  bool drain(std::chrono::milliseconds timeout);

  const EngineMetrics& metrics() const;  // counters, gauges, histograms (thread-safe reads)
  const LoadedModel& model() const { return model_; }
  const EngineConfig& config() const { return config_; }
  // A copy of the op profile so far (all zero unless config.profile).
  ServingProfile serving_profile() const;
  int32_t max_model_len() const;
  int threads() const;  // compute threads of the engine's pool
  int64_t kv_capacity_tokens() const;

 private:
  LoadedModel& model_;
  EngineConfig config_;
  std::unique_ptr<EngineCore> core_;
};

}  // namespace tokenmill
