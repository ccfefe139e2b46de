#include "report/svg_chart.h"

#include "jinja/text.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

namespace tokenmill::report {
namespace {

// A colour-blind-safe palette (Okabe-Ito).
const char* const kColors[] = {"#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000"};
const char* color(size_t i) { return kColors[i % (sizeof kColors / sizeof kColors[0])]; }

std::string num(double v, const char* format = "%.4g") {
  char buf[64];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

struct Frame {
  int width, height;
  double left = 64, right = 16, top = 36, bottom = 60;  // below the plot: ticks, axis label, legend
  double x0() const { return left; }
  double x1() const { return width - right; }
  double y0() const { return height - bottom; }  // bottom of the plot
  double y1() const { return top; }
};

std::string open_svg(const Frame& f, const std::string& title) {
  return "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" width=\"" + std::to_string(f.width) + "\" height=\"" +
         std::to_string(f.height) + "\" viewBox=\"0 0 " + std::to_string(f.width) + " " + std::to_string(f.height) +
         "\" font-family=\"sans-serif\" font-size=\"12\" role=\"img\" aria-label=\"" + xml_escape(title) +
         "\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n<text x=\"" + num(f.width / 2.0) +
         "\" y=\"20\" text-anchor=\"middle\" font-size=\"14\" font-weight=\"bold\">" + xml_escape(title) + "</text>\n";
}

// Horizontal grid lines and y tick labels.
std::string y_axis(const Frame& f, const std::vector<double>& ticks, double lo, double hi, const std::string& label) {
  std::string out;
  for (double t : ticks) {
    const double y = f.y0() - (t - lo) / (hi - lo) * (f.y0() - f.y1());
    out += "<line x1=\"" + num(f.x0()) + "\" x2=\"" + num(f.x1()) + "\" y1=\"" + num(y) + "\" y2=\"" + num(y) +
           "\" stroke=\"#ddd\"/>\n<text x=\"" + num(f.x0() - 6) + "\" y=\"" + num(y + 4) + "\" text-anchor=\"end\">" +
           num(t) + "</text>\n";
  }
  out += "<line x1=\"" + num(f.x0()) + "\" x2=\"" + num(f.x0()) + "\" y1=\"" + num(f.y0()) + "\" y2=\"" + num(f.y1()) +
         "\" stroke=\"#333\"/>\n<line x1=\"" + num(f.x0()) + "\" x2=\"" + num(f.x1()) + "\" y1=\"" + num(f.y0()) +
         "\" y2=\"" + num(f.y0()) + "\" stroke=\"#333\"/>\n";
  out += "<text transform=\"translate(14," + num((f.y0() + f.y1()) / 2) + ") rotate(-90)\" text-anchor=\"middle\">" +
         xml_escape(label) + "</text>\n";
  return out;
}

std::string legend(const Frame& f, const std::vector<std::string>& names) {
  std::string out;
  double x = f.x0();
  for (size_t i = 0; i < names.size(); ++i) {
    out += "<rect x=\"" + num(x) + "\" y=\"" + num(f.height - 16.0) + "\" width=\"10\" height=\"10\" fill=\"" +
           color(i) + "\"/><text x=\"" + num(x + 14) + "\" y=\"" + num(f.height - 7.0) + "\">" + xml_escape(names[i]) +
           "</text>\n";
    x += 24 + 7.0 * double(names[i].size());
  }
  return out;
}

}  // namespace

std::string xml_escape(const std::string& s) { return jinja::text::html_escape(s); }

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm <= 1 ? 1 : norm <= 2 ? 2 : norm <= 5 ? 5 : 10) * mag;
  // From the last tick at or below lo to the first at or above hi, so the axis covers the data.
  std::vector<double> ticks;
  const int64_t first = int64_t(std::floor(lo / step + 1e-9)), last = int64_t(std::ceil(hi / step - 1e-9));
  for (int64_t i = first; i <= last; ++i) ticks.push_back(double(i) * step);
  return ticks;
}

std::string render_line_chart(const LineChart& c, int width, int height) {
  Frame f{width, height};
  double xlo = std::numeric_limits<double>::max(), xhi = -xlo, ylo = xlo, yhi = -xlo;
  for (const Series& s : c.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      xlo = std::min(xlo, s.x[i]), xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]), yhi = std::max(yhi, s.y[i]);
    }
  std::string out = open_svg(f, c.title);
  if (xlo > xhi) return out + "<text x=\"50%\" y=\"50%\" text-anchor=\"middle\">no data</text>\n</svg>\n";
  if (c.y_from_zero) ylo = std::min(0.0, ylo);
  if (xhi == xlo) xlo -= 1, xhi += 1;
  if (yhi == ylo) yhi += 1;
  const std::vector<double> yt = nice_ticks(ylo, yhi), xt = nice_ticks(xlo, xhi);
  ylo = yt.front(), yhi = yt.back();
  xlo = std::min(xlo, xt.front()), xhi = std::max(xhi, xt.back());
  out += y_axis(f, yt, ylo, yhi, c.y_label);
  auto px = [&](double x) { return f.x0() + (x - xlo) / (xhi - xlo) * (f.x1() - f.x0()); };
  auto py = [&](double y) { return f.y0() - (y - ylo) / (yhi - ylo) * (f.y0() - f.y1()); };
  for (double t : xt)
    if (t >= xlo && t <= xhi)
      out += "<text x=\"" + num(px(t)) + "\" y=\"" + num(f.y0() + 16) + "\" text-anchor=\"middle\">" + num(t) + "</text>\n";
  out += "<text x=\"" + num((f.x0() + f.x1()) / 2) + "\" y=\"" + num(f.y0() + 32) + "\" text-anchor=\"middle\">" +
         xml_escape(c.x_label) + "</text>\n";
  std::vector<std::string> names;
  for (size_t k = 0; k < c.series.size(); ++k) {
    const Series& s = c.series[k];
    names.push_back(s.name);
    std::string points;
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (c.step && i > 0) points += num(px(s.x[i])) + "," + num(py(s.y[i - 1])) + " ";
      points += num(px(s.x[i])) + "," + num(py(s.y[i])) + " ";
    }
    out += "<polyline class=\"series\" fill=\"none\" stroke=\"" + std::string(color(k)) +
           "\" stroke-width=\"2\" points=\"" + points + "\"/>\n";
    if (!c.step)
      for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i)
        out += "<circle cx=\"" + num(px(s.x[i])) + "\" cy=\"" + num(py(s.y[i])) + "\" r=\"3\" fill=\"" + color(k) +
               "\"><title>" + xml_escape(s.name) + ": " + num(s.x[i]) + ", " + num(s.y[i]) + "</title></circle>\n";
  }
  return out + legend(f, names) + "</svg>\n";
}

std::string render_bar_chart(const BarChart& c, int width, int height) {
  Frame f{width, height};
  double yhi = 0;
  for (const BarGroup& g : c.groups) {
    double sum = 0;
    for (double v : g.values) {
      if (!std::isfinite(v)) continue;
      sum += std::max(0.0, v);
      if (!c.stacked) yhi = std::max(yhi, v);
    }
    if (c.stacked) yhi = std::max(yhi, sum);
  }
  std::string out = open_svg(f, c.title);
  if (c.groups.empty()) return out + "<text x=\"50%\" y=\"50%\" text-anchor=\"middle\">no data</text>\n</svg>\n";
  if (yhi <= 0) yhi = 1;
  const std::vector<double> yt = nice_ticks(0, yhi);
  yhi = std::max(yhi, yt.back());
  out += y_axis(f, yt, 0, yhi, c.y_label);
  const double slot = (f.x1() - f.x0()) / double(c.groups.size());
  const size_t bars = c.stacked ? 1 : std::max<size_t>(1, c.names.size());
  const double bar_w = slot * 0.8 / double(bars);
  auto py = [&](double y) { return f.y0() - y / yhi * (f.y0() - f.y1()); };
  for (size_t g = 0; g < c.groups.size(); ++g) {
    const BarGroup& grp = c.groups[g];
    const double gx = f.x0() + slot * double(g) + slot * 0.1;
    double base = 0;
    for (size_t i = 0; i < grp.values.size(); ++i) {
      const double v = std::isfinite(grp.values[i]) ? std::max(0.0, grp.values[i]) : 0.0;
      const double x = c.stacked ? gx : gx + bar_w * double(i);
      const double top = py(base + v), bottom = py(base);
      const std::string name = i < c.names.size() ? c.names[i] : "";
      out += "<rect class=\"bar\" x=\"" + num(x) + "\" y=\"" + num(top) + "\" width=\"" + num(bar_w * 0.95) +
             "\" height=\"" + num(std::max(0.0, bottom - top)) + "\" fill=\"" + color(i) + "\"><title>" +
             xml_escape(grp.label + " / " + name) + ": " + num(grp.values[i], c.value_format.c_str()) + "</title></rect>\n";
      if (!c.stacked && std::isfinite(grp.values[i]))
        out += "<text x=\"" + num(x + bar_w * 0.475) + "\" y=\"" + num(top - 3) +
               "\" text-anchor=\"middle\" font-size=\"10\">" + num(grp.values[i], c.value_format.c_str()) + "</text>\n";
      if (c.stacked) base += v;
    }
    out += "<text x=\"" + num(f.x0() + slot * (double(g) + 0.5)) + "\" y=\"" + num(f.y0() + 16) +
           "\" text-anchor=\"middle\">" + xml_escape(grp.label) + "</text>\n";
  }
  return out + legend(f, c.names) + "</svg>\n";
}

}  // namespace tokenmill::report
