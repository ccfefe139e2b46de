#include "server/openai_response.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "server/sse.h"
#include "server_test_util.h"

namespace tokenmill::server {
namespace {

using json = nlohmann::ordered_json;
using testing::FixtureProtocol;

const Tokenizer& tok() {
  return *FixtureProtocol::get().tokenizer;
}

ResponseMeta meta(Endpoint endpoint, bool logprobs = false) {
  return ResponseMeta{endpoint, endpoint == Endpoint::Completions ? "cmpl-1" : "chatcmpl-1", 1700000000,
                      "tiny", logprobs, {}};
}

ChoiceDelta delta(int32_t index, std::string text, std::optional<FinishReason> finish = std::nullopt) {
  ChoiceDelta d;
  d.index = index;
  d.text = std::move(text);
  d.finish = finish;
  return d;
}

// Splits SSE text into its events' data payloads, checking the framing on the way.
std::vector<std::string> sse_payloads(const std::string& text) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t end = text.find("\n\n", pos);
    EXPECT_NE(end, std::string::npos) << "event without a blank line after it";
    if (end == std::string::npos) break;
    const std::string event = text.substr(pos, end - pos);
    EXPECT_EQ(event.rfind("data: ", 0), 0u) << event;
    out.push_back(event.substr(6));
    pos = end + 2;
  }
  return out;
}

TEST(FinishReason, OpenAiNames) {
  EXPECT_EQ(finish_reason_text(FinishReason::Eos), "stop");
  EXPECT_EQ(finish_reason_text(FinishReason::Stop), "stop");
  EXPECT_EQ(finish_reason_text(FinishReason::Length), "length");
  EXPECT_EQ(finish_reason_text(FinishReason::ContextFull), "length");
  EXPECT_EQ(finish_reason_text(FinishReason::Cancelled), "abort");
}

TEST(Sse, Framing) {
  EXPECT_EQ(sse_event(json{{"a", 1}}), "data: {\"a\":1}\n\n");
  EXPECT_EQ(sse_done(), "data: [DONE]\n\n");
  // Half a UTF-8 character must not throw: it becomes one U+FFFD.
  EXPECT_EQ(sse_event(json{{"t", std::string("\xE2\x82")}}), "data: {\"t\":\"\xEF\xBF\xBD\"}\n\n");
}

TEST(CompletionCollector, TextCompletionShape) {
  CompletionCollector c(meta(Endpoint::Completions), 2, tok());
  RequestEvent e1;
  e1.deltas = {delta(0, "Hel"), delta(1, "Wor")};
  RequestEvent e2;
  e2.deltas = {delta(1, "ld", FinishReason::Length), delta(0, "lo", FinishReason::Eos)};
  e2.done = true;
  e2.usage = {10, 4, 6, {}};
  c.add(e1);
  c.add(e2);
  const json r = c.response(e2.usage);
  EXPECT_EQ(r["id"], "cmpl-1");
  EXPECT_EQ(r["object"], "text_completion");
  EXPECT_EQ(r["created"], 1700000000);
  EXPECT_EQ(r["model"], "tiny");
  ASSERT_EQ(r["choices"].size(), 2u);
  EXPECT_EQ(r["choices"][0]["index"], 0);
  EXPECT_EQ(r["choices"][0]["text"], "Hello");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  EXPECT_TRUE(r["choices"][0]["logprobs"].is_null());
  EXPECT_EQ(r["choices"][1]["text"], "World");
  EXPECT_EQ(r["choices"][1]["finish_reason"], "length");
  EXPECT_EQ(
      r["usage"].dump(),
      R"({"prompt_tokens":10,"completion_tokens":4,"total_tokens":14,"prompt_tokens_details":{"cached_tokens":6}})");
}

TEST(CompletionCollector, ChatCompletionShape) {
  CompletionCollector c(meta(Endpoint::ChatCompletions), 1, tok());
  RequestEvent e;
  e.deltas = {delta(0, "Hi there", FinishReason::Stop)};
  e.done = true;
  c.add(e);
  const json r = c.response(e.usage);
  EXPECT_EQ(r["object"], "chat.completion");
  EXPECT_EQ(r["choices"][0]["message"].dump(), R"({"role":"assistant","content":"Hi there"})");
  EXPECT_EQ(r["choices"][0]["finish_reason"], "stop");
  EXPECT_FALSE(r["choices"][0].contains("text"));
}

TEST(Logprobs, CompletionsParallelArrays) {
  LogprobsBuilder b(Endpoint::Completions, tok());
  TokenLogprob a{5, -0.5f, {{5, -0.5f}, {6, -1.5f}}};
  TokenLogprob z{6, -INFINITY, {{5, -0.1f}}};
  const json first = b.append({a});
  const json second = b.append({z});
  const std::string p5 = tok().token_to_piece(5), p6 = tok().token_to_piece(6);
  EXPECT_EQ(first["tokens"], json::array({p5}));
  EXPECT_EQ(first["token_logprobs"][0], -0.5);
  EXPECT_EQ(first["top_logprobs"][0][p6], -1.5);
  EXPECT_EQ(first["text_offset"], json::array({0}));
  EXPECT_EQ(second["text_offset"], json::array({int64_t(p5.size())}));  // continues across chunks
  EXPECT_EQ(second["token_logprobs"][0], -9999.0);                      // -inf has no JSON spelling
}

TEST(Logprobs, ByteTokensStayDistinct) {
  // Two tokens that are single bytes of multi-byte characters: as text both would be U+FFFD.
  std::vector<int32_t> byte_ids;
  for (int32_t i = 0; i < tok().n_vocab() && byte_ids.size() < 2; ++i) {
    const std::string piece = tok().token_to_piece(i);
    if (piece.size() == 1 && static_cast<unsigned char>(piece[0]) >= 0x80) byte_ids.push_back(i);
  }
  ASSERT_EQ(byte_ids.size(), 2u) << "the fixture vocabulary has byte-fallback tokens";
  LogprobsBuilder completions(Endpoint::Completions, tok());
  const json lp =
      completions.append({TokenLogprob{byte_ids[0], -0.1f, {{byte_ids[0], -0.1f}, {byte_ids[1], -3.0f}}}});
  const json& top = lp["top_logprobs"][0];
  EXPECT_EQ(top.size(), 2u);
  char expected[16];
  std::snprintf(expected, sizeof(expected), "bytes:\\x%02x",
                static_cast<unsigned char>(tok().token_to_piece(byte_ids[0])[0]));
  EXPECT_EQ(lp["tokens"][0], expected);
  EXPECT_FLOAT_EQ(top[expected].get<float>(), -0.1f);
  LogprobsBuilder chat(Endpoint::ChatCompletions, tok());
  const json entry = chat.append({TokenLogprob{byte_ids[0], -0.1f, {}}})["content"][0];
  EXPECT_EQ(entry["token"], expected);
  EXPECT_EQ(entry["bytes"],
            json::array({int(static_cast<unsigned char>(tok().token_to_piece(byte_ids[0])[0]))}));
}

TEST(Logprobs, ChatContentList) {
  LogprobsBuilder b(Endpoint::ChatCompletions, tok());
  const json lp = b.append({TokenLogprob{5, -0.25f, {{5, -0.25f}, {7, -2.0f}}}});
  ASSERT_EQ(lp["content"].size(), 1u);
  const json& entry = lp["content"][0];
  const std::string p5 = tok().token_to_piece(5);
  EXPECT_EQ(entry["token"], p5);
  EXPECT_EQ(entry["logprob"], -0.25);
  ASSERT_EQ(entry["bytes"].size(), p5.size());
  EXPECT_EQ(entry["bytes"][0], int(static_cast<unsigned char>(p5[0])));
  ASSERT_EQ(entry["top_logprobs"].size(), 2u);
  EXPECT_EQ(entry["top_logprobs"][1]["token"], tok().token_to_piece(7));
  EXPECT_TRUE(entry["top_logprobs"][1].contains("bytes"));
}

TEST(ChunkStreamer, ChatStreamWithUsage) {
  ChunkStreamer s(meta(Endpoint::ChatCompletions), 1, /*include_usage=*/true, tok());
  std::string text = s.begin();
  RequestEvent e1;
  e1.deltas = {delta(0, "Hi")};
  text += s.on_event(e1);
  RequestEvent e2;
  e2.deltas = {delta(0, "", FinishReason::Length)};
  e2.done = true;
  e2.usage = {3, 2, 0, {}};
  text += s.on_event(e2);
  const std::vector<std::string> payloads = sse_payloads(text);
  ASSERT_EQ(payloads.size(), 5u);
  const json role = json::parse(payloads[0]);
  EXPECT_EQ(role["object"], "chat.completion.chunk");
  EXPECT_EQ(role["id"], "chatcmpl-1");
  EXPECT_EQ(role["choices"][0]["delta"].dump(), R"({"role":"assistant","content":""})");
  EXPECT_TRUE(role["choices"][0]["finish_reason"].is_null());
  EXPECT_EQ(json::parse(payloads[1])["choices"][0]["delta"]["content"], "Hi");
  const json last = json::parse(payloads[2]);
  EXPECT_EQ(last["choices"][0]["finish_reason"], "length");
  EXPECT_TRUE(last["choices"][0]["delta"].empty());
  const json usage = json::parse(payloads[3]);
  EXPECT_TRUE(usage["choices"].empty());
  EXPECT_EQ(usage["usage"]["total_tokens"], 5);
  EXPECT_EQ(payloads[4], "[DONE]");
}

TEST(ChunkStreamer, CompletionStreamWithoutUsage) {
  ChunkStreamer s(meta(Endpoint::Completions), 2, false, tok());
  EXPECT_EQ(s.begin(), "");
  RequestEvent e;
  e.deltas = {delta(1, "b", FinishReason::Stop), delta(0, ""), delta(0, "a", FinishReason::Eos)};
  e.done = true;
  const std::vector<std::string> payloads = sse_payloads(s.on_event(e));
  ASSERT_EQ(payloads.size(), 3u);  // the empty, unfinished delta says nothing
  const json c1 = json::parse(payloads[0]);
  EXPECT_EQ(c1["object"], "text_completion");
  EXPECT_EQ(c1["choices"][0]["index"], 1);
  EXPECT_EQ(c1["choices"][0]["text"], "b");
  EXPECT_EQ(c1["choices"][0]["finish_reason"], "stop");
  EXPECT_EQ(json::parse(payloads[1])["choices"][0]["index"], 0);
  EXPECT_EQ(payloads[2], "[DONE]");
}

TEST(ChunkStreamer, ErrorEndsTheStream) {
  ChunkStreamer s(meta(Endpoint::Completions), 1, true, tok());
  RequestEvent e;
  e.error = "engine stopped";
  e.done = true;
  const std::vector<std::string> payloads = sse_payloads(s.on_event(e));
  ASSERT_EQ(payloads.size(), 2u);
  EXPECT_EQ(json::parse(payloads[0])["error"]["message"], "engine stopped");
  EXPECT_EQ(payloads[1], "[DONE]");
}

}  // namespace
}  // namespace tokenmill::server
