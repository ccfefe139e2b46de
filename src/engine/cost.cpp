#include "engine/cost.h"

namespace tokenmill {

void split_step_time(double step_seconds, std::span<const StepShare> shares,
                     std::vector<std::pair<double, double>>& out) {
  int64_t total = 0;
  for (const StepShare& s : shares) total += int64_t(s.prompt_tokens) + s.completion_tokens;
  out.assign(shares.size(), {0.0, 0.0});
  if (total <= 0 || step_seconds <= 0) return;
  const double per_token = step_seconds / double(total);
  for (size_t i = 0; i < shares.size(); ++i)
    out[i] = {per_token * shares[i].prompt_tokens, per_token * shares[i].completion_tokens};
}

}  // namespace tokenmill
