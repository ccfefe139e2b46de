// Opens a model from a GGUF file or a Hugging Face checkpoint directory: normalized config, bound
// weights (mmapped, not copied), tokenizer, chat template and generation defaults.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "formats/gguf.h"
#include "formats/hf_checkpoint.h"
#include "model/model_config.h"
#include "model/weights.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/tokenizer_loaders.h"

namespace tokenmill {

struct GenerationDefaults {
  std::optional<float> temperature, top_p, min_p, repetition_penalty;
  std::optional<int32_t> top_k;
  std::vector<int32_t> eos_token_ids;  // from generation_config.json, added to the tokenizer's
};

struct ModelFiles {
  std::string path;
  std::unique_ptr<GgufFile> gguf;     // set for a GGUF file
  std::unique_ptr<HfCheckpoint> hf;   // set for a Hugging Face directory

  bool is_gguf() const { return gguf != nullptr; }
};

struct LoadedModel {
  ModelFiles files;
  ModelConfig config;
  ModelWeights weights;
  std::unique_ptr<Tokenizer> tokenizer;
  std::string chat_template;          // empty when the model ships none
  GenerationDefaults generation;
};

struct LoadOptions {
  // Repack Q4_0 / Q8_0 matrices at load where the active kernels prefer it (kernels/repack.h):
  // faster decode; the weights then live in this process's memory instead of the page cache.
  bool repack = true;
  int threads = 0;  // for repacking; 0 = all cores
};

// Opens `path` (GGUF file or HF directory). Throws Error naming the path and the problem.
ModelFiles open_model_files(const std::string& path);
// Tokenizer only (works on vocab-only GGUF files and HF directories without weights).
std::unique_ptr<Tokenizer> load_tokenizer(const ModelFiles& files);
// Everything: config, weights, tokenizer, template.
LoadedModel load_model(const std::string& path, const LoadOptions& options = {});

}  // namespace tokenmill
