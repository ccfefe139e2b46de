#include "server/loadgen_stream.h"

#include <nlohmann/json.hpp>

namespace tokenmill {

namespace {

constexpr size_t kQuotedBodyChars = 200;  // how much of an unparseable body goes into a message

std::string quote_start(std::string_view text) {
  std::string s(text.substr(0, kQuotedBodyChars));
  if (text.size() > kQuotedBodyChars) s += "...";
  return s;
}

// error.message of an OpenAI error object ({"error": {"message": ...}} or {"error": "..."}).
std::string openai_error_text(const nlohmann::json& error) {
  if (error.is_string()) return error.get<std::string>();
  if (error.is_object() && error.contains("message") && error["message"].is_string())
    return error["message"].get<std::string>();
  return error.dump();
}

int32_t usage_count(const nlohmann::json& usage, const char* key) {
  const auto it = usage.find(key);
  return it != usage.end() && it->is_number_integer() ? it->get<int32_t>() : 0;
}

}  // namespace

CompletionStreamReader::CompletionStreamReader(RequestRecord& record, int32_t prompt_tokens_sent)
    : record_(record),
      parser_([this](const SseEvent& e) { on_event(e); }),
      prompt_tokens_sent_(prompt_tokens_sent) {}

void CompletionStreamReader::on_bytes(std::string_view bytes, double now_ms) {
  now_ms_ = now_ms;
  parser_.feed(bytes);
}

void CompletionStreamReader::on_event(const SseEvent& event) {
  if (!record_.error.empty()) return;  // the first problem is the one reported
  if (event.data == "[DONE]") {
    saw_done_ = true;
    return;
  }
  const nlohmann::json chunk = nlohmann::json::parse(event.data, nullptr, /*allow_exceptions=*/false);
  if (chunk.is_discarded() || !chunk.is_object()) {
    record_.error = "malformed stream chunk: " + quote_start(event.data);
    return;
  }
  if (const auto err = chunk.find("error"); err != chunk.end()) {
    record_.error = "error in stream: " + openai_error_text(*err);
    return;
  }
  if (const auto choices = chunk.find("choices");
      choices != chunk.end() && choices->is_array() && !choices->empty()) {
    const nlohmann::json& choice = (*choices)[0];
    const auto text = choice.find("text");
    if (text != choice.end() && text->is_string() && !text->get_ref<const std::string&>().empty()) {
      if (record_.text_chunks == 0)
        record_.ttft_ms = now_ms_;
      else
        record_.itl_ms.push_back(now_ms_ - last_chunk_ms_);
      last_chunk_ms_ = now_ms_;
      ++record_.text_chunks;
    }
  }
  if (const auto usage = chunk.find("usage"); usage != chunk.end() && usage->is_object()) {
    saw_usage_ = true;
    usage_prompt_tokens_ = usage_count(*usage, "prompt_tokens");
    usage_completion_tokens_ = usage_count(*usage, "completion_tokens");
  }
}

void CompletionStreamReader::on_end(double now_ms) {
  now_ms_ = now_ms;
  parser_.finish();
  record_.e2e_ms = now_ms;
  if (record_.error.empty() && !saw_done_) record_.error = "stream ended before data: [DONE]";
  record_.ok = record_.error.empty();
  record_.prompt_tokens = saw_usage_ ? usage_prompt_tokens_ : prompt_tokens_sent_;
  record_.output_tokens = saw_usage_ ? usage_completion_tokens_ : record_.text_chunks;
}

std::string http_error_message(int status, const std::string& body) {
  std::string message = "HTTP " + std::to_string(status);
  const nlohmann::json parsed = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_discarded() && parsed.is_object() && parsed.contains("error"))
    return message + ": " + openai_error_text(parsed["error"]);
  if (!body.empty()) message += ": " + quote_start(body);
  return message;
}

}  // namespace tokenmill
