// Python str operations on UTF-8 text, shared by filters and string methods. Case mapping covers
// ASCII letters only; other characters pass through unchanged.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace tokenmill::jinja::text {

bool is_py_space(char c);
// str.strip / lstrip / rstrip; `chars` nullopt means whitespace.
std::string strip(std::string_view s, const std::optional<std::string>& chars, bool left, bool right);
// str.split / rsplit; `sep` nullopt means runs of whitespace. max_split < 0 means no limit.
std::vector<std::string> split(std::string_view s, const std::optional<std::string>& sep, int64_t max_split,
                               bool from_right = false);
std::vector<std::string> split_lines(std::string_view s);
std::string replace(std::string_view s, std::string_view old_text, std::string_view new_text, int64_t count);
std::string upper(std::string_view s);
std::string lower(std::string_view s);
std::string py_title(std::string_view s);     // str.title()
std::string jinja_title(std::string_view s);  // the |title filter (splits on -, spaces, brackets)
std::string capitalize(std::string_view s);
std::string html_escape(std::string_view s);

}  // namespace tokenmill::jinja::text
