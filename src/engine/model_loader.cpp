#include "engine/model_loader.h"

#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>

#include "core/error.h"

namespace tokenmill {

ModelFiles open_model_files(const std::string& path) {
  namespace fs = std::filesystem;
  ModelFiles files;
  files.path = path;
  std::error_code ec;
  const auto status = fs::status(path, ec);
  check(!ec && fs::exists(status), path + ": no such file or directory");
  if (fs::is_directory(status)) {
    files.hf = std::make_unique<HfCheckpoint>(path);
  } else if (is_gguf_file(path)) {
    files.gguf = std::make_unique<GgufFile>(path);
  } else {
    throw Error(path + ": not a GGUF file (bad magic) nor a Hugging Face checkpoint directory");
  }
  return files;
}

std::unique_ptr<Tokenizer> load_tokenizer(const ModelFiles& files) {
  if (files.gguf) return std::make_unique<Tokenizer>(spec_from_gguf(*files.gguf));
  const auto tok_path = files.hf->tokenizer_json_path();
  check(tok_path.has_value(), files.path + ": no tokenizer.json in the checkpoint directory");
  const auto& tc = files.hf->tokenizer_config();
  return std::make_unique<Tokenizer>(spec_from_tokenizer_json(*tok_path, tc ? &*tc : nullptr));
}

namespace {

GenerationDefaults generation_defaults(const std::optional<nlohmann::json>& gc) {
  GenerationDefaults d;
  if (!gc || !gc->is_object()) return d;
  const auto& j = *gc;
  auto num = [&](const char* k) -> std::optional<float> {
    if (j.contains(k) && j[k].is_number()) return j[k].get<float>();
    return std::nullopt;
  };
  d.temperature = num("temperature");
  d.top_p = num("top_p");
  d.min_p = num("min_p");
  d.repetition_penalty = num("repetition_penalty");
  if (j.contains("top_k") && j["top_k"].is_number_integer()) d.top_k = j["top_k"].get<int32_t>();
  if (j.contains("eos_token_id")) {
    const auto& e = j["eos_token_id"];
    if (e.is_number_integer()) d.eos_token_ids.push_back(e.get<int32_t>());
    if (e.is_array())
      for (const auto& x : e)
        if (x.is_number_integer()) d.eos_token_ids.push_back(x.get<int32_t>());
  }
  return d;
}

std::string chat_template_of_hf(const HfCheckpoint& hf) {
  const auto& tc = hf.tokenizer_config();
  if (!tc || !tc->contains("chat_template")) return "";
  const auto& t = (*tc)["chat_template"];
  if (t.is_string()) return t.get<std::string>();
  if (t.is_array()) {  // [{name, template}, ...]: use "default"
    for (const auto& e : t)
      if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
        return e["template"].get<std::string>();
  }
  return "";
}

// Auto: whether the file asks for float activations (throws for a value other than "float" / "int8").
bool file_asks_for_float_activations(const ModelFiles& files) {
  if (!files.gguf) return false;
  const std::optional<std::string> v = files.gguf->get_string(kActivationsKey);
  if (!v) return false;
  check(*v == "float" || *v == "int8",
        files.path + ": metadata " + kActivationsKey + " is '" + *v + "'; expected 'float' or 'int8'");
  return *v == "float";
}

}  // namespace

LoadedModel load_model(const std::string& path, const LoadOptions& options) {
  LoadedModel m;
  m.files = open_model_files(path);
  if (m.files.gguf) {
    const GgufFile& g = *m.files.gguf;
    m.config = config_from_gguf(g);
    // Tensor views are materialized once; the lookup hands out pointers into this map.
    auto infos = std::make_shared<std::map<std::string, TensorInfo>>();
    auto lookup = [&g, infos](const std::string& name) -> const TensorInfo* {
      if (auto it = infos->find(name); it != infos->end()) return &it->second;
      const GgufTensor* t = g.find_tensor(name);
      if (t == nullptr) return nullptr;
      return &infos->emplace(name, g.tensor_info(*t)).first->second;
    };
    m.weights = bind_weights(m.config, lookup, path);
    m.chat_template = g.get_string("tokenizer.chat_template").value_or("");
  } else {
    const HfCheckpoint& hf = *m.files.hf;
    m.config = config_from_hf(hf.config(), path);
    std::map<std::string, const TensorInfo*> by_gguf_name;
    for (const TensorInfo& t : hf.tensors())
      if (auto g = gguf_name_of_hf(t.name)) by_gguf_name[*g] = &t;
    auto lookup = [&by_gguf_name](const std::string& name) -> const TensorInfo* {
      auto it = by_gguf_name.find(name);
      return it == by_gguf_name.end() ? nullptr : it->second;
    };
    m.weights = bind_weights(m.config, lookup, path);
    m.chat_template = chat_template_of_hf(hf);
    m.generation = generation_defaults(hf.generation_config());
  }
  m.activations = options.activations;
  if (options.activations == ActivationMode::Float) {
    use_float_activations(m.weights, /*required=*/true, path);
  } else if (options.activations == ActivationMode::Auto && file_asks_for_float_activations(m.files)) {
    m.activations_from_file = true;
    use_float_activations(m.weights, /*required=*/false, path);
  }
  if (options.repack) {  // float-activation matrices stay in the file's layout
    ThreadPool pool(options.threads);
    repack_weights(m.weights, pool, /*release_mapped_source=*/true);
  }
  m.tokenizer = load_tokenizer(m.files);
  check(m.tokenizer->n_vocab() <= m.config.vocab_size,
        path + ": tokenizer has " + std::to_string(m.tokenizer->n_vocab()) + " tokens but the model only " +
            std::to_string(m.config.vocab_size));
  return m;
}

}  // namespace tokenmill
