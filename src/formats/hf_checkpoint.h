// A Hugging Face model directory: config.json (required), optional tokenizer_config.json,
// generation_config.json and tokenizer.json, and weights in model.safetensors or in shards
// listed by model.safetensors.index.json ("weight_map": tensor name -> shard file name).
#pragma once
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "formats/gguf.h"  // is_gguf_file, for callers telling model paths apart
#include "formats/safetensors.h"
#include "formats/tensor_info.h"

namespace tokenmill {

class HfCheckpoint {
 public:
  // Throws Error naming the directory or file: directory missing, no config.json, invalid JSON
  // (with the parser's message), no weights, a shard missing, a mapped tensor absent from its
  // shard, a shard name that is not a plain file name.
  explicit HfCheckpoint(const std::string& dir);

  const std::string& dir() const { return dir_; }
  const nlohmann::json& config() const { return config_; }
  const std::optional<nlohmann::json>& tokenizer_config() const { return tokenizer_config_; }
  const std::optional<nlohmann::json>& generation_config() const { return generation_config_; }
  std::optional<std::string> tokenizer_json_path() const;

  // Tensors with supported dtypes, in shard order then data order; names unique.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const TensorInfo* find_tensor(std::string_view name) const;
  // find_tensor() or Error naming the tensor (absent, or present with an unsupported dtype).
  const TensorInfo& require_tensor(std::string_view name) const;
  // Names of the weight files that were opened, relative to dir().
  std::vector<std::string> shard_files() const;

 private:
  std::string dir_;
  nlohmann::json config_;
  std::optional<nlohmann::json> tokenizer_config_;
  std::optional<nlohmann::json> generation_config_;
  // unique_ptr: TensorInfo pointers into each mapping must not move with the vector.
  std::vector<std::unique_ptr<SafetensorsFile>> shards_;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, size_t, std::less<>> index_;
  // Mapped tensors whose dtype has no DType: name -> "shard: dtype" for require_tensor().
  std::map<std::string, std::string, std::less<>> unsupported_;
};

// Reads and parses a JSON file; Error with the parser's message when it is not valid JSON.
nlohmann::json read_json_file(const std::string& path);

}  // namespace tokenmill
