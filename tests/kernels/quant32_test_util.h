// Helpers of the 32-element-block family's kernel tests: blocks decoded straight from the byte
// layout (independently of the kernels) and random weight rows.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "core/dtype.h"

namespace tokenmill::kernels::testing {

// Codes of one block decoded straight from the layout (independently of the kernels):
// x[i] = d * (q[i] - offset) + m.
struct Codes {
  int q[32];
  float d, m;
  int offset;
};

inline Codes decode_block(DType type, const uint8_t* b) {
  Codes c{{}, 0.0f, 0.0f, 0};
  uint16_t h;
  std::memcpy(&h, b, 2);
  c.d = fp16_to_f32(h);
  const bool has_min = type == DType::Q4_1 || type == DType::Q5_1;
  if (has_min) {
    std::memcpy(&h, b + 2, 2);
    c.m = fp16_to_f32(h);
  }
  if (type == DType::Q8_0) {
    for (int i = 0; i < 32; ++i) c.q[i] = int8_t(b[2 + i]);
    return c;
  }
  const bool five = type == DType::Q5_0 || type == DType::Q5_1;
  const size_t qh_at = has_min ? 4 : 2, qs_at = qh_at + (five ? 4 : 0);
  uint32_t qh = 0;
  if (five) std::memcpy(&qh, b + qh_at, 4);
  for (int i = 0; i < 16; ++i) {
    c.q[i] = (b[qs_at + i] & 15) | int((qh >> i) & 1) << 4;
    c.q[i + 16] = (b[qs_at + i] >> 4) | int((qh >> (i + 16)) & 1) << 4;
  }
  c.offset = type == DType::Q4_0 ? 8 : type == DType::Q5_0 ? 16 : 0;
  return c;
}

inline float random_scale(std::mt19937& rng, float lo, float hi) {
  std::uniform_real_distribution<float> mag(lo, hi);
  return fp16_to_f32(f32_to_fp16(rng() % 2 ? mag(rng) : -mag(rng)));
}

// n_rows rows of d_in / 32 blocks: random codes (every nibble value and qh bit occurs) with
// realistic f16 scales and mins.
inline std::vector<uint8_t> random_weights(std::mt19937& rng, DType type, size_t n_rows, size_t d_in) {
  const size_t bs = dtype_block_bytes(type), n_blocks = n_rows * d_in / 32;
  std::vector<uint8_t> w(n_blocks * bs);
  for (uint8_t& byte : w) byte = uint8_t(rng());
  for (size_t b = 0; b < n_blocks; ++b) {
    const uint16_t d = f32_to_fp16(random_scale(rng, 1e-3f, 0.05f));
    std::memcpy(&w[b * bs], &d, 2);
    if (type == DType::Q4_1 || type == DType::Q5_1) {
      const uint16_t m = f32_to_fp16(random_scale(rng, 0.0f, 0.2f));
      std::memcpy(&w[b * bs + 2], &m, 2);
    }
  }
  return w;
}

}  // namespace tokenmill::kernels::testing
