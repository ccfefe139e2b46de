// ForwardBatch: the one contract between the scheduler and the model (see docs/architecture.md).
// A flat description of one step: tokens of several sequences (prefill chunks and decode tokens
// mixed), their positions, the KV slot each token writes, and per sequence the block table
// through which attention reads its cached K/V.
#pragma once
#include <cstdint>
#include <vector>

namespace tokenmill {

struct SequenceInBatch {
  int32_t token_begin = 0;  // first row of this sequence in the batch
  int32_t n_tokens = 0;     // rows token_begin .. token_begin + n_tokens - 1
  // Cached positions attention may read after this step's K/V are written: 0 .. n_context - 1.
  // Invariant: the batch rows of this sequence have positions < n_context.
  int32_t n_context = 0;
  // KV block of each logical block of the sequence: position p lives in slot
  // block_table[p / block_size] * block_size + p % block_size. Size >= ceil(n_context / block_size).
  std::vector<int32_t> block_table;
};

struct ForwardBatch {
  std::vector<int32_t> token_ids;      // [T]
  std::vector<int32_t> positions;      // [T] position of each token in its sequence
  std::vector<int32_t> slot_mapping;   // [T] KV slot each token's K/V is written to
  std::vector<SequenceInBatch> seqs;   // rows partition [0, T) in order
  std::vector<int32_t> logits_rows;    // rows whose logits are returned, in output order

  size_t n_tokens() const { return token_ids.size(); }
  void clear() {
    token_ids.clear();
    positions.clear();
    slot_mapping.clear();
    seqs.clear();
    logits_rows.clear();
  }
};

}  // namespace tokenmill
