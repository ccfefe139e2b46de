// Load generator for an OpenAI-compatible completions server (`tokenmill bench serve`).
//
// run_load() sends `num_requests` streaming POST /v1/completions requests from `concurrency`
// workers, each a keep-alive HTTP client that takes the next unsent request as soon as its last
// one finishes (closed loop: at most `concurrency` requests in flight). Prompts are arrays of
// token ids so their length is exact whatever the server's tokenizer; `ignore_eos` keeps the
// server generating until max_tokens. Times are measured on the client with a steady clock from
// the moment a request is handed to the socket.
#pragma once
#include <cstdint>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tokenmill {

struct LoadgenConfig {
  std::string url;                  // http(s)://HOST[:PORT][/PREFIX]; requests go to PREFIX/v1/completions
  std::string model;                // "model" field; empty: first id of GET /v1/models, else omitted
  std::string api_key;              // sent as "Authorization: Bearer KEY" when not empty
  int32_t concurrency = 1;          // workers, i.e. requests in flight at most
  int32_t num_requests = 1;         // measured requests
  int32_t input_len_tokens = 128;   // prompt length of every request
  int32_t output_len_tokens = 128;  // max_tokens of every request
  int32_t shared_prefix_len_tokens = 0;  // leading prompt tokens identical across requests
  int32_t vocab_size = 256;     // prompt ids are drawn from [kPromptIdMargin, vocab_size - kPromptIdMargin)
  uint64_t seed = 0;            // prompt RNG seed
  int32_t warmup_requests = 0;  // sent first, not measured
  double timeout_s = 600;       // per request, connect to last byte
};

// Prompt ids keep this far from both ends of the vocabulary, where special tokens usually live.
inline constexpr int32_t kPromptIdMargin = 10;

// Throws Error naming the flag when a field is out of range.
void validate_config(const LoadgenConfig& config);

struct ServerEndpoint {
  std::string scheme_host_port;  // "http://127.0.0.1:8080"
  std::string completions_path;  // "/v1/completions" (after any path prefix of the URL)
  std::string models_path;       // "/v1/models"
};

// Throws Error for anything but http(s)://HOST[:PORT][/PREFIX]. A URL that already ends in
// /v1/completions or /v1 is accepted too.
ServerEndpoint parse_server_url(const std::string& url);

// `count` prompts of config.input_len_tokens ids each, deterministic in config.seed. The first
// config.shared_prefix_len_tokens ids are the same in every prompt; the rest differ per prompt.
std::vector<std::vector<int32_t>> build_prompts(const LoadgenConfig& config, int32_t count);

inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

struct RequestRecord {
  bool ok = false;
  std::string error;           // why it failed; empty when ok
  int32_t prompt_tokens = 0;   // usage.prompt_tokens, else the number of ids sent
  int32_t output_tokens = 0;   // usage.completion_tokens, else the non-empty text chunks
  int32_t text_chunks = 0;     // SSE chunks with non-empty choices[0].text
  double start_ms = 0;         // when it was sent, since the phase began
  double ttft_ms = kNoValue;   // send -> first non-empty text chunk
  double e2e_ms = kNoValue;    // send -> end of the stream
  std::vector<double> itl_ms;  // gaps between consecutive non-empty text chunks
  // (e2e - ttft) / (output_tokens - 1); kNoValue below two output tokens.
  double tpot_ms() const;
};

// Linear interpolation between closest ranks (NumPy's default): with the values sorted as
// x[0..n-1], percentile p (0..100) is x[h] interpolated at h = (n - 1) * p / 100.
// kNoValue for an empty vector; NaN entries must be removed by the caller.
double percentile(std::vector<double> values, double p);

struct MetricSummary {
  size_t count = 0;
  double mean = kNoValue, min = kNoValue, max = kNoValue;
  double p50 = kNoValue, p90 = kNoValue, p99 = kNoValue;
};

// Summary of the values that are not NaN.
MetricSummary summarize(const std::vector<double>& values);

struct LoadgenReport {
  LoadgenConfig config;
  std::string endpoint;  // full completions URL
  std::string model;     // the model name sent (empty: none)
  int32_t successful_requests = 0;
  int32_t failed_requests = 0;
  double duration_s = 0;           // first send -> last request done (measured phase)
  int64_t total_input_tokens = 0;  // over successful requests
  int64_t total_output_tokens = 0;
  double request_throughput = 0;      // successful requests / s
  double input_token_throughput = 0;  // tokens / s
  double output_token_throughput = 0;
  MetricSummary ttft_ms, tpot_ms, itl_ms, e2e_ms;  // successful requests only
  std::vector<std::string> error_samples;          // the first few distinct failure messages
  std::vector<RequestRecord> requests;             // measured requests, in prompt order
};

// Fills the aggregates of a report from per-request records of a phase that took duration_s.
LoadgenReport aggregate_report(const LoadgenConfig& config, std::vector<RequestRecord> requests,
                               double duration_s);

// Runs warm-up then the measured requests. Request failures are counted in the report, never
// thrown; throws Error only for an invalid config.
LoadgenReport run_load(const LoadgenConfig& config);

// Aligned plain-text table: counts, throughputs, then mean/p50/p90/p99 of each latency in ms.
std::string format_report_table(const LoadgenReport& report);

// {"config", "endpoint", "model", "summary", "metrics": {"ttft_ms": {...}, ...}, "errors",
//  "requests": [...]}; values that do not exist are null.
nlohmann::json report_to_json(const LoadgenReport& report);

}  // namespace tokenmill
