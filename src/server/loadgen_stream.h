// Turns the body of one streaming /v1/completions response into a RequestRecord: SSE events
// are decoded as they arrive, and every chunk with non-empty choices[0].text is stamped with the
// arrival time of the bytes that completed it. Chunks that arrive in the same read share a time,
// as they would for any client.
#pragma once
#include <string>
#include <string_view>

#include "server/loadgen.h"
#include "server/loadgen_sse.h"

namespace tokenmill {

class CompletionStreamReader {
 public:
  // record outlives the reader; prompt_tokens_sent is the fallback when no usage chunk comes.
  CompletionStreamReader(RequestRecord& record, int32_t prompt_tokens_sent);

  // Bytes of an HTTP 200 body that arrived at now_ms (since the request was sent).
  void on_bytes(std::string_view bytes, double now_ms);

  // The body ended at now_ms. Sets record.ok, error, token counts and e2e_ms.
  void on_end(double now_ms);

  bool saw_done() const { return saw_done_; }

 private:
  void on_event(const SseEvent& event);

  RequestRecord& record_;
  SseParser parser_;
  int32_t prompt_tokens_sent_;
  double now_ms_ = 0;
  double last_chunk_ms_ = 0;
  bool saw_done_ = false;
  bool saw_usage_ = false;
  int32_t usage_prompt_tokens_ = 0;
  int32_t usage_completion_tokens_ = 0;
};

// "HTTP 429: <error.message>" from an OpenAI error body, or the start of the body as text.
std::string http_error_message(int status, const std::string& body);

}  // namespace tokenmill
