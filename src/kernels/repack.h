// Repacking of Q4_0 / Q8_0 weight matrices at load into groups of 16 rows (DType Q4_0_R16,
// Q8_0_R16), the layout the SIMD matmuls read without shuffles:
//
// In the file a row is nb = cols / 32 blocks of {f16 d; codes} (Q4_0: 16 bytes of nibbles, Q8_0:
// 32 int8), so a kernel computing 16 rows at once reads 16 short row streams and transposes them.
// Repacked, rows 16 g .. 16 g + 15 form group g, at byte 16 g * row_bytes (row_bytes as in the
// file, so the matrix keeps its size); in a group, blocks go in pairs (2p, 2p + 1), pair p at
// 2 p * 16 * block_bytes:
//   codes of block 2p | codes of block 2p+1 | 16 f16 d of block 2p | 16 f16 d of block 2p+1
// where the codes of one block are C = 16 * (block_bytes - 2) bytes (Q4_0: 256, Q8_0: 512) in
// 64-byte vectors: vector k, bytes 4 l .. 4 l + 3 = bytes 4 k .. 4 k + 3 of row l's codes (as in
// the file: Q4_0 byte i holds element i in its low nibble and element i + 16 in its high one).
// Every code vector then starts on a 64-byte boundary of a 64-byte aligned buffer, and a group is
// one sequential stream. Requires rows % 16 == 0 and cols % 64 == 0 (an even block count).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/aligned_buffer.h"
#include "core/dtype.h"
#include "core/thread_pool.h"

namespace tokenmill::kernels {

inline constexpr size_t kRepackRows = 16;

// Q4_0 -> Q4_0_R16, Q8_0 -> Q8_0_R16; the type itself for any other.
DType repacked_dtype(DType file_type);
// Q4_0_R16 -> Q4_0, Q8_0_R16 -> Q8_0; the type itself for any other.
DType repack_base_dtype(DType t);
bool dtype_is_repacked(DType t);
// Whether a [rows, cols] matrix of file_type can be repacked (type and shape, above).
bool repack_supported(DType file_type, size_t rows, size_t cols);

// Byte offsets inside one group of a repacked matrix (block_bytes: 18 or 34).
inline size_t repacked_codes_offset(size_t block_bytes, size_t block) {
  return block / 2 * 2 * kRepackRows * block_bytes + block % 2 * kRepackRows * (block_bytes - 2);
}
inline size_t repacked_scales_offset(size_t block_bytes, size_t block) {
  return block / 2 * 2 * kRepackRows * block_bytes + 2 * kRepackRows * (block_bytes - 2) +
         block % 2 * kRepackRows * 2;
}

// Repacks groups [group_begin, group_end) of src ([rows, cols] of file_type, file layout) into
// dst (the whole repacked matrix, rows * row_bytes bytes). repack_supported must hold.
void repack_groups(void* dst, const void* src, DType file_type, size_t cols, size_t group_begin,
                   size_t group_end);

// The whole [rows, cols] matrix src of file_type repacked into a new buffer, groups split over the
// pool. repack_supported must hold (checked).
AlignedBuffer repack_matrix(const void* src, DType file_type, size_t rows, size_t cols, ThreadPool& pool);

// Block `block` of row `row` of a repacked matrix, in the file's layout: dst gets block_bytes bytes.
void repacked_block(void* dst, const void* src, DType repacked, size_t cols, size_t row, size_t block);

}  // namespace tokenmill::kernels
