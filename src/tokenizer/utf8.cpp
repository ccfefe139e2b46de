#include <utf8proc.h>

#include <cstdlib>
#include "tokenizer/utf8.h"

namespace tokenmill::utf8 {
namespace {

// Number of bytes of the longest prefix of text[pos..] that could start a well-formed sequence,
// and the sequence length the lead byte announces. Follows Unicode Table 3-7 (well-formed byte
// sequences), so overlongs and surrogates are rejected at the second byte.
struct Prefix {
  size_t matched = 0;   // bytes that fit the table so far (0 for an invalid lead byte)
  size_t expected = 0;  // full length announced by the lead byte
};

Prefix match_prefix(std::string_view text, size_t pos) {
  const auto byte = [&](size_t i) { return static_cast<uint8_t>(text[pos + i]); };
  const size_t available = text.size() - pos;
  const uint8_t lead = byte(0);
  if (lead < 0x80) return {1, 1};
  size_t expected = 0;
  uint8_t second_lo = 0x80, second_hi = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    expected = 2;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    expected = 3;
    if (lead == 0xE0) second_lo = 0xA0;
    if (lead == 0xED) second_hi = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    expected = 4;
    if (lead == 0xF0) second_lo = 0x90;
    if (lead == 0xF4) second_hi = 0x8F;
  } else {
    return {0, 1};
  }
  size_t matched = 1;
  while (matched < expected && matched < available) {
    const uint8_t b = byte(matched);
    const uint8_t lo = matched == 1 ? second_lo : 0x80;
    const uint8_t hi = matched == 1 ? second_hi : 0xBF;
    if (b < lo || b > hi) break;
    ++matched;
  }
  return {matched, expected};
}

}  // namespace

size_t valid_sequence_length(std::string_view text, size_t pos) {
  if (pos >= text.size()) return 0;
  const Prefix p = match_prefix(text, pos);
  return p.matched == p.expected ? p.expected : 0;
}

void append_code_point(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

uint32_t decode_at(std::string_view text, size_t pos, size_t length) {
  const auto byte = [&](size_t i) { return static_cast<uint32_t>(static_cast<uint8_t>(text[pos + i])); };
  switch (length) {
    case 1: return byte(0);
    case 2: return ((byte(0) & 0x1F) << 6) | (byte(1) & 0x3F);
    case 3: return ((byte(0) & 0x0F) << 12) | ((byte(1) & 0x3F) << 6) | (byte(2) & 0x3F);
    default:
      return ((byte(0) & 0x07) << 18) | ((byte(1) & 0x3F) << 12) | ((byte(2) & 0x3F) << 6) |
             (byte(3) & 0x3F);
  }
}

std::string sanitize(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    const Prefix p = match_prefix(text, pos);
    if (p.matched == p.expected) {
      out.append(text.substr(pos, p.expected));
      pos += p.expected;
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD for the maximal subpart (at least one byte)
      pos += p.matched == 0 ? 1 : p.matched;
    }
  }
  return out;
}

bool is_valid(std::string_view text) {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t n = valid_sequence_length(text, pos);
    if (n == 0) return false;
    pos += n;
  }
  return true;
}

size_t incomplete_tail_length(std::string_view text) {
  // A sequence is at most 4 bytes, so only a lead byte among the last 3 can be incomplete.
  const size_t n = text.size();
  for (size_t back = 1; back <= 3 && back <= n; ++back) {
    const size_t pos = n - back;
    const uint8_t b = static_cast<uint8_t>(text[pos]);
    if (b >= 0x80 && b < 0xC0) continue;  // continuation byte: keep looking for its lead
    const Prefix p = match_prefix(text, pos);
    return (p.matched == back && p.expected > back) ? back : 0;
  }
  return 0;
}

}  // namespace tokenmill::utf8

namespace tokenmill::utf8 {

std::string nfc(std::string_view text) {
  if (text.empty()) return std::string();
  utf8proc_uint8_t* out = nullptr;
  const utf8proc_ssize_t n =
      utf8proc_map(reinterpret_cast<const utf8proc_uint8_t*>(text.data()), utf8proc_ssize_t(text.size()), &out,
                   utf8proc_option_t(UTF8PROC_STABLE | UTF8PROC_COMPOSE));
  if (n < 0) return std::string(text);
  std::string result(reinterpret_cast<const char*>(out), size_t(n));
  std::free(out);
  return result;
}

}  // namespace tokenmill::utf8
