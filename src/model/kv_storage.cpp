#include "model/kv_storage.h"

#include "core/error.h"

namespace tokenmill {

KvStorage::KvStorage(const ModelConfig& cfg, int32_t n_blocks, int32_t block_size)
    : n_blocks_(n_blocks), block_size_(block_size), kv_dim_(size_t(cfg.kv_dim())) {
  check(n_blocks > 0 && block_size > 0, "KV cache needs at least one block of at least one token");
  const size_t n = size_t(cfg.n_layers) * size_t(n_slots()) * kv_dim_;
  k_.assign(n, 0.0f);
  v_.assign(n, 0.0f);
}

}  // namespace tokenmill
