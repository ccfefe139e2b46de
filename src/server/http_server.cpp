#include "server/http_server.h"

#include <httplib.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>
#include <thread>

#include "server/api_error.h"
#include "engine/bench_diagnosis.h"
#include "server/metrics_exporter.h"
#include "server/prometheus_text.h"
#include "server/sse.h"

namespace tokenmill::server {
namespace {

using json = nlohmann::ordered_json;
using Clock = std::chrono::steady_clock;

constexpr auto kEventPoll = std::chrono::milliseconds(50);  // how often a stream looks at its socket
constexpr auto kKeepAliveEvery = std::chrono::seconds(1);   // idle-stream probe for a vanished client

void write_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(json_text(body), "application/json");
}

void write_error(httplib::Response& res, const ApiError& e) {
  write_json(res, e.status, e.to_json());
}

ApiError unavailable(const std::string& why) {
  return ApiError(503, "service_unavailable_error", why);
}

// Counts a handler (or a stream outliving it) as busy for as long as the guard lives.
class BusyGuard {
 public:
  explicit BusyGuard(std::shared_ptr<std::atomic<int>> counter) : counter_(std::move(counter)) {
    ++*counter_;
  }
  ~BusyGuard() { --*counter_; }
  BusyGuard(const BusyGuard&) = delete;
  BusyGuard& operator=(const BusyGuard&) = delete;

 private:
  std::shared_ptr<std::atomic<int>> counter_;
};

ApiError rejection_error(const RequestRejected& e) {
  switch (e.reason) {
    case RejectReason::QueueFull:
      return ApiError(429, "rate_limit_error", e.what(), "", "queue_full");
    case RejectReason::PromptTooLong:
      return ApiError(400, "invalid_request_error", e.what(), "", "context_length_exceeded");
    case RejectReason::InvalidParams:
      return ApiError::invalid(e.what());
    case RejectReason::ShuttingDown:
      return unavailable(e.what());
  }
  return ApiError::invalid(e.what());
}

// A streaming response's state, owned by httplib's content provider for as long as it writes.
struct StreamState {
  StreamState(std::shared_ptr<RequestStream> s, ChunkStreamer c, std::shared_ptr<std::atomic<int>> busy)
      : stream(std::move(s)), chunks(std::move(c)), guard(std::move(busy)) {}
  std::shared_ptr<RequestStream> stream;
  ChunkStreamer chunks;
  BusyGuard guard;
  bool begun = false;
  bool finished = false;
  Clock::time_point last_write = Clock::now();
};

// One call of httplib's chunked content provider: writes what the engine produced since the last
// call (waiting up to kEventPoll for it). Returning false closes the connection.
bool pump_stream(StreamState& st, httplib::DataSink& sink) {
  const auto write = [&](const std::string& text) {
    if (text.empty()) return true;
    if (!sink.write(text.data(), text.size())) return false;
    st.last_write = Clock::now();
    return true;
  };
  const auto client_gone = [&] {
    st.stream->abort();  // frees the request's KV blocks at the engine's next step
    return false;
  };
  if (!st.begun) {
    st.begun = true;
    if (!write(st.chunks.begin())) return client_gone();
  }
  RequestEvent event;
  if (!st.stream->next(event, kEventPoll)) {
    if (Clock::now() - st.last_write >= kKeepAliveEvery && !write(sse_keepalive())) return client_gone();
    return true;
  }
  std::string out;
  bool done = false;
  // Take everything already queued so one write carries several tokens under load.
  for (;;) {
    out += st.chunks.on_event(event);
    done = event.done || !event.error.empty();
    if (done || !st.stream->next(event, std::chrono::milliseconds(0))) break;
  }
  if (!write(out)) return client_gone();
  if (done) {
    st.finished = true;
    sink.done();
  }
  return true;
}

// The method a known path answers to, or null for a path this server does not have.
const char* route_method(const std::string& path) {
  if (path == "/v1/completions" || path == "/v1/chat/completions") return "POST";
  if (path == "/v1/models" || path.rfind("/v1/models/", 0) == 0 || path == "/health" || path == "/metrics" ||
      path == "/debug/profile")
    return "GET";
  return nullptr;
}

std::string random_hex(size_t digits) {
  std::random_device rd;
  std::mt19937_64 gen((uint64_t(rd()) << 32) ^ rd());
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < digits; ++i) out += kHex[gen() % 16];
  return out;
}

}  // namespace

OpenAiServer::OpenAiServer(ServerOptions options)
    : options_(std::move(options)),
      http_(std::make_unique<httplib::Server>()),
      started_unix_s_(int64_t(std::time(nullptr))),
      id_prefix_(random_hex(12)),
      active_handlers_(std::make_shared<std::atomic<int>>(0)) {
  const size_t threads = size_t(std::max(1, options_.http_threads));
  http_->new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  http_->set_payload_max_length(options_.max_body_bytes);
  // SSE writes are small; without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to the first token
  // of every request after the first on a keep-alive connection.
  http_->set_tcp_nodelay(true);
  install_routes();
}

OpenAiServer::~OpenAiServer() {
  stop();
}

int OpenAiServer::bind() {
  if (options_.port == 0) {
    const int port = http_->bind_to_any_port(options_.host);
    check(port > 0, "cannot listen on " + options_.host + ": no free port");
    options_.port = port;
    return port;
  }
  check(http_->bind_to_port(options_.host, options_.port), "cannot listen on " + options_.host + ":" +
                                                               std::to_string(options_.port) +
                                                               " (address in use or not local)");
  return options_.port;
}

void OpenAiServer::serve() {
  http_->listen_after_bind();
}

void OpenAiServer::attach(Engine& engine) {
  engine_ = &engine;
  const LoadedModel& model = engine.model();
  chat_ = std::make_unique<ChatFormatter>(model.chat_template, *model.tokenizer);
  protocol_ = std::make_unique<ProtocolContext>(
      ProtocolContext{*model.tokenizer, *chat_, options_.served_model_name, engine.max_model_len()});
  ready_.store(true, std::memory_order_release);
}

void OpenAiServer::begin_draining() {
  draining_.store(true);
}

bool OpenAiServer::wait_idle(std::chrono::milliseconds timeout) const {
  const auto deadline = Clock::now() + timeout;
  while (active_handlers_->load() > 0) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

void OpenAiServer::stop() {
  if (http_ && http_->is_running()) http_->stop();
}

bool OpenAiServer::authorized(const httplib::Request& req) const {
  if (options_.api_key.empty()) return true;
  return req.get_header_value("Authorization") == "Bearer " + options_.api_key;
}

std::string OpenAiServer::next_request_id(Endpoint endpoint) {
  const char* kind = endpoint == Endpoint::ChatCompletions ? "chatcmpl-" : "cmpl-";
  return kind + id_prefix_ + std::to_string(id_counter_.fetch_add(1));
}

void OpenAiServer::install_routes() {
  using httplib::Server;
  // Authentication before the body is read: an unauthenticated client cannot make us buffer 1 MiB.
  http_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    const bool open_route = req.path == "/health" || req.path == "/metrics";
    if (!open_route && !authorized(req)) {
      write_error(res, ApiError(401, "invalid_request_error",
                                "missing or incorrect API key: send 'Authorization: Bearer <key>'", "",
                                "invalid_api_key"));
      return Server::HandlerResponse::Handled;
    }
    // A known route asked with the wrong method is 405 (with Allow), an unknown route 404.
    const char* allowed = route_method(req.path);
    if (allowed == nullptr || req.method == allowed ||
        (req.method == "HEAD" && std::string_view(allowed) == "GET"))
      return Server::HandlerResponse::Unhandled;
    res.set_header("Allow", allowed);
    write_error(res, ApiError(405, "invalid_request_error",
                              req.method + " is not allowed on " + req.path + "; use " + allowed, "",
                              "method_not_allowed"));
    return Server::HandlerResponse::Handled;
  });
  // httplib's own refusals (unknown route, body too large, malformed HTTP) get OpenAI's error shape.
  http_->set_error_handler(
      Server::HandlerWithResponse([this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return Server::HandlerResponse::Unhandled;
        std::string message;
        if (res.status == 404)
          message = "unknown route: " + req.method + " " + req.path;
        else if (res.status == 413)
          message = "request body larger than " + std::to_string(options_.max_body_bytes) + " bytes";
        else
          message = "HTTP error " + std::to_string(res.status);
        const std::string code = res.status == 404 ? "not_found" : "";
        write_error(res, ApiError(res.status, "invalid_request_error", message, "", code));
        return Server::HandlerResponse::Handled;
      }));
  http_->set_exception_handler([](const httplib::Request&, httplib::Response& res, std::exception_ptr) {
    write_error(res, ApiError(500, "server_error", "internal error"));
  });

  http_->Get("/health", [this](const httplib::Request&, httplib::Response& res) {
    if (!ready_.load(std::memory_order_acquire)) return write_json(res, 503, {{"status", "loading"}});
    if (draining_.load()) return write_json(res, 503, {{"status", "draining"}});
    write_json(res, 200, {{"status", "ok"}});
  });
  http_->Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    const std::string text =
        ready_.load(std::memory_order_acquire) ? render_engine_metrics(engine_->metrics(), engine_->config().cost) : "";
    res.set_content(text, kPrometheusContentType);
  });
  const auto model_card = [this] {
    return json{{"id", options_.served_model_name},
                {"object", "model"},
                {"created", started_unix_s_},
                {"owned_by", "tokenmill"},
                {"max_model_len", ready_.load(std::memory_order_acquire) ? engine_->max_model_len() : 0}};
  };
  // Where the engine's time goes (serve --profile): op shares, and the steps classified against
  // this machine's limits with one sentence of advice (engine/bench_diagnosis.h).
  http_->Get("/debug/profile", [this](const httplib::Request&, httplib::Response& res) {
    if (!ready_.load(std::memory_order_acquire)) return write_json(res, 503, {{"status", "loading"}});
    if (!engine_->config().profile || !options_.profile_limits)
      return write_error(res, ApiError(404, "invalid_request_error",
                                       "profiling is off: start tokenmill serve with --profile"));
    const ServingProfile p = engine_->serving_profile();
    const ModelWeights& weights = engine_->model().weights;
    const ModelWork work = model_work(weights);
    const bool int8 = !work.float_weights && activation_use(weights).int8_matrices > 0;
    const kernels::MachineLimits& lim = *options_.profile_limits;
    write_json(res, 200,
               {{"steps", p.steps},
                {"tokens", p.tokens},
                {"busy_seconds", p.busy_seconds},
                {"limits", {{"read_bandwidth_gbs", lim.read_bw_gbs}, {"f32_gflops", lim.f32_gflops},
                            {"int8_gops", lim.int8_gops}, {"threads", lim.threads}}},
                {"diagnosis", diagnosis_to_json({diagnose_serving(p, work, lim, int8)})[0]}});
  });
  http_->Get("/v1/models", [model_card](const httplib::Request&, httplib::Response& res) {
    write_json(res, 200, {{"object", "list"}, {"data", json::array({model_card()})}});
  });
  http_->Get("/v1/models/(.+)", [this, model_card](const httplib::Request& req, httplib::Response& res) {
    if (req.matches[1] == options_.served_model_name) return write_json(res, 200, model_card());
    write_error(res, ApiError(404, "invalid_request_error",
                              "The model '" + std::string(req.matches[1]) + "' does not exist", "model",
                              "model_not_found"));
  });
  http_->Post("/v1/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_generate(req, res, Endpoint::Completions);
  });
  http_->Post("/v1/chat/completions", [this](const httplib::Request& req, httplib::Response& res) {
    handle_generate(req, res, Endpoint::ChatCompletions);
  });
}

void OpenAiServer::handle_generate(const httplib::Request& req, httplib::Response& res, Endpoint endpoint) {
  BusyGuard busy(active_handlers_);
  if (!ready_.load(std::memory_order_acquire))
    return write_error(res, unavailable("the model is still loading"));
  if (draining_.load()) return write_error(res, unavailable("the server is shutting down"));
  try {
    ParsedRequest parsed = endpoint == Endpoint::Completions ? parse_completion_request(req.body, *protocol_)
                                                             : parse_chat_request(req.body, *protocol_);
    ResponseMeta meta;
    meta.endpoint = endpoint;
    meta.id = next_request_id(endpoint);
    meta.created = int64_t(std::time(nullptr));
    meta.model = options_.served_model_name;
    meta.logprobs = parsed.generate.top_logprobs >= 0;
    meta.cost = engine_->config().cost;
    parsed.generate.request_id = meta.id;
    std::shared_ptr<RequestStream> stream = engine_->add_request(parsed.generate);
    if (parsed.stream)
      respond_stream(res, parsed, meta, std::move(stream));
    else
      respond_whole(res, parsed, meta, stream);
  } catch (const ApiError& e) {
    write_error(res, e);
  } catch (const RequestRejected& e) {
    write_error(res, rejection_error(e));
  } catch (const Error& e) {
    write_error(res, ApiError::invalid(e.what()));
  } catch (const std::exception& e) {
    write_error(res, ApiError(500, "server_error", e.what()));
  }
}

void OpenAiServer::respond_whole(httplib::Response& res, const ParsedRequest& parsed,
                                 const ResponseMeta& meta, const std::shared_ptr<RequestStream>& stream) {
  CompletionCollector collector(meta, parsed.generate.n, protocol_->tokenizer);
  RequestEvent event;
  for (;;) {
    if (!stream->next(event, kEventPoll)) continue;
    if (!event.error.empty()) return write_error(res, ApiError(500, "server_error", event.error));
    collector.add(event);
    if (event.done) break;
  }
  write_json(res, 200, collector.response(event.usage));
}

void OpenAiServer::respond_stream(httplib::Response& res, const ParsedRequest& parsed,
                                  const ResponseMeta& meta, std::shared_ptr<RequestStream> stream) {
  auto state = std::make_shared<StreamState>(
      std::move(stream), ChunkStreamer(meta, parsed.generate.n, parsed.include_usage, protocol_->tokenizer),
      active_handlers_);
  res.set_header("Cache-Control", "no-cache");
  res.set_chunked_content_provider(
      "text/event-stream", [state](size_t, httplib::DataSink& sink) { return pump_stream(*state, sink); },
      // Runs when httplib is done with the response, written in full or not.
      [state](bool) {
        if (!state->finished) state->stream->abort();
      });
}

}  // namespace tokenmill::server
