// Building a TokenizerSpec from model files.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>

#include "tokenizer/tokenizer_spec.h"

namespace tokenmill {

class GgufFile;

// From GGUF metadata (tokenizer.ggml.*). tokenizer.ggml.model "llama" -> SentencePiece-style,
// "gpt2" -> byte-level BPE with the pre-tokenizer named by tokenizer.ggml.pre. Throws Error
// ("<path>: tokenizer.ggml.x ...") for missing or inconsistent keys and unsupported models.
TokenizerSpec spec_from_gguf(const GgufFile& gguf);

// From a Hugging Face tokenizer.json (model type BPE: byte-level, or byte-fallback with
// Metaspace / Prepend+Replace as in Llama 2). tokenizer_config (tokenizer_config.json, may be
// null) supplies bos_token / eos_token names and add_bos_token / add_eos_token overrides.
// Throws Error naming any construct it does not support.
TokenizerSpec spec_from_tokenizer_json(const std::string& path,
                                       const nlohmann::json* tokenizer_config);

// A .gguf file, a tokenizer.json file, or a directory with tokenizer.json (and, if present,
// tokenizer_config.json next to it).
TokenizerSpec load_tokenizer_spec(const std::string& path);

}  // namespace tokenmill
