// A checker for Prometheus text exposition format 0.0.4, independent of the writer under test.
#pragma once
#include <cmath>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace tokenmill::server::testing {

// Checks text against the exposition format 0.0.4 rules this server relies on; returns the
// problems found (empty: valid). Samples are recorded by name+labels for the tests to read.
struct ExpositionCheck {
  std::vector<std::string> problems;
  std::map<std::string, double> samples;  // "name{labels}" -> value
  std::map<std::string, std::string> types;

  explicit ExpositionCheck(const std::string& text) {
    static const std::regex sample_re(R"(^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$)");
    static const std::regex label_re(R"re(^[a-zA-Z_][a-zA-Z0-9_]*="(\\.|[^"\\])*"$)re");
    std::set<std::string> helped;
    std::istringstream in(text);
    std::string line;
    if (text.empty() || text.back() != '\n') problems.push_back("text must end with a newline");
    while (std::getline(in, line)) {
      if (line.rfind("# HELP ", 0) == 0) {
        const std::string name = line.substr(7, line.find(' ', 7) - 7);
        if (!helped.insert(name).second) problems.push_back("second HELP for " + name);
        continue;
      }
      if (line.rfind("# TYPE ", 0) == 0) {
        std::istringstream words(line.substr(7));
        std::string name, type;
        words >> name >> type;
        if (types.count(name)) problems.push_back("second TYPE for " + name);
        if (!std::set<std::string>{"counter", "gauge", "histogram", "summary", "untyped"}.count(type))
          problems.push_back("bad type " + type);
        types[name] = type;
        continue;
      }
      std::smatch m;
      if (!std::regex_match(line, m, sample_re)) {
        problems.push_back("bad sample line: " + line);
        continue;
      }
      const std::string name = m[1];
      std::string family = name;
      for (const char* suffix : {"_bucket", "_sum", "_count"})
        if (!types.count(family) && family.size() > std::string(suffix).size() &&
            family.compare(family.size() - std::string(suffix).size(), std::string::npos, suffix) == 0)
          family = family.substr(0, family.size() - std::string(suffix).size());
      if (!types.count(family)) problems.push_back("sample before its TYPE: " + line);
      if (types[family] == "counter" &&
          !(name.size() >= 6 && name.compare(name.size() - 6, 6, "_total") == 0))
        problems.push_back("counter not ending in _total: " + name);
      if (m[2].matched) {
        const std::string labels = m[3];
        // Split on commas outside quotes.
        std::string cur;
        bool quoted = false, escaped = false;
        std::vector<std::string> parts;
        for (char c : labels) {
          if (escaped) {
            cur += c;
            escaped = false;
            continue;
          }
          if (c == '\\') {
            cur += c;
            escaped = true;
            continue;
          }
          if (c == '"') quoted = !quoted;
          if (c == ',' && !quoted) {
            parts.push_back(cur);
            cur.clear();
            continue;
          }
          cur += c;
        }
        parts.push_back(cur);
        for (const std::string& p : parts)
          if (!std::regex_match(p, label_re)) problems.push_back("bad label " + p);
      }
      const std::string value = m[4];
      double parsed = NAN;
      if (value == "+Inf" || value == "-Inf") {
        parsed = value[0] == '+' ? INFINITY : -INFINITY;
      } else if (value != "NaN") {
        size_t used = 0;
        try {
          parsed = std::stod(value, &used);
        } catch (const std::exception&) {
        }
        if (used == 0 || used != value.size()) problems.push_back("bad value " + value);
      }
      samples[name + (m[2].matched ? std::string(m[2]) : "")] = parsed;
    }
  }
};

}  // namespace tokenmill::server::testing
