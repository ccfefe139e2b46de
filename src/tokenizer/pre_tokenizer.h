// Regex pre-tokenization for byte-level BPE: text is cut into pieces before merging, so that
// merges never cross word, digit or whitespace boundaries the model was trained with.
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace tokenmill {

// The regex sequence of a named pre-tokenizer (GGUF tokenizer.ggml.pre). "default" and "" are
// GPT-2's. Throws Error naming an unknown name.
std::vector<std::string> pre_tokenizer_regexes(std::string_view pre_name);

// True for the names whose BPE skips merging a pre-token that is itself a token (Llama 3).
bool pre_tokenizer_ignores_merges(std::string_view pre_name);

// A sequence of PCRE2 regexes (UTF + Unicode properties). Each regex splits every piece produced
// by the previous one into its matches and the text between them (HF's Split "Isolated").
// Immutable after construction; split() may be called from several threads.
class PreTokenizer {
 public:
  // Throws Error naming the regex and PCRE2's message when one does not compile.
  explicit PreTokenizer(const std::vector<std::string>& regexes);

  // text must be valid UTF-8. Returns views into text, in order, covering it exactly.
  std::vector<std::string_view> split(std::string_view text) const;

 private:
  struct CompiledRegex;
  std::vector<std::shared_ptr<const CompiledRegex>> regexes_;
};

}  // namespace tokenmill

namespace tokenmill {

// The canonical name of a named set equal to `regexes` ("gpt2", "llama3", ...), or "" if none.
std::string pre_tokenizer_name_for(const std::vector<std::string>& regexes);

// `literal` escaped for use inside a PCRE2 pattern.
std::string regex_escape(std::string_view literal);

}  // namespace tokenmill
