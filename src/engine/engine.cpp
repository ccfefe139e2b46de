#include "engine/engine.h"

#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>

#include "engine/engine_core.h"

namespace tokenmill {

bool RequestStream::next(RequestEvent& event, std::chrono::milliseconds timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  if (!cv_.wait_for(lock, timeout, [this] { return !events_.empty(); })) return false;
  event = std::move(events_.front());
  events_.pop_front();
  return true;
}

void RequestStream::abort() { aborted_.store(true); }

void RequestStream::push(RequestEvent event) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    events_.push_back(std::move(event));
  }
  cv_.notify_one();
}

namespace {

// MemAvailable from /proc/meminfo in bytes (0 when unknown).
size_t available_memory_bytes() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  size_t value_kib = 0;
  std::string unit;
  while (in >> key >> value_kib >> unit)
    if (key == "MemAvailable:") return value_kib * 1024;
  return 0;
}

}  // namespace

Engine::Engine(LoadedModel& model, const EngineConfig& config) : model_(model), config_(config) {
  const ModelConfig& mc = model.config;
  check(config.block_size > 0 && config.block_size <= 1024, "block size must be in [1, 1024]");
  check(config.max_num_seqs > 0, "max-num-seqs must be > 0");
  check(config.max_num_batched_tokens > 0, "max-num-batched-tokens must be > 0");
  check(config.max_queued_requests >= 0, "max-queued-requests must be >= 0");
  const int64_t max_len = config.max_model_len > 0 ? config.max_model_len : std::min<int64_t>(mc.max_context, 8192);
  check(max_len <= mc.max_context, "max model length " + std::to_string(max_len) + " exceeds the model's context of " +
                                       std::to_string(mc.max_context) + " tokens");
  const size_t bytes_per_block = KvStorage::bytes_per_token(mc) * size_t(config.block_size);
  size_t kv_bytes = config.kv_cache_bytes;
  check(config.kv_cache_tokens >= 0, "KV cache tokens must be >= 0");
  if (config.kv_cache_tokens > 0) {
    kv_bytes = size_t((config.kv_cache_tokens + config.block_size - 1) / config.block_size) * bytes_per_block;
  } else if (kv_bytes == 0) {
    check(config.kv_cache_fraction > 0 && config.kv_cache_fraction <= 0.95, "KV cache fraction must be in (0, 0.95]");
    const size_t avail = available_memory_bytes();
    kv_bytes = avail > 0 ? size_t(double(avail) * config.kv_cache_fraction) : (size_t(1) << 30);
    // More than every running sequence at full length (x4 for prefix caching) buys nothing.
    const size_t useful_blocks = size_t(config.max_num_seqs) * size_t((max_len + config.block_size - 1) / config.block_size) * 4;
    kv_bytes = std::min(kv_bytes, useful_blocks * bytes_per_block);
  }
  const int64_t n_blocks = int64_t(kv_bytes / bytes_per_block);
  check(n_blocks >= 1, "KV cache of " + std::to_string(kv_bytes) + " bytes holds no block of " +
                           std::to_string(config.block_size) + " tokens (" + std::to_string(bytes_per_block) +
                           " bytes per block)");
  check(n_blocks < (int64_t(1) << 30), "KV cache too large");
  core_ = std::make_unique<EngineCore>(model, config, int32_t(max_len), int32_t(n_blocks));
  std::fprintf(stderr, "engine: KV cache %lld blocks x %d tokens = %lld tokens (%.1f MiB, %zu bytes/token), max model len %lld\n",
               (long long)n_blocks, config.block_size, (long long)n_blocks * config.block_size,
               double(n_blocks) * double(bytes_per_block) / (1 << 20), KvStorage::bytes_per_token(mc), (long long)max_len);
}

Engine::~Engine() = default;

int32_t Engine::max_model_len() const { return core_->max_model_len; }
int Engine::threads() const { return core_->threads(); }
int64_t Engine::kv_capacity_tokens() const { return int64_t(core_->n_blocks) * config_.block_size; }
const EngineMetrics& Engine::metrics() const { return core_->metrics; }
ServingProfile Engine::serving_profile() const { return core_->serving_profile(); }

std::shared_ptr<RequestStream> Engine::add_request(GenerateRequest request) {
  if (core_->draining()) throw RequestRejected(RejectReason::ShuttingDown, "the server is shutting down");
  const int32_t vocab = int32_t(model_.config.vocab_size);
  try {
    request.params.validate(vocab);
  } catch (const Error& e) {
    throw RequestRejected(RejectReason::InvalidParams, e.what());
  }
  if (request.n < 1 || request.n > 64)
    throw RequestRejected(RejectReason::InvalidParams, "n must be in [1, 64], got " + std::to_string(request.n));
  if (request.top_logprobs < -1 || request.top_logprobs > 20)
    throw RequestRejected(RejectReason::InvalidParams, "top_logprobs must be in [0, 20]");
  if (request.prompt_ids.empty()) throw RequestRejected(RejectReason::InvalidParams, "the prompt is empty");
  for (int32_t id : request.prompt_ids)
    if (id < 0 || id >= vocab)
      throw RequestRejected(RejectReason::InvalidParams,
                            "prompt token id " + std::to_string(id) + " out of range [0, " + std::to_string(vocab) + ")");
  const int64_t prompt_len = int64_t(request.prompt_ids.size());
  const int64_t max_len = max_model_len();
  if (prompt_len + 1 > max_len)
    throw RequestRejected(RejectReason::PromptTooLong,
                          "this model's maximum context length is " + std::to_string(max_len) + " tokens, but the prompt has " +
                              std::to_string(prompt_len) + " tokens (and at least 1 must be generated)");
  if (request.params.max_tokens && prompt_len + *request.params.max_tokens > max_len)
    throw RequestRejected(RejectReason::PromptTooLong,
                          "this model's maximum context length is " + std::to_string(max_len) + " tokens, but " +
                              std::to_string(prompt_len) + " prompt tokens + max_tokens " +
                              std::to_string(*request.params.max_tokens) + " exceed it");
  if (prompt_len + 1 > kv_capacity_tokens())
    throw RequestRejected(RejectReason::PromptTooLong, "the prompt of " + std::to_string(prompt_len) +
                                                           " tokens does not fit the whole KV cache of " +
                                                           std::to_string(kv_capacity_tokens()) + " tokens");
  if (core_->n_pending() >= size_t(config_.max_queued_requests) + size_t(config_.max_num_seqs))
    throw RequestRejected(RejectReason::QueueFull, "the server is overloaded: " + std::to_string(core_->n_pending()) +
                                                       " requests queued or running; retry later");
  auto live = std::make_unique<LiveRequest>();
  auto stream = std::make_shared<RequestStream>(request.request_id);
  live->stream = stream;
  live->req = std::move(request);
  live->arrival = EngineClock::now();
  core_->submit(std::move(live));
  return stream;
}

void Engine::abort(const std::string& request_id) { core_->abort(request_id); }

bool Engine::drain(std::chrono::milliseconds timeout) { return core_->drain(timeout); }

}  // namespace tokenmill
