// A named tensor inside a mapped model file. The common currency between file readers
// (GGUF, safetensors) and the model's weight binding.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/dtype.h"

namespace tokenmill {

struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  // Row-major, outermost dimension first (numpy order) whatever the file's own convention:
  // a linear weight is [d_out, d_in]; GGUF's ne[] is reversed into this order by the reader.
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;  // points into a mapping owned by the file object
  size_t nbytes = 0;

  int64_t n_elements() const {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
  }
};

}  // namespace tokenmill
