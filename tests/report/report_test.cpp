// SVG charts and the report page, checked on their text.
#include <gtest/gtest.h>

#include <regex>

#include "core/error.h"
#include "report/report_page.h"
#include "report/svg_chart.h"

namespace tokenmill::report {
namespace {

size_t count(const std::string& s, const std::string& needle) {
  size_t n = 0;
  for (size_t p = s.find(needle); p != std::string::npos; p = s.find(needle, p + 1)) ++n;
  return n;
}

TEST(SvgChart, NiceTicksCoverTheRangeInRoundSteps) {
  EXPECT_EQ(nice_ticks(0, 97), (std::vector<double>{0, 20, 40, 60, 80, 100}));
  EXPECT_EQ(nice_ticks(0, 1), (std::vector<double>{0, 0.2, 0.4, 0.6000000000000001, 0.8, 1}));
  EXPECT_EQ(nice_ticks(3, 3), (std::vector<double>{3}));
  const std::vector<double> t = nice_ticks(1, 1234);
  EXPECT_LE(t.front(), 1);
  EXPECT_GE(t.back(), 1234);
}

TEST(SvgChart, LineChartDrawsEachSeries) {
  LineChart c{"T <x>", "x", "y", {{"a", {1, 2, 4}, {10, 20, 15}}, {"b", {1, 2}, {5, 6}}}};
  const std::string svg = render_line_chart(c);
  EXPECT_EQ(count(svg, "<polyline class=\"series\""), 2u);
  EXPECT_EQ(count(svg, "<circle"), 5u);
  EXPECT_NE(svg.find("T &lt;x&gt;"), std::string::npos);  // escaped title
  c.step = true;
  EXPECT_EQ(count(render_line_chart(c), "<circle"), 0u);
}

TEST(SvgChart, StackedBarsAreProportionalToValues) {
  BarChart c{"mem", "GB", {"w", "kv"}, {{"A", {30, 10}}, {"B", {20, 20}}}, true};
  const std::string svg = render_bar_chart(c, 640, 360);
  std::regex h("class=\"bar\" x=\"[0-9.]+\" y=\"[0-9.]+\" width=\"[0-9.]+\" height=\"([0-9.]+)\"");
  std::vector<double> heights;
  for (auto it = std::sregex_iterator(svg.begin(), svg.end(), h); it != std::sregex_iterator(); ++it)
    heights.push_back(std::stod((*it)[1]));
  ASSERT_EQ(heights.size(), 4u);
  EXPECT_NEAR(heights[0] / heights[1], 3.0, 1e-3);
  EXPECT_NEAR(heights[0] + heights[1], heights[2] + heights[3], 1e-3);  // both stacks reach 40
}

TEST(ReportPage, SectionsPerInputKindAndUnknownFilesNamed) {
  nlohmann::json serve = {{"config", {{"concurrency", 2}}},
                          {"model", "m"},
                          {"summary", {{"output_token_throughput", 50.0}}},
                          {"metrics", {{"ttft_ms", {{"p50", 5.0}, {"p99", 9.0}}}}},
                          {"requests", {{{"ok", true}, {"e2e_ms", 12.0}}, {{"ok", true}, {"e2e_ms", 30.0}}}}};
  nlohmann::json plan = {{"model", {{"name", "p"}}},
                         {"devices", {{{"name", "H100-SXM"}, {"memory", {{"weights_bytes", 1.6e10}, {"kv_bytes", 1e9}}}}}}};
  EXPECT_EQ(input_kind(serve), "bench serve");
  EXPECT_EQ(input_kind(plan), "plan");
  const std::string html = render_report({{"s.json", serve}, {"p.json", plan}}, "R");
  EXPECT_NE(html.find("data-charts=\"4\""), std::string::npos);  // throughput, latency, CDF, memory
  EXPECT_NE(html.find("Memory breakdown: p"), std::string::npos);
  EXPECT_NE(html.find("exportPng"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);  // self-contained
  try {
    render_report({{"odd.json", nlohmann::json{{"x", 1}}}}, "R");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("odd.json: not a result"), std::string::npos);
  }
}

}  // namespace
}  // namespace tokenmill::report
