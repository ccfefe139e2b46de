// `tokenmill bench`: prompt-processing (pp) and token-generation (tg) throughput of one model on
// this machine, in the layout of llama.cpp's llama-bench, next to the machine's own limits
// (kernels/machine_limits.h) measured in the same run, so each figure comes with how far it is
// from its roof. The CLI only parses flags and prints; everything measurable lives here.
//
// Tests (each repeated `repetitions` times after one unmeasured warm-up run):
//   ppN: one forward pass over N random tokens from an empty cache, in chunks of batch_tokens,
//        logits for the last token only (as llama-bench's pp).
//   tgN: N forward passes of one token each at positions 0..N-1, logits every step, after one
//        unmeasured single-token forward.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "kernels/machine_limits.h"
#include "model/model_config.h"
#include "model/op_profile.h"
#include "model/weights.h"

namespace tokenmill {

struct ModelBenchOptions {
  int32_t prompt_tokens = 512;  // pp test length; 0 skips it
  int32_t gen_tokens = 128;     // tg test length; 0 skips it
  int threads = 0;              // 0: all hardware threads
  int repetitions = 5;          // measured runs per test
  int32_t batch_tokens = 512;   // prefill chunk (tokens per forward pass)
  bool profile = false;         // one extra tg pass with an OpProfile attached
  bool measure_limits = true;   // measure machine limits in the same run
  kernels::MachineLimitsOptions limits;
  uint32_t seed = 1234;  // of the random token ids
};

// Throws Error naming the flag when options cannot run: both tests empty, negative lengths,
// repetitions < 1, batch_tokens < 1, threads < 0 or above kMaxBenchThreads.
void validate_bench_options(const ModelBenchOptions& options);
inline constexpr int kMaxBenchThreads = 1024;

// Work per token, from the bound weights; the definitions behind the ratios (docs/bench.md).
struct ModelWork {
  int64_t n_params = 0;        // elements of every bound tensor, a tied embedding once
  size_t size_bytes = 0;       // ModelWeights::total_bytes (all bound tensors)
  std::string weight_dtype;    // matrix dtypes by bytes, most first, joined by "+"
  bool float_weights = false;  // every matrix (layers, LM head) F32, F16 or BF16
  // Bytes a decode token reads from weights: every layer matrix (q, k, v, o, gate, up, down),
  // the whole LM head and one embedding row. Norm vectors and the KV cache are not counted.
  double decode_bytes_per_token = 0;
  int64_t layer_matmul_params = 0;  // elements of all layer matrices
  int64_t lm_head_params = 0;       // vocab * dim
  // Matmul ops of a prefill token: 2 * layer_matmul_params (multiply + add per weight). A pp
  // test adds 2 * lm_head_params once (logits of the last token only). Attention is not counted.
  double prefill_ops_per_token = 0;
  // The same split by the op that does the work (matmul ops and lm_head; 0 for the others).
  std::array<double, kOpKindCount> decode_bytes_by_op{};
  std::array<double, kOpKindCount> matmul_ops_by_op{};  // 2 x params per token
};
ModelWork model_work(const ModelWeights& weights);

struct SampleStats {
  double mean = 0;
  double sd = 0;  // sample standard deviation (n - 1); 0 for fewer than two samples
};
SampleStats sample_stats(const std::vector<double>& samples);

struct BenchTestResult {
  std::string name;      // "pp512", "tg128"
  bool prefill = false;  // pp (true) or tg (false)
  int32_t n_tokens = 0;
  std::vector<double> seconds;       // [repetitions] wall time of each measured run
  std::vector<double> tokens_per_s;  // [repetitions] n_tokens / seconds
  SampleStats tps;                   // of tokens_per_s
  // Work rate at the mean t/s: pp -> matmul ops/s (ModelWork), tg -> weight bytes/s.
  double work_per_s = 0;
};

struct BenchProfile {
  OpProfile ops;            // summed over the profiled tokens
  int32_t tokens = 0;       // single-token forwards profiled
  double wall_seconds = 0;  // their wall time, profiler attached
};

struct ModelBenchResult {
  std::string model_path;
  std::string model_name;  // display: "<arch> <params> <dtype>"
  ModelConfig config;
  ModelWork work;
  std::string isa;  // kernel ISA (isa_name of the active kernel table)
  ActivationUse activations;  // what the quantized matrices were multiplied with
  int threads = 0;
  int repetitions = 0;
  int32_t batch_tokens = 0;
  std::vector<BenchTestResult> tests;
  std::optional<kernels::MachineLimits> limits;
  std::optional<BenchProfile> profile;          // decode (tg) pass
  std::optional<BenchProfile> prefill_profile;  // one pp pass (when -p > 0)
};

// Fractions of the machine's roofs (unset when the test or the limits did not run).
struct BenchRatios {
  std::optional<double> decode_of_bandwidth;  // tg weight bytes/s / read bandwidth
  std::optional<double> prefill_of_int8;      // pp matmul ops/s / int8 peak
  std::optional<double> prefill_of_f32;       // pp matmul ops/s / f32 peak (no int8 activations)
};
BenchRatios bench_ratios(const ModelBenchResult& r);

// Runs the tests. `progress` (may be empty) receives one line per step for stderr.
ModelBenchResult run_model_bench(const ModelConfig& cfg, const ModelWeights& weights,
                                 const ModelBenchOptions& options,
                                 const std::function<void(const std::string&)>& progress = {});

// llama-bench style markdown table plus the limits and definitions lines.
std::string format_bench_markdown(const ModelBenchResult& r);
// Per-op time of the profiled pass: op, calls/token, ms/token, % (empty without a profile).
std::string format_bench_profile(const ModelBenchResult& r);
// One object: model, config, tests with samples, limits, work definitions, ratios, profile.
nlohmann::json bench_to_json(const ModelBenchResult& r);

}  // namespace tokenmill
