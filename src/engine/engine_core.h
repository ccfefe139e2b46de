// EngineCore: the state the engine thread owns — model, KV storage, block manager, scheduler, and
// the live requests with their per-choice sampling/detokenization state. Only the engine thread
// touches it, except for the inbox (new requests), guarded by inbox_mu_.
#pragma once
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <vector>

#include "core/thread_pool.h"
#include "engine/engine.h"
#include "engine/scheduler.h"
#include "engine/sequence.h"
#include "kv/block_manager.h"
#include "model/kv_storage.h"
#include "model/llama.h"
#include "sampling/rng.h"
#include "sampling/sampler.h"
#include "sampling/stop_strings.h"
#include "tokenizer/streaming_detokenizer.h"

namespace tokenmill {

using EngineClock = std::chrono::steady_clock;

// One of a request's n completions.
struct ChoiceState {
  Sequence seq;
  int32_t index = 0;
  std::unique_ptr<Sampler> sampler;
  std::unique_ptr<StreamingDetokenizer> detok;
  std::unique_ptr<StopStringMatcher> stops;
  std::vector<int32_t> output_ids;
  bool finished = false;
  FinishReason finish = FinishReason::Length;
};

struct LiveRequest {
  GenerateRequest req;
  std::shared_ptr<RequestStream> stream;
  std::vector<std::unique_ptr<ChoiceState>> choices;  // [0] is the parent; the rest fork after prefill
  EngineClock::time_point arrival;
  EngineClock::time_point last_token;
  bool scheduled_once = false;
  bool first_token_seen = false;
  int32_t n_finished = 0;
  Usage usage;
};

class EngineCore {
 public:
  EngineCore(LoadedModel& model, const EngineConfig& config, int32_t max_model_len, int32_t n_blocks);
  ~EngineCore();

  // Thread-safe entry points used by Engine.
  void submit(std::unique_ptr<LiveRequest> request);
  void abort(const std::string& request_id);
  bool drain(std::chrono::milliseconds timeout);
  size_t n_pending() const { return pending_.load(); }  // queued or running requests
  bool draining() const { return draining_.load(); }
  int threads() const { return pool_.size(); }
  ServingProfile serving_profile() const {
    std::lock_guard<std::mutex> lock(profile_mu_);
    return profile_snapshot_;
  }

  EngineMetrics metrics;
  const int32_t max_model_len;
  const int32_t n_blocks;

 private:
  void loop();
  void take_inbox();
  void reap_aborted();
  void step();
  void build_batch(const SchedulerOutput& out);
  void sample_and_stream(const SchedulerOutput& out);
  // Shares the step's wall time so far among its sequences by tokens (engine/cost.h).
  void charge_step(const SchedulerOutput& out);
  // n > 1: the other choices join as forks of the parent (sharing its blocks) after its prefill.
  void fork_choices(LiveRequest& r);
  // Samples one token for choice c from logits (modified in place), appends it and records the
  // delta; returns true when the choice finished.
  bool advance(LiveRequest& r, ChoiceState& c, float* logits, ChoiceDelta& delta);
  void finish_choice(LiveRequest& r, ChoiceState& c, FinishReason reason, ChoiceDelta& delta);
  // Sends the request's last event (with `deltas`), frees what it holds and forgets it.
  void complete_request(LiveRequest& r, const std::string& error, std::vector<ChoiceDelta> deltas = {});
  void update_gauges();

  LoadedModel& model_;
  EngineConfig config_;
  ThreadPool pool_;
  std::unique_ptr<LlamaModel> llama_;
  std::unique_ptr<KvStorage> kv_;
  BlockManager blocks_;
  Scheduler scheduler_;
  Xoshiro256StarStar seed_rng_;
  std::vector<int32_t> eog_ids_;

  std::map<std::string, std::unique_ptr<LiveRequest>> live_;        // by request id
  std::unordered_map<const Sequence*, std::pair<LiveRequest*, ChoiceState*>> by_seq_;
  int64_t next_seq_id_ = 1;

  ForwardBatch batch_;
  std::vector<float> logits_;  // [rows that sample, vocab]
  EngineClock::time_point step_start_;
  std::vector<StepShare> step_shares_;     // per scheduled sequence of the step, from build_batch
  std::vector<std::pair<double, double>> step_split_;  // their seconds (prompt, completion)
  double quantization_saved_bytes_per_step_ = 0;  // F16 bytes of the matrices - their bytes here
  OpProfile op_profile_;                   // attached to the model when config.profile
  mutable std::mutex profile_mu_;
  ServingProfile profile_snapshot_;        // copied from op_profile_ after each step

  std::mutex inbox_mu_;
  std::condition_variable inbox_cv_;
  std::vector<std::unique_ptr<LiveRequest>> inbox_;
  std::vector<std::string> abort_ids_;
  std::atomic<size_t> pending_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tokenmill
