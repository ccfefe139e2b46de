// Percentiles, per-metric summaries and the aggregate numbers of a load-generator run.
#include <algorithm>
#include <cmath>
#include <numeric>
#include <set>

#include "server/loadgen.h"

namespace tokenmill {

namespace {

constexpr size_t kErrorSamples = 5;  // distinct failure messages kept in a report

}  // namespace

double RequestRecord::tpot_ms() const {
  if (output_tokens < 2 || std::isnan(ttft_ms) || std::isnan(e2e_ms)) return kNoValue;
  return (e2e_ms - ttft_ms) / double(output_tokens - 1);
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return kNoValue;
  std::sort(values.begin(), values.end());
  const double rank = std::clamp(p, 0.0, 100.0) / 100.0 * double(values.size() - 1);
  const size_t lower = size_t(std::floor(rank));
  const size_t upper = std::min(lower + 1, values.size() - 1);
  return values[lower] + (rank - double(lower)) * (values[upper] - values[lower]);
}

MetricSummary summarize(const std::vector<double>& values) {
  std::vector<double> present;
  present.reserve(values.size());
  for (const double v : values)
    if (!std::isnan(v)) present.push_back(v);
  MetricSummary s;
  s.count = present.size();
  if (present.empty()) return s;
  std::sort(present.begin(), present.end());
  s.mean = std::accumulate(present.begin(), present.end(), 0.0) / double(present.size());
  s.min = present.front();
  s.max = present.back();
  s.p50 = percentile(present, 50);
  s.p90 = percentile(present, 90);
  s.p99 = percentile(present, 99);
  return s;
}

LoadgenReport aggregate_report(const LoadgenConfig& config, std::vector<RequestRecord> requests,
                               double duration_s) {
  LoadgenReport r;
  r.config = config;
  r.duration_s = duration_s;
  std::vector<double> ttft, tpot, itl, e2e;
  std::set<std::string> seen_errors;
  for (const RequestRecord& q : requests) {
    if (!q.ok) {
      ++r.failed_requests;
      if (r.error_samples.size() < kErrorSamples && seen_errors.insert(q.error).second)
        r.error_samples.push_back(q.error);
      continue;
    }
    ++r.successful_requests;
    r.total_input_tokens += q.prompt_tokens;
    r.total_output_tokens += q.output_tokens;
    ttft.push_back(q.ttft_ms);
    tpot.push_back(q.tpot_ms());
    e2e.push_back(q.e2e_ms);
    itl.insert(itl.end(), q.itl_ms.begin(), q.itl_ms.end());
  }
  if (duration_s > 0) {
    r.request_throughput = r.successful_requests / duration_s;
    r.input_token_throughput = double(r.total_input_tokens) / duration_s;
    r.output_token_throughput = double(r.total_output_tokens) / duration_s;
  }
  r.ttft_ms = summarize(ttft);
  r.tpot_ms = summarize(tpot);
  r.itl_ms = summarize(itl);
  r.e2e_ms = summarize(e2e);
  r.requests = std::move(requests);
  return r;
}

}  // namespace tokenmill
