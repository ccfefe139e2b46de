#define PCRE2_CODE_UNIT_WIDTH 8
#include "tokenizer/pre_tokenizer.h"

#include <pcre2.h>

#include <algorithm>
#include <array>
#include <cstdio>

#include "core/error.h"
#include "tokenizer/utf8.h"

namespace tokenmill {
namespace {

// The regexes below are the ones the models' own tokenizer.json files use (written in PCRE2
// syntax; non-ASCII characters as \x{...} escapes).
constexpr const char* kGpt2 =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr const char* kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr const char* kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
// DeepSeek LLM: optional whitespace + a run of cased letters (Unicode Lu/Ll/Lt ranges).
constexpr const char* kDeepseekLlmLetters =
    R"(\s?[A-Za-z\x{B5}\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{1BA}\x{1BC}-\x{1BF}\x{1C4}-\x{293})"
    R"(\x{295}-\x{2AF}\x{370}-\x{373}\x{376}\x{377}\x{37B}-\x{37D}\x{37F}\x{386}\x{388}-\x{38A})"
    R"(\x{38C}\x{38E}-\x{3A1}\x{3A3}-\x{3F5}\x{3F7}-\x{481}\x{48A}-\x{52F}\x{531}-\x{556})"
    R"(\x{10A0}-\x{10C5}\x{13A0}-\x{13F5}\x{13F8}-\x{13FD}\x{1C90}-\x{1CBA}\x{1CBD}-\x{1CBF})"
    R"(\x{1D00}-\x{1D2B}\x{1D6B}-\x{1D77}\x{1D79}-\x{1D9A}\x{1E00}-\x{1F15}\x{1F18}-\x{1F1D})"
    R"(\x{1F20}-\x{1F45}\x{1F48}-\x{1F4D}\x{1F50}-\x{1F57}\x{1F59}\x{1F5B}\x{1F5D}\x{1F5F}-\x{1F7D})"
    R"(\x{1F80}-\x{1FB4}\x{1FB6}-\x{1FBC}\x{1FBE}\x{1FC2}-\x{1FC4}\x{1FC6}-\x{1FCC}\x{1FD0}-\x{1FD3})"
    R"(\x{1FD6}-\x{1FDB}\x{1FE0}-\x{1FEC}\x{1FF2}-\x{1FF4}\x{1FF6}-\x{1FFC}\x{2102}\x{2107})"
    R"(\x{210A}-\x{2113}\x{2115}\x{2119}-\x{211D}\x{2124}\x{2126}\x{2128}\x{212A}-\x{212D})"
    R"(\x{212F}-\x{2134}\x{2139}\x{213C}-\x{213F}\x{2145}-\x{2149}\x{214E}\x{2183}\x{2184})"
    R"(\x{2C00}-\x{2C7B}\x{2C7E}-\x{2CE4}\x{2CEB}-\x{2CEE}\x{2CF2}\x{2CF3}\x{A640}-\x{A66D})"
    R"(\x{A680}-\x{A69B}\x{A722}-\x{A76F}\x{A771}-\x{A787}\x{A78B}-\x{A78E}\x{AB70}-\x{ABBF})"
    R"(\x{FB00}-\x{FB06}\x{FB13}-\x{FB17}\x{FF21}-\x{FF3A}\x{FF41}-\x{FF5A}\x{10400}-\x{1044F})"
    R"(\x{104B0}-\x{104D3}\x{104D8}-\x{104FB}\x{10C80}-\x{10CB2}\x{10CC0}-\x{10CF2})"
    R"(\x{118A0}-\x{118DF}\x{1E900}-\x{1E943}]+)";
constexpr const char* kDeepseekLlmPunct =
    R"(\s?[!-/:-~\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF5E}\x{2018}-\x{201F}\x{3000}-\x{3002}]+)";
constexpr const char* kDeepseekCjk = R"([\x{4E00}-\x{9FA5}\x{800}-\x{4E00}\x{AC00}-\x{D7FF}]+)";

struct NamedPreTokenizer {
  std::string_view name;
  std::vector<std::string> regexes;
  bool ignore_merges;
};

const std::vector<NamedPreTokenizer>& named_pre_tokenizers() {
  static const std::vector<NamedPreTokenizer> table = {
      {"gpt2", {kGpt2}, false},
      {"llama3", {kLlama3}, true},
      {"qwen2", {kQwen2}, false},
      {"deepseek-llm",
       {R"([\r\n])", kDeepseekLlmLetters, kDeepseekLlmPunct, R"(\s+$)", kDeepseekCjk, R"(\p{N}+)"},
       false},
      {"deepseek-coder",
       {R"([\r\n])", R"(\s?\p{L}+)", R"(\s?\p{P}+)", kDeepseekCjk, R"(\p{N})"},
       false},
      {"starcoder", {R"(\p{N})", kGpt2}, false},
  };
  return table;
}

// GGUF names that share one of the sets above.
std::string_view canonical_pre_name(std::string_view name) {
  static const std::array<std::pair<std::string_view, std::string_view>, 16> aliases = {{
      {"", "gpt2"},          {"default", "gpt2"},      {"gpt-2", "gpt2"},
      {"mpt", "gpt2"},       {"olmo", "gpt2"},         {"jais", "gpt2"},
      {"llama-bpe", "llama3"}, {"llama-v3", "llama3"}, {"dbrx", "llama3"},
      {"smaug-bpe", "llama3"}, {"refact", "starcoder"}, {"smollm", "starcoder"},
      {"codeshell", "starcoder"}, {"command-r", "starcoder"}, {"qwen", "qwen2"},
      {"deepseek-v2", "deepseek-llm"},
  }};
  for (const auto& [alias, canonical] : aliases) {
    if (alias == name) return canonical;
  }
  return name;
}

const NamedPreTokenizer& find_named(std::string_view pre_name) {
  const std::string_view canonical = canonical_pre_name(pre_name);
  for (const auto& entry : named_pre_tokenizers()) {
    if (entry.name == canonical) return entry;
  }
  throw Error("tokenizer: unsupported pre-tokenizer '" + std::string(pre_name) + "'");
}

}  // namespace

std::vector<std::string> pre_tokenizer_regexes(std::string_view pre_name) {
  return find_named(pre_name).regexes;
}

bool pre_tokenizer_ignores_merges(std::string_view pre_name) {
  return find_named(pre_name).ignore_merges;
}

namespace {

// Non-ASCII characters as \x{...} and CR/LF/tab as \r \n \t: the form the named sets use,
// so a tokenizer.json regex holding literal characters compares equal to its named set.
std::string escape_for_comparison(std::string_view regex) {
  std::string out;
  for (size_t pos = 0; pos < regex.size();) {
    const size_t n = utf8::valid_sequence_length(regex, pos);
    if (n <= 1) {
      const char c = regex[pos++];
      if (c == '\r') {
        out.append("\\r");
      } else if (c == '\n') {
        out.append("\\n");
      } else if (c == '\t') {
        out.append("\\t");
      } else {
        out.push_back(c);
      }
      continue;
    }
    char hex[16];
    std::snprintf(hex, sizeof(hex), "\\x{%X}", utf8::decode_at(regex, pos, n));
    out.append(hex);
    pos += n;
  }
  return out;
}

}  // namespace

std::string pre_tokenizer_name_for(const std::vector<std::string>& regexes) {
  std::vector<std::string> escaped;
  for (const std::string& regex : regexes) escaped.push_back(escape_for_comparison(regex));
  for (const auto& entry : named_pre_tokenizers()) {
    if (entry.regexes == escaped) return std::string(entry.name);
  }
  return "";
}

std::string regex_escape(std::string_view literal) {
  std::string out;
  for (char c : literal) {
    if (std::string_view("\\^$.|?*+()[]{}-/#").find(c) != std::string_view::npos) out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

struct PreTokenizer::CompiledRegex {
  pcre2_code* code = nullptr;
  std::string pattern;
  ~CompiledRegex() { pcre2_code_free(code); }
};

PreTokenizer::PreTokenizer(const std::vector<std::string>& regexes) {
  for (const std::string& pattern : regexes) {
    auto compiled = std::make_shared<CompiledRegex>();
    compiled->pattern = pattern;
    int error_code = 0;
    PCRE2_SIZE error_offset = 0;
    compiled->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                                   PCRE2_UTF | PCRE2_UCP, &error_code, &error_offset, nullptr);
    if (compiled->code == nullptr) {
      std::array<PCRE2_UCHAR, 256> message{};
      pcre2_get_error_message(error_code, message.data(), message.size());
      throw Error("tokenizer: pre-tokenizer regex '" + pattern + "' does not compile at offset " +
                  std::to_string(error_offset) + ": " +
                  reinterpret_cast<const char*>(message.data()));
    }
    pcre2_jit_compile(compiled->code, PCRE2_JIT_COMPLETE);  // optional speed-up; failure is fine
    regexes_.push_back(std::move(compiled));
  }
}

std::vector<std::string_view> PreTokenizer::split(std::string_view text) const {
  std::vector<std::string_view> pieces;
  if (!text.empty()) pieces.push_back(text);
  std::unique_ptr<pcre2_match_data, void (*)(pcre2_match_data*)> match_data(
      pcre2_match_data_create(1, nullptr), pcre2_match_data_free);
  check(match_data != nullptr, "tokenizer: out of memory for regex match data");

  for (const auto& regex : regexes_) {
    std::vector<std::string_view> next;
    next.reserve(pieces.size() * 2);
    for (std::string_view piece : pieces) {
      size_t gap_begin = 0;  // start of text not yet emitted
      size_t search_from = 0;
      while (search_from <= piece.size()) {
        const int rc = pcre2_match(regex->code, reinterpret_cast<PCRE2_SPTR>(piece.data()),
                                   piece.size(), search_from, PCRE2_NO_UTF_CHECK,
                                   match_data.get(), nullptr);
        if (rc == PCRE2_ERROR_NOMATCH) break;
        if (rc < 0) {
          throw Error("tokenizer: regex '" + regex->pattern + "' failed with PCRE2 error " +
                      std::to_string(rc));
        }
        const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(match_data.get());
        const size_t match_begin = ovector[0];
        const size_t match_end = ovector[1];
        if (match_end <= match_begin) {
          // Empty match: it splits nothing; step over one character and search on.
          if (match_begin >= piece.size()) break;
          const size_t n = utf8::valid_sequence_length(piece, match_begin);
          search_from = match_begin + (n == 0 ? 1 : n);
          continue;
        }
        if (match_begin > gap_begin) next.push_back(piece.substr(gap_begin, match_begin - gap_begin));
        next.push_back(piece.substr(match_begin, match_end - match_begin));
        gap_begin = search_from = match_end;
      }
      if (gap_begin < piece.size()) next.push_back(piece.substr(gap_begin));
    }
    pieces = std::move(next);
  }
  return pieces;
}

}  // namespace tokenmill
