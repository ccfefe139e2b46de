// Presentation of a LoadgenReport: the aligned table `tokenmill bench serve` prints, and JSON.
#include <cmath>
#include <cstdio>
#include <string>

#include "server/loadgen.h"

namespace tokenmill {

namespace {

std::string format(const char* fmt, double value) {
  if (std::isnan(value)) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, fmt, value);
  return buf;
}

std::string row(const std::string& label, const std::string& value) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-30s %s\n", label.c_str(), value.c_str());
  return buf;
}

std::string metric_row(const char* name, const MetricSummary& m) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-8s %10s %10s %10s %10s %8zu\n", name, format("%.2f", m.mean).c_str(),
                format("%.2f", m.p50).c_str(), format("%.2f", m.p90).c_str(), format("%.2f", m.p99).c_str(),
                m.count);
  return buf;
}

// NaN becomes null, which nlohmann::json would also do, but explicitly so readers can rely on it.
nlohmann::json number_or_null(double v) {
  return std::isnan(v) ? nlohmann::json(nullptr) : nlohmann::json(v);
}

nlohmann::json summary_to_json(const MetricSummary& m) {
  return {{"count", m.count},
          {"mean", number_or_null(m.mean)},
          {"min", number_or_null(m.min)},
          {"max", number_or_null(m.max)},
          {"p50", number_or_null(m.p50)},
          {"p90", number_or_null(m.p90)},
          {"p99", number_or_null(m.p99)}};
}

nlohmann::json config_to_json(const LoadgenConfig& c) {
  // The API key is a secret: the JSON only says whether one was sent.
  return {{"url", c.url},
          {"model", c.model},
          {"api_key_set", !c.api_key.empty()},
          {"concurrency", c.concurrency},
          {"requests", c.num_requests},
          {"input_len", c.input_len_tokens},
          {"output_len", c.output_len_tokens},
          {"shared_prefix_len", c.shared_prefix_len_tokens},
          {"vocab_size", c.vocab_size},
          {"seed", c.seed},
          {"warmup", c.warmup_requests},
          {"timeout_s", c.timeout_s}};
}

nlohmann::json request_to_json(const RequestRecord& q) {
  nlohmann::json j = {{"ok", q.ok},
                      {"prompt_tokens", q.prompt_tokens},
                      {"output_tokens", q.output_tokens},
                      {"text_chunks", q.text_chunks},
                      {"start_ms", q.start_ms},
                      {"ttft_ms", number_or_null(q.ttft_ms)},
                      {"tpot_ms", number_or_null(q.tpot_ms())},
                      {"e2e_ms", number_or_null(q.e2e_ms)}};
  if (!q.ok) j["error"] = q.error;
  return j;
}

}  // namespace

std::string format_report_table(const LoadgenReport& r) {
  std::string out = "============ Serving benchmark result ============\n";
  out += row("endpoint", r.endpoint);
  out += row("model", r.model.empty() ? "(none sent)" : r.model);
  out += row("concurrency", std::to_string(r.config.concurrency));
  out += row("input / output tokens", std::to_string(r.config.input_len_tokens) + " / " +
                                          std::to_string(r.config.output_len_tokens) + " (shared prefix " +
                                          std::to_string(r.config.shared_prefix_len_tokens) + ")");
  out += row("successful requests", std::to_string(r.successful_requests));
  out += row("failed requests", std::to_string(r.failed_requests));
  out += row("duration (s)", format("%.2f", r.duration_s));
  out += row("total input tokens", std::to_string(r.total_input_tokens));
  out += row("total output tokens", std::to_string(r.total_output_tokens));
  out += row("request throughput (req/s)", format("%.2f", r.request_throughput));
  out += row("input throughput (tok/s)", format("%.2f", r.input_token_throughput));
  out += row("output throughput (tok/s)", format("%.2f", r.output_token_throughput));
  char header[256];
  std::snprintf(header, sizeof header, "\n%-8s %10s %10s %10s %10s %8s\n", "ms", "mean", "p50", "p90", "p99",
                "count");
  out += header;
  out += metric_row("TTFT", r.ttft_ms);
  out += metric_row("TPOT", r.tpot_ms);
  out += metric_row("ITL", r.itl_ms);
  out += metric_row("E2E", r.e2e_ms);
  return out;
}

nlohmann::json report_to_json(const LoadgenReport& r) {
  nlohmann::json requests = nlohmann::json::array();
  for (const RequestRecord& q : r.requests) requests.push_back(request_to_json(q));
  return {{"config", config_to_json(r.config)},
          {"endpoint", r.endpoint},
          {"model", r.model},
          {"summary",
           {{"successful_requests", r.successful_requests},
            {"failed_requests", r.failed_requests},
            {"duration_s", r.duration_s},
            {"total_input_tokens", r.total_input_tokens},
            {"total_output_tokens", r.total_output_tokens},
            {"request_throughput", r.request_throughput},
            {"input_token_throughput", r.input_token_throughput},
            {"output_token_throughput", r.output_token_throughput}}},
          {"metrics",
           {{"ttft_ms", summary_to_json(r.ttft_ms)},
            {"tpot_ms", summary_to_json(r.tpot_ms)},
            {"itl_ms", summary_to_json(r.itl_ms)},
            {"e2e_ms", summary_to_json(r.e2e_ms)}}},
          {"errors", r.error_samples},
          {"requests", requests}};
}

}  // namespace tokenmill
