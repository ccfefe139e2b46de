// KvStorage: the K and V tensors of every layer, addressed by slot. Slots are grouped in blocks of
// block_size tokens; which blocks a sequence owns is decided above the model (block manager).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "model/model_config.h"

namespace tokenmill {

class KvStorage {
 public:
  // n_blocks * block_size slots, each [kv_dim] f32 for K and for V in every layer.
  KvStorage(const ModelConfig& cfg, int32_t n_blocks, int32_t block_size);

  static size_t bytes_per_token(const ModelConfig& cfg) {
    return size_t(2 * cfg.n_layers * cfg.kv_dim()) * sizeof(float);
  }
  int32_t n_blocks() const { return n_blocks_; }
  int32_t block_size() const { return block_size_; }
  int64_t n_slots() const { return int64_t(n_blocks_) * block_size_; }
  size_t row_stride() const { return kv_dim_; }  // floats between consecutive slots
  size_t size_bytes() const { return 2 * n_floats_ * sizeof(float); }

  float* k(int64_t layer) { return k_.get() + size_t(layer) * layer_floats(); }  // [n_slots, kv_dim]
  float* v(int64_t layer) { return v_.get() + size_t(layer) * layer_floats(); }  // [n_slots, kv_dim]

  // Copies the K/V of every layer from block src to block dst (copy-on-write of shared blocks).
  void copy_block(int32_t src, int32_t dst);

 private:
  size_t layer_floats() const { return size_t(n_slots()) * kv_dim_; }
  int32_t n_blocks_;
  int32_t block_size_;
  size_t kv_dim_;
  size_t n_layers_;
  size_t n_floats_;  // per tensor: n_layers * n_slots * kv_dim
  struct FreeDeleter {
    void operator()(float* p) const;
  };
  // calloc'd: large caches get zero pages from the OS lazily, so sizing the cache generously
  // costs address space, not touched memory.
  std::unique_ptr<float, FreeDeleter> k_, v_;  // [n_layers, n_slots, kv_dim]
};

}  // namespace tokenmill
