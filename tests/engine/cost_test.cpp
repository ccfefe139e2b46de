// split_step_time: a step's wall time shared by tokens.
#include <gtest/gtest.h>

#include "engine/cost.h"

namespace tokenmill {
namespace {

TEST(CostSplit, SharesAreProportionalToTokensAndAddUp) {
  const std::vector<StepShare> shares = {{300, 0}, {0, 1}, {12, 0}, {0, 1}, {5, 2}};
  std::vector<std::pair<double, double>> split;
  split_step_time(0.321, shares, split);
  ASSERT_EQ(split.size(), shares.size());
  double sum = 0;
  for (const auto& [p, c] : split) sum += p + c;
  EXPECT_NEAR(sum, 0.321, 1e-15);
  const double per_token = 0.321 / 321;
  EXPECT_DOUBLE_EQ(split[0].first, 300 * per_token);
  EXPECT_DOUBLE_EQ(split[1].second, per_token);
  EXPECT_DOUBLE_EQ(split[4].first, 5 * per_token);
  EXPECT_DOUBLE_EQ(split[4].second, 2 * per_token);
  EXPECT_EQ(split[1].first, 0);
}

TEST(CostSplit, EmptyStepChargesNobody) {
  std::vector<std::pair<double, double>> split = {{5, 5}};
  split_step_time(1.0, {}, split);
  EXPECT_TRUE(split.empty());
  const std::vector<StepShare> none = {{0, 0}};
  split_step_time(1.0, none, split);
  EXPECT_EQ(split[0], (std::pair<double, double>{0, 0}));
}

TEST(CostRates, PricesAndEnergy) {
  CostRates r{2.0, 350, 0};
  EXPECT_TRUE(r.enabled());
  EXPECT_DOUBLE_EQ(r.usd(1800), 1.0);
  EXPECT_DOUBLE_EQ(r.joules(2), 700);
  EXPECT_FALSE(CostRates{}.enabled());
}

}  // namespace
}  // namespace tokenmill
