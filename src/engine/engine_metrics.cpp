#include "engine/engine_metrics.h"

#include <algorithm>

#include "core/error.h"

namespace tokenmill {

Histogram::Histogram(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  check(std::is_sorted(bounds_.begin(), bounds_.end()), "histogram bounds must be sorted");
  counts_.assign(bounds_.size() + 1, 0);
}

void Histogram::observe(double value) {
  const size_t bucket = size_t(std::lower_bound(bounds_.begin(), bounds_.end(), value) - bounds_.begin());
  std::lock_guard<std::mutex> lock(mu_);
  ++counts_[bucket];
  ++count_;
  sum_ += value;
}

Histogram::Snapshot Histogram::snapshot() const {
  std::lock_guard<std::mutex> lock(mu_);
  Snapshot s;
  s.upper_bounds = bounds_;
  uint64_t running = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    running += counts_[i];
    s.cumulative_counts.push_back(running);
  }
  s.count = count_;
  s.sum = sum_;
  return s;
}

namespace {
// Seconds: 1 ms .. 60 s for latencies of whole requests; finer for per-token gaps.
std::vector<double> request_buckets() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 60.0};
}
std::vector<double> token_buckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5};
}
}  // namespace

EngineMetrics::EngineMetrics()
    : time_to_first_token(request_buckets()),
      inter_token_latency(token_buckets()),
      e2e_request_latency(request_buckets()),
      queue_time(request_buckets()) {}

void EngineMetrics::count_finished(const std::string& reason) {
  std::lock_guard<std::mutex> lock(finished_mu_);
  ++finished_[reason];
}

std::map<std::string, uint64_t> EngineMetrics::finished_by_reason() const {
  std::lock_guard<std::mutex> lock(finished_mu_);
  return finished_;
}

}  // namespace tokenmill
