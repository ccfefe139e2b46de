// jinja2's tests ({{ x is defined }}, {{ x is string }}, ...). Python quirks kept on purpose:
// bool counts as a number, and Undefined counts as iterable and as a sequence.
#include "core/error.h"
#include "jinja/interpreter.h"

namespace tokenmill::jinja {
namespace {

bool is_filter_name(const std::string& name) {
  static const char* const kFilters[] = {"safe", "string", "trim", "upper", "lower", "capitalize", "title", "e",
                                         "escape", "replace", "length", "count", "default", "d", "first", "last",
                                         "list", "reverse", "join", "tojson", "int", "float", "abs", "round",
                                         "items", "dictsort", "sort", "unique", "min", "max", "sum", "map",
                                         "select", "reject", "selectattr", "rejectattr", "attr", "indent",
                                         "wordcount"};
  for (const char* f : kFilters)
    if (name == f) return true;
  return false;
}

bool is_test_name(const std::string& name);

Value only_arg(const CallArgs& args, const std::string& test, Location at) {
  if (args.positional.empty()) fail_at(at, "test '" + test + "' needs an argument");
  return args.positional[0];
}

}  // namespace

bool apply_test(Interpreter& in, const std::string& name, const Value& v, CallArgs& args, Location at) {
  if (name == "defined") return !v.is_undefined();
  if (name == "undefined") return v.is_undefined();
  if (name == "none") return v.is_none();
  if (name == "boolean") return v.kind == Kind::Bool;
  if (name == "true") return v.kind == Kind::Bool && v.boolean;
  if (name == "false") return v.kind == Kind::Bool && !v.boolean;
  if (name == "integer") return v.kind == Kind::Int;
  if (name == "float") return v.kind == Kind::Float;
  if (name == "number") return v.is_number();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_mapping();
  if (name == "iterable") return v.is_undefined() || v.is_string() || v.is_list() || v.is_mapping();
  if (name == "sequence") return v.is_undefined() || v.is_string() || v.is_list() || v.is_mapping();
  if (name == "callable") return v.kind == Kind::Callable || v.is_undefined();
  if (name == "escaped") return false;
  if (name == "lower" || name == "upper") {
    const std::string s = to_str(v);
    bool has_cased = false, all_match = true;
    for (char c : s) {
      const bool lower = c >= 'a' && c <= 'z', upper = c >= 'A' && c <= 'Z';
      has_cased = has_cased || lower || upper;
      if ((name == "lower" && upper) || (name == "upper" && lower)) all_match = false;
    }
    return has_cased && all_match;
  }
  if (name == "eq" || name == "equalto" || name == "==") return values_equal(v, only_arg(args, name, at));
  if (name == "ne" || name == "!=") return !values_equal(v, only_arg(args, name, at));
  if (name == "sameas") {
    const Value other = only_arg(args, name, at);
    if (v.kind != other.kind) return false;
    if (v.is_list()) return v.list == other.list;
    if (v.is_dict()) return v.dict == other.dict;
    return values_equal(v, other);
  }
  if (name == "lt" || name == "lessthan" || name == "<") return compare_values(v, only_arg(args, name, at)) < 0;
  if (name == "le" || name == "<=") return compare_values(v, only_arg(args, name, at)) <= 0;
  if (name == "gt" || name == "greaterthan" || name == ">") return compare_values(v, only_arg(args, name, at)) > 0;
  if (name == "ge" || name == ">=") return compare_values(v, only_arg(args, name, at)) >= 0;
  if (name == "in") {
    const Value seq = only_arg(args, name, at);
    if (seq.is_string()) return v.is_string() && seq.text.find(v.text) != std::string::npos;
    if (seq.is_mapping()) return v.is_string() && seq.dict->find(v.text);
    for (const Value& item : in.iterate(seq))
      if (values_equal(item, v)) return true;
    return false;
  }
  if (name == "even" || name == "odd" || name == "divisibleby") {
    if (v.kind != Kind::Int && v.kind != Kind::Bool) fail_at(at, "test '" + name + "' expects an integer");
    const int64_t x = v.kind == Kind::Bool ? v.boolean : v.integer;
    if (name == "even") return x % 2 == 0;
    if (name == "odd") return x % 2 != 0;
    const Value d = only_arg(args, name, at);
    if (d.kind != Kind::Int || d.integer == 0) fail_at(at, "divisibleby expects a non-zero integer");
    return x % d.integer == 0;
  }
  if (name == "filter") return is_filter_name(to_str(v));
  if (name == "test") return is_test_name(to_str(v));
  fail_at(at, "unsupported construct: test '" + name + "'");
}

namespace {
bool is_test_name(const std::string& name) {
  static const char* const kTests[] = {"defined", "undefined", "none", "boolean", "true", "false", "integer",
                                       "float", "number", "string", "mapping", "iterable", "sequence",
                                       "callable", "escaped", "lower", "upper", "eq", "equalto", "==", "ne",
                                       "!=", "sameas", "lt", "lessthan", "<", "le", "<=", "gt",
                                       "greaterthan", ">", "ge", ">=", "in", "even", "odd", "divisibleby",
                                       "filter", "test"};
  for (const char* t : kTests)
    if (name == t) return true;
  return false;
}
}  // namespace

}  // namespace tokenmill::jinja
