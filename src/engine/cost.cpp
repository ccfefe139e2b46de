#include "engine/cost.h"

namespace tokenmill {

std::vector<std::pair<double, double>> split_step_time(double step_seconds, std::span<const StepShare> shares) {
  int64_t total = 0;
  for (const StepShare& s : shares) total += int64_t(s.prompt_tokens) + s.completion_tokens;
  std::vector<std::pair<double, double>> out(shares.size(), {0.0, 0.0});
  if (total <= 0 || step_seconds <= 0) return out;
  const double per_token = step_seconds / double(total);
  for (size_t i = 0; i < shares.size(); ++i)
    out[i] = {per_token * shares[i].prompt_tokens, per_token * shares[i].completion_tokens};
  return out;
}

}  // namespace tokenmill
