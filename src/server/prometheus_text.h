// Prometheus text exposition format 0.0.4, written by hand: no maintained C++ Prometheus client
// is packaged in Debian, and the format is small. Rules kept here: every family has one HELP and
// one TYPE line before its samples; label values escape backslash, double quote and newline; HELP
// escapes backslash and newline; values are Go-style floats (+Inf, -Inf, NaN); a histogram has
// cumulative `_bucket{le=...}` samples in increasing `le` ending with le="+Inf" (== `_count`),
// then `_sum` and `_count`.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/engine_metrics.h"

namespace tokenmill::server {

inline constexpr const char* kPrometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

using PrometheusLabels = std::vector<std::pair<std::string, std::string>>;

class PrometheusText {
 public:
  void counter(std::string_view name, std::string_view help, double value);
  void gauge(std::string_view name, std::string_view help, double value);
  // One family, one sample per label set (e.g. a counter split by finish_reason).
  void labelled(std::string_view name, std::string_view type, std::string_view help,
                const std::vector<std::pair<PrometheusLabels, double>>& samples);
  void histogram(std::string_view name, std::string_view help, const Histogram::Snapshot& snapshot);

  const std::string& text() const { return text_; }

  static std::string format_value(double value);
  static std::string escape_label_value(std::string_view value);
  static std::string escape_help(std::string_view help);

 private:
  void header(std::string_view name, std::string_view type, std::string_view help);
  void sample(std::string_view name, const PrometheusLabels& labels, double value);
  std::string text_;
};

}  // namespace tokenmill::server
