#include "kv/block_manager.h"

#include <algorithm>
#include <string>

#include "core/error.h"

namespace tokenmill {

namespace {

uint64_t fnv1a_bytes(uint64_t h, uint64_t value, int n_bytes) {
  for (int i = 0; i < n_bytes; ++i) {
    h ^= (value >> (8 * i)) & 0xffu;
    h *= 0x100000001b3ULL;
  }
  return h;
}

bool same_tokens(const std::vector<int32_t>& a, std::span<const int32_t> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

}  // namespace

uint64_t chained_block_hash(uint64_t parent_hash, std::span<const int32_t> token_ids) {
  uint64_t h = 0xcbf29ce484222325ULL;
  h = fnv1a_bytes(h, parent_hash, 8);
  h = fnv1a_bytes(h, token_ids.size(), 8);
  for (int32_t t : token_ids) h = fnv1a_bytes(h, uint32_t(t), 4);
  // splitmix64 finalizer: FNV's high bits depend weakly on the last bytes.
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return h;
}

BlockManager::BlockManager(int32_t n_blocks, int32_t block_size, bool enable_prefix_caching,
                           BlockHashFn hash_fn)
    : block_size_(block_size), prefix_caching_(enable_prefix_caching), hash_fn_(hash_fn) {
  check(n_blocks > 0, "BlockManager: n_blocks must be > 0, got " + std::to_string(n_blocks));
  check(block_size > 0, "BlockManager: block_size must be > 0, got " + std::to_string(block_size));
  check(hash_fn != nullptr, "BlockManager: hash function is null");
  blocks_.resize(size_t(n_blocks));
  free_blocks_.reserve(size_t(n_blocks));
  for (int32_t b = n_blocks - 1; b >= 0; --b) free_blocks_.push_back(b);  // block 0 is taken first
}

// ---------------------------------------------------------------------------------------------
// Pools

int32_t BlockManager::take_block() {
  int32_t b;
  if (!free_blocks_.empty()) {
    b = free_blocks_.back();
    free_blocks_.pop_back();
  } else {
    check(!evictable_.empty(), "BlockManager: out of KV blocks (caller skipped can_allocate/can_append)");
    b = evictable_.front();
    evictable_.pop_front();
    blocks_[size_t(b)].evictable = false;
    unregister(b);
    ++n_evictions_;
  }
  blocks_[size_t(b)].ref_count = 1;
  return b;
}

void BlockManager::release_block(int32_t b) {
  Block& blk = blocks_.at(size_t(b));
  check(blk.ref_count > 0, "BlockManager: KV block " + std::to_string(b) + " released more often than taken");
  if (--blk.ref_count > 0) return;
  if (blk.identity != 0) {
    // A duplicate of content whose cache entry was evicted becomes the entry.
    if (cached_.find(blk.hash) == cached_.end()) cached_[blk.hash] = b;
    if (is_cache_entry(b)) {
      blk.evictable = true;
      blk.lru_pos = evictable_.insert(evictable_.end(), b);
      return;
    }
    unregister(b);
  }
  free_blocks_.push_back(b);
}

bool BlockManager::is_cache_entry(int32_t b) const {
  const Block& blk = blocks_[size_t(b)];
  if (blk.identity == 0) return false;
  auto it = cached_.find(blk.hash);
  return it != cached_.end() && it->second == b;
}

void BlockManager::unregister(int32_t b) {
  if (is_cache_entry(b)) cached_.erase(blocks_[size_t(b)].hash);
  Block& blk = blocks_[size_t(b)];
  blk.identity = 0;
  blk.parent_identity = 0;
  blk.hash = 0;
  blk.token_ids.clear();
}

// ---------------------------------------------------------------------------------------------
// Admission

PrefixMatch BlockManager::match_prefix(std::span<const int32_t> tokens) const {
  PrefixMatch match;
  match.n_query_tokens = int32_t(tokens.size());
  if (!prefix_caching_ || tokens.empty()) return match;
  const size_t max_blocks = (tokens.size() - 1) / size_t(block_size_);  // leave the last token
  for (size_t i = 0; i < max_blocks; ++i) {
    auto ids = tokens.subspan(i * size_t(block_size_), size_t(block_size_));
    const uint64_t h = hash_fn_(match.chain_hash, ids);
    auto it = cached_.find(h);
    if (it == cached_.end()) break;
    const Block& blk = blocks_[size_t(it->second)];
    if (blk.parent_identity != match.chain_identity || !same_tokens(blk.token_ids, ids)) break;  // collision
    match.blocks.push_back(it->second);
    if (blk.ref_count == 0) ++match.n_evictable_hits;
    match.chain_hash = h;
    match.chain_identity = blk.identity;
  }
  match.n_cached_tokens = int32_t(match.blocks.size()) * block_size_;
  return match;
}

bool BlockManager::can_allocate(const PrefixMatch& match, int32_t n_new_tokens) const {
  const int32_t n_new_blocks =
      blocks_for_tokens(int64_t(match.n_cached_tokens) + n_new_tokens) - int32_t(match.blocks.size());
  return n_new_blocks + match.n_evictable_hits <= n_available_blocks();
}

int32_t BlockManager::allocate(int64_t seq_id, const PrefixMatch& match, int32_t n_new_tokens,
                               std::vector<int32_t>& block_table) {
  check(live_.count(seq_id) == 0,
        "BlockManager: sequence " + std::to_string(seq_id) + " already holds blocks");
  check(block_table.empty(), "BlockManager: allocate needs an empty block table");
  check(n_new_tokens >= 0, "BlockManager: negative token count");
  check(can_allocate(match, n_new_tokens), "BlockManager: not enough KV blocks to allocate");
  for (int32_t b : match.blocks) {
    Block& blk = blocks_.at(size_t(b));
    check(is_cache_entry(b), "BlockManager: stale PrefixMatch (block evicted since the lookup)");
    if (blk.ref_count == 0) {
      evictable_.erase(blk.lru_pos);
      blk.evictable = false;
    }
    ++blk.ref_count;
    block_table.push_back(b);
  }
  live_[seq_id] = SequenceChain{int32_t(match.blocks.size()), match.chain_hash, match.chain_identity};
  const int32_t n_blocks_needed = blocks_for_tokens(int64_t(match.n_cached_tokens) + n_new_tokens);
  while (int32_t(block_table.size()) < n_blocks_needed) block_table.push_back(take_block());
  if (prefix_caching_) {
    prefix_query_tokens_ += uint64_t(match.n_query_tokens);
    prefix_hit_tokens_ += uint64_t(match.n_cached_tokens);
  }
  return match.n_cached_tokens;
}

// ---------------------------------------------------------------------------------------------
// Growth, copy-on-write, registration

int32_t BlockManager::n_copy_on_write(const std::vector<int32_t>& block_table, int32_t n_computed,
                                      int32_t n_new_tokens) const {
  if (n_new_tokens <= 0) return 0;
  const size_t first = size_t(n_computed / block_size_);
  const size_t end =
      std::min(block_table.size(), size_t(blocks_for_tokens(int64_t(n_computed) + n_new_tokens)));
  int32_t n = 0;
  for (size_t i = first; i < end; ++i) n += blocks_[size_t(block_table[i])].ref_count > 1 ? 1 : 0;
  return n;
}

bool BlockManager::can_append(const std::vector<int32_t>& block_table, int32_t n_computed,
                              int32_t n_new_tokens) const {
  const int32_t n_grow =
      std::max(0, blocks_for_tokens(int64_t(n_computed) + n_new_tokens) - int32_t(block_table.size()));
  return n_grow + n_copy_on_write(block_table, n_computed, n_new_tokens) <= n_available_blocks();
}

void BlockManager::append_slots(int64_t seq_id, std::vector<int32_t>& block_table, int32_t n_computed,
                                int32_t n_new_tokens, std::vector<BlockCopy>& copies) {
  check(live_.count(seq_id) == 1, "BlockManager: sequence " + std::to_string(seq_id) + " holds no blocks");
  check(n_computed >= 0 && n_new_tokens >= 0, "BlockManager: negative token count");
  check(int32_t(block_table.size()) >= blocks_for_tokens(n_computed),
        "BlockManager: block table shorter than the computed tokens");
  check(can_append(block_table, n_computed, n_new_tokens), "BlockManager: not enough KV blocks to append");
  if (n_new_tokens == 0) return;
  const size_t first = size_t(n_computed / block_size_);
  const size_t n_needed = size_t(blocks_for_tokens(int64_t(n_computed) + n_new_tokens));
  for (size_t i = first; i < std::min(block_table.size(), n_needed); ++i) {
    const int32_t src = block_table[i];
    if (blocks_[size_t(src)].ref_count <= 1) continue;
    const int32_t dst = take_block();
    copies.emplace_back(src, dst);
    release_block(src);  // stays used: another table still holds it
    block_table[i] = dst;
  }
  while (block_table.size() < n_needed) block_table.push_back(take_block());
}

void BlockManager::register_block(int32_t b, SequenceChain& chain, std::span<const int32_t> token_ids) {
  Block& blk = blocks_[size_t(b)];
  if (blk.identity != 0) {  // shared block another holder registered first
    check(blk.parent_identity == chain.identity && same_tokens(blk.token_ids, token_ids),
          "BlockManager: shared block " + std::to_string(b) + " registered with different content");
    chain.hash = blk.hash;
    chain.identity = blk.identity;
    return;
  }
  const uint64_t h = hash_fn_(chain.hash, token_ids);
  uint64_t identity = 0;
  auto it = cached_.find(h);
  if (it != cached_.end()) {
    const Block& entry = blocks_[size_t(it->second)];
    if (entry.parent_identity == chain.identity && same_tokens(entry.token_ids, token_ids)) {
      identity = entry.identity;  // same prefix computed twice: one content, the entry stays
    }
  }
  if (identity == 0) {
    identity = next_identity_++;
    if (it == cached_.end()) cached_[h] = b;  // on a collision the older entry keeps the hash
  }
  blk.identity = identity;
  blk.parent_identity = chain.identity;
  blk.hash = h;
  blk.token_ids.assign(token_ids.begin(), token_ids.end());
  chain.hash = h;
  chain.identity = identity;
}

void BlockManager::commit(int64_t seq_id, std::span<const int32_t> tokens,
                          const std::vector<int32_t>& block_table, int32_t n_computed) {
  auto it = live_.find(seq_id);
  check(it != live_.end(), "BlockManager: sequence " + std::to_string(seq_id) + " holds no blocks");
  check(n_computed >= 0 && size_t(n_computed) <= tokens.size(), "BlockManager: n_computed beyond the tokens");
  if (!prefix_caching_) return;
  SequenceChain& chain = it->second;
  const int32_t n_full = n_computed / block_size_;
  check(int32_t(block_table.size()) >= n_full, "BlockManager: block table shorter than the computed tokens");
  for (int32_t i = chain.n_registered_blocks; i < n_full; ++i) {
    register_block(block_table[size_t(i)], chain,
                   tokens.subspan(size_t(i) * size_t(block_size_), size_t(block_size_)));
  }
  chain.n_registered_blocks = std::max(chain.n_registered_blocks, n_full);
}

// ---------------------------------------------------------------------------------------------
// Sharing and release

void BlockManager::fork(int64_t parent_id, const std::vector<int32_t>& parent_table, int64_t child_id,
                        std::vector<int32_t>& child_table) {
  auto parent = live_.find(parent_id);
  check(parent != live_.end(),
        "BlockManager: fork of sequence " + std::to_string(parent_id) + " without blocks");
  check(live_.count(child_id) == 0,
        "BlockManager: fork child " + std::to_string(child_id) + " already holds blocks");
  check(child_table.empty(), "BlockManager: fork needs an empty child block table");
  for (int32_t b : parent_table) ++blocks_.at(size_t(b)).ref_count;
  child_table = parent_table;
  const SequenceChain chain = parent->second;
  live_[child_id] = chain;
}

void BlockManager::free(int64_t seq_id, std::vector<int32_t>& block_table) {
  check(live_.erase(seq_id) == 1,
        "BlockManager: sequence " + std::to_string(seq_id) + " freed but holds no KV blocks (double free?)");
  for (auto it = block_table.rbegin(); it != block_table.rend(); ++it) release_block(*it);
  block_table.clear();
}

// ---------------------------------------------------------------------------------------------

void BlockManager::check_invariants() const {
  const auto fail = [](const std::string& what) { throw Error("BlockManager invariant broken: " + what); };
  std::vector<int> pools(blocks_.size(), 0);
  for (int32_t b : free_blocks_) {
    const Block& blk = blocks_.at(size_t(b));
    if (blk.ref_count != 0 || blk.identity != 0 || blk.evictable)
      fail("free block " + std::to_string(b) + " in use or registered");
    ++pools[size_t(b)];
  }
  for (int32_t b : evictable_) {
    const Block& blk = blocks_.at(size_t(b));
    if (blk.ref_count != 0 || !blk.evictable || !is_cache_entry(b))
      fail("evictable block " + std::to_string(b) + " inconsistent");
    ++pools[size_t(b)];
  }
  int32_t n_used = 0;
  for (size_t b = 0; b < blocks_.size(); ++b) {
    const Block& blk = blocks_[b];
    if (blk.ref_count < 0) fail("negative ref_count on block " + std::to_string(b));
    if (blk.ref_count > 0) {
      ++n_used;
      ++pools[b];
      if (blk.evictable) fail("used block " + std::to_string(b) + " marked evictable");
    }
    if (pools[b] != 1) fail("block " + std::to_string(b) + " is in " + std::to_string(pools[b]) + " pools");
    if (blk.identity != 0 && blk.token_ids.size() != size_t(block_size_))
      fail("registered block without its tokens");
  }
  if (n_used + n_free_blocks() + n_evictable_blocks() != n_blocks())
    fail("free + evictable + used != n_blocks");
  for (const auto& [hash, b] : cached_) {
    const Block& blk = blocks_.at(size_t(b));
    if (blk.identity == 0 || blk.hash != hash)
      fail("prefix-cache entry for block " + std::to_string(b) + " is stale");
  }
}

}  // namespace tokenmill
