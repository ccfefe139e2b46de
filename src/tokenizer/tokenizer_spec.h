// TokenizerSpec: everything needed to build a Tokenizer, as plain data. Loaders fill it from GGUF
// metadata (tokenizer.ggml.*) or from a Hugging Face tokenizer.json; a converter can write every
// tokenizer.ggml.* key back from it.
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace tokenmill {

// Which segmentation algorithm runs on text between special tokens.
enum class TokenizerModel {
  spm,  // SentencePiece-style: score-priority merging of adjacent pieces ("llama" in GGUF)
  bpe,  // merge-rank BPE ("gpt2" in GGUF: byte-level; tokenizer.json BPE may also be non-byte)
};

// Values of GGUF's tokenizer.ggml.token_type.
enum class TokenType : int32_t {
  undefined = 0,
  normal = 1,
  unknown = 2,
  control = 3,       // special: BOS/EOS/chat markers; matched in text only with parse_special
  user_defined = 4,  // added tokens: always matched in text, decoded as their text
  unused = 5,
  byte = 6,  // "<0xXX>" byte-fallback pieces
};

// How the "▁" space prefix is added to each text segment (segments are the pieces of the input
// between special tokens). Used by SentencePiece-style vocabularies only.
enum class SpacePrefix {
  none,
  every_segment,                   // GGUF add_space_prefix; HF Prepend("▁") normalizer
  every_segment_unless_space,      // HF Metaspace prepend_scheme "always"
  first_segment_unless_space,      // HF Metaspace prepend_scheme "first"
};

// Options of an added token as in tokenizer.json (GGUF has no place for them: defaults apply).
struct AddedTokenOptions {
  int32_t id = -1;
  bool lstrip = false;  // swallow whitespace before the token when matching it in text
  bool rstrip = false;  // swallow whitespace after it
};

struct TokenizerSpec {
  TokenizerModel model = TokenizerModel::spm;

  // Vocabulary, indexed by token id. tokens are the raw piece strings as stored by the format:
  // SentencePiece pieces use "▁" for space; byte-level BPE pieces use the GPT-2 byte-to-unicode
  // alphabet ("Ġ" for space). scores may be empty (then all 0); types may be empty (all normal).
  std::vector<std::string> tokens;
  std::vector<float> scores;
  std::vector<TokenType> types;

  // BPE merges in rank order (rank 0 first), each as the two piece strings.
  std::vector<std::pair<std::string, std::string>> merges;

  // Pre-tokenizer. pre_name is the GGUF tokenizer.ggml.pre value ("gpt2", "llama-bpe", "qwen2",
  // "deepseek-llm", "deepseek-coder", "starcoder", "default", ...). When pre_regexes is non-empty
  // it is used instead of the named set: each regex splits every piece of the previous one,
  // keeping matches and the text between them as separate pieces (PCRE2 syntax, UTF mode).
  std::string pre_name = "default";
  std::vector<std::string> pre_regexes;

  // BPE options.
  bool byte_level = true;      // GPT-2 byte-to-unicode mapping of input bytes
  bool byte_fallback = false;  // characters missing from the vocabulary become <0xXX> tokens
  bool ignore_merges = false;  // a pre-token that is itself a token is not merged (Llama 3)
  bool metaspace_split = false;  // non-byte BPE: split segments before each "▁" (Metaspace split)
  // Unicode NFC normalization of text between special tokens (tokenizer.json normalizer "NFC",
  // e.g. Qwen2). GGUF has no key for it: like llama.cpp, GGUF vocabularies do not normalize.
  bool normalize_nfc = false;

  // Special ids; -1 when the vocabulary has none.
  int32_t bos_id = -1;
  int32_t eos_id = -1;
  int32_t eot_id = -1;
  int32_t eom_id = -1;
  int32_t unk_id = -1;
  int32_t pad_id = -1;
  bool add_bos = false;
  bool add_eos = false;
  SpacePrefix space_prefix = SpacePrefix::none;  // GGUF add_space_prefix == (!= none)
  // Strip one leading space from the first decoded piece (SentencePiece decoding; HF Strip or
  // Metaspace decoders). Loaders set it together with space_prefix.
  bool strip_leading_space_on_decode = false;

  // Added tokens with options; ids not listed here use defaults. Whether a token is special is
  // its type (control/unknown = special, user_defined = plain added token).
  std::vector<AddedTokenOptions> added_tokens;
};

}  // namespace tokenmill
