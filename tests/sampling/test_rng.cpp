// Test vectors computed with an independent Python transcription of the reference C code
// (prng.di.unimi.it); splitmix64(0) also matches the published sequence.
#include <gtest/gtest.h>

#include "sampling/rng.h"

namespace tokenmill {
namespace {

TEST(Rng, Splitmix64FromZero) {
  uint64_t state = 0;
  EXPECT_EQ(splitmix64_next(state), 0xe220a8397b1dcdafULL);
  EXPECT_EQ(splitmix64_next(state), 0x6e789e6aa1b965f4ULL);
  EXPECT_EQ(splitmix64_next(state), 0x06c45d188009454fULL);
  EXPECT_EQ(splitmix64_next(state), 0xf88bb8a8724c81ecULL);
}

TEST(Rng, XoshiroFromRawState) {
  Xoshiro256StarStar rng(std::array<uint64_t, 4>{1, 2, 3, 4});
  EXPECT_EQ(rng.next(), 0x2d00ULL);  // rotl(2 * 5, 7) * 9 = 11520
  EXPECT_EQ(rng.next(), 0x0ULL);
  EXPECT_EQ(rng.next(), 0x5a007080ULL);
  EXPECT_EQ(rng.next(), 0x10e0000000009d80ULL);
  EXPECT_EQ(rng.next(), 0x10e0b61ce1009d80ULL);
  EXPECT_EQ(rng.next(), 0x0870021ce143ad00ULL);
}

TEST(Rng, XoshiroSeededThroughSplitmix) {
  Xoshiro256StarStar rng(42);
  EXPECT_EQ(rng.next(), 0x15780b2e0c2ec716ULL);
  EXPECT_EQ(rng.next(), 0x6104d9866d113a7eULL);
  EXPECT_EQ(rng.next(), 0xae17533239e499a1ULL);
  EXPECT_EQ(rng.next(), 0xecb8ad4703b360a1ULL);
}

TEST(Rng, Uniform01StaysInHalfOpenUnitIntervalWithMeanOneHalf) {
  Xoshiro256StarStar rng(7);
  const int n = 100000;
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    const double u = rng.uniform01();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
  }
  // Standard deviation of the mean: sqrt(1/12 / n) ~ 0.0009.
  EXPECT_NEAR(sum / n, 0.5, 0.005);
}

}  // namespace
}  // namespace tokenmill
