// Walks the syntax tree: statements write to an output string, expressions produce Values.
// Scoping follows jinja2: a for-loop iteration and a macro call get a fresh child scope, {% if %}
// does not; macros see the scope they were defined in.
#pragma once
#include <memory>
#include <string>
#include <unordered_map>

#include "jinja/ast.h"
#include "jinja/template.h"
#include "jinja/value.h"

namespace tokenmill::jinja {

struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
  const Value* lookup(const std::string& name) const;
};
using ScopePtr = std::shared_ptr<Scope>;

class Interpreter {
 public:
  explicit Interpreter(const RenderOptions& options) : options_(options) {}
  ~Interpreter();

  std::string render(const Body& body, const ScopePtr& root);

  Value eval(const Expr& e, const ScopePtr& scope);
  Value call(const Value& fn, CallArgs& args, Location at);
  Value get_attr(const Value& obj, const std::string& name);
  Value get_item(const Value& obj, const Value& key);
  // Elements of a for loop / filter input: list items, dict keys, string code points.
  List iterate(const Value& v);
  Value make_namespace();
  // Counts work against the step budget; throws Error when exhausted.
  void step(size_t n = 1);
  const RenderOptions& options() const { return options_; }

 private:
  enum class Flow { Normal, Break, Continue };

  Flow exec(const Body& body, const ScopePtr& scope, std::string& out);
  Flow exec_stmt(const Stmt& s, const ScopePtr& scope, std::string& out);
  Flow exec_for(const Stmt& s, const ScopePtr& scope, std::string& out);
  void exec_set(const Stmt& s, const ScopePtr& scope, Value value);
  Value make_macro(const Stmt& s, const ScopePtr& scope);
  Value eval_binary(const Expr& e, const ScopePtr& scope);
  Value eval_call(const Expr& e, const ScopePtr& scope);
  CallArgs eval_args(const Expr& e, const ScopePtr& scope, size_t first_arg);
  Value eval_slice(const Expr& e, const ScopePtr& scope);
  void append(std::string& out, const std::string& text);

  const RenderOptions& options_;
  size_t steps_ = 0;
  int call_depth_ = 0;
  std::vector<std::shared_ptr<Dict>> namespaces_;  // cleared at the end to break cycles
};

// Throws Error("chat template error at line L:C: message").
[[noreturn]] void fail_at(Location at, const std::string& message);

// Filters, tests, methods and globals (filters.cpp, tests.cpp, methods.cpp).
Value apply_filter(Interpreter& in, const std::string& name, const Value& input, CallArgs& args, Location at);
bool apply_test(Interpreter& in, const std::string& name, const Value& input, CallArgs& args, Location at);
// A bound method of a str / dict / list, or Undefined when the type has no such method.
Value get_method(const Value& obj, const std::string& name);
void install_globals(Scope& globals, const RenderOptions& options);

}  // namespace tokenmill::jinja
