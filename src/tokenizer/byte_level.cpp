#include "tokenizer/byte_level.h"

#include "tokenizer/utf8.h"

namespace tokenmill {
namespace {

bool maps_to_itself(uint32_t b) {
  return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
}

}  // namespace

const std::array<uint32_t, 256>& byte_level_code_points() {
  static const std::array<uint32_t, 256> table = [] {
    std::array<uint32_t, 256> t{};
    uint32_t next_extra = 0x100;
    for (uint32_t b = 0; b < 256; ++b) t[b] = maps_to_itself(b) ? b : next_extra++;
    return t;
  }();
  return table;
}

std::string byte_level_encode(std::string_view bytes) {
  const auto& table = byte_level_code_points();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) utf8::append_code_point(out, table[static_cast<uint8_t>(c)]);
  return out;
}

std::optional<std::string> byte_level_decode(std::string_view text) {
  // Inverse table over U+0000..U+0143, the range the alphabet occupies; -1 = not in alphabet.
  static const std::array<int16_t, 0x144> inverse = [] {
    std::array<int16_t, 0x144> t{};
    t.fill(-1);
    const auto& forward = byte_level_code_points();
    for (int b = 0; b < 256; ++b) t[forward[b]] = static_cast<int16_t>(b);
    return t;
  }();
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t n = utf8::valid_sequence_length(text, pos);
    if (n == 0) return std::nullopt;
    const uint32_t cp = utf8::decode_at(text, pos, n);
    if (cp >= inverse.size() || inverse[cp] < 0) return std::nullopt;
    out.push_back(static_cast<char>(inverse[cp]));
    pos += n;
  }
  return out;
}

}  // namespace tokenmill
