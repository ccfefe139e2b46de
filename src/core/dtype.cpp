#include "core/dtype.h"

#include <cctype>
#include <string>

#include "core/error.h"

namespace tokenmill {
namespace {

struct DTypeTraits {
  std::string_view name;
  size_t block_elements;
  size_t block_bytes;
};

// Block geometry from ggml: Q4_0 = f16 d + 16 B of nibbles; Q4_1 adds f16 m; Q5_x add 4 B of high
// bits; Q8_0 = f16 d + 32 int8. K-quants: super-blocks of 256 (see kernels/quant_blocks.h).
DTypeTraits traits(DType t) {
  switch (t) {
    case DType::F32: return {"F32", 1, 4};
    case DType::F16: return {"F16", 1, 2};
    case DType::BF16: return {"BF16", 1, 2};
    case DType::I32: return {"I32", 1, 4};
    case DType::I8: return {"I8", 1, 1};
    case DType::U8: return {"U8", 1, 1};
    case DType::Q4_0: return {"Q4_0", 32, 18};
    case DType::Q4_1: return {"Q4_1", 32, 20};
    case DType::Q5_0: return {"Q5_0", 32, 22};
    case DType::Q5_1: return {"Q5_1", 32, 24};
    case DType::Q8_0: return {"Q8_0", 32, 34};
    case DType::Q2_K: return {"Q2_K", 256, 84};
    case DType::Q3_K: return {"Q3_K", 256, 110};
    case DType::Q4_K: return {"Q4_K", 256, 144};
    case DType::Q5_K: return {"Q5_K", 256, 176};
    case DType::Q6_K: return {"Q6_K", 256, 210};
    case DType::Q4_0_R16: return {"Q4_0_R16", 32, 18};
    case DType::Q8_0_R16: return {"Q8_0_R16", 32, 34};
  }
  return {"?", 1, 0};
}

}  // namespace

std::string_view dtype_name(DType t) { return traits(t).name; }

size_t dtype_size_bytes(DType t) {
  const DTypeTraits tr = traits(t);
  return tr.block_elements == 1 ? tr.block_bytes : 0;
}

bool dtype_is_quantized(DType t) { return traits(t).block_elements > 1; }
size_t dtype_block_elements(DType t) { return traits(t).block_elements; }
size_t dtype_block_bytes(DType t) { return traits(t).block_bytes; }

size_t dtype_row_bytes(DType t, size_t n) {
  const DTypeTraits tr = traits(t);
  if (n % tr.block_elements != 0)  // per token: build the message only on failure
    throw Error(std::to_string(n) + " elements of " + std::string(tr.name) +
                " are not a whole number of " + std::to_string(tr.block_elements) +
                "-element blocks");
  return n / tr.block_elements * tr.block_bytes;
}

bool dtype_from_name(std::string_view name, DType& out) {
  // File types only: the repacked layouts are made at load, never named by users.
  for (int i = 0; i <= int(DType::Q6_K); ++i) {
    const std::string_view n = traits(DType(i)).name;
    if (n.size() != name.size()) continue;
    bool same = true;
    for (size_t k = 0; k < n.size() && same; ++k)
      same = std::toupper(static_cast<unsigned char>(name[k])) == n[k];
    if (same) {
      out = DType(i);
      return true;
    }
  }
  return false;
}

}  // namespace tokenmill
