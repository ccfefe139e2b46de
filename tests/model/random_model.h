// A random-weight Llama-family model built in memory for model tests: every matrix is drawn in f32
// and can be re-encoded (F16, BF16 or a quantized type) while keeping the f32 values it came from.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <deque>
#include <random>
#include <vector>

#include "core/dtype.h"
#include "kernels/ops.h"
#include "kernels/quantize_weights.h"
#include "model/forward_batch.h"
#include "model/model_config.h"
#include "model/weights.h"

namespace tokenmill::testing {

struct RandomModelShape {
  int64_t vocab = 50, dim = 32, n_layers = 2, n_heads = 4, n_kv_heads = 2, head_dim = 8, ffn = 48;
  int32_t max_context = 64;
  float weight_std = 0.1f;  // of every matrix element
  bool qwen_like = false;  // qkv bias, q/k norm, NeoX rope, no sliding window
};

struct RandomModel {
  ModelConfig cfg;
  std::deque<std::vector<std::byte>> storage;  // owns every matrix (deque: stable addresses)
  ModelWeights w;

  // Matrices point into storage: not copyable (a copy would alias the original's buffers).
  RandomModel(const RandomModel&) = delete;
  RandomModel& operator=(const RandomModel&) = delete;

  RandomModel(const RandomModelShape& s, uint32_t seed) {
    cfg.architecture = s.qwen_like ? "qwen3" : "llama";
    cfg.vocab_size = s.vocab;
    cfg.dim = s.dim;
    cfg.n_layers = s.n_layers;
    cfg.n_heads = s.n_heads;
    cfg.n_kv_heads = s.n_kv_heads;
    cfg.head_dim = s.head_dim;
    cfg.ffn_dim = s.ffn;
    cfg.max_context = s.max_context;
    cfg.qkv_bias = s.qwen_like;
    cfg.qk_norm = s.qwen_like;
    cfg.sliding_window = s.qwen_like ? 0 : 6;
    cfg.rope_style = s.qwen_like ? kernels::RopeStyle::NeoxHalves : kernels::RopeStyle::Interleaved;
    cfg.validate("test");
    std::mt19937 rng(seed);
    weight_std_ = s.weight_std;
    w.token_embd = matrix(cfg.vocab_size, cfg.dim, rng);
    w.output = matrix(cfg.vocab_size, cfg.dim, rng);
    w.output_norm = vec(cfg.dim, 1.0f, 0.1f, rng);
    for (int64_t l = 0; l < cfg.n_layers; ++l) {
      LayerWeights L;
      L.attn_norm = vec(cfg.dim, 1.0f, 0.1f, rng);
      L.wq = matrix(cfg.q_dim(), cfg.dim, rng);
      L.wk = matrix(cfg.kv_dim(), cfg.dim, rng);
      L.wv = matrix(cfg.kv_dim(), cfg.dim, rng);
      L.wo = matrix(cfg.dim, cfg.q_dim(), rng);
      if (s.qwen_like) {
        L.bq = vec(cfg.q_dim(), 0.0f, 0.1f, rng);
        L.bk = vec(cfg.kv_dim(), 0.0f, 0.1f, rng);
        L.bv = vec(cfg.kv_dim(), 0.0f, 0.1f, rng);
        L.q_norm = vec(cfg.head_dim, 1.0f, 0.1f, rng);
        L.k_norm = vec(cfg.head_dim, 1.0f, 0.1f, rng);
      }
      L.ffn_norm = vec(cfg.dim, 1.0f, 0.1f, rng);
      L.w_gate = matrix(cfg.ffn_dim, cfg.dim, rng);
      L.w_up = matrix(cfg.ffn_dim, cfg.dim, rng);
      L.w_down = matrix(cfg.dim, cfg.ffn_dim, rng);
      w.layers.push_back(std::move(L));
    }
  }

  // Every matrix of the model (embedding, LM head, layers).
  std::vector<MatrixRef*> matrices() {
    std::vector<MatrixRef*> out = {&w.token_embd, &w.output};
    for (LayerWeights& L : w.layers)
      for (MatrixRef* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down}) out.push_back(m);
    return out;
  }

  // Re-encodes every f32 matrix as `to` (F16, BF16 or quantized). Matrices must still be F32.
  void encode(DType to) {
    for (MatrixRef* m : matrices()) *m = encoded(*m, to);
  }

  // Replaces every matrix by its f32 decoding (the values the encoded model computes with).
  void decode_to_f32() {
    for (MatrixRef* m : matrices()) {
      std::vector<std::byte> bytes(size_t(m->rows * m->cols) * sizeof(float));
      auto* out = reinterpret_cast<float*>(bytes.data());
      for (int64_t r = 0; r < m->rows; ++r)
        kernels::to_f32(out + r * m->cols, static_cast<const std::byte*>(m->data) + size_t(r) * m->row_bytes(),
                        m->dtype, size_t(m->cols));
      storage.push_back(std::move(bytes));
      *m = MatrixRef{storage.back().data(), DType::F32, m->rows, m->cols};
    }
  }

 private:
  float weight_std_ = 0.1f;

  MatrixRef matrix(int64_t rows, int64_t cols, std::mt19937& rng) {
    std::normal_distribution<float> d(0.0f, weight_std_);
    std::vector<std::byte> bytes(size_t(rows * cols) * sizeof(float));
    auto* f = reinterpret_cast<float*>(bytes.data());
    for (int64_t i = 0; i < rows * cols; ++i) f[i] = d(rng);
    storage.push_back(std::move(bytes));
    return MatrixRef{storage.back().data(), DType::F32, rows, cols};
  }

  MatrixRef encoded(const MatrixRef& m, DType to) {
    const auto* src = static_cast<const float*>(m.data);
    const size_t n = size_t(m.cols), row_bytes = dtype_row_bytes(to, n);
    std::vector<std::byte> bytes(size_t(m.rows) * row_bytes);
    for (int64_t r = 0; r < m.rows; ++r) {
      const float* x = src + r * m.cols;
      std::byte* dst = bytes.data() + size_t(r) * row_bytes;
      if (dtype_is_quantized(to)) {
        kernels::quantize_row(to, x, dst, n);
      } else if (to == DType::F32) {
        std::memcpy(dst, x, n * sizeof(float));
      } else {
        auto* h = reinterpret_cast<uint16_t*>(dst);
        for (size_t i = 0; i < n; ++i) h[i] = to == DType::F16 ? f32_to_fp16(x[i]) : f32_to_bf16(x[i]);
      }
    }
    storage.push_back(std::move(bytes));
    return MatrixRef{storage.back().data(), to, m.rows, m.cols};
  }

  static std::vector<float> vec(int64_t n, float mean, float sd, std::mt19937& rng) {
    std::normal_distribution<float> d(mean, sd);
    std::vector<float> v(static_cast<size_t>(n));
    for (float& x : v) x = d(rng);
    return v;
  }
};

// Appends tokens ids[first .. first+n) of one sequence whose KV blocks are `table` (block_size
// slots each), with logits for every row.
inline void add_sequence(ForwardBatch& b, const std::vector<int32_t>& ids, int32_t first, int32_t n,
                         const std::vector<int32_t>& table, int32_t block_size) {
  SequenceInBatch s;
  s.token_begin = int32_t(b.token_ids.size());
  s.n_tokens = n;
  s.n_context = first + n;
  s.block_table = table;
  for (int32_t p = first; p < first + n; ++p) {
    b.token_ids.push_back(ids[size_t(p)]);
    b.positions.push_back(p);
    b.slot_mapping.push_back(table[size_t(p / block_size)] * block_size + p % block_size);
    b.logits_rows.push_back(int32_t(b.token_ids.size()) - 1);
  }
  b.seqs.push_back(std::move(s));
}

}  // namespace tokenmill::testing
