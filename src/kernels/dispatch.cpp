// The one place that picks a kernel variant, validates arguments, and splits work over the pool.
#include <string>

#include "core/error.h"
#include "kernels/kernel_table.h"
#include "kernels/variants.h"

namespace tokenmill::kernels {
namespace {

constexpr KernelTable kRefTable{Isa::Scalar,  ref::matmul_rows, ref::attention_items,
                                ref::rmsnorm, ref::to_f32,      ref::swiglu,
                                ref::softmax};
#if defined(__x86_64__) || defined(_M_X64)
constexpr KernelTable kAvx2Table{Isa::Avx2,    avx2::matmul_rows, avx2::attention_items,
                                 avx2::rmsnorm, avx2::to_f32,      avx2::swiglu,
                                 avx2::softmax};
constexpr KernelTable kAvx512Table{Isa::Avx512,    avx512::matmul_rows, avx512::attention_items,
                                   avx512::rmsnorm, avx512::to_f32,      avx512::swiglu,
                                   avx512::softmax};
#endif

// Output rows are handed to threads in whole register tiles (the widest tile is 4 rows).
constexpr size_t kRowsPerBlock = 4;
// Below this many multiply-adds, waking the pool costs more than the work.
constexpr size_t kMinParallelMacs = size_t(1) << 15;

void check_weight_dtype(const char* op, DType dtype) {
  check(dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16,
        std::string(op) + ": weight dtype " + std::string(dtype_name(dtype)) +
            " is not supported; expected F32, F16 or BF16");
}

}  // namespace

const KernelTable& kernel_table(Isa isa) {
  switch (isa) {
    case Isa::Scalar: return kRefTable;
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::Avx2:
      check(detect_cpu_features().avx2, "kernel_table: this CPU lacks AVX2/FMA/F16C");
      return kAvx2Table;
    case Isa::Avx512:
      check(detect_cpu_features().avx512, "kernel_table: this CPU lacks AVX-512 F/BW/VL/DQ");
      return kAvx512Table;
#endif
    default:
      throw Error("kernel_table: ISA " + std::string(isa_name(isa)) + " is not in this build");
  }
}

const KernelTable& active_kernel_table() {
  static const KernelTable& table = kernel_table(select_isa());
  return table;
}

void matmul(const KernelTable& k, float* y, const float* x, const void* w, DType w_dtype,
            const float* bias, size_t n_tokens, size_t d_in, size_t d_out, ThreadPool& pool) {
  check_weight_dtype("matmul", w_dtype);
  if (n_tokens == 0 || d_out == 0) return;
  if (d_in == 0) {  // empty dot products: y is the bias
    for (size_t t = 0; t < n_tokens; ++t)
      for (size_t o = 0; o < d_out; ++o) y[t * d_out + o] = bias != nullptr ? bias[o] : 0.0f;
    return;
  }
  if (n_tokens * d_in * d_out < kMinParallelMacs || pool.size() == 1) {
    k.matmul_rows(y, x, w, w_dtype, bias, n_tokens, d_in, d_out, 0, d_out);
    return;
  }
  // Captured through one reference so the std::function stays in its small buffer (no heap).
  struct Args {
    const KernelTable& k;
    float* y;
    const float* x;
    const void* w;
    DType w_dtype;
    const float* bias;
    size_t n_tokens, d_in, d_out;
  } args{k, y, x, w, w_dtype, bias, n_tokens, d_in, d_out};
  const size_t n_blocks = (d_out + kRowsPerBlock - 1) / kRowsPerBlock;
  pool.parallel_for(n_blocks, [&args](size_t begin, size_t end, int) {
    const size_t row_end = end * kRowsPerBlock < args.d_out ? end * kRowsPerBlock : args.d_out;
    args.k.matmul_rows(args.y, args.x, args.w, args.w_dtype, args.bias, args.n_tokens,
                       args.d_in, args.d_out, begin * kRowsPerBlock, row_end);
  });
}

void rmsnorm(const KernelTable& k, float* out, const float* x, const float* weight,
             size_t n_rows, size_t dim, float eps) {
  if (dim == 0) return;
  k.rmsnorm(out, x, weight, n_rows, dim, eps);
}

void to_f32(const KernelTable& k, float* out, const void* src, DType dtype, size_t n) {
  check_weight_dtype("to_f32", dtype);
  k.to_f32(out, src, dtype, n);
}

void swiglu(const KernelTable& k, float* gate, const float* up, size_t n) { k.swiglu(gate, up, n); }

void softmax(const KernelTable& k, float* x, size_t n) { k.softmax(x, n); }

void attention(const KernelTable& k, float* out, const float* q, const int32_t* q_pos,
               size_t n_q, const float* k_cache, const float* v_cache, size_t kv_row_stride,
               const int32_t* slots, size_t n_kv, size_t n_heads, size_t n_kv_heads,
               size_t head_dim, float scale, size_t window, ThreadPool& pool) {
  if (n_q == 0 || n_heads == 0) return;
  check(head_dim >= 1 && head_dim <= kMaxHeadDim,
        "attention: head_dim " + std::to_string(head_dim) + " must be in 1.." +
            std::to_string(kMaxHeadDim));
  check(n_kv_heads >= 1 && n_heads % n_kv_heads == 0,
        "attention: n_heads " + std::to_string(n_heads) + " must be a multiple of n_kv_heads " +
            std::to_string(n_kv_heads));
  check(kv_row_stride >= n_kv_heads * head_dim,
        "attention: kv_row_stride " + std::to_string(kv_row_stride) +
            " is smaller than n_kv_heads * head_dim");
  for (size_t i = 0; i < n_q; ++i)
    check(q_pos[i] >= 0 && size_t(q_pos[i]) < n_kv,
          "attention: query position " + std::to_string(q_pos[i]) + " outside 0.." +
              std::to_string(n_kv) + " (n_kv)");
  // The slot table's upper bound belongs to the KV storage that built it; a negative slot can
  // only be corruption, and is cheap to rule out here.
  for (size_t p = 0; p < n_kv; ++p)
    check(slots[p] >= 0, "attention: slot of position " + std::to_string(p) + " is negative");
  struct Args {
    const KernelTable& k;
    float* out;
    const float *q;
    const int32_t* q_pos;
    const float *k_cache, *v_cache;
    size_t kv_row_stride;
    const int32_t* slots;
    size_t n_heads, n_kv_heads, head_dim;
    float scale;
    size_t window;
  } args{k, out, q, q_pos, k_cache, v_cache, kv_row_stride, slots, n_heads, n_kv_heads,
         head_dim, scale, window};
  pool.parallel_for(attention_item_count(n_q, n_heads, n_kv_heads), [&args](size_t begin, size_t end, int) {
    args.k.attention_items(args.out, args.q, args.q_pos, args.k_cache, args.v_cache,
                           args.kv_row_stride, args.slots, args.n_heads, args.n_kv_heads,
                           args.head_dim, args.scale, args.window, begin, end);
  });
}

// ops.h: the same ops on the variant chosen for this CPU.

void matmul(float* y, const float* x, const void* w, DType w_dtype, const float* bias,
            size_t n_tokens, size_t d_in, size_t d_out, ThreadPool& pool) {
  matmul(active_kernel_table(), y, x, w, w_dtype, bias, n_tokens, d_in, d_out, pool);
}

void rmsnorm(float* out, const float* x, const float* weight, size_t n_rows, size_t dim,
             float eps) {
  rmsnorm(active_kernel_table(), out, x, weight, n_rows, dim, eps);
}

void to_f32(float* out, const void* src, DType dtype, size_t n) {
  to_f32(active_kernel_table(), out, src, dtype, n);
}

void rope(float* x, const int32_t* positions, const float* inv_freq, size_t n_tokens,
          size_t n_heads, size_t head_dim, size_t rot_dim, RopeStyle style) {
  check(rot_dim % 2 == 0 && rot_dim <= head_dim,
        "rope: rot_dim " + std::to_string(rot_dim) + " must be even and <= head_dim " +
            std::to_string(head_dim));
  ref::rope(x, positions, inv_freq, n_tokens, n_heads, head_dim, rot_dim, style);
}

void swiglu(float* gate, const float* up, size_t n) { swiglu(active_kernel_table(), gate, up, n); }

void softmax(float* x, size_t n) { softmax(active_kernel_table(), x, n); }

void attention(float* out, const float* q, const int32_t* q_pos, size_t n_q,
               const float* k_cache, const float* v_cache, size_t kv_row_stride,
               const int32_t* slots, size_t n_kv, size_t n_heads, size_t n_kv_heads,
               size_t head_dim, float scale, size_t window, ThreadPool& pool) {
  attention(active_kernel_table(), out, q, q_pos, n_q, k_cache, v_cache, kv_row_stride, slots,
            n_kv, n_heads, n_kv_heads, head_dim, scale, window, pool);
}

}  // namespace tokenmill::kernels
