// Binary operators with Python semantics: int/float promotion, floor division and modulo that
// round toward negative infinity, str/list concatenation and repetition, membership tests.
#include <cmath>

#include "core/error.h"
#include "jinja/interpreter.h"

namespace tokenmill::jinja {
namespace {

bool int_like(const Value& v) { return v.kind == Kind::Int || v.kind == Kind::Bool; }
int64_t int_of(const Value& v) { return v.kind == Kind::Bool ? v.boolean : v.integer; }

[[noreturn]] void unsupported(const Expr& e, const Value& a, const Value& b) {
  fail_at(e.loc, "unsupported operand type(s) for " + e.name + ": '" + a.type_name() + "' and '" +
                     b.type_name() + "'");
}

Value repeat(const Expr& e, const Value& seq, int64_t times, size_t max_bytes) {
  if (times <= 0) return seq.is_string() ? Value::from_string("") : Value::from_list({}, seq.is_tuple);
  const size_t unit = seq.is_string() ? seq.text.size() : seq.list->size() * sizeof(Value);
  if (unit != 0 && static_cast<uint64_t>(times) > max_bytes / unit) fail_at(e.loc, "repetition result too large");
  if (seq.is_string()) {
    std::string text;
    for (int64_t k = 0; k < times; ++k) text += seq.text;
    return Value::from_string(std::move(text));
  }
  List items;
  for (int64_t k = 0; k < times; ++k) items.insert(items.end(), seq.list->begin(), seq.list->end());
  return Value::from_list(std::move(items), seq.is_tuple);
}

Value arithmetic(const Expr& e, const Value& a, const Value& b, size_t max_bytes) {
  const std::string& op = e.name;
  if (a.is_undefined()) throw Error("chat template error: " + (a.text.empty() ? std::string("value is undefined") : a.text));
  if (b.is_undefined()) throw Error("chat template error: " + (b.text.empty() ? std::string("value is undefined") : b.text));
  if (op == "+") {
    if (a.is_string() && b.is_string()) {
      if (a.text.size() + b.text.size() > max_bytes) fail_at(e.loc, "string too long");
      return Value::from_string(a.text + b.text);
    }
    if (a.is_list() && b.is_list() && a.is_tuple == b.is_tuple) {
      List items = *a.list;
      items.insert(items.end(), b.list->begin(), b.list->end());
      return Value::from_list(std::move(items), a.is_tuple);
    }
  }
  if (op == "*") {
    if ((a.is_string() || a.is_list()) && int_like(b)) return repeat(e, a, int_of(b), max_bytes);
    if ((b.is_string() || b.is_list()) && int_like(a)) return repeat(e, b, int_of(a), max_bytes);
  }
  if (!a.is_number() || !b.is_number()) unsupported(e, a, b);
  if (op == "/") {
    if (b.as_double() == 0.0) fail_at(e.loc, "division by zero");
    return Value::from_float(a.as_double() / b.as_double());
  }
  if (int_like(a) && int_like(b)) {
    const int64_t x = int_of(a), y = int_of(b);
    int64_t r = 0;
    bool overflow = false;
    if (op == "+") overflow = __builtin_add_overflow(x, y, &r);
    else if (op == "-") overflow = __builtin_sub_overflow(x, y, &r);
    else if (op == "*") overflow = __builtin_mul_overflow(x, y, &r);
    else if (op == "//" || op == "%") {
      if (y == 0) fail_at(e.loc, "integer division or modulo by zero");
      if (x == INT64_MIN && y == -1) fail_at(e.loc, "integer overflow");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      r = op == "//" ? q : m;
    } else if (op == "**") {
      if (y < 0) return Value::from_float(std::pow(static_cast<double>(x), static_cast<double>(y)));
      r = 1;
      for (int64_t k = 0; k < y && !overflow; ++k) overflow = __builtin_mul_overflow(r, x, &r);
    } else {
      unsupported(e, a, b);
    }
    if (overflow) fail_at(e.loc, "integer overflow");
    return Value::from_int(r);
  }
  const double x = a.as_double(), y = b.as_double();
  if (op == "+") return Value::from_float(x + y);
  if (op == "-") return Value::from_float(x - y);
  if (op == "*") return Value::from_float(x * y);
  if (op == "**") return Value::from_float(std::pow(x, y));
  if (op == "//" || op == "%") {
    if (y == 0.0) fail_at(e.loc, "float division by zero");
    double m = std::fmod(x, y);
    if (m != 0.0 && ((m < 0) != (y < 0))) m += y;
    if (op == "%") return Value::from_float(m);
    return Value::from_float(std::floor(x / y));
  }
  unsupported(e, a, b);
}

bool contains(const Expr& e, const Value& needle, const Value& haystack) {
  switch (haystack.kind) {
    case Kind::Undefined: return false;
    case Kind::String:
      if (!needle.is_string())
        fail_at(e.loc, "'in <string>' requires string as left operand, not " + needle.type_name());
      return haystack.text.find(needle.text) != std::string::npos;
    case Kind::List:
      for (const Value& item : *haystack.list)
        if (values_equal(item, needle)) return true;
      return false;
    case Kind::Dict:
      if (haystack.dict->is_namespace) break;
      return needle.is_string() && haystack.dict->find(needle.text) != nullptr;
    default: break;
  }
  fail_at(e.loc, "argument of type '" + haystack.type_name() + "' is not iterable");
}

}  // namespace

Value Interpreter::eval_binary(const Expr& e, const ScopePtr& scope) {
  const std::string& op = e.name;
  if (op == "and") {
    Value left = eval(*e.args[0], scope);
    return left.truthy() ? eval(*e.args[1], scope) : left;
  }
  if (op == "or") {
    Value left = eval(*e.args[0], scope);
    return left.truthy() ? left : eval(*e.args[1], scope);
  }
  const Value a = eval(*e.args[0], scope);
  const Value b = eval(*e.args[1], scope);
  if (op == "==") return Value::from_bool(values_equal(a, b));
  if (op == "!=") return Value::from_bool(!values_equal(a, b));
  if (op == "in") return Value::from_bool(contains(e, a, b));
  if (op == "not in") return Value::from_bool(!contains(e, a, b));
  if (op == "<" || op == ">" || op == "<=" || op == ">=") {
    if (a.is_undefined() || b.is_undefined())
      fail_at(e.loc, "'" + op + "' not supported with an undefined value");
    const int c = compare_values(a, b);
    if (op == "<") return Value::from_bool(c < 0);
    if (op == ">") return Value::from_bool(c > 0);
    if (op == "<=") return Value::from_bool(c <= 0);
    return Value::from_bool(c >= 0);
  }
  return arithmetic(e, a, b, options_.max_output_bytes);
}

}  // namespace tokenmill::jinja
