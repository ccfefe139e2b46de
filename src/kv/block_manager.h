// BlockManager: the paged KV cache's bookkeeping, without tensors. The cache is n_blocks blocks of
// block_size token slots; a sequence owns a block table (the KV block of each of its logical blocks).
//
// Every block is in exactly one of three states:
//   used       ref_count > 0: held by that many block tables (shared after a prefix hit or a fork)
//   evictable  ref_count == 0, registered in the prefix cache: its K/V stay valid and a later
//              request with the same prefix reuses them; recycled least-recently-freed first
//   free       ref_count == 0, no content worth keeping
// so n_free_blocks() + n_evictable_blocks() + n_used_blocks() == n_blocks() at all times.
//
// Prefix caching: a FULL block whose K/V are computed is registered under
// hash(parent block's hash, its token ids), a chain over the whole prefix. A hit is verified, not
// trusted: the cached block must hold the same token ids and descend from the same verified parent
// (each registered block carries a content identity; a child records its parent's), so a hash
// collision can cost a cache miss but never return another prefix's K/V.
//
// The manager works on block tables and token spans, not on the engine's Sequence (the kv layer sits
// below the engine); sequences are named by seq_id so that a second free is detected.
#pragma once
#include <cstdint>
#include <list>
#include <span>
#include <unordered_map>
#include <utility>
#include <vector>

namespace tokenmill {

// Hash of a full block given its parent's hash (kRootBlockHash for the first block).
using BlockHashFn = uint64_t (*)(uint64_t parent_hash, std::span<const int32_t> token_ids);

inline constexpr uint64_t kRootBlockHash = 0x746f6b656e6d696cULL;

// FNV-1a 64 over the parent hash and the token ids, finished with the splitmix64 mixer.
uint64_t chained_block_hash(uint64_t parent_hash, std::span<const int32_t> token_ids);

// (src_block, dst_block): copy the K/V of src into dst before the next forward (copy-on-write).
using BlockCopy = std::pair<int32_t, int32_t>;

// The cached prefix of a token sequence, as found by match_prefix(). Valid until the next call
// that changes the manager's state.
struct PrefixMatch {
  std::vector<int32_t> blocks;           // cached blocks holding tokens [0, blocks.size() * block_size)
  int32_t n_cached_tokens = 0;           // blocks.size() * block_size
  int32_t n_query_tokens = 0;            // tokens that were looked up (the whole sequence)
  int32_t n_evictable_hits = 0;          // hit blocks now evictable: taking them shrinks the pool
  uint64_t chain_hash = kRootBlockHash;  // hash of the last hit block
  uint64_t chain_identity = 0;           // content identity of the last hit block (0: none)
};

class BlockManager {
 public:
  BlockManager(int32_t n_blocks, int32_t block_size, bool enable_prefix_caching,
               BlockHashFn hash_fn = chained_block_hash);

  int32_t n_blocks() const { return int32_t(blocks_.size()); }
  int32_t block_size() const { return block_size_; }
  bool prefix_caching() const { return prefix_caching_; }
  int32_t blocks_for_tokens(int64_t n_tokens) const {
    return int32_t((n_tokens + block_size_ - 1) / block_size_);
  }

  // --- Admission of a sequence that holds no blocks (new, or preempted and recomputed).
  // Longest run of leading full blocks found in the prefix cache. Never covers the whole sequence:
  // at least its last token is left to compute, so that the step produces logits to sample from.
  PrefixMatch match_prefix(std::span<const int32_t> tokens) const;
  // Whether allocate(match, n_new_tokens) can get its blocks now.
  bool can_allocate(const PrefixMatch& match, int32_t n_new_tokens) const;
  // Takes the hit blocks, then blocks for the next n_new_tokens tokens. block_table must be empty;
  // seq_id must hold no blocks. Returns match.n_cached_tokens (the caller's new n_computed_tokens).
  int32_t allocate(int64_t seq_id, const PrefixMatch& match, int32_t n_new_tokens,
                   std::vector<int32_t>& block_table);

  // --- A sequence that holds blocks writes K/V for tokens [n_computed, n_computed + n_new).
  bool can_append(const std::vector<int32_t>& block_table, int32_t n_computed, int32_t n_new_tokens) const;
  // Grows the table to cover the new tokens. A block that will be written while shared
  // (ref_count > 1) is replaced by a fresh one and (src, dst) is appended to copies.
  void append_slots(int64_t seq_id, std::vector<int32_t>& block_table, int32_t n_computed,
                    int32_t n_new_tokens, std::vector<BlockCopy>& copies);
  // After a forward: registers in the prefix cache every full block of tokens[0, n_computed).
  // Only computed K/V are ever offered to other sequences.
  void commit(int64_t seq_id, std::span<const int32_t> tokens, const std::vector<int32_t>& block_table,
              int32_t n_computed);

  // child shares every block of parent (ref_count++); child_table must be empty.
  void fork(int64_t parent_id, const std::vector<int32_t>& parent_table, int64_t child_id,
            std::vector<int32_t>& child_table);
  // Releases the sequence's blocks (last block first, so a prefix's tail is evicted before its
  // head) and clears the table. Throws Error when seq_id holds no blocks (a second free).
  void free(int64_t seq_id, std::vector<int32_t>& block_table);

  // --- Stats.
  int32_t n_free_blocks() const { return int32_t(free_blocks_.size()); }
  int32_t n_evictable_blocks() const { return int32_t(evictable_.size()); }
  int32_t n_available_blocks() const { return n_free_blocks() + n_evictable_blocks(); }
  int32_t n_used_blocks() const { return n_blocks() - n_available_blocks(); }
  double usage() const { return double(n_used_blocks()) / double(n_blocks()); }
  int32_t ref_count(int32_t block) const { return blocks_.at(size_t(block)).ref_count; }
  bool holds_blocks(int64_t seq_id) const { return live_.count(seq_id) != 0; }
  size_t n_live_sequences() const { return live_.size(); }
  uint64_t prefix_query_tokens() const { return prefix_query_tokens_; }
  uint64_t prefix_hit_tokens() const { return prefix_hit_tokens_; }
  uint64_t n_evictions() const { return n_evictions_; }

  // Verifies every invariant stated above (pool membership, conservation, map consistency);
  // throws Error naming the first one broken. O(n_blocks); for tests and debug checks.
  void check_invariants() const;

 private:
  struct Block {
    int32_t ref_count = 0;
    // Registered blocks (identity != 0) hold full, computed K/V of a known prefix.
    uint64_t identity = 0;         // equal identities <=> equal whole prefixes up to this block
    uint64_t parent_identity = 0;  // identity of the previous block of the prefix (0: first block)
    uint64_t hash = 0;
    std::vector<int32_t> token_ids;  // [block_size] when registered
    bool evictable = false;
    std::list<int32_t>::iterator lru_pos;  // in evictable_ when evictable
  };
  // Per sequence holding blocks: how far its blocks are registered.
  struct SequenceChain {
    int32_t n_registered_blocks = 0;
    uint64_t hash = kRootBlockHash;
    uint64_t identity = 0;
  };

  int32_t take_block();  // from the free list, else evicts the LRU evictable block
  void release_block(int32_t block);
  void unregister(int32_t block);
  bool is_cache_entry(int32_t block) const;
  void register_block(int32_t block, SequenceChain& chain, std::span<const int32_t> token_ids);
  int32_t n_copy_on_write(const std::vector<int32_t>& block_table, int32_t n_computed,
                          int32_t n_new_tokens) const;

  int32_t block_size_;
  bool prefix_caching_;
  BlockHashFn hash_fn_;
  std::vector<Block> blocks_;
  std::vector<int32_t> free_blocks_;              // stack; lowest ids on top at start
  std::list<int32_t> evictable_;                  // front: least recently freed
  std::unordered_map<uint64_t, int32_t> cached_;  // hash -> registered block (one per hash)
  std::unordered_map<int64_t, SequenceChain> live_;
  uint64_t next_identity_ = 1;
  uint64_t prefix_query_tokens_ = 0;
  uint64_t prefix_hit_tokens_ = 0;
  uint64_t n_evictions_ = 0;
};

}  // namespace tokenmill
