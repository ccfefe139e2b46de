// Scalar specification of the 32-element-block family (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0): activation
// quantization to BlockQ8A32, dequantization, the quantized matmul against int8 activations, and
// the matmul against f32 activations. The SIMD variants must quantize byte for byte as here and
// compute the same dot products up to float rounding.
#include <cmath>
#include <cstring>

#include "kernels/repack.h"
#include "kernels/variants.h"

namespace tokenmill::kernels::ref {
namespace {

constexpr size_t kQK = kQK32;

// q[0..31]: the unsigned (Q4/Q5) or signed (Q8_0) integer codes of one weight block, in element
// order, with the block's scale d, min m (0 where the format has none) and the offset subtracted
// from every code (8 for Q4_0, 16 for Q5_0, 0 otherwise): x[i] = d * (q[i] - offset) + m.
struct UnpackedBlock {
  int q[kQK];
  float d, m;
  int offset;
};

void unpack_nibbles(int* q, const uint8_t* qs) {
  for (size_t i = 0; i < kQK / 2; ++i) {
    q[i] = qs[i] & 15;
    q[i + kQK / 2] = qs[i] >> 4;
  }
}

void add_high_bits(int* q, const uint8_t* qh_bytes) {
  uint32_t qh;
  std::memcpy(&qh, qh_bytes, 4);  // little-endian: bit i is element i's fifth bit
  for (size_t i = 0; i < kQK; ++i) q[i] |= int((qh >> i) & 1u) << 4;
}

UnpackedBlock unpack(const BlockQ4_0& b) {
  UnpackedBlock u{{}, fp16_to_f32(b.d), 0.0f, 8};
  unpack_nibbles(u.q, b.qs);
  return u;
}
UnpackedBlock unpack(const BlockQ4_1& b) {
  UnpackedBlock u{{}, fp16_to_f32(b.d), fp16_to_f32(b.m), 0};
  unpack_nibbles(u.q, b.qs);
  return u;
}
UnpackedBlock unpack(const BlockQ5_0& b) {
  UnpackedBlock u{{}, fp16_to_f32(b.d), 0.0f, 16};
  unpack_nibbles(u.q, b.qs);
  add_high_bits(u.q, b.qh);
  return u;
}
UnpackedBlock unpack(const BlockQ5_1& b) {
  UnpackedBlock u{{}, fp16_to_f32(b.d), fp16_to_f32(b.m), 0};
  unpack_nibbles(u.q, b.qs);
  add_high_bits(u.q, b.qh);
  return u;
}
UnpackedBlock unpack(const BlockQ8_0& b) {
  UnpackedBlock u{{}, fp16_to_f32(b.d), 0.0f, 0};
  for (size_t i = 0; i < kQK; ++i) u.q[i] = b.qs[i];
  return u;
}

// Element i of an unpacked block as f32: the one definition of a dequantized weight.
inline float element(const UnpackedBlock& u, size_t i) {
  return u.d * float(u.q[i] - u.offset) + u.m;
}

// out: [n] f32; src: n / 32 blocks of Block.
template <class Block>
void dequantize(float* out, const void* src, size_t n) {
  const Block* blocks = static_cast<const Block*>(src);
  for (size_t b = 0; b < n / kQK; ++b) {
    const UnpackedBlock u = unpack(blocks[b]);
    for (size_t i = 0; i < kQK; ++i) out[b * kQK + i] = element(u, i);
  }
}

// The float-activation matmul: y[t, o] = sum_i x[t, i] * element(w[o], i) (+ bias[o]), products and
// sums in double, rounded to f32 once, so that this is the more accurate side of every comparison.
// y: [n_tokens, d_out]; x: [n_tokens, d_in] f32; w: [d_out, d_in / 32] Block.
template <class Block>
void fmatmul_rows(float* y, const float* x, const void* w, const float* bias, size_t n_tokens, size_t d_in,
                  size_t d_out, size_t row_begin, size_t row_end) {
  const size_t nb = d_in / kQK;
  const Block* w_blocks = static_cast<const Block*>(w);
  for (size_t o = row_begin; o < row_end; ++o) {
    for (size_t t = 0; t < n_tokens; ++t) {
      const float* x_t = x + t * d_in;  // [d_in]
      double sum = bias != nullptr ? bias[o] : 0.0;
      for (size_t b = 0; b < nb; ++b) {
        const UnpackedBlock u = unpack(w_blocks[o * nb + b]);
        for (size_t i = 0; i < kQK; ++i) sum += double(x_t[b * kQK + i]) * double(element(u, i));
      }
      y[t * d_out + o] = float(sum);
    }
  }
}

// Dot product of one weight block and one activation block:
//   d_w * d_x * sum(q_w * q_x) - offset * d_w * s_x + m_w * s_x.
float block_dot(const UnpackedBlock& w, const BlockQ8A32& x) {
  int isum = 0;
  for (size_t i = 0; i < kQK; ++i) isum += w.q[i] * int(x.qs[i]);
  float v = w.d * x.d * float(isum);
  if (w.offset != 0) v -= float(w.offset) * w.d * x.s;
  if (w.m != 0.0f) v += w.m * x.s;
  return v;
}

// y: [n_tokens, d_out]; xq: [n_tokens, d_in / 32] BlockQ8A32; w: [d_out, d_in / 32] Block.
template <class Block>
void qmatmul_rows(float* y, const void* xq, const void* w, const float* bias, size_t n_tokens, size_t d_in,
                  size_t d_out, size_t row_begin, size_t row_end) {
  const size_t nb = d_in / kQK;
  const Block* w_blocks = static_cast<const Block*>(w);
  const BlockQ8A32* x_blocks = static_cast<const BlockQ8A32*>(xq);
  for (size_t o = row_begin; o < row_end; ++o) {
    for (size_t t = 0; t < n_tokens; ++t) {
      float sum = 0.0f;
      for (size_t b = 0; b < nb; ++b) sum += block_dot(unpack(w_blocks[o * nb + b]), x_blocks[t * nb + b]);
      y[t * d_out + o] = sum + (bias != nullptr ? bias[o] : 0.0f);
    }
  }
}

// As qmatmul_rows, over a matrix repacked in groups of 16 rows (kernels/repack.h): each block is
// read back into the file's layout, so the arithmetic (and its order) is the file type's.
template <class Block>
void qmatmul_rows_repacked(float* y, const void* xq, const void* w, const float* bias, size_t n_tokens,
                           size_t d_in, size_t d_out, size_t row_begin, size_t row_end) {
  constexpr DType kRepacked = sizeof(Block) == sizeof(BlockQ4_0) ? DType::Q4_0_R16 : DType::Q8_0_R16;
  const size_t nb = d_in / kQK;
  const BlockQ8A32* x_blocks = static_cast<const BlockQ8A32*>(xq);
  for (size_t o = row_begin; o < row_end; ++o) {
    for (size_t t = 0; t < n_tokens; ++t) {
      float sum = 0.0f;
      for (size_t b = 0; b < nb; ++b) {
        Block blk;
        repacked_block(&blk, w, kRepacked, d_in, o, b);
        sum += block_dot(unpack(blk), x_blocks[t * nb + b]);
      }
      y[t * d_out + o] = sum + (bias != nullptr ? bias[o] : 0.0f);
    }
  }
}

// dst: [n_rows, d_in / 32] BlockQ8A32; x: [n_rows, d_in] f32. The rule of quant_blocks.h.
void quantize_q8a32(void* dst, const float* x, size_t n_rows, size_t d_in) {
  BlockQ8A32* out = static_cast<BlockQ8A32*>(dst);
  const size_t n_blocks = n_rows * (d_in / kQK);
  for (size_t b = 0; b < n_blocks; ++b) {
    const float* xb = x + b * kQK;
    float amax = 0.0f;
    for (size_t i = 0; i < kQK; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (size_t i = 0; i < kQK; ++i) {
      const int q = int(std::nearbyint(xb[i] * id));
      out[b].qs[i] = int8_t(q);
      sum += q;
    }
    out[b].d = d;
    out[b].s = d * float(sum);
  }
}

}  // namespace

void add_quant32_kernels(KernelTable& t) {
  t.quantize_q8a32 = quantize_q8a32;
  t.dequantize[quant_index(DType::Q4_0)] = dequantize<BlockQ4_0>;
  t.dequantize[quant_index(DType::Q4_1)] = dequantize<BlockQ4_1>;
  t.dequantize[quant_index(DType::Q5_0)] = dequantize<BlockQ5_0>;
  t.dequantize[quant_index(DType::Q5_1)] = dequantize<BlockQ5_1>;
  t.dequantize[quant_index(DType::Q8_0)] = dequantize<BlockQ8_0>;
  t.qmatmul_rows[quant_index(DType::Q4_0)] = qmatmul_rows<BlockQ4_0>;
  t.qmatmul_rows[quant_index(DType::Q4_1)] = qmatmul_rows<BlockQ4_1>;
  t.qmatmul_rows[quant_index(DType::Q5_0)] = qmatmul_rows<BlockQ5_0>;
  t.qmatmul_rows[quant_index(DType::Q5_1)] = qmatmul_rows<BlockQ5_1>;
  t.qmatmul_rows[quant_index(DType::Q8_0)] = qmatmul_rows<BlockQ8_0>;
  t.qmatmul_rows[quant_index(DType::Q4_0_R16)] = qmatmul_rows_repacked<BlockQ4_0>;
  t.qmatmul_rows[quant_index(DType::Q8_0_R16)] = qmatmul_rows_repacked<BlockQ8_0>;
  t.fmatmul_rows[quant_index(DType::Q4_0)] = fmatmul_rows<BlockQ4_0>;
  t.fmatmul_rows[quant_index(DType::Q4_1)] = fmatmul_rows<BlockQ4_1>;
  t.fmatmul_rows[quant_index(DType::Q5_0)] = fmatmul_rows<BlockQ5_0>;
  t.fmatmul_rows[quant_index(DType::Q5_1)] = fmatmul_rows<BlockQ5_1>;
  t.fmatmul_rows[quant_index(DType::Q8_0)] = fmatmul_rows<BlockQ8_0>;
}

}  // namespace tokenmill::kernels::ref
