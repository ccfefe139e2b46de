#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "kernels/variants.h"
#include "kernel_test_util.h"

namespace tokenmill::kernels {
namespace {

using testing::IsaTest;

// Outputs are convex combinations of V rows (|v| <= 1): allow 2e-5 absolute, which covers f32
// dot products over head_dim <= 256 and the online rescaling.
constexpr double kAttentionAbsTol = 2e-5;

struct AttentionCase {
  size_t n_q, n_kv, n_heads, n_kv_heads, head_dim, window;
  float scale;
};

// KV storage with padding between rows and a shuffled slot table, as a paged cache produces.
struct KvFixture {
  size_t n_slots, row_stride;
  std::vector<float> k, v;      // [n_slots, row_stride]
  std::vector<int32_t> slots;   // [n_kv]
  std::vector<int32_t> q_pos;   // [n_q]: the last n_q positions (a prefill chunk or decode)
  std::vector<float> q;         // [n_q, n_heads, head_dim]
};

KvFixture make_fixture(const AttentionCase& c, std::mt19937& rng) {
  KvFixture f;
  f.n_slots = c.n_kv + 5;
  f.row_stride = c.n_kv_heads * c.head_dim + 3;
  f.k = testing::random_floats(rng, f.n_slots * f.row_stride);
  f.v = testing::random_floats(rng, f.n_slots * f.row_stride);
  std::vector<int32_t> perm(f.n_slots);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  f.slots.assign(perm.begin(), perm.begin() + c.n_kv);
  for (size_t i = 0; i < c.n_q; ++i) f.q_pos.push_back(int32_t(c.n_kv - c.n_q + i));
  f.q = testing::random_floats(rng, c.n_q * c.n_heads * c.head_dim);
  return f;
}

// Naive attention: the full [n_q, n_kv] score matrix with -inf outside the causal window, a
// softmax per row, then weights times V. Independent of the kernels' code.
std::vector<double> naive_attention(const AttentionCase& c, const KvFixture& f) {
  std::vector<double> out(c.n_q * c.n_heads * c.head_dim, 0.0);
  const size_t group = c.n_heads / c.n_kv_heads;
  for (size_t h = 0; h < c.n_heads; ++h) {
    const size_t kvh = h / group;
    std::vector<double> scores(c.n_q * c.n_kv, -INFINITY);
    for (size_t i = 0; i < c.n_q; ++i)
      for (size_t p = 0; p < c.n_kv; ++p) {
        const int64_t qp = f.q_pos[i];
        const bool visible = int64_t(p) <= qp && (c.window == 0 || qp - int64_t(p) < int64_t(c.window));
        if (!visible) continue;
        double dot = 0;
        for (size_t d = 0; d < c.head_dim; ++d)
          dot += double(f.q[(i * c.n_heads + h) * c.head_dim + d]) *
                 f.k[size_t(f.slots[p]) * f.row_stride + kvh * c.head_dim + d];
        scores[i * c.n_kv + p] = dot * c.scale;
      }
    for (size_t i = 0; i < c.n_q; ++i) {
      double* row = &scores[i * c.n_kv];
      const double mx = *std::max_element(row, row + c.n_kv);
      double sum = 0;
      for (size_t p = 0; p < c.n_kv; ++p) sum += (row[p] = std::exp(row[p] - mx));
      for (size_t p = 0; p < c.n_kv; ++p)
        for (size_t d = 0; d < c.head_dim; ++d)
          out[(i * c.n_heads + h) * c.head_dim + d] +=
              row[p] / sum * f.v[size_t(f.slots[p]) * f.row_stride + kvh * c.head_dim + d];
    }
  }
  return out;
}

void check_case(const KernelTable& table, const AttentionCase& c, ThreadPool& pool, std::mt19937& rng) {
  const KvFixture f = make_fixture(c, rng);
  const std::vector<double> want = naive_attention(c, f);
  std::vector<float> out(want.size(), NAN);
  attention(table, out.data(), f.q.data(), f.q_pos.data(), c.n_q, f.k.data(), f.v.data(),
            f.row_stride, f.slots.data(), c.n_kv, c.n_heads, c.n_kv_heads, c.head_dim, c.scale,
            c.window, pool);
  for (size_t i = 0; i < out.size(); ++i)
    ASSERT_NEAR(out[i], want[i], kAttentionAbsTol)
        << "n_q " << c.n_q << " n_kv " << c.n_kv << " heads " << c.n_heads << "/" << c.n_kv_heads
        << " head_dim " << c.head_dim << " window " << c.window << " scale " << c.scale
        << " at " << i << " threads " << pool.size();
}

class AttentionTest : public IsaTest {};

TEST_P(AttentionTest, MatchesNaiveSoftmaxMatrix) {
  std::mt19937 rng(21);
  ThreadPool pool1(1), pool2(2);
  // Includes groups larger than one item's 8 heads (20/1 MQA, 18/2) and a ragged last subgroup.
  const std::pair<size_t, size_t> head_configs[] = {{4, 2}, {4, 1}, {4, 4}, {3, 3}, {20, 1}, {18, 2}};
  int n = 0;
  for (size_t head_dim : {1, 7, 16, 64, 100, 256})
    for (auto [n_heads, n_kv_heads] : head_configs)
      for (size_t window : {0, 1, 3, 17})
        for (auto [n_q, n_kv] : {std::pair<size_t, size_t>{1, 1}, {1, 40}, {5, 5}, {7, 70}}) {
          const float scale = (++n % 3 == 0) ? 4.0f : 1.0f / std::sqrt(float(head_dim));
          check_case(table(), {n_q, n_kv, n_heads, n_kv_heads, head_dim, window, scale},
                     n % 2 ? pool1 : pool2, rng);
        }
}

// Batches of at least kAttentionQueryBlock queries (prefill) go through attention_blocks: units of
// several queries that share each key block; ragged last blocks, windows, GQA/MQA, odd head_dim.
TEST_P(AttentionTest, PrefillBlocksMatchNaiveSoftmaxMatrix) {
  std::mt19937 rng(23);
  ThreadPool pool1(1), pool2(2);
  const std::pair<size_t, size_t> head_configs[] = {{4, 2}, {4, 1}, {3, 3}, {20, 1}, {18, 2}};
  int n = 0;
  for (size_t head_dim : {1, 7, 64, 100})
    for (auto [n_heads, n_kv_heads] : head_configs)
      for (size_t window : {0, 3, 17})
        for (auto [n_q, n_kv] : {std::pair<size_t, size_t>{8, 8}, {13, 40}, {37, 37}}) {
          const float scale = (++n % 3 == 0) ? 4.0f : 1.0f / std::sqrt(float(head_dim));
          check_case(table(), {n_q, n_kv, n_heads, n_kv_heads, head_dim, window, scale},
                     n % 2 ? pool1 : pool2, rng);
        }
}

TEST_P(AttentionTest, LongContextDecode) {
  std::mt19937 rng(22);
  ThreadPool pool2(2);
  check_case(table(), {1, 1000, 8, 2, 64, 0, 0.125f}, pool2, rng);
  check_case(table(), {2, 1000, 8, 2, 64, 256, 0.125f}, pool2, rng);
}

TEST_P(AttentionTest, SingleVisibleKeyCopiesItsValue) {
  // window 1: each query sees only its own position, so the output is exactly that V row.
  ThreadPool pool(1);
  const float q[2] = {3, -1};                       // [1 query, 1 head, 2]
  const float k[6] = {1, 2, 5, 5, -1, 0};           // [3 slots, 1 kv head, 2]
  const float v[6] = {10, 20, 30, 40, 50, 60};
  const int32_t slots[2] = {2, 0}, q_pos[1] = {1};  // position 1 lives in slot 0
  float out[2];
  attention(table(), out, q, q_pos, 1, k, v, 2, slots, 2, 1, 1, 2, 1.0f, 1, pool);
  EXPECT_FLOAT_EQ(out[0], 10);
  EXPECT_FLOAT_EQ(out[1], 20);
}

TEST_P(AttentionTest, RejectsBadArguments) {
  ThreadPool pool(1);
  std::vector<float> buf(300 * 4, 0.0f), out(300);
  const int32_t slots[2] = {0, 1}, ok_pos[1] = {1}, bad_pos[1] = {2}, neg_slots[2] = {0, -1};
  auto call = [&](const int32_t* pos, const int32_t* sl, size_t heads, size_t kv_heads, size_t hd) {
    attention(table(), out.data(), buf.data(), pos, 1, buf.data(), buf.data(), kv_heads * hd, sl, 2,
              heads, kv_heads, hd, 1.0f, 0, pool);
  };
  EXPECT_NO_THROW(call(ok_pos, slots, 2, 1, 8));
  EXPECT_THROW(call(ok_pos, slots, 1, 1, 257), Error);    // head_dim over the stack buffer
  EXPECT_THROW(call(ok_pos, slots, 3, 2, 8), Error);      // heads not a multiple of kv heads
  EXPECT_THROW(call(bad_pos, slots, 2, 1, 8), Error);     // query position past n_kv
  EXPECT_THROW(call(ok_pos, neg_slots, 2, 1, 8), Error);  // corrupt slot table
}

INSTANTIATE_TEST_SUITE_P(AllIsas, AttentionTest, TOKENMILL_ALL_ISAS, testing::isa_param_name);

}  // namespace
}  // namespace tokenmill::kernels
