// ForwardBatch invariants of the Llama forward, on a small random model built in memory:
// sequences batched together give the logits they give alone, block tables may place a sequence's
// K/V anywhere, and chunked prefill equals one-shot prefill.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/error.h"
#include "model/llama.h"
#include "random_model.h"

namespace tokenmill {
namespace {

using testing::RandomModel;
using testing::RandomModelShape;

RandomModel make_model(bool qwen_like) {
  RandomModelShape shape;  // vocab 50, dim 32, 2 layers, 4 heads / 2 kv heads, head_dim 8
  shape.qwen_like = qwen_like;
  return RandomModel(shape, 42);
}

constexpr int32_t kBlock = 4;

// Appends the tokens ids[first .. first+n) of a sequence whose blocks are `table`.
void add_seq(ForwardBatch& b, const std::vector<int32_t>& ids, int32_t first, int32_t n,
             const std::vector<int32_t>& table) {
  testing::add_sequence(b, ids, first, n, table, kBlock);
}

double max_abs_diff(const float* a, const float* b, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = std::max(m, double(std::fabs(a[i] - b[i])));
  return m;
}

class LlamaBatchTest : public ::testing::TestWithParam<bool> {};

TEST_P(LlamaBatchTest, BatchedSequencesMatchSeparateRuns) {
  RandomModel rm = make_model(GetParam());
  ThreadPool pool(2);
  LlamaModel model(rm.cfg, rm.w, 64);
  const size_t V = size_t(rm.cfg.vocab_size);
  const std::vector<int32_t> a = {1, 5, 9, 13, 2, 7, 7, 30, 41, 3, 22};
  const std::vector<int32_t> bseq = {4, 8, 15, 16, 23, 42, 0};
  const std::vector<int32_t> table_a = {5, 1, 7}, table_b = {2, 6};

  // Alone, each in a fresh cache.
  std::vector<float> alone_a(a.size() * V), alone_b(bseq.size() * V);
  {
    KvStorage kv(rm.cfg, 8, kBlock);
    ForwardBatch b;
    add_seq(b, a, 0, int32_t(a.size()), table_a);
    model.forward(b, kv, alone_a.data(), pool);
  }
  {
    KvStorage kv(rm.cfg, 8, kBlock);
    ForwardBatch b;
    add_seq(b, bseq, 0, int32_t(bseq.size()), table_b);
    model.forward(b, kv, alone_b.data(), pool);
  }
  // Together: prefill of a's first 6 tokens and b whole, then a's rest with b's... already done.
  KvStorage kv(rm.cfg, 8, kBlock);
  std::vector<float> step1((6 + bseq.size()) * V);
  ForwardBatch b1;
  add_seq(b1, a, 0, 6, table_a);
  add_seq(b1, bseq, 0, int32_t(bseq.size()), table_b);
  model.forward(b1, kv, step1.data(), pool);
  EXPECT_LT(max_abs_diff(step1.data(), alone_a.data(), 6 * V), 1e-5);
  EXPECT_LT(max_abs_diff(step1.data() + 6 * V, alone_b.data(), bseq.size() * V), 1e-5);
  // Second step: a's remaining 5 tokens as a chunk (reading its cached first 6).
  std::vector<float> step2(5 * V);
  ForwardBatch b2;
  add_seq(b2, a, 6, 5, table_a);
  model.forward(b2, kv, step2.data(), pool);
  EXPECT_LT(max_abs_diff(step2.data(), alone_a.data() + 6 * V, 5 * V), 1e-5);
}

TEST_P(LlamaBatchTest, RejectsInvalidBatches) {
  RandomModel rm = make_model(GetParam());
  ThreadPool pool(1);
  LlamaModel model(rm.cfg, rm.w, 8);
  KvStorage kv(rm.cfg, 4, kBlock);
  std::vector<float> logits(16 * size_t(rm.cfg.vocab_size));
  ForwardBatch bad_token;
  add_seq(bad_token, {1, 99}, 0, 2, {0});
  EXPECT_THROW(model.forward(bad_token, kv, logits.data(), pool), Error);
  ForwardBatch too_many;
  add_seq(too_many, std::vector<int32_t>(9, 1), 0, 9, {0, 1, 2});
  EXPECT_THROW(model.forward(too_many, kv, logits.data(), pool), Error);
  ForwardBatch bad_block;
  add_seq(bad_block, {1, 2}, 0, 2, {7});
  EXPECT_THROW(model.forward(bad_block, kv, logits.data(), pool), Error);
  ForwardBatch empty;
  EXPECT_THROW(model.forward(empty, kv, logits.data(), pool), Error);
}

INSTANTIATE_TEST_SUITE_P(Archs, LlamaBatchTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "qwen3" : "llama"; });

TEST(ModelConfig, ValidateNamesTheField) {
  ModelConfig c;
  c.vocab_size = 10;
  c.dim = 8;
  c.n_layers = 1;
  c.n_heads = 3;
  c.n_kv_heads = 2;
  c.head_dim = 4;
  c.ffn_dim = 8;
  c.max_context = 16;
  try {
    c.validate("cfg");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("num_key_value_heads"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace tokenmill
