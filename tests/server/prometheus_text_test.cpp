#include "server/prometheus_text.h"

#include <gtest/gtest.h>

#include <cmath>

#include "exposition_check.h"

namespace tokenmill::server {
namespace {

using testing::ExpositionCheck;

TEST(PrometheusText, Values) {
  EXPECT_EQ(PrometheusText::format_value(0), "0");
  EXPECT_EQ(PrometheusText::format_value(42), "42");
  EXPECT_EQ(PrometheusText::format_value(0.5), "0.5");
  EXPECT_EQ(PrometheusText::format_value(0.005), "0.005");
  EXPECT_EQ(PrometheusText::format_value(1e21), "1e+21");
  EXPECT_EQ(PrometheusText::format_value(INFINITY), "+Inf");
  EXPECT_EQ(PrometheusText::format_value(-INFINITY), "-Inf");
  EXPECT_EQ(PrometheusText::format_value(NAN), "NaN");
  EXPECT_EQ(PrometheusText::format_value(18446744073709551615.0), "18446744073709551616");
}

TEST(PrometheusText, Escaping) {
  EXPECT_EQ(PrometheusText::escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  EXPECT_EQ(PrometheusText::escape_help("x\\y\nz \"q\""), "x\\\\y\\nz \"q\"");
}

TEST(PrometheusText, CounterAndGauge) {
  PrometheusText t;
  t.counter("tokenmill_x_total", "Things.\nMore.", 3);
  t.gauge("tokenmill_y", "A level.", 0.25);
  EXPECT_EQ(
      t.text(),
      "# HELP tokenmill_x_total Things.\\nMore.\n# TYPE tokenmill_x_total counter\ntokenmill_x_total 3\n"
      "# HELP tokenmill_y A level.\n# TYPE tokenmill_y gauge\ntokenmill_y 0.25\n");
  const ExpositionCheck check(t.text());
  EXPECT_TRUE(check.problems.empty()) << check.problems.front();
}

TEST(PrometheusText, LabelledFamily) {
  PrometheusText t;
  t.labelled("tokenmill_done_total", "counter", "Done.",
             {{{{"finish_reason", "stop"}}, 2}, {{{"finish_reason", "we\"ird"}}, 1}});
  EXPECT_NE(t.text().find("tokenmill_done_total{finish_reason=\"stop\"} 2\n"), std::string::npos);
  EXPECT_NE(t.text().find("tokenmill_done_total{finish_reason=\"we\\\"ird\"} 1\n"), std::string::npos);
  const ExpositionCheck check(t.text());
  EXPECT_TRUE(check.problems.empty()) << check.problems.front();
}

TEST(PrometheusText, Histogram) {
  Histogram::Snapshot s;
  s.upper_bounds = {0.01, 0.1, 1};
  s.cumulative_counts = {1, 3, 4};
  s.count = 5;
  s.sum = 7.5;
  PrometheusText t;
  t.histogram("tokenmill_latency_seconds", "Latency.", s);
  EXPECT_EQ(t.text(),
            "# HELP tokenmill_latency_seconds Latency.\n"
            "# TYPE tokenmill_latency_seconds histogram\n"
            "tokenmill_latency_seconds_bucket{le=\"0.01\"} 1\n"
            "tokenmill_latency_seconds_bucket{le=\"0.1\"} 3\n"
            "tokenmill_latency_seconds_bucket{le=\"1\"} 4\n"
            "tokenmill_latency_seconds_bucket{le=\"+Inf\"} 5\n"
            "tokenmill_latency_seconds_sum 7.5\n"
            "tokenmill_latency_seconds_count 5\n");
  const ExpositionCheck check(t.text());
  EXPECT_TRUE(check.problems.empty()) << check.problems.front();
}

TEST(PrometheusText, HistogramWithExplicitInfBoundWritesItOnce) {
  Histogram::Snapshot s;
  s.upper_bounds = {1, INFINITY};
  s.cumulative_counts = {2, 3};
  s.count = 3;
  PrometheusText t;
  t.histogram("h_seconds", "H.", s);
  size_t inf_lines = 0;
  for (size_t pos = 0; (pos = t.text().find("le=\"+Inf\"", pos)) != std::string::npos; ++pos) ++inf_lines;
  EXPECT_EQ(inf_lines, 1u);
}

TEST(ExpositionCheck, CatchesBrokenText) {
  EXPECT_FALSE(ExpositionCheck("x 1\n").problems.empty());                                  // no TYPE
  EXPECT_FALSE(ExpositionCheck("# TYPE x gauge\nx one\n").problems.empty());                // bad value
  EXPECT_FALSE(ExpositionCheck("# TYPE x gauge\nx{a=\"b} 1\n").problems.empty());           // bad label
  EXPECT_FALSE(ExpositionCheck("# TYPE x counter\nx 1\n").problems.empty());                // no _total
  EXPECT_FALSE(ExpositionCheck("# TYPE x gauge\n# TYPE x gauge\nx 1\n").problems.empty());  // twice
}

}  // namespace
}  // namespace tokenmill::server
