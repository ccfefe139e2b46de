// BlockManager without a model: ref counts, pool conservation, prefix hits (chained, verified),
// LRU eviction, copy-on-write after fork, double free. Every test ends with expect_consistent().
#include <gtest/gtest.h>

#include <numeric>
#include <vector>

#include "core/error.h"
#include "kv/block_manager.h"

namespace tokenmill {
namespace {

using Table = std::vector<int32_t>;

std::vector<int32_t> range_tokens(int32_t n, int32_t first) {
  std::vector<int32_t> t(static_cast<size_t>(n));
  std::iota(t.begin(), t.end(), first);
  return t;
}

// Pools partition the blocks and each block's ref_count == number of the given tables holding it.
void expect_consistent(const BlockManager& bm, const std::vector<const Table*>& tables) {
  EXPECT_NO_THROW(bm.check_invariants());
  EXPECT_EQ(bm.n_free_blocks() + bm.n_evictable_blocks() + bm.n_used_blocks(), bm.n_blocks());
  std::vector<int32_t> holders(size_t(bm.n_blocks()), 0);
  for (const Table* t : tables)
    for (int32_t b : *t) ++holders.at(size_t(b));
  int32_t n_used = 0;
  for (int32_t b = 0; b < bm.n_blocks(); ++b) {
    EXPECT_EQ(bm.ref_count(b), holders[size_t(b)]) << "block " << b;
    n_used += holders[size_t(b)] > 0 ? 1 : 0;
  }
  EXPECT_EQ(bm.n_used_blocks(), n_used);
}

// Admits a whole sequence (prefix lookup, then blocks for every remaining token); returns the hit.
int32_t admit(BlockManager& bm, int64_t id, const std::vector<int32_t>& tokens, Table& table) {
  const PrefixMatch m = bm.match_prefix(tokens);
  return bm.allocate(id, m, int32_t(tokens.size()) - m.n_cached_tokens, table);
}

// Admits and "computes" the whole sequence: its full blocks join the prefix cache.
int32_t admit_computed(BlockManager& bm, int64_t id, const std::vector<int32_t>& tokens, Table& table) {
  const int32_t hit = admit(bm, id, tokens, table);
  bm.commit(id, tokens, table, int32_t(tokens.size()));
  return hit;
}

TEST(BlockManager, AllocateAndFreeKeepRefCounts) {
  BlockManager bm(8, 4, false);
  Table a, b;
  EXPECT_EQ(admit(bm, 1, range_tokens(10, 0), a), 0);
  EXPECT_EQ(a.size(), 3u);
  EXPECT_EQ(bm.n_used_blocks(), 3);
  EXPECT_EQ(bm.n_free_blocks(), 5);
  admit(bm, 2, range_tokens(4, 0), b);
  EXPECT_EQ(b.size(), 1u);
  expect_consistent(bm, {&a, &b});
  EXPECT_DOUBLE_EQ(bm.usage(), 4.0 / 8.0);
  bm.free(1, a);
  EXPECT_TRUE(a.empty());
  expect_consistent(bm, {&b});
  bm.free(2, b);
  EXPECT_EQ(bm.n_free_blocks(), 8);
  EXPECT_EQ(bm.n_live_sequences(), 0u);
  expect_consistent(bm, {});
}

TEST(BlockManager, DoubleFreeThrows) {
  BlockManager bm(4, 4, true);
  Table a;
  admit_computed(bm, 7, range_tokens(9, 0), a);
  Table copy = a;
  bm.free(7, a);
  EXPECT_THROW(bm.free(7, a), Error);
  EXPECT_THROW(bm.free(7, copy), Error);  // even with the old table in hand
  expect_consistent(bm, {});
}

TEST(BlockManager, RefusesWhatDoesNotFit) {
  BlockManager bm(2, 4, false);
  const auto tokens = range_tokens(9, 0);
  const PrefixMatch m = bm.match_prefix(tokens);
  EXPECT_FALSE(bm.can_allocate(m, 9));
  EXPECT_TRUE(bm.can_allocate(m, 8));
  Table a;
  EXPECT_THROW(bm.allocate(1, m, 9, a), Error);
  EXPECT_TRUE(a.empty());
  EXPECT_FALSE(bm.holds_blocks(1));
  bm.allocate(1, m, 8, a);
  EXPECT_THROW(bm.allocate(1, bm.match_prefix(tokens), 0, a), Error);  // already holds blocks
  EXPECT_FALSE(bm.can_append(a, 8, 1));
  std::vector<BlockCopy> copies;
  EXPECT_THROW(bm.append_slots(1, a, 8, 1, copies), Error);
  expect_consistent(bm, {&a});
  bm.free(1, a);
  expect_consistent(bm, {});
}

TEST(BlockManager, IdenticalPromptHitsWholeBlocksButNotTheLastToken) {
  BlockManager bm(16, 4, true);
  const auto prompt = range_tokens(10, 100);
  Table a, b, c;
  EXPECT_EQ(admit_computed(bm, 1, prompt, a), 0);
  EXPECT_EQ(admit(bm, 2, prompt, b), 8);  // 2 full blocks; the partial third never hits
  EXPECT_EQ(b[0], a[0]);
  EXPECT_EQ(b[1], a[1]);
  EXPECT_NE(b[2], a[2]);
  EXPECT_EQ(bm.ref_count(a[0]), 2);
  expect_consistent(bm, {&a, &b});

  // A prompt of exactly two full blocks hits only the first: the last token must be computed.
  const auto exact = range_tokens(8, 100);
  EXPECT_EQ(admit(bm, 3, exact, c), 4);
  EXPECT_EQ(bm.prefix_query_tokens(), 10u + 10u + 8u);
  EXPECT_EQ(bm.prefix_hit_tokens(), 8u + 4u);
  expect_consistent(bm, {&a, &b, &c});
  bm.free(1, a);
  bm.free(2, b);
  bm.free(3, c);
  expect_consistent(bm, {});
}

TEST(BlockManager, PartiallySharedPromptHitsTheCommonBlocks) {
  BlockManager bm(16, 4, true);
  auto a_tokens = range_tokens(14, 0);
  auto b_tokens = a_tokens;
  b_tokens[9] = 999;  // differs inside the third block
  Table a, b;
  admit_computed(bm, 1, a_tokens, a);
  EXPECT_EQ(admit(bm, 2, b_tokens, b), 8);
  EXPECT_EQ(b[1], a[1]);
  EXPECT_NE(b[2], a[2]);
  expect_consistent(bm, {&a, &b});
  bm.free(2, b);
  bm.free(1, a);
  expect_consistent(bm, {});
}

TEST(BlockManager, SameBlockAfterADifferentPrefixDoesNotHit) {
  BlockManager bm(16, 4, true);
  std::vector<int32_t> a_tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  std::vector<int32_t> b_tokens = {0, 2, 3, 4, 5, 6, 7, 8, 9};  // block 1 equal, block 0 not
  Table a, b;
  admit_computed(bm, 1, a_tokens, a);
  EXPECT_EQ(admit(bm, 2, b_tokens, b), 0);
  expect_consistent(bm, {&a, &b});
  bm.free(1, a);
  bm.free(2, b);
}

uint64_t constant_hash(uint64_t, std::span<const int32_t>) {
  return 42;
}

uint64_t hash_ignoring_parent(uint64_t, std::span<const int32_t> ids) {
  return chained_block_hash(kRootBlockHash, ids);
}

TEST(BlockManager, HashCollisionsNeverReturnAnotherPrefix) {
  BlockManager bm(16, 4, true, constant_hash);  // every block collides
  const std::vector<int32_t> a_tokens = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  Table a, b, c;
  admit_computed(bm, 1, a_tokens, a);
  // Different first block, same hash: no hit.
  EXPECT_EQ(admit(bm, 2, {10, 11, 12, 13, 5, 6, 7, 8, 9}, b), 0);
  // Identical prompt: the first block verifies; the second's hash points at the first: stop there.
  EXPECT_EQ(admit(bm, 3, a_tokens, c), 4);
  EXPECT_EQ(c[0], a[0]);
  expect_consistent(bm, {&a, &b, &c});
  bm.free(1, a);
  bm.free(2, b);
  bm.free(3, c);
  expect_consistent(bm, {});
}

TEST(BlockManager, EqualBlockUnderAnotherParentIsRejectedEvenWhenHashesCollide) {
  BlockManager bm(16, 4, true, hash_ignoring_parent);  // hash sees only the block's own tokens
  Table a, b, c;
  admit_computed(bm, 1, {1, 2, 3, 4, 5, 6, 7, 8, 0}, a);
  admit_computed(bm, 2, {9, 9, 9, 9, 0, 0, 0, 0, 0}, b);
  // Block 0 hits b's; block 1 {5,6,7,8} is cached only under a's block 0: the parent check refuses.
  EXPECT_EQ(admit(bm, 3, {9, 9, 9, 9, 5, 6, 7, 8, 0}, c), 4);
  EXPECT_EQ(c[0], b[0]);
  EXPECT_NE(c[1], a[1]);
  expect_consistent(bm, {&a, &b, &c});
  bm.free(1, a);
  bm.free(2, b);
  bm.free(3, c);
}

TEST(BlockManager, EvictableBlocksAreReusedLeastRecentlyFreedFirst) {
  BlockManager bm(4, 2, true);
  Table t;
  for (int64_t id = 1; id <= 3; ++id) {  // three one-block prefixes, freed in order 1, 2, 3
    admit_computed(bm, id, {int32_t(id), int32_t(id)}, t);
    bm.free(id, t);
  }
  EXPECT_EQ(bm.n_evictable_blocks(), 3);
  EXPECT_EQ(bm.n_free_blocks(), 1);
  // Touch prefix 1 again: it becomes the most recently freed.
  EXPECT_EQ(admit(bm, 4, {1, 1, 7}, t), 2);
  bm.free(4, t);
  EXPECT_EQ(bm.n_free_blocks(), 1);
  expect_consistent(bm, {});
  // Needs 3 blocks: the free one, then evicts prefix 2, then prefix 3; prefix 1 survives.
  Table big;
  admit(bm, 5, range_tokens(6, 50), big);
  EXPECT_EQ(bm.n_evictions(), 2u);
  EXPECT_EQ(bm.match_prefix(std::vector<int32_t>{2, 2, 0}).n_cached_tokens, 0);
  EXPECT_EQ(bm.match_prefix(std::vector<int32_t>{3, 3, 0}).n_cached_tokens, 0);
  EXPECT_EQ(bm.match_prefix(std::vector<int32_t>{1, 1, 0}).n_cached_tokens, 2);
  expect_consistent(bm, {&big});
  bm.free(5, big);
  expect_consistent(bm, {});
}

TEST(BlockManager, FreeingEvictsAPrefixTailBeforeItsHead) {
  BlockManager bm(3, 2, true);
  Table a, b;
  admit_computed(bm, 1, {1, 2, 3, 4, 5}, a);  // blocks 0,1 registered, block 2 partial
  bm.free(1, a);
  EXPECT_EQ(bm.n_evictable_blocks(), 2);
  admit(bm, 2, {9, 9, 9}, b);  // 2 blocks: the free one, then one eviction
  EXPECT_EQ(bm.match_prefix(std::vector<int32_t>{1, 2, 3, 4, 5}).n_cached_tokens, 2);  // head kept
  expect_consistent(bm, {&b});
  bm.free(2, b);
}

TEST(BlockManager, EvictableHitsCountAgainstAvailableBlocks) {
  BlockManager bm(2, 2, true);
  Table a, b;
  admit_computed(bm, 1, {1, 2, 3}, a);
  bm.free(1, a);  // block of {1,2} evictable, other free
  const PrefixMatch m = bm.match_prefix(std::vector<int32_t>{1, 2, 3, 4, 5});
  EXPECT_EQ(m.n_cached_tokens, 2);
  EXPECT_EQ(m.n_evictable_hits, 1);
  EXPECT_TRUE(bm.can_allocate(m, 2));   // hit + 1 new block
  EXPECT_FALSE(bm.can_allocate(m, 3));  // hit + 2 new blocks > 2
  bm.allocate(2, m, 2, b);
  expect_consistent(bm, {&b});
  bm.free(2, b);
}

TEST(BlockManager, BlocksFilledDuringDecodeJoinThePrefixCache) {
  BlockManager bm(8, 4, true);
  std::vector<int32_t> tokens = {1, 2, 3, 4, 5};
  Table a, b;
  admit_computed(bm, 1, tokens, a);
  std::vector<BlockCopy> copies;
  for (int32_t t = 6; t <= 9; ++t) {  // decode: a sampled token is appended, then computed
    tokens.push_back(t);
    bm.append_slots(1, a, int32_t(tokens.size()) - 1, 1, copies);
    bm.commit(1, tokens, a, int32_t(tokens.size()));
  }
  EXPECT_TRUE(copies.empty());
  EXPECT_EQ(admit(bm, 2, tokens, b), 8);  // the generated block is found too
  EXPECT_EQ(b[1], a[1]);
  expect_consistent(bm, {&a, &b});
  bm.free(1, a);
  bm.free(2, b);
}

TEST(BlockManager, SamePrefixComputedTwiceKeepsOneCacheEntry) {
  BlockManager bm(8, 4, true);
  const std::vector<int32_t> prompt = {1, 2, 3, 4, 5};
  Table a, b, c;
  admit(bm, 1, prompt, a);  // both admitted before either computed: no hit
  EXPECT_EQ(admit(bm, 2, prompt, b), 0);
  bm.commit(1, prompt, a, 5);
  bm.commit(2, prompt, b, 5);
  bm.free(1, a);  // a's block is the cache entry: evictable
  EXPECT_EQ(bm.n_evictable_blocks(), 1);
  expect_consistent(bm, {&b});
  bm.free(2, b);  // b's duplicate is not: free
  EXPECT_EQ(bm.n_evictable_blocks(), 1);
  EXPECT_EQ(admit(bm, 3, prompt, c), 4);
  expect_consistent(bm, {&c});
  bm.free(3, c);
  expect_consistent(bm, {});
}

TEST(BlockManager, ForkSharesBlocksAndCopyOnWriteSeparatesThem) {
  BlockManager bm(8, 4, true);
  const std::vector<int32_t> tokens = {1, 2, 3, 4, 5, 6};
  Table parent, child;
  admit_computed(bm, 1, tokens, parent);
  bm.fork(1, parent, 2, child);
  EXPECT_EQ(child, parent);
  EXPECT_EQ(bm.ref_count(parent[0]), 2);
  EXPECT_EQ(bm.ref_count(parent[1]), 2);
  expect_consistent(bm, {&parent, &child});

  // Both write position 6, inside the shared partial block 1: the first writer gets a copy.
  std::vector<BlockCopy> copies;
  const int32_t shared = parent[1];
  EXPECT_TRUE(bm.can_append(parent, 6, 1));
  bm.append_slots(1, parent, 6, 1, copies);
  ASSERT_EQ(copies.size(), 1u);
  EXPECT_EQ(copies[0].first, shared);
  EXPECT_EQ(copies[0].second, parent[1]);
  EXPECT_NE(parent[1], shared);
  bm.append_slots(2, child, 6, 1, copies);  // now the only holder: writes in place
  EXPECT_EQ(copies.size(), 1u);
  EXPECT_EQ(child[1], shared);
  EXPECT_EQ(parent[0], child[0]);  // the full block stays shared
  EXPECT_EQ(bm.ref_count(parent[0]), 2);
  expect_consistent(bm, {&parent, &child});

  EXPECT_THROW(bm.fork(1, parent, 2, child), Error);  // child already holds blocks
  bm.free(2, child);
  bm.free(1, parent);
  expect_consistent(bm, {});
}

TEST(BlockManager, CopyOnWriteNeedsAFreeBlock) {
  BlockManager bm(2, 4, false);
  Table parent, child;
  admit(bm, 1, {1, 2, 3}, parent);
  bm.fork(1, parent, 2, child);
  EXPECT_TRUE(bm.can_append(parent, 3, 1));   // copy into the one free block
  EXPECT_FALSE(bm.can_append(parent, 3, 2));  // copy + a new block
  std::vector<BlockCopy> copies;
  bm.append_slots(1, parent, 3, 1, copies);
  EXPECT_EQ(copies.size(), 1u);
  EXPECT_EQ(bm.n_free_blocks(), 0);
  expect_consistent(bm, {&parent, &child});
  bm.free(1, parent);
  bm.free(2, child);
  expect_consistent(bm, {});
}

TEST(BlockManager, ForkAtABlockBoundaryNeedsNoCopy) {
  BlockManager bm(8, 4, true);
  const std::vector<int32_t> tokens = {1, 2, 3, 4, 5, 6, 7, 8};
  Table parent, child;
  admit_computed(bm, 1, tokens, parent);
  bm.fork(1, parent, 2, child);
  std::vector<BlockCopy> copies;
  bm.append_slots(1, parent, 8, 1, copies);
  bm.append_slots(2, child, 8, 1, copies);
  EXPECT_TRUE(copies.empty());
  EXPECT_NE(parent[2], child[2]);
  expect_consistent(bm, {&parent, &child});
  bm.free(1, parent);
  bm.free(2, child);
  expect_consistent(bm, {});
}

TEST(BlockManager, UnknownSequencesAndBadArgumentsThrow) {
  EXPECT_THROW(BlockManager(0, 16, true), Error);
  EXPECT_THROW(BlockManager(4, 0, true), Error);
  BlockManager bm(4, 4, true);
  Table t;
  std::vector<BlockCopy> copies;
  EXPECT_THROW(bm.append_slots(9, t, 0, 1, copies), Error);
  EXPECT_THROW(bm.commit(9, std::vector<int32_t>{1}, t, 1), Error);
  EXPECT_THROW(bm.fork(9, t, 10, t), Error);
  expect_consistent(bm, {});
}

TEST(BlockManager, ChainedHashDependsOnParentAndEveryToken) {
  const std::vector<int32_t> ids = {1, 2, 3, 4};
  const uint64_t h = chained_block_hash(kRootBlockHash, ids);
  EXPECT_NE(h, chained_block_hash(h, ids));
  for (size_t i = 0; i < ids.size(); ++i) {
    auto changed = ids;
    changed[i] += 1;
    EXPECT_NE(h, chained_block_hash(kRootBlockHash, changed));
  }
  EXPECT_NE(chained_block_hash(kRootBlockHash, std::vector<int32_t>{1, 2, 3}), h);
}

}  // namespace
}  // namespace tokenmill
