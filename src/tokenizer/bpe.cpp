#include "tokenizer/bpe.h"

#include <queue>

namespace tokenmill {

void BpeMerges::add(int32_t left, int32_t right, int32_t merged, int32_t rank) {
  merges_.try_emplace(key(left, right), Merge{rank, merged});
}

const BpeMerges::Merge* BpeMerges::find(int32_t left, int32_t right) const {
  if (left < 0 || right < 0) return nullptr;
  const auto it = merges_.find(key(left, right));
  return it == merges_.end() ? nullptr : &it->second;
}

void BpeMerges::apply(std::vector<int32_t>& symbols) const {
  const int32_t n = static_cast<int32_t>(symbols.size());
  if (n < 2) return;
  // Linked list over positions; a merged-away position has alive[pos] == false.
  std::vector<int32_t> prev(n), next(n);
  std::vector<bool> alive(n, true);
  for (int32_t i = 0; i < n; ++i) {
    prev[i] = i - 1;
    next[i] = i + 1 < n ? i + 1 : -1;
  }
  struct Candidate {
    int32_t rank;
    int32_t left;  // position of the left symbol
    int32_t left_id;
    int32_t right_id;
  };
  // Lowest rank first, then leftmost.
  const auto later = [](const Candidate& a, const Candidate& b) {
    return a.rank > b.rank || (a.rank == b.rank && a.left > b.left);
  };
  std::priority_queue<Candidate, std::vector<Candidate>, decltype(later)> queue(later);
  const auto consider = [&](int32_t left) {
    if (left < 0 || next[left] < 0) return;
    const int32_t right = next[left];
    if (const Merge* m = find(symbols[left], symbols[right])) {
      queue.push({m->rank, left, symbols[left], symbols[right]});
    }
  };
  for (int32_t i = 0; i + 1 < n; ++i) consider(i);

  while (!queue.empty()) {
    const Candidate top = queue.top();
    queue.pop();
    const int32_t left = top.left;
    // Stale when either side changed since the candidate was queued.
    if (!alive[left] || next[left] < 0) continue;
    const int32_t right = next[left];
    if (symbols[left] != top.left_id || symbols[right] != top.right_id) continue;
    symbols[left] = find(top.left_id, top.right_id)->merged;
    alive[right] = false;
    next[left] = next[right];
    if (next[right] >= 0) prev[next[right]] = left;
    consider(prev[left]);
    consider(left);
  }

  size_t out = 0;
  for (int32_t i = 0; i >= 0; i = next[i]) symbols[out++] = symbols[i];
  symbols.resize(out);
}

}  // namespace tokenmill
