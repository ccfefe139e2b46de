// SentencePiece-style segmentation (GGUF "llama" vocabularies): start from single UTF-8
// characters and repeatedly merge the adjacent pair whose concatenation is the vocabulary piece
// with the highest score; pieces that end up outside the vocabulary fall back to <0xXX> byte
// tokens (or the unknown token).
#pragma once
#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "tokenizer/vocab_index.h"

namespace tokenmill {

struct SpmVocabView {
  const VocabIndex* pieces = nullptr;
  std::span<const float> scores;         // [n_vocab]
  std::array<int32_t, 256> byte_tokens;  // id of "<0xXX>" per byte value, -1 when missing
  int32_t unk_id = -1;
};

// text: valid UTF-8 with spaces already replaced by "▁". Appends ids to out.
void spm_encode(std::string_view text, const SpmVocabView& vocab, std::vector<int32_t>& out);

}  // namespace tokenmill
