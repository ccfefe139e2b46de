// The perplexity / KL-divergence arithmetic of engine/perplexity.h on hand-built logits, against
// values worked out by hand (or by a direct formula written differently from the library's).
#include "engine/perplexity.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numeric>
#include <vector>

#include "core/error.h"

namespace tokenmill {
namespace {

TEST(Perplexity, ChunkPlanScoresTheSecondHalfOfEveryWholeChunk) {
  const ChunkPlan p = plan_chunks(/*n_tokens=*/35, /*ctx_tokens=*/8, /*max_chunks=*/0);
  EXPECT_EQ(p.n_chunks, 4);  // 35 / 8: the 3 tokens left over are not evaluated
  EXPECT_EQ(p.first_scored_position(), 4);
  // Logits of positions 4, 5, 6 predict tokens 5, 6, 7; position 7's would predict the next chunk.
  EXPECT_EQ(p.scored_per_chunk(), 3);
  EXPECT_EQ(p.scored_tokens(), 12);
  EXPECT_EQ(p.evaluated_tokens(), 32);

  EXPECT_EQ(plan_chunks(35, 8, 2).n_chunks, 2);
  EXPECT_EQ(plan_chunks(35, 8, 9).n_chunks, 4);
  EXPECT_EQ(plan_chunks(8, 8, 0).n_chunks, 1);  // one whole chunk is enough
  // Odd contexts: 9 / 2 = 4 tokens of context before the first scored logits, positions 4..7.
  EXPECT_EQ(plan_chunks(9, 9, 0).scored_per_chunk(), 4);
  EXPECT_EQ(plan_chunks(4, 4, 0).scored_per_chunk(), 1);
}

TEST(Perplexity, ChunkPlanRejectsTooFewTokensAndTinyContexts) {
  try {
    plan_chunks(7, 8, 0);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("has 7 tokens"), std::string::npos) << msg;
    EXPECT_NE(msg.find("needs 8"), std::string::npos) << msg;
  }
  EXPECT_THROW(plan_chunks(0, 8, 0), Error);
  EXPECT_THROW(plan_chunks(100, 3, 0), Error);
  EXPECT_THROW(plan_chunks(100, 2, 0), Error);
  EXPECT_THROW(plan_chunks(100, 0, 0), Error);
  EXPECT_THROW(plan_chunks(100, -4, 0), Error);
  EXPECT_THROW(plan_chunks(100, 8, -1), Error);
}

TEST(Perplexity, ChunkInputsAndTargets) {
  std::vector<int32_t> tokens(20);
  std::iota(tokens.begin(), tokens.end(), 100);  // 100, 101, ...
  const ChunkPlan p = plan_chunks(20, 6, 0);     // 3 chunks: [0,6) [6,12) [12,18)
  ASSERT_EQ(p.n_chunks, 3);
  EXPECT_EQ(chunk_input_ids(tokens, p, 1, std::nullopt),
            (std::vector<int32_t>{106, 107, 108, 109, 110, 111}));
  // With BOS the first token is replaced, the rest kept.
  EXPECT_EQ(chunk_input_ids(tokens, p, 1, 7), (std::vector<int32_t>{7, 107, 108, 109, 110, 111}));
  // ctx 6: logits of positions 3, 4 predict positions 4, 5 of the chunk.
  ASSERT_EQ(p.scored_per_chunk(), 2);
  EXPECT_EQ(scored_target(tokens, p, 0, 0), 104);
  EXPECT_EQ(scored_target(tokens, p, 0, 1), 105);
  EXPECT_EQ(scored_target(tokens, p, 2, 0), 116);
  EXPECT_EQ(scored_target(tokens, p, 2, 1), 117);
  EXPECT_THROW(chunk_input_ids(tokens, p, 3, std::nullopt), Error);
}

TEST(Perplexity, TokenNllOfHandBuiltLogits) {
  // Uniform over 4: -log(1/4).
  const std::vector<float> uniform{2.f, 2.f, 2.f, 2.f};
  EXPECT_NEAR(token_nll(uniform, 3), std::log(4.0), 1e-12);
  // logits log(1), log(2), log(5): p = 1/8, 2/8, 5/8.
  const std::vector<float> l{0.f, float(std::log(2.0)), float(std::log(5.0))};
  EXPECT_NEAR(token_nll(l, 0), std::log(8.0), 1e-6);
  EXPECT_NEAR(token_nll(l, 2), std::log(8.0 / 5.0), 1e-6);
  // Large logits do not overflow.
  const std::vector<float> big{1000.f, 1000.f};
  EXPECT_NEAR(token_nll(big, 1), std::log(2.0), 1e-12);
  EXPECT_THROW(token_nll(l, 3), Error);
  EXPECT_THROW(token_nll(l, -1), Error);
  const std::vector<float> bad{0.f, NAN};
  EXPECT_THROW(token_nll(bad, 0), Error);

  std::vector<float> lp(3);
  log_softmax(l, lp);
  EXPECT_NEAR(lp[0], std::log(1.0 / 8), 1e-6);
  EXPECT_NEAR(lp[1], std::log(2.0 / 8), 1e-6);
  EXPECT_NEAR(lp[2], std::log(5.0 / 8), 1e-6);
  EXPECT_EQ(argmax(l), 2);
  EXPECT_EQ(argmax(uniform), 0);  // ties: the lowest index
}

TEST(Perplexity, PerplexityAndStandardError) {
  // NLLs 1, 2, 3, 4: mean 2.5, sample variance 5/3, standard error sqrt(5/3/4).
  const std::vector<double> nll{1, 2, 3, 4};
  const PerplexityEstimate e = perplexity_from_nll(nll);
  EXPECT_EQ(e.n_tokens, 4);
  EXPECT_NEAR(e.nll_mean, 2.5, 1e-15);
  EXPECT_NEAR(e.ppl, std::exp(2.5), 1e-12);
  const double se = std::sqrt(5.0 / 3.0 / 4.0);
  EXPECT_NEAR(e.nll_std_error, se, 1e-15);
  EXPECT_NEAR(e.ppl_std_error, std::exp(2.5) * se, 1e-12);
  // The same as sqrt((E[x^2] - E[x]^2) / (n - 1)).
  const double ex2 = (1 + 4 + 9 + 16) / 4.0;
  EXPECT_NEAR(e.nll_std_error, std::sqrt((ex2 - 2.5 * 2.5) / 3), 1e-15);

  // Uniform predictions over V tokens: perplexity V, no spread.
  const std::vector<double> flat(10, std::log(384.0));
  const PerplexityEstimate f = perplexity_from_nll(flat);
  EXPECT_NEAR(f.ppl, 384.0, 1e-9);
  EXPECT_NEAR(f.ppl_std_error, 0.0, 1e-9);  // only rounding of the mean

  const std::vector<double> one{0.7};
  EXPECT_EQ(perplexity_from_nll(one).ppl_std_error, 0.0);
  EXPECT_THROW(perplexity_from_nll({}), Error);
}

TEST(Perplexity, KlDivergence) {
  const std::vector<float> p{0.f, float(std::log(2.0)), float(std::log(5.0))};
  EXPECT_EQ(kl_divergence(p, p), 0.0);
  // Shift invariance: logits and log-probabilities of the same distribution.
  std::vector<float> lp(3);
  log_softmax(p, lp);
  EXPECT_NEAR(kl_divergence(lp, p), 0.0, 1e-12);

  // P = (1/2, 1/2), Q = (1/4, 3/4): KL(P||Q) = 1/2 ln 2 + 1/2 ln(2/3).
  const std::vector<float> P{float(std::log(0.5)), float(std::log(0.5))};
  const std::vector<float> Q{float(std::log(0.25)), float(std::log(0.75))};
  EXPECT_NEAR(kl_divergence(P, Q), 0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3.0), 1e-7);
  // Asymmetric: KL(Q||P) = 1/4 ln(1/2) + 3/4 ln(3/2).
  EXPECT_NEAR(kl_divergence(Q, P), 0.25 * std::log(0.5) + 0.75 * std::log(1.5), 1e-7);
  // A token the base gives no probability adds nothing.
  const std::vector<float> P0{0.f, -INFINITY};
  const std::vector<float> Q0{0.f, 0.f};
  EXPECT_NEAR(kl_divergence(P0, Q0), std::log(2.0), 1e-12);
  EXPECT_THROW(kl_divergence(P, p), Error);
}

TEST(Perplexity, PercentilesInterpolateLinearly) {
  const std::vector<double> v{1, 2, 3, 4, 5};
  EXPECT_EQ(percentile(v, 0.5), 3.0);
  EXPECT_EQ(percentile(v, 0.0), 1.0);
  EXPECT_EQ(percentile(v, 1.0), 5.0);
  EXPECT_NEAR(percentile(v, 0.9), 4.6, 1e-12);    // at 3.6
  EXPECT_NEAR(percentile(v, 0.99), 4.96, 1e-12);  // at 3.96
  const std::vector<double> even{10, 20, 30, 40};
  EXPECT_NEAR(percentile(even, 0.5), 25.0, 1e-12);  // the median of an even count
  const std::vector<double> single{7};
  EXPECT_EQ(percentile(single, 0.95), 7.0);
  EXPECT_THROW(percentile({}, 0.5), Error);
}

TEST(Perplexity, KldAccumulatorSummary) {
  // Position 1: the same distribution. Position 2: P vs Q above, argmax differs
  // (P's tie goes to index 0, Q's top is 1).
  const std::vector<float> A{float(std::log(0.25)), float(std::log(0.75))};
  const std::vector<float> P{float(std::log(0.5)), float(std::log(0.5))};
  const std::vector<float> Q = A;
  KldAccumulator acc;
  acc.add(A, A, token_nll(A, 1), 1);
  acc.add(P, Q, token_nll(Q, 0), 0);
  EXPECT_EQ(acc.n_positions(), 2);
  const KldSummary s = acc.summary();
  const double k2 = 0.5 * std::log(2.0) + 0.5 * std::log(2.0 / 3.0);
  EXPECT_NEAR(s.kld.mean, k2 / 2, 1e-7);
  EXPECT_NEAR(s.kld.std_error, std::sqrt(2 * (k2 / 2) * (k2 / 2) / 1 / 2), 1e-7);
  EXPECT_NEAR(s.kld_median, k2 / 2, 1e-7);
  EXPECT_NEAR(s.kld_max, k2, 1e-7);
  EXPECT_NEAR(s.kld_p90, 0.9 * k2, 1e-7);
  EXPECT_EQ(s.same_top_fraction, 0.5);
  EXPECT_NEAR(s.same_top_std_error, std::sqrt(0.25 / 1), 1e-12);
  // This model: -ln(3/4), -ln(1/4); the base: -ln(3/4), -ln(1/2).
  EXPECT_NEAR(s.ppl.ppl, std::exp((-std::log(0.75) - std::log(0.25)) / 2), 1e-6);
  EXPECT_NEAR(s.ppl_base.ppl, std::exp((-std::log(0.75) - std::log(0.5)) / 2), 1e-6);
  EXPECT_NEAR(s.ppl_ratio, s.ppl.ppl / s.ppl_base.ppl, 1e-12);
  EXPECT_NEAR(std::log(s.ppl_ratio), s.ln_ppl_ratio.mean, 1e-12);

  KldAccumulator same;
  for (int i = 0; i < 5; ++i) same.add(P, P, token_nll(P, 1), 1);
  const KldSummary z = same.summary();
  EXPECT_EQ(z.kld.mean, 0.0);
  EXPECT_EQ(z.kld_max, 0.0);
  EXPECT_EQ(z.same_top_fraction, 1.0);
  EXPECT_EQ(z.ppl_ratio, 1.0);
  EXPECT_THROW(KldAccumulator().summary(), Error);
}

}  // namespace
}  // namespace tokenmill
