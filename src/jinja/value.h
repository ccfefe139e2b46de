// The runtime values of the template language. They model the Python objects a chat template
// sees under jinja2 (None, bool, int, float, str, list/tuple, dict, Namespace, callables, and
// jinja2's default Undefined), so that printing, truthiness, equality and tojson match Python.
#pragma once
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tokenmill::jinja {

class Interpreter;
struct Value;
struct CallArgs;

using List = std::vector<Value>;

// Insertion-ordered string-keyed map, like a Python dict built from JSON. Linear lookup: chat
// messages and tool schemas have a handful of keys.
struct Dict {
  std::vector<std::pair<std::string, Value>> items;
  bool is_namespace = false;  // jinja2 namespace(): attributes assignable with {% set ns.x %}
  const Value* find(std::string_view key) const;
  Value* find(std::string_view key);
  void set(const std::string& key, Value value);
};

struct Callable {
  std::string name;
  std::function<Value(Interpreter&, CallArgs&)> fn;
};

enum class Kind { Undefined, None, Bool, Int, Float, String, List, Dict, Callable };

struct Value {
  Kind kind = Kind::Undefined;
  bool boolean = false;
  bool is_tuple = false;  // lists built from (a, b) or dict.items(): printed with parentheses
  int64_t integer = 0;
  double number = 0.0;
  std::string text;  // String payload; for Undefined, the missing name (for error messages)
  std::shared_ptr<List> list;
  std::shared_ptr<Dict> dict;
  std::shared_ptr<const Callable> callable;

  static Value undefined(std::string name = {});
  static Value none();
  static Value from_bool(bool b);
  static Value from_int(int64_t i);
  static Value from_float(double d);
  static Value from_string(std::string s);
  static Value from_list(List items, bool tuple = false);
  static Value new_dict();
  static Value from_callable(std::string name, std::function<Value(Interpreter&, CallArgs&)> fn);

  bool is_undefined() const { return kind == Kind::Undefined; }
  bool is_none() const { return kind == Kind::None; }
  bool is_string() const { return kind == Kind::String; }
  bool is_number() const { return kind == Kind::Int || kind == Kind::Float || kind == Kind::Bool; }
  bool is_list() const { return kind == Kind::List; }
  bool is_dict() const { return kind == Kind::Dict; }
  bool is_mapping() const { return kind == Kind::Dict && !dict->is_namespace; }

  bool truthy() const;
  double as_double() const;  // for numeric kinds (bool counts as int, as in Python)
  std::string type_name() const;  // Python type name, for error messages
};

// Positional and keyword arguments of a call, as Python passes them.
struct CallArgs {
  std::vector<Value> positional;
  std::vector<std::pair<std::string, Value>> keyword;
  // Argument `name` at `position`, or `fallback` when absent. Throws Error when both given.
  Value get(size_t position, std::string_view name, Value fallback = Value::undefined()) const;
  bool has(size_t position, std::string_view name) const;
};

// Python str(x): what {{ x }} prints. Undefined prints as "".
std::string to_str(const Value& v);
// Python repr(x): how strings look inside a printed list or dict.
std::string to_repr(const Value& v);
// Python json.dumps(x, ensure_ascii=False, indent=indent, sort_keys=sort_keys); indent < 0 means
// None. item_sep/key_sep override the separators (empty keeps Python's defaults).
std::string to_json(const Value& v, int indent, bool sort_keys = false, std::string item_sep = {},
                    std::string key_sep = {});
// Python repr(float): shortest round-trip digits, "1.0", "1e+20".
std::string format_float(double d);

bool values_equal(const Value& a, const Value& b);
// Python ordering (<) for numbers, strings and lists; throws Error for other types.
int compare_values(const Value& a, const Value& b);

// Strings are UTF-8; Python indexes them by code point.
std::vector<std::string> utf8_code_points(std::string_view s);
size_t utf8_length(std::string_view s);

}  // namespace tokenmill::jinja
