// Golden tests: every case was rendered by Python jinja2 configured like transformers'
// apply_chat_template (python/fixtures/gen_chat_template_fixtures.py); the C++ output must be
// byte-identical, and cases where jinja2 raised must raise here too.
#include <gtest/gtest.h>

#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

#include "core/error.h"
#include "jinja/template.h"

namespace tokenmill::jinja {
namespace {

using Json = nlohmann::ordered_json;

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path;
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::string fixture_path(const std::string& name) {
  return std::string(TOKENMILL_SOURCE_DIR) + "/tests/fixtures/chat_templates/" + name;
}

// The generator pins strftime_now to 2025-03-14 09:26:53.
RenderOptions pinned_clock() {
  RenderOptions options;
  options.functions["strftime_now"] = [](const std::vector<Json>& args) -> Json {
    std::tm fixed{};
    fixed.tm_year = 2025 - 1900;
    fixed.tm_mon = 2;
    fixed.tm_mday = 14;
    fixed.tm_hour = 9;
    fixed.tm_min = 26;
    fixed.tm_sec = 53;
    fixed.tm_wday = 5;
    fixed.tm_yday = 72;
    char buf[128];
    const size_t n = std::strftime(buf, sizeof buf, args.at(0).get<std::string>().c_str(), &fixed);
    return std::string(buf, n);
  };
  return options;
}

void check_case(const Template& tmpl, const Json& c, const std::string& label) {
  const RenderOptions options = pinned_clock();
  if (c.contains("expected")) {
    std::string actual;
    try {
      actual = tmpl.render(c["context"], options);
    } catch (const Error& e) {
      ADD_FAILURE() << label << ": unexpected error: " << e.what();
      return;
    }
    EXPECT_EQ(actual, c["expected"].get<std::string>()) << label;
    return;
  }
  try {
    const std::string actual = tmpl.render(c["context"], options);
    ADD_FAILURE() << label << ": expected an error (" << c["error"] << "), rendered: " << actual;
  } catch (const Error& e) {
    if (c["error_kind"] == "raise") {
      EXPECT_EQ(std::string(e.what()), c["error"].get<std::string>()) << label;
    }
  }
}

TEST(ChatTemplateGolden, RealTemplatesMatchJinja2) {
  const Json cases = Json::parse(read_file(fixture_path("cases.json")));
  ASSERT_GE(cases.size(), 100u);
  std::map<std::string, std::unique_ptr<Template>> templates;
  for (const auto& c : cases) {
    const std::string name = c["template"];
    auto& tmpl = templates[name];
    if (!tmpl) tmpl = std::make_unique<Template>(read_file(fixture_path(name + ".jinja")));
    check_case(*tmpl, c, name + " / " + c["name"].get<std::string>());
  }
  EXPECT_GE(templates.size(), 13u);
}

TEST(ChatTemplateGolden, LanguageFeaturesMatchJinja2) {
  const Json cases = Json::parse(read_file(fixture_path("features.json")));
  ASSERT_GE(cases.size(), 40u);
  for (const auto& c : cases) {
    const std::string label = "feature " + c["name"].get<std::string>();
    try {
      const Template tmpl(c["source"].get<std::string>());
      check_case(tmpl, c, label);
    } catch (const Error& e) {
      ADD_FAILURE() << label << ": failed to parse: " << e.what();
    }
  }
}

}  // namespace
}  // namespace tokenmill::jinja
