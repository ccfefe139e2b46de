#include "jinja/template.h"

#include "core/error.h"
#include "jinja/interpreter.h"
#include "jinja/json_convert.h"
#include "jinja/lexer.h"
#include "jinja/parser.h"

namespace tokenmill::jinja {
namespace {

constexpr int kMaxJsonDepth = 200;

template <class Json>
Value convert(const Json& j, int depth) {
  if (depth > kMaxJsonDepth) throw Error("chat template context: JSON nested deeper than " + std::to_string(kMaxJsonDepth));
  switch (j.type()) {
    case nlohmann::json::value_t::null: return Value::none();
    case nlohmann::json::value_t::boolean: return Value::from_bool(j.template get<bool>());
    case nlohmann::json::value_t::number_integer: return Value::from_int(j.template get<int64_t>());
    case nlohmann::json::value_t::number_unsigned: {
      const uint64_t u = j.template get<uint64_t>();
      if (u > static_cast<uint64_t>(INT64_MAX)) return Value::from_float(static_cast<double>(u));
      return Value::from_int(static_cast<int64_t>(u));
    }
    case nlohmann::json::value_t::number_float: return Value::from_float(j.template get<double>());
    case nlohmann::json::value_t::string: return Value::from_string(j.template get<std::string>());
    case nlohmann::json::value_t::array: {
      List items;
      items.reserve(j.size());
      for (const auto& item : j) items.push_back(convert(item, depth + 1));
      return Value::from_list(std::move(items));
    }
    case nlohmann::json::value_t::object: {
      Value dict = Value::new_dict();
      for (auto it = j.begin(); it != j.end(); ++it) dict.dict->items.emplace_back(it.key(), convert(it.value(), depth + 1));
      return dict;
    }
    default: throw Error("chat template context: unsupported JSON value (binary or discarded)");
  }
}

}  // namespace

Value value_from_json(const nlohmann::ordered_json& j) { return convert(j, 0); }
Value value_from_json(const nlohmann::json& j) { return convert(j, 0); }

nlohmann::ordered_json value_to_json(const Value& v) {
  switch (v.kind) {
    case Kind::Undefined:
    case Kind::None: return nullptr;
    case Kind::Bool: return v.boolean;
    case Kind::Int: return v.integer;
    case Kind::Float: return v.number;
    case Kind::String: return v.text;
    case Kind::List: {
      auto out = nlohmann::ordered_json::array();
      for (const Value& item : *v.list) out.push_back(value_to_json(item));
      return out;
    }
    case Kind::Dict: {
      auto out = nlohmann::ordered_json::object();
      for (const auto& [key, item] : v.dict->items) out[key] = value_to_json(item);
      return out;
    }
    case Kind::Callable: return v.callable->name;
  }
  return nullptr;
}

Template::Template(std::string source) : Template(std::move(source), SyntaxOptions{}) {}

Template::Template(std::string source, SyntaxOptions syntax) : source_(std::move(source)) {
  LexerOptions lexer_options;
  lexer_options.trim_blocks = syntax.trim_blocks;
  lexer_options.lstrip_blocks = syntax.lstrip_blocks;
  body_ = std::make_shared<const Body>(parse_template(tokenize(source_, lexer_options)));
}

Template::~Template() = default;
Template::Template(Template&&) noexcept = default;
Template& Template::operator=(Template&&) noexcept = default;

namespace {

template <class Json>
std::string render_with(const Body& body, const Json& context, const RenderOptions& options) {
  if (!context.is_object() && !context.is_null()) throw Error("chat template context must be a JSON object");
  auto globals = std::make_shared<Scope>();
  install_globals(*globals, options);
  auto root = std::make_shared<Scope>();
  root->parent = globals;
  if (context.is_object())
    for (auto it = context.begin(); it != context.end(); ++it) root->vars[it.key()] = value_from_json(it.value());
  Interpreter interpreter(options);
  return interpreter.render(body, root);
}

}  // namespace

std::string Template::render(const nlohmann::ordered_json& context) const { return render(context, RenderOptions{}); }

std::string Template::render(const nlohmann::ordered_json& context, const RenderOptions& options) const {
  return render_with(*body_, context, options);
}

std::string Template::render(const nlohmann::json& context) const {
  return render_with(*body_, context, RenderOptions{});
}

}  // namespace tokenmill::jinja
