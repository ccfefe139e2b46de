// StreamingDetokenizer: turns generated ids into text one id at a time. Every returned chunk is
// valid UTF-8: bytes of a character split across tokens are held back until it completes, and
// finish() flushes what is left (ill-formed bytes become U+FFFD). The concatenation of all
// chunks equals Tokenizer::decode() of all ids with the same skip_special.
#pragma once
#include <cstdint>
#include <string>

#include "tokenizer/tokenizer.h"

namespace tokenmill {

class StreamingDetokenizer {
 public:
  // The tokenizer must outlive this object. at_text_start = false for a continuation of text
  // (generated tokens after a prompt): the first piece keeps its leading space, which decode()
  // of a whole text strips for SentencePiece-style vocabularies.
  explicit StreamingDetokenizer(const Tokenizer& tokenizer, bool skip_special = false,
                                bool at_text_start = true);

  // Text safe to emit after `id` (often empty while a character is incomplete). Throws Error
  // for an id outside the vocabulary.
  std::string feed(int32_t id);

  // Flushes held-back bytes at the end of the stream; the detokenizer is then ready for a new
  // stream.
  std::string finish();

  // Bytes currently held back (an incomplete UTF-8 sequence, at most 3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const Tokenizer* tokenizer_;
  bool skip_special_;
  bool at_text_start_ = true;
  bool first_piece_ = true;
  std::string pending_;
};

}  // namespace tokenmill
