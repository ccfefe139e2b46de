// A Jinja2 interpreter for LLM chat templates (the "chat_template" of tokenizer_config.json).
//
// It renders the way Hugging Face's apply_chat_template does: jinja2's ImmutableSandboxedEnvironment
// with trim_blocks and lstrip_blocks on, loop controls, tojson as json.dumps(ensure_ascii=False),
// and the globals raise_exception, strftime_now, namespace, dict and range. Templates are
// untrusted input: parsing and rendering throw tokenmill::Error (one line) instead of crashing,
// and recursion, loop work and output size are bounded.
#pragma once
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace tokenmill::jinja {

struct Stmt;

// A function a template can call by name, e.g. {{ strftime_now("%d %b %Y") }}. Arguments arrive
// as JSON (positional only); the result is converted back into a template value.
using TemplateFunction = std::function<nlohmann::ordered_json(const std::vector<nlohmann::ordered_json>& args)>;

struct RenderOptions {
  // Added to (or replacing) the default globals. Defaults: raise_exception(msg) throws
  // Error(msg); strftime_now(fmt) formats the local time with strftime.
  std::map<std::string, TemplateFunction> functions;
  size_t max_output_bytes = size_t{64} << 20;
  // Work budget: statements executed plus loop iterations plus filter items.
  size_t max_steps = 20'000'000;
  int max_call_depth = 100;  // nested macro calls
};

struct SyntaxOptions {
  bool trim_blocks = true;    // Hugging Face's chat-template setting (jinja2's default is false)
  bool lstrip_blocks = true;  // likewise
};

class Template {
 public:
  // Parses the source; throws Error("chat template syntax error at line L:C: ...") on syntax
  // errors and on constructs outside the supported subset (the message names the construct).
  explicit Template(std::string source);
  Template(std::string source, SyntaxOptions syntax);
  ~Template();
  Template(Template&&) noexcept;
  Template& operator=(Template&&) noexcept;

  // Renders with the top-level keys of `context` as variables (messages, add_generation_prompt,
  // bos_token, tools, ...). Keep key order with ordered_json: tojson prints dicts in that order.
  std::string render(const nlohmann::ordered_json& context) const;
  std::string render(const nlohmann::ordered_json& context, const RenderOptions& options) const;
  // nlohmann::json sorts object keys, so tojson output follows sorted key order.
  std::string render(const nlohmann::json& context) const;

  const std::string& source() const { return source_; }

 private:
  std::string source_;
  std::shared_ptr<const std::vector<std::unique_ptr<Stmt>>> body_;
};

}  // namespace tokenmill::jinja
