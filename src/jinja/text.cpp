#include "jinja/text.h"

#include <cctype>

#include "jinja/value.h"

namespace tokenmill::jinja::text {
namespace {

bool is_lower(char c) { return c >= 'a' && c <= 'z'; }
bool is_upper(char c) { return c >= 'A' && c <= 'Z'; }
char to_upper(char c) { return is_lower(c) ? static_cast<char>(c - 32) : c; }
char to_lower(char c) { return is_upper(c) ? static_cast<char>(c + 32) : c; }

}  // namespace

bool is_py_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f' ||
         (c >= '\x1c' && c <= '\x1f');
}

std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right) {
  // Characters to strip are code points; compare whole UTF-8 sequences.
  std::vector<std::string> strip_set;
  if (chars) strip_set = utf8_code_points(*chars);
  auto points = utf8_code_points(s);
  auto strippable = [&](const std::string& cp) {
    if (!chars) return cp.size() == 1 && is_py_space(cp[0]);
    for (const auto& c : strip_set)
      if (c == cp) return true;
    return false;
  };
  size_t begin = 0, end = points.size();
  if (left)
    while (begin < end && strippable(points[begin])) ++begin;
  if (right)
    while (end > begin && strippable(points[end - 1])) --end;
  std::string out;
  for (size_t k = begin; k < end; ++k) out += points[k];
  return out;
}

std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t max_split,
                               bool from_right) {
  std::vector<std::string> parts;
  if (!sep) {
    // Whitespace runs; leading/trailing whitespace never yields empty parts.
    if (!from_right) {
      size_t i = 0;
      while (true) {
        while (i < s.size() && is_py_space(s[i])) ++i;
        if (i >= s.size()) break;
        if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
          size_t end = s.size();
          while (end > i && is_py_space(s[end - 1])) --end;
          parts.emplace_back(s.substr(i, end - i));
          break;
        }
        size_t j = i;
        while (j < s.size() && !is_py_space(s[j])) ++j;
        parts.emplace_back(s.substr(i, j - i));
        i = j;
      }
      return parts;
    }
    size_t end = s.size();
    while (true) {
      while (end > 0 && is_py_space(s[end - 1])) --end;
      if (end == 0) break;
      if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) {
        size_t begin = 0;
        while (begin < end && is_py_space(s[begin])) ++begin;
        parts.emplace_back(s.substr(begin, end - begin));
        break;
      }
      size_t begin = end;
      while (begin > 0 && !is_py_space(s[begin - 1])) --begin;
      parts.emplace_back(s.substr(begin, end - begin));
      end = begin;
    }
    return {parts.rbegin(), parts.rend()};
  }
  const std::string& separator = *sep;
  if (!from_right) {
    size_t start = 0;
    while (true) {
      if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) break;
      const size_t found = s.find(separator, start);
      if (found == std::string_view::npos) break;
      parts.emplace_back(s.substr(start, found - start));
      start = found + separator.size();
    }
    parts.emplace_back(s.substr(start));
    return parts;
  }
  size_t end = s.size();
  while (true) {
    if (max_split >= 0 && static_cast<int64_t>(parts.size()) == max_split) break;
    if (end < separator.size()) break;
    const size_t found = s.rfind(separator, end - separator.size());
    if (found == std::string_view::npos) break;
    parts.emplace_back(s.substr(found + separator.size(), end - found - separator.size()));
    end = found;
  }
  parts.emplace_back(s.substr(0, end));
  return {parts.rbegin(), parts.rend()};
}

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\n' || s[i] == '\r') {
      lines.emplace_back(s.substr(start, i - start));
      if (s[i] == '\r' && i + 1 < s.size() && s[i + 1] == '\n') ++i;
      start = i + 1;
    }
  }
  if (start < s.size()) lines.emplace_back(s.substr(start));
  return lines;
}

std::string replace(std::string_view s, std::string_view old_text, std::string_view new_text, int64_t count) {
  std::string out;
  if (old_text.empty()) {
    auto points = utf8_code_points(s);
    int64_t done = 0;
    for (size_t k = 0; k <= points.size(); ++k) {
      if (count < 0 || done < count) {
        out += new_text;
        ++done;
      }
      if (k < points.size()) out += points[k];
    }
    return out;
  }
  size_t start = 0;
  int64_t done = 0;
  while (count < 0 || done < count) {
    const size_t found = s.find(old_text, start);
    if (found == std::string_view::npos) break;
    out += s.substr(start, found - start);
    out += new_text;
    start = found + old_text.size();
    ++done;
  }
  out += s.substr(start);
  return out;
}

std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_upper(c);
  return out;
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

std::string py_title(std::string_view s) {
  std::string out(s);
  bool previous_cased = false;
  for (char& c : out) {
    const bool cased = is_lower(c) || is_upper(c);
    if (cased) c = previous_cased ? to_lower(c) : to_upper(c);
    previous_cased = cased;
  }
  return out;
}

std::string jinja_title(std::string_view s) {
  std::string out;
  bool word_start = true;
  for (char c : s) {
    const bool separator = c == '-' || is_py_space(c) || c == '(' || c == '{' || c == '[' || c == '<';
    if (separator) {
      out += c;
      word_start = true;
    } else {
      out += word_start ? to_upper(c) : to_lower(c);
      word_start = false;
    }
  }
  return out;
}

std::string capitalize(std::string_view s) {
  std::string out = lower(s);
  if (!out.empty()) out[0] = to_upper(out[0]);
  return out;
}

std::string html_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

}  // namespace tokenmill::jinja::text
