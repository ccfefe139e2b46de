#include "report/report_page.h"

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <map>

#include "core/error.h"
#include "report/svg_chart.h"

namespace tokenmill::report {
namespace {

using nlohmann::json;

double num_at(const json& j, std::initializer_list<const char*> path, double fallback = NAN) {
  const json* p = &j;
  for (const char* k : path) {
    if (!p->is_object() || !p->contains(k)) return fallback;
    p = &(*p)[k];
  }
  return p->is_number() ? p->get<double>() : fallback;
}

std::string stem(const std::string& path) { return std::filesystem::path(path).stem().string(); }

struct Page {
  std::string body;
  int charts = 0;
  void section(const std::string& title, const std::string& text = "") {
    body += "<h2>" + xml_escape(title) + "</h2>\n";
    if (!text.empty()) body += "<p>" + xml_escape(text) + "</p>\n";
  }
  void chart(const std::string& svg, const std::string& caption) {
    const std::string id = "chart-" + std::to_string(++charts);
    body += "<figure id=\"" + id + "\">" + svg + "<figcaption>" + xml_escape(caption) +
            " <button onclick=\"exportPng('" + id + "')\">PNG</button></figcaption></figure>\n";
  }
};

void serve_section(Page& page, const std::vector<const ReportInput*>& runs) {
  page.section("Serving: throughput and latency",
               "tokenmill bench serve runs; each point is one run (concurrency from its config).");
  // Throughput vs concurrency, one series per model.
  std::map<std::string, std::vector<std::pair<double, double>>> by_model;
  for (const ReportInput* r : runs)
    by_model[r->data.value("model", stem(r->path))].push_back(
        {num_at(r->data, {"config", "concurrency"}), num_at(r->data, {"summary", "output_token_throughput"})});
  LineChart tput{"Output throughput vs concurrency", "concurrent requests", "output tokens/s", {}};
  for (auto& [model, pts] : by_model) {
    std::sort(pts.begin(), pts.end());
    Series s{model, {}, {}};
    for (const auto& [x, y] : pts) s.x.push_back(x), s.y.push_back(y);
    tput.series.push_back(std::move(s));
  }
  page.chart(render_line_chart(tput), "Output tokens per second of each run against its concurrency.");

  BarChart lat{"Latency percentiles (ms)", "milliseconds", {"TTFT p50", "TTFT p99", "TPOT p50", "E2E p50", "E2E p99"}, {}};
  LineChart cdf{"End-to-end latency CDF", "end-to-end latency (ms)", "share of requests", {}, true, true};
  for (const ReportInput* r : runs) {
    const json& m = r->data.contains("metrics") ? r->data["metrics"] : json::object();
    const std::string label = "c=" + std::to_string(int(num_at(r->data, {"config", "concurrency"}, 0))) +
                              (by_model.size() > 1 ? " " + r->data.value("model", stem(r->path)) : "");
    lat.groups.push_back({label,
                          {num_at(m, {"ttft_ms", "p50"}), num_at(m, {"ttft_ms", "p99"}), num_at(m, {"tpot_ms", "p50"}),
                           num_at(m, {"e2e_ms", "p50"}), num_at(m, {"e2e_ms", "p99"})}});
    std::vector<double> e2e;
    if (r->data.contains("requests") && r->data["requests"].is_array())
      for (const json& q : r->data["requests"])
        if (q.value("ok", false) && q.contains("e2e_ms") && q["e2e_ms"].is_number()) e2e.push_back(q["e2e_ms"].get<double>());
    std::sort(e2e.begin(), e2e.end());
    Series s{label, {}, {}};
    for (size_t i = 0; i < e2e.size(); ++i) s.x.push_back(e2e[i]), s.y.push_back(double(i + 1) / double(e2e.size()));
    cdf.series.push_back(std::move(s));
  }
  page.chart(render_bar_chart(lat), "Time to first token, time per output token and end-to-end latency per run.");
  page.chart(render_line_chart(cdf), "Empirical CDF of the end-to-end latency of every successful request.");
}

void bench_section(Page& page, const std::vector<const ReportInput*>& runs) {
  page.section("Model throughput", "tokenmill bench runs: prompt processing (pp) and generation (tg), one sequence.");
  BarChart c{"Tokens per second", "tokens/s", {}, {}};
  std::map<std::string, size_t> test_index;
  for (const ReportInput* r : runs)
    for (const json& t : r->data["tests"])
      if (t.is_object() && !test_index.count(t.value("name", ""))) {
        test_index[t.value("name", "")] = c.names.size();
        c.names.push_back(t.value("name", ""));
      }
  for (const ReportInput* r : runs) {
    BarGroup g{r->data.contains("model") ? r->data["model"].value("name", stem(r->path)) : stem(r->path),
               std::vector<double>(c.names.size(), NAN)};
    for (const json& t : r->data["tests"])
      if (t.is_object()) g.values[test_index[t.value("name", "")]] = num_at(t, {"mean_ts"});
    c.groups.push_back(std::move(g));
  }
  page.chart(render_bar_chart(c), "Mean tokens per second of each test.");
}

void plan_section(Page& page, const std::vector<const ReportInput*>& plans) {
  for (const ReportInput* p : plans) {
    const std::string model = p->data.contains("model") ? p->data["model"].value("name", stem(p->path)) : stem(p->path);
    page.section("Memory: " + model, "tokenmill plan: predicted memory per device, in GB.");
    BarChart c{"Memory breakdown: " + model, "GB", {"weights", "KV cache", "activations", "runtime"}, {}, true, "%.2f"};
    for (const json& d : p->data["devices"]) {
      const json& m = d.contains("memory") ? d["memory"] : json::object();
      c.groups.push_back({d.value("name", "?"),
                          {num_at(m, {"weights_bytes"}, 0) / 1e9, num_at(m, {"kv_bytes"}, 0) / 1e9,
                           num_at(m, {"activation_bytes"}, 0) / 1e9, num_at(m, {"runtime_bytes"}, 0) / 1e9}});
    }
    page.chart(render_bar_chart(c, 760), "Weights, KV cache, activations and runtime per device (one device's share).");
  }
}

void ablation_section(Page& page, const std::vector<const ReportInput*>& files) {
  struct Metric {
    const char* key;
    const char* title;
    const char* unit;
  };
  const Metric metrics[] = {{"output_token_throughput", "Output throughput", "tokens/s"},
                            {"ttft_p50_ms", "Time to first token, p50", "ms"},
                            {"e2e_p99_ms", "End-to-end latency, p99", "ms"},
                            {"memory_mb", "Memory (weights + KV cache + activations)", "MB"},
                            {"usd_per_million_output_tokens", "Cost", "$ per 1M output tokens"}};
  for (const ReportInput* f : files) {
    page.section("Ablation: " + f->data.value("workload", stem(f->path)),
                 "Each optimization turned off in turn on one workload (tokenmill bench ablate).");
    const json& runs = f->data["runs"];
    for (const Metric& m : metrics) {
      BarChart c{std::string(m.title), m.unit, {m.title}, {}};
      for (const json& r : runs)
        if (r.is_object() && r.contains(m.key)) c.groups.push_back({r.value("name", "?"), {num_at(r, {m.key})}});
      if (!c.groups.empty()) page.chart(render_bar_chart(c, 760), std::string(m.title) + " per configuration.");
    }
  }
}

const char* kStyle = R"(body{font-family:sans-serif;max-width:980px;margin:2em auto;color:#222}
figure{margin:1em 0;border:1px solid #eee;padding:.5em}figcaption{font-size:.9em;color:#555}
table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2em .6em;text-align:left}
button{margin-left:.5em})";

// PNG export draws the chart's SVG onto a canvas; the self-check marks the page with the number
// of charts that have a non-empty drawing box (the headless browser test reads it).
const char* kScript = R"(function exportPng(id){const svg=document.querySelector('#'+id+' svg');
const data=new XMLSerializer().serializeToString(svg);const img=new Image();
img.onload=function(){const c=document.createElement('canvas');c.width=svg.width.baseVal.value*2;
c.height=svg.height.baseVal.value*2;const g=c.getContext('2d');g.scale(2,2);g.drawImage(img,0,0);
const a=document.createElement('a');a.download=id+'.png';a.href=c.toDataURL('image/png');a.click();};
img.src='data:image/svg+xml;charset=utf-8,'+encodeURIComponent(data);}
window.addEventListener('load',function(){let n=0;document.querySelectorAll('svg.chart').forEach(function(s){
const b=s.getBBox();const marks=s.querySelectorAll('polyline.series,rect.bar').length;if(b.width>0&&b.height>0&&marks>0)n++;});
document.body.setAttribute('data-charts-rendered',String(n));});)";

}  // namespace

std::string input_kind(const json& d) {
  if (!d.is_object()) return "";
  if (d.contains("summary") && d.contains("config")) return "bench serve";
  if (d.contains("tests") && d["tests"].is_array()) return "bench";
  if (d.contains("devices") && d["devices"].is_array() && d.contains("model")) return "plan";
  if (d.contains("runs") && d["runs"].is_array() && d.value("kind", "") == "tokenmill-ablation") return "ablation";
  return "";
}

std::string render_report(const std::vector<ReportInput>& inputs, const std::string& title) {
  std::map<std::string, std::vector<const ReportInput*>> by_kind;
  for (const ReportInput& in : inputs) {
    const std::string kind = input_kind(in.data);
    if (kind.empty())
      throw Error(in.path + ": not a result tokenmill report reads (bench serve, bench --json, plan --json, "
                            "bench ablate)");
    by_kind[kind].push_back(&in);
  }
  Page page;
  if (by_kind.count("ablation")) ablation_section(page, by_kind["ablation"]);
  if (by_kind.count("bench serve")) serve_section(page, by_kind["bench serve"]);
  if (by_kind.count("bench")) bench_section(page, by_kind["bench"]);
  if (by_kind.count("plan")) plan_section(page, by_kind["plan"]);
  std::string files = "<h2>Inputs</h2>\n<table><tr><th>file</th><th>kind</th></tr>\n";
  for (const ReportInput& in : inputs)
    files += "<tr><td>" + xml_escape(in.path) + "</td><td>" + input_kind(in.data) + "</td></tr>\n";
  files += "</table>\n";
  return "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>" + xml_escape(title) +
         "</title>\n<style>" + kStyle + "</style>\n<script>" + kScript + "</script></head>\n<body data-charts=\"" +
         std::to_string(page.charts) + "\">\n<h1>" + xml_escape(title) + "</h1>\n" + page.body + files +
         "</body></html>\n";
}

}  // namespace tokenmill::report
