// `tokenmill report`: one self-contained HTML page from result files — `bench serve` runs
// (throughput vs concurrency, latency percentiles, latency CDFs), `bench` runs (pp / tg),
// `plan` files (memory breakdown per device) and ablation files (each optimization turned off in
// turn) — with SVG charts and a PNG export button per chart (docs/report.md).
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace tokenmill::report {

struct ReportInput {
  std::string path;    // shown in the page
  nlohmann::json data;
};

// "bench serve", "bench", "plan", "ablation", or "" for a file of no known kind.
std::string input_kind(const nlohmann::json& data);

// The page. Throws Error naming the file when an input is of no known kind.
std::string render_report(const std::vector<ReportInput>& inputs, const std::string& title);

}  // namespace tokenmill::report
