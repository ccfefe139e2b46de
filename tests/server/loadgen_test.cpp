// Load generator: percentile math, the SSE parser on every split of a stream, and whole runs
// against a fake OpenAI streaming server on 127.0.0.1 with known delays.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <mutex>
#include <thread>

#include "core/error.h"
#include "server/loadgen.h"
#include "server/loadgen_sse.h"
#include "server/loadgen_stream.h"

namespace tokenmill {
namespace {

using namespace std::chrono_literals;

// ---------------------------------------------------------------------------------------------
// percentile / summarize

TEST(LoadgenPercentile, LinearInterpolationBetweenClosestRanks) {
  const std::vector<double> v = {40, 10, 30, 20};  // sorted: 10 20 30 40, ranks 0..3
  EXPECT_DOUBLE_EQ(percentile(v, 0), 10);
  EXPECT_DOUBLE_EQ(percentile(v, 100), 40);
  EXPECT_DOUBLE_EQ(percentile(v, 50), 25);    // h = 1.5
  EXPECT_DOUBLE_EQ(percentile(v, 90), 37);    // h = 2.7 -> 30 + 0.7 * 10
  EXPECT_DOUBLE_EQ(percentile(v, 99), 39.7);  // h = 2.97
  EXPECT_DOUBLE_EQ(percentile({5}, 99), 5);
  EXPECT_TRUE(std::isnan(percentile({}, 50)));
}

TEST(LoadgenPercentile, MatchesHandComputedValuesOnElevenPoints) {
  std::vector<double> v;
  for (int i = 10; i >= 0; --i) v.push_back(i * i);    // 0 1 4 9 ... 100 once sorted
  EXPECT_DOUBLE_EQ(percentile(v, 50), 25);             // h = 5 exactly
  EXPECT_DOUBLE_EQ(percentile(v, 90), 81);             // h = 9
  EXPECT_DOUBLE_EQ(percentile(v, 99), 81 + 0.9 * 19);  // h = 9.9 between 81 and 100
  EXPECT_DOUBLE_EQ(percentile(v, 25), 6.5);            // h = 2.5 between 4 and 9
}

TEST(LoadgenPercentile, SummarySkipsMissingValues) {
  const MetricSummary s = summarize({3, kNoValue, 1, 2});
  EXPECT_EQ(s.count, 3u);
  EXPECT_DOUBLE_EQ(s.mean, 2);
  EXPECT_DOUBLE_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.max, 3);
  EXPECT_DOUBLE_EQ(s.p50, 2);
  EXPECT_EQ(summarize({}).count, 0u);
  EXPECT_TRUE(std::isnan(summarize({}).p99));
}

TEST(LoadgenPercentile, TpotExcludesTheFirstToken) {
  RequestRecord r;
  r.ttft_ms = 100;
  r.e2e_ms = 400;
  r.output_tokens = 4;
  EXPECT_DOUBLE_EQ(r.tpot_ms(), 100);
  r.output_tokens = 1;
  EXPECT_TRUE(std::isnan(r.tpot_ms()));
}

TEST(LoadgenReportTest, AggregatesCountOnlySuccessfulRequests) {
  LoadgenConfig config;
  const auto succeeded = [](int32_t output_tokens, double ttft_ms, double e2e_ms,
                            std::vector<double> itl_ms) {
    RequestRecord q;
    q.ok = true;
    q.prompt_tokens = 10;
    q.output_tokens = output_tokens;
    q.ttft_ms = ttft_ms;
    q.e2e_ms = e2e_ms;
    q.itl_ms = std::move(itl_ms);
    return q;
  };
  std::vector<RequestRecord> records = {succeeded(5, 10, 50, {10, 10}), succeeded(3, 20, 40, {5}),
                                        RequestRecord{}};
  records[2].error = "HTTP 429: busy";
  const LoadgenReport r = aggregate_report(config, records, 2.0);
  EXPECT_EQ(r.successful_requests, 2);
  EXPECT_EQ(r.failed_requests, 1);
  EXPECT_EQ(r.total_input_tokens, 20);
  EXPECT_EQ(r.total_output_tokens, 8);
  EXPECT_DOUBLE_EQ(r.request_throughput, 1.0);
  EXPECT_DOUBLE_EQ(r.output_token_throughput, 4.0);
  EXPECT_DOUBLE_EQ(r.ttft_ms.mean, 15);
  EXPECT_DOUBLE_EQ(r.tpot_ms.mean, 10);  // (40/4 + 20/2) / 2
  EXPECT_EQ(r.itl_ms.count, 3u);
  ASSERT_EQ(r.error_samples.size(), 1u);
  EXPECT_EQ(r.error_samples[0], "HTTP 429: busy");

  const std::string table = format_report_table(r);
  EXPECT_NE(table.find("failed requests"), std::string::npos);
  EXPECT_NE(table.find("TTFT"), std::string::npos);
  const nlohmann::json j = report_to_json(r);
  EXPECT_EQ(j["summary"]["failed_requests"], 1);
  EXPECT_DOUBLE_EQ(j["metrics"]["ttft_ms"]["p50"].get<double>(), 15);
  EXPECT_EQ(j["requests"].size(), 3u);
  EXPECT_EQ(j["requests"][2]["error"], "HTTP 429: busy");
  EXPECT_TRUE(j["requests"][2]["ttft_ms"].is_null());
}

// ---------------------------------------------------------------------------------------------
// SSE parsing

std::vector<SseEvent> parse_in_pieces(const std::string& stream, const std::vector<size_t>& cuts) {
  std::vector<SseEvent> events;
  SseParser parser([&](const SseEvent& e) { events.push_back(e); });
  size_t begin = 0;
  for (const size_t cut : cuts) {
    parser.feed(std::string_view(stream).substr(begin, cut - begin));
    begin = cut;
  }
  parser.feed(std::string_view(stream).substr(begin));
  parser.finish();
  return events;
}

void expect_events(const std::vector<SseEvent>& got, const std::vector<SseEvent>& want,
                   const std::string& where) {
  ASSERT_EQ(got.size(), want.size()) << where;
  for (size_t i = 0; i < want.size(); ++i) {
    EXPECT_EQ(got[i].data, want[i].data) << where << " event " << i;
    EXPECT_EQ(got[i].event, want[i].event) << where << " event " << i;
  }
}

TEST(LoadgenSse, EverySplitPointGivesTheSameEvents) {
  const std::string stream =
      ": keep-alive comment\n\n"
      "data: {\"choices\":[{\"text\":\"h\xC3\xA9\"}]}\r\n\r\n"
      "data:no-space\n"
      "data:  two spaces\n\n"
      "event: ping\r"
      "data: cr only\r\r"
      "id: 7\n"
      "data: [DONE]\n\n";
  const std::vector<SseEvent> want = {{"", "{\"choices\":[{\"text\":\"h\xC3\xA9\"}]}"},
                                      {"", "no-space\n two spaces"},
                                      {"ping", "cr only"},
                                      {"", "[DONE]"}};
  expect_events(parse_in_pieces(stream, {}), want, "whole");
  for (size_t cut = 0; cut <= stream.size(); ++cut)
    expect_events(parse_in_pieces(stream, {cut}), want, "split at " + std::to_string(cut));
  for (size_t a = 0; a <= stream.size(); ++a)
    for (size_t b = a; b <= stream.size(); b += 7)
      expect_events(parse_in_pieces(stream, {a, b}), want,
                    "split at " + std::to_string(a) + "," + std::to_string(b));
  std::vector<size_t> every_byte;
  for (size_t i = 1; i < stream.size(); ++i) every_byte.push_back(i);
  expect_events(parse_in_pieces(stream, every_byte), want, "byte by byte");
}

TEST(LoadgenSse, FinishDeliversAnUnterminatedLastEvent) {
  expect_events(parse_in_pieces("data: a\n\ndata: [DONE]\n", {}), {{"", "a"}, {"", "[DONE]"}},
                "newline only");
  expect_events(parse_in_pieces("data: [DONE]", {}), {{"", "[DONE]"}}, "no newline");
  expect_events(parse_in_pieces("", {}), {}, "empty");
}

TEST(LoadgenStream, ReadsTextChunksUsageAndDone) {
  const std::string body =
      "data: {\"choices\":[{\"text\":\"a\"}]}\n\n"
      "data: {\"choices\":[{\"text\":\"\"}]}\n\n"  // empty text: not a token arrival
      "data: {\"choices\":[{\"text\":\"b\"}]}\n\n"
      "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":2}}\n\n"
      "data: [DONE]\n\n";
  RequestRecord record;
  CompletionStreamReader reader(record, 99);
  const size_t half = body.size() / 3;
  reader.on_bytes(std::string_view(body).substr(0, half), 30);  // completes the first chunk
  reader.on_bytes(std::string_view(body).substr(half), 45);
  reader.on_end(50);
  EXPECT_TRUE(record.ok) << record.error;
  EXPECT_EQ(record.text_chunks, 2);
  EXPECT_EQ(record.output_tokens, 2);
  EXPECT_EQ(record.prompt_tokens, 12);
  EXPECT_DOUBLE_EQ(record.ttft_ms, 30);
  ASSERT_EQ(record.itl_ms.size(), 1u);
  EXPECT_DOUBLE_EQ(record.itl_ms[0], 15);
  EXPECT_DOUBLE_EQ(record.e2e_ms, 50);
}

TEST(LoadgenStream, ReportsErrorsAndMissingDone) {
  RequestRecord cut_short;
  CompletionStreamReader a(cut_short, 5);
  a.on_bytes("data: {\"choices\":[{\"text\":\"a\"}]}\n\n", 1);
  a.on_end(2);
  EXPECT_FALSE(cut_short.ok);
  EXPECT_EQ(cut_short.error, "stream ended before data: [DONE]");
  EXPECT_EQ(cut_short.prompt_tokens, 5);  // no usage: the ids sent
  EXPECT_EQ(cut_short.output_tokens, 1);  // no usage: the chunks seen

  RequestRecord errored;
  CompletionStreamReader b(errored, 5);
  b.on_bytes("data: {\"error\":{\"message\":\"out of KV blocks\"}}\n\ndata: [DONE]\n\n", 1);
  b.on_end(2);
  EXPECT_FALSE(errored.ok);
  EXPECT_EQ(errored.error, "error in stream: out of KV blocks");

  EXPECT_EQ(http_error_message(429, R"({"error":{"message":"too many requests","type":"rate_limit"}})"),
            "HTTP 429: too many requests");
  EXPECT_EQ(http_error_message(502, "Bad Gateway"), "HTTP 502: Bad Gateway");
  EXPECT_EQ(http_error_message(500, ""), "HTTP 500");
}

// ---------------------------------------------------------------------------------------------
// Config, URL and prompts

TEST(LoadgenConfigTest, RejectsBadFlagsByName) {
  LoadgenConfig ok;
  ok.url = "http://127.0.0.1:8080";
  EXPECT_NO_THROW(validate_config(ok));
  const auto message_of = [&](auto&& change) {
    LoadgenConfig c = ok;
    change(c);
    try {
      validate_config(c);
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message_of([](LoadgenConfig& c) { c.concurrency = 0; }).find("--concurrency"), std::string::npos);
  EXPECT_NE(message_of([](LoadgenConfig& c) { c.num_requests = 0; }).find("--requests"), std::string::npos);
  EXPECT_NE(message_of([](LoadgenConfig& c) { c.input_len_tokens = 0; }).find("--input-len"),
            std::string::npos);
  EXPECT_NE(message_of([](LoadgenConfig& c) { c.output_len_tokens = -1; }).find("--output-len"),
            std::string::npos);
  EXPECT_NE(
      message_of([](LoadgenConfig& c) { c.shared_prefix_len_tokens = 200; }).find("--shared-prefix-len"),
      std::string::npos);
  EXPECT_NE(message_of([](LoadgenConfig& c) { c.vocab_size = 20; }).find("--vocab-size"), std::string::npos);
  EXPECT_NE(message_of([](LoadgenConfig& c) { c.timeout_s = 0; }).find("--timeout-s"), std::string::npos);
  EXPECT_NE(message_of([](LoadgenConfig& c) { c.url = "127.0.0.1:8080"; }).find("--url"), std::string::npos);
  EXPECT_NE(message_of([](LoadgenConfig& c) { c.url = "ftp://host"; }).find("--url"), std::string::npos);
}

TEST(LoadgenConfigTest, UrlPrefixes) {
  const ServerEndpoint plain = parse_server_url("http://127.0.0.1:8080");
  EXPECT_EQ(plain.scheme_host_port, "http://127.0.0.1:8080");
  EXPECT_EQ(plain.completions_path, "/v1/completions");
  EXPECT_EQ(plain.models_path, "/v1/models");
  EXPECT_EQ(parse_server_url("http://h:1/v1/").completions_path, "/v1/completions");
  EXPECT_EQ(parse_server_url("http://h:1/v1/completions").completions_path, "/v1/completions");
  EXPECT_EQ(parse_server_url("https://h/api").completions_path, "/api/v1/completions");
  EXPECT_EQ(parse_server_url("https://h/api").scheme_host_port, "https://h");
}

TEST(LoadgenConfigTest, PromptsAreSeededAndShareTheirPrefix) {
  LoadgenConfig c;
  c.input_len_tokens = 50;
  c.shared_prefix_len_tokens = 20;
  c.vocab_size = 100;
  c.seed = 7;
  const auto prompts = build_prompts(c, 4);
  ASSERT_EQ(prompts.size(), 4u);
  for (const auto& p : prompts) {
    ASSERT_EQ(p.size(), 50u);
    for (const int32_t id : p) {
      EXPECT_GE(id, kPromptIdMargin);
      EXPECT_LT(id, c.vocab_size - kPromptIdMargin);
    }
    EXPECT_TRUE(std::equal(p.begin(), p.begin() + 20, prompts[0].begin()));
  }
  EXPECT_NE(std::vector<int32_t>(prompts[0].begin() + 20, prompts[0].end()),
            std::vector<int32_t>(prompts[1].begin() + 20, prompts[1].end()));
  EXPECT_EQ(build_prompts(c, 4), prompts);
  c.seed = 8;
  EXPECT_NE(build_prompts(c, 4), prompts);
}

// ---------------------------------------------------------------------------------------------
// Whole runs against a fake streaming server

struct FakeServerBehaviour {
  int chunks = 5;  // text chunks per response, one token each
  std::chrono::milliseconds first_delay{0};
  std::chrono::milliseconds chunk_delay{0};
  bool send_usage = true;
  int reject_every = 0;                  // > 0: every reject_every-th request gets HTTP 429
  bool stall_before_headers = false;     // never answer
  bool stall_after_first_chunk = false;  // send one chunk, then nothing
};

// An OpenAI-style /v1/completions SSE server on 127.0.0.1 and a free port. It stops when
// destroyed; stalled handlers notice and return.
class FakeCompletionServer {
 public:
  explicit FakeCompletionServer(FakeServerBehaviour behaviour) : behaviour_(behaviour) {
    server_.set_tcp_nodelay(true);
    server_.Get("/v1/models", [](const httplib::Request&, httplib::Response& res) {
      res.set_content(R"({"object":"list","data":[{"id":"fake-model","object":"model"}]})",
                      "application/json");
    });
    server_.Post("/v1/completions",
                 [this](const httplib::Request& req, httplib::Response& res) { handle(req, res); });
    port_ = server_.bind_to_any_port("127.0.0.1");
    thread_ = std::thread([this] { server_.listen_after_bind(); });
    while (!server_.is_running()) std::this_thread::sleep_for(1ms);
  }
  ~FakeCompletionServer() {
    stopping_ = true;
    server_.stop();
    thread_.join();
  }

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  int requests_seen() const { return requests_seen_; }
  std::vector<nlohmann::json> bodies() const {
    std::lock_guard lock(mutex_);
    return bodies_;
  }

 private:
  // Sleeps up to `d` in small steps; false once the server is stopping.
  bool pause(std::chrono::milliseconds d) const {
    const auto until = std::chrono::steady_clock::now() + d;
    while (std::chrono::steady_clock::now() < until) {
      if (stopping_) return false;
      std::this_thread::sleep_for(2ms);
    }
    return !stopping_;
  }

  static std::string event(const nlohmann::json& j) { return "data: " + j.dump() + "\n\n"; }

  void handle(const httplib::Request& req, httplib::Response& res) {
    const int number = ++requests_seen_;
    const nlohmann::json body = nlohmann::json::parse(req.body);
    {
      std::lock_guard lock(mutex_);
      bodies_.push_back(body);
    }
    if (behaviour_.reject_every > 0 && number % behaviour_.reject_every == 0) {
      res.status = 429;
      res.set_content(R"({"error":{"message":"server busy","type":"rate_limit_error"}})", "application/json");
      return;
    }
    if (behaviour_.stall_before_headers) {
      while (pause(10ms)) {
      }
      return;
    }
    const int prompt_tokens = int(body["prompt"].size());
    auto step = std::make_shared<int>(0);
    res.set_chunked_content_provider(
        "text/event-stream", [this, step, prompt_tokens](size_t, httplib::DataSink& sink) {
          const FakeServerBehaviour& b = behaviour_;
          const int i = (*step)++;
          if (b.stall_after_first_chunk && i >= 1) return pause(5ms);  // write nothing, keep the stream open
          if (i < b.chunks) {
            if (!pause(i == 0 ? b.first_delay : b.chunk_delay)) return false;
            const std::string e =
                event({{"object", "text_completion"}, {"choices", {{{"index", 0}, {"text", "t"}}}}});
            return sink.write(e.data(), e.size());
          }
          if (b.send_usage) {
            const std::string e =
                event({{"choices", nlohmann::json::array()},
                       {"usage", {{"prompt_tokens", prompt_tokens}, {"completion_tokens", b.chunks}}}});
            sink.write(e.data(), e.size());
          }
          const std::string done = "data: [DONE]\n\n";
          sink.write(done.data(), done.size());
          sink.done();
          return true;
        });
  }

  FakeServerBehaviour behaviour_;
  httplib::Server server_;
  int port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<int> requests_seen_{0};
  mutable std::mutex mutex_;
  std::vector<nlohmann::json> bodies_;
  std::thread thread_;
};

LoadgenConfig small_run(const std::string& url) {
  LoadgenConfig c;
  c.url = url;
  c.concurrency = 3;
  c.num_requests = 8;
  c.input_len_tokens = 16;
  c.output_len_tokens = 5;
  c.shared_prefix_len_tokens = 4;
  c.timeout_s = 10;
  return c;
}

TEST(LoadgenRun, MeasuresAStreamingServer) {
  FakeServerBehaviour b;
  b.chunks = 5;
  b.first_delay = 60ms;
  b.chunk_delay = 20ms;
  FakeCompletionServer server(b);
  LoadgenConfig c = small_run(server.url());
  c.warmup_requests = 2;
  const LoadgenReport r = run_load(c);

  EXPECT_EQ(server.requests_seen(), 10);
  EXPECT_EQ(r.successful_requests, 8) << (r.error_samples.empty() ? "" : r.error_samples[0]);
  EXPECT_EQ(r.failed_requests, 0);
  EXPECT_EQ(r.model, "fake-model");
  EXPECT_EQ(r.total_input_tokens, 8 * 16);
  EXPECT_EQ(r.total_output_tokens, 8 * 5);
  ASSERT_EQ(r.requests.size(), 8u);
  for (const RequestRecord& q : r.requests) {
    EXPECT_EQ(q.text_chunks, 5);
    EXPECT_GE(q.ttft_ms, 60.0);
    EXPECT_GE(q.e2e_ms, 60.0 + 4 * 20.0);
    EXPECT_EQ(q.itl_ms.size(), 4u);
  }
  EXPECT_GE(r.ttft_ms.min, 60.0);
  EXPECT_EQ(r.itl_ms.count, 8u * 4u);
  EXPECT_GT(r.itl_ms.mean, 15.0);
  EXPECT_GT(r.tpot_ms.p50, 15.0);
  EXPECT_GT(r.duration_s, 0.0);
  EXPECT_NEAR(r.request_throughput, 8 / r.duration_s, 1e-9);
  EXPECT_NEAR(r.output_token_throughput, 40 / r.duration_s, 1e-9);

  const std::vector<nlohmann::json> bodies = server.bodies();
  ASSERT_EQ(bodies.size(), 10u);
  for (const nlohmann::json& body : bodies) {
    EXPECT_EQ(body["model"], "fake-model");
    EXPECT_EQ(body["max_tokens"], 5);
    EXPECT_EQ(body["stream"], true);
    EXPECT_EQ(body["ignore_eos"], true);
    EXPECT_EQ(body["stream_options"]["include_usage"], true);
    ASSERT_EQ(body["prompt"].size(), 16u);
    for (int i = 0; i < 4; ++i) EXPECT_EQ(body["prompt"][i], bodies[0]["prompt"][i]);
  }
}

TEST(LoadgenRun, CountsChunksWhenTheServerSendsNoUsage) {
  FakeServerBehaviour b;
  b.chunks = 3;
  b.send_usage = false;
  FakeCompletionServer server(b);
  LoadgenConfig c = small_run(server.url());
  c.model = "given";
  const LoadgenReport r = run_load(c);
  EXPECT_EQ(r.successful_requests, 8);
  EXPECT_EQ(r.total_output_tokens, 8 * 3);
  EXPECT_EQ(r.total_input_tokens, 8 * 16);
  EXPECT_EQ(server.bodies().at(0)["model"], "given");
}

TEST(LoadgenRun, CountsHttpErrorsAsFailures) {
  FakeServerBehaviour b;
  b.reject_every = 2;
  FakeCompletionServer server(b);
  const LoadgenReport r = run_load(small_run(server.url()));
  EXPECT_EQ(r.successful_requests, 4);
  EXPECT_EQ(r.failed_requests, 4);
  ASSERT_EQ(r.error_samples.size(), 1u);
  EXPECT_EQ(r.error_samples[0], "HTTP 429: server busy");
  EXPECT_EQ(r.total_output_tokens, 4 * 5);
}

// A port on 127.0.0.1 that was free a moment ago and that nothing listens on: bound without
// listen(), then closed, so connecting to it is refused.
int unused_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof addr;
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0;
  ::close(fd);
  return bound ? ntohs(addr.sin_port) : 1;
}

TEST(LoadgenRun, UnreachableServerFailsEveryRequest) {
  LoadgenConfig c = small_run("http://127.0.0.1:" + std::to_string(unused_local_port()));
  const LoadgenReport r = run_load(c);
  EXPECT_EQ(r.successful_requests, 0);
  EXPECT_EQ(r.failed_requests, 8);
  ASSERT_FALSE(r.error_samples.empty());
  EXPECT_NE(r.error_samples[0].find("could not connect"), std::string::npos) << r.error_samples[0];
}

void expect_timeouts_within_limit(FakeServerBehaviour b) {
  FakeCompletionServer server(b);
  LoadgenConfig c = small_run(server.url());
  c.num_requests = 4;
  c.concurrency = 2;
  c.timeout_s = 0.3;
  const auto start = std::chrono::steady_clock::now();
  const LoadgenReport r = run_load(c);
  const double elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.failed_requests, 4);
  ASSERT_FALSE(r.error_samples.empty());
  EXPECT_EQ(r.error_samples[0], "timed out after 0.3 s");
  // Two rounds of 0.3 s with generous slack, far below the server's own stall.
  EXPECT_LT(elapsed_s, 2.0);
  for (const RequestRecord& q : r.requests) EXPECT_LT(q.e2e_ms, 1000.0);
}

TEST(LoadgenRun, StalledStreamTimesOut) {
  FakeServerBehaviour b;
  b.stall_after_first_chunk = true;
  expect_timeouts_within_limit(b);
}

TEST(LoadgenRun, ServerThatNeverAnswersTimesOut) {
  FakeServerBehaviour b;
  b.stall_before_headers = true;
  expect_timeouts_within_limit(b);
}

}  // namespace
}  // namespace tokenmill
