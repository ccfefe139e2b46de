// EngineMetrics: what the engine measures about itself, read by the server's /metrics route.
// Counters and gauges are atomics; histograms take a mutex per observation (a few per token).
#pragma once
#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace tokenmill {

// Cumulative histogram with fixed upper bounds (seconds), Prometheus style.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);
  void observe(double value);
  struct Snapshot {
    std::vector<double> upper_bounds;
    std::vector<uint64_t> cumulative_counts;  // [upper_bounds.size()], then +Inf == count
    uint64_t count = 0;
    double sum = 0;
  };
  Snapshot snapshot() const;

 private:
  std::vector<double> bounds_;
  mutable std::mutex mu_;
  std::vector<uint64_t> counts_;  // per bucket, not cumulative
  uint64_t count_ = 0;
  double sum_ = 0;
};

struct EngineMetrics {
  EngineMetrics();

  // Gauges (set every step).
  std::atomic<int64_t> requests_running{0};
  std::atomic<int64_t> requests_waiting{0};
  std::atomic<double> kv_cache_usage_ratio{0};   // blocks in use / all blocks
  std::atomic<int64_t> kv_cache_blocks_total{0};
  std::atomic<int64_t> kv_cache_blocks_used{0};
  // Memory, set once at start: weight tensors (mapped or repacked), the KV cache pool, and the
  // model's activation buffers (tokenmill plan predicts each).
  std::atomic<int64_t> weights_bytes{0};
  std::atomic<int64_t> kv_cache_bytes{0};
  std::atomic<int64_t> activation_bytes{0};

  // Counters.
  std::atomic<uint64_t> prefix_cache_queries_tokens{0};  // prompt tokens looked up
  std::atomic<uint64_t> prefix_cache_hits_tokens{0};     // of which found cached
  std::atomic<uint64_t> prompt_tokens{0};
  std::atomic<uint64_t> generation_tokens{0};
  std::atomic<uint64_t> preemptions{0};
  std::atomic<uint64_t> steps{0};
  // Cost accounting (engine/cost.h): busy seconds by phase (step wall time, shared out by tokens),
  // and the savings: prefix-cache seconds not spent, weight bytes quantization did not read.
  std::atomic<double> busy_prompt_seconds{0};
  std::atomic<double> busy_completion_seconds{0};
  std::atomic<uint64_t> busy_prompt_tokens{0};  // tokens of the prompt phase the busy time computed
  std::atomic<double> prefix_cache_saved_seconds{0};
  std::atomic<double> quantization_saved_bytes{0};

  // Finished requests by finish reason ("stop", "length", "abort", "error").
  void count_finished(const std::string& reason);
  std::map<std::string, uint64_t> finished_by_reason() const;

  // Histograms, seconds.
  Histogram time_to_first_token;
  Histogram inter_token_latency;
  Histogram e2e_request_latency;
  Histogram queue_time;

 private:
  mutable std::mutex finished_mu_;
  std::map<std::string, uint64_t> finished_;
};

}  // namespace tokenmill
