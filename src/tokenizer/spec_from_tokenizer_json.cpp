// Hugging Face tokenizer.json -> TokenizerSpec. Only the constructs that map exactly onto
// Tokenizer's algorithms are accepted; anything else is an Error naming the construct.
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "formats/gguf.h"
#include "tokenizer/pre_tokenizer.h"
#include "tokenizer/tokenizer_loaders.h"

namespace tokenmill {
namespace {

using nlohmann::json;

constexpr std::string_view kMetaspace = "\xE2\x96\x81";  // "▁"
constexpr int64_t kMaxVocab = 16 * 1024 * 1024;

// What the normalizer / pre-tokenizer / decoder / post-processor sections ask for.
struct Pipeline {
  bool prepend_metaspace = false;  // normalizer Prepend("▁")
  bool replace_spaces = false;     // normalizer Replace(" " -> "▁")
  bool nfc = false;                // normalizer NFC
  bool byte_level = false;         // a ByteLevel pre-tokenizer
  bool byte_level_prefix = false;  // its add_prefix_space
  std::vector<std::string> regexes;
  bool metaspace = false;
  std::string metaspace_scheme = "always";
  bool metaspace_split = true;
  bool strip_on_decode = false;
  std::vector<std::string> bos_names;  // TemplateProcessing specials before $A
  std::vector<std::string> eos_names;  // ... and after
  bool has_template = false;
};

std::string type_of(const json& node) {
  if (!node.is_object() || !node.contains("type") || !node["type"].is_string()) return "";
  return node["type"].get<std::string>();
}

[[noreturn]] void unsupported(const std::string& what) {
  throw Error("unsupported " + what);
}

void read_normalizer(const json& node, Pipeline& p) {
  if (node.is_null()) return;
  const std::string type = type_of(node);
  if (type == "Sequence") {
    for (const json& child : node.at("normalizers")) read_normalizer(child, p);
  } else if (type == "Prepend") {
    if (node.at("prepend").get<std::string>() != kMetaspace) unsupported("normalizer Prepend (not \"▁\")");
    p.prepend_metaspace = true;
  } else if (type == "Replace") {
    const json& pattern = node.at("pattern");
    if (!pattern.contains("String") || pattern["String"].get<std::string>() != " " ||
        node.at("content").get<std::string>() != kMetaspace) {
      unsupported("normalizer Replace (only \" \" -> \"▁\")");
    }
    p.replace_spaces = true;
  } else if (type == "NFC") {
    p.nfc = true;
  } else {
    unsupported("normalizer '" + type + "'");
  }
}

void read_pre_tokenizer(const json& node, Pipeline& p) {
  if (node.is_null()) return;
  const std::string type = type_of(node);
  if (type == "Sequence") {
    for (const json& child : node.at("pretokenizers")) read_pre_tokenizer(child, p);
  } else if (type == "ByteLevel") {
    p.byte_level = true;
    p.byte_level_prefix = node.value("add_prefix_space", false);
    if (node.value("use_regex", true)) {
      p.regexes.push_back(pre_tokenizer_regexes("gpt2").front());
    }
  } else if (type == "Split") {
    const json& pattern = node.at("pattern");
    if (pattern.contains("Regex")) {
      p.regexes.push_back(pattern["Regex"].get<std::string>());
    } else {
      p.regexes.push_back(regex_escape(pattern.at("String").get<std::string>()));
    }
    const std::string behavior = node.value("behavior", "Isolated");
    if (behavior != "Isolated") unsupported("pre-tokenizer Split behavior '" + behavior + "'");
    if (node.value("invert", false)) unsupported("pre-tokenizer Split with invert");
  } else if (type == "Digits") {
    p.regexes.push_back(node.value("individual_digits", false) ? R"(\p{N})" : R"(\p{N}+)");
  } else if (type == "Metaspace") {
    if (node.value("replacement", std::string(kMetaspace)) != kMetaspace) {
      unsupported("pre-tokenizer Metaspace replacement (only \"▁\")");
    }
    p.metaspace = true;
    if (node.contains("prepend_scheme")) {
      p.metaspace_scheme = node["prepend_scheme"].get<std::string>();
    } else if (node.contains("add_prefix_space")) {
      p.metaspace_scheme = node["add_prefix_space"].get<bool>() ? "always" : "never";
    }
    if (p.metaspace_scheme != "always" && p.metaspace_scheme != "first" &&
        p.metaspace_scheme != "never") {
      unsupported("Metaspace prepend_scheme '" + p.metaspace_scheme + "'");
    }
    p.metaspace_split = node.value("split", true);
  } else {
    unsupported("pre-tokenizer '" + type + "'");
  }
}

void read_decoder(const json& node, Pipeline& p) {
  if (node.is_null()) return;
  const std::string type = type_of(node);
  if (type == "Sequence") {
    for (const json& child : node.at("decoders")) read_decoder(child, p);
  } else if (type == "Strip") {
    const int64_t start = node.value("start", int64_t{0});
    if (node.value("content", std::string(" ")) != " " || start > 1 || node.value("stop", 0) != 0) {
      unsupported("decoder Strip (only one leading space)");
    }
    p.strip_on_decode = p.strip_on_decode || start == 1;
  } else if (type == "Metaspace") {
    const std::string scheme = node.contains("prepend_scheme")
                                   ? node["prepend_scheme"].get<std::string>()
                                   : (node.value("add_prefix_space", true) ? "always" : "never");
    p.strip_on_decode = p.strip_on_decode || scheme != "never";
  } else if (type == "Replace") {
    const json& pattern = node.at("pattern");
    if (!pattern.contains("String") || pattern["String"].get<std::string>() != kMetaspace ||
        node.at("content").get<std::string>() != " ") {
      unsupported("decoder Replace (only \"▁\" -> \" \")");
    }
  } else if (type != "ByteLevel" && type != "ByteFallback" && type != "Fuse") {
    unsupported("decoder '" + type + "'");
  }
}

void read_post_processor(const json& node, Pipeline& p) {
  if (node.is_null()) return;
  const std::string type = type_of(node);
  if (type == "Sequence") {
    for (const json& child : node.at("processors")) read_post_processor(child, p);
  } else if (type == "TemplateProcessing") {
    p.has_template = true;
    bool seen_sequence = false;
    for (const json& item : node.at("single")) {
      if (item.contains("Sequence")) {
        if (seen_sequence) unsupported("TemplateProcessing with two sequences in 'single'");
        seen_sequence = true;
      } else {
        const std::string name = item.at("SpecialToken").at("id").get<std::string>();
        (seen_sequence ? p.eos_names : p.bos_names).push_back(name);
      }
    }
    if (p.bos_names.size() > 1 || p.eos_names.size() > 1) {
      unsupported("TemplateProcessing with more than one special token on a side");
    }
    // Map template names to ids through special_tokens when given there.
    const json& specials = node.value("special_tokens", json::object());
    for (auto* names : {&p.bos_names, &p.eos_names}) {
      for (std::string& name : *names) {
        if (specials.contains(name)) {
          const json& tokens = specials[name].at("tokens");
          if (tokens.size() != 1) unsupported("TemplateProcessing special token with several ids");
          name = tokens[0].get<std::string>();
        }
      }
    }
  } else if (type != "ByteLevel") {
    unsupported("post-processor '" + type + "'");
  }
}

std::string token_name(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_object() && value.contains("content")) return value["content"].get<std::string>();
  return "";
}

int32_t id_of(const TokenizerSpec& spec, const std::string& piece) {
  if (piece.empty()) return -1;
  for (size_t i = 0; i < spec.tokens.size(); ++i) {
    if (spec.tokens[i] == piece && spec.types[i] != TokenType::unused) return static_cast<int32_t>(i);
  }
  return -1;
}

int32_t first_present(const TokenizerSpec& spec, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (const int32_t id = id_of(spec, name); id >= 0) return id;
  }
  return -1;
}

bool is_byte_piece(const std::string& piece) {
  const auto hex = [](char c) { return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'); };
  return piece.size() == 6 && piece.starts_with("<0x") && hex(piece[3]) && hex(piece[4]) &&
         piece[5] == '>';
}

TokenizerSpec build_spec(const json& root, const json* config) {
  const json& model = root.at("model");
  const std::string model_type = model.value("type", "BPE");
  if (model_type != "BPE") unsupported("model type '" + model_type + "' (only BPE)");
  if (!model.value("dropout", json()).is_null() && model["dropout"].get<double>() != 0.0) {
    unsupported("BPE dropout");
  }
  for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
    if (model.contains(key) && !model[key].is_null() && !model[key].get<std::string>().empty()) {
      unsupported(std::string("BPE ") + key);
    }
  }

  // Vocabulary: model.vocab plus added_tokens, indexed by id; ids missing from both are holes.
  const json& vocab = model.at("vocab");
  const json& added = root.value("added_tokens", json::array());
  int64_t max_id = -1;
  for (const auto& [piece, id] : vocab.items()) max_id = std::max(max_id, id.get<int64_t>());
  for (const json& token : added) max_id = std::max(max_id, token.at("id").get<int64_t>());
  check(max_id >= 0 && max_id < kMaxVocab, "token ids must be in [0, " + std::to_string(kMaxVocab) + ")");

  TokenizerSpec spec;
  spec.model = TokenizerModel::bpe;
  spec.tokens.assign(max_id + 1, "");
  spec.types.assign(max_id + 1, TokenType::unused);
  for (const auto& [piece, id] : vocab.items()) {
    const int64_t i = id.get<int64_t>();
    check(i >= 0, "model.vocab id of '" + piece + "' is negative");
    spec.tokens[i] = piece;
    spec.types[i] = TokenType::normal;
  }
  for (const json& token : added) {
    const int64_t i = token.at("id").get<int64_t>();
    check(i >= 0, "added_tokens id is negative");
    if (token.value("single_word", false)) unsupported("added token option single_word");
    spec.tokens[i] = token.at("content").get<std::string>();
    spec.types[i] = token.value("special", false) ? TokenType::control : TokenType::user_defined;
    spec.added_tokens.push_back(
        {static_cast<int32_t>(i), token.value("lstrip", false), token.value("rstrip", false)});
  }

  for (const json& merge : model.value("merges", json::array())) {
    if (merge.is_array()) {
      check(merge.size() == 2, "a merge must name two pieces");
      spec.merges.emplace_back(merge[0].get<std::string>(), merge[1].get<std::string>());
    } else {
      const std::string text = merge.get<std::string>();
      const size_t space = text.size() > 1 ? text.find(' ', 1) : std::string::npos;
      check(space != std::string::npos, "merge '" + text + "' is not two pieces separated by a space");
      spec.merges.emplace_back(text.substr(0, space), text.substr(space + 1));
    }
  }

  Pipeline p;
  read_normalizer(root.value("normalizer", json()), p);
  read_pre_tokenizer(root.value("pre_tokenizer", json()), p);
  read_decoder(root.value("decoder", json()), p);
  read_post_processor(root.value("post_processor", json()), p);

  spec.byte_fallback = model.value("byte_fallback", false);
  spec.ignore_merges = model.value("ignore_merges", false);
  if (p.byte_level) {
    if (p.metaspace || p.prepend_metaspace || p.replace_spaces) {
      unsupported("mix of ByteLevel and Metaspace/Replace");
    }
    spec.byte_level = true;
    // ByteLevel without a regex keeps each segment whole.
    spec.pre_regexes = p.regexes.empty() ? std::vector<std::string>{R"((?s:.+))"} : p.regexes;
    const std::string name = pre_tokenizer_name_for(spec.pre_regexes);
    spec.pre_name = name.empty() ? "custom" : name;
    spec.space_prefix = p.byte_level_prefix ? SpacePrefix::every_segment_unless_space : SpacePrefix::none;
  } else if (p.metaspace || p.replace_spaces) {
    if (!p.regexes.empty()) unsupported("Split/Digits pre-tokenizers without ByteLevel");
    spec.byte_level = false;
    spec.pre_name = "default";
    spec.metaspace_split = p.metaspace && p.metaspace_split;
    if (p.prepend_metaspace) {
      spec.space_prefix = SpacePrefix::every_segment;
    } else if (p.metaspace && p.metaspace_scheme == "always") {
      spec.space_prefix = SpacePrefix::every_segment_unless_space;
    } else if (p.metaspace && p.metaspace_scheme == "first") {
      spec.space_prefix = SpacePrefix::first_segment_unless_space;
    }
    for (size_t i = 0; i < spec.tokens.size(); ++i) {
      if (spec.byte_fallback && spec.types[i] == TokenType::normal && is_byte_piece(spec.tokens[i])) {
        spec.types[i] = TokenType::byte;
      }
    }
  } else {
    unsupported("BPE without a ByteLevel or Metaspace pre-tokenizer");
  }
  spec.strip_leading_space_on_decode = p.strip_on_decode;
  spec.normalize_nfc = p.nfc;

  if (model.contains("unk_token") && !model["unk_token"].is_null()) {
    spec.unk_id = id_of(spec, model["unk_token"].get<std::string>());
    if (spec.unk_id >= 0) spec.types[spec.unk_id] = TokenType::unknown;
  }

  // Special ids: the post-processor template first, then tokenizer_config.json, then names.
  if (!p.bos_names.empty()) spec.bos_id = id_of(spec, p.bos_names[0]);
  if (!p.eos_names.empty()) spec.eos_id = id_of(spec, p.eos_names[0]);
  spec.add_bos = spec.bos_id >= 0;
  spec.add_eos = spec.eos_id >= 0;
  if (config != nullptr && config->is_object()) {
    if (config->contains("bos_token")) {
      const int32_t id = id_of(spec, token_name((*config)["bos_token"]));
      if (id >= 0) spec.bos_id = id;
    }
    if (config->contains("eos_token")) {
      const int32_t id = id_of(spec, token_name((*config)["eos_token"]));
      if (id >= 0) spec.eos_id = id;
    }
    if (config->contains("pad_token")) spec.pad_id = id_of(spec, token_name((*config)["pad_token"]));
    if (config->contains("add_bos_token") && (*config)["add_bos_token"].is_boolean()) {
      spec.add_bos = (*config)["add_bos_token"].get<bool>() && spec.bos_id >= 0;
    }
    if (config->contains("add_eos_token") && (*config)["add_eos_token"].is_boolean()) {
      spec.add_eos = (*config)["add_eos_token"].get<bool>() && spec.eos_id >= 0;
    }
  }
  if (spec.bos_id < 0) spec.bos_id = first_present(spec, {"<s>", "<|begin_of_text|>", "<bos>", "<|startoftext|>"});
  if (spec.eos_id < 0) {
    spec.eos_id = first_present(spec, {"</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>", "<|im_end|>"});
  }
  spec.eot_id = first_present(spec, {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>"});
  return spec;
}

}  // namespace

TokenizerSpec spec_from_tokenizer_json(const std::string& path, const json* tokenizer_config) {
  std::ifstream in(path, std::ios::binary);
  check(in.good() && !std::filesystem::is_directory(path), path + ": cannot open tokenizer.json");
  try {
    const json root = json::parse(in);
    check(root.is_object(), "not a JSON object");
    return build_spec(root, tokenizer_config);
  } catch (const json::exception& e) {
    throw Error(path + ": " + e.what());
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

TokenizerSpec load_tokenizer_spec(const std::string& path) {
  namespace fs = std::filesystem;
  if (is_gguf_file(path)) return spec_from_gguf(GgufFile(path));
  const fs::path json_path = fs::is_directory(path) ? fs::path(path) / "tokenizer.json" : fs::path(path);
  const fs::path config_path = json_path.parent_path() / "tokenizer_config.json";
  json config;
  bool has_config = false;
  if (fs::is_regular_file(config_path)) {
    std::ifstream in(config_path, std::ios::binary);
    config = json::parse(in, nullptr, /*allow_exceptions=*/false);
    check(!config.is_discarded(), config_path.string() + ": not valid JSON");
    has_config = true;
  }
  return spec_from_tokenizer_json(json_path.string(), has_config ? &config : nullptr);
}

}  // namespace tokenmill
