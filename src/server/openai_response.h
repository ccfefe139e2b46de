// OpenAI response bodies built from the engine's RequestEvents: whole responses for
// `stream: false` (CompletionCollector) and SSE chunks for `stream: true` (ChunkStreamer), for
// both /v1/completions ("text_completion") and /v1/chat/completions ("chat.completion[.chunk]").
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/engine.h"
#include "server/openai_request.h"
#include "tokenizer/tokenizer.h"

namespace tokenmill::server {

// What every response object of one request repeats.
struct ResponseMeta {
  Endpoint endpoint = Endpoint::Completions;
  std::string id;         // "cmpl-..." or "chatcmpl-..."
  int64_t created = 0;    // Unix seconds
  std::string model;      // served model name
  bool logprobs = false;  // the request asked for logprobs
  CostRates cost;         // enabled: usage carries a "cost" object
};

// Eos/Stop -> "stop", Length/ContextFull -> "length", Cancelled -> "abort".
std::string_view finish_reason_text(FinishReason reason);
// OpenAI's usage object; with cost rates enabled, plus "cost": the request's share of the engine's
// busy time (prompt / completion seconds), its price and energy, and what the prefix cache and
// weight quantization saved it (engine/cost.h).
nlohmann::ordered_json usage_json(const Usage& usage, const CostRates& rates = {});

// Per-choice logprob bookkeeping in the endpoint's shape: completions want parallel arrays
// (tokens, token_logprobs, top_logprobs, text_offset), chat wants a list of {token, logprob,
// bytes, top_logprobs}. text_offset counts bytes of the choice's text before each token.
class LogprobsBuilder {
 public:
  LogprobsBuilder(Endpoint endpoint, const Tokenizer& tokenizer)
      : endpoint_(endpoint), tokenizer_(tokenizer) {}
  // The logprobs object for `tokens`, continuing the offsets of earlier calls.
  nlohmann::ordered_json append(const std::vector<TokenLogprob>& tokens);

 private:
  Endpoint endpoint_;
  const Tokenizer& tokenizer_;
  int64_t text_offset_ = 0;
};

// Collects a request's events into one response object.
class CompletionCollector {
 public:
  CompletionCollector(ResponseMeta meta, int32_t n, const Tokenizer& tokenizer);
  void add(const RequestEvent& event);
  nlohmann::ordered_json response(const Usage& usage) const;

 private:
  struct Choice {
    std::string text;
    std::vector<TokenLogprob> logprobs;
    std::optional<FinishReason> finish;
  };
  ResponseMeta meta_;
  const Tokenizer& tokenizer_;
  std::vector<Choice> choices_;
};

// Turns a request's events into SSE text, chunk by chunk.
class ChunkStreamer {
 public:
  ChunkStreamer(ResponseMeta meta, int32_t n, bool include_usage, const Tokenizer& tokenizer);
  // Written before any event: chat streams open each choice with {role: "assistant", content: ""}.
  std::string begin();
  // SSE text for one event; after the event with `done`, the usage chunk (if asked) and [DONE].
  std::string on_event(const RequestEvent& event);

 private:
  nlohmann::ordered_json chunk_header() const;
  ResponseMeta meta_;
  bool include_usage_;
  std::vector<LogprobsBuilder> logprobs_;  // [n]
};

}  // namespace tokenmill::server
