#include "server/prometheus_text.h"

#include <charconv>
#include <cmath>

namespace tokenmill::server {

std::string PrometheusText::format_value(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Shortest text that reads back to the same double, so counters never lose digits.
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  return ec == std::errc() ? std::string(buf, end) : "NaN";
}

std::string PrometheusText::escape_label_value(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '"')
      out += "\\\"";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

std::string PrometheusText::escape_help(std::string_view help) {
  std::string out;
  for (char c : help) {
    if (c == '\\')
      out += "\\\\";
    else if (c == '\n')
      out += "\\n";
    else
      out += c;
  }
  return out;
}

void PrometheusText::header(std::string_view name, std::string_view type, std::string_view help) {
  text_ += "# HELP ";
  text_ += name;
  text_ += ' ';
  text_ += escape_help(help);
  text_ += "\n# TYPE ";
  text_ += name;
  text_ += ' ';
  text_ += type;
  text_ += '\n';
}

void PrometheusText::sample(std::string_view name, const PrometheusLabels& labels, double value) {
  text_ += name;
  if (!labels.empty()) {
    text_ += '{';
    for (size_t i = 0; i < labels.size(); ++i) {
      if (i > 0) text_ += ',';
      text_ += labels[i].first + "=\"" + escape_label_value(labels[i].second) + '"';
    }
    text_ += '}';
  }
  text_ += ' ';
  text_ += format_value(value);
  text_ += '\n';
}

void PrometheusText::counter(std::string_view name, std::string_view help, double value) {
  header(name, "counter", help);
  sample(name, {}, value);
}

void PrometheusText::gauge(std::string_view name, std::string_view help, double value) {
  header(name, "gauge", help);
  sample(name, {}, value);
}

void PrometheusText::labelled(std::string_view name, std::string_view type, std::string_view help,
                              const std::vector<std::pair<PrometheusLabels, double>>& samples) {
  header(name, type, help);
  for (const auto& [labels, value] : samples) sample(name, labels, value);
}

void PrometheusText::histogram(std::string_view name, std::string_view help, const Histogram::Snapshot& s) {
  header(name, "histogram", help);
  const std::string bucket = std::string(name) + "_bucket";
  for (size_t i = 0; i < s.upper_bounds.size() && i < s.cumulative_counts.size(); ++i) {
    if (std::isinf(s.upper_bounds[i])) continue;  // +Inf is written once, below, from the count
    sample(bucket, {{"le", format_value(s.upper_bounds[i])}}, double(s.cumulative_counts[i]));
  }
  sample(bucket, {{"le", "+Inf"}}, double(s.count));
  sample(std::string(name) + "_sum", {}, s.sum);
  sample(std::string(name) + "_count", {}, double(s.count));
}

}  // namespace tokenmill::server
