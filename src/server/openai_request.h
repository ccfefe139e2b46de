// Parsing of OpenAI request bodies (POST /v1/completions, POST /v1/chat/completions) into the
// engine's GenerateRequest. Pure functions of the body and the model's tokenizer/chat template:
// every problem becomes an ApiError (400 naming the field, 404 for an unknown model).
//
// Compatibility rules: keys this server does not know are ignored, as OpenAI's API does, so that
// clients written for newer API versions keep working; a JSON null is the same as an absent key.
// Known keys whose meaning is not implemented (echo, suffix, best_of > n, n > 1 with
// response_format other than text) are refused rather than silently ignored.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/chat.h"
#include "engine/engine.h"
#include "tokenizer/tokenizer.h"

namespace tokenmill::server {

enum class Endpoint { Completions, ChatCompletions };

// What parsing needs to know about the served model.
struct ProtocolContext {
  const Tokenizer& tokenizer;
  const ChatFormatter& chat;
  std::string served_model_name;
  int32_t max_model_len = 0;  // prompt + completion tokens per sequence
};

struct ParsedRequest {
  Endpoint endpoint = Endpoint::Completions;
  GenerateRequest generate;  // request_id left for the caller
  bool stream = false;
  bool include_usage = false;  // stream_options.include_usage
};

// Default max_tokens of /v1/completions when the request gives none (OpenAI's documented default).
inline constexpr int32_t kCompletionsDefaultMaxTokens = 16;
// Stop strings per request: OpenAI allows 4; more are accepted, up to this bound on matching work.
inline constexpr size_t kMaxStopStrings = 16;
inline constexpr int32_t kMaxChoices = 16;      // n
inline constexpr int32_t kMaxTopLogprobs = 20;  // logprobs / top_logprobs

ParsedRequest parse_completion_request(std::string_view body, const ProtocolContext& ctx);
ParsedRequest parse_chat_request(std::string_view body, const ProtocolContext& ctx);

}  // namespace tokenmill::server
