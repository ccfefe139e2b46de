#include "sampling/stop_strings.h"

#include <algorithm>
#include <utility>

#include "core/error.h"

namespace tokenmill {

StopStringMatcher::StopStringMatcher(std::vector<std::string> stops) : stops_(std::move(stops)) {
  for (const std::string& stop : stops_) {
    check(!stop.empty(), "stop strings must be non-empty");
    longest_stop_bytes_ = std::max(longest_stop_bytes_, stop.size());
  }
}

StopFeedResult StopStringMatcher::feed(std::string_view piece) {
  if (stopped_) return {"", true};
  if (stops_.empty()) return {std::string(piece), false};
  pending_.append(piece);

  // Earliest match wins: with stops "abc" and "bc", text "abc" stops before "a". A match cannot
  // start in text already emitted, since that text was not a prefix of any stop string.
  size_t match_at = std::string::npos;
  for (const std::string& stop : stops_) {
    match_at = std::min(match_at, pending_.find(stop));
  }
  if (match_at != std::string::npos) {
    StopFeedResult result{pending_.substr(0, match_at), true};
    pending_.clear();
    stopped_ = true;
    return result;
  }

  const size_t held = partial_match_length();
  StopFeedResult result{pending_.substr(0, pending_.size() - held), false};
  pending_.erase(0, pending_.size() - held);
  return result;
}

std::string StopStringMatcher::flush() {
  std::string rest = std::move(pending_);
  pending_.clear();
  return rest;
}

size_t StopStringMatcher::partial_match_length() const {
  const std::string_view text = pending_;
  for (size_t length = std::min(text.size(), longest_stop_bytes_ - 1); length > 0; --length) {
    const std::string_view suffix = text.substr(text.size() - length);
    for (const std::string& stop : stops_) {
      if (stop.size() > length && std::string_view(stop).starts_with(suffix)) return length;
    }
  }
  return 0;
}

}  // namespace tokenmill
