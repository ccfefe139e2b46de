// Element types of tensors and their conversions to f32.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

namespace tokenmill {

// Storage types of weights and activations. The quantized types are ggml's block formats with
// exactly its bit layouts (kernels/quant_blocks.h): a row of n elements (n a multiple of
// dtype_block_elements) is n / dtype_block_elements blocks of dtype_block_bytes bytes.
enum class DType : uint8_t {
  F32, F16, BF16, I32, I8, U8,
  Q4_0, Q4_1, Q5_0, Q5_1, Q8_0,      // 32-element blocks
  Q2_K, Q3_K, Q4_K, Q5_K, Q6_K,      // 256-element super-blocks
  // Q4_0 / Q8_0 matrices rearranged at load into groups of 16 rows (kernels/repack.h): the same
  // blocks and bytes per row, never found in a file.
  Q4_0_R16, Q8_0_R16,
};

std::string_view dtype_name(DType t);
// Bytes per element of a plain type; 0 for the block (quantized) types, see below.
size_t dtype_size_bytes(DType t);
bool dtype_is_quantized(DType t);
size_t dtype_block_elements(DType t);  // 1 for plain types
size_t dtype_block_bytes(DType t);     // dtype_size_bytes for plain types
// Bytes of n elements; n must be a multiple of dtype_block_elements (checked, throws Error).
size_t dtype_row_bytes(DType t, size_t n);
// The DType whose name is `name` (case-insensitive: "q4_k", "F16"); false when none.
bool dtype_from_name(std::string_view name, DType& out);

// IEEE half <-> float, exact for all finite values, inf and nan (round to nearest even).
inline float fp16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalize
      exp = 127 - 15 + 1;
      while ((mant & 0x400) == 0) {
        mant <<= 1;
        --exp;
      }
      mant &= 0x3ff;
      bits = sign | (exp << 23) | (mant << 13);
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000u | (mant << 13);
  } else {
    bits = sign | ((exp + 127 - 15) << 23) | (mant << 13);
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t f32_to_fp16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t abs = x & 0x7fffffffu;
  if (abs >= 0x7f800000u) return uint16_t(sign | 0x7c00 | (abs > 0x7f800000u ? 0x200 : 0));
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00);  // overflow -> inf
  if (abs < 0x38800000u) {                                  // subnormal or zero in half
    if (abs < 0x33000000u) return uint16_t(sign);
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - e;  // 14..24
    uint32_t half = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t halfway = 1u << (shift - 1);
    if (rem > halfway || (rem == halfway && (half & 1))) ++half;
    return uint16_t(sign | half);
  }
  uint32_t half = ((abs >> 13) - ((127 - 15) << 10));
  const uint32_t rem = abs & 0x1fff;
  if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) ++half;
  return uint16_t(sign | half);
}

inline float bf16_to_f32(uint16_t h) {
  const uint32_t bits = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
}

inline uint16_t f32_to_bf16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  if ((x & 0x7fffffffu) > 0x7f800000u) return uint16_t((x >> 16) | 0x40);  // keep nan a nan
  const uint32_t rounding = 0x7fff + ((x >> 16) & 1);
  return uint16_t((x + rounding) >> 16);
}

}  // namespace tokenmill
