#include "jinja/value.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>

#include "core/error.h"

namespace tokenmill::jinja {
namespace {

// Values can nest (and a namespace can even contain itself); printing, JSON and equality stop
// at this depth instead of overflowing the stack.
constexpr int kMaxValueDepth = 256;

void check_depth(int depth) {
  if (depth > kMaxValueDepth) throw Error("chat template: value nested too deeply");
}

void repr_string(const std::string& s, std::string& out) {
  const bool has_single = s.find('\'') != std::string::npos;
  const bool has_double = s.find('"') != std::string::npos;
  const char quote = (has_single && !has_double) ? '"' : '\'';
  out += quote;
  for (unsigned char c : s) {
    if (c == quote || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  out += quote;
}

void repr_into(const Value& v, std::string& out, int depth);

void str_into(const Value& v, std::string& out, int depth) {
  switch (v.kind) {
    case Kind::Undefined: return;
    case Kind::String: out += v.text; return;
    default: repr_into(v, out, depth);
  }
}

void repr_into(const Value& v, std::string& out, int depth) {
  check_depth(depth);
  switch (v.kind) {
    case Kind::Undefined: return;
    case Kind::None: out += "None"; return;
    case Kind::Bool: out += v.boolean ? "True" : "False"; return;
    case Kind::Int: out += std::to_string(v.integer); return;
    case Kind::Float: out += format_float(v.number); return;
    case Kind::String: repr_string(v.text, out); return;
    case Kind::List: {
      out += v.is_tuple ? '(' : '[';
      for (size_t i = 0; i < v.list->size(); ++i) {
        if (i) out += ", ";
        repr_into((*v.list)[i], out, depth + 1);
      }
      if (v.is_tuple && v.list->size() == 1) out += ',';
      out += v.is_tuple ? ')' : ']';
      return;
    }
    case Kind::Dict: {
      if (v.dict->is_namespace) out += "<Namespace ";
      out += '{';
      bool first = true;
      for (const auto& [key, item] : v.dict->items) {
        if (!first) out += ", ";
        first = false;
        repr_string(key, out);
        out += ": ";
        repr_into(item, out, depth + 1);
      }
      out += '}';
      if (v.dict->is_namespace) out += '>';
      return;
    }
    case Kind::Callable: out += "<function " + v.callable->name + ">"; return;
  }
}

void json_string(const std::string& s, std::string& out) {
  out += '"';
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\b': out += "\\b"; break;
      case '\f': out += "\\f"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += '"';
}

struct JsonWriter {
  int indent;
  bool sort_keys;
  std::string item_sep;
  std::string key_sep;
  std::string out;

  void newline(int level) {
    out += '\n';
    out.append(static_cast<size_t>(indent) * level, ' ');
  }

  void write(const Value& v, int level) {
    check_depth(level);
    switch (v.kind) {
      case Kind::Undefined:
        throw Error("chat template: tojson: Object of type Undefined is not JSON serializable");
      case Kind::None: out += "null"; return;
      case Kind::Bool: out += v.boolean ? "true" : "false"; return;
      case Kind::Int: out += std::to_string(v.integer); return;
      case Kind::Float:
        if (std::isnan(v.number)) out += "NaN";
        else if (std::isinf(v.number)) out += v.number > 0 ? "Infinity" : "-Infinity";
        else out += format_float(v.number);
        return;
      case Kind::String: json_string(v.text, out); return;
      case Kind::List: {
        if (v.list->empty()) { out += "[]"; return; }
        out += '[';
        for (size_t i = 0; i < v.list->size(); ++i) {
          if (i) out += item_sep;
          if (indent >= 0) newline(level + 1);
          write((*v.list)[i], level + 1);
        }
        if (indent >= 0) newline(level);
        out += ']';
        return;
      }
      case Kind::Dict: {
        if (v.dict->is_namespace)
          throw Error("chat template: tojson: Object of type Namespace is not JSON serializable");
        if (v.dict->items.empty()) { out += "{}"; return; }
        std::vector<const std::pair<std::string, Value>*> entries;
        for (const auto& entry : v.dict->items) entries.push_back(&entry);
        if (sort_keys)
          std::stable_sort(entries.begin(), entries.end(),
                           [](auto* a, auto* b) { return a->first < b->first; });
        out += '{';
        for (size_t i = 0; i < entries.size(); ++i) {
          if (i) out += item_sep;
          if (indent >= 0) newline(level + 1);
          json_string(entries[i]->first, out);
          out += key_sep;
          write(entries[i]->second, level + 1);
        }
        if (indent >= 0) newline(level);
        out += '}';
        return;
      }
      case Kind::Callable:
        throw Error("chat template: tojson: Object of type function is not JSON serializable");
    }
  }
};

bool equal_at(const Value& a, const Value& b, int depth) {
  check_depth(depth);
  if (a.is_number() && b.is_number()) {
    if (a.kind == Kind::Float || b.kind == Kind::Float) return a.as_double() == b.as_double();
    const int64_t x = a.kind == Kind::Bool ? a.boolean : a.integer;
    const int64_t y = b.kind == Kind::Bool ? b.boolean : b.integer;
    return x == y;
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Kind::Undefined:
    case Kind::None: return true;
    case Kind::String: return a.text == b.text;
    case Kind::List:
      if (a.is_tuple != b.is_tuple || a.list->size() != b.list->size()) return false;
      for (size_t i = 0; i < a.list->size(); ++i)
        if (!equal_at((*a.list)[i], (*b.list)[i], depth + 1)) return false;
      return true;
    case Kind::Dict:
      if (a.dict->is_namespace || b.dict->is_namespace) return a.dict == b.dict;
      if (a.dict->items.size() != b.dict->items.size()) return false;
      for (const auto& [key, item] : a.dict->items) {
        const Value* other = b.dict->find(key);
        if (!other || !equal_at(item, *other, depth + 1)) return false;
      }
      return true;
    case Kind::Callable: return a.callable == b.callable;
    default: return false;
  }
}

}  // namespace

const Value* Dict::find(std::string_view key) const {
  for (const auto& entry : items)
    if (entry.first == key) return &entry.second;
  return nullptr;
}

Value* Dict::find(std::string_view key) {
  for (auto& entry : items)
    if (entry.first == key) return &entry.second;
  return nullptr;
}

void Dict::set(const std::string& key, Value value) {
  if (Value* existing = find(key)) {
    *existing = std::move(value);
  } else {
    items.emplace_back(key, std::move(value));
  }
}

Value Value::undefined(std::string name) {
  Value v;
  v.text = std::move(name);
  return v;
}
Value Value::none() {
  Value v;
  v.kind = Kind::None;
  return v;
}
Value Value::from_bool(bool b) {
  Value v;
  v.kind = Kind::Bool;
  v.boolean = b;
  return v;
}
Value Value::from_int(int64_t i) {
  Value v;
  v.kind = Kind::Int;
  v.integer = i;
  return v;
}
Value Value::from_float(double d) {
  Value v;
  v.kind = Kind::Float;
  v.number = d;
  return v;
}
Value Value::from_string(std::string s) {
  Value v;
  v.kind = Kind::String;
  v.text = std::move(s);
  return v;
}
Value Value::from_list(List items, bool tuple) {
  Value v;
  v.kind = Kind::List;
  v.is_tuple = tuple;
  v.list = std::make_shared<List>(std::move(items));
  return v;
}
Value Value::new_dict() {
  Value v;
  v.kind = Kind::Dict;
  v.dict = std::make_shared<Dict>();
  return v;
}
Value Value::from_callable(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn) {
  Value v;
  v.kind = Kind::Callable;
  v.callable = std::make_shared<const Callable>(Callable{std::move(name), std::move(fn)});
  return v;
}

bool Value::truthy() const {
  switch (kind) {
    case Kind::Undefined:
    case Kind::None: return false;
    case Kind::Bool: return boolean;
    case Kind::Int: return integer != 0;
    case Kind::Float: return number != 0.0;
    case Kind::String: return !text.empty();
    case Kind::List: return !list->empty();
    case Kind::Dict: return dict->is_namespace || !dict->items.empty();
    case Kind::Callable: return true;
  }
  return false;
}

double Value::as_double() const {
  switch (kind) {
    case Kind::Bool: return boolean ? 1.0 : 0.0;
    case Kind::Int: return static_cast<double>(integer);
    case Kind::Float: return number;
    default: throw Error("chat template: expected a number, got " + type_name());
  }
}

std::string Value::type_name() const {
  switch (kind) {
    case Kind::Undefined: return "Undefined";
    case Kind::None: return "NoneType";
    case Kind::Bool: return "bool";
    case Kind::Int: return "int";
    case Kind::Float: return "float";
    case Kind::String: return "str";
    case Kind::List: return is_tuple ? "tuple" : "list";
    case Kind::Dict: return dict->is_namespace ? "Namespace" : "dict";
    case Kind::Callable: return "function";
  }
  return "object";
}

Value CallArgs::get(size_t position, std::string_view name, Value fallback) const {
  const bool by_position = position < positional.size();
  for (const auto& [key, value] : keyword) {
    if (key == name) {
      if (by_position)
        throw Error("chat template: got multiple values for argument '" + std::string(name) + "'");
      return value;
    }
  }
  return by_position ? positional[position] : fallback;
}

bool CallArgs::has(size_t position, std::string_view name) const {
  if (position < positional.size()) return true;
  for (const auto& entry : keyword)
    if (entry.first == name) return true;
  return false;
}

std::string to_str(const Value& v) {
  std::string out;
  str_into(v, out, 0);
  return out;
}

std::string to_repr(const Value& v) {
  std::string out;
  repr_into(v, out, 0);
  return out;
}

std::string to_json(const Value& v, int indent, bool sort_keys, std::string item_sep,
                    std::string key_sep) {
  JsonWriter writer{indent, sort_keys, std::move(item_sep), std::move(key_sep), {}};
  if (writer.item_sep.empty()) writer.item_sep = indent >= 0 ? "," : ", ";
  if (writer.key_sep.empty()) writer.key_sep = ": ";
  writer.write(v, 0);
  return std::move(writer.out);
}

std::string format_float(double d) {
  if (std::isnan(d)) return "nan";
  if (std::isinf(d)) return d > 0 ? "inf" : "-inf";
  if (d == 0.0) return std::signbit(d) ? "-0.0" : "0.0";
  // Shortest round-trip digits in scientific form, then laid out the way Python's repr does:
  // positional for 1e-4 <= |d| < 1e16, otherwise d.ddde+XX.
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::scientific);
  std::string sci(buf, end);
  const size_t e_pos = sci.find('e');
  std::string mantissa = sci.substr(0, e_pos);
  const int exponent = std::stoi(sci.substr(e_pos + 1));
  const bool negative = mantissa[0] == '-';
  if (negative) mantissa.erase(0, 1);
  std::string digits;
  for (char c : mantissa)
    if (c != '.') digits += c;
  std::string out = negative ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent < 0) {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exponent + 1) {
      out += digits + std::string(static_cast<size_t>(exponent + 1) - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, static_cast<size_t>(exponent) + 1) + "." +
             digits.substr(static_cast<size_t>(exponent) + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char exp_buf[16];
  std::snprintf(exp_buf, sizeof exp_buf, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
  return out + exp_buf;
}

bool values_equal(const Value& a, const Value& b) { return equal_at(a, b, 0); }

int compare_values(const Value& a, const Value& b) {
  if (a.is_number() && b.is_number()) {
    if (a.kind == Kind::Float || b.kind == Kind::Float) {
      const double x = a.as_double(), y = b.as_double();
      return x < y ? -1 : (y < x ? 1 : 0);
    }
    const int64_t x = a.kind == Kind::Bool ? a.boolean : a.integer;
    const int64_t y = b.kind == Kind::Bool ? b.boolean : b.integer;
    return x < y ? -1 : (y < x ? 1 : 0);
  }
  if (a.is_string() && b.is_string()) return a.text < b.text ? -1 : (b.text < a.text ? 1 : 0);
  if (a.is_list() && b.is_list()) {
    const size_t n = std::min(a.list->size(), b.list->size());
    for (size_t i = 0; i < n; ++i) {
      if (int c = compare_values((*a.list)[i], (*b.list)[i])) return c;
    }
    return a.list->size() < b.list->size() ? -1 : (a.list->size() > b.list->size() ? 1 : 0);
  }
  throw Error("chat template: '<' not supported between instances of '" + a.type_name() +
              "' and '" + b.type_name() + "'");
}

std::vector<std::string> utf8_code_points(std::string_view s) {
  std::vector<std::string> points;
  size_t i = 0;
  while (i < s.size()) {
    const unsigned char lead = static_cast<unsigned char>(s[i]);
    size_t len = lead < 0x80 ? 1 : (lead >> 5) == 0x6 ? 2 : (lead >> 4) == 0xe ? 3 : (lead >> 3) == 0x1e ? 4 : 1;
    len = std::min(len, s.size() - i);
    points.emplace_back(s.substr(i, len));
    i += len;
  }
  return points;
}

size_t utf8_length(std::string_view s) {
  size_t n = 0;
  for (unsigned char c : s)
    if ((c & 0xc0) != 0x80) ++n;
  return n;
}

}  // namespace tokenmill::jinja
