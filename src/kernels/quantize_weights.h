// Weight quantizers: f32 rows -> ggml's block formats (kernels/quant_blocks.h), for writing
// quantized GGUF files. Scalar and the same on every ISA (quantizing is done once per model).
//
// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0 reproduce ggml's reference quantizers byte for byte (the PyPI gguf
// package's gguf.quants.quantize is the oracle): d from the block's extreme value(s), elements
// rounded by truncation of x * (1 / d) + offset (Q8_0: round half away from zero).
//
// Q2_K .. Q6_K have no canonical bytes; these quantizers search, per sub-block, a few candidate
// scales (and offsets) for the least squared error, quantize the sub-block scales to the format's
// 4/6/8-bit fields against one f16 super-block scale, then requantize the elements against the
// scales as stored. Error bounds measured on Gaussian rows: docs/quantization.md.
#pragma once
#include <cstddef>

#include "core/dtype.h"
#include "core/thread_pool.h"

namespace tokenmill::kernels {

// Quantizes one row x: [n] f32 into dst: dtype_row_bytes(t, n) bytes. n must be a multiple of
// dtype_block_elements(t). Throws Error when t is not a quantized type or n is not whole blocks.
void quantize_row(DType t, const float* x, void* dst, size_t n);

// Quantizes x: [n_rows, n_per_row] f32 into dst: n_rows rows of dtype_row_bytes(t, n_per_row)
// bytes, rows split over the pool. Returns the bytes written. Same checks as quantize_row.
size_t quantize_rows(DType t, const float* x, void* dst, size_t n_rows, size_t n_per_row, ThreadPool& pool);

}  // namespace tokenmill::kernels
