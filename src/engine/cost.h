// Cost accounting: what each request cost to serve, priced from the machine's hourly price and
// power draw. An engine step's wall time is shared among the sequences in it by the tokens each
// processed there (a 300-token prefill chunk takes 300 shares, a decode token 1), split into the
// prompt part and the generation part. Savings are priced the same way: prompt tokens served
// from the prefix cache instead of computed (at the engine's measured seconds per prefill token),
// and weight bytes a quantized model does not read per step, compared with F16 (at the machine's
// read bandwidth). The shares of every step add up to the step's time, so the costs of
// concurrent requests add up to the engine's busy time x price.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace tokenmill {

struct CostRates {
  double price_per_hour = 0;        // USD per hour of this machine; 0: no prices
  double power_watts = 0;           // drawn while busy; 0: no energy figures
  double bandwidth_bytes_per_s = 0; // prices the bytes quantization saves; 0: bytes only
  bool enabled() const { return price_per_hour > 0 || power_watts > 0; }
  double usd(double seconds) const { return seconds * price_per_hour / 3600.0; }
  double joules(double seconds) const { return seconds * power_watts; }
};

// What one request cost and saved (in the engine's Usage).
struct RequestCost {
  double prompt_seconds = 0;           // its shares of steps, prompt tokens
  double completion_seconds = 0;       // its shares of steps, generated tokens
  double prefix_cache_saved_seconds = 0;
  double quantization_saved_bytes = 0;
  double seconds() const { return prompt_seconds + completion_seconds; }
};

// One sequence's tokens in a step.
struct StepShare {
  int32_t prompt_tokens = 0;      // of its chunk, positions inside the prompt
  int32_t completion_tokens = 0;  // positions past the prompt (decode, or recompute after preemption)
};

// Seconds of step_seconds for each share, in proportion to its tokens: {prompt, completion}
// per share, into `out` (resized; reused across steps, so the engine loop allocates nothing once
// it has seen its widest step). A step without tokens charges nobody.
void split_step_time(double step_seconds, std::span<const StepShare> shares,
                     std::vector<std::pair<double, double>>& out);

}  // namespace tokenmill
