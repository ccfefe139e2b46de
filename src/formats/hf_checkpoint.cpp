#include "formats/hf_checkpoint.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/error.h"

namespace tokenmill {
namespace fs = std::filesystem;

namespace {

constexpr uintmax_t kMaxJsonBytes = uintmax_t(256) << 20;  // tokenizer.json files reach tens of MB

std::optional<nlohmann::json> read_optional_json(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  return read_json_file(path.string());
}

// A shard name from the index must name a file inside the checkpoint directory.
bool is_plain_file_name(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\\') == std::string::npos && name.find('\0') == std::string::npos;
}

}  // namespace

nlohmann::json read_json_file(const std::string& path) {
  std::error_code ec;
  check(fs::is_regular_file(path, ec), path + ": not a readable file");
  const uintmax_t size = fs::file_size(path, ec);
  check(!ec && size <= kMaxJsonBytes, path + ": JSON file larger than 256 MB");
  std::ifstream in(path, std::ios::binary);
  check(bool(in), path + ": cannot open");
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::exception& e) {
    throw Error(path + ": invalid JSON: " + e.what());
  }
}

HfCheckpoint::HfCheckpoint(const std::string& dir) : dir_(dir) {
  std::error_code ec;
  const fs::path root(dir);
  check(fs::is_directory(root, ec), dir + ": not a directory");
  const fs::path config_path = root / "config.json";
  check(fs::exists(config_path, ec), dir + ": no config.json (not a Hugging Face model directory)");
  config_ = read_json_file(config_path.string());
  check(config_.is_object(), config_path.string() + ": not a JSON object");
  tokenizer_config_ = read_optional_json(root / "tokenizer_config.json");
  generation_config_ = read_optional_json(root / "generation_config.json");

  // tensor name -> shard file name, in the index's (sorted) order
  std::vector<std::pair<std::string, std::string>> weight_map;
  const fs::path index_path = root / "model.safetensors.index.json";
  const fs::path single_path = root / "model.safetensors";
  const bool sharded = fs::exists(index_path, ec);
  if (sharded) {
    const nlohmann::json index = read_json_file(index_path.string());
    const auto it = index.is_object() ? index.find("weight_map") : index.end();
    check(index.is_object() && it != index.end() && it->is_object(),
          index_path.string() + ": no \"weight_map\" object");
    for (const auto& [name, shard] : it->items()) {
      check(shard.is_string(),
            index_path.string() + ": weight_map entry '" + name + "' is not a file name string");
      const std::string file = shard.get<std::string>();
      check(is_plain_file_name(file), index_path.string() + ": weight_map entry '" + name +
                                          "' names '" + file + "', not a file in the directory");
      weight_map.emplace_back(name, file);
    }
    check(!weight_map.empty(), index_path.string() + ": weight_map is empty");
  } else {
    const bool has_bin = fs::exists(root / "pytorch_model.bin", ec) ||
                         fs::exists(root / "pytorch_model.bin.index.json", ec);
    check(fs::exists(single_path, ec),
          dir + (has_bin ? ": only PyTorch .bin weights found; convert them to safetensors"
                         : ": no weights (expected model.safetensors or "
                           "model.safetensors.index.json)"));
  }

  std::map<std::string, size_t> shard_index;  // file name -> shards_ position
  auto open_shard = [&](const std::string& file) -> const SafetensorsFile& {
    const auto it = shard_index.find(file);
    if (it != shard_index.end()) return *shards_[it->second];
    const fs::path shard_path = root / file;
    check(fs::exists(shard_path, ec), dir + ": shard '" + file + "' listed in " +
                                          "model.safetensors.index.json does not exist");
    shards_.push_back(std::make_unique<SafetensorsFile>(shard_path.string()));
    shard_index.emplace(file, shards_.size() - 1);
    return *shards_.back();
  };

  auto add = [&](const TensorInfo& t) {
    index_.emplace(t.name, tensors_.size());
    tensors_.push_back(t);
  };
  if (sharded) {
    for (const auto& [name, file] : weight_map) {
      const SafetensorsFile& shard = open_shard(file);
      if (const TensorInfo* t = shard.find(name)) {
        add(*t);
        continue;
      }
      bool found = false;
      for (const SafetensorsFile::UnsupportedTensor& u : shard.unsupported())
        if (u.name == name) {
          unsupported_.emplace(name, shard.path() + ": dtype " + u.dtype);
          found = true;
        }
      check(found, shard.path() + ": tensor '" + name +
                       "' listed in model.safetensors.index.json is not in this shard");
    }
  } else {
    const SafetensorsFile& shard = open_shard(single_path.filename().string());
    for (const TensorInfo& t : shard.tensors()) add(t);
    for (const SafetensorsFile::UnsupportedTensor& u : shard.unsupported())
      unsupported_.emplace(u.name, shard.path() + ": dtype " + u.dtype);
  }
}

std::optional<std::string> HfCheckpoint::tokenizer_json_path() const {
  const fs::path p = fs::path(dir_) / "tokenizer.json";
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  return p.string();
}

const TensorInfo* HfCheckpoint::find_tensor(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const TensorInfo& HfCheckpoint::require_tensor(std::string_view name) const {
  if (const TensorInfo* t = find_tensor(name)) return *t;
  const auto it = unsupported_.find(name);
  if (it != unsupported_.end())
    throw Error(it->second + " of tensor '" + std::string(name) + "' is not supported");
  throw Error(dir_ + ": no tensor '" + std::string(name) + "'");
}

std::vector<std::string> HfCheckpoint::shard_files() const {
  std::vector<std::string> files;
  for (const auto& shard : shards_) files.push_back(fs::path(shard->path()).filename().string());
  return files;
}

}  // namespace tokenmill
