// GPT-2's byte-to-unicode alphabet: every byte value is shown as one printable code point, so
// byte-level BPE vocabularies can store arbitrary bytes as text (space is "Ġ", newline "Ċ").
#pragma once
#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tokenmill {

// Code point standing for each byte: printable Latin-1 bytes map to themselves, the 68 others to
// U+0100 + n in byte order.
const std::array<uint32_t, 256>& byte_level_code_points();

// UTF-8 text of the mapped code points of every byte of `bytes`.
std::string byte_level_encode(std::string_view bytes);

// Inverse mapping; nullopt when `text` holds a code point outside the alphabet.
std::optional<std::string> byte_level_decode(std::string_view text);

}  // namespace tokenmill
