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

// Activations of the quantized matrices (model/weights.h ActivationPrecision), chosen at load:
//   Auto:  int8 blocks, unless a GGUF file's string key tokenmill.activations is "float" (a model
//          exported from quantization-aware training sets it): then f32 for every matrix whose
//          type has a float-activation kernel, int8 for the others.
//   Int8:  int8 blocks for every quantized matrix (the fastest; W4A8 in effect for Q4_0).
//   Float: f32 for every quantized matrix; a matrix of a type without a float-activation kernel
//          (a K-quant) is an error naming it.
enum class ActivationMode { Auto, Int8, Float };
inline constexpr const char* kActivationsKey = "tokenmill.activations";

struct LoadedModel {
  ModelFiles files;
  ModelConfig config;
  ModelWeights weights;
  ActivationMode activations = ActivationMode::Auto;  // as requested
  bool activations_from_file = false;                 // Auto took float from the file's tokenmill.activations
  std::unique_ptr<Tokenizer> tokenizer;
  std::string chat_template;          // empty when the model ships none
  GenerationDefaults generation;
};

struct LoadOptions {
  // Repack Q4_0 / Q8_0 matrices at load where the active kernels prefer it (kernels/repack.h):
  // faster decode; the weights then live in this process's memory instead of the page cache.
  bool repack = true;
  int threads = 0;  // for repacking; 0 = all cores
  ActivationMode activations = ActivationMode::Auto;
};

// Opens `path` (GGUF file or HF directory). Throws Error naming the path and the problem.
ModelFiles open_model_files(const std::string& path);
// Tokenizer only (works on vocab-only GGUF files and HF directories without weights).
std::unique_ptr<Tokenizer> load_tokenizer(const ModelFiles& files);
// Everything: config, weights, tokenizer, template.
LoadedModel load_model(const std::string& path, const LoadOptions& options = {});

}  // namespace tokenmill
