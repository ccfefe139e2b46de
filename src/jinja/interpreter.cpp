#include "jinja/interpreter.h"

#include <cmath>
#include <limits>

#include "core/error.h"

namespace tokenmill::jinja {
namespace {

std::string undefined_message(const Value& obj, const Value& key) {
  if (key.is_string()) return "'" + obj.type_name() + " object' has no attribute '" + key.text + "'";
  return "'" + obj.type_name() + " object' has no element " + to_repr(key);
}

[[noreturn]] void fail_undefined(const Value& v) {
  throw Error("chat template error: " + (v.text.empty() ? std::string("value is undefined") : v.text));
}

bool int_like(const Value& v) { return v.kind == Kind::Int || v.kind == Kind::Bool; }
int64_t int_of(const Value& v) { return v.kind == Kind::Bool ? v.boolean : v.integer; }

// Python index normalization for a[i]: negative counts from the end; nullopt when out of range.
bool normalize_index(int64_t index, size_t size, size_t& out) {
  const int64_t n = static_cast<int64_t>(size);
  if (index < 0) index += n;
  if (index < 0 || index >= n) return false;
  out = static_cast<size_t>(index);
  return true;
}

}  // namespace

void fail_at(Location at, const std::string& message) {
  throw Error("chat template error at line " + std::to_string(at.line) + ":" + std::to_string(at.column) +
              ": " + message);
}

const Value* Scope::lookup(const std::string& name) const {
  for (const Scope* s = this; s; s = s->parent.get()) {
    auto it = s->vars.find(name);
    if (it != s->vars.end()) return &it->second;
  }
  return nullptr;
}

Interpreter::~Interpreter() {
  for (auto& ns : namespaces_) ns->items.clear();
}

std::string Interpreter::render(const Body& body, const ScopePtr& root) {
  std::string out;
  exec(body, root, out);
  return out;
}

void Interpreter::step(size_t n) {
  steps_ += n;
  if (steps_ > options_.max_steps)
    throw Error("chat template error: rendering exceeded the work budget of " +
                std::to_string(options_.max_steps) + " steps");
}

void Interpreter::append(std::string& out, const std::string& text) {
  if (out.size() + text.size() > options_.max_output_bytes)
    throw Error("chat template error: output exceeds " + std::to_string(options_.max_output_bytes) + " bytes");
  out += text;
}

Value Interpreter::make_namespace() {
  Value v = Value::new_dict();
  v.dict->is_namespace = true;
  namespaces_.push_back(v.dict);
  return v;
}

Interpreter::Flow Interpreter::exec(const Body& body, const ScopePtr& scope, std::string& out) {
  for (const auto& s : body) {
    const Flow flow = exec_stmt(*s, scope, out);
    if (flow != Flow::Normal) return flow;
  }
  return Flow::Normal;
}

Interpreter::Flow Interpreter::exec_stmt(const Stmt& s, const ScopePtr& scope, std::string& out) {
  step();
  switch (s.kind) {
    case StmtKind::Text: append(out, s.text); return Flow::Normal;
    case StmtKind::Print: append(out, to_str(eval(*s.expr, scope))); return Flow::Normal;
    case StmtKind::If:
      for (const auto& [condition, body] : s.branches) {
        if (!condition || eval(*condition, scope).truthy()) return exec(body, scope, out);
      }
      return Flow::Normal;
    case StmtKind::For: return exec_for(s, scope, out);
    case StmtKind::Set: exec_set(s, scope, eval(*s.expr, scope)); return Flow::Normal;
    case StmtKind::SetBlock: {
      std::string captured;
      exec(s.body, scope, captured);
      scope->vars[s.targets[0]] = Value::from_string(std::move(captured));
      return Flow::Normal;
    }
    case StmtKind::Macro: scope->vars[s.name] = make_macro(s, scope); return Flow::Normal;
    case StmtKind::CallBlock: {
      const Stmt* block = &s;
      ScopePtr caller_scope = scope;
      Value caller = Value::from_callable("caller", [this, block, caller_scope](Interpreter&, CallArgs&) {
        auto inner = std::make_shared<Scope>();
        inner->parent = caller_scope;
        std::string text;
        exec(block->body, inner, text);
        return Value::from_string(std::move(text));
      });
      const Expr& call_expr = *s.expr;
      Value fn = eval(*call_expr.args[0], scope);
      CallArgs args = eval_args(call_expr, scope, 1);
      args.keyword.emplace_back("caller", caller);
      append(out, to_str(call(fn, args, s.loc)));
      return Flow::Normal;
    }
    case StmtKind::Break: return Flow::Break;
    case StmtKind::Continue: return Flow::Continue;
    case StmtKind::Generation: return exec(s.body, scope, out);
  }
  return Flow::Normal;
}

List Interpreter::iterate(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined: return {};
    case Kind::List: return *v.list;
    case Kind::Dict: {
      if (v.dict->is_namespace) throw Error("chat template error: 'Namespace' object is not iterable");
      List keys;
      for (const auto& entry : v.dict->items) keys.push_back(Value::from_string(entry.first));
      return keys;
    }
    case Kind::String: {
      List chars;
      for (auto& cp : utf8_code_points(v.text)) chars.push_back(Value::from_string(std::move(cp)));
      return chars;
    }
    default: throw Error("chat template error: '" + v.type_name() + "' object is not iterable");
  }
}

Interpreter::Flow Interpreter::exec_for(const Stmt& s, const ScopePtr& scope, std::string& out) {
  const List source = iterate(eval(*s.expr, scope));
  auto bind = [&](const ScopePtr& target_scope, const Value& item) {
    if (s.targets.size() == 1) {
      target_scope->vars[s.targets[0]] = item;
      return;
    }
    if (!item.is_list() || item.list->size() != s.targets.size())
      fail_at(s.loc, "cannot unpack " + item.type_name() + " into " + std::to_string(s.targets.size()) + " loop variables");
    for (size_t k = 0; k < s.targets.size(); ++k) target_scope->vars[s.targets[k]] = (*item.list)[k];
  };
  List items;
  if (s.condition) {
    for (const Value& item : source) {
      step();
      auto probe = std::make_shared<Scope>();
      probe->parent = scope;
      bind(probe, item);
      if (eval(*s.condition, probe).truthy()) items.push_back(item);
    }
  } else {
    items = source;
  }
  if (items.empty()) return exec(s.else_body, scope, out);
  const int64_t length = static_cast<int64_t>(items.size());
  for (int64_t i = 0; i < length; ++i) {
    step();
    auto iteration = std::make_shared<Scope>();
    iteration->parent = scope;
    bind(iteration, items[static_cast<size_t>(i)]);
    Value loop = Value::new_dict();
    Dict& d = *loop.dict;
    d.set("index", Value::from_int(i + 1));
    d.set("index0", Value::from_int(i));
    d.set("revindex", Value::from_int(length - i));
    d.set("revindex0", Value::from_int(length - i - 1));
    d.set("first", Value::from_bool(i == 0));
    d.set("last", Value::from_bool(i == length - 1));
    d.set("length", Value::from_int(length));
    d.set("depth", Value::from_int(1));
    d.set("depth0", Value::from_int(0));
    d.set("previtem", i > 0 ? items[static_cast<size_t>(i - 1)] : Value::undefined("there is no previous item"));
    d.set("nextitem", i + 1 < length ? items[static_cast<size_t>(i + 1)] : Value::undefined("there is no next item"));
    d.set("cycle", Value::from_callable("cycle", [i](Interpreter&, CallArgs& args) {
      if (args.positional.empty()) throw Error("chat template error: no items for cycling given");
      return args.positional[static_cast<size_t>(i) % args.positional.size()];
    }));
    iteration->vars["loop"] = loop;
    const Flow flow = exec(s.body, iteration, out);
    if (flow == Flow::Break) break;
  }
  return Flow::Normal;
}

void Interpreter::exec_set(const Stmt& s, const ScopePtr& scope, Value value) {
  if (!s.attr.empty()) {
    const Value* target = scope->lookup(s.targets[0]);
    if (!target || !target->is_dict() || !target->dict->is_namespace)
      fail_at(s.loc, "cannot assign attribute on non-namespace object");
    target->dict->set(s.attr, std::move(value));
    return;
  }
  if (s.targets.size() == 1) {
    scope->vars[s.targets[0]] = std::move(value);
    return;
  }
  if (!value.is_list() || value.list->size() != s.targets.size())
    fail_at(s.loc, "cannot unpack " + value.type_name() + " into " + std::to_string(s.targets.size()) + " names");
  for (size_t k = 0; k < s.targets.size(); ++k) scope->vars[s.targets[k]] = (*value.list)[k];
}

Value Interpreter::make_macro(const Stmt& s, const ScopePtr& scope) {
  const Stmt* macro = &s;
  // The macro keeps a pointer to its defining scope; that scope holds the macro, so break the
  // cycle by capturing weakly and relying on the render's root scope to stay alive.
  std::weak_ptr<Scope> weak_closure = scope;
  return Value::from_callable(s.name, [macro, weak_closure](Interpreter& in, CallArgs& args) {
    ScopePtr closure = weak_closure.lock();
    if (!closure) throw Error("chat template error: macro '" + macro->name + "' called after its scope ended");
    if (args.positional.size() > macro->params.size())
      throw Error("chat template error: macro '" + macro->name + "' takes not more than " +
                  std::to_string(macro->params.size()) + " argument(s)");
    if (++in.call_depth_ > in.options_.max_call_depth) {
      --in.call_depth_;
      throw Error("chat template error: macro calls nested deeper than " + std::to_string(in.options_.max_call_depth));
    }
    struct DepthRelease {
      int& depth;
      ~DepthRelease() { --depth; }
    } release{in.call_depth_};
    auto frame = std::make_shared<Scope>();
    frame->parent = closure;
    for (const auto& [key, value] : args.keyword) {
      bool known = key == "caller";
      for (const auto& param : macro->params) known = known || param == key;
      if (!known) throw Error("chat template error: macro '" + macro->name + "' takes no keyword argument '" + key + "'");
    }
    for (size_t k = 0; k < macro->params.size(); ++k) {
      const std::string& param = macro->params[k];
      if (args.has(k, param)) {
        frame->vars[param] = args.get(k, param);
      } else if (macro->defaults[k]) {
        frame->vars[param] = in.eval(*macro->defaults[k], frame);
      } else {
        frame->vars[param] = Value::undefined("'" + param + "' is undefined");
      }
    }
    for (const auto& [key, value] : args.keyword)
      if (key == "caller") frame->vars["caller"] = value;
    std::string text;
    in.exec(macro->body, frame, text);
    return Value::from_string(std::move(text));
  });
}

Value Interpreter::call(const Value& fn, CallArgs& args, Location at) {
  if (fn.is_undefined()) fail_at(at, fn.text.empty() ? "called an undefined value" : fn.text);
  if (fn.kind != Kind::Callable) fail_at(at, "'" + fn.type_name() + "' object is not callable");
  return fn.callable->fn(*this, args);
}

Value Interpreter::get_attr(const Value& obj, const std::string& name) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_dict()) {
    if (!obj.dict->is_namespace) {
      Value method = get_method(obj, name);
      if (!method.is_undefined()) return method;
    }
    if (const Value* found = obj.dict->find(name)) return *found;
    return Value::undefined(undefined_message(obj, Value::from_string(name)));
  }
  Value method = get_method(obj, name);
  if (!method.is_undefined()) return method;
  return Value::undefined(undefined_message(obj, Value::from_string(name)));
}

Value Interpreter::get_item(const Value& obj, const Value& key) {
  if (obj.is_undefined()) fail_undefined(obj);
  if (obj.is_dict() && key.is_string()) {
    if (const Value* found = obj.dict->find(key.text)) return *found;
    return get_attr(obj, key.text);
  }
  if ((obj.is_list() || obj.is_string()) && int_like(key)) {
    size_t index = 0;
    if (obj.is_list()) {
      if (normalize_index(int_of(key), obj.list->size(), index)) return (*obj.list)[index];
    } else {
      auto points = utf8_code_points(obj.text);
      if (normalize_index(int_of(key), points.size(), index)) return Value::from_string(points[index]);
    }
    return Value::undefined(undefined_message(obj, key));
  }
  if (key.is_string()) return get_attr(obj, key.text);
  return Value::undefined(undefined_message(obj, key));
}

Value Interpreter::eval_slice(const Expr& e, const ScopePtr& scope) {
  Value target = eval(*e.args[0], scope);
  if (target.is_undefined()) fail_undefined(target);
  int64_t bounds[3] = {0, 0, 1};
  bool given[3] = {false, false, false};
  for (int k = 0; k < 3; ++k) {
    if (!e.args[k + 1]) continue;
    Value part = eval(*e.args[k + 1], scope);
    if (part.is_none()) continue;
    if (!int_like(part)) fail_at(e.loc, "slice indices must be integers or None");
    bounds[k] = int_of(part);
    given[k] = true;
  }
  const int64_t step_by = bounds[2];
  if (step_by == 0) fail_at(e.loc, "slice step cannot be zero");
  std::vector<std::string> points;
  if (target.is_string()) points = utf8_code_points(target.text);
  else if (!target.is_list()) fail_at(e.loc, "'" + target.type_name() + "' object is not subscriptable");
  const int64_t n = static_cast<int64_t>(target.is_string() ? points.size() : target.list->size());
  // Python's PySlice_AdjustIndices.
  auto adjust = [&](int64_t v, bool is_given, int64_t fallback) {
    if (!is_given) return fallback;
    if (v < 0) {
      v += n;
      if (v < 0) v = step_by < 0 ? -1 : 0;
    } else if (v >= n) {
      v = step_by < 0 ? n - 1 : n;
    }
    return v;
  };
  const int64_t start = adjust(bounds[0], given[0], step_by < 0 ? n - 1 : 0);
  const int64_t stop = adjust(bounds[1], given[1], step_by < 0 ? -1 : n);
  std::string text;
  List items;
  for (int64_t i = start; step_by > 0 ? i < stop : i > stop; i += step_by) {
    if (target.is_string()) text += points[static_cast<size_t>(i)];
    else items.push_back((*target.list)[static_cast<size_t>(i)]);
  }
  if (target.is_string()) return Value::from_string(std::move(text));
  return Value::from_list(std::move(items), target.is_tuple);
}

CallArgs Interpreter::eval_args(const Expr& e, const ScopePtr& scope, size_t first_arg) {
  CallArgs args;
  for (size_t k = first_arg; k < e.args.size(); ++k) args.positional.push_back(eval(*e.args[k], scope));
  for (const auto& [key, value] : e.kwargs) args.keyword.emplace_back(key, eval(*value, scope));
  return args;
}

Value Interpreter::eval_call(const Expr& e, const ScopePtr& scope) {
  Value fn = eval(*e.args[0], scope);
  CallArgs args = eval_args(e, scope, 1);
  return call(fn, args, e.loc);
}

Value Interpreter::eval(const Expr& e, const ScopePtr& scope) {
  switch (e.kind) {
    case ExprKind::Literal: return e.literal;
    case ExprKind::Name: {
      if (const Value* v = scope->lookup(e.name)) return *v;
      return Value::undefined("'" + e.name + "' is undefined");
    }
    case ExprKind::ListLit:
    case ExprKind::TupleLit: {
      List items;
      for (const auto& item : e.args) items.push_back(eval(*item, scope));
      return Value::from_list(std::move(items), e.kind == ExprKind::TupleLit);
    }
    case ExprKind::DictLit: {
      Value dict = Value::new_dict();
      for (size_t k = 0; k + 1 < e.args.size(); k += 2) {
        Value key = eval(*e.args[k], scope);
        if (!key.is_string()) fail_at(e.loc, "only string keys are supported in dict literals");
        dict.dict->set(key.text, eval(*e.args[k + 1], scope));
      }
      return dict;
    }
    case ExprKind::Attr: return get_attr(eval(*e.args[0], scope), e.name);
    case ExprKind::Item: return get_item(eval(*e.args[0], scope), eval(*e.args[1], scope));
    case ExprKind::Slice: return eval_slice(e, scope);
    case ExprKind::Call: return eval_call(e, scope);
    case ExprKind::Filter: {
      Value input = eval(*e.args[0], scope);
      CallArgs args = eval_args(e, scope, 1);
      return apply_filter(*this, e.name, input, args, e.loc);
    }
    case ExprKind::Test: {
      Value input = eval(*e.args[0], scope);
      CallArgs args = eval_args(e, scope, 1);
      return Value::from_bool(apply_test(*this, e.name, input, args, e.loc) != e.negated);
    }
    case ExprKind::Unary: {
      Value operand = eval(*e.args[0], scope);
      if (e.name == "not") return Value::from_bool(!operand.truthy());
      if (!operand.is_number()) fail_at(e.loc, "bad operand type for unary " + e.name + ": '" + operand.type_name() + "'");
      if (e.name == "+") return operand.kind == Kind::Bool ? Value::from_int(operand.boolean) : operand;
      if (operand.kind == Kind::Float) return Value::from_float(-operand.number);
      if (int_of(operand) == std::numeric_limits<int64_t>::min()) fail_at(e.loc, "integer overflow");
      return Value::from_int(-int_of(operand));
    }
    case ExprKind::Binary: return eval_binary(e, scope);
    case ExprKind::Concat: {
      std::string text;
      for (const auto& part : e.args) {
        text += to_str(eval(*part, scope));
        if (text.size() > options_.max_output_bytes) fail_at(e.loc, "string too long");
      }
      return Value::from_string(std::move(text));
    }
    case ExprKind::Cond: {
      if (eval(*e.args[0], scope).truthy()) return eval(*e.args[1], scope);
      if (e.args[2]) return eval(*e.args[2], scope);
      return Value::undefined("the inline if-expression evaluated to false and no else section was defined");
    }
  }
  return Value::undefined();
}

}  // namespace tokenmill::jinja
