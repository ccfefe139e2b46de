#include "model/weights.h"

#include <algorithm>
#include <regex>

#include "core/error.h"
#include "core/mapped_file.h"
#include "kernels/kernel_table.h"
#include "kernels/ops.h"
#include "kernels/repack.h"

namespace tokenmill {

namespace {

std::string shape_str(const std::vector<int64_t>& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.size(); ++i) out += (i ? ", " : "") + std::to_string(s[i]);
  return out + "]";
}

class Binder {
 public:
  Binder(const TensorLookup& lookup, const std::string& source, size_t& total_bytes)
      : lookup_(lookup), source_(source), total_bytes_(total_bytes) {}

  const TensorInfo* find(const std::string& name) const { return lookup_(name); }

  const TensorInfo& require(const std::string& name, std::vector<int64_t> shape) {
    const TensorInfo* t = lookup_(name);
    check(t != nullptr, source_ + ": missing tensor '" + name + "'");
    check(t->shape == shape, source_ + ": tensor '" + name + "' has shape " + shape_str(t->shape) +
                                 ", expected " + shape_str(shape));
    check(t->dtype == DType::F32 || t->dtype == DType::F16 || t->dtype == DType::BF16 ||
              dtype_is_quantized(t->dtype),
          source_ + ": tensor '" + name + "' has unsupported type " + std::string(dtype_name(t->dtype)));
    check(!dtype_is_quantized(t->dtype) || shape.back() % int64_t(dtype_block_elements(t->dtype)) == 0,
          source_ + ": tensor '" + name + "' of type " + std::string(dtype_name(t->dtype)) +
              " has rows of " + std::to_string(shape.back()) + " elements, not whole blocks");
    total_bytes_ += t->nbytes;
    return *t;
  }

  MatrixRef matrix(const std::string& name, int64_t rows, int64_t cols) {
    const TensorInfo& t = require(name, {rows, cols});
    return MatrixRef{t.data, t.dtype, rows, cols};
  }

  std::vector<float> vector(const std::string& name, int64_t n) {
    const TensorInfo& t = require(name, {n});
    std::vector<float> out(static_cast<size_t>(n));
    kernels::to_f32(out.data(), t.data, t.dtype, size_t(n));
    return out;
  }

 private:
  const TensorLookup& lookup_;
  const std::string& source_;
  size_t& total_bytes_;
};

}  // namespace

ModelWeights bind_weights(const ModelConfig& c, const TensorLookup& lookup, const std::string& source) {
  ModelWeights w;
  Binder b(lookup, source, w.total_bytes);
  w.token_embd = b.matrix("token_embd.weight", c.vocab_size, c.dim);
  w.output_norm = b.vector("output_norm.weight", c.dim);
  if (c.tied_embeddings && b.find("output.weight") == nullptr) {
    w.output = w.token_embd;
  } else {
    w.output = b.matrix("output.weight", c.vocab_size, c.dim);
  }
  if (b.find("rope_freqs.weight") != nullptr) w.rope_freq_factors = b.vector("rope_freqs.weight", c.head_dim / 2);
  for (int64_t l = 0; l < c.n_layers; ++l) {
    const std::string p = "blk." + std::to_string(l) + ".";
    LayerWeights L;
    L.attn_norm = b.vector(p + "attn_norm.weight", c.dim);
    L.wq = b.matrix(p + "attn_q.weight", c.q_dim(), c.dim);
    L.wk = b.matrix(p + "attn_k.weight", c.kv_dim(), c.dim);
    L.wv = b.matrix(p + "attn_v.weight", c.kv_dim(), c.dim);
    L.wo = b.matrix(p + "attn_output.weight", c.dim, c.q_dim());
    if (c.qkv_bias) {
      L.bq = b.vector(p + "attn_q.bias", c.q_dim());
      L.bk = b.vector(p + "attn_k.bias", c.kv_dim());
      L.bv = b.vector(p + "attn_v.bias", c.kv_dim());
    }
    if (c.qk_norm) {
      L.q_norm = b.vector(p + "attn_q_norm.weight", c.head_dim);
      L.k_norm = b.vector(p + "attn_k_norm.weight", c.head_dim);
    }
    L.ffn_norm = b.vector(p + "ffn_norm.weight", c.dim);
    L.w_gate = b.matrix(p + "ffn_gate.weight", c.ffn_dim, c.dim);
    L.w_up = b.matrix(p + "ffn_up.weight", c.ffn_dim, c.dim);
    L.w_down = b.matrix(p + "ffn_down.weight", c.dim, c.ffn_dim);
    w.layers.push_back(std::move(L));
  }
  return w;
}

std::optional<std::string> gguf_name_of_hf(const std::string& n) {
  if (n == "model.embed_tokens.weight") return "token_embd.weight";
  if (n == "model.norm.weight") return "output_norm.weight";
  if (n == "lm_head.weight") return "output.weight";
  static const std::regex layer_re(R"(model\.layers\.(\d+)\.(.+))");
  std::smatch m;
  if (!std::regex_match(n, m, layer_re)) return std::nullopt;
  const std::string blk = "blk." + m[1].str() + ".";
  const std::string rest = m[2].str();
  static const std::pair<const char*, const char*> table[] = {
      {"input_layernorm.weight", "attn_norm.weight"},
      {"self_attn.q_proj.weight", "attn_q.weight"},
      {"self_attn.k_proj.weight", "attn_k.weight"},
      {"self_attn.v_proj.weight", "attn_v.weight"},
      {"self_attn.o_proj.weight", "attn_output.weight"},
      {"self_attn.q_proj.bias", "attn_q.bias"},
      {"self_attn.k_proj.bias", "attn_k.bias"},
      {"self_attn.v_proj.bias", "attn_v.bias"},
      {"self_attn.q_norm.weight", "attn_q_norm.weight"},
      {"self_attn.k_norm.weight", "attn_k_norm.weight"},
      {"post_attention_layernorm.weight", "ffn_norm.weight"},
      {"mlp.gate_proj.weight", "ffn_gate.weight"},
      {"mlp.up_proj.weight", "ffn_up.weight"},
      {"mlp.down_proj.weight", "ffn_down.weight"},
  };
  for (const auto& [hf, gg] : table)
    if (rest == hf) return blk + gg;
  return std::nullopt;
}

namespace {

// The matrices multiplied in the forward pass with their GGUF names: every layer's, then the LM head.
// Weights: ModelWeights or const ModelWeights; fn(matrix, name).
template <class Weights, class Fn>
void for_each_matmul_matrix(Weights& w, const Fn& fn) {
  for (size_t l = 0; l < w.layers.size(); ++l) {
    auto& L = w.layers[l];
    const std::string p = "blk." + std::to_string(l) + ".";
    fn(L.wq, p + "attn_q.weight");
    fn(L.wk, p + "attn_k.weight");
    fn(L.wv, p + "attn_v.weight");
    fn(L.wo, p + "attn_output.weight");
    fn(L.w_gate, p + "ffn_gate.weight");
    fn(L.w_up, p + "ffn_up.weight");
    fn(L.w_down, p + "ffn_down.weight");
  }
  fn(w.output,
     std::string(w.output.data == w.token_embd.data ? "token_embd.weight (tied output)" : "output.weight"));
}

}  // namespace

size_t use_float_activations(ModelWeights& w, bool required, const std::string& source) {
  size_t count = 0;
  for_each_matmul_matrix(w, [&](MatrixRef& m, const std::string& name) {
    if (!dtype_is_quantized(m.dtype)) return;
    const std::string type(dtype_name(m.dtype));
    check(!kernels::dtype_is_repacked(m.dtype), source + ": tensor '" + name + "' is already repacked to " +
                                                    type + "; choose activations before repacking");
    if (kernels::has_float_act_matmul(m.dtype)) {
      m.activations = ActivationPrecision::Float;
      ++count;
    } else if (required) {
      throw Error(source + ": float activations were requested, but tensor '" + name + "' is " + type +
                  ", which has no float-activation kernel (Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 have one): "
                  "choose int8 or auto activations, or quantize it to one of those types");
    }
  });
  return count;
}

std::string ActivationUse::mode() const {
  if (float_matrices > 0 && int8_matrices > 0) return "float+int8";
  if (float_matrices > 0) return "float";
  if (int8_matrices > 0) return "int8";
  return "none";
}

std::string ActivationUse::describe() const {
  const auto matrices = [](size_t n) {
    return std::to_string(n) + (n == 1 ? " quantized matrix" : " quantized matrices");
  };
  std::string types;
  for (DType t : int8_types) types += (types.empty() ? "" : ", ") + std::string(dtype_name(t));
  if (float_matrices > 0 && int8_matrices > 0)
    return "float+int8: " + matrices(float_matrices) + " x f32 activations, " + matrices(int8_matrices) +
           " (" + types + ", no float-activation kernel) x int8 activation blocks";
  if (float_matrices > 0) return "float: " + matrices(float_matrices) + " x f32 activations";
  if (int8_matrices > 0) return "int8: " + matrices(int8_matrices) + " x int8 activation blocks";
  return "none: no quantized matrix (f32 activations throughout)";
}

ActivationUse activation_use(const ModelWeights& weights) {
  ActivationUse u;
  for_each_matmul_matrix(weights, [&u](const MatrixRef& m, const std::string&) {
    if (!dtype_is_quantized(m.dtype)) return;
    if (m.activations == ActivationPrecision::Float) {
      ++u.float_matrices;
      return;
    }
    ++u.int8_matrices;
    const DType t = kernels::repack_base_dtype(m.dtype);
    if (std::find(u.int8_types.begin(), u.int8_types.end(), t) == u.int8_types.end())
      u.int8_types.push_back(t);
  });
  return u;
}

size_t repack_weights(ModelWeights& w, ThreadPool& pool, bool release_mapped_source) {
  if (!kernels::active_kernel_table().prefers_repacked) return 0;
  size_t count = 0;
  auto repack = [&](MatrixRef& m) {
    if (m.data == w.token_embd.data || m.activations == ActivationPrecision::Float ||
        !kernels::repack_supported(m.dtype, size_t(m.rows), size_t(m.cols)))
      return;
    auto buffer = std::make_shared<const AlignedBuffer>(
        kernels::repack_matrix(m.data, m.dtype, size_t(m.rows), size_t(m.cols), pool));
    if (release_mapped_source) release_mapped_pages(m.data, m.nbytes());
    m.data = buffer->data();
    m.dtype = kernels::repacked_dtype(m.dtype);
    w.repacked_bytes += buffer->size();
    w.repacked.push_back(std::move(buffer));
    ++count;
  };
  for (LayerWeights& L : w.layers)
    for (MatrixRef* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) repack(*m);
  repack(w.output);
  return count;
}

}  // namespace tokenmill
