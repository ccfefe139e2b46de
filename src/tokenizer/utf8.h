// UTF-8 helpers shared by the tokenizers and the streaming detokenizer.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tokenmill::utf8 {

// Length in bytes of a well-formed sequence at text[pos], or 0 when the bytes there are not a
// well-formed UTF-8 sequence (overlong, surrogate, above U+10FFFF, truncated, stray continuation).
size_t valid_sequence_length(std::string_view text, size_t pos);

// Appends the UTF-8 encoding of code point cp (cp must be <= U+10FFFF and not a surrogate).
void append_code_point(std::string& out, uint32_t cp);

// Decodes the well-formed sequence at text[pos] (caller checked it with valid_sequence_length).
uint32_t decode_at(std::string_view text, size_t pos, size_t length);

// Copy of text with every ill-formed subsequence replaced by U+FFFD, one replacement per maximal
// subpart (the WHATWG / Unicode "substitution of maximal subparts" practice, as Python's and
// Rust's lossy decoders do).
std::string sanitize(std::string_view text);
// Unicode normalization form C of valid UTF-8 text (utf8proc); input that is not valid UTF-8 is
// returned unchanged.
std::string nfc(std::string_view text);

bool is_valid(std::string_view text);

// Bytes at the end of text that form a proper prefix of a well-formed sequence (0..3): these may
// still be completed by bytes that have not arrived yet.
size_t incomplete_tail_length(std::string_view text);

}  // namespace tokenmill::utf8
