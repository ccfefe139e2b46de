#include "model/kv_storage.h"

#include <cstdlib>
#include <cstring>

#include "core/error.h"

namespace tokenmill {

void KvStorage::FreeDeleter::operator()(float* p) const { std::free(p); }

KvStorage::KvStorage(const ModelConfig& cfg, int32_t n_blocks, int32_t block_size)
    : n_blocks_(n_blocks), block_size_(block_size), kv_dim_(size_t(cfg.kv_dim())), n_layers_(size_t(cfg.n_layers)) {
  check(n_blocks > 0 && block_size > 0, "KV cache needs at least one block of at least one token");
  n_floats_ = n_layers_ * size_t(n_slots()) * kv_dim_;
  k_.reset(static_cast<float*>(std::calloc(n_floats_, sizeof(float))));
  v_.reset(static_cast<float*>(std::calloc(n_floats_, sizeof(float))));
  check(k_ != nullptr && v_ != nullptr,
        "cannot allocate a KV cache of " + std::to_string(2 * n_floats_ * sizeof(float) >> 20) + " MiB");
}

void KvStorage::copy_block(int32_t src, int32_t dst) {
  check(src >= 0 && src < n_blocks_ && dst >= 0 && dst < n_blocks_, "copy_block: block out of range");
  const size_t block_floats = size_t(block_size_) * kv_dim_;
  for (size_t l = 0; l < n_layers_; ++l) {
    float* k_layer = k(int64_t(l));
    float* v_layer = v(int64_t(l));
    std::memcpy(k_layer + size_t(dst) * block_floats, k_layer + size_t(src) * block_floats, block_floats * sizeof(float));
    std::memcpy(v_layer + size_t(dst) * block_floats, v_layer + size_t(src) * block_floats, block_floats * sizeof(float));
  }
}

}  // namespace tokenmill
