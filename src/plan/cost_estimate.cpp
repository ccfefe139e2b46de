#include "plan/cost_estimate.h"

#include <nlohmann/json.hpp>
#include <sstream>

#include "core/error.h"
#include "plan/units.h"

namespace tokenmill::plan {
namespace {

using nlohmann::json;

double per_million(double usd_per_s, double tokens_per_s) { return tokens_per_s > 0 ? usd_per_s / tokens_per_s * 1e6 : 0; }

}  // namespace

CostEstimate estimate_cost(const json& bench, const CostInputs& in) {
  check(in.price_per_hour > 0, "--price-per-hour must be > 0");
  check(in.human_tokens_per_s > 0, "--human-tokens-per-s must be > 0");
  check(in.power_watts >= 0, "--power-watts must be >= 0");
  if (!bench.is_object()) throw Error("the benchmark file is not a JSON object");
  CostEstimate e;
  const double usd_per_s = in.price_per_hour / 3600.0;
  if (bench.contains("tests") && bench["tests"].is_array()) {
    e.source = "bench";
    if (bench.contains("model") && bench["model"].is_object()) e.model = bench["model"].value("name", "");
    for (const json& t : bench["tests"]) {
      if (!t.is_object() || !t.contains("mean_ts") || !t["mean_ts"].is_number()) continue;
      const std::string kind = t.value("kind", "");
      const double ts = t["mean_ts"].get<double>();
      if (kind == "pp") e.input_tokens_per_s = ts;
      if (kind == "tg") e.output_tokens_per_s = ts;
    }
    if (e.input_tokens_per_s <= 0 && e.output_tokens_per_s <= 0)
      throw Error("the bench file has no pp or tg test with mean_ts");
    e.usd_per_million_input = per_million(usd_per_s, e.input_tokens_per_s);
    e.usd_per_million_output = per_million(usd_per_s, e.output_tokens_per_s);
    e.notes.push_back("input tokens priced at the prefill (pp) rate, output tokens at the decode (tg) rate of one "
                      "sequence; a server batching many sequences divides these by its concurrency gain");
  } else if (bench.contains("summary") && bench["summary"].is_object()) {
    e.source = "bench serve";
    e.model = bench.value("model", "");
    const json& s = bench["summary"];
    auto num = [&](const char* key) {
      if (!s.contains(key) || !s[key].is_number()) throw Error(std::string("the bench serve file has no summary.") + key);
      return s[key].get<double>();
    };
    const double duration = num("duration_s"), in_tokens = num("total_input_tokens"),
                 out_tokens = num("total_output_tokens"), ok = num("successful_requests");
    check(duration > 0, "the bench serve file's duration_s must be > 0");
    e.input_tokens_per_s = in_tokens / duration;
    e.output_tokens_per_s = out_tokens / duration;
    const double usd = usd_per_s * duration;
    // The run's time is shared by tokens as the server shares each step: prompt and output
    // tokens alike (the server's own usage.cost splits it exactly).
    const double all = in_tokens + out_tokens;
    e.usd_per_million_input = all > 0 ? usd / all * 1e6 : 0;
    e.usd_per_million_output = e.usd_per_million_input;
    e.usd_per_request = ok > 0 ? usd / ok : 0;
    e.notes.push_back("the run's whole duration priced and shared equally by all tokens processed (prompt and output); "
                      "serve --price-per-hour splits each step exactly");
  } else {
    throw Error("the file is neither `tokenmill bench --json` output (tests) nor `tokenmill bench serve` output (summary)");
  }
  if (in.power_watts > 0 && e.output_tokens_per_s > 0) e.joules_per_output_token = in.power_watts / e.output_tokens_per_s;
  e.human_equivalent = e.output_tokens_per_s / in.human_tokens_per_s;
  return e;
}

std::string format_cost(const CostEstimate& e, const CostInputs& in) {
  std::ostringstream o;
  o << "cost of " << (e.model.empty() ? "the model" : e.model) << " from `tokenmill " << e.source << "` at $"
    << fixed(in.price_per_hour, 3) << "/hour\n";
  o << "  input tokens/s            " << rate(e.input_tokens_per_s) << "\n";
  o << "  output tokens/s           " << rate(e.output_tokens_per_s) << "\n";
  o << "  $ per 1M input tokens     " << fixed(e.usd_per_million_input, 4) << "\n";
  o << "  $ per 1M output tokens    " << fixed(e.usd_per_million_output, 4) << "\n";
  if (e.usd_per_request > 0) o << "  $ per request             " << fixed(e.usd_per_request, 6) << "\n";
  if (e.joules_per_output_token > 0)
    o << "  energy per output token   " << fixed(e.joules_per_output_token, 3) << " J at " << fixed(in.power_watts, 0)
      << " W\n";
  o << "  human equivalent          " << fixed(e.human_equivalent, 1) << " people writing at "
    << fixed(in.human_tokens_per_s, 2) << " tokens/s\n";
  for (const std::string& n : e.notes) o << "  note: " << n << "\n";
  return o.str();
}

json cost_to_json(const CostEstimate& e, const CostInputs& in) {
  return {{"source", e.source},
          {"model", e.model},
          {"price_per_hour", in.price_per_hour},
          {"power_watts", in.power_watts},
          {"human_tokens_per_s", in.human_tokens_per_s},
          {"input_tokens_per_s", e.input_tokens_per_s},
          {"output_tokens_per_s", e.output_tokens_per_s},
          {"usd_per_million_input_tokens", e.usd_per_million_input},
          {"usd_per_million_output_tokens", e.usd_per_million_output},
          {"usd_per_request", e.usd_per_request},
          {"joules_per_output_token", e.joules_per_output_token},
          {"human_equivalent", e.human_equivalent},
          {"notes", e.notes}};
}

}  // namespace tokenmill::plan
