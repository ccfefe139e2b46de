// `tokenmill bench ablate`: one workload, served with every optimization on, then with each one
// turned off in turn (a fresh `tokenmill serve` child per configuration, driven by the load
// generator of `bench serve`): throughput, latency, memory and cost per configuration, as a table
// and as an ablation file for `tokenmill report` (docs/report.md).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "child_server.h"
#include "cli_common.h"
#include "core/error.h"
#include "engine/gguf_quantize.h"
#include "formats/gguf.h"
#include "server/loadgen.h"

namespace tokenmill::cli {

namespace {

struct AblateFlags {
  std::string model;
  std::string quant = "Q8_0";
  LoadgenConfig load;
  int threads = 0;
  double price_per_hour = 1.0;
  std::string out_path;
};

struct Config {
  std::string name;
  std::vector<std::string> args;  // serve flags
  std::string skipped;            // non-empty: not run, and why
};

// Whether every matrix of a GGUF file is F32 / F16 / BF16 (a quantized copy can be made).
bool float_gguf(const std::string& path) {
  if (std::filesystem::is_directory(path)) return false;
  GgufFile g(path);
  for (const GgufTensor& t : g.tensors())
    if (t.ne.size() >= 2 && t.ggml_type != 0 && t.ggml_type != 1 && t.ggml_type != 30) return false;
  return true;
}

double memory_bytes(const std::string& metrics) {
  double total = 0;
  std::istringstream in(metrics);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("tokenmill_memory_bytes{", 0) == 0) total += std::stod(line.substr(line.rfind(' ') + 1));
  return total;
}

nlohmann::json run_config(const Config& c, const AblateFlags& f, int64_t kv_tokens) {
  nlohmann::json r = {{"name", c.name}};
  if (!c.skipped.empty()) {
    r["skipped"] = c.skipped;
    return r;
  }
  std::vector<std::string> args = c.args;
  for (const std::string& a : {std::string("--kv-cache-tokens"), std::to_string(kv_tokens), std::string("--threads"),
                               std::to_string(f.threads), std::string("--max-num-seqs"),
                               std::to_string(f.load.concurrency)})
    args.push_back(a);
  std::fprintf(stderr, "bench ablate: %s: tokenmill serve", c.name.c_str());
  for (const std::string& a : c.args) std::fprintf(stderr, " %s", a.c_str());
  std::fprintf(stderr, "\n");
  ChildServer server(args);
  LoadgenConfig load = f.load;
  load.url = server.url();
  const LoadgenReport rep = run_load(load);
  const double memory = memory_bytes(server.get("/metrics"));
  server.stop();
  r["serve_args"] = c.args;
  r["output_token_throughput"] = rep.output_token_throughput;
  r["request_throughput"] = rep.request_throughput;
  r["ttft_p50_ms"] = rep.ttft_ms.p50;
  r["tpot_p50_ms"] = rep.tpot_ms.p50;
  r["e2e_p99_ms"] = rep.e2e_ms.p99;
  r["memory_mb"] = memory / 1e6;
  r["duration_s"] = rep.duration_s;
  r["failed_requests"] = rep.failed_requests;
  r["usd_per_million_output_tokens"] =
      rep.total_output_tokens > 0 ? f.price_per_hour / 3600.0 * rep.duration_s / double(rep.total_output_tokens) * 1e6 : 0.0;
  if (rep.failed_requests > 0) throw Error(c.name + ": " + std::to_string(rep.failed_requests) + " requests failed");
  return r;
}

std::string cell(const nlohmann::json& r, const char* key, const char* format) {
  if (!r.contains(key) || !r[key].is_number() || std::isnan(r[key].get<double>())) return "-";
  char buf[64];
  std::snprintf(buf, sizeof buf, format, r[key].get<double>());
  return buf;
}

void ablate(const AblateFlags& f) {
  LoadgenConfig check_load = f.load;  // the URL comes from each child server
  check_load.url = "http://127.0.0.1:1";
  validate_config(check_load);
  check(f.price_per_hour > 0, "--price-per-hour must be > 0");
  const auto scheme = quant_scheme_from_name(f.quant);
  if (!scheme) throw Error("--quant '" + f.quant + "' is not a scheme (" + quant_scheme_names() + ")");
  check(std::filesystem::exists(f.model), "model '" + f.model + "' does not exist");

  // "All on" runs a quantized copy when the model is a float GGUF; "no weight quantization" the model itself.
  std::string all_on_model = f.model;
  std::string quant_skip;
  std::unique_ptr<std::filesystem::path, void (*)(std::filesystem::path*)> tmp_dir(nullptr, [](std::filesystem::path* p) {
    std::error_code ec;
    std::filesystem::remove_all(*p, ec);
    delete p;
  });
  if (float_gguf(f.model)) {
    tmp_dir.reset(new std::filesystem::path(std::filesystem::temp_directory_path() /
                                            ("tokenmill-ablate-" + std::to_string(getpid()))));
    std::filesystem::create_directories(*tmp_dir);
    all_on_model = (*tmp_dir / ("model-" + f.quant + ".gguf")).string();
    GgufQuantizeOptions q;
    q.scheme = *scheme;
    q.n_threads = f.threads;
    std::fprintf(stderr, "bench ablate: quantizing %s to %s\n", f.model.c_str(), f.quant.c_str());
    quantize_gguf(f.model, all_on_model, q);
  } else {
    quant_skip = "the model is not a GGUF file of float weights, so there is no unquantized/quantized pair";
  }

  const int32_t whole_prompts = f.load.input_len_tokens * f.load.concurrency + f.load.concurrency;
  const std::vector<Config> configs = {
      {"all on", {"-m", all_on_model}, ""},
      {"no weight quantization", {"-m", f.model}, quant_skip},
      {"no prefix cache", {"-m", all_on_model, "--no-prefix-caching"}, ""},
      {"no chunked prefill", {"-m", all_on_model, "--max-num-batched-tokens", std::to_string(std::max(512, whole_prompts))}, ""},
      {"no continuous batching", {"-m", all_on_model, "--static-batching"}, ""},
      {"no flash attention", {}, "tokenmill has one attention kernel (online softmax over the KV blocks, "
                                 "flash-style): there is nothing to turn off"},
      {"no speculative decoding", {}, "speculative decoding is not implemented yet"},
  };
  const int64_t kv_tokens =
      int64_t(f.load.concurrency) * (f.load.input_len_tokens + f.load.output_len_tokens + 16) * 2;
  nlohmann::json runs = nlohmann::json::array();
  for (const Config& c : configs) runs.push_back(run_config(c, f, kv_tokens));

  std::printf("| configuration | out tok/s | vs all on | TTFT p50 ms | TPOT p50 ms | E2E p99 ms | memory MB | $/1M out |\n");
  std::printf("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  const double base = runs[0].value("output_token_throughput", 0.0);
  for (const nlohmann::json& r : runs) {
    if (r.contains("skipped")) {
      std::printf("| %s | skipped: %s | | | | | | |\n", r["name"].get<std::string>().c_str(),
                  r["skipped"].get<std::string>().c_str());
      continue;
    }
    const double t = r.value("output_token_throughput", 0.0);
    std::printf("| %s | %s | %.2fx | %s | %s | %s | %s | %s |\n", r["name"].get<std::string>().c_str(),
                cell(r, "output_token_throughput", "%.1f").c_str(), base > 0 ? t / base : 0.0,
                cell(r, "ttft_p50_ms", "%.1f").c_str(), cell(r, "tpot_p50_ms", "%.2f").c_str(),
                cell(r, "e2e_p99_ms", "%.1f").c_str(), cell(r, "memory_mb", "%.1f").c_str(),
                cell(r, "usd_per_million_output_tokens", "%.4f").c_str());
  }
  if (!f.out_path.empty()) {
    const nlohmann::json j = {
        {"kind", "tokenmill-ablation"},
        {"workload", f.model + ": " + std::to_string(f.load.num_requests) + " requests, concurrency " +
                         std::to_string(f.load.concurrency) + ", " + std::to_string(f.load.input_len_tokens) +
                         " -> " + std::to_string(f.load.output_len_tokens) + " tokens, shared prefix " +
                         std::to_string(f.load.shared_prefix_len_tokens)},
        {"price_per_hour", f.price_per_hour},
        {"runs", runs}};
    std::ofstream out(f.out_path);
    check(out.good(), f.out_path + ": cannot open for writing");
    out << j.dump(2) << '\n';
    check(out.good(), f.out_path + ": write failed");
  }
}

}  // namespace

void add_bench_ablate_command(CLI::App& bench) {
  auto f = std::make_shared<AblateFlags>();
  f->model = default_model_path();
  f->load.concurrency = 8;
  f->load.num_requests = 24;
  f->load.input_len_tokens = 512;
  f->load.output_len_tokens = 64;
  f->load.shared_prefix_len_tokens = 256;
  f->load.warmup_requests = 2;
  CLI::App* cmd = bench.add_subcommand(
      "ablate", "Serve one workload with every optimization on, then with each turned off in turn: throughput, "
                "latency, memory and cost per configuration");
  cmd->add_option("-m,--model", f->model, "GGUF file (float weights: the quantized copy is made) or HF directory")
      ->capture_default_str();
  cmd->add_option("--quant", f->quant, "Weight quantization of the 'all on' configuration")->capture_default_str();
  cmd->add_option("-c,--concurrency", f->load.concurrency, "Requests in flight")->capture_default_str();
  cmd->add_option("-n,--requests", f->load.num_requests, "Requests per configuration")->capture_default_str();
  cmd->add_option("--input-len", f->load.input_len_tokens, "Prompt tokens")->capture_default_str();
  cmd->add_option("--output-len", f->load.output_len_tokens, "Generated tokens")->capture_default_str();
  cmd->add_option("--shared-prefix-len", f->load.shared_prefix_len_tokens, "Prompt tokens shared by all requests")
      ->capture_default_str();
  cmd->add_option("--warmup", f->load.warmup_requests, "Unmeasured requests first, per configuration")
      ->capture_default_str();
  cmd->add_option("-t,--threads", f->threads, "Threads of each server (0 = all cores)");
  cmd->add_option("--price-per-hour", f->price_per_hour, "USD per hour, for the cost column")->capture_default_str();
  cmd->add_option("-o,--output", f->out_path, "Write the ablation file (JSON) for `tokenmill report`");
  cmd->callback([f] { ablate(*f); });
}

}  // namespace tokenmill::cli
