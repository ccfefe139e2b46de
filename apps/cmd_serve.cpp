// `tokenmill serve`: the OpenAI-compatible HTTP server over the engine.
//
// Signals: SIGTERM and SIGINT are blocked in every thread (the mask is set before any thread
// starts) and taken synchronously by the main thread with sigtimedwait, so no handler and no
// global flag exist. On the first one the server stops admitting requests (503, /health 503),
// lets the engine finish what it has for up to --drain-timeout seconds, then closes the listener
// and exits 0. SIGPIPE is ignored: a client that hangs up must fail a write, not kill the server.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>

#include "cli_common.h"
#include "kernels/machine_limits.h"
#include "core/error.h"
#include "engine/engine.h"
#include "engine/model_loader.h"
#include "server/http_server.h"

namespace tokenmill::cli {

namespace {

struct ServeFlags {
  std::string model;
  server::ServerOptions server;
  EngineConfig engine;
  bool no_prefix_caching = false;
  bool no_repack = false;
  ActivationMode activations = ActivationMode::Auto;
  double drain_timeout_s = 30;
  double memory_bandwidth_gbs = 0;
};

sigset_t shutdown_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

// Joins the listener thread on every exit path, including a model that fails to load.
struct ListenerThread {
  server::OpenAiServer& server;
  std::thread thread;
  ~ListenerThread() {
    server.stop();
    if (thread.joinable()) thread.join();
  }
};

void serve(ServeFlags f) {
  const sigset_t signals = shutdown_signals();
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  f.engine.enable_prefix_caching = !f.no_prefix_caching;
  if (f.server.served_model_name.empty()) f.server.served_model_name = f.model;
  // Every running or queued request holds a handler thread until it finishes; a few more keep
  // /health, /metrics and 429 answers flowing while the engine is full. Connections beyond this
  // wait in the listener's queue.
  f.server.http_threads = std::max(8, f.engine.max_num_seqs + std::min(f.engine.max_queued_requests, 64) + 4);

  // The limits /debug/profile compares the steps with (about a second of probes).
  if (f.engine.profile) f.server.profile_limits = kernels::measure_machine_limits(f.engine.threads);
  std::optional<LoadedModel> model;
  std::unique_ptr<Engine> engine;
  server::OpenAiServer http(f.server);
  const int port = http.bind();
  std::fprintf(stderr, "tokenmill serve: listening on http://%s:%d (loading %s)\n", f.server.host.c_str(),
               port, f.model.c_str());
  ListenerThread listener{http, std::thread([&http] { http.serve(); })};

  LoadOptions load;
  load.repack = !f.no_repack;
  load.threads = f.engine.threads;
  load.activations = f.activations;
  model.emplace(load_model(f.model, load));
  if (f.engine.cost.price_per_hour > 0) {
    double gbs = f.memory_bandwidth_gbs;
    if (gbs <= 0) {  // the bandwidth probe of `tokenmill bench`, without the compute probes
      kernels::MachineLimitsOptions probe;
      probe.measure_compute = false;
      probe.read_buffer_bytes = size_t(256) << 20;
      gbs = kernels::measure_machine_limits(f.engine.threads, probe).read_bw_gbs;
    }
    f.engine.cost.bandwidth_bytes_per_s = gbs * 1e9;
    std::fprintf(stderr, "tokenmill serve: pricing at $%.4g/hour, %.4g W, read bandwidth %.1f GB/s\n",
                 f.engine.cost.price_per_hour, f.engine.cost.power_watts, gbs);
  }
  engine = std::make_unique<Engine>(*model, f.engine);
  http.attach(*engine);
  std::fprintf(
      stderr,
      "tokenmill serve: model %s served as '%s', context %d tokens, KV cache %lld tokens, activations %s; "
      "ready\n",
      f.model.c_str(), f.server.served_model_name.c_str(), engine->max_model_len(),
      static_cast<long long>(engine->kv_capacity_tokens()), activation_use(model->weights).mode().c_str());

  int signal_number = -1;
  while (signal_number < 0) {
    const timespec poll{0, 200'000'000};
    signal_number = sigtimedwait(&signals, nullptr, &poll);
  }
  std::fprintf(stderr, "tokenmill serve: %s, draining (up to %.0f s)\n",
               signal_number == SIGINT ? "SIGINT" : "SIGTERM", f.drain_timeout_s);
  http.begin_draining();
  const bool drained = engine->drain(std::chrono::milliseconds(int64_t(f.drain_timeout_s * 1000)));
  // The engine has produced its last events; give the handlers a moment to write them out.
  http.wait_idle(std::chrono::seconds(5));
  http.stop();
  std::fprintf(stderr, "tokenmill serve: %s; stopped\n",
               drained ? "all requests finished" : "drain timeout reached, unfinished requests aborted");
}

}  // namespace

void add_serve_command(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* cmd =
      app.add_subcommand("serve", "OpenAI-compatible HTTP server (completions, chat, models, metrics)");
  f->model = default_model_path();
  f->server.served_model_name.clear();  // default: the --model path, as given
  cmd->add_option("-m,--model", f->model,
                  "GGUF file or Hugging Face checkpoint directory (default: bundled model)");
  cmd->add_option("--host", f->server.host, "Address to listen on")->capture_default_str();
  cmd->add_option("--port", f->server.port, "TCP port (0 = any free port)")
      ->check(CLI::Range(0, 65535))
      ->capture_default_str();
  cmd->add_option("--api-key", f->server.api_key,
                  "Require 'Authorization: Bearer KEY' (every route but /health and /metrics)");
  cmd->add_option("--served-model-name", f->server.served_model_name,
                  "Model name in the API (default: the --model path)");
  cmd->add_option("--max-body-bytes", f->server.max_body_bytes, "Largest request body accepted (413 beyond)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--drain-timeout", f->drain_timeout_s,
                  "Seconds to let running requests finish after SIGTERM/SIGINT before aborting them")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("-t,--threads", f->engine.threads, "Compute threads (0 = all cores)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--kv-cache-memory", f->engine.kv_cache_bytes,
                  "KV cache size in bytes (0 = --kv-cache-fraction of the memory available at start)");
  cmd->add_option("--price-per-hour", f->engine.cost.price_per_hour,
                  "USD per hour of this machine: each response's usage gets a cost, /metrics prices busy time "
                  "and savings (docs/cost.md)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--power-watts", f->engine.cost.power_watts,
                  "Power drawn while busy: each response's usage gets its energy in joules")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--memory-bandwidth", f->memory_bandwidth_gbs,
                  "Read bandwidth in GB/s that prices the bytes quantization saves (default: measured at start "
                  "when --price-per-hour is set)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--kv-cache-tokens", f->engine.kv_cache_tokens,
                  "KV cache capacity in tokens over all sequences, rounded up to whole blocks (overrides "
                  "--kv-cache-memory and --kv-cache-fraction; `tokenmill plan` sizes it)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--kv-cache-fraction", f->engine.kv_cache_fraction,
                  "Share of available memory for the KV cache when --kv-cache-memory is 0 (capped at what "
                  "max-num-seqs full-length sequences can use, x4 for the prefix cache)")
      ->check(CLI::Range(0.01, 0.95))
      ->capture_default_str();
  cmd->add_option("--max-model-len", f->engine.max_model_len,
                  "Context per sequence in tokens (0 = the model's, capped at 8192)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_option("--max-num-batched-tokens", f->engine.max_num_batched_tokens,
                  "Tokens per engine step (prefill chunks + decodes)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-num-seqs", f->engine.max_num_seqs, "Sequences running at once")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_option("--max-queued-requests", f->engine.max_queued_requests,
                  "Waiting requests beyond this are refused with 429")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  cmd->add_option("--block-size", f->engine.block_size, "Tokens per KV cache block")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  cmd->add_flag("--no-repack", f->no_repack, kNoRepackHelp);
  add_activations_option(*cmd, f->activations);
  cmd->add_flag("--profile", f->engine.profile,
                "Time every op of every step; GET /debug/profile classifies the steps (memory-, compute- or "
                "overhead-bound) against this machine's measured limits");
  cmd->add_flag("--static-batching", f->engine.static_batching,
                "Turn continuous batching off: new requests wait until the running batch has finished "
                "(a baseline for `bench ablate`)");
  cmd->add_flag("--no-prefix-caching", f->no_prefix_caching,
                "Do not reuse KV blocks of identical prompt prefixes");
  cmd->add_flag("--priority-scheduling", f->engine.priority_scheduling,
                "Serve lower 'priority' values first instead of first-come-first-served");
  cmd->callback([f] { serve(*f); });
}

}  // namespace tokenmill::cli
