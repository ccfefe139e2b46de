// Bottleneck diagnosis of a `tokenmill bench` run: each phase (decode, prefill) classified as
// memory-bound, compute-bound or overhead-bound against the machine's measured limits, its time
// attributed to ops when a profile ran, and one sentence on what would help. The rules
// (docs/bench.md): a phase is bound by the roof it comes closest to when that is at least 35% of
// the roof, else by overhead (time spent neither moving weights nor multiplying them at speed).
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/model_bench.h"

namespace tokenmill {

enum class Bound { Memory, Compute, Overhead };
const char* bound_name(Bound b);

struct OpDiagnosis {
  std::string op;
  double share = 0;          // of the profiled pass's wall time
  double roof_fraction = -1; // matmul ops: bandwidth (decode) or peak (prefill) reached; -1: not a matmul
  std::string bound;         // "memory", "compute", "below roof", "overhead"
};

struct PhaseDiagnosis {
  std::string phase;               // "decode" (tg) or "prefill" (pp)
  Bound bound = Bound::Overhead;
  double bandwidth_fraction = 0;   // weight bytes/s over read bandwidth
  double compute_fraction = 0;     // matmul ops/s over the peak that applies
  std::string peak_name;           // "int8" or "f32"
  double overhead_share = -1;      // profiled time outside the matmuls and attention; -1: no profile
  std::vector<OpDiagnosis> ops;    // by time, when profiled
  std::string advice;              // one sentence
};

// The server's steps so far (serve --profile): weights are read once per step, so the bandwidth
// reached is steps x weight bytes / busy time, and the compute reached tokens x 2 x matmul
// params / busy time; ops by their share of the busy time, each matmul op against both roofs.
// `int8`: quantized matrices run with int8 activations (the int8 peak applies).
PhaseDiagnosis diagnose_serving(const ServingProfile& p, const ModelWork& work, const kernels::MachineLimits& limits,
                                bool int8);

// Empty when the limits were not measured (--no-limits).
std::vector<PhaseDiagnosis> diagnose_bench(const ModelBenchResult& r);
std::string format_diagnosis(const std::vector<PhaseDiagnosis>& d);
nlohmann::json diagnosis_to_json(const std::vector<PhaseDiagnosis>& d);

}  // namespace tokenmill
