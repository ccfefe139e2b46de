// Deterministic pseudo-random numbers for sampling: xoshiro256** (Blackman & Vigna, 2018) with
// its state filled by splitmix64. Integer arithmetic only, so one seed yields the same stream on
// every platform and standard library (std::*_distribution output is implementation-defined).
#pragma once
#include <array>
#include <cstdint>

namespace tokenmill {

// splitmix64 (Steele, Lea & Flood): advances state by the golden-ratio increment and returns
// the mixed value. Used to spread one 64-bit seed over the 256-bit xoshiro state.
inline uint64_t splitmix64_next(uint64_t& state) {
  state += 0x9e3779b97f4a7c15ULL;
  uint64_t z = state;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

class Xoshiro256StarStar {
 public:
  // State = the first four splitmix64 outputs from seed (never all zero).
  explicit Xoshiro256StarStar(uint64_t seed) {
    for (uint64_t& word : state_) word = splitmix64_next(seed);
  }
  // Raw state, for reproducing published test vectors; must not be all zero.
  explicit Xoshiro256StarStar(const std::array<uint64_t, 4>& state) : state_(state) {}

  uint64_t next() {
    const uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1) with 53 random bits: the top bits of next() times 2^-53.
  double uniform01() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

  std::array<uint64_t, 4> state_;
};

}  // namespace tokenmill
