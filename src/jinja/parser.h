// Recursive-descent parser from tokens to the syntax tree, following jinja2's grammar and
// operator precedence. Constructs chat templates never use ({% extends %}, {% include %}, ...)
// are rejected with an Error naming them.
#pragma once
#include <vector>

#include "jinja/ast.h"
#include "jinja/lexer.h"

namespace tokenmill::jinja {

// Throws Error("chat template syntax error at line L:C: ...").
Body parse_template(const std::vector<Token>& tokens);

}  // namespace tokenmill::jinja
