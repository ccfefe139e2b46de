// Shared helpers for the kernel tests: the ISAs to run, random data, weight encoding.
#pragma once
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/cpu_features.h"
#include "core/dtype.h"
#include "kernels/kernel_table.h"

namespace tokenmill::kernels::testing {

inline bool cpu_has(Isa isa) { return isa_supported(isa, detect_cpu_features()); }

inline std::string isa_param_name(const ::testing::TestParamInfo<Isa>& info) {
  return std::string(isa_name(info.param));
}

// Fixture base for suites parameterized by ISA: skips ISAs this CPU lacks.
class IsaTest : public ::testing::TestWithParam<Isa> {
 protected:
  void SetUp() override {
    if (!cpu_has(GetParam())) GTEST_SKIP() << "CPU lacks " << isa_name(GetParam());
  }
  const KernelTable& table() const { return kernel_table(GetParam()); }
};

#if defined(__x86_64__) || defined(_M_X64)
#define TOKENMILL_ALL_ISAS ::testing::Values(Isa::Scalar, Isa::Avx2, Isa::Avx512, Isa::Avx512Vnni, Isa::Amx)
#elif defined(__aarch64__)
#define TOKENMILL_ALL_ISAS ::testing::Values(Isa::Scalar, Isa::Neon)
#else
#define TOKENMILL_ALL_ISAS ::testing::Values(Isa::Scalar)
#endif

inline std::vector<float> random_floats(std::mt19937& rng, size_t n, float lo = -1.0f,
                                        float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(n);
  for (float& f : v) f = dist(rng);
  return v;
}

// Weights stored as raw bytes in dtype, preceded by offset_elems padding elements so the data
// pointer can be deliberately misaligned. values: [n] f32, rounded to dtype.
struct EncodedWeights {
  std::vector<uint8_t> bytes;
  size_t offset_bytes = 0;
  const void* data() const { return bytes.data() + offset_bytes; }
};

inline EncodedWeights encode(const std::vector<float>& values, DType dtype, size_t offset_elems) {
  const size_t elem = dtype_size_bytes(dtype);
  EncodedWeights e;
  e.offset_bytes = offset_elems * elem;
  e.bytes.assign(e.offset_bytes + values.size() * elem, 0);
  uint8_t* out = e.bytes.data() + e.offset_bytes;
  for (size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::F32) {
      std::memcpy(out + i * 4, &values[i], 4);
    } else {
      const uint16_t h = dtype == DType::F16 ? f32_to_fp16(values[i]) : f32_to_bf16(values[i]);
      std::memcpy(out + i * 2, &h, 2);
    }
  }
  return e;
}

// The value the kernels see for an encoded weight.
inline float decoded(float v, DType dtype) {
  if (dtype == DType::F16) return fp16_to_f32(f32_to_fp16(v));
  if (dtype == DType::BF16) return bf16_to_f32(f32_to_bf16(v));
  return v;
}

}  // namespace tokenmill::kernels::testing
