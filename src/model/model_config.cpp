#include "model/model_config.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <numbers>

#include "core/error.h"
#include "formats/gguf.h"

namespace tokenmill {

void ModelConfig::validate(const std::string& source) const {
  auto positive = [&](int64_t v, const char* field) {
    check(v > 0, source + ": model config field '" + field + "' must be > 0, got " + std::to_string(v));
  };
  positive(vocab_size, "vocab_size");
  positive(dim, "hidden_size");
  positive(n_layers, "num_hidden_layers");
  positive(n_heads, "num_attention_heads");
  positive(n_kv_heads, "num_key_value_heads");
  positive(head_dim, "head_dim");
  positive(ffn_dim, "intermediate_size");
  positive(max_context, "max_position_embeddings");
  check(n_heads % n_kv_heads == 0, source + ": num_attention_heads (" + std::to_string(n_heads) +
                                       ") is not a multiple of num_key_value_heads (" +
                                       std::to_string(n_kv_heads) + ")");
  check(head_dim % 2 == 0 && head_dim <= 256,
        source + ": head_dim must be even and <= 256, got " + std::to_string(head_dim));
  check(rms_eps > 0 && std::isfinite(rms_eps), source + ": rms_norm_eps must be > 0");
  check(rope_theta > 0 && std::isfinite(rope_theta), source + ": rope_theta must be > 0");
  check(sliding_window >= 0, source + ": sliding_window must be >= 0");
  check(vocab_size < (int64_t(1) << 31) && dim < (int64_t(1) << 20) && n_layers < 10000 &&
            ffn_dim < (int64_t(1) << 24) && n_heads < 10000,
        source + ": model dimensions out of range");
  if (rope_scaling.type != RopeScalingType::None)
    check(rope_scaling.factor > 0, source + ": rope scaling factor must be > 0");
}

namespace {

std::string normalize_arch(const std::string& arch, const std::string& source) {
  if (arch == "llama" || arch == "mistral" || arch == "qwen2" || arch == "qwen3") return arch;
  throw Error(source + ": unsupported architecture '" + arch +
              "' (supported: llama, mistral, qwen2, qwen3)");
}

}  // namespace

ModelConfig config_from_gguf(const GgufFile& gguf) {
  const std::string& src = gguf.path();
  const auto arch_opt = gguf.get_string("general.architecture");
  check(arch_opt.has_value(), src + ": missing metadata 'general.architecture'");
  ModelConfig c;
  c.architecture = normalize_arch(*arch_opt, src);
  const std::string a = *arch_opt + ".";
  auto req_int = [&](const std::string& key) -> int64_t {
    const auto v = gguf.get_int(key);
    check(v.has_value(), src + ": missing metadata '" + key + "'");
    return *v;
  };
  c.name = gguf.get_string("general.name").value_or("");
  c.dim = req_int(a + "embedding_length");
  c.n_layers = req_int(a + "block_count");
  c.n_heads = req_int(a + "attention.head_count");
  c.n_kv_heads = gguf.get_int(a + "attention.head_count_kv").value_or(c.n_heads);
  c.ffn_dim = req_int(a + "feed_forward_length");
  c.max_context = req_int(a + "context_length");
  c.head_dim = gguf.get_int(a + "attention.key_length").value_or(c.n_heads > 0 ? c.dim / c.n_heads : 0);
  const int64_t value_dim = gguf.get_int(a + "attention.value_length").value_or(c.head_dim);
  check(value_dim == c.head_dim, src + ": attention.value_length != key_length is not supported");
  c.rms_eps = float(gguf.get_float(a + "attention.layer_norm_rms_epsilon").value_or(1e-5));
  c.rope_theta = float(gguf.get_float(a + "rope.freq_base").value_or(10000.0));
  c.sliding_window = gguf.get_int(a + "attention.sliding_window").value_or(0);
  if (const auto t = gguf.get_string(a + "rope.scaling.type"); t && *t != "none") {
    if (*t == "linear") {
      c.rope_scaling.type = RopeScalingType::Linear;
      c.rope_scaling.factor = float(gguf.get_float(a + "rope.scaling.factor").value_or(1.0));
    } else {
      throw Error(src + ": unsupported rope scaling type '" + *t + "'");
    }
  }
  const auto* tok_embd = gguf.find_tensor("token_embd.weight");
  check(tok_embd != nullptr, src + ": missing tensor 'token_embd.weight'");
  c.vocab_size = gguf.get_int(a + "vocab_size").value_or(tok_embd->ne.size() == 2 ? tok_embd->ne[1] : 0);
  c.tied_embeddings = gguf.find_tensor("output.weight") == nullptr;
  c.qkv_bias = gguf.find_tensor("blk.0.attn_q.bias") != nullptr;
  c.qk_norm = gguf.find_tensor("blk.0.attn_q_norm.weight") != nullptr;
  c.rope_style = (*arch_opt == "llama" || *arch_opt == "mistral") ? kernels::RopeStyle::Interleaved
                                                                   : kernels::RopeStyle::NeoxHalves;
  c.validate(src);
  return c;
}

ModelConfig config_from_hf(const nlohmann::json& j, const std::string& source) {
  const std::string src = source + "/config.json";
  auto get_int = [&](const char* key, std::optional<int64_t> fallback) -> int64_t {
    if (j.contains(key) && !j[key].is_null()) {
      check(j[key].is_number_integer(), src + ": field '" + key + "' must be an integer");
      return j[key].get<int64_t>();
    }
    check(fallback.has_value(), src + ": missing field '" + key + "'");
    return *fallback;
  };
  auto get_float = [&](const char* key, double fallback) -> double {
    if (j.contains(key) && !j[key].is_null()) {
      check(j[key].is_number(), src + ": field '" + key + "' must be a number");
      return j[key].get<double>();
    }
    return fallback;
  };
  check(j.is_object(), src + ": expected a JSON object");
  check(j.contains("model_type") && j["model_type"].is_string(), src + ": missing field 'model_type'");
  ModelConfig c;
  c.architecture = normalize_arch(j["model_type"].get<std::string>(), src);
  c.name = source;
  c.vocab_size = get_int("vocab_size", std::nullopt);
  c.dim = get_int("hidden_size", std::nullopt);
  c.n_layers = get_int("num_hidden_layers", std::nullopt);
  c.n_heads = get_int("num_attention_heads", std::nullopt);
  c.n_kv_heads = get_int("num_key_value_heads", c.n_heads);
  c.head_dim = get_int("head_dim", c.n_heads > 0 ? c.dim / c.n_heads : 0);
  c.ffn_dim = get_int("intermediate_size", std::nullopt);
  c.max_context = get_int("max_position_embeddings", 2048);
  c.rms_eps = float(get_float("rms_norm_eps", 1e-6));
  c.rope_theta = float(get_float("rope_theta", 10000.0));
  c.tied_embeddings = j.value("tie_word_embeddings", false);
  c.rope_style = kernels::RopeStyle::NeoxHalves;
  if (c.architecture == "qwen2") c.qkv_bias = true;
  if (c.architecture == "llama" && j.value("attention_bias", false)) c.qkv_bias = true;
  if (c.architecture == "qwen3") c.qk_norm = true;
  if (c.architecture == "mistral") {
    c.sliding_window = get_int("sliding_window", 0);
  } else if (c.architecture == "qwen2" || c.architecture == "qwen3") {
    // Qwen2/3 configs carry sliding_window but apply it only when use_sliding_window is true.
    if (j.value("use_sliding_window", false))
      throw Error(src + ": use_sliding_window=true is not supported for " + c.architecture);
  }
  // transformers >= 5 writes rope settings as "rope_parameters" {rope_type, rope_theta, ...};
  // older configs use top-level "rope_theta" and an optional "rope_scaling" object.
  const char* rope_key = j.contains("rope_parameters") && j["rope_parameters"].is_object() ? "rope_parameters"
                                                                                           : "rope_scaling";
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    const auto& rp = j["rope_parameters"];
    if (rp.contains("rope_theta")) {
      check(rp["rope_theta"].is_number(), src + ": field 'rope_parameters.rope_theta' must be a number");
      c.rope_theta = rp["rope_theta"].get<float>();
    }
  }
  if (j.contains(rope_key) && j[rope_key].is_object()) {
    const auto& rs = j[rope_key];
    const std::string type = rs.value("rope_type", rs.value("type", std::string("default")));
    if (type == "llama3") {
      c.rope_scaling.type = RopeScalingType::Llama3;
      c.rope_scaling.factor = rs.value("factor", 8.0f);
      c.rope_scaling.low_freq_factor = rs.value("low_freq_factor", 1.0f);
      c.rope_scaling.high_freq_factor = rs.value("high_freq_factor", 4.0f);
      c.rope_scaling.original_max_positions = rs.value("original_max_position_embeddings", int64_t(8192));
    } else if (type == "linear") {
      c.rope_scaling.type = RopeScalingType::Linear;
      c.rope_scaling.factor = rs.value("factor", 1.0f);
    } else if (type != "default") {
      throw Error(src + ": unsupported rope_scaling type '" + type + "'");
    }
  }
  c.validate(src);
  return c;
}

std::vector<float> rope_inv_freq(const ModelConfig& cfg, const std::vector<float>& freq_factors) {
  const int64_t half = cfg.head_dim / 2;
  std::vector<float> inv(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i) {
    double f = std::pow(double(cfg.rope_theta), -2.0 * double(i) / double(cfg.head_dim));
    const RopeScaling& rs = cfg.rope_scaling;
    if (rs.type == RopeScalingType::Linear) {
      f /= rs.factor;
    } else if (rs.type == RopeScalingType::Llama3) {
      // Long wavelengths are slowed by `factor`, short ones kept, the band between blended.
      const double old_ctx = double(rs.original_max_positions);
      const double low_wavelen = old_ctx / rs.low_freq_factor;
      const double high_wavelen = old_ctx / rs.high_freq_factor;
      const double wavelen = 2.0 * std::numbers::pi / f;
      if (wavelen > low_wavelen) {
        f /= rs.factor;
      } else if (wavelen >= high_wavelen) {
        const double smooth =
            (old_ctx / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
        f = (1.0 - smooth) * f / rs.factor + smooth * f;
      }
    }
    if (!freq_factors.empty()) f /= double(freq_factors[size_t(i)]);
    inv[size_t(i)] = float(f);
  }
  return inv;
}

}  // namespace tokenmill
