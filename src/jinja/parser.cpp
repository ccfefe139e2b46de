#include "jinja/parser.h"

#include <set>

#include "core/error.h"

namespace tokenmill::jinja {
namespace {

// Nesting bound for blocks and expressions, so hostile templates cannot exhaust the stack.
constexpr int kMaxParseDepth = 200;

class Parser {
 public:
  explicit Parser(const std::vector<Token>& tokens) : tokens_(tokens) {}

  Body parse_all() {
    std::string end;
    Body body = parse_body({}, end);
    return body;
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(Parser& p) : parser(p) {
      if (++parser.depth_ > kMaxParseDepth) parser.fail("template nested too deeply");
    }
    ~DepthGuard() { --parser.depth_; }
    Parser& parser;
  };

  const Token& cur() const { return tokens_[pos_]; }
  const Token& peek(size_t ahead = 1) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  Location loc() const { return Location{cur().line, cur().column}; }

  [[noreturn]] void fail(const std::string& message) const {
    throw Error("chat template syntax error at line " + std::to_string(cur().line) + ":" +
                std::to_string(cur().column) + ": " + message);
  }

  static std::string describe(const Token& t) {
    switch (t.type) {
      case TokenType::End: return "end of template";
      case TokenType::VarEnd: return "'}}'";
      case TokenType::BlockEnd: return "'%}'";
      case TokenType::Text: return "template text";
      default: return "'" + t.value + "'";
    }
  }

  bool is_op(const char* op) const { return cur().type == TokenType::Op && cur().value == op; }
  bool is_name(const char* name) const { return cur().type == TokenType::Name && cur().value == name; }

  void expect_op(const char* op) {
    if (!is_op(op)) fail(std::string("expected '") + op + "', got " + describe(cur()));
    ++pos_;
  }
  void expect(TokenType type, const char* what) {
    if (cur().type != type) fail(std::string("expected ") + what + ", got " + describe(cur()));
    ++pos_;
  }
  std::string expect_name() {
    if (cur().type != TokenType::Name) fail("expected a name, got " + describe(cur()));
    return tokens_[pos_++].value;
  }

  static ExprPtr make(ExprKind kind, Location at) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->loc = at;
    return e;
  }

  // ---- statements ----

  // Parses until a {% name %} with name in `ends`; leaves the position after that name.
  Body parse_body(const std::set<std::string>& ends, std::string& found_end) {
    DepthGuard guard(*this);
    Body body;
    for (;;) {
      const Token& t = cur();
      if (t.type == TokenType::End) {
        if (!ends.empty()) {
          std::string expected;
          for (const auto& end : ends) expected += (expected.empty() ? "{% " : ", {% ") + end + " %}";
          fail("unexpected end of template, expected " + expected);
        }
        return body;
      }
      if (t.type == TokenType::Text) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Text;
        s->text = t.value;
        body.push_back(std::move(s));
        ++pos_;
      } else if (t.type == TokenType::VarBegin) {
        auto s = std::make_unique<Stmt>();
        s->kind = StmtKind::Print;
        s->loc = Location{t.line, t.column};
        ++pos_;
        s->expr = parse_tuple_or_expr();
        expect(TokenType::VarEnd, "'}}'");
        body.push_back(std::move(s));
      } else if (t.type == TokenType::BlockBegin) {
        ++pos_;
        if (cur().type != TokenType::Name) fail("expected a statement name, got " + describe(cur()));
        const std::string keyword = cur().value;
        if (ends.count(keyword)) {
          ++pos_;
          found_end = keyword;
          return body;
        }
        body.push_back(parse_statement());
      } else {
        fail("unexpected " + describe(t));
      }
    }
  }

  StmtPtr parse_statement() {
    const Location at = loc();
    const std::string keyword = expect_name();
    auto s = std::make_unique<Stmt>();
    s->loc = at;
    if (keyword == "if") {
      s->kind = StmtKind::If;
      ExprPtr condition = parse_expr();
      for (;;) {
        expect(TokenType::BlockEnd, "'%}'");
        std::string end;
        Body branch = parse_body({"elif", "else", "endif"}, end);
        s->branches.emplace_back(std::move(condition), std::move(branch));
        if (end == "endif") break;
        if (end == "else") {
          expect(TokenType::BlockEnd, "'%}'");
          Body else_branch = parse_body({"endif"}, end);
          s->branches.emplace_back(nullptr, std::move(else_branch));
          break;
        }
        condition = parse_expr();
      }
    } else if (keyword == "for") {
      s->kind = StmtKind::For;
      s->targets = parse_targets();
      if (!is_name("in")) fail("expected 'in' in for loop, got " + describe(cur()));
      ++pos_;
      s->expr = parse_tuple_or_expr(/*stop_at_if=*/true);
      if (is_name("if")) {
        ++pos_;
        s->condition = parse_expr();
      }
      if (is_name("recursive")) fail("unsupported construct: recursive for loops");
      expect(TokenType::BlockEnd, "'%}'");
      std::string end;
      s->body = parse_body({"else", "endfor"}, end);
      if (end == "else") {
        expect(TokenType::BlockEnd, "'%}'");
        s->else_body = parse_body({"endfor"}, end);
      }
    } else if (keyword == "set") {
      s->targets = parse_targets();
      if (s->targets.size() == 1 && is_op(".")) {
        ++pos_;
        s->attr = expect_name();
      }
      if (is_op("=")) {
        ++pos_;
        s->kind = StmtKind::Set;
        s->expr = parse_tuple_or_expr();
      } else {
        if (s->targets.size() != 1 || !s->attr.empty()) fail("block set takes one plain name");
        if (is_op("|")) fail("unsupported construct: filtered block set");
        s->kind = StmtKind::SetBlock;
        expect(TokenType::BlockEnd, "'%}'");
        std::string end;
        s->body = parse_body({"endset"}, end);
      }
    } else if (keyword == "macro") {
      s->kind = StmtKind::Macro;
      s->name = expect_name();
      parse_params(*s);
      expect(TokenType::BlockEnd, "'%}'");
      std::string end;
      s->body = parse_body({"endmacro"}, end);
      if (cur().type == TokenType::Name && cur().value == s->name) ++pos_;
    } else if (keyword == "call") {
      s->kind = StmtKind::CallBlock;
      if (is_op("(")) fail("unsupported construct: call block with caller arguments");
      s->expr = parse_expr();
      if (s->expr->kind != ExprKind::Call) fail("{% call %} expects a macro call");
      expect(TokenType::BlockEnd, "'%}'");
      std::string end;
      s->body = parse_body({"endcall"}, end);
    } else if (keyword == "break" || keyword == "continue") {
      s->kind = keyword == "break" ? StmtKind::Break : StmtKind::Continue;
    } else if (keyword == "generation") {
      s->kind = StmtKind::Generation;
      expect(TokenType::BlockEnd, "'%}'");
      std::string end;
      s->body = parse_body({"endgeneration"}, end);
    } else {
      static const std::set<std::string> kKnownUnsupported = {
          "extends", "include", "import", "from", "block", "with", "filter", "autoescape",
          "do", "trans", "pluralize"};
      pos_ -= 1;
      if (kKnownUnsupported.count(keyword)) fail("unsupported construct: {% " + keyword + " %}");
      fail("unknown statement {% " + keyword + " %}");
    }
    expect(TokenType::BlockEnd, "'%}'");
    return s;
  }

  std::vector<std::string> parse_targets() {
    std::vector<std::string> targets;
    const bool parenthesized = is_op("(");
    if (parenthesized) ++pos_;
    targets.push_back(expect_name());
    while (is_op(",")) {
      ++pos_;
      targets.push_back(expect_name());
    }
    if (parenthesized) expect_op(")");
    return targets;
  }

  void parse_params(Stmt& macro) {
    expect_op("(");
    while (!is_op(")")) {
      if (!macro.params.empty()) expect_op(",");
      macro.params.push_back(expect_name());
      if (is_op("=")) {
        ++pos_;
        macro.defaults.push_back(parse_expr());
      } else {
        if (!macro.defaults.empty() && macro.defaults.back())
          fail("non-default argument follows default argument");
        macro.defaults.push_back(nullptr);
      }
    }
    ++pos_;
  }

  // ---- expressions (jinja2 precedence, loosest first) ----

  ExprPtr parse_tuple_or_expr(bool stop_at_if = false) {
    const Location at = loc();
    ExprPtr first = stop_at_if ? parse_or() : parse_expr();
    if (!is_op(",")) return first;
    auto tuple = make(ExprKind::TupleLit, at);
    tuple->args.push_back(std::move(first));
    while (is_op(",")) {
      ++pos_;
      if (cur().type == TokenType::BlockEnd || cur().type == TokenType::VarEnd || is_name("if")) break;
      tuple->args.push_back(stop_at_if ? parse_or() : parse_expr());
    }
    return tuple;
  }

  ExprPtr parse_expr() {
    DepthGuard guard(*this);
    ExprPtr value = parse_or();
    while (is_name("if")) {
      const Location at = loc();
      ++pos_;
      auto cond = make(ExprKind::Cond, at);
      cond->args.push_back(parse_or());
      cond->args.push_back(std::move(value));
      if (is_name("else")) {
        ++pos_;
        cond->args.push_back(parse_expr());
      } else {
        cond->args.push_back(nullptr);
      }
      value = std::move(cond);
    }
    return value;
  }

  ExprPtr binary(const std::string& op, ExprPtr left, ExprPtr right, Location at) {
    auto e = make(ExprKind::Binary, at);
    e->name = op;
    e->args.push_back(std::move(left));
    e->args.push_back(std::move(right));
    return e;
  }

  ExprPtr parse_or() {
    ExprPtr left = parse_and();
    while (is_name("or")) {
      const Location at = loc();
      ++pos_;
      left = binary("or", std::move(left), parse_and(), at);
    }
    return left;
  }

  ExprPtr parse_and() {
    ExprPtr left = parse_not();
    while (is_name("and")) {
      const Location at = loc();
      ++pos_;
      left = binary("and", std::move(left), parse_not(), at);
    }
    return left;
  }

  ExprPtr parse_not() {
    if (is_name("not")) {
      DepthGuard guard(*this);
      auto e = make(ExprKind::Unary, loc());
      ++pos_;
      e->name = "not";
      e->args.push_back(parse_not());
      return e;
    }
    return parse_compare();
  }

  ExprPtr parse_compare() {
    ExprPtr left = parse_math1();
    int comparisons = 0;
    for (;;) {
      const Location at = loc();
      std::string op;
      if (cur().type == TokenType::Op &&
          (cur().value == "==" || cur().value == "!=" || cur().value == "<" || cur().value == ">" ||
           cur().value == "<=" || cur().value == ">=")) {
        op = cur().value;
        ++pos_;
      } else if (is_name("in")) {
        op = "in";
        ++pos_;
      } else if (is_name("not") && peek().type == TokenType::Name && peek().value == "in") {
        op = "not in";
        pos_ += 2;
      } else {
        return left;
      }
      // Chained comparisons (a < b < c) never appear in chat templates.
      if (++comparisons > 1) fail("unsupported construct: chained comparison");
      left = binary(op, std::move(left), parse_math1(), at);
    }
  }

  ExprPtr parse_math1() {
    ExprPtr left = parse_concat();
    while (is_op("+") || is_op("-")) {
      const Location at = loc();
      const std::string op = tokens_[pos_++].value;
      left = binary(op, std::move(left), parse_concat(), at);
    }
    return left;
  }

  ExprPtr parse_concat() {
    const Location at = loc();
    ExprPtr first = parse_math2();
    if (!is_op("~")) return first;
    auto e = make(ExprKind::Concat, at);
    e->args.push_back(std::move(first));
    while (is_op("~")) {
      ++pos_;
      e->args.push_back(parse_math2());
    }
    return e;
  }

  ExprPtr parse_math2() {
    ExprPtr left = parse_pow();
    while (is_op("*") || is_op("/") || is_op("//") || is_op("%")) {
      const Location at = loc();
      const std::string op = tokens_[pos_++].value;
      left = binary(op, std::move(left), parse_pow(), at);
    }
    return left;
  }

  ExprPtr parse_pow() {
    ExprPtr left = parse_unary(true);
    while (is_op("**")) {
      const Location at = loc();
      ++pos_;
      left = binary("**", std::move(left), parse_unary(true), at);
    }
    return left;
  }

  ExprPtr parse_unary(bool with_filter) {
    DepthGuard guard(*this);
    ExprPtr node;
    if (is_op("-") || is_op("+")) {
      auto e = make(ExprKind::Unary, loc());
      e->name = tokens_[pos_++].value;
      e->args.push_back(parse_unary(false));
      node = std::move(e);
    } else {
      node = parse_primary();
    }
    node = parse_postfix(std::move(node));
    if (with_filter) node = parse_filter_expr(std::move(node));
    return node;
  }

  ExprPtr parse_primary() {
    const Token& t = cur();
    const Location at = loc();
    if (t.type == TokenType::Name) {
      ++pos_;
      auto e = make(ExprKind::Literal, at);
      if (t.value == "true" || t.value == "True") e->literal = Value::from_bool(true);
      else if (t.value == "false" || t.value == "False") e->literal = Value::from_bool(false);
      else if (t.value == "none" || t.value == "None") e->literal = Value::none();
      else {
        e->kind = ExprKind::Name;
        e->name = t.value;
      }
      return e;
    }
    if (t.type == TokenType::String) {
      // Adjacent string literals concatenate, as in Python.
      std::string text;
      while (cur().type == TokenType::String) text += tokens_[pos_++].value;
      auto e = make(ExprKind::Literal, at);
      e->literal = Value::from_string(std::move(text));
      return e;
    }
    if (t.type == TokenType::Int || t.type == TokenType::Float) {
      ++pos_;
      auto e = make(ExprKind::Literal, at);
      e->literal = t.type == TokenType::Int ? Value::from_int(t.int_value) : Value::from_float(t.float_value);
      return e;
    }
    if (is_op("(")) {
      ++pos_;
      if (is_op(")")) {
        ++pos_;
        return make(ExprKind::TupleLit, at);
      }
      ExprPtr inner = parse_expr();
      if (is_op(",")) {
        auto tuple = make(ExprKind::TupleLit, at);
        tuple->args.push_back(std::move(inner));
        while (is_op(",")) {
          ++pos_;
          if (is_op(")")) break;
          tuple->args.push_back(parse_expr());
        }
        inner = std::move(tuple);
      }
      expect_op(")");
      return inner;
    }
    if (is_op("[")) {
      ++pos_;
      auto list = make(ExprKind::ListLit, at);
      while (!is_op("]")) {
        if (!list->args.empty()) {
          expect_op(",");
          if (is_op("]")) break;
        }
        list->args.push_back(parse_expr());
      }
      ++pos_;
      return list;
    }
    if (is_op("{")) {
      ++pos_;
      auto dict = make(ExprKind::DictLit, at);
      while (!is_op("}")) {
        if (!dict->args.empty()) {
          expect_op(",");
          if (is_op("}")) break;
        }
        dict->args.push_back(parse_expr());
        expect_op(":");
        dict->args.push_back(parse_expr());
      }
      ++pos_;
      return dict;
    }
    fail("unexpected " + describe(t));
  }

  ExprPtr parse_postfix(ExprPtr node) {
    for (;;) {
      const Location at = loc();
      if (is_op(".")) {
        ++pos_;
        auto e = make(ExprKind::Attr, at);
        if (cur().type == TokenType::Int) {
          e->kind = ExprKind::Item;
          e->args.push_back(std::move(node));
          auto index = make(ExprKind::Literal, at);
          index->literal = Value::from_int(tokens_[pos_++].int_value);
          e->args.push_back(std::move(index));
        } else {
          e->name = expect_name();
          e->args.push_back(std::move(node));
        }
        node = std::move(e);
      } else if (is_op("[")) {
        ++pos_;
        node = parse_subscript(std::move(node), at);
      } else if (is_op("(")) {
        node = parse_call(std::move(node), ExprKind::Call, at);
      } else {
        return node;
      }
    }
  }

  ExprPtr parse_subscript(ExprPtr target, Location at) {
    DepthGuard guard(*this);
    ExprPtr parts[3];
    bool is_slice = false;
    for (int part = 0; part < 3; ++part) {
      if (!is_op(":") && !is_op("]")) parts[part] = parse_expr();
      if (is_op(":") && part < 2) {
        is_slice = true;
        ++pos_;
        continue;
      }
      break;
    }
    expect_op("]");
    if (!is_slice) {
      if (!parts[0]) fail("expected an index");
      auto e = make(ExprKind::Item, at);
      e->args.push_back(std::move(target));
      e->args.push_back(std::move(parts[0]));
      return e;
    }
    auto e = make(ExprKind::Slice, at);
    e->args.push_back(std::move(target));
    for (auto& part : parts) e->args.push_back(std::move(part));
    return e;
  }

  // Parses "(args, key=value)" into a node whose args[0] is `target`.
  ExprPtr parse_call(ExprPtr target, ExprKind kind, Location at, bool parens_required = true) {
    DepthGuard guard(*this);
    auto e = make(kind, at);
    e->args.push_back(std::move(target));
    if (!is_op("(")) {
      if (parens_required) fail("expected '('");
      return e;
    }
    ++pos_;
    bool first = true;
    while (!is_op(")")) {
      if (!first) {
        expect_op(",");
        if (is_op(")")) break;
      }
      first = false;
      if (is_op("*") || is_op("**")) fail("unsupported construct: *args / **kwargs in calls");
      if (cur().type == TokenType::Name && peek().type == TokenType::Op && peek().value == "=") {
        std::string key = tokens_[pos_].value;
        pos_ += 2;
        e->kwargs.emplace_back(std::move(key), parse_expr());
      } else {
        if (!e->kwargs.empty()) fail("positional argument follows keyword argument");
        e->args.push_back(parse_expr());
      }
    }
    ++pos_;
    return e;
  }

  std::string parse_dotted_name() {
    std::string name = expect_name();
    while (is_op(".")) {
      ++pos_;
      name += "." + expect_name();
    }
    return name;
  }

  ExprPtr parse_filter_expr(ExprPtr node) {
    for (;;) {
      const Location at = loc();
      if (is_op("|")) {
        ++pos_;
        std::string name = parse_dotted_name();
        node = parse_call(std::move(node), ExprKind::Filter, at, false);
        node->name = std::move(name);
      } else if (is_name("is")) {
        ++pos_;
        bool negated = false;
        if (is_name("not")) {
          negated = true;
          ++pos_;
        }
        std::string name = parse_dotted_name();
        ExprPtr test;
        if (is_op("(")) {
          test = parse_call(std::move(node), ExprKind::Test, at);
        } else {
          test = make(ExprKind::Test, at);
          test->args.push_back(std::move(node));
          const TokenType type = cur().type;
          const bool starts_arg = type == TokenType::Name || type == TokenType::String ||
                                  type == TokenType::Int || type == TokenType::Float ||
                                  is_op("[") || is_op("{");
          if (starts_arg && !is_name("else") && !is_name("or") && !is_name("and") && !is_name("if")) {
            if (is_name("is")) fail("you cannot chain multiple tests with 'is'");
            test->args.push_back(parse_postfix(parse_primary()));
          }
        }
        test->name = std::move(name);
        test->negated = negated;
        node = std::move(test);
      } else if (is_op("(")) {
        node = parse_call(std::move(node), ExprKind::Call, at);
      } else {
        return node;
      }
    }
  }

  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
  int depth_ = 0;
};

}  // namespace

Body parse_template(const std::vector<Token>& tokens) { return Parser(tokens).parse_all(); }

}  // namespace tokenmill::jinja
