// Small SVG charts for `tokenmill report`: line charts (throughput vs concurrency, CDFs), grouped
// bars (latency percentiles, ablations) and stacked bars (memory breakdowns). Each returns one
// self-contained <svg> element with axes, ticks, labels and a legend, sized in CSS pixels; no
// script or external file is needed to draw it. Written here because no C++ charting library is
// packaged in Debian and the report must be a single file (docs/report.md).
#pragma once
#include <string>
#include <vector>

namespace tokenmill::report {

struct Series {
  std::string name;
  std::vector<double> x, y;  // line charts: points in x order
};

struct LineChart {
  std::string title, x_label, y_label;
  std::vector<Series> series;
  bool step = false;      // draw as a staircase (an empirical CDF)
  bool y_from_zero = true;
};

struct BarGroup {
  std::string label;            // category on the x axis
  std::vector<double> values;   // one per bar name (grouped) or per segment (stacked)
};

struct BarChart {
  std::string title, y_label;
  std::vector<std::string> names;  // legend: bar (grouped) or segment (stacked) names
  std::vector<BarGroup> groups;
  bool stacked = false;
  std::string value_format = "%.3g";  // printf format of the value labels
};

std::string render_line_chart(const LineChart& c, int width = 640, int height = 360);
std::string render_bar_chart(const BarChart& c, int width = 640, int height = 360);

// Ticks of a "nice" axis covering [lo, hi]: steps of 1, 2 or 5 x 10^k, about `target` of them.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// Escapes &, <, >, " and ' for SVG/HTML text and attributes (the Jinja interpreter's escape).
std::string xml_escape(const std::string& s);

}  // namespace tokenmill::report
