#include "jinja/lexer.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include "core/error.h"

namespace tokenmill::jinja {
namespace {

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }
bool is_name_start(char c) { return std::isalpha(static_cast<unsigned char>(c)) || c == '_'; }
bool is_name_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// jinja2 treats \r\n, \r and \n alike and drops one trailing newline (keep_trailing_newline=False).
std::string normalize_newlines(const std::string& source) {
  std::string out;
  out.reserve(source.size());
  for (size_t i = 0; i < source.size(); ++i) {
    if (source[i] == '\r') {
      out += '\n';
      if (i + 1 < source.size() && source[i + 1] == '\n') ++i;
    } else {
      out += source[i];
    }
  }
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

class Lexer {
 public:
  Lexer(const std::string& source, const LexerOptions& options)
      : src_(normalize_newlines(source)), options_(options) {}

  std::vector<Token> run() {
    bool line_starting = true;  // the previous token ended a line (or this is the start)
    bool strip_next_text = false;
    while (pos_ < src_.size()) {
      const size_t tag = find_tag(pos_);
      std::string text = src_.substr(pos_, tag - pos_);
      const size_t text_start = pos_;
      if (strip_next_text) {
        size_t k = 0;
        while (k < text.size() && is_space(text[k])) ++k;
        text.erase(0, k);
      }
      strip_next_text = false;
      if (tag < src_.size()) {
        const char kind = src_[tag + 1];
        const char sign = tag + 2 < src_.size() ? src_[tag + 2] : '\0';
        if (sign == '-') {
          size_t end = text.size();
          while (end > 0 && is_space(text[end - 1])) --end;
          text.resize(end);
        } else if (sign != '+' && options_.lstrip_blocks && kind != '{') {
          const size_t line_pos = text.rfind('\n') + 1;  // npos + 1 == 0
          if (line_pos > 0 || line_starting) {
            bool blank = true;
            for (size_t k = line_pos; k < text.size(); ++k)
              if (text[k] != ' ' && text[k] != '\t') blank = false;
            if (blank) text.resize(line_pos);
          }
        }
      }
      if (!text.empty()) push(TokenType::Text, text, text_start);
      advance_to(tag);
      if (pos_ >= src_.size()) break;
      const char kind = src_[pos_ + 1];
      char end_sign = '\0';
      if (kind == '#') {
        end_sign = skip_comment();
      } else if (kind == '%' && try_raw(end_sign)) {
        // raw body already emitted as text
      } else {
        end_sign = lex_tag(kind == '{');
      }
      // After the tag: "-" eats all following whitespace; trim_blocks eats one newline.
      line_starting = false;
      if (end_sign == '-') {
        while (pos_ < src_.size() && is_space(src_[pos_])) {
          line_starting = src_[pos_] == '\n';
          advance(1);
        }
      } else if (end_sign != '+' && kind != '{' && options_.trim_blocks && pos_ < src_.size() &&
                 src_[pos_] == '\n') {
        advance(1);
        line_starting = true;
      }
    }
    Token end{TokenType::End, "", 0, 0.0, line_, column_};
    tokens_.push_back(end);
    return std::move(tokens_);
  }

 private:
  [[noreturn]] void fail(const std::string& message) const {
    throw Error("chat template syntax error at line " + std::to_string(line_) + ":" +
                std::to_string(column_) + ": " + message);
  }

  size_t find_tag(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#'))
        return i;
    }
    return src_.size();
  }

  void advance(size_t n) {
    for (size_t k = 0; k < n && pos_ < src_.size(); ++k, ++pos_) {
      if (src_[pos_] == '\n') {
        ++line_;
        column_ = 1;
      } else {
        ++column_;
      }
    }
  }
  void advance_to(size_t target) { advance(target - pos_); }

  void push(TokenType type, std::string value, size_t) {
    tokens_.push_back(Token{type, std::move(value), 0, 0.0, tok_line_, tok_column_});
  }
  void mark() {
    tok_line_ = line_;
    tok_column_ = column_;
  }

  // Returns the sign before "#}" ('-', '+' or '\0').
  char skip_comment() {
    const size_t close = src_.find("#}", pos_ + 2);
    if (close == std::string::npos) fail("unterminated comment");
    const char sign = close > pos_ + 2 && (src_[close - 1] == '-' || src_[close - 1] == '+') ? src_[close - 1] : '\0';
    advance_to(close + 2);
    return sign;
  }

  // Matches "{%[-+]? *word *[-+]?%}" at `at`; on success returns the position after it.
  size_t match_simple_tag(size_t at, const std::string& word, char* open_sign, char* close_sign) const {
    size_t i = at + 2;
    char open = '\0';
    if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) open = src_[i++];
    while (i < src_.size() && is_space(src_[i])) ++i;
    if (src_.compare(i, word.size(), word) != 0) return 0;
    i += word.size();
    if (i < src_.size() && is_name_char(src_[i])) return 0;
    while (i < src_.size() && is_space(src_[i])) ++i;
    char close = '\0';
    if (i < src_.size() && (src_[i] == '-' || src_[i] == '+')) close = src_[i++];
    if (src_.compare(i, 2, "%}") != 0) return 0;
    if (open_sign) *open_sign = open;
    if (close_sign) *close_sign = close;
    return i + 2;
  }

  bool try_raw(char& end_sign) {
    char raw_close = '\0';
    const size_t body_start = match_simple_tag(pos_, "raw", nullptr, &raw_close);
    if (!body_start) return false;
    size_t search = body_start;
    for (;;) {
      const size_t candidate = src_.find("{%", search);
      if (candidate == std::string::npos) fail("missing {% endraw %}");
      char end_open = '\0';
      const size_t after = match_simple_tag(candidate, "endraw", &end_open, &end_sign);
      if (!after) {
        search = candidate + 2;
        continue;
      }
      std::string body = src_.substr(body_start, candidate - body_start);
      if (raw_close == '-') {
        size_t k = 0;
        while (k < body.size() && is_space(body[k])) ++k;
        body.erase(0, k);
      } else if (raw_close != '+' && options_.trim_blocks && !body.empty() && body[0] == '\n') {
        body.erase(0, 1);
      }
      if (end_open == '-') {
        while (!body.empty() && is_space(body.back())) body.pop_back();
      } else if (end_open != '+' && options_.lstrip_blocks) {
        const size_t line_pos = body.rfind('\n') + 1;
        bool blank = true;
        for (size_t k = line_pos; k < body.size(); ++k)
          if (body[k] != ' ' && body[k] != '\t') blank = false;
        if (blank && line_pos > 0) body.resize(line_pos);
      }
      mark();
      if (!body.empty()) push(TokenType::Text, body, 0);
      advance_to(after);
      return true;
    }
  }

  // Lexes one {{ ... }} or {% ... %}; returns the sign before the closing delimiter.
  char lex_tag(bool is_variable) {
    mark();
    push(is_variable ? TokenType::VarBegin : TokenType::BlockBegin, "", 0);
    advance(2);
    if (pos_ < src_.size() && (src_[pos_] == '-' || src_[pos_] == '+')) advance(1);
    const char close_char = is_variable ? '}' : '%';
    int depth = 0;
    for (;;) {
      while (pos_ < src_.size() && is_space(src_[pos_])) advance(1);
      if (pos_ >= src_.size()) fail(is_variable ? "unterminated '{{'" : "unterminated '{%'");
      mark();
      const char c = src_[pos_];
      if (depth == 0) {
        char sign = '\0';
        size_t at = pos_;
        if ((c == '-' || c == '+') && at + 2 < src_.size() + 0 && src_[at + 1] == close_char &&
            at + 2 < src_.size() && src_[at + 2] == '}') {
          sign = c;
          ++at;
        }
        if (at + 1 < src_.size() && src_[at] == close_char && src_[at + 1] == '}') {
          push(is_variable ? TokenType::VarEnd : TokenType::BlockEnd, "", 0);
          advance_to(at + 2);
          return sign;
        }
      }
      if (is_name_start(c)) {
        size_t end = pos_;
        while (end < src_.size() && is_name_char(src_[end])) ++end;
        push(TokenType::Name, src_.substr(pos_, end - pos_), 0);
        advance_to(end);
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        lex_number();
      } else if (c == '\'' || c == '"') {
        lex_string(c);
      } else {
        static const char* const kTwoChar[] = {"//", "**", "==", "!=", ">=", "<="};
        std::string op(1, c);
        for (const char* two : kTwoChar)
          if (src_.compare(pos_, 2, two) == 0) op = two;
        if (op.size() == 1 && std::string("+-*/%~<>=()[]{},.:|").find(c) == std::string::npos)
          fail(std::string("unexpected character '") + c + "'");
        if (c == '(' || c == '[' || c == '{') ++depth;
        if (c == ')' || c == ']' || c == '}') {
          if (depth == 0) fail(std::string("unbalanced '") + c + "'");
          --depth;
        }
        push(TokenType::Op, op, 0);
        advance(op.size());
      }
    }
  }

  void lex_number() {
    size_t end = pos_;
    std::string digits;
    auto take_digits = [&] {
      while (end < src_.size() && (std::isdigit(static_cast<unsigned char>(src_[end])) || src_[end] == '_')) {
        if (src_[end] != '_') digits += src_[end];
        ++end;
      }
    };
    take_digits();
    bool is_float = false;
    if (end + 1 < src_.size() && src_[end] == '.' && std::isdigit(static_cast<unsigned char>(src_[end + 1]))) {
      is_float = true;
      digits += src_[end++];
      take_digits();
    }
    if (end < src_.size() && (src_[end] == 'e' || src_[end] == 'E')) {
      size_t k = end + 1;
      if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
      if (k < src_.size() && std::isdigit(static_cast<unsigned char>(src_[k]))) {
        is_float = true;
        digits += 'e';
        digits += src_.substr(end + 1, k - end - 1);
        end = k;
        take_digits();
      }
    }
    Token token{is_float ? TokenType::Float : TokenType::Int, digits, 0, 0.0, tok_line_, tok_column_};
    if (is_float) {
      token.float_value = std::strtod(digits.c_str(), nullptr);
    } else {
      errno = 0;
      token.int_value = std::strtoll(digits.c_str(), nullptr, 10);
      if (errno == ERANGE) fail("integer literal too large");
    }
    tokens_.push_back(token);
    advance_to(end);
  }

  void lex_string(char quote) {
    std::string value;
    size_t i = pos_ + 1;
    for (;;) {
      if (i >= src_.size()) fail("unterminated string literal");
      const char c = src_[i];
      if (c == quote) break;
      if (c != '\\') {
        value += c;
        ++i;
        continue;
      }
      if (i + 1 >= src_.size()) fail("unterminated string literal");
      const char e = src_[i + 1];
      i += 2;
      switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case '0': value += '\0'; break;
        case 'a': value += '\a'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case '\n': break;  // line continuation
        case 'x':
        case 'u':
        case 'U': {
          const size_t width = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (i + width > src_.size()) fail("truncated \\" + std::string(1, e) + " escape");
          const std::string hex = src_.substr(i, width);
          for (char h : hex)
            if (!std::isxdigit(static_cast<unsigned char>(h))) fail("bad \\" + std::string(1, e) + " escape");
          append_utf8(value, static_cast<uint32_t>(std::strtoul(hex.c_str(), nullptr, 16)));
          i += width;
          break;
        }
        default:
          value += '\\';
          value += e;
      }
    }
    Token token{TokenType::String, value, 0, 0.0, tok_line_, tok_column_};
    tokens_.push_back(std::move(token));
    advance_to(i + 1);
  }

  std::string src_;
  LexerOptions options_;
  size_t pos_ = 0;
  int line_ = 1, column_ = 1;
  int tok_line_ = 1, tok_column_ = 1;
  std::vector<Token> tokens_;
};

}  // namespace

std::vector<Token> tokenize(const std::string& source, const LexerOptions& options) {
  return Lexer(source, options).run();
}

}  // namespace tokenmill::jinja
