// Tokenizer: text <-> token ids for SentencePiece-style and byte-level/byte-fallback BPE
// vocabularies, built from a TokenizerSpec. Immutable after construction (thread-safe to share).
//
// Encoding: invalid UTF-8 in the input is first replaced by U+FFFD (one per maximal ill-formed
// subpart). Special/added tokens are then cut out of the text (leftmost, longest match); the text
// between them is segmented by the model. Decoding concatenates the pieces' bytes and replaces
// ill-formed UTF-8 by U+FFFD the same way.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/bpe.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer_spec.h"
#include "tokenizer/vocab_index.h"

namespace tokenmill {

class Tokenizer {
 public:
  // Validates the spec (sizes agree, ids in range, every merge names known pieces) and builds
  // the lookup tables. Throws Error with a one-line message on any inconsistency.
  explicit Tokenizer(TokenizerSpec spec);

  // add_special: add BOS/EOS as the model asks (spec.add_bos / add_eos).
  // parse_special: match control tokens (e.g. "<|im_start|>") written in the text; plain added
  // (user_defined) tokens are matched either way, as Hugging Face tokenizers does.
  std::vector<int32_t> encode(std::string_view text, bool add_special, bool parse_special) const;

  // Throws Error for an id outside [0, n_vocab). skip_special drops control/unknown tokens.
  std::string decode(std::span<const int32_t> ids, bool skip_special = false) const;

  // Bytes token `id` contributes to decoded text (special tokens as their text); may be part of
  // a UTF-8 sequence. Throws Error for an id out of range.
  std::string token_to_piece(int32_t id) const;

  // The piece as decode() emits it: empty when skipped, leading space stripped when it is the
  // first piece and the model strips it. Returns false when skipped (then it does not count as
  // the first piece). Used by decode() and StreamingDetokenizer so both agree exactly.
  bool append_decoded_piece(int32_t id, bool skip_special, bool is_first_piece,
                            std::string& bytes) const;

  int32_t n_vocab() const { return static_cast<int32_t>(spec_.tokens.size()); }
  int32_t bos_id() const { return spec_.bos_id; }
  int32_t eos_id() const { return spec_.eos_id; }
  // Every id that ends generation: EOS, EOT/EOM and end-of-turn markers such as <|eot_id|>,
  // <|im_end|>, <|end|>, <end_of_turn> when the vocabulary has them. Sorted.
  const std::vector<int32_t>& end_of_generation_ids() const { return end_of_generation_ids_; }
  bool is_end_of_generation(int32_t id) const;
  // Control and unknown tokens (what skip_special removes).
  bool is_special(int32_t id) const;
  TokenType token_type(int32_t id) const;
  // Id of an exact piece string, or -1.
  int32_t piece_to_id(std::string_view piece) const { return find_piece(piece_index_, piece); }
  const TokenizerSpec& spec() const { return spec_; }

 private:
  struct SpecialToken {
    std::string text;
    int32_t id;
    bool lstrip;
    bool rstrip;
    bool needs_parse_special;  // control/unknown tokens
  };
  struct Segment {
    bool is_token;
    int32_t id;             // when is_token
    std::string_view text;  // when !is_token
    bool at_text_start;     // segment begins at offset 0 of the input
  };

  void validate_and_index();
  void build_pieces();
  void build_special_tokens();
  void build_end_of_generation();
  std::vector<Segment> split_special(std::string_view text, bool parse_special) const;
  void encode_segment(const Segment& segment, bool first_segment, std::vector<int32_t>& out) const;
  std::string space_prefixed(const Segment& segment, bool first_segment, std::string_view space) const;
  void encode_byte_level(std::string_view text, std::vector<int32_t>& out) const;
  void encode_chars_bpe(std::string_view text, std::vector<int32_t>& out) const;

  TokenizerSpec spec_;
  VocabIndex piece_index_;
  std::vector<std::string> decoded_pieces_;  // [n_vocab] bytes each token decodes to
  std::array<int32_t, 256> byte_tokens_{};   // "<0xXX>" ids, -1 when missing
  std::array<int32_t, 256> byte_level_symbols_{};  // id of each byte's GPT-2 character piece
  BpeMerges merges_;
  std::shared_ptr<const PreTokenizer> pre_tokenizer_;  // byte-level BPE only
  std::vector<SpecialToken> special_tokens_;     // sorted by text length, longest first
  std::array<bool, 256> special_first_bytes_{};  // bytes some special token starts with
  std::vector<int32_t> end_of_generation_ids_;
};

}  // namespace tokenmill
