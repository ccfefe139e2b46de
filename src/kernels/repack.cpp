#include "kernels/repack.h"

#include <cstring>
#include <string>

#include "core/error.h"

namespace tokenmill::kernels {

DType repacked_dtype(DType file_type) {
  switch (file_type) {
    case DType::Q4_0: return DType::Q4_0_R16;
    case DType::Q8_0: return DType::Q8_0_R16;
    default: return file_type;
  }
}

DType repack_base_dtype(DType t) {
  switch (t) {
    case DType::Q4_0_R16: return DType::Q4_0;
    case DType::Q8_0_R16: return DType::Q8_0;
    default: return t;
  }
}

bool dtype_is_repacked(DType t) { return repack_base_dtype(t) != t; }

bool repack_supported(DType file_type, size_t rows, size_t cols) {
  return repacked_dtype(file_type) != file_type && rows > 0 && rows % kRepackRows == 0 && cols > 0 &&
         cols % 64 == 0;
}

void repack_groups(void* dst, const void* src, DType file_type, size_t cols, size_t group_begin,
                   size_t group_end) {
  check(repacked_dtype(file_type) != file_type, "repack: no repacked layout for this type");
  check(cols % 64 == 0, "repack: rows must be a multiple of 64 elements");
  const size_t bs = dtype_block_bytes(file_type), nb = cols / 32, row_bytes = nb * bs;
  const size_t code_bytes = bs - 2;  // per row and block
  const auto* in = static_cast<const uint8_t*>(src);
  auto* out = static_cast<uint8_t*>(dst);
  for (size_t g = group_begin; g < group_end; ++g) {
    const uint8_t* rows = in + g * kRepackRows * row_bytes;
    uint8_t* group = out + g * kRepackRows * row_bytes;
    for (size_t j = 0; j < nb; ++j) {
      uint8_t* codes = group + repacked_codes_offset(bs, j);
      uint8_t* scales = group + repacked_scales_offset(bs, j);
      for (size_t l = 0; l < kRepackRows; ++l) {
        const uint8_t* blk = rows + l * row_bytes + j * bs;
        std::memcpy(scales + 2 * l, blk, 2);
        for (size_t k = 0; k < code_bytes / 4; ++k) std::memcpy(codes + 64 * k + 4 * l, blk + 2 + 4 * k, 4);
      }
    }
  }
}

AlignedBuffer repack_matrix(const void* src, DType file_type, size_t rows, size_t cols, ThreadPool& pool) {
  if (!repack_supported(file_type, rows, cols))
    throw Error("repack: a [" + std::to_string(rows) + ", " + std::to_string(cols) + "] " +
                std::string(dtype_name(file_type)) +
                " matrix cannot be repacked (Q4_0 or Q8_0, rows a multiple of 16, columns of 64)");
  AlignedBuffer out(rows * dtype_row_bytes(file_type, cols));
  uint8_t* dst = out.data();
  pool.parallel_for(rows / kRepackRows, [&](size_t begin, size_t end, int) {
    repack_groups(dst, src, file_type, cols, begin, end);
  });
  return out;
}

void repacked_block(void* dst, const void* src, DType repacked, size_t cols, size_t row, size_t block) {
  const DType base = repack_base_dtype(repacked);
  check(base != repacked, "repacked_block: not a repacked type");
  const size_t bs = dtype_block_bytes(base), row_bytes = cols / 32 * bs, l = row % kRepackRows;
  const auto* group = static_cast<const uint8_t*>(src) + row / kRepackRows * kRepackRows * row_bytes;
  auto* out = static_cast<uint8_t*>(dst);
  std::memcpy(out, group + repacked_scales_offset(bs, block) + 2 * l, 2);
  const uint8_t* codes = group + repacked_codes_offset(bs, block);
  for (size_t k = 0; k < (bs - 2) / 4; ++k) std::memcpy(out + 2 + 4 * k, codes + 64 * k + 4 * l, 4);
}

}  // namespace tokenmill::kernels
