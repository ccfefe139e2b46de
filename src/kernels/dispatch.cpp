// The one place that picks a kernel variant, validates arguments, and splits work over the pool.
#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.h"
#include "kernels/kernel_table.h"
#include "kernels/repack.h"
#include "kernels/variants.h"

namespace tokenmill::kernels {
namespace {

KernelTable build_ref_table() {
  KernelTable t{Isa::Scalar, ref::matmul_rows, ref::attention_items, ref::rmsnorm, ref::to_f32,
                ref::swiglu, ref::softmax, nullptr, nullptr, {}, {}, ref::argmax,
                ref::sampling_weights, false, ref::attention_blocks, {}};
  ref::add_quant32_kernels(t);
  ref::add_quantk_kernels(t);
  return t;
}

#if defined(__x86_64__) || defined(_M_X64)
KernelTable build_avx2_table() {
  KernelTable t = build_ref_table();
  t.isa = Isa::Avx2;
  t.matmul_rows = avx2::matmul_rows;
  t.attention_items = avx2::attention_items;
  t.attention_blocks = avx2::attention_blocks;
  t.rmsnorm = avx2::rmsnorm;
  t.to_f32 = avx2::to_f32;
  t.swiglu = avx2::swiglu;
  t.softmax = avx2::softmax;
  t.argmax = avx2::argmax;
  t.sampling_weights = avx2::sampling_weights;
  avx2::add_quant32_kernels(t);
  avx2::add_quant32f_kernels(t);
  avx2::add_quantk_kernels(t);
  return t;
}

KernelTable build_avx512_table() {
  KernelTable t = build_avx2_table();
  t.isa = Isa::Avx512;
  t.matmul_rows = avx512::matmul_rows;
  t.attention_items = avx512::attention_items;
  t.attention_blocks = avx512::attention_blocks;
  t.rmsnorm = avx512::rmsnorm;
  t.to_f32 = avx512::to_f32;
  t.swiglu = avx512::swiglu;
  t.softmax = avx512::softmax;
  t.argmax = avx512::argmax;
  t.sampling_weights = avx512::sampling_weights;
  avx512::add_quant32_kernels(t);
  avx512::add_quant32f_kernels(t);
  avx512::add_quantk_kernels(t);
  return t;
}

KernelTable build_avx512vnni_table() {
  KernelTable t = build_avx512_table();
  t.isa = Isa::Avx512Vnni;
  avx512vnni::add_quant32_kernels(t);
  avx512vnni::add_quantk_kernels(t);
  return t;
}

KernelTable build_amx_table() {
  KernelTable t = build_avx512vnni_table();
  t.isa = Isa::Amx;
  amx::add_quant32_kernels(t);
  return t;
}
#endif

#if defined(__aarch64__)
KernelTable build_neon_table() {
  KernelTable t = build_ref_table();
  t.isa = Isa::Neon;
  t.matmul_rows = neon::matmul_rows;
  t.attention_items = neon::attention_items;
  t.attention_blocks = neon::attention_blocks;
  t.rmsnorm = neon::rmsnorm;
  t.to_f32 = neon::to_f32;
  t.swiglu = neon::swiglu;
  t.softmax = neon::softmax;
  t.argmax = neon::argmax;
  t.sampling_weights = neon::sampling_weights;
  neon::add_quant32_kernels(t);
  neon::add_quant32f_kernels(t);
  neon::add_quantk_kernels(t);
  return t;
}
#endif

// Output rows are handed to threads in whole register tiles (the widest tile is 4 rows).
constexpr size_t kRowsPerBlock = 4;
// Below this many multiply-adds, waking the pool costs more than the work.
constexpr size_t kMinParallelMacs = size_t(1) << 15;
// Activation rows quantized per parallel task when a batch is quantized across the pool.
constexpr size_t kQuantizeRowsPerTask = 8;

bool is_float_weight(DType dtype) {
  return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

// Checks here run on every op of every token: messages are built only when they throw.
void check_weight_dtype(const char* op, DType dtype) {
  if (!is_float_weight(dtype) && !dtype_is_quantized(dtype))
    throw Error(std::string(op) + ": weight dtype " + std::string(dtype_name(dtype)) +
                " is not supported; expected F32, F16, BF16 or a quantized type");
}

void check_block_multiple(const char* op, DType dtype, size_t n) {
  if (n % dtype_block_elements(dtype) != 0)
    throw Error(std::string(op) + ": " + std::to_string(n) + " elements of " +
                std::string(dtype_name(dtype)) + " are not a whole number of " +
                std::to_string(dtype_block_elements(dtype)) + "-element blocks");
}

// Splits output rows over the pool in blocks of rows_per_block; fn(row_begin, row_end).
template <class Fn>
void parallel_rows(ThreadPool& pool, size_t d_out, bool parallel, const Fn& fn,
                   size_t rows_per_block = kRowsPerBlock) {
  if (!parallel || pool.size() == 1) {
    fn(size_t(0), d_out);
    return;
  }
  const size_t n_blocks = (d_out + rows_per_block - 1) / rows_per_block;
  // Captured through one reference so the std::function stays in its small buffer (no heap).
  struct Args {
    const Fn& fn;
    size_t d_out, rows_per_block;
  } args{fn, d_out, rows_per_block};
  pool.parallel_for(n_blocks, [&args](size_t begin, size_t end, int) {
    const size_t row_end = std::min(end * args.rows_per_block, args.d_out);
    args.fn(begin * args.rows_per_block, row_end);
  });
}

// A repacked matrix (kernels/repack.h) is read in whole groups of 16 rows with aligned loads.
void check_repacked(DType w_dtype, const void* w, size_t d_in, size_t d_out) {
  if (d_out % kRepackRows != 0 || d_in % 64 != 0 || reinterpret_cast<uintptr_t>(w) % 64 != 0)
    throw Error("matmul: a " + std::string(dtype_name(w_dtype)) + " matrix needs a multiple of 16 rows, " +
                "of 64 columns and a 64-byte aligned buffer; got [" + std::to_string(d_out) + ", " +
                std::to_string(d_in) + "]");
}

void quantized_matmul(const KernelTable& k, float* y, const float* x, const void* w, DType w_dtype,
                      const float* bias, size_t n_tokens, size_t d_in, size_t d_out,
                      ThreadPool& pool, void* scratch) {
  check_block_multiple("matmul", w_dtype, d_in);
  const bool repacked = dtype_is_repacked(w_dtype);
  if (repacked) check_repacked(w_dtype, w, d_in, d_out);
  const QMatmulRowsFn rows_fn = k.qmatmul_rows[quant_index(w_dtype)];
  if (rows_fn == nullptr) throw Error("matmul: no kernel for " + std::string(dtype_name(w_dtype)));
  std::vector<std::byte> owned;
  if (scratch == nullptr) {
    owned.resize(matmul_scratch_bytes(w_dtype, n_tokens, d_in));
    scratch = owned.data();
  }
  const size_t act_bytes = act_row_bytes(w_dtype, d_in);
  const QuantizeActFn quantize = quant_is_k(w_dtype) ? k.quantize_q8k : k.quantize_q8a32;
  if (n_tokens >= 2 * kQuantizeRowsPerTask && pool.size() > 1) {
    // Captured through one reference so the std::function stays in its small buffer (no heap).
    struct Args {
      QuantizeActFn quantize;
      std::byte* dst;
      const float* x;
      size_t n_tokens, d_in, act_bytes;
    } args{quantize, static_cast<std::byte*>(scratch), x, n_tokens, d_in, act_bytes};
    const size_t n_tasks = (n_tokens + kQuantizeRowsPerTask - 1) / kQuantizeRowsPerTask;
    pool.parallel_for(n_tasks, [&args](size_t begin, size_t end, int) {
      const size_t r0 = begin * kQuantizeRowsPerTask;
      const size_t r1 = std::min(args.n_tokens, end * kQuantizeRowsPerTask);
      args.quantize(args.dst + r0 * args.act_bytes, args.x + r0 * args.d_in, r1 - r0, args.d_in);
    });
  } else {
    quantize(scratch, x, n_tokens, d_in);
  }
  const void* xq = scratch;
  parallel_rows(pool, d_out, n_tokens * d_in * d_out >= kMinParallelMacs,
                [&](size_t row_begin, size_t row_end) {
                  rows_fn(y, xq, w, bias, n_tokens, d_in, d_out, row_begin, row_end);
                },
                repacked ? kRepackRows : kRowsPerBlock);
}

}  // namespace

const KernelTable& kernel_table(Isa isa) {
  const CpuFeatures f = detect_cpu_features();
  check(isa_supported(isa, f), "kernel_table: this CPU lacks " + std::string(isa_name(isa)));
  switch (isa) {
    case Isa::Scalar: {
      static const KernelTable t = build_ref_table();
      return t;
    }
#if defined(__x86_64__) || defined(_M_X64)
    case Isa::Avx2: {
      static const KernelTable t = build_avx2_table();
      return t;
    }
    case Isa::Avx512: {
      static const KernelTable t = build_avx512_table();
      return t;
    }
    case Isa::Avx512Vnni: {
      static const KernelTable t = build_avx512vnni_table();
      return t;
    }
    case Isa::Amx: {
      static const KernelTable t = build_amx_table();
      return t;
    }
#endif
#if defined(__aarch64__)
    case Isa::Neon: {
      static const KernelTable t = build_neon_table();
      return t;
    }
#endif
    default:
      throw Error("kernel_table: ISA " + std::string(isa_name(isa)) + " is not in this build");
  }
}

const KernelTable& active_kernel_table() {
  static const KernelTable& table = kernel_table(select_isa());
  return table;
}

size_t matmul_scratch_bytes(DType w_dtype, size_t n_tokens, size_t d_in) {
  if (!dtype_is_quantized(w_dtype)) return 0;
  check_block_multiple("matmul", w_dtype, d_in);
  return n_tokens * act_row_bytes(w_dtype, d_in);
}

void matmul(const KernelTable& k, float* y, const float* x, const void* w, DType w_dtype,
            const float* bias, size_t n_tokens, size_t d_in, size_t d_out, ThreadPool& pool,
            void* scratch) {
  check_weight_dtype("matmul", w_dtype);
  if (n_tokens == 0 || d_out == 0) return;
  if (d_in == 0) {  // empty dot products: y is the bias
    for (size_t t = 0; t < n_tokens; ++t)
      for (size_t o = 0; o < d_out; ++o) y[t * d_out + o] = bias != nullptr ? bias[o] : 0.0f;
    return;
  }
  if (dtype_is_quantized(w_dtype)) {
    quantized_matmul(k, y, x, w, w_dtype, bias, n_tokens, d_in, d_out, pool, scratch);
    return;
  }
  parallel_rows(pool, d_out, n_tokens * d_in * d_out >= kMinParallelMacs,
                [&](size_t row_begin, size_t row_end) {
                  k.matmul_rows(y, x, w, w_dtype, bias, n_tokens, d_in, d_out, row_begin,
                                row_end);
                });
}

bool has_float_act_matmul(const KernelTable& k, DType w_dtype) {
  return dtype_is_quantized(w_dtype) && k.fmatmul_rows[quant_index(w_dtype)] != nullptr;
}

void matmul_float_act(const KernelTable& k, float* y, const float* x, const void* w, DType w_dtype,
                      const float* bias, size_t n_tokens, size_t d_in, size_t d_out, ThreadPool& pool) {
  if (!has_float_act_matmul(k, w_dtype))
    throw Error("matmul with float activations: no kernel for " + std::string(dtype_name(w_dtype)) +
                " weights (Q4_0, Q4_1, Q5_0, Q5_1 and Q8_0 have one)");
  check_block_multiple("matmul", w_dtype, d_in);
  if (n_tokens == 0 || d_out == 0) return;
  if (d_in == 0) {  // empty dot products: y is the bias
    for (size_t t = 0; t < n_tokens; ++t)
      for (size_t o = 0; o < d_out; ++o) y[t * d_out + o] = bias != nullptr ? bias[o] : 0.0f;
    return;
  }
  const FMatmulRowsFn rows_fn = k.fmatmul_rows[quant_index(w_dtype)];
  parallel_rows(pool, d_out, n_tokens * d_in * d_out >= kMinParallelMacs,
                [&](size_t row_begin, size_t row_end) {
                  rows_fn(y, x, w, bias, n_tokens, d_in, d_out, row_begin, row_end);
                });
}

void quantize_activations(const KernelTable& k, void* dst, const float* x, DType w_dtype,
                          size_t n_rows, size_t d_in) {
  check(dtype_is_quantized(w_dtype), "quantize_activations: " + std::string(dtype_name(w_dtype)) +
                                         " is not a quantized type");
  check_block_multiple("quantize_activations", w_dtype, d_in);
  (quant_is_k(w_dtype) ? k.quantize_q8k : k.quantize_q8a32)(dst, x, n_rows, d_in);
}

void rmsnorm(const KernelTable& k, float* out, const float* x, const float* weight,
             size_t n_rows, size_t dim, float eps) {
  if (dim == 0) return;
  k.rmsnorm(out, x, weight, n_rows, dim, eps);
}

void to_f32(const KernelTable& k, float* out, const void* src, DType dtype, size_t n) {
  check_weight_dtype("to_f32", dtype);
  if (dtype_is_quantized(dtype)) {
    check_block_multiple("to_f32", dtype, n);
    const DequantizeFn fn = k.dequantize[quant_index(dtype)];
    if (fn == nullptr) throw Error("to_f32: no kernel for " + std::string(dtype_name(dtype)));
    fn(out, src, n);
    return;
  }
  k.to_f32(out, src, dtype, n);
}

void swiglu(const KernelTable& k, float* gate, const float* up, size_t n) { k.swiglu(gate, up, n); }

void softmax(const KernelTable& k, float* x, size_t n) { k.softmax(x, n); }

int64_t argmax(const KernelTable& k, const float* x, size_t n) { return k.argmax(x, n); }

double sampling_weights(const KernelTable& k, float* weights, const float* logits, size_t n,
                        float max_logit, float temperature) {
  return k.sampling_weights(weights, logits, n, max_logit, temperature);
}

void attention(const KernelTable& k, float* out, const float* q, const int32_t* q_pos,
               size_t n_q, const float* k_cache, const float* v_cache, size_t kv_row_stride,
               const int32_t* slots, size_t n_kv, size_t n_heads, size_t n_kv_heads,
               size_t head_dim, float scale, size_t window, ThreadPool& pool) {
  if (n_q == 0 || n_heads == 0) return;
  if (head_dim < 1 || head_dim > kMaxHeadDim)
    throw Error("attention: head_dim " + std::to_string(head_dim) + " must be in 1.." +
                std::to_string(kMaxHeadDim));
  if (n_kv_heads < 1 || n_heads % n_kv_heads != 0)
    throw Error("attention: n_heads " + std::to_string(n_heads) +
                " must be a multiple of n_kv_heads " + std::to_string(n_kv_heads));
  if (kv_row_stride < n_kv_heads * head_dim)
    throw Error("attention: kv_row_stride " + std::to_string(kv_row_stride) +
                " is smaller than n_kv_heads * head_dim");
  for (size_t i = 0; i < n_q; ++i)
    if (q_pos[i] < 0 || size_t(q_pos[i]) >= n_kv)
      throw Error("attention: query position " + std::to_string(q_pos[i]) + " outside 0.." +
                  std::to_string(n_kv) + " (n_kv)");
  // The slot table's upper bound belongs to the KV storage that built it; a negative slot can
  // only be corruption, and is cheap to rule out here.
  for (size_t p = 0; p < n_kv; ++p)
    if (slots[p] < 0)
      throw Error("attention: slot of position " + std::to_string(p) + " is negative");
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
  auto items = [&args](size_t begin, size_t end) {
    args.k.attention_items(args.out, args.q, args.q_pos, args.k_cache, args.v_cache, args.kv_row_stride,
                           args.slots, args.n_heads, args.n_kv_heads, args.head_dim, args.scale, args.window,
                           begin, end);
  };
  const size_t n_threads = size_t(pool.size());
  if (n_q >= kAttentionQueryBlock) {
    // Prefill: units of kAttentionQueryBlock queries share every K/V block they read. A causal
    // query reads as many keys as its position, so contiguous ranges of queries would leave the
    // thread with the first ones idle most of the time: query blocks are dealt out in turn
    // (thread t: blocks t, t + n_threads, ...), each with all its units.
    const size_t per_block = attention_block_count(1, n_heads, n_kv_heads);
    const size_t n_blocks = (n_q + kAttentionQueryBlock - 1) / kAttentionQueryBlock;
    const struct {
      const Args& a;
      size_t n_q, n_threads, per_block, n_blocks;
    } deal{args, n_q, n_threads, per_block, n_blocks};
    pool.parallel_for(n_threads, [&deal](size_t begin, size_t end, int) {
      const Args& a = deal.a;
      for (size_t t = begin; t < end; ++t)
        for (size_t qb = t; qb < deal.n_blocks; qb += deal.n_threads)
          a.k.attention_blocks(a.out, a.q, a.q_pos, deal.n_q, a.k_cache, a.v_cache, a.kv_row_stride, a.slots,
                               a.n_heads, a.n_kv_heads, a.head_dim, a.scale, a.window, qb * deal.per_block,
                               (qb + 1) * deal.per_block);
    });
    return;
  }
  if (n_q < 2 * n_threads) {  // decode: split one query's items
    pool.parallel_for(attention_item_count(n_q, n_heads, n_kv_heads),
                      [&items](size_t begin, size_t end, int) { items(begin, end); });
    return;
  }
  // Prefill: a causal query reads as many keys as its position, so contiguous ranges of queries
  // would leave the thread with the first ones idle most of the time; queries are dealt out in
  // turn instead (thread t: queries t, t + n_threads, ...), each with all its items.
  // Captured through one reference so the std::function stays in its small buffer (no heap).
  const struct {
    decltype(items)& run;
    size_t n_q, n_threads, per_query;
  } deal{items, n_q, n_threads, attention_item_count(1, n_heads, n_kv_heads)};
  pool.parallel_for(n_threads, [&deal](size_t begin, size_t end, int) {
    for (size_t t = begin; t < end; ++t)
      for (size_t query = t; query < deal.n_q; query += deal.n_threads)
        deal.run(query * deal.per_query, (query + 1) * deal.per_query);
  });
}

// ops.h: the same ops on the variant chosen for this CPU.

void matmul(float* y, const float* x, const void* w, DType w_dtype, const float* bias,
            size_t n_tokens, size_t d_in, size_t d_out, ThreadPool& pool, void* scratch) {
  matmul(active_kernel_table(), y, x, w, w_dtype, bias, n_tokens, d_in, d_out, pool, scratch);
}

void matmul_float_act(float* y, const float* x, const void* w, DType w_dtype, const float* bias,
                      size_t n_tokens, size_t d_in, size_t d_out, ThreadPool& pool) {
  matmul_float_act(active_kernel_table(), y, x, w, w_dtype, bias, n_tokens, d_in, d_out, pool);
}

bool has_float_act_matmul(DType w_dtype) {
  return has_float_act_matmul(active_kernel_table(), w_dtype);
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
  if (rot_dim % 2 != 0 || rot_dim > head_dim)
    throw Error("rope: rot_dim " + std::to_string(rot_dim) + " must be even and <= head_dim " +
                std::to_string(head_dim));
  ref::rope(x, positions, inv_freq, n_tokens, n_heads, head_dim, rot_dim, style);
}

void swiglu(float* gate, const float* up, size_t n) { swiglu(active_kernel_table(), gate, up, n); }

void softmax(float* x, size_t n) { softmax(active_kernel_table(), x, n); }

int64_t argmax(const float* x, size_t n) { return argmax(active_kernel_table(), x, n); }

double sampling_weights(float* weights, const float* logits, size_t n, float max_logit,
                        float temperature) {
  return sampling_weights(active_kernel_table(), weights, logits, n, max_logit, temperature);
}

void attention(float* out, const float* q, const int32_t* q_pos, size_t n_q,
               const float* k_cache, const float* v_cache, size_t kv_row_stride,
               const int32_t* slots, size_t n_kv, size_t n_heads, size_t n_kv_heads,
               size_t head_dim, float scale, size_t window, ThreadPool& pool) {
  attention(active_kernel_table(), out, q, q_pos, n_q, k_cache, v_cache, kv_row_stride, slots,
            n_kv, n_heads, n_kv_heads, head_dim, scale, window, pool);
}

}  // namespace tokenmill::kernels
