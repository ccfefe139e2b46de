// Splits template source into text and tag tokens, applying jinja2's whitespace control exactly:
// "-" modifiers, and the trim_blocks / lstrip_blocks settings that Hugging Face renders chat
// templates with. Comments are dropped here; {% raw %} bodies come out as text.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace tokenmill::jinja {

struct LexerOptions {
  bool trim_blocks = false;    // drop the first newline after a block or comment tag
  bool lstrip_blocks = false;  // drop spaces/tabs before a block or comment tag on its line
};

enum class TokenType { Text, VarBegin, VarEnd, BlockBegin, BlockEnd, Name, String, Int, Float, Op, End };

struct Token {
  TokenType type;
  std::string value;  // text, name, operator, or the decoded string literal
  int64_t int_value = 0;
  double float_value = 0.0;
  int line = 1;
  int column = 1;
};

// Throws Error("line L:C: ...") on unterminated tags, strings or comments.
std::vector<Token> tokenize(const std::string& source, const LexerOptions& options);

}  // namespace tokenmill::jinja
