// ggml's quantized block formats, byte for byte (so users' GGUF files are read in place), and the
// int8 activation blocks the quantized matmul computes against.
//
// Weight blocks (element i of a block; d, m, dmin are IEEE f16 bit patterns):
//   Q4_0: x = d * (q - 8),           q = 4 bits: qs[i] & 15 for i < 16, qs[i - 16] >> 4 otherwise
//   Q4_1: x = d * q + m,             q as Q4_0
//   Q5_0: x = d * (q - 16),          q = Q4_0 nibble | bit i of qh (little-endian u32) << 4
//   Q5_1: x = d * q + m,             q as Q5_0
//   Q8_0: x = d * qs[i]
//   K-quants: a super-block of 256 elements in sub-blocks of 16 (Q2_K, Q3_K, Q6_K) or 32 (Q4_K,
//   Q5_K) with quantized per-sub-block scales (and mins); see kernels/ref/quantk_ref.cpp for the
//   exact bit positions, which follow ggml-quants.c's dequantize_row_* functions.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/dtype.h"

namespace tokenmill::kernels {

inline constexpr size_t kQK32 = 32;   // elements per block of Q4_0 .. Q8_0
inline constexpr size_t kQKK = 256;   // elements per K-quant super-block
inline constexpr size_t kKScaleBytes = 12;

struct BlockQ4_0 { uint16_t d; uint8_t qs[16]; };
struct BlockQ4_1 { uint16_t d, m; uint8_t qs[16]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ5_1 { uint16_t d, m; uint8_t qh[4]; uint8_t qs[16]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[32]; };

// 16 sub-blocks of 16: scales[j] = 4-bit scale | 4-bit min << 4; x = d*sc*q - dmin*m, q 2 bits.
struct BlockQ2_K { uint8_t scales[16]; uint8_t qs[64]; uint16_t d, dmin; };
// 16 sub-blocks of 16: 6-bit scales packed in 12 bytes (offset 32); q = 2 low bits + hmask bit
// (set = no subtraction of 4); x = d * (sc - 32) * (q - 4 * !hbit).
struct BlockQ3_K { uint8_t hmask[32]; uint8_t qs[64]; uint8_t scales[12]; uint16_t d; };
// 8 sub-blocks of 32: 6-bit scale and min per sub-block packed in 12 bytes; x = d*sc*q - dmin*m.
struct BlockQ4_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[128]; };
struct BlockQ5_K { uint16_t d, dmin; uint8_t scales[12]; uint8_t qh[32]; uint8_t qs[128]; };
// 16 sub-blocks of 16: int8 scales; q = 4 low bits (ql) + 2 high bits (qh) - 32; x = d*sc*q.
struct BlockQ6_K { uint8_t ql[128]; uint8_t qh[64]; int8_t scales[16]; uint16_t d; };

static_assert(sizeof(BlockQ4_0) == 18 && sizeof(BlockQ4_1) == 20 && sizeof(BlockQ5_0) == 22 &&
              sizeof(BlockQ5_1) == 24 && sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ2_K) == 84 && sizeof(BlockQ3_K) == 110 && sizeof(BlockQ4_K) == 144 &&
              sizeof(BlockQ5_K) == 176 && sizeof(BlockQ6_K) == 210);

// Activations of the 32-block family: x ~= d * qs[i]; s = d * (sum of qs) (for formats with an
// offset or a min). Quantization, identical in every variant (byte-exact):
//   amax = max |x[i]|, d = amax / 127, id = amax != 0 ? 127 / amax : 0,
//   qs[i] = round-half-even(x[i] * id) (in [-127, 127]), s = d * (float)sum(qs).
struct BlockQ8A32 { float d; float s; int8_t qs[32]; };
static_assert(sizeof(BlockQ8A32) == 40);

// Activations of the K-quant family (ggml's block_q8_K): x ~= d * qs[i], bsums[j] = sum of
// qs[16 j .. 16 j + 15]. Quantization as BlockQ8A32 over 256 elements (d = amax / 127, etc.).
struct BlockQ8K { float d; int8_t qs[256]; int16_t bsums[16]; };
static_assert(sizeof(BlockQ8K) == 292);

// The quantized weight types of files, in kernel-table order.
inline constexpr size_t kQuantTypeCount = 10;
inline constexpr DType kQuantTypes[kQuantTypeCount] = {
    DType::Q4_0, DType::Q4_1, DType::Q5_0, DType::Q5_1, DType::Q8_0,
    DType::Q2_K, DType::Q3_K, DType::Q4_K, DType::Q5_K, DType::Q6_K};
// The layouts repacked at load (kernels/repack.h), which follow them in the kernel table.
inline constexpr size_t kRepackedTypeCount = 2;
inline constexpr DType kRepackedTypes[kRepackedTypeCount] = {DType::Q4_0_R16, DType::Q8_0_R16};
// Kernel-table entries: the file types, then the repacked layouts.
inline constexpr size_t kQuantKernelCount = kQuantTypeCount + kRepackedTypeCount;
// Index of a quantized type in the kernel table (kQuantTypes, then kRepackedTypes); only for
// dtype_is_quantized(t).
inline size_t quant_index(DType t) { return size_t(t) - size_t(DType::Q4_0); }
inline bool quant_is_k(DType t) { return t >= DType::Q2_K && t <= DType::Q6_K; }

// Bytes of one quantized activation row of d_in elements for weights of type w (d_in a multiple of
// the weight block size).
inline size_t act_row_bytes(DType w, size_t d_in) {
  return quant_is_k(w) ? d_in / kQKK * sizeof(BlockQ8K) : d_in / kQK32 * sizeof(BlockQ8A32);
}

}  // namespace tokenmill::kernels
