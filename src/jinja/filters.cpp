// The jinja2 filters chat templates use, with jinja2's argument names and defaults.
#include <algorithm>
#include <cmath>
#include <cstdlib>

#include "core/error.h"
#include "jinja/interpreter.h"
#include "jinja/text.h"

namespace tokenmill::jinja {
namespace {

std::string str_arg(const CallArgs& args, size_t position, std::string_view name, const std::string& fallback) {
  Value v = args.get(position, name);
  return v.is_undefined() ? fallback : to_str(v);
}

int64_t int_arg(const CallArgs& args, size_t position, std::string_view name, int64_t fallback) {
  Value v = args.get(position, name);
  if (v.is_undefined() || v.is_none()) return fallback;
  if (v.kind == Kind::Int) return v.integer;
  if (v.kind == Kind::Bool) return v.boolean;
  throw Error("chat template error: argument '" + std::string(name) + "' must be an integer");
}

bool bool_arg(const CallArgs& args, size_t position, std::string_view name, bool fallback) {
  Value v = args.get(position, name);
  return v.is_undefined() ? fallback : v.truthy();
}

// jinja2's make_attrgetter: "a.b.0" looks up item-then-attribute per dotted part.
Value attribute_of(Interpreter& in, const Value& item, const std::string& path) {
  Value current = item;
  for (const auto& part : text::split(path, std::string("."), -1)) {
    Value key = Value::from_string(part);
    if (!part.empty() && std::all_of(part.begin(), part.end(), ::isdigit)) key = Value::from_int(std::atoll(part.c_str()));
    current = in.get_item(current, key);
  }
  return current;
}

// Sort / unique key: lower-cased strings unless case-sensitive.
Value sort_key(const Value& v, bool case_sensitive) {
  if (!case_sensitive && v.is_string()) return Value::from_string(text::lower(v.text));
  return v;
}

Value python_int(const Value& v, const Value& fallback) {
  switch (v.kind) {
    case Kind::Int: return v;
    case Kind::Bool: return Value::from_int(v.boolean);
    case Kind::Float:
      if (!std::isfinite(v.number) || std::fabs(v.number) > 9.2e18) return fallback;
      return Value::from_int(static_cast<int64_t>(v.number));
    case Kind::String: {
      std::string s = text::strip(v.text, std::nullopt, true, true);
      s.erase(std::remove(s.begin(), s.end(), '_'), s.end());
      if (s.empty()) return fallback;
      char* end = nullptr;
      errno = 0;
      const long long parsed = std::strtoll(s.c_str(), &end, 10);
      if (end && *end == '\0' && errno == 0) return Value::from_int(parsed);
      const double d = std::strtod(s.c_str(), &end);
      if (end && *end == '\0' && std::isfinite(d) && std::fabs(d) < 9.2e18) return Value::from_int(static_cast<int64_t>(d));
      return fallback;
    }
    default: return fallback;
  }
}

Value python_float(const Value& v, const Value& fallback) {
  if (v.is_number()) return Value::from_float(v.as_double());
  if (v.is_string()) {
    const std::string s = text::strip(v.text, std::nullopt, true, true);
    char* end = nullptr;
    const double d = std::strtod(s.c_str(), &end);
    if (!s.empty() && end && *end == '\0') return Value::from_float(d);
  }
  return fallback;
}

List select_items(Interpreter& in, const Value& input, CallArgs& args, bool by_attribute, bool keep_matching,
                  Location at) {
  List out;
  size_t next = 0;
  std::string attribute;
  if (by_attribute) {
    if (args.positional.empty()) fail_at(at, "selectattr/rejectattr need an attribute name");
    attribute = to_str(args.positional[next++]);
  }
  std::string test_name;
  if (next < args.positional.size()) test_name = to_str(args.positional[next++]);
  CallArgs test_args;
  test_args.positional.assign(args.positional.begin() + static_cast<long>(next), args.positional.end());
  test_args.keyword = args.keyword;
  for (const Value& item : in.iterate(input)) {
    in.step();
    const Value subject = by_attribute ? attribute_of(in, item, attribute) : item;
    const bool passed = test_name.empty() ? subject.truthy() : apply_test(in, test_name, subject, test_args, at);
    if (passed == keep_matching) out.push_back(item);
  }
  return out;
}

std::string indent_text(const std::string& s, const Value& width, bool first, bool blank) {
  const std::string indention = width.is_string() ? width.text : std::string(static_cast<size_t>(std::max<int64_t>(0, width.integer)), ' ');
  auto lines = text::split_lines(s + "\n");
  std::string out;
  if (blank) {
    for (size_t k = 0; k < lines.size(); ++k) out += (k ? "\n" + indention : "") + lines[k];
  } else {
    out = lines.empty() ? "" : lines[0];
    for (size_t k = 1; k < lines.size(); ++k) out += "\n" + (lines[k].empty() ? "" : indention + lines[k]);
  }
  return first ? indention + out : out;
}

}  // namespace

Value apply_filter(Interpreter& in, const std::string& name, const Value& input, CallArgs& args, Location at) {
  auto need_string = [&]() -> const std::string& {
    if (input.is_undefined()) { static const std::string empty; return empty; }
    if (!input.is_string()) fail_at(at, "filter '" + name + "' expects a string, got " + input.type_name());
    return input.text;
  };
  if (name == "safe") return input;
  if (name == "string") return Value::from_string(to_str(input));
  if (name == "trim") {
    Value chars = args.get(0, "chars");
    return Value::from_string(text::strip(to_str(input), chars.is_string() ? std::optional<std::string>(chars.text) : std::nullopt, true, true));
  }
  if (name == "upper") return Value::from_string(text::upper(to_str(input)));
  if (name == "lower") return Value::from_string(text::lower(to_str(input)));
  if (name == "capitalize") return Value::from_string(text::capitalize(to_str(input)));
  if (name == "title") return Value::from_string(text::jinja_title(to_str(input)));
  if (name == "e" || name == "escape") return Value::from_string(text::html_escape(to_str(input)));
  if (name == "replace") {
    const std::string& s = need_string();
    return Value::from_string(text::replace(s, str_arg(args, 0, "old", ""), str_arg(args, 1, "new", ""),
                                            int_arg(args, 2, "count", -1)));
  }
  if (name == "length" || name == "count") {
    switch (input.kind) {
      case Kind::Undefined: return Value::from_int(0);
      case Kind::String: return Value::from_int(static_cast<int64_t>(utf8_length(input.text)));
      case Kind::List: return Value::from_int(static_cast<int64_t>(input.list->size()));
      case Kind::Dict:
        if (!input.dict->is_namespace) return Value::from_int(static_cast<int64_t>(input.dict->items.size()));
        [[fallthrough]];
      default: fail_at(at, "object of type '" + input.type_name() + "' has no len()");
    }
  }
  if (name == "default" || name == "d") {
    const bool use_default = input.is_undefined() || (bool_arg(args, 1, "boolean", false) && !input.truthy());
    if (!use_default) return input;
    Value fallback = args.get(0, "default_value");
    return fallback.is_undefined() && !args.has(0, "default_value") ? Value::from_string("") : fallback;
  }
  if (name == "first" || name == "last") {
    List items = in.iterate(input);
    if (items.empty()) return Value::undefined("No " + name + " item, sequence was empty.");
    return name == "first" ? items.front() : items.back();
  }
  if (name == "list") return Value::from_list(in.iterate(input));
  if (name == "reverse") {
    if (input.is_string()) {
      auto points = utf8_code_points(input.text);
      std::string out;
      for (auto it = points.rbegin(); it != points.rend(); ++it) out += *it;
      return Value::from_string(std::move(out));
    }
    List items = in.iterate(input);
    std::reverse(items.begin(), items.end());
    return Value::from_list(std::move(items));
  }
  if (name == "join") {
    const std::string separator = str_arg(args, 0, "d", "");
    Value attribute = args.get(1, "attribute");
    std::string out;
    bool first = true;
    for (const Value& item : in.iterate(input)) {
      in.step();
      if (!first) out += separator;
      first = false;
      out += to_str(attribute.is_undefined() || attribute.is_none() ? item : attribute_of(in, item, to_str(attribute)));
      if (out.size() > in.options().max_output_bytes) fail_at(at, "joined string too long");
    }
    return Value::from_string(std::move(out));
  }
  if (name == "tojson") {
    Value ensure_ascii = args.get(0, "ensure_ascii");
    if (ensure_ascii.truthy()) fail_at(at, "unsupported construct: tojson(ensure_ascii=True)");
    Value indent = args.get(1, "indent");
    Value separators = args.get(2, "separators");
    std::string item_sep, key_sep;
    if (separators.is_list() && separators.list->size() == 2) {
      item_sep = to_str((*separators.list)[0]);
      key_sep = to_str((*separators.list)[1]);
    }
    int indent_width = -1;
    if (indent.kind == Kind::Int) indent_width = static_cast<int>(std::clamp<int64_t>(indent.integer, 0, 64));
    return Value::from_string(to_json(input, indent_width, bool_arg(args, 3, "sort_keys", false), item_sep, key_sep));
  }
  if (name == "int") {
    Value fallback = args.get(0, "default");
    return python_int(input, fallback.is_undefined() ? Value::from_int(0) : fallback);
  }
  if (name == "float") {
    Value fallback = args.get(0, "default");
    return python_float(input, fallback.is_undefined() ? Value::from_float(0.0) : fallback);
  }
  if (name == "abs") {
    if (input.kind == Kind::Float) return Value::from_float(std::fabs(input.number));
    if (input.kind == Kind::Int || input.kind == Kind::Bool) {
      const int64_t v = input.kind == Kind::Bool ? input.boolean : input.integer;
      if (v == INT64_MIN) fail_at(at, "integer overflow");
      return Value::from_int(v < 0 ? -v : v);
    }
    fail_at(at, "bad operand type for abs(): '" + input.type_name() + "'");
  }
  if (name == "round") {
    const int64_t precision = int_arg(args, 0, "precision", 0);
    const std::string method = str_arg(args, 1, "method", "common");
    const double scale = std::pow(10.0, static_cast<double>(precision));
    const double x = input.as_double() * scale;
    const double r = method == "ceil" ? std::ceil(x) : method == "floor" ? std::floor(x) : std::nearbyint(x);
    return Value::from_float(r / scale);
  }
  if (name == "items") {
    if (input.is_undefined()) return Value::from_list({});
    if (!input.is_mapping()) fail_at(at, "Can only get item pairs from a mapping.");
    List pairs;
    for (const auto& [key, value] : input.dict->items)
      pairs.push_back(Value::from_list({Value::from_string(key), value}, true));
    return Value::from_list(std::move(pairs));
  }
  if (name == "dictsort") {
    if (!input.is_mapping()) fail_at(at, "dictsort expects a mapping");
    const bool case_sensitive = bool_arg(args, 0, "case_sensitive", false);
    const bool by_value = str_arg(args, 1, "by", "key") == "value";
    List pairs;
    for (const auto& [key, value] : input.dict->items)
      pairs.push_back(Value::from_list({Value::from_string(key), value}, true));
    std::stable_sort(pairs.begin(), pairs.end(), [&](const Value& a, const Value& b) {
      return compare_values(sort_key((*a.list)[by_value], case_sensitive), sort_key((*b.list)[by_value], case_sensitive)) < 0;
    });
    if (bool_arg(args, 2, "reverse", false)) std::reverse(pairs.begin(), pairs.end());
    return Value::from_list(std::move(pairs));
  }
  if (name == "sort" || name == "unique" || name == "min" || name == "max") {
    const bool sorting = name == "sort";
    const bool case_sensitive = bool_arg(args, sorting ? 1 : 0, "case_sensitive", false);
    Value attribute = args.get(sorting ? 2 : 1, "attribute");
    List items = in.iterate(input);
    in.step(items.size());
    auto key_of = [&](const Value& item) {
      return sort_key(attribute.is_undefined() || attribute.is_none() ? item : attribute_of(in, item, to_str(attribute)), case_sensitive);
    };
    if (name == "unique") {
      List out, seen;
      for (const Value& item : items) {
        Value key = key_of(item);
        bool dup = false;
        for (const Value& s : seen) dup = dup || values_equal(s, key);
        if (!dup) {
          seen.push_back(key);
          out.push_back(item);
        }
      }
      return Value::from_list(std::move(out));
    }
    if (!sorting) {
      if (items.empty()) return Value::undefined("No aggregated item, sequence was empty.");
      size_t best = 0;
      for (size_t k = 1; k < items.size(); ++k) {
        const int c = compare_values(key_of(items[k]), key_of(items[best]));
        if (name == "min" ? c < 0 : c > 0) best = k;
      }
      return items[best];
    }
    const bool reverse = bool_arg(args, 0, "reverse", false);
    std::stable_sort(items.begin(), items.end(), [&](const Value& a, const Value& b) {
      return reverse ? compare_values(key_of(b), key_of(a)) < 0 : compare_values(key_of(a), key_of(b)) < 0;
    });
    return Value::from_list(std::move(items));
  }
  if (name == "sum") {
    Value attribute = args.get(0, "attribute");
    Value total = args.get(1, "start");
    if (total.is_undefined()) total = Value::from_int(0);
    for (const Value& item : in.iterate(input)) {
      const Value v = attribute.is_undefined() || attribute.is_none() ? item : attribute_of(in, item, to_str(attribute));
      if (!v.is_number() || !total.is_number()) fail_at(at, "sum expects numbers");
      if (v.kind == Kind::Float || total.kind == Kind::Float) total = Value::from_float(total.as_double() + v.as_double());
      else if (__builtin_add_overflow(total.kind == Kind::Bool ? int64_t{total.boolean} : total.integer,
                                      v.kind == Kind::Bool ? int64_t{v.boolean} : v.integer, &total.integer))
        fail_at(at, "integer overflow");
      else total.kind = Kind::Int;
    }
    return total;
  }
  if (name == "map") {
    List out;
    Value attribute = args.get(99, "attribute");
    if (!attribute.is_undefined()) {
      Value fallback = args.get(99, "default");
      for (const Value& item : in.iterate(input)) {
        in.step();
        Value v = attribute_of(in, item, to_str(attribute));
        out.push_back(v.is_undefined() && !fallback.is_undefined() ? fallback : v);
      }
      return Value::from_list(std::move(out));
    }
    if (args.positional.empty()) fail_at(at, "map needs a filter name or attribute=");
    const std::string filter_name = to_str(args.positional[0]);
    CallArgs rest;
    rest.positional.assign(args.positional.begin() + 1, args.positional.end());
    rest.keyword = args.keyword;
    for (const Value& item : in.iterate(input)) {
      in.step();
      out.push_back(apply_filter(in, filter_name, item, rest, at));
    }
    return Value::from_list(std::move(out));
  }
  if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
    const bool by_attribute = name.size() > 6;
    const bool keep = name[0] == 's';
    return Value::from_list(select_items(in, input, args, by_attribute, keep, at));
  }
  if (name == "attr") return in.get_attr(input, str_arg(args, 0, "name", ""));
  if (name == "indent") {
    Value width = args.get(0, "width");
    if (width.is_undefined()) width = Value::from_int(4);
    return Value::from_string(indent_text(to_str(input), width, bool_arg(args, 1, "first", false), bool_arg(args, 2, "blank", false)));
  }
  if (name == "wordcount") {
    int64_t words = 0;
    bool in_word = false;
    for (unsigned char c : to_str(input)) {
      const bool word_char = std::isalnum(c) || c == '_' || c >= 0x80;
      if (word_char && !in_word) ++words;
      in_word = word_char;
    }
    return Value::from_int(words);
  }
  fail_at(at, "unsupported construct: filter '" + name + "'");
}

}  // namespace tokenmill::jinja
