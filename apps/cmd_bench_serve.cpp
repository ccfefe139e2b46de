// `tokenmill bench serve`: load test of a running OpenAI-compatible completions server.
#include <cstdio>
#include <fstream>
#include <memory>

#include "cli_common.h"
#include "core/error.h"
#include "server/loadgen.h"

namespace tokenmill::cli {

namespace {

struct BenchServeFlags {
  LoadgenConfig config;
  std::string json_path;
};

void write_json(const std::string& path, const nlohmann::json& j) {
  std::ofstream out(path);
  check(out.good(), path + ": cannot open for writing (--json)");
  out << j.dump(2) << '\n';
  check(out.good(), path + ": write failed (--json)");
}

void bench_serve(const BenchServeFlags& f) {
  validate_config(f.config);
  std::fprintf(stderr, "bench serve: %d requests (+%d warm-up), concurrency %d, %d -> %d tokens, %s\n",
               f.config.num_requests, f.config.warmup_requests, f.config.concurrency,
               f.config.input_len_tokens, f.config.output_len_tokens, f.config.url.c_str());
  const LoadgenReport report = run_load(f.config);
  std::printf("%s", format_report_table(report).c_str());
  std::fflush(stdout);
  if (!f.json_path.empty()) write_json(f.json_path, report_to_json(report));
  if (report.failed_requests > 0) {
    for (const std::string& message : report.error_samples)
      std::fprintf(stderr, "failed request: %s\n", message.c_str());
    throw Error(std::to_string(report.failed_requests) + " of " + std::to_string(report.config.num_requests) +
                " requests failed");
  }
}

}  // namespace

void add_bench_serve_command(CLI::App& bench) {
  auto f = std::make_shared<BenchServeFlags>();
  LoadgenConfig& c = f->config;
  CLI::App* cmd = bench.add_subcommand(
      "serve", "Load-test an OpenAI-compatible server with streaming /v1/completions requests");
  cmd->add_option("--url", c.url, "Server base URL, http://HOST:PORT[/PREFIX]")->required();
  cmd->add_option("-c,--concurrency", c.concurrency, "Requests in flight at once (one worker each)")
      ->capture_default_str();
  cmd->add_option("-n,--requests", c.num_requests, "Measured requests")->capture_default_str();
  cmd->add_option("--input-len", c.input_len_tokens, "Prompt length in tokens (sent as token ids)")
      ->capture_default_str();
  cmd->add_option("--output-len", c.output_len_tokens, "max_tokens per request (sent with ignore_eos)")
      ->capture_default_str();
  cmd->add_option("--shared-prefix-len", c.shared_prefix_len_tokens,
                  "Leading prompt tokens identical in every request (prefix-cache hits)")
      ->capture_default_str();
  cmd->add_option("--model", c.model, "Model name to send; default: the first of GET /v1/models");
  cmd->add_option("--api-key", c.api_key, "Bearer token for the Authorization header");
  cmd->add_option("--seed", c.seed, "Seed of the prompt token ids")->capture_default_str();
  cmd->add_option("--vocab-size", c.vocab_size, "Prompt ids are drawn from [10, VOCAB-10)")
      ->capture_default_str();
  cmd->add_option("--warmup", c.warmup_requests, "Unmeasured requests sent first")->capture_default_str();
  cmd->add_option("--timeout-s", c.timeout_s, "Per-request time limit in seconds; later counts as failed")
      ->capture_default_str();
  cmd->add_option("--json", f->json_path,
                  "Also write config, aggregates and per-request records as JSON here");
  cmd->callback([f] { bench_serve(*f); });
}

}  // namespace tokenmill::cli
