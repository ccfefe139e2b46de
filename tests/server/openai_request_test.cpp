#include "server/openai_request.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "server/api_error.h"
#include "server_test_util.h"

namespace tokenmill::server {
namespace {

using json = nlohmann::ordered_json;
using testing::FixtureProtocol;

ParsedRequest completion(const json& body, int32_t max_model_len = 256) {
  return parse_completion_request(body.dump(), FixtureProtocol::get().context(max_model_len));
}
ParsedRequest chat(const json& body, int32_t max_model_len = 256) {
  return parse_chat_request(body.dump(), FixtureProtocol::get().context(max_model_len));
}

// The ApiError a call throws; fails the test when it throws nothing.
template <typename F>
ApiError error_of(F&& call) {
  try {
    call();
  } catch (const ApiError& e) {
    return e;
  }
  ADD_FAILURE() << "no ApiError thrown";
  return ApiError::invalid("none");
}

json user_turn(const std::string& text) {
  return json::array({{{"role", "user"}, {"content", text}}});
}

TEST(CompletionRequest, StringPromptWithDefaults) {
  const ParsedRequest r = completion({{"model", "tiny"}, {"prompt", "hello world"}});
  EXPECT_EQ(r.endpoint, Endpoint::Completions);
  EXPECT_EQ(r.generate.prompt_ids, FixtureProtocol::get().tokenizer->encode("hello world", true, false));
  ASSERT_TRUE(r.generate.params.max_tokens.has_value());
  EXPECT_EQ(*r.generate.params.max_tokens, kCompletionsDefaultMaxTokens);
  EXPECT_EQ(r.generate.n, 1);
  EXPECT_EQ(r.generate.top_logprobs, -1);
  EXPECT_FALSE(r.stream);
  EXPECT_FALSE(r.generate.params.seed.has_value());
}

TEST(CompletionRequest, TokenIdPromptsAndSingleElementLists) {
  EXPECT_EQ(completion({{"prompt", {5, 6, 7}}}).generate.prompt_ids, (std::vector<int32_t>{5, 6, 7}));
  EXPECT_EQ(completion({{"prompt", json::array({json::array({8, 9})})}}).generate.prompt_ids,
            (std::vector<int32_t>{8, 9}));
  EXPECT_EQ(completion({{"prompt", {"hi"}}}).generate.prompt_ids,
            completion({{"prompt", "hi"}}).generate.prompt_ids);
}

TEST(CompletionRequest, RefusesBatchesAndBadPrompts) {
  ApiError e = error_of([] { completion({{"prompt", {"a", "b"}}}); });
  EXPECT_EQ(e.status, 400);
  EXPECT_STREQ(e.what(), "only one prompt per request is supported");
  e = error_of([] { completion({{"prompt", {1, 100000}}}); });
  EXPECT_NE(std::string(e.what()).find("100000"), std::string::npos);
  EXPECT_EQ(e.param, "prompt");
  EXPECT_EQ(error_of([] { completion({{"prompt", json::array()}}); }).status, 400);
  EXPECT_EQ(error_of([] { completion({{"prompt", 12.5}}); }).status, 400);
  e = error_of([] { completion({{"max_tokens", 4}}); });
  EXPECT_STREQ(e.what(), "'prompt' is required");
}

TEST(CompletionRequest, SamplingFields) {
  const ParsedRequest r = completion({{"prompt", "x"},
                                      {"max_tokens", 7},
                                      {"temperature", 0},
                                      {"top_p", 0.5},
                                      {"top_k", 4},
                                      {"min_p", 0.1},
                                      {"presence_penalty", 0.5},
                                      {"frequency_penalty", -0.5},
                                      {"repetition_penalty", 1.2},
                                      {"seed", 1234},
                                      {"stop", "\n"},
                                      {"logit_bias", {{"5", -100}, {"6", 2.5}}},
                                      {"n", 3},
                                      {"priority", -2},
                                      {"ignore_eos", true},
                                      {"logprobs", 5},
                                      {"user", "someone"},
                                      {"stream", true},
                                      {"stream_options", {{"include_usage", true}}}});
  const SamplingParams& p = r.generate.params;
  EXPECT_EQ(*p.max_tokens, 7);
  EXPECT_EQ(p.temperature, 0.0f);
  EXPECT_FLOAT_EQ(p.top_p, 0.5f);
  EXPECT_EQ(p.top_k, 4);
  EXPECT_FLOAT_EQ(p.min_p, 0.1f);
  EXPECT_FLOAT_EQ(p.presence_penalty, 0.5f);
  EXPECT_FLOAT_EQ(p.frequency_penalty, -0.5f);
  EXPECT_FLOAT_EQ(p.repetition_penalty, 1.2f);
  EXPECT_EQ(p.seed, 1234u);
  EXPECT_EQ(p.stop, (std::vector<std::string>{"\n"}));
  ASSERT_EQ(p.logit_bias.size(), 2u);
  EXPECT_EQ(p.logit_bias[0], (std::pair<int32_t, float>{5, -100.0f}));
  EXPECT_EQ(r.generate.n, 3);
  EXPECT_EQ(r.generate.priority, -2);
  EXPECT_TRUE(p.ignore_eos);
  EXPECT_EQ(r.generate.top_logprobs, 5);
  EXPECT_TRUE(r.stream);
  EXPECT_TRUE(r.include_usage);
}

TEST(CompletionRequest, WrongTypesNameTheField) {
  const std::vector<std::pair<json, std::string>> cases = {
      {{{"temperature", "hot"}}, "'temperature' must be a number"},
      {{{"max_tokens", 1.5}}, "'max_tokens' must be an integer"},
      {{{"stream", "yes"}}, "'stream' must be a boolean"},
      {{{"stop", {1, 2}}}, "'stop' must be a string or an array of strings"},
      {{{"logit_bias", {{"abc", 1}}}}, "'logit_bias' keys must be token ids, got 'abc'"},
      {{{"logit_bias", {{"5", 101}}}}, "'logit_bias' values must be in [-100, 100]"},
      {{{"n", 0}}, "'n' must be in [1, 16], got 0"},
      {{{"logprobs", 21}}, "'logprobs' must be in [0, 20], got 21"},
      {{{"model", 3}}, "'model' must be a string"},
      {{{"seed", "x"}}, "'seed' must be an integer"},
  };
  for (const auto& [fields, message] : cases) {
    json body = fields;
    body["prompt"] = "x";
    const ApiError e = error_of([&] { completion(body); });
    EXPECT_EQ(e.status, 400) << body.dump();
    EXPECT_EQ(std::string(e.what()), message) << body.dump();
    EXPECT_EQ(e.type, "invalid_request_error");
  }
}

TEST(CompletionRequest, RangeChecksComeFromSamplingParams) {
  const ApiError e = error_of([] { completion({{"prompt", "x"}, {"temperature", -1}}); });
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(std::string(e.what()).find("temperature"), std::string::npos);
  EXPECT_EQ(error_of([] { completion({{"prompt", "x"}, {"logit_bias", {{"100000", 1}}}}); }).status, 400);
}

TEST(CompletionRequest, MalformedBodies) {
  const ProtocolContext ctx = FixtureProtocol::get().context();
  ApiError e = error_of([&] { parse_completion_request("{\"prompt\": ", ctx); });
  EXPECT_EQ(e.status, 400);
  EXPECT_STREQ(e.what(), "request body is not valid JSON");
  EXPECT_EQ(error_of([&] { parse_completion_request("[1, 2]", ctx); }).status, 400);
  EXPECT_EQ(error_of([&] { parse_completion_request("", ctx); }).status, 400);
}

TEST(CompletionRequest, UnknownFieldsAndNullsAreIgnored) {
  const ParsedRequest r = completion({{"prompt", "x"}, {"frobnicate", {1, 2}}, {"temperature", nullptr}});
  EXPECT_EQ(r.generate.params.temperature, SamplingParams{}.temperature);
}

TEST(CompletionRequest, ModelMustBeTheServedOne) {
  const ApiError e = error_of([] { completion({{"prompt", "x"}, {"model", "gpt-4"}}); });
  EXPECT_EQ(e.status, 404);
  EXPECT_EQ(e.code, "model_not_found");
  EXPECT_EQ(e.param, "model");
}

TEST(CompletionRequest, ContextLimitWithNumbers) {
  const size_t prompt_tokens = completion({{"prompt", "hello world"}}).generate.prompt_ids.size();
  const ApiError e = error_of([] { completion({{"prompt", "hello world"}, {"max_tokens", 60}}, 64); });
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "context_length_exceeded");
  const std::string msg = e.what();
  EXPECT_NE(msg.find("maximum context length is 64 tokens"), std::string::npos) << msg;
  EXPECT_NE(msg.find(std::to_string(prompt_tokens + 60) + " tokens"), std::string::npos) << msg;
  // Exactly filling the context is allowed.
  const int32_t fits = int32_t(64 - prompt_tokens);
  EXPECT_EQ(*completion({{"prompt", "hello world"}, {"max_tokens", fits}}, 64).generate.params.max_tokens,
            fits);
}

TEST(CompletionRequest, StreamOptionsNeedStream) {
  EXPECT_EQ(error_of([] {
              completion({{"prompt", "x"}, {"stream_options", {{"include_usage", true}}}});
            }).param,
            "stream_options");
}

TEST(CompletionRequest, UnsupportedKnownFieldsAreRefused) {
  EXPECT_EQ(error_of([] { completion({{"prompt", "x"}, {"echo", true}}); }).param, "echo");
  EXPECT_EQ(error_of([] { completion({{"prompt", "x"}, {"best_of", 3}}); }).param, "best_of");
  EXPECT_EQ(error_of([] { completion({{"prompt", "x"}, {"suffix", "y"}}); }).param, "suffix");
  EXPECT_EQ(completion({{"prompt", "x"}, {"echo", false}, {"best_of", 1}}).generate.n, 1);
}

TEST(CompletionRequest, StopListBounds) {
  json stops = json::array();
  for (size_t i = 0; i < kMaxStopStrings; ++i) stops.push_back("s" + std::to_string(i));
  EXPECT_EQ(completion({{"prompt", "x"}, {"stop", stops}}).generate.params.stop.size(), kMaxStopStrings);
  stops.push_back("one too many");
  EXPECT_EQ(error_of([&] { completion({{"prompt", "x"}, {"stop", stops}}); }).param, "stop");
}

TEST(ChatRequest, RendersTheModelTemplate) {
  const FixtureProtocol& fx = FixtureProtocol::get();
  const json messages =
      json::array({{{"role", "system"}, {"content", "be brief"}}, {{"role", "user"}, {"content", "hi"}}});
  const ParsedRequest r = chat({{"model", "tiny"}, {"messages", messages}});
  EXPECT_EQ(r.endpoint, Endpoint::ChatCompletions);
  EXPECT_EQ(r.generate.prompt_ids, fx.chat->tokenize(fx.chat->render(messages, true)));
  // No max_tokens: whatever the context leaves.
  EXPECT_EQ(*r.generate.params.max_tokens, 256 - int32_t(r.generate.prompt_ids.size()));
}

TEST(ChatRequest, TextContentPartsEqualAString) {
  const json parts = json::array({{{"role", "user"},
                                   {"content", json::array({{{"type", "text"}, {"text", "line one"}},
                                                            {{"type", "text"}, {"text", "line two"}}})}}});
  EXPECT_EQ(chat({{"messages", parts}}).generate.prompt_ids,
            chat({{"messages", user_turn("line one\nline two")}}).generate.prompt_ids);
  const json image =
      json::array({{{"role", "user"},
                    {"content", json::array({{{"type", "image_url"}, {"image_url", {{"url", "x"}}}}})}}});
  const ApiError e = error_of([&] { chat({{"messages", image}}); });
  EXPECT_EQ(e.status, 400);
  EXPECT_NE(std::string(e.what()).find("only 'text' content parts"), std::string::npos);
}

TEST(ChatRequest, MessageValidation) {
  EXPECT_STREQ(error_of([] { chat({{"model", "tiny"}}); }).what(), "'messages' is required");
  EXPECT_STREQ(error_of([] { chat({{"messages", "hi"}}); }).what(), "'messages' must be an array");
  EXPECT_STREQ(error_of([] { chat({{"messages", json::array()}}); }).what(), "'messages' must not be empty");
  EXPECT_EQ(error_of([] { chat({{"messages", json::array({{{"content", "no role"}}})}}); }).status, 400);
  EXPECT_EQ(error_of([] { chat({{"messages", json::array({42})}}); }).status, 400);
}

TEST(ChatRequest, LogprobsAndMaxCompletionTokens) {
  ParsedRequest r = chat({{"messages", user_turn("hi")}, {"logprobs", true}, {"top_logprobs", 3}});
  EXPECT_EQ(r.generate.top_logprobs, 3);
  r = chat({{"messages", user_turn("hi")}, {"logprobs", true}});
  EXPECT_EQ(r.generate.top_logprobs, 0);
  r = chat({{"messages", user_turn("hi")}, {"logprobs", false}});
  EXPECT_EQ(r.generate.top_logprobs, -1);
  EXPECT_EQ(error_of([] {
              chat({{"messages", user_turn("hi")}, {"top_logprobs", 2}});
            }).param,
            "top_logprobs");
  EXPECT_EQ(error_of([] { chat({{"messages", user_turn("hi")}, {"logprobs", 1}}); }).param, "logprobs");
  r = chat({{"messages", user_turn("hi")}, {"max_tokens", 9}, {"max_completion_tokens", 5}});
  EXPECT_EQ(*r.generate.params.max_tokens, 5);
}

TEST(ChatRequest, ToolsReachTheTemplate) {
  const FixtureProtocol& fx = FixtureProtocol::get();
  const ChatFormatter counting(
      "{{ tools | length }} tools:{% for m in messages %}{{ m.content }}{% endfor %}", *fx.tokenizer);
  const ProtocolContext ctx{*fx.tokenizer, counting, "tiny", 256};
  const json tools =
      json::array({{{"type", "function"}, {"function", {{"name", "f"}}}}, {{"type", "function"}}});
  const json body = {{"messages", user_turn("hi")}, {"tools", tools}};
  const ParsedRequest r = parse_chat_request(body.dump(), ctx);
  EXPECT_EQ(r.generate.prompt_ids, counting.tokenize("2 tools:hi"));
  EXPECT_EQ(error_of([&] {
              parse_chat_request(json{{"messages", user_turn("hi")}, {"tools", 1}}.dump(), ctx);
            }).param,
            "tools");
}

TEST(ChatRequest, ResponseFormatTextOnly) {
  EXPECT_EQ(chat({{"messages", user_turn("hi")}, {"response_format", {{"type", "text"}}}}).generate.n, 1);
  EXPECT_EQ(error_of([] {
              chat({{"messages", user_turn("hi")}, {"response_format", {{"type", "json_object"}}}});
            }).param,
            "response_format");
}

TEST(ChatRequest, PromptLongerThanContext) {
  const ApiError e = error_of([] { chat({{"messages", user_turn(std::string(400, 'a'))}}, 32); });
  EXPECT_EQ(e.status, 400);
  EXPECT_EQ(e.code, "context_length_exceeded");
  EXPECT_NE(std::string(e.what()).find("maximum context length is 32 tokens"), std::string::npos);
}

TEST(ApiErrorShape, MatchesOpenAi) {
  const json j = ApiError(404, "invalid_request_error", "nope", "model", "model_not_found").to_json();
  EXPECT_EQ(
      j.dump(),
      R"({"error":{"message":"nope","type":"invalid_request_error","param":"model","code":"model_not_found"}})");
  EXPECT_EQ(ApiError::invalid("bad").to_json().dump(),
            R"({"error":{"message":"bad","type":"invalid_request_error","param":null,"code":null}})");
}

}  // namespace
}  // namespace tokenmill::server
