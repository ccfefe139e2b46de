#include "model/llama.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "kernels/ops.h"

namespace tokenmill {
namespace {

// Elementwise work of a batch split by token rows over the pool (prefill); fn(t_begin, t_end).
// Small batches (decode) run on the calling thread, where waking the pool costs more.
template <class Fn>
void for_token_rows(ThreadPool& pool, size_t T, const Fn& fn) {
  constexpr size_t kMinRowsPerThread = 4;
  if (T < 2 * kMinRowsPerThread || pool.size() == 1) {
    fn(size_t(0), T);
    return;
  }
  pool.parallel_for(T, [&fn](size_t begin, size_t end, int) { fn(begin, end); });
}

}  // namespace

size_t LlamaModel::activation_bytes() const {
  const size_t floats = x_.size() + xb_.size() + q_.size() + k_.size() + v_.size() + att_.size() + gate_.size() +
                        up_.size() + out_.size();
  return floats * sizeof(float) + slots_.size() * sizeof(int32_t) + matmul_scratch_.size();
}

LlamaModel::LlamaModel(ModelConfig cfg, ModelWeights weights, int32_t max_batch_tokens)
    : cfg_(std::move(cfg)), w_(std::move(weights)), max_batch_tokens_(max_batch_tokens) {
  check(max_batch_tokens > 0, "max_batch_tokens must be > 0");
  inv_freq_ = rope_inv_freq(cfg_, w_.rope_freq_factors);
  const size_t T = size_t(max_batch_tokens);
  x_.resize(T * cfg_.dim);
  xb_.resize(T * cfg_.dim);
  q_.resize(T * cfg_.q_dim());
  k_.resize(T * cfg_.kv_dim());
  v_.resize(T * cfg_.kv_dim());
  att_.resize(T * cfg_.q_dim());
  gate_.resize(T * cfg_.ffn_dim);
  up_.resize(T * cfg_.ffn_dim);
  out_.resize(T * cfg_.dim);
  slots_.resize(size_t(cfg_.max_context));
  // Int8 activation blocks of the largest matrix that uses them (float activations need none).
  auto scratch_bytes = [T](const MatrixRef& m) {
    return uses_float_activations(m) ? size_t(0) : kernels::matmul_scratch_bytes(m.dtype, T, size_t(m.cols));
  };
  size_t scratch = scratch_bytes(w_.output);
  for (const LayerWeights& L : w_.layers)
    for (const MatrixRef* m : {&L.wq, &L.wk, &L.wv, &L.wo, &L.w_gate, &L.w_up, &L.w_down})
      scratch = std::max(scratch, scratch_bytes(*m));
  matmul_scratch_.resize(scratch);
}

bool LlamaModel::uses_float_activations(const MatrixRef& w) {
  return w.activations == ActivationPrecision::Float && dtype_is_quantized(w.dtype);
}

void LlamaModel::matmul(float* y, const float* x, const MatrixRef& w, const float* bias, size_t T,
                        ThreadPool& pool) {
  if (uses_float_activations(w)) {
    kernels::matmul_float_act(y, x, w.data, w.dtype, bias, T, size_t(w.cols), size_t(w.rows), pool);
    return;
  }
  kernels::matmul(y, x, w.data, w.dtype, bias, T, size_t(w.cols), size_t(w.rows), pool,
                  matmul_scratch_.data());
}

void LlamaModel::validate(const ForwardBatch& b, const KvStorage& kv) const {
  const size_t T = b.n_tokens();
  check(T > 0, "forward: empty batch");
  if (T > size_t(max_batch_tokens_))
    throw Error("forward: batch of " + std::to_string(T) + " tokens exceeds max_batch_tokens " +
                std::to_string(max_batch_tokens_));
  check(b.positions.size() == T && b.slot_mapping.size() == T,
        "forward: positions and slot_mapping must have one entry per token");
  for (size_t t = 0; t < T; ++t) {
    if (b.token_ids[t] < 0 || b.token_ids[t] >= cfg_.vocab_size)
      throw Error("token id " + std::to_string(b.token_ids[t]) + " out of range [0, " +
                  std::to_string(cfg_.vocab_size) + ")");
    check(b.slot_mapping[t] >= 0 && b.slot_mapping[t] < kv.n_slots(), "forward: slot out of range");
    if (b.positions[t] < 0 || b.positions[t] >= cfg_.max_context)
      throw Error("position " + std::to_string(b.positions[t]) + " exceeds the model context of " +
                  std::to_string(cfg_.max_context) + " tokens");
  }
  int32_t next_row = 0;
  for (const SequenceInBatch& s : b.seqs) {
    check(s.token_begin == next_row && s.n_tokens > 0, "forward: sequences must partition the batch");
    next_row += s.n_tokens;
    check(s.n_context > 0 && s.n_context <= cfg_.max_context, "forward: bad n_context");
    const int64_t blocks_needed = (int64_t(s.n_context) + kv.block_size() - 1) / kv.block_size();
    check(int64_t(s.block_table.size()) >= blocks_needed, "forward: block table too short");
    for (int64_t i = 0; i < blocks_needed; ++i)
      check(s.block_table[size_t(i)] >= 0 && s.block_table[size_t(i)] < kv.n_blocks(),
            "forward: block id out of range");
    for (int32_t r = s.token_begin; r < s.token_begin + s.n_tokens; ++r)
      check(b.positions[size_t(r)] < s.n_context, "forward: position beyond the sequence's context");
  }
  check(size_t(next_row) == T, "forward: sequences must cover every token");
  for (int32_t r : b.logits_rows) check(r >= 0 && size_t(r) < T, "forward: logits row out of range");
}

void LlamaModel::forward(const ForwardBatch& b, KvStorage& kv, float* logits, ThreadPool& pool) {
  validate(b, kv);
  const size_t T = b.n_tokens();
  const size_t dim = size_t(cfg_.dim);
  {
    OpTimer timer(profile_, OpKind::Embed);
    const size_t row_bytes = w_.token_embd.row_bytes();
    for (size_t t = 0; t < T; ++t) {
      const auto* row = static_cast<const std::byte*>(w_.token_embd.data) + size_t(b.token_ids[t]) * row_bytes;
      kernels::to_f32(&x_[t * dim], row, w_.token_embd.dtype, dim);
    }
  }
  for (int64_t l = 0; l < cfg_.n_layers; ++l) {
    const LayerWeights& L = w_.layers[size_t(l)];
    attention_block(L, l, b, kv, T, pool);
    ffn_block(L, T, pool);
  }
  // Final norm and LM head only for the rows that need logits.
  const size_t n_out = b.logits_rows.size();
  {
    OpTimer timer(profile_, OpKind::Norm);
    for (size_t i = 0; i < n_out; ++i)
      kernels::rmsnorm(&xb_[i * dim], &x_[size_t(b.logits_rows[i]) * dim], w_.output_norm.data(), 1, dim,
                       cfg_.rms_eps);
  }
  if (n_out > 0) {
    OpTimer timer(profile_, OpKind::LmHead);
    matmul(logits, xb_.data(), w_.output, nullptr, n_out, pool);
  }
}

void LlamaModel::attention_block(const LayerWeights& L, int64_t layer, const ForwardBatch& b, KvStorage& kv,
                                 size_t T, ThreadPool& pool) {
  const size_t dim = size_t(cfg_.dim), qd = size_t(cfg_.q_dim()), kvd = size_t(cfg_.kv_dim());
  const size_t hd = size_t(cfg_.head_dim);
  {
    OpTimer timer(profile_, OpKind::Norm);
    for_token_rows(pool, T, [&](size_t t0, size_t t1) {
      kernels::rmsnorm(&xb_[t0 * dim], &x_[t0 * dim], L.attn_norm.data(), t1 - t0, dim, cfg_.rms_eps);
    });
  }
  auto bias = [](const std::vector<float>& v) { return v.empty() ? nullptr : v.data(); };
  {
    OpTimer timer(profile_, OpKind::MatmulQkv);
    matmul(q_.data(), xb_.data(), L.wq, bias(L.bq), T, pool);
    matmul(k_.data(), xb_.data(), L.wk, bias(L.bk), T, pool);
    matmul(v_.data(), xb_.data(), L.wv, bias(L.bv), T, pool);
  }
  if (cfg_.qk_norm) {
    OpTimer timer(profile_, OpKind::Norm);
    kernels::rmsnorm(q_.data(), q_.data(), L.q_norm.data(), T * size_t(cfg_.n_heads), hd, cfg_.rms_eps);
    kernels::rmsnorm(k_.data(), k_.data(), L.k_norm.data(), T * size_t(cfg_.n_kv_heads), hd, cfg_.rms_eps);
  }
  {
    OpTimer timer(profile_, OpKind::Rope);
    for_token_rows(pool, T, [&](size_t t0, size_t t1) {
      kernels::rope(&q_[t0 * qd], &b.positions[t0], inv_freq_.data(), t1 - t0, size_t(cfg_.n_heads), hd, hd,
                    cfg_.rope_style);
      kernels::rope(&k_[t0 * kvd], &b.positions[t0], inv_freq_.data(), t1 - t0, size_t(cfg_.n_kv_heads), hd,
                    hd, cfg_.rope_style);
    });
  }
  float* k_cache = kv.k(layer);
  float* v_cache = kv.v(layer);
  const size_t stride = kv.row_stride();
  {
    OpTimer timer(profile_, OpKind::KvWrite);
    for (size_t t = 0; t < T; ++t) {
      const size_t slot = size_t(b.slot_mapping[t]);
      std::memcpy(k_cache + slot * stride, &k_[t * kvd], kvd * sizeof(float));
      std::memcpy(v_cache + slot * stride, &v_[t * kvd], kvd * sizeof(float));
    }
  }
  {
    OpTimer timer(profile_, OpKind::Attention);
    const float scale = 1.0f / std::sqrt(float(hd));
    const int32_t bs = kv.block_size();
    for (const SequenceInBatch& s : b.seqs) {
      for (int32_t p = 0; p < s.n_context; ++p) slots_[size_t(p)] = s.block_table[size_t(p / bs)] * bs + p % bs;
      const size_t r0 = size_t(s.token_begin);
      kernels::attention(&att_[r0 * qd], &q_[r0 * qd], &b.positions[r0], size_t(s.n_tokens), k_cache, v_cache,
                         stride, slots_.data(), size_t(s.n_context), size_t(cfg_.n_heads),
                         size_t(cfg_.n_kv_heads), hd, scale, size_t(cfg_.sliding_window), pool);
    }
  }
  {
    OpTimer timer(profile_, OpKind::MatmulOut);
    matmul(out_.data(), att_.data(), L.wo, nullptr, T, pool);
  }
  add_residual(T, pool);
}

void LlamaModel::add_residual(size_t T, ThreadPool& pool) {
  OpTimer timer(profile_, OpKind::Residual);
  const size_t dim = size_t(cfg_.dim);
  for_token_rows(pool, T, [&](size_t t0, size_t t1) {
    for (size_t i = t0 * dim; i < t1 * dim; ++i) x_[i] += out_[i];
  });
}

void LlamaModel::ffn_block(const LayerWeights& L, size_t T, ThreadPool& pool) {
  const size_t dim = size_t(cfg_.dim), ffn = size_t(cfg_.ffn_dim);
  {
    OpTimer timer(profile_, OpKind::Norm);
    for_token_rows(pool, T, [&](size_t t0, size_t t1) {
      kernels::rmsnorm(&xb_[t0 * dim], &x_[t0 * dim], L.ffn_norm.data(), t1 - t0, dim, cfg_.rms_eps);
    });
  }
  {
    OpTimer timer(profile_, OpKind::MatmulGateUp);
    matmul(gate_.data(), xb_.data(), L.w_gate, nullptr, T, pool);
    matmul(up_.data(), xb_.data(), L.w_up, nullptr, T, pool);
  }
  {
    OpTimer timer(profile_, OpKind::Swiglu);
    for_token_rows(pool, T, [&](size_t t0, size_t t1) {
      kernels::swiglu(&gate_[t0 * ffn], &up_[t0 * ffn], (t1 - t0) * ffn);
    });
  }
  {
    OpTimer timer(profile_, OpKind::MatmulDown);
    matmul(out_.data(), gate_.data(), L.w_down, nullptr, T, pool);
  }
  add_residual(T, pool);
}

}  // namespace tokenmill
