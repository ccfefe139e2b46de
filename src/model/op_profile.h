// Wall time of a forward pass split by op, for `tokenmill bench --profile`: where decode time goes
// when the matmuls no longer dominate (small models). Off unless a caller attaches one.
#pragma once
#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace tokenmill {

enum class OpKind : uint8_t {
  Embed,        // token embedding rows to f32
  Norm,         // RMSNorm (attention, FFN, q/k, final)
  MatmulQkv,    // q, k, v projections
  Rope,         // rotary embedding of q and k
  KvWrite,      // K/V rows into the cache
  Attention,    // fused attention over the cache
  MatmulOut,    // attention output projection
  MatmulGateUp, // FFN gate and up projections
  Swiglu,       // silu(gate) * up
  MatmulDown,   // FFN down projection
  Residual,     // residual adds
  LmHead,       // output projection to logits
  kCount,
};

inline constexpr size_t kOpKindCount = size_t(OpKind::kCount);

inline std::string_view op_kind_name(OpKind k) {
  constexpr std::array<std::string_view, kOpKindCount> names = {
      "embed", "norm", "matmul_qkv", "rope", "kv_write", "attention", "matmul_out",
      "matmul_gate_up", "swiglu", "matmul_down", "residual", "lm_head"};
  return names[size_t(k)];
}

struct OpProfile {
  std::array<double, kOpKindCount> seconds{};
  std::array<uint64_t, kOpKindCount> calls{};

  void reset() {
    seconds.fill(0.0);
    calls.fill(0);
  }
  double total_seconds() const {
    double s = 0;
    for (double v : seconds) s += v;
    return s;
  }
};

// Adds the time from construction to destruction to profile->seconds[kind] (no-op when null).
class OpTimer {
 public:
  OpTimer(OpProfile* profile, OpKind kind) : profile_(profile), kind_(kind) {
    if (profile_ != nullptr) start_ = std::chrono::steady_clock::now();
  }
  ~OpTimer() {
    if (profile_ == nullptr) return;
    const std::chrono::duration<double> d = std::chrono::steady_clock::now() - start_;
    profile_->seconds[size_t(kind_)] += d.count();
    ++profile_->calls[size_t(kind_)];
  }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

 private:
  OpProfile* profile_;
  OpKind kind_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace tokenmill
