// One weight element as f32, for the scalar reference kernels.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace tokenmill::kernels::ref {

// w: [...] elements of dtype (F32, F16 or BF16; callers validate), index: element index.
inline float weight_element(const void* w, DType dtype, size_t index) {
  switch (dtype) {
    case DType::F16: return fp16_to_f32(static_cast<const uint16_t*>(w)[index]);
    case DType::BF16: return bf16_to_f32(static_cast<const uint16_t*>(w)[index]);
    default: return static_cast<const float*>(w)[index];
  }
}

}  // namespace tokenmill::kernels::ref
