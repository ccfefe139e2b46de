// Syntax tree of a parsed template. Expressions and statements are plain tagged structs; the
// interpreter switches on `kind`.
#pragma once
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "jinja/value.h"

namespace tokenmill::jinja {

struct Location {
  int line = 0;
  int column = 0;
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind {
  Literal,    // literal
  Name,       // name
  ListLit,    // args = items
  TupleLit,   // args = items
  DictLit,    // args = key0, value0, key1, value1, ...
  Attr,       // args[0].name
  Item,       // args[0][args[1]]
  Slice,      // args[0][args[1]:args[2]:args[3]] (null parts allowed)
  Call,       // args[0](args[1..], kwargs)
  Filter,     // args[0] | name(args[1..], kwargs)
  Test,       // args[0] is [not] name(args[1..], kwargs)
  Unary,      // name in {"-", "+", "not"}; args[0]
  Binary,     // args[0] name args[1]; name is an operator, "and", "or", "in", "not in"
  Concat,     // args joined with ~
  Cond,       // args[1] if args[0] else args[2] (args[2] may be null)
};

struct Expr {
  ExprKind kind;
  Location loc;
  Value literal;
  std::string name;
  bool negated = false;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
};

struct Stmt;
using StmtPtr = std::unique_ptr<Stmt>;
using Body = std::vector<StmtPtr>;

enum class StmtKind {
  Text,        // text
  Print,       // {{ expr }}
  If,          // branches: (condition or null for else, body)
  For,         // for targets in expr [if condition] ... [else else_body]
  Set,         // set targets = expr | set targets[0].attr = expr
  SetBlock,    // set targets[0] %}body{% endset
  Macro,       // macro name(params = defaults) body
  CallBlock,   // call expr (a Call) with body as caller()
  Break,
  Continue,
  Generation,  // {% generation %}body{% endgeneration %} renders its body
};

struct Stmt {
  StmtKind kind;
  Location loc;
  std::string text;
  ExprPtr expr;
  ExprPtr condition;
  std::vector<std::string> targets;
  std::string attr;
  std::vector<std::pair<ExprPtr, Body>> branches;
  Body body;
  Body else_body;
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // one per param; null when required
};

}  // namespace tokenmill::jinja
