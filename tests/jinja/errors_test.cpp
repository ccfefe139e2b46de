// Untrusted templates: unsupported constructs and syntax errors are reported with a location,
// and hostile input (deep nesting, runaway recursion or loops, huge output) ends in an Error.
#include <gtest/gtest.h>

#include <string>

#include "core/error.h"
#include "jinja/template.h"

namespace tokenmill::jinja {
namespace {

using Json = nlohmann::ordered_json;

std::string parse_error(const std::string& source) {
  try {
    Template t(source);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

std::string render_error(const std::string& source, const Json& context = Json::object(),
                         const RenderOptions& options = RenderOptions{}) {
  try {
    Template t(source);
    t.render(context, options);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(JinjaErrors, UnsupportedConstructsAreNamed) {
  EXPECT_NE(parse_error("{% extends 'base.html' %}").find("{% extends %}"), std::string::npos);
  EXPECT_NE(parse_error("x\n  {% include 'x' %}").find("{% include %}"), std::string::npos);
  EXPECT_NE(parse_error("{% import 'm' as m %}").find("{% import %}"), std::string::npos);
  EXPECT_NE(parse_error("{% block body %}{% endblock %}").find("{% block %}"), std::string::npos);
  EXPECT_NE(parse_error("{% for x in y recursive %}{% endfor %}").find("recursive"), std::string::npos);
  EXPECT_NE(render_error("{{ 'a'|frobnicate }}").find("filter 'frobnicate'"), std::string::npos);
  EXPECT_NE(render_error("{{ 1 is frobnicated }}").find("test 'frobnicated'"), std::string::npos);
}

TEST(JinjaErrors, SyntaxErrorsCarryLineAndColumn) {
  EXPECT_NE(parse_error("line one\n{{ 1 + }}").find("line 2:"), std::string::npos);
  EXPECT_NE(parse_error("{% if x %}never closed").find("endif"), std::string::npos);
  EXPECT_NE(parse_error("{{ 'unterminated }}").find("unterminated string"), std::string::npos);
  EXPECT_NE(parse_error("{# open comment").find("comment"), std::string::npos);
  EXPECT_NE(parse_error("{{ x ").find("unterminated"), std::string::npos);
  EXPECT_NE(parse_error("{% endfor %}").find("unknown statement"), std::string::npos);
  EXPECT_NE(parse_error("{{ ) }}").find("line 1:4"), std::string::npos);
}

TEST(JinjaErrors, RaiseExceptionMessageSurfaces) {
  EXPECT_EQ(render_error("{{ raise_exception('Only user and assistant roles are supported!') }}"),
            "Only user and assistant roles are supported!");
}

TEST(JinjaErrors, UndefinedAttributeAccessFails) {
  EXPECT_NE(render_error("{{ nothing.role }}").find("'nothing' is undefined"), std::string::npos);
  EXPECT_NE(render_error("{{ m.a.b }}", Json::parse(R"({"m": {}})")).find("has no attribute 'a'"), std::string::npos);
}

TEST(JinjaErrors, DeepNestingIsRejectedNotCrashing) {
  const int depth = 100000;
  EXPECT_NE(parse_error("{{ " + std::string(depth, '(') + "1" + std::string(depth, ')') + " }}"), "");
  EXPECT_NE(parse_error("{{ " + std::string(depth, '[') + std::string(depth, ']') + " }}"), "");
  std::string nested_ifs;
  for (int i = 0; i < depth; ++i) nested_ifs += "{% if true %}";
  EXPECT_NE(parse_error(nested_ifs), "");
  std::string nots = "{{ ";
  for (int i = 0; i < depth; ++i) nots += "not ";
  EXPECT_NE(parse_error(nots + "1 }}"), "");
  std::string minus = "{{ " + std::string(depth, '-') + "1 }}";
  EXPECT_NE(parse_error(minus), "");
}

TEST(JinjaErrors, DeeplyNestedContextIsRejected) {
  std::string deep = std::string(5000, '[') + std::string(5000, ']');
  const Json context = Json::object({{"x", Json::parse(deep)}});
  EXPECT_NE(render_error("{{ x }}", context).find("nested"), std::string::npos);
}

TEST(JinjaErrors, InfiniteMacroRecursionIsBounded) {
  EXPECT_NE(render_error("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}").find("nested deeper"),
            std::string::npos);
}

TEST(JinjaErrors, RunawayLoopsAndOutputAreBounded) {
  RenderOptions small;
  small.max_steps = 100000;
  EXPECT_NE(render_error("{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
                         Json::object(), small).find("work budget"),
            std::string::npos);
  RenderOptions tiny_output;
  tiny_output.max_output_bytes = 1000;
  EXPECT_NE(render_error("{% for i in range(1000) %}xxxxxxxxxx{% endfor %}", Json::object(), tiny_output)
                .find("output exceeds"),
            std::string::npos);
  EXPECT_NE(render_error("{{ 'x' * 1000000000000 }}").find("too large"), std::string::npos);
  EXPECT_NE(render_error("{{ range(1000000)|list|length }}").find("Range too big"), std::string::npos);
  EXPECT_NE(render_error("{{ 9223372036854775807 + 1 }}").find("overflow"), std::string::npos);
  EXPECT_NE(render_error("{{ 1 // 0 }}").find("division"), std::string::npos);
}

TEST(JinjaErrors, SelfReferentialNamespaceDoesNotCrash) {
  EXPECT_NE(render_error("{% set ns = namespace(a=1) %}{% set ns.self = ns %}{{ ns }}").find("nested"),
            std::string::npos);
}

TEST(JinjaErrors, MutatingMethodsAreRefused) {
  EXPECT_NE(render_error("{% set l = [1] %}{{ l.append(2) }}").find("unsafe"), std::string::npos);
  EXPECT_NE(render_error("{% set d = {} %}{{ d.update({'a': 1}) }}").find("unsafe"), std::string::npos);
}

TEST(JinjaApi, InjectedFunctionsAndDefaults) {
  RenderOptions options;
  options.functions["shout"] = [](const std::vector<Json>& args) -> Json {
    return args.at(0).get<std::string>() + "!";
  };
  Template t("{{ shout(name) }} {{ strftime_now('%Y') | length }}");
  EXPECT_EQ(t.render(Json::parse(R"({"name": "hi"})"), options), "hi! 4");
}

TEST(JinjaApi, PlainJsonContextUsesSortedKeys) {
  Template t("{{ d | tojson }}");
  const nlohmann::json context = nlohmann::json::parse(R"({"d": {"b": 1, "a": 2}})");
  EXPECT_EQ(t.render(context), "{\"a\": 2, \"b\": 1}");
  EXPECT_EQ(t.render(Json::parse(R"({"d": {"b": 1, "a": 2}})")), "{\"b\": 1, \"a\": 2}");
}

TEST(JinjaApi, DefaultSyntaxIsHuggingFaceStyleButConfigurable) {
  const std::string source = "  {% if true %}\nx\n{% endif %}\n";
  EXPECT_EQ(Template(source).render(Json::object()), "x\n");
  EXPECT_EQ(Template(source, SyntaxOptions{false, false}).render(Json::object()), "  \nx\n");
}

}  // namespace
}  // namespace tokenmill::jinja
