// `tokenmill cost`: prices a benchmark's throughput — dollars per million input and output tokens
// at a machine's hourly price, energy per token at its power draw, and the handbook's "human
// equivalent" (output tokens/s over a human writing rate). Reads the JSON of `tokenmill bench`
// (pp / tg tests: input priced at the prefill rate, output at the decode rate) or of
// `tokenmill bench serve` (the run's whole duration charged to its tokens).
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace tokenmill::plan {

struct CostInputs {
  double price_per_hour = 0;        // USD
  double power_watts = 0;           // 0: no energy figures
  double human_tokens_per_s = 0.87; // 40 words per minute x 1.3 tokens per word
};

struct CostEstimate {
  std::string source;               // "bench" or "bench serve"
  std::string model;
  double input_tokens_per_s = 0;    // bench: the prefill rate; serve: input tokens / duration
  double output_tokens_per_s = 0;   // bench: the decode rate; serve: output tokens / duration
  double usd_per_million_input = 0;
  double usd_per_million_output = 0;
  double usd_per_request = 0;       // serve only
  double joules_per_output_token = 0;
  double human_equivalent = 0;      // output tokens/s / human tokens/s
  std::vector<std::string> notes;   // how each figure was computed
};

// Throws Error naming what is missing when the JSON is neither kind.
CostEstimate estimate_cost(const nlohmann::json& bench, const CostInputs& in);
std::string format_cost(const CostEstimate& e, const CostInputs& in);
nlohmann::json cost_to_json(const CostEstimate& e, const CostInputs& in);

}  // namespace tokenmill::plan
