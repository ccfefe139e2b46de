// K-quant reference kernels (Q2_K .. Q6_K): the specification the SIMD variants are tested
// against. Bit layouts are ggml's (dequantize_row_q*_K); element i of a 256-element super-block
// is x[i] = (d * sc[g]) * q[i] - (dmin * m[g]) in f32, evaluated in that order, where g is i's
// sub-block and q[i] is the signed quant below (types without a min use dmin * m = 0):
//
//   Q2_K  sub-blocks of 16 (g = i / 16). i = 128 n + 32 j + l (n < 2, j < 4, l < 32):
//         q = (qs[32 n + l] >> 2 j) & 3; sc = scales[g] & 15, m = scales[g] >> 4.
//   Q3_K  sub-blocks of 16, i as Q2_K: q = ((qs[32 n + l] >> 2 j) & 3) - (hmask[l] bit (4 n + j)
//         set ? 0 : 4); sc = s - 32 for the 6-bit s with low 4 bits (scales[g % 8] >> 4 (g / 8)) & 15
//         and high 2 bits (scales[8 + g % 4] >> 2 (g / 4)) & 3.
//   Q4_K  sub-blocks of 32 (g = i / 32). i = 64 c + 32 h + l (c < 4, h < 2, l < 32):
//         q = (qs[32 c + l] >> 4 h) & 15; 6-bit sc, m of sub-block g from the 12 scale bytes s:
//         g < 4: sc = s[g] & 63, m = s[g + 4] & 63;
//         g >= 4: sc = (s[g + 4] & 15) | (s[g - 4] >> 6) << 4, m = (s[g + 4] >> 4) | (s[g] >> 6) << 4.
//   Q5_K  as Q4_K with q += 16 * (qh[l] bit (2 c + h)).
//   Q6_K  sub-blocks of 16. i = 128 n + 32 j + l (n < 2, j < 4, l < 32):
//         q = ((ql[64 n + 32 (j & 1) + l] >> 4 (j >> 1)) & 15 | ((qh[32 n + l] >> 2 j) & 3) << 4) - 32;
//         sc = int8 scales[g].
//
// Activations (BlockQ8K, quant_blocks.h): d = amax / 127, id = amax != 0 ? 127 / amax : 0,
// qs[i] = nearbyint(x[i] * id) (round half to even, f32 product), bsums[k] = sum of
// qs[16 k .. 16 k + 15].
//
// Matmul: for weight row o and token t, per super-block b (weights w_b, activations a_b), in
// integers:  isum_b = sum_g sc[g] * sum_{i in g} q[i] * a_b.qs[i],
//            msum_b = sum_g m[g] * (sum of a_b.bsums over g's 16-element groups),
// then in f32: y[t, o] = sum_b (w_b.d * a_b.d * isum_b - w_b.dmin * a_b.d * msum_b) + bias[o].
// Q3_K and Q6_K have signed q and no min term (msum = 0).
#include <cmath>
#include <cstdint>
#include <cstring>

#include "kernels/variants.h"

namespace tokenmill::kernels::ref {
namespace {

// One super-block in the common form x[i] = (d * sc[g]) * q[i] - dmin * m[g].
struct DecodedBlock {
  float d = 0.0f, dmin = 0.0f;
  size_t sub_len = 16;  // elements per sub-block: 16 or 32
  int sc[16] = {};      // per sub-block (8 used when sub_len == 32)
  int m[16] = {};
  int q[kQKK] = {};
};

// Q4_K / Q5_K 6-bit scale and min of sub-block g (< 8) from the 12 packed bytes.
void scale_min_k4(const uint8_t* s, size_t g, int& sc, int& m) {
  if (g < 4) {
    sc = s[g] & 63;
    m = s[g + 4] & 63;
  } else {
    sc = (s[g + 4] & 15) | ((s[g - 4] >> 6) << 4);
    m = (s[g + 4] >> 4) | ((s[g] >> 6) << 4);
  }
}

void decode(const BlockQ2_K& b, DecodedBlock& out) {
  out.d = fp16_to_f32(b.d);
  out.dmin = fp16_to_f32(b.dmin);
  out.sub_len = 16;
  for (size_t g = 0; g < 16; ++g) {
    out.sc[g] = b.scales[g] & 15;
    out.m[g] = b.scales[g] >> 4;
  }
  for (size_t n = 0; n < 2; ++n)
    for (size_t j = 0; j < 4; ++j)
      for (size_t l = 0; l < 32; ++l) out.q[128 * n + 32 * j + l] = (b.qs[32 * n + l] >> (2 * j)) & 3;
}

void decode(const BlockQ3_K& b, DecodedBlock& out) {
  out.d = fp16_to_f32(b.d);
  out.sub_len = 16;
  for (size_t g = 0; g < 16; ++g) {
    const int low = (b.scales[g % 8] >> (4 * (g / 8))) & 15;
    const int high = (b.scales[8 + g % 4] >> (2 * (g / 4))) & 3;
    out.sc[g] = (low | high << 4) - 32;
  }
  for (size_t n = 0; n < 2; ++n)
    for (size_t j = 0; j < 4; ++j)
      for (size_t l = 0; l < 32; ++l) {
        const int low = (b.qs[32 * n + l] >> (2 * j)) & 3;
        const bool high = (b.hmask[l] >> (4 * n + j)) & 1;
        out.q[128 * n + 32 * j + l] = low - (high ? 0 : 4);
      }
}

void decode(const BlockQ4_K& b, DecodedBlock& out) {
  out.d = fp16_to_f32(b.d);
  out.dmin = fp16_to_f32(b.dmin);
  out.sub_len = 32;
  for (size_t g = 0; g < 8; ++g) scale_min_k4(b.scales, g, out.sc[g], out.m[g]);
  for (size_t c = 0; c < 4; ++c)
    for (size_t h = 0; h < 2; ++h)
      for (size_t l = 0; l < 32; ++l) out.q[64 * c + 32 * h + l] = (b.qs[32 * c + l] >> (4 * h)) & 15;
}

void decode(const BlockQ5_K& b, DecodedBlock& out) {
  out.d = fp16_to_f32(b.d);
  out.dmin = fp16_to_f32(b.dmin);
  out.sub_len = 32;
  for (size_t g = 0; g < 8; ++g) scale_min_k4(b.scales, g, out.sc[g], out.m[g]);
  for (size_t c = 0; c < 4; ++c)
    for (size_t h = 0; h < 2; ++h)
      for (size_t l = 0; l < 32; ++l) {
        const int low = (b.qs[32 * c + l] >> (4 * h)) & 15;
        const int high = (b.qh[l] >> (2 * c + h)) & 1;
        out.q[64 * c + 32 * h + l] = low | high << 4;
      }
}

void decode(const BlockQ6_K& b, DecodedBlock& out) {
  out.d = fp16_to_f32(b.d);
  out.sub_len = 16;
  for (size_t g = 0; g < 16; ++g) out.sc[g] = b.scales[g];
  for (size_t n = 0; n < 2; ++n)
    for (size_t j = 0; j < 4; ++j)
      for (size_t l = 0; l < 32; ++l) {
        const int low = (b.ql[64 * n + 32 * (j & 1) + l] >> (4 * (j >> 1))) & 15;
        const int high = (b.qh[32 * n + l] >> (2 * j)) & 3;
        out.q[128 * n + 32 * j + l] = (low | high << 4) - 32;
      }
}

// out: [n] f32, src: n / 256 blocks of B.
template <class B>
void dequantize(float* out, const void* src, size_t n) {
  const B* blocks = static_cast<const B*>(src);
  DecodedBlock dec;
  for (size_t b = 0; b < n / kQKK; ++b) {
    decode(blocks[b], dec);
    for (size_t i = 0; i < kQKK; ++i) {
      const size_t g = i / dec.sub_len;
      const float dl = dec.d * float(dec.sc[g]);
      const float ml = dec.dmin * float(dec.m[g]);
      out[b * kQKK + i] = dl * float(dec.q[i]) - ml;
    }
  }
}

// x: [n_rows, d_in] f32 -> n_rows rows of d_in / 256 BlockQ8K.
void quantize_q8k(void* dst, const float* x, size_t n_rows, size_t d_in) {
  BlockQ8K* out = static_cast<BlockQ8K*>(dst);
  const size_t n_blocks = n_rows * (d_in / kQKK);
  for (size_t b = 0; b < n_blocks; ++b) {
    const float* xb = x + b * kQKK;
    float amax = 0.0f;
    for (size_t i = 0; i < kQKK; ++i) amax = std::fmax(amax, std::fabs(xb[i]));
    const float d = amax / 127.0f;
    const float id = amax != 0.0f ? 127.0f / amax : 0.0f;
    BlockQ8K& q = out[b];
    q.d = d;
    for (size_t i = 0; i < kQKK; ++i) q.qs[i] = int8_t(std::nearbyint(xb[i] * id));
    for (size_t k = 0; k < 16; ++k) {
      int sum = 0;
      for (size_t i = 0; i < 16; ++i) sum += q.qs[16 * k + i];
      q.bsums[k] = int16_t(sum);
    }
  }
}

// y[t, o] for o in [row_begin, row_end), every t (see the formula at the top of the file).
// xq: n_tokens rows of d_in / 256 BlockQ8K, w: d_out rows of d_in / 256 B.
template <class B>
void qmatmul_rows(float* y, const void* xq, const void* w, const float* bias, size_t n_tokens, size_t d_in,
                  size_t d_out, size_t row_begin, size_t row_end) {
  const size_t nb = d_in / kQKK;
  const B* weights = static_cast<const B*>(w);
  const BlockQ8K* acts = static_cast<const BlockQ8K*>(xq);
  DecodedBlock dec;
  for (size_t o = row_begin; o < row_end; ++o) {
    for (size_t t = 0; t < n_tokens; ++t) y[t * d_out + o] = 0.0f;
    for (size_t b = 0; b < nb; ++b) {
      decode(weights[o * nb + b], dec);
      const size_t n_sub = kQKK / dec.sub_len, groups_per_sub = dec.sub_len / 16;
      for (size_t t = 0; t < n_tokens; ++t) {
        const BlockQ8K& a = acts[t * nb + b];
        int32_t isum = 0, msum = 0;
        for (size_t g = 0; g < n_sub; ++g) {
          int32_t dot = 0, asum = 0;
          for (size_t i = g * dec.sub_len; i < (g + 1) * dec.sub_len; ++i) dot += dec.q[i] * a.qs[i];
          for (size_t k = g * groups_per_sub; k < (g + 1) * groups_per_sub; ++k) asum += a.bsums[k];
          isum += dec.sc[g] * dot;
          msum += dec.m[g] * asum;
        }
        y[t * d_out + o] += dec.d * a.d * float(isum) - dec.dmin * a.d * float(msum);
      }
    }
    if (bias != nullptr)
      for (size_t t = 0; t < n_tokens; ++t) y[t * d_out + o] += bias[o];
  }
}

template <class B>
void add_type(KernelTable& t, DType type) {
  t.qmatmul_rows[quant_index(type)] = qmatmul_rows<B>;
  t.dequantize[quant_index(type)] = dequantize<B>;
}

}  // namespace

void add_quantk_kernels(KernelTable& t) {
  t.quantize_q8k = quantize_q8k;
  add_type<BlockQ2_K>(t, DType::Q2_K);
  add_type<BlockQ3_K>(t, DType::Q3_K);
  add_type<BlockQ4_K>(t, DType::Q4_K);
  add_type<BlockQ5_K>(t, DType::Q5_K);
  add_type<BlockQ6_K>(t, DType::Q6_K);
}

}  // namespace tokenmill::kernels::ref
