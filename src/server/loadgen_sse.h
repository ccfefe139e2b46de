// Incremental parser for a Server-Sent Events stream (text/event-stream), as OpenAI-compatible
// servers send for `stream: true`. Bytes arrive in whatever pieces the socket delivers, so a line,
// a "\r\n" pair or a UTF-8 character may be split across feed() calls; the parser buffers the
// unfinished line and emits an event only when its terminating blank line has arrived.
#pragma once
#include <functional>
#include <string>
#include <string_view>

namespace tokenmill {

struct SseEvent {
  std::string event;  // the "event:" field; empty means the default "message"
  std::string data;   // "data:" lines joined with '\n' (one optional space after the colon dropped)
};

class SseParser {
 public:
  using EventHandler = std::function<void(const SseEvent&)>;

  explicit SseParser(EventHandler on_event) : on_event_(std::move(on_event)) {}

  // Consumes the next piece of the stream; calls on_event for every event it completes.
  void feed(std::string_view bytes);

  // End of stream. Unlike the SSE specification, which drops an unterminated last event, this
  // dispatches it: a server that closes right after "data: [DONE]\n" still delivers [DONE].
  void finish();

 private:
  void process_line(std::string_view line);
  void dispatch();

  EventHandler on_event_;
  std::string line_;        // bytes of the current, unterminated line
  bool after_cr_ = false;   // the previous byte was '\r': a following '\n' belongs to it
  bool have_data_ = false;  // at least one "data:" line since the last dispatch
  SseEvent pending_;
};

}  // namespace tokenmill
