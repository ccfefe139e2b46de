#include "sampling/logprobs.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace tokenmill {
namespace {

TEST(Logprobs, TopLogprobsAreSortedLogSoftmaxWithTiesToLowerId) {
  const std::vector<float> logits = {1.0f, 2.0f, 3.0f, 3.0f, -INFINITY};
  const double log_z = std::log(std::exp(1.0) + std::exp(2.0) + 2 * std::exp(3.0));
  const auto top = top_logprobs(logits, 3);
  ASSERT_EQ(top.size(), 3u);
  EXPECT_EQ(top[0].first, 2);
  EXPECT_EQ(top[1].first, 3);
  EXPECT_EQ(top[2].first, 1);
  EXPECT_NEAR(top[0].second, 3.0 - log_z, 1e-6);
  EXPECT_NEAR(top[1].second, 3.0 - log_z, 1e-6);
  EXPECT_NEAR(top[2].second, 2.0 - log_z, 1e-6);
  EXPECT_NEAR(log_sum_exp(logits), log_z, 1e-6);
}

TEST(Logprobs, KIsClampedToVocabulary) {
  const std::vector<float> logits = {0.0f, 0.0f};
  EXPECT_TRUE(top_logprobs(logits, 0).empty());
  EXPECT_TRUE(top_logprobs(logits, -3).empty());
  const auto all = top_logprobs(logits, 10);
  ASSERT_EQ(all.size(), 2u);
  EXPECT_NEAR(all[0].second, std::log(0.5), 1e-6);
  EXPECT_NEAR(all[1].second, std::log(0.5), 1e-6);
}

TEST(Logprobs, LargeLogitsDoNotOverflow) {
  const std::vector<float> logits = {1000.0f, 1000.0f - std::log(3.0f)};
  // probabilities 3/4 and 1/4
  EXPECT_NEAR(logprob_of(logits, 0), std::log(0.75), 1e-4);
  EXPECT_NEAR(logprob_of(logits, 1), std::log(0.25), 1e-4);
}

TEST(Logprobs, ManyTokensTopKAgreesWithBruteForce) {
  std::vector<float> logits(1000);
  for (size_t i = 0; i < logits.size(); ++i) logits[i] = static_cast<float>((i * 37) % 101) * 0.1f;
  // Largest value 10.0 occurs at i with i*37 % 101 == 100: the lowest such i comes first.
  const auto top = top_logprobs(logits, 5);
  ASSERT_EQ(top.size(), 5u);
  for (size_t j = 0; j + 1 < top.size(); ++j) {
    const float a = logits[top[j].first], b = logits[top[j + 1].first];
    EXPECT_TRUE(a > b || (a == b && top[j].first < top[j + 1].first));
  }
  float max_logit = -INFINITY;
  int32_t first_max = -1;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (logits[i] > max_logit) max_logit = logits[i], first_max = static_cast<int32_t>(i);
  }
  EXPECT_EQ(top[0].first, first_max);
  for (const auto& [id, lp] : top) EXPECT_FLOAT_EQ(lp, logprob_of(logits, id));
}

TEST(Logprobs, BannedTokenHasMinusInfinityAndBadInputThrows) {
  const std::vector<float> logits = {0.0f, -INFINITY};
  EXPECT_EQ(logprob_of(logits, 1), -INFINITY);
  EXPECT_THROW(logprob_of(logits, 2), Error);
  EXPECT_THROW(logprob_of(std::vector<float>{-INFINITY}, 0), Error);
  EXPECT_THROW(top_logprobs(std::vector<float>{NAN, 0.0f}, 1), Error);
}

}  // namespace
}  // namespace tokenmill
