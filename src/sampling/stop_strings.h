// Stop-string matching on streamed text. Decoded text arrives in pieces; a stop string may span
// several pieces, so text that could still be the start of a stop string is held back until the
// next piece settles it. Matching is on bytes: when the pieces and the stop strings are valid
// UTF-8, everything emitted ends on a character boundary (a held-back suffix starts where a stop
// string starts, i.e. at a lead byte).
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace tokenmill {

struct StopFeedResult {
  std::string text;      // safe to show the user now
  bool stopped = false;  // a stop string was found; text ends just before it
};

class StopStringMatcher {
 public:
  // stops: non-empty strings (Error otherwise); none = every piece passes straight through.
  explicit StopStringMatcher(std::vector<std::string> stops);

  // Appends newly decoded text. On a match, returns the text before the earliest stop string
  // (the stop string and anything after it are dropped) and stopped = true; every later call
  // returns {"", true}. Otherwise returns all text that can no longer be part of a stop string.
  StopFeedResult feed(std::string_view piece);

  // At the end of generation: the held-back text (it never became a stop string).
  std::string flush();

  bool stopped() const { return stopped_; }
  // Bytes currently held back; < the longest stop string's length.
  size_t held_back_bytes() const { return pending_.size(); }

 private:
  // Length of the longest suffix of pending_ that is a proper prefix of some stop string.
  size_t partial_match_length() const;

  std::vector<std::string> stops_;
  size_t longest_stop_bytes_ = 0;
  std::string pending_;  // held-back text, always a proper prefix of some stop string
  bool stopped_ = false;
};

}  // namespace tokenmill
