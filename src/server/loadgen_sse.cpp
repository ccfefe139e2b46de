#include "server/loadgen_sse.h"

namespace tokenmill {

void SseParser::feed(std::string_view bytes) {
  for (const char c : bytes) {
    if (after_cr_) {
      after_cr_ = false;
      if (c == '\n') continue;  // second half of a "\r\n" that was split or not
    }
    if (c == '\r' || c == '\n') {
      after_cr_ = (c == '\r');
      process_line(line_);
      line_.clear();
    } else {
      line_.push_back(c);
    }
  }
}

void SseParser::finish() {
  if (!line_.empty()) process_line(line_);
  line_.clear();
  after_cr_ = false;
  dispatch();
}

void SseParser::process_line(std::string_view line) {
  if (line.empty()) {
    dispatch();
    return;
  }
  if (line.front() == ':') return;  // comment, e.g. a keep-alive ping
  const size_t colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view{} : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') value.remove_prefix(1);
  if (field == "data") {
    if (have_data_) pending_.data.push_back('\n');
    pending_.data.append(value);
    have_data_ = true;
  } else if (field == "event") {
    pending_.event.assign(value);
  }
  // "id" and "retry" do not matter to a client that never reconnects.
}

void SseParser::dispatch() {
  if (have_data_) on_event_(pending_);
  pending_ = SseEvent{};
  have_data_ = false;
}

}  // namespace tokenmill
