// The HTTP side of the load generator: one keep-alive client per worker, streaming requests read
// through httplib's content receiver, and a watchdog that ends requests past their deadline.
#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "server/loadgen.h"
#include "server/loadgen_stream.h"

namespace tokenmill {

namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxErrorBodyBytes = 64 * 1024;  // of a non-200 response, kept for the message
constexpr auto kWatchdogPeriod = std::chrono::milliseconds(10);
constexpr double kModelLookupTimeoutS = 10;

double ms_between(Clock::time_point from, Clock::time_point to) {
  return std::chrono::duration<double, std::milli>(to - from).count();
}

std::chrono::microseconds to_duration(double seconds) {
  return std::chrono::microseconds(int64_t(seconds * 1e6));
}

std::unique_ptr<httplib::Client> make_client(const ServerEndpoint& endpoint, const LoadgenConfig& config,
                                             double timeout_s) {
  auto client = std::make_unique<httplib::Client>(endpoint.scheme_host_port);
  client->set_keep_alive(true);
  client->set_tcp_nodelay(true);
  client->set_connection_timeout(to_duration(timeout_s));
  client->set_read_timeout(to_duration(timeout_s));
  client->set_write_timeout(to_duration(timeout_s));
  if (!config.api_key.empty()) client->set_bearer_token_auth(config.api_key);
  return client;
}

// One worker's client and the deadline of its request in flight. The watchdog shuts the
// client's socket down once the deadline passes, which wakes a read blocked on a stalled server.
struct WorkerSlot {
  std::unique_ptr<httplib::Client> client;
  std::mutex mutex;  // guards deadline and expired
  std::optional<Clock::time_point> deadline;
  bool expired = false;
};

class RequestWatchdog {
 public:
  explicit RequestWatchdog(std::vector<std::unique_ptr<WorkerSlot>>& slots)
      : slots_(slots), thread_([this] { watch(); }) {}
  ~RequestWatchdog() {
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
  }
  RequestWatchdog(const RequestWatchdog&) = delete;
  RequestWatchdog& operator=(const RequestWatchdog&) = delete;

 private:
  void watch() {
    std::unique_lock lock(mutex_);
    while (!wake_.wait_for(lock, kWatchdogPeriod, [this] { return stopping_; })) {
      const Clock::time_point now = Clock::now();
      for (const auto& slot : slots_) {
        std::lock_guard slot_lock(slot->mutex);
        if (slot->deadline && now >= *slot->deadline && !slot->expired) {
          slot->expired = true;
          slot->client->stop();
        }
      }
    }
  }

  std::vector<std::unique_ptr<WorkerSlot>>& slots_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts after the members it reads
};

std::string request_body(const LoadgenConfig& config, const std::string& model,
                         const std::vector<int32_t>& prompt) {
  nlohmann::json body = {
      {"prompt", prompt}, {"max_tokens", config.output_len_tokens},
      {"temperature", 0}, {"ignore_eos", true},
      {"stream", true},   {"stream_options", {{"include_usage", true}}},
  };
  if (!model.empty()) body["model"] = model;
  return body.dump();
}

std::string transport_error_message(httplib::Error error, const ServerEndpoint& endpoint) {
  if (error == httplib::Error::Connection) return "could not connect to " + endpoint.scheme_host_port;
  return "request to " + endpoint.scheme_host_port + " failed: " + httplib::to_string(error);
}

// Sends one streaming completion on the worker's client; never throws for a server's behaviour.
RequestRecord send_completion(WorkerSlot& slot, const ServerEndpoint& endpoint, const std::string& body,
                              int32_t prompt_tokens, double timeout_s) {
  RequestRecord record;
  CompletionStreamReader reader(record, prompt_tokens);
  int status = 0;
  std::string error_body;

  httplib::Request req;
  req.method = "POST";
  req.path = endpoint.completions_path;
  req.body = body;
  req.set_header("Content-Type", "application/json");
  req.set_header("Accept", "text/event-stream");
  req.set_header("Accept-Encoding", "identity");  // a compressed stream would arrive in bursts
  req.response_handler = [&](const httplib::Response& res) {
    status = res.status;
    return true;
  };

  const Clock::time_point sent = Clock::now();
  const Clock::time_point deadline = sent + to_duration(timeout_s);
  req.content_receiver = [&](const char* data, size_t size, uint64_t, uint64_t) {
    const Clock::time_point now = Clock::now();
    if (status != 200) {
      error_body.append(data,
                        std::min(size, kMaxErrorBodyBytes - std::min(kMaxErrorBodyBytes, error_body.size())));
      return true;
    }
    reader.on_bytes(std::string_view(data, size), ms_between(sent, now));
    return now < deadline;
  };
  {
    std::lock_guard lock(slot.mutex);
    slot.deadline = deadline;
    slot.expired = false;
  }
  const httplib::Result result = slot.client->send(req);
  const Clock::time_point done = Clock::now();
  bool expired = false;
  {
    std::lock_guard lock(slot.mutex);
    slot.deadline.reset();
    expired = slot.expired;
  }
  const bool timed_out = expired || done >= deadline;

  if (result && status == 200) reader.on_end(ms_between(sent, done));
  record.e2e_ms = ms_between(sent, done);
  if (record.ok) return record;
  record.ok = false;
  char limit[64];
  std::snprintf(limit, sizeof limit, "timed out after %g s", timeout_s);
  if (timed_out)
    record.error = limit;
  else if (!result && status == 200)
    record.error = "stream broke off after " + std::to_string(record.text_chunks) +
                   " text chunks: " + httplib::to_string(result.error());
  else if (!result)
    record.error = transport_error_message(result.error(), endpoint);
  else if (status != 200)
    record.error = http_error_message(status, error_body);
  return record;
}

struct PhaseResult {
  std::vector<RequestRecord> records;
  double duration_s = 0;
};

// Sends every prompt, at most slots.size() at a time; records come back in prompt order.
PhaseResult run_phase(std::vector<std::unique_ptr<WorkerSlot>>& slots, const ServerEndpoint& endpoint,
                      const LoadgenConfig& config, const std::string& model,
                      const std::vector<std::vector<int32_t>>& prompts) {
  PhaseResult phase;
  phase.records.resize(prompts.size());
  std::atomic<size_t> next_prompt{0};
  const Clock::time_point start = Clock::now();
  const auto work = [&](WorkerSlot& slot) {
    for (size_t i = next_prompt++; i < prompts.size(); i = next_prompt++) {
      const std::string body = request_body(config, model, prompts[i]);
      const double start_ms = ms_between(start, Clock::now());
      phase.records[i] = send_completion(slot, endpoint, body, int32_t(prompts[i].size()), config.timeout_s);
      phase.records[i].start_ms = start_ms;
    }
  };
  const size_t workers = std::min(slots.size(), prompts.size());
  {
    RequestWatchdog watchdog(slots);
    std::vector<std::jthread> threads;
    threads.reserve(workers);
    for (size_t w = 0; w < workers; ++w) threads.emplace_back(work, std::ref(*slots[w]));
  }
  phase.duration_s = std::chrono::duration<double>(Clock::now() - start).count();
  return phase;
}

// The first model id the server lists, or "" when it lists none or cannot be asked.
std::string first_listed_model(const ServerEndpoint& endpoint, const LoadgenConfig& config) {
  const auto client = make_client(endpoint, config, std::min(config.timeout_s, kModelLookupTimeoutS));
  const httplib::Result res = client->Get(endpoint.models_path);
  if (!res || res->status != 200) return "";
  const nlohmann::json models = nlohmann::json::parse(res->body, nullptr, /*allow_exceptions=*/false);
  if (models.is_discarded() || !models.is_object() || !models.contains("data") ||
      !models["data"].is_array() || models["data"].empty())
    return "";
  const nlohmann::json& first = models["data"][0];
  return first.is_object() && first.contains("id") && first["id"].is_string() ? first["id"].get<std::string>()
                                                                              : "";
}

}  // namespace

LoadgenReport run_load(const LoadgenConfig& config) {
  validate_config(config);
  const ServerEndpoint endpoint = parse_server_url(config.url);
  const std::string model = config.model.empty() ? first_listed_model(endpoint, config) : config.model;

  std::vector<std::vector<int32_t>> prompts =
      build_prompts(config, config.warmup_requests + config.num_requests);
  const std::vector<std::vector<int32_t>> warmup_prompts(prompts.begin(),
                                                         prompts.begin() + config.warmup_requests);
  prompts.erase(prompts.begin(), prompts.begin() + config.warmup_requests);

  std::vector<std::unique_ptr<WorkerSlot>> slots;
  for (int32_t w = 0; w < config.concurrency; ++w) {
    slots.push_back(std::make_unique<WorkerSlot>());
    slots.back()->client = make_client(endpoint, config, config.timeout_s);
  }
  if (!warmup_prompts.empty()) run_phase(slots, endpoint, config, model, warmup_prompts);
  PhaseResult measured = run_phase(slots, endpoint, config, model, prompts);

  LoadgenReport report = aggregate_report(config, std::move(measured.records), measured.duration_s);
  report.endpoint = endpoint.scheme_host_port + endpoint.completions_path;
  report.model = model;
  return report;
}

}  // namespace tokenmill
