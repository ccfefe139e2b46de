#include "tokenizer/streaming_detokenizer.h"

#include "tokenizer/utf8.h"

namespace tokenmill {

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special,
                                           bool at_text_start)
    : tokenizer_(&tokenizer), skip_special_(skip_special), at_text_start_(at_text_start),
      first_piece_(at_text_start) {}

std::string StreamingDetokenizer::feed(int32_t id) {
  if (tokenizer_->append_decoded_piece(id, skip_special_, first_piece_, pending_)) {
    first_piece_ = false;
  }
  // Everything before a possibly-incomplete final sequence can be decided now: an ill-formed
  // subpart there ends before that sequence's lead byte, exactly as when decoding the whole.
  const size_t held = utf8::incomplete_tail_length(pending_);
  std::string ready = utf8::sanitize(std::string_view(pending_).substr(0, pending_.size() - held));
  pending_.erase(0, pending_.size() - held);
  return ready;
}

std::string StreamingDetokenizer::finish() {
  std::string rest = utf8::sanitize(pending_);
  pending_.clear();
  first_piece_ = at_text_start_;
  return rest;
}

}  // namespace tokenmill
