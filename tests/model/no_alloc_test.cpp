// The per-token loop allocates nothing: after the first step, prefill chunks and decode steps of
// LlamaModel::forward (matmul scratch, activations, thread pool dispatch, kernel checks) run
// without one call to operator new, for float and quantized weights (int8 or float activations).
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "kernels/kernel_table.h"
#include "kernels/repack.h"
#include "model/kv_storage.h"
#include "model/llama.h"
#include "random_model.h"

namespace {
// Replacing the global allocation functions is the only way to see every allocation, including
// those of the pool's worker threads; counting is all they add.
std::atomic<size_t> g_allocations{0};
// TRAP=1 in the environment stops at the first counted allocation (to find it in a debugger).
std::atomic<bool> g_trap{false};

void* counted_alloc(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (g_trap.load()) __builtin_trap();
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* counted_alloc_aligned(std::size_t n, std::align_val_t a) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  const size_t align = static_cast<size_t>(a);
  if (void* p = std::aligned_alloc(align, (n + align - 1) / align * align)) return p;
  throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return counted_alloc(n); }
void* operator new[](std::size_t n) { return counted_alloc(n); }
void* operator new(std::size_t n, std::align_val_t a) { return counted_alloc_aligned(n, a); }
void* operator new[](std::size_t n, std::align_val_t a) { return counted_alloc_aligned(n, a); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::align_val_t) noexcept { std::free(p); }
void operator delete(void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept { std::free(p); }

namespace tokenmill {
namespace {

using testing::RandomModel;
using testing::RandomModelShape;

// Prefill chunks and decode steps of a model whose matrices are of type `type` (a repacked layout:
// repacked at load) allocate nothing after the first step; float_activations: the quantized
// matrices multiply f32 activations (use_float_activations).
void expect_no_allocation(DType type, bool float_activations) {
  RandomModelShape shape;
  shape.vocab = 64;
  shape.dim = 256;
  shape.head_dim = 64;
  shape.ffn = 512;
  RandomModel m(shape, 3);
  ThreadPool pool(2);
  const DType base = kernels::repack_base_dtype(type);
  if (base != DType::F32) m.encode(base);
  if (float_activations) {
    ASSERT_GT(use_float_activations(m.w, /*required=*/true, "test"), 0u);
  }
  if (base != type) {
    if (!kernels::active_kernel_table().prefers_repacked) GTEST_SKIP() << "these kernels compute in place";
    ASSERT_GT(repack_weights(m.w, pool, /*release_mapped_source=*/false), 0u);
  }
  LlamaModel model(m.cfg, m.w, 16);
  OpProfile profile;
  model.set_profile(&profile);
  constexpr int32_t kBlock = 8;
  KvStorage kv(m.cfg, 8, kBlock);
  const size_t V = size_t(m.cfg.vocab_size);
  std::vector<float> logits(16 * V);

  // One batch object reused across steps, as the engine's runner does: the vectors keep their
  // capacity, so refilling them in place does not allocate.
  ForwardBatch b;
  b.token_ids.resize(16);
  b.positions.resize(16);
  b.slot_mapping.resize(16);
  b.logits_rows.resize(1);
  b.seqs.resize(1);
  b.seqs[0].block_table = {3, 1, 4, 0, 5, 2};
  auto fill = [&](int32_t first, int32_t n) {
    b.token_ids.resize(size_t(n));
    b.positions.resize(size_t(n));
    b.slot_mapping.resize(size_t(n));
    for (int32_t i = 0; i < n; ++i) {
      const int32_t p = first + i;
      b.token_ids[size_t(i)] = (p * 7 + 1) % int32_t(V);
      b.positions[size_t(i)] = p;
      b.slot_mapping[size_t(i)] = b.seqs[0].block_table[size_t(p / kBlock)] * kBlock + p % kBlock;
    }
    b.seqs[0].token_begin = 0;
    b.seqs[0].n_tokens = n;
    b.seqs[0].n_context = first + n;
    b.logits_rows[0] = n - 1;
  };

  fill(0, 16);  // first step: lazily built state (kernel table, thread wake-up paths)
  model.forward(b, kv, logits.data(), pool);
  const size_t before = g_allocations.load();
  g_trap = std::getenv("TRAP") != nullptr;
  fill(16, 12);  // a second prefill chunk
  model.forward(b, kv, logits.data(), pool);
  for (int32_t p = 28; p < 44; ++p) {  // decode steps
    fill(p, 1);
    model.forward(b, kv, logits.data(), pool);
  }
  g_trap = false;
  EXPECT_EQ(g_allocations.load() - before, 0u);
  EXPECT_GT(profile.calls[size_t(OpKind::MatmulQkv)], 0u);
}

class NoAllocation : public ::testing::TestWithParam<DType> {};

TEST_P(NoAllocation, PrefillChunksAndDecodeStepsAllocateNothing) {
  expect_no_allocation(GetParam(), /*float_activations=*/false);
}

INSTANTIATE_TEST_SUITE_P(Weights, NoAllocation,
                         ::testing::Values(DType::F32, DType::F16, DType::Q8_0, DType::Q4_0,
                                           DType::Q4_K, DType::Q6_K, DType::Q4_0_R16, DType::Q8_0_R16),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(dtype_name(info.param));
                         });

class NoAllocationFloatActivations : public ::testing::TestWithParam<DType> {};

TEST_P(NoAllocationFloatActivations, PrefillChunksAndDecodeStepsAllocateNothing) {
  expect_no_allocation(GetParam(), /*float_activations=*/true);
}

INSTANTIATE_TEST_SUITE_P(Weights, NoAllocationFloatActivations,
                         ::testing::Values(DType::Q4_0, DType::Q4_1, DType::Q8_0),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(dtype_name(info.param));
                         });

TEST(NoAllocation, CounterSeesAllocations) {  // the check above can fail
  const size_t before = g_allocations.load();
  std::vector<int>* volatile v = new std::vector<int>(100);  // volatile: not elided
  delete v;
  EXPECT_GE(g_allocations.load() - before, 2u);
}

}  // namespace
}  // namespace tokenmill
