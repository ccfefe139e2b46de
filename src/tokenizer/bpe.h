// Merge-rank BPE: a pre-token starts as a list of symbols (one per byte for byte-level
// vocabularies, one per character otherwise) and the adjacent pair with the lowest merge rank is
// merged until no ranked pair remains (ties: the leftmost pair).
#pragma once
#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

namespace tokenmill {

class BpeMerges {
 public:
  // Registers merge `rank` (0 = first learned) of left + right -> merged. A pair already present
  // keeps its first (lower) rank.
  void add(int32_t left, int32_t right, int32_t merged, int32_t rank);

  // symbols: token ids of the initial pieces, -1 for pieces outside the vocabulary (never
  // merged). Merges in place; the result is the final token sequence (may still hold -1).
  void apply(std::vector<int32_t>& symbols) const;

  size_t size() const { return merges_.size(); }

 private:
  struct Merge {
    int32_t rank;
    int32_t merged;
  };
  static uint64_t key(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) | static_cast<uint32_t>(right);
  }
  const Merge* find(int32_t left, int32_t right) const;

  std::unordered_map<uint64_t, Merge> merges_;
};

}  // namespace tokenmill
