#include <algorithm>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer_loaders.h"

namespace tokenmill {
namespace {

int32_t optional_id(const GgufFile& gguf, std::string_view key, int32_t fallback,
                    size_t n_vocab) {
  const std::optional<int64_t> value = gguf.get_int(key);
  if (!value) return fallback;
  // Some converters write -1 or an out-of-range id for "none".
  if (*value < 0 || *value >= static_cast<int64_t>(n_vocab)) {
    check(*value == -1 || *value == 0xFFFFFFFF,
          gguf.path() + ": " + std::string(key) + " = " + std::to_string(*value) +
              " is outside the " + std::to_string(n_vocab) + "-token vocabulary");
    return -1;
  }
  return static_cast<int32_t>(*value);
}

}  // namespace

TokenizerSpec spec_from_gguf(const GgufFile& gguf) {
  const std::string& path = gguf.path();
  const std::optional<std::string> model = gguf.get_string("tokenizer.ggml.model");
  check(model.has_value(), path + ": tokenizer.ggml.model is missing");

  TokenizerSpec spec;
  if (*model == "llama") {
    spec.model = TokenizerModel::spm;
  } else if (*model == "gpt2") {
    spec.model = TokenizerModel::bpe;
    spec.byte_level = true;
  } else {
    throw Error(path + ": tokenizer.ggml.model '" + *model +
                "' is not supported (expected 'llama' or 'gpt2')");
  }

  std::optional<std::vector<std::string>> tokens = gguf.get_string_array("tokenizer.ggml.tokens");
  check(tokens.has_value() && !tokens->empty(), path + ": tokenizer.ggml.tokens is missing or empty");
  spec.tokens = std::move(*tokens);
  const size_t n = spec.tokens.size();

  if (auto scores = gguf.get_float_array("tokenizer.ggml.scores")) {
    check(scores->size() == n, path + ": tokenizer.ggml.scores has " +
                                   std::to_string(scores->size()) + " entries for " +
                                   std::to_string(n) + " tokens");
    spec.scores = std::move(*scores);
  }
  if (auto types = gguf.get_int_array("tokenizer.ggml.token_type")) {
    check(types->size() == n, path + ": tokenizer.ggml.token_type has " +
                                  std::to_string(types->size()) + " entries for " +
                                  std::to_string(n) + " tokens");
    spec.types.reserve(n);
    for (size_t i = 0; i < n; ++i) {
      const int64_t t = (*types)[i];
      check(t >= 0 && t <= 6, path + ": tokenizer.ggml.token_type[" + std::to_string(i) +
                                  "] = " + std::to_string(t) + " is not a token type (0..6)");
      spec.types.push_back(static_cast<TokenType>(t));
    }
  }

  if (spec.model == TokenizerModel::bpe) {
    std::optional<std::vector<std::string>> merges = gguf.get_string_array("tokenizer.ggml.merges");
    check(merges.has_value(), path + ": tokenizer.ggml.merges is missing (needed by 'gpt2')");
    spec.merges.reserve(merges->size());
    for (size_t i = 0; i < merges->size(); ++i) {
      const std::string& merge = (*merges)[i];
      // Pieces are separated by one space; search from 1 so a piece may itself start with one.
      const size_t space = merge.size() > 1 ? merge.find(' ', 1) : std::string::npos;
      check(space != std::string::npos, path + ": tokenizer.ggml.merges[" + std::to_string(i) +
                                            "] is not two pieces separated by a space");
      spec.merges.emplace_back(merge.substr(0, space), merge.substr(space + 1));
    }
    spec.pre_name = gguf.get_string("tokenizer.ggml.pre").value_or("default");
    spec.ignore_merges = pre_tokenizer_ignores_merges(spec.pre_name);  // Error if unknown
  } else {
    spec.pre_name = gguf.get_string("tokenizer.ggml.pre").value_or("default");
  }

  const bool spm = spec.model == TokenizerModel::spm;
  // SentencePiece vocabularies conventionally have <unk>=0, <s>=1, </s>=2 when keys are absent.
  spec.bos_id = optional_id(gguf, "tokenizer.ggml.bos_token_id", spm && n > 1 ? 1 : -1, n);
  spec.eos_id = optional_id(gguf, "tokenizer.ggml.eos_token_id", spm && n > 2 ? 2 : -1, n);
  spec.unk_id = optional_id(gguf, "tokenizer.ggml.unknown_token_id", spm ? 0 : -1, n);
  spec.eot_id = optional_id(gguf, "tokenizer.ggml.eot_token_id", -1, n);
  spec.eom_id = optional_id(gguf, "tokenizer.ggml.eom_token_id", -1, n);
  spec.pad_id = optional_id(gguf, "tokenizer.ggml.padding_token_id", -1, n);
  spec.add_bos = gguf.get_bool("tokenizer.ggml.add_bos_token").value_or(spm) && spec.bos_id >= 0;
  spec.add_eos = gguf.get_bool("tokenizer.ggml.add_eos_token").value_or(false) && spec.eos_id >= 0;
  const bool add_space_prefix = gguf.get_bool("tokenizer.ggml.add_space_prefix").value_or(spm);
  spec.space_prefix = add_space_prefix ? SpacePrefix::every_segment : SpacePrefix::none;
  spec.strip_leading_space_on_decode = spm && add_space_prefix;
  return spec;
}

}  // namespace tokenmill
