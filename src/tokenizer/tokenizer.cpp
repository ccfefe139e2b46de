#include "tokenizer/tokenizer.h"

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "tokenizer/byte_level.h"
#include "tokenizer/spm.h"
#include "tokenizer/utf8.h"

namespace tokenmill {
namespace {

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // "▁" U+2581

std::string replace_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  out.reserve(text.size() + text.size() / 2);
  size_t pos = 0;
  while (true) {
    const size_t hit = text.find(from, pos);
    if (hit == std::string_view::npos) break;
    out.append(text.substr(pos, hit - pos));
    out.append(to);
    pos = hit + from.size();
  }
  out.append(text.substr(pos));
  return out;
}

std::string byte_piece_name(uint8_t byte) {
  char name[8];
  std::snprintf(name, sizeof(name), "<0x%02X>", byte);
  return name;
}

bool is_ascii_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// A short, printable rendering of a piece for error messages.
std::string quoted(std::string_view piece) {
  std::string shown = utf8::sanitize(piece.substr(0, 40));
  std::replace(shown.begin(), shown.end(), '\n', ' ');
  return "'" + shown + "'";
}

}  // namespace

Tokenizer::Tokenizer(TokenizerSpec spec) : spec_(std::move(spec)) {
  validate_and_index();
  build_pieces();
  build_special_tokens();
  build_end_of_generation();
}

void Tokenizer::validate_and_index() {
  const size_t n = spec_.tokens.size();
  check(n > 0, "tokenizer: the vocabulary is empty");
  check(n < static_cast<size_t>(INT32_MAX), "tokenizer: the vocabulary is too large");
  check(spec_.scores.empty() || spec_.scores.size() == n,
        "tokenizer: " + std::to_string(spec_.scores.size()) + " scores for " + std::to_string(n) +
            " tokens");
  if (spec_.scores.empty()) spec_.scores.assign(n, 0.0f);
  check(spec_.types.empty() || spec_.types.size() == n,
        "tokenizer: " + std::to_string(spec_.types.size()) + " token types for " +
            std::to_string(n) + " tokens");
  if (spec_.types.empty()) spec_.types.assign(n, TokenType::normal);
  for (size_t i = 0; i < n; ++i) {
    const auto t = static_cast<int32_t>(spec_.types[i]);
    check(t >= 0 && t <= 6, "tokenizer: token " + std::to_string(i) + " has unknown type " +
                                std::to_string(t));
  }
  const auto check_id = [&](int32_t id, const char* what) {
    check(id >= -1 && id < static_cast<int32_t>(n),
          std::string("tokenizer: ") + what + " id " + std::to_string(id) + " is outside the " +
              std::to_string(n) + "-token vocabulary");
  };
  check_id(spec_.bos_id, "BOS");
  check_id(spec_.eos_id, "EOS");
  check_id(spec_.eot_id, "EOT");
  check_id(spec_.eom_id, "EOM");
  check_id(spec_.unk_id, "unknown-token");
  check_id(spec_.pad_id, "padding");
  for (const auto& added : spec_.added_tokens) {
    check(added.id >= 0, "tokenizer: added token id " + std::to_string(added.id) + " is negative");
    check_id(added.id, "added token");
  }
  check(!spec_.add_bos || spec_.bos_id >= 0, "tokenizer: add_bos is set but there is no BOS id");
  check(!spec_.add_eos || spec_.eos_id >= 0, "tokenizer: add_eos is set but there is no EOS id");

  piece_index_.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    if (!spec_.tokens[i].empty()) piece_index_[spec_.tokens[i]] = static_cast<int32_t>(i);
  }

  for (int b = 0; b < 256; ++b) {
    byte_tokens_[b] = find_piece(piece_index_, byte_piece_name(static_cast<uint8_t>(b)));
    if (byte_tokens_[b] < 0 && b < 0x80 && spec_.model == TokenizerModel::spm) {
      byte_tokens_[b] = find_piece(piece_index_, std::string(1, static_cast<char>(b)));
    }
  }

  if (spec_.model == TokenizerModel::bpe) {
    for (int b = 0; b < 256; ++b) {
      byte_level_symbols_[b] = find_piece(
          piece_index_, byte_level_encode(std::string(1, static_cast<char>(b))));
    }
    for (size_t rank = 0; rank < spec_.merges.size(); ++rank) {
      const auto& [left, right] = spec_.merges[rank];
      const int32_t left_id = find_piece(piece_index_, left);
      const int32_t right_id = find_piece(piece_index_, right);
      const int32_t merged_id = find_piece(piece_index_, left + right);
      check(left_id >= 0 && right_id >= 0 && merged_id >= 0,
            "tokenizer: merge " + std::to_string(rank) + " (" + quoted(left) + " + " +
                quoted(right) + ") names a piece missing from the vocabulary");
      merges_.add(left_id, right_id, merged_id, static_cast<int32_t>(rank));
    }
    if (spec_.byte_level) {
      pre_tokenizer_ = std::make_shared<const PreTokenizer>(
          spec_.pre_regexes.empty() ? pre_tokenizer_regexes(spec_.pre_name) : spec_.pre_regexes);
    }
  }
}

void Tokenizer::build_pieces() {
  const size_t n = spec_.tokens.size();
  decoded_pieces_.resize(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string& text = spec_.tokens[i];
    std::string& piece = decoded_pieces_[i];
    switch (spec_.types[i]) {
      case TokenType::control:
      case TokenType::unknown:
      case TokenType::user_defined:
        piece = text;
        break;
      case TokenType::unused:
        break;  // decodes to nothing
      case TokenType::byte:
        if (text.size() == 6 && text.starts_with("<0x") && text.ends_with(">")) {
          piece.assign(1, static_cast<char>(std::stoi(text.substr(3, 2), nullptr, 16)));
          break;
        }
        [[fallthrough]];
      case TokenType::normal:
      case TokenType::undefined:
        if (spec_.model == TokenizerModel::bpe && spec_.byte_level) {
          // Pieces outside the byte alphabet (rare hand-added tokens) decode as written.
          piece = byte_level_decode(text).value_or(text);
        } else {
          piece = replace_all(text, kMetaspace, " ");
        }
        break;
    }
  }
}

void Tokenizer::build_special_tokens() {
  std::vector<AddedTokenOptions> options(spec_.tokens.size());
  for (const auto& added : spec_.added_tokens) options[added.id] = added;
  for (size_t i = 0; i < spec_.tokens.size(); ++i) {
    const TokenType type = spec_.types[i];
    if (type != TokenType::control && type != TokenType::unknown &&
        type != TokenType::user_defined) {
      continue;
    }
    const std::string& text = spec_.tokens[i];
    // Invalid UTF-8 could match inside a character of (sanitized) input text: never match it.
    if (text.empty() || !utf8::is_valid(text)) continue;
    special_tokens_.push_back({text, static_cast<int32_t>(i), options[i].lstrip,
                               options[i].rstrip, type != TokenType::user_defined});
  }
  for (const SpecialToken& token : special_tokens_) {
    special_first_bytes_[static_cast<uint8_t>(token.text[0])] = true;
  }
  std::stable_sort(special_tokens_.begin(), special_tokens_.end(),
                   [](const SpecialToken& a, const SpecialToken& b) {
                     return a.text.size() > b.text.size();
                   });
}

void Tokenizer::build_end_of_generation() {
  static const std::array<std::string_view, 10> end_markers = {
      "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|eom_id|>",
      "<|end_of_text|>", "</s>", "<EOT>", "<|END_OF_TURN_TOKEN|>"};
  std::vector<int32_t>& ids = end_of_generation_ids_;
  for (int32_t id : {spec_.eos_id, spec_.eot_id, spec_.eom_id}) {
    if (id >= 0) ids.push_back(id);
  }
  for (std::string_view marker : end_markers) {
    const int32_t id = find_piece(piece_index_, marker);
    if (id >= 0 && (spec_.types[id] == TokenType::control ||
                    spec_.types[id] == TokenType::user_defined)) {
      ids.push_back(id);
    }
  }
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
}

bool Tokenizer::is_end_of_generation(int32_t id) const {
  return std::binary_search(end_of_generation_ids_.begin(), end_of_generation_ids_.end(), id);
}

TokenType Tokenizer::token_type(int32_t id) const {
  check(id >= 0 && id < n_vocab(), "tokenizer: token id " + std::to_string(id) +
                                       " is outside the " + std::to_string(n_vocab()) +
                                       "-token vocabulary");
  return spec_.types[id];
}

bool Tokenizer::is_special(int32_t id) const {
  const TokenType type = token_type(id);
  return type == TokenType::control || type == TokenType::unknown;
}

std::vector<Tokenizer::Segment> Tokenizer::split_special(std::string_view text,
                                                         bool parse_special) const {
  std::vector<Segment> segments;
  size_t segment_begin = 0;
  size_t pos = 0;
  while (pos < text.size()) {
    if (!special_first_bytes_[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    const SpecialToken* match = nullptr;
    for (const SpecialToken& token : special_tokens_) {  // longest first
      if (token.needs_parse_special && !parse_special) continue;
      if (text.compare(pos, token.text.size(), token.text) == 0) {
        match = &token;
        break;
      }
    }
    if (match == nullptr) {
      ++pos;
      continue;
    }
    size_t token_begin = pos;
    size_t token_end = pos + match->text.size();
    if (match->lstrip) {
      while (token_begin > segment_begin && is_ascii_space(text[token_begin - 1])) --token_begin;
    }
    if (match->rstrip) {
      while (token_end < text.size() && is_ascii_space(text[token_end])) ++token_end;
    }
    if (token_begin > segment_begin) {
      segments.push_back({false, -1, text.substr(segment_begin, token_begin - segment_begin),
                          segment_begin == 0});
    }
    segments.push_back({true, match->id, {}, false});
    segment_begin = pos = token_end;
  }
  if (segment_begin < text.size()) {
    segments.push_back({false, -1, text.substr(segment_begin), segment_begin == 0});
  }
  return segments;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special,
                                       bool parse_special) const {
  std::string sanitized;
  if (!utf8::is_valid(text)) {
    sanitized = utf8::sanitize(text);
    text = sanitized;
  }
  std::vector<int32_t> ids;
  if (add_special && spec_.add_bos) ids.push_back(spec_.bos_id);
  bool first_segment = true;
  for (const Segment& segment : split_special(text, parse_special)) {
    if (segment.is_token) {
      ids.push_back(segment.id);
    } else {
      encode_segment(segment, first_segment, ids);
    }
    first_segment = false;
  }
  if (add_special && spec_.add_eos) ids.push_back(spec_.eos_id);
  return ids;
}

std::string Tokenizer::space_prefixed(const Segment& segment, bool first_segment,
                                      std::string_view space) const {
  const std::string_view text = segment.text;
  const bool starts_with_space = text.starts_with(' ');
  bool prefix = false;
  switch (spec_.space_prefix) {
    case SpacePrefix::none: break;
    case SpacePrefix::every_segment: prefix = true; break;
    case SpacePrefix::every_segment_unless_space: prefix = !starts_with_space; break;
    case SpacePrefix::first_segment_unless_space:
      prefix = segment.at_text_start && first_segment && !starts_with_space;
      break;
  }
  std::string out;
  if (prefix) out.append(space);
  out.append(text);
  return out;
}

void Tokenizer::encode_segment(const Segment& raw_segment, bool first_segment,
                               std::vector<int32_t>& out) const {
  std::string normalized;
  Segment segment = raw_segment;
  if (spec_.normalize_nfc) {
    normalized = utf8::nfc(raw_segment.text);
    segment.text = normalized;
  }
  if (spec_.model == TokenizerModel::spm) {
    const std::string escaped = replace_all(space_prefixed(segment, first_segment, " "), " ", kMetaspace);
    SpmVocabView vocab{&piece_index_, spec_.scores, byte_tokens_, spec_.unk_id};
    spm_encode(escaped, vocab, out);
    return;
  }
  if (spec_.byte_level) {
    const std::string text = space_prefixed(segment, first_segment, " ");
    for (std::string_view piece : pre_tokenizer_->split(text)) encode_byte_level(piece, out);
    return;
  }
  const std::string escaped = replace_all(space_prefixed(segment, first_segment, " "), " ", kMetaspace);
  if (!spec_.metaspace_split) {
    encode_chars_bpe(escaped, out);
    return;
  }
  // Metaspace split: every word starts at a "▁" (the text before the first one is a word too).
  const std::string_view text = escaped;
  size_t word_begin = 0;
  while (word_begin < text.size()) {
    size_t next = text.find(kMetaspace, word_begin + 1);
    if (next == std::string_view::npos) next = text.size();
    encode_chars_bpe(text.substr(word_begin, next - word_begin), out);
    word_begin = next;
  }
}

void Tokenizer::encode_byte_level(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  if (spec_.ignore_merges) {
    const int32_t whole = find_piece(piece_index_, byte_level_encode(text));
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  std::vector<int32_t> symbols(text.size());
  for (size_t i = 0; i < text.size(); ++i) symbols[i] = byte_level_symbols_[static_cast<uint8_t>(text[i])];
  merges_.apply(symbols);
  for (int32_t id : symbols) {
    if (id >= 0) {
      out.push_back(id);
    } else if (spec_.unk_id >= 0) {
      out.push_back(spec_.unk_id);
    }
  }
}

void Tokenizer::encode_chars_bpe(std::string_view text, std::vector<int32_t>& out) const {
  if (text.empty()) return;
  if (spec_.ignore_merges) {
    const int32_t whole = find_piece(piece_index_, text);
    if (whole >= 0) {
      out.push_back(whole);
      return;
    }
  }
  std::vector<int32_t> symbols;
  symbols.reserve(text.size());
  for (size_t pos = 0; pos < text.size();) {
    size_t n = utf8::valid_sequence_length(text, pos);
    if (n == 0) n = 1;
    const std::string_view ch = text.substr(pos, n);
    pos += n;
    const int32_t id = find_piece(piece_index_, ch);
    if (id >= 0) {
      symbols.push_back(id);
      continue;
    }
    bool all_bytes = spec_.byte_fallback;
    for (char c : ch) all_bytes = all_bytes && byte_tokens_[static_cast<uint8_t>(c)] >= 0;
    if (all_bytes) {
      for (char c : ch) symbols.push_back(byte_tokens_[static_cast<uint8_t>(c)]);
    } else {
      symbols.push_back(spec_.unk_id);  // -1 (dropped) when there is no unknown token
    }
  }
  merges_.apply(symbols);
  for (int32_t id : symbols) {
    if (id >= 0) out.push_back(id);
  }
}

bool Tokenizer::append_decoded_piece(int32_t id, bool skip_special, bool is_first_piece,
                                     std::string& bytes) const {
  token_type(id);  // range check
  if (skip_special && is_special(id)) return false;
  std::string_view piece = decoded_pieces_[id];
  if (is_first_piece && spec_.strip_leading_space_on_decode && piece.starts_with(' ')) {
    piece.remove_prefix(1);
  }
  bytes.append(piece);
  return true;
}

std::string Tokenizer::decode(std::span<const int32_t> ids, bool skip_special) const {
  std::string bytes;
  bool first_piece = true;
  for (int32_t id : ids) {
    if (append_decoded_piece(id, skip_special, first_piece, bytes)) first_piece = false;
  }
  return utf8::sanitize(bytes);
}

std::string Tokenizer::token_to_piece(int32_t id) const {
  token_type(id);  // range check
  return decoded_pieces_[id];
}

}  // namespace tokenmill
