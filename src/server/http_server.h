// OpenAiServer: the HTTP front of the engine. Routes (OpenAI-compatible):
//   POST /v1/completions, POST /v1/chat/completions   generation (JSON or SSE with stream: true)
//   GET  /v1/models, GET /v1/models/{id}               the one served model
//   GET  /health                                       200 ready, 503 loading or draining
//   GET  /metrics                                      Prometheus text format
// Handler threads only parse, enqueue and copy the request's events to the socket; generation
// runs on the engine's own thread. A streaming client that goes away is noticed by a failing
// write (tokens, or an SSE comment every second while idle) and its request is aborted at once,
// so its KV blocks return to the pool.
//
// Life cycle: bind() -> serve() on a thread (answers 503 while loading) -> attach(engine) ->
// begin_draining() (new requests 503) -> engine.drain() -> wait_idle() -> stop().
#pragma once
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "engine/chat.h"
#include "engine/engine.h"
#include "server/openai_request.h"
#include "server/openai_response.h"

namespace httplib {
class Server;
struct Request;
struct Response;
}  // namespace httplib

#include <optional>

#include "kernels/machine_limits.h"

namespace tokenmill::server {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;      // 0: any free port (bind() returns it)
  std::string api_key;  // non-empty: `Authorization: Bearer KEY` on /v1/*
  std::string served_model_name = "tokenmill";
  size_t max_body_bytes = size_t(1) << 20;
  int http_threads = 8;  // concurrent connections served (each stream holds one)
  // Set with `serve --profile`: this machine's limits, against which GET /debug/profile
  // classifies the engine's steps.
  std::optional<kernels::MachineLimits> profile_limits;
};

class OpenAiServer {
 public:
  explicit OpenAiServer(ServerOptions options);
  ~OpenAiServer();
  OpenAiServer(const OpenAiServer&) = delete;
  OpenAiServer& operator=(const OpenAiServer&) = delete;

  // Binds the listening socket; returns the port. Throws Error when the address is taken.
  int bind();
  // Serves until stop(); call from its own thread.
  void serve();
  // Starts generating: until then /health and the generation routes answer 503. The engine (and
  // the model it holds) must outlive the server's serving.
  void attach(Engine& engine);
  // New generation requests get 503 and /health turns 503; requests already admitted go on.
  void begin_draining();
  // Waits until no handler is writing a response; false on timeout.
  bool wait_idle(std::chrono::milliseconds timeout) const;
  void stop();

 private:
  void install_routes();
  void handle_generate(const httplib::Request& req, httplib::Response& res, Endpoint endpoint);
  void respond_whole(httplib::Response& res, const ParsedRequest& parsed, const ResponseMeta& meta,
                     const std::shared_ptr<RequestStream>& stream);
  void respond_stream(httplib::Response& res, const ParsedRequest& parsed, const ResponseMeta& meta,
                      std::shared_ptr<RequestStream> stream);
  bool authorized(const httplib::Request& req) const;
  std::string next_request_id(Endpoint endpoint);

  ServerOptions options_;
  std::unique_ptr<httplib::Server> http_;
  int64_t started_unix_s_;
  std::string id_prefix_;  // random per process, so ids do not repeat across restarts
  std::atomic<uint64_t> id_counter_{0};
  // Written once by attach() before ready_ is set; read only after ready_ is seen.
  Engine* engine_ = nullptr;
  std::unique_ptr<ChatFormatter> chat_;
  std::unique_ptr<ProtocolContext> protocol_;
  std::atomic<bool> ready_{false};
  std::atomic<bool> draining_{false};
  std::shared_ptr<std::atomic<int>> active_handlers_;  // shared with streams that outlive a handler
};

}  // namespace tokenmill::server
