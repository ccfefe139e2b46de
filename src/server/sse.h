// Server-sent events framing as OpenAI streams use it: one `data:` line per JSON chunk, a blank
// line after each event, and a literal `[DONE]` event at the end.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace tokenmill::server {

// Compact JSON; bytes that are not UTF-8 (a token that is half a character) become U+FFFD
// instead of throwing, because a client cannot do anything better with them.
inline std::string json_text(const nlohmann::ordered_json& j) {
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

inline std::string sse_event(const nlohmann::ordered_json& chunk) {
  return "data: " + json_text(chunk) + "\n\n";
}
inline std::string sse_done() {
  return "data: [DONE]\n\n";
}
// A comment line: clients skip it; the server writes one while a stream is idle so that a client
// that went away is noticed by the failing write.
inline std::string sse_keepalive() {
  return ": keep-alive\n\n";
}

}  // namespace tokenmill::server
