// `tokenmill cost BENCH.json --price-per-hour X`: dollars per million tokens from a benchmark.
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_common.h"
#include "core/error.h"
#include "plan/cost_estimate.h"

namespace tokenmill::cli {

void add_cost_command(CLI::App& app) {
  struct Flags {
    std::string file;
    plan::CostInputs in;
    bool json = false;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* cmd = app.add_subcommand(
      "cost", "Price a benchmark: $ per 1M input and output tokens, energy per token, human equivalent");
  cmd->add_option("file", f->file, "JSON of `tokenmill bench --json` or `tokenmill bench serve`")->required();
  cmd->add_option("--price-per-hour", f->in.price_per_hour, "USD per hour of the machine")->required();
  cmd->add_option("--power-watts", f->in.power_watts, "Power drawn while busy (energy per token)");
  cmd->add_option("--human-tokens-per-s", f->in.human_tokens_per_s,
                  "Human writing rate the output rate is compared with (default 0.87: 40 words/minute x 1.3 "
                  "tokens/word)");
  cmd->add_flag("--json", f->json, "Print JSON");
  cmd->callback([f] {
    std::ifstream in(f->file);
    if (!in) throw Error(f->file + ": cannot be read");
    const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
    if (j.is_discarded()) throw Error(f->file + ": not valid JSON");
    plan::CostEstimate e;
    try {
      e = plan::estimate_cost(j, f->in);
    } catch (const Error& err) {
      throw Error(f->file + ": " + err.what());
    }
    if (f->json)
      std::printf("%s\n", plan::cost_to_json(e, f->in).dump(2).c_str());
    else
      std::printf("%s", plan::format_cost(e, f->in).c_str());
  });
}

}  // namespace tokenmill::cli
